/*
 * runs.c - runs of votes (VOTES records, docs/ENGINE.md "Runs of votes"):
 * the digest a run names, crediting a received run as the single votes it
 * stands for when its digest is over this party's own 2a values, and the
 * runs that wait for a 2a not yet there.
 *
 * Owns: e->vr (the digest cache and the waiting runs, in the vote_runs
 * layout region). Must never: credit a vote other than through
 * eng_on_2av/eng_on_2b or, for a slot and generation their lookup would
 * find, eng_on_vote_at; credit a run whose digest it did not check
 * against values this party holds; or compute a digest for a run most of
 * whose votes are counted already (a peer could then make it hash over
 * and over, eng_votes_check).
 */
#include "runs.h"

#include "ballot.h"
#include "instance.h"
#include "layout.h"
#include "tally.h"
#include "window.h"

#include <string.h>

/* Does cache entry c hold the digest of a run at (ballot, first) of k
 * values? (Which values, the caller compares.) */
static bool
eng_run_names(const struct eng_run_cache *c, uint64_t ballot, uint64_t first, uint32_t k)
{
    return c->used && c->k == k && c->ballot == ballot && c->first == first;
}

/* c's digest from its k vids, c naming the run at (ballot, first). */
static void
eng_run_fill(struct eng_run_cache *c, uint64_t ballot, uint64_t first, uint32_t k)
{
    (void)bpc_votes_digest(ballot, first, k, c->vids, c->digest); /* k <= the maximum */
    c->used = 1;
    c->k = k;
    c->ballot = ballot;
    c->first = first;
}

static struct eng_run_cache *
eng_run_entry(const struct bpc_engine *e, uint64_t first)
{
    return &e->vr.cache[first / BPC_VOTES_RUN_MAX % ENG_RUN_CACHE];
}

const uint8_t *
eng_run_digest(struct bpc_engine *e, uint64_t ballot, uint64_t first, uint32_t k,
               const struct bpc_vid *vids)
{
    if (e->vr.cache == NULL) {
        (void)bpc_votes_digest(ballot, first, k, vids, e->vr.tmp);
        return e->vr.tmp;
    }
    struct eng_run_cache *c = eng_run_entry(e, first);
    if (!eng_run_names(c, ballot, first, k) ||
        memcmp(c->vids, vids, (size_t)k * sizeof(*vids)) != 0) {
        memcpy(c->vids, vids, (size_t)k * sizeof(*vids));
        eng_run_fill(c, ballot, first, k);
    }
    return c->digest;
}

enum eng_run_verdict { RUN_CREDITED, RUN_MISMATCH, RUN_WAIT };

/* What a walk over a run's k instances found: at instance r->instance + j,
 * the generation tallying the run's ballot (gens[j]); for a run the
 * digest cache does not hold, also that generation's 2a value (v2a[j]),
 * and how many of those instances have no vote of the run's type from
 * its sender counted yet (fresh). */
struct eng_run_walk {
    uint8_t gens[BPC_VOTES_RUN_MAX];
    const struct bpc_vid *v2a[BPC_VOTES_RUN_MAX];
    uint32_t fresh;
};

enum eng_walk { WALK_WAIT, WALK_CACHED, WALK_MISS };

/* This party's 2a value at run r's ballot for its instance r->instance +
 * j (the decoder bounds instance + k), its generation in w->gens[j];
 * NULL when there is none (the run waits). */
static inline const struct bpc_vid *
eng_run_2a(const struct bpc_engine *e, const struct bpc_record *r, uint32_t j,
           struct eng_run_walk *w)
{
    uint64_t i = r->instance + j;
    const struct eng_slot *s = eng_slot_at(e, i);
    int g = eng_slot_holds(e, i) ? eng_gen_of(s, r->ballot) : -1;
    if (g < 0) {
        return NULL;
    }
    w->gens[j] = (uint8_t)g;
    return eng_gen_2a_vid(s, (uint32_t)g);
}

/* Where cache entry c names the run (ballot, first instance, k): compares
 * its values with this party's 2a values in place, filling w->gens.
 * WALK_WAIT when an instance has no 2a at the ballot; WALK_MISS when c
 * does not hold the run. */
static enum eng_walk
eng_votes_walk_cached(const struct bpc_engine *e, const struct bpc_record *r, uint32_t k,
                      const struct eng_run_cache *c, struct eng_run_walk *w)
{
    if (!eng_run_names(c, r->ballot, r->instance, k)) {
        return WALK_MISS;
    }
    for (uint32_t j = 0; j < k; j++) {
        const struct bpc_vid *v = eng_run_2a(e, r, j, w);
        if (v == NULL) {
            return WALK_WAIT;
        }
        if (!eng_vid_eq(&c->vids[j], v)) {
            return WALK_MISS;
        }
    }
    return WALK_CACHED;
}

/* Fills all of w for p's run r of k votes of kind; false when an
 * instance has no 2a at the run's ballot (the run waits). */
static __attribute__((noinline)) bool
eng_votes_walk(const struct bpc_engine *e, uint32_t p, const struct bpc_record *r, uint32_t k,
               enum eng_seen kind, struct eng_run_walk *w)
{
    w->fresh = 0;
    for (uint32_t j = 0; j < k; j++) {
        const struct bpc_vid *v = eng_run_2a(e, r, j, w);
        if (v == NULL) {
            return false;
        }
        w->v2a[j] = v;
        const struct eng_slot *s = eng_slot_at(e, r->instance + j);
        w->fresh += eng_bit_test(eng_slot_bits(e, s, w->gens[j], kind), p) ? 0u : 1u;
    }
    return true;
}

/* c becomes the entry of w's k values at r's ballot and first instance,
 * their digest computed. */
static void
eng_votes_hash(struct eng_run_cache *c, const struct bpc_record *r, uint32_t k,
               const struct eng_run_walk *w)
{
    for (uint32_t j = 0; j < k; j++) {
        c->vids[j] = *w->v2a[j];
    }
    eng_run_fill(c, r->ballot, r->instance, k);
}

/* Runs of a sender whose runs mismatched after a digest was computed for
 * them ENG_RUN_MISMATCH_MAX times, at the ballot it counts at or below,
 * are checked only where this party's digest cache already holds theirs
 * (a compare, no digest). The count restarts only at a higher ballot, and
 * mismatches at lower ones add to it, so alternating two ballots does not
 * clear it; a Byzantine peer cannot make up higher ballots with 2a values
 * (only their leaders send 2a). A correct sender's run mismatches only
 * under a leader that equivocated, and a run repeated (a duplicated
 * frame) hits the cache and is not counted; if it is barred all the same,
 * its votes still come, one by one, at the next retransmit tick, which
 * sends them as single records (eng_broadcast_alone). Before, every run was hashed: a peer of any
 * weight sending runs with wrong digests, k alternating so that the cache
 * never held them, cost one digest over up to 64 value ids per 64-byte
 * record, 55 to 180 times a frame of single votes (a review's votes_amp);
 * and the first fix, a count per ballot that restarted at any other one,
 * was undone by alternating two ballots (this stop's own review). */
static bool
eng_votes_barred(const struct bpc_engine *e, uint32_t p, uint64_t ballot)
{
    return e->vr.bad[p] >= ENG_RUN_MISMATCH_MAX && ballot <= e->vr.bad_bal[p];
}

static void
eng_votes_note_mismatch(struct bpc_engine *e, uint32_t p, uint64_t ballot)
{
    if (ballot > e->vr.bad_bal[p]) {
        e->vr.bad_bal[p] = ballot;
        e->vr.bad[p] = 0;
    }
    e->vr.bad[p]++;
}

/* Checks a run of p's votes against this party's 2a values at its ballot
 * (through cache entry c) and, when its digest is over exactly those
 * values, credits each vote as an individual 2av or 2b for that value
 * would be. c is not written while crediting: only eng_run_digest
 * (eng_flush) and this function (top-level dispatch, eng_votes_retry)
 * write entries, and neither runs inside a vote's crediting. */
static enum eng_run_verdict
eng_votes_check(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
                struct eng_run_cache *c)
{
    uint8_t type = (uint8_t)(r->aux & 0xffu);
    uint32_t k = (uint32_t)(r->aux >> 8);
    struct eng_run_walk w;
    if (k > BPC_VOTES_RUN_MAX) {
        return RUN_MISMATCH; /* the decoder refuses it: k <= BPC_VOTES_RUN_MAX */
    }
    enum eng_walk walk = eng_votes_walk_cached(e, r, k, c, &w);
    if (walk == WALK_WAIT) {
        return RUN_WAIT;
    }
    bool hashed = walk == WALK_MISS;
    if (hashed) {
        if (!eng_votes_walk(e, p, r, k, type == BPC_MSG_2AV ? SEEN_2AV : SEEN_2B, &w)) {
            return RUN_WAIT;
        }
        /* A digest only for a run at least half of whose votes are not
         * counted yet: each then counts at least k / 2 new votes. */
        if (2 * w.fresh < k) {
            ENG_IGNORED(e);
            return RUN_CREDITED;
        }
        if (eng_votes_barred(e, p, r->ballot)) {
            e->ctr.votes_barred++;
            return RUN_MISMATCH;
        }
        eng_votes_hash(c, r, k, &w);
    }
    if (memcmp(c->digest, r->value.id, BPC_DIGEST_BYTES) != 0) {
        e->ctr.votes_mismatch++;
        if (hashed) {
            eng_votes_note_mismatch(e, p, r->ballot);
        }
        return RUN_MISMATCH;
    }
    /* Each vote goes where the lookup of a single record would take it:
     * while crediting, a decision may move the window and a proposal
     * reuse a slot, so a slot or generation found above is used only when
     * it still holds the instance and tallies the ballot; otherwise the
     * vote takes the single record's path (eng_on_2av/eng_on_2b). */
    for (uint32_t j = 0; j < k; j++) {
        uint64_t i = r->instance + j;
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_holds(e, i) && eng_gen_ballot(s, w.gens[j]) == r->ballot) {
            eng_on_vote_at(e, p, s, w.gens[j], type, &c->vids[j]);
            continue;
        }
        struct bpc_record one = bpc_record_make(type, i, r->ballot, 0, &c->vids[j]);
        if (type == BPC_MSG_2AV) {
            eng_on_2av(e, p, &one);
        } else {
            eng_on_2b(e, p, &one);
        }
    }
    return RUN_CREDITED;
}

/* Without a digest cache (no run can form here, but a peer may still
 * send one): an entry of its own for the one check. */
static __attribute__((cold, noinline)) enum eng_run_verdict
eng_votes_check_alone(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    struct eng_run_cache one;
    memset(&one, 0, sizeof(one));
    return eng_votes_check(e, p, r, &one);
}

static enum eng_run_verdict
eng_votes_try(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (e->vr.cache == NULL) {
        return eng_votes_check_alone(e, p, r);
    }
    return eng_votes_check(e, p, r, eng_run_entry(e, r->instance));
}

/* A run of p's votes: credited now, or kept (at most
 * ENG_RUN_WAIT_PER_SENDER per sender, ENG_RUN_WAIT in all) until the 2a values it needs arrive; a
 * run that cannot be kept is dropped (counted), as a lost frame would be. */
void
eng_on_votes(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (eng_record_settled(e, p, r)) {
        return; /* crediting it could change nothing (settled.c) */
    }
    if (eng_votes_try(e, p, r) != RUN_WAIT) {
        return;
    }
    /* Only a run this party can still check at its ballot, inside its
     * window, waits; the rest go the way of a lost frame. */
    uint32_t k = (uint32_t)(r->aux >> 8);
    if (r->ballot != eng_bal(e) || r->instance + k > eng_nu(e) + e->window) {
        e->ctr.votes_unverified++;
        return;
    }
    uint32_t mine = 0;
    int free_at = -1;
    for (uint32_t w = 0; e->vr.wait != NULL && w < ENG_RUN_WAIT; w++) {
        if (e->vr.wait[w].used && e->vr.wait[w].p == p) {
            mine++;
        } else if (!e->vr.wait[w].used && free_at < 0) {
            free_at = (int)w;
        }
    }
    if (mine >= ENG_RUN_WAIT_PER_SENDER || free_at < 0) {
        e->ctr.votes_unverified++;
        return;
    }
    e->vr.wait[free_at].used = true;
    e->vr.waiting++;
    e->vr.wait[free_at].p = p;
    e->vr.wait[free_at].r = *r;
}

void
eng_votes_retry(struct bpc_engine *e)
{
    /* Twice a step: before, every kept run was walked again each time,
     * idle steps included (16 runs of up to 64 instances: an idle step
     * 8 to 16 times its cost, a review's runs_wait). */
    if (e->vr.waiting == 0 ||
        (!e->vr.fresh_2a && e->vr.retry_bal == eng_bal(e) && e->vr.retry_nu == eng_nu(e))) {
        return;
    }
    e->vr.fresh_2a = false;
    e->vr.retry_bal = eng_bal(e);
    e->vr.retry_nu = eng_nu(e);
    for (uint32_t w = 0; e->vr.waiting > 0 && w < ENG_RUN_WAIT; w++) {
        struct eng_run_wait *x = &e->vr.wait[w];
        if (!x->used) {
            continue;
        }
        uint32_t k = (uint32_t)(x->r.aux >> 8);
        if (x->r.ballot < eng_bal(e) || x->r.instance + k <= eng_nu(e)) {
            x->used = false; /* nothing it could still move */
            e->vr.waiting--;
            e->ctr.votes_unverified++;
            continue;
        }
        if (eng_votes_try(e, x->p, &x->r) != RUN_WAIT) {
            x->used = false;
            e->vr.waiting--;
        }
    }
}

void
eng_vr_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->vr.cache = m->run_cache;
    e->vr.wait = m->run_wait;
    e->vr.bad_bal = m->run_bad_bal;
    e->vr.bad = m->run_bad;
}
