/*
 * admit.h - frame admission and dispatch (admit.c): what the step and the
 * set-up of engine.c call.
 */
#ifndef BPC_ADMIT_H
#define BPC_ADMIT_H

#include "core.h"

/* Admits the step's frames in order and dispatches their records. */
ENG_FN void eng_receive_all(struct bpc_engine *e, const struct bpc_frame_in *f, uint32_t count);
/* Delivers the party's own queued records, in order; handlers may queue
 * more (bounded by the queue's capacity). */
ENG_FN void eng_drain_self(struct bpc_engine *e);
/* Takes the anti-replay window and decode scratch from the carved storage. */
ENG_FN void eng_rx_carve(struct bpc_engine *e, const struct eng_mem *m, uint32_t replay_bits);
/* At bpc_engine_start: every sender's replay entry written once. */
ENG_FN void eng_rx_start(struct bpc_engine *e);

#endif /* BPC_ADMIT_H */
