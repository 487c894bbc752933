/*
 * cluster_common.c - bpcon-cluster's fault targeting, progress lines,
 * agreement check and summary (shared by the ring and virtio transports).
 *
 * Must never: call DPDK (the virtio harness runs without EAL).
 */
#include "cluster.h"
#include "json_str.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longest $TMPDIR a run directory goes under: the vhost sockets inside
 * it (bpc-LO-HI.sock) must fit a sockaddr_un path (108 bytes). */
#define CL_TMPDIR_MAX 64u

int
cl_run_dir_make(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] != '/' || strlen(base) > CL_TMPDIR_MAX) {
        base = "/tmp";
    }
    if ((size_t)snprintf(buf, len, "%s/bpcon-cluster-XXXXXX", base) >= len ||
        mkdtemp(buf) == NULL) {
        fprintf(stderr, "bpcon-cluster: a run directory under %s: %s\n", base, strerror(errno));
        return -1;
    }
    return 0;
}

int
cl_dir_entry_sync(const char *dir)
{
    char parent[320];
    int n = snprintf(parent, sizeof(parent), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(parent)) {
        fprintf(stderr, "bpcon-cluster: %s: path too long\n", dir);
        return -1;
    }
    /* Trailing slashes are not a component; the parent is what the last
     * slash before the last component leaves ("." with none). */
    while (n > 1 && parent[n - 1] == '/') {
        parent[--n] = '\0';
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        snprintf(parent, sizeof(parent), ".");
    } else if (slash == parent) {
        parent[1] = '\0';
    } else {
        *slash = '\0';
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        fprintf(stderr, "bpcon-cluster: %s: cannot make its entry in %s durable: %s\n", dir, parent,
                strerror(err));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

int
cl_store_fresh(const char *dir, const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        fprintf(stderr,
                "bpcon-cluster: --store-dir %s: %s exists (a store of an earlier run; every "
                "run starts its parties with fresh stores, and this one is left as it is: "
                "remove it or choose another directory)\n",
                dir, path);
        return -1;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "bpcon-cluster: --store-dir %s: %s: %s\n", dir, path, strerror(errno));
        return -1;
    }
    return 0;
}

int
cl_adopter(uint32_t parties, const bool *alive, uint32_t dead)
{
    for (uint32_t i = 1; i <= parties; i++) {
        uint32_t j = (dead + i) % parties;
        if (alive[j] && j != dead) {
            return (int)j;
        }
    }
    return -1;
}

int
cl_event_target(const struct cl_event *e, int leader, uint32_t parties, const bool *alive,
                int last_killed)
{
    if (e->who >= 0) {
        return e->who < (int)parties ? e->who : -1;
    }
    if (e->kind == CL_EVENT_RESTART) {
        return last_killed;
    }
    if (e->who == CL_WHO_LEADER) {
        return leader >= 0 && leader < (int)parties && alive[leader] ? leader : -1;
    }
    for (int i = (int)parties - 1; i >= 0; i--) {
        if (alive[i] && i != leader) {
            return i;
        }
    }
    return -1;
}

static struct timespec cl_t0;

void
cl_clock_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &cl_t0);
}

double
cl_since_start_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - cl_t0.tv_sec) + (double)(t.tv_nsec - cl_t0.tv_nsec) / 1e9;
}

void
cl_progress(const struct cl_summary *s, uint64_t commands, int leader)
{
    static double last_s;
    static uint64_t last_decisions;
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    uint64_t decisions = 0;
    uint32_t alive = 0;
    for (uint32_t i = 0; i < s->parties; i++) {
        if (!s->r[i].alive) {
            continue;
        }
        alive++;
        lo = s->r[i].unique < lo ? s->r[i].unique : lo;
        hi = s->r[i].unique > hi ? s->r[i].unique : hi;
        decisions = s->r[i].decisions > decisions ? s->r[i].decisions : decisions;
    }
    if (alive == 0) {
        lo = 0;
    }
    double now = cl_since_start_s();
    double rate = now > last_s && decisions >= last_decisions
                      ? (double)(decisions - last_decisions) / (now - last_s)
                      : 0.0;
    last_s = now;
    last_decisions = decisions;
    fprintf(stderr,
            "[%7.2fs] decided commands: min %llu max %llu of %llu; instances/s now %.0f; "
            "alive %u/%u; leader %d\n",
            now, (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)commands, rate,
            alive, s->parties, leader);
}

static bool
cl_same_log(const struct cl_party_result *a, const struct cl_party_result *r)
{
    if (r->restarts > 0) {
        /* Resumed at its durable floor with the application state persisted
         * there (count and digest of everything applied below it): what it
         * applied since must be the tail of the log (empty when nothing was
         * decided after its floor), and its count and digest over the whole
         * log must be the reference's. */
        return dp_log_is_suffix(a->log, a->log_len, r->log, r->log_len) &&
               r->applied == a->applied && r->digest == a->digest;
    }
    return r->applied == a->applied && r->digest == a->digest && r->log_len == a->log_len &&
           (r->log_len == 0 || memcmp(r->log, a->log, r->log_len * sizeof(*r->log)) == 0);
}

/* Do all surviving, reported parties hold the identical log? The
 * reference is a survivor that never restarted (it holds the whole log). */
static bool
cl_agreement(const struct cl_summary *s, int *ref_out)
{
    int ref = -1;
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        if (r->alive && !r->reported) {
            return false;
        }
        if (ref < 0 && r->alive && r->restarts == 0) {
            ref = (int)i;
        }
    }
    if (ref < 0) {
        return false;
    }
    *ref_out = ref;
    const struct cl_party_result *a = &s->r[ref];
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        if (r->alive && !cl_same_log(a, r)) {
            /* Behind (one log a prefix of the other: not done, not split)
             * or different (the same position holds other entries). */
            const struct cl_party_result *lo = r->log_len < a->log_len ? r : a;
            const struct cl_party_result *hi = lo == r ? a : r;
            bool prefix =
                r->restarts == 0 && lo->log_len < hi->log_len &&
                (lo->log_len == 0 || memcmp(lo->log, hi->log, lo->log_len * sizeof(*lo->log)) == 0);
            printf("%s: party %u (applied %llu, digest %016llx, restarts %u) vs "
                   "party %d (applied %llu, digest %016llx)\n",
                   prefix ? "NOT EQUAL (one log is a prefix of the other: a party is behind)"
                          : "DISAGREEMENT",
                   i, (unsigned long long)r->applied, (unsigned long long)r->digest, r->restarts,
                   ref, (unsigned long long)a->applied, (unsigned long long)a->digest);
            return false;
        }
    }
    return true;
}

/* Do all survivors hold the same decided log (struct bpc_log) as the
 * reference over what they hold, ending at the same index? A restarted
 * party's log starts at its durable floor. Skip masks are counted apart:
 * they are each engine's own apply verdict, not the agreed values. */
static bool
cl_log_agreement(const struct cl_summary *s, int ref, uint64_t *mask_diffs)
{
    *mask_diffs = 0;
    if (ref < 0) {
        return false;
    }
    const struct cl_party_result *a = &s->r[ref];
    bool ok = true;
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        if (!r->alive || (int)i == ref) {
            continue;
        }
        uint64_t vd = 0;
        uint64_t md = 0;
        bool same = dp_dlog_check(a->dlog, a->dlog_len, r->dlog, r->dlog_len, &vd, &md);
        *mask_diffs += md;
        if (!same || md > 0 || r->restarts > 0) {
            printf("decided log of party %u: entries %llu..%llu, %s party %d's (value diffs "
                   "%llu, skip-mask diffs %llu)\n",
                   i, r->dlog_len > 0 ? (unsigned long long)r->dlog[0].index : 0ull,
                   r->dlog_len > 0 ? (unsigned long long)r->dlog[r->dlog_len - 1].index : 0ull,
                   same ? "within" : "NOT within", ref, (unsigned long long)vd,
                   (unsigned long long)md);
        }
        ok = ok && same;
    }
    return ok;
}

static void
cl_span(const struct cl_summary *s, uint64_t *first, uint64_t *last)
{
    *first = UINT64_MAX;
    *last = 0;
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        if (r->reported && r->first_submit_ns != 0 && r->first_submit_ns < *first) {
            *first = r->first_submit_ns;
        }
        /* A restarted party applies its catch-up late: not load progress. */
        if (r->alive && r->reported && r->restarts == 0 && r->last_unique_ns > *last) {
            *last = r->last_unique_ns;
        }
    }
}

/* The shortest load span a rate is given over: over less (a load that
 * ended at once, or first and last moments a few ns apart) the figure
 * says nothing and is unknown. Before (review B7's F6), frames_per_s and
 * the others came out as numbers like 3e12. */
#define CL_SPAN_MIN_S 0.001

/* n per second over span_s, or -1 (unknown) when the span is too short. */
static double
cl_per_s(double n, double span_s)
{
    return span_s >= CL_SPAN_MIN_S ? n / span_s : -1.0;
}

/* A text rate: "%.0f", or "unknown" (negative). */
static const char *
cl_rate_txt(char *buf, size_t len, double v)
{
    if (v < 0) {
        return "unknown";
    }
    snprintf(buf, len, "%.0f", v);
    return buf;
}

/* A JSON number with `prec` decimals, or null when unknown (negative). */
static const char *
cl_num(char *buf, size_t len, double v, int prec)
{
    if (v < 0) {
        return "null";
    }
    snprintf(buf, len, "%.*f", prec, v);
    return buf;
}

/* The summary lines on the load's pacing and what the run cost. */
static void
cl_costs_print(const struct cl_opts *o, const struct cl_summary *s, double decisions, double span_s)
{
    if (o->outstanding > 0) {
        printf("load: closed loop, %llu in flight across the cluster\n",
               (unsigned long long)o->outstanding);
    } else if (o->rate > 0) {
        printf("load: open loop, %llu commands/s on a fixed schedule (latency from the "
               "scheduled time)\n",
               (unsigned long long)o->rate);
    } else {
        printf("load: each party keeps up to %u of its own commands in flight\n", o->window);
    }
    if (s->cpu_known) {
        printf("cpu: %.3f s over the load (%s), %.1f us per decision\n", (double)s->cpu_ns / 1e9,
               o->virtio ? "the nodes alive at the end and this process"
                         : "this process: every party, the switch and the load",
               decisions > 0 ? (double)s->cpu_ns / 1e3 / decisions : 0.0);
    }
    double fps = cl_per_s((double)s->frames, span_s);
    char b[32];
    if (s->frames > 0) {
        printf("frames: %llu through the switch, %s/s over the load span, mean %llu bytes\n",
               (unsigned long long)s->frames, cl_rate_txt(b, sizeof(b), fps),
               (unsigned long long)(s->frame_bytes / s->frames));
    }
    if (s->raw_ns > 0) {
        double raw = (double)s->raw_frames * 1e9 / (double)s->raw_ns;
        printf("raw baseline: %.0f frames/s of %u bytes over the same ports and switch "
               "(%.3f s, no engine); consensus frames/s is %.3f of it\n",
               raw, s->raw_len, (double)s->raw_ns / 1e9, raw > 0 && fps >= 0 ? fps / raw : 0.0);
    }
    if (s->rss_party_kb >= 0) {
        printf("memory: VmRSS per party %lld KiB after start-up, %lld KiB at the end (engine "
               "window %u slots; load recorders excluded)\n",
               (long long)s->rss_setup_kb, (long long)s->rss_party_kb, s->slots);
    } else if (s->rss_node_kb >= 0) {
        printf("memory: VmRSS per node process %lld KiB at the end\n", (long long)s->rss_node_kb);
    }
}

/* The rest of the closing JSON line: pacing and costs. */
static void
cl_costs_json(const struct cl_opts *o, const struct cl_summary *s, double decisions, double span_s)
{
    char b[13][48];
    double cpu = s->cpu_known ? (double)s->cpu_ns / 1e9 : -1.0;
    double fps = s->frames > 0 ? cl_per_s((double)s->frames, span_s) : -1.0;
    double raw = s->raw_ns > 0 ? (double)s->raw_frames * 1e9 / (double)s->raw_ns : -1.0;
    printf("\"load\":\"%s\",\"outstanding\":%s,\"rate\":%s,\"slots\":%s,\"cpu_s\":%s,"
           "\"cpu_s_per_decision\":%s,\"frames\":%s,\"frames_per_s\":%s,"
           "\"raw_frames_per_s\":%s,\"raw_frame_bytes\":%s,\"frames_vs_raw\":%s,"
           "\"rss_party_setup_kb\":%s,\"rss_party_kb\":%s,\"rss_node_kb\":%s}\n",
           o->outstanding > 0 ? "outstanding" : (o->rate > 0 ? "rate" : "window"),
           cl_num(b[0], sizeof(b[0]), o->outstanding > 0 ? (double)o->outstanding : -1, 0),
           cl_num(b[1], sizeof(b[1]), o->rate > 0 ? (double)o->rate : -1, 0),
           cl_num(b[2], sizeof(b[2]), s->slots > 0 ? (double)s->slots : -1, 0),
           cl_num(b[3], sizeof(b[3]), cpu, 3),
           cl_num(b[4], sizeof(b[4]), cpu >= 0 && decisions > 0 ? cpu / decisions : -1, 9),
           cl_num(b[11], sizeof(b[11]), o->virtio ? -1.0 : (double)s->frames, 0),
           cl_num(b[5], sizeof(b[5]), fps, 0), cl_num(b[6], sizeof(b[6]), raw, 0),
           cl_num(b[12], sizeof(b[12]), raw > 0 ? (double)s->raw_len : -1.0, 0),
           cl_num(b[7], sizeof(b[7]), raw > 0 && fps >= 0 ? fps / raw : -1, 4),
           cl_num(b[8], sizeof(b[8]), (double)s->rss_setup_kb, 0),
           cl_num(b[9], sizeof(b[9]), (double)s->rss_party_kb, 0),
           cl_num(b[10], sizeof(b[10]), (double)s->rss_node_kb, 0));
}

/* What the summary's lines, its JSON line and its verdict are made of. */
struct cl_totals {
    int ref; /* the reference party of the agreement checks, or -1 */
    bool agree;
    bool log_agree;
    uint64_t mask_diffs;
    bool all;   /* every survivor that never restarted decided every command */
    bool valid; /* no party applied an invalid value */
    uint32_t alive;
    uint64_t decided; /* the fewest commands such a survivor decided */
    uint64_t dups;
    bool clean;
    bool chaos_store; /* a kill landed inside a store call, when one was due */
    double span_s;
    double applied;
    double decisions;
    double dps;
    double cps;
    double p50;
    double p99;
    double p999;
};

/* One line per party. */
static void
cl_party_lines(const struct cl_summary *s)
{
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        printf("party %2u: %s decisions %llu applied %llu unique %llu dups %llu invalid %llu "
               "submitted %llu restarts %u digest %016llx\n",
               i, r->alive ? "alive" : "dead ", (unsigned long long)r->decisions,
               (unsigned long long)r->applied, (unsigned long long)r->unique,
               (unsigned long long)r->dups, (unsigned long long)r->invalid,
               (unsigned long long)r->submitted, r->restarts, (unsigned long long)r->digest);
    }
}

/* The parties' counts in t: all, valid, alive, decided (UINT64_MAX when
 * every survivor restarted) and dups. */
static void
cl_tally(const struct cl_opts *o, const struct cl_summary *s, struct cl_totals *t)
{
    t->all = true;
    t->valid = true;
    t->alive = 0;
    t->decided = UINT64_MAX;
    t->dups = 0;
    for (uint32_t i = 0; i < s->parties; i++) {
        const struct cl_party_result *r = &s->r[i];
        t->valid = t->valid && r->invalid == 0;
        if (!r->alive) {
            continue;
        }
        t->alive++;
        if (r->restarts == 0) {
            t->all = t->all && r->reported && r->unique == o->commands;
            t->decided = r->unique < t->decided ? r->unique : t->decided;
        }
        t->dups += r->dups;
    }
}

/* The rates and latencies in t, over the load's span (the run's wall time
 * when the span is unknown). */
static void
cl_rates(const struct cl_summary *s, struct cl_totals *t)
{
    uint64_t first = 0;
    uint64_t last = 0;
    cl_span(s, &first, &last);
    t->span_s = last > first && first != UINT64_MAX ? (double)(last - first) / 1e9
                                                    : (double)s->wall_ns / 1e9;
    t->applied = t->ref >= 0 ? (double)s->r[t->ref].applied : 0.0;
    t->decisions = t->ref >= 0 ? (double)s->r[t->ref].decisions : 0.0;
    t->dps = cl_per_s(t->decisions, t->span_s); /* -1: unknown */
    t->cps = cl_per_s((double)t->decided, t->span_s);
    /* No sample: unknown (-1; null in the JSON line), not 0. */
    bool sampled = s->hist.total > 0;
    t->p50 = sampled ? (double)dp_hist_quantile(&s->hist, 0.50) / 1e3 : -1.0;
    t->p99 = sampled ? (double)dp_hist_quantile(&s->hist, 0.99) / 1e3 : -1.0;
    t->p999 = sampled ? (double)dp_hist_quantile(&s->hist, 0.999) / 1e3 : -1.0;
}

/* The summary lines on the run: what ran, what was decided how fast. */
static void
cl_run_print(const struct cl_opts *o, const struct cl_summary *s, const struct cl_totals *t)
{
    printf("%s: %u parties (%u alive), %llu commands of %u bytes\n", o->virtio ? "virtio" : "ring",
           s->parties, t->alive, (unsigned long long)o->commands, o->value_bytes);
    char d[32];
    char c[32];
    printf("decided %llu/%llu commands in %.0f instances; load span (first submit to last "
           "decision) %.3f s: %s decisions/s, %s commands/s; run %.2f s since start\n",
           (unsigned long long)t->decided, (unsigned long long)o->commands, t->decisions, t->span_s,
           cl_rate_txt(d, sizeof(d), t->dps), cl_rate_txt(c, sizeof(c), t->cps),
           cl_since_start_s());
    if (s->hist.total == 0) {
        printf("submit-to-apply latency (us): unknown (0 samples)\n");
    } else {
        printf("submit-to-apply latency (us): p50 %.1f p99 %.1f p99.9 %.1f (%llu samples)\n",
               t->p50, t->p99, t->p999, (unsigned long long)s->hist.total);
    }
}

/* The summary lines on the checks: durability, the frame tap, chaos, and
 * the verdicts. */
static void
cl_checks_print(const struct cl_opts *o, const struct cl_summary *s, const struct cl_totals *t)
{
    printf("durability: %s; stores under %s\n",
           o->no_fsync ? "NO fdatasync (--no-fsync): benchmark only, not crash-safe"
                       : "fdatasync per engine step before dependent frames leave",
           o->store_where[0] != '\0' ? o->store_where : "(none)");
    if (s->tapped) {
        printf("frame tap: %llu frames, %llu records checked, %llu contradictions%s\n",
               (unsigned long long)s->tap_frames, (unsigned long long)s->tap_records,
               (unsigned long long)s->contradictions, o->chaos > 0 ? "" : " (no chaos)");
    }
    if (o->chaos > 0 || s->store_failures > 0) {
        printf("chaos: %u of %u kill/restart cycles (--seed %llu; %u inside a store call), each "
               "restarted party caught up: %s; store failures %u\n",
               s->chaos_kills, o->chaos, (unsigned long long)o->seed, s->chaos_store_kills,
               s->chaos_stuck == 0 ? "yes" : "NO", s->store_failures);
    }
    if (!t->chaos_store) {
        printf("chaos: NO kill landed inside a store call: the load ended before the armed "
               "calls came (more --commands, or pace them with --rate)\n");
    }
    printf("agreement %s, decided logs agree %s, all decided %s, values valid %s, clean stops "
           "%s%s%s\n",
           t->agree ? "yes" : "NO", t->log_agree ? "yes" : "NO", t->all ? "yes" : "NO",
           t->valid ? "yes" : "NO", t->clean ? "yes" : "NO",
           s->deadline_hit ? ", DEADLINE HIT" : "", s->interrupted ? ", INTERRUPTED" : "");
}

/* The closing JSON line up to the pacing and costs (cl_costs_json). */
static void
cl_json_print(const struct cl_opts *o, const struct cl_summary *s, const struct cl_totals *t)
{
    char window[16] = "null"; /* the per-party window paces the default load only */
    if (o->outstanding == 0 && o->rate == 0) {
        snprintf(window, sizeof(window), "%u", o->window);
    }
    char contra[32] = "null";
    char d[48];
    char c[48];
    char q[3][48];
    if (s->tapped) {
        snprintf(contra, sizeof(contra), "%llu", (unsigned long long)s->contradictions);
    }
    printf("{\"transport\":\"%s\",\"idle\":\"%s\",\"parties\":%u,\"alive\":%u,\"commands\":%llu,"
           "\"decided\":%llu,\"applied\":%.0f,\"instances\":%.0f,\"agreement\":%s,"
           "\"log_agreement\":%s,\"skip_mask_diffs\":%llu,\"all_decided\":%s,"
           "\"valid\":%s,\"duplicates\":%llu,\"decisions_per_s\":%s,\"commands_per_s\":%s,"
           "\"p50_us\":%s,\"p99_us\":%s,\"p999_us\":%s,\"elapsed_s\":%.3f,"
           "\"run_s\":%.3f,"
           "\"value_bytes\":%u,\"window\":%s,\"clean_stop\":%s,\"interrupted\":%s,"
           "\"fsync\":%s,\"store_dir\":",
           o->virtio ? "virtio" : "ring", o->idle_arg, s->parties, t->alive,
           (unsigned long long)o->commands, (unsigned long long)t->decided, t->applied,
           t->decisions, t->agree ? "true" : "false", t->log_agree ? "true" : "false",
           (unsigned long long)t->mask_diffs, t->all ? "true" : "false",
           t->valid ? "true" : "false", (unsigned long long)t->dups,
           cl_num(d, sizeof(d), t->dps, 0), cl_num(c, sizeof(c), t->cps, 0),
           cl_num(q[0], sizeof(q[0]), t->p50, 1), cl_num(q[1], sizeof(q[1]), t->p99, 1),
           cl_num(q[2], sizeof(q[2]), t->p999, 1), t->span_s, cl_since_start_s(), o->value_bytes,
           window, t->clean ? "true" : "false", s->interrupted ? "true" : "false",
           o->no_fsync ? "false" : "true");
    /* A path the user gave: escaped (a quote or a non-UTF-8 byte in it
     * would break the line). */
    json_str_print(stdout, o->store_where);
    printf(",\"store_failures\":%u,\"chaos_kills\":%u,\"chaos_stuck\":%u,"
           "\"chaos_store_kills\":%u,\"contradictions\":%s,",
           s->store_failures, s->chaos_kills, s->chaos_stuck, s->chaos_store_kills, contra);
}

/* Frees the logs the transports handed over in s. */
static void
cl_results_free(struct cl_summary *s)
{
    for (uint32_t i = 0; i < s->parties; i++) {
        free(s->r[i].owned_log);
        s->r[i].owned_log = NULL;
        free(s->r[i].dlog);
        s->r[i].dlog = NULL;
    }
}

bool
cl_summary_print(const struct cl_opts *o, struct cl_summary *s)
{
    struct cl_totals t = {.ref = -1};
    t.agree = cl_agreement(s, &t.ref);
    t.log_agree = cl_log_agreement(s, t.ref, &t.mask_diffs);
    cl_party_lines(s);
    cl_tally(o, s, &t);
    if (t.alive == 0 || t.decided == UINT64_MAX) {
        /* No live party ran the whole load (each one crashed at some point,
         * and a crashed party's unapplied commands are not resubmitted):
         * there is no count to judge "all decided" by. */
        if (t.alive > 0) {
            printf("no live party ran the whole load (every one restarted): the commands "
                   "count and the agreement check need one that did\n");
        }
        t.decided = 0;
        t.all = false;
    }
    cl_rates(s, &t);
    cl_run_print(o, s, &t);
    cl_costs_print(o, s, t.decisions, t.span_s);
    t.clean = s->unclean_stops == 0;
    /* Every second kill is armed inside a store call; with none landing
     * there the run did not test what it claims (the load ended first). */
    t.chaos_store = o->chaos < 2 || s->chaos_store_kills > 0;
    cl_checks_print(o, s, &t);
    cl_json_print(o, s, &t);
    cl_costs_json(o, s, t.decisions, t.span_s);
    fflush(stdout);
    cl_results_free(s);
    bool durable = s->store_failures == 0 && s->contradictions == 0;
    bool chaos_done = s->chaos_kills == o->chaos && s->chaos_stuck == 0 && t.chaos_store;
    return t.agree && t.log_agree && t.all && t.valid && t.clean && !s->interrupted && durable &&
           chaos_done;
}

static int
cl_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    (void)remove(path);
    return 0;
}

void
cl_runtime_dir_remove(const char *prefix)
{
    /* EAL's rule (eal_create_runtime_dir): /var/run for root, else
     * $XDG_RUNTIME_DIR or /tmp; then dpdk/<file-prefix>. */
    const char *base = "/var/run";
    if (getuid() != 0) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        base = xdg != NULL ? xdg : "/tmp";
    }
    char path[512];
    int len = snprintf(path, sizeof(path), "%s/dpdk/%s", base, prefix);
    if (len > 0 && (size_t)len < sizeof(path)) {
        cl_tree_remove(path);
    }
}

void
cl_dir_end(const struct cl_opts *o, bool ok)
{
    if (o->made_dir[0] == '\0') {
        return;
    }
    if (ok && !o->keep_dir) {
        cl_tree_remove(o->made_dir);
    } else {
        fprintf(stderr, "bpcon-cluster: %s kept: %s\n", o->made_what, o->made_dir);
    }
}

void
cl_tree_remove(const char *path)
{
    (void)nftw(path, cl_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool
cl_caught_up(const struct dp_log_entry *mine, const struct dp_log_entry *ref, uint32_t restarts,
             uint64_t digest, uint64_t ref_digest)
{
    bool same_last = mine->instance == ref->instance && mine->hash == ref->hash;
    return same_last || (restarts > 0 && digest == ref_digest);
}
