/*
 * byz_malformed.c - the malformed kind's frames (byz_internal.h): a valid
 * tag over invalid contents, each frame's shape drawn at random from a
 * table of every shape the engine must drop whole.
 *
 * Must never: draw randomness from anything but the sim's Byzantine
 * stream.
 */
#include "byz_internal.h"

#include <sodium.h>
#include <string.h>

/* Where a malformation edits: a record of the frame, the header, or the
 * value section. */
enum byz_where { BYZ_AT_REC0, BYZ_AT_REC1, BYZ_AT_REC2, BYZ_AT_HDR, BYZ_AT_SEC };

/* The base a malformed frame starts from: a 2AV and a 2B, a 1B with two
 * history records, or one record carrying a DIGEST value. */
enum byz_base { BYZ_BASE_VOTES, BYZ_BASE_1B, BYZ_BASE_CARRIED };

/* One edit: `width` little-endian bytes of value at offset `off` (width 0:
 * xor the byte with 0x5a). */
struct byz_edit {
    uint8_t where; /* enum byz_where */
    uint8_t off;
    uint8_t width;
    uint64_t value;
};

/* One malformed shape: its base, up to three edits, and a change of the
 * frame's length (truncated or padded, the tag recomputed either way). */
struct byz_shape {
    uint8_t base; /* enum byz_base */
    int8_t len_delta;
    struct byz_edit e[3];
};

/* Every shape the engine must drop whole although the tag is valid. */
static const struct byz_shape byz_shapes[] = {
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 0, 1, 0}}},                          /* type NONE */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 0, 1, BPC_MSG_TYPES_COUNT}}},        /* first unknown type */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC1, 0, 1, 255}}},                        /* type 255 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 4}}},                          /* value kind 4 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 255}}},                        /* value kind 255 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 4, 2, 33}}},                         /* inline of 33 bytes */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 52, 1, 1}}},                         /* inline padding set */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 2}, {BYZ_AT_REC0, 4, 2, 32}}}, /* digest of 32 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 2}, {BYZ_AT_REC0, 4, 2, 8193}}}, /* too long */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 0}, {BYZ_AT_REC0, 4, 2, 0}}}, /* 2AV with no value */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 0, 1, BPC_MSG_1A}}},                /* a value on a 1A */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 1, 1, 3}, {BYZ_AT_REC0, 4, 2, 0}}}, /* NOOP with bytes */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 3, 1, 1}}},                         /* reserved byte 3 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC1, 6, 2, 0x100}}},                     /* reserved bytes 6-7 */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 5, 1, 1}}},                          /* header reserved */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC1, 16, 8, 0}}},                        /* ballot 0 on a 2B */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 16, 8, BPC_BALLOT_MAX + 1}}},       /* ballot too high */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 16, 8, UINT64_MAX}}},               /* ballot UINT64_MAX */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 2, 1, 1}}},                         /* history on a 2AV */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC0, 24, 8, UINT64_MAX}}},                  /* maxVBal >= ballot */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC1, 24, 8, 0}}},                           /* history ballot 0 */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC0, 2, 1, 3}}},                            /* history count lies */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC0, 2, 1, 1}}},                            /* a stray history */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC0, 2, 1, BPC_HISTORY_MAX + 1}}},          /* above the maximum */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC0, 0, 1, BPC_MSG_1B_HIST}}},              /* history first */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC2, 8, 8, UINT64_MAX}}},                   /* other instance */
    {BYZ_BASE_1B, 0, {{BYZ_AT_REC2, 16, 8, 1}}},                           /* other ballot */
    {BYZ_BASE_CARRIED, 0, {{BYZ_AT_REC0, 24, 8, 0xffffffffu}}},            /* offset past section */
    {BYZ_BASE_CARRIED, 0, {{BYZ_AT_REC0, 24, 8, UINT64_MAX}}},             /* offset wraps */
    {BYZ_BASE_CARRIED, 0, {{BYZ_AT_REC0, 24, 8, 1}}},                      /* offset leaves bytes */
    {BYZ_BASE_CARRIED, 0, {{BYZ_AT_SEC, 7, 0, 0}}},                        /* bytes do not hash */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 6, 2, 0xffff}}},                     /* record count lies */
    {BYZ_BASE_CARRIED, 0, {{BYZ_AT_HDR, 20, 4, 0xffffffffu}}},             /* value bytes lie */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 0, 4, 0}}},                          /* magic */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 4, 1, 2}}},                          /* version */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 8, 8, 0}}},                          /* cluster id */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 16, 2, 0xffff}}},                    /* sender outside */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_HDR, 18, 2, 0xffff}}},                    /* receiver outside */
    {BYZ_BASE_VOTES, 0, {{BYZ_AT_REC0, 0, 1, BPC_MSG_ATTEST}}},            /* ATTEST of 8 bytes */
    {BYZ_BASE_VOTES,
     0,
     {{BYZ_AT_REC0, 0, 1, BPC_MSG_ATTEST},
      {BYZ_AT_REC0, 4, 2, 16},
      {BYZ_AT_REC0, 24, 8, BPC_VALUE_BYTES_MAX + 1}}}, /* ATTEST too long */
    {BYZ_BASE_VOTES, -1, {{BYZ_AT_HDR, 5, 1, 0}}},     /* truncated */
    {BYZ_BASE_VOTES, 1, {{BYZ_AT_HDR, 5, 1, 0}}},      /* padded */
};

/* malformed: the base records of a malformed frame. Returns the count. */
static uint32_t
byz_malformed_base(struct sim *s, uint8_t base, const struct byz_view *v, struct bpc_record *r,
                   uint8_t *bytes)
{
    struct bpc_vid val;
    memset(&val, 0, sizeof(val));
    val.kind = BPC_VALUE_INLINE;
    val.len = 8;
    byz_fill(s, val.id, val.len);
    uint64_t bal = v->bal + 1;
    if (base == BYZ_BASE_1B) {
        r[0] = bpc_record_make(BPC_MSG_1B, v->nu, bal, bal - 1, &val);
        r[0].hist_count = 2;
        r[1] = bpc_record_make(BPC_MSG_1B_HIST, v->nu, bal, bal - 1, &val);
        r[2] = bpc_record_make(BPC_MSG_1B_HIST, v->nu, bal, bal - 1, &val);
        return 3;
    }
    if (base == BYZ_BASE_CARRIED) {
        static const uint8_t types[3] = {BPC_MSG_2A, BPC_MSG_DECIDED, BPC_MSG_FORWARD};
        byz_fill(s, bytes, 40);
        bpc_vid_of(&val, bytes, 40);
        uint8_t type = types[byz_below(s, 3)];
        if (type == BPC_MSG_FORWARD) {
            /* A FORWARD names a MAC in the id's first half: this one is
             * wrong (the leader counts it), but the frame decodes. */
            memset(val.id + BPC_CMD_MAC_BYTES, 0, sizeof(val.id) - BPC_CMD_MAC_BYTES);
        }
        r[0] = bpc_record_make(type, v->nu, v->bal, 0, &val);
        r[0].value_bytes = bytes;
        return 1;
    }
    r[0] = bpc_record_make(BPC_MSG_2AV, v->nu, v->bal, 0, &val);
    r[1] = bpc_record_make(BPC_MSG_2B, v->nu, v->bal, 0, &val);
    return 2;
}

/* Applies one edit to a raw frame of `count` records. */
static void
byz_edit_apply(const struct byz_edit *e, uint8_t *f, uint32_t count)
{
    uint8_t *at = f;
    if (e->where <= BYZ_AT_REC2) {
        uint32_t rec = e->where < count ? e->where : count - 1;
        at = f + BPC_WIRE_HEADER_BYTES + (size_t)BPC_WIRE_RECORD_BYTES * rec;
    } else if (e->where == BYZ_AT_SEC) {
        at = f + BPC_WIRE_HEADER_BYTES + (size_t)BPC_WIRE_RECORD_BYTES * count;
    }
    if (e->width == 0) {
        at[e->off] ^= 0x5a;
    } else {
        byz_le_store(at + e->off, e->value, e->width);
    }
}

/* malformed: one frame with a valid tag and invalid contents, its shape
 * drawn at random from byz_shapes. */
void
byz_craft_malformed(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct sim_byz *z = s->bz;
    const struct byz_shape *sh =
        &byz_shapes[byz_below(s, sizeof(byz_shapes) / sizeof(byz_shapes[0]))];
    struct bpc_record r[3];
    uint8_t bytes[40];
    uint32_t count = byz_malformed_base(s, sh->base, v, r, bytes);
    uint32_t len = byz_raw_frame(s, b, q, r, count, z->buf);
    if (len == 0) {
        return;
    }
    for (uint32_t k = 0; k < 3; k++) {
        if (k == 0 || sh->e[k].width != 0 || sh->e[k].off != 0) {
            byz_edit_apply(&sh->e[k], z->buf, count);
        }
    }
    len = (uint32_t)((int64_t)len + sh->len_delta);
    if (sh->len_delta > 0) {
        z->buf[len - BPC_TAG_BYTES - 1] = 0;
    }
    byz_retag(s, b, q, z->buf, len);
    byz_wire(s, b, q, z->buf, len, true);
}
