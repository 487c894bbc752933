/*
 * tally.h - vote tallies (tally.c): weights per (instance, ballot, type,
 * value id), sender sets, 1b reports and range coverage, KnowsSafeAt views.
 */
#ifndef BPC_TALLY_H
#define BPC_TALLY_H

#include "core.h"
#include "instance.h"
#include "window.h"

/* A non-empty 1b report in the claim pool (claims.c). A taken entry is on
 * two lists: its generation's (next) and its sender's (by_next, by_prev:
 * an eviction takes the victim's entry without a search); the DIGEST
 * values it names are counted in the names index. The header stays 16
 * bytes: a slot index fits 16 bits. */
struct eng_claim {
    uint32_t next;    /* next entry + 1; 0: end of list (a free entry: of the free list) */
    uint32_t by_next; /* the sender's next entry + 1; 0: its last */
    uint32_t by_prev; /* the sender's previous entry + 1; 0: its first (e->ty.claims_by) */
    uint16_t slot;    /* the slot (index) and generation whose list holds it */
    uint8_t gen;
    uint8_t named; /* bit h: name h (0 maxVVal, 1 + k history k) is counted in the index */
    struct bpc_1b_report rep;
};
/* Names a report can hold: maxVVal and the history. */
#define ENG_NAMES_PER (1u + BPC_HISTORY_MAX)
/* A DIGEST value (id, len) some kept reports at (slot, gen) name, with
 * their weight and count (claims.c's names index). */
struct eng_name {
    uint8_t id[BPC_VALUE_INLINE_MAX];
    uint16_t len, slot, count;
    uint8_t gen;
    uint32_t next; /* next entry on its chain + 1 (a free entry: of the free list) */
    bpc_u128 weight;
};
_Static_assert(BPC_WINDOW_SLOTS_MAX - 1u <= UINT16_MAX, "eng_claim.slot holds a slot index");
_Static_assert(offsetof(struct eng_claim, rep) == 16, "the claim header is 16 bytes");
_Static_assert(ENG_NAMES_PER <= 8u, "eng_claim.named holds a bit per name");
_Static_assert(BPC_PARTIES_MAX <= UINT16_MAX, "eng_name.count: one report per sender");
_Static_assert(ENG_NAMES_PER *(65536ull + 256u + 2u * BPC_PARTIES_MAX) < UINT32_MAX,
               "names index entries + 1 fit 32 bits");

/* Sender set of generation gen (ENG_GENS: the DECIDED claimants). */
/* Claim pool entry c - 1 (c: a list link or head, never 0). */
/* Changes so far of the 1b view of the instance watched (the leader's
 * pick memo, eng_pick_value); eng_view_watch names it. */
static inline uint64_t
eng_view_epoch(const struct bpc_engine *e)
{
    return e->ty.view_epoch;
}

static inline void
eng_view_watch(struct bpc_engine *e, uint64_t instance)
{
    e->ty.view_watch = instance;
}

static inline struct eng_claim *
eng_claim_at(const struct bpc_engine *e, uint32_t c)
{
    return &e->ty.claims[c - 1u];
}

static inline uint64_t *
eng_slot_bits(const struct bpc_engine *e, const struct eng_slot *s, uint32_t gen,
              enum eng_seen kind)
{
    size_t slot_index = eng_slot_index(e, s);
    size_t per_slot = (size_t)(ENG_GENS * SEEN_PER_GEN + 1) * e->words;
    size_t off = gen == ENG_GENS ? (size_t)ENG_GENS * SEEN_PER_GEN
                                 : (size_t)gen * SEEN_PER_GEN + (size_t)kind;
    return e->ty.bits + slot_index * per_slot + off * e->words;
}

/* Does sender s's range 1b at ballot report instance empty? */
static inline bool
eng_range_covers(const struct bpc_engine *e, uint32_t s, uint64_t ballot, uint64_t instance)
{
    return e->ty.range_bal[s] == ballot && e->ty.range_from[s] <= instance;
}

/* One past the highest instance a 1b at bal reported voted. */
/* A value whose 2av weight in the generation reached the threshold, or NULL. */
static inline const struct bpc_vid *
eng_tally_2av_quorum(const struct bpc_engine *e, const struct eng_gen *gen)
{
    for (uint32_t k = 0; k < gen->t.n2av; k++) {
        if (gen->t.t2av[k].weight >= e->threshold) {
            return &gen->t.t2av[k].vid;
        }
    }
    return NULL;
}

/* Did vid's 2av weight in the generation reach the threshold? */
static inline bool
eng_tally_2av_passed(const struct bpc_engine *e, const struct eng_gen *gen,
                     const struct bpc_vid *vid)
{
    for (uint32_t k = 0; k < gen->t.n2av; k++) {
        if (eng_vid_eq(&gen->t.t2av[k].vid, vid) && gen->t.t2av[k].weight >= e->threshold) {
            return true;
        }
    }
    return false;
}

/* The weight vid's DECIDED claims count in s's claim tally now (0: none). */
static inline bpc_u128
eng_claim_weight(const struct eng_slot *s, const struct bpc_vid *vid)
{
    for (uint32_t k = 0; k < s->ndec; k++) {
        if (eng_vid_eq(&s->tdec[k].vid, vid)) {
            return s->tdec[k].weight;
        }
    }
    return 0;
}

static inline uint64_t
eng_claims_hi(const struct bpc_engine *e)
{
    return e->ty.claims_hi;
}

/* Generation reuse (window.c): give back its claims; clear its sets. */
ENG_FN void eng_tally_gen_free(struct bpc_engine *e, struct eng_gen *gen);
ENG_FN void eng_tally_gen_clear(struct bpc_engine *e, struct eng_slot *s, uint32_t g);
/* A slot taken over: every generation's sums, counts and sender sets, and
 * the DECIDED claims (the claims themselves given back first). */
ENG_FN void eng_tally_slot_clear(struct bpc_engine *e, struct eng_slot *s);
/* Builds the view of the 1b(b) messages received for slot s. */
ENG_FN void eng_view(struct bpc_engine *e, struct eng_slot *s, uint32_t g, struct bpc_safe_view *v);
/* The weight of the 1b reports generation g of s keeps that name vid as
 * their maxVVal or in their history (the claims alone: no pass over the
 * parties, as eng_view's empty weight takes). */
ENG_FN bpc_u128 eng_claims_naming(struct bpc_engine *e, const struct eng_slot *s, uint32_t g,
                                  const struct bpc_vid *vid);
/* p's 1b for one instance; true when tallied (p was not counted there). */
ENG_FN bool eng_on_1b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
                      const struct bpc_record *hist);
/* p's range 1b; the instances [*lo, return) whose coverage at bal it
 * changed (empty: none). */
ENG_FN uint64_t eng_on_range(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
                             uint64_t *lo);
/* The generation of the slot that tallies a 2av or 2b record's (instance,
 * ballot), created for a ballot at or above bal; -1 (counted stale) when
 * the instance is outside the window or the ballot is past use. */
ENG_FN int eng_vote_find(struct bpc_engine *e, const struct bpc_record *r, struct eng_slot **slot);
/* Tallies p's DECIDED claim for vid: true and *w the weight vid now has
 * (at most that of its distinct claimants; 0 when the claim was cancelled
 * on a full tally, see eng_claim_cancel), false when p already claimed. */
ENG_FN bool eng_tally_claim(struct bpc_engine *e, struct eng_slot *s, uint32_t p,
                            const struct bpc_vid *vid, bpc_u128 *w);
/* A new request for instances [from, end): each undecided slot there
 * whose DECIDED claims lost weight to junk (a cancel on a full tally)
 * starts its claims over (sets too), so the answers to the request,
 * which come after, are counted afresh. */
ENG_FN void eng_tally_claims_retry(struct bpc_engine *e, uint64_t from, uint64_t end);
/* A new ballot b: reports of older ballots can no longer be used. */
ENG_FN void eng_tally_on_join(struct bpc_engine *e, uint64_t b);
/* Weight of the range 1b messages at ballot b that cover instance. */
ENG_FN bpc_u128 eng_range_weight(const struct bpc_engine *e, uint64_t b, uint64_t instance);
/* After eng_win_carve. */
ENG_FN void eng_tally_carve(struct bpc_engine *e, const struct eng_mem *m);
/* Keys the names index from seed and the n pair keys (keys NULL: one
 * party) (auth.c, eng_auth_index_key). */
ENG_FN void eng_tally_key(struct bpc_engine *e, const uint8_t (*keys)[BPC_KEY_BYTES], uint32_t n,
                          uint64_t seed);

/* Adds weight w to vid's entry of t (n entries), *out the sum; false
 * when vid is new and t already holds cap values (then eng_tally_room,
 * or for claims eng_claim_cancel, decides). */
static inline bool
eng_tally_add(struct eng_val_tally *t, uint8_t *n, uint32_t cap, const struct bpc_vid *v,
              bpc_u128 w, bpc_u128 *out)
{
    for (uint32_t k = 0; k < *n; k++) {
        if (eng_vid_eq(&t[k].vid, v)) {
            t[k].weight += w;
            *out = t[k].weight;
            return true;
        }
    }
    if (*n == cap) {
        return false;
    }
    t[*n].vid = *v;
    t[*n].weight = w;
    (*n)++;
    *out = w;
    return true;
}

/* A full tally t and a vote of weight w for a new value vid: true (and
 * *out = w) when vid is keep, the value this party needs counted, which
 * then takes the place of the lightest entry (its weight lost); false
 * (the vote dropped) otherwise. Both count in tally_overflow. Without
 * this, parties of total weight at most F each voting once for a junk
 * value of its own could fill t before the correct value's votes came
 * and stall the instance for good (docs/ENGINE.md, "Room in a tally"). */
ENG_FN bool eng_tally_room(struct bpc_engine *e, struct eng_val_tally *t, const struct bpc_vid *vid,
                           bpc_u128 w, const struct bpc_vid *keep, bpc_u128 *out);
/* The value generation g's 2av (2b) tally must keep room for: the 2a
 * this party accepted there, else (2b only) a value whose 2av weight
 * reached the threshold; NULL when neither is known yet (a vote dropped
 * for room is sent again at the next retransmit tick). */
ENG_FN const struct bpc_vid *eng_tally_keep(const struct bpc_engine *e, const struct eng_slot *s,
                                            uint32_t g, bool is_2av);

/* Tallies p's 2av or 2b vote for vid in generation g of slot s; false when
 * p already voted that type there or past the distinct-value bound (inline:
 * every credited vote passes here). */
static inline bool
eng_tally_vote_at(struct bpc_engine *e, struct eng_slot *s, uint32_t g, uint32_t p,
                  enum eng_seen kind, const struct bpc_vid *vid, bpc_u128 *w)
{
    uint64_t *seen = eng_slot_bits(e, s, g, kind);
    if (eng_bit_test(seen, p)) {
        ENG_IGNORED(e);
        return false;
    }
    struct eng_gen *gen = &s->gen[g];
    bool is_2av = kind == SEEN_2AV;
    struct eng_val_tally *t = is_2av ? gen->t.t2av : gen->t.t2b;
    if (!eng_tally_add(t, is_2av ? &gen->t.n2av : &gen->t.n2b, BPC_TALLY_VALUES_MAX, vid,
                       eng_weight(e, p), w) &&
        !eng_tally_room(e, t, vid, eng_weight(e, p), eng_tally_keep(e, s, g, is_2av), w)) {
        return false;
    }
    eng_bit_set(seen, p);
    BPC_ASSERT(*w <= e->total);
    return true;
}

#endif /* BPC_TALLY_H */
