/*
 * test_byzantine_state.c - one engine against scripted peers, one of
 * which lies (test_byzantine.c): what a party takes in besides votes.
 *
 * Goal: junk DECIDED claims do not keep a decision out; a restore refuses
 * a record set the engine cannot take whole (a vote past the window, an
 * impossible state, a smaller value_bytes_max); catch-up answers to a
 * frame of STATUS records are budgeted per peer.
 *
 * Method: the fixture of fx.h (one engine, party `me` of four, stepped
 * directly; the other three parties are the test). Must never: edit
 * engine state, or rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"

#include "fx.h"

/* ------------------------------------------------------------------------
 * Claims: junk values do not keep a decision out.
 * ---------------------------------------------------------------------- */

/* Others [0, count) claim instance 0 decided with junk values first,
 * first + 1, ... (one each). */
static void
claims_junk(struct fx *f, uint32_t first, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        struct bpc_vid j = fx_junk_vid(first + k);
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_DECIDED, 0, 1, 0, &j));
    }
}

/* Others [from, to) claim instance 0 decided with v. */
static void
claims_for(struct fx *f, const struct bpc_vid *v, uint32_t from, uint32_t to)
{
    for (uint32_t k = from; k < to; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_DECIDED, 0, 1, 0, v));
    }
}

/* Others [from, last) claim v one at a time, and instance 0 stays
 * undecided; other `last`'s claim decides it, as v. */
static void
claims_learned_at(struct fx *f, const struct bpc_vid *v, uint32_t from, uint32_t last)
{
    for (uint32_t k = from; k < last; k++) {
        claims_for(f, v, k, k + 1);
        assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    }
    claims_for(f, v, last, last + 1);
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    assert_true(f->dec_set & 1u);
    assert_true(bpc_vid_eq(&f->dec[0], v));
}

/* Goal: a party with nothing of its own for an instance (no vote, no 2a,
 * no decision) learns it from DECIDED claims although Byzantine parties'
 * junk claims filled its claim tally first. Thirty-one parties of weight
 * 1 (F = 10): eight claim a junk value each (the tally's eight places),
 * then correct parties claim v; the first claim for v cancels against
 * the eight junk entries (each loses weight 1, as does the claim), the
 * junk claimants repeat themselves (counted once per tally, so ignored),
 * and v is learned at its twelfth claim (11 counted > F), never before.
 * In its first form (sixteen parties, four junk claimants, when the
 * tally had four places) it failed on c627906, where every claim for v
 * was refused for room and the instance stayed undecided until the next
 * catch-up request emptied the tally, which the junk claimants could
 * fill first again. */
static void
test_claims_after_junk_fill(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(8, 256, 31);
    uint8_t bytes[64];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 20), 1, 8, 0xAA, &v);
    for (uint32_t round = 0; round < 2; round++) {
        claims_junk(f, 0, 8);
        claims_for(f, &v, 8 + round, 9 + round);
    }
    claims_learned_at(f, &v, 10, 19);
    fx_delete(f);
}

/* Goal: cancelling never makes junk win. Thirty-one parties of weight 1
 * (F = 10): ten Byzantine parties fill the tally, seven with a junk value
 * each and three with one junk value j; then twelve correct claims for v,
 * the first cancelled against the eight entries (j keeps 2), decide v
 * (11 counted > F), never j. In its first form (sixteen parties, four
 * places) it failed on c627906 (every claim for v refused for room). */
static void
test_claims_junk_never_learned(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(8, 256, 31);
    uint8_t bytes[64];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 21), 1, 8, 0xAA, &v);
    struct bpc_vid j = fx_junk_vid(9);
    claims_junk(f, 0, 7);
    claims_for(f, &j, 7, 10);
    claims_learned_at(f, &v, 10, 21);
    fx_delete(f);
}

/* Parties of claims_round's fixture: twenty-five of weight 1 (F = 8),
 * CLAIM_JUNK of them Byzantine (the first others), more than the claim
 * tally's places less one, so their junk can fill it. */
#define CLAIM_N 25u
#define CLAIM_JUNK 8u
_Static_assert(CLAIM_JUNK >= ENG_CLAIM_PLACES, "the junk can fill the claim tally");

/* One round of claims for instance 0: the CLAIM_JUNK Byzantine parties
 * claim junk values junk, junk + 1, ..., then `correct` of the correct
 * ones claim v. */
static void
claims_round(struct fx *f, const struct bpc_vid *v, uint32_t junk, uint32_t correct)
{
    claims_junk(f, junk, CLAIM_JUNK);
    claims_for(f, v, CLAIM_JUNK, CLAIM_JUNK + correct);
}

/* To the retransmit tick: the STATUS for instance 0 (claims start over). */
static void
claims_tick(struct fx *f)
{
    uint32_t mark = f->sent_count;
    for (uint32_t ms = 0; ms < 30; ms++) {
        f->now += FX_MS;
        fx_step(f, NULL, 0);
    }
    assert_true(fx_find(f, mark, BPC_MSG_STATUS, 0, 0) >= 0);
}

/* CLAIM_N parties; v, a one-command value of a correct party, in bytes.
 * A first round of claims (junk first, then the nine correct ones that
 * decided, F + 1) does not teach v; then the retransmit tick
 * (claims_tick). */
static struct fx *
claims_first_round(uint8_t bytes[64], struct bpc_vid *v)
{
    struct fx *f = fx_new_n(64, 256, CLAIM_N);
    fx_batch(bytes, fx_other(f, CLAIM_JUNK), 1, 8, 0x42, v);
    claims_round(f, v, 100, 9);
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    claims_tick(f);
    return f;
}

/* Instance 0 was learned, as v; f is freed. */
static void
claims_learned(struct fx *f, const struct bpc_vid *v)
{
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    assert_true(f->dec_set & 1u);
    assert_true(bpc_vid_eq(&f->dec[0], v));
    fx_delete(f);
}

/* Goal: junk claims that come first in every round do not keep a
 * decision out for good when the correct claimants weigh F + 1.
 * Twenty-five parties of weight 1 (T = 17, F = 8): instance 0 was
 * decided by eight Byzantine and nine correct parties, and this party
 * missed the 2b votes, so only claims can teach it (a party does not
 * resend votes on an instance it decided). In each round the eight junk
 * claims fill the tally first: the first claim for v is cancelled whole
 * against them and the other eight count F, never above it. The next
 * catch-up request (the retransmit tick's STATUS) starts the claims over
 * with v pinned, so the second round counts v exactly (9 > F) and
 * decides it. In its first form (thirteen parties, four of them
 * Byzantine, when the tally had four places) it failed on 2ee928c, where
 * each round started with an empty tally and the instance stayed
 * undecided in every round (a review's claim_cancel; the simulator's
 * crowd-decided there stalled a party for good). */
static void
test_claims_pinned_after_cancel(void **state)
{
    (void)state;
    uint8_t bytes[64];
    struct bpc_vid v;
    struct fx *f = claims_first_round(bytes, &v);
    claims_round(f, &v, 100, 9);
    claims_learned(f, &v);
}

/* Goal: a round in which only junk claims come (the correct answers to
 * that tick's request lost) does not unpin what a round of correct claims
 * pinned. As test_claims_pinned_after_cancel, but the rounds alternate:
 * junk and nine correct claims (v pinned at its end), then junk alone,
 * then junk and the correct claims again, which decide v (pinned, it is
 * counted exactly). In its first form (thirteen parties, four places) it
 * failed on 989145d: the junk-alone round cancelled its
 * own junk, started the claims over at the next tick and pinned nothing
 * (v had no weight in it), so v was never learned however many rounds
 * alternated (a review's alternating rounds). */
static void
test_claims_pins_survive_junk_round(void **state)
{
    (void)state;
    uint8_t bytes[64];
    struct bpc_vid v;
    struct fx *f = claims_first_round(bytes, &v);
    claims_round(f, &v, 200, 0);
    claims_tick(f);
    claims_round(f, &v, 300, 9);
    claims_learned(f, &v);
}

/* Goal: while the Byzantine parties that can claim are fewer than the
 * claim tally's places, correct claims add up across rounds, whatever
 * is lost in each. Thirteen parties of weight 1 (F = 4): four Byzantine
 * parties claim junk first in every round; three of the five correct
 * claims come in the first round (the other two lost), two in the next
 * one, and v is learned there (5 > F). Fails on 5e2dc49, whose tally had
 * four places: the first correct claim was cancelled against the junk,
 * the tick started the claims over (v pinned at weight 0), and each
 * round counted only its own claims, so at a loss that let fewer than all
 * five through in one round a lagging party learned nothing (the
 * simulator's byz-crowd-decided-lossy: a group of correct parties fell
 * behind the quorum for good). */
static void
test_claims_add_up_across_rounds(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(64, 256, 13);
    uint8_t bytes[64];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 4), 1, 8, 0x42, &v);
    for (uint32_t round = 0; round < 2; round++) {
        claims_junk(f, 100 * (round + 1), 4);
        claims_for(f, &v, round == 0 ? 4 : 7, round == 0 ? 7 : 9);
        if (round == 0) {
            assert_int_equal(bpc_engine_next_undecided(f->e), 0);
            claims_tick(f);
        }
    }
    claims_learned(f, &v);
}

/* A DECIDED claim for instance 0 from p naming vid, with bytes or
 * without (BPC_WIRE_AUX_NO_BYTES). */
static void
claim_from(struct fx *f, uint32_t p, const struct bpc_vid *vid, uint8_t *bytes)
{
    struct bpc_record r =
        bpc_record_make(BPC_MSG_DECIDED, 0, 1, bytes != NULL ? 0 : BPC_WIRE_AUX_NO_BYTES, vid);
    r.value_bytes = bytes;
    fx_send1(f, p, r);
}

/* Goal: a Byzantine peer's unasked claim with junk bytes does not keep
 * out the decided value's bytes. Four parties (F = 1): Z claims junk j
 * with its bytes, A claims v with its bytes, then B's claim for v without
 * bytes (a pipelined request asks only some peers for bytes) decides v,
 * and v is applied at once: A's bytes took the fetch buffer from j (as
 * much claim weight, a value nothing else names). Fails on 210912c,
 * where j's bytes kept the buffer, A's were dropped, and v was decided
 * without bytes and waited a retransmit tick (a review's fetch_junk). */
static void
test_claim_bytes_not_kept_out_by_junk(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint32_t a = fx_other(f, 0);
    uint32_t b = fx_other(f, 1);
    uint32_t z = fx_other(f, 2);
    uint8_t vb[256];
    uint8_t jb[256];
    struct bpc_vid v;
    struct bpc_vid j;
    fx_batch(vb, a, 1, 64, 0x11, &v);
    fx_batch(jb, z, 1, 64, 0x77, &j);
    assert_int_equal(v.kind, BPC_VALUE_DIGEST);
    claim_from(f, z, &j, jb);
    claim_from(f, a, &v, vb);
    claim_from(f, z, &j, jb); /* counted already: takes nothing back */
    claim_from(f, b, &v, NULL);
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    assert_true(f->dec_set & 1u);
    assert_true(bpc_vid_eq(&f->dec[0], &v));
    fx_delete(f);
}

/* ------------------------------------------------------------------------
 * Restore: a record set the engine cannot take whole is refused.
 * ---------------------------------------------------------------------- */

/* A fresh engine of f's configuration, its restore's result returned (the
 * engine stays in f->e). */
static int
restore_with(struct fx *f)
{
    bpc_engine_free(f->e);
    char err[256];
    assert_int_equal(bpc_engine_new(&f->e, &f->cfg, err, sizeof(err)), 0);
    return bpc_engine_restore(f->e, f->dur, f->dur_count);
}

/* A fresh engine of f's configuration with window_slots = window, its
 * restore's result returned (the engine stays in f->e). */
static int
restore_with_window(struct fx *f, uint32_t window)
{
    f->cfg.window_slots = window;
    return restore_with(f);
}

/* The same with value_bytes_max = max. */
static int
restore_with_value_bytes(struct fx *f, uint32_t max)
{
    f->cfg.value_bytes_max = max;
    return restore_with(f);
}

/* Goal: a vote written under a larger window is never dropped on restore.
 * The party votes 2b for v on instance 40 at ballot 1 with a window of 64;
 * restored with a window of 16 the vote lies past the window. Fails on
 * c627906, where restore returned 0 without the vote and the party's 1b
 * for ballot 2 then said every instance was empty (an under-report). */
static void
test_restore_refuses_vote_past_window(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint8_t bytes[64];
    struct bpc_vid v;
    fx_batch(bytes, (uint32_t)fx_leader(f, 1), 1, 8, 0xAB, &v);
    fx_vote(f, 40, 1, &v, bytes);
    assert_int_equal(restore_with_window(f, 16), -ERANGE);
    assert_int_equal(restore_with_window(f, 32), -ERANGE);
    /* The window it was written under (or a larger one) takes it, and the
     * 1b of the next ballot reports the vote. */
    assert_int_equal(restore_with_window(f, 64), 0);
    assert_int_equal(bpc_engine_restore_values(f->e, f->vals, f->val_count), 0);
    assert_int_equal(bpc_engine_start(f->e, f->now), 0);
    uint32_t mark = f->sent_count;
    fx_send1(f, (uint32_t)fx_leader(f, 2), bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL));
    int k = fx_find(f, mark, BPC_MSG_1B, 40, 2);
    assert_true(k >= 0);
    assert_int_equal(f->sent[k].aux, 1);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    fx_delete(f);
}

/* Goal: a party restarted with a value_bytes_max smaller than a value its
 * votes name is refused, not left stuck. The party votes 2b for a
 * 112-byte value (a DIGEST) with value_bytes_max 256; restored with 64 it
 * could hold neither that value's bytes nor its peers' values of that
 * size. Fails on 81c3a55, where restore returned 0 (the review's cluster
 * then never decided at that party again: 31,995 records ignored). */
static void
test_restore_refuses_smaller_value_bytes(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint8_t bytes[256];
    struct bpc_vid v;
    fx_batch(bytes, (uint32_t)fx_leader(f, 1), 1, 96, 0xAB, &v);
    assert_int_equal(v.kind, BPC_VALUE_DIGEST);
    assert_true(v.len > 64);
    fx_vote(f, 5, 1, &v, bytes);
    assert_int_equal(restore_with_value_bytes(f, 64), -ERANGE);
    assert_int_equal(restore_with_value_bytes(f, v.len - 1u), -ERANGE);
    assert_int_equal(restore_with_value_bytes(f, v.len), 0);
    assert_int_equal(restore_with_value_bytes(f, 256), 0);
    fx_delete(f);
}

/* Goal: restore refuses state no engine writes, and restores nothing of
 * it: records NULL, a ballot above BPC_BALLOT_MAX (the party's frames
 * would all be dropped as BAD_BALLOT), an incarnation with no room for
 * the start's increment (sequence numbers would wrap). Fails on c627906
 * (NULL: a crash; the others returned 0). */
static void
test_restore_refuses_impossible_state(void **state)
{
    (void)state;
    struct fx *f = fx_new(16, 256);
    f->dur_count = 0;
    assert_int_equal(restore_with_window(f, 16), 0); /* an engine not started */
    struct bpc_durable d = {.instance = UINT64_MAX, .max_bal = BPC_BALLOT_MAX + 1};
    assert_int_equal(bpc_engine_restore(f->e, NULL, 1), -EINVAL);
    assert_int_equal(bpc_engine_restore(f->e, &d, 1), -EINVAL);
    d.max_bal = 3;
    d.incarnation = UINT64_MAX;
    assert_int_equal(bpc_engine_restore(f->e, &d, 1), -EINVAL);
    d.incarnation = (UINT64_C(1) << 24) - 2u;
    d.floor = UINT64_MAX; /* every instance decided: no engine gets there */
    assert_int_equal(bpc_engine_restore(f->e, &d, 1), -EINVAL);
    d.floor = 0;
    /* The last incarnation a record may hold, with a promised ballot: the
     * start would raise it to one bpc_store_append refuses (before: 0,
     * then the party's first commit failed). One below is taken. */
    assert_int_equal(bpc_engine_restore(f->e, &d, 1), -EINVAL);
    d.incarnation = (UINT64_C(1) << 24) - 3u;
    /* Vote records no engine writes (before, each restored with 0, and
     * the first kept the engine's next 1b from being encoded: an abort). */
    struct bpc_vid good = fx_junk_vid(1);
    struct bpc_durable v = {.instance = 3, .max_bal = 3, .max_vbal = 2, .max_vval = good};
    struct bpc_durable bad[9];
    for (uint32_t k = 0; k < 9; k++) {
        bad[k] = v;
    }
    bad[0].max_vval.kind = 9;              /* no such kind */
    bad[1].max_vval.pad = 1;               /* a pad byte */
    bad[2].max_vval.len = 40;              /* inline past 32 bytes */
    bad[3].max_vval.kind = BPC_VALUE_NONE; /* a vote ballot without a value */
    bad[3].max_vval.len = 0;
    memset(bad[3].max_vval.id, 0, sizeof(bad[3].max_vval.id));
    bad[4].hist_count = 1; /* a history entry above the ballots */
    bad[4].hist_bal[0] = BPC_BALLOT_MAX + 1;
    bad[4].hist_val[0] = good;
    bad[5].hist_count = 2; /* a history entry without a value before another */
    bad[5].hist_bal[0] = 2;
    bad[5].hist_bal[1] = 1;
    bad[5].hist_val[1] = good;
    bad[6].decided = 1; /* a decided record without a decided value */
    bad[6].floor = 4;
    /* Votes above every promise (before, restored with 0: the next 1b
     * reported a maxVBal at or above its own ballot). */
    bad[7].max_vbal = 4;
    bad[8].hist_count = 1;
    bad[8].hist_bal[0] = 4;
    bad[8].hist_val[0] = good;
    for (uint32_t k = 0; k < 9; k++) {
        struct bpc_durable set[2] = {d, bad[k]};
        if (bpc_engine_restore(f->e, set, 2) != -EINVAL) {
            fail_msg("record %u restored", k);
        }
    }
    struct bpc_durable set[2] = {d, v};
    assert_int_equal(bpc_engine_restore(f->e, set, 2), 0);
    fx_delete(f);
}

/* ------------------------------------------------------------------------
 * Catch-up answers are budgeted per peer.
 * ---------------------------------------------------------------------- */

/* Goal: one frame of STATUS records gets at most two stretches of
 * DECIDED answers. The engine decides 200 instances on claims; then a
 * peer sends eight STATUS records, each asking for up to 128 instances.
 * Fails on c627906, which answered all of them (840 DECIDED records: a
 * Byzantine party's frames of STATUS records made every correct party
 * send a hundred times the bytes it received). */
static void
test_status_answers_budgeted(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    for (uint64_t i = 0; i < 200; i++) {
        struct bpc_vid v = fx_junk_vid((uint32_t)i);
        v.id[2] = (uint8_t)(i >> 8);
        for (uint32_t k = 0; k < 2; k++) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_DECIDED, i, 1, 0, &v));
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 200);
    struct bpc_record st[8];
    for (uint32_t k = 0; k < 8; k++) {
        st[k] = bpc_record_make(BPC_MSG_STATUS, 20u * k, 1, ENG_CATCHUP_MAX, NULL);
    }
    uint32_t mark = f->sent_count;
    fx_send(f, f->watch, st, 8);
    uint32_t answers = 0;
    for (uint32_t k = mark; k < f->sent_count; k++) {
        answers += f->sent[k].type == BPC_MSG_DECIDED ? 1u : 0u;
    }
    assert_int_equal(answers, 2 * ENG_CATCHUP_MAX);
    /* The next step answers again: an honest requester asks at the next
     * tick. */
    mark = f->sent_count;
    fx_send(f, f->watch, st, 1);
    answers = 0;
    for (uint32_t k = mark; k < f->sent_count; k++) {
        answers += f->sent[k].type == BPC_MSG_DECIDED ? 1u : 0u;
    }
    assert_int_equal(answers, ENG_CATCHUP_MAX);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_after_junk_fill),
        cmocka_unit_test(test_claims_junk_never_learned),
        cmocka_unit_test(test_claims_pinned_after_cancel),
        cmocka_unit_test(test_claims_pins_survive_junk_round),
        cmocka_unit_test(test_claims_add_up_across_rounds),
        cmocka_unit_test(test_claim_bytes_not_kept_out_by_junk),
        cmocka_unit_test(test_restore_refuses_vote_past_window),
        cmocka_unit_test(test_restore_refuses_impossible_state),
        cmocka_unit_test(test_restore_refuses_smaller_value_bytes),
        cmocka_unit_test(test_status_answers_budgeted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
