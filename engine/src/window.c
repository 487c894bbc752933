/*
 * window.c - the instance window: `window_slots` slots hold instances in
 * [nu, nu + window), each with ENG_GENS ballot generations and its value
 * buffers; a ring of recent decisions outlives the slots; decided
 * instances leave in order (the log, the apply rule, out->decisions).
 *
 * Owns: e->win (nu, the slot array and value buffers, the recent-decision
 * ring), which instance a slot holds and which ballot a generation
 * tallies. Must never: move nu past an undecided instance, reuse a slot
 * whose DIGEST bytes are lent to this step's decisions, or evict the
 * current ballot's generation. Votes and tallies inside a slot are
 * instance.c's and tally.c's; this file only resets them on reuse.
 */
#include "window.h"

#include "ballot.h"
#include "instance.h"
#include "layout.h"
#include "persist.h"
#include "submit.h"
#include "tally.h"

#include <errno.h>
#include <string.h>

/* Generation g tallies ballot from now on. Callers first move the bytes
 * lent from its 2a buffer (eng_gen_reset_lent). */
static void
eng_gen_reset(struct bpc_engine *e, struct eng_slot *s, uint32_t g, uint64_t ballot)
{
    /* Each owner clears its part: claims go back to the pool first. */
    eng_tally_gen_free(e, &s->gen[g]);
    s->gen[g].ballot = ballot;
    eng_gen_2a_reset(&s->gen[g]);
    eng_tally_gen_clear(e, s, g);
}

/* eng_gen_reset when the slot lends bytes from a 2a buffer: those of g
 * move first (eng_vote_gen_leaving). Apart, so that the common reset
 * saves no registers for a call it does not make. */
static __attribute__((noinline)) int
eng_gen_reset_lent(struct bpc_engine *e, struct eng_slot *s, uint32_t g, uint64_t ballot)
{
    eng_vote_gen_leaving(e, s, g);
    eng_gen_reset(e, s, g, ballot);
    return (int)g;
}

/* A held slot is about to be reused: its recent decision keeps the vote
 * state the slot reached after the emission (votes may follow it). */
static void
eng_slot_retire(struct bpc_engine *e, const struct eng_slot *s)
{
    struct eng_dec *d = eng_dring_at(e, eng_slot_instance(s));
    if (d->instance != eng_slot_instance(s)) {
        return;
    }
    if (eng_vote_max_vbal(s) > d->mbal) {
        d->mbal = eng_vote_max_vbal(s);
        d->mval = *eng_vote_max_vval(s);
    }
    uint64_t vh = eng_slot_vote_hi(s);
    d->vote_hi = vh > d->vote_hi ? vh : d->vote_hi;
}

struct eng_slot *
eng_slot_get(struct bpc_engine *e, uint64_t instance)
{
    if (instance < e->win.nu) {
        /* Decided and emitted, but still held until its slot is reused:
         * the party keeps voting and reporting on it for peers that lag. */
        struct eng_slot *held = eng_slot_at(e, instance);
        return eng_slot_instance(held) == instance ? held : NULL;
    }
    if (!eng_in_window(e, instance)) {
        return NULL;
    }
    struct eng_slot *s = eng_slot_at(e, instance);
    if (eng_slot_instance(s) != instance) {
        BPC_ASSERT(s->tag == 0 || eng_slot_instance(s) < e->win.nu);
        if (s->tag != 0 && s->emit_step == e->step_no &&
            eng_vote_dec_vid(s)->kind == BPC_VALUE_DIGEST) {
            /* Emitted this step: its bytes, lent to this step's decisions
             * from the recent decisions (eng_emit), stay put as long as a
             * step emits at most a window's worth (dring_len > 2W). */
            return NULL;
        }
        if (s->tag != 0) {
            eng_slot_retire(e, s);
        }
        for (uint32_t g = 0; g < ENG_GENS; g++) {
            eng_tally_gen_free(e, &s->gen[g]);
            s->gen[g].ballot = 0;
            eng_gen_2a_reset(&s->gen[g]);
        }
        /* Each owner clears its part; persist.c's dirty mark stays (a
         * slot already on the dirty list stays there once). */
        s->tag = instance + 1;
        s->emit_step = 0;
        eng_vote_reset(s);
        eng_tally_slot_clear(e, s);
    }
    return s;
}

int
eng_gen_make(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, bool create)
{
    uint64_t bal = eng_bal(e);
    if (!create || ballot < bal) {
        return -1;
    }
    /* Victim: unused or stale (below bal), else the farthest future
     * ballot. The current generation is never evicted, and a future
     * ballot only ever gives way to a nearer one: the next ballot is the
     * one votes arrive early for. (It used to give way to a farther one,
     * so one peer's records at a far ballot pushed the next ballot's
     * early votes out: test_future_generation_keeps_nearer_ballot.) */
    int victim = -1;
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        uint64_t gb = s->gen[g].ballot;
        if (gb == bal) {
            continue;
        }
        uint64_t vb = victim < 0 ? 0 : s->gen[victim].ballot;
        bool stale = gb < bal;
        bool victim_stale = victim >= 0 && vb < bal;
        if (victim < 0 || (stale && (!victim_stale || gb < vb)) ||
            (!stale && !victim_stale && gb > vb)) {
            victim = (int)g;
        }
    }
    BPC_ASSERT(victim >= 0);
    uint64_t vb = s->gen[victim].ballot;
    if (ballot != bal && vb > bal && vb < ballot) {
        return -1; /* keep the nearer future ballot; the current one always fits */
    }
    if (eng_vote_lends(s)) {
        return eng_gen_reset_lent(e, s, (uint32_t)victim, ballot);
    }
    eng_gen_reset(e, s, (uint32_t)victim, ballot);
    return victim;
}

/* ------------------------------------------------------------------------
 * Sources of queued DIGEST bytes (see enum eng_src).
 * ---------------------------------------------------------------------- */

bool
eng_win_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *slot, uint8_t *which)
{
    size_t values_len = (size_t)e->window * ENG_VALUE_BUFS * e->vbytes;
    if (val >= e->win.values && val < e->win.values + values_len) {
        size_t buf = (size_t)(val - e->win.values) / e->vbytes;
        *slot = (uint32_t)(buf / ENG_VALUE_BUFS);
        *which = (uint8_t)(buf % ENG_VALUE_BUFS);
        return true;
    }
    return false;
}

/* Does value buffer `which` of the slot still hold r's value for r's
 * instance (and, for a 2a buffer, r's ballot)? */
bool
eng_win_holds(const struct bpc_engine *e, uint32_t slot, uint8_t which, const struct bpc_record *r)
{
    const struct eng_slot *s = &e->win.slots[slot];
    if (eng_slot_instance(s) != r->instance) {
        return false;
    }
    return eng_vote_buffer_holds(s, which, r->ballot, &r->value);
}

bool
eng_dring_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *index)
{
    if (e->vbytes > 0 && val >= e->win.dring_bytes &&
        val < e->win.dring_bytes + (size_t)e->win.dring_len * e->vbytes) {
        *index = (uint32_t)((size_t)(val - e->win.dring_bytes) / e->vbytes);
        return true;
    }
    return false;
}

const uint8_t *
eng_win_moved(const struct bpc_engine *e, uint32_t slot, const struct bpc_record *r)
{
    const struct eng_slot *s = &e->win.slots[slot];
    if (r->type == BPC_MSG_2A || eng_slot_instance(s) != r->instance) {
        return NULL;
    }
    for (uint32_t which = 0; which < ENG_VALUE_BUFS; which++) {
        if (eng_vote_buffer_holds(s, which, r->ballot, &r->value)) {
            return eng_slot_value(e, s, which);
        }
    }
    return NULL;
}

bool
eng_dring_holds(const struct bpc_engine *e, uint32_t index, const struct bpc_record *r)
{
    const struct eng_dec *d = &e->win.dring[index];
    return d->instance == r->instance && d->has_bytes && eng_vid_eq(&d->vid, &r->value);
}

/* ------------------------------------------------------------------------
 * Decisions out.
 * ---------------------------------------------------------------------- */

/* A DIGEST decision's bytes into its place among the recent decisions,
 * where this step's decisions read them (the slot's buffers may take
 * another ballot's 2a before the step ends); NULL for other values. The
 * older decision in that place loses its bytes first; the rest of it
 * stays until eng_dring_keep (the log may push back). */
static const uint8_t *
eng_dring_stage(struct bpc_engine *e, const struct eng_slot *s)
{
    const struct bpc_vid *vid = eng_vote_dec_vid(s);
    if (vid->kind != BPC_VALUE_DIGEST) {
        return NULL;
    }
    struct eng_dec *dr = eng_dring_at(e, eng_slot_instance(s));
    uint8_t *dst = e->win.dring_bytes + (size_t)(dr - e->win.dring) * e->vbytes;
    dr->has_bytes = false;
    memcpy(dst, eng_slot_value(e, s, eng_vote_dec_buf(s)), vid->len);
    return dst;
}

/* Applies one decided instance (a DIGEST value's bytes: staged, from
 * eng_dring_stage): log first (it may push back), then the commands,
 * then the decision report. False when the log is full. */
static bool
eng_emit_one(struct bpc_engine *e, struct eng_slot *s, const uint8_t *staged,
             struct bpc_step_out *out)
{
    const struct bpc_vid *vid = eng_vote_dec_vid(s);
    bool noop = vid->kind == BPC_VALUE_NOOP;
    uint32_t len = noop ? 0 : vid->len;
    const uint8_t *value = vid->kind == BPC_VALUE_DIGEST   ? staged
                           : vid->kind == BPC_VALUE_INLINE ? vid->id
                                                           : NULL;
    /* A malformed decided value needs more than F faulty weight; it then
     * applies no command rather than crashing every reader. */
    uint64_t mask = 0;
    bool batch = !noop && eng_batch_mask(e, value, len, &mask);
    if (e->cfg.log != NULL) {
        int rc = eng_log_append(e->cfg.log, eng_slot_instance(s), value, len, noop, mask,
                                vid->kind == BPC_VALUE_DIGEST ? vid->id : NULL);
        if (rc == -ENOBUFS) {
            return false; /* a grace period is pending: retry next step */
        }
        BPC_ASSERT(rc == 0);
    }
    if (batch) {
        eng_apply_commands(e, eng_slot_instance(s), value, len, mask);
    }
    if (out->decisions != NULL) {
        struct bpc_decision *d = &out->decisions[out->decisions_count++];
        d->instance = eng_slot_instance(s);
        d->ballot = eng_vote_dec_ballot(s);
        d->vid = *vid;
        d->len = len;
        d->value = vid->kind == BPC_VALUE_INLINE ? d->vid.id : value;
    }
    return true;
}

/* The emitted instance joins the recent decisions (its bytes are there
 * already: eng_dring_stage). */
static void
eng_dring_keep(struct bpc_engine *e, const struct eng_slot *s)
{
    struct eng_dec *dr = eng_dring_at(e, eng_slot_instance(s));
    dr->instance = eng_slot_instance(s);
    dr->ballot = eng_vote_dec_ballot(s);
    dr->mbal = eng_vote_max_vbal(s);
    dr->mval = *eng_vote_max_vval(s);
    dr->vote_hi = eng_slot_vote_hi(s);
    dr->vid = *eng_vote_dec_vid(s);
    dr->has_bytes = dr->vid.kind == BPC_VALUE_DIGEST;
}

/* Is s's decision to wait before it is applied? When the 2b quorum that
 * decided it needed this party's own 2b, until that vote is durable:
 * applied (log, commands, the decision out) before, a crash that lost the
 * vote could let another value be decided and applied at the instance. */
static bool
eng_emit_waits(const struct bpc_engine *e, const struct eng_slot *s)
{
    return eng_vote_dec_wait(s) && !eng_vote_durable_now(e, s);
}

/* The slot of the next instance to apply when it can be applied now;
 * NULL when not. */
static struct eng_slot *
eng_emit_next(const struct bpc_engine *e)
{
    struct eng_slot *s = eng_slot_at(e, e->win.nu);
    if (eng_slot_instance(s) != e->win.nu || !eng_vote_decided_with_bytes(s)) {
        return NULL;
    }
    if (!eng_event_fired(e, BPC_EVENT_FINALIZE)) {
        return NULL; /* paced: Finished only at the finalize event */
    }
    if (eng_emit_waits(e, s)) {
        return NULL; /* its own 2b, needed for its quorum, is not durable yet */
    }
    return s;
}

bool
eng_emit_held(const struct bpc_engine *e, const struct bpc_step_out *out)
{
    return out->decisions != NULL && out->decisions_cap > 0 &&
           out->decisions_count == out->decisions_cap && eng_emit_next(e) != NULL;
}

void
eng_emit(struct bpc_engine *e, struct bpc_step_out *out)
{
    while (out->decisions == NULL || out->decisions_count < out->decisions_cap) {
        struct eng_slot *s = eng_emit_next(e);
        if (s == NULL) {
            return;
        }
        if (!eng_emit_one(e, s, eng_dring_stage(e, s), out)) {
            return;
        }
        s->emit_step = e->step_no;
        eng_dring_keep(e, s);
        e->ctr.decided++;
        e->win.nu++;
        if (eng_paced(e)) {
            eng_round_restart(e);
        }
    }
}

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

void
eng_win_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->win.slots = m->slots;
    e->win.values = m->values;
    e->win.dring = m->dring;
    e->win.dring_len = m->dring_len;
    e->win.dring_bytes = m->dring_bytes;
    /* Zeroed slots hold nothing (tag 0): nothing to write here. */
}

void
eng_win_restore_floor(struct bpc_engine *e, uint64_t floor)
{
    e->win.nu = floor > e->win.nu ? floor : e->win.nu;
}

/* A value identity this party could send (a store file is checked by its
 * CRCs, not by meaning; a record it could not send is skipped): the wire's
 * shape, a real value, a digest of bytes that fit its buffers. */
static bool
eng_vid_sendable(const struct bpc_engine *e, const struct bpc_vid *v)
{
    return bpc_vid_shape_ok(v) && v->kind != BPC_VALUE_NONE &&
           (v->kind != BPC_VALUE_DIGEST || v->len <= e->vbytes);
}

bool
eng_dring_restore_bytes(struct bpc_engine *e, const struct bpc_durable_value *v)
{
    struct eng_dec *r = eng_dring_at(e, v->instance);
    if (r->instance != v->instance || r->vid.kind != BPC_VALUE_DIGEST || r->has_bytes ||
        !eng_vid_eq(&r->vid, &v->vid) || v->vid.len > e->vbytes) {
        return false;
    }
    memcpy(e->win.dring_bytes + (size_t)(r - e->win.dring) * e->vbytes, v->bytes, v->vid.len);
    r->has_bytes = true;
    return true;
}

void
eng_dring_restore(struct bpc_engine *e, const struct bpc_durable *d, uint64_t max_bal)
{
    /* Only what the ring would still hold, a value it could send, the
     * newest of two records that share a place (the window may differ). */
    if (d->instance >= e->win.nu || e->win.nu - d->instance > e->win.dring_len ||
        !eng_vid_sendable(e, &d->dec_val) || d->dec_bal > BPC_BALLOT_MAX ||
        d->max_vbal > BPC_BALLOT_MAX || (d->max_vbal > 0 && !eng_vid_sendable(e, &d->max_vval))) {
        return;
    }
    struct eng_dec *r = eng_dring_at(e, d->instance);
    if (r->vid.kind != BPC_VALUE_NONE && r->instance > d->instance) {
        return;
    }
    memset(r, 0, sizeof(*r));
    r->instance = d->instance;
    r->ballot = d->dec_bal > 0 ? d->dec_bal : 1; /* a DECIDED record names one */
    r->mbal = d->max_vbal;
    r->mval = d->max_vval;
    r->vote_hi = max_bal > d->max_vbal ? max_bal : d->max_vbal;
    r->vid = d->dec_val;
    r->has_bytes = false;
}
