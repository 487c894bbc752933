/*
 * test_pipeline.c - the replication engine around the protocol core:
 * submission from any thread with tickets, forwarding to the leader,
 * batching, exactly-once apply across leader changes, many instances in
 * flight, phase 1 once per range, catch-up, restart from durable state,
 * and no allocation on the step path.
 *
 * Method: harness clusters (FIFO delivery, virtual time) with on_apply and
 * on_complete hooks counting what every party applies.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_probe.h"
#include "cluster.h"

#define MS 1000000ull

/* Allocation probe: the step path must never allocate. The executable is
 * linked with --wrap for the allocator entry points (alloc_probe.c), which
 * count while the harness is inside a step (hn_in_step). */

/* Commands submitted at a non-leader reach the leader, are batched, and
 * are applied once everywhere; their tickets complete. */
static void
test_pipeline_forwarding(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 16);
    uint32_t who = ((uint32_t)hn_first_leader(&h) + 1) % 4;
    hn_start(&h);
    submit_n(&h, who, 200);
    assert_true(run_until_applied(&h, 200, 10000 * MS));
    assert_exactly_once(&h, who, 200);
    assert_int_equal(applied[who].completed, 200);
    assert_true(bpc_ticket_done(h.p[who].e, 200));
    assert_false(bpc_ticket_done(h.p[who].e, 201));
    /* Batching: far fewer instances than commands. */
    assert_true(h.p[who].log_count < 200);
    assert_true(hn_agree(&h));
    hn_free(&h);
}

/* Tickets across a restart. A follower's five commands are applied; five
 * more are submitted and the party crashes before its next step (they
 * never leave it); it restarts and one new command is applied. The five
 * lost ones are LOST, never done (before, every ticket of the earlier
 * incarnation below the new one was called done: the application was
 * told its lost commands had happened); the five applied ones APPLIED.
 * After a second restart the engine no longer knows the first
 * incarnation's last command: never LOST or PENDING for an applied one,
 * never done for a lost one. */
static void
test_pipeline_ticket_status_across_restart(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t who = ((uint32_t)hn_first_leader(&h) + 1) % 4;
    hn_start(&h);
    uint64_t tk[10];
    uint8_t cmd[24];
    for (int k = 0; k < 10; k++) {
        memset(cmd, k, sizeof(cmd));
        assert_int_equal(bpc_submit(h.p[who].e, cmd, sizeof(cmd), &tk[k]), 0);
        if (k == 4) {
            assert_true(run_until_applied(&h, 5, 5000 * MS));
        }
    }
    for (int k = 0; k < 5; k++) {
        assert_int_equal(bpc_ticket_status(h.p[who].e, tk[k]), BPC_TICKET_APPLIED);
    }
    h.p[who].down = true; /* the last five never leave */
    hn_restart(&h, who);
    for (int k = 5; k < 10; k++) {
        assert_false(bpc_ticket_done(h.p[who].e, tk[k]));
    }
    uint64_t next = 0;
    memset(cmd, 99, sizeof(cmd));
    assert_int_equal(bpc_submit(h.p[who].e, cmd, sizeof(cmd), &next), 0);
    assert_true(next >> 40 > tk[9] >> 40);
    for (uint64_t t = h.now_ns; bpc_ticket_status(h.p[who].e, next) != BPC_TICKET_APPLIED;) {
        assert_true(h.now_ns - t < 20000 * MS);
        hn_deliver(&h, UINT64_MAX);
        hn_tick(&h, 5 * MS);
    }
    for (int k = 0; k < 10; k++) {
        enum bpc_ticket_status want = k < 5 ? BPC_TICKET_APPLIED : BPC_TICKET_LOST;
        assert_int_equal(bpc_ticket_status(h.p[who].e, tk[k]), want);
        for (uint32_t i = 0; i < 4; i++) {
            /* Counted by sequence number without the incarnation (the new
             * command counts as number 1 too), and the restarted party
             * applies again from its restored floor: at least once. */
            uint32_t c = applied[i].count[who][k + 1];
            assert_true(k < 5 ? c >= 1 : c == 0);
        }
    }
    h.p[who].down = true;
    hn_restart(&h, who);
    enum bpc_ticket_status st = bpc_ticket_status(h.p[who].e, tk[0]);
    assert_true(st == BPC_TICKET_APPLIED || st == BPC_TICKET_UNKNOWN);
    for (int k = 5; k < 10; k++) {
        assert_false(bpc_ticket_done(h.p[who].e, tk[k]));
    }
    hn_free(&h);
}

/* A command submitted between bpc_engine_restore and bpc_engine_start
 * carries the new incarnation: its ticket is PENDING until it is applied,
 * then APPLIED. Before, the ticket named the restored incarnation, the
 * earlier run's first command: APPLIED before any step. A submit before
 * the restore makes the restore -EBUSY. */
static void
test_pipeline_ticket_submitted_before_start(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t who = ((uint32_t)hn_first_leader(&h) + 1) % 4;
    hn_start(&h);
    uint64_t first = 0;
    uint8_t cmd[24];
    memset(cmd, 7, sizeof(cmd));
    assert_int_equal(bpc_submit(h.p[who].e, cmd, sizeof(cmd), &first), 0);
    submit_n(&h, who, 2);
    assert_true(run_until_applied(&h, 3, 5000 * MS));
    assert_int_equal(bpc_ticket_status(h.p[who].e, first), BPC_TICKET_APPLIED);
    struct hn_party *p = &h.p[who];
    bpc_engine_free(p->e);
    char err[256];
    assert_int_equal(bpc_engine_new(&p->e, &p->cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_restore(p->e, p->disk, p->disk_count), 0);
    assert_int_equal(bpc_engine_restore_values(p->e, p->vals, p->val_count), 0);
    uint64_t tk = 0;
    memset(cmd, 8, sizeof(cmd));
    assert_int_equal(bpc_submit(p->e, cmd, sizeof(cmd), &tk), 0);
    assert_true(tk >> 40 > first >> 40);
    assert_int_equal(bpc_ticket_status(p->e, tk), BPC_TICKET_PENDING);
    assert_int_equal(bpc_engine_start(p->e, h.now_ns), 0);
    p->restarts++;
    assert_int_equal(bpc_ticket_status(p->e, tk), BPC_TICKET_PENDING);
    for (uint64_t t = h.now_ns; bpc_ticket_status(p->e, tk) != BPC_TICKET_APPLIED;) {
        assert_true(h.now_ns - t < 20000 * MS);
        hn_deliver(&h, UINT64_MAX);
        hn_tick(&h, 5 * MS);
    }
    /* A restore after a submit: refused, nothing restored. */
    struct bpc_engine *e2 = NULL;
    assert_int_equal(bpc_engine_new(&e2, &p->cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_submit(e2, cmd, sizeof(cmd), &tk), 0);
    assert_int_equal(tk >> 40, 0);
    assert_int_equal(bpc_engine_restore(e2, p->disk, p->disk_count), -EBUSY);
    bpc_engine_free(e2);
    hn_free(&h);
}

/* The leader crashes with commands in flight: the submitter resends its
 * unapplied commands to the next leader, and each is applied once. */
static void
test_pipeline_exactly_once_across_leader_change(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 4);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    uint32_t who = (leader + 1) % 4;
    hn_start(&h);
    submit_n(&h, who, 300);
    /* Let part of the work decide, then crash the leader mid-stream. */
    for (int k = 0; k < 40 && applied[who].total < 40; k++) {
        hn_deliver(&h, 50);
    }
    h.p[leader].down = true;
    hn_drop_all(&h);
    assert_true(run_until_applied(&h, 300, 60000 * MS));
    assert_exactly_once(&h, who, 300);
    assert_true(bpc_engine_ballot(h.p[who].e) >= 2);
    assert_true(hn_agree(&h));
    hn_free(&h);
}

/* Backpressure and size limits at submission; misuse is an error, not a
 * crash: a NULL command with a length is -EINVAL (before: UBSan's memcpy
 * from NULL, then SIGSEGV), and a step before bpc_engine_start is
 * -EINVAL with nothing done (before: an assertion aborted). */
static void
test_pipeline_submit_limits(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 16);
    struct bpc_engine *e = h.p[0].e;
    struct bpc_step_in si = {.now_ns = 1};
    struct bpc_step_out so = {0};
    assert_int_equal(bpc_engine_step(e, &si, &so), -EINVAL);
    assert_int_equal(bpc_submit(e, NULL, 5, NULL), -EINVAL);
    assert_int_equal(bpc_submit(e, NULL, 0, NULL), 0); /* an empty command */
    uint8_t big[2048];
    memset(big, 1, sizeof(big));
    uint32_t max = bpc_command_bytes_max(&h.p[0].cfg);
    assert_int_equal(max, 1024 - 16);
    assert_int_equal(bpc_submit(e, big, max + 1, NULL), -EMSGSIZE);
    assert_int_equal(bpc_submit(e, big, max, NULL), 0);
    uint32_t accepted = 2;
    while (bpc_submit(e, big, 8, NULL) == 0) {
        accepted++;
        assert_true(accepted <= 1024);
    }
    assert_int_equal(accepted, 1024); /* commands_max */
    assert_int_equal(bpc_submit(e, big, 8, NULL), -EAGAIN);
    hn_free(&h);
}

/* Many instances are in flight per round trip, and phase 1 runs once for
 * the whole range under a stable leader. */
static void
test_pipeline_many_in_flight(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 128, 1); /* 64 instances in flight at most */
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    hn_start(&h);
    hn_deliver(&h, UINT64_MAX); /* phase 1 */
    submit_n(&h, leader, 48);
    hn_tick(&h, 1); /* the leader drains its queue and proposes */
    /* Count the 2a records the leader sent in this one step. */
    uint32_t proposals = 0;
    for (uint32_t k = 0; k < h.q_count; k++) {
        const struct hn_frame *f = &h.q[(h.q_head + k) % h.q_cap];
        struct bpc_frame_header hd;
        static struct bpc_record recs[256];
        if (f->from != leader || f->to != (leader + 1) % 4 ||
            bpc_wire_parse_header(f->bytes, f->len, &hd) != 0) {
            continue;
        }
        int n = bpc_wire_decode(f->bytes, f->len, &hd, recs, 256);
        for (int r = 0; r < n; r++) {
            proposals += recs[r].type == BPC_MSG_2A;
        }
    }
    assert_int_equal(proposals, 48);
    assert_true(run_until_applied(&h, 48, 10000 * MS));
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(bpc_engine_counters(h.p[i].e)->ballots_started, 1);
    }
    hn_free(&h);
}

/* Counts the 2a records in the frames queued from -> to. */
static uint32_t
queued_2a(const struct hn *h, uint32_t from, uint32_t to)
{
    uint32_t count = 0;
    for (uint32_t k = 0; k < h->q_count; k++) {
        const struct hn_frame *f = &h->q[(h->q_head + k) % h->q_cap];
        struct bpc_frame_header hd;
        static struct bpc_record recs[256];
        if (f->from != from || f->to != to || bpc_wire_parse_header(f->bytes, f->len, &hd) != 0) {
            continue;
        }
        int n = bpc_wire_decode(f->bytes, f->len, &hd, recs, 256);
        assert_true(n > 0);
        for (int r = 0; r < n; r++) {
            count += recs[r].type == BPC_MSG_2A;
        }
    }
    return count;
}

/* With one tx buffer per step a round for one peer spans many steps; each
 * step resumes where the last stopped, so every record leaves once (a
 * restart from the round's first record would send the first frame for
 * ever and starve the other peers). */
static void
test_pipeline_flush_resumes(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 128, 1);
    h.tx_cap = 1;
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    hn_start(&h);
    hn_deliver(&h, UINT64_MAX); /* phase 1 */
    submit_n(&h, leader, 48);
    hn_tick(&h, 1);
    for (uint32_t p = 0; p < 4; p++) {
        if (p != leader) {
            assert_int_equal(queued_2a(&h, leader, p), 48);
        }
    }
    assert_true(run_until_applied(&h, 48, 10000 * MS));
    hn_free(&h);
}

/* The step path allocates nothing, over a whole run with batching. */
static void
test_pipeline_no_alloc_in_step(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 8);
    hn_start(&h);
    alloc_probe_watch = &hn_in_step;
    alloc_probe_count = 0;
    submit_n(&h, 2, 100);
    assert_true(run_until_applied(&h, 100, 10000 * MS));
    assert_int_equal(alloc_probe_count, 0);
    alloc_probe_watch = NULL;
    hn_free(&h);
}

/* A party cut off for a while learns the decisions it missed from peers
 * (status announcements answered with decided values). */
struct cut {
    uint32_t who;
    bool on;
};

static bool
cut_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len)
{
    (void)bytes;
    (void)len;
    const struct cut *c = ctx;
    return !c->on || (from != c->who && to != c->who);
}

static void
test_pipeline_catch_up(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    struct cut c = {.who = (leader + 2) % 4, .on = true};
    h.filter = cut_filter;
    h.filter_ctx = &c;
    hn_start(&h);
    submit_n(&h, leader, 40);
    hn_run(&h, 40, 5 * MS, 2000 * MS);
    assert_int_equal(h.p[c.who].log_count, 0);
    c.on = false;
    assert_true(hn_run(&h, 40, 5 * MS, 10000 * MS));
    assert_true(hn_agree(&h));
    assert_false(h.p[c.who].log_broken);
    hn_free(&h);
}

/* The largest floor a party's persisted records carry. */
static uint64_t
persisted_floor(const struct hn_party *p)
{
    uint64_t floor = 0;
    for (uint32_t k = 0; k < p->disk_count; k++) {
        const struct bpc_durable *d = &p->disk[k];
        floor = d->instance == UINT64_MAX && d->floor > floor ? d->floor : floor;
    }
    return floor;
}

/* An idle party's floor is durable after one retransmit tick. The last
 * instances of a load are decided by the parties' own 2b quorums; their
 * votes went out with the floor below them, and nothing asked for a batch
 * after the decisions, so a restart went back before them. Once the other
 * parties had persisted floors past them (and restarted, forgetting the
 * votes below their floors), only weight F knew those decisions: the
 * chaos loop stranded a party by one or two instances that way. Now every
 * party's persisted floor reaches its next undecided instance within one
 * tick (half the ballot timeout) of going idle. */
static void
test_pipeline_idle_floor_is_durable(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    hn_start(&h);
    submit_n(&h, leader, 12);
    assert_true(hn_run(&h, 12, 1 * MS, 2000 * MS));
    hn_deliver(&h, UINT64_MAX);
    hn_tick(&h, h.p[0].cfg.ballot_timeout_ns / 2 + 1 * MS);
    hn_deliver(&h, UINT64_MAX);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(bpc_engine_next_undecided(h.p[i].e), 12);
        assert_int_equal(persisted_floor(&h.p[i]), 12);
    }
    hn_free(&h);
}

/* Catch-up is durable. A party cut off while the others decide 40
 * instances learns them afterwards from DECIDED claims alone (it never
 * votes on them), with the cluster idle. Its persisted floor must follow:
 * before, nothing was persisted until its next vote, so a restart put it
 * back at floor 0, and once the other two non-leaders had restarted too
 * (their recent-decision rings gone, their floors near 40) only the leader,
 * weight F, still knew instances 0..38: the party could never catch up
 * again, applied nothing more, and the next command could not be decided
 * by it (the chaos loop of bpcon-cluster found this as a party stuck
 * forever at an old floor). */
static void
test_pipeline_catch_up_is_durable(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    struct cut c = {.who = (leader + 2) % 4, .on = true};
    h.filter = cut_filter;
    h.filter_ctx = &c;
    hn_start(&h);
    submit_n(&h, leader, 40);
    hn_run(&h, 40, 5 * MS, 2000 * MS);
    assert_int_equal(h.p[c.who].log_count, 0);
    c.on = false;
    assert_true(hn_run(&h, 40, 5 * MS, 10000 * MS));
    assert_true(persisted_floor(&h.p[c.who]) >= 40);
    /* The party, then the other two non-leaders, restart (one at a time,
     * the cluster idle); one more command must be decided everywhere. */
    hn_restart(&h, c.who);
    hn_restart(&h, (leader + 1) % 4);
    hn_restart(&h, (leader + 3) % 4);
    submit_n(&h, leader, 1);
    assert_true(hn_run(&h, 41, 5 * MS, 20000 * MS));
    assert_true(hn_agree(&h));
    assert_false(h.p[c.who].log_broken);
    hn_free(&h);
}

/* A rolling restart while one party lags: the lagging party is cut off
 * while the other three decide 40 instances, then the two non-leaders
 * restart one after the other (their floors past the 40, their slots and
 * recent decisions gone) before it is back. Only the leader, weight F,
 * still held those decisions in memory, and a DECIDED claim needs more
 * than F: the party could never learn them, never applied again, and the
 * cluster, which needs it for a quorum of three, stalled for good (the
 * simulator's --crash 3@500 --restart 3@2500 --crash 1@2600 ... seeds 2
 * and 5). Now a party's decisions below its floor are durable for as long
 * as its recent-decision ring would keep them, and a restart puts them
 * back in the ring, so the restarted parties vouch for them too. */
static void
test_pipeline_rolling_restart_catch_up(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    struct cut c = {.who = (leader + 2) % 4, .on = true};
    h.filter = cut_filter;
    h.filter_ctx = &c;
    hn_start(&h);
    submit_n(&h, leader, 40);
    hn_run(&h, 40, 5 * MS, 2000 * MS);
    assert_int_equal(h.p[c.who].log_count, 0);
    for (uint32_t k = 1; k < 4; k += 2) {
        uint32_t who = (leader + k) % 4;
        assert_int_equal(h.p[who].log_count, 40);
        hn_run(&h, 41, 5 * MS, 200 * MS); /* idle: floors become durable */
        assert_true(persisted_floor(&h.p[who]) >= 40);
        hn_restart(&h, who);
        hn_run(&h, 41, 5 * MS, 200 * MS);
    }
    c.on = false;
    submit_n(&h, leader, 1);
    assert_true(hn_run(&h, 41, 5 * MS, 20000 * MS));
    assert_true(hn_agree(&h));
    assert_false(h.p[c.who].log_broken);
    assert_exactly_once(&h, leader, 41);
    hn_free(&h);
}

/* One tx buffer per step for every party, under load, with a party cut off
 * and then catching up: rounds span many steps while instances are decided
 * and slots reused under the queued records. No frame may carry value
 * bytes that no longer match its digest (receivers would drop it as
 * malformed), and every command is applied once. */
static void
test_pipeline_small_tx_catch_up(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 8);
    struct bpc_log *logs[4];
    cluster_logs(&h, logs);
    h.tx_cap = 1;
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    struct cut c = {.who = (leader + 1) % 4, .on = true};
    h.filter = cut_filter;
    h.filter_ctx = &c;
    hn_start(&h);
    uint32_t who = (leader + 2) % 4;
    submit_n(&h, who, 600);
    assert_true(run_until_applied_by(&h, 600, c.who, 20000 * MS));
    assert_int_equal(applied[c.who].total, 0);
    c.on = false;
    submit_n(&h, who, 400);
    assert_true(run_until_applied(&h, 1000, 20000 * MS));
    assert_exactly_once(&h, who, 1000);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(bpc_engine_counters(h.p[i].e)->drops[BPC_DROP_BAD_VALUE], 0);
    }
    assert_true(hn_agree(&h));
    hn_free(&h);
    cluster_logs_free(4, logs);
}

/* A decided log that does not fit the engine is refused where it is
 * given, not in a later step: one holding smaller values than the
 * engine's (bpc_engine_new -EINVAL, naming the log), one whose next entry
 * is not the first instance the engine emits (bpc_engine_start -EINVAL,
 * not started): a fresh engine with a log at 5, a restarted party with a
 * new log at 0 below its restored floor. Before, each was accepted and the
 * first decision aborted the process (bpc_log_append's -EMSGSIZE or its
 * index assertion, inside bpc_engine_step). */
static void
test_pipeline_log_misconfigured(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t who = ((uint32_t)hn_first_leader(&h) + 1) % 4;
    struct hn_party *p = &h.p[who];
    struct bpc_config cfg = p->cfg;
    char err[256] = "";
    struct bpc_log *small = NULL;
    struct bpc_log_config lc = {.retain_entries = 64, .segment_entries = 64, .value_bytes_max = 64};
    assert_int_equal(bpc_log_new(&small, &lc), 0);
    cfg.log = small;
    struct bpc_engine *e = NULL;
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "log: value_bytes_max=64"));
    bpc_log_free(small);
    struct bpc_log *at5 = NULL;
    lc.value_bytes_max = cfg.value_bytes_max;
    lc.start_index = 5;
    assert_int_equal(bpc_log_new(&at5, &lc), 0);
    cfg.log = at5;
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(e, 0), -EINVAL);
    bpc_engine_free(e);
    bpc_log_free(at5);
    /* A restart: the party's floor moves past 0, then a log at 0. */
    hn_start(&h);
    submit_n(&h, who, 40);
    assert_true(run_until_applied(&h, 40, 10000 * MS));
    uint64_t floor = 0;
    for (uint32_t k = 0; k < p->disk_count; k++) {
        floor = p->disk[k].floor > floor ? p->disk[k].floor : floor;
    }
    assert_true(floor > 0);
    for (uint64_t start = 0; start <= floor; start += floor) {
        struct bpc_log *log = NULL;
        lc.start_index = start;
        assert_int_equal(bpc_log_new(&log, &lc), 0);
        cfg.log = log;
        assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
        assert_int_equal(bpc_engine_restore(e, p->disk, p->disk_count), 0);
        assert_int_equal(bpc_engine_start(e, h.now_ns), start == floor ? 0 : -EINVAL);
        bpc_engine_free(e);
        bpc_log_free(log);
    }
    hn_free(&h);
}

/* A crashed party restarts from its persisted vote state and catches up
 * to the same log; its restart does not re-apply anything twice. */
static void
test_pipeline_restart(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    uint32_t who = (leader + 1) % 4;
    hn_start(&h);
    submit_n(&h, leader, 30);
    assert_true(hn_run(&h, 10, 5 * MS, 5000 * MS));
    h.p[who].down = true;
    submit_n(&h, (leader + 3) % 4, 20);
    hn_run(&h, 45, 5 * MS, 3000 * MS);
    hn_restart(&h, who);
    assert_true(hn_run(&h, 50, 5 * MS, 20000 * MS));
    assert_true(hn_agree(&h));
    assert_false(h.p[who].log_broken);
    assert_int_equal(h.p[who].restarts, 1);
    hn_free(&h);
}

/* The window can be as large as the limit: 65536 slots, allocated once. */
static void
test_pipeline_big_window(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.window_slots = BPC_WINDOW_SLOTS_MAX;
    assert_true(bpc_engine_footprint(&cfg) > 0);
    struct hn h;
    cluster_init(&h, 4, BPC_WINDOW_SLOTS_MAX, 16);
    hn_start(&h);
    submit_n(&h, 1, 500);
    assert_true(run_until_applied(&h, 500, 10000 * MS));
    assert_exactly_once(&h, 1, 500);
    hn_free(&h);
}

/* bpc_submit from several threads at once: every ticket is distinct and
 * every command is applied once. */
struct producer {
    struct bpc_engine *e;
    uint32_t count;
    uint64_t tickets[256];
};

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    uint8_t cmd[8] = {0};
    for (uint32_t k = 0; k < p->count;) {
        if (bpc_submit(p->e, cmd, sizeof(cmd), &p->tickets[k]) == 0) {
            k++;
        }
    }
    return NULL;
}

static void
test_pipeline_submit_threads(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 16);
    hn_start(&h);
    static struct producer prods[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        prods[t].e = h.p[1].e;
        prods[t].count = 200;
        assert_int_equal(pthread_create(&th[t], NULL, producer_main, &prods[t]), 0);
    }
    for (int t = 0; t < 3; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
    }
    assert_true(run_until_applied(&h, 600, 20000 * MS));
    assert_exactly_once(&h, 1, 600);
    for (int t = 0; t < 3; t++) {
        for (uint32_t k = 0; k < 200; k++) {
            assert_true(bpc_ticket_done(h.p[1].e, prods[t].tickets[k]));
        }
    }
    hn_free(&h);
}

/* A new leader fills an instance that has no safe value with a no-op, so
 * the log has no gap: instance 5 reached one party only before the leader
 * crashed, while 6..9 were decided behind it. */
static void
test_pipeline_noop_fills_gap(void **state)
{
    (void)state;
    struct hn h;
    cluster_init(&h, 4, 64, 1);
    uint32_t leader = (uint32_t)hn_first_leader(&h);
    uint32_t x = (leader + 1) % 4;
    hn_start(&h);
    hn_deliver(&h, UINT64_MAX);
    for (uint32_t k = 0; k < 10; k++) {
        uint8_t cmd[16] = {(uint8_t)k};
        assert_int_equal(bpc_submit(h.p[leader].e, cmd, sizeof(cmd), NULL), 0);
        hn_tick(&h, 1);
        if (k == 5) {
            hn_deliver_from(&h, leader, x); /* only x sees instance 5 */
            hn_drop_all(&h);
        } else {
            hn_deliver(&h, UINT64_MAX);
        }
    }
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(h.p[i].log_count, 5); /* 6..9 wait behind 5 */
    }
    h.p[leader].down = true;
    assert_true(hn_run(&h, 10, 5 * MS, 20000 * MS));
    for (uint32_t i = 0; i < 4; i++) {
        if (i != leader) {
            assert_int_equal(h.p[i].log[5].kind, BPC_VALUE_NOOP);
            assert_int_not_equal(h.p[i].log[6].kind, BPC_VALUE_NOOP);
            assert_true(h.p[i].log_ballot[5] >= 2);
        }
    }
    assert_true(hn_agree(&h));
    hn_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_forwarding),
        cmocka_unit_test(test_pipeline_exactly_once_across_leader_change),
        cmocka_unit_test(test_pipeline_submit_limits),
        cmocka_unit_test(test_pipeline_many_in_flight),
        cmocka_unit_test(test_pipeline_flush_resumes),
        cmocka_unit_test(test_pipeline_small_tx_catch_up),
        cmocka_unit_test(test_pipeline_no_alloc_in_step),
        cmocka_unit_test(test_pipeline_catch_up),
        cmocka_unit_test(test_pipeline_restart),
        cmocka_unit_test(test_pipeline_catch_up_is_durable),
        cmocka_unit_test(test_pipeline_idle_floor_is_durable),
        cmocka_unit_test(test_pipeline_rolling_restart_catch_up),
        cmocka_unit_test(test_pipeline_big_window),
        cmocka_unit_test(test_pipeline_submit_threads),
        cmocka_unit_test(test_pipeline_noop_fills_gap),
        cmocka_unit_test(test_pipeline_ticket_status_across_restart),
        cmocka_unit_test(test_pipeline_ticket_submitted_before_start),
        cmocka_unit_test(test_pipeline_log_misconfigured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
