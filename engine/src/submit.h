/*
 * submit.h - commands (submit.c): the submission ring, tickets, the own
 * pending list, forwarding and ATTEST MACs, the leader's batches, and the
 * apply rule.
 */
#ifndef BPC_SUBMIT_H
#define BPC_SUBMIT_H

#include "core.h"

/* Command bytes of queue position pos in an arena (ring, own or lq). */
static inline uint8_t *
eng_cmd_bytes(const struct bpc_engine *e, uint8_t *arena, uint64_t pos)
{
    return arena + (size_t)(pos & e->sub.cmd_mask) * e->sub.cmd_stride;
}

/* Does command q directly follow hi (the next number, or the first of a
 * newer incarnation)? */
static inline bool
eng_seq_follows(uint64_t hi, uint64_t q)
{
    if (q == hi + 1) {
        return true;
    }
    return (q >> ENG_SEQ_BITS) > (hi >> ENG_SEQ_BITS) && ENG_SEQ_LOW(q) == 1;
}

/* Own commands wait, or the leader queue holds commands. */
static inline bool
eng_sub_queued(const struct bpc_engine *e)
{
    return e->sub.own_head < e->sub.own_tail || e->sub.lq_head < e->sub.lq_tail;
}

/* Resend every unapplied own command (a new leader, a retransmit tick). */
static inline void
eng_sub_rewind(struct bpc_engine *e)
{
    e->sub.own_sent = e->sub.own_head;
}

/* The value eng_batch_build encoded. */
static inline const uint8_t *
eng_batch_bytes(const struct bpc_engine *e)
{
    return e->sub.batch_buf;
}

/* Apply state changed since the last persist batch (persist.c). */
static inline uint32_t
eng_applied_dirty_count(const struct bpc_engine *e)
{
    return e->sub.applied_dirty_count;
}

/* The k-th changed submitter; *seq its last applied sequence number. */
static inline uint32_t
eng_applied_dirty_at(const struct bpc_engine *e, uint32_t k, uint64_t *seq)
{
    uint32_t s = e->sub.applied_dirty[k];
    *seq = e->sub.applied_hi[s];
    return s;
}

/* The MAC table's place of submitter's command seq (att_slots per
 * submitter, by sequence number). */
static inline uint32_t
eng_att_place(const struct bpc_engine *e, uint32_t submitter, uint64_t seq)
{
    return submitter * e->sub.att_slots + (uint32_t)(seq & (e->sub.att_slots - 1u));
}

/* The MAC place of submitter's command seq. */
static inline struct eng_att *
eng_att_at(const struct bpc_engine *e, uint32_t submitter, uint64_t seq)
{
    return &e->sub.att[eng_att_place(e, submitter, seq)];
}

/* Changes of the MAC kept at place (its command or MAC): a held value
 * waiting there is examined again when this differs from its note and
 * the place keeps the command it waits for (eng_att_seq). */
static inline uint32_t
eng_att_stamp(const struct bpc_engine *e, uint32_t place)
{
    return e->sub.att[place].stamp;
}

/* The command whose MAC place keeps (0: none). */
static inline uint64_t
eng_att_seq(const struct bpc_engine *e, uint32_t place)
{
    return e->sub.att[place].seq;
}

/* A held value still waits at place (for a command other than the one
 * kept there now): the next MAC there asks for a re-check. */
static inline void
eng_att_wait(struct bpc_engine *e, uint32_t place)
{
    e->sub.att[place].wait = true;
}

ENG_FN int eng_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket);
ENG_FN enum bpc_ticket_status eng_ticket_status(const struct bpc_engine *e, uint64_t ticket);
/* Moves submitted commands from the ring into the own pending list. */
ENG_FN void eng_ring_drain(struct bpc_engine *e);
/* Sends own unapplied commands to the leader (or queues them, as leader). */
ENG_FN void eng_forward(struct bpc_engine *e);
ENG_FN void eng_on_forward(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
ENG_FN void eng_on_attest(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
/* Encodes queued commands into the batch buffer; the value length, 0
 * when nothing is queued. */
ENG_FN uint32_t eng_batch_build(struct bpc_engine *e);
/* Leader (leaderq.c): queues (s, q) if it directly follows what this
 * leader queued and there is room for it. False only when there is no
 * room (the queue is full, or s holds its share of a half-full one): the
 * same command may enter later. */
ENG_FN bool eng_lq_accept(struct bpc_engine *e, uint32_t s, uint64_t q, const uint8_t *bytes,
                          uint32_t len);
/* Leader (leaderq.c): a party refused a command of submitter s in a value
 * this leader proposed at ballot bal (REFUSE). */
ENG_FN void eng_lq_refused(struct bpc_engine *e, uint32_t s, uint64_t bal);
/* Leader (leaderq.c): a value it built from its queue at the ballot it is
 * leaving was not decided there. A submitter of it (other than this party)
 * that a party refused a command of at that ballot, before or after this,
 * is held out: none of its commands is queued for a while. */
ENG_FN void eng_lq_failed(struct bpc_engine *e, const uint8_t *value, uint32_t len);
/* A well-formed batch for this config. */
ENG_FN bool eng_batch_ok(const struct bpc_engine *e, const uint8_t *value, uint32_t len);
/* bpc_batch_next for the paths that run once per ballot or per refusal
 * (eng_on_refuse, eng_lq_failed): one call site for them all, so that the
 * per-value paths keep bpc_batch_next inlined. */
ENG_FN int eng_batch_next_cold(const uint8_t *value, uint32_t len, uint32_t off,
                               struct bpc_command *cmd);
/* A command of a batch not proven its submitter's (eng_cmds_check). */
struct eng_unproven {
    uint32_t submitter; /* UINT32_MAX: none (or own) */
    uint64_t seq;
    bool missing; /* no MAC for it yet (else the MAC held does not match) */
    bool own;     /* an own command (seq) this party does not hold */
};
/* May submitter sub's command seq, unproven when a held value's check
 * stopped at it, be proven now: applied since (seq <= applied_hi, not
 * applied_before: its applied copy may prove it, eng_applied_copy), or,
 * an own command not submitted then (beyond), submitted since? With
 * beyond true for an own command: is it submitted or applied now? */
ENG_FN bool eng_cmd_may_prove(const struct bpc_engine *e, uint32_t sub, uint64_t seq, bool beyond,
                              bool applied_before);
/* Every command of the batch is its submitter's; counted (and the
 * ATTEST for the first that is not, in *bad, re-checks the values that
 * stop there: eng_held_stopped) when not. The first *proven commands were
 * proven before (not checked again); out: the count proven in order. */
ENG_FN bool eng_cmds_check(struct bpc_engine *e, const uint8_t *value, uint32_t len,
                           uint32_t proposer, struct eng_unproven *bad, uint32_t *proven);
/* The same check, neither counted nor waiting for ATTESTs. Both read
 * the value as a batch: it must be well-formed (eng_batch_ok) first. */
ENG_FN bool eng_cmds_proven(const struct bpc_engine *e, const uint8_t *value, uint32_t len,
                            uint32_t proposer, struct eng_unproven *bad);
/* The apply rule: a well-formed batch and which of its commands are
 * skipped (one pass over the value), and applying the others. */
ENG_FN bool eng_batch_mask(const struct bpc_engine *e, const uint8_t *value, uint32_t len,
                           uint64_t *mask);
ENG_FN void eng_apply_commands(struct bpc_engine *e, uint64_t instance, const uint8_t *value,
                               uint32_t len, uint64_t mask);
/* Queued FORWARD bytes in the own-command arena (outbox.c). */
ENG_FN bool eng_own_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *index);
ENG_FN bool eng_own_live(const struct bpc_engine *e, uint32_t index, uint64_t seq);
/* Writes into r (an ATTEST of the own commands from ring index `index`:
 * instance, value.len) each one's MAC for peer, leaving out those applied
 * since; sets instance and aux to the first kept. Returns how many it
 * kept (0: none left, nothing to send). */
ENG_FN uint32_t eng_attest_fill(const struct bpc_engine *e, uint32_t index, uint32_t peer,
                                struct bpc_record *r);
/* Commands wait: own, queued, or a peer's next one nobody applies. */
ENG_FN bool eng_sub_has_work(const struct bpc_engine *e);
/* The command next in line of submitter s that some party has shown
 * this one (a peer's witnessed command; this party's own oldest
 * unapplied one), 0 when none waits. */
ENG_FN uint64_t eng_sub_in_line(const struct bpc_engine *e, uint32_t s);
/* Is command q of submitter s still next in line (not applied)? */
ENG_FN bool eng_sub_waits(const struct bpc_engine *e, uint32_t s, uint64_t q);
/* Persist batch taken: the apply state is clean again. */
ENG_FN void eng_applied_clean(struct bpc_engine *e);
ENG_FN void eng_sub_restore_applied(struct bpc_engine *e, uint32_t submitter, uint64_t seq);
ENG_FN void eng_sub_restore_done(struct bpc_engine *e, uint64_t incarnation);
ENG_FN bool eng_sub_restore_begin(struct bpc_engine *e);
ENG_FN void eng_sub_restore_abort(struct bpc_engine *e);
ENG_FN void eng_sub_carve(struct bpc_engine *e, const struct eng_mem *m);

#endif /* BPC_SUBMIT_H */
