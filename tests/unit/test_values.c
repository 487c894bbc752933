/*
 * test_values.c - one engine against scripted peers (fx.h): decided values
 * stay retrievable whatever instance numbers a peer names, and the bytes of
 * the values this party voted for or decided survive evictions, new
 * ballots and restarts.
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
#include "internal.h"

#include "fx.h"

/* ------------------------------------------------------------------------
 * Decided values stay retrievable.
 * ---------------------------------------------------------------------- */

/* The engine decides instances 0..3 at ballot 2 with DIGEST values
 * (64-byte commands made from fill + i), voting for each. */
static void
fx_decide_four(struct fx *f, uint8_t bytes[4][128], struct bpc_vid v[4], uint8_t fill)
{
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    for (uint32_t i = 0; i < 4; i++) {
        fx_batch(bytes[i], leader, i + 1, 64, (uint8_t)(fill + i), &v[i]);
        assert_int_equal(v[i].kind, BPC_VALUE_DIGEST);
        fx_vote(f, i, 2, &v[i], bytes[i]);
        for (uint32_t k = 0; k < 2; k++) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, &v[i]));
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 4);
}

/* From record `mark` on, the engine sent DECIDED for each of instances
 * 0..3 naming v[i], with v[i]'s bytes. */
static void
fx_expect_decided_bytes(const struct fx *f, uint32_t mark, uint8_t bytes[4][128],
                        const struct bpc_vid v[4])
{
    for (uint32_t i = 0; i < 4; i++) {
        int k = fx_find(f, mark, BPC_MSG_DECIDED, i, 0);
        assert_true(k >= 0);
        assert_true(bpc_vid_eq(&f->sent[k].value, &v[i]));
        assert_non_null(f->sent[k].value_bytes);
        assert_memory_equal(f->sent[k].value_bytes, bytes[i], v[i].len);
    }
}

/* Goal: a peer that names instances a window ahead cannot make the bytes
 * of a decided digest value unavailable. The engine decides instances
 * 0..3 (values above the inline size), a Byzantine peer names 4..7 (all
 * four slots are reused), and a lagging peer's STATUS from instance 0 is
 * answered with DECIDED records that carry the bytes. Fails on 4307974
 * without a log: the recent-decision ring kept only the digests. */
static void
test_decided_bytes_survive_eviction(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 256);
    uint8_t bytes[4][128];
    struct bpc_vid v[4];
    fx_decide_four(f, bytes, v, 0x10);
    uint32_t evil = fx_other(f, 2);
    for (uint64_t i = 4; i < 8; i++) {
        fx_send1(f, evil, bpc_record_make(BPC_MSG_2AV, i, 2, 0, &v[0]));
    }
    uint32_t mark = f->sent_count;
    fx_send1(f, f->watch, bpc_record_make(BPC_MSG_STATUS, 0, 2, 0, NULL));
    fx_expect_decided_bytes(f, mark, bytes, v);
    fx_delete(f);
}

/* Goal: a STATUS asks for a count of answers and may ask for claims
 * alone. The engine decides instances 0..3 (DIGEST values); a peer's
 * STATUS from 1 for two claims alone gets DECIDED records for 1 and 2 that
 * name the values without bytes, and nothing else; a plain STATUS gets all
 * four with bytes. Checked with the slots held (window 8) and with the
 * slots reused, answered from the recent decisions (window 4). Fails
 * before the flag: the count read the flag and answered all four with
 * bytes. */
static void
test_status_claims_only(void **state)
{
    (void)state;
    for (uint32_t window = 4; window <= 8; window += 4) {
        struct fx *f = fx_new(window, 256);
        uint8_t bytes[4][128];
        struct bpc_vid v[4];
        fx_decide_four(f, bytes, v, 0x30);
        uint32_t leader = (uint32_t)fx_leader(f, 2);
        if (window == 4) { /* the next window's 2a records reuse every slot */
            for (uint64_t i = 4; i < 8; i++) {
                struct bpc_record a = bpc_record_make(BPC_MSG_2A, i, 2, 0, &v[0]);
                a.value_bytes = bytes[0];
                fx_send1(f, leader, a);
            }
        }
        uint32_t mark = f->sent_count;
        fx_send1(f, f->watch,
                 bpc_record_make(BPC_MSG_STATUS, 1, 2, 2 | BPC_WIRE_STATUS_CLAIMS_ONLY, NULL));
        uint32_t claims = 0;
        for (uint32_t k = mark; k < f->sent_count; k++) {
            if (f->sent[k].type == BPC_MSG_DECIDED) {
                const struct bpc_record *r = &f->sent[k];
                assert_true(r->instance == 1 || r->instance == 2);
                assert_true(bpc_vid_eq(&r->value, &v[r->instance]));
                assert_true(r->aux == BPC_WIRE_AUX_NO_BYTES);
                assert_null(r->value_bytes);
                claims++;
            }
        }
        assert_int_equal(claims, 2);
        mark = f->sent_count;
        fx_send1(f, f->watch, bpc_record_make(BPC_MSG_STATUS, 0, 2, 0, NULL));
        fx_expect_decided_bytes(f, mark, bytes, v);
        fx_delete(f);
    }
}

/* Goal: the bytes a DECIDED claim carries are not lost when that claim
 * decides nothing. Instance 0: one peer's claim with bytes (weight 1, not
 * above F), then another's without bytes decides it; instance 1: decided
 * by a 2b quorum whose 2a never came, then one claim with bytes. Both are
 * handed out. Fails before: a claim that did not decide dropped its bytes,
 * and both instances waited for a later claim with them. */
static void
test_claim_bytes_kept(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint8_t bytes[2][128];
    struct bpc_vid v[2];
    uint32_t leader = (uint32_t)fx_leader(f, 1);
    for (uint32_t i = 0; i < 2; i++) {
        fx_batch(bytes[i], leader, i + 1, 64, (uint8_t)(0x50 + i), &v[i]);
        assert_int_equal(v[i].kind, BPC_VALUE_DIGEST);
    }
    struct bpc_record with = bpc_record_make(BPC_MSG_DECIDED, 0, 1, 0, &v[0]);
    with.value_bytes = bytes[0];
    fx_send1(f, fx_other(f, 0), with);
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    fx_send1(f, fx_other(f, 1),
             bpc_record_make(BPC_MSG_DECIDED, 0, 1, BPC_WIRE_AUX_NO_BYTES, &v[0]));
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    fx_to_ballot(f, 2);
    for (uint32_t k = 0; k < 3; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 1, 2, 0, &v[1]));
    }
    /* Decided by digest, not handed out: no bytes yet. */
    assert_int_equal(bpc_engine_status(f->e, 1), BPC_STATUS_PASSED_2B);
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    with = bpc_record_make(BPC_MSG_DECIDED, 1, 1, 0, &v[1]);
    with.value_bytes = bytes[1];
    fx_send1(f, fx_other(f, 2), with);
    assert_int_equal(bpc_engine_next_undecided(f->e), 2);
    fx_delete(f);
}

/* Goal: pipelined catch-up requests ask each instance once and the bytes
 * from peers of weight above F (two of the three here), in turn. The engine (window 8) learns
 * instances from claims (0..13); each time it has learned four since its last request it asks
 * again. To one peer, over the three requests: STATUS for [4, 12), [12, 16), [16, 20) (nothing
 * asked twice, at most two windows' halves ahead), two of them without BPC_WIRE_STATUS_CLAIMS_ONLY.
 * Fails before: each request asked from the engine's nu (4, 8, 12) for
 * everything, with bytes from every peer. */
static void
test_catch_up_requests(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint8_t bytes[128];
    struct bpc_vid v;
    fx_batch(bytes, (uint32_t)fx_leader(f, 1), 1, 64, 0x70, &v);
    uint32_t mark = f->sent_count;
    for (uint64_t i = 0; i < 14; i++) {
        for (uint32_t k = 0; k < 2; k++) {
            struct bpc_record d = bpc_record_make(BPC_MSG_DECIDED, i, 1, 0, &v);
            d.value_bytes = bytes;
            fx_send1(f, fx_other(f, k), d);
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 14);
    const uint64_t from[3] = {4, 12, 16};
    const uint64_t count[3] = {8, 4, 4};
    uint32_t seen = 0;
    uint32_t with_bytes = 0;
    for (uint32_t k = mark; k < f->sent_count; k++) {
        const struct bpc_record *r = &f->sent[k];
        if (r->type != BPC_MSG_STATUS) {
            continue;
        }
        assert_true(seen < 3);
        assert_int_equal(r->instance, from[seen]);
        assert_int_equal(r->aux & BPC_WIRE_STATUS_COUNT, count[seen]);
        with_bytes += (r->aux & BPC_WIRE_STATUS_CLAIMS_ONLY) == 0;
        seen++;
    }
    assert_int_equal(seen, 3);
    assert_int_equal(with_bytes, 2);
    fx_delete(f);
}

/* An engine (window 8, values of 256 bytes) that voted 2av and 2b at
 * ballot 1 for v on instance 0: a DIGEST value of ballot 1's leader
 * (one 64-byte command), its bytes in bytes. */
static struct fx *
voted_at_one(uint8_t bytes[128], struct bpc_vid *v)
{
    struct fx *f = fx_new(8, 256);
    fx_batch(bytes, (uint32_t)fx_leader(f, 1), 1, 64, 0x5a, v);
    assert_int_equal(v->kind, BPC_VALUE_DIGEST);
    fx_vote(f, 0, 1, v, bytes);
    return f;
}

/* Goal: the bytes of a DIGEST value the engine voted for survive its
 * restart, so that it can give them to the next ballot's leader, which
 * must propose that value again. The engine votes 2av and 2b for v on
 * instance 0 at ballot 1 (not decided), restarts from what it persisted,
 * and answers ballot 2's 1a with a 1b naming v and a VALUE record with v's
 * bytes. The bytes went to persist once: one value for the two votes.
 * Fails before durable values: the restarted engine had v's identity but
 * not its bytes, and when every party restarted so, no leader could
 * propose v again and the cluster decided nothing more. */
static void
test_voted_bytes_survive_restart(void **state)
{
    (void)state;
    uint8_t bytes[128];
    struct bpc_vid v;
    struct fx *f = voted_at_one(bytes, &v);
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    assert_int_equal(f->val_count, 1);
    assert_int_equal(f->vals[0].instance, 0);
    assert_true(bpc_vid_eq(&f->vals[0].vid, &v));
    assert_memory_equal(f->val_bytes[0], bytes, v.len);
    fx_restart(f);
    uint32_t mark = f->sent_count;
    fx_send1(f, (uint32_t)fx_leader(f, 2), bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    int k = fx_find(f, mark, BPC_MSG_1B, 0, 2);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    fx_expect_value(f, mark, 0, &v, bytes);
    /* Bytes that do not hash to their value are not taken back: the 1b
     * still names v, without the bytes. */
    f->val_bytes[0][20] ^= 1;
    fx_restart(f);
    mark = f->sent_count;
    fx_send1(f, (uint32_t)fx_leader(f, 3), bpc_record_make(BPC_MSG_1A, 0, 3, 0, NULL));
    k = fx_find(f, mark, BPC_MSG_1B, 0, 3);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    for (uint32_t j = mark; j < f->sent_count; j++) {
        assert_false(f->sent[j].type == BPC_MSG_VALUE);
    }
    fx_delete(f);
}

/* How many of the values f's engine asked to persist are v of instance i. */
static uint32_t
persisted_count(const struct fx *f, uint64_t i, const struct bpc_vid *v)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < f->val_count; k++) {
        n += f->vals[k].instance == i && bpc_vid_eq(&f->vals[k].vid, v);
    }
    return n;
}

/* Goal: a value that left this party's durable record and comes back
 * into it is persisted again. The store keeps a value only while its
 * instance's newest record names it, so once the record no longer names
 * it a compaction may drop its bytes. The engine votes for DIGEST value v
 * on instance 0 at ballot 1, then for three inline values and a no-op
 * (ballots 2, 3, 4 and 6): v leaves the 2av history, which keeps one
 * entry per value, four at most; then for v again, at a ballot its
 * proposer leads: v's bytes go to persist a second time. Fails on
 * 5e2dc49, where the slot remembered that v's bytes had gone once and
 * never sent them again ("0x1 != 0x2"): after a compaction and a restart
 * the party's vote would name v without its bytes. */
static void
test_value_back_in_record_persisted_again(void **state)
{
    (void)state;
    uint8_t bytes[128];
    struct bpc_vid v;
    struct fx *f = voted_at_one(bytes, &v);
    assert_int_equal(persisted_count(f, 0, &v), 1);
    /* Three one-command inline values, each its leader's own command,
     * then a no-op: the history keeps one entry per value. */
    for (uint64_t b = 2; b <= 6; b += b == 4 ? 2 : 1) {
        uint8_t ib[32] = {0};
        struct bpc_vid iv;
        memset(&iv, 0, sizeof(iv));
        iv.kind = BPC_VALUE_NOOP;
        uint32_t leader = (uint32_t)fx_leader(f, b);
        if (b < 6) {
            fx_batch(ib, leader, leader == (uint32_t)fx_leader(f, 1) ? 2 : 1, 8, (uint8_t)b, &iv);
            assert_int_equal(iv.kind, BPC_VALUE_INLINE);
        }
        fx_to_ballot(f, b);
        fx_vote(f, 0, b, &iv, ib);
    }
    /* The newest record names v nowhere. */
    const struct bpc_durable *d = NULL;
    for (uint32_t k = 0; k < f->dur_count; k++) {
        d = f->dur[k].instance == 0 ? &f->dur[k] : d;
    }
    assert_non_null(d);
    assert_false(bpc_vid_eq(&d->max_vval, &v));
    for (uint32_t k = 0; k < d->hist_count; k++) {
        assert_false(bpc_vid_eq(&d->hist_val[k], &v));
    }
    uint64_t last = 7; /* led by v's proposer, whose command v holds */
    while (fx_leader(f, last) != fx_leader(f, 1)) {
        last++;
    }
    fx_to_ballot(f, last);
    fx_vote(f, 0, last, &v, bytes);
    assert_int_equal(persisted_count(f, 0, &v), 2);
    fx_delete(f);
}

/* Goal: a restarted engine still gives the bytes of decisions below its
 * floor to a party that lags. It decides instances 0..3 (DIGEST values),
 * restarts from what it persisted, and a peer's STATUS from 0 gets
 * DECIDED records with the bytes. Fails before decided values were
 * restored: the recent decisions came back as identities alone, and when
 * every party but a lagging one restarted, nobody could give it the bytes
 * of what it had missed (it decided on the claims and could never apply). */
static void
test_decided_bytes_survive_restart(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint8_t bytes[4][128];
    struct bpc_vid v[4];
    fx_decide_four(f, bytes, v, 0x60);
    f->now += 100 * FX_MS; /* a tick: the floor is made durable */
    fx_step(f, NULL, 0);
    fx_restart(f);
    assert_int_equal(bpc_engine_next_undecided(f->e), 4);
    uint32_t mark = f->sent_count;
    fx_send1(f, f->watch, bpc_record_make(BPC_MSG_STATUS, 0, 2, 0, NULL));
    fx_expect_decided_bytes(f, mark, bytes, v);
    fx_delete(f);
}

/* Goal: bytes the engine keeps by reference to a generation's 2a buffer
 * (the value it decided, the values of its 2av history) outlive that
 * buffer's next ballot. The engine decides v on instance 0 at ballot 1 and
 * votes 2av and 2b for x on instance 1 (undecided); the leaders of ballots
 * 2 and 3 then send 2a records for both instances with other bytes, so the
 * generation that held ballot 1 takes ballot 3 and its buffer takes new
 * bytes. A lagging peer's STATUS must still be answered with v's bytes,
 * and the 1b of ballot 4 must still carry x's bytes in a VALUE record.
 * Fails when a generation is reused without first moving the bytes lent
 * from it (eng_vote_gen_leaving). */
static void
test_lent_bytes_survive_new_ballots(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint8_t bv[128], bx[128], bw[4][128];
    struct bpc_vid v, x, w[4];
    uint32_t l1 = (uint32_t)fx_leader(f, 1);
    fx_batch(bv, l1, 1, 64, 0xAA, &v);
    fx_batch(bx, l1, 2, 64, 0xBB, &x);
    assert_int_equal(v.kind, BPC_VALUE_DIGEST);
    fx_vote(f, 0, 1, &v, bv);
    for (uint32_t k = 0; k < 2; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 0, 1, 0, &v));
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    fx_vote(f, 1, 1, &x, bx);
    for (uint64_t b = 2; b <= 3; b++) {
        uint32_t lb = (uint32_t)fx_leader(f, b);
        fx_batch(bw[b], lb, 10 + b, 64, (uint8_t)(0xC0 + b), &w[b]);
        fx_to_ballot(f, b);
        for (uint64_t i = 0; i < 2; i++) {
            struct bpc_record a = bpc_record_make(BPC_MSG_2A, i, b, 0, &w[b]);
            a.value_bytes = bw[b];
            fx_send1(f, lb, a);
        }
    }
    uint32_t mark = f->sent_count;
    fx_send1(f, f->watch, bpc_record_make(BPC_MSG_STATUS, 0, 3, 0, NULL));
    int k = fx_find(f, mark, BPC_MSG_DECIDED, 0, 0);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    assert_non_null(f->sent[k].value_bytes);
    assert_memory_equal(f->sent[k].value_bytes, bv, v.len);
    mark = f->sent_count;
    fx_send1(f, (uint32_t)fx_leader(f, 4), bpc_record_make(BPC_MSG_1A, 0, 4, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 4);
    fx_expect_value(f, mark, 1, &x, bx);
    fx_delete(f);
}

/* Three DIGEST values for one instance: v (from ballot 1's leader), w2 and
 * w3 (from the leaders of ballots 2 and 3), with their bytes; the 2a of
 * ballot 3 (w3) is ready in a3. */
struct fx_lend {
    uint8_t bv[128], b2[128], b3[128];
    struct bpc_vid v, w2, w3;
    uint32_t l3;
    struct bpc_record a3;
};

/* The engine votes 2av and 2b for v on instance i at ballot 1, moves to
 * ballot 2 and gets w2's 2a there (voting 2av for it): its generations
 * tally ballots 1 and 2, and a 2a of ballot 3 takes the one of ballot 1,
 * whose 2a buffer holds v's bytes. */
static void
fx_lend_begin(struct fx *f, struct fx_lend *c, uint64_t i)
{
    uint32_t l2 = (uint32_t)fx_leader(f, 2);
    c->l3 = (uint32_t)fx_leader(f, 3);
    fx_batch(c->bv, (uint32_t)fx_leader(f, 1), 1, 64, 0xAA, &c->v);
    fx_batch(c->b2, l2, 2, 64, 0xB2, &c->w2);
    fx_batch(c->b3, c->l3, 3, 64, 0xB3, &c->w3);
    assert_int_equal(c->v.kind, BPC_VALUE_DIGEST);
    fx_vote(f, i, 1, &c->v, c->bv);
    fx_to_ballot(f, 2);
    struct bpc_record a = bpc_record_make(BPC_MSG_2A, i, 2, 0, &c->w2);
    a.value_bytes = c->b2;
    fx_send1(f, l2, a);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, i, 2) >= 0);
    c->a3 = bpc_record_make(BPC_MSG_2A, i, 3, 0, &c->w3);
    c->a3.value_bytes = c->b3;
}

/* Goal: a decision's bytes, lent to the application until the next step,
 * stay the decided value's bytes even when the same step hands the 2a
 * buffer they were decided from to a later ballot. After fx_lend_begin on
 * instance 0, one step brings the two 2b that decide v at ballot 1 and
 * the 2a of ballot 3 for the same instance with other bytes (the
 * generation of ballot 1 is the one it takes). The step's decision must
 * read v's bytes. Fails when a decision is emitted from the slot's 2a
 * buffer instead of its copy among the recent decisions (eng_dring_stage). */
static void
test_decision_bytes_stable_within_step(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    struct fx_lend c;
    fx_lend_begin(f, &c, 0);
    static uint8_t buf[3][BPC_FRAME_BYTES_MAX];
    struct bpc_frame_in in[3];
    struct bpc_record vote = bpc_record_make(BPC_MSG_2B, 0, 1, 0, &c.v);
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t from = fx_other(f, k);
        in[k] = (struct bpc_frame_in){.bytes = buf[k],
                                      .len = fx_frame(f, from, &vote, 1, f->keys[from], buf[k])};
    }
    in[2] = (struct bpc_frame_in){.bytes = buf[2],
                                  .len = fx_frame(f, c.l3, &c.a3, 1, f->keys[c.l3], buf[2])};
    for (uint32_t k = 0; k < FX_OUT; k++) {
        f->outs[k].bytes = f->out_bytes[k];
        f->outs[k].cap = f->tx_cap;
    }
    struct bpc_decision dec[8];
    struct bpc_step_in si = {.now_ns = f->now, .frames = in, .frames_count = 3};
    struct bpc_step_out so = {
        .frames = f->outs, .frames_cap = FX_OUT, .decisions = dec, .decisions_cap = FX_LEN(dec)};
    assert_true(bpc_engine_step(f->e, &si, &so) >= 0);
    assert_int_equal(so.decisions_count, 1);
    assert_int_equal(dec[0].instance, 0);
    assert_true(bpc_vid_eq(&dec[0].vid, &c.v));
    assert_int_equal(dec[0].len, c.v.len);
    assert_memory_equal(dec[0].value, c.bv, c.v.len);
    if (so.persist_count > 0) {
        bpc_engine_persisted(f->e);
    }
    fx_delete(f);
}

/* Goal: a record queued with bytes lent from a 2a buffer still carries
 * them when that buffer takes another ballot before the record leaves.
 * After fx_lend_begin on instance 1 (v voted at ballot 1, undecided), one
 * step brings the 1a of ballot 3 (its 1b names v and queues v's bytes in a
 * VALUE record, lent from the generation of ballot 1) and the 2a of ballot
 * 3 for instance 1, which takes that generation for ballot 3 with other
 * bytes. The VALUE record must leave with v's bytes, found where they
 * moved (eng_win_moved), not be dropped. */
static void
test_queued_value_follows_moved_bytes(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    struct fx_lend c;
    fx_lend_begin(f, &c, 1);
    static uint8_t buf[2][BPC_FRAME_BYTES_MAX];
    struct bpc_record one_a = bpc_record_make(BPC_MSG_1A, 0, 3, 0, NULL);
    struct bpc_frame_in in[2] = {
        {.bytes = buf[0], .len = fx_frame(f, c.l3, &one_a, 1, f->keys[c.l3], buf[0])},
        {.bytes = buf[1], .len = fx_frame(f, c.l3, &c.a3, 1, f->keys[c.l3], buf[1])},
    };
    uint32_t mark = f->sent_count;
    fx_step(f, in, 2);
    assert_int_equal(bpc_engine_ballot(f->e), 3);
    fx_expect_value(f, mark, 1, &c.v, c.bv);
    fx_delete(f);
}

/* Goal: the bytes of a value a new leader must propose again reach it. Two
 * peers report a 2b and a 2av for digest value v at ballot 3 (a quorum of
 * reports makes v the only safe value), but this party, the leader of a
 * later ballot, never saw v's bytes: it must not propose without them, and
 * it proposes v as soon as a peer's VALUE record brings them (the bytes a
 * peer holds for a value its 1b names). Before, nothing brought them and
 * the instance stalled for ever (bpcon-sim equivocate, seed 1361). */
static void
test_leader_fetches_reported_bytes(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint64_t b = 7;
    while (fx_leader(f, b) != (int)f->me) {
        b++;
    }
    uint8_t bytes[128];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 0), 1, 64, 0x5A, &v);
    fx_report_digest(f, b, &v);
    fx_expect_fetched(f, b, &v, bytes);
    fx_delete(f);
}

/* Goal: a Byzantine party cannot push out the bytes a new leader fetched.
 * As above, two peers report v (weight 2 > F); the third, Byzantine
 * (weight 1 = F), reports no vote but a 2av history entry for its own junk
 * value j, and in each step sends VALUE(j) right after a correct peer's
 * VALUE(v). Before, the slot's one fetch buffer took j's bytes after v's
 * in every step and the leader never proposed (the Byzantine review's
 * value_evict: no 2a after 200 steps); now only a value named by reports
 * weighing more than F is fetched, and v is proposed in the first step. */
static void
test_junk_value_keeps_fetched_bytes(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint64_t b = 7;
    while (fx_leader(f, b) != (int)f->me) {
        b++;
    }
    static uint8_t bytes[128];
    static uint8_t junk[128];
    struct bpc_vid v;
    struct bpc_vid j;
    fx_batch(bytes, fx_other(f, 0), 1, 64, 0x5A, &v);
    fx_batch(junk, fx_other(f, 2), 1, 64, 0x66, &j);
    uint32_t z = fx_other(f, 2);
    for (uint32_t i = 0; i < 3; i++) {
        struct bpc_record r[3];
        r[0] = bpc_record_make(BPC_MSG_1B, 0, b, i < 2 ? 3 : 0, i < 2 ? &v : NULL);
        r[0].hist_count = 1;
        r[1] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, i < 2 ? 3 : 2, i < 2 ? &v : &j);
        r[2] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL);
        fx_send(f, fx_other(f, i), r, 3);
    }
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0);
    struct bpc_record val = bpc_record_make(BPC_MSG_VALUE, 0, b, 0, &v);
    val.value_bytes = bytes;
    struct bpc_record bad = bpc_record_make(BPC_MSG_VALUE, 0, b, 0, &j);
    bad.value_bytes = junk;
    static uint8_t buf[2][BPC_FRAME_BYTES_MAX];
    uint32_t from = fx_other(f, 1);
    struct bpc_frame_in in[2] = {
        {.bytes = buf[0], .len = fx_frame(f, from, &val, 1, f->keys[from], buf[0])},
        {.bytes = buf[1], .len = fx_frame(f, z, &bad, 1, f->keys[z], buf[1])},
    };
    fx_step(f, in, 2);
    int k = fx_find(f, 0, BPC_MSG_2A, 0, b);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    assert_memory_equal(f->sent[k].value_bytes, bytes, v.len);
    fx_delete(f);
}

/* Goal: the bytes the first reporter of a value sends are kept even
 * though its report alone weighs F. Instance 0 is empty everywhere;
 * instance 1 holds v, reported (2av at ballot 3) by a correct peer, whose
 * frame brings VALUE(v) right after its 1b, and then by a Byzantine peer
 * without VALUE. v must be proposed again. With bytes kept only for
 * values whose reports already weighed above F (345bb55, this stop's own
 * review's value_order), the first VALUE was dropped and the leader
 * waited for bytes at instance 1 until its ballot timed out; now a
 * named value's bytes are kept unless the buffer holds a value the
 * reports name with at least as much weight. */
static void
test_first_reporter_bytes_kept(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    uint64_t b = fx_own_ballot(f);
    static uint8_t bytes[128];
    struct bpc_vid v;
    fx_batch(bytes, fx_other(f, 0), 1, 64, 0x5A, &v);
    struct bpc_record g[5];
    g[0] = bpc_record_make(BPC_MSG_1B, 0, b, 0, NULL);
    g[1] = bpc_record_make(BPC_MSG_1B, 1, b, 3, &v);
    g[1].hist_count = 1;
    g[2] = bpc_record_make(BPC_MSG_1B_HIST, 1, b, 3, &v);
    g[3] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 2, NULL);
    g[4] = bpc_record_make(BPC_MSG_VALUE, 1, b, 0, &v);
    g[4].value_bytes = bytes;
    fx_send(f, fx_other(f, 0), g, 5);
    fx_send(f, fx_other(f, 1), g, 4);
    fx_send1(f, fx_other(f, 2), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), b);
    int k = fx_find(f, 0, BPC_MSG_2A, 1, b);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    assert_memory_equal(f->sent[k].value_bytes, bytes, v.len);
    fx_delete(f);
}

/* The engine vouched for v (bytes bv) at instance 1, ballot 1; at ballot
 * 2 its 1b reports v with VALUE(v), and it votes 2av for the leader's 2a
 * at instance 2. The leader of ballot 2. */
static uint32_t
tv_voted_at_2(struct fx *f, struct bpc_vid *v, uint8_t *bv)
{
    static uint8_t bw[128];
    struct bpc_vid w;
    fx_batch(bv, (uint32_t)fx_leader(f, 1), 1, 64, 0xAA, v);
    fx_vote(f, 1, 1, v, bv);
    uint32_t l2 = (uint32_t)fx_leader(f, 2);
    fx_batch(bw, l2, 2, 64, 0xBB, &w);
    uint32_t mark = f->sent_count;
    fx_to_ballot(f, 2);
    fx_expect_value(f, mark, 1, v, bv);
    struct bpc_record a = bpc_record_make(BPC_MSG_2A, 2, 2, 0, &w);
    a.value_bytes = bw;
    fx_send1(f, l2, a);
    assert_true(fx_find(f, mark, BPC_MSG_2AV, 2, 2) >= 0);
    return l2;
}

/* A retransmit tick at ballot 2 after the party voted there: no 1b
 * again, VALUE(v) for instance 1 again. */
static void
tv_tick_resends(struct fx *f, const struct bpc_vid *v, const uint8_t *bv)
{
    uint32_t mark = f->sent_count;
    f->now += f->cfg.ballot_timeout_ns / 2;
    fx_step(f, NULL, 0);
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    assert_true(fx_find(f, mark, BPC_MSG_1B, 1, 2) < 0); /* voted: no 1b again */
    fx_expect_value(f, mark, 1, v, bv);
}

/* Once the leader l2 of ballot 2 proposed v at instance 1, the next tick
 * sends no VALUE record for it. */
static void
tv_proposed_stops(struct fx *f, uint32_t l2, const struct bpc_vid *v, const uint8_t *bv)
{
    struct bpc_record a = bpc_record_make(BPC_MSG_2A, 1, 2, 0, v);
    a.value_bytes = bv;
    fx_send1(f, l2, a);
    uint32_t mark = f->sent_count;
    f->now += f->cfg.ballot_timeout_ns / 2;
    fx_step(f, NULL, 0);
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    assert_true(fx_find(f, mark, BPC_MSG_VALUE, 1, 0) < 0);
}

/* Goal: a party that voted at the new ballot still sends the bytes of a
 * value it reported while the leader has not proposed there. The engine
 * vouched for v at instance 1 (ballot 1) and reports it with VALUE(v) in
 * its 1b of ballot 2; it then votes for the leader's 2a at instance 2.
 * A leader whose fetch buffer a Byzantine VALUE took first (a tie at
 * weight F) needs v's bytes again. Before, a party resent its 1b and
 * VALUE records only until it voted at the ballot, and the leader waited
 * for its ballot to time out (the last review's valtie); now every
 * retransmit tick resends VALUE(v) until a 2a at instance 1 comes. */
static void
test_values_resent_until_proposed(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    static uint8_t bv[128];
    struct bpc_vid v;
    uint32_t l2 = tv_voted_at_2(f, &v, bv);
    tv_tick_resends(f, &v, bv);
    tv_proposed_stops(f, l2, &v, bv);
    fx_delete(f);
}

/* Goal: the same after a restart. A party restarted at the ballot it
 * voted at does not send its 1b again, and before, what the 1b reported
 * was forgotten with it (sent_1b_hi 0): no VALUE record was resent, and a
 * leader whose fetch a Byzantine VALUE took first waited for its ballot
 * to fail (the last stop's own review, F5). Now a restarted party resends
 * the VALUE records for every instance up to its highest vote until a 2a
 * comes. Method: as above, with a restart after the 2av at instance 2. */
static void
test_values_resent_after_restart(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    static uint8_t bv[128];
    struct bpc_vid v;
    uint32_t l2 = tv_voted_at_2(f, &v, bv);
    fx_restart(f);
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    tv_tick_resends(f, &v, bv);
    tv_proposed_stops(f, l2, &v, bv);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decided_bytes_survive_eviction),
        cmocka_unit_test(test_status_claims_only),
        cmocka_unit_test(test_claim_bytes_kept),
        cmocka_unit_test(test_catch_up_requests),
        cmocka_unit_test(test_voted_bytes_survive_restart),
        cmocka_unit_test(test_value_back_in_record_persisted_again),
        cmocka_unit_test(test_decided_bytes_survive_restart),
        cmocka_unit_test(test_lent_bytes_survive_new_ballots),
        cmocka_unit_test(test_decision_bytes_stable_within_step),
        cmocka_unit_test(test_queued_value_follows_moved_bytes),
        cmocka_unit_test(test_leader_fetches_reported_bytes),
        cmocka_unit_test(test_junk_value_keeps_fetched_bytes),
        cmocka_unit_test(test_first_reporter_bytes_kept),
        cmocka_unit_test(test_values_resent_until_proposed),
        cmocka_unit_test(test_values_resent_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
