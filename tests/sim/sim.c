/*
 * sim.c - the deterministic cluster simulator (library part of bpcon-sim).
 *
 * Owns: the virtual clock, the seeded network (a calendar of delivery
 * times whose buckets keep sequence order, so frames arrive in the total
 * order on (deliver_at_ns, sequence)), the frame arena, the per-party
 * in-memory disks and decided logs, the command submitter, crashes,
 * restarts from disk, the Byzantine phase and its heal,
 * the safety checkers and the liveness checker (Byzantine behaviours live
 * in byz.c). Must never: read a wall clock, draw entropy or call rand()
 * (everything derives from opts.seed), touch engine internals, or let a
 * checker failure pass silently.
 */
#include "sim_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* A step that keeps asking for more room or more persistence this many
 * times in a row is an engine bug, not progress. */
#define SIM_STEP_LOOPS_MAX 100000u
/* Events between two progress callbacks. */
#define SIM_PROGRESS_EVENTS 4096u
/* Decided-log memory budget over all parties, so 999 parties fit too. */
#define SIM_LOG_BUDGET_BYTES (1024ull * 1024 * 1024)
#define SIM_LOG_SEGMENT_ENTRIES 256u
/* With a liveness bound: commands outstanding over all parties at most
 * (each party keeps max(1, this / parties) outstanding). */
#define SIM_OUTSTANDING_TOTAL 64u

/* ------------------------------------------------------------------------
 * PRNG: splitmix64 seeding xoshiro256**.
 * ---------------------------------------------------------------------- */

/* One splitmix64 output (stream seeds, set hashing). */
static uint64_t
sim_splitmix64(uint64_t *state)
{
    return bpc_splitmix64(state);
}

/* A probability as a u64 cut so draws use no floating point. */
static uint64_t
sim_prob_cut(double p)
{
    if (p <= 0.0) {
        return 0;
    }
    if (p >= 1.0) {
        return UINT64_MAX;
    }
    return (uint64_t)(p * 18446744073709551616.0);
}

/* True with the probability the cut stands for (one draw either way). */
static bool
sim_rng_chance(struct sim_rng *r, uint64_t cut)
{
    if (cut == UINT64_MAX) {
        sim_rng_next(r);
        return true;
    }
    return sim_rng_next(r) < cut;
}

/* ------------------------------------------------------------------------
 * Errors and memory.
 * ---------------------------------------------------------------------- */

/* Formats a refusal message into err (which may be NULL). */
static void sim_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* The capacity an array of cap elements doubles to for need (cap < need). */
static uint64_t
sim_grown_cap(uint64_t cap, uint64_t need)
{
    uint64_t ncap = cap ? cap : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    return ncap;
}

/* Grows a zero-filled array to hold at least need elements (doubling). */
static void *
sim_grow(void *p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) {
        return p;
    }
    uint64_t ncap = sim_grown_cap(*cap, need);
    void *np = realloc(p, (size_t)ncap * elem);
    if (np == NULL) {
        fprintf(stderr, "bpcon-sim: out of memory\n");
        abort();
    }
    memset((uint8_t *)np + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *cap = ncap;
    return np;
}

/* Zeroed allocation; out of memory aborts the run. */
void *
sim_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "bpcon-sim: out of memory\n");
        abort();
    }
    return p;
}

/* Records the first violation and stops the run. */
static void sim_violation(struct sim *s, bool *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_violation(struct sim *s, bool *flag, const char *fmt, ...)
{
    *flag = false;
    s->outcome = SIM_VIOLATION;
    if (s->r.violation[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r.violation, sizeof(s->r.violation), fmt, ap);
    va_end(ap);
}

/* Records an engine misbehaviour (the first problem wins) and ends the run. */
void
sim_engine_error(struct sim *s, const char *fmt, ...)
{
    if (s->outcome == SIM_RUNNING) {
        s->outcome = SIM_ENGINE_ERROR;
    }
    if (s->r.violation[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r.violation, sizeof(s->r.violation), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Network: the frame arena and the delivery calendar.
 *
 * A frame in flight is a message: a struct sim_msg header and its bytes,
 * bump-allocated (8-byte aligned) in the arena chunk being written. A
 * broadcast sends the same records to every peer, so a frame's middle
 * (between its SIM_SPLIT_HEAD bytes of wire header and its SIM_SPLIT_TAIL
 * bytes of tag) goes to a struct sim_body shared, by reference count, with
 * the frames just before it that carry the same middle. The body also
 * holds the head of the first of them; each frame keeps only its tag and
 * the head bytes that differ from that one (the receiver and the sequence
 * number, as a 32-bit mask and those bytes). A 1-record frame (112
 * bytes) of a broadcast then takes 32 plus its share of the body. Each
 * chunk counts its objects in flight; when the last one goes, a chunk no
 * longer written goes back to a short spare list, or is freed, so memory
 * follows the frames in flight.
 *
 * The calendar: for each distinct delivery time in flight, a bucket holding
 * the FIFO of its deliveries (an open-addressing table on the time; the
 * FIFO is a chain of blocks of struct sim_ev), and a min-heap of those
 * times. Every copy scheduled gets the next sequence number, so appending
 * keeps each FIFO in sequence order, and taking the earliest bucket front
 * to back delivers in (deliver_at_ns, sequence) order: the total order of
 * a heap on both, at O(1) per frame. The delivery pass reads only the
 * blocks (receiver and record count are kept there), not the frames.
 * ---------------------------------------------------------------------- */

/* Empty chunks kept for reuse (beyond them, a chunk's memory is freed). */
#define SIM_CHUNK_SPARE 64u
/* Calendar slots at first (a power of two; kept at most half full). */
#define SIM_CAL_SLOTS_MIN 1024u

/* A frame's head and tail, kept with each copy (the head as its
 * difference from the body's); the middle between them is shared when it
 * is at least SIM_SPLIT_MIN bytes. */
#define SIM_SPLIT_HEAD BPC_WIRE_HEADER_BYTES
#define SIM_SPLIT_TAIL BPC_TAG_BYTES
#define SIM_SPLIT_MIN 32u
_Static_assert(SIM_SPLIT_HEAD == 32u, "the head difference is a 32-bit mask");
_Static_assert(SIM_FRAME_BYTES_MAX <= UINT16_MAX, "a frame's length fits sim_msg.len");

/* The arena object a handle names. */
static inline void *
sim_arena_at(const struct sim *s, uint32_t h)
{
    const uint32_t mask = (1u << SIM_HANDLE_OFF_BITS) - 1u;
    return s->chunks[h >> SIM_HANDLE_OFF_BITS].mem + (size_t)(h & mask) * 8u;
}

/* The message a handle names. */
static inline struct sim_msg *
sim_msg_at(const struct sim *s, uint32_t h)
{
    return sim_arena_at(s, h);
}

/* The bytes after a message's header: the whole frame, or (with a body)
 * the head mask, the differing head bytes and the tail. */
static inline uint8_t *
sim_msg_bytes(struct sim_msg *m)
{
    return (uint8_t *)(m + 1);
}

/* Bytes rounded up to the arena's 8-byte alignment. */
static uint32_t
sim_round8(uint32_t x)
{
    return (x + 7u) & ~7u;
}

/* Arena bytes of a frame message (its shared body not included). */
static uint32_t
sim_msg_size(const struct sim_msg *m)
{
    if (m->body == SIM_NONE) {
        return (uint32_t)sizeof(*m) + sim_round8(m->len);
    }
    uint32_t own = (uint32_t)sizeof(uint32_t) + m->diff + SIM_SPLIT_TAIL; /* mask, bytes, tag */
    return (uint32_t)sizeof(*m) + sim_round8(own);
}

/* Arena bytes of a shared body (the reference head and the middle). */
static uint32_t
sim_body_size(const struct sim_body *b)
{
    return (uint32_t)sizeof(*b) + sim_round8(SIM_SPLIT_HEAD + b->len);
}

/* Large simulator memory (the frame chunks; the pair keys and the
 * calendar's block array from 2 MiB up): anonymous mappings on ordinary
 * pages, zeroed by the kernel (no memset) and populated at once
 * (MAP_POPULATE): each is written through soon after, and one call that
 * fills a mapping costs less system time than a fault per page (at 999
 * parties about 22,000 of the run's 58,000 faults); sim_unmap_big gives
 * them back. Not offered to transparent huge pages:
 * where the guest kernel reports free 2 MiB blocks to its hypervisor (a
 * virtio balloon with free page reporting, as on the machine the figures
 * come from), a fresh huge page is often one the host must back again,
 * and in about half the runs faulting those in cost more than the 4 KiB
 * faults they save (bench/RESULTS.md). */
#define SIM_BIG_BYTES (UINT32_C(1) << 21)

static size_t
sim_big_len(size_t bytes)
{
    return (bytes + 4095u) & ~(size_t)4095u;
}

static void *
sim_map_big(size_t bytes)
{
    void *p = mmap(NULL, sim_big_len(bytes), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "bpcon-sim: out of memory\n");
        abort();
    }
    return p;
}

static void
sim_unmap_big(void *p, size_t bytes)
{
    if (p != NULL) {
        (void)munmap(p, sim_big_len(bytes));
    }
}

/* Zeroed memory for a large array: its own mapping from SIM_BIG_BYTES
 * up, else the heap; sim_free_big with the same size gives it back. */
static void *
sim_calloc_big(size_t bytes)
{
    return bytes >= SIM_BIG_BYTES ? sim_map_big(bytes) : sim_calloc(1, bytes);
}

static void
sim_free_big(void *p, size_t bytes)
{
    if (bytes >= SIM_BIG_BYTES) {
        sim_unmap_big(p, bytes);
    } else {
        free(p);
    }
}

/* sim_grow for an array that reaches megabytes (the calendar's blocks:
 * about 11 MB at 999 parties): from SIM_BIG_BYTES up on its own mapping,
 * moved by mremap when it grows (the heap's copy below that size);
 * sim_free_big with cap x elem bytes frees it. */
static void *
sim_grow_big(void *p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) {
        return p;
    }
    uint64_t ncap = sim_grown_cap(*cap, need);
    size_t old_bytes = (size_t)*cap * elem;
    if ((size_t)ncap * elem < SIM_BIG_BYTES) {
        return sim_grow(p, cap, need, elem);
    }
    void *np;
    if (old_bytes >= SIM_BIG_BYTES) { /* moves the pages, copies nothing */
        np = mremap(p, sim_big_len(old_bytes), sim_big_len((size_t)ncap * elem), MREMAP_MAYMOVE);
        if (np == MAP_FAILED) {
            fprintf(stderr, "bpcon-sim: out of memory\n");
            abort();
        }
    } else {
        np = sim_map_big((size_t)ncap * elem);
        if (old_bytes > 0) {
            memcpy(np, p, old_bytes);
        }
        sim_free_big(p, old_bytes);
    }
    *cap = ncap;
    return np;
}

/* A chunk with memory for writing: a spare one, else a new one. */
static uint32_t
sim_chunk_take(struct sim *s)
{
    uint32_t c = s->chunk_spare;
    if (c != SIM_NONE) {
        s->chunk_spare = s->chunks[c].next;
        s->chunk_spare_count--;
        return c;
    }
    c = s->chunk_unused;
    if (c != SIM_NONE) {
        s->chunk_unused = s->chunks[c].next;
    } else {
        if (s->chunks_count >= SIM_CHUNKS_MAX) {
            fprintf(stderr, "bpcon-sim: more than %u frame chunks in flight\n", SIM_CHUNKS_MAX);
            abort();
        }
        uint64_t cap = s->chunks_cap;
        s->chunks = sim_grow(s->chunks, &cap, (uint64_t)s->chunks_count + 1, sizeof(*s->chunks));
        s->chunks_cap = (uint32_t)cap;
        c = s->chunks_count++;
    }
    s->chunks[c].mem = sim_map_big(SIM_CHUNK_BYTES);
    s->chunks[c].live = 0;
    return c;
}

/* An emptied chunk no longer written: kept as a spare, or freed. */
static void
sim_chunk_release(struct sim *s, uint32_t c)
{
    struct sim_chunk *ch = &s->chunks[c];
    if (s->chunk_spare_count < SIM_CHUNK_SPARE) {
        ch->next = s->chunk_spare;
        s->chunk_spare = c;
        s->chunk_spare_count++;
        return;
    }
    sim_unmap_big(ch->mem, SIM_CHUNK_BYTES);
    ch->mem = NULL;
    ch->next = s->chunk_unused;
    s->chunk_unused = c;
}

/* Room for an arena object of size bytes (a multiple of 8); its handle. */
static uint32_t
sim_arena_alloc(struct sim *s, uint32_t size)
{
    if (s->chunk_cur == SIM_NONE || s->chunk_used + size > SIM_CHUNK_BYTES) {
        if (s->chunk_cur == SIM_NONE || s->chunks[s->chunk_cur].live > 0) {
            /* A full chunk still in use is released by its last object. */
            s->chunk_cur = sim_chunk_take(s);
        }
        s->chunk_used = 0;
    }
    uint32_t h = s->chunk_cur << SIM_HANDLE_OFF_BITS | s->chunk_used / 8u;
    s->chunk_used += size;
    s->chunks[s->chunk_cur].live++;
    s->net_bytes += size;
    if (s->net_bytes > s->r.net_bytes_max) {
        s->r.net_bytes_max = s->net_bytes;
    }
    return h;
}

/* An arena object of size bytes is gone: its chunk may empty. */
static void
sim_arena_free(struct sim *s, uint32_t h, uint32_t size)
{
    uint32_t c = h >> SIM_HANDLE_OFF_BITS;
    s->net_bytes -= size;
    if (--s->chunks[c].live > 0) {
        return;
    }
    if (c == s->chunk_cur) {
        s->chunk_used = 0; /* nothing in it is in flight: write it afresh */
    } else {
        sim_chunk_release(s, c);
    }
}

/* One more frame in flight (and the peak). */
static void
sim_inflight_add(struct sim *s)
{
    if (++s->net_inflight > s->r.net_inflight_max) {
        s->r.net_inflight_max = s->net_inflight;
    }
}

/* The shared body for a frame of len bytes: the last one stored when its
 * middle is the same (a broadcast's next copy), else a new one with this
 * frame's head as the reference. */
static uint32_t
sim_body_for(struct sim *s, const uint8_t *bytes, uint32_t len)
{
    const uint8_t *mid = bytes + SIM_SPLIT_HEAD;
    uint32_t mlen = len - SIM_SPLIT_HEAD - SIM_SPLIT_TAIL;
    if (s->last_body != SIM_NONE) {
        struct sim_body *b = sim_arena_at(s, s->last_body);
        if (b->len == mlen && memcmp((uint8_t *)(b + 1) + SIM_SPLIT_HEAD, mid, mlen) == 0) {
            b->refs++;
            return s->last_body;
        }
    }
    uint32_t h =
        sim_arena_alloc(s, (uint32_t)sizeof(struct sim_body) + sim_round8(SIM_SPLIT_HEAD + mlen));
    struct sim_body *b = sim_arena_at(s, h);
    b->refs = 1;
    b->len = mlen;
    memcpy(b + 1, bytes, SIM_SPLIT_HEAD + mlen);
    s->last_body = h;
    return h;
}

/* Bit i set where byte i of two SIM_SPLIT_HEAD-byte headers differs
 * (two SSE2 compares of 16 bytes; a byte loop where SSE2 is missing). */
static uint32_t
sim_head_diff_mask(const uint8_t *a, const uint8_t *b)
{
    _Static_assert(SIM_SPLIT_HEAD == 32, "two 16-byte compares cover the head");
#if defined(__SSE2__)
    __m128i lo =
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)a), _mm_loadu_si128((const __m128i *)b));
    __m128i hi = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(a + 16)),
                                _mm_loadu_si128((const __m128i *)(b + 16)));
    uint32_t same = (uint32_t)_mm_movemask_epi8(lo) | (uint32_t)_mm_movemask_epi8(hi) << 16;
    return ~same;
#else
    uint32_t mask = 0;
    for (uint32_t i = 0; i < SIM_SPLIT_HEAD; i++) {
        mask |= (uint32_t)(a[i] != b[i]) << i;
    }
    return mask;
#endif
}

/* Stores a copy of a frame in the arena; the message's handle. */
static uint32_t
sim_msg_store(struct sim *s, const uint8_t *bytes, uint32_t len)
{
    if (len < SIM_SPLIT_HEAD + SIM_SPLIT_MIN + SIM_SPLIT_TAIL) {
        struct sim_msg whole = {.body = SIM_NONE, .len = (uint16_t)len};
        uint32_t h = sim_arena_alloc(s, sim_msg_size(&whole));
        struct sim_msg *m = sim_msg_at(s, h);
        *m = whole;
        memcpy(sim_msg_bytes(m), bytes, len);
        sim_inflight_add(s);
        return h;
    }
    uint32_t body = sim_body_for(s, bytes, len);
    const uint8_t *ref = (const uint8_t *)((const struct sim_body *)sim_arena_at(s, body) + 1);
    uint32_t mask = sim_head_diff_mask(bytes, ref);
    uint32_t k = (uint32_t)__builtin_popcount(mask);
    uint32_t h = sim_arena_alloc(s, (uint32_t)sizeof(struct sim_msg) +
                                        sim_round8((uint32_t)sizeof(mask) + k + SIM_SPLIT_TAIL));
    struct sim_msg *m = sim_msg_at(s, h);
    m->len = (uint16_t)len;
    m->body = body;
    m->diff = (uint16_t)k;
    uint8_t *own = sim_msg_bytes(m);
    memcpy(own, &mask, sizeof(mask));
    uint8_t *d = own + sizeof(mask);
    for (uint32_t rest = mask; rest != 0; rest &= rest - 1) {
        *d++ = bytes[__builtin_ctz(rest)];
    }
    memcpy(own + sizeof(mask) + k, bytes + len - SIM_SPLIT_TAIL, SIM_SPLIT_TAIL);
    sim_inflight_add(s);
    return h;
}

/* A frame's bytes: in place when stored whole, else put together in buf
 * (room for m->len bytes). */
static const uint8_t *
sim_msg_view(const struct sim *s, struct sim_msg *m, uint8_t *buf)
{
    if (m->body == SIM_NONE) {
        return sim_msg_bytes(m);
    }
    const struct sim_body *b = sim_arena_at(s, m->body);
    const uint8_t *own = sim_msg_bytes(m);
    uint32_t mask;
    memcpy(&mask, own, sizeof(mask));
    own += sizeof(mask);
    memcpy(buf, b + 1, SIM_SPLIT_HEAD + b->len);
    for (uint32_t rest = mask; rest != 0; rest &= rest - 1) {
        buf[__builtin_ctz(rest)] = *own++;
    }
    memcpy(buf + SIM_SPLIT_HEAD + b->len, own, SIM_SPLIT_TAIL);
    return buf;
}

/* A frame delivered or dropped: it and (with its last reference) its body
 * leave the arena. */
static void
sim_msg_free(struct sim *s, uint32_t h)
{
    struct sim_msg *m = sim_msg_at(s, h);
    if (m->body != SIM_NONE) {
        struct sim_body *b = sim_arena_at(s, m->body);
        if (--b->refs == 0) {
            if (s->last_body == m->body) {
                s->last_body = SIM_NONE;
            }
            sim_arena_free(s, m->body, sim_body_size(b));
        }
    }
    s->net_inflight--;
    sim_arena_free(s, h, sim_msg_size(m));
}

/* The calendar slot a time hashes to. */
static uint32_t
sim_cal_home(const struct sim *s, uint64_t at_ns)
{
    uint64_t x = at_ns * 0x9e3779b97f4a7c15u;
    return (uint32_t)(x >> 32 ^ x) & s->cal_mask;
}

/* An empty calendar of slots slots (a power of two). */
static void
sim_cal_alloc(struct sim *s, uint32_t slots)
{
    s->cal = sim_calloc(slots, sizeof(*s->cal));
    s->cal_mask = slots - 1u;
    s->cal_count = 0;
    for (uint32_t i = 0; i < slots; i++) {
        s->cal[i].head = SIM_NONE;
    }
}

/* The slot of the bucket for at_ns, or the empty slot where it goes. */
static uint32_t
sim_cal_slot(const struct sim *s, uint64_t at_ns)
{
    uint32_t i = sim_cal_home(s, at_ns);
    while (s->cal[i].head != SIM_NONE && s->cal[i].at_ns != at_ns) {
        i = (i + 1) & s->cal_mask;
    }
    return i;
}

/* Doubles the calendar's table. */
static void
sim_cal_grow(struct sim *s)
{
    struct sim_bucket *old = s->cal;
    uint32_t slots = s->cal_mask + 1u;
    uint32_t count = s->cal_count;
    sim_cal_alloc(s, 2 * slots);
    for (uint32_t i = 0; i < slots; i++) {
        if (old[i].head != SIM_NONE) {
            s->cal[sim_cal_slot(s, old[i].at_ns)] = old[i];
        }
    }
    s->cal_count = count;
    free(old);
}

/* Empties slot i (linear probing: later entries of its run shift back). */
static void
sim_cal_remove(struct sim *s, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & s->cal_mask;
        if (s->cal[j].head == SIM_NONE) {
            break;
        }
        uint32_t k = sim_cal_home(s, s->cal[j].at_ns);
        /* Entry j may move to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            s->cal[i] = s->cal[j];
            i = j;
        }
    }
    s->cal[i].head = SIM_NONE;
    s->cal_count--;
}

/* Adds a time to the min-heap of bucket times. */
static void
sim_times_push(struct sim *s, uint64_t at_ns)
{
    uint64_t cap = s->times_cap;
    s->times = sim_grow(s->times, &cap, (uint64_t)s->times_count + 1, sizeof(*s->times));
    s->times_cap = (uint32_t)cap;
    uint32_t i = s->times_count++;
    while (i > 0 && s->times[(i - 1) / 2] > at_ns) {
        s->times[i] = s->times[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->times[i] = at_ns;
}

/* Takes the earliest time off the min-heap. */
static void
sim_times_pop(struct sim *s)
{
    uint64_t last = s->times[--s->times_count];
    uint32_t count = s->times_count;
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= count) {
            break;
        }
        if (c + 1 < count && s->times[c + 1] < s->times[c]) {
            c++;
        }
        if (s->times[c] >= last) {
            break;
        }
        s->times[i] = s->times[c];
        i = c;
    }
    if (count > 0) {
        s->times[i] = last;
    }
}

/* An empty block (from the free list, else a new one). */
static uint32_t
sim_block_new(struct sim *s)
{
    uint32_t b = s->block_free;
    if (b != SIM_NONE) {
        s->block_free = s->blocks[b].next;
    } else {
        uint64_t cap = s->blocks_cap;
        s->blocks =
            sim_grow_big(s->blocks, &cap, (uint64_t)s->blocks_count + 1, sizeof(*s->blocks));
        s->blocks_cap = (uint32_t)cap;
        b = s->blocks_count++;
    }
    s->blocks[b].next = SIM_NONE;
    s->blocks[b].count = 0;
    return b;
}

/* Returns a block whose deliveries are done to the free list. */
static void
sim_block_free(struct sim *s, uint32_t b)
{
    s->blocks[b].next = s->block_free;
    s->block_free = b;
}

/* Schedules a delivery for at_ns, after every one scheduled before. */
static void
sim_cal_push(struct sim *s, uint64_t at_ns, struct sim_ev ev)
{
    uint32_t i = sim_cal_slot(s, at_ns);
    if (s->cal[i].head == SIM_NONE) {
        if (2u * (s->cal_count + 1u) > s->cal_mask + 1u) {
            sim_cal_grow(s);
            i = sim_cal_slot(s, at_ns);
        }
        uint32_t b = sim_block_new(s);
        s->cal[i].at_ns = at_ns;
        s->cal[i].head = b;
        s->cal[i].tail = b;
        s->cal_count++;
        sim_times_push(s, at_ns);
    }
    struct sim_bucket *bk = &s->cal[i];
    if (s->blocks[bk->tail].count == SIM_BLOCK_EVS) {
        uint32_t b = sim_block_new(s);
        s->blocks[bk->tail].next = b;
        bk->tail = b;
    }
    struct sim_block *blk = &s->blocks[bk->tail];
    blk->ev[blk->count++] = ev;
}

/* The earliest delivery time in flight (SIM_NEVER: none). */
static uint64_t
sim_cal_next(const struct sim *s)
{
    return s->times_count > 0 ? s->times[0] : SIM_NEVER;
}

/* Takes the earliest bucket off the calendar: its first block (the rest
 * follow by next). Deliveries scheduled for the same time afterwards go to
 * a new bucket, behind these. */
static uint32_t
sim_cal_take_first(struct sim *s)
{
    uint32_t i = sim_cal_slot(s, s->times[0]);
    uint32_t b = s->cal[i].head;
    sim_cal_remove(s, i);
    sim_times_pop(s);
    return b;
}

/* A crashed party receives nothing (a Byzantine one runs an engine and
 * receives like any other until the heal silences it). */
static bool
sim_dead(const struct sim *s, uint32_t p)
{
    return s->rx[p].crashed;
}

/* BPC_SIM_DEBUG: counts a delivered frame's records by type. */
static void
sim_debug_count(struct sim *s, const uint8_t *bytes, uint32_t len)
{
    struct bpc_frame_header hd;
    if (!s->debug || bpc_wire_parse_header(bytes, len, &hd) != 0) {
        return;
    }
    int k = bpc_wire_decode(bytes, len, &hd, s->debug_recs, 65536);
    for (int i = 0; i < k; i++) {
        s->debug_types[s->debug_recs[i].type % BPC_MSG_TYPES_COUNT]++;
    }
}

/* Schedules one copy: the filter may change the delay or drop it. */
static void
sim_net_schedule(struct sim *s, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len,
                 uint64_t delay_ns, bool filtered)
{
    if (filtered && s->o.filter != NULL &&
        !s->o.filter(s->o.filter_ctx, from, to, bytes, len, &delay_ns)) {
        s->r.frames_filtered++;
        return;
    }
    uint32_t h = sim_msg_store(s, bytes, len);
    /* The record count, read while the bytes are hot (counted on delivery). */
    struct bpc_frame_header hd;
    struct sim_ev ev = {.msg = h, .to = (uint16_t)to};
    ev.records = bpc_wire_parse_header(bytes, len, &hd) == 0 ? hd.record_count : 0;
    uint64_t at = s->now_ns + delay_ns;
    if (at < s->now_ns) {
        at = SIM_NEVER;
    }
    sim_cal_push(s, at, ev);
}

/* One delay draw in whole microseconds. */
static uint64_t
sim_net_delay(struct sim *s)
{
    /* Whole ticks of delay_tick_us microseconds, so frames share delivery
     * times and batch; the draw is sim_rng_below's over the span, its
     * rejection limit computed once (sim_init). */
    uint64_t span = s->delay_span_ticks;
    for (;;) {
        uint64_t x = sim_rng_next(&s->net_rng);
        if (x < s->delay_limit) {
            return (s->o.delay_min_ns / 1000 + x % span * s->delay_tick_us) * 1000;
        }
    }
}

/* One frame handed to the network: loss, delay, duplication. */
void
sim_net_send(struct sim *s, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    s->r.frames_sent++;
    /* Draw everything up front so the random stream does not depend on
     * which branch is taken. A network that neither loses nor duplicates
     * (the cuts are fixed by the options until the heal, which zeroes
     * them) draws only the delay. */
    bool lost = false;
    bool dup = false;
    bool lost2 = false;
    uint64_t delay;
    uint64_t delay2 = 0;
    if ((s->loss_cut | s->dup_cut) == 0) {
        delay = sim_net_delay(s);
    } else {
        lost = sim_rng_chance(&s->net_rng, s->loss_cut);
        delay = sim_net_delay(s);
        dup = sim_rng_chance(&s->net_rng, s->dup_cut);
        lost2 = sim_rng_chance(&s->net_rng, s->loss_cut);
        delay2 = sim_net_delay(s);
    }
    if (to >= s->n || sim_dead(s, to)) {
        s->r.frames_dead++;
        return;
    }
    if (lost) {
        s->r.frames_lost++;
    } else {
        sim_net_schedule(s, from, to, bytes, len, delay, true);
    }
    if (dup) {
        s->r.frames_dup++;
        if (lost2) {
            s->r.frames_lost++;
        } else {
            sim_net_schedule(s, from, to, bytes, len, delay2, true);
        }
    }
}

/* Schedules a test's own frame (no loss, no filter). */
int
sim_inject(struct sim *s, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
           uint64_t delay_ns)
{
    if (to >= s->n || len == 0 || len > SIM_FRAME_BYTES_MAX) {
        return -EINVAL;
    }
    sim_net_schedule(s, from, to, frame, len, delay_ns, false);
    return 0;
}

/* ------------------------------------------------------------------------
 * Deadline heap (indexed by party).
 * ---------------------------------------------------------------------- */

/* Deadline order: time, then party id. */
static bool
sim_dl_less(const struct sim *s, uint32_t a, uint32_t b)
{
    uint64_t da = s->parties[a].deadline_ns;
    uint64_t db = s->parties[b].deadline_ns;
    if (da != db) {
        return da < db;
    }
    return a < b;
}

/* Puts party p at heap index i. */
static void
sim_dl_place(struct sim *s, uint32_t i, uint32_t p)
{
    s->dl_heap[i] = p;
    s->parties[p].dl_pos = i;
}

/* Restores the deadline heap above index i. */
static void
sim_dl_sift_up(struct sim *s, uint32_t i)
{
    uint32_t p = s->dl_heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!sim_dl_less(s, p, s->dl_heap[parent])) {
            break;
        }
        sim_dl_place(s, i, s->dl_heap[parent]);
        i = parent;
    }
    sim_dl_place(s, i, p);
}

/* Restores the deadline heap below index i. */
static void
sim_dl_sift_down(struct sim *s, uint32_t i)
{
    uint32_t p = s->dl_heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->dl_count) {
            break;
        }
        if (c + 1 < s->dl_count && sim_dl_less(s, s->dl_heap[c + 1], s->dl_heap[c])) {
            c++;
        }
        if (!sim_dl_less(s, s->dl_heap[c], p)) {
            break;
        }
        sim_dl_place(s, i, s->dl_heap[c]);
        i = c;
    }
    sim_dl_place(s, i, p);
}

/* Takes a party out of the deadline heap. */
static void
sim_dl_remove(struct sim *s, uint32_t p)
{
    uint32_t i = s->parties[p].dl_pos;
    if (i == SIM_NONE) {
        return;
    }
    s->parties[p].dl_pos = SIM_NONE;
    s->parties[p].deadline_ns = SIM_NEVER;
    uint32_t last = s->dl_heap[--s->dl_count];
    if (i == s->dl_count) {
        return;
    }
    sim_dl_place(s, i, last);
    sim_dl_sift_down(s, i);
    sim_dl_sift_up(s, s->parties[last].dl_pos);
}

/* Sets (or clears, with SIM_NEVER) a party's deadline. */
static void
sim_dl_set(struct sim *s, uint32_t p, uint64_t deadline_ns)
{
    sim_dl_remove(s, p);
    if (deadline_ns == SIM_NEVER) {
        return;
    }
    s->parties[p].deadline_ns = deadline_ns;
    sim_dl_place(s, s->dl_count++, p);
    sim_dl_sift_up(s, s->dl_count - 1);
}

/* ------------------------------------------------------------------------
 * Checkers: order, agreement, validity, integrity.
 * ---------------------------------------------------------------------- */

static int sim_log_make(struct sim *s, struct sim_party *pa, uint64_t start, char *err,
                        size_t err_len);
static void sim_party_check_done(struct sim *s, struct sim_party *pa);
static const struct bpc_config *sim_party_cfg(const struct sim *s, uint32_t p);

/* A simulated command: u16 submitter, 48-bit tag, u64 sequence (LE). */
struct sim_cmd {
    uint32_t sub;
    uint64_t tag;
    uint64_t seq;
};

/* Little-endian load of n <= 8 bytes. */
static uint64_t
sim_le_load(const uint8_t *b, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = n; i > 0; i--) {
        v = (v << 8) | b[i - 1];
    }
    return v;
}

/* Little-endian store of the low n <= 8 bytes of v. */
static void
sim_le_store(uint8_t *b, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Reads a simulated command's fields (the caller checked its length). */
static void
sim_cmd_parse(const uint8_t *b, struct sim_cmd *c)
{
    c->sub = (uint32_t)sim_le_load(b, 2);
    c->tag = sim_le_load(b + 2, 6);
    c->seq = sim_le_load(b + 8, 8);
}

/* The 48-bit tag of command (sub, seq): a keyed mix under the run's tag
 * secret, which only the submitter and the checkers use. */
static uint64_t
sim_cmd_tag(const struct sim *s, uint32_t sub, uint64_t seq)
{
    uint64_t st = s->tag_key ^ ((uint64_t)sub << 48) ^ (seq * 0xd6e8feb86659fd93u);
    uint64_t x = sim_splitmix64(&st);
    x ^= sim_splitmix64(&st);
    return x & (((uint64_t)1 << 48) - 1u);
}

/* The bytes correct party sub submits as its seq-th command. */
static void
sim_cmd_make(const struct sim *s, uint32_t sub, uint64_t seq, uint8_t out[SIM_COMMAND_BYTES])
{
    sim_le_store(out, sub, 2);
    sim_le_store(out + 2, sim_cmd_tag(s, sub, seq), 6);
    sim_le_store(out + 8, seq, 8);
    memset(out + 16, (uint8_t)seq, SIM_COMMAND_BYTES - 16u);
}

/* Finds (sub, seq) in the map: its entry, or the empty slot for it. */
static struct sim_map_ent *
sim_map_slot(const struct sim_map *m, uint32_t sub, uint64_t seq)
{
    uint64_t st = seq ^ ((uint64_t)sub << 44);
    for (uint64_t i = sim_splitmix64(&st) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct sim_map_ent *e = &m->ents[i];
        if (e->sub1 == 0 || (e->sub1 == sub + 1 && e->seq == seq)) {
            return e;
        }
    }
}

/* The value stored for (sub, seq), 0 when absent. */
static uint64_t
sim_map_get(const struct sim_map *m, uint32_t sub, uint64_t seq)
{
    if (m->cap == 0) {
        return 0;
    }
    const struct sim_map_ent *e = sim_map_slot(m, sub, seq);
    return e->sub1 == 0 ? 0 : e->val;
}

/* Stores val (non-zero) for (sub, seq) unless present; true when it was
 * inserted. *stored gets the value now stored (the old one if present). */
static bool
sim_map_put(struct sim_map *m, uint32_t sub, uint64_t seq, uint64_t val, uint64_t *stored)
{
    if (2 * (m->count + 1) > m->cap) {
        struct sim_map bigger = {.cap = m->cap ? 2 * m->cap : 64};
        bigger.ents = sim_calloc((size_t)bigger.cap, sizeof(*bigger.ents));
        for (uint64_t i = 0; i < m->cap; i++) {
            const struct sim_map_ent *e = &m->ents[i];
            if (e->sub1 != 0) {
                *sim_map_slot(&bigger, e->sub1 - 1, e->seq) = *e;
                bigger.count++;
            }
        }
        free(m->ents);
        *m = bigger;
    }
    struct sim_map_ent *e = sim_map_slot(m, sub, seq);
    if (e->sub1 != 0) {
        *stored = e->val;
        return false;
    }
    e->sub1 = sub + 1;
    e->seq = seq;
    e->val = val;
    m->count++;
    *stored = val;
    return true;
}

/* Validity of one command of a decided batch, as named by the engine
 * (submitter, seq) and as carried in its bytes: a command of a correct
 * submitter must be byte for byte the one it submitted under that ticket.
 * A Byzantine submitter's commands are whatever it says they are. */
static bool
sim_check_command(struct sim *s, uint32_t p, uint64_t instance, const struct bpc_command *bc)
{
    if (bc->submitter < s->n && s->parties[bc->submitter].byz != SIM_BYZ_NONE) {
        return true;
    }
    struct sim_cmd c = {0};
    bool tail_ok = bc->len == SIM_COMMAND_BYTES;
    if (tail_ok) {
        sim_cmd_parse(bc->bytes, &c);
        for (uint32_t k = 16; k < SIM_COMMAND_BYTES; k++) {
            tail_ok = tail_ok && bc->bytes[k] == (uint8_t)c.seq;
        }
    }
    if (!tail_ok || c.sub != bc->submitter || c.sub >= s->n ||
        c.seq >= s->parties[c.sub].submitted || c.tag != sim_cmd_tag(s, c.sub, c.seq)) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u, instance %llu: command of %u bytes from %u (carried "
                      "submitter %u, sequence %llu, engine sequence %#llx) was never submitted",
                      p, (unsigned long long)instance, bc->len, bc->submitter, c.sub,
                      (unsigned long long)c.seq, (unsigned long long)bc->seq);
        return false;
    }
    uint64_t ticket = s->parties[c.sub].cmds.ticket[c.seq];
    if (bc->seq != ticket) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u, instance %llu: command (%u, %llu) carries engine "
                      "sequence %llu, but its ticket was %llu",
                      p, (unsigned long long)instance, c.sub, (unsigned long long)c.seq,
                      (unsigned long long)bc->seq, (unsigned long long)ticket);
        return false;
    }
    return true;
}

/* The engine's apply callback: integrity (each command applied once per
 * party, and at the same instance by every party) and validity. */
static void
sim_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
             uint32_t len)
{
    struct sim_party *pa = ctx;
    struct sim *s = pa->sim;
    if (pa->byz != SIM_BYZ_NONE) {
        sim_byz_applied(s, pa->id, submitter, seq);
        return;
    }
    if (instance < pa->first_instance + pa->log_len) {
        /* A restarted engine replays instances its application log already
         * holds; the application applied them before the crash. */
        return;
    }
    struct bpc_command bc = {.submitter = submitter, .len = len, .seq = seq, .bytes = cmd};
    if (!sim_check_command(s, pa->id, instance, &bc)) {
        return;
    }
    pa->applied_count++;
    uint64_t at = 0;
    if (!sim_map_put(&pa->applied, submitter, seq, instance + 1, &at)) {
        sim_violation(s, &s->r.integrity,
                      "integrity: party %u applied command (%u, %#llx) twice (again at instance "
                      "%llu)",
                      pa->id, submitter, (unsigned long long)seq, (unsigned long long)instance);
        return;
    }
    sim_map_put(&s->applied_at, submitter, seq, instance + 1, &at);
    if (at != instance + 1) {
        sim_violation(s, &s->r.integrity,
                      "integrity: command (%u, %#llx) applied at instance %llu by party %u, at "
                      "%llu by another party",
                      submitter, (unsigned long long)seq, (unsigned long long)instance, pa->id,
                      (unsigned long long)(at - 1));
        return;
    }
    if (s->parties[submitter].byz != SIM_BYZ_NONE) {
        s->r.byz_applied++;
        return;
    }
    pa->applied_correct++;
    struct sim_cmd c;
    sim_cmd_parse(cmd, &c);
    uint32_t slot = s->sub_slot[submitter];
    if (slot != SIM_NONE && c.seq + 1 > pa->applied_hi[slot]) {
        pa->applied_hi[slot] = c.seq + 1;
    }
    if (s->o.commands > 0) {
        sim_party_check_done(s, pa);
    }
}

/* A submitter's ticket may report done only once the submitter applied
 * that very command (a forged command under its name must not complete
 * it). Tickets complete in order, so a cursor walks them. */
static void
sim_check_tickets(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    while (pa->done_cursor < pa->submitted) {
        uint64_t ticket = pa->cmds.ticket[pa->done_cursor];
        if (!bpc_ticket_done(pa->e, ticket)) {
            return;
        }
        if (sim_map_get(&pa->applied, p, ticket) == 0) {
            sim_violation(s, &s->r.validity,
                          "validity: party %u: ticket %#llx of its command %llu reports done, "
                          "but the party never applied that command",
                          p, (unsigned long long)ticket, (unsigned long long)pa->done_cursor);
            return;
        }
        pa->done_cursor++;
    }
}

/* Lower-case hex of len bytes into out (2 len + 1 bytes). */
static void
sim_hex(char *out, const uint8_t *b, uint32_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Validity of a decided value: a NOOP, or a well-formed batch whose bytes
 * match its id. Its commands are judged as they are applied (sim_on_apply):
 * a Byzantine leader may get junk under a correct name decided at a
 * sequence already applied, which the apply rule skips everywhere. */
static void
sim_check_value(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    if (d->vid.kind == BPC_VALUE_NOOP) {
        return;
    }
    struct bpc_vid check;
    bool ok = (d->vid.kind == BPC_VALUE_INLINE || d->vid.kind == BPC_VALUE_DIGEST) &&
              d->value != NULL && d->len > 0;
    if (ok) {
        bpc_vid_of(&check, d->value, d->len);
        ok = bpc_vid_eq(&check, &d->vid);
    }
    if (!ok) {
        char hex[2 * SIM_COMMAND_BYTES + 1] = "";
        if (d->value != NULL) {
            sim_hex(hex, d->value, d->len < SIM_COMMAND_BYTES ? d->len : SIM_COMMAND_BYTES);
        }
        sim_violation(s, &s->r.validity,
                      "validity: party %u decided instance %llu: value bytes (%u: %s...) do not "
                      "match its id (kind %u, len %u)",
                      p, (unsigned long long)d->instance, d->len, hex, d->vid.kind, d->vid.len);
        return;
    }
    struct bpc_command bc;
    int off = 0;
    uint32_t count = 0;
    while ((off = bpc_batch_next(d->value, d->len, (uint32_t)off, &bc)) > 0) {
        count++;
    }
    if (off < 0 || count == 0) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u decided instance %llu: a malformed batch of %u bytes", p,
                      (unsigned long long)d->instance, d->len);
    }
}

/* Agreement: one value id per instance over every correct party. */
static void
sim_check_agreement(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    if (d->instance < s->base_instance) {
        sim_violation(s, &s->r.order, "order: party %u decided instance %llu below the base %llu",
                      p, (unsigned long long)d->instance, (unsigned long long)s->base_instance);
        return;
    }
    uint64_t idx = d->instance - s->base_instance;
    s->refs = sim_grow(s->refs, &s->refs_cap, idx + 1, sizeof(*s->refs));
    struct sim_ref *ref = &s->refs[idx];
    if (!ref->set) {
        ref->set = true;
        ref->vid = d->vid;
    } else if (!bpc_vid_eq(&ref->vid, &d->vid)) {
        char mine[2 * SIM_COMMAND_BYTES + 1];
        char theirs[2 * SIM_COMMAND_BYTES + 1];
        sim_hex(mine, d->vid.id, SIM_COMMAND_BYTES);
        sim_hex(theirs, ref->vid.id, SIM_COMMAND_BYTES);
        sim_violation(s, &s->r.agreement,
                      "agreement: party %u decided instance %llu as %u:%s, another party as %u:%s",
                      p, (unsigned long long)d->instance, d->vid.kind, mine, ref->vid.kind, theirs);
    }
}

/* True once a correct party reached the run's goal: opts.commands commands
 * of correct submitters applied, or else opts.instances decided. */
static bool
sim_party_goal(const struct sim *s, const struct sim_party *pa)
{
    if (s->o.commands > 0) {
        return pa->applied_correct >= s->o.commands;
    }
    return pa->log_len >= s->o.instances;
}

/* Counts a live correct party done once it reached the goal. */
static void
sim_party_check_done(struct sim *s, struct sim_party *pa)
{
    if (!pa->done && !pa->crashed && pa->byz == SIM_BYZ_NONE && sim_party_goal(s, pa)) {
        pa->done = true;
        s->done_count++;
    }
}

/* Appends a decision to the party's application log (copying its bytes). */
static void
sim_log_append(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    pa->log = sim_grow(pa->log, &pa->log_cap, pa->log_len + 1, sizeof(*pa->log));
    struct sim_log_entry *le = &pa->log[pa->log_len++];
    le->instance = d->instance;
    le->ballot = d->ballot;
    le->vid = d->vid;
    le->len = 0;
    le->value = NULL;
    if (d->vid.kind != BPC_VALUE_NOOP && d->value != NULL && d->len > 0) {
        le->value = malloc(d->len);
        if (le->value == NULL) {
            fprintf(stderr, "bpcon-sim: out of memory\n");
            abort();
        }
        memcpy(le->value, d->value, d->len);
        le->len = d->len;
    }
    if (s->o.commands == 0) {
        sim_party_check_done(s, pa);
    }
}

/* A restarted engine re-emits instances below its application log's end:
 * they must equal what the log holds (the application log is durable). */
static void
sim_party_replay(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    s->r.replayed++;
    if (d->instance < pa->first_instance) {
        sim_violation(s, &s->r.order,
                      "order: party %u re-decided instance %llu below its first instance %llu", p,
                      (unsigned long long)d->instance, (unsigned long long)pa->first_instance);
        return;
    }
    const struct sim_log_entry *le = &pa->log[d->instance - pa->first_instance];
    if (!bpc_vid_eq(&le->vid, &d->vid)) {
        sim_violation(s, &s->r.agreement,
                      "agreement: party %u re-decided instance %llu after its restart with "
                      "another value (kind %u, len %u) than its log holds (kind %u, len %u)",
                      p, (unsigned long long)d->instance, d->vid.kind, d->vid.len, le->vid.kind,
                      le->vid.len);
    }
}

/* Order, agreement and validity of one decision of a correct party. */
static void
sim_party_decide(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    uint64_t expect = pa->first_instance + pa->log_len;
    if (pa->restarted && d->instance < expect) {
        sim_party_replay(s, p, d);
        return;
    }
    if (d->instance != expect) {
        sim_violation(s, &s->r.order, "order: party %u decided instance %llu, expected %llu", p,
                      (unsigned long long)d->instance, (unsigned long long)expect);
    }
    sim_check_agreement(s, p, d);
    sim_check_value(s, p, d);
    sim_log_append(s, p, d);
}

/* ------------------------------------------------------------------------
 * Parties: submitting, disks, stepping.
 * ---------------------------------------------------------------------- */

/* The most commands a party keeps outstanding (not yet complete at
 * itself): the engine's queue bounds it, and with a liveness bound so does
 * max(1, SIM_OUTSTANDING_TOTAL / parties), so the run can end soon after
 * its last decision with every command applied. */
static uint64_t
sim_outstanding_cap(const struct sim *s)
{
    if (s->o.liveness_ns == 0) {
        return UINT64_MAX;
    }
    return s->n < SIM_OUTSTANDING_TOTAL ? SIM_OUTSTANDING_TOTAL / s->n : 1u;
}

/* True while party p has commands left to submit: its quota with
 * opts.commands, else until it has decided enough (with as many more as
 * its crashes may have lost: in paced mode every command was queued long
 * before it could be decided, and a restart of every party found none
 * left to submit). */
static bool
sim_party_wants(const struct sim *s, const struct sim_party *pa)
{
    if (s->o.commands > 0) {
        return pa->submitted < pa->quota;
    }
    return pa->log_len < s->o.instances && pa->submitted < s->submit_max + pa->lost;
}

/* Keeps the party's queue topped up while it has commands to submit. */
static void
sim_party_submit(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    /* A Byzantine submitter keeps as many commands outstanding as a
     * correct one, for as long as it runs: its engine's applies count (a
     * ticket is (incarnation << 40) | its number; it never restarts). */
    bool byz = pa->byz != SIM_BYZ_NONE;
    uint64_t cap = sim_outstanding_cap(s);
    uint64_t done = byz ? sim_byz_own_applied(s, p) & ((UINT64_C(1) << 40) - 1u) : pa->done_cursor;
    while ((byz || sim_party_wants(s, pa)) && pa->submitted - done < cap) {
        uint8_t v[SIM_COMMAND_BYTES];
        sim_cmd_make(s, p, pa->submitted, v);
        uint64_t ticket = 0;
        int rc = bpc_submit(pa->e, v, sizeof(v), &ticket);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc != 0) {
            sim_engine_error(s, "engine: bpc_submit at party %u returned %d (%s)", p, rc,
                             bpc_strerror(-rc));
            return;
        }
        struct sim_cmd_track *t = &pa->cmds;
        t->ticket = sim_grow(t->ticket, &t->ticket_cap, pa->submitted + 1, sizeof(*t->ticket));
        t->submit_ns =
            sim_grow(t->submit_ns, &t->submit_cap, pa->submitted + 1, sizeof(*t->submit_ns));
        t->submit_ns[pa->submitted] = s->now_ns;
        t->ticket[pa->submitted++] = ticket;
    }
}

/* The disk's apply-state record of submitter sub (a zeroed new one the
 * first time): records exist only for submitters the party applied. */
static struct bpc_durable *
sim_disk_applied_slot(struct sim_party *pa, uint32_t sub)
{
    uint64_t idx = 0;
    if (sim_map_put(&pa->disk_applied_at, sub, 0, pa->disk_applied_count + 1, &idx)) {
        if (pa->disk_applied_count == pa->disk_applied_cap) {
            uint32_t cap = pa->disk_applied_cap ? 2 * pa->disk_applied_cap : 2;
            struct bpc_durable *np = realloc(pa->disk_applied, (size_t)cap * sizeof(*np));
            if (np == NULL) {
                fprintf(stderr, "bpcon-sim: out of memory\n");
                abort();
            }
            pa->disk_applied = np;
            pa->disk_applied_cap = cap;
        }
        memset(&pa->disk_applied[pa->disk_applied_count++], 0, sizeof(*pa->disk_applied));
    }
    return &pa->disk_applied[idx - 1];
}

/* Stores a step's durable records on the party's in-memory disk. */
static void
sim_party_persist(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    struct sim_party *pa = &s->parties[p];
    for (uint32_t i = 0; i < out->persist_count; i++) {
        const struct bpc_durable *d = &out->persist[i];
        s->r.persists++;
        if (d->instance == UINT64_MAX) {
            pa->disk_party = *d;
            continue;
        }
        if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
            uint64_t sub = d->instance - BPC_DURABLE_APPLIED_BASE;
            if (sub < s->n) {
                *sim_disk_applied_slot(pa, (uint32_t)sub) = *d;
            }
            continue;
        }
        /* The ring keeps the newest 3 x window + 256 instances: votes up to
         * a window above the floor, decided records as far below it as the
         * engine keeps them (dec_keep; a restart restores what is older
         * than that as nothing). Records are allocated as slots are first
         * written. */
        struct bpc_durable **slot = &pa->disk[d->instance % pa->disk_cap];
        if (*slot != NULL && (*slot)->instance > d->instance) {
            continue;
        }
        if (*slot == NULL) {
            *slot = sim_calloc(1, sizeof(**slot));
        }
        **slot = *d;
    }
}

/* Stores a step's durable values: SIM_DISK_VALS places per ring place of
 * the records, for its newest instance (a store keeps every value at or
 * above the floor; the engine sends each value once per instance, at most
 * two per step, so four places hold what a restart needs; when they are
 * full the oldest goes). */
static void
sim_party_persist_values(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    struct sim_party *pa = &s->parties[p];
    for (uint32_t i = 0; i < out->persist_values_count; i++) {
        const struct bpc_durable_value *v = &out->persist_values[i];
        if (v->vid.kind != BPC_VALUE_DIGEST || v->vid.len > BPC_VALUE_BYTES_MAX ||
            v->bytes == NULL) {
            sim_engine_error(s, "engine: party %u persisted a malformed value", p);
            return;
        }
        struct sim_dval **at = &pa->disk_vals[v->instance % pa->disk_cap];
        if (*at == NULL) {
            *at = sim_calloc(SIM_DISK_VALS, sizeof(**at));
        }
        struct sim_dval *place = *at;
        if (place[0].vid.kind != BPC_VALUE_NONE && place[0].instance > v->instance) {
            continue; /* a newer instance holds the place */
        }
        uint32_t k = 0;
        while (k < SIM_DISK_VALS && place[k].vid.kind != BPC_VALUE_NONE &&
               place[k].instance == v->instance && !bpc_vid_eq(&place[k].vid, &v->vid)) {
            k++;
        }
        if (k == SIM_DISK_VALS) {
            struct sim_dval oldest = place[0];
            memmove(place, place + 1, (SIM_DISK_VALS - 1) * sizeof(*place));
            k = SIM_DISK_VALS - 1;
            place[k] = oldest;
        }
        if (place[k].vid.kind == BPC_VALUE_NONE || place[k].instance != v->instance) {
            /* A new instance in this place: the older one's values go. */
            for (uint32_t j = k; j < SIM_DISK_VALS; j++) {
                place[j].vid.kind = BPC_VALUE_NONE;
            }
        }
        if (place[k].bytes_cap < v->vid.len) {
            free(place[k].bytes);
            place[k].bytes = sim_calloc(1, v->vid.len);
            place[k].bytes_cap = v->vid.len;
        }
        place[k].instance = v->instance;
        place[k].vid = v->vid;
        memcpy(place[k].bytes, v->bytes, v->vid.len);
    }
}

/* Hands a step's frames to the network: a Byzantine party's through
 * byz.c, which rewrites them; a muted leader's are dropped. */
static void
sim_party_emit(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    for (uint32_t i = 0; i < out->frames_count; i++) {
        const struct bpc_frame_out *f = &out->frames[i];
        if (f->len == 0 || f->len > s->frame_bytes || f->peer >= s->n || f->peer == p) {
            sim_engine_error(s, "engine: party %u emitted a frame of %u bytes to peer %u", p,
                             f->len, f->peer);
            return;
        }
        if (s->parties[p].byz != SIM_BYZ_NONE) {
            sim_byz_emit(s, p, f->peer, f->bytes, f->len);
        } else if (p == s->muted) {
            s->r.frames_muted++;
        } else {
            sim_net_send(s, p, f->peer, f->bytes, f->len);
        }
    }
}

/* Lends the shared tx and decision buffers to a step. */
static void
sim_out_reset(struct sim *s, struct bpc_step_out *out)
{
    /* The tx buffers were lent once at init; the engine sets len and peer
     * of the frames it writes, so nothing per frame is reset here (that
     * would cost O(out_cap) per step, quadratic at 999 parties). */
    memset(out, 0, sizeof(*out));
    out->frames = s->outf;
    out->frames_cap = s->out_cap;
    out->decisions = s->decs;
    out->decisions_cap = s->decs_cap;
}

/* Handles one step's output; returns true when the party must step again
 * at once (tx room ran out, or persisted records released held frames). */
static bool
sim_party_output(struct sim *s, uint32_t p, int rc, const struct bpc_step_out *out)
{
    sim_party_emit(s, p, out);
    /* A Byzantine party's decisions are not checked: it may be fed
     * anything by its colluders. */
    for (uint32_t i = 0;
         i < out->decisions_count && i < out->decisions_cap && s->parties[p].byz == SIM_BYZ_NONE;
         i++) {
        sim_party_decide(s, p, &out->decisions[i]);
    }
    /* With --tx-frames the rest of the round waits for the next event, so
     * frames arriving meanwhile change the state under the queued records
     * (as a dataplane poll loop does). */
    bool again = rc == -EAGAIN && s->o.tx_frames == 0;
    if (rc == -EAGAIN) {
        s->r.eagain_steps++;
    }
    if (out->persist_count > 0) {
        sim_party_persist(s, p, out);
        sim_party_persist_values(s, p, out);
        bpc_engine_persisted(s->parties[p].e);
        again = true;
    }
    return again;
}

/* Steps one party (again while it asks to), then checks its tickets. */
static void
sim_party_step(struct sim *s, uint32_t p, uint32_t frames_count)
{
    struct sim_party *pa = &s->parties[p];
    bool correct = pa->byz == SIM_BYZ_NONE;
    if (correct || pa->byz != SIM_BYZ_SILENT) {
        sim_party_submit(s, p);
    }
    struct bpc_step_in in = {.now_ns = s->now_ns, .frames = s->inf, .frames_count = frames_count};
    struct bpc_step_out out;
    for (uint32_t loop = 0; loop < SIM_STEP_LOOPS_MAX; loop++) {
        sim_out_reset(s, &out);
        int rc = bpc_engine_step(pa->e, &in, &out);
        s->r.steps++;
        if (rc < 0 && rc != -EAGAIN) {
            sim_engine_error(s, "engine: step of party %u at %llu ns returned %d (%s)", p,
                             (unsigned long long)s->now_ns, rc, bpc_strerror(-rc));
            return;
        }
        if (!sim_party_output(s, p, rc, &out)) {
            uint64_t dl = out.next_deadline_ns;
            if (rc == -EAGAIN) {
                dl = s->now_ns + s->o.delay_min_ns + 1; /* the next poll, after others */
            }
            if (dl <= s->now_ns) {
                s->r.deadline_clamps++;
                dl = s->now_ns + 1;
            }
            sim_dl_set(s, p, dl);
            if (correct) {
                sim_check_tickets(s, p);
            }
            return;
        }
        in.frames_count = 0;
    }
    sim_engine_error(s, "engine: party %u kept asking to step again at %llu ns", p,
                     (unsigned long long)s->now_ns);
}

/* Steps a touched party once per burst (at most SIM_IN_CAP) of the frames
 * delivered to it at this instant, in delivery order (at least once). */
static void
sim_party_run(struct sim *s, uint32_t p)
{
    const uint32_t *in = s->grouped + s->rx[p].in_off;
    uint32_t left = s->rx[p].in_count;
    do {
        uint32_t count = left < SIM_IN_CAP ? left : SIM_IN_CAP;
        /* The frames were written long ago (cold): fetch the burst's
         * messages, then their bodies, all at once before reading any. */
        for (uint32_t i = 0; i < count; i++) {
            __builtin_prefetch(sim_msg_at(s, in[i]));
        }
        for (uint32_t i = 0; i < count; i++) {
            uint32_t body = sim_msg_at(s, in[i])->body;
            if (body != SIM_NONE) {
                __builtin_prefetch(sim_arena_at(s, body));
                __builtin_prefetch((const uint8_t *)sim_arena_at(s, body) + 64);
            }
        }
        size_t used = 0;
        for (uint32_t i = 0; i < count; i++) {
            struct sim_msg *m = sim_msg_at(s, in[i]);
            s->inf[i].bytes = sim_msg_view(s, m, s->stage + used);
            s->inf[i].len = m->len;
            used += sim_round8(m->len);
        }
        sim_party_step(s, p, count);
        for (uint32_t i = 0; i < count; i++) {
            sim_msg_free(s, in[i]);
        }
        in += count;
        left -= count;
    } while (left > 0 && s->outcome == SIM_RUNNING);
}

/* ------------------------------------------------------------------------
 * The event loop.
 * ---------------------------------------------------------------------- */

/* Stops a party: no more steps, and frames to it are dropped. */
void
sim_crash(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    if (p >= s->n || pa->crashed) {
        return;
    }
    pa->crashed = true;
    s->rx[p].crashed = true;
    sim_dl_remove(s, p);
    if (pa->byz != SIM_BYZ_NONE) {
        return;
    }
    s->correct_live--;
    if (pa->done) {
        pa->done = false;
        s->done_count--;
    }
}

/* Orders apply-state records by submitter (their instance field). */
static int
sim_durable_cmp(const void *a, const void *b)
{
    uint64_t ia = ((const struct bpc_durable *)a)->instance;
    uint64_t ib = ((const struct bpc_durable *)b)->instance;
    return ia < ib ? -1 : ia > ib;
}

/* The records a restart reads back: the party-wide one, every
 * per-instance one at or above the durable floor, and the decided records
 * below it that a store keeps (floor <= dec_keep); older ones are pruned. */
static uint32_t
sim_disk_collect(const struct sim_party *pa, struct bpc_durable *recs, uint64_t *floor)
{
    uint32_t count = 0;
    uint64_t fl = pa->disk_party.floor;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        if (pa->disk[i] != NULL && pa->disk[i]->floor > fl) {
            fl = pa->disk[i]->floor;
        }
    }
    recs[count++] = pa->disk_party;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        const struct bpc_durable *d = pa->disk[i];
        if (d != NULL && (d->instance >= fl || (d->decided && fl <= d->dec_keep))) {
            recs[count++] = *d;
        }
    }
    /* Apply-state records in submitter order (the order restores have
     * always read them in). */
    uint32_t first = count;
    for (uint32_t i = 0; i < pa->disk_applied_count; i++) {
        recs[count++] = pa->disk_applied[i];
    }
    qsort(recs + first, count - first, sizeof(*recs), sim_durable_cmp);
    *floor = fl;
    return count;
}

/* Brings a crashed correct party back from its disk. */
int
sim_restart(struct sim *s, uint32_t p)
{
    if (p >= s->n || !s->parties[p].crashed || s->parties[p].byz != SIM_BYZ_NONE) {
        return -EINVAL;
    }
    struct sim_party *pa = &s->parties[p];
    struct bpc_durable *recs =
        sim_calloc((size_t)pa->disk_cap + 1 + pa->disk_applied_count, sizeof(*recs));
    uint64_t floor = 0;
    uint32_t count = sim_disk_collect(pa, recs, &floor);
    bpc_engine_free(pa->e);
    pa->e = NULL;
    bpc_log_free(pa->dlog);
    pa->dlog = NULL;
    char err[256] = {0};
    int rc = sim_log_make(s, pa, floor, err, sizeof(err));
    if (rc == 0) {
        rc = bpc_engine_new(&pa->e, sim_party_cfg(s, p), err, sizeof(err));
    }
    if (rc == 0) {
        rc = bpc_engine_restore(pa->e, recs, count);
        snprintf(err, sizeof(err), "bpc_engine_restore returned %d", rc);
    }
    if (rc == 0) {
        /* Every value the disk holds (a store keeps those at or above the
         * floor and those its decided records name; the engine takes only
         * what its restored state names). */
        struct bpc_durable_value *vals =
            sim_calloc((size_t)pa->disk_cap * SIM_DISK_VALS, sizeof(*vals));
        uint32_t nv = 0;
        for (uint32_t i = 0; i < pa->disk_cap * SIM_DISK_VALS; i++) {
            const struct sim_dval *place = pa->disk_vals[i / SIM_DISK_VALS];
            const struct sim_dval *d = place != NULL ? &place[i % SIM_DISK_VALS] : NULL;
            if (d != NULL && d->vid.kind != BPC_VALUE_NONE) {
                vals[nv++] = (struct bpc_durable_value){
                    .instance = d->instance, .vid = d->vid, .bytes = d->bytes};
            }
        }
        rc = bpc_engine_restore_values(pa->e, vals, nv);
        snprintf(err, sizeof(err), "bpc_engine_restore_values returned %d", rc);
        free(vals);
    }
    free(recs);
    if (rc != 0) {
        sim_engine_error(s, "engine: restart of party %u failed: %s", p, err);
        return rc;
    }
    bpc_engine_start(pa->e, s->now_ns);
    pa->crashed = false;
    s->rx[p].crashed = false;
    pa->restarted = true;
    /* Commands submitted before the crash and not applied are lost with
     * the volatile state: liveness and the ticket checker start afresh. */
    pa->live_from = pa->submitted;
    pa->lost += pa->submitted - pa->done_cursor;
    pa->done_cursor = pa->submitted;
    s->r.restarts++;
    s->correct_live++;
    sim_party_check_done(s, pa);
    sim_dl_set(s, p, s->now_ns);
    return 0;
}

/* The end of the Byzantine phase: Byzantine parties fall silent (crash),
 * nobody is muted, and the network stops losing and duplicating. */
static void
sim_heal(struct sim *s)
{
    s->healed = true;
    s->r.healed_at_ns = s->now_ns;
    s->muted = SIM_NONE;
    s->loss_cut = 0;
    s->dup_cut = 0;
    for (uint32_t p = 0; p < s->n && !s->o.byz_stay; p++) {
        if (s->parties[p].byz != SIM_BYZ_NONE) {
            sim_crash(s, p);
        }
    }
    if (s->o.liveness_ns > 0) {
        s->live_next_ns = s->now_ns + s->o.liveness_ns;
    }
}

/* The first sequence of correct live submitter q that some correct live
 * party has not applied yet (q's submission count when none). */
static uint64_t
sim_first_unapplied(const struct sim *s, uint32_t q, uint32_t *laggard)
{
    const struct sim_party *sq = &s->parties[q];
    uint64_t first = sq->submitted;
    for (uint32_t p = 0; p < s->n; p++) {
        if (!sim_correct_live(s, p)) {
            continue;
        }
        uint32_t slot = s->sub_slot[q];
        uint64_t hi = slot != SIM_NONE ? s->parties[p].applied_hi[slot] : 0;
        hi = hi > sq->live_from ? hi : sq->live_from;
        if (hi < first) {
            first = hi;
            *laggard = p;
        }
    }
    return first;
}

/* True when every command of every correct live party is applied by every
 * correct live party (the liveness goal). */
static bool
sim_all_applied(const struct sim *s)
{
    for (uint32_t q = 0; q < s->n; q++) {
        uint32_t laggard = 0;
        if (sim_correct_live(s, q) &&
            sim_first_unapplied(s, q, &laggard) < s->parties[q].submitted) {
            return false;
        }
    }
    return true;
}

/* After the heal: a command of a correct live party not applied by every
 * correct live party by max(its submission, the heal) + the bound is a
 * liveness violation. Runs every eighth of the bound. */
static void
sim_check_liveness(struct sim *s)
{
    s->live_next_ns = s->now_ns + (s->o.liveness_ns / 8 ? s->o.liveness_ns / 8 : 1);
    for (uint32_t q = 0; q < s->n; q++) {
        uint32_t laggard = 0;
        if (!sim_correct_live(s, q)) {
            continue;
        }
        uint64_t k = sim_first_unapplied(s, q, &laggard);
        if (k >= s->parties[q].submitted) {
            continue;
        }
        uint64_t from = s->parties[q].cmds.submit_ns[k];
        from = from > s->r.healed_at_ns ? from : s->r.healed_at_ns;
        if (s->now_ns - from < s->o.liveness_ns) {
            continue;
        }
        sim_violation(s, &s->r.liveness,
                      "liveness: command %llu of party %u (submitted at %llu us) not applied by "
                      "party %u %llu us after the heal at %llu us",
                      (unsigned long long)k, q,
                      (unsigned long long)(s->parties[q].cmds.submit_ns[k] / 1000), laggard,
                      (unsigned long long)((s->now_ns - s->r.healed_at_ns) / 1000),
                      (unsigned long long)(s->r.healed_at_ns / 1000));
        return;
    }
}

/* The next instant anything happens (SIM_NEVER: nothing will). */
static uint64_t
sim_next_time(const struct sim *s)
{
    uint64_t t = sim_cal_next(s);
    if (s->dl_count > 0 && s->parties[s->dl_heap[0]].deadline_ns < t) {
        t = s->parties[s->dl_heap[0]].deadline_ns;
    }
    if (s->crash_next < s->crash_count) {
        uint64_t c = s->o.crash_at_ns[s->crash_order[s->crash_next]];
        t = c < t ? c : t;
    }
    if (s->restart_next < s->restart_count) {
        uint64_t c = s->o.restart_at_ns[s->restart_order[s->restart_next]];
        t = c < t ? c : t;
    }
    if (s->byz_count > 0 && (!s->healed || s->o.byz_stay) && s->byz_next_ns < t) {
        t = s->byz_next_ns;
    }
    if (!s->healed && s->o.heal_at_ns < t) {
        t = s->o.heal_at_ns;
    }
    if (s->live_next_ns < t) {
        t = s->live_next_ns;
    }
    return t;
}

/* Marks a party to be stepped at this instant (once, in first-touch order). */
static void
sim_touch(struct sim *s, uint32_t p)
{
    struct sim_rx *rx = &s->rx[p];
    if (rx->touched_epoch != s->epoch) {
        rx->touched_epoch = s->epoch;
        rx->in_count = 0;
        s->touched[s->touched_count++] = p;
    }
}

/* Takes every frame due now off the calendar, in delivery order, into
 * this instant's delivery list (frames to crashed parties are dropped). */
static void
sim_deliver_due(struct sim *s)
{
    while (sim_cal_next(s) <= s->now_ns) {
        uint32_t b = sim_cal_take_first(s);
        while (b != SIM_NONE) {
            /* By index: a Byzantine observer may schedule (and grow the
             * blocks) meanwhile. */
            for (uint32_t k = 0; k < s->blocks[b].count; k++) {
                struct sim_ev ev = s->blocks[b].ev[k];
                if (sim_dead(s, ev.to)) {
                    s->r.frames_dead++;
                    sim_msg_free(s, ev.msg);
                    continue;
                }
                s->r.messages += ev.records;
                s->r.frames++;
                if (s->debug || s->rx[ev.to].byz) {
                    struct sim_msg *m = sim_msg_at(s, ev.msg);
                    const uint8_t *bytes = sim_msg_view(s, m, s->stage);
                    sim_debug_count(s, bytes, m->len);
                    if (s->rx[ev.to].byz) {
                        sim_byz_observe(s, ev.to, bytes, m->len);
                    }
                }
                s->dlv = sim_grow(s->dlv, &s->dlv_cap, s->dlv_count + 1, sizeof(*s->dlv));
                s->dlv[s->dlv_count++] = (struct sim_dlv){.msg = ev.msg, .to = ev.to};
                sim_touch(s, ev.to);
                s->rx[ev.to].in_count++;
            }
            uint32_t next = s->blocks[b].next;
            sim_block_free(s, b);
            b = next;
        }
    }
}

/* Groups this instant's deliveries by receiver (a counting sort): each
 * touched party's frames, in delivery order, from its in_off in grouped. */
static void
sim_group_deliveries(struct sim *s)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < s->touched_count; i++) {
        struct sim_rx *rx = &s->rx[s->touched[i]];
        rx->in_off = (uint32_t)off;
        off += rx->in_count;
    }
    s->grouped = sim_grow(s->grouped, &s->grouped_cap, off + 1, sizeof(*s->grouped));
    for (uint64_t k = 0; k < s->dlv_count; k++) {
        struct sim_rx *rx = &s->rx[s->dlv[k].to];
        s->grouped[rx->in_off++] = s->dlv[k].msg;
    }
    /* in_off walked past each party's frames: back to their start. */
    for (uint32_t i = 0; i < s->touched_count; i++) {
        struct sim_rx *rx = &s->rx[s->touched[i]];
        rx->in_off -= rx->in_count;
    }
    s->dlv_count = 0;
}

/* Everything due at this instant: crashes, restarts, the heal, the
 * Byzantine tick, deliveries, deadlines, then the liveness check. */
static void
sim_run_event(struct sim *s)
{
    s->epoch++;
    s->touched_count = 0;
    while (s->crash_next < s->crash_count &&
           s->o.crash_at_ns[s->crash_order[s->crash_next]] <= s->now_ns) {
        sim_crash(s, s->crash_order[s->crash_next++]);
    }
    while (s->restart_next < s->restart_count &&
           s->o.restart_at_ns[s->restart_order[s->restart_next]] <= s->now_ns) {
        if (sim_restart(s, s->restart_order[s->restart_next++]) != 0) {
            return;
        }
    }
    if (!s->healed && s->o.heal_at_ns <= s->now_ns) {
        sim_heal(s);
    }
    if (s->byz_count > 0 && (!s->healed || s->o.byz_stay) && s->byz_next_ns <= s->now_ns) {
        sim_byz_tick(s);
        s->byz_next_ns = s->now_ns + s->o.byz_period_ns;
    }
    sim_deliver_due(s);
    while (s->dl_count > 0 && s->parties[s->dl_heap[0]].deadline_ns <= s->now_ns) {
        uint32_t p = s->dl_heap[0];
        sim_dl_remove(s, p);
        sim_touch(s, p);
    }
    sim_group_deliveries(s);
    for (uint32_t i = 0; i < s->touched_count && s->outcome == SIM_RUNNING; i++) {
        sim_party_run(s, s->touched[i]);
    }
    if (s->outcome == SIM_RUNNING && s->live_next_ns <= s->now_ns) {
        sim_check_liveness(s);
    }
}

/* Done: every correct live party decided enough and, with a liveness
 * bound, every command of a correct live party is applied everywhere. */
static bool
sim_finished(const struct sim *s)
{
    if (s->correct_live == 0 || s->done_count != s->correct_live) {
        return false;
    }
    return s->o.liveness_ns == 0 || sim_all_applied(s);
}

/* Runs the next instant; false once the run is over. */
bool
sim_step_once(struct sim *s)
{
    if (s->outcome != SIM_RUNNING) {
        return false;
    }
    uint64_t t = sim_next_time(s);
    if (t == SIM_NEVER) {
        s->outcome = SIM_STALLED;
        return false;
    }
    if (t > s->o.time_limit_ns) {
        s->now_ns = s->o.time_limit_ns;
        s->outcome = SIM_TIME_LIMIT;
        return false;
    }
    s->now_ns = t;
    sim_run_event(s);
    /* The engines append to their logs on this thread: a quiescent state
     * per event lets retired log segments come back (QSBR). */
    bpc_log_quiescent();
    s->events++;
    if (s->o.progress != NULL && s->events % SIM_PROGRESS_EVENTS == 0) {
        s->o.progress(s->o.progress_ctx, s);
    }
    if (s->outcome == SIM_RUNNING && sim_finished(s)) {
        s->outcome = SIM_DONE;
    }
    return s->outcome == SIM_RUNNING;
}

/* BPC_SIM_DEBUG: records by type and each party's state. */
static void
sim_debug_dump(const struct sim *s)
{
    if (!s->debug) {
        return;
    }
    fprintf(stderr, "delivered records by type:");
    for (uint32_t k = 0; k < BPC_MSG_TYPES_COUNT; k++) {
        fprintf(stderr, " %u:%llu", k, (unsigned long long)s->debug_types[k]);
    }
    fprintf(stderr, "\n");
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL) {
            continue;
        }
        const struct bpc_counters *c = bpc_engine_counters(pa->e);
        fprintf(stderr,
                "party %u: ballot %llu leader %d nu %llu submitted %llu ignored %llu stale %llu "
                "txovf %llu decided %llu\n",
                p, (unsigned long long)bpc_engine_ballot(pa->e), bpc_engine_leader(pa->e),
                (unsigned long long)bpc_engine_next_undecided(pa->e),
                (unsigned long long)pa->submitted, (unsigned long long)c->records_ignored,
                (unsigned long long)c->records_stale, (unsigned long long)c->tx_overflow,
                (unsigned long long)c->decided);
        fprintf(stderr, "   applied %llu, replay drops %llu, log [%llu, %llu)\n",
                (unsigned long long)pa->applied_count,
                (unsigned long long)c->drops[BPC_DROP_REPLAY],
                (unsigned long long)bpc_log_first(pa->dlog),
                (unsigned long long)bpc_log_next(pa->dlog));
        uint64_t nu = bpc_engine_next_undecided(pa->e);
        fprintf(stderr, "   status(nu)=%s status(nu+1)=%s\n",
                bpc_status_name(bpc_engine_status(pa->e, nu)),
                bpc_status_name(bpc_engine_status(pa->e, nu + 1)));
    }
}

/* Steps until the run is over. */
enum sim_outcome
sim_run(struct sim *s)
{
    while (sim_step_once(s)) {
    }
    sim_debug_dump(s);
    return s->outcome;
}

/* The outcome so far. */
enum sim_outcome
sim_outcome(const struct sim *s)
{
    return s->outcome;
}

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

/* The library's defaults (no heal, no liveness bound, no churn). */
void
sim_opts_defaults(struct sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->parties_count = 4;
    for (uint32_t i = 0; i < o->parties_count; i++) {
        o->weights[i] = 1;
    }
    o->mode = BPC_MODE_FAST;
    o->instances = SIM_DEFAULT_INSTANCES;
    o->window_slots = SIM_DEFAULT_WINDOW;
    o->seed = SIM_DEFAULT_SEED;
    o->delay_min_ns = SIM_DEFAULT_DELAY_MIN_NS;
    o->delay_max_ns = SIM_DEFAULT_DELAY_MAX_NS;
    for (uint32_t i = 0; i < BPC_PARTIES_MAX; i++) {
        o->crash_at_ns[i] = SIM_NEVER;
        o->restart_at_ns[i] = SIM_NEVER;
    }
    o->byz_period_ns = SIM_DEFAULT_BYZ_PERIOD_NS;
    o->heal_at_ns = SIM_NEVER;
    o->time_limit_ns = SIM_DEFAULT_TIME_LIMIT_NS;
}

/* The master key of a run: BLAKE2b-256 of a label and the seed. */
static void
sim_master_key(uint64_t seed, uint8_t master[BPC_KEY_BYTES])
{
    static const char label[] = "bpcon-sim-master";
    uint8_t msg[sizeof(label) - 1 + 8];
    memcpy(msg, label, sizeof(label) - 1);
    for (int i = 0; i < 8; i++) {
        msg[sizeof(label) - 1 + (size_t)i] = (uint8_t)(seed >> (8 * i));
    }
    crypto_generichash(master, BPC_KEY_BYTES, msg, sizeof(msg), NULL, 0);
}

/* Seeds of the derived streams: the seed walks one splitmix64 sequence. */
enum sim_stream {
    SIM_STREAM_CLUSTER = 0,
    SIM_STREAM_NET,
    SIM_STREAM_BYZ,
    SIM_STREAM_PARTY0,         /* + party id */
    SIM_STREAM_TAG = 1u << 20, /* command tags (not beside party ids) */
    SIM_STREAM_RANDOM_CONFIG,  /* sim_opts_random */
};

/* The seed of one derived stream. */
static uint64_t
sim_stream_seed(uint64_t seed, uint64_t stream)
{
    uint64_t st = seed ^ 0x62706373696d2d31u; /* "bpcsim-1" */
    uint64_t out = 0;
    st += stream * 0x9e3779b97f4a7c15u;
    out = sim_splitmix64(&st);
    return out;
}

static void sim_config_fill(const struct sim_opts *o, uint32_t self, struct bpc_config *cfg);

void
sim_engine_config(const struct sim_opts *o, struct bpc_config *cfg)
{
    sim_config_fill(o, 0, cfg);
}

/* Party self's engine config from the options. */
static void
sim_config_fill(const struct sim_opts *o, uint32_t self, struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = sim_stream_seed(o->seed, SIM_STREAM_CLUSTER);
    cfg->parties_count = o->parties_count;
    cfg->self = self;
    memset(cfg->weights, 0, sizeof(cfg->weights));
    for (uint32_t i = 0; i < o->parties_count && i < BPC_PARTIES_MAX; i++) {
        cfg->weights[i] = o->weights[i];
    }
    cfg->threshold = o->threshold;
    cfg->mode = o->mode;
    cfg->window_slots = o->window_slots;
    cfg->seed = sim_stream_seed(o->seed, SIM_STREAM_PARTY0 + self);
    cfg->unsafe = o->unsafe;
    if (o->batch_max != 0) {
        cfg->batch_max = o->batch_max;
    }
    if (o->frame_bytes != 0) {
        cfg->frame_bytes = o->frame_bytes;
    }
    if (o->value_bytes != 0) {
        cfg->value_bytes_max = o->value_bytes;
    }
    if (o->ballot_timeout_ns != 0) {
        cfg->ballot_timeout_ns = o->ballot_timeout_ns;
    }
    uint32_t one = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + SIM_COMMAND_BYTES;
    if (cfg->value_bytes_max < one) {
        cfg->value_bytes_max = one;
    }
    /* A run of N commands never queues more than N anywhere: the queues
     * shrink to the power of two at or above N (the default caps it). */
    if (o->commands > 0) {
        uint32_t cmds = 1;
        while (cmds < cfg->commands_max && cmds < o->commands) {
            cmds *= 2;
        }
        cfg->commands_max = cmds;
    }
}

/* The leader of ballot 1 for these options. */
int
sim_opts_first_leader(const struct sim_opts *o)
{
    if (bpc_init() < 0) {
        return -EIO;
    }
    struct bpc_config *cfg = malloc(sizeof(*cfg));
    if (cfg == NULL) {
        return -ENOMEM;
    }
    sim_config_fill(o, 0, cfg);
    uint8_t digest[BPC_DIGEST_BYTES];
    bpc_config_digest(cfg, digest);
    int leader = bpc_elect_leader(cfg, digest, 1);
    free(cfg);
    return leader;
}

/* Fast mode: SIM_LIVENESS_DEADLINES x the longest ballot deadline. Paced
 * mode decides one value per round: SIM_LIVENESS_DEADLINES failed rounds,
 * plus the rounds that drain the most commands the parties keep
 * outstanding at once (sim_outstanding_cap), at the values' command count;
 * with a Byzantine party, plus SIM_LIVENESS_CENSORS censorship watch
 * periods. */
uint64_t
sim_opts_default_liveness(const struct sim_opts *o)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    if (o->mode == BPC_MODE_PACED && o->parties_count > 0) {
        sim_config_fill(o, 0, &cfg);
        uint64_t per_value = (cfg.value_bytes_max - BPC_BATCH_HEADER_BYTES) /
                             (BPC_BATCH_CMD_HEADER_BYTES + SIM_COMMAND_BYTES);
        per_value = per_value < cfg.batch_max ? per_value : cfg.batch_max;
        per_value = per_value > 0 ? per_value : 1;
        uint64_t outstanding =
            o->parties_count > SIM_OUTSTANDING_TOTAL ? o->parties_count : SIM_OUTSTANDING_TOTAL;
        uint64_t rounds = SIM_LIVENESS_DEADLINES + (outstanding + per_value - 1) / per_value;
        bool byz = false;
        for (uint32_t i = 0; i < o->parties_count; i++) {
            byz = byz || o->byz[i] != SIM_BYZ_NONE;
        }
        if (byz) {
            rounds += SIM_LIVENESS_CENSORS * (SIM_PACED_WATCH_ROUNDS + (uint64_t)o->parties_count);
        }
        return rounds * cfg.timers.finalize_ns;
    }
    uint64_t timeout = o->ballot_timeout_ns != 0 ? o->ballot_timeout_ns : cfg.ballot_timeout_ns;
    /* The longest deadline: the grown timeout plus a quarter of jitter. */
    uint64_t longest = (timeout << cfg.timeout_growth_max_shift) / 4 * 5;
    return SIM_LIVENESS_DEADLINES * longest;
}

/* Appends a formatted piece to a description (truncating quietly). */
static void sim_desc_add(char *desc, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_desc_add(char *desc, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(desc, len);
    if (len == 0 || used + 1 >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc + used, len - used, fmt, ap);
    va_end(ap);
}

/* Draws parties, weights and threshold (half the draws with the default
 * threshold, half anywhere in (W/2, W]). */
static void
sim_random_weights(struct sim_opts *o, struct sim_rng *r)
{
    /* Mostly small clusters (they are cheap), up to 64 parties. */
    uint64_t size = sim_rng_below(r, 20);
    uint32_t n = 1 + (uint32_t)sim_rng_below(r, size < 10 ? 7 : size < 17 ? 16 : 64);
    o->parties_count = n;
    bpc_u128 total = 0;
    for (uint32_t p = 0; p < BPC_PARTIES_MAX; p++) {
        o->weights[p] = 0;
        if (p < n) {
            o->weights[p] = sim_rng_below(r, 8) == 0 ? 0 : 1 + sim_rng_below(r, 4);
            total += o->weights[p];
        }
    }
    if (total == 0) {
        o->weights[sim_rng_below(r, n)] = 1;
        total = 1;
    }
    o->threshold = 0;
    if (sim_rng_below(r, 2) == 0) {
        uint64_t w = (uint64_t)total;
        o->threshold = w / 2 + 1 + sim_rng_below(r, w - w / 2);
    }
}

/* Draws window, batch, frame and value bytes, loss and duplication. */
static void
sim_random_sizes(struct sim_opts *o, struct sim_rng *r)
{
    o->window_slots = 1u << sim_rng_below(r, 11);
    o->batch_max = 1 + (uint32_t)sim_rng_below(r, BPC_BATCH_MAX);
    o->frame_bytes = BPC_FRAME_BYTES_MIN +
                     (uint32_t)sim_rng_below(r, BPC_FRAME_BYTES_MAX - BPC_FRAME_BYTES_MIN + 1);
    /* Mostly a value that fits beside a full 1b group, sometimes anything
     * (the engine then refuses it and the config is drawn again). */
    uint32_t room = BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES +
                    (1u + BPC_HISTORY_MAX) * BPC_WIRE_RECORD_BYTES + 32u;
    uint32_t hi = BPC_VALUE_BYTES_MAX;
    if (sim_rng_below(r, 4) != 0 && o->frame_bytes > room) {
        hi = o->frame_bytes - room + 32u;
        hi = hi < BPC_VALUE_BYTES_MAX ? hi : BPC_VALUE_BYTES_MAX;
    }
    o->value_bytes = 32u + (uint32_t)sim_rng_below(r, hi - 32u + 1);
    o->loss = sim_rng_below(r, 4) == 0 ? 0.01 * (double)sim_rng_below(r, 6) : 0.0;
    o->dup = sim_rng_below(r, 4) == 0 ? 0.01 * (double)sim_rng_below(r, 6) : 0.0;
}

/* One Byzantine party of weight <= F (when F > 0), of a random kind. */
static void
sim_random_byz(struct sim_opts *o, struct sim_rng *r, bpc_u128 f)
{
    memset(o->byz, 0, sizeof(o->byz));
    if (f == 0) {
        return;
    }
    uint32_t cand[BPC_PARTIES_MAX];
    uint32_t count = 0;
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->weights[p] <= f) {
            cand[count++] = p;
        }
    }
    if (count == 0) {
        return;
    }
    uint32_t b = cand[sim_rng_below(r, count)];
    o->byz[b] = (uint8_t)(1 + sim_rng_below(r, SIM_BYZ_KINDS_COUNT - 1));
}

/* The drawn configuration as bpcon-sim flags. */
static void
sim_random_describe(const struct sim_opts *o, char *desc, size_t len)
{
    if (len == 0) {
        return;
    }
    desc[0] = '\0';
    sim_desc_add(desc, len, "--weights ");
    for (uint32_t p = 0; p < o->parties_count; p++) {
        sim_desc_add(desc, len, "%s%llu", p ? "," : "", (unsigned long long)o->weights[p]);
    }
    if (o->threshold != 0) {
        sim_desc_add(desc, len, " --threshold %llu", (unsigned long long)o->threshold);
    }
    sim_desc_add(desc, len, " --window %u --batch %u --frame-bytes %u --value-bytes %u",
                 o->window_slots, o->batch_max, o->frame_bytes, o->value_bytes);
    sim_desc_add(desc, len, " --loss %.2f --dup %.2f", o->loss, o->dup);
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->byz[p] != SIM_BYZ_NONE) {
            sim_desc_add(desc, len, " --byz %u:%s", p,
                         sim_byz_kind_name((enum sim_byz_kind)o->byz[p]));
        }
    }
}

/* A random valid configuration for this seed (see sim.h). */
int
sim_opts_random(struct sim_opts *o, uint64_t seed, char *desc, size_t desc_len)
{
    struct sim_rng r;
    sim_rng_seed(&r, sim_stream_seed(seed, SIM_STREAM_RANDOM_CONFIG));
    struct bpc_config *cfg = sim_calloc(1, sizeof(*cfg));
    int rc = -EINVAL;
    for (uint32_t attempt = 0; attempt < 10000 && rc != 0; attempt++) {
        sim_random_weights(o, &r);
        sim_random_sizes(o, &r);
        o->unsafe = false;
        sim_config_fill(o, 0, cfg);
        rc = bpc_config_validate(cfg, NULL, 0);
    }
    if (rc == 0) {
        bpc_u128 total = bpc_config_total_weight(cfg);
        sim_random_byz(o, &r, bpc_faulty_weight(total, bpc_config_threshold(cfg)));
        sim_random_describe(o, desc, desc_len);
    }
    free(cfg);
    return rc == 0 ? 0 : -EINVAL;
}

/* Options the simulator itself refuses (the engine judges the config). */
static int
sim_opts_check(const struct sim_opts *o, char *err, size_t err_len)
{
    if (o->parties_count == 0 || o->parties_count > BPC_PARTIES_MAX) {
        sim_errf(err, err_len, "parties: %u outside 1..%u", o->parties_count, BPC_PARTIES_MAX);
        return -EINVAL;
    }
    if (o->instances == 0) {
        sim_errf(err, err_len, "instances: must be at least 1");
        return -EINVAL;
    }
    if (!(o->loss >= 0.0 && o->loss <= 1.0) || !(o->dup >= 0.0 && o->dup <= 1.0)) {
        sim_errf(err, err_len, "loss and dup must lie in [0, 1]");
        return -EINVAL;
    }
    if (o->delay_min_ns > o->delay_max_ns || o->delay_max_ns / 1000 >= UINT64_MAX / 2) {
        sim_errf(err, err_len, "delay: min %llu ns above max %llu ns",
                 (unsigned long long)o->delay_min_ns, (unsigned long long)o->delay_max_ns);
        return -EINVAL;
    }
    if (o->byz_period_ns == 0) {
        sim_errf(err, err_len, "byz period: must be above 0");
        return -EINVAL;
    }
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->byz[p] >= SIM_BYZ_KINDS_COUNT) {
            sim_errf(err, err_len, "byz: party %u has unknown kind %u", p, o->byz[p]);
            return -EINVAL;
        }
        if (o->restart_at_ns[p] != SIM_NEVER &&
            (o->byz[p] != SIM_BYZ_NONE || o->crash_at_ns[p] >= o->restart_at_ns[p])) {
            sim_errf(err, err_len,
                     "restart: party %u must be a correct party crashed before its restart", p);
            return -EINVAL;
        }
    }
    return 0;
}

/* Crashed plus Byzantine weight must stay within F unless unsafe. */
static int
sim_faulty_check(struct sim *s, char *err, size_t err_len)
{
    const struct bpc_config *cfg = s->cfg0;
    bpc_u128 total = bpc_config_total_weight(cfg);
    bpc_u128 threshold = bpc_config_threshold(cfg);
    bpc_u128 f = bpc_faulty_weight(total, threshold);
    bpc_u128 faulty = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.crash_at_ns[p] != SIM_NEVER || s->o.byz[p] != SIM_BYZ_NONE) {
            faulty += s->o.weights[p];
        }
    }
    s->r.total_weight = total;
    s->r.threshold = threshold;
    s->r.f = f;
    if (faulty > f && !s->o.unsafe) {
        char fb[48];
        char ffb[48];
        char tb[48];
        char wb[48];
        sim_errf(err, err_len,
                 "crashed + Byzantine weight %s exceeds F = %s (W = %s, T = %s); pass --unsafe "
                 "to run it anyway",
                 bpc_u128_str(faulty, fb), bpc_u128_str(f, ffb), bpc_u128_str(total, wb),
                 bpc_u128_str(threshold, tb));
        return -EINVAL;
    }
    return 0;
}

/* Every pair key from the run's master key: the key of parties a <= b is
 * bytes 32 (b - a) to 32 (b - a) + 31 of the ChaCha20 stream under the
 * master key with nonce a (u64 little-endian), which lands in row a from
 * column a on in one call; row b's copy at column a is a memcpy. A run's
 * keys only need to be distinct, unpredictable to the other parties and
 * reproducible from the seed; bpc_auth_pair_key (BLAKE2b, about 350 ns)
 * took a tenth of a 999-party run's CPU for its 499500 pairs, and a
 * SipHash-2-4 PRF per pair, copies included, twice what this takes. */
static void
sim_keys_init(struct sim *s)
{
    _Static_assert(crypto_stream_chacha20_KEYBYTES == BPC_KEY_BYTES, "the master key keys it");
    uint8_t master[BPC_KEY_BYTES];
    sim_master_key(s->o.seed, master);
    s->keys = sim_calloc_big((size_t)s->n * s->n * BPC_KEY_BYTES);
    for (uint32_t a = 0; a < s->n; a++) {
        uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
        for (int i = 0; i < 4; i++) {
            nonce[i] = (uint8_t)(a >> (8 * i));
        }
        (void)crypto_stream_chacha20(s->keys[(size_t)a * s->n + a],
                                     (unsigned long long)(s->n - a) * BPC_KEY_BYTES, nonce, master);
        for (uint32_t b = a + 1; b < s->n; b++) {
            memcpy(s->keys[(size_t)b * s->n + a], s->keys[(size_t)a * s->n + b], BPC_KEY_BYTES);
        }
    }
    sodium_memzero(master, sizeof(master));
}

/* Who submits: with opts.commands, the commands are dealt round-robin over
 * the correct parties that never crash (by id): the k-th of K submits
 * N / K commands, one more when k < N mod K (-EINVAL when K = 0); else
 * every correct party submits. Each party that does gets a slot in the
 * parties' applied_hi tables. */
static int
sim_quotas(struct sim *s, char *err, size_t err_len)
{
    uint64_t n_cmds = s->o.commands;
    s->sub_slot = sim_calloc(s->n, sizeof(*s->sub_slot));
    if (n_cmds == 0) {
        /* Every correct party submits. */
        for (uint32_t p = 0; p < s->n; p++) {
            s->sub_slot[p] = s->o.byz[p] == SIM_BYZ_NONE ? s->sub_slots++ : SIM_NONE;
        }
        return 0;
    }
    uint32_t k = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        k += s->o.byz[p] == SIM_BYZ_NONE && s->o.crash_at_ns[p] == SIM_NEVER;
    }
    if (k == 0) {
        sim_errf(err, err_len, "commands: no correct party without a crash to submit them");
        return -EINVAL;
    }
    uint32_t rank = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        s->sub_slot[p] = SIM_NONE;
        if (s->o.byz[p] == SIM_BYZ_NONE && s->o.crash_at_ns[p] == SIM_NEVER) {
            s->parties[p].quota = n_cmds / k + (rank < n_cmds % k ? 1u : 0u);
            rank++;
        }
        if (s->parties[p].quota > 0) {
            s->sub_slot[p] = s->sub_slots++;
        }
    }
    return 0;
}

/* The sim thread is a QSBR thread of the decided logs (the engines append
 * on it); nested sims on one thread share one registration. */
static _Thread_local uint32_t sim_rcu_users;

/* Registers the thread with RCU (once per thread). */
static void
sim_rcu_enter(struct sim *s)
{
    if (sim_rcu_users++ == 0) {
        bpc_log_thread_register();
    }
    s->rcu_registered = true;
}

/* Unregisters it when the last sim of the thread goes. */
static void
sim_rcu_leave(struct sim *s)
{
    if (!s->rcu_registered) {
        return;
    }
    s->rcu_registered = false;
    if (--sim_rcu_users == 0) {
        bpc_log_thread_unregister();
    }
}

/* Bytes a decided log of retain entries takes. */
static uint64_t
sim_log_bytes(uint64_t retain, uint32_t segment, uint32_t value_bytes)
{
    uint64_t keep = (retain + segment - 1) / segment + 1;
    uint64_t spare = keep / 2 > 4 ? keep / 2 : 4;
    return (keep + spare) * segment * ((uint64_t)value_bytes + 8);
}

/* Sizes every party's log: enough entries for the whole run (so any lag,
 * a restart's included, can catch up from peers), within a memory budget
 * shared by all parties. */
static void
sim_log_size(struct sim *s, uint32_t value_bytes)
{
    const struct sim_opts *o = &s->o;
    uint64_t retain = o->log_retain;
    if (retain == 0 && o->commands > 0) {
        /* Each command is decided in one instance at most: the run, and
         * the window on either side. */
        retain = o->commands + 4ull * o->window_slots;
    } else if (retain == 0) {
        /* The run, the window on either side, and what the submit queues
         * still hold once the parties stop submitting. */
        uint64_t queued = (uint64_t)s->n * s->cfg0->commands_max;
        if (o->liveness_ns > 0) {
            /* Outstanding commands are capped (sim_party_submit). */
            queued = (uint64_t)s->n * sim_outstanding_cap(s);
        }
        retain = o->instances + 4ull * o->window_slots + queued;
    }
    uint64_t floor = 4ull * o->window_slots > 64 ? 4ull * o->window_slots : 64;
    uint64_t budget = SIM_LOG_BUDGET_BYTES / s->n;
    uint32_t seg = SIM_LOG_SEGMENT_ENTRIES;
    for (;;) {
        seg = SIM_LOG_SEGMENT_ENTRIES;
        while (seg > 16 && (uint64_t)seg * 8 > retain) {
            seg /= 2;
        }
        if (o->log_retain != 0 || retain <= floor ||
            sim_log_bytes(retain, seg, value_bytes) <= budget) {
            break;
        }
        retain /= 2;
    }
    s->log_retain = retain;
    s->log_segment = seg;
}

/* A decided log for a party, starting at start. */
static int
sim_log_make(struct sim *s, struct sim_party *pa, uint64_t start, char *err, size_t err_len)
{
    struct bpc_log_config lc = {
        .retain_entries = s->log_retain,
        .segment_entries = s->log_segment,
        .value_bytes_max = s->cfg0->value_bytes_max,
        .start_index = start,
    };
    int rc = bpc_log_new(&pa->dlog, &lc);
    if (rc != 0) {
        pa->dlog = NULL;
        sim_errf(err, err_len, "decided log of party %u: %s (retain %llu, segment %u)", pa->id,
                 bpc_strerror(-rc), (unsigned long long)lc.retain_entries, lc.segment_entries);
        return rc;
    }
    return 0;
}

/* Party p's engine config (in a scratch config: the engine copies it). */
static const struct bpc_config *
sim_party_cfg(const struct sim *s, uint32_t p)
{
    struct bpc_config *cfg = s->cfg_scratch;
    struct sim_party *pa = &s->parties[p];
    sim_config_fill(&s->o, p, cfg);
    cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])s->keys[(size_t)p * s->n];
    cfg->on_apply = sim_on_apply;
    cfg->apply_ctx = pa;
    cfg->log = pa->dlog;
    return cfg;
}

/* Builds party p: config, keys, decided log, engine, disk. */
static int
sim_party_init(struct sim *s, uint32_t p, char *err, size_t err_len)
{
    struct sim_party *pa = &s->parties[p];
    pa->dl_pos = SIM_NONE;
    pa->deadline_ns = SIM_NEVER;
    pa->byz = s->o.byz[p];
    s->rx[p].byz = pa->byz != SIM_BYZ_NONE;
    pa->sim = s;
    pa->id = p;
    pa->applied_hi = sim_calloc(s->sub_slots, sizeof(*pa->applied_hi));
    if (s->log_retain == 0) {
        sim_log_size(s, s->cfg0->value_bytes_max);
    }
    int rc = sim_log_make(s, pa, 0, err, err_len);
    if (rc != 0) {
        return rc;
    }
    rc = bpc_engine_new(&pa->e, sim_party_cfg(s, p), err, err_len);
    if (rc != 0) {
        pa->e = NULL;
        return rc;
    }
    /* Votes reach a window above the floor, decided records the engine's
     * recent-decision ring (2 x window + 256) below it. */
    pa->disk_cap = 3 * s->o.window_slots + 256;
    pa->disk = sim_calloc(pa->disk_cap, sizeof(*pa->disk));
    pa->disk_vals = sim_calloc(pa->disk_cap, sizeof(*pa->disk_vals));
    pa->disk_party.instance = UINT64_MAX;
    if (pa->byz != SIM_BYZ_NONE) {
        s->byz_count++; /* it runs an engine, but is not correct */
        return 0;
    }
    s->correct_live++;
    return 0;
}

/* The network pools and the shared step buffers. */
static void
sim_buffers_init(struct sim *s)
{
    s->chunk_cur = SIM_NONE;
    s->chunk_spare = SIM_NONE;
    s->chunk_unused = SIM_NONE;
    s->block_free = SIM_NONE;
    s->last_body = SIM_NONE;
    /* Room to put together a full burst of the largest frames. */
    s->stage = sim_calloc(SIM_IN_CAP, SIM_FRAME_BYTES_MAX);
    sim_cal_alloc(s, SIM_CAL_SLOTS_MIN);
    s->frame_bytes = s->cfg0->frame_bytes;
    /* Room for a full broadcast per step keeps -EAGAIN rounds rare. */
    s->out_cap = 2 * s->n > 256 ? 2 * s->n : 256;
    if (s->o.tx_frames > 0) {
        s->out_cap = s->o.tx_frames;
    }
    s->outf = sim_calloc(s->out_cap, sizeof(*s->outf));
    s->out_bytes = sim_calloc(s->out_cap, s->frame_bytes);
    for (uint32_t i = 0; i < s->out_cap; i++) {
        s->outf[i].bytes = s->out_bytes + (size_t)i * s->frame_bytes;
        s->outf[i].cap = s->frame_bytes;
    }
    s->decs_cap = s->o.window_slots + 64;
    s->decs = sim_calloc(s->decs_cap, sizeof(*s->decs));
    s->dl_heap = sim_calloc(s->n, sizeof(*s->dl_heap));
    s->touched = sim_calloc(s->n, sizeof(*s->touched));
}

/* Orders parties by their crash (or restart) time. */
static int
sim_crash_cmp(const void *a, const void *b, void *ctx)
{
    const uint64_t *at = ctx;
    uint32_t pa = *(const uint32_t *)a;
    uint32_t pb = *(const uint32_t *)b;
    if (at[pa] != at[pb]) {
        return at[pa] < at[pb] ? -1 : 1;
    }
    return pa < pb ? -1 : (pa > pb);
}

/* Crash and restart schedules, sorted by time. */
static void
sim_crashes_init(struct sim *s)
{
    s->crash_order = sim_calloc(s->n, sizeof(*s->crash_order));
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.crash_at_ns[p] != SIM_NEVER) {
            s->crash_order[s->crash_count++] = p;
        }
    }
    qsort_r(s->crash_order, s->crash_count, sizeof(*s->crash_order), sim_crash_cmp,
            s->o.crash_at_ns);
    s->restart_order = sim_calloc(s->n, sizeof(*s->restart_order));
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.restart_at_ns[p] != SIM_NEVER) {
            s->restart_order[s->restart_count++] = p;
        }
    }
    qsort_r(s->restart_order, s->restart_count, sizeof(*s->restart_order), sim_crash_cmp,
            s->o.restart_at_ns);
}

/* Starts every live engine at 0 and asks for a first step at 0. */
static void
sim_start(struct sim *s)
{
    s->base_instance = UINT64_MAX;
    for (uint32_t p = 0; p < s->n; p++) {
        struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL) {
            continue;
        }
        bpc_engine_start(pa->e, 0);
        pa->first_instance = bpc_engine_next_undecided(pa->e);
        if (pa->first_instance < s->base_instance) {
            s->base_instance = pa->first_instance;
        }
        sim_dl_set(s, p, 0);
    }
    if (s->base_instance == UINT64_MAX) {
        s->base_instance = 0;
    }
    s->byz_next_ns = 0;
}

/* Builds the cluster and starts it at virtual time 0. */
int
sim_init(struct sim **out, const struct sim_opts *o, char *err, size_t err_len)
{
    *out = NULL;
    int rc = sim_opts_check(o, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (bpc_init() < 0) {
        sim_errf(err, err_len, "bpc_init failed");
        return -EIO;
    }
    struct sim *s = sim_calloc(1, sizeof(*s));
    s->o = *o;
    s->n = o->parties_count;
    s->debug = getenv("BPC_SIM_DEBUG") != NULL;
    if (s->debug) {
        s->debug_recs = sim_calloc(65536, sizeof(*s->debug_recs));
    }
    s->r.agreement = s->r.validity = s->r.integrity = s->r.order = s->r.liveness = true;
    s->r.healed_at_ns = SIM_NEVER;
    s->live_next_ns = SIM_NEVER;
    s->muted = SIM_NONE;
    s->tag_key = sim_stream_seed(o->seed, SIM_STREAM_TAG);
    s->cluster_id = sim_stream_seed(o->seed, SIM_STREAM_CLUSTER);
    /* Enough commands for every instance to carry a full batch, bounded. */
    s->submit_max =
        o->instances > UINT64_MAX / BPC_BATCH_MAX ? UINT64_MAX : o->instances * BPC_BATCH_MAX;
    /* One microsecond up to 199 parties; above, a party receives about n
     * frames per phase and a tick of n / 100 us delivers them in bursts
     * (as a poll loop takes them), not one step per frame. */
    s->delay_tick_us = s->n / SIM_DELAY_TICK_PARTIES > 1 ? s->n / SIM_DELAY_TICK_PARTIES : 1;
    s->delay_span_ticks = (o->delay_max_ns / 1000 - o->delay_min_ns / 1000) / s->delay_tick_us + 1;
    s->delay_limit = UINT64_MAX - UINT64_MAX % s->delay_span_ticks;
    s->loss_cut = sim_prob_cut(o->loss);
    s->dup_cut = sim_prob_cut(o->dup);
    sim_rng_seed(&s->net_rng, sim_stream_seed(o->seed, SIM_STREAM_NET));
    sim_rng_seed(&s->byz_rng, sim_stream_seed(o->seed, SIM_STREAM_BYZ));
    s->parties = sim_calloc(s->n, sizeof(*s->parties));
    s->rx = sim_calloc(s->n, sizeof(*s->rx));
    sim_rcu_enter(s);
    s->cfg0 = sim_calloc(1, sizeof(*s->cfg0));
    s->cfg_scratch = sim_calloc(1, sizeof(*s->cfg_scratch));
    sim_config_fill(o, 0, s->cfg0);
    rc = bpc_config_validate(s->cfg0, err, err_len);
    if (rc == 0) {
        rc = sim_faulty_check(s, err, err_len);
    }
    if (rc == 0) {
        rc = sim_quotas(s, err, err_len);
    }
    if (rc == 0) {
        sim_keys_init(s);
        for (uint32_t p = 0; p < s->n && rc == 0; p++) {
            rc = sim_party_init(s, p, err, err_len);
        }
    }
    if (rc != 0) {
        sim_free(s);
        return rc;
    }
    sim_buffers_init(s);
    sim_crashes_init(s);
    bpc_config_digest(s->cfg0, s->digest);
    s->first_leader = bpc_elect_leader(s->cfg0, s->digest, 1);
    sim_byz_init(s);
    sim_start(s);
    *out = s;
    return 0;
}

/* Frees everything sim_init built (the logs wait for grace periods). */
void
sim_free(struct sim *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t p = 0; p < s->n; p++) {
        struct sim_party *pa = &s->parties[p];
        if (pa->e != NULL) {
            bpc_engine_free(pa->e);
        }
        if (pa->dlog != NULL) {
            bpc_log_free(pa->dlog);
        }
        for (uint64_t i = 0; i < pa->log_len; i++) {
            free(pa->log[i].value);
        }
        free(pa->log);
        for (uint32_t i = 0; pa->disk != NULL && i < pa->disk_cap; i++) {
            free(pa->disk[i]);
        }
        free(pa->disk);
        for (uint32_t i = 0; pa->disk_vals != NULL && i < pa->disk_cap; i++) {
            for (uint32_t k = 0; pa->disk_vals[i] != NULL && k < SIM_DISK_VALS; k++) {
                free(pa->disk_vals[i][k].bytes);
            }
            free(pa->disk_vals[i]);
        }
        free(pa->disk_vals);
        free(pa->disk_applied);
        free(pa->disk_applied_at.ents);
        free(pa->cmds.ticket);
        free(pa->cmds.submit_ns);
        free(pa->applied.ents);
        free(pa->applied_hi);
    }
    sim_byz_free(s);
    free(s->applied_at.ents);
    free(s->cfg0);
    free(s->cfg_scratch);
    free(s->sub_slot);
    for (uint32_t c = 0; c < s->chunks_count; c++) {
        sim_unmap_big(s->chunks[c].mem, SIM_CHUNK_BYTES);
    }
    if (s->keys != NULL) {
        size_t key_bytes = (size_t)s->n * s->n * BPC_KEY_BYTES;
        sodium_memzero(s->keys, key_bytes);
        sim_free_big(s->keys, key_bytes);
    }
    free(s->chunks);
    free(s->cal);
    sim_free_big(s->blocks, (size_t)s->blocks_cap * sizeof(*s->blocks));
    free(s->times);
    free(s->dlv);
    free(s->grouped);
    free(s->stage);
    free(s->dl_heap);
    free(s->crash_order);
    free(s->restart_order);
    free(s->debug_recs);
    sim_rcu_leave(s);
    free(s->touched);
    free(s->outf);
    free(s->out_bytes);
    free(s->decs);
    free(s->refs);
    free(s->parties);
    free(s->rx);
    free(s);
}

/* ------------------------------------------------------------------------
 * Results.
 * ---------------------------------------------------------------------- */

/* Feeds a u64 (little-endian) to the run hash. */
static void
sim_hash_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    crypto_generichash_update(st, b, sizeof(b));
}

/* BLAKE2b-256 over every party's decided log and the run's counts. */
static void
sim_run_hash(const struct sim *s, const struct sim_result *r, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    sim_hash_u64(&st, s->o.seed);
    sim_hash_u64(&st, s->n);
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        sim_hash_u64(&st, p);
        sim_hash_u64(&st, pa->log_len);
        for (uint64_t i = 0; i < pa->log_len; i++) {
            const struct sim_log_entry *le = &pa->log[i];
            sim_hash_u64(&st, le->instance);
            sim_hash_u64(&st, le->ballot);
            crypto_generichash_update(&st, (const uint8_t *)&le->vid, sizeof(le->vid));
        }
    }
    sim_hash_u64(&st, r->sim_time_ns);
    sim_hash_u64(&st, r->frames);
    sim_hash_u64(&st, r->messages);
    sim_hash_u64(&st, r->frames_sent);
    sim_hash_u64(&st, r->steps);
    sim_hash_u64(&st, r->max_ballot);
    crypto_generichash_final(&st, out, 32);
}

/* Sums the correct engines' counters into r. */
static void
sim_result_engines(const struct sim *s, struct sim_result *r)
{
    bool any = false;
    r->decided = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL || pa->byz != SIM_BYZ_NONE) {
            continue;
        }
        r->decisions_total += pa->log_len;
        const struct bpc_counters *c = bpc_engine_counters(pa->e);
        for (uint32_t i = 0; i < BPC_DROP_REASONS_COUNT; i++) {
            r->drops[i] += c->drops[i];
        }
        r->equivocations += c->equivocations;
        r->tx_overflow += c->tx_overflow;
        uint32_t k = 0;
#define SIM_X_SUM(name) r->counters[k++] += c->name;
        BPC_COUNTERS(SIM_X_SUM)
#undef SIM_X_SUM
        if (pa->crashed) {
            continue;
        }
        uint64_t b = bpc_engine_ballot(pa->e);
        r->max_ballot = b > r->max_ballot ? b : r->max_ballot;
        if (!any || pa->log_len < r->decided) {
            r->decided = pa->log_len;
        }
        if (!any || pa->applied_count < r->commands) {
            r->commands = pa->applied_count;
        }
        any = true;
    }
}

/* The run's result so far. */
void
sim_result(const struct sim *s, struct sim_result *r)
{
    *r = s->r;
    memset(r->drops, 0, sizeof(r->drops));
    memset(r->counters, 0, sizeof(r->counters));
    r->equivocations = 0;
    r->tx_overflow = 0;
    r->decisions_total = 0;
    r->commands = 0;
    r->max_ballot = 0;
    r->outcome = s->outcome;
    r->first_leader = s->first_leader;
    r->parties = s->n;
    r->correct_live = s->correct_live;
    r->seed = s->o.seed;
    r->sim_time_ns = s->now_ns;
    sim_result_engines(s, r);
    sim_run_hash(s, r, r->run_hash);
}

/* Virtual time now. */
uint64_t
sim_now_ns(const struct sim *s)
{
    return s->now_ns;
}

/* Min log length over correct live parties. */
uint64_t
sim_decided_min(const struct sim *s)
{
    bool any = false;
    uint64_t min = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (!sim_correct_live(s, p)) {
            continue;
        }
        if (!any || pa->log_len < min) {
            min = pa->log_len;
        }
        any = true;
    }
    return min;
}

/* Frames delivered so far. */
uint64_t
sim_frames_delivered(const struct sim *s)
{
    return s->r.frames;
}

/* Party count. */
uint32_t
sim_parties(const struct sim *s)
{
    return s->n;
}

/* A party's engine (NULL outside the party list). */
struct bpc_engine *
sim_engine(struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].e : NULL;
}

/* A party's config (filled in on demand: valid until the next call). */
const struct bpc_config *
sim_config(const struct sim *s, uint32_t party)
{
    return party < s->n ? sim_party_cfg(s, party) : NULL;
}

/* The key parties a and b share. */
const uint8_t *
sim_pair_key(const struct sim *s, uint32_t a, uint32_t b)
{
    if (a >= s->n || b >= s->n) {
        return NULL;
    }
    return s->keys[(size_t)a * s->n + b];
}

/* Length of a party's application log. */
uint64_t
sim_log_len(const struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].log_len : 0;
}

/* One entry of a party's application log. */
const struct sim_log_entry *
sim_log_entry(const struct sim *s, uint32_t party, uint64_t index)
{
    if (party >= s->n || index >= s->parties[party].log_len) {
        return NULL;
    }
    return &s->parties[party].log[index];
}

/* The name of an outcome. */
const char *
sim_outcome_name(enum sim_outcome o)
{
    switch (o) {
    case SIM_RUNNING:
        return "running";
    case SIM_DONE:
        return "done";
    case SIM_VIOLATION:
        return "violation";
    case SIM_TIME_LIMIT:
        return "time-limit";
    case SIM_STALLED:
        return "stalled";
    case SIM_ENGINE_ERROR:
        return "engine-error";
    }
    return "unknown";
}

/* Names of the engine counters, in BPC_COUNTERS order. */
static const char *const sim_counter_names[SIM_COUNTERS_COUNT] = {
#define SIM_X_NAME(name) #name,
    BPC_COUNTERS(SIM_X_NAME)
#undef SIM_X_NAME
};

/* The name of engine counter i. */
const char *
sim_counter_name(uint32_t i)
{
    return i < SIM_COUNTERS_COUNT ? sim_counter_names[i] : NULL;
}

/* Names of the Byzantine kinds, by enum sim_byz_kind. */
static const char *const sim_byz_names[SIM_BYZ_KINDS_COUNT] = {
    [SIM_BYZ_NONE] = "none",     [SIM_BYZ_WRONGBALLOT] = "wrongballot",
    [SIM_BYZ_SILENT] = "silent", [SIM_BYZ_EQUIVOCATE] = "equivocate",
    [SIM_BYZ_LIE1B] = "lie1b",   [SIM_BYZ_VOTES] = "votes",
    [SIM_BYZ_REPLAY] = "replay", [SIM_BYZ_MALFORMED] = "malformed",
    [SIM_BYZ_EVICT] = "evict",   [SIM_BYZ_DECIDED_LIE] = "decided-lie",
    [SIM_BYZ_FORGE] = "forge",   [SIM_BYZ_UNATTESTED] = "unattested",
};

/* The name of a Byzantine kind ("unknown" outside the enum). */
const char *
sim_byz_kind_name(enum sim_byz_kind k)
{
    return (unsigned)k < SIM_BYZ_KINDS_COUNT ? sim_byz_names[k] : "unknown";
}

/* Parses a Byzantine kind name (not "none"); -EINVAL when unknown. */
int
sim_byz_kind_parse(const char *name)
{
    for (int k = SIM_BYZ_NONE + 1; k < SIM_BYZ_KINDS_COUNT; k++) {
        if (strcmp(name, sim_byz_names[k]) == 0) {
            return k;
        }
    }
    return -EINVAL;
}
