/*
 * test_store_api.c - misuse of the store's public calls is an error
 * returned, never a crash: NULL arrays with a count, NULL bytes with no
 * length, a configuration the engine would refuse. One test per case, so
 * that a crash names its case.
 *
 * Must never: touch the real file system (memfs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"

#define TA_PATH "/m/store"

static void
ta_config(struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 5;
    cfg->parties_count = 4;
    cfg->self = 3;
    cfg->window_slots = 8;
}

/* What an engine of the store's configuration returns restoring the n
 * records. */
static int
ta_restore_rc(const struct bpc_durable *live, uint32_t n)
{
    struct bpc_config cfg;
    ta_config(&cfg);
    static const uint8_t keys[4][BPC_KEY_BYTES];
    cfg.keys = keys;
    struct bpc_engine *e = NULL;
    char err[256] = "";
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
    int rc = bpc_engine_restore(e, live, n);
    bpc_engine_free(e);
    return rc;
}

/* An engine of the store's configuration restores the n live records. */
static void
ta_restores(const struct bpc_durable *live, uint32_t n)
{
    assert_int_equal(ta_restore_rc(live, n), 0);
}

static struct bpc_store *
ta_open(struct memfs *fs)
{
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_options o = {.io = &fs->io};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    return s;
}

/* bpc_store_append refuses NULL records with a count; its sibling for
 * values read through the NULL array. Before: SIGSEGV. */
static void
test_append_values_null_array(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 1);
    struct bpc_store *s = ta_open(&fs);
    assert_int_equal(bpc_store_append_values(s, NULL, 2), -EINVAL);
    assert_int_equal(bpc_store_append_values(s, NULL, 0), 0); /* nothing to do */
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_false(st.failed);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_stats(s, &st);
    assert_int_equal(st.syncs, 0); /* nothing was buffered */
    bpc_store_close(s);
    memfs_free(&fs);
}

/* An empty application state with no buffer is a valid call: it is
 * written and comes back empty. Before: memcpy(.., NULL, 0), undefined
 * behaviour (UBSan: "null pointer passed as argument 2"). */
static void
test_put_app_null_empty(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 2);
    struct bpc_store *s = ta_open(&fs);
    assert_int_equal(bpc_store_put_app(s, 9, NULL, 0), 0);
    assert_int_equal(bpc_store_put_app(s, 9, NULL, 1), -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = ta_open(&fs);
    uint64_t floor = 0;
    const uint8_t *bytes = NULL;
    uint32_t len = 1;
    assert_int_equal(bpc_store_app(s, &floor, &bytes, &len), 0);
    assert_int_equal(floor, 9);
    assert_int_equal(len, 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a NULL store handle or output is an error, not a crash, in
 * every call that takes one; an I/O table without a call the store needs
 * is refused at open (naming it) and at inspect. Before, each of these
 * crashed (the store review's storemisuse). */
static void
test_null_handles_refused(void **state)
{
    (void)state;
    struct bpc_durable d = {.instance = UINT64_MAX, .max_bal = 1};
    assert_int_equal(bpc_store_append(NULL, &d, 1), -EINVAL);
    assert_int_equal(bpc_store_append_values(NULL, NULL, 0), -EINVAL);
    assert_int_equal(bpc_store_put_app(NULL, 0, NULL, 0), -EINVAL);
    assert_int_equal(bpc_store_sync(NULL), -EINVAL);
    assert_int_equal(bpc_store_compact(NULL), -EINVAL);
    assert_int_equal(bpc_store_release(NULL), -EINVAL);
    assert_int_equal(bpc_store_crc32c(NULL, 5), 0); /* no bytes (before: SEGV) */
    assert_false(bpc_store_compact_due(NULL));
    assert_null(bpc_store_info(NULL));
    const struct bpc_durable *recs = &d;
    assert_int_equal(bpc_store_records(NULL, &recs), 0);
    assert_null(recs);
    const struct bpc_durable_value *vals = NULL;
    assert_int_equal(bpc_store_values(NULL, &vals), 0);
    struct bpc_store_stats st;
    memset(&st, 0xff, sizeof(st));
    bpc_store_stats(NULL, &st);
    assert_int_equal(st.syncs, 0);
    uint64_t floor = 0;
    const uint8_t *bytes = NULL;
    uint32_t len = 0;
    assert_int_equal(bpc_store_app(NULL, &floor, &bytes, &len), -EINVAL);
    struct memfs fs;
    memfs_init(&fs, 7);
    struct bpc_store *s = ta_open(&fs);
    assert_int_equal(bpc_store_records(s, NULL), 0);
    assert_int_equal(bpc_store_values(s, NULL), 0);
    bpc_store_stats(s, NULL);
    assert_int_equal(bpc_store_app(s, NULL, &bytes, &len), -EINVAL);
    bpc_store_close(s);
    struct bpc_config cfg;
    ta_config(&cfg);
    char err[256] = "";
    assert_int_equal(bpc_store_open(NULL, TA_PATH, &cfg, NULL, err, sizeof(err)), -EINVAL);
    struct bpc_store_io io = fs.io;
    io.datasync = NULL;
    struct bpc_store_options o = {.io = &io};
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), -EINVAL);
    assert_null(s);
    print_message("open with no datasync: %s\n", err);
    assert_non_null(strstr(err, "datasync"));
    o.read_only = true; /* a reader needs no datasync */
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    struct bpc_store_io none;
    memset(&none, 0, sizeof(none));
    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(TA_PATH, &none, &info, NULL, NULL, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "open"));
    assert_int_equal(bpc_store_inspect(TA_PATH, &fs.io, NULL, NULL, NULL, err, sizeof(err)),
                     -EINVAL);
    memfs_free(&fs);
}

/* Opens with cfg; must be refused with code, creating nothing. */
static void
ta_expect_refused(const struct bpc_config *cfg, int code, const char *why)
{
    struct memfs fs;
    memfs_init(&fs, 3);
    struct bpc_store_options o = {.io = &fs.io};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, cfg, &o, err, sizeof(err)), code);
    assert_null(s);
    assert_non_null(strstr(err, "configuration refused"));
    assert_non_null(strstr(err, why));
    size_t len = 0;
    assert_null(memfs_file(&fs, TA_PATH, &len));
    memfs_free(&fs);
}

/* More parties than a configuration may have. Before: an assertion in
 * bpc_config_digest aborted the process. */
static void
test_open_refuses_too_many_parties(void **state)
{
    (void)state;
    struct bpc_config cfg;
    ta_config(&cfg);
    cfg.parties_count = 2000;
    ta_expect_refused(&cfg, -BPC_ECFG_TOO_MANY_PARTIES, "parties_count=2000");
}

/* No parties and a self outside them. Before: a store was created for
 * party 77 and open returned 0. */
static void
test_open_refuses_self_outside(void **state)
{
    (void)state;
    struct bpc_config cfg;
    ta_config(&cfg);
    cfg.self = 77;
    cfg.parties_count = 0;
    ta_expect_refused(&cfg, -BPC_ECFG_NO_PARTIES, "no parties");
    cfg.parties_count = 4;
    ta_expect_refused(&cfg, -BPC_ECFG_SELF, "self=77");
}

/* A commit that meets a full file system fails the store, and
 * bpc_store_error names why: -ENOSPC, kept over the -EIO of later calls;
 * a failed fdatasync is -EIO. Before: only -EIO and a bool, so an
 * operator could not tell a full disk from a failing one. */
static void
ta_fail_commit(int write_errno, bool at_sync, int want)
{
    struct memfs fs;
    memfs_init(&fs, 4);
    fs.write_errno = write_errno;
    struct bpc_store *s = ta_open(&fs);
    assert_int_equal(bpc_store_error(s), 0);
    assert_int_equal(bpc_store_put_app(s, 1, "a", 1), 0);
    fs.fail_at = fs.calls + (at_sync ? 2u : 1u); /* the commit's pwrite, or its fdatasync */
    assert_int_equal(bpc_store_sync(s), -EIO);
    assert_int_equal(bpc_store_error(s), want);
    assert_int_equal(bpc_store_put_app(s, 2, "b", 1), -EIO);
    assert_int_equal(bpc_store_error(s), want); /* the first cause stays */
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_true(st.failed);
    bpc_store_close(s);
    memfs_free(&fs);
}

static void
test_error_names_cause(void **state)
{
    (void)state;
    ta_fail_commit(-ENOSPC, false, -ENOSPC);
    ta_fail_commit(0, true, -EIO);
    assert_int_equal(bpc_store_error(NULL), -EINVAL);
}

/* The records of the reviewer's floor_poison, after four acknowledged
 * votes: each is one bpc_engine_restore refuses, so bpc_store_append must
 * refuse it too (-EINVAL, nothing buffered) and the votes stay live and
 * restorable. Before: appended and synced; the floor of 2^64 - 2 dropped
 * every vote from the live set (a compaction then erased them from the
 * file) and the store could never be restored again. */
static void
test_append_refuses_what_restore_refuses(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 6);
    struct bpc_store *s = ta_open(&fs);
    struct bpc_durable r[5];
    memset(r, 0, sizeof(r));
    r[0] = (struct bpc_durable){.instance = UINT64_MAX, .max_bal = 3};
    for (uint32_t i = 1; i < 5; i++) {
        r[i] = (struct bpc_durable){.instance = i, .max_bal = 3, .max_vbal = 3};
        uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, (uint8_t)i};
        bpc_vid_of(&r[i].max_vval, v, sizeof(v));
    }
    assert_int_equal(bpc_store_append(s, r, 5), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_durable bad[5] = {
        {.instance = UINT64_MAX, .max_bal = 3, .floor = UINT64_MAX - 1u},
        {.instance = 7, .max_bal = 3, .max_vbal = 3}, /* a vote ballot, no value */
        {.instance = UINT64_MAX, .max_bal = 3, .incarnation = UINT64_C(1) << 24},
        r[1], /* below: a vote above the promise the record carries */
        /* the apply-state base as a floor: every vote below it (before:
         * taken, the store review's floorbase) */
        {.instance = UINT64_MAX, .max_bal = 3, .floor = BPC_DURABLE_APPLIED_BASE},
    };
    bad[3].max_vbal = 4;
    for (uint32_t k = 0; k < 5; k++) {
        int rc = bpc_store_append(s, &bad[k], 1);
        if (rc != -EINVAL) {
            fail_msg("floor_poison case %u: bpc_store_append returned %d, not -EINVAL", k, rc);
        }
    }
    /* The last incarnation with a promised ballot, which restore refuses
     * (its start could not raise it): refused here too. Before, append and
     * sync took it and the party could never restart (the store review's
     * inc: "restore + start = -22"). */
    struct bpc_durable last = {
        .instance = UINT64_MAX, .max_bal = 3, .incarnation = (UINT64_C(1) << 24) - 2u};
    assert_int_equal(bpc_store_append(s, &last, 1), -EINVAL);
    /* Without a promise of its own it still sits beside the four votes'
     * (max_bal 3), a set restore refuses: refused too (before: taken;
     * test_append_refuses_a_set_restore_refuses takes it once no promise
     * is live). */
    last.max_bal = 0;
    assert_int_equal(bpc_store_append(s, &last, 1), -EINVAL);
    /* The largest restore takes with a promised ballot (bpc_engine_start
     * then refuses, -EOVERFLOW: test_durable.c). */
    struct bpc_durable edge = {
        .instance = UINT64_MAX, .max_bal = 3, .incarnation = (UINT64_C(1) << 24) - 3u};
    assert_int_equal(bpc_store_append(s, &edge, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_compact(s), 0);
    const struct bpc_durable *live = NULL;
    uint32_t n = bpc_store_records(s, &live);
    assert_int_equal(n, 5); /* the party-wide record and the four votes */
    ta_restores(live, n);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* The live set after the append, exported and restored: 0 or the code. */
static int
ta_live_restore_rc(struct bpc_store *s)
{
    const struct bpc_durable *live = NULL;
    uint32_t n = bpc_store_records(s, &live);
    return ta_restore_rc(live, n);
}

/* Goal: bpc_store_append refuses (-EINVAL, nothing buffered) the record
 * that completes a live set bpc_engine_restore refuses: a promised ballot
 * (any live record's max_bal > 0) beside the last incarnation (any live
 * record's 2^24 - 2), though each record alone passes. Either order, and
 * in one call; taken once the promise is no longer live. Before: both
 * appended and synced, and the party could never restart ("append 0,
 * restore -22": the second review's inc_set). */
static void
test_append_refuses_a_set_restore_refuses(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 9);
    struct bpc_store *s = ta_open(&fs);
    struct bpc_durable vote = {.instance = 2, .max_bal = 5};
    struct bpc_durable last = {.instance = UINT64_MAX, .incarnation = (UINT64_C(1) << 24) - 2u};
    assert_int_equal(bpc_store_append(s, &vote, 1), 0);
    int rc = bpc_store_append(s, &last, 1);
    assert_int_equal(bpc_store_sync(s), 0);
    if (rc != -EINVAL || ta_live_restore_rc(s) != 0) {
        fail_msg("append %d, restore %d: expected -22 and 0", rc, ta_live_restore_rc(s));
    }
    bpc_store_close(s);
    s = ta_open(&fs); /* nothing of it was written */
    assert_int_equal(ta_live_restore_rc(s), 0);
    struct bpc_durable both[2] = {last, vote};
    assert_int_equal(bpc_store_append(s, both, 2), -EINVAL);
    /* The floor passes the vote: the promise is no longer live. */
    struct bpc_durable past = {.instance = UINT64_MAX, .floor = 3};
    assert_int_equal(bpc_store_append(s, &past, 1), 0);
    last.floor = 3;
    assert_int_equal(bpc_store_append(s, &last, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(ta_live_restore_rc(s), 0);
    vote.instance = 4; /* a promise beside the last incarnation */
    vote.floor = 3;
    assert_int_equal(bpc_store_append(s, &vote, 1), -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = ta_open(&fs);
    assert_int_equal(ta_live_restore_rc(s), 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Floors and vote instances near the apply-state ids: a party-wide
 * floor of BPC_DURABLE_APPLIED_BASE - 3 (review E's floornear: taken by
 * append and restore, after which the engine voted at instances whose
 * records were apply-state records and the party stopped for good), a
 * floor of BPC_DURABLE_FLOOR_MAX + 1 and a vote at BPC_DURABLE_FLOOR_MAX
 * + BPC_WINDOW_SLOTS_MAX are refused by bpc_store_append and
 * bpc_engine_restore alike (-EINVAL); the floor BPC_DURABLE_FLOOR_MAX and
 * a vote in the window above it are taken by both. */
static void
test_floor_bound(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 8);
    struct bpc_store *s = ta_open(&fs);
    uint8_t v[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    struct bpc_durable vote = {.instance = BPC_DURABLE_FLOOR_MAX + BPC_WINDOW_SLOTS_MAX,
                               .max_bal = 3,
                               .max_vbal = 3,
                               .floor = BPC_DURABLE_FLOOR_MAX};
    bpc_vid_of(&vote.max_vval, v, sizeof(v));
    const struct bpc_durable bad[3] = {
        {.instance = UINT64_MAX, .max_bal = 3, .floor = BPC_DURABLE_APPLIED_BASE - 3u},
        {.instance = UINT64_MAX, .max_bal = 3, .floor = BPC_DURABLE_FLOOR_MAX + 1u},
        vote,
    };
    for (uint32_t k = 0; k < 3; k++) {
        int arc = bpc_store_append(s, &bad[k], 1);
        int rrc = ta_restore_rc(&bad[k], 1);
        print_message("floor %llu instance %llu: append %d, restore %d\n",
                      (unsigned long long)bad[k].floor, (unsigned long long)bad[k].instance, arc,
                      rrc);
        assert_int_equal(arc, -EINVAL);
        assert_int_equal(rrc, -EINVAL);
    }
    struct bpc_durable good[2] = {
        {.instance = UINT64_MAX, .max_bal = 3, .floor = BPC_DURABLE_FLOOR_MAX}, vote};
    good[1].instance = BPC_DURABLE_FLOOR_MAX + 7u; /* window 8 */
    assert_int_equal(bpc_store_append(s, good, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable *live = NULL;
    uint32_t n = bpc_store_records(s, &live);
    assert_int_equal(n, 2);
    ta_restores(live, n);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Compacts s, appends vote with its instance set to i, then closes and
 * reopens the store: the writer's live records just before the close and
 * the reopen's are the same two. Returns the reopened store. */
static struct bpc_store *
ta_compact_vote_reopen(struct bpc_store *s, struct memfs *fs, const struct bpc_durable *vote,
                       uint64_t i)
{
    assert_int_equal(bpc_store_compact(s), 0);
    while (bpc_store_release(s) > 0) {
    }
    struct bpc_durable v = *vote;
    v.instance = i;
    assert_int_equal(bpc_store_append(s, &v, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable *live = NULL;
    uint32_t writer = bpc_store_records(s, &live);
    bpc_store_close(s);
    s = ta_open(fs);
    uint32_t reopened = bpc_store_records(s, &live);
    if (reopened != writer) {
        fail_msg("records after the reopen: %u, the writer's %u", reopened, writer);
    }
    assert_int_equal(writer, 2);
    return s;
}

/* Goal: a vote record below its own floor (an engine writes a decided
 * record there) is -ERANGE, nothing buffered; after a compaction and a
 * reopen the store's floor is the writer's. Before, it was taken ("0 !=
 * 0xffffffffffffffde"): it raised the floor to 3 with no live record
 * carrying it, the compaction lost it, and a vote at 2 appended after it
 * was live after the reopen only (own review's floor_dead). */
static void
test_append_refuses_a_vote_below_its_floor(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 8);
    struct bpc_store *s = ta_open(&fs);
    struct bpc_durable v5 = {.instance = 5, .max_bal = 2, .max_vbal = 2};
    bpc_vid_of(&v5.max_vval, (const uint8_t *)"five", 4);
    assert_int_equal(bpc_store_append(s, &v5, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_durable v0 = v5;
    v0.instance = 0;
    v0.floor = 3;
    assert_int_equal(bpc_store_append(s, &v0, 1), -ERANGE);
    assert_int_equal(bpc_store_sync(s), 0);
    s = ta_compact_vote_reopen(s, &fs, &v5, 2);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a decided record whose dec_keep is below its own floor (not live
 * under that floor) is written but not taken: it neither raises the
 * store's floor nor enters the live set, at the append and at recovery
 * alike, so after a compaction the writer and a reopen have the same
 * records. An engine writes one when a vote on its oldest recent decision
 * is persisted after the floor passed the ring (persist.c), so append
 * must take it (-ERANGE would fail the party). Before, it raised the
 * floor to 7 with no live record carrying it, the compaction lost it, and
 * a vote at 6 appended after it was live after the reopen only ("records
 * after the reopen: 1, the writer's 0"; the second review's
 * decided_floor_dead). */
static void
test_append_takes_no_floor_from_a_dead_decided_record(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 8);
    struct bpc_store *s = ta_open(&fs);
    struct bpc_durable v5 = {.instance = 5, .max_bal = 2, .max_vbal = 2};
    bpc_vid_of(&v5.max_vval, (const uint8_t *)"five", 4);
    assert_int_equal(bpc_store_append(s, &v5, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_durable d = {
        .instance = 1, .max_bal = 2, .floor = 7, .decided = 1, .dec_bal = 2, .dec_keep = 3};
    bpc_vid_of(&d.dec_val, (const uint8_t *)"one", 3);
    assert_int_equal(bpc_store_append(s, &d, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    s = ta_compact_vote_reopen(s, &fs, &v5, 6); /* the two votes; the floor stayed 0 */
    assert_int_equal(bpc_store_info(s)->floor, 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Records and values no engine of this configuration writes (window 8,
 * value_bytes_max 1,024), which restore under it refuses with -ERANGE:
 * a vote at floor + 8, a 2b and a decided value of 1,025 bytes, and the
 * 1,025 bytes themselves. Before, each was appended and synced, and the
 * party could not restart on its store (the reviewer's setcheck modes 1
 * and 2). Floor + 7 and 1,024 bytes are taken, and restore under the
 * same configuration takes them. */
static void
test_append_refuses_what_the_config_cannot_restore(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 7);
    struct bpc_store *s = ta_open(&fs);
    struct bpc_durable party = {.instance = UINT64_MAX, .max_bal = 3};
    assert_int_equal(bpc_store_append(s, &party, 1), 0);
    uint8_t big[1025];
    memset(big, 7, sizeof(big));
    struct bpc_durable far = {.instance = 8, .max_bal = 3, .max_vbal = 3};
    bpc_vid_of(&far.max_vval, big, 8);
    struct bpc_durable wide = far;
    wide.instance = 6;
    bpc_vid_of(&wide.max_vval, big, sizeof(big));
    struct bpc_durable dwide = {.instance = 0, .max_bal = 3, .floor = 4, .decided = 1};
    bpc_vid_of(&dwide.dec_val, big, sizeof(big));
    const struct bpc_durable *range[3] = {&far, &wide, &dwide};
    for (uint32_t k = 0; k < 3; k++) {
        int rc = bpc_store_append(s, range[k], 1);
        if (rc != -ERANGE) {
            fail_msg("range case %u: bpc_store_append returned %d, not -ERANGE", k, rc);
        }
    }
    struct bpc_durable_value bigv = {.instance = 6, .vid = wide.max_vval, .bytes = big};
    assert_int_equal(bpc_store_append_values(s, &bigv, 1), -ERANGE);
    far.instance = 7;
    wide.instance = 6;
    bpc_vid_of(&wide.max_vval, big, 1024);
    bigv.vid = wide.max_vval;
    assert_int_equal(bpc_store_append(s, &far, 1), 0);
    assert_int_equal(bpc_store_append(s, &wide, 1), 0);
    assert_int_equal(bpc_store_append_values(s, &bigv, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable *live = NULL;
    uint32_t n = bpc_store_records(s, &live);
    assert_int_equal(n, 3);
    ta_restores(live, n);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A writer that could never compact is refused at open: a directory
 * where PATH.tmp cannot be created (memfs's create_errno: a read-only
 * directory) fails a writable open with that errno, naming PATH.tmp;
 * a read-only open still works. Before: the open returned 0, commits were
 * acknowledged, and the first compaction failed the store (-EIO) hours
 * later (the reviewer's rodir). */
static void
test_open_refuses_unwritable_directory(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 7);
    struct bpc_store *s = ta_open(&fs);
    bpc_store_close(s);
    fs.create_errno = EACCES;
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_options o = {.io = &fs.io};
    char err[256] = "";
    s = NULL;
    int rc = bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err));
    if (rc != -EACCES) {
        fail_msg("writable open in an unwritable directory: %d (%s), expected -EACCES", rc, err);
    }
    assert_null(s);
    assert_non_null(strstr(err, TA_PATH ".tmp"));
    assert_non_null(strstr(err, "Permission denied"));
    o.read_only = true;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    fs.create_errno = 0;
    o.read_only = false;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    size_t len = 0;
    assert_null(memfs_file(&fs, TA_PATH ".tmp", &len)); /* the probe left nothing */
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    bpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_values_null_array),
        cmocka_unit_test(test_put_app_null_empty),
        cmocka_unit_test(test_null_handles_refused),
        cmocka_unit_test(test_open_refuses_too_many_parties),
        cmocka_unit_test(test_open_refuses_self_outside),
        cmocka_unit_test(test_error_names_cause),
        cmocka_unit_test(test_append_refuses_what_restore_refuses),
        cmocka_unit_test(test_append_refuses_what_the_config_cannot_restore),
        cmocka_unit_test(test_append_refuses_a_vote_below_its_floor),
        cmocka_unit_test(test_append_takes_no_floor_from_a_dead_decided_record),
        cmocka_unit_test(test_append_refuses_a_set_restore_refuses),
        cmocka_unit_test(test_floor_bound),
        cmocka_unit_test(test_open_refuses_unwritable_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
