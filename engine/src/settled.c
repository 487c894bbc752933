/*
 * settled.c - the instance module's settled records (its state is
 * instance.c's): which received votes could change nothing but counters,
 * for engine.c's check of a frame (before its tag, within a bound) and
 * runs.c's before a run's digest (docs/ENGINE.md, "Settled frames").
 *
 * Owns: nothing of its own. Must never: call a record settled that could
 * change a tally this party reads, or hash anything.
 */
#include "instance.h"

#include "ballot.h"
#include "window.h"

/*
 * A record whose application could change nothing but counters (engine.c
 * drops a frame of them before checking its tag, which a forger cannot
 * exploit: the frame is dropped either way):
 *  - a 2b for the value this party decided, in a slot that still holds
 *    the instance: eng_decide would see the same value (a 2b carries no
 *    bytes), and nothing reads a decided slot's 2b tallies;
 *  - a 2av at a ballot at or below this party's own 2b (maxVBal), in a
 *    slot decided or whose generation at that ballot holds a 2a: the 2av
 *    tally of such a generation only ever triggers eng_try_2b, which needs
 *    maxVBal below the ballot (without the 2a, eng_tally_keep also reads
 *    it to pick the 2b value the 2b tally keeps room for: review A8, F2);
 *  - a run of votes (VOTES) each of whose instances is settled so for
 *    any value the run could be credited with: for a run of 2av, maxVBal
 *    at or above the ballot; for a run of 2b, a decided slot whose 2a at
 *    the run's ballot names the decided value (runs.c credits a run only
 *    with those 2a values; a run over other values counts nothing but
 *    votes_mismatch). No digest is computed here;
 * and in all, a ballot that tells this party nothing it can use
 * (eng_bl_observed). Anything else (another value: a conflict
 * to count; a slot no longer held: the sender may lag and gets DECIDED)
 * goes the normal way.
 */
static bool
eng_vote_settled(const struct bpc_engine *e, uint8_t type, uint64_t instance, uint64_t ballot,
                 const struct bpc_vid *vid)
{
    if (!eng_slot_holds(e, instance)) {
        return false;
    }
    const struct eng_slot *s = eng_slot_at(e, instance);
    bool decided = eng_vote_is_decided(s);
    if (type == BPC_MSG_2AV) {
        if (eng_vote_max_vbal(s) < ballot) {
            return false;
        }
        if (decided) {
            return true;
        }
        /* Undecided, the 2av tally at a ballot without a 2a also picks
         * the 2b value its 2b tally keeps room for (eng_tally_keep). */
        int g = eng_gen_of(s, ballot);
        return g >= 0 && eng_gen_2a_vid(s, (uint32_t)g) != NULL;
    }
    if (!decided) {
        return false;
    }
    if (vid == NULL) { /* in a run: the value it would be credited with */
        int g = eng_gen_of(s, ballot);
        vid = g < 0 ? NULL : eng_gen_2a_vid(s, (uint32_t)g);
    }
    return vid != NULL && eng_vid_eq(eng_vote_dec_vid(s), vid);
}

bool
eng_record_settled(const struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (!eng_bl_observed(e, p, r->ballot)) {
        return false;
    }
    if (r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B) {
        return eng_vote_settled(e, r->type, r->instance, r->ballot, &r->value);
    }
    if (r->type != BPC_MSG_VOTES) {
        return false;
    }
    uint8_t type = (uint8_t)(r->aux & 0xffu);
    uint64_t k = r->aux >> 8;
    if ((type != BPC_MSG_2AV && type != BPC_MSG_2B) || k == 0 || k > BPC_VOTES_RUN_MAX ||
        r->instance > UINT64_MAX - k) {
        return false;
    }
    for (uint64_t j = 0; j < k; j++) {
        if (!eng_vote_settled(e, type, r->instance + j, r->ballot, NULL)) {
            return false;
        }
    }
    return true;
}

/* Before the tag, a frame's runs may add this many instances to look at
 * beyond one per record. */
#define ENG_SETTLED_LOOKS (4u * BPC_VOTES_RUN_MAX)

int
eng_frame_settled(const struct bpc_engine *e, uint32_t p, const struct bpc_record *recs, int count,
                  int *from)
{
    uint64_t extra = 0;
    for (int k = *from; k < count; k++) {
        const struct bpc_record *r = &recs[k];
        uint64_t run = r->type == BPC_MSG_VOTES ? r->aux >> 8 : 1u;
        extra += run > 1u ? run - 1u : 0u;
        if (*from == 0 && extra > ENG_SETTLED_LOOKS) {
            *from = k; /* records before k are settled */
            return -1;
        }
        if (!eng_record_settled(e, p, r)) {
            return 0;
        }
    }
    return count > 0 ? 1 : 0;
}
