/*
 * test_memstore.c - the party's built-in in-memory store (memstore.c),
 * without EAL: what a restart would get back from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "memstore.h"

#define TM_WINDOW 4u
#define TM_PARTIES 4u

struct tm_store {
    struct dp_store s;
    struct bpc_durable slots[TM_WINDOW];
    uint8_t used[TM_WINDOW];
    struct bpc_durable applied[TM_PARTIES];
    uint8_t applied_used[TM_PARTIES];
};

static void
tm_init(struct tm_store *t)
{
    memset(t, 0, sizeof(*t));
    t->s.mask = TM_WINDOW - 1;
    t->s.slots = t->slots;
    t->s.used = t->used;
    t->s.applied = t->applied;
    t->s.applied_used = t->applied_used;
    t->s.parties = TM_PARTIES;
}

/* Goal: a vouch for an old decision never replaces a live vote. With a
 * window of 4 the engine persists its 2b on instance 4 at ballot 3, then
 * (vouching at ballot 4 for instance 0, decided, below the floor) a
 * decided record of instance 0, which shares slot 0. The vote must be what
 * a restart gets back. Fails on c627906, whose store kept the last record
 * of each slot: the restarted party reported instance 4 empty. */
static void
test_vouch_keeps_live_vote(void **state)
{
    (void)state;
    static struct tm_store t;
    tm_init(&t);
    struct bpc_durable vote = {.instance = 4, .floor = 1, .max_bal = 3, .max_vbal = 3};
    vote.max_vval.kind = BPC_VALUE_INLINE;
    vote.max_vval.len = 8;
    vote.max_vval.id[0] = 0xAB;
    assert_int_equal(dp_store_put(&t.s, &vote, 1), 0);
    struct bpc_durable dec = {.instance = 0, .floor = 1, .max_bal = 4, .decided = 1};
    dec.dec_val.kind = BPC_VALUE_INLINE;
    dec.dec_val.len = 8;
    assert_int_equal(dp_store_put(&t.s, &dec, 1), 0);
    assert_true(t.used[0]);
    assert_int_equal(t.slots[0].instance, 4);
    assert_int_equal(t.slots[0].max_vbal, 3);
    assert_int_equal(t.slots[0].decided, 0);
    /* A newer record of the same instance, and then one of a higher
     * instance (the slot reused once the floor passed 4), replace it. */
    vote.max_vbal = 5;
    assert_int_equal(dp_store_put(&t.s, &vote, 1), 0);
    assert_int_equal(t.slots[0].max_vbal, 5);
    struct bpc_durable next = {.instance = 8, .floor = 6, .max_vbal = 6};
    assert_int_equal(dp_store_put(&t.s, &next, 1), 0);
    assert_int_equal(t.slots[0].instance, 8);
}

/* The party-wide record and the apply-state records have places of their
 * own; an apply-state record of a submitter past the parties is ignored. */
static void
test_party_records(void **state)
{
    (void)state;
    static struct tm_store t;
    tm_init(&t);
    struct bpc_durable recs[3] = {
        {.instance = UINT64_MAX, .max_bal = 7, .floor = 2},
        {.instance = BPC_DURABLE_APPLIED_BASE + 1, .applied_seq = 9},
        {.instance = BPC_DURABLE_APPLIED_BASE + TM_PARTIES, .applied_seq = 1},
    };
    assert_int_equal(dp_store_put(&t.s, recs, 3), 0);
    assert_true(t.s.has_max_bal);
    assert_int_equal(t.s.max_bal.max_bal, 7);
    assert_true(t.applied_used[1]);
    assert_int_equal(t.applied[1].applied_seq, 9);
    for (uint32_t i = 0; i < TM_WINDOW; i++) {
        assert_false(t.used[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vouch_keeps_live_vote),
        cmocka_unit_test(test_party_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
