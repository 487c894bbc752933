/*
 * bench_micro.c - micro-tier benchmark bodies: wire encode and decode,
 * frame tags, value identities and leader election.
 *
 * Owns: the setup, body and teardown of each micro benchmark declared in
 * bench.h. Must never: allocate, print or read a clock inside a body, or
 * measure anything but the engine call it names. Setup checks that the
 * engine accepts its own output once (round trip, tag check, vid kind,
 * leader range) and returns NULL otherwise, so the bench_smoke test fails
 * loudly instead of timing an error path.
 */
#include "bench.h"

#include "bpcon.h"
#include "internal.h"
#include "safe.h"

#include <stdlib.h>
#include <string.h>

/* Largest sweep point of the wire benchmarks (STYLE: batch 1, 8, 32, 64). */
#define BENCH_WIRE_RECORDS_MAX 64u
/* Bytes of each inline value carried by the benchmark's 2AV records. */
#define BENCH_WIRE_VALUE_BYTES 16u
#define BENCH_CLUSTER_ID 0x6270636f6e2d6231ull

/* Deterministic filler so every run sees the same bytes (no rand()). */
static void
bench_fill(uint8_t *p, size_t len, uint8_t salt)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 131u + salt);
    }
}

/* ---- wire --------------------------------------------------------------- */

struct bench_wire {
    uint32_t records;
    uint32_t frame_len;
    uint8_t key[BPC_KEY_BYTES];
    struct bpc_record recs[BENCH_WIRE_RECORDS_MAX];
    struct bpc_record decoded[BENCH_WIRE_RECORDS_MAX];
    uint8_t frame[BPC_FRAME_BYTES_MAX];   /* the reference frame decode reads */
    uint8_t scratch[BPC_FRAME_BYTES_MAX]; /* where encode writes */
};

/* Encodes the context's records into buf; returns the length, 0 on refusal. */
static uint32_t
bench_wire_encode_one(const struct bench_wire *b, uint8_t *buf, uint64_t seq)
{
    struct bpc_wire_writer w;
    if (bpc_wire_begin(&w, buf, BPC_FRAME_BYTES_MAX, 0) != 0) {
        return 0;
    }
    for (uint32_t i = 0; i < b->records; i++) {
        if (bpc_wire_put(&w, &b->recs[i]) != 0) {
            return 0;
        }
    }
    const struct bpc_frame_header h = {
        .cluster_id = BENCH_CLUSTER_ID,
        .sender = 1,
        .receiver = 2,
        .record_count = (uint16_t)b->records,
        .value_bytes = 0,
        .seq = seq,
    };
    return bpc_wire_finish(&w, &h, b->key);
}

/* Parses, verifies and decodes buf; returns the record count, or -1. */
static int
bench_wire_decode_one(struct bench_wire *b, const uint8_t *buf, uint32_t len)
{
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(buf, len, &h) != 0) {
        return -1;
    }
    if (!bpc_wire_verify(buf, len, b->key)) {
        return -1;
    }
    int n = bpc_wire_decode(buf, len, &h, b->decoded, BENCH_WIRE_RECORDS_MAX);
    return n < 0 ? -1 : n;
}

/* True when the decoded records equal the ones that were encoded. */
static int
bench_wire_round_trip_ok(const struct bench_wire *b, int n)
{
    if (n != (int)b->records) {
        return 0;
    }
    for (uint32_t i = 0; i < b->records; i++) {
        const struct bpc_record *want = &b->recs[i];
        const struct bpc_record *got = &b->decoded[i];
        if (got->type != want->type || got->instance != want->instance) {
            return 0;
        }
        if (got->ballot != want->ballot || !bpc_vid_eq(&got->value, &want->value)) {
            return 0;
        }
    }
    return 1;
}

void *
bench_wire_setup(uint32_t records)
{
    if (records == 0 || records > BENCH_WIRE_RECORDS_MAX || bpc_init() < 0) {
        return NULL;
    }
    struct bench_wire *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->records = records;
    bench_fill(b->key, sizeof(b->key), 7);
    for (uint32_t i = 0; i < records; i++) {
        uint8_t value[BENCH_WIRE_VALUE_BYTES];
        bench_fill(value, sizeof(value), (uint8_t)i);
        struct bpc_record *r = &b->recs[i];
        r->type = BPC_MSG_2AV;
        r->instance = 1000u + i;
        r->ballot = 3;
        bpc_vid_of(&r->value, value, (uint32_t)sizeof(value));
    }
    b->frame_len = bench_wire_encode_one(b, b->frame, 1);
    if (b->frame_len == 0) {
        free(b);
        return NULL;
    }
    if (!bench_wire_round_trip_ok(b, bench_wire_decode_one(b, b->frame, b->frame_len))) {
        free(b);
        return NULL;
    }
    return b;
}

uint64_t
bench_wire_encode(void *ctx, uint64_t iters)
{
    struct bench_wire *b = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t len = bench_wire_encode_one(b, b->scratch, i + 1);
        sum += len;
        if (len > 0) {
            sum += b->scratch[len - 1];
        }
    }
    return sum;
}

uint64_t
bench_wire_decode(void *ctx, uint64_t iters)
{
    struct bench_wire *b = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        int n = bench_wire_decode_one(b, b->frame, b->frame_len);
        if (n > 0) {
            sum += (uint64_t)n + b->decoded[n - 1].instance;
        }
    }
    return sum;
}

/* ---- auth --------------------------------------------------------------- */

struct bench_auth {
    uint32_t len;
    uint8_t key[BPC_KEY_BYTES];
    uint8_t tag[BPC_TAG_BYTES]; /* the tag of msg as setup left it */
    uint8_t msg[BPC_FRAME_BYTES_MAX];
};

void *
bench_auth_setup(uint32_t frame_bytes)
{
    if (frame_bytes == 0 || frame_bytes > BPC_FRAME_BYTES_MAX || bpc_init() < 0) {
        return NULL;
    }
    struct bench_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->len = frame_bytes;
    bench_fill(a->key, sizeof(a->key), 11);
    bench_fill(a->msg, a->len, 13);
    bpc_auth_tag(a->key, a->msg, a->len, a->tag);
    if (!bpc_auth_tag_ok(a->key, a->msg, a->len, a->tag)) {
        free(a);
        return NULL;
    }
    return a;
}

uint64_t
bench_auth_tag(void *ctx, uint64_t iters)
{
    struct bench_auth *a = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint8_t tag[BPC_TAG_BYTES];
        a->msg[0] = (uint8_t)i; /* a new message each run */
        bpc_auth_tag(a->key, a->msg, a->len, tag);
        sum += (uint64_t)tag[0] | ((uint64_t)tag[BPC_TAG_BYTES - 1] << 8);
    }
    return sum;
}

/* The receiver's side: a valid tag (the message is left as setup made it,
 * so every check succeeds and compares all 16 bytes). */
uint64_t
bench_auth_verify(void *ctx, uint64_t iters)
{
    struct bench_auth *a = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        sum += bpc_auth_tag_ok(a->key, a->msg, a->len, a->tag) ? 1u : 0u;
    }
    return sum;
}

/* One command MAC (ATTEST) over a command of `len` bytes: what a submitter
 * pays per peer and a voter per command it checks. */
uint64_t
bench_command_mac(void *ctx, uint64_t iters)
{
    struct bench_auth *a = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint8_t mac[BPC_CMD_MAC_BYTES];
        a->msg[0] = (uint8_t)i;
        bpc_command_mac(a->key, i + 1, a->msg, a->len, mac);
        sum += (uint64_t)mac[0] | ((uint64_t)mac[BPC_CMD_MAC_BYTES - 1] << 8);
    }
    return sum;
}

/* ---- value identities --------------------------------------------------- */

struct bench_value {
    uint32_t len;
    uint8_t value[BPC_VALUE_BYTES_MAX];
};

void *
bench_value_setup(uint32_t value_bytes)
{
    if (value_bytes == 0 || value_bytes > BPC_VALUE_BYTES_MAX || bpc_init() < 0) {
        return NULL;
    }
    struct bench_value *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    v->len = value_bytes;
    bench_fill(v->value, v->len, 17);
    struct bpc_vid vid;
    bpc_vid_of(&vid, v->value, v->len);
    uint8_t want = value_bytes <= BPC_VALUE_INLINE_MAX ? BPC_VALUE_INLINE : BPC_VALUE_DIGEST;
    if (vid.kind != want || vid.len != value_bytes) {
        free(v);
        return NULL;
    }
    return v;
}

uint64_t
bench_value_vid(void *ctx, uint64_t iters)
{
    struct bench_value *v = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        struct bpc_vid vid;
        v->value[0] = (uint8_t)i; /* a new value each run */
        bpc_vid_of(&vid, v->value, v->len);
        sum += (uint64_t)vid.id[0] + vid.id[BPC_VALUE_INLINE_MAX - 1] + vid.kind;
    }
    return sum;
}

/* ---- leader election ---------------------------------------------------- */

struct bench_elect {
    uint64_t ballot; /* advances across calls so each run draws a new leader */
    uint8_t digest[BPC_DIGEST_BYTES];
    struct bpc_config cfg;
};

void *
bench_elect_setup(uint32_t parties)
{
    if (parties == 0 || parties > BPC_PARTIES_MAX || bpc_init() < 0) {
        return NULL;
    }
    struct bench_elect *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    bpc_config_defaults(&e->cfg);
    e->cfg.cluster_id = BENCH_CLUSTER_ID;
    e->cfg.parties_count = parties;
    for (uint32_t i = 0; i < parties; i++) {
        e->cfg.weights[i] = 1u + i % 7u; /* unequal weights: the general case */
    }
    e->cfg.threshold = 0;
    bpc_config_digest(&e->cfg, e->digest);
    e->ballot = 1;
    int leader = bpc_elect_leader(&e->cfg, e->digest, e->ballot);
    if (leader < 0 || (uint32_t)leader >= parties) {
        free(e);
        return NULL;
    }
    return e;
}

uint64_t
bench_elect_leader(void *ctx, uint64_t iters)
{
    struct bench_elect *e = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        int leader = bpc_elect_leader(&e->cfg, e->digest, e->ballot++);
        sum += (uint64_t)(leader + 1);
    }
    return sum;
}

/* A leader's view of one instance at ballot 1000 with `parties` parties of
 * weight 1: the first third (Byzantine) report a 2b and four junk history
 * values each, at ballots 10 and up; 40 % of the rest report their 2b for
 * v at ballot 5 (history (5, v)); the others report no vote. Case (a)
 * fails and no value is safe (v's history weight is below F): every
 * reported value is judged, the most a pick can cost (NONE: the leader
 * waits for more reports and judges again). */
struct bench_safe {
    uint64_t weights[BPC_PARTIES_MAX];
    struct bpc_1b_report reps[BPC_PARTIES_MAX];
    struct bpc_ballot_w clean_w[BPC_PARTIES_MAX];
    struct bpc_safe_cand cands[BPC_PARTIES_MAX * BPC_HISTORY_MAX];
    struct bpc_safe_low low[BPC_PARTIES_MAX + 1];
    struct bpc_safe_view view;
};

static struct bpc_vid
bench_safe_vid(uint32_t k)
{
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = BPC_VALUE_INLINE;
    v.len = 12;
    memcpy(v.id, &k, sizeof(k));
    return v;
}

void *
bench_safe_setup(uint32_t parties)
{
    if (parties < 4 || parties > BPC_PARTIES_MAX) {
        return NULL;
    }
    struct bench_safe *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    uint32_t byz = parties / 3;
    uint32_t voted = (parties - byz) * 2 / 5;
    uint32_t count = 0;
    for (uint32_t i = 0; i < parties; i++) {
        b->weights[i] = 1;
        if (i >= byz + voted) {
            continue;
        }
        struct bpc_1b_report *r = &b->reps[count++];
        r->sender = i;
        r->mbal = i < byz ? 10 + i : 5;
        r->mval = bench_safe_vid(i < byz ? 1000 + 4 * i : 7);
        r->hist_count = i < byz ? BPC_HISTORY_MAX : 1;
        for (uint32_t h = 0; h < r->hist_count; h++) {
            r->hist_bal[h] = r->mbal;
            r->hist_val[h] = i < byz ? bench_safe_vid(1000 + 4 * i + h) : r->mval;
        }
    }
    struct bpc_safe_view *v = &b->view;
    v->empty_weight = parties - byz - voted;
    v->reps = b->reps;
    v->reps_count = count;
    v->weights = b->weights;
    v->threshold = bpc_threshold_default(parties);
    v->faulty = bpc_faulty_weight(parties, v->threshold);
    v->ballot = 1000;
    v->clean_w = b->clean_w;
    v->cands = b->cands;
    v->low = b->low;
    return b;
}

uint64_t
bench_safe_pick(void *ctx, uint64_t iters)
{
    struct bench_safe *b = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        struct bpc_vid out;
        sum += (uint64_t)bpc_safe_pick(&b->view, &out) + out.id[0];
    }
    return sum;
}

void
bench_teardown(void *ctx)
{
    free(ctx);
}
