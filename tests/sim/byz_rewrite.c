/*
 * byz_rewrite.c - what a Byzantine engine sends, rewritten
 * (byz_internal.h): every frame a Byzantine party's engine emits is
 * decoded, dropped (silent), changed by the party's kind for a correct
 * receiver (equivocated or forged 2a values, lying 1b reports, votes for
 * other values or ballots) or passed to a colluder, and re-sealed; the
 * replay ring keeps old frames.
 *
 * Must never: read the command tag secret (tag_key), draw randomness
 * from anything but the sim's Byzantine stream, or send a frame after
 * the heal.
 */
#include "byz_internal.h"

#include <sodium.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Rewriting what a Byzantine engine sends.
 * ---------------------------------------------------------------------- */

/* A 2A of leader b under equivocation or forgery: the entry's value for
 * `to`, followed by b's own 2AV and 2B for it. Returns records written. */
uint32_t
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
 * values, invented history, a clean floor at any height. Returns records
 * written. */
uint32_t
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
    if (hist > 0 && byz_below(s, 2) == 0) {
        /* A clean floor claim (the last history record, kind NONE): the
         * highest a 1b may name, or anywhere below (docs/ENGINE.md,
         * "Clean floors"). */
        uint64_t floor = byz_below(s, 2) == 0 ? bal - 1 : 1 + byz_below(s, bal - 1);
        out[hist] = bpc_record_make(BPC_MSG_1B_HIST, r->instance, bal, floor, NULL);
    }
    out[0].hist_count = (uint8_t)hist;
    return 1 + hist;
}

/* The false value every colluder claims was decided at an instance: a
 * NOOP, random inline bytes, or a batch of two commands under correct
 * parties' names (so a checker would see it if it were applied). */
void
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
uint64_t
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
