/*
 * ballot.c - the party-wide ballot: one ballot covers every undecided
 * instance. Its leader is bpc_elect_leader(cfg, digest, ballot); a party
 * moves on when its deadline passes with work pending and parties of
 * weight above F are known to be at its ballot, and joins a higher ballot
 * that parties of weight above F have reached, or on the 1a of the next
 * ballot's leader. Also the paced mode's events and the retransmit tick.
 *
 * Owns: e->bl (ballot, leader, phase flags of the 1a, events, deadlines,
 * the jitter generator, the highest ballot seen per party). Must never:
 * lower the ballot, move past BPC_BALLOT_MAX, join a ballot only a weight
 * of F or less has reached, or use the generator for anything but jitter.
 */
#include "ballot.h"

#include "catchup.h"
#include "held.h"
#include "instance.h"
#include "layout.h"
#include "outbox.h"
#include "persist.h"
#include "report.h"
#include "submit.h"
#include "tally.h"
#include "window.h"

#include <string.h>

/* Jitter only, never safety. */
static uint64_t
eng_prng_next(struct bpc_engine *e)
{
    return bpc_prng_next(&e->bl.prng);
}

static uint64_t
eng_timeout(struct bpc_engine *e)
{
    uint32_t shift = e->bl.fails < e->cfg.timeout_growth_max_shift
                         ? e->bl.fails
                         : e->cfg.timeout_growth_max_shift;
    uint64_t base = eng_ns_mul(e->cfg.ballot_timeout_ns, UINT64_C(1) << shift);
    uint64_t jitter = base / 4 ? eng_prng_next(e) % (base / 4) : 0;
    return eng_ns_add(base, jitter);
}

/* The deadline: a timeout from now. */
static void
eng_arm(struct bpc_engine *e)
{
    e->bl.idle = false;
    e->bl.deadline_ns = eng_ns_add(e->now_ns, eng_timeout(e));
}

/* Work appeared after a deadline that passed with none (eng_bl_work;
 * only fast mode's eng_timers marks one): the leader gets a whole timeout
 * for it. Before, the deadline set at that idle check stood, and a
 * command arriving within a decision's time of it failed the ballot
 * (test_light_load_keeps_its_ballot: 47 failed ballots, summed over four
 * parties, for 40 commands 130 ms apart with decisions of about 20 ms). */
void
eng_bl_rearm(struct bpc_engine *e)
{
    eng_arm(e);
}

static void
eng_send_1a(struct bpc_engine *e)
{
    struct bpc_record r = bpc_record_make(BPC_MSG_1A, eng_nu(e), e->bl.bal, 0, NULL);
    eng_broadcast(e, &r, NULL);
    e->bl.sent_1a = true;
}

/* Weight of the parties known to be at the current ballot or above (no
 * pass over the parties while none is known there: a fresh engine reads
 * no page of peer_bal). */
static bpc_u128
eng_weight_at_ballot(const struct bpc_engine *e)
{
    if (e->bl.peer_bal_top < e->bl.bal) {
        return eng_weight(e, e->self);
    }
    bpc_u128 w = 0;
    for (uint32_t q = 0; q < e->n; q++) {
        if (q == e->self || e->bl.peer_bal[q] >= e->bl.bal) {
            w += eng_weight(e, q);
        }
    }
    return w;
}

/* Weight of the parties last seen above the current ballot (the parties
 * eng_ballot_quorum sorts; none while none is known there). */
static bpc_u128
eng_weight_above_ballot(const struct bpc_engine *e)
{
    if (e->bl.peer_bal_top <= e->bl.bal) {
        return 0;
    }
    bpc_u128 w = 0;
    for (uint32_t q = 0; q < e->n; q++) {
        w += e->bl.peer_bal[q] > e->bl.bal ? eng_weight(e, q) : 0;
    }
    return w;
}

/* peer_bal[p] rises to b: p now counts at the current ballot if b
 * reaches it and it did not before, and above it if b passes it. */
static void
eng_peer_bal_raise(struct bpc_engine *e, uint32_t p, uint64_t b)
{
    if (p != e->self && e->bl.peer_bal[p] < e->bl.bal && b >= e->bl.bal) {
        bool alone = e->bl.w_at <= e->faulty;
        e->bl.w_at += eng_weight(e, p);
        if (alone && e->bl.w_at > e->faulty) {
            e->bl.company_ns = e->now_ns;
        }
    }
    if (e->bl.peer_bal[p] <= e->bl.bal && b > e->bl.bal) {
        e->bl.w_above += eng_weight(e, p);
    }
    e->bl.peer_bal[p] = b;
    if (p != e->self && b > e->bl.peer_bal_top) {
        e->bl.peer_bal_top = b;
    }
}

/* When a round that begins now started: in paced mode the last multiple
 * of the round length (the Finalize offset) on the party's clock, so
 * parties whose clocks agree run their rounds in step, as the origin's
 * parties did from one shared launch time; a party that joins a ballot or
 * hands out a decision in the middle of a round fires the events already
 * due at once and ends the round with the others. Started at its own
 * instant instead, a party that learned of a ballot late (from the
 * leader's 1a or the others' 1b, sent 200-400 ms into their rounds) kept
 * that lag for good, and every ballot it led failed: its 2av and 2b came
 * after the others' rounds had ended (bpcon-sim --mode paced, equivocate,
 * --byz-phase-us 6000000, seed 1: 6 of 20 instances 24 s after the
 * heal). Fast mode: now. */
static uint64_t
eng_round_origin(const struct bpc_engine *e)
{
    uint64_t len = e->cfg.timers.finalize_ns;
    if (!eng_paced(e) || len == 0) {
        return e->now_ns;
    }
    return e->now_ns - e->now_ns % len;
}

static void
eng_join(struct bpc_engine *e, uint64_t b)
{
    BPC_ASSERT(b > e->bl.bal);
    BPC_ASSERT(b > eng_max_bal(e));
    eng_in_on_leave(e); /* before the ballot it leaves is gone */
    e->bl.bal = b;
    eng_raise_max_bal(e, b);
    e->bl.leader = bpc_elect_leader(&e->cfg, e->digest, b);
    BPC_ASSERT(e->bl.leader >= 0);
    e->bl.sent_1a = false;
    e->bl.got_1a = false;
    e->bl.events = 0;
    e->bl.round_start_ns = eng_round_origin(e);
    eng_arm(e);
    e->bl.joined_ns = e->now_ns;
    eng_rp_on_join(e);
    eng_in_on_join(e);
    eng_tally_on_join(e, b);
    eng_sub_rewind(e); /* resend unapplied commands to the new leader */
    e->ctr.ballots_started++;
    e->bl.peer_bal[e->self] = b;
    e->bl.w_at = eng_weight_at_ballot(e);
    e->bl.w_above = eng_weight_above_ballot(e);
    if (e->bl.w_at > e->faulty) {
        e->bl.company_ns = e->now_ns;
    }
    /* Fast mode: phase 1 at once, except at the first ballot, where every
     * value is safe and a 1b can only say "no vote" (safe.c, case 0). */
    if (!eng_paced(e) && b > 1) {
        if (eng_is_leader(e)) {
            eng_send_1a(e);
        }
        eng_send_1b(e);
    }
}

/* The ballot failed: on to the next one, unless ballots are exhausted
 * (BPC_BALLOT_MAX; reachable only when more than F of the weight drags
 * parties upward): then the party stays, counted, and never wraps. */
static void
eng_next_ballot(struct bpc_engine *e)
{
    e->bl.fails++;
    e->ctr.ballots_failed++;
    if (e->bl.bal >= BPC_BALLOT_MAX) {
        e->ctr.ballot_saturated++;
        eng_arm(e);
        return;
    }
    eng_join(e, e->bl.bal + 1);
}

/* The highest ballot b* such that parties last seen at >= b* weigh more
 * than F: at least one correct party has reached b*, so joining it cannot
 * be a Byzantine drag. 0 when there is none above bal: at once while the
 * parties above bal weigh F or less (w_above). Before, every record that
 * raised a peer's ballot passed over the parties and sorted them: a
 * Byzantine peer raising its ballot by one per record (zero-weight
 * parties cost nothing against F) cost each receiver a sort per record,
 * 591 us for a frame of 21 records among 1,000 parties. */
static uint64_t
eng_ballot_quorum(struct bpc_engine *e)
{
    if (e->bl.w_above <= e->faulty) {
        return 0;
    }
    uint32_t count = 0;
    for (uint32_t q = 0; q < e->n; q++) {
        if (e->bl.peer_bal[q] > e->bl.bal) {
            e->bl.bal_scratch[count].ballot = e->bl.peer_bal[q];
            e->bl.bal_scratch[count].weight = eng_weight(e, q);
            count++;
        }
    }
    return bpc_safe_top_ballot(e->bl.bal_scratch, count, e->faulty);
}

/* A message of ballot b > bal from sender p: join the highest ballot that
 * parties of weight > F have reached (so a Byzantine minority cannot drag
 * the party upward, and a party that ran ahead is caught up with). */
static void
eng_future_note(struct bpc_engine *e, uint32_t p, uint64_t b)
{
    if (b <= e->bl.peer_bal[p]) {
        return;
    }
    eng_peer_bal_raise(e, p, b);
    uint64_t target = eng_ballot_quorum(e);
    if (target > e->bl.bal) {
        eng_join(e, target);
    }
}

void
eng_ballot_observe(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->type != BPC_MSG_DECIDED && r->ballot > e->bl.peer_bal[p] && r->ballot <= e->bl.bal) {
        eng_peer_bal_raise(e, p, r->ballot);
    }
    if (r->ballot > e->bl.bal && r->type != BPC_MSG_DECIDED) {
        if (r->type == BPC_MSG_1A && r->ballot == e->bl.bal + 1 &&
            eng_leader_other(e, r->ballot) == (int)p) {
            eng_join(e, r->ballot);
        } else {
            eng_future_note(e, p, r->ballot);
        }
    }
}

void
eng_on_1a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->ballot == e->bl.bal && eng_leader_of(e, r->ballot) == (int)p) {
        e->bl.got_1a = true;
        eng_send_1b_held(e, r->instance);
    }
}

void
eng_bl_progress(struct bpc_engine *e)
{
    e->bl.fails = 0;
    eng_arm(e);
}

void
eng_round_restart(struct bpc_engine *e)
{
    e->bl.round_start_ns = eng_round_origin(e);
    e->bl.events = 0;
}

/* ------------------------------------------------------------------------
 * Time.
 * ---------------------------------------------------------------------- */

static const uint64_t *
eng_event_offsets(const struct bpc_engine *e, enum bpc_event ev)
{
    const struct bpc_timers *t = &e->cfg.timers;
    switch (ev) {
    case BPC_EVENT_LAUNCH_1A:
        return &t->launch1a_ns;
    case BPC_EVENT_LAUNCH_1B:
        return &t->launch1b_ns;
    case BPC_EVENT_LAUNCH_2A:
        return &t->launch2a_ns;
    case BPC_EVENT_LAUNCH_2AV:
        return &t->launch2av_ns;
    case BPC_EVENT_LAUNCH_2B:
        return &t->launch2b_ns;
    case BPC_EVENT_FINALIZE:
    case BPC_EVENTS_COUNT:
        break;
    }
    return &t->finalize_ns;
}

/* The retransmit tick's period: half the ballot timeout; in paced mode a
 * round (the origin's Finalize offset), so nothing but the round's own
 * events goes out within the first round. */
static uint64_t
eng_retx_period(const struct bpc_engine *e)
{
    if (eng_paced(e) && e->cfg.timers.finalize_ns > 0) {
        return e->cfg.timers.finalize_ns;
    }
    return e->cfg.ballot_timeout_ns / 2;
}

/* Censorship. Any decision resets the deadline (and a paced round that
 * decides keeps the ballot), so a leader that decided every command but
 * one submitter's was never replaced, and that submitter waited for as
 * long as it led. Each submitter's command next in line (a peer's,
 * witnessed through its FORWARD or ATTEST, or this party's own oldest) is
 * watched, each submitter with a watch of its own; when one waits too long
 * (eng_starve_period), the party moves on as at a deadline (with company).
 * A Byzantine submitter that shows a command to the parties but never to
 * the leader makes them change ballots at its watch's period, a phase 1
 * each, never a safety matter. Before, one command was watched at a time,
 * moving on only once it was applied: such a command held every watch for
 * good, its period doubled to 512 ballot timeouts, and a censoring leader
 * was left only after that (review A9; test_stuck_command_holds_no_watch).
 *
 * Fast mode: ENG_STARVE_TICKS retransmit periods (8 ballot timeouts, 400
 * ms by default), doubling with each ballot the submitter's command made
 * the party leave, back once that command is applied; counted from the
 * later of the watch's start and the time weight above F was first known
 * at the ballot (company_ns), so the leader of a ballot the others have
 * just come to gets the whole period. Before, a restarted submitter whose
 * watch on its own command ran one tick behind the others' watch on it
 * left each ballot alone as soon as they came to it, and its command
 * waited thousands of ballot timeouts (sim run restart-watch-chase). The
 * period must exceed what a command next in line waits in a long queue;
 * a submitter forwards at most 256 commands past its oldest unapplied one
 * (the rest wait in its submission ring, unwatched), and the ring cluster
 * at up to 65536 in flight lost nothing to it (bench/RESULTS.md).
 *
 * Paced mode: ENG_STARVE_ROUNDS plus one round per party, counted from
 * the later of the watch's start and the ballot's, doubling twice at most
 * (ENG_STARVE_PACED_SHIFT). A correct leader decides one value per round
 * and its submitters take turns starting values (eng_batch_build), so a
 * command at the head of its submitter's goes into a value within one
 * round per party once the leader has it; the rounds above that cover the
 * resend to a new leader and a failed round. Counted per ballot, every
 * correct leader gets the whole period, and a run of Byzantine leaders
 * censoring a correct command costs 1, 2, then 4 periods each. The
 * doubling is for a Byzantine submitter that showed a command to some
 * parties only: it stays next in line for good, and they would leave
 * every leader each period. Before, paced mode had no watch: a Byzantine
 * leader that went on deciding other values left a correct party's
 * command out for as long as the run lasted. */
#define ENG_STARVE_TICKS 16u
#define ENG_STARVE_ROUNDS 4u
#define ENG_STARVE_PACED_SHIFT 2u

/* The watch's period after `shift` doublings. */
static uint64_t
eng_starve_period(const struct bpc_engine *e, uint32_t shift)
{
    if (eng_paced(e)) {
        shift = shift < ENG_STARVE_PACED_SHIFT ? shift : ENG_STARVE_PACED_SHIFT;
        uint64_t rounds = ((uint64_t)ENG_STARVE_ROUNDS + e->n) << shift;
        uint64_t round = eng_retx_period(e);
        return round <= UINT64_MAX / rounds ? rounds * round : UINT64_MAX;
    }
    shift = shift < e->cfg.timeout_growth_max_shift ? shift : e->cfg.timeout_growth_max_shift;
    return eng_ns_mul(eng_ns_mul(ENG_STARVE_TICKS, eng_retx_period(e)), UINT64_C(1) << shift);
}

/* Submitter s's watch: follows its command next in line and tells
 * whether that one starved (counted from ballot_ns at the earliest); with
 * fire, a starved watch doubles its period and starts again. */
static bool
eng_watch(struct bpc_engine *e, uint32_t s, uint64_t ballot_ns, bool fire)
{
    struct eng_ballot_state *bl = &e->bl;
    uint64_t q = eng_sub_in_line(e, s);
    if (q != bl->watch_q[s]) {
        if (bl->watch_q[s] != 0 && !eng_sub_waits(e, s, bl->watch_q[s])) {
            bl->watch_shift[s] = 0; /* applied */
        }
        bl->watch_q[s] = q;
        bl->watch_ns[s] = e->now_ns;
        return false;
    }
    uint64_t since = bl->watch_ns[s] > ballot_ns ? bl->watch_ns[s] : ballot_ns;
    if (q == 0 || e->now_ns - since < eng_starve_period(e, bl->watch_shift[s])) {
        return false;
    }
    if (fire) {
        if (bl->watch_shift[s] < 63u) {
            bl->watch_shift[s]++;
        }
        bl->watch_ns[s] = e->now_ns;
    }
    return true;
}

/* Does a command next in line starve? Every submitter's watch is
 * followed (fire: as eng_watch). */
static bool
eng_starved(struct bpc_engine *e, bool fire)
{
    uint64_t ballot_ns = eng_paced(e) ? e->bl.joined_ns : e->bl.company_ns;
    bool starved = false;
    for (uint32_t s = 0; s < e->n; s++) {
        starved |= eng_watch(e, s, ballot_ns, fire);
    }
    return starved;
}

/* Work that a failed ballot leaves undone: own or queued commands, a
 * witnessed command of a peer that nobody applies, an instance voted on
 * and undecided. */
static bool
eng_has_work(struct bpc_engine *e)
{
    return eng_sub_has_work(e) || eng_in_has_work(e);
}

/* Paced mode's round end. As in fast mode, the next ballot needs work and
 * company: a party whose round failed alone (lost frames) used to move on
 * every round, alone, while the others, with nothing of their own left,
 * stayed and never proposed its commands (bpcon-sim --mode paced
 * --commands 60 --crash 2@1300000 --restart 2@2000000 --loss 0.05 --dup
 * 0.05 --seed 20: one party at ballot 497, the rest at 2). */
static void
eng_finalize(struct bpc_engine *e)
{
    eng_ps_tick(e); /* paced mode's tick: an idle floor becomes durable */
    uint64_t nu = eng_nu(e);
    if (eng_slot_holds(e, nu) && eng_vote_is_decided(eng_slot_at(e, nu))) {
        return; /* eng_emit hands the decision out and starts the next round */
    }
    if (!eng_has_work(e) || e->bl.w_at <= e->faulty) {
        /* Next round under the same ballot: the range 1b still covers it. */
        eng_round_restart(e);
        return;
    }
    eng_next_ballot(e);
}

/* Paced mode's censorship watch, at the Launch1a event: once a round, at
 * its start. At the retransmit tick it could leave the ballot right after
 * the Finalize event found the round decided, and the decision then
 * waited a whole round to be handed out (it is, at the next Finalize)
 * while this party, having decided, cast no vote at the next ballot for
 * it: a heavy party's absence failed that ballot's round too. True when
 * the party moved to a new ballot, whose round starts now. */
static bool
eng_paced_watch(struct bpc_engine *e)
{
    bool company = e->bl.w_at > e->faulty;
    if (!eng_starved(e, company) || !company) {
        return false;
    }
    uint64_t bal = e->bl.bal;
    eng_next_ballot(e);
    return e->bl.bal != bal;
}

/* Fires the round's due phase events in order; true when the watch moved
 * the party to a new ballot, whose events are then due from the first. */
static bool
eng_paced_events_due(struct bpc_engine *e)
{
    for (uint32_t ev = 0; ev < BPC_EVENTS_COUNT; ev++) {
        if (e->bl.events & (1u << ev)) {
            continue;
        }
        if (e->now_ns <
            eng_ns_add(e->bl.round_start_ns, *eng_event_offsets(e, (enum bpc_event)ev))) {
            return false;
        }
        e->bl.events |= 1u << ev;
        eng_held_full(e, true); /* a vote held for the event may go now */
        switch ((enum bpc_event)ev) {
        case BPC_EVENT_LAUNCH_1A:
            if (eng_paced_watch(e)) {
                return true;
            }
            if (eng_is_leader(e) && !e->bl.sent_1a) {
                eng_send_1a(e);
            }
            break;
        case BPC_EVENT_LAUNCH_1B:
            if (!eng_sent_1b(e)) {
                eng_send_1b(e);
            }
            break;
        case BPC_EVENT_LAUNCH_2B:
            eng_in_refuse_held(e, ENG_REFUSE_EVENT); /* a 2a still held back is refused */
            break;
        case BPC_EVENT_LAUNCH_2A:
        case BPC_EVENT_LAUNCH_2AV:
            break; /* the pump and recheck run after this loop */
        case BPC_EVENT_FINALIZE:
        case BPC_EVENTS_COUNT:
            eng_finalize(e);
            return false;
        }
    }
    return false;
}

/* Paced mode: fire due phase events in order. A new ballot the watch
 * moved to starts its round now, from its first event, where the watch
 * holds (its period counts from the join): the second pass ends there or
 * at a later event. Two passes at most, not a call to itself (no
 * recursion). */
static void
eng_paced_events(struct bpc_engine *e)
{
    if (eng_paced_events_due(e)) {
        (void)eng_paced_events_due(e); /* the new ballot's round */
    }
}

/* Resends this party's current-ballot messages for undecided instances
 * and announces how far it has applied. */
static void
eng_retransmit(struct bpc_engine *e)
{
    eng_ps_tick(e);
    eng_held_tick(e);
    eng_cu_announce(e);
    eng_in_retransmit(e);
    eng_rp_retransmit(e);
    if (!eng_paced(e)) {
        eng_in_refuse_held(e, ENG_REFUSE_TICK);
    }
    /* Every party sees the unapplied commands again through their ATTESTs
     * (eng_forward, own_sent rewound by the caller), so all of them notice
     * a leader that sits on one (eng_has_work), not only this one. */
    if (eng_is_leader(e) && e->bl.sent_1a) {
        eng_send_1a(e);
    }
}

/* The retransmit tick, in both modes: resends, STATUS (catch-up), the
 * idle floor made durable, the censorship watch. */
static void
eng_retransmit_tick(struct bpc_engine *e)
{
    if (e->now_ns >= e->bl.retx_ns) {
        eng_sub_rewind(e);
        eng_retransmit(e);
        e->bl.retx_ns = eng_ns_add(e->now_ns, eng_retx_period(e));
        bool company = e->bl.w_at > e->faulty;
        if (!eng_paced(e) && eng_starved(e, company) && company) {
            eng_next_ballot(e);
        }
    }
}

void
eng_timers(struct bpc_engine *e)
{
    if (eng_paced(e)) {
        /* The round's events; and the tick, without which a party that
         * decided its next instance by digest before the 2a's bytes came
         * (or lagged) never asked for them: its round waits for that
         * decision to be handed out, so it stopped for good. */
        eng_paced_events(e);
        eng_retransmit_tick(e);
        return;
    }
    if (e->now_ns >= e->bl.deadline_ns) {
        /* Move on only with company: a party alone at its ballot waits for
         * the others instead of running ahead where no quorum follows. */
        if (eng_has_work(e) && e->bl.w_at > e->faulty) {
            eng_next_ballot(e);
        } else {
            eng_arm(e);
            e->bl.idle = true;
        }
    }
    eng_retransmit_tick(e);
}

uint64_t
eng_bl_deadline(const struct bpc_engine *e)
{
    if (eng_paced(e)) {
        for (uint32_t ev = 0; ev < BPC_EVENTS_COUNT; ev++) {
            if (!(e->bl.events & (1u << ev))) {
                uint64_t at =
                    eng_ns_add(e->bl.round_start_ns, *eng_event_offsets(e, (enum bpc_event)ev));
                return at < e->bl.retx_ns ? at : e->bl.retx_ns;
            }
        }
        return e->bl.retx_ns;
    }
    return e->bl.deadline_ns < e->bl.retx_ns ? e->bl.deadline_ns : e->bl.retx_ns;
}

void
eng_bl_start(struct bpc_engine *e)
{
    /* Read for every received record before it may be written: written
     * first (it is zero already), so a fresh page faults once (engine.c,
     * bpc_engine_start, on the replay entries). */
    memset(e->bl.peer_bal, 0, (size_t)e->n * sizeof(uint64_t));
    e->bl.retx_ns = eng_ns_add(e->now_ns, eng_retx_period(e));
    uint64_t max_bal = eng_max_bal(e);
    if (max_bal > 0) {
        /* Rejoin the ballot promised before the restart without a new 1b. */
        e->bl.bal = max_bal;
        e->bl.peer_bal[e->self] = max_bal; /* as eng_join: this party is at bal */
        e->bl.w_at = eng_weight_at_ballot(e);
        e->bl.w_above = eng_weight_above_ballot(e);
        e->bl.company_ns = e->now_ns;
        e->bl.leader = bpc_elect_leader(&e->cfg, e->digest, e->bl.bal);
        eng_rp_resume(e);
        eng_in_resume(e); /* the restored votes may include ones at bal */
        e->bl.round_start_ns = eng_round_origin(e);
        eng_arm(e);
        return;
    }
    eng_join(e, 1);
}

int
eng_leader_other(struct bpc_engine *e, uint64_t b)
{
    uint64_t bal = e->bl.bal;
    /* Ahead ballots are indexed by their distance from bal, so they never
     * share an entry (a memo indexed by ballot % 8 let a ballot below bal
     * with a generation evict one above, and each record elected again:
     * the own review's memo_thrash). */
    bool ahead = b > bal && b - bal <= ENG_2A_AHEAD;
    uint32_t k = ahead ? (uint32_t)(b - bal - 1u) : 0;
    if (ahead && e->bl.ahead[k].leader1 > 0 && e->bl.ahead[k].ballot == b) {
        return e->bl.ahead[k].leader1 - 1;
    }
    int leader = bpc_elect_leader(&e->cfg, e->digest, b);
    BPC_ASSERT(leader >= 0);
    if (ahead) {
        e->bl.ahead[k].ballot = b;
        e->bl.ahead[k].leader1 = leader + 1;
    }
    return leader;
}

void
eng_bl_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    memset(e->bl.ahead, 0, sizeof(e->bl.ahead));
    e->bl.peer_bal = m->peer_bal;
    e->bl.bal_scratch = m->bal_scratch;
    e->bl.leader = -1;
    e->bl.deadline_ns = UINT64_MAX;
    e->bl.retx_ns = UINT64_MAX;
    e->bl.watch_q = m->watch_q;
    e->bl.watch_ns = m->watch_ns;
    e->bl.watch_shift = m->watch_shift;
    bpc_prng_seed(&e->bl.prng, e->cfg.seed);
}
