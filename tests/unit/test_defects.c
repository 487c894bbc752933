/*
 * test_defects.c - one engine-level test per defect of the origin (the
 * Rust crate bpcon 0.1.0: votes not remembered across ballots, no value
 * rule, unauthenticated senders, one instance at a time, fixed timers, and
 * so on; each test names the one it covers), showing the engine does not
 * repeat it.
 *
 * Goal: each defect that can be shown on the engine gets a scenario that
 * the origin would fail and the engine must pass (safety across ballots,
 * Byzantine leaders, zero weights, reordering, forged and malformed
 * frames, crashes between phases, leader equivocation, skewed starts,
 * retried ballots and instances in flight).
 *
 * Method: the in-process harness (tests/unit/harness.h) with a filter that
 * reads every queued frame (to drop, hold or record it), frames forged with
 * the wire encoder and a party's pair keys, and a Byzantine party modelled
 * as a down party whose identity the test speaks for. Each test opens with
 * its goal and method. Must never: edit engine state directly, sleep, or
 * assert on timing.
 *
 * Here: D1, D2, D3 (a chosen value survives later ballots) and D4
 * (zero-weight parties). The others are in test_defects_frames.c (D5
 * reordering; D6, D8 forged and malformed frames) and
 * test_defects_phases.c (D9, D10 crashes between phases and one value per
 * leader; D11 skewed starts; D7 retried ballots, instances in flight);
 * the helpers they share are in defects_fx.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "defects_fx.h"
#include "harness.h"
#include "internal.h"

/* ------------------------------------------------------------------------
 * D1, D2, D3: a chosen value survives later ballots.
 * ---------------------------------------------------------------------- */

/* Runs ballot 1 so that A = (0xA, 1) is chosen at instance 0 (2b sent by
 * L1, Y, Z) but only Z learns it, and the ballot-2 leader X saw nothing. */
static void
td_ballot1_chosen_unseen(struct hn *h, struct td_ctx *c, uint32_t *y, uint32_t *z)
{
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    *y = 0;
    while (*y == l1 || *y == x) {
        (*y)++;
    }
    *z = 0;
    while (*z == l1 || *z == x || *z == *y) {
        (*z)++;
    }
    c->isolated = x;
    c->keep = *z;
    c->watch_instance = 0;
    assert_int_equal(hn_submit(h, l1, 0xA, 1), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX); /* no time passes: ballot 1 only */
    assert_true(c->sent_2b_from[l1] > 0 && c->sent_2b_from[*y] > 0 && c->sent_2b_from[*z] > 0);
    assert_true(td_logged(h, *z, 0, 0xA, 1));
    assert_int_equal(h->p[l1].log_count, 0);
    assert_int_equal(h->p[*y].log_count, 0);
    assert_int_equal(h->p[x].log_count, 0);
}

/* D1/D2/D3. Goal: a value chosen in ballot 1 is the only one a later ballot
 * can choose, even when the later leader's own state shows no vote (D3) and
 * it holds another command. Method: A is chosen at instance 0 in ballot 1
 * but only Z decides; X, the ballot-2 leader with B = (0xB, 2) submitted,
 * was cut off during ballot 1; then L1 falls silent and Z's DECIDED
 * answers are lost until the others reach ballot 2, and time runs.
 * Every party decides A at instance 0, nobody ever votes B there, X learns
 * A in a ballot >= 2 (the later ballot re-chose it), and B is decided too. */
static void
test_defects_chosen_value_survives(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t x = td_leader(h, 2);
    assert_int_equal(hn_submit(h, x, 0xB, 2), 0);
    c->bad_tag = 0xB;
    c->bad_seq = 2;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    /* Ballot 1 needs no 1b, so X could still vote there and learn A at
     * ballot 1. Make the cluster move on instead: L1 falls silent and Z's
     * DECIDED answers are lost until X, Y and Z are at ballot 2. */
    uint32_t l1 = td_leader(h, 1);
    c->rule = TD_MUTE_FROM;
    c->isolated = l1;
    for (uint32_t k = 0; k < 400; k++) {
        hn_deliver(h, UINT64_MAX);
        if (bpc_engine_ballot(h->p[x].e) >= 2 && bpc_engine_ballot(h->p[y].e) >= 2 &&
            bpc_engine_ballot(h->p[z].e) >= 2) {
            break;
        }
        hn_tick(h, 5 * TD_MS);
    }
    c->rule = TD_PASS;
    const struct td_cmd want[2] = {{0xA, 1}, {0xB, 2}};
    assert_true(td_run_cmds(h, want, 2, 20000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(td_logged(h, i, 0, 0xA, 1));
        assert_true(bpc_engine_ballot(h->p[i].e) >= 2);
    }
    assert_true(h->p[x].log_ballot[0] >= 2);
    assert_int_equal(c->bad_votes, 0);
    assert_true(hn_agree(h));
    assert_int_equal(td_sum_equivocations(h), 0);
    td_ctx_free(c);
    td_hn_free(h);
}

/* The value identity a command is decided under (a one-command batch
 * submitted by `submitter` with engine sequence number `eseq`); only the
 * command bytes are compared in the tests, this is for forged frames. */
static struct bpc_vid
td_batch_vid(uint32_t submitter, uint64_t eseq, uint32_t tag, uint64_t seq)
{
    uint8_t v[BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + 16];
    memset(v, 0, sizeof(v));
    v[0] = 1; /* one command */
    uint8_t *c = v + BPC_BATCH_HEADER_BYTES;
    c[0] = (uint8_t)submitter;
    c[1] = (uint8_t)(submitter >> 8);
    c[2] = 16;
    for (int k = 0; k < 8; k++) {
        c[4 + k] = (uint8_t)(eseq >> (8 * k));
    }
    memcpy(c + BPC_BATCH_CMD_HEADER_BYTES, &tag, sizeof(tag));
    memcpy(c + BPC_BATCH_CMD_HEADER_BYTES + 8, &seq, sizeof(seq));
    struct bpc_vid vid;
    bpc_vid_of(&vid, v, sizeof(v));
    return vid;
}

/* Forged frame from the Byzantine X to `to`: it claims a 2b for B at
 * ballot 1 on instance 0, opens ballot 2 and proposes B there. */
static void
td_forge_byzantine_b(struct hn *h, uint32_t x, uint32_t to, uint64_t seq)
{
    struct bpc_vid b = td_batch_vid(x, 1, 0xB, 2);
    struct bpc_record recs[5];
    recs[0] = bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL);
    recs[1] = bpc_record_make(BPC_MSG_1B, 0, 2, 1, &b);
    recs[1].hist_count = 1;
    recs[2] = bpc_record_make(BPC_MSG_1B_HIST, 0, 2, 1, &b);
    recs[3] = bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 1, NULL);
    recs[4] = bpc_record_make(BPC_MSG_2A, 0, 2, 0, &b);
    static struct td_frame f;
    td_forge(&f, h, x, to, recs, 5, seq, h->p[x].keys[to]);
    td_inject(h, to, f.bytes, f.len);
}

/* D1/D2 with a Byzantine leader. Goal: a ballot-2 leader that lies in its
 * 1b and proposes another value B for a chosen instance gets no 2av for
 * B. Method: X (leader of ballot 2) is down and the test speaks for it;
 * A is chosen in ballot 1 with only Z deciding; once the others are in
 * ballot 2, X's forged 1a/1b/2a for B reach everyone. No correct party
 * votes B, nobody decides B, and later ballots decide A everywhere. */
static void
test_defects_byzantine_leader_value(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    h->p[x].down = true;
    c->bad_tag = 0xB;
    c->bad_seq = 2;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    c->rule = TD_PASS;
    for (int k = 0;
         k < 1000 && (bpc_engine_ballot(h->p[l1].e) < 2 || bpc_engine_ballot(h->p[y].e) < 2); k++) {
        hn_tick(h, TD_MS);
        hn_deliver(h, UINT64_MAX);
    }
    assert_int_equal(bpc_engine_ballot(h->p[l1].e), 2);
    uint64_t seq = TD_FORGED_SEQ;
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x) {
            td_forge_byzantine_b(h, x, i, seq++);
        }
    }
    hn_deliver(h, UINT64_MAX);
    const struct td_cmd want[1] = {{0xA, 1}};
    bool done = td_run_cmds(h, want, 1, 60000 * TD_MS);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == x || td_find(h, i, 0xB, 2) < 0);
    }
    assert_int_equal(c->bad_votes, 0);
    assert_true(hn_agree(h));
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x && h->p[i].log_count == 0) {
            print_error("party %u: ballot %" PRIu64 ", nothing decided (liveness)\n", i,
                        bpc_engine_ballot(h->p[i].e));
        }
    }
    assert_true(done);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == x || td_logged(h, i, 0, 0xA, 1));
    }
    td_ctx_free(c);
    td_hn_free(h);
}

/* Catch-up (docs/ENGINE.md, "Catch-up"). Goal: a decision that
 * only one correct party learned still reaches the other correct parties
 * when one party has crashed (faulty weight F = 1 of 4). Method: as in the
 * tests above, A is chosen in ballot 1 with only Z deciding, and X (the
 * ballot-2 leader) is down from the start. L1 and Y must decide A: by a
 * later ballot (a quorum needs Z's 1b for instance 0) or from Z's vote. */
static void
test_defects_single_decider_catch_up(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t x = td_leader(h, 2);
    h->p[x].down = true;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    c->rule = TD_PASS;
    const struct td_cmd want[1] = {{0xA, 1}};
    bool done = td_run_cmds(h, want, 1, 60000 * TD_MS);
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x && h->p[i].log_count == 0) {
            print_error("party %u: ballot %" PRIu64 ", nothing decided (liveness)\n", i,
                        bpc_engine_ballot(h->p[i].e));
        }
    }
    assert_true(done);
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* D1 (late messages). Goal: ballot-1 messages delivered after ballot 2
 * decided cannot decide a second value. Method: every frame carrying a
 * 2a/2av/2b of ballot 1 to two parties Q, R is held, so ballot-1 values
 * gather 2av from two parties only and nothing is chosen in ballot 1;
 * later ballots decide; the held frames are then delivered as fresh
 * frames. Logs do not change, and some held frames were accepted (not all
 * lost to the replay window). */
static void
test_defects_late_ballot1_frames(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    struct td_ctx *c = td_ctx_new(h, TD_B1_HOLD);
    for (uint32_t i = 0; i < h->n; i++) {
        c->mask |= (i != l1 && i != x) ? 1u << i : 0u;
    }
    assert_int_equal(hn_submit(h, l1, 0xA, 1), 0);
    assert_int_equal(hn_submit(h, x, 0xB, 2), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(c->held_count > 0);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, 0);
    }
    /* Ballot-1 retransmissions to Q and R stay held too. */
    const struct td_cmd want[2] = {{0xA, 1}, {0xB, 2}};
    assert_true(td_run_cmds(h, want, 2, 20000 * TD_MS));
    c->rule = TD_PASS;
    uint32_t logs[BPC_PARTIES_MAX];
    struct bpc_vid first[BPC_PARTIES_MAX];
    uint64_t rx = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(h->p[i].log_ballot[0] >= 2);
        logs[i] = h->p[i].log_count;
        first[i] = h->p[i].log[0];
        rx += bpc_engine_counters(h->p[i].e)->frames_rx;
    }
    for (uint32_t k = 0; k < c->held_count; k++) {
        td_inject(h, c->held[k].to, c->held[k].bytes, c->held[k].len);
    }
    hn_deliver(h, UINT64_MAX);
    uint64_t rx_after = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, logs[i]);
        assert_true(bpc_vid_eq(&h->p[i].log[0], &first[i]));
        rx_after += bpc_engine_counters(h->p[i].e)->frames_rx;
    }
    assert_true(rx_after > rx); /* some held frames were accepted and applied */
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D4: zero-weight parties.
 * ---------------------------------------------------------------------- */

/* D4. Goal: a zero-weight party is never leader, and a cluster that has
 * one still decides. Method: weights [0,1,1,1]: 10000 elections never
 * return 0; commands submitted at the leader and at party 0 (forwarded)
 * are decided at every party, party 0 too. */
static void
test_defects_zero_weight_never_leader(void **state)
{
    (void)state;
    const uint64_t w[4] = {0, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_config_digest(&h->p[0].cfg, d);
    for (uint64_t ballot = 0; ballot < 10000; ballot++) {
        int l = bpc_elect_leader(&h->p[0].cfg, d, ballot);
        assert_true(l >= 1 && l <= 3);
    }
    uint32_t l1 = td_leader(h, 1);
    assert_int_equal(hn_submit(h, l1, 7, 1), 0);
    assert_int_equal(hn_submit(h, 0, 7, 2), 0);
    hn_start(h);
    const struct td_cmd want[2] = {{7, 1}, {7, 2}};
    assert_true(td_run_cmds(h, want, 2, 5000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(bpc_engine_leader(h->p[i].e) != 0);
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defects_chosen_value_survives, td_teardown),
        cmocka_unit_test_teardown(test_defects_byzantine_leader_value, td_teardown),
        cmocka_unit_test_teardown(test_defects_single_decider_catch_up, td_teardown),
        cmocka_unit_test_teardown(test_defects_late_ballot1_frames, td_teardown),
        cmocka_unit_test_teardown(test_defects_zero_weight_never_leader, td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
