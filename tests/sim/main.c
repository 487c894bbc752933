/*
 * main.c - bpcon-sim, the command line of the deterministic simulator.
 *
 * Owns: flag parsing and validation (strict: any bad flag or value is a
 * usage error, exit 2), the defaults of the Byzantine phase, campaigns over
 * many seeds (--seeds, --random-config, --isolate), the progress line, the
 * human summary and the final JSON line, and the exit code. Must never:
 * influence the simulated run with anything but the flags and the seed (the
 * wall and CPU clocks read here only feed the progress line, wall_ms and
 * the per-CPU-second rates), or let one run's state reach the next.
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    bool footprint;
    uint32_t crashes_count;
    struct main_crash crashes[BPC_PARTIES_MAX];
    uint32_t restarts_count;
    struct main_crash restarts[BPC_PARTIES_MAX];
    uint32_t byz_count;
    struct main_crash byz[BPC_PARTIES_MAX]; /* target; at_ns unused */
    uint8_t byz_kinds[BPC_PARTIES_MAX];
    /* Given explicitly (else derived per run from the Byzantine parties). */
    bool phase_set;
    bool liveness_set;
    bool churn_set;
    uint64_t phase_ns;
    uint64_t seeds;     /* runs of a campaign; 0: one run, full report */
    bool random_config; /* each run draws its own configuration */
    bool isolate;       /* each campaign run in a child process */
    bool shaped;        /* a flag random-config draws itself was given */
    bool instances_set; /* --instances given */
};

static const char main_usage_text[] =
    "usage: bpcon-sim [flags]\n"
    "  --weights W1,W2,...    party weights, u64 each (default 1,1,1,1)\n"
    "  --threshold T          quorum weight, u128 decimal (default ceil(2W/3))\n"
    "  --instances N          stop once every correct live party decided N instances\n"
    "                         (default 100); parties submit commands until then\n"
    "  --commands N           instead: exactly N commands in all, dealt round-robin\n"
    "                         over the correct parties without --crash (by id: party\n"
    "                         0 submits command 0, ...); stop once every correct live\n"
    "                         party applied all N (not with --instances)\n"
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
    "  --frame-bytes B        payload bytes per frame (default: engine's, 1400)\n"
    "  --value-bytes B        largest value (batch) in bytes (default: engine's, 1024)\n"
    "  --ballot-timeout-us T  fast-mode ballot deadline (default: engine's, 50000)\n";
/* In two pieces: a C11 compiler need only support string literals of up
 * to 4095 bytes. */
static const char main_usage_byz[] =
    "  --byz ID:KIND          party ID (or 'leader' / 'nonleader') is Byzantine;\n"
    "                         repeatable; KIND: wrongballot, silent, equivocate,\n"
    "                         lie1b, votes, replay, malformed, evict, decided-lie,\n"
    "                         forge, unattested, crowd, crowd-decided,\n"
    "                         claimfill, statusflood, refuser\n"
    "  --byz-period-us P      a Byzantine party acts every P us (default 100)\n"
    "  --byz-phase-us P       Byzantine phase length; then Byzantine parties fall\n"
    "                         silent, loss and duplication stop (default 200000 when\n"
    "                         a party is Byzantine, else no heal)\n"
    "  --byz-stay             at the heal Byzantine parties keep acting; liveness\n"
    "                         is checked with them still Byzantine\n"
    "  --liveness-us L        after the heal, every command of a correct live party\n"
    "                         must be applied everywhere within L (default: 16 x the\n"
    "                         longest ballot deadline when there is a heal, in paced\n"
    "                         mode 16 rounds plus the rounds that drain the queue,\n"
    "                         with a Byzantine party plus 6 censorship watches;\n"
    "                         0: off)\n"
    "  --churn-us C           in the phase, a correct leader is muted after leading\n"
    "                         C us (default 10000 with a Byzantine party; 0: off)\n"
    "  --seeds K              K runs, seeds S..S+K-1; one aggregate JSON line\n"
    "  --random-config        each run draws weights, threshold, window, batch, frame\n"
    "                         and value bytes, loss, dup and one Byzantine party\n"
    "  --isolate              with --seeds: each run in a child process, so an\n"
    "                         engine abort is counted and the campaign goes on\n"
    "  --mode fast|paced      phase pacing (default fast)\n"
    "  --unsafe               allow faulty weight above F and refused thresholds\n"
    "  --time-limit-us L      virtual time limit (default 600000000)\n"
    "  --footprint            print one engine's storage, region by region with its\n"
    "                         formula, for the configuration the other flags give;\n"
    "                         run nothing\n"
    "  --quiet                no progress lines\n"
    "  --help                 this text\n"
    "  --version              the version\n"
    "exit: 0 safe and all decided, 1 safety or liveness violation or engine\n"
    "      error (any run of a campaign), 2 usage, 3 safe but not all decided\n";

/* Prints a usage error and the usage text on stderr; exits 2. */
static _Noreturn void main_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
main_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bpcon-sim: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s%s", main_usage_text, main_usage_byz);
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

/* Strict u128: decimal digits only, no overflow. */
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

/* A probability in [0, 1], plain decimal. */
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

/* Microseconds as nanoseconds, without overflow. */
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

/* --weights W1,W2,...: strict, no empty element. */
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

/* A party: an id, 'leader' (of ballot 1) or 'nonleader' (the next one). */
static bool
main_parse_target(const char *s, struct main_crash *c)
{
    if (strcmp(s, "leader") == 0) {
        c->target = MAIN_TARGET_LEADER;
    } else if (strcmp(s, "nonleader") == 0) {
        c->target = MAIN_TARGET_NONLEADER;
    } else if (main_parse_u64(s, &c->id)) {
        c->target = MAIN_TARGET_ID;
    } else {
        return false;
    }
    return true;
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
    if (!main_parse_target(buf, c)) {
        main_usage("bad %s party in '%s'", flag, s);
    }
}

/* ID:KIND for --byz (ID as for --crash). */
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
    struct main_crash *c = &a->byz[a->byz_count];
    c->at_ns = 0;
    if (!main_parse_target(buf, c)) {
        main_usage("bad --byz party in '%s'", s);
    }
    int kind = sim_byz_kind_parse(colon + 1);
    if (kind < 0) {
        main_usage("unknown --byz kind in '%s' (see --help)", s);
    }
    a->byz_kinds[a->byz_count++] = (uint8_t)kind;
}

enum main_flag {
    MAIN_F_WEIGHTS,
    MAIN_F_THRESHOLD,
    MAIN_F_INSTANCES,
    MAIN_F_COMMANDS,
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
    MAIN_F_BYZ_PHASE,
    MAIN_F_BYZ_STAY,
    MAIN_F_LIVENESS,
    MAIN_F_CHURN,
    MAIN_F_FRAME_BYTES,
    MAIN_F_VALUE_BYTES,
    MAIN_F_BALLOT_TIMEOUT,
    MAIN_F_SEEDS,
    MAIN_F_RANDOM_CONFIG,
    MAIN_F_ISOLATE,
    MAIN_F_MODE,
    MAIN_F_TIME_LIMIT,
    MAIN_F_UNSAFE,
    MAIN_F_QUIET,
    MAIN_F_FOOTPRINT,
    MAIN_F_HELP,
    MAIN_F_VERSION,
};
/* main_flag_once keeps one bit per flag. */
_Static_assert(MAIN_F_VERSION < 64, "a flag beyond the 64 bits of main_flag_once");

static const struct {
    const char *name;
    enum main_flag flag;
    bool has_value;
} main_flags[] = {
    {"--weights", MAIN_F_WEIGHTS, true},
    {"--threshold", MAIN_F_THRESHOLD, true},
    {"--instances", MAIN_F_INSTANCES, true},
    {"--commands", MAIN_F_COMMANDS, true},
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
    {"--byz-phase-us", MAIN_F_BYZ_PHASE, true},
    {"--byz-stay", MAIN_F_BYZ_STAY, false},
    {"--liveness-us", MAIN_F_LIVENESS, true},
    {"--churn-us", MAIN_F_CHURN, true},
    {"--frame-bytes", MAIN_F_FRAME_BYTES, true},
    {"--value-bytes", MAIN_F_VALUE_BYTES, true},
    {"--ballot-timeout-us", MAIN_F_BALLOT_TIMEOUT, true},
    {"--seeds", MAIN_F_SEEDS, true},
    {"--random-config", MAIN_F_RANDOM_CONFIG, false},
    {"--isolate", MAIN_F_ISOLATE, false},
    {"--mode", MAIN_F_MODE, true},
    {"--time-limit-us", MAIN_F_TIME_LIMIT, true},
    {"--unsafe", MAIN_F_UNSAFE, false},
    {"--footprint", MAIN_F_FOOTPRINT, false},
    {"--quiet", MAIN_F_QUIET, false},
    {"--help", MAIN_F_HELP, false},
    {"--version", MAIN_F_VERSION, false},
};

/* The spelling of a flag (its first entry in main_flags). */
static const char *
main_flag_name(enum main_flag f)
{
    for (size_t k = 0; k < sizeof(main_flags) / sizeof(main_flags[0]); k++) {
        if (main_flags[k].flag == f) {
            return main_flags[k].name;
        }
    }
    return "?";
}

/* What a numeric flag accepts, for refusals. */
static const char *
main_flag_range(enum main_flag f)
{
    static const struct {
        enum main_flag f;
        const char *range;
    } t[] = {
        {MAIN_F_INSTANCES, "a decimal number above 0"},
        {MAIN_F_COMMANDS, "a decimal number above 0"},
        {MAIN_F_SEEDS, "a decimal number above 0"},
        {MAIN_F_WINDOW, "a power of two in 1..65536"},
        {MAIN_F_BATCH_MAX, "1..64"},
        {MAIN_F_TX_FRAMES, "1..65536"},
        {MAIN_F_FRAME_BYTES, "128..9000 (the engine also needs room for the values)"},
        {MAIN_F_VALUE_BYTES, "1..8192"},
        {MAIN_F_BYZ_PERIOD, "microseconds above 0"},
        {MAIN_F_BALLOT_TIMEOUT, "microseconds above 0"},
    };
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        if (t[k].f == f) {
            return t[k].range;
        }
    }
    return "a decimal number (microseconds for the -us flags)";
}

/* The counts: --instances, --commands and --seeds above 0 (--instances
 * marked as given), --seed any u64. False when v is not one. */
static bool
main_apply_count(struct main_args *a, enum main_flag f, const char *v)
{
    struct sim_opts *o = &a->o;
    bool ok = false;
    if (f == MAIN_F_INSTANCES) {
        ok = main_parse_u64(v, &o->instances) && o->instances > 0;
        a->instances_set = true;
    } else if (f == MAIN_F_COMMANDS) {
        ok = main_parse_u64(v, &o->commands) && o->commands > 0;
    } else if (f == MAIN_F_SEED) {
        ok = main_parse_u64(v, &o->seed);
    } else if (f == MAIN_F_SEEDS) {
        ok = main_parse_u64(v, &a->seeds) && a->seeds > 0;
    }
    return ok;
}

/* The sizes, each a u32 within its range (main_flag_range): --window (a
 * power of two), --batch, --tx-frames, --frame-bytes and --value-bytes.
 * False when v is not one. */
static bool
main_apply_size(struct sim_opts *o, enum main_flag f, const char *v)
{
    uint64_t x = 0;
    bool ok = main_parse_u64(v, &x);
    if (f == MAIN_F_WINDOW) {
        ok = ok && x > 0 && x <= BPC_WINDOW_SLOTS_MAX && (x & (x - 1)) == 0;
        o->window_slots = (uint32_t)x;
    } else if (f == MAIN_F_BATCH_MAX) {
        ok = ok && x > 0 && x <= BPC_BATCH_MAX;
        o->batch_max = (uint32_t)x;
    } else if (f == MAIN_F_TX_FRAMES) {
        ok = ok && x > 0 && x <= 65536;
        o->tx_frames = (uint32_t)x;
    } else if (f == MAIN_F_FRAME_BYTES) {
        ok = ok && x >= BPC_FRAME_BYTES_MIN && x <= BPC_FRAME_BYTES_MAX;
        o->frame_bytes = (uint32_t)x;
    } else if (f == MAIN_F_VALUE_BYTES) {
        ok = ok && x > 0 && x <= BPC_VALUE_BYTES_MAX;
        o->value_bytes = (uint32_t)x;
    }
    return ok;
}

/* The durations, microseconds kept as nanoseconds: --byz-period-us and
 * --ballot-timeout-us above 0; --byz-phase-us, --liveness-us and
 * --churn-us marked as given (else derived per run). False when v is not
 * one. */
static bool
main_apply_us(struct main_args *a, enum main_flag f, const char *v)
{
    struct sim_opts *o = &a->o;
    bool ok = false;
    if (f == MAIN_F_DELAY_MIN) {
        ok = main_parse_us(v, &o->delay_min_ns);
    } else if (f == MAIN_F_DELAY_MAX) {
        ok = main_parse_us(v, &o->delay_max_ns);
    } else if (f == MAIN_F_BYZ_PERIOD) {
        ok = main_parse_us(v, &o->byz_period_ns) && o->byz_period_ns > 0;
    } else if (f == MAIN_F_TIME_LIMIT) {
        ok = main_parse_us(v, &o->time_limit_ns);
    } else if (f == MAIN_F_BYZ_PHASE) {
        ok = main_parse_us(v, &a->phase_ns);
        a->phase_set = true;
    } else if (f == MAIN_F_LIVENESS) {
        ok = main_parse_us(v, &o->liveness_ns);
        a->liveness_set = true;
    } else if (f == MAIN_F_CHURN) {
        ok = main_parse_us(v, &o->churn_ns);
        a->churn_set = true;
    } else if (f == MAIN_F_BALLOT_TIMEOUT) {
        ok = main_parse_us(v, &o->ballot_timeout_ns) && o->ballot_timeout_ns > 0;
    }
    return ok;
}

/* Applies a flag with a numeric value. */
static void
main_apply_number(struct main_args *a, enum main_flag f, const char *v)
{
    bool ok = false;
    switch (f) {
    case MAIN_F_INSTANCES:
    case MAIN_F_COMMANDS:
    case MAIN_F_SEED:
    case MAIN_F_SEEDS:
        ok = main_apply_count(a, f, v);
        break;
    case MAIN_F_WINDOW:
    case MAIN_F_BATCH_MAX:
    case MAIN_F_TX_FRAMES:
    case MAIN_F_FRAME_BYTES:
    case MAIN_F_VALUE_BYTES:
        ok = main_apply_size(&a->o, f, v);
        break;
    case MAIN_F_DELAY_MIN:
    case MAIN_F_DELAY_MAX:
    case MAIN_F_BYZ_PERIOD:
    case MAIN_F_TIME_LIMIT:
    case MAIN_F_BYZ_PHASE:
    case MAIN_F_LIVENESS:
    case MAIN_F_CHURN:
    case MAIN_F_BALLOT_TIMEOUT:
        ok = main_apply_us(a, f, v);
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
    case MAIN_F_FOOTPRINT:
    case MAIN_F_HELP:
    case MAIN_F_VERSION:
    case MAIN_F_RANDOM_CONFIG:
    case MAIN_F_ISOLATE:
    case MAIN_F_BYZ_STAY:
        break;
    }
    if (!ok) {
        main_usage("%s '%s': expected %s", main_flag_name(f), v, main_flag_range(f));
    }
}

/* --threshold T: a quorum weight of at least 1. */
static void
main_apply_threshold(struct main_args *a, const char *v)
{
    if (!main_parse_u128(v, &a->o.threshold) || a->o.threshold == 0) {
        main_usage("bad --threshold '%s' (expected a quorum weight of at least 1; without "
                   "the flag, ceil(2W/3))",
                   v);
    }
}

/* --mode fast|paced. */
static void
main_apply_mode(struct main_args *a, const char *v)
{
    if (strcmp(v, "fast") == 0) {
        a->o.mode = BPC_MODE_FAST;
    } else if (strcmp(v, "paced") == 0) {
        a->o.mode = BPC_MODE_PACED;
    } else {
        main_usage("bad --mode '%s' (fast or paced)", v);
    }
}

/* The flags without a value that turn a switch on: each sets its own. */
static void
main_apply_switch(struct main_args *a, enum main_flag f)
{
    a->o.unsafe = a->o.unsafe || f == MAIN_F_UNSAFE;
    a->o.byz_stay = a->o.byz_stay || f == MAIN_F_BYZ_STAY;
    a->random_config = a->random_config || f == MAIN_F_RANDOM_CONFIG;
    a->isolate = a->isolate || f == MAIN_F_ISOLATE;
    a->quiet = a->quiet || f == MAIN_F_QUIET;
    a->footprint = a->footprint || f == MAIN_F_FOOTPRINT;
}

/* --help: the usage text on stdout; exits 0. */
static _Noreturn void
main_help(void)
{
    fputs(main_usage_text, stdout);
    fputs(main_usage_byz, stdout);
    exit(MAIN_EXIT_OK);
}

/* --version: the simulator's and the library's versions; exits 0. */
static _Noreturn void
main_version(void)
{
    printf("bpcon-sim %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
    exit(MAIN_EXIT_OK);
}

/* Whether a flag shapes the configuration --random-config draws itself. */
static bool
main_flag_shapes(enum main_flag f)
{
    return f == MAIN_F_WEIGHTS || f == MAIN_F_THRESHOLD || f == MAIN_F_WINDOW ||
           f == MAIN_F_BATCH_MAX || f == MAIN_F_FRAME_BYTES || f == MAIN_F_VALUE_BYTES ||
           f == MAIN_F_BYZ || f == MAIN_F_CRASH || f == MAIN_F_RESTART || f == MAIN_F_LOSS ||
           f == MAIN_F_DUP;
}

/* Applies one flag. */
static void
main_apply(struct main_args *a, enum main_flag f, const char *v)
{
    switch (f) {
    case MAIN_F_WEIGHTS:
        main_parse_weights(a, v);
        break;
    case MAIN_F_THRESHOLD:
        main_apply_threshold(a, v);
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
        main_apply_mode(a, v);
        break;
    case MAIN_F_UNSAFE:
    case MAIN_F_BYZ_STAY:
    case MAIN_F_RANDOM_CONFIG:
    case MAIN_F_ISOLATE:
    case MAIN_F_QUIET:
    case MAIN_F_FOOTPRINT:
        main_apply_switch(a, f);
        break;
    case MAIN_F_HELP:
        main_help();
    case MAIN_F_VERSION:
        main_version();
    case MAIN_F_INSTANCES:
    case MAIN_F_COMMANDS:
    case MAIN_F_WINDOW:
    case MAIN_F_BATCH_MAX:
    case MAIN_F_TX_FRAMES:
    case MAIN_F_SEED:
    case MAIN_F_DELAY_MIN:
    case MAIN_F_DELAY_MAX:
    case MAIN_F_BYZ_PERIOD:
    case MAIN_F_TIME_LIMIT:
    case MAIN_F_BYZ_PHASE:
    case MAIN_F_LIVENESS:
    case MAIN_F_CHURN:
    case MAIN_F_FRAME_BYTES:
    case MAIN_F_VALUE_BYTES:
    case MAIN_F_BALLOT_TIMEOUT:
    case MAIN_F_SEEDS:
        main_apply_number(a, f, v);
        break;
    }
    /* --random-config draws these itself. */
    a->shaped = a->shaped || main_flag_shapes(f);
}

/* A flag with a value given a second time (seen: one bit per enum
 * main_flag) is a usage error: it takes one value, but for --crash,
 * --restart and --byz, which add a party each (--batch and --batch-max
 * are one flag). */
static void
main_flag_once(enum main_flag f, const char *name, uint64_t *seen)
{
    if (f == MAIN_F_CRASH || f == MAIN_F_RESTART || f == MAIN_F_BYZ) {
        return;
    }
    if ((*seen & (1ull << f)) != 0) {
        main_usage("%s given twice%s", name,
                   f == MAIN_F_BATCH_MAX ? " (--batch and --batch-max are one flag)" : "");
    }
    *seen |= 1ull << f;
}

/* Accepts "--flag value" and "--flag=value". */
static void
main_parse_args(struct main_args *a, int argc, char **argv)
{
    uint64_t seen = 0;
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
            main_flag_once(main_flags[k].flag, main_flags[k].name, &seen);
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
        o->crash_at_ns[id] = c->at_ns < o->crash_at_ns[id] ? c->at_ns : o->crash_at_ns[id];
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
           "\"byz_equivocated\":%llu,\"byz_forged\":%llu,\"byz_applied\":%llu,",
           (unsigned long long)r->byz_crafted, (unsigned long long)r->frames_muted,
           (unsigned long long)r->byz_ballots, (unsigned long long)r->byz_equivocated,
           (unsigned long long)r->byz_forged, (unsigned long long)r->byz_applied);
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
           "\"byz_equivocated\":%llu,\"byz_forged\":%llu,\"max_ballot\":%llu,",
           (unsigned long long)t->failed, (unsigned long long)t->undecided,
           (unsigned long long)t->byz_ballots, (unsigned long long)t->byz_equivocated,
           (unsigned long long)t->byz_forged, (unsigned long long)t->max_ballot);
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
        fprintf(stderr, "bpcon-sim: --footprint: the configuration is out of range\n");
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
        return main_footprint(&a);
    }
    signal(SIGABRT, main_on_fatal);
    signal(SIGSEGV, main_on_fatal);
    signal(SIGBUS, main_on_fatal);
    signal(SIGFPE, main_on_fatal);
    return a.seeds > 0 ? main_campaign(&a) : main_single(&a);
}
