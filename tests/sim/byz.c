/*
 * byz.c - Byzantine parties of the simulator.
 *
 * Owns, with the other byz files (byz_internal.h): what a Byzantine party
 * sends. It runs a real engine like everyone else (so it takes part in
 * ballots and its frames look real); every frame its engine emits is
 * decoded (the simulator knows every pair key), changed or dropped by the
 * party's kind, and re-sealed under the pair key with the party's own
 * rising sequence number (byz_rewrite.c); every Byzantine period it also
 * sends crafted frames (byz_craft.c, byz_malformed.c). Colluding parties
 * share what they told each receiver (equivocation and forgery tables)
 * and the genuine commands they saw (byz_values.c). Also the churn: which
 * correct leader is muted during the Byzantine phase (byz_craft.c).
 *
 * This file: small helpers, sealing and sending, what Byzantine parties
 * learn, and setting their state up and freeing it.
 *
 * Must never: read the command tag secret (tag_key, which only check.c
 * reads: a forger cannot know a correct party's bytes), draw randomness
 * from anything but the sim's Byzantine stream, or send a frame after the
 * heal.
 */
#include "byz_internal.h"

#include <sodium.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------- */

/* The sim's Byzantine stream: every random choice of the byz files. */
uint64_t
byz_rand(struct sim *s)
{
    return sim_rng_next(&s->byz_rng);
}

/* Uniform in [0, n) from the Byzantine stream (n > 0). */
uint64_t
byz_below(struct sim *s, uint64_t n)
{
    return sim_rng_below(&s->byz_rng, n);
}

/* Little-endian store of the low n <= 8 bytes of v. */
void
byz_le_store(uint8_t *b, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Fills len bytes from the Byzantine stream. */
void
byz_fill(struct sim *s, uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        p[i] = (uint8_t)byz_rand(s);
    }
}

/* A correct live party at random, or SIM_NONE when there is none. */
uint32_t
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
void
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

/* Does the record carry its value bytes in the value section? (As the
 * wire's writer decides: VALUE records too. Before, they were left out,
 * the frame's value room was short, and every VALUE record a Byzantine
 * party sent was refused by the writer and left out: no campaign ever
 * sent one.) */
static bool
byz_carried(const struct bpc_record *r)
{
    return r->value.kind == BPC_VALUE_DIGEST && r->value_bytes != NULL &&
           (r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_FORWARD ||
            r->type == BPC_MSG_VALUE);
}

/* Records that must share a frame with recs[i]: a 1B and its history. */
uint32_t
byz_group(const struct bpc_record *recs, uint32_t i, uint32_t count)
{
    uint32_t g = 1;
    if (recs[i].type == BPC_MSG_1B) {
        g += recs[i].hist_count;
    }
    return g < count - i ? g : count - i;
}

/* Hands one sealed frame of b to the network. */
void
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
uint32_t
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
            uint32_t g = byz_group(recs, i, count); /* fits no frame: left out */
            s->r.byz_unsent += g;
            i += g;
            continue;
        }
        struct bpc_wire_writer w;
        if (bpc_wire_begin(&w, z->buf, s->frame_bytes, values) != 0) {
            s->r.byz_unsent += count - i;
            return last;
        }
        for (; i < end; i++) {
            if (bpc_wire_put(&w, &recs[i]) != 0) {
                s->r.byz_unsent++;
            }
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
void
byz_retag(struct sim *s, uint32_t b, uint32_t to, uint8_t *frame, uint32_t len)
{
    bpc_wire_retag(frame, len, sim_pair_key(s, b, to));
}

/* Builds a raw frame of b for `to` into buf: header, records, their
 * carried values (aux set to the offsets), a tag. Returns its length (0
 * when it would exceed BPC_FRAME_BYTES_MAX). */
uint32_t
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
void
byz_send_raw(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs, uint32_t count)
{
    uint32_t len = byz_raw_frame(s, b, to, recs, count, s->bz->buf);
    if (len > 0) {
        byz_wire(s, b, to, s->bz->buf, len, true);
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
