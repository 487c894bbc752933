/*
 * test_held.c - one engine against scripted peers (fx.h): re-checks of
 * held 2a values cost what changed. A 2a this party cannot vote for yet
 * (its commands lack their MACs) is examined again only when something it
 * waits for arrives, and only it: a peer's 1b that changes no view, or an
 * ATTEST no held value waits for, examines nothing (docs/ENGINE.md,
 * "Held 2a values").
 *
 * Method: the fixture of fx.h (one engine, party `me` of four, stepped
 * directly; the other three parties are the test); the work is counted
 * by the engine's `recheck_visits` and `cmd_unauthenticated` counters,
 * never timed. Must never: edit engine state, or rely on timing other
 * than the virtual clock.
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
#include "core.h"
#include "internal.h"

#include "fx.h"

#define HELD_K 4u     /* values held back */
#define HELD_FRAMES 8 /* trigger frames sent */

/* The leader of ballot 2 proposes HELD_K one-command values of submitter
 * c (sequence numbers 1 to HELD_K) at instances 0 to HELD_K - 1, whose
 * MACs c never sent: each is held back. bytes[k] is value k's batch. */
static void
held_propose(struct fx *f, uint32_t leader, uint32_t c, uint8_t bytes[HELD_K][64],
             struct bpc_vid *v)
{
    for (uint32_t k = 0; k < HELD_K; k++) {
        fx_batch(bytes[k], c, k + 1u, 8, (uint8_t)(0x40 + k), &v[k]);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, k, 2, 0, &v[k]));
        assert_true(fx_find(f, 0, BPC_MSG_2AV, k, 2) < 0);
    }
}

/* Goal: a frame that changes nothing a held 2a waits for examines no
 * slot: a peer's 1B_RANGE at the ballot that repeats the one it sent
 * (its coverage unchanged), its 1b for an instance that range already
 * covers (ignored), and an ATTEST for a command no held value holds. The
 * ATTEST a held value waits for examines the held values only (not the
 * window), and the value gets its 2av. Fails on 146f9bb, where every 1b
 * at the ballot and every ATTEST after one unproven command re-examined
 * every slot of the window, verifying each held value's MACs again. */
static void
test_recheck_costs_what_changed(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    uint32_t b =
        fx_other(f, 0) == leader || fx_other(f, 0) == c
            ? (fx_other(f, 1) == leader || fx_other(f, 1) == c ? fx_other(f, 2) : fx_other(f, 1))
            : fx_other(f, 0);
    uint8_t bytes[HELD_K][64];
    struct bpc_vid v[HELD_K];
    held_propose(f, leader, c, bytes, v);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    uint64_t unauth = ctr->cmd_unauthenticated;
    for (int k = 0; k < HELD_FRAMES; k++) {
        fx_send1(f, b, bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
        fx_send1(f, b, bpc_record_make(BPC_MSG_1B, 10, 2, 0, NULL));
        uint8_t other[8] = {0};
        fx_attest(f, c, 100u + (uint64_t)k, other, sizeof(other));
    }
    assert_int_equal(ctr->recheck_visits - visits, 0);
    assert_int_equal(ctr->cmd_unauthenticated - unauth, 0);
    /* c attests its command 2: only the held values are looked at. */
    fx_attest(f, c, 2, bytes[1] + BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES, 8);
    assert_true(ctr->recheck_visits - visits >= 1);
    assert_true(ctr->recheck_visits - visits <= HELD_K);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) < 0);
    fx_delete(f);
}

/* Goal: once no held value waits for a MAC, ATTEST records re-check
 * nothing: after the held values are decided (the peers' 2b), and after
 * the party moves to a ballot where nothing is held, a peer's ATTEST
 * frames examine no slot. Fails on 146f9bb, whose mark that a 2a waits
 * for a MAC (auth_wait) was never cleared: every ATTEST after one
 * unproven command re-examined the whole window for the rest of the
 * engine's life. */
static void
test_auth_wait_clears(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    uint8_t bytes[HELD_K][64];
    struct bpc_vid v[HELD_K];
    held_propose(f, leader, c, bytes, v);
    /* The values are decided: the three peers' 2b. */
    for (uint32_t k = 0; k < HELD_K; k++) {
        for (uint32_t i = 0; i < f->n - 1; i++) {
            fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_2B, k, 2, 0, &v[k]));
        }
        assert_true(f->dec_set & (UINT64_C(1) << k));
    }
    /* Applying them proved their commands (at or below c's applied
     * sequence number): the next re-check may look at the held values
     * once (the instances below nu a lagging leader may ask about), and
     * they are held no more. */
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    uint8_t other[8] = {0};
    fx_attest(f, c, 199, other, sizeof(other));
    assert_true(ctr->recheck_visits - visits <= HELD_K);
    visits = ctr->recheck_visits;
    for (int k = 0; k < HELD_FRAMES; k++) {
        fx_attest(f, c, 200u + (uint64_t)k, other, sizeof(other));
    }
    assert_int_equal(ctr->recheck_visits - visits, 0);
    /* Another ballot: nothing held there either. */
    fx_to_ballot(f, 3);
    visits = ctr->recheck_visits;
    for (int k = 0; k < HELD_FRAMES; k++) {
        fx_attest(f, c, 300u + (uint64_t)k, other, sizeof(other));
    }
    assert_int_equal(ctr->recheck_visits - visits, 0);
    fx_delete(f);
}

/* c's ATTEST of its command seq with a wrong MAC (its first byte `k`,
 * so that two differ). */
static void
held_wrong_attest(struct fx *f, uint32_t c, uint64_t seq, uint8_t k)
{
    struct bpc_vid mac;
    fx_mac_vid(&mac, 1);
    memset(mac.id, 0xAB, BPC_CMD_MAC_BYTES);
    mac.id[0] = k;
    fx_send1(f, c, bpc_record_make(BPC_MSG_ATTEST, seq, 2, 8, &mac));
}

#define HELD_MANY 300u /* past a submitter's 256 MAC places: seq 1 and 257 share one */

/* The leader of ballot 2 proposes `count` one-command values of
 * submitter *c: value k holds command k + 1, 8 bytes of k (a different
 * command each), at instance k; none has its MAC, each is held. v[0] and
 * v[1]: the values at instances 0 and 256. */
static struct fx *
held_many(uint32_t count, uint32_t *c, struct bpc_vid v[2])
{
    struct fx *f = fx_new(1024, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    *c = fx_not_leader(f, leader);
    for (uint32_t k = 0; k < count; k++) {
        uint8_t bytes[64];
        struct bpc_vid vk;
        fx_batch(bytes, *c, k + 1u, 8, (uint8_t)k, &vk);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, k, 2, 0, &vk));
        if (k == 0 || k == 256) {
            v[k / 256] = vk;
        }
    }
    assert_int_equal(bpc_engine_counters(f->e)->cmd_unauthenticated, count);
    return f;
}

/* Goal: an ATTEST with a wrong MAC re-examines only the held values whose
 * first unproven command it names, and one repeating the MAC kept there
 * re-examines none. 300 values each hold another command of c; c's
 * ATTEST frames for command 1 (a new wrong MAC each) re-examine value 0
 * alone (not value 256, whose command 257 shares command 1's MAC place),
 * and the same wrong MAC again examines nothing. Fails on 275ebed, where
 * every ATTEST a held value waited for moved the proof epoch: each frame
 * re-examined all 300 values, each failing anew (300 re-examinations and
 * 300 failed MAC checks per one-record frame; the review's attest_amp). */
static void
test_wrong_mac_examines_its_waiters(void **state)
{
    (void)state;
    uint32_t c = 0;
    struct bpc_vid v[2];
    struct fx *f = held_many(HELD_MANY, &c, v);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    uint64_t unauth = ctr->cmd_unauthenticated;
    for (int k = 0; k < HELD_FRAMES; k++) {
        held_wrong_attest(f, c, 1, (uint8_t)k);
    }
    printf("per wrong-MAC ATTEST frame: %.1f re-examinations, %.1f failed MAC checks\n",
           (double)(ctr->recheck_visits - visits) / HELD_FRAMES,
           (double)(ctr->cmd_unauthenticated - unauth) / HELD_FRAMES);
    assert_int_equal(ctr->recheck_visits - visits, HELD_FRAMES);
    assert_int_equal(ctr->cmd_unauthenticated - unauth, HELD_FRAMES);
    visits = ctr->recheck_visits;
    unauth = ctr->cmd_unauthenticated;
    for (int k = 0; k < HELD_FRAMES; k++) {
        held_wrong_attest(f, c, 1, (uint8_t)(HELD_FRAMES - 1));
    }
    assert_int_equal(ctr->recheck_visits - visits, 0);
    assert_int_equal(ctr->cmd_unauthenticated - unauth, 0);
    for (uint32_t k = 0; k < HELD_MANY; k++) {
        assert_true(fx_find(f, 0, BPC_MSG_2AV, k, 2) < 0);
    }
    fx_delete(f);
}

/* Goal: a peer that alternates its 1b range at one ballot between the
 * window's bottom and its top makes held values be examined again once,
 * not at every frame: a raise of the range at the same ballot is kept out
 * (the first coverage stays true). Ballot 2's leader sends its 1A and
 * junk 2a values at 32 instances (held), then 16 one-record 1B_RANGE
 * frames alternating from 64 (none of the window) and 0 (all of it).
 * Before, each frame that lowered the range again re-examined them: "0x200
 * != 0", 512 visits (review E's held_range). */
static void
test_range_flips_examine_held_once(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    for (uint32_t i = 0; i < 32; i++) {
        struct bpc_vid v = fx_junk_vid(i);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, i, 2, 0, &v));
    }
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    for (uint32_t k = 0; k < 2; k++) { /* the first lowering examines them */
        fx_send1(f, leader, bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, k == 0 ? 64 : 0, NULL));
    }
    uint64_t visits = ctr->recheck_visits;
    for (uint32_t k = 0; k < 16; k++) {
        fx_send1(f, leader, bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, k % 2 == 0 ? 64 : 0, NULL));
    }
    printf("  16 range flips: %llu re-examinations\n",
           (unsigned long long)(ctr->recheck_visits - visits));
    assert_int_equal(ctr->recheck_visits - visits, 0);
    for (uint32_t i = 0; i < 32; i++) {
        assert_true(fx_find(f, 0, BPC_MSG_2AV, i, 2) < 0); /* still held */
    }
    fx_delete(f);
}

/* Goal: a change of views looks at the held slots it names, not at every
 * held slot: a peer lowering its range by one each frame far above the
 * window asks for no re-check, and its empty 1b for one held instance
 * after another looks at that slot alone (the engine's count of held
 * slots looked at, hd.looked). Before, each such frame passed over every
 * held slot: "0x200 != 0" (32 held, 16 ranges), and 512 looked at for
 * the 16 reports (review E2's probe_held, 172 us a frame with 30,000
 * held at a window of 65,536). */
static void
test_view_changes_look_at_what_they_name(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint32_t p = fx_not_leader(f, fx_hold_junk(f, 32, NULL));
    uint64_t looked = f->e->hd.looked;
    for (uint64_t k = 0; k < 16; k++) {
        fx_send1(f, p, bpc_record_make(BPC_MSG_1B_RANGE, (UINT64_C(1) << 40) - k, 2, 0, NULL));
    }
    uint64_t by_ranges = f->e->hd.looked - looked;
    looked = f->e->hd.looked;
    for (uint64_t i = 0; i < 16; i++) {
        fx_send1(f, p, bpc_record_make(BPC_MSG_1B, i, 2, 0, NULL));
    }
    uint64_t by_reports = f->e->hd.looked - looked;
    printf("  held slots looked at: 16 ranges above the window %llu, 16 reports %llu\n",
           (unsigned long long)by_ranges, (unsigned long long)by_reports);
    assert_int_equal(by_ranges, 0);
    assert_true(by_reports <= 16);
    for (uint32_t i = 0; i < 32; i++) {
        assert_true(fx_find(f, 0, BPC_MSG_2AV, i, 2) < 0); /* still held */
    }
    fx_delete(f);
}

/* Goal: with a window below 64 slots (the held bitmap's one word), a
 * range 1b whose coverage crosses the ring's end reaches the held values
 * on both sides of it. Seven parties at ballot 2, instances 0 to W - 7
 * decided, the leader's 2a values (batches of its own commands) for
 * W - 4 to W + 1 held (the view lacks a quorum of reports), then a
 * fourth peer's range from W - 5 completes the quorum of empty reports:
 * every held value gets its 2av. Before, the look at the range's held
 * slots ran past the word's end at the wrap: at W = 16, instances 16 and
 * 17 (slots 0 and 1) stayed held for the ballot (review F's probe_wrap). */
static void
test_range_over_the_wrap_reaches_held(void **state)
{
    (void)state;
    for (uint32_t w = 8; w <= 64; w *= 2) {
        struct fx *f = fx_new_n(w, 256, 7);
        uint32_t leader = (uint32_t)fx_leader(f, 2);
        for (uint32_t i = 0; i < 3; i++) {
            fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
        }
        uint32_t fourth = fx_other(f, 3) == leader ? fx_other(f, 4) : fx_other(f, 3);
        struct bpc_vid noop = {.kind = BPC_VALUE_NOOP};
        uint64_t d = w - 6;
        for (uint64_t i = 0; i < d; i++) {
            for (uint32_t k = 0; k < 5; k++) {
                fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, &noop));
            }
        }
        assert_int_equal(bpc_engine_next_undecided(f->e), d);
        for (uint64_t k = 0; k < 6; k++) {
            uint8_t bytes[64];
            struct bpc_vid v;
            fx_batch(bytes, leader, k + 1u, 8, (uint8_t)(0x40 + k), &v);
            fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, d + 2 + k, 2, 0, &v));
            assert_true(fx_find(f, 0, BPC_MSG_2AV, d + 2 + k, 2) < 0);
        }
        fx_send1(f, fourth, bpc_record_make(BPC_MSG_1B_RANGE, d + 1, 2, 0, NULL));
        uint32_t held = 0;
        for (uint64_t k = 0; k < 6; k++) {
            held += fx_find(f, 0, BPC_MSG_2AV, d + 2 + k, 2) < 0 ? 1u : 0u;
        }
        printf("  window %u: %u of 6 still held after the range\n", w, held);
        assert_int_equal(held, 0);
        fx_delete(f);
    }
}

/* Goal: a range's look at the held slots clears the bit of a slot reused
 * since its value was held (its note gone with the slot), and builds
 * with -DBPC_DEBUG=1 take that for a look, not a miss. Seven parties,
 * window 8: the leader's 2a at 0 held, 0 decided by the peers' 2b, slot 0
 * reused by instance 8, then a range from 1 covers 8 afresh. Before, a
 * debug build aborted there ("assertion failed: looked >= in_range"; own
 * review G's probe_looked): its count of slots to look at took in the
 * reused slot, the count of slots looked at did not. */
static void
test_reused_held_slot_under_a_range(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(8, 256, 7);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    for (uint32_t i = 0; i < 3; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
    }
    uint32_t fourth = fx_other(f, 3) == leader ? fx_other(f, 4) : fx_other(f, 3);
    uint8_t bytes[64];
    struct bpc_vid v;
    fx_batch(bytes, leader, 1, 8, 0x40, &v);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 0, 2, 0, &v));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) < 0);
    assert_int_equal(f->e->hd.count, 1);
    for (uint32_t k = 0; k < 5; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 0, 2, 0, &v));
    }
    fx_send1(f, fx_other(f, 0), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
    struct bpc_vid noop = {.kind = BPC_VALUE_NOOP};
    fx_send1(f, fx_other(f, 0), bpc_record_make(BPC_MSG_2B, 8, 2, 0, &noop));
    fx_send1(f, fourth, bpc_record_make(BPC_MSG_1B_RANGE, 1, 2, 0, NULL));
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    assert_int_equal(f->e->hd.count, 0); /* the reused slot's bit cleared by the look */
    fx_delete(f);
}

/* Two peers' 2av for v at instance i (with the engine's own, a quorum)
 * draw its 2b; the three peers' 2b decide i. */
static void
held_decide(struct fx *f, uint64_t i, const struct bpc_vid *v)
{
    for (uint32_t k = 0; k < 2; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2AV, i, 2, 0, v));
    }
    assert_true(fx_find(f, 0, BPC_MSG_2B, i, 2) >= 0);
    for (uint32_t k = 0; k < f->n - 1; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, v));
    }
}

/* Goal: after wrong MACs, the right one still makes its held value
 * votable, and it is decided; a value whose command shares the MAC
 * place with another's keeps its chance when the other's MAC takes the
 * place first. Values 0 and 256 (commands 1 and 257, one MAC place) are
 * held; c sends wrong MACs for command 1, then the right MAC for 257
 * (value 256 gets its 2av, value 0 does not), then for 1: value 0 gets
 * its 2av; the peers' 2av draw the engine's 2b for both, and value 0 is
 * decided (handed out; 256 waits for the instances below it). */
static void
test_right_mac_after_wrong_decides(void **state)
{
    (void)state;
    uint32_t c = 0;
    struct bpc_vid v[2];
    struct fx *f = held_many(257, &c, v);
    for (int k = 0; k < HELD_FRAMES; k++) {
        held_wrong_attest(f, c, 1, (uint8_t)k);
    }
    uint8_t cmd[8];
    memset(cmd, 256 & 0xFF, sizeof(cmd));
    fx_attest(f, c, 257, cmd, sizeof(cmd));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 256, 2) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) < 0);
    memset(cmd, 0, sizeof(cmd));
    fx_attest(f, c, 1, cmd, sizeof(cmd));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    held_decide(f, 0, &v[0]);
    held_decide(f, 256, &v[1]);
    assert_true(f->dec_set & UINT64_C(1));
    assert_memory_equal(&f->dec[0], &v[0], sizeof(v[0]));
    fx_delete(f);
}

/* Seven parties (F = 2, quorum 5) at ballot 2 by three peers' range 1b
 * (with the engine's own, four reports: not a quorum); the leader's 2a
 * for instances 0 and 1 (values v[0], v[1], bytes fill + k) are held.
 * *fourth: a peer that sent no 1b yet. */
static struct fx *
held_two_safe(struct bpc_vid v[2], uint8_t fill, uint32_t *fourth)
{
    struct fx *f = fx_new_n(64, 256, 7);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    for (uint32_t i = 0; i < 3; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
    }
    *fourth = fx_other(f, 3);
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    static uint8_t bytes[2][64];
    for (uint32_t k = 0; k < 2; k++) {
        fx_batch(bytes[k], leader, k + 1u, 8, (uint8_t)(fill + k), &v[k]);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, k, 2, 0, &v[k]));
        assert_true(fx_find(f, 0, BPC_MSG_2AV, k, 2) < 0);
    }
    return f;
}

/* Goal: a 2a held because KnowsSafeAt does not hold yet is voted for as
 * soon as a 1b that completes its quorum arrives, by either path a
 * re-check now takes: a peer's 1b tallied for its instance (that instance
 * alone is looked at), or a peer's range 1b whose coverage takes it in.
 * Method: seven parties (F = 2, quorum 5); three peers' range 1b move the
 * engine to ballot 2 (with its own, four reports: not a quorum); the
 * leader's 2a for instances 0 and 1 are held; a fourth peer's 1b for
 * instance 0 brings 0 its 2av (not 1), its range 1b then brings 1's. */
static void
test_held_safe_votes_on_quorum(void **state)
{
    (void)state;
    struct bpc_vid v[2];
    uint32_t fourth = 0;
    struct fx *f = held_two_safe(v, 0x50, &fourth);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    fx_send1(f, fourth, bpc_record_make(BPC_MSG_1B, 0, 2, 0, NULL));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    assert_int_equal(ctr->recheck_visits - visits, 1);
    fx_send1(f, fourth, bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) >= 0);
    fx_delete(f);
}

/* Goal: a held 2a whose view changed while its instance was decided above
 * nu (so a re-check could not look at it) is voted for once nu passes it,
 * with no 1b to come. Method: seven parties (F = 2, quorum 5); three
 * peers' range 1b move the engine to ballot 2; the leader's 2a for
 * instances 0 and 1 are held; five peers' 2b decide instance 1 (above
 * nu = 0); a fourth peer's range 1b completes the quorum of reports
 * (instance 0 gets its 2av, instance 1 is decided above nu: not looked
 * at); five peers' 2b then decide instance 0, and nu moves past 1.
 * Before, nothing asked for a re-check then and instance 1's 2av never
 * went out (the review's equivocate run, instances 24 and 26). */
static void
test_held_view_waits_for_nu(void **state)
{
    (void)state;
    struct bpc_vid v[2];
    uint32_t fourth = 0;
    struct fx *f = held_two_safe(v, 0x60, &fourth);
    for (uint32_t i = 0; i < 5; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_2B, 1, 2, 0, &v[1]));
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    fx_send1(f, fourth, bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 0, 2) >= 0);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    for (uint32_t i = 0; i < 5; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_2B, 0, 2, 0, &v[0]));
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 2);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) >= 0);
    fx_delete(f);
}

/* Goal: a held slot whose view changed while its instance is decided
 * above nu (no re-check may look at it until nu passes it) costs nothing
 * to the frames that change nothing, and is looked at once nu passes it.
 * Method: four parties at ballot 2 by the leader's 1a (views lack a
 * quorum of reports: 32 junk 2a values at 0 to 31 held); three peers' 2b
 * decide instance 20 (above nu = 0); a peer's 1b for instance 20 changes
 * its view (the slot waits for nu); that peer then sends PARKED_FRAMES
 * ignored 1B_RANGE frames (the same range, far above the window): the
 * held slots looked at are counted (hd.looked). Then instances 0 to 19
 * are decided: the re-check as nu passes 20 examines it. Before, the
 * waiting slot raised stale_view at every look and every 1b at the
 * ballot passed over every held slot: 32 per frame, "0x200 != 0"
 * (review E3's probe_stale, 221 us a frame with 30,000 held at a window
 * of 65,536). */
#define PARKED_FRAMES 16
static void
test_slot_waiting_for_nu_costs_nothing(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    struct bpc_vid v[32];
    uint32_t p = fx_not_leader(f, fx_hold_junk(f, 32, v));
    for (uint32_t k = 0; k < f->n - 1; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 20, 2, 0, &v[20]));
    }
    assert_true(f->dec_set == 0);
    assert_int_equal(bpc_engine_next_undecided(f->e), 0);
    fx_send1(f, p, bpc_record_make(BPC_MSG_1B, 20, 2, 0, NULL));
    struct bpc_record far = bpc_record_make(BPC_MSG_1B_RANGE, UINT64_C(1) << 40, 2, 0, NULL);
    fx_send1(f, p, far);
    uint64_t looked = f->e->hd.looked;
    for (int k = 0; k < PARKED_FRAMES; k++) {
        fx_send1(f, p, far);
    }
    uint64_t by_ignored = f->e->hd.looked - looked;
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    for (uint64_t i = 0; i < 20; i++) {
        for (uint32_t k = 0; k < f->n - 1; k++) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, &v[i]));
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 21);
    uint64_t at_nu = ctr->recheck_visits - visits;
    printf("  held slots looked at by %d ignored 1B_RANGE frames: %llu; examined as nu passed: "
           "%llu\n",
           PARKED_FRAMES, (unsigned long long)by_ignored, (unsigned long long)at_nu);
    assert_int_equal(by_ignored, 0);
    assert_true(at_nu >= 1);
    fx_delete(f);
}

#define WALK_W 1024u   /* window of the held_lo tests */
#define WALK_K 100u    /* instances decided before the leader's 1a */
#define WALK_FRAMES 32 /* frames of a 1a naming a lower instance each */

/* The engine at ballot 2 decides instances 0 to WALK_K - 1 (two peers'
 * NOOP claims, weight 2 > F), then moves to the first ballot above 2 that
 * a peer leads, which it returns (its leader in *leader). */
static uint64_t
walk_setup(struct fx *f, uint32_t *leader)
{
    fx_to_ballot(f, 2);
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    for (uint32_t q = 0; q < 2; q++) {
        for (uint64_t i = 0; i < WALK_K; i += 20) {
            struct bpc_record recs[20];
            for (uint32_t j = 0; j < 20; j++) {
                recs[j] = bpc_record_make(BPC_MSG_DECIDED, i + j, 2, 0, &noop);
            }
            fx_send(f, fx_other(f, q), recs, 20);
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), WALK_K);
    uint64_t b = 3;
    while (fx_leader(f, b) == (int)f->me) {
        b++;
    }
    fx_to_ballot(f, b);
    *leader = (uint32_t)fx_leader(f, b);
    return b;
}

/* The leader's frame: its 1a naming lo, and a 1B_RANGE at b repeating
 * its coverage (a 1b at b: the re-check the 1a's change waits for). */
static void
walk_1a_frame(struct fx *f, uint32_t leader, uint64_t b, uint64_t lo)
{
    struct bpc_record r[2] = {bpc_record_make(BPC_MSG_1A, lo, b, 0, NULL),
                              bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL)};
    fx_send(f, leader, r, 2);
}

/* Goal: when the instances below nu a lagging leader asks about grow
 * (held_lo falls), a re-check walks only the instances that entered its
 * range, not the window. Method: window 1024, instances 0 to 99 decided;
 * at ballot b the leader's junk 2av touches instances 100 to 1023 (so
 * every slot holds its instance), then it sends WALK_FRAMES frames each
 * of a 1a naming one instance lower (99, 98, ...) and a 1B_RANGE at b.
 * Fails on feaeafb, where each frame walked [held_lo, nu + W): 30,096
 * visits in 32 frames (940.5 per frame; 65,536 per frame, 3.3 ms, at
 * window 65536: the review's repro_1a_walk); now 32 (1 per frame). */
static void
test_held_lo_walks_what_entered(void **state)
{
    (void)state;
    struct fx *f = fx_new(WALK_W, 256);
    uint32_t leader = 0;
    uint64_t b = walk_setup(f, &leader);
    struct bpc_vid junk;
    memset(&junk, 0, sizeof(junk));
    junk.kind = BPC_VALUE_INLINE;
    junk.len = 1;
    junk.id[0] = 7;
    for (uint64_t i = WALK_K; i < WALK_W; i += 128) {
        struct bpc_record recs[128];
        uint32_t m = WALK_W - i < 128 ? (uint32_t)(WALK_W - i) : 128;
        for (uint32_t j = 0; j < m; j++) {
            recs[j] = bpc_record_make(BPC_MSG_2AV, i + j, b, 0, &junk);
        }
        fx_send(f, leader, recs, m);
    }
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    for (int k = 0; k < WALK_FRAMES; k++) {
        walk_1a_frame(f, leader, b, WALK_K - 1u - (uint64_t)k);
    }
    uint64_t n = ctr->recheck_visits - visits;
    print_message("held_lo falling: %llu recheck visits in %d frames (%.1f per frame)\n",
                  (unsigned long long)n, WALK_FRAMES, (double)n / WALK_FRAMES);
    /* Each frame adds one instance to the range: it alone is walked. */
    assert_true(n >= 1);
    assert_true(n <= (uint64_t)WALK_FRAMES);
    fx_delete(f);
}

/* Goal: the walk of the instances that entered the range still examines
 * what no re-check at b looked at before: a 2a at b for a decided
 * instance below nu that arrived before the party joined b (the walk at
 * the ballot change starts at nu) gets its 2av once the leader's 1a asks
 * about that instance. Passes on feaeafb too (its whole walk reached it);
 * fails if a fall of held_lo walked nothing. */
static void
test_held_lo_walk_votes_below_nu(void **state)
{
    (void)state;
    struct fx *f = fx_new(WALK_W, 256);
    fx_to_ballot(f, 2);
    uint64_t b = 3;
    while (fx_leader(f, b) == (int)f->me) {
        b++;
    }
    uint32_t leader = (uint32_t)fx_leader(f, b);
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 5, b, 0, &noop));
    uint32_t got = 0;
    b = walk_setup(f, &got);
    assert_int_equal(got, leader);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 5, b) < 0);
    walk_1a_frame(f, leader, b, 5);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 5, b) >= 0);
    fx_delete(f);
}

/* Goal: commands applied re-examine only the held values waiting for
 * them. The leader's held values wait for commands of c that are never
 * applied; instances below them are decided one by one: no held value is
 * examined. Before, each decision applied commands, which moved the proof
 * epoch, and nu's move then examined every value held for a proof (review
 * E6's p5: 8,192 re-examinations a decision with 8,192 held, 3.6 million
 * instructions). */
static void
test_applied_commands_examine_their_waiters(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    struct bpc_vid held[HELD_K];
    fx_propose_at(f, leader, c, 8, HELD_K, 100, held);
    const struct bpc_counters *ctr = bpc_engine_counters(f->e);
    uint64_t visits = ctr->recheck_visits;
    for (uint32_t i = 0; i < 8; i++) {
        struct bpc_vid v;
        fx_propose_at(f, leader, leader, i, 1, 1u + i, &v);
        for (uint32_t k = 0; k < f->n - 1; k++) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, i, 2, 0, &v));
        }
    }
    print_message("8 decisions below %u held values: %llu re-examined, nu %llu\n", HELD_K,
                  (unsigned long long)(ctr->recheck_visits - visits),
                  (unsigned long long)bpc_engine_next_undecided(f->e));
    assert_int_equal(bpc_engine_next_undecided(f->e), 8);
    assert_int_equal(ctr->recheck_visits - visits, 0);
    fx_delete(f);
}

/* Goal: a held value whose command was applied since (decided at another
 * instance) is voted for without its MAC, by the next retransmit tick at
 * the latest, when it is a copy of what was applied: the decided value's
 * bytes prove it. A value with other bytes under that applied number
 * stays held (review A12: before, applying a command proved every copy
 * of it, whatever its bytes). */
static void
test_applied_command_frees_its_waiter(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    fx_to_ballot(f, 2);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    struct bpc_vid v0;
    struct bpc_vid v1;
    fx_propose_at(f, leader, c, 0, 1, 1, &v0);
    fx_propose_at(f, leader, c, 1, 1, 1, &v1); /* the same command again */
    uint8_t forged[64];
    struct bpc_vid vf;
    fx_batch(forged, c, 1, 8, 0x99, &vf); /* other bytes under that number */
    fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, 2, 2, 0, &vf));
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0);
    for (uint32_t k = 0; k < f->n - 1; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 0, 2, 0, &v0));
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 1);
    for (uint32_t ms = 0; ms < 30 && fx_find(f, 0, BPC_MSG_2AV, 1, 2) < 0; ms++) {
        f->now += FX_MS;
        fx_step(f, NULL, 0);
    }
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, 2) >= 0);
    for (uint32_t ms = 0; ms < 30; ms++) {
        f->now += FX_MS;
        fx_step(f, NULL, 0);
    }
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 2, 2) < 0);
    fx_delete(f);
}

/* Goal: a held 2a below the re-checks' range (an instance below nu whose
 * slot still holds it, which the leader did not ask about) costs nothing
 * once a report changed its view: further 1b records at the ballot look
 * at no held slot. Before, its changed view raised stale_view at every
 * look, and every 1b at the ballot, ignored ones included, passed over
 * every held slot for the rest of the ballot (review E6's p6).
 * Method: instances 0 to 3 decided at ballot 1; two peers' ranges join
 * ballot 2; the leader holds HELD_K values above nu and one at instance
 * 1; the third peer's 1b for instance 1, then the same 1b again. */
static void
test_held_below_range_costs_nothing(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 256);
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    uint32_t c = fx_not_leader(f, leader);
    uint32_t q = fx_other(f, 0) == leader ? fx_other(f, 1) : fx_other(f, 0);
    for (uint64_t i = 0; i < 4; i++) {
        uint8_t bytes[64];
        struct bpc_vid v;
        fx_batch(bytes, leader, 50u + i, 8, 0x33, &v);
        for (uint32_t k = 0; k < f->n - 1; k++) {
            if (fx_other(f, k) != q) {
                fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_DECIDED, i, 1, 0, &v));
            }
        }
    }
    assert_int_equal(bpc_engine_next_undecided(f->e), 4);
    for (uint32_t k = 0; k < f->n - 1; k++) {
        if (fx_other(f, k) != q) {
            fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_1B_RANGE, 0, 2, 0, NULL));
        }
    }
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    struct bpc_vid held[HELD_K];
    fx_propose_at(f, leader, c, 4, HELD_K, 100, held);
    struct bpc_vid below;
    fx_propose_at(f, leader, c, 1, 1, 200, &below);
    fx_send1(f, q, bpc_record_make(BPC_MSG_1B, 1, 2, 0, NULL));
    uint64_t looked = f->e->hd.looked;
    for (int k = 0; k < HELD_FRAMES; k++) {
        fx_send1(f, q, bpc_record_make(BPC_MSG_1B, 1, 2, 0, NULL));
    }
    print_message("held %u; %d ignored 1b records looked at %llu held slots\n", f->e->hd.count,
                  HELD_FRAMES, (unsigned long long)(f->e->hd.looked - looked));
    assert_true(f->e->hd.count >= HELD_K);
    assert_int_equal(f->e->hd.looked - looked, 0);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recheck_costs_what_changed),
        cmocka_unit_test(test_auth_wait_clears),
        cmocka_unit_test(test_wrong_mac_examines_its_waiters),
        cmocka_unit_test(test_range_flips_examine_held_once),
        cmocka_unit_test(test_view_changes_look_at_what_they_name),
        cmocka_unit_test(test_range_over_the_wrap_reaches_held),
        cmocka_unit_test(test_reused_held_slot_under_a_range),
        cmocka_unit_test(test_right_mac_after_wrong_decides),
        cmocka_unit_test(test_held_safe_votes_on_quorum),
        cmocka_unit_test(test_held_view_waits_for_nu),
        cmocka_unit_test(test_slot_waiting_for_nu_costs_nothing),
        cmocka_unit_test(test_held_lo_walks_what_entered),
        cmocka_unit_test(test_held_lo_walk_votes_below_nu),
        cmocka_unit_test(test_applied_commands_examine_their_waiters),
        cmocka_unit_test(test_applied_command_frees_its_waiter),
        cmocka_unit_test(test_held_below_range_costs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
