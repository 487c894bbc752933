/*
 * cluster_ring_switch.c - the ring transport's segment: one net_ring port
 * per party over a pair of rings, and the software switch between them.
 *
 * Owns: the mbuf pool and the rings, forwarding by destination MAC (a frame
 * to a dead or unknown party, or into a full ring, is dropped and counted,
 * as a segment would lose it), staging per destination, handing every frame
 * a party sent to the frame tap, and emptying a party's rings.
 *
 * Must never: deliver a frame to a dead party, or free the frames a
 * crashed party sent before the tap has seen them.
 */
#include "cluster_ring.h"

#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

int
ring_ports(struct ring_cluster *c)
{
    uint32_t mbufs = RING_POOL_MBUFS(c->n);
    c->pool = rte_pktmbuf_pool_create("bpc_cluster_pool", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_socket_id());
    if (c->pool == NULL) {
        fprintf(stderr, "bpcon-cluster: mbuf pool: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        struct ring_party *p = &c->p[i];
        char name[32];
        unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
        snprintf(name, sizeof(name), "bpc_to_%u", i);
        p->to_party = rte_ring_create(name, RING_SLOTS, (int)rte_socket_id(), flags);
        snprintf(name, sizeof(name), "bpc_from_%u", i);
        p->from_party = rte_ring_create(name, RING_SLOTS, (int)rte_socket_id(), flags);
        snprintf(name, sizeof(name), "bpc_ring_%u", i);
        char err[256] = "";
        if (p->to_party == NULL || p->from_party == NULL ||
            bpc_dp_ring_port(name, p->to_party, p->from_party, &p->port) != 0 ||
            bpc_dp_port_start(p->port, c->pool, 0, 0, err, sizeof(err)) != 0) {
            fprintf(stderr, "bpcon-cluster: ring port %u: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

void
ring_ring_drain(struct rte_ring *r)
{
    struct rte_mbuf *b[RING_BURST];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(r, (void **)b, RING_BURST, NULL)) > 0) {
        rte_pktmbuf_free_bulk(b, n);
    }
}

/* Frames a party sent that the switch has not moved: the tap sees them
 * (they left the party), then they are dropped. */
void
ring_from_drain(struct ring_cluster *c, struct rte_ring *r)
{
    struct rte_mbuf *b[RING_BURST];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(r, (void **)b, RING_BURST, NULL)) > 0) {
        for (unsigned i = 0; c->tap != NULL && i < n; i++) {
            if (b[i]->data_len > RTE_ETHER_HDR_LEN) {
                cl_tap_frame(c->tap,
                             rte_pktmbuf_mtod_offset(b[i], const uint8_t *, RTE_ETHER_HDR_LEN),
                             (uint32_t)b[i]->data_len - RTE_ETHER_HDR_LEN);
            }
        }
        rte_pktmbuf_free_bulk(b, n);
    }
}

static void
ring_stage_flush(struct ring_cluster *c, uint32_t dst)
{
    uint16_t n = c->stage_count[dst];
    if (n == 0) {
        return;
    }
    unsigned put = rte_ring_sp_enqueue_burst(c->p[dst].to_party, (void **)c->stage[dst], n, NULL);
    if (put < n) {
        rte_pktmbuf_free_bulk(c->stage[dst] + put, n - put);
        c->switch_drops += n - put;
    }
    c->stage_count[dst] = 0;
}

/* The segment: every frame a party sent goes to the party its destination
 * MAC names. Returns the frames moved. */
uint32_t
ring_switch(struct ring_cluster *c)
{
    uint32_t moved = 0;
    for (uint32_t src = 0; src < c->n; src++) {
        struct rte_mbuf *b[RING_BURST];
        unsigned n = rte_ring_sc_dequeue_burst(c->p[src].from_party, (void **)b, RING_BURST, NULL);
        for (unsigned i = 0; i < n; i++) {
            if (c->tap != NULL && b[i]->data_len > RTE_ETHER_HDR_LEN) {
                cl_tap_frame(c->tap,
                             rte_pktmbuf_mtod_offset(b[i], const uint8_t *, RTE_ETHER_HDR_LEN),
                             (uint32_t)b[i]->data_len - RTE_ETHER_HDR_LEN);
            }
            const struct rte_ether_hdr *h = rte_pktmbuf_mtod(b[i], const struct rte_ether_hdr *);
            uint8_t want[6];
            uint32_t dst = ((uint32_t)h->dst_addr.addr_bytes[4] << 8) | h->dst_addr.addr_bytes[5];
            dp_party_mac(dst, want);
            if (dst >= c->n || !c->p[dst].alive || memcmp(want, h->dst_addr.addr_bytes, 6) != 0) {
                rte_pktmbuf_free(b[i]);
                c->switch_drops++;
                continue;
            }
            c->switch_frames++;
            c->switch_bytes += b[i]->data_len > RTE_ETHER_HDR_LEN
                                   ? (uint64_t)b[i]->data_len - RTE_ETHER_HDR_LEN
                                   : 0;
            c->stage[dst][c->stage_count[dst]++] = b[i];
            if (c->stage_count[dst] == RING_BURST) {
                ring_stage_flush(c, dst);
            }
        }
        moved += n;
    }
    for (uint32_t dst = 0; dst < c->n; dst++) {
        ring_stage_flush(c, dst);
    }
    return moved;
}
