/*
 * instance.h - one instance's vote state and its transitions (instance.c):
 * Phase2a (the leader's proposal), Phase2av, Phase2b and the decision, as
 * in BPConProof.tla.
 */
#ifndef BPC_INSTANCE_H
#define BPC_INSTANCE_H

#include "core.h"
#include "window.h"

#include <string.h>

/* Something may have made a held 2a verify: re-check at the next pump. */
static inline void
eng_recheck_request(struct bpc_engine *e)
{
    e->in.recheck = true;
}

static inline bool
eng_recheck_due(const struct bpc_engine *e)
{
    return e->in.recheck;
}

/* The requested re-check runs now (held.c). */
static inline void
eng_recheck_clear(struct bpc_engine *e)
{
    e->in.recheck = false;
}

/* A 2av or 2b at the current ballot left: 1b(bal) can no longer be rebuilt. */
static inline bool
eng_voted_at_bal(const struct bpc_engine *e)
{
    return e->in.voted_at_bal;
}

/* ------------------------------------------------------------------------
 * Read access to one instance's vote state (struct eng_vote, owned here).
 * ---------------------------------------------------------------------- */

static inline bool
eng_vote_is_decided(const struct eng_slot *s)
{
    return s->v.decided;
}

/* Decided with the value's bytes at hand (for a DIGEST value, in value
 * buffer eng_vote_dec_buf): ready to emit. */
static inline bool
eng_vote_decided_with_bytes(const struct eng_slot *s)
{
    return s->v.decided && s->v.dec_bytes;
}

/* Are any bytes lent from a 2a buffer (one test, for the common none)? */
static inline bool
eng_vote_lends(const struct eng_slot *s)
{
    return (s->v.dec_from | s->v.hist_lent) != 0;
}

/* Are bytes lent from generation g's 2a buffer (eng_vote_gen_leaving)? */
static inline bool
eng_vote_lends_from(const struct eng_slot *s, uint32_t g)
{
    if (s->v.dec_from == g + 1u) {
        return true;
    }
    for (uint32_t k = 0; s->v.hist_lent != 0 && k < s->v.hist_count; k++) {
        if ((s->v.hist_lent & (1u << k)) && eng_gen_of(s, s->v.hist_bal[k]) == (int)g) {
            return true;
        }
    }
    return false;
}

/* The value buffer holding a DIGEST decision's bytes (meaningful once
 * decided with bytes): the 2a buffer they arrived in, or ENG_GENS. */
static inline uint32_t
eng_vote_dec_buf(const struct eng_slot *s)
{
    return s->v.dec_from != 0 ? s->v.dec_from - 1u : ENG_GENS;
}

/* The decided value's id (meaningful once decided). */
static inline const struct bpc_vid *
eng_vote_dec_vid(const struct eng_slot *s)
{
    return &s->v.dec_vid;
}

/* The decided ballot as learned (a DECIDED claim's ballot is a peer's word). */
static inline uint64_t
eng_vote_dec_ballot(const struct eng_slot *s)
{
    return s->v.dec_ballot;
}

/* maxVBal and maxVVal, as in BPConProof.tla. */
static inline uint64_t
eng_vote_max_vbal(const struct eng_slot *s)
{
    return s->v.max_vbal;
}

static inline const struct bpc_vid *
eng_vote_max_vval(const struct eng_slot *s)
{
    return &s->v.max_vval;
}

/* The clean floor (0: none): no value was or can be chosen below it. */
static inline uint64_t
eng_vote_clean(const struct eng_slot *s)
{
    return s->v.clean;
}

/* The 2av history (the values this party vouched for), highest ballot first. */
static inline uint32_t
eng_vote_hist_count(const struct eng_slot *s)
{
    return s->v.hist_count;
}

static inline uint64_t
eng_vote_hist_bal(const struct eng_slot *s, uint32_t h)
{
    return s->v.hist_bal[h];
}

static inline const struct bpc_vid *
eng_vote_hist_val(const struct eng_slot *s, uint32_t h)
{
    return &s->v.hist_val[h];
}

/* Value buffer holding history entry h's bytes, or -1 when it holds none. */
static inline int
eng_vote_hist_buf(const struct eng_slot *s, uint32_t h)
{
    if ((s->v.hist_has & (1u << h)) == 0) {
        return -1;
    }
    return (s->v.hist_lent & (1u << h)) != 0 ? eng_gen_of(s, s->v.hist_bal[h])
                                             : (int)(ENG_HIST_BUF0 + s->v.hist_buf[h]);
}

/* Voted, vouched or decided: the slot has something to report. */
static inline bool
eng_vote_any(const struct eng_slot *s)
{
    return s->v.hist_count > 0 || s->v.max_vbal > 0 || s->v.decided;
}

/* Ballot of the highest 2av or 2b this party sent for the slot's instance
 * (the history is kept highest first). */
static inline uint64_t
eng_slot_vote_hi(const struct eng_slot *s)
{
    uint64_t hi = s->v.max_vbal;
    if (s->v.hist_count > 0 && s->v.hist_bal[0] > hi) {
        hi = s->v.hist_bal[0];
    }
    return hi;
}

/* Does value buffer `which` of the slot hold vid's bytes for ballot (2a
 * buffers: the generation's ballot must match too, unless the buffer
 * lends its bytes to the decision or the 2av history)? */
static inline bool
eng_vote_buffer_holds(const struct eng_slot *s, uint32_t which, uint64_t ballot,
                      const struct bpc_vid *vid)
{
    if (which < ENG_GENS) {
        /* A 2a names its ballot; bytes lent from this buffer (to the
         * decision or a history entry, sent in DECIDED and VALUE records)
         * are the 2a's whatever the record's ballot. */
        const struct eng_gen_2a *a = &s->gen[which].a;
        return a->has_2a && eng_vid_eq(&a->v2a, vid) &&
               (eng_vote_lends_from(s, which) || eng_gen_ballot(s, which) == ballot);
    }
    if (which == ENG_GENS) {
        return eng_vote_decided_with_bytes(s) && eng_vote_dec_buf(s) == ENG_GENS &&
               eng_vid_eq(&s->v.dec_vid, vid);
    }
    if (which == ENG_FETCH_BUF) {
        return eng_vid_eq(&s->v.fetch_vid, vid);
    }
    for (uint32_t k = 0; k < s->v.hist_count; k++) {
        if (ENG_HIST_BUF0 + s->v.hist_buf[k] == which) {
            return (s->v.hist_has & ~s->v.hist_lent & (1u << k)) != 0 &&
                   eng_vid_eq(&s->v.hist_val[k], vid);
        }
    }
    return false;
}

/* The slot is about to hold another instance: no vote state. */
static inline void
eng_vote_reset(struct eng_slot *s)
{
    memset(&s->v, 0, sizeof(s->v));
}

/* Was s decided by a 2b quorum that needed this party's own undurable
 * 2b (eng_on_vote_at)? It is applied once that vote is durable. */
static inline bool
eng_vote_dec_wait(const struct eng_slot *s)
{
    return s->v.dec_wait;
}

/* The value of generation g's 2a, or NULL when it has none. */
static inline const struct bpc_vid *
eng_gen_2a_vid(const struct eng_slot *s, uint32_t g)
{
    return s->gen[g].a.has_2a ? &s->gen[g].a.v2a : NULL;
}

/* The generation is about to tally another ballot: no 2a. */
static inline void
eng_gen_2a_reset(struct eng_gen *gen)
{
    memset(&gen->a, 0, sizeof(gen->a));
}

/* The durable part of the vote state into a durable record (the history
 * arrays written whole: persist.c clears only what precedes them). The
 * clean floor goes last in the history, of kind NONE, as in a 1b (with a
 * full history it takes the lowest entry's place when that lies below
 * it, else it is left out): a restart keeps claiming it. */
static inline void
eng_vote_durable(const struct eng_slot *s, struct bpc_durable *d)
{
    d->max_vbal = s->v.max_vbal;
    d->max_vval = s->v.max_vval;
    d->hist_count = s->v.hist_count;
    memcpy(d->hist_bal, s->v.hist_bal, sizeof(d->hist_bal));
    memcpy(d->hist_val, s->v.hist_val, sizeof(d->hist_val));
    uint32_t n = d->hist_count;
    if (s->v.clean > 0 && (n < BPC_HISTORY_MAX || d->hist_bal[n - 1] < s->v.clean)) {
        n = n < BPC_HISTORY_MAX ? n : n - 1u;
        d->hist_bal[n] = s->v.clean;
        memset(&d->hist_val[n], 0, sizeof(d->hist_val[n]));
        d->hist_count = (uint8_t)(n + 1u);
    }
}

/* ------------------------------------------------------------------------
 * Transitions.
 * ---------------------------------------------------------------------- */

/* Generation g is about to tally another ballot: bytes lent from its 2a
 * buffer move to the slot's own buffers first (callers test eng_vote_lends
 * first; the move is rare, so it stays out of line). */
ENG_FN __attribute__((cold, noinline)) void eng_vote_gen_leaving(struct bpc_engine *e,
                                                                 struct eng_slot *s, uint32_t g);
/* Learns that s's instance is decided with vid at ballot (own: by a 2b
 * quorum this party counted; bytes may be NULL). */
ENG_FN void eng_decide(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot,
                       const struct bpc_vid *vid, const uint8_t *bytes, bool own);
ENG_FN void eng_on_2a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* A peer's bytes for a DIGEST value its 1b names (VALUE record). */
ENG_FN void eng_on_value(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* instance_bytes.c: the bytes of vid among the slot's buffers (2a
 * generations, history, fetch, decision), or NULL. */
ENG_FN const uint8_t *eng_find_bytes(struct bpc_engine *e, struct eng_slot *s,
                                     const struct bpc_vid *vid);
/* s's newest durable record is d: when d no longer names the value
 * whose bytes last went to persist (dur_vid), forget it, so the next
 * record naming it sends the bytes again. The store keeps a value only
 * while its instance's newest record names it (docs/STORE.md), so a
 * value that left the record may leave the file at the next compaction;
 * before, the bytes were never sent twice for one instance. */
ENG_FN void eng_vote_dur_named(struct eng_slot *s, const struct bpc_durable *d);
/* The bytes of v (a DIGEST value slot s's vote state names) when they
 * are at hand and did not go to persist for this instance yet (they are
 * marked as gone); else NULL. */
ENG_FN const uint8_t *eng_vote_bytes_to_persist(struct bpc_engine *e, struct eng_slot *s,
                                                const struct bpc_vid *v);
/* A durable value back into the restored vote state of its instance: the
 * bytes of the history entries (else of maxVVal) that name it; skipped
 * when nothing names it or the bytes do not hash to it. */
ENG_FN void eng_restore_value(struct bpc_engine *e, const struct bpc_durable_value *d);
/* The bytes a DECIDED claim carried for a DIGEST value not decided here
 * yet (the decoder checked them against the digest): kept in the fetch
 * buffer, for the claims that decide the value without bytes, when it is
 * free, or (counted: the claim was just tallied) when what it holds is
 * only another claimed value with no more claim weight. */
ENG_FN void eng_keep_claim_bytes(struct bpc_engine *e, struct eng_slot *s,
                                 const struct bpc_vid *vid, const uint8_t *bytes, bool counted);
ENG_FN void eng_on_2av(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_on_2b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* What eng_on_2av (type BPC_MSG_2AV) or eng_on_2b does with p's vote for
 * vid once its lookup found generation g of slot s (runs.c): the caller
 * guarantees s holds the vote's instance and g tallies its ballot. */
ENG_FN void eng_on_vote_at(struct bpc_engine *e, uint32_t p, struct eng_slot *s, uint32_t g,
                           uint8_t type, const struct bpc_vid *vid);
/* Is r, claimed to come from p, settled: could applying it change nothing
 * but counters? (docs/ENGINE.md, "Settled frames".) Reads only. */
ENG_FN bool eng_record_settled(const struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Are records *from to count - 1 of a decoded frame settled: 1, else 0.
 * From 0 (before its tag): -1 once its runs add more than four full runs
 * of instances to look at, all settled so far, *from then the record to
 * go on from (before, 139 settled runs of 64 under any tag cost 8,896
 * looks: review E7's F2). */
ENG_FN int eng_frame_settled(const struct bpc_engine *e, uint32_t p, const struct bpc_record *recs,
                             int count, int *from);
/* A 2a for an instance decided here whose slot is gone. */
ENG_FN void eng_vote_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_vote_decided_2b(struct bpc_engine *e);
/* Leader: proposes instances from next_prop on while it can. */
/* The leader of generation g's ballot, elected once and kept in the
 * generation. */
ENG_FN int eng_gen_leader(struct bpc_engine *e, struct eng_slot *s, uint32_t g);
ENG_FN void eng_leader_pump(struct bpc_engine *e);
/* Phase2av on the 2a at bal of s, when it may be voted for now (else
 * held.c notes why it is held); view_same: s was held for a command's
 * proof and its KnowsSafeAt view has not changed since (not rebuilt). */
ENG_FN void eng_try_2av(struct bpc_engine *e, struct eng_slot *s, bool view_same);
/* Phase2b on s at bal, when a quorum of 2av allows it. */
ENG_FN void eng_try_2b(struct bpc_engine *e, struct eng_slot *s);
/* Retransmit tick: this party's 2a, 2av and 2b at bal for the first
 * undecided instances. */
ENG_FN void eng_in_retransmit(struct bpc_engine *e);
/* An instance voted on but undecided, or decided behind a gap. */
ENG_FN bool eng_in_has_work(const struct bpc_engine *e);
ENG_FN void eng_in_on_join(struct bpc_engine *e);
/* Before this party leaves its ballot: the step's queued 2b votes on
 * decided instances leave (eng_vote_decided_2b); as its leader, every value it
 * built from its queue there and that is not decided goes to
 * eng_lq_failed; else eng_in_refuse_held(ENG_REFUSE_LEAVE). */
ENG_FN void eng_in_on_leave(struct bpc_engine *e);
/* A batch value's bytes (inline or in the generation's buffer). */
static inline const uint8_t *
eng_gen_batch(const struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    const struct bpc_vid *v = &s->gen[g].a.v2a;
    return v->kind == BPC_VALUE_INLINE ? v->id : eng_slot_value(e, s, g);
}

struct eng_unproven;
/* Tells the leader, once per 2a (generation g of slot s, at this party's
 * ballot), that this party holds back its 2av because command bad of the
 * value is not proven its submitter's (refuse.c). */
ENG_FN void eng_refuse(struct bpc_engine *e, struct eng_slot *s, uint32_t g,
                       const struct eng_unproven *bad);
/* A REFUSE from p: as the leader of its ballot, notes the refused
 * submitter when the command is one of the value it proposed there. */
ENG_FN void eng_on_refuse(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* When eng_in_refuse_held runs. */
enum eng_refuse_when {
    ENG_REFUSE_TICK,  /* fast mode's retransmit tick */
    ENG_REFUSE_LEAVE, /* leaving the ballot */
    ENG_REFUSE_EVENT, /* paced mode's 2B event, long after the round's 2a */
};
/* Sends the leader a REFUSE for every 2a at this ballot still held back
 * because a command of it is not proven: at once when its MAC does not
 * match; when it is missing, at paced mode's 2B event, else only when it
 * was already missing at a retransmit tick (its ATTEST may be on its way):
 * at the next tick or on leaving the ballot. */
ENG_FN void eng_in_refuse_held(struct bpc_engine *e, enum eng_refuse_when when);
ENG_FN void eng_in_resume(struct bpc_engine *e);
ENG_FN void eng_in_restore(struct bpc_engine *e);
/* Restore: one instance's persisted vote state (dropped outside the
 * window). */
ENG_FN void eng_in_restore_vote(struct bpc_engine *e, const struct bpc_durable *d);
ENG_FN enum bpc_status eng_in_status(struct bpc_engine *e, uint64_t instance);

#endif /* BPC_INSTANCE_H */
