/*
 * test_forged.c - one engine against scripted peers (fx.h): a leader
 * cannot put bytes under a correct submitter's name: forged bytes, forged
 * incarnations, forged copies of commands already applied (the apply
 * rule skips those, but their bytes reach the application and the log),
 * of a peer's commands and of this party's own; real copies are voted for.
 *
 * Method: the fixture of fx.h (one engine, party `me` of four, stepped
 * directly; the other three parties are the test). Must never: edit
 * engine state, or rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <string.h>

#include "bpcon.h"
#include "internal.h"

#include "fx.h"

/* c's ATTEST at ballot 2 of its 8-byte command seq, the batch `value`'s
 * one command. */
static void
commands_attest(struct fx *f, uint32_t c, uint64_t seq, const uint8_t *value)
{
    fx_attest(f, c, seq, value + BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES, 8);
}

/* The leader's 2a for v at instance i, ballot 2: this party votes 2av for v. */
static void
commands_voted(struct fx *f, uint32_t leader, uint64_t i, const struct bpc_vid *v)
{
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, i, 2, 0, v));
    int k = fx_find(f, 0, BPC_MSG_2AV, i, 2);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, v));
}

/* Goal: a Byzantine leader cannot put its own bytes under a correct
 * submitter's (submitter, sequence) or open a forged incarnation: the
 * engine votes 2av only for a batch whose commands of other submitters
 * match the MAC each submitter sent it (ATTEST). Method: the leader of
 * ballot 2 proposes the victim's next command with forged bytes, then a
 * forged new incarnation; no 2av. The victim's ATTEST for its real bytes
 * arrives: the forged value still gets no 2av, the real one does. Fails
 * on 4307974, which voted for any well-formed batch. */
static void
test_forged_commands_get_no_vote(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t victim = fx_not_leader(f, leader);
    uint64_t seq = (UINT64_C(0) << 40) | 1;
    uint8_t real[64];
    uint8_t forged[64];
    uint8_t inc[64];
    struct bpc_vid vr;
    struct bpc_vid vf;
    struct bpc_vid vi;
    fx_batch(real, victim, seq, 8, 0x11, &vr);
    fx_batch(forged, victim, seq, 8, 0x66, &vf);
    fx_batch(inc, victim, (UINT64_C(1) << 40) | 1, 8, 0x66, &vi);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 0, 2, 0, &vf));
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 1, 2, 0, &vi));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 0) < 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 0) < 0);
    assert_true(bpc_engine_counters(f->e)->cmd_unauthenticated > 0);
    commands_attest(f, victim, seq, real); /* the victim attests its real command */
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 0) < 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 0) < 0);
    commands_voted(f, leader, 2, &vr); /* the real command, proposed for instance 2 */
    fx_delete(f);
}

/* This party submits its 8-byte command (bytes 0x22) and steps: its
 * ticket; *real and *forged the one-command values of that number with
 * its bytes and with other bytes (0x66). */
static uint64_t
commands_own(struct fx *f, struct bpc_vid *real, struct bpc_vid *forged)
{
    uint8_t cmd[8];
    memset(cmd, 0x22, sizeof(cmd));
    uint64_t ticket = 0;
    assert_int_equal(bpc_submit(f->e, cmd, sizeof(cmd), &ticket), 0);
    fx_step(f, NULL, 0);
    uint8_t bytes[64];
    fx_batch(bytes, f->me, ticket, 8, 0x22, real);
    fx_batch(bytes, f->me, ticket, 8, 0x66, forged);
    return ticket;
}

/* Goal: a command of this party's own submission is authentic only with
 * its own bytes: a leader that proposes other bytes under this party's
 * next sequence number gets no 2av, and the party's ticket is not done. */
static void
test_forged_own_command(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    struct bpc_vid vr;
    struct bpc_vid vf;
    uint64_t ticket = commands_own(f, &vr, &vf);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 0, 2, 0, &vf));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 0) < 0);
    assert_false(bpc_ticket_done(f->e, ticket));
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 1, 2, 0, &vr));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) >= 0);
    fx_delete(f);
}

/* The three peers' 2b votes at ballot 2 for v at instance i: decided. */
static void
commands_decide(struct fx *f, uint64_t i, const struct bpc_vid *v)
{
    for (uint32_t k = 0; k < f->n - 1; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, v));
    }
    assert_true(bpc_engine_next_undecided(f->e) > i);
}

/* Past a retransmit tick (where applied commands used to free values),
 * within the ballot: 30 ms of 1 ms steps, still at ballot 2. */
static void
commands_tick(struct fx *f)
{
    for (uint32_t ms = 0; ms < 30; ms++) {
        f->now += FX_MS;
        fx_step(f, NULL, 0);
    }
    assert_int_equal(bpc_engine_ballot(f->e), 2);
}

/* Goal: a command already applied needs its proof like any other: a
 * leader that proposes other bytes under a submitter's applied number
 * gets no 2av, past the tick that looks again; the same command with its
 * real bytes (a resubmission a new leader may propose) gets one. Before
 * (review A12), a command at or below its submitter's applied number
 * needed no proof: once the real one was applied, the forged value was
 * voted for, decided, and its bytes handed to the application and the
 * log under the correct submitter's name (skipped by the apply rule). */
static void
test_forged_applied_command_gets_no_vote(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    uint8_t real[64];
    uint8_t forged[64];
    struct bpc_vid vr;
    struct bpc_vid vf;
    fx_batch(real, c, 1, 8, 0x41, &vr);
    fx_batch(forged, c, 1, 8, 0x99, &vf);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 1, 2, 0, &vf));
    commands_attest(f, c, 1, real);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 0, 2, 0, &vr));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) >= 0);
    commands_decide(f, 0, &vr); /* c's command 1 is applied */
    assert_true(bpc_vid_eq(&f->dec[0], &vr));
    commands_tick(f);
    uint8_t other[64];
    struct bpc_vid vo;
    fx_batch(other, c, 2, 8, 0x07, &vo);
    commands_attest(f, c, 2, other); /* a MAC at another place: a re-check */
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    commands_voted(f, leader, 2, &vr);
    fx_delete(f);
}

/* Goal: the same for this party's own commands: once its command is
 * applied, other bytes under its number get no 2av, and its real bytes
 * (still in its list's storage) get one. Before (review A12), any bytes
 * under an applied own number were voted for. */
static void
test_forged_applied_own_command_gets_no_vote(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    struct bpc_vid vr;
    struct bpc_vid vf;
    uint64_t ticket = commands_own(f, &vr, &vf);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 0, 2, 0, &vr));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) >= 0);
    commands_decide(f, 0, &vr);
    assert_true(bpc_ticket_done(f->e, ticket));
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 1, 2, 0, &vf));
    commands_tick(f);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 2, 2, 0, &vr));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 2, 2) >= 0);
    fx_delete(f);
}

/* Goal: a real copy of an applied command is voted for while the decided
 * value it was applied from is in the recent-decision ring, also once a
 * later command of its MAC place (its number + 256: a submitter keeps up
 * to 256 commands out past its oldest unapplied one) has been applied:
 * what a correct leader that far behind proposes. Before (review A13's
 * F1), a place noted only the last command applied from it, and the copy
 * was held back (liveness only). */
static void
test_applied_copy_after_place_reused(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    uint8_t first[64];
    struct bpc_vid v1;
    fx_batch(first, c, 1, 8, 1, &v1);
    for (uint64_t seq = 1; seq <= 257; seq++) { /* 1 and 257 share a place */
        uint8_t bytes[64];
        struct bpc_vid v;
        fx_batch(bytes, c, seq, 8, (uint8_t)seq, &v);
        commands_attest(f, c, seq, bytes);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, seq - 1, 2, 0, &v));
        commands_decide(f, seq - 1, &v);
    }
    commands_voted(f, leader, 257, &v1);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_commands_get_no_vote),
        cmocka_unit_test(test_forged_own_command),
        cmocka_unit_test(test_forged_applied_command_gets_no_vote),
        cmocka_unit_test(test_forged_applied_own_command_gets_no_vote),
        cmocka_unit_test(test_applied_copy_after_place_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
