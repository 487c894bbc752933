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

static uint64_t
absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* Two processes whose estimates differ by one 10 MHz step: their raw
 * clocks disagree by uptime / 245 (about 121 s after 8 h), their reported
 * timestamps of the same instant by no more than the test's own delays. */
static void
test_reported_time_ignores_tsc_estimate(void **state)
{
    (void)state;
    const uint64_t tol = 20000000u; /* 20 ms: the calls in between, a preemption */
    calibrate(2440000000u);
    dp_clock_anchor();
    uint64_t a = dp_mono_ns(bpc_dp_now_ns());
    uint64_t ma = dp_mono_now_ns();
    calibrate(2450000000u);
    dp_clock_anchor();
    uint64_t b = dp_mono_ns(bpc_dp_now_ns());
    uint64_t mb = dp_mono_now_ns();
    assert_true(absdiff(a, ma) < tol);
    assert_true(absdiff(b, mb) < tol);
    assert_true(absdiff(a, b) < tol);
}

/* A reading taken before the anchor maps to before it (signed offset). */
static void
test_reading_before_anchor(void **state)
{
    (void)state;
    calibrate(2445000000u);
    uint64_t early = bpc_dp_now_ns();
    uint64_t m0 = dp_mono_now_ns();
    dp_clock_anchor();
    uint64_t at = dp_mono_ns(bpc_dp_now_ns());
    uint64_t e = dp_mono_ns(early);
    assert_true(e <= at);
    assert_true(absdiff(e, m0) < 20000000u);
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
