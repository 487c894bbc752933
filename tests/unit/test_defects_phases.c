/*
 * test_defects_phases.c - the origin's defects (test_defects.c) of phases,
 * leaders and timers: D9, a crash between a party's 2av and its 2b; D10,
 * one value per leader for each (ballot, instance); D11, skewed starts in
 * paced mode; D7, failed ballots retried, instances in flight, no waiting
 * on timers.
 *
 * Method: the in-process harness (tests/unit/harness.h) and the filter
 * helpers of defects_fx.h; a recording filter of every 2A and 2AV sent.
 * Each test opens with its goal and method. Must never: edit engine state
 * directly, sleep, or assert on timing.
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
 * D9, D10: crashes between phases; one value per leader.
 * ---------------------------------------------------------------------- */

/* D9. Goal: a crash between a party's 2av and its 2b does not block the
 * decision, and a 2b counts even when the sender's 2av never arrived.
 * Method: party C (not the leader) is marked down the moment it emits a
 * 2b (the frame is dropped), after its 2av went out; the 2av frames of a
 * third party Q to the leader are dropped, so the leader's 2b quorum
 * includes Q whose 2av it never saw. The three live parties decide with
 * no time passing. */
static void
test_defects_crash_between_2av_and_2b(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    struct td_ctx *c = td_ctx_new(h, TD_DROP_2B_FROM);
    c->isolated = (l1 + 1) % h->n;
    c->from2 = (l1 + 2) % h->n;
    c->keep = l1;
    c->watch_instance = 0;
    assert_int_equal(hn_submit(h, l1, 4, 1), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(c->crashed);
    assert_true(c->sent_2av_from[c->isolated] > 0);
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != c->isolated) {
            assert_true(td_logged(h, i, 0, 4, 1));
        }
    }
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* Every distinct 2A and 2AV sent: (type, sender, ballot, instance) ->
 * the first value; a later record naming another value is a mismatch. */
#define TD_SENT_MAX 8192u

struct td_sent {
    uint32_t count;
    uint32_t mismatches;
    uint8_t type[TD_SENT_MAX];
    uint32_t from[TD_SENT_MAX];
    uint64_t ballot[TD_SENT_MAX];
    uint64_t instance[TD_SENT_MAX];
    struct bpc_vid v[TD_SENT_MAX];
};

static const struct bpc_vid *
td_sent_value(const struct td_sent *s, uint8_t type, uint32_t from, uint64_t ballot,
              uint64_t instance)
{
    for (uint32_t k = 0; k < s->count; k++) {
        if (s->type[k] == type && s->from[k] == from && s->ballot[k] == ballot &&
            s->instance[k] == instance) {
            return &s->v[k];
        }
    }
    return NULL;
}

static bool
td_sent_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct td_sent *s = ctx;
    (void)to;
    struct bpc_frame_header hdr;
    int n = td_decode(bytes, len, &hdr);
    for (int k = 0; k < n; k++) {
        const struct bpc_record *r = &td_recs[k];
        if (r->type != BPC_MSG_2A && r->type != BPC_MSG_2AV) {
            continue;
        }
        const struct bpc_vid *seen = td_sent_value(s, r->type, from, r->ballot, r->instance);
        if (seen != NULL) {
            s->mismatches += !bpc_vid_eq(seen, &r->value);
            continue;
        }
        assert_true(s->count < TD_SENT_MAX);
        s->type[s->count] = r->type;
        s->from[s->count] = from;
        s->ballot[s->count] = r->ballot;
        s->instance[s->count] = r->instance;
        s->v[s->count] = r->value;
        s->count++;
    }
    return true;
}

/* D10. Goal: the leader sends one value per (ballot, instance) and keeps
 * the same: its own 2av and every decision at that ballot equal its 2a,
 * and no party ever counts an equivocation. Method: 12 commands at the
 * ballot-1 leader, which crashes once they are decided; 12 more at the
 * ballot-2 leader. Every 2A/2AV record is recorded from the queue and
 * checked against every log. */
static void
test_defects_leader_keeps_its_value(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    uint32_t l1 = td_leader(h, 1);
    uint32_t l2 = td_leader(h, 2);
    static struct td_sent sent;
    memset(&sent, 0, sizeof(sent));
    struct td_sent *s = &sent;
    h->filter = td_sent_filter;
    h->filter_ctx = s;
    for (uint64_t k = 0; k < 12; k++) {
        assert_int_equal(hn_submit(h, l1, 1, k), 0);
    }
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(td_has_all(h, l1, 1, 12));
    h->p[l1].down = true;
    hn_drop_all(h);
    struct td_cmd want[12];
    for (uint64_t k = 0; k < 12; k++) {
        assert_int_equal(hn_submit(h, l2, 2, k), 0);
        want[k] = (struct td_cmd){2, k};
    }
    assert_true(td_run_cmds(h, want, 12, 60000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == l1 || td_has_all(h, i, 1, 12));
    }
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->p[i].down) {
            continue;
        }
        for (uint32_t k = 0; k < h->p[i].log_count; k++) {
            uint64_t b = h->p[i].log_ballot[k];
            const struct bpc_vid *v2a = td_sent_value(s, BPC_MSG_2A, td_leader(h, b), b, k);
            assert_non_null(v2a);
            assert_true(bpc_vid_eq(v2a, &h->p[i].log[k]));
        }
    }
    for (uint32_t k = 0; k < s->count; k++) {
        if (s->type[k] == BPC_MSG_2A) {
            const struct bpc_vid *own =
                td_sent_value(s, BPC_MSG_2AV, s->from[k], s->ballot[k], s->instance[k]);
            assert_true(own == NULL || bpc_vid_eq(own, &s->v[k]));
        }
    }
    assert_int_equal(s->mismatches, 0);
    assert_int_equal(td_sum_equivocations(h), 0);
    assert_true(hn_agree(h));
    h->filter = NULL;
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D11: skewed starts in paced mode. D7: retried ballots, instances in
 * flight, no waiting on timers.
 * ---------------------------------------------------------------------- */

/* Starts the parties not in `late` now, runs `skew_ns` of time, then
 * starts the late ones (down until then, so nothing steps them). */
static void
td_start_skewed(struct hn *h, uint32_t late, uint64_t skew_ns)
{
    for (uint32_t i = 0; i < h->n; i++) {
        h->p[i].down = (late & (1u << i)) != 0;
        if (!h->p[i].down) {
            assert_int_equal(bpc_engine_start(h->p[i].e, h->now_ns), 0);
            hn_step(h, i, NULL, 0);
        }
    }
    for (uint64_t t = 0; t < skew_ns; t += TD_MS) {
        hn_tick(h, TD_MS);
        hn_deliver(h, UINT64_MAX);
    }
    for (uint32_t i = 0; i < h->n; i++) {
        if (late & (1u << i)) {
            h->p[i].down = false;
            assert_int_equal(bpc_engine_start(h->p[i].e, h->now_ns), 0);
            hn_step(h, i, NULL, 0);
        }
    }
}

/* D11. Goal: in paced mode a peer's message that arrives before the
 * receiver's own timer for that phase is kept, so parties started at
 * different times still decide. Method: two parties start 50 ms (then
 * 350 ms, beyond a whole phase gap) after the other two, the leader
 * among the early or the late ones; three commands decide everywhere. */
static void
test_defects_paced_skewed_start(void **state)
{
    (void)state;
    const uint64_t skews[] = {50 * TD_MS, 350 * TD_MS};
    const uint32_t lates[] = {0x3u, 0xcu};
    for (uint32_t s = 0; s < 2; s++) {
        for (uint32_t l = 0; l < 2; l++) {
            const uint64_t w[4] = {1, 1, 1, 1};
            struct hn *h = td_hn_new();
            hn_init(h, w, 4, BPC_MODE_PACED, 64);
            uint32_t l1 = td_leader(h, 1);
            for (uint64_t k = 0; k < 3; k++) {
                assert_int_equal(hn_submit(h, l1, 11, k), 0);
            }
            td_start_skewed(h, lates[l], skews[s]);
            const struct td_cmd want[3] = {{11, 0}, {11, 1}, {11, 2}};
            bool ok = td_run_cmds(h, want, 3, 60000 * TD_MS);
            assert_true(ok);
            for (uint32_t i = 0; i < h->n; i++) {
                assert_true(td_has_all(h, i, 11, 3));
            }
            assert_true(hn_agree(h));
            td_hn_free(h);
        }
    }
}

/* D7. Goal: a failed ballot is retried. Method: the ballot-1 leader is
 * down from the start; every party has a command queued (forwarded to the
 * dead leader first); the live parties move to later ballots until one
 * with a live leader decides all live parties' commands, every decision
 * at ballot >= 2. */
static void
test_defects_failed_ballot_retried(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    h->p[l1].down = true;
    struct td_cmd want[4];
    uint32_t nw = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(hn_submit(h, i, 6, i), 0);
        if (i != l1) {
            want[nw++] = (struct td_cmd){6, i};
        }
    }
    hn_start(h);
    assert_true(td_run_cmds(h, want, nw, 60000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != l1) {
            assert_true(h->p[i].log_ballot[0] >= 2);
            assert_true(bpc_engine_counters(h->p[i].e)->ballots_failed >= 1);
        }
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

/* D7. Goal: many instances are in flight at once and phases advance on
 * quorums, not timers. Method: window 64, 50 commands at the leader; with
 * no virtual time passing at all, every party decides all 50, in order, in
 * ballot 1 (one ballot for fifty instances). */
static void
test_defects_instances_in_flight(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    for (uint64_t k = 0; k < 50; k++) {
        assert_int_equal(hn_submit(h, l1, 8, k), 0);
    }
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_int_equal(h->now_ns, 0);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, 50);
        for (uint32_t k = 0; k < 50; k++) {
            assert_true(td_logged(h, i, k, 8, k));
            assert_int_equal(h->p[i].log_ballot[k], 1);
        }
        assert_int_equal(bpc_engine_counters(h->p[i].e)->ballots_started, 1);
        assert_int_equal(bpc_engine_next_undecided(h->p[i].e), 50);
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defects_crash_between_2av_and_2b, td_teardown),
        cmocka_unit_test_teardown(test_defects_leader_keeps_its_value, td_teardown),
        cmocka_unit_test_teardown(test_defects_paced_skewed_start, td_teardown),
        cmocka_unit_test_teardown(test_defects_failed_ballot_retried, td_teardown),
        cmocka_unit_test_teardown(test_defects_instances_in_flight, td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
