/*
 * test_party_unsafe.c - cfg.unsafe relaxes the quorum threshold only:
 * bpc_dp_party_init refuses every other configuration that
 * bpc_config_validate refuses, with validate's own code and message (it
 * used to go on with them under unsafe and fail later as a misleading
 * -ENOMEM, or not at all).
 *
 * Method: EAL without huge pages or PCI; for each broken configuration
 * (unsafe set) the code and message of bpc_config_validate are compared
 * with what bpc_dp_party_init returns; then an unsafe threshold (1 of 2)
 * is still accepted. Run as
 *   test_dp_party_unsafe --no-huge --no-pci -m 64 -l 0 --file-prefix=P
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "bpcon_dp.h"

static uint8_t keys[BPC_PARTIES_MAX][BPC_KEY_BYTES];

/* A two-party configuration with unsafe set, broken as named. */
static void
unsafe_config(struct bpc_config *cfg, const char *how)
{
    bpc_config_defaults(cfg);
    cfg->parties_count = 2;
    cfg->weights[0] = 1;
    cfg->weights[1] = 1;
    cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    cfg->unsafe = true;
    if (strcmp(how, "window 0") == 0) {
        cfg->window_slots = 0;
    } else if (strcmp(how, "parties 0") == 0) {
        cfg->parties_count = 0;
    } else if (strcmp(how, "parties 2000") == 0) {
        cfg->parties_count = 2000;
    } else if (strcmp(how, "self 7") == 0) {
        cfg->self = 7;
    } else if (strcmp(how, "threshold 1 of 2") == 0) {
        cfg->threshold = 1; /* what unsafe is for: accepted */
    }
}

/* 0 when party init answers as validate does for this configuration. */
static int
unsafe_case(struct rte_mempool *pool, const char *how)
{
    struct bpc_config cfg;
    unsafe_config(&cfg, how);
    char want[512] = "";
    char got[512] = "";
    int want_rc = bpc_config_validate(&cfg, want, sizeof(want));
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .self_mac = {{2, 0, 0, 0, 0, 1}},
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
    };
    struct bpc_dp_party *party = NULL;
    int rc = bpc_dp_party_init(&party, &conf, got, sizeof(got));
    if (party != NULL) {
        bpc_dp_party_free(party);
    }
    bool ok = rc == want_rc && (rc == 0 || strcmp(got, want) == 0);
    printf("%s: %s: validate %d '%s', party init %d '%s'\n", ok ? "ok" : "FAIL", how, want_rc, want,
           rc, got);
    fflush(stdout); /* a case that crashes still shows the ones before */
    return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (rte_eal_init(argc, argv) < 0 || bpc_init() != 0) {
        fprintf(stderr, "test_dp_party_unsafe: EAL or libsodium init failed\n");
        return 1;
    }
    bpc_dp_clock_init();
    bpc_log_thread_register();
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "unsafe_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (pool == NULL) {
        return 1;
    }
    static const char *const cases[] = {"window 0", "parties 0", "parties 2000", "self 7",
                                        "threshold 1 of 2"};
    int failed = 0;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        failed += unsafe_case(pool, cases[k]);
    }
    bpc_log_thread_unregister();
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return failed == 0 ? 0 : 1;
}
