/*
 * instance.h - one instance's vote state and its transitions (instance.c):
 * Phase2a (the leader's proposal), Phase2av, Phase2b and the decision, as
 * in BPConProof.tla.
 */
#ifndef BPC_INSTANCE_H
#define BPC_INSTANCE_H

#include "core.h"

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

/* A 2av or 2b at the current ballot left: 1b(bal) can no longer be rebuilt. */
static inline bool
eng_voted_at_bal(const struct bpc_engine *e)
{
    return e->in.voted_at_bal;
}

/* Learns that s's instance is decided with vid at ballot (own: by a 2b
 * quorum this party counted; bytes may be NULL). */
ENG_FN void eng_decide(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot,
                       const struct bpc_vid *vid, const uint8_t *bytes, bool own);
ENG_FN void eng_on_2a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* A peer's bytes for a DIGEST value its 1b names (VALUE record). */
ENG_FN void eng_on_value(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_on_2av(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_on_2b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* A 2a for an instance decided here whose slot is gone. */
ENG_FN void eng_vote_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Leader: proposes instances from next_prop on while it can. */
ENG_FN void eng_leader_pump(struct bpc_engine *e);
/* Runs a requested re-check of held 2a values and 2b conditions. */
ENG_FN void eng_recheck_pending(struct bpc_engine *e);
/* Retransmit tick: this party's 2a, 2av and 2b at bal for the first
 * undecided instances. */
ENG_FN void eng_in_retransmit(struct bpc_engine *e);
/* An instance voted on but undecided, or decided behind a gap. */
ENG_FN bool eng_in_has_work(const struct bpc_engine *e);
ENG_FN void eng_in_on_join(struct bpc_engine *e);
ENG_FN void eng_in_resume(struct bpc_engine *e);
ENG_FN void eng_in_restore(struct bpc_engine *e);
/* Restore: one instance's persisted vote state (dropped outside the
 * window). */
ENG_FN void eng_in_restore_vote(struct bpc_engine *e, const struct bpc_durable *d);
ENG_FN enum bpc_status eng_in_status(struct bpc_engine *e, uint64_t instance);

#endif /* BPC_INSTANCE_H */
