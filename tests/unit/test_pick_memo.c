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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiting_pick_ignores_unrelated_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
