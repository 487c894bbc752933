/*
 * flags.c - bpcon-sim's flags (flags.h): the usage text, the flag table,
 * and strict parsing and validation of each flag into struct main_args.
 *
 * Owns: the usage text (--help) and --version, what each flag accepts and
 * how it is refused (any bad flag or value, or a flag that takes a value
 * given twice, is a usage error, exit 2). Must never: read anything but
 * argv, or settle what depends on a run's seed ('leader' and 'nonleader',
 * a random configuration, the Byzantine phase's defaults): main.c does.
 */
#include "flags.h"
#include "tool_out.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "      error (any run of a campaign) or output that cannot be written,\n"
    "      2 usage, 3 safe but not all decided\n";

void
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

/* The largest microseconds a -us flag or @TIME_US takes: UINT64_MAX / 1000,
 * so that it fits as nanoseconds. */
#define MAIN_US_MAX "18446744073709551"
_Static_assert(UINT64_MAX / 1000 == 18446744073709551ull, "MAIN_US_MAX is UINT64_MAX / 1000");

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
            main_usage("bad %s time in '%s': expected microseconds in 0.." MAIN_US_MAX, flag, s);
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
        {MAIN_F_BYZ_PERIOD, "microseconds in 1.." MAIN_US_MAX},
        {MAIN_F_BALLOT_TIMEOUT, "microseconds in 1.." MAIN_US_MAX},
        {MAIN_F_DELAY_MIN, "microseconds in 0.." MAIN_US_MAX},
        {MAIN_F_DELAY_MAX, "microseconds in 0.." MAIN_US_MAX},
        {MAIN_F_TIME_LIMIT, "microseconds in 0.." MAIN_US_MAX},
        {MAIN_F_BYZ_PHASE, "microseconds in 0.." MAIN_US_MAX},
        {MAIN_F_LIVENESS, "microseconds in 0.." MAIN_US_MAX},
        {MAIN_F_CHURN, "microseconds in 0.." MAIN_US_MAX},
    };
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        if (t[k].f == f) {
            return t[k].range;
        }
    }
    return "a decimal number";
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
    exit(tool_out_status("bpcon-sim", MAIN_EXIT_OK, MAIN_EXIT_OUTPUT));
}

/* --version: the simulator's and the library's versions; exits 0. */
static _Noreturn void
main_version(void)
{
    printf("bpcon-sim %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
    exit(tool_out_status("bpcon-sim", MAIN_EXIT_OK, MAIN_EXIT_OUTPUT));
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
void
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
