/*
 * test_wire_drops.c - unit tests of the frame codec (engine/src/wire.c):
 * the refusal of altered frames (wire_fx.h holds the shared helpers).
 *
 * Goal: every drop reason the codec owns is reachable by a crafted frame
 * (re-tagged, so the tag is not what fails); a flipped bit anywhere fails
 * the tag or the carried value's digest; and random mutations of valid
 * frames never crash the decoder.
 *
 * Method: frames are built with the encoder, then altered at offsets
 * wire_fx.h spells out on its own (not wire.c's constants, so the two pair
 * up), re-tagged with bpc_auth_tag and decoded. The mutation test draws
 * from a splitmix64 stream whose seed is printed (BPC_TEST_SEED overrides
 * it) and decodes each mutant from an exactly sized heap copy, so ASan sees
 * any read past the frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpcon.h"
#include "internal.h"

#include "wire_fx.h"

#define T_FRAME_CAP (BPC_FRAME_BYTES_MAX + 64u)
#define T_MUTATIONS 200000u

/* A draw in [0, n) from the stream of test_wire_next. */
static uint32_t
test_wire_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(test_wire_next(state) % n);
}

/* ---- the reference frame ------------------------------------------------ */

/* One record of every type; indexes are used by the drop table below.
 * Value section: val_a (100 B) at 0, val_c (40 B) at 100. */
enum {
    REF_1A,
    REF_1B,
    REF_1B_HIST,
    REF_1B_RANGE,
    REF_2A_DIGEST,
    REF_2AV_NOOP,
    REF_2B_INLINE,
    REF_DECIDED_DIGEST,
    REF_STATUS,
    REF_2B_DIGEST,
    REF_1B_NO_VOTE, /* last: a history it owes runs off the frame's end */
    REF_COUNT,
};
#define REF_VALUE_BYTES 140u

static void
test_wire_ref_records(struct bpc_record *r)
{
    r[REF_1A] = test_wire_rec(BPC_MSG_1A, 10, 7, 0);
    r[REF_1B] = test_wire_inline(BPC_MSG_1B, 10, 7, 5, "abc");
    r[REF_1B].hist_count = 1;
    r[REF_1B_HIST] = test_wire_inline(BPC_MSG_1B_HIST, 10, 7, 4, "xyz");
    r[REF_1B_RANGE] = test_wire_rec(BPC_MSG_1B_RANGE, 10, 7, 20);
    r[REF_2A_DIGEST] = test_wire_digest(BPC_MSG_2A, 11, 7, test_wire_val_a, 100, true);
    r[REF_2AV_NOOP] = test_wire_noop(BPC_MSG_2AV, 12, 7);
    r[REF_2B_INLINE] = test_wire_inline(BPC_MSG_2B, 13, 7, 0, "hello");
    r[REF_DECIDED_DIGEST] = test_wire_digest(BPC_MSG_DECIDED, 9, 6, test_wire_val_c, 40, true);
    r[REF_STATUS] = test_wire_rec(BPC_MSG_STATUS, 14, 0, 0);
    r[REF_2B_DIGEST] = test_wire_digest(BPC_MSG_2B, 11, 7, test_wire_val_a, 100, false);
    r[REF_1B_NO_VOTE] = test_wire_rec(BPC_MSG_1B, 15, 7, 0);
}

static uint32_t
test_wire_ref_frame(uint8_t *buf)
{
    struct bpc_record r[REF_COUNT];
    test_wire_ref_records(r);
    uint32_t len = test_wire_encode(buf, BPC_FRAME_BYTES_MAX, r, REF_COUNT, REF_VALUE_BYTES);
    assert_int_equal(len, T_HDR + T_REC * REF_COUNT + REF_VALUE_BYTES + T_TAG);
    return len;
}
/* ---- header drops ------------------------------------------------------- */

/* Table-driven checks name the failing row. */
static void
test_wire_expect(int got, int want, const char *table, size_t row)
{
    if (got != want) {
        fail_msg("%s row %zu: got %d, want %d", table, row, got, want);
    }
}

static int
test_wire_parse(const uint8_t *frame, uint32_t len)
{
    struct bpc_frame_header h;
    return bpc_wire_parse_header(frame, len, &h);
}

static void
test_wire_header_drops(void **state)
{
    (void)state;
    static uint8_t ref[BPC_FRAME_BYTES_MAX + 1];
    static uint8_t f[BPC_FRAME_BYTES_MAX + 1];
    uint32_t len = test_wire_ref_frame(ref);
    assert_int_equal(test_wire_parse(ref, len), 0);

    assert_int_equal(test_wire_parse(ref, 0), -1 - BPC_DROP_SHORT);
    assert_int_equal(test_wire_parse(ref, T_HDR + T_TAG - 1), -1 - BPC_DROP_SHORT);
    assert_int_equal(test_wire_parse(ref, BPC_FRAME_BYTES_MAX + 1), -1 - BPC_DROP_LONG);
    assert_int_equal(test_wire_parse(ref, UINT32_MAX), -1 - BPC_DROP_LONG);
    assert_int_equal(test_wire_parse(ref, len - 1), -1 - BPC_DROP_BAD_LENGTH);
    assert_int_equal(test_wire_parse(ref, len + 1), -1 - BPC_DROP_BAD_LENGTH);
    assert_int_equal(test_wire_parse(ref, T_HDR + T_TAG), -1 - BPC_DROP_BAD_LENGTH);

    static const struct {
        uint32_t off;
        uint32_t width;
        uint64_t value;
        enum bpc_drop_reason reason;
    } cases[] = {
        {T_HDR_MAGIC, 1, 0x43, BPC_DROP_BAD_MAGIC},
        {T_HDR_MAGIC + 3, 1, 0xb1, BPC_DROP_BAD_MAGIC},
        {T_HDR_MAGIC, 4, 0x42435031, BPC_DROP_BAD_MAGIC}, /* byte-swapped */
        {T_HDR_VERSION, 1, 0, BPC_DROP_BAD_VERSION},
        {T_HDR_VERSION, 1, 1, BPC_DROP_BAD_VERSION}, /* version 1 tagged its values */
        {T_HDR_VERSION, 1, 2, BPC_DROP_BAD_VERSION}, /* version 2 hashed FORWARD bytes */
        {T_HDR_VERSION, 1, 3, BPC_DROP_BAD_VERSION}, /* version 3 had one MAC per ATTEST */
        {T_HDR_VERSION, 1, 4, BPC_DROP_BAD_VERSION}, /* version 4 had no REFUSE */
        {T_HDR_VERSION, 1, 6, BPC_DROP_BAD_VERSION},
        {T_HDR_VERSION, 1, 255, BPC_DROP_BAD_VERSION},
        {T_HDR_RESERVED, 1, 1, BPC_DROP_RESERVED},
        {T_HDR_RESERVED, 1, 0x80, BPC_DROP_RESERVED},
        {T_HDR_COUNT, 2, REF_COUNT + 1, BPC_DROP_BAD_LENGTH},
        {T_HDR_COUNT, 2, REF_COUNT - 1, BPC_DROP_BAD_LENGTH},
        {T_HDR_COUNT, 2, 0xffff, BPC_DROP_BAD_LENGTH},
        {T_HDR_VALUE_BYTES, 4, REF_VALUE_BYTES + 1, BPC_DROP_BAD_LENGTH},
        {T_HDR_VALUE_BYTES, 4, 0, BPC_DROP_BAD_LENGTH},
        {T_HDR_VALUE_BYTES, 4, UINT32_MAX, BPC_DROP_BAD_LENGTH},
        /* 64 more value bytes alone; the companion below also drops a record. */
        {T_HDR_VALUE_BYTES, 4, REF_VALUE_BYTES + 64, BPC_DROP_BAD_LENGTH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(f, ref, len);
        uint8_t *p = f + cases[i].off;
        if (cases[i].width == 1) {
            p[0] = (uint8_t)cases[i].value;
        } else if (cases[i].width == 2) {
            bpc_le16_store(p, (uint16_t)cases[i].value);
        } else {
            bpc_le32_store(p, (uint32_t)cases[i].value);
        }
        test_wire_retag(f, len);
        test_wire_expect(test_wire_parse(f, len), -1 - (int)cases[i].reason, "header", i);
    }
    /* The last case's companion: shift one record into the value section. */
    memcpy(f, ref, len);
    bpc_le16_store(f + T_HDR_COUNT, REF_COUNT - 1);
    bpc_le32_store(f + T_HDR_VALUE_BYTES, REF_VALUE_BYTES + T_REC);
    assert_int_equal(test_wire_parse(f, len), 0);
}

/* decode re-checks what the header promised and the caller's capacity. */
static void
test_wire_decode_guards(void **state)
{
    (void)state;
    static uint8_t f[BPC_FRAME_BYTES_MAX];
    uint32_t len = test_wire_ref_frame(f);
    struct bpc_frame_header h;
    assert_int_equal(bpc_wire_parse_header(f, len, &h), 0);
    assert_int_equal(bpc_wire_decode(f, len, &h, test_wire_out, REF_COUNT), REF_COUNT);
    assert_int_equal(bpc_wire_decode(f, len, &h, test_wire_out, REF_COUNT - 1), -1 - BPC_DROP_LONG);
    assert_int_equal(bpc_wire_decode(f, len - 1, &h, test_wire_out, T_RECS_CAP),
                     -1 - BPC_DROP_BAD_LENGTH);
    struct bpc_frame_header lie = h;
    lie.value_bytes += 1;
    assert_int_equal(bpc_wire_decode(f, len, &lie, test_wire_out, T_RECS_CAP),
                     -1 - BPC_DROP_BAD_LENGTH);
    lie = h;
    lie.record_count = 0xffff;
    assert_int_equal(bpc_wire_decode(f, len, &lie, test_wire_out, T_RECS_CAP),
                     -1 - BPC_DROP_BAD_LENGTH);
}

/* One flipped bit in the header, the records or the tag fails the tag;
 * one in the value section (which the tag does not cover) fails the
 * decoder instead: the carried bytes no longer hash to the digest their
 * authenticated record names (BAD_VALUE), so no frame with altered bytes
 * is ever applied. */
static void
test_wire_tag_bit_flips(void **state)
{
    (void)state;
    static uint8_t f[BPC_FRAME_BYTES_MAX];
    uint32_t len = test_wire_ref_frame(f);
    assert_true(bpc_wire_verify(f, len, test_wire_key));
    assert_false(bpc_wire_verify(f, len, test_wire_other_key));
    uint32_t section = T_HDR + T_REC * REF_COUNT;
    struct bpc_frame_header h;
    for (uint32_t bit = 0; bit < len * 8; bit++) {
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (bit / 8 >= section && bit / 8 < len - T_TAG) {
            assert_true(bpc_wire_verify(f, len, test_wire_key));
            assert_int_equal(bpc_wire_parse_header(f, len, &h), 0);
            assert_int_equal(bpc_wire_decode(f, len, &h, test_wire_out, T_RECS_CAP),
                             -1 - BPC_DROP_BAD_VALUE);
        } else {
            assert_false(bpc_wire_verify(f, len, test_wire_key));
        }
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_true(bpc_wire_verify(f, len, test_wire_key));
    assert_false(bpc_wire_verify(f, len - 1, test_wire_key));
    assert_false(bpc_wire_verify(f, T_HDR + T_TAG - 1, test_wire_key));
    assert_false(bpc_wire_verify(f, 0, test_wire_key));
}

/* ---- record drops ------------------------------------------------------- */

enum test_wire_op { T_SET, T_XOR };

struct test_wire_drop {
    uint8_t rec;   /* REF_* index */
    uint8_t off;   /* T_REC_* offset */
    uint8_t width; /* 1, 2 or 8 bytes */
    uint8_t op;
    uint64_t value;
    enum bpc_drop_reason reason;
};

#define T_LOW32 ((uint64_t)1 << 32)

static const struct test_wire_drop test_wire_drops[] = {
    /* type */
    {REF_1A, T_REC_TYPE, 1, T_SET, 0, BPC_DROP_BAD_TYPE},
    {REF_2B_INLINE, T_REC_TYPE, 1, T_SET, BPC_MSG_TYPES_COUNT, BPC_DROP_BAD_TYPE},
    {REF_STATUS, T_REC_TYPE, 1, T_SET, 255, BPC_DROP_BAD_TYPE},
    /* reserved bytes */
    {REF_2B_INLINE, T_REC_RES0, 1, T_SET, 1, BPC_DROP_RESERVED},
    {REF_1A, T_REC_RES1, 1, T_SET, 0x80, BPC_DROP_RESERVED},
    {REF_STATUS, T_REC_RES1 + 1, 1, T_SET, 1, BPC_DROP_RESERVED},
    /* value kind against type */
    {REF_2B_INLINE, T_REC_KIND, 1, T_SET, 4, BPC_DROP_BAD_VALUE},
    {REF_1A, T_REC_KIND, 1, T_SET, 255, BPC_DROP_BAD_VALUE},
    {REF_2AV_NOOP, T_REC_KIND, 1, T_SET, BPC_VALUE_NONE, BPC_DROP_BAD_VALUE},
    {REF_1A, T_REC_KIND, 1, T_SET, BPC_VALUE_NOOP, BPC_DROP_BAD_VALUE},
    {REF_1B_RANGE, T_REC_KIND, 1, T_SET, BPC_VALUE_NOOP, BPC_DROP_BAD_VALUE},
    {REF_STATUS, T_REC_KIND, 1, T_SET, BPC_VALUE_INLINE, BPC_DROP_BAD_VALUE},
    {REF_1B_NO_VOTE, T_REC_KIND, 1, T_SET, BPC_VALUE_INLINE, BPC_DROP_BAD_VALUE},
    {REF_1B_NO_VOTE, T_REC_AUX, 8, T_SET, 3, BPC_DROP_BAD_VALUE}, /* vote, no value */
    {REF_1B, T_REC_AUX, 8, T_SET, 0, BPC_DROP_BAD_VALUE},         /* value, no vote */
    {REF_1B_HIST, T_REC_KIND, 1, T_SET, BPC_VALUE_NONE, BPC_DROP_BAD_VALUE},
    /* value shapes */
    {REF_1A, T_REC_LEN, 2, T_SET, 1, BPC_DROP_BAD_VALUE},
    {REF_STATUS, T_REC_VALUE + 31, 1, T_SET, 1, BPC_DROP_BAD_VALUE},
    {REF_2AV_NOOP, T_REC_LEN, 2, T_SET, 1, BPC_DROP_BAD_VALUE},
    {REF_2AV_NOOP, T_REC_VALUE, 1, T_SET, 9, BPC_DROP_BAD_VALUE},
    {REF_2B_INLINE, T_REC_LEN, 2, T_SET, 33, BPC_DROP_BAD_VALUE},
    {REF_2B_INLINE, T_REC_VALUE + 5, 1, T_SET, 1, BPC_DROP_BAD_VALUE},
    {REF_2B_INLINE, T_REC_LEN, 2, T_SET, 4, BPC_DROP_BAD_VALUE}, /* 'o' left past len */
    {REF_2A_DIGEST, T_REC_LEN, 2, T_SET, 32, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_LEN, 2, T_SET, BPC_VALUE_BYTES_MAX + 1, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_LEN, 2, T_SET, 0xffff, BPC_DROP_BAD_VALUE},
    {REF_2B_DIGEST, T_REC_LEN, 2, T_SET, 32, BPC_DROP_BAD_VALUE},
    {REF_2B_DIGEST, T_REC_LEN, 2, T_SET, BPC_VALUE_BYTES_MAX + 1, BPC_DROP_BAD_VALUE},
    {REF_2B_DIGEST, T_REC_KIND, 1, T_SET, BPC_VALUE_INLINE, BPC_DROP_BAD_VALUE},
    /* carried values: digest and offset */
    {REF_2A_DIGEST, T_REC_LEN, 2, T_SET, 99, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_VALUE + 7, 1, T_XOR, 1, BPC_DROP_BAD_VALUE},
    {REF_DECIDED_DIGEST, T_REC_VALUE, 1, T_XOR, 0x80, BPC_DROP_BAD_VALUE},
    {REF_DECIDED_DIGEST, T_REC_AUX, 8, T_SET, 99, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_AUX, 8, T_SET, 41, BPC_DROP_BAD_VALUE},
    {REF_DECIDED_DIGEST, T_REC_AUX, 8, T_SET, REF_VALUE_BYTES, BPC_DROP_BAD_VALUE},
    {REF_DECIDED_DIGEST, T_REC_AUX, 8, T_SET, REF_VALUE_BYTES + 1, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_AUX, 8, T_SET, UINT64_MAX, BPC_DROP_BAD_VALUE},
    {REF_2A_DIGEST, T_REC_AUX, 8, T_SET, UINT64_MAX - 99, BPC_DROP_BAD_VALUE}, /* sum wraps */
    {REF_2A_DIGEST, T_REC_AUX, 8, T_SET, T_LOW32, BPC_DROP_BAD_VALUE},         /* u32 cut */
    {REF_DECIDED_DIGEST, T_REC_AUX, 8, T_SET, T_LOW32 + 100, BPC_DROP_BAD_VALUE},
    /* ballots */
    {REF_1A, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_1B_RANGE, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_2A_DIGEST, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_2AV_NOOP, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_2B_INLINE, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_DECIDED_DIGEST, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_1B_NO_VOTE, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_1B, T_REC_BALLOT, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_1B, T_REC_AUX, 8, T_SET, 7, BPC_DROP_BAD_BALLOT}, /* maxVBal == ballot */
    {REF_1B, T_REC_AUX, 8, T_SET, UINT64_MAX, BPC_DROP_BAD_BALLOT},
    {REF_1B_HIST, T_REC_AUX, 8, T_SET, 0, BPC_DROP_BAD_BALLOT},
    {REF_1B_HIST, T_REC_AUX, 8, T_SET, 7, BPC_DROP_BAD_BALLOT},
    /* history placement */
    {REF_1B, T_REC_HIST, 1, T_SET, 0, BPC_DROP_BAD_HISTORY}, /* orphan 1B_HIST */
    {REF_1B, T_REC_HIST, 1, T_SET, 2, BPC_DROP_BAD_HISTORY}, /* meets a 1B_RANGE */
    {REF_1B, T_REC_HIST, 1, T_SET, BPC_HISTORY_MAX + 1, BPC_DROP_BAD_HISTORY},
    {REF_1B, T_REC_HIST, 1, T_SET, 255, BPC_DROP_BAD_HISTORY},
    {REF_1B_HIST, T_REC_INSTANCE, 8, T_SET, 11, BPC_DROP_BAD_HISTORY},
    {REF_1B_HIST, T_REC_BALLOT, 8, T_SET, 8, BPC_DROP_BAD_HISTORY},
    {REF_1B_HIST, T_REC_TYPE, 1, T_SET, BPC_MSG_2B, BPC_DROP_BAD_HISTORY},
    {REF_2B_INLINE, T_REC_HIST, 1, T_SET, 1, BPC_DROP_BAD_HISTORY},
    {REF_1A, T_REC_HIST, 1, T_SET, 1, BPC_DROP_BAD_HISTORY},
    {REF_STATUS, T_REC_HIST, 1, T_SET, 1, BPC_DROP_BAD_HISTORY},
    {REF_1B_NO_VOTE, T_REC_HIST, 1, T_SET, 1, BPC_DROP_BAD_HISTORY}, /* frame ends first */
};

/* The identity rule (bpc_vid_shape_ok) byte by byte: an empty kind or an
 * inline value of each length takes a non-zero byte only below its length,
 * at every one of the 32 places, whichever bit is set. */
static void
test_wire_vid_shape_every_byte(void **state)
{
    (void)state;
    static const uint8_t kinds[] = {BPC_VALUE_NONE, BPC_VALUE_NOOP, BPC_VALUE_INLINE};
    for (uint32_t k = 0; k < sizeof(kinds); k++) {
        uint32_t lens = kinds[k] == BPC_VALUE_INLINE ? BPC_VALUE_INLINE_MAX + 1 : 1;
        for (uint32_t len = 0; len < lens; len++) {
            struct bpc_vid v;
            memset(&v, 0, sizeof(v));
            v.kind = kinds[k];
            v.len = (uint16_t)len;
            assert_true(bpc_vid_shape_ok(&v));
            for (uint32_t i = 0; i < BPC_VALUE_INLINE_MAX; i++) {
                for (uint32_t bit = 0; bit < 8; bit++) {
                    v.id[i] = (uint8_t)(1u << bit);
                    if (bpc_vid_shape_ok(&v) != (i < len)) {
                        fail_msg("kind %u len %u: byte %u bit %u %s", kinds[k], len, i, bit,
                                 i < len ? "refused" : "accepted");
                    }
                    v.id[i] = 0;
                }
            }
        }
    }
}

static void
test_wire_apply(uint8_t *frame, const struct test_wire_drop *d)
{
    uint8_t *p = frame + T_HDR + T_REC * d->rec + d->off;
    uint64_t v = d->value;
    if (d->op == T_XOR) {
        v ^= d->width == 1 ? p[0] : d->width == 2 ? bpc_le16_load(p) : bpc_le64_load(p);
    }
    if (d->width == 1) {
        p[0] = (uint8_t)v;
    } else if (d->width == 2) {
        bpc_le16_store(p, (uint16_t)v);
    } else {
        bpc_le64_store(p, v);
    }
}

/* Each row breaks one field of the reference frame, re-tags it, and must
 * get its own reason; the untouched frame decodes in full. */
static void
test_wire_record_drops(void **state)
{
    (void)state;
    static uint8_t ref[BPC_FRAME_BYTES_MAX];
    static uint8_t f[BPC_FRAME_BYTES_MAX];
    uint32_t len = test_wire_ref_frame(ref);
    assert_int_equal(test_wire_decode_ok_header(ref, len), REF_COUNT);
    assert_int_equal(test_wire_out[REF_STATUS].ballot, 0);
    for (size_t i = 0; i < sizeof(test_wire_drops) / sizeof(test_wire_drops[0]); i++) {
        memcpy(f, ref, len);
        test_wire_apply(f, &test_wire_drops[i]);
        test_wire_retag(f, len);
        int want = -1 - (int)test_wire_drops[i].reason;
        test_wire_expect(test_wire_decode_ok_header(f, len), want, "record drop", i);
    }
    /* A changed byte anywhere in a carried value breaks its digest. */
    static const uint32_t section_offsets[] = {0, 50, 99, 100, 139};
    uint32_t section = T_HDR + T_REC * REF_COUNT;
    for (size_t i = 0; i < sizeof(section_offsets) / sizeof(section_offsets[0]); i++) {
        memcpy(f, ref, len);
        f[section + section_offsets[i]] ^= 0x20;
        test_wire_retag(f, len);
        test_wire_expect(test_wire_decode_ok_header(f, len), -1 - BPC_DROP_BAD_VALUE, "section", i);
    }
}

/* A 1b may carry BPC_HISTORY_MAX history records, never more, even when
 * every one of them is present and well formed. */
static void
test_wire_history_too_long(void **state)
{
    (void)state;
    struct bpc_record r[2 + BPC_HISTORY_MAX];
    r[0] = test_wire_inline(BPC_MSG_1B, 7, 20, 19, "v");
    r[0].hist_count = BPC_HISTORY_MAX + 1;
    for (uint32_t i = 1; i <= BPC_HISTORY_MAX + 1; i++) {
        r[i] = test_wire_inline(BPC_MSG_1B_HIST, 7, 20, 20 - i, "h");
    }
    static uint8_t buf[1024];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, 2 + BPC_HISTORY_MAX, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), -1 - BPC_DROP_BAD_HISTORY);
    /* Two 1b records back to back, each with its own history, are fine. */
    r[0].hist_count = 1;
    r[2] = test_wire_inline(BPC_MSG_1B, 8, 20, 0, "x");
    r[2].value.kind = BPC_VALUE_NONE;
    r[2].value.len = 0;
    memset(r[2].value.id, 0, sizeof(r[2].value.id));
    r[2].hist_count = 1;
    r[3] = test_wire_noop(BPC_MSG_1B_HIST, 8, 20);
    r[3].aux = 1;
    len = test_wire_encode(buf, sizeof(buf), r, 4, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 4);
}

/* A clean floor (a 1B_HIST of kind NONE, docs/ENGINE.md "Clean floors")
 * stands only as the last history record of its 1b: after the 2av
 * entries it decodes, with its ballot in aux; before one, or twice, the
 * frame is BAD_HISTORY. Its aux follows the history ballot rule. */
static void
test_wire_clean_floor_last(void **state)
{
    (void)state;
    struct bpc_record r[4];
    r[0] = test_wire_inline(BPC_MSG_1B, 7, 20, 19, "v");
    r[0].hist_count = 2;
    r[1] = test_wire_inline(BPC_MSG_1B_HIST, 7, 20, 18, "h");
    r[2] = bpc_record_make(BPC_MSG_1B_HIST, 7, 20, 12, NULL);
    static uint8_t buf[1024];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, 3, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 3);
    struct bpc_record swapped[3] = {r[0], r[2], r[1]};
    len = test_wire_encode(buf, sizeof(buf), swapped, 3, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), -1 - BPC_DROP_BAD_HISTORY);
    struct bpc_record twice[3] = {r[0], r[2], r[2]};
    len = test_wire_encode(buf, sizeof(buf), twice, 3, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), -1 - BPC_DROP_BAD_HISTORY);
    /* A floor alone, on a 1b of no vote; not below the ballot: refused. */
    r[0] = bpc_record_make(BPC_MSG_1B, 7, 20, 0, NULL);
    r[0].hist_count = 1;
    len = test_wire_encode(buf, sizeof(buf), (struct bpc_record[]){r[0], r[2]}, 2, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 2);
    r[2].aux = 20;
    len = test_wire_encode(buf, sizeof(buf), (struct bpc_record[]){r[0], r[2]}, 2, 0);
    assert_int_equal(test_wire_decode_ok_header(buf, len), -1 - BPC_DROP_BAD_BALLOT);
}

/* ---- random mutations --------------------------------------------------- */

/* Values that sit on the decoder's boundaries. */
static const uint64_t test_wire_edges[] = {
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    9,
    10,
    31,
    32,
    33,
    40,
    99,
    100,
    139,
    140,
    255,
    256,
    BPC_VALUE_BYTES_MAX,
    BPC_VALUE_BYTES_MAX + 1,
    0xffff,
    T_LOW32,
    UINT64_MAX - 99,
    UINT64_MAX,
};

static const struct {
    uint8_t off;
    uint8_t width;
} test_wire_fields[] = {
    {T_REC_TYPE, 1}, {T_REC_KIND, 1},     {T_REC_HIST, 1},   {T_REC_RES0, 1}, {T_REC_LEN, 2},
    {T_REC_RES1, 2}, {T_REC_INSTANCE, 8}, {T_REC_BALLOT, 8}, {T_REC_AUX, 8},  {T_REC_VALUE, 1},
};

/* Overwrites one field of one record with an edge value, or copies one
 * whole record over another. */
static void
test_wire_mutate_record(uint8_t *f, uint32_t len, uint64_t *rng)
{
    uint32_t records = (len - T_HDR - T_TAG) / T_REC;
    uint8_t *rec = f + T_HDR + T_REC * test_wire_below(rng, records);
    if (test_wire_below(rng, 4) == 0) {
        memcpy(rec, f + T_HDR + T_REC * test_wire_below(rng, records), T_REC);
        return;
    }
    size_t nf = sizeof(test_wire_fields) / sizeof(test_wire_fields[0]);
    uint32_t k = test_wire_below(rng, (uint32_t)nf);
    uint8_t *p = rec + test_wire_fields[k].off;
    uint64_t v = test_wire_edges[test_wire_below(rng, sizeof(test_wire_edges) / 8)];
    if (test_wire_fields[k].width == 1) {
        p[0] = (uint8_t)v;
    } else if (test_wire_fields[k].width == 2) {
        bpc_le16_store(p, (uint16_t)v);
    } else {
        bpc_le64_store(p, v);
    }
}

/* One mutation; returns the new length (the buffer holds T_FRAME_CAP). */
static uint32_t
test_wire_mutate(uint8_t *f, uint32_t len, uint64_t *rng)
{
    uint32_t pos = len > 0 ? test_wire_below(rng, len) : 0;
    switch (test_wire_below(rng, 6)) {
    case 0:
        if (len > 0) {
            f[pos] ^= (uint8_t)(1u << test_wire_below(rng, 8));
        }
        return len;
    case 1:
        if (len > 0) {
            f[pos] = (uint8_t)test_wire_edges[test_wire_below(rng, sizeof(test_wire_edges) / 8)];
        }
        return len;
    case 2:
        if (len < T_FRAME_CAP) {
            memmove(f + pos + 1, f + pos, len - pos);
            f[pos] = (uint8_t)test_wire_next(rng);
            return len + 1;
        }
        return len;
    case 3:
        if (len > 0) {
            memmove(f + pos, f + pos + 1, len - pos - 1);
            return len - 1;
        }
        return len;
    case 4:
        return test_wire_below(rng, len + 1);
    default:
        if (len >= T_HDR + T_REC + T_TAG) {
            test_wire_mutate_record(f, len, rng);
        }
        return len;
    }
}

/* Makes count and value_bytes agree with the length, so decode is reached. */
static void
test_wire_fix_header(uint8_t *f, uint32_t len)
{
    if (len < T_HDR + T_TAG) {
        return;
    }
    uint32_t body = len - T_HDR - T_TAG;
    uint32_t count = bpc_le16_load(f + T_HDR_COUNT);
    if ((uint64_t)count * T_REC > body) {
        count = body / T_REC;
    }
    bpc_le16_store(f + T_HDR_COUNT, (uint16_t)count);
    bpc_le32_store(f + T_HDR_VALUE_BYTES, body - count * T_REC);
}

/* Pair check: decoded records, encoded again, decode to the same records. */
static void
test_wire_reencode(const struct bpc_frame_header *h, const struct bpc_record *recs, uint32_t n)
{
    uint64_t carried = 0;
    for (uint32_t i = 0; i < n; i++) {
        carried += test_wire_carried(&recs[i]) ? recs[i].value.len : 0;
    }
    if (T_HDR + T_REC * (uint64_t)n + carried + T_TAG > BPC_FRAME_BYTES_MAX) {
        return; /* cannot happen: the decoder takes values only in order */
    }
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    static struct bpc_record again[T_RECS_CAP];
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), (uint32_t)carried), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(bpc_wire_put(&w, &recs[i]), 0);
    }
    uint32_t len = bpc_wire_finish(&w, h, test_wire_key);
    struct bpc_frame_header h2;
    assert_int_equal(bpc_wire_parse_header(buf, len, &h2), 0);
    assert_true(h2.cluster_id == h->cluster_id && h2.seq == h->seq);
    assert_true(h2.sender == h->sender && h2.receiver == h->receiver);
    assert_int_equal(h2.value_bytes, carried);
    assert_true(bpc_wire_verify(buf, len, test_wire_key));
    assert_int_equal(bpc_wire_decode(buf, len, &h2, again, T_RECS_CAP), (int)n);
    for (uint32_t i = 0; i < n; i++) {
        test_wire_assert_rec_eq(&recs[i], &again[i], !test_wire_carried(&recs[i]));
    }
}

/* Decodes one mutant from an exactly sized heap copy; returns -1 - reason
 * of the first failing stage, or the record count. */
static int
test_wire_try(const uint8_t *mutant, uint32_t len)
{
    uint8_t *f = malloc(len > 0 ? len : 1);
    assert_non_null(f);
    memcpy(f, mutant, len);
    struct bpc_frame_header h = {0};
    int rc = bpc_wire_parse_header(f, len, &h);
    if (rc == 0) {
        (void)bpc_wire_verify(f, len, test_wire_key);
        rc = bpc_wire_decode(f, len, &h, test_wire_out, T_RECS_CAP);
    }
    if (rc >= 0) {
        assert_int_equal(rc, h.record_count);
        for (int i = 0; i < rc; i++) {
            const uint8_t *vb = test_wire_out[i].value_bytes;
            assert_true(vb == NULL ||
                        (vb >= f + T_HDR && vb + test_wire_out[i].value.len <= f + len - T_TAG));
        }
        test_wire_reencode(&h, test_wire_out, (uint32_t)rc);
    } else {
        assert_true(-1 - rc < BPC_DROP_REASONS_COUNT);
    }
    free(f);
    return rc;
}

static uint32_t
test_wire_mutation_bases(uint8_t bases[3][T_FRAME_CAP], uint32_t lens[3])
{
    lens[0] = test_wire_ref_frame(bases[0]);
    struct bpc_record r[1 + BPC_HISTORY_MAX];
    r[0] = test_wire_inline(BPC_MSG_1B, 7, 9, 8, "v8");
    r[0].hist_count = BPC_HISTORY_MAX;
    for (uint32_t i = 1; i <= BPC_HISTORY_MAX; i++) {
        r[i] = test_wire_digest(BPC_MSG_1B_HIST, 7, 9, test_wire_val_b, 500, false);
        r[i].aux = 9 - i;
    }
    lens[1] = test_wire_encode(bases[1], T_FRAME_CAP, r, 1 + BPC_HISTORY_MAX, 0);
    r[0] = test_wire_digest(BPC_MSG_2A, 3, 3, test_wire_val_c, 40, true);
    r[1] = test_wire_digest(BPC_MSG_DECIDED, 2, 2, test_wire_val_a, 100, true);
    lens[2] = test_wire_encode(bases[2], T_FRAME_CAP, r, 2, 140);
    return 3;
}

static void
test_wire_random_mutations(void **state)
{
    (void)state;
    const char *env = getenv("BPC_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 0x62706377697265u;
    print_message("test_wire_random_mutations: seed %llu (BPC_TEST_SEED to replay)\n",
                  (unsigned long long)seed);
    static uint8_t bases[3][T_FRAME_CAP];
    static uint8_t f[T_FRAME_CAP];
    uint32_t lens[3];
    uint32_t nbases = test_wire_mutation_bases(bases, lens);
    uint64_t rng = seed;
    uint32_t seen[BPC_DROP_REASONS_COUNT] = {0};
    uint32_t decoded = 0;
    for (uint32_t it = 0; it < T_MUTATIONS; it++) {
        uint32_t b = test_wire_below(&rng, nbases);
        memcpy(f, bases[b], lens[b]);
        uint32_t len = lens[b];
        uint32_t rounds = 1 + test_wire_below(&rng, 3);
        for (uint32_t k = 0; k < rounds; k++) {
            len = test_wire_mutate(f, len, &rng);
        }
        if (test_wire_below(&rng, 2) == 0) {
            test_wire_fix_header(f, len);
        }
        int rc = test_wire_try(f, len);
        if (rc >= 0) {
            decoded++;
        } else {
            seen[-1 - rc]++;
        }
    }
    print_message("decoded %u of %u; drops:", decoded, T_MUTATIONS);
    for (int r = 0; r < BPC_DROP_REASONS_COUNT; r++) {
        print_message(" %s=%u", bpc_drop_reason_name((enum bpc_drop_reason)r), seen[r]);
    }
    print_message("\n");
    /* Both sides were explored: some mutants decode, most fail, and every
     * structural reason the decoder owns came up. */
    assert_true(decoded > 0 && decoded < T_MUTATIONS);
    static const enum bpc_drop_reason owned[] = {
        BPC_DROP_SHORT,    BPC_DROP_BAD_MAGIC, BPC_DROP_BAD_LENGTH, BPC_DROP_RESERVED,
        BPC_DROP_BAD_TYPE, BPC_DROP_BAD_VALUE, BPC_DROP_BAD_BALLOT, BPC_DROP_BAD_HISTORY,
    };
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        test_wire_expect(seen[owned[i]] > 0, 1, "reason seen", i);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_header_drops),
        cmocka_unit_test(test_wire_decode_guards),
        cmocka_unit_test(test_wire_tag_bit_flips),
        cmocka_unit_test(test_wire_record_drops),
        cmocka_unit_test(test_wire_vid_shape_every_byte),
        cmocka_unit_test(test_wire_history_too_long),
        cmocka_unit_test(test_wire_clean_floor_last),
        cmocka_unit_test(test_wire_random_mutations),
    };
    return cmocka_run_group_tests(tests, test_wire_setup, NULL);
}
