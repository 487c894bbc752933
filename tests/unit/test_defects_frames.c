/*
 * test_defects_frames.c - the origin's defects (test_defects.c) of frames
 * in flight: D5, reordering (every frame of a round delivered in a random
 * order still decides; a message of an early phase arriving before its
 * ballot is kept, not lost), and D6, D8, forged and malformed frames (a
 * frame is applied only under its sender's pair key; bad headers are
 * dropped with the reason counted, no state change).
 *
 * Method: the in-process harness (tests/unit/harness.h) and the filter,
 * frame and forging helpers of defects_fx.h. Each test opens with its
 * goal and method. Must never: edit engine state directly, sleep, or
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
#include "defects_fx.h"
#include "harness.h"
#include "internal.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defects_reordering_still_decides, td_teardown),
        cmocka_unit_test_teardown(test_defects_early_phase_message_kept, td_teardown),
        cmocka_unit_test_teardown(test_defects_sender_authenticated, td_teardown),
        cmocka_unit_test_teardown(test_defects_header_validation, td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
