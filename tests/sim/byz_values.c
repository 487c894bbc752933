/*
 * byz_values.c - the values Byzantine parties send (byz_internal.h):
 * batches built in bpc_batch_next's format, the genuine commands colluders
 * saw (the pool), and the equivocation and forgery tables that say which
 * value each receiver was sent at an (instance, ballot).
 *
 * Must never: read the command tag secret (tag_key), or draw randomness
 * from anything but the sim's Byzantine stream.
 */
#include "byz_internal.h"

#include <sodium.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Values: batches, genuine commands, equivocation and forgery tables.
 * ---------------------------------------------------------------------- */

/* Starts an empty batch in buf. */
void
byz_batch_begin(struct byz_batch *bb, uint8_t *buf, uint32_t cap)
{
    bb->buf = buf;
    bb->cap = cap;
    bb->len = BPC_BATCH_HEADER_BYTES;
    bb->count = 0;
}

/* Appends one command; false when it does not fit the value or batch. */
bool
byz_batch_add(struct sim *s, struct byz_batch *bb, uint32_t sub, uint64_t seq, const uint8_t *cmd,
              uint32_t len)
{
    if (bb->count >= s->bz->batch_max ||
        (uint64_t)bb->len + BPC_BATCH_CMD_HEADER_BYTES + len > bb->cap) {
        return false;
    }
    uint8_t *p = bb->buf + bb->len;
    byz_le_store(p, sub, 2);
    byz_le_store(p + 2, len, 2);
    byz_le_store(p + 4, seq, 8);
    memcpy(p + BPC_BATCH_CMD_HEADER_BYTES, cmd, len);
    bb->len += BPC_BATCH_CMD_HEADER_BYTES + len;
    bb->count++;
    return true;
}

/* Writes the batch header; returns the value length. */
uint32_t
byz_batch_end(struct byz_batch *bb)
{
    byz_le_store(bb->buf, bb->count, 2);
    byz_le_store(bb->buf + 2, 0, 2);
    return bb->len;
}

/* Copies the commands of a batch value into bb, up to `keep` of them. */
static void
byz_batch_copy(struct sim *s, struct byz_batch *bb, const uint8_t *value, uint32_t len,
               uint32_t keep)
{
    struct bpc_command c;
    int off = 0;
    uint32_t k = 0;
    while (k < keep && (off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0) {
        if (!byz_batch_add(s, bb, c.submitter, c.seq, c.bytes, c.len)) {
            return;
        }
        k++;
    }
}

/* Commands in a batch value (0 when it is not one). */
static uint32_t
byz_batch_count(const uint8_t *value, uint32_t len)
{
    struct bpc_command c;
    int off = 0;
    uint32_t k = 0;
    while ((off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0) {
        k++;
    }
    return off == 0 ? k : 0;
}

/* Remembers a genuine command (a FORWARD a colluder received). */
void
byz_pool_add(struct sim *s, uint32_t sub, uint64_t seq, const uint8_t *bytes, uint32_t len)
{
    struct sim_byz *z = s->bz;
    if (bytes == NULL || len > BYZ_POOL_CMD_BYTES) {
        return;
    }
    struct byz_cmd *c = &z->pool[z->pool_next];
    z->pool_next = (z->pool_next + 1) % BYZ_POOL_CMDS;
    z->pool_count += z->pool_count < BYZ_POOL_CMDS ? 1u : 0u;
    c->sub = sub;
    c->seq = seq;
    c->len = len;
    memcpy(c->bytes, bytes, len);
}

/* The bytes of a value a record names: carried, inline, or none. */
const uint8_t *
byz_value_bytes(const struct bpc_record *r)
{
    if (r->value.kind == BPC_VALUE_DIGEST) {
        return r->value_bytes;
    }
    return r->value.kind == BPC_VALUE_INLINE ? r->value.id : NULL;
}

/* The entry of (instance, ballot) in a table, or NULL. */
struct byz_entry *
byz_entry_find(struct byz_entry *table, uint64_t instance, uint64_t ballot)
{
    struct byz_entry *e = &table[(instance * 31u + ballot) % BYZ_ENTRIES];
    return e->ballot == ballot && e->instance == instance && ballot != 0 ? e : NULL;
}

/* Claims the entry slot of (instance, ballot), forgetting what held it. */
static struct byz_entry *
byz_entry_claim(struct byz_entry *table, uint64_t instance, uint64_t ballot)
{
    struct byz_entry *e = &table[(instance * 31u + ballot) % BYZ_ENTRIES];
    e->instance = instance;
    e->ballot = ballot;
    e->variants = 0;
    return e;
}

/* Stores value bytes as variant k of an entry. */
static void
byz_entry_set(struct sim *s, struct byz_entry *e, uint32_t k, const uint8_t *bytes, uint32_t len,
              bool noop)
{
    memset(&e->vid[k], 0, sizeof(e->vid[k]));
    e->len[k] = 0;
    if (noop || len == 0) {
        e->vid[k].kind = BPC_VALUE_NOOP;
        return;
    }
    uint8_t *dst = e->bytes + (size_t)k * s->bz->vbytes;
    memmove(dst, bytes, len);
    e->len[k] = len;
    bpc_vid_of(&e->vid[k], dst, len);
}

/* A record naming variant k of an entry (its bytes carried for a 2A). */
void
byz_entry_value(struct sim *s, const struct byz_entry *e, uint32_t k, struct bpc_record *r)
{
    r->value = e->vid[k];
    r->value_bytes =
        e->vid[k].kind == BPC_VALUE_DIGEST ? e->bytes + (size_t)k * s->bz->vbytes : NULL;
}

/* Builds variant k (>= 1) of an equivocation: the original's commands
 * (one fewer when full) plus a command of the leader b itself whose bytes
 * name k, so every variant differs; a genuine pooled command when the
 * original is no batch. */
static void
byz_equiv_variant(struct sim *s, uint32_t b, struct byz_entry *e, uint32_t k, const uint8_t *orig,
                  uint32_t orig_len)
{
    struct sim_byz *z = s->bz;
    struct byz_batch bb;
    byz_batch_begin(&bb, z->scratch, z->vbytes);
    uint32_t count = orig != NULL ? byz_batch_count(orig, orig_len) : 0;
    if (count > 0) {
        byz_batch_copy(s, &bb, orig, orig_len, count < z->batch_max ? count : count - 1);
    } else if (z->pool_count > 0) {
        const struct byz_cmd *c = &z->pool[byz_below(s, z->pool_count)];
        byz_batch_add(s, &bb, c->sub, c->seq, c->bytes, c->len);
    }
    uint8_t own[SIM_COMMAND_BYTES];
    byz_fill(s, own, sizeof(own));
    own[0] = (uint8_t)k;
    uint64_t seq = s->parties[b].bz->applied_hi[b] + 1;
    if (!byz_batch_add(s, &bb, b, seq, own, sizeof(own)) && bb.count == 0) {
        byz_entry_set(s, e, k, NULL, 0, true);
        return;
    }
    byz_entry_set(s, e, k, z->scratch, byz_batch_end(&bb), false);
}

/* Sends 2AV and 2B at (instance, ballot) from colluder c to q for the
 * value q was sent. */
static void
byz_echo(struct sim *s, uint32_t c, uint32_t q, const struct byz_entry *e, uint32_t k)
{
    struct bpc_record v[2];
    v[0] = bpc_record_make(BPC_MSG_2AV, e->instance, e->ballot, 0, &e->vid[k]);
    v[1] = bpc_record_make(BPC_MSG_2B, e->instance, e->ballot, 0, &e->vid[k]);
    byz_send(s, c, q, v, 2, true);
}

/* Every colluder of kind `kind` but the leader b echoes the entry's
 * votes to every correct live party. */
static void
byz_collude(struct sim *s, uint32_t b, uint8_t kind, const struct byz_entry *e)
{
    for (uint32_t c = 0; c < s->n; c++) {
        if (c == b || s->parties[c].byz != kind || s->parties[c].crashed) {
            continue;
        }
        for (uint32_t q = 0; q < s->n; q++) {
            if (sim_correct_live(s, q)) {
                byz_echo(s, c, q, e, e->which[q]);
            }
        }
    }
}

/* An equivocation for (instance, ballot) led by b: 2 or 3 values, and
 * which one each correct party gets (at random, so some share one). */
struct byz_entry *
byz_equiv_make(struct sim *s, uint32_t b, uint64_t instance, uint64_t ballot, const uint8_t *orig,
               uint32_t orig_len, bool orig_noop)
{
    struct byz_entry *e = byz_entry_claim(s->bz->equiv, instance, ballot);
    e->variants = 2 + (uint32_t)byz_below(s, BYZ_VARIANTS - 1);
    byz_entry_set(s, e, 0, orig, orig_len, orig_noop);
    for (uint32_t k = 1; k < e->variants; k++) {
        byz_equiv_variant(s, b, e, k, orig_noop ? NULL : orig, orig_len);
    }
    for (uint32_t q = 0; q < s->n; q++) {
        e->which[q] = (uint8_t)byz_below(s, e->variants);
    }
    byz_collude(s, b, SIM_BYZ_EQUIVOCATE, e);
    s->r.byz_equivocated++;
    return e;
}

/* A forged value for (instance, ballot) led by b, the same for everyone:
 * commands under a correct victim's name (its next sequence, the first
 * of a forged new incarnation, or its last applied one, which the apply
 * rule skips: review A12) with bytes of b's own, then the original's
 * genuine commands. */
struct byz_entry *
byz_forge_make(struct sim *s, uint32_t b, uint64_t instance, uint64_t ballot, const uint8_t *orig,
               uint32_t orig_len, bool orig_noop)
{
    struct sim_byz *z = s->bz;
    struct byz_entry *e = byz_entry_claim(z->forge, instance, ballot);
    e->variants = 1;
    memset(e->which, 0, s->n);
    struct byz_batch bb;
    byz_batch_begin(&bb, z->scratch, z->vbytes);
    uint64_t mode = byz_below(s, 4);
    for (uint32_t f = 0; f < 3; f++) {
        uint32_t victim = byz_any_correct(s);
        if (victim == SIM_NONE || (mode != 3 && f != mode)) {
            continue;
        }
        uint64_t hi = s->parties[b].bz->applied_hi[victim];
        uint64_t seq = f == 0 ? hi + 1 : f == 1 ? (((hi >> 40) + 1) << 40) | 1u : hi;
        if (seq == 0) {
            continue; /* nothing of the victim applied yet */
        }
        uint8_t cmd[SIM_COMMAND_BYTES];
        byz_fill(s, cmd, sizeof(cmd));
        byz_le_store(cmd, victim, 2); /* looks like the victim's own */
        byz_batch_add(s, &bb, victim, seq, cmd, sizeof(cmd));
    }
    if (!orig_noop && orig != NULL) {
        byz_batch_copy(s, &bb, orig, orig_len, z->batch_max);
    }
    byz_entry_set(s, e, 0, z->scratch, bb.count > 0 ? byz_batch_end(&bb) : 0, bb.count == 0);
    byz_collude(s, b, SIM_BYZ_FORGE, e);
    s->r.byz_forged++;
    return e;
}
