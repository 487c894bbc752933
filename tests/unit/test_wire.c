/*
 * test_wire.c - unit tests of the frame codec (engine/src/wire.c).
 *
 * Goal: every record type survives encode/decode unchanged; the bytes sit
 * at the offsets docs/WIRE.md states; every drop reason the codec owns is
 * reachable by a crafted frame (re-tagged, so the tag is not what fails);
 * and random mutations of valid frames never crash the decoder.
 *
 * Method: frames are built with the encoder, then altered at offsets this
 * file spells out on its own (not wire.c's constants, so the two pair up),
 * re-tagged with bpc_auth_tag and decoded. The mutation test draws from a
 * splitmix64 stream whose seed is printed (BPC_TEST_SEED overrides it) and
 * decodes each mutant from an exactly sized heap copy, so ASan sees any
 * read past the frame.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bpcon.h"
#include "internal.h"

/* The layout, restated from the header comment in bpcon.h. */
enum {
    T_HDR_MAGIC = 0,
    T_HDR_VERSION = 4,
    T_HDR_RESERVED = 5,
    T_HDR_COUNT = 6,
    T_HDR_CLUSTER = 8,
    T_HDR_SENDER = 16,
    T_HDR_RECEIVER = 18,
    T_HDR_VALUE_BYTES = 20,
    T_HDR_SEQ = 24,
    T_HDR = 32,
    T_REC_TYPE = 0,
    T_REC_KIND = 1,
    T_REC_HIST = 2,
    T_REC_RES0 = 3,
    T_REC_LEN = 4,
    T_REC_RES1 = 6,
    T_REC_INSTANCE = 8,
    T_REC_BALLOT = 16,
    T_REC_AUX = 24,
    T_REC_VALUE = 32,
    T_REC = 64,
    T_TAG = 16,
};

#define T_FRAME_CAP (BPC_FRAME_BYTES_MAX + 64u)
#define T_RECS_CAP 160u
#define T_MUTATIONS 200000u

static const struct bpc_frame_header test_wire_hdr = {
    .cluster_id = 0x1122334455667788u,
    .sender = 3,
    .receiver = 0x0405,
    .seq = 0x0102030405060708u,
};

static uint8_t test_wire_key[BPC_KEY_BYTES];
static uint8_t test_wire_other_key[BPC_KEY_BYTES];
static uint8_t test_wire_val_a[100];
static uint8_t test_wire_val_b[500];
static uint8_t test_wire_val_c[40];
static uint8_t test_wire_val_max[BPC_VALUE_BYTES_MAX];
static struct bpc_record test_wire_out[T_RECS_CAP];

static uint64_t
test_wire_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t
test_wire_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(test_wire_next(state) % n);
}

static void
test_wire_fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)test_wire_next(&seed);
    }
}

static int
test_wire_setup(void **state)
{
    (void)state;
    assert_int_equal(bpc_init(), 0);
    uint8_t master[BPC_KEY_BYTES];
    test_wire_fill(master, sizeof(master), 1);
    bpc_auth_pair_key(master, 3, 5, test_wire_key);
    bpc_auth_pair_key(master, 3, 6, test_wire_other_key);
    assert_memory_not_equal(test_wire_key, test_wire_other_key, BPC_KEY_BYTES);
    test_wire_fill(test_wire_val_a, sizeof(test_wire_val_a), 2);
    test_wire_fill(test_wire_val_b, sizeof(test_wire_val_b), 3);
    test_wire_fill(test_wire_val_c, sizeof(test_wire_val_c), 4);
    test_wire_fill(test_wire_val_max, sizeof(test_wire_val_max), 5);
    return 0;
}

/* ---- record builders ---------------------------------------------------- */

static struct bpc_record
test_wire_rec(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux)
{
    struct bpc_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.instance = instance;
    r.ballot = ballot;
    r.aux = aux;
    return r;
}

static struct bpc_record
test_wire_inline(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux, const char *s)
{
    struct bpc_record r = test_wire_rec(type, instance, ballot, aux);
    size_t n = strlen(s);
    assert_true(n <= BPC_VALUE_INLINE_MAX);
    r.value.kind = BPC_VALUE_INLINE;
    r.value.len = (uint16_t)n;
    memcpy(r.value.id, s, n);
    return r;
}

/* A digest-kind record; carried means its bytes ride in the value section. */
static struct bpc_record
test_wire_digest(uint8_t type, uint64_t instance, uint64_t ballot, const uint8_t *v, uint32_t len,
                 bool carried)
{
    struct bpc_record r = test_wire_rec(type, instance, ballot, 0);
    r.value.kind = BPC_VALUE_DIGEST;
    r.value.len = (uint16_t)len;
    crypto_generichash(r.value.id, BPC_DIGEST_BYTES, v, len, NULL, 0);
    r.value_bytes = carried ? v : NULL;
    return r;
}

static struct bpc_record
test_wire_noop(uint8_t type, uint64_t instance, uint64_t ballot)
{
    struct bpc_record r = test_wire_rec(type, instance, ballot, 0);
    r.value.kind = BPC_VALUE_NOOP;
    return r;
}

/* ---- frame helpers ------------------------------------------------------ */

static uint32_t
test_wire_encode(uint8_t *buf, uint32_t cap, const struct bpc_record *recs, uint32_t n,
                 uint32_t value_cap)
{
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, cap, value_cap), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(bpc_wire_put(&w, &recs[i]), 0);
    }
    return bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
}

static void
test_wire_retag(uint8_t *frame, uint32_t len)
{
    bpc_wire_retag(frame, len, test_wire_key);
}

/* Parses, verifies and decodes a frame whose header is sound; returns the
 * decode result. */
static int
test_wire_decode_ok_header(const uint8_t *frame, uint32_t len)
{
    struct bpc_frame_header h;
    assert_int_equal(bpc_wire_parse_header(frame, len, &h), 0);
    assert_true(bpc_wire_verify(frame, len, test_wire_key));
    return bpc_wire_decode(frame, len, &h, test_wire_out, T_RECS_CAP);
}

static void
test_wire_assert_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->pad, 0);
    assert_int_equal(b->pad, 0);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->id, b->id, BPC_VALUE_INLINE_MAX);
}

/* Decoded record d against what was put (p); aux is compared unless the
 * record carries its value (then aux is an offset the encoder chose). */
static void
test_wire_assert_rec_eq(const struct bpc_record *p, const struct bpc_record *d, bool cmp_aux)
{
    assert_int_equal(p->type, d->type);
    assert_int_equal(p->hist_count, d->hist_count);
    assert_true(p->instance == d->instance);
    assert_true(p->ballot == d->ballot);
    if (cmp_aux) {
        assert_true(p->aux == d->aux);
    }
    test_wire_assert_vid_eq(&p->value, &d->value);
    assert_int_equal(p->value_bytes == NULL, d->value_bytes == NULL);
    if (p->value_bytes != NULL) {
        assert_memory_equal(p->value_bytes, d->value_bytes, p->value.len);
    }
}

static bool
test_wire_carried(const struct bpc_record *r)
{
    if (r->type == BPC_MSG_DECIDED && r->aux == BPC_WIRE_AUX_NO_BYTES) {
        return false; /* a claim that names its DIGEST value alone */
    }
    return r->value.kind == BPC_VALUE_DIGEST &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_FORWARD ||
            r->type == BPC_MSG_VALUE);
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

/* A second 2a may point at bytes an earlier record carried. */
static void
test_wire_shared_value(void **state)
{
    (void)state;
    struct bpc_record r[2];
    r[0] = test_wire_digest(BPC_MSG_2A, 1, 1, test_wire_val_a, 100, true);
    r[1] = test_wire_digest(BPC_MSG_DECIDED, 2, 1, test_wire_val_a, 100, false);
    r[1].aux = 0;
    static uint8_t buf[1024];
    uint32_t len = test_wire_encode(buf, sizeof(buf), r, 2, 100);
    assert_int_equal(test_wire_decode_ok_header(buf, len), 2);
    assert_ptr_equal(test_wire_out[0].value_bytes, test_wire_out[1].value_bytes);
    assert_memory_equal(test_wire_out[1].value_bytes, test_wire_val_a, 100);
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
        return; /* the original shared value bytes between records */
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
        cmocka_unit_test(test_wire_round_trip_every_type),
        cmocka_unit_test(test_wire_layout_bytes),
        cmocka_unit_test(test_wire_empty_frame),
        cmocka_unit_test(test_wire_shared_value),
        cmocka_unit_test(test_wire_history_max),
        cmocka_unit_test(test_wire_records_max_values),
        cmocka_unit_test(test_wire_fill_to_records_max),
        cmocka_unit_test(test_wire_largest_value_and_frame),
        cmocka_unit_test(test_wire_begin_and_put_enobufs),
        cmocka_unit_test(test_wire_header_drops),
        cmocka_unit_test(test_wire_decode_guards),
        cmocka_unit_test(test_wire_tag_bit_flips),
        cmocka_unit_test(test_wire_record_drops),
        cmocka_unit_test(test_wire_vid_shape_every_byte),
        cmocka_unit_test(test_wire_history_too_long),
        cmocka_unit_test(test_wire_random_mutations),
        cmocka_unit_test(test_wire_votes_only),
        cmocka_unit_test(test_wire_decided_without_bytes),
        cmocka_unit_test(test_wire_forward_mac),
        cmocka_unit_test(test_wire_attest_macs),
        cmocka_unit_test(test_wire_refuse),
        cmocka_unit_test(test_wire_votes_rules),
    };
    return cmocka_run_group_tests(tests, test_wire_setup, NULL);
}
