/*
 * test_clock.c - timestamps that bpcon-node reports for the harness to
 * compare across processes (dp_clock_anchor, dp_mono_ns): each process
 * estimates the TSC rate itself (DPDK rounds it to 10 MHz), so the raw
 * bpc_dp_now_ns() of two nodes can be seconds apart; the reported values
 * must not depend on the estimate.
 */
#include "app.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* This process's clock as if it had estimated the TSC at hz. */
static void
calibrate(uint64_t hz)
{
    bpc_dp_clock_state.hz = hz;
    __extension__ typedef unsigned __int128 u128;
    bpc_dp_clock_state.mult = (uint64_t)(((u128)1000000000u << 32) / hz);
}

/* Slack for the rate error between the anchor and a reading (< 0.5 % of
 * the time between them, even across a long preemption). */
#define SLACK_NS 1000000u

/* x lies in [lo, hi] up to the slack: CLOCK_MONOTONIC read before and
 * after it, so a preemption anywhere only widens the bracket. */
static void
assert_within(uint64_t x, uint64_t lo, uint64_t hi)
{
    assert_true(x + SLACK_NS >= lo);
    assert_true(x <= hi + SLACK_NS);
}

/* Two processes whose estimates differ by one 10 MHz step: their raw
 * clocks disagree by uptime / 245 (about 121 s after 8 h); what each
 * reports for now is CLOCK_MONOTONIC now, whatever its estimate. */
static void
test_reported_time_ignores_tsc_estimate(void **state)
{
    (void)state;
    const uint64_t hz[] = {2440000000u, 2450000000u};
    for (size_t k = 0; k < sizeof(hz) / sizeof(hz[0]); k++) {
        calibrate(hz[k]);
        uint64_t lo = dp_mono_now_ns();
        dp_clock_anchor();
        uint64_t x = dp_mono_ns(bpc_dp_now_ns());
        uint64_t hi = dp_mono_now_ns();
        assert_within(x, lo, hi);
    }
}

/* A reading taken before the anchor maps to before it (signed offset). */
static void
test_reading_before_anchor(void **state)
{
    (void)state;
    calibrate(2445000000u);
    uint64_t lo = dp_mono_now_ns();
    uint64_t early = bpc_dp_now_ns();
    uint64_t hi = dp_mono_now_ns();
    dp_clock_anchor();
    uint64_t at = dp_mono_ns(bpc_dp_now_ns());
    uint64_t e = dp_mono_ns(early);
    assert_true(e <= at);
    assert_within(e, lo, hi);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reported_time_ignores_tsc_estimate),
        cmocka_unit_test(test_reading_before_anchor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
