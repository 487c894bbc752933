/*
 * test_log_stress.c - the decided log (engine/src/log.c) under a writer
 * and two readers running flat out (log_fx.h holds the helpers shared
 * with test_log.c and test_log_wait.c).
 *
 * Goal: no reader ever sees a wrong value, nor an entry it holds change
 * before its quiescent state.
 * Method: an rcutorture-style stress run that records how far readers
 * lagged and how often they fell behind the retained window. No timing
 * assertions: clocks only bound a run that would otherwise hang.
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

#include "bpcon.h"

#include "log_fx.h"

/* Stress run shape (the brief: ~300k entries, retain 1024, segment 64). */
#define TEST_LOG_STRESS_ENTRIES 300000u
#define TEST_LOG_STRESS_RETAIN 1024u
#define TEST_LOG_STRESS_SEGMENT 64u
#define TEST_LOG_STRESS_READERS 2u

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_stress),
    };
    return cmocka_run_group_tests(tests, test_log_group_setup, test_log_group_teardown);
}
