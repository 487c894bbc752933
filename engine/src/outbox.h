/*
 * outbox.h - outgoing records (outbox.c): the broadcast ring, the unicast
 * list, the self queue, flush rounds into per-peer frames.
 */
#ifndef BPC_OUTBOX_H
#define BPC_OUTBOX_H

#include "core.h"

/* Records wait to be flushed. */
static inline bool
eng_ob_pending(const struct bpc_engine *e)
{
    return e->ob.bq_count > 0 || e->ob.uq_count > 0;
}

/* No room for a unicast or a broadcast. */
static inline bool
eng_ob_full(const struct bpc_engine *e)
{
    return e->ob.uq_count == e->ob.uq_cap || e->ob.bq_count == e->ob.bq_cap;
}

/* The self queue: own records, delivered by engine.c in order. */
static inline uint32_t
eng_self_count(const struct bpc_engine *e)
{
    return e->ob.selfq_count;
}

static inline const struct eng_out *
eng_self_at(const struct bpc_engine *e, uint32_t k)
{
    return &e->ob.selfq[k];
}

static inline void
eng_self_clear(struct bpc_engine *e)
{
    e->ob.selfq_count = 0;
}

/* Queues r for every peer (not for this party). */
ENG_FN void eng_peers_push(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val);
/* Likewise for an ATTEST, but not for peer `skip` (UINT32_MAX: none);
 * false when the queue was full (counted). */
ENG_FN bool eng_peers_push_but(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val,
                               uint32_t skip);
/* When the last broadcast record queued is an ATTEST of one MAC, for
 * command seq - 1 and not for `skip`, makes it hold command seq's MAC too
 * (eng_attest_fill computes both); true when it did. Only for a record
 * queued in the same step, before any flush could have packed it. */
ENG_FN bool eng_attest_join(struct bpc_engine *e, uint32_t skip, uint64_t seq);
/* Queues r for every peer and delivers it to this party too. */
ENG_FN void eng_broadcast(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val);
/* eng_broadcast of a vote sent again (no bytes): it leaves as a single
 * record, never in a run of votes (VOTES). A run at least half of whose
 * votes its receiver counted already is dropped unhashed (runs.c,
 * eng_votes_check), so votes sent again must not travel in runs. */
ENG_FN void eng_broadcast_alone(struct bpc_engine *e, const struct bpc_record *r);
/* Room for k more broadcast records (peers' ring and self queue both)? */
ENG_FN bool eng_broadcast_room(const struct bpc_engine *e, uint32_t k);
ENG_FN void eng_unicast(struct bpc_engine *e, uint32_t peer, const struct bpc_record *r,
                        const uint8_t *val);
/* A unicast whose DIGEST bytes (val, as read now) are the decided log's
 * entry of r->instance: the flush that sends it reads the entry again (a
 * round can span steps, and the log may reclaim the entry meanwhile: the
 * record is then not sent, as a value gone from its slot). Nothing is
 * copied, so no peer's answers can use up room another's need. */
ENG_FN void eng_unicast_logged(struct bpc_engine *e, uint32_t peer, const struct bpc_record *r,
                               const uint8_t *val);
/* Flush rounds completed so far: unicasts queued before the latest one
 * opened have left (or were dropped). */
static inline uint64_t
eng_ob_rounds_done(const struct bpc_engine *e)
{
    return e->ob.rounds_done;
}
/* Flushes the outbox unless a durability confirmation is outstanding.
 * Returns 0, or -EAGAIN when tx buffers ran out mid-round. */
ENG_FN int eng_flush(struct bpc_engine *e, struct bpc_step_out *out);
ENG_FN void eng_ob_carve(struct bpc_engine *e, const struct eng_mem *m);
/* bpc_engine_start: frame sequence numbers of this incarnation. */
ENG_FN void eng_ob_start(struct bpc_engine *e);

#endif /* BPC_OUTBOX_H */
