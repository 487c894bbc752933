/*
 * dp_internal.h - the party's layout and the functions the dataplane
 * library's own modules (party.c, party_init.c, party_store.c,
 * telemetry.c) offer each other; not installed.
 *
 * Must never: be included by applications (they see struct bpc_dp_party as
 * opaque through bpcon_dp.h), or declare a function without DP_FN.
 */
#ifndef BPC_DP_INTERNAL_H
#define BPC_DP_INTERNAL_H

#include "bpcon_dp.h"
#include "memstore.h"

#include <stdatomic.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

/* A function one module of the library offers the others: hidden, so it
 * stays out of the shared library's exports (as the version script makes
 * sure too) and calls to it bind within the library. */
#define DP_FN __attribute__((visibility("hidden")))

/* 64-bit words of struct bpc_dp_stats (all its fields are 64-bit). */
#define DP_STATS_WORDS (sizeof(struct bpc_dp_stats) / sizeof(uint64_t))

/* Decisions taken out of one step. */
#define PARTY_DECISIONS_MAX 256u

struct dp_portq {
    uint16_t port_id;
    uint16_t queue_id;
    struct rte_ring *rx_ring; /* NULL: rx_burst here; else a worker's ring */
};

struct bpc_dp_party {
    /* Hot: read every poll. */
    struct bpc_engine *engine;
    struct rte_mempool *pool;
    struct rte_ether_addr self_mac;
    uint16_t ether_type;
    uint16_t ether_type_be;
    atomic_bool dirty;  /* a submission or unfinished step: step at the next poll */
    atomic_bool failed; /* persistence failed: the party is stopped (submit reads it) */
    uint32_t ports_count;
    struct dp_portq ports[BPC_DP_PORTS_MAX];
    uint64_t next_deadline_ns;
    int16_t *peer_port;             /* peer id -> index in ports, -1 none */
    struct rte_ether_hdr *peer_hdr; /* peer id -> its frames' Ethernet header */

    struct rte_mbuf **rx;
    struct bpc_frame_in *in;
    uint32_t rx_cap;
    uint32_t rx_count;

    /* Tx buffers lent to the engine, kept lent across steps: out[0..lent)
     * are the data areas of out_mbuf[0..lent). A step's frames are
     * out[0..frames_count); the next step's lending refills those
     * lend_used slots, which hold no mbuf until then. */
    struct bpc_frame_out *out;
    struct rte_mbuf **out_mbuf; /* out[i]'s mbuf */
    uint32_t lent;
    uint32_t lend_used;
    uint32_t tx_cap;
    struct rte_mbuf **txq[BPC_DP_PORTS_MAX];
    uint16_t txq_count[BPC_DP_PORTS_MAX];

    struct bpc_decision *decisions;
    bpc_dp_persist_fn persist;
    bpc_dp_persist_values_fn persist_values; /* NULL: values not kept */
    void *persist_ctx;
    bpc_dp_decide_fn on_decide;
    void *decide_ctx;

    struct bpc_store *fstore; /* the durable store (store_path), else NULL */
    bool compact_due;         /* compact after this poll's tx bursts */
    bool release_due;         /* give back part of the replaced store file */
    bpc_dp_app_state_fn app_state;
    void *app_state_ctx;
    uint8_t *app_buf;   /* BPC_STORE_APP_BYTES_MAX */
    uint64_t app_floor; /* floor of the last application state stored */

    struct bpc_dp_counters counters;
    /* Submissions may come from any thread: counted here, copied into
     * counters by poll. */
    atomic_uint_fast64_t submitted;
    atomic_uint_fast64_t submit_refused;

    /* Cold. */
    struct bpc_config cfg;
    uint8_t (*keys)[BPC_KEY_BYTES];
    void *engine_mem;
    struct bpc_log *log;     /* decided log (cfg.log) */
    uint64_t restored_floor; /* the log's start index */
    struct dp_store store;

    /* Stats for other threads (telemetry): poll publishes a copy at most
     * every BPC_DP_STATS_NS, a sequence lock around word-sized atomic
     * stores (stats_seq odd while they are written), so a reader never
     * races the plain stores of the hot path. */
    uint64_t tick_next_ns; /* next party_tick: stats, then the log if due */
    atomic_uint_fast64_t stats_seq;
    _Atomic uint64_t stats_words[DP_STATS_WORDS];

    /* Logging (party_log_tick, at most once a second): what was last said. */
    uint64_t log_next_ns;
    uint64_t log_ballot;
    int log_leader;
    uint64_t log_drops;
    uint8_t log_link[BPC_DP_PORTS_MAX]; /* 0 unknown, 1 down, 2 up */
};

/* party_init.c: copies `what` into err when there is room. */
DP_FN void dp_party_err(char *err, size_t err_len, const char *what);

/* party_store.c: makes one step's records durable (the file store when the
 * party has one, else the persist hook); 0 once they are. */
DP_FN int dp_party_persist(struct bpc_dp_party *p, const struct bpc_step_out *out);
/* party_store.c: opens (or recovers) conf->store_path; sets the restore set
 * to its live records. */
DP_FN int dp_party_store_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf,
                            int socket, const struct bpc_durable **restore, uint32_t *restore_count,
                            const struct bpc_durable_value **restore_values,
                            uint32_t *restore_values_count, char *err, size_t err_len);

/* party.c: publishes the party's stats for bpc_dp_party_stats (from the
 * polling thread, or init before the party is handed out). */
DP_FN void dp_party_stats_publish(struct bpc_dp_party *p, uint64_t now_ns);

/* telemetry.c: the registry of parties shown under /bpcon/stats. */
DP_FN void dp_telemetry_add(struct bpc_dp_party *p);
DP_FN void dp_telemetry_remove(struct bpc_dp_party *p);

#endif /* BPC_DP_INTERNAL_H */
