/*
 * safe.h - KnowsSafeAt (BPConProof.tla) as a pure function over the 1b
 * reports a party received for one instance and ballot.
 *
 * Owns: the value-safety rule. Must never: read engine state, allocate, or
 * trust a single report (every conclusion is a weighted quorum).
 */
#ifndef BPC_SAFE_H
#define BPC_SAFE_H

#include "bpcon.h"

/* A ballot and the weight of the party at it (or claiming it). */
struct bpc_ballot_w {
    uint64_t ballot;
    uint64_t weight;
};

/* The highest ballot c such that the entries at c or above weigh more
 * than F: at least one correct party is at (or truly claims) c. 0 when
 * there is none. Sorts a[0, count), highest first. */
uint64_t bpc_safe_top_ballot(struct bpc_ballot_w *a, uint32_t count, bpc_u128 faulty);

/* One non-empty 1b report (a sender that voted 2av or 2b before b). */
struct bpc_1b_report {
    uint32_t sender;
    uint64_t mbal;       /* maxVBal, 0 = never sent 2b */
    struct bpc_vid mval; /* maxVVal (kind NONE when mbal == 0) */
    uint8_t hist_count;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
    /* The sender's clean floor (0: none): it evaluated a view at this
     * ballot by case (a), so no value was or can be chosen below it. A
     * claim only: a view trusts it from a weak quorum (bpc_safe_clean_floor). */
    uint64_t clean;
};

/* Room bpc_safe_pick works in: a value some report's history names, with
 * the highest ballot that report names it at and the sender's weight. */
struct bpc_safe_cand {
    const struct bpc_vid *vid;
    uint64_t bal;
    uint64_t weight;
};
/* ... and a report's maxVBal and maxVVal, with the weight of the entries
 * before it in (mbal, mval) order. */
struct bpc_safe_low {
    uint64_t mbal;
    const struct bpc_vid *mval;
    bpc_u128 before;
};

/* Inputs: empty_weight is the weight of senders whose 1b(b) reports no vote
 * at all; reps are the other senders' reports (one per sender). */
struct bpc_safe_view {
    bpc_u128 empty_weight;
    const struct bpc_1b_report *reps;
    uint32_t reps_count;
    const uint64_t *weights; /* by party id */
    bpc_u128 threshold;      /* T */
    bpc_u128 faulty;         /* F */
    uint64_t ballot;         /* b */
    /* Room for reps_count entries, where case (a) works out the view's
     * clean floor when it needs it (bpc_safe_clean_floor) and case (b) a
     * value's history ballots; NULL: the reports' clean floors are not
     * used, and case (b) tries every candidate ballot (slow: reps_count
     * squared per value). */
    struct bpc_ballot_w *clean_w;
    /* Room for BPC_HISTORY_MAX x reps_count and reps_count + 1 entries,
     * where bpc_safe_pick judges every reported value at once; NULL (or
     * clean_w NULL): it judges them one by one. */
    struct bpc_safe_cand *cands;
    struct bpc_safe_low *low;
};

/* The clean floor of reps[0, count) (sender weights by party id): the
 * highest ballot c such that the reports claiming a clean floor of c or
 * more weigh more than F. w: scratch room for count entries. */
uint64_t bpc_safe_clean_floor(const struct bpc_1b_report *reps, uint32_t count,
                              const uint64_t *weights, bpc_u128 faulty, struct bpc_ballot_w *w);
/* Case (a) (or (0)): every value is safe at b, and no value was or can
 * be chosen at a ballot below b (a party that finds this sets its clean
 * floor to b). */
bool bpc_safe_free(const struct bpc_safe_view *view);
/* Total weight of the 1b messages in the view. */
bpc_u128 bpc_safe_weight(const struct bpc_safe_view *view);
/* KnowsSafeAt(b, v). */
bool bpc_safe_at(const struct bpc_safe_view *view, const struct bpc_vid *v);
/* Case (b) alone: v is safe because a weak quorum (> F, so a correct party)
 * reports a 2av for it. A correct party sent that 2av only after checking
 * v itself, so a party may vote for v on this ground without re-checking
 * its commands (which may name a submitter that has since crashed). */
bool bpc_safe_vouched(const struct bpc_safe_view *view, const struct bpc_vid *v);
/* The same, by trying every candidate ballot (the tests' reference). */
bool bpc_safe_vouched_ref(const struct bpc_safe_view *view, const struct bpc_vid *v);

enum bpc_safe_pick {
    BPC_SAFE_NONE = 0,  /* nothing provably safe yet: wait for more 1b */
    BPC_SAFE_FREE = 1,  /* case (a): any value is safe */
    BPC_SAFE_VALUE = 2, /* *out is safe (case (b)) */
};
/* The leader's choice: FREE when a quorum reports no vote, else a reported
 * value that is safe. */
enum bpc_safe_pick bpc_safe_pick(const struct bpc_safe_view *view, struct bpc_vid *out);

#endif /* BPC_SAFE_H */
