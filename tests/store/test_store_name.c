/*
 * test_store_name.c - a writer's file taken from under it: the store's
 * path unlinked, or another file renamed over it, while the store is
 * open. A commit written to the old file after that is not what the next
 * open reads, so it must not be acknowledged: the store fails (every
 * later call -EIO) and bpc_store_error names why (-ENOENT, -ESTALE).
 * memfs's same_file answers which file the path leads to; the real file
 * system's turn is in test_store_files_writers.c.
 *
 * Must never: touch the real file system (memfs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpcon_store.h"
#include "memfs.h"

#define TN_PATH "/m/store"
#define TN_COPY "/m/copy"

static void
tn_config(struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 6;
    cfg->parties_count = 4;
    cfg->self = 2;
    cfg->window_slots = 8;
}

static struct bpc_store *
tn_open(struct memfs *fs, bool no_sync)
{
    struct bpc_config cfg;
    tn_config(&cfg);
    struct bpc_store_options o = {.io = &fs->io, .no_sync = no_sync};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TN_PATH, &cfg, &o, err, sizeof(err)), 0);
    return s;
}

/* Buffers a party-wide promise of ballot bal and a vote at it. */
static int
tn_append(struct bpc_store *s, uint64_t bal)
{
    struct bpc_durable d[2] = {
        {.instance = UINT64_MAX, .max_bal = bal},
        {.instance = 0, .max_bal = bal, .max_vbal = bal, .max_vval = {.kind = BPC_VALUE_NOOP}},
    };
    return bpc_store_append(s, d, 2);
}

/* A commit that must be acknowledged. */
static void
tn_commit(struct bpc_store *s, uint64_t bal)
{
    assert_int_equal(tn_append(s, bal), 0);
    assert_int_equal(bpc_store_sync(s), 0);
}

static uint64_t
tn_syncs(const struct bpc_store *s)
{
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    return st.syncs;
}

/* Commits, a compaction (PATH is a new file from then on: the check must
 * follow it) and another commit, all acknowledged. */
static void
tn_warm(struct bpc_store *s)
{
    tn_commit(s, 3);
    assert_int_equal(bpc_store_compact(s), 0);
    while (bpc_store_release(s) > 0) {
    }
    tn_commit(s, 4);
}

/* The next commit (promise 9) must not be acknowledged: sync is -EIO,
 * bpc_store_error is want, and every later call fails too. */
static void
tn_expect_failed(struct bpc_store *s, int want)
{
    uint64_t syncs = tn_syncs(s);
    assert_int_equal(tn_append(s, 9), 0);
    int rc = bpc_store_sync(s);
    if (rc != -EIO || bpc_store_error(s) != want) {
        fail_msg("commit after the file left the path: sync %d error %d, expected -EIO and %d", rc,
                 bpc_store_error(s), want);
    }
    assert_int_equal(tn_syncs(s), syncs); /* nothing acknowledged */
    assert_int_equal(tn_append(s, 10), -EIO);
    assert_int_equal(bpc_store_sync(s), -EIO);
    assert_int_equal(bpc_store_compact(s), -EIO);
    assert_int_equal(bpc_store_error(s), want); /* the first cause stays */
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_true(st.failed);
}

/* The largest promise a reopen of PATH restores. */
static uint64_t
tn_reopened_promise(struct memfs *fs)
{
    struct bpc_store *s = tn_open(fs, false);
    const struct bpc_durable *r = NULL;
    uint32_t n = bpc_store_records(s, &r);
    uint64_t bal = 0;
    for (uint32_t i = 0; i < n; i++) {
        bal = r[i].max_bal > bal ? r[i].max_bal : bal;
    }
    bpc_store_close(s);
    return bal;
}

/* Goal: a writer whose PATH was unlinked (an operator's rm, a cleanup
 * script) acknowledges nothing more: the next sync fails, -ENOENT named.
 * Before: sync returned 0 ("commit after the file left the path: sync 0
 * error 0, expected -EIO and -2"), and a reopen created an empty store:
 * the promise of ballot 9, acknowledged, was gone (the reviewer's
 * unlink). */
static void
test_unlinked_path_fails_sync(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 1);
    struct bpc_store *s = tn_open(&fs, false);
    tn_warm(s);
    assert_int_equal(fs.io.unlink(&fs, TN_PATH), 0);
    tn_expect_failed(s, -ENOENT);
    bpc_store_close(s);
    /* A restart finds no store: the rm took every promise, and the party
     * stopped rather than make more. */
    assert_int_equal(tn_reopened_promise(&fs), 0);
    memfs_free(&fs);
}

/* Goal: a writer whose PATH another file was renamed over (an operator's
 * cp + mv, a restored copy) acknowledges nothing more: the next sync
 * fails, -ESTALE named. Before: sync returned 0 ("sync 0 error 0,
 * expected -EIO and -116"), and a reopen read the copy: promise 4, not
 * the acknowledged 9 (the reviewer's replace). */
static void
test_replaced_path_fails_sync(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 2);
    struct bpc_store *s = tn_open(&fs, false);
    tn_warm(s);
    size_t len = 0;
    const uint8_t *now = memfs_file(&fs, TN_PATH, &len);
    assert_non_null(now);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, now, len);
    memfs_set_file(&fs, TN_COPY, copy, len);
    free(copy);
    assert_int_equal(fs.io.rename(&fs, TN_COPY, TN_PATH), 0);
    tn_expect_failed(s, -ESTALE);
    bpc_store_close(s);
    assert_int_equal(tn_reopened_promise(&fs), 4); /* the last acknowledged */
    memfs_free(&fs);
}

/* Goal: a compaction checks the path first, in either mode: with PATH
 * unlinked it fails the store (-ENOENT) and makes no file there; with
 * another file at PATH it fails (-ESTALE) and leaves that file as it
 * is. Before: the compaction returned 0, made PATH again in the first
 * case and renamed its image over the other file in the second ("a
 * compaction with the store's file gone: 0, expected -EIO"). */
static void
test_compaction_checks_path(void **state)
{
    (void)state;
    static const uint8_t other[] = "another program's file\n";
    for (int replace = 0; replace < 2; replace++) {
        struct memfs fs;
        memfs_init(&fs, 3);
        struct bpc_store *s = tn_open(&fs, replace == 0);
        tn_warm(s);
        if (replace) {
            memfs_set_file(&fs, TN_COPY, other, sizeof(other));
            assert_int_equal(fs.io.rename(&fs, TN_COPY, TN_PATH), 0);
        } else {
            assert_int_equal(fs.io.unlink(&fs, TN_PATH), 0);
        }
        int rc = bpc_store_compact(s);
        if (rc != -EIO) {
            fail_msg("a compaction with the store's file gone: %d, expected -EIO", rc);
        }
        assert_int_equal(bpc_store_error(s), replace ? -ESTALE : -ENOENT);
        size_t len = 0;
        const uint8_t *at = memfs_file(&fs, TN_PATH, &len);
        if (replace) {
            assert_int_equal(len, sizeof(other));
            assert_memory_equal(at, other, len);
        } else {
            assert_null(at);
        }
        bpc_store_close(s);
        memfs_free(&fs);
    }
}

/* Goal: with no_sync the path is checked at every
 * BPC_STORE_NAME_CHECK_EVERY-th commit (docs/STORE.md: each check would
 * cost about as much as the commit), so a writer whose PATH was unlinked
 * fails within that many commits, -ENOENT named, and acknowledges
 * nothing after. Before: it never failed ("no_sync: 1024 commits
 * acknowledged after the unlink"). */
static void
test_no_sync_checks_every_n(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 4);
    struct bpc_store *s = tn_open(&fs, true);
    tn_warm(s);
    assert_int_equal(fs.io.unlink(&fs, TN_PATH), 0);
    uint32_t acked = 0;
    while (acked < 4u * BPC_STORE_NAME_CHECK_EVERY) {
        assert_int_equal(tn_append(s, 5), 0);
        if (bpc_store_sync(s) != 0) {
            break;
        }
        acked++;
    }
    if (acked >= BPC_STORE_NAME_CHECK_EVERY) {
        fail_msg("no_sync: %u commits acknowledged after the unlink", acked);
    }
    assert_int_equal(bpc_store_error(s), -ENOENT);
    assert_int_equal(tn_append(s, 6), -EIO);
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    bpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlinked_path_fails_sync),
        cmocka_unit_test(test_replaced_path_fails_sync),
        cmocka_unit_test(test_compaction_checks_path),
        cmocka_unit_test(test_no_sync_checks_every_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
