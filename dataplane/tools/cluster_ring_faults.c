/*
 * cluster_ring_faults.c - the ring transport's faults: crash and restart
 * of in-process parties, the --kill/--restart events, and the chaos loop
 * (--chaos N: kills at random points, between polls or inside a store
 * write, sync or compaction through an injected I/O fault).
 *
 * Owns: what a crash keeps (only what the party's store made durable; its
 * rings are emptied, its commands adopted by a live party), the store I/O
 * that can be armed to fail (a torn write, then every later call fails),
 * the chaos choices (reproducible from --seed) and the chaos counters.
 *
 * Must never: poll or touch a crashed party's store before its restart
 * opens (and recovers) it, or kill party 0 under chaos (the reference).
 */
#include "cluster_ring.h"

#include <errno.h>
#include <stdio.h>

#include <rte_mbuf.h>

/* A restarted party must catch up before the next kill: within one window
 * of party 0's decided log, in this long. */
#define RING_CATCHUP_NS 30000000000ull

uint64_t
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
void
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

/* A crash: the party's memory is gone except what its store made durable
 * (its store is closed without a sync: everything it reported durable
 * already was; a write a crash cut short stays as torn bytes). */
void
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

/* Fires the events that are due; returns false on a failed restart. */
bool
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
        } else if (e->kind == CL_EVENT_RESTART && alive[t]) {
            fprintf(stderr,
                    "bpcon-cluster: event %u restarts party %d, which is running; skipped\n", i, t);
        } else if (e->kind == CL_EVENT_RESTART && ring_restart(c, (uint32_t)t) != 0) {
            return false;
        }
    }
    return true;
}

/* A party whose poll failed: an armed chaos fault is its crash; anything
 * else is a store that failed by itself (counted: the run fails). */
void
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

/* One step of the chaos loop (--chaos N): kill a random party among
 * 1..N-1 at a random time, by turns by arming a fault at one of its next
 * store calls (a write, sync, rename or truncate, of a commit or of a
 * compaction; the first kill is one) and between polls; restart it from
 * its store after a random delay; N times. Returns false when a restart
 * failed. */
bool
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
    if (ch->done % 2u == 1u) {
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
