/*
 * persist.c - durability. What must be durable before a message leaves
 * comes out of the step as out->persist records: the party-wide max_bal,
 * incarnation and floor (nu), each changed instance's maxVBal, maxVVal and
 * 2av history, the votes on decided instances without a slot (vouch
 * records), and per-submitter apply state. While records wait for
 * bpc_engine_persisted() no frame leaves ("send after persist").
 * bpc_engine_restore rebuilds the vote state from such records.
 *
 * Decisions below the floor are durable too, as decided records (the
 * value's identity and this party's own vote on the instance), kept by the
 * store as long as the recent-decision ring would keep them; a restart
 * puts them back in the ring, so a restarted party still vouches for them.
 *
 * Owns: e->ps (max_bal, incarnation, the dirty list, the vouch records,
 * the record buffer, the pending flag). Must never: lower max_bal, hand
 * out a record without the party-wide record in the same batch (so the
 * persisted floor is never more than a window below a persisted vote),
 * write a decided record for an instance at or above the floor it carries
 * (it would replace the vote state a report needs), or change vote state
 * itself (restore hands it to instance.c and the ring to window.c).
 */
#include "persist.h"

#include "catchup.h"
#include "instance.h"
#include "layout.h"
#include "submit.h"
#include "window.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

void
eng_mark_dirty(struct bpc_engine *e, struct eng_slot *s)
{
    if (!s->dirty) {
        s->dirty = true;
        BPC_ASSERT(e->ps.dirty_count < e->window);
        e->ps.dirty[e->ps.dirty_count++] = eng_slot_index(e, s);
    }
}

/* Without these, a party that caught up by claims alone (it never voted
 * on those instances), or that decided the last instances of a load by its
 * own quorum (its votes went out with the floor below them), persisted
 * nothing more until its next vote: an idle cluster never sends one, and a
 * restart went back to the old floor, where the instances in between may
 * be known only to parties of weight F by then (the others restarted past
 * them, their rings and logs gone) and could never be learned again. */
void
eng_ps_learned(struct bpc_engine *e)
{
    e->ps.floor_due = true;
}

void
eng_ps_tick(struct bpc_engine *e)
{
    if (eng_nu(e) > e->ps.floor_out) {
        e->ps.floor_due = true;
    }
}

void
eng_raise_max_bal(struct bpc_engine *e, uint64_t b)
{
    BPC_ASSERT(b >= e->ps.max_bal);
    if (b > e->ps.max_bal) {
        e->ps.max_bal = b;
        e->ps.max_bal_dirty = true;
    }
}

void
eng_persist_vouch(struct bpc_engine *e, uint64_t instance, uint64_t ballot, uint64_t mbal,
                  const struct bpc_vid *mval, const struct bpc_vid *vid, uint64_t dec_ballot)
{
    struct bpc_durable *v = &e->ps.vouch[e->ps.vouch_count++];
    memset(v, 0, sizeof(*v));
    v->instance = instance;
    v->max_vbal = mbal;
    if (mbal > 0) {
        v->max_vval = *mval;
    }
    v->hist_count = 1;
    v->hist_bal[0] = ballot;
    v->hist_val[0] = *vid;
    v->dec_bal = dec_ballot; /* for the decided record it becomes */
    v->dec_val = *vid;
}

/* The bytes of v, named by slot s's vote record, into the batch when they
 * did not go out for this instance already (eng_vote_bytes_to_persist). A
 * value whose bytes this party does not have (restored without them) has
 * nothing to keep. */
static void
eng_collect_value(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *v, uint32_t *vals)
{
    if (v->kind != BPC_VALUE_DIGEST || *vals == e->ps.vals_cap) {
        return; /* inline, NOOP or none; or full (ENG_VALS_PER_SLOT per dirty slot: never) */
    }
    const uint8_t *bytes = eng_vote_bytes_to_persist(e, s, v);
    if (bytes != NULL) {
        e->ps.vals[(*vals)++] =
            (struct bpc_durable_value){.instance = eng_slot_instance(s), .vid = *v, .bytes = bytes};
    }
}

/* The bytes of a recent decision's DIGEST value, for its decided record
 * (the store keeps them as long as the record): from the ring, when it
 * has them. The store drops a value it holds already. */
static void
eng_collect_ring_value(struct bpc_engine *e, const struct eng_dec *r, uint32_t *vals)
{
    if (r->vid.kind != BPC_VALUE_DIGEST || !r->has_bytes || *vals == e->ps.vals_cap) {
        return;
    }
    e->ps.vals[(*vals)++] = (struct bpc_durable_value){
        .instance = r->instance, .vid = r->vid, .bytes = eng_dring_bytes(e, r)};
}

/* A record stamped with the party-wide facts. */
static struct bpc_durable *
eng_dur_next(struct bpc_engine *e, uint32_t *count, bool clear)
{
    struct bpc_durable *d = &e->ps.dur[(*count)++];
    if (clear) {
        memset(d, 0, sizeof(*d));
    }
    return d;
}

static void
eng_dur_stamp(const struct bpc_engine *e, struct bpc_durable *d)
{
    d->max_bal = e->ps.max_bal;
    d->incarnation = e->ps.inc_rec;
    d->floor = eng_nu(e);
}

/* The next record, of instance, stamped, for a caller that writes
 * max_vbal, max_vval and hist_count next and the history arrays whole
 * (eng_vote_durable, eng_dur_decided): only applied_seq and what lies
 * from decided up to the arrays (padding included) are cleared here, so
 * that with the caller's fields every byte is written once. Clearing the
 * whole record first cost a 264-byte memset per vote; clearing all that
 * precedes the arrays, fields written right after included, still cost
 * 36 instructions per record, the largest cost of collecting. */
static struct bpc_durable *
eng_dur_head(struct bpc_engine *e, uint32_t *count, uint64_t instance)
{
    _Static_assert(
        offsetof(struct bpc_durable, hist_val) == offsetof(struct bpc_durable, hist_bal) +
                                                      sizeof(((struct bpc_durable *)0)->hist_bal) &&
            offsetof(struct bpc_durable, hist_val) + sizeof(((struct bpc_durable *)0)->hist_val) ==
                sizeof(struct bpc_durable),
        "the history arrays end the record");
    _Static_assert(offsetof(struct bpc_durable, decided) ==
                       6 * sizeof(uint64_t) + sizeof(struct bpc_vid) + sizeof(uint8_t),
                   "no padding before decided: the fields written cover it");
    struct bpc_durable *d = eng_dur_next(e, count, false);
    memset(&d->decided, 0,
           offsetof(struct bpc_durable, hist_bal) - offsetof(struct bpc_durable, decided));
    d->instance = instance;
    eng_dur_stamp(e, d);
    d->applied_seq = 0;
    return d;
}

/* Turns d, a record of an instance below the floor it carries, into a
 * decided record: the decided value and this party's own vote (already in
 * max_vbal/max_vval), no history (a report of a decided instance names
 * (v, b - 1) instead: ENGINE.md, Vote reports). */
static void
eng_dur_decided(const struct bpc_engine *e, struct bpc_durable *d, uint64_t ballot,
                const struct bpc_vid *vid)
{
    BPC_ASSERT(d->instance < d->floor);
    d->hist_count = 0;
    memset(d->hist_bal, 0, sizeof(d->hist_bal));
    /* Entry by entry: GCC clears the 144-byte array as a whole with a
     * loop of 8-byte stores (38 instructions), an entry with 3 stores. */
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        memset(&d->hist_val[h], 0, sizeof(d->hist_val[h]));
    }
    d->decided = 1;
    d->dec_bal = ballot;
    d->dec_val = *vid;
    d->dec_keep = d->instance + eng_dring_len(e);
}

/* Decided records for the instances the floor passed since the last batch
 * (at most ENG_DECIDED_BATCH_MAX of the newest: eng_persist_due asks for
 * a batch before more can pass), from the slot while it is held, else
 * from the ring; a held slot on the dirty list is written there. */
static void
eng_collect_decided(struct bpc_engine *e, uint32_t *count, uint32_t *vals)
{
    uint64_t nu = eng_nu(e);
    uint64_t lo = e->ps.floor_out;
    uint64_t cap = (uint64_t)ENG_DECIDED_BATCH_MAX * e->window;
    if (nu > lo + cap) {
        lo = nu - cap;
    }
    for (uint64_t i = lo; i < nu; i++) {
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) == i) {
            if (s->dirty || !eng_vote_is_decided(s)) {
                continue;
            }
            struct bpc_durable *d = eng_dur_head(e, count, i);
            d->max_vbal = eng_vote_max_vbal(s);
            d->max_vval = *eng_vote_max_vval(s);
            eng_dur_decided(e, d, eng_vote_dec_ballot(s), eng_vote_dec_vid(s));
            eng_collect_value(e, s, &d->dec_val, vals);
            continue;
        }
        const struct eng_dec *r = eng_dring_find(e, i);
        if (r == NULL) {
            continue;
        }
        struct bpc_durable *d = eng_dur_head(e, count, i);
        d->max_vbal = r->mbal;
        d->max_vval = r->mval;
        eng_dur_decided(e, d, r->ballot, &r->vid);
        eng_collect_ring_value(e, r, vals);
    }
}

/* The vote records of the slots marked dirty since the last batch, with
 * the values a new ballot may have to propose again. */
static void
eng_collect_dirty(struct bpc_engine *e, uint32_t *count, uint32_t *vals)
{
    for (uint32_t k = 0; k < e->ps.dirty_count; k++) {
        struct eng_slot *s = eng_slot_by_index(e, e->ps.dirty[k]);
        s->dirty = false;
        struct bpc_durable *d = eng_dur_head(e, count, eng_slot_instance(s));
        eng_vote_durable(s, d);
        bool held = d->instance < d->floor; /* decided, held: votes may follow it */
        if (held) {
            eng_dur_decided(e, d, eng_vote_dec_ballot(s), eng_vote_dec_vid(s));
        }
        eng_vote_dur_named(s, d);
        if (held) {
            eng_collect_value(e, s, &d->dec_val, vals);
        } else {
            /* The values a new ballot may have to propose again: maxVVal
             * and the newest 2av (older entries went out with their own
             * votes), each once per instance; inline values are their own
             * bytes. */
            eng_collect_value(e, s, &d->max_vval, vals);
            if (d->hist_count > 0 && d->hist_val[0].kind == BPC_VALUE_DIGEST &&
                !eng_vid_eq(&d->hist_val[0], &d->max_vval)) {
                eng_collect_value(e, s, &d->hist_val[0], vals);
            }
        }
    }
    e->ps.dirty_count = 0;
}

/* The votes cast on recent decisions (eng_vote_decided) since the last
 * batch. */
static void
eng_collect_vouched(struct bpc_engine *e, uint32_t *count, uint32_t *vals)
{
    for (uint32_t k = 0; k < e->ps.vouch_count; k++) {
        struct bpc_durable *d = eng_dur_next(e, count, false);
        *d = e->ps.vouch[k];
        eng_dur_stamp(e, d);
        /* A vote on a recent decision: the instance is below the floor. */
        if (d->instance < d->floor) {
            struct bpc_vid v = d->dec_val;
            eng_dur_decided(e, d, d->dec_bal, &v);
            const struct eng_dec *r = eng_dring_find(e, d->instance);
            if (r != NULL) {
                eng_collect_ring_value(e, r, vals);
            }
        } else {
            d->dec_bal = 0;
            memset(&d->dec_val, 0, sizeof(d->dec_val));
        }
    }
    e->ps.vouch_count = 0;
}

/* Apply state as of the floor: a restart resumes applying from the floor
 * with the same per-submitter positions as everyone else. */
static void
eng_collect_applied(struct bpc_engine *e, uint32_t *count)
{
    for (uint32_t k = 0; k < eng_applied_dirty_count(e); k++) {
        struct bpc_durable *d = eng_dur_next(e, count, true);
        uint64_t seq;
        d->instance = BPC_DURABLE_APPLIED_BASE + eng_applied_dirty_at(e, k, &seq);
        eng_dur_stamp(e, d);
        d->applied_seq = seq;
    }
    eng_applied_clean(e);
}

void
eng_collect_persist(struct bpc_engine *e, struct bpc_step_out *out)
{
    /* The party-wide record goes with every batch, so the persisted floor
     * is never more than a window below any persisted vote. */
    uint32_t count = 0;
    uint32_t vals = 0;
    struct bpc_durable *pw = eng_dur_next(e, &count, true);
    pw->instance = UINT64_MAX;
    eng_dur_stamp(e, pw);
    e->ps.max_bal_dirty = false;
    e->ps.floor_due = false;
    eng_collect_decided(e, &count, &vals);
    e->ps.floor_out = eng_nu(e);
    eng_collect_dirty(e, &count, &vals);
    eng_collect_vouched(e, &count, &vals);
    eng_collect_applied(e, &count);
    e->ps.inc_out = e->ps.inc_rec;
    out->persist = count ? e->ps.dur : NULL;
    out->persist_count = count;
    out->persist_values = vals ? e->ps.vals : NULL;
    out->persist_values_count = vals;
    if (count > 0) {
        e->ps.persist_pending = true;
    }
}

/* Numbers from seq_watch on take eng_seq_room_slow: from the margin
 * before the end of the last incarnation range records carry, or, with a
 * later one on its way, from the end of the confirmed one. */
static void
eng_seq_watch(struct bpc_engine *e)
{
    uint64_t end = (e->ps.inc_durable + 1u) << ENG_SEQ_BITS;
    e->ps.seq_watch = e->ps.inc_rec > e->ps.inc_durable ? end : end - ENG_SEQ_MARGIN;
}

bool
eng_seq_room_slow(struct bpc_engine *e, uint64_t seq)
{
    /* Records carrying the next incarnation go with the next batch; a
     * restart must still be able to raise it (bpc_durable_rules_ok). */
    if (e->ps.inc_rec == e->ps.inc_durable && e->ps.inc_rec + 2u < BPC_INCARNATION_MAX) {
        e->ps.inc_rec++;
        e->ps.max_bal_dirty = true;
        eng_seq_watch(e);
    }
    return seq >> ENG_SEQ_BITS <= e->ps.inc_durable;
}

void
eng_ps_persisted(struct bpc_engine *e)
{
    e->ps.persist_pending = false;
    if (e->ps.inc_durable != e->ps.inc_out) {
        e->ps.inc_durable = e->ps.inc_out;
        eng_seq_watch(e);
    }
}

/* Votes are persisted with a floor at most a window below them, so every
 * vote at or above the floor lands in the window; records below it are of
 * decided instances and no longer needed. */
static void
eng_restore_record(struct bpc_engine *e, const struct bpc_durable *d)
{
    if (d->instance >= BPC_DURABLE_APPLIED_BASE && d->instance != UINT64_MAX &&
        d->instance - BPC_DURABLE_APPLIED_BASE < e->n) {
        uint32_t sub = (uint32_t)(d->instance - BPC_DURABLE_APPLIED_BASE);
        eng_sub_restore_applied(e, sub, d->applied_seq);
        return;
    }
    if (d->instance >= BPC_DURABLE_APPLIED_BASE || d->hist_count > BPC_HISTORY_MAX) {
        return;
    }
    if (d->decided && d->instance < eng_nu(e)) {
        /* Back among the recent decisions; it may have voted at any
         * ballot up to the promised one, so it votes on it only above. */
        eng_dring_restore(e, d, e->ps.max_bal);
        return;
    }
    /* A decided record at or above the floor is not written (persist.c
     * header); should one be read, its vote still counts (no history:
     * dropping entries only costs liveness). */
    eng_in_restore_vote(e, d);
}

/* A record in a shape the engine writes: bpc_durable_ok (internal.h),
 * the rule bpc_store_append applies too. */
static bool
eng_ps_record_ok(const struct bpc_durable *d)
{
    return bpc_durable_ok(d);
}

/* Refuses, before anything is restored, a record set this engine cannot
 * take whole: -EINVAL for state no engine writes (a ballot above
 * BPC_BALLOT_MAX, a history past BPC_HISTORY_MAX, an incarnation without
 * room), -ERANGE for a vote at or above the floor's window (written under
 * a larger window). Such a vote used to be dropped without a word, and
 * the party then reported the instance empty in its 1b and could vote
 * against its own 2b: an under-report, which costs agreement once one
 * other party lies (docs/ENGINE.md, "Durability"). */
static int
eng_ps_restore_check(const struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count)
{
    if (count > 0 && recs == NULL) {
        return -EINVAL;
    }
    uint64_t floor = eng_nu(e);
    bool promised = false;
    bool last = false; /* an incarnation with no room for the start's bump */
    for (uint32_t k = 0; k < count; k++) {
        const struct bpc_durable *d = &recs[k];
        if (!eng_ps_record_ok(d)) {
            return -EINVAL;
        }
        floor = d->floor > floor ? d->floor : floor;
        promised = promised || d->max_bal > 0;
        last = last || d->incarnation == BPC_INCARNATION_MAX;
    }
    if (promised && last) {
        return -EINVAL; /* bpc_engine_start would persist one append refuses */
    }
    for (uint32_t k = 0; k < count; k++) {
        if (!bpc_durable_fits(&recs[k], floor, e->window, e->cfg.value_bytes_max)) {
            return -ERANGE; /* written under a larger window or value_bytes_max */
        }
    }
    return 0;
}

int
eng_ps_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count)
{
    if (!eng_sub_restore_begin(e)) {
        return -EBUSY; /* their tickets named the incarnation before */
    }
    int rc = eng_ps_restore_check(e, recs, count);
    if (rc != 0) {
        eng_sub_restore_abort(e);
        return rc;
    }
    /* Party-wide facts first: the floor places the window. */
    for (uint32_t k = 0; k < count; k++) {
        const struct bpc_durable *d = &recs[k];
        e->ps.max_bal = d->max_bal > e->ps.max_bal ? d->max_bal : e->ps.max_bal;
        e->ps.incarnation = d->incarnation > e->ps.incarnation ? d->incarnation : e->ps.incarnation;
        eng_win_restore_floor(e, d->floor);
    }
    e->ps.floor_out = eng_nu(e);
    eng_in_restore(e);
    eng_cu_restore(e);
    for (uint32_t k = 0; k < count; k++) {
        eng_restore_record(e, &recs[k]);
    }
    eng_sub_restore_done(e, e->ps.incarnation + (e->ps.max_bal > 0 ? 1u : 0u)); /* eng_ps_start */
    return 0;
}

bool
eng_ps_start_ok(const struct bpc_engine *e)
{
    /* The start raises the incarnation when a ballot was promised; the
     * record it persists must be one restore takes (bpc_durable_rules_ok:
     * not BPC_INCARNATION_MAX with a promise). */
    return e->ps.max_bal == 0 || e->ps.incarnation + 1u < BPC_INCARNATION_MAX;
}

void
eng_ps_start(struct bpc_engine *e)
{
    if (e->ps.max_bal > 0) {
        e->ps.incarnation++;
        e->ps.max_bal_dirty = true;
    }
    /* No frame leaves before the first batch, which carries it, is
     * confirmed (and a fresh party has nothing to be above). */
    e->ps.inc_rec = e->ps.incarnation;
    e->ps.inc_out = e->ps.incarnation;
    e->ps.inc_durable = e->ps.incarnation;
    eng_seq_watch(e);
}

void
eng_ps_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->ps.dur = m->dur;
    e->ps.vouch = m->vouch;
    e->ps.dur_cap = m->dur_cap;
    e->ps.vals = m->vals;
    e->ps.vals_cap = m->vals_cap;
    e->ps.dirty = m->dirty;
}
