/*
 * test_timeout.c - the fast-mode ballot deadline: a lightly loaded
 * cluster keeps its ballot, and a silent leader is left within a timeout
 * of the first work after an idle spell or a slow one.
 *
 * Method: harness clusters (cluster.h) in which every hop takes a fixed
 * time: the frames queued are delivered, then the clock moves on and
 * every party steps. One command is outstanding at a time unless said.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "internal.h"

#define MS 1000000ull

/* Sum over the live parties of one counter. */
static uint64_t
failed_sum(const struct hn *h)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (!h->p[i].down) {
            sum += bpc_engine_counters(h->p[i].e)->ballots_failed;
        }
    }
    return sum;
}

/* Four parties of weight 1, window 2, one command a value, started;
 * returns the party after ballot 1's leader (a submitter that forwards). */
static uint32_t
four(struct hn *h)
{
    cluster_init(h, 4, 2, 1);
    hn_start(h);
    return ((uint32_t)hn_first_leader(h) + 1) % 4;
}

/* One hop: the frames queued now are delivered, then hop_ns pass. */
static void
hop(struct hn *h, uint64_t hop_ns)
{
    hn_deliver(h, h->q_count);
    hn_tick(h, hop_ns);
}

/* `count` commands of `who`, one at a time, each applied everywhere
 * before the next is submitted; every hop takes hop_ns. */
static void
one_at_a_time(struct hn *h, uint32_t who, uint32_t count, uint64_t hop_ns)
{
    uint64_t base = applied[0].total;
    for (uint32_t c = 1; c <= count; c++) {
        submit_n(h, who, 1);
        uint64_t end = h->now_ns + 20000 * MS;
        while (!all_applied(h, base + c) && h->now_ns < end) {
            hop(h, hop_ns);
        }
        assert_true(all_applied(h, base + c));
    }
}

/* After a slow phase (10 commands with 20 ms hops), `kind` for a few
 * seconds: 0, back-to-back commands with 0.1 ms hops for 2 s; 1, a
 * command every 60 ms for 3 s; 2, nothing for 2 s. Then the current
 * leader falls silent with a command outstanding: returns how long the
 * submitter took to leave its ballot. */
static uint64_t
leave_after(uint32_t kind)
{
    struct hn h;
    uint32_t who = four(&h);
    one_at_a_time(&h, who, 10, 20 * MS);
    assert_true(failed_sum(&h) > 0); /* the slow phase failed a ballot */
    uint64_t start = h.now_ns;
    while (h.now_ns - start < (kind == 1 ? 3000 : 2000) * MS) {
        if (kind == 0) {
            one_at_a_time(&h, who, 1, MS / 10);
        } else if (kind == 1) {
            uint64_t t0 = h.now_ns;
            one_at_a_time(&h, who, 1, MS / 10);
            while (h.now_ns - t0 < 60 * MS) {
                hop(&h, MS / 10);
            }
        } else {
            hop(&h, MS);
        }
    }
    uint64_t bal = bpc_engine_ballot(h.p[who].e);
    int cur = bpc_engine_leader(h.p[who].e);
    assert_true(cur >= 0);
    h.p[cur].down = true;
    uint32_t s = (uint32_t)cur == who ? (who + 1) % 4 : who;
    submit_n(&h, s, 1);
    uint64_t silent = h.now_ns;
    uint64_t left = 0;
    while (h.now_ns - silent < 1000 * MS) {
        hop(&h, MS / 10);
        if (bpc_engine_ballot(h.p[s].e) > bal) {
            left = h.now_ns - silent;
            break;
        }
    }
    hn_free(&h);
    return left;
}

/* A cluster fast again, lightly loaded or idle after a slow phase (one
 * that failed ballots) leaves a silent leader within the configured
 * deadline (50 ms, plus a quarter of jitter, plus a hop). Two versions
 * of an adaptive deadline were tried and taken back (docs/ENGINE.md,
 * Known limits): the first kept the failed ballots' doublings while the
 * waits between decisions were long, idle time included (review G9:
 * 212.9 ms with a command every 60 ms, 127.0 ms after 60 s idle; with
 * that level never dropping, 244.9 ms here after the fast phase). */
static void
test_fast_again_forgets(void **state)
{
    (void)state;
    static const char *const what[] = {"fast", "a command every 60 ms", "idle"};
    for (uint32_t kind = 0; kind < 3; kind++) {
        uint64_t left = leave_after(kind);
        print_message("%s after the slow phase: a silent leader left after %llu us\n", what[kind],
                      (unsigned long long)(left / 1000));
        assert_true(left > 0);
        assert_true(left <= 63 * MS);
    }
}

/* Commands one at a time, each 130 ms after the one before was applied,
 * 5 ms hops (a decision takes about 20 ms): between them the parties are
 * idle, and their deadlines pass with no work and start again. A command
 * that arrives late in such a period starts the deadline again: the
 * leader has a whole timeout to decide it. Before, the deadline set at
 * the last idle check stood, and each command that arrived within a
 * decision's time of it failed the ballot: 47 failed ballots (summed
 * over the parties) for 40 commands. */
static void
test_light_load_keeps_its_ballot(void **state)
{
    (void)state;
    struct hn h;
    uint32_t who = four(&h);
    for (uint32_t c = 0; c < 40; c++) {
        uint64_t t0 = h.now_ns;
        one_at_a_time(&h, who, 1, 5 * MS);
        while (h.now_ns - t0 < 130 * MS) {
            hop(&h, 5 * MS);
        }
    }
    uint64_t failed = failed_sum(&h);
    print_message("light load: %llu ballots failed for 40 commands\n", (unsigned long long)failed);
    assert_true(failed <= 4);
    assert_exactly_once(&h, who, 40);
    hn_free(&h);
}

/* Frames from `from` to `to` that carry an ATTEST are lost. */
struct no_attest {
    uint32_t from;
    uint32_t to;
    uint64_t dropped;
};

static bool
drop_attests(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    struct no_attest *na = ctx;
    if (from == na->from && to == na->to && frame_has(bytes, len, BPC_MSG_ATTEST)) {
        na->dropped++;
        return false;
    }
    return true;
}

/* The light load of test_light_load_keeps_its_ballot, at varied gaps,
 * but the submitter's ATTESTs to one follower are lost: that follower
 * learns of each command from the leader's 2a alone, which starts its
 * idle deadline again as a FORWARD or an ATTEST would. Without that
 * (review G12, F2: the 2a's re-arm was untested), the deadline set at
 * the follower's last idle check stood, a 2a arriving within a
 * decision's time of it failed the follower's ballot, and the follower,
 * alone at the next ballot, voted no more (1 failed ballot, the follower
 * at ballot 2, the others at 1). */
static void
test_light_load_2a_alone_keeps_its_ballot(void **state)
{
    (void)state;
    struct hn h;
    uint32_t who = four(&h);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    struct no_attest na = {.from = who,
                           .to = (who + 1) % 4 == leader ? (who + 2) % 4 : (who + 1) % 4};
    h.filter = drop_attests;
    h.filter_ctx = &na;
    for (uint32_t c = 0; c < 40; c++) {
        uint64_t t0 = h.now_ns;
        one_at_a_time(&h, who, 1, 5 * MS);
        while (h.now_ns - t0 < (100 + 35 * c % 60) * MS) {
            hop(&h, 5 * MS);
        }
    }
    uint64_t failed = bpc_engine_counters(h.p[na.to].e)->ballots_failed;
    print_message("2a alone: %llu ATTEST frames lost, the follower failed %llu ballots\n",
                  (unsigned long long)na.dropped, (unsigned long long)failed);
    assert_true(na.dropped >= 40);
    assert_int_equal(failed, 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(bpc_engine_ballot(h.p[i].e), bpc_engine_ballot(h.p[leader].e));
    }
    assert_exactly_once(&h, who, 40);
    hn_free(&h);
}

/* The Byzantine party of test_stale_attests_rearm_nothing: its command
 * applied long ago, and how many of its stale ATTESTs were admitted. */
struct stale {
    uint32_t byz;
    uint64_t seq;
    uint64_t frame_seq;
    uint64_t admitted;
};

/* One hop as hop() does, but first byz (silent otherwise) sends every
 * correct party a freshly tagged ATTEST of s->seq. */
static void
stale_hop(struct hn *h, struct stale *st, uint64_t hop_ns)
{
    hn_deliver(h, h->q_count);
    for (uint32_t i = 0; i < h->n; i++) {
        if (i == st->byz || h->p[i].down) {
            continue;
        }
        static uint8_t buf[BPC_FRAME_BYTES_MAX];
        struct bpc_vid mac = {.kind = BPC_VALUE_INLINE, .len = BPC_CMD_MAC_BYTES};
        struct bpc_record r =
            bpc_record_make(BPC_MSG_ATTEST, st->seq, bpc_engine_ballot(h->p[i].e), 8, &mac);
        struct bpc_wire_writer w;
        assert_int_equal(bpc_wire_begin(&w, buf, BPC_FRAME_BYTES_MAX, BPC_VALUE_BYTES_MAX), 0);
        assert_int_equal(bpc_wire_put(&w, &r), 0);
        struct bpc_frame_header fh = {.cluster_id = h->p[i].cfg.cluster_id,
                                      .sender = (uint16_t)st->byz,
                                      .receiver = (uint16_t)i,
                                      .seq = ++st->frame_seq};
        struct bpc_frame_in in = {.bytes = buf,
                                  .len = bpc_wire_finish(&w, &fh, h->p[i].keys[st->byz])};
        uint64_t rx = bpc_engine_counters(h->p[i].e)->frames_rx;
        hn_step(h, i, &in, 1);
        st->admitted += bpc_engine_counters(h->p[i].e)->frames_rx - rx;
    }
    hn_tick(h, hop_ns);
}

/* The light load of test_light_load_keeps_its_ballot while a Byzantine
 * party sends every correct party, at every hop, an ATTEST of its own
 * command applied long ago: a record that brings no work starts no
 * deadline, so a real command after an idle deadline still gets a whole
 * timeout. When every FORWARD and ATTEST did (review G11, L1), the stale
 * ones used up each idle deadline's re-arm at once: 54 failed ballots for
 * 40 commands, as before there was a re-arm. */
static void
test_stale_attests_rearm_nothing(void **state)
{
    (void)state;
    struct hn h;
    uint32_t who = four(&h);
    struct stale st = {.byz = (who + 1) % 4, .frame_seq = UINT64_C(1) << 30};
    uint8_t cmd[24] = {0};
    assert_int_equal(bpc_submit(h.p[st.byz].e, cmd, sizeof(cmd), &st.seq), 0);
    while (!all_applied(&h, 1)) {
        hop(&h, MS / 10);
    }
    h.p[st.byz].down = true;
    uint64_t failed = failed_sum(&h);
    for (uint64_t c = 2; c <= 41; c++) {
        uint64_t t0 = h.now_ns;
        submit_n(&h, who, 1);
        while (!all_applied(&h, c) && h.now_ns - t0 < 20000 * MS) {
            stale_hop(&h, &st, 5 * MS);
        }
        assert_true(all_applied(&h, c));
        while (h.now_ns - t0 < 130 * MS) {
            stale_hop(&h, &st, 5 * MS);
        }
    }
    failed = failed_sum(&h) - failed;
    print_message("stale ATTESTs (%llu admitted): %llu ballots failed for 40 commands\n",
                  (unsigned long long)st.admitted, (unsigned long long)failed);
    assert_true(st.admitted > 1000);
    assert_true(failed <= 3);
    hn_free(&h);
}

/* An idle cluster whose leader fell silent: the first command after it
 * leaves the ballot within a timeout of its arrival (50 ms, plus a
 * quarter of jitter, plus a hop), though its arrival started the
 * deadline again. */
static void
test_idle_silent_leader_left(void **state)
{
    (void)state;
    struct hn h;
    uint32_t who = four(&h);
    one_at_a_time(&h, who, 3, MS / 10);
    uint64_t bal = bpc_engine_ballot(h.p[who].e);
    h.p[bpc_engine_leader(h.p[who].e)].down = true;
    for (uint32_t k = 0; k < 2000; k++) {
        hop(&h, MS / 10); /* 200 ms idle */
    }
    assert_int_equal(bpc_engine_ballot(h.p[who].e), bal);
    submit_n(&h, who, 1);
    uint64_t at = h.now_ns;
    while (bpc_engine_ballot(h.p[who].e) == bal && h.now_ns - at < 1000 * MS) {
        hop(&h, MS / 10);
    }
    print_message("idle, then a command: the silent leader left after %llu us\n",
                  (unsigned long long)((h.now_ns - at) / 1000));
    assert_true(bpc_engine_ballot(h.p[who].e) > bal);
    assert_true(h.now_ns - at <= 63 * MS);
    /* ... and every live party applies it soon after: the others, whose
     * deadlines the command's ATTESTs started once, leave as well. Were
     * every ATTEST to start it (review G11, L2), their retransmissions
     * kept the others at the old ballot until the censorship watch: the
     * command was applied after about 405 ms. */
    while (!all_applied(&h, 4) && h.now_ns - at < 1000 * MS) {
        hop(&h, MS / 10);
    }
    print_message("... and applied everywhere after %llu us\n",
                  (unsigned long long)((h.now_ns - at) / 1000));
    assert_true(all_applied(&h, 4));
    assert_true(h.now_ns - at <= 100 * MS);
    hn_free(&h);
}

/* Goal: at value_bytes_max 16, the smallest taken (commands of 0 bytes
 * only), commands that non-leaders submit are proven by their ATTESTs and
 * decided at the first ballot. Before (review E1's F1), the own list's
 * stride was 0 bytes, its commands could not be found again from their
 * bytes, every ATTEST was dropped (tx_value_gone) and the leader held the
 * values back (cmd_unauthenticated) until ballots failed. */
static void
test_smallest_value_keeps_its_ballot(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 8);
    for (uint32_t i = 0; i < h.n; i++) {
        h.p[i].cfg.value_bytes_max = 16;
        bpc_engine_free(h.p[i].e);
        char err[128];
        assert_int_equal(bpc_engine_new(&h.p[i].e, &h.p[i].cfg, err, sizeof(err)), 0);
    }
    assert_int_equal(bpc_command_bytes_max(&h.p[0].cfg), 0);
    hn_start(&h);
    uint8_t none = 0;
    for (uint32_t i = 0; i < h.n; i++) {
        for (int k = 0; k < 10; k++) {
            assert_int_equal(bpc_submit(h.p[i].e, &none, 0, NULL), 0);
        }
    }
    assert_true(run_until_applied(&h, 40, 2000 * MS));
    assert_int_equal(failed_sum(&h), 0);
    for (uint32_t i = 0; i < h.n; i++) {
        const struct bpc_counters *c = bpc_engine_counters(h.p[i].e);
        assert_int_equal(c->tx_value_gone, 0);
        assert_int_equal(c->cmd_unauthenticated, 0);
        assert_int_equal(bpc_engine_ballot(h.p[i].e), 1);
    }
    assert_true(hn_agree(&h));
    hn_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_again_forgets),
        cmocka_unit_test(test_light_load_keeps_its_ballot),
        cmocka_unit_test(test_light_load_2a_alone_keeps_its_ballot),
        cmocka_unit_test(test_stale_attests_rearm_nothing),
        cmocka_unit_test(test_idle_silent_leader_left),
        cmocka_unit_test(test_smallest_value_keeps_its_ballot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
