/*
 * bench_engine.c - the engine tier: N engines in one thread exchanging real
 * authenticated frames in memory, timed per decided command.
 *
 * Owns: an in-memory cluster with burst delivery (every frame queued for a
 * party is handed to it in one bpc_engine_step, as an rx burst would be).
 * Must never: allocate or print inside a body; setup and teardown may.
 */
#include "bench.h"

#include "bpcon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_ENG_FRAMES 4096u /* frames in flight per party and round */

struct bench_party {
    struct bpc_engine *e;
    struct bpc_config cfg;
    uint8_t (*keys)[BPC_KEY_BYTES];
};

/* Frames queued for one party in one round, and the bytes behind them. */
struct bench_box {
    struct bpc_frame_in *inbox;
    uint32_t inbox_count;
    uint8_t *rx;
    uint32_t rx_used;
};

struct bench_engine_ctx {
    uint32_t n;
    uint32_t leader;
    uint64_t now_ns;
    uint64_t applied; /* commands applied at party 0 */
    uint64_t seq;
    uint32_t cmd_bytes; /* bytes per submitted command (16, or 64 for engine_cmd64) */
    bool spread;        /* commands submitted at each party in turn, not the leader */
    struct bench_party *p;
    struct bench_box *box[2]; /* this round's inboxes and the next round's */
    struct bpc_frame_out *tx;
    uint8_t *tx_mem;
    struct bpc_decision dec[1024];
};

static void
bench_engine_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq,
                      const uint8_t *cmd, uint32_t len)
{
    (void)instance;
    (void)submitter;
    (void)seq;
    (void)cmd;
    (void)len;
    ((struct bench_engine_ctx *)ctx)->applied++;
}

/* Steps party i with its inbox; its output goes to the next inboxes. */
static int
bench_engine_step(struct bench_engine_ctx *c, uint32_t i, struct bench_box *box,
                  struct bench_box *next)
{
    struct bench_party *p = &c->p[i];
    struct bpc_step_in in = {
        .now_ns = c->now_ns, .frames = box->inbox, .frames_count = box->inbox_count};
    for (int round = 0; round < 64; round++) {
        struct bpc_step_out out = {.frames = c->tx,
                                   .frames_cap = BENCH_ENG_FRAMES,
                                   .decisions = c->dec,
                                   .decisions_cap = 1024};
        int rc = bpc_engine_step(p->e, &in, &out);
        in.frames_count = 0;
        for (uint32_t k = 0; k < out.frames_count; k++) {
            struct bench_box *to = &next[out.frames[k].peer];
            if (to->inbox_count == BENCH_ENG_FRAMES ||
                to->rx_used + out.frames[k].len > BENCH_ENG_FRAMES * 1500u) {
                return -1;
            }
            uint8_t *dst = to->rx + to->rx_used;
            memcpy(dst, out.frames[k].bytes, out.frames[k].len);
            to->inbox[to->inbox_count].bytes = dst;
            to->inbox[to->inbox_count].len = out.frames[k].len;
            to->inbox_count++;
            to->rx_used += out.frames[k].len;
        }
        if (out.persist_count > 0) {
            bpc_engine_persisted(p->e);
            continue;
        }
        if (rc >= 0) {
            return 0;
        }
    }
    return 0;
}

void
bench_party_config(struct bpc_config *cfg, uint32_t parties, uint32_t self, uint32_t batch,
                   uint8_t (*keys)[BPC_KEY_BYTES])
{
    uint8_t master[BPC_KEY_BYTES];
    memset(master, 0x42, sizeof(master));
    bpc_config_defaults(cfg);
    cfg->parties_count = parties;
    for (uint32_t j = 0; j < parties; j++) {
        cfg->weights[j] = 1;
        bpc_auth_pair_key(master, self, j, keys[j]);
    }
    cfg->self = self;
    cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    cfg->window_slots = 512;
    cfg->batch_max = batch;
    cfg->commands_max = 4096;
    cfg->frame_bytes = 1400;
    cfg->value_bytes_max = 1024;
    cfg->ballot_timeout_ns = 1000000000ull;
}

/* BPC_BENCH_WINDOW=W: the engine tier's window (a power of two up to
 * BPC_WINDOW_SLOTS_MAX); unset or empty: 512, the window of every figure
 * in bench/RESULTS.md before 2026-12-03. Read at set-up only. */
static uint32_t
bench_engine_window(void)
{
    const char *s = getenv("BPC_BENCH_WINDOW");
    if (s == NULL || *s == '\0') {
        return 512;
    }
    char *end = NULL;
    unsigned long long w = strtoull(s, &end, 10);
    if (*end != '\0' || *s == '-' || w == 0 || w > BPC_WINDOW_SLOTS_MAX || (w & (w - 1)) != 0) {
        fprintf(stderr, "bpcon-bench: BPC_BENCH_WINDOW '%s' is not a power of two in 1..%u\n", s,
                BPC_WINDOW_SLOTS_MAX);
        exit(2);
    }
    return (uint32_t)w;
}

static void *
bench_engine_build(uint32_t parties, uint32_t batch)
{
    if (parties < 1 || parties > 64 || bpc_init() != 0) {
        return NULL;
    }
    struct bench_engine_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->p = calloc(parties, sizeof(*c->p));
    c->box[0] = calloc(parties, sizeof(*c->box[0]));
    c->box[1] = calloc(parties, sizeof(*c->box[1]));
    c->tx = calloc(BENCH_ENG_FRAMES, sizeof(*c->tx));
    c->tx_mem = malloc((size_t)BENCH_ENG_FRAMES * 1500u);
    if (c->p == NULL || c->box[0] == NULL || c->box[1] == NULL || c->tx == NULL ||
        c->tx_mem == NULL) {
        bench_engine_teardown(c);
        return NULL;
    }
    c->n = parties;
    c->cmd_bytes = 16;
    for (uint32_t k = 0; k < BENCH_ENG_FRAMES; k++) {
        c->tx[k].bytes = c->tx_mem + (size_t)k * 1500u;
        c->tx[k].cap = 1500;
    }
    for (uint32_t i = 0; i < 2 * parties; i++) {
        struct bench_box *b = &c->box[i / parties][i % parties];
        b->inbox = calloc(BENCH_ENG_FRAMES, sizeof(*b->inbox));
        b->rx = malloc((size_t)BENCH_ENG_FRAMES * 1500u);
        if (b->inbox == NULL || b->rx == NULL) {
            bench_engine_teardown(c);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < parties; i++) {
        struct bench_party *p = &c->p[i];
        p->keys = calloc(parties, BPC_KEY_BYTES);
        if (p->keys == NULL) {
            bench_engine_teardown(c);
            return NULL;
        }
        bench_party_config(&p->cfg, parties, i, batch, p->keys);
        p->cfg.window_slots = bench_engine_window();
        if (i == 0) {
            p->cfg.on_apply = bench_engine_on_apply;
            p->cfg.apply_ctx = c;
        }
        if (bpc_engine_new(&p->e, &p->cfg, NULL, 0) != 0) {
            bench_engine_teardown(c);
            return NULL;
        }
        if (bpc_engine_start(p->e, 0) != 0) {
            bench_engine_teardown(c);
            return NULL;
        }
    }
    c->leader = (uint32_t)bpc_engine_leader(c->p[0].e);
    return c;
}

void *
bench_engine_setup(uint32_t parties)
{
    return bench_engine_build(parties, 1);
}

void *
bench_engine_batch_setup(uint32_t batch)
{
    return bench_engine_build(4, batch);
}

void *
bench_engine_grid_setup(uint32_t batch, uint32_t parties)
{
    return bench_engine_build(parties, batch);
}

void *
bench_engine_cmd64_setup(uint32_t batch)
{
    struct bench_engine_ctx *c = bench_engine_build(4, batch);
    if (c != NULL) {
        c->cmd_bytes = 64;
    }
    return c;
}

void *
bench_engine_spread64_setup(uint32_t batch)
{
    struct bench_engine_ctx *c = bench_engine_cmd64_setup(batch);
    if (c != NULL) {
        c->spread = true;
    }
    return c;
}

/* One round: every party consumes its inbox (a burst), outputs feed the
 * next round. Time advances 10 us a round. */
static int
bench_engine_round(struct bench_engine_ctx *c, uint32_t *cur)
{
    struct bench_box *now = c->box[*cur];
    struct bench_box *next = c->box[1 - *cur];
    for (uint32_t i = 0; i < c->n; i++) {
        int rc = bench_engine_step(c, i, &now[i], next);
        now[i].inbox_count = 0;
        now[i].rx_used = 0;
        if (rc != 0) {
            return rc;
        }
    }
    *cur = 1 - *cur;
    c->now_ns += 10000;
    return 0;
}

uint64_t
bench_engine_run(void *ctx, uint64_t iters)
{
    struct bench_engine_ctx *c = ctx;
    uint64_t target = c->applied + iters;
    uint64_t submitted = 0;
    uint32_t cur = 0;
    uint8_t cmd[64] = {0};
    for (uint64_t rounds = 0; c->applied < target && rounds < 100000000ull; rounds++) {
        while (submitted < iters) {
            memcpy(cmd, &c->seq, sizeof(c->seq));
            uint32_t at = c->spread ? (uint32_t)(c->seq % c->n) : c->leader;
            if (bpc_submit(c->p[at].e, cmd, c->cmd_bytes, NULL) != 0) {
                break;
            }
            c->seq++;
            submitted++;
        }
        if (bench_engine_round(c, &cur) != 0) {
            return 0;
        }
    }
    return c->applied;
}

void
bench_engine_teardown(void *ctx)
{
    struct bench_engine_ctx *c = ctx;
    if (c == NULL) {
        return;
    }
    for (uint32_t i = 0; c->p != NULL && i < c->n; i++) {
        bpc_engine_free(c->p[i].e);
        free(c->p[i].keys);
    }
    for (uint32_t k = 0; k < 2; k++) {
        for (uint32_t i = 0; c->box[k] != NULL && i < c->n; i++) {
            free(c->box[k][i].inbox);
            free(c->box[k][i].rx);
        }
        free(c->box[k]);
    }
    free(c->p);
    free(c->tx);
    free(c->tx_mem);
    free(c);
}
