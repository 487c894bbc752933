/*
 * fuzz_engine_world.c - the world fuzz_engine's scripts act on
 * (fuzz_engine.h): the four engines, their persisted records and restarts,
 * the queue of frames in flight, and the Byzantine party's own frames,
 * decoded, changed as the script's mode says and encoded again.
 *
 * Owns: the world W and the step buffers; building an engine, afresh or
 * from its persisted records; stepping a party until it settles; the
 * checks on what honest parties decide and apply (all fatal, abort = a
 * libFuzzer crash: every step returns a frame count or -EAGAIN and
 * settles; decisions come in instance order and agree at every honest
 * party; a command of an honest submitter is applied only with the bytes
 * it submitted under that ticket; each submitter's commands are applied by
 * the apply rule); encoding records from the Byzantine party under the
 * pair key with its own sequence numbers; the values seen on the network
 * and the value swaps.
 *
 * Must never: read the input (fuzz_engine.c reads the ops,
 * fuzz_engine_gen.c the specs), change a frame of an honest party (it is
 * delivered byte for byte, or dropped), or keep anything from one input
 * to the next that fz_reset (fuzz_engine.c) does not clear, other than
 * engine storage and the step buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_engine.h"

struct fz_world W;

static uint8_t fz_tx_mem[FZ_TX][FZ_FRAME];
static struct bpc_frame_out fz_tx[FZ_TX];
static struct bpc_decision fz_dec[FZ_DEC_CAP];

/* ------------------------------------------------------------------------
 * Checks on what honest parties decide and apply.
 * ---------------------------------------------------------------------- */

/* The apply rule: q directly follows hi, or opens a new incarnation. */
static bool
fz_seq_follows(uint64_t hi, uint64_t q)
{
    uint64_t low = q & ((UINT64_C(1) << FZ_SEQ_BITS) - 1u);
    return q == hi + 1 || ((q >> FZ_SEQ_BITS) > (hi >> FZ_SEQ_BITS) && low == 1);
}

/* on_apply: honest parties apply honest commands only as submitted, and
 * every submitter's commands by the apply rule. */
void
fz_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
            uint32_t len)
{
    (void)instance;
    struct fz_party *p = ctx;
    if (p->byz) {
        return;
    }
    FZ_CHECK(submitter < FZ_N);
    FZ_CHECK(fz_seq_follows(p->applied_hi[submitter], seq));
    p->applied_hi[submitter] = seq;
    if (submitter == W.byz) {
        return;
    }
    const struct fz_party *s = &W.p[submitter];
    const struct fz_sub *found = NULL;
    for (uint32_t k = 0; k < s->subs_count && found == NULL; k++) {
        if (s->subs[k].ticket == seq) {
            found = &s->subs[k];
        }
    }
    FZ_CHECK(found != NULL); /* an honest party's command it never submitted */
    FZ_CHECK(found->len == len && (len == 0 || memcmp(found->bytes, cmd, len) == 0));
}

/* A decision of party i: in instance order, and equal at every honest
 * party. */
static void
fz_decided(struct fz_party *p, const struct bpc_decision *d)
{
    if (p->byz) {
        return;
    }
    /* A restarted party re-emits from its floor: below next_dec it repeats. */
    FZ_CHECK(d->instance <= p->next_dec);
    if (d->instance == p->next_dec) {
        p->next_dec++;
    }
    if (d->instance >= FZ_TRACK) {
        return;
    }
    if (W.dec_gen[d->instance] != W.gen) {
        W.dec_gen[d->instance] = W.gen;
        W.dec_vid[d->instance] = d->vid;
        return;
    }
    FZ_CHECK(bpc_vid_eq(&W.dec_vid[d->instance], &d->vid)); /* agreement */
}

/* ------------------------------------------------------------------------
 * Engines and their persisted records.
 * ---------------------------------------------------------------------- */

/* Keeps the newest record per instance. */
static void
fz_persist(struct fz_party *p, const struct bpc_durable *recs, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        uint32_t j = 0;
        while (j < p->disk_count && p->disk[j].instance != recs[k].instance) {
            j++;
        }
        if (j == p->disk_count) {
            if (p->disk_count == p->disk_cap) {
                p->disk_cap = p->disk_cap ? p->disk_cap * 2 : 64;
                p->disk = realloc(p->disk, p->disk_cap * sizeof(*p->disk));
                FZ_CHECK(p->disk != NULL);
            }
            p->disk_count++;
        }
        p->disk[j] = recs[k];
    }
}

/* Engine storage, kept across inputs (bpc_engine_init takes storage of
 * any contents): one exactly sized block per party and set-up byte's
 * window and batch bits, so ASan still sees every overrun. */
static void *fz_mem[FZ_N][16];
static size_t fz_mem_len[FZ_N][16];

/* Builds party i's engine (from its disk when restore is set). */
void
fz_engine_up(uint32_t i, bool restore)
{
    struct fz_party *p = &W.p[i];
    uint32_t v = W.mem_variant;
    if (fz_mem[i][v] == NULL) {
        fz_mem_len[i][v] = (bpc_engine_footprint(&p->cfg) + 63u) & ~(size_t)63u;
        fz_mem[i][v] = aligned_alloc(64, fz_mem_len[i][v]);
        FZ_CHECK(fz_mem[i][v] != NULL);
    }
    char err[256];
    int rc = bpc_engine_init(&p->e, fz_mem[i][v], fz_mem_len[i][v], &p->cfg, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "fuzz_engine: engine %u: %s\n", i, err);
    }
    FZ_CHECK(rc == 0);
    if (restore) {
        FZ_CHECK(bpc_engine_restore(p->e, p->disk, p->disk_count) == 0);
        /* The engine resumes at its floor with the apply state saved there. */
        memset(p->applied_hi, 0, sizeof(p->applied_hi));
        uint64_t floor = 0;
        for (uint32_t k = 0; k < p->disk_count; k++) {
            const struct bpc_durable *d = &p->disk[k];
            floor = d->floor > floor ? d->floor : floor;
            if (d->instance >= BPC_DURABLE_APPLIED_BASE && d->instance != UINT64_MAX &&
                d->instance - BPC_DURABLE_APPLIED_BASE < FZ_N) {
                uint32_t s = (uint32_t)(d->instance - BPC_DURABLE_APPLIED_BASE);
                if (d->applied_seq > p->applied_hi[s]) {
                    p->applied_hi[s] = d->applied_seq;
                }
            }
        }
        FZ_CHECK(floor <= p->next_dec);
        p->next_dec = floor;
    }
    FZ_CHECK(bpc_engine_start(p->e, W.now) == 0);
    fz_step(i, NULL, 0);
}

/* ------------------------------------------------------------------------
 * Network.
 * ---------------------------------------------------------------------- */

/* Queues one frame an engine wrote; lost when the queue is full. */
static void
fz_enqueue(uint32_t from, const struct bpc_frame_out *f)
{
    FZ_CHECK(f->peer < FZ_N && f->peer != from);
    FZ_CHECK(f->len >= BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES && f->len <= FZ_FRAME);
    if (W.q_free_count == 0) {
        return;
    }
    uint32_t slot = W.q_free[--W.q_free_count];
    struct fz_qframe *q = &W.q[slot];
    q->from = from;
    q->to = f->peer;
    q->len = f->len;
    memcpy(q->bytes, f->bytes, f->len);
    W.q_order[W.q_count++] = slot;
}

/* Steps party i with the given frames, then until it settles (persisting
 * what it asks to, taking every frame and decision out). */
void
fz_step(uint32_t i, const struct bpc_frame_in *in, uint32_t count)
{
    struct fz_party *p = &W.p[i];
    struct bpc_step_in si = {.now_ns = W.now, .frames = in, .frames_count = count};
    for (uint32_t round = 0; round < 256; round++) {
        for (uint32_t k = 0; k < FZ_TX; k++) {
            fz_tx[k].bytes = fz_tx_mem[k];
            fz_tx[k].cap = FZ_FRAME;
        }
        struct bpc_step_out so = {
            .frames = fz_tx, .frames_cap = FZ_TX, .decisions = fz_dec, .decisions_cap = FZ_DEC_CAP};
        int rc = bpc_engine_step(p->e, &si, &so);
        FZ_CHECK(rc == (int)so.frames_count || rc == -EAGAIN);
        FZ_CHECK(so.frames_count <= FZ_TX && so.decisions_count <= FZ_DEC_CAP);
        for (uint32_t k = 0; k < so.frames_count; k++) {
            fz_enqueue(i, &fz_tx[k]);
        }
        for (uint32_t k = 0; k < so.decisions_count; k++) {
            fz_decided(p, &fz_dec[k]);
        }
        si.frames_count = 0;
        if (so.persist_count > 0) {
            fz_persist(p, so.persist, so.persist_count);
            bpc_engine_persisted(p->e);
            continue;
        }
        if (rc != -EAGAIN && so.decisions_count < FZ_DEC_CAP) {
            return;
        }
    }
    FZ_FAIL("a step did not settle in 256 rounds");
}

/* Remembers the values (batches) a frame's records name, for forged
 * records and value swaps. */
static void
fz_pool_note(const uint8_t *bytes, uint32_t len)
{
    static struct bpc_record recs[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(bytes, len, &h) != 0) {
        return;
    }
    int n = bpc_wire_decode(bytes, len, &h, recs, BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES);
    for (int k = 0; k < n; k++) {
        const struct bpc_record *r = &recs[k];
        if (r->type == BPC_MSG_ATTEST || r->type == BPC_MSG_FORWARD || /* commands */
            r->value.kind == BPC_VALUE_NONE || r->value.kind == BPC_VALUE_NOOP ||
            r->value.len > FZ_VALUE_MAX) {
            continue;
        }
        uint32_t j = 0;
        while (j < W.pool_count && !bpc_vid_eq(&W.pool[j].vid, &r->value)) {
            j++;
        }
        if (j == W.pool_count) {
            j = W.pool_count < FZ_POOL ? W.pool_count++ : W.pool_next++ % FZ_POOL;
            W.pool[j].vid = r->value;
            W.pool[j].has_bytes = false;
        }
        if (r->value_bytes != NULL && !W.pool[j].has_bytes) {
            memcpy(W.pool[j].bytes, r->value_bytes, r->value.len);
            W.pool[j].has_bytes = true;
        }
    }
}

/* Encodes records from the Byzantine party to `to` under their pair key;
 * returns the length, or 0 when the frame would not decode (then it is not
 * sent: forged frames are meant to reach the record handlers). */
uint32_t
fz_encode(uint8_t *buf, uint32_t to, struct fz_rec *recs, uint32_t n)
{
    static struct bpc_record check[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    const uint8_t *key = W.p[W.byz].keys[to];
    struct bpc_wire_writer w;
    uint32_t value_cap =
        BPC_FRAME_BYTES_MAX - BPC_WIRE_HEADER_BYTES - BPC_TAG_BYTES - BPC_WIRE_RECORD_BYTES * n;
    FZ_CHECK(bpc_wire_begin(&w, buf, BPC_FRAME_BYTES_MAX, value_cap) == 0);
    for (uint32_t k = 0; k < n; k++) {
        struct bpc_record *r = &recs[k].r;
        if (recs[k].attest) {
            /* A correct MAC for this receiver, over the command's bytes:
             * an ATTEST's length is its aux, a FORWARD's its value's. */
            uint32_t len = r->type == BPC_MSG_FORWARD ? r->value.len : (uint32_t)r->aux;
            bpc_command_mac(key, r->instance, recs[k].bytes, len, r->value.id);
        }
        if (bpc_wire_put(&w, r) != 0) {
            return 0;
        }
    }
    struct bpc_frame_header h = {.cluster_id = W.p[0].cfg.cluster_id,
                                 .sender = (uint16_t)W.byz,
                                 .receiver = (uint16_t)to,
                                 .seq = ++W.byz_seq[to]};
    uint32_t len = bpc_wire_finish(&w, &h, key);
    struct bpc_frame_header h2;
    if (bpc_wire_parse_header(buf, len, &h2) != 0 ||
        bpc_wire_decode(buf, len, &h2, check, BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES) !=
            (int)n) {
        return 0;
    }
    return len;
}

/* The replacement for value `from` in FZ_BYZ_VALUES mode: chosen once
 * (NOOP when arg & 16, else the first pool entry from arg on that differs),
 * then the same for every record naming `from`, so a 2a, its 2av and its
 * 2b tell one consistent lie. NULL when there is none. */
static const struct fz_swap *
fz_swap_for(const struct bpc_vid *from, uint32_t arg)
{
    for (uint32_t k = 0; k < W.swap_count && k < FZ_SWAPS; k++) {
        if (bpc_vid_eq(&W.swap[k].from, from)) {
            return &W.swap[k];
        }
    }
    struct fz_swap *sw = &W.swap[W.swap_count++ % FZ_SWAPS];
    memset(&sw->to, 0, sizeof(sw->to));
    sw->from = *from;
    sw->to.kind = BPC_VALUE_NOOP;
    sw->has_bytes = false;
    for (uint32_t k = 0; !(arg & 16u) && k < W.pool_count; k++) {
        const struct fz_pooled *pv = &W.pool[(arg + k) % W.pool_count];
        if (!bpc_vid_eq(&pv->vid, from)) {
            sw->to = pv->vid;
            sw->has_bytes = pv->has_bytes;
            memcpy(sw->bytes, pv->bytes, sizeof(sw->bytes));
            break;
        }
    }
    return bpc_vid_eq(&sw->to, from) ? NULL : sw;
}

/* Replaces a record's value as FZ_BYZ_VALUES says (if its type can take
 * the replacement). */
static void
fz_swap_value(struct fz_rec *fr, uint32_t arg)
{
    struct bpc_record *r = &fr->r;
    if (r->value.kind == BPC_VALUE_NONE || r->type == BPC_MSG_ATTEST ||
        r->type == BPC_MSG_FORWARD) {
        return;
    }
    const struct fz_swap *sw = fz_swap_for(&r->value, arg);
    if (sw == NULL) {
        return;
    }
    bool carried = r->type == BPC_MSG_2A || r->type == BPC_MSG_DECIDED || r->type == BPC_MSG_VALUE;
    if ((carried && sw->to.kind == BPC_VALUE_DIGEST && !sw->has_bytes) ||
        (r->type == BPC_MSG_VALUE && sw->to.kind != BPC_VALUE_DIGEST)) {
        return;
    }
    r->value = sw->to;
    r->value_bytes = NULL;
    if (carried && sw->to.kind == BPC_VALUE_DIGEST) {
        memcpy(fr->bytes, sw->bytes, sw->to.len);
        r->value_bytes = fr->bytes;
    }
}

/* Sends a frame of the Byzantine party's own engine to `to`, re-encoded
 * with a fresh sequence number and changed as the current mode says. */
static void
fz_deliver_byz(const struct fz_qframe *q)
{
    static struct bpc_record recs[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    static struct fz_rec out[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint32_t mode = W.byz_mode;
    uint32_t arg = W.byz_arg;
    if (mode == FZ_BYZ_SILENT || (mode == FZ_BYZ_SPLIT && q->to == (arg & 3u))) {
        return;
    }
    if (mode == FZ_BYZ_EQUIVOCATE) {
        mode = q->to == (arg & 3u) ? FZ_BYZ_VALUES : FZ_BYZ_PASS;
    }
    struct bpc_frame_header h;
    FZ_CHECK(bpc_wire_parse_header(q->bytes, q->len, &h) == 0);
    int n =
        bpc_wire_decode(q->bytes, q->len, &h, recs, BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES);
    FZ_CHECK(n >= 0 && n <= (int)(FZ_FRAME / BPC_WIRE_RECORD_BYTES)); /* an engine wrote it */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < n; k++) {
            struct fz_rec *fr = &out[k];
            fr->r = recs[k];
            fr->attest = false;
            if (fr->r.value_bytes != NULL) {
                memcpy(fr->bytes, fr->r.value_bytes, fr->r.value.len);
                fr->r.value_bytes = fr->bytes;
            }
            if (pass == 1) {
                continue; /* the changed frame did not decode: send it as written */
            }
            struct bpc_record *r = &fr->r;
            if (mode == FZ_BYZ_VALUES) {
                fz_swap_value(fr, arg);
            } else if (mode == FZ_BYZ_BALLOTS && r->type != BPC_MSG_STATUS &&
                       r->type != BPC_MSG_FORWARD && r->type != BPC_MSG_ATTEST) {
                uint64_t up = 1 + (arg & 7u);
                r->ballot = r->ballot + up > BPC_BALLOT_MAX ? BPC_BALLOT_MAX : r->ballot + up;
            } else if (mode == FZ_BYZ_INSTANCES && r->type != BPC_MSG_FORWARD &&
                       r->type != BPC_MSG_ATTEST) {
                r->instance += (uint64_t)(arg & 15u) - 4u; /* wraps on purpose */
            }
        }
        uint32_t len = fz_encode(buf, q->to, out, (uint32_t)n);
        if (len > 0) {
            fz_pool_note(buf, len);
            fz_deliver_bytes(q->to, buf, len);
            return;
        }
    }
    FZ_FAIL("an engine's own frame did not re-encode");
}

/* Takes queued frame k out of the queue and delivers it. */
void
fz_deliver_at(uint32_t k)
{
    uint32_t slot = W.q_order[k];
    memmove(&W.q_order[k], &W.q_order[k + 1], (W.q_count - k - 1) * sizeof(W.q_order[0]));
    W.q_count--;
    W.q_free[W.q_free_count++] = slot;
    const struct fz_qframe *q = &W.q[slot];
    /* The slot is free again and the delivery below may queue new frames
     * into it, so the frame is copied out first. */
    static struct fz_qframe cur;
    cur.from = q->from;
    cur.to = q->to;
    cur.len = q->len;
    memcpy(cur.bytes, q->bytes, q->len);
    if (cur.from == W.byz) {
        fz_deliver_byz(&cur);
        return;
    }
    fz_pool_note(cur.bytes, cur.len);
    fz_deliver_bytes(cur.to, cur.bytes, cur.len);
}
