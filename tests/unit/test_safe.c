/*
 * test_safe.c - KnowsSafeAt (engine/src/safe.c): the value-safety rule of
 * BPConProof.tla over weighted 1b reports, and the leader's pick, on
 * hand-made views (test_safe_oracle.c holds the rule to a brute-force
 * oracle, test_safe_model.c runs it in random executions of the protocol;
 * safe_fx.h holds the helpers they share).
 *
 * Goal: show each clause of the rule by a hand-made view (case (a), case
 * (b) with its c, the weak quorum of 2av history, the higher ballot that
 * wins, a lying minority that cannot make an unsafe value safe).
 *
 * Method: table tests and an exhaustive liar search. Must never: read the
 * engine's state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>

#include "bpcon.h"
#include "safe.h"

#include "safe_fx.h"

/* ------------------------------------------------------------------------
 * Table tests. Cluster of four, weight 1 each: W = 4, T = 3, F = 1.
 * ---------------------------------------------------------------------- */

static const uint64_t ts_w4[4] = {1, 1, 1, 1};

/* Case (a): 1b messages with no 2b vote from a quorum make every value
 * safe, and a 2av-only history does not count as a vote. */
static void
test_safe_case_a(void **state)
{
    (void)state;
    struct ts_cluster c;
    ts_cluster_init(&c, ts_w4, 4, 0);
    assert_true(c.threshold == 3 && c.faulty == 1);
    struct bpc_vid a = ts_val(0);
    struct bpc_vid out;

    struct bpc_safe_view v = ts_view(&c, 2, 3, NULL, 0);
    assert_true(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_FREE);

    /* Two empty senders and one that sent a 2av but no 2b: still (a). */
    struct bpc_1b_report r = ts_rep(2, 0, -1);
    ts_hist(&r, 1, 1);
    v = ts_view(&c, 2, 2, &r, 1);
    assert_true(bpc_safe_weight(&v) == 3);
    assert_true(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_FREE);

    /* Below a quorum nothing is known: wait for more 1b. */
    v = ts_view(&c, 2, 2, NULL, 0);
    assert_false(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_NONE);
}

/* Case (b): at c = 1 a quorum reports maxVBal <= 1, those at 1 report A,
 * and two senders (> F) vouch for A in their 2av history. */
static void
test_safe_case_b(void **state)
{
    (void)state;
    struct ts_cluster c;
    ts_cluster_init(&c, ts_w4, 4, 0);
    struct bpc_1b_report reps[2] = {ts_rep(0, 1, 0), ts_rep(1, 1, 0)};
    ts_hist(&reps[0], 1, 0);
    ts_hist(&reps[1], 1, 0);
    struct bpc_safe_view v = ts_view(&c, 3, 1, reps, 2);
    struct bpc_vid a = ts_val(0);
    struct bpc_vid b = ts_val(1);
    assert_true(bpc_safe_at(&v, &a));
    assert_false(bpc_safe_at(&v, &b));
    struct bpc_vid out;
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_VALUE);
    assert_true(bpc_vid_eq(&out, &a));

    /* Ballot 1 has no c < b: every value is safe (case 0), with no 1b at
     * all and even with a report the codec would refuse (maxVBal 1 in a
     * 1b at ballot 1). Ballot 2 with no 1b: nothing is known safe. */
    reps[0].mbal = reps[1].mbal = 0;
    reps[0].hist_bal[0] = reps[1].hist_bal[0] = 0;
    v = ts_view(&c, 1, 1, reps, 2);
    assert_true(bpc_safe_at(&v, &a));
    reps[0].mbal = 1;
    v = ts_view(&c, 1, 1, reps, 2);
    assert_true(bpc_safe_at(&v, &a));
    assert_true(bpc_safe_at(&v, &b));
    v = ts_view(&c, 1, 0, reps, 0);
    assert_true(bpc_safe_at(&v, &b));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_FREE);
    v = ts_view(&c, 2, 0, reps, 0);
    assert_false(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_NONE);
}

/* Case (b) needs a weak quorum (> F) of 2av history: one sender's word is
 * not enough, since that sender may be the faulty one. */
static void
test_safe_weak_quorum_needed(void **state)
{
    (void)state;
    struct ts_cluster c;
    ts_cluster_init(&c, ts_w4, 4, 0);
    struct bpc_1b_report reps[2] = {ts_rep(0, 1, 0), ts_rep(1, 1, 0)};
    ts_hist(&reps[0], 1, 0); /* only sender 0 shows a 2av for A */
    struct bpc_safe_view v = ts_view(&c, 3, 1, reps, 2);
    struct bpc_vid a = ts_val(0);
    struct bpc_vid out;
    assert_false(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_NONE);

    /* A 2av below c does not vouch either: c = 2 needs entries >= 2. */
    ts_hist(&reps[1], 1, 0);
    reps[0].mbal = reps[1].mbal = 2;
    reps[0].hist_bal[0] = 2;
    v = ts_view(&c, 3, 1, reps, 2);
    assert_false(bpc_safe_at(&v, &a));
    reps[1].hist_bal[0] = 2;
    assert_true(bpc_safe_at(&v, &a));

    /* Weighted: a sender of weight 2 alone is a weak quorum when F = 1. */
    const uint64_t w[4] = {2, 1, 1, 1};
    ts_cluster_init(&c, w, 4, 0);
    assert_true(c.threshold == 4 && c.faulty == 1);
    struct bpc_1b_report heavy = ts_rep(0, 1, 0);
    ts_hist(&heavy, 1, 0);
    struct bpc_1b_report light = ts_rep(1, 1, 0);
    v = ts_view(&c, 2, 2, (struct bpc_1b_report[]){heavy, light}, 2);
    assert_true(bpc_safe_at(&v, &a));
    struct bpc_1b_report lone = ts_rep(1, 1, 0);
    ts_hist(&lone, 1, 0);
    struct bpc_1b_report mute = ts_rep(0, 1, 0);
    v = ts_view(&c, 2, 2, (struct bpc_1b_report[]){mute, lone}, 2);
    assert_false(bpc_safe_at(&v, &a));
}

/* A value voted at a higher ballot beats an older one: B at ballot 2
 * overrides A at ballot 1, whichever order the reports come in. */
static void
test_safe_higher_ballot_wins(void **state)
{
    (void)state;
    struct ts_cluster c;
    ts_cluster_init(&c, ts_w4, 4, 0);
    struct bpc_1b_report reps[3] = {ts_rep(0, 1, 0), ts_rep(1, 2, 1), ts_rep(2, 2, 1)};
    ts_hist(&reps[0], 1, 0);
    ts_hist(&reps[1], 2, 1);
    ts_hist(&reps[1], 1, 0);
    ts_hist(&reps[2], 2, 1);
    struct bpc_vid a = ts_val(0);
    struct bpc_vid b = ts_val(1);
    struct bpc_vid out;
    for (uint32_t rot = 0; rot < 3; rot++) {
        struct bpc_1b_report r[3];
        for (uint32_t k = 0; k < 3; k++) {
            r[k] = reps[(k + rot) % 3];
        }
        struct bpc_safe_view v = ts_view(&c, 4, 0, r, 3);
        assert_true(bpc_safe_at(&v, &b));
        assert_false(bpc_safe_at(&v, &a));
        assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_VALUE);
        assert_true(bpc_vid_eq(&out, &b));
    }
}

/* Honest parties 0..2 chose A at ballot 1 (2b from a quorum). Whatever a
 * single liar (weight <= F) reports, and whichever quorum of 1b the judge
 * holds, no value but A is ever safe at ballots 2..4. Exhaustive over the
 * liar's maxVBal, maxVVal and every history of up to two entries. */
static void
ts_liar_check(const struct ts_cluster *c, uint32_t liar, uint64_t b,
              const struct bpc_1b_report *honest, uint32_t honest_count,
              const struct bpc_1b_report *lie, unsigned *checked)
{
    struct bpc_1b_report reps[TS_SENDERS_MAX];
    for (uint32_t mask = 0; mask < (1u << honest_count); mask++) {
        uint32_t n = 0;
        bpc_u128 w = c->weights[liar];
        for (uint32_t k = 0; k < honest_count; k++) {
            if (mask & (1u << k)) {
                reps[n++] = honest[k];
                w += c->weights[honest[k].sender];
            }
        }
        reps[n++] = *lie;
        if (w < c->threshold) {
            continue;
        }
        struct bpc_safe_view v = ts_view(c, b, 0, reps, n);
        for (uint32_t val = 1; val < TS_VALUES; val++) {
            struct bpc_vid x = ts_val(val);
            assert_false(bpc_safe_at(&v, &x));
        }
        struct bpc_vid out;
        if (bpc_safe_pick(&v, &out) != BPC_SAFE_NONE) {
            struct bpc_vid a = ts_val(0);
            assert_true(bpc_vid_eq(&out, &a));
        }
        (*checked)++;
    }
}

static void
ts_liar_run(const uint64_t *w, uint32_t n, uint32_t liar, unsigned *checked)
{
    struct ts_cluster c;
    ts_cluster_init(&c, w, n, 0);
    assert_true(c.weights[liar] <= c.faulty);
    struct bpc_1b_report honest[TS_SENDERS_MAX];
    uint32_t hc = 0;
    for (uint32_t p = 0; p < n; p++) {
        if (p != liar) {
            honest[hc] = ts_rep(p, 1, 0);
            ts_hist(&honest[hc], 1, 0);
            hc++;
        }
    }
    for (uint64_t b = 2; b <= 4; b++) {
        for (uint64_t mbal = 0; mbal < b; mbal++) {
            for (uint32_t mval = 0; mval < TS_VALUES; mval++) {
                /* hist: none, one entry, or two entries, each (value, ballot). */
                for (uint32_t h = 0; h < 1 + TS_VALUES * 4 * (1 + TS_VALUES * 4); h++) {
                    struct bpc_1b_report lie = ts_rep(liar, mbal, (int)mval);
                    if (h > 0) {
                        uint32_t e0 = (h - 1) % (TS_VALUES * 4);
                        uint32_t e1 = (h - 1) / (TS_VALUES * 4);
                        ts_hist(&lie, 1 + (e0 / TS_VALUES) % b, e0 % TS_VALUES);
                        if (e1 > 0) {
                            ts_hist(&lie, 1 + ((e1 - 1) / TS_VALUES) % b, (e1 - 1) % TS_VALUES);
                        }
                    }
                    ts_liar_check(&c, liar, b, honest, hc, &lie, checked);
                }
            }
        }
    }
}

static void
test_safe_lying_minority(void **state)
{
    (void)state;
    unsigned checked = 0;
    ts_liar_run(ts_w4, 4, 3, &checked);
    ts_liar_run(ts_w4, 4, 0, &checked);
    const uint64_t w5[5] = {2, 1, 1, 1, 2}; /* W = 7, T = 5, F = 2 */
    ts_liar_run(w5, 5, 0, &checked);
    ts_liar_run(w5, 5, 2, &checked);
    printf("  %u liar views checked\n", checked);
    assert_true(checked > 1000);

    /* And the concrete lie: sender 3 claims a 2b for B at ballot 2. The
     * honest reports of A at ballot 1 then prove nothing (a liveness loss),
     * but B never becomes safe either. */
    struct ts_cluster c;
    ts_cluster_init(&c, ts_w4, 4, 0);
    struct bpc_1b_report reps[3] = {ts_rep(1, 1, 0), ts_rep(2, 1, 0), ts_rep(3, 2, 1)};
    ts_hist(&reps[0], 1, 0);
    ts_hist(&reps[1], 1, 0);
    ts_hist(&reps[2], 2, 1);
    struct bpc_safe_view v = ts_view(&c, 3, 0, reps, 3);
    struct bpc_vid a = ts_val(0);
    struct bpc_vid b = ts_val(1);
    struct bpc_vid out;
    assert_false(bpc_safe_at(&v, &b));
    assert_false(bpc_safe_at(&v, &a));
    assert_int_equal(bpc_safe_pick(&v, &out), BPC_SAFE_NONE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safe_case_a),
        cmocka_unit_test(test_safe_case_b),
        cmocka_unit_test(test_safe_weak_quorum_needed),
        cmocka_unit_test(test_safe_higher_ballot_wins),
        cmocka_unit_test(test_safe_lying_minority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
