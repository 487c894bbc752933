/*
 * ballot.h - the party-wide ballot (ballot.c): leader, join rule,
 * deadlines, paced events, the retransmit tick.
 */
#ifndef BPC_BALLOT_H
#define BPC_BALLOT_H

#include "core.h"

/* The current ballot (one for every undecided instance). */
static inline uint64_t
eng_bal(const struct bpc_engine *e)
{
    return e->bl.bal;
}

/* Leader of the current ballot, -1 before the first. */
static inline int
eng_leader(const struct bpc_engine *e)
{
    return e->bl.leader;
}

/* Leader of ballot b: the current ballot's is kept (elected once, when the
 * ballot was joined), and so are those of the next ENG_2A_AHEAD ballots
 * (bl.ahead), so a peer repeating records there costs one election
 * (BLAKE2b), not one per record; any other is elected here (a
 * generation keeps its ballot's: eng_gen_leader, instance.c). */
ENG_FN int eng_leader_other(struct bpc_engine *e, uint64_t b);
static inline int
eng_leader_of(struct bpc_engine *e, uint64_t b)
{
    return b == e->bl.bal && e->bl.leader >= 0 ? e->bl.leader : eng_leader_other(e, b);
}

static inline bool
eng_is_leader(const struct bpc_engine *e)
{
    return e->bl.leader >= 0 && (uint32_t)e->bl.leader == e->self;
}

/* Fetches the line of peer p's latest ballot, which eng_ballot_observe
 * reads and may write for each of p's records (engine.c, ahead of a
 * burst). */
static inline void
eng_bl_prefetch_peer(const struct bpc_engine *e, uint32_t p)
{
    __builtin_prefetch(&e->bl.peer_bal[p], 1);
}

/* Would a record of p at ballot tell this party nothing it can use? What
 * peer_bal holds is read only as "above bal" (eng_ballot_quorum) and "at
 * bal or above" (bl.w_at, compared with F), so a record below bal is never
 * news, and one at bal is news only while p is not known there and the
 * weight known there is F or less (docs/ENGINE.md, "Settled frames"). */
static inline bool
eng_bl_observed(const struct bpc_engine *e, uint32_t p, uint64_t ballot)
{
    return ballot < e->bl.bal ||
           (ballot == e->bl.bal && (e->bl.w_at > e->faulty || e->bl.peer_bal[p] >= ballot));
}

/* Fast mode: always; paced mode: once the event fired this round. */
static inline bool
eng_event_fired(const struct bpc_engine *e, enum bpc_event ev)
{
    return !eng_paced(e) || (e->bl.events & (1u << ev)) != 0;
}

static inline uint32_t
eng_events(const struct bpc_engine *e)
{
    return e->bl.events;
}

/* The current ballot's 1a: received from its leader, or sent as leader. */
static inline bool
eng_1a_seen(const struct bpc_engine *e)
{
    return e->bl.got_1a || (eng_is_leader(e) && e->bl.sent_1a);
}

/* Every record but FORWARD and ATTEST: notes the sender's ballot, and
 * joins a higher one by the 1a of its leader or a weak quorum's move. */
ENG_FN void eng_ballot_observe(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* A 1a: from the current ballot's leader, it may ask for held reports. */
ENG_FN void eng_on_1a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* A decision: the ballot made progress, its deadline starts again. */
ENG_FN void eng_bl_progress(struct bpc_engine *e);
ENG_FN void eng_bl_rearm(struct bpc_engine *e);
/* Work appeared (an own command drained, a peer's next command in line
 * witnessed through its FORWARD or ATTEST, a 2a at the party's ballot):
 * after a deadline that passed with no work, the deadline starts again
 * (eng_bl_rearm). Records that bring no work (an ATTEST of a command
 * applied already, say) re-arm nothing: a Byzantine party's stale
 * ATTESTs after each idle deadline brought back the failures the re-arm
 * is for (review G11, L1: 54 failed ballots for 40 commands in
 * test_stale_attests_rearm_nothing). A sender can delay a failover by
 * less than one timeout, once per idle deadline, and only with work the
 * deadline then acts on. */
static inline void
eng_bl_work(struct bpc_engine *e)
{
    if (e->bl.idle) {
        eng_bl_rearm(e);
    }
}
/* Paced mode: the next round starts now under the same ballot. */
ENG_FN void eng_round_restart(struct bpc_engine *e);
/* Deadlines, paced events and the retransmit tick, once per step. */
ENG_FN void eng_timers(struct bpc_engine *e);
/* When eng_timers next has something to do. */
ENG_FN uint64_t eng_bl_deadline(const struct bpc_engine *e);
/* bpc_engine_start: ballot 1, or the ballot promised before a restart. */
ENG_FN void eng_bl_start(struct bpc_engine *e);
ENG_FN void eng_bl_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_BALLOT_H */
