/*
 * persist.h - durability (persist.c): the party-wide durable facts, the
 * records a step asks the caller to persist, the vouch records, restore.
 */
#ifndef BPC_PERSIST_H
#define BPC_PERSIST_H

#include "core.h"
#include "window.h"

static inline uint64_t
eng_max_bal(const struct bpc_engine *e)
{
    return e->ps.max_bal;
}

/* Restarts so far (frame and command sequence numbers start above). */
static inline uint64_t
eng_incarnation(const struct bpc_engine *e)
{
    return e->ps.incarnation;
}

ENG_FN bool eng_seq_room_slow(struct bpc_engine *e, uint64_t seq);

/* May sequence number seq (a frame's or an own command's) be used? Only
 * when the records confirmed so far carry its incarnation range: after a
 * restart every number starts above it. Nearing the end of that range
 * the next batch carries the next incarnation, long before a number needs
 * it (ENG_SEQ_MARGIN); false (wait) only if it is not confirmed by then. */
static inline bool
eng_seq_room(struct bpc_engine *e, uint64_t seq)
{
    return seq < e->ps.seq_watch || eng_seq_room_slow(e, seq);
}

/* Records are out and not yet confirmed: no frame may leave. */
static inline bool
eng_persist_pending(const struct bpc_engine *e)
{
    return e->ps.persist_pending;
}

/* Is s's vote state durable? Not while it is on the dirty list (changed
 * since the last batch went out) or a batch waits for
 * bpc_engine_persisted. */
static inline bool
eng_vote_durable_now(const struct bpc_engine *e, const struct eng_slot *s)
{
    return !s->dirty && !e->ps.persist_pending;
}

/* Something changed that must be persisted before frames leave. */
static inline bool
eng_persist_due(const struct bpc_engine *e)
{
    /* A floor a window past the last batch's: its decided records go now,
     * before more pass than one batch holds (ENG_DECIDED_BATCH_MAX). */
    return e->ps.max_bal_dirty || e->ps.dirty_count > 0 || e->ps.vouch_count > 0 ||
           e->ps.floor_due || eng_nu(e) - e->ps.floor_out >= e->window;
}

static inline bool
eng_vouch_full(const struct bpc_engine *e)
{
    return e->ps.vouch_count == ENG_VOUCH_MAX;
}

/* Decisions were learned from DECIDED claims (catch-up): the floor they
 * move is persisted with the next batch, votes or not. */
ENG_FN void eng_ps_learned(struct bpc_engine *e);
/* The retransmit tick: a floor that moved since the last batch is
 * persisted with the next one (an idle party sends no vote to carry it). */
ENG_FN void eng_ps_tick(struct bpc_engine *e);
/* The slot's vote state changed: persist it with the next batch. */
ENG_FN void eng_mark_dirty(struct bpc_engine *e, struct eng_slot *s);
/* Raises the durable max_bal to b (never lowers it). */
ENG_FN void eng_raise_max_bal(struct bpc_engine *e, uint64_t b);
/* A vote (2av and 2b at ballot for vid) on a decided instance without a
 * slot (decided with vid at dec_ballot, as learned): persisted as that
 * instance's decided record. Its maxVBal and maxVVal stay (mbal, mval),
 * the party's own before the vote (docs/ENGINE.md, "Vote reports"). */
ENG_FN void eng_persist_vouch(struct bpc_engine *e, uint64_t instance, uint64_t ballot,
                              uint64_t mbal, const struct bpc_vid *mval, const struct bpc_vid *vid,
                              uint64_t dec_ballot);
/* Fills out->persist with the step's records and holds frames. */
ENG_FN void eng_collect_persist(struct bpc_engine *e, struct bpc_step_out *out);
ENG_FN void eng_ps_persisted(struct bpc_engine *e);
ENG_FN int eng_ps_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count);
/* May this start raise the incarnation? False when the record it would
 * persist (BPC_INCARNATION_MAX with a promise) is one no restart takes:
 * the party's incarnations are used up. */
ENG_FN bool eng_ps_start_ok(const struct bpc_engine *e);
/* bpc_engine_start: a restarted party is a new incarnation. */
ENG_FN void eng_ps_start(struct bpc_engine *e);
ENG_FN void eng_ps_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_PERSIST_H */
