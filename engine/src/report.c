/*
 * report.c - this party's 1b messages: on entering a ballot b, explicit
 * reports (maxVBal, maxVVal, the 2av history) for the instances it voted
 * on and one range record saying every instance above them is empty, so
 * phase 1 runs once per ballot for the whole range; later, reports for
 * held or recently decided instances a lagging leader asks about.
 *
 * Owns: e->rp (whether and from where the 1b at bal was sent, the lowest
 * instance a lagging leader asked about). Must never: under-report (a
 * 1b(b) names a maxVBal at least the highest ballot this party sent a 2b
 * at, and every real history entry it keeps), report a ballot a DECIDED
 * claim named as this party's vote, or change vote state (instance.c's).
 * docs/ENGINE.md, "Vote reports", argues each report against KnowsSafeAt.
 */
#include "report.h"

#include "ballot.h"
#include "held.h"
#include "instance.h"
#include "outbox.h"
#include "window.h"

uint64_t
eng_voted_hi(const struct bpc_engine *e)
{
    uint64_t hi = UINT64_MAX; /* none */
    uint64_t nu = eng_nu(e);
    for (uint64_t i = nu; i - nu < e->window; i++) {
        const struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) == i && eng_vote_any(s)) {
            hi = i;
        }
    }
    return hi;
}

/*
 * A 1b(b) never under-reports: it names a maxVBal at least the highest
 * ballot below b at which this party sent a 2b, and keeps its real 2av
 * history entries (the H highest). For an instance it knows decided with
 * value v (its own 2b quorum, or DECIDED claims of weight > F: a correct
 * party decided it) it adds a history entry (v, b - 1): an entry naming
 * the chosen value may overstate, at any ballot, without making another
 * value safe, and it lets a new leader find v safe even when the parties
 * that voted for v forgot their 2av history. The ballot a DECIDED claim
 * names is never used. docs/ENGINE.md, "Vote reports", argues each case.
 */

/* The (maxVBal, maxVVal) a 1b(b) names for a decided instance with value v
 * whose real vote state is (mb, mv): the real one when it lies below b;
 * when this party voted 2b at b itself (its state below b is gone), b - 1
 * with the chosen value, which is at least any 2b it sent below b. */
static uint64_t
eng_decided_mbal(const struct bpc_engine *e, uint64_t mb, const struct bpc_vid *mv,
                 const struct bpc_vid *v, const struct bpc_vid **out)
{
    uint64_t bal = eng_bal(e);
    if (mb < bal) {
        *out = mv;
        return mb;
    }
    *out = v;
    return bal - 1;
}

/* Sends 1B(instance, bal, maxVBal = mb, mv) with the history in hb/hv and,
 * when clean is not 0, the clean floor as a last history record of kind
 * NONE (docs/WIRE.md). */
static void
eng_put_report(struct bpc_engine *e, uint64_t instance, uint64_t mb, const struct bpc_vid *mv,
               uint32_t hn, const uint64_t *hb, const struct bpc_vid *hv, uint64_t clean)
{
    uint64_t bal = eng_bal(e);
    uint32_t extra = clean > 0 ? 1u : 0u;
    if (!eng_broadcast_room(e, 1 + hn + extra)) {
        /* Whole or not at all: a 1B whose history records did not fit
         * made the frame one the peers' decoders refuse. */
        e->ctr.tx_overflow++;
        return;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_1B, instance, bal, mb, mb > 0 ? mv : NULL);
    r.hist_count = (uint8_t)(hn + extra);
    eng_broadcast(e, &r, NULL);
    for (uint32_t h = 0; h < hn; h++) {
        struct bpc_record hr = bpc_record_make(BPC_MSG_1B_HIST, instance, bal, hb[h], &hv[h]);
        eng_broadcast(e, &hr, NULL);
    }
    if (clean > 0) {
        struct bpc_record cr = bpc_record_make(BPC_MSG_1B_HIST, instance, bal, clean, NULL);
        eng_broadcast(e, &cr, NULL);
    }
}

/* After a 1b: the bytes of a DIGEST value it names, as a VALUE record
 * (bytes is where this party keeps them; NULL: it has none to give). */
static void
eng_put_value(struct bpc_engine *e, uint64_t instance, const struct bpc_vid *v,
              const uint8_t *bytes)
{
    if (v->kind != BPC_VALUE_DIGEST || bytes == NULL) {
        return;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_VALUE, instance, eng_bal(e), 0, v);
    eng_broadcast(e, &r, bytes);
}

/* 1b for a decided instance whose slot was reused, from the recent
 * decisions: its real (maxVBal, maxVVal) and the entry (v, b - 1). */
static void
eng_report_decided(struct bpc_engine *e, const struct eng_dec *d)
{
    if (eng_bal(e) < 2) {
        return; /* nothing is decided before ballot 1 ends */
    }
    const struct bpc_vid *mv = NULL;
    uint64_t mb = eng_decided_mbal(e, d->mbal, &d->mval, &d->vid, &mv);
    uint64_t hb = eng_bal(e) - 1;
    eng_put_report(e, d->instance, mb, mv, 1, &hb, &d->vid, 0);
    eng_put_value(e, d->instance, &d->vid, d->has_bytes ? eng_dring_bytes(e, d) : NULL);
}

/* Sorts a report's history highest ballot first (insertion sort). */
static void
eng_hist_sort(uint32_t hn, uint64_t *hb, struct bpc_vid *hv)
{
    for (uint32_t i = 1; i < hn; i++) {
        for (uint32_t j = i; j > 0 && hb[j - 1] < hb[j]; j--) {
            uint64_t tb = hb[j - 1];
            struct bpc_vid tv = hv[j - 1];
            hb[j - 1] = hb[j];
            hv[j - 1] = hv[j];
            hb[j] = tb;
            hv[j] = tv;
        }
    }
}

/* After a 1b(b) report on s: the bytes this party holds of the DIGEST
 * values it named, as VALUE records. */
static void
eng_put_1b_values(struct bpc_engine *e, const struct eng_slot *s, uint64_t instance)
{
    uint64_t bal = eng_bal(e);
    const struct bpc_vid *dv = eng_vote_dec_vid(s);
    bool decided = eng_vote_is_decided(s) && bal >= 2;
    uint32_t count = eng_vote_hist_count(s);
    if (decided && eng_vote_decided_with_bytes(s)) {
        eng_put_value(e, instance, dv, eng_slot_value(e, s, eng_vote_dec_buf(s)));
    }
    for (uint32_t h = 0; h < count; h++) {
        const struct bpc_vid *val = eng_vote_hist_val(s, h);
        int buf = eng_vote_hist_buf(s, h);
        if (buf >= 0 && eng_vote_hist_bal(s, h) < bal && !(decided && eng_vid_eq(val, dv))) {
            eng_put_value(e, instance, val, eng_slot_value(e, s, (uint32_t)buf));
        }
    }
}

/* 1b(b) for one instance the slot s holds (or none: an empty report). */
static void
eng_put_1b(struct bpc_engine *e, const struct eng_slot *s, uint64_t instance)
{
    uint64_t hb[BPC_HISTORY_MAX] = {0};
    struct bpc_vid hv[BPC_HISTORY_MAX];
    memset(hv, 0, sizeof(hv)); /* filled up to hn; zeroed for the compiler's sake */
    uint32_t hn = 0;
    if (s == NULL) {
        eng_put_report(e, instance, 0, NULL, 0, NULL, NULL, 0); /* no history */
        return;
    }
    uint64_t bal = eng_bal(e);
    const struct bpc_vid *mv = eng_vote_max_vval(s);
    const struct bpc_vid *dv = eng_vote_dec_vid(s);
    uint64_t mb = eng_vote_max_vbal(s);
    bool decided = eng_vote_is_decided(s) && bal >= 2;
    if (decided) {
        mb = eng_decided_mbal(e, mb, mv, dv, &mv);
        hb[hn] = bal - 1;
        hv[hn++] = *dv;
    }
    /* Real entries below b (a 1b(b) reports earlier ballots only); one for
     * the decided value is covered by (v, b - 1). Dropping the lowest when
     * full costs liveness, never safety: entries only vouch. */
    uint32_t count = eng_vote_hist_count(s);
    for (uint32_t h = 0; h < count && hn < BPC_HISTORY_MAX; h++) {
        const struct bpc_vid *val = eng_vote_hist_val(s, h);
        if (eng_vote_hist_bal(s, h) < bal && !(decided && eng_vid_eq(val, dv))) {
            hb[hn] = eng_vote_hist_bal(s, h);
            hv[hn++] = *val;
        }
    }
    eng_hist_sort(hn, hb, hv);
    /* A 1b(b) names ballots below b: a floor found at b itself is
     * claimed as b - 1 (less, and so still true). The floor is the last
     * of at most BPC_HISTORY_MAX history records (a 1b group never grows:
     * bpc_frame_bytes_min): with a full history it takes the place of the
     * lowest entry when that lies below the floor (no value was chosen
     * there; dropping an entry costs liveness at most), else it is left
     * out. */
    uint64_t clean = eng_vote_clean(s) < bal ? eng_vote_clean(s) : bal - 1;
    if (clean > 0 && hn == BPC_HISTORY_MAX) {
        if (hb[hn - 1] < clean) {
            hn--;
        } else {
            clean = 0;
        }
    }
    eng_put_report(e, instance, mb, mv, hn, hb, hv, clean);
    eng_put_1b_values(e, s, instance);
}

/* The lowest instance this party may still hold below its 1b's coverage
 * (sent_1b_lo): nothing older than the recent-decision ring. */
static uint64_t
eng_held_bottom(const struct bpc_engine *e)
{
    uint64_t top = e->rp.sent_1b_lo;
    uint64_t ring = eng_dring_len(e);
    uint64_t lo = e->rp.asked_lo;
    return top > ring && lo < top - ring ? top - ring : lo;
}

/* Held reports for the instances in [lo, hi): the decided instances this
 * party still holds (a slot or the recent-decision ring). */
static void
eng_send_held_range(struct bpc_engine *e, uint64_t lo, uint64_t hi)
{
    for (uint64_t i = lo; i < hi; i++) {
        const struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) == i) {
            if (eng_vote_is_decided(s) || eng_slot_vote_hi(s) < eng_bal(e)) {
                eng_put_1b(e, s, i);
            }
        } else if (eng_dring_find(e, i) != NULL) {
            eng_report_decided(e, eng_dring_find(e, i));
        }
        /* Else: neither held nor recent, so nothing is reported and this
         * party is simply not among the instance's 1b senders. */
    }
    if (lo < e->rp.held_lo) {
        /* Re-checks look at more instances below nu: walk those alone. */
        eng_held_widen(e, lo, e->rp.held_lo);
        e->rp.held_lo = lo;
    }
}

/* The next chunk of the pass over the held reports: at most a window,
 * from the leader's end (asked_lo) up to the 1b's coverage (sent_1b_lo),
 * one chunk at each retransmit tick; the first goes when the 1a comes.
 * restart: begin a new pass once one has ended (only while the 1b itself
 * is being retransmitted, as the window below nu used to be). Before,
 * each retransmission sent the window below nu again and nothing older,
 * so a leader lagging by more than a window, whose ballot needed this
 * party's reports there, failed every ballot for good. A new pass needs
 * the leader's 1a naming an instance below the coverage again since the
 * last began (eng_send_1b_held), and waits 0, 1, 2, 4, ...
 * up to 64 ticks after the last ended: before, one 1a naming instance 0
 * made this party broadcast a window of reports with their values at
 * every tick for the rest of the ballot (review E8's F1: 2.5 MB a tick
 * at 32 parties, a window of 64 and 1 KB values, for a 112-byte frame). */
static void
eng_send_1b_chunk(struct bpc_engine *e, bool restart)
{
    uint64_t top = e->rp.sent_1b_lo;
    if (e->rp.held_next >= e->rp.held_end) {
        if (!restart || e->rp.asked_lo >= top) {
            return;
        }
        if (e->rp.pass_wait < e->rp.pass_gap) {
            e->rp.pass_wait++;
            return;
        }
        if (!e->rp.pass_asked) {
            return;
        }
        e->rp.pass_asked = false;
        e->rp.pass_wait = 0;
        e->rp.pass_gap =
            e->rp.pass_gap == 0 ? 1u : (e->rp.pass_gap < 64u ? 2u * e->rp.pass_gap : 64u);
        e->rp.held_next = eng_held_bottom(e);
        e->rp.held_end = top;
    }
    uint64_t lo = e->rp.held_next;
    uint64_t hi = e->rp.held_end < top ? e->rp.held_end : top;
    if (hi - lo > e->window) {
        hi = lo + e->window;
    }
    e->rp.held_next = hi > lo ? hi : e->rp.held_end;
    eng_send_held_range(e, lo, hi);
}

/* 1b(b) for all instances from nu up: explicit reports up to the highest
 * voted instance, a range record for everything above. Sent only while no
 * vote at b exists, so the reports are the state as of raising max_bal. */
void
eng_send_1b(struct bpc_engine *e)
{
    uint64_t hi = eng_voted_hi(e);
    uint64_t nu = eng_nu(e);
    uint64_t from = nu;
    if (hi != UINT64_MAX) {
        for (uint64_t i = nu; i <= hi; i++) {
            eng_put_1b(e, eng_slot_holds(e, i) ? eng_slot_at(e, i) : NULL, i);
        }
        from = hi + 1;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_1B_RANGE, nu, eng_bal(e), from - nu, NULL);
    e->rp.sent_1b_lo = nu;
    e->rp.values_lo = nu;
    e->rp.sent_1b_hi = from;
    eng_broadcast(e, &r, NULL);
    e->rp.sent_1b = true;
    /* A 1a that came before this 1b (paced mode sends the 1b at its own
     * event, after the 1a's) still gets its decided instances below nu;
     * a retransmission sends the next chunk of them. */
    eng_send_1b_chunk(e, true);
}

/* A leader starting at lo below this party's 1b coverage lags behind: add
 * 1b reports for the decided instances this party still holds in
 * [lo, sent_1b_lo), so the leader can find their safe value (the range
 * record already sent never covered them, so nothing contradicts it). At
 * once only what no 1a asked for before, and at most a window of it; the
 * rest goes with the pass, a window per retransmit tick: a frame of 1a
 * records naming ever lower instances makes this party send each
 * instance at most once, never a window per record. */
void
eng_send_1b_held(struct bpc_engine *e, uint64_t lo)
{
    uint64_t before = e->rp.asked_lo;
    /* Only a 1a that names an instance below this party's coverage asks
     * for a pass (before, any did: a leader that caught up and names
     * instances above nu kept drawing passes nobody asked for; review
     * G8). */
    e->rp.pass_asked = lo < (e->rp.sent_1b ? e->rp.sent_1b_lo : eng_nu(e)) || e->rp.pass_asked;
    if (lo >= before) {
        return;
    }
    e->rp.asked_lo = lo; /* answered when the 1b goes out, if not yet */
    uint64_t top = e->rp.sent_1b_lo;
    if (!e->rp.sent_1b || lo >= top) {
        return;
    }
    uint64_t bottom = eng_held_bottom(e);
    uint64_t hi = before < top ? before : top;
    if (hi <= bottom) {
        return; /* nothing new is held */
    }
    uint64_t end = hi - bottom > e->window ? bottom + e->window : hi;
    /* The pass goes on above what this sends, up to the coverage. */
    e->rp.held_next = end;
    e->rp.held_end = top;
    e->rp.pass_asked = false;
    eng_send_held_range(e, bottom, end);
}

/* Once this party voted at b its 1b is not sent again, yet the leader
 * may still lack the bytes of a value it must propose: a Byzantine
 * party's VALUE for junk that came first ties with the first correct
 * reporter's (docs/ENGINE.md, "Vote reports"), and the report that lifts
 * the value above F may come without one. So each retransmit tick sends
 * again the VALUE records the 1b carried for the instances it reported
 * explicitly that have no 2a at b here yet (a correct leader proposes at
 * every one of them; a leader that does not costs a window of VALUE
 * records a tick, as its silence before the first vote cost whole 1b
 * messages). */
static void
eng_resend_values(struct bpc_engine *e)
{
    uint64_t bal = eng_bal(e);
    for (uint64_t i = e->rp.values_lo; i < e->rp.sent_1b_hi; i++) {
        const struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) != i) {
            continue; /* not held any more: decided and moved on */
        }
        int g = eng_gen_of(s, bal);
        if (g < 0 || eng_gen_2a_vid(s, (uint32_t)g) == NULL) {
            eng_put_1b_values(e, s, i);
        }
    }
}

void
eng_rp_retransmit(struct bpc_engine *e)
{
    if (!eng_voted_at_bal(e) && e->rp.sent_1b) {
        eng_send_1b(e);
    } else if (e->rp.sent_1b) {
        eng_resend_values(e);
        eng_send_1b_chunk(e, false); /* a pass under way ends, none starts */
    }
}

/* No pass over the held reports under way, asked for or spaced out: a
 * new ballot's or a restart's state. */
static void
eng_rp_no_pass(struct bpc_engine *e)
{
    e->rp.asked_lo = UINT64_MAX;
    e->rp.held_next = 0;
    e->rp.held_end = 0;
    e->rp.pass_asked = false;
    e->rp.pass_gap = 0;
    e->rp.pass_wait = 0;
}

void
eng_rp_on_join(struct bpc_engine *e)
{
    e->rp.sent_1b = false;
    e->rp.sent_1b_hi = 0;
    e->rp.held_lo = eng_nu(e);
    eng_rp_no_pass(e);
}

void
eng_rp_resume(struct bpc_engine *e)
{
    e->rp.sent_1b = true;
    /* What its 1b reported before the restart is not known, so the VALUE
     * records are resent for every instance up to its highest vote: the
     * values are the ones its 1b carried (history below bal, which a
     * party at bal cannot add to, and decisions), still only while no 2a
     * at bal is here. Before, none were, and a leader whose
     * fetch a Byzantine VALUE took first waited for its ballot to fail. */
    uint64_t hi = eng_voted_hi(e);
    e->rp.values_lo = eng_nu(e);
    e->rp.sent_1b_hi = hi == UINT64_MAX ? e->rp.values_lo : hi + 1;
    eng_rp_no_pass(e);
}
