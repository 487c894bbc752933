/*
 * leaderq.c - the submit module's leader queue (its state is e->sub, owned
 * by submit.c): which forwarded and own commands a leader queues, and the
 * fair batches it builds from them into values.
 *
 * Owns: nothing of its own. Must never: queue a command out of its
 * submitter's sequence order or one no value can hold, let one submitter
 * hold more than its share of a half-full queue, take a command into two
 * values, or hold out this party's own commands.
 */
#include "submit.h"

#include "ballot.h"

#include <string.h>

/* Holds (docs/ENGINE.md, "Commands are the submitter's"): a submitter is
 * held out for ENG_HOLD_FIRST units, doubling with each hold up to
 * ENG_HOLD_MAX units; its holds are forgotten ENG_HOLD_FORGET units after
 * the last one ended. The unit is a ballot timeout, in paced mode a round. */
#define ENG_HOLD_FIRST 4u
#define ENG_HOLD_MAX 32u
#define ENG_HOLD_FORGET 256u
/* A submitter refused in a failed value of several submitters' commands
 * is kept alone for ENG_ALONE units: its commands go only in values of
 * their own (docs/ENGINE.md, "Refusals and holds"). */
#define ENG_ALONE 64u

static uint64_t
eng_hold_unit(const struct bpc_engine *e)
{
    if (eng_paced(e) && e->cfg.timers.finalize_ns > 0) {
        return e->cfg.timers.finalize_ns;
    }
    return e->cfg.ballot_timeout_ns;
}

/* Is submitter s held out now? Never this party. */
static bool
eng_lq_held_out(const struct bpc_engine *e, uint32_t s)
{
    return e->now_ns < e->sub.hold_any && e->now_ns < e->sub.hold[s].held_until;
}

/* Holds s out: ENG_HOLD_FIRST units, doubling with each hold since its
 * holds were last forgotten. */
static void
eng_lq_hold(struct bpc_engine *e, uint32_t s)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_hold *h = &sub->hold[s];
    uint64_t unit = eng_hold_unit(e);
    uint32_t k = sub->strikes[s];
    if (e->now_ns >= eng_ns_add(h->held_until, eng_ns_mul(ENG_HOLD_FORGET, unit))) {
        k = 0;
    }
    uint64_t units = (uint64_t)ENG_HOLD_FIRST << (k < 8u ? k : 8u);
    h->held_until =
        eng_ns_add(e->now_ns, eng_ns_mul(unit, units < ENG_HOLD_MAX ? units : ENG_HOLD_MAX));
    sub->strikes[s] = (uint8_t)(k < UINT8_MAX ? k + 1 : k);
    if (h->held_until > sub->hold_any) {
        sub->hold_any = h->held_until;
    }
    h->refused_bal = 0;
    h->failed_bal = 0;
    e->ctr.submitters_held++;
}

/* Is submitter s kept alone now? Never this party. */
static bool
eng_lq_alone(const struct bpc_engine *e, uint32_t s)
{
    return e->now_ns < e->sub.alone_any && e->now_ns < e->sub.hold[s].alone_until;
}

/* A refusal of s's command in a value that failed: held out when the
 * value held only s's commands (nobody else's command can have made it
 * fail), else kept alone, so that its commands no longer share a value
 * with anyone's: a refusal from a Byzantine party beside a value that
 * failed for another submitter's command held a correct submitter out
 * together with the guilty one, hold after hold. */
static void
eng_lq_blame(struct bpc_engine *e, uint32_t s, bool alone)
{
    struct eng_hold *h = &e->sub.hold[s];
    if (alone) {
        eng_lq_hold(e, s);
        return;
    }
    h->alone_until = eng_ns_add(e->now_ns, eng_ns_mul(eng_hold_unit(e), ENG_ALONE));
    if (h->alone_until > e->sub.alone_any) {
        e->sub.alone_any = h->alone_until;
    }
    h->refused_bal = 0;
    h->failed_bal = 0;
}

void
eng_lq_refused(struct bpc_engine *e, uint32_t s, uint64_t bal)
{
    if (s == e->self || s >= e->n) {
        return;
    }
    struct eng_hold *h = &e->sub.hold[s];
    if (h->failed_bal == bal) {
        eng_lq_blame(e, s, h->failed_alone); /* the refusal came after this leader left bal */
    } else {
        h->refused_bal = bal;
    }
}

/* Does value hold commands of one submitter only? */
static bool
eng_lq_value_alone(const uint8_t *value, uint32_t len)
{
    struct bpc_command c;
    int off = 0;
    uint32_t first = UINT32_MAX;
    while ((off = eng_batch_next_cold(value, len, (uint32_t)off, &c)) > 0) {
        if (first != UINT32_MAX && c.submitter != first) {
            return false;
        }
        first = c.submitter;
    }
    return true;
}

void
eng_lq_failed(struct bpc_engine *e, const uint8_t *value, uint32_t len)
{
    struct eng_submit_state *sub = &e->sub;
    uint64_t bal = eng_bal(e);
    bool alone = eng_lq_value_alone(value, len);
    struct bpc_command c;
    int off = 0;
    while ((off = eng_batch_next_cold(value, len, (uint32_t)off, &c)) > 0) {
        if (c.submitter == e->self || c.submitter >= e->n ||
            c.seq <= sub->applied_hi[c.submitter]) {
            continue;
        }
        struct eng_hold *h = &sub->hold[c.submitter];
        if (h->refused_bal == bal) {
            eng_lq_blame(e, c.submitter, alone);
        } else if (e->now_ns >= h->held_until) {
            h->failed_bal = bal; /* a refusal may still be on its way */
            h->failed_alone = alone;
        }
    }
}

/* Commands of s this leader queued at its ballot and has not applied yet
 * (in its queue or in a value in flight). */
static uint64_t
eng_lq_held(const struct eng_submit_state *sub, uint32_t s)
{
    uint64_t hi = sub->queued_hi[s];
    uint64_t ap = sub->applied_hi[s];
    if (hi >> ENG_SEQ_BITS != ap >> ENG_SEQ_BITS) {
        return ENG_SEQ_LOW(hi); /* a new incarnation: counted from its first */
    }
    return ENG_SEQ_LOW(hi) - ENG_SEQ_LOW(ap);
}

/* A first command of a later incarnation of s while commands of s queued
 * at this ballot are not applied yet (queued or in a value in flight):
 * refused until they are. eng_lq_held counts a new incarnation from its
 * first command, which is right only when nothing of an earlier one is
 * still held; a submitter forwarding (k << 40) | 1 for k = 1, 2, ...
 * (each follows the last) otherwise counted 1 at every command and
 * filled the queue past its share. A restarted correct submitter waits
 * only until this leader applied what it queued of the run before. */
static bool
eng_lq_jump_early(const struct eng_submit_state *sub, uint32_t s, uint64_t q)
{
    return q >> ENG_SEQ_BITS != sub->queued_hi[s] >> ENG_SEQ_BITS &&
           sub->queued_hi[s] > sub->applied_hi[s];
}

/* Once the queue is half full, a submitter that already holds its share
 * (the queue's length over the parties, at least 1) is refused: one
 * submitter, a Byzantine one forwarding long runs of valid numbers among
 * them, cannot fill the queue and keep every other submitter's FORWARDs
 * out, while a lone submitter still has half the queue. */
static bool
eng_lq_over_share(const struct bpc_engine *e, uint32_t s)
{
    const struct eng_submit_state *sub = &e->sub;
    uint32_t room = sub->cmd_mask + 1u;
    if (sub->lq_tail - sub->lq_head < room / 2u) {
        return false;
    }
    uint32_t share = room / e->n;
    return eng_lq_held(sub, s) >= (share > 0 ? share : 1u);
}

/* A leader's queue entry already taken into a value (its len). */
#define ENG_LQ_TAKEN UINT32_MAX

/* Entry t, s's newest, joins s's chain. With none of s's untaken its
 * chain starts afresh (lq_last may name an entry whose place in the ring
 * was reused: never linked from then). */
static void
eng_lq_chain(struct eng_submit_state *sub, uint32_t s, uint64_t t)
{
    sub->lq_next[t & sub->cmd_mask] = UINT64_MAX;
    if (sub->lq_count[s] == 0) {
        sub->lq_first[s] = t;
    } else {
        sub->lq_next[sub->lq_last[s] & sub->cmd_mask] = t;
    }
    sub->lq_last[s] = t;
    sub->lq_count[s]++;
}

/* Entry i of s was just marked taken: s's oldest untaken entry moves on
 * past it and any taken ones after it. Every chained entry from lq_first
 * on lies at or above lq_head (lq_first is untaken), so none of them has
 * had its place reused. */
static void
eng_lq_unchain(struct eng_submit_state *sub, uint32_t s, uint64_t i)
{
    sub->lq_count[s]--;
    if (sub->lq_count[s] == 0 || sub->lq_first[s] != i) {
        return;
    }
    uint64_t j = sub->lq_next[i & sub->cmd_mask];
    while (sub->lq[j & sub->cmd_mask].len == ENG_LQ_TAKEN) {
        j = sub->lq_next[j & sub->cmd_mask]; /* an untaken one follows: the count */
    }
    sub->lq_first[s] = j;
}

bool
eng_lq_accept(struct bpc_engine *e, uint32_t s, uint64_t q, const uint8_t *bytes, uint32_t len)
{
    struct eng_submit_state *sub = &e->sub;
    if (sub->queued_bal != eng_bal(e)) {
        memcpy(sub->queued_hi, sub->applied_hi, e->n * sizeof(uint64_t));
        sub->queued_bal = eng_bal(e);
        sub->lq_head = sub->lq_tail; /* earlier queues are resent by submitters */
        memset(sub->lq_count, 0, e->n * sizeof(uint32_t));
    }
    /* Commands of s can also be applied from values this leader did not
     * queue at this ballot (an earlier ballot's value it had to propose
     * again, a decision learned from peers): s then resends from past
     * them, so the queue goes on from whichever is later. Without this a
     * leader that kept deciding others' commands refused every one of
     * s's from then on (the sequence did not follow), for as long as it
     * led. */
    if (sub->applied_hi[s] > sub->queued_hi[s]) {
        sub->queued_hi[s] = sub->applied_hi[s];
    }
    /* A command no value can hold would stop every batch behind it. */
    if (!eng_seq_follows(sub->queued_hi[s], q) || len > sub->cmd_max) {
        ENG_IGNORED(e);
        return true;
    }
    if (eng_lq_held_out(e, s) || eng_lq_jump_early(sub, s, q)) {
        ENG_IGNORED(e); /* resent by its submitter's retransmit tick */
        return true;
    }
    if (sub->lq_tail - sub->lq_head > sub->cmd_mask || eng_lq_over_share(e, s)) {
        ENG_IGNORED(e);
        return false;
    }
    if (sub->lq_tail == sub->lq_head) {
        sub->lq_solo = s;
    } else if (sub->lq_solo != s) {
        sub->lq_solo = UINT32_MAX;
    }
    struct eng_cmd *c = &sub->lq[sub->lq_tail & sub->cmd_mask];
    c->submitter = s;
    c->seq = q;
    c->len = len;
    memcpy(eng_cmd_bytes(e, sub->lq_bytes, sub->lq_tail), bytes, len);
    eng_lq_chain(sub, s, sub->lq_tail);
    sub->lq_tail++;
    sub->queued_hi[s] = q;
    return true;
}

/* Entries from the queue's head a fair batch walks in queue order
 * (shares and takes): bounds a value's cost whatever the queue holds (up
 * to 65536), and is more than the own commands a leader queues ahead of
 * the others' at a ballot change (at most the 256 MAC places,
 * eng_forward). Submitters whose entries lie past it are found through
 * their chains (turns, shares and takes alike). */
#define ENG_LQ_SCAN 512u

/* One submitter's commands in the leader's queue, for a fair batch. */
struct eng_share {
    uint32_t submitter;
    uint32_t queued; /* untaken entries in the queue */
    uint32_t allow;  /* how many this batch may take */
};

/* Where a fair batch stops looking (ENG_LQ_SCAN). */
static uint64_t
eng_lq_scan_end(const struct eng_submit_state *sub)
{
    uint64_t len = sub->lq_tail - sub->lq_head;
    return sub->lq_head + (len < ENG_LQ_SCAN ? len : ENG_LQ_SCAN);
}

/* Submitter s gets a share (its untaken entries counted), once; false
 * when it would be one more than room (crowded). */
static bool
eng_share_add(const struct eng_submit_state *sub, struct eng_share *sh, uint32_t *count,
              uint32_t room, uint64_t *seen, uint32_t s)
{
    if (seen[s / 64] & ((uint64_t)1 << (s % 64))) {
        return true;
    }
    if (*count == room) {
        return false; /* more submitters than room */
    }
    seen[s / 64] |= (uint64_t)1 << (s % 64);
    sh[(*count)++] = (struct eng_share){.submitter = s, .queued = sub->lq_count[s]};
    return true;
}

/* The shares' allowances: the largest cap with the sum of min(queued,
 * cap) within room (1 when crowded), then one more each in order while
 * room is left. */
static void
eng_shares_fill(struct eng_share *sh, uint32_t count, uint32_t room, bool crowded)
{
    uint32_t cap = 1;
    while (!crowded && cap < room) {
        uint32_t sum = 0;
        for (uint32_t k = 0; k < count; k++) {
            sum += sh[k].queued < cap + 1 ? sh[k].queued : cap + 1;
        }
        if (sum > room) {
            break;
        }
        cap++;
    }
    uint32_t used = 0;
    for (uint32_t k = 0; k < count; k++) {
        sh[k].allow = sh[k].queued < cap ? sh[k].queued : cap;
        used += sh[k].allow;
    }
    for (uint32_t k = 0; k < count && used < room; k++) {
        if (sh[k].queued > sh[k].allow) {
            sh[k].allow++;
            used++;
        }
    }
}

/* Each submitter's share of a batch of `room` commands when the queue
 * holds more than that: the largest cap with the sum over submitters of
 * min(queued, cap) within room, the room that leaves going one each to
 * the submitters first in queue order. Submitters are taken in queue
 * order over the first ENG_LQ_SCAN entries, then those whose entries all
 * lie past them, in id order; each counts all its untaken entries
 * (lq_count). More submitters than room: one each to the first ones. The
 * count of shares; 0 for queue order, which is the same thing when every
 * entry fits, one submitter queued them all (lq_solo: the usual case of a
 * leader that serves its own clients), or a value holds one command. */
static uint32_t
eng_batch_shares(const struct eng_submit_state *sub, uint32_t n, uint32_t room,
                 struct eng_share sh[BPC_BATCH_MAX])
{
    /* Everything fits, one submitter, or one command: queue order. */
    if (sub->lq_tail - sub->lq_head <= room || sub->lq_solo != UINT32_MAX || room == 1) {
        return 0;
    }
    uint64_t seen[BPC_PARTIES_MAX / 64];
    memset(seen, 0, sizeof(seen));
    uint32_t count = 0;
    bool crowded = false;
    for (uint64_t i = sub->lq_head; i < eng_lq_scan_end(sub) && !crowded; i++) {
        const struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
        if (c->len != ENG_LQ_TAKEN) {
            crowded = !eng_share_add(sub, sh, &count, room, seen, c->submitter);
        }
    }
    for (uint32_t s = 0; s < n && !crowded && eng_lq_scan_end(sub) < sub->lq_tail; s++) {
        if (sub->lq_count[s] > 0) {
            crowded = !eng_share_add(sub, sh, &count, room, seen, s);
        }
    }
    eng_shares_fill(sh, count, room, crowded);
    return count;
}

/* Room left for submitter s's next command (always, without shares). */
static bool
eng_share_take(struct eng_share *sh, uint32_t count, uint32_t s)
{
    if (count == 0) {
        return true;
    }
    for (uint32_t k = 0; k < count; k++) {
        if (sh[k].submitter == s) {
            if (sh[k].allow == 0) {
                return false;
            }
            sh[k].allow--;
            return true;
        }
    }
    return false; /* crowded out: after the first `room` submitters */
}

/* The queue index of the command a value starts with: the oldest untaken
 * one of the first submitter after the one that started the last value
 * (lq_turn), in id order, that has one waiting: submitters take turns.
 * From the submitters' chains, so a submitter whose oldest entry lies
 * past ENG_LQ_SCAN gets its turn too (before, only the first ENG_LQ_SCAN
 * entries were looked at: a submitter that queued half of commands_max
 * first kept a later one out of turns, the Byzantine review's
 * repro_lq_scan). lq_tail when nothing is queued. */
static uint64_t
eng_lq_start(const struct eng_submit_state *sub, uint32_t n)
{
    uint32_t t = sub->lq_turn < n ? sub->lq_turn : 0;
    for (uint32_t d = 0; d < n; d++) {
        uint32_t s = (t + 1u + d) % n; /* d = 0 right after lq_turn, n - 1 lq_turn */
        if (sub->lq_count[s] > 0) {
            return sub->lq_first[s];
        }
    }
    return sub->lq_tail;
}

/* Drops queue entry i of a held submitter: it resends from its applied
 * command on once the hold ends. */
static void
eng_lq_drop(struct bpc_engine *e, uint64_t i)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
    sub->queued_hi[c->submitter] = sub->applied_hi[c->submitter];
    c->len = ENG_LQ_TAKEN;
    eng_lq_unchain(sub, c->submitter, i);
}

/* Appends queue entry i to the batch at *off. */
static void
eng_batch_put(struct bpc_engine *e, uint64_t i, uint32_t *off)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
    uint8_t *p = sub->batch_buf + *off;
    bpc_le16_store(p, (uint16_t)c->submitter);
    bpc_le16_store(p + 2, (uint16_t)c->len);
    bpc_le64_store(p + 4, c->seq);
    memcpy(p + BPC_BATCH_CMD_HEADER_BYTES, eng_cmd_bytes(e, sub->lq_bytes, i), c->len);
    *off += BPC_BATCH_CMD_HEADER_BYTES + c->len;
    c->len = ENG_LQ_TAKEN;
    eng_lq_unchain(sub, c->submitter, i);
}

/* Which submitters' commands a value being built may still take while
 * some are kept alone: undecided before its first command; then only the
 * first one's when that one is alone, or anyone's but the alone ones'. */
#define ENG_COMPANY_OPEN UINT32_MAX
#define ENG_COMPANY_MIXED (UINT32_MAX - 1u)

/* May submitter s's command join the value (company: its state)? */
static bool
eng_lq_company_ok(const struct bpc_engine *e, uint32_t s, uint32_t company)
{
    if (company == ENG_COMPANY_OPEN) {
        return true;
    }
    return company == ENG_COMPANY_MIXED ? !eng_lq_alone(e, s) : s == company;
}

/* The company once s's command is in the value. */
static uint32_t
eng_lq_company_after(const struct bpc_engine *e, uint32_t s, uint32_t company)
{
    if (company != ENG_COMPANY_OPEN) {
        return company;
    }
    return eng_lq_alone(e, s) ? s : ENG_COMPANY_MIXED;
}

/* A value of up to batch_max queued commands, each submitter's in its
 * sequence order. When more are queued than fit, every submitter gets a
 * fair share (eng_batch_shares): a leader's own commands enter its queue
 * first at every ballot (the others' forwards come a network delay
 * later), so in queue order a leader whose own commands fill each batch
 * kept others' out for as long as ballots turned over. With commands of
 * more than one submitter queued, the submitters take turns starting a
 * value, in id order (eng_lq_start): where a value holds only one
 * command, or the bytes run out before the shares do, queue order again
 * served the leader's own commands first. */
/* A value being built (eng_batch_build). */
struct eng_build {
    struct eng_share sh[BPC_BATCH_MAX];
    uint32_t shares;
    uint32_t off;
    uint16_t count;
    uint32_t company;
    bool holds;
    bool full; /* the next command's bytes did not fit */
};

/* Queue entry i, untaken: dropped (its submitter held), skipped, or put
 * into the value (the value's company and the shares allowing it). */
static void
eng_build_try(struct bpc_engine *e, struct eng_build *b, uint64_t i)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
    if (b->holds && eng_lq_held_out(e, c->submitter)) {
        eng_lq_drop(e, i);
        return;
    }
    if (!eng_lq_company_ok(e, c->submitter, b->company)) {
        return;
    }
    if (b->off + BPC_BATCH_CMD_HEADER_BYTES + c->len > e->cfg.value_bytes_max) {
        b->full = true;
        return;
    }
    /* A value kept to one submitter's commands (kept alone) takes them
     * past its share: nobody else's can join. Before, it held only the
     * share (2 of 15 among seven submitters), and a correct submitter
     * kept alone after a refusal drained 2 commands per turn of the
     * seven (bpcon-sim --mode paced, review G13: past the liveness
     * bound). */
    bool own = b->company < ENG_COMPANY_MIXED;
    if (!own && !eng_share_take(b->sh, b->shares, c->submitter)) {
        return;
    }
    b->company = eng_lq_company_after(e, c->submitter, b->company);
    eng_batch_put(e, i, &b->off);
    b->count++;
}

/* Shares left over once the first ENG_LQ_SCAN entries are passed: each
 * such submitter's entries past them, from its chain in its sequence
 * order (one whose oldest lies within them was passed there for a
 * reason: its company, or its share). */
static void
eng_build_late(struct bpc_engine *e, struct eng_build *b, uint64_t end)
{
    struct eng_submit_state *sub = &e->sub;
    for (uint32_t k = 0; k < b->shares && !b->full; k++) {
        uint32_t s = b->sh[k].submitter;
        while (b->sh[k].allow > 0 && b->count < e->cfg.batch_max && !b->full &&
               sub->lq_count[s] > 0 && sub->lq_first[s] >= end) {
            uint64_t first = sub->lq_first[s];
            eng_build_try(e, b, first);
            if (sub->lq_count[s] > 0 && sub->lq_first[s] == first) {
                break; /* passed over (its company) */
            }
        }
    }
}

/* A value of up to batch_max queued commands, each submitter's in its
 * sequence order. When more are queued than fit, every submitter gets a
 * fair share (eng_batch_shares): a leader's own commands enter its queue
 * first at every ballot (the others' forwards come a network delay
 * later), so in queue order a leader whose own commands fill each batch
 * kept others' out for as long as ballots turned over. With commands of
 * more than one submitter queued, the submitters take turns starting a
 * value, in id order (eng_lq_start): where a value holds only one
 * command, or the bytes run out before the shares do, queue order again
 * served the leader's own commands first. */
uint32_t
eng_batch_build(struct bpc_engine *e)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_build b; /* no initializer: the 64 shares are 768 bytes, b.shares of them used */
    b.shares = eng_batch_shares(sub, e->n, e->cfg.batch_max, b.sh);
    b.off = BPC_BATCH_HEADER_BYTES;
    b.count = 0;
    b.full = false;
    uint64_t end = b.shares > 0 ? eng_lq_scan_end(sub) : sub->lq_tail;
    /* A held submitter's entries (queued before its hold) are dropped; an
     * alone one's wait for a value of their own. */
    b.holds = e->now_ns < sub->hold_any;
    b.company = e->now_ns < sub->alone_any ? ENG_COMPANY_OPEN : ENG_COMPANY_MIXED;
    if (sub->lq_solo == UINT32_MAX && sub->lq_tail - sub->lq_head > 1) {
        /* Every queued command fits a value alone (eng_lq_accept). The
         * submitter whose turn it is starts the value even where the
         * shares crowd it out (more submitters than batch_max): the shares
         * went to the first ones in queue order, the same ones every time
         * when the bytes let a value hold one command. */
        uint64_t i = eng_lq_start(sub, e->n);
        uint32_t s = i < sub->lq_tail ? sub->lq[i & sub->cmd_mask].submitter : 0;
        if (i < sub->lq_tail && !(b.holds && eng_lq_held_out(e, s))) {
            (void)eng_share_take(b.sh, b.shares, s);
            b.company = eng_lq_company_after(e, s, b.company);
            sub->lq_turn = s;
            eng_batch_put(e, i, &b.off);
            b.count++;
        }
    }
    for (uint64_t i = sub->lq_head; i < end && b.count < e->cfg.batch_max && !b.full; i++) {
        if (sub->lq[i & sub->cmd_mask].len != ENG_LQ_TAKEN) {
            eng_build_try(e, &b, i);
        }
    }
    if (end < sub->lq_tail) {
        eng_build_late(e, &b, end);
    }
    while (sub->lq_head < sub->lq_tail &&
           sub->lq[sub->lq_head & sub->cmd_mask].len == ENG_LQ_TAKEN) {
        sub->lq_head++;
    }
    if (b.count == 0) {
        return 0;
    }
    bpc_le16_store(sub->batch_buf, b.count);
    bpc_le16_store(sub->batch_buf + 2, 0);
    return b.off;
}
