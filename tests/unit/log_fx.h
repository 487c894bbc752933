/*
 * log_fx.h - what the decided log's tests share (test_log.c,
 * test_log_wait.c, test_log_stress.c): entries whose values are derived
 * from their index, appended and checked; an append that retries while
 * reclamation is pending; logs of a given shape; the group setup that
 * registers the test's thread; and the clock that only bounds a run that
 * would otherwise hang. Must never: assert on timing.
 */
#ifndef BPC_TEST_LOG_FX_H
#define BPC_TEST_LOG_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "bpcon.h"

#define TEST_LOG_NS_PER_MS 1000000ull
/* A wait that should succeed gets this long before we call it a hang. */
#define TEST_LOG_HANG_NS (10000ull * TEST_LOG_NS_PER_MS)
/* Hang guard for threaded tests, never a pass/fail timing criterion. */
#define TEST_LOG_DEADLINE_S 90

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t test_log_now_ns(void);
/* Appends entry index: 8..64 bytes whose contents are a function of
 * index, or a noop for every 97th. */
int test_log_append_derived(struct bpc_log *log, uint64_t index);
/* Whether e is entry index as test_log_append_derived appended it. */
bool test_log_entry_ok(const struct bpc_log_entry *e, uint64_t index);
/* Appends until success, passing quiescent states so grace periods can
 * finish; -ENOBUFS only means reclamation is still pending. -ETIMEDOUT
 * past deadline_ns; each -ENOBUFS counted in *retries. */
int test_log_append_retry(struct bpc_log *log, uint64_t index, uint64_t deadline_ns,
                          uint64_t *retries);
/* A new log of that shape; it must be accepted. */
struct bpc_log *test_log_make(uint64_t retain, uint32_t segment, uint32_t value_max);
/* The group setup and teardown: register and unregister this thread. */
int test_log_group_setup(void **state);
int test_log_group_teardown(void **state);

#endif
