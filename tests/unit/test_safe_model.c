/*
 * test_safe_model.c - KnowsSafeAt (engine/src/safe.c) used by correct
 * acceptors keeps a whole protocol run safe against Byzantine leaders and
 * liars (safe_fx.h holds the helpers shared with test_safe.c and
 * test_safe_oracle.c).
 *
 * Goal: show that no two values are ever chosen in random executions of
 * an abstract BPCon model whose acceptors call bpc_safe_at.
 *
 * Method: random executions of the model (no engine, no wire). Random
 * streams are splitmix64 from a printed seed (BPC_TEST_SEED replays one).
 * Must never: read the engine's state.
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
        cmocka_unit_test(test_safe_model_executions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
