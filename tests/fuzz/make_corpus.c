/*
 * make_corpus.c - writes the seed corpora of the fuzz targets:
 * tests/fuzz/corpus/wire/ (valid frames of every record type, encoded with
 * bpc_wire_put/finish under the wire target's key) and
 * tests/fuzz/corpus/engine/ (engine scripts in the format of
 * fuzz_common.h). Usage: make_corpus CORPUS_DIR (the directory holding
 * wire/ and engine/, which must exist).
 *
 * Owns: the content of the committed seeds. Deterministic: the same
 * source writes the same bytes, so regenerating changes nothing unless a
 * seed here (or the wire format) changed. Must never: write outside the
 * directory it is given.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "fuzz_common.h"
#include "internal.h"

#define MC_BATCH_MAX 512u
/* The FORGE type byte of a record type. */
#define T(name) fz_type_byte(BPC_MSG_##name)

static const char *mc_dir;

/* Writes one seed file dir/sub/name. */
static void
mc_write(const char *sub, const char *name, const uint8_t *bytes, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", mc_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

/* ------------------------------------------------------------------------
 * Wire seeds.
 * ---------------------------------------------------------------------- */

struct mc_frame {
    struct bpc_wire_writer w;
    uint8_t buf[BPC_FRAME_BYTES_MAX];
};

/* A one-command batch value of len bytes (header, command header, fill). */
static uint32_t
mc_batch(uint8_t *out, uint32_t submitter, uint64_t seq, uint32_t len, uint8_t fill)
{
    memset(out, 0, BPC_BATCH_HEADER_BYTES);
    out[0] = 1;
    uint8_t *c = out + BPC_BATCH_HEADER_BYTES;
    c[0] = (uint8_t)submitter;
    c[1] = 0;
    c[2] = (uint8_t)len;
    c[3] = (uint8_t)(len >> 8);
    for (int k = 0; k < 8; k++) {
        c[4 + k] = (uint8_t)(seq >> (8 * k));
    }
    memset(c + BPC_BATCH_CMD_HEADER_BYTES, fill, len);
    return BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + len;
}

/* A record; bytes (may be NULL) become its value (inline or digest). */
static struct bpc_record
mc_rec(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux, const uint8_t *bytes,
       uint32_t len, uint8_t kind)
{
    struct bpc_record r = bpc_record_make(type, instance, ballot, aux, NULL);
    r.value.kind = kind;
    if (bytes != NULL) {
        if (type == BPC_MSG_FORWARD) {
            bpc_forward_value(fuzz_wire_key, instance, bytes, len, &r.value); /* MAC, not digest */
        } else {
            bpc_vid_of(&r.value, bytes, len);
        }
        bool carried =
            r.value.kind == BPC_VALUE_DIGEST && (type == BPC_MSG_2A || type == BPC_MSG_DECIDED ||
                                                 type == BPC_MSG_FORWARD || type == BPC_MSG_VALUE);
        r.value_bytes = carried ? bytes : NULL;
    }
    return r;
}

/* A VOTES run of k votes of `type` for k made-up inline values. */
static struct bpc_record
mc_votes(uint8_t type, uint64_t first, uint64_t ballot, uint32_t k)
{
    struct bpc_vid vids[BPC_VOTES_RUN_MAX];
    for (uint32_t j = 0; j < k; j++) {
        uint8_t v[4] = {'v', (uint8_t)j, (uint8_t)(j >> 8), 0};
        bpc_vid_of(&vids[j], v, sizeof(v));
    }
    struct bpc_vid d = {.kind = BPC_VALUE_DIGEST, .len = (uint16_t)(BPC_VOTES_VID_BYTES * k)};
    bpc_votes_digest(ballot, first, k, vids, d.id);
    return bpc_record_make(BPC_MSG_VOTES, first, ballot, type | (uint64_t)k << 8, &d);
}

static void
mc_begin(struct mc_frame *f)
{
    if (bpc_wire_begin(&f->w, f->buf, sizeof(f->buf), 4096) != 0) {
        exit(1);
    }
}

static void
mc_put(struct mc_frame *f, struct bpc_record r)
{
    if (bpc_wire_put(&f->w, &r) != 0) {
        fprintf(stderr, "make_corpus: record does not fit\n");
        exit(1);
    }
}

/* Finishes the frame, checks that it decodes, and writes it. */
static void
mc_finish(struct mc_frame *f, const char *name)
{
    struct bpc_frame_header h = {.cluster_id = 1, .sender = 1, .receiver = 2, .seq = 7};
    uint32_t len = bpc_wire_finish(&f->w, &h, fuzz_wire_key);
    static struct bpc_record recs[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    struct bpc_frame_header h2;
    if (bpc_wire_parse_header(f->buf, len, &h2) != 0 ||
        !bpc_wire_verify(f->buf, len, fuzz_wire_key) ||
        bpc_wire_decode(f->buf, len, &h2, recs, BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES) !=
            (int)f->w.record_count) {
        fprintf(stderr, "make_corpus: seed %s does not decode\n", name);
        exit(1);
    }
    mc_write("wire", name, f->buf, len);
}

/* One frame holding one record. */
static void
mc_one(const char *name, struct bpc_record r)
{
    static struct mc_frame f;
    mc_begin(&f);
    mc_put(&f, r);
    mc_finish(&f, name);
}

/* A 1B reporting a vote at ballot 4 of ballot 9 with `hist` history
 * entries (ballots 1..hist, alternating inline and digest values). */
static void
mc_1b(const char *name, uint32_t hist, const uint8_t *small, uint32_t small_len, const uint8_t *big,
      uint32_t big_len)
{
    static struct mc_frame f;
    mc_begin(&f);
    struct bpc_record r = mc_rec(BPC_MSG_1B, 3, 9, 4, small, small_len, BPC_VALUE_INLINE);
    r.hist_count = (uint8_t)hist;
    mc_put(&f, r);
    for (uint32_t k = 0; k < hist; k++) {
        bool digest = (k & 1u) != 0;
        mc_put(&f,
               mc_rec(BPC_MSG_1B_HIST, 3, 9, 1 + k, digest ? big : small,
                      digest ? big_len : small_len, digest ? BPC_VALUE_DIGEST : BPC_VALUE_INLINE));
    }
    mc_finish(&f, name);
}

/* 1B seeds: without a vote, with a NOOP, with 0..BPC_HISTORY_MAX history
 * entries, with a DIGEST history entry and a range, and with the VALUE
 * record of the DIGEST value it names. */
static void
mc_wire_1b(const uint8_t *small, uint32_t small_len, const uint8_t *big, uint32_t big_len)
{
    mc_one("1b_novote", mc_rec(BPC_MSG_1B, 3, 9, 0, NULL, 0, BPC_VALUE_NONE));
    mc_one("1b_noop", mc_rec(BPC_MSG_1B, 3, 9, 8, NULL, 0, BPC_VALUE_NOOP));
    static const char *const names[] = {"1b_h0", "1b_h1", "1b_h2", "1b_h3", "1b_h4"};
    for (uint32_t k = 0; k <= BPC_HISTORY_MAX; k++) {
        mc_1b(names[k], k, small, small_len, big, big_len);
    }
    {
        static struct mc_frame f;
        mc_begin(&f);
        struct bpc_record r = mc_rec(BPC_MSG_1B, 5, 7, 6, big, big_len, BPC_VALUE_DIGEST);
        r.hist_count = 1;
        mc_put(&f, r);
        mc_put(&f, mc_rec(BPC_MSG_1B_HIST, 5, 7, 6, big, big_len, BPC_VALUE_DIGEST));
        mc_put(&f, mc_rec(BPC_MSG_1B_RANGE, 6, 7, 0, NULL, 0, BPC_VALUE_NONE));
        mc_finish(&f, "1b_hist_digest");
    }
    /* A 1B naming a DIGEST value, followed by the VALUE record with its
     * bytes, as an engine reports. */
    {
        static struct mc_frame f;
        mc_begin(&f);
        mc_put(&f, mc_rec(BPC_MSG_1B, 5, 7, 6, big, big_len, BPC_VALUE_DIGEST));
        mc_put(&f, mc_rec(BPC_MSG_VALUE, 5, 7, 0, big, big_len, BPC_VALUE_DIGEST));
        mc_finish(&f, "1b_value");
    }
}

/* One-record seeds of VALUE, 1B_RANGE, the votes and decisions (inline,
 * DIGEST, NOOP, and a DECIDED claim without bytes) and STATUS. */
static void
mc_wire_votes(const uint8_t *small, uint32_t small_len, const uint8_t *big, uint32_t big_len)
{
    mc_one("value", mc_rec(BPC_MSG_VALUE, 2, 3, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_one("1b_range", mc_rec(BPC_MSG_1B_RANGE, 0, 3, 5, NULL, 0, BPC_VALUE_NONE));
    mc_one("2a_inline", mc_rec(BPC_MSG_2A, 1, 2, 0, small, small_len, BPC_VALUE_INLINE));
    mc_one("2a_digest", mc_rec(BPC_MSG_2A, 1, 2, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_one("2a_noop", mc_rec(BPC_MSG_2A, 1, 2, 0, NULL, 0, BPC_VALUE_NOOP));
    mc_one("2av_inline", mc_rec(BPC_MSG_2AV, 1, 2, 0, small, small_len, BPC_VALUE_INLINE));
    mc_one("2av_digest", mc_rec(BPC_MSG_2AV, 1, 2, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_one("2b", mc_rec(BPC_MSG_2B, 1, 2, 0, small, small_len, BPC_VALUE_INLINE));
    mc_one("2b_digest", mc_rec(BPC_MSG_2B, 1, 2, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_one("decided_inline", mc_rec(BPC_MSG_DECIDED, 1, 2, 0, small, small_len, BPC_VALUE_INLINE));
    mc_one("decided_digest", mc_rec(BPC_MSG_DECIDED, 1, 2, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_one("decided_noop", mc_rec(BPC_MSG_DECIDED, 1, 2, 0, NULL, 0, BPC_VALUE_NOOP));
    {
        /* A claim that names its DIGEST value without the bytes. */
        struct bpc_record d = mc_rec(BPC_MSG_DECIDED, 1, 2, 0, big, big_len, BPC_VALUE_DIGEST);
        d.aux = BPC_WIRE_AUX_NO_BYTES;
        d.value_bytes = NULL;
        mc_one("decided_digest_nobytes", d);
    }
    mc_one("status", mc_rec(BPC_MSG_STATUS, 4, 0, 16, NULL, 0, BPC_VALUE_NONE));
}

/* Seeds of a Byzantine submitter's records: FORWARD (inline and DIGEST),
 * ATTEST (one MAC and a pair) and REFUSE. */
static void
mc_wire_commands(const uint8_t *cmd)
{
    mc_one("forward_inline", mc_rec(BPC_MSG_FORWARD, 1, 2, 0, cmd, 16, BPC_VALUE_INLINE));
    mc_one("forward_digest", mc_rec(BPC_MSG_FORWARD, 2, 2, 0, cmd, 64, BPC_VALUE_DIGEST));
    {
        uint8_t key[BPC_KEY_BYTES];
        memcpy(key, fuzz_wire_key, sizeof(key));
        struct bpc_record a = mc_rec(BPC_MSG_ATTEST, 1, 2, 16, NULL, 0, BPC_VALUE_INLINE);
        a.value.len = BPC_CMD_MAC_BYTES;
        bpc_command_mac(key, 1, cmd, 16, a.value.id);
        mc_one("attest", a);
        a.value.len = 2 * BPC_CMD_MAC_BYTES;
        bpc_command_mac(key, 2, cmd + 16, 16, a.value.id + BPC_CMD_MAC_BYTES);
        mc_one("attest_pair", a);
    }
    {
        /* Party 2's command 7 in the 2a of instance 1 at ballot 2, refused. */
        struct bpc_record r = mc_rec(BPC_MSG_REFUSE, 1, 2, 2, NULL, 0, BPC_VALUE_INLINE);
        r.value.len = sizeof(uint64_t);
        r.value.id[0] = 7;
        mc_one("refuse", r);
    }
}

/* One of each type in one frame, with all three carried kinds, and a
 * second 2A pointing at the bytes the first carries. */
static void
mc_wire_mixed(struct bpc_record none, const uint8_t *small, uint32_t small_len, const uint8_t *big,
              uint32_t big_len, const uint8_t *cmd)
{
    static struct mc_frame f;
    mc_begin(&f);
    mc_put(&f, none);
    struct bpc_record b1 = mc_rec(BPC_MSG_1B, 3, 9, 4, small, small_len, BPC_VALUE_INLINE);
    b1.hist_count = 1;
    mc_put(&f, b1);
    mc_put(&f, mc_rec(BPC_MSG_1B_HIST, 3, 9, 2, big, big_len, BPC_VALUE_DIGEST));
    mc_put(&f, mc_rec(BPC_MSG_1B_RANGE, 4, 9, 0, NULL, 0, BPC_VALUE_NONE));
    mc_put(&f, mc_rec(BPC_MSG_2A, 4, 9, 0, big, big_len, BPC_VALUE_DIGEST));
    struct bpc_record again = mc_rec(BPC_MSG_2A, 5, 9, 0, big, big_len, BPC_VALUE_DIGEST);
    again.value_bytes = NULL;
    again.aux = 0; /* the bytes the first 2A carried */
    mc_put(&f, again);
    mc_put(&f, mc_rec(BPC_MSG_2AV, 4, 9, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_put(&f, mc_rec(BPC_MSG_2B, 4, 9, 0, small, small_len, BPC_VALUE_INLINE));
    mc_put(&f, mc_rec(BPC_MSG_DECIDED, 2, 8, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_put(&f, mc_rec(BPC_MSG_STATUS, 4, 9, 0, NULL, 0, BPC_VALUE_NONE));
    mc_put(&f, mc_rec(BPC_MSG_FORWARD, 3, 9, 0, cmd, 48, BPC_VALUE_DIGEST));
    struct bpc_record a = mc_rec(BPC_MSG_ATTEST, 3, 9, 48, NULL, 0, BPC_VALUE_INLINE);
    a.value.len = BPC_CMD_MAC_BYTES;
    bpc_command_mac(fuzz_wire_key, 3, cmd, 48, a.value.id);
    mc_put(&f, a);
    mc_put(&f, mc_rec(BPC_MSG_VALUE, 3, 9, 0, big, big_len, BPC_VALUE_DIGEST));
    mc_put(&f, mc_votes(BPC_MSG_2B, 4, 9, 2));
    struct bpc_record refuse = mc_rec(BPC_MSG_REFUSE, 4, 9, 1, NULL, 0, BPC_VALUE_INLINE);
    refuse.value.len = sizeof(uint64_t);
    refuse.value.id[0] = 3;
    mc_put(&f, refuse);
    mc_finish(&f, "mixed");
}

/* Every record type, alone and mixed. */
static void
mc_wire(void)
{
    static uint8_t small[64];
    static uint8_t big[MC_BATCH_MAX];
    static uint8_t cmd[64];
    uint32_t small_len = mc_batch(small, 2, 1, 8, 0x11);
    uint32_t big_len = mc_batch(big, 3, 2, 200, 0x22);
    memset(cmd, 0x33, sizeof(cmd));
    struct bpc_record none = mc_rec(BPC_MSG_1A, 0, 2, 0, NULL, 0, BPC_VALUE_NONE);

    mc_one("1a", none);
    mc_wire_1b(small, small_len, big, big_len);
    mc_wire_votes(small, small_len, big, big_len);
    mc_wire_commands(cmd);
    mc_wire_mixed(none, small, small_len, big, big_len, cmd);
    mc_one("votes_2av", mc_votes(BPC_MSG_2AV, 1, 2, 8));
    mc_one("votes_2b", mc_votes(BPC_MSG_2B, 1, 2, BPC_VOTES_RUN_MAX));
}

/* ------------------------------------------------------------------------
 * Engine seeds.
 * ---------------------------------------------------------------------- */

struct mc_script {
    uint8_t b[4096];
    size_t n;
};

/* Appends count bytes (int arguments) to a script. */
static void
mc_b(struct mc_script *s, int count, ...)
{
    va_list ap;
    va_start(ap, count);
    for (int k = 0; k < count; k++) {
        int v = va_arg(ap, int);
        if (s->n < sizeof(s->b)) {
            s->b[s->n++] = (uint8_t)v;
        }
    }
    va_end(ap);
}

/* Starts a script with its set-up byte. */
static void
mc_start(struct mc_script *s, uint8_t cfg)
{
    s->n = 0;
    mc_b(s, 1, cfg);
}

/* Commands at every honest party (and one at the Byzantine one). */
static void
mc_submits(struct mc_script *s, uint32_t byz)
{
    for (uint32_t p = 0; p < 4; p++) {
        mc_b(s, 2, FZ_OP(FZ_OP_SUBMIT, p), p == byz ? 0x23 : 0x13 + (int)p * 8);
        if (p != byz) {
            mc_b(s, 2, FZ_OP(FZ_OP_SUBMIT, p), 0x46);
        }
    }
}

/* rounds x (deliver everything, clock + 20 ms). */
static void
mc_run(struct mc_script *s, int rounds)
{
    for (int k = 0; k < rounds; k++) {
        mc_b(s, 2, FZ_OP(FZ_OP_DELIVER_ALL, 0), FZ_OP(FZ_OP_TICK, 2));
    }
}

static void
mc_save(struct mc_script *s, const char *name)
{
    mc_write("engine", name, s->b, s->n);
}

/* A batch value spec: the first submission of honest party h and a fresh
 * Byzantine command (byz), as in a Byzantine leader's 2a. */
static void
mc_val_batch(struct mc_script *s, uint32_t h, uint32_t byz)
{
    mc_b(s, 1, FZ_SEL(FZ_VAL_BATCH, 1));
    mc_b(s, 3, (int)h, 0, 0);                           /* honest, real bytes */
    mc_b(s, 3, (int)byz, FZ_SEQ_NEXT | (3 << 3), 0x5c); /* Byzantine, 16 bytes */
}

/* The FZ_CFG cluster field (0..3) under which party byz leads `ballot`
 * (0 when none does: the seed then still runs, with another leader). */
static uint32_t
mc_cluster(uint32_t byz, uint64_t ballot)
{
    for (uint32_t k = 0; k < 4; k++) {
        static struct bpc_config c;
        bpc_config_defaults(&c);
        c.parties_count = 4;
        for (uint32_t i = 0; i < 4; i++) {
            c.weights[i] = 1;
        }
        c.cluster_id = FZ_CFG_CLUSTER(FZ_CFG(0, 0, 0, 0, k));
        uint8_t digest[BPC_DIGEST_BYTES];
        bpc_config_digest(&c, digest);
        if (bpc_elect_leader(&c, digest, ballot) == (int)byz) {
            return k;
        }
    }
    return 0;
}

/* Honest runs under several set-ups. */
static void
mc_engine_honest(struct mc_script *s)
{
    static const uint8_t cfgs[] = {
        FZ_CFG(0, 1, 0, 0, 0), FZ_CFG(1, 0, 1, 1, 1), FZ_CFG(2, 0, 0, 1, 2),
        FZ_CFG(3, 3, 0, 0, 3), FZ_CFG(1, 2, 0, 1, 0), FZ_CFG(2, 1, 1, 0, 3),
    };
    static const char *const honest[] = {"honest_b0",     "honest_b1_paced", "honest_b2_w4",
                                         "honest_b3_w32", "honest_b1_w16",   "honest_b2_paced"};
    for (uint32_t k = 0; k < sizeof(cfgs); k++) {
        mc_start(s, cfgs[k]);
        mc_submits(s, FZ_CFG_BYZ(cfgs[k]));
        mc_run(s, 8);
        mc_save(s, honest[k]);
    }
}

/* The Byzantine party (leader of ballot 1) is silent, then splits its
 * frames. */
static void
mc_engine_silent_split(struct mc_script *s)
{
    mc_start(s, FZ_CFG(1, 1, 0, 1, mc_cluster(1, 1)));
    mc_b(s, 2, FZ_OP(FZ_OP_BYZ_MODE, FZ_BYZ_SILENT), 0);
    mc_submits(s, 1);
    mc_run(s, 6);
    mc_b(s, 2, FZ_OP(FZ_OP_BYZ_MODE, FZ_BYZ_SPLIT), 2);
    mc_submits(s, 1);
    mc_run(s, 6);
    mc_save(s, "byz_silent_split");
}

/* The Byzantine party's own engine's frames changed: values and
 * equivocation as the leader of ballot 1, ballots and instances as a
 * follower, and equivocating votes as a follower. */
static void
mc_engine_modes(struct mc_script *s)
{
    static const uint8_t modes[] = {FZ_BYZ_VALUES, FZ_BYZ_EQUIVOCATE, FZ_BYZ_BALLOTS,
                                    FZ_BYZ_INSTANCES, FZ_BYZ_EQUIVOCATE};
    static const char *const mnames[] = {"byz_values", "byz_equivocate", "byz_ballots",
                                         "byz_instances", "byz_equivocate_follower"};
    for (uint32_t k = 0; k < sizeof(modes); k++) {
        uint32_t byz = k % 4;
        uint32_t cluster = mc_cluster(byz, 1);
        if (k >= 2) {
            cluster = (cluster + 1) % 4; /* another party leads ballot 1 */
        }
        mc_start(s, FZ_CFG(byz, 1, 0, 1, cluster));
        mc_submits(s, byz);
        mc_b(s, 2, FZ_OP(FZ_OP_DELIVER_ALL, 0), FZ_OP(FZ_OP_TICK, 2));
        mc_b(s, 2, FZ_OP(FZ_OP_BYZ_MODE, modes[k]), (int)(k + 1));
        mc_submits(s, byz);
        mc_run(s, 8);
        mc_save(s, mnames[k]);
    }
}

/* The Byzantine leader of ballot 1 proposes a batch with an honest
 * command and its own (to everyone) and votes 2av and 2b for it, then
 * sends one party a forged copy of the honest command. */
static void
mc_engine_forge_2a(struct mc_script *s)
{
    for (uint32_t byz = 0; byz < 4; byz++) {
        mc_start(s, FZ_CFG(byz, 1, 0, 1, mc_cluster(byz, 1)));
        mc_submits(s, byz);
        mc_b(s, 1, FZ_OP(FZ_OP_DELIVER, 5));
        uint32_t h = (byz + 1) % 4;
        mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 3 | (2 << 2))); /* 3 records to each */
        mc_b(s, 4, T(2A), FZ_SEL(FZ_INST_NEAR, 4), FZ_SEL(FZ_BAL_OWN, 0), 0);
        mc_val_batch(s, h, byz);
        mc_b(s, 5, T(2AV), FZ_SEL(FZ_INST_PREV, 0), FZ_SEL(FZ_BAL_PREV, 0), 0,
             FZ_SEL(FZ_VAL_CMD, 1));
        mc_b(s, 5, T(2B), FZ_SEL(FZ_INST_PREV, 0), FZ_SEL(FZ_BAL_PREV, 0), 0,
             FZ_SEL(FZ_VAL_CMD, 1));
        mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 1)); /* a forged honest command to one */
        mc_b(s, 4, T(2A), FZ_SEL(FZ_INST_NEAR, 5), FZ_SEL(FZ_BAL_OWN, 0), 0);
        mc_b(s, 1, FZ_SEL(FZ_VAL_BATCH, 0));
        mc_b(s, 3, (int)h | (4 << 2), 0, 3);
        mc_run(s, 8);
        char name[32];
        snprintf(name, sizeof(name), "forge_2a_b%u", byz);
        mc_save(s, name);
    }
}

/* The Byzantine party's 1A of ballot 2, which it leads, then 1B reports
 * claiming votes (with history) and a range, to each honest party. */
static void
mc_engine_forge_1a_1b(struct mc_script *s)
{
    mc_start(s, FZ_CFG(3, 1, 0, 0, mc_cluster(3, 2)));
    mc_submits(s, 3);
    mc_run(s, 3);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 3 | (2 << 2)));
    mc_b(s, 4, T(1A), FZ_SEL(FZ_INST_NEAR, 4), FZ_SEL(FZ_BAL_OWN, 1), 0);
    /* 1B of instance nu - 1 with a vote one ballot below, two history entries */
    mc_b(s, 4, T(1B), FZ_SEL(FZ_INST_NEAR, 3), FZ_SEL(FZ_BAL_PREV, 0), 1 | (2 << 5));
    mc_b(s, 1, FZ_SEL(FZ_VAL_POOL, 1));
    mc_b(s, 2, 0, FZ_SEL(FZ_VAL_NOOP, 0));
    mc_b(s, 3, 1, FZ_SEL(FZ_VAL_INLINE, 8), 7);
    mc_b(s, 4, T(1B_RANGE), FZ_SEL(FZ_INST_NEAR, 5), FZ_SEL(FZ_BAL_PREV, 0), 0);
    /* the bytes of a value it names, as a VALUE record */
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 3));
    mc_b(s, 4, T(VALUE), FZ_SEL(FZ_INST_NEAR, 3), FZ_SEL(FZ_BAL_CUR, 0), 0);
    mc_b(s, 3, FZ_SEL(FZ_VAL_DIGEST, 0), 30, 5);
    mc_run(s, 8);
    mc_save(s, "forge_1a_1b");
}

/* DECIDED claims, STATUS asking from instance 0, a STATUS far ahead. */
static void
mc_engine_decided_status(struct mc_script *s)
{
    mc_start(s, FZ_CFG(0, 0, 0, 1, 2));
    mc_submits(s, 0);
    mc_run(s, 4);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 3 | (2 << 2)));
    mc_b(s, 4, T(DECIDED), FZ_SEL(FZ_INST_NEAR, 4), FZ_SEL(FZ_BAL_NEAR, 2), 0);
    mc_b(s, 3, FZ_SEL(FZ_VAL_DIGEST, 0), 20, 9);
    mc_b(s, 4, T(STATUS), FZ_SEL(FZ_INST_ABS, 0), FZ_SEL(FZ_BAL_ABS, 0), 16);
    mc_b(s, 4, T(STATUS), FZ_SEL(FZ_INST_TOP, 0), FZ_SEL(FZ_BAL_CUR, 0), 0xff);
    mc_b(s, 8, 0, 0, 0, 0, 0, 0, 0, 0x10);
    mc_run(s, 6);
    mc_save(s, "forge_decided_status");
}

/* A Byzantine submitter forwards a command and attests it to one
 * party, and other bytes under the same sequence number to another. */
static void
mc_engine_forward_attest(struct mc_script *s)
{
    mc_start(s, FZ_CFG(3, 1, 0, 1, 0));
    mc_submits(s, 3);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 0 | (1 << 2)));
    mc_b(s, 6, T(FORWARD), 0, FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEQ_NEXT | (3 << 3), 0x41);
    mc_b(s, 6, T(ATTEST), 0, FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEQ_LAST, 0);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 1 | (1 << 2)));
    mc_b(s, 6, T(FORWARD), 0, FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEQ_SAME | (6 << 3), 0x42);
    mc_b(s, 6, T(ATTEST), 0, FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEQ_LAST, 0);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 2 | (1 << 2)));
    mc_b(s, 6, T(FORWARD), 0, FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEQ_INC | (2 << 3), 0x43);
    /* an ATTEST naming another sequence number, with a wrong MAC */
    mc_b(s, 6, T(ATTEST) | 0x80, 0, FZ_SEL(FZ_BAL_CUR, 0), 0x40, FZ_SEQ_LAST, 0);
    /* an ATTEST pair: the right MAC, then a wrong one for the next number */
    mc_b(s, 6, T(ATTEST), 0, FZ_SEL(FZ_BAL_CUR, 0), 0x20, FZ_SEQ_LAST, 0);
    mc_run(s, 10);
    mc_save(s, "forward_attest");
}

/* Loss, reordering, duplicates and restarts around an honest run. */
static void
mc_engine_restart_reorder(struct mc_script *s)
{
    mc_start(s, FZ_CFG(1, 1, 0, 1, 3));
    mc_submits(s, 1);
    mc_b(s, 4, FZ_OP(FZ_OP_DELIVER, 3), FZ_OP(FZ_OP_PICK, 0), 5, FZ_OP(FZ_OP_DUP, 0));
    mc_b(s, 3, FZ_OP(FZ_OP_DROP, 1), FZ_OP(FZ_OP_PICK, 0), 2);
    mc_run(s, 3);
    mc_b(s, 1, FZ_OP(FZ_OP_RESTART, 0));
    mc_submits(s, 1);
    mc_run(s, 3);
    mc_b(s, 1, FZ_OP(FZ_OP_RESTART, 2));
    mc_b(s, 2, FZ_OP(FZ_OP_TICK, 6), FZ_OP(FZ_OP_TICK, 7));
    mc_run(s, 6);
    mc_save(s, "restart_reorder");
}

/* Records naming instances a window ahead and at the top, ballots at
 * the top of the range. */
static void
mc_engine_forge_far(struct mc_script *s)
{
    mc_start(s, FZ_CFG(0, 0, 0, 1, 1));
    mc_submits(s, 0);
    mc_run(s, 4);
    mc_b(s, 1, FZ_OP(FZ_OP_FORGE, 3 | (3 << 2)));
    mc_b(s, 5, T(2AV), FZ_SEL(FZ_INST_REUSE, 8), FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEL(FZ_VAL_POOL, 0));
    mc_b(s, 5, T(2B), FZ_SEL(FZ_INST_TOP, 0), FZ_SEL(FZ_BAL_CUR, 0), 0, FZ_SEL(FZ_VAL_NOOP, 0));
    mc_b(s, 4, T(1B_RANGE), FZ_SEL(FZ_INST_ABS, 0), FZ_SEL(FZ_BAL_TOP, 0), 0x80);
    mc_b(s, 4, T(1A), FZ_SEL(FZ_INST_ABS, 0), FZ_SEL(FZ_BAL_TOP, 0), 0);
    mc_run(s, 8);
    mc_save(s, "forge_far");
}

/* The engine seeds, one script at a time. */
static void
mc_engine(void)
{
    struct mc_script s;
    mc_engine_honest(&s);
    mc_engine_silent_split(&s);
    mc_engine_modes(&s);
    mc_engine_forge_2a(&s);
    mc_engine_forge_1a_1b(&s);
    mc_engine_decided_status(&s);
    mc_engine_forward_attest(&s);
    mc_engine_restart_reorder(&s);
    mc_engine_forge_far(&s);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus CORPUS_DIR (holding wire/ and engine/)\n");
        return 2;
    }
    if (bpc_init() != 0) {
        return 1;
    }
    mc_dir = argv[1];
    mc_wire();
    mc_engine();
    return 0;
}
