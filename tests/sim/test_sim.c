/*
 * test_sim.c - scenario tests driven through the simulator library.
 *
 * Owns: whole-cluster scenarios (determinism, a crashed first leader, a
 * Byzantine wrong-ballot party, every Byzantine kind through a phase and
 * its heal, loss and duplication over many seeds, the network hooks, a long
 * partition and a restart from disk, both caught up from the peers'
 * decided logs) and self-tests that the checkers catch a split brain, a
 * forged command and a party whose commands never get applied.
 * Must never: sleep, assert on timing, or hide the seed of a failing run
 * (every run prints its seed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

/* Options live in static storage (about 17 KiB), so a failing assertion,
 * which leaves the test by longjmp, leaks nothing. */
static struct sim_opts test_sim_opts_storage;

/* Default options with a seed, instances and a 30 s time limit. */
static struct sim_opts *
test_sim_opts(uint64_t seed, uint64_t instances)
{
    struct sim_opts *o = &test_sim_opts_storage;
    sim_opts_defaults(o);
    o->seed = seed;
    o->instances = instances;
    /* A stalled cluster fails in seconds of wall time, not minutes. */
    o->time_limit_ns = 30000000000u;
    return o;
}

/* Runs o to the end, prints the seed and outcome, returns the result. */
static void
test_sim_run(const struct sim_opts *o, struct sim_result *r)
{
    printf("# sim run: seed %llu, %u parties, %llu instances, loss %.3f, dup %.3f\n",
           (unsigned long long)o->seed, o->parties_count, (unsigned long long)o->instances, o->loss,
           o->dup);
    struct sim *s = NULL;
    char err[256] = {0};
    int rc = sim_init(&s, o, err, sizeof(err));
    if (rc != 0) {
        fail_msg("sim_init: %d %s", rc, err);
    }
    sim_run(s);
    sim_result(s, r);
    printf("#   outcome %s, decided %llu, max ballot %llu, frames %llu%s%s\n",
           sim_outcome_name(r->outcome), (unsigned long long)r->decided,
           (unsigned long long)r->max_ballot, (unsigned long long)r->frames,
           r->violation[0] ? ", problem: " : "", r->violation);
    sim_free(s);
}

/* Every safety checker passed and the engines behaved. */
static void
test_sim_assert_safe(const struct sim_result *r)
{
    assert_true(r->agreement);
    assert_true(r->validity);
    assert_true(r->integrity);
    assert_true(r->order);
    assert_int_not_equal(r->outcome, SIM_VIOLATION);
    assert_int_not_equal(r->outcome, SIM_ENGINE_ERROR);
}

/* Safe, done, and every instance decided. */
static void
test_sim_assert_decided(const struct sim_result *r, uint64_t instances)
{
    test_sim_assert_safe(r);
    assert_int_equal(r->outcome, SIM_DONE);
    assert_true(r->decided >= instances);
}

/* Goal: one seed gives one run. Method: run the same lossy seed twice and
 * compare the run hashes; a different seed gives a different hash. */
static void
test_sim_determinism(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(77, 40);
    o->loss = 0.05;
    o->dup = 0.05;
    struct sim_result a;
    struct sim_result b;
    struct sim_result c;
    test_sim_run(o, &a);
    test_sim_run(o, &b);
    o->seed = 78;
    test_sim_run(o, &c);
    test_sim_assert_decided(&a, 40);
    test_sim_assert_decided(&c, 40);
    assert_memory_equal(a.run_hash, b.run_hash, sizeof(a.run_hash));
    assert_int_equal(a.messages, b.messages);
    assert_int_equal(a.frames, b.frames);
    assert_int_equal(a.sim_time_ns, b.sim_time_ns);
    assert_memory_not_equal(a.run_hash, c.run_hash, sizeof(a.run_hash));
}

/* Goal: the first leader crashing at time 0 only delays the cluster.
 * Method: ask the library for the leader of ballot 1, crash it, and expect
 * every instance decided at a later ballot. */
static void
test_sim_leader_crash(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(5, 30);
    int leader = sim_opts_first_leader(o);
    assert_true(leader >= 0 && leader < (int)o->parties_count);
    o->crash_at_ns[leader] = 0;
    struct sim_result r;
    test_sim_run(o, &r);
    test_sim_assert_decided(&r, 30);
    assert_int_equal(r.first_leader, leader);
    assert_true(r.max_ballot >= 2);
    assert_int_equal(r.correct_live, 3);
}

/* Goal: the origin's malicious-party test. Method: party 3 sends 1B, 2AV
 * and 2B records with far-future and stale ballots every 100 us; the others
 * must still decide, and the far-future ballots must not drag them along. */
static void
test_sim_byz_wrongballot(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct sim_opts *o = test_sim_opts(seed, 30);
        o->byz[3] = SIM_BYZ_WRONGBALLOT;
        struct sim_result r;
        test_sim_run(o, &r);
        test_sim_assert_decided(&r, 30);
        assert_true(r.byz_frames > 0);
        assert_true(r.max_ballot < 1000);
    }
}

/* Sets the campaign's phase: short ballot timeouts, churn, a 20 ms
 * Byzantine phase, then the heal and the default liveness bound. */
static void
test_sim_phase(struct sim_opts *o)
{
    o->ballot_timeout_ns = 2000000u;
    o->churn_ns = 500000u;
    o->heal_at_ns = 20000000u;
    o->liveness_ns = sim_opts_default_liveness(o);
}

/* Goal: every Byzantine kind leaves the correct parties safe and, after
 * the heal, live. Method: party 3 of four is Byzantine of each kind in
 * turn (two seeds each); every run must end done with every check ok. */
static void
test_sim_byz_kinds(void **state)
{
    (void)state;
    for (int kind = SIM_BYZ_NONE + 1; kind < SIM_BYZ_KINDS_COUNT; kind++) {
        for (uint64_t seed = 1; seed <= 2; seed++) {
            struct sim_opts *o = test_sim_opts(seed, 60);
            o->byz[3] = (uint8_t)kind;
            test_sim_phase(o);
            printf("# kind %s\n", sim_byz_kind_name((enum sim_byz_kind)kind));
            struct sim_result r;
            test_sim_run(o, &r);
            test_sim_assert_decided(&r, 60);
            assert_true(r.liveness);
            assert_int_equal(r.correct_live, 3);
            assert_true(kind == SIM_BYZ_SILENT || r.byz_frames > 0);
        }
    }
}

/* Goal: the validity checker catches a forged command. Method: an unsafe
 * threshold (T = 2 of W = 4) lets two colluding forgers, one the first
 * leader, decide values carrying commands under a correct party's name;
 * applying one must be reported. */
static void
test_sim_checker_forgery(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(3, 50);
    int leader = sim_opts_first_leader(o);
    o->threshold = 2;
    o->unsafe = true;
    o->byz[leader] = SIM_BYZ_FORGE;
    o->byz[(leader + 1) % 4] = SIM_BYZ_FORGE;
    test_sim_phase(o);
    struct sim_result r;
    test_sim_run(o, &r);
    assert_int_equal(r.outcome, SIM_VIOLATION);
    assert_false(r.validity);
    assert_true(r.byz_forged > 0);
}

/* Cuts party 0 off from everyone. */
static bool
test_sim_isolate_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
                        uint64_t *delay_ns)
{
    (void)ctx;
    (void)frame;
    (void)len;
    (void)delay_ns;
    return from != 0 && to != 0;
}

/* Goal: the liveness checker catches commands that are never applied.
 * Method: party 0 is cut off for good (it stays correct and live), the
 * heal comes at 1 ms with a 100 ms bound; its commands can never be
 * applied, which must be reported as a liveness violation. */
static void
test_sim_checker_liveness(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(4, 20);
    o->filter = test_sim_isolate_filter;
    o->heal_at_ns = 1000000u;
    o->liveness_ns = 100000000u;
    struct sim_result r;
    test_sim_run(o, &r);
    assert_int_equal(r.outcome, SIM_VIOLATION);
    assert_false(r.liveness);
    assert_true(r.agreement && r.validity && r.integrity && r.order);
    assert_non_null(strstr(r.violation, "of party 0"));
}

/* Goal: no safety violation under loss and duplication, and progress.
 * Method: 20 seeds at 5% loss and 5% duplication, each printed. */
static void
test_sim_loss_dup_seeds(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed < 120; seed++) {
        struct sim_opts *o = test_sim_opts(seed, 20);
        o->loss = 0.05;
        o->dup = 0.05;
        struct sim_result r;
        test_sim_run(o, &r);
        test_sim_assert_decided(&r, 20);
        assert_true(r.frames_lost > 0);
    }
}

struct test_sim_cut {
    uint32_t a;
    uint32_t b;
    uint64_t seen;
    uint64_t dropped;
};

/* Cuts the link between a and b both ways and slows every other frame. */
static bool
test_sim_cut_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
                    uint64_t *delay_ns)
{
    struct test_sim_cut *c = ctx;
    (void)frame;
    (void)len;
    c->seen++;
    if ((from == c->a && to == c->b) || (from == c->b && to == c->a)) {
        c->dropped++;
        return false;
    }
    *delay_ns += 1000;
    return true;
}

/* Goal: the filter hook sees every frame and can drop and delay. Method:
 * cut one link (0 <-> 1) for the whole run; the cluster still decides. */
static void
test_sim_filter_cut_link(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(9, 20);
    struct test_sim_cut cut = {.a = 0, .b = 1};
    o->filter = test_sim_cut_filter;
    o->filter_ctx = &cut;
    struct sim_result r;
    test_sim_run(o, &r);
    test_sim_assert_safe(&r);
    assert_true(cut.seen > 0);
    assert_true(cut.dropped > 0);
    assert_int_equal(r.frames_filtered, cut.dropped);
}

/* Drops every frame. */
static bool
test_sim_drop_all(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
                  uint64_t *delay_ns)
{
    (void)ctx;
    (void)from;
    (void)to;
    (void)frame;
    (void)len;
    (void)delay_ns;
    return false;
}

/* Goal: with no network nothing is decided and nothing unsafe happens.
 * Method: drop every frame; the run ends at the virtual time limit. */
static void
test_sim_filter_drop_all(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(3, 5);
    o->filter = test_sim_drop_all;
    o->time_limit_ns = 5000000000u;
    struct sim_result r;
    test_sim_run(o, &r);
    test_sim_assert_safe(&r);
    assert_int_equal(r.outcome, SIM_TIME_LIMIT);
    assert_int_equal(r.decided, 0);
    assert_int_equal(r.frames, 0);
    assert_true(r.frames_filtered > 0);
}

struct test_sim_split {
    uint32_t half; /* parties below go to one side */
};

/* Keeps frames within one side of the split. */
static bool
test_sim_split_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
                      uint64_t *delay_ns)
{
    const struct test_sim_split *sp = ctx;
    (void)frame;
    (void)len;
    (void)delay_ns;
    return (from < sp->half) == (to < sp->half);
}

/* Goal: the checkers catch a split brain. Method: an unsafe threshold
 * (T = 2 of W = 4) and a partition {0,1} | {2,3}; each side can form a
 * quorum alone, so both decide different commands in the same instance. */
static void
test_sim_checker_split_brain(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(11, 5);
    struct test_sim_split sp = {.half = 2};
    o->threshold = 2;
    o->unsafe = true;
    o->filter = test_sim_split_filter;
    o->filter_ctx = &sp;
    o->time_limit_ns = 60000000000u;
    struct sim_result r;
    test_sim_run(o, &r);
    assert_int_equal(r.outcome, SIM_VIOLATION);
    assert_false(r.agreement);
    assert_true(r.violation[0] != '\0');
}

/* Both catch-up tests compare every party's log with party 0's. */
static void
test_sim_assert_same_logs(const struct sim *s, uint64_t instances)
{
    for (uint32_t p = 1; p < sim_parties(s); p++) {
        uint64_t len = sim_log_len(s, p);
        uint64_t len0 = sim_log_len(s, 0);
        assert_true(len >= instances);
        for (uint64_t i = 0; i < len && i < len0; i++) {
            const struct sim_log_entry *a = sim_log_entry(s, 0, i);
            const struct sim_log_entry *b = sim_log_entry(s, p, i);
            assert_int_equal(a->instance, b->instance);
            assert_true(bpc_vid_eq(&a->vid, &b->vid));
        }
    }
}

/* Cuts every link of party 3 while the virtual time is below the cut. */
struct test_sim_partition {
    const struct sim *s;
    uint64_t until_ns;
};

/* Drops every frame to or from party 3 until the cut ends. */
static bool
test_sim_partition_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
                          uint64_t *delay_ns)
{
    (void)frame;
    (void)len;
    (void)delay_ns;
    const struct test_sim_partition *pt = ctx;
    bool cut = pt->s != NULL && sim_now_ns(pt->s) < pt->until_ns;
    return !(cut && (from == 3 || to == 3));
}

/* Goal: a party cut off for thousands of instances (far more than its
 * window holds) catches up once the link heals. Method: party 3 hears
 * nothing for 30 ms of virtual time (about 2400 instances at window 64);
 * the others must serve the gap from their decided logs, and every log must
 * end up identical. */
static void
test_sim_partition_catchup(void **state)
{
    (void)state;
    static struct test_sim_partition pt;
    struct sim_opts *o = test_sim_opts(11, 4000);
    pt.s = NULL;
    pt.until_ns = 30000000u;
    o->filter = test_sim_partition_filter;
    o->filter_ctx = &pt;
    printf("# sim run: seed %llu, party 3 cut off until %llu ns\n", (unsigned long long)o->seed,
           (unsigned long long)pt.until_ns);
    struct sim *s = NULL;
    char err[256] = {0};
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), 0);
    pt.s = s;
    uint64_t behind = 0;
    while (sim_step_once(s)) {
        if (sim_now_ns(s) < pt.until_ns && sim_log_len(s, 0) > sim_log_len(s, 3)) {
            behind = sim_log_len(s, 0) - sim_log_len(s, 3);
        }
    }
    struct sim_result r;
    sim_result(s, &r);
    printf("#   outcome %s, decided %llu, party 3 was %llu behind%s%s\n",
           sim_outcome_name(r.outcome), (unsigned long long)r.decided, (unsigned long long)behind,
           r.violation[0] ? ", problem: " : "", r.violation);
    test_sim_assert_decided(&r, 4000);
    assert_true(behind > 4u * o->window_slots);
    test_sim_assert_same_logs(s, 4000);
    sim_free(s);
}

/* Goal: a crashed party restarted from its disk catches up to the same
 * log. Method: party 1 crashes at 5 ms (about 400 instances) and restarts
 * at 40 ms (about 3200), restored from its persisted records; it must
 * decide every instance, in agreement with the others. */
static void
test_sim_restart_catchup(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(3, 5000);
    o->crash_at_ns[1] = 5000000u;
    o->restart_at_ns[1] = 40000000u;
    printf("# sim run: seed %llu, party 1 crashes at 5 ms, restarts at 40 ms\n",
           (unsigned long long)o->seed);
    struct sim *s = NULL;
    char err[256] = {0};
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), 0);
    uint64_t at_restart = 0;
    while (sim_step_once(s)) {
        if (sim_now_ns(s) < o->restart_at_ns[1]) {
            at_restart = sim_log_len(s, 0) - sim_log_len(s, 1);
        }
    }
    struct sim_result r;
    sim_result(s, &r);
    printf("#   outcome %s, decided %llu, party 1 was %llu behind at its restart%s%s\n",
           sim_outcome_name(r.outcome), (unsigned long long)r.decided,
           (unsigned long long)at_restart, r.violation[0] ? ", problem: " : "", r.violation);
    test_sim_assert_decided(&r, 5000);
    assert_int_equal(r.restarts, 1);
    assert_int_equal(r.correct_live, 4);
    assert_true(at_restart > 1000);
    test_sim_assert_same_logs(s, 5000);
    sim_free(s);
}

/* Goal: a restart needs an earlier crash of a correct party. */
static void
test_sim_refuses_bad_restart(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(1, 10);
    struct sim *s = NULL;
    char err[256] = {0};
    o->restart_at_ns[1] = 1000;
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), -EINVAL);
    assert_null(s);
    o->crash_at_ns[1] = 2000;
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), -EINVAL);
    assert_null(s);
    o->crash_at_ns[1] = 500;
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), 0);
    assert_int_equal(sim_restart(s, 1), -EINVAL); /* not crashed yet */
    sim_free(s);
}

/* Goal: the simulator refuses more faulty weight than F unless unsafe. */
static void
test_sim_refuses_faulty_above_f(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(1, 5);
    o->crash_at_ns[0] = 0;
    o->byz[1] = SIM_BYZ_WRONGBALLOT;
    struct sim *s = NULL;
    char err[256] = {0};
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "exceeds F"));
    o->unsafe = true;
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), 0);
    sim_free(s);
}

/* Goal: sim_step_once advances virtual time monotonically and stops. */
static void
test_sim_step_once(void **state)
{
    (void)state;
    struct sim_opts *o = test_sim_opts(21, 3);
    struct sim *s = NULL;
    char err[256] = {0};
    assert_int_equal(sim_init(&s, o, err, sizeof(err)), 0);
    uint64_t last = 0;
    uint64_t steps = 0;
    while (sim_step_once(s)) {
        assert_true(sim_now_ns(s) >= last);
        last = sim_now_ns(s);
        steps++;
        assert_true(steps < 10000000u);
    }
    assert_int_equal(sim_outcome(s), SIM_DONE);
    for (uint32_t p = 0; p < sim_parties(s); p++) {
        assert_true(sim_log_len(s, p) >= 3);
        const struct sim_log_entry *e0 = sim_log_entry(s, p, 0);
        const struct sim_log_entry *ref = sim_log_entry(s, 0, 0);
        assert_non_null(e0);
        assert_true(bpc_vid_eq(&e0->vid, &ref->vid));
    }
    assert_false(sim_step_once(s));
    sim_free(s);
}

/* The scenarios, in order. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_refuses_faulty_above_f),
        cmocka_unit_test(test_sim_step_once),
        cmocka_unit_test(test_sim_determinism),
        cmocka_unit_test(test_sim_leader_crash),
        cmocka_unit_test(test_sim_byz_wrongballot),
        cmocka_unit_test(test_sim_byz_kinds),
        cmocka_unit_test(test_sim_checker_forgery),
        cmocka_unit_test(test_sim_checker_liveness),
        cmocka_unit_test(test_sim_loss_dup_seeds),
        cmocka_unit_test(test_sim_filter_cut_link),
        cmocka_unit_test(test_sim_filter_drop_all),
        cmocka_unit_test(test_sim_checker_split_brain),
        cmocka_unit_test(test_sim_partition_catchup),
        cmocka_unit_test(test_sim_restart_catchup),
        cmocka_unit_test(test_sim_refuses_bad_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
