/*
 * fuzz_engine_gen.c - turns fuzz_engine's input into what its forged
 * records carry (fuzz_engine.h): the input cursor, value specs (NOOP, a
 * value seen on the network, inline or digest bytes, the last Byzantine
 * command, a batch of 1 to 4 commands: an honest party's submission, a
 * copy with forged bytes, a made-up ticket or a Byzantine command) and the
 * Byzantine party's command specs (the next sequence number, the last
 * command again, the same number with new bytes, a gap, a new
 * incarnation, a raw number, 1 or 0).
 *
 * Owns: reading the input as fuzz_common.h lays it out for these specs,
 * the command length table, and the Byzantine party's command state
 * (W.cmd).
 *
 * Must never: let engine or network state decide how many input bytes a
 * spec reads (one script means one run), step an engine, or send a frame.
 */
#include <string.h>

#include "fuzz_engine.h"

const uint32_t fz_len_table[8] = {0, 1, 8, 16, 24, 40, 100, 200};

/* ------------------------------------------------------------------------
 * Input.
 * ---------------------------------------------------------------------- */

/* Next input byte, 0 when used up. */
uint8_t
fz_u8(struct fz_in *in)
{
    if (in->left == 0) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

/* Next 8 input bytes, little-endian. */
uint64_t
fz_u64(struct fz_in *in)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) {
        v |= (uint64_t)fz_u8(in) << (8 * k);
    }
    return v;
}

/* ------------------------------------------------------------------------
 * Values and commands of forged records.
 * ---------------------------------------------------------------------- */

/* Reads a Byzantine command spec: sequence number and bytes. */
void
fz_byz_cmd(struct fz_in *in, uint64_t *seq, uint8_t *bytes, uint32_t *len)
{
    uint8_t m = fz_u8(in);
    uint64_t raw = (m & 7u) == FZ_SEQ_RAW ? fz_u64(in) : 0;
    uint8_t fill = fz_u8(in);
    struct fz_cmdstate *c = &W.cmd;
    if ((m & 7u) == FZ_SEQ_LAST && c->last_seq != 0) {
        *seq = c->last_seq;
        *len = c->last_len;
        memcpy(bytes, c->last, c->last_len);
        return;
    }
    switch (m & 7u) {
    case FZ_SEQ_SAME:
        *seq = c->hi;
        break;
    case FZ_SEQ_GAP:
        *seq = c->hi + 2;
        break;
    case FZ_SEQ_INC:
        *seq = ((c->hi >> FZ_SEQ_BITS) + 1) << FZ_SEQ_BITS | 1u;
        break;
    case FZ_SEQ_RAW:
        *seq = raw;
        break;
    case FZ_SEQ_ONE:
        *seq = 1;
        break;
    case FZ_SEQ_ZERO:
        *seq = 0;
        break;
    default:
        *seq = c->hi + 1;
        break;
    }
    *len = fz_len_table[(m >> 3) & 7u];
    fz_fill(bytes, *len, fill);
    c->hi = *seq > c->hi ? *seq : c->hi;
    c->last_seq = *seq;
    c->last_len = *len;
    memcpy(c->last, bytes, *len);
}

/* Appends one command (from a command spec) to a batch at off; returns
 * the new offset (unchanged when it does not fit). */
static uint32_t
fz_batch_cmd(struct fz_in *in, uint8_t *buf, uint32_t off)
{
    uint8_t b = fz_u8(in);
    uint32_t s = b & 3u;
    uint32_t mode = b >> 2;
    uint64_t seq;
    uint32_t len;
    uint8_t bytes[256];
    if (s == W.byz) {
        fz_byz_cmd(in, &seq, bytes, &len);
    } else {
        uint8_t idx = fz_u8(in);
        uint8_t fill = fz_u8(in);
        const struct fz_party *p = &W.p[s];
        if (p->subs_count > 0 && (mode & 7u) < 6) {
            const struct fz_sub *sub = &p->subs[idx % p->subs_count];
            seq = sub->ticket;
            len = sub->len;
            memcpy(bytes, sub->bytes, len);
            if ((mode & 7u) >= 4 && len > 0) {
                bytes[fill % len] ^= (uint8_t)(1u | fill); /* forged bytes */
            }
        } else {
            seq = (mode & 1u) ? ((UINT64_C(1) << FZ_SEQ_BITS) | 1u) : 1u + (idx & 7u);
            len = fz_len_table[fill & 7u];
            fz_fill(bytes, len, fill);
        }
    }
    if (off + BPC_BATCH_CMD_HEADER_BYTES + len > FZ_CRAFT_MAX) {
        return off;
    }
    uint8_t *c = buf + off;
    c[0] = (uint8_t)s;
    c[1] = 0;
    c[2] = (uint8_t)len;
    c[3] = (uint8_t)(len >> 8);
    for (int k = 0; k < 8; k++) {
        c[4 + k] = (uint8_t)(seq >> (8 * k));
    }
    memcpy(c + BPC_BATCH_CMD_HEADER_BYTES, bytes, len);
    return off + BPC_BATCH_CMD_HEADER_BYTES + len;
}

/* Writes a batch of 1 + arg % 4 command specs into buf; a BATCH3 selector
 * with arg bit 4 states one command too many. Returns its length. */
static uint32_t
fz_batch_value(struct fz_in *in, uint8_t *buf, uint8_t sel, uint32_t arg)
{
    uint32_t count = 1 + arg % 4u;
    uint32_t len = BPC_BATCH_HEADER_BYTES;
    for (uint32_t k = 0; k < count; k++) {
        len = fz_batch_cmd(in, buf, len);
    }
    bool wrong = (sel & 7u) == FZ_VAL_BATCH3 && (arg & 16u);
    buf[0] = (uint8_t)(count + (wrong ? 1u : 0u));
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = 0;
    return len;
}

/* Reads a value spec into fr (vid, and bytes for DIGEST values); prev is
 * the frame's previous record (NULL for the first). */
void
fz_value(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev)
{
    uint8_t sel = fz_u8(in);
    uint32_t arg = sel >> 3;
    struct bpc_record *r = &fr->r;
    uint32_t len = 0;
    memset(&r->value, 0, sizeof(r->value));
    r->value_bytes = NULL;
    switch ((enum fz_val)(sel & 7u)) {
    case FZ_VAL_NOOP:
        r->value.kind = BPC_VALUE_NOOP;
        return;
    case FZ_VAL_POOL:
        if (W.pool_count == 0) {
            r->value.kind = BPC_VALUE_NOOP;
            return;
        }
        r->value = W.pool[arg % W.pool_count].vid;
        if (W.pool[arg % W.pool_count].has_bytes) {
            memcpy(fr->bytes, W.pool[arg % W.pool_count].bytes, r->value.len);
            r->value_bytes = fr->bytes;
        }
        return;
    case FZ_VAL_INLINE:
        len = arg;
        fz_fill(fr->bytes, len, fz_u8(in));
        break;
    case FZ_VAL_DIGEST: {
        len = 33u + 2u * fz_u8(in);
        fz_fill(fr->bytes, len, fz_u8(in));
        break;
    }
    case FZ_VAL_CMD:
        if ((arg & 1u) && prev != NULL && prev->r.value.kind != BPC_VALUE_NONE) {
            r->value = prev->r.value;
            if (prev->r.value_bytes != NULL) {
                memcpy(fr->bytes, prev->r.value_bytes, r->value.len);
                r->value_bytes = fr->bytes;
            }
            return;
        }
        len = W.cmd.last_len;
        memcpy(fr->bytes, W.cmd.last, len);
        break;
    case FZ_VAL_BATCH:
    case FZ_VAL_BATCH2:
    case FZ_VAL_BATCH3:
        len = fz_batch_value(in, fr->bytes, sel, arg);
        break;
    }
    bpc_vid_of(&r->value, fr->bytes, len);
    r->value_bytes = r->value.kind == BPC_VALUE_DIGEST ? fr->bytes : NULL;
}
