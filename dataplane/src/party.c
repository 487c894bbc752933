/*
 * party.c - the embeddable party: one engine driven by rx/tx bursts.
 *
 * Owns: the poll round (rx burst, or a dequeue from an rx worker's ring ->
 * Ethernet checks -> engine step -> decisions -> persistence -> Ethernet
 * headers -> coalesced tx burst), the rx worker's forwarding step
 * (bpc_dp_rx_forward), the ownership of every mbuf it touches (rx mbufs are
 * freed after the step; tx mbufs stay lent to the engine across steps and
 * the slots a step used are refilled in bulk; refused ones are freed and
 * counted), submissions, the once-a-second log tick, the stats published
 * for other threads (a sequence lock, at most every BPC_DP_STATS_NS), the
 * party's accessors and the TSC clock. Set-up and teardown are party_init.c's; the stores
 * behind persistence are party_store.c's.
 *
 * Must never: malloc, lock or log inside poll, or make a syscall there,
 * other than inside the durable store's calls (one pwrite and one fdatasync
 * per engine step that produced records, an allocation when its tables
 * grow, a compaction after the tx bursts when due; never inside the engine
 * step); let a frame leave before the records it depends on are durable;
 * keep an mbuf pointer across polls except the lent tx buffers, or assume a
 * received byte is sane.
 */
#include "bpcon_dp.h"
#include "dp_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

/* Engine steps one poll may run back to back: the first with the received
 * frames, then one per persistence round or full tx lending (-EAGAIN). */
#define PARTY_STEPS_MAX 8u
/* Reads bpc_dp_party_stats tries before -EBUSY (a publication takes well
 * under a microsecond). */
#define PARTY_STATS_TRIES 4096u

_Static_assert(sizeof(struct bpc_dp_stats) % sizeof(uint64_t) == 0 &&
                   sizeof(struct bpc_dp_stats) == sizeof(uint64_t) * 4 +
                                                      sizeof(struct bpc_dp_counters) +
                                                      sizeof(struct bpc_counters),
               "struct bpc_dp_stats is 64-bit words with no padding");

struct bpc_dp_clock bpc_dp_clock_state;

void
bpc_dp_clock_init(void)
{
    uint64_t hz = rte_get_tsc_hz();
    RTE_VERIFY(hz > 0);
    bpc_dp_clock_state.hz = hz;
    bpc_dp_clock_state.mult = (uint64_t)(((bpc_u128)1000000000u << 32) / hz);
}

/* ------------------------------------------------------------------------
 * Stats for other threads.
 * ---------------------------------------------------------------------- */

void
dp_party_stats_publish(struct bpc_dp_party *p, uint64_t now_ns)
{
    struct bpc_dp_stats s;
    s.at_ns = now_ns;
    s.dp = p->counters;
    s.dp.submitted = atomic_load_explicit(&p->submitted, memory_order_relaxed);
    s.dp.submit_refused = atomic_load_explicit(&p->submit_refused, memory_order_relaxed);
    s.engine = *bpc_engine_counters(p->engine);
    s.ballot = bpc_engine_ballot(p->engine);
    s.leader = bpc_engine_leader(p->engine);
    s.next_undecided = bpc_engine_next_undecided(p->engine);
    uint64_t w[DP_STATS_WORDS];
    memcpy(w, &s, sizeof(w));
    /* Odd while the words change; the release fence keeps the words'
     * stores after the odd count, the release store the even one after
     * them. One writer: the count needs no read-modify-write. */
    uint64_t seq = atomic_load_explicit(&p->stats_seq, memory_order_relaxed);
    atomic_store_explicit(&p->stats_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (uint32_t i = 0; i < DP_STATS_WORDS; i++) {
        atomic_store_explicit(&p->stats_words[i], w[i], memory_order_relaxed);
    }
    atomic_store_explicit(&p->stats_seq, seq + 2, memory_order_release);
}

int
bpc_dp_party_stats(const struct bpc_dp_party *p, struct bpc_dp_stats *out)
{
    if (p == NULL || out == NULL) {
        return -EINVAL;
    }
    uint64_t w[DP_STATS_WORDS];
    for (uint32_t t = 0; t < PARTY_STATS_TRIES; t++) {
        uint64_t seq = atomic_load_explicit(&p->stats_seq, memory_order_acquire);
        if ((seq & 1u) == 0) {
            for (uint32_t i = 0; i < DP_STATS_WORDS; i++) {
                w[i] = atomic_load_explicit(&p->stats_words[i], memory_order_relaxed);
            }
            /* The words' loads before the count's second load. */
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&p->stats_seq, memory_order_relaxed) == seq) {
                memcpy(out, w, sizeof(w));
                return 0;
            }
        }
        rte_pause();
    }
    return -EBUSY;
}

/* ------------------------------------------------------------------------
 * The poll round.
 * ---------------------------------------------------------------------- */

/* Frames dropped so far that came as this party's: too short or
 * segmented, and every engine drop reason. A frame of another ethertype
 * or for another MAC is not one (a shared segment carries them all the
 * time): counted in its own counter, not warned about. */
static uint64_t
party_drops(const struct bpc_dp_party *p)
{
    const struct bpc_counters *c = bpc_engine_counters(p->engine);
    uint64_t d = p->counters.rx_drop_short + p->counters.rx_drop_segmented;
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
        uint64_t tag = c->drops[BPC_DROP_BAD_TAG];
        uint64_t replay = c->drops[BPC_DROP_REPLAY];
        uint64_t cut = p->counters.rx_drop_short + p->counters.rx_drop_segmented;
        BPC_DP_LOG(WARNING,
                   "party %u: %llu frames for it dropped in the last second (so far: bad tag "
                   "%llu, replay %llu, short or segmented %llu, other %llu; see /bpcon/stats)\n",
                   p->cfg.self, (unsigned long long)(drops - p->log_drops), (unsigned long long)tag,
                   (unsigned long long)replay, (unsigned long long)cut,
                   (unsigned long long)(drops - tag - replay - cut));
        p->log_drops = drops;
    }
}

/* Every BPC_DP_STATS_NS of now_ns at most (the poll's one compare): the
 * stats for other threads, then the log tick when its second is up. */
static void
party_tick(struct bpc_dp_party *p, uint64_t now_ns)
{
    p->tick_next_ns = now_ns + BPC_DP_STATS_NS;
    dp_party_stats_publish(p, now_ns);
    if (now_ns >= p->log_next_ns) {
        party_log_tick(p, now_ns);
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

/* Points lent descriptors at..at+n at their mbufs' data areas, past room
 * for the Ethernet header (cap is frame_bytes from init on). */
static inline void
party_lend_set(struct bpc_dp_party *p, uint32_t at, uint32_t n)
{
    for (uint32_t i = at; i < at + n; i++) {
        p->out[i].bytes = rte_pktmbuf_mtod_offset(p->out_mbuf[i], uint8_t *, RTE_ETHER_HDR_LEN);
    }
}

/* Closes the gap of the first `used` slots (their mbufs are gone) with the
 * last lent ones: out[0..lent) is lent again, `used` fewer. */
static void
party_lend_close(struct bpc_dp_party *p, uint32_t used)
{
    uint32_t keep = p->lent - used;
    uint32_t move = keep < used ? keep : used;
    for (uint32_t i = 0; i < move; i++) {
        p->out_mbuf[i] = p->out_mbuf[p->lent - move + i];
        p->out[i].bytes = p->out[p->lent - move + i].bytes;
    }
    p->lent = keep;
}

/* Lends tx_cap buffers again, in one bulk allocation of what is missing:
 * the slots of the last step's frames (refilled in place) or, after a
 * shortage, the end of the array; returns how many are lent. Lent
 * descriptors stay valid across steps, so this costs the frames the last
 * step produced, not tx_cap. */
static uint32_t
party_lend(struct bpc_dp_party *p)
{
    uint32_t used = p->lend_used;
    p->lend_used = 0;
    if (unlikely(used > 0 && p->lent < p->tx_cap)) {
        party_lend_close(p, used);
        used = 0;
    }
    uint32_t at = used > 0 ? 0 : p->lent;
    uint32_t want = used > 0 ? used : p->tx_cap - p->lent;
    if (want == 0) {
        return p->lent;
    }
    if (likely(rte_pktmbuf_alloc_bulk(p->pool, p->out_mbuf + at, want) == 0)) {
        party_lend_set(p, at, want);
        p->lent = p->tx_cap;
    } else {
        p->counters.tx_alloc_failed++;
        if (used > 0) {
            party_lend_close(p, used);
        }
    }
    return p->lent;
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

/* Frames 0..count of the last step: head them, queue them per port. Their
 * slots are lent again before the next step. */
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
    p->lend_used = count;
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
        if (dp_party_persist(p, &out) != 0) {
            p->counters.persist_errors++;
            atomic_store_explicit(&p->failed, true, memory_order_release);
            /* Nothing that depends on the lost write may leave. */
            rte_pktmbuf_free_bulk(p->out_mbuf, out.frames_count);
            p->lend_used = out.frames_count;
            return false;
        }
        bpc_engine_persisted(p->engine);
        again = true;
    }
    party_tx(p, out.frames_count);
    *work += out.frames_count + out.decisions_count;
    return again;
}

/* One step of giving back the file the last compaction replaced (a
 * millisecond at once, a tenth of that per step): after the tx bursts or
 * in an idle poll. A failed truncate only closes that file at once. */
static inline void
party_release(struct bpc_dp_party *p)
{
    if (unlikely(p->release_due)) {
        p->release_due = bpc_store_release(p->fstore) > 0;
    }
}

/* party_dirty: the poll takes p->dirty with acquire, pairing with
 * bpc_dp_party_submit's release, so the step it triggers sees the
 * submitted command in the engine's ring. Before (review C1), relaxed: on
 * a weakly ordered CPU the step could miss it, and the command waited for
 * the next frame or deadline (x86 orders these loads anyway: no test here
 * can show it). The poll's own "step again next poll" is an exchange, not
 * a store: a read-modify-write keeps a submit's release sequence. */
int
bpc_dp_party_poll(struct bpc_dp_party *p, uint64_t now_ns)
{
    if (unlikely(p == NULL || atomic_load_explicit(&p->failed, memory_order_relaxed))) {
        /* Still quiescent: a loop that goes on polling a failed party
         * must not hold back the process's grace periods (other parties'
         * logs reclaim through them). p NULL: before, a crash. */
        bpc_log_quiescent();
        return p == NULL ? -EINVAL : -EIO;
    }
    if (unlikely(now_ns >= p->tick_next_ns)) {
        party_tick(p, now_ns);
    }
    p->counters.polls++;
    uint32_t accepted = party_rx(p);
    uint32_t work = p->rx_count;
    /* A plain load first: the exchange (a locked instruction) only when set;
     * acquire pairs with the submit's release (review C1: party_dirty). */
    bool dirty = atomic_load_explicit(&p->dirty, memory_order_acquire) &&
                 atomic_exchange_explicit(&p->dirty, false, memory_order_acquire);
    if (accepted == 0 && !dirty && now_ns < p->next_deadline_ns) {
        if (p->rx_count > 0) {
            rte_pktmbuf_free_bulk(p->rx, p->rx_count);
        }
        party_release(p);
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
        if (!again || atomic_load_explicit(&p->failed, memory_order_relaxed)) {
            break;
        }
        if (s + 1 == PARTY_STEPS_MAX) {
            (void)atomic_exchange_explicit(&p->dirty, true, memory_order_relaxed); /* party_dirty */
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
            p->release_due = true;
        } else {
            p->counters.persist_errors++;
            atomic_store_explicit(&p->failed, true, memory_order_release);
        }
    } else {
        party_release(p);
    }
    /* No log entry pointer is held past here: lets retired log segments
     * come back after their grace period. */
    bpc_log_quiescent();
    return atomic_load_explicit(&p->failed, memory_order_relaxed) ? -EIO : (int)work;
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
    if (p == NULL) {
        return -EINVAL;
    }
    /* A party whose persistence failed never steps again: a command taken
     * now would never be decided, its ticket never complete. Before
     * (review B4), it was taken (0). */
    int rc = atomic_load_explicit(&p->failed, memory_order_acquire)
                 ? -EIO
                 : bpc_submit(p->engine, cmd, len, ticket);
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
    return p != NULL ? p->engine : NULL;
}

struct bpc_log *
bpc_dp_party_log(struct bpc_dp_party *p)
{
    return p != NULL ? p->log : NULL;
}

uint64_t
bpc_dp_party_restored_floor(const struct bpc_dp_party *p)
{
    return p != NULL ? p->restored_floor : 0;
}

const struct bpc_dp_counters *
bpc_dp_party_counters(const struct bpc_dp_party *p)
{
    return p != NULL ? &p->counters : NULL;
}

uint32_t
bpc_dp_party_self(const struct bpc_dp_party *p)
{
    return p != NULL ? p->cfg.self : UINT32_MAX;
}

uint64_t
bpc_dp_party_next_deadline(const struct bpc_dp_party *p)
{
    if (p == NULL) {
        return UINT64_MAX;
    }
    return atomic_load_explicit(&p->dirty, memory_order_relaxed) ? 0 : p->next_deadline_ns;
}
