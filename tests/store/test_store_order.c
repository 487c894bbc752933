/*
 * test_store_order.c - the durable vote store (libbpcon-store) refuses a
 * record that makes a restart remember less than an earlier one of its
 * instance: here, a vote record whose history lost its highest 2av.
 * (test_store_recovery.c holds the order tests of max_vbal, applied
 * positions and the application state.)
 *
 * Method: the in-memory file system (memfs.c) and the fixture the
 * store's memfs tests share (store_fx.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bpcon_store.h"
#include "memfs.h"
#include "store_fx.h"

/* s holds a record of instance with two history entries, the highest
 * at ballot top. */
static void
to_expect_top(struct bpc_store *s, uint64_t instance, uint64_t top)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    bool found = false;
    for (uint32_t k = 0; k < n; k++) {
        if (recs[k].instance == instance) {
            found = true;
            assert_int_equal(recs[k].hist_count, 2);
            assert_int_equal(recs[k].hist_bal[0], top);
        }
    }
    assert_true(found);
}

/* Goal: bpc_store_append refuses (-EINVAL, nothing buffered) a vote
 * record of an instance whose highest 2av is below the earlier record's
 * (an empty history, a lower ballot) or at its ballot for another value,
 * and takes one that keeps it, with a clean floor (kind NONE) beside or
 * a higher 2av above; the file reopens with what was taken. Before
 * (review A10's F1), a vote record for instance 4 with the 2av (20, X),
 * then one with an empty history, were both appended and the file
 * checked intact: after a restart the party could send a second 2av at
 * ballot 20. */
static void
test_store_append_refuses_history_regress(void **state)
{
    (void)state;
    TS_SETUP(11, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable pw;
    memset(&pw, 0, sizeof(pw));
    pw.instance = UINT64_MAX;
    pw.max_bal = 20;
    pw.incarnation = 1;
    struct bpc_durable v = pw;
    v.instance = 4;
    v.hist_count = 1;
    v.hist_bal[0] = 20;
    v.hist_val[0] = ts_vid(1);
    struct bpc_durable r[2] = {pw, v};
    assert_int_equal(bpc_store_append(s, r, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats before;
    bpc_store_stats(s, &before);
    struct bpc_durable d = v;
    d.hist_count = 0;
    int empty = bpc_store_append(s, &d, 1);
    d = v;
    d.hist_bal[0] = 19;
    int lower = bpc_store_append(s, &d, 1);
    d = v;
    d.hist_val[0] = ts_vid(2);
    int other = bpc_store_append(s, &d, 1);
    printf("  empty history %d, lower 2av %d, another value at its ballot %d\n", empty, lower,
           other);
    assert_int_equal(empty, -EINVAL);
    assert_int_equal(lower, -EINVAL);
    assert_int_equal(other, -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats after;
    bpc_store_stats(s, &after);
    assert_int_equal(after.file_bytes, before.file_bytes); /* nothing buffered */
    /* Kept: the same 2av with a clean floor after it; then a higher one. */
    d = v;
    d.hist_count = 2;
    d.hist_bal[1] = 10;
    d.hist_val[1].kind = BPC_VALUE_NONE;
    assert_int_equal(bpc_store_append(s, &d, 1), 0);
    d = v;
    d.max_bal = 21;
    d.hist_count = 2;
    d.hist_bal[0] = 21;
    d.hist_val[0] = ts_vid(3);
    d.hist_bal[1] = 20;
    d.hist_val[1] = ts_vid(1);
    pw.max_bal = 21;
    r[0] = pw;
    r[1] = d;
    assert_int_equal(bpc_store_append(s, r, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    to_expect_top(s, 4, 21);
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_append_refuses_history_regress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
