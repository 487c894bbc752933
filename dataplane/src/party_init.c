/*
 * party_init.c - the party's set-up and teardown: bpc_dp_party_init and
 * bpc_dp_party_free.
 *
 * Owns: the checks on a bpc_dp_party_conf, the mapping of links to
 * (port, queue) pairs and their Ethernet headers, every allocation of a
 * party (rte_malloc on its socket, sized once at init), the decided log's
 * start at the restored floor, engine init and restore, telemetry
 * registration, and giving every mbuf still held back to its pool at free.
 *
 * Must never: be called from the poll path, leave a half-built party behind
 * on error (bpc_dp_party_free takes any partial state), or start the engine
 * before the durable state is restored into it.
 */
#include "bpcon_dp.h"
#include "dp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

/* Tx frames lent per step: enough for a broadcast of every record type. */
#define PARTY_TX_MIN 256u
#define PARTY_TX_MAX 1024u

void
dp_party_err(char *err, size_t err_len, const char *what)
{
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s", what);
    }
}

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
    if (p->keys == NULL || p->peer_port == NULL || p->peer_hdr == NULL || p->out == NULL ||
        p->out_mbuf == NULL || p->decisions == NULL || p->store.slots == NULL ||
        p->store.used == NULL || p->store.export == NULL || p->store.applied == NULL ||
        p->store.applied_used == NULL) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < p->tx_cap; i++) {
        p->out[i].cap = p->cfg.frame_bytes; /* bytes: at each lending */
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

/* Checks out (and clears *out) and conf. */
static int
party_check_conf(struct bpc_dp_party **out, const struct bpc_dp_party_conf *conf, char *err,
                 size_t err_len)
{
    if (out == NULL) {
        dp_party_err(err, err_len, "out is required");
        return -EINVAL; /* before: a crash */
    }
    *out = NULL;
    if (conf == NULL || conf->engine == NULL || conf->pool == NULL ||
        (conf->links_count > 0 && conf->links == NULL)) {
        dp_party_err(err, err_len, "conf, conf->engine and conf->pool are required");
        return -EINVAL;
    }
    if (conf->engine->keys == NULL) {
        dp_party_err(err, err_len, "conf->engine->keys is required");
        return -EINVAL;
    }
    if (conf->store_options.read_only) {
        /* Every step's records are appended to the store: a read-only one
         * failed the party at its first persist (-EROFS; review B4). */
        dp_party_err(err, err_len,
                     "conf->store_options.read_only is set: a party appends to its store at "
                     "every step (read a store with bpc_store_open, not through a party)");
        return -EINVAL;
    }
    /* unsafe relaxes the threshold only, and validate itself allows for
     * it: any refusal stands (a window of 0 or 2000 parties went on to a
     * misleading -ENOMEM or a crash). */
    int rc = bpc_config_validate(conf->engine, err, err_len);
    if (rc != 0) {
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
    if (retain > BPC_DP_LOG_RETAIN_MAX) {
        snprintf(err, err_len, "log_retain %llu above %llu", (unsigned long long)retain,
                 (unsigned long long)BPC_DP_LOG_RETAIN_MAX);
        return -EINVAL;
    }
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

/* bpc_engine_start, its refusals named. */
static int
party_engine_start(struct bpc_dp_party *p, char *err, size_t err_len)
{
    int rc = bpc_engine_start(p->engine, bpc_dp_now_ns());
    if (rc == -EOVERFLOW) {
        dp_party_err(err, err_len,
                     "starting the engine failed: the party's incarnations are used up "
                     "(2^24 - 3 restarts with a promised ballot; the next could not restore)");
    } else if (rc != 0) {
        dp_party_err(err, err_len,
                     "starting the engine failed: the decided log's next entry is not the "
                     "restored floor");
    }
    return rc;
}

static int
party_engine_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf, int socket, char *err,
                size_t err_len)
{
    const struct bpc_durable *restore = conf->restore;
    uint32_t restore_count = conf->restore_count;
    const struct bpc_durable_value *restore_values = conf->restore_values;
    uint32_t restore_values_count = conf->restore_values_count;
    if (conf->store_path != NULL) {
        int src = dp_party_store_up(p, conf, socket, &restore, &restore_count, &restore_values,
                                    &restore_values_count, err, err_len);
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
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len,
                     "no memory for the engine: %zu bytes from the DPDK heap (its size is EAL's "
                     "-m or the huge pages; the window and value size set the engine's)",
                     size);
        }
        return -ENOMEM;
    }
    rc = bpc_engine_init(&p->engine, p->engine_mem, size, &p->cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (restore_count > 0) {
        rc = bpc_engine_restore(p->engine, restore, restore_count);
        if (rc == 0) {
            rc = bpc_engine_restore_values(p->engine, restore_values, restore_values_count);
        }
        if (rc == -ERANGE) {
            dp_party_err(err, err_len,
                         "restoring durable state failed: it holds a vote above the window "
                         "or a value longer than value_bytes_max (written with a larger "
                         "window_slots or value_bytes_max; restart with those)");
            return rc;
        }
        if (rc != 0) {
            dp_party_err(err, err_len,
                         "restoring durable state failed: the store holds records no engine "
                         "writes (or an incarnation with no room for this start: 2^24 - 2 "
                         "restarts used)");
            return rc;
        }
        if (p->fstore == NULL) {
            dp_store_put(&p->store, restore, restore_count);
        }
    }
    rc = party_engine_start(p, err, err_len);
    if (rc != 0) {
        return rc;
    }
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
    int rc = party_check_conf(out, conf, err, err_len);
    if (rc != 0) {
        return rc;
    }
    int socket = conf->socket_id;
    struct bpc_dp_party *p = rte_zmalloc_socket("bpc_party", sizeof(*p), 64, socket);
    if (p == NULL) {
        dp_party_err(err, err_len, "no memory for the party");
        return -ENOMEM;
    }
    p->cfg = *conf->engine;
    p->pool = conf->pool;
    p->ether_type = conf->ether_type != 0 ? conf->ether_type : BPC_DP_ETHER_TYPE_DEFAULT;
    p->ether_type_be = rte_cpu_to_be_16(p->ether_type);
    rte_ether_addr_copy(&conf->self_mac, &p->self_mac);
    p->persist = conf->persist != NULL ? conf->persist : dp_store_put;
    p->persist_ctx = conf->persist != NULL ? conf->persist_ctx : &p->store;
    p->persist_values = conf->persist != NULL ? conf->persist_values : NULL;
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
        dp_party_err(err, err_len, "no memory for party buffers");
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
    dp_party_stats_publish(p, bpc_dp_now_ns());
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
               conf->store_path != NULL ? conf->store_path
               : conf->persist != NULL
                   ? "(caller's persist hook)"
                   : "in memory only (no store_path, no persist hook): NOT durable, a restart "
                     "forgets the votes");
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
    if (p->out_mbuf != NULL && p->lent > p->lend_used) {
        /* Slots below lend_used lost their mbufs to the last step. */
        rte_pktmbuf_free_bulk(p->out_mbuf + p->lend_used, p->lent - p->lend_used);
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
