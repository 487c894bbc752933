/*
 * test_cover.c - one engine against scripted peers (fx.h): the ranges at
 * the current ballot, sorted by start with the weight below each (the
 * cover a view's range term reads), follow each range that moves in place
 * instead of being sorted again (tally.c, eng_cover_move), and a view
 * built from them weighs what a pass over every sender's range weighs.
 *
 * Method: the fixture of fx.h; qsort is wrapped and counted; views are
 * built with the engine's own eng_view and compared with a pass over the
 * senders' ranges (engine/src/core.h's e->ty). Must never: edit engine
 * state, or rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"
#include "prng.h"
#include "tally.h"
#include "window.h"

#include "fx.h"
#include "sorts.h"

/* Goal: a range lowered at the ballot over one held value after another
 * sorts nothing. The leader's junk 2a values for instances 0 to 31 are
 * held (no quorum of reports yet), a peer's range at the ballot starts
 * at 64 and falls by one a frame to 33: each frame changes one held
 * slot's view, which is examined again (the re-check reads the ranges).
 * Before, each move emptied the cover and that view sorted every range
 * again (review E3's probe_lower: 28 us a frame at 999 parties against
 * 0.12). */
static void
test_range_moves_sort_nothing(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint32_t p = fx_not_leader(f, fx_hold_junk(f, 32, NULL));
    fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, 64, 2, 0, NULL));
    fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, 31, 2, 0, NULL)); /* over held 31 */
    uint64_t s0 = test_sorts();
    uint64_t looked = f->e->hd.looked;
    for (uint64_t k = 1; k <= 31; k++) {
        fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, 31 - k, 2, 0, NULL));
    }
    uint64_t sorts = test_sorts() - s0;
    printf("  31 lowerings over held values: %llu held slots looked at, %llu sorts\n",
           (unsigned long long)(f->e->hd.looked - looked), (unsigned long long)sorts);
    assert_true(f->e->hd.looked - looked >= 31); /* the views were built */
    assert_int_equal(sorts, 0);
    for (uint32_t i = 0; i < 32; i++) {
        assert_true(fx_find(f, 0, BPC_MSG_2AV, i, 2) < 0); /* still held */
    }
    fx_delete(f);
}

/* The empty weight of instance i's view at ballot b, by a pass over the
 * senders: their empty 1b reports, and the ranges at b covering i of
 * those that sent no 1b there. */
static bpc_u128
cv_empty_each(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    uint64_t b = s->gen[g].ballot;
    uint64_t i = eng_slot_instance(s);
    const uint64_t *seen = eng_slot_bits(e, s, g, SEEN_1B);
    bpc_u128 w = s->gen[g].t.w_1b_empty;
    for (uint32_t p = 0; p < e->n; p++) {
        bool sent = (seen[p / 64] >> (p % 64) & 1u) != 0;
        if (!sent && e->ty.range_bal[p] == b && e->ty.range_from[p] <= i) {
            w += e->cfg.weights[p];
        }
    }
    return w;
}

/* Goal: the cover stays exact under any order of moves. 24 parties; at
 * ballot b each step one peer sends a range (a new one, a lower one, a
 * raise the engine keeps out, or, from one of four peers, one at the
 * next ballot, which leaves b's cover) or an empty 1b for an instance;
 * after each, every slot's view at b weighs what a pass over the senders
 * weighs. */
static void
test_cover_follows_random_moves(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(32, 256, 24);
    uint64_t b = fx_own_ballot(f);
    for (uint32_t i = 0; i < 16; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 20, NULL));
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
    struct bpc_prng r;
    bpc_prng_seed(&r, 11);
    uint32_t checked = 0;
    for (uint32_t step = 0; step < 600; step++) {
        uint32_t p = fx_other(f, (uint32_t)(bpc_prng_next(&r) % (f->n - 1u)));
        uint64_t at = bpc_prng_next(&r) % 40u;
        uint32_t kind = (uint32_t)(bpc_prng_next(&r) % 8u);
        if (kind == 0) { /* four peers alone, too few to move the engine */
            uint32_t q = fx_other(f, 16u + (uint32_t)(at % 4u));
            fx_send1(f, q, bpc_record_make(BPC_MSG_1B_RANGE, at, b + 1, 0, NULL));
        } else if (kind == 1) {
            fx_send1(f, p, bpc_record_make(BPC_MSG_1B, at % 32u, b, 0, NULL));
        } else {
            fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, at, b, 0, NULL));
        }
        assert_int_equal(bpc_engine_ballot(f->e), b);
        for (uint64_t i = 0; i < 32; i++) {
            struct eng_slot *s = eng_slot_get(f->e, i);
            int g = s != NULL ? eng_gen_of(s, b) : -1;
            if (g < 0) {
                continue;
            }
            struct bpc_safe_view v;
            eng_view(f->e, s, (uint32_t)g, &v);
            assert_true(v.empty_weight == cv_empty_each(f->e, s, (uint32_t)g));
            checked++;
        }
    }
    printf("  views checked: %u\n", checked);
    assert_true(checked > 1000);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_moves_sort_nothing),
        cmocka_unit_test(test_cover_follows_random_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
