/*
 * log.c - the decided log: one writer appends decided values in index order
 * into a fixed pool of segments; any number of QSBR reader threads follow it
 * without locks; retired segments come back to the pool after an RCU grace
 * period (liburcu QSBR flavour, urcu_qsbr_call_rcu).
 *
 * Owns: the segment pool, the index -> segment table, the publication
 * counters (first, next) and the waiter handshake (a futex word).
 * Must never: allocate, lock or sleep in bpc_log_append (the engine's step
 * path); hand a reader memory that was reused for another index; read a
 * clock outside bpc_log_wait (which reads CLOCK_MONOTONIC once, for the
 * absolute deadline it hands the kernel's futex wait).
 *
 * Licensing: _LGPL_SOURCE is NOT defined. liburcu's read-side fast paths
 * stay calls into the LGPL shared library; URCU_INLINE_SMALL_FUNCTIONS
 * inlines only the pointer helpers (rcu_dereference, rcu_assign_pointer),
 * which liburcu marks as small enough for non-LGPL code (docs/LOG.md).
 */
#define URCU_INLINE_SMALL_FUNCTIONS
#include "internal.h"

#include <urcu/urcu-qsbr.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Cache line size of the targets we run on (x86-64, arm64 servers). */
#define LOG_CACHE_LINE 64u
/* Segments held beyond the retained ones, so the writer keeps appending
 * while retired segments wait out their grace period. liburcu 0.13's
 * call_rcu thread runs a batch at most every ~10 ms, so sustained append
 * rate is about spare * segment_entries per 10 ms (docs/LOG.md). */
#define LOG_SPARE_SEGMENTS_MIN 4u
/* Bound on the pool (and table) size: keeps every count in 32 bits and
 * the writer's free-segment scan short. */
#define LOG_SEGMENTS_MAX (1u << 20)
/* Bound on segment_entries: a segment index offset fits 32 bits. */
#define LOG_SEGMENT_ENTRIES_MAX (1u << 24)
/* A futex timeout longer than this is clamped (about 34 years). */
#define LOG_WAIT_SECONDS_MAX (1ull << 30)
#define LOG_NS_PER_S 1000000000ull

#define LOG_SLOT_NOOP 1u
#define LOG_SLOT_ID 2u /* id holds the value's digest (eng_log_append) */

/* Values are packed in a segment's arena at this alignment. */
#define LOG_VALUE_ALIGN 8u

/* One entry's bookkeeping. Its value lives at arena + off: values are
 * packed in append order, each at a multiple of LOG_VALUE_ALIGN. */
struct log_slot {
    uint64_t off;
    uint32_t len;
    uint32_t flags;
    uint64_t skip_mask;
    uint8_t id[BPC_DIGEST_BYTES]; /* with LOG_SLOT_ID: the DIGEST value's identity */
};

struct log_segment {
    /* First member: the reclaim callback turns the head back into the
     * segment with a plain cast. */
    struct rcu_head rcu;
    /* 1 while the segment is free for the writer. Set (release) by the RCU
     * callback after a grace period, cleared by the writer when it takes
     * the segment. */
    _Atomic uint32_t reusable;
    /* First index held. Written only while the segment is free (no reader
     * can reach it), then published by rcu_assign_pointer. */
    uint64_t base;
    struct log_slot *slots;
    uint8_t *arena;
    /* Writer-private: arena bytes taken by the entries appended so far
     * (reset when the segment is opened again). */
    uint64_t fill;
};
_Static_assert(offsetof(struct log_segment, rcu) == 0, "reclaim callback casts rcu_head back");

struct bpc_log {
    /* Publication state, written by the writer, read by every reader. */
    _Alignas(LOG_CACHE_LINE) _Atomic uint64_t next;
    _Atomic uint64_t first;
    /* Waiter handshake on its own line: parking readers do not bounce the
     * line that holds next. wake_seq is the futex word. */
    _Alignas(LOG_CACHE_LINE) _Atomic uint32_t wake_seq;
    _Atomic uint32_t waiters;
    /* Fixed at bpc_log_new. */
    _Alignas(LOG_CACHE_LINE) struct log_segment **table;
    uint64_t segment_mask; /* segment_entries - 1 */
    uint32_t segment_shift;
    uint32_t segment_entries;
    uint32_t value_bytes_max;
    uint32_t value_stride; /* value_bytes_max rounded up to LOG_VALUE_ALIGN */
    uint32_t table_mask;
    uint32_t keep_segments; /* most segments published at once */
    uint32_t pool_count;
    struct log_segment *pool;
    struct log_slot *slots_mem;
    uint8_t *arena_mem;
    /* Writer-private. */
    _Alignas(LOG_CACHE_LINE) struct log_segment *head;
    uint64_t oldest_segno; /* segment number of the oldest published one */
    uint32_t published;    /* segments currently in the table */
    uint32_t cursor;       /* where the free-segment scan starts */
    bool retired;          /* a segment went to call_rcu (bpc_log_free waits) */
};

static uint32_t
log_pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

/* Checks cfg and derives the segment counts; 0 or -EINVAL. */
static int
log_config_sizes(const struct bpc_log_config *cfg, uint32_t *keep, uint32_t *pool)
{
    /* A start above BPC_DURABLE_FLOOR_MAX (the engine's floor bound):
     * next, one past the last index appended, must never wrap to 0 (it
     * did from UINT64_MAX, and every read was then -ESTALE). */
    if (cfg == NULL || cfg->retain_entries == 0 || cfg->value_bytes_max == 0 ||
        cfg->value_bytes_max > BPC_VALUE_BYTES_MAX || cfg->start_index > BPC_DURABLE_FLOOR_MAX) {
        return -EINVAL;
    }
    uint32_t seg = cfg->segment_entries;
    if (seg == 0 || (seg & (seg - 1)) != 0 || seg > LOG_SEGMENT_ENTRIES_MAX) {
        return -EINVAL;
    }
    /* ceil(retain / seg) full segments keep retain_entries readable while
     * the head segment (one more) fills. */
    uint64_t full = cfg->retain_entries / seg + (cfg->retain_entries % seg != 0);
    _Static_assert(BPC_LOG_RETAIN_SEGMENTS_MAX == LOG_SEGMENTS_MAX / 2 - 1,
                   "the public retain bound follows the pool bound");
    if (full > BPC_LOG_RETAIN_SEGMENTS_MAX) {
        return -EINVAL;
    }
    *keep = (uint32_t)full + 1;
    uint32_t spare = *keep / 2;
    if (spare < LOG_SPARE_SEGMENTS_MIN) {
        spare = LOG_SPARE_SEGMENTS_MIN;
    }
    *pool = *keep + spare;
    return 0;
}

/* Allocates the pool's memory (all of it, once); 0 or -ENOMEM/-EINVAL. */
static int
log_alloc_pool(struct bpc_log *log)
{
    size_t entries = 0;
    size_t arena = 0;
    if (__builtin_mul_overflow((size_t)log->pool_count, (size_t)log->segment_entries, &entries) ||
        __builtin_mul_overflow(entries, (size_t)log->value_stride, &arena)) {
        return -EINVAL;
    }
    log->table = calloc((size_t)log->table_mask + 1, sizeof(log->table[0]));
    log->pool = calloc(log->pool_count, sizeof(log->pool[0]));
    log->slots_mem = calloc(entries, sizeof(log->slots_mem[0]));
    /* Zeroed (calloc), though values are written before they are read: a
     * large arena then comes as untouched zero pages, resident only as far
     * as packed values ever filled each segment, where malloc under
     * MALLOC_PERTURB_ would write it all. */
    log->arena_mem = calloc(arena > 0 ? arena : 1, 1);
    if (log->table == NULL || log->pool == NULL || log->slots_mem == NULL ||
        log->arena_mem == NULL) {
        return -ENOMEM;
    }
    size_t seg_bytes = (size_t)log->segment_entries * log->value_stride;
    for (uint32_t i = 0; i < log->pool_count; i++) {
        struct log_segment *s = &log->pool[i];
        s->slots = log->slots_mem + (size_t)i * log->segment_entries;
        s->arena = log->arena_mem + (size_t)i * seg_bytes;
        atomic_init(&s->reusable, 1u);
    }
    return 0;
}

static void
log_release_memory(struct bpc_log *log)
{
    free(log->arena_mem);
    free(log->slots_mem);
    free(log->pool);
    free(log->table);
    free(log);
}

int
bpc_log_new(struct bpc_log **out, const struct bpc_log_config *cfg)
{
    if (out == NULL) {
        return -EINVAL;
    }
    *out = NULL;
    uint32_t keep = 0;
    uint32_t pool = 0;
    int rc = log_config_sizes(cfg, &keep, &pool);
    if (rc != 0) {
        return rc;
    }
    size_t size = (sizeof(struct bpc_log) + LOG_CACHE_LINE - 1) / LOG_CACHE_LINE * LOG_CACHE_LINE;
    struct bpc_log *log = aligned_alloc(LOG_CACHE_LINE, size);
    if (log == NULL) {
        return -ENOMEM;
    }
    memset(log, 0, size);
    atomic_init(&log->next, cfg->start_index);
    atomic_init(&log->first, cfg->start_index);
    atomic_init(&log->wake_seq, 0);
    atomic_init(&log->waiters, 0);
    log->segment_entries = cfg->segment_entries;
    log->segment_mask = cfg->segment_entries - 1u;
    log->segment_shift = (uint32_t)__builtin_ctz(cfg->segment_entries);
    log->oldest_segno = cfg->start_index >> log->segment_shift;
    log->value_bytes_max = cfg->value_bytes_max;
    log->value_stride = (cfg->value_bytes_max + LOG_VALUE_ALIGN - 1u) & ~(LOG_VALUE_ALIGN - 1u);
    log->keep_segments = keep;
    log->pool_count = pool;
    /* At most keep segments are published, with consecutive numbers, so a
     * table of >= keep slots indexed by segno & mask never collides. */
    log->table_mask = log_pow2_at_least(keep) - 1u;
    rc = log_alloc_pool(log);
    if (rc != 0) {
        log_release_memory(log);
        return rc;
    }
    /* The first call_rcu would otherwise create liburcu's worker thread
     * (malloc, pthread_create, a mutex) on the append path: do it now. */
    (void)urcu_qsbr_get_default_call_rcu_data();
    *out = log;
    return 0;
}

void
bpc_log_free(struct bpc_log *log)
{
    if (log == NULL) {
        return;
    }
    /* Retired segments may still have callbacks queued that write their
     * reusable flag: drain them all before the memory goes. A log that
     * never retired one has no callback to wait for, and skips the barrier
     * (a round trip through liburcu's call_rcu thread, about 10 ms: a
     * simulator freeing 999 parties' logs spent 10 s of wall time in it).
     * The barrier must not run inside a read-side section, and an online
     * QSBR thread is always inside one, so an online caller goes offline
     * around it. */
    if (!log->retired) {
        log_release_memory(log);
        return;
    }
    bool online = urcu_qsbr_read_ongoing() != 0;
    if (online) {
        urcu_qsbr_thread_offline();
    }
    urcu_qsbr_barrier();
    if (online) {
        urcu_qsbr_thread_online();
    }
    log_release_memory(log);
}

/* RCU callback (liburcu's call_rcu thread): a grace period has passed
 * since the segment left the table, so no reader still holds it. */
static void
log_segment_reclaim(struct rcu_head *head)
{
    struct log_segment *seg = (struct log_segment *)(void *)head;
    BPC_ASSERT(atomic_load_explicit(&seg->reusable, memory_order_relaxed) == 0u);
    atomic_store_explicit(&seg->reusable, 1u, memory_order_release);
}

/* Writer: unpublishes the oldest segment and queues it for reclamation.
 * `first` moves before the slot empties, so a reader that still finds the
 * segment sees correct (immutable) data, and one that finds it gone or
 * replaced reports -ESTALE. */
static void
log_segment_retire(struct bpc_log *log)
{
    uint64_t segno = log->oldest_segno;
    struct log_segment **slot = &log->table[segno & log->table_mask];
    struct log_segment *old = *slot;
    BPC_ASSERT(old != NULL);
    BPC_ASSERT(old->base == segno << log->segment_shift);
    BPC_ASSERT(old != log->head);
    atomic_store_explicit(&log->first, (segno + 1) << log->segment_shift, memory_order_release);
    rcu_assign_pointer(*slot, NULL);
    log->oldest_segno = segno + 1;
    log->published--;
    log->retired = true;
    urcu_qsbr_call_rcu(&old->rcu, log_segment_reclaim);
}

/* Writer: a free segment from the pool, or NULL while every spare one is
 * still waiting for its grace period. Retirement and reclamation are both
 * FIFO, so the scan usually stops at the cursor. */
static struct log_segment *
log_segment_take(struct bpc_log *log)
{
    uint32_t k = log->cursor;
    for (uint32_t i = 0; i < log->pool_count; i++) {
        struct log_segment *s = &log->pool[k];
        k = (k + 1 == log->pool_count) ? 0 : k + 1;
        if (atomic_load_explicit(&s->reusable, memory_order_acquire) != 0u) {
            atomic_store_explicit(&s->reusable, 0u, memory_order_relaxed);
            log->cursor = k;
            return s;
        }
    }
    return NULL;
}

/* Writer: starts the segment whose first index is `index`; 0 or -ENOBUFS.
 * Retires first (idempotent across retries: after a retirement published
 * is below keep), then takes a free segment. */
static int
log_segment_open(struct bpc_log *log, uint64_t index)
{
    if (log->published == log->keep_segments) {
        log_segment_retire(log);
    }
    BPC_ASSERT(log->published < log->keep_segments);
    struct log_segment *seg = log_segment_take(log);
    if (seg == NULL) {
        return -ENOBUFS;
    }
    seg->base = index;
    seg->fill = 0;
    /* Release (liburcu's write barrier): base is visible before the
     * pointer, and the pointer before next moves past base. */
    rcu_assign_pointer(log->table[(index >> log->segment_shift) & log->table_mask], seg);
    log->head = seg;
    log->published++;
    return 0;
}

static long
log_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout,
          uint32_t val3)
{
    return syscall(SYS_futex, word, op, val, timeout, NULL, val3);
}

/* Writer: makes entries below n visible, then wakes parked readers.
 * Store next and load waiters are both seq_cst: with the reader's seq_cst
 * increment of waiters and load of next (bpc_log_wait), either the writer
 * sees the waiter or the waiter sees the new next - no lost wake-up. */
static void
log_publish(struct bpc_log *log, uint64_t n)
{
    atomic_store_explicit(&log->next, n, memory_order_seq_cst);
    if (atomic_load_explicit(&log->waiters, memory_order_seq_cst) != 0u) {
        atomic_fetch_add_explicit(&log->wake_seq, 1u, memory_order_release);
        (void)log_futex(&log->wake_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
    }
}

int
bpc_log_append(struct bpc_log *log, uint64_t index, const uint8_t *value, uint32_t len, bool noop,
               uint64_t skip_mask)
{
    return eng_log_append(log, index, value, len, noop, skip_mask, NULL);
}

int
eng_log_append(struct bpc_log *log, uint64_t index, const uint8_t *value, uint32_t len, bool noop,
               uint64_t skip_mask, const uint8_t *id)
{
    if (log == NULL || (value == NULL && len > 0)) {
        return -EINVAL; /* before: an assertion aborted */
    }
    /* The writer alone stores next, so a relaxed load reads its own value. */
    uint64_t next = atomic_load_explicit(&log->next, memory_order_relaxed);
    if (index != next) {
        return -EINVAL; /* entries go in order, none skipped or written twice */
    }
    /* call_rcu needs a registered, online thread. */
    BPC_DEBUG_ASSERT(urcu_qsbr_read_ongoing());
    if (len > log->value_bytes_max) {
        return -EMSGSIZE;
    }
    uint64_t off = index & log->segment_mask;
    if (off == 0 || log->head == NULL) {
        /* A log that starts mid-segment (start_index) opens that segment. */
        int rc = log_segment_open(log, index - off);
        if (rc != 0) {
            return rc;
        }
    }
    struct log_segment *seg = log->head;
    BPC_ASSERT(seg->base == index - off);
    struct log_slot *slot = &seg->slots[off];
    /* Each entry takes at most value_stride bytes and the arena holds
     * segment_entries of them: a segment never runs out of arena. */
    slot->off = seg->fill;
    BPC_ASSERT(slot->off + len <= (uint64_t)log->segment_entries * log->value_stride);
    slot->len = len;
    slot->flags = (noop ? LOG_SLOT_NOOP : 0u) | (id != NULL ? LOG_SLOT_ID : 0u);
    slot->skip_mask = skip_mask;
    if (id != NULL) {
        memcpy(slot->id, id, BPC_DIGEST_BYTES);
    }
    if (len > 0) {
        memcpy(seg->arena + slot->off, value, len);
        seg->fill += (len + LOG_VALUE_ALIGN - 1u) & ~(LOG_VALUE_ALIGN - 1u);
    }
    log_publish(log, index + 1);
    return 0;
}

uint32_t
bpc_log_value_max(const struct bpc_log *log)
{
    return log->value_bytes_max;
}

uint64_t
bpc_log_next(const struct bpc_log *log)
{
    if (log == NULL) {
        return 0;
    }
    return atomic_load_explicit(&log->next, memory_order_acquire);
}

uint64_t
bpc_log_first(const struct bpc_log *log)
{
    if (log == NULL) {
        return 0;
    }
    return atomic_load_explicit(&log->first, memory_order_acquire);
}

/*
 * Why no second check after reading the entry: the caller is an online
 * QSBR thread, so from the rcu_dereference below until its next quiescent
 * state no grace period that started after the load can end. A segment is
 * reused only after (1) it left the table and (2) a grace period then
 * passed. So the segment we loaded cannot be rewritten while we read it:
 * if its base matches here it still matches after the read, and the entry
 * (published before next moved past it, immutable afterwards) is the one
 * for `index`. If the slot is empty or holds a later segment (the table
 * slot was reused), our segment was retired: -ESTALE. The slot never
 * holds an earlier segment, because it was set for index's segment before
 * next moved past index (acquire below), and later writes only empty it
 * or install later segments. Entries handed out stay valid until the
 * reader's next quiescent state, as the header says.
 */
int
bpc_log_read(struct bpc_log *log, uint64_t index, struct bpc_log_entry *out)
{
    return eng_log_read(log, index, out, NULL);
}

int
eng_log_read(struct bpc_log *log, uint64_t index, struct bpc_log_entry *out, const uint8_t **id)
{
    if (id != NULL) {
        *id = NULL;
    }
    if (log == NULL || out == NULL) {
        return -EINVAL;
    }
    /* Only an online QSBR thread pins what it reads (the argument above). */
    BPC_DEBUG_ASSERT(urcu_qsbr_read_ongoing());
    if (index >= atomic_load_explicit(&log->next, memory_order_acquire)) {
        return -EAGAIN;
    }
    if (index < atomic_load_explicit(&log->first, memory_order_acquire)) {
        return -ESTALE;
    }
    struct log_segment *seg =
        rcu_dereference(log->table[(index >> log->segment_shift) & log->table_mask]);
    uint64_t off = index & log->segment_mask;
    if (seg == NULL || seg->base != index - off) {
        return -ESTALE;
    }
    const struct log_slot *slot = &seg->slots[off];
    out->index = index;
    out->len = slot->len;
    out->noop = (slot->flags & LOG_SLOT_NOOP) != 0u;
    out->skip_mask = slot->skip_mask;
    out->value = seg->arena + slot->off;
    BPC_ASSERT(out->len <= log->value_bytes_max);
    if (id != NULL && (slot->flags & LOG_SLOT_ID) != 0u) {
        *id = slot->id;
    }
    return 0;
}

int
bpc_log_copy(struct bpc_log *log, uint64_t index, uint8_t *buf, uint32_t cap, bool *noop)
{
    struct bpc_log_entry e;
    int rc = bpc_log_read(log, index, &e);
    if (rc != 0) {
        return rc;
    }
    if (e.len > cap) {
        return -ENOBUFS;
    }
    if (buf == NULL && e.len > 0) {
        return -EINVAL; /* before: an assertion aborted */
    }
    if (e.len > 0) {
        memcpy(buf, e.value, e.len);
    }
    if (noop != NULL) {
        *noop = e.noop;
    }
    /* len <= value_bytes_max <= BPC_VALUE_BYTES_MAX, so it fits an int. */
    return (int)e.len;
}

/* The absolute CLOCK_MONOTONIC time timeout_ns from now (the wait's
 * deadline, read once per bpc_log_wait); a timeout above
 * LOG_WAIT_SECONDS_MAX seconds is clamped. */
static struct timespec
log_deadline(uint64_t timeout_ns)
{
    struct timespec now;
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t s = timeout_ns / LOG_NS_PER_S;
    if (s > LOG_WAIT_SECONDS_MAX) {
        s = LOG_WAIT_SECONDS_MAX;
    }
    long ns = now.tv_nsec + (long)(timeout_ns % LOG_NS_PER_S);
    if (ns >= (long)LOG_NS_PER_S) {
        ns -= (long)LOG_NS_PER_S;
        s++;
    }
    struct timespec ts = {.tv_sec = now.tv_sec + (time_t)s, .tv_nsec = ns};
    return ts;
}

/* Parks on wake_seq until next > index or the deadline passes. The
 * deadline is absolute (FUTEX_WAIT_BITSET measures it on CLOCK_MONOTONIC),
 * so a wake by a publication below index, EAGAIN or EINTR sleeps again
 * only for what remains (before: a relative timeout restarted at every
 * publication, and a reader behind a steady writer waited far past
 * timeout_ns). */
static int
log_wait_parked(struct bpc_log *log, uint64_t index, uint64_t timeout_ns)
{
    const struct timespec deadline =
        timeout_ns == 0 ? (struct timespec){0} : log_deadline(timeout_ns);
    for (;;) {
        uint32_t seq = atomic_load_explicit(&log->wake_seq, memory_order_acquire);
        if (index < atomic_load_explicit(&log->next, memory_order_seq_cst)) {
            return 0;
        }
        if (timeout_ns == 0) {
            return -ETIMEDOUT;
        }
        long r = log_futex(&log->wake_seq, FUTEX_WAIT_BITSET_PRIVATE, seq, &deadline,
                           FUTEX_BITSET_MATCH_ANY);
        if (r != 0 && errno == ETIMEDOUT) {
            bool done = index < atomic_load_explicit(&log->next, memory_order_seq_cst);
            return done ? 0 : -ETIMEDOUT;
        }
        /* Woken, EAGAIN (wake_seq moved before we slept) or EINTR. */
    }
}

int
bpc_log_wait(struct bpc_log *log, uint64_t index, uint64_t timeout_ns)
{
    if (log == NULL) {
        return -EINVAL;
    }
    if (index < atomic_load_explicit(&log->next, memory_order_acquire)) {
        return 0;
    }
    /* Blocked readers must not hold up grace periods (and with them the
     * writer's supply of segments): go offline while parked. */
    bool online = urcu_qsbr_read_ongoing() != 0;
    if (online) {
        urcu_qsbr_thread_offline();
    }
    atomic_fetch_add_explicit(&log->waiters, 1u, memory_order_seq_cst);
    int rc = log_wait_parked(log, index, timeout_ns);
    uint32_t before = atomic_fetch_sub_explicit(&log->waiters, 1u, memory_order_relaxed);
    BPC_ASSERT(before > 0u);
    if (online) {
        urcu_qsbr_thread_online();
    }
    return rc;
}

/* Whether this thread registered through bpc_log_thread_register: liburcu
 * asserts on a second registration and on unregistering a thread it does
 * not know (before, both aborted the process), so both calls check it. */
static _Thread_local bool log_thread_registered;

void
bpc_log_thread_register(void)
{
    if (log_thread_registered) {
        return;
    }
    urcu_qsbr_register_thread();
    log_thread_registered = true;
}

void
bpc_log_thread_unregister(void)
{
    if (!log_thread_registered) {
        return;
    }
    urcu_qsbr_unregister_thread();
    log_thread_registered = false;
}

void
bpc_log_quiescent(void)
{
    urcu_qsbr_quiescent_state();
}

void
bpc_log_thread_offline(void)
{
    urcu_qsbr_thread_offline();
}

void
bpc_log_thread_online(void)
{
    urcu_qsbr_thread_online();
}
