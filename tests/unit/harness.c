/*
 * harness.c - see harness.h. Allocation is fine here: this is test code
 * around the engine, never on its step path.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HN_TX_FRAMES 2048u

static struct bpc_frame_out hn_tx[HN_TX_FRAMES];
static uint8_t *hn_tx_mem;
static struct bpc_decision hn_dec[256];
bool hn_in_step;

static void
hn_die(const char *what)
{
    fprintf(stderr, "harness: %s\n", what);
    abort();
}

void
hn_init_cfg(struct hn *h, const struct bpc_config *base)
{
    if (bpc_init() != 0) {
        hn_die("bpc_init");
    }
    memset(h, 0, sizeof(*h));
    h->n = base->parties_count;
    h->p = calloc(h->n, sizeof(*h->p));
    h->q_cap = 1u << 16;
    h->q = calloc(h->q_cap, sizeof(*h->q));
    if (hn_tx_mem == NULL) {
        hn_tx_mem = malloc((size_t)HN_TX_FRAMES * BPC_FRAME_BYTES_MAX);
        for (uint32_t k = 0; hn_tx_mem != NULL && k < HN_TX_FRAMES; k++) {
            hn_tx[k].bytes = hn_tx_mem + (size_t)k * BPC_FRAME_BYTES_MAX;
            hn_tx[k].cap = BPC_FRAME_BYTES_MAX;
        }
    }
    if (h->p == NULL || h->q == NULL || hn_tx_mem == NULL) {
        hn_die("out of memory");
    }
    uint8_t master[BPC_KEY_BYTES];
    memset(master, 0x5a, sizeof(master));
    for (uint32_t i = 0; i < h->n; i++) {
        struct hn_party *p = &h->p[i];
        p->cfg = *base;
        p->cfg.self = i;
        p->cfg.seed = 1000 + i;
        p->keys = calloc(h->n, BPC_KEY_BYTES);
        if (p->keys == NULL) {
            hn_die("out of memory");
        }
        for (uint32_t j = 0; j < h->n; j++) {
            bpc_auth_pair_key(master, i, j, p->keys[j]);
        }
        p->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])p->keys;
        char err[256];
        int rc = bpc_engine_new(&p->e, &p->cfg, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "harness: engine %u: %s\n", i, err);
            abort();
        }
    }
}

void
hn_init(struct hn *h, const uint64_t *weights, uint32_t n, enum bpc_mode mode, uint32_t window)
{
    static struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg.weights[i] = weights[i];
    }
    cfg.mode = mode;
    cfg.window_slots = window;
    /* One 16-byte command per value keeps values inline (4 + 12 + 16 bytes)
     * and instance counts equal to command counts. */
    cfg.batch_max = 1;
    cfg.commands_max = 64;
    cfg.value_bytes_max = 256;
    hn_init_cfg(h, &cfg);
}

void
hn_free(struct hn *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        bpc_engine_free(h->p[i].e);
        free(h->p[i].keys);
        free(h->p[i].disk);
        for (uint32_t k = 0; k < h->p[i].val_count; k++) {
            free(h->p[i].val_bytes[k]);
        }
        free(h->p[i].vals);
        free(h->p[i].val_bytes);
    }
    for (uint32_t k = 0; k < h->q_count; k++) {
        free(h->q[(h->q_head + k) % h->q_cap].bytes);
    }
    free(h->p);
    free(h->q);
    memset(h, 0, sizeof(*h));
}

static void
hn_enqueue(struct hn *h, uint32_t from, const struct bpc_frame_out *f)
{
    if (h->filter != NULL && !h->filter(h->filter_ctx, from, f->peer, f->bytes, f->len)) {
        return;
    }
    if (h->q_count == h->q_cap) {
        struct hn_frame *bigger = calloc((size_t)h->q_cap * 2, sizeof(*bigger));
        if (bigger == NULL) {
            hn_die("out of memory");
        }
        for (uint32_t k = 0; k < h->q_count; k++) {
            bigger[k] = h->q[(h->q_head + k) % h->q_cap];
        }
        free(h->q);
        h->q = bigger;
        h->q_head = 0;
        h->q_cap *= 2;
    }
    struct hn_frame *q = &h->q[(h->q_head + h->q_count++) % h->q_cap];
    q->from = from;
    q->to = f->peer;
    q->len = f->len;
    q->bytes = malloc(f->len);
    if (q->bytes == NULL) {
        hn_die("out of memory");
    }
    memcpy(q->bytes, f->bytes, f->len);
}

/* The application's log: a restarted engine re-emits instances from its
 * durable floor, which must match what the log already holds. */
static void
hn_log(struct hn_party *p, const struct bpc_decision *d)
{
    if (d->instance < p->log_count) {
        if (!bpc_vid_eq(&p->log[d->instance], &d->vid)) {
            p->log_broken = true;
        }
        return;
    }
    if (d->instance != p->log_count) {
        p->log_broken = true;
        return;
    }
    if (p->log_count < HN_LOG_MAX) {
        p->log[p->log_count] = d->vid;
        p->log_ballot[p->log_count] = d->ballot;
        p->log_count++;
    }
}

/* Keeps the newest record per instance (the party-wide one in slot 0). */
static void
hn_persist(struct hn_party *p, const struct bpc_durable *recs, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        /* Recent instances sit at the end: search backwards, at most a
         * window's worth (a vote is never older than that). */
        uint32_t j = p->disk_count;
        if (recs[k].instance == UINT64_MAX && p->disk_count > 0) {
            j = 0;
        }
        bool newest = p->disk_count > 1 && recs[k].instance < BPC_DURABLE_APPLIED_BASE &&
                      p->disk[p->disk_count - 1].instance < recs[k].instance;
        for (uint32_t back = 0; !newest && j == p->disk_count && back < p->disk_count; back++) {
            if (p->disk[p->disk_count - 1 - back].instance == recs[k].instance) {
                j = p->disk_count - 1 - back;
            }
        }
        if (j == p->disk_count) {
            if (p->disk_count == p->disk_cap) {
                p->disk_cap = p->disk_cap ? p->disk_cap * 2 : 64;
                p->disk = realloc(p->disk, p->disk_cap * sizeof(*p->disk));
                if (p->disk == NULL) {
                    hn_die("out of memory");
                }
            }
            p->disk_count++;
        }
        p->disk[j] = recs[k];
    }
}

/* Keeps every persisted value (a store keeps them while their instance is
 * at or above the floor; restore skips the rest). */
static void
hn_persist_values(struct hn_party *p, const struct bpc_durable_value *vals, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        if (p->val_count == p->val_cap) {
            p->val_cap = p->val_cap ? p->val_cap * 2 : 64;
            p->vals = realloc(p->vals, p->val_cap * sizeof(*p->vals));
            p->val_bytes = realloc(p->val_bytes, p->val_cap * sizeof(*p->val_bytes));
            if (p->vals == NULL || p->val_bytes == NULL) {
                hn_die("out of memory");
            }
        }
        uint8_t *b = malloc(vals[k].vid.len);
        if (b == NULL) {
            hn_die("out of memory");
        }
        memcpy(b, vals[k].bytes, vals[k].vid.len);
        p->val_bytes[p->val_count] = b;
        p->vals[p->val_count] = vals[k];
        p->vals[p->val_count].bytes = b;
        p->val_count++;
    }
}

void
hn_restart(struct hn *h, uint32_t i)
{
    struct hn_party *p = &h->p[i];
    bpc_engine_free(p->e);
    char err[256];
    if (bpc_engine_new(&p->e, &p->cfg, err, sizeof(err)) != 0) {
        hn_die(err);
    }
    if (bpc_engine_restore(p->e, p->disk, p->disk_count) != 0 ||
        bpc_engine_restore_values(p->e, p->vals, p->val_count) != 0) {
        hn_die("restore");
    }
    p->down = false;
    p->restarts++;
    if (bpc_engine_start(p->e, h->now_ns) != 0) {
        hn_die("bpc_engine_start failed");
    }
    hn_step(h, i, NULL, 0);
}

void
hn_step(struct hn *h, uint32_t i, const struct bpc_frame_in *frames, uint32_t count)
{
    struct hn_party *p = &h->p[i];
    if (p->down) {
        return;
    }
    struct bpc_step_in in = {.now_ns = h->now_ns, .frames = frames, .frames_count = count};
    for (int round = 0; round < 1000; round++) {
        struct bpc_step_out out = {
            .frames = hn_tx,
            .frames_cap = h->tx_cap > 0 && h->tx_cap < HN_TX_FRAMES ? h->tx_cap : HN_TX_FRAMES,
            .decisions = hn_dec,
            .decisions_cap = 256};
        hn_in_step = true;
        int rc = bpc_engine_step(p->e, &in, &out);
        hn_in_step = false;
        for (uint32_t k = 0; k < out.frames_count; k++) {
            hn_enqueue(h, i, &hn_tx[k]);
            p->frames_sent++;
        }
        for (uint32_t k = 0; k < out.decisions_count; k++) {
            hn_log(p, &out.decisions[k]);
        }
        in.frames_count = 0;
        if (out.persist_count > 0) {
            hn_persist(p, out.persist, out.persist_count);
            hn_persist_values(p, out.persist_values, out.persist_values_count);
            bpc_engine_persisted(p->e);
            continue;
        }
        if (rc >= 0 && out.decisions_count < 256) {
            return;
        }
    }
    hn_die("step did not settle");
}

uint64_t
hn_deliver(struct hn *h, uint64_t max)
{
    uint64_t done = 0;
    while (h->q_count > 0 && done < max) {
        struct hn_frame f = h->q[h->q_head];
        h->q_head = (h->q_head + 1) % h->q_cap;
        h->q_count--;
        struct bpc_frame_in in = {.bytes = f.bytes, .len = f.len};
        hn_step(h, f.to, &in, 1);
        free(f.bytes);
        done++;
        h->delivered++;
    }
    return done;
}

uint32_t
hn_deliver_from(struct hn *h, uint32_t from, uint32_t to)
{
    uint32_t done = 0;
    uint32_t count = h->q_count;
    for (uint32_t k = 0; k < count; k++) {
        struct hn_frame f = h->q[h->q_head];
        h->q_head = (h->q_head + 1) % h->q_cap;
        h->q_count--;
        if (f.from == from && f.to == to) {
            struct bpc_frame_in in = {.bytes = f.bytes, .len = f.len};
            hn_step(h, f.to, &in, 1);
            free(f.bytes);
            done++;
        } else {
            h->q[(h->q_head + h->q_count++) % h->q_cap] = f;
        }
    }
    return done;
}

void
hn_drop_all(struct hn *h)
{
    while (h->q_count > 0) {
        free(h->q[h->q_head].bytes);
        h->q_head = (h->q_head + 1) % h->q_cap;
        h->q_count--;
    }
}

void
hn_start(struct hn *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (bpc_engine_start(h->p[i].e, h->now_ns) != 0) {
            hn_die("bpc_engine_start failed");
        }
        hn_step(h, i, NULL, 0);
    }
}

void
hn_tick(struct hn *h, uint64_t ns)
{
    h->now_ns += ns;
    for (uint32_t i = 0; i < h->n; i++) {
        hn_step(h, i, NULL, 0);
    }
}

int
hn_submit(struct hn *h, uint32_t i, uint32_t tag, uint64_t seq)
{
    uint8_t v[16];
    memset(v, 0, sizeof(v));
    memcpy(v, &tag, sizeof(tag));
    memcpy(v + 8, &seq, sizeof(seq));
    return bpc_submit(h->p[i].e, v, sizeof(v), NULL);
}

static bool
hn_all_decided(const struct hn *h, uint32_t count)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (!h->p[i].down && h->p[i].log_count < count) {
            return false;
        }
    }
    return true;
}

bool
hn_run(struct hn *h, uint32_t count, uint64_t tick_ns, uint64_t limit_ns)
{
    uint64_t end = h->now_ns + limit_ns;
    while (h->now_ns < end) {
        hn_deliver(h, UINT64_MAX);
        if (hn_all_decided(h, count)) {
            return true;
        }
        hn_tick(h, tick_ns);
    }
    hn_deliver(h, UINT64_MAX);
    return hn_all_decided(h, count);
}

bool
hn_agree(const struct hn *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        for (uint32_t j = i + 1; j < h->n; j++) {
            uint32_t m =
                h->p[i].log_count < h->p[j].log_count ? h->p[i].log_count : h->p[j].log_count;
            for (uint32_t k = 0; k < m; k++) {
                if (!bpc_vid_eq(&h->p[i].log[k], &h->p[j].log[k])) {
                    return false;
                }
            }
        }
    }
    return true;
}

int
hn_first_leader(const struct hn *h)
{
    uint8_t digest[BPC_DIGEST_BYTES];
    bpc_config_digest(&h->p[0].cfg, digest);
    return bpc_elect_leader(&h->p[0].cfg, digest, 1);
}
