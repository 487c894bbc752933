/*
 * cluster.c - bpcon-cluster: runs a whole cluster on this machine, drives
 * K commands through it and checks that every surviving party applied the
 * same log.
 *
 *   bpcon-cluster --parties N --commands K [--transport ring|virtio]
 *       [--window W] [--value-size B] [--kill ID@MS] [--restart ID@MS]
 *       [--idle busy|pause|yield|sleep:US] [--deadline-ms MS] [--node PATH]
 *       [--node-lcores N] [--keep-dir] [--store-dir DIR] [--no-fsync]
 *       [--chaos N [--seed S]] [--tap] [--outstanding N | --rate R]
 *       [--raw-baseline MS] [--slots W]
 *
 * ring:   every party in this process on the main lcore, one net_ring port
 *         each, joined by a software switch that forwards by destination
 *         MAC (a shared segment); parties, switch and load generator run
 *         round-robin.
 * virtio: one bpcon-node process per party (own EAL, own --file-prefix), a
 *         full mesh of virtio_user <-> net_vhost links over unix sockets in
 *         a temp dir; results come back over a pipe per node (fd 3).
 *
 * ID in --kill/--restart is a party id, "leader" or "follower" (the highest
 * id that is not the leader when the event fires).
 *
 * Every party keeps a durable store (fdatasync per engine step unless
 * --no-fsync) under one directory, named in the output: --store-dir, or
 * a fresh one removed after a clean run. --chaos N (ring): N kills of
 * random parties other than party 0 (never killed; at least 2 parties) at
 * random points (between polls, or inside a store write,
 * sync or compaction), each restarted from its store; the frame tap
 * (--tap, implied by --chaos) checks that no party ever sends a 1b, 2av or
 * 2b contradicting one it sent before.
 *
 * Load: by default each party keeps --window W of its own commands in
 * flight; --outstanding N keeps N in flight across the cluster (closed
 * loop), --rate R submits R/s on a fixed schedule (open loop, latency from
 * the scheduled time). The summary also gives the run's CPU time per
 * decision and resident memory per party (cluster_measure.c) and, with
 * --raw-baseline (ring), plain forwarding over the same ports.
 *
 * SIGINT or SIGTERM ends the run early: nodes are stopped and reaped, the
 * summary is printed, and the exit status is 1 (not all decided).
 *
 * Owns: the harness (process management, fault schedule, switch, result
 * collection, agreement check, summary and the closing JSON line).
 *
 * Must never: assert on anything a node reports (reports are parsed and
 * checked), or leave node processes behind (all are signalled and reaped).
 */
#include "cluster.h"
#include "tool_out.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
cl_usage(FILE *f)
{
    fprintf(f,
            "usage: bpcon-cluster --parties N --commands K [--transport ring|virtio]\n"
            "  [--window W] [--value-size B] [--kill ID@MS] [--restart ID@MS]\n"
            "  [--idle busy|pause|yield|sleep:US] [--deadline-ms MS] [--node PATH] [--keep-dir]\n"
            "  [--node-lcores N] [--verbose] [--store-dir DIR] [--no-fsync]\n"
            "  [--chaos N [--seed S]] [--tap] [--outstanding N | --rate R]\n"
            "  [--raw-baseline MS] [--slots W] [--ring-lcores 1|2]\n"
            "       bpcon-cluster --help | --version\n"
            "ID: a party id, 'leader' or 'follower'. MS: after the load starts. At most\n"
            "16 --kill and --restart events in all.\n"
            "--value-size B: command bytes, 24..1016 (default 64; a command and a 1b\n"
            "with its full history share the engine's 1400-byte frame).\n"
            "--node-lcores N (virtio, 1..8): each node runs N lcores, the engine on one and\n"
            "its peer rx queues spread over the other N - 1, all floating on cores 0-1.\n"
            "Stores: one per party under --store-dir DIR (default: a fresh directory\n"
            "under $TMPDIR or /tmp, removed after a clean run; of DIR only the last\n"
            "component is made), fdatasync per engine step; --no-fsync drops the syncs\n"
            "(benchmarks only, not crash-safe).\n"
            "--chaos N (ring): N kill/restart cycles, each of a random party other than\n"
            "party 0 (never killed; --chaos needs --parties 2 or more), at random points,\n"
            "with the frame tap (--tap) checking every 1b/2av/2b against what the\n"
            "same party sent before.\n"
            "Load: by default each party keeps --window W of its own commands in\n"
            "flight. --outstanding N: closed loop, N in flight across the cluster (one\n"
            "is submitted when one is applied). --rate R: open loop, R commands/s on a\n"
            "fixed schedule whatever completes, latency counted from the scheduled time.\n"
            "--raw-baseline MS (ring): after the run, MS of plain frame forwarding over\n"
            "the same ports at the run's mean frame size, for frames/s against raw.\n"
            "--slots W (ring): every engine's instance window (default 64); the summary\n"
            "gives the resident memory per party.\n"
            "--ring-lcores 2 (ring): the upper half of the parties and their load\n"
            "generators poll on a second lcore, the rest, the switch and the checks on\n"
            "the main one (not with --chaos, --kill or --restart).\n");
}

static int
cl_event_parse(struct cl_opts *o, const char *s, enum cl_event_kind kind)
{
    if (o->events_count == CL_EVENTS_MAX) {
        return -E2BIG;
    }
    const char *at = strchr(s, '@');
    if (at == NULL) {
        return -EINVAL;
    }
    struct cl_event *e = &o->events[o->events_count];
    char who[32];
    size_t len = (size_t)(at - s);
    if (len == 0 || len >= sizeof(who)) {
        return -EINVAL;
    }
    memcpy(who, s, len);
    who[len] = '\0';
    uint64_t id = 0;
    if (strcmp(who, "leader") == 0) {
        e->who = CL_WHO_LEADER;
    } else if (strcmp(who, "follower") == 0) {
        e->who = CL_WHO_FOLLOWER;
    } else if (dp_parse_u64(who, CL_PARTIES_MAX - 1, &id) == 0) {
        e->who = (int)id;
    } else {
        return -EINVAL;
    }
    if (dp_parse_u64(at + 1, 86400000, &e->at_ms) != 0) {
        return -EINVAL;
    }
    e->kind = kind;
    e->done = false;
    o->events_count++;
    return 0;
}

/* A count in 1..max into *out (left alone when refused). */
static int
cl_count(const char *arg, uint64_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (dp_parse_u64(arg, max, &v) != 0 || v == 0) {
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

/* One option that takes a number into o: 0, or -EINVAL when refused (or
 * when c is no such option). */
static int
cl_opt_number(struct cl_opts *o, int c, const char *arg)
{
    uint64_t v = 0;
    switch (c) {
    case 'n':
        return cl_count(arg, CL_PARTIES_MAX, &o->parties);
    case 'k':
        return dp_parse_u64(arg, 1ull << 32, &o->commands);
    case 'w':
        return cl_count(arg, BPC_WINDOW_SLOTS_MAX / 2, &o->window);
    case 'b':
        if (dp_parse_u64(arg, DP_CMD_BYTES_MAX, &v) != 0 || v < DP_CMD_BYTES_MIN) {
            return -EINVAL;
        }
        o->value_bytes = (uint32_t)v;
        return 0;
    case 'd':
        /* 0 hit the deadline at once (review B7's F6): at least 1 ms. */
        return dp_parse_u64(arg, 86400000, &o->deadline_ms) != 0 || o->deadline_ms == 0 ? -EINVAL
                                                                                        : 0;
    case 'L':
        return cl_count(arg, CL_VIRTIO_PARTIES_MAX, &o->node_lcores);
    case 'C':
        if (dp_parse_u64(arg, 100000, &v) != 0) {
            return -EINVAL;
        }
        o->chaos = (uint32_t)v;
        return 0;
    case 'X':
        o->seed_given = true;
        return dp_parse_u64(arg, UINT64_MAX >> 1, &o->seed);
    case 'O':
        return dp_parse_u64(arg, DP_OUTSTANDING_MAX, &o->outstanding) == 0 && o->outstanding > 0
                   ? 0
                   : -EINVAL;
    case 'r':
        return dp_parse_u64(arg, DP_RATE_MAX, &o->rate) == 0 && o->rate > 0 ? 0 : -EINVAL;
    case 'B':
        return dp_parse_u64(arg, 60000, &o->raw_ms) == 0 && o->raw_ms > 0 ? 0 : -EINVAL;
    case 'W':
        if (dp_parse_u64(arg, BPC_WINDOW_SLOTS_MAX, &v) != 0 || v == 0 || (v & (v - 1)) != 0) {
            return -EINVAL;
        }
        o->slots = (uint32_t)v;
        return 0;
    case 'G':
        return cl_count(arg, 2, &o->ring_lcores);
    default:
        return -EINVAL;
    }
}

/* One option (not --help or --version) into o: 0, or -EINVAL when its
 * value is refused. The options that take a number are cl_opt_number's. */
static int
cl_opt(struct cl_opts *o, int c, const char *arg)
{
    switch (c) {
    case 't':
        if (strcmp(arg, "ring") == 0 || strcmp(arg, "virtio") == 0) {
            o->virtio = strcmp(arg, "virtio") == 0;
            return 0;
        }
        return -EINVAL;
    case 'K':
        return cl_event_parse(o, arg, CL_EVENT_KILL);
    case 'R':
        return cl_event_parse(o, arg, CL_EVENT_RESTART);
    case 'I':
        o->idle_arg = arg;
        return dp_idle_parse(arg, &o->idle);
    case 'N':
        o->node_path = arg;
        return 0;
    case 'D':
        o->keep_dir = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    case 'S':
        o->store_dir = arg;
        return arg[0] != '\0' && strlen(arg) < 200 ? 0 : -EINVAL;
    case 'F':
        o->no_fsync = true;
        return 0;
    case 'T':
        o->tap = true;
        return 0;
    default:
        return cl_opt_number(o, c, arg);
    }
}

/* The flag and the accepted range of an option, for refusals. */
static void
cl_range(int c, const char **flag, const char **range)
{
    static const struct {
        int c;
        const char *flag;
        const char *range;
    } t[] = {
        {'n', "--parties", "1..32 (virtio: 1..8)"},
        {'k', "--commands", "1..4294967296"},
        {'t', "--transport", "ring or virtio"},
        {'w', "--window", "1..32768"},
        {'b', "--value-size", "24..1016 bytes (a command and a 1b with its history share a frame)"},
        {'K', "--kill", "ID@MS: ID a party id, 'leader' or 'follower'; MS in 0..86400000"},
        {'R', "--restart", "ID@MS: ID a party id, 'leader' or 'follower'; MS in 0..86400000"},
        {'I', "--idle", "busy, pause, yield or sleep:US with US in 0..1000000"},
        {'d', "--deadline-ms", "1..86400000"},
        {'L', "--node-lcores", "1..8"},
        {'S', "--store-dir", "a folder path of 1..199 bytes"},
        {'C', "--chaos", "0..100000"},
        {'X', "--seed", "0..9223372036854775807"},
        {'O', "--outstanding", "1..65536 commands in flight across the cluster"},
        {'r', "--rate", "1..10000000 commands/s"},
        {'B', "--raw-baseline", "1..60000 ms"},
        {'W', "--slots", "a power of two in 1..65536"},
        {'G', "--ring-lcores", "1 or 2"},
    };
    *flag = "?";
    *range = "?";
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        if (t[k].c == c) {
            *flag = t[k].flag;
            *range = t[k].range;
        }
    }
}

/* The run is judged by a party that was never killed (a killed party's
 * unapplied commands are not resubmitted): kills that certainly reach
 * every party (each one by id, or the one party of --parties 1 as its
 * leader) leave none to judge by, and the run could only fail at its
 * deadline. Dynamic targets are counted only when they are certain. */
static int
cl_events_cover(const struct cl_opts *o)
{
    uint64_t all = o->parties >= 64 ? UINT64_MAX : (1ull << o->parties) - 1;
    uint64_t killed = 0;
    for (uint32_t i = 0; i < o->events_count; i++) {
        const struct cl_event *e = &o->events[i];
        if (e->kind != CL_EVENT_KILL) {
            continue;
        }
        if (e->who >= 0 && e->who < 64) { /* past 64 parties, 16 events cannot reach all */
            killed |= 1ull << e->who;
        } else if (e->who == CL_WHO_LEADER && o->parties == 1) {
            killed |= 1;
        }
        if (killed == all) {
            char who[16];
            snprintf(who, sizeof(who), "%d", e->who);
            fprintf(stderr,
                    "bpcon-cluster: --kill '%s@%llu': every party (0..%u) is killed, so none "
                    "runs the whole load to judge the run by (a restart does not count)\n",
                    e->who == CL_WHO_LEADER ? "leader" : who, (unsigned long long)e->at_ms,
                    o->parties - 1);
            return -EINVAL;
        }
    }
    return 0;
}

/* Fault events name parties that can exist: checked once --parties is
 * known. A party id outside the cluster, or a follower killed in a
 * one-party cluster (its one party leads), never has a target. */
static int
cl_events_check(const struct cl_opts *o)
{
    for (uint32_t i = 0; i < o->events_count; i++) {
        const struct cl_event *e = &o->events[i];
        const char *flag = e->kind == CL_EVENT_KILL ? "--kill" : "--restart";
        if (e->who >= 0 && (uint32_t)e->who >= o->parties) {
            fprintf(stderr, "bpcon-cluster: %s '%d@%llu': party %d is outside 0..%u\n", flag,
                    e->who, (unsigned long long)e->at_ms, e->who, o->parties - 1);
            return -EINVAL;
        }
        if (e->who == CL_WHO_FOLLOWER && e->kind == CL_EVENT_KILL && o->parties < 2) {
            fprintf(stderr,
                    "bpcon-cluster: --kill 'follower@%llu': --parties 1 has no follower (its one "
                    "party leads)\n",
                    (unsigned long long)e->at_ms);
            return -EINVAL;
        }
    }
    return cl_events_cover(o);
}

/* The load is paced one way; the ring-only measurements need the ring. */
static int
cl_load_check(const struct cl_opts *o)
{
    const char *why = NULL;
    if (o->outstanding > 0 && o->rate > 0) {
        why = "--outstanding and --rate are exclusive (a closed loop or an open loop)";
    } else if (o->window_given && (o->outstanding > 0 || o->rate > 0)) {
        why = "--window paces the default load (per party); it does not combine with "
              "--outstanding or --rate";
    } else if (o->virtio && o->raw_ms > 0) {
        why = "--raw-baseline needs --transport ring";
    } else if (o->virtio && o->slots > 0) {
        why = "--slots needs --transport ring";
    }
    if (why != NULL) {
        fprintf(stderr, "bpcon-cluster: %s\n", why);
        return -EINVAL;
    }
    return 0;
}

void
cl_pace(const struct cl_opts *o, struct dp_pace *out)
{
    out->window = o->window;
    out->outstanding = o->outstanding;
    out->rate = o->rate;
}

/* The defaults of every option. */
static void
cl_defaults(struct cl_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->parties = 4;
    o->commands = 10000;
    o->window = 64;
    o->value_bytes = 64;
    o->deadline_ms = 120000;
    o->node_lcores = 1;
    o->ring_lcores = 1;
}

/* One flag as getopt_long returned it: exits on --help and --version (0,
 * or 1 when stdout cannot take the text);
 * 0, or -EINVAL with the refusal printed (getopt named an unknown flag). */
static int
cl_flag(struct cl_opts *o, int c, const char *arg)
{
    if (c == 'h') {
        cl_usage(stdout);
        exit(tool_out_status("bpcon-cluster", 0, 1));
    }
    if (c == 'V') {
        printf("bpcon-cluster %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
        exit(tool_out_status("bpcon-cluster", 0, 1));
    }
    if (c == '?') {
        return -EINVAL; /* getopt named the flag */
    }
    int rc = cl_opt(o, c, arg);
    if (rc != 0) {
        const char *flag;
        const char *range;
        cl_range(c, &flag, &range);
        if (rc == -E2BIG) {
            /* A well-formed event past the table: say which limit. */
            fprintf(stderr, "bpcon-cluster: %s '%s': at most %u --kill and --restart events\n",
                    flag, arg, CL_EVENTS_MAX);
        } else {
            fprintf(stderr, "bpcon-cluster: %s '%s': expected %s\n", flag, arg, range);
        }
        return -EINVAL;
    }
    return 0;
}

/* The lcore flags: each with its transport, --ring-lcores 2 without
 * faults and with a party for each lcore. */
static int
cl_lcores_check(const struct cl_opts *o)
{
    if (!o->virtio && o->node_lcores != 1) {
        fprintf(stderr, "bpcon-cluster: --node-lcores needs --transport virtio\n");
        return -EINVAL;
    }
    if (o->ring_lcores > 1 && (o->virtio || o->chaos > 0 || o->events_count > 0)) {
        /* Kills and restarts stop and rebuild a party: only on one lcore. */
        fprintf(stderr, "bpcon-cluster: --ring-lcores 2 needs --transport ring, without "
                        "--chaos, --kill or --restart\n");
        return -EINVAL;
    }
    if (o->ring_lcores > 1 && o->parties < 2) {
        fprintf(stderr, "bpcon-cluster: --ring-lcores 2 needs at least 2 parties\n");
        return -EINVAL;
    }
    return 0;
}

/* The paths: --node an executable regular file (access(X_OK) alone passes
 * a folder), --store-dir a folder when it exists (its last component is
 * made when missing, not its parents;
 * a file there would fail the run only after EAL started). 0, or -EINVAL
 * with the refusal printed. */
static int
cl_paths_check(const struct cl_opts *o)
{
    struct stat st;
    if (o->node_path != NULL) {
        const char *why = stat(o->node_path, &st) != 0      ? strerror(errno)
                          : !S_ISREG(st.st_mode)            ? "not a regular file"
                          : access(o->node_path, X_OK) != 0 ? strerror(errno)
                                                            : NULL;
        if (why != NULL) {
            fprintf(stderr, "bpcon-cluster: --node '%s': not an executable file (%s)\n",
                    o->node_path, why);
            return -EINVAL;
        }
    }
    if (o->store_dir != NULL && stat(o->store_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bpcon-cluster: --store-dir '%s': exists and is not a folder\n",
                o->store_dir);
        return -EINVAL;
    }
    return 0;
}

/* --node needs virtio and names an executable; virtio's party count. */
static int
cl_node_check(const struct cl_opts *o)
{
    if (o->node_path != NULL && !o->virtio) {
        fprintf(stderr, "bpcon-cluster: --node needs --transport virtio\n");
        return -EINVAL;
    }
    if (cl_paths_check(o) != 0) {
        return -EINVAL;
    }
    if (o->virtio && o->parties > CL_VIRTIO_PARTIES_MAX) {
        fprintf(stderr, "bpcon-cluster: --parties %u: --transport virtio runs 1..%u parties\n",
                o->parties, CL_VIRTIO_PARTIES_MAX);
        return -EINVAL;
    }
    return 0;
}

/* Once every flag is read: the refusals that weigh flags against each
 * other (in this order: it decides the message when several apply), and
 * the idle policy's default, which depends on the transport. */
static int
cl_finish(struct cl_opts *o)
{
    if (o->commands == 0) {
        fprintf(stderr, "bpcon-cluster: --commands '0': expected 1..4294967296\n");
        return -EINVAL;
    }
    if (cl_events_check(o) != 0) {
        return -EINVAL;
    }
    if (o->idle_arg == NULL) {
        /* One process polls busily; many processes on 2 cores must yield. */
        o->idle_arg = o->virtio ? "sleep:20" : "busy";
        dp_idle_parse(o->idle_arg, &o->idle);
    }
    if (cl_lcores_check(o) != 0) {
        return -EINVAL;
    }
    if (o->virtio && (o->chaos > 0 || o->tap)) {
        fprintf(stderr, "bpcon-cluster: --chaos and --tap need --transport ring\n");
        return -EINVAL;
    }
    if (cl_load_check(o) != 0) {
        return -EINVAL;
    }
    if (o->chaos > 0 && o->parties < 2) {
        fprintf(stderr, "bpcon-cluster: --chaos needs at least 2 parties\n");
        return -EINVAL;
    }
    if (o->seed_given && o->chaos == 0) {
        fprintf(stderr, "bpcon-cluster: --seed seeds --chaos's random points: it needs --chaos N "
                        "(N >= 1)\n");
        return -EINVAL;
    }
    return cl_node_check(o);
}

/* A flag with a value takes one, but for --kill and --restart (events,
 * repeatable): a second one is refused (printed), -EINVAL. c and idx as
 * getopt_long returned them (c '?': an unknown flag, cl_flag's). */
static int
cl_once(const struct option *opts, int c, int idx, uint64_t *seen)
{
    if (c == '?' || c == 'K' || c == 'R' || opts[idx].has_arg != required_argument) {
        return 0;
    }
    return dp_flag_once("bpcon-cluster", opts[idx].name, idx, seen);
}

static int
cl_parse(int argc, char **argv, struct cl_opts *o)
{
    static const struct option opts[] = {
        {"parties", required_argument, NULL, 'n'},
        {"commands", required_argument, NULL, 'k'},
        {"transport", required_argument, NULL, 't'},
        {"window", required_argument, NULL, 'w'},
        {"value-size", required_argument, NULL, 'b'},
        {"kill", required_argument, NULL, 'K'},
        {"restart", required_argument, NULL, 'R'},
        {"idle", required_argument, NULL, 'I'},
        {"deadline-ms", required_argument, NULL, 'd'},
        {"node", required_argument, NULL, 'N'},
        {"keep-dir", no_argument, NULL, 'D'},
        {"verbose", no_argument, NULL, 'v'},
        {"node-lcores", required_argument, NULL, 'L'},
        {"store-dir", required_argument, NULL, 'S'},
        {"no-fsync", no_argument, NULL, 'F'},
        {"chaos", required_argument, NULL, 'C'},
        {"seed", required_argument, NULL, 'X'},
        {"tap", no_argument, NULL, 'T'},
        {"outstanding", required_argument, NULL, 'O'},
        {"rate", required_argument, NULL, 'r'},
        {"raw-baseline", required_argument, NULL, 'B'},
        {"slots", required_argument, NULL, 'W'},
        {"ring-lcores", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    cl_defaults(o);
    int c;
    int idx = -1;
    uint64_t seen = 0;
    bool have_parties = false;
    bool have_commands = false;
    if (dp_flags_exact("bpcon-cluster", argc, argv, opts) != 0) {
        return -EINVAL;
    }
    char *path = argv[0]; /* the run finds bpcon-node beside it */
    static char prog[] = "bpcon-cluster";
    argv[0] = prog; /* getopt's messages name the tool, not its path */
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        have_parties |= c == 'n';
        have_commands |= c == 'k';
        o->window_given |= c == 'w';
        if (cl_once(opts, c, idx, &seen) != 0 || cl_flag(o, c, optarg) != 0) {
            argv[0] = path;
            return -EINVAL;
        }
    }
    argv[0] = path;
    if (optind != argc) {
        fprintf(stderr, "bpcon-cluster: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (!have_parties || !have_commands) {
        fprintf(stderr, "bpcon-cluster: missing required flag %s\n",
                !have_parties ? "--parties N" : "--commands K");
        return -EINVAL;
    }
    return cl_finish(o);
}

volatile sig_atomic_t cl_interrupted;

static void
cl_on_signal(int sig)
{
    (void)sig;
    cl_interrupted = 1;
}

int
main(int argc, char **argv)
{
    cl_clock_start();
    static struct cl_opts o;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cl_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Standard output a closed pipe (a reader gone) is a failed write:
     * exit 1 naming it (tool_out_status); EAL's runtime files are removed,
     * the folder the run made is kept and named (a failed run). Before
     * (review B4), SIGPIPE killed the ring run: exit 141, nothing said,
     * its run directory's stores left behind. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (cl_parse(argc, argv, &o) != 0) {
        fprintf(stderr, "bpcon-cluster: see bpcon-cluster --help\n");
        return 2;
    }
    if (bpc_init() != 0) {
        fprintf(stderr, "bpcon-cluster: libsodium init failed\n");
        return 1;
    }
    static struct cl_summary sum;
    int rc = o.virtio ? cl_virtio_run(&o, argv[0], &sum) : cl_ring_run(&o, argv[0], &sum);
    if (rc != 0) {
        return 1;
    }
    /* The JSON line is the result: lost, the run failed. A failed run
     * keeps its folder (review O3: one that failed a check, or was
     * interrupted, removed its stores and node logs before the checks
     * were judged). */
    int status = tool_out_status("bpcon-cluster", cl_summary_print(&o, &sum) ? 0 : 1, 1);
    cl_dir_end(&o, status == 0);
    return status;
}
