/*
 * node_workers.c - bpcon-node's rx worker lcores.
 *
 * Lcores: with one lcore (EAL -l/--lcores) the main lcore rx-bursts every
 * port, steps the engine and transmits. With W > 0 worker lcores each rx
 * (port, queue) of the party's links gets an SP/SC ring; queue q is polled
 * by worker q % W (W >= queues: one lcore per queue), which rx-bursts it
 * into the ring (bpc_dp_rx_forward); the main lcore dequeues from the rings,
 * steps the engine and does all tx.
 *
 * Owns: the rx rings (created before the party, freed after its last poll
 * with whatever they still hold), the queue-to-worker map, the workers'
 * loop, their stop flag and their counters.
 *
 * Must never: touch a worker's rx queue from the main lcore while workers
 * run, or free a ring before the workers are joined.
 */
#include "node.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

/* Set by the main lcore after its drain: rx workers return. */
static atomic_int node_workers_stop;

/* With worker lcores: one SP/SC ring per distinct rx (port, queue) of the
 * links (in the mesh one per peer), set as the rx_ring of every link that
 * names it. */
int
node_rx_rings(struct node *n, char *err, size_t err_len)
{
    if (rte_lcore_count() < 2) {
        return 0;
    }
    for (uint32_t i = 0; i < n->links_count; i++) {
        struct bpc_dp_link *l = &n->links[i];
        uint32_t q = 0;
        while (q < n->rxq_count &&
               (n->rxq[q].port != l->port_id || n->rxq[q].queue != l->queue_id)) {
            q++;
        }
        if (q == n->rxq_count) {
            char name[RTE_RING_NAMESIZE];
            snprintf(name, sizeof(name), "bpc_rx_%u_%u", l->port_id, l->queue_id);
            struct rte_ring *r = rte_ring_create(name, NODE_RX_RING, (int)rte_socket_id(),
                                                 RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (r == NULL) {
                snprintf(err, err_len, "rx ring %s of %u slots: %s", name, NODE_RX_RING,
                         rte_strerror(rte_errno));
                return -ENOMEM;
            }
            n->rxq[q] = (struct node_rxq){.port = l->port_id, .queue = l->queue_id, .ring = r};
            n->rxq_count++;
        }
        l->rx_ring = n->rxq[q].ring;
    }
    return 0;
}

/* Queue q goes to the (q % W)-th worker lcore; workers beyond the queue
 * count get none and are not launched. One INFO line tells the map. */
void
node_workers_plan(struct node *n)
{
    uint32_t w_all = rte_lcore_count() - 1;
    if (w_all == 0 || n->rxq_count == 0) {
        return;
    }
    uint32_t used = w_all < n->rxq_count ? w_all : n->rxq_count;
    unsigned int lcore;
    RTE_LCORE_FOREACH_WORKER (lcore) {
        if (n->workers_count == used) {
            break;
        }
        struct node_worker *w = &n->workers[n->workers_count++];
        w->lcore = lcore;
        w->rxq = n->rxq;
        w->idle = &n->o.idle;
    }
    char map[2048];
    int at = 0;
    for (uint32_t q = 0; q < n->rxq_count; q++) {
        struct node_worker *w = &n->workers[q % used];
        w->queues[w->queues_count++] = q;
        if (at >= 0 && (size_t)at < sizeof(map)) {
            at += snprintf(map + at, sizeof(map) - (size_t)at, "%sport %u queue %u -> lcore %u",
                           q > 0 ? ", " : "", n->rxq[q].port, n->rxq[q].queue, w->lcore);
        }
    }
    uint32_t idle = w_all - used;
    BPC_DP_LOG(INFO, "party %llu: rx lcores: %s; lcore %u steps the engine and transmits%s\n",
               (unsigned long long)n->o.id, map, rte_get_main_lcore(),
               idle > 0 ? "; the other worker lcores have no queue and stay unlaunched" : "");
}

/* Does what the main lcore did for its queues: rx bursts, now into the
 * rings, idling with --idle when none had a frame. */
static int
node_worker_main(void *arg)
{
    struct node_worker *w = arg;
    /* The worker holds no decided-log pointer, but dp_idle_wait's sleep
     * (and yield) goes QSBR-offline and back online around it, which liburcu
     * allows on registered threads only: register, and stay offline (an
     * offline thread never holds up a grace period). */
    bpc_log_thread_register();
    bpc_log_thread_offline();
    while (!atomic_load_explicit(&node_workers_stop, memory_order_relaxed)) {
        uint32_t moved = 0;
        for (uint32_t i = 0; i < w->queues_count; i++) {
            const struct node_rxq *q = &w->rxq[w->queues[i]];
            moved += bpc_dp_rx_forward(q->port, q->queue, q->ring, &w->stats);
        }
        if (moved == 0) {
            dp_idle_wait(w->idle);
            bpc_log_thread_offline(); /* sleep:US and yield came back online */
        }
    }
    bpc_log_thread_unregister();
    return 0;
}

int
node_workers_launch(struct node *n, char *err, size_t err_len)
{
    for (uint32_t i = 0; i < n->workers_count; i++) {
        int rc = rte_eal_remote_launch(node_worker_main, &n->workers[i], n->workers[i].lcore);
        if (rc != 0) {
            snprintf(err, err_len, "launching rx lcore %u: %s", n->workers[i].lcore,
                     rte_strerror(-rc));
            n->workers_count = i; /* the ones to stop */
            return rc;
        }
    }
    return 0;
}

/* After the main lcore's drain: workers return, then their counters are
 * read (rte_eal_mp_wait_lcore orders their writes before). */
void
node_workers_end(struct node *n)
{
    if (n->workers_count == 0) {
        return;
    }
    atomic_store(&node_workers_stop, 1);
    rte_eal_mp_wait_lcore();
    char line[1024];
    int at = 0;
    for (uint32_t i = 0; i < n->workers_count && at >= 0 && (size_t)at < sizeof(line); i++) {
        const struct node_worker *w = &n->workers[i];
        at += snprintf(line + at, sizeof(line) - (size_t)at,
                       "%slcore %u %llu frames in %llu bursts, %llu refused by a full ring",
                       i > 0 ? "; " : "", w->lcore, (unsigned long long)w->stats.frames,
                       (unsigned long long)w->stats.bursts,
                       (unsigned long long)w->stats.ring_refused);
    }
    BPC_DP_LOG(INFO, "party %llu: rx lcores stopped: %s\n", (unsigned long long)n->o.id, line);
}

/* Frees what the workers enqueued after the party's last poll, then the
 * rings (the party never touches them again). */
void
node_rx_rings_free(struct node *n)
{
    for (uint32_t q = 0; q < n->rxq_count; q++) {
        struct rte_mbuf *left[BPC_DP_RX_BURST];
        unsigned int got;
        while ((got = rte_ring_dequeue_burst(n->rxq[q].ring, (void **)left, BPC_DP_RX_BURST,
                                             NULL)) > 0) {
            rte_pktmbuf_free_bulk(left, got);
        }
        rte_ring_free(n->rxq[q].ring);
        n->rxq[q].ring = NULL;
    }
    n->rxq_count = 0;
}
