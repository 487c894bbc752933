/*
 * test_clean.c - clean floors: a party that found a 2a safe by case (a)
 * at ballot c claims in its 1b reports that no value was or can be chosen
 * below c, and claims weighing more than F let a view ignore votes below
 * c (docs/ENGINE.md, "Clean floors").
 *
 * Goal: a Byzantine leader of weight F that pushes a voted value out of
 * the correct parties' bounded 2av histories cannot stall the instance
 * for good; claims of F or less change nothing.
 *
 * Method: the fixture of fx.h (one engine, party `me` of four, weight 1
 * each, F = 1, T = 3, stepped directly; the other three parties are the
 * test, which plays two of them as correct engines would behave under
 * message loss and the third as it likes). Must never: edit engine state,
 * or rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "internal.h"
#include "safe.h"

#include "fx.h"

/* A 2av history as a correct engine keeps it: at most BPC_HISTORY_MAX
 * values, highest ballot first. */
struct cl_hist {
    uint32_t n;
    uint64_t bal[BPC_HISTORY_MAX];
    struct bpc_vid val[BPC_HISTORY_MAX];
};

/* Adds (b, v) on top, dropping the lowest entry when full. */
static void
cl_hist_add(struct cl_hist *h, uint64_t b, const struct bpc_vid *v)
{
    uint32_t keep = h->n < BPC_HISTORY_MAX ? h->n : BPC_HISTORY_MAX - 1u;
    memmove(h->bal + 1, h->bal, keep * sizeof(h->bal[0]));
    memmove(h->val + 1, h->val, keep * sizeof(h->val[0]));
    h->bal[0] = b;
    h->val[0] = *v;
    h->n = keep + 1u;
}

/* A correct 1b at ballot b from `from` for instance 0 (maxVBal mbal with
 * mval, history h, clean floor `clean` or none), then its range record:
 * every instance from 1 on is empty. As a correct engine sends it, the
 * floor takes the place of the lowest entry of a full history. */
static void
cl_send_1b(struct fx *f, uint32_t from, uint64_t b, uint64_t mbal, const struct bpc_vid *mval,
           const struct cl_hist *h, uint64_t clean)
{
    struct bpc_record r[2 + BPC_HISTORY_MAX];
    uint32_t hn = h->n;
    if (clean > 0 && hn == BPC_HISTORY_MAX) {
        hn--;
    }
    uint32_t k = 0;
    r[k] = bpc_record_make(BPC_MSG_1B, 0, b, mbal, mbal > 0 ? mval : NULL);
    r[k++].hist_count = (uint8_t)(hn + (clean > 0 ? 1u : 0u));
    for (uint32_t j = 0; j < hn; j++) {
        r[k++] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, h->bal[j], &h->val[j]);
    }
    if (clean > 0) {
        r[k++] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, clean, NULL);
    }
    r[k++] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL);
    fx_send(f, from, r, k);
}

/* The parties of the stall: A voted 2b for v at ballot 1, Y did not, Z
 * is Byzantine and leads the four ballots after 1 that it leads. */
struct cl_run {
    struct fx *f;
    uint32_t a, y, z;
    uint8_t vb[64];
    struct bpc_vid v;
    struct cl_hist ha, hy;
    uint64_t last_z;   /* the last ballot Z led */
    uint64_t y_clean;  /* Y's floor */
    uint64_t me_floor; /* the floor me must claim */
};

/* The fixture and its parties, and ballot 1: its leader proposes v; me,
 * A and Y vote 2av. A saw the 2av quorum and voted 2b(v, 1); me and Y
 * did not (lost). */
static struct fx *
cl_stall_parties(struct cl_run *c)
{
    struct fx *f = fx_new(8, 256);
    c->f = f;
    uint32_t l1 = (uint32_t)fx_leader(f, 1);
    uint32_t o[3] = {fx_other(f, 0), fx_other(f, 1), fx_other(f, 2)};
    c->z = o[0] == l1 ? o[1] : o[0];
    c->a = UINT32_MAX;
    for (uint32_t i = 0; i < 3; i++) {
        if (o[i] != c->z) {
            *(c->a == UINT32_MAX ? &c->a : &c->y) = o[i];
        }
    }
    fx_batch(c->vb, l1, 1, 8, 0xA1, &c->v);
    fx_send1(f, l1, bpc_record_make(BPC_MSG_2A, 0, 1, 0, &c->v));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 1) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2B, 0, 1) < 0);
    memset(&c->ha, 0, sizeof(c->ha));
    memset(&c->hy, 0, sizeof(c->hy));
    cl_hist_add(&c->ha, 1, &c->v);
    cl_hist_add(&c->hy, 1, &c->v);
    return f;
}

/* cl_stall_parties, then Z leads four ballots: its 1b says "empty", the
 * views of me and Y are case (a) (me, Y and Z report no 2b), and Z sends
 * each a different value of its own (A gets none of them: its history
 * keeps (1, v)). me and Y vote 2av for theirs, so v leaves both
 * histories. */
static void
cl_stall_setup(struct cl_run *c)
{
    struct fx *f = cl_stall_parties(c);
    uint64_t b = 1;
    for (uint32_t i = 0; i < BPC_HISTORY_MAX; i++) {
        do {
            b++;
        } while (fx_leader(f, b) != (int)c->z);
        fx_send1(f, c->z, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
        cl_send_1b(f, c->y, b, 0, NULL, &c->hy, 0);
        cl_send_1b(f, c->a, b, 1, &c->v, &c->ha, 0);
        assert_int_equal(bpc_engine_ballot(f->e), b);
        uint8_t mine[64];
        uint8_t ys[64];
        struct bpc_vid mv;
        struct bpc_vid yv;
        fx_batch(mine, c->z, 10 + i, 8, (uint8_t)(0x10 + i), &mv);
        fx_batch(ys, c->z, 10 + i, 8, (uint8_t)(0x20 + i), &yv);
        uint32_t mark = f->sent_count;
        fx_send1(f, c->z, bpc_record_make(BPC_MSG_2A, 0, b, 0, &mv));
        assert_true(fx_find(f, mark, BPC_MSG_2AV, 0, b) >= 0);
        cl_hist_add(&c->hy, b, &yv);
    }
    c->last_z = b;
    c->me_floor = b;
}

/* me leads the next ballot it leads after Z's; A and Y send their 1b (Y
 * with the clean floor `y_clean`), me has a command queued. Returns
 * whether me proposed a value for instance 0 within a few retransmit
 * ticks. */
static bool
cl_stall_proposes(struct cl_run *c, uint64_t y_clean)
{
    struct fx *f = c->f;
    uint8_t cmd[24];
    memset(cmd, 0x5c, sizeof(cmd));
    assert_int_equal(bpc_submit(f->e, cmd, sizeof(cmd), NULL), 0);
    uint64_t b = c->last_z;
    do {
        b++;
    } while (fx_leader(f, b) != (int)f->me);
    uint32_t mark = f->sent_count;
    cl_send_1b(f, c->a, b, 1, &c->v, &c->ha, 0);
    cl_send_1b(f, c->y, b, 0, NULL, &c->hy, y_clean);
    assert_int_equal(bpc_engine_ballot(f->e), b);
    /* me's own 1b claims the floor it found at Z's last ballot. */
    int k = fx_find(f, mark, BPC_MSG_1B, 0, b);
    assert_true(k >= 0);
    const struct bpc_record *last = &f->sent[k + f->sent[k].hist_count];
    assert_int_equal(last->value.kind, BPC_VALUE_NONE);
    assert_int_equal(last->aux, c->me_floor);
    for (uint32_t t = 0; t < 20; t++) {
        f->now += 2 * FX_MS;
        fx_step(f, NULL, 0);
    }
    return fx_find(f, mark, BPC_MSG_2A, 0, b) >= 0;
}

/* Goal: after a Byzantine leader of weight F pushed v out of the 2av
 * histories of me and Y (four ballots of a different value of its own
 * to each), a correct leader can still propose for the instance. Its
 * view: A reports its 2b for v at ballot 1 (history (1, v)), me and Y no
 * 2b; v has 2av history weight 1 (A's), not above F, and me and Y weigh
 * 2, below T: before clean floors no value was safe at any ballot, for
 * good (a review's hist_stall: "2A for instance 0: NONE" at seven ballots
 * me led). Now me and Y claim the floor of Z's last ballot (weight 2 >
 * F), so A's vote at 1 lies below the view's floor: case (a), and me
 * proposes its command. */
static void
test_clean_floor_ends_history_stall(void **state)
{
    (void)state;
    struct cl_run c;
    cl_stall_setup(&c);
    assert_true(cl_stall_proposes(&c, c.last_z));
    fx_delete(c.f);
}

/* Goal: a clean floor claimed by weight F or less changes nothing. As
 * above, but Y claims no floor: only me's own claim (weight 1 = F), so the
 * view's floor is 0 and no value is safe (liveness is lost as before:
 * the floor needs a correct claimant beside any Byzantine one). */
static void
test_clean_floor_needs_weak_quorum(void **state)
{
    (void)state;
    struct cl_run c;
    cl_stall_setup(&c);
    assert_false(cl_stall_proposes(&c, 0));
    fx_delete(c.f);
}

/* Goal: a restart keeps the floor. As test_clean_floor_ends_history_stall,
 * but me restarts from what it persisted before it leads: its floor came
 * back from its durable record, and with Y's it still outweighs F. Fails
 * on a33c7ec, where the floor was not durable: after the restart me
 * claimed none, Y's alone weighed F, and no value was safe again (own
 * review, probe_restart_brings_stall_back: "2A for instance 0: NONE" at
 * six ballots). */
static void
test_clean_floor_survives_restart(void **state)
{
    (void)state;
    struct cl_run c;
    cl_stall_setup(&c);
    fx_restart(c.f);
    assert_true(cl_stall_proposes(&c, c.last_z));
    fx_delete(c.f);
}

/* Goal: a floor found for a 2a held for its commands is durable too. As
 * the stall above, then Z leads one more ballot, where the view of me is
 * case (a) again, and sends me a batch of A's command that A never
 * attested: me holds it (no 2av) with the floor of that ballot. me
 * restarts; its next 1b must claim that floor. Before: the floor was
 * written only with the vote state's next change, the restart went back
 * to the floor of the ballot before ("0x11 != 0x16" or the like). */
static void
test_clean_floor_of_held_2a_survives_restart(void **state)
{
    (void)state;
    struct cl_run c;
    cl_stall_setup(&c);
    struct fx *f = c.f;
    uint64_t b = c.last_z;
    do {
        b++;
    } while (fx_leader(f, b) != (int)c.z);
    fx_send1(f, c.z, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    cl_send_1b(f, c.y, b, 0, NULL, &c.hy, 0);
    cl_send_1b(f, c.a, b, 1, &c.v, &c.ha, 0);
    assert_int_equal(bpc_engine_ballot(f->e), b);
    uint8_t held[64];
    struct bpc_vid hv;
    fx_batch(held, c.a, 77, 8, 0x4e, &hv);
    uint32_t mark = f->sent_count;
    fx_send1(f, c.z, bpc_record_make(BPC_MSG_2A, 0, b, 0, &hv));
    assert_true(fx_find(f, mark, BPC_MSG_2AV, 0, b) < 0); /* held */
    fx_restart(f);
    c.last_z = b;
    c.me_floor = b;
    assert_true(cl_stall_proposes(&c, c.last_z));
    fx_delete(f);
}

/* Z's (Byzantine) 1b at b: no vote, one history entry (hb, hv). */
static void
cl_z_1b(struct fx *f, uint32_t z, uint64_t b, uint64_t hb, const struct bpc_vid *hv)
{
    struct bpc_record r[3];
    r[0] = bpc_record_make(BPC_MSG_1B, 0, b, 0, NULL);
    r[0].hist_count = 1;
    r[1] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, hb, hv);
    r[2] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL);
    fx_send(f, z, r, 3);
}

/* Goal: a party whose view is case (a) claims the floor even when the
 * value it votes for is vouched for. As the stall above, but at each of
 * eight ballots Z leads, Y (correct) votes for a fresh value of Z's by
 * case (a), while Z sends me, from the second on, Y's previous value and
 * claims a 2av for it itself: Y's entry and Z's claim weigh more than F,
 * so me votes for it as vouched. v leaves both histories, and so do the
 * values me took (from Y's). Fails on b8da1b5, where only a value that
 * was not vouched set the floor: me claimed none, Y's floor alone weighs
 * F, and "2A for instance 0: NONE" at every ballot me led (own review,
 * probe_vouch). */
static void
test_clean_floor_when_vouched(void **state)
{
    (void)state;
    struct cl_run c;
    struct fx *f = cl_stall_parties(&c);
    uint8_t yb[9][64];
    struct bpc_vid y[9];
    uint64_t zb[9];
    uint64_t b = 1;
    for (uint32_t k = 1; k <= 8; k++) {
        do {
            b++;
        } while (fx_leader(f, b) != (int)c.z);
        zb[k] = b;
        fx_batch(yb[k], c.z, 100 + k, 8, (uint8_t)(0x30 + k), &y[k]);
        if (k >= 2) {
            cl_z_1b(f, c.z, b, zb[k - 1], &y[k - 1]);
        } else {
            fx_send1(f, c.z, bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
        }
        cl_send_1b(f, c.y, b, 0, NULL, &c.hy, k >= 2 ? zb[k - 1] : 0);
        cl_send_1b(f, c.a, b, 1, &c.v, &c.ha, 0);
        assert_int_equal(bpc_engine_ballot(f->e), b);
        cl_hist_add(&c.hy, b, &y[k]);
        if (k >= 2 && k <= 5) {
            uint32_t mark = f->sent_count;
            fx_send1(f, c.z, bpc_record_make(BPC_MSG_2A, 0, b, 0, &y[k - 1]));
            assert_true(fx_find(f, mark, BPC_MSG_2AV, 0, b) >= 0);
        }
    }
    c.last_z = b;
    c.y_clean = b;
    c.me_floor = zb[5]; /* its last vote, for y[4] (vouched) */
    assert_true(cl_stall_proposes(&c, c.y_clean));
    fx_delete(f);
}

/* The pure rule (safe.c): four parties of weight 1, T = 3, F = 1, ballot
 * 10. A reports a 2b at 1 for v; X and Y report no 2b. */
static void
test_clean_floor_view(void **state)
{
    (void)state;
    const uint64_t weights[4] = {1, 1, 1, 1};
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = BPC_VALUE_NOOP;
    struct bpc_1b_report reps[3];
    memset(reps, 0, sizeof(reps));
    reps[0].sender = 0;
    reps[0].mbal = 1;
    reps[0].mval = v;
    reps[1].sender = 1;
    reps[2].sender = 2;
    struct bpc_ballot_w scratch[3];
    struct bpc_safe_view view = {.reps = reps,
                                 .reps_count = 3,
                                 .weights = weights,
                                 .threshold = 3,
                                 .faulty = 1,
                                 .ballot = 10,
                                 .clean_w = scratch};
    /* No claims: A's 2b counts, case (a) fails. */
    assert_int_equal(bpc_safe_clean_floor(reps, 3, weights, 1, scratch), 0);
    assert_false(bpc_safe_free(&view));
    /* One claim of 5 (weight F): not trusted. */
    reps[1].clean = 5;
    assert_int_equal(bpc_safe_clean_floor(reps, 3, weights, 1, scratch), 0);
    assert_false(bpc_safe_free(&view));
    /* Two claims, 5 and 3: the floor is 3 (weight 2 > F claims 3 or more);
     * A's vote at 1 lies below it. */
    reps[2].clean = 3;
    assert_int_equal(bpc_safe_clean_floor(reps, 3, weights, 1, scratch), 3);
    assert_true(bpc_safe_free(&view));
    /* A vote at the floor or above still counts: no case (a). */
    reps[0].mbal = 3;
    assert_false(bpc_safe_free(&view));
    /* A huge claim from one party does not raise the floor. */
    reps[0].mbal = 1;
    reps[1].clean = 9;
    reps[2].clean = 1;
    assert_int_equal(bpc_safe_clean_floor(reps, 3, weights, 1, scratch), 1);
    assert_false(bpc_safe_free(&view));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_floor_ends_history_stall),
        cmocka_unit_test(test_clean_floor_needs_weak_quorum),
        cmocka_unit_test(test_clean_floor_when_vouched),
        cmocka_unit_test(test_clean_floor_survives_restart),
        cmocka_unit_test(test_clean_floor_of_held_2a_survives_restart),
        cmocka_unit_test(test_clean_floor_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
