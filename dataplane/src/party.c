/*
 * party.c - the embeddable party: one engine driven by rx/tx bursts.
 *
 * Owns: the poll round (rx burst, or a dequeue from an rx worker's ring ->
 * Ethernet checks -> engine step -> decisions -> persistence -> Ethernet
 * headers -> coalesced tx burst), the rx worker's forwarding step
 * (bpc_dp_rx_forward), the ownership of every mbuf it touches (rx mbufs are
 * freed after the step; tx mbufs come from a stash refilled in bulk;
 * refused ones are freed and counted), the built-in in-memory durable
 * store, the use of the durable file store (libbpcon-store) when given a
 * path, and the TSC clock.
 *
 * Must never: malloc, lock or log inside poll, or make a syscall there,
 * other than inside the durable store's calls (one pwrite and one fdatasync
 * per engine step that produced records, an allocation when its tables
 * grow, a compaction after the tx bursts when due; never inside the engine
 * step); let a frame leave before the records it depends on are durable;
 * keep an mbuf pointer across polls except in the tx stash, or assume a
 * received byte is sane.
 */
#include "bpcon_dp.h"
#include "dp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

/* Engine steps one poll may run back to back: the first with the received
 * frames, then one per persistence round or full tx lending (-EAGAIN). */
#define PARTY_STEPS_MAX 8u
/* Decisions taken out of one step. */
#define PARTY_DECISIONS_MAX 256u
/* Tx frames lent per step: enough for a broadcast of every record type. */
#define PARTY_TX_MIN 256u
#define PARTY_TX_MAX 1024u

struct bpc_dp_clock bpc_dp_clock_state;

void
bpc_dp_clock_init(void)
{
    uint64_t hz = rte_get_tsc_hz();
    RTE_VERIFY(hz > 0);
    bpc_dp_clock_state.hz = hz;
    bpc_dp_clock_state.mult = (uint64_t)(((bpc_u128)1000000000u << 32) / hz);
}

static void
party_err(char *err, size_t err_len, const char *what)
{
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s", what);
    }
}

/* ------------------------------------------------------------------------
 * Built-in in-memory store: the last record per window slot plus max_bal.
 * ---------------------------------------------------------------------- */

static int
party_store_put(void *ctx, const struct bpc_durable *recs, uint32_t count)
{
    struct dp_store *s = ctx;
    for (uint32_t i = 0; i < count; i++) {
        if (recs[i].instance == UINT64_MAX) {
            s->max_bal = recs[i];
            s->has_max_bal = true;
            continue;
        }
#ifdef BPC_DURABLE_APPLIED_BASE
        if (recs[i].instance >= BPC_DURABLE_APPLIED_BASE) {
            uint64_t sub = recs[i].instance - BPC_DURABLE_APPLIED_BASE;
            if (sub < s->parties) {
                s->applied[sub] = recs[i];
                s->applied_used[sub] = 1;
            }
            continue;
        }
#endif
        uint32_t slot = (uint32_t)(recs[i].instance & s->mask);
        s->slots[slot] = recs[i];
        s->used[slot] = 1;
    }
    return 0;
}

/* The durable file store: an optional application-state record (when the
 * floor moved past the last one written) and the records, as one commit,
 * synced before this returns. Compaction waits for the end of the poll. */
static int
party_file_persist(struct bpc_dp_party *p, const struct bpc_durable *recs, uint32_t count)
{
    uint64_t floor = 0;
    for (uint32_t i = 0; i < count; i++) {
        floor = recs[i].floor > floor ? recs[i].floor : floor;
    }
    int rc = 0;
    if (p->app_state != NULL && floor > p->app_floor) {
        int len = p->app_state(p->app_state_ctx, floor, p->app_buf, BPC_STORE_APP_BYTES_MAX);
        rc = len < 0 ? len : bpc_store_put_app(p->fstore, floor, p->app_buf, (uint32_t)len);
        if (rc == 0) {
            p->app_floor = floor;
        }
    }
    rc = rc == 0 ? bpc_store_append(p->fstore, recs, count) : rc;
    rc = rc == 0 ? bpc_store_sync(p->fstore) : rc;
    if (rc == 0 && bpc_store_compact_due(p->fstore)) {
        p->compact_due = true;
    }
    return rc;
}

static int
party_persist(struct bpc_dp_party *p, const struct bpc_durable *recs, uint32_t count)
{
    if (p->fstore != NULL) {
        return party_file_persist(p, recs, count);
    }
    return p->persist(p->persist_ctx, recs, count);
}

struct bpc_store *
bpc_dp_party_store(struct bpc_dp_party *p)
{
    return p->fstore;
}

uint32_t
bpc_dp_party_durable(struct bpc_dp_party *p, const struct bpc_durable **recs)
{
    if (p->fstore != NULL) {
        return bpc_store_records(p->fstore, recs);
    }
    const struct dp_store *s = &p->store;
    uint32_t n = 0;
    if (s->has_max_bal) {
        s->export[n++] = s->max_bal;
    }
    for (uint32_t i = 0; i < s->parties; i++) {
        if (s->applied_used[i]) {
            s->export[n++] = s->applied[i];
        }
    }
    for (uint32_t i = 0; i <= s->mask; i++) {
        if (s->used[i]) {
            s->export[n++] = s->slots[i];
        }
    }
    *recs = s->export;
    return n;
}

/* ------------------------------------------------------------------------
 * Init and free.
 * ---------------------------------------------------------------------- */

/* A (port, queue) has one rx path: every link naming it names the same
 * rx_ring (or none), and a ring serves one (port, queue) only (its worker
 * is its single producer). */
static int
party_link_ring(struct bpc_dp_party *p, uint32_t k, bool added, const struct bpc_dp_link *l,
                uint32_t i, char *err, size_t err_len)
{
    if (!added) {
        if (p->ports[k].rx_ring == l->rx_ring) {
            return 0;
        }
        snprintf(err, err_len, "link %u: port %u queue %u named with another rx_ring", i,
                 l->port_id, l->queue_id);
        return -EINVAL;
    }
    for (uint32_t j = 0; l->rx_ring != NULL && j < k; j++) {
        if (p->ports[j].rx_ring == l->rx_ring) {
            snprintf(err, err_len, "link %u: rx_ring already serves port %u queue %u", i,
                     p->ports[j].port_id, p->ports[j].queue_id);
            return -EINVAL;
        }
    }
    p->ports[k].rx_ring = l->rx_ring;
    return 0;
}

static int
party_links_add(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf, char *err,
                size_t err_len)
{
    for (uint32_t i = 0; i < p->cfg.parties_count; i++) {
        p->peer_port[i] = -1;
    }
    for (uint32_t i = 0; i < conf->links_count; i++) {
        const struct bpc_dp_link *l = &conf->links[i];
        if (l->peer >= p->cfg.parties_count || l->peer == p->cfg.self ||
            p->peer_port[l->peer] >= 0) {
            snprintf(err, err_len, "link %u: peer %u outside the cluster, self or twice", i,
                     l->peer);
            return -EINVAL;
        }
        uint32_t k = 0;
        while (k < p->ports_count &&
               (p->ports[k].port_id != l->port_id || p->ports[k].queue_id != l->queue_id)) {
            k++;
        }
        bool added = k == p->ports_count;
        if (added) {
            if (k == BPC_DP_PORTS_MAX) {
                snprintf(err, err_len, "more than %u distinct (port, queue) pairs",
                         BPC_DP_PORTS_MAX);
                return -E2BIG;
            }
            p->ports[k].port_id = l->port_id;
            p->ports[k].queue_id = l->queue_id;
            p->ports_count++;
        }
        int rc = party_link_ring(p, k, added, l, i, err, err_len);
        if (rc != 0) {
            return rc;
        }
        p->peer_port[l->peer] = (int16_t)k;
        struct rte_ether_hdr *h = &p->peer_hdr[l->peer];
        rte_ether_addr_copy(&l->mac, &h->dst_addr);
        rte_ether_addr_copy(&conf->self_mac, &h->src_addr);
        h->ether_type = rte_cpu_to_be_16(p->ether_type);
    }
    return 0;
}

static int
party_alloc(struct bpc_dp_party *p, int socket)
{
    uint32_t n = p->cfg.parties_count;
    uint32_t tx = 4u * n;
    p->tx_cap = tx < PARTY_TX_MIN ? PARTY_TX_MIN : (tx > PARTY_TX_MAX ? PARTY_TX_MAX : tx);
    p->store.mask = p->cfg.window_slots - 1;
    size_t slots = p->cfg.window_slots;

    p->keys = rte_zmalloc_socket("bpc_keys", (size_t)n * BPC_KEY_BYTES, 64, socket);
    p->peer_port = rte_zmalloc_socket("bpc_peer_port", n * sizeof(*p->peer_port), 64, socket);
    p->peer_hdr = rte_zmalloc_socket("bpc_peer_hdr", n * sizeof(*p->peer_hdr), 64, socket);
    p->stash = rte_zmalloc_socket("bpc_stash", p->tx_cap * sizeof(*p->stash), 64, socket);
    p->out = rte_zmalloc_socket("bpc_out", p->tx_cap * sizeof(*p->out), 64, socket);
    p->out_mbuf = rte_zmalloc_socket("bpc_outm", p->tx_cap * sizeof(*p->out_mbuf), 64, socket);
    p->decisions =
        rte_zmalloc_socket("bpc_dec", PARTY_DECISIONS_MAX * sizeof(*p->decisions), 64, socket);
    p->store.slots = rte_zmalloc_socket("bpc_store", slots * sizeof(*p->store.slots), 64, socket);
    p->store.used = rte_zmalloc_socket("bpc_used", slots, 64, socket);
    p->store.parties = n;
    p->store.applied = rte_zmalloc_socket("bpc_applied", n * sizeof(*p->store.applied), 64, socket);
    p->store.applied_used = rte_zmalloc_socket("bpc_applied_used", n, 64, socket);
    p->store.export =
        rte_zmalloc_socket("bpc_export", (slots + 1 + n) * sizeof(*p->store.export), 64, socket);
    for (uint32_t i = 0; i < BPC_DP_PORTS_MAX; i++) {
        p->txq[i] = NULL;
    }
    if (p->keys == NULL || p->peer_port == NULL || p->peer_hdr == NULL || p->stash == NULL ||
        p->out == NULL || p->out_mbuf == NULL || p->decisions == NULL || p->store.slots == NULL ||
        p->store.used == NULL || p->store.export == NULL || p->store.applied == NULL ||
        p->store.applied_used == NULL) {
        return -ENOMEM;
    }
    return 0;
}

static int
party_alloc_txq(struct bpc_dp_party *p, int socket)
{
    for (uint32_t k = 0; k < p->ports_count; k++) {
        p->txq[k] =
            rte_zmalloc_socket("bpc_txq", p->tx_cap * sizeof(struct rte_mbuf *), 64, socket);
        if (p->txq[k] == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

static int
party_check_conf(const struct bpc_dp_party_conf *conf, char *err, size_t err_len)
{
    if (conf == NULL || conf->engine == NULL || conf->pool == NULL ||
        (conf->links_count > 0 && conf->links == NULL)) {
        party_err(err, err_len, "conf, conf->engine and conf->pool are required");
        return -EINVAL;
    }
    if (conf->engine->keys == NULL) {
        party_err(err, err_len, "conf->engine->keys is required");
        return -EINVAL;
    }
    int rc = bpc_config_validate(conf->engine, err, err_len);
    if (rc != 0 && !conf->engine->unsafe) {
        return rc;
    }
    uint32_t room = rte_pktmbuf_data_room_size(conf->pool);
    if (room < RTE_PKTMBUF_HEADROOM + RTE_ETHER_HDR_LEN + conf->engine->frame_bytes) {
        snprintf(err, err_len, "mbuf data room %u < headroom + 14 + frame_bytes %u", room,
                 conf->engine->frame_bytes);
        return -EINVAL;
    }
    return 0;
}

/* The decided log: starts at the restored floor (every instance below is
 * decided and applied before the crash), so the engine's first append
 * lands at its resumed next-undecided instance. */
static int
party_log_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf,
             const struct bpc_durable *restore, uint32_t restore_count, char *err, size_t err_len)
{
    uint64_t floor = 0;
    for (uint32_t k = 0; k < restore_count; k++) {
        floor = restore[k].floor > floor ? restore[k].floor : floor;
    }
    uint64_t retain = conf->log_retain;
    if (retain == 0) {
        retain = 4ull * p->cfg.window_slots;
        retain = retain < BPC_DP_LOG_RETAIN_MIN ? BPC_DP_LOG_RETAIN_MIN : retain;
    }
    struct bpc_log_config lc = {
        .retain_entries = retain,
        .segment_entries = BPC_DP_LOG_SEGMENT,
        .value_bytes_max = p->cfg.value_bytes_max,
        .start_index = floor,
    };
    int rc = bpc_log_new(&p->log, &lc);
    if (rc != 0) {
        snprintf(err, err_len, "decided log of %llu entries x %u bytes: %s",
                 (unsigned long long)retain, lc.value_bytes_max, bpc_strerror(rc));
        return rc;
    }
    p->restored_floor = floor;
    p->cfg.log = p->log;
    return 0;
}

/* Opens (or recovers) the durable store; its live records are the restore
 * set and its application-state floor the last one written. */
static int
party_store_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf, int socket,
               const struct bpc_durable **restore, uint32_t *restore_count, char *err,
               size_t err_len)
{
    if (conf->persist != NULL || conf->restore_count > 0) {
        party_err(err, err_len, "store_path excludes persist and restore (the store has both)");
        return -EINVAL;
    }
    p->app_buf = rte_zmalloc_socket("bpc_app_state", BPC_STORE_APP_BYTES_MAX, 64, socket);
    if (p->app_buf == NULL) {
        party_err(err, err_len, "no memory for the application-state buffer");
        return -ENOMEM;
    }
    char why[768] = "";
    int rc = bpc_store_open(&p->fstore, conf->store_path, &p->cfg, &conf->store_options, why,
                            sizeof(why));
    if (rc != 0) {
        snprintf(err, err_len, "store: %s", why);
        return rc;
    }
    const struct bpc_store_info *in = bpc_store_info(p->fstore);
    if (in->torn_bytes > 0) {
        BPC_DP_LOG(WARNING,
                   "party %u: store %s: torn tail of %llu bytes after offset %llu dropped\n",
                   p->cfg.self, conf->store_path, (unsigned long long)in->torn_bytes,
                   (unsigned long long)in->valid_bytes);
    }
    uint64_t app_floor = 0;
    const uint8_t *app = NULL;
    uint32_t app_len = 0;
    if (bpc_store_app(p->fstore, &app_floor, &app, &app_len) == 0) {
        p->app_floor = app_floor;
    }
    *restore_count = bpc_store_records(p->fstore, restore);
    return 0;
}

static int
party_engine_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf, int socket, char *err,
                size_t err_len)
{
    const struct bpc_durable *restore = conf->restore;
    uint32_t restore_count = conf->restore_count;
    if (conf->store_path != NULL) {
        int src = party_store_up(p, conf, socket, &restore, &restore_count, err, err_len);
        if (src != 0) {
            return src;
        }
    }
    int rc = party_log_up(p, conf, restore, restore_count, err, err_len);
    if (rc != 0) {
        return rc;
    }
    size_t size = bpc_engine_footprint(&p->cfg);
    p->engine_mem = rte_zmalloc_socket("bpc_engine", size, 64, socket);
    if (p->engine_mem == NULL) {
        party_err(err, err_len, "no memory for the engine");
        return -ENOMEM;
    }
    rc = bpc_engine_init(&p->engine, p->engine_mem, size, &p->cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (restore_count > 0) {
        rc = bpc_engine_restore(p->engine, restore, restore_count);
        if (rc != 0) {
            party_err(err, err_len, "restoring durable state failed");
            return rc;
        }
        if (p->fstore == NULL) {
            party_store_put(&p->store, restore, restore_count);
        }
    }
    bpc_engine_start(p->engine, bpc_dp_now_ns());
    p->next_deadline_ns = 0; /* step at the first poll */
    return 0;
}

/* The rx arrays are sized once the links have named the ports. */
static int
party_alloc_rx(struct bpc_dp_party *p, int socket)
{
    p->rx_cap = p->ports_count * BPC_DP_RX_BURST * BPC_DP_RX_BURSTS_MAX;
    size_t n = p->rx_cap > 0 ? p->rx_cap : 1;
    p->rx = rte_zmalloc_socket("bpc_rx", n * sizeof(*p->rx), 64, socket);
    p->in = rte_zmalloc_socket("bpc_in", n * sizeof(*p->in), 64, socket);
    return p->rx == NULL || p->in == NULL ? -ENOMEM : 0;
}

int
bpc_dp_party_init(struct bpc_dp_party **out, const struct bpc_dp_party_conf *conf, char *err,
                  size_t err_len)
{
    *out = NULL;
    int rc = party_check_conf(conf, err, err_len);
    if (rc != 0) {
        return rc;
    }
    int socket = conf->socket_id;
    struct bpc_dp_party *p = rte_zmalloc_socket("bpc_party", sizeof(*p), 64, socket);
    if (p == NULL) {
        party_err(err, err_len, "no memory for the party");
        return -ENOMEM;
    }
    p->cfg = *conf->engine;
    p->pool = conf->pool;
    p->ether_type = conf->ether_type != 0 ? conf->ether_type : BPC_DP_ETHER_TYPE_DEFAULT;
    p->ether_type_be = rte_cpu_to_be_16(p->ether_type);
    rte_ether_addr_copy(&conf->self_mac, &p->self_mac);
    p->persist = conf->persist != NULL ? conf->persist : party_store_put;
    p->persist_ctx = conf->persist != NULL ? conf->persist_ctx : &p->store;
    p->on_decide = conf->on_decide;
    p->decide_ctx = conf->decide_ctx;
    p->app_state = conf->app_state;
    p->app_state_ctx = conf->app_state_ctx;

    rc = party_alloc(p, socket);
    if (rc == 0) {
        memcpy(p->keys, conf->engine->keys, (size_t)p->cfg.parties_count * BPC_KEY_BYTES);
        p->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])p->keys;
        rc = party_links_add(p, conf, err, err_len);
    } else {
        party_err(err, err_len, "no memory for party buffers");
    }
    if (rc == 0) {
        rc = party_alloc_rx(p, socket);
    }
    if (rc == 0) {
        rc = party_alloc_txq(p, socket);
    }
    if (rc == 0) {
        rc = party_engine_up(p, conf, socket, err, err_len);
    }
    if (rc != 0) {
        bpc_dp_party_free(p);
        return rc;
    }
    if (conf->telemetry) {
        dp_telemetry_add(p);
    }
    char t[48];
    char w[48];
    char f[48];
    BPC_DP_LOG(INFO,
               "party %u of %u: up with %u port(s), window %u, frames of %u bytes, quorum %s "
               "of weight %s (F %s), store %s\n",
               p->cfg.self, p->cfg.parties_count, p->ports_count, p->cfg.window_slots,
               p->cfg.frame_bytes, bpc_u128_str(bpc_config_threshold(&p->cfg), t),
               bpc_u128_str(bpc_config_total_weight(&p->cfg), w),
               bpc_u128_str(bpc_engine_faulty_weight(p->engine), f),
               conf->store_path != NULL ? conf->store_path : "(caller's persist hook)");
    p->log_leader = -2; /* the first tick reports the ballot */
    *out = p;
    return 0;
}

void
bpc_dp_party_free(struct bpc_dp_party *p)
{
    if (p == NULL) {
        return;
    }
    dp_telemetry_remove(p);
    if (p->stash != NULL && p->stash_count > 0) {
        rte_pktmbuf_free_bulk(p->stash, p->stash_count);
    }
    for (uint32_t k = 0; k < BPC_DP_PORTS_MAX; k++) {
        if (p->txq[k] != NULL && p->txq_count[k] > 0) {
            rte_pktmbuf_free_bulk(p->txq[k], p->txq_count[k]);
        }
        rte_free(p->txq[k]);
    }
    rte_free(p->engine_mem);
    bpc_log_free(p->log); /* after the engine, its only writer */
    /* Closed without a sync: everything reported durable already was. */
    bpc_store_close(p->fstore);
    rte_free(p->app_buf);
    rte_free(p->keys);
    rte_free(p->peer_port);
    rte_free(p->peer_hdr);
    rte_free(p->rx);
    rte_free(p->in);
    rte_free(p->stash);
    rte_free(p->out);
    rte_free(p->out_mbuf);
    rte_free(p->decisions);
    rte_free(p->store.slots);
    rte_free(p->store.used);
    rte_free(p->store.export);
    rte_free(p->store.applied);
    rte_free(p->store.applied_used);
    rte_free(p);
}

/* ------------------------------------------------------------------------
 * The poll round.
 * ---------------------------------------------------------------------- */

/* Frames dropped so far: the party's Ethernet checks and every engine drop
 * reason. */
static uint64_t
party_drops(const struct bpc_dp_party *p)
{
    const struct bpc_counters *c = bpc_engine_counters(p->engine);
    uint64_t d = p->counters.rx_drop_short + p->counters.rx_drop_segmented +
                 p->counters.rx_drop_ether_type + p->counters.rx_drop_dst_mac;
    for (uint32_t r = 0; r < BPC_DROP_REASONS_COUNT; r++) {
        d += c->drops[r];
    }
    return d;
}

/* Once a second at most (off the hot path): link state changes, ballot
 * and leader changes, and a burst of dropped frames, through the "bpcon"
 * log type. */
static void
party_log_tick(struct bpc_dp_party *p, uint64_t now_ns)
{
    p->log_next_ns = now_ns + 1000000000ull;
    for (uint32_t k = 0; k < p->ports_count; k++) {
        struct rte_eth_link link;
        memset(&link, 0, sizeof(link));
        if (rte_eth_link_get_nowait(p->ports[k].port_id, &link) != 0) {
            continue;
        }
        uint8_t state = link.link_status == RTE_ETH_LINK_UP ? 2 : 1;
        if (state != p->log_link[k]) {
            BPC_DP_LOG(NOTICE, "party %u: port %u link %s\n", p->cfg.self, p->ports[k].port_id,
                       state == 2 ? "up" : "down");
            p->log_link[k] = state;
        }
    }
    uint64_t ballot = bpc_engine_ballot(p->engine);
    int leader = bpc_engine_leader(p->engine);
    if (ballot != p->log_ballot || leader != p->log_leader) {
        BPC_DP_LOG(INFO, "party %u: ballot %llu, leader %d%s\n", p->cfg.self,
                   (unsigned long long)ballot, leader,
                   leader >= 0 && (uint32_t)leader == p->cfg.self ? " (this party)" : "");
        p->log_ballot = ballot;
        p->log_leader = leader;
    }
    uint64_t drops = party_drops(p);
    if (drops > p->log_drops) {
        const struct bpc_counters *c = bpc_engine_counters(p->engine);
        BPC_DP_LOG(WARNING,
                   "party %u: %llu frames dropped in the last second (bad tag %llu, replay "
                   "%llu, malformed %llu so far; see /bpcon/stats)\n",
                   p->cfg.self, (unsigned long long)(drops - p->log_drops),
                   (unsigned long long)c->drops[BPC_DROP_BAD_TAG],
                   (unsigned long long)c->drops[BPC_DROP_REPLAY],
                   (unsigned long long)(c->drops[BPC_DROP_BAD_TYPE] + c->drops[BPC_DROP_BAD_VALUE] +
                                        c->drops[BPC_DROP_BAD_BALLOT] +
                                        c->drops[BPC_DROP_BAD_HISTORY]));
        p->log_drops = drops;
    }
}

/* Does the frame pass the Ethernet checks? Counts the drop when not. */
static inline bool
party_rx_accept(struct bpc_dp_party *p, const struct rte_mbuf *m)
{
    if (unlikely(m->nb_segs != 1)) {
        p->counters.rx_drop_segmented++;
        return false;
    }
    if (unlikely(m->data_len <= RTE_ETHER_HDR_LEN)) {
        p->counters.rx_drop_short++;
        return false;
    }
    const struct rte_ether_hdr *h = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    if (unlikely(h->ether_type != p->ether_type_be)) {
        p->counters.rx_drop_ether_type++;
        return false;
    }
    if (unlikely(!rte_is_same_ether_addr(&h->dst_addr, &p->self_mac))) {
        p->counters.rx_drop_dst_mac++;
        return false;
    }
    return true;
}

/* Takes one (port, queue)'s frames into to[], at most one poll's budget:
 * from its rx worker's ring when it has one (one dequeue), else rx bursts
 * while they come back full. */
static inline uint32_t
party_rx_take(const struct dp_portq *q, struct rte_mbuf **to)
{
    if (q->rx_ring != NULL) {
        return rte_ring_dequeue_burst(q->rx_ring, (void **)to,
                                      BPC_DP_RX_BURST * BPC_DP_RX_BURSTS_MAX, NULL);
    }
    uint32_t total = 0;
    for (uint32_t b = 0; b < BPC_DP_RX_BURSTS_MAX; b++) {
        uint16_t got = rte_eth_rx_burst(q->port_id, q->queue_id, to + total, BPC_DP_RX_BURST);
        total += got;
        if (got < BPC_DP_RX_BURST) {
            break;
        }
    }
    return total;
}

/* Takes in every (port, queue); returns the frames handed to the engine. */
static uint32_t
party_rx(struct bpc_dp_party *p)
{
    uint32_t total = 0;
    for (uint32_t k = 0; k < p->ports_count; k++) {
        total += party_rx_take(&p->ports[k], p->rx + total);
    }
    p->rx_count = total;
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < total; i++) {
        if (i + 1 < total) {
            rte_prefetch0(rte_pktmbuf_mtod(p->rx[i + 1], void *));
        }
        struct rte_mbuf *m = p->rx[i];
        if (!party_rx_accept(p, m)) {
            continue;
        }
        p->in[accepted].bytes = rte_pktmbuf_mtod_offset(m, const uint8_t *, RTE_ETHER_HDR_LEN);
        p->in[accepted].len = (uint32_t)m->data_len - RTE_ETHER_HDR_LEN;
        p->counters.rx_bytes += m->data_len;
        accepted++;
    }
    p->counters.rx_frames += total;
    return accepted;
}

/* Tops the tx stash up to tx_cap in one bulk allocation. */
static void
party_stash_fill(struct bpc_dp_party *p)
{
    uint32_t want = p->tx_cap - p->stash_count;
    if (want == 0) {
        return;
    }
    if (rte_pktmbuf_alloc_bulk(p->pool, p->stash + p->stash_count, want) == 0) {
        p->stash_count += want;
    } else {
        p->counters.tx_alloc_failed++;
    }
}

/* Lends the data areas of the stash's mbufs (taken from its top) past room
 * for the Ethernet header; returns how many were lent. */
static uint32_t
party_lend(struct bpc_dp_party *p)
{
    uint32_t n = p->stash_count;
    for (uint32_t i = 0; i < n; i++) {
        struct rte_mbuf *m = p->stash[n - 1 - i];
        p->out_mbuf[i] = m;
        p->out[i].bytes = rte_pktmbuf_mtod_offset(m, uint8_t *, RTE_ETHER_HDR_LEN);
        p->out[i].cap = p->cfg.frame_bytes;
        p->out[i].len = 0;
        p->out[i].peer = UINT32_MAX;
    }
    return n;
}

static void
party_txq_flush(struct bpc_dp_party *p, uint32_t k)
{
    uint16_t n = p->txq_count[k];
    if (n == 0) {
        return;
    }
    uint16_t sent = rte_eth_tx_burst(p->ports[k].port_id, p->ports[k].queue_id, p->txq[k], n);
    if (unlikely(sent < n)) {
        rte_pktmbuf_free_bulk(p->txq[k] + sent, (unsigned int)(n - sent));
        p->counters.tx_refused += (uint64_t)(n - sent);
    }
    p->counters.tx_frames += sent;
    p->txq_count[k] = 0;
}

/* Frames 0..count of the last step: head them, queue them per port. The
 * stash gives up exactly the mbufs it lent that carry a frame. */
static void
party_tx(struct bpc_dp_party *p, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        struct rte_mbuf *m = p->out_mbuf[i];
        const struct bpc_frame_out *f = &p->out[i];
        int16_t k = f->peer < p->cfg.parties_count ? p->peer_port[f->peer] : -1;
        if (unlikely(k < 0 || f->len == 0 || f->len > f->cap)) {
            p->counters.tx_no_link++;
            rte_pktmbuf_free(m);
            continue;
        }
        rte_memcpy(rte_pktmbuf_mtod(m, void *), &p->peer_hdr[f->peer], RTE_ETHER_HDR_LEN);
        m->data_len = (uint16_t)(f->len + RTE_ETHER_HDR_LEN);
        m->pkt_len = m->data_len;
        p->counters.tx_bytes += m->data_len;
        p->txq[k][p->txq_count[k]++] = m;
        if (p->txq_count[k] == p->tx_cap) {
            party_txq_flush(p, (uint32_t)k);
        }
    }
    /* The used mbufs were the top `count` of the stash. */
    p->stash_count -= count;
}

static void
party_decide(struct bpc_dp_party *p, const struct bpc_step_out *out)
{
    p->counters.decided += out->decisions_count;
    if (p->on_decide == NULL) {
        return;
    }
    for (uint32_t i = 0; i < out->decisions_count; i++) {
        p->on_decide(p->decide_ctx, &out->decisions[i]);
    }
}

/* One engine step and everything it asks for; returns true when another
 * step is due at once (held messages released or frames left queued). */
static bool
party_step(struct bpc_dp_party *p, const struct bpc_step_in *in, uint32_t *work)
{
    party_stash_fill(p);
    struct bpc_step_out out = {
        .frames = p->out,
        .frames_cap = party_lend(p),
        .decisions = p->decisions,
        .decisions_cap = PARTY_DECISIONS_MAX,
    };
    int rc = bpc_engine_step(p->engine, in, &out);
    p->counters.steps++;
    p->next_deadline_ns = out.next_deadline_ns;
    party_decide(p, &out);
    bool again = rc == -EAGAIN || out.decisions_count == PARTY_DECISIONS_MAX;
    if (rc == -EAGAIN) {
        p->counters.step_eagain++;
    }
    if (out.persist_count > 0) {
        p->counters.persist_calls++;
        p->counters.persist_records += out.persist_count;
        if (party_persist(p, out.persist, out.persist_count) != 0) {
            p->counters.persist_errors++;
            p->failed = true;
            /* Nothing that depends on the lost write may leave. */
            rte_pktmbuf_free_bulk(p->out_mbuf, out.frames_count);
            p->stash_count -= out.frames_count;
            return false;
        }
        bpc_engine_persisted(p->engine);
        again = true;
    }
    party_tx(p, out.frames_count);
    *work += out.frames_count + out.decisions_count;
    return again;
}

int
bpc_dp_party_poll(struct bpc_dp_party *p, uint64_t now_ns)
{
    if (unlikely(p->failed)) {
        return -EIO;
    }
    if (unlikely(now_ns >= p->log_next_ns)) {
        party_log_tick(p, now_ns);
    }
    p->counters.polls++;
    uint32_t accepted = party_rx(p);
    uint32_t work = p->rx_count;
    /* A plain load first: the exchange (a locked instruction) only when set. */
    bool dirty = atomic_load_explicit(&p->dirty, memory_order_relaxed) &&
                 atomic_exchange_explicit(&p->dirty, false, memory_order_relaxed);
    if (accepted == 0 && !dirty && now_ns < p->next_deadline_ns) {
        if (p->rx_count > 0) {
            rte_pktmbuf_free_bulk(p->rx, p->rx_count);
        }
        bpc_log_quiescent();
        return (int)work;
    }
    p->counters.submitted = atomic_load_explicit(&p->submitted, memory_order_relaxed);
    p->counters.submit_refused = atomic_load_explicit(&p->submit_refused, memory_order_relaxed);
    struct bpc_step_in in = {.now_ns = now_ns, .frames = p->in, .frames_count = accepted};
    for (uint32_t s = 0; s < PARTY_STEPS_MAX; s++) {
        bool again = party_step(p, &in, &work);
        if (s == 0 && p->rx_count > 0) {
            /* The engine copied what it keeps: the burst goes back now. */
            rte_pktmbuf_free_bulk(p->rx, p->rx_count);
            p->rx_count = 0;
            in.frames_count = 0;
        }
        if (!again || p->failed) {
            break;
        }
        if (s + 1 == PARTY_STEPS_MAX) {
            atomic_store_explicit(&p->dirty, true, memory_order_relaxed); /* next poll */
        }
    }
    if (p->rx_count > 0) {
        rte_pktmbuf_free_bulk(p->rx, p->rx_count);
        p->rx_count = 0;
    }
    for (uint32_t k = 0; k < p->ports_count; k++) {
        party_txq_flush(p, k);
    }
    if (p->compact_due) {
        /* After the tx bursts: a compaction never holds frames back. */
        p->compact_due = false;
        if (bpc_store_compact(p->fstore) == 0) {
            p->counters.store_compactions++;
        } else {
            p->counters.persist_errors++;
            p->failed = true;
        }
    }
    /* No log entry pointer is held past here: lets retired log segments
     * come back after their grace period. */
    bpc_log_quiescent();
    return p->failed ? -EIO : (int)work;
}

uint32_t
bpc_dp_rx_forward(uint16_t port, uint16_t queue, struct rte_ring *ring, struct bpc_dp_rx_stats *st)
{
    struct rte_mbuf *bufs[BPC_DP_RX_BURST];
    uint16_t got = rte_eth_rx_burst(port, queue, bufs, BPC_DP_RX_BURST);
    if (got == 0) {
        return 0;
    }
    unsigned int put = rte_ring_enqueue_burst(ring, (void *const *)bufs, got, NULL);
    if (unlikely(put < got)) {
        /* The polling thread is behind: these are lost like frames a full
         * rx queue drops, but their mbufs go back to the pool here. */
        rte_pktmbuf_free_bulk(bufs + put, got - put);
    }
    if (st != NULL) {
        st->bursts++;
        st->frames += got;
        st->ring_refused += got - put;
    }
    return got;
}

int
bpc_dp_party_submit(struct bpc_dp_party *p, const uint8_t *cmd, uint32_t len, uint64_t *ticket)
{
    int rc = bpc_submit(p->engine, cmd, len, ticket);
    if (rc == 0) {
        atomic_fetch_add_explicit(&p->submitted, 1, memory_order_relaxed);
        atomic_store_explicit(&p->dirty, true, memory_order_release);
    } else {
        atomic_fetch_add_explicit(&p->submit_refused, 1, memory_order_relaxed);
    }
    return rc;
}

struct bpc_engine *
bpc_dp_party_engine(struct bpc_dp_party *p)
{
    return p->engine;
}

struct bpc_log *
bpc_dp_party_log(struct bpc_dp_party *p)
{
    return p->log;
}

uint64_t
bpc_dp_party_restored_floor(const struct bpc_dp_party *p)
{
    return p->restored_floor;
}

const struct bpc_dp_counters *
bpc_dp_party_counters(const struct bpc_dp_party *p)
{
    return &p->counters;
}

uint32_t
bpc_dp_party_self(const struct bpc_dp_party *p)
{
    return p->cfg.self;
}

uint64_t
bpc_dp_party_next_deadline(const struct bpc_dp_party *p)
{
    return atomic_load_explicit(&p->dirty, memory_order_relaxed) ? 0 : p->next_deadline_ns;
}
