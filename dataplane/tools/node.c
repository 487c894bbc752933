/*
 * node.c - bpcon-node: one party of a cluster in its own process.
 *
 *   bpcon-node [EAL args] -- --cluster FILE --id N [--idle busy|pause|sleep:US]
 *       [--commands K --window W --value-size B] [--report-fd FD]
 *       [--log-out FILE] [--store FILE [--no-fsync]] [--wait-go]
 *
 * Owns: EAL and port bring-up for one party (the port spec of its cluster
 * file line: "vhost-mesh:DIR" builds a full mesh of net_vhost/virtio_user
 * links, "port:N" uses an EAL-created port for every peer), the main
 * lcore's poll loop, the rx worker lcores, the idle policy, and the orderly
 * stop on SIGINT or SIGTERM (drain, stop workers, free their rings, stop
 * ports, rte_eal_cleanup, exit 0; virtio_user server ports and EAL cleanup
 * are left to process exit, see node_stop).
 *
 * Lcores: with one lcore (EAL -l/--lcores) the main lcore rx-bursts every
 * port, steps the engine and transmits. With W > 0 worker lcores each rx
 * (port, queue) of the party's links gets an SP/SC ring; queue q is polled
 * by worker q % W (W >= queues: one lcore per queue), which rx-bursts it
 * into the ring (bpc_dp_rx_forward); the main lcore dequeues from the rings,
 * steps the engine and does all tx.
 *
 * Must never: exit from a signal handler, or do anything in one beyond
 * setting a C11 atomic flag; touch a worker's rx queue from the main lcore
 * while workers run.
 */
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <sodium.h>

/* Descriptors per port and the virtio queue size (vhost-user mesh). */
#define NODE_DESC 512u
/* Progress lines on the report fd, at most this often. */
#define NODE_REPORT_NS 100000000ull
/* Drain at stop: keep polling until this long passes without work. */
#define NODE_DRAIN_QUIET_NS 100000000ull
#define NODE_DRAIN_MAX_NS 2000000000ull
/* Slots of each rx worker's ring: several polls' worth of the party's rx
 * budget (BPC_DP_RX_BURST * BPC_DP_RX_BURSTS_MAX) for the main lcore to
 * fall behind by before the ring refuses frames. */
#define NODE_RX_RING 1024u

static atomic_int node_quit;
static atomic_int node_go;
/* Set by the main lcore after its drain: rx workers return. */
static atomic_int node_workers_stop;

static void
node_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        atomic_store(&node_go, 1);
    } else {
        atomic_store(&node_quit, 1);
    }
}

struct node_opts {
    const char *cluster;
    uint64_t id;
    struct dp_idle idle;
    uint64_t commands;
    uint64_t window;
    uint64_t value_bytes;
    int report_fd;
    const char *log_out;
    const char *store;
    bool no_fsync;
    bool wait_go;
    bool no_load;
    int control_fd;
    uint64_t log_retain;
};

/* One rx (port, queue) of the party's links and its hand-off ring. */
struct node_rxq {
    uint16_t port;
    uint16_t queue;
    struct rte_ring *ring;
};

/* An rx worker lcore: the queues it polls (indexes into node.rxq). Its
 * stats are written only by it and read after rte_eal_mp_wait_lcore. */
struct node_worker {
    unsigned int lcore;
    uint32_t queues[BPC_DP_PORTS_MAX];
    uint32_t queues_count;
    const struct node_rxq *rxq;
    const struct dp_idle *idle;
    struct bpc_dp_rx_stats stats;
} __rte_cache_aligned;

struct node {
    struct node_opts o;
    struct bpc_dp_cluster cluster;
    struct bpc_config cfg;
    uint8_t (*keys)[BPC_KEY_BYTES];
    struct rte_mempool *pool;
    uint16_t ports[BPC_DP_PORTS_MAX];
    bool port_exit_only[BPC_DP_PORTS_MAX]; /* not stopped at exit (see node_stop) */
    uint32_t ports_count;
    struct bpc_dp_link links[BPC_DP_PORTS_MAX];
    uint32_t links_count;
    struct node_rxq rxq[BPC_DP_PORTS_MAX]; /* only with worker lcores */
    uint32_t rxq_count;
    struct node_worker workers[BPC_DP_PORTS_MAX];
    uint32_t workers_count; /* launched: min(worker lcores, rxq_count) */
    struct dp_load load;
    struct bpc_dp_party *party;
    FILE *report;
};

static void
node_usage(FILE *f)
{
    fprintf(f, "usage: bpcon-node [EAL args] -- --cluster FILE --id N\n"
               "  [--idle busy|pause|sleep:US] [--commands K] [--window W] [--value-size B]\n"
               "  [--report-fd FD] [--log-out FILE] [--store FILE [--no-fsync]] [--wait-go]\n"
               "  [--no-load] [--control-fd FD] [--log-retain N]\n"
               "       bpcon-node --help | --version\n"
               "--store FILE: the party's durable store (created, or recovered and restored\n"
               "from); every step's records are fdatasync'ed before the frames that depend\n"
               "on them leave. --no-fsync: benchmarks only, a machine crash can then lose\n"
               "votes already sent (--fsync, the default, is accepted and changes nothing).\n"
               "Control lines on FD: 'go' starts the load (with --wait-go), 'adopt ID'\n"
               "makes this party submit the share of crashed party ID too.\n"
               "EAL worker lcores (-l/--lcores with more than one): each rx queue is\n"
               "polled by worker q %% W and handed to the main lcore through a ring.\n");
}

static int
node_parse(int argc, char **argv, struct node_opts *o)
{
    static const struct option opts[] = {
        {"cluster", required_argument, NULL, 'c'},    {"id", required_argument, NULL, 'i'},
        {"idle", required_argument, NULL, 'I'},       {"commands", required_argument, NULL, 'k'},
        {"window", required_argument, NULL, 'w'},     {"value-size", required_argument, NULL, 'b'},
        {"report-fd", required_argument, NULL, 'r'},  {"log-out", required_argument, NULL, 'l'},
        {"store", required_argument, NULL, 's'},      {"fsync", no_argument, NULL, 'f'},
        {"no-fsync", no_argument, NULL, 'F'},         {"wait-go", no_argument, NULL, 'g'},
        {"no-load", no_argument, NULL, 'L'},          {"control-fd", required_argument, NULL, 'C'},
        {"log-retain", required_argument, NULL, 'R'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},          {NULL, 0, NULL, 0},
    };
    *o = (struct node_opts){
        .id = UINT64_MAX, .window = 64, .value_bytes = 64, .report_fd = -1, .control_fd = -1};
    o->idle.kind = DP_IDLE_SLEEP;
    o->idle.sleep_us = 10;
    uint64_t fd = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        const char *flag = "";
        const char *range = "";
        switch (c) {
        case 'c':
            o->cluster = optarg;
            break;
        case 'i':
            flag = "--id";
            range = "a party id in 0..1023";
            rc = dp_parse_u64(optarg, BPC_DP_PARTIES_MAX - 1, &o->id);
            break;
        case 'I':
            flag = "--idle";
            range = "busy, pause or sleep:US with US in 0..1000000";
            rc = dp_idle_parse(optarg, &o->idle);
            break;
        case 'k':
            flag = "--commands";
            range = "0..4294967296";
            rc = dp_parse_u64(optarg, 1ull << 32, &o->commands);
            break;
        case 'w':
            flag = "--window";
            range = "a power of two in 1..65536";
            rc = dp_parse_u64(optarg, BPC_WINDOW_SLOTS_MAX, &o->window);
            rc = rc == 0 && (o->window == 0 || (o->window & (o->window - 1)) != 0) ? -EINVAL : rc;
            break;
        case 'b':
            flag = "--value-size";
            range = "1..8192 bytes (the frame must also hold it: see docs/DATAPLANE.md)";
            rc = dp_parse_u64(optarg, BPC_VALUE_BYTES_MAX, &o->value_bytes);
            rc = rc == 0 && o->value_bytes == 0 ? -EINVAL : rc;
            break;
        case 'r':
            flag = "--report-fd";
            range = "0..1024";
            rc = dp_parse_u64(optarg, 1024, &fd);
            o->report_fd = (int)fd;
            break;
        case 'l':
            o->log_out = optarg;
            break;
        case 's':
            o->store = optarg;
            break;
        case 'f':
            o->no_fsync = false; /* the default; kept for old command lines */
            break;
        case 'F':
            o->no_fsync = true;
            break;
        case 'g':
            o->wait_go = true;
            break;
        case 'L':
            o->no_load = true;
            break;
        case 'C':
            flag = "--control-fd";
            range = "0..1024";
            rc = dp_parse_u64(optarg, 1024, &fd);
            o->control_fd = (int)fd;
            break;
        case 'R':
            flag = "--log-retain";
            range = "0..4294967296";
            rc = dp_parse_u64(optarg, 1ull << 32, &o->log_retain);
            break;
        case 'h':
            node_usage(stdout);
            exit(0);
        case 'V':
            printf("bpcon-node %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(0);
        default:
            return -EINVAL; /* getopt named the flag */
        }
        if (rc != 0) {
            fprintf(stderr, "bpcon-node: %s '%s': expected %s\n", flag, optarg, range);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bpcon-node: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (o->cluster == NULL || o->id == UINT64_MAX) {
        fprintf(stderr, "bpcon-node: missing required flag %s\n",
                o->cluster == NULL ? "--cluster FILE" : "--id N");
        return -EINVAL;
    }
    return 0;
}

/* The program's own arguments (after "--", or all of them when there is
 * no "--"): parsed before EAL starts, so --help, --version and every bad
 * flag answer at once, without EAL. Returns the index of "--" or argc. */
static int
node_early_args(int argc, char **argv, struct node_opts *o)
{
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--") != 0) {
        dash++;
    }
    /* --help or --version among the EAL part (no "--" given) too. */
    for (int k = 1; k < dash; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            node_usage(stdout);
            exit(0);
        }
        if (strcmp(argv[k], "--version") == 0) {
            printf("bpcon-node %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(0);
        }
    }
    if (dash == argc) {
        fprintf(stderr, "bpcon-node: missing '--' before the program's flags "
                        "(EAL arguments come first; bpcon-node --help)\n");
        exit(2);
    }
    char *saved = argv[dash];
    argv[dash] = argv[0];
    int rc = node_parse(argc - dash, argv + dash, o);
    argv[dash] = saved;
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: see bpcon-node --help\n");
        exit(2);
    }
    return dash;
}

/* One link per peer over a vhost-user full mesh: for pair (lo, hi) the
 * lower id runs net_vhost as a reconnecting client, the higher id runs
 * virtio_user as the server, on DIR/bpc-LO-HI.sock. A restarted party of
 * either side re-attaches: the vhost client reconnects on its own, and the
 * virtio_user server accepts the new connection. */
static int
node_mesh(struct node *n, const char *dir, char *err, size_t err_len)
{
    uint32_t self = (uint32_t)n->o.id;
    for (uint32_t peer = 0; peer < n->cluster.parties_count; peer++) {
        if (peer == self) {
            continue;
        }
        uint32_t lo = self < peer ? self : peer;
        uint32_t hi = self < peer ? peer : self;
        char name[64];
        char args[BPC_DP_PATH_MAX + 128];
        if (self == lo) {
            snprintf(name, sizeof(name), "net_vhost%u", peer);
            snprintf(args, sizeof(args), "iface=%s/bpc-%u-%u.sock,queues=1,client=1", dir, lo, hi);
        } else {
            /* A socket file left by a crashed run of this party would make
             * the server's bind fail: the server owns the path. */
            char sock[BPC_DP_PATH_MAX + 64];
            snprintf(sock, sizeof(sock), "%s/bpc-%u-%u.sock", dir, lo, hi);
            (void)unlink(sock);
            snprintf(name, sizeof(name), "virtio_user%u", peer);
            snprintf(args, sizeof(args), "path=%s/bpc-%u-%u.sock,queues=1,queue_size=%u,server=1",
                     dir, lo, hi, NODE_DESC);
        }
        if (n->ports_count == BPC_DP_PORTS_MAX) {
            snprintf(err, err_len, "more than %u peers for a full mesh", BPC_DP_PORTS_MAX);
            return -E2BIG;
        }
        uint16_t port = 0;
        int rc = bpc_dp_vdev_port(name, args, &port, err, err_len);
        if (rc != 0) {
            return rc;
        }
        n->port_exit_only[n->ports_count] = self != lo; /* virtio_user, server mode */
        n->ports[n->ports_count++] = port;
        struct bpc_dp_link *l = &n->links[n->links_count++];
        l->peer = peer;
        l->port_id = port;
        l->queue_id = 0;
        memcpy(l->mac.addr_bytes, n->cluster.parties[peer].mac, 6);
    }
    return 0;
}

/* "port:N": every peer sits behind one port that EAL created (--vdev). */
static int
node_shared_port(struct node *n, const char *spec, char *err, size_t err_len)
{
    uint64_t port = 0;
    if (dp_parse_u64(spec, RTE_MAX_ETHPORTS - 1, &port) != 0 ||
        !rte_eth_dev_is_valid_port((uint16_t)port)) {
        snprintf(err, err_len, "port spec 'port:%s': no such port", spec);
        return -ENODEV;
    }
    n->ports[n->ports_count++] = (uint16_t)port;
    for (uint32_t peer = 0; peer < n->cluster.parties_count; peer++) {
        if (peer == n->o.id) {
            continue;
        }
        struct bpc_dp_link *l = &n->links[n->links_count++];
        l->peer = peer;
        l->port_id = (uint16_t)port;
        l->queue_id = 0;
        memcpy(l->mac.addr_bytes, n->cluster.parties[peer].mac, 6);
        if (n->links_count == BPC_DP_PORTS_MAX) {
            break; /* party init refuses the missing peers with a message */
        }
    }
    return 0;
}

static int
node_ports(struct node *n, char *err, size_t err_len)
{
    const char *spec = n->cluster.parties[n->o.id].port;
    int rc;
    if (strncmp(spec, "vhost-mesh:", 11) == 0) {
        rc = node_mesh(n, spec + 11, err, err_len);
    } else if (strncmp(spec, "port:", 5) == 0) {
        rc = node_shared_port(n, spec + 5, err, err_len);
    } else {
        snprintf(err, err_len, "port spec '%s' unknown to bpcon-node (vhost-mesh:DIR, port:N)",
                 spec);
        return -EINVAL;
    }
    /* With rx workers each port's ring may hold NODE_RX_RING mbufs more. */
    uint32_t per_port = NODE_DESC * 4 + (rte_lcore_count() > 1 ? NODE_RX_RING : 0);
    uint32_t mbufs = n->ports_count * per_port + 8192;
    n->pool = rc == 0 ? rte_pktmbuf_pool_create("bpc_node_pool", mbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id())
                      : NULL;
    if (rc == 0 && n->pool == NULL) {
        snprintf(err, err_len, "mbuf pool of %u: %s", mbufs, rte_strerror(rte_errno));
        rc = -ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < n->ports_count; i++) {
        rc = bpc_dp_port_start(n->ports[i], n->pool, NODE_DESC, NODE_DESC, err, err_len);
    }
    return rc;
}

/* With worker lcores: one SP/SC ring per distinct rx (port, queue) of the
 * links (in the mesh one per peer), set as the rx_ring of every link that
 * names it. */
static int
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
static void
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
     * goes QSBR-offline and back online around the sleep, which liburcu
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
            bpc_log_thread_offline(); /* sleep:US came back online */
        }
    }
    bpc_log_thread_unregister();
    return 0;
}

static int
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
static void
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
static void
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

static int
node_config(struct node *n, char *err, size_t err_len)
{
    int rc = bpc_dp_cluster_load(n->o.cluster, &n->cluster, err, err_len);
    if (rc != 0) {
        return rc;
    }
    uint32_t self = (uint32_t)n->o.id;
    rc = bpc_dp_cluster_config(&n->cluster, self, &n->cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    n->keys = calloc(n->cluster.parties_count, BPC_KEY_BYTES);
    if (n->keys == NULL) {
        return -ENOMEM;
    }
    rc = bpc_dp_keys_load(n->cluster.parties[self].key_path, self, n->cluster.parties_count,
                          n->keys, err, err_len);
    if (rc != 0) {
        return rc;
    }
    n->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])n->keys;
    dp_config_tune(&n->cfg, (uint32_t)n->o.window, (uint32_t)n->o.value_bytes);
    n->cfg.on_apply = dp_load_apply;
    n->cfg.apply_ctx = &n->load;
    randombytes_buf(&n->cfg.seed, sizeof(n->cfg.seed));
    return bpc_config_validate(&n->cfg, err, err_len);
}

/* With --store the party owns the durable store: it puts the application
 * state as of each new floor (dp_app_state_hook) in the same commit as,
 * and before, the engine records that carry that floor, so after a crash
 * the application state is never behind the restored floor (when it is
 * ahead, instances below it are skipped). */
static int
node_party(struct node *n, char *err, size_t err_len)
{
    int rc = dp_load_init(&n->load, (uint32_t)n->o.id, n->cluster.parties_count, n->o.commands,
                          (uint32_t)n->o.window, (uint32_t)n->o.value_bytes, !n->o.no_load);
    if (rc != 0) {
        snprintf(err, err_len, "no memory for the load generator");
        return rc;
    }
    struct bpc_dp_party_conf conf = {
        .engine = &n->cfg,
        .links = n->links,
        .links_count = n->links_count,
        .pool = n->pool,
        .socket_id = (int)rte_socket_id(),
        .store_path = n->o.store,
        .store_options = {.no_sync = n->o.no_fsync},
        .app_state = dp_app_state_hook,
        .app_state_ctx = &n->load,
        .log_retain = n->o.log_retain,
        .on_decide = dp_load_decided,
        .decide_ctx = &n->load,
        .telemetry = true,
    };
    memcpy(conf.self_mac.addr_bytes, n->cluster.parties[n->o.id].mac, 6);
    rc = bpc_dp_party_init(&n->party, &conf, err, err_len);
    if (rc != 0 || n->o.store == NULL) {
        return rc;
    }
    struct dp_app_state app;
    memset(&app, 0, sizeof(app));
    if (dp_load_resume_from_store(&n->load, n->party, &app) < 0) {
        snprintf(err, err_len, "store %s: application state unreadable", n->o.store);
        return -EINVAL;
    }
    const struct bpc_store_info *in = bpc_store_info(bpc_dp_party_store(n->party));
    BPC_DP_LOG(INFO,
               "party %llu: store %s (%s): %llu records in %llu commits, floor %llu, torn tail "
               "%llu bytes dropped; application state at %llu (%llu applied)\n",
               (unsigned long long)n->o.id, n->o.store,
               n->o.no_fsync ? "NO fdatasync (--no-fsync): benchmark only, a machine crash can "
                               "lose votes already sent"
                             : "fdatasync per engine step",
               (unsigned long long)in->records, (unsigned long long)in->commits,
               (unsigned long long)bpc_dp_party_restored_floor(n->party),
               (unsigned long long)in->torn_bytes, (unsigned long long)app.floor,
               (unsigned long long)app.applied);
    return 0;
}

static void
node_progress(struct node *n, bool done_flag)
{
    if (n->report == NULL) {
        return;
    }
    struct bpc_engine *e = bpc_dp_party_engine(n->party);
    struct dp_log_entry last = dp_load_last(&n->load);
    fprintf(n->report,
            "progress id=%llu decisions=%llu applied=%llu unique=%llu leader=%d ballot=%llu "
            "done=%d last=%llx:%016llx digest=%016llx\n",
            (unsigned long long)n->o.id, (unsigned long long)n->load.decisions,
            (unsigned long long)n->load.applied, (unsigned long long)n->load.unique,
            bpc_engine_leader(e), (unsigned long long)bpc_engine_ballot(e), done_flag ? 1 : 0,
            (unsigned long long)last.instance, (unsigned long long)last.hash,
            (unsigned long long)n->load.digest);
    fflush(n->report);
}

/* Reads the harness's control lines ("go", "adopt ID"); never blocks. */
static void
node_control(struct node *n)
{
    if (n->o.control_fd < 0) {
        return;
    }
    char buf[256];
    ssize_t got = read(n->o.control_fd, buf, sizeof(buf) - 1);
    if (got <= 0) {
        return; /* EAGAIN, or the harness is gone: keep running */
    }
    buf[got] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        uint64_t id = 0;
        if (strcmp(line, "go") == 0) {
            atomic_store(&node_go, 1);
        } else if (strncmp(line, "adopt ", 6) == 0 &&
                   dp_parse_u64(line + 6, BPC_DP_PARTIES_MAX - 1, &id) == 0) {
            dp_load_adopt(&n->load, (uint32_t)id);
            BPC_DP_LOG(INFO, "party %llu adopts the commands of party %llu\n",
                       (unsigned long long)n->o.id, (unsigned long long)id);
        }
    }
}

/* Reads every port's link status. For a virtio_user port in server mode
 * this is what accepts a restarted peer's new connection (DPDK re-attaches
 * the vhost-user back end from its link-status read), so it runs on the
 * report tick; for other ports it is a harmless read. With rx workers it
 * runs beside their rx bursts on the same ports: a control-path call, as
 * DPDK's own interrupt thread makes beside any datapath lcore. */
static void
node_links(struct node *n)
{
    for (uint32_t i = 0; i < n->ports_count; i++) {
        struct rte_eth_link link;
        (void)rte_eth_link_get_nowait(n->ports[i], &link);
    }
}

/* The main loop: its only exit is the quit flag (or a failed party). */
static void
node_run(struct node *n)
{
    uint64_t next_report = 0;
    while (!atomic_load_explicit(&node_quit, memory_order_relaxed)) {
        uint64_t now = bpc_dp_now_ns();
        int work = bpc_dp_party_poll(n->party, now);
        if (work < 0) {
            BPC_DP_LOG(ERR, "party stopped: persistence failed\n");
            break;
        }
        if (!n->o.wait_go || atomic_load_explicit(&node_go, memory_order_relaxed)) {
            work += (int)dp_load_pump(&n->load, n->party, now);
        }
        if (now >= next_report) {
            node_links(n);
            node_control(n);
            node_progress(n, dp_load_done(&n->load));
            next_report = now + NODE_REPORT_NS;
        }
        if (work == 0) {
            dp_idle_wait(&n->o.idle);
        }
    }
}

/* After the quit flag: answer what is still in flight for a short while so
 * peers are not left waiting on frames this party owes them. */
static void
node_drain(struct node *n)
{
    uint64_t start = bpc_dp_now_ns();
    uint64_t last_work = start;
    for (;;) {
        uint64_t now = bpc_dp_now_ns();
        int work = bpc_dp_party_poll(n->party, now);
        if (work > 0) {
            last_work = now;
        }
        if (work < 0 || now - last_work > NODE_DRAIN_QUIET_NS || now - start > NODE_DRAIN_MAX_NS) {
            break;
        }
        dp_idle_wait(&n->o.idle);
    }
}

/* True when some port is left to process exit (see node_stop). */
static bool
node_exit_only(const struct node *n)
{
    for (uint32_t i = 0; i < n->ports_count; i++) {
        if (n->port_exit_only[i]) {
            return true;
        }
    }
    return false;
}

static void
node_stop(struct node *n)
{
    if (n->report != NULL) {
        dp_load_report(n->report, &n->load);
    }
    if (n->o.log_out != NULL && dp_load_write_log(&n->load, n->o.log_out) != 0) {
        fprintf(stderr, "bpcon-node: cannot write %s\n", n->o.log_out);
    }
    if (n->o.log_out != NULL) {
        /* The decided log itself (FILE.decided), read back through QSBR. */
        char path[4096];
        struct dp_dlog_entry *d = NULL;
        uint64_t dn = 0;
        snprintf(path, sizeof(path), "%s.decided", n->o.log_out);
        if (dp_dlog_snapshot(bpc_dp_party_log(n->party), &d, &dn) != 0 ||
            dp_dlog_write(d, dn, path) != 0) {
            fprintf(stderr, "bpcon-node: cannot write %s\n", path);
        }
        free(d);
    }
    bpc_dp_party_free(n->party);
    /* DPDK 22.11's virtio_user in server mode can abort the process from
     * its interrupt thread (epoll_ctl on a descriptor it closed) when a
     * port whose peer went away is stopped or closed; those ports are left
     * to process exit, which releases them. Every other port is stopped
     * and closed. */
    for (uint32_t i = 0; i < n->ports_count; i++) {
        if (!n->port_exit_only[i]) {
            bpc_dp_port_close(n->ports[i]);
        }
    }
    if (!node_exit_only(n)) {
        rte_mempool_free(n->pool); /* else a started port still holds its mbufs */
    }
    dp_load_free(&n->load);
    if (n->keys != NULL) {
        sodium_memzero(n->keys, (size_t)n->cluster.parties_count * BPC_KEY_BYTES);
    }
    free(n->keys);
    bpc_dp_cluster_free(&n->cluster);
    if (n->report != NULL) {
        fclose(n->report);
    }
}

static void
node_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = node_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int
main(int argc, char **argv)
{
    node_signals();
    static struct node n;
    (void)node_early_args(argc, argv, &n.o);
    int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        rte_exit(EXIT_FAILURE, "bpcon-node: EAL init failed: %s\n", rte_strerror(rte_errno));
    }
    argv[eal] = argv[0];
    if (node_parse(argc - eal, argv + eal, &n.o) != 0) {
        node_usage(stderr);
        rte_eal_cleanup();
        return 2;
    }
    char err[512] = "";
    /* The main lcore steps the engine: it writes the decided log (QSBR). */
    bpc_log_thread_register();
    int rc = bpc_init();
    if (rc == 0) {
        bpc_dp_clock_init();
        (void)bpc_dp_telemetry_register();
        rc = node_config(&n, err, sizeof(err));
    }
    if (rc == 0) {
        rc = node_ports(&n, err, sizeof(err));
    }
    if (rc == 0) {
        rc = node_rx_rings(&n, err, sizeof(err));
    }
    if (rc == 0) {
        node_workers_plan(&n);
        rc = node_party(&n, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: %s\n", err[0] != '\0' ? err : bpc_strerror(rc));
        node_rx_rings_free(&n);
        bpc_log_thread_unregister();
        rte_eal_cleanup();
        return 1;
    }
    if (n.o.report_fd >= 0) {
        n.report = fdopen(n.o.report_fd, "w");
    }
    if (n.o.control_fd >= 0) {
        (void)fcntl(n.o.control_fd, F_SETFL, O_NONBLOCK);
    }
    rc = node_workers_launch(&n, err, sizeof(err));
    if (rc == 0 && n.report != NULL) {
        fprintf(n.report, "ready id=%llu pid=%d store=%d fsync=%d\n", (unsigned long long)n.o.id,
                (int)getpid(), n.o.store != NULL, n.o.store != NULL && !n.o.no_fsync);
        fflush(n.report);
    }
    if (rc == 0) {
        node_run(&n);
        node_drain(&n);
    } else {
        fprintf(stderr, "bpcon-node: %s\n", err);
    }
    /* Workers stop only after the drain: it still needs their frames. */
    node_workers_end(&n);
    node_rx_rings_free(&n);
    bool exit_only = node_exit_only(&n);
    node_stop(&n);
    bpc_log_thread_unregister();
    /* rte_eal_cleanup would close the ports left started (and free them
     * under their interrupt handlers); with such ports, process exit
     * releases everything instead. */
    if (!exit_only) {
        rte_eal_cleanup();
    }
    return rc == 0 ? 0 : 1;
}
