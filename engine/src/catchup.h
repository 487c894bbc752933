/*
 * catchup.h - catch-up (catchup.c): STATUS announcements and requests,
 * DECIDED answers and claims.
 */
#ifndef BPC_CATCHUP_H
#define BPC_CATCHUP_H

#include "core.h"

/* Tells p that instance is decided (from a held slot, the recent
 * decisions or the log); nothing when this party cannot. Without bytes, a
 * DIGEST value is named by its identity alone (BPC_WIRE_AUX_NO_BYTES).
 * False when p's answers are used up for now (eng_answer_ok). */
ENG_FN bool eng_send_decided(struct bpc_engine *e, uint32_t p, uint64_t instance, bool bytes);
ENG_FN void eng_on_status(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_on_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Retransmit tick: STATUS(nu, bal) to every peer. */
ENG_FN void eng_cu_announce(struct bpc_engine *e);
/* End of a step: asks for the next stretch once half the last is applied. */
ENG_FN void eng_cu_pump(struct bpc_engine *e);
ENG_FN void eng_cu_restore(struct bpc_engine *e);
/* At init: the per-peer answer counts (struct eng_mem). */
ENG_FN void eng_cu_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_CATCHUP_H */
