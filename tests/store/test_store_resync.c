/*
 * test_store_resync.c - a restart after a failure never leaves the store
 * depending on a sync that did not happen (libbpcon-store).
 *
 * Goal: (1) a writer's open of an existing store makes what it loaded
 * durable, the file's data and its name in the directory, so that commits
 * acknowledged after a restart survive a power loss even when the process
 * before it died or failed between a rename (a creation's, a compaction's)
 * and the directory's fsync. Before (review B11's F1), the open synced
 * nothing: after such a restart and a power loss the name fell back to
 * the file before the compaction (an acknowledged commit lost, no error)
 * or, after a creation, to no file at all (the store created again,
 * empty). (2) A commit whose fdatasync fails is cut off the file before
 * the store fails, so a restart without a power loss does not load from
 * the page cache a commit the disk may never have held (Linux can mark
 * the pages of a failed writeback clean). Before (F2), the restart loaded
 * it and restored its promises. (3) A successful open leaves err empty.
 * Method: the in-memory file system (memfs.c: a name is durable as of the
 * last directory sync, data as of the last datasync), its calls wrapped to
 * fail on demand, and power loss (memfs_crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "store_fx.h"

/* The wrapped calls: the file system's own, failing with -EIO while the
 * flag is set. */
static int (*real_dirsync)(void *ctx, int fd);
static int (*real_datasync)(void *ctx, int fd);
static bool fail_dirsync;
static bool fail_datasync;

static int
rs_dirsync(void *ctx, int fd)
{
    return fail_dirsync ? -EIO : real_dirsync(ctx, fd);
}

static int
rs_datasync(void *ctx, int fd)
{
    return fail_datasync ? -EIO : real_datasync(ctx, fd);
}

/* fs's calls, dirsync and datasync wrapped, into io. */
static void
rs_io(struct memfs *fs, struct bpc_store_io *io)
{
    real_dirsync = fs->io.dirsync;
    real_datasync = fs->io.datasync;
    fail_dirsync = false;
    fail_datasync = false;
    *io = fs->io;
    io->dirsync = rs_dirsync;
    io->datasync = rs_datasync;
}

/* Does s hold a vote record of instance i? */
static bool
rs_has_instance(struct bpc_store *s, uint64_t i)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    for (uint32_t k = 0; k < n; k++) {
        if (recs[k].instance == i) {
            return true;
        }
    }
    return false;
}

/* A compaction renames its file into place and then its directory fsync
 * fails; the process restarts (no power loss), commits step k and is told
 * it is durable; then the power goes. Step k's commit is still there. */
static void
test_restart_after_failed_compaction_dirsync(void **state)
{
    (void)state;
    TS_SETUP(11, TS_COMPACT_BYTES);
    struct bpc_store_io io;
    rs_io(&fs, &io);
    o.io = &io;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable b[8];
    uint64_t k = 0;
    for (; k < TS_STEPS && !bpc_store_compact_due(s); k++) {
        ts_commit_batch(s, k, b);
    }
    assert_true(bpc_store_compact_due(s));
    fail_dirsync = true;
    assert_int_not_equal(bpc_store_compact(s), 0);
    bpc_store_close(s);
    fail_dirsync = false;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    ts_commit_batch(s, k, b); /* asserts append and sync 0: acknowledged */
    bpc_store_close(s);
    memfs_crash(&fs, MEMFS_CRASH_LOSE);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_true(rs_has_instance(s, k));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* The store's creation renames its file into place and the directory
 * fsync fails (the open fails); the next open finds the file and ten
 * commits are acknowledged; then the power goes. The last is there, not a
 * store created again, empty. */
static void
test_restart_after_failed_creation_dirsync(void **state)
{
    (void)state;
    TS_SETUP(12, 1u << 20);
    struct bpc_store_io io;
    rs_io(&fs, &io);
    o.io = &io;
    fail_dirsync = true;
    assert_int_not_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    fail_dirsync = false;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    char reopen_err[sizeof(err)];
    memcpy(reopen_err, err, sizeof(err));
    struct bpc_durable b[8];
    for (uint64_t k = 0; k < 10; k++) {
        ts_commit_batch(s, k, b);
    }
    bpc_store_close(s);
    memfs_crash(&fs, MEMFS_CRASH_LOSE);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable *recs = NULL;
    assert_int_not_equal(bpc_store_records(s, &recs), 0);
    assert_true(rs_has_instance(s, 9)); /* the last commit's */
    bpc_store_close(s);
    memfs_free(&fs);
    assert_string_equal(reopen_err, ""); /* not the failed open's message */
}

/* A restart's own sync fails: the open fails with it, naming it. */
static void
test_restart_sync_failure_fails_the_open(void **state)
{
    (void)state;
    TS_FRESH(13, 1u << 20);
    struct bpc_durable b[8];
    ts_commit_batch(s, 0, b);
    bpc_store_close(s);
    struct bpc_store_io io;
    rs_io(&fs, &io);
    o.io = &io;
    fail_dirsync = true;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "syncing its directory"));
    fail_dirsync = false;
    fail_datasync = true;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "syncing the file found"));
    fail_datasync = false;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_true(rs_has_instance(s, 0));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Step 5's commit fails in its fdatasync; the process restarts without a
 * power loss: the open loads steps 0..4, not step 5 (its bytes cut off
 * the file), and the store goes on. */
static void
test_failed_commit_cut_from_the_file(void **state)
{
    (void)state;
    TS_SETUP(14, 1u << 20);
    struct bpc_store_io io;
    rs_io(&fs, &io);
    o.io = &io;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable b[8];
    for (uint64_t k = 0; k < 5; k++) {
        ts_commit_batch(s, k, b);
    }
    size_t acked = 0;
    assert_non_null(memfs_file(&fs, TS_PATH, &acked));
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    uint32_t c = ts_batch(5, b, &m);
    assert_int_equal(bpc_store_append(s, b, c), 0);
    fail_datasync = true;
    assert_int_equal(bpc_store_sync(s), -EIO);
    assert_int_equal(bpc_store_error(s), -EIO);
    fail_datasync = false;
    size_t now = 0;
    assert_non_null(memfs_file(&fs, TS_PATH, &now));
    assert_int_equal(now, acked);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_false(rs_has_instance(s, 5));
    assert_true(rs_has_instance(s, 4));
    ts_commit_batch(s, 5, b);
    bpc_store_close(s);
    memfs_free(&fs);
}

static int64_t (*real_pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);
static bool overstate;

/* A broken table's pwrite (while overstate): writes what it was asked,
 * says one more. */
static int64_t
rs_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    int64_t put = real_pwrite(ctx, fd, buf, len, off);
    return overstate && put > 0 ? put + 1 : put;
}

/* A pwrite that reports more bytes than it was given fails the commit
 * (-EIO) rather than wrap the count left and read past the buffer. Before
 * (review B11, from the code), the loop went on from past its end. */
static void
test_pwrite_overstating_fails(void **state)
{
    (void)state;
    TS_SETUP(15, 1u << 20);
    struct bpc_store_io io = fs.io;
    real_pwrite = fs.io.pwrite;
    overstate = false;
    io.pwrite = rs_pwrite;
    o.io = &io;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable b[8];
    ts_commit_batch(s, 0, b);
    overstate = true;
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    uint32_t c = ts_batch(1, b, &m);
    assert_int_equal(bpc_store_append(s, b, c), 0);
    assert_int_equal(bpc_store_sync(s), -EIO);
    assert_int_equal(bpc_store_error(s), -EIO);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Linux after a failed writeback (review B12's model): the fdatasync
 * fails, the pages it could not write are marked clean, and a later
 * fdatasync that succeeds leaves them as they were on the disk (zeros
 * here, the file having grown) unless they were written again. */
static struct memfs *lx_fs;
static bool lx_fail_next;   /* the next datasync fails that way */
static bool lx_fail_cut;    /* a truncate fails */
static size_t lx_lost_from; /* the lost range [from, to); from == to: none */
static size_t lx_lost_to;

static int
lx_datasync(void *ctx, int fd)
{
    struct memfs_inode *n = &lx_fs->ino[lx_fs->fd_ino[fd]];
    if (lx_fail_next) {
        lx_fail_next = false;
        lx_lost_from = n->dur_len;
        lx_lost_to = n->len;
        n->dirty_lo = SIZE_MAX; /* clean: nothing left to write */
        return -EIO;
    }
    int rc = real_datasync(ctx, fd);
    size_t to = lx_lost_to < n->dur_len ? lx_lost_to : n->dur_len;
    if (rc == 0 && lx_lost_from < to) {
        memset(n->dur + lx_lost_from, 0, to - lx_lost_from); /* never written */
    }
    return rc;
}

static int64_t
lx_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    if (off < lx_lost_to && off + len > lx_lost_from) {
        lx_lost_from = lx_lost_to = 0; /* written again: dirty, written at the next sync */
    }
    return real_pwrite(ctx, fd, buf, len, off);
}

static int (*real_truncate)(void *ctx, int fd, uint64_t len);

static int
lx_truncate(void *ctx, int fd, uint64_t len)
{
    return lx_fail_cut ? -EIO : real_truncate(ctx, fd, len);
}

/* Commit 5's fdatasync fails the Linux way and its cut fails too; the
 * process restarts without a power loss and loads commit 5 from the
 * page cache, acknowledges commit 6; then the power goes. Both are there
 * and the file opens. Before (B12's R1), the restart's fdatasync returned
 * 0 over commit 5's clean pages, and after the power loss the open found
 * zeros there: damage, no party could start, commit 6 behind it. */
static void
test_restart_after_failed_sync_and_cut(void **state)
{
    (void)state;
    TS_SETUP(16, 1u << 20);
    lx_fs = &fs;
    real_datasync = fs.io.datasync;
    real_pwrite = fs.io.pwrite;
    real_truncate = fs.io.truncate;
    lx_fail_next = lx_fail_cut = false;
    lx_lost_from = lx_lost_to = 0;
    struct bpc_store_io io = fs.io;
    io.datasync = lx_datasync;
    io.pwrite = lx_pwrite;
    io.truncate = lx_truncate;
    o.io = &io;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable b[8];
    for (uint64_t k = 0; k < 5; k++) {
        ts_commit_batch(s, k, b);
    }
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    uint32_t c = ts_batch(5, b, &m);
    assert_int_equal(bpc_store_append(s, b, c), 0);
    lx_fail_next = true;
    lx_fail_cut = true;
    assert_int_equal(bpc_store_sync(s), -EIO);
    bpc_store_close(s);
    lx_fail_cut = false;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_true(rs_has_instance(s, 5)); /* loaded from the page cache */
    ts_commit_batch(s, 6, b);
    bpc_store_close(s);
    memfs_crash(&fs, MEMFS_CRASH_LOSE);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_true(rs_has_instance(s, 6));
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_after_failed_compaction_dirsync),
        cmocka_unit_test(test_restart_after_failed_creation_dirsync),
        cmocka_unit_test(test_restart_sync_failure_fails_the_open),
        cmocka_unit_test(test_failed_commit_cut_from_the_file),
        cmocka_unit_test(test_pwrite_overstating_fails),
        cmocka_unit_test(test_restart_after_failed_sync_and_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
