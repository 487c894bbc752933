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
    if (e->now_ns >= h->held_until + ENG_HOLD_FORGET * unit) {
        k = 0;
    }
    uint64_t units = (uint64_t)ENG_HOLD_FIRST << (k < 8u ? k : 8u);
    h->held_until = e->now_ns + unit * (units < ENG_HOLD_MAX ? units : ENG_HOLD_MAX);
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
    h->alone_until = e->now_ns + eng_hold_unit(e) * ENG_ALONE;
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

bool
eng_lq_accept(struct bpc_engine *e, uint32_t s, uint64_t q, const uint8_t *bytes, uint32_t len)
{
    struct eng_submit_state *sub = &e->sub;
    if (sub->queued_bal != eng_bal(e)) {
        memcpy(sub->queued_hi, sub->applied_hi, e->n * sizeof(uint64_t));
        sub->queued_bal = eng_bal(e);
        sub->lq_head = sub->lq_tail; /* earlier queues are resent by submitters */
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
    if (eng_lq_held_out(e, s)) {
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
    sub->lq_tail++;
    sub->queued_hi[s] = q;
    return true;
}

/* A leader's queue entry already taken into a value (its len). */
#define ENG_LQ_TAKEN UINT32_MAX
/* Entries from the queue's head a fair batch looks at (shares and takes):
 * bounds a value's cost whatever the queue holds (up to 65536), and is
 * more than the own commands a leader queues ahead of the others' at a
 * ballot change (at most the 256 MAC places, eng_forward). */
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

/* Each submitter's share of a batch of `room` commands when the queue
 * holds more than that: the largest cap with the sum over submitters of
 * min(queued, cap) within room, the room that leaves going one each to
 * the submitters first in queue order, counted over the first
 * ENG_LQ_SCAN entries. More submitters than room: one each to the first
 * ones. The count of shares; 0 for queue order, which is the same thing
 * when every entry fits, one submitter queued them all (lq_solo: the
 * usual case of a leader that serves its own clients), or a value holds
 * one command. */
static uint32_t
eng_batch_shares(const struct eng_submit_state *sub, uint32_t room,
                 struct eng_share sh[BPC_BATCH_MAX])
{
    /* Everything fits, one submitter, or one command: queue order. */
    if (sub->lq_tail - sub->lq_head <= room || sub->lq_solo != UINT32_MAX || room == 1) {
        return 0;
    }
    uint32_t count = 0;
    uint32_t at = 0; /* the share of the entry before */
    bool crowded = false;
    for (uint64_t i = sub->lq_head; i < eng_lq_scan_end(sub); i++) {
        const struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
        if (c->len == ENG_LQ_TAKEN) {
            continue;
        }
        if (at >= count || sh[at].submitter != c->submitter) { /* else a run goes on */
            at = 0;
            while (at < count && sh[at].submitter != c->submitter) {
                at++;
            }
        }
        if (at == count) {
            if (count == room) {
                crowded = true; /* more submitters than room */
                break;
            }
            sh[count++] = (struct eng_share){.submitter = c->submitter};
        }
        sh[at].queued++;
    }
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
 * Looks at the first ENG_LQ_SCAN entries; lq_tail when nothing is queued. */
static uint64_t
eng_lq_start(const struct eng_submit_state *sub, uint32_t n)
{
    uint64_t best = sub->lq_tail;
    uint32_t best_d = UINT32_MAX;
    uint32_t t = sub->lq_turn < n ? sub->lq_turn : 0;
    uint32_t run = UINT32_MAX; /* the submitter of the run of entries being passed */
    for (uint64_t i = sub->lq_head; i < eng_lq_scan_end(sub); i++) {
        const struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
        if (c->len == ENG_LQ_TAKEN || c->submitter == run) {
            continue; /* a run's first entry is its submitter's oldest */
        }
        run = c->submitter;
        /* 0 for the submitter right after lq_turn, n - 1 for lq_turn. */
        uint32_t d = c->submitter > t ? c->submitter - t - 1u : c->submitter + n - t - 1u;
        if (d < best_d) {
            best_d = d;
            best = i;
            if (d == 0) {
                break;
            }
        }
    }
    return best;
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
uint32_t
eng_batch_build(struct bpc_engine *e)
{
    struct eng_submit_state *sub = &e->sub;
    struct eng_share sh[BPC_BATCH_MAX];
    uint32_t shares = eng_batch_shares(sub, e->cfg.batch_max, sh);
    uint64_t end = shares > 0 ? eng_lq_scan_end(sub) : sub->lq_tail;
    uint32_t off = BPC_BATCH_HEADER_BYTES;
    uint16_t count = 0;
    /* A held submitter's entries (queued before its hold) are dropped; an
     * alone one's wait for a value of their own. */
    bool holds = e->now_ns < sub->hold_any;
    bool alones = e->now_ns < sub->alone_any;
    uint32_t company = alones ? ENG_COMPANY_OPEN : ENG_COMPANY_MIXED;
    if (sub->lq_solo == UINT32_MAX && sub->lq_tail - sub->lq_head > 1) {
        /* Every queued command fits a value alone (eng_lq_accept). The
         * submitter whose turn it is starts the value even where the
         * shares crowd it out (more submitters than batch_max): the shares
         * went to the first ones in queue order, the same ones every time
         * when the bytes let a value hold one command. */
        uint64_t i = eng_lq_start(sub, e->n);
        if (i < sub->lq_tail &&
            !(holds && eng_lq_held_out(e, sub->lq[i & sub->cmd_mask].submitter))) {
            (void)eng_share_take(sh, shares, sub->lq[i & sub->cmd_mask].submitter);
            company = eng_lq_company_after(e, sub->lq[i & sub->cmd_mask].submitter, company);
            sub->lq_turn = sub->lq[i & sub->cmd_mask].submitter;
            eng_batch_put(e, i, &off);
            count++;
        }
    }
    for (uint64_t i = sub->lq_head; i < end && count < e->cfg.batch_max; i++) {
        struct eng_cmd *c = &sub->lq[i & sub->cmd_mask];
        if (c->len == ENG_LQ_TAKEN) {
            continue;
        }
        if (holds && eng_lq_held_out(e, c->submitter)) {
            eng_lq_drop(e, i);
            continue;
        }
        if (!eng_lq_company_ok(e, c->submitter, company)) {
            continue;
        }
        if (off + BPC_BATCH_CMD_HEADER_BYTES + c->len > e->cfg.value_bytes_max) {
            break;
        }
        if (!eng_share_take(sh, shares, c->submitter)) {
            continue;
        }
        company = eng_lq_company_after(e, c->submitter, company);
        eng_batch_put(e, i, &off);
        count++;
    }
    while (sub->lq_head < sub->lq_tail &&
           sub->lq[sub->lq_head & sub->cmd_mask].len == ENG_LQ_TAKEN) {
        sub->lq_head++;
    }
    if (count == 0) {
        return 0;
    }
    bpc_le16_store(sub->batch_buf, count);
    bpc_le16_store(sub->batch_buf + 2, 0);
    return off;
}
