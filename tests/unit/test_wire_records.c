/*
 * test_wire_records.c - unit tests of the frame codec (engine/src/wire.c):
 * the rules particular record types add (wire_fx.h holds the shared
 * helpers).
 *
 * Goal: a DECIDED may name its DIGEST value without the bytes; a FORWARD
 * of a long command names its command MAC; an ATTEST holds one or two
 * MACs; a REFUSE a sequence number and a submitter; a VOTES record a run
 * of votes under one digest; only frames of votes pass the votes-only
 * gate. Each decodes when its fields follow its rule, and any field
 * outside it is BAD_VALUE.
 *
 * Method: records are built with the encoder's helpers (bpc_record_make,
 * bpc_forward_value, bpc_votes_digest), or a good record's fields are
 * overwritten and the frame re-tagged, then decoded; table-driven cases
 * name the failing row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpcon.h"
#include "internal.h"

#include "wire_fx.h"

/* A DECIDED of a DIGEST value may name it without its bytes (aux =
 * BPC_WIRE_AUX_NO_BYTES: a party whose ring entry came back from its store
 * after a restart): it decodes with no bytes. Any other aux of such a
 * record is an offset into the value section and is checked as before. */
static void
test_wire_decided_without_bytes(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_header h;
    struct bpc_record recs[2];
    struct bpc_record r = test_wire_digest(BPC_MSG_DECIDED, 7, 3, test_wire_val_a, 100, false);
    r.aux = BPC_WIRE_AUX_NO_BYTES;
    uint32_t len = test_wire_encode(buf, sizeof(buf), &r, 1, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_int_equal(h.value_bytes, 0);
    assert_int_equal(bpc_wire_decode(buf, len, &h, recs, 2), 1);
    assert_int_equal(recs[0].type, BPC_MSG_DECIDED);
    assert_true(recs[0].aux == BPC_WIRE_AUX_NO_BYTES);
    assert_null(recs[0].value_bytes);
    assert_true(bpc_vid_eq(&recs[0].value, &r.value));
    /* One less than the marker is an offset past the (empty) section. */
    r.aux = BPC_WIRE_AUX_NO_BYTES - 1;
    len = test_wire_encode(buf, sizeof(buf), &r, 1, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_int_equal(bpc_wire_decode(buf, len, &h, recs, 2), -1 - BPC_DROP_BAD_VALUE);
    /* The marker means nothing for a 2A: its bytes must be there. */
    r.type = BPC_MSG_2A;
    r.aux = BPC_WIRE_AUX_NO_BYTES;
    len = test_wire_encode(buf, sizeof(buf), &r, 1, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_int_equal(bpc_wire_decode(buf, len, &h, recs, 2), -1 - BPC_DROP_BAD_VALUE);
}

/* A FORWARD of a long command names the command MAC, not a digest
 * (bpc_forward_value): its bytes decode unhashed, so bytes changed in
 * transit still decode and only the MAC, which the leader checks, tells;
 * the id's second half must be zero (a version-2 FORWARD, which named a
 * BLAKE2b-256 digest there, is BAD_VALUE); a short command stays inline. */
static void
test_wire_forward_mac(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_header h;
    struct bpc_record recs[2];
    uint8_t mac[BPC_CMD_MAC_BYTES];
    struct bpc_record r = test_wire_rec(BPC_MSG_FORWARD, 9, 2, 0);
    bpc_forward_value(test_wire_key, 9, test_wire_val_a, 64, &r.value);
    assert_int_equal(r.value.kind, BPC_VALUE_DIGEST);
    assert_int_equal(r.value.len, 64);
    bpc_command_mac(test_wire_key, 9, test_wire_val_a, 64, mac);
    assert_memory_equal(r.value.id, mac, sizeof(mac));
    static const uint8_t zero[BPC_VALUE_INLINE_MAX - BPC_CMD_MAC_BYTES];
    assert_memory_equal(r.value.id + BPC_CMD_MAC_BYTES, zero, sizeof(zero));
    r.value_bytes = test_wire_val_a;
    uint32_t len = test_wire_encode(buf, sizeof(buf), &r, 1, 64);
    assert_int_equal(len, 32 + 64 + 64 + 16);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    test_wire_assert_vid_eq(&test_wire_out[0].value, &r.value);
    assert_memory_equal(test_wire_out[0].value_bytes, test_wire_val_a, 64);
    /* A byte of the section changed: it decodes, the MAC no longer fits. */
    buf[32 + 64 + 5] ^= 1;
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    bpc_command_mac(test_wire_key, 9, test_wire_out[0].value_bytes, 64, mac);
    assert_memory_not_equal(test_wire_out[0].value.id, mac, sizeof(mac));
    /* The second half of the id is not zero. */
    struct bpc_record bad = r;
    bad.value.id[BPC_VALUE_INLINE_MAX - 1] = 1;
    len = test_wire_encode(buf, sizeof(buf), &bad, 1, 64);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_int_equal(bpc_wire_decode(buf, len, &h, recs, 2), -1 - BPC_DROP_BAD_VALUE);
    /* Named by its digest, as version 2 did. */
    bad = test_wire_digest(BPC_MSG_FORWARD, 9, 2, test_wire_val_a, 64, true);
    len = test_wire_encode(buf, sizeof(buf), &bad, 1, 64);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_int_equal(bpc_wire_decode(buf, len, &h, recs, 2), -1 - BPC_DROP_BAD_VALUE);
    /* Up to 32 bytes: the bytes themselves, as any inline value. */
    struct bpc_vid v;
    bpc_forward_value(test_wire_key, 9, test_wire_val_a, 32, &v);
    assert_int_equal(v.kind, BPC_VALUE_INLINE);
    assert_memory_equal(v.id, test_wire_val_a, 32);
}

/* An ATTEST holds one command MAC (16 bytes) or two (32 bytes: for
 * instance and instance + 1, so not at the top sequence number); any
 * other length, another kind, or a command length above the value limit
 * is BAD_VALUE. */
static void
test_wire_attest_macs(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_header h;
    struct bpc_record recs[2];
    struct bpc_vid two;
    memset(&two, 0, sizeof(two));
    two.kind = BPC_VALUE_INLINE;
    two.len = 2 * BPC_CMD_MAC_BYTES;
    bpc_command_mac(test_wire_key, 9, test_wire_val_a, 64, two.id);
    bpc_command_mac(test_wire_key, 10, test_wire_val_b, 40, two.id + BPC_CMD_MAC_BYTES);
    struct bpc_record r = bpc_record_make(BPC_MSG_ATTEST, 9, 2, 64, &two);
    uint32_t len = test_wire_encode(buf, sizeof(buf), &r, 1, 0);
    assert_int_equal(len, 32 + 64 + 16);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    test_wire_assert_vid_eq(&test_wire_out[0].value, &two);
    assert_true(test_wire_out[0].instance == 9 && test_wire_out[0].aux == 64);
    struct {
        uint8_t kind;
        uint16_t vlen;
        uint64_t instance;
        uint64_t aux;
        bool ok;
    } cases[] = {
        {BPC_VALUE_INLINE, 16, 9, 64, true},
        {BPC_VALUE_INLINE, 32, UINT64_MAX - 1, 64, true},
        {BPC_VALUE_INLINE, 16, UINT64_MAX, 64, true},
        {BPC_VALUE_INLINE, 32, UINT64_MAX, 64, false},
        {BPC_VALUE_INLINE, 24, 9, 64, false},
        {BPC_VALUE_INLINE, 8, 9, 64, false},
        {BPC_VALUE_INLINE, 32, 9, BPC_VALUE_BYTES_MAX + 1, false},
        {BPC_VALUE_NOOP, 0, 9, 64, false},
    };
    for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpc_vid v;
        memset(&v, 0, sizeof(v));
        v.kind = cases[i].kind;
        v.len = cases[i].vlen;
        if (v.kind == BPC_VALUE_INLINE) {
            memset(v.id, 0x5a, v.len);
        }
        struct bpc_record c = bpc_record_make(BPC_MSG_ATTEST, cases[i].instance, 2, 0, &v);
        c.aux = cases[i].aux;
        len = test_wire_encode(buf, sizeof(buf), &c, 1, 0);
        assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
        int got = bpc_wire_decode(buf, len, &h, recs, 2);
        if (got != (cases[i].ok ? 1 : -1 - BPC_DROP_BAD_VALUE)) {
            print_error("ATTEST case %u: got %d\n", i, got);
            fail();
        }
    }
}

/* REFUSE (wire version 5): an INLINE value of exactly 8 bytes holding a
 * sequence number that is not 0, a submitter number in aux up to 65535;
 * anything else is BAD_VALUE. */
static void
test_wire_refuse(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_header h;
    struct bpc_record recs[2];
    struct {
        uint8_t kind;
        uint16_t vlen;
        uint64_t seq;
        uint64_t aux;
        bool ok;
    } cases[] = {
        {BPC_VALUE_INLINE, 8, 7, 2, true},   {BPC_VALUE_INLINE, 8, UINT64_MAX, UINT16_MAX, true},
        {BPC_VALUE_INLINE, 8, 0, 2, false},  {BPC_VALUE_INLINE, 8, 7, UINT16_MAX + 1u, false},
        {BPC_VALUE_INLINE, 16, 7, 2, false}, {BPC_VALUE_INLINE, 4, 7, 2, false},
        {BPC_VALUE_NOOP, 0, 0, 2, false},    {BPC_VALUE_NONE, 0, 0, 2, false},
    };
    for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpc_vid v;
        memset(&v, 0, sizeof(v));
        v.kind = cases[i].kind;
        v.len = cases[i].vlen;
        for (uint32_t k = 0; k < 8 && v.kind == BPC_VALUE_INLINE; k++) {
            v.id[k] = (uint8_t)(cases[i].seq >> (8 * k));
        }
        struct bpc_record c = bpc_record_make(BPC_MSG_REFUSE, 11, 3, 0, &v);
        c.aux = cases[i].aux;
        uint32_t len = test_wire_encode(buf, sizeof(buf), &c, 1, 0);
        assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
        int got = bpc_wire_decode(buf, len, &h, recs, 2);
        if (got != (cases[i].ok ? 1 : -1 - BPC_DROP_BAD_VALUE)) {
            print_error("REFUSE case %u: got %d\n", i, got);
            fail();
        }
        if (cases[i].ok) {
            assert_true(recs[0].instance == 11 && recs[0].ballot == 3);
            assert_true(recs[0].aux == cases[i].aux);
            assert_true(bpc_le64_load(recs[0].value.id) == cases[i].seq);
        }
    }
}

/* bpc_wire_votes_only (the engine's gate for decoding before the tag):
 * true only for frames of 2AV, 2B and VOTES records with no value bytes;
 * any other type, carried bytes, or no record at all says false. */
static void
test_wire_votes_only(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_header h;
    struct bpc_record run = test_wire_rec(BPC_MSG_VOTES, 3, 2, BPC_MSG_2B | 2u << 8);
    struct bpc_vid vids[2] = {test_wire_inline(BPC_MSG_2AV, 0, 0, 0, "a").value,
                              test_wire_inline(BPC_MSG_2AV, 0, 0, 0, "b").value};
    run.value.kind = BPC_VALUE_DIGEST;
    run.value.len = 2 * BPC_VOTES_VID_BYTES;
    bpc_votes_digest(2, 3, 2, vids, run.value.id);
    struct bpc_record votes[4] = {
        test_wire_inline(BPC_MSG_2AV, 1, 2, 0, "v"), test_wire_inline(BPC_MSG_2B, 1, 2, 0, "v"),
        test_wire_digest(BPC_MSG_2B, 2, 2, test_wire_val_a, 100, false), run};
    uint32_t len = test_wire_encode(buf, sizeof(buf), votes, 4, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_true(bpc_wire_votes_only(buf, &h));
    len = test_wire_encode(buf, sizeof(buf), &run, 1, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_true(bpc_wire_votes_only(buf, &h));
    len = test_wire_encode(buf, sizeof(buf), votes, 3, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_true(bpc_wire_votes_only(buf, &h));
    static const uint8_t others[] = {BPC_MSG_1A, BPC_MSG_1B_RANGE, BPC_MSG_2A, BPC_MSG_STATUS,
                                     BPC_MSG_DECIDED};
    for (uint32_t k = 0; k < sizeof(others); k++) {
        struct bpc_record mixed[2] = {votes[0], test_wire_rec(others[k], 1, 2, 0)};
        if (others[k] == BPC_MSG_2A || others[k] == BPC_MSG_DECIDED) {
            mixed[1] = test_wire_inline(others[k], 1, 2, 0, "v");
        } else if (others[k] == BPC_MSG_STATUS) {
            mixed[1] = test_wire_rec(others[k], 1, 0, 0);
        }
        len = test_wire_encode(buf, sizeof(buf), mixed, 2, 0);
        assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
        assert_false(bpc_wire_votes_only(buf, &h));
    }
    /* Carried bytes: a 2A with its value beside two votes. */
    struct bpc_record carried[3] = {votes[0], votes[1],
                                    test_wire_digest(BPC_MSG_2A, 3, 2, test_wire_val_a, 100, true)};
    len = test_wire_encode(buf, sizeof(buf), carried, 3, 256);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_true(h.value_bytes > 0);
    assert_false(bpc_wire_votes_only(buf, &h));
    /* No record. */
    len = test_wire_encode(buf, sizeof(buf), votes, 0, 0);
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_false(bpc_wire_votes_only(buf, &h));
}

/* A VOTES record: a run of 2..BPC_VOTES_RUN_MAX 2AV or 2B votes; its value
 * is a DIGEST of length BPC_VOTES_VID_BYTES x k, not carried. Anything
 * else in those fields is BAD_VALUE. */
static void
test_wire_votes_rules(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_vid vids[3] = {test_wire_inline(BPC_MSG_2AV, 0, 0, 0, "a").value,
                              test_wire_inline(BPC_MSG_2AV, 0, 0, 0, "b").value,
                              test_wire_inline(BPC_MSG_2AV, 0, 0, 0, "c").value};
    struct bpc_record good = test_wire_rec(BPC_MSG_VOTES, 10, 4, BPC_MSG_2AV | 3u << 8);
    good.value.kind = BPC_VALUE_DIGEST;
    good.value.len = 3 * BPC_VOTES_VID_BYTES;
    bpc_votes_digest(4, 10, 3, vids, good.value.id);
    uint32_t len = test_wire_encode(buf, sizeof(buf), &good, 1, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    test_wire_assert_rec_eq(&good, &test_wire_out[0], true);
    /* The digest depends on every input (the vote type is the record's). */
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_votes_digest(5, 10, 3, vids, d);
    assert_memory_not_equal(d, good.value.id, sizeof(d));
    bpc_votes_digest(4, 11, 3, vids, d);
    assert_memory_not_equal(d, good.value.id, sizeof(d));
    bpc_votes_digest(4, 10, 2, vids, d);
    assert_memory_not_equal(d, good.value.id, sizeof(d));
    struct bpc_vid other[3] = {vids[0], vids[1], vids[1]};
    bpc_votes_digest(4, 10, 3, other, d);
    assert_memory_not_equal(d, good.value.id, sizeof(d));
    struct bpc_vid swapped[3] = {vids[1], vids[0], vids[2]};
    bpc_votes_digest(4, 10, 3, swapped, d);
    assert_memory_not_equal(d, good.value.id, sizeof(d));
    struct bad {
        uint64_t aux;
        uint16_t len;
        uint64_t instance;
    } bad[] = {
        {BPC_MSG_2A | 3u << 8, 3 * BPC_VOTES_VID_BYTES, 10},  /* not a vote type */
        {BPC_MSG_2AV | 1u << 8, 1 * BPC_VOTES_VID_BYTES, 10}, /* a run of one */
        {BPC_MSG_2AV | (BPC_VOTES_RUN_MAX + 1u) << 8, BPC_VALUE_BYTES_MAX, 10}, /* too long */
        {BPC_MSG_2AV | 3u << 8, 2 * BPC_VOTES_VID_BYTES, 10},                   /* length not k's */
        {BPC_MSG_2AV | 3u << 8, 3 * BPC_VOTES_VID_BYTES, UINT64_MAX - 1},       /* past 2^64 */
        {BPC_MSG_2AV | 3u << 8 | 1ull << 40, 3 * BPC_VOTES_VID_BYTES, 10},      /* stray aux bits */
    };
    /* A peer's bytes: the good record's fields overwritten, the frame
     * tagged again (the encoder refuses such records in debug builds). */
    for (uint32_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        len = test_wire_encode(buf, sizeof(buf), &good, 1, 0);
        uint8_t *rec = buf + BPC_WIRE_HEADER_BYTES;
        bpc_le16_store(rec + 4, bad[k].len);      /* value_len */
        bpc_le64_store(rec + 8, bad[k].instance); /* instance */
        bpc_le64_store(rec + 24, bad[k].aux);     /* aux */
        test_wire_retag(buf, len);
        assert_int_equal(test_wire_decode_ok_header(buf, len), -1 - BPC_DROP_BAD_VALUE);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_votes_only),  cmocka_unit_test(test_wire_decided_without_bytes),
        cmocka_unit_test(test_wire_forward_mac), cmocka_unit_test(test_wire_attest_macs),
        cmocka_unit_test(test_wire_refuse),      cmocka_unit_test(test_wire_votes_rules),
    };
    return cmocka_run_group_tests(tests, test_wire_setup, NULL);
}
