/*
 * log_fx.c - what the decided log's tests share (log_fx.h): derived
 * entries appended and checked, the retrying append, logs made, the group
 * setup and the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "bpcon.h"

#include "log_fx.h"

uint64_t
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
int
test_log_append_derived(struct bpc_log *log, uint64_t index)
{
    uint8_t buf[64];
    if (test_log_is_noop(index)) {
        return bpc_log_append(log, index, NULL, 0, true, 0);
    }
    uint32_t len = test_log_fill(index, buf);
    return bpc_log_append(log, index, buf, len, false, 0);
}

bool
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
int
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

struct bpc_log *
test_log_make(uint64_t retain, uint32_t segment, uint32_t value_max)
{
    struct bpc_log_config cfg = {
        .retain_entries = retain, .segment_entries = segment, .value_bytes_max = value_max};
    struct bpc_log *log = NULL;
    assert_int_equal(bpc_log_new(&log, &cfg), 0);
    assert_non_null(log);
    return log;
}

int
test_log_group_setup(void **state)
{
    (void)state;
    bpc_log_thread_register();
    return 0;
}

int
test_log_group_teardown(void **state)
{
    (void)state;
    bpc_log_thread_unregister();
    return 0;
}
