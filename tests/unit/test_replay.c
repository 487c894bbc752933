/*
 * test_replay.c - the anti-replay window per sender (engine.c,
 * eng_replay_ok): a frame is accepted iff its sequence number is above
 * every one accepted from its sender, or within the window's width below
 * the highest and not accepted before (docs/ENGINE.md, "Bad input").
 *
 * Method: one engine of n parties (4, 200, 1024: windows of 1024, 256 and
 * 64 frames, read from e->rx), fed frames of one ignored record from one
 * peer with chosen sequence numbers; each verdict (the REPLAY drop
 * counter) is compared with a brute-force model that keeps every number
 * accepted. The numbers advance by 1, 63, 64, 65, width - 1, width, width
 * + 1 and others, across the ring's end many times, with numbers below
 * the highest probed after each advance. Must never: edit engine state,
 * or rely on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"

#define RP_ACCEPTED_MAX 65536u

struct rp {
    struct bpc_config cfg;
    uint8_t (*keys)[BPC_KEY_BYTES];
    struct bpc_engine *e;
    uint32_t peer;
    uint64_t width;
    /* The model: every number accepted, and the highest. */
    uint64_t *accepted;
    uint32_t count;
    uint64_t last;
};

static void
rp_init(struct rp *r, uint32_t n)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(bpc_init(), 0);
    bpc_config_defaults(&r->cfg);
    r->cfg.parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        r->cfg.weights[i] = 1;
    }
    r->cfg.window_slots = 64;
    r->cfg.cluster_id = 7;
    r->cfg.self = 0;
    r->keys = calloc(n, BPC_KEY_BYTES);
    assert_non_null(r->keys);
    uint8_t master[BPC_KEY_BYTES];
    for (uint32_t i = 0; i < BPC_KEY_BYTES; i++) {
        master[i] = (uint8_t)(i * 5 + 1);
    }
    for (uint32_t p = 0; p < n; p++) {
        bpc_auth_pair_key(master, 0, p, r->keys[p]);
    }
    r->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])r->keys;
    char err[256];
    assert_int_equal(bpc_engine_new(&r->e, &r->cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(r->e, 0), 0);
    r->peer = n - 1;
    r->width = r->e->rx.replay_bits;
    r->accepted = calloc(RP_ACCEPTED_MAX, sizeof(uint64_t));
    assert_non_null(r->accepted);
}

static void
rp_free(struct rp *r)
{
    bpc_engine_free(r->e);
    free(r->keys);
    free(r->accepted);
}

/* The model's verdict on seq (and its record of it when accepted). */
static bool
rp_model(struct rp *r, uint64_t seq)
{
    bool ok = seq > r->last;
    if (!ok && r->last - seq < r->width) {
        ok = true;
        for (uint32_t k = 0; k < r->count && ok; k++) {
            ok = r->accepted[k] != seq;
        }
    }
    if (ok) {
        assert_true(r->count < RP_ACCEPTED_MAX);
        r->accepted[r->count++] = seq;
        r->last = seq > r->last ? seq : r->last;
    }
    return ok;
}

/* The engine's verdict on a frame numbered seq from the peer. */
static bool
rp_engine(struct rp *r, uint64_t seq)
{
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    static uint8_t out_bytes[8][BPC_FRAME_BYTES_MAX];
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), BPC_VALUE_BYTES_MAX), 0);
    struct bpc_record rec = bpc_record_make(BPC_MSG_1B_RANGE, UINT64_C(1) << 40, 1, 0, NULL);
    assert_int_equal(bpc_wire_put(&w, &rec), 0);
    struct bpc_frame_header h = {
        .cluster_id = r->cfg.cluster_id, .sender = (uint16_t)r->peer, .receiver = 0, .seq = seq};
    struct bpc_frame_in in = {.bytes = buf, .len = bpc_wire_finish(&w, &h, r->keys[r->peer])};
    struct bpc_frame_out outs[8];
    for (uint32_t k = 0; k < 8; k++) {
        outs[k].bytes = out_bytes[k];
        outs[k].cap = BPC_FRAME_BYTES_MAX;
    }
    struct bpc_step_in si = {.now_ns = 0, .frames = &in, .frames_count = 1};
    struct bpc_step_out so = {.frames = outs, .frames_cap = 8};
    uint64_t drops = bpc_engine_counters(r->e)->drops[BPC_DROP_REPLAY];
    int rc = bpc_engine_step(r->e, &si, &so);
    assert_true(rc >= 0 || rc == -EAGAIN);
    bpc_engine_persisted(r->e); /* whatever it asked for: the next step may run */
    return bpc_engine_counters(r->e)->drops[BPC_DROP_REPLAY] == drops;
}

static void
rp_check(struct rp *r, uint64_t seq)
{
    bool want = rp_model(r, seq);
    bool got = rp_engine(r, seq);
    if (want != got) {
        print_error("width %llu, highest %llu: seq %llu (highest - %lld) %s, expected %s\n",
                    (unsigned long long)r->width, (unsigned long long)r->last,
                    (unsigned long long)seq, (long long)(r->last - seq),
                    got ? "accepted" : "refused", want ? "accepted" : "refused");
    }
    assert_int_equal(got, want);
}

/* Advances by each step in turn from a number just below the ring's end,
 * probing after each advance the numbers at the offsets below the new
 * highest (some twice: the second is a duplicate), and the numbers of
 * the gap the advance left. */
static void
rp_run(uint32_t n)
{
    struct rp r;
    rp_init(&r, n);
    const uint64_t w = r.width;
    const uint64_t steps[] = {1,      2,     63,     64,    65, 127,        128,
                              w - 65, w - 1, w,      w + 1, 3,  64 * 3 + 7, w / 2,
                              w - 64, 129,   w - 63, 2 * w, 1,  w - 2};
    const uint64_t offs[] = {0, 1, 2, 62, 63, 64, 65, w / 2, w - 65, w - 2, w - 1, w, w + 1, 1};
    uint64_t seq = (UINT64_C(1) << 50) - 5; /* 5 below a multiple of the width */
    rp_check(&r, seq);
    uint32_t frames = 1;
    for (uint32_t pass = 0; pass < 3; pass++) {
        for (uint32_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            uint64_t d = steps[s];
            seq += d;
            rp_check(&r, seq);
            for (uint32_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
                rp_check(&r, seq - offs[o]);
            }
            /* The gap (seq - d, seq): its ends and middle. */
            rp_check(&r, seq - d + 1);
            rp_check(&r, seq - (d + 1) / 2);
            rp_check(&r, seq - 1);
            frames += 1 + (uint32_t)(sizeof(offs) / sizeof(offs[0])) + 3;
        }
        seq += pass; /* each pass at another phase against the words */
    }
    printf("  width %llu: %u frames, %u accepted, all as the model\n", (unsigned long long)w,
           frames, r.count);
    rp_free(&r);
}

/* Goal: the window's verdicts are exact around word-wise clearing: after
 * advances of 1, 63, 64, 65, width - 1, width, width + 1 and others,
 * across the ring's end, each number is accepted or refused as the
 * brute-force model says, at the three widths the engine picks (1024 up
 * to 64 parties, 256 at 200, 64 at 1024). */
static void
test_replay_window_matches_model(void **state)
{
    (void)state;
    const uint32_t parties[] = {4, 200, 1024};
    const uint64_t widths[] = {1024, 256, 64};
    for (uint32_t k = 0; k < 3; k++) {
        struct rp r;
        rp_init(&r, parties[k]);
        assert_int_equal(r.width, widths[k]);
        rp_free(&r);
        rp_run(parties[k]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_window_matches_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
