/*
 * fuzz_wire.c - libFuzzer target for the frame codec (engine/src/wire.c).
 *
 * Owns: one input = one received frame. It runs what the engine runs on a
 * frame (parse_header, verify, decode); decode is reached whatever the tag
 * says, since a fuzzer cannot forge tags and decode must be safe anyway.
 * When decode accepts a frame, its records are encoded again and decoded a
 * second time: both decodes must agree (the encode/decode pair assertion).
 * Must never: use cmocka or any state that outlives one input, beyond the
 * one-time library init and the fixed key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
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

static const uint8_t fuzz_wire_key[BPC_KEY_BYTES] = {
    0x62, 0x70, 0x63, 0x6f, 0x6e, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x77, 0x69, 0x72, 0x65, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

static bool
fuzz_wire_carried(const struct bpc_record *r)
{
    return r->value.kind == BPC_VALUE_DIGEST &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED);
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
        return; /* the input let several records share value bytes */
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

    static struct bpc_record recs[FUZZ_RECS_CAP];
    rc = bpc_wire_decode(data, len, &h, recs, FUZZ_RECS_CAP);
    if (rc < 0) {
        FUZZ_CHECK(-1 - rc < BPC_DROP_REASONS_COUNT);
        return 0;
    }
    FUZZ_CHECK(rc == h.record_count);
    const uint8_t *section = data + BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * (size_t)rc;
    for (int i = 0; i < rc; i++) {
        const uint8_t *vb = recs[i].value_bytes;
        FUZZ_CHECK(vb == NULL ||
                   (vb >= section && vb + recs[i].value.len <= section + h.value_bytes));
    }
    fuzz_wire_reencode(&h, recs, (uint32_t)rc);
    return 0;
}
