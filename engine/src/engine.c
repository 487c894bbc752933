/*
 * engine.c - the BPCon step engine's orchestration: one party's vote
 * state for a window of instances under one party-wide ballot, driven by
 * received frames and the caller's clock. The modules do the work (see
 * core.h for who owns what, docs/ENGINE.md for the map); this file runs
 * the step in its fixed order (frames admitted and dispatched by admit.c)
 * and holds the public entry points.
 *
 * Owns: init and the storage layout, the step's order, the step context
 * (now_ns, step_no, cur_out), the public calls and queries. Must never: allocate (but in
 * bpc_engine_new), lock, sleep, read a clock or entropy, or call DPDK; or
 * change a module's state other than through that module's functions.
 */
#include "admit.h"
#include "ballot.h"
#include "catchup.h"
#include "core.h"
#include "held.h"
#include "instance.h"
#include "layout.h"
#include "outbox.h"
#include "persist.h"
#include "runs.h"
#include "submit.h"
#include "tally.h"
#include "window.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Bound on the transition loop of one step. */
#define ENG_PUMP_ROUNDS 64u

/* ------------------------------------------------------------------------
 * The step.
 * ---------------------------------------------------------------------- */

static uint64_t
eng_next_deadline(const struct bpc_engine *e)
{
    if (!eng_persist_pending(e) && eng_ob_pending(e)) {
        return e->now_ns;
    }
    return eng_bl_deadline(e);
}

/* Transitions until nothing changes: own records, timers (once), held 2a
 * values, the leader's proposals. */
static void
eng_pump(struct bpc_engine *e)
{
    for (uint32_t round = 0; round < ENG_PUMP_ROUNDS; round++) {
        uint64_t nu = eng_nu(e);
        eng_drain_self(e);
        if (round == 0) {
            eng_timers(e);
            eng_drain_self(e);
        }
        eng_held_nu(e);
        eng_recheck_pending(e);
        eng_leader_pump(e);
        eng_drain_self(e);
        if (eng_self_count(e) == 0 && !eng_recheck_due(e) && nu == eng_nu(e)) {
            break;
        }
    }
}

/* A step's arguments a caller could get wrong: an engine started, in and
 * out given, frames where a count says so (each with bytes where it has
 * a length), lent buffers where a cap says so, a clock that never went
 * back. */
static bool
eng_step_args_ok(const struct bpc_engine *e, const struct bpc_step_in *in,
                 const struct bpc_step_out *out)
{
    if (e == NULL || !e->started || in == NULL || out == NULL || in->now_ns < e->now_ns ||
        (in->frames == NULL && in->frames_count > 0) ||
        (out->frames == NULL && out->frames_cap > 0) ||
        (out->decisions == NULL && out->decisions_cap > 0)) {
        return false;
    }
    for (uint32_t k = 0; k < in->frames_count; k++) {
        if (in->frames[k].bytes == NULL && in->frames[k].len > 0) {
            return false;
        }
    }
    return true;
}

int
bpc_engine_step(struct bpc_engine *e, const struct bpc_step_in *in, struct bpc_step_out *out)
{
    if (!eng_step_args_ok(e, in, out)) {
        return -EINVAL; /* nothing done: before, an assertion or a crash */
    }
    *out = (struct bpc_step_out){.frames = out->frames,
                                 .frames_cap = out->frames_cap,
                                 .decisions = out->decisions,
                                 .decisions_cap = out->decisions_cap,
                                 .next_deadline_ns = in->now_ns};
    if (eng_persist_pending(e)) {
        /* One batch at a time, and nothing moves while it waits: a step
         * then collected a new batch into the lent one, and later ones
         * decided and reused slots whose votes and value bytes no batch
         * had carried (reviews A6 and G5). Step again once confirmed. */
        return -EBUSY;
    }
    e->now_ns = in->now_ns;
    e->step_no++;
    e->cur_out = out;
    eng_receive_all(e, in->frames, in->frames_count);
    eng_vote_decided_2b(e);
    eng_votes_retry(e);
    eng_ring_drain(e);
    eng_forward(e);
    eng_pump(e);
    eng_votes_retry(e);
    /* Decisions are emitted as they happen (eng_decide); this catches
     * paced finalizes and log pushback. A slot whose digest value was
     * emitted in this step is not reused before the caller reads it. */
    eng_emit(e, out);
    e->cur_out = NULL;
    eng_cu_pump(e);
    if (eng_persist_due(e)) {
        eng_collect_persist(e, out);
    }
    int rc = eng_flush(e, out);
    /* Decisions ready beyond out's cap: now, not at a timer (review E1). */
    out->next_deadline_ns = eng_emit_held(e, out) ? e->now_ns : eng_next_deadline(e);
    return rc < 0 ? rc : (int)out->frames_count;
}

void
bpc_engine_persisted(struct bpc_engine *e)
{
    if (e != NULL) {
        eng_ps_persisted(e);
    }
}

/* ------------------------------------------------------------------------
 * Set-up: one block of caller storage (layout.c), carved into regions.
 * ---------------------------------------------------------------------- */

/* Each module takes its storage and sets its initial state. */
static void
eng_carve(struct bpc_engine *e, uint8_t *base, const struct eng_sizes *z,
          const struct eng_layout *l)
{
    struct eng_mem m;
    eng_mem_of(base, z, l, &m);
    eng_rx_carve(e, &m, z->replay_bits);
    eng_win_carve(e, &m);
    eng_tally_carve(e, &m);
    eng_bl_carve(e, &m);
    eng_ob_carve(e, &m);
    eng_sub_carve(e, &m);
    eng_ps_carve(e, &m);
    eng_vr_carve(e, &m);
    eng_cu_carve(e, &m);
    eng_held_carve(e, &m);
}

/* Refusals shared by bpc_engine_init and bpc_engine_new. */
static int
eng_check(struct bpc_engine **out, const struct bpc_config *cfg, char *err, size_t err_len)
{
    if (out == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "no place for the engine handle (out is NULL)");
        }
        return -EINVAL;
    }
    int rc = bpc_config_validate(cfg, err, err_len); /* -EINVAL for cfg NULL */
    if (rc != 0) {
        return rc;
    }
    if (cfg->parties_count > 1 && cfg->keys == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "keys=NULL: %u parties need pairwise keys", cfg->parties_count);
        }
        return -EINVAL;
    }
    if (cfg->log != NULL && bpc_log_value_max(cfg->log) < cfg->value_bytes_max) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len,
                     "log: value_bytes_max=%u below the engine's value_bytes_max=%u (a decided "
                     "value the log cannot hold)",
                     bpc_log_value_max(cfg->log), cfg->value_bytes_max);
        }
        return -EINVAL;
    }
    return 0;
}

/* Builds the engine in zeroed storage of bpc_engine_footprint(cfg) bytes.
 * Zero is the initial state of every region (empty queues, slots holding
 * nothing, an empty claim pool), so this writes the engine header and the
 * few per-party and per-command words that start non-zero, nothing else:
 * storage the configuration may use but a run never reaches stays
 * untouched (and, from bpc_engine_new, not resident). */
static struct bpc_engine *
eng_build(void *mem, const struct bpc_config *cfg)
{
    struct bpc_engine *e = mem;
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    e->cfg = *cfg;
    (void)bpc_config_digest(cfg, e->digest); /* validated above: 0 */
    e->total = bpc_config_total_weight(cfg);
    e->threshold = bpc_config_threshold(cfg);
    e->faulty = bpc_faulty_weight(e->total, e->threshold);
    e->n = z.n;
    e->self = cfg->self;
    e->words = z.words;
    e->window = z.window;
    /* The leader keeps at most half the slots in flight, so a party that
     * lags by up to half a window still has room for its newest proposals;
     * slots not yet reused keep decided instances for lagging peers (older
     * ones come from the log). */
    e->active = z.window > 1 ? z.window / 2 : 1;
    e->mask = z.window - 1u;
    e->vbytes = z.vbytes;
    eng_carve(e, mem, &z, &l);
    eng_tally_key(e, cfg->keys, cfg->parties_count, cfg->seed);
    return e;
}

int
bpc_engine_init(struct bpc_engine **out, void *mem, size_t mem_len, const struct bpc_config *cfg,
                char *err, size_t err_len)
{
    int rc = eng_check(out, cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    size_t need = bpc_engine_footprint(cfg);
    if (mem == NULL || mem_len < need || ((uintptr_t)mem & 63u) != 0) {
        if (err != NULL && err_len > 0) {
            /* Which of the three: the same byte counts on both sides used
             * to leave a misaligned pointer unnamed (review D1's M13). */
            const char *why = mem == NULL      ? "no storage (NULL)"
                              : mem_len < need ? "too short"
                                               : "not 64-byte aligned";
            snprintf(err, err_len,
                     "engine storage: %s: %zu bytes given, %zu (64-byte aligned) needed", why,
                     mem_len, need);
        }
        return -ENOBUFS;
    }
    memset(mem, 0, need); /* caller storage holds anything */
    *out = eng_build(mem, cfg);
    return 0;
}

int
bpc_engine_new(struct bpc_engine **out, const struct bpc_config *cfg, char *err, size_t err_len)
{
    int rc = eng_check(out, cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    /* Anonymous pages are zero and become resident only when written, so
     * the engine costs what the run uses, not what the configuration
     * allows (bpc_engine_footprint). */
    size_t need = bpc_engine_footprint(cfg);
    void *mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "engine storage: %zu bytes could not be mapped", need);
        }
        return -ENOMEM;
    }
    struct bpc_engine *e = eng_build(mem, cfg);
    e->alloc_base = mem;
    e->alloc_len = need;
    *out = e;
    return 0;
}

void
bpc_engine_free(struct bpc_engine *e)
{
    if (e != NULL && e->alloc_base != NULL) {
        munmap(e->alloc_base, e->alloc_len);
    }
}

int
bpc_engine_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY;
    }
    return eng_ps_restore(e, recs, count);
}

int
bpc_engine_restore_values(struct bpc_engine *e, const struct bpc_durable_value *vals,
                          uint32_t count)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY;
    }
    if (count > 0 && vals == NULL) {
        return -EINVAL;
    }
    for (uint32_t k = 0; k < count; k++) {
        eng_restore_value(e, &vals[k]);
    }
    return 0;
}

int
bpc_engine_start(struct bpc_engine *e, uint64_t now_ns)
{
    if (e == NULL) {
        return -EINVAL;
    }
    if (e->started) {
        return -EBUSY; /* before: an assertion aborted */
    }
    if (e->cfg.log != NULL && bpc_log_next(e->cfg.log) != eng_nu(e)) {
        return -EINVAL; /* its next entry is not the first this engine emits */
    }
    if (!eng_ps_start_ok(e)) {
        return -EOVERFLOW; /* incarnations used up: the next restart could not restore */
    }
    e->started = true;
    e->now_ns = now_ns;
    eng_rx_start(e); /* every replay entry written once (admit.c) */
    eng_ps_start(e);
    eng_ob_start(e);
    eng_bl_start(e);
    return 0;
}

/* ------------------------------------------------------------------------
 * Submissions and queries.
 * ---------------------------------------------------------------------- */

int
bpc_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket)
{
    return e != NULL ? eng_submit(e, cmd, len, ticket) : -EINVAL;
}

enum bpc_ticket_status
bpc_ticket_status(const struct bpc_engine *e, uint64_t ticket)
{
    return e != NULL ? eng_ticket_status(e, ticket) : BPC_TICKET_UNKNOWN;
}

bool
bpc_ticket_done(const struct bpc_engine *e, uint64_t ticket)
{
    return bpc_ticket_status(e, ticket) == BPC_TICKET_APPLIED;
}

/* The views below answer a NULL engine with "nothing": 0, -EINVAL (the
 * leader), NULL (the counters), BPC_STATUS_NONE. */
uint64_t
bpc_engine_ballot(const struct bpc_engine *e)
{
    return e != NULL ? eng_bal(e) : 0;
}

int
bpc_engine_leader(const struct bpc_engine *e)
{
    return e != NULL ? eng_leader(e) : -EINVAL;
}

uint64_t
bpc_engine_next_undecided(const struct bpc_engine *e)
{
    return e != NULL ? eng_nu(e) : 0;
}

uint32_t
bpc_engine_events(const struct bpc_engine *e)
{
    return e != NULL ? eng_events(e) : 0;
}

const struct bpc_counters *
bpc_engine_counters(const struct bpc_engine *e)
{
    return e != NULL ? &e->ctr : NULL;
}

bpc_u128
bpc_engine_faulty_weight(const struct bpc_engine *e)
{
    return e != NULL ? e->faulty : 0;
}

enum bpc_status
bpc_engine_status(const struct bpc_engine *ce, uint64_t instance)
{
    if (ce == NULL) {
        return BPC_STATUS_NONE;
    }
    struct bpc_engine *e = (struct bpc_engine *)(uintptr_t)ce; /* views use scratch */
    return eng_in_status(e, instance);
}
