/*
 * cluster_ring.c - bpcon-cluster's ring transport: every party in this
 * process, each on its own net_ring port, joined by a software switch.
 *
 * Owns: EAL bring-up for the in-process cluster, the cluster's
 * configuration and pair keys, the parties' durable stores (one file per
 * party under a directory named in the output), bringing a party up (at
 * start and at a restart, from its store), the round-robin loop on the
 * main lcore and its end conditions, the results and the teardown. The
 * switch and its frame tap are cluster_ring_switch.c's; crash/restart,
 * events and the chaos loop cluster_ring_faults.c's.
 *
 * Must never: poll a dead party, keep an mbuf of a party across its crash
 * (its rings are emptied), or let a crashed party's store be touched again
 * before its restart opens (and recovers) it.
 */
#include "cluster_ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <sodium.h>
#include <sys/stat.h>

/* EAL leaves its runtime directory behind; this process owns the prefix. */
static void
ring_runtime_dir_remove(void)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "bpc-cluster-%d", (int)getpid());
    cl_runtime_dir_remove(prefix);
}

static int
ring_eal(const struct cl_opts *o, const char *argv0, size_t engine_bytes)
{
    /* EAL may keep pointers into argv: the strings live for the process. */
    static char args[10][128];
    static char *argv[11];
    int argc = 0;
    snprintf(args[argc++], sizeof(args[0]), "%s", argv0);
    snprintf(args[argc++], sizeof(args[0]), "-l");
    snprintf(args[argc++], sizeof(args[0]), o->ring_lcores > 1 ? "0,1" : "0");
    snprintf(args[argc++], sizeof(args[0]), "--no-huge");
    snprintf(args[argc++], sizeof(args[0]), "--no-pci");
    snprintf(args[argc++], sizeof(args[0]), "-m");
    /* Memory: the mbuf pool (36 MiB a party: a page an mbuf), the
     * engines and their stores' slot tables (what the window sizes), a
     * MiB a party for the rest. Before (review V1), the pool was counted
     * as 24 MiB a party, and from 10 parties on the engines of the last
     * ones found no room ("party 8 refuses to start: no memory for the
     * engine"), though --parties goes to 32. */
    size_t pool_mb = ((size_t)RING_POOL_MBUFS(o->parties) * RING_POOL_MBUF_HEAP >> 20) + 1;
    size_t engine_mb = (engine_bytes >> 20) + 2;
    snprintf(args[argc++], sizeof(args[0]), "%zu", 128u + pool_mb + engine_mb * o->parties);
    snprintf(args[argc++], sizeof(args[0]), "--file-prefix=bpc-cluster-%d", (int)getpid());
    snprintf(args[argc++], sizeof(args[0]), "--log-level=lib.eal:warning");
    for (int i = 0; i < argc; i++) {
        argv[i] = args[i];
    }
    argv[argc] = NULL;
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "bpcon-cluster: EAL init failed: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    bpc_dp_clock_init();
    /* This lcore steps engines: it writes their decided logs (QSBR). */
    bpc_log_thread_register();
    (void)bpc_dp_telemetry_register();
    return 0;
}

static void
ring_config(struct ring_cluster *c)
{
    bpc_config_defaults(&c->cfg);
    c->cfg.parties_count = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        c->cfg.weights[i] = 1;
    }
    randombytes_buf(&c->cfg.cluster_id, sizeof(c->cfg.cluster_id));
    struct dp_pace pace;
    cl_pace(c->o, &pace);
    dp_config_tune(&c->cfg, dp_pace_window(&pace, c->n));
    if (c->o->slots > 0) {
        c->cfg.window_slots = c->o->slots;
    }
    uint8_t master[BPC_KEY_BYTES];
    randombytes_buf(master, sizeof(master));
    for (uint32_t i = 0; i < c->n; i++) {
        for (uint32_t j = 0; j < c->n; j++) {
            if (i != j) {
                bpc_auth_pair_key(master, i, j, c->keys[i][j]);
            }
        }
    }
    sodium_memzero(master, sizeof(master));
}

/* The stores' directory: --store-dir, or a fresh one (cl_run_dir_make). */
static int
ring_store_dir(struct ring_cluster *c)
{
    if (c->o->store_dir != NULL) {
        snprintf(c->store_dir, sizeof(c->store_dir), "%s", c->o->store_dir);
        if (mkdir(c->store_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "bpcon-cluster: --store-dir %s: %s\n", c->store_dir, strerror(errno));
            return -1;
        }
    } else {
        if (cl_run_dir_make(c->store_dir, sizeof(c->store_dir)) != 0) {
            return -1;
        }
        c->store_dir_made = true;
    }
    snprintf(c->o->store_where, sizeof(c->o->store_where), "%s", c->store_dir);
    /* The stores make their own files durable in the folder; the folder's
     * entry in its parent is this run's to sync. */
    if (!c->o->no_fsync && cl_dir_entry_sync(c->store_dir) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        snprintf(c->p[i].store, sizeof(c->p[i].store), "%s/store-%u", c->store_dir, i);
        /* This run's parties start fresh (a new cluster id): a store left
         * there would be refused, and removing it could lose votes. */
        if (cl_store_fresh(c->store_dir, c->p[i].store) != 0) {
            return -1;
        }
    }
    fprintf(stderr, "bpcon-cluster: stores under %s (%s)\n", c->store_dir,
            c->o->no_fsync ? "NO fdatasync: --no-fsync, benchmark only"
                           : "fdatasync per engine step");
    return 0;
}

/* Party id's links, one to each other party over its own port (the
 * switch forwards by destination MAC): their count. */
static uint32_t
ring_links(const struct ring_cluster *c, uint32_t id, struct bpc_dp_link *links)
{
    uint32_t k = 0;
    for (uint32_t j = 0; j < c->n; j++) {
        if (j != id) {
            links[k] = (struct bpc_dp_link){.peer = j, .port_id = c->p[id].port, .queue_id = 0};
            dp_party_mac(j, links[k].mac.addr_bytes);
            k++;
        }
    }
    return k;
}

/* What a restarted party recovered from its store, on stderr. */
static void
ring_restart_note(const struct ring_party *p, uint32_t id, const struct dp_app_state *app)
{
    struct bpc_store *st = bpc_dp_party_store(p->party);
    const struct bpc_store_info *in = bpc_store_info(st);
    const struct bpc_durable *recs = NULL;
    fprintf(stderr,
            "bpcon-cluster: party %u restarted from %s: %llu records in the file, %u live, "
            "floor %llu, torn tail %llu bytes dropped, application state at %llu\n",
            id, p->store, (unsigned long long)in->records, bpc_store_records(st, &recs),
            (unsigned long long)bpc_dp_party_restored_floor(p->party),
            (unsigned long long)in->torn_bytes, (unsigned long long)app->floor);
}

int
ring_party_up(struct ring_cluster *c, uint32_t id)
{
    struct ring_party *p = &c->p[id];
    static struct bpc_config cfg;
    cfg = c->cfg;
    cfg.self = id;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])c->keys[id];
    randombytes_buf(&cfg.seed, sizeof(cfg.seed));
    struct bpc_dp_link links[CL_PARTIES_MAX];
    uint32_t k = ring_links(c, id, links);
    cfg.on_apply = dp_load_apply;
    cfg.apply_ctx = &p->load;
    /* A restarted party only records: its share was adopted at the crash. */
    struct dp_pace pace;
    cl_pace(c->o, &pace);
    if (dp_load_init(&p->load, id, c->n, c->o->commands, &pace, c->o->value_bytes,
                     p->restarts == 0) != 0) {
        fprintf(stderr, "bpcon-cluster: no memory for party %u's log\n", id);
        return -1;
    }
    ring_io_init(&p->io, ring_rand(&c->chaos.rng));
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .links = links,
        .links_count = k,
        .pool = c->pool,
        .socket_id = (int)rte_socket_id(),
        .on_decide = dp_load_decided,
        .decide_ctx = &p->load,
        .store_path = p->store,
        /* Chaos runs compact often, so that kills land inside compactions. */
        .store_options = {.no_sync = c->o->no_fsync,
                          .io = &p->io.io,
                          .compact_bytes = c->o->chaos > 0 ? RING_CHAOS_COMPACT_BYTES : 0},
        .app_state = dp_app_state_hook,
        .app_state_ctx = &p->load,
        .telemetry = true,
    };
    dp_party_mac(id, conf.self_mac.addr_bytes);
    char err[1024] = "";
    if (bpc_dp_party_init(&p->party, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "bpcon-cluster: party %u refuses to start: %s\n", id, err);
        return -1;
    }
    struct dp_app_state app;
    memset(&app, 0, sizeof(app));
    if (dp_load_resume_from_store(&p->load, p->party, &app) < 0) {
        fprintf(stderr, "bpcon-cluster: party %u: application state in %s unreadable\n", id,
                p->store);
        return -1;
    }
    if (p->restarts > 0 && (c->o->verbose || c->o->chaos == 0)) {
        ring_restart_note(p, id, &app);
    }
    p->alive = true;
    return 0;
}

int
ring_leader(const struct ring_cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].alive) {
            return bpc_engine_leader(bpc_dp_party_engine(c->p[i].party));
        }
    }
    return -1;
}

static void
ring_collect(const struct ring_cluster *c, struct cl_summary *s)
{
    s->parties = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct ring_party *p = &c->p[i];
        struct cl_party_result *r = &s->r[i];
        const struct dp_load *l = &p->load;
        r->alive = p->alive;
        r->reported = true;
        r->restarts = p->restarts;
        r->decisions = l->decisions;
        r->applied = l->applied;
        r->unique = l->unique;
        r->dups = l->dups;
        r->invalid = l->invalid;
        r->submitted = l->submitted;
        r->digest = l->digest;
        r->first_submit_ns = l->first_submit_ns;
        r->last_unique_ns = l->last_unique_ns;
    }
}

/* The last entry of a load's log (zeroes when empty). */
static struct dp_log_entry
ring_last(const struct dp_load *l)
{
    return dp_load_last(l);
}

/* Done: no event pending, every survivor that never crashed has every
 * command and the same log length, and a restarted one has caught up to
 * the same last entry. */
static bool
ring_settled(const struct ring_cluster *c)
{
    for (uint32_t i = 0; i < c->o->events_count; i++) {
        if (!c->o->events[i].done) {
            return false;
        }
    }
    if (c->chaos.done < c->o->chaos || c->chaos.victim >= 0 || c->chaos.armed >= 0 ||
        c->chaos.catching_up >= 0) {
        return false;
    }
    const struct dp_load *ref = NULL;
    for (uint32_t i = 0; i < c->n && ref == NULL; i++) {
        if (c->p[i].alive && c->p[i].restarts == 0) {
            ref = &c->p[i].load;
        }
    }
    if (ref == NULL || !dp_load_done(ref)) {
        return false;
    }
    struct dp_log_entry last = ring_last(ref);
    for (uint32_t i = 0; i < c->n; i++) {
        const struct ring_party *p = &c->p[i];
        if (!p->alive) {
            continue;
        }
        struct dp_log_entry mine = ring_last(&p->load);
        if (!cl_caught_up(&mine, &last, p->restarts, p->load.digest, ref->digest)) {
            return false;
        }
        /* A restarted party resumed its persisted count: it must match too. */
        if (p->load.applied != ref->applied || (p->restarts == 0 && !dp_load_done(&p->load))) {
            return false;
        }
    }
    return true;
}

/* One poll of the main lcore's parties (all of them with one lcore), the
 * switch, and those parties' load generators. */
static uint32_t
ring_round(struct ring_cluster *c, uint64_t now)
{
    uint32_t work = 0;
    for (uint32_t i = 0; i < c->split; i++) {
        if (c->p[i].alive) {
            int w = bpc_dp_party_poll(c->p[i].party, now);
            work += w > 0 ? (uint32_t)w : 0;
            if (w < 0) {
                ring_failed(c, i);
            }
        }
    }
    work += ring_switch(c);
    for (uint32_t i = 0; i < c->split; i++) {
        if (c->p[i].alive) {
            work += dp_load_pump(&c->p[i].load, c->p[i].party, now);
        }
    }
    return work;
}

/* --ring-lcores 2: the worker lcore polls parties split..n-1 and pumps
 * their loads. It touches nothing else; a party whose poll fails is left
 * alone and reported in worker_failed, for the main lcore to handle while
 * the worker is paused. Pauses (ring_sync_enter/leave) let the main lcore
 * read every party's state; the worker is offline (QSBR) while paused. */
static int
ring_worker(void *arg)
{
    struct ring_cluster *c = arg;
    bpc_log_thread_register();
    uint64_t failed = 0;
    uint32_t acked = 0;
    while (!atomic_load_explicit(&c->stop, memory_order_acquire)) {
        /* An odd request is a pause; the even one after it, its end. */
        uint32_t req = atomic_load_explicit(&c->sync_req, memory_order_acquire);
        if ((req & 1u) != 0 && req != acked) {
            acked = req;
            bpc_log_thread_offline();
            atomic_store_explicit(&c->sync_ack, req, memory_order_release);
            while (atomic_load_explicit(&c->sync_req, memory_order_acquire) == req &&
                   !atomic_load_explicit(&c->stop, memory_order_acquire)) {
                rte_pause();
            }
            bpc_log_thread_online();
            continue;
        }
        uint64_t now = bpc_dp_now_ns();
        uint32_t work = 0;
        for (uint32_t i = c->split; i < c->n; i++) {
            if (c->p[i].alive && (failed & (1ull << i)) == 0) {
                int w = bpc_dp_party_poll(c->p[i].party, now);
                work += w > 0 ? (uint32_t)w : 0;
                if (w < 0) {
                    failed |= 1ull << i;
                    atomic_fetch_or_explicit(&c->worker_failed, 1ull << i, memory_order_release);
                }
            }
        }
        for (uint32_t i = c->split; i < c->n; i++) {
            if (c->p[i].alive && (failed & (1ull << i)) == 0) {
                work += dp_load_pump(&c->p[i].load, c->p[i].party, now);
            }
        }
        if (work == 0) {
            dp_idle_wait(&c->o->idle);
        }
    }
    bpc_log_thread_unregister();
    return 0;
}

/* Parties whose poll failed on the worker, stopped by the main lcore (as
 * ring_round would have) while the worker is paused or gone. */
static void
ring_worker_failures(struct ring_cluster *c)
{
    uint64_t failed = atomic_exchange_explicit(&c->worker_failed, 0, memory_order_acquire);
    for (uint32_t i = c->split; i < c->n; i++) {
        if ((failed & (1ull << i)) != 0 && c->p[i].alive) {
            ring_failed(c, i);
        }
    }
}

/* Pauses the worker (no-op with one lcore): until ring_sync_leave, every
 * party's state is the main lcore's to read and change. */
static void
ring_sync_enter(struct ring_cluster *c)
{
    if (c->split == c->n) {
        return;
    }
    uint32_t req = atomic_load_explicit(&c->sync_req, memory_order_relaxed) + 1u;
    atomic_store_explicit(&c->sync_req, req, memory_order_release);
    while (atomic_load_explicit(&c->sync_ack, memory_order_acquire) != req) {
        rte_pause();
    }
    ring_worker_failures(c);
}

static void
ring_sync_leave(struct ring_cluster *c)
{
    if (c->split == c->n) {
        return;
    }
    atomic_fetch_add_explicit(&c->sync_req, 1u, memory_order_release);
}

/* Starts the worker lcore (with --ring-lcores 2); 0 or -1. */
static int
ring_worker_start(struct ring_cluster *c)
{
    c->split = c->n;
    if (c->o->ring_lcores < 2) {
        return 0;
    }
    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    if (lcore >= RTE_MAX_LCORE) {
        fprintf(stderr, "bpcon-cluster: --ring-lcores 2: EAL gave no worker lcore\n");
        return -1;
    }
    c->split = c->n / 2;
    c->worker_lcore = lcore;
    atomic_store(&c->stop, false);
    if (rte_eal_remote_launch(ring_worker, c, lcore) != 0) {
        fprintf(stderr, "bpcon-cluster: --ring-lcores 2: worker lcore %u did not start\n", lcore);
        c->split = c->n;
        return -1;
    }
    return 0;
}

/* Stops and joins the worker; every party is the main lcore's after. */
static void
ring_worker_stop(struct ring_cluster *c)
{
    if (c->split == c->n) {
        return;
    }
    atomic_store_explicit(&c->stop, true, memory_order_release);
    (void)rte_eal_wait_lcore(c->worker_lcore);
    ring_worker_failures(c);
    c->split = c->n;
}

static int ring_loop_run(struct ring_cluster *c, struct cl_summary *s);

/* The run, with its CPU time (the process's: both lcores with
 * --ring-lcores 2; else every party, the switch and the load generator
 * share one lcore). */
static int
ring_loop(struct ring_cluster *c, struct cl_summary *s)
{
    uint64_t cpu = cl_cpu_self_ns();
    int rc = ring_worker_start(c);
    if (rc == 0) {
        rc = ring_loop_run(c, s);
    }
    ring_worker_stop(c);
    s->cpu_ns = cl_cpu_self_ns() - cpu;
    s->cpu_known = cpu > 0;
    s->frames = c->switch_frames;
    s->frame_bytes = c->switch_bytes;
    return rc;
}

static int
ring_loop_run(struct ring_cluster *c, struct cl_summary *s)
{
    uint64_t go = bpc_dp_now_ns();
    uint64_t next_progress = go + CL_PROGRESS_NS;
    uint64_t settle_since = 0;
    uint64_t deadline = go + c->o->deadline_ms * 1000000ull;
    uint64_t next_sync = go;
    for (;;) {
        uint64_t now = bpc_dp_now_ns();
        uint32_t work = ring_round(c, now);
        /* With a worker lcore, the checks below run at pauses, RING_SYNC_NS
         * apart; with one lcore, at every round. */
        if (c->split == c->n || now >= next_sync) {
            ring_sync_enter(c);
            next_sync = now + RING_SYNC_NS;
            bool ok = ring_events(c, now - go) && (c->o->chaos == 0 || ring_chaos_step(c, now));
            if (ok && now >= next_progress) {
                ring_collect(c, s);
                cl_progress(s, c->o->commands, ring_leader(c));
                next_progress = now + CL_PROGRESS_NS;
            }
            bool settled = ok && ring_settled(c);
            ring_sync_leave(c);
            if (!ok) {
                return -1;
            }
            if (!settled) {
                settle_since = 0;
            } else if (settle_since == 0) {
                settle_since = now;
            } else if (now - settle_since > CL_SETTLE_NS) {
                s->wall_ns = now - go;
                return 0;
            }
        }
        if (cl_interrupted) {
            s->interrupted = true;
            s->wall_ns = now - go;
            fprintf(stderr, "bpcon-cluster: interrupted\n");
            return 0;
        }
        if (now > deadline) {
            s->deadline_hit = true;
            s->wall_ns = now - go;
            fprintf(stderr, "bpcon-cluster: deadline of %llu ms hit\n",
                    (unsigned long long)c->o->deadline_ms);
            return 0;
        }
        if (work == 0) {
            dp_idle_wait(&c->o->idle);
        }
    }
}

/* Every non-zero counter of one party on stderr (for a failed run). */
static void
ring_dump(const struct ring_cluster *c, uint32_t id)
{
    const struct ring_party *p = &c->p[id];
    if (p->party == NULL) {
        return;
    }
    const struct bpc_dp_counters *d = bpc_dp_party_counters(p->party);
    const struct bpc_counters *e = bpc_engine_counters(bpc_dp_party_engine(p->party));
    fprintf(stderr, "party %u:", id);
#define RING_X_DP(name)                                                                            \
    if (d->name != 0) {                                                                            \
        fprintf(stderr, " %s=%llu", #name, (unsigned long long)d->name);                           \
    }
    BPC_DP_COUNTERS(RING_X_DP)
#undef RING_X_DP
#define RING_X_E(name)                                                                             \
    if (e->name != 0) {                                                                            \
        fprintf(stderr, " engine_%s=%llu", #name, (unsigned long long)e->name);                    \
    }
    BPC_COUNTERS(RING_X_E)
#undef RING_X_E
    for (uint32_t r = 0; r < BPC_DROP_REASONS_COUNT; r++) {
        if (e->drops[r] != 0) {
            fprintf(stderr, " drop[%s]=%llu", bpc_drop_reason_name((enum bpc_drop_reason)r),
                    (unsigned long long)e->drops[r]);
        }
    }
    fprintf(stderr, "\n");
}

static void
ring_finish(struct ring_cluster *c, struct cl_summary *s)
{
    ring_collect(c, s);
    if (s->deadline_hit || c->o->verbose) {
        for (uint32_t i = 0; i < c->n; i++) {
            ring_dump(c, i);
        }
    }
    for (uint32_t i = 0; i < c->n; i++) {
        struct ring_party *p = &c->p[i];
        struct cl_party_result *r = &s->r[i];
        uint64_t len = dp_load_held(&p->load);
        r->owned_log = malloc((len > 0 ? len : 1) * sizeof(*r->owned_log));
        if (r->owned_log != NULL) {
            memcpy(r->owned_log, p->load.log, len * sizeof(*r->owned_log));
            r->log = r->owned_log;
            r->log_len = len;
        } else {
            r->reported = false;
        }
        dp_hist_merge(&s->hist, &p->load.hist);
        if (p->party != NULL &&
            dp_dlog_snapshot(bpc_dp_party_log(p->party), &r->dlog, &r->dlog_len) != 0) {
            r->reported = false;
        }
        if (p->party != NULL) {
            bpc_dp_party_free(p->party);
        }
        dp_load_free(&p->load);
        bpc_dp_port_close(p->port);
        ring_ring_drain(p->to_party);
        ring_ring_drain(p->from_party);
        rte_ring_free(p->to_party);
        rte_ring_free(p->from_party);
    }
    if (c->tap != NULL) {
        cl_tap_report(c->tap, s);
        cl_tap_free(c->tap);
        c->tap = NULL;
    }
    s->store_failures = c->store_failures;
    s->chaos_kills = c->chaos.done;
    s->chaos_store_kills = c->chaos.io_kills;
    s->chaos_stuck = c->chaos.stuck;
    if (c->o->chaos > 0) {
        fprintf(stderr,
                "bpcon-cluster: chaos: %u kills (%u inside store calls, %u between polls)\n",
                c->chaos.done, c->chaos.io_kills, c->chaos.poll_kills);
    }
    if (c->switch_drops > 0) {
        fprintf(stderr, "bpcon-cluster: switch dropped %llu frames\n",
                (unsigned long long)c->switch_drops);
    }
    rte_mempool_free(c->pool);
    bpc_log_thread_unregister();
    rte_eal_cleanup();
    ring_runtime_dir_remove();
}

/* This process's VmRSS less the load recorders' resident arrays (the
 * harness's, not the parties'), in KiB; -1 when unknown. */
static int64_t
ring_rss(const struct ring_cluster *c)
{
    int64_t kb = cl_rss_kb(0);
    uint64_t recorders = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        recorders += cl_load_resident_bytes(&c->p[i].load);
    }
    return kb < 0 ? -1 : kb - (int64_t)(recorders / 1024u);
}

/* Growth of ring_rss since `before`, per party (EAL, the mbuf pool and the
 * rings came first: they are not in it). */
static int64_t
ring_rss_per_party(const struct ring_cluster *c, int64_t before)
{
    int64_t now = ring_rss(c);
    return before < 0 || now < 0 ? -1 : (now - before) / (int64_t)c->n;
}

/* --chaos: the seed of its random points (a fresh one unless --seed
 * gave one), on stderr. Returns the seed. */
static uint64_t
ring_chaos_seed(struct cl_opts *o)
{
    if (o->chaos > 0 && o->seed == 0) {
        randombytes_buf(&o->seed, sizeof(o->seed));
        o->seed >>= 1; /* printable as a positive decimal everywhere */
    }
    if (o->chaos > 0) {
        fprintf(stderr, "bpcon-cluster: chaos: %u kills at random points, --seed %llu\n", o->chaos,
                (unsigned long long)o->seed);
    }
    return o->seed;
}

/* The switch's frame tap (--tap, implied by --chaos): 0 or -1. */
static int
ring_tap_open(struct ring_cluster *c)
{
    c->tap = cl_tap_new(c->n, (const uint8_t(*)[CL_PARTIES_MAX][BPC_KEY_BYTES])c->keys,
                        c->cfg.frame_bytes);
    if (c->tap == NULL) {
        fprintf(stderr, "bpcon-cluster: no memory for the frame tap\n");
        return -1;
    }
    return 0;
}

/* The teardown of a run that failed after EAL started: the parties that
 * started are closed (their stores and logs freed), the stores are kept
 * and named. */
static void
ring_abandon(struct ring_cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].party != NULL) {
            bpc_dp_party_free(c->p[i].party);
            c->p[i].party = NULL;
        }
        dp_load_free(&c->p[i].load);
    }
    bpc_log_thread_unregister();
    rte_eal_cleanup();
    ring_runtime_dir_remove();
    cl_tap_free(c->tap);
    fprintf(stderr, "bpcon-cluster: stores kept: %s\n", c->store_dir);
}

/* The stores' directory after a run: kept for a look when something went
 * wrong in the run itself, as the virtio run dir, and named; else handed
 * to main (o->made_dir), which removes it only when the run also passed
 * its checks (cl_dir_end). */
static void
ring_stores_end(const struct ring_cluster *c, const struct cl_summary *s)
{
    bool clean =
        !s->deadline_hit && s->store_failures == 0 && s->contradictions == 0 && s->chaos_stuck == 0;
    if (c->store_dir_made && clean) {
        snprintf(c->o->made_dir, sizeof(c->o->made_dir), "%s", c->store_dir);
        c->o->made_what = "stores";
    } else {
        fprintf(stderr, "bpcon-cluster: stores kept: %s\n", c->store_dir);
    }
}

int
cl_ring_run(struct cl_opts *o, const char *argv0, struct cl_summary *s)
{
    static struct ring_cluster c;
    c.o = o;
    c.n = o->parties;
    c.last_killed = -1;
    c.chaos.victim = -1;
    c.chaos.armed = -1;
    c.chaos.catching_up = -1;
    c.chaos.rng = ring_chaos_seed(o);
    ring_config(&c);
    if ((o->tap || o->chaos > 0) && ring_tap_open(&c) != 0) {
        return -1;
    }
    size_t party_bytes =
        bpc_engine_footprint(&c.cfg) + 2u * (c.cfg.window_slots + 1u) * sizeof(struct bpc_durable);
    if (ring_store_dir(&c) != 0 || ring_eal(o, argv0, party_bytes) != 0) {
        cl_tap_free(c.tap);
        return -1;
    }
    int rc = ring_ports(&c);
    int64_t rss0 = ring_rss(&c);
    for (uint32_t i = 0; rc == 0 && i < c.n; i++) {
        rc = ring_party_up(&c, i);
    }
    s->rss_setup_kb = ring_rss_per_party(&c, rss0);
    if (rc == 0) {
        rc = ring_loop(&c, s);
    }
    s->rss_party_kb = ring_rss_per_party(&c, rss0);
    s->rss_node_kb = -1;
    s->slots = c.cfg.window_slots;
    if (rc == 0 && o->raw_ms > 0) {
        ring_raw_baseline(&c, s);
    }
    if (rc != 0) {
        ring_abandon(&c);
        return -1;
    }
    ring_finish(&c, s);
    sodium_memzero(c.keys, sizeof(c.keys));
    ring_stores_end(&c, s);
    return 0;
}
