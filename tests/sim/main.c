/*
 * main.c - bpcon-sim, the command line of the deterministic simulator.
 *
 * Owns: each run's options from the flags (flags.c parses and validates
 * them: any bad flag or value is a usage error, exit 2), the parties
 * 'leader' and 'nonleader' name, the defaults of the Byzantine phase,
 * campaigns over many seeds (--seeds, --random-config, --isolate), the
 * progress line, the human summary and the final JSON line, and the exit
 * code. Must never: influence the simulated run with anything but the
 * flags and the seed (the wall and CPU clocks read here only feed the
 * progress line, wall_ms and the per-CPU-second rates), or let one run's
 * state reach the next.
 */
#include "flags.h"
#include "tool_out.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The party a --crash, --restart or --byz names for these options (the
 * first leader depends on the seed); *leader caches the election. */
static uint64_t
main_target_id(const struct sim_opts *o, const struct main_crash *c, int *leader, const char *flag)
{
    if (c->target != MAIN_TARGET_ID && *leader < 0) {
        *leader = sim_opts_first_leader(o);
        if (*leader < 0) {
            main_usage("cannot elect a leader for %s leader/nonleader", flag);
        }
    }
    uint64_t id = c->id;
    if (c->target == MAIN_TARGET_LEADER) {
        id = (uint64_t)*leader;
    } else if (c->target == MAIN_TARGET_NONLEADER) {
        id = ((uint64_t)*leader + 1) % o->parties_count;
    }
    if (id >= o->parties_count) {
        main_usage("%s party %llu outside the party list", flag, (unsigned long long)id);
    }
    return id;
}

/* The Byzantine phase by default: with a Byzantine party, a phase of
 * SIM_DEFAULT_BYZ_PHASE_NS, churn and the default liveness bound; without
 * one, no heal, no churn, no liveness bound. Explicit flags win. */
static void
main_phase_defaults(const struct main_args *a, struct sim_opts *o)
{
    bool byz = false;
    for (uint32_t p = 0; p < o->parties_count; p++) {
        byz = byz || o->byz[p] != SIM_BYZ_NONE;
    }
    o->heal_at_ns = a->phase_set ? a->phase_ns : byz ? SIM_DEFAULT_BYZ_PHASE_NS : SIM_NEVER;
    if (!a->churn_set) {
        o->churn_ns = byz ? SIM_DEFAULT_CHURN_NS : 0;
    }
    if (!a->liveness_set) {
        o->liveness_ns = o->heal_at_ns != SIM_NEVER ? sim_opts_default_liveness(o) : 0;
    }
}

/* One run's options from the flags and its seed: crash, restart and
 * Byzantine ids are checked once the party count is known (and 'leader'
 * resolved for this seed); a restart needs an earlier crash of the same
 * party. */
static void
main_resolve(const struct main_args *a, struct sim_opts *o)
{
    if (o->delay_min_ns > o->delay_max_ns) {
        main_usage("--delay-min-us above --delay-max-us");
    }
    int leader = -1;
    for (uint32_t i = 0; i < a->crashes_count; i++) {
        const struct main_crash *c = &a->crashes[i];
        uint64_t id = main_target_id(o, c, &leader, "--crash");
        if (o->crash_at_ns[id] != SIM_NEVER) {
            /* Before, the earlier time won without a word (a store
             * review's note). */
            main_usage("--crash names party %llu twice (one crash per party)",
                       (unsigned long long)id);
        }
        o->crash_at_ns[id] = c->at_ns;
    }
    for (uint32_t i = 0; i < a->restarts_count; i++) {
        const struct main_crash *c = &a->restarts[i];
        uint64_t id = main_target_id(o, c, &leader, "--restart");
        if (o->restart_at_ns[id] != SIM_NEVER || o->crash_at_ns[id] >= c->at_ns) {
            main_usage("--restart of party %llu needs one earlier --crash of it",
                       (unsigned long long)id);
        }
        o->restart_at_ns[id] = c->at_ns;
    }
    for (uint32_t i = 0; i < a->byz_count; i++) {
        uint64_t id = main_target_id(o, &a->byz[i], &leader, "--byz");
        if (o->byz[id] != SIM_BYZ_NONE) {
            /* 'leader' or 'nonleader' may name a party also given by id. */
            main_usage("--byz names party %llu twice (one kind per party)", (unsigned long long)id);
        }
        o->byz[id] = a->byz_kinds[i];
    }
    main_phase_defaults(a, o);
}

/* ------------------------------------------------------------------------
 * Clocks (outside the simulation), progress, summary and JSON.
 * ---------------------------------------------------------------------- */

/* A clock in seconds (outside the simulation). */
static double
main_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct main_progress {
    double wall_start_s;
    double wall_last_s;
};

/* The progress line, at most once per wall second. */
static void
main_progress(void *ctx, const struct sim *s)
{
    struct main_progress *pr = ctx;
    double now = main_clock_s(CLOCK_MONOTONIC);
    if (now - pr->wall_last_s < 1.0) {
        return;
    }
    pr->wall_last_s = now;
    fprintf(stderr, "bpcon-sim: wall %.0f s, virtual %llu us, decided %llu, frames %llu\n",
            now - pr->wall_start_s, (unsigned long long)(sim_now_ns(s) / 1000),
            (unsigned long long)sim_decided_min(s), (unsigned long long)sim_frames_delivered(s));
}

/* The human summary of one run (desc: a random configuration, or ""). */
static void
main_summary(const struct sim_opts *o, const struct sim_result *r, double wall_ms, const char *desc)
{
    char wb[48];
    char tb[48];
    char fb[48];
    printf("bpcon-sim: seed %llu, %u parties, W = %s, T = %s, F = %s, mode %s\n",
           (unsigned long long)r->seed, r->parties, bpc_u128_str(r->total_weight, wb),
           bpc_u128_str(r->threshold, tb), bpc_u128_str(r->f, fb),
           o->mode == BPC_MODE_PACED ? "paced" : "fast");
    if (desc[0] != '\0') {
        printf("random config: %s\n", desc);
    }
    if (o->commands > 0) {
        printf("outcome: %s; applied %llu of %llu commands (%llu instances decided) by all %u "
               "correct live parties (first leader %d, max ballot %llu)\n",
               sim_outcome_name(r->outcome), (unsigned long long)r->commands,
               (unsigned long long)o->commands, (unsigned long long)r->decided, r->correct_live,
               r->first_leader, (unsigned long long)r->max_ballot);
    } else {
        printf("outcome: %s; decided %llu of %llu instances (%llu commands) by all %u correct "
               "live parties (first leader %d, max ballot %llu)\n",
               sim_outcome_name(r->outcome), (unsigned long long)r->decided,
               (unsigned long long)o->instances, (unsigned long long)r->commands, r->correct_live,
               r->first_leader, (unsigned long long)r->max_ballot);
    }
    printf("safety: agreement %s, validity %s, integrity %s, order %s; liveness %s\n",
           r->agreement ? "ok" : "VIOLATED", r->validity ? "ok" : "VIOLATED",
           r->integrity ? "ok" : "VIOLATED", r->order ? "ok" : "VIOLATED",
           o->liveness_ns == 0 ? "not checked"
           : r->liveness       ? "ok"
                               : "VIOLATED");
    if (r->violation[0] != '\0') {
        printf("first problem: %s\n", r->violation);
    }
    printf("network: %llu frames sent, %llu delivered (%llu records), %llu lost, %llu "
           "duplicated, %llu to dead parties, %llu Byzantine\n",
           (unsigned long long)r->frames_sent, (unsigned long long)r->frames,
           (unsigned long long)r->messages, (unsigned long long)r->frames_lost,
           (unsigned long long)r->frames_dup, (unsigned long long)r->frames_dead,
           (unsigned long long)r->byz_frames);
    if (r->byz_frames > 0 || r->healed_at_ns != SIM_NEVER) {
        printf("byzantine: %llu frames (%llu crafted, %llu engine frames rewritten), %llu "
               "muted-leader frames dropped, %llu Byzantine-led ballots, %llu Byzantine "
               "commands applied; ",
               (unsigned long long)r->byz_frames, (unsigned long long)r->byz_crafted,
               (unsigned long long)r->byz_rewritten, (unsigned long long)r->frames_muted,
               (unsigned long long)r->byz_ballots, (unsigned long long)r->byz_applied);
        if (r->healed_at_ns == SIM_NEVER) {
            printf("no heal\n");
        } else {
            printf("healed at %llu us\n", (unsigned long long)(r->healed_at_ns / 1000));
        }
    }
    printf("time: %llu us virtual, %.1f ms wall; %llu steps, %llu persisted records\n",
           (unsigned long long)(r->sim_time_ns / 1000), wall_ms, (unsigned long long)r->steps,
           (unsigned long long)r->persists);
    if (r->restarts > 0) {
        printf("restarts: %llu; %llu re-emitted decisions matched the application logs\n",
               (unsigned long long)r->restarts, (unsigned long long)r->replayed);
    }
}

/* The non-zero engine counters as a JSON object. */
static void
main_json_counters(const uint64_t *counters)
{
    printf("\"engine_counters\":{");
    bool first = true;
    for (uint32_t i = 0; i < SIM_COUNTERS_COUNT; i++) {
        if (counters[i] != 0) {
            printf("%s\"%s\":%llu", first ? "" : ",", sim_counter_name(i),
                   (unsigned long long)counters[i]);
            first = false;
        }
    }
    printf("}");
}

/* The non-zero engine drop counters as a JSON object. */
static void
main_json_drops(const struct sim_result *r)
{
    printf("\"engine_drops\":{");
    bool first = true;
    for (uint32_t i = 0; i < BPC_DROP_REASONS_COUNT; i++) {
        if (r->drops[i] == 0) {
            continue;
        }
        const char *name = bpc_drop_reason_name((enum bpc_drop_reason)i);
        printf("%s\"%s\":%llu", first ? "" : ",", name != NULL ? name : "?",
               (unsigned long long)r->drops[i]);
        first = false;
    }
    printf("}");
}

/* One run's JSON line. */
static void
main_json(const struct sim_result *r, double wall_ms, double cpu_s)
{
    char fb[48];
    char tb[48];
    char wb[48];
    char hash[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hash + 2 * i, 3, "%02x", r->run_hash[i]);
    }
    printf("{\"outcome\":\"%s\",\"decided\":%llu,\"commands\":%llu,\"agreement\":%s,"
           "\"validity\":%s,\"integrity\":%s,\"order\":%s,\"liveness\":%s,",
           sim_outcome_name(r->outcome), (unsigned long long)r->decided,
           (unsigned long long)r->commands, r->agreement ? "true" : "false",
           r->validity ? "true" : "false", r->integrity ? "true" : "false",
           r->order ? "true" : "false", r->liveness ? "true" : "false");
    printf("\"first_leader\":%d,\"max_ballot\":%llu,\"f\":%s,\"threshold\":%s,"
           "\"total_weight\":%s,\"parties\":%u,\"correct_live\":%u,\"seed\":%llu,",
           r->first_leader, (unsigned long long)r->max_ballot, bpc_u128_str(r->f, fb),
           bpc_u128_str(r->threshold, tb), bpc_u128_str(r->total_weight, wb), r->parties,
           r->correct_live, (unsigned long long)r->seed);
    printf("\"sim_time_us\":%llu,\"messages\":%llu,\"frames\":%llu,\"frames_sent\":%llu,"
           "\"frames_lost\":%llu,\"frames_dup\":%llu,\"byz_frames\":%llu,\"steps\":%llu,"
           "\"equivocations\":%llu,",
           (unsigned long long)(r->sim_time_ns / 1000), (unsigned long long)r->messages,
           (unsigned long long)r->frames, (unsigned long long)r->frames_sent,
           (unsigned long long)r->frames_lost, (unsigned long long)r->frames_dup,
           (unsigned long long)r->byz_frames, (unsigned long long)r->steps,
           (unsigned long long)r->equivocations);
    main_json_drops(r);
    printf(",\"restarts\":%llu,\"replayed\":%llu", (unsigned long long)r->restarts,
           (unsigned long long)r->replayed);
    printf(",\"frames_inflight_max\":%llu,\"net_bytes_max\":%llu",
           (unsigned long long)r->net_inflight_max, (unsigned long long)r->net_bytes_max);
    printf(",\"byz_crafted\":%llu,\"frames_muted\":%llu,\"byz_ballots\":%llu,"
           "\"byz_equivocated\":%llu,\"byz_forged\":%llu,\"byz_applied\":%llu,"
           "\"byz_unsent\":%llu,",
           (unsigned long long)r->byz_crafted, (unsigned long long)r->frames_muted,
           (unsigned long long)r->byz_ballots, (unsigned long long)r->byz_equivocated,
           (unsigned long long)r->byz_forged, (unsigned long long)r->byz_applied,
           (unsigned long long)r->byz_unsent);
    main_json_counters(r->counters);
    printf(",\"healed_at_us\":");
    if (r->healed_at_ns == SIM_NEVER) {
        printf("null");
    } else {
        printf("%llu", (unsigned long long)(r->healed_at_ns / 1000));
    }
    double rate = cpu_s > 0.0 ? (double)r->decided / cpu_s : 0.0;
    double crate = cpu_s > 0.0 ? (double)r->commands / cpu_s : 0.0;
    printf(",\"wall_ms\":%.3f,\"cpu_s\":%.3f,\"decisions_per_cpu_s\":%.1f,"
           "\"commands_per_cpu_s\":%.1f,\"run_hash\":\"%s\"}\n",
           wall_ms, cpu_s, rate, crate, hash);
}

/* The exit code of one run's outcome. */
static int
main_exit_code(const struct sim_result *r)
{
    switch (r->outcome) {
    case SIM_DONE:
        return MAIN_EXIT_OK;
    case SIM_VIOLATION:
    case SIM_ENGINE_ERROR:
        return MAIN_EXIT_UNSAFE;
    case SIM_RUNNING:
    case SIM_TIME_LIMIT:
    case SIM_STALLED:
        break;
    }
    return MAIN_EXIT_UNDECIDED;
}

/* The seed of the run in progress, for the abort handler: an engine
 * assertion kills the process, and the seed must still be known. */
static volatile sig_atomic_t main_running;
static char main_abort_note[96];
static size_t main_abort_note_len;

/* Prints the running seed (async-signal-safe), then dies as asked. */
static void
main_on_fatal(int sig)
{
    if (main_running && main_abort_note_len > 0) {
        ssize_t w = write(STDERR_FILENO, main_abort_note, main_abort_note_len);
        (void)w;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Arms the note the abort handler prints for this seed. */
static void
main_note_seed(uint64_t seed)
{
    int k = snprintf(main_abort_note, sizeof(main_abort_note),
                     "bpcon-sim: died during seed %llu (replay with --seed %llu)\n",
                     (unsigned long long)seed, (unsigned long long)seed);
    main_abort_note_len = k > 0 ? (size_t)k : 0;
    main_running = 1;
}

/* Builds and runs one simulation; false (message in err) when the options
 * are refused. keep: leave the simulation allocated (a child process that
 * exits next skips the decided logs' RCU barriers, which cost far more
 * wall time than a short run). */
static bool
main_run_one(const struct sim_opts *o, struct sim_result *r, char *err, size_t err_len, bool keep,
             double *end_wall_s, double *end_cpu_s)
{
    struct sim *s = NULL;
    int rc = sim_init(&s, o, err, err_len);
    if (rc != 0) {
        if (err[0] == '\0') {
            snprintf(err, err_len, "%s", bpc_strerror(-rc));
        }
        return false;
    }
    main_note_seed(o->seed);
    sim_run(s);
    sim_result(s, r);
    if (end_wall_s != NULL) {
        /* Before sim_free, whose RCU barriers wait rather than work. */
        *end_wall_s = main_clock_s(CLOCK_MONOTONIC);
        *end_cpu_s = main_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    }
    if (!keep) {
        sim_free(s);
    }
    main_running = 0;
    return true;
}

/* The options of the run with this seed: the flags, a random config when
 * asked, 'leader' resolved, the phase defaults. desc gets the config. */
static void
main_opts_for(const struct main_args *a, uint64_t seed, struct sim_opts *o, char *desc,
              size_t desc_len)
{
    *o = a->o;
    o->seed = seed;
    desc[0] = '\0';
    if (a->random_config && sim_opts_random(o, seed, desc, desc_len) != 0) {
        main_usage("--random-config: no valid configuration drawn for seed %llu",
                   (unsigned long long)seed);
    }
    main_resolve(a, o);
}

/* A campaign's tallies. */
struct main_tally {
    uint64_t runs;
    uint64_t instances;
    uint64_t commands;
    uint64_t agreement;
    uint64_t validity;
    uint64_t integrity;
    uint64_t order;
    uint64_t liveness;
    uint64_t engine_error;
    uint64_t aborts;
    uint64_t undecided;
    uint64_t refused;
    uint64_t failed;
    bool any_failed;
    uint64_t first_failed;
    char first_problem[256];
    uint64_t kinds[SIM_BYZ_KINDS_COUNT]; /* runs by Byzantine kind present */
    uint64_t byz_ballots;
    uint64_t byz_equivocated;
    uint64_t byz_forged;
    uint64_t byz_unsent;
    uint64_t equivocations;
    uint64_t max_ballot;
    uint64_t counters[SIM_COUNTERS_COUNT];
};

/* One campaign run in a child process: its result comes back through a
 * pipe; a child that dies (an engine abort) reports nothing. Returns 1
 * when the result arrived, 0 when the child died, -1 when refused. */
static int
main_run_isolated(const struct sim_opts *o, struct sim_result *r, char *err, size_t err_len)
{
    int fds[2];
    if (pipe(fds) != 0) {
        main_usage("--isolate: pipe failed");
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        main_usage("--isolate: fork failed");
    }
    if (pid == 0) {
        close(fds[0]);
        int code = main_run_one(o, r, err, err_len, true, NULL, NULL) ? 0 : MAIN_EXIT_USAGE;
        if (code == 0 && write(fds[1], r, sizeof(*r)) != (ssize_t)sizeof(*r)) {
            code = MAIN_EXIT_USAGE;
        } else if (code != 0 && write(fds[1], err, err_len) < 0) {
            code = MAIN_EXIT_USAGE;
        }
        _exit(code);
    }
    close(fds[1]);
    size_t got = 0;
    uint8_t buf[sizeof(*r) > 512 ? sizeof(*r) : 512];
    for (;;) {
        ssize_t k = read(fds[0], buf + got, sizeof(buf) - got);
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof(*r)) {
        memcpy(r, buf, sizeof(*r));
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == MAIN_EXIT_USAGE) {
        snprintf(err, err_len, "%.*s", (int)(got < err_len ? got : err_len - 1), (const char *)buf);
        return -1;
    }
    return 0;
}

/* Records one run's verdicts in the tally. */
static void
main_tally_add(struct main_tally *t, const struct sim_opts *o, const struct sim_result *r,
               const char *desc)
{
    t->runs++;
    t->instances += r->decided;
    t->commands += r->commands;
    t->agreement += r->agreement ? 0u : 1u;
    t->validity += r->validity ? 0u : 1u;
    t->integrity += r->integrity ? 0u : 1u;
    t->order += r->order ? 0u : 1u;
    t->liveness += r->liveness ? 0u : 1u;
    t->engine_error += r->outcome == SIM_ENGINE_ERROR ? 1u : 0u;
    t->undecided += r->outcome == SIM_TIME_LIMIT || r->outcome == SIM_STALLED ? 1u : 0u;
    t->byz_ballots += r->byz_ballots;
    t->byz_equivocated += r->byz_equivocated;
    t->byz_forged += r->byz_forged;
    t->byz_unsent += r->byz_unsent;
    t->equivocations += r->equivocations;
    for (uint32_t i = 0; i < SIM_COUNTERS_COUNT; i++) {
        t->counters[i] += r->counters[i];
    }
    t->max_ballot = r->max_ballot > t->max_ballot ? r->max_ballot : t->max_ballot;
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->byz[p] != SIM_BYZ_NONE) {
            t->kinds[o->byz[p]]++;
            break;
        }
    }
    if (r->outcome != SIM_VIOLATION && r->outcome != SIM_ENGINE_ERROR) {
        return;
    }
    t->failed++;
    fprintf(stderr, "bpcon-sim: seed %llu: %s%s%s\n", (unsigned long long)o->seed, r->violation,
            desc[0] ? " | random config: " : "", desc);
    if (!t->any_failed) {
        t->any_failed = true;
        t->first_failed = o->seed;
        snprintf(t->first_problem, sizeof(t->first_problem), "%s", r->violation);
    }
}

/* Records a run that died (an engine abort in an isolated child). */
static void
main_tally_abort(struct main_tally *t, uint64_t seed, const char *desc)
{
    t->runs++;
    t->aborts++;
    t->failed++;
    fprintf(stderr, "bpcon-sim: seed %llu: the run died (engine abort)%s%s\n",
            (unsigned long long)seed, desc[0] ? " | random config: " : "", desc);
    if (!t->any_failed) {
        t->any_failed = true;
        t->first_failed = seed;
        snprintf(t->first_problem, sizeof(t->first_problem), "engine abort");
    }
}

/* Prints a JSON string (quotes and backslashes escaped). */
static void
main_json_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        putchar((unsigned char)*s >= 0x20 ? *s : ' ');
    }
    putchar('"');
}

/* The campaign's one JSON line. */
static void
main_tally_json(const struct main_tally *t, uint64_t seed0, double wall_ms, double cpu_s)
{
    printf("{\"runs\":%llu,\"seed_first\":%llu,\"instances\":%llu,\"commands\":%llu,",
           (unsigned long long)t->runs, (unsigned long long)seed0, (unsigned long long)t->instances,
           (unsigned long long)t->commands);
    printf("\"violations\":{\"agreement\":%llu,\"validity\":%llu,\"integrity\":%llu,"
           "\"order\":%llu,\"liveness\":%llu,\"engine_error\":%llu,\"abort\":%llu},",
           (unsigned long long)t->agreement, (unsigned long long)t->validity,
           (unsigned long long)t->integrity, (unsigned long long)t->order,
           (unsigned long long)t->liveness, (unsigned long long)t->engine_error,
           (unsigned long long)t->aborts);
    printf("\"failed_runs\":%llu,\"undecided\":%llu,\"byz_ballots\":%llu,"
           "\"byz_equivocated\":%llu,\"byz_forged\":%llu,\"byz_unsent\":%llu,"
           "\"max_ballot\":%llu,",
           (unsigned long long)t->failed, (unsigned long long)t->undecided,
           (unsigned long long)t->byz_ballots, (unsigned long long)t->byz_equivocated,
           (unsigned long long)t->byz_forged, (unsigned long long)t->byz_unsent,
           (unsigned long long)t->max_ballot);
    main_json_counters(t->counters);
    printf(",\"byz_kinds\":{");
    bool first = true;
    for (int k = SIM_BYZ_NONE + 1; k < SIM_BYZ_KINDS_COUNT; k++) {
        if (t->kinds[k] > 0) {
            printf("%s\"%s\":%llu", first ? "" : ",", sim_byz_kind_name((enum sim_byz_kind)k),
                   (unsigned long long)t->kinds[k]);
            first = false;
        }
    }
    printf("},\"first_failing_seed\":");
    if (t->any_failed) {
        printf("%llu,\"first_problem\":", (unsigned long long)t->first_failed);
        main_json_str(t->first_problem);
    } else {
        printf("null,\"first_problem\":null");
    }
    printf(",\"wall_ms\":%.3f,\"cpu_s\":%.3f}\n", wall_ms, cpu_s);
}

/* --seeds K: K runs, one JSON line; 1 when any run failed (safety,
 * liveness, engine error or abort), 3 when any was undecided, else 0. */
static int
main_campaign(const struct main_args *a)
{
    static struct main_tally t;
    static struct sim_opts o;
    static struct sim_result r;
    memset(&t, 0, sizeof(t));
    double wall0 = main_clock_s(CLOCK_MONOTONIC);
    double cpu0 = main_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t seed0 = a->o.seed;
    for (uint64_t i = 0; i < a->seeds; i++) {
        char desc[4096];
        char err[512] = {0};
        main_opts_for(a, seed0 + i, &o, desc, sizeof(desc));
        memset(&r, 0, sizeof(r));
        int got = a->isolate ? main_run_isolated(&o, &r, err, sizeof(err))
                             : (main_run_one(&o, &r, err, sizeof(err), false, NULL, NULL) ? 1 : -1);
        if (got < 0) {
            fprintf(stderr, "bpcon-sim: seed %llu: %s\n", (unsigned long long)o.seed, err);
            return MAIN_EXIT_USAGE;
        }
        if (got == 0) {
            main_tally_abort(&t, o.seed, desc);
        } else {
            main_tally_add(&t, &o, &r, desc);
        }
        if (!a->quiet && (i + 1) % 100 == 0) {
            fprintf(stderr, "bpcon-sim: %llu of %llu runs, %llu failed\n",
                    (unsigned long long)(i + 1), (unsigned long long)a->seeds,
                    (unsigned long long)t.failed);
        }
    }
    double wall_ms = (main_clock_s(CLOCK_MONOTONIC) - wall0) * 1e3;
    main_tally_json(&t, seed0, wall_ms, main_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
    if (t.failed > 0) {
        return MAIN_EXIT_UNSAFE;
    }
    return t.undecided > 0 ? MAIN_EXIT_UNDECIDED : MAIN_EXIT_OK;
}

/* One run with the full report. */
static int
main_single(struct main_args *a)
{
    static struct sim_opts o;
    static struct sim_result r;
    char desc[4096];
    main_opts_for(a, a->o.seed, &o, desc, sizeof(desc));
    struct main_progress pr;
    pr.wall_start_s = pr.wall_last_s = main_clock_s(CLOCK_MONOTONIC);
    if (!a->quiet) {
        o.progress = main_progress;
        o.progress_ctx = &pr;
    }
    fprintf(stderr, "bpcon-sim: seed %llu\n", (unsigned long long)o.seed);
    double cpu0 = main_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    char err[512] = {0};
    double wall_end = 0.0;
    double cpu_end = 0.0;
    if (!main_run_one(&o, &r, err, sizeof(err), false, &wall_end, &cpu_end)) {
        fprintf(stderr, "bpcon-sim: %s\n", err);
        return MAIN_EXIT_USAGE;
    }
    double wall_ms = (wall_end - pr.wall_start_s) * 1e3;
    double cpu_s = cpu_end - cpu0;
    if (r.violation[0] != '\0') {
        fprintf(stderr, "bpcon-sim: %s (seed %llu)\n", r.violation, (unsigned long long)r.seed);
    }
    main_summary(&o, &r, wall_ms, desc);
    main_json(&r, wall_ms, cpu_s);
    return main_exit_code(&r);
}

/* --footprint: one engine's storage for the configuration, region by
 * region (bpc_engine_footprint_parts), and the total for all parties. */
static int
main_footprint(const struct main_args *a)
{
    static struct bpc_config cfg;
    sim_engine_config(&a->o, &cfg);
    struct bpc_footprint_part parts[BPC_FOOTPRINT_PARTS_MAX];
    uint32_t count = bpc_engine_footprint_parts(&cfg, parts, BPC_FOOTPRINT_PARTS_MAX);
    if (count == 0 || count > BPC_FOOTPRINT_PARTS_MAX) {
        /* Say why, as a run does (review V1: the reason was not given). */
        char err[256] = "";
        (void)bpc_config_validate(&cfg, err, sizeof(err));
        fprintf(stderr, "bpcon-sim: --footprint: the configuration is out of range%s%s\n",
                err[0] != '\0' ? ": " : "", err);
        return MAIN_EXIT_USAGE;
    }
    printf("engine storage: %u parties, window %u, value_bytes_max %u, commands_max %u, "
           "command bytes %u\n",
           cfg.parties_count, cfg.window_slots, cfg.value_bytes_max, cfg.commands_max,
           bpc_command_bytes_max(&cfg));
    printf("%-22s %12s  %s\n", "region", "bytes", "formula");
    for (uint32_t k = 0; k < count; k++) {
        printf("%-22s %12zu  %s\n", parts[k].name, parts[k].bytes, parts[k].formula);
    }
    size_t total = bpc_engine_footprint(&cfg);
    printf("%-22s %12zu  (each region rounded up to 64 bytes)\n", "total per engine", total);
    printf("%-22s %12llu  (%u engines; bpc_engine_new maps them, so only written pages "
           "become resident)\n",
           "total, all parties", (unsigned long long)total * cfg.parties_count, cfg.parties_count);
    return MAIN_EXIT_OK;
}

/* bpcon-sim: one run with a report, or a campaign. */
int
main(int argc, char **argv)
{
    /* Standard output a closed pipe is a failed write, reported with the
     * documented status (tool_out_status); before (review B4), SIGPIPE
     * killed the program: exit 141, nothing said. */
    signal(SIGPIPE, SIG_IGN);
    static struct main_args a;
    sim_opts_defaults(&a.o);
    main_parse_args(&a, argc, argv);
    if (a.random_config && a.shaped) {
        main_usage("--random-config draws weights, threshold, window, batch, frame and value "
                   "bytes, loss, dup and the Byzantine party itself: drop those flags");
    }
    if (a.isolate && a.seeds == 0) {
        main_usage("--isolate needs --seeds");
    }
    if (a.o.commands > 0 && a.instances_set) {
        main_usage("--commands and --instances both given: --commands N ends the run once N "
                   "commands are applied, --instances N once N instances are decided; pick one");
    }
    if (bpc_init() < 0) {
        fprintf(stderr, "bpcon-sim: bpc_init failed\n");
        return MAIN_EXIT_USAGE;
    }
    if (a.footprint) {
        return tool_out_status("bpcon-sim", main_footprint(&a), MAIN_EXIT_OUTPUT);
    }
    signal(SIGABRT, main_on_fatal);
    signal(SIGSEGV, main_on_fatal);
    signal(SIGBUS, main_on_fatal);
    signal(SIGFPE, main_on_fatal);
    int code = a.seeds > 0 ? main_campaign(&a) : main_single(&a);
    return tool_out_status("bpcon-sim", code, MAIN_EXIT_OUTPUT);
}
