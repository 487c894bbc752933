/*
 * test_store_bound.c - the durable vote store's file size (libbpcon-store).
 *
 * Goal: a million instances' worth of engine-shaped records keeps the
 * file within a bound set by the window (under the compaction threshold
 * plus one commit), and restarts of a file that grew past the threshold
 * compact it back.
 * Method: an in-memory file system (memfs.c) and the fixture the store's
 * tests share (store_fx.h); synthetic commits shaped like the engine's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"
#include "store_fx.h"

/* Bounded-size run. */
#define TS_BIG_INSTANCES 1000000u
#define TS_BIG_WINDOW 64u

/* ------------------------------------------------------------------------
 * Bounded size over a million instances.
 * ---------------------------------------------------------------------- */

/* The commit of instance i in the million-instance run: the party-wide
 * record (the floor half a window behind), a 2av for i, a 2b for i - 1,
 * and every 64th an apply-state record. Returns the record count. */
static uint32_t
ts_big_commit(uint64_t i, struct bpc_durable *b)
{
    memset(b, 0, 4 * sizeof(*b));
    uint32_t n = 0;
    b[n].instance = UINT64_MAX;
    b[n].max_bal = 1u + i / 100000u;
    b[n].floor = i > TS_BIG_WINDOW / 2 ? i - TS_BIG_WINDOW / 2 : 0;
    n++;
    b[n] = b[0];
    b[n].instance = i; /* 2av */
    b[n].hist_count = 1;
    b[n].hist_bal[0] = b[0].max_bal;
    b[n].hist_val[0] = ts_vid(i);
    n++;
    if (i > 0) {
        b[n] = b[0];
        b[n].instance = i - 1; /* 2b */
        b[n].max_vbal = b[0].max_bal;
        b[n].max_vval = ts_vid(i - 1);
        b[n].hist_count = 1; /* its 2av stays in its history */
        b[n].hist_bal[0] = 1u + (i - 1u) / 100000u;
        b[n].hist_val[0] = ts_vid(i - 1);
        n++;
    }
    if (i % 64 == 0) {
        b[n] = b[0];
        b[n].instance = BPC_DURABLE_APPLIED_BASE + (i / 64) % TS_PARTIES;
        b[n].applied_seq = i;
        n++;
    }
    return n;
}

/* A no_sync store (size is what is measured here, not sync: no_sync
 * keeps it fast) at TS_PATH on fs, window `window`; its compaction
 * threshold. */
static uint64_t
ts_bound_open(struct memfs *fs, uint32_t window, struct bpc_config *cfg,
              struct bpc_store_options *o, struct bpc_store **s)
{
    ts_config(cfg, window);
    *o = (struct bpc_store_options){.io = &fs->io, .no_sync = true};
    char err[256] = "";
    assert_int_equal(bpc_store_open(s, TS_PATH, cfg, o, err, sizeof(err)), 0);
    struct bpc_store_stats st;
    bpc_store_stats(*s, &st);
    return st.compact_bytes;
}

/* One commit of recs and vals; compacts after it when due. Returns how
 * much the commit grew the file. */
static uint64_t
ts_bound_commit(struct bpc_store *s, const struct bpc_durable *recs, uint32_t n,
                const struct bpc_durable_value *vals, uint32_t nv)
{
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    uint64_t before = st.file_bytes;
    assert_int_equal(bpc_store_append(s, recs, n), 0);
    if (nv > 0) {
        assert_int_equal(bpc_store_append_values(s, vals, nv), 0);
    }
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_stats(s, &st);
    if (bpc_store_compact_due(s)) {
        assert_int_equal(bpc_store_compact(s), 0);
    }
    return st.file_bytes - before;
}

static void
test_store_bounded_million_instances(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 9);
    struct bpc_config cfg;
    struct bpc_store_options o;
    struct bpc_store *s = NULL;
    uint64_t threshold = ts_bound_open(&fs, TS_BIG_WINDOW, &cfg, &o, &s);
    uint64_t commit_max = 0;
    uint64_t written = 0;
    struct bpc_durable last_pw;
    for (uint64_t i = 0; i < TS_BIG_INSTANCES; i++) {
        struct bpc_durable b[4];
        uint32_t n = ts_big_commit(i, b);
        last_pw = b[0];
        uint64_t grew = ts_bound_commit(s, b, n, NULL, 0);
        commit_max = grew > commit_max ? grew : commit_max;
        written += grew;
    }
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    print_message("1M instances: %.0f MB of records written, file at most %llu bytes "
                  "(threshold %llu), %llu compactions, %llu live records\n",
                  (double)written / 1e6, (unsigned long long)st.file_bytes_max,
                  (unsigned long long)threshold, (unsigned long long)st.compactions,
                  (unsigned long long)st.live_records);
    assert_true(written > 100u * threshold);
    assert_true(st.file_bytes_max <= threshold + commit_max);
    /* The live set is the window, the submitters and the party record. */
    assert_true(st.live_records <= TS_BIG_WINDOW + TS_PARTIES + 1u);
    bpc_store_close(s);
    char err[256] = "";
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    assert_true(n <= TS_BIG_WINDOW + TS_PARTIES + 1u);
    assert_true(ts_rec_eq(&recs[n - 1], &last_pw));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: with the decided records an engine keeps below its floor (one
 * per instance the floor passes, kept for 2 x window + 256 instances),
 * the file stays under the threshold plus one commit and the live set
 * within 3 x window + 256 + parties + 1 records. Window 4096, 20,000
 * commits each moving the floor by one: the party-wide record, the
 * decided record of the instance passed, a vote at the window's top
 * (inline values). Before, the bound left the decided records out: "file
 * at most 7226288 bytes (threshold 4741216), 12545 live records at most"
 * (review B's bound, at this window). */
#define TS_DEC_WINDOW 4096u
static void
test_store_bounded_with_decided_records(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 12);
    struct bpc_config cfg;
    struct bpc_store_options o;
    struct bpc_store *s = NULL;
    uint64_t threshold = ts_bound_open(&fs, TS_DEC_WINDOW, &cfg, &o, &s);
    uint64_t commit_max = 0;
    uint64_t live_max = 0;
    for (uint64_t k = 1; k <= 20000; k++) {
        struct bpc_durable r[3];
        r[0] = ts_party(k);
        r[1] = r[0];
        r[1].instance = k - 1;
        r[1].decided = 1;
        r[1].dec_bal = 1;
        r[1].dec_keep = k - 1 + 2u * TS_DEC_WINDOW + 256u;
        r[1].dec_val = ts_vid(3 * k + 1); /* inline */
        if (k > TS_DEC_WINDOW) {          /* this party's vote of commit k - TS_DEC_WINDOW */
            r[1].max_vbal = 1;
            r[1].max_vval = ts_vid(3 * (k - TS_DEC_WINDOW) + 2);
        }
        r[2] = r[0];
        r[2].instance = k + TS_DEC_WINDOW - 1u;
        r[2].max_vbal = 1;
        r[2].max_vval = ts_vid(3 * k + 2);
        uint64_t grew = ts_bound_commit(s, r, 3, NULL, 0);
        commit_max = grew > commit_max ? grew : commit_max;
        struct bpc_store_stats st;
        bpc_store_stats(s, &st);
        live_max = st.live_records > live_max ? st.live_records : live_max;
    }
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    print_message("window %u: file at most %llu bytes (threshold %llu), %llu live records at "
                  "most, %llu compactions\n",
                  TS_DEC_WINDOW, (unsigned long long)st.file_bytes_max,
                  (unsigned long long)threshold, (unsigned long long)live_max,
                  (unsigned long long)st.compactions);
    assert_true(st.compactions >= 1);
    assert_true(st.file_bytes_max <= threshold + commit_max);
    assert_true(live_max <= 3u * TS_DEC_WINDOW + 256u + TS_PARTIES + 1u);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A file that grew past the threshold before a restart (say, under a
 * larger threshold) compacts at the first commit after recovery, and
 * every restart keeps the bound: restarts must not let it grow. */
static void
test_store_restarts_keep_the_bound(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 10);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options big = ts_opts(&fs, 1u << 30);
    struct bpc_store_options small = ts_opts(&fs, TS_COMPACT_BYTES);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &big, err, sizeof(err)), 0);
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    for (uint64_t k = 0; k < 40; k++) {
        struct bpc_durable b[8];
        uint32_t n = ts_batch(k, b, &m);
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_sync(s), 0);
    }
    bpc_store_close(s);
    size_t len = 0;
    memfs_file(&fs, TS_PATH, &len);
    assert_true(len > 4u * TS_COMPACT_BYTES);
    uint64_t k = 40;
    for (uint32_t restart = 0; restart < 20; restart++) {
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &small, err, sizeof(err)), 0);
        for (uint32_t j = 0; j < 3; j++, k++) {
            struct bpc_durable b[8];
            uint32_t n = ts_batch(k % TS_STEPS, b, &m);
            for (uint32_t i = 0; i < n; i++) {
                /* The ballot keeps rising past the wrap of k, as an
                 * engine's does: a party-wide record may not lower it. */
                b[i].max_bal = 1u + k / 7u;
                /* and so do votes and applied positions, as an engine's:
                 * a record may not lower its instance's (instances come
                 * again after the wrap, still live) */
                if (b[i].instance < BPC_DURABLE_APPLIED_BASE) { /* a 2b: wraps revisit */
                    b[i].max_vbal = b[i].max_bal;
                    b[i].max_vval = ts_vid(b[i].instance);
                }
                bool applied =
                    b[i].instance >= BPC_DURABLE_APPLIED_BASE && b[i].instance != UINT64_MAX;
                b[i].applied_seq = applied ? k * 10u : 0;
            }
            assert_int_equal(bpc_store_append(s, b, n), 0);
            assert_int_equal(bpc_store_sync(s), 0);
            if (bpc_store_compact_due(s)) {
                assert_int_equal(bpc_store_compact(s), 0);
            }
        }
        bpc_store_close(s);
        memfs_file(&fs, TS_PATH, &len);
        assert_true(len <= 2u * TS_COMPACT_BYTES);
    }
    memfs_free(&fs);
}

/* The stalled-vote run: commits of one instance, each naming a new
 * value of TS_STALL_BYTES bytes. */
#define TS_STALL_COMMITS 3000u
#define TS_STALL_BYTES 8192u

/* Vote k of the stalled-vote run into d (its history: the four votes
 * before it, newest first) and its value's bytes into b. */
static struct bpc_durable_value
ts_stall_vote(uint32_t k, struct bpc_durable *d, uint8_t *b)
{
    if (d->max_vbal != 0) {
        memmove(&d->hist_bal[1], &d->hist_bal[0], 3 * sizeof(d->hist_bal[0]));
        memmove(&d->hist_val[1], &d->hist_val[0], 3 * sizeof(d->hist_val[0]));
        d->hist_bal[0] = d->max_vbal;
        d->hist_val[0] = d->max_vval;
        d->hist_count = d->hist_count < BPC_HISTORY_MAX ? d->hist_count + 1u : BPC_HISTORY_MAX;
    }
    memset(b, 0, TS_STALL_BYTES);
    memcpy(b, &k, sizeof(k));
    struct bpc_durable_value v = {.instance = d->instance, .bytes = b};
    bpc_vid_of(&v.vid, b, TS_STALL_BYTES);
    d->max_bal = k;
    d->max_vbal = k;
    d->max_vval = v.vid;
    return v;
}

/* Goal: a party whose vote moves through new values while its floor
 * stands still (a stall, ballot after ballot) keeps the file within the
 * bound, and a restart has the values its newest record names. One
 * instance, floor 0, 3,000 commits of its record (the new vote and the
 * four before it as 2av history) and the new vote's 8,192-byte value.
 * Fails on 5e2dc49, where every value at or above the floor was live:
 * "file at most 25097168 bytes (threshold 4194304), 3000 live values" (a
 * review's store_growth). */
static void
test_store_values_of_a_stalled_vote_bounded(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 11);
    struct bpc_config cfg;
    struct bpc_store_options o;
    struct bpc_store *s = NULL;
    uint64_t threshold = ts_bound_open(&fs, 64, &cfg, &o, &s);
    uint64_t commit_max = 0;
    static uint8_t bytes[TS_STALL_BYTES];
    struct bpc_durable d;
    memset(&d, 0, sizeof(d));
    d.instance = 3;
    for (uint32_t k = 1; k <= TS_STALL_COMMITS; k++) {
        struct bpc_durable_value v = ts_stall_vote(k, &d, bytes);
        uint64_t grew = ts_bound_commit(s, &d, 1, &v, 1);
        commit_max = grew > commit_max ? grew : commit_max;
    }
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    print_message("stalled vote: file at most %llu bytes (threshold %llu), %llu live values\n",
                  (unsigned long long)st.file_bytes_max, (unsigned long long)threshold,
                  (unsigned long long)st.live_values);
    assert_true(st.file_bytes_max <= threshold + commit_max);
    assert_int_equal(st.live_values, 1u + BPC_HISTORY_MAX);
    bpc_store_close(s);
    /* After a restart: the newest vote's value and its history's, each
     * with its bytes. */
    char err[256] = "";
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable_value *vals = NULL;
    uint32_t n = bpc_store_values(s, &vals);
    assert_int_equal(n, 1u + BPC_HISTORY_MAX);
    for (uint32_t i = 0; i < n; i++) {
        struct bpc_vid got;
        bpc_vid_of(&got, vals[i].bytes, TS_STALL_BYTES);
        assert_true(ts_vid_eq(&got, &vals[i].vid));
        uint32_t k = 0;
        memcpy(&k, vals[i].bytes, sizeof(k));
        assert_true(k > TS_STALL_COMMITS - 1u - BPC_HISTORY_MAX && k <= TS_STALL_COMMITS);
    }
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_bounded_million_instances),
        cmocka_unit_test(test_store_restarts_keep_the_bound),
        cmocka_unit_test(test_store_bounded_with_decided_records),
        cmocka_unit_test(test_store_values_of_a_stalled_vote_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
