/*
 * wire_fx.c - what the wire codec's tests share (wire_fx.h): the header,
 * keys and values of their frames, the group setup, record builders and
 * frame helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bpcon.h"
#include "internal.h"

#include "wire_fx.h"

const struct bpc_frame_header test_wire_hdr = {
    .cluster_id = 0x1122334455667788u,
    .sender = 3,
    .receiver = 0x0405,
    .seq = 0x0102030405060708u,
};

uint8_t test_wire_key[BPC_KEY_BYTES];
uint8_t test_wire_other_key[BPC_KEY_BYTES];
uint8_t test_wire_val_a[100];
uint8_t test_wire_val_b[500];
uint8_t test_wire_val_c[40];
uint8_t test_wire_val_max[BPC_VALUE_BYTES_MAX];
struct bpc_record test_wire_out[T_RECS_CAP];

uint64_t
test_wire_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void
test_wire_fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)test_wire_next(&seed);
    }
}

int
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

struct bpc_record
test_wire_rec(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux)
{
    return bpc_record_make(type, instance, ballot, aux, NULL);
}

struct bpc_record
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
struct bpc_record
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

struct bpc_record
test_wire_noop(uint8_t type, uint64_t instance, uint64_t ballot)
{
    struct bpc_record r = test_wire_rec(type, instance, ballot, 0);
    r.value.kind = BPC_VALUE_NOOP;
    return r;
}

/* ---- frame helpers ------------------------------------------------------ */

uint32_t
test_wire_encode(uint8_t *buf, uint32_t cap, const struct bpc_record *recs, uint32_t n,
                 uint32_t value_cap)
{
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, cap, value_cap), 0);
    for (uint32_t i = 0; i < n; i++) {
        /* The engine's writer without its debug check: the decoder tests
         * write records it refuses on purpose, which bpc_wire_put would
         * not take (and eng_wire_put asserts on under -DBPC_DEBUG=1). */
        assert_int_equal(eng_wire_put_unchecked(&w, &recs[i]), 0);
    }
    return bpc_wire_finish(&w, &test_wire_hdr, test_wire_key);
}

void
test_wire_retag(uint8_t *frame, uint32_t len)
{
    bpc_wire_retag(frame, len, test_wire_key);
}

/* Parses, verifies and decodes a frame whose header is sound; returns the
 * decode result. */
int
test_wire_decode_ok_header(const uint8_t *frame, uint32_t len)
{
    struct bpc_frame_header h;
    assert_int_equal(bpc_wire_parse_header(frame, len, &h), 0);
    assert_true(bpc_wire_verify(frame, len, test_wire_key));
    return bpc_wire_decode(frame, len, &h, test_wire_out, T_RECS_CAP);
}

void
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
void
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

bool
test_wire_carried(const struct bpc_record *r)
{
    if (r->type == BPC_MSG_DECIDED && r->aux == BPC_WIRE_AUX_NO_BYTES) {
        return false; /* a claim that names its DIGEST value alone */
    }
    return r->value.kind == BPC_VALUE_DIGEST &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_FORWARD ||
            r->type == BPC_MSG_VALUE);
}
