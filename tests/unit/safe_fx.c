/*
 * safe_fx.c - what the value-safety tests share (safe_fx.h): values,
 * reports, clusters and views, the random stream, random senders and
 * clusters.
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

#include "safe_fx.h"

/* ------------------------------------------------------------------------
 * Helpers: values, reports, views.
 * ---------------------------------------------------------------------- */

/* Value k (0..) as an inline identity; k = 0 is "A", 1 "B", 2 "C". */
struct bpc_vid
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

struct bpc_1b_report
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

void
ts_hist(struct bpc_1b_report *r, uint64_t bal, uint32_t val)
{
    assert_true(r->hist_count < BPC_HISTORY_MAX);
    r->hist_bal[r->hist_count] = bal;
    r->hist_val[r->hist_count] = ts_val(val);
    r->hist_count++;
}

void
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

void
ts_scratch(struct bpc_safe_view *v, int mode)
{
    v->clean_w = mode >= 1 ? ts_clean_w : NULL;
    v->cands = mode >= 2 ? ts_cands : NULL;
    v->low = mode >= 2 ? ts_low : NULL;
}

struct bpc_safe_view
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
 * Random streams, senders and clusters.
 * ---------------------------------------------------------------------- */

static uint64_t
ts_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
ts_below(uint64_t *s, uint64_t n)
{
    return ts_next(s) % n;
}

uint64_t
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

void
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

void
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
