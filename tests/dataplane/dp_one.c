/*
 * dp_one.c - the one-party cluster the EAL dataplane tests poll (dp_one.h).
 */
#include "dp_one.h"

#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>

struct bpc_dp_party *
dp_one_party(struct rte_mempool *pool, uint8_t key_fill, bpc_dp_persist_fn persist,
             const char *test)
{
    static uint8_t keys[1][BPC_KEY_BYTES];
    static struct bpc_config cfg;
    memset(keys, key_fill, sizeof(keys));
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.weights[0] = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .self_mac = {{2, 0, 0, 0, 0, 1}},
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
        .persist = persist,
    };
    struct bpc_dp_party *party = NULL;
    char err[256] = "";
    if (bpc_dp_party_init(&party, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: party init: %s\n", test, err);
        return NULL;
    }
    return party;
}
