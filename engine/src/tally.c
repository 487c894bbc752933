/*
 * tally.c - what this party has heard: per (instance, ballot) the 1b
 * reports (empty weight, total weight; the non-empty reports are in
 * claims.c's pool), the 2av and 2b weights per value id, DECIDED claims
 * per value id, one sender set per type, each sender's range 1b coverage
 * and the KnowsSafeAt views.
 *
 * Owns: e->ty (sender sets, the claim pool with claims.c, the KnowsSafeAt
 * scratch, range coverage, claims_hi) and the tally fields of every
 * generation.
 * Must never: count a sender twice for one (instance, ballot, type),
 * keep more than BPC_TALLY_VALUES_MAX values per tally (extra are
 * dropped and counted), or decide or vote itself (instance.c acts on what
 * the tallies return).
 */
#include "tally.h"

#include "ballot.h"
#include "held.h"
#include "layout.h"
#include "window.h"

#include <string.h>

/* The sums and counts of generation g only: entries at and past n2av and
 * n2b are never read (eng_tally_add and tally.h stop at the counts), so
 * the 2 x BPC_TALLY_VALUES_MAX entries need no pass. No claims: head 0. */
static void
eng_tally_counts_clear(struct eng_gen_tally *t)
{
    t->w_1b_empty = 0;
    t->w_1b = 0;
    t->claims = 0;
    t->claims_count = 0;
    t->n2av = 0;
    t->n2b = 0;
}

void
eng_tally_gen_clear(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    eng_tally_counts_clear(&s->gen[g].t);
    /* A generation's SEEN_PER_GEN sender sets lie side by side. */
    memset(eng_slot_bits(e, s, g, SEEN_1B), 0, SEEN_PER_GEN * e->words * sizeof(uint64_t));
}

void
eng_tally_slot_clear(struct bpc_engine *e, struct eng_slot *s)
{
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        eng_tally_counts_clear(&s->gen[g].t);
    }
    s->ndec = 0; /* tdec entries at and past ndec are never read */
    s->dec_lost = false;
    s->dec_pinned = 0;
    /* Every generation's sets and the DECIDED set: one block per slot. */
    memset(eng_slot_bits(e, s, 0, SEEN_1B), 0,
           (ENG_GENS * SEEN_PER_GEN + 1u) * e->words * sizeof(uint64_t));
}

/* Ranges by start, then weight: entries of one (start, weight) are
 * alike, so an update finds the one to move by a binary search. */
static int
eng_cover_order(const void *a, const void *b)
{
    const struct eng_cover *x = a;
    const struct eng_cover *y = b;
    if (x->from != y->from) {
        return x->from < y->from ? -1 : 1;
    }
    return x->weight < y->weight ? -1 : (x->weight > y->weight ? 1 : 0);
}

/* The first entry of the cover not below (from, w) in that order. */
static uint32_t
eng_cover_find(const struct bpc_engine *e, uint64_t from, uint64_t w)
{
    uint32_t lo = 0;
    uint32_t hi = e->ty.cover_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        const struct eng_cover *c = &e->ty.cover[mid];
        if (c->from < from || (c->from == from && c->weight < w)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The weight below entries lo..hi again, from the entries before lo. */
static void
eng_cover_sum(struct bpc_engine *e, uint32_t lo, uint32_t hi)
{
    struct eng_cover *c = e->ty.cover;
    bpc_u128 w = lo == 0 ? 0 : c[lo - 1u].below + c[lo - 1u].weight;
    for (uint32_t k = lo; k <= hi; k++) {
        c[k].below = w;
        w += c[k].weight;
    }
}

/* One sender's range at the current ballot moved from was to now
 * (UINT64_MAX: none) with its weight w: the cover follows in place when it
 * holds that ballot. A range that falls moves its entry past those that
 * start between (and their weights below by w), so a peer lowering its
 * range one instance a frame costs what lies between; one that joins or
 * leaves the ballot (once per sender and ballot) moves the rest. Before,
 * any move emptied the cover, and the next view sorted every range again:
 * 28 us a frame at 999 parties against 0.12 (review E3's probe_lower).
 * A weight-0 sender has no entry. */
static void
eng_cover_move(struct bpc_engine *e, uint64_t was, uint64_t now, uint64_t w)
{
    if (!e->ty.cover_ok || e->ty.cover_bal != eng_bal(e) || w == 0 || was == now) {
        return;
    }
    struct eng_cover *c = e->ty.cover;
    uint32_t n = e->ty.cover_count; /* c[n]: the total, from UINT64_MAX */
    uint32_t a = was == UINT64_MAX ? n : eng_cover_find(e, was, w);
    if (was != UINT64_MAX && (a >= n || c[a].from != was || c[a].weight != w)) {
        BPC_DEBUG_ASSERT(false); /* every sender at the ballot has its entry */
        e->ty.cover_ok = false;
        return;
    }
    uint32_t b = now == UINT64_MAX ? n + 1u : eng_cover_find(e, now, w);
    struct eng_cover moved = {.from = now, .weight = w};
    if (was != UINT64_MAX && now != UINT64_MAX) {
        /* A fall (a raise at the ballot is kept out, eng_on_range): the
         * entry goes from a down to b. */
        if (b > a) {
            BPC_DEBUG_ASSERT(false);
            e->ty.cover_ok = false;
            return;
        }
        memmove(&c[b + 1u], &c[b], (a - b) * sizeof(c[0]));
        c[b] = moved;
        eng_cover_sum(e, b, a);
        return;
    }
    if (was == UINT64_MAX) { /* joins at b: the rest (the total too) up one */
        memmove(&c[b + 1u], &c[b], (n + 1u - b) * sizeof(c[0]));
        c[b] = moved;
        e->ty.cover_count = n + 1u;
        eng_cover_sum(e, b, n + 1u);
    } else { /* leaves a: the rest down one */
        memmove(&c[a], &c[a + 1u], (n - a) * sizeof(c[0]));
        e->ty.cover_count = n - 1u;
        eng_cover_sum(e, a, n - 1u);
    }
}

/* The 1b ranges at ballot b by their start, with the weight below each. */
static void
eng_cover_build(struct bpc_engine *e, uint64_t b)
{
    struct eng_cover *c = e->ty.cover;
    uint32_t k = 0;
    for (uint32_t p = 0; p < e->n; p++) {
        if (e->ty.range_bal[p] == b && e->ty.range_from[p] != UINT64_MAX && eng_weight(e, p) > 0) {
            c[k].from = e->ty.range_from[p];
            c[k++].weight = eng_weight(e, p);
        }
    }
    qsort(c, k, sizeof(c[0]), eng_cover_order);
    bpc_u128 w = 0;
    for (uint32_t j = 0; j < k; j++) {
        c[j].below = w;
        w += c[j].weight;
    }
    c[k].from = UINT64_MAX;
    c[k].weight = 0;
    c[k].below = w;
    e->ty.cover_count = k;
    e->ty.cover_bal = b;
    e->ty.cover_ok = true;
}

/* The weight of the senders whose 1b range at b covers instance: a binary
 * search of the ranges sorted by start (built again after any moved). */
static bpc_u128
eng_cover_weight(struct bpc_engine *e, uint64_t b, uint64_t instance)
{
    if (!e->ty.cover_ok || e->ty.cover_bal != b) {
        eng_cover_build(e, b);
    }
    uint32_t lo = 0;
    uint32_t hi = e->ty.cover_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (e->ty.cover[mid].from <= instance) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return e->ty.cover[lo].below;
}

/* The weight of the senders that sent no 1b for s's generation g but whose
 * range covers it, by a pass over every sender. */
static bpc_u128
eng_view_ranges_each(const struct bpc_engine *e, const struct eng_slot *s, uint32_t g)
{
    const uint64_t *seen = eng_slot_bits(e, s, g, SEEN_1B);
    bpc_u128 w = 0;
    for (uint32_t p = 0; p < e->n; p++) {
        if (!eng_bit_test(seen, p) &&
            eng_range_covers(e, p, eng_gen_ballot(s, g), eng_slot_instance(s))) {
            w += eng_weight(e, p);
        }
    }
    return w;
}

/* The same at the current ballot: the covering ranges' weight (a binary
 * search), less the senders among them that sent a 1b (the set's words).
 * Before, every view passed over all n senders, and a held value is
 * viewed again at each range that covers it: each correct party's range
 * at a ballot a Byzantine leader filled with held values re-examined them
 * all, n x W x n a ballot (review E's held_honest: 0.9 s at 999 parties
 * and a window of 1024, 72 s at 65536). */
static bpc_u128
eng_view_ranges(struct bpc_engine *e, const struct eng_slot *s, uint32_t g)
{
    uint64_t b = eng_gen_ballot(s, g);
    if (b != eng_bal(e)) {
        return eng_view_ranges_each(e, s, g);
    }
    uint64_t instance = eng_slot_instance(s);
    bpc_u128 w = eng_cover_weight(e, b, instance);
    const uint64_t *seen = eng_slot_bits(e, s, g, SEEN_1B);
    for (uint32_t i = 0; i < e->words; i++) {
        for (uint64_t bits = seen[i]; bits != 0; bits &= bits - 1u) {
            uint32_t p = i * 64u + (uint32_t)__builtin_ctzll(bits);
            w -= eng_range_covers(e, p, b, instance) ? eng_weight(e, p) : 0u;
        }
    }
    BPC_DEBUG_ASSERT(w == eng_view_ranges_each(e, s, g));
    return w;
}

void
eng_view(struct bpc_engine *e, struct eng_slot *s, uint32_t g, struct bpc_safe_view *v)
{
    const struct eng_gen *gen = &s->gen[g];
    bpc_u128 empty = gen->t.w_1b_empty + eng_view_ranges(e, s, g);
    uint32_t count = 0;
    for (uint32_t c = gen->t.claims; c != 0; c = eng_claim_at(e, c)->next) {
        e->ty.scratch[count++] = eng_claim_at(e, c)->rep;
    }
    v->empty_weight = empty;
    v->reps = e->ty.scratch;
    v->reps_count = count;
    v->weights = e->cfg.weights;
    v->threshold = e->threshold;
    v->faulty = e->faulty;
    v->ballot = eng_gen_ballot(s, g);
    v->clean_w = e->ty.clean_w;
    v->cands = e->ty.safe_cands;
    v->low = e->ty.safe_low;
}

uint64_t
eng_on_range(struct bpc_engine *e, uint32_t p, const struct bpc_record *r, uint64_t *lo)
{
    *lo = 0;
    if (r->ballot < e->ty.range_bal[p]) {
        return 0;
    }
    /* aux counts the explicitly reported instances [lo, lo + aux). */
    uint64_t from = r->aux > UINT64_MAX - r->instance ? UINT64_MAX : r->instance + r->aux;
    if (r->ballot == e->ty.range_bal[p] && from > e->ty.range_from[p]) {
        /* A raise at the same ballot is kept out: the coverage p gave
         * first is about its votes below the ballot, which a 1b there
         * fixes for good (a correct party votes below it no more), so it
         * stays true. Reports p sent before it count over it (eng_view);
         * later ones where it covers are refused (eng_on_1b), so a
         * decision p learned there since counts from the next ballot's
         * range on (a vouch only: p did not vote there). Before,
         * a peer alternating its range between the window's bottom and
         * top made every held value be examined again at each frame: at
         * 999 parties and a window of 1024, 12.6 M instructions a
         * one-record frame (review E's held_range). */
        from = e->ty.range_from[p];
    }
    uint64_t bal = eng_bal(e);
    /* p's coverage at bal, [from, inf) or none, before and after. */
    uint64_t was = e->ty.range_bal[p] == bal ? e->ty.range_from[p] : UINT64_MAX;
    uint64_t now = r->ballot == bal ? from : UINT64_MAX;
    /* The cover cache (the ranges at bal) changes only with p's coverage
     * at bal: before, any range moved from one ballot to another emptied
     * it, so a peer's range at a rising future ballot made every view at
     * bal sort the ranges again (review E2's probe_cover). */
    eng_cover_move(e, was, now, eng_weight(e, p));
    e->ty.range_bal[p] = r->ballot;
    e->ty.range_from[p] = from;
    /* Covered at bal from min(was, now) on by one of them, from max on by
     * both (or by neither, when max is UINT64_MAX). */
    *lo = was < now ? was : now;
    uint64_t hi = was < now ? now : was;
    /* The view count moves only when the coverage of the watched
     * instance changed. */
    e->ty.view_epoch += *lo <= e->ty.view_watch && e->ty.view_watch < hi ? 1u : 0u;
    return hi;
}

int
eng_vote_find(struct bpc_engine *e, const struct bpc_record *r, struct eng_slot **slot)
{
    struct eng_slot *s = eng_slot_get(e, r->instance);
    int g = s ? eng_gen_find(e, s, r->ballot, r->ballot >= eng_bal(e)) : -1;
    if (g < 0) {
        e->ctr.records_stale++;
    }
    *slot = s;
    return g;
}

/* A claim for a new value vid of weight w on a full claim tally t (n
 * entries, the first `pinned` of them pinned): the weighted form of Misra
 * and Gries' frequent-items step over the entries not pinned. d, the
 * least of w and every such entry's weight, is taken from each of them
 * and from the claim; entries left at zero go, and what is left of the
 * claim takes a freed place (*out is its weight, 0 when none is left).
 * Counts only ever fall below the weight of the distinct senders that
 * claimed a value, so a learned claim (above F) is still true. Each step
 * takes d from at least three distinct values (ENG_CLAIM_PINS leaves six
 * places unpinned), at least two of them junk when one is the decided
 * value (correct parties all claim that), so junk of weight b costs it at
 * most b / 2 of its claims in a round, whatever the order; a pinned value
 * loses nothing (docs/ENGINE.md, "Room in a tally"). Before, a full tally
 * refused every claim for a new value: four Byzantine parties whose junk
 * claims came first kept a party that had nothing of its own for the
 * instance from learning it. */
static bool
eng_claim_cancel(struct bpc_engine *e, struct eng_val_tally *t, uint8_t *n, uint8_t pinned,
                 const struct bpc_vid *vid, bpc_u128 w, bpc_u128 *out)
{
    e->ctr.tally_overflow++; /* weight lost: the claim's and the entries' */
    BPC_ASSERT(*n == ENG_CLAIM_PLACES && pinned <= ENG_CLAIM_PINS);
    bpc_u128 d = w;
    for (uint32_t k = pinned; k < *n; k++) {
        d = t[k].weight < d ? t[k].weight : d;
    }
    uint8_t kept = pinned;
    for (uint32_t k = pinned; k < *n; k++) {
        if (t[k].weight > d) {
            t[kept] = t[k];
            t[kept].weight -= d;
            kept++;
        }
    }
    *n = kept;
    *out = w - d;
    if (*out > 0) {
        BPC_ASSERT(kept < ENG_CLAIM_PLACES); /* d was an entry's weight */
        t[kept].vid = *vid;
        t[kept].weight = *out;
        (*n)++;
    }
    return d > 0; /* a zero-weight claim costs no one anything */
}

bool
eng_tally_claim(struct bpc_engine *e, struct eng_slot *s, uint32_t p, const struct bpc_vid *vid,
                bpc_u128 *w)
{
    uint64_t *seen = eng_slot_bits(e, s, ENG_GENS, SEEN_1B);
    if (eng_bit_test(seen, p)) {
        return false;
    }
    if (!eng_tally_add(s->tdec, &s->ndec, ENG_CLAIM_PLACES, vid, eng_weight(e, p), w) &&
        eng_claim_cancel(e, s->tdec, &s->ndec, s->dec_pinned, vid, eng_weight(e, p), w)) {
        s->dec_lost = true;
    }
    eng_bit_set(seen, p);
    return true;
}

bool
eng_tally_room(struct bpc_engine *e, struct eng_val_tally *t, const struct bpc_vid *vid, bpc_u128 w,
               const struct bpc_vid *keep, bpc_u128 *out)
{
    /* Dropping weight is what a lost vote does, never a false quorum; the
     * lightest of a full tally never reached the threshold (the three
     * others would leave it less than the total minus the threshold). */
    e->ctr.tally_overflow++; /* this vote, or the entry it replaces */
    if (keep == NULL || !eng_vid_eq(vid, keep)) {
        return false;
    }
    uint32_t at = 0;
    for (uint32_t k = 1; k < BPC_TALLY_VALUES_MAX; k++) {
        at = t[k].weight < t[at].weight ? k : at;
    }
    t[at].vid = *vid;
    t[at].weight = w;
    *out = w;
    return true;
}

const struct bpc_vid *
eng_tally_keep(const struct bpc_engine *e, const struct eng_slot *s, uint32_t g, bool is_2av)
{
    const struct bpc_vid *v2a = eng_gen_2a_vid(s, g);
    if (v2a != NULL || is_2av) {
        return v2a;
    }
    return eng_tally_2av_quorum(e, &s->gen[g]);
}

/* A slot's claims start over: its (at most ENG_CLAIM_PINS) heaviest
 * values that have weight are pinned at the front of the tally with
 * weight 0, and pins left over stay with values pinned before (weight 0
 * now: no claim for them came in this round); the rest go. Pinned, a
 * value is counted exactly in the next round (no cancel takes from it),
 * and the decided value is among the two heaviest after any round in
 * which the correct claims outweigh the junk ones (docs/ENGINE.md, "Room
 * in a tally"). Before the pins left over stayed, a round in which no
 * correct claim came unpinned it again (a review's alternating rounds). */
static void
eng_claims_pin(struct eng_slot *s)
{
    struct eng_val_tally *t = s->tdec;
    struct eng_val_tally pins[ENG_CLAIM_PINS];
    uint8_t count = 0;
    uint32_t taken = 0; /* bit k: t[k] is pinned again */
    for (uint32_t pass = 0; pass < 2; pass++) {
        /* pass 0: the heaviest with weight; pass 1: those pinned before */
        while (count < ENG_CLAIM_PINS) {
            int best = -1;
            for (uint32_t k = 0; k < s->ndec; k++) {
                bool eligible = pass == 0 ? t[k].weight > 0 : k < s->dec_pinned;
                if (eligible && !(taken & (1u << k)) &&
                    (best < 0 || t[k].weight > t[best].weight)) {
                    best = (int)k;
                }
            }
            if (best < 0) {
                break;
            }
            taken |= 1u << best;
            pins[count] = t[best];
            pins[count++].weight = 0;
        }
    }
    memcpy(t, pins, count * sizeof(pins[0]));
    s->ndec = count;
    s->dec_pinned = count;
}

/* Do the parties that claimed in s's round so far weigh more than F? A
 * round ends only then: parties of weight F at most (Byzantine ones
 * alone, say) cannot end one, so they cannot unpin what a round of
 * correct claims pinned. The pass stops at F, and comes only for a slot
 * whose claims lost weight, at most once per slot of a request. */
static bool
eng_claims_round_above_f(const struct bpc_engine *e, const struct eng_slot *s)
{
    const uint64_t *seen = eng_slot_bits(e, s, ENG_GENS, SEEN_1B);
    bpc_u128 w = 0;
    for (uint32_t i = 0; i < e->words; i++) {
        for (uint64_t b = seen[i]; b != 0; b &= b - 1u) {
            w += eng_weight(e, i * 64u + (uint32_t)__builtin_ctzll(b));
            if (w > e->faulty) {
                return true;
            }
        }
    }
    return false;
}

void
eng_tally_claims_retry(struct bpc_engine *e, uint64_t from, uint64_t end)
{
    for (uint64_t i = from; i < end; i++) {
        /* Slots that hold the instance only: a request takes over none. */
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_holds(e, i) && s->dec_lost && !eng_vote_is_decided(s) &&
            eng_claims_round_above_f(e, s)) {
            eng_claims_pin(s);
            s->dec_lost = false;
            memset(eng_slot_bits(e, s, ENG_GENS, SEEN_1B), 0, e->words * sizeof(uint64_t));
            e->ctr.tally_overflow++;
        }
    }
}

void
eng_tally_on_join(struct bpc_engine *e, uint64_t b)
{
    e->ty.view_epoch++;
    e->ty.claims_hi = eng_nu(e);
    /* 1b reports of older ballots can no longer be used: give their claims
     * back (their 2b tallies stay, an old ballot may still decide). No
     * claim ever taken: nothing to give back, and no slot is written (a
     * fresh engine's slots stay untouched, whatever the window). */
    if (e->ty.claims_fresh == 0) {
        return;
    }
    for (uint32_t k = 0; k < e->window; k++) {
        struct eng_slot *s = eng_slot_by_index(e, k);
        for (uint32_t g = 0; g < ENG_GENS; g++) {
            if (s->gen[g].t.claims != 0 && eng_gen_ballot(s, (uint32_t)g) < b) {
                eng_tally_gen_free(e, &s->gen[g]);
            }
        }
    }
}

bpc_u128
eng_range_weight(const struct bpc_engine *e, uint64_t b, uint64_t instance)
{
    bpc_u128 w = 0;
    for (uint32_t p = 0; p < e->n; p++) {
        if (eng_range_covers(e, p, b, instance)) {
            w += eng_weight(e, p);
        }
    }
    return w;
}

void
eng_tally_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->ty.bits = m->bits;
    e->ty.claims = m->claims_pool;
    e->ty.claims_cap = m->claims;
    e->ty.names = m->names;
    e->ty.name_pool = m->name_pool;
    e->ty.names_mask = m->names_len - 1u;
    e->ty.names_shift = 64u - (uint32_t)__builtin_ctz(m->names_len);
    e->ty.scratch = m->scratch;
    e->ty.clean_w = m->clean_w;
    e->ty.cover = m->cover;
    e->ty.safe_cands = m->safe_cands;
    e->ty.safe_low = m->safe_low;
    e->ty.held = m->held;
    e->ty.claims_by = m->claims_by;
    e->ty.range_bal = m->range_bal;
    e->ty.range_from = m->range_from;
    /* Zeroed storage is an empty pool: no free list, no entry taken, and
     * every generation's and every sender's claim list empty (head 0).
     * Nothing to write. */
    e->ty.claims_free = 0;
    e->ty.claims_fresh = 0;
}
