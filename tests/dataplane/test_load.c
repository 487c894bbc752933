/*
 * test_load.c - the load generator's applied log (dataplane/tools/load.c),
 * without EAL.
 */
#include "app.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

/* Goal: a party that only votes (K = 0, --no-load) logs every command the
 * cluster applies, however many, and can always state its application
 * state at the floor. Fails on c627906: its log held K + n x window +
 * 4096 entries (4,352 here), dp_load_state_at then said -ENOSPC (the
 * party stopped: "persistence failed") and --log-out was cut short. */
static void
test_voting_party_logs_everything(void **state)
{
    (void)state;
    static struct dp_load l;
    struct dp_pace pace = {.window = 64};
    assert_int_equal(dp_load_init(&l, 3, 4, 0, &pace, 64, false), 0);
    uint8_t junk[8] = {0};
    const uint64_t n = 20000;
    for (uint64_t i = 0; i < n; i++) {
        dp_load_apply(&l, i, (uint32_t)(i % 3), i + 1, junk, sizeof(junk));
    }
    assert_int_equal(dp_load_held(&l), n);
    struct dp_app_state st;
    assert_int_equal(dp_load_state_at(&l, n, &st), 0);
    assert_int_equal(st.applied, n);
    assert_int_equal(st.last_instance, n - 1);
    assert_int_equal(dp_load_last(&l).instance, n - 1);
    dp_load_free(&l);
}

/* One load command of submitter `who`, number seq, stamped submit_ns, as
 * the load writes them (magic, submitter, seq, submit time, pattern). */
static void
cmd_make(uint8_t *v, uint32_t len, uint32_t who, uint64_t seq, uint64_t submit_ns)
{
    memset(v, 0, len);
    for (uint32_t i = 0; i < 4; i++) {
        v[i] = (uint8_t)(DP_CMD_MAGIC >> (8 * i));
    }
    v[4] = (uint8_t)who;
    v[5] = (uint8_t)(who >> 8);
    for (uint32_t i = 0; i < 8; i++) {
        v[8 + i] = (uint8_t)(seq >> (8 * i));
        v[16 + i] = (uint8_t)(submit_ns >> (8 * i));
    }
    for (uint32_t i = DP_CMD_BYTES_MIN; i < len; i++) {
        v[i] = (uint8_t)((seq * 31u + i) & 0xffu);
    }
}

/* Goal: a restarted node (it submits nothing) that applies commands its
 * earlier process submitted counts them as applied but takes no latency
 * sample from them: their submit times are another process's clock.
 * Before (review V1), each was a sample: a virtio run's p99 of 3.25 s
 * beside a load of 0.5 s. */
static void
test_restarted_node_samples_only_its_own(void **state)
{
    (void)state;
    bpc_dp_clock_state.mult = UINT64_C(1) << 32; /* now: the TSC itself, well past 1 ns */
    static struct dp_load l;
    struct dp_pace pace = {.window = 64};
    assert_int_equal(dp_load_init(&l, 2, 4, 100, &pace, 64, false), 0);
    uint8_t cmd[64];
    for (uint64_t seq = 0; seq < 10; seq++) {
        cmd_make(cmd, sizeof(cmd), 2, seq, 1); /* its earlier process's */
        dp_load_apply(&l, seq, 2, seq + 1, cmd, sizeof(cmd));
    }
    assert_int_equal(l.unique, 10);
    assert_int_equal(l.invalid, 0);
    assert_int_equal(l.hist.total, 0);
    dp_load_free(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voting_party_logs_everything),
        cmocka_unit_test(test_restarted_node_samples_only_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
