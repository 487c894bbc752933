/*
 * engine.c - the BPCon step engine's orchestration: one party's vote
 * state for a window of instances under one party-wide ballot, driven by
 * received frames and the caller's clock. The modules do the work (see
 * core.h for who owns what, docs/ENGINE.md for the map); this file admits
 * frames, dispatches their records, runs the step in its fixed order and
 * holds the public entry points.
 *
 * Owns: init and the storage layout, frame admission (header, cluster,
 * sender, receiver, tag, decode, anti-replay window: e->rx), record
 * dispatch, the step's order, the step context (now_ns, step_no,
 * cur_out), the public calls and queries. Must never: allocate (but in
 * bpc_engine_new), lock, sleep, read a clock or entropy, or call DPDK; or
 * change a module's state other than through that module's functions.
 */
#include "ballot.h"
#include "catchup.h"
#include "core.h"
#include "held.h"
#include "instance.h"
#include "layout.h"
#include "outbox.h"
#include "persist.h"
#include "runs.h"
#include "submit.h"
#include "tally.h"
#include "window.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Bound on the transition loop of one step. */
#define ENG_PUMP_ROUNDS 64u

/* How many frames ahead headers are parsed and senders' lines fetched. */
#define ENG_RX_AHEAD 8u

/* ------------------------------------------------------------------------
 * Frame admission and dispatch.
 * ---------------------------------------------------------------------- */

/* Clears the bits of the sequence numbers in (last, seq) in a ring of
 * width bits (a power of two, at least 64, so no word straddles the
 * wrap), seq - last < width: a word's run at a time, masks at the ends.
 * Before, bit by bit with two divisions each: a peer advancing by 1,023
 * a frame cost 12,749 instructions a frame, against 1,506 by one (review
 * E3's probe_replay: 3.7 us against 0.13 us); now 1,893 (0.14 us). */
static void
eng_replay_clear(uint64_t *bits, uint64_t width, uint64_t last, uint64_t seq)
{
    for (uint64_t q = last + 1; q < seq;) {
        uint64_t at = q & (width - 1);
        uint64_t span = 64u - at % 64u;
        span = seq - q < span ? seq - q : span;
        uint64_t run = span == 64u ? ~(uint64_t)0 : ((uint64_t)1 << span) - 1u;
        bits[at / 64] &= ~(run << (at % 64));
        q += span;
    }
}

/* Anti-replay window of replay_bits frames per sender, as a ring bitmap
 * indexed by sequence number: reordered frames within the window are
 * accepted once; duplicates and older frames are dropped. Pipelined
 * windows put hundreds of frames in flight per peer, hence 1024 frames
 * up to 64 parties; with more parties each pair carries fewer frames per
 * instance and the width shrinks (core.h), at least 64. A frame reordered
 * beyond the window is dropped: a retransmission, never a safety, cost. */
static bool
eng_replay_ok(struct bpc_engine *e, uint32_t p, uint64_t seq)
{
    const uint64_t width = e->rx.replay_bits;
    BPC_DEBUG_ASSERT(width >= 64 && (width & (width - 1)) == 0);
    uint64_t *slot = e->rx.replay + (size_t)p * e->rx.replay_stride;
    uint64_t *bits = slot + 1;
    uint64_t last = slot[0];
    uint64_t word = (seq & (width - 1)) / 64;
    uint64_t bit = (uint64_t)1 << (seq % 64);
    if (seq > last) {
        if (seq - last >= width) {
            memset(bits, 0, (width / 64) * sizeof(uint64_t));
        } else {
            eng_replay_clear(bits, width, last, seq);
        }
        bits[word] |= bit;
        slot[0] = seq;
        return true;
    }
    if (last - seq >= width || (bits[word] & bit) != 0) {
        return false;
    }
    bits[word] |= bit;
    return true;
}

static void
eng_drop(struct bpc_engine *e, int reason)
{
    BPC_ASSERT(reason >= 0 && reason < BPC_DROP_REASONS_COUNT);
    e->ctr.drops[reason]++;
}

/* A record about an instance below nu whose slot is reused, from a peer
 * that is behind: it gets DECIDED (and, for a 2a, this party's vote). */
static bool
eng_stale_instance(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->instance >= eng_nu(e) || r->type == BPC_MSG_STATUS || r->type == BPC_MSG_1B_RANGE ||
        r->type == BPC_MSG_1A || r->type == BPC_MSG_DECIDED || p == e->self ||
        eng_slot_holds(e, r->instance)) {
        return false;
    }
    (void)eng_send_decided(e, p, r->instance, true); /* the sender is behind */
    if (r->type == BPC_MSG_2A) {
        eng_vote_decided(e, p, r);
    }
    e->ctr.records_stale++;
    return true;
}

/* Records that carry no ballot to observe or vote to count: commands,
 * bytes and refusals. True when r was one of them (and is applied). */
static bool
eng_dispatch_unballoted(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    _Static_assert(BPC_MSG_STATUS < BPC_MSG_FORWARD && BPC_MSG_FORWARD < BPC_MSG_ATTEST &&
                       BPC_MSG_ATTEST < BPC_MSG_VALUE && BPC_MSG_VALUE < BPC_MSG_REFUSE,
                   "the ballot records' types come first");
    if (r->type < BPC_MSG_FORWARD) {
        return false; /* one compare for the records of the protocol proper */
    }
    if (r->type == BPC_MSG_FORWARD) {
        eng_on_forward(e, p, r); /* instance is a command sequence number */
    } else if (r->type == BPC_MSG_ATTEST) {
        eng_on_attest(e, p, r); /* likewise */
    } else if (r->type == BPC_MSG_VALUE) {
        eng_on_value(e, p, r); /* bytes only: no ballot or vote in it */
    } else if (r->type == BPC_MSG_REFUSE) {
        eng_on_refuse(e, p, r); /* a vote held back: no ballot to observe */
    } else {
        return false;
    }
    return true;
}

/* A 1B or 1B_RANGE report: a 1b at bal that changes a view may make a
 * held 2a verify (held.c re-checks the held values it changed). No report
 * of a zero-weight sender changes a view: eng_on_1b keeps none of its 1b
 * reports, and its ranges weigh nothing (before, its first range at the
 * ballot and each lowering re-examined every held value it covered:
 * review E6's p3, 8.0 ms a one-record frame at a window of 65,536 with
 * 32,768 held; and its 1b for a held instance re-examined that value:
 * p2). Not inlined: the votes' path through eng_dispatch stays as small
 * as it was. */
static __attribute__((noinline)) void
eng_dispatch_report(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
                    const struct bpc_record *hist)
{
    if (r->type == BPC_MSG_1B) {
        if (eng_on_1b(e, p, r, hist) && r->ballot == eng_bal(e)) {
            eng_held_view(e, r->instance, true);
        }
    } else {
        uint64_t lo;
        uint64_t hi = eng_on_range(e, p, r, &lo);
        /* A change above the window holds no held value (before, it asked
         * for a re-check all the same: a peer of weight 0 lowering its
         * range by one each frame far above the window cost a pass over
         * the held values per frame; review E2's probe_held). */
        if (lo < hi && lo < eng_nu(e) + e->window && eng_weight(e, p) > 0) {
            eng_held_range(e, lo, hi, r->ballot == eng_bal(e));
        }
    }
    eng_held_report(e, r->ballot);
}

/* Applies one record (and, for 1B, its history records). */
static void
eng_dispatch(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
             const struct bpc_record *hist)
{
    e->ctr.records_rx++;
    if (eng_dispatch_unballoted(e, p, r)) {
        return;
    }
    if (p != e->self) {
        /* Own records are at this party's ballot, where peer_bal[self]
         * already is (eng_join, eng_bl_start): observing them would
         * change nothing. */
        eng_ballot_observe(e, p, r);
    }
    if (eng_stale_instance(e, p, r)) {
        return;
    }
    switch ((enum bpc_msg_type)r->type) {
    case BPC_MSG_1A:
        eng_on_1a(e, p, r);
        break;
    case BPC_MSG_1B:
    case BPC_MSG_1B_RANGE:
        eng_dispatch_report(e, p, r, hist);
        break;
    case BPC_MSG_2A:
        eng_on_2a(e, p, r);
        break;
    case BPC_MSG_2AV:
        eng_on_2av(e, p, r);
        break;
    case BPC_MSG_2B:
        eng_on_2b(e, p, r);
        break;
    case BPC_MSG_VOTES:
        eng_on_votes(e, p, r);
        break;
    case BPC_MSG_DECIDED:
        eng_on_decided(e, p, r);
        break;
    case BPC_MSG_STATUS:
        eng_on_status(e, p, r);
        break;
    case BPC_MSG_1B_HIST:
    case BPC_MSG_FORWARD:
    case BPC_MSG_ATTEST:
    case BPC_MSG_VALUE:
    case BPC_MSG_REFUSE:
    case BPC_MSG_NONE:
    case BPC_MSG_TYPES_COUNT:
        ENG_IGNORED(e);
        break;
    }
}

/* Checks a frame's parsed header (rc: bpc_wire_parse_header's result),
 * decodes it into e->rx.recs and checks its tag; the record count, or -1
 * when the frame is dropped (counted). A frame whose records are all
 * settled is dropped (frames_settled), before the tag check unless its
 * runs are many (eng_frame_settled): applying it would change nothing,
 * so whether it is genuine does not matter, and its sequence number
 * stays unmarked (a later copy is judged again). */
static int
eng_admit(struct bpc_engine *e, const uint8_t *bytes, uint32_t len, int rc,
          const struct bpc_frame_header *h)
{
    if (rc < 0) {
        eng_drop(e, -1 - rc);
        return -1;
    }
    if (h->cluster_id != e->cfg.cluster_id) {
        eng_drop(e, BPC_DROP_BAD_CLUSTER);
        return -1;
    }
    if (h->sender >= e->n || h->sender == e->self) {
        eng_drop(e, BPC_DROP_BAD_SENDER);
        return -1;
    }
    if (h->receiver != e->self) {
        eng_drop(e, BPC_DROP_BAD_RECEIVER);
        return -1;
    }
    /* Only a frame of bare votes can be settled; decoding one hashes
     * nothing, and its runs are looked at up to a bound before the tag. */
    bool votes = bpc_wire_votes_only(bytes, h);
    int count = votes ? bpc_wire_decode(bytes, len, h, e->rx.recs, e->rx.recs_cap) : 0;
    int from = 0;
    int settled = votes ? eng_frame_settled(e, h->sender, e->rx.recs, count, &from) : 0;
    if (settled > 0) {
        e->ctr.frames_settled++;
        return -1;
    }
    /* A forged frame counts as one, malformed or not. */
    if (!bpc_wire_verify(bytes, len, e->cfg.keys[h->sender])) {
        eng_drop(e, BPC_DROP_BAD_TAG);
        return -1;
    }
    if (settled < 0 && eng_frame_settled(e, h->sender, e->rx.recs, count, &from) > 0) {
        e->ctr.frames_settled++;
        return -1;
    }
    if (!votes) {
        count = bpc_wire_decode(bytes, len, h, e->rx.recs, e->rx.recs_cap);
    }
    if (count < 0) {
        eng_drop(e, -1 - count);
        return -1;
    }
    /* Checked after the tag so a forger cannot burn sequence numbers. */
    if (!eng_replay_ok(e, h->sender, h->seq)) {
        eng_drop(e, BPC_DROP_REPLAY);
        return -1;
    }
    return count;
}

static void
eng_receive(struct bpc_engine *e, const uint8_t *bytes, uint32_t len, int rc,
            const struct bpc_frame_header *h)
{
    int count = eng_admit(e, bytes, len, rc, h);
    if (count < 0) {
        return;
    }
    e->ctr.frames_rx++;
    for (int k = 0; k < count; k++) {
        const struct bpc_record *r = &e->rx.recs[k];
        eng_dispatch(e, h->sender, r, r->type == BPC_MSG_1B ? r + 1 : NULL);
        if (r->type == BPC_MSG_1B) {
            k += r->hist_count;
        }
    }
}

/* Parses frame k's header into its place in the look-ahead ring and, for
 * a valid sender, fetches the lines that frame will touch (pair key,
 * replay entry, latest ballot, weight). The sender is a peer's claim: it
 * is used only after the bound check, and only as a hint here; eng_admit
 * checks it again. */
static void
eng_rx_ahead(const struct bpc_engine *e, const struct bpc_frame_in *f, uint32_t k,
             struct bpc_frame_header *h, int *rc)
{
    uint32_t i = k % ENG_RX_AHEAD;
    rc[i] = bpc_wire_parse_header(f[k].bytes, f[k].len, &h[i]);
    if (rc[i] == 0 && h[i].sender < e->n) {
        uint32_t p = h[i].sender;
        __builtin_prefetch(e->cfg.keys[p]);
        __builtin_prefetch(e->rx.replay + (size_t)p * e->rx.replay_stride);
        eng_bl_prefetch_peer(e, p);
        __builtin_prefetch(&e->cfg.weights[p]);
    }
}

/* Receives the step's frames in order, each header parsed (and its
 * sender's lines fetched) ENG_RX_AHEAD frames early, so those misses
 * overlap with the frames before it instead of stalling one by one. */
static void
eng_receive_all(struct bpc_engine *e, const struct bpc_frame_in *f, uint32_t count)
{
    struct bpc_frame_header h[ENG_RX_AHEAD];
    int rc[ENG_RX_AHEAD];
    for (uint32_t k = 0; k < count && k < ENG_RX_AHEAD; k++) {
        eng_rx_ahead(e, f, k, h, rc);
    }
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = k % ENG_RX_AHEAD;
        eng_receive(e, f[k].bytes, f[k].len, rc[i], &h[i]);
        if (k + ENG_RX_AHEAD < count) {
            eng_rx_ahead(e, f, k + ENG_RX_AHEAD, h, rc);
        }
    }
}

/* An own 2av or 2b whose slot still holds its instance with a
 * generation tallying its ballot (where it was cast, unless the window
 * moved or the generation was reused since) is credited there: what
 * eng_dispatch would do, since its lookup (eng_vote_find) finds that slot
 * and generation, without copying the record, dispatching it or taking
 * the slot-lookup path. False for any other record. */
static bool
eng_self_vote(struct bpc_engine *e, const struct bpc_record *r)
{
    if ((r->type != BPC_MSG_2AV && r->type != BPC_MSG_2B) || !eng_slot_holds(e, r->instance)) {
        return false;
    }
    struct eng_slot *s = eng_slot_at(e, r->instance);
    int g = eng_gen_of(s, r->ballot);
    if (g < 0) {
        return false;
    }
    e->ctr.records_rx++;
    eng_on_vote_at(e, e->self, s, (uint32_t)g, r->type, &r->value);
    return true;
}

/* Own messages, delivered in order; handlers may queue more (bounded by
 * the queue's capacity, so the loop ends). */
static void
eng_drain_self(struct bpc_engine *e)
{
    uint32_t k = 0;
    while (k < eng_self_count(e)) {
        const struct eng_out *o = eng_self_at(e, k);
        if (eng_self_vote(e, &o->r)) {
            k++;
            continue;
        }
        struct bpc_record r = o->r;
        if (r.value.kind == BPC_VALUE_DIGEST) {
            r.value_bytes = o->val;
        }
        if (r.type == BPC_MSG_1B && r.hist_count > 0) {
            struct bpc_record hist[BPC_HISTORY_MAX];
            for (uint32_t h = 0; h < r.hist_count && k + 1 + h < eng_self_count(e); h++) {
                hist[h] = eng_self_at(e, k + 1 + h)->r;
            }
            eng_dispatch(e, e->self, &r, hist);
            k += 1u + r.hist_count;
            continue;
        }
        eng_dispatch(e, e->self, &r, NULL);
        k++;
    }
    eng_self_clear(e);
}

/* ------------------------------------------------------------------------
 * The step.
 * ---------------------------------------------------------------------- */

static uint64_t
eng_next_deadline(const struct bpc_engine *e)
{
    if (!eng_persist_pending(e) && eng_ob_pending(e)) {
        return e->now_ns;
    }
    return eng_bl_deadline(e);
}

/* Transitions until nothing changes: own records, timers (once), held 2a
 * values, the leader's proposals. */
static void
eng_pump(struct bpc_engine *e)
{
    for (uint32_t round = 0; round < ENG_PUMP_ROUNDS; round++) {
        uint64_t nu = eng_nu(e);
        eng_drain_self(e);
        if (round == 0) {
            eng_timers(e);
            eng_drain_self(e);
        }
        eng_held_nu(e);
        eng_recheck_pending(e);
        eng_leader_pump(e);
        eng_drain_self(e);
        if (eng_self_count(e) == 0 && !eng_recheck_due(e) && nu == eng_nu(e)) {
            break;
        }
    }
}

/* A step's arguments a caller could get wrong: an engine started, in and
 * out given, frames where a count says so (each with bytes where it has
 * a length), lent buffers where a cap says so, a clock that never went
 * back. */
static bool
eng_step_args_ok(const struct bpc_engine *e, const struct bpc_step_in *in,
                 const struct bpc_step_out *out)
{
    if (e == NULL || !e->started || in == NULL || out == NULL || in->now_ns < e->now_ns ||
        (in->frames == NULL && in->frames_count > 0) ||
        (out->frames == NULL && out->frames_cap > 0) ||
        (out->decisions == NULL && out->decisions_cap > 0)) {
        return false;
    }
    for (uint32_t k = 0; k < in->frames_count; k++) {
        if (in->frames[k].bytes == NULL && in->frames[k].len > 0) {
            return false;
        }
    }
    return true;
}

int
bpc_engine_step(struct bpc_engine *e, const struct bpc_step_in *in, struct bpc_step_out *out)
{
    if (!eng_step_args_ok(e, in, out)) {
        return -EINVAL; /* nothing done: before, an assertion or a crash */
    }
    *out = (struct bpc_step_out){.frames = out->frames,
                                 .frames_cap = out->frames_cap,
                                 .decisions = out->decisions,
                                 .decisions_cap = out->decisions_cap,
                                 .next_deadline_ns = in->now_ns};
    if (eng_persist_pending(e)) {
        /* One batch at a time, and nothing moves while it waits: a step
         * then collected a new batch into the lent one, and later ones
         * decided and reused slots whose votes and value bytes no batch
         * had carried (reviews A6 and G5). Step again once confirmed. */
        return -EBUSY;
    }
    e->now_ns = in->now_ns;
    e->step_no++;
    e->cur_out = out;
    eng_receive_all(e, in->frames, in->frames_count);
    eng_vote_decided_2b(e);
    eng_votes_retry(e);
    eng_ring_drain(e);
    eng_forward(e);
    eng_pump(e);
    eng_votes_retry(e);
    /* Decisions are emitted as they happen (eng_decide); this catches
     * paced finalizes and log pushback. A slot whose digest value was
     * emitted in this step is not reused before the caller reads it. */
    eng_emit(e, out);
    e->cur_out = NULL;
    eng_cu_pump(e);
    if (eng_persist_due(e)) {
        eng_collect_persist(e, out);
    }
    int rc = eng_flush(e, out);
    out->next_deadline_ns = eng_next_deadline(e);
    return rc < 0 ? rc : (int)out->frames_count;
}

void
bpc_engine_persisted(struct bpc_engine *e)
{
    if (e != NULL) {
        eng_ps_persisted(e);
    }
}

/* ------------------------------------------------------------------------
 * Set-up: one block of caller storage (layout.c), carved into regions.
 * ---------------------------------------------------------------------- */

/* Each module takes its storage and sets its initial state. */
static void
eng_carve(struct bpc_engine *e, uint8_t *base, const struct eng_sizes *z,
          const struct eng_layout *l)
{
    struct eng_mem m;
    eng_mem_of(base, z, l, &m);
    e->rx.replay = m.replay;
    e->rx.replay_bits = z->replay_bits;
    e->rx.replay_stride = 1 + z->replay_bits / 64;
    e->rx.recs = m.recs;
    e->rx.recs_cap = m.recs_cap;
    eng_win_carve(e, &m);
    eng_tally_carve(e, &m);
    eng_bl_carve(e, &m);
    eng_ob_carve(e, &m);
    eng_sub_carve(e, &m);
    eng_ps_carve(e, &m);
    eng_vr_carve(e, &m);
    eng_cu_carve(e, &m);
    eng_held_carve(e, &m);
}

/* Refusals shared by bpc_engine_init and bpc_engine_new. */
static int
eng_check(struct bpc_engine **out, const struct bpc_config *cfg, char *err, size_t err_len)
{
    if (out == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "no place for the engine handle (out is NULL)");
        }
        return -EINVAL;
    }
    int rc = bpc_config_validate(cfg, err, err_len); /* -EINVAL for cfg NULL */
    if (rc != 0) {
        return rc;
    }
    if (cfg->parties_count > 1 && cfg->keys == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "keys=NULL: %u parties need pairwise keys", cfg->parties_count);
        }
        return -EINVAL;
    }
    if (cfg->log != NULL && bpc_log_value_max(cfg->log) < cfg->value_bytes_max) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len,
                     "log: value_bytes_max=%u below the engine's value_bytes_max=%u (a decided "
                     "value the log cannot hold)",
                     bpc_log_value_max(cfg->log), cfg->value_bytes_max);
        }
        return -EINVAL;
    }
    return 0;
}

/* Builds the engine in zeroed storage of bpc_engine_footprint(cfg) bytes.
 * Zero is the initial state of every region (empty queues, slots holding
 * nothing, an empty claim pool), so this writes the engine header and the
 * few per-party and per-command words that start non-zero, nothing else:
 * storage the configuration may use but a run never reaches stays
 * untouched (and, from bpc_engine_new, not resident). */
static struct bpc_engine *
eng_build(void *mem, const struct bpc_config *cfg)
{
    struct bpc_engine *e = mem;
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    e->cfg = *cfg;
    (void)bpc_config_digest(cfg, e->digest); /* validated above: 0 */
    e->total = bpc_config_total_weight(cfg);
    e->threshold = bpc_config_threshold(cfg);
    e->faulty = bpc_faulty_weight(e->total, e->threshold);
    e->n = z.n;
    e->self = cfg->self;
    e->words = z.words;
    e->window = z.window;
    /* The leader keeps at most half the slots in flight, so a party that
     * lags by up to half a window still has room for its newest proposals;
     * slots not yet reused keep decided instances for lagging peers (older
     * ones come from the log). */
    e->active = z.window > 1 ? z.window / 2 : 1;
    e->mask = z.window - 1u;
    e->vbytes = z.vbytes;
    eng_carve(e, mem, &z, &l);
    eng_tally_key(e, cfg->keys, cfg->parties_count, cfg->seed);
    return e;
}

int
bpc_engine_init(struct bpc_engine **out, void *mem, size_t mem_len, const struct bpc_config *cfg,
                char *err, size_t err_len)
{
    int rc = eng_check(out, cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    size_t need = bpc_engine_footprint(cfg);
    if (mem == NULL || mem_len < need || ((uintptr_t)mem & 63u) != 0) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "engine storage: %zu bytes given, %zu (64-byte aligned) needed",
                     mem_len, need);
        }
        return -ENOBUFS;
    }
    memset(mem, 0, need); /* caller storage holds anything */
    *out = eng_build(mem, cfg);
    return 0;
}

int
bpc_engine_new(struct bpc_engine **out, const struct bpc_config *cfg, char *err, size_t err_len)
{
    int rc = eng_check(out, cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    /* Anonymous pages are zero and become resident only when written, so
     * the engine costs what the run uses, not what the configuration
     * allows (bpc_engine_footprint). */
    size_t need = bpc_engine_footprint(cfg);
    void *mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "engine storage: %zu bytes could not be mapped", need);
        }
        return -ENOMEM;
    }
    struct bpc_engine *e = eng_build(mem, cfg);
    e->alloc_base = mem;
    e->alloc_len = need;
    *out = e;
    return 0;
}

void
bpc_engine_free(struct bpc_engine *e)
{
    if (e != NULL && e->alloc_base != NULL) {
        munmap(e->alloc_base, e->alloc_len);
    }
}

int
bpc_engine_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY;
    }
    return eng_ps_restore(e, recs, count);
}

int
bpc_engine_restore_values(struct bpc_engine *e, const struct bpc_durable_value *vals,
                          uint32_t count)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY;
    }
    if (count > 0 && vals == NULL) {
        return -EINVAL;
    }
    for (uint32_t k = 0; k < count; k++) {
        eng_restore_value(e, &vals[k]);
    }
    return 0;
}

int
bpc_engine_start(struct bpc_engine *e, uint64_t now_ns)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY; /* before: an assertion aborted */
    }
    if (e->cfg.log != NULL && bpc_log_next(e->cfg.log) != eng_nu(e)) {
        return -EINVAL; /* its next entry is not the first this engine emits */
    }
    if (!eng_ps_start_ok(e)) {
        return -EOVERFLOW; /* incarnations used up: the next restart could not restore */
    }
    e->started = true;
    e->now_ns = now_ns;
    /* Each received frame reads its sender's replay entry before it may
     * write it. Written here first (it is zero already), a fresh page of
     * bpc_engine_new takes one fault instead of a zero-page fault and
     * then a copy-on-write fault (eng_bl_start does the same for the
     * peers' ballots): at 999 parties 24 KB in all, 4,500 faults fewer in
     * a one-command simulator run. */
    memset(e->rx.replay, 0, (size_t)e->n * e->rx.replay_stride * sizeof(uint64_t));
    eng_ps_start(e);
    eng_ob_start(e);
    eng_bl_start(e);
    return 0;
}

/* ------------------------------------------------------------------------
 * Submissions and queries.
 * ---------------------------------------------------------------------- */

int
bpc_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket)
{
    return e != NULL ? eng_submit(e, cmd, len, ticket) : -EINVAL;
}

enum bpc_ticket_status
bpc_ticket_status(const struct bpc_engine *e, uint64_t ticket)
{
    return e != NULL ? eng_ticket_status(e, ticket) : BPC_TICKET_UNKNOWN;
}

bool
bpc_ticket_done(const struct bpc_engine *e, uint64_t ticket)
{
    return bpc_ticket_status(e, ticket) == BPC_TICKET_APPLIED;
}

/* The views below answer a NULL engine with "nothing": 0, -EINVAL (the
 * leader), NULL (the counters), BPC_STATUS_NONE. */
uint64_t
bpc_engine_ballot(const struct bpc_engine *e)
{
    return e != NULL ? eng_bal(e) : 0;
}

int
bpc_engine_leader(const struct bpc_engine *e)
{
    return e != NULL ? eng_leader(e) : -EINVAL;
}

uint64_t
bpc_engine_next_undecided(const struct bpc_engine *e)
{
    return e != NULL ? eng_nu(e) : 0;
}

uint32_t
bpc_engine_events(const struct bpc_engine *e)
{
    return e != NULL ? eng_events(e) : 0;
}

const struct bpc_counters *
bpc_engine_counters(const struct bpc_engine *e)
{
    return e != NULL ? &e->ctr : NULL;
}

bpc_u128
bpc_engine_faulty_weight(const struct bpc_engine *e)
{
    return e != NULL ? e->faulty : 0;
}

enum bpc_status
bpc_engine_status(const struct bpc_engine *ce, uint64_t instance)
{
    if (ce == NULL) {
        return BPC_STATUS_NONE;
    }
    struct bpc_engine *e = (struct bpc_engine *)(uintptr_t)ce; /* views use scratch */
    return eng_in_status(e, instance);
}
