/*
 * cmdauth.c - the submit module's command authentication (its state is
 * e->sub, owned by submit.c): whether every command of a proposed batch
 * is its submitter's, before this party votes 2av for a fresh value
 * (docs/ENGINE.md, "Commands are the submitter's").
 *
 * Owns: nothing of its own. Must never: take a command's bytes on
 * anything but its submitter's word (the 2a frame's tag for the
 * proposer's own, this party's own list, a MAC its submitter sent, or a
 * decided value it was applied from), or change any state but the
 * counters and the held-value notes of a failed check.
 */
#include "submit.h"

#include "held.h"
#include "instance.h"

#include <string.h>

/* Is own command (seq, bytes) one this party submitted, still in its
 * list (pending) or in its list's storage (applied, its place not reused
 * since)? Numbers run consecutively with list positions within an
 * incarnation; a place reused holds a later number. */
static bool
eng_own_holds(const struct bpc_engine *e, const struct bpc_command *c)
{
    const struct eng_submit_state *sub = &e->sub;
    if (sub->own_tail == 0) {
        return false;
    }
    uint64_t last_pos = sub->own_tail - 1u;
    uint64_t last = sub->own[last_pos & sub->cmd_mask].seq;
    if (c->seq > last || last - c->seq > sub->cmd_mask || last - c->seq > last_pos) {
        return false; /* never submitted, or its place reused */
    }
    uint64_t pos = last_pos - (last - c->seq);
    const struct eng_cmd *own = &sub->own[pos & sub->cmd_mask];
    return own->seq == c->seq && own->len == c->len &&
           memcmp(eng_cmd_bytes(e, sub->own_bytes, pos), c->bytes, c->len) == 0;
}

/* The sequence number of the newest own command not applied (0: none). */
static uint64_t
eng_own_last(const struct bpc_engine *e)
{
    const struct eng_submit_state *sub = &e->sub;
    return sub->own_head == sub->own_tail ? 0 : sub->own[(sub->own_tail - 1u) & sub->cmd_mask].seq;
}

bool
eng_cmd_may_prove(const struct bpc_engine *e, uint32_t sub, uint64_t seq, bool beyond,
                  bool applied_before)
{
    return sub < e->n && ((!applied_before && seq <= e->sub.applied_hi[sub]) ||
                          (sub == e->self && beyond && seq <= eng_own_last(e)));
}

/* Is c a copy of a command of the decided value of instance at - 1 (0:
 * none) that the recent-decision ring still holds with its bytes (same
 * submitter, number, length and bytes)? */
static bool
eng_applied_in(const struct bpc_engine *e, uint64_t at, const struct bpc_command *c)
{
    const struct eng_dec *d = at != 0 ? eng_dring_find(e, at - 1u) : NULL;
    if (d == NULL || (d->vid.kind == BPC_VALUE_DIGEST && !d->has_bytes)) {
        return false;
    }
    const uint8_t *value = d->vid.kind == BPC_VALUE_DIGEST ? eng_dring_bytes(e, d) : d->vid.id;
    struct bpc_command x;
    int off = 0;
    while ((off = eng_batch_next_cold(value, d->vid.len, (uint32_t)off, &x)) > 0) {
        if (x.submitter == c->submitter && x.seq == c->seq) {
            return x.len == c->len && memcmp(x.bytes, c->bytes, c->len) == 0;
        }
    }
    return false;
}

/* Is c, at or below its submitter's applied number, a copy of one of the
 * last two commands applied from its MAC place (same submitter, number,
 * length and bytes), whose decided value the recent-decision ring still
 * holds? A decided value's commands are their submitters' (each was
 * proven before a correct party voted for the value), so such a copy is
 * too, without a MAC: a MAC place keeps the newest command's (a
 * submitter forwards up to att_slots past its oldest unapplied one, so a
 * place is reused while peers still propose copies of the older one),
 * and a restarted party has none of the commands applied before its
 * restart. */
static bool
eng_applied_copy(const struct bpc_engine *e, const struct bpc_command *c)
{
    const struct eng_att *a = eng_att_at(e, c->submitter, c->seq);
    return eng_applied_in(e, a->applied_at, c) || eng_applied_in(e, a->applied_before, c);
}

/*
 * Commands are the submitter's: every command (s, q, bytes) of a batch
 * proposed by `proposer` must be one s submitted under q. Proven by the 2a
 * itself when s is the proposer (its frame tag), by this party's own
 * list when s is this party, and otherwise by the MAC s sent this party
 * in an ATTEST record. A command at or below s's applied sequence, which
 * the apply rule skips, needs a proof too (its bytes are in the decided
 * value the application and the log are given): one of those, or the
 * decided value it was applied from (eng_applied_copy). Before (review
 * A12), it needed none, and a Byzantine leader's value put bytes s never
 * sent under an applied number of s, decided and handed out (skipped).
 * The first *proven commands were proven before (a MAC that matched once
 * proves the bytes for good): not checked again; *proven is then the
 * count proven in order.
 */
static bool
eng_cmds_proven_from(const struct bpc_engine *e, const uint8_t *value, uint32_t len,
                     uint32_t proposer, struct eng_unproven *bad, uint32_t *proven)
{
    *bad = (struct eng_unproven){.submitter = UINT32_MAX}; /* the rest names a command */
    uint32_t skip = *proven;
    struct bpc_command c;
    int off = 0;
    uint32_t k = 0;
    for (; (off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0; k++) {
        if (k < skip || c.submitter == proposer) {
            continue;
        }
        bool applied = c.seq <= e->sub.applied_hi[c.submitter];
        if (c.submitter == e->self) {
            if (!eng_own_holds(e, &c) && !(applied && eng_applied_copy(e, &c))) {
                bad->seq = c.seq;
                bad->own = true;
                break;
            }
            continue;
        }
        const struct eng_att *a = eng_att_at(e, c.submitter, c.seq);
        if ((a->seq != c.seq ||
             !bpc_command_mac_ok(e->cfg.keys[c.submitter], c.seq, c.bytes, c.len, a->mac)) &&
            !(applied && eng_applied_copy(e, &c))) {
            *bad = (struct eng_unproven){
                .submitter = c.submitter, .seq = c.seq, .missing = a->seq != c.seq};
            break;
        }
    }
    *proven = k;
    return off == 0;
}

bool
eng_cmds_proven(const struct bpc_engine *e, const uint8_t *value, uint32_t len, uint32_t proposer,
                struct eng_unproven *bad)
{
    uint32_t proven = 0;
    return eng_cmds_proven_from(e, value, len, proposer, bad, &proven);
}

bool
eng_cmds_check(struct bpc_engine *e, const uint8_t *value, uint32_t len, uint32_t proposer,
               struct eng_unproven *bad, uint32_t *proven)
{
    if (!eng_cmds_proven_from(e, value, len, proposer, bad, proven)) {
        e->ctr.cmd_unauthenticated++;
        if (bad->submitter != UINT32_MAX) {
            /* the ATTEST still on its way there re-checks it (eng_att_keep) */
            eng_att_wait(e, eng_att_place(e, bad->submitter, bad->seq));
        }
        eng_held_stopped(e, bad); /* the value noted next waits for it */
        return false;
    }
    return true;
}
