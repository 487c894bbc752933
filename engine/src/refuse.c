/*
 * refuse.c - the instance module's refusals (its state is instance.c's):
 * a follower's REFUSE of a 2a whose command is not proven its submitter's,
 * sent to the ballot's leader, and the leader's reading of one
 * (docs/ENGINE.md, "Commands are the submitter's").
 *
 * Owns: nothing of its own. Must never: refuse a 2a twice, refuse this
 * party's own 2a, or note a refusal of a command the leader did not
 * propose at that ballot.
 */
#include "instance.h"

#include "ballot.h"
#include "outbox.h"
#include "submit.h"

#include <string.h>

void
eng_refuse(struct bpc_engine *e, struct eng_slot *s, uint32_t g, const struct eng_unproven *bad)
{
    int leader = eng_leader(e);
    if (s->gen[g].a.refused == 2 || bad->submitter == UINT32_MAX || leader < 0 ||
        (uint32_t)leader == e->self) {
        return;
    }
    s->gen[g].a.refused = 2;
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = BPC_VALUE_INLINE;
    v.len = sizeof(uint64_t);
    bpc_le64_store(v.id, bad->seq);
    struct bpc_record r =
        bpc_record_make(BPC_MSG_REFUSE, eng_slot_instance(s), eng_bal(e), bad->submitter, &v);
    eng_unicast(e, (uint32_t)leader, &r, NULL);
}

void
eng_on_refuse(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    uint64_t q = bpc_le64_load(r->value.id);
    /* At this party's ballot, or one it led and has left (the refusal
     * crossed its leaving). */
    bool may = p != e->self && r->aux < e->n && r->ballot <= eng_bal(e);
    struct eng_slot *s = may ? eng_slot_get(e, r->instance) : NULL;
    int g = s != NULL && !s->v.decided ? eng_gen_find(e, s, r->ballot, false) : -1;
    /* The leader check last: a generation this party proposed in is one
     * it led, so a refusal of anything else costs no election. */
    if (g < 0 || !s->gen[g].a.proposed || !s->gen[g].a.from_queue ||
        s->gen[g].a.v2a.kind == BPC_VALUE_NOOP ||
        eng_gen_leader(e, s, (uint32_t)g) != (int)e->self) {
        ENG_IGNORED(e);
        return;
    }
    /* Only a command of the value this leader proposed there. */
    const uint8_t *bytes = eng_gen_batch(e, s, (uint32_t)g);
    struct bpc_command c;
    int off = 0;
    while ((off = eng_batch_next_cold(bytes, s->gen[g].a.v2a.len, (uint32_t)off, &c)) > 0) {
        if (c.submitter == r->aux && c.seq == q) {
            eng_lq_refused(e, c.submitter, r->ballot);
            return;
        }
    }
    ENG_IGNORED(e);
}

void
eng_in_refuse_held(struct bpc_engine *e, enum eng_refuse_when when)
{
    int leader = eng_leader(e);
    if (leader < 0 || (uint32_t)leader == e->self) {
        return;
    }
    uint64_t nu = eng_nu(e);
    uint64_t bal = eng_bal(e);
    uint64_t end = nu + e->active; /* paced too: it votes above nu (eng_recheck_pending) */
    for (uint64_t i = nu; i < end && i - nu < ENG_RETX_MAX; i++) {
        struct eng_slot *s = eng_slot_at(e, i);
        if (eng_slot_instance(s) != i || s->v.decided ||
            (s->v.hist_count > 0 && s->v.hist_bal[0] >= bal)) {
            continue;
        }
        int g = eng_gen_find(e, s, bal, false);
        if (g < 0 || !s->gen[g].a.has_2a || s->gen[g].a.refused == 2 ||
            s->gen[g].a.v2a.kind == BPC_VALUE_NOOP) {
            continue;
        }
        /* A value that is no well-formed batch is held back for that,
         * and its commands are not read (a peer's bytes). */
        const uint8_t *bytes = eng_gen_batch(e, s, (uint32_t)g);
        uint32_t len = s->gen[g].a.v2a.len;
        struct eng_unproven bad;
        if (!eng_batch_ok(e, bytes, len) ||
            eng_cmds_proven(e, bytes, len, (uint32_t)leader, &bad)) {
            continue;
        }
        if (when == ENG_REFUSE_EVENT || !bad.missing || s->gen[g].a.refused == 1) {
            eng_refuse(e, s, (uint32_t)g, &bad);
        } else if (when == ENG_REFUSE_TICK) {
            s->gen[g].a.refused = 1; /* its ATTEST may be on its way */
        }
    }
}
