/*
 * sim.c - the deterministic cluster simulator's core (library part of
 * bpcon-sim): the virtual clock and the event loop.
 *
 * Owns: the virtual clock, the event loop (what each instant runs, in
 * order: crashes, restarts, the heal that ends the Byzantine phase, the
 * Byzantine tick, deliveries, deadlines, the liveness check), the deadline
 * heap, and the memory and error helpers every part uses. The rest of the
 * library: net.c (the network), party.c (submitting and stepping), disk.c
 * (disks, crashes, restarts), check.c (safety and liveness checkers),
 * opts.c (options and engine configs), setup.c (building and freeing a
 * cluster), result.c (results and names) and the byz*.c files (Byzantine
 * behaviours).
 * Must never: read a wall clock, draw entropy or call rand() (everything
 * derives from opts.seed), touch engine internals, or let a checker
 * failure pass silently.
 */
#include "sim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Events between two progress callbacks. */
#define SIM_PROGRESS_EVENTS 4096u

/* ------------------------------------------------------------------------
 * Errors and memory.
 * ---------------------------------------------------------------------- */

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
void *
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

void *
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

void
sim_unmap_big(void *p, size_t bytes)
{
    if (p != NULL) {
        (void)munmap(p, sim_big_len(bytes));
    }
}

/* Zeroed memory for a large array: its own mapping from SIM_BIG_BYTES
 * up, else the heap; sim_free_big with the same size gives it back. */
void *
sim_calloc_big(size_t bytes)
{
    return bytes >= SIM_BIG_BYTES ? sim_map_big(bytes) : sim_calloc(1, bytes);
}

void
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
void *
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
void
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
void
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
 * The event loop.
 * ---------------------------------------------------------------------- */

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
void
sim_touch(struct sim *s, uint32_t p)
{
    struct sim_rx *rx = &s->rx[p];
    if (rx->touched_epoch != s->epoch) {
        rx->touched_epoch = s->epoch;
        rx->in_count = 0;
        s->touched[s->touched_count++] = p;
    }
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
