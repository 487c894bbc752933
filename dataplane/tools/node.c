/*
 * node.c - bpcon-node: one party of a cluster in its own process.
 *
 *   bpcon-node [EAL args] -- --cluster FILE --id N [--idle busy|pause|yield|sleep:US]
 *       [--commands K --window W --value-size B] [--outstanding N | --rate R]
 *       [--report-fd FD]
 *       [--log-out FILE] [--store FILE [--no-fsync]] [--wait-go]
 *
 * Owns: the command line (parsed before EAL, so --help, --version and bad
 * flags answer without it), the party's configuration (cluster file, keys,
 * engine tuning), the wiring of load generator, durable store and party,
 * the signal flags, and the order of bring-up and of the orderly stop on
 * SIGINT or SIGTERM (drain, stop workers, free their rings, stop ports,
 * rte_eal_cleanup, exit 0; virtio_user server ports and EAL cleanup are
 * left to process exit, see node_stop), and the same stop with exit 1 when
 * the party fails (its persistence). The checks of the files it reads
 * and writes are node_files.c's, ports node_ports.c's, the rx
 * worker lcores node_workers.c's, the main lcore's poll loop node_run.c's.
 *
 * Must never: exit from a signal handler, or do anything in one beyond
 * setting a C11 atomic flag.
 */
#include "node.h"
#include "tool_out.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sodium.h>

atomic_int node_quit;
atomic_int node_go;

static void
node_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        atomic_store(&node_go, 1);
    } else {
        atomic_store(&node_quit, 1);
    }
}

static void
node_usage(FILE *f)
{
    fprintf(f, "usage: bpcon-node [EAL args] -- --cluster FILE --id N\n"
               "  [--idle busy|pause|yield|sleep:US] [--commands K] [--window W] [--value-size B]\n"
               "  [--outstanding N | --rate R]\n"
               "  [--report-fd FD] [--log-out FILE] [--store FILE [--no-fsync]] [--wait-go]\n"
               "  [--no-load] [--control-fd FD] [--log-retain N (0..134217472)]\n"
               "       bpcon-node --help | --version\n"
               "--store FILE: the party's durable store (created, or recovered and restored\n"
               "from); every step's records are fdatasync'ed before the frames that depend\n"
               "on them leave. --no-fsync: benchmarks only, a machine crash can then lose\n"
               "votes already sent (--fsync, the default, is accepted and changes nothing).\n"
               "Control lines on FD: 'go' starts the load (with --wait-go), 'adopt ID'\n"
               "makes this party submit the share of crashed party ID too.\n"
               "--commands K: commands this party submits, 0..2^32 (default 0: none, so\n"
               "the party takes part but loads nothing).\n"
               "--value-size B: command bytes, 24..1016 (default 64; a command and a 1b\n"
               "with its full history share the engine's 1400-byte frame).\n"
               "--outstanding N / --rate R replace --window (not with it): N commands in\n"
               "flight across the cluster (this party keeps its slots' share), or R\n"
               "commands/s across the cluster on a fixed schedule from the load's start\n"
               "(as bpcon-cluster).\n"
               "EAL worker lcores (-l/--lcores with more than one): each rx queue is\n"
               "polled by worker q %% W and handed to the main lcore through a ring.\n");
}

_Static_assert(BPC_DP_LOG_RETAIN_MAX == 134217472u, "--log-retain's range as printed");

/* The flag and the accepted range of an option that takes a value, for
 * refusals. */
static void
node_range(int c, const char **flag, const char **range)
{
    static const struct {
        int c;
        const char *flag;
        const char *range;
    } t[] = {
        {'i', "--id", "a party id in 0..1023"},
        {'I', "--idle", "busy, pause, yield or sleep:US with US in 0..1000000"},
        {'k', "--commands", "0..4294967296"},
        {'w', "--window", "1..65536"},
        {'O', "--outstanding", "1..65536 commands in flight across the cluster"},
        {'P', "--rate", "1..10000000 commands/s"},
        {'b', "--value-size", "24..1016 bytes (a command and a 1b with its history share a frame)"},
        {'r', "--report-fd", "0..1024"},
        {'C', "--control-fd", "0..1024"},
        {'R', "--log-retain", "0..134217472 decided-log entries (0: the default)"},
    };
    *flag = "";
    *range = "";
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        if (t[k].c == c) {
            *flag = t[k].flag;
            *range = t[k].range;
        }
    }
}

/* A number in 0..max into *out, or in 1..max when zero is refused. */
static int
node_number(const char *arg, uint64_t max, bool nonzero, uint64_t *out)
{
    int rc = dp_parse_u64(arg, max, out);
    return rc == 0 && nonzero && *out == 0 ? -EINVAL : rc;
}

/* A file descriptor number in 0..1024 into *fd. */
static int
node_fd(const char *arg, int *fd)
{
    uint64_t v = 0;
    int rc = dp_parse_u64(arg, 1024, &v);
    *fd = (int)v;
    return rc;
}

/* The load flag option c is (one that paces, sizes or starts this
 * party's submissions, which --no-load does not make), or NULL.
 * --commands is not one: with --no-load it still names the commands the
 * party checks its log against (their range, duplicates, the end). */
static const char *
node_load_flag(int c)
{
    static const struct {
        int c;
        const char *flag;
    } t[] = {{'w', "--window"},     {'O', "--outstanding"}, {'P', "--rate"},
             {'b', "--value-size"}, {'g', "--wait-go"},     {'C', "--control-fd"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].c == c) {
            return t[i].flag;
        }
    }
    return NULL;
}

/* One option (not --help or --version) into o: 0, or -EINVAL when its
 * value is refused. */
static int
node_opt(struct node_opts *o, int c, const char *arg)
{
    o->load_flag = node_load_flag(c) != NULL ? node_load_flag(c) : o->load_flag;
    switch (c) {
    case 'c':
        o->cluster = arg;
        return 0;
    case 'i':
        return node_number(arg, BPC_DP_PARTIES_MAX - 1, false, &o->id);
    case 'I':
        return dp_idle_parse(arg, &o->idle);
    case 'k':
        return node_number(arg, 1ull << 32, false, &o->commands);
    case 'w':
        o->window_given = true;
        return node_number(arg, BPC_WINDOW_SLOTS_MAX, true, &o->window);
    case 'O':
        return node_number(arg, DP_OUTSTANDING_MAX, true, &o->outstanding);
    case 'P':
        return node_number(arg, DP_RATE_MAX, true, &o->rate);
    case 'b': /* the load's commands carry a 24-byte header */
        return node_number(arg, DP_CMD_BYTES_MAX, true, &o->value_bytes) != 0 ||
                       o->value_bytes < DP_CMD_BYTES_MIN
                   ? -EINVAL
                   : 0;
    case 'r':
        return node_fd(arg, &o->report_fd);
    case 'l':
        o->log_out = arg;
        return 0;
    case 's':
        o->store = arg;
        return 0;
    case 'f':
        o->no_fsync = false; /* the default; kept for old command lines */
        o->fsync_flags |= 1u;
        return 0;
    case 'F':
        o->no_fsync = true;
        o->fsync_flags |= 2u;
        return 0;
    case 'g':
        o->wait_go = true;
        return 0;
    case 'L':
        o->no_load = true;
        return 0;
    case 'C':
        return node_fd(arg, &o->control_fd);
    case 'R':
        return node_number(arg, BPC_DP_LOG_RETAIN_MAX, false, &o->log_retain);
    default:
        return -EINVAL;
    }
}

/* A path flag given as '' (--cluster= included) names no file: a usage
 * error before EAL, naming the flag (--cluster failed after EAL as
 * ":0: cannot open"). */
static int
node_empty_path(const struct node_opts *o)
{
    const char *paths[3] = {o->cluster, o->store, o->log_out};
    const char *names[3] = {"--cluster", "--store", "--log-out"};
    for (int k = 0; k < 3; k++) {
        if (paths[k] != NULL && paths[k][0] == '\0') {
            fprintf(stderr, "bpcon-node: %s '': an empty path\n", names[k]);
            return -EINVAL;
        }
    }
    return 0;
}

/* Flags that do not go together, or one that needs another. */
static int
node_check_combos(const struct node_opts *o)
{
    if (o->outstanding > 0 && o->rate > 0) {
        fprintf(stderr, "bpcon-node: --outstanding and --rate are exclusive (a closed loop or an "
                        "open loop)\n");
        return -EINVAL;
    }
    if (o->window_given && (o->outstanding > 0 || o->rate > 0)) {
        fprintf(stderr, "bpcon-node: --window paces the default load (per party); it does not "
                        "combine with --outstanding or --rate\n");
        return -EINVAL;
    }
    if (o->fsync_flags == 3u) {
        fprintf(stderr, "bpcon-node: --fsync and --no-fsync contradict each other\n");
        return -EINVAL;
    }
    if (o->no_fsync && o->store == NULL) {
        /* Without --store nothing is synced or durable: the flag would
         * speak of a store the node does not have. */
        fprintf(stderr, "bpcon-node: --no-fsync without --store: the flag is about the durable "
                        "store, and without --store the node keeps its votes in memory only\n");
        return -EINVAL;
    }
    if (o->no_load && o->load_flag != NULL) {
        /* Before (review B7's F5), taken and ignored. */
        fprintf(stderr,
                "bpcon-node: --no-load with %s: the flag paces, sizes or starts this party's "
                "commands, and --no-load submits none\n",
                o->load_flag);
        return -EINVAL;
    }
    if (o->wait_go && o->control_fd < 0) {
        /* The 'go' line comes on --control-fd: without it the load would
         * never start. */
        fprintf(stderr, "bpcon-node: --wait-go without --control-fd: the load starts on a 'go' "
                        "line on the control descriptor, and there is none\n");
        return -EINVAL;
    }
    return 0;
}

/* Why descriptor fd cannot be the report (write) or the control lines
 * (read), NULL when it can. Before (review P2's F3), a report descriptor
 * open for reading only, or a folder as control descriptor, was taken and
 * nothing was ever written or read, without a word. */
static const char *
node_fd_unfit(int fd, bool write)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st) != 0) {
        return "not an open file descriptor";
    }
    if (S_ISDIR(st.st_mode)) {
        return "a folder, not a file or pipe";
    }
    int mode = fl & O_ACCMODE;
    if (write && mode == O_RDONLY) {
        return "not open for writing";
    }
    if (!write && mode == O_WRONLY) {
        return "not open for reading";
    }
    return NULL;
}

/* The checks once every flag is read: no stray argument, one way to pace
 * the load, the required flags, and descriptors open the way they serve. */
static int
node_check(int argc, char **argv, const struct node_opts *o)
{
    if (optind != argc) {
        fprintf(stderr, "bpcon-node: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (node_check_combos(o) != 0) {
        return -EINVAL;
    }
    /* A --store that can never work is a usage error before EAL, as the
     * man page promises (it used to fail after EAL and the ports started).
     * The cluster file is read after EAL: its errors, a directory
     * included, name the file and line (exit 1). */
    if (node_empty_path(o) != 0) {
        return -EINVAL;
    }
    if (o->store != NULL && node_store_check(o->store) != 0) {
        return -EINVAL;
    }
    char err[PATH_MAX + 8400] = "";
    if (node_not_store_tmp("--cluster", o->cluster, o->cluster, o->store, err, sizeof(err)) != 0) {
        fprintf(stderr, "bpcon-node: %s\n", err);
        return -EINVAL;
    }
    if (o->cluster == NULL || o->id == UINT64_MAX) {
        fprintf(stderr, "bpcon-node: missing required flag %s\n",
                o->cluster == NULL ? "--cluster FILE" : "--id N");
        return -EINVAL;
    }
    if (o->report_fd >= 0 && o->report_fd == o->control_fd) {
        /* A failed report write closes the report's descriptor, which
         * would silently take the control lines with it. */
        fprintf(stderr,
                "bpcon-node: --report-fd and --control-fd are both '%d': give two descriptors\n",
                o->report_fd);
        return -EINVAL;
    }
    const int fds[2] = {o->report_fd, o->control_fd};
    const char *names[2] = {"--report-fd", "--control-fd"};
    for (int k = 0; k < 2; k++) {
        const char *why = fds[k] >= 0 ? node_fd_unfit(fds[k], k == 0) : NULL;
        if (why != NULL) {
            fprintf(stderr, "bpcon-node: %s '%d': %s\n", names[k], fds[k], why);
            return -EINVAL;
        }
    }
    return 0;
}

static int
node_parse(int argc, char **argv, struct node_opts *o)
{
    static const struct option opts[] = {
        {"cluster", required_argument, NULL, 'c'},    {"id", required_argument, NULL, 'i'},
        {"idle", required_argument, NULL, 'I'},       {"commands", required_argument, NULL, 'k'},
        {"window", required_argument, NULL, 'w'},     {"value-size", required_argument, NULL, 'b'},
        {"report-fd", required_argument, NULL, 'r'},  {"log-out", required_argument, NULL, 'l'},
        {"store", required_argument, NULL, 's'},      {"fsync", no_argument, NULL, 'f'},
        {"no-fsync", no_argument, NULL, 'F'},         {"wait-go", no_argument, NULL, 'g'},
        {"no-load", no_argument, NULL, 'L'},          {"control-fd", required_argument, NULL, 'C'},
        {"log-retain", required_argument, NULL, 'R'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},          {"outstanding", required_argument, NULL, 'O'},
        {"rate", required_argument, NULL, 'P'},       {NULL, 0, NULL, 0},
    };
    *o = (struct node_opts){
        .id = UINT64_MAX, .window = 64, .value_bytes = 64, .report_fd = -1, .control_fd = -1};
    o->idle.kind = DP_IDLE_SLEEP;
    o->idle.sleep_us = 10;
    int c;
    int idx = -1;
    uint64_t seen = 0;
    optind = 1;
    static char prog[] = "bpcon-node";
    argv[0] = prog; /* getopt's messages name the tool, not its path */
    if (dp_flags_exact("bpcon-node", argc, argv, opts) != 0) {
        return -EINVAL;
    }
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if (c == 'h') {
            node_usage(stdout);
            exit(tool_out_status("bpcon-node", 0, 1));
        }
        if (c == 'V') {
            printf("bpcon-node %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(tool_out_status("bpcon-node", 0, 1));
        }
        if (c == '?') {
            return -EINVAL; /* getopt named the flag */
        }
        /* Every flag with a value takes one: a second one is refused. */
        if (opts[idx].has_arg == required_argument &&
            dp_flag_once("bpcon-node", opts[idx].name, idx, &seen) != 0) {
            return -EINVAL;
        }
        if (node_opt(o, c, optarg) != 0) {
            const char *flag;
            const char *range;
            node_range(c, &flag, &range);
            fprintf(stderr, "bpcon-node: %s '%s': expected %s\n", flag, optarg, range);
            return -EINVAL;
        }
    }
    return node_check(argc, argv, o);
}

/* The program's own arguments (after "--", or all of them when there is
 * no "--"): parsed before EAL starts, so --help, --version and every bad
 * flag answer at once, without EAL. Returns the index of "--" or argc. */
static int
node_early_args(int argc, char **argv, struct node_opts *o, bool made[2])
{
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--") != 0) {
        dash++;
    }
    /* --help or --version among the EAL part (no "--" given) too. */
    for (int k = 1; k < dash; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            node_usage(stdout);
            exit(tool_out_status("bpcon-node", 0, 1));
        }
        if (strcmp(argv[k], "--version") == 0) {
            printf("bpcon-node %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(tool_out_status("bpcon-node", 0, 1));
        }
    }
    if (dash == argc) {
        fprintf(stderr, "bpcon-node: missing '--' before the program's flags "
                        "(EAL arguments come first; bpcon-node --help)\n");
        exit(2);
    }
    char *saved = argv[dash];
    argv[dash] = argv[0];
    int rc = node_parse(argc - dash, argv + dash, o);
    argv[dash] = saved;
    if (rc == 0 && o->log_out != NULL) {
        rc = node_log_out_check(o, made);
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: see bpcon-node --help\n");
        exit(2);
    }
    return dash;
}

static void
node_pace(const struct node_opts *o, struct dp_pace *out)
{
    out->window = (uint32_t)o->window;
    out->outstanding = o->outstanding;
    out->rate = o->rate;
}

/* The cluster file and this party's id in it, read before EAL starts
 * (parsing only: nothing in it needs EAL). A --cluster that names no file
 * and an --id not in the cluster are usage errors (exit 2), as every bad
 * flag is; an error inside the file stops the start (exit 1, FILE:LINE:
 * cause). Before (review B5), both were found after EAL, exit 1. */
static void
node_cluster_early(struct node *n)
{
    char err[2 * PATH_MAX] = "";
    struct stat st;
    if (stat(n->o.cluster, &st) != 0) {
        fprintf(stderr, "bpcon-node: --cluster '%s': %s\nbpcon-node: see bpcon-node --help\n",
                n->o.cluster, strerror(errno));
        node_log_out_unmake(n->o.log_out, n->log_made);
        exit(2);
    }
    int rc = bpc_dp_cluster_load(n->o.cluster, &n->cluster, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: %s\n", err[0] != '\0' ? err : bpc_strerror(rc));
        node_log_out_unmake(n->o.log_out, n->log_made);
        exit(1);
    }
    if (n->o.id >= n->cluster.parties_count) {
        fprintf(stderr,
                "bpcon-node: --id '%llu': id %llu is not in the cluster (parties 0..%u)\n"
                "bpcon-node: see bpcon-node --help\n",
                (unsigned long long)n->o.id, (unsigned long long)n->o.id,
                n->cluster.parties_count - 1);
        node_log_out_unmake(n->o.log_out, n->log_made);
        exit(2);
    }
}

/* The configuration of the cluster node_cluster_early read. */
static int
node_config(struct node *n, char *err, size_t err_len)
{
    uint32_t self = (uint32_t)n->o.id;
    int rc = bpc_dp_cluster_config(&n->cluster, self, &n->cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    n->keys = calloc(n->cluster.parties_count, BPC_KEY_BYTES);
    if (n->keys == NULL) {
        return -ENOMEM;
    }
    rc = bpc_dp_keys_load(n->cluster.parties[self].key_path, self, n->cluster.parties_count,
                          n->keys, err, err_len);
    if (rc == 0 && n->o.log_out != NULL) {
        rc = node_log_out_distinct(n->o.log_out, n->cluster.parties[self].key_path, "the key file",
                                   err, err_len);
    }
    if (rc == 0) {
        const char *key = n->cluster.parties[self].key_path;
        rc = node_not_store_tmp("the key file", key, key, n->o.store, err, err_len);
    }
    if (rc != 0) {
        return rc;
    }
    n->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])n->keys;
    struct dp_pace pace;
    node_pace(&n->o, &pace);
    dp_config_tune(&n->cfg, dp_pace_window(&pace, n->cluster.parties_count));
    n->cfg.on_apply = dp_load_apply;
    n->cfg.apply_ctx = &n->load;
    randombytes_buf(&n->cfg.seed, sizeof(n->cfg.seed));
    return bpc_config_validate(&n->cfg, err, err_len);
}

/* With --store the party owns the durable store: it puts the application
 * state as of each new floor (dp_app_state_hook) in the same commit as,
 * and before, the engine records that carry that floor, so after a crash
 * the application state is never behind the restored floor (when it is
 * ahead, instances below it are skipped). */
static int
node_party(struct node *n, char *err, size_t err_len)
{
    struct dp_pace pace;
    node_pace(&n->o, &pace);
    int rc = dp_load_init(&n->load, (uint32_t)n->o.id, n->cluster.parties_count, n->o.commands,
                          &pace, (uint32_t)n->o.value_bytes, !n->o.no_load);
    if (rc != 0) {
        snprintf(err, err_len, "no memory for the load generator");
        return rc;
    }
    struct bpc_dp_party_conf conf = {
        .engine = &n->cfg,
        .links = n->links,
        .links_count = n->links_count,
        .pool = n->pool,
        .socket_id = (int)rte_socket_id(),
        .store_path = n->o.store,
        .store_options = {.no_sync = n->o.no_fsync},
        .app_state = dp_app_state_hook,
        .app_state_ctx = &n->load,
        .log_retain = n->o.log_retain,
        .on_decide = dp_load_decided,
        .decide_ctx = &n->load,
        .telemetry = true,
    };
    memcpy(conf.self_mac.addr_bytes, n->cluster.parties[n->o.id].mac, 6);
    rc = bpc_dp_party_init(&n->party, &conf, err, err_len);
    if (rc == 0 && n->o.store == NULL) {
        BPC_DP_LOG(WARNING,
                   "party %llu: no --store: the votes are kept in memory only, nothing is "
                   "durable; restarted, this party is one that lost its store\n",
                   (unsigned long long)n->o.id);
    }
    if (rc != 0 || n->o.store == NULL) {
        return rc;
    }
    struct dp_app_state app;
    memset(&app, 0, sizeof(app));
    if (dp_load_resume_from_store(&n->load, n->party, &app) < 0) {
        snprintf(err, err_len, "store %s: application state unreadable", n->o.store);
        return -EINVAL;
    }
    const struct bpc_store_info *in = bpc_store_info(bpc_dp_party_store(n->party));
    BPC_DP_LOG(INFO,
               "party %llu: store %s (%s): %llu records in %llu commits, floor %llu, torn tail "
               "%llu bytes dropped; application state at %llu (%llu applied)\n",
               (unsigned long long)n->o.id, n->o.store,
               n->o.no_fsync ? "NO fdatasync (--no-fsync): benchmark only, a machine crash can "
                               "lose votes already sent"
                             : "fdatasync per engine step",
               (unsigned long long)in->records, (unsigned long long)in->commits,
               (unsigned long long)bpc_dp_party_restored_floor(n->party),
               (unsigned long long)in->torn_bytes, (unsigned long long)app.floor,
               (unsigned long long)app.applied);
    return 0;
}

/* True when some port is left to process exit (see node_stop). */
static bool
node_exit_only(const struct node *n)
{
    for (uint32_t i = 0; i < n->ports_count; i++) {
        if (n->port_exit_only[i]) {
            return true;
        }
    }
    return false;
}

/* Reports, writes the logs and frees; false when a log could not be
 * written. */
static bool
node_stop(struct node *n)
{
    bool ok = true;
    if (n->report != NULL) {
        dp_load_report(n->report, &n->load);
        node_report_flush(n);
    }
    if (n->o.log_out != NULL && dp_load_write_log(&n->load, n->o.log_out) != 0) {
        fprintf(stderr, "bpcon-node: cannot write %s\n", n->o.log_out);
        ok = false;
    }
    if (n->o.log_out != NULL) {
        /* The decided log itself (FILE.decided), read back through QSBR. */
        char path[4096];
        struct dp_dlog_entry *d = NULL;
        uint64_t dn = 0;
        snprintf(path, sizeof(path), "%s.decided", n->o.log_out);
        if (dp_dlog_snapshot(bpc_dp_party_log(n->party), &d, &dn) != 0 ||
            dp_dlog_write(d, dn, path) != 0) {
            fprintf(stderr, "bpcon-node: cannot write %s\n", path);
            ok = false;
        }
        free(d);
    }
    bpc_dp_party_free(n->party);
    /* DPDK 22.11's virtio_user in server mode can abort the process from
     * its interrupt thread (epoll_ctl on a descriptor it closed) when a
     * port whose peer went away is stopped or closed; those ports are left
     * to process exit, which releases them. Every other port is stopped
     * and closed. */
    for (uint32_t i = 0; i < n->ports_count; i++) {
        if (!n->port_exit_only[i]) {
            bpc_dp_port_close(n->ports[i]);
        }
    }
    if (!node_exit_only(n)) {
        rte_mempool_free(n->pool); /* else a started port still holds its mbufs */
    }
    dp_load_free(&n->load);
    if (n->keys != NULL) {
        sodium_memzero(n->keys, (size_t)n->cluster.parties_count * BPC_KEY_BYTES);
    }
    free(n->keys);
    bpc_dp_cluster_free(&n->cluster);
    if (n->report != NULL) {
        fclose(n->report);
    }
    return ok;
}

static void
node_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = node_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* A --report-fd reader that went away is a failed write, not the end
     * of the party (node_report_flush); before, SIGPIPE killed it (141). */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Everything up to a party ready to run: libbpcon, the clock, the
 * configuration, the ports, the rx rings and workers' plan, the party.
 * 0, or the first failure (with err set where there is more to say). */
static int
node_bring_up(struct node *n, char *err, size_t err_len)
{
    int rc = bpc_init();
    if (rc == 0) {
        bpc_dp_clock_init();
        dp_clock_anchor(); /* the report's timestamps: CLOCK_MONOTONIC */
        (void)bpc_dp_telemetry_register();
        rc = node_config(n, err, err_len);
    }
    if (rc == 0) {
        rc = node_ports(n, err, err_len);
    }
    if (rc == 0) {
        rc = node_rx_rings(n, err, err_len);
    }
    if (rc == 0) {
        node_workers_plan(n);
        rc = node_party(n, err, err_len);
    }
    return rc;
}

/* The report stream on --report-fd, and a non-blocking --control-fd. */
static void
node_fds_open(struct node *n)
{
    if (n->o.report_fd >= 0) {
        n->report = fdopen(n->o.report_fd, "w");
        if (n->report == NULL) {
            fprintf(stderr, "bpcon-node: --report-fd %d: %s; no report lines\n", n->o.report_fd,
                    strerror(errno));
        }
    }
    if (n->o.control_fd >= 0) {
        (void)fcntl(n->o.control_fd, F_SETFL, O_NONBLOCK);
    }
}

/* The report's "ready" line (bpcon-cluster starts the load once every
 * node has sent it). */
static void
node_ready(struct node *n)
{
    fprintf(n->report, "ready id=%llu pid=%d store=%d fsync=%d\n", (unsigned long long)n->o.id,
            (int)getpid(), n->o.store != NULL, n->o.store != NULL && !n->o.no_fsync);
    node_report_flush(n);
}

/* The orderly stop after the run (or a failed worker launch, rc): the
 * exit status. */
static int
node_end(struct node *n, int rc)
{
    /* Workers stop only after the drain: it still needs their frames. */
    node_workers_end(n);
    node_rx_rings_free(n);
    bool exit_only = node_exit_only(n);
    if (!node_stop(n)) {
        rc = -EIO;
    }
    bpc_log_thread_unregister();
    /* rte_eal_cleanup would close the ports left started (and free them
     * under their interrupt handlers); with such ports, process exit
     * releases everything instead. */
    if (!exit_only) {
        rte_eal_cleanup();
    }
    return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    node_signals();
    static struct node n;
    n.mesh_lock_fd = -1;
    (void)node_early_args(argc, argv, &n.o, n.log_made);
    node_cluster_early(&n);
    int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        rte_exit(EXIT_FAILURE, "bpcon-node: EAL init failed: %s\n", rte_strerror(rte_errno));
    }
    argv[eal] = argv[0];
    if (node_parse(argc - eal, argv + eal, &n.o) != 0) {
        node_log_out_unmake(n.o.log_out, n.log_made);
        node_usage(stderr);
        rte_eal_cleanup();
        return 2;
    }
    char err[2 * PATH_MAX] = ""; /* messages name up to three paths */
    /* The main lcore steps the engine: it writes the decided log (QSBR). */
    bpc_log_thread_register();
    int rc = node_bring_up(&n, err, sizeof(err));
    if (rc != 0) {
        /* SIGINT or SIGTERM during set-up (a vhost-mesh server port
         * waiting in accept() for its peer fails with EINTR) is a stop
         * asked for, not a set-up error: exit 0, nothing ran. Before
         * (review B4), "vdev virtio_user0 (...): Operation not permitted"
         * and exit 1, the port's socket left behind (node_mesh). */
        bool stop = atomic_load(&node_quit) != 0;
        if (stop) {
            fprintf(stderr, "bpcon-node: interrupted during set-up (SIGINT or SIGTERM): stopped "
                            "before the party ran, nothing decided\n");
        } else {
            fprintf(stderr, "bpcon-node: %s\n", err[0] != '\0' ? err : bpc_strerror(rc));
        }
        /* A refused start leaves no --log-out file it made (an empty
         * FILE.decided was left when FILE was the key file; review B6). */
        node_log_out_unmake(n.o.log_out, n.log_made);
        node_rx_rings_free(&n);
        bpc_log_thread_unregister();
        rte_eal_cleanup();
        return stop ? 0 : 1;
    }
    node_fds_open(&n);
    rc = node_workers_launch(&n, err, sizeof(err));
    if (rc == 0 && n.report != NULL) {
        node_ready(&n);
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: %s\n", err);
    } else {
        /* A failed party ends the run with exit 1 (node_run logged why). */
        rc = node_run(&n);
        rc = rc == 0 ? node_drain(&n) : rc;
    }
    return node_end(&n, rc);
}
