/*
 * cluster_virtio.c - bpcon-cluster's virtio transport: one bpcon-node per
 * party, a full mesh of virtio_user <-> net_vhost links between them.
 *
 * Owns: the run directory (keys, cluster file, sockets, per-node stderr,
 * logs, and the stores unless --store-dir puts them elsewhere), spawning and reaping nodes, the
 * report pipe (node fd 3: "ready", "progress", "result", "hist" lines) and the control pipe (node
 * fd 4: "go", "adopt ID"), the fault schedule, and reading the nodes' logs
 * for the agreement check.
 *
 * Must never: initialise EAL (this process only manages others), block on
 * one node (every pipe is non-blocking and polled), or leave a node running
 * (each is sent SIGTERM, then SIGKILL after a grace period, and reaped).
 */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* How long nodes get to stop after SIGTERM before SIGKILL. */
#define VIRTIO_STOP_GRACE_NS 15000000000ull
#define VIRTIO_LINE_MAX 65536u
/* One node argument (the node path may be a long absolute path). */
#define CL_ARG_MAX 4200

struct vnode {
    pid_t pid;
    int report_fd;  /* read end of the node's fd 3 */
    int control_fd; /* write end of the node's fd 4 */
    bool alive;
    bool stopping; /* sent SIGTERM by virtio_stop_all */
    bool killed;   /* sent SIGKILL by a --kill event */
    bool ready;
    bool store_failed; /* reported "failed": its persistence failed */
    bool got_go;
    bool reported;
    uint32_t restarts;
    uint64_t applied;
    uint64_t unique;
    uint64_t decisions; /* decided instances, from the last progress line */
    int leader;
    bool done;
    uint64_t last_instance;
    uint64_t last_hash;
    uint64_t digest; /* rolling hash over its applied log (restored too) */
    uint64_t cpu_go; /* its CPU time when the load started (0: started later) */
    struct cl_party_result res;
    struct dp_hist hist;
    char buf[VIRTIO_LINE_MAX];
    size_t buf_len;
};

struct vcluster {
    struct cl_opts *o;
    uint32_t n;
    char dir[64];
    char cluster_file[128];
    char node_path[4000];
    struct vnode v[CL_VIRTIO_PARTIES_MAX];
    uint64_t go_ns;
    int last_killed;
    int failed_start;        /* a node that ended before ready, not killed; -1: none */
    uint32_t unclean;        /* nodes that did not exit 0 after SIGTERM, or ended by
                                themselves with a nonzero status (not a store failure) */
    uint32_t store_failures; /* nodes that reported a failed store and ended */
    pid_t pid;               /* this process: names the nodes' EAL file prefixes */
    uint64_t cpu_go;         /* this process's CPU time when the load started */
};

static int
virtio_node_path(struct vcluster *c, const char *argv0)
{
    if (c->o->node_path != NULL) {
        snprintf(c->node_path, sizeof(c->node_path), "%s", c->o->node_path);
        return 0; /* cl_parse refused one that is not executable */
    }
    char self[3900];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        snprintf(self, sizeof(self), "%s", argv0);
        len = (ssize_t)strlen(self);
    }
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    snprintf(c->node_path, sizeof(c->node_path), "%s/bpcon-node", slash != NULL ? self : ".");
    return access(c->node_path, X_OK) == 0 ? 0 : -ENOENT;
}

static int
virtio_setup_dir(struct vcluster *c)
{
    if (cl_run_dir_make(c->dir, sizeof(c->dir)) != 0) {
        return -1;
    }
    char err[512];
    if (bpc_dp_keys_generate(c->dir, c->n, err, sizeof(err)) != 0) {
        fprintf(stderr, "bpcon-cluster: %s\n", err);
        return -1;
    }
    char spec[96];
    snprintf(spec, sizeof(spec), "vhost-mesh:%s", c->dir);
    snprintf(c->cluster_file, sizeof(c->cluster_file), "%s/cluster.conf", c->dir);
    uint64_t cluster_id = 0;
    randombytes_buf(&cluster_id, sizeof(cluster_id));
    if (dp_cluster_write(c->cluster_file, c->n, cluster_id >> 1, spec) != 0) {
        fprintf(stderr, "bpcon-cluster: cannot write %s\n", c->cluster_file);
        return -1;
    }
    return 0;
}

/* The stores' directory: --store-dir (made if missing, kept), or the run
 * directory (removed with it after a clean run). */
static int
virtio_store_dir(struct vcluster *c)
{
    struct cl_opts *o = c->o;
    const char *dir = o->store_dir != NULL ? o->store_dir : c->dir;
    snprintf(o->store_where, sizeof(o->store_where), "%s", dir);
    if (o->store_dir != NULL && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "bpcon-cluster: --store-dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    /* The stores make their own files durable in the folder; the folder's
     * entry in its parent is this run's to sync. */
    if (!o->no_fsync && cl_dir_entry_sync(dir) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        char path[320];
        snprintf(path, sizeof(path), "%s/store-%u", dir, i);
        if (cl_store_fresh(dir, path) != 0) {
            return -1; /* another cluster's store: refused, never removed */
        }
    }
    fprintf(stderr, "bpcon-cluster: stores under %s (%s)\n", dir,
            o->no_fsync ? "NO fdatasync: --no-fsync, benchmark only" : "fdatasync per engine step");
    return 0;
}

/* argv for node id: EAL args, then the node's own. */
static void
virtio_node_args(const struct vcluster *c, uint32_t id, char args[][CL_ARG_MAX], char **argv)
{
    const struct cl_opts *o = c->o;
    const struct vnode *v = &c->v[id];
    int k = 0;
    snprintf(args[k++], CL_ARG_MAX, "%s", c->node_path);
    /* Lcores that may run on either core (the kernel balances nodes): lcore
     * 0 steps the engine, any others poll rx queues (--node-lcores). */
    int at = snprintf(args[k], CL_ARG_MAX, "--lcores=0@(0-1)");
    for (uint32_t l = 1; l < o->node_lcores && at > 0 && at < CL_ARG_MAX; l++) {
        at += snprintf(args[k] + at, CL_ARG_MAX - (size_t)at, ",%u@(0-1)", l);
    }
    k++;
    snprintf(args[k++], CL_ARG_MAX, "--no-huge");
    snprintf(args[k++], CL_ARG_MAX, "--no-pci");
    snprintf(args[k++], CL_ARG_MAX, "-m");
    snprintf(args[k++], CL_ARG_MAX, "256");
    snprintf(args[k++], CL_ARG_MAX, "--file-prefix=bpc-%d-%u-%u", (int)c->pid, id, v->restarts);
    snprintf(args[k++], CL_ARG_MAX, "--log-level=lib.eal:warning");
    snprintf(args[k++], CL_ARG_MAX, "--");
    snprintf(args[k++], CL_ARG_MAX, "--cluster=%s", c->cluster_file);
    snprintf(args[k++], CL_ARG_MAX, "--id=%u", id);
    /* The commands every node checks its log against; a restarted node
     * runs --no-load, which bpcon-node refuses beside the load's flags. */
    snprintf(args[k++], CL_ARG_MAX, "--commands=%llu", (unsigned long long)o->commands);
    if (v->restarts == 0) {
        if (o->outstanding > 0 || o->rate > 0) {
            snprintf(args[k++], CL_ARG_MAX, "--%s=%llu", o->rate > 0 ? "rate" : "outstanding",
                     (unsigned long long)(o->rate > 0 ? o->rate : o->outstanding));
        } else {
            snprintf(args[k++], CL_ARG_MAX, "--window=%u", o->window);
        }
        snprintf(args[k++], CL_ARG_MAX, "--value-size=%u", o->value_bytes);
        snprintf(args[k++], CL_ARG_MAX, "--control-fd=4");
        snprintf(args[k++], CL_ARG_MAX, "--wait-go");
    }
    snprintf(args[k++], CL_ARG_MAX, "--idle=%s", o->idle_arg);
    snprintf(args[k++], CL_ARG_MAX, "--report-fd=3");
    snprintf(args[k++], CL_ARG_MAX, "--log-out=%s/log-%u", c->dir, id);
    snprintf(args[k++], CL_ARG_MAX, "--store=%s/store-%u", o->store_where, id);
    if (o->no_fsync) {
        snprintf(args[k++], CL_ARG_MAX, "--no-fsync");
    }
    if (v->restarts > 0) {
        snprintf(args[k++], CL_ARG_MAX, "--no-load");
    }
    for (int i = 0; i < k; i++) {
        argv[i] = args[i];
    }
    argv[k] = NULL;
}

/* In the child: fds 3 and 4 are the pipes, stderr goes to DIR/node-ID.err. */
static void
virtio_child(const struct vcluster *c, uint32_t id, int report_w, int control_r)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/node-%u.err", c->dir, id);
    int err_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null_fd = open("/dev/null", O_RDWR);
    if (err_fd < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
        dup2(err_fd, 2) < 0 || dup2(report_w, 3) < 0 || dup2(control_r, 4) < 0) {
        _exit(127);
    }
    for (int fd = 5; fd < 1024; fd++) {
        close(fd);
    }
    static char args[32][CL_ARG_MAX];
    static char *argv[33];
    virtio_node_args(c, id, args, argv);
    execv(argv[0], argv);
    _exit(127);
}

static int
virtio_spawn(struct vcluster *c, uint32_t id)
{
    struct vnode *v = &c->v[id];
    int rep[2];
    int ctl[2];
    if (pipe2(rep, O_CLOEXEC) != 0 || pipe2(ctl, O_CLOEXEC) != 0) {
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid == 0) {
        /* dup2 clears O_CLOEXEC on the copies at 3 and 4. */
        virtio_child(c, id, rep[1], ctl[0]);
    }
    close(rep[1]);
    close(ctl[0]);
    fcntl(rep[0], F_SETFL, O_NONBLOCK);
    fcntl(ctl[1], F_SETFL, O_NONBLOCK);
    v->pid = pid;
    v->cpu_go = 0;
    v->report_fd = rep[0];
    v->control_fd = ctl[1];
    v->alive = true;
    v->killed = false;
    v->ready = false;
    v->store_failed = false;
    v->got_go = false;
    v->reported = false;
    v->buf_len = 0;
    return 0;
}

static void
virtio_control(struct vnode *v, const char *line)
{
    if (v->control_fd >= 0) {
        ssize_t rc = write(v->control_fd, line, strlen(line));
        (void)rc; /* a dead node's pipe: the reaper notices */
    }
}

static void
virtio_parse_hist(struct vnode *v, char *line)
{
    char *save = NULL;
    for (char *w = strtok_r(line + 4, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        unsigned idx = 0;
        unsigned long long count = 0;
        if (sscanf(w, "%u:%llu", &idx, &count) == 2 && idx < DP_HIST_BUCKETS) {
            v->hist.counts[idx] += count;
            v->hist.total += count;
        }
    }
}

static void
virtio_line(struct vnode *v, char *line)
{
    struct cl_party_result *r = &v->res;
    unsigned long long a = 0, b = 0, d = 0, e = 0, f = 0, g = 0, h = 0, i = 0, j = 0;
    int leader = -1;
    int done = 0;
    unsigned id = 0;
    if (strncmp(line, "ready ", 6) == 0) {
        v->ready = true;
    } else if (strncmp(line, "failed ", 7) == 0) {
        v->store_failed = true; /* its persistence failed: it stops, exit 1 */
    } else if (sscanf(line,
                      "progress id=%u decisions=%llu applied=%llu unique=%llu leader=%d "
                      "ballot=%llu done=%d last=%llx:%llx digest=%llx",
                      &id, &a, &b, &d, &leader, &e, &done, &f, &g, &h) == 10) {
        v->applied = b;
        v->unique = d;
        v->decisions = a;
        v->leader = leader;
        v->done = done != 0;
        v->last_instance = f;
        v->last_hash = g;
        v->digest = h;
    } else if (sscanf(line,
                      "result id=%u decisions=%llu applied=%llu unique=%llu dups=%llu "
                      "invalid=%llu submitted=%llu digest=%llx first_submit_ns=%llu "
                      "last_unique_ns=%llu",
                      &id, &a, &b, &d, &e, &f, &g, &h, &i, &j) == 10) {
        r->decisions = a;
        r->applied = b;
        r->unique = d;
        r->dups = e;
        r->invalid = f;
        r->submitted = g;
        r->digest = h;
        r->first_submit_ns = i;
        r->last_unique_ns = j;
        v->reported = true;
    } else if (strncmp(line, "hist", 4) == 0) {
        virtio_parse_hist(v, line);
    }
}

/* Reads whatever the node wrote; complete lines are handled. */
static void
virtio_read(struct vnode *v)
{
    for (;;) {
        if (v->buf_len == sizeof(v->buf) - 1) {
            v->buf_len = 0; /* an absurd line: drop it rather than stall */
        }
        ssize_t got = read(v->report_fd, v->buf + v->buf_len, sizeof(v->buf) - 1 - v->buf_len);
        if (got <= 0) {
            return;
        }
        v->buf_len += (size_t)got;
        v->buf[v->buf_len] = '\0';
        char *start = v->buf;
        char *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            virtio_line(v, start);
            start = nl + 1;
        }
        v->buf_len = (size_t)(v->buf + v->buf_len - start);
        memmove(v->buf, start, v->buf_len);
    }
}

/* A node that ended with a nonzero status, not one this process killed:
 * a store failure when it reported one (as the ring transport counts a
 * party whose store failed), else an unclean stop (after SIGTERM, or
 * ended by itself once ready; one that never was ready fails the start). */
static void
virtio_count_end(struct vcluster *c, const struct vnode *v, uint32_t id)
{
    if (v->store_failed) {
        c->store_failures++;
        fprintf(stderr, "bpcon-cluster: node %u stopped: its store failed\n", id);
    } else if (v->stopping || (v->ready && !v->killed)) {
        c->unclean++;
    }
}

static void
virtio_reap(struct vcluster *c)
{
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (uint32_t i = 0; i < c->n; i++) {
            struct vnode *v = &c->v[i];
            if (v->pid != pid) {
                continue;
            }
            virtio_read(v);
            v->alive = false;
            v->pid = 0;
            close(v->report_fd);
            close(v->control_fd);
            v->report_fd = -1;
            v->control_fd = -1;
            if (!v->ready && !v->stopping && !v->killed && c->failed_start < 0) {
                c->failed_start = (int)i; /* it will never be ready */
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                virtio_count_end(c, v, i);
                fprintf(stderr, "bpcon-cluster: node %u ended (%s %d); see %s/node-%u.err\n", i,
                        WIFEXITED(status) ? "exit" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), c->dir, i);
            }
        }
    }
}

static void
virtio_pump(struct vcluster *c, int timeout_ms)
{
    struct pollfd pfd[CL_VIRTIO_PARTIES_MAX];
    nfds_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->v[i].report_fd >= 0) {
            pfd[k].fd = c->v[i].report_fd;
            pfd[k].events = POLLIN;
            k++;
        }
    }
    (void)poll(pfd, k, timeout_ms);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->v[i].report_fd >= 0) {
            virtio_read(&c->v[i]);
        }
    }
    virtio_reap(c);
}

static int
virtio_leader(const struct vcluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->v[i].alive && c->v[i].ready) {
            return c->v[i].leader;
        }
    }
    return -1;
}

/* Sends "go" to every ready node that has not had it, once all the first
 * generation is ready (the load starts together). */
static void
virtio_go(struct vcluster *c)
{
    if (c->go_ns == 0) {
        for (uint32_t i = 0; i < c->n; i++) {
            if (!c->v[i].ready) {
                return;
            }
        }
        c->go_ns = dp_mono_now_ns();
        c->cpu_go = cl_cpu_self_ns();
        for (uint32_t i = 0; i < c->n; i++) {
            c->v[i].cpu_go = cl_cpu_pid_ns(c->v[i].pid);
        }
        fprintf(stderr, "bpcon-cluster: all %u nodes ready, load starts\n", c->n);
    }
    for (uint32_t i = 0; i < c->n; i++) {
        struct vnode *v = &c->v[i];
        if (v->alive && v->ready && !v->got_go) {
            virtio_control(v, "go\n");
            v->got_go = true;
        }
    }
}

static void
virtio_kill(struct vcluster *c, uint32_t id)
{
    struct vnode *v = &c->v[id];
    kill(v->pid, SIGKILL);
    v->killed = true;
    c->last_killed = (int)id;
    bool alive[CL_VIRTIO_PARTIES_MAX];
    for (uint32_t i = 0; i < c->n; i++) {
        alive[i] = c->v[i].alive && i != id;
    }
    int adopter = cl_adopter(c->n, alive, id);
    if (adopter >= 0) {
        char line[32];
        snprintf(line, sizeof(line), "adopt %u\n", id);
        virtio_control(&c->v[adopter], line);
    }
    fprintf(stderr, "bpcon-cluster: killed node %u (pid %d), node %d adopts its commands\n", id,
            (int)v->pid, adopter);
}

static int
virtio_events(struct vcluster *c, uint64_t now)
{
    if (c->go_ns == 0) {
        return 0;
    }
    for (uint32_t i = 0; i < c->o->events_count; i++) {
        struct cl_event *e = &c->o->events[i];
        if (e->done || now < c->go_ns || now - c->go_ns < e->at_ms * 1000000ull) {
            continue;
        }
        bool alive[CL_VIRTIO_PARTIES_MAX];
        for (uint32_t j = 0; j < c->n; j++) {
            alive[j] = c->v[j].alive;
        }
        int t = cl_event_target(e, virtio_leader(c), c->n, alive, c->last_killed);
        if (t >= 0 && e->kind == CL_EVENT_RESTART && alive[t] && c->v[t].killed) {
            continue; /* killed but not reaped yet: retry next round */
        }
        if (t >= 0 && e->kind == CL_EVENT_RESTART && alive[t]) {
            e->done = true; /* never killed: waiting would last for ever */
            fprintf(stderr, "bpcon-cluster: event %u restarts node %d, which is running; skipped\n",
                    i, t);
            continue;
        }
        e->done = true;
        if (t < 0) {
            fprintf(stderr, "bpcon-cluster: event %u has no target now; skipped\n", i);
        } else if (e->kind == CL_EVENT_KILL && alive[t]) {
            virtio_kill(c, (uint32_t)t);
        } else if (e->kind == CL_EVENT_RESTART && !alive[t]) {
            c->v[t].restarts++;
            fprintf(stderr, "bpcon-cluster: restarting node %d\n", t);
            if (virtio_spawn(c, (uint32_t)t) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Same rule as the ring transport, on the nodes' progress lines. */
static bool
virtio_settled(const struct vcluster *c)
{
    for (uint32_t i = 0; i < c->o->events_count; i++) {
        if (!c->o->events[i].done) {
            return false;
        }
    }
    const struct vnode *ref = NULL;
    for (uint32_t i = 0; i < c->n && ref == NULL; i++) {
        if (c->v[i].alive && c->v[i].restarts == 0) {
            ref = &c->v[i];
        }
    }
    if (ref == NULL || !ref->done) {
        return false;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        const struct vnode *v = &c->v[i];
        if (!v->alive) {
            continue;
        }
        if (!v->ready) {
            return false;
        }
        struct dp_log_entry mine = {.instance = v->last_instance, .hash = v->last_hash};
        struct dp_log_entry last = {.instance = ref->last_instance, .hash = ref->last_hash};
        if (!cl_caught_up(&mine, &last, v->restarts, v->digest, ref->digest)) {
            return false;
        }
        /* A restarted node resumed its persisted count: it must match too. */
        if (v->applied != ref->applied || (v->restarts == 0 && !v->done)) {
            return false;
        }
    }
    return true;
}

static void
virtio_summary_view(const struct vcluster *c, struct cl_summary *s)
{
    s->parties = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        s->r[i].alive = c->v[i].alive;
        s->r[i].unique = c->v[i].unique;
        s->r[i].decisions = c->v[i].decisions;
    }
}

/* Runs until settled or the deadline; 0, or -1 when a node cannot start. */
static int
virtio_loop(struct vcluster *c, struct cl_summary *s)
{
    uint64_t start = dp_mono_now_ns();
    uint64_t next_progress = start + CL_PROGRESS_NS;
    uint64_t settle_since = 0;
    uint64_t deadline = start + c->o->deadline_ms * 1000000ull;
    for (;;) {
        virtio_pump(c, 20);
        virtio_go(c);
        uint64_t now = dp_mono_now_ns();
        if (c->failed_start >= 0) {
            fprintf(stderr,
                    "bpcon-cluster: node %d ended before it was ready; see %s/node-%d.err\n",
                    c->failed_start, c->dir, c->failed_start);
            return -1;
        }
        if (virtio_events(c, now) != 0) {
            return -1;
        }
        if (now >= next_progress) {
            virtio_summary_view(c, s);
            cl_progress(s, c->o->commands, virtio_leader(c));
            next_progress = now + CL_PROGRESS_NS;
        }
        if (!virtio_settled(c)) {
            settle_since = 0;
        } else if (settle_since == 0) {
            settle_since = now;
        } else if (now - settle_since > CL_SETTLE_NS) {
            s->wall_ns = now - c->go_ns;
            return 0;
        }
        if (cl_interrupted) {
            s->interrupted = true;
            s->wall_ns = c->go_ns != 0 ? now - c->go_ns : 0;
            fprintf(stderr, "bpcon-cluster: interrupted; stopping the nodes\n");
            return 0;
        }
        if (now > deadline) {
            s->deadline_hit = true;
            s->wall_ns = c->go_ns != 0 ? now - c->go_ns : 0;
            fprintf(stderr, "bpcon-cluster: deadline of %llu ms hit\n",
                    (unsigned long long)c->o->deadline_ms);
            return 0;
        }
    }
}

/* SIGTERM to every node, then SIGKILL to any still running after the
 * grace period; every child is reaped. */
static void
virtio_stop_all(struct vcluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->v[i].alive) {
            c->v[i].stopping = true;
            kill(c->v[i].pid, SIGTERM);
        }
    }
    uint64_t until = dp_mono_now_ns() + VIRTIO_STOP_GRACE_NS;
    for (;;) {
        bool any = false;
        for (uint32_t i = 0; i < c->n; i++) {
            any = any || c->v[i].alive;
        }
        if (!any) {
            return;
        }
        if (dp_mono_now_ns() > until) {
            for (uint32_t i = 0; i < c->n; i++) {
                if (c->v[i].alive) {
                    fprintf(stderr, "bpcon-cluster: node %u ignores SIGTERM; killing\n", i);
                    kill(c->v[i].pid, SIGKILL);
                }
            }
            until = UINT64_MAX;
        }
        virtio_pump(c, 20);
    }
}

static void
virtio_read_log(const struct vcluster *c, uint32_t id, struct cl_party_result *r)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/log-%u", c->dir, id);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        r->reported = false;
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t n = size > 0 ? (uint64_t)size / 16u : 0;
    r->owned_log = calloc(n > 0 ? n : 1, sizeof(*r->owned_log));
    uint8_t b[16];
    for (uint64_t i = 0; r->owned_log != NULL && i < n && fread(b, 1, 16, f) == 16; i++) {
        uint64_t inst = 0;
        uint64_t hash = 0;
        for (int k = 7; k >= 0; k--) {
            inst = (inst << 8) | b[k];
            hash = (hash << 8) | b[8 + k];
        }
        r->owned_log[i].instance = inst;
        r->owned_log[i].hash = hash;
    }
    fclose(f);
    r->log = r->owned_log;
    r->log_len = r->owned_log != NULL ? n : 0;
    snprintf(path, sizeof(path), "%s/log-%u.decided", c->dir, id);
    if (dp_dlog_read(path, &r->dlog, &r->dlog_len) != 0) {
        r->reported = false;
    }
}

/* Which nodes were alive at the end is decided before they are stopped. */
static void
virtio_collect(struct vcluster *c, struct cl_summary *s, const bool *alive_at_end)
{
    s->parties = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        struct vnode *v = &c->v[i];
        struct cl_party_result *r = &s->r[i];
        *r = v->res;
        r->alive = alive_at_end[i];
        r->reported = v->reported;
        r->restarts = v->restarts;
        if (r->alive && r->reported) {
            virtio_read_log(c, i, r);
        }
        dp_hist_merge(&s->hist, &v->hist);
    }
}

int
cl_virtio_run(struct cl_opts *o, const char *argv0, struct cl_summary *s)
{
    static struct vcluster c;
    c.o = o;
    c.n = o->parties;
    c.last_killed = -1;
    c.failed_start = -1;
    c.pid = getpid();
    if (virtio_node_path(&c, argv0) != 0) {
        fprintf(stderr, "bpcon-cluster: no bpcon-node at %s (use --node)\n", c.node_path);
        return -1;
    }
    if (virtio_setup_dir(&c) != 0 || virtio_store_dir(&c) != 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    /* Higher ids first: they serve (virtio_user server=1) the lower ids. */
    for (uint32_t i = c.n; rc == 0 && i > 0; i--) {
        c.v[i - 1].report_fd = -1;
        c.v[i - 1].control_fd = -1;
        rc = virtio_spawn(&c, i - 1);
    }
    if (rc == 0) {
        rc = virtio_loop(&c, s);
    }
    bool alive_at_end[CL_VIRTIO_PARTIES_MAX];
    /* Costs of the load, read before the nodes are stopped. */
    int pids[CL_VIRTIO_PARTIES_MAX];
    uint64_t cpu_go[CL_VIRTIO_PARTIES_MAX];
    s->rss_setup_kb = s->rss_party_kb = s->rss_node_kb = -1;
    for (uint32_t i = 0; i < c.n; i++) {
        alive_at_end[i] = c.v[i].alive;
        pids[i] = c.v[i].alive ? (int)c.v[i].pid : 0;
        cpu_go[i] = c.v[i].cpu_go;
    }
    if (c.go_ns != 0) {
        cl_nodes_costs(pids, cpu_go, c.n, c.cpu_go, s);
    }
    virtio_stop_all(&c);
    s->unclean_stops = c.unclean;
    s->store_failures = c.store_failures;
    virtio_collect(&c, s, alive_at_end);
    /* EAL runtime dirs of every node incarnation (killed ones cannot
     * remove their own). */
    for (uint32_t i = 0; i < c.n; i++) {
        for (uint32_t r = 0; r <= c.v[i].restarts; r++) {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "bpc-%d-%u-%u", (int)c.pid, i, r);
            cl_runtime_dir_remove(prefix);
        }
    }
    if (rc == 0 && !s->deadline_hit && s->unclean_stops == 0 && s->store_failures == 0) {
        snprintf(o->made_dir, sizeof(o->made_dir), "%s", c.dir); /* judged by main */
        o->made_what = "run directory";
    } else {
        fprintf(stderr, "bpcon-cluster: run directory kept: %s\n", c.dir);
    }
    return rc;
}
