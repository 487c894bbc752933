/*
 * cluster_ring.c - bpcon-cluster's ring transport: every party in this
 * process, each on its own net_ring port, joined by a software switch.
 *
 * Owns: EAL bring-up for the in-process cluster, the switch (forwards by
 * destination MAC; frames to a dead party or into a full ring are dropped
 * and counted, as a segment would lose them) and its frame tap, the
 * round-robin loop on the main lcore, the parties' durable stores (one
 * file per party under a directory named in the output), crash/restart of
 * in-process parties (a restarted party comes back from its store) and the
 * chaos loop (--chaos N: kills at random points, between polls or inside
 * a store write, sync or compaction through an injected I/O fault).
 *
 * Must never: poll a dead party, keep an mbuf of a party across its crash
 * (its rings are emptied), or let a crashed party's store be touched again
 * before its restart opens (and recovers) it.
 */
#include "cluster.h"

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

/* Ring slots per direction per party. */
#define RING_SLOTS 4096u
#define RING_BURST 32u

/* Chaos: an I/O fault armed in one party's store, the "kill -9" inside a
 * store call: the armed-th mutating call fails (a write lands a random
 * prefix first: a torn write) and every later one fails too, as nothing
 * runs after a crash. */
struct ring_io {
    struct bpc_store_io io;
    uint32_t armed; /* 0: off; else the mutating call that crashes */
    uint32_t calls;
    bool crashed;
    uint64_t rng;
};

struct ring_party {
    struct rte_ring *to_party;
    struct rte_ring *from_party;
    uint16_t port;
    bool alive;
    uint32_t restarts;
    struct bpc_dp_party *party;
    struct dp_load load;
    char store[320]; /* its durable store */
    struct ring_io io;
};

/* The chaos loop's state: one victim at a time (parties 1..N-1; party 0
 * is the reference that never restarts and adopts every victim's load). */
struct ring_chaos {
    uint64_t rng;
    uint32_t done;    /* cycles completed (killed and restarted) */
    int victim;       /* dead, waiting for its restart; -1 none */
    int armed;        /* store fault armed, waiting for its crash; -1 none */
    uint64_t next_ns; /* next kill, or the victim's restart */
    uint64_t armed_ns;
    uint32_t io_kills;
    uint32_t poll_kills;
    int catching_up; /* restarted, not yet within a window of party 0; -1 none */
    uint64_t restart_ns;
    uint32_t stuck; /* restarted parties that did not catch up in time */
};

/* A restarted party must catch up before the next kill: within one window
 * of party 0's decided log, in this long. */
#define RING_CATCHUP_NS 30000000000ull

struct ring_cluster {
    struct cl_opts *o;
    uint32_t n;
    struct rte_mempool *pool;
    struct ring_party p[CL_PARTIES_MAX];
    uint8_t keys[CL_PARTIES_MAX][CL_PARTIES_MAX][BPC_KEY_BYTES];
    struct bpc_config cfg;
    struct rte_mbuf *stage[CL_PARTIES_MAX][RING_BURST];
    uint16_t stage_count[CL_PARTIES_MAX];
    uint64_t switch_drops;
    int last_killed;
    char store_dir[256];
    bool store_dir_made; /* ours: removed after a clean run */
    struct cl_tap *tap;
    struct ring_chaos chaos;
    uint32_t store_failures;
};

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
    snprintf(args[argc++], sizeof(args[0]), "0");
    snprintf(args[argc++], sizeof(args[0]), "--no-huge");
    snprintf(args[argc++], sizeof(args[0]), "--no-pci");
    snprintf(args[argc++], sizeof(args[0]), "-m");
    /* Memory: mbufs (~24 MB per party with its rings) plus the engines. */
    size_t engine_mb = (engine_bytes >> 20) + 1;
    snprintf(args[argc++], sizeof(args[0]), "%zu", 128u + (24u + engine_mb) * o->parties);
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
    /* This lcore steps every engine: it writes their decided logs (QSBR). */
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
    dp_config_tune(&c->cfg, c->o->window, c->o->value_bytes);
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

static int
ring_ports(struct ring_cluster *c)
{
    uint32_t mbufs = c->n * (2 * RING_SLOTS + 1024) + 4096;
    c->pool = rte_pktmbuf_pool_create("bpc_cluster_pool", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_socket_id());
    if (c->pool == NULL) {
        fprintf(stderr, "bpcon-cluster: mbuf pool: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        struct ring_party *p = &c->p[i];
        char name[32];
        unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
        snprintf(name, sizeof(name), "bpc_to_%u", i);
        p->to_party = rte_ring_create(name, RING_SLOTS, (int)rte_socket_id(), flags);
        snprintf(name, sizeof(name), "bpc_from_%u", i);
        p->from_party = rte_ring_create(name, RING_SLOTS, (int)rte_socket_id(), flags);
        snprintf(name, sizeof(name), "bpc_ring_%u", i);
        char err[256] = "";
        if (p->to_party == NULL || p->from_party == NULL ||
            bpc_dp_ring_port(name, p->to_party, p->from_party, &p->port) != 0 ||
            bpc_dp_port_start(p->port, c->pool, 0, 0, err, sizeof(err)) != 0) {
            fprintf(stderr, "bpcon-cluster: ring port %u: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

static uint64_t
ring_rand(uint64_t *state)
{
    /* splitmix64: the chaos choices, reproducible from --seed */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counts a mutating store call; true once the armed one came (crashed). */
static bool
ring_io_crash(struct ring_io *r)
{
    if (r->crashed) {
        return true;
    }
    if (r->armed != 0 && ++r->calls >= r->armed) {
        r->crashed = true;
    }
    return r->crashed;
}

static int64_t
ring_io_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct ring_io *r = ctx;
    const struct bpc_store_io *px = bpc_store_io_posix();
    if (!ring_io_crash(r)) {
        return px->pwrite(px->ctx, fd, buf, len, off);
    }
    size_t k = (size_t)(ring_rand(&r->rng) % (len + 1u)); /* the torn prefix */
    if (k > 0) {
        (void)px->pwrite(px->ctx, fd, buf, k, off);
    }
    return -EIO;
}

static int
ring_io_datasync(void *ctx, int fd)
{
    const struct bpc_store_io *px = bpc_store_io_posix();
    return ring_io_crash(ctx) ? -EIO : px->datasync(px->ctx, fd);
}

static int
ring_io_dirsync(void *ctx, int fd)
{
    const struct bpc_store_io *px = bpc_store_io_posix();
    return ring_io_crash(ctx) ? -EIO : px->dirsync(px->ctx, fd);
}

static int
ring_io_rename(void *ctx, const char *from, const char *to)
{
    const struct bpc_store_io *px = bpc_store_io_posix();
    return ring_io_crash(ctx) ? -EIO : px->rename(px->ctx, from, to);
}

static int
ring_io_truncate(void *ctx, int fd, uint64_t len)
{
    const struct bpc_store_io *px = bpc_store_io_posix();
    return ring_io_crash(ctx) ? -EIO : px->truncate(px->ctx, fd, len);
}

/* The party's store I/O: the plain calls, with a fault that can be armed. */
static void
ring_io_init(struct ring_io *r, uint64_t seed)
{
    r->io = *bpc_store_io_posix();
    r->io.ctx = r;
    r->io.pwrite = ring_io_pwrite;
    r->io.datasync = ring_io_datasync;
    r->io.dirsync = ring_io_dirsync;
    r->io.rename = ring_io_rename;
    r->io.truncate = ring_io_truncate;
    r->armed = 0;
    r->calls = 0;
    r->crashed = false;
    r->rng = seed;
}

/* The stores' directory: --store-dir, or a fresh one under /tmp. */
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
        snprintf(c->store_dir, sizeof(c->store_dir), "/tmp/bpcon-cluster-XXXXXX");
        if (mkdtemp(c->store_dir) == NULL) {
            fprintf(stderr, "bpcon-cluster: mkdtemp: %s\n", strerror(errno));
            return -1;
        }
        c->store_dir_made = true;
    }
    snprintf(c->o->store_where, sizeof(c->o->store_where), "%s", c->store_dir);
    for (uint32_t i = 0; i < c->n; i++) {
        snprintf(c->p[i].store, sizeof(c->p[i].store), "%s/store-%u", c->store_dir, i);
        /* A store left by an earlier run of another cluster would be
         * refused (other cluster id): this run starts its parties fresh. */
        (void)unlink(c->p[i].store);
    }
    fprintf(stderr, "bpcon-cluster: stores under %s (%s)\n", c->store_dir,
            c->o->no_fsync ? "NO fdatasync: --no-fsync, benchmark only"
                           : "fdatasync per engine step");
    return 0;
}

static int
ring_party_up(struct ring_cluster *c, uint32_t id)
{
    struct ring_party *p = &c->p[id];
    static struct bpc_config cfg;
    cfg = c->cfg;
    cfg.self = id;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])c->keys[id];
    randombytes_buf(&cfg.seed, sizeof(cfg.seed));
    struct bpc_dp_link links[CL_PARTIES_MAX];
    uint32_t k = 0;
    for (uint32_t j = 0; j < c->n; j++) {
        if (j != id) {
            links[k] = (struct bpc_dp_link){.peer = j, .port_id = p->port, .queue_id = 0};
            dp_party_mac(j, links[k].mac.addr_bytes);
            k++;
        }
    }
    cfg.on_apply = dp_load_apply;
    cfg.apply_ctx = &p->load;
    /* A restarted party only records: its share was adopted at the crash. */
    if (dp_load_init(&p->load, id, c->n, c->o->commands, c->o->window, c->o->value_bytes,
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
        .store_options = {.no_sync = c->o->no_fsync, .io = &p->io.io},
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
        struct bpc_store *st = bpc_dp_party_store(p->party);
        const struct bpc_store_info *in = bpc_store_info(st);
        const struct bpc_durable *recs = NULL;
        fprintf(stderr,
                "bpcon-cluster: party %u restarted from %s: %llu records in the file, %u live, "
                "floor %llu, torn tail %llu bytes dropped, application state at %llu\n",
                id, p->store, (unsigned long long)in->records, bpc_store_records(st, &recs),
                (unsigned long long)bpc_dp_party_restored_floor(p->party),
                (unsigned long long)in->torn_bytes, (unsigned long long)app.floor);
    }
    p->alive = true;
    return 0;
}

static void
ring_ring_drain(struct rte_ring *r)
{
    struct rte_mbuf *b[RING_BURST];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(r, (void **)b, RING_BURST, NULL)) > 0) {
        rte_pktmbuf_free_bulk(b, n);
    }
}

/* Frames a party sent that the switch has not moved: the tap sees them
 * (they left the party), then they are dropped. */
static void
ring_from_drain(struct ring_cluster *c, struct rte_ring *r)
{
    struct rte_mbuf *b[RING_BURST];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(r, (void **)b, RING_BURST, NULL)) > 0) {
        for (unsigned i = 0; c->tap != NULL && i < n; i++) {
            if (b[i]->data_len > RTE_ETHER_HDR_LEN) {
                cl_tap_frame(c->tap,
                             rte_pktmbuf_mtod_offset(b[i], const uint8_t *, RTE_ETHER_HDR_LEN),
                             (uint32_t)b[i]->data_len - RTE_ETHER_HDR_LEN);
            }
        }
        rte_pktmbuf_free_bulk(b, n);
    }
}

/* A crash: the party's memory is gone except what its store made durable
 * (its store is closed without a sync: everything it reported durable
 * already was; a write a crash cut short stays as torn bytes). */
static void
ring_kill(struct ring_cluster *c, uint32_t id)
{
    struct ring_party *p = &c->p[id];
    bpc_dp_party_free(p->party);
    p->party = NULL;
    p->alive = false;
    ring_ring_drain(p->to_party);
    ring_from_drain(c, p->from_party);
    c->last_killed = (int)id;
    bool alive[CL_PARTIES_MAX];
    for (uint32_t i = 0; i < c->n; i++) {
        alive[i] = c->p[i].alive;
    }
    /* Under chaos party 0 (never killed, always submitting) adopts. */
    int adopter = c->o->chaos > 0 ? 0 : cl_adopter(c->n, alive, id);
    if (adopter >= 0) {
        dp_load_adopt(&c->p[adopter].load, id);
    }
    if (c->o->verbose || c->o->chaos == 0) {
        fprintf(stderr, "bpcon-cluster: killed party %u%s, party %d adopts its commands\n", id,
                p->io.crashed ? " inside a store call" : "", adopter);
    }
}

static int
ring_restart(struct ring_cluster *c, uint32_t id)
{
    struct ring_party *p = &c->p[id];
    ring_ring_drain(p->to_party);
    dp_load_free(&p->load);
    p->restarts++;
    if (c->o->verbose || c->o->chaos == 0) {
        fprintf(stderr, "bpcon-cluster: restarting party %u\n", id);
    }
    return ring_party_up(c, id);
}

static void
ring_stage_flush(struct ring_cluster *c, uint32_t dst)
{
    uint16_t n = c->stage_count[dst];
    if (n == 0) {
        return;
    }
    unsigned put = rte_ring_sp_enqueue_burst(c->p[dst].to_party, (void **)c->stage[dst], n, NULL);
    if (put < n) {
        rte_pktmbuf_free_bulk(c->stage[dst] + put, n - put);
        c->switch_drops += n - put;
    }
    c->stage_count[dst] = 0;
}

/* The segment: every frame a party sent goes to the party its destination
 * MAC names. Returns the frames moved. */
static uint32_t
ring_switch(struct ring_cluster *c)
{
    uint32_t moved = 0;
    for (uint32_t src = 0; src < c->n; src++) {
        struct rte_mbuf *b[RING_BURST];
        unsigned n = rte_ring_sc_dequeue_burst(c->p[src].from_party, (void **)b, RING_BURST, NULL);
        for (unsigned i = 0; i < n; i++) {
            if (c->tap != NULL && b[i]->data_len > RTE_ETHER_HDR_LEN) {
                cl_tap_frame(c->tap,
                             rte_pktmbuf_mtod_offset(b[i], const uint8_t *, RTE_ETHER_HDR_LEN),
                             (uint32_t)b[i]->data_len - RTE_ETHER_HDR_LEN);
            }
            const struct rte_ether_hdr *h = rte_pktmbuf_mtod(b[i], const struct rte_ether_hdr *);
            uint8_t want[6];
            uint32_t dst = ((uint32_t)h->dst_addr.addr_bytes[4] << 8) | h->dst_addr.addr_bytes[5];
            dp_party_mac(dst, want);
            if (dst >= c->n || !c->p[dst].alive || memcmp(want, h->dst_addr.addr_bytes, 6) != 0) {
                rte_pktmbuf_free(b[i]);
                c->switch_drops++;
                continue;
            }
            c->stage[dst][c->stage_count[dst]++] = b[i];
            if (c->stage_count[dst] == RING_BURST) {
                ring_stage_flush(c, dst);
            }
        }
        moved += n;
    }
    for (uint32_t dst = 0; dst < c->n; dst++) {
        ring_stage_flush(c, dst);
    }
    return moved;
}

static bool
ring_alive_mask(const struct ring_cluster *c, bool *alive)
{
    bool any = false;
    for (uint32_t i = 0; i < c->n; i++) {
        alive[i] = c->p[i].alive;
        any = any || alive[i];
    }
    return any;
}

static int
ring_leader(const struct ring_cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].alive) {
            return bpc_engine_leader(bpc_dp_party_engine(c->p[i].party));
        }
    }
    return -1;
}

/* Fires the events that are due; returns false on a failed restart. */
static bool
ring_events(struct ring_cluster *c, uint64_t since_go_ns)
{
    struct cl_opts *o = c->o;
    for (uint32_t i = 0; i < o->events_count; i++) {
        struct cl_event *e = &o->events[i];
        if (e->done || since_go_ns < e->at_ms * 1000000ull) {
            continue;
        }
        e->done = true;
        bool alive[CL_PARTIES_MAX];
        ring_alive_mask(c, alive);
        int t = cl_event_target(e, ring_leader(c), c->n, alive, c->last_killed);
        if (t < 0) {
            fprintf(stderr, "bpcon-cluster: event %u has no target now; skipped\n", i);
        } else if (e->kind == CL_EVENT_KILL && alive[t]) {
            ring_kill(c, (uint32_t)t);
        } else if (e->kind == CL_EVENT_RESTART && !alive[t] && ring_restart(c, (uint32_t)t) != 0) {
            return false;
        }
    }
    return true;
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

/* A party whose poll failed: an armed chaos fault is its crash; anything
 * else is a store that failed by itself (counted: the run fails). */
static void
ring_failed(struct ring_cluster *c, uint32_t id)
{
    struct ring_party *p = &c->p[id];
    if (!p->io.crashed) {
        c->store_failures++;
        fprintf(stderr, "bpcon-cluster: party %u stopped: its store %s failed\n", id, p->store);
    }
    ring_kill(c, id);
    if (c->chaos.armed == (int)id) {
        c->chaos.armed = -1;
        c->chaos.victim = (int)id;
        c->chaos.io_kills++;
        c->chaos.next_ns = bpc_dp_now_ns() + (10u + ring_rand(&c->chaos.rng) % 90u) * 1000000ull;
    }
}

static uint32_t
ring_round(struct ring_cluster *c, uint64_t now)
{
    uint32_t work = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].alive) {
            int w = bpc_dp_party_poll(c->p[i].party, now);
            work += w > 0 ? (uint32_t)w : 0;
            if (w < 0) {
                ring_failed(c, i);
            }
        }
    }
    work += ring_switch(c);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].alive) {
            work += dp_load_pump(&c->p[i].load, c->p[i].party, now);
        }
    }
    return work;
}

/* One step of the chaos loop (--chaos N): kill a random party among
 * 1..N-1 at a random time, either between polls or by arming a fault at
 * one of its next store calls (a write, sync, rename or truncate, of a
 * commit or of a compaction); restart it from its store after a random
 * delay; N times. Returns false when a restart failed. */
static bool
ring_chaos_step(struct ring_cluster *c, uint64_t now)
{
    struct ring_chaos *ch = &c->chaos;
    if (ch->armed >= 0 && now - ch->armed_ns > 300000000ull) {
        /* No store call came: the kill happens between polls instead. */
        if (c->o->verbose) {
            fprintf(stderr, "bpcon-cluster: chaos: party %d made %u store calls in 300 ms\n",
                    ch->armed, c->p[ch->armed].io.calls);
        }
        c->p[ch->armed].io.armed = 0;
        ring_kill(c, (uint32_t)ch->armed);
        ch->victim = ch->armed;
        ch->armed = -1;
        ch->poll_kills++;
        ch->next_ns = now + (10u + ring_rand(&ch->rng) % 90u) * 1000000ull;
        return true;
    }
    if (ch->catching_up >= 0) {
        struct bpc_log *mine = bpc_dp_party_log(c->p[ch->catching_up].party);
        struct bpc_log *ref = bpc_dp_party_log(c->p[0].party);
        bool near = bpc_log_next(mine) + c->cfg.window_slots >= bpc_log_next(ref);
        if (!near && now - ch->restart_ns < RING_CATCHUP_NS) {
            return true;
        }
        if (!near) {
            ch->stuck++;
            fprintf(stderr,
                    "bpcon-cluster: chaos: party %d did not catch up within 30 s of its restart "
                    "(decided log at %llu, party 0 at %llu)\n",
                    ch->catching_up, (unsigned long long)bpc_log_next(mine),
                    (unsigned long long)bpc_log_next(ref));
        }
        ch->catching_up = -1;
        ch->next_ns = now + (20u + ring_rand(&ch->rng) % 130u) * 1000000ull;
    }
    if (ch->armed >= 0 || now < ch->next_ns) {
        return true;
    }
    if (ch->victim >= 0) {
        int v = ch->victim;
        ch->victim = -1;
        ch->done++;
        ch->catching_up = v;
        ch->restart_ns = now;
        if (ch->done % 10u == 0 || ch->done == c->o->chaos) {
            fprintf(stderr, "bpcon-cluster: chaos: %u of %u kills done (%u inside store calls)\n",
                    ch->done, c->o->chaos, ch->io_kills);
        }
        return ring_restart(c, (uint32_t)v) == 0;
    }
    if (ch->done >= c->o->chaos) {
        return true;
    }
    uint32_t v = 1u + (uint32_t)(ring_rand(&ch->rng) % (c->n - 1u));
    if (ring_rand(&ch->rng) % 2u == 0) {
        ring_kill(c, v);
        ch->victim = (int)v;
        ch->poll_kills++;
        ch->next_ns = now + (10u + ring_rand(&ch->rng) % 90u) * 1000000ull;
    } else {
        c->p[v].io.armed = 1u + (uint32_t)(ring_rand(&ch->rng) % 6u);
        c->p[v].io.calls = 0;
        ch->armed = (int)v;
        ch->armed_ns = now;
    }
    return true;
}

static int
ring_loop(struct ring_cluster *c, struct cl_summary *s)
{
    uint64_t go = bpc_dp_now_ns();
    uint64_t next_progress = go + CL_PROGRESS_NS;
    uint64_t settle_since = 0;
    uint64_t deadline = go + c->o->deadline_ms * 1000000ull;
    for (;;) {
        uint64_t now = bpc_dp_now_ns();
        uint32_t work = ring_round(c, now);
        if (!ring_events(c, now - go)) {
            return -1;
        }
        if (c->o->chaos > 0 && !ring_chaos_step(c, now)) {
            return -1;
        }
        if (now >= next_progress) {
            ring_collect(c, s);
            cl_progress(s, c->o->commands, ring_leader(c));
            next_progress = now + CL_PROGRESS_NS;
        }
        if (!ring_settled(c)) {
            settle_since = 0;
        } else if (settle_since == 0) {
            settle_since = now;
        } else if (now - settle_since > CL_SETTLE_NS) {
            s->wall_ns = now - go;
            return 0;
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
    if (o->chaos > 0 && o->seed == 0) {
        randombytes_buf(&o->seed, sizeof(o->seed));
        o->seed >>= 1; /* printable as a positive decimal everywhere */
    }
    c.chaos.rng = o->seed;
    if (o->chaos > 0) {
        fprintf(stderr, "bpcon-cluster: chaos: %u kills at random points, --seed %llu\n", o->chaos,
                (unsigned long long)o->seed);
    }
    ring_config(&c);
    if (o->tap || o->chaos > 0) {
        c.tap = cl_tap_new(c.n, (const uint8_t(*)[CL_PARTIES_MAX][BPC_KEY_BYTES])c.keys,
                           c.cfg.frame_bytes);
        if (c.tap == NULL) {
            fprintf(stderr, "bpcon-cluster: no memory for the frame tap\n");
            return -1;
        }
    }
    if (ring_store_dir(&c) != 0 || ring_eal(o, argv0, bpc_engine_footprint(&c.cfg)) != 0) {
        cl_tap_free(c.tap);
        return -1;
    }
    int rc = ring_ports(&c);
    for (uint32_t i = 0; rc == 0 && i < c.n; i++) {
        rc = ring_party_up(&c, i);
    }
    if (rc == 0) {
        rc = ring_loop(&c, s);
    }
    if (rc != 0) {
        bpc_log_thread_unregister();
        rte_eal_cleanup();
        ring_runtime_dir_remove();
        cl_tap_free(c.tap);
        fprintf(stderr, "bpcon-cluster: stores kept: %s\n", c.store_dir);
        return -1;
    }
    ring_finish(&c, s);
    sodium_memzero(c.keys, sizeof(c.keys));
    /* Kept for a look when something went wrong, as the virtio run dir. */
    bool clean =
        !s->deadline_hit && s->store_failures == 0 && s->contradictions == 0 && s->chaos_stuck == 0;
    if (c.store_dir_made && clean && !o->keep_dir) {
        cl_tree_remove(c.store_dir);
    } else {
        fprintf(stderr, "bpcon-cluster: stores kept: %s\n", c.store_dir);
    }
    return 0;
}
