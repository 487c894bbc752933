/*
 * fuzz_engine.c - libFuzzer target that drives four running engines and
 * speaks, in crafted but well-formed and correctly tagged frames, for one
 * of them (the Byzantine party, weight 1 = F).
 *
 * Owns: one input = one script (fuzz_common.h): a cluster set-up, then ops
 * that deliver, drop, reorder and duplicate the engines' own frames, move
 * the clock, submit commands, crash and restart honest parties, change what
 * the Byzantine party's own engine sends, and forge frames from the
 * Byzantine party with record fields taken from the input, encoded with
 * bpc_wire_put/finish under the pair key so they reach the record handlers.
 * A bounded settle phase (delivery and clock) closes every run.
 *
 * Checks, all fatal (abort = a libFuzzer crash): no engine assertion or
 * sanitizer report; every step returns a frame count or -EAGAIN and
 * settles; honest parties decide instances in order and agree on every
 * decided value; an honest party applies a command of an honest submitter
 * only with the bytes that submitter submitted under that ticket, and
 * applies each submitter's commands by the apply rule (exactly once, in
 * sequence). The Byzantine party's decisions are not checked.
 *
 * Must never: carry state from one input to the next (engine storage is
 * kept, but bpc_engine_init starts it afresh for every input; everything
 * else is reset), or forge a frame from an honest party.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "fuzz_common.h"

#define FZ_N 4u
#define FZ_FRAME 1400u        /* cfg.frame_bytes: the largest frame an engine writes */
#define FZ_VALUE_MAX 512u     /* cfg.value_bytes_max */
#define FZ_CRAFT_MAX 640u     /* crafted values may exceed what engines accept */
#define FZ_Q_CAP 1024u        /* queued frames; more are lost */
#define FZ_TX 32u             /* tx buffers lent per step */
#define FZ_DEC_CAP 64u        /* decisions per step */
#define FZ_TRACK 4096u        /* instances whose decided value is checked */
#define FZ_SUBS_MAX 128u      /* submissions remembered per party */
#define FZ_POOL 16u           /* values seen on the network */
#define FZ_SWAPS 8u           /* value replacements remembered (FZ_BYZ_VALUES) */
#define FZ_RECS_MAX 24u       /* records per forged frame (with history) */
#define FZ_OPS_MAX 512u       /* ops read per input */
#define FZ_DELIVER_MAX 20000u /* frames delivered per input */
#define FZ_ALL_MAX 512u       /* frames one DELIVER_ALL delivers */
#define FZ_RESTARTS_MAX 4u
#define FZ_SETTLE_ROUNDS 16u
#define FZ_MS UINT64_C(1000000)
#define FZ_SEQ_BITS 40u

/* A broken check aborts, which libFuzzer reports as a crash. */
#define FZ_CHECK(x)                                                                                \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_engine: check failed: %s (line %d)\n", #x, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A harness invariant broken: aborts with the reason. */
#define FZ_FAIL(why)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "fuzz_engine: %s (line %d)\n", why, __LINE__);                             \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t fz_tick_ns[8] = {1 * FZ_MS,   5 * FZ_MS,   20 * FZ_MS,   50 * FZ_MS,
                                       100 * FZ_MS, 300 * FZ_MS, 1000 * FZ_MS, 3000 * FZ_MS};
static const uint32_t fz_len_table[8] = {0, 1, 8, 16, 24, 40, 100, 200};

/* Input cursor: reads zeros once the input is used up. */
struct fz_in {
    const uint8_t *p;
    size_t left;
};

struct fz_sub {
    uint64_t ticket;
    uint32_t len;
    uint8_t bytes[256];
};

struct fz_party {
    struct bpc_engine *e;
    struct bpc_config cfg;
    uint8_t keys[FZ_N][BPC_KEY_BYTES];
    bool byz;
    uint64_t next_dec;         /* next instance a decision must name */
    uint64_t applied_hi[FZ_N]; /* per submitter: last applied sequence number */
    struct bpc_durable *disk;  /* newest persisted record per instance */
    uint32_t disk_count;
    uint32_t disk_cap;
    struct fz_sub subs[FZ_SUBS_MAX];
    uint32_t subs_count;
};

struct fz_qframe {
    uint32_t from;
    uint32_t to;
    uint32_t len;
    uint8_t bytes[FZ_FRAME];
};

struct fz_pooled {
    struct bpc_vid vid;
    bool has_bytes;
    uint8_t bytes[FZ_VALUE_MAX];
};

/* A value the Byzantine party's engine names, and what it says instead. */
struct fz_swap {
    struct bpc_vid from;
    struct bpc_vid to;
    bool has_bytes;
    uint8_t bytes[FZ_VALUE_MAX];
};

/* The Byzantine party's crafted commands. */
struct fz_cmdstate {
    uint64_t hi; /* highest sequence number used */
    uint64_t last_seq;
    uint32_t last_len;
    uint8_t last[256];
};

/* A record under construction, with storage for its carried bytes. */
struct fz_rec {
    struct bpc_record r;
    uint8_t bytes[FZ_CRAFT_MAX];
    bool attest; /* value is the MAC of `bytes` (an ATTEST: aux bytes; a FORWARD: value.len),
                    made per receiver */
};

struct fz_world {
    struct fz_party p[FZ_N];
    uint32_t byz;
    uint32_t window;
    uint32_t mem_variant; /* window and batch bits of the set-up byte */
    bool paced;
    uint8_t digest[BPC_DIGEST_BYTES];
    uint8_t master[BPC_KEY_BYTES];
    uint64_t now;
    /* Network: a FIFO of the engines' frames (slots indexed by order). */
    uint32_t q_order[FZ_Q_CAP];
    uint32_t q_free[FZ_Q_CAP];
    uint32_t q_count;
    uint32_t q_free_count;
    struct fz_qframe q[FZ_Q_CAP];
    uint64_t byz_seq[FZ_N]; /* sequence numbers of the Byzantine party's frames */
    uint32_t byz_mode;
    uint32_t byz_arg;
    uint8_t last[BPC_FRAME_BYTES_MAX]; /* the last frame delivered, for DUP */
    uint32_t last_len;
    uint32_t last_to;
    uint32_t delivered;
    uint32_t restarts;
    /* Agreement: the first honest decision per instance (gen-stamped). */
    uint32_t gen;
    uint32_t dec_gen[FZ_TRACK];
    struct bpc_vid dec_vid[FZ_TRACK];
    struct fz_pooled pool[FZ_POOL];
    uint32_t pool_count;
    uint32_t pool_next;
    struct fz_cmdstate cmd;
    struct fz_swap swap[FZ_SWAPS];
    uint32_t swap_count;
};

static struct fz_world W;
static uint8_t fz_tx_mem[FZ_TX][FZ_FRAME];
static struct bpc_frame_out fz_tx[FZ_TX];
static struct bpc_decision fz_dec[FZ_DEC_CAP];

/* ------------------------------------------------------------------------
 * Input.
 * ---------------------------------------------------------------------- */

/* Next input byte, 0 when used up. */
static uint8_t
fz_u8(struct fz_in *in)
{
    if (in->left == 0) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

/* Next 8 input bytes, little-endian. */
static uint64_t
fz_u64(struct fz_in *in)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) {
        v |= (uint64_t)fz_u8(in) << (8 * k);
    }
    return v;
}

/* Fills n bytes with a pattern named by one byte. */
static void
fz_fill(uint8_t *dst, uint32_t n, uint8_t fill)
{
    for (uint32_t k = 0; k < n; k++) {
        dst[k] = (uint8_t)(fill * 37u + k * 11u);
    }
}

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
static void
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
 * Durability and restarts.
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

static void fz_step(uint32_t i, const struct bpc_frame_in *in, uint32_t count);

/* Engine storage, kept across inputs (bpc_engine_init takes storage of
 * any contents): one exactly sized block per party and set-up byte's
 * window and batch bits, so ASan still sees every overrun. */
static void *fz_mem[FZ_N][16];
static size_t fz_mem_len[FZ_N][16];

/* Builds party i's engine (from its disk when restore is set). */
static void
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

/* Crash (volatile state lost) and restart from the persisted records. */
static void
fz_restart(uint32_t i)
{
    W.p[i].e = NULL; /* its storage is simply initialised again */
    fz_engine_up(i, true);
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
static void
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

/* Delivers one frame to party `to` (and remembers it for DUP). */
static void
fz_deliver_bytes(uint32_t to, const uint8_t *bytes, uint32_t len)
{
    W.delivered++;
    if (bytes != W.last) {
        memcpy(W.last, bytes, len);
        W.last_len = len;
        W.last_to = to;
    }
    struct bpc_frame_in in = {.bytes = bytes, .len = len};
    fz_step(to, &in, 1);
}

/* Encodes records from the Byzantine party to `to` under their pair key;
 * returns the length, or 0 when the frame would not decode (then it is not
 * sent: forged frames are meant to reach the record handlers). */
static uint32_t
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
static void
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

/* Delivers up to max frames, oldest first. */
static void
fz_deliver(uint32_t max)
{
    for (uint32_t k = 0; k < max && W.q_count > 0 && W.delivered < FZ_DELIVER_MAX; k++) {
        fz_deliver_at(0);
    }
}

/* Advances the clock and steps every party. */
static void
fz_tick(uint64_t ns)
{
    W.now += ns;
    for (uint32_t i = 0; i < FZ_N; i++) {
        fz_step(i, NULL, 0);
    }
}

/* ------------------------------------------------------------------------
 * Forged records.
 * ---------------------------------------------------------------------- */

/* The i-th honest party (i < 3). */
static uint32_t
fz_honest(uint32_t i)
{
    return (W.byz + 1 + i) % FZ_N;
}

/* Reads a Byzantine command spec: sequence number and bytes. */
static void
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
static void
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

/* Next undecided instance and ballot of party `to`, as selectors see it. */
static uint64_t
fz_instance(struct fz_in *in, uint32_t to, uint64_t prev)
{
    uint8_t s = fz_u8(in);
    uint64_t d = s >> 3;
    uint64_t nu = bpc_engine_next_undecided(W.p[to].e);
    switch (s & 7u) {
    case FZ_INST_ABS:
        return d;
    case FZ_INST_REUSE:
        return nu + W.window + d - 8 < nu ? 0 : nu + W.window + d - 8;
    case FZ_INST_TOP:
        return UINT64_MAX - d;
    case FZ_INST_RAW:
        return fz_u64(in);
    case FZ_INST_PREV:
        return prev;
    default:
        return nu + d < 4 ? 0 : nu + d - 4;
    }
}

/* First ballot at or above b that the Byzantine party leads. */
static uint64_t
fz_byz_ballot(uint64_t b)
{
    for (uint64_t k = 0; k < 64 && b + k <= BPC_BALLOT_MAX; k++) {
        if (bpc_elect_leader(&W.p[0].cfg, W.digest, b + k) == (int)W.byz) {
            return b + k;
        }
    }
    return b;
}

/* Reads a ballot selector; the result lies in [0, BPC_BALLOT_MAX]. */
static uint64_t
fz_ballot(struct fz_in *in, uint32_t to, uint64_t prev)
{
    uint8_t s = fz_u8(in);
    uint64_t d = s >> 3;
    uint64_t bal = bpc_engine_ballot(W.p[to].e);
    uint64_t b;
    switch (s & 7u) {
    case FZ_BAL_OWN:
        b = fz_byz_ballot(bal + (d & 3u) < 1 ? 1 : bal + (d & 3u));
        break;
    case FZ_BAL_ABS:
        b = d;
        break;
    case FZ_BAL_TOP:
        b = BPC_BALLOT_MAX - (d & 3u);
        break;
    case FZ_BAL_RAW:
        b = fz_u64(in);
        break;
    case FZ_BAL_PREV:
        b = prev;
        break;
    case FZ_BAL_CUR:
        b = bal;
        break;
    default:
        b = bal + (d & 7u) < 2 ? 1 : bal + (d & 7u) - 2;
        break;
    }
    return b > BPC_BALLOT_MAX ? BPC_BALLOT_MAX : b;
}

/* A 1B's own fields: maxVBal (aux) below its ballot as the aux byte says,
 * and a value iff there is a vote; 1b reports carry no bytes. */
static void
fz_rec_1b(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev, uint8_t a,
          uint64_t aux_raw)
{
    struct bpc_record *r = &fr->r;
    uint64_t vb = (a & 3u) == 0 ? 0 : (a & 3u) == 1 ? r->ballot - 1 : aux_raw % r->ballot;
    fz_value(in, fr, prev);
    r->aux = vb;
    if (vb == 0) {
        memset(&r->value, 0, sizeof(r->value));
        r->value_bytes = NULL;
    }
    r->value_bytes = NULL; /* 1b reports carry no bytes */
}

/* Appends the history of the 1B fr into recs[*n...]: a >> 5 entries (at
 * most BPC_HISTORY_MAX), each an aux byte and a value spec; under ballot 2
 * the specs are read and dropped. */
static void
fz_rec_history(struct fz_in *in, struct fz_rec *recs, uint32_t *n, struct fz_rec *fr,
               const struct fz_rec *prev, uint8_t a)
{
    struct bpc_record *r = &fr->r;
    uint32_t hist = a >> 5;
    hist = hist > BPC_HISTORY_MAX ? BPC_HISTORY_MAX : hist;
    for (uint32_t k = 0; k < hist; k++) {
        uint8_t ha = fz_u8(in);
        struct fz_rec *hr = &recs[*n];
        memset(&hr->r, 0, sizeof(hr->r));
        hr->attest = false;
        fz_value(in, hr, prev);
        hr->r.value_bytes = NULL;
        if (r->ballot < 2) {
            continue; /* a history entry names a ballot below this one */
        }
        hr->r.type = BPC_MSG_1B_HIST;
        hr->r.instance = r->instance;
        hr->r.ballot = r->ballot;
        hr->r.aux = 1 + ha % (r->ballot - 1);
        r->hist_count++;
        (*n)++;
    }
}

/* A FORWARD's value: the command's bytes (len of them in fr->bytes); when
 * they make a DIGEST, the carried bytes name their MAC for the receiver
 * (set at encoding), or 16 bytes of pattern: a wrong MAC. */
static void
fz_rec_forward(struct fz_rec *fr, uint32_t len, uint8_t a)
{
    struct bpc_record *r = &fr->r;
    bpc_vid_of(&r->value, fr->bytes, len);
    if (r->value.kind == BPC_VALUE_DIGEST) {
        memset(r->value.id, 0, sizeof(r->value.id));
        r->value_bytes = fr->bytes;
        fr->attest = !(a & 0x40u);
        if (!fr->attest) {
            fz_fill(r->value.id, BPC_CMD_MAC_BYTES, a);
        }
    }
}

/* An ATTEST's value: the MAC of the command's len bytes (made per
 * receiver) or 16 bytes of pattern, perhaps a second MAC after it; aux is
 * the length the MAC covers. */
static void
fz_rec_attest(struct fz_rec *fr, uint32_t len, uint8_t a, uint64_t aux_raw)
{
    struct bpc_record *r = &fr->r;
    r->value.kind = BPC_VALUE_INLINE;
    r->value.len = BPC_CMD_MAC_BYTES;
    r->aux = (a & 0x80u) ? (aux_raw % (BPC_VALUE_BYTES_MAX + 1u)) : len;
    fr->attest = !(a & 0x40u); /* else 16 bytes of pattern: a wrong MAC */
    if (!fr->attest) {
        fz_fill(r->value.id, BPC_CMD_MAC_BYTES, a);
    } else if (r->aux > len) {
        r->aux = len; /* the MAC covers the command's real length */
    }
    if (a & 0x20u) {
        /* A pair: a second MAC, of pattern, for the next number. */
        r->value.len = 2 * BPC_CMD_MAC_BYTES;
        fz_fill(r->value.id + BPC_CMD_MAC_BYTES, BPC_CMD_MAC_BYTES, a ^ 0x5au);
    }
}

/* FORWARD and ATTEST: a Byzantine command spec, whose sequence number is
 * the instance unless bit 7 of the type byte keeps the selected one (a
 * mismatch). */
static void
fz_rec_command(struct fz_in *in, struct fz_rec *fr, uint8_t t, uint8_t a, uint64_t aux_raw)
{
    uint64_t seq;
    uint32_t len;
    fz_byz_cmd(in, &seq, fr->bytes, &len);
    if (!(t & 0x80u)) {
        fr->r.instance = seq; /* else the selected instance: a mismatch */
    }
    if (fr->r.type == BPC_MSG_FORWARD) {
        fz_rec_forward(fr, len, a);
    } else {
        fz_rec_attest(fr, len, a, aux_raw);
    }
}

/* REFUSE: a refusal of some submitter's command: the receiver's own
 * proposal's (where the selected instance holds one) or any. */
static void
fz_rec_refuse(struct fz_in *in, struct fz_rec *fr, uint8_t t, uint8_t a, uint64_t aux_raw)
{
    struct bpc_record *r = &fr->r;
    uint64_t seq;
    uint32_t len;
    fz_byz_cmd(in, &seq, fr->bytes, &len);
    memset(&r->value, 0, sizeof(r->value));
    r->value.kind = BPC_VALUE_INLINE;
    r->value.len = sizeof(uint64_t);
    uint64_t q = (t & 0x80u) ? aux_raw : seq;
    q = q != 0 ? q : 1;
    for (uint32_t k = 0; k < 8; k++) {
        r->value.id[k] = (uint8_t)(q >> (8 * k));
    }
    r->aux = (a & 0x40u) ? aux_raw % (BPC_PARTIES_MAX + 1u) : a % FZ_N;
}

/* VALUE: the bytes of a DIGEST value, carried (any other kind is
 * malformed, so it becomes 40 bytes of pattern). */
static void
fz_rec_value(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev, uint8_t t)
{
    struct bpc_record *r = &fr->r;
    fz_value(in, fr, prev);
    if (r->value.kind != BPC_VALUE_DIGEST || r->value_bytes == NULL) {
        fz_fill(fr->bytes, 40, t);
        bpc_vid_of(&r->value, fr->bytes, 40);
        r->value_bytes = fr->bytes;
    }
}

/* VOTES: a run of k votes: the digest over k copies of one value (it
 * verifies where the receiver holds that value at each instance), or
 * pattern bytes (it never does). */
static void
fz_rec_votes(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev, uint8_t t, uint8_t a)
{
    struct bpc_record *r = &fr->r;
    fz_value(in, fr, prev);
    struct bpc_vid vids[BPC_VOTES_RUN_MAX];
    uint8_t vt = (a & 1u) ? BPC_MSG_2B : BPC_MSG_2AV;
    uint32_t k = 2u + (uint32_t)((a >> 1) % (BPC_VOTES_RUN_MAX - 1u));
    for (uint32_t j = 0; j < k; j++) {
        vids[j] = r->value;
    }
    if (r->instance > UINT64_MAX - k) {
        r->instance = UINT64_MAX - k;
    }
    memset(&r->value, 0, sizeof(r->value));
    r->value.kind = BPC_VALUE_DIGEST;
    r->value.len = (uint16_t)(BPC_VOTES_VID_BYTES * k);
    if (t & 0x80u) {
        fz_fill(r->value.id, BPC_DIGEST_BYTES, t);
    } else {
        bpc_votes_digest(r->ballot, r->instance, k, vids, r->value.id);
    }
    r->aux = vt | (uint64_t)k << 8;
    r->value_bytes = NULL;
}

/* 2A, 2AV, 2B and DECIDED: a value spec; only 2A and DECIDED carry
 * bytes, and a DIGEST without them is a claim (DECIDED) or a no-op (2A). */
static void
fz_rec_vote(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev)
{
    struct bpc_record *r = &fr->r;
    fz_value(in, fr, prev);
    if (r->type != BPC_MSG_2A && r->type != BPC_MSG_DECIDED) {
        r->value_bytes = NULL;
    } else if (r->value.kind == BPC_VALUE_DIGEST && r->value_bytes == NULL) {
        if (r->type == BPC_MSG_DECIDED) {
            r->aux = BPC_WIRE_AUX_NO_BYTES; /* a claim may name it alone */
        } else {
            memset(&r->value, 0, sizeof(r->value)); /* no bytes to carry */
            r->value.kind = BPC_VALUE_NOOP;
        }
    }
}

/* Reads one record spec (and, for 1B, its history) into recs[*n...];
 * the record is made well-formed whatever the bytes say. */
static void
fz_record(struct fz_in *in, uint32_t to, struct fz_rec *recs, uint32_t *n)
{
    uint8_t t = fz_u8(in);
    uint8_t type = fz_rec_types[(t & 0x7fu) % FZ_REC_TYPES];
    uint64_t prev_i = *n > 0 ? recs[*n - 1].r.instance : bpc_engine_next_undecided(W.p[to].e);
    uint64_t prev_b = *n > 0 ? recs[*n - 1].r.ballot : bpc_engine_ballot(W.p[to].e);
    uint64_t inst = fz_instance(in, to, prev_i);
    uint64_t ballot = fz_ballot(in, to, prev_b);
    uint8_t a = fz_u8(in);
    uint64_t aux_raw = a == 0xff ? fz_u64(in) : a;
    if (ballot == 0 && type != BPC_MSG_STATUS) {
        ballot = 1;
    }
    const struct fz_rec *prev = *n > 0 ? &recs[*n - 1] : NULL;
    struct fz_rec *fr = &recs[(*n)++];
    memset(&fr->r, 0, sizeof(fr->r));
    fr->attest = false;
    struct bpc_record *r = &fr->r;
    r->type = type;
    r->instance = inst;
    r->ballot = ballot;
    switch (type) {
    case BPC_MSG_1B:
        fz_rec_1b(in, fr, prev, a, aux_raw);
        fz_rec_history(in, recs, n, fr, prev, a);
        return;
    case BPC_MSG_1B_RANGE:
        r->aux = (a & 0x80u) ? UINT64_MAX - (a & 7u) : aux_raw;
        return;
    case BPC_MSG_STATUS:
        r->aux = aux_raw;
        return;
    case BPC_MSG_1A:
        return;
    case BPC_MSG_FORWARD:
    case BPC_MSG_ATTEST:
        fz_rec_command(in, fr, t, a, aux_raw);
        return;
    case BPC_MSG_REFUSE:
        fz_rec_refuse(in, fr, t, a, aux_raw);
        return;
    case BPC_MSG_VALUE:
        fz_rec_value(in, fr, prev, t);
        return;
    case BPC_MSG_VOTES:
        fz_rec_votes(in, fr, prev, t, a);
        return;
    default: /* 2A, 2AV, 2B, DECIDED */
        fz_rec_vote(in, fr, prev);
        return;
    }
}

/* FORGE: builds the records once per receiver from the same bytes (so
 * instance and ballot selectors are relative to each receiver's state),
 * encodes them under the pair key and delivers them. */
static void
fz_forge(struct fz_in *in, uint32_t param)
{
    static struct fz_rec recs[FZ_RECS_MAX];
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint32_t target = param & 3u;
    uint32_t count = (param >> 2) + 1;
    struct fz_in start = *in;
    struct fz_cmdstate cmd0 = W.cmd;
    struct fz_in end = *in;
    for (uint32_t h = 0; h < 3; h++) {
        if (target != 3 && h != target) {
            continue;
        }
        uint32_t to = fz_honest(h);
        *in = start;
        W.cmd = cmd0;
        uint32_t n = 0;
        for (uint32_t k = 0; k < count; k++) {
            fz_record(in, to, recs, &n);
        }
        end = *in;
        uint32_t len = fz_encode(buf, to, recs, n);
        if (len > 0) {
            fz_deliver_bytes(to, buf, len);
        }
    }
    *in = end;
}

/* ------------------------------------------------------------------------
 * The script.
 * ---------------------------------------------------------------------- */

/* Reads byte 0 and builds the four engines. */
static void
fz_setup(uint8_t c)
{
    struct bpc_config base;
    bpc_config_defaults(&base);
    base.parties_count = FZ_N;
    for (uint32_t i = 0; i < FZ_N; i++) {
        base.weights[i] = 1;
    }
    base.cluster_id = FZ_CFG_CLUSTER(c);
    base.mode = FZ_CFG_PACED(c) ? BPC_MODE_PACED : BPC_MODE_FAST;
    base.window_slots = FZ_CFG_WINDOW(c);
    base.batch_max = FZ_CFG_BATCH(c);
    base.commands_max = 64;
    base.value_bytes_max = FZ_VALUE_MAX;
    base.frame_bytes = FZ_FRAME;
    W.byz = FZ_CFG_BYZ(c);
    W.window = base.window_slots;
    W.mem_variant = (c >> 2) & 15u;
    W.paced = FZ_CFG_PACED(c);
    bpc_config_digest(&base, W.digest);
    memset(W.master, 0x5a, sizeof(W.master));
    for (uint32_t i = 0; i < FZ_N; i++) {
        struct fz_party *p = &W.p[i];
        p->cfg = base;
        p->cfg.self = i;
        p->cfg.seed = 1000 + i;
        p->byz = i == W.byz;
        for (uint32_t j = 0; j < FZ_N; j++) {
            bpc_auth_pair_key(W.master, i, j, p->keys[j]);
        }
        p->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])p->keys;
        p->cfg.on_apply = fz_on_apply;
        p->cfg.apply_ctx = p;
    }
    for (uint32_t i = 0; i < FZ_N; i++) {
        fz_engine_up(i, false);
    }
}

/* Submits a command at party i (bytes remembered for the apply check). */
static void
fz_submit(uint32_t i, uint8_t b)
{
    struct fz_party *p = &W.p[i];
    if (p->subs_count == FZ_SUBS_MAX) {
        return;
    }
    struct fz_sub *s = &p->subs[p->subs_count];
    s->len = fz_len_table[b & 7u];
    fz_fill(s->bytes, s->len, (uint8_t)(b ^ (uint8_t)(i << 6) ^ (uint8_t)p->subs_count));
    if (bpc_submit(p->e, s->bytes, s->len, &s->ticket) == 0) {
        p->subs_count++;
        fz_step(i, NULL, 0);
    }
}

/* Runs one op; false when the input is used up. */
static bool
fz_op(struct fz_in *in)
{
    if (in->left == 0) {
        return false;
    }
    uint8_t b = fz_u8(in);
    uint32_t op = b & 15u;
    uint32_t param = b >> 4;
    switch (op) {
    case FZ_OP_DELIVER:
        fz_deliver(param + 1);
        break;
    case FZ_OP_DROP:
        for (uint32_t k = 0; k <= param && W.q_count > 0; k++) {
            W.q_free[W.q_free_count++] = W.q_order[0];
            memmove(&W.q_order[0], &W.q_order[1], (W.q_count - 1) * sizeof(W.q_order[0]));
            W.q_count--;
        }
        break;
    case FZ_OP_PICK: {
        uint8_t k = fz_u8(in);
        if (W.q_count > 0 && W.delivered < FZ_DELIVER_MAX) {
            fz_deliver_at(k % W.q_count);
        }
        break;
    }
    case FZ_OP_TICK:
        fz_tick(fz_tick_ns[param & 7u]);
        break;
    case FZ_OP_SUBMIT:
        fz_submit(param & 3u, fz_u8(in));
        break;
    case FZ_OP_FORGE:
        fz_forge(in, param);
        break;
    case FZ_OP_BYZ_MODE:
        W.byz_mode = param & 7u;
        W.byz_arg = fz_u8(in);
        break;
    case FZ_OP_DUP:
        if (W.last_len > 0 && W.delivered < FZ_DELIVER_MAX) {
            fz_deliver_bytes(W.last_to, W.last, W.last_len);
        }
        break;
    case FZ_OP_RESTART:
        if (W.restarts < FZ_RESTARTS_MAX) {
            W.restarts++;
            fz_restart(fz_honest(param % 3u));
        }
        break;
    default:
        fz_deliver(op <= 12 ? FZ_ALL_MAX : param + 1);
        break;
    }
    return true;
}

/* BPC_FUZZ_VERBOSE=1: one line per input and party (seed debugging). */
static void
fz_report(void)
{
    static int verbose = -1;
    if (verbose < 0) {
        const char *v = getenv("BPC_FUZZ_VERBOSE");
        verbose = v != NULL && v[0] == '1';
    }
    if (!verbose) {
        return;
    }
    for (uint32_t i = 0; i < FZ_N; i++) {
        const struct bpc_counters *c = bpc_engine_counters(W.p[i].e);
        uint64_t drops = 0;
        for (uint32_t k = 0; k < BPC_DROP_REASONS_COUNT; k++) {
            drops += c->drops[k];
        }
        fprintf(stderr,
                "fuzz_engine: p%u%s bal %llu nu %llu subs %u rx %llu drops %llu stale %llu "
                "ignored %llu equiv %llu unauth %llu conflicts %llu\n",
                i, W.p[i].byz ? "(byz)" : "", (unsigned long long)bpc_engine_ballot(W.p[i].e),
                (unsigned long long)bpc_engine_next_undecided(W.p[i].e), W.p[i].subs_count,
                (unsigned long long)c->records_rx, (unsigned long long)drops,
                (unsigned long long)c->records_stale, (unsigned long long)c->records_ignored,
                (unsigned long long)c->equivocations, (unsigned long long)c->cmd_unauthenticated,
                (unsigned long long)c->conflicts);
    }
}

/* Frees the disks; keeps engine storage and the big static buffers. */
static void
fz_teardown(void)
{
    for (uint32_t i = 0; i < FZ_N; i++) {
        free(W.p[i].disk); /* engine storage stays for the next input */
    }
}

/* Clears per-input state without touching the frame buffers. */
static void
fz_reset(void)
{
    for (uint32_t i = 0; i < FZ_N; i++) {
        struct fz_party *p = &W.p[i];
        p->e = NULL;
        p->next_dec = 0;
        memset(p->applied_hi, 0, sizeof(p->applied_hi));
        p->disk = NULL;
        p->disk_count = 0;
        p->disk_cap = 0;
        p->subs_count = 0;
    }
    W.now = 0;
    W.q_count = 0;
    W.q_free_count = FZ_Q_CAP;
    for (uint32_t k = 0; k < FZ_Q_CAP; k++) {
        W.q_free[k] = FZ_Q_CAP - 1 - k;
    }
    memset(W.byz_seq, 0, sizeof(W.byz_seq));
    W.byz_mode = FZ_BYZ_PASS;
    W.byz_arg = 0;
    W.last_len = 0;
    W.delivered = 0;
    W.restarts = 0;
    W.gen++;
    W.pool_count = 0;
    W.pool_next = 0;
    W.swap_count = 0;
    memset(&W.cmd, 0, sizeof(W.cmd));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        FZ_CHECK(bpc_init() == 0);
        ready = true;
    }
    if (size == 0) {
        return 0;
    }
    struct fz_in in = {.p = data, .left = size};
    fz_reset();
    fz_setup(fz_u8(&in));
    for (uint32_t k = 0; k < FZ_OPS_MAX && fz_op(&in); k++) {
    }
    /* Settle: the network delivers everything and the clock moves on, so
     * decisions in flight land and are checked. */
    uint64_t tick = W.paced ? 200 * FZ_MS : 20 * FZ_MS;
    for (uint32_t r = 0; r < FZ_SETTLE_ROUNDS; r++) {
        fz_deliver(FZ_ALL_MAX);
        fz_tick(tick);
    }
    fz_report();
    fz_teardown();
    return 0;
}
