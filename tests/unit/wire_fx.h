/*
 * wire_fx.h - what the wire codec's tests share (test_wire.c,
 * test_wire_drops.c, test_wire_records.c): the frame layout restated on
 * its own, the header, keys and values their frames use, record builders,
 * and the encode, re-tag and decode helpers. Must never: take an offset or
 * size from wire.c's constants (the tests pair up with the codec only if
 * the layout is written down apart).
 */
#ifndef BPC_TEST_WIRE_FX_H
#define BPC_TEST_WIRE_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpcon.h"

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

#define T_RECS_CAP 160u

extern const struct bpc_frame_header test_wire_hdr;
extern uint8_t test_wire_key[BPC_KEY_BYTES];
extern uint8_t test_wire_other_key[BPC_KEY_BYTES];
extern uint8_t test_wire_val_a[100];
extern uint8_t test_wire_val_b[500];
extern uint8_t test_wire_val_c[40];
extern uint8_t test_wire_val_max[BPC_VALUE_BYTES_MAX];
/* Where the helpers below and the tests decode to. */
extern struct bpc_record test_wire_out[T_RECS_CAP];

/* The next value of a splitmix64 stream. */
uint64_t test_wire_next(uint64_t *state);
/* The group setup: bpc_init, the pair keys and the values. */
int test_wire_setup(void **state);

/* Record builders. */
struct bpc_record test_wire_rec(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux);
struct bpc_record test_wire_inline(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux,
                                   const char *s);
/* A digest-kind record; carried means its bytes ride in the value section. */
struct bpc_record test_wire_digest(uint8_t type, uint64_t instance, uint64_t ballot,
                                   const uint8_t *v, uint32_t len, bool carried);
struct bpc_record test_wire_noop(uint8_t type, uint64_t instance, uint64_t ballot);

/* Frame helpers. */
uint32_t test_wire_encode(uint8_t *buf, uint32_t cap, const struct bpc_record *recs, uint32_t n,
                          uint32_t value_cap);
void test_wire_retag(uint8_t *frame, uint32_t len);
/* Parses, verifies and decodes a frame whose header is sound; returns the
 * decode result. */
int test_wire_decode_ok_header(const uint8_t *frame, uint32_t len);
void test_wire_assert_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b);
/* Decoded record d against what was put (p); aux is compared unless the
 * record carries its value (then aux is an offset the encoder chose). */
void test_wire_assert_rec_eq(const struct bpc_record *p, const struct bpc_record *d, bool cmp_aux);
/* Whether the encoder carries r's value bytes in the value section. */
bool test_wire_carried(const struct bpc_record *r);

#endif
