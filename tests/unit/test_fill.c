/*
 * test_fill.c - one engine against scripted peers (fx.h): when a new
 * leader fills instances with no-ops. A leader with nothing to propose
 * fills an instance whose value is free only when it lies below one
 * whose reported votes could pin a value: reports of votes weighing more
 * than F (docs/ENGINE.md, "Filling gaps with no-ops").
 *
 * Method: the fixture of fx.h (party `me` of four, weight 1 each, F = 1,
 * stepped directly; the other three parties are the test). `me` leads
 * ballot b; two peers report every instance empty (with `me`, a quorum,
 * so every value is free), the third reports junk votes. Must never:
 * edit engine state, or rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "bpcon.h"
#include "internal.h"

#include "fx.h"

#define FILL_SPAN 10u /* instances the junk reports cover */

/* The engine (window 16) about to lead ballot b; x, y, z the peers. */
struct fill_set {
    struct fx *f;
    uint64_t b;
    uint32_t x, y, z;
};

static void
fill_start(struct fill_set *t)
{
    t->f = fx_new(16, 256);
    t->b = fx_own_ballot(t->f);
    t->x = fx_other(t->f, 0);
    t->y = fx_other(t->f, 1);
    t->z = fx_other(t->f, 2);
}

/* Party `from`'s 1b at b: a vote at b - 1 for junk at each instance of
 * [lo, hi). */
static void
fill_junk_reports(struct fx *f, uint32_t from, uint64_t b, uint64_t lo, uint64_t hi)
{
    struct bpc_record r[FILL_SPAN];
    uint32_t n = 0;
    for (uint64_t i = lo; i < hi; i++) {
        struct bpc_vid j = fx_junk_vid(from * 64 + (uint32_t)i);
        r[n++] = bpc_record_make(BPC_MSG_1B, i, b, b - 1, &j);
    }
    fx_send(f, from, r, n);
}

/* How many of instances [0, FILL_SPAN) the engine proposed a no-op for
 * at b, from record `mark` on. */
static uint32_t
fill_noops(const struct fx *f, uint32_t mark, uint64_t b)
{
    uint32_t noops = 0;
    for (uint64_t i = 0; i < FILL_SPAN; i++) {
        int k = fx_find(f, mark, BPC_MSG_2A, i, b);
        if (k >= 0 && f->sent[k].value.kind == BPC_VALUE_NOOP) {
            noops++;
        }
    }
    return noops;
}

/* Goal: one Byzantine party (weight 1 = F) reporting junk votes across
 * the window makes the leader propose nothing. Every value is free at b
 * (three empty reports weigh T), and the junk can never be picked (a
 * value needs reports above F): before, any reported vote made the leader
 * fill every instance below it with a no-op, so a party of any weight
 * reporting the window at each ballot had every leader decide a window of
 * no-ops per report (`bpcon-sim --weights 100,1,2,3,4 --byz 1:claimfill
 * --byz 4:claimfill ... --seed 507`: the heavy party decided 41,168
 * instances for 600 and the light ones fell past its log for good). */
static void
test_reports_of_f_fill_nothing(void **state)
{
    (void)state;
    struct fill_set t;
    fill_start(&t);
    struct fx *f = t.f;
    uint64_t b = t.b;
    uint32_t z = t.z;
    fx_send1(f, t.x, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    uint32_t mark = f->sent_count;
    fx_send1(f, t.y, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_int_equal(bpc_engine_leader(f->e), (int)f->me);
    for (uint32_t round = 0; round < 3; round++) {
        fill_junk_reports(f, z, b, 0, FILL_SPAN);
        f->now += 5 * FX_MS;
        fx_step(f, NULL, 0);
    }
    uint32_t noops = fill_noops(f, mark, b);
    print_message("no-ops proposed for reports of weight F: %u\n", noops);
    assert_int_equal(noops, 0);
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    fx_delete(f);
}

/* Goal: reports of votes weighing more than F still make the leader fill
 * the instances below with no-ops, so the log can pass them (the vote
 * at the top may be one a correct party made). x reports a junk vote at
 * instance 5 (empty below it): weight 1 = F fills nothing; z's report
 * there too brings the votes to 2 > F, and instances 0..4, free, get
 * no-ops; 5 itself waits (neither junk value has reports above F, and
 * the empty reports there weigh 2 < T). */
static void
test_reports_above_f_fill_below(void **state)
{
    (void)state;
    struct fill_set t;
    fill_start(&t);
    struct fx *f = t.f;
    uint64_t b = t.b;
    uint32_t x = t.x;
    uint32_t z = t.z;
    fx_send1(f, t.y, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    struct bpc_record r[7];
    for (uint64_t i = 0; i < 5; i++) {
        r[i] = bpc_record_make(BPC_MSG_1B, i, b, 0, NULL);
    }
    struct bpc_vid jx = fx_junk_vid(1);
    r[5] = bpc_record_make(BPC_MSG_1B, 5, b, b - 1, &jx);
    r[6] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 6, NULL);
    uint32_t mark = f->sent_count;
    fx_send(f, x, r, 7);
    assert_int_equal(bpc_engine_ballot(f->e), b);
    f->now += 5 * FX_MS;
    fx_step(f, NULL, 0);
    uint32_t early = fill_noops(f, mark, b);
    print_message("no-ops proposed below a vote of weight 1: %u\n", early);
    assert_int_equal(early, 0);
    fill_junk_reports(f, z, b, 5, 6);
    f->now += 5 * FX_MS;
    fx_step(f, NULL, 0);
    uint32_t noops = fill_noops(f, mark, b);
    print_message("no-ops proposed below votes of weight 2: %u\n", noops);
    assert_int_equal(noops, 5);
    for (uint64_t i = 0; i < 5; i++) {
        assert_true(fx_find(f, mark, BPC_MSG_2A, i, b) >= 0);
    }
    assert_true(fx_find(f, mark, BPC_MSG_2A, 5, b) < 0);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_of_f_fill_nothing),
        cmocka_unit_test(test_reports_above_f_fill_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
