/*
 * test_store_tmp.c - the durable vote store (libbpcon-store) and the
 * PATH.tmp an open finds beside its file: an interrupted creation's or
 * compaction's leftover is removed or reused; another program's file, or
 * one too long to be a leftover, is refused and kept; a refused open
 * changes nothing at the path, a torn tail included.
 *
 * Method: the in-memory file system (memfs.c) and the fixture the store's
 * memfs tests share (store_fx.h); test_store.c holds the rest of what an
 * open finds at the path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"
#include "store_fx.h"

/* A new store made over an interrupted creation's PATH.tmp (it begins
 * with the store's magic): the leftover is reused, nothing stays. */
static void
test_store_removes_leftover_tmp(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 3);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"bpcstore half a compaction", 26);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    size_t len = 0;
    assert_null(memfs_file(&fs, TS_TMP, &len));
    assert_non_null(memfs_file(&fs, TS_PATH, &len));
    assert_int_equal(len, BPC_STORE_HEADER_BYTES);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a writable open removes a leftover PATH.tmp only once PATH was
 * read as this party's store. PATH holding some other file (a mistyped
 * --store) is refused, and that file's neighbour PATH.tmp is left alone;
 * an existing store's leftover PATH.tmp is still removed. Before, the
 * refused open had already deleted it (the store review's tmpwipe:
 * notes.txt and notes.txt.tmp, the latter gone). */
static void
test_store_refused_open_keeps_tmp(void **state)
{
    (void)state;
    TS_SETUP(3, 0);
    memfs_set_file(&fs, TS_PATH, (const uint8_t *)"someone's notes", 15);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"their draft", 11);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EBADMSG);
    size_t len = 0;
    const uint8_t *tmp = memfs_file(&fs, TS_TMP, &len);
    print_message("refused open (%s): %s.tmp %s\n", err, TS_PATH, tmp ? "kept" : "removed");
    assert_non_null(tmp);
    assert_int_equal(len, 11);
    /* A store of this party with a leftover PATH.tmp: removed. */
    memfs_free(&fs);
    memfs_init(&fs, 3);
    o = ts_opts(&fs, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"bpcstore half a compaction", 26);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_null(memfs_file(&fs, TS_TMP, &len));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: the store removes, empties or renames a PATH.tmp only when the
 * store may have written it: empty, a prefix of the magic or beginning
 * with it. Any other file there (an applied log that bpcon-node's
 * --log-out was given as STORE.tmp, someone's draft) is left as it is,
 * and the writable open, or the compaction, is refused with -EEXIST
 * naming it. Before, every open of an existing store deleted it (the
 * review's logtmp: the node's applied log gone at the next start). */
static void
test_store_foreign_tmp_kept(void **state)
{
    (void)state;
    TS_SETUP(3, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    static const char log[] = "applied log: 320 bytes of commands";
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)log, sizeof(log) - 1);
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    size_t len = 0;
    const uint8_t *tmp = memfs_file(&fs, TS_TMP, &len);
    print_message("open with a foreign %s: %d (%s), %s\n", TS_TMP, rc, err,
                  tmp != NULL && len == sizeof(log) - 1 ? "kept" : "removed or changed");
    assert_int_equal(rc, -EEXIST);
    assert_null(s);
    assert_non_null(strstr(err, TS_TMP));
    assert_non_null(strstr(err, "magic"));
    assert_non_null(tmp);
    assert_memory_equal(tmp, log, sizeof(log) - 1);
    /* Empty or a prefix of the magic: an interrupted compaction's. */
    static const size_t ours[2] = {0, 3};
    for (int k = 0; k < 2; k++) {
        memfs_set_file(&fs, TS_TMP, (const uint8_t *)"bpcstore", ours[k]);
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        assert_null(memfs_file(&fs, TS_TMP, &len));
        if (k == 0) {
            bpc_store_close(s);
        }
    }
    /* Made while the store is open: the compaction is refused, the file
     * kept and the store not failed. */
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)log, sizeof(log) - 1);
    assert_int_equal(bpc_store_compact(s), -EEXIST);
    assert_int_equal(bpc_store_error(s), 0);
    tmp = memfs_file(&fs, TS_TMP, &len);
    assert_non_null(tmp);
    assert_memory_equal(tmp, log, sizeof(log) - 1);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a compaction image a power loss left as zeros (its blocks
 * allocated, its data never written: the one sync comes just before the
 * rename) is the store's leftover, removed by the next open, while a file
 * of zeros with another byte in its first 512 is still someone else's.
 * Before (this stop's own review, tmpzero), every restart was refused
 * until an operator moved the file. */
static void
test_store_zero_tmp_removed(void **state)
{
    (void)state;
    TS_SETUP(3, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    /* A store longer than the image (test_store_zero_tmp_bounded). */
    for (uint64_t k = 1; k <= 40; k++) {
        struct bpc_durable d = ts_party(k);
        assert_int_equal(bpc_store_append(s, &d, 1), 0);
        assert_int_equal(bpc_store_sync(s), 0);
    }
    bpc_store_close(s);
    static uint8_t zeros[10000];
    memset(zeros, 0, sizeof(zeros));
    zeros[511] = 1;
    memfs_set_file(&fs, TS_TMP, zeros, sizeof(zeros));
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "512 zero bytes"));
    size_t len = 0;
    assert_non_null(memfs_file(&fs, TS_TMP, &len));
    zeros[511] = 0;
    memfs_set_file(&fs, TS_TMP, zeros, sizeof(zeros));
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    print_message("open with %zu zero bytes at %s: %d (%s)\n", sizeof(zeros), TS_TMP, rc, err);
    assert_int_equal(rc, 0);
    assert_null(memfs_file(&fs, TS_TMP, &len));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a compaction image of which a power loss let later pages land
 * but not the first (PATH.tmp: 4096 zeros, then the image's bytes) is the
 * store's leftover, removed by the next open; so is one whose first 512
 * bytes alone are zeros (a sector of the first page lost). Before (review
 * B4's tmphole), the open was -EEXIST "is not this store's temporary
 * file" and the party could not restart until an operator moved it. */
static void
test_store_holed_tmp_removed(void **state)
{
    (void)state;
    TS_FRESH(41, 0);
    for (uint64_t k = 1; k <= 200; k++) {
        struct bpc_durable d = ts_party(k);
        assert_int_equal(bpc_store_append(s, &d, 1), 0);
        assert_int_equal(bpc_store_sync(s), 0);
    }
    bpc_store_close(s);
    s = NULL;
    size_t len = 0;
    const uint8_t *img = memfs_file(&fs, TS_PATH, &len);
    assert_non_null(img);
    assert_true(len >= 4096u + 200u);
    static uint8_t holed[4096u + 200u];
    static const size_t zero_head[2] = {4096u, 512u};
    for (int k = 0; k < 2; k++) {
        memset(holed, 0, sizeof(holed));
        memcpy(holed + zero_head[k], img + zero_head[k], sizeof(holed) - zero_head[k]);
        memfs_set_file(&fs, TS_TMP, holed, sizeof(holed));
        int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
        print_message("open with %zu zero bytes, then %zu of the image, at %s: %d (%s)\n",
                      zero_head[k], sizeof(holed) - zero_head[k], TS_TMP, rc, err);
        assert_int_equal(rc, 0);
        assert_null(memfs_file(&fs, TS_TMP, &len));
        bpc_store_close(s);
        s = NULL;
        img = memfs_file(&fs, TS_PATH, &len);
        assert_non_null(img);
    }
    memfs_free(&fs);
}

/* Four commits of one record each (ts_party 1..4), then the store
 * closed. */
static void
ts_four_commits_closed(struct bpc_store **s)
{
    for (uint64_t k = 1; k <= 4; k++) {
        struct bpc_durable d = ts_party(k);
        assert_int_equal(bpc_store_append(*s, &d, 1), 0);
        assert_int_equal(bpc_store_sync(*s), 0);
    }
    bpc_store_close(*s);
    *s = NULL;
}

/* Goal: a zero-filled PATH.tmp longer than the store's file (or, when
 * the store is created, than a header) is refused unread, -EEXIST naming
 * why and the file kept, since no compaction's leftover is longer (a
 * compaction writes the live set of the file's synced commits, a
 * creation a header); one as long as the file is still removed. Before
 * (review K), any zero-filled PATH.tmp was read to its end and removed:
 * a sparse 8 GiB one held the open 84 s.
 * Method: a store of four commits; zeros of its length + 1, then of its
 * length; a new store's PATH.tmp of 81 zeros, then of 80. */
static void
test_store_zero_tmp_bounded(void **state)
{
    (void)state;
    TS_FRESH(37, 0);
    ts_four_commits_closed(&s);
    size_t len = 0;
    assert_non_null(memfs_file(&fs, TS_PATH, &len));
    static uint8_t zeros[4096];
    size_t store_len = len;
    assert_true(store_len < sizeof(zeros));
    memfs_set_file(&fs, TS_TMP, zeros, store_len + 1u);
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    const uint8_t *tmp = memfs_file(&fs, TS_TMP, &len);
    print_message("open with %zu zero bytes at %s beside a %zu-byte store: %d (%s), %s\n",
                  store_len + 1u, TS_TMP, store_len, rc, err, tmp != NULL ? "kept" : "removed");
    assert_int_equal(rc, -EEXIST);
    assert_null(s);
    assert_non_null(strstr(err, "longer than the store's file"));
    assert_non_null(tmp);
    assert_int_equal(len, store_len + 1u);
    memfs_set_file(&fs, TS_TMP, zeros, store_len);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_null(memfs_file(&fs, TS_TMP, &len));
    bpc_store_close(s);
    s = NULL;
    /* Creation: its image is a header. */
    memfs_set_file(&fs, "/m/new.tmp", zeros, BPC_STORE_HEADER_BYTES + 1u);
    assert_int_equal(bpc_store_open(&s, "/m/new", &cfg, &o, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "longer than the store's file"));
    assert_null(memfs_file(&fs, "/m/new", &len));
    assert_non_null(memfs_file(&fs, "/m/new.tmp", &len));
    memfs_set_file(&fs, "/m/new.tmp", zeros, BPC_STORE_HEADER_BYTES);
    assert_int_equal(bpc_store_open(&s, "/m/new", &cfg, &o, err, sizeof(err)), 0);
    assert_null(memfs_file(&fs, "/m/new.tmp", &len));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a writable open refused because of PATH.tmp (another program's
 * file there, or no PATH.tmp can be created) leaves the store as it was,
 * its torn tail included: the tail is cut only by an open that succeeds.
 * Before (review K's tmptorn), recovery cut the tail before PATH.tmp was
 * looked at, so the refused open had already shortened the file.
 * Method: four commits, the last cut short by 50 bytes (a torn tail);
 * the open with a foreign PATH.tmp (-EEXIST), then with creation failing
 * (memfs's create_errno EACCES: -EACCES), each followed by a byte-for-byte
 * comparison of PATH; then an open that succeeds cuts the tail. */
static void
test_store_refused_open_keeps_torn_tail(void **state)
{
    (void)state;
    TS_FRESH(31, 0);
    ts_four_commits_closed(&s);
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &len);
    uint8_t torn[4096];
    assert_true(len - 50u <= sizeof(torn));
    size_t torn_len = len - 50u; /* the last commit's frame cut short */
    memcpy(torn, f, torn_len);
    memfs_set_file(&fs, TS_PATH, torn, torn_len);
    static const char notes[] = "my notes";
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)notes, sizeof(notes) - 1);
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            assert_int_equal(fs.io.unlink(fs.io.ctx, TS_TMP), 0);
            fs.create_errno = EACCES;
        }
        int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
        f = memfs_file(&fs, TS_PATH, &len);
        print_message("%s: open %d (%s); store %zu bytes, was %zu\n",
                      k == 0 ? "foreign PATH.tmp" : "PATH.tmp not creatable", rc, err, len,
                      torn_len);
        assert_int_equal(rc, k == 0 ? -EEXIST : -EACCES);
        assert_null(s);
        assert_non_null(strstr(err, TS_TMP));
        assert_int_equal(len, torn_len);
        assert_memory_equal(f, torn, torn_len);
    }
    /* Once PATH.tmp can be made, the open succeeds and cuts the tail. */
    fs.create_errno = 0;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_store_info *info = bpc_store_info(s);
    assert_true(info->torn_bytes > 0);
    assert_non_null(memfs_file(&fs, TS_PATH, &len));
    assert_int_equal(len, torn_len - info->torn_bytes);
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_removes_leftover_tmp),
        cmocka_unit_test(test_store_refused_open_keeps_tmp),
        cmocka_unit_test(test_store_foreign_tmp_kept),
        cmocka_unit_test(test_store_zero_tmp_removed),
        cmocka_unit_test(test_store_zero_tmp_bounded),
        cmocka_unit_test(test_store_holed_tmp_removed),
        cmocka_unit_test(test_store_refused_open_keeps_torn_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
