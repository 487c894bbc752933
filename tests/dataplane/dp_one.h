/*
 * dp_one.h - the one-party cluster the EAL dataplane tests poll.
 *
 * Owns: nothing (the party belongs to the caller). Must never: be used
 * for two parties in one process (the configuration it lends is static).
 */
#ifndef BPC_TEST_DP_ONE_H
#define BPC_TEST_DP_ONE_H

#include <stdint.h>

#include <rte_mempool.h>

#include "bpcon_dp.h"

/* Party 0 of a one-party cluster (weight 1, pair key bytes all key_fill)
 * on pool, persisting through persist; NULL, with a message naming test
 * on stderr, when bpc_dp_party_init refuses. */
struct bpc_dp_party *dp_one_party(struct rte_mempool *pool, uint8_t key_fill,
                                  bpc_dp_persist_fn persist, const char *test);

#endif /* BPC_TEST_DP_ONE_H */
