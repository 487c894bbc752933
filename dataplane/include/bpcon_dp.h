/*
 * bpcon_dp.h - the public header of libbpcon-dp, the DPDK half of bpcon.
 *
 * Owns: the embeddable party object (rx burst -> Ethernet check -> engine
 * step -> durable store or persistence hook -> Ethernet headers -> tx
 * burst), the TSC clock,
 * port helpers for vdevs, the cluster and key file parsers, telemetry and
 * the "bpcon" log type.
 *
 * Must never: initialise EAL, own lcores or launch threads on behalf of the
 * application (the application calls bpc_dp_party_poll from its own loop,
 * and bpc_dp_rx_forward from its own rx worker lcores), or call rte_exit
 * (only a program's main() may).
 *
 * Threading: one party is polled and freed by one thread at a time;
 * bpc_dp_party_submit may be called from any thread. Telemetry reads, on
 * the telemetry thread and without locks, a copy of the counters the poll
 * publishes at most every BPC_DP_STATS_NS (a seqlock: a read that keeps
 * meeting a publication is -EBUSY; values may be that much behind). A
 * link's (port, queue) may be rx-polled by another lcore that hands the
 * mbufs over through an SP/SC ring (struct bpc_dp_link.rx_ring).
 */
#ifndef BPCON_DP_H
#define BPCON_DP_H

/* DPDK's headers need POSIX.1-2008 (ssize_t, strnlen). When this header is
 * an application's first include and no feature-test macro is set, it asks
 * for POSIX.1-2008 itself, so it compiles alone even under -std=c11. */
#if !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE) &&               \
    !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mempool.h>

#include "bpcon.h"
#include "bpcon_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An IEEE "local experimental" EtherType: never routed, never a real protocol. */
#define BPC_DP_ETHER_TYPE_DEFAULT 0x88B5u
/* Frames asked of one (port, queue) per rx burst. */
#define BPC_DP_RX_BURST 32u
/* Bursts per (port, queue) per poll while they come back full. */
#define BPC_DP_RX_BURSTS_MAX 4u
/* Distinct (port, queue) pairs one party may poll (full mesh of 32 ports). */
#define BPC_DP_PORTS_MAX 32u
/* Parties a cluster file may name (the engine cap). */
#define BPC_DP_PARTIES_MAX BPC_PARTIES_MAX
/* Longest path or port spec kept from a cluster file line. */
#define BPC_DP_PATH_MAX 256u
/* Parties a vhost-mesh:DIR cluster may have: one port per peer. */
#define BPC_DP_MESH_PARTIES_MAX (BPC_DP_PORTS_MAX + 1u)
/* Longest DIR of vhost-mesh:DIR: DIR/bpc-1023-1023.sock (19 bytes more)
 * must fit a unix socket's sun_path (108 bytes with its NUL); a longer
 * path would be cut, and pairs would collide at a path outside DIR. */
#define BPC_DP_MESH_DIR_MAX (108u - 1u - 19u)

/* ------------------------------------------------------------------------
 * Clock: rte_rdtsc() in nanoseconds; the TSC rate is read once.
 * ---------------------------------------------------------------------- */

struct bpc_dp_clock {
    uint64_t mult; /* ns per tick, 32.32 fixed point */
    uint64_t hz;
};
extern struct bpc_dp_clock bpc_dp_clock_state;

/* Reads rte_get_tsc_hz() once; call after rte_eal_init, before now_ns.
 * Readings compare within one process only: another process's estimate
 * of the TSC rate may differ (DPDK rounds it to 10 MHz), and its
 * readings then differ by up to uptime x 10 MHz / rate (seconds after a
 * few hours). Put timestamps that cross processes on CLOCK_MONOTONIC. */
void bpc_dp_clock_init(void);

static inline uint64_t
bpc_dp_now_ns(void)
{
    __extension__ typedef unsigned __int128 dp_u128;
    return (uint64_t)(((dp_u128)rte_rdtsc() * bpc_dp_clock_state.mult) >> 32);
}

/* ------------------------------------------------------------------------
 * Party.
 * ---------------------------------------------------------------------- */

/* Where frames to one peer leave (and where its frames arrive). Several
 * peers may share one (port, queue): a shared segment behind a switch.
 *
 * rx_ring (optional; NULL: the polling thread rx-bursts the (port, queue)
 * itself). When set, another lcore (the "rx worker") owns rx on this
 * (port, queue) and hands the received mbufs over through the ring;
 * bpc_dp_party_poll then never calls rte_eth_rx_burst on it but dequeues
 * up to BPC_DP_RX_BURST * BPC_DP_RX_BURSTS_MAX mbufs from the ring per
 * poll and applies the same Ethernet checks, counters and engine hand-off
 * (and frees every mbuf it dequeued, exactly once). Tx on the (port,
 * queue) stays with the polling thread.
 * - The application creates and frees the ring (rte_ring_create with
 *   RING_F_SP_ENQ | RING_F_SC_DEQ: the worker is its only producer, the
 *   polling thread its only consumer) and must free it only after the
 *   worker has stopped and the party's last poll; mbufs still in it then
 *   are the application's to free.
 * - Every link naming this (port, queue) must name the same ring, and a
 *   ring serves one (port, queue) only.
 * - The worker (an EAL lcore of the application's) is the only caller of
 *   rte_eth_rx_burst on the (port, queue): it loops on bpc_dp_rx_forward()
 *   and idles when that returns 0. */
struct bpc_dp_link {
    uint32_t peer;
    uint16_t port_id;
    uint16_t queue_id;
    struct rte_ether_addr mac; /* the peer's MAC: destination of its frames */
    struct rte_ring *rx_ring;  /* NULL: rx_burst in poll; else see above */
};

/* Persistence hook: must make recs durable (or fail) before returning;
 * returns 0 or a negative errno (the party then stops sending). */
typedef int (*bpc_dp_persist_fn)(void *ctx, const struct bpc_durable *recs, uint32_t count);
/* Its companion for the bytes of the values the records name (struct
 * bpc_durable_value): called first, in the same persistence round; both
 * must be durable when the records hook returns 0. Keep a value while its
 * instance is at or above the newest record's floor, or while a kept
 * decided record of its instance names it. */
typedef int (*bpc_dp_persist_values_fn)(void *ctx, const struct bpc_durable_value *vals,
                                        uint32_t count);
/* Application-state hook (with store_path): writes into buf (cap bytes) the
 * application's own state as of `floor` (every instance below it applied,
 * none at or above) and returns its length, or a negative errno (the party
 * then stops sending). The party calls it when a commit's floor passes the
 * last one written and puts the state in the store before the records
 * that carry that floor, in the same commit. */
typedef int (*bpc_dp_app_state_fn)(void *ctx, uint64_t floor, uint8_t *buf, uint32_t cap);
/* Decision hook, called in instance order from inside poll. */
typedef void (*bpc_dp_decide_fn)(void *ctx, const struct bpc_decision *d);

struct bpc_dp_party_conf {
    const struct bpc_config *engine; /* copied; its keys are copied too */
    const struct bpc_dp_link *links; /* one per peer (not self); copied */
    uint32_t links_count;
    struct rte_ether_addr self_mac; /* frames to other MACs are dropped */
    uint16_t ether_type;            /* 0: BPC_DP_ETHER_TYPE_DEFAULT */
    struct rte_mempool *pool;       /* tx mbufs; data room >= frame_bytes + 14 */
    int socket_id;                  /* for the party's own memory */
    /* Durability, one of: store_path (the durable store, libbpcon-store:
     * opened or recovered at init and restored from; every step's records
     * are appended and fdatasync'ed as one commit before the frames that
     * depend on them leave, and the file is compacted between polls when
     * due); persist (the application's hook); neither (the built-in
     * in-memory store, for tests and in-process restarts). */
    const char *store_path;
    struct bpc_store_options store_options; /* zero: durable defaults; read_only
                                               is refused (-EINVAL): a party
                                               appends at every step */
    bpc_dp_app_state_fn app_state;          /* optional, with store_path */
    void *app_state_ctx;
    bpc_dp_persist_fn persist;
    bpc_dp_persist_values_fn persist_values; /* optional, with persist; without it
                                                a restart of every party at once
                                                can stall (docs/ENGINE.md) */
    void *persist_ctx;
    bpc_dp_decide_fn on_decide; /* optional */
    void *decide_ctx;
    const struct bpc_durable *restore; /* optional durable state from before a restart
                                          (not with store_path: the store has it) */
    uint32_t restore_count;
    const struct bpc_durable_value *restore_values; /* ... and its values */
    uint32_t restore_values_count;
    bool telemetry; /* list this party under /bpcon/stats */
    /* Decided log (cfg.log is set by the party; a log in conf->engine is
     * ignored): entries kept readable; 0: max(4 * window_slots, 65536);
     * above BPC_DP_LOG_RETAIN_MAX: -EINVAL. */
    uint64_t log_retain;
};

/* Decided log segment size (entries) the party uses. */
#define BPC_DP_LOG_SEGMENT 256u
/* Default entries a party's decided log keeps readable (at least). */
#define BPC_DP_LOG_RETAIN_MIN 65536u
/* Most entries a party's decided log may keep readable (bpc_log_new's
 * bound for BPC_DP_LOG_SEGMENT-entry segments: 134217472). */
#define BPC_DP_LOG_RETAIN_MAX ((uint64_t)BPC_LOG_RETAIN_SEGMENTS_MAX * BPC_DP_LOG_SEGMENT)

#define BPC_DP_COUNTERS(X)                                                                         \
    X(polls)                                                                                       \
    X(steps)                                                                                       \
    X(step_eagain)                                                                                 \
    X(rx_frames)                                                                                   \
    X(rx_bytes)                                                                                    \
    X(rx_drop_short)                                                                               \
    X(rx_drop_segmented)                                                                           \
    X(rx_drop_ether_type)                                                                          \
    X(rx_drop_dst_mac)                                                                             \
    X(tx_frames)                                                                                   \
    X(tx_bytes)                                                                                    \
    X(tx_refused)                                                                                  \
    X(tx_no_link)                                                                                  \
    X(tx_alloc_failed)                                                                             \
    X(persist_calls)                                                                               \
    X(persist_records)                                                                             \
    X(persist_errors)                                                                              \
    X(store_compactions)                                                                           \
    X(decided)                                                                                     \
    X(submitted)                                                                                   \
    X(submit_refused)

struct bpc_dp_counters {
#define BPC_DP_X_FIELD(name) uint64_t name;
    BPC_DP_COUNTERS(BPC_DP_X_FIELD)
#undef BPC_DP_X_FIELD
};

struct bpc_dp_party;

/* Validates conf, allocates the party, its decided log (starting at the
 * restored floor, else 0) and its engine on conf->socket_id, restores
 * durable state, starts ballot 1 at bpc_dp_now_ns().
 *
 * QSBR: the log is published through liburcu QSBR. The thread that polls
 * (and the one that inits and frees) must be registered with
 * bpc_log_thread_register(); poll reports a quiescent state itself at its
 * end, and an application that blocks or sleeps between polls goes
 * offline around the wait (bpc_log_thread_offline/online). Returns 0
 * or a negative errno / negated BPC_ECFG_* with a message in err (with
 * store_path: a store of another cluster, party or configuration, or one
 * damaged before its tail, is refused and named there;
 * conf->store_options.read_only is -EINVAL, named there: a party writes
 * its store; out or conf NULL is -EINVAL). */
int bpc_dp_party_init(struct bpc_dp_party **out, const struct bpc_dp_party_conf *conf, char *err,
                      size_t err_len);
/* Frees the party's mbufs and memory (ports are the application's); NULL:
 * nothing. */
void bpc_dp_party_free(struct bpc_dp_party *p);

/* One round: rx bursts on every (port, queue) (or a dequeue from its
 * link's rx_ring) -> Ethernet checks -> engine step(s) -> persistence ->
 * tx bursts. Returns the frames moved plus decisions made (0: idle), or
 * -EIO once persistence has failed; -EINVAL for p NULL. */
int bpc_dp_party_poll(struct bpc_dp_party *p, uint64_t now_ns);

/* Submits a command (bpc_submit: forwarded to the leader, batched, applied
 * once; *ticket may be NULL). Callable from any thread; the polling
 * thread steps the engine at its next poll. 0; -EAGAIN when the engine's
 * submit queue is full (backpressure: retry after a poll); -EMSGSIZE when
 * len can never fit a value (above bpc_command_bytes_max); -EINVAL for p
 * NULL or cmd NULL with len > 0; -EBUSY while the engine is being
 * restored (within bpc_dp_party_init); -EIO once the party's persistence
 * has failed (poll returns -EIO: the party never steps again, so nothing
 * is taken; a command taken just before the failure that was not yet
 * decided never completes either). Every refusal of a party counts in
 * its stats as submit_refused. */
int bpc_dp_party_submit(struct bpc_dp_party *p, const uint8_t *cmd, uint32_t len, uint64_t *ticket);

/* The party's engine (NULL for p NULL). */
struct bpc_engine *bpc_dp_party_engine(struct bpc_dp_party *p);
/* The party's decided log (bpc_log_read/bpc_log_copy from any registered
 * QSBR thread); entries start at bpc_log_first(). NULL for p NULL. */
struct bpc_log *bpc_dp_party_log(struct bpc_dp_party *p);
/* The floor restored at init (0 on a fresh start): the log's first index.
 * 0 for p NULL. */
uint64_t bpc_dp_party_restored_floor(const struct bpc_dp_party *p);
/* The live counters: for the polling thread only (poll writes them with
 * plain stores); other threads read bpc_dp_party_stats. NULL for p
 * NULL. */
const struct bpc_dp_counters *bpc_dp_party_counters(const struct bpc_dp_party *p);

/* How often poll publishes the party's stats at most, in its now_ns. */
#define BPC_DP_STATS_NS 10000000ull
/* The party's counters and engine state as they stood when the poll at
 * at_ns began (init publishes the first, at its clock's now). */
struct bpc_dp_stats {
    uint64_t at_ns;
    struct bpc_dp_counters dp;
    struct bpc_counters engine;
    uint64_t ballot;
    int64_t leader; /* bpc_engine_leader: -1 when none is known */
    uint64_t next_undecided;
};
/* Copies the stats the polling thread last published (a poll publishes
 * when BPC_DP_STATS_NS have passed since its last publication): one
 * consistent copy, from any thread, with no lock. 0; -EINVAL for p or out
 * NULL; -EBUSY when every try met a publication under way (out unchanged). */
int bpc_dp_party_stats(const struct bpc_dp_party *p, struct bpc_dp_stats *out);
/* The party's id (UINT32_MAX for p NULL). */
uint32_t bpc_dp_party_self(const struct bpc_dp_party *p);
/* The earliest time poll has work without new frames (UINT64_MAX: none,
 * and for p NULL). */
uint64_t bpc_dp_party_next_deadline(const struct bpc_dp_party *p);
/* The durable records as they stand (the store's live set, or the built-in
 * store's; valid until the next poll). With a store, 0 and *recs NULL when
 * there was no memory for the array (bpc_store_records). p NULL: 0, and
 * *recs NULL when recs is not NULL; recs NULL: 0. */
uint32_t bpc_dp_party_durable(struct bpc_dp_party *p, const struct bpc_durable **recs);
/* The party's durable store (NULL without store_path): what init recovered
 * (bpc_store_info: torn bytes dropped) and the application state it holds
 * (bpc_store_app), which the application resumes from before the first
 * poll. Owned by the party. NULL for p NULL. */
struct bpc_store *bpc_dp_party_store(struct bpc_dp_party *p);

/* ------------------------------------------------------------------------
 * Rx workers: an lcore that polls (port, queue)s for a party on another
 * lcore (struct bpc_dp_link.rx_ring).
 * ---------------------------------------------------------------------- */

/* One worker's counters: written only by the worker; read them after it
 * has stopped (rte_eal_wait_lcore orders the reads). */
struct bpc_dp_rx_stats {
    uint64_t bursts;       /* rx bursts that returned frames */
    uint64_t frames;       /* frames taken off the queue */
    uint64_t ring_refused; /* of those, refused by a full ring (freed) */
};

/* One rx burst of up to BPC_DP_RX_BURST frames on (port, queue), enqueued
 * to ring (the worker is its single producer); frames the ring refuses are
 * freed and counted in st (NULL: not counted). Returns the frames taken off
 * the queue (0: the queue was empty, the caller may idle). No malloc, lock,
 * log or syscall beyond what the PMD's rx burst does. */
uint32_t bpc_dp_rx_forward(uint16_t port, uint16_t queue, struct rte_ring *ring,
                           struct bpc_dp_rx_stats *st);

/* ------------------------------------------------------------------------
 * Ports.
 * ---------------------------------------------------------------------- */

/* Configures one rx and one tx queue with the given descriptor counts (0:
 * defaults), starts the port. 0 or a negative errno with a message. */
int bpc_dp_port_start(uint16_t port_id, struct rte_mempool *pool, uint16_t rxd, uint16_t txd,
                      char *err, size_t err_len);
/* Stops and closes a port; errors are ignored (shutdown path). */
void bpc_dp_port_close(uint16_t port_id);
/* Creates a net_ring port named name whose rx ring is rx and tx ring tx. */
int bpc_dp_ring_port(const char *name, struct rte_ring *rx, struct rte_ring *tx, uint16_t *port_id);
/* Hot-plugs a vdev (e.g. "net_vhost0", "iface=/x.sock,client=1") and
 * returns its port id. */
int bpc_dp_vdev_port(const char *name, const char *args, uint16_t *port_id, char *err,
                     size_t err_len);

/* ------------------------------------------------------------------------
 * Cluster and key files (format in docs/DATAPLANE.md).
 * ---------------------------------------------------------------------- */

struct bpc_dp_party_entry {
    uint32_t id;
    uint64_t weight;
    uint8_t mac[6];
    char key_path[BPC_DP_PATH_MAX]; /* resolved against the cluster file's folder */
    char port[BPC_DP_PATH_MAX];     /* port spec, meaning set by the program;
                                       a relative vhost-mesh DIR is resolved
                                       against the cluster file's folder */
};

struct bpc_dp_cluster {
    uint64_t cluster_id;
    bpc_u128 threshold;                 /* 0: default */
    uint32_t parties_count;             /* ids are 0 .. parties_count - 1, all present */
    struct bpc_dp_party_entry *parties; /* indexed by id; bpc_dp_cluster_free */
};

/* Parses path; on error returns a negative errno and writes
 * "FILE:LINE: cause" into err (path or out NULL: -EINVAL, named). */
int bpc_dp_cluster_load(const char *path, struct bpc_dp_cluster *out, char *err, size_t err_len);
/* Frees what bpc_dp_cluster_load allocated; NULL: nothing. */
void bpc_dp_cluster_free(struct bpc_dp_cluster *c);
/* Fills cfg (from bpc_config_defaults) with the cluster's parties, weights,
 * id and threshold for party self; keys are left to the caller. -EINVAL
 * (named in err) for c or cfg NULL or self not in the cluster. */
int bpc_dp_cluster_config(const struct bpc_dp_cluster *c, uint32_t self, struct bpc_config *cfg,
                          char *err, size_t err_len);
/* Reads party self's pairwise key file into keys[parties_count] (keys[self]
 * is zeroed). Every peer must be present exactly once. path or keys NULL:
 * -EINVAL, named in err. */
int bpc_dp_keys_load(const char *path, uint32_t self, uint32_t parties_count,
                     uint8_t (*keys)[BPC_KEY_BYTES], char *err, size_t err_len);
/* Writes the key files of all parties_count parties into dir as
 * party-ID.key (mode 0600), one fresh random key per pair. Never replaces
 * a file: -EEXIST, with nothing written, when any of them exists;
 * -ENAMETOOLONG when a key file's path would not fit BPC_DP_PATH_MAX.
 * All or nothing: on any failure the files it wrote are removed. dir
 * NULL, or parties_count outside 1..1024: -EINVAL, named in err. */
int bpc_dp_keys_generate(const char *dir, uint32_t parties_count, char *err, size_t err_len);
/* Removes dir/party-ID.key for ID in 0..parties_count-1 (missing ones
 * ignored): undoes bpc_dp_keys_generate when a later step fails. dir NULL:
 * nothing. */
void bpc_dp_keys_remove(const char *dir, uint32_t parties_count);
/* Checks a party's port spec as the cluster file parser does: one word (no
 * blank, '#' or control byte) shorter than BPC_DP_PATH_MAX, either
 * "vhost-mesh:DIR" (DIR not empty, at most BPC_DP_MESH_DIR_MAX bytes) or
 * "port:N" (N in 0..65535). 0, or -EINVAL with the cause in err (spec
 * NULL included). */
int bpc_dp_port_spec_check(const char *spec, char *err, size_t err_len);
/* Parses "aa:bb:cc:dd:ee:ff": 0, or -EINVAL (s or mac NULL included). */
int bpc_dp_mac_parse(const char *s, uint8_t mac[6]);

/* ------------------------------------------------------------------------
 * Telemetry and logging.
 * ---------------------------------------------------------------------- */

/* The registered "bpcon" log type (rte_log_register_type_and_pick_level). */
extern int bpc_dp_logtype;
#define BPC_DP_LOG(level, ...) rte_log(RTE_LOG_##level, bpc_dp_logtype, "bpcon: " __VA_ARGS__)

/* Registers /bpcon/stats and /bpcon/config (once; later calls return 0). */
int bpc_dp_telemetry_register(void);

#ifdef __cplusplus
}
#endif

#endif /* BPCON_DP_H */
