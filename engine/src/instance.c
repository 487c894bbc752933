/*
 * instance.c - one instance's vote state and its transitions, named as in
 * BPConProof.tla: Phase2a (the leader proposes a value KnowsSafeAt allows),
 * Phase2av (vote for the ballot's 2a when KnowsSafeAt holds by the 1b
 * messages this party received, and its commands are their submitters'),
 * Phase2b (vote for a value with a quorum of 2av), and the decision (a
 * quorum of 2b for one value, or DECIDED claims of weight above F).
 *
 * Owns: e->in (the leader's next proposal, the re-check request, whether
 * a vote left at bal) and, in each slot, the vote state (maxVBal, maxVVal,
 * the 2av history, the vote buffer), the 2a of each generation and the
 * decision. Must never: vote 2av twice at one ballot, vote at a ballot
 * below max_bal, let a vote leave before its record is queued for
 * persistence, or accept a 2a from anyone but the ballot's leader.
 */
#include "instance.h"

#include "ballot.h"
#include "held.h"
#include "outbox.h"
#include "persist.h"
#include "report.h"
#include "runs.h"
#include "submit.h"
#include "tally.h"
#include "window.h"

#include <string.h>

/* Records that v, generation g's 2a, was sent in a 2av at ballot b: keeps
 * the H highest ballots, one entry per value, each with a history buffer
 * that moves with its entry. A DIGEST value's bytes stay in g's 2a buffer,
 * lent (hist_lent), and move to the entry's buffer only when g tallies
 * another ballot (eng_vote_gen_leaving). */
static void
eng_hist_add(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *v, uint64_t b)
{
    uint32_t k = 0;
    while (k < s->v.hist_count && !eng_vid_eq(&s->v.hist_val[k], v)) {
        k++;
    }
    if (k == s->v.hist_count) {
        if (s->v.hist_count < BPC_HISTORY_MAX) {
            /* A new entry takes the buffer no other entry holds. */
            uint32_t used = 0;
            for (uint32_t j = 0; j < s->v.hist_count; j++) {
                used |= 1u << s->v.hist_buf[j];
            }
            uint8_t free_buf = 0;
            while (used & (1u << free_buf)) {
                free_buf++;
            }
            s->v.hist_buf[k] = free_buf;
            s->v.hist_count++;
        } else {
            k = s->v.hist_count - 1u; /* drop the lowest (its buffer too): liveness only */
        }
        s->v.hist_has &= (uint8_t) ~(1u << k);
        s->v.hist_lent &= (uint8_t) ~(1u << k);
    }
    s->v.hist_val[k] = *v;
    s->v.hist_bal[k] = b; /* a lent entry's lender is now the generation at b */
    if (v->kind == BPC_VALUE_DIGEST && !(s->v.hist_has & (1u << k))) {
        s->v.hist_has |= (uint8_t)(1u << k);
        s->v.hist_lent |= (uint8_t)(1u << k);
    }
    /* Keep sorted by ballot, highest first (insertion step). */
    while (k > 0 && s->v.hist_bal[k - 1] < s->v.hist_bal[k]) {
        uint64_t tb = s->v.hist_bal[k - 1];
        struct bpc_vid tv = s->v.hist_val[k - 1];
        uint8_t tf = s->v.hist_buf[k - 1];
        uint32_t hk = ((uint32_t)s->v.hist_has >> k) & 1u;
        uint32_t hj = ((uint32_t)s->v.hist_has >> (k - 1)) & 1u;
        uint32_t lk = ((uint32_t)s->v.hist_lent >> k) & 1u;
        uint32_t lj = ((uint32_t)s->v.hist_lent >> (k - 1)) & 1u;
        s->v.hist_bal[k - 1] = s->v.hist_bal[k];
        s->v.hist_val[k - 1] = s->v.hist_val[k];
        s->v.hist_buf[k - 1] = s->v.hist_buf[k];
        s->v.hist_bal[k] = tb;
        s->v.hist_val[k] = tv;
        s->v.hist_buf[k] = tf;
        uint32_t rest = (uint32_t)s->v.hist_has & ~(3u << (k - 1));
        s->v.hist_has = (uint8_t)(rest | (hk << (k - 1)) | (hj << k));
        rest = (uint32_t)s->v.hist_lent & ~(3u << (k - 1));
        s->v.hist_lent = (uint8_t)(rest | (lk << (k - 1)) | (lj << k));
        k--;
    }
    eng_mark_dirty(e, s);
}

/* The value of generation g may be voted for: a well-formed batch the
 * application accepts, and (check_cmds) whose commands are authentic
 * (else the first that is not in *bad; *proven, in: commands already
 * proven, out: proven now, or UINT32_MAX when the value itself is
 * refused: malformed, or by the application). */
static bool
eng_value_ok(struct bpc_engine *e, struct eng_slot *s, uint32_t g, bool check_cmds,
             struct eng_unproven *bad, uint32_t *proven)
{
    *bad = (struct eng_unproven){.submitter = UINT32_MAX}; /* the rest names a command */
    const struct bpc_vid *v = &s->gen[g].a.v2a;
    if (v->kind == BPC_VALUE_NOOP) {
        return true;
    }
    const uint8_t *bytes = v->kind == BPC_VALUE_INLINE ? v->id : eng_slot_value(e, s, g);
    if (!eng_batch_ok(e, bytes, v->len)) {
        *proven = UINT32_MAX;
        return false;
    }
    if (check_cmds && !eng_cmds_check(e, bytes, v->len, (uint32_t)eng_leader(e), bad, proven)) {
        return false;
    }
    if (e->cfg.value_check != NULL && !e->cfg.value_check(e->cfg.value_check_ctx, bytes, v->len)) {
        *proven = UINT32_MAX;
        return false;
    }
    return true;
}

static const uint8_t *
eng_gen_bytes(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    return s->gen[g].a.v2a.kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, g) : NULL;
}

/* 2av(b, v): only if max_bal <= b, no 2av at b or above was sent for this
 * instance, and KnowsSafeAt(b, v) holds by the 1b messages received. A
 * value held back is noted (held.c) with why. */
void
eng_try_2av(struct bpc_engine *e, struct eng_slot *s, bool view_same)
{
    uint64_t bal = eng_bal(e);
    int g = eng_gen_find(e, s, bal, false);
    if (g < 0 || !s->gen[g].a.has_2a || !eng_event_fired(e, BPC_EVENT_LAUNCH_2AV) ||
        (s->v.hist_count > 0 && s->v.hist_bal[0] >= bal)) {
        eng_held_none(e, s); /* nothing to vote, or a 2av at bal sent */
        return;
    }
    BPC_ASSERT(eng_max_bal(e) <= bal);
    /* A value vouched for by a weak quorum of 2av reports (case b) was
     * checked by the correct party among them before it voted; a fresh
     * value (case a) is checked here, command by command. At the first
     * ballot no report can vouch (case b needs a ballot below it) and
     * every value is safe (safe.c, case 0): no view to build. Held for a
     * command's proof with the same view since (view_same), it was
     * fresh and safe by that view: not evaluated again. */
    bool vouched = false;
    if (bal > 1 && !view_same) {
        struct bpc_safe_view view;
        eng_view(e, s, (uint32_t)g, &view);
        vouched = bpc_safe_vouched(&view, &s->gen[g].a.v2a);
        bool free = bpc_safe_free(&view);
        if (!vouched && !free) {
            eng_held_note(e, s, ENG_HELD_SAFE, 0); /* re-checked as 1b messages arrive */
            return;
        }
        if (free && bal > s->v.clean) {
            /* Case (a), vouched or not: no value was or can be chosen
             * below bal. Before, a vouched value set no floor, and a
             * Byzantine leader sending values another correct party had
             * voted for kept this party from ever claiming one (own
             * review, probe_vouch: "2A for instance 0: NONE"). Durable
             * with the vote state (eng_vote_durable), written now even
             * when the 2a is held below for its commands: before, a
             * restart before the vote state's next change lost it. */
            s->v.clean = bal;
            eng_mark_dirty(e, s);
        }
    }
    /* A batch this party built from its own queue needs no re-check:
     * every command in the queue was checked as its submitter's when it
     * was queued (eng_on_forward), or is this party's own. */
    bool from_queue = s->gen[g].a.from_queue && s->gen[g].a.proposed;
    if (!vouched && eng_held_same_proof(e, s)) {
        /* safe, not vouched, held for a proof that did not change */
        eng_held_note(e, s, ENG_HELD_AUTH, eng_held_proven(e, s));
        return;
    }
    struct eng_unproven bad;
    uint32_t proven = eng_held_proven(e, s);
    if (!eng_value_ok(e, s, (uint32_t)g, !vouched && !from_queue, &bad, &proven)) {
        if (!bad.missing) {
            eng_refuse(e, s, (uint32_t)g, &bad); /* a MAC that does not match */
        }
        /* kept; re-checked as ATTESTs arrive (or, refused by the
         * application, only if a view could vouch for it) */
        eng_held_note(e, s, proven == UINT32_MAX ? ENG_HELD_VALUE : ENG_HELD_AUTH, proven);
        return;
    }
    eng_held_none(e, s);
    eng_raise_max_bal(e, bal);
    e->in.voted_at_bal = true;
    eng_hist_add(e, s, &s->gen[g].a.v2a, bal);
    struct bpc_record r =
        bpc_record_make(BPC_MSG_2AV, eng_slot_instance(s), bal, 0, &s->gen[g].a.v2a);
    eng_broadcast(e, &r, NULL);
}

/* 2b(b, v): only if max_bal <= b and 2av for v at b came from a quorum. */
void
eng_try_2b(struct bpc_engine *e, struct eng_slot *s)
{
    uint64_t bal = eng_bal(e);
    int g = eng_gen_find(e, s, bal, false);
    if (g < 0 || s->v.max_vbal >= bal || !eng_event_fired(e, BPC_EVENT_LAUNCH_2B)) {
        return;
    }
    const struct bpc_vid *vid = eng_tally_2av_quorum(e, &s->gen[g]);
    if (vid == NULL) {
        return;
    }
    eng_raise_max_bal(e, bal);
    e->in.voted_at_bal = true;
    s->v.max_vbal = bal;
    s->v.max_vval = *vid;
    eng_mark_dirty(e, s);
    struct bpc_record r = bpc_record_make(BPC_MSG_2B, eng_slot_instance(s), bal, 0, &s->v.max_vval);
    eng_broadcast(e, &r, NULL);
}

/* The decided bytes at hand (bytes, from a peer's record, else a buffer of
 * the slot): a generation's 2a buffer holding them is lent (no copy; see
 * eng_vote_gen_leaving), any other source is copied to ENG_GENS. */
static bool
eng_decide_keep(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid,
                const uint8_t *bytes)
{
    if (bytes == NULL) {
        for (uint32_t g = 0; g < ENG_GENS; g++) {
            if (s->gen[g].a.has_2a && eng_vid_eq(&s->gen[g].a.v2a, vid)) {
                s->v.dec_from = (uint8_t)(g + 1u);
                return true;
            }
        }
        bytes = eng_find_bytes(e, s, vid);
        if (bytes == NULL) {
            return false;
        }
    }
    memcpy(eng_slot_value(e, s, ENG_GENS), bytes, vid->len);
    s->v.dec_from = 0;
    return true;
}

/* The bytes of a DIGEST value decided at s, when this party has them. */
static void
eng_decide_bytes(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid,
                 const uint8_t *bytes)
{
    if (eng_decide_keep(e, s, vid, bytes)) {
        s->v.dec_bytes = true;
    } else {
        /* Decided by digest before the 2a's bytes arrived: usually the
         * 2a is just behind (eng_on_2a completes it); if it was lost,
         * the next STATUS brings the bytes from a peer. */
#ifdef BPC_TRACE
        fprintf(stderr, "T p%u t=%llu decided %llu without bytes (nu %llu)\n", e->self,
                (unsigned long long)e->now_ns, (unsigned long long)eng_slot_instance(s),
                (unsigned long long)eng_nu(e));
#endif
    }
}

void
eng_decide(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, const struct bpc_vid *vid,
           const uint8_t *bytes, bool own)
{
    (void)own; /* how it was learned changes no report (docs/ENGINE.md) */
    if (s->v.decided) {
        /* Agreement: a second decision must name the same value. Two can
         * differ only with more than F faulty weight (the simulator's
         * --unsafe runs); count it, keep the first, never crash. */
        if (!eng_vid_eq(&s->v.dec_vid, vid)) {
            e->ctr.conflicts++;
            return;
        }
        if (!s->v.dec_bytes && bytes != NULL && eng_decide_keep(e, s, vid, bytes)) {
            s->v.dec_bytes = true;
        }
        return;
    }
    s->v.decided = true;
    s->v.dec_ballot = ballot;
    s->v.dec_vid = *vid;
    s->v.dec_bytes = vid->kind != BPC_VALUE_DIGEST;
    if (vid->kind == BPC_VALUE_DIGEST) {
        eng_decide_bytes(e, s, vid, bytes);
    }
    eng_bl_progress(e);
    if (e->cur_out != NULL && eng_slot_instance(s) == eng_nu(e)) {
        /* Apply at once, so later records of the same burst already see
         * the window moved on. */
        eng_emit(e, e->cur_out);
    }
}

/* ------------------------------------------------------------------------
 * Records.
 * ---------------------------------------------------------------------- */

/* Keeps a DIGEST 2a's bytes; false when they are missing or too long. */
static bool
eng_2a_bytes(struct bpc_engine *e, struct eng_slot *s, uint32_t g, const struct bpc_record *r)
{
    if (r->value.len > e->vbytes || r->value_bytes == NULL) {
        return false;
    }
    uint8_t *dst = eng_slot_value(e, s, g);
    if (dst != r->value_bytes) {
        memcpy(dst, r->value_bytes, r->value.len);
    }
    if (s->v.decided && !s->v.dec_bytes && eng_vid_eq(&s->v.dec_vid, &r->value)) {
        s->v.dec_from = (uint8_t)(g + 1u); /* lent (eng_decide_keep) */
        s->v.dec_bytes = true;
        if (e->cur_out != NULL) {
            eng_emit(e, e->cur_out);
        }
    }
    return true;
}

int
eng_gen_leader(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    struct eng_gen_2a *a = &s->gen[g].a;
    if (a->leader1 == 0) {
        a->leader1 = (uint16_t)(eng_leader_of(e, eng_gen_ballot(s, g)) + 1);
    }
    return a->leader1 - 1;
}

/* A 2a more than ENG_2A_AHEAD ballots above the current one is dropped
 * unchecked: its leader resends it at every retransmit tick
 * (eng_in_retransmit) once this party has joined. */
void
eng_on_2a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    /* What makes a 2a useless first, so a peer's 2a records at ballots
     * that can change nothing cost no election: below bal, only a
     * generation still tallying the ballot takes one, and it keeps its
     * leader (eng_gen_leader); above, the next ENG_2A_AHEAD ballots'
     * leaders are kept (eng_leader_of). */
    struct eng_slot *s = eng_slot_get(e, r->instance);
    if (s == NULL) {
        ENG_IGNORED(e);
        return;
    }
    uint64_t bal = eng_bal(e);
    int leader = -1;
    if (r->ballot < bal) {
        int old = eng_gen_of(s, r->ballot);
        leader = old < 0 ? -1 : eng_gen_leader(e, s, (uint32_t)old);
    } else if (r->ballot - bal <= ENG_2A_AHEAD) {
        leader = eng_leader_of(e, r->ballot);
    }
    if (leader != (int)p) {
        ENG_IGNORED(e);
        return;
    }
    int g = eng_gen_find(e, s, r->ballot, true);
    if (g < 0) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_gen *gen = &s->gen[g];
    if (gen->a.has_2a) {
        if (!eng_vid_eq(&gen->a.v2a, &r->value)) {
            e->ctr.equivocations++; /* only the first 2a counts */
        }
        return;
    }
    gen->a.has_2a = true;
    eng_votes_2a_arrived(e);
    gen->a.proposed = p == e->self;
    gen->a.refused = 0;
    gen->a.v2a = r->value;
    if (r->value.kind == BPC_VALUE_DIGEST && !eng_2a_bytes(e, s, (uint32_t)g, r)) {
        gen->a.has_2a = false;
        ENG_IGNORED(e);
        return;
    }
    if (r->ballot == eng_bal(e)) {
        eng_bl_work(e);
        eng_try_2av(e, s, false);
    }
}

void
eng_on_2av(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    struct eng_slot *s;
    int g = eng_vote_find(e, r, &s);
    if (g >= 0) {
        eng_on_vote_at(e, p, s, (uint32_t)g, BPC_MSG_2AV, &r->value);
    }
}

void
eng_on_2b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    struct eng_slot *s;
    int g = eng_vote_find(e, r, &s);
    if (g >= 0) {
        eng_on_vote_at(e, p, s, (uint32_t)g, BPC_MSG_2B, &r->value);
    }
}

/* Does generation g's 2b quorum of weight w need this party's own 2b,
 * counted in it (whatever it voted since: a later vote stands in for it
 * once durable)? Then the decision waits for bpc_engine_persisted
 * (docs/ENGINE.md, "Durability": applied at once, a crash that lost the
 * vote let another value be decided and applied at the instance). */
static bool
eng_own_2b_needed(const struct bpc_engine *e, struct eng_slot *s, uint32_t g, bpc_u128 w)
{
    return eng_bit_test(eng_slot_bits(e, s, g, SEEN_2B), e->self) &&
           w - eng_weight(e, e->self) < e->threshold;
}

void
eng_on_vote_at(struct bpc_engine *e, uint32_t p, struct eng_slot *s, uint32_t g, uint8_t type,
               const struct bpc_vid *vid)
{
    uint64_t b = eng_gen_ballot(s, g);
    bpc_u128 w;
    if (type == BPC_MSG_2AV) {
        if (eng_tally_vote_at(e, s, g, p, SEEN_2AV, vid, &w) && b == eng_bal(e) &&
            w >= e->threshold) {
            eng_try_2b(e, s);
        }
    } else if (eng_tally_vote_at(e, s, g, p, SEEN_2B, vid, &w) && w >= e->threshold) {
        if (!s->v.decided) {
            s->v.dec_wait = eng_own_2b_needed(e, s, g, w);
        }
        eng_decide(e, s, b, vid, NULL, true);
    }
}

/*
 * A 2a at the current ballot for an instance this party decided and no
 * longer holds: if it proposes the decided value v, vote 2av and 2b for v,
 * so the others can complete a quorum that needs this party (they may
 * have voted 2b without seeing the quorum, and DECIDED claims of one
 * party weigh too little). A vote for the chosen value cannot help
 * another value; one 2av and one 2b per ballot still holds (vote_hi), and
 * the vote is persisted like any other (a record for the instance, so a
 * restarted party whose floor is below it reports it) before it leaves.
 */
void
eng_vote_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    const struct eng_dec *found = eng_dring_find(e, r->instance);
    if (found == NULL || r->ballot != eng_bal(e) || found->vote_hi >= r->ballot ||
        eng_vouch_full(e) || e->in.vouch_2b_count == ENG_VOUCH_MAX ||
        eng_leader_of(e, r->ballot) != (int)p || !eng_vid_eq(&found->vid, &r->value)) {
        return;
    }
    eng_dring_vote(e, r->instance, r->ballot);
    eng_persist_vouch(e, r->instance, r->ballot, found->mbal, &found->mval, &found->vid,
                      found->ballot);
    struct bpc_record v2av = bpc_record_make(BPC_MSG_2AV, r->instance, r->ballot, 0, &found->vid);
    eng_broadcast(e, &v2av, NULL);
    e->in.vouch_2b[e->in.vouch_2b_count++] =
        (struct eng_vouch_2b){.instance = r->instance, .ballot = r->ballot, .vid = found->vid};
}

/* The step's 2b votes on decided instances leave after its 2av votes on
 * them: 2A records for consecutive instances then give one 2av run and
 * one 2b run per peer. Before, each 2av and 2b left alternately and no
 * run formed: a Byzantine leader's frame of 64 2A records for instances
 * decided before made a correct party send 128 records to each peer
 * (review E7's F1: 3,968 records in 220 frames at 32 parties), where a
 * fresh 2a costs one run of each. */
void
eng_vote_decided_2b(struct bpc_engine *e)
{
    for (uint32_t k = 0; k < e->in.vouch_2b_count; k++) {
        const struct eng_vouch_2b *d = &e->in.vouch_2b[k];
        struct bpc_record v2b = bpc_record_make(BPC_MSG_2B, d->instance, d->ballot, 0, &d->vid);
        eng_broadcast(e, &v2b, NULL);
    }
    e->in.vouch_2b_count = 0;
}

/* ------------------------------------------------------------------------
 * Leader.
 * ---------------------------------------------------------------------- */

/* Builds a batch of queued commands as slot generation g's 2a value. */
static bool
eng_take_submission(struct bpc_engine *e, struct eng_slot *s, uint32_t g, struct bpc_vid *vid)
{
    uint32_t len = eng_batch_build(e);
    if (len == 0) {
        return false;
    }
    bpc_vid_of(vid, eng_batch_bytes(e), len);
    if (vid->kind == BPC_VALUE_DIGEST) {
        memcpy(eng_slot_value(e, s, g), eng_batch_bytes(e), len);
    }
    s->gen[g].a.from_queue = true;
    return true;
}

/* The value to propose for instance in generation g (its bytes in the
 * generation's buffer); false when the leader must wait. */
static bool
eng_pick_value(struct bpc_engine *e, struct eng_slot *s, uint32_t g, uint64_t instance,
               struct bpc_vid *vid)
{
    memset(vid, 0, sizeof(*vid));
    s->gen[g].a.from_queue = false; /* until a batch is built from the queue */
    /* At the first ballot every value is safe whatever the view holds
     * (safe.c, case 0; docs/ENGINE.md, "No phase 1 at the first ballot"):
     * the pick is free and no view is built. */
    enum bpc_safe_pick pick = BPC_SAFE_FREE;
    uint64_t bal = eng_gen_ballot(s, g);
    if (bal > 1) {
        /* The same view as at the last pick that found nothing: nothing
         * either (before, any frame cost a sort of every reported value:
         * 124.5 us at 999 parties against 3.7; review E's leader_wait). */
        struct eng_instance_state *in = &e->in;
        if (in->nopick_valid && in->nopick_instance == instance && in->nopick_ballot == bal &&
            in->nopick_epoch == eng_view_epoch(e)) {
            /* A value found safe whose bytes were missing: the same view
             * picks it again, so only its bytes are looked for (before,
             * judged again at every step: 53.8 us for an ignored frame at
             * 999 parties against 0.11; review E3's probe_epoch). */
            *vid = in->nopick_vid;
            pick = vid->kind == BPC_VALUE_NONE ? BPC_SAFE_NONE : BPC_SAFE_VALUE;
        } else {
            eng_view_watch(e, instance);
            struct bpc_safe_view view;
            eng_view(e, s, g, &view);
            pick = bpc_safe_pick(&view, vid);
            in->nopick_valid = pick == BPC_SAFE_NONE || pick == BPC_SAFE_VALUE;
            in->nopick_vid = pick == BPC_SAFE_VALUE ? *vid : (struct bpc_vid){0};
            in->nopick_instance = instance;
            in->nopick_ballot = bal;
            in->nopick_epoch = eng_view_epoch(e);
        }
    }
    if (pick == BPC_SAFE_NONE) {
        return false;
    }
    if (pick == BPC_SAFE_VALUE) {
        if (vid->kind == BPC_VALUE_DIGEST) {
            const uint8_t *bytes = eng_find_bytes(e, s, vid);
            if (bytes == NULL) {
                return false; /* only the digest is known: no fetch yet */
            }
            memcpy(eng_slot_value(e, s, g), bytes, vid->len);
        }
    } else if (!eng_take_submission(e, s, g, vid)) {
        if (instance >= eng_claims_hi(e)) {
            return false; /* fresh instance and nothing to propose */
        }
        vid->kind = BPC_VALUE_NOOP; /* fill a gap below a reported vote */
    }
    return true;
}

/* Chooses and sends the 2a for one instance; false when it must wait. */
static bool
eng_propose(struct bpc_engine *e, uint64_t instance)
{
    struct eng_slot *s = eng_slot_get(e, instance);
    int g = s ? eng_gen_find(e, s, eng_bal(e), true) : -1;
    if (g < 0) {
        return false;
    }
    struct eng_gen *gen = &s->gen[g];
    if (gen->a.has_2a) {
        return true; /* already proposed (or the 2a was received) */
    }
    if (s->v.decided) {
        return true;
    }
    struct bpc_vid vid;
    if (!eng_pick_value(e, s, (uint32_t)g, instance, &vid)) {
        return false;
    }
    /* The 2a reaches this party through the self queue like any other, so
     * eng_on_2a records it and sends the leader's own 2av. */
    struct bpc_record r = bpc_record_make(BPC_MSG_2A, instance, eng_bal(e), 0, &vid);
    const uint8_t *val = vid.kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, (uint32_t)g) : NULL;
    eng_broadcast(e, &r, val);
    return true;
}

void
eng_leader_pump(struct bpc_engine *e)
{
    if (!eng_is_leader(e) || !eng_event_fired(e, BPC_EVENT_LAUNCH_2A)) {
        return;
    }
    uint64_t nu = eng_nu(e);
    if (e->in.next_prop < nu) {
        e->in.next_prop = nu;
    }
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u pump bal %llu next_prop %llu nu %llu\n", e->self,
            (unsigned long long)eng_bal(e), (unsigned long long)e->in.next_prop,
            (unsigned long long)nu);
#endif
    /* Paced mode proposes one instance per round, as the origin does. */
    uint64_t limit = eng_paced(e) ? nu + 1 : nu + e->active;
    while (e->in.next_prop < limit && eng_propose(e, e->in.next_prop)) {
        e->in.next_prop++;
    }
}

/* ------------------------------------------------------------------------
 * Ticks, ballots, restarts, status.
 * ---------------------------------------------------------------------- */

void
eng_in_retransmit(struct bpc_engine *e)
{
    e->in.nopick_valid = false; /* the pick is judged again at least once a tick */
    uint64_t nu = eng_nu(e);
    uint64_t bal = eng_bal(e);
    for (uint64_t i = nu; i - nu < ENG_RETX_MAX && i - nu < e->active; i++) {
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) != i || s->v.decided) {
            continue;
        }
        int g = eng_gen_find(e, s, bal, false);
        if (g >= 0 && s->gen[g].a.proposed) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2A, i, bal, 0, &s->gen[g].a.v2a);
            eng_broadcast(e, &r, eng_gen_bytes(e, s, (uint32_t)g));
        }
        if (s->v.hist_count > 0 && s->v.hist_bal[0] == bal) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2AV, i, bal, 0, &s->v.hist_val[0]);
            eng_broadcast_alone(e, &r);
        }
        if (s->v.max_vbal == bal) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2B, i, bal, 0, &s->v.max_vval);
            eng_broadcast_alone(e, &r);
        }
    }
}

bool
eng_in_has_work(const struct bpc_engine *e)
{
    uint64_t nu = eng_nu(e);
    for (uint64_t i = nu; i - nu < e->window; i++) {
        const struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) != i) {
            continue;
        }
        /* An instance voted on but undecided, or one decided behind a gap
         * (the log cannot move until the gap is filled). */
        if (s->v.decided ? i > nu
                         : (s->v.hist_count > 0 || s->gen[0].a.has_2a || s->gen[1].a.has_2a)) {
            return true;
        }
    }
    return false;
}

void
eng_in_on_leave(struct bpc_engine *e)
{
    /* The step's 2b votes on decided instances leave at the ballot they
     * were cast at, before this party promises a higher one: queued until
     * after the step's frames, one left after the 1b of a ballot a later
     * frame made it join (review A8, F1: a vote below its max_bal). */
    eng_vote_decided_2b(e);
    if (!eng_is_leader(e)) {
        eng_in_refuse_held(e, ENG_REFUSE_LEAVE);
        return;
    }
    uint64_t bal = eng_bal(e);
    for (uint64_t i = eng_nu(e); i < e->in.next_prop; i++) {
        struct eng_slot *s = eng_slot_get(e, i);
        int g = s != NULL && !s->v.decided ? eng_gen_find(e, s, bal, false) : -1;
        if (g < 0) {
            continue;
        }
        const struct eng_gen *gen = &s->gen[g];
        if (!gen->a.has_2a || !gen->a.proposed || !gen->a.from_queue ||
            gen->a.v2a.kind == BPC_VALUE_NOOP) {
            continue;
        }
        eng_lq_failed(e, eng_gen_batch(e, s, (uint32_t)g), gen->a.v2a.len);
    }
}

void
eng_in_on_join(struct bpc_engine *e)
{
    e->in.voted_at_bal = false;
    e->in.next_prop = eng_nu(e);
}

void
eng_in_resume(struct bpc_engine *e)
{
    e->in.voted_at_bal = true;
}

void
eng_in_restore(struct bpc_engine *e)
{
    e->in.next_prop = eng_nu(e);
}

static enum bpc_status
eng_gen_status(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    const struct eng_gen *gen = &s->gen[g];
    if (gen->a.has_2a && eng_tally_2av_passed(e, gen, &gen->a.v2a)) {
        return BPC_STATUS_PASSED_2AV;
    }
    if (s->v.hist_count > 0 && s->v.hist_bal[0] == eng_bal(e)) {
        return BPC_STATUS_PASSED_2A;
    }
    struct bpc_safe_view view;
    eng_view(e, s, g, &view);
    if (bpc_safe_weight(&view) >= e->threshold) {
        return BPC_STATUS_PASSED_1B;
    }
    return BPC_STATUS_NONE;
}

enum bpc_status
eng_in_status(struct bpc_engine *e, uint64_t instance)
{
    if (instance < eng_nu(e)) {
        return BPC_STATUS_FINISHED;
    }
    if (eng_bal(e) == 0) {
        return BPC_STATUS_NONE;
    }
    struct eng_slot *s = eng_in_window(e, instance) ? eng_slot_at(e, instance) : NULL;
    if (s != NULL && eng_slot_instance(s) == instance) {
        if (s->v.decided) {
            return BPC_STATUS_PASSED_2B;
        }
        int g = eng_gen_find(e, s, eng_bal(e), false);
        enum bpc_status st = g >= 0 ? eng_gen_status(e, s, (uint32_t)g) : BPC_STATUS_NONE;
        if (st != BPC_STATUS_NONE) {
            return st;
        }
    } else if (eng_range_weight(e, eng_bal(e), instance) >= e->threshold) {
        /* No record touched the slot yet: only range 1b messages count. */
        return BPC_STATUS_PASSED_1B;
    }
    if (eng_1a_seen(e)) {
        return BPC_STATUS_PASSED_1A;
    }
    return BPC_STATUS_LAUNCHED;
}
