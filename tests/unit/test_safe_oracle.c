/*
 * test_safe_oracle.c - KnowsSafeAt (engine/src/safe.c) against the TLA
 * text: the optimised search over c agrees with the definition on random
 * views (safe_fx.h holds the helpers shared with test_safe.c and
 * test_safe_model.c).
 *
 * Goal: show that every way the rule is evaluated (sorted, value by value,
 * every candidate ballot) agrees with the definition on random small
 * views, and that the engine's pick agrees with the reference on views too
 * large for the oracle.
 *
 * Method: a property test against a brute-force oracle that enumerates
 * every sender subset and every c in 1..b-1 exactly as the TLA text reads,
 * and random views of up to 200 senders judged both ways. Random streams
 * are splitmix64 from a printed seed (BPC_TEST_SEED replays one). Must
 * never: read the engine's state or rely on safe.c's own shortcuts in the
 * oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bpcon.h"
#include "safe.h"

#include "safe_fx.h"

/* ------------------------------------------------------------------------
 * The oracle: KnowsSafeAt read straight from BPConProof.tla, with ballot 0
 * standing for the TLA's -1 ("no 2b"). A sender is absent, or sent one 1b
 * (mbal, mval, m2av). Quorums are found by enumerating sender subsets.
 * ---------------------------------------------------------------------- */

/* \E Q \subseteq present senders, weight(Q) >= need (or > need when
 * strict) : \A a \in Q : ok[a]. Enumerates every subset on purpose. */
static bool
ts_oracle_quorum(const struct ts_cluster *c, const struct ts_sender *s, const bool *ok,
                 bpc_u128 need, bool strict)
{
    for (uint32_t mask = 1; mask < (1u << c->n); mask++) {
        bpc_u128 w = 0;
        bool all = true;
        for (uint32_t a = 0; a < c->n && all; a++) {
            if (mask & (1u << a)) {
                all = s[a].present && ok[a];
                w += c->weights[a];
            }
        }
        if (all && (strict ? w > need : w >= need)) {
            return true;
        }
    }
    return false;
}

static bool
ts_oracle_safe_at(const struct ts_cluster *c, const struct ts_sender *s, uint64_t b,
                  const struct bpc_vid *v)
{
    bool ok[TS_SENDERS_MAX];
    for (uint32_t a = 0; a < c->n; a++) {
        ok[a] = s[a].mbal == 0; /* m.mbal = -1 */
    }
    if (ts_oracle_quorum(c, s, ok, c->threshold, false)) {
        return true;
    }
    for (uint64_t cb = 1; cb < b; cb++) {
        bool low[TS_SENDERS_MAX];
        bool vouch[TS_SENDERS_MAX];
        for (uint32_t a = 0; a < c->n; a++) {
            low[a] = s[a].mbal <= cb && (s[a].mbal != cb || bpc_vid_eq(&s[a].mval, v));
            vouch[a] = false;
            for (uint32_t h = 0; h < s[a].hist_count; h++) {
                vouch[a] = vouch[a] || (s[a].hist_bal[h] >= cb && bpc_vid_eq(&s[a].hist_val[h], v));
            }
        }
        if (ts_oracle_quorum(c, s, low, c->threshold, false) &&
            ts_oracle_quorum(c, s, vouch, c->faulty, true)) {
            return true;
        }
    }
    return false;
}

/* Packs senders as the engine does: fully empty ones into empty_weight
 * (or, at random, as explicit reports), the rest as reports in a random
 * order. */
static struct bpc_safe_view
ts_pack(const struct ts_cluster *c, const struct ts_sender *s, uint64_t b, uint64_t *rng,
        struct bpc_1b_report *reps)
{
    bpc_u128 empty = 0;
    uint32_t count = 0;
    for (uint32_t a = 0; a < c->n; a++) {
        if (!s[a].present) {
            continue;
        }
        if (s[a].mbal == 0 && s[a].hist_count == 0 && ts_below(rng, 2) == 0) {
            empty += c->weights[a];
            continue;
        }
        struct bpc_1b_report *r = &reps[count++];
        memset(r, 0, sizeof(*r));
        r->sender = a;
        r->mbal = s[a].mbal;
        r->mval = s[a].mval;
        r->hist_count = (uint8_t)s[a].hist_count;
        memcpy(r->hist_bal, s[a].hist_bal, sizeof(r->hist_bal));
        memcpy(r->hist_val, s[a].hist_val, sizeof(r->hist_val));
    }
    for (uint32_t k = count; k > 1; k--) {
        uint32_t j = (uint32_t)ts_below(rng, k);
        struct bpc_1b_report t = reps[k - 1];
        reps[k - 1] = reps[j];
        reps[j] = t;
    }
    return ts_view(c, b, empty, reps, count);
}

static void
test_safe_oracle_property(void **state)
{
    (void)state;
    uint64_t seed = ts_seed(0x7361666561742d31ull, "oracle");
    uint64_t rng = seed;
    unsigned compared = 0;
    unsigned safe_count = 0;
    for (unsigned round = 0; round < 4000; round++) {
        struct ts_cluster c;
        ts_random_cluster(&rng, &c);
        uint64_t b = 2 + ts_below(&rng, 7);
        struct ts_sender s[TS_SENDERS_MAX];
        for (uint32_t a = 0; a < c.n; a++) {
            ts_random_sender(&rng, b, &s[a]);
        }
        struct bpc_1b_report reps[TS_SENDERS_MAX];
        struct bpc_safe_view v = ts_pack(&c, s, b, &rng, reps);
        /* Each view judged with each amount of scratch room: the engine's
         * (every reported value judged at once, case (b) at the top
         * ballot), value by value, and every candidate ballot tried. */
        for (int mode = 0; mode <= 2; mode++) {
            ts_scratch(&v, mode);
            bool any = false;
            for (uint32_t val = 0; val <= TS_VALUES; val++) {
                struct bpc_vid x = ts_val(val); /* val 3 is never reported */
                bool want = ts_oracle_safe_at(&c, s, b, &x);
                bool got = bpc_safe_at(&v, &x);
                if (got != want) {
                    print_error("seed 0x%016" PRIx64 " round %u mode %d value %u: safe_at %d, "
                                "oracle %d\n",
                                seed, round, mode, val, got, want);
                }
                assert_int_equal(got, want);
                assert_int_equal(bpc_safe_vouched(&v, &x), bpc_safe_vouched_ref(&v, &x));
                any = any || want;
                safe_count += want;
                compared++;
            }
            /* The pick: FREE iff case (a), a VALUE only if safe, NONE only
             * if no value is safe. */
            struct bpc_vid out;
            struct bpc_vid fresh = ts_val(TS_VALUES);
            enum bpc_safe_pick pick = bpc_safe_pick(&v, &out);
            bool free_ok = ts_oracle_safe_at(&c, s, b, &fresh);
            assert_int_equal(pick == BPC_SAFE_FREE, free_ok);
            if (pick == BPC_SAFE_VALUE) {
                assert_true(ts_oracle_safe_at(&c, s, b, &out));
            }
            assert_int_equal(pick == BPC_SAFE_NONE, !any);
        }
    }
    printf("  %u comparisons, %u safe\n", compared, safe_count);
    assert_true(safe_count > compared / 20);
    assert_true(safe_count < compared - compared / 20);
}

/* Goal: on views too large for the oracle (up to 200 senders, random
 * weights, a Byzantine-looking share of reports naming junk values at
 * random ballots, duplicates inside a history), the engine's pick (every
 * reported value judged at once) agrees with judging value by value and
 * trying every candidate ballot: FREE alike, NONE alike, and a VALUE
 * only where that value is safe by the reference. Also the single-value
 * rule against its reference for each reported value. */
#define TS_BIG 200u
static uint64_t ts_big_w[TS_BIG];
static struct bpc_1b_report ts_big_reps[TS_BIG];

/* A random view of up to TS_BIG senders into ts_big_w and ts_big_reps
 * (no scratch room: the reference). */
static struct bpc_safe_view
ts_big_view(uint64_t *rng)
{
    uint32_t n = 4 + (uint32_t)ts_below(rng, TS_BIG - 3);
    bpc_u128 total = 0;
    for (uint32_t a = 0; a < n; a++) {
        ts_big_w[a] = ts_below(rng, 4) == 0 ? 1 + ts_below(rng, 1000) : 1;
        total += ts_big_w[a];
    }
    uint64_t b = 2 + ts_below(rng, 40);
    uint32_t vals = 1 + (uint32_t)ts_below(rng, 6); /* correct parties' values */
    uint32_t junk = (uint32_t)ts_below(rng, 3 * n);
    bool agreed = ts_below(rng, 2) == 0;
    uint64_t c0 = 1 + ts_below(rng, b - 1);
    bpc_u128 empty = 0;
    uint32_t count = 0;
    for (uint32_t a = 0; a < n; a++) {
        if (ts_below(rng, 6) == 0) {
            continue; /* no 1b from a */
        }
        if (ts_below(rng, 5) == 0) {
            empty += ts_big_w[a];
            continue;
        }
        struct bpc_1b_report *r = &ts_big_reps[count++];
        memset(r, 0, sizeof(*r));
        r->sender = a;
        bool liar = ts_below(rng, 4) == 0;
        uint32_t pool = liar ? vals + junk + 1 : vals;
        if (agreed && !liar) { /* as after a ballot c0 where most voted v0 */
            r->mbal = c0;
            r->mval = ts_val(0);
            r->hist_count = 1;
            r->hist_bal[0] = c0;
            r->hist_val[0] = ts_val(0);
            continue;
        }
        if (ts_below(rng, 3) != 0) {
            r->mbal = 1 + ts_below(rng, b - 1);
            r->mval = ts_val((uint32_t)ts_below(rng, pool));
        }
        r->hist_count = (uint8_t)ts_below(rng, BPC_HISTORY_MAX + 1);
        for (uint32_t h = 0; h < r->hist_count; h++) {
            r->hist_bal[h] = 1 + ts_below(rng, liar ? 2 * b : b - 1);
            r->hist_val[h] = ts_val((uint32_t)ts_below(rng, pool));
        }
    }
    struct bpc_safe_view v;
    memset(&v, 0, sizeof(v));
    v.empty_weight = empty;
    v.reps = ts_big_reps;
    v.reps_count = count;
    v.weights = ts_big_w;
    v.threshold = bpc_threshold_default(total);
    v.faulty = bpc_faulty_weight(total, v.threshold);
    v.ballot = b;
    return v;
}

static void
test_safe_pick_sorted_agrees(void **state)
{
    (void)state;
    uint64_t seed = ts_seed(0x7069636b2d626967ull, "pick-big");
    uint64_t rng = seed;
    static struct bpc_ballot_w cw[TS_BIG];
    static struct bpc_safe_cand cands[TS_BIG * BPC_HISTORY_MAX];
    static struct bpc_safe_low low[TS_BIG + 1];
    unsigned values = 0;
    unsigned picked = 0;
    for (unsigned round = 0; round < 200; round++) {
        struct bpc_safe_view v = ts_big_view(&rng);
        struct bpc_vid ref_out;
        enum bpc_safe_pick ref = bpc_safe_pick(&v, &ref_out); /* no scratch: the reference */
        v.clean_w = cw;
        v.cands = cands;
        v.low = low;
        struct bpc_vid out;
        enum bpc_safe_pick got = bpc_safe_pick(&v, &out);
        if (got != ref) {
            print_error("seed 0x%016" PRIx64 " round %u: pick %d, reference %d\n", seed, round, got,
                        ref);
        }
        assert_int_equal(got, ref);
        if (got == BPC_SAFE_VALUE) {
            struct bpc_safe_view r0 = v;
            ts_scratch(&r0, 0);
            assert_true(bpc_safe_vouched_ref(&r0, &out));
            picked++;
        }
        for (uint32_t k = 0; k < v.reps_count; k++) {
            for (uint32_t h = 0; h < v.reps[k].hist_count; h++) {
                assert_int_equal(bpc_safe_vouched(&v, &v.reps[k].hist_val[h]),
                                 bpc_safe_vouched_ref(&v, &v.reps[k].hist_val[h]));
                values++;
            }
        }
    }
    printf("  %u values judged, %u picks of a value\n", values, picked);
    assert_true(picked > 40);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safe_oracle_property),
        cmocka_unit_test(test_safe_pick_sorted_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
