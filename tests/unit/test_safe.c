/*
 * test_safe.c - KnowsSafeAt (engine/src/safe.c): the value-safety rule of
 * BPConProof.tla over weighted 1b reports, and the leader's pick.
 *
 * Goal: show each clause of the rule by a hand-made view (case (a), case
 * (b) with its c, the weak quorum of 2av history, the higher ballot that
 * wins, a lying minority that cannot make an unsafe value safe), show the
 * optimised search over c agrees with the definition on random views, and
 * show that the rule, used by correct acceptors, keeps a whole protocol run
 * safe against Byzantine leaders and liars.
 *
 * Method: table tests; a property test against a brute-force oracle that
 * enumerates every sender subset and every c in 1..b-1 exactly as the TLA
 * text reads; an exhaustive liar search; and random executions of an
 * abstract BPCon model (no engine, no wire) whose acceptors call
 * bpc_safe_at. Random streams are splitmix64 from a printed seed
 * (BPC_TEST_SEED replays one). Must never: read the engine's state or
 * rely on safe.c's own shortcuts in the oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "safe.h"

#define TS_SENDERS_MAX 8u
#define TS_VALUES 3u

/* ------------------------------------------------------------------------
 * Helpers: values, reports, views.
 * ---------------------------------------------------------------------- */

/* Value k (0..) as an inline identity; k = 0 is "A", 1 "B", 2 "C". */
static struct bpc_vid
ts_val(uint32_t k)
{
    uint8_t bytes[16];
    memset(bytes, 0, sizeof(bytes));
    bytes[0] = (uint8_t)('A' + k);
    bytes[15] = (uint8_t)k;
    struct bpc_vid v;
    bpc_vid_of(&v, bytes, sizeof(bytes));
    return v;
}

static struct bpc_1b_report
ts_rep(uint32_t sender, uint64_t mbal, int mval)
{
    struct bpc_1b_report r;
    memset(&r, 0, sizeof(r));
    r.sender = sender;
    r.mbal = mbal;
    if (mval >= 0) {
        r.mval = ts_val((uint32_t)mval);
    }
    return r;
}

static void
ts_hist(struct bpc_1b_report *r, uint64_t bal, uint32_t val)
{
    assert_true(r->hist_count < BPC_HISTORY_MAX);
    r->hist_bal[r->hist_count] = bal;
    r->hist_val[r->hist_count] = ts_val(val);
    r->hist_count++;
}

struct ts_cluster {
    uint64_t weights[TS_SENDERS_MAX];
    uint32_t n;
    bpc_u128 total;
    bpc_u128 threshold;
    bpc_u128 faulty;
};

static void
ts_cluster_init(struct ts_cluster *c, const uint64_t *w, uint32_t n, bpc_u128 threshold)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    for (uint32_t i = 0; i < n; i++) {
        c->weights[i] = w[i];
        c->total += w[i];
    }
    c->threshold = threshold != 0 ? threshold : bpc_threshold_default(c->total);
    c->faulty = bpc_faulty_weight(c->total, c->threshold);
}

/* The scratch room views get (ts_view): 2, all of it, as the engine's;
 * 1, clean_w only (bpc_safe_pick judges value by value); 0, none (case
 * (b) tries every candidate ballot, the reference). */
static int ts_scratch_mode = 2;
static struct bpc_ballot_w ts_clean_w[TS_SENDERS_MAX];
static struct bpc_safe_cand ts_cands[TS_SENDERS_MAX * BPC_HISTORY_MAX];
static struct bpc_safe_low ts_low[TS_SENDERS_MAX + 1];

static void
ts_scratch(struct bpc_safe_view *v, int mode)
{
    v->clean_w = mode >= 1 ? ts_clean_w : NULL;
    v->cands = mode >= 2 ? ts_cands : NULL;
    v->low = mode >= 2 ? ts_low : NULL;
}

static struct bpc_safe_view
ts_view(const struct ts_cluster *c, uint64_t ballot, bpc_u128 empty,
        const struct bpc_1b_report *reps, uint32_t count)
{
    struct bpc_safe_view v;
    memset(&v, 0, sizeof(v));
    ts_scratch(&v, ts_scratch_mode);
    v.empty_weight = empty;
    v.reps = reps;
    v.reps_count = count;
    v.weights = c->weights;
    v.threshold = c->threshold;
    v.faulty = c->faulty;
    v.ballot = ballot;
    return v;
}

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

/* ------------------------------------------------------------------------
 * Random streams.
 * ---------------------------------------------------------------------- */

static uint64_t
ts_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
ts_below(uint64_t *s, uint64_t n)
{
    return ts_next(s) % n;
}

static uint64_t
ts_seed(uint64_t fallback, const char *what)
{
    uint64_t seed = fallback;
    const char *env = getenv("BPC_TEST_SEED");
    if (env != NULL) {
        seed = strtoull(env, NULL, 0);
    }
    printf("  %s seed: BPC_TEST_SEED=0x%016" PRIx64 "\n", what, seed);
    return seed;
}

/* ------------------------------------------------------------------------
 * The oracle: KnowsSafeAt read straight from BPConProof.tla, with ballot 0
 * standing for the TLA's -1 ("no 2b"). A sender is absent, or sent one 1b
 * (mbal, mval, m2av). Quorums are found by enumerating sender subsets.
 * ---------------------------------------------------------------------- */

struct ts_sender {
    bool present;
    uint64_t mbal;
    struct bpc_vid mval;
    uint32_t hist_count;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
};

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
ts_random_sender(uint64_t *rng, uint64_t b, struct ts_sender *s)
{
    memset(s, 0, sizeof(*s));
    s->present = ts_below(rng, 5) != 0;
    if (!s->present || ts_below(rng, 4) == 0) {
        return; /* absent, or an empty 1b */
    }
    s->mbal = ts_below(rng, 2) == 0 ? 0 : 1 + ts_below(rng, b - 1);
    if (s->mbal > 0) {
        s->mval = ts_val((uint32_t)ts_below(rng, TS_VALUES));
    }
    s->hist_count = (uint32_t)ts_below(rng, TS_VALUES + 1);
    for (uint32_t h = 0; h < s->hist_count; h++) {
        s->hist_bal[h] = 1 + ts_below(rng, b - 1);
        /* Mostly one entry per value (as the engine keeps it), sometimes
         * a Byzantine duplicate. */
        uint32_t val = ts_below(rng, 8) == 0 ? (uint32_t)ts_below(rng, TS_VALUES) : h;
        s->hist_val[h] = ts_val(val);
    }
    /* Usually consistent: the 2b value was voted by 2av at mbal. */
    if (s->mbal > 0 && ts_below(rng, 3) != 0 && s->hist_count < BPC_HISTORY_MAX) {
        s->hist_bal[s->hist_count] = s->mbal;
        s->hist_val[s->hist_count] = s->mval;
        s->hist_count++;
    }
}

static void
ts_random_cluster(uint64_t *rng, struct ts_cluster *c)
{
    uint64_t w[TS_SENDERS_MAX];
    uint32_t n = 4 + (uint32_t)ts_below(rng, 4);
    bpc_u128 total = 0;
    for (uint32_t a = 0; a < n; a++) {
        w[a] = 1 + ts_below(rng, 5);
        total += w[a];
    }
    /* Default threshold, or any legal one in (W/2, W]. */
    bpc_u128 t = 0;
    if (ts_below(rng, 3) == 0) {
        uint64_t lo = (uint64_t)(total / 2) + 1;
        t = lo + ts_below(rng, (uint64_t)total - lo + 1);
    }
    ts_cluster_init(c, w, n, t);
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

/* ------------------------------------------------------------------------
 * Model-level safety: random executions of abstract BPCon. Correct
 * acceptors follow the protocol (docs/ENGINE.md) and judge 2a values with
 * bpc_safe_at over the 1b messages they learned; faulty parties (weight
 * <= F) lead with any value, send any 2av/2b, and tell each judge a
 * different 1b. Checked: no two values are ever chosen.
 * ---------------------------------------------------------------------- */

#define TM_PARTIES_MAX 7u
#define TM_BALLOTS 7u
/* Enough runs that weakening the rule (F = 0, or T - 1) is caught for
 * most seeds; about 0.3 s. */
#define TM_RUNS 5000u

struct tm_acc {
    uint64_t max_bal;
    uint64_t max_vbal;
    int max_vval;             /* -1 none */
    uint64_t hist[TS_VALUES]; /* highest ballot of a 2av per value, 0 none */
    uint64_t sent_2av_bal;    /* highest ballot of any 2av */
};

struct tm_world {
    struct ts_cluster c;
    bool faulty[TM_PARTIES_MAX];
    struct tm_acc acc[TM_PARTIES_MAX];
    /* Honest 1b(b) as sent (a snapshot), sent[b][a]. */
    bool sent_1b[TM_BALLOTS + 1][TM_PARTIES_MAX];
    struct tm_acc snap_1b[TM_BALLOTS + 1][TM_PARTIES_MAX];
    bool has_2a[TM_BALLOTS + 1][TS_VALUES]; /* 2a values at b (a faulty leader sends several) */
    bool sent_2av[TM_BALLOTS + 1][TM_PARTIES_MAX][TS_VALUES];
    bool sent_2b[TM_BALLOTS + 1][TM_PARTIES_MAX][TS_VALUES];
    uint64_t cur; /* the ballot most actions use */
    int chosen;   /* -1 none */
    unsigned votes;
};

static struct bpc_1b_report
tm_report(uint32_t a, const struct tm_acc *st)
{
    struct bpc_1b_report r = ts_rep(a, st->max_vbal, st->max_vval);
    for (uint32_t v = 0; v < TS_VALUES; v++) {
        if (st->hist[v] > 0) {
            ts_hist(&r, st->hist[v], v);
        }
    }
    return r;
}

/* The view judge j holds for ballot b: a random subset of honest 1b(b)
 * and a made-up 1b from each faulty party (or none). */
static struct bpc_safe_view
tm_view(struct tm_world *w, uint64_t *rng, uint64_t b, struct bpc_1b_report *reps)
{
    uint32_t count = 0;
    bpc_u128 empty = 0;
    for (uint32_t a = 0; a < w->c.n; a++) {
        if (w->faulty[a]) {
            if (ts_below(rng, 3) == 0) {
                continue;
            }
            struct ts_sender s;
            memset(&s, 0, sizeof(s));
            if (b > 1) {
                ts_random_sender(rng, b, &s); /* ballots in a 1b stay below b */
            }
            struct bpc_1b_report *r = &reps[count++];
            *r = ts_rep(a, s.mbal, s.mbal > 0 ? (int)ts_below(rng, TS_VALUES) : -1);
            r->hist_count = (uint8_t)s.hist_count;
            memcpy(r->hist_bal, s.hist_bal, sizeof(r->hist_bal));
            memcpy(r->hist_val, s.hist_val, sizeof(r->hist_val));
            continue;
        }
        if (!w->sent_1b[b][a] || ts_below(rng, 4) == 0) {
            continue;
        }
        struct bpc_1b_report r = tm_report(a, &w->snap_1b[b][a]);
        if (r.mbal == 0 && r.hist_count == 0) {
            empty += w->c.weights[a];
        } else {
            reps[count++] = r;
        }
    }
    return ts_view(&w->c, b, empty, reps, count);
}

static bpc_u128
tm_weight_2(const struct tm_world *w, bool (*sent)[TM_PARTIES_MAX][TS_VALUES], uint64_t b,
            uint32_t v)
{
    bpc_u128 sum = 0;
    for (uint32_t a = 0; a < w->c.n; a++) {
        if (w->faulty[a] || sent[b][a][v]) {
            sum += w->c.weights[a]; /* a faulty party votes whatever helps */
        }
    }
    return sum;
}

static void
tm_leader_2a(struct tm_world *w, uint64_t *rng, uint64_t b, uint32_t v)
{
    if (ts_below(rng, 2) == 0) {
        w->has_2a[b][v] = true;
        return;
    }
    struct bpc_1b_report reps[TM_PARTIES_MAX];
    struct bpc_safe_view view = tm_view(w, rng, b, reps);
    struct bpc_vid out;
    switch (bpc_safe_pick(&view, &out)) {
    case BPC_SAFE_FREE:
        w->has_2a[b][v] = true;
        break;
    case BPC_SAFE_VALUE:
        for (uint32_t k = 0; k < TS_VALUES; k++) {
            struct bpc_vid x = ts_val(k);
            w->has_2a[b][k] = w->has_2a[b][k] || bpc_vid_eq(&out, &x);
        }
        break;
    case BPC_SAFE_NONE:
        break;
    }
}

static void
tm_step(struct tm_world *w, uint64_t *rng)
{
    uint32_t a = (uint32_t)ts_below(rng, w->c.n);
    if (w->cur < TM_BALLOTS && ts_below(rng, 40) == 0) {
        w->cur++; /* most actions are at the ballot in progress */
    }
    uint64_t b = ts_below(rng, 4) != 0 ? w->cur : 1 + ts_below(rng, TM_BALLOTS);
    uint32_t v = (uint32_t)ts_below(rng, TS_VALUES);
    struct tm_acc *st = &w->acc[a];
    switch (ts_below(rng, 4)) {
    case 0: /* the leader of b sends 2a: a correct one picks a safe value,
               a faulty one any value, sometimes several */
        if (!w->has_2a[b][0] && !w->has_2a[b][1] && !w->has_2a[b][2]) {
            tm_leader_2a(w, rng, b, v);
        } else if (ts_below(rng, 3) == 0) {
            w->has_2a[b][v] = true;
        }
        break;
    case 1: /* 1b */
        if (!w->faulty[a] && b > st->max_bal) {
            st->max_bal = b;
            w->sent_1b[b][a] = true;
            w->snap_1b[b][a] = *st;
        }
        break;
    case 2: { /* 2av for a 2a value that is safe by the judge's view */
        if (w->faulty[a] || !w->has_2a[b][v] || st->max_bal > b || st->sent_2av_bal >= b) {
            break;
        }
        struct bpc_1b_report reps[TM_PARTIES_MAX];
        struct bpc_safe_view view = tm_view(w, rng, b, reps);
        struct bpc_vid x = ts_val(v);
        if (bpc_safe_at(&view, &x)) {
            st->max_bal = b;
            st->sent_2av_bal = b;
            st->hist[v] = b;
            w->sent_2av[b][a][v] = true;
            w->votes++;
        }
        break;
    }
    default: /* 2b on a quorum of 2av */
        if (!w->faulty[a] && st->max_bal <= b && st->max_vbal < b &&
            tm_weight_2(w, w->sent_2av, b, v) >= w->c.threshold) {
            st->max_bal = b;
            st->max_vbal = b;
            st->max_vval = (int)v;
            w->sent_2b[b][a][v] = true;
        }
        break;
    }
}

static void
tm_check_chosen(struct tm_world *w, uint64_t seed, unsigned run)
{
    for (uint64_t b = 1; b <= TM_BALLOTS; b++) {
        for (uint32_t v = 0; v < TS_VALUES; v++) {
            /* Chosen: honest 2b weight plus all faulty weight reaches T. */
            if (tm_weight_2(w, w->sent_2b, b, v) < w->c.threshold) {
                continue;
            }
            bool honest = false;
            for (uint32_t a = 0; a < w->c.n; a++) {
                honest = honest || w->sent_2b[b][a][v];
            }
            if (!honest) {
                continue; /* faulty weight alone never reaches T */
            }
            if (w->chosen >= 0 && w->chosen != (int)v) {
                print_error("seed 0x%016" PRIx64 " run %u: %d and %u both chosen\n", seed, run,
                            w->chosen, v);
            }
            assert_true(w->chosen < 0 || w->chosen == (int)v);
            w->chosen = (int)v;
        }
    }
}

static void
tm_world_init(struct tm_world *w, uint64_t *rng)
{
    memset(w, 0, sizeof(*w));
    ts_random_cluster(rng, &w->c);
    if (w->c.n > TM_PARTIES_MAX) {
        w->c.n = TM_PARTIES_MAX;
    }
    uint64_t weights[TS_SENDERS_MAX];
    memcpy(weights, w->c.weights, sizeof(weights));
    ts_cluster_init(&w->c, weights, w->c.n, 0);
    /* Mark parties faulty while their total stays within F. */
    bpc_u128 bad = 0;
    for (uint32_t k = 0; k < w->c.n && ts_below(rng, 4) != 0; k++) {
        uint32_t a = (uint32_t)ts_below(rng, w->c.n);
        if (!w->faulty[a] && bad + w->c.weights[a] <= w->c.faulty) {
            w->faulty[a] = true;
            bad += w->c.weights[a];
        }
    }
    for (uint32_t a = 0; a < w->c.n; a++) {
        w->acc[a].max_vval = -1;
    }
    w->chosen = -1;
    w->cur = 1;
}

static void
test_safe_model_executions(void **state)
{
    (void)state;
    uint64_t seed = ts_seed(0x7361666561742d32ull, "model");
    uint64_t rng = seed;
    static struct tm_world w;
    unsigned chosen_runs = 0;
    unsigned votes = 0;
    unsigned faulty_runs = 0;
    for (unsigned run = 0; run < TM_RUNS; run++) {
        tm_world_init(&w, &rng);
        for (unsigned k = 0; k < 400; k++) {
            tm_step(&w, &rng);
            if (k % 8 == 7) {
                tm_check_chosen(&w, seed, run);
            }
        }
        tm_check_chosen(&w, seed, run);
        chosen_runs += w.chosen >= 0;
        votes += w.votes;
        for (uint32_t a = 0; a < w.c.n; a++) {
            if (w.faulty[a]) {
                faulty_runs++;
                break;
            }
        }
    }
    printf("  %u runs: %u chose a value, %u had faulty parties, %u 2av votes\n", TM_RUNS,
           chosen_runs, faulty_runs, votes);
    /* The model must exercise the rule, not starve. */
    assert_true(chosen_runs > TM_RUNS / 5);
    assert_true(faulty_runs > TM_RUNS / 5);
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
        cmocka_unit_test(test_safe_oracle_property),
        cmocka_unit_test(test_safe_pick_sorted_agrees),
        cmocka_unit_test(test_safe_model_executions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
