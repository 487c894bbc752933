/*
 * main.c - bpcon-sim, the command line of the deterministic simulator.
 *
 * Owns: flag parsing and validation (strict: any bad flag or value is a
 * usage error, exit 2), the progress line, the human summary and the final
 * JSON line, and the exit code. Must never: influence the simulated run
 * with anything but the flags (the wall and CPU clocks read here only feed
 * the progress line, wall_ms and the per-CPU-second rates).
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum main_exit {
    MAIN_EXIT_OK = 0,
    MAIN_EXIT_UNSAFE = 1,
    MAIN_EXIT_USAGE = 2,
    MAIN_EXIT_UNDECIDED = 3,
};

/* A --crash target: a party id, or the first leader, or a non-leader,
 * resolved once the weights and seed are known. */
enum main_target {
    MAIN_TARGET_ID = 0,
    MAIN_TARGET_LEADER,
    MAIN_TARGET_NONLEADER,
};

struct main_crash {
    enum main_target target;
    uint64_t id;
    uint64_t at_ns;
};

struct main_args {
    struct sim_opts o;
    bool quiet;
    uint32_t crashes_count;
    struct main_crash crashes[BPC_PARTIES_MAX];
    uint32_t restarts_count;
    struct main_crash restarts[BPC_PARTIES_MAX];
    uint32_t byz_count;
    uint64_t byz_ids[BPC_PARTIES_MAX];
    uint8_t byz_kinds[BPC_PARTIES_MAX];
};

static const char main_usage_text[] =
    "usage: bpcon-sim [flags]\n"
    "  --weights W1,W2,...    party weights, u64 each (default 1,1,1,1)\n"
    "  --threshold T          quorum weight, u128 decimal (default ceil(2W/3))\n"
    "  --instances N          stop once every correct live party decided N instances\n"
    "                         (default 100); parties submit commands until then\n"
    "  --window W             instance window slots, a power of two (default 64)\n"
    "  --batch B              commands per decided value, 1..64 (default: engine's, 16);\n"
    "                         --batch-max B is the same flag\n"
    "  --tx-frames N          tx buffers per engine step (default max(2n, 256)); a step\n"
    "                         that runs out resumes after the next event\n"
    "  --seed S               u64 seed of every random choice (default 1)\n"
    "  --loss P               probability a frame is lost, [0, 1] (default 0)\n"
    "  --dup P                probability a frame is duplicated, [0, 1] (default 0)\n"
    "  --delay-min-us D       smallest network delay (default 20)\n"
    "  --delay-max-us D       largest network delay (default 200)\n"
    "  --crash ID[@TIME_US]   party ID (or 'leader' / 'nonleader' for ballot 1) stops\n"
    "                         at TIME_US (default 0); repeatable\n"
    "  --restart ID@TIME_US   a party crashed earlier restarts from its disk at\n"
    "                         TIME_US (ID as for --crash); repeatable\n"
    "  --byz ID:KIND          party ID is Byzantine; KIND: wrongballot; repeatable\n"
    "  --byz-period-us P      a Byzantine party acts every P us (default 100)\n"
    "  --mode fast|paced      phase pacing (default fast)\n"
    "  --unsafe               allow faulty weight above F and refused thresholds\n"
    "  --time-limit-us L      virtual time limit (default 600000000)\n"
    "  --quiet                no progress lines\n"
    "  --help                 this text\n"
    "exit: 0 safe and all decided, 1 safety violation or engine error,\n"
    "      2 usage, 3 safe but not all decided\n";

static _Noreturn void main_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
main_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bpcon-sim: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", main_usage_text);
    exit(MAIN_EXIT_USAGE);
}

/* Strict u64: decimal digits only, fully consumed, no overflow. */
static bool
main_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static bool
main_parse_u128(const char *s, bpc_u128 *out)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    bpc_u128 v = 0;
    const bpc_u128 max = ~(bpc_u128)0;
    for (const char *c = s; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') {
            return false;
        }
        unsigned d = (unsigned)(*c - '0');
        if (v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool
main_parse_prob(const char *s, double *out)
{
    /* Plain decimal only: strtod would also take hex, inf and nan. */
    if (s == NULL || s[0] == '\0' || strspn(s, "0123456789.eE+-") != strlen(s)) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0.0 || v > 1.0) {
        return false;
    }
    *out = v;
    return true;
}

static bool
main_parse_us(const char *s, uint64_t *ns)
{
    uint64_t us = 0;
    if (!main_parse_u64(s, &us) || us > UINT64_MAX / 1000) {
        return false;
    }
    *ns = us * 1000;
    return true;
}

static void
main_parse_weights(struct main_args *a, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL) {
        main_usage("out of memory parsing %s", "--weights");
    }
    uint32_t count = 0;
    char *save = NULL;
    size_t len = strlen(s);
    if (len == 0 || s[0] == ',' || s[len - 1] == ',' || strstr(s, ",,") != NULL) {
        main_usage("bad --weights '%s': empty element", s);
    }
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (count >= BPC_PARTIES_MAX) {
            main_usage("bad --weights '%.64s...': too many parties", s);
        }
        if (!main_parse_u64(tok, &a->o.weights[count])) {
            main_usage("bad --weights element '%s'", tok);
        }
        count++;
    }
    free(copy);
    a->o.parties_count = count;
}

/* ID[@TIME_US] for --crash, ID@TIME_US for --restart (need_time). */
static void
main_parse_crash(struct main_args *a, const char *s, bool restart)
{
    const char *flag = restart ? "--restart" : "--crash";
    uint32_t *count = restart ? &a->restarts_count : &a->crashes_count;
    if (*count >= BPC_PARTIES_MAX) {
        main_usage("too many %s flags (at '%s')", flag, s);
    }
    struct main_crash *c = restart ? &a->restarts[(*count)++] : &a->crashes[(*count)++];
    char buf[64];
    if (strlen(s) >= sizeof(buf)) {
        main_usage("bad %s '%s'", flag, s);
    }
    strcpy(buf, s);
    char *at = strchr(buf, '@');
    c->at_ns = 0;
    if (at == NULL && restart) {
        main_usage("bad --restart '%s': expected ID@TIME_US", s);
    }
    if (at != NULL) {
        *at = '\0';
        if (!main_parse_us(at + 1, &c->at_ns)) {
            main_usage("bad %s time in '%s'", flag, s);
        }
    }
    if (strcmp(buf, "leader") == 0) {
        c->target = MAIN_TARGET_LEADER;
    } else if (strcmp(buf, "nonleader") == 0) {
        c->target = MAIN_TARGET_NONLEADER;
    } else if (main_parse_u64(buf, &c->id)) {
        c->target = MAIN_TARGET_ID;
    } else {
        main_usage("bad %s party in '%s'", flag, s);
    }
}

static void
main_parse_byz(struct main_args *a, const char *s)
{
    if (a->byz_count >= BPC_PARTIES_MAX) {
        main_usage("too many --byz flags (at '%s')", s);
    }
    char buf[64];
    if (strlen(s) >= sizeof(buf)) {
        main_usage("bad --byz '%s'", s);
    }
    strcpy(buf, s);
    char *colon = strchr(buf, ':');
    if (colon == NULL) {
        main_usage("bad --byz '%s': expected ID:KIND", s);
    }
    *colon = '\0';
    uint64_t id = 0;
    if (!main_parse_u64(buf, &id)) {
        main_usage("bad --byz party in '%s'", s);
    }
    int kind = sim_byz_kind_parse(colon + 1);
    if (kind < 0) {
        main_usage("unknown --byz kind in '%s' (known: wrongballot)", s);
    }
    a->byz_ids[a->byz_count] = id;
    a->byz_kinds[a->byz_count++] = (uint8_t)kind;
}

enum main_flag {
    MAIN_F_WEIGHTS,
    MAIN_F_THRESHOLD,
    MAIN_F_INSTANCES,
    MAIN_F_WINDOW,
    MAIN_F_BATCH_MAX,
    MAIN_F_TX_FRAMES,
    MAIN_F_SEED,
    MAIN_F_LOSS,
    MAIN_F_DUP,
    MAIN_F_DELAY_MIN,
    MAIN_F_DELAY_MAX,
    MAIN_F_CRASH,
    MAIN_F_RESTART,
    MAIN_F_BYZ,
    MAIN_F_BYZ_PERIOD,
    MAIN_F_MODE,
    MAIN_F_TIME_LIMIT,
    MAIN_F_UNSAFE,
    MAIN_F_QUIET,
    MAIN_F_HELP,
};

static const struct {
    const char *name;
    enum main_flag flag;
    bool has_value;
} main_flags[] = {
    {"--weights", MAIN_F_WEIGHTS, true},
    {"--threshold", MAIN_F_THRESHOLD, true},
    {"--instances", MAIN_F_INSTANCES, true},
    {"--window", MAIN_F_WINDOW, true},
    {"--batch", MAIN_F_BATCH_MAX, true},
    {"--batch-max", MAIN_F_BATCH_MAX, true},
    {"--tx-frames", MAIN_F_TX_FRAMES, true},
    {"--seed", MAIN_F_SEED, true},
    {"--loss", MAIN_F_LOSS, true},
    {"--dup", MAIN_F_DUP, true},
    {"--delay-min-us", MAIN_F_DELAY_MIN, true},
    {"--delay-max-us", MAIN_F_DELAY_MAX, true},
    {"--crash", MAIN_F_CRASH, true},
    {"--restart", MAIN_F_RESTART, true},
    {"--byz", MAIN_F_BYZ, true},
    {"--byz-period-us", MAIN_F_BYZ_PERIOD, true},
    {"--mode", MAIN_F_MODE, true},
    {"--time-limit-us", MAIN_F_TIME_LIMIT, true},
    {"--unsafe", MAIN_F_UNSAFE, false},
    {"--quiet", MAIN_F_QUIET, false},
    {"--help", MAIN_F_HELP, false},
};

static void
main_apply_number(struct main_args *a, enum main_flag f, const char *v)
{
    struct sim_opts *o = &a->o;
    uint64_t x = 0;
    bool ok = false;
    switch (f) {
    case MAIN_F_INSTANCES:
        ok = main_parse_u64(v, &o->instances) && o->instances > 0;
        break;
    case MAIN_F_WINDOW:
        ok = main_parse_u64(v, &x) && x > 0 && x <= BPC_WINDOW_SLOTS_MAX;
        o->window_slots = (uint32_t)x;
        break;
    case MAIN_F_BATCH_MAX:
        ok = main_parse_u64(v, &x) && x > 0 && x <= BPC_BATCH_MAX;
        o->batch_max = (uint32_t)x;
        break;
    case MAIN_F_TX_FRAMES:
        ok = main_parse_u64(v, &x) && x > 0 && x <= 65536;
        o->tx_frames = (uint32_t)x;
        break;
    case MAIN_F_SEED:
        ok = main_parse_u64(v, &o->seed);
        break;
    case MAIN_F_DELAY_MIN:
        ok = main_parse_us(v, &o->delay_min_ns);
        break;
    case MAIN_F_DELAY_MAX:
        ok = main_parse_us(v, &o->delay_max_ns);
        break;
    case MAIN_F_BYZ_PERIOD:
        ok = main_parse_us(v, &o->byz_period_ns) && o->byz_period_ns > 0;
        break;
    case MAIN_F_TIME_LIMIT:
        ok = main_parse_us(v, &o->time_limit_ns);
        break;
    case MAIN_F_WEIGHTS:
    case MAIN_F_THRESHOLD:
    case MAIN_F_LOSS:
    case MAIN_F_DUP:
    case MAIN_F_CRASH:
    case MAIN_F_RESTART:
    case MAIN_F_BYZ:
    case MAIN_F_MODE:
    case MAIN_F_UNSAFE:
    case MAIN_F_QUIET:
    case MAIN_F_HELP:
        break;
    }
    if (!ok) {
        main_usage("bad numeric value '%s'", v);
    }
}

static void
main_apply(struct main_args *a, enum main_flag f, const char *v)
{
    switch (f) {
    case MAIN_F_WEIGHTS:
        main_parse_weights(a, v);
        break;
    case MAIN_F_THRESHOLD:
        if (!main_parse_u128(v, &a->o.threshold)) {
            main_usage("bad --threshold '%s'", v);
        }
        break;
    case MAIN_F_LOSS:
    case MAIN_F_DUP:
        if (!main_parse_prob(v, f == MAIN_F_LOSS ? &a->o.loss : &a->o.dup)) {
            main_usage("bad probability '%s' (expected a number in [0, 1])", v);
        }
        break;
    case MAIN_F_CRASH:
    case MAIN_F_RESTART:
        main_parse_crash(a, v, f == MAIN_F_RESTART);
        break;
    case MAIN_F_BYZ:
        main_parse_byz(a, v);
        break;
    case MAIN_F_MODE:
        if (strcmp(v, "fast") == 0) {
            a->o.mode = BPC_MODE_FAST;
        } else if (strcmp(v, "paced") == 0) {
            a->o.mode = BPC_MODE_PACED;
        } else {
            main_usage("bad --mode '%s' (fast or paced)", v);
        }
        break;
    case MAIN_F_UNSAFE:
        a->o.unsafe = true;
        break;
    case MAIN_F_QUIET:
        a->quiet = true;
        break;
    case MAIN_F_HELP:
        fputs(main_usage_text, stdout);
        exit(MAIN_EXIT_OK);
    case MAIN_F_INSTANCES:
    case MAIN_F_WINDOW:
    case MAIN_F_BATCH_MAX:
    case MAIN_F_TX_FRAMES:
    case MAIN_F_SEED:
    case MAIN_F_DELAY_MIN:
    case MAIN_F_DELAY_MAX:
    case MAIN_F_BYZ_PERIOD:
    case MAIN_F_TIME_LIMIT:
        main_apply_number(a, f, v);
        break;
    }
}

/* Accepts "--flag value" and "--flag=value". */
static void
main_parse_args(struct main_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        size_t k = 0;
        size_t flags_count = sizeof(main_flags) / sizeof(main_flags[0]);
        while (k < flags_count && (strlen(main_flags[k].name) != name_len ||
                                   strncmp(main_flags[k].name, arg, name_len) != 0)) {
            k++;
        }
        if (k == flags_count) {
            main_usage("unknown flag '%s'", arg);
        }
        const char *value = NULL;
        if (main_flags[k].has_value) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                main_usage("flag '%s' needs a value", arg);
            }
        } else if (eq != NULL) {
            main_usage("flag '%s' takes no value", arg);
        }
        main_apply(a, main_flags[k].flag, value);
    }
}

/* The party a --crash or --restart names; *leader caches the election. */
static uint64_t
main_target_id(const struct main_args *a, const struct main_crash *c, int *leader, const char *flag)
{
    const struct sim_opts *o = &a->o;
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

/* Crash, restart and Byzantine ids are checked once the party count is
 * known; a restart needs an earlier crash of the same party. */
static void
main_resolve(struct main_args *a)
{
    struct sim_opts *o = &a->o;
    if (o->delay_min_ns > o->delay_max_ns) {
        main_usage("--delay-min-us above --delay-max-us");
    }
    int leader = -1;
    for (uint32_t i = 0; i < a->crashes_count; i++) {
        const struct main_crash *c = &a->crashes[i];
        uint64_t id = main_target_id(a, c, &leader, "--crash");
        o->crash_at_ns[id] = c->at_ns < o->crash_at_ns[id] ? c->at_ns : o->crash_at_ns[id];
    }
    for (uint32_t i = 0; i < a->restarts_count; i++) {
        const struct main_crash *c = &a->restarts[i];
        uint64_t id = main_target_id(a, c, &leader, "--restart");
        if (o->restart_at_ns[id] != SIM_NEVER || o->crash_at_ns[id] >= c->at_ns) {
            main_usage("--restart of party %llu needs one earlier --crash of it",
                       (unsigned long long)id);
        }
        o->restart_at_ns[id] = c->at_ns;
    }
    for (uint32_t i = 0; i < a->byz_count; i++) {
        if (a->byz_ids[i] >= o->parties_count) {
            main_usage("--byz party %llu outside the party list",
                       (unsigned long long)a->byz_ids[i]);
        }
        o->byz[a->byz_ids[i]] = a->byz_kinds[i];
    }
}

/* ------------------------------------------------------------------------
 * Clocks (outside the simulation), progress, summary and JSON.
 * ---------------------------------------------------------------------- */

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

static void
main_summary(const struct main_args *a, const struct sim_result *r, double wall_ms)
{
    char wb[48];
    char tb[48];
    char fb[48];
    printf("bpcon-sim: seed %llu, %u parties, W = %s, T = %s, F = %s, mode %s\n",
           (unsigned long long)r->seed, r->parties, bpc_u128_str(r->total_weight, wb),
           bpc_u128_str(r->threshold, tb), bpc_u128_str(r->f, fb),
           a->o.mode == BPC_MODE_PACED ? "paced" : "fast");
    printf("outcome: %s; decided %llu of %llu instances (%llu commands) by all %u correct live "
           "parties (first leader %d, max ballot %llu)\n",
           sim_outcome_name(r->outcome), (unsigned long long)r->decided,
           (unsigned long long)a->o.instances, (unsigned long long)r->commands, r->correct_live,
           r->first_leader, (unsigned long long)r->max_ballot);
    printf("safety: agreement %s, validity %s, integrity %s, order %s\n",
           r->agreement ? "ok" : "VIOLATED", r->validity ? "ok" : "VIOLATED",
           r->integrity ? "ok" : "VIOLATED", r->order ? "ok" : "VIOLATED");
    if (r->violation[0] != '\0') {
        printf("first problem: %s\n", r->violation);
    }
    printf("network: %llu frames sent, %llu delivered (%llu records), %llu lost, %llu "
           "duplicated, %llu to dead parties, %llu Byzantine\n",
           (unsigned long long)r->frames_sent, (unsigned long long)r->frames,
           (unsigned long long)r->messages, (unsigned long long)r->frames_lost,
           (unsigned long long)r->frames_dup, (unsigned long long)r->frames_dead,
           (unsigned long long)r->byz_frames);
    printf("time: %llu us virtual, %.1f ms wall; %llu steps, %llu persisted records\n",
           (unsigned long long)(r->sim_time_ns / 1000), wall_ms, (unsigned long long)r->steps,
           (unsigned long long)r->persists);
    if (r->restarts > 0) {
        printf("restarts: %llu; %llu re-emitted decisions matched the application logs\n",
               (unsigned long long)r->restarts, (unsigned long long)r->replayed);
    }
}

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
           "\"validity\":%s,\"integrity\":%s,\"order\":%s,",
           sim_outcome_name(r->outcome), (unsigned long long)r->decided,
           (unsigned long long)r->commands, r->agreement ? "true" : "false",
           r->validity ? "true" : "false", r->integrity ? "true" : "false",
           r->order ? "true" : "false");
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
    double rate = cpu_s > 0.0 ? (double)r->decided / cpu_s : 0.0;
    double crate = cpu_s > 0.0 ? (double)r->commands / cpu_s : 0.0;
    printf(",\"wall_ms\":%.3f,\"cpu_s\":%.3f,\"decisions_per_cpu_s\":%.1f,"
           "\"commands_per_cpu_s\":%.1f,\"run_hash\":\"%s\"}\n",
           wall_ms, cpu_s, rate, crate, hash);
}

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

int
main(int argc, char **argv)
{
    static struct main_args a;
    sim_opts_defaults(&a.o);
    main_parse_args(&a, argc, argv);
    if (bpc_init() < 0) {
        fprintf(stderr, "bpcon-sim: bpc_init failed\n");
        return MAIN_EXIT_USAGE;
    }
    main_resolve(&a);
    struct main_progress pr;
    pr.wall_start_s = pr.wall_last_s = main_clock_s(CLOCK_MONOTONIC);
    if (!a.quiet) {
        a.o.progress = main_progress;
        a.o.progress_ctx = &pr;
    }
    fprintf(stderr, "bpcon-sim: seed %llu\n", (unsigned long long)a.o.seed);
    double cpu0 = main_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    struct sim *s = NULL;
    char err[512] = {0};
    int rc = sim_init(&s, &a.o, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "bpcon-sim: %s\n", err[0] ? err : bpc_strerror(-rc));
        return MAIN_EXIT_USAGE;
    }
    sim_run(s);
    double wall_ms = (main_clock_s(CLOCK_MONOTONIC) - pr.wall_start_s) * 1e3;
    double cpu_s = main_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    static struct sim_result r;
    sim_result(s, &r);
    sim_free(s);
    if (r.violation[0] != '\0') {
        fprintf(stderr, "bpcon-sim: %s (seed %llu)\n", r.violation, (unsigned long long)r.seed);
    }
    main_summary(&a, &r, wall_ms);
    main_json(&r, wall_ms, cpu_s);
    return main_exit_code(&r);
}
