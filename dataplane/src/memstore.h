/*
 * memstore.h - the party's built-in in-memory durable store (no store
 * path, no persist hook: tests and in-process restarts). DPDK-free, so a
 * unit test builds it alone; not installed.
 *
 * Must never: be included by applications.
 */
#ifndef BPC_DP_MEMSTORE_H
#define BPC_DP_MEMSTORE_H

#include "bpcon.h"

#include <stdbool.h>
#include <stdint.h>

/* The built-in durable store: per window slot the record of the highest
 * instance that mapped there, max_bal and the apply-state records. */
struct dp_store {
    uint64_t mask;
    struct bpc_durable *slots;
    uint8_t *used;
    struct bpc_durable max_bal;
    bool has_max_bal;
    struct bpc_durable *applied; /* apply-state records, by submitter */
    uint8_t *applied_used;
    uint32_t parties;
    struct bpc_durable *export; /* scratch for bpc_dp_party_durable */
};

/* The persist hook of the built-in store (ctx: a struct dp_store): keeps
 * per slot the newest record of the highest instance, never a record of a
 * lower instance over it. Returns 0. */
__attribute__((visibility("hidden"))) int dp_store_put(void *ctx, const struct bpc_durable *recs,
                                                       uint32_t count);

#endif /* BPC_DP_MEMSTORE_H */
