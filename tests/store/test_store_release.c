/*
 * test_store_release.c - a compaction leaves the file it replaced open and
 * bpc_store_release gives it back in steps: no close of a non-empty file
 * inside bpc_store_compact, at most BPC_STORE_RELEASE_BYTES per call, the
 * file closed once empty, nothing leaked when compactions come faster than
 * releases, and a failed truncate that leaves the store usable.
 *
 * Must never: touch the real file system (memfs behind a counting table).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"

#define TR_PATH "/m/store"
/* Threshold: the replaced file holds several release steps. */
#define TR_COMPACT_BYTES (3u * BPC_STORE_RELEASE_BYTES + 1000u)

/* memfs behind a table that records, per close, the size of the file
 * closed, and per truncate, how much it took away. */
struct tr_io {
    struct memfs fs;
    struct bpc_store_io io;
    uint64_t closed_max;   /* largest file size seen at a close */
    uint64_t cut_max;      /* largest single truncate */
    uint64_t truncates;    /* truncate calls */
    uint64_t closes;       /* close calls */
    uint64_t closed_empty; /* closes of an empty file */
};

static int
tr_close(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    int64_t size = t->fs.io.size(&t->fs, fd);
    if (size >= 0) {
        t->closed_max = (uint64_t)size > t->closed_max ? (uint64_t)size : t->closed_max;
        t->closed_empty += size == 0;
    }
    t->closes++;
    return t->fs.io.close(&t->fs, fd);
}

static int
tr_truncate(void *ctx, int fd, uint64_t len)
{
    struct tr_io *t = ctx;
    int64_t size = t->fs.io.size(&t->fs, fd);
    if (size >= 0 && (uint64_t)size > len && (uint64_t)size - len > t->cut_max) {
        t->cut_max = (uint64_t)size - len;
    }
    t->truncates++;
    return t->fs.io.truncate(&t->fs, fd, len);
}

/* Forwards everything else to memfs unchanged. */
static int
tr_open(void *ctx, const char *path, int flags, unsigned int mode)
{
    struct tr_io *t = ctx;
    return t->fs.io.open(&t->fs, path, flags, mode);
}

static int64_t
tr_size(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    return t->fs.io.size(&t->fs, fd);
}

static int64_t
tr_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    struct tr_io *t = ctx;
    return t->fs.io.pread(&t->fs, fd, buf, len, off);
}

static int64_t
tr_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct tr_io *t = ctx;
    return t->fs.io.pwrite(&t->fs, fd, buf, len, off);
}

static int
tr_datasync(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    return t->fs.io.datasync(&t->fs, fd);
}

static int
tr_dirsync(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    return t->fs.io.dirsync(&t->fs, fd);
}

static int
tr_rename(void *ctx, const char *from, const char *to)
{
    struct tr_io *t = ctx;
    return t->fs.io.rename(&t->fs, from, to);
}

static int
tr_unlink(void *ctx, const char *path)
{
    struct tr_io *t = ctx;
    return t->fs.io.unlink(&t->fs, path);
}

static int64_t
tr_links(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    return t->fs.io.links(&t->fs, fd);
}

static int
tr_lock(void *ctx, int fd)
{
    struct tr_io *t = ctx;
    return t->fs.io.lock(&t->fs, fd);
}

static int
tr_same_file(void *ctx, int fd, const char *path)
{
    struct tr_io *t = ctx;
    return t->fs.io.same_file(&t->fs, fd, path);
}

static void
tr_init(struct tr_io *t)
{
    memset(t, 0, sizeof(*t));
    memfs_init(&t->fs, 5);
    t->io = (struct bpc_store_io){
        .ctx = t,
        .open = tr_open,
        .close = tr_close,
        .size = tr_size,
        .pread = tr_pread,
        .pwrite = tr_pwrite,
        .datasync = tr_datasync,
        .dirsync = tr_dirsync,
        .truncate = tr_truncate,
        .rename = tr_rename,
        .unlink = tr_unlink,
        .links = tr_links,
        .lock = tr_lock,
        .same_file = tr_same_file,
    };
}

static void
tr_reset_counts(struct tr_io *t)
{
    t->closed_max = t->cut_max = t->truncates = t->closes = t->closed_empty = 0;
}

static struct bpc_store *
tr_open_store(struct tr_io *t)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.cluster_id = 9;
    cfg.parties_count = 4;
    cfg.self = 2;
    cfg.window_slots = 8;
    struct bpc_store_options o = {.io = &t->io, .compact_bytes = TR_COMPACT_BYTES};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TR_PATH, &cfg, &o, err, sizeof(err)), 0);
    return s;
}

/* Commits of one record for instance k until a compaction is due; the
 * same eight instances over and over, so the live set stays small. */
static uint64_t
tr_fill(struct bpc_store *s, uint64_t k)
{
    while (!bpc_store_compact_due(s)) {
        struct bpc_durable d;
        memset(&d, 0, sizeof(d));
        d.instance = k % 8u;
        d.max_bal = 1u + k;
        d.max_vbal = 1u + k;
        d.max_vval.kind = BPC_VALUE_INLINE;
        d.max_vval.len = 8;
        memcpy(d.max_vval.id, &k, sizeof(k));
        assert_int_equal(bpc_store_append(s, &d, 1), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        k++;
    }
    return k;
}

static void
test_release_in_steps(void **state)
{
    (void)state;
    struct tr_io t;
    tr_init(&t);
    struct bpc_store *s = tr_open_store(&t);
    assert_int_equal(bpc_store_release(s), 0); /* nothing replaced yet */
    tr_fill(s, 0);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    uint64_t replaced = st.file_bytes;
    assert_true(replaced > TR_COMPACT_BYTES);
    tr_reset_counts(&t);
    assert_int_equal(bpc_store_compact(s), 0);
    /* Before: the compaction closed the replaced file here, whole. */
    assert_true(t.closed_max < BPC_STORE_RELEASE_BYTES);
    tr_reset_counts(&t);
    uint64_t calls = 0;
    int rc;
    while ((rc = bpc_store_release(s)) == 1) {
        calls++;
        assert_true(calls < 100);
    }
    assert_int_equal(rc, 0);
    calls++;
    assert_int_equal(calls, (replaced + BPC_STORE_RELEASE_BYTES - 1u) / BPC_STORE_RELEASE_BYTES);
    assert_int_equal(t.truncates, calls);
    assert_int_equal(t.cut_max, BPC_STORE_RELEASE_BYTES);
    assert_int_equal(t.closes, 1);
    assert_int_equal(t.closed_empty, 1);
    assert_int_equal(bpc_store_release(s), 0);
    assert_int_equal(t.truncates, calls); /* nothing more to give back */
    bpc_store_close(s);
    memfs_free(&t.fs);
}

/* Compactions without releases in between: each closes the previous
 * replaced file (memfs has 16 descriptors: a leak runs out within 20). */
static void
test_release_skipped_leaks_nothing(void **state)
{
    (void)state;
    struct tr_io t;
    tr_init(&t);
    struct bpc_store *s = tr_open_store(&t);
    uint64_t k = 0;
    for (int c = 0; c < 20; c++) {
        k = tr_fill(s, k);
        assert_int_equal(bpc_store_compact(s), 0);
    }
    assert_int_equal(bpc_store_release(s), 1);
    bpc_store_close(s); /* closes what is left */
    for (int fd = 0; fd < (int)MEMFS_FDS; fd++) {
        assert_int_equal(t.fs.fd_ino[fd], -1);
    }
    memfs_free(&t.fs);
}

/* A failed truncate closes the replaced file at once and says so; the
 * store itself goes on (that file is no part of it). */
static void
test_release_failure_leaves_store_usable(void **state)
{
    (void)state;
    struct tr_io t;
    tr_init(&t);
    struct bpc_store *s = tr_open_store(&t);
    uint64_t k = tr_fill(s, 0);
    assert_int_equal(bpc_store_compact(s), 0);
    assert_int_equal(bpc_store_release(s), 1);
    t.fs.fail_at = t.fs.calls + 1; /* the next mutating call: the truncate */
    tr_reset_counts(&t);
    assert_int_equal(bpc_store_release(s), -EIO);
    assert_int_equal(t.closes, 1);
    assert_int_equal(bpc_store_release(s), 0);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_false(st.failed);
    k = tr_fill(s, k);
    assert_int_equal(bpc_store_compact(s), 0);
    bpc_store_close(s);
    memfs_free(&t.fs);
    (void)k;
}

/* A compaction whose directory sync fails leaves the store failed, and a
 * power loss could then name the replaced file PATH again: release must
 * close it untouched. Before, it truncated it like any other. */
static void
test_release_after_failed_dirsync_truncates_nothing(void **state)
{
    (void)state;
    struct tr_io t;
    tr_init(&t);
    struct bpc_store *s = tr_open_store(&t);
    tr_fill(s, 0);
    /* The compaction's mutating calls: open-create, truncate (after the
     * lock), write, datasync, rename, then the directory sync (the sixth)
     * fails. */
    t.fs.fail_at = t.fs.calls + 6;
    assert_int_equal(bpc_store_compact(s), -EIO);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_true(st.failed);
    tr_reset_counts(&t);
    assert_int_equal(bpc_store_release(s), 0);
    assert_int_equal(t.truncates, 0);
    assert_int_equal(t.closes, 1);
    assert_true(t.closed_max > TR_COMPACT_BYTES); /* closed whole */
    bpc_store_close(s);
    memfs_free(&t.fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_in_steps),
        cmocka_unit_test(test_release_skipped_leaks_nothing),
        cmocka_unit_test(test_release_failure_leaves_store_usable),
        cmocka_unit_test(test_release_after_failed_dirsync_truncates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
