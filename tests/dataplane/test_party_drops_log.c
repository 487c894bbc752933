/*
 * test_party_drops_log.c - the once-a-second "frames dropped" warning
 * speaks of frames that came as the party's own (its MAC, its ethertype)
 * and were dropped, and names their kinds; frames of another ethertype or
 * for another MAC, which a shared segment carries all the time, are
 * counted in their own counters and not warned about. Before (review D1),
 * every such frame went into the warning, once a second for a whole run,
 * while the warning named only engine reasons ("3241 frames dropped in
 * the last second (bad tag 0, replay 0, malformed 0 so far)").
 *
 * Method: EAL without huge pages or PCI; party 0 of a two-party cluster
 * whose one link is a net_ring port the test feeds: frames for another
 * MAC and of another ethertype, polled past two log ticks, then runt
 * frames for the party; the "bpcon" log goes to a memory stream. Run as
 *   test_dp_party_drops_log --no-huge --no-pci -m 64 -l 0 --file-prefix=P
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bpcon_dp.h"
#include "dp_check.h"

static int failures;

static const struct rte_ether_addr self_mac = {{2, 0, 0, 0, 0, 1}};
static const struct rte_ether_addr peer_mac = {{2, 0, 0, 0, 0, 2}};
static const struct rte_ether_addr other_mac = {{2, 0, 0, 0, 0, 9}};

/* count frames of len bytes (Ethernet header included) to dst with
 * ether_type (host order) into the party's rx ring. */
static void
feed(struct rte_ring *rx, struct rte_mempool *pool, const struct rte_ether_addr *dst,
     uint16_t ether_type, uint16_t len, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        CHECK(m != NULL, "no mbuf");
        if (m == NULL) {
            return;
        }
        char *b = rte_pktmbuf_append(m, len);
        memset(b, 0x5a, len);
        struct rte_ether_hdr *h = (struct rte_ether_hdr *)(void *)b;
        rte_ether_addr_copy(dst, &h->dst_addr);
        rte_ether_addr_copy(&peer_mac, &h->src_addr);
        h->ether_type = rte_cpu_to_be_16(ether_type);
        CHECK(rte_ring_enqueue(rx, m) == 0, "rx ring full");
    }
}

/* Polls the party at now, then one log tick (over a second) later. */
static uint64_t
poll_past_tick(struct bpc_dp_party *p, uint64_t now)
{
    (void)bpc_dp_party_poll(p, now);
    now += 1100000000ull;
    (void)bpc_dp_party_poll(p, now);
    return now;
}

static struct bpc_dp_party *
party_up(struct rte_mempool *pool, uint16_t port)
{
    static uint8_t keys[2][BPC_KEY_BYTES];
    static struct bpc_config cfg;
    memset(keys, 7, sizeof(keys));
    bpc_config_defaults(&cfg);
    cfg.parties_count = 2;
    cfg.weights[0] = 1;
    cfg.weights[1] = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    struct bpc_dp_link link = {.peer = 1, .port_id = port, .queue_id = 0, .mac = peer_mac};
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .links = &link,
        .links_count = 1,
        .self_mac = self_mac,
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
    };
    struct bpc_dp_party *party = NULL;
    char err[256] = "";
    if (bpc_dp_party_init(&party, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "party init: %s\n", err);
        return NULL;
    }
    return party;
}

/* The log so far (NUL-terminated: open_memstream keeps it so). */
static const char *
log_text(FILE *f, char **buf)
{
    fflush(f);
    return *buf != NULL ? *buf : "";
}

int
main(int argc, char **argv)
{
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    struct rte_mempool *pool =
        rte_pktmbuf_pool_create("drops_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    struct rte_ring *rx = rte_ring_create("drops_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    struct rte_ring *tx = rte_ring_create("drops_tx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    uint16_t port = 0;
    char err[256] = "";
    if (log == NULL || pool == NULL || rx == NULL || tx == NULL ||
        bpc_dp_ring_port("drops_port", rx, tx, &port) != 0 ||
        bpc_dp_port_start(port, pool, 0, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "set-up failed: %s\n", err);
        return 1;
    }
    struct bpc_dp_party *p = party_up(pool, port);
    if (p == NULL) {
        return 1;
    }
    rte_openlog_stream(log);
    uint64_t now = bpc_dp_now_ns();
    now = poll_past_tick(p, now); /* the first tick logs the link and ballot */
    size_t before = strlen(log_text(log, &buf));

    /* A shared segment's traffic: for another MAC, and another ethertype. */
    feed(rx, pool, &other_mac, BPC_DP_ETHER_TYPE_DEFAULT, 100, 40);
    feed(rx, pool, &self_mac, 0x0800, 100, 30);
    now = poll_past_tick(p, now + 1);
    const struct bpc_dp_counters *c = bpc_dp_party_counters(p);
    CHECK(c->rx_drop_dst_mac == 40 && c->rx_drop_ether_type == 30,
          "dst_mac %llu (want 40), ether_type %llu (want 30)",
          (unsigned long long)c->rx_drop_dst_mac, (unsigned long long)c->rx_drop_ether_type);
    const char *text = log_text(log, &buf) + before;
    CHECK(strstr(text, "dropped") == NULL, "warned of frames not for the party: %s", text);

    /* Runt frames for the party: warned of, named. */
    before = strlen(log_text(log, &buf));
    feed(rx, pool, &self_mac, BPC_DP_ETHER_TYPE_DEFAULT, RTE_ETHER_HDR_LEN, 5);
    (void)poll_past_tick(p, now + 1);
    text = log_text(log, &buf) + before;
    CHECK(c->rx_drop_short == 5, "short %llu (want 5)", (unsigned long long)c->rx_drop_short);
    CHECK(strstr(text, "party 0: 5 frames for it dropped in the last second") != NULL &&
              strstr(text, "short or segmented 5, other 0") != NULL,
          "the warning for 5 runt frames, in: %s", text);

    rte_openlog_stream(NULL);
    bpc_dp_party_free(p);
    bpc_dp_port_close(port);
    fclose(log);
    free(buf);
    rte_eal_cleanup();
    if (failures > 0) {
        fprintf(stderr, "test_dp_party_drops_log: %d failures\n", failures);
        return 1;
    }
    printf("test_dp_party_drops_log: ok\n");
    return 0;
}
