/*
 * test_tap.c - the frame tap of bpcon-cluster (dataplane/tools/cluster_tap.c),
 * the judge the chaos loop relies on.
 *
 * Goal: each kind of contradiction the tap claims to catch is caught (a
 * promise going backwards, a second 2av or 2b at one ballot with another
 * value, a 1b reporting a vote older than or other than the party's 2b,
 * a 1b range reporting a voted instance empty), the legal patterns are
 * not flagged (repeats, later copies of a round to other peers, votes at
 * higher ballots, a 1b reporting the voted value), and frames with a bad
 * tag are not judged.
 * Method: frames built with the wire encoder under pair keys, fed to the
 * tap one scenario per fresh tap; the count of contradictions is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <string.h>

#include "cluster.h"

#define TT_PARTIES 4u

static uint8_t tt_keys[CL_PARTIES_MAX][CL_PARTIES_MAX][BPC_KEY_BYTES];

struct tt {
    struct cl_tap *tap;
    uint64_t seq;
};

static void
tt_new(struct tt *t)
{
    for (uint32_t i = 0; i < TT_PARTIES; i++) {
        for (uint32_t j = 0; j < TT_PARTIES; j++) {
            memset(tt_keys[i][j], (int)(1u + (i < j ? i * 8u + j : j * 8u + i)), BPC_KEY_BYTES);
        }
    }
    t->tap = cl_tap_new(TT_PARTIES, (const uint8_t(*)[CL_PARTIES_MAX][BPC_KEY_BYTES])tt_keys, 1400);
    assert_non_null(t->tap);
    t->seq = 1;
}

static uint64_t
tt_end(struct tt *t)
{
    struct cl_summary s;
    memset(&s, 0, sizeof(s));
    cl_tap_report(t->tap, &s);
    cl_tap_free(t->tap);
    return s.contradictions;
}

static struct bpc_vid
tt_val(uint8_t tag)
{
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = BPC_VALUE_INLINE;
    v.len = 1;
    v.id[0] = tag;
    return v;
}

/* One frame from `from` to `to` with one record; bad_tag spoils its tag. */
static void
tt_send(struct tt *t, uint32_t from, uint32_t to, uint8_t type, uint64_t instance, uint64_t ballot,
        uint64_t aux, uint8_t val, bool bad_tag)
{
    uint8_t buf[1400];
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), 0), 0);
    struct bpc_vid v = tt_val(val);
    struct bpc_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.instance = instance;
    r.ballot = ballot;
    r.aux = aux;
    if (val != 0) {
        r.value = v;
    }
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    struct bpc_frame_header h = {
        .cluster_id = 1, .sender = (uint16_t)from, .receiver = (uint16_t)to, .seq = t->seq++};
    uint32_t len = bpc_wire_finish(&w, &h, tt_keys[from][to]);
    if (bad_tag) {
        buf[len - 1] ^= 1;
    }
    cl_tap_frame(t->tap, buf, len);
}

static void
test_tap_legal_patterns(void **state)
{
    (void)state;
    struct tt t;
    tt_new(&t);
    /* 1b(1), 2av(1, a), 2b(1, a) for instance 5, each to every peer, then a
     * round mixing a ballot-2 1b with copies of ballot-1 votes to peer 3. */
    for (uint32_t to = 1; to < TT_PARTIES; to++) {
        tt_send(&t, 0, to, BPC_MSG_1B_RANGE, 0, 1, 0, 0, false);
        tt_send(&t, 0, to, BPC_MSG_2AV, 5, 1, 0, 'a', false);
    }
    tt_send(&t, 0, 1, BPC_MSG_2B, 5, 1, 0, 'a', false);
    tt_send(&t, 0, 1, BPC_MSG_1B, 5, 2, 1, 'a', false); /* reports its vote */
    tt_send(&t, 0, 2, BPC_MSG_2B, 5, 1, 0, 'a', false); /* a later copy */
    tt_send(&t, 0, 2, BPC_MSG_1B, 5, 2, 1, 'a', false);
    /* Votes at the higher ballot, even for another value, are legal. */
    tt_send(&t, 0, 1, BPC_MSG_2AV, 5, 2, 0, 'b', false);
    tt_send(&t, 0, 1, BPC_MSG_2B, 5, 2, 0, 'b', false);
    /* A range starting above the voted instance says nothing about it. */
    tt_send(&t, 0, 1, BPC_MSG_1B_RANGE, 6, 3, 0, 0, false);
    assert_int_equal(tt_end(&t), 0);
}

static void
test_tap_promise_backwards(void **state)
{
    (void)state;
    struct tt t;
    tt_new(&t);
    tt_send(&t, 1, 0, BPC_MSG_1B_RANGE, 0, 3, 0, 0, false);
    tt_send(&t, 1, 0, BPC_MSG_2AV, 7, 2, 0, 'a', false);
    assert_int_equal(tt_end(&t), 1);
    tt_new(&t);
    tt_send(&t, 1, 0, BPC_MSG_2B, 7, 3, 0, 'a', false);
    tt_send(&t, 1, 0, BPC_MSG_1B_RANGE, 0, 2, 0, 0, false);
    assert_int_equal(tt_end(&t), 1);
}

static void
test_tap_second_vote_same_ballot(void **state)
{
    (void)state;
    struct tt t;
    tt_new(&t);
    tt_send(&t, 2, 0, BPC_MSG_2AV, 9, 4, 0, 'a', false);
    tt_send(&t, 2, 0, BPC_MSG_2AV, 9, 4, 0, 'b', false);
    assert_int_equal(tt_end(&t), 1);
    tt_new(&t);
    tt_send(&t, 2, 0, BPC_MSG_2B, 9, 4, 0, 'a', false);
    tt_send(&t, 2, 1, BPC_MSG_2B, 9, 4, 0, 'b', false);
    assert_int_equal(tt_end(&t), 1);
}

static void
test_tap_forgotten_vote(void **state)
{
    (void)state;
    struct tt t;
    /* After 2b(3, a), 1b reports of no vote, of an older vote for another
     * value, or of another value at ballot 3: three contradictions. (An
     * older ballot with the same value is not judged: a party may report
     * a decided instance at its deciding ballot, see the engine.) */
    tt_new(&t);
    tt_send(&t, 3, 0, BPC_MSG_2B, 11, 3, 0, 'a', false);
    tt_send(&t, 3, 0, BPC_MSG_1B, 11, 5, 0, 0, false);
    tt_send(&t, 3, 0, BPC_MSG_1B, 11, 6, 2, 'c', false);
    tt_send(&t, 3, 0, BPC_MSG_1B, 11, 7, 3, 'c', false);
    tt_send(&t, 3, 0, BPC_MSG_1B, 11, 8, 2, 'a', false);
    assert_int_equal(tt_end(&t), 3);
    /* A range record reporting the voted instance empty. */
    tt_new(&t);
    tt_send(&t, 3, 0, BPC_MSG_2B, 11, 3, 0, 'a', false);
    tt_send(&t, 3, 0, BPC_MSG_1B_RANGE, 4, 5, 2, 0, false);
    assert_int_equal(tt_end(&t), 1);
}

static void
test_tap_bad_tag_not_judged(void **state)
{
    (void)state;
    struct tt t;
    tt_new(&t);
    tt_send(&t, 1, 0, BPC_MSG_2B, 3, 4, 0, 'a', false);
    tt_send(&t, 1, 0, BPC_MSG_2B, 3, 4, 0, 'b', true); /* forged: never judged */
    struct cl_summary s;
    memset(&s, 0, sizeof(s));
    cl_tap_report(t.tap, &s);
    assert_int_equal(s.tap_frames, 1);
    assert_int_equal(tt_end(&t), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tap_legal_patterns),
        cmocka_unit_test(test_tap_promise_backwards),
        cmocka_unit_test(test_tap_second_vote_same_ballot),
        cmocka_unit_test(test_tap_forgotten_vote),
        cmocka_unit_test(test_tap_bad_tag_not_judged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
