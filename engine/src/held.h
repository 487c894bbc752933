/*
 * held.h - the held 2a values (held.c, the instance module's): which
 * slots hold a 2a at the current ballot that this party could not vote
 * for yet, and why, so that a re-check looks at those alone and only when
 * something they wait for changed (docs/ENGINE.md, "Held 2a values").
 */
#ifndef BPC_HELD_H
#define BPC_HELD_H

#include "ballot.h"
#include "core.h"
#include "submit.h"

/* Takes the held bitmap from the layout. */
ENG_FN void eng_held_carve(struct bpc_engine *e, const struct eng_mem *m);
/* eng_try_2av examined s's 2a at bal: held for `why` (ENG_HELD_NONE: not
 * held), with its first `proven` commands proven. Held for a MAC, s
 * waits for the command the check that just ran for it stopped at
 * (eng_held_stopped), or, when its proof did not change and no check
 * ran (eng_held_same_proof), where it waited. */
ENG_FN void eng_held_note(struct bpc_engine *e, struct eng_slot *s, enum eng_held why,
                          uint32_t proven);
/* eng_cmds_check stopped at bad's command, not proven (submitter
 * UINT32_MAX: an own command, proven only by the epoch). The
 * ENG_HELD_AUTH note that follows (eng_try_2av's, at once) waits for it. */
ENG_FN void eng_held_stopped(struct bpc_engine *e, const struct eng_unproven *bad);
/* eng_try_2av found nothing held at s (the usual case: it votes, or
 * there is nothing to vote on, and s was not held). */
static inline void
eng_held_none(struct bpc_engine *e, struct eng_slot *s)
{
    if (s->v.held != ENG_HELD_NONE) {
        eng_held_note(e, s, ENG_HELD_NONE, 0);
    }
}
/* Of s's noted proof, what no applied or own command changes: the epoch
 * and the MAC kept for its first unproven command (its place changed only
 * to another command's MAC: still none for it). */
static inline bool
eng_held_proof_cmds_kept(const struct bpc_engine *e, const struct eng_slot *s)
{
    if (s->v.held_epoch != e->hd.epoch) {
        return false;
    }
    uint32_t place = s->v.held_place - 1u;
    return s->v.held_place == 0 || eng_att_stamp(e, place) == s->v.held_stamp ||
           eng_att_seq(e, place) != s->v.held_seq;
}
/* Nothing s's noted proof reads changed since its note: the above, and
 * its first unproven command is neither applied since (not applied at
 * the note) nor, an own one not submitted then, submitted since (one
 * look each, so that commands applied re-examine only the values waiting
 * for them: review E6's p5; a value stopped at a command applied before
 * its note is not examined again at every tick). */
static inline bool
eng_held_proof_kept(const struct bpc_engine *e, const struct eng_slot *s)
{
    return eng_held_proof_cmds_kept(e, s) &&
           !eng_cmd_may_prove(e, s->v.held_sub, s->v.held_seq, s->v.held_stamp != 0,
                              s->v.held_applied);
}
/* s's 2a at bal is held for a command's proof, and nothing that proof
 * reads changed since: checking its commands again would stop at the
 * same one, with the same verdict. */
static inline bool
eng_held_same_proof(const struct bpc_engine *e, const struct eng_slot *s)
{
    return s->v.held == ENG_HELD_AUTH && e->hd.bal == eng_bal(e) && eng_held_proof_kept(e, s);
}
/* Commands of s's held 2a already proven (0 when s's notes are of another
 * ballot's 2a). */
ENG_FN uint32_t eng_held_proven(const struct bpc_engine *e, const struct eng_slot *s);
/* A 1b at bal was tallied for instance (or a claim of it dropped): its
 * view changed. request: re-check (else at the next re-check). */
ENG_FN void eng_held_view(struct bpc_engine *e, uint64_t instance, bool request);
/* A range 1b changed the views at bal of the instances in [lo, hi).
 * request: re-check (it is at bal; else at the next re-check). */
ENG_FN void eng_held_range(struct bpc_engine *e, uint64_t lo, uint64_t hi, bool request);
/* Any 1b at bal arrived: re-check if the held set is not built for bal
 * or something changed that no re-check was asked for. */
ENG_FN void eng_held_report(struct bpc_engine *e, uint64_t ballot);
/* A command's proof may have changed (commands applied, own ones
 * submitted): the next retransmit tick looks at every held value, and
 * examines again those waiting for a command applied or submitted since
 * (eng_held_proof_kept). Not at once: every decision applies commands,
 * and a look at every held value per decision cost a Byzantine leader's
 * held values at every correct party (review E6's p5: 34.6 ms a decision
 * at a window of 65,536 with 32,768 held, each examined again). */
ENG_FN void eng_held_cmds(struct bpc_engine *e);
/* The retransmit tick: the look eng_held_cmds asked for. */
ENG_FN void eng_held_tick(struct bpc_engine *e);
/* A MAC a held value waits for (awaited: a new one at a place marked
 * waiting; or any, when a proof changed unseen) arrived: re-check now. Of
 * the values held for a MAC, it examines only those whose proof changed:
 * the ones waiting for that command, or all after the epoch moved. */
ENG_FN void eng_held_mac(struct bpc_engine *e, bool awaited);
/* The next re-check walks the whole window (an event fired). request:
 * re-check. */
ENG_FN void eng_held_full(struct bpc_engine *e, bool request);
/* The instances [lo, hi) entered the re-checks' range (the instances
 * below nu a lagging leader asks about grew): the next re-check that
 * looks at anything walks them (not the window). */
ENG_FN void eng_held_widen(struct bpc_engine *e, uint64_t lo, uint64_t hi);
/* nu moved: a held slot whose change waits because it was decided above
 * nu may be reachable now, so a re-check is asked for while one waits. */
ENG_FN void eng_held_nu(struct bpc_engine *e);
/* Runs a requested re-check of held 2a values and 2b conditions. */
ENG_FN void eng_recheck_pending(struct bpc_engine *e);

#endif /* BPC_HELD_H */
