/*
 * test_log.c - the decided log published through RCU (engine/src/log.c):
 * its contract read single-threaded, and reuse held back by a stalled
 * reader (test_log_wait.c: bpc_log_wait; test_log_stress.c: the
 * rcutorture-style run; log_fx.h holds the helpers they share).
 *
 * Goal: entries read back exactly as appended (values, noops, empty and
 * maximum-size values); each error of the contract is reachable (-EINVAL,
 * -EMSGSIZE, -EAGAIN, -ESTALE, -ENOBUFS); a reader that never reaches a
 * quiescent state holds back reuse (-ENOBUFS) and its quiescent states
 * release it; freeing a log waits for reclamation only when it queued
 * some.
 * Method: single-threaded round trips against values derived from the
 * index; a stalled reader synchronised by barriers and atomics (no
 * sleeps). No timing assertions: clocks only bound a run that would
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

#include "bpcon.h"

#include "log_fx.h"

/* bpc_log_free's waits for liburcu's call_rcu thread: this test links
 * with -Wl,--wrap=urcu_qsbr_barrier (tests/unit/meson.build). */
static unsigned test_log_barriers;
void __real_urcu_qsbr_barrier(void);
void __wrap_urcu_qsbr_barrier(void);

void
__wrap_urcu_qsbr_barrier(void)
{
    test_log_barriers++;
    __real_urcu_qsbr_barrier();
}

static void
test_log_config_refusals(void **state)
{
    (void)state;
    struct bpc_log *log = (struct bpc_log *)&log;
    assert_int_equal(bpc_log_new(&log, NULL), -EINVAL);
    assert_null(log);
    const struct bpc_log_config bad[] = {
        {.retain_entries = 0, .segment_entries = 16, .value_bytes_max = 64},
        {.retain_entries = 64, .segment_entries = 0, .value_bytes_max = 64},
        {.retain_entries = 64, .segment_entries = 12, .value_bytes_max = 64},
        {.retain_entries = 64, .segment_entries = 16, .value_bytes_max = 0},
        {.retain_entries = 64, .segment_entries = 16, .value_bytes_max = BPC_VALUE_BYTES_MAX + 1},
        {.retain_entries = UINT64_MAX, .segment_entries = 1, .value_bytes_max = 64},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bpc_log_new(&log, &bad[i]), -EINVAL);
        assert_null(log);
    }
    bpc_log_free(NULL);
}

static void
test_log_round_trip(void **state)
{
    (void)state;
    struct bpc_log *log = test_log_make(64, 16, BPC_VALUE_BYTES_MAX);
    assert_int_equal(bpc_log_next(log), 0);
    assert_int_equal(bpc_log_first(log), 0);

    static uint8_t big[BPC_VALUE_BYTES_MAX];
    for (size_t k = 0; k < sizeof(big); k++) {
        big[k] = (uint8_t)(k * 7u + 3u);
    }
    const uint8_t hello[] = "hello";
    assert_int_equal(bpc_log_append(log, 0, hello, 5, false, 0), 0);
    assert_int_equal(bpc_log_append(log, 1, NULL, 0, true, 0), 0);
    assert_int_equal(bpc_log_append(log, 2, big, BPC_VALUE_BYTES_MAX, false, 0), 0);
    assert_int_equal(bpc_log_append(log, 3, hello, 0, false, 0), 0);
    for (uint64_t i = 4; i < 40; i++) {
        assert_int_equal(test_log_append_derived(log, i), 0);
    }
    assert_int_equal(bpc_log_next(log), 40);
    assert_int_equal(bpc_log_first(log), 0);

    struct bpc_log_entry e;
    assert_int_equal(bpc_log_read(log, 0, &e), 0);
    assert_int_equal(e.index, 0);
    assert_int_equal(e.len, 5);
    assert_false(e.noop);
    assert_memory_equal(e.value, hello, 5);
    assert_int_equal(bpc_log_read(log, 1, &e), 0);
    assert_true(e.noop);
    assert_int_equal(e.len, 0);
    assert_int_equal(bpc_log_read(log, 2, &e), 0);
    assert_int_equal(e.len, BPC_VALUE_BYTES_MAX);
    assert_memory_equal(e.value, big, BPC_VALUE_BYTES_MAX);
    assert_int_equal(bpc_log_read(log, 3, &e), 0);
    assert_int_equal(e.len, 0);
    assert_false(e.noop);
    for (uint64_t i = 4; i < 40; i++) {
        assert_int_equal(bpc_log_read(log, i, &e), 0);
        assert_true(test_log_entry_ok(&e, i));
    }

    static uint8_t buf[BPC_VALUE_BYTES_MAX];
    bool noop = true;
    assert_int_equal(bpc_log_copy(log, 2, buf, sizeof(buf), &noop), BPC_VALUE_BYTES_MAX);
    assert_false(noop);
    assert_memory_equal(buf, big, BPC_VALUE_BYTES_MAX);
    assert_int_equal(bpc_log_copy(log, 2, buf, BPC_VALUE_BYTES_MAX - 1, &noop), -ENOBUFS);
    assert_int_equal(bpc_log_copy(log, 0, buf, 5, &noop), 5);
    assert_memory_equal(buf, hello, 5);
    assert_int_equal(bpc_log_copy(log, 0, buf, 4, NULL), -ENOBUFS);
    assert_int_equal(bpc_log_copy(log, 1, NULL, 0, &noop), 0);
    assert_true(noop);
    assert_int_equal(bpc_log_copy(log, 40, buf, sizeof(buf), &noop), -EAGAIN);
    bpc_log_quiescent();
    bpc_log_free(log);
}

static void
test_log_msgsize_and_eagain(void **state)
{
    (void)state;
    struct bpc_log *log = test_log_make(32, 8, 16);
    struct bpc_log_entry e;
    assert_int_equal(bpc_log_read(log, 0, &e), -EAGAIN);
    uint8_t v[17] = {0};
    assert_int_equal(bpc_log_append(log, 0, v, 17, false, 0), -EMSGSIZE);
    assert_int_equal(bpc_log_next(log), 0);
    assert_int_equal(bpc_log_read(log, 0, &e), -EAGAIN);
    v[15] = 0xab;
    assert_int_equal(bpc_log_append(log, 0, v, 16, false, 0), 0);
    assert_int_equal(bpc_log_next(log), 1);
    assert_int_equal(bpc_log_read(log, 0, &e), 0);
    assert_int_equal(e.len, 16);
    assert_int_equal(e.value[15], 0xab);
    assert_int_equal(bpc_log_read(log, 1, &e), -EAGAIN);
    assert_int_equal(bpc_log_read(log, 1000, &e), -EAGAIN);
    assert_int_equal(bpc_log_read(log, UINT64_MAX, &e), -EAGAIN);
    /* A refused append at a segment boundary leaves the log appendable. */
    for (uint64_t i = 1; i < 8; i++) {
        assert_int_equal(bpc_log_append(log, i, v, 1, false, 0), 0);
    }
    assert_int_equal(bpc_log_append(log, 8, v, 17, false, 0), -EMSGSIZE);
    assert_int_equal(bpc_log_append(log, 8, v, 2, false, 0), 0);
    assert_int_equal(bpc_log_read(log, 8, &e), 0);
    assert_int_equal(e.len, 2);
    bpc_log_quiescent();
    bpc_log_free(log);
}

static void
test_log_stale_after_reclaim(void **state)
{
    (void)state;
    const uint64_t retain = 8;
    struct bpc_log *log = test_log_make(retain, 4, 64);
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(test_log_append_derived(log, i), 0);
        uint64_t next = bpc_log_next(log);
        uint64_t first = bpc_log_first(log);
        assert_int_equal(next, i + 1);
        /* At least retain entries stay readable, and first moves by whole
         * segments. */
        assert_true(next - first >= (next < retain ? next : retain));
        assert_int_equal(first % 4, 0);
        bpc_log_quiescent();
    }
    uint64_t first = bpc_log_first(log);
    assert_true(first > 0);
    struct bpc_log_entry e;
    uint8_t buf[64];
    assert_int_equal(bpc_log_read(log, 0, &e), -ESTALE);
    assert_int_equal(bpc_log_read(log, first - 1, &e), -ESTALE);
    assert_int_equal(bpc_log_copy(log, first - 1, buf, sizeof(buf), NULL), -ESTALE);
    for (uint64_t i = first; i < 20; i++) {
        assert_int_equal(bpc_log_read(log, i, &e), 0);
        assert_true(test_log_entry_ok(&e, i));
    }
    assert_int_equal(bpc_log_read(log, 20, &e), -EAGAIN);
    /* Waiting for an entry that was published (even if reclaimed) ends. */
    assert_int_equal(bpc_log_wait(log, 0, 0), 0);
    bpc_log_quiescent();
    bpc_log_free(log);
}

/* Values are packed in a segment's arena: a segment full of values of
 * value_bytes_max (13, not a multiple of the 8-byte packing) next to
 * empty and noop entries, then the same slots reused with other lengths,
 * read back exactly and stay inside the arena (ASan). */
static void
test_log_packed_full_segments(void **state)
{
    (void)state;
    const uint32_t seg = 8;
    struct bpc_log *log = test_log_make(16, seg, 13);
    uint8_t want[13];
    uint64_t retries = 0;
    for (uint64_t i = 0; i < 200; i++) {
        uint32_t len = (i / 64) % 2 == 0 ? 13u : (uint32_t)(i % 14u);
        for (uint32_t k = 0; k < len; k++) {
            want[k] = (uint8_t)(i * 17u + k);
        }
        bool noop = len == 0 && i % 3 == 0;
        int rc;
        while ((rc = bpc_log_append(log, i, want, len, noop, i)) == -ENOBUFS) {
            retries++;
            bpc_log_quiescent();
            sched_yield();
        }
        assert_int_equal(rc, 0);
        for (uint64_t j = bpc_log_first(log); j <= i; j++) {
            struct bpc_log_entry e;
            assert_int_equal(bpc_log_read(log, j, &e), 0);
            uint32_t jl = (j / 64) % 2 == 0 ? 13u : (uint32_t)(j % 14u);
            assert_int_equal(e.len, jl);
            assert_int_equal(e.skip_mask, j);
            assert_int_equal(e.noop, jl == 0 && j % 3 == 0);
            for (uint32_t k = 0; k < jl; k++) {
                assert_int_equal(e.value[k], (uint8_t)(j * 17u + k));
            }
        }
        bpc_log_quiescent();
    }
    assert_true(bpc_log_first(log) > seg);
    bpc_log_free(log);
}

/* Freeing a log waits for reclamation callbacks only when it queued some:
 * a log that never retired a segment is freed without the barrier (about
 * 10 ms each; the simulator frees 999 of them), one that did still waits. */
static void
test_log_free_waits_only_after_retiring(void **state)
{
    (void)state;
    struct bpc_log *log = test_log_make(8, 4, 64);
    for (uint64_t i = 0; i < 6; i++) {
        assert_int_equal(test_log_append_derived(log, i), 0);
    }
    assert_int_equal(bpc_log_first(log), 0); /* nothing retired */
    unsigned before = test_log_barriers;
    bpc_log_free(log);
    assert_int_equal(test_log_barriers, before);

    log = test_log_make(8, 4, 64);
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(test_log_append_derived(log, i), 0);
        bpc_log_quiescent();
    }
    assert_true(bpc_log_first(log) > 0); /* segments went to call_rcu */
    bpc_log_free(log);
    assert_int_equal(test_log_barriers, before + 1);
}

struct test_log_stall {
    struct bpc_log *log;
    pthread_barrier_t ready;
    pthread_barrier_t go;
    atomic_bool stop;
};

/* A reader that stays online without a quiescent state until `go`, then
 * reports quiescent states until `stop`. */
static void *
test_log_stall_reader(void *arg)
{
    struct test_log_stall *st = arg;
    bpc_log_thread_register();
    struct bpc_log_entry e;
    (void)bpc_log_read(st->log, 0, &e);
    pthread_barrier_wait(&st->ready);
    pthread_barrier_wait(&st->go);
    while (!atomic_load(&st->stop)) {
        bpc_log_quiescent();
        sched_yield();
    }
    bpc_log_thread_unregister();
    return NULL;
}

static void
test_log_enobufs_until_quiescent(void **state)
{
    (void)state;
    struct test_log_stall st = {.log = test_log_make(8, 4, 64)};
    atomic_init(&st.stop, false);
    assert_int_equal(pthread_barrier_init(&st.ready, NULL, 2), 0);
    assert_int_equal(pthread_barrier_init(&st.go, NULL, 2), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, test_log_stall_reader, &st), 0);
    pthread_barrier_wait(&st.ready);

    uint64_t i = 0;
    int rc = 0;
    for (; i < 1000; i++) {
        rc = test_log_append_derived(st.log, i);
        if (rc != 0) {
            break;
        }
        bpc_log_quiescent();
    }
    assert_int_equal(rc, -ENOBUFS);
    printf("[ info ] -ENOBUFS after %llu entries (retain 8, segment 4)\n", (unsigned long long)i);
    assert_true(i >= 8 + 4);
    assert_int_equal(i % 4, 0);
    assert_int_equal(bpc_log_next(st.log), i);
    /* The stalled reader blocks every grace period: no retry succeeds. */
    for (int k = 0; k < 200; k++) {
        bpc_log_quiescent();
        sched_yield();
        assert_int_equal(test_log_append_derived(st.log, i), -ENOBUFS);
    }
    /* Retained entries stay readable meanwhile. */
    struct bpc_log_entry e;
    for (uint64_t j = bpc_log_first(st.log); j < i; j++) {
        assert_int_equal(bpc_log_read(st.log, j, &e), 0);
        assert_true(test_log_entry_ok(&e, j));
    }
    assert_true(i - bpc_log_first(st.log) >= 8);

    pthread_barrier_wait(&st.go);
    uint64_t deadline = test_log_now_ns() + (uint64_t)TEST_LOG_DEADLINE_S * 1000000000ull;
    uint64_t retries = 0;
    for (uint64_t end = i + 200; i < end; i++) {
        assert_int_equal(test_log_append_retry(st.log, i, deadline, &retries), 0);
        bpc_log_quiescent();
    }
    printf("[ info ] recovered: 200 more entries, %llu -ENOBUFS retries\n",
           (unsigned long long)retries);
    for (uint64_t j = bpc_log_first(st.log); j < i; j++) {
        assert_int_equal(bpc_log_read(st.log, j, &e), 0);
        assert_true(test_log_entry_ok(&e, j));
    }
    atomic_store(&st.stop, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&st.ready);
    pthread_barrier_destroy(&st.go);
    bpc_log_quiescent();
    bpc_log_free(st.log);
}

/* An optional argument picks tests by name pattern, e.g. "*reclaim*". */
int
main(int argc, char **argv)
{
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_config_refusals),
        cmocka_unit_test(test_log_round_trip),
        cmocka_unit_test(test_log_msgsize_and_eagain),
        cmocka_unit_test(test_log_stale_after_reclaim),
        cmocka_unit_test(test_log_packed_full_segments),
        cmocka_unit_test(test_log_free_waits_only_after_retiring),
        cmocka_unit_test(test_log_enobufs_until_quiescent),
    };
    return cmocka_run_group_tests(tests, test_log_group_setup, test_log_group_teardown);
}
