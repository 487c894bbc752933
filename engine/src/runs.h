/*
 * runs.h - runs of votes (runs.c): VOTES records sent and received.
 */
#ifndef BPC_RUNS_H
#define BPC_RUNS_H

#include "core.h"

/* A VOTES record of p: credited now, or kept until the 2a values it
 * needs arrive, or dropped (counted). */
ENG_FN void eng_on_votes(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Re-checks the kept VOTES runs when a 2a value arrived, the ballot
 * changed or nu moved since the last re-check (else nothing changed for
 * them). */
ENG_FN void eng_votes_retry(struct bpc_engine *e);

/* A 2a value arrived (instance.c, eng_on_2a): kept runs may now check. */
static inline void
eng_votes_2a_arrived(struct bpc_engine *e)
{
    e->vr.fresh_2a = true;
}
/* The digest of a run of this party's values (cached: a run this party
 * sent or checked before, of either vote type, is not hashed again when
 * the values are the same). */
ENG_FN const uint8_t *eng_run_digest(struct bpc_engine *e, uint64_t ballot, uint64_t first,
                                     uint32_t k, const struct bpc_vid *vids);
ENG_FN void eng_vr_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_RUNS_H */
