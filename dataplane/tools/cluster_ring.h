/*
 * cluster_ring.h - the ring transport's state (every party of the cluster
 * in this process, the switch between their net_ring ports, the chaos
 * loop) and the functions its files offer each other.
 *
 * Must never: be used outside the ring transport of bpcon-cluster.
 */
#ifndef BPC_DP_CLUSTER_RING_H
#define BPC_DP_CLUSTER_RING_H

#include "cluster.h"

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stdatomic.h>

/* Ring slots per direction per party. */
#define RING_SLOTS 4096u
/* The shared mbuf pool: two rings' worth and a burst margin per party. */
#define RING_POOL_MBUFS(n) ((n) * (2u * RING_SLOTS + 1024u) + 4096u)
/* DPDK heap bytes an mbuf of the pool takes without huge pages: a 4 KiB
 * page each (the pool keeps its 2.3 KiB objects within pages; measured
 * 4,118 bytes an mbuf with rte_malloc_get_socket_stats). */
#define RING_POOL_MBUF_HEAP 4096u
#define RING_BURST 32u
/* With --ring-lcores 2: how often the main lcore pauses the worker to check
 * progress and the end of the run. */
#define RING_SYNC_NS 1000000ull
/* Store compaction threshold under --chaos (the default's 4 MiB would
 * leave few compactions for the kills to hit). */
#define RING_CHAOS_COMPACT_BYTES (256u * 1024u)

/* Chaos: an I/O fault armed in one party's store, the "kill -9" inside a
 * store call: the armed-th mutating call fails (a write lands a random
 * prefix first: a torn write) and every later one fails too, as nothing
 * runs after a crash. */
struct ring_io {
    struct bpc_store_io io;
    uint32_t armed; /* 0: off; else the mutating call that crashes */
    uint32_t calls;
    bool crashed;
    uint64_t rng;
};

struct ring_party {
    struct rte_ring *to_party;
    struct rte_ring *from_party;
    uint16_t port;
    bool alive;
    uint32_t restarts;
    struct bpc_dp_party *party;
    struct dp_load load;
    char store[320]; /* its durable store */
    struct ring_io io;
};

/* The chaos loop's state: one victim at a time (parties 1..N-1; party 0
 * is the reference that never restarts and adopts every victim's load). */
struct ring_chaos {
    uint64_t rng;
    uint32_t done;    /* cycles completed (killed and restarted) */
    int victim;       /* dead, waiting for its restart; -1 none */
    int armed;        /* store fault armed, waiting for its crash; -1 none */
    uint64_t next_ns; /* next kill, or the victim's restart */
    uint64_t armed_ns;
    uint32_t io_kills;
    uint32_t poll_kills;
    int catching_up; /* restarted, not yet within a window of party 0; -1 none */
    uint64_t restart_ns;
    uint32_t stuck; /* restarted parties that did not catch up in time */
};

struct ring_cluster {
    struct cl_opts *o;
    uint32_t n;
    struct rte_mempool *pool;
    struct ring_party p[CL_PARTIES_MAX];
    uint8_t keys[CL_PARTIES_MAX][CL_PARTIES_MAX][BPC_KEY_BYTES];
    struct bpc_config cfg;
    struct rte_mbuf *stage[CL_PARTIES_MAX][RING_BURST];
    uint16_t stage_count[CL_PARTIES_MAX];
    uint64_t switch_drops;
    uint64_t switch_frames; /* frames the switch moved */
    uint64_t switch_bytes;  /* their payload bytes (after the Ethernet header) */
    int last_killed;
    char store_dir[256];
    bool store_dir_made; /* ours: removed after a clean run */
    struct cl_tap *tap;
    struct ring_chaos chaos;
    uint32_t store_failures;
    /* --ring-lcores 2: parties split..n-1 and their load generators run on
     * worker_lcore; the main lcore reads their state only while the worker
     * is paused (sync_req odd and echoed in sync_ack). */
    uint32_t split; /* n with one lcore */
    unsigned worker_lcore;
    _Atomic uint32_t sync_req;
    _Atomic uint32_t sync_ack;
    _Atomic bool stop;
    _Atomic uint64_t worker_failed; /* bit i: party i's poll failed on the worker */
};

/* cluster_ring.c: brings party `id` up (again, at a restart: from its
 * store); 0 on success, -1 after a message on stderr. */
int ring_party_up(struct ring_cluster *c, uint32_t id);
/* cluster_ring.c: the leader as the first alive party sees it, or -1. */
int ring_leader(const struct ring_cluster *c);

/* cluster_ring_switch.c: the mbuf pool and one net_ring port per party
 * over its two rings, started; 0, or -1 after a message on stderr. */
int ring_ports(struct ring_cluster *c);
/* cluster_ring_switch.c: frees every mbuf left in a ring. */
void ring_ring_drain(struct rte_ring *r);
/* cluster_ring_switch.c: drains a party's outgoing ring through the tap. */
void ring_from_drain(struct ring_cluster *c, struct rte_ring *r);
/* cluster_ring_switch.c: one pass of the switch; returns the frames moved. */
uint32_t ring_switch(struct ring_cluster *c);

/* cluster_ring_raw.c: --raw-baseline: plain forwarding over the same
 * ports at the run's mean frame size (s->frames, s->frame_bytes), after
 * the run; fills s->raw_*. */
void ring_raw_baseline(struct ring_cluster *c, struct cl_summary *s);

/* cluster_ring_faults.c: splitmix64 over *state (the chaos choices). */
uint64_t ring_rand(uint64_t *state);
/* cluster_ring_faults.c: the party's store I/O, with a fault to arm. */
void ring_io_init(struct ring_io *r, uint64_t seed);
/* cluster_ring_faults.c: crashes party `id`; another adopts its commands. */
void ring_kill(struct ring_cluster *c, uint32_t id);
/* cluster_ring_faults.c: fires the --kill/--restart events that are due;
 * false on a failed restart. */
bool ring_events(struct ring_cluster *c, uint64_t since_go_ns);
/* cluster_ring_faults.c: party `id`'s poll failed (an armed fault, or a
 * store that failed by itself). */
void ring_failed(struct ring_cluster *c, uint32_t id);
/* cluster_ring_faults.c: one step of the chaos loop; false when a restart
 * failed. */
bool ring_chaos_step(struct ring_cluster *c, uint64_t now);

#endif /* BPC_DP_CLUSTER_RING_H */
