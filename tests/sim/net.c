/*
 * net.c - the simulator's network.
 *
 * Owns: the frame arena, the delivery calendar (a calendar of delivery
 * times whose buckets keep sequence order, so frames arrive in the total
 * order on (deliver_at_ns, sequence)), loss, delay and duplication drawn
 * from the network stream, and the delivery pass that takes each instant's
 * frames off the calendar and groups them by receiver. Must never: draw
 * randomness from anything but the sim's network stream (and then the same
 * draws whichever branch is taken), deliver a frame to a crashed party, or
 * reorder the deliveries of one instant.
 */
#include "sim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* A frame's head and tail, kept with each copy (the head as its
 * difference from the body's); the middle between them is shared when it
 * is at least SIM_SPLIT_MIN bytes. */
#define SIM_SPLIT_HEAD BPC_WIRE_HEADER_BYTES
#define SIM_SPLIT_TAIL BPC_TAG_BYTES
#define SIM_SPLIT_MIN 32u
_Static_assert(SIM_SPLIT_HEAD == 32u, "the head difference is a 32-bit mask");
_Static_assert(SIM_FRAME_BYTES_MAX <= UINT16_MAX, "a frame's length fits sim_msg.len");

/* The bytes after a message's header: the whole frame, or (with a body)
 * the head mask, the differing head bytes and the tail. */
static inline uint8_t *
sim_msg_bytes(struct sim_msg *m)
{
    return (uint8_t *)(m + 1);
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
const uint8_t *
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
void
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
void
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
uint64_t
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

/* Takes every frame due now off the calendar, in delivery order, into
 * this instant's delivery list (frames to crashed parties are dropped). */
void
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
void
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
