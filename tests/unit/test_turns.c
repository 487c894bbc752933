/*
 * test_turns.c - the leader's fair batches (engine/src/leaderq.c) give a
 * submitter its turn and share wherever its commands lie in the queue,
 * however its sequence numbers jump.
 *
 * Method: the fixture of fx.h (party `me` of four leads; peers forward
 * commands with valid MACs and vote for its values); which value first
 * holds a submitter's command is read from the 2a records it sends.
 * Must never: edit engine state, or rely on timing other than the
 * virtual clock.
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

/* Bitmask of the submitters in the value of the leader's 2a at instance
 * i and ballot b (v: that value); false when there is no such 2a. */
static bool
turns_value(const struct fx *f, uint64_t i, uint64_t b, struct bpc_vid *v, uint32_t *subs)
{
    int k = fx_find(f, 0, BPC_MSG_2A, i, b);
    if (k < 0) {
        return false;
    }
    *v = f->sent[k].value;
    const uint8_t *bytes = v->kind == BPC_VALUE_INLINE ? v->id : f->sent[k].value_bytes;
    struct bpc_command c;
    int off = 0;
    *subs = 0;
    while ((off = bpc_batch_next(bytes, v->len, (uint32_t)off, &c)) > 0) {
        *subs |= 1u << c.submitter;
    }
    return true;
}

/* Goal: a submitter whose first command lies past the 512 queue entries a
 * batch walks still gets its turn. commands_max 2048, batch_max 4: peer B
 * forwards 1,216 commands first (up to half the queue is taken before the
 * share rule applies), then peer S forwards one; instance by instance the
 * peers vote for the leader's values. Before, S's command waited for
 * B's entries ahead of it to drop below 512: first proposed in value 161
 * (the Byzantine review's repro_lq_scan); now in the first value built
 * after the 32 already in flight. */
static void
test_late_submitter_gets_its_turn(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    f->cfg.commands_max = 2048;
    f->cfg.batch_max = 4;
    fx_restart(f);
    uint64_t b = fx_to_own_ballot(f);
    uint32_t bp = fx_other(f, 0);
    uint32_t sp = fx_other(f, 1);
    uint32_t vp = fx_other(f, 2);
    for (uint64_t q = 1; q <= 2048 / 2 + 32 * 4 + 64; q++) {
        fx_forward(f, bp, q, b, 0xB0);
    }
    fx_forward(f, sp, 1, b, 0x5A);
    uint64_t i = 0;
    for (; i < 400; i++) {
        struct bpc_vid v;
        uint32_t subs = 0;
        assert_true(turns_value(f, i, b, &v, &subs));
        if (subs & (1u << sp)) {
            break;
        }
        uint32_t voters[2] = {bp, vp};
        for (uint32_t k = 0; k < 2; k++) {
            fx_send1(f, voters[k], bpc_record_make(BPC_MSG_2AV, i, b, 0, &v));
            fx_send1(f, voters[k], bpc_record_make(BPC_MSG_2B, i, b, 0, &v));
        }
    }
    print_message("the late submitter's command first proposed in value %llu\n",
                  (unsigned long long)i);
    assert_true(i <= 33);
    fx_delete(f);
}

/* Goal: a submitter cannot pass its share of the leader's queue by
 * numbering each command as the first of a new incarnation ((k << 40) | 1
 * for k = 1, 2, ...: each follows the last). Peer p forwards 128 such
 * commands, then 8 more after each decided instance; peer q forwards one
 * command and resends it after each instance, as its retransmit tick
 * would. Before, the leader counted p's held commands from the newest
 * incarnation's first (always 1), p's commands filled the queue, q's
 * FORWARD was refused and none of 40 values held it (the Byzantine
 * review's lq_incarnation); now a later incarnation waits until what
 * the leader queued of p is applied, and q's command is in value 1. */
static void
test_incarnation_jumps_keep_to_share(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint64_t b = fx_to_own_ballot(f);
    uint32_t p = fx_other(f, 0);
    uint32_t q = fx_other(f, 1);
    uint32_t vp = fx_other(f, 2);
    uint64_t k = 1;
    for (; k <= 128; k++) {
        fx_forward(f, p, (k << 40) | 1u, b, (uint8_t)k);
    }
    fx_forward(f, q, 1, b, 0x7E);
    uint64_t i = 0;
    for (; i < 40; i++) {
        struct bpc_vid v;
        uint32_t subs = 0;
        assert_true(turns_value(f, i, b, &v, &subs));
        if (subs & (1u << q)) {
            break;
        }
        uint32_t voters[2] = {p, vp};
        for (uint32_t j = 0; j < 2; j++) {
            fx_send1(f, voters[j], bpc_record_make(BPC_MSG_2AV, i, b, 0, &v));
            fx_send1(f, voters[j], bpc_record_make(BPC_MSG_2B, i, b, 0, &v));
        }
        for (uint32_t j = 0; j < 8; j++, k++) {
            fx_forward(f, p, (k << 40) | 1u, b, (uint8_t)k);
        }
        fx_forward(f, q, 1, b, 0x7E);
    }
    print_message("q's command first proposed in value %llu\n", (unsigned long long)i);
    assert_true(i <= 4);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_submitter_gets_its_turn),
        cmocka_unit_test(test_incarnation_jumps_keep_to_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
