/*
 * bench_step.c - one engine step per message type: the cost of
 * bpc_engine_step handling one received frame of a given record type, in
 * the state a real run delivers that frame in.
 *
 * Owns: a small deterministic in-memory cluster (4 parties, one frame per
 * step) that runs a fixed script (commands submitted at the leader and at
 * a follower; a follower cut off and healed, so it catches up; every 2b
 * dropped until the ballot times out, so a new ballot's 1a collects 1b
 * reports of voted instances) until some party is about to receive a
 * frame whose records are all of the wanted type (or travel with it, see
 * step_is_wanted), optionally the first whose handling acts. That
 * party's engine memory (caller storage: bpc_engine_init) is snapshotted
 * there with the frame. A run restores the bytes the step changes and
 * feeds the same frame again: the frame is fresh each time (the replay
 * window is restored too) and meets the same state, so every run does
 * the same work. Restoring is the shim's untimed reset; only the step is
 * timed.
 *
 * Must never: allocate or print in bench_step_reset / bench_step_once, or
 * time a frame the engine dropped (setup checks that the frame is
 * admitted and that the restore brings back every byte the step wrote).
 */
#include "bench.h"

#include "bpcon.h"

#include <stdlib.h>
#include <string.h>

#define STEP_PARTIES 4u
#define STEP_QUEUE 8192u       /* frames in flight in the capture cluster */
#define STEP_FRAME_BYTES 1400u /* the cluster's frame size (as bpcon-cluster) */
#define STEP_TX 256u           /* tx buffers of one step */
#define STEP_CMD_BYTES 64u     /* bpcon-cluster's default command size */
#define STEP_LINE 64u          /* restore granularity */
#define STEP_ROUND_NS 10000u   /* clock advance per delivery round */

struct step_frame {
    uint32_t to;
    uint32_t len;
    uint8_t bytes[STEP_FRAME_BYTES];
};

struct step_party {
    struct bpc_engine *e;
    uint8_t *mem;
    size_t mem_len;
    uint8_t (*keys)[BPC_KEY_BYTES];
};

/* Frames a party must not receive (cut off) and records that are lost. */
struct step_filter {
    int cut;       /* party id, or -1 */
    bool drop_2b;  /* frames carrying a 2b record */
    bool captured; /* the wanted frame was found: stop */
};

struct step_sim {
    uint32_t want; /* enum bpc_msg_type */
    bool acts;     /* the capture must send a frame or decide */
    uint64_t now_ns;
    uint32_t leader;
    struct step_party p[STEP_PARTIES];
    struct step_frame *q; /* ring of frames in flight */
    uint32_t q_head;
    uint32_t q_count;
    struct step_filter f;
    uint64_t cmd_seq;
    struct bpc_frame_out tx[STEP_TX];
    uint8_t *tx_mem;
    struct bpc_decision dec[256];
    /* the capture */
    uint32_t cap_party;
    uint64_t cap_now;
    uint8_t *cap_snap;
    struct step_frame cap_frame;
};

struct step_info {
    uint32_t records_in;
    uint32_t steps;
    uint32_t frames_out;
    uint32_t decisions;
    uint32_t persist;
};

struct bench_step {
    struct bpc_engine *e;
    uint8_t *mem;
    size_t mem_len;
    uint8_t *snap;
    uint8_t (*keys)[BPC_KEY_BYTES];
    uint64_t now_ns;
    struct step_frame frame;
    struct bpc_frame_out tx[STEP_TX];
    uint8_t *tx_mem;
    struct bpc_decision dec[256];
    uint32_t *dirty_off; /* byte ranges the step writes */
    uint32_t *dirty_len;
    uint32_t dirty_count;
    uint64_t dirty_bytes;
    struct step_info info;
};

/* The record types of a frame: a bit per type, 0 when it does not decode. */
static uint32_t
step_types(const uint8_t *bytes, uint32_t len)
{
    struct bpc_record recs[64];
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(bytes, len, &h) != 0) {
        return 0;
    }
    int n = bpc_wire_decode(bytes, len, &h, recs, 64);
    uint32_t mask = 0;
    for (int k = 0; k < n; k++) {
        mask |= 1u << recs[k].type;
    }
    return mask;
}

/* Is this a frame of the wanted type? It carries that type, and other
 * records only of the kinds that travel with it: a 1b report's history,
 * range and value records (also the leader's own 1b beside its 1a, now
 * that frames are packed), the leader's own 2av beside its 2a, the attest
 * beside a forward. */
static bool
step_is_wanted(uint32_t want, uint32_t mask)
{
    uint32_t allowed = 1u << want;
    const uint32_t report = (1u << BPC_MSG_1B) | (1u << BPC_MSG_1B_HIST) |
                            (1u << BPC_MSG_1B_RANGE) | (1u << BPC_MSG_VALUE);
    if (want == BPC_MSG_1B) {
        allowed |= report;
    } else if (want == BPC_MSG_1A) {
        allowed |= report;
    } else if (want == BPC_MSG_2A) {
        allowed |= 1u << BPC_MSG_2AV;
    } else if (want == BPC_MSG_FORWARD) {
        allowed |= 1u << BPC_MSG_ATTEST;
    }
    return (mask & (1u << want)) != 0 && (mask & ~allowed) == 0;
}

static void
step_enqueue(struct step_sim *s, uint32_t from, const struct bpc_frame_out *o)
{
    uint32_t mask = step_types(o->bytes, o->len);
    if ((s->f.cut >= 0 && ((uint32_t)s->f.cut == o->peer || (uint32_t)s->f.cut == from)) ||
        (s->f.drop_2b && (mask & (1u << BPC_MSG_2B)) != 0) || s->q_count == STEP_QUEUE) {
        return; /* lost */
    }
    struct step_frame *f = &s->q[(s->q_head + s->q_count) % STEP_QUEUE];
    f->to = o->peer;
    f->len = o->len;
    memcpy(f->bytes, o->bytes, o->len);
    s->q_count++;
}

/* One delivery as a poll loop does it: a step with the frame (or none),
 * then, while the engine asks for durability, bpc_engine_persisted and a
 * step that lets the held frames leave. Returns the engine's next
 * deadline. */
static uint64_t
step_deliver(struct bpc_engine *e, uint64_t now, const struct step_frame *f,
             struct bpc_frame_out *tx, struct bpc_decision *dec, struct step_info *info,
             struct step_sim *sim, uint32_t self)
{
    struct bpc_frame_in fin = {.bytes = f != NULL ? f->bytes : NULL, .len = f != NULL ? f->len : 0};
    struct bpc_step_in in = {.now_ns = now, .frames = &fin, .frames_count = f != NULL ? 1 : 0};
    uint64_t next = UINT64_MAX;
    for (uint32_t round = 0; round < 8; round++) {
        struct bpc_step_out out = {
            .frames = tx, .frames_cap = STEP_TX, .decisions = dec, .decisions_cap = 256};
        int rc = bpc_engine_step(e, &in, &out);
        next = out.next_deadline_ns;
        in.frames_count = 0;
        info->steps++;
        info->frames_out += out.frames_count;
        info->decisions += out.decisions_count;
        info->persist += out.persist_count;
        for (uint32_t k = 0; sim != NULL && k < out.frames_count; k++) {
            step_enqueue(sim, self, &out.frames[k]);
        }
        if (out.persist_count > 0) {
            bpc_engine_persisted(e);
            continue;
        }
        if (rc >= 0) {
            break;
        }
    }
    return next;
}

/* One round: every frame queued before it is delivered, one per step,
 * in order; a party that got none steps once (timers). A wanted frame is
 * delivered after a snapshot of its receiver; the capture is kept when
 * the delivery does what the benchmark asks for (with `acts`: it sends a
 * frame or decides). */
static void
step_round(struct step_sim *s)
{
    struct step_info info = {0};
    bool got[STEP_PARTIES] = {false};
    uint32_t n = s->q_count;
    for (uint32_t k = 0; k < n && !s->f.captured; k++) {
        struct step_frame *f = &s->q[s->q_head];
        s->q_head = (s->q_head + 1) % STEP_QUEUE;
        s->q_count--;
        struct step_party *p = &s->p[f->to];
        bool wanted = step_is_wanted(s->want, step_types(f->bytes, f->len));
        if (wanted) {
            memcpy(s->cap_snap, p->mem, p->mem_len);
            s->cap_frame = *f;
        }
        got[f->to] = true;
        struct step_info one = {0};
        step_deliver(p->e, s->now_ns, f, s->tx, s->dec, wanted ? &one : &info, s, f->to);
        if (wanted && (!s->acts || one.frames_out > 0 || one.decisions > 0)) {
            s->cap_party = s->cap_frame.to;
            s->cap_now = s->now_ns;
            s->f.captured = true;
        }
    }
    for (uint32_t i = 0; i < STEP_PARTIES && !s->f.captured; i++) {
        if (!got[i]) {
            step_deliver(s->p[i].e, s->now_ns, NULL, s->tx, s->dec, &info, s, i);
        }
    }
    s->now_ns += STEP_ROUND_NS;
}

/* A round, then rounds until nothing is in flight; then the clock jumps
 * to the next deadline of any party `jumps` times (retransmit ticks,
 * ballot timeouts), each followed by rounds until quiet again. */
static void
step_settle(struct step_sim *s, uint32_t jumps)
{
    for (uint32_t j = 0; j <= jumps && !s->f.captured; j++) {
        step_round(s);
        for (uint32_t r = 0; r < 10000 && s->q_count > 0 && !s->f.captured; r++) {
            step_round(s);
        }
        if (j == jumps || s->f.captured) {
            break;
        }
        uint64_t next = UINT64_MAX;
        for (uint32_t i = 0; i < STEP_PARTIES; i++) {
            struct step_info info = {0};
            uint64_t d = step_deliver(s->p[i].e, s->now_ns, NULL, s->tx, s->dec, &info, s, i);
            next = d < next ? d : next;
        }
        if (next != UINT64_MAX && next > s->now_ns) {
            s->now_ns = next;
        }
        step_round(s);
    }
}

static void
step_submit(struct step_sim *s, uint32_t at)
{
    uint8_t cmd[STEP_CMD_BYTES];
    for (uint32_t i = 0; i < sizeof(cmd); i++) {
        cmd[i] = (uint8_t)(s->cmd_seq * 31u + i);
    }
    s->cmd_seq++;
    (void)bpc_submit(s->p[at].e, cmd, sizeof(cmd), NULL);
}

/* The script; it stops as soon as the wanted frame is captured. */
static void
step_script(struct step_sim *s)
{
    uint32_t follower = (s->leader + 1) % STEP_PARTIES;
    uint32_t lagger = (s->leader + 2) % STEP_PARTIES;
    /* Ballot 1 needs no phase 1 (nothing can have been voted before it). */
    step_settle(s, 0);
    /* Commands at the leader and at a follower (forwards, attests), one
     * at a time, then a few retransmit ticks (statuses). */
    for (uint32_t k = 0; k < 16 && !s->f.captured; k++) {
        step_submit(s, k % 2 == 0 ? s->leader : follower);
        step_settle(s, 0);
    }
    step_settle(s, 2);
    /* A follower misses 16 decisions, then catches up (decided). */
    s->f.cut = (int)lagger;
    for (uint32_t k = 0; k < 16 && !s->f.captured; k++) {
        step_submit(s, s->leader);
        step_settle(s, 0);
    }
    s->f.cut = -1;
    step_settle(s, 4);
    /* Instances voted but never decided (their 2b frames are lost) until
     * the ballot times out: the next ballot's 1a, and 1b reports that
     * carry votes. */
    s->f.drop_2b = true;
    for (uint32_t k = 0; k < 4 && !s->f.captured; k++) {
        step_submit(s, s->leader);
    }
    step_settle(s, 16);
}

static void
step_sim_free(struct step_sim *s)
{
    for (uint32_t i = 0; i < STEP_PARTIES; i++) {
        free(s->p[i].mem);
        free(s->p[i].keys);
    }
    free(s->q);
    free(s->tx_mem);
    free(s->cap_snap);
    free(s);
}

static struct step_sim *
step_sim_new(uint32_t want, bool acts)
{
    struct step_sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->want = want;
    s->acts = acts;
    s->f.cut = -1;
    s->q = calloc(STEP_QUEUE, sizeof(*s->q));
    s->tx_mem = malloc((size_t)STEP_TX * STEP_FRAME_BYTES);
    if (s->q == NULL || s->tx_mem == NULL) {
        step_sim_free(s);
        return NULL;
    }
    for (uint32_t k = 0; k < STEP_TX; k++) {
        s->tx[k].bytes = s->tx_mem + (size_t)k * STEP_FRAME_BYTES;
        s->tx[k].cap = STEP_FRAME_BYTES;
    }
    for (uint32_t i = 0; i < STEP_PARTIES; i++) {
        struct step_party *p = &s->p[i];
        struct bpc_config cfg;
        p->keys = calloc(STEP_PARTIES, BPC_KEY_BYTES);
        if (p->keys == NULL) {
            step_sim_free(s);
            return NULL;
        }
        bench_party_config(&cfg, STEP_PARTIES, i, 1, p->keys);
        cfg.window_slots = 64;
        cfg.commands_max = 256;
        cfg.frame_bytes = STEP_FRAME_BYTES;
        cfg.ballot_timeout_ns = 50000000ull; /* the engine default, 50 ms */
        p->mem_len = (bpc_engine_footprint(&cfg) + 63u) & ~(size_t)63u;
        p->mem = aligned_alloc(64, p->mem_len);
        if (p->mem == NULL || bpc_engine_init(&p->e, p->mem, p->mem_len, &cfg, NULL, 0) != 0) {
            step_sim_free(s);
            return NULL;
        }
        if (bpc_engine_start(p->e, 0) != 0) {
            step_sim_free(s);
            return NULL;
        }
    }
    s->cap_snap = malloc(s->p[0].mem_len);
    if (s->cap_snap == NULL) {
        step_sim_free(s);
        return NULL;
    }
    s->leader = (uint32_t)bpc_engine_leader(s->p[0].e);
    return s;
}

/* ---- the measured step ---------------------------------------------------- */

uint64_t
bench_step_once(void *ctx)
{
    struct bench_step *b = ctx;
    struct step_info info = {0};
    step_deliver(b->e, b->now_ns, &b->frame, b->tx, b->dec, &info, NULL, 0);
    return (uint64_t)info.frames_out * 1000003u + info.decisions + b->tx[0].len;
}

void
bench_step_reset(void *ctx)
{
    struct bench_step *b = ctx;
    for (uint32_t k = 0; k < b->dirty_count; k++) {
        memcpy(b->mem + b->dirty_off[k], b->snap + b->dirty_off[k], b->dirty_len[k]);
    }
}

/* The lines the step wrote, as merged byte ranges. */
static int
step_dirty_scan(struct bench_step *b)
{
    size_t lines = b->mem_len / STEP_LINE;
    b->dirty_off = calloc(lines / 2 + 1, sizeof(*b->dirty_off));
    b->dirty_len = calloc(lines / 2 + 1, sizeof(*b->dirty_len));
    if (b->dirty_off == NULL || b->dirty_len == NULL) {
        return -1;
    }
    for (size_t l = 0; l < lines; l++) {
        size_t off = l * STEP_LINE;
        if (memcmp(b->mem + off, b->snap + off, STEP_LINE) == 0) {
            continue;
        }
        uint32_t k = b->dirty_count;
        if (k > 0 && b->dirty_off[k - 1] + b->dirty_len[k - 1] == off) {
            b->dirty_len[k - 1] += STEP_LINE;
        } else if (k < lines / 2) {
            b->dirty_off[k] = (uint32_t)off;
            b->dirty_len[k] = STEP_LINE;
            b->dirty_count++;
        } else {
            return -1;
        }
        b->dirty_bytes += STEP_LINE;
    }
    return 0;
}

/* Runs the step once on the snapshot, finds what it writes, and checks
 * that the frame was admitted, that a reset restores every byte and that
 * a second run does the same. */
static int
step_prepare(struct bench_step *b)
{
    memcpy(b->mem, b->snap, b->mem_len);
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(b->frame.bytes, b->frame.len, &h) != 0) {
        return -1;
    }
    b->info.records_in = h.record_count;
    uint64_t rx = bpc_engine_counters(b->e)->frames_rx;
    step_deliver(b->e, b->now_ns, &b->frame, b->tx, b->dec, &b->info, NULL, 0);
    if (bpc_engine_counters(b->e)->frames_rx != rx + 1 || step_dirty_scan(b) != 0) {
        return -1;
    }
    bench_step_reset(b);
    if (memcmp(b->mem, b->snap, b->mem_len) != 0) {
        return -1;
    }
    struct step_info again = {0};
    step_deliver(b->e, b->now_ns, &b->frame, b->tx, b->dec, &again, NULL, 0);
    bench_step_reset(b);
    if (memcmp(b->mem, b->snap, b->mem_len) != 0 || again.frames_out != b->info.frames_out ||
        again.decisions != b->info.decisions) {
        return -1;
    }
    return 0;
}

void
bench_step_teardown(void *ctx)
{
    struct bench_step *b = ctx;
    if (b == NULL) {
        return;
    }
    free(b->mem);
    free(b->snap);
    free(b->keys);
    free(b->tx_mem);
    free(b->dirty_off);
    free(b->dirty_len);
    free(b);
}

void *
bench_step_setup(uint32_t type, bool acts)
{
    if (type == 0 || type >= BPC_MSG_TYPES_COUNT || bpc_init() < 0) {
        return NULL;
    }
    struct step_sim *s = step_sim_new(type, acts);
    struct bench_step *b = calloc(1, sizeof(*b));
    if (s == NULL || b == NULL) {
        free(b);
        if (s != NULL) {
            step_sim_free(s);
        }
        return NULL;
    }
    step_script(s);
    if (!s->f.captured) {
        step_sim_free(s);
        free(b);
        return NULL;
    }
    /* Keep the captured party's storage (the engine lives at that
     * address) and its keys (the engine borrows them). */
    struct step_party *p = &s->p[s->cap_party];
    b->e = p->e;
    b->mem = p->mem;
    b->mem_len = p->mem_len;
    b->keys = p->keys;
    b->snap = s->cap_snap;
    b->now_ns = s->cap_now;
    b->frame = s->cap_frame;
    p->mem = NULL;
    p->keys = NULL;
    s->cap_snap = NULL;
    step_sim_free(s);
    b->tx_mem = malloc((size_t)STEP_TX * STEP_FRAME_BYTES);
    if (b->tx_mem == NULL) {
        bench_step_teardown(b);
        return NULL;
    }
    for (uint32_t k = 0; k < STEP_TX; k++) {
        b->tx[k].bytes = b->tx_mem + (size_t)k * STEP_FRAME_BYTES;
        b->tx[k].cap = STEP_FRAME_BYTES;
    }
    if (step_prepare(b) != 0) {
        bench_step_teardown(b);
        return NULL;
    }
    return b;
}

void
bench_step_describe(const void *ctx, struct bench_step_counts *out)
{
    const struct bench_step *b = ctx;
    out->records_in = b->info.records_in;
    out->frames_out = b->info.frames_out;
    out->decisions = b->info.decisions;
    out->steps = b->info.steps;
    out->persist = b->info.persist;
    out->reset_bytes = b->dirty_bytes;
    out->frame_bytes = b->frame.len;
}
