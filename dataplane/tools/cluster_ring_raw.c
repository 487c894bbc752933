/*
 * cluster_ring_raw.c - the ring transport's raw forwarding baseline
 * (--raw-baseline MS): after the consensus run, the same net_ring ports,
 * rings, mbuf pool and software switch carry plain frames of the run's
 * mean frame size for MS milliseconds, on the same lcore, with no engine:
 * each alive party's port receives a burst, rewrites the destination to
 * the next alive party and sends it on. Frames received per second is
 * the figure the consensus run's frames/s is set against.
 *
 * Owns: the baseline loop and its frames (injected, forwarded, freed).
 * Must never: poll a party (the parties are stopped, not freed, while it
 * runs), or leave a frame in a ring.
 */
#include "cluster_ring.h"

#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

/* Frames injected per alive port: enough to keep every ring busy. */
#define RAW_IN_FLIGHT 256u

/* Points a frame from party `from` at party `to`. */
static void
raw_address(struct rte_mbuf *m, uint32_t from, uint32_t to)
{
    struct rte_ether_hdr *h = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    dp_party_mac(to, h->dst_addr.addr_bytes);
    dp_party_mac(from, h->src_addr.addr_bytes);
}

/* The alive parties in id order; returns their count. */
static uint32_t
raw_alive(const struct ring_cluster *c, uint32_t *ids)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].alive) {
            ids[k++] = i;
        }
    }
    return k;
}

static void
raw_inject(struct ring_cluster *c, uint32_t from, uint32_t to, uint32_t len)
{
    struct rte_mbuf *b[RING_BURST];
    for (uint32_t sent = 0; sent < RAW_IN_FLIGHT; sent += RING_BURST) {
        uint32_t n = 0;
        while (n < RING_BURST) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(c->pool);
            char *d = m != NULL ? rte_pktmbuf_append(m, (uint16_t)(RTE_ETHER_HDR_LEN + len)) : NULL;
            if (d == NULL) {
                rte_pktmbuf_free(m);
                break;
            }
            memset(d, 0, RTE_ETHER_HDR_LEN + len);
            raw_address(m, from, to);
            struct rte_ether_hdr *h = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
            h->ether_type = rte_cpu_to_be_16(BPC_DP_ETHER_TYPE_DEFAULT);
            b[n++] = m;
        }
        uint16_t put = rte_eth_tx_burst(c->p[from].port, 0, b, (uint16_t)n);
        rte_pktmbuf_free_bulk(b + put, n - put);
        ring_switch(c);
    }
}

void
ring_raw_baseline(struct ring_cluster *c, struct cl_summary *s)
{
    uint32_t ids[CL_PARTIES_MAX];
    uint32_t alive = raw_alive(c, ids);
    uint32_t len = s->frames > 0 ? (uint32_t)(s->frame_bytes / s->frames) : c->cfg.frame_bytes;
    len = len < 64u ? 64u : len;
    struct cl_tap *tap = c->tap; /* the tap checks consensus frames only */
    c->tap = NULL;
    for (uint32_t i = 0; i < c->n; i++) {
        ring_ring_drain(c->p[i].to_party);
        ring_ring_drain(c->p[i].from_party);
    }
    for (uint32_t k = 0; k < alive; k++) {
        raw_inject(c, ids[k], ids[(k + 1) % alive], len);
    }
    uint64_t frames = 0;
    uint64_t start = bpc_dp_now_ns();
    uint64_t until = start + c->o->raw_ms * 1000000ull;
    uint64_t now = start;
    while (alive > 0 && now < until) {
        for (uint32_t k = 0; k < alive; k++) {
            struct rte_mbuf *b[RING_BURST];
            uint16_t port = c->p[ids[k]].port;
            uint16_t got = rte_eth_rx_burst(port, 0, b, RING_BURST);
            for (uint16_t j = 0; j < got; j++) {
                raw_address(b[j], ids[k], ids[(k + 1) % alive]);
            }
            uint16_t put = rte_eth_tx_burst(port, 0, b, got);
            rte_pktmbuf_free_bulk(b + put, got - put);
            frames += got;
        }
        ring_switch(c);
        now = bpc_dp_now_ns();
    }
    for (uint32_t i = 0; i < c->n; i++) {
        ring_ring_drain(c->p[i].to_party);
        ring_ring_drain(c->p[i].from_party);
    }
    c->tap = tap;
    s->raw_frames = frames;
    s->raw_ns = now - start;
    s->raw_len = len;
}
