/*
 * safe.c - KnowsSafeAt(b, v) of BPConProof.tla, evaluated over weights.
 *
 * Owns: the pure safety predicate and the leader's value choice. Must
 * never: allocate, touch engine state, or accept a value on fewer than a
 * Byzantine quorum's reports (case b also needs a weak quorum, > F, which
 * contains a correct party).
 *
 * Case (0): b = 1, the first ballot: every value is safe.
 * Case (a): the 1b senders with no 2b vote at or above the view's clean
 * floor weigh >= T (with no clean floor: no 2b vote at all). The clean
 * floor is the highest ballot c such that senders claiming a clean floor
 * of c or more weigh > F: a correct one among them found case (a) at c,
 * so no value was or can be chosen below c, and a vote below c proves
 * nothing (docs/ENGINE.md, "Clean floors").
 * Case (b): some c < b where the senders reporting maxVBal <= c weigh
 * >= T, those reporting maxVBal = c report v, and senders reporting a 2av
 * for v at a ballot >= c weigh > F. The weight of the first set only
 * changes at c = mbal and c = mbal + 1, and the second only falls as c
 * grows, so checking c in {1} U {mbal, mbal + 1 : reported} is exhaustive.
 */
#include "safe.h"

#include "internal.h"

static int
safe_ballot_desc(const void *a, const void *b)
{
    uint64_t x = ((const struct bpc_ballot_w *)a)->ballot;
    uint64_t y = ((const struct bpc_ballot_w *)b)->ballot;
    return x < y ? 1 : (x > y ? -1 : 0);
}

uint64_t
bpc_safe_top_ballot(struct bpc_ballot_w *a, uint32_t count, bpc_u128 faulty)
{
    if (count == 0) {
        return 0;
    }
    qsort(a, count, sizeof(a[0]), safe_ballot_desc);
    bpc_u128 w = 0;
    for (uint32_t k = 0; k < count; k++) {
        w += a[k].weight;
        if (w > faulty) {
            return a[k].ballot;
        }
    }
    return 0;
}

uint64_t
bpc_safe_clean_floor(const struct bpc_1b_report *reps, uint32_t count, const uint64_t *weights,
                     bpc_u128 faulty, struct bpc_ballot_w *w)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < count; k++) {
        uint64_t weight = weights[reps[k].sender];
        if (reps[k].clean > 0 && weight > 0) {
            w[n].ballot = reps[k].clean;
            w[n++].weight = weight;
        }
    }
    return bpc_safe_top_ballot(w, n, faulty);
}

static bool
safe_case_a(const struct bpc_safe_view *view)
{
    /* Case (0): b is the first ballot. No ballot c < b exists, so SafeAt(b,
     * v) holds for every v, and a 1b at b can only report "no vote" (the
     * codec refuses a 1b whose maxVBal is not below its ballot): phase 1
     * tells nothing, and the engine skips it (docs/ENGINE.md). */
    if (view->ballot == 1) {
        return true;
    }
    bpc_u128 w = view->empty_weight;
    bool voted = false; /* a report of a 2b, which a floor may put below it */
    for (uint32_t k = 0; k < view->reps_count; k++) {
        if (view->reps[k].mbal == 0) {
            w += view->weights[view->reps[k].sender];
        } else {
            voted = true;
        }
    }
    if (w >= view->threshold || !voted || view->clean_w == NULL) {
        return w >= view->threshold;
    }
    /* A floor can only add the reports of a 2b: when all of them cannot
     * make T, no sort. */
    if (bpc_safe_weight(view) < view->threshold) {
        return false;
    }
    /* Only now the floor (a sort of the claims): most views never need
     * it, and a view whose reports claim none costs one pass more. */
    uint64_t floor = bpc_safe_clean_floor(view->reps, view->reps_count, view->weights, view->faulty,
                                          view->clean_w);
    for (uint32_t k = 0; k < view->reps_count && floor > 1; k++) {
        if (view->reps[k].mbal > 0 && view->reps[k].mbal < floor) {
            w += view->weights[view->reps[k].sender];
        }
    }
    return w >= view->threshold;
}

bool
bpc_safe_free(const struct bpc_safe_view *view)
{
    BPC_ASSERT(view->ballot >= 1);
    return safe_case_a(view);
}

static bool
safe_at_c(const struct bpc_safe_view *view, const struct bpc_vid *v, uint64_t c)
{
    bpc_u128 w_low = view->empty_weight;
    bpc_u128 w_hist = 0;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        bpc_u128 w = view->weights[r->sender];
        if (r->mbal < c || (r->mbal == c && eng_vid_eq(&r->mval, v))) {
            w_low += w;
        }
        for (uint32_t h = 0; h < r->hist_count; h++) {
            if (r->hist_bal[h] >= c && eng_vid_eq(&r->hist_val[h], v)) {
                w_hist += w;
                break;
            }
        }
    }
    return w_low >= view->threshold && w_hist > view->faulty;
}

bpc_u128
bpc_safe_weight(const struct bpc_safe_view *view)
{
    bpc_u128 w = view->empty_weight;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        w += view->weights[view->reps[k].sender];
    }
    return w;
}

static bool
safe_try_c(const struct bpc_safe_view *view, const struct bpc_vid *v, uint64_t c)
{
    return c >= 1 && c < view->ballot && safe_at_c(view, v, c);
}

bool
bpc_safe_at(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
    BPC_ASSERT(view->ballot >= 1);
    return safe_case_a(view) || bpc_safe_vouched(view, v);
}

bool
bpc_safe_vouched(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
    BPC_ASSERT(view->ballot >= 1);
    if (safe_try_c(view, v, 1)) {
        return true;
    }
    for (uint32_t k = 0; k < view->reps_count; k++) {
        uint64_t m = view->reps[k].mbal;
        if (m >= 1 && (safe_try_c(view, v, m) || safe_try_c(view, v, m + 1))) {
            return true;
        }
    }
    return false;
}

enum bpc_safe_pick
bpc_safe_pick(const struct bpc_safe_view *view, struct bpc_vid *out)
{
    if (safe_case_a(view)) {
        return BPC_SAFE_FREE;
    }
    /* Only a value some sender reports can satisfy case (b): it needs a
     * weak quorum of 2av history entries for it. */
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        for (uint32_t h = 0; h < r->hist_count; h++) {
            if (bpc_safe_at(view, &r->hist_val[h])) {
                *out = r->hist_val[h];
                return BPC_SAFE_VALUE;
            }
        }
    }
    return BPC_SAFE_NONE;
}
