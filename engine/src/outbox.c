/*
 * outbox.c - records to frames. Outgoing records wait in a broadcast ring
 * and a unicast list and leave in flush rounds: a round is what is queued
 * when it starts, and it goes peer by peer, packed into as few frames per
 * peer as fit; when the caller's tx buffers run out the next step resumes
 * the round where it stopped. Own records go through the self queue.
 *
 * Owns: e->ob (the queues, the open round, per-peer frame sequence
 * numbers). Must never: send a record of a round
 * twice, split a 1b from its history records, send DIGEST bytes their
 * source no longer holds (eng_out_val), or let a frame leave while
 * persist records wait for bpc_engine_persisted().
 */
#include "outbox.h"

#include "layout.h"
#include "persist.h"
#include "runs.h"
#include "submit.h"
#include "window.h"

#include <errno.h>
#include <string.h>

/* Records where val lives (see enum eng_src). */
static void
eng_out_set(struct bpc_engine *e, struct eng_out *o, const struct bpc_record *r, uint32_t peer,
            const uint8_t *val)
{
    o->r = *r;
    o->peer = peer;
    o->val = val;
    o->src = SRC_NONE;
    o->src_slot = 0;
    o->src_which = 0;
    o->alone = 0;
    if (val == NULL) {
        return;
    }
    if (eng_win_locate(e, val, &o->src_slot, &o->src_which)) {
        o->src = SRC_SLOT;
    } else if (eng_own_locate(e, val, &o->src_slot)) {
        o->src = SRC_OWN;
    } else if (eng_dring_locate(e, val, &o->src_slot)) {
        o->src = SRC_DRING;
    }
}

/* The bytes of a queued record if its source still holds them; NULL when
 * the value has moved on (the record is then not sent: its instance was
 * decided and reused, its ballot left behind, or its command applied). */
static const uint8_t *
eng_out_val(const struct bpc_engine *e, const struct eng_out *o)
{
    if (o->src == SRC_SLOT) {
        return eng_win_holds(e, o->src_slot, o->src_which, &o->r)
                   ? o->val
                   : eng_win_moved(e, o->src_slot, &o->r);
    }
    if (o->src == SRC_OWN) {
        return eng_own_live(e, o->src_slot, o->r.instance) ? o->val : NULL;
    }
    if (o->src == SRC_DRING) {
        return eng_dring_holds(e, o->src_slot, &o->r) ? o->val : NULL;
    }
    if (o->src == SRC_LOG) {
        /* The entry of this instance, if the log still retains it: an
         * index names one value for good, so the bytes are the ones the
         * record's identity was built from. */
        struct bpc_log_entry le;
        if (e->cfg.log == NULL || bpc_log_read(e->cfg.log, o->r.instance, &le) != 0 || le.noop ||
            le.len != o->r.value.len) {
            return NULL;
        }
        return le.value;
    }
    return o->val;
}

static void
eng_self_push(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    if (e->ob.selfq_count == e->ob.selfq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->ob.selfq[e->ob.selfq_count++], r, e->self, val);
}

void
eng_peers_push(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    if (e->n < 2) {
        return;
    }
    if (e->ob.bq_count == e->ob.bq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->ob.bq[(e->ob.bq_head + e->ob.bq_count) % e->ob.bq_cap], r, UINT32_MAX, val);
    e->ob.bq_count++;
}

bool
eng_peers_push_but(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val,
                   uint32_t skip)
{
    uint32_t before = e->ob.bq_count;
    eng_peers_push(e, r, val);
    if (e->ob.bq_count == before) {
        return false;
    }
    e->ob.bq[(e->ob.bq_head + before) % e->ob.bq_cap].peer = skip;
    return true;
}

bool
eng_attest_join(struct bpc_engine *e, uint32_t skip, uint64_t seq)
{
    struct eng_outbox_state *ob = &e->ob;
    if (ob->bq_count == 0) {
        return false;
    }
    struct eng_out *o = &ob->bq[(ob->bq_head + ob->bq_count - 1) % ob->bq_cap];
    if (o->r.type != BPC_MSG_ATTEST || o->peer != skip || o->r.value.len != BPC_CMD_MAC_BYTES ||
        o->r.instance + 1 != seq) {
        return false;
    }
    o->r.value.len = BPC_ATTEST_MACS_MAX * BPC_CMD_MAC_BYTES;
    return true;
}

void
eng_broadcast(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    eng_peers_push(e, r, val);
    eng_self_push(e, r, val);
}

void
eng_broadcast_alone(struct bpc_engine *e, const struct bpc_record *r)
{
    uint32_t before = e->ob.bq_count;
    eng_broadcast(e, r, NULL);
    if (e->ob.bq_count != before) {
        e->ob.bq[(e->ob.bq_head + before) % e->ob.bq_cap].alone = 1;
    }
}

bool
eng_broadcast_room(const struct bpc_engine *e, uint32_t k)
{
    bool peers = e->n < 2 || e->ob.bq_cap - e->ob.bq_count >= k;
    return peers && e->ob.selfq_cap - e->ob.selfq_count >= k;
}

void
eng_unicast(struct bpc_engine *e, uint32_t peer, const struct bpc_record *r, const uint8_t *val)
{
    if (e->ob.uq_count == e->ob.uq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->ob.uq[e->ob.uq_count++], r, peer, val);
}

void
eng_unicast_logged(struct bpc_engine *e, uint32_t peer, const struct bpc_record *r,
                   const uint8_t *val)
{
    if (e->ob.uq_count == e->ob.uq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    struct eng_out *o = &e->ob.uq[e->ob.uq_count++];
    eng_out_set(e, o, r, peer, NULL);
    o->val = val; /* where the bytes were: eng_out_val reads the log again */
    o->src = SRC_LOG;
}

/* ------------------------------------------------------------------------
 * Flush rounds.
 * ---------------------------------------------------------------------- */

/* Adds o to the frame if it fits; false when the frame is full. A record
 * whose value bytes are gone (eng_out_val) is left out and counted, but
 * consumed: *put tells whether it went in. */
static bool
eng_put(struct bpc_engine *e, struct bpc_wire_writer *w, const struct eng_out *o, uint32_t peer,
        uint32_t *put)
{
    struct bpc_record r = o->r;
    if (r.type == BPC_MSG_ATTEST) {
        if (o->peer == peer) {
            return true; /* the receiver of the commands' FORWARD */
        }
        if (!bpc_wire_fits(w, 1, 0)) {
            return false; /* before the MACs: the next frame computes them */
        }
        /* The commands' MACs for this receiver; their bytes stay here. */
        if (o->src != SRC_OWN || eng_attest_fill(e, o->src_slot, peer, &r) == 0) {
            e->ctr.tx_value_gone++;
            return true;
        }
        BPC_ASSERT(eng_wire_put(w, &r) == 0);
        (*put)++;
        return true;
    }
    r.value_bytes = o->val;
    if (o->val != NULL) {
        r.value_bytes = eng_out_val(e, o);
        if (r.value_bytes == NULL) {
            e->ctr.tx_value_gone++;
            return true;
        }
    }
    uint32_t extra = r.type == BPC_MSG_1B ? r.hist_count : 0u;
    uint32_t vlen = r.value_bytes != NULL && r.value.kind == BPC_VALUE_DIGEST ? r.value.len : 0;
    if (!bpc_wire_fits(w, 1 + extra, vlen)) {
        return false;
    }
    BPC_ASSERT(eng_wire_put(w, &r) == 0);
    (*put)++;
    return true;
}

/* When a flush round opens: each peer's unicasts of the round chained in
 * queue order (uq_first[p], then each one's next; UINT32_MAX ends a chain),
 * so that a peer's flush walks its own and no other's. Before, each peer's
 * flush scanned the round's whole unicast list, and a peer of any weight
 * whose STATUS frames drew a round of answers made every flush cost n
 * times that list: at 999 parties, 1.36 M of the 1.61 M instructions one
 * such frame cost (review E's status_flush). */
static void
eng_uq_chain(struct bpc_engine *e)
{
    struct eng_outbox_state *ob = &e->ob;
    /* Every uq_first is UINT32_MAX between rounds (eng_uq_unchain), so
     * only this round's peers are written. In a round without broadcasts
     * the flush visits the peers with unicasts alone, ascending as the
     * pass over every peer would (up to ENG_UQ_FEW of them, kept sorted):
     * before, it passed over all n and reset all n uq_first, and a peer
     * whose STATUS drew one answer a step cost a correct party at 999
     * parties 1.3 us a frame against 0.1 (review E2's probe_flush). */
    ob->uq_few = ob->bq_round == 0 ? 0 : ENG_UQ_FEW + 1u;
    for (uint32_t u = ob->uq_round; u-- > 0;) {
        uint32_t p = ob->uq[u].peer;
        if (ob->uq_first[p] == UINT32_MAX && ob->uq_few < ENG_UQ_FEW) {
            uint32_t j = ob->uq_few++;
            for (; j > 0 && ob->uq_peers[j - 1u] > p; j--) {
                ob->uq_peers[j] = ob->uq_peers[j - 1u];
            }
            ob->uq_peers[j] = p;
        } else if (ob->uq_first[p] == UINT32_MAX) {
            ob->uq_few = ENG_UQ_FEW + 1u;
        }
        ob->uq[u].next = ob->uq_first[p];
        ob->uq_first[p] = u;
    }
}

/* A round ends: its peers' uq_first back to none. */
static void
eng_uq_unchain(struct bpc_engine *e)
{
    for (uint32_t u = 0; u < e->ob.uq_round; u++) {
        e->ob.uq_first[e->ob.uq[u].peer] = UINT32_MAX;
    }
}

/* True when peer's chain, at u, holds a unicast of the round. */
static bool
eng_uq_has(const struct bpc_engine *e, uint32_t u)
{
    return u < e->ob.uq_round;
}

/* Packs the peer's records of the round from (*k, *u) into w; returns how
 * many went in. */
static uint32_t
eng_fill_frame(struct bpc_engine *e, struct bpc_wire_writer *w, uint32_t peer, uint32_t *k,
               uint32_t *u)
{
    struct eng_outbox_state *ob = &e->ob;
    uint32_t put = 0;
    for (; *k < ob->bq_round; (*k)++) {
        if (!eng_put(e, w, &ob->bq[(ob->bq_head + *k) % ob->bq_cap], peer, &put)) {
            break;
        }
    }
    while (*k >= ob->bq_round && *u < ob->uq_round) {
        BPC_DEBUG_ASSERT(ob->uq[*u].peer == peer);
        if (!eng_put(e, w, &ob->uq[*u], peer, &put)) {
            break;
        }
        *u = ob->uq[*u].next;
    }
    return put;
}

/* The next record (with a 1b's history) fits no empty frame: only a
 * caller's tx buffer smaller than frame_bytes can do that (config
 * validation sizes frames for every group). It is left out and counted,
 * never sent in pieces. */
static void
eng_skip_unfit(struct bpc_engine *e, uint32_t peer, uint32_t *k, uint32_t *u)
{
    struct eng_outbox_state *ob = &e->ob;
    e->ctr.tx_overflow++;
    if (*k < ob->bq_round) {
        const struct eng_out *o = &ob->bq[(ob->bq_head + *k) % ob->bq_cap];
        *k += 1u + (o->r.type == BPC_MSG_1B ? o->r.hist_count : 0u);
        *k = *k < ob->bq_round ? *k : ob->bq_round;
    } else {
        BPC_DEBUG_ASSERT(*u < ob->uq_round && ob->uq[*u].peer == peer);
        *u = ob->uq[*u].next;
    }
}

/* A frame of this flush that peer may have re-addressed instead of packed
 * anew: one kept (eng_tmpl_keep) that starts at broadcast record k under
 * the same capacity. Packing for peer would give the same bytes: the same
 * records (none of them peer-specific), stopping at the same record, since
 * the next one did not fit (k_end short of the round) or the round's
 * broadcasts end there and peer has no unicast to follow them (u: where
 * its chain stands). */
static const struct eng_tmpl *
eng_tmpl_find(const struct bpc_engine *e, uint32_t k, uint32_t cap, uint32_t u)
{
    const struct eng_outbox_state *ob = &e->ob;
    for (uint32_t i = 0; i < ob->tmpl_count; i++) {
        const struct eng_tmpl *t = &ob->tmpl[i];
        if (t->k_start == k && t->cap == cap) {
            return t->k_end < ob->bq_round || !eng_uq_has(e, u) ? t : NULL;
        }
    }
    return NULL;
}

/* Keeps the frame just packed from broadcast records [k0, k1) as a
 * template when it holds nothing peer-specific: no unicast, no ATTEST
 * (its MAC is the receiver's), no record left out for lost value bytes. */
static void
eng_tmpl_keep(struct bpc_engine *e, const struct bpc_frame_out *f, uint32_t cap, uint32_t k0,
              uint32_t k1, uint32_t put, bool unicasts)
{
    struct eng_outbox_state *ob = &e->ob;
    if (unicasts || put != k1 - k0 || put == 0 || ob->tmpl_count == ENG_TMPL_MAX) {
        return;
    }
    for (uint32_t k = k0; k < k1; k++) {
        if (ob->bq[(ob->bq_head + k) % ob->bq_cap].r.type == BPC_MSG_ATTEST) {
            return;
        }
    }
    for (uint32_t i = 0; i < ob->tmpl_count; i++) {
        if (ob->tmpl[i].k_start == k0 && ob->tmpl[i].cap == cap) {
            return;
        }
    }
    ob->tmpl[ob->tmpl_count++] =
        (struct eng_tmpl){.bytes = f->bytes, .len = f->len, .cap = cap, .k_start = k0, .k_end = k1};
}

/* BPC_DEBUG: a re-addressed frame is byte for byte what packing it for
 * peer would have written. */
static bool
eng_tmpl_same(struct bpc_engine *e, const struct bpc_frame_out *f, uint32_t cap, uint32_t peer,
              uint32_t k, uint32_t u)
{
    static uint8_t scratch[BPC_FRAME_BYTES_MAX];
    struct bpc_wire_writer w;
    (void)bpc_wire_begin(&w, scratch, cap, e->cfg.value_bytes_max);
    (void)eng_fill_frame(e, &w, peer, &k, &u);
    struct bpc_frame_header h = {.cluster_id = e->cfg.cluster_id,
                                 .sender = (uint16_t)e->self,
                                 .receiver = (uint16_t)peer,
                                 .seq = e->ob.tx_seq[peer]};
    uint32_t len = bpc_wire_finish(&w, &h, e->cfg.keys[peer]);
    return len == f->len && memcmp(scratch, f->bytes, len) == 0;
}

/* Writes the broadcast round and unicasts for one peer, from where the last
 * step stopped (flush_k, flush_u) when it is that peer's turn again; false
 * when out of tx buffers (the rest goes at the next step). Never sends a
 * record of the round twice. A frame another peer got in this flush with
 * the same records is copied and re-addressed rather than packed again. */
static bool
eng_flush_peer(struct bpc_engine *e, uint32_t peer, struct bpc_step_out *out)
{
    e->ob.peer_flushes++;
    uint32_t k = e->ob.flush_mid ? e->ob.flush_k : 0;
    uint32_t u = e->ob.flush_mid ? e->ob.flush_u : e->ob.uq_first[peer];
    bool more = k < e->ob.bq_round || eng_uq_has(e, u);
    while (more) {
        if (out->frames_count == out->frames_cap) {
            e->ob.flush_k = k;
            e->ob.flush_u = u;
            e->ob.flush_mid = true;
            return false;
        }
        struct bpc_frame_out *f = &out->frames[out->frames_count];
        if (f->cap < e->ob.frame_min || f->bytes == NULL) {
            /* A buffer some record group or value cannot fit (or none at
             * all): used as the end of the lent ones (-EMSGSIZE), not as a
             * frame that drops every record it cannot take. */
            e->ob.small_buf = true;
            e->ob.flush_k = k;
            e->ob.flush_u = u;
            e->ob.flush_mid = true;
            return false;
        }
        struct bpc_wire_writer w;
        uint32_t cap = f->cap < e->cfg.frame_bytes ? f->cap : e->cfg.frame_bytes;
        const struct eng_tmpl *t = eng_tmpl_find(e, k, cap, u);
        if (t != NULL) {
            f->len = bpc_wire_readdress(f->bytes, t->bytes, t->len, (uint16_t)peer,
                                        ++e->ob.tx_seq[peer], e->cfg.keys[peer]);
            f->peer = peer;
            if (e->ob.tx_seq[peer] > e->ob.tx_seq_max) {
                e->ob.tx_seq_max = e->ob.tx_seq[peer];
            }
            BPC_DEBUG_ASSERT(eng_tmpl_same(e, f, cap, peer, k, u));
            out->frames_count++;
            e->ctr.frames_tx++;
            e->ctr.records_tx += t->k_end - t->k_start;
            k = t->k_end;
            more = k < e->ob.bq_round || eng_uq_has(e, u);
            continue;
        }
        BPC_ASSERT(bpc_wire_begin(&w, f->bytes, cap, e->cfg.value_bytes_max) == 0);
        uint32_t k0 = k;
        uint32_t u0 = u;
        uint32_t put = eng_fill_frame(e, &w, peer, &k, &u);
        if (put == 0) {
            if (k >= e->ob.bq_round && !eng_uq_has(e, u)) {
                break; /* everything left had lost its value bytes */
            }
            eng_skip_unfit(e, peer, &k, &u);
            more = k < e->ob.bq_round || eng_uq_has(e, u);
            continue;
        }
        struct bpc_frame_header h = {.cluster_id = e->cfg.cluster_id,
                                     .sender = (uint16_t)e->self,
                                     .receiver = (uint16_t)peer,
                                     .seq = ++e->ob.tx_seq[peer]};
        f->len = bpc_wire_finish(&w, &h, e->cfg.keys[peer]);
        f->peer = peer;
        e->ob.tx_seq_max = h.seq > e->ob.tx_seq_max ? h.seq : e->ob.tx_seq_max;
        /* Packing went over peer's chain from u0 to u: each was put, or left out. */
        eng_tmpl_keep(e, f, cap, k0, k, put, u != u0);
        out->frames_count++;
        e->ctr.frames_tx++;
        e->ctr.records_tx += put;
        more = k < e->ob.bq_round || eng_uq_has(e, u);
    }
    e->ob.flush_mid = false;
    return true;
}

/* After a round: unicasts queued while it was under way move to the front. */
static void
eng_uq_keep_late(struct bpc_engine *e)
{
    struct eng_outbox_state *ob = &e->ob;
    uint32_t keep = ob->uq_count - ob->uq_round;
    for (uint32_t i = 0; i < keep; i++) {
        ob->uq[i] = ob->uq[ob->uq_round + i];
    }
    ob->uq_count = keep;
    ob->uq_round = 0;
}

/* Is o a 2AV or 2B that continues the run of votes like first, k long? */
static bool
eng_run_continues(const struct eng_out *first, uint32_t k, const struct eng_out *o)
{
    return k < BPC_VOTES_RUN_MAX && !first->alone && !o->alone && o->r.type == first->r.type &&
           o->r.ballot == first->r.ballot && o->r.instance == first->r.instance + k;
}

/* Replaces each run of ENG_RUN_MIN or more queued 2AV (or 2B) votes of
 * one ballot for consecutive instances by one VOTES record naming their
 * digest (bpc_votes_digest); shorter runs stay single records. */
static void
eng_coalesce_votes(struct bpc_engine *e)
{
    struct eng_outbox_state *ob = &e->ob;
    uint32_t w = 0;
    uint32_t k = 0;
    while (k < ob->bq_count) {
        const struct eng_out *first = &ob->bq[(ob->bq_head + k) % ob->bq_cap];
        uint32_t len = 1;
        if (first->r.type == BPC_MSG_2AV || first->r.type == BPC_MSG_2B) {
            while (k + len < ob->bq_count &&
                   eng_run_continues(first, len, &ob->bq[(ob->bq_head + k + len) % ob->bq_cap])) {
                len++;
            }
        }
        struct eng_out *dst = &ob->bq[(ob->bq_head + w) % ob->bq_cap];
        if (len < ENG_RUN_MIN) {
            if (w != k) {
                *dst = *first;
            }
            w++;
            k++;
            continue;
        }
        struct bpc_vid vids[BPC_VOTES_RUN_MAX];
        for (uint32_t j = 0; j < len; j++) {
            vids[j] = ob->bq[(ob->bq_head + k + j) % ob->bq_cap].r.value;
        }
        struct bpc_vid d = {.kind = BPC_VALUE_DIGEST, .len = (uint16_t)(BPC_VOTES_VID_BYTES * len)};
        memcpy(d.id, eng_run_digest(e, first->r.ballot, first->r.instance, len, vids),
               BPC_DIGEST_BYTES);
        struct bpc_record r = bpc_record_make(BPC_MSG_VOTES, first->r.instance, first->r.ballot,
                                              (uint64_t)first->r.type | (uint64_t)len << 8, &d);
        eng_out_set(e, dst, &r, UINT32_MAX, NULL);
        w++;
        k += len;
    }
    ob->bq_count = w;
}

int
eng_flush(struct bpc_engine *e, struct bpc_step_out *out)
{
    struct eng_outbox_state *ob = &e->ob;
    if (eng_persist_pending(e) || (ob->bq_count == 0 && ob->uq_count == 0)) {
        return 0;
    }
    /* Every frame number this flush may use must lie in a range the
     * confirmed records carry (eng_seq_room): else a restart would number
     * frames again below what peers accepted, and they would drop them. */
    if (!eng_seq_room(e, ob->tx_seq_max + out->frames_cap)) {
        return 0;
    }
    ob->tmpl_count = 0; /* templates are this step's tx buffers */
    ob->small_buf = false;
    if (!ob->round_open) {
        /* A round is what is queued now; what later steps queue while it
         * is under way waits for the next one. */
        ob->round_open = true;
        eng_coalesce_votes(e);
        ob->bq_round = ob->bq_count;
        ob->uq_round = ob->uq_count;
        eng_uq_chain(e);
    }
    if (ob->uq_few <= ENG_UQ_FEW) {
        for (uint32_t j = 0; j < ob->uq_few; j++) {
            uint32_t p = ob->uq_peers[j];
            if (p >= ob->flush_peer && p != e->self && !eng_flush_peer(e, p, out)) {
                ob->flush_peer = p;
                return ob->small_buf ? -EMSGSIZE : -EAGAIN;
            }
        }
    } else {
        for (uint32_t p = ob->flush_peer; p < e->n; p++) {
            if (p == e->self) {
                continue;
            }
            if (!eng_flush_peer(e, p, out)) {
                ob->flush_peer = p;
                return ob->small_buf ? -EMSGSIZE : -EAGAIN;
            }
        }
    }
    eng_uq_unchain(e);
    ob->bq_head = (ob->bq_head + ob->bq_round) % ob->bq_cap;
    ob->bq_count -= ob->bq_round;
    ob->bq_round = 0;
    ob->flush_peer = 0;
    ob->round_open = false;
    ob->rounds_done++;
    eng_uq_keep_late(e);
    return 0;
}

void
eng_ob_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->ob.bq = m->bq;
    e->ob.selfq = m->selfq;
    e->ob.uq = m->uq;
    e->ob.bq_cap = m->bq_cap;
    e->ob.selfq_cap = m->bq_cap;
    e->ob.uq_cap = m->uq_cap;
    e->ob.uq_first = m->uq_first;
    e->ob.tx_seq = m->tx_seq;
}

void
eng_ob_start(struct bpc_engine *e)
{
    e->ob.frame_min = bpc_frame_bytes_min(e->cfg.value_bytes_max);
    for (uint32_t p = 0; p < e->n; p++) {
        e->ob.uq_first[p] = UINT32_MAX; /* no round open: no unicast chained */
    }
    for (uint32_t p = 0; p < e->n; p++) {
        e->ob.tx_seq[p] = eng_incarnation(e) << ENG_SEQ_BITS;
    }
    e->ob.tx_seq_max = eng_incarnation(e) << ENG_SEQ_BITS;
}
