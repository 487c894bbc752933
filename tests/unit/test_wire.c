/*
 * test_wire.c - unit tests of the frame codec (engine/src/wire.c): round
 * trips, the layout and capacity. test_wire_drops.c holds the refusals of
 * altered frames, test_wire_records.c the rules particular record types
 * add; wire_fx.h what the three share.
 *
 * Goal: every record type survives encode/decode unchanged; the bytes sit
 * at the offsets docs/WIRE.md states; a frame takes exactly the records and
 * value bytes its size leaves room for, and the writer refuses the rest.
 *
 * Method: frames are built with the encoder and decoded; golden bytes are
 * compared at offsets wire_fx.h spells out on its own (not wire.c's
 * constants, so the two pair up).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpcon.h"
#include "internal.h"

#include "wire_fx.h"

/* ---- round trips -------------------------------------------------------- */

static void
test_wire_round_trip_every_type(void **state)
{
    (void)state;
    struct bpc_record r[16];
    uint32_t n = 0;
    r[n++] = test_wire_rec(BPC_MSG_1A, 100, 3, 0);
    r[n++] = test_wire_rec(BPC_MSG_1B, 100, 3, 0); /* no vote */
    r[n] = test_wire_inline(BPC_MSG_1B, 101, 3, 2, "voted");
    r[n++].hist_count = 2;
    r[n++] = test_wire_inline(BPC_MSG_1B_HIST, 101, 3, 2, "voted");
    r[n] = test_wire_digest(BPC_MSG_1B_HIST, 101, 3, test_wire_val_b, 500, false);
    r[n++].aux = 1;
    r[n++] = test_wire_rec(BPC_MSG_1B_RANGE, 90, 3, UINT64_MAX);
    r[n++] = test_wire_digest(BPC_MSG_2A, 102, 3, test_wire_val_a, 100, true);
    r[n++] = test_wire_digest(BPC_MSG_2A, 103, 3, test_wire_val_b, 500, true);
    r[n++] = test_wire_inline(BPC_MSG_2A, 104, 3, 0, "");
    r[n++] = test_wire_noop(BPC_MSG_2A, 105, 3);
    r[n++] = test_wire_digest(BPC_MSG_2AV, 103, 3, test_wire_val_b, 500, false);
    r[n++] = test_wire_inline(BPC_MSG_2B, 104, 3, 0, "0123456789abcdef0123456789abcdef");
    r[n++] = test_wire_digest(BPC_MSG_DECIDED, 50, 1, test_wire_val_c, 40, true);
    r[n++] = test_wire_noop(BPC_MSG_DECIDED, 51, 1);
    r[n++] = test_wire_rec(BPC_MSG_STATUS, 52, 0, 0);
    r[n++] = test_wire_digest(BPC_MSG_2B, 106, 3, test_wire_val_max, BPC_VALUE_BYTES_MAX, false);
    uint32_t value_bytes = 100 + 500 + 40;

    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, n, value_bytes);
    assert_int_equal(len, T_HDR + T_REC * n + value_bytes + T_TAG);

    struct bpc_frame_header h;
    assert_int_equal(bpc_wire_parse_header(buf, len, &h), 0);
    assert_true(h.cluster_id == test_wire_hdr.cluster_id);
    assert_int_equal(h.sender, test_wire_hdr.sender);
    assert_int_equal(h.receiver, test_wire_hdr.receiver);
    assert_true(h.seq == test_wire_hdr.seq);
    assert_int_equal(h.record_count, n);
    assert_int_equal(h.value_bytes, value_bytes);
    assert_true(bpc_wire_verify(buf, len, test_wire_key));
    assert_false(bpc_wire_verify(buf, len, test_wire_other_key));

    assert_int_equal(bpc_wire_decode(buf, len, &h, test_wire_out, n), (int)n);
    for (uint32_t i = 0; i < n; i++) {
        test_wire_assert_rec_eq(&r[i], &test_wire_out[i], !test_wire_carried(&r[i]));
    }
    /* Carried values sit in put order right behind the last record. */
    const uint8_t *section = buf + T_HDR + T_REC * n;
    assert_true(test_wire_out[6].aux == 0 && test_wire_out[6].value_bytes == section);
    assert_true(test_wire_out[7].aux == 100 && test_wire_out[7].value_bytes == section + 100);
    assert_true(test_wire_out[12].aux == 600 && test_wire_out[12].value_bytes == section + 600);
}

/* Golden bytes: the encoder writes each field where the layout says. */
static void
test_wire_layout_bytes(void **state)
{
    (void)state;
    struct bpc_record r = test_wire_digest(BPC_MSG_2A, 0x0a0b0c0d0e0f1011u, 0x2122232425262728u,
                                           test_wire_val_c, 40, true);
    static uint8_t buf[512];
    memset(buf, 0xee, sizeof(buf));
    uint32_t len = test_wire_encode(buf, 400, &r, 1, 64);
    assert_int_equal(len, 32 + 64 + 40 + 16);

    static const uint8_t hdr[32] = {
        0x42, 0x50, 0x43, 0x31, 5,  0, 1, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        3,    0,    0x05, 0x04, 40, 0, 0, 0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    };
    assert_memory_equal(buf, hdr, sizeof(hdr));
    assert_memory_equal(buf, "BPC1", 4);
    /* type 2A (5), kind DIGEST (2), hist 0, reserved, value_len 40, reserved,
     * instance, ballot, aux 0 (the value's offset in the section). */
    _Static_assert(BPC_MSG_2A == 5 && BPC_VALUE_DIGEST == 2, "wire codes");
    static const uint8_t rec[32] = {
        0x05, 0x02, 0,    0,    40,   0,    0,    0,    0x11, 0x10, 0x0f,
        0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x28, 0x27, 0x26, 0x25, 0x24, 0x23,
        0x22, 0x21, 0,    0,    0,    0,    0,    0,    0,    0,
    };
    assert_memory_equal(buf + T_HDR, rec, sizeof(rec));
    assert_memory_equal(buf + T_HDR + T_REC_VALUE, r.value.id, 32);
    assert_memory_equal(buf + T_HDR + T_REC, test_wire_val_c, 40);

    /* The tag covers the header and the record, not the carried value. */
    uint8_t tag[BPC_TAG_BYTES];
    bpc_auth_tag(test_wire_key, buf, T_HDR + T_REC, tag);
    assert_memory_equal(buf + len - T_TAG, tag, T_TAG);
    /* Nothing past cap (400) was touched; below it, the frame's bytes are
     * all written by the encoder (checked above, reserved bytes included). */
    for (uint32_t i = 400; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0xee);
    }
}

static void
test_wire_empty_frame(void **state)
{
    (void)state;
    uint8_t buf[64];
    uint32_t len = test_wire_encode(buf, sizeof(buf), NULL, 0, 0);
    assert_int_equal(len, T_HDR + T_TAG);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 0);
}

/* Carried values lie as the encoder puts them: one per carried record, in
 * record order, with no gaps and nothing after them. Two in order decode;
 * a second record pointing at bytes an earlier one carried, a value out
 * of order, and bytes no record carries are each dropped (BAD_VALUE).
 * Before, any range inside the section was taken, so one authenticated
 * peer's frame could name the same bytes from every record and have them
 * hashed once per record (the review's 69 records over 4,476 bytes: 356
 * us against 5 us for one). */
static void
test_wire_values_in_order(void **state)
{
    (void)state;
    const int bad = -1 - (int)BPC_DROP_BAD_VALUE;
    struct bpc_record r[2];
    r[0] = test_wire_digest(BPC_MSG_2A, 1, 1, test_wire_val_a, 100, true);
    r[1] = test_wire_digest(BPC_MSG_DECIDED, 2, 1, test_wire_val_b, 500, true);
    static uint8_t buf[1024];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, 2, 600);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 2);
    assert_memory_equal(test_wire_out[0].value_bytes, test_wire_val_a, 100);
    assert_memory_equal(test_wire_out[1].value_bytes, test_wire_val_b, 500);
    /* The second record pointed back at the first one's bytes. */
    r[1] = test_wire_digest(BPC_MSG_DECIDED, 2, 1, test_wire_val_a, 100, false);
    r[1].aux = 0;
    len = test_wire_encode(buf, sizeof(buf), r, 2, 100);
    assert_int_equal(test_wire_decode_ok_header(buf, len), bad);
    /* The values swapped: each record's offset names the other's bytes. */
    r[1] = test_wire_digest(BPC_MSG_DECIDED, 2, 1, test_wire_val_b, 500, true);
    len = test_wire_encode(buf, sizeof(buf), r, 2, 600);
    bpc_le64_store(buf + T_HDR + T_REC_AUX, 500);
    bpc_le64_store(buf + T_HDR + T_REC + T_REC_AUX, 0);
    memmove(buf + T_HDR + 2 * T_REC + 500, buf + T_HDR + 2 * T_REC, 100);
    memcpy(buf + T_HDR + 2 * T_REC, test_wire_val_b, 500);
    test_wire_retag(buf, len);
    assert_int_equal(test_wire_decode_ok_header(buf, len), bad);
    /* One byte after the last value, in the length and the header. */
    len = test_wire_encode(buf, sizeof(buf), r, 1, 100);
    memmove(buf + len - T_TAG + 1, buf + len - T_TAG, T_TAG);
    buf[len - T_TAG] = 0x5a;
    len++;
    bpc_le32_store(buf + T_HDR_VALUE_BYTES, 101);
    test_wire_retag(buf, len);
    assert_int_equal(test_wire_decode_ok_header(buf, len), bad);
}

static void
test_wire_history_max(void **state)
{
    (void)state;
    struct bpc_record r[1 + BPC_HISTORY_MAX];
    r[0] = test_wire_inline(BPC_MSG_1B, 7, 9, 8, "v8");
    r[0].hist_count = BPC_HISTORY_MAX;
    for (uint32_t i = 1; i <= BPC_HISTORY_MAX; i++) {
        r[i] = test_wire_inline(BPC_MSG_1B_HIST, 7, 9, 9 - i, "h");
    }
    static uint8_t buf[1024];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, 1 + BPC_HISTORY_MAX, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1 + BPC_HISTORY_MAX);
    for (uint32_t i = 0; i <= BPC_HISTORY_MAX; i++) {
        test_wire_assert_rec_eq(&r[i], &test_wire_out[i], true);
    }
}

/* ---- capacity ----------------------------------------------------------- */

static void
test_wire_records_max_values(void **state)
{
    (void)state;
    assert_int_equal(bpc_wire_records_max(0), 0);
    assert_int_equal(bpc_wire_records_max(47), 0);
    assert_int_equal(bpc_wire_records_max(48), 0);
    assert_int_equal(bpc_wire_records_max(111), 0);
    assert_int_equal(bpc_wire_records_max(112), 1);
    assert_int_equal(bpc_wire_records_max(BPC_FRAME_BYTES_MIN), 1);
    assert_int_equal(bpc_wire_records_max(1400), 21);
    assert_int_equal(bpc_wire_records_max(BPC_FRAME_BYTES_MAX), 139);
    assert_int_equal(bpc_wire_records_max(BPC_FRAME_BYTES_MAX + 1), 139);
    assert_int_equal(bpc_wire_records_max(UINT32_MAX), 139);
}

/* Fill frames of several sizes until put refuses: exactly records_max fit. */
static void
test_wire_fill_to_records_max(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {BPC_FRAME_BYTES_MIN, 1400, 1500, BPC_FRAME_BYTES_MAX};
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct bpc_wire_writer w;
        assert_int_equal(bpc_wire_begin(&w, buf, sizes[s], 0), 0);
        uint32_t n = 0;
        struct bpc_record r = test_wire_inline(BPC_MSG_2B, 0, 1, 0, "x");
        while (bpc_wire_fits(&w, 1, 0)) {
            r.instance = n;
            assert_int_equal(bpc_wire_put(&w, &r), 0);
            n++;
        }
        assert_int_equal(bpc_wire_put(&w, &r), -ENOBUFS);
        assert_int_equal(n, bpc_wire_records_max(sizes[s]));
        uint32_t len = bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
        assert_true(len <= sizes[s] && len + T_REC > sizes[s]);
        assert_int_equal(test_wire_decode_ok_header(buf, len), (int)n);
        assert_true(test_wire_out[n - 1].instance == n - 1);
    }
}

/* The largest value travels in one frame; a full-size frame is accepted. */
static void
test_wire_largest_value_and_frame(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_record r =
        test_wire_digest(BPC_MSG_2A, 5, 2, test_wire_val_max, BPC_VALUE_BYTES_MAX, true);
    uint32_t len = test_wire_encode(buf, sizeof(buf), &r, 1, BPC_VALUE_BYTES_MAX);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    test_wire_assert_rec_eq(&r, &test_wire_out[0], true);

    /* 138 records + one 2a with a 56-byte value: exactly 9000 bytes. */
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), 56), 0);
    struct bpc_record two_a = test_wire_digest(BPC_MSG_2A, 1, 2, test_wire_val_a, 56, true);
    assert_int_equal(bpc_wire_put(&w, &two_a), 0);
    struct bpc_record two_b = test_wire_noop(BPC_MSG_2B, 1, 2);
    while (bpc_wire_put(&w, &two_b) == 0) {
    }
    len = bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
    assert_int_equal(len, BPC_FRAME_BYTES_MAX);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 139);
}

static void
test_wire_begin_and_put_enobufs(void **state)
{
    (void)state;
    static uint8_t buf[BPC_FRAME_BYTES_MAX + 64];
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, 47, 0), -ENOBUFS);
    assert_false(bpc_wire_fits(&w, 0, 0));
    struct bpc_record r = test_wire_noop(BPC_MSG_2B, 1, 1);
    assert_int_equal(bpc_wire_put(&w, &r), -ENOBUFS);
    assert_int_equal(bpc_wire_begin(&w, buf, 200, 153), -ENOBUFS);
    assert_int_equal(bpc_wire_begin(&w, buf, 200, UINT32_MAX), -ENOBUFS);

    /* value_cap limits the values one frame carries; it sets nothing
     * aside, so records use the room no value has taken: two records fit
     * in 200 bytes beside header and tag, and a value then needs room too. */
    assert_int_equal(bpc_wire_begin(&w, buf, 200, 152), 0);
    assert_true(bpc_wire_fits(&w, 2, 0));
    assert_false(bpc_wire_fits(&w, 3, 0));
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    assert_false(bpc_wire_fits(&w, 1, 33)); /* 48 + 2 x 64 + 33 > 200 */
    assert_true(bpc_wire_fits(&w, 1, 24));
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    assert_int_equal(bpc_wire_put(&w, &r), -ENOBUFS);
    assert_int_equal(bpc_wire_finish(&w, &test_wire_hdr, test_wire_key), T_HDR + 2 * T_REC + T_TAG);

    /* The engine's default frame (1400 bytes, values up to 1024): 21
     * records when no value travels, where a reserved value section left
     * room for 5. */
    assert_int_equal(bpc_wire_begin(&w, buf, 1400, 1024), 0);
    uint32_t fitted = 0;
    while (bpc_wire_put(&w, &r) == 0) {
        fitted++;
    }
    assert_int_equal(fitted, 21);

    /* The value section fills independently of the record area. */
    assert_int_equal(bpc_wire_begin(&w, buf, 1000, 100), 0);
    assert_true(bpc_wire_fits(&w, 1, 100));
    assert_false(bpc_wire_fits(&w, 1, 101));
    struct bpc_record a = test_wire_digest(BPC_MSG_2A, 1, 1, test_wire_val_a, 100, true);
    struct bpc_record c = test_wire_digest(BPC_MSG_DECIDED, 2, 1, test_wire_val_c, 40, true);
    assert_int_equal(bpc_wire_put(&w, &a), 0);
    assert_int_equal(bpc_wire_put(&w, &c), -ENOBUFS);
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    uint32_t len = bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
    assert_int_equal(len, T_HDR + 2 * T_REC + 100 + T_TAG);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 2);

    /* A capacity above the frame limit is clipped, and a frame built in a
     * dirty buffer carries no stale byte: reserved fields come out zero. */
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), 0), 0);
    assert_int_equal(w.cap, BPC_FRAME_BYTES_MAX);
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    len = bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 1);
    assert_int_equal(buf[BPC_FRAME_BYTES_MAX], 0xab);
}

/* Goal: bpc_wire_put refuses (-EINVAL, nothing written) a record whose
 * own fields the decoder refuses, so a caller never gets a frame that is
 * dropped whole, nor an abort: an INLINE value of 200 bytes, a 1B with
 * 200 history entries, a 2AV with a history count, an unknown type or
 * value kind. A good record after them still goes in and the frame
 * decodes. Before (the store/API review of this stop), the first three
 * returned 0 and the frame was refused by the decoder; the last two
 * aborted on an assertion. */
static void
test_wire_put_refuses_bad_records(void **state)
{
    (void)state;
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint8_t key[BPC_KEY_BYTES] = {0};
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), 0), 0);
    uint8_t id[4] = {1, 2, 3, 4};
    struct bpc_vid v;
    bpc_vid_of(&v, id, sizeof(id));
    struct bpc_record bad[5];
    bad[0] = bpc_record_make(BPC_MSG_2AV, 3, 5, 0, &v);
    bad[0].value.len = 200;
    bad[1] = bpc_record_make(BPC_MSG_1B, 3, 5, 2, &v);
    bad[1].hist_count = 200;
    bad[2] = bpc_record_make(BPC_MSG_2AV, 3, 5, 0, &v);
    bad[2].hist_count = 1;
    bad[3] = bpc_record_make(BPC_MSG_2AV, 3, 5, 0, &v);
    bad[3].type = BPC_MSG_TYPES_COUNT;
    bad[4] = bpc_record_make(BPC_MSG_2AV, 3, 5, 0, &v);
    bad[4].value.kind = 9;
    for (uint32_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        print_message("bad record %u\n", k);
        assert_int_equal(bpc_wire_put(&w, &bad[k]), -EINVAL);
    }
    struct bpc_record good = bpc_record_make(BPC_MSG_2AV, 3, 5, 0, &v);
    assert_int_equal(bpc_wire_put(&w, &good), 0);
    struct bpc_frame_header h = {.cluster_id = 1, .sender = 0, .receiver = 1, .seq = 1};
    uint32_t len = bpc_wire_finish(&w, &h, key);
    struct bpc_frame_header got;
    struct bpc_record recs[4];
    assert_int_equal(bpc_wire_parse_header(buf, len, &got), 0);
    assert_int_equal(bpc_wire_decode(buf, len, &got, recs, 4), 1);
    assert_int_equal(recs[0].instance, 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_round_trip_every_type),
        cmocka_unit_test(test_wire_layout_bytes),
        cmocka_unit_test(test_wire_empty_frame),
        cmocka_unit_test(test_wire_values_in_order),
        cmocka_unit_test(test_wire_history_max),
        cmocka_unit_test(test_wire_records_max_values),
        cmocka_unit_test(test_wire_fill_to_records_max),
        cmocka_unit_test(test_wire_largest_value_and_frame),
        cmocka_unit_test(test_wire_begin_and_put_enobufs),
        cmocka_unit_test(test_wire_put_refuses_bad_records),
    };
    return cmocka_run_group_tests(tests, test_wire_setup, NULL);
}
