/*
 * test_log.c - the decided log published through RCU (engine/src/log.c).
 *
 * Goal: entries read back exactly as appended (values, noops, empty and
 * maximum-size values); each error of the contract is reachable (-EINVAL,
 * -EMSGSIZE, -EAGAIN, -ESTALE, -ENOBUFS, -ETIMEDOUT); a reader that never
 * reaches a quiescent state holds back reuse (-ENOBUFS) and its quiescent
 * states release it; bpc_log_wait parks and is woken by another thread's
 * append, and its timeout runs from the call, however many appends below
 * the awaited index wake it; and under a writer and two readers running flat out no reader
 * ever sees a wrong value.
 * Method: single-threaded round trips against values derived from the
 * index; threads synchronised by barriers and atomics (no sleeps); an
 * rcutorture-style stress run that records how far readers lagged and how
 * often they fell behind the retained window. No timing assertions: clocks
 * only bound a run that would otherwise hang.
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
#include <string.h>
#include <time.h>

#include "bpcon.h"

#define TEST_LOG_NS_PER_MS 1000000ull
/* A wait that should succeed gets this long before we call it a hang. */
#define TEST_LOG_HANG_NS (10000ull * TEST_LOG_NS_PER_MS)
/* Stress run shape (the brief: ~300k entries, retain 1024, segment 64). */
#define TEST_LOG_STRESS_ENTRIES 300000u
#define TEST_LOG_STRESS_RETAIN 1024u
#define TEST_LOG_STRESS_SEGMENT 64u
#define TEST_LOG_STRESS_READERS 2u
/* Hang guard for threaded tests, never a pass/fail timing criterion. */
#define TEST_LOG_DEADLINE_S 90

static uint64_t
test_log_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The value of entry `index`: 8..64 bytes, contents a function of index. */
static uint32_t
test_log_fill(uint64_t index, uint8_t *buf)
{
    uint32_t len = 8u + (uint32_t)((index * 7u) % 57u);
    for (uint32_t k = 0; k < len; k++) {
        buf[k] = (uint8_t)(index * 131u + k * 29u + (index >> 9));
    }
    return len;
}

static bool
test_log_is_noop(uint64_t index)
{
    return index % 97u == 96u;
}

/* Appends entry index as test_log_fill/test_log_is_noop describe it. */
static int
test_log_append_derived(struct bpc_log *log, uint64_t index)
{
    uint8_t buf[64];
    if (test_log_is_noop(index)) {
        return bpc_log_append(log, index, NULL, 0, true, 0);
    }
    uint32_t len = test_log_fill(index, buf);
    return bpc_log_append(log, index, buf, len, false, 0);
}

static bool
test_log_entry_ok(const struct bpc_log_entry *e, uint64_t index)
{
    if (e->index != index || e->noop != test_log_is_noop(index)) {
        return false;
    }
    if (e->noop) {
        return e->len == 0;
    }
    uint8_t want[64];
    uint32_t len = test_log_fill(index, want);
    return e->len == len && memcmp(e->value, want, len) == 0;
}

/* Appends until success, passing quiescent states so grace periods can
 * finish; -ENOBUFS only means reclamation is still pending. */
static int
test_log_append_retry(struct bpc_log *log, uint64_t index, uint64_t deadline_ns, uint64_t *retries)
{
    for (uint64_t n = 0;; n++) {
        int rc = test_log_append_derived(log, index);
        if (rc != -ENOBUFS) {
            return rc;
        }
        (*retries)++;
        bpc_log_quiescent();
        sched_yield();
        if ((n & 1023u) == 1023u && test_log_now_ns() > deadline_ns) {
            return -ETIMEDOUT;
        }
    }
}

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

static struct bpc_log *
test_log_make(uint64_t retain, uint32_t segment, uint32_t value_max)
{
    struct bpc_log_config cfg = {
        .retain_entries = retain, .segment_entries = segment, .value_bytes_max = value_max};
    struct bpc_log *log = NULL;
    assert_int_equal(bpc_log_new(&log, &cfg), 0);
    assert_non_null(log);
    return log;
}

static int
test_log_group_setup(void **state)
{
    (void)state;
    bpc_log_thread_register();
    return 0;
}

static int
test_log_group_teardown(void **state)
{
    (void)state;
    bpc_log_thread_unregister();
    return 0;
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

struct test_log_stress;

struct test_log_stress_reader {
    struct test_log_stress *s;
    bool naps;
    pthread_t t;
    uint64_t reads;
    uint64_t wrong;
    uint64_t changed; /* held entries that changed before the quiescent state */
    uint64_t fell_behind;
    uint64_t skipped;
    uint64_t lag_max;
    uint64_t waits;
};

struct test_log_stress {
    struct bpc_log *log;
    uint64_t deadline_ns;
    atomic_bool abort;
    int writer_rc;
    uint64_t writer_retries;
    struct test_log_stress_reader readers[TEST_LOG_STRESS_READERS];
};

static void *
test_log_stress_writer(void *arg)
{
    struct test_log_stress *s = arg;
    bpc_log_thread_register();
    for (uint64_t i = 0; i < TEST_LOG_STRESS_ENTRIES; i++) {
        int rc = test_log_append_retry(s->log, i, s->deadline_ns, &s->writer_retries);
        if (rc != 0) {
            s->writer_rc = rc;
            atomic_store(&s->abort, true);
            break;
        }
        bpc_log_quiescent();
    }
    bpc_log_thread_unregister();
    return NULL;
}

/* Entries a reader holds across one read-side section (between quiescent
 * states), re-verified at its end: a segment reused too early shows up as
 * a changed entry, as rcutorture's readers check their element late. */
#define TEST_LOG_HOLD_MAX 16u

struct test_log_hold {
    struct bpc_log_entry e[TEST_LOG_HOLD_MAX];
    uint32_t count;
};

/* One read at *cursor: 0 (entry held, cursor advanced), or the error. */
static int
test_log_stress_step(struct test_log_stress *s, struct test_log_stress_reader *r, uint64_t *cursor,
                     struct test_log_hold *h)
{
    /* first never passes next: loaded in this order, first <= next. */
    uint64_t first_seen = bpc_log_first(s->log);
    uint64_t next = bpc_log_next(s->log);
    r->wrong += first_seen > next;
    struct bpc_log_entry *e = &h->e[h->count];
    int rc = bpc_log_read(s->log, *cursor, e);
    if (rc == 0) {
        r->reads++;
        r->wrong += !test_log_entry_ok(e, *cursor);
        uint64_t lag = next > *cursor ? next - *cursor : 0;
        r->lag_max = lag > r->lag_max ? lag : r->lag_max;
        h->count++;
        (*cursor)++;
        return 0;
    }
    if (rc == -ESTALE) {
        r->fell_behind++;
        uint64_t first = bpc_log_first(s->log);
        r->skipped += first - *cursor;
        *cursor = first;
        return rc;
    }
    if (rc != -EAGAIN) {
        r->wrong++;
    }
    return rc;
}

/* The napping reader parks until the writer is this far ahead of it, so
 * the run also covers falling behind the retained window under load. */
#define TEST_LOG_NAP_AHEAD (4u * TEST_LOG_STRESS_RETAIN)
#define TEST_LOG_NAP_EVERY 32768u

static void
test_log_stress_nap(struct test_log_stress *s, uint64_t cursor)
{
    uint64_t target = cursor + TEST_LOG_NAP_AHEAD;
    if (target >= TEST_LOG_STRESS_ENTRIES) {
        return;
    }
    while (bpc_log_wait(s->log, target, 5 * TEST_LOG_NS_PER_MS) != 0) {
        if (atomic_load(&s->abort)) {
            return;
        }
    }
}

/* One read-side section: up to TEST_LOG_HOLD_MAX reads, sometimes a yield
 * while holding them (so the writer runs meanwhile), then the late check.
 * Returns the last read's result. */
static int
test_log_stress_section(struct test_log_stress *s, struct test_log_stress_reader *r,
                        uint64_t *cursor, uint64_t loop)
{
    struct test_log_hold h = {.count = 0};
    int rc = 0;
    while (rc == 0 && h.count < TEST_LOG_HOLD_MAX && *cursor < TEST_LOG_STRESS_ENTRIES) {
        rc = test_log_stress_step(s, r, cursor, &h);
    }
    if (loop % 4u == 0) {
        sched_yield();
    }
    for (uint32_t k = 0; k < h.count; k++) {
        r->changed += !test_log_entry_ok(&h.e[k], h.e[k].index);
    }
    return rc;
}

static void *
test_log_stress_reader_main(void *arg)
{
    struct test_log_stress_reader *r = arg;
    struct test_log_stress *s = r->s;
    bpc_log_thread_register();
    uint64_t cursor = 0;
    uint64_t nap_at = 1000;
    for (uint64_t loop = 0; cursor < TEST_LOG_STRESS_ENTRIES && !atomic_load(&s->abort); loop++) {
        if (r->naps && cursor >= nap_at) {
            nap_at = cursor + TEST_LOG_NAP_EVERY;
            test_log_stress_nap(s, cursor);
        }
        int rc = test_log_stress_section(s, r, &cursor, loop);
        /* Held entries are dead from here: the wait goes offline and the
         * quiescent state ends the section. */
        if (rc == -EAGAIN) {
            r->waits++;
            (void)bpc_log_wait(s->log, cursor, 5 * TEST_LOG_NS_PER_MS);
        }
        bpc_log_quiescent();
    }
    bpc_log_thread_unregister();
    return NULL;
}

static void
test_log_stress(void **state)
{
    (void)state;
    static struct test_log_stress s;
    memset(&s, 0, sizeof(s));
    s.log = test_log_make(TEST_LOG_STRESS_RETAIN, TEST_LOG_STRESS_SEGMENT, 64);
    atomic_init(&s.abort, false);
    uint64_t t0 = test_log_now_ns();
    s.deadline_ns = t0 + (uint64_t)TEST_LOG_DEADLINE_S * 1000000000ull;
    for (uint32_t k = 0; k < TEST_LOG_STRESS_READERS; k++) {
        s.readers[k].s = &s;
        s.readers[k].naps = k == 1;
        assert_int_equal(
            pthread_create(&s.readers[k].t, NULL, test_log_stress_reader_main, &s.readers[k]), 0);
    }
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, test_log_stress_writer, &s), 0);
    /* This (registered) thread blocks in join: offline, or no grace period
     * could end and the writer would starve for segments. */
    bpc_log_thread_offline();
    int join_rc = pthread_join(w, NULL);
    for (uint32_t k = 0; k < TEST_LOG_STRESS_READERS; k++) {
        join_rc |= pthread_join(s.readers[k].t, NULL);
    }
    bpc_log_thread_online();
    assert_int_equal(join_rc, 0);
    uint64_t ms = (test_log_now_ns() - t0) / TEST_LOG_NS_PER_MS;
    printf("[ info ] stress: %u entries, retain %u, segment %u, %llu ms, writer -ENOBUFS "
           "retries %llu\n",
           TEST_LOG_STRESS_ENTRIES, TEST_LOG_STRESS_RETAIN, TEST_LOG_STRESS_SEGMENT,
           (unsigned long long)ms, (unsigned long long)s.writer_retries);
    uint64_t wrong = 0;
    for (uint32_t k = 0; k < TEST_LOG_STRESS_READERS; k++) {
        struct test_log_stress_reader *r = &s.readers[k];
        printf("[ info ] reader %u: %llu reads, %llu wrong, %llu changed while held, fell behind "
               "%llu times (%llu skipped), max lag %llu entries, %llu waits\n",
               k, (unsigned long long)r->reads, (unsigned long long)r->wrong,
               (unsigned long long)r->changed, (unsigned long long)r->fell_behind,
               (unsigned long long)r->skipped, (unsigned long long)r->lag_max,
               (unsigned long long)r->waits);
        wrong += r->wrong + r->changed;
        assert_int_equal(r->reads + r->skipped, TEST_LOG_STRESS_ENTRIES);
        if (r->naps) {
            assert_true(r->fell_behind > 0);
        }
    }
    assert_int_equal(s.writer_rc, 0);
    assert_false(atomic_load(&s.abort));
    assert_int_equal(wrong, 0);
    assert_int_equal(bpc_log_next(s.log), TEST_LOG_STRESS_ENTRIES);
    assert_true(TEST_LOG_STRESS_ENTRIES - bpc_log_first(s.log) >= TEST_LOG_STRESS_RETAIN);
    bpc_log_free(s.log);
}

/* An optional argument picks tests by name pattern, e.g. "*stress*". */
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
        cmocka_unit_test(test_log_wait_times_out),
        cmocka_unit_test(test_log_wait_deadline_holds),
        cmocka_unit_test(test_log_wait_wakes),
        cmocka_unit_test(test_log_stress),
    };
    return cmocka_run_group_tests(tests, test_log_group_setup, test_log_group_teardown);
}
