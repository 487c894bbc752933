/*
 * catchup.c - catch-up. Every retransmit tick a party announces its nu
 * (STATUS); a peer that is ahead answers with DECIDED records from its
 * held slots, the ring of recent decisions, or the decided log (a ring
 * entry restored from the store has no bytes: its claim names the DIGEST
 * value alone). A DECIDED claim is accepted from parties weighing more
 * than F (one is correct), the bytes from any claim that carries them;
 * each stretch learned triggers the next request at once (pipelined: what
 * no request asked yet, bytes from peers of weight above F, claims alone
 * from the rest).
 *
 * Owns: e->cu (whether decisions were learned from claims this step, nu
 * at the last pipelined request, how far requests asked, whose turn it is
 * to send bytes). Must never: decide on claims of weight F or less, let a
 * claimed ballot reach a vote report (report.c never reads it), answer
 * more than ENG_CATCHUP_MAX instances per STATUS, or ask peers of weight
 * F or less in all for the bytes of a stretch.
 */
#include "catchup.h"

#include "ballot.h"
#include "instance.h"
#include "layout.h"
#include "outbox.h"
#include "persist.h"
#include "tally.h"
#include "window.h"

#include <string.h>

/* Catch-up from the decided log for an instance whose slot was reused.
 * A DIGEST value's bytes are read from the log again when the answer is
 * sent (eng_unicast_logged): before, they were copied into one arena of
 * 256 values shared by every peer and freed when a flush round ended, and
 * one Byzantine peer's legal requests (256 answers a step) used it up:
 * every other peer's answers from the log were dropped without a word,
 * and a correct laggard past the ring of recent decisions never caught
 * up (test_catchup.c). */
static bool
eng_send_decided_from_log(struct bpc_engine *e, uint32_t p, uint64_t instance)
{
    struct bpc_log_entry le;
    const uint8_t *id = NULL;
    if (e->cfg.log == NULL || eng_log_read(e->cfg.log, instance, &le, &id) != 0) {
        return false;
    }
    struct bpc_vid vid;
    memset(&vid, 0, sizeof(vid));
    if (le.noop) {
        vid.kind = BPC_VALUE_NOOP;
    } else if (le.len > e->vbytes) {
        return false; /* no peer of this configuration takes it */
    } else if (id != NULL && le.len > BPC_VALUE_INLINE_MAX) {
        /* The identity kept when the engine appended it: before, every
         * answer from the log hashed the value again, so one peer's
         * STATUS records (1,000 answers a millisecond) kept a correct
         * party's engine thread busy (a review's logamp, 1 KB values). */
        vid.kind = BPC_VALUE_DIGEST;
        vid.len = (uint16_t)le.len;
        memcpy(vid.id, id, BPC_DIGEST_BYTES);
    } else {
        bpc_vid_of(&vid, le.value, le.len);
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, 1, 0, &vid);
    if (vid.kind == BPC_VALUE_DIGEST) {
        eng_unicast_logged(e, p, &r, le.value);
    } else {
        eng_unicast(e, p, &r, NULL);
    }
    return true;
}

/* A DECIDED claim naming a DIGEST value without its bytes. */
static void
eng_send_claim(struct bpc_engine *e, uint32_t p, uint64_t instance, uint64_t ballot,
               const struct bpc_vid *vid)
{
    struct bpc_record r =
        bpc_record_make(BPC_MSG_DECIDED, instance, ballot, BPC_WIRE_AUX_NO_BYTES, vid);
    eng_unicast(e, p, &r, NULL);
}

/* May p get one more DECIDED answer in this window (between two
 * completed flush rounds: a step, unless tx buffers ran out)? Its share
 * (eng_answer_share) always; beyond it, up to the two stretches an honest
 * requester asks for in a step (its STATUS announce and one pipelined
 * request) while all peers' answers and the shares others have not used
 * stay within eng_answer_half. Before, every STATUS record was answered
 * with up to ENG_CATCHUP_MAX records with their bytes: a Byzantine
 * party's frame of STATUS records made each correct party send about
 * 65,000 records (a review's `statusflood`: 52.1 M records sent for
 * 3.97 M received). Then two stretches per peer per step, in a unicast
 * list with room for four: a few Byzantine parties' answers filled it and
 * a correct laggard's were dropped every step (test_catchup.c). What goes
 * unanswered is asked again at the next tick. */
static bool
eng_answer_ok(struct bpc_engine *e, uint32_t p)
{
    struct eng_catchup_state *cu = &e->cu;
    /* Paced in time: one answer every ENG_ANSWER_NS, ENG_ANSWER_BURST at
     * once (a virtual scheduling time per peer, answer_tat: zeroed storage
     * is a full burst). */
    uint64_t tau = (uint64_t)(ENG_ANSWER_BURST - 1u) * ENG_ANSWER_NS;
    if (cu->answer_tat[p] > eng_ns_add(e->now_ns, tau)) {
        return false;
    }
    uint64_t win = eng_ob_rounds_done(e) + 1u; /* + 1: zeroed storage is no window */
    if (cu->answer_win != win) {
        cu->answer_win = win;
        cu->win_total = 0;
        cu->win_shared = 0;
    }
    if (cu->answer_step[p] != win) {
        cu->answer_step[p] = win;
        cu->answered[p] = 0;
    }
    uint32_t share = eng_answer_share(e->n);
    uint32_t peers = e->n > 1 ? e->n - 1 : 1;
    bool ok = cu->answered[p] < share ||
              (cu->answered[p] < 2 * ENG_CATCHUP_MAX &&
               cu->win_total + (peers * share - cu->win_shared) < eng_answer_half(e->n));
    if (!ok) {
        return false;
    }
    cu->win_shared += cu->answered[p] < share ? 1u : 0u;
    cu->answered[p]++;
    cu->win_total++;
    uint64_t tat = cu->answer_tat[p] > e->now_ns ? cu->answer_tat[p] : e->now_ns;
    cu->answer_tat[p] = eng_ns_add(tat, ENG_ANSWER_NS);
    return true;
}

bool
eng_send_decided(struct bpc_engine *e, uint32_t p, uint64_t instance, bool bytes)
{
    if (!eng_answer_ok(e, p)) {
        ENG_IGNORED(e);
        return false;
    }
    const struct eng_slot *s = eng_slot_at(e, instance);
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u send DECIDED %llu to %u: held %d decided %d bytes %d\n", e->self,
            (unsigned long long)instance, p, eng_slot_instance(s) == instance,
            eng_vote_is_decided(s), eng_vote_decided_with_bytes(s));
#endif
    if (eng_slot_instance(s) != instance) {
        const struct eng_dec *d = eng_dring_find(e, instance);
        if (d != NULL && d->vid.kind == BPC_VALUE_DIGEST && (!bytes || !d->has_bytes)) {
            /* Asked for the claim alone, or the bytes are gone: a ring
             * entry that came back from the store after a restart. With
             * the bytes of any other claimant it still completes the
             * weight above F a lagging party needs. The log, when it
             * reaches back, has them. */
            if (!bytes || !eng_send_decided_from_log(e, p, instance)) {
                eng_send_claim(e, p, instance, d->ballot, &d->vid);
            }
            return true;
        }
        if (d != NULL) {
            struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, d->ballot, 0, &d->vid);
            const uint8_t *val = d->vid.kind == BPC_VALUE_DIGEST
                                     ? eng_dring_bytes(e, d)
                                     : NULL; /* else the id is the value */
            eng_unicast(e, p, &r, val);
            return true;
        }
        eng_send_decided_from_log(e, p, instance);
        return true;
    }
    if (!eng_vote_is_decided(s)) {
        return true;
    }
    const struct bpc_vid *vid = eng_vote_dec_vid(s);
    if (vid->kind == BPC_VALUE_DIGEST && (!bytes || !eng_vote_decided_with_bytes(s))) {
        if (!bytes) {
            eng_send_claim(e, p, instance, eng_vote_dec_ballot(s), vid);
        }
        return true;
    }
    struct bpc_record r =
        bpc_record_make(BPC_MSG_DECIDED, instance, eng_vote_dec_ballot(s), 0, vid);
    const uint8_t *val =
        vid->kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, eng_vote_dec_buf(s)) : NULL;
    eng_unicast(e, p, &r, val);
    return true;
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
     * bounds how many the requester wants, and may ask for claims alone. */
    uint64_t lo = r->instance;
    uint64_t asked = r->aux & BPC_WIRE_STATUS_COUNT;
    uint64_t want = asked == 0 || asked > ENG_CATCHUP_MAX ? ENG_CATCHUP_MAX : asked;
    bool bytes = (r->aux & BPC_WIRE_STATUS_CLAIMS_ONLY) == 0;
    for (uint64_t i = lo; i < eng_nu(e) && i - lo < want; i++) {
        if (!eng_send_decided(e, p, i, bytes)) {
            return; /* p's answers are used up for now: the rest would be too */
        }
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
    bool counted = eng_tally_claim(e, s, p, &r->value, &w);
    if (counted && w > e->faulty) {
        /* Only a claim that decided the instance or brought its bytes asks
         * for a persist batch and more catch-up. Before, each new sender's
         * claim on an instance claims had already decided did, zero-weight
         * ones included: a persist batch (an fsync) per frame (review E8's
         * F2). */
        bool had = eng_vote_is_decided(s);
        bool bytes = had && eng_vote_decided_with_bytes(s);
        eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
        if (!had || (!bytes && eng_vote_decided_with_bytes(s))) {
            eng_ps_learned(e);
            e->cu.catching_up = true;
        }
        return;
    }
    if (r->value_bytes == NULL) {
        return;
    }
    /* A claim that decides nothing may still bring bytes: those of a value
     * decided here by digest alone, or of one whose deciding claims may
     * come without them (a pipelined request asks only some peers for
     * bytes). */
    if (!eng_vote_is_decided(s)) {
        eng_keep_claim_bytes(e, s, &r->value, r->value_bytes, counted);
    } else if (!eng_vote_decided_with_bytes(s) && eng_vid_eq(eng_vote_dec_vid(s), &r->value)) {
        eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
        eng_ps_learned(e);
    }
}

/* Instances a pipelined request asks for at most: ENG_CATCHUP_MAX, or the
 * window when it is smaller (claims above it would find no slot). */
static uint64_t
eng_cu_stretch(const struct bpc_engine *e)
{
    return e->window < ENG_CATCHUP_MAX ? e->window : ENG_CATCHUP_MAX;
}

void
eng_cu_announce(struct bpc_engine *e)
{
    /* Every peer answers with bytes: the fallback for whatever the
     * pipelined requests missed (lost answers, a peer that sent no bytes). */
    /* What it asks is a stretch (the window, when smaller), and so is how
     * far the pipelined requests count as asked: announcing
     * ENG_CATCHUP_MAX put that mark past everything a window of 64 or less
     * lets them ask, so a lagging party learned at most a window per tick
     * and, behind a quorum deciding faster, fell behind for good (and each
     * peer answered 128 records of which the window held half). */
    uint64_t size = eng_cu_stretch(e);
    struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, eng_nu(e), eng_bal(e), size, NULL);
    eng_peers_push(e, &st, NULL);
    e->cu.asked_hi = eng_nu(e) + size;
    eng_tally_claims_retry(e, eng_nu(e), eng_nu(e) + size);
}

void
eng_cu_pump(struct bpc_engine *e)
{
    uint64_t nu = eng_nu(e);
    uint64_t size = eng_cu_stretch(e);
    if (!e->cu.catching_up || nu < e->cu.cu_req_nu + size / 2) {
        return;
    }
    /* Pipelined catch-up: once half of the last stretch is applied, ask
     * for more at once instead of waiting for the next retransmit tick.
     * Only what no request asked for yet (the answers to the last one are
     * on their way), at most two stretches ahead of nu and inside the
     * window; claims from every peer (the weight above F), the bytes of
     * DIGEST values from peers of weight above F, others each time.
     * Before, every request asked every peer for bytes from nu, so each
     * instance came twice from each peer with its bytes: in the ring
     * cluster at 4096 commands of 512 bytes in flight with a 1024-instance
     * window, answers to a lagging party were most of the bytes sent
     * (bench/RESULTS.md). */
    uint64_t from = e->cu.asked_hi > nu ? e->cu.asked_hi : nu;
    uint64_t end = nu + (e->window < 2 * size ? e->window : 2 * size);
    end = end < from + size ? end : from + size;
    e->cu.catching_up = false;
    e->cu.cu_req_nu = nu;
    if (from >= end) {
        return;
    }
    e->cu.asked_hi = end;
    /* Bytes from the peers next in turn, until their weight exceeds F (so
     * one of them is correct), then claims alone from the rest. */
    uint32_t first = (e->cu.bytes_from + 1u) % e->n;
    uint32_t span = 0; /* peers, from `first` on, asked for bytes (self counts) */
    bpc_u128 w = 0;
    while (span < e->n && w <= e->faulty) {
        uint32_t q = (first + span) % e->n;
        w += q == e->self ? 0 : eng_weight(e, q);
        span++;
    }
    e->cu.bytes_from = (first + span - 1u) % e->n;
    for (uint32_t p = 0; p < e->n; p++) {
        if (p != e->self) {
            bool bytes = (p + e->n - first) % e->n < span;
            uint64_t aux = (end - from) | (bytes ? 0 : BPC_WIRE_STATUS_CLAIMS_ONLY);
            struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, from, eng_bal(e), aux, NULL);
            eng_unicast(e, p, &st, NULL);
        }
    }
}

void
eng_cu_carve(struct bpc_engine *e, const struct eng_mem *m)
{
    e->cu.answer_step = m->answer_step;
    e->cu.answered = m->answered;
    e->cu.answer_tat = m->answer_tat;
}

void
eng_cu_restore(struct bpc_engine *e)
{
    e->cu.cu_req_nu = eng_nu(e);
}
