/*
 * runs.h - runs of votes (runs.c): VOTES records sent and received.
 */
#ifndef BPC_RUNS_H
#define BPC_RUNS_H

#include "core.h"

/* A VOTES record of p: credited now, or kept until the 2a values it
 * needs arrive, or dropped (counted). */
ENG_FN void eng_on_votes(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Re-checks the kept VOTES runs (after new 2a values may have arrived). */
ENG_FN void eng_votes_retry(struct bpc_engine *e);
/* The digest of a run of this party's values (cached: a run this party
 * sent or checked before, of either vote type, is not hashed again when
 * the values are the same). */
ENG_FN const uint8_t *eng_run_digest(struct bpc_engine *e, uint64_t ballot, uint64_t first,
                                     uint32_t k, const struct bpc_vid *vids);
ENG_FN void eng_vr_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_RUNS_H */
