/*
 * sim.c - the deterministic cluster simulator (library part of bpcon-sim).
 *
 * Owns: the virtual clock, the seeded network (a min-heap on
 * (deliver_at_ns, sequence) so the delivery order is total), pooled frame
 * buffers, the per-party in-memory disks and decided logs, the command
 * submitter, scripted Byzantine parties, crashes, restarts from disk and the
 * safety checkers. Must never: read a
 * wall clock, draw entropy or call rand() (everything derives from
 * opts.seed), touch engine internals, or let a checker failure pass
 * silently.
 */
#include "sim.h"

#include "prng.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size classes of pooled frame buffers: 128 << c bytes, up to 16 KiB, which
 * covers BPC_FRAME_BYTES_MAX. */
#define SIM_CLASSES 8u
#define SIM_CLASS_MIN_BYTES 128u
/* Frames handed to one engine step at most (an rx burst). */
#define SIM_IN_CAP 64u
/* A step that keeps asking for more room or more persistence this many
 * times in a row is an engine bug, not progress. */
#define SIM_STEP_LOOPS_MAX 100000u
/* Events between two progress callbacks. */
#define SIM_PROGRESS_EVENTS 4096u
/* Decided-log memory budget over all parties, so 999 parties fit too. */
#define SIM_LOG_BUDGET_BYTES (1024ull * 1024 * 1024)
#define SIM_LOG_SEGMENT_ENTRIES 256u
#define SIM_NONE UINT32_MAX

/* ------------------------------------------------------------------------
 * PRNG: splitmix64 seeding xoshiro256**.
 * ---------------------------------------------------------------------- */

struct sim_rng {
    struct bpc_prng g;
};

static uint64_t
sim_splitmix64(uint64_t *state)
{
    return bpc_splitmix64(state);
}

static void
sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    bpc_prng_seed(&r->g, seed);
}

static uint64_t
sim_rng_next(struct sim_rng *r)
{
    return bpc_prng_next(&r->g);
}

/* Uniform in [0, n) by rejection (n > 0). */
static uint64_t
sim_rng_below(struct sim_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = sim_rng_next(r);
        if (x < limit) {
            return x % n;
        }
    }
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
 * State.
 * ---------------------------------------------------------------------- */

struct sim_msg {
    uint8_t *bytes;
    uint32_t len;
    uint32_t from;
    uint32_t to;
    uint32_t next; /* free list or inbox link */
    uint8_t cls;
};

struct sim_event {
    uint64_t at_ns;
    uint64_t seq;
    uint32_t msg;
};

/* Per submitting party: what the engine called each command. */
struct sim_cmd_track {
    uint64_t *ticket; /* per sequence: the ticket bpc_submit returned */
    uint64_t ticket_cap;
    uint64_t *applied_at; /* per sequence: instance + 1 of the first apply, 0: none */
    uint64_t applied_cap;
};

/* Open-addressing set of non-zero u64 keys (commands one party applied). */
struct sim_set {
    uint64_t *keys;
    uint64_t cap; /* power of two or 0 */
    uint64_t count;
};

struct sim_ref {
    bool set;
    struct bpc_vid vid;
};

struct sim_party {
    struct sim *sim; /* back pointer for the engine's apply callback */
    uint32_t id;
    struct bpc_engine *e;
    struct bpc_config *cfg;
    struct bpc_log *dlog; /* the engine's decided log (peers' catch-up source) */
    bool crashed;
    bool restarted;
    uint8_t byz;
    bool done;
    uint64_t deadline_ns; /* SIM_NEVER when not in the deadline heap */
    uint32_t dl_pos;      /* index in the deadline heap or SIM_NONE */
    uint64_t submitted;   /* next command sequence */
    struct sim_log_entry *log;
    uint64_t log_len;
    uint64_t log_cap;
    uint64_t first_instance;
    struct bpc_durable *disk; /* ring of disk_cap records by instance */
    uint32_t disk_cap;
    struct bpc_durable disk_party;    /* the instance == UINT64_MAX record */
    struct bpc_durable *disk_applied; /* per submitter: its apply-state record */
    uint32_t inbox_head;
    uint32_t inbox_tail;
    uint64_t touched_epoch;
    uint64_t *byz_seq;         /* per-peer frame sequence (Byzantine parties) */
    struct sim_cmd_track cmds; /* commands this party submitted */
    struct sim_set applied;    /* commands this party applied */
    uint64_t applied_count;
};

struct sim {
    struct sim_opts o;
    enum sim_outcome outcome;
    uint64_t now_ns;
    uint32_t n;
    struct sim_party *parties;
    uint8_t (*keys)[BPC_KEY_BYTES]; /* n x n pair keys, row p is party p's */
    uint64_t cluster_id;
    uint32_t frame_bytes;
    uint64_t loss_cut;
    uint64_t dup_cut;
    struct sim_rng net_rng;
    struct sim_rng byz_rng;
    /* network */
    struct sim_msg *msgs;
    uint32_t msgs_count;
    uint32_t msgs_cap;
    uint32_t free_head[SIM_CLASSES];
    struct sim_event *heap;
    uint32_t heap_count;
    uint32_t heap_cap;
    uint64_t net_seq;
    /* deadlines: indexed min-heap of party ids on (deadline_ns, id) */
    uint32_t *dl_heap;
    uint32_t dl_count;
    /* crashes sorted by time */
    uint32_t *crash_order;
    uint32_t crash_count;
    uint32_t crash_next;
    /* restarts sorted by time */
    uint32_t *restart_order;
    uint32_t restart_count;
    uint32_t restart_next;
    uint64_t log_retain;
    uint32_t log_segment;
    /* BPC_SIM_DEBUG: delivered records by type, dumped at the end */
    bool debug;
    uint64_t debug_types[BPC_MSG_TYPES_COUNT];
    struct bpc_record *debug_recs;
    bool rcu_registered;
    uint64_t byz_next_ns;
    uint32_t byz_count;
    /* one event's work */
    uint32_t *touched;
    uint32_t touched_count;
    uint64_t epoch;
    /* step buffers, shared by all parties */
    struct bpc_frame_out *outf;
    uint8_t *out_bytes;
    uint32_t out_cap;
    struct bpc_decision *decs;
    uint32_t decs_cap;
    struct bpc_frame_in inf[SIM_IN_CAP];
    /* checkers */
    struct sim_ref *refs;
    uint64_t refs_cap;
    uint64_t base_instance;
    uint32_t correct_live;
    uint32_t done_count;
    uint64_t submit_max; /* commands per party at most */
    uint64_t events;
    struct sim_result r;
    int first_leader;
};

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

static void *
sim_grow(void *p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) {
        return p;
    }
    uint64_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = realloc(p, (size_t)ncap * elem);
    if (np == NULL) {
        fprintf(stderr, "bpcon-sim: out of memory\n");
        abort();
    }
    memset((uint8_t *)np + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *cap = ncap;
    return np;
}

static void *
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

static void
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
 * Network: pooled messages and the delivery heap.
 * ---------------------------------------------------------------------- */

static uint8_t
sim_class_of(uint32_t len)
{
    uint8_t c = 0;
    while (c + 1u < SIM_CLASSES && (SIM_CLASS_MIN_BYTES << c) < len) {
        c++;
    }
    return c;
}

static uint32_t
sim_msg_alloc(struct sim *s, uint32_t len)
{
    uint8_t c = sim_class_of(len);
    uint32_t m = s->free_head[c];
    if (m != SIM_NONE) {
        s->free_head[c] = s->msgs[m].next;
        return m;
    }
    uint64_t cap = s->msgs_cap;
    s->msgs = sim_grow(s->msgs, &cap, (uint64_t)s->msgs_count + 1, sizeof(*s->msgs));
    s->msgs_cap = (uint32_t)cap;
    m = s->msgs_count++;
    s->msgs[m].cls = c;
    s->msgs[m].bytes = malloc(SIM_CLASS_MIN_BYTES << c);
    if (s->msgs[m].bytes == NULL) {
        fprintf(stderr, "bpcon-sim: out of memory\n");
        abort();
    }
    return m;
}

static void
sim_msg_free(struct sim *s, uint32_t m)
{
    uint8_t c = s->msgs[m].cls;
    s->msgs[m].next = s->free_head[c];
    s->free_head[c] = m;
}

static bool
sim_event_less(const struct sim_event *a, const struct sim_event *b)
{
    if (a->at_ns != b->at_ns) {
        return a->at_ns < b->at_ns;
    }
    return a->seq < b->seq;
}

static void
sim_heap_push(struct sim *s, struct sim_event ev)
{
    uint64_t cap = s->heap_cap;
    s->heap = sim_grow(s->heap, &cap, (uint64_t)s->heap_count + 1, sizeof(*s->heap));
    s->heap_cap = (uint32_t)cap;
    uint32_t i = s->heap_count++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!sim_event_less(&ev, &s->heap[parent])) {
            break;
        }
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = ev;
}

static struct sim_event
sim_heap_pop(struct sim *s)
{
    struct sim_event top = s->heap[0];
    struct sim_event last = s->heap[--s->heap_count];
    uint32_t i = 0;
    uint32_t count = s->heap_count;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= count) {
            break;
        }
        if (c + 1 < count && sim_event_less(&s->heap[c + 1], &s->heap[c])) {
            c++;
        }
        if (!sim_event_less(&s->heap[c], &last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (count > 0) {
        s->heap[i] = last;
    }
    return top;
}

static bool
sim_dead(const struct sim *s, uint32_t p)
{
    return s->parties[p].crashed || s->parties[p].byz != SIM_BYZ_NONE;
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
    uint32_t m = sim_msg_alloc(s, len);
    memcpy(s->msgs[m].bytes, bytes, len);
    s->msgs[m].len = len;
    s->msgs[m].from = from;
    s->msgs[m].to = to;
    uint64_t at = s->now_ns + delay_ns;
    if (at < s->now_ns) {
        at = SIM_NEVER;
    }
    struct sim_event ev = {.at_ns = at, .seq = s->net_seq++, .msg = m};
    sim_heap_push(s, ev);
}

static uint64_t
sim_net_delay(struct sim *s)
{
    uint64_t lo = s->o.delay_min_ns / 1000;
    uint64_t hi = s->o.delay_max_ns / 1000;
    /* Whole microseconds, so frames share delivery times and batch. */
    return (lo + sim_rng_below(&s->net_rng, hi - lo + 1)) * 1000;
}

/* One frame handed to the network: loss, delay, duplication. */
static void
sim_net_send(struct sim *s, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    s->r.frames_sent++;
    /* Draw everything up front so the random stream does not depend on
     * which branch is taken. */
    bool lost = sim_rng_chance(&s->net_rng, s->loss_cut);
    uint64_t delay = sim_net_delay(s);
    bool dup = sim_rng_chance(&s->net_rng, s->dup_cut);
    bool lost2 = sim_rng_chance(&s->net_rng, s->loss_cut);
    uint64_t delay2 = sim_net_delay(s);
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

int
sim_inject(struct sim *s, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
           uint64_t delay_ns)
{
    if (to >= s->n || len == 0 || len > (SIM_CLASS_MIN_BYTES << (SIM_CLASSES - 1))) {
        return -EINVAL;
    }
    sim_net_schedule(s, from, to, frame, len, delay_ns, false);
    return 0;
}

/* ------------------------------------------------------------------------
 * Deadline heap (indexed by party).
 * ---------------------------------------------------------------------- */

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

static void
sim_dl_place(struct sim *s, uint32_t i, uint32_t p)
{
    s->dl_heap[i] = p;
    s->parties[p].dl_pos = i;
}

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

/* A simulated command: u32 submitter, u32 zero, u64 sequence (LE). */
struct sim_cmd {
    uint32_t sub;
    uint32_t zero;
    uint64_t seq;
};

static void
sim_cmd_parse(const uint8_t *b, struct sim_cmd *c)
{
    c->sub = 0;
    c->zero = 0;
    c->seq = 0;
    for (int i = 3; i >= 0; i--) {
        c->sub = (c->sub << 8) | b[i];
        c->zero = (c->zero << 8) | b[4 + i];
    }
    for (int i = 7; i >= 0; i--) {
        c->seq = (c->seq << 8) | b[8 + i];
    }
}

static bool
sim_set_insert(struct sim_set *set, uint64_t key)
{
    if (2 * (set->count + 1) > set->cap) {
        struct sim_set bigger = {.cap = set->cap ? 2 * set->cap : 64};
        bigger.keys = sim_calloc((size_t)bigger.cap, sizeof(*bigger.keys));
        for (uint64_t i = 0; i < set->cap; i++) {
            if (set->keys[i] != 0) {
                sim_set_insert(&bigger, set->keys[i]);
            }
        }
        free(set->keys);
        *set = bigger;
    }
    uint64_t st = key;
    for (uint64_t i = sim_splitmix64(&st) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (set->keys[i] == key) {
            return false;
        }
        if (set->keys[i] == 0) {
            set->keys[i] = key;
            set->count++;
            return true;
        }
    }
}

/* Validity of one command of a decided batch, as named by the engine
 * (submitter, seq) and as carried in its bytes. */
static bool
sim_check_command(struct sim *s, uint32_t p, uint64_t instance, const struct bpc_command *bc)
{
    struct sim_cmd c = {0};
    if (bc->len == SIM_COMMAND_BYTES) {
        sim_cmd_parse(bc->bytes, &c);
    }
    if (bc->len != SIM_COMMAND_BYTES || c.sub != bc->submitter || c.sub >= s->n || c.zero != 0 ||
        c.seq >= s->parties[c.sub].submitted) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u, instance %llu: command of %u bytes from %u (carried "
                      "submitter %u, sequence %llu) was never submitted",
                      p, (unsigned long long)instance, bc->len, bc->submitter, c.sub,
                      (unsigned long long)c.seq);
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
    if (instance < pa->first_instance + pa->log_len) {
        /* A restarted engine replays instances its application log already
         * holds; the application applied them before the crash. */
        return;
    }
    struct bpc_command bc = {.submitter = submitter, .len = len, .seq = seq, .bytes = cmd};
    if (!sim_check_command(s, pa->id, instance, &bc)) {
        return;
    }
    struct sim_cmd c;
    sim_cmd_parse(cmd, &c);
    pa->applied_count++;
    if (!sim_set_insert(&pa->applied, ((uint64_t)c.sub << 40 | c.seq) + 1)) {
        sim_violation(s, &s->r.integrity,
                      "integrity: party %u applied command (%u, %llu) twice (again at instance "
                      "%llu)",
                      pa->id, c.sub, (unsigned long long)c.seq, (unsigned long long)instance);
        return;
    }
    struct sim_cmd_track *t = &s->parties[c.sub].cmds;
    t->applied_at = sim_grow(t->applied_at, &t->applied_cap, c.seq + 1, sizeof(*t->applied_at));
    if (t->applied_at[c.seq] == 0) {
        t->applied_at[c.seq] = instance + 1;
    } else if (t->applied_at[c.seq] != instance + 1) {
        sim_violation(s, &s->r.integrity,
                      "integrity: command (%u, %llu) applied at instance %llu by party %u, at "
                      "%llu by another party",
                      c.sub, (unsigned long long)c.seq, (unsigned long long)instance, pa->id,
                      (unsigned long long)(t->applied_at[c.seq] - 1));
    }
}

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
 * match its id and whose commands were all submitted. */
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
        if (!sim_check_command(s, p, d->instance, &bc)) {
            return;
        }
    }
    if (off < 0 || count == 0) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u decided instance %llu: a malformed batch of %u bytes", p,
                      (unsigned long long)d->instance, d->len);
    }
}

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
    if (!pa->done && pa->log_len >= s->o.instances && !pa->crashed) {
        pa->done = true;
        s->done_count++;
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

/* Keeps the party's queue topped up until it has decided enough. */
static void
sim_party_submit(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    while (pa->log_len < s->o.instances && pa->submitted < s->submit_max) {
        uint8_t v[SIM_COMMAND_BYTES] = {0};
        for (int i = 0; i < 4; i++) {
            v[i] = (uint8_t)(p >> (8 * i));
        }
        for (int i = 0; i < 8; i++) {
            v[8 + i] = (uint8_t)(pa->submitted >> (8 * i));
        }
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
        t->ticket[pa->submitted++] = ticket;
    }
}

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
                pa->disk_applied[sub] = *d;
            }
            continue;
        }
        /* The ring keeps the newest 2 x window instances; anything older is
         * decided and would only be read by a restart's catch-up. */
        struct bpc_durable *slot = &pa->disk[d->instance % pa->disk_cap];
        if (slot->instance != UINT64_MAX && slot->instance > d->instance) {
            continue;
        }
        *slot = *d;
    }
}

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
        sim_net_send(s, p, f->peer, f->bytes, f->len);
    }
}

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
    for (uint32_t i = 0; i < out->decisions_count && i < out->decisions_cap; i++) {
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
        bpc_engine_persisted(s->parties[p].e);
        again = true;
    }
    return again;
}

static void
sim_party_step(struct sim *s, uint32_t p, uint32_t frames_count)
{
    struct sim_party *pa = &s->parties[p];
    sim_party_submit(s, p);
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
            return;
        }
        in.frames_count = 0;
    }
    sim_engine_error(s, "engine: party %u kept asking to step again at %llu ns", p,
                     (unsigned long long)s->now_ns);
}

/* Steps a touched party once per burst of its inbox (at least once). */
static void
sim_party_run(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    do {
        uint32_t count = 0;
        uint32_t taken[SIM_IN_CAP];
        while (pa->inbox_head != SIM_NONE && count < SIM_IN_CAP) {
            uint32_t m = pa->inbox_head;
            pa->inbox_head = s->msgs[m].next;
            s->inf[count].bytes = s->msgs[m].bytes;
            s->inf[count].len = s->msgs[m].len;
            taken[count++] = m;
        }
        if (pa->inbox_head == SIM_NONE) {
            pa->inbox_tail = SIM_NONE;
        }
        sim_party_step(s, p, count);
        for (uint32_t i = 0; i < count; i++) {
            sim_msg_free(s, taken[i]);
        }
    } while (pa->inbox_head != SIM_NONE && s->outcome == SIM_RUNNING);
}

/* ------------------------------------------------------------------------
 * Byzantine parties.
 * ---------------------------------------------------------------------- */

static uint64_t
sim_max_correct_ballot(const struct sim *s)
{
    uint64_t maxb = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        if (!sim_dead(s, p)) {
            uint64_t b = bpc_engine_ballot(s->parties[p].e);
            maxb = b > maxb ? b : maxb;
        }
    }
    return maxb;
}

static void
sim_byz_value(struct sim *s, struct bpc_vid *vid)
{
    uint8_t v[BPC_VALUE_INLINE_MAX];
    uint32_t len = 1 + (uint32_t)sim_rng_below(&s->byz_rng, BPC_VALUE_INLINE_MAX);
    for (uint32_t i = 0; i < len; i++) {
        v[i] = (uint8_t)sim_rng_next(&s->byz_rng);
    }
    bpc_vid_of(vid, v, len);
}

/* 1B (no vote), 2AV and 2B with random values, at one ballot. */
static void
sim_byz_put_ballot(struct sim *s, struct bpc_wire_writer *w, uint64_t instance, uint64_t ballot)
{
    static const uint8_t types[3] = {BPC_MSG_1B, BPC_MSG_2AV, BPC_MSG_2B};
    for (int i = 0; i < 3; i++) {
        struct bpc_record rec;
        memset(&rec, 0, sizeof(rec));
        rec.type = types[i];
        rec.instance = instance;
        rec.ballot = ballot;
        if (types[i] != BPC_MSG_1B) {
            sim_byz_value(s, &rec.value);
        }
        if (bpc_wire_put(w, &rec) != 0) {
            return;
        }
    }
}

static void
sim_byz_wrongballot(struct sim *s, uint32_t b, uint64_t maxb)
{
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    for (uint32_t q = 0; q < s->n; q++) {
        if (q == b || sim_dead(s, q)) {
            continue;
        }
        struct bpc_wire_writer w;
        if (bpc_wire_begin(&w, buf, s->frame_bytes, 0) != 0) {
            return;
        }
        uint64_t inst = bpc_engine_next_undecided(s->parties[q].e);
        uint64_t high = maxb + 2 + sim_rng_below(&s->byz_rng, 999999);
        sim_byz_put_ballot(s, &w, inst, high);
        sim_byz_put_ballot(s, &w, inst, 1);
        struct bpc_frame_header h = {.cluster_id = s->cluster_id,
                                     .sender = (uint16_t)b,
                                     .receiver = (uint16_t)q,
                                     .seq = ++s->parties[b].byz_seq[q]};
        uint32_t len = bpc_wire_finish(&w, &h, s->keys[(size_t)b * s->n + q]);
        s->r.byz_frames++;
        sim_net_send(s, b, q, buf, len);
    }
}

static void
sim_byz_tick(struct sim *s)
{
    uint64_t maxb = sim_max_correct_ballot(s);
    for (uint32_t b = 0; b < s->n; b++) {
        if (s->parties[b].crashed) {
            continue;
        }
        switch ((enum sim_byz_kind)s->parties[b].byz) {
        case SIM_BYZ_WRONGBALLOT:
            sim_byz_wrongballot(s, b, maxb);
            break;
        case SIM_BYZ_NONE:
        case SIM_BYZ_KINDS_COUNT:
            break;
        }
    }
    s->byz_next_ns = s->now_ns + s->o.byz_period_ns;
}

/* ------------------------------------------------------------------------
 * The event loop.
 * ---------------------------------------------------------------------- */

void
sim_crash(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    if (p >= s->n || pa->crashed) {
        return;
    }
    pa->crashed = true;
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

/* The records a restart reads back: the party-wide one and every
 * per-instance one at or above the durable floor (older ones may be pruned). */
static uint32_t
sim_disk_collect(const struct sim_party *pa, struct bpc_durable *recs, uint64_t *floor)
{
    uint32_t count = 0;
    uint64_t fl = pa->disk_party.floor;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        if (pa->disk[i].instance != UINT64_MAX && pa->disk[i].floor > fl) {
            fl = pa->disk[i].floor;
        }
    }
    recs[count++] = pa->disk_party;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        if (pa->disk[i].instance != UINT64_MAX && pa->disk[i].instance >= fl) {
            recs[count++] = pa->disk[i];
        }
    }
    for (uint32_t i = 0; i < pa->sim->n; i++) {
        if (pa->disk_applied[i].instance != 0) {
            recs[count++] = pa->disk_applied[i];
        }
    }
    *floor = fl;
    return count;
}

int
sim_restart(struct sim *s, uint32_t p)
{
    if (p >= s->n || !s->parties[p].crashed || s->parties[p].byz != SIM_BYZ_NONE) {
        return -EINVAL;
    }
    struct sim_party *pa = &s->parties[p];
    struct bpc_durable *recs = sim_calloc((size_t)pa->disk_cap + 1 + s->n, sizeof(*recs));
    uint64_t floor = 0;
    uint32_t count = sim_disk_collect(pa, recs, &floor);
    bpc_engine_free(pa->e);
    pa->e = NULL;
    bpc_log_free(pa->dlog);
    pa->dlog = NULL;
    char err[256] = {0};
    int rc = sim_log_make(s, pa, floor, err, sizeof(err));
    if (rc == 0) {
        rc = bpc_engine_new(&pa->e, pa->cfg, err, sizeof(err));
    }
    if (rc == 0) {
        rc = bpc_engine_restore(pa->e, recs, count);
        snprintf(err, sizeof(err), "bpc_engine_restore returned %d", rc);
    }
    free(recs);
    if (rc != 0) {
        sim_engine_error(s, "engine: restart of party %u failed: %s", p, err);
        return rc;
    }
    bpc_engine_start(pa->e, s->now_ns);
    pa->crashed = false;
    pa->restarted = true;
    s->r.restarts++;
    s->correct_live++;
    if (pa->log_len >= s->o.instances) {
        pa->done = true;
        s->done_count++;
    }
    sim_dl_set(s, p, s->now_ns);
    return 0;
}

static uint64_t
sim_next_time(const struct sim *s)
{
    uint64_t t = SIM_NEVER;
    if (s->heap_count > 0) {
        t = s->heap[0].at_ns;
    }
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
    if (s->byz_count > 0 && s->byz_next_ns < t) {
        t = s->byz_next_ns;
    }
    return t;
}

static void
sim_touch(struct sim *s, uint32_t p)
{
    if (s->parties[p].touched_epoch != s->epoch) {
        s->parties[p].touched_epoch = s->epoch;
        s->touched[s->touched_count++] = p;
    }
}

static void
sim_deliver_due(struct sim *s)
{
    while (s->heap_count > 0 && s->heap[0].at_ns <= s->now_ns) {
        struct sim_event ev = sim_heap_pop(s);
        struct sim_msg *m = &s->msgs[ev.msg];
        struct sim_party *pa = &s->parties[m->to];
        if (sim_dead(s, m->to)) {
            s->r.frames_dead++;
            sim_msg_free(s, ev.msg);
            continue;
        }
        struct bpc_frame_header h;
        if (bpc_wire_parse_header(m->bytes, m->len, &h) == 0) {
            s->r.messages += h.record_count;
            if (s->debug) {
                int k = bpc_wire_decode(m->bytes, m->len, &h, s->debug_recs, 65536);
                for (int i = 0; i < k; i++) {
                    s->debug_types[s->debug_recs[i].type % BPC_MSG_TYPES_COUNT]++;
                }
            }
        }
        s->r.frames++;
        m->next = SIM_NONE;
        if (pa->inbox_head == SIM_NONE) {
            pa->inbox_head = ev.msg;
        } else {
            s->msgs[pa->inbox_tail].next = ev.msg;
        }
        pa->inbox_tail = ev.msg;
        sim_touch(s, m->to);
    }
}

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
    if (s->byz_count > 0 && s->byz_next_ns <= s->now_ns) {
        sim_byz_tick(s);
    }
    sim_deliver_due(s);
    while (s->dl_count > 0 && s->parties[s->dl_heap[0]].deadline_ns <= s->now_ns) {
        uint32_t p = s->dl_heap[0];
        sim_dl_remove(s, p);
        sim_touch(s, p);
    }
    for (uint32_t i = 0; i < s->touched_count && s->outcome == SIM_RUNNING; i++) {
        sim_party_run(s, s->touched[i]);
    }
}

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
    if (s->outcome == SIM_RUNNING && s->correct_live > 0 && s->done_count == s->correct_live) {
        s->outcome = SIM_DONE;
    }
    return s->outcome == SIM_RUNNING;
}

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

enum sim_outcome
sim_run(struct sim *s)
{
    while (sim_step_once(s)) {
    }
    sim_debug_dump(s);
    return s->outcome;
}

enum sim_outcome
sim_outcome(const struct sim *s)
{
    return s->outcome;
}

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

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
    o->time_limit_ns = SIM_DEFAULT_TIME_LIMIT_NS;
}

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
    SIM_STREAM_PARTY0,
};

static uint64_t
sim_stream_seed(uint64_t seed, uint64_t stream)
{
    uint64_t st = seed ^ 0x62706373696d2d31u; /* "bpcsim-1" */
    uint64_t out = 0;
    st += stream * 0x9e3779b97f4a7c15u;
    out = sim_splitmix64(&st);
    return out;
}

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
    uint32_t one = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + SIM_COMMAND_BYTES;
    if (cfg->value_bytes_max < one) {
        cfg->value_bytes_max = one;
    }
}

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
    const struct bpc_config *cfg = s->parties[0].cfg;
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

static void
sim_keys_init(struct sim *s)
{
    uint8_t master[BPC_KEY_BYTES];
    sim_master_key(s->o.seed, master);
    s->keys = sim_calloc((size_t)s->n * s->n, BPC_KEY_BYTES);
    for (uint32_t a = 0; a < s->n; a++) {
        for (uint32_t b = a; b < s->n; b++) {
            bpc_auth_pair_key(master, a, b, s->keys[(size_t)a * s->n + b]);
            memcpy(s->keys[(size_t)b * s->n + a], s->keys[(size_t)a * s->n + b], BPC_KEY_BYTES);
        }
    }
    sodium_memzero(master, sizeof(master));
}

/* The sim thread is a QSBR thread of the decided logs (the engines append
 * on it); nested sims on one thread share one registration. */
static _Thread_local uint32_t sim_rcu_users;

static void
sim_rcu_enter(struct sim *s)
{
    if (sim_rcu_users++ == 0) {
        bpc_log_thread_register();
    }
    s->rcu_registered = true;
}

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
    if (retain == 0) {
        /* The run, the window on either side, and what the submit queues
         * still hold once the parties stop submitting. */
        uint64_t queued = (uint64_t)s->n * s->parties[0].cfg->commands_max;
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

static int
sim_log_make(struct sim *s, struct sim_party *pa, uint64_t start, char *err, size_t err_len)
{
    struct bpc_log_config lc = {
        .retain_entries = s->log_retain,
        .segment_entries = s->log_segment,
        .value_bytes_max = pa->cfg->value_bytes_max,
        .start_index = start,
    };
    int rc = bpc_log_new(&pa->dlog, &lc);
    if (rc != 0) {
        pa->dlog = NULL;
        sim_errf(err, err_len, "decided log of party %u: %s (retain %llu, segment %u)", pa->id,
                 bpc_strerror(-rc), (unsigned long long)lc.retain_entries, lc.segment_entries);
        return rc;
    }
    pa->cfg->log = pa->dlog;
    return 0;
}

static int
sim_party_init(struct sim *s, uint32_t p, char *err, size_t err_len)
{
    struct sim_party *pa = &s->parties[p];
    pa->dl_pos = SIM_NONE;
    pa->deadline_ns = SIM_NEVER;
    pa->inbox_head = SIM_NONE;
    pa->inbox_tail = SIM_NONE;
    pa->byz = s->o.byz[p];
    pa->cfg = sim_calloc(1, sizeof(*pa->cfg));
    sim_config_fill(&s->o, p, pa->cfg);
    pa->cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])s->keys[(size_t)p * s->n];
    pa->cfg->on_apply = sim_on_apply;
    pa->cfg->apply_ctx = pa;
    pa->sim = s;
    pa->id = p;
    if (pa->byz != SIM_BYZ_NONE) {
        pa->byz_seq = sim_calloc(s->n, sizeof(*pa->byz_seq));
        s->byz_count++;
        return 0;
    }
    if (s->log_retain == 0) {
        sim_log_size(s, pa->cfg->value_bytes_max);
    }
    int rc = sim_log_make(s, pa, 0, err, err_len);
    if (rc != 0) {
        return rc;
    }
    rc = bpc_engine_new(&pa->e, pa->cfg, err, err_len);
    if (rc != 0) {
        pa->e = NULL;
        return rc;
    }
    pa->disk_cap = 2 * s->o.window_slots;
    if (pa->disk_cap == 0) {
        pa->disk_cap = 2;
    }
    pa->disk = sim_calloc(pa->disk_cap, sizeof(*pa->disk));
    pa->disk_applied = sim_calloc(s->n, sizeof(*pa->disk_applied));
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        pa->disk[i].instance = UINT64_MAX;
    }
    pa->disk_party.instance = UINT64_MAX;
    s->correct_live++;
    return 0;
}

static void
sim_buffers_init(struct sim *s)
{
    for (uint32_t c = 0; c < SIM_CLASSES; c++) {
        s->free_head[c] = SIM_NONE;
    }
    s->frame_bytes = s->parties[0].cfg->frame_bytes;
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
    s->r.agreement = s->r.validity = s->r.integrity = s->r.order = true;
    s->cluster_id = sim_stream_seed(o->seed, SIM_STREAM_CLUSTER);
    /* Enough commands for every instance to carry a full batch, bounded. */
    s->submit_max =
        o->instances > UINT64_MAX / BPC_BATCH_MAX ? UINT64_MAX : o->instances * BPC_BATCH_MAX;
    s->loss_cut = sim_prob_cut(o->loss);
    s->dup_cut = sim_prob_cut(o->dup);
    sim_rng_seed(&s->net_rng, sim_stream_seed(o->seed, SIM_STREAM_NET));
    sim_rng_seed(&s->byz_rng, sim_stream_seed(o->seed, SIM_STREAM_BYZ));
    s->parties = sim_calloc(s->n, sizeof(*s->parties));
    sim_rcu_enter(s);
    struct bpc_config *cfg0 = sim_calloc(1, sizeof(*cfg0));
    sim_config_fill(o, 0, cfg0);
    rc = bpc_config_validate(cfg0, err, err_len);
    free(cfg0);
    if (rc == 0) {
        sim_keys_init(s);
        for (uint32_t p = 0; p < s->n && rc == 0; p++) {
            rc = sim_party_init(s, p, err, err_len);
        }
    }
    if (rc == 0) {
        rc = sim_faulty_check(s, err, err_len);
    }
    if (rc != 0) {
        sim_free(s);
        return rc;
    }
    sim_buffers_init(s);
    sim_crashes_init(s);
    uint8_t digest[BPC_DIGEST_BYTES];
    bpc_config_digest(s->parties[0].cfg, digest);
    s->first_leader = bpc_elect_leader(s->parties[0].cfg, digest, 1);
    sim_start(s);
    *out = s;
    return 0;
}

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
        free(pa->cfg);
        free(pa->disk);
        free(pa->disk_applied);
        free(pa->byz_seq);
        free(pa->cmds.ticket);
        free(pa->cmds.applied_at);
        free(pa->applied.keys);
    }
    for (uint32_t m = 0; m < s->msgs_count; m++) {
        free(s->msgs[m].bytes);
    }
    if (s->keys != NULL) {
        sodium_memzero(s->keys, (size_t)s->n * s->n * BPC_KEY_BYTES);
    }
    free(s->keys);
    free(s->msgs);
    free(s->heap);
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
    free(s);
}

/* ------------------------------------------------------------------------
 * Results.
 * ---------------------------------------------------------------------- */

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

static void
sim_result_engines(const struct sim *s, struct sim_result *r)
{
    bool any = false;
    r->decided = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL) {
            continue;
        }
        r->decisions_total += pa->log_len;
        const struct bpc_counters *c = bpc_engine_counters(pa->e);
        for (uint32_t i = 0; i < BPC_DROP_REASONS_COUNT; i++) {
            r->drops[i] += c->drops[i];
        }
        r->equivocations += c->equivocations;
        r->tx_overflow += c->tx_overflow;
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

void
sim_result(const struct sim *s, struct sim_result *r)
{
    *r = s->r;
    memset(r->drops, 0, sizeof(r->drops));
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

uint64_t
sim_now_ns(const struct sim *s)
{
    return s->now_ns;
}

uint64_t
sim_decided_min(const struct sim *s)
{
    bool any = false;
    uint64_t min = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (sim_dead(s, p)) {
            continue;
        }
        if (!any || pa->log_len < min) {
            min = pa->log_len;
        }
        any = true;
    }
    return min;
}

uint64_t
sim_frames_delivered(const struct sim *s)
{
    return s->r.frames;
}

uint32_t
sim_parties(const struct sim *s)
{
    return s->n;
}

struct bpc_engine *
sim_engine(struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].e : NULL;
}

const struct bpc_config *
sim_config(const struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].cfg : NULL;
}

const uint8_t *
sim_pair_key(const struct sim *s, uint32_t a, uint32_t b)
{
    if (a >= s->n || b >= s->n) {
        return NULL;
    }
    return s->keys[(size_t)a * s->n + b];
}

uint64_t
sim_log_len(const struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].log_len : 0;
}

const struct sim_log_entry *
sim_log_entry(const struct sim *s, uint32_t party, uint64_t index)
{
    if (party >= s->n || index >= s->parties[party].log_len) {
        return NULL;
    }
    return &s->parties[party].log[index];
}

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

const char *
sim_byz_kind_name(enum sim_byz_kind k)
{
    switch (k) {
    case SIM_BYZ_NONE:
        return "none";
    case SIM_BYZ_WRONGBALLOT:
        return "wrongballot";
    case SIM_BYZ_KINDS_COUNT:
        break;
    }
    return "unknown";
}

int
sim_byz_kind_parse(const char *name)
{
    if (strcmp(name, "wrongballot") == 0) {
        return SIM_BYZ_WRONGBALLOT;
    }
    return -EINVAL;
}
