/*
 * test_engine.c - the origin's tests (the Rust crate bpcon 0.1.0), ported to the
 * step engine, plus cluster runs through the harness.
 *
 * Method: a 4-party harness cluster driven frame by frame (scripted stages
 * of one instance), paced-mode timelines under virtual time, and whole
 * cluster runs with crashes, a lying party, 999 parties and skewed weights.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define MS 1000000ull

/* Parties of the scripted 4-party cluster: the ballot-1 leader and three
 * others, x being the party whose status is checked. */
struct script {
    struct hn h;
    uint32_t l, x, y, z;
};

static void
script_init(struct script *s, enum bpc_mode mode)
{
    uint64_t w[4] = {1, 1, 1, 1};
    hn_init(&s->h, w, 4, mode, 64);
    s->l = (uint32_t)hn_first_leader(&s->h);
    s->x = (s->l + 1) % 4;
    s->y = (s->l + 2) % 4;
    s->z = (s->l + 3) % 4;
}

static enum bpc_status
st(struct script *s, uint32_t who)
{
    return bpc_engine_status(s->h.p[who].e, 0);
}

/* While the cluster moves to ballot 2: ballot 1's leader is cut off (its
 * proposal goes nowhere) and whatever a party sends once at ballot 2 is
 * lost, so ballot 2's phase 1 is left for the script to deliver. */
static bool
script_b2_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    (void)to;
    (void)bytes;
    (void)len;
    struct script *s = ctx;
    return from != s->l && bpc_engine_ballot(s->h.p[from].e) < 2;
}

/* Ballot 1 needs no phase 1 (every value is safe there), so the script
 * walks ballot 2's: with work everywhere and ballot 1's leader cut off,
 * every party times out and joins ballot 2; the next retransmission tick
 * resends the 1a and the 1b messages. The parties are renamed around
 * ballot 2's leader, and instance 0 is still undecided. */
static void
script_to_ballot2(struct script *s)
{
    assert_int_equal(s->h.q_count, 0); /* no 1a, no 1b at the first ballot */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(hn_submit(&s->h, i, 100 + i, 1), 0);
    }
    s->h.filter = script_b2_filter;
    s->h.filter_ctx = s;
    bool all = false;
    for (uint32_t k = 0; k < 100 && !all; k++) {
        hn_tick(&s->h, 10 * MS);
        hn_deliver(&s->h, UINT64_MAX);
        all = true;
        for (uint32_t i = 0; i < 4; i++) {
            all = all && bpc_engine_ballot(s->h.p[i].e) == 2;
        }
    }
    assert_true(all);
    s->h.filter = NULL;
    hn_drop_all(&s->h);
    s->l = (uint32_t)bpc_engine_leader(s->h.p[0].e);
    s->x = (s->l + 1) % 4;
    s->y = (s->l + 2) % 4;
    s->z = (s->l + 3) % 4;
    hn_tick(&s->h, 30 * MS); /* the retransmission tick: 1a and 1b again */
}

/* Runs the scripted instance up to `stage` (an origin status) for x. */
static void
script_run(struct script *s, enum bpc_status stage)
{
    script_init(s, BPC_MODE_FAST);
    hn_start(&s->h);
    script_to_ballot2(s);
    assert_int_equal(st(s, s->x), BPC_STATUS_LAUNCHED);
    assert_int_equal(hn_submit(&s->h, s->l, 7, 1), 0);
    /* 1a (with the leader's 1b) from the leader. */
    assert_true(hn_deliver_from(&s->h, s->l, s->x) > 0);
    assert_int_equal(st(s, s->x), BPC_STATUS_PASSED_1A);
    if (stage == BPC_STATUS_PASSED_1A) {
        return;
    }
    /* A second peer's 1b: own + leader + y reach T = 3. */
    assert_true(hn_deliver_from(&s->h, s->y, s->x) > 0);
    assert_int_equal(st(s, s->x), BPC_STATUS_PASSED_1B);
    if (stage == BPC_STATUS_PASSED_1B) {
        return;
    }
    /* The leader collects 1b from x and y and proposes; x verifies the 2a
     * against its own 1b quorum and sends its 2av. */
    hn_deliver_from(&s->h, s->x, s->l);
    hn_deliver_from(&s->h, s->y, s->l);
    assert_true(hn_deliver_from(&s->h, s->l, s->x) > 0);
    assert_int_equal(st(s, s->x), BPC_STATUS_PASSED_2A);
    if (stage == BPC_STATUS_PASSED_2A) {
        return;
    }
    /* y gets the 2a and x's 1b and 2av, votes, and its 2av completes x's
     * 2av quorum (leader, x, y). */
    hn_deliver_from(&s->h, s->l, s->y);
    hn_deliver_from(&s->h, s->x, s->y);
    assert_true(hn_deliver_from(&s->h, s->y, s->x) > 0);
    assert_int_equal(st(s, s->x), BPC_STATUS_PASSED_2AV);
    if (stage == BPC_STATUS_PASSED_2AV) {
        return;
    }
    /* 2b from the others: decided. */
    hn_deliver(&s->h, UINT64_MAX);
    assert_int_equal(st(s, s->x), BPC_STATUS_FINISHED);
    /* Instance 0 was decided by the scripted ballot; the commands the
     * prologue submitted follow it in later instances. */
    assert_true(s->h.p[s->x].log_count >= 1);
    assert_int_equal(s->h.p[s->x].log_ballot[0], 2);
}

static void
test_engine_msg1a(void **state)
{
    (void)state;
    struct script s;
    script_run(&s, BPC_STATUS_PASSED_1A);
    hn_free(&s.h);
}

static void
test_engine_msg1b(void **state)
{
    (void)state;
    struct script s;
    script_run(&s, BPC_STATUS_PASSED_1B);
    hn_free(&s.h);
}

static void
test_engine_msg2a(void **state)
{
    (void)state;
    struct script s;
    script_run(&s, BPC_STATUS_PASSED_2A);
    hn_free(&s.h);
}

static void
test_engine_msg2av(void **state)
{
    (void)state;
    struct script s;
    script_run(&s, BPC_STATUS_PASSED_2AV);
    hn_free(&s.h);
}

static void
test_engine_msg2b(void **state)
{
    (void)state;
    struct script s;
    script_run(&s, BPC_STATUS_FINISHED);
    /* Every party decided the leader's value. */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(s.h.p[i].log_count, s.h.p[s.x].log_count);
        assert_int_equal(s.h.p[i].log_ballot[0], 2);
    }
    assert_true(hn_agree(&s.h));
    hn_free(&s.h);
}

/* Paced mode: the leader sends its 1a at Launch1a (200 ms), not before;
 * the origin's test_follow_event_launch1a. */
static void
test_engine_launch1a_paced(void **state)
{
    (void)state;
    struct script s;
    script_init(&s, BPC_MODE_PACED);
    hn_start(&s.h);
    assert_int_equal(s.h.q_count, 0);
    hn_tick(&s.h, 200 * MS - 1);
    assert_int_equal(s.h.q_count, 0);
    assert_int_equal(bpc_engine_status(s.h.p[s.l].e, 0), BPC_STATUS_LAUNCHED);
    hn_tick(&s.h, 1);
    /* Only the leader speaks at 200 ms: one frame to each peer. */
    assert_int_equal(s.h.q_count, 3);
    assert_int_equal(s.h.p[s.l].frames_sent, 3);
    assert_int_equal(bpc_engine_status(s.h.p[s.l].e, 0), BPC_STATUS_PASSED_1A);
    hn_free(&s.h);
}

/* Paced mode: events fire in order at the origin's offsets under virtual
 * time (test_launch_ballot_events). */
static void
test_engine_events_in_order(void **state)
{
    (void)state;
    static const uint64_t at_ms[BPC_EVENTS_COUNT] = {200, 400, 600, 800, 1000, 1200};
    struct script s;
    script_init(&s, BPC_MODE_PACED);
    hn_start(&s.h);
    struct bpc_engine *e = s.h.p[s.x].e;
    uint64_t prev = 0;
    for (uint32_t ev = 0; ev + 1 < BPC_EVENTS_COUNT; ev++) {
        hn_tick(&s.h, at_ms[ev] * MS - 1 - prev);
        assert_int_equal(bpc_engine_events(e), (1u << ev) - 1u);
        hn_tick(&s.h, 1);
        assert_int_equal(bpc_engine_events(e), (1u << (ev + 1)) - 1u);
        prev = at_ms[ev] * MS;
        hn_deliver(&s.h, UINT64_MAX);
    }
    hn_tick(&s.h, at_ms[BPC_EVENT_FINALIZE] * MS - 1 - prev);
    assert_int_equal(bpc_engine_events(e), (1u << BPC_EVENT_FINALIZE) - 1u);
    /* Finalize with nothing to do starts a new round in the same ballot. */
    hn_tick(&s.h, 1);
    assert_int_equal(bpc_engine_events(e), 0);
    assert_int_equal(bpc_engine_ballot(e), 1);
    hn_free(&s.h);
}

static void
submit_all(struct hn *h, uint32_t per_party)
{
    for (uint32_t i = 0; i < h->n; i++) {
        for (uint32_t k = 0; k < per_party; k++) {
            hn_submit(h, i, i, k);
        }
    }
}

static uint64_t
max_ballot(const struct hn *h)
{
    uint64_t b = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (!h->p[i].down && bpc_engine_ballot(h->p[i].e) > b) {
            b = bpc_engine_ballot(h->p[i].e);
        }
    }
    return b;
}

static void
run_cluster(const uint64_t *w, uint32_t n, enum bpc_mode mode, uint32_t instances)
{
    struct hn h;
    hn_init(&h, w, n, mode, 64);
    hn_start(&h);
    submit_all(&h, instances);
    uint64_t tick = mode == BPC_MODE_PACED ? 100 * MS : 5 * MS;
    assert_true(hn_run(&h, instances, tick, 600000 * MS));
    assert_true(hn_agree(&h));
    hn_free(&h);
}

static void
test_engine_four_equal_decide(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    run_cluster(w, 4, BPC_MODE_FAST, 20);
}

static void
test_engine_four_equal_decide_paced(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    run_cluster(w, 4, BPC_MODE_PACED, 2);
}

static void
test_engine_weights_max_and_one(void **state)
{
    (void)state;
    const uint64_t w[2] = {UINT64_MAX, 1};
    run_cluster(w, 2, BPC_MODE_FAST, 5);
}

static void
test_engine_weights_skewed(void **state)
{
    (void)state;
    const uint64_t w[5] = {100, 1, 2, 3, 4};
    run_cluster(w, 5, BPC_MODE_FAST, 5);
}

/* Every frame a party sends, as the harness queues it. */
struct frames_seen {
    struct hn *h;
    uint32_t frames;
    uint32_t bad;       /* wrong sender or receiver, or a tag that fails */
    uint32_t same_body; /* same records as the sender's frame before, to another peer */
    uint32_t last_to[16];
    uint32_t last_len[16];
    uint8_t last[16][BPC_FRAME_BYTES_MAX];
};

static bool
frames_seen_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct frames_seen *f = ctx;
    struct bpc_frame_header hd;
    f->frames++;
    if (bpc_wire_parse_header(bytes, len, &hd) != 0 || hd.sender != from || hd.receiver != to ||
        !bpc_wire_verify(bytes, len, f->h->p[from].keys[to])) {
        f->bad++;
    }
    /* The body: everything after the 32-byte header, before the tag. */
    if (f->last_len[from] == len && f->last_to[from] != to &&
        memcmp(f->last[from] + 32, bytes + 32, len - 32 - BPC_TAG_BYTES) == 0) {
        f->same_body++;
    }
    f->last_to[from] = to;
    f->last_len[from] = len;
    memcpy(f->last[from], bytes, len);
    return true;
}

/* Broadcast frames are packed once per step and re-addressed to the other
 * peers (outbox.c): each copy must carry its own receiver and a tag that
 * verifies under that pair's key, and the copies must decide as before. */
static void
test_engine_broadcast_frames_readdressed(void **state)
{
    (void)state;
    const uint64_t w[7] = {1, 1, 1, 1, 1, 1, 1};
    struct hn h;
    hn_init(&h, w, 7, BPC_MODE_FAST, 64);
    struct frames_seen *seen = calloc(1, sizeof(*seen));
    assert_non_null(seen);
    seen->h = &h;
    h.filter = frames_seen_filter;
    h.filter_ctx = seen;
    hn_start(&h);
    submit_all(&h, 5);
    assert_true(hn_run(&h, 35, 5 * MS, 10000 * MS));
    assert_true(hn_agree(&h));
    assert_true(seen->frames > 0);
    assert_int_equal(seen->bad, 0);
    /* 2av and 2b go to six peers each: most frames repeat the one before. */
    assert_true(seen->same_body > seen->frames / 2);
    free(seen);
    hn_free(&h);
}

/* One crashed non-leader: the other three (weight 3 = T) still decide. */
static void
test_engine_faulty_non_leader(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn h;
    hn_init(&h, w, 4, BPC_MODE_FAST, 64);
    uint32_t dead = ((uint32_t)hn_first_leader(&h) + 1) % 4;
    h.p[dead].down = true;
    hn_start(&h);
    submit_all(&h, 10);
    assert_true(hn_run(&h, 10, 5 * MS, 60000 * MS));
    assert_int_equal(max_ballot(&h), 1);
    assert_true(hn_agree(&h));
    hn_free(&h);
}

/* A crashed ballot-1 leader: ballot 1 fails, a later ballot under a live
 * leader decides. */
static void
test_engine_faulty_leader(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn h;
    hn_init(&h, w, 4, BPC_MODE_FAST, 64);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    h.p[leader].down = true;
    hn_start(&h);
    submit_all(&h, 10);
    assert_true(hn_run(&h, 10, 5 * MS, 60000 * MS));
    assert_true(max_ballot(&h) >= 2);
    for (uint32_t i = 0; i < 4; i++) {
        if (i != leader) {
            assert_true(h.p[i].log_ballot[0] >= 2);
        }
    }
    assert_true(hn_agree(&h));
    hn_free(&h);
}

/* A malicious party that sends wrong-ballot 1b every 100 ms (and nothing
 * else) does not stop the decision. */
struct liar {
    uint32_t who;
    uint64_t seq;
};

static bool
liar_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    (void)to;
    (void)bytes;
    (void)len;
    return from != ((struct liar *)ctx)->who;
}

static void
liar_send(struct hn *h, struct liar *l)
{
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    for (uint32_t to = 0; to < h->n; to++) {
        if (to == l->who) {
            continue;
        }
        struct bpc_wire_writer w;
        assert_int_equal(bpc_wire_begin(&w, buf, 1400, 0), 0);
        struct bpc_record r;
        memset(&r, 0, sizeof(r));
        r.type = BPC_MSG_1B;
        r.instance = bpc_engine_next_undecided(h->p[to].e);
        r.ballot = bpc_engine_ballot(h->p[to].e) + 1000 + (l->seq % 7);
        assert_int_equal(bpc_wire_put(&w, &r), 0);
        r.ballot = 1;
        assert_int_equal(bpc_wire_put(&w, &r), 0);
        struct bpc_frame_header hd = {.cluster_id = h->p[to].cfg.cluster_id,
                                      .sender = (uint16_t)l->who,
                                      .receiver = (uint16_t)to,
                                      .seq = (1ull << 50) + ++l->seq};
        uint32_t len = bpc_wire_finish(&w, &hd, h->p[l->who].keys[to]);
        struct bpc_frame_in in = {.bytes = buf, .len = len};
        hn_step(h, to, &in, 1);
    }
}

static void
test_engine_malicious_wrong_ballot(void **state)
{
    (void)state;
    const uint64_t w[4] = {1, 1, 1, 1};
    struct hn h;
    hn_init(&h, w, 4, BPC_MODE_FAST, 64);
    struct liar l = {.who = ((uint32_t)hn_first_leader(&h) + 2) % 4, .seq = 0};
    h.filter = liar_filter;
    h.filter_ctx = &l;
    hn_start(&h);
    submit_all(&h, 10);
    bool done = false;
    for (int round = 0; round < 2000 && !done; round++) {
        liar_send(&h, &l);
        hn_deliver(&h, UINT64_MAX);
        done = true;
        for (uint32_t i = 0; i < 4; i++) {
            done = done && (i == l.who || h.p[i].log_count >= 10);
        }
        hn_tick(&h, 100 * MS);
    }
    assert_true(done);
    /* The liar's weight (1) is not above F (1): nobody followed it. */
    assert_true(max_ballot(&h) < 1000);
    h.p[l.who].log_count = 0;
    assert_true(hn_agree(&h));
    hn_free(&h);
}

/* 999 equal parties decide one instance (ignored by the origin: ~20 s). */
static void
test_engine_999_parties(void **state)
{
    (void)state;
    if (getenv("BPC_SKIP_SLOW") != NULL) {
        skip();
    }
    static uint64_t w[999];
    for (uint32_t i = 0; i < 999; i++) {
        w[i] = 1;
    }
    struct hn h;
    hn_init(&h, w, 999, BPC_MODE_FAST, 4);
    hn_start(&h);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    assert_int_equal(hn_submit(&h, leader, 1, 1), 0);
    assert_true(hn_run(&h, 1, 5 * MS, 60000 * MS));
    assert_true(hn_agree(&h));
    hn_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_msg1a),
        cmocka_unit_test(test_engine_msg1b),
        cmocka_unit_test(test_engine_msg2a),
        cmocka_unit_test(test_engine_msg2av),
        cmocka_unit_test(test_engine_msg2b),
        cmocka_unit_test(test_engine_launch1a_paced),
        cmocka_unit_test(test_engine_events_in_order),
        cmocka_unit_test(test_engine_four_equal_decide),
        cmocka_unit_test(test_engine_broadcast_frames_readdressed),
        cmocka_unit_test(test_engine_four_equal_decide_paced),
        cmocka_unit_test(test_engine_weights_max_and_one),
        cmocka_unit_test(test_engine_weights_skewed),
        cmocka_unit_test(test_engine_faulty_non_leader),
        cmocka_unit_test(test_engine_faulty_leader),
        cmocka_unit_test(test_engine_malicious_wrong_ballot),
        cmocka_unit_test(test_engine_999_parties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
