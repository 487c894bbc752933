/*
 * test_defects.c - one engine-level test per defect of the origin (the
 * Rust crate bpcon 0.1.0: votes not remembered across ballots, no value
 * rule, unauthenticated senders, one instance at a time, fixed timers, and
 * so on; each test names the one it covers), showing the engine does not
 * repeat it.
 *
 * Goal: each defect that can be shown on the engine gets a scenario that
 * the origin would fail and the engine must pass (safety across ballots,
 * Byzantine leaders, zero weights, reordering, forged and malformed
 * frames, crashes between phases, leader equivocation, skewed starts,
 * retried ballots and instances in flight).
 *
 * Method: the in-process harness (tests/unit/harness.h) with a filter that
 * reads every queued frame (to drop, hold or record it), frames forged with
 * the wire encoder and a party's pair keys, and a Byzantine party modelled
 * as a down party whose identity the test speaks for. Each test opens with
 * its goal and method. Must never: edit engine state directly, sleep, or
 * assert on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "harness.h"
#include "internal.h"

#define TD_MS UINT64_C(1000000)
#define TD_RECS_MAX (BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES)
#define TD_HELD_MAX 4096u
/* Forged frames use sequence numbers far above any honest one. */
#define TD_FORGED_SEQ (UINT64_C(1) << 50)

/* ------------------------------------------------------------------------
 * Values and leaders.
 * ---------------------------------------------------------------------- */

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
static bool
td_logged(const struct hn *h, uint32_t i, uint32_t k, uint32_t tag, uint64_t seq)
{
    uint32_t t = 0;
    uint64_t q = 0;
    return td_cmd_at(h, i, k, &t, &q) && t == tag && q == seq;
}

/* Index of the first log entry of party i holding (tag, seq), or -1. */
static int
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
static bool
td_has_all(const struct hn *h, uint32_t i, uint32_t tag, uint64_t count)
{
    for (uint64_t q = 0; q < count; q++) {
        if (td_find(h, i, tag, q) < 0) {
            return false;
        }
    }
    return true;
}

/* The value identity a command is decided under (a one-command batch
 * submitted by `submitter` with engine sequence number `eseq`); only the
 * command bytes are compared in the tests, this is for forged frames. */
static struct bpc_vid
td_batch_vid(uint32_t submitter, uint64_t eseq, uint32_t tag, uint64_t seq)
{
    uint8_t v[BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + 16];
    memset(v, 0, sizeof(v));
    v[0] = 1; /* one command */
    uint8_t *c = v + BPC_BATCH_HEADER_BYTES;
    c[0] = (uint8_t)submitter;
    c[1] = (uint8_t)(submitter >> 8);
    c[2] = 16;
    for (int k = 0; k < 8; k++) {
        c[4 + k] = (uint8_t)(eseq >> (8 * k));
    }
    memcpy(c + BPC_BATCH_CMD_HEADER_BYTES, &tag, sizeof(tag));
    memcpy(c + BPC_BATCH_CMD_HEADER_BYTES + 8, &seq, sizeof(seq));
    struct bpc_vid vid;
    bpc_vid_of(&vid, v, sizeof(v));
    return vid;
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

static uint32_t
td_leader(const struct hn *h, uint64_t ballot)
{
    int l = td_leader_cfg(&h->p[0].cfg, ballot);
    assert_true(l >= 0);
    return (uint32_t)l;
}

/* Builds a cluster whose cluster id makes ballots 1 and 2 have different
 * leaders (the scenarios need a second leader). */
static void
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

static struct hn *
td_hn_new(void)
{
    assert_null(td_live_h);
    td_live_h = calloc(1, sizeof(*td_live_h));
    assert_non_null(td_live_h);
    return td_live_h;
}

static void
td_hn_free(struct hn *h)
{
    assert_ptr_equal(h, td_live_h);
    hn_free(h);
    free(h);
    td_live_h = NULL;
}

/* ------------------------------------------------------------------------
 * Frames: reading queued ones, forging new ones.
 * ---------------------------------------------------------------------- */

static struct bpc_record td_recs[TD_RECS_MAX];

/* Decodes a frame (no tag check: the filter sees honest frames); returns
 * the record count into td_recs, or -1. */
static int
td_decode(const uint8_t *bytes, uint32_t len, struct bpc_frame_header *hdr)
{
    if (bpc_wire_parse_header(bytes, len, hdr) != 0) {
        return -1;
    }
    return bpc_wire_decode(bytes, len, hdr, td_recs, TD_RECS_MAX);
}

/* Does the frame carry a record of this type (and ballot, when nonzero)? */
static bool
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

struct td_frame {
    uint8_t bytes[BPC_FRAME_BYTES_MAX];
    uint32_t len;
};

/* Encodes recs as a frame from -> to, tagged with key. */
static void
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

static void
td_inject(struct hn *h, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct bpc_frame_in in = {.bytes = bytes, .len = len};
    hn_step(h, to, &in, 1);
}

/* ------------------------------------------------------------------------
 * Filters. One context serves every test: a rule picks what to drop or
 * hold, and a recorder notes every 2A/2AV/2B record that was queued.
 * ---------------------------------------------------------------------- */

enum td_rule {
    TD_PASS = 0,
    TD_B1_ISOLATE,   /* drop all to `isolated`, drop 2B frames to all but `keep` */
    TD_B1_HOLD,      /* hold 2A/2AV/2B frames of ballot 1 to parties in `mask` */
    TD_HOLD_TO,      /* hold every frame to `isolated` */
    TD_DROP_2B_FROM, /* drop 2B frames from `isolated` (and crash it), 2AV from `from2` to `keep` */
    TD_MUTE_FROM     /* drop every frame from `isolated` and every DECIDED record */
};

struct td_held {
    uint32_t from;
    uint32_t to;
    uint32_t len;
    uint8_t *bytes;
};

struct td_ctx {
    struct hn *h;
    enum td_rule rule;
    uint32_t isolated;
    uint32_t keep;
    uint32_t from2;
    uint32_t mask;
    struct td_held held[TD_HELD_MAX];
    uint32_t held_count;
    /* Recorder: 2AV/2B records sent at instance `watch_instance`, and how
     * many voted for command (bad_tag, bad_seq), which nobody may. */
    uint64_t watch_instance;
    uint32_t bad_tag;
    uint64_t bad_seq;
    uint32_t bad_votes;
    uint32_t sent_2av_from[BPC_PARTIES_MAX];
    uint32_t sent_2b_from[BPC_PARTIES_MAX];
    bool crashed;
};

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

static struct td_ctx *
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

static void
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
static int
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

static uint64_t
td_sum_equivocations(const struct hn *h)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        s += bpc_engine_counters(h->p[i].e)->equivocations;
    }
    return s;
}

struct td_cmd {
    uint32_t tag;
    uint64_t seq;
};

/* Runs deliver/tick rounds until every live party's log holds every
 * command of cmds (at whatever instance), or limit_ns passes. */
static bool
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

/* ------------------------------------------------------------------------
 * D1, D2, D3: a chosen value survives later ballots.
 * ---------------------------------------------------------------------- */

/* Runs ballot 1 so that A = (0xA, 1) is chosen at instance 0 (2b sent by
 * L1, Y, Z) but only Z learns it, and the ballot-2 leader X saw nothing. */
static void
td_ballot1_chosen_unseen(struct hn *h, struct td_ctx *c, uint32_t *y, uint32_t *z)
{
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    *y = 0;
    while (*y == l1 || *y == x) {
        (*y)++;
    }
    *z = 0;
    while (*z == l1 || *z == x || *z == *y) {
        (*z)++;
    }
    c->isolated = x;
    c->keep = *z;
    c->watch_instance = 0;
    assert_int_equal(hn_submit(h, l1, 0xA, 1), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX); /* no time passes: ballot 1 only */
    assert_true(c->sent_2b_from[l1] > 0 && c->sent_2b_from[*y] > 0 && c->sent_2b_from[*z] > 0);
    assert_true(td_logged(h, *z, 0, 0xA, 1));
    assert_int_equal(h->p[l1].log_count, 0);
    assert_int_equal(h->p[*y].log_count, 0);
    assert_int_equal(h->p[x].log_count, 0);
}

/* D1/D2/D3. Goal: a value chosen in ballot 1 is the only one a later ballot
 * can choose, even when the later leader's own state shows no vote (D3) and
 * it holds another command. Method: A is chosen at instance 0 in ballot 1
 * but only Z decides; X, the ballot-2 leader with B = (0xB, 2) submitted,
 * was cut off during ballot 1; then L1 falls silent and Z's DECIDED
 * answers are lost until the others reach ballot 2, and time runs.
 * Every party decides A at instance 0, nobody ever votes B there, X learns
 * A in a ballot >= 2 (the later ballot re-chose it), and B is decided too. */
static void
test_defects_chosen_value_survives(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t x = td_leader(h, 2);
    assert_int_equal(hn_submit(h, x, 0xB, 2), 0);
    c->bad_tag = 0xB;
    c->bad_seq = 2;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    /* Ballot 1 needs no 1b, so X could still vote there and learn A at
     * ballot 1. Make the cluster move on instead: L1 falls silent and Z's
     * DECIDED answers are lost until X, Y and Z are at ballot 2. */
    uint32_t l1 = td_leader(h, 1);
    c->rule = TD_MUTE_FROM;
    c->isolated = l1;
    for (uint32_t k = 0; k < 400; k++) {
        hn_deliver(h, UINT64_MAX);
        if (bpc_engine_ballot(h->p[x].e) >= 2 && bpc_engine_ballot(h->p[y].e) >= 2 &&
            bpc_engine_ballot(h->p[z].e) >= 2) {
            break;
        }
        hn_tick(h, 5 * TD_MS);
    }
    c->rule = TD_PASS;
    const struct td_cmd want[2] = {{0xA, 1}, {0xB, 2}};
    assert_true(td_run_cmds(h, want, 2, 20000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(td_logged(h, i, 0, 0xA, 1));
        assert_true(bpc_engine_ballot(h->p[i].e) >= 2);
    }
    assert_true(h->p[x].log_ballot[0] >= 2);
    assert_int_equal(c->bad_votes, 0);
    assert_true(hn_agree(h));
    assert_int_equal(td_sum_equivocations(h), 0);
    td_ctx_free(c);
    td_hn_free(h);
}

/* Forged frame from the Byzantine X to `to`: it claims a 2b for B at
 * ballot 1 on instance 0, opens ballot 2 and proposes B there. */
static void
td_forge_byzantine_b(struct hn *h, uint32_t x, uint32_t to, uint64_t seq)
{
    struct bpc_vid b = td_batch_vid(x, 1, 0xB, 2);
    struct bpc_record recs[5];
    recs[0] = bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL);
    recs[1] = bpc_record_make(BPC_MSG_1B, 0, 2, 1, &b);
    recs[1].hist_count = 1;
    recs[2] = bpc_record_make(BPC_MSG_1B_HIST, 0, 2, 1, &b);
    recs[3] = bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 1, NULL);
    recs[4] = bpc_record_make(BPC_MSG_2A, 0, 2, 0, &b);
    static struct td_frame f;
    td_forge(&f, h, x, to, recs, 5, seq, h->p[x].keys[to]);
    td_inject(h, to, f.bytes, f.len);
}

/* D1/D2 with a Byzantine leader. Goal: a ballot-2 leader that lies in its
 * 1b and proposes another value B for a chosen instance gets no 2av for
 * B. Method: X (leader of ballot 2) is down and the test speaks for it;
 * A is chosen in ballot 1 with only Z deciding; once the others are in
 * ballot 2, X's forged 1a/1b/2a for B reach everyone. No correct party
 * votes B, nobody decides B, and later ballots decide A everywhere. */
static void
test_defects_byzantine_leader_value(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    h->p[x].down = true;
    c->bad_tag = 0xB;
    c->bad_seq = 2;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    c->rule = TD_PASS;
    for (int k = 0;
         k < 1000 && (bpc_engine_ballot(h->p[l1].e) < 2 || bpc_engine_ballot(h->p[y].e) < 2); k++) {
        hn_tick(h, TD_MS);
        hn_deliver(h, UINT64_MAX);
    }
    assert_int_equal(bpc_engine_ballot(h->p[l1].e), 2);
    uint64_t seq = TD_FORGED_SEQ;
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x) {
            td_forge_byzantine_b(h, x, i, seq++);
        }
    }
    hn_deliver(h, UINT64_MAX);
    const struct td_cmd want[1] = {{0xA, 1}};
    bool done = td_run_cmds(h, want, 1, 60000 * TD_MS);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == x || td_find(h, i, 0xB, 2) < 0);
    }
    assert_int_equal(c->bad_votes, 0);
    assert_true(hn_agree(h));
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x && h->p[i].log_count == 0) {
            print_error("party %u: ballot %" PRIu64 ", nothing decided (liveness)\n", i,
                        bpc_engine_ballot(h->p[i].e));
        }
    }
    assert_true(done);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == x || td_logged(h, i, 0, 0xA, 1));
    }
    td_ctx_free(c);
    td_hn_free(h);
}

/* Catch-up (docs/ENGINE.md, "Catch-up"). Goal: a decision that
 * only one correct party learned still reaches the other correct parties
 * when one party has crashed (faulty weight F = 1 of 4). Method: as in the
 * tests above, A is chosen in ballot 1 with only Z deciding, and X (the
 * ballot-2 leader) is down from the start. L1 and Y must decide A: by a
 * later ballot (a quorum needs Z's 1b for instance 0) or from Z's vote. */
static void
test_defects_single_decider_catch_up(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    struct td_ctx *c = td_ctx_new(h, TD_B1_ISOLATE);
    uint32_t x = td_leader(h, 2);
    h->p[x].down = true;
    uint32_t y;
    uint32_t z;
    td_ballot1_chosen_unseen(h, c, &y, &z);
    c->rule = TD_PASS;
    const struct td_cmd want[1] = {{0xA, 1}};
    bool done = td_run_cmds(h, want, 1, 60000 * TD_MS);
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != x && h->p[i].log_count == 0) {
            print_error("party %u: ballot %" PRIu64 ", nothing decided (liveness)\n", i,
                        bpc_engine_ballot(h->p[i].e));
        }
    }
    assert_true(done);
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* D1 (late messages). Goal: ballot-1 messages delivered after ballot 2
 * decided cannot decide a second value. Method: every frame carrying a
 * 2a/2av/2b of ballot 1 to two parties Q, R is held, so ballot-1 values
 * gather 2av from two parties only and nothing is chosen in ballot 1;
 * later ballots decide; the held frames are then delivered as fresh
 * frames. Logs do not change, and some held frames were accepted (not all
 * lost to the replay window). */
static void
test_defects_late_ballot1_frames(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    uint32_t l1 = td_leader(h, 1);
    uint32_t x = td_leader(h, 2);
    struct td_ctx *c = td_ctx_new(h, TD_B1_HOLD);
    for (uint32_t i = 0; i < h->n; i++) {
        c->mask |= (i != l1 && i != x) ? 1u << i : 0u;
    }
    assert_int_equal(hn_submit(h, l1, 0xA, 1), 0);
    assert_int_equal(hn_submit(h, x, 0xB, 2), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(c->held_count > 0);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, 0);
    }
    /* Ballot-1 retransmissions to Q and R stay held too. */
    const struct td_cmd want[2] = {{0xA, 1}, {0xB, 2}};
    assert_true(td_run_cmds(h, want, 2, 20000 * TD_MS));
    c->rule = TD_PASS;
    uint32_t logs[BPC_PARTIES_MAX];
    struct bpc_vid first[BPC_PARTIES_MAX];
    uint64_t rx = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(h->p[i].log_ballot[0] >= 2);
        logs[i] = h->p[i].log_count;
        first[i] = h->p[i].log[0];
        rx += bpc_engine_counters(h->p[i].e)->frames_rx;
    }
    for (uint32_t k = 0; k < c->held_count; k++) {
        td_inject(h, c->held[k].to, c->held[k].bytes, c->held[k].len);
    }
    hn_deliver(h, UINT64_MAX);
    uint64_t rx_after = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, logs[i]);
        assert_true(bpc_vid_eq(&h->p[i].log[0], &first[i]));
        rx_after += bpc_engine_counters(h->p[i].e)->frames_rx;
    }
    assert_true(rx_after > rx); /* some held frames were accepted and applied */
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D4: zero-weight parties.
 * ---------------------------------------------------------------------- */

/* D4. Goal: a zero-weight party is never leader, and a cluster that has
 * one still decides. Method: weights [0,1,1,1]: 10000 elections never
 * return 0; commands submitted at the leader and at party 0 (forwarded)
 * are decided at every party, party 0 too. */
static void
test_defects_zero_weight_never_leader(void **state)
{
    (void)state;
    const uint64_t w[4] = {0, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_config_digest(&h->p[0].cfg, d);
    for (uint64_t ballot = 0; ballot < 10000; ballot++) {
        int l = bpc_elect_leader(&h->p[0].cfg, d, ballot);
        assert_true(l >= 1 && l <= 3);
    }
    uint32_t l1 = td_leader(h, 1);
    assert_int_equal(hn_submit(h, l1, 7, 1), 0);
    assert_int_equal(hn_submit(h, 0, 7, 2), 0);
    hn_start(h);
    const struct td_cmd want[2] = {{7, 1}, {7, 2}};
    assert_true(td_run_cmds(h, want, 2, 5000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(bpc_engine_leader(h->p[i].e) != 0);
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D5: reordering.
 * ---------------------------------------------------------------------- */

static uint64_t
td_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Takes every queued frame out of the harness queue and delivers them in
 * reverse (rng == NULL) or shuffled order; returns how many. */
static uint32_t
td_deliver_reordered(struct hn *h, uint64_t *rng)
{
    uint32_t n = h->q_count;
    if (n == 0) {
        return 0;
    }
    struct hn_frame *batch = malloc((size_t)n * sizeof(*batch));
    assert_non_null(batch);
    for (uint32_t k = 0; k < n; k++) {
        batch[k] = h->q[(h->q_head + k) % h->q_cap];
    }
    h->q_head = (h->q_head + n) % h->q_cap;
    h->q_count = 0;
    for (uint32_t k = n; rng != NULL && k > 1; k--) {
        uint32_t j = (uint32_t)(td_rng(rng) % k);
        struct hn_frame t = batch[k - 1];
        batch[k - 1] = batch[j];
        batch[j] = t;
    }
    for (uint32_t k = 0; k < n; k++) {
        struct hn_frame *f = &batch[rng != NULL ? k : n - 1 - k];
        td_inject(h, f->to, f->bytes, f->len);
        free(f->bytes);
    }
    free(batch);
    return n;
}

static bool
td_run_reordered(struct hn *h, uint64_t *rng, uint32_t count, uint64_t limit_ns)
{
    uint64_t end = h->now_ns + limit_ns;
    while (h->now_ns < end) {
        while (td_deliver_reordered(h, rng) > 0) {
        }
        bool all = true;
        for (uint32_t i = 0; i < h->n; i++) {
            all = all && h->p[i].log_count >= count;
        }
        if (all) {
            return true;
        }
        hn_tick(h, 5 * TD_MS);
    }
    return false;
}

/* D5. Goal: reordering does not kill liveness. Method: every batch of
 * queued frames is delivered last-in-first-out, then (for several printed
 * seeds) shuffled; 8 commands submitted at the leader decide everywhere,
 * in submission order and in agreement. */
static void
test_defects_reordering_still_decides(void **state)
{
    (void)state;
    uint64_t seed = 0x6465666563743531ull;
    const char *env = getenv("BPC_TEST_SEED");
    if (env != NULL) {
        seed = strtoull(env, NULL, 0);
    }
    printf("  shuffle seed: BPC_TEST_SEED=0x%016" PRIx64 "\n", seed);
    for (int run = 0; run < 9; run++) {
        const uint64_t w[4] = {1, 1, 1, 1};
        struct hn *h = td_hn_new();
        hn_init(h, w, 4, BPC_MODE_FAST, 64);
        uint32_t l1 = td_leader(h, 1);
        for (uint64_t k = 0; k < 8; k++) {
            assert_int_equal(hn_submit(h, l1, 5, k), 0);
        }
        hn_start(h);
        uint64_t rng = seed + (uint64_t)run;
        assert_true(td_run_reordered(h, run == 0 ? NULL : &rng, 8, 20000 * TD_MS));
        for (uint32_t i = 0; i < h->n; i++) {
            for (uint32_t k = 0; k < 8; k++) {
                assert_true(td_logged(h, i, k, 5, k));
            }
        }
        assert_true(hn_agree(h));
        td_hn_free(h);
    }
}

/* D5. Goal: a message for a later phase that arrives before the 2a is kept
 * and counted, not lost. Method: every frame to party R is held while the
 * other three decide; R then gets its frames newest first, so 2b and 2av
 * arrive before the 2a and the 1b. R decides from the 2b quorum with no
 * time passing, and does not need the 2a to do so. */
static void
test_defects_early_phase_message_kept(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    uint32_t r = l1 == 3 ? 2 : 3;
    struct td_ctx *c = td_ctx_new(h, TD_HOLD_TO);
    c->isolated = r;
    assert_int_equal(hn_submit(h, l1, 9, 1), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, i == r ? 0u : 1u);
    }
    c->rule = TD_PASS;
    /* Newest first; stop as soon as R decided. */
    uint32_t k = c->held_count;
    bool saw_2a = false;
    while (k > 0 && h->p[r].log_count == 0) {
        k--;
        saw_2a = saw_2a || td_has(c->held[k].bytes, c->held[k].len, BPC_MSG_2A, 0);
        td_inject(h, r, c->held[k].bytes, c->held[k].len);
    }
    assert_true(td_logged(h, r, 0, 9, 1));
    assert_false(saw_2a); /* decided before the 2a arrived */
    /* The rest, 2a included, changes nothing. */
    while (k > 0) {
        k--;
        td_inject(h, r, c->held[k].bytes, c->held[k].len);
    }
    hn_deliver(h, UINT64_MAX);
    assert_int_equal(h->p[r].log_count, 1);
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D6, D8: forged and malformed frames.
 * ---------------------------------------------------------------------- */

/* A frame from `from` to `to` carrying the 1a of ballot 2 (which makes a
 * party join ballot 2 at once when from is that ballot's leader). */
static void
td_forge_1a(struct td_frame *f, const struct hn *h, uint32_t from, uint32_t to, uint64_t seq,
            const uint8_t key[BPC_KEY_BYTES])
{
    struct bpc_record r = bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL);
    td_forge(f, h, from, to, &r, 1, seq, key);
}

/* Delivers f to `to` and checks it was dropped for `reason` with no other
 * effect on the counters or the ballot. */
static void
td_expect_drop(struct hn *h, uint32_t to, const struct td_frame *f, enum bpc_drop_reason reason)
{
    struct bpc_counters before = *bpc_engine_counters(h->p[to].e);
    uint64_t ballot = bpc_engine_ballot(h->p[to].e);
    td_inject(h, to, f->bytes, f->len);
    const struct bpc_counters *after = bpc_engine_counters(h->p[to].e);
    assert_int_equal(after->drops[reason], before.drops[reason] + 1);
    assert_int_equal(after->frames_rx, before.frames_rx);
    assert_int_equal(after->records_rx, before.records_rx);
    assert_int_equal(bpc_engine_ballot(h->p[to].e), ballot);
}

/* D6. Goal: sender ids are authenticated: party k cannot speak for party
 * s. Method: a 1a of ballot 2 "from" the ballot-2 leader s, tagged with
 * the key another party k shares with the receiver, is dropped as
 * BAD_TAG with no state change; the same frame under s's key is applied
 * (the receiver joins ballot 2), so the drop is the tag's doing. */
static void
test_defects_sender_authenticated(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    uint32_t s = td_leader(h, 2);
    uint32_t to = (s + 1) % h->n;
    uint32_t k = (s + 2) % h->n;
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_int_equal(bpc_engine_ballot(h->p[to].e), 1);
    static struct td_frame f;
    td_forge_1a(&f, h, s, to, TD_FORGED_SEQ, h->p[k].keys[to]);
    td_expect_drop(h, to, &f, BPC_DROP_BAD_TAG);
    /* Under the receiver's own key with k: still not s's key. */
    td_forge_1a(&f, h, s, to, TD_FORGED_SEQ + 1, h->p[to].keys[k]);
    td_expect_drop(h, to, &f, BPC_DROP_BAD_TAG);
    assert_int_equal(bpc_engine_counters(h->p[to].e)->drops[BPC_DROP_REPLAY], 0);
    td_forge_1a(&f, h, s, to, TD_FORGED_SEQ + 2, h->p[s].keys[to]);
    td_inject(h, to, f.bytes, f.len);
    assert_int_equal(bpc_engine_ballot(h->p[to].e), 2);
    td_hn_free(h);
}

/* D8. Goal: ids and headers are validated before any lookup: a sender id
 * at or above the party count (or the receiver itself), a wrong receiver,
 * a wrong cluster and a replayed frame are each dropped and counted under
 * their own reason, with no crash (ASan/UBSan builds check the lookups).
 * Method: crafted frames to party 0 of a four-party cluster; the replay is
 * a genuine frame captured from the queue and delivered twice. */
static void
test_defects_header_validation(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    hn_start(h);
    static struct td_frame f;
    const uint16_t bad_senders[] = {4, 5, 1023, 1024, 0xFFFF, 0};
    for (uint32_t k = 0; k < sizeof(bad_senders) / sizeof(bad_senders[0]); k++) {
        td_forge_1a(&f, h, bad_senders[k], 0, TD_FORGED_SEQ + k, h->p[0].keys[1]);
        td_expect_drop(h, 0, &f, BPC_DROP_BAD_SENDER);
    }
    td_forge_1a(&f, h, 1, 2, TD_FORGED_SEQ, h->p[1].keys[2]);
    td_expect_drop(h, 0, &f, BPC_DROP_BAD_RECEIVER);
    td_forge_1a(&f, h, 1, 0, TD_FORGED_SEQ, h->p[1].keys[0]);
    f.bytes[8] ^= 0x40; /* cluster id, first byte (tag no longer matters) */
    td_expect_drop(h, 0, &f, BPC_DROP_BAD_CLUSTER);
    /* Replay: the first queued frame to party 0, delivered twice. Ballot 1
     * sends no 1b, so let the retransmission tick's STATUS announcements
     * put frames in the queue. */
    hn_tick(h, 30 * TD_MS);
    uint32_t k = 0;
    while (k < h->q_count && h->q[(h->q_head + k) % h->q_cap].to != 0) {
        k++;
    }
    assert_true(k < h->q_count);
    const struct hn_frame *q = &h->q[(h->q_head + k) % h->q_cap];
    f.len = q->len;
    memcpy(f.bytes, q->bytes, q->len);
    uint64_t rx = bpc_engine_counters(h->p[0].e)->frames_rx;
    td_inject(h, 0, f.bytes, f.len);
    assert_int_equal(bpc_engine_counters(h->p[0].e)->frames_rx, rx + 1);
    td_expect_drop(h, 0, &f, BPC_DROP_REPLAY);
    /* The cluster is unharmed. */
    assert_int_equal(hn_submit(h, td_leader(h, 1), 3, 1), 0);
    assert_true(hn_run(h, 1, 5 * TD_MS, 5000 * TD_MS));
    assert_true(hn_agree(h));
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D9, D10: crashes between phases; one value per leader.
 * ---------------------------------------------------------------------- */

/* D9. Goal: a crash between a party's 2av and its 2b does not block the
 * decision, and a 2b counts even when the sender's 2av never arrived.
 * Method: party C (not the leader) is marked down the moment it emits a
 * 2b (the frame is dropped), after its 2av went out; the 2av frames of a
 * third party Q to the leader are dropped, so the leader's 2b quorum
 * includes Q whose 2av it never saw. The three live parties decide with
 * no time passing. */
static void
test_defects_crash_between_2av_and_2b(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    struct td_ctx *c = td_ctx_new(h, TD_DROP_2B_FROM);
    c->isolated = (l1 + 1) % h->n;
    c->from2 = (l1 + 2) % h->n;
    c->keep = l1;
    c->watch_instance = 0;
    assert_int_equal(hn_submit(h, l1, 4, 1), 0);
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(c->crashed);
    assert_true(c->sent_2av_from[c->isolated] > 0);
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != c->isolated) {
            assert_true(td_logged(h, i, 0, 4, 1));
        }
    }
    assert_true(hn_agree(h));
    td_ctx_free(c);
    td_hn_free(h);
}

/* Every distinct 2A and 2AV sent: (type, sender, ballot, instance) ->
 * the first value; a later record naming another value is a mismatch. */
#define TD_SENT_MAX 8192u

struct td_sent {
    uint32_t count;
    uint32_t mismatches;
    uint8_t type[TD_SENT_MAX];
    uint32_t from[TD_SENT_MAX];
    uint64_t ballot[TD_SENT_MAX];
    uint64_t instance[TD_SENT_MAX];
    struct bpc_vid v[TD_SENT_MAX];
};

static const struct bpc_vid *
td_sent_value(const struct td_sent *s, uint8_t type, uint32_t from, uint64_t ballot,
              uint64_t instance)
{
    for (uint32_t k = 0; k < s->count; k++) {
        if (s->type[k] == type && s->from[k] == from && s->ballot[k] == ballot &&
            s->instance[k] == instance) {
            return &s->v[k];
        }
    }
    return NULL;
}

static bool
td_sent_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct td_sent *s = ctx;
    (void)to;
    struct bpc_frame_header hdr;
    int n = td_decode(bytes, len, &hdr);
    for (int k = 0; k < n; k++) {
        const struct bpc_record *r = &td_recs[k];
        if (r->type != BPC_MSG_2A && r->type != BPC_MSG_2AV) {
            continue;
        }
        const struct bpc_vid *seen = td_sent_value(s, r->type, from, r->ballot, r->instance);
        if (seen != NULL) {
            s->mismatches += !bpc_vid_eq(seen, &r->value);
            continue;
        }
        assert_true(s->count < TD_SENT_MAX);
        s->type[s->count] = r->type;
        s->from[s->count] = from;
        s->ballot[s->count] = r->ballot;
        s->instance[s->count] = r->instance;
        s->v[s->count] = r->value;
        s->count++;
    }
    return true;
}

/* D10. Goal: the leader sends one value per (ballot, instance) and keeps
 * the same: its own 2av and every decision at that ballot equal its 2a,
 * and no party ever counts an equivocation. Method: 12 commands at the
 * ballot-1 leader, which crashes once they are decided; 12 more at the
 * ballot-2 leader. Every 2A/2AV record is recorded from the queue and
 * checked against every log. */
static void
test_defects_leader_keeps_its_value(void **state)
{
    (void)state;
    struct hn *h = td_hn_new();
    td_init_two_leaders(h, 4, BPC_MODE_FAST);
    uint32_t l1 = td_leader(h, 1);
    uint32_t l2 = td_leader(h, 2);
    static struct td_sent sent;
    memset(&sent, 0, sizeof(sent));
    struct td_sent *s = &sent;
    h->filter = td_sent_filter;
    h->filter_ctx = s;
    for (uint64_t k = 0; k < 12; k++) {
        assert_int_equal(hn_submit(h, l1, 1, k), 0);
    }
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_true(td_has_all(h, l1, 1, 12));
    h->p[l1].down = true;
    hn_drop_all(h);
    struct td_cmd want[12];
    for (uint64_t k = 0; k < 12; k++) {
        assert_int_equal(hn_submit(h, l2, 2, k), 0);
        want[k] = (struct td_cmd){2, k};
    }
    assert_true(td_run_cmds(h, want, 12, 60000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(i == l1 || td_has_all(h, i, 1, 12));
    }
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->p[i].down) {
            continue;
        }
        for (uint32_t k = 0; k < h->p[i].log_count; k++) {
            uint64_t b = h->p[i].log_ballot[k];
            const struct bpc_vid *v2a = td_sent_value(s, BPC_MSG_2A, td_leader(h, b), b, k);
            assert_non_null(v2a);
            assert_true(bpc_vid_eq(v2a, &h->p[i].log[k]));
        }
    }
    for (uint32_t k = 0; k < s->count; k++) {
        if (s->type[k] == BPC_MSG_2A) {
            const struct bpc_vid *own =
                td_sent_value(s, BPC_MSG_2AV, s->from[k], s->ballot[k], s->instance[k]);
            assert_true(own == NULL || bpc_vid_eq(own, &s->v[k]));
        }
    }
    assert_int_equal(s->mismatches, 0);
    assert_int_equal(td_sum_equivocations(h), 0);
    assert_true(hn_agree(h));
    h->filter = NULL;
    td_hn_free(h);
}

/* ------------------------------------------------------------------------
 * D11: skewed starts in paced mode. D7: retried ballots, instances in
 * flight, no waiting on timers.
 * ---------------------------------------------------------------------- */

/* Starts the parties not in `late` now, runs `skew_ns` of time, then
 * starts the late ones (down until then, so nothing steps them). */
static void
td_start_skewed(struct hn *h, uint32_t late, uint64_t skew_ns)
{
    for (uint32_t i = 0; i < h->n; i++) {
        h->p[i].down = (late & (1u << i)) != 0;
        if (!h->p[i].down) {
            assert_int_equal(bpc_engine_start(h->p[i].e, h->now_ns), 0);
            hn_step(h, i, NULL, 0);
        }
    }
    for (uint64_t t = 0; t < skew_ns; t += TD_MS) {
        hn_tick(h, TD_MS);
        hn_deliver(h, UINT64_MAX);
    }
    for (uint32_t i = 0; i < h->n; i++) {
        if (late & (1u << i)) {
            h->p[i].down = false;
            assert_int_equal(bpc_engine_start(h->p[i].e, h->now_ns), 0);
            hn_step(h, i, NULL, 0);
        }
    }
}

/* D11. Goal: in paced mode a peer's message that arrives before the
 * receiver's own timer for that phase is kept, so parties started at
 * different times still decide. Method: two parties start 50 ms (then
 * 350 ms, beyond a whole phase gap) after the other two, the leader
 * among the early or the late ones; three commands decide everywhere. */
static void
test_defects_paced_skewed_start(void **state)
{
    (void)state;
    const uint64_t skews[] = {50 * TD_MS, 350 * TD_MS};
    const uint32_t lates[] = {0x3u, 0xcu};
    for (uint32_t s = 0; s < 2; s++) {
        for (uint32_t l = 0; l < 2; l++) {
            const uint64_t w[4] = {1, 1, 1, 1};
            struct hn *h = td_hn_new();
            hn_init(h, w, 4, BPC_MODE_PACED, 64);
            uint32_t l1 = td_leader(h, 1);
            for (uint64_t k = 0; k < 3; k++) {
                assert_int_equal(hn_submit(h, l1, 11, k), 0);
            }
            td_start_skewed(h, lates[l], skews[s]);
            const struct td_cmd want[3] = {{11, 0}, {11, 1}, {11, 2}};
            bool ok = td_run_cmds(h, want, 3, 60000 * TD_MS);
            assert_true(ok);
            for (uint32_t i = 0; i < h->n; i++) {
                assert_true(td_has_all(h, i, 11, 3));
            }
            assert_true(hn_agree(h));
            td_hn_free(h);
        }
    }
}

/* D7. Goal: a failed ballot is retried. Method: the ballot-1 leader is
 * down from the start; every party has a command queued (forwarded to the
 * dead leader first); the live parties move to later ballots until one
 * with a live leader decides all live parties' commands, every decision
 * at ballot >= 2. */
static void
test_defects_failed_ballot_retried(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    h->p[l1].down = true;
    struct td_cmd want[4];
    uint32_t nw = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(hn_submit(h, i, 6, i), 0);
        if (i != l1) {
            want[nw++] = (struct td_cmd){6, i};
        }
    }
    hn_start(h);
    assert_true(td_run_cmds(h, want, nw, 60000 * TD_MS));
    for (uint32_t i = 0; i < h->n; i++) {
        if (i != l1) {
            assert_true(h->p[i].log_ballot[0] >= 2);
            assert_true(bpc_engine_counters(h->p[i].e)->ballots_failed >= 1);
        }
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

/* D7. Goal: many instances are in flight at once and phases advance on
 * quorums, not timers. Method: window 64, 50 commands at the leader; with
 * no virtual time passing at all, every party decides all 50, in order, in
 * ballot 1 (one ballot for fifty instances). */
static void
test_defects_instances_in_flight(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn *h = td_hn_new();
    hn_init(h, w, 4, BPC_MODE_FAST, 64);
    uint32_t l1 = td_leader(h, 1);
    for (uint64_t k = 0; k < 50; k++) {
        assert_int_equal(hn_submit(h, l1, 8, k), 0);
    }
    hn_start(h);
    hn_deliver(h, UINT64_MAX);
    assert_int_equal(h->now_ns, 0);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->p[i].log_count, 50);
        for (uint32_t k = 0; k < 50; k++) {
            assert_true(td_logged(h, i, k, 8, k));
            assert_int_equal(h->p[i].log_ballot[k], 1);
        }
        assert_int_equal(bpc_engine_counters(h->p[i].e)->ballots_started, 1);
        assert_int_equal(bpc_engine_next_undecided(h->p[i].e), 50);
    }
    assert_true(hn_agree(h));
    td_hn_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defects_chosen_value_survives, td_teardown),
        cmocka_unit_test_teardown(test_defects_byzantine_leader_value, td_teardown),
        cmocka_unit_test_teardown(test_defects_single_decider_catch_up, td_teardown),
        cmocka_unit_test_teardown(test_defects_late_ballot1_frames, td_teardown),
        cmocka_unit_test_teardown(test_defects_zero_weight_never_leader, td_teardown),
        cmocka_unit_test_teardown(test_defects_reordering_still_decides, td_teardown),
        cmocka_unit_test_teardown(test_defects_early_phase_message_kept, td_teardown),
        cmocka_unit_test_teardown(test_defects_sender_authenticated, td_teardown),
        cmocka_unit_test_teardown(test_defects_header_validation, td_teardown),
        cmocka_unit_test_teardown(test_defects_crash_between_2av_and_2b, td_teardown),
        cmocka_unit_test_teardown(test_defects_leader_keeps_its_value, td_teardown),
        cmocka_unit_test_teardown(test_defects_paced_skewed_start, td_teardown),
        cmocka_unit_test_teardown(test_defects_failed_ballot_retried, td_teardown),
        cmocka_unit_test_teardown(test_defects_instances_in_flight, td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
