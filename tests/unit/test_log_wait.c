/*
 * test_log_wait.c - bpc_log_wait on the decided log (engine/src/log.c;
 * log_fx.h holds the helpers shared with test_log.c and
 * test_log_stress.c).
 *
 * Goal: bpc_log_wait times out (-ETIMEDOUT), parks and is woken by another
 * thread's append, and its timeout runs from the call, however many
 * appends below the awaited index wake it.
 * Method: threads synchronised by atomics; the drip writer naps between
 * its appends. No timing assertions: clocks only bound a run that would
 * otherwise hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "bpcon.h"

#include "log_fx.h"

static void
test_log_wait_times_out(void **state)
{
    (void)state;
    struct bpc_log *log = test_log_make(16, 4, 64);
    assert_int_equal(bpc_log_wait(log, 0, 0), -ETIMEDOUT);
    assert_int_equal(bpc_log_wait(log, 0, 20 * TEST_LOG_NS_PER_MS), -ETIMEDOUT);
    assert_int_equal(test_log_append_derived(log, 0), 0);
    assert_int_equal(bpc_log_wait(log, 0, 0), 0);
    assert_int_equal(bpc_log_wait(log, 0, 20 * TEST_LOG_NS_PER_MS), 0);
    assert_int_equal(bpc_log_wait(log, 1, 20 * TEST_LOG_NS_PER_MS), -ETIMEDOUT);
    /* Waiting from a thread that is already offline works too. */
    bpc_log_thread_offline();
    assert_int_equal(bpc_log_wait(log, 1, 1 * TEST_LOG_NS_PER_MS), -ETIMEDOUT);
    bpc_log_thread_online();
    bpc_log_quiescent();
    bpc_log_free(log);
}

/* The drip writer's appends (one about every millisecond): a wait of
 * TEST_LOG_DRIP_TIMEOUT_MS that returns only after all of them outlived
 * its timeout by seconds. */
#define TEST_LOG_DRIP_ENTRIES 5000u
#define TEST_LOG_DRIP_TIMEOUT_MS 200u

struct test_log_drip {
    struct bpc_log *log;
    atomic_bool stop;
    _Atomic uint64_t appended;
    atomic_int failed;
};

/* Appends entries 0, 1, ... one about every millisecond until stop or
 * TEST_LOG_DRIP_ENTRIES. */
static void *
test_log_drip_writer(void *arg)
{
    struct test_log_drip *d = arg;
    bpc_log_thread_register();
    uint64_t deadline = test_log_now_ns() + (uint64_t)TEST_LOG_DEADLINE_S * 1000000000ull;
    uint64_t retries = 0;
    const struct timespec nap = {.tv_sec = 0, .tv_nsec = (long)TEST_LOG_NS_PER_MS};
    for (uint64_t i = 0; i < TEST_LOG_DRIP_ENTRIES && !atomic_load(&d->stop); i++) {
        if (test_log_append_retry(d->log, i, deadline, &retries) != 0) {
            atomic_store(&d->failed, 1);
            break;
        }
        atomic_store(&d->appended, i + 1);
        bpc_log_quiescent();
        bpc_log_thread_offline();
        (void)nanosleep(&nap, NULL);
        bpc_log_thread_online();
    }
    bpc_log_thread_unregister();
    return NULL;
}

/* Goal: bpc_log_wait's timeout counts from the call, not from the last
 * publication: a reader waiting for an entry the writer never reaches
 * gets -ETIMEDOUT while the writer, appending about every millisecond
 * below it, is still going. Before, the relative futex timeout restarted
 * at each append's wake, and the wait (200 ms) returned only 200 ms after
 * the last of the 5000 appends (seconds later: appended 5000 at return;
 * review revK: 2.055 s for a 200 ms wait).
 * Method: no timing assertion. Only a wait that outlives the writer's
 * whole run (>= 5 s of 1 ms naps) fails; the 200 ms timeout is far above
 * the 1 ms gaps, so the old code restarts it at every append. */
static void
test_log_wait_deadline_holds(void **state)
{
    (void)state;
    struct test_log_drip d = {.log = test_log_make(64, 16, 64)};
    atomic_init(&d.stop, false);
    atomic_init(&d.appended, 0);
    atomic_init(&d.failed, 0);
    /* Offline while the writer runs: this thread blocks no grace period. */
    bpc_log_thread_offline();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, test_log_drip_writer, &d), 0);
    int rc = bpc_log_wait(d.log, TEST_LOG_DRIP_ENTRIES,
                          (uint64_t)TEST_LOG_DRIP_TIMEOUT_MS * TEST_LOG_NS_PER_MS);
    uint64_t appended = atomic_load(&d.appended);
    atomic_store(&d.stop, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    bpc_log_thread_online();
    printf("[ info ] wait (%u ms) returned %d with %llu of %u entries appended\n",
           TEST_LOG_DRIP_TIMEOUT_MS, rc, (unsigned long long)appended, TEST_LOG_DRIP_ENTRIES);
    assert_int_equal(atomic_load(&d.failed), 0);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(appended < TEST_LOG_DRIP_ENTRIES);
    bpc_log_quiescent();
    bpc_log_free(d.log);
}

#define TEST_LOG_PINGPONG_ROUNDS 2000u

struct test_log_pingpong {
    struct bpc_log *log;
    _Atomic uint64_t want; /* the reader is about to wait for want - 1 */
    atomic_int failed;
};

/* Appends entry i once the reader announced it waits for it, so most
 * appends land while the reader is parked (or about to park). */
static void *
test_log_pingpong_writer(void *arg)
{
    struct test_log_pingpong *pp = arg;
    bpc_log_thread_register();
    uint64_t deadline = test_log_now_ns() + (uint64_t)TEST_LOG_DEADLINE_S * 1000000000ull;
    uint64_t retries = 0;
    for (uint64_t i = 0; i < TEST_LOG_PINGPONG_ROUNDS; i++) {
        while (atomic_load(&pp->want) <= i) {
            bpc_log_quiescent();
            sched_yield();
            if (test_log_now_ns() > deadline) {
                atomic_store(&pp->failed, 1);
                goto out;
            }
        }
        if (test_log_append_retry(pp->log, i, deadline, &retries) != 0) {
            atomic_store(&pp->failed, 2);
            goto out;
        }
        bpc_log_quiescent();
    }
out:
    bpc_log_thread_unregister();
    return NULL;
}

static void
test_log_wait_wakes(void **state)
{
    (void)state;
    struct test_log_pingpong pp = {.log = test_log_make(64, 16, 64)};
    atomic_init(&pp.want, 0);
    atomic_init(&pp.failed, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, test_log_pingpong_writer, &pp), 0);
    struct bpc_log_entry e;
    for (uint64_t i = 0; i < TEST_LOG_PINGPONG_ROUNDS; i++) {
        assert_int_equal(bpc_log_read(pp.log, i, &e), -EAGAIN);
        atomic_store(&pp.want, i + 1);
        int rc = bpc_log_wait(pp.log, i, TEST_LOG_HANG_NS);
        if (rc != 0) {
            atomic_store(&pp.want, UINT64_MAX);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(bpc_log_read(pp.log, i, &e), 0);
        assert_true(test_log_entry_ok(&e, i));
        bpc_log_quiescent();
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&pp.failed), 0);
    bpc_log_free(pp.log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_wait_times_out),
        cmocka_unit_test(test_log_wait_deadline_holds),
        cmocka_unit_test(test_log_wait_wakes),
    };
    return cmocka_run_group_tests(tests, test_log_group_setup, test_log_group_teardown);
}
