/*
 * wire.c - the frame codec: header, fixed 64-byte records, value section
 * and tag placement (layout in bpcon.h and docs/WIRE.md).
 *
 * Owns: byte offsets of every wire field, the encoder's buffer layout, and
 * every structural check on received frames (lengths, reserved bytes,
 * record types, value shapes, ballot rules, 1b history placement, digest
 * values of 2a/decided records).
 *
 * Must never: trust a received byte (each check returns a drop reason, none
 * asserts), read outside [frame, frame + len), cast a pointer to load an
 * integer, judge cluster/sender/receiver/sequence (the engine does), or
 * compute the tag itself (auth.c does).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

/* Header field offsets (bytes from the start of the frame). */
#define WIRE_HDR_MAGIC 0u
#define WIRE_HDR_VERSION 4u
#define WIRE_HDR_RESERVED 5u
#define WIRE_HDR_RECORD_COUNT 6u
#define WIRE_HDR_CLUSTER_ID 8u
#define WIRE_HDR_SENDER 16u
#define WIRE_HDR_RECEIVER 18u
#define WIRE_HDR_VALUE_BYTES 20u
#define WIRE_HDR_SEQ 24u
#define WIRE_HDR_END 32u

/* Record field offsets (bytes from the start of the record). */
#define WIRE_REC_TYPE 0u
#define WIRE_REC_VALUE_KIND 1u
#define WIRE_REC_HIST_COUNT 2u
#define WIRE_REC_RESERVED0 3u
#define WIRE_REC_VALUE_LEN 4u
#define WIRE_REC_RESERVED1 6u
#define WIRE_REC_INSTANCE 8u
#define WIRE_REC_BALLOT 16u
#define WIRE_REC_AUX 24u
#define WIRE_REC_VALUE 32u
#define WIRE_REC_END 64u

/* The smallest well-formed frame: a header, no records, no values, a tag. */
#define WIRE_FRAME_MIN (BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES)

/* Each field starts where the previous one ends: the layout has no holes
 * and no compiler padding is involved (fields are stored byte by byte). */
_Static_assert(WIRE_HDR_VERSION == WIRE_HDR_MAGIC + 4u, "magic is u32");
_Static_assert(WIRE_HDR_RESERVED == WIRE_HDR_VERSION + 1u, "version is u8");
_Static_assert(WIRE_HDR_RECORD_COUNT == WIRE_HDR_RESERVED + 1u, "reserved is u8");
_Static_assert(WIRE_HDR_CLUSTER_ID == WIRE_HDR_RECORD_COUNT + 2u, "record_count is u16");
_Static_assert(WIRE_HDR_SENDER == WIRE_HDR_CLUSTER_ID + 8u, "cluster_id is u64");
_Static_assert(WIRE_HDR_RECEIVER == WIRE_HDR_SENDER + 2u, "sender is u16");
_Static_assert(WIRE_HDR_VALUE_BYTES == WIRE_HDR_RECEIVER + 2u, "receiver is u16");
_Static_assert(WIRE_HDR_SEQ == WIRE_HDR_VALUE_BYTES + 4u, "value_bytes is u32");
_Static_assert(WIRE_HDR_END == WIRE_HDR_SEQ + 8u, "seq is u64");
_Static_assert(WIRE_HDR_END == BPC_WIRE_HEADER_BYTES, "header is 32 bytes");

_Static_assert(WIRE_REC_VALUE_KIND == WIRE_REC_TYPE + 1u, "type is u8");
_Static_assert(WIRE_REC_HIST_COUNT == WIRE_REC_VALUE_KIND + 1u, "value_kind is u8");
_Static_assert(WIRE_REC_RESERVED0 == WIRE_REC_HIST_COUNT + 1u, "hist_count is u8");
_Static_assert(WIRE_REC_VALUE_LEN == WIRE_REC_RESERVED0 + 1u, "reserved0 is u8");
_Static_assert(WIRE_REC_RESERVED1 == WIRE_REC_VALUE_LEN + 2u, "value_len is u16");
_Static_assert(WIRE_REC_INSTANCE == WIRE_REC_RESERVED1 + 2u, "reserved1 is u16");
_Static_assert(WIRE_REC_BALLOT == WIRE_REC_INSTANCE + 8u, "instance is u64");
_Static_assert(WIRE_REC_AUX == WIRE_REC_BALLOT + 8u, "ballot is u64");
_Static_assert(WIRE_REC_VALUE == WIRE_REC_AUX + 8u, "aux is u64");
_Static_assert(WIRE_REC_END == WIRE_REC_VALUE + BPC_VALUE_INLINE_MAX, "value is 32 bytes");
_Static_assert(WIRE_REC_END == BPC_WIRE_RECORD_BYTES, "record is 64 bytes");

/* Limits the layout depends on. */
_Static_assert(BPC_VALUE_INLINE_MAX == BPC_DIGEST_BYTES, "a record's value field holds a digest");
_Static_assert(sizeof(((struct bpc_vid *)0)->id) == BPC_VALUE_INLINE_MAX, "vid id is 32 bytes");
_Static_assert(BPC_DIGEST_BYTES == crypto_generichash_BYTES, "digest is BLAKE2b-256");
_Static_assert(BPC_VALUE_BYTES_MAX <= UINT16_MAX, "value_len is a u16");
_Static_assert(BPC_FRAME_BYTES_MAX <= UINT32_MAX / 2u, "frame arithmetic stays in u32");
_Static_assert(BPC_FRAME_BYTES_MIN >= WIRE_FRAME_MIN + BPC_WIRE_RECORD_BYTES,
               "the smallest configured frame carries one record");
_Static_assert(WIRE_FRAME_MIN + BPC_WIRE_RECORD_BYTES + BPC_VALUE_BYTES_MAX <= BPC_FRAME_BYTES_MAX,
               "the largest value fits one frame beside its 2a record");
_Static_assert((BPC_FRAME_BYTES_MAX - WIRE_FRAME_MIN) / BPC_WIRE_RECORD_BYTES <= UINT16_MAX,
               "record_count is a u16");
_Static_assert(BPC_HISTORY_MAX <= UINT8_MAX, "hist_count is a u8");
_Static_assert(BPC_MSG_TYPES_COUNT == BPC_MSG_REFUSE + 1, "types run 1..REFUSE");

/* A drop reason as decode/parse return it. */
#define WIRE_FAIL(reason) (-1 - (int)(reason))

/* The part of a received frame that values of 2a/decided records point into. */
struct wire_section {
    const uint8_t *bytes;
    uint32_t len;
    uint32_t next; /* where the next carried value must start */
};

/* Progress through a 1b record's trailing history records. */
struct wire_hist {
    uint32_t pending; /* history records still owed by the last 1b */
    uint64_t instance;
    uint64_t ballot;
};

static uint32_t
wire_min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Exact frame length for a record count and value section size (u64: no
 * overflow for any u16 count and u32 value size). */
static uint64_t
wire_frame_len(uint64_t record_count, uint64_t value_bytes)
{
    return BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * record_count + value_bytes +
           BPC_TAG_BYTES;
}

/* The bytes a frame's tag covers: the header and the records. The value
 * section is bound by the records' digests, which the decoder checks
 * (wire_value_locate), so it is not tagged (docs/WIRE.md). */
static uint32_t
wire_tagged_len(uint16_t record_count)
{
    return BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * (uint32_t)record_count;
}

/* The tagged length a frame of len (>= WIRE_FRAME_MIN) bytes claims, or
 * UINT32_MAX when its record count claims more than fits. */
static uint32_t
wire_frame_tagged(const uint8_t *frame, uint32_t len)
{
    uint32_t tagged = wire_tagged_len(bpc_le16_load(frame + WIRE_HDR_RECORD_COUNT));
    return tagged > len - BPC_TAG_BYTES ? UINT32_MAX : tagged;
}

/* Which value kinds a record type may carry. */
static inline __attribute__((always_inline)) bool
wire_value_kind_ok(const struct bpc_record *r)
{
    bool none = r->value.kind == BPC_VALUE_NONE;
    switch (r->type) {
    case BPC_MSG_1A:
    case BPC_MSG_1B_RANGE:
    case BPC_MSG_STATUS:
        return none;
    case BPC_MSG_1B:
        /* A 1b reports a vote (maxVBal > 0) with a value, or no vote at all. */
        return none == (r->aux == 0);
    case BPC_MSG_1B_HIST:
        /* A 2av entry names its value; kind NONE is the clean floor (where
         * it may stand: wire_hist_step). */
        return true;
    case BPC_MSG_ATTEST:
        /* One MAC, or two for instance and instance + 1. */
        return r->value.kind == BPC_VALUE_INLINE &&
               (r->value.len == BPC_CMD_MAC_BYTES ||
                (r->value.len == BPC_ATTEST_MACS_MAX * BPC_CMD_MAC_BYTES &&
                 r->instance < UINT64_MAX)) &&
               r->aux <= BPC_VALUE_BYTES_MAX;
    case BPC_MSG_VALUE:
        return r->value.kind == BPC_VALUE_DIGEST;
    case BPC_MSG_REFUSE:
        /* A submitter number and a command sequence number (not 0). */
        return r->value.kind == BPC_VALUE_INLINE && r->value.len == sizeof(uint64_t) &&
               r->aux <= UINT16_MAX && bpc_le64_load(r->value.id) != 0;
    case BPC_MSG_VOTES: {
        uint64_t vt = r->aux & 0xffu;
        uint64_t k = r->aux >> 8;
        return r->value.kind == BPC_VALUE_DIGEST && (vt == BPC_MSG_2AV || vt == BPC_MSG_2B) &&
               k >= 2 && k <= BPC_VOTES_RUN_MAX && r->value.len == BPC_VOTES_VID_BYTES * k &&
               r->instance <= UINT64_MAX - k;
    }
    default:
        return !none;
    }
}

/* Ballot rules: zero only in STATUS; a 1b's maxVBal and a history entry's
 * ballot lie below the 1b's ballot (a history entry names a real ballot). */
static inline __attribute__((always_inline)) bool
wire_ballot_ok(const struct bpc_record *r)
{
    if (r->ballot > BPC_BALLOT_MAX) {
        return false; /* ballots saturate: see BPC_BALLOT_MAX */
    }
    if (r->type == BPC_MSG_STATUS) {
        return true;
    }
    if (r->ballot == 0) {
        return false;
    }
    if (r->type == BPC_MSG_1B) {
        return r->aux < r->ballot;
    }
    if (r->type == BPC_MSG_1B_HIST) {
        return r->aux >= 1 && r->aux < r->ballot;
    }
    return true;
}

/* Does this record carry its value bytes in the value section? */
static bool
wire_value_carried(uint8_t type, uint8_t kind)
{
    return kind == BPC_VALUE_DIGEST && (type == BPC_MSG_2A || type == BPC_MSG_DECIDED ||
                                        type == BPC_MSG_FORWARD || type == BPC_MSG_VALUE);
}

/* Record-local checks that need no value section; 0 or -1 - drop reason.
 * Inlined into the decoder's record loop even though bpc_wire_put calls
 * it too (out of line it cost the engine tier 0.5 %). */
static inline __attribute__((always_inline)) int
wire_record_check(const struct bpc_record *r)
{
    if (!bpc_vid_shape_ok(&r->value) || !wire_value_kind_ok(r)) {
        return WIRE_FAIL(BPC_DROP_BAD_VALUE);
    }
    if (!wire_ballot_ok(r)) {
        return WIRE_FAIL(BPC_DROP_BAD_BALLOT);
    }
    return 0;
}

/* Finds a carried value's bytes at [aux, aux + len) of the value section
 * and checks that they hash to the record's digest. A FORWARD's bytes are
 * bound by the command MAC its id holds instead (bpc_forward_value): the
 * engine checks that MAC, the only party able to (it needs the key); here
 * the id's unused half must be zero. The values lie as the encoder puts
 * them: one per carried record, in record order, with no gaps, so each
 * byte of the section is hashed once at most. Before, any range inside
 * the section was taken, and an authenticated peer's frame of 69 records
 * naming the same 4,476 bytes cost 69 digests of them (356 us against
 * 5 us for one). */
static int
wire_value_locate(struct bpc_record *r, struct wire_section *vs)
{
    /* Written so that no sum can wrap: aux is a peer's u64. */
    if (r->aux != vs->next || r->value.len > vs->len - vs->next) {
        return WIRE_FAIL(BPC_DROP_BAD_VALUE);
    }
    vs->next += r->value.len;
    const uint8_t *bytes = vs->bytes + r->aux;
    if (r->type == BPC_MSG_FORWARD) {
        static const uint8_t zero[BPC_VALUE_INLINE_MAX - BPC_CMD_MAC_BYTES];
        if (memcmp(r->value.id + BPC_CMD_MAC_BYTES, zero, sizeof(zero)) != 0) {
            return WIRE_FAIL(BPC_DROP_BAD_VALUE);
        }
        r->value_bytes = bytes;
        return 0;
    }
    uint8_t digest[BPC_DIGEST_BYTES];
    eng_digest(digest, bytes, r->value.len);
    if (memcmp(digest, r->value.id, sizeof(digest)) != 0) {
        return WIRE_FAIL(BPC_DROP_BAD_VALUE);
    }
    r->value_bytes = bytes;
    return 0;
}

/* Decodes and checks one 64-byte record. */
static int
wire_record_decode(const uint8_t *p, struct wire_section *vs, struct bpc_record *r)
{
    uint8_t type = p[WIRE_REC_TYPE];
    if (type == BPC_MSG_NONE || type >= BPC_MSG_TYPES_COUNT) {
        return WIRE_FAIL(BPC_DROP_BAD_TYPE);
    }
    if (p[WIRE_REC_RESERVED0] != 0 || bpc_le16_load(p + WIRE_REC_RESERVED1) != 0) {
        return WIRE_FAIL(BPC_DROP_RESERVED);
    }
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->hist_count = p[WIRE_REC_HIST_COUNT];
    r->instance = bpc_le64_load(p + WIRE_REC_INSTANCE);
    r->ballot = bpc_le64_load(p + WIRE_REC_BALLOT);
    r->aux = bpc_le64_load(p + WIRE_REC_AUX);
    r->value.kind = p[WIRE_REC_VALUE_KIND];
    r->value.len = bpc_le16_load(p + WIRE_REC_VALUE_LEN);
    memcpy(r->value.id, p + WIRE_REC_VALUE, BPC_VALUE_INLINE_MAX);
    r->value_bytes = NULL;

    int rc = wire_record_check(r);
    if (rc != 0) {
        return rc;
    }
    if (wire_value_carried(r->type, r->value.kind) &&
        !(r->type == BPC_MSG_DECIDED && r->aux == BPC_WIRE_AUX_NO_BYTES)) {
        return wire_value_locate(r, vs);
    }
    return 0;
}

/* History placement: a 1b with hist_count k is followed at once by exactly
 * k 1B_HIST records of its instance and ballot; 1B_HIST appears nowhere
 * else and no other type has a hist_count. A clean floor (kind NONE) may
 * stand only as the last of them. */
static int
wire_hist_step(struct wire_hist *hs, const struct bpc_record *r)
{
    if (hs->pending > 0) {
        if (r->type != BPC_MSG_1B_HIST || r->instance != hs->instance || r->ballot != hs->ballot) {
            return WIRE_FAIL(BPC_DROP_BAD_HISTORY);
        }
        if (r->value.kind == BPC_VALUE_NONE && hs->pending != 1) {
            return WIRE_FAIL(BPC_DROP_BAD_HISTORY); /* a clean floor not last */
        }
        hs->pending--;
    } else if (r->type == BPC_MSG_1B_HIST) {
        return WIRE_FAIL(BPC_DROP_BAD_HISTORY);
    }
    if (r->type == BPC_MSG_1B) {
        if (r->hist_count > BPC_HISTORY_MAX) {
            return WIRE_FAIL(BPC_DROP_BAD_HISTORY);
        }
        hs->pending = r->hist_count;
        hs->instance = r->instance;
        hs->ballot = r->ballot;
    } else if (r->hist_count != 0) {
        return WIRE_FAIL(BPC_DROP_BAD_HISTORY);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Decoder.
 * ---------------------------------------------------------------------- */

int
bpc_wire_parse_header(const uint8_t *frame, uint32_t len, struct bpc_frame_header *h)
{
    /* NULL: no bytes (bpc_engine_step refuses a frame with a length and
     * none), or no header to fill. */
    if (frame == NULL || h == NULL || len < WIRE_FRAME_MIN) {
        return WIRE_FAIL(BPC_DROP_SHORT);
    }
    if (len > BPC_FRAME_BYTES_MAX) {
        return WIRE_FAIL(BPC_DROP_LONG);
    }
    if (bpc_le32_load(frame + WIRE_HDR_MAGIC) != BPC_WIRE_MAGIC) {
        return WIRE_FAIL(BPC_DROP_BAD_MAGIC);
    }
    if (frame[WIRE_HDR_VERSION] != BPC_WIRE_VERSION) {
        return WIRE_FAIL(BPC_DROP_BAD_VERSION);
    }
    if (frame[WIRE_HDR_RESERVED] != 0) {
        return WIRE_FAIL(BPC_DROP_RESERVED);
    }
    uint16_t count = bpc_le16_load(frame + WIRE_HDR_RECORD_COUNT);
    uint32_t value_bytes = bpc_le32_load(frame + WIRE_HDR_VALUE_BYTES);
    if (wire_frame_len(count, value_bytes) != len) {
        return WIRE_FAIL(BPC_DROP_BAD_LENGTH);
    }
    h->record_count = count;
    h->value_bytes = value_bytes;
    h->cluster_id = bpc_le64_load(frame + WIRE_HDR_CLUSTER_ID);
    h->sender = bpc_le16_load(frame + WIRE_HDR_SENDER);
    h->receiver = bpc_le16_load(frame + WIRE_HDR_RECEIVER);
    h->seq = bpc_le64_load(frame + WIRE_HDR_SEQ);
    return 0;
}

bool
bpc_wire_verify(const uint8_t *frame, uint32_t len, const uint8_t key[BPC_KEY_BYTES])
{
    if (frame == NULL || key == NULL || len < WIRE_FRAME_MIN || len > BPC_FRAME_BYTES_MAX) {
        return false;
    }
    /* The record count is a peer's claim, but it lies inside the tagged
     * bytes: a changed count changes what is tagged. */
    uint32_t tagged = wire_frame_tagged(frame, len);
    return tagged != UINT32_MAX && bpc_auth_tag_ok(key, frame, tagged, frame + len - BPC_TAG_BYTES);
}

void
bpc_wire_retag(uint8_t *frame, uint32_t len, const uint8_t key[BPC_KEY_BYTES])
{
    BPC_ASSERT(frame != NULL && key != NULL);
    if (len < WIRE_FRAME_MIN) {
        return; /* no room for a tag: parse_header refuses it anyway */
    }
    /* Crafted bytes may claim more records than fit: such a frame fails
     * parse_header (BAD_LENGTH) before its tag is looked at. */
    uint32_t tagged = wire_frame_tagged(frame, len);
    bpc_auth_tag(key, frame, tagged == UINT32_MAX ? len - BPC_TAG_BYTES : tagged,
                 frame + len - BPC_TAG_BYTES);
}

int
bpc_wire_decode(const uint8_t *frame, uint32_t len, const struct bpc_frame_header *h,
                struct bpc_record *recs, uint32_t recs_cap)
{
    if (frame == NULL || h == NULL || (recs == NULL && recs_cap > 0)) {
        return WIRE_FAIL(BPC_DROP_SHORT); /* no bytes, header or records */
    }
    /* h came from parse_header of these bytes; re-checking the length costs
     * nothing and keeps every read below inside the frame even if not. */
    if (len > BPC_FRAME_BYTES_MAX) {
        return WIRE_FAIL(BPC_DROP_LONG);
    }
    if (wire_frame_len(h->record_count, h->value_bytes) != len) {
        return WIRE_FAIL(BPC_DROP_BAD_LENGTH);
    }
    /* A peer chose the count: a caller's short array is a drop, not a crash. */
    if (h->record_count > recs_cap) {
        return WIRE_FAIL(BPC_DROP_LONG);
    }
    uint32_t records_end = BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * h->record_count;
    struct wire_section vs = {frame + records_end, h->value_bytes, 0};
    struct wire_hist hs = {0};
    for (uint32_t i = 0; i < h->record_count; i++) {
        const uint8_t *p = frame + BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * i;
        int rc = wire_record_decode(p, &vs, &recs[i]);
        if (rc == 0) {
            rc = wire_hist_step(&hs, &recs[i]);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (hs.pending != 0) {
        return WIRE_FAIL(BPC_DROP_BAD_HISTORY);
    }
    if (vs.next != vs.len) {
        return WIRE_FAIL(BPC_DROP_BAD_VALUE); /* bytes no record carries */
    }
    return (int)h->record_count;
}

uint32_t
bpc_wire_records_max(uint32_t frame_bytes)
{
    uint32_t bytes = wire_min_u32(frame_bytes, BPC_FRAME_BYTES_MAX);
    if (bytes < WIRE_FRAME_MIN) {
        return 0;
    }
    return (bytes - WIRE_FRAME_MIN) / BPC_WIRE_RECORD_BYTES;
}

/* ------------------------------------------------------------------------
 * Encoder. While records are appended, carried values sit in a tail region
 * [cap - tag - value_cap, cap - tag); finish moves them right behind the
 * last record. Offsets (aux) are relative to the value section's start, so
 * the move does not change them.
 * ---------------------------------------------------------------------- */

/* One past the last record: the value section starts here. Records and
 * values share the frame: nothing is set aside for values that may never
 * come, and each record added moves the values written so far up by one
 * record (a few hundred bytes at most, against a frame more). */
static uint32_t
wire_writer_records_end(const struct bpc_wire_writer *w)
{
    return wire_tagged_len(w->record_count);
}

int
bpc_wire_begin(struct bpc_wire_writer *w, uint8_t *buf, uint32_t cap, uint32_t value_cap)
{
    if (w == NULL) {
        return -EINVAL;
    }
    if (buf == NULL) {
        memset(w, 0, sizeof(*w)); /* fits() and put() refuse everything */
        return -EINVAL;
    }
    /* Bytes past the frame limit can never be sent: treat them as absent. */
    uint32_t usable = wire_min_u32(cap, BPC_FRAME_BYTES_MAX);
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    if ((uint64_t)WIRE_FRAME_MIN + value_cap > usable) {
        return -ENOBUFS; /* cap 0: fits() and put() refuse everything */
    }
    /* No bulk zeroing: finish writes every header byte, put zeroes each
     * record before filling it, and the value section is copied in whole,
     * so every byte that leaves was written by this frame. */
    w->cap = usable;
    w->value_cap = value_cap;
    return 0;
}

bool
bpc_wire_fits(const struct bpc_wire_writer *w, uint32_t records, uint32_t value_len)
{
    if (w == NULL || (uint64_t)WIRE_FRAME_MIN + w->value_cap > w->cap) {
        return false; /* a writer whose begin failed */
    }
    uint64_t count = (uint64_t)w->record_count + records;
    uint64_t end = BPC_WIRE_HEADER_BYTES + BPC_WIRE_RECORD_BYTES * count + w->value_bytes +
                   (uint64_t)value_len + BPC_TAG_BYTES;
    return count <= UINT16_MAX && end <= w->cap &&
           (uint64_t)w->value_bytes + value_len <= w->value_cap;
}

/* Stores one record's 64 bytes (reserved bytes stay zero from begin). */
static void
wire_record_store(uint8_t *p, const struct bpc_record *r, uint64_t aux)
{
    memset(p, 0, BPC_WIRE_RECORD_BYTES); /* reserved bytes are zero */
    p[WIRE_REC_TYPE] = r->type;
    p[WIRE_REC_VALUE_KIND] = r->value.kind;
    p[WIRE_REC_HIST_COUNT] = r->hist_count;
    bpc_le16_store(p + WIRE_REC_VALUE_LEN, r->value.len);
    bpc_le64_store(p + WIRE_REC_INSTANCE, r->instance);
    bpc_le64_store(p + WIRE_REC_BALLOT, r->ballot);
    bpc_le64_store(p + WIRE_REC_AUX, aux);
    memcpy(p + WIRE_REC_VALUE, r->value.id, BPC_VALUE_INLINE_MAX);
}

/* Would the decoder take r's own fields (type, value shape and kind,
 * ballot, history count)? Where it sits in the frame, and whether carried
 * bytes hash to the digest, the writer does not check. */
static bool
wire_record_putable(const struct bpc_record *r)
{
    if (r->type == BPC_MSG_NONE || r->type >= BPC_MSG_TYPES_COUNT ||
        r->value.kind > BPC_VALUE_NOOP || wire_record_check(r) != 0) {
        return false;
    }
    return r->type == BPC_MSG_1B ? r->hist_count <= BPC_HISTORY_MAX : r->hist_count == 0;
}

int
bpc_wire_put(struct bpc_wire_writer *w, const struct bpc_record *r)
{
    if (w == NULL || r == NULL || w->buf == NULL) {
        return -EINVAL; /* a NULL or never begun (zeroed) writer, no record */
    }
    if (!wire_record_putable(r)) {
        return -EINVAL; /* a frame holding it would be refused whole */
    }
    return eng_wire_put(w, r);
}

int
eng_wire_put(struct bpc_wire_writer *w, const struct bpc_record *r)
{
    /* The engine builds records from its own state: a bad one is a bug. */
    BPC_DEBUG_ASSERT(wire_record_check(r) == 0);
    return eng_wire_put_unchecked(w, r);
}

int
eng_wire_put_unchecked(struct bpc_wire_writer *w, const struct bpc_record *r)
{
    BPC_ASSERT(r->type != BPC_MSG_NONE && r->type < BPC_MSG_TYPES_COUNT);
    BPC_ASSERT(r->value.kind <= BPC_VALUE_NOOP);

    bool carried = wire_value_carried(r->type, r->value.kind) && r->value_bytes != NULL;
    uint32_t value_len = carried ? r->value.len : 0;
    if (!bpc_wire_fits(w, 1, value_len)) {
        return -ENOBUFS;
    }
    uint64_t aux = r->aux;
    uint8_t *p = w->buf + wire_writer_records_end(w);
    if (w->value_bytes > 0) {
        memmove(p + BPC_WIRE_RECORD_BYTES, p, w->value_bytes); /* room for the record */
    }
    if (carried) {
        BPC_ASSERT(value_len > BPC_VALUE_INLINE_MAX && value_len <= BPC_VALUE_BYTES_MAX);
        memcpy(p + BPC_WIRE_RECORD_BYTES + w->value_bytes, r->value_bytes, value_len);
        aux = w->value_bytes; /* offsets count from the section's start */
        w->value_bytes += value_len;
    }
    wire_record_store(p, r, aux);
    w->record_count++;
    return 0;
}

uint32_t
bpc_wire_finish(struct bpc_wire_writer *w, const struct bpc_frame_header *h,
                const uint8_t key[BPC_KEY_BYTES])
{
    if (w == NULL || h == NULL || key == NULL || w->buf == NULL ||
        w->cap < WIRE_FRAME_MIN + w->value_cap) {
        return 0; /* no frame: NULL arguments, or a begin that failed */
    }

    uint8_t *buf = w->buf;
    uint32_t body = wire_writer_records_end(w) + w->value_bytes;
    uint32_t len = body + BPC_TAG_BYTES;
    BPC_ASSERT(len <= w->cap);

    bpc_le32_store(buf + WIRE_HDR_MAGIC, BPC_WIRE_MAGIC);
    buf[WIRE_HDR_VERSION] = (uint8_t)BPC_WIRE_VERSION;
    buf[WIRE_HDR_RESERVED] = 0;
    bpc_le16_store(buf + WIRE_HDR_RECORD_COUNT, w->record_count);
    bpc_le64_store(buf + WIRE_HDR_CLUSTER_ID, h->cluster_id);
    bpc_le16_store(buf + WIRE_HDR_SENDER, h->sender);
    bpc_le16_store(buf + WIRE_HDR_RECEIVER, h->receiver);
    bpc_le32_store(buf + WIRE_HDR_VALUE_BYTES, w->value_bytes);
    bpc_le64_store(buf + WIRE_HDR_SEQ, h->seq);
    bpc_auth_tag(key, buf, wire_writer_records_end(w), buf + body);

    /* Pairs with the decoder: what we emit must parse. */
    BPC_DEBUG_ASSERT(wire_frame_len(w->record_count, w->value_bytes) == len);
    return len;
}

bool
bpc_wire_votes_only(const uint8_t *frame, const struct bpc_frame_header *h)
{
    if (h->value_bytes != 0 || h->record_count == 0) {
        return false;
    }
    const uint8_t *p = frame + BPC_WIRE_HEADER_BYTES;
    for (uint32_t i = 0; i < h->record_count; i++, p += BPC_WIRE_RECORD_BYTES) {
        if (p[WIRE_REC_TYPE] != BPC_MSG_2AV && p[WIRE_REC_TYPE] != BPC_MSG_2B &&
            p[WIRE_REC_TYPE] != BPC_MSG_VOTES) {
            return false;
        }
    }
    return true;
}

uint32_t
bpc_wire_readdress(uint8_t *dst, const uint8_t *src, uint32_t len, uint16_t receiver, uint64_t seq,
                   const uint8_t key[BPC_KEY_BYTES])
{
    BPC_ASSERT(dst != NULL && src != NULL && key != NULL);
    BPC_ASSERT(len >= WIRE_FRAME_MIN);
    uint32_t body = len - BPC_TAG_BYTES;
    if (dst != src) {
        memcpy(dst, src, body); /* tx buffers a caller lent twice: in place */
    }
    bpc_le16_store(dst + WIRE_HDR_RECEIVER, receiver);
    bpc_le64_store(dst + WIRE_HDR_SEQ, seq);
    bpc_wire_retag(dst, len, key);
    return len;
}
