/*
 * fuzz_engine.c - libFuzzer target that drives four running engines and
 * speaks, in crafted but well-formed and correctly tagged frames, for one
 * of them (the Byzantine party, weight 1 = F). Its files share
 * fuzz_engine.h: this one reads the script, fuzz_engine_world.c runs the
 * engines and the network and makes the checks, fuzz_engine_gen.c reads
 * value and command specs.
 *
 * Owns: the entry point; one input = one script (fuzz_common.h): a cluster
 * set-up, then ops that deliver, drop, reorder and duplicate the engines'
 * own frames, move the clock, submit commands, crash and restart honest
 * parties, change what the Byzantine party's own engine sends, and forge
 * frames from the Byzantine party with record fields taken from the input
 * (built here, made well-formed whatever the bytes say, then encoded with
 * bpc_wire_put/finish under the pair key so they reach the record
 * handlers). A bounded settle phase (delivery and clock) closes every run.
 *
 * Checks, all fatal (abort = a libFuzzer crash; fuzz_engine_world.c makes
 * them): no engine assertion or sanitizer report; every step returns a
 * frame count or -EAGAIN and settles; honest parties decide instances in
 * order and agree on every decided value; an honest party applies a
 * command of an honest submitter only with the bytes that submitter
 * submitted under that ticket, and applies each submitter's commands by
 * the apply rule (exactly once, in sequence). The Byzantine party's
 * decisions are not checked.
 *
 * Must never: carry state from one input to the next (engine storage is
 * kept, but bpc_engine_init starts it afresh for every input; everything
 * else is reset), or forge a frame from an honest party.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t fz_tick_ns[8] = {1 * FZ_MS,   5 * FZ_MS,   20 * FZ_MS,   50 * FZ_MS,
                                       100 * FZ_MS, 300 * FZ_MS, 1000 * FZ_MS, 3000 * FZ_MS};

/* ------------------------------------------------------------------------
 * Forged records.
 * ---------------------------------------------------------------------- */

/* The i-th honest party (i < 3). */
static uint32_t
fz_honest(uint32_t i)
{
    return (W.byz + 1 + i) % FZ_N;
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
 * The clock, delivery and restarts, as the ops drive them.
 * ---------------------------------------------------------------------- */

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

/* Crash (volatile state lost) and restart from the persisted records. */
static void
fz_restart(uint32_t i)
{
    W.p[i].e = NULL; /* its storage is simply initialised again */
    fz_engine_up(i, true);
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
