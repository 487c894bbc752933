/*
 * submit.c - commands: submission, forwarding, batching, exactly-once
 * apply.
 *
 * A command is (submitter, seq, bytes). seq = (incarnation << 40) | n with
 * n = 1, 2, ... per party and run. Every party applies the decided log with
 * one deterministic rule: (s, q) is applied iff q directly follows the last
 * applied sequence of s (or opens a new incarnation at n = 1). Duplicates
 * (a resubmission after a leader change) and commands behind a gap are
 * skipped everywhere alike; a skipped command is not lost, because its
 * submitter resends every unapplied command to the current leader until it
 * sees it applied. Commands are the submitter's: a MAC per command and
 * receiver, from the FORWARD at the party it goes to and from ATTEST
 * records (one or two MACs each) at every other, is checked before a fresh
 * value is voted for.
 *
 * The leader's queue and its batches are in leaderq.c, the check that a
 * proposed batch's commands are their submitters' in cmdauth.c, on the
 * same state.
 *
 * Owns: e->sub (the submit ring, the own pending list, the leader queue,
 * per-submitter apply state, the MAC table, witnesses). Must never: block
 * or lock in bpc_submit (the only call other threads make), apply a
 * command twice or out of its submitter's order, or accept a command's
 * bytes on anything but its submitter's word (a frame tag or a MAC).
 */
#include "submit.h"

#include "ballot.h"
#include "held.h"
#include "instance.h"
#include "layout.h"
#include "outbox.h"
#include "persist.h"

#include <errno.h>
#include <string.h>

uint32_t
bpc_command_bytes_max(const struct bpc_config *cfg)
{
    /* As bpc_engine_footprint: no size for a configuration the engine
     * refuses (before, value_bytes_max 2^31 gave a command of 2 GB). */
    if (bpc_config_validate(cfg, NULL, 0) != 0) {
        return 0;
    }
    uint32_t framing = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES;
    return cfg->value_bytes_max > framing ? cfg->value_bytes_max - framing : 0;
}

int
eng_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket)
{
    struct eng_submit_state *sub = &e->sub;
    if (len > sub->cmd_max) {
        return -EMSGSIZE; /* no value could ever hold it */
    }
    if (cmd == NULL && len > 0) {
        return -EINVAL; /* before: a memcpy from NULL (UBSan), then SIGSEGV */
    }
    /* One atomic step marks that a command was submitted and reads the
     * incarnation its ticket names: a restore either saw the mark first
     * (-EBUSY) or had already begun (this submit is -EBUSY, and leaves no
     * mark). Once marked, no restore can begin, so a plain load reads a
     * settled incarnation. Before (review C1), a submit refused during a
     * restore set the mark too, and when that restore then failed its
     * checks every later one was -EBUSY. */
    uint64_t inc1 = atomic_load_explicit(&sub->ticket_inc1, memory_order_acquire);
    while ((inc1 & ENG_TICKET_SUBMITTED) == 0) {
        if (inc1 & ENG_TICKET_RESTORING) {
            return -EBUSY;
        }
        if (atomic_compare_exchange_weak_explicit(&sub->ticket_inc1, &inc1,
                                                  inc1 | ENG_TICKET_SUBMITTED, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            break;
        }
    }
    inc1 &= ENG_TICKET_INC_MASK;
    uint64_t pos = atomic_load_explicit(&sub->ring_tail, memory_order_relaxed);
    struct eng_cell *cell;
    for (;;) {
        cell = &sub->ring[pos & sub->cmd_mask];
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&sub->ring_tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                break;
            }
        } else if (seq < pos) {
            atomic_fetch_add_explicit(&sub->eagain, 1, memory_order_relaxed);
            return -EAGAIN; /* full: the engine has not drained it yet */
        } else {
            pos = atomic_load_explicit(&sub->ring_tail, memory_order_relaxed);
        }
    }
    if (len > 0) {
        memcpy(eng_cmd_bytes(e, sub->ring_bytes, pos), cmd, len);
    }
    cell->len = len;
    atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
    if (ticket != NULL) {
        *ticket = ((inc1 - 1u) << ENG_SEQ_BITS) + (pos + 1);
    }
    return 0;
}

/* A submitter's commands apply in sequence order within an incarnation,
 * and the first of a later incarnation closes the earlier ones for good
 * (eng_seq_follows): so the last own command applied (hi), and the last
 * one applied before hi's incarnation began (prev, when this run saw it
 * begin), tell every ticket of those incarnations and of any between
 * them. Before, any ticket of an earlier incarnation below hi was called
 * done, applied or lost alike. */
enum bpc_ticket_status
eng_ticket_status(const struct bpc_engine *e, uint64_t ticket)
{
    struct bpc_engine *m = (struct bpc_engine *)(uintptr_t)e;
    uint64_t hi = atomic_load_explicit(&m->sub.applied_own, memory_order_acquire);
    uint64_t inc = ticket >> ENG_SEQ_BITS;
    if (hi == 0 || inc >= (hi >> ENG_SEQ_BITS)) {
        bool same = hi != 0 && inc == (hi >> ENG_SEQ_BITS);
        return same && ticket <= hi ? BPC_TICKET_APPLIED : BPC_TICKET_PENDING;
    }
    /* Stored before hi (release): at least as new as the hi just read. */
    uint64_t prev1 = atomic_load_explicit(&m->sub.applied_own_prev1, memory_order_acquire);
    if (prev1 == 0) {
        return BPC_TICKET_UNKNOWN; /* hi was restored: what came before is not known */
    }
    uint64_t prev = prev1 - 1;
    if (prev != 0 && inc < (prev >> ENG_SEQ_BITS)) {
        return BPC_TICKET_UNKNOWN;
    }
    if (prev != 0 && inc == (prev >> ENG_SEQ_BITS) && ticket <= prev) {
        return BPC_TICKET_APPLIED;
    }
    return BPC_TICKET_LOST;
}

void
eng_ring_drain(struct bpc_engine *e)
{
    struct eng_submit_state *sub = &e->sub;
    e->ctr.submit_eagain = atomic_load_explicit(&sub->eagain, memory_order_relaxed);
    /* Nothing claimed since the last drain: done without reading the
     * ring's cell (a cold line in every step of an idle submitter). A
     * claim this load misses is drained by the next step, as one whose
     * bytes are still being copied is. */
    if (atomic_load_explicit(&sub->ring_tail, memory_order_relaxed) == sub->ring_head) {
        return;
    }
    while (sub->own_tail - sub->own_head <= sub->cmd_mask) {
        uint64_t pos = sub->ring_head;
        struct eng_cell *cell = &sub->ring[pos & sub->cmd_mask];
        if (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos + 1) {
            return; /* empty, or a producer is still copying */
        }
        uint64_t seq = (eng_incarnation(e) << ENG_SEQ_BITS) + (pos + 1);
        if (!eng_seq_room(e, seq)) {
            return; /* its range is not carried by confirmed records yet */
        }
        if (ENG_SEQ_LOW(seq) == 1 && seq >> ENG_SEQ_BITS > eng_incarnation(e) &&
            sub->own_head != sub->own_tail) {
            /* 2^40 numbers into the run, one that reads as a later
             * incarnation's first, which follows any earlier number
             * (eng_seq_follows): it waits until every earlier own command
             * is applied. Out before, a leader could have it applied
             * ahead of the one before it, skipped then for good. */
            return;
        }
        struct eng_cmd *c = &sub->own[sub->own_tail & sub->cmd_mask];
        c->submitter = e->self;
        c->len = cell->len;
        c->seq = seq;
        memcpy(eng_cmd_bytes(e, sub->own_bytes, sub->own_tail),
               eng_cmd_bytes(e, sub->ring_bytes, pos), c->len);
        sub->own_tail++;
        sub->ring_head++;
        atomic_store_explicit(&cell->seq, pos + sub->cmd_mask + 1, memory_order_release);
        eng_held_cmds(e); /* an own command a held value holds may be here now */
        eng_bl_work(e);
    }
}

/* ------------------------------------------------------------------------
 * Forwarding and ATTEST.
 * ---------------------------------------------------------------------- */

/* Keeps p's MAC for its command seq (see eng_cmds_authentic) and notes
 * that a command of p is waiting. The MAC kept there already changes
 * nothing: every held value noted at this place since it was kept was
 * checked against it (the place's stamp), so none is examined again
 * (before, p's ATTEST repeating a wrong MAC a held value waited for
 * re-examined that value, and every other held for a MAC, at every
 * frame). */
static void
eng_att_keep(struct bpc_engine *e, uint32_t p, uint64_t seq, const uint8_t mac[BPC_CMD_MAC_BYTES])
{
    struct eng_att *a = eng_att_at(e, p, seq);
    if (eng_seq_follows(e->sub.applied_hi[p], seq)) {
        e->sub.witness[p] = seq; /* a leader that does not decide it is replaced */
        eng_bl_work(e);          /* work: p's next command waits */
    }
    if (a->seq == seq && memcmp(a->mac, mac, BPC_CMD_MAC_BYTES) == 0) {
        eng_held_mac(e, false);
        return;
    }
    a->seq = seq;
    memcpy(a->mac, mac, BPC_CMD_MAC_BYTES);
    a->stamp++;             /* the values noted here are examined again */
    bool awaited = a->wait; /* a held 2a waits for the MAC at this place */
    a->wait = false;
    eng_held_mac(e, awaited);
}

/* p forwards its command r->instance to the party it takes for leader. The
 * submitter attests it to every other party (eng_forward): here the
 * FORWARD stands for the ATTEST, so its MAC is kept whether or not this
 * party leads. Inline bytes are proven by the frame's tag (they sit in the
 * tagged record): their MAC is computed. Carried bytes are not tagged: the
 * record names their MAC, which the bytes must match before a leader
 * queues them. */
void
eng_on_forward(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->value.kind == BPC_VALUE_NOOP || p == e->self || r->instance == 0 ||
        r->value.len > e->sub.cmd_max) {
        ENG_IGNORED(e);
        return;
    }
    bool carried = r->value.kind == BPC_VALUE_DIGEST;
    const uint8_t *bytes = carried ? r->value_bytes : r->value.id;
    if (bytes == NULL) {
        return;
    }
    uint8_t mac[BPC_CMD_MAC_BYTES];
    if (carried) {
        /* The tagged record's word, as an ATTEST's would be. */
        memcpy(mac, r->value.id, BPC_CMD_MAC_BYTES);
    } else {
        bpc_command_mac(e->cfg.keys[p], r->instance, bytes, r->value.len, mac);
    }
    eng_att_keep(e, p, r->instance, mac);
    if (!eng_is_leader(e)) {
        return;
    }
    if (carried && !bpc_command_mac_ok(e->cfg.keys[p], r->instance, bytes, r->value.len, mac)) {
        e->ctr.forward_forged++;
        return;
    }
    (void)eng_lq_accept(e, p, r->instance, bytes, r->value.len); /* else resent later */
}

/* p vouches for its own command r->instance, and with a second MAC for
 * the next one (see eng_cmds_authentic). */
void
eng_on_attest(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (p == e->self || r->instance == 0) {
        ENG_IGNORED(e);
        return;
    }
    eng_att_keep(e, p, r->instance, r->value.id);
    if (r->value.len > BPC_CMD_MAC_BYTES) {
        eng_att_keep(e, p, r->instance + 1, r->value.id + BPC_CMD_MAC_BYTES);
    }
}

/* Queues an ATTEST of own command c for every peer but `to`, the one its
 * FORWARD went to (which keeps the MAC that FORWARD names or proves);
 * each peer's MAC is computed under its pair key as the record is written
 * (eng_attest_fill). When the record queued just before, in this same
 * eng_forward pass (*joinable), is the ATTEST of the command before c for
 * the same peers, c joins it instead: one record holds the MACs of two
 * consecutive commands. */
static void
eng_attest(struct bpc_engine *e, const struct eng_cmd *c, const uint8_t *bytes, uint32_t to,
           bool *joinable)
{
    if (*joinable && eng_attest_join(e, to, c->seq)) {
        *joinable = false;
        return;
    }
    struct bpc_vid mac;
    memset(&mac, 0, sizeof(mac));
    mac.kind = BPC_VALUE_INLINE;
    mac.len = BPC_CMD_MAC_BYTES;
    struct bpc_record r = bpc_record_make(BPC_MSG_ATTEST, c->seq, eng_bal(e), c->len, &mac);
    *joinable = eng_peers_push_but(e, &r, bytes, to);
}

/* The own command at ring index `index` if it is still command seq (not
 * applied, its place not reused): its entry and bytes, else NULL. */
static const struct eng_cmd *
eng_own_at(const struct bpc_engine *e, uint32_t index, uint64_t seq, const uint8_t **bytes)
{
    index &= e->sub.cmd_mask;
    if (!eng_own_live(e, index, seq)) {
        return NULL;
    }
    *bytes = eng_cmd_bytes(e, e->sub.own_bytes, index);
    return &e->sub.own[index];
}

uint32_t
eng_attest_fill(const struct bpc_engine *e, uint32_t index, uint32_t peer, struct bpc_record *r)
{
    _Static_assert(BPC_ATTEST_MACS_MAX * BPC_CMD_MAC_BYTES <= BPC_VALUE_INLINE_MAX,
                   "an ATTEST's MACs fit its inline value");
    uint32_t want = r->value.len / BPC_CMD_MAC_BYTES;
    uint64_t first = r->instance;
    uint32_t n = 0;
    uint8_t *out = r->value.id;
    for (uint32_t j = 0; j < want; j++) {
        const uint8_t *bytes = NULL;
        const struct eng_cmd *c = eng_own_at(e, index + j, first + j, &bytes);
        if (c == NULL) {
            if (n == 0) {
                continue; /* applied already: the record starts at the next */
            }
            break;
        }
        if (n == 0) {
            r->instance = c->seq;
            r->aux = c->len;
        }
        bpc_command_mac(e->cfg.keys[peer], c->seq, bytes, c->len, out);
        out += BPC_CMD_MAC_BYTES;
        n++;
    }
    r->value.len = (uint16_t)(n * BPC_CMD_MAC_BYTES);
    memset(out, 0, (size_t)(r->value.id + BPC_VALUE_INLINE_MAX - out));
    return n;
}

void
eng_forward(struct bpc_engine *e)
{
    struct eng_submit_state *sub = &e->sub;
    if (sub->own_sent < sub->own_head) {
        sub->own_sent = sub->own_head;
    }
    /* At most att_slots commands ahead of the oldest unapplied one are out,
     * so a receiver's MAC table (att_slots per submitter) holds them all. */
    bool joinable = false; /* the last record queued is this pass's ATTEST */
    while (sub->own_sent < sub->own_tail && eng_leader(e) >= 0 &&
           sub->own_sent - sub->own_head < sub->att_slots) {
        const struct eng_cmd *c = &sub->own[sub->own_sent & sub->cmd_mask];
        const uint8_t *bytes = eng_cmd_bytes(e, sub->own_bytes, sub->own_sent);
        if (eng_is_leader(e)) {
            /* Its own 2a proves its own commands: no ATTEST needed. After a
             * ballot change own_sent rewinds and they are attested then. */
            if (!eng_lq_accept(e, e->self, c->seq, bytes, c->len)) {
                return; /* no room: offered again at the next step */
            }
        } else {
            if (eng_ob_full(e)) {
                return;
            }
            uint32_t to = (uint32_t)eng_leader(e);
            struct bpc_vid vid;
            bpc_forward_value(e->cfg.keys[to], c->seq, bytes, c->len, &vid);
            struct bpc_record r = bpc_record_make(BPC_MSG_FORWARD, c->seq, eng_bal(e), 0, &vid);
            eng_unicast(e, to, &r, vid.kind == BPC_VALUE_DIGEST ? bytes : NULL);
            eng_attest(e, c, bytes, to, &joinable);
        }
        sub->own_sent++;
    }
}

/* ------------------------------------------------------------------------
 * Batches and the apply rule.
 * ---------------------------------------------------------------------- */

/* bpc_batch_next, inlined into the per-value paths of this file. */
static inline __attribute__((always_inline)) int
eng_batch_step(const uint8_t *value, uint32_t len, uint32_t off, struct bpc_command *cmd)
{
    if (off == 0) {
        if (len < BPC_BATCH_HEADER_BYTES) {
            return -EINVAL;
        }
        off = BPC_BATCH_HEADER_BYTES;
    }
    if (off == len) {
        return 0;
    }
    if (off > len || len - off < BPC_BATCH_CMD_HEADER_BYTES) {
        return -EINVAL;
    }
    const uint8_t *p = value + off;
    cmd->submitter = bpc_le16_load(p);
    cmd->len = bpc_le16_load(p + 2);
    cmd->seq = bpc_le64_load(p + 4);
    cmd->bytes = p + BPC_BATCH_CMD_HEADER_BYTES;
    if (cmd->len > len - off - BPC_BATCH_CMD_HEADER_BYTES) {
        return -EINVAL;
    }
    return (int)(off + BPC_BATCH_CMD_HEADER_BYTES + cmd->len);
}

int
bpc_batch_next(const uint8_t *value, uint32_t len, uint32_t off, struct bpc_command *cmd)
{
    if (value == NULL || cmd == NULL) {
        return -EINVAL; /* the engine's own walks never pass NULL */
    }
    return eng_batch_step(value, len, off, cmd);
}

__attribute__((noinline, cold)) int
eng_batch_next_cold(const uint8_t *value, uint32_t len, uint32_t off, struct bpc_command *cmd)
{
    return bpc_batch_next(value, len, off, cmd);
}

/* A well-formed batch: 1..BPC_BATCH_MAX commands of known submitters that
 * exactly fill the value. Correct parties vote only for such values, and
 * apply a decided value's commands only when it is one. The bound is the
 * protocol's, not this party's batch_max (which bounds only the values it
 * builds as leader): what a party applies must not depend on a setting its
 * peers may not share, or their applied states would differ. */
bool
eng_batch_ok(const struct bpc_engine *e, const uint8_t *value, uint32_t len)
{
    if (len < BPC_BATCH_HEADER_BYTES || bpc_le16_load(value + 2) != 0) {
        return false;
    }
    uint32_t count = bpc_le16_load(value);
    if (count == 0 || count > BPC_BATCH_MAX) {
        return false;
    }
    struct bpc_command c;
    int off = 0;
    uint32_t seen = 0;
    while ((off = eng_batch_step(value, len, (uint32_t)off, &c)) > 0) {
        if (c.submitter >= e->n || ++seen > count) {
            return false;
        }
    }
    return off == 0 && seen == count;
}

/* A well-formed batch (as eng_batch_ok) and, in the same pass, which of
 * its commands the apply rule skips (*mask bit k: command k); does not
 * change any state. False (and *mask 0) for a malformed value. */
bool
eng_batch_mask(const struct bpc_engine *e, const uint8_t *value, uint32_t len, uint64_t *mask)
{
    *mask = 0;
    if (len < BPC_BATCH_HEADER_BYTES || bpc_le16_load(value + 2) != 0) {
        return false;
    }
    uint32_t count = bpc_le16_load(value);
    if (count == 0 || count > BPC_BATCH_MAX) {
        return false;
    }
    uint32_t subs[BPC_BATCH_MAX];
    uint64_t his[BPC_BATCH_MAX];
    uint32_t distinct = 0;
    uint64_t skip = 0;
    struct bpc_command c;
    int off = 0;
    uint32_t k = 0;
    while ((off = eng_batch_step(value, len, (uint32_t)off, &c)) > 0) {
        if (c.submitter >= e->n || k == count) {
            return false;
        }
        uint64_t hi = e->sub.applied_hi[c.submitter];
        uint32_t j = 0;
        while (j < distinct && subs[j] != c.submitter) {
            j++;
        }
        if (j < distinct) {
            hi = his[j];
        }
        if (eng_seq_follows(hi, c.seq)) {
            if (j == distinct) {
                subs[distinct++] = c.submitter;
            }
            his[j] = c.seq;
        } else {
            skip |= (uint64_t)1 << k;
        }
        k++;
    }
    if (off != 0 || k != count) {
        return false;
    }
    *mask = skip;
    return true;
}

/* Own commands up to seq are applied: their tickets complete. */
static void
eng_own_complete(struct bpc_engine *e, uint64_t seq)
{
    struct eng_submit_state *sub = &e->sub;
    uint64_t was = atomic_load_explicit(&sub->applied_own, memory_order_relaxed);
    if (was == 0 || (seq >> ENG_SEQ_BITS) > (was >> ENG_SEQ_BITS)) {
        /* The first command of a later incarnation (or the first ever):
         * what came before is now known (bpc_ticket_status). */
        atomic_store_explicit(&sub->applied_own_prev1, was + 1, memory_order_release);
    }
    atomic_store_explicit(&sub->applied_own, seq, memory_order_release);
    while (sub->own_head < sub->own_tail && sub->own[sub->own_head & sub->cmd_mask].seq <= seq) {
        uint64_t ticket = sub->own[sub->own_head & sub->cmd_mask].seq;
        sub->own_head++;
        if (e->cfg.on_complete != NULL) {
            e->cfg.on_complete(e->cfg.complete_ctx, ticket);
        }
    }
}

/* Applies the commands of a decided value (mask from eng_batch_mask). */
void
eng_apply_commands(struct bpc_engine *e, uint64_t instance, const uint8_t *value, uint32_t len,
                   uint64_t mask)
{
    eng_held_cmds(e); /* a held value's command applied: its copy there may prove it */
    struct eng_submit_state *sub = &e->sub;
    struct bpc_command c;
    int off = 0;
    for (uint32_t k = 0; (off = eng_batch_step(value, len, (uint32_t)off, &c)) > 0; k++) {
        if (mask & ((uint64_t)1 << k)) {
            continue;
        }
        sub->applied_hi[c.submitter] = c.seq;
        struct eng_att *a = &sub->att[eng_att_place(e, c.submitter, c.seq)];
        a->applied_before = a->applied_at;
        a->applied_at = instance + 1u;
        if (!sub->applied_listed[c.submitter]) {
            sub->applied_listed[c.submitter] = 1;
            sub->applied_dirty[sub->applied_dirty_count++] = c.submitter;
        }
        if (e->cfg.on_apply != NULL) {
            e->cfg.on_apply(e->cfg.apply_ctx, instance, c.submitter, c.seq, c.bytes, c.len);
        }
        if (c.submitter == e->self) {
            eng_own_complete(e, c.seq);
        }
    }
}

/* ------------------------------------------------------------------------
 * Queries for other modules, restore, set-up.
 * ---------------------------------------------------------------------- */

bool
eng_own_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *index)
{
    size_t own_len = (size_t)(e->sub.cmd_mask + 1) * e->sub.cmd_stride;
    if (val >= e->sub.own_bytes && val < e->sub.own_bytes + own_len) {
        *index = (uint32_t)((size_t)(val - e->sub.own_bytes) / e->sub.cmd_stride);
        return true;
    }
    return false;
}

/* Does own-list position index still hold the unapplied command seq? */
bool
eng_own_live(const struct bpc_engine *e, uint32_t index, uint64_t seq)
{
    const struct eng_cmd *c = &e->sub.own[index];
    uint64_t live = e->sub.own_tail - e->sub.own_head;
    uint64_t at = (index - e->sub.own_head) & e->sub.cmd_mask;
    return at < live && c->seq == seq;
}

bool
eng_sub_has_work(const struct bpc_engine *e)
{
    /* Queued commands, or a peer's command waiting that nobody applies. */
    if (eng_sub_queued(e)) {
        return true;
    }
    for (uint32_t s = 0; s < e->n; s++) {
        if (eng_sub_in_line(e, s) != 0) {
            return true;
        }
    }
    return false;
}

/* The next command in line of submitter s that some party has shown this
 * one (a peer's witnessed command; this party's own oldest unapplied
 * one), 0 when none waits. */
uint64_t
eng_sub_in_line(const struct bpc_engine *e, uint32_t s)
{
    const struct eng_submit_state *sub = &e->sub;
    uint64_t q = 0;
    if (s == e->self) {
        q = sub->own_head < sub->own_tail ? sub->own[sub->own_head & sub->cmd_mask].seq : 0;
    } else {
        q = sub->witness[s];
    }
    return q != 0 && eng_seq_follows(sub->applied_hi[s], q) ? q : 0;
}

bool
eng_sub_waits(const struct bpc_engine *e, uint32_t s, uint64_t q)
{
    return eng_seq_follows(e->sub.applied_hi[s], q);
}

void
eng_applied_clean(struct bpc_engine *e)
{
    for (uint32_t k = 0; k < e->sub.applied_dirty_count; k++) {
        e->sub.applied_listed[e->sub.applied_dirty[k]] = 0;
    }
    e->sub.applied_dirty_count = 0;
}

void
eng_sub_restore_applied(struct bpc_engine *e, uint32_t submitter, uint64_t seq)
{
    if (seq > e->sub.applied_hi[submitter]) {
        e->sub.applied_hi[submitter] = seq;
    }
}

/* incarnation: the one this run's commands will carry (bpc_engine_start
 * bumps the restored one when the party had promised a ballot). Ends the
 * restore eng_sub_restore_begin began. */
void
eng_sub_restore_done(struct bpc_engine *e, uint64_t incarnation)
{
    atomic_store_explicit(&e->sub.applied_own, e->sub.applied_hi[e->self], memory_order_release);
    atomic_store_explicit(&e->sub.ticket_inc1, incarnation + 1u, memory_order_release);
}

/* A restore may begin when no command was submitted: their tickets named
 * the incarnation before. While it runs, bpc_submit is -EBUSY. */
bool
eng_sub_restore_begin(struct bpc_engine *e)
{
    uint64_t w = atomic_load_explicit(&e->sub.ticket_inc1, memory_order_acquire);
    while ((w & (ENG_TICKET_SUBMITTED | ENG_TICKET_RESTORING)) == 0) {
        if (atomic_compare_exchange_weak_explicit(&e->sub.ticket_inc1, &w, w | ENG_TICKET_RESTORING,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            return true;
        }
    }
    return false;
}

/* A restore refused after it began: nothing changed. */
void
eng_sub_restore_abort(struct bpc_engine *e)
{
    atomic_fetch_and_explicit(&e->sub.ticket_inc1, ~ENG_TICKET_RESTORING, memory_order_acq_rel);
}

void
eng_sub_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    struct eng_submit_state *sub = &e->sub;
    sub->ring = m->ring;
    sub->own = m->own;
    sub->lq = m->lq;
    sub->lq_next = m->lq_next;
    sub->lq_first = m->lq_first;
    sub->lq_last = m->lq_last;
    sub->lq_count = m->lq_count;
    sub->ring_bytes = m->ring_bytes;
    sub->own_bytes = m->own_bytes;
    sub->lq_bytes = m->lq_bytes;
    sub->applied_hi = m->applied_hi;
    sub->queued_hi = m->queued_hi;
    sub->applied_dirty = m->applied_dirty;
    sub->applied_listed = m->applied_listed;
    sub->hold = m->hold;
    sub->strikes = m->strikes;
    sub->batch_buf = m->batch_buf;
    sub->att = m->att;
    sub->att_slots = m->att_slots;
    sub->witness = m->witness;
    sub->cmd_mask = m->cmds - 1u;
    sub->cmd_stride = m->cmd_stride;
    sub->cmd_max = m->cmd_max;
    for (uint32_t k = 0; k < m->cmds; k++) {
        atomic_init(&sub->ring[k].seq, k);
    }
    atomic_init(&sub->ticket_inc1, 1u); /* incarnation 0 until a restore */
}
