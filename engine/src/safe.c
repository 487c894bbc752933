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

/* The weight of the senders whose reports put them in case (b)'s quorum
 * at c: maxVBal below c, or c with maxVVal v (the senders of empty
 * reports included). A sender in it at c is in it at every higher c. */
static bpc_u128
safe_low_weight(const struct bpc_safe_view *view, const struct bpc_vid *v, uint64_t c)
{
    bpc_u128 w = view->empty_weight;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        if (r->mbal < c || (r->mbal == c && eng_vid_eq(&r->mval, v))) {
            w += view->weights[r->sender];
        }
    }
    return w;
}

static bool
safe_at_c(const struct bpc_safe_view *view, const struct bpc_vid *v, uint64_t c)
{
    bpc_u128 w_hist = 0;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        for (uint32_t h = 0; h < r->hist_count; h++) {
            if (r->hist_bal[h] >= c && eng_vid_eq(&r->hist_val[h], v)) {
                w_hist += view->weights[r->sender];
                break;
            }
        }
    }
    return w_hist > view->faulty && safe_low_weight(view, v, c) >= view->threshold;
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

/* Case (b) tried at every candidate ballot: reps_count squared per
 * value. The reference for safe_vouched_at_top, and the way when the view
 * has no scratch room. */
static bool
safe_vouched_each_c(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
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

/* Case (b) at c = min(b - 1, top), top the highest ballot such that the
 * reports naming v in their history at top or above weigh more than F.
 * Enough: that weight only falls as c grows and the quorum set's weight
 * (safe_low_weight) only grows, so when some c < b satisfies both, so
 * does the largest c that satisfies the first. Before, every candidate
 * ballot was tried with a pass over the reports each, and the leader's
 * pick tried every reported value that way: at 999 parties, with the
 * reports of 333 Byzantine ones naming four junk values each, one
 * instance's pick took 2.6 s (docs/ENGINE.md, "Judging a view"). */
static bool
safe_vouched_at_top(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        uint64_t top = 0;
        for (uint32_t h = 0; h < r->hist_count; h++) {
            if (r->hist_bal[h] > top && eng_vid_eq(&r->hist_val[h], v)) {
                top = r->hist_bal[h];
            }
        }
        if (top > 0) {
            view->clean_w[n].ballot = top;
            view->clean_w[n++].weight = view->weights[r->sender];
        }
    }
    uint64_t c = bpc_safe_top_ballot(view->clean_w, n, view->faulty);
    c = c < view->ballot ? c : view->ballot - 1;
    return c >= 1 && safe_low_weight(view, v, c) >= view->threshold;
}

bool
bpc_safe_vouched(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
    BPC_ASSERT(view->ballot >= 1);
    return view->clean_w != NULL ? safe_vouched_at_top(view, v) : safe_vouched_each_c(view, v);
}

bool
bpc_safe_vouched_ref(const struct bpc_safe_view *view, const struct bpc_vid *v)
{
    BPC_ASSERT(view->ballot >= 1);
    return safe_vouched_each_c(view, v);
}

static int
safe_cand_order(const void *a, const void *b)
{
    const struct bpc_safe_cand *x = a;
    const struct bpc_safe_cand *y = b;
    int d = memcmp(x->vid, y->vid, sizeof(*x->vid));
    if (d != 0) {
        return d;
    }
    return x->bal < y->bal ? 1 : (x->bal > y->bal ? -1 : 0); /* highest first */
}

static int
safe_low_cmp(uint64_t mbal, const struct bpc_vid *mval, const struct bpc_safe_low *e)
{
    if (mbal != e->mbal) {
        return mbal < e->mbal ? -1 : 1;
    }
    return memcmp(mval, e->mval, sizeof(*mval));
}

static int
safe_low_order(const void *a, const void *b)
{
    const struct bpc_safe_low *x = a;
    return safe_low_cmp(x->mbal, x->mval, b);
}

/* The first index of low[0, n) not below (mbal, mval) in its order (n when
 * none); with `after`, the first above it. */
static uint32_t
safe_low_find(const struct bpc_safe_low *low, uint32_t n, uint64_t mbal, const struct bpc_vid *mval,
              bool after)
{
    uint32_t lo = 0;
    uint32_t hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        int d = safe_low_cmp(mbal, mval, &low[mid]);
        if (d > 0 || (after && d == 0)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* view->cands: one entry per value and report naming it in its history
 * (at the highest ballot it names it at), by value and then ballot,
 * highest first; returns their number. */
static uint32_t
safe_gather_cands(const struct bpc_safe_view *view)
{
    uint32_t m = 0;
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        for (uint32_t h = 0; h < r->hist_count; h++) {
            bool seen = false;
            uint64_t top = r->hist_bal[h];
            for (uint32_t j = 0; j < r->hist_count; j++) {
                if (j != h && eng_vid_eq(&r->hist_val[j], &r->hist_val[h])) {
                    seen = seen || j < h;
                    top = r->hist_bal[j] > top ? r->hist_bal[j] : top;
                }
            }
            if (!seen) {
                view->cands[m].vid = &r->hist_val[h];
                view->cands[m].bal = top;
                view->cands[m++].weight = view->weights[r->sender];
            }
        }
    }
    qsort(view->cands, m, sizeof(view->cands[0]), safe_cand_order);
    return m;
}

/* view->low: the reports' (maxVBal, maxVVal) in order, each with the
 * weight before it; low[reps_count].before is their total. */
static void
safe_gather_low(const struct bpc_safe_view *view)
{
    uint32_t n = view->reps_count;
    for (uint32_t k = 0; k < n; k++) {
        view->low[k].mbal = view->reps[k].mbal;
        view->low[k].mval = &view->reps[k].mval;
        view->low[k].before = view->weights[view->reps[k].sender]; /* for now: its own */
    }
    qsort(view->low, n, sizeof(view->low[0]), safe_low_order);
    bpc_u128 w = 0;
    for (uint32_t k = 0; k < n; k++) {
        bpc_u128 own = view->low[k].before;
        view->low[k].before = w;
        w += own;
    }
    view->low[n].before = w;
}

/* Case (b) for every reported value at once (safe_vouched_at_top's rule
 * per value, the quorum set's weight by two binary searches): the
 * smallest value, in memcmp order, that is safe, or false. */
static bool
safe_pick_sorted(const struct bpc_safe_view *view, struct bpc_vid *out)
{
    uint32_t m = safe_gather_cands(view);
    safe_gather_low(view);
    uint32_t n = view->reps_count;
    for (uint32_t i = 0, j; i < m; i = j) {
        const struct bpc_vid *v = view->cands[i].vid;
        bpc_u128 w = 0;
        uint64_t top = 0;
        for (j = i; j < m && eng_vid_eq(view->cands[j].vid, v); j++) {
            w += view->cands[j].weight;
            if (top == 0 && w > view->faulty) {
                top = view->cands[j].bal;
            }
        }
        uint64_t c = top < view->ballot ? top : view->ballot - 1;
        if (c < 1) {
            continue;
        }
        static const struct bpc_vid none; /* memcmp-smallest: below every maxVVal */
        uint32_t below = safe_low_find(view->low, n, c, &none, false);
        uint32_t from = safe_low_find(view->low, n, c, v, false);
        uint32_t to = safe_low_find(view->low, n, c, v, true);
        bpc_u128 low = view->empty_weight + view->low[below].before +
                       (view->low[to].before - view->low[from].before);
        if (low >= view->threshold) {
            *out = *v;
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
    if (view->cands != NULL && view->low != NULL && view->clean_w != NULL) {
        return safe_pick_sorted(view, out) ? BPC_SAFE_VALUE : BPC_SAFE_NONE;
    }
    for (uint32_t k = 0; k < view->reps_count; k++) {
        const struct bpc_1b_report *r = &view->reps[k];
        for (uint32_t h = 0; h < r->hist_count; h++) {
            if (bpc_safe_vouched(view, &r->hist_val[h])) { /* case (a) failed above */
                *out = r->hist_val[h];
                return BPC_SAFE_VALUE;
            }
        }
    }
    return BPC_SAFE_NONE;
}
