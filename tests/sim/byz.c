/*
 * byz.c - Byzantine parties of the simulator.
 *
 * Owns: what a Byzantine party sends. It runs a real engine like everyone
 * else (so it takes part in ballots and its frames look real); every frame
 * its engine emits comes here, is decoded (the simulator knows every pair
 * key), changed or dropped by the party's kind, and re-sealed under the
 * pair key with the party's own rising sequence number; every Byzantine
 * period it also sends crafted frames. Colluding parties share what they
 * told each receiver (equivocation and forgery tables) and the genuine
 * commands they saw. Also the churn: which correct leader is muted during
 * the Byzantine phase.
 *
 * Must never: read the command tag secret (tag_key, which only check.c
 * reads: a forger cannot know a correct party's bytes), draw randomness
 * from anything but the sim's Byzantine stream, or send a frame after the
 * heal.
 */
#include "sim_internal.h"

#include "internal.h"

#include <sodium.h>
#include <string.h>

/* Old frames kept per replaying party, and records it received. */
#define BYZ_RING_FRAMES 64u
#define BYZ_RELAY_RECS 64u
/* Genuine commands seen in FORWARD records, shared by all colluders. */
#define BYZ_POOL_CMDS 64u
#define BYZ_POOL_CMD_BYTES 64u
/* Equivocation and forgery table: (instance, ballot) entries, each with
 * up to BYZ_VARIANTS values and which one each receiver was sent. */
#define BYZ_ENTRIES 256u
#define BYZ_VARIANTS 3u
/* Records one rewritten frame may grow to (the engine's, plus votes). */
#define BYZ_OUT_RECS 512u
/* A ballot far beyond any real one, yet valid (at most BPC_BALLOT_MAX). */
#define BYZ_FAR_BALLOT ((uint64_t)1 << 40)

struct byz_frame {
    uint8_t *bytes; /* BPC_FRAME_BYTES_MAX */
    uint32_t len;
    uint32_t to;
};

struct byz_relay {
    struct bpc_record r;
    uint8_t *bytes; /* value_bytes_max: carried DIGEST value */
};

/* Per Byzantine party. */
struct sim_byz_party {
    uint64_t *seq;        /* per peer: last frame sequence sealed */
    uint64_t *applied_hi; /* per submitter: last sequence its engine applied */
    struct byz_frame ring[BYZ_RING_FRAMES];
    uint32_t ring_count;
    uint32_t ring_next;
    struct byz_relay relay[BYZ_RELAY_RECS];
    uint32_t relay_count;
    uint32_t relay_next;
};

struct byz_cmd {
    uint32_t sub;
    uint32_t len;
    uint64_t seq;
    uint8_t bytes[BYZ_POOL_CMD_BYTES];
};

struct byz_entry {
    uint64_t instance;
    uint64_t ballot; /* 0: unused */
    uint32_t variants;
    uint32_t len[BYZ_VARIANTS];
    struct bpc_vid vid[BYZ_VARIANTS];
    uint8_t *bytes; /* BYZ_VARIANTS x vbytes */
    uint8_t *which; /* per party: the variant it was sent */
};

/* Shared by every Byzantine party (they collude). */
struct sim_byz {
    uint32_t vbytes;    /* value_bytes_max */
    uint32_t batch_max; /* commands per value */
    uint64_t lie_key;   /* decided-lie values, the same at every colluder */
    struct bpc_record *recs;
    uint32_t recs_cap;
    struct bpc_record *out;
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint8_t *scratch; /* vbytes: values being built */
    uint8_t *scratch2;
    struct byz_cmd pool[BYZ_POOL_CMDS];
    uint32_t pool_count;
    uint32_t pool_next;
    struct byz_entry equiv[BYZ_ENTRIES];
    struct byz_entry forge[BYZ_ENTRIES];
};

/* A batch value under construction (bpc_batch_next's format). */
struct byz_batch {
    uint8_t *buf;
    uint32_t cap;
    uint32_t len;
    uint32_t count;
};

/* ------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------- */

/* The sim's Byzantine stream: every random choice of this file. */
static uint64_t
byz_rand(struct sim *s)
{
    return sim_rng_next(&s->byz_rng);
}

/* Uniform in [0, n) from the Byzantine stream (n > 0). */
static uint64_t
byz_below(struct sim *s, uint64_t n)
{
    return sim_rng_below(&s->byz_rng, n);
}

/* Little-endian store of the low n <= 8 bytes of v. */
static void
byz_le_store(uint8_t *b, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Fills len bytes from the Byzantine stream. */
static void
byz_fill(struct sim *s, uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        p[i] = (uint8_t)byz_rand(s);
    }
}

/* A correct live party at random, or SIM_NONE when there is none. */
static uint32_t
byz_any_correct(struct sim *s)
{
    uint32_t count = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        count += sim_correct_live(s, p) ? 1u : 0u;
    }
    if (count == 0) {
        return SIM_NONE;
    }
    uint64_t k = byz_below(s, count);
    for (uint32_t p = 0; p < s->n; p++) {
        if (sim_correct_live(s, p) && k-- == 0) {
            return p;
        }
    }
    return SIM_NONE;
}

/* A random value id nobody proposed: inline, digest (bytes never sent) or
 * a NOOP. */
static void
byz_random_vid(struct sim *s, struct bpc_vid *v)
{
    memset(v, 0, sizeof(*v));
    uint64_t k = byz_below(s, 8);
    if (k == 0) {
        v->kind = BPC_VALUE_NOOP;
        return;
    }
    if (k < 5 || s->bz->vbytes <= BPC_VALUE_INLINE_MAX) {
        v->kind = BPC_VALUE_INLINE;
        v->len = (uint16_t)(1 + byz_below(s, BPC_VALUE_INLINE_MAX));
        byz_fill(s, v->id, v->len);
        return;
    }
    v->kind = BPC_VALUE_DIGEST;
    v->len =
        (uint16_t)(BPC_VALUE_INLINE_MAX + 1 + byz_below(s, s->bz->vbytes - BPC_VALUE_INLINE_MAX));
    byz_fill(s, v->id, BPC_VALUE_INLINE_MAX);
}

/* ------------------------------------------------------------------------
 * Sealing and sending.
 * ---------------------------------------------------------------------- */

/* Does the record carry its value bytes in the value section? */
static bool
byz_carried(const struct bpc_record *r)
{
    return r->value.kind == BPC_VALUE_DIGEST && r->value_bytes != NULL &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_FORWARD);
}

/* Records that must share a frame with recs[i]: a 1B and its history. */
static uint32_t
byz_group(const struct bpc_record *recs, uint32_t i, uint32_t count)
{
    uint32_t g = 1;
    if (recs[i].type == BPC_MSG_1B) {
        g += recs[i].hist_count;
    }
    return g < count - i ? g : count - i;
}

/* Hands one sealed frame of b to the network. */
static void
byz_wire(struct sim *s, uint32_t b, uint32_t to, const uint8_t *frame, uint32_t len, bool crafted)
{
    s->r.byz_frames++;
    if (crafted) {
        s->r.byz_crafted++;
    }
    sim_net_send(s, b, to, frame, len);
}

/* Seals well-formed records as b for `to` (bpc_wire, under the pair key,
 * with b's next sequence numbers) and sends them, as many frames as they
 * need; a group no frame can hold is left out. Returns the length of the
 * last frame (still in the shared buffer), 0 when none left. */
static uint32_t
byz_send(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs, uint32_t count,
         bool crafted)
{
    struct sim_byz *z = s->bz;
    const uint8_t *key = sim_pair_key(s, b, to);
    uint32_t last = 0;
    uint32_t i = 0;
    while (i < count) {
        /* The longest run of whole groups that fits one frame. */
        uint64_t used = BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES;
        uint32_t values = 0;
        uint32_t end = i;
        while (end < count) {
            uint32_t g = byz_group(recs, end, count);
            uint64_t add = (uint64_t)BPC_WIRE_RECORD_BYTES * g;
            uint32_t vb = 0;
            for (uint32_t k = end; k < end + g; k++) {
                vb += byz_carried(&recs[k]) ? recs[k].value.len : 0u;
            }
            if (used + add + vb > s->frame_bytes) {
                break;
            }
            used += add + vb;
            values += vb;
            end += g;
        }
        if (end == i) {
            i += byz_group(recs, i, count); /* fits no frame: left out */
            continue;
        }
        struct bpc_wire_writer w;
        if (bpc_wire_begin(&w, z->buf, s->frame_bytes, values) != 0) {
            return last;
        }
        for (; i < end; i++) {
            bpc_wire_put(&w, &recs[i]);
        }
        struct bpc_frame_header h = {.cluster_id = s->cluster_id,
                                     .sender = (uint16_t)b,
                                     .receiver = (uint16_t)to,
                                     .seq = ++s->parties[b].bz->seq[to]};
        last = bpc_wire_finish(&w, &h, key);
        byz_wire(s, b, to, z->buf, last, crafted);
    }
    return last;
}

/* Writes one record's 64 bytes as the wire layout says, checking nothing
 * (crafted frames may be malformed on purpose). */
static void
byz_raw_record(uint8_t *p, const struct bpc_record *r, uint64_t aux)
{
    memset(p, 0, BPC_WIRE_RECORD_BYTES);
    p[0] = r->type;
    p[1] = r->value.kind;
    p[2] = r->hist_count;
    byz_le_store(p + 4, r->value.len, 2);
    byz_le_store(p + 8, r->instance, 8);
    byz_le_store(p + 16, r->ballot, 8);
    byz_le_store(p + 24, aux, 8);
    memcpy(p + 32, r->value.id, BPC_VALUE_INLINE_MAX);
}

/* Recomputes the tag of a raw frame in place under the pair key (b, to). */
static void
byz_retag(struct sim *s, uint32_t b, uint32_t to, uint8_t *frame, uint32_t len)
{
    bpc_wire_retag(frame, len, sim_pair_key(s, b, to));
}

/* Builds a raw frame of b for `to` into buf: header, records, their
 * carried values (aux set to the offsets), a tag. Returns its length (0
 * when it would exceed BPC_FRAME_BYTES_MAX). */
static uint32_t
byz_raw_frame(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs, uint32_t count,
              uint8_t *buf)
{
    uint32_t values = 0;
    for (uint32_t i = 0; i < count; i++) {
        values += byz_carried(&recs[i]) ? recs[i].value.len : 0u;
    }
    uint64_t len = (uint64_t)BPC_WIRE_HEADER_BYTES + (uint64_t)BPC_WIRE_RECORD_BYTES * count +
                   values + BPC_TAG_BYTES;
    if (len > BPC_FRAME_BYTES_MAX) {
        return 0;
    }
    memset(buf, 0, (size_t)len);
    byz_le_store(buf, BPC_WIRE_MAGIC, 4);
    buf[4] = BPC_WIRE_VERSION;
    byz_le_store(buf + 6, count, 2);
    byz_le_store(buf + 8, s->cluster_id, 8);
    byz_le_store(buf + 16, b, 2);
    byz_le_store(buf + 18, to, 2);
    byz_le_store(buf + 20, values, 4);
    byz_le_store(buf + 24, ++s->parties[b].bz->seq[to], 8);
    uint8_t *section = buf + BPC_WIRE_HEADER_BYTES + (size_t)BPC_WIRE_RECORD_BYTES * count;
    uint32_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t aux = recs[i].aux;
        if (byz_carried(&recs[i])) {
            memcpy(section + off, recs[i].value_bytes, recs[i].value.len);
            aux = off;
            off += recs[i].value.len;
        }
        byz_raw_record(buf + BPC_WIRE_HEADER_BYTES + (size_t)BPC_WIRE_RECORD_BYTES * i, &recs[i],
                       aux);
    }
    byz_retag(s, b, to, buf, (uint32_t)len);
    return (uint32_t)len;
}

/* Sends records raw (no validity check) in one frame. */
static void
byz_send_raw(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs, uint32_t count)
{
    uint32_t len = byz_raw_frame(s, b, to, recs, count, s->bz->buf);
    if (len > 0) {
        byz_wire(s, b, to, s->bz->buf, len, true);
    }
}

/* ------------------------------------------------------------------------
 * Values: batches, genuine commands, equivocation and forgery tables.
 * ---------------------------------------------------------------------- */

/* Starts an empty batch in buf. */
static void
byz_batch_begin(struct byz_batch *bb, uint8_t *buf, uint32_t cap)
{
    bb->buf = buf;
    bb->cap = cap;
    bb->len = BPC_BATCH_HEADER_BYTES;
    bb->count = 0;
}

/* Appends one command; false when it does not fit the value or batch. */
static bool
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
static uint32_t
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
static void
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
static const uint8_t *
byz_value_bytes(const struct bpc_record *r)
{
    if (r->value.kind == BPC_VALUE_DIGEST) {
        return r->value_bytes;
    }
    return r->value.kind == BPC_VALUE_INLINE ? r->value.id : NULL;
}

/* The entry of (instance, ballot) in a table, or NULL. */
static struct byz_entry *
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
static void
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
static struct byz_entry *
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
 * commands under a correct victim's name (its next sequence, and the
 * first of a forged new incarnation) with bytes of b's own, then the
 * original's genuine commands. */
static struct byz_entry *
byz_forge_make(struct sim *s, uint32_t b, uint64_t instance, uint64_t ballot, const uint8_t *orig,
               uint32_t orig_len, bool orig_noop)
{
    struct sim_byz *z = s->bz;
    struct byz_entry *e = byz_entry_claim(z->forge, instance, ballot);
    e->variants = 1;
    memset(e->which, 0, s->n);
    struct byz_batch bb;
    byz_batch_begin(&bb, z->scratch, z->vbytes);
    uint64_t mode = byz_below(s, 3);
    for (uint32_t f = 0; f < 2; f++) {
        uint32_t victim = byz_any_correct(s);
        if (victim == SIM_NONE || (mode != 2 && f != mode)) {
            continue;
        }
        uint64_t hi = s->parties[b].bz->applied_hi[victim];
        uint64_t seq = f == 0 ? hi + 1 : (((hi >> 40) + 1) << 40) | 1u;
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

/* ------------------------------------------------------------------------
 * Rewriting what a Byzantine engine sends.
 * ---------------------------------------------------------------------- */

/* A 2A of leader b under equivocation or forgery: the entry's value for
 * `to`, followed by b's own 2AV and 2B for it. Returns records written. */
static uint32_t
byz_rewrite_2a(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *r,
               struct bpc_record *out)
{
    uint8_t kind = s->parties[b].byz;
    struct byz_entry *table = kind == SIM_BYZ_EQUIVOCATE ? s->bz->equiv : s->bz->forge;
    struct byz_entry *e = byz_entry_find(table, r->instance, r->ballot);
    if (e == NULL) {
        const uint8_t *orig = byz_value_bytes(r);
        bool noop = r->value.kind == BPC_VALUE_NOOP || orig == NULL;
        /* The original may live in the scratch the variants are built in:
         * copy it aside first. */
        if (!noop) {
            memcpy(s->bz->scratch2, orig, r->value.len);
            orig = s->bz->scratch2;
        }
        e = kind == SIM_BYZ_EQUIVOCATE
                ? byz_equiv_make(s, b, r->instance, r->ballot, orig, r->value.len, noop)
                : byz_forge_make(s, b, r->instance, r->ballot, orig, r->value.len, noop);
    }
    uint32_t k = e->which[to];
    out[0] = *r;
    byz_entry_value(s, e, k, &out[0]);
    out[0].aux = 0;
    out[1] = bpc_record_make(BPC_MSG_2AV, r->instance, r->ballot, 0, &e->vid[k]);
    out[2] = bpc_record_make(BPC_MSG_2B, r->instance, r->ballot, 0, &e->vid[k]);
    return 3;
}

/* A 2AV or 2B of a colluder at an equivocated or forged (instance,
 * ballot): the value that receiver was sent. */
static void
byz_rewrite_vote(struct sim *s, uint32_t b, uint32_t to, struct bpc_record *r)
{
    uint8_t kind = s->parties[b].byz;
    struct byz_entry *table = kind == SIM_BYZ_EQUIVOCATE ? s->bz->equiv : s->bz->forge;
    const struct byz_entry *e = byz_entry_find(table, r->instance, r->ballot);
    if (e != NULL) {
        r->value = e->vid[e->which[to]];
        r->value_bytes = NULL;
    }
}

/* A VOTES run of a colluder over equivocated or forged instances: the
 * digest of the values each receiver was sent, when the run covers only
 * instances with an entry (others keep the colluder's own digest). */
static void
byz_rewrite_votes(struct sim *s, uint32_t b, uint32_t to, struct bpc_record *r)
{
    uint8_t kind = s->parties[b].byz;
    struct byz_entry *table = kind == SIM_BYZ_EQUIVOCATE ? s->bz->equiv : s->bz->forge;
    uint32_t k = (uint32_t)(r->aux >> 8);
    struct bpc_vid vids[BPC_VOTES_RUN_MAX];
    if (k > BPC_VOTES_RUN_MAX) {
        return;
    }
    for (uint32_t j = 0; j < k; j++) {
        const struct byz_entry *e = byz_entry_find(table, r->instance + j, r->ballot);
        if (e == NULL) {
            return;
        }
        vids[j] = e->vid[e->which[to]];
    }
    bpc_votes_digest(r->ballot, r->instance, k, vids, r->value.id);
}

/* A false 1B report of (instance, ballot) into out (with its history):
 * claims no vote, a vote at a higher or lower ballot than the truth, other
 * values, invented history. Returns records written. */
static uint32_t
byz_lie_1b(struct sim *s, const struct bpc_record *r, struct bpc_record *out)
{
    uint64_t bal = r->ballot;
    uint64_t mode = bal >= 2 ? byz_below(s, 5) : 0;
    out[0] = bpc_record_make(BPC_MSG_1B, r->instance, bal, 0, NULL);
    if (mode == 0) {
        return 1; /* nothing voted: under-reports */
    }
    uint64_t truth = r->aux;
    uint64_t aux = truth;
    struct bpc_vid v = r->value;
    if (mode == 1 || truth == 0) {
        aux = bal - 1; /* higher than the truth */
        byz_random_vid(s, &v);
    } else if (mode == 2) {
        aux = 1 + byz_below(s, truth); /* at or below the truth */
    } else if (mode == 3) {
        byz_random_vid(s, &v);
    }
    out[0].aux = aux;
    out[0].value = v;
    uint32_t hist = (uint32_t)byz_below(s, BPC_HISTORY_MAX + 1);
    for (uint32_t h = 0; h < hist; h++) {
        struct bpc_vid hv = v;
        if (byz_below(s, 2) == 0) {
            byz_random_vid(s, &hv);
        }
        /* Ballots anywhere below the 1b's: above and below the claim. */
        out[1 + h] =
            bpc_record_make(BPC_MSG_1B_HIST, r->instance, bal, 1 + byz_below(s, bal - 1), &hv);
    }
    out[0].hist_count = (uint8_t)hist;
    return 1 + hist;
}

/* The false value every colluder claims was decided at an instance: a
 * NOOP, random inline bytes, or a batch of two commands under correct
 * parties' names (so a checker would see it if it were applied). */
static void
byz_lie_value(struct sim *s, uint64_t instance, struct bpc_record *r)
{
    struct sim_byz *z = s->bz;
    uint64_t st = z->lie_key ^ (instance * 0x9e3779b97f4a7c15u);
    uint64_t h = bpc_splitmix64(&st);
    memset(&r->value, 0, sizeof(r->value));
    r->value_bytes = NULL;
    if (h % 3 == 0) {
        r->value.kind = BPC_VALUE_NOOP;
        return;
    }
    if (h % 3 == 1) {
        r->value.kind = BPC_VALUE_INLINE;
        r->value.len = (uint16_t)(1 + (h >> 8) % BPC_VALUE_INLINE_MAX);
        for (uint32_t i = 0; i < r->value.len; i++) {
            r->value.id[i] = (uint8_t)bpc_splitmix64(&st);
        }
        return;
    }
    struct byz_batch bb;
    uint8_t *buf = z->scratch2;
    byz_batch_begin(&bb, buf, z->vbytes);
    for (uint32_t k = 0; k < 2; k++) {
        uint8_t cmd[SIM_COMMAND_BYTES];
        for (uint32_t i = 0; i < sizeof(cmd); i++) {
            cmd[i] = (uint8_t)bpc_splitmix64(&st);
        }
        uint32_t sub = (uint32_t)(bpc_splitmix64(&st) % s->n);
        byz_batch_add(s, &bb, sub, 1 + bpc_splitmix64(&st) % 4, cmd, sizeof(cmd));
    }
    uint32_t len = byz_batch_end(&bb);
    bpc_vid_of(&r->value, buf, len);
    r->value_bytes = r->value.kind == BPC_VALUE_DIGEST ? buf : NULL;
}

/* One of a decided-lie's ballots: 1, a far one, the highest valid one, or
 * the receiver's own. */
static uint64_t
byz_lie_ballot(struct sim *s, uint64_t own)
{
    static const uint64_t fixed[3] = {1, BYZ_FAR_BALLOT, BPC_BALLOT_MAX};
    uint64_t k = byz_below(s, 4);
    return k < 3 ? fixed[k] : (own > 0 ? own : 1);
}

/* Rewrites one record group of b's engine for `to` by b's kind into out;
 * returns records written. */
static uint32_t
byz_rewrite(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *r, uint32_t g,
            struct bpc_record *out)
{
    uint8_t kind = s->parties[b].byz;
    bool leader_kind = kind == SIM_BYZ_EQUIVOCATE || kind == SIM_BYZ_FORGE;
    if (leader_kind && r->type == BPC_MSG_2A) {
        return byz_rewrite_2a(s, b, to, r, out);
    }
    if (kind == SIM_BYZ_CROWD &&
        (r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B || r->type == BPC_MSG_VOTES)) {
        return 0; /* its real votes would only compete with its junk */
    }
    if (kind == SIM_BYZ_UNATTESTED && (r->type == BPC_MSG_2A || r->type == BPC_MSG_2AV ||
                                       r->type == BPC_MSG_2B || r->type == BPC_MSG_VOTES)) {
        return 0; /* no proposal and no vote of its own */
    }
    memcpy(out, r, g * sizeof(*r));
    if (kind == SIM_BYZ_UNATTESTED && r->type == BPC_MSG_ATTEST) {
        if (b % 2 == 1) {
            return 0; /* an odd party attests nothing */
        }
        /* Its MACs for other bytes: the receiver keeps them. */
        byz_fill(s, out[0].value.id, out[0].value.len);
        return g;
    }
    if (leader_kind && (r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B)) {
        byz_rewrite_vote(s, b, to, &out[0]);
    } else if (leader_kind && r->type == BPC_MSG_VOTES) {
        byz_rewrite_votes(s, b, to, &out[0]);
    } else if (kind == SIM_BYZ_VOTES && r->type == BPC_MSG_VOTES && byz_below(s, 2) == 0) {
        /* A run naming values nobody was sent (or other instances). */
        if (byz_below(s, 2) == 0) {
            byz_fill(s, out[0].value.id, BPC_DIGEST_BYTES);
        } else {
            out[0].instance += 1 + byz_below(s, 3);
        }
    } else if (kind == SIM_BYZ_LIE1B && r->type == BPC_MSG_1B) {
        return byz_lie_1b(s, r, out);
    } else if (kind == SIM_BYZ_VOTES && (r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B) &&
               byz_below(s, 2) == 0) {
        byz_random_vid(s, &out[0].value);
    } else if (kind == SIM_BYZ_DECIDED_LIE && r->type == BPC_MSG_DECIDED) {
        byz_lie_value(s, r->instance, &out[0]);
        if (out[0].value.kind == BPC_VALUE_DIGEST) {
            /* One scratch holds the lie's bytes: several in one frame
             * would share it, so a rewritten one lies with a NOOP. */
            memset(&out[0].value, 0, sizeof(out[0].value));
            out[0].value.kind = BPC_VALUE_NOOP;
            out[0].value_bytes = NULL;
        }
        out[0].ballot = byz_lie_ballot(s, r->ballot);
        out[0].aux = 0;
    } else if (kind == SIM_BYZ_DECIDED_LIE && r->type == BPC_MSG_STATUS && byz_below(s, 2) == 0) {
        out[0].instance = byz_rand(s) % (r->instance + 2);
    }
    return g;
}

/* Keeps a sealed frame of b for replays. */
static void
byz_ring_keep(struct sim *s, uint32_t b, uint32_t to, const uint8_t *frame, uint32_t len)
{
    struct sim_byz_party *bp = s->parties[b].bz;
    struct byz_frame *f = &bp->ring[bp->ring_next];
    if (f->bytes == NULL) {
        return;
    }
    bp->ring_next = (bp->ring_next + 1) % BYZ_RING_FRAMES;
    bp->ring_count += bp->ring_count < BYZ_RING_FRAMES ? 1u : 0u;
    memcpy(f->bytes, frame, len);
    f->len = len;
    f->to = to;
}

/* A frame b's engine emitted: dropped (silent), rewritten for a correct
 * receiver by b's kind, or passed to a colluder; re-sealed either way. */
void
sim_byz_emit(struct sim *s, uint32_t b, uint32_t to, const uint8_t *frame, uint32_t len)
{
    struct sim_byz *z = s->bz;
    uint8_t kind = s->parties[b].byz;
    if (kind == SIM_BYZ_SILENT) {
        return;
    }
    struct bpc_frame_header h;
    int count = bpc_wire_parse_header(frame, len, &h) == 0
                    ? bpc_wire_decode(frame, len, &h, z->recs, z->recs_cap)
                    : -1;
    if (count < 0) {
        sim_engine_error(s, "engine: Byzantine party %u's engine emitted a malformed frame", b);
        return;
    }
    uint32_t n = 0;
    bool correct = s->parties[to].byz == SIM_BYZ_NONE;
    for (uint32_t i = 0; i < (uint32_t)count;) {
        uint32_t g = byz_group(z->recs, i, (uint32_t)count);
        if (n + 3 + BPC_HISTORY_MAX + g > BYZ_OUT_RECS) {
            break;
        }
        if (correct) {
            n += byz_rewrite(s, b, to, &z->recs[i], g, &z->out[n]);
        } else {
            memcpy(&z->out[n], &z->recs[i], g * sizeof(z->recs[i]));
            n += g; /* colluders talk straight */
        }
        i += g;
    }
    if (correct && kind == SIM_BYZ_MALFORMED && byz_below(s, 16) == 0) {
        /* Now and then a real frame goes out with a valid tag and a bad
         * record type, so its content is lost whole. */
        uint32_t rl = byz_raw_frame(s, b, to, z->out, n, z->buf);
        if (rl > BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES) {
            z->buf[BPC_WIRE_HEADER_BYTES] = (uint8_t)(BPC_MSG_TYPES_COUNT + byz_below(s, 200));
            byz_retag(s, b, to, z->buf, rl);
            byz_wire(s, b, to, z->buf, rl, false);
        }
        return;
    }
    s->r.byz_rewritten++;
    uint32_t last = byz_send(s, b, to, z->out, n, false);
    if (kind == SIM_BYZ_REPLAY && last > 0) {
        byz_ring_keep(s, b, to, z->buf, last);
    }
}

/* ------------------------------------------------------------------------
 * What Byzantine parties learn.
 * ---------------------------------------------------------------------- */

/* Keeps a record b received, to relay it later under b's own name. */
static void
byz_relay_keep(struct sim *s, uint32_t b, const struct bpc_record *r)
{
    struct sim_byz_party *bp = s->parties[b].bz;
    if (r->type == BPC_MSG_1B_HIST || bp->relay[0].bytes == NULL) {
        return;
    }
    struct byz_relay *k = &bp->relay[bp->relay_next];
    bp->relay_next = (bp->relay_next + 1) % BYZ_RELAY_RECS;
    bp->relay_count += bp->relay_count < BYZ_RELAY_RECS ? 1u : 0u;
    k->r = *r;
    k->r.hist_count = 0; /* its history stays behind */
    k->r.value_bytes = NULL;
    if (byz_carried(r) && r->value.len <= s->bz->vbytes) {
        memcpy(k->bytes, r->value_bytes, r->value.len);
        k->r.value_bytes = k->bytes;
    }
}

/* refuser: a correct leader's 2A seen by b: a REFUSE, to that leader, of
 * each command of a correct submitter other than the leader in its value
 * (what a correct party sends only for a command it cannot prove its
 * submitter's). */
static void
byz_refuse_2a(struct sim *s, uint32_t b, uint32_t leader, const struct bpc_record *r)
{
    const uint8_t *bytes = r->value.kind == BPC_VALUE_INLINE ? r->value.id : r->value_bytes;
    if (r->value.kind == BPC_VALUE_NOOP || bytes == NULL || !sim_correct_live(s, leader)) {
        return;
    }
    struct bpc_record out[BPC_BATCH_MAX];
    uint32_t n = 0;
    struct bpc_command c;
    int off = 0;
    while (n < BPC_BATCH_MAX &&
           (off = bpc_batch_next(bytes, r->value.len, (uint32_t)off, &c)) > 0) {
        if (c.submitter >= s->n || c.submitter == leader ||
            s->parties[c.submitter].byz != SIM_BYZ_NONE) {
            continue;
        }
        struct bpc_vid v;
        memset(&v, 0, sizeof(v));
        v.kind = BPC_VALUE_INLINE;
        v.len = sizeof(uint64_t);
        byz_le_store(v.id, c.seq, 8);
        out[n++] = bpc_record_make(BPC_MSG_REFUSE, r->instance, r->ballot, c.submitter, &v);
    }
    if (n > 0) {
        byz_send(s, b, leader, out, n, true);
    }
}

/* A frame delivered to Byzantine party b: genuine commands for the pool,
 * and (replay) records to relay. */
void
sim_byz_observe(struct sim *s, uint32_t b, const uint8_t *frame, uint32_t len)
{
    struct sim_byz *z = s->bz;
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(frame, len, &h) != 0 || h.sender >= s->n) {
        return;
    }
    int count = bpc_wire_decode(frame, len, &h, z->recs, z->recs_cap);
    bool from_correct = s->parties[h.sender].byz == SIM_BYZ_NONE;
    for (int i = 0; i < count && from_correct; i++) {
        const struct bpc_record *r = &z->recs[i];
        if (r->type == BPC_MSG_FORWARD) {
            byz_pool_add(s, h.sender, r->instance, byz_value_bytes(r), r->value.len);
        }
        if (s->parties[b].byz == SIM_BYZ_REPLAY) {
            byz_relay_keep(s, b, r);
        }
        if (s->parties[b].byz == SIM_BYZ_REFUSER && r->type == BPC_MSG_2A) {
            byz_refuse_2a(s, b, h.sender, r);
        }
    }
}

uint64_t
sim_byz_own_applied(const struct sim *s, uint32_t b)
{
    return s->parties[b].bz->applied_hi[b];
}

/* b's engine applied (submitter, seq): b's view of every sequence. */
void
sim_byz_applied(struct sim *s, uint32_t b, uint32_t submitter, uint64_t seq)
{
    uint64_t *hi = &s->parties[b].bz->applied_hi[submitter];
    *hi = seq > *hi ? seq : *hi;
}

/* ------------------------------------------------------------------------
 * Crafted frames, one Byzantine period.
 * ---------------------------------------------------------------------- */

/* What b knows of a correct receiver: its next undecided instance and
 * ballot (what it announces in STATUS and every record). */
struct byz_view {
    uint64_t nu;
    uint64_t bal;
    uint64_t window;
};

/* wrongballot: 1B (no vote), 2AV and 2B with random inline values at the
 * receiver's next instance, at a far-future and a stale ballot. */
static void
byz_craft_wrongballot(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v,
                      uint64_t maxb)
{
    struct bpc_record r[6];
    uint64_t ballots[2] = {maxb + 2 + byz_below(s, 999999), 1};
    for (uint32_t k = 0; k < 2; k++) {
        r[3 * k] = bpc_record_make(BPC_MSG_1B, v->nu, ballots[k], 0, NULL);
        for (uint32_t t = 1; t < 3; t++) {
            struct bpc_vid val;
            memset(&val, 0, sizeof(val));
            val.kind = BPC_VALUE_INLINE;
            val.len = (uint16_t)(1 + byz_below(s, BPC_VALUE_INLINE_MAX));
            byz_fill(s, val.id, val.len);
            r[3 * k + t] =
                bpc_record_make(t == 1 ? BPC_MSG_2AV : BPC_MSG_2B, v->nu, ballots[k], 0, &val);
        }
    }
    byz_send(s, b, q, r, 6, true);
}

/* lie1b: false 1B reports at the receiver's ballot and the next one (the
 * first 1B of a sender counts, so the lie may beat the engine's truth),
 * and a range record claiming everything above is empty. */
static void
byz_craft_lie1b(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record out[4 * (1 + BPC_HISTORY_MAX) + 1];
    uint32_t n = 0;
    for (uint64_t k = 0; k < 4; k++) {
        uint64_t bal = v->bal + (k & 1u);
        struct bpc_record truth = bpc_record_make(BPC_MSG_1B, v->nu + k / 2, bal, 0, NULL);
        n += byz_lie_1b(s, &truth, &out[n]);
    }
    out[n++] = bpc_record_make(BPC_MSG_1B_RANGE, v->nu + byz_below(s, 3), v->bal + 1, 0, NULL);
    byz_send(s, b, q, out, n, true);
}

/* votes: 2AV and 2B for values nobody proposed (a new one per period, so
 * several per instance), at far ballots and instances, at the highest
 * valid ballot, garbage ATTESTs; and, in a frame of their own (dropped
 * whole), UINT64_MAX and just-too-high ballots. */
static void
byz_craft_votes(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[12];
    uint32_t n = 0;
    struct bpc_vid val;
    /* Draws in statements of their own: argument order is unspecified. */
    uint64_t near = v->nu + byz_below(s, 4);
    uint64_t ahead = v->nu + v->window * (1 + byz_below(s, 4));
    uint64_t far_bal = v->bal + 1 + byz_below(s, 1000000);
    const uint64_t inst[5] = {near, v->nu, ahead, v->nu + ((uint64_t)1 << 32), UINT64_MAX};
    const uint64_t bal[5] = {v->bal, far_bal, v->bal, v->bal, BPC_BALLOT_MAX};
    for (uint32_t k = 0; k < 5; k++) {
        byz_random_vid(s, &val);
        r[n++] = bpc_record_make(k & 1u ? BPC_MSG_2B : BPC_MSG_2AV, inst[k], bal[k], 0, &val);
        byz_random_vid(s, &val);
        r[n++] = bpc_record_make(k & 1u ? BPC_MSG_2AV : BPC_MSG_2B, inst[k], bal[k], 0, &val);
    }
    for (uint32_t k = 0; k < 2; k++) {
        memset(&val, 0, sizeof(val));
        val.kind = BPC_VALUE_INLINE;
        val.len = BPC_CMD_MAC_BYTES;
        byz_fill(s, val.id, BPC_CMD_MAC_BYTES);
        uint64_t seq = k == 0 ? s->parties[b].bz->applied_hi[b] + 1 + byz_below(s, 4) : byz_rand(s);
        uint64_t len = byz_below(s, BPC_VALUE_BYTES_MAX + 1);
        r[n++] = bpc_record_make(BPC_MSG_ATTEST, seq, v->bal, len, &val);
    }
    byz_send(s, b, q, r, n, true);
    byz_random_vid(s, &val);
    struct bpc_record far[2] = {
        bpc_record_make(BPC_MSG_2AV, v->nu, UINT64_MAX, 0, &val),
        bpc_record_make(BPC_MSG_2B, UINT64_MAX, BPC_BALLOT_MAX + 1, 0, &val),
    };
    byz_send_raw(s, b, q, far, 2);
}

/* unattested, an even party: every command b has outstanding (the 64
 * after the last its engine applied) attested again under MACs of other
 * bytes, two per record, so the receiver holds no MAC its real command
 * matches. An odd party attests nothing at all. */
static void
byz_craft_unattested(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    if (b % 2 == 1) {
        return;
    }
    struct bpc_record r[32];
    uint64_t first = s->parties[b].bz->applied_hi[b] + 1;
    for (uint32_t k = 0; k < 32; k++) {
        struct bpc_vid val;
        memset(&val, 0, sizeof(val));
        val.kind = BPC_VALUE_INLINE;
        val.len = 2 * BPC_CMD_MAC_BYTES;
        byz_fill(s, val.id, val.len);
        r[k] = bpc_record_make(BPC_MSG_ATTEST, first + 2 * k, v->bal, SIM_COMMAND_BYTES, &val);
    }
    byz_send(s, b, q, r, 32, true);
}

/* replay: an old frame verbatim (to its receiver), an old frame re-sealed
 * under a fresh sequence number (to this receiver), and records b
 * received from others, relayed under b's own name. */
static void
byz_craft_replay(struct sim *s, uint32_t b, uint32_t q)
{
    struct sim_byz *z = s->bz;
    struct sim_byz_party *bp = s->parties[b].bz;
    if (bp->ring_count > 0) {
        const struct byz_frame *f = &bp->ring[byz_below(s, bp->ring_count)];
        if (sim_correct_live(s, f->to)) {
            byz_wire(s, b, f->to, f->bytes, f->len, true);
        }
        f = &bp->ring[byz_below(s, bp->ring_count)];
        struct bpc_frame_header h;
        int count = bpc_wire_parse_header(f->bytes, f->len, &h) == 0
                        ? bpc_wire_decode(f->bytes, f->len, &h, z->recs, z->recs_cap)
                        : -1;
        if (count > 0) {
            memcpy(z->out, z->recs, (size_t)count * sizeof(*z->recs));
            byz_send(s, b, q, z->out, (uint32_t)count, true);
        }
    }
    if (bp->relay_count > 0) {
        struct bpc_record r[3];
        uint32_t n = 1 + (uint32_t)byz_below(s, 3);
        for (uint32_t k = 0; k < n; k++) {
            r[k] = bp->relay[byz_below(s, bp->relay_count)].r;
        }
        byz_send(s, b, q, r, n, true);
    }
}

/* The junk value colluder b names for (instance, ballot): inline, 8
 * bytes, different for every colluder (and never a real batch). */
static void
byz_crowd_vid(uint32_t b, uint64_t instance, uint64_t ballot, struct bpc_vid *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = BPC_VALUE_INLINE;
    v->len = 12;
    byz_le_store(v->id, 0x44574f52u, 4); /* "ROWD" */
    byz_le_store(v->id + 4, b, 4);
    byz_le_store(v->id + 8, (uint32_t)(instance * 1315423911u + ballot), 4);
}

/* crowd: for every instance the receiver may have in flight (its next
 * undecided one and the half window above it, which is as far as a
 * leader pipelines), a 2AV and a 2B for b's own junk value at the
 * receiver's ballot and the next. Each is one vote of one sender, as the
 * protocol allows; but a tally keeps at most BPC_TALLY_VALUES_MAX values
 * per (instance, ballot, type), so with that many colluders the correct
 * parties' value finds no place and is dropped (tally_overflow). */
static void
byz_craft_crowd(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[256];
    uint32_t n = 0;
    uint64_t span = v->window / 2 > 0 ? v->window / 2 : 1;
    span = span > 60 ? 60 : span;
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t bal = v->bal + k;
        for (uint64_t i = v->nu; i < v->nu + span; i++) {
            struct bpc_vid val;
            byz_crowd_vid(b, i, bal, &val);
            r[n++] = bpc_record_make(BPC_MSG_2AV, i, bal, 0, &val);
            r[n++] = bpc_record_make(BPC_MSG_2B, i, bal, 0, &val);
        }
    }
    byz_send(s, b, q, r, n, true);
}

/* crowd-decided: DECIDED claims for b's own junk value for every instance
 * from the receiver's next undecided one to the end of its window. Claims
 * are tallied per slot (not per ballot) in BPC_TALLY_VALUES_MAX places,
 * kept until the slot is reused. */
static void
byz_craft_crowd_decided(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[256];
    uint32_t n = 0;
    uint64_t span = v->window > 120 ? 120 : v->window;
    for (uint64_t i = v->nu; i < v->nu + span; i++) {
        struct bpc_vid val;
        byz_crowd_vid(b, i, 1, &val);
        r[n++] = bpc_record_make(BPC_MSG_DECIDED, i, 1, 0, &val);
    }
    byz_send(s, b, q, r, n, true);
}

/* claimfill: a non-empty 1B (maxVBal one below the ballot, b's junk
 * value) for every instance of the receiver's window at its ballot (from
 * 2 on) and the next, so each takes a place in the receiver's 1b claim
 * pool, sized for 16 senders' worth per slot past 16 parties. */
static void
byz_craft_claimfill(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[512];
    uint32_t n = 0;
    uint64_t span = v->window > 256 ? 256 : v->window;
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t bal = v->bal + k;
        if (bal < 2) {
            continue;
        }
        for (uint64_t i = v->nu; i < v->nu + span && n < 512; i++) {
            struct bpc_vid val;
            byz_crowd_vid(b, i, bal, &val);
            r[n++] = bpc_record_make(BPC_MSG_1B, i, bal, bal - 1, &val);
        }
    }
    byz_send(s, b, q, r, n, true);
}

/* statusflood: a frame of STATUS records over the receiver's recent
 * decisions (one per 128 instances, the ring repeated eight times), and a
 * frame of 2B records about instances whose slots the receiver reused.
 * Each STATUS asks for up to 128 DECIDED answers with their bytes, each
 * stale 2B for one: what a party answers one peer is budgeted (catchup.c). */
static void
byz_craft_statusflood(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[512];
    uint32_t n = 0;
    uint64_t ring = 2 * v->window + 256;
    uint64_t lo = v->nu > ring ? v->nu - ring : 0;
    for (uint32_t k = 0; k < 8; k++) {
        for (uint64_t i = lo; i < v->nu && n < 512; i += 128) {
            r[n++] = bpc_record_make(BPC_MSG_STATUS, i, v->bal, 128, NULL);
        }
    }
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
    n = 0;
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    for (uint64_t i = lo; i + v->window < v->nu && n < 512; i++) {
        r[n++] = bpc_record_make(BPC_MSG_2B, i, v->bal, 0, &noop);
    }
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
}

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
static void
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

/* evict: records naming instances at and past the end of the receiver's
 * window (nu + window - 1, nu + window, and far beyond), of every type,
 * at its ballot and the next. */
static void
byz_craft_evict(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    const uint64_t inst[8] = {v->nu + v->window - 1, v->nu + v->window,
                              v->nu + v->window + 1, v->nu + 2 * v->window,
                              v->nu + v->window / 2, v->nu + ((uint64_t)1 << 20),
                              UINT64_MAX - 1,        UINT64_MAX};
    struct bpc_record r[16];
    uint32_t n = 0;
    for (uint32_t k = 0; k < 3; k++) {
        uint64_t i = inst[byz_below(s, 8)];
        uint64_t bal = v->bal + byz_below(s, 2);
        struct bpc_vid val;
        byz_random_vid(s, &val);
        if (val.kind == BPC_VALUE_DIGEST) {
            val.kind = BPC_VALUE_NOOP; /* carried types need bytes: keep it simple */
            val.len = 0;
            memset(val.id, 0, sizeof(val.id));
        }
        r[n++] = bpc_record_make(BPC_MSG_1B, i, bal, 0, NULL);
        if (bal >= 2) {
            r[n] = bpc_record_make(BPC_MSG_1B, i, bal, bal - 1, &val);
            r[n++].hist_count = 1;
            r[n++] = bpc_record_make(BPC_MSG_1B_HIST, i, bal, bal - 1, &val);
        }
        r[n++] = bpc_record_make(byz_below(s, 2) ? BPC_MSG_2AV : BPC_MSG_2B, i, bal, 0, &val);
        r[n++] = bpc_record_make(byz_below(s, 2) ? BPC_MSG_DECIDED : BPC_MSG_2A, i, bal, 0, &val);
    }
    static const uint8_t loose[3] = {BPC_MSG_1A, BPC_MSG_1B_RANGE, BPC_MSG_STATUS};
    uint8_t type = loose[byz_below(s, 3)];
    uint64_t at = inst[byz_below(s, 8)];
    r[n++] = bpc_record_make(type, at, v->bal, byz_below(s, 1000), NULL);
    byz_send(s, b, q, r, n, true);
}

/* decided-lie: DECIDED records with the colluders' false value for
 * instances around the receiver's next one, at false ballots; now and then
 * STATUS records with false positions, and a DECIDED at ballot UINT64_MAX
 * (malformed, in a frame of its own). */
static void
byz_craft_decided_lie(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[6];
    uint32_t n = 0;
    uint64_t some = v->nu + byz_below(s, v->window);
    const uint64_t inst[4] = {v->nu > 0 ? v->nu - 1 : 0, v->nu, v->nu + 1, some};
    /* One carried value per frame: each lie's bytes sit in one scratch. */
    for (uint32_t k = 0; k < 4; k++) {
        struct bpc_record d =
            bpc_record_make(BPC_MSG_DECIDED, inst[k], byz_lie_ballot(s, v->bal), 0, NULL);
        byz_lie_value(s, inst[k], &d);
        byz_send(s, b, q, &d, 1, true);
    }
    if (byz_below(s, 4) == 0) {
        uint64_t any = byz_rand(s);
        const uint64_t pos[5] = {0, v->nu > 0 ? v->nu - 1 : 0, v->nu + v->window, UINT64_MAX - 1,
                                 any};
        uint64_t at = pos[byz_below(s, 5)];
        uint64_t bal = byz_rand(s) % BPC_BALLOT_MAX;
        r[n++] = bpc_record_make(BPC_MSG_STATUS, at, bal, byz_rand(s), NULL);
    }
    struct bpc_record bad = bpc_record_make(BPC_MSG_DECIDED, v->nu, UINT64_MAX, 0, NULL);
    byz_lie_value(s, v->nu, &bad);
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
    if (byz_below(s, 8) == 0) {
        byz_send_raw(s, b, q, &bad, 1);
    }
}

/* equivocate and forge, as leader of b's ballot: a 2A for b's next
 * instance even when its engine has nothing to propose (a NOOP original),
 * each receiver getting its table value and b's votes for it. */
static void
byz_craft_lead(struct sim *s, uint32_t b)
{
    struct bpc_engine *e = s->parties[b].e;
    if (bpc_engine_leader(e) != (int)b) {
        return;
    }
    uint64_t bal = bpc_engine_ballot(e);
    uint64_t inst = bpc_engine_next_undecided(e) + byz_below(s, 2);
    struct byz_entry *table = s->parties[b].byz == SIM_BYZ_EQUIVOCATE ? s->bz->equiv : s->bz->forge;
    if (byz_entry_find(table, inst, bal) != NULL) {
        return;
    }
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    struct bpc_record r = bpc_record_make(BPC_MSG_2A, inst, bal, 0, &noop);
    struct bpc_record out[3];
    for (uint32_t q = 0; q < s->n; q++) {
        if (sim_correct_live(s, q)) {
            uint32_t k = byz_rewrite_2a(s, b, q, &r, out);
            byz_send(s, b, q, out, k, true);
        }
    }
}

/* The churn: once a correct leader of the highest correct ballot has led
 * for churn_ns, its frames are dropped until the ballot moves on, so
 * ballots turn over and Byzantine parties get to lead. */
static void
byz_churn(struct sim *s, uint64_t maxb)
{
    if (s->o.churn_ns == 0) {
        return;
    }
    int leader = bpc_elect_leader(s->cfg0, s->digest, maxb);
    if (leader < 0 || s->parties[leader].byz != SIM_BYZ_NONE) {
        s->r.byz_ballots += s->reign_ballot != maxb ? 1u : 0u;
        s->muted = SIM_NONE;
        s->reign_ballot = maxb;
        return;
    }
    if (s->reign_ballot != maxb) {
        s->reign_ballot = maxb;
        s->reign_start_ns = s->now_ns;
        s->muted = SIM_NONE;
        return;
    }
    if (s->now_ns - s->reign_start_ns >= s->o.churn_ns) {
        s->muted = (uint32_t)leader;
    }
}

/* One Byzantine party's crafted frames for one correct receiver. */
static void
byz_craft(struct sim *s, uint32_t b, uint32_t q, uint64_t maxb)
{
    struct byz_view v = {.nu = bpc_engine_next_undecided(s->parties[q].e),
                         .bal = bpc_engine_ballot(s->parties[q].e),
                         .window = s->o.window_slots};
    v.bal = v.bal > 0 ? v.bal : 1;
    switch (s->parties[b].byz) {
    case SIM_BYZ_WRONGBALLOT:
        byz_craft_wrongballot(s, b, q, &v, maxb);
        break;
    case SIM_BYZ_LIE1B:
        byz_craft_lie1b(s, b, q, &v);
        break;
    case SIM_BYZ_VOTES:
        byz_craft_votes(s, b, q, &v);
        break;
    case SIM_BYZ_REPLAY:
        byz_craft_replay(s, b, q);
        break;
    case SIM_BYZ_MALFORMED:
        byz_craft_malformed(s, b, q, &v);
        break;
    case SIM_BYZ_EVICT:
        byz_craft_evict(s, b, q, &v);
        break;
    case SIM_BYZ_DECIDED_LIE:
        byz_craft_decided_lie(s, b, q, &v);
        break;
    case SIM_BYZ_UNATTESTED:
        byz_craft_unattested(s, b, q, &v);
        break;
    case SIM_BYZ_CROWD:
        byz_craft_crowd(s, b, q, &v);
        break;
    case SIM_BYZ_CROWD_DECIDED:
        byz_craft_crowd_decided(s, b, q, &v);
        break;
    case SIM_BYZ_CLAIMFILL:
        byz_craft_claimfill(s, b, q, &v);
        break;
    case SIM_BYZ_STATUSFLOOD:
        byz_craft_statusflood(s, b, q, &v);
        break;
    default:
        break; /* silent, equivocate and forge craft nothing per receiver */
    }
}

/* One Byzantine period: the churn, then every live Byzantine party's
 * crafted frames for every correct live party. */
void
sim_byz_tick(struct sim *s)
{
    uint64_t maxb = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        if (sim_correct_live(s, p)) {
            uint64_t bal = bpc_engine_ballot(s->parties[p].e);
            maxb = bal > maxb ? bal : maxb;
        }
    }
    if (!s->healed) {
        byz_churn(s, maxb);
    }
    for (uint32_t b = 0; b < s->n; b++) {
        uint8_t kind = s->parties[b].byz;
        if (kind == SIM_BYZ_NONE || s->parties[b].crashed) {
            continue;
        }
        if (kind == SIM_BYZ_EQUIVOCATE || kind == SIM_BYZ_FORGE) {
            byz_craft_lead(s, b);
        }
        for (uint32_t q = 0; q < s->n; q++) {
            if (sim_correct_live(s, q)) {
                byz_craft(s, b, q, maxb);
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

/* Allocates one equivocation or forgery table. */
static void
byz_table_init(struct sim *s, struct byz_entry *table)
{
    for (uint32_t i = 0; i < BYZ_ENTRIES; i++) {
        table[i].bytes = sim_calloc(BYZ_VARIANTS, s->bz->vbytes);
        table[i].which = sim_calloc(s->n, 1);
    }
}

/* Frees one table. */
static void
byz_table_free(struct byz_entry *table)
{
    for (uint32_t i = 0; i < BYZ_ENTRIES; i++) {
        free(table[i].bytes);
        free(table[i].which);
    }
}

/* The Byzantine state, when a party is Byzantine. */
void
sim_byz_init(struct sim *s)
{
    if (s->byz_count == 0) {
        return;
    }
    struct sim_byz *z = sim_calloc(1, sizeof(*z));
    s->bz = z;
    const struct bpc_config *cfg = s->cfg0;
    z->vbytes = cfg->value_bytes_max;
    z->batch_max = cfg->batch_max;
    z->lie_key = byz_rand(s);
    z->recs_cap = bpc_wire_records_max(BPC_FRAME_BYTES_MAX) + 1;
    z->recs = sim_calloc(z->recs_cap, sizeof(*z->recs));
    z->out = sim_calloc(BYZ_OUT_RECS, sizeof(*z->out));
    z->scratch = sim_calloc(1, z->vbytes);
    z->scratch2 = sim_calloc(1, z->vbytes);
    bool leads = false;
    for (uint32_t b = 0; b < s->n; b++) {
        struct sim_party *pa = &s->parties[b];
        if (pa->byz == SIM_BYZ_NONE) {
            continue;
        }
        leads = leads || pa->byz == SIM_BYZ_EQUIVOCATE || pa->byz == SIM_BYZ_FORGE;
        pa->bz = sim_calloc(1, sizeof(*pa->bz));
        pa->bz->seq = sim_calloc(s->n, sizeof(*pa->bz->seq));
        pa->bz->applied_hi = sim_calloc(s->n, sizeof(*pa->bz->applied_hi));
        for (uint32_t i = 0; i < BYZ_RING_FRAMES && pa->byz == SIM_BYZ_REPLAY; i++) {
            pa->bz->ring[i].bytes = sim_calloc(1, BPC_FRAME_BYTES_MAX);
        }
        for (uint32_t i = 0; i < BYZ_RELAY_RECS && pa->byz == SIM_BYZ_REPLAY; i++) {
            pa->bz->relay[i].bytes = sim_calloc(1, z->vbytes);
        }
    }
    if (leads) {
        byz_table_init(s, z->equiv);
        byz_table_init(s, z->forge);
    }
}

/* Frees it. */
void
sim_byz_free(struct sim *s)
{
    struct sim_byz *z = s->bz;
    if (z == NULL) {
        return;
    }
    for (uint32_t b = 0; b < s->n; b++) {
        struct sim_byz_party *bp = s->parties[b].bz;
        if (bp == NULL) {
            continue;
        }
        for (uint32_t i = 0; i < BYZ_RING_FRAMES; i++) {
            free(bp->ring[i].bytes);
        }
        for (uint32_t i = 0; i < BYZ_RELAY_RECS; i++) {
            free(bp->relay[i].bytes);
        }
        free(bp->seq);
        free(bp->applied_hi);
        free(bp);
        s->parties[b].bz = NULL;
    }
    byz_table_free(z->equiv);
    byz_table_free(z->forge);
    free(z->recs);
    free(z->out);
    free(z->scratch);
    free(z->scratch2);
    free(z);
    s->bz = NULL;
}
