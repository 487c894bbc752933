/*
 * held.c - the held 2a values (the instance module's): a bitmap of the
 * slots whose 2a at the current ballot this party examined and could not
 * vote for yet, with why (not safe yet, a command not proven, a value
 * refused), so that a re-check of held values visits those slots alone,
 * in instance order, and of those only the ones whose inputs changed: a
 * 1b tallied for their instance, a range 1b covering them, a claim of
 * theirs dropped, a command proof (docs/ENGINE.md, "Held 2a values").
 *
 * Owns: e->hd and each slot's held notes (s->v.held*). Must never: skip
 * a held 2a whose examination could now end otherwise (vote, refuse),
 * or change what eng_try_2av and eng_try_2b decide.
 */
#include "held.h"

#include "ballot.h"
#include "instance.h"
#include "layout.h"
#include "report.h"
#include "window.h"

#include <string.h>

void
eng_held_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->hd.bits = m->held_bits;
}

void
eng_held_stopped(struct bpc_engine *e, const struct eng_unproven *bad)
{
    e->hd.stop_sub = bad->submitter;
    e->hd.stop_seq = bad->seq;
    e->hd.stop_own = bad->own;
    e->hd.stop_set = true;
}

/* A value held for a MAC waits for the command its check stopped at,
 * with the stamp of the MAC kept at that command's place then: only a
 * new MAC there for that command, that command applied (when it was not
 * at the note: its applied copy may prove it), or, an own command not
 * submitted then, its submission (or a new epoch) can change its
 * verdict. Held for the same proof (no check ran), it waits as it
 * did. */
static void
eng_held_wait_at(struct bpc_engine *e, struct eng_slot *s, enum eng_held why)
{
    if (why != ENG_HELD_AUTH) {
        s->v.held_place = 0;
        s->v.held_sub = UINT32_MAX;
        s->v.held_applied = false;
    } else if (!eng_held_same_proof(e, s)) {
        BPC_ASSERT(e->hd.stop_set); /* eng_try_2av: a failed check notes at once */
        uint32_t sub = e->hd.stop_sub;
        uint32_t place = sub != UINT32_MAX ? eng_att_place(e, sub, e->hd.stop_seq) : 0;
        s->v.held_place = sub != UINT32_MAX ? place + 1u : 0;
        s->v.held_seq = e->hd.stop_seq;
        s->v.held_sub = sub != UINT32_MAX ? sub : e->hd.stop_own ? e->self : UINT32_MAX;
        s->v.held_stamp =
            sub != UINT32_MAX ? eng_att_stamp(e, place)
            : e->hd.stop_own && !eng_cmd_may_prove(e, e->self, e->hd.stop_seq, true, false) ? 1u
                                                                                            : 0u;
        s->v.held_applied = s->v.held_sub != UINT32_MAX &&
                            eng_cmd_may_prove(e, s->v.held_sub, s->v.held_seq, false, false);
    }
    e->hd.stop_set = false;
}

/* s waits for a command whose place now keeps another command's MAC: as
 * an examination would, s waits on with the place's new stamp, and the
 * place is marked waiting again (the MAC that came cleared the mark), so
 * that s's own MAC still asks for a re-check when it comes. */
static void
eng_held_wait_on(struct bpc_engine *e, struct eng_slot *s)
{
    uint32_t place = s->v.held_place - 1u;
    if (s->v.held != ENG_HELD_AUTH || s->v.held_place == 0 ||
        eng_att_stamp(e, place) == s->v.held_stamp || eng_att_seq(e, place) == s->v.held_seq) {
        return;
    }
    s->v.held_stamp = eng_att_stamp(e, place);
    eng_att_wait(e, place);
}

void
eng_held_note(struct bpc_engine *e, struct eng_slot *s, enum eng_held why, uint32_t proven)
{
    eng_held_wait_at(e, s, why);
    s->v.held = (uint8_t)why;
    e->hd.auth_any = e->hd.auth_any || why == ENG_HELD_AUTH;
    s->v.held_view = false;
    s->v.held_proven = why == ENG_HELD_AUTH ? proven : 0;
    s->v.held_epoch = e->hd.epoch;
    if (why != ENG_HELD_NONE) {
        uint32_t k = (uint32_t)eng_slot_index(e, s);
        uint64_t bit = (uint64_t)1 << (k % 64);
        e->hd.count += (e->hd.bits[k / 64] & bit) == 0 ? 1u : 0u;
        e->hd.bits[k / 64] |= bit;
    }
}

uint32_t
eng_held_proven(const struct bpc_engine *e, const struct eng_slot *s)
{
    return e->hd.bal == eng_bal(e) && s->v.held == ENG_HELD_AUTH ? s->v.held_proven : 0;
}

/* A change a held value waits for: re-check at the next pump. */
static void
eng_held_ask(struct bpc_engine *e)
{
    e->hd.asked = true;
    eng_recheck_request(e);
}

void
eng_held_view(struct bpc_engine *e, uint64_t instance, bool request)
{
    if (!eng_slot_holds(e, instance)) {
        return;
    }
    struct eng_slot *s = eng_slot_at(e, instance);
    if (s->v.held == ENG_HELD_NONE) {
        return;
    }
    s->v.held_view = true;
    if (request) {
        uint32_t k = (uint32_t)eng_slot_index(e, s);
        if (e->hd.nmarks < ENG_HELD_MARKS) {
            e->hd.marks[e->hd.nmarks++] = k;
        } else {
            e->hd.nmarks = ENG_HELD_MARKS + 1u;
        }
        eng_held_ask(e);
    } else {
        e->hd.stale_view = true;
    }
}

/* [*rlo, *rhi) grows to the hull of itself and [lo, hi) (empty: it). */
static void
eng_held_hull(uint64_t *rlo, uint64_t *rhi, uint64_t lo, uint64_t hi)
{
    if (*rlo >= *rhi) {
        *rlo = lo;
        *rhi = hi;
    } else {
        *rlo = lo < *rlo ? lo : *rlo;
        *rhi = hi > *rhi ? hi : *rhi;
    }
}

void
eng_held_range(struct bpc_engine *e, uint64_t lo, uint64_t hi, bool request)
{
    eng_held_hull(&e->hd.range_lo, &e->hd.range_hi, lo, hi);
    if (request) {
        eng_held_ask(e);
    } else {
        e->hd.stale_view = true;
    }
}

/* Whether the re-check a 1b or an ATTEST asked for looks at anything is
 * decided at the pump (eng_held_go), after the step's other records: a
 * decision applied after the ATTEST in the same step is seen, as by the
 * walk that every such record used to ask for. */
void
eng_held_report(struct bpc_engine *e, uint64_t ballot)
{
    if (ballot == eng_bal(e)) {
        e->hd.saw_1b = true;
        eng_recheck_request(e);
    }
}

void
eng_held_cmds(struct bpc_engine *e)
{
    e->hd.cmds_due = e->hd.cmds_due || e->hd.auth_any; /* only a value held for a proof cares */
}

void
eng_held_tick(struct bpc_engine *e)
{
    if (e->hd.cmds_due) {
        e->hd.cmds_due = false;
        e->hd.visit_all = true;
        eng_held_ask(e);
    }
}

void
eng_held_mac(struct bpc_engine *e, bool awaited)
{
    if (awaited) {
        /* Not the epoch: that made every value held for a MAC examined
         * again, each failing anew and re-arming its place, so a wrong MAC
         * repeated cost every such value at every frame. Which values
         * wait for it, each one's place says: every held slot is looked
         * at (not examined). */
        e->hd.visit_all = true;
        eng_held_ask(e);
    } else if (e->hd.auth_any) {
        e->hd.saw_mac = true;
        eng_recheck_request(e);
    }
}

void
eng_held_full(struct bpc_engine *e, bool request)
{
    e->hd.full = true;
    if (request) {
        eng_held_ask(e);
    }
}

/* held_lo fell from hi to lo. It falls only within a ballot (joining one
 * resets it to nu), so [lo, hi) lies just below a range still pending and
 * their hull is their union; one left from an earlier ballot only meets
 * the whole walk of the new one (eng_recheck_pending). */
void
eng_held_widen(struct bpc_engine *e, uint64_t lo, uint64_t hi)
{
    eng_held_hull(&e->hd.walk_lo, &e->hd.walk_hi, lo, hi);
}

/* Does the re-check asked for look at anything: a change a held value
 * waits for was asked for, or a 1b at bal (an ATTEST) came while one (a
 * proof) changed that no re-check looked at yet, or the set is to be
 * built, or instances entered the range that no walk looked at yet. */
static bool
eng_held_go(struct bpc_engine *e)
{
    bool walk = e->hd.full || e->hd.walk_lo < e->hd.walk_hi;
    bool go = e->hd.asked ||
              (e->hd.saw_1b &&
               (e->hd.bal != eng_bal(e) || walk || e->hd.stale_view || e->hd.stale_auth)) ||
              (e->hd.saw_mac && e->hd.stale_auth);
    e->hd.asked = false;
    e->hd.saw_1b = false;
    e->hd.saw_mac = false;
    return go;
}

/* The held set is of another ballot: every note may be of another 2a.
 * Each held slot stays in the set, to be examined afresh (view, proof and
 * all) when a re-check may look at it: one the walk skips (decided above
 * nu, say) may be looked at later, as the walk would once it reaches it. */
static void
eng_held_reset(struct bpc_engine *e)
{
    uint32_t words = e->hd.count > 0 ? ENG_HELD_WORDS(e->window) : 0;
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t b = e->hd.bits[w]; b != 0; b &= b - 1) {
            struct eng_slot *s = eng_slot_by_index(e, w * 64u + (uint32_t)__builtin_ctzll(b));
            s->v.held_view = true;
            s->v.held_proven = 0;
            s->v.held_epoch = e->hd.epoch - 1u;
        }
    }
    e->hd.bal = eng_bal(e);
}

/* Every instance in [start, end), as before the held set (and to build
 * it at a new ballot): eng_try_2av notes each slot it holds. */
static void
eng_held_walk(struct bpc_engine *e, uint64_t start, uint64_t end)
{
    if (e->hd.bal != eng_bal(e)) {
        eng_held_reset(e);
    }
    for (uint64_t i = start; i < end; i++) {
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) != i || (s->v.decided && i >= eng_nu(e))) {
            continue;
        }
        e->ctr.recheck_visits++;
        eng_try_2av(e, s, false);
        eng_try_2b(e, s);
    }
}

/* Held slot k, if its inputs changed since it was examined: examined
 * again when the walk would look at it (its instance in [start, end)),
 * else the change is kept for when it does. One decided above nu waits
 * for nu to move (parked: eng_held_nu), not for the next 1b or ATTEST:
 * it raised stale_view (or stale_auth) at every look, so while a lower
 * instance stayed open every 1b at bal, ignored ones included, and every
 * ATTEST passed over every held slot (review E3's probe_stale: 221 us a
 * frame at a window of 65,536 with 30,000 held, against 0.12 us). */
static void
eng_held_visit(struct bpc_engine *e, uint32_t k, uint64_t start, uint64_t end)
{
    struct eng_slot *s = eng_slot_by_index(e, k);
    if (s->v.held == ENG_HELD_NONE) {
        e->hd.bits[k / 64] &= ~((uint64_t)1 << (k % 64)); /* voted, or the slot was reused */
        e->hd.count--;
        return;
    }
    e->hd.looked++;
    eng_held_wait_on(e, s);
    uint64_t i = eng_slot_instance(s);
    bool view = s->v.held_view || (i >= e->hd.range_lo && i < e->hd.range_hi);
    bool proof = s->v.held == ENG_HELD_AUTH && !eng_held_proof_kept(e, s);
    if (!view && !proof) {
        return; /* nothing it waits for changed: the same verdict */
    }
    if (i >= start && i < end && s->v.decided && i >= eng_nu(e)) {
        s->v.held_view = s->v.held_view || view; /* a proof's change: its note tells */
        e->hd.parked = true;
        return;
    }
    if (i < start) {
        /* Below the re-checks' range (below nu and held_lo): its note
         * keeps the change, and the walk that examines every instance
         * entering the range (eng_held_widen) examines it then, note or
         * not. Before, it set stale_view at every look, and every 1b at
         * bal, ignored ones included, passed over every held slot for the
         * rest of the ballot (review E6's p6: 23 us a frame at a window of
         * 16,384 with 8,193 held, against 0.29 us). */
        s->v.held_view = s->v.held_view || view;
        return;
    }
    if (i >= end) {
        /* Not looked at now: the next 1b (or, for a proof, ATTEST) asks. */
        s->v.held_view = s->v.held_view || view;
        e->hd.stale_view = e->hd.stale_view || view;
        e->hd.stale_auth = e->hd.stale_auth || proof;
        return;
    }
    e->ctr.recheck_visits++;
    eng_try_2av(e, s, !view);
    eng_try_2b(e, s);
    if (s->v.held == ENG_HELD_NONE) {
        e->hd.bits[k / 64] &= ~((uint64_t)1 << (k % 64));
        e->hd.count--;
    }
}

/* The held slots in instance order from start: slot positions from
 * start's on, then from 0 (the walk's order over [start, start + W)). */
static void
eng_held_visit_all(struct bpc_engine *e, uint64_t start, uint64_t end)
{
    if (e->hd.count == 0) {
        /* Nothing held: no pass over the W / 64 words (1,024 at window
         * 65,536; about 24,000 instructions every re-check looked at,
         * held values or not). */
        e->hd.auth_any = false;
        return;
    }
    uint32_t words = ENG_HELD_WORDS(e->window);
    uint32_t k0 = (uint32_t)(start & e->mask);
    bool auth = false;
    for (uint32_t pass = 0; pass < 2; pass++) {
        uint32_t lo = pass == 0 ? k0 : 0;
        uint32_t hi = pass == 0 ? e->window : k0;
        for (uint32_t w = lo / 64; w < words && w * 64u < hi; w++) {
            uint64_t b = e->hd.bits[w];
            if (w == lo / 64) {
                b &= ~(uint64_t)0 << (lo % 64);
            }
            if ((w + 1u) * 64u > hi) {
                b &= hi % 64 == 0 ? ~(uint64_t)0 : ((uint64_t)1 << (hi % 64)) - 1u;
            }
            for (; b != 0; b &= b - 1) {
                uint32_t k = w * 64u + (uint32_t)__builtin_ctzll(b);
                eng_held_visit(e, k, start, end);
                auth = auth || eng_slot_by_index(e, k)->v.held == ENG_HELD_AUTH;
            }
        }
    }
    e->hd.auth_any = auth; /* no held value waits for a proof: ATTESTs look at nothing */
}

/* The held slots whose view changed since the last re-check, when
 * nothing else did (eng_recheck_pending): those a range at bal covers
 * afresh ([range_lo, range_hi) within [start, end), by the bitmap's words
 * there) and those a 1b named (marks); the rest are as the last re-check
 * left them. Before, every re-check looked at every held slot: a peer of
 * any weight lowering its range by one each frame, or sending an empty
 * 1b for one held instance after another, cost a pass over them all per
 * frame (review E2's probe_held: 172 us a frame at a window of 65,536
 * with 30,000 held, against 0.12 us). */
static uint64_t
eng_held_visit_some(struct bpc_engine *e, uint64_t start, uint64_t end)
{
    uint64_t lo = e->hd.range_lo > start ? e->hd.range_lo : start;
    uint64_t hi = e->hd.range_hi < end ? e->hd.range_hi : end;
    if (hi > lo && hi - lo >= e->window) {
        eng_held_visit_all(e, start, end); /* every slot's instance is in it */
        return UINT64_MAX;
    }
    uint64_t seen = 0; /* debug builds: set bits looked at whose instance is in [lo, hi) */
    for (uint64_t i = lo; i < hi;) {
        uint32_t k = (uint32_t)(i & e->mask);
        uint32_t span = 64u - k % 64u;
        /* A window below 64 slots ends inside its one word: the ring
         * wraps there (before, the span ran past it, and the held slots
         * after the wrap were not looked at: review F's probe_wrap). */
        span = e->window - k < span ? e->window - k : span;
        span = hi - i < span ? (uint32_t)(hi - i) : span;
        uint64_t b = e->hd.bits[k / 64] >> (k % 64);
        b &= span == 64u ? ~(uint64_t)0 : ((uint64_t)1 << span) - 1u;
        for (; b != 0; b &= b - 1) {
            uint32_t at = k + (uint32_t)__builtin_ctzll(b);
            if (BPC_DEBUG) {
                uint64_t j = eng_slot_instance(eng_slot_by_index(e, at));
                seen += j >= lo && j < hi ? 1u : 0u;
            }
            eng_held_visit(e, at, start, end);
        }
        i += span;
    }
    for (uint32_t m = 0; m < e->hd.nmarks; m++) {
        uint32_t k = e->hd.marks[m];
        uint64_t i = eng_slot_instance(eng_slot_by_index(e, k));
        if ((e->hd.bits[k / 64] >> (k % 64) & 1u) != 0 && !(i >= lo && i < hi)) {
            eng_held_visit(e, k, start, end);
        }
    }
    return seen;
}

/* Debug builds: the set bits of the held slots whose instances lie in the
 * range's stretch within [start, end), which eng_held_visit_some must
 * look at (a slot whose note says nothing is held included: the look
 * clears its bit). */
static uint64_t
eng_held_in_range(const struct bpc_engine *e, uint64_t start, uint64_t end)
{
    uint64_t lo = e->hd.range_lo > start ? e->hd.range_lo : start;
    uint64_t hi = e->hd.range_hi < end ? e->hd.range_hi : end;
    uint64_t n = 0;
    for (uint32_t k = 0; BPC_DEBUG && k < e->window; k++) {
        uint64_t i = eng_slot_instance(eng_slot_by_index(e, k));
        n += (e->hd.bits[k / 64] >> (k % 64) & 1u) != 0 && i >= lo && i < hi ? 1u : 0u;
    }
    return n;
}

/* Debug builds: after eng_held_visit_some, which looked at `seen` set
 * bits whose instances lie in the range's stretch where `in_range` were
 * set before (UINT64_MAX: it looked at every held slot), no held slot is
 * left with a change no re-check will look at. */
static void
eng_held_check_some(const struct bpc_engine *e, uint64_t start, uint64_t end, uint64_t seen,
                    uint64_t in_range)
{
    BPC_DEBUG_ASSERT(seen == UINT64_MAX || seen == in_range);
    for (uint32_t k = 0; BPC_DEBUG && k < e->window; k++) {
        const struct eng_slot *s = eng_slot_by_index(e, k);
        if ((e->hd.bits[k / 64] >> (k % 64) & 1u) == 0 || s->v.held == ENG_HELD_NONE) {
            continue;
        }
        uint64_t i = eng_slot_instance(s);
        bool now = i >= start && i < end && !(s->v.decided && i >= eng_nu(e));
        BPC_DEBUG_ASSERT(!now || !s->v.held_view);
        /* a proof an applied or own command changed waits for the tick */
        BPC_DEBUG_ASSERT(!now || s->v.held != ENG_HELD_AUTH || eng_held_proof_kept(e, s) ||
                         (e->hd.cmds_due && eng_held_proof_cmds_kept(e, s)));
        bool parked = i >= start && i < end && e->hd.parked; /* decided above nu */
        BPC_DEBUG_ASSERT(now || !s->v.held_view || e->hd.stale_view || parked || i < start);
    }
}

/* A held slot decided above nu cannot be looked at (eng_held_visit keeps
 * its change in its note and sets parked); once nu passes it, it can. No
 * 1b may come in a stable ballot where every 1b has arrived, so nu's
 * moving asks, for a re-check that looks at every held slot: before,
 * such a slot's 2av never went out (the review's `--byz 3:equivocate
 * --window 16 --seed 1`: instances 24 and 26 of party 1), where the old
 * window walk on every ATTEST sent it. */
void
eng_held_nu(struct bpc_engine *e)
{
    uint64_t nu = eng_nu(e);
    if (nu != e->hd.nu_seen && (e->hd.stale_view || e->hd.stale_auth || e->hd.parked)) {
        e->hd.visit_all = e->hd.visit_all || e->hd.parked;
        eng_held_ask(e);
    }
    e->hd.nu_seen = nu;
}

/* Re-checks 2a values that did not verify yet, and 2b conditions. */
void
eng_recheck_pending(struct bpc_engine *e)
{
    if (!eng_recheck_due(e)) {
        return;
    }
    eng_recheck_clear(e);
    if (!eng_held_go(e)) {
        return;
    }
    uint64_t nu = eng_nu(e);
    /* Both modes: a paced leader proposes at its own next undecided
     * instance, which may be above this party's (it decided one this
     * party lacks); re-checked at this party's alone, that 2a got no 2av
     * and the leader's rounds failed until this party caught up. */
    uint64_t end = nu + e->window;
    uint64_t start = eng_held_lo(e) < nu ? eng_held_lo(e) : nu;
    /* Only views changed, by 1b messages at bal: the slots they name. */
    bool some = !e->hd.visit_all && !e->hd.stale_view && !e->hd.stale_auth && !e->hd.full &&
                e->hd.bal == eng_bal(e) && e->hd.walk_lo >= e->hd.walk_hi &&
                e->hd.nmarks <= ENG_HELD_MARKS;
    e->hd.stale_view = false; /* until a held slot's change must wait again */
    e->hd.stale_auth = false;
    if (e->hd.full || e->hd.bal != eng_bal(e)) {
        e->hd.full = false;
        eng_held_walk(e, start, end);
    } else if (e->hd.walk_lo < e->hd.walk_hi) {
        /* Only the instances that entered the range since the last re-check:
         * every other one was walked at bal, and the held set keeps what
         * changed for them since (docs/ENGINE.md, "Held 2a values"). */
        uint64_t lo = e->hd.walk_lo > start ? e->hd.walk_lo : start;
        uint64_t hi = e->hd.walk_hi < end ? e->hd.walk_hi : end;
        eng_held_walk(e, lo, hi > lo ? hi : lo);
    }
    /* Held slots the walk did not reach whose inputs changed (reset at a
     * new ballot, say) wait as marked: stale asks for a re-check. */
    if (some) {
        uint64_t in_range = eng_held_in_range(e, start, end);
        uint64_t seen = eng_held_visit_some(e, start, end);
        eng_held_check_some(e, start, end, seen, in_range);
    } else {
        e->hd.parked = false; /* until a held slot waits for nu again */
        eng_held_visit_all(e, start, end);
    }
    e->hd.nmarks = 0;
    e->hd.visit_all = false;
    e->hd.walk_lo = 0;
    e->hd.walk_hi = 0;
    e->hd.range_lo = 0;
    e->hd.range_hi = 0;
}
