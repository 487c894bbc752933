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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voting_party_logs_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
