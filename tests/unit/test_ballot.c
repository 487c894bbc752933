/*
 * test_ballot.c - one engine against scripted peers (fx.h): what a peer's
 * ballots cost the receiver (engine/src/ballot.c); and a lone party's
 * deadlines near the top of the clock.
 *
 * Method: the fixture of fx.h (party `me` of four, weight 1 each, F = 1),
 * linked with qsort wrapped (-Wl,--wrap=qsort) so the sorts the engine
 * makes are counted. Must never: edit engine state, or rely on timing
 * other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdlib.h>

#include "bpcon.h"
#include "internal.h"

#include "fx.h"
#include "sorts.h"

/* Goal: a peer that raises its ballot by one per record costs no sort
 * while the parties seen above the engine's ballot weigh F or less, and
 * the engine still joins the highest ballot that weight above F reached.
 * Method: peer A sends a frame of 21 STATUS records at ballots 2..22,
 * three times; then peer B reaches ballot 9 (A and B together weigh more
 * than F). Before, every record that raised A's ballot passed over the
 * parties and sorted them (63 sorts here; among 1,000 zero-weight
 * parties the review measured 591 us for one such frame). */
static void
test_rising_ballots_sort_nothing_below_quorum(void **state)
{
    (void)state;
    struct fx *f = fx_new(16, 256);
    uint32_t a = fx_other(f, 0);
    uint32_t b = fx_other(f, 1);
    uint64_t next = 2;
    uint64_t s0 = test_sorts();
    for (uint32_t frame = 0; frame < 3; frame++) {
        struct bpc_record recs[21];
        for (uint32_t k = 0; k < 21; k++) {
            recs[k] = bpc_record_make(BPC_MSG_STATUS, 0, next++, 0, NULL);
        }
        fx_send(f, a, recs, 21);
    }
    print_message("ballot of A %llu: %llu sorts\n", (unsigned long long)(next - 1),
                  (unsigned long long)(test_sorts() - s0));
    assert_int_equal(test_sorts() - s0, 0);
    assert_int_equal(bpc_engine_ballot(f->e), 1);
    fx_send1(f, b, bpc_record_make(BPC_MSG_STATUS, 0, 9, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 9); /* A (at 64) and B (at 9) */
    assert_int_equal(test_sorts() - s0, 1);
    fx_delete(f);
}

/* One party of weight 1, alone a quorum, in fast mode, started at t0 with
 * one command submitted; steps at t0, t0 + 1 us, ... (8 steps), persisting
 * each step's records. Returns the ballot after each step in bal[] and
 * whether the command was applied by the last. */
#define BALLOT_CLOCK_STEPS 8u

static bool
ballot_clock_run(uint64_t t0, uint64_t bal[BALLOT_CLOCK_STEPS])
{
    static uint8_t keys[1][BPC_KEY_BYTES];
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    char err[256];
    struct bpc_engine *e = NULL;
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(e, t0), 0);
    uint8_t cmd[40] = {1};
    uint64_t ticket = 0;
    assert_int_equal(bpc_submit(e, cmd, sizeof(cmd), &ticket), 0);
    static uint8_t bufs[8][1400];
    struct bpc_frame_out fo[8];
    for (int i = 0; i < 8; i++) {
        fo[i].bytes = bufs[i];
        fo[i].cap = sizeof(bufs[i]);
    }
    struct bpc_decision dec[16];
    for (uint32_t k = 0; k < BALLOT_CLOCK_STEPS; k++) {
        struct bpc_step_in in = {.now_ns = t0 + k * UINT64_C(1000)};
        struct bpc_step_out out = {
            .frames = fo, .frames_cap = 8, .decisions = dec, .decisions_cap = 16};
        assert_true(bpc_engine_step(e, &in, &out) >= 0);
        if (out.persist_count > 0) {
            bpc_engine_persisted(e);
        }
        bal[k] = bpc_engine_ballot(e);
    }
    bool done = bpc_ticket_done(e, ticket);
    bpc_engine_free(e);
    return done;
}

/* Goal: the engine's deadlines do not wrap near the top of the clock: a
 * party started at 0xffffffffffff0000 (65,536 ns below UINT64_MAX) stays
 * at ballot 1 and applies its command over steps 1 us apart, as one
 * started at 1000 does. Before, now + timeout wrapped (ballot.c, and
 * leaderq.c's holds, catchup.c's pacing), the 50 ms ballot deadline lay
 * in the past, and the party failed ballot after ballot: ballot 2 after
 * the first step, 3 after the second (review revK, /tmp/revK-repro/clock).
 * Method: the same run at both starts, the ballot read after each step. */
static void
test_deadlines_saturate_near_clock_top(void **state)
{
    (void)state;
    const uint64_t starts[] = {1000, UINT64_C(0xffffffffffff0000)};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        uint64_t bal[BALLOT_CLOCK_STEPS];
        bool done = ballot_clock_run(starts[i], bal);
        print_message("start %#llx: ballots %llu %llu %llu %llu %llu %llu %llu %llu, applied %d\n",
                      (unsigned long long)starts[i], (unsigned long long)bal[0],
                      (unsigned long long)bal[1], (unsigned long long)bal[2],
                      (unsigned long long)bal[3], (unsigned long long)bal[4],
                      (unsigned long long)bal[5], (unsigned long long)bal[6],
                      (unsigned long long)bal[7], done);
        for (uint32_t k = 0; k < BALLOT_CLOCK_STEPS; k++) {
            assert_int_equal(bal[k], 1);
        }
        assert_true(done);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rising_ballots_sort_nothing_below_quorum),
        cmocka_unit_test(test_deadlines_saturate_near_clock_top),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
