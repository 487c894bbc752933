/*
 * test_zero_weight.c - one engine against scripted peers (fx.h), one of
 * them of weight 0: no report of a zero-weight party makes the engine
 * re-examine a held 2a value or keep anything. Its ranges and empty 1b
 * reports weigh nothing and name nothing, and its other 1b reports are
 * kept nowhere, since a weight of 0 adds nothing to any sum a view is
 * judged by (docs/ENGINE.md, "Held 2a values" and "Room in a tally").
 *
 * Method: the fixture of fx.h (one engine, party `me` of five, stepped
 * directly; the other parties are the test), the zero-weight party set
 * in its configuration; the work is counted by the engine's
 * `recheck_visits` counter and the claim pool's counts, never timed.
 * Must never: edit engine state, or rely on timing other than the
 * virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"

#include "fx.h"

#define ZW_K 4u /* values held back */

/* Makes a party other than the ballot-2 leader weigh 0 (the engine
 * restarts with that config) and moves the engine to ballot 2 with the
 * other parties' ranges; returns the zero-weight party. */
static uint32_t
zw_party(struct fx *f)
{
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t z = fx_other(f, 3) != leader ? fx_other(f, 3) : fx_other(f, 2);
    f->cfg.weights[z] = 0;
    bpc_config_digest(&f->cfg, f->digest);
    fx_restart(f);
    leader = (uint32_t)fx_leader(f, 2);
    assert_true(leader != z && leader != f->me);
    for (uint32_t k = 0; k < f->n - 1; k++) {
        if (fx_other(f, k) != z) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
        }
    }
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    return z;
}

/* A peer that is neither the leader nor z. */
static uint32_t
zw_third(struct fx *f, uint32_t leader, uint32_t z)
{
    uint32_t c = fx_other(f, 0) != leader && fx_other(f, 0) != z ? fx_other(f, 0) : fx_other(f, 1);
    return c == leader || c == z ? fx_other(f, 2) : c;
}

/* Five parties, z (out) of weight 0, at ballot 2, whose leader proposed
 * ZW_K values of a third party that are held for their MACs. */
static struct fx *
zw_held(uint32_t *z)
{
    struct fx *f = fx_new_n(64, 256, 5);
    *z = zw_party(f);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    struct bpc_vid held[ZW_K];
    fx_propose_at(f, leader, zw_third(f, leader, *z), 0, ZW_K, 100, held);
    return f;
}

/* Goal: 1B_RANGE records and empty 1b records of a zero-weight party
 * examine no held value: its empty reports weigh nothing and name
 * nothing, so no view changes. Before, its first range at the ballot and
 * each lowering re-examined every held value it covered, and each empty
 * 1b the value it named (review E6's p3 and p2).
 * Method: five parties, one of weight 0 (z); the others' ranges join
 * ballot 2, whose leader holds ZW_K values; z's ranges from instance
 * ZW_K - 1 down to 0, after its empty 1b for each held instance. */
static void
test_zero_weight_ranges_examine_nothing(void **state)
{
    (void)state;
    uint32_t z;
    struct fx *f = zw_held(&z);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    for (uint32_t k = 0; k < ZW_K; k++) {
        fx_send1(f, z, bpc_record_make(BPC_MSG_1B, k, 2, 0, NULL));
    }
    for (uint32_t k = ZW_K; k > 0; k--) {
        fx_send1(f, z, bpc_record_make(BPC_MSG_1B_RANGE, k - 1u, 2, 0, NULL));
    }
    print_message("%u empty 1b and %u ranges of a zero-weight party: %llu held values "
                  "re-examined\n",
                  ZW_K, ZW_K, (unsigned long long)(ctr->recheck_visits - visits));
    assert_int_equal(ctr->recheck_visits - visits, 0);
    fx_delete(f);
}

/* Goal: a zero-weight party's non-empty 1b reports (a vote at ballot 1
 * for a value of its own) are kept nowhere and examine no held value:
 * they weigh nothing in any sum a view is judged by. Before, each took a
 * place in the claim pool, views of held values copied it, and each
 * re-examined the held value it named (review E6's p2). */
static void
test_zero_weight_reports_kept_nowhere(void **state)
{
    (void)state;
    uint32_t z;
    struct fx *f = zw_held(&z);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    uint32_t used = f->e->ty.claims_used;
    for (uint32_t k = 0; k < ZW_K; k++) {
        struct bpc_vid junk = fx_junk_vid(k);
        fx_send1(f, z, bpc_record_make(BPC_MSG_1B, k, 2, 1, &junk));
    }
    print_message("%u non-empty 1b of a zero-weight party: %llu held values re-examined, %u pool "
                  "entries taken\n",
                  ZW_K, (unsigned long long)(ctr->recheck_visits - visits),
                  f->e->ty.claims_used - used);
    assert_int_equal(ctr->recheck_visits - visits, 0);
    assert_int_equal(f->e->ty.claims_used - used, 0);
    assert_int_equal(f->e->ty.held[z], 0);
    /* Its reports at ballots above the engine's make no generation for
     * them either (before, instance 40's generations went to ballots 3
     * and 4: review G7's F2). */
    const struct eng_slot *s = &f->e->win.slots[40u & f->e->mask];
    uint64_t gens[ENG_GENS];
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        gens[g] = s->gen[g].ballot;
    }
    for (uint64_t b = 3; b <= 4; b++) {
        fx_send1(f, z, bpc_record_make(BPC_MSG_1B, 40, b, 0, NULL));
    }
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        print_message("instance 40, generation %u: ballot %llu (was %llu)\n", g,
                      (unsigned long long)s->gen[g].ballot, (unsigned long long)gens[g]);
        assert_int_equal(s->gen[g].ballot, gens[g]);
    }
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_weight_ranges_examine_nothing),
        cmocka_unit_test(test_zero_weight_reports_kept_nowhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
