/*
 * defects_fx.c - what the origin-defect tests share (defects_fx.h): a
 * party's log read as commands, the leaders of ballots, the tracked
 * cluster, frames decoded and forged, and the filter that drops, holds or
 * records queued frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "defects_fx.h"

/* The command at log entry k of party i (hn_submit(tag, seq) bytes):
 * decided values are batches; the harness config puts one 16-byte command
 * in each, so the value stays inline. False for a no-op or a malformed
 * value. */
static bool
td_cmd_at(const struct hn *h, uint32_t i, uint32_t k, uint32_t *tag, uint64_t *seq)
{
    const struct bpc_vid *v = &h->p[i].log[k];
    if (k >= h->p[i].log_count || v->kind != BPC_VALUE_INLINE) {
        return false;
    }
    struct bpc_command c;
    int off = bpc_batch_next(v->id, v->len, 0, &c);
    if (off <= 0 || c.len != 16) {
        return false;
    }
    memcpy(tag, c.bytes, sizeof(*tag));
    memcpy(seq, c.bytes + 8, sizeof(*seq));
    return true;
}

/* Does log entry k of party i hold command (tag, seq)? */
bool
td_logged(const struct hn *h, uint32_t i, uint32_t k, uint32_t tag, uint64_t seq)
{
    uint32_t t = 0;
    uint64_t q = 0;
    return td_cmd_at(h, i, k, &t, &q) && t == tag && q == seq;
}

/* Index of the first log entry of party i holding (tag, seq), or -1. */
int
td_find(const struct hn *h, uint32_t i, uint32_t tag, uint64_t seq)
{
    for (uint32_t k = 0; k < h->p[i].log_count; k++) {
        if (td_logged(h, i, k, tag, seq)) {
            return (int)k;
        }
    }
    return -1;
}

/* Does the log of party i hold every command (tag, 0..count-1)? */
bool
td_has_all(const struct hn *h, uint32_t i, uint32_t tag, uint64_t count)
{
    for (uint64_t q = 0; q < count; q++) {
        if (td_find(h, i, tag, q) < 0) {
            return false;
        }
    }
    return true;
}

/* The command a 2AV/2B record votes for, or false. */
static bool
td_rec_cmd(const struct bpc_record *r, uint32_t *tag, uint64_t *seq)
{
    struct bpc_command c;
    if (r->value.kind != BPC_VALUE_INLINE ||
        bpc_batch_next(r->value.id, r->value.len, 0, &c) <= 0 || c.len != 16) {
        return false;
    }
    memcpy(tag, c.bytes, sizeof(*tag));
    memcpy(seq, c.bytes + 8, sizeof(*seq));
    return true;
}

/* The harness's value settings (see hn_init): one command per value. */
static void
td_cfg_defaults(struct bpc_config *cfg, uint32_t n, enum bpc_mode mode)
{
    bpc_config_defaults(cfg);
    cfg->parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg->weights[i] = 1;
    }
    cfg->mode = mode;
    cfg->batch_max = 1;
    cfg->commands_max = 64;
    cfg->value_bytes_max = 256;
}

static int
td_leader_cfg(const struct bpc_config *cfg, uint64_t ballot)
{
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_config_digest(cfg, d);
    return bpc_elect_leader(cfg, d, ballot);
}

uint32_t
td_leader(const struct hn *h, uint64_t ballot)
{
    int l = td_leader_cfg(&h->p[0].cfg, ballot);
    assert_true(l >= 0);
    return (uint32_t)l;
}

/* Builds a cluster whose cluster id makes ballots 1 and 2 have different
 * leaders (the scenarios need a second leader). */
void
td_init_two_leaders(struct hn *h, uint32_t n, enum bpc_mode mode)
{
    static struct bpc_config cfg;
    td_cfg_defaults(&cfg, n, mode);
    for (cfg.cluster_id = 1; cfg.cluster_id < 1000; cfg.cluster_id++) {
        if (td_leader_cfg(&cfg, 1) != td_leader_cfg(&cfg, 2)) {
            break;
        }
    }
    hn_init_cfg(h, &cfg);
    assert_int_not_equal(td_leader(h, 1), td_leader(h, 2));
}

/* The test's cluster lives on the heap and is tracked, so the group
 * teardown frees it when an assertion ends a test early (no leak reports
 * from sanitizer builds on a failing test). */
static struct hn *td_live_h;

struct hn *
td_hn_new(void)
{
    assert_null(td_live_h);
    td_live_h = calloc(1, sizeof(*td_live_h));
    assert_non_null(td_live_h);
    return td_live_h;
}

void
td_hn_free(struct hn *h)
{
    assert_ptr_equal(h, td_live_h);
    hn_free(h);
    free(h);
    td_live_h = NULL;
}

struct bpc_record td_recs[TD_RECS_MAX];

/* Decodes a frame (no tag check: the filter sees honest frames); returns
 * the record count into td_recs, or -1. */
int
td_decode(const uint8_t *bytes, uint32_t len, struct bpc_frame_header *hdr)
{
    if (bpc_wire_parse_header(bytes, len, hdr) != 0) {
        return -1;
    }
    return bpc_wire_decode(bytes, len, hdr, td_recs, TD_RECS_MAX);
}

/* Does the frame carry a record of this type (and ballot, when nonzero)? */
bool
td_has(const uint8_t *bytes, uint32_t len, uint8_t type, uint64_t ballot)
{
    struct bpc_frame_header hdr;
    int n = td_decode(bytes, len, &hdr);
    for (int k = 0; k < n; k++) {
        if (td_recs[k].type == type && (ballot == 0 || td_recs[k].ballot == ballot)) {
            return true;
        }
    }
    return false;
}

/* Encodes recs as a frame from -> to, tagged with key. */
void
td_forge(struct td_frame *f, const struct hn *h, uint32_t from, uint32_t to,
         const struct bpc_record *recs, uint32_t count, uint64_t seq,
         const uint8_t key[BPC_KEY_BYTES])
{
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, f->bytes, h->p[0].cfg.frame_bytes, 0), 0);
    for (uint32_t k = 0; k < count; k++) {
        assert_int_equal(bpc_wire_put(&w, &recs[k]), 0);
    }
    struct bpc_frame_header hdr = {.cluster_id = h->p[0].cfg.cluster_id,
                                   .sender = (uint16_t)from,
                                   .receiver = (uint16_t)to,
                                   .seq = seq};
    f->len = bpc_wire_finish(&w, &hdr, key);
}

void
td_inject(struct hn *h, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct bpc_frame_in in = {.bytes = bytes, .len = len};
    hn_step(h, to, &in, 1);
}

static void
td_hold(struct td_ctx *c, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    assert_true(c->held_count < TD_HELD_MAX);
    struct td_held *hd = &c->held[c->held_count++];
    hd->from = from;
    hd->to = to;
    hd->len = len;
    hd->bytes = malloc(len);
    assert_non_null(hd->bytes);
    memcpy(hd->bytes, bytes, len);
}

static void
td_record(struct td_ctx *c, uint32_t from, const uint8_t *bytes, uint32_t len)
{
    struct bpc_frame_header hdr;
    int n = td_decode(bytes, len, &hdr);
    assert_true(n >= 0); /* honest frames always decode */
    for (int k = 0; k < n; k++) {
        const struct bpc_record *r = &td_recs[k];
        if (r->instance != c->watch_instance) {
            continue;
        }
        bool vote = r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B;
        uint32_t tag;
        uint64_t seq;
        if (vote && td_rec_cmd(r, &tag, &seq) && tag == c->bad_tag && seq == c->bad_seq) {
            c->bad_votes++;
        }
        c->sent_2av_from[from] += r->type == BPC_MSG_2AV;
        c->sent_2b_from[from] += r->type == BPC_MSG_2B;
    }
}

static bool
td_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct td_ctx *c = ctx;
    switch (c->rule) {
    case TD_PASS:
        break;
    case TD_B1_ISOLATE:
        if (to == c->isolated || (to != c->keep && td_has(bytes, len, BPC_MSG_2B, 1))) {
            td_record(c, from, bytes, len); /* sent, never delivered */
            return false;
        }
        break;
    case TD_B1_HOLD:
        if ((c->mask & (1u << to)) &&
            (td_has(bytes, len, BPC_MSG_2A, 1) || td_has(bytes, len, BPC_MSG_2AV, 1) ||
             td_has(bytes, len, BPC_MSG_2B, 1))) {
            td_hold(c, from, to, bytes, len);
            return false;
        }
        break;
    case TD_HOLD_TO:
        if (to == c->isolated) {
            td_hold(c, from, to, bytes, len);
            return false;
        }
        break;
    case TD_MUTE_FROM:
        if (from == c->isolated || td_has(bytes, len, BPC_MSG_DECIDED, 0)) {
            td_record(c, from, bytes, len);
            return false;
        }
        break;
    case TD_DROP_2B_FROM:
        if (from == c->isolated && td_has(bytes, len, BPC_MSG_2B, 0)) {
            c->h->p[from].down = true; /* crashed between its 2av and its 2b */
            c->crashed = true;
            return false;
        }
        if (from == c->from2 && to == c->keep && td_has(bytes, len, BPC_MSG_2AV, 0)) {
            return false;
        }
        break;
    }
    td_record(c, from, bytes, len);
    return true;
}

static struct td_ctx *td_live_c;

struct td_ctx *
td_ctx_new(struct hn *h, enum td_rule rule)
{
    assert_null(td_live_c);
    struct td_ctx *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    td_live_c = c;
    c->h = h;
    c->rule = rule;
    h->filter = td_filter;
    h->filter_ctx = c;
    return c;
}

void
td_ctx_free(struct td_ctx *c)
{
    for (uint32_t k = 0; k < c->held_count; k++) {
        free(c->held[k].bytes);
    }
    c->h->filter = NULL;
    free(c);
    td_live_c = NULL;
}

/* Per-test teardown: frees what a failed assertion left behind. */
int
td_teardown(void **state)
{
    (void)state;
    if (td_live_c != NULL) {
        td_ctx_free(td_live_c);
    }
    if (td_live_h != NULL) {
        td_hn_free(td_live_h);
    }
    return 0;
}

uint64_t
td_sum_equivocations(const struct hn *h)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        s += bpc_engine_counters(h->p[i].e)->equivocations;
    }
    return s;
}

/* Runs deliver/tick rounds until every live party's log holds every
 * command of cmds (at whatever instance), or limit_ns passes. */
bool
td_run_cmds(struct hn *h, const struct td_cmd *cmds, uint32_t count, uint64_t limit_ns)
{
    uint64_t end = h->now_ns + limit_ns;
    for (;;) {
        hn_deliver(h, UINT64_MAX);
        bool all = true;
        for (uint32_t i = 0; i < h->n && all; i++) {
            for (uint32_t k = 0; k < count && all && !h->p[i].down; k++) {
                all = td_find(h, i, cmds[k].tag, cmds[k].seq) >= 0;
            }
        }
        if (all) {
            return true;
        }
        if (h->now_ns >= end) {
            return false;
        }
        hn_tick(h, 5 * TD_MS);
    }
}
