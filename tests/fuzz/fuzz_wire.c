/*
 * fuzz_wire.c - libFuzzer target for the frame codec (engine/src/wire.c).
 *
 * Owns: one input = one received frame. It runs what the engine runs on a
 * frame (parse_header, verify, decode); decode is reached whatever the tag
 * says, since a fuzzer cannot forge tags and decode must be safe anyway.
 * Every record decode accepts must obey the per-type rules of WIRE.md,
 * checked here independently of wire.c (value kinds per type, ATTEST's
 * 16-byte MAC and length, VALUE's DIGEST, carried bytes for DIGEST 2A,
 * DECIDED, FORWARD and VALUE inside the value section and hashing to the
 * digest, ballots, history).
 * bpc_wire_votes_only (the engine's gate for decoding before the tag)
 * must say yes exactly for decoded frames of 2AV, 2B and VOTES records
 * alone (none of which carries bytes).
 * Its records are then encoded again and decoded a second time: both
 * decodes must agree (the encode/decode pair assertion). The seed corpus
 * is tests/fuzz/corpus/wire/ (make_corpus.c). Must never: use cmocka or
 * any state that outlives one input, beyond the one-time library init and
 * the fixed key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bpcon.h"
#include "fuzz_common.h"
#include "internal.h"

#define FUZZ_RECS_CAP (BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES)

/* A broken pair assertion aborts, which libFuzzer reports as a crash. */
#define FUZZ_CHECK(x)                                                                              \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_wire: check failed: %s (line %d)\n", #x, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_Static_assert(BPC_MSG_TYPES_COUNT == BPC_MSG_REFUSE + 1,
               "a new record type: teach fuzz_wire_check_record its rules");

/* Records whose DIGEST value travels with its bytes in the value section. */
static bool
fuzz_wire_carried(const struct bpc_record *r)
{
    if (r->type == BPC_MSG_DECIDED && r->aux == BPC_WIRE_AUX_NO_BYTES) {
        return false; /* a claim that names its DIGEST value alone */
    }
    return r->value.kind == BPC_VALUE_DIGEST &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_FORWARD ||
            r->type == BPC_MSG_VALUE);
}

/* True when the bytes from `from` on are all zero. */
static bool
fuzz_wire_zero_from(const uint8_t *id, uint32_t from)
{
    for (uint32_t k = from; k < BPC_VALUE_INLINE_MAX; k++) {
        if (id[k] != 0) {
            return false;
        }
    }
    return true;
}

/* The shape of a value by its kind: no bytes for NONE and NOOP, an inline
 * value zero-padded, a DIGEST longer than the inline limit; no other kind. */
static void
fuzz_wire_check_value(const struct bpc_vid *v)
{
    switch (v->kind) {
    case BPC_VALUE_NONE:
    case BPC_VALUE_NOOP:
        FUZZ_CHECK(v->len == 0 && fuzz_wire_zero_from(v->id, 0));
        break;
    case BPC_VALUE_INLINE:
        FUZZ_CHECK(v->len <= BPC_VALUE_INLINE_MAX && fuzz_wire_zero_from(v->id, v->len));
        break;
    case BPC_VALUE_DIGEST:
        FUZZ_CHECK(v->len > BPC_VALUE_INLINE_MAX && v->len <= BPC_VALUE_BYTES_MAX);
        break;
    default:
        FUZZ_CHECK(v->kind <= BPC_VALUE_NOOP); /* an unknown kind accepted */
    }
}

/* REFUSE: a submitter number and a sequence number that is not 0. */
static void
fuzz_wire_check_refuse(const struct bpc_record *r)
{
    const struct bpc_vid *v = &r->value;
    uint64_t q = 0;
    for (uint32_t k = 0; k < 8; k++) {
        q |= (uint64_t)v->id[k] << (8 * k);
    }
    FUZZ_CHECK(v->kind == BPC_VALUE_INLINE && v->len == 8 && q != 0);
    FUZZ_CHECK(r->aux <= UINT16_MAX);
}

/* VOTES: a run of 2..BPC_VOTES_RUN_MAX votes of one type, its digest's
 * length that of the k value ids, no instance past 2^64 - 1. */
static void
fuzz_wire_check_votes(const struct bpc_record *r)
{
    const struct bpc_vid *v = &r->value;
    uint64_t type = r->aux & 0xffu;
    uint64_t k = r->aux >> 8;
    FUZZ_CHECK(v->kind == BPC_VALUE_DIGEST && r->value_bytes == NULL);
    FUZZ_CHECK(type == BPC_MSG_2AV || type == BPC_MSG_2B);
    FUZZ_CHECK(k >= 2 && k <= BPC_VOTES_RUN_MAX && v->len == BPC_VOTES_VID_BYTES * k);
    FUZZ_CHECK(r->instance <= UINT64_MAX - k);
}

/* The rules of each record type on its value, aux and history count. */
static void
fuzz_wire_check_type(const struct bpc_record *r)
{
    const struct bpc_vid *v = &r->value;
    bool none = v->kind == BPC_VALUE_NONE;
    switch (r->type) {
    case BPC_MSG_1A:
    case BPC_MSG_1B_RANGE:
    case BPC_MSG_STATUS:
        FUZZ_CHECK(none);
        break;
    case BPC_MSG_1B:
        FUZZ_CHECK(r->hist_count <= BPC_HISTORY_MAX);
        FUZZ_CHECK(r->aux < r->ballot && none == (r->aux == 0));
        break;
    case BPC_MSG_1B_HIST:
        /* kind NONE: a clean floor (fuzz_wire_check_history: the last) */
        FUZZ_CHECK(r->aux >= 1 && r->aux < r->ballot);
        break;
    case BPC_MSG_ATTEST:
        /* One command MAC, or two: for instance and instance + 1. */
        FUZZ_CHECK(v->kind == BPC_VALUE_INLINE &&
                   (v->len == BPC_CMD_MAC_BYTES ||
                    (v->len == 2 * BPC_CMD_MAC_BYTES && r->instance < UINT64_MAX)));
        FUZZ_CHECK(r->aux <= BPC_VALUE_BYTES_MAX);
        break;
    case BPC_MSG_VALUE:
        FUZZ_CHECK(v->kind == BPC_VALUE_DIGEST); /* and carried: fuzz_wire_check_carried */
        break;
    case BPC_MSG_REFUSE:
        fuzz_wire_check_refuse(r);
        break;
    case BPC_MSG_VOTES:
        fuzz_wire_check_votes(r);
        break;
    default: /* 2A, 2AV, 2B, DECIDED, FORWARD */
        FUZZ_CHECK(!none);
        break;
    }
}

/* Carried bytes: none unless the record carries its DIGEST value's bytes;
 * then inside the section, at aux, hashing to the digest; a FORWARD's name
 * their MAC (the engine's to check), zeros after it. */
static void
fuzz_wire_check_carried(const struct bpc_record *r, const uint8_t *section, uint32_t section_len)
{
    const struct bpc_vid *v = &r->value;
    if (!fuzz_wire_carried(r)) {
        FUZZ_CHECK(r->value_bytes == NULL);
        return;
    }
    FUZZ_CHECK(r->value_bytes != NULL);
    FUZZ_CHECK(r->aux <= section_len && v->len <= section_len - r->aux);
    FUZZ_CHECK(r->value_bytes == section + r->aux);
    if (r->type == BPC_MSG_FORWARD) {
        FUZZ_CHECK(fuzz_wire_zero_from(v->id, BPC_CMD_MAC_BYTES));
        return;
    }
    uint8_t digest[BPC_DIGEST_BYTES];
    crypto_generichash(digest, sizeof(digest), r->value_bytes, v->len, NULL, 0);
    FUZZ_CHECK(memcmp(digest, v->id, sizeof(digest)) == 0);
}

/* The per-type rules of WIRE.md, written out again: a record decode
 * accepted must satisfy them. */
static void
fuzz_wire_check_record(const struct bpc_record *r, const uint8_t *section, uint32_t section_len)
{
    const struct bpc_vid *v = &r->value;
    FUZZ_CHECK(r->type >= BPC_MSG_1A && r->type < BPC_MSG_TYPES_COUNT);
    FUZZ_CHECK(v->pad == 0);
    fuzz_wire_check_value(v);
    FUZZ_CHECK(r->ballot <= BPC_BALLOT_MAX);
    FUZZ_CHECK(r->ballot > 0 || r->type == BPC_MSG_STATUS);
    FUZZ_CHECK(r->hist_count == 0 || r->type == BPC_MSG_1B);
    fuzz_wire_check_type(r);
    fuzz_wire_check_carried(r, section, section_len);
}

/* History placement: each 1B is followed by exactly hist_count 1B_HIST
 * records of its instance and ballot, and 1B_HIST stands nowhere else; a
 * clean floor (kind NONE) only as the last of them. */
static void
fuzz_wire_check_history(const struct bpc_record *recs, uint32_t n)
{
    uint32_t owed = 0;
    const struct bpc_record *owner = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (owed > 0) {
            FUZZ_CHECK(recs[i].type == BPC_MSG_1B_HIST);
            FUZZ_CHECK(recs[i].instance == owner->instance && recs[i].ballot == owner->ballot);
            FUZZ_CHECK(recs[i].value.kind != BPC_VALUE_NONE || owed == 1);
            owed--;
            continue;
        }
        FUZZ_CHECK(recs[i].type != BPC_MSG_1B_HIST);
        if (recs[i].type == BPC_MSG_1B) {
            owed = recs[i].hist_count;
            owner = &recs[i];
        }
    }
    FUZZ_CHECK(owed == 0);
}

/* Same record, except aux of a carried value (an offset the encoder picks). */
static void
fuzz_wire_check_same(const struct bpc_record *a, const struct bpc_record *b)
{
    FUZZ_CHECK(a->type == b->type);
    FUZZ_CHECK(a->hist_count == b->hist_count);
    FUZZ_CHECK(a->instance == b->instance);
    FUZZ_CHECK(a->ballot == b->ballot);
    FUZZ_CHECK(fuzz_wire_carried(a) || a->aux == b->aux);
    FUZZ_CHECK(memcmp(&a->value, &b->value, sizeof(a->value)) == 0);
    FUZZ_CHECK((a->value_bytes == NULL) == (b->value_bytes == NULL));
    if (a->value_bytes != NULL) {
        FUZZ_CHECK(memcmp(a->value_bytes, b->value_bytes, a->value.len) == 0);
    }
}

/* Encodes decoded records again and decodes the result. */
static void
fuzz_wire_reencode(const struct bpc_frame_header *h, const struct bpc_record *recs, uint32_t n)
{
    uint64_t carried = 0;
    for (uint32_t i = 0; i < n; i++) {
        carried += fuzz_wire_carried(&recs[i]) ? recs[i].value.len : 0;
    }
    uint64_t need =
        BPC_WIRE_HEADER_BYTES + (uint64_t)BPC_WIRE_RECORD_BYTES * n + carried + BPC_TAG_BYTES;
    if (need > BPC_FRAME_BYTES_MAX) {
        return; /* cannot happen: the decoder takes values only in order */
    }
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    static struct bpc_record again[FUZZ_RECS_CAP];
    struct bpc_wire_writer w;
    FUZZ_CHECK(bpc_wire_begin(&w, buf, sizeof(buf), (uint32_t)carried) == 0);
    for (uint32_t i = 0; i < n; i++) {
        FUZZ_CHECK(bpc_wire_put(&w, &recs[i]) == 0);
    }
    uint32_t len = bpc_wire_finish(&w, h, fuzz_wire_key);
    FUZZ_CHECK(len == need);

    struct bpc_frame_header h2;
    FUZZ_CHECK(bpc_wire_parse_header(buf, len, &h2) == 0);
    FUZZ_CHECK(h2.cluster_id == h->cluster_id && h2.seq == h->seq);
    FUZZ_CHECK(h2.sender == h->sender && h2.receiver == h->receiver);
    FUZZ_CHECK(h2.record_count == n && h2.value_bytes == carried);
    FUZZ_CHECK(bpc_wire_verify(buf, len, fuzz_wire_key));
    FUZZ_CHECK(bpc_wire_decode(buf, len, &h2, again, FUZZ_RECS_CAP) == (int)n);
    for (uint32_t i = 0; i < n; i++) {
        fuzz_wire_check_same(&recs[i], &again[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        FUZZ_CHECK(bpc_init() == 0);
        ready = true;
    }
    /* Lengths above u32 are clipped to one that parse_header calls LONG. */
    uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    struct bpc_frame_header h;
    int rc = bpc_wire_parse_header(data, len, &h);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && -1 - rc < BPC_DROP_REASONS_COUNT);
        return 0;
    }
    (void)bpc_wire_verify(data, len, fuzz_wire_key);
    /* The engine's gate for decoding before the tag reads only type bytes. */
    bool votes = bpc_wire_votes_only(data, &h);

    static struct bpc_record recs[FUZZ_RECS_CAP];
    rc = bpc_wire_decode(data, len, &h, recs, FUZZ_RECS_CAP);
    if (rc < 0) {
        FUZZ_CHECK(-1 - rc < BPC_DROP_REASONS_COUNT);
        return 0;
    }
    FUZZ_CHECK(rc == h.record_count);
    bool all_votes = rc > 0 && h.value_bytes == 0;
    for (int i = 0; i < rc; i++) {
        all_votes = all_votes && (recs[i].type == BPC_MSG_2AV || recs[i].type == BPC_MSG_2B ||
                                  recs[i].type == BPC_MSG_VOTES);
        FUZZ_CHECK(!votes || recs[i].value_bytes == NULL);
    }
    FUZZ_CHECK(votes == all_votes);
    const uint8_t *section = data + BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * (size_t)rc;
    for (int i = 0; i < rc; i++) {
        fuzz_wire_check_record(&recs[i], section, h.value_bytes);
    }
    fuzz_wire_check_history(recs, (uint32_t)rc);
    fuzz_wire_reencode(&h, recs, (uint32_t)rc);
    return 0;
}
