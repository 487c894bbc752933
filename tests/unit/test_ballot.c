/*
 * test_ballot.c - one engine against scripted peers (fx.h): what a peer's
 * ballots cost the receiver (engine/src/ballot.c).
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

void __real_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void __wrap_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

static uint64_t sorts;

void
__wrap_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    sorts++;
    __real_qsort(base, n, size, cmp);
}

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
    sorts = 0;
    for (uint32_t frame = 0; frame < 3; frame++) {
        struct bpc_record recs[21];
        for (uint32_t k = 0; k < 21; k++) {
            recs[k] = bpc_record_make(BPC_MSG_STATUS, 0, next++, 0, NULL);
        }
        fx_send(f, a, recs, 21);
    }
    print_message("ballot of A %llu: %llu sorts\n", (unsigned long long)(next - 1),
                  (unsigned long long)sorts);
    assert_int_equal(sorts, 0);
    assert_int_equal(bpc_engine_ballot(f->e), 1);
    fx_send1(f, b, bpc_record_make(BPC_MSG_STATUS, 0, 9, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 9); /* A (at 64) and B (at 9) */
    assert_int_equal(sorts, 1);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rising_ballots_sort_nothing_below_quorum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
