/*
 * memstore.c - the built-in in-memory durable store's persist hook.
 *
 * Owns: what a struct dp_store holds (party_init.c sizes it, party_store.c
 * exports it). Must never: replace the record of an instance with one of a
 * lower instance that shares its slot.
 */
#include "memstore.h"

int
dp_store_put(void *ctx, const struct bpc_durable *recs, uint32_t count)
{
    struct dp_store *s = ctx;
    for (uint32_t i = 0; i < count; i++) {
        if (recs[i].instance == UINT64_MAX) {
            s->max_bal = recs[i];
            s->has_max_bal = true;
            continue;
        }
        if (recs[i].instance >= BPC_DURABLE_APPLIED_BASE) {
            uint64_t sub = recs[i].instance - BPC_DURABLE_APPLIED_BASE;
            if (sub < s->parties) {
                s->applied[sub] = recs[i];
                s->applied_used[sub] = 1;
            }
            continue;
        }
        /* A slot holds one instance's record: that of the highest instance
         * seen there. A record of a lower instance comes after one of a
         * higher one when the engine vouches for an old decision (a decided
         * record, below the floor) while it holds a vote a window above it:
         * keeping the decided record would lose the vote, and the restarted
         * party would report that instance empty (an under-report). Votes
         * lie within a window of the floor, so two that share a slot never
         * both matter; a decided record lost this way costs only vouching
         * for it after a restart. */
        uint32_t slot = (uint32_t)(recs[i].instance & s->mask);
        if (s->used[slot] && s->slots[slot].instance > recs[i].instance) {
            continue;
        }
        s->slots[slot] = recs[i];
        s->used[slot] = 1;
    }
    return 0;
}
