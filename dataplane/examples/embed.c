/*
 * embed.c - an application that owns EAL, its ports and its loop, and
 * embeds a 2-party bpcon cluster through libbpcon-dp.
 *
 * Two net_ring ports are wired back to back (a's tx ring is b's rx ring);
 * each party gets one of them. The loop polls both parties, submits
 * values to whichever leads, and stops after COMMANDS decisions.
 *
 *   bpcon-embed-example --no-huge --no-pci -m 128 -l 0 --file-prefix=bpc-embed
 *
 * (no --in-memory: DPDK 22.11 refuses it beside --no-huge, which implies
 * --legacy-mem)
 *
 * Must never: be more than an example (keys are fixed test bytes).
 */
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bpcon_dp.h"

#define COMMANDS 1000u
#define WINDOW 64u
#define DEADLINE_NS 30000000000ull

static uint64_t applied[2];

/* Called in log order for every command applied at party ctx. */
static void
on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
         uint32_t len)
{
    (void)instance, (void)submitter, (void)seq, (void)cmd, (void)len;
    applied[(uintptr_t)ctx]++;
}

/* Two net_ring ports wired back to back, started on pool. */
static void
embed_ports(struct rte_mempool *pool, uint16_t port[2])
{
    struct rte_ring *ab = rte_ring_create("embed_ab", 1024, (int)rte_socket_id(), 0);
    struct rte_ring *ba = rte_ring_create("embed_ba", 1024, (int)rte_socket_id(), 0);
    char err[256] = "";
    if (pool == NULL || ab == NULL || ba == NULL || bpc_dp_ring_port("embed_a", ba, ab, &port[0]) ||
        bpc_dp_ring_port("embed_b", ab, ba, &port[1]) ||
        bpc_dp_port_start(port[0], pool, 0, 0, err, sizeof(err)) ||
        bpc_dp_port_start(port[1], pool, 0, 0, err, sizeof(err))) {
        rte_exit(EXIT_FAILURE, "port setup failed %s\n", err);
    }
}

/* Party i of two, on port[i], the pair key all 7s (test keys). */
static struct bpc_dp_party *
embed_party(uint32_t i, struct rte_mempool *pool, const uint16_t port[2])
{
    static uint8_t keys[2][BPC_KEY_BYTES];
    static struct bpc_config cfg[2];
    memset(keys, 7, sizeof(keys));
    struct rte_ether_addr mac[2] = {{{2, 0, 0, 0, 0, 1}}, {{2, 0, 0, 0, 0, 2}}};
    bpc_config_defaults(&cfg[i]);
    cfg[i].parties_count = 2;
    cfg[i].weights[0] = cfg[i].weights[1] = 1;
    cfg[i].self = i;
    cfg[i].keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    cfg[i].on_apply = on_apply;
    cfg[i].apply_ctx = (void *)(uintptr_t)i;
    struct bpc_dp_link link = {.peer = 1 - i, .port_id = port[i], .mac = mac[1 - i]};
    struct bpc_dp_party_conf conf = {
        .engine = &cfg[i],
        .links = &link,
        .links_count = 1,
        .self_mac = mac[i],
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
        .telemetry = true,
    };
    struct bpc_dp_party *party = NULL;
    char err[256] = "";
    if (bpc_dp_party_init(&party, &conf, err, sizeof(err)) != 0) {
        rte_exit(EXIT_FAILURE, "party %u: %s\n", i, err);
    }
    return party;
}

/* The application's own loop: poll both, submit to either (the engine
 * forwards to the leader), until both applied every command. Returns how
 * many were submitted. */
static uint64_t
embed_run(struct bpc_dp_party *party[2])
{
    uint64_t submitted = 0;
    uint64_t start = bpc_dp_now_ns();
    while (applied[0] < COMMANDS || applied[1] < COMMANDS) {
        uint64_t now = bpc_dp_now_ns();
        if (now - start > DEADLINE_NS) {
            break;
        }
        for (uint32_t i = 0; i < 2; i++) {
            bpc_dp_party_poll(party[i], now);
            uint8_t value[32];
            snprintf((char *)value, sizeof(value), "cmd %llu", (unsigned long long)submitted);
            /* At most WINDOW commands in flight: rings stay far from full. */
            if (submitted < COMMANDS && submitted - applied[i] < WINDOW &&
                bpc_dp_party_submit(party[i], value, sizeof(value), NULL) == 0) {
                submitted++;
            }
        }
    }
    return submitted;
}

int
main(int argc, char **argv)
{
    if (rte_eal_init(argc, argv) < 0 || bpc_init() != 0) {
        rte_exit(EXIT_FAILURE, "EAL or libsodium init failed\n");
    }
    bpc_dp_clock_init();
    /* This thread steps both engines: it writes their decided logs (QSBR). */
    bpc_log_thread_register();
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "embed_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    uint16_t port[2];
    embed_ports(pool, port);
    struct bpc_dp_party *party[2];
    for (uint32_t i = 0; i < 2; i++) {
        party[i] = embed_party(i, pool, port);
    }
    (void)bpc_dp_telemetry_register();
    uint64_t submitted = embed_run(party);
    int ok = applied[0] == COMMANDS && applied[1] == COMMANDS;
    printf("embed: submitted %llu, applied %llu and %llu: %s\n", (unsigned long long)submitted,
           (unsigned long long)applied[0], (unsigned long long)applied[1], ok ? "ok" : "FAILED");
    for (uint32_t i = 0; i < 2; i++) {
        bpc_dp_party_free(party[i]);
        bpc_dp_port_close(port[i]);
    }
    bpc_log_thread_unregister();
    rte_eal_cleanup();
    return ok ? 0 : 1;
}
