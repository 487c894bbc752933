/*
 * store_format.c - the file format of docs/STORE.md, writing side and
 * record and value decoding: CRC32C, value identities, vote-state records,
 * the file header, record, application and value frames and the
 * commit-end flag. CRC32C comes from ISA-L (crc32_iscsi), not from code of
 * our own.
 *
 * Owns: every byte offset of the format (version 4). Must never: lay a
 * header, frame or record out by struct memory (every field is encoded
 * little-endian by hand, at fixed offsets), or seal a frame whose payload
 * is not yet in place (the payload CRC is taken from the buffer).
 */
#include "internal.h"
#include "store_internal.h"

#include <string.h>

#include <isa-l/crc.h>

_Static_assert(BPC_HISTORY_MAX == 4u, "format v1 holds 4 history entries");
_Static_assert(48u + STORE_VID_BYTES + 4u + 8u * BPC_HISTORY_MAX +
                       STORE_VID_BYTES * BPC_HISTORY_MAX ==
                   BPC_STORE_RECORD_BYTES,
               "record payload layout");
_Static_assert(8u + STORE_VID_BYTES == BPC_STORE_VALUE_HEAD_BYTES, "value payload layout");

/* ------------------------------------------------------------------------
 * CRC32C.
 * ---------------------------------------------------------------------- */

uint32_t
bpc_store_crc32c(const void *buf, size_t len)
{
    /* ISA-L takes a non-const pointer and an int length but reads only:
     * feed it in slices below INT_MAX, through uintptr_t to keep const. */
    const uint8_t *p = buf;
    len = p != NULL ? len : 0; /* NULL: no bytes (the CRC of none, 0) */
    uint32_t crc = 0xffffffffu;
    while (len > 0) {
        size_t part = len > (1u << 30) ? (1u << 30) : len;
        crc = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)part, crc);
        p += part;
        len -= part;
    }
    return ~crc;
}

/* ------------------------------------------------------------------------
 * Record, header and frame encoding.
 * ---------------------------------------------------------------------- */

static void
store_put_vid(uint8_t *p, const struct bpc_vid *v)
{
    p[0] = v->kind;
    p[1] = v->pad;
    store_put_le(p + 2, v->len, 2);
    memcpy(p + 4, v->id, BPC_VALUE_INLINE_MAX);
}

/* Decodes an identity; false when it has a shape no engine writes (the
 * wire's, bpc_vid_shape_ok) or a pad byte: a 1b built from such a record
 * would be malformed. */
static bool
store_get_vid(const uint8_t *p, struct bpc_vid *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = p[0];
    v->pad = p[1];
    v->len = (uint16_t)store_get_le(p + 2, 2);
    memcpy(v->id, p + 4, BPC_VALUE_INLINE_MAX);
    return bpc_vid_stored_ok(v);
}

/* Every field of struct bpc_durable, little-endian, at fixed offsets. A
 * decided record (byte 85 set) has no history: its history places hold
 * dec_bal and dec_val (entry 0) and dec_keep (ballot of entry 1). */
static void
store_encode_record(uint8_t *p, const struct bpc_durable *d)
{
    memset(p, 0, BPC_STORE_RECORD_BYTES);
    store_put_le(p + 0, d->instance, 8);
    store_put_le(p + 8, d->max_bal, 8);
    store_put_le(p + 16, d->incarnation, 8);
    store_put_le(p + 24, d->floor, 8);
    store_put_le(p + 32, d->applied_seq, 8);
    store_put_le(p + 40, d->max_vbal, 8);
    store_put_vid(p + 48, &d->max_vval);
    p[84] = d->hist_count; /* 86..87 reserved, zero */
    if (d->decided) {
        STORE_ASSERT(d->hist_count == 0);
        p[85] = 1;
        store_put_le(p + 88, d->dec_bal, 8);
        store_put_vid(p + 120, &d->dec_val);
        store_put_le(p + 96, d->dec_keep, 8);
        return;
    }
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        store_put_le(p + 88 + 8 * h, d->hist_bal[h], 8);
        store_put_vid(p + 120 + STORE_VID_BYTES * h, &d->hist_val[h]);
    }
}

/* NULL when the payload is a valid record, else what is wrong. */
const char *
store_decode_record(const uint8_t *p, struct bpc_durable *d)
{
    memset(d, 0, sizeof(*d));
    d->instance = store_get_le(p + 0, 8);
    d->max_bal = store_get_le(p + 8, 8);
    d->incarnation = store_get_le(p + 16, 8);
    d->floor = store_get_le(p + 24, 8);
    d->applied_seq = store_get_le(p + 32, 8);
    d->max_vbal = store_get_le(p + 40, 8);
    bool ok = store_get_vid(p + 48, &d->max_vval);
    d->hist_count = p[84];
    if (p[85] > 1 || p[86] != 0 || p[87] != 0) {
        return "record reserved bytes not zero";
    }
    if (d->hist_count > BPC_HISTORY_MAX) {
        return "record history count above the limit";
    }
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        d->hist_bal[h] = store_get_le(p + 88 + 8 * h, 8);
        ok = store_get_vid(p + 120 + STORE_VID_BYTES * h, &d->hist_val[h]) && ok;
    }
    if (!ok) {
        return "record value identity malformed";
    }
    /* Ballots saturate at BPC_BALLOT_MAX (a record above it is malformed
     * on the wire); dec_keep, in a decided record's entry 1, is no ballot. */
    bool high = d->max_bal > BPC_BALLOT_MAX || d->max_vbal > BPC_BALLOT_MAX;
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        high = high || (d->hist_bal[h] > BPC_BALLOT_MAX && !(p[85] == 1 && h == 1));
    }
    if (high) {
        return "record ballot above BPC_BALLOT_MAX";
    }
    if (p[85] == 1) {
        if (d->hist_count != 0 || d->instance >= d->floor ||
            d->instance >= BPC_DURABLE_APPLIED_BASE) {
            return "decided record with a history or not below its floor";
        }
        d->decided = 1;
        d->dec_bal = d->hist_bal[0];
        d->dec_val = d->hist_val[0];
        d->dec_keep = d->hist_bal[1];
        memset(d->hist_bal, 0, sizeof(d->hist_bal));
        memset(d->hist_val, 0, sizeof(d->hist_val));
        for (uint32_t i = 96 + 8; i < BPC_STORE_RECORD_BYTES; i++) {
            if (i >= 120 && i < 120 + STORE_VID_BYTES) {
                continue;
            }
            if (p[i] != 0) {
                return "decided record: unused history bytes not zero";
            }
        }
    }
    return NULL;
}

const char *
store_pw_order(const struct bpc_durable *d, bool *has, uint64_t *max_bal, uint64_t *inc)
{
    if (d->instance != UINT64_MAX) {
        return NULL;
    }
    if (*has && d->max_bal < *max_bal) {
        return "party-wide record with a max_bal below an earlier one's";
    }
    if (*has && d->incarnation < *inc) {
        return "party-wide record with an incarnation below an earlier one's";
    }
    *has = true;
    *max_bal = d->max_bal;
    *inc = d->incarnation;
    return NULL;
}

/* The highest 2av of d's history (its value in *v), 0 when none; a
 * clean floor (kind NONE) is not a vote. */
static uint64_t
store_top_2av(const struct bpc_durable *d, const struct bpc_vid **v)
{
    uint64_t top = 0;
    uint32_t count = d->hist_count < BPC_HISTORY_MAX ? d->hist_count : BPC_HISTORY_MAX;
    for (uint32_t k = 0; k < count; k++) {
        if (d->hist_val[k].kind != BPC_VALUE_NONE && d->hist_bal[k] > top) {
            top = d->hist_bal[k];
            *v = &d->hist_val[k];
        }
    }
    return top;
}

/* NULL, or why record d may not follow old, the newest earlier live
 * record of its instance (NULL: none): a vote or decided record whose
 * max_vbal is below old's, or equal with another max_vval (a 2b the party
 * cast no longer remembered, or two 2b at one ballot), an apply-state
 * record whose applied_seq is below old's. No engine writes one: a vote's
 * max_vbal only rises (a decided record and a vouch carry the slot's or
 * the ring's, which takes the slot's), applied positions only advance. A
 * restart would remember less than the party promised. Nor a vote record
 * whose highest 2av (its history's, clean floors aside) is below old's,
 * or at old's ballot for another value: a history drops only its lowest
 * entry, and a 2av lost from it let a restarted party send a second 2av
 * at that ballot (review A10's F1). Before (review B7's F1), appended and
 * loaded. */
const char *
store_rec_order(const struct bpc_durable *old, const struct bpc_durable *d)
{
    if (old == NULL || d->instance == UINT64_MAX) {
        return NULL; /* party-wide records: store_pw_order */
    }
    if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
        return d->applied_seq < old->applied_seq
                   ? "apply-state record with an applied_seq below an earlier one's"
                   : NULL;
    }
    if (d->max_vbal < old->max_vbal) {
        return "vote record with a max_vbal below an earlier one's for its instance";
    }
    if (d->max_vbal == old->max_vbal && d->max_vbal > 0 &&
        !bpc_vid_eq(&d->max_vval, &old->max_vval)) {
        return "vote record with an earlier one's max_vbal and another max_vval";
    }
    if (d->decided || old->decided) {
        return NULL; /* a decided record has no history */
    }
    const struct bpc_vid *ov = NULL;
    const struct bpc_vid *dv = NULL;
    uint64_t ob = store_top_2av(old, &ov);
    uint64_t db = store_top_2av(d, &dv);
    if (db < ob) {
        return "vote record whose highest 2av is below an earlier one's for its instance";
    }
    if (db == ob && ob > 0 && !bpc_vid_eq(dv, ov)) {
        return "vote record with an earlier one's highest 2av ballot and another value";
    }
    return NULL;
}

const char STORE_WHY_APP_ORDER[] = "application state record with a floor below an earlier one's";

/* store_put_vid and store_get_vid round-trip every field of an identity
 * exactly, so what the decoder says of an identity's bytes is
 * bpc_vid_stored_ok of the identity. */
_Static_assert(sizeof(struct bpc_vid) == STORE_VID_BYTES &&
                   STORE_VID_BYTES == 4u + BPC_VALUE_INLINE_MAX,
               "an identity's four header bytes and id, no padding");

/* NULL when recovery would load d as it is and bpc_engine_restore would
 * take it (bpc_durable_ok, the engine's own rule), else what is wrong:
 * bpc_store_append refuses such a record rather than write a file its
 * own recovery or the engine's restore refuses (a floor past the
 * apply-state instances, appended, dropped every vote from the live set,
 * and a compaction then erased them from the file). The recovery half
 * of the verdict is store_decode_record's on store_encode_record's bytes
 * of d, read off d itself: encoding and
 * decoding every appended record cost about 2,400 instructions a record,
 * a quarter of a ring cluster party's poll (bench/RESULTS.md). A
 * decided record's bytes hold only dec_bal, dec_keep (no ballot) and
 * dec_val in its history places, zeros elsewhere; a vote record's hold
 * all four history entries, whatever hist_count says. tests/store's
 * `store-check` holds this verdict equal to the decoder's and
 * bpc_durable_ok's together on a million records. */
const char *
store_record_check(const struct bpc_durable *d)
{
    if (d->hist_count > BPC_HISTORY_MAX) {
        return "record history count above the limit";
    }
    if (d->decided > 1) {
        return "record decided flag neither 0 nor 1";
    }
    if (d->decided && d->hist_count != 0) {
        return "decided record with a history or not below its floor";
    }
    static const struct bpc_vid zero;
    bool ok = bpc_vid_stored_ok(&d->max_vval);
    bool high = d->max_bal > BPC_BALLOT_MAX || d->max_vbal > BPC_BALLOT_MAX;
    if (d->decided) {
        ok = ok && bpc_vid_stored_ok(&d->dec_val) && bpc_vid_stored_ok(&zero);
        high = high || d->dec_bal > BPC_BALLOT_MAX;
    } else {
        for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
            ok = ok && bpc_vid_stored_ok(&d->hist_val[h]);
            high = high || d->hist_bal[h] > BPC_BALLOT_MAX;
        }
    }
    if (!ok) {
        return "record value identity malformed";
    }
    if (high) {
        return "record ballot above BPC_BALLOT_MAX";
    }
    if (d->decided && (d->instance >= d->floor || d->instance >= BPC_DURABLE_APPLIED_BASE)) {
        return "decided record with a history or not below its floor";
    }
    if (d->floor > BPC_DURABLE_FLOOR_MAX ||
        (d->instance < BPC_DURABLE_APPLIED_BASE &&
         d->instance >= BPC_DURABLE_FLOOR_MAX + BPC_WINDOW_SLOTS_MAX)) {
        return "record floor or instance above BPC_DURABLE_FLOOR_MAX (2^62)";
    }
    if (!d->decided && d->instance < BPC_DURABLE_APPLIED_BASE && d->instance >= d->floor &&
        d->instance - d->floor >= BPC_WINDOW_SLOTS_MAX) {
        /* No window reaches it: every engine's restore refuses it
         * (-ERANGE). Before, loaded as intact (review B7's F2). */
        return "vote record at or above its floor + BPC_WINDOW_SLOTS_MAX";
    }
    if (!bpc_durable_rules_ok(d, false)) { /* the identities were checked above */
        return "record in a shape no engine writes (bpc_engine_restore refuses it)";
    }
    return NULL;
}

const char STORE_WHY_DIGEST[] = "value bytes do not match their digest";

/* NULL when the plen bytes at p are a valid value frame payload: the
 * identity of a DIGEST value (the only kind whose bytes a record does not
 * carry), exactly its bytes after it, a vote instance, and, when
 * check_digest, bytes that hash to the identity (else a restart would hand
 * the engine bytes of another value under this one's name). */
const char *
store_decode_value(const uint8_t *p, uint32_t plen, bool check_digest, uint64_t *instance,
                   struct bpc_vid *vid)
{
    *instance = store_get_le(p, 8);
    bool shaped = store_get_vid(p + 8, vid);
    if (vid->kind != BPC_VALUE_DIGEST) {
        return "value frame names no digest value";
    }
    if (!shaped) {
        return "value frame identity malformed";
    }
    if (plen != BPC_STORE_VALUE_HEAD_BYTES + vid->len) {
        return "value frame length and value length disagree";
    }
    if (*instance >= BPC_DURABLE_APPLIED_BASE) {
        return "value frame instance out of range";
    }
    if (check_digest) {
        struct bpc_vid got;
        bpc_vid_of(&got, p + BPC_STORE_VALUE_HEAD_BYTES, vid->len);
        if (!eng_vid_eq(&got, vid)) {
            return STORE_WHY_DIGEST;
        }
    }
    return NULL;
}

/* Writes a frame header for a payload already in place after it. */
static void
store_frame_seal(uint8_t *f, uint8_t type, uint8_t flags, uint32_t plen, uint64_t seq)
{
    f[4] = type;
    f[5] = flags;
    f[6] = 0;
    f[7] = 0;
    store_put_le(f + 8, plen, 4);
    store_put_le(f + 12, bpc_store_crc32c(f + BPC_STORE_FRAME_HEADER_BYTES, plen), 4);
    store_put_le(f + 16, seq, 8);
    store_put_le(f + 0, bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4), 4);
}

/* Sets the commit-end flag of a sealed frame (its header CRC again). */
void
store_frame_end(uint8_t *f)
{
    f[5] = (uint8_t)(f[5] | STORE_FLAG_END);
    store_put_le(f + 0, bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4), 4);
}

void
store_header_encode(uint8_t *h, uint64_t cluster_id, uint32_t party,
                    const uint8_t digest[BPC_DIGEST_BYTES], uint64_t first_seq)
{
    memset(h, 0, BPC_STORE_HEADER_BYTES);
    memcpy(h, STORE_MAGIC, STORE_MAGIC_BYTES);
    store_put_le(h + 8, BPC_STORE_FORMAT_VERSION, 4);
    store_put_le(h + 12, BPC_STORE_HEADER_BYTES, 4);
    store_put_le(h + 16, cluster_id, 8);
    store_put_le(h + 24, party, 4);
    memcpy(h + 32, digest, BPC_DIGEST_BYTES);
    store_put_le(h + 64, first_seq, 8);
    store_put_le(h + 76, bpc_store_crc32c(h, 76), 4);
}

/* Frames one record into buf (seq taken from *seq). */
size_t
store_put_record_frame(uint8_t *buf, const struct bpc_durable *d, uint64_t *seq)
{
    store_encode_record(buf + BPC_STORE_FRAME_HEADER_BYTES, d);
    store_frame_seal(buf, BPC_STORE_FRAME_RECORD, 0, BPC_STORE_RECORD_BYTES, (*seq)++);
    return STORE_RECORD_FRAME_BYTES;
}

size_t
store_put_app_frame(uint8_t *buf, uint64_t floor, const uint8_t *bytes, uint32_t len, uint64_t *seq)
{
    uint8_t *p = buf + BPC_STORE_FRAME_HEADER_BYTES;
    store_put_le(p, floor, 8);
    store_put_le(p + 8, len, 4);
    store_put_le(p + 12, 0, 4);
    if (len > 0) {
        memcpy(p + STORE_APP_HEAD_BYTES, bytes, len);
    }
    store_frame_seal(buf, BPC_STORE_FRAME_APP, 0, STORE_APP_HEAD_BYTES + len, (*seq)++);
    return BPC_STORE_FRAME_HEADER_BYTES + STORE_APP_HEAD_BYTES + len;
}

/* Frames the bytes of one DIGEST value (vid->len of them) into buf. */
size_t
store_put_value_frame(uint8_t *buf, uint64_t instance, const struct bpc_vid *vid,
                      const uint8_t *bytes, uint64_t *seq)
{
    uint8_t *p = buf + BPC_STORE_FRAME_HEADER_BYTES;
    store_put_le(p, instance, 8);
    store_put_vid(p + 8, vid);
    memcpy(p + BPC_STORE_VALUE_HEAD_BYTES, bytes, vid->len);
    store_frame_seal(buf, BPC_STORE_FRAME_VALUE, 0, BPC_STORE_VALUE_HEAD_BYTES + vid->len,
                     (*seq)++);
    return STORE_VALUE_FRAME_BYTES(vid->len);
}
