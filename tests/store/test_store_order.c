/*
 * test_store_order.c - the durable vote store (libbpcon-store) refuses at
 * bpc_store_append a record that makes a restart remember less than an
 * earlier one: a party-wide record that lowers max_bal or the
 * incarnation; a vote that lowers its instance's max_vbal, names another
 * value at it, or whose history lost its highest 2av; a lower applied
 * position or application-state floor. (test_store_recovery.c holds the
 * tests of recovery calling such records damage.)
 *
 * Method: the in-memory file system (memfs.c) and the fixture the
 * store's memfs tests share (store_fx.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"
#include "store_fx.h"

/* s holds a record of instance with hist history entries, the highest
 * at ballot top. */
static void
to_expect_top(struct bpc_store *s, uint64_t instance, uint32_t hist, uint64_t top)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    bool found = false;
    for (uint32_t k = 0; k < n; k++) {
        if (recs[k].instance == instance) {
            found = true;
            assert_int_equal(recs[k].hist_count, hist);
            assert_int_equal(recs[k].hist_bal[0], top);
        }
    }
    assert_true(found);
}

/* A party-wide record promising max_bal (*pw), and a vote record of
 * instance under it whose history is the one 2av (20, ts_vid(1)). */
static struct bpc_durable
to_vote_2av_20(struct bpc_durable *pw, uint64_t max_bal, uint64_t instance)
{
    memset(pw, 0, sizeof(*pw));
    pw->instance = UINT64_MAX;
    pw->max_bal = max_bal;
    struct bpc_durable v = *pw;
    v.instance = instance;
    v.hist_count = 1;
    v.hist_bal[0] = 20;
    v.hist_val[0] = ts_vid(1);
    return v;
}

/* Goal: bpc_store_append refuses (-EINVAL, nothing buffered) a vote
 * record of an instance whose highest 2av is below the earlier record's
 * (an empty history, a lower ballot) or at its ballot for another value,
 * and takes one that keeps it, with a clean floor (kind NONE) beside or
 * a higher 2av above; the file reopens with what was taken. Before
 * (review A10's F1), a vote record for instance 4 with the 2av (20, X),
 * then one with an empty history, were both appended and the file
 * checked intact: after a restart the party could send a second 2av at
 * ballot 20. */
static void
test_store_append_refuses_history_regress(void **state)
{
    (void)state;
    TS_SETUP(11, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable pw;
    struct bpc_durable v = to_vote_2av_20(&pw, 20, 4);
    pw.incarnation = 1;
    v.incarnation = 1;
    struct bpc_durable r[2] = {pw, v};
    assert_int_equal(bpc_store_append(s, r, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats before;
    bpc_store_stats(s, &before);
    struct bpc_durable d = v;
    d.hist_count = 0;
    int empty = bpc_store_append(s, &d, 1);
    d = v;
    d.hist_bal[0] = 19;
    int lower = bpc_store_append(s, &d, 1);
    d = v;
    d.hist_val[0] = ts_vid(2);
    int other = bpc_store_append(s, &d, 1);
    printf("  empty history %d, lower 2av %d, another value at its ballot %d\n", empty, lower,
           other);
    assert_int_equal(empty, -EINVAL);
    assert_int_equal(lower, -EINVAL);
    assert_int_equal(other, -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats after;
    bpc_store_stats(s, &after);
    assert_int_equal(after.file_bytes, before.file_bytes); /* nothing buffered */
    /* Kept: the same 2av with a clean floor after it; then a higher one. */
    d = v;
    d.hist_count = 2;
    d.hist_bal[1] = 10;
    d.hist_val[1].kind = BPC_VALUE_NONE;
    assert_int_equal(bpc_store_append(s, &d, 1), 0);
    d = v;
    d.max_bal = 21;
    d.hist_count = 2;
    d.hist_bal[0] = 21;
    d.hist_val[0] = ts_vid(3);
    d.hist_bal[1] = 20;
    d.hist_val[1] = ts_vid(1);
    pw.max_bal = 21;
    r[0] = pw;
    r[1] = d;
    assert_int_equal(bpc_store_append(s, r, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    to_expect_top(s, 4, 2, 21);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: in one bpc_store_append call, a record the live set never takes
 * (a decided record whose dec_keep is below its own floor) is not the one
 * the next record of its instance is compared with: a vote record after
 * it whose highest 2av is below the live record's is refused (-EINVAL,
 * nothing buffered), after a commit and with all three in one call, and
 * the file reopens with the 2av kept. Before (review B8's incall,
 * incall2): both appended and synced ("0, 0"), and the reopen failed
 * (-74, "vote record whose highest 2av is below an earlier one's"): the
 * party could not restart; after a compaction the 2av (20, X) was gone
 * and the file checked intact. */
static void
test_store_append_order_skips_dead_records(void **state)
{
    (void)state;
    TS_SETUP(12, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable pw;
    struct bpc_durable v = to_vote_2av_20(&pw, 30, 5);
    struct bpc_durable dead = v;
    dead.hist_count = 0;
    dead.floor = 10;
    dead.decided = 1;
    dead.dec_bal = 20;
    dead.dec_val = ts_vid(1);
    dead.dec_keep = 8; /* below its floor: not live when taken */
    struct bpc_durable lower = v;
    lower.hist_bal[0] = 19;
    lower.hist_val[0] = ts_vid(2);
    struct bpc_durable all[4] = {pw, v, dead, lower};
    int one_call = bpc_store_append(s, all, 4);
    assert_int_equal(bpc_store_append(s, all, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats before;
    bpc_store_stats(s, &before);
    int after_commit = bpc_store_append(s, &all[2], 2);
    printf("  in one call %d, after a commit %d\n", one_call, after_commit);
    assert_int_equal(one_call, -EINVAL);
    assert_int_equal(after_commit, -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats after;
    bpc_store_stats(s, &after);
    assert_int_equal(after.file_bytes, before.file_bytes); /* nothing buffered */
    /* The dead record alone is taken (recovery skips it); the 2av stays. */
    assert_int_equal(bpc_store_append(s, &dead, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    to_expect_top(s, 5, 1, 20);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A vote record of instance 4 (ballot 7, value 1) and submitter 2 at
 * position 10 into a store. */
static struct bpc_durable
ts_regress_setup(struct bpc_store *s, struct bpc_durable *pw)
{
    memset(pw, 0, sizeof(*pw));
    pw->instance = UINT64_MAX;
    pw->max_bal = 9;
    pw->incarnation = 3;
    struct bpc_durable r[3] = {*pw, *pw, *pw};
    r[1].instance = 4;
    r[1].max_vbal = 7;
    r[1].max_vval = ts_vid(1);
    r[2].instance = BPC_DURABLE_APPLIED_BASE + 2u;
    r[2].applied_seq = 10;
    assert_int_equal(bpc_store_append(s, r, 3), 0);
    assert_int_equal(bpc_store_put_app(s, 9, "app", 3), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    return r[1];
}

/* Taken after ts_regress_setup: the same vote, a higher one, the decided
 * record carrying it, the same application state floor. */
static void
ts_regress_taken(struct bpc_store *s, const struct bpc_durable *pw, const struct bpc_durable *v)
{
    struct bpc_durable r[3] = {*pw, *v, *v};
    r[2].max_vbal = 8;
    r[2].max_vval = ts_vid(2);
    assert_int_equal(bpc_store_append(s, r, 3), 0);
    r[0].floor = 5;
    r[1] = r[0];
    r[1].instance = 4;
    r[1].decided = 1;
    r[1].max_vbal = 8;
    r[1].max_vval = ts_vid(2);
    r[1].dec_bal = 8;
    r[1].dec_val = ts_vid(2);
    r[1].dec_keep = 300;
    assert_int_equal(bpc_store_append(s, r, 2), 0);
    assert_int_equal(bpc_store_put_app(s, 9, "app", 3), 0);
    assert_int_equal(bpc_store_sync(s), 0);
}

/* bpc_store_append refuses (-EINVAL, nothing buffered) a vote record that
 * lowers its instance's live max_vbal (to 0, to 5 with another value, as
 * a decided record once the floor passed it), one at the same max_vbal
 * with another value, either after a commit or in the same call, and an
 * apply-state record that lowers its submitter's position;
 * bpc_store_put_app refuses a lower floor. It takes the same vote, a
 * higher one, a decided record carrying the vote, and a reopen loads what
 * was written. Before (review B7's F1): "lower 0, lower 0, same ballot 0,
 * in one call 0, decided 0, applied 0, app 0". */
static void
test_store_append_refuses_vote_regress(void **state)
{
    (void)state;
    TS_SETUP(9, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable pw;
    struct bpc_durable v = ts_regress_setup(s, &pw);
    struct bpc_store_stats before;
    bpc_store_stats(s, &before);
    struct bpc_durable r[3] = {v, v, v};
    r[0].max_vbal = 0;
    memset(&r[0].max_vval, 0, sizeof(r[0].max_vval));
    int lower0 = bpc_store_append(s, r, 1);
    r[0] = v;
    r[0].max_vbal = 5;
    r[0].max_vval = ts_vid(2);
    int lower5 = bpc_store_append(s, r, 1);
    r[0] = v;
    r[0].max_vval = ts_vid(2);
    int same = bpc_store_append(s, r, 1);
    r[0] = v;
    r[0].max_vbal = 8; /* then 7 in the same call */
    int in_call = bpc_store_append(s, r, 2);
    r[0] = pw;
    r[0].floor = 5; /* the floor passes 4: a decided record without the vote */
    r[1] = r[0];
    r[1].instance = 4;
    r[1].decided = 1;
    r[1].dec_bal = 7;
    r[1].dec_val = ts_vid(1);
    r[1].dec_keep = 300;
    int decided = bpc_store_append(s, r, 2);
    r[0] = pw;
    r[0].instance = BPC_DURABLE_APPLIED_BASE + 2u;
    r[0].applied_seq = 9;
    int applied = bpc_store_append(s, r, 1);
    int app = bpc_store_put_app(s, 8, "app", 3);
    printf("  lower %d, lower %d, same ballot %d, in one call %d, decided %d, applied %d, app %d\n",
           lower0, lower5, same, in_call, decided, applied, app);
    assert_int_equal(lower0, -EINVAL);
    assert_int_equal(lower5, -EINVAL);
    assert_int_equal(same, -EINVAL);
    assert_int_equal(in_call, -EINVAL);
    assert_int_equal(decided, -EINVAL);
    assert_int_equal(applied, -EINVAL);
    assert_int_equal(app, -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats after;
    bpc_store_stats(s, &after);
    assert_int_equal(after.file_bytes, before.file_bytes); /* nothing buffered */
    ts_regress_taken(s, &pw, &v);
    uint32_t n = bpc_store_records(s, &(const struct bpc_durable *){NULL});
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_records(s, &(const struct bpc_durable *){NULL}), n);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* bpc_store_append refuses (-EINVAL, nothing buffered) a party-wide record
 * that lowers max_bal or the incarnation, after an earlier commit or in
 * the same call, and takes equal and higher ones; a reopen then loads what
 * was written. Before (review B6), appended: "lower max_bal 0, lower
 * incarnation 0, lower in one call 0". */
static void
test_store_append_refuses_party_wide_regress(void **state)
{
    (void)state;
    TS_SETUP(9, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable pw;
    memset(&pw, 0, sizeof(pw));
    pw.instance = UINT64_MAX;
    pw.max_bal = 5;
    pw.incarnation = 3;
    assert_int_equal(bpc_store_append(s, &pw, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats before;
    bpc_store_stats(s, &before);
    struct bpc_durable two[2] = {pw, pw};
    two[0].max_bal = 4;
    int lower_bal = bpc_store_append(s, two, 1);
    two[0] = pw;
    two[0].incarnation = 2;
    int lower_inc = bpc_store_append(s, two, 1);
    two[0] = pw;
    two[0].max_bal = 7; /* then 5 in the same call */
    int lower_in_call = bpc_store_append(s, two, 2);
    printf("  lower max_bal %d, lower incarnation %d, lower in one call %d\n", lower_bal, lower_inc,
           lower_in_call);
    assert_int_equal(lower_bal, -EINVAL);
    assert_int_equal(lower_inc, -EINVAL);
    assert_int_equal(lower_in_call, -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats after;
    bpc_store_stats(s, &after);
    assert_int_equal(after.file_bytes, before.file_bytes); /* nothing buffered */
    two[1].max_bal = 7;
    two[1].incarnation = 4;
    assert_int_equal(bpc_store_append(s, two, 2), 0); /* equal, then higher */
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->records, 3);
    assert_int_equal(bpc_store_info(s)->max_ballot, 7);
    two[0].max_bal = 6; /* below what the reopen loaded */
    assert_int_equal(bpc_store_append(s, two, 1), -EINVAL);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A file renumbered to end at frame 2^64 - 3, 2^64 - 2 (its checksums
 * resealed: intact) loads and takes no frame recovery would call damage:
 * an append, a value frame, an application state or a compaction needing
 * 2^64 - 1 is -EOVERFLOW with nothing buffered or written, and the file
 * still loads with all it held. Before (review B10), the writer numbered
 * a frame 2^64 - 1 and acknowledged it, and no open could load the file
 * again; a compaction renamed such an image over it. */
static void
test_store_sequence_numbers_run_out(void **state)
{
    (void)state;
    TS_FRESH(9, 0);
    struct bpc_durable b[8];
    uint32_t n = ts_commit_batch(s, 0, b);
    bpc_store_close(s);
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &len);
    uint8_t img[4096];
    assert_true(len <= sizeof(img));
    memcpy(img, f, len);
    for (uint64_t room = 0; room <= 2; room++) {
        /* Its last frame 2^64 - 2 - room: room numbers left. */
        ts_renumber(img, len, UINT64_MAX - 1u - room - (n - 1u));
        memfs_set_file(&fs, TS_PATH, img, len);
        s = NULL;
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        struct bpc_durable more[3] = {b[0], b[0], b[0]}; /* its party-wide record again */
        assert_int_equal(bpc_store_append(s, more, (uint32_t)room + 1u), -EOVERFLOW);
        assert_int_equal(bpc_store_put_app(s, 0, "x", 1), room == 0 ? -EOVERFLOW : 0);
        uint8_t bytes[100] = {0};
        struct bpc_durable_value v = {.instance = 1, .bytes = bytes};
        bpc_vid_of(&v.vid, bytes, sizeof(bytes));
        /* After the application state (room > 0), room - 1 numbers left. */
        struct bpc_durable_value vals[2] = {v, v};
        vals[1].instance = 2;
        assert_int_equal(bpc_store_append_values(s, vals, room > 0 ? (uint32_t)room : 1u),
                         -EOVERFLOW);
        assert_int_equal(bpc_store_sync(s), 0);
        assert_int_equal(bpc_store_compact(s), -EOVERFLOW);
        bpc_store_close(s);
        s = NULL;
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        assert_int_equal(bpc_store_info(s)->records, n);
        assert_int_equal(bpc_store_info(s)->app_records, room > 0 ? 1u : 0u);
        bpc_store_close(s);
        memfs_set_file(&fs, TS_PATH, img, len);
    }
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_append_refuses_vote_regress),
        cmocka_unit_test(test_store_append_refuses_party_wide_regress),
        cmocka_unit_test(test_store_append_refuses_history_regress),
        cmocka_unit_test(test_store_append_order_skips_dead_records),
        cmocka_unit_test(test_store_sequence_numbers_run_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
