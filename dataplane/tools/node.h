/*
 * node.h - the parts of bpcon-node shared by its files: options, the
 * node's state (ports, links, rx queues and worker lcores, load, party),
 * the run flags and the functions node.c wires together.
 *
 * Must never: be used outside bpcon-node.
 */
#ifndef BPC_DP_NODE_H
#define BPC_DP_NODE_H

#include "app.h"

#include <stdatomic.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_ring.h>

/* Descriptors per port and the virtio queue size (vhost-user mesh). */
#define NODE_DESC 512u
/* Slots of each rx worker's ring: several polls' worth of the party's rx
 * budget (BPC_DP_RX_BURST * BPC_DP_RX_BURSTS_MAX) for the main lcore to
 * fall behind by before the ring refuses frames. */
#define NODE_RX_RING 1024u
/* Bytes of one --control-fd line, its '\n' included. */
#define NODE_CONTROL_LINE_MAX 256u

/* Set by SIGINT/SIGTERM: the main loop ends (node.c). */
extern atomic_int node_quit;
/* Set by SIGUSR1 or a "go" control line: the load starts (--wait-go). */
extern atomic_int node_go;

struct node_opts {
    const char *cluster;
    uint64_t id;
    struct dp_idle idle;
    uint64_t commands;
    uint64_t window;
    bool window_given;    /* --window was on the command line */
    uint64_t outstanding; /* closed loop over the cluster (replaces window) */
    uint64_t rate;        /* open loop, commands/s over the cluster (replaces window) */
    uint64_t value_bytes;
    int report_fd;
    const char *log_out;
    const char *store;
    bool no_fsync;
    uint8_t fsync_flags; /* 1: --fsync given, 2: --no-fsync given */
    bool wait_go;
    bool no_load;
    int control_fd;
    uint64_t log_retain;
    /* The last load flag given (--window, --outstanding, --rate,
     * --value-size, --wait-go, --control-fd): --no-load refuses it. NULL:
     * none. */
    const char *load_flag;
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
    struct bpc_dp_link links[BPC_DP_PARTIES_MAX]; /* one per peer (a shared port: all) */
    uint32_t links_count;
    struct node_rxq rxq[BPC_DP_PORTS_MAX]; /* only with worker lcores */
    uint32_t rxq_count;
    struct node_worker workers[BPC_DP_PORTS_MAX];
    uint32_t workers_count; /* launched: min(worker lcores, rxq_count) */
    struct dp_load load;
    struct bpc_dp_party *party;
    bool log_made[2]; /* --log-out FILE, FILE.decided: made by this start */
    FILE *report;
    /* --control-fd: the bytes of a line not yet ended by '\n', kept across
     * reads; skipping: an over-long line is being discarded up to its
     * newline. */
    char control[NODE_CONTROL_LINE_MAX];
    uint32_t control_len;
    bool control_skipping;
    int mesh_lock_fd; /* vhost-mesh: this party's lock, held to exit (-1: none) */
};

/* node_ports.c: the party's ports and links from its cluster file line's
 * port spec ("vhost-mesh:DIR" or "port:N"), the mbuf pool, ports started. */
int node_ports(struct node *n, char *err, size_t err_len);

/* node_workers.c: with worker lcores, one SP/SC ring per rx (port, queue)
 * of the links, set as their rx_ring. */
int node_rx_rings(struct node *n, char *err, size_t err_len);
/* node_workers.c: assigns queue q to worker q % W (and logs the map). */
void node_workers_plan(struct node *n);
/* node_workers.c: launches the planned workers on their lcores. */
int node_workers_launch(struct node *n, char *err, size_t err_len);
/* node_workers.c: stops and joins the workers, logs their counters. */
void node_workers_end(struct node *n);
/* node_workers.c: empties and frees the rx rings. */
void node_rx_rings_free(struct node *n);

/* node_files.c: a --store that bpc_store_open would refuse by its name
 * alone: a directory, a path that does not resolve (a missing directory,
 * a dangling symbolic link) or a name ending in ".tmp" (given or
 * resolved): the refusal printed and -EINVAL (a usage error before EAL);
 * else 0. */
int node_store_check(const char *store);
/* node_files.c: a file the node reads or writes (flag names it, arg its
 * value, path the file) that is the store's temporary file STORE.tmp: the
 * refusal in err and -EINVAL; else 0. */
int node_not_store_tmp(const char *flag, const char *arg, const char *path, const char *store,
                       char *err, size_t err_len);
/* node_files.c: --log-out's files the same file as another the node reads
 * (what names its flag): the refusal in err and -EINVAL; else 0. */
int node_log_out_distinct(const char *log_out, const char *other, const char *what, char *err,
                          size_t err_len);
/* node_files.c: --log-out FILE and FILE.decided writable and regular (made
 * when missing, removed again on a refusal), and neither the store, the
 * cluster file nor STORE.tmp: 0, or a negative errno, the refusal printed.
 * made[k] tells whether it created FILE (k 0) or FILE.decided (k 1). */
int node_log_out_check(const struct node_opts *o, bool made[2]);
/* node_files.c: removes the --log-out files node_log_out_check made (made
 * as it set it), for a start refused later (the key file, the cluster
 * file, set-up): a refusal leaves no file it created behind. */
void node_log_out_unmake(const char *log_out, const bool made[2]);

/* node_run.c: flushes the report lines written; when the reader of
 * --report-fd has gone (EPIPE, or any write error) says so once on stderr
 * and writes no more report lines (the party runs on). */
void node_report_flush(struct node *n);
/* node_run.c: the main lcore's poll loop, until the quit flag (0) or a
 * failed party (-EIO, logged and reported). */
int node_run(struct node *n);
/* node_run.c: after the quit flag, polls until quiet (bounded); 0, or
 * -EIO when the party failed. */
int node_drain(struct node *n);

#endif /* BPC_DP_NODE_H */
