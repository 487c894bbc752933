/*
 * admit.c - frame admission and dispatch: a received frame's header,
 * cluster, sender, receiver, tag, decode and anti-replay window, then its
 * records handed to the module that owns what each changes; and the
 * party's own records, delivered the same way.
 *
 * Owns: e->rx (the anti-replay window, the decode scratch). Must never:
 * allocate, lock, sleep, read a clock or entropy, or call DPDK; trust a
 * byte of a frame before its tag is verified (but the settled-record fast
 * drop of settled.c, which costs a look and changes nothing); or change a
 * module's state other than through that module's functions.
 */
#include "admit.h"
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

#include <string.h>

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
void
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
void
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

void
eng_rx_carve(struct bpc_engine *e, const struct eng_mem *m, uint32_t replay_bits)
{
    e->rx.replay = m->replay;
    e->rx.replay_bits = replay_bits;
    e->rx.replay_stride = 1 + replay_bits / 64;
    e->rx.recs = m->recs;
    e->rx.recs_cap = m->recs_cap;
}

/* Each received frame reads its sender's replay entry before it may
 * write it. Written here first (it is zero already), a fresh page of
 * bpc_engine_new takes one fault instead of a zero-page fault and then
 * a copy-on-write fault (eng_bl_start does the same for the peers'
 * ballots): at 999 parties 24 KB in all, 4,500 faults fewer in a
 * one-command simulator run. */
void
eng_rx_start(struct bpc_engine *e)
{
    memset(e->rx.replay, 0, (size_t)e->n * e->rx.replay_stride * sizeof(uint64_t));
}
