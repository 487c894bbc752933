/*
 * cluster.c - harness clusters for the replication-engine tests
 * (test_pipeline.c, test_leaderq.c): on_apply and on_complete hooks that
 * count what every party applies, and the runs and checks built on them.
 */
#include "cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define MS 1000000ull

struct applied applied[APPLY_SUBMITTERS];

static void
on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
         uint32_t len)
{
    (void)cmd;
    (void)len;
    struct applied *a = ctx;
    uint64_t low = seq & ((1ull << 40) - 1);
    assert_true(submitter < APPLY_SUBMITTERS && low < APPLY_SEQS);
    a->count[submitter][low]++;
    a->last_at[submitter] = instance + 1;
    if (a->first_at[submitter] == 0) {
        a->first_at[submitter] = instance + 1;
    }
    if (seq <= a->last_seq[submitter]) {
        a->out_of_order = true;
    }
    a->last_seq[submitter] = seq;
    a->total++;
}

static void
on_complete(void *ctx, uint64_t ticket)
{
    (void)ticket;
    ((struct applied *)ctx)->completed++;
}

void
cluster_init(struct hn *h, uint32_t n, uint32_t window, uint32_t batch)
{
    cluster_init_mode(h, n, window, batch, BPC_MODE_FAST);
}

void
cluster_init_mode(struct hn *h, uint32_t n, uint32_t window, uint32_t batch, enum bpc_mode mode)
{
    static struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.mode = mode;
    cfg.parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg.weights[i] = 1;
    }
    cfg.window_slots = window;
    cfg.batch_max = batch;
    cfg.commands_max = 1024;
    cfg.value_bytes_max = 1024;
    cfg.on_apply = on_apply;
    cfg.on_complete = on_complete;
    memset(applied, 0, sizeof(applied));
    hn_init_cfg(h, &cfg);
    for (uint32_t i = 0; i < n; i++) {
        /* hn_init_cfg built the engines; give each its own counters. */
        h->p[i].cfg.apply_ctx = &applied[i];
        h->p[i].cfg.complete_ctx = &applied[i];
        bpc_engine_free(h->p[i].e);
        char err[128];
        assert_int_equal(bpc_engine_new(&h->p[i].e, &h->p[i].cfg, err, sizeof(err)), 0);
    }
}

void
cluster_logs(struct hn *h, struct bpc_log **logs)
{
    bpc_log_thread_register();
    for (uint32_t i = 0; i < h->n; i++) {
        struct bpc_log_config lc = {
            .retain_entries = 4096, .segment_entries = 256, .value_bytes_max = 1024};
        assert_int_equal(bpc_log_new(&logs[i], &lc), 0);
        h->p[i].cfg.log = logs[i];
        bpc_engine_free(h->p[i].e);
        char err[128];
        assert_int_equal(bpc_engine_new(&h->p[i].e, &h->p[i].cfg, err, sizeof(err)), 0);
    }
}

void
cluster_logs_free(uint32_t n, struct bpc_log **logs)
{
    for (uint32_t i = 0; i < n; i++) {
        bpc_log_free(logs[i]);
    }
    bpc_log_thread_unregister();
}

bool
all_applied(const struct hn *h, uint64_t total)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (!h->p[i].down && applied[i].total < total) {
            return false;
        }
    }
    return true;
}

bool
run_until_applied(struct hn *h, uint64_t total, uint64_t limit_ns)
{
    uint64_t end = h->now_ns + limit_ns;
    while (h->now_ns < end) {
        hn_deliver(h, UINT64_MAX);
        if (all_applied(h, total)) {
            return true;
        }
        hn_tick(h, 5 * MS);
    }
    return all_applied(h, total);
}

/* As run_until_applied, for every party but `skip`. */
bool
run_until_applied_by(struct hn *h, uint64_t total, uint32_t skip, uint64_t limit_ns)
{
    uint64_t end = h->now_ns + limit_ns;
    for (;;) {
        hn_deliver(h, UINT64_MAX);
        bool all = true;
        for (uint32_t i = 0; i < h->n; i++) {
            all = all && (i == skip || applied[i].total >= total);
        }
        if (all || h->now_ns >= end) {
            return all;
        }
        hn_tick(h, 5 * MS);
    }
}

void
submit_n(struct hn *h, uint32_t who, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        uint8_t cmd[24];
        memset(cmd, (int)k, sizeof(cmd));
        uint64_t ticket = 0;
        assert_int_equal(bpc_submit(h->p[who].e, cmd, sizeof(cmd), &ticket), 0);
        assert_true(ticket > 0);
    }
}

/* Every party applied each command of `who` exactly once, in order. */
void
assert_exactly_once(const struct hn *h, uint32_t who, uint32_t count)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->p[i].down) {
            continue;
        }
        assert_false(applied[i].out_of_order);
        for (uint32_t q = 1; q <= count; q++) {
            assert_int_equal(applied[i].count[who][q], 1);
        }
        assert_false(h->p[i].log_broken);
    }
}

/* Does the frame carry a record of this type? */
bool
frame_has(const uint8_t *bytes, uint32_t len, uint8_t type)
{
    struct bpc_frame_header fh;
    struct bpc_record recs[64];
    int n = bpc_wire_parse_header(bytes, len, &fh) == 0 ? bpc_wire_decode(bytes, len, &fh, recs, 64)
                                                        : -1;
    for (int k = 0; k < n; k++) {
        if (recs[k].type == type) {
            return true;
        }
    }
    return false;
}

/* One step of a steady load: party w submits a command, every queued
 * frame is delivered, 5 ms pass. */
void
load_step(struct hn *h, uint32_t w)
{
    uint8_t cmd[24];
    memset(cmd, 0xEE, sizeof(cmd));
    assert_int_equal(bpc_submit(h->p[w].e, cmd, sizeof(cmd), NULL), 0);
    hn_deliver(h, UINT64_MAX);
    hn_tick(h, 5 * MS);
}
