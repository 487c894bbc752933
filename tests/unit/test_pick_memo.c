/*
 * test_pick_memo.c - a leader whose value pick found nothing safe judges
 * its view again only when a view at its ballot changed inside the window
 * (instance.c, eng_pick_value; tally.c, view_epoch).
 *
 * Goal: frames that cannot change the waiting instance's view (the same
 * range again, a range moved far above the window, empty 1b reports at
 * other ballots) cost the leader no new pick; the pick still waits.
 * Method: the fixture of fx.h with 32 parties of weight 1 (F = 10), the
 * engine leading its own ballot; qsort is wrapped and counted (a pick
 * sorts the reported values and, after a range moved, the ranges). Must
 * never: edit engine state, or rely on timing other than the virtual
 * clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>

#include "bpcon.h"
#include "internal.h"

#include "fx.h"
#include "sorts.h"

/* Peers of weight 11 (> F) join the engine's ballot b with ranges from
 * instance 1, so nobody but the engine covers instance 0 and its pick
 * there waits. Returns the next peer, which sent nothing. */
static uint32_t
pm_wait_at_zero(struct fx *f, uint64_t b)
{
    uint32_t sent = 0;
    uint32_t byz = UINT32_MAX;
    for (uint32_t p = 0; p < f->n; p++) {
        if (p == f->me) {
            continue;
        }
        if (sent < 11) {
            fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL));
            sent++;
        } else if (byz == UINT32_MAX) {
            byz = p;
        }
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* waiting at instance 0 */
    return byz;
}

/* Goal: see the file's. Peers of weight 11 (> F) join the engine's ballot
 * with ranges from instance 1, so nobody but the engine covers instance
 * 0 and its pick there waits. Then a peer sends 200 one-record frames of
 * each kind. Before the memo (7988286) every frame judged the view again;
 * before the count moved only for changes inside the window at the
 * ballot: "0x258 != 0" (600 sorts for the ranges lowered far above the
 * window; own review's test_probe_memo). */
static void
test_waiting_pick_ignores_unrelated_frames(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(64, 256, 32);
    uint64_t b = fx_own_ballot(f);
    uint32_t byz = pm_wait_at_zero(f, b);
    fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, UINT64_MAX - 2, b, 0, NULL));
    uint64_t s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) { /* the same range again */
        fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, UINT64_MAX - 2, b, 0, NULL));
    }
    uint64_t same = test_sorts() - s0;
    s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) { /* lowered by one each, far above the window */
        fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, UINT64_MAX - 3 - k, b, 0, NULL));
    }
    uint64_t lowered = test_sorts() - s0;
    s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) { /* empty 1b reports at rising future ballots */
        fx_send1(f, byz, bpc_record_make(BPC_MSG_1B, 1 + (k % 60), b + 1 + k, 0, NULL));
    }
    uint64_t future = test_sorts() - s0;
    printf("  sorts for 200 frames each: same range %llu, range far above %llu, "
           "1b at other ballots %llu\n",
           (unsigned long long)same, (unsigned long long)lowered, (unsigned long long)future);
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* still waiting */
    assert_int_equal(same, 0);
    assert_int_equal(lowered, 0);
    assert_int_equal(future, 0);
    fx_delete(f);
}

#define PM_N 16u   /* parties (F = 5) */
#define PM_W 8192u /* window: 2W x 16 is past the pool's 65536 cap */
#define PM_FILL 8u /* senders whose reports at every instance fill the pool */
/* 256 + 2n + min(2W x min(n, 16), 65536) (layout.c) */
#define PM_POOL (256u + 2u * PM_N + 65536u)

/* p's non-empty 1b reports (a vote at ballot 1 for a junk value of its
 * own, no history: vouched by nobody) at ballot b for [lo, hi). */
static void
pm_reports(struct fx *f, uint32_t p, uint64_t b, uint64_t lo, uint64_t hi)
{
    struct bpc_vid v = fx_junk_vid(p + 1u);
    struct bpc_record recs[21];
    for (uint64_t i = lo; i < hi; i += 21) {
        uint32_t c = 0;
        for (; c < 21 && i + c < hi; c++) {
            recs[c] = bpc_record_make(BPC_MSG_1B, i + c, b, 1, &v);
        }
        fx_send(f, p, recs, c);
    }
}

/* Goal: 1b reports the full claim pool refuses change no view, so they
 * cost a leader whose pick waits no new pick. Six parties (weight 6 > F)
 * join the engine's ballot with empty ranges, nine report junk votes
 * across the window until the pool is full with one instance left
 * unreported by a filler, whose report there (it holds the top share) is
 * then refused, 200 times. Before, the view count moved before the pool's
 * refusal, and the leader judged its view again at every such frame
 * (review E2's probe_pick: 26.7 us a frame at 999 parties against 0.11). */
static void
test_refused_reports_leave_the_pick_alone(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(PM_W, 256, PM_N);
    uint64_t b = fx_own_ballot(f);
    for (uint32_t i = PM_FILL + 1u; i < PM_N - 1u; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    pm_reports(f, fx_other(f, PM_FILL), b, 0, PM_POOL - PM_FILL * PM_W + 1u);
    for (uint32_t k = 0; k < PM_FILL; k++) {
        pm_reports(f, fx_other(f, k), b, 0, k == 0 ? PM_W - 1u : PM_W);
    }
    assert_int_equal(ctr->tally_overflow, 0);         /* full, nothing refused yet */
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* waiting at instance 0 */
    uint64_t overflow = ctr->tally_overflow;
    uint64_t s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) {
        pm_reports(f, fx_other(f, 0), b, PM_W - 1u, PM_W);
    }
    uint64_t sorts = test_sorts() - s0;
    printf("  200 refused reports: %llu refusals, %llu sorts\n",
           (unsigned long long)(ctr->tally_overflow - overflow), (unsigned long long)sorts);
    assert_int_equal(ctr->tally_overflow - overflow, 200);
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* still waiting */
    assert_int_equal(sorts, 0);
    fx_delete(f);
}

/* Goal: the memo keys on the waiting instance's own view, and a range
 * moved at the ballot updates the sorted ranges in place. As in the
 * first test the pick waits at instance 0 (window 256); a peer then sends
 * 200 empty 1b reports at the ballot for instances 1 to 200, and lowers
 * its range at the ballot by one instance a frame from 240 to 41 (never
 * over instance 0). Neither changes instance 0's view: no pick, no sort.
 * Its range lowered to 0 then does, and the pick is judged again. Before,
 * the view count was one for every instance: each frame of either kind
 * cost a pick (a sort of the reported values) and each lowering a sort of
 * every range as well (review E3's probe_epoch and probe_lower: 148-188
 * us and 28 us a frame at 999 parties, against 0.12). */
static void
test_waiting_pick_ignores_other_instances(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(256, 256, 32);
    uint64_t b = fx_own_ballot(f);
    uint32_t byz = pm_wait_at_zero(f, b);
    uint64_t s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) { /* empty 1b reports for other instances */
        fx_send1(f, byz, bpc_record_make(BPC_MSG_1B, 1 + k, b, 0, NULL));
    }
    uint64_t others = test_sorts() - s0;
    fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, 241, b, 0, NULL));
    s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) { /* lowered by one each, inside the window */
        fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, 240 - k, b, 0, NULL));
    }
    uint64_t lowered = test_sorts() - s0;
    printf("  sorts for 200 frames each: 1b for other instances %llu, range lowered above "
           "the waiting instance %llu\n",
           (unsigned long long)others, (unsigned long long)lowered);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* still waiting */
    assert_int_equal(others, 0);
    assert_int_equal(lowered, 0);
    s0 = test_sorts();
    fx_send1(f, byz, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL)); /* now over instance 0 */
    assert_true(test_sorts() - s0 >= 1);                                /* judged again */
    fx_delete(f);
}

/* Goal: a pick that found a value whose bytes this party lacks is kept
 * too, and the value is proposed once its bytes come. Two peers (weight
 * 2 > F) report a vote for DIGEST value v, no VALUE record comes, and a
 * third peer sends its range again 200 times. Before, such a pick was not
 * kept, so every step judged the view again (review E3's probe_epoch:
 * 53.8 us an ignored frame at 999 parties, against 0.11). */
static void
test_pick_without_bytes_is_kept(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint64_t b = fx_own_ballot(f);
    static uint8_t bytes[128];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 0), 1, 64, 0x5A, &v);
    fx_report_digest(f, b, &v);
    uint64_t s0 = test_sorts();
    for (uint32_t k = 0; k < 200; k++) {
        fx_send1(f, fx_other(f, 2), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    }
    uint64_t sorts = test_sorts() - s0;
    printf("  sorts for 200 ignored frames while the picked value's bytes are missing: %llu\n",
           (unsigned long long)sorts);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0);
    assert_int_equal(sorts, 0);
    fx_expect_fetched(f, b, &v, bytes);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiting_pick_ignores_unrelated_frames),
        cmocka_unit_test(test_refused_reports_leave_the_pick_alone),
        cmocka_unit_test(test_waiting_pick_ignores_other_instances),
        cmocka_unit_test(test_pick_without_bytes_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
