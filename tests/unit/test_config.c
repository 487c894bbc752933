/*
 * test_config.c - config defaults, validation refusals, quorum arithmetic
 * (W, T, F), the config digest, and the small util helpers the messages use.
 *
 * Goal: every refusal is reachable, returns its own code and names the field
 * and its value; the default threshold and F match the protocol's rules (docs/ENGINE.md) and
 * keep their two promises (quorums intersect in more than F, correct weight
 * alone makes a quorum) for every small W and every valid T.
 * Method: table-driven mutations of the defaults, plus an exhaustive sweep
 * of W in 1..200 checked against the inequalities themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bpcon.h"
#include "harness.h"
#include "internal.h"

/* Unkeyed BLAKE2b-256, the independent reference for digests. */
static int
test_config_blake2b(uint8_t out[BPC_DIGEST_BYTES], const uint8_t *in, size_t len)
{
    return crypto_generichash(out, BPC_DIGEST_BYTES, in, len, NULL, 0);
}

static void
test_config_set_weights(struct bpc_config *cfg, const uint64_t *w, uint32_t n)
{
    cfg->parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg->weights[i] = w[i];
    }
}

static void
test_config_defaults_validate(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    char err[256] = "untouched";
    assert_int_equal(bpc_config_validate(&cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);

    assert_int_equal(cfg.cluster_id, 1);
    assert_int_equal(cfg.parties_count, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(cfg.weights[i], 1);
    }
    assert_true(cfg.threshold == 0u);
    assert_true(bpc_config_threshold(&cfg) == 3u);
    assert_int_equal(cfg.mode, BPC_MODE_FAST);
    assert_int_equal(cfg.timers.launch1a_ns, 200000000ull);
    assert_int_equal(cfg.timers.launch1b_ns, 400000000ull);
    assert_int_equal(cfg.timers.launch2a_ns, 600000000ull);
    assert_int_equal(cfg.timers.launch2av_ns, 800000000ull);
    assert_int_equal(cfg.timers.launch2b_ns, 1000000000ull);
    assert_int_equal(cfg.timers.finalize_ns, 1200000000ull);
    assert_int_equal(cfg.ballot_timeout_ns, 50000000ull);
    assert_int_equal(cfg.timeout_growth_max_shift, 6);
    assert_int_equal(cfg.window_slots, 64);
    assert_int_equal(cfg.frame_bytes, 1400);
    assert_int_equal(cfg.value_bytes_max, 1024);
    assert_int_equal(cfg.seed, 1);
    assert_false(cfg.unsafe);
    assert_null(cfg.keys);
    assert_null(cfg.value_check);
    assert_true(bpc_faulty_weight(bpc_config_total_weight(&cfg), 3u) == 1u);
}

/* One refusal case: a mutation of the defaults and what must come back. */
struct test_config_refusal {
    const char *label;
    void (*mutate)(struct bpc_config *cfg);
    int code;
    const char *field; /* must appear in the message */
    const char *value; /* must appear in the message */
};

static void
mut_no_parties(struct bpc_config *c)
{
    c->parties_count = 0;
}
static void
mut_too_many(struct bpc_config *c)
{
    c->parties_count = BPC_PARTIES_MAX + 1;
}
static void
mut_zero_weight(struct bpc_config *c)
{
    for (uint32_t i = 0; i < c->parties_count; i++) {
        c->weights[i] = 0;
    }
}
static void
mut_threshold_high(struct bpc_config *c)
{
    c->threshold = 5;
}
static void
mut_threshold_low(struct bpc_config *c)
{
    c->threshold = 2;
}
static void
mut_self(struct bpc_config *c)
{
    c->self = 4;
}
static void
mut_window(struct bpc_config *c)
{
    c->window_slots = 3;
}
static void
mut_window_zero(struct bpc_config *c)
{
    c->window_slots = 0;
}
static void
mut_window_big(struct bpc_config *c)
{
    c->window_slots = 2 * BPC_WINDOW_SLOTS_MAX;
}
static void
mut_timers(struct bpc_config *c)
{
    c->timers.launch2a_ns = c->timers.launch1b_ns; /* equal is not increasing */
}
static void
mut_timers_zero(struct bpc_config *c)
{
    c->timers.launch1a_ns = 0;
}
static void
mut_ballot_timeout(struct bpc_config *c)
{
    c->ballot_timeout_ns = 0;
}
/* Review A15: 1 ns was taken, and half of it, the retransmit period, is
 * 0: every step resent everything. */
static void
mut_ballot_timeout_1ns(struct bpc_config *c)
{
    c->ballot_timeout_ns = 1;
}
static void
mut_ballot_timeout_999ns(struct bpc_config *c)
{
    c->ballot_timeout_ns = 999;
}
static void
mut_growth_shift(struct bpc_config *c)
{
    c->timeout_growth_max_shift = 33;
}
static void
mut_frame_small(struct bpc_config *c)
{
    c->frame_bytes = BPC_FRAME_BYTES_MIN - 1;
}
static void
mut_frame_big(struct bpc_config *c)
{
    c->frame_bytes = BPC_FRAME_BYTES_MAX + 1;
}
static void
mut_value_big(struct bpc_config *c)
{
    c->value_bytes_max = 1400; /* header + record + tag no longer fit */
}
static void
mut_value_zero(struct bpc_config *c)
{
    c->value_bytes_max = 0;
}
static void
mut_value_over_max(struct bpc_config *c)
{
    c->frame_bytes = BPC_FRAME_BYTES_MAX;
    c->value_bytes_max = BPC_VALUE_BYTES_MAX + 1;
}
/* One command of queue: the submit ring lost every command after the
 * first (before: validated, then wedged). */
static void
mut_commands_one(struct bpc_config *c)
{
    c->commands_max = 1;
}

/* A mode that is neither fast nor paced: the engine ran it as fast mode
 * (before review B6, validated). */
static void
mut_mode_77(struct bpc_config *c)
{
    c->mode = (enum bpc_mode)77;
}

static const struct test_config_refusal test_config_refusals[] = {
    {"no parties", mut_no_parties, BPC_ECFG_NO_PARTIES, "parties_count", "=0"},
    {"1025 parties", mut_too_many, BPC_ECFG_TOO_MANY_PARTIES, "parties_count", "1025"},
    {"zero weight", mut_zero_weight, BPC_ECFG_ZERO_WEIGHT, "weight", "=0"},
    {"threshold 5 of 4", mut_threshold_high, BPC_ECFG_THRESHOLD_HIGH, "threshold", "=5"},
    {"threshold 2 of 4", mut_threshold_low, BPC_ECFG_THRESHOLD_LOW, "threshold", "=2"},
    {"self 4 of 4", mut_self, BPC_ECFG_SELF, "self", "=4"},
    {"window 3", mut_window, BPC_ECFG_WINDOW, "window_slots", "=3"},
    {"window 0", mut_window_zero, BPC_ECFG_WINDOW, "window_slots", "=0"},
    {"window 2^17", mut_window_big, BPC_ECFG_WINDOW, "window_slots", "=131072"},
    {"timers equal", mut_timers, BPC_ECFG_TIMERS, "launch2a_ns", "=400000000"},
    {"timer 1a zero", mut_timers_zero, BPC_ECFG_TIMERS, "launch1a_ns", "=0"},
    {"ballot timeout zero", mut_ballot_timeout, BPC_ECFG_TIMERS, "ballot_timeout_ns", "=0"},
    {"ballot timeout 1 ns", mut_ballot_timeout_1ns, BPC_ECFG_TIMERS, "ballot_timeout_ns", "=1:"},
    {"ballot timeout 999", mut_ballot_timeout_999ns, BPC_ECFG_TIMERS, "ballot_timeout_ns",
     "=999: below 1000"},
    {"growth shift 33", mut_growth_shift, BPC_ECFG_TIMERS, "timeout_growth_max_shift", "=33"},
    {"frame too small", mut_frame_small, BPC_ECFG_FRAME, "frame_bytes", "=127"},
    {"frame too big", mut_frame_big, BPC_ECFG_FRAME, "frame_bytes", "=9001"},
    {"value beyond frame", mut_value_big, BPC_ECFG_VALUE, "value_bytes_max", "=1400"},
    {"value zero", mut_value_zero, BPC_ECFG_VALUE, "value_bytes_max", "=0"},
    {"value over max", mut_value_over_max, BPC_ECFG_VALUE, "value_bytes_max", "=8193"},
    {"commands_max 1", mut_commands_one, BPC_ECFG_BATCH, "commands_max", "=1"},
    {"mode 77", mut_mode_77, BPC_ECFG_MODE, "mode", "=77"},
};

static void
test_config_refusals_named(void **state)
{
    (void)state;
    size_t n = sizeof(test_config_refusals) / sizeof(test_config_refusals[0]);
    for (size_t i = 0; i < n; i++) {
        const struct test_config_refusal *r = &test_config_refusals[i];
        struct bpc_config cfg;
        bpc_config_defaults(&cfg);
        r->mutate(&cfg);
        char err[256] = "";
        int rc = bpc_config_validate(&cfg, err, sizeof(err));
        printf("  %-20s -> %d: %s\n", r->label, rc, err);
        assert_int_equal(rc, -r->code);
        assert_non_null(strstr(err, r->field));
        assert_non_null(strstr(err, r->value));
        /* The code's own text is reachable through bpc_strerror. */
        assert_string_not_equal(bpc_strerror(rc), "");
        assert_string_equal(bpc_strerror(rc), bpc_strerror(-rc));
        /* No message buffer: same verdict, nothing written. */
        assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -r->code);
    }
}

/* The exact messages the issue asks for, and truncation to a short buffer. */
static void
test_config_messages_exact(void **state)
{
    (void)state;
    struct bpc_config cfg;
    char err[128];
    bpc_config_defaults(&cfg);
    cfg.threshold = 5;
    assert_int_equal(bpc_config_validate(&cfg, err, sizeof(err)), -BPC_ECFG_THRESHOLD_HIGH);
    assert_string_equal(err, "threshold=5 above total weight 4");

    bpc_config_defaults(&cfg);
    cfg.parties_count = 0;
    assert_int_equal(bpc_config_validate(&cfg, err, sizeof(err)), -BPC_ECFG_NO_PARTIES);
    assert_string_equal(err, "parties_count=0: no parties");

    bpc_config_defaults(&cfg);
    cfg.window_slots = 3;
    assert_int_equal(bpc_config_validate(&cfg, err, sizeof(err)), -BPC_ECFG_WINDOW);
    assert_string_equal(err, "window_slots=3: not a power of two in [1, 65536]");

    char tiny[6];
    assert_int_equal(bpc_config_validate(&cfg, tiny, sizeof(tiny)), -BPC_ECFG_WINDOW);
    assert_string_equal(tiny, "windo");
}

/* Checks run in a fixed order: the first refusal wins. */
static void
test_config_refusal_order(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 0;
    cfg.window_slots = 3;
    cfg.frame_bytes = 1;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_NO_PARTIES);

    bpc_config_defaults(&cfg);
    cfg.self = 9;
    mut_zero_weight(&cfg);
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_SELF);

    bpc_config_defaults(&cfg);
    cfg.threshold = 1;
    cfg.window_slots = 3;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_THRESHOLD_LOW);

    bpc_config_defaults(&cfg);
    cfg.window_slots = 3;
    cfg.timers.launch1a_ns = 0;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_WINDOW);

    bpc_config_defaults(&cfg);
    cfg.frame_bytes = 100;
    cfg.value_bytes_max = 0;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_FRAME);
}

/* Boundaries that must be accepted. */
/* Goal (review A15): at the shortest ballot timeout taken, 1 us, four
 * parties whose clock stands still settle (the retransmit period is
 * 500 ns, so frames received draw no resend rounds), then decide. Before,
 * 1 ns was taken: the period was 0, every step resent everything, and
 * 20,000 frames delivered left 40,000 queued, growing without end. */
static void
test_ballot_timeout_min_settles(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.ballot_timeout_ns = 1000;
    struct hn h;
    hn_init_cfg(&h, &cfg);
    hn_start(&h);
    assert_int_equal(hn_submit(&h, 0, 7, 1), 0);
    hn_tick(&h, 0);
    uint64_t delivered = hn_deliver(&h, 100000);
    printf("  clock still: %llu frames delivered, %u queued, %llu decided\n",
           (unsigned long long)delivered, h.q_count,
           (unsigned long long)bpc_engine_next_undecided(h.p[0].e));
    assert_true(delivered > 0);
    assert_int_equal(h.q_count, 0);
    assert_true(hn_run(&h, 1, 100, 1000000));
    assert_true(hn_agree(&h));
    hn_free(&h);
}

static void
test_config_limits_accepted(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = BPC_PARTIES_MAX;
    for (uint32_t i = 0; i < BPC_PARTIES_MAX; i++) {
        cfg.weights[i] = 1;
    }
    cfg.self = BPC_PARTIES_MAX - 1;
    cfg.window_slots = BPC_WINDOW_SLOTS_MAX;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);

    bpc_config_defaults(&cfg);
    cfg.window_slots = 1;
    /* A frame holds the value reservation beside a 1b with full history. */
    cfg.frame_bytes = 1400;
    cfg.value_bytes_max = 1400 - BPC_WIRE_HEADER_BYTES - BPC_TAG_BYTES -
                          (1 + BPC_HISTORY_MAX) * BPC_WIRE_RECORD_BYTES;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
    cfg.value_bytes_max++;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_VALUE);
    /* The smallest frame holds no value beside such a 1b. */
    cfg.frame_bytes = BPC_FRAME_BYTES_MIN;
    cfg.value_bytes_max = 1;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_VALUE);

    bpc_config_defaults(&cfg);
    cfg.frame_bytes = BPC_FRAME_BYTES_MAX;
    cfg.value_bytes_max = BPC_VALUE_BYTES_MAX;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);

    bpc_config_defaults(&cfg);
    cfg.ballot_timeout_ns = 1000; /* the shortest taken */
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);

    /* keys == NULL is fine: validate does not look at keys. */
    bpc_config_defaults(&cfg);
    cfg.threshold = 4;
    cfg.keys = NULL;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);

    /* Zero-weight parties are allowed while the total is positive. */
    const uint64_t w[] = {0, 1, 0, 2, 0};
    test_config_set_weights(&cfg, w, 5);
    cfg.threshold = 0;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
}

/* unsafe lifts only the 2T > W rule; T must stay in [1, W]. */
static void
test_config_unsafe(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.unsafe = true;
    cfg.threshold = 2;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
    cfg.threshold = 1;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
    assert_true(bpc_faulty_weight(4u, 2u) == 0u);
    cfg.threshold = 5;
    char err[128];
    assert_int_equal(bpc_config_validate(&cfg, err, sizeof(err)), -BPC_ECFG_THRESHOLD_HIGH);
    assert_string_equal(err, "threshold=5 above total weight 4");
    /* 0 cannot slip through as "no quorum needed": it means the default. */
    cfg.threshold = 0;
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
    assert_true(bpc_config_threshold(&cfg) == 3u);
    /* With no weight there is no threshold at all. */
    mut_zero_weight(&cfg);
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), -BPC_ECFG_ZERO_WEIGHT);
}

static void
test_config_threshold_default_table(void **state)
{
    (void)state;
    static const struct {
        uint64_t w;
        uint64_t t;
    } table[] = {{4, 3}, {3, 2}, {6, 4}, {1, 1}, {2, 2}, {5, 4}, {100, 67}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_true(bpc_threshold_default(table[i].w) == table[i].t);
    }
    /* No wrap at the top: ceil(2W / 3) for W = 2^127 - 1 and 2^128 - 1
     * (before: 0 for both). */
    bpc_u128 top = ~(bpc_u128)0;
    assert_true(bpc_threshold_default(top) == top / 3u * 2u);
    bpc_u128 half = top >> 1; /* 2^127 - 1 = 3k + 1: 2k + 1 */
    assert_true(bpc_threshold_default(half) == (half - 1u) / 3u * 2u + 1u);

    /* [u64::MAX, 1]: W = 2^64, beyond u64; T = (2^65 + 2) / 3 exactly. */
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    const uint64_t w[] = {UINT64_MAX, 1};
    test_config_set_weights(&cfg, w, 2);
    char buf[48];
    bpc_u128 total = bpc_config_total_weight(&cfg);
    assert_string_equal(bpc_u128_str(total, buf), "18446744073709551616");
    bpc_u128 t = bpc_config_threshold(&cfg);
    assert_string_equal(bpc_u128_str(t, buf), "12297829382473034411");
    assert_true(3u * t >= 2u * total);       /* t >= 2W/3 */
    assert_true(3u * (t - 1u) < 2u * total); /* and is the least such */
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
    /* F = min(2T - W - 1, W - T) = W - T here. */
    assert_string_equal(bpc_u128_str(bpc_faulty_weight(total, t), buf), "6148914691236517205");

    /* All 1024 parties at u64::MAX: no overflow anywhere. */
    cfg.parties_count = BPC_PARTIES_MAX;
    for (uint32_t i = 0; i < BPC_PARTIES_MAX; i++) {
        cfg.weights[i] = UINT64_MAX;
    }
    total = bpc_config_total_weight(&cfg);
    assert_true(total == (bpc_u128)UINT64_MAX * BPC_PARTIES_MAX);
    assert_true(bpc_config_threshold(&cfg) * 3u >= 2u * total);
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
}

static void
test_config_faulty_table(void **state)
{
    (void)state;
    static const struct {
        uint64_t w, t, f;
    } table[] = {
        {4, 3, 1}, {3, 2, 0}, {6, 4, 1}, /* F = min(2T - W - 1, W - T) */
        {4, 4, 0}, {7, 5, 2}, {1, 1, 0}, {100, 67, 33}, {4, 2, 0}, {4, 5, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_true(bpc_faulty_weight(table[i].w, table[i].t) == table[i].f);
    }
}

/* F is exact for every 128-bit input, far past any config's W (< 2^74):
 * 2T - W - 1 and 2T <= W are never formed, so nothing wraps. Before,
 * 2T wrapped for T >= 2^127: W = 2^128 - 1, T = 2^127 + 1 gave 0, not
 * min(2T - W - 1, W - T) = min(2, 2^127 - 2) = 2. */
static void
test_config_faulty_extremes(void **state)
{
    (void)state;
    const bpc_u128 max = ~(bpc_u128)0;
    const bpc_u128 half = (bpc_u128)1 << 127;
    char buf[48];
    assert_string_equal(bpc_u128_str(bpc_faulty_weight(max, half + 1u), buf), "2");
    assert_true(bpc_faulty_weight(max, max) == 0u);            /* W - T = 0 */
    assert_true(bpc_faulty_weight(max, max - 1u) == 1u);       /* W - T = 1 */
    assert_true(bpc_faulty_weight(max, half) == 0u);           /* 2T - W = 1: F = 0 */
    assert_true(bpc_faulty_weight(max - 1u, half) == 1u);      /* 2T = W + 2: 2T - W - 1 = 1 */
    assert_true(bpc_faulty_weight(max - 1u, half - 1u) == 0u); /* 2T = W: no quorum overlap */
    assert_true(bpc_faulty_weight(half, max) == 0u);           /* T > W */
    /* W = 2^128 - 1, T = 3 * 2^126: 2T - W - 1 = 2^127, and W - T =
     * 2^126 - 1, the smaller. */
    bpc_u128 t = 3u * ((bpc_u128)1 << 126);
    assert_true(bpc_faulty_weight(max, t) == ((bpc_u128)1 << 126) - 1u);
}

/* For every W in 1..200 and every valid T: two quorums share more than F
 * weight (2T - W > F), the weight outside F still makes a quorum (W - F >= T),
 * and F is the largest value with both properties. */
static void
test_config_faulty_property(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (uint64_t w = 1; w <= 200; w++) {
        for (uint64_t t = w / 2 + 1; t <= w; t++) {
            bpc_u128 f = bpc_faulty_weight(w, t);
            assert_true(2u * t > w);
            assert_true((bpc_u128)(2u * t - w) > f);
            assert_true(w - f >= t);
            bool overlap_fails = (bpc_u128)(2u * t - w) <= f + 1u;
            bool liveness_fails = w - (f + 1u) < t;
            assert_true(overlap_fails || liveness_fails);
            checked++;
        }
        /* The default threshold is always a valid one. */
        bpc_u128 td = bpc_threshold_default(w);
        assert_true(2u * td > w);
        assert_true(td <= w);
    }
    printf("  checked %u (W, T) pairs\n", checked);
}

/* The digest binds cluster id, weights and threshold, and nothing else. */
static void
test_config_digest(void **state)
{
    (void)state;
    struct bpc_config base;
    bpc_config_defaults(&base);
    uint8_t d0[BPC_DIGEST_BYTES];
    uint8_t d1[BPC_DIGEST_BYTES];
    bpc_config_digest(&base, d0);
    bpc_config_digest(&base, d1);
    assert_memory_equal(d0, d1, sizeof(d0));

    struct bpc_config cfg = base;
    cfg.self = 3;
    cfg.seed = 99;
    cfg.window_slots = 128;
    cfg.timers.finalize_ns += 1;
    cfg.mode = BPC_MODE_PACED;
    cfg.weights[7] = 42; /* beyond parties_count: not part of the config */
    bpc_config_digest(&cfg, d1);
    assert_memory_equal(d0, d1, sizeof(d0));

    /* An explicit threshold equal to the default is the same config. */
    cfg = base;
    cfg.threshold = 3;
    bpc_config_digest(&cfg, d1);
    assert_memory_equal(d0, d1, sizeof(d0));

    cfg = base;
    cfg.threshold = 4;
    bpc_config_digest(&cfg, d1);
    assert_memory_not_equal(d0, d1, sizeof(d0));

    cfg = base;
    cfg.weights[2] = 2;
    bpc_config_digest(&cfg, d1);
    assert_memory_not_equal(d0, d1, sizeof(d0));

    cfg = base;
    cfg.cluster_id = 2;
    bpc_config_digest(&cfg, d1);
    assert_memory_not_equal(d0, d1, sizeof(d0));

    cfg = base;
    cfg.parties_count = 5;
    cfg.weights[4] = 0; /* a zero-weight extra party still changes the config */
    bpc_config_digest(&cfg, d1);
    assert_memory_not_equal(d0, d1, sizeof(d0));
}

/* The digest is BLAKE2b-256 of the documented little-endian encoding. */
static void
test_config_digest_encoding(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.cluster_id = 0x0102030405060708ull;
    const uint64_t w[] = {5, UINT64_MAX, 0};
    test_config_set_weights(&cfg, w, 3);
    cfg.threshold = ((bpc_u128)1 << 64) + 7u;

    uint8_t enc[15 + 8 + 4 + 3 * 8 + 16];
    size_t off = 0;
    memcpy(enc, "bpcon-config-v1", 15);
    off += 15;
    const uint8_t cluster_le[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    memcpy(enc + off, cluster_le, 8);
    off += 8;
    const uint8_t count_le[4] = {3, 0, 0, 0};
    memcpy(enc + off, count_le, 4);
    off += 4;
    const uint8_t w_le[3][8] = {
        {5, 0, 0, 0, 0, 0, 0, 0},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {0, 0, 0, 0, 0, 0, 0, 0},
    };
    memcpy(enc + off, w_le, 24);
    off += 24;
    const uint8_t t_le[16] = {7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    memcpy(enc + off, t_le, 16);
    off += 16;
    assert_int_equal(off, sizeof(enc));

    uint8_t want[BPC_DIGEST_BYTES];
    uint8_t got[BPC_DIGEST_BYTES];
    assert_int_equal(test_config_blake2b(want, enc, sizeof(enc)), 0);
    bpc_config_digest(&cfg, got);
    assert_memory_equal(want, got, sizeof(want));
}

static void
test_config_util_texts(void **state)
{
    (void)state;
    char buf[48];
    assert_string_equal(bpc_u128_str(0, buf), "0");
    assert_string_equal(bpc_u128_str(10, buf), "10");
    assert_string_equal(bpc_u128_str(~(bpc_u128)0, buf), "340282366920938463463374607431768211455");
    assert_ptr_equal(bpc_u128_str(7, buf), buf);

    assert_string_equal(bpc_strerror(-BPC_ECFG_WINDOW),
                        "window slots not a power of two within limits");
    assert_string_equal(bpc_strerror(BPC_ECFG_NO_PARTIES), "no parties");
    assert_string_equal(bpc_strerror(-BPC_ECFG_VALUE),
                        "value bytes outside limits or beyond one frame");
    assert_string_equal(bpc_strerror(-EINVAL), strerror(EINVAL));
    assert_string_equal(bpc_strerror(EAGAIN), strerror(EAGAIN));
    assert_non_null(bpc_strerror(-2000));
    assert_non_null(bpc_strerror(-2011));
    assert_string_equal(bpc_strerror(-BPC_ECFG_MODE), "mode neither fast nor paced");

    assert_string_equal(bpc_drop_reason_name(BPC_DROP_BAD_TAG), "authentication tag mismatch");
    assert_string_equal(bpc_drop_reason_name(BPC_DROP_SHORT), "shorter than header plus tag");
    for (int r = 0; r < BPC_DROP_REASONS_COUNT; r++) {
        assert_non_null(bpc_drop_reason_name((enum bpc_drop_reason)r));
    }
    assert_string_equal(bpc_drop_reason_name(BPC_DROP_REASONS_COUNT), "unknown drop reason");

    assert_string_equal(bpc_status_name(BPC_STATUS_NONE), "None");
    assert_string_equal(bpc_status_name(BPC_STATUS_PASSED_2AV), "Passed2av");
    assert_string_equal(bpc_status_name(BPC_STATUS_FAILED), "Failed");
}

/* Value identities: inline up to 32 bytes, digest above; no stray bytes. */
static void
test_config_vid(void **state)
{
    (void)state;
    uint8_t v[64];
    for (size_t i = 0; i < sizeof(v); i++) {
        v[i] = (uint8_t)(i + 1);
    }
    struct bpc_vid a;
    struct bpc_vid b;
    memset(&a, 0xaa, sizeof(a));
    bpc_vid_of(&a, NULL, 0);
    assert_int_equal(a.kind, BPC_VALUE_INLINE);
    assert_int_equal(a.len, 0);
    uint8_t zero[BPC_VALUE_INLINE_MAX] = {0};
    assert_memory_equal(a.id, zero, sizeof(zero));
    assert_int_equal(a.pad, 0);

    memset(&a, 0xaa, sizeof(a));
    bpc_vid_of(&a, v, 32);
    assert_int_equal(a.kind, BPC_VALUE_INLINE);
    assert_int_equal(a.len, 32);
    assert_memory_equal(a.id, v, 32);

    bpc_vid_of(&a, v, 5);
    assert_memory_equal(a.id, v, 5);
    assert_memory_equal(a.id + 5, zero, sizeof(zero) - 5);

    bpc_vid_of(&a, v, 33);
    assert_int_equal(a.kind, BPC_VALUE_DIGEST);
    assert_int_equal(a.len, 33);
    uint8_t d[BPC_DIGEST_BYTES];
    assert_int_equal(test_config_blake2b(d, v, 33), 0);
    assert_memory_equal(a.id, d, sizeof(d));

    bpc_vid_of(&b, v, 33);
    assert_true(bpc_vid_eq(&a, &b));
    bpc_vid_of(&b, v, 34);
    assert_false(bpc_vid_eq(&a, &b));
    bpc_vid_of(&b, v + 1, 33);
    assert_false(bpc_vid_eq(&a, &b));
    /* Same prefix, different length: different identities. */
    bpc_vid_of(&a, v, 4);
    bpc_vid_of(&b, v, 5);
    assert_false(bpc_vid_eq(&a, &b));
}

/* Pair keys are symmetric and distinct per pair; tags verify and catch flips. */
static void
test_config_auth(void **state)
{
    (void)state;
    uint8_t master[BPC_KEY_BYTES];
    memset(master, 0x5c, sizeof(master));
    uint8_t k01[BPC_KEY_BYTES];
    uint8_t k10[BPC_KEY_BYTES];
    uint8_t k02[BPC_KEY_BYTES];
    bpc_auth_pair_key(master, 0, 1, k01);
    bpc_auth_pair_key(master, 1, 0, k10);
    bpc_auth_pair_key(master, 0, 2, k02);
    assert_memory_equal(k01, k10, sizeof(k01));
    assert_memory_not_equal(k01, k02, sizeof(k01));

    uint8_t msg[100];
    memset(msg, 7, sizeof(msg));
    uint8_t tag[BPC_TAG_BYTES];
    bpc_auth_tag(k01, msg, sizeof(msg), tag);
    assert_true(bpc_auth_tag_ok(k01, msg, sizeof(msg), tag));
    assert_false(bpc_auth_tag_ok(k02, msg, sizeof(msg), tag));
    msg[99] ^= 1;
    assert_false(bpc_auth_tag_ok(k01, msg, sizeof(msg), tag));
    msg[99] ^= 1;
    tag[0] ^= 0x80;
    assert_false(bpc_auth_tag_ok(k01, msg, sizeof(msg), tag));
}

static int
test_config_setup(void **state)
{
    (void)state;
    return bpc_init() == 0 ? 0 : -1;
}

/* The version macros, bpc_version() and the build's project version
 * (meson.build) are one and the same. */
static void
test_config_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", BPC_VERSION_MAJOR, BPC_VERSION_MINOR,
             BPC_VERSION_PATCH);
    assert_string_equal(BPC_VERSION_STRING, want);
    assert_string_equal(bpc_version(), BPC_VERSION_STRING);
    assert_string_equal(BPC_PROJECT_VERSION, BPC_VERSION_STRING);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_version),
        cmocka_unit_test(test_config_defaults_validate),
        cmocka_unit_test(test_config_refusals_named),
        cmocka_unit_test(test_config_messages_exact),
        cmocka_unit_test(test_config_refusal_order),
        cmocka_unit_test(test_config_limits_accepted),
        cmocka_unit_test(test_ballot_timeout_min_settles),
        cmocka_unit_test(test_config_unsafe),
        cmocka_unit_test(test_config_threshold_default_table),
        cmocka_unit_test(test_config_faulty_table),
        cmocka_unit_test(test_config_faulty_property),
        cmocka_unit_test(test_config_faulty_extremes),
        cmocka_unit_test(test_config_digest),
        cmocka_unit_test(test_config_digest_encoding),
        cmocka_unit_test(test_config_util_texts),
        cmocka_unit_test(test_config_vid),
        cmocka_unit_test(test_config_auth),
    };
    return cmocka_run_group_tests(tests, test_config_setup, NULL);
}
