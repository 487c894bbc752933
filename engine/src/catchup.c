/*
 * catchup.c - catch-up. Every retransmit tick a party announces its nu
 * (STATUS); a peer that is ahead answers with DECIDED records from its
 * held slots, the ring of recent decisions, or the decided log (a ring
 * entry restored from the store has no bytes: its claim names the DIGEST
 * value alone). A DECIDED claim is accepted from parties weighing more
 * than F (one is correct), the bytes from any claim that carries them;
 * each batch learned triggers the next request at once (pipelined).
 *
 * Owns: e->cu (whether decisions were learned from claims this step, and
 * nu at the last pipelined request). Must never: decide on claims of
 * weight F or less, let a claimed ballot reach a vote report (report.c
 * never reads it), or answer more than
 * ENG_CATCHUP_MAX instances per STATUS.
 */
#include "catchup.h"

#include "ballot.h"
#include "instance.h"
#include "outbox.h"
#include "persist.h"
#include "tally.h"
#include "window.h"

#include <string.h>

/* Catch-up from the decided log for an instance whose slot was reused.
 * DIGEST values are copied into the catch-up arena (reset per flush), as
 * the log entry may be reclaimed before the outbox is flushed. */
static bool
eng_send_decided_from_log(struct bpc_engine *e, uint32_t p, uint64_t instance)
{
    struct bpc_log_entry le;
    if (e->cfg.log == NULL || bpc_log_read(e->cfg.log, instance, &le) != 0) {
        return false;
    }
    struct bpc_vid vid;
    memset(&vid, 0, sizeof(vid));
    const uint8_t *val = NULL;
    if (le.noop) {
        vid.kind = BPC_VALUE_NOOP;
    } else {
        bpc_vid_of(&vid, le.value, le.len);
        if (vid.kind == BPC_VALUE_DIGEST) {
            uint8_t *dst = eng_cu_alloc(e, le.len);
            if (dst == NULL) {
                return false;
            }
            memcpy(dst, le.value, le.len);
            val = dst;
        }
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, 1, 0, &vid);
    eng_unicast(e, p, &r, val);
    return true;
}

void
eng_send_decided(struct bpc_engine *e, uint32_t p, uint64_t instance)
{
    const struct eng_slot *s = eng_slot_at(e, instance);
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u send DECIDED %llu to %u: held %d decided %d bytes %d\n", e->self,
            (unsigned long long)instance, p, eng_slot_instance(s) == instance,
            eng_vote_is_decided(s), eng_vote_decided_with_bytes(s));
#endif
    if (eng_slot_instance(s) != instance) {
        const struct eng_dec *d = eng_dring_find(e, instance);
        if (d != NULL && (d->vid.kind != BPC_VALUE_DIGEST || d->has_bytes)) {
            struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, d->ballot, 0, &d->vid);
            const uint8_t *val = d->vid.kind == BPC_VALUE_DIGEST
                                     ? eng_dring_bytes(e, d)
                                     : NULL; /* else the id is the value */
            eng_unicast(e, p, &r, val);
            return;
        }
        if (eng_send_decided_from_log(e, p, instance) || d == NULL) {
            return;
        }
        /* A DIGEST value whose bytes this party no longer has (its ring
         * entry came back from its store after a restart): the claim
         * names the value alone. With the bytes of any other claimant it
         * still completes the weight above F a lagging party needs. */
        struct bpc_record r =
            bpc_record_make(BPC_MSG_DECIDED, instance, d->ballot, BPC_WIRE_AUX_NO_BYTES, &d->vid);
        eng_unicast(e, p, &r, NULL);
        return;
    }
    if (!eng_vote_decided_with_bytes(s)) {
        return;
    }
    const struct bpc_vid *vid = eng_vote_dec_vid(s);
    struct bpc_record r =
        bpc_record_make(BPC_MSG_DECIDED, instance, eng_vote_dec_ballot(s), 0, vid);
    const uint8_t *val =
        vid->kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, eng_vote_dec_buf(s)) : NULL;
    eng_unicast(e, p, &r, val);
}

void
eng_on_status(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u t=%llu status from %u at %llu (my nu %llu)\n", e->self,
            (unsigned long long)e->now_ns, p, (unsigned long long)r->instance,
            (unsigned long long)eng_nu(e));
#endif
    if (r->instance >= eng_nu(e)) {
        return;
    }
    /* Held slots answer first, the log for older instances; without a log
     * a party that lags beyond what the slots hold cannot be helped. aux
     * bounds how many the requester wants. */
    uint64_t lo = r->instance;
    uint64_t want = r->aux == 0 || r->aux > ENG_CATCHUP_MAX ? ENG_CATCHUP_MAX : r->aux;
    for (uint64_t i = lo; i < eng_nu(e) && i - lo < want; i++) {
        eng_send_decided(e, p, i);
    }
}

/* DECIDED claims: more than F weight holds a correct party, whose claim is
 * true; catch-up for a party that missed the 2b quorum. */
void
eng_on_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u t=%llu DECIDED %llu from %u kind %u bytes %p\n", e->self,
            (unsigned long long)e->now_ns, (unsigned long long)r->instance, p, r->value.kind,
            (const void *)r->value_bytes);
#endif
    struct eng_slot *s = eng_slot_get(e, r->instance);
    if (s == NULL) {
        e->ctr.records_stale++;
        return;
    }
    if (r->value.kind == BPC_VALUE_DIGEST && r->value.len > e->vbytes) {
        ENG_IGNORED(e);
        return;
    }
    bpc_u128 w;
    int rc = eng_tally_claim(e, s, p, &r->value, &w);
    if (rc == 0) {
        if (eng_vote_is_decided(s) && !eng_vote_decided_with_bytes(s) && r->value_bytes != NULL &&
            eng_vid_eq(eng_vote_dec_vid(s), &r->value)) {
            eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
            eng_ps_learned(e);
        }
        return;
    }
    if (rc > 0 && w > e->faulty) {
        eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
        eng_ps_learned(e);
        e->cu.catching_up = true;
    }
}

void
eng_cu_announce(struct bpc_engine *e)
{
    struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, eng_nu(e), eng_bal(e), 0, NULL);
    eng_peers_push(e, &st, NULL);
}

void
eng_cu_pump(struct bpc_engine *e)
{
    if (!e->cu.catching_up || eng_nu(e) < e->cu.cu_req_nu + ENG_CATCHUP_MAX / 2) {
        return;
    }
    /* Pipelined catch-up: once half of the last answer is applied, ask for
     * the next stretch at once instead of waiting for the next retransmit
     * tick (paced, so answers do not pile up). */
    e->cu.catching_up = false;
    e->cu.cu_req_nu = eng_nu(e);
    struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, eng_nu(e), eng_bal(e), 0, NULL);
    for (uint32_t p = 0; p < e->n; p++) {
        if (p != e->self) {
            eng_unicast(e, p, &st, NULL);
        }
    }
}

void
eng_cu_restore(struct bpc_engine *e)
{
    e->cu.cu_req_nu = eng_nu(e);
}
