/*
 * safe_fx.h - what the value-safety tests share (test_safe.c,
 * test_safe_oracle.c, test_safe_model.c): values, 1b reports and their
 * histories, weighted clusters, views over the shared scratch room, the
 * splitmix64 stream with its printed seed, and random senders and
 * clusters. Must never: read the engine's state or call safe.c beyond
 * building a view.
 */
#ifndef BPC_TEST_SAFE_FX_H
#define BPC_TEST_SAFE_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "bpcon.h"
#include "safe.h"

#define TS_SENDERS_MAX 8u
#define TS_VALUES 3u

struct ts_cluster {
    uint64_t weights[TS_SENDERS_MAX];
    uint32_t n;
    bpc_u128 total;
    bpc_u128 threshold;
    bpc_u128 faulty;
};

/* A sender as the oracle sees it: absent, or one 1b (mbal, mval, m2av),
 * with ballot 0 standing for the TLA's -1 ("no 2b"). */
struct ts_sender {
    bool present;
    uint64_t mbal;
    struct bpc_vid mval;
    uint32_t hist_count;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
};

/* Value k (0..) as an inline identity; k = 0 is "A", 1 "B", 2 "C". */
struct bpc_vid ts_val(uint32_t k);
/* A 1b report from sender with maxVBal mbal and maxVVal mval (-1 none). */
struct bpc_1b_report ts_rep(uint32_t sender, uint64_t mbal, int mval);
/* Appends (bal, value val) to r's 2av history. */
void ts_hist(struct bpc_1b_report *r, uint64_t bal, uint32_t val);
/* Weights w[0..n-1]; threshold 0 means the default one. */
void ts_cluster_init(struct ts_cluster *c, const uint64_t *w, uint32_t n, bpc_u128 threshold);

/* The scratch room a view gets: 2, all of it, as the engine's; 1,
 * clean_w only (bpc_safe_pick judges value by value); 0, none (case (b)
 * tries every candidate ballot, the reference). */
void ts_scratch(struct bpc_safe_view *v, int mode);
/* A view of c at ballot with all the scratch room. */
struct bpc_safe_view ts_view(const struct ts_cluster *c, uint64_t ballot, bpc_u128 empty,
                             const struct bpc_1b_report *reps, uint32_t count);

/* Random streams: splitmix64. A value below n. */
uint64_t ts_below(uint64_t *s, uint64_t n);
/* fallback, or BPC_TEST_SEED when set; printed with what. */
uint64_t ts_seed(uint64_t fallback, const char *what);
/* A random sender for ballot b (ballots in its 1b stay below b). */
void ts_random_sender(uint64_t *rng, uint64_t b, struct ts_sender *s);
/* A random cluster of 4..7 parties of weights 1..5. */
void ts_random_cluster(uint64_t *rng, struct ts_cluster *c);

#endif
