/*
 * fx.c - the fixture of the one-engine Byzantine tests (fx.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bpcon.h"
#include "internal.h"

#include "fx.h"

#define FX_SENT_BYTES ((size_t)FX_SENT_MAX * BPC_VALUE_BYTES_MAX)

int
fx_leader(const struct fx *f, uint64_t ballot)
{
    return bpc_elect_leader(&f->cfg, f->digest, ballot);
}

/* Builds the engine for party me with the given window and value size;
 * picks the cluster id so that me leads none of ballots 1..6. */
static void
fx_init_n(struct fx *f, uint32_t window, uint32_t value_bytes, uint32_t n)
{
    memset(f, 0, sizeof(*f));
    assert_true(n >= FX_N && n <= FX_N_MAX);
    f->n = n;
    assert_int_equal(bpc_init(), 0);
    bpc_config_defaults(&f->cfg);
    f->cfg.parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        f->cfg.weights[i] = 1;
    }
    f->cfg.window_slots = window;
    f->cfg.value_bytes_max = value_bytes;
    f->cfg.batch_max = 4;
    f->cfg.commands_max = 64;
    for (uint64_t id = 1;; id++) {
        f->cfg.cluster_id = id;
        bpc_config_digest(&f->cfg, f->digest);
        uint64_t used = 0;
        for (uint64_t b = 1; b <= 6; b++) {
            used |= UINT64_C(1) << fx_leader(f, b);
        }
        if (used != (UINT64_C(1) << n) - 1u) {
            for (uint32_t p = 0; p < n; p++) {
                if (!(used & (UINT64_C(1) << p))) {
                    f->me = p;
                }
            }
            break;
        }
    }
    f->cfg.self = f->me;
    for (uint32_t i = 0; i < BPC_KEY_BYTES; i++) {
        f->master[i] = (uint8_t)(i * 7 + 3);
    }
    for (uint32_t p = 0; p < n; p++) {
        bpc_auth_pair_key(f->master, f->me, p, f->keys[p]);
        f->seq[p] = FX_SEQ0;
    }
    f->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])f->keys;
    char err[256];
    assert_int_equal(bpc_engine_new(&f->e, &f->cfg, err, sizeof(err)), 0);
    f->tx_cap = BPC_FRAME_BYTES_MAX;
    f->watch = (f->me + 1) % n;
    f->sent = calloc(FX_SENT_MAX, sizeof(*f->sent));
    /* 512 MiB of address space, resident only where written: mapped, not
     * allocated, since meson runs tests with MALLOC_PERTURB_ set and glibc
     * then fills a freed block whole (25 s of page faults per test file). */
    void *bytes =
        mmap(NULL, FX_SENT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(bytes != MAP_FAILED);
    f->sent_bytes = bytes;
    assert_non_null(f->sent);
    assert_int_equal(bpc_engine_start(f->e, f->now), 0);
}

void
fx_init(struct fx *f, uint32_t window, uint32_t value_bytes)
{
    fx_init_n(f, window, value_bytes, FX_N);
}

void
fx_free(struct fx *f)
{
    bpc_engine_free(f->e);
    free(f->sent);
    munmap(f->sent_bytes, FX_SENT_BYTES);
}

struct fx *
fx_new(uint32_t window, uint32_t value_bytes)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fx_init(f, window, value_bytes);
    return f;
}

struct fx *
fx_new_n(uint32_t window, uint32_t value_bytes, uint32_t n)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fx_init_n(f, window, value_bytes, n);
    return f;
}

void
fx_delete(struct fx *f)
{
    fx_free(f);
    free(f);
}

/* Decodes the frames of one step that went to `watch` into f->sent. */
void
fx_capture(struct fx *f, const struct bpc_step_out *out)
{
    struct bpc_record recs[BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES];
    for (uint32_t k = 0; k < out->frames_count; k++) {
        const struct bpc_frame_out *o = &out->frames[k];
        if (o->peer != f->watch) {
            continue;
        }
        f->frames_to_watch++;
        assert_true(bpc_wire_verify(o->bytes, o->len, f->keys[f->watch]));
        struct bpc_frame_header h;
        assert_int_equal(bpc_wire_parse_header(o->bytes, o->len, &h), 0);
        int count = bpc_wire_decode(o->bytes, o->len, &h, recs, FX_LEN(recs));
        assert_true(count >= 0);
        for (int r = 0; r < count && f->sent_count < FX_SENT_MAX; r++) {
            f->sent[f->sent_count] = recs[r];
            if (recs[r].value_bytes != NULL) {
                memcpy(f->sent_bytes[f->sent_count], recs[r].value_bytes, recs[r].value.len);
                f->sent[f->sent_count].value_bytes = f->sent_bytes[f->sent_count];
            }
            f->sent_count++;
        }
    }
}

/* Keeps the newest durable record per instance (fx_restart restores them). */
void
fx_persist(struct fx *f, const struct bpc_durable *recs, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        uint32_t j = 0;
        while (j < f->dur_count && f->dur[j].instance != recs[k].instance) {
            j++;
        }
        assert_true(j < FX_DUR_MAX);
        f->dur[j] = recs[k];
        f->dur_count += j == f->dur_count ? 1u : 0u;
    }
}

/* Keeps every durable value (a store keeps them while their instance is
 * at or above the floor; these tests stay far below a window). */
void
fx_persist_values(struct fx *f, const struct bpc_durable_value *vals, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        assert_true(f->val_count < FX_VAL_MAX);
        assert_int_equal(vals[k].vid.kind, BPC_VALUE_DIGEST);
        memcpy(f->val_bytes[f->val_count], vals[k].bytes, vals[k].vid.len);
        f->vals[f->val_count] = vals[k];
        f->vals[f->val_count].bytes = f->val_bytes[f->val_count];
        f->val_count++;
    }
}

/* Crashes the engine and starts a new one from what it persisted. */
void
fx_restart(struct fx *f)
{
    bpc_engine_free(f->e);
    char err[256];
    assert_int_equal(bpc_engine_new(&f->e, &f->cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_restore(f->e, f->dur, f->dur_count), 0);
    assert_int_equal(bpc_engine_restore_values(f->e, f->vals, f->val_count), 0);
    assert_int_equal(bpc_engine_start(f->e, f->now), 0);
}

/* Steps the engine with the given frames, then until it settles
 * (persisting whatever it asks to). */
void
fx_step(struct fx *f, const struct bpc_frame_in *in, uint32_t count)
{
    struct bpc_decision dec[256];
    for (uint32_t round = 0; round < 64; round++) {
        for (uint32_t k = 0; k < FX_OUT; k++) {
            f->outs[k].bytes = f->out_bytes[k];
            f->outs[k].cap = f->tx_cap;
        }
        struct bpc_step_in si = {.now_ns = f->now, .frames = in, .frames_count = count};
        struct bpc_step_out so = {.frames = f->outs,
                                  .frames_cap = FX_OUT,
                                  .decisions = dec,
                                  .decisions_cap = FX_LEN(dec)};
        int rc = bpc_engine_step(f->e, &si, &so);
        /* -EMSGSIZE: a test lending buffers below the minimum on purpose */
        assert_true(rc >= 0 || rc == -EAGAIN ||
                    (rc == -EMSGSIZE && f->tx_cap < bpc_frame_bytes_min(f->cfg.value_bytes_max)));
        fx_capture(f, &so);
        for (uint32_t k = 0; k < so.decisions_count; k++) {
            if (dec[k].instance < FX_LEN(f->dec)) {
                f->dec_set |= UINT64_C(1) << dec[k].instance;
                f->dec[dec[k].instance] = dec[k].vid;
            }
        }
        count = 0;
        if (so.persist_count > 0) {
            f->persist_batches++;
            fx_persist(f, so.persist, so.persist_count);
            fx_persist_values(f, so.persist_values, so.persist_values_count);
            bpc_engine_persisted(f->e);
            continue;
        }
        if (so.frames_count == 0 && rc != -EAGAIN) {
            return;
        }
    }
}

/* Encodes records from party `from` to the engine as one frame in buf,
 * tagged with key (the pair key of me and from, unless forging); its
 * length. */
uint32_t
fx_frame(struct fx *f, uint32_t from, const struct bpc_record *recs, uint32_t count,
         const uint8_t key[BPC_KEY_BYTES], uint8_t buf[BPC_FRAME_BYTES_MAX])
{
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(&w, buf, BPC_FRAME_BYTES_MAX, BPC_VALUE_BYTES_MAX), 0);
    for (uint32_t k = 0; k < count; k++) {
        assert_int_equal(bpc_wire_put(&w, &recs[k]), 0);
    }
    struct bpc_frame_header h = {.cluster_id = f->cfg.cluster_id,
                                 .sender = (uint16_t)from,
                                 .receiver = (uint16_t)f->me,
                                 .seq = ++f->seq[from]};
    return bpc_wire_finish(&w, &h, key);
}

/* Sends records from party `from` to the engine in one frame. */
void
fx_send(struct fx *f, uint32_t from, const struct bpc_record *recs, uint32_t count)
{
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint32_t len = fx_frame(f, from, recs, count, f->keys[from], buf);
    struct bpc_frame_in in = {.bytes = buf, .len = len};
    fx_step(f, &in, 1);
}

void
fx_send1(struct fx *f, uint32_t from, struct bpc_record r)
{
    fx_send(f, from, &r, 1);
}

/* Sends one record whose ballot field holds `ballot` even where the
 * writer refuses it (a peer's bytes: written with ballot 1, the field
 * overwritten, the frame tagged again). */
void
fx_send1_ballot(struct fx *f, uint32_t from, struct bpc_record r, uint64_t ballot)
{
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_wire_writer w;
    r.ballot = 1;
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), BPC_VALUE_BYTES_MAX), 0);
    assert_int_equal(bpc_wire_put(&w, &r), 0);
    struct bpc_frame_header h = {.cluster_id = f->cfg.cluster_id,
                                 .sender = (uint16_t)from,
                                 .receiver = (uint16_t)f->me,
                                 .seq = ++f->seq[from]};
    uint32_t len = bpc_wire_finish(&w, &h, f->keys[from]);
    uint8_t *field = buf + BPC_WIRE_HEADER_BYTES + 16; /* the record's ballot (LE) */
    for (uint32_t i = 0; i < 8; i++) {
        field[i] = (uint8_t)(ballot >> (8 * i));
    }
    bpc_wire_retag(buf, len, f->keys[from]);
    struct bpc_frame_in in = {.bytes = buf, .len = len};
    fx_step(f, &in, 1);
}

/* The i-th party other than me. */
uint32_t
fx_other(const struct fx *f, uint32_t i)
{
    uint32_t p = (f->me + 1 + i) % f->n;
    return p;
}

uint32_t
fx_not_leader(const struct fx *f, uint32_t leader)
{
    return fx_other(f, 0) == leader ? fx_other(f, 1) : fx_other(f, 0);
}

void
fx_forward(struct fx *f, uint32_t p, uint64_t seq, uint64_t b, uint8_t fill)
{
    uint8_t cmd[8];
    memset(cmd, fill, sizeof(cmd));
    struct bpc_vid fv;
    bpc_forward_value(f->keys[p], seq, cmd, sizeof(cmd), &fv);
    fx_send1(f, p, bpc_record_make(BPC_MSG_FORWARD, seq, b, 0, &fv));
}

struct bpc_vid
fx_junk_vid(uint32_t k)
{
    struct bpc_vid j = {.kind = BPC_VALUE_INLINE, .len = 12};
    j.id[0] = 0xEE;
    j.id[1] = (uint8_t)k;
    return j;
}

uint32_t
fx_hold_junk(struct fx *f, uint32_t count, struct bpc_vid *v)
{
    uint32_t leader = (uint32_t)fx_leader(f, 2);
    fx_send1(f, leader, bpc_record_make(BPC_MSG_1A, 0, 2, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), 2);
    for (uint32_t i = 0; i < count; i++) {
        struct bpc_vid j = fx_junk_vid(i);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, i, 2, 0, &j));
        if (v != NULL) {
            v[i] = j;
        }
    }
    return leader;
}

void
fx_report_digest(struct fx *f, uint64_t b, const struct bpc_vid *v)
{
    assert_int_equal(v->kind, BPC_VALUE_DIGEST);
    for (uint32_t i = 0; i < 2; i++) {
        struct bpc_record r[3];
        r[0] = bpc_record_make(BPC_MSG_1B, 0, b, 3, v);
        r[0].hist_count = 1;
        r[1] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, 3, v);
        r[2] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL);
        fx_send(f, fx_other(f, i), r, 3);
    }
    fx_send1(f, fx_other(f, 2), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* no bytes, no 2a */
}

void
fx_expect_fetched(struct fx *f, uint64_t b, const struct bpc_vid *v, const uint8_t *bytes)
{
    struct bpc_record val = bpc_record_make(BPC_MSG_VALUE, 0, b, 0, v);
    val.value_bytes = bytes;
    fx_send1(f, fx_other(f, 1), val);
    int k = fx_find(f, 0, BPC_MSG_2A, 0, b);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, v));
    assert_non_null(f->sent[k].value_bytes);
    assert_memory_equal(f->sent[k].value_bytes, bytes, v->len);
}

void
fx_mac_vid(struct bpc_vid *v, uint32_t count)
{
    memset(v, 0, sizeof(*v));
    v->kind = BPC_VALUE_INLINE;
    v->len = (uint16_t)(count * BPC_CMD_MAC_BYTES);
}

void
fx_attest(struct fx *f, uint32_t c, uint64_t seq, const uint8_t *cmd, uint32_t len)
{
    struct bpc_vid mac;
    fx_mac_vid(&mac, 1);
    uint8_t key[BPC_KEY_BYTES];
    bpc_auth_pair_key(f->master, c, f->me, key);
    bpc_command_mac(key, seq, cmd, len, mac.id);
    fx_send1(f, c, bpc_record_make(BPC_MSG_ATTEST, seq, 2, len, &mac));
}

/* A one-command batch value: command (submitter, seq) with `len` bytes of
 * `fill`; vid and bytes out (bytes must hold 16 + len). */
uint32_t
fx_batch(uint8_t *bytes, uint32_t submitter, uint64_t seq, uint32_t len, uint8_t fill,
         struct bpc_vid *vid)
{
    memset(bytes, 0, BPC_BATCH_HEADER_BYTES);
    bytes[0] = 1;
    uint8_t *c = bytes + BPC_BATCH_HEADER_BYTES;
    c[0] = (uint8_t)submitter;
    c[1] = (uint8_t)(submitter >> 8);
    c[2] = (uint8_t)len;
    c[3] = (uint8_t)(len >> 8);
    for (int k = 0; k < 8; k++) {
        c[4 + k] = (uint8_t)(seq >> (8 * k));
    }
    memset(c + BPC_BATCH_CMD_HEADER_BYTES, fill, len);
    uint32_t total = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + len;
    bpc_vid_of(vid, bytes, total);
    return total;
}

/* The leader of ballot 2 proposes, at instances first to first + count - 1,
 * one-command values of submitter c with sequence numbers seq0 on, whose
 * MACs c never sent (held), or of the leader itself (voted at once). */
void
fx_propose_at(struct fx *f, uint32_t leader, uint32_t c, uint64_t first, uint32_t count,
              uint64_t seq0, struct bpc_vid *v)
{
    for (uint32_t k = 0; k < count; k++) {
        uint8_t bytes[64];
        fx_batch(bytes, c, seq0 + k, 8, (uint8_t)(0x60 + k), &v[k]);
        fx_send1(f, leader, bpc_record_make(BPC_MSG_2A, first + k, 2, 0, &v[k]));
    }
}

/* A VOTES record for the run of k votes of `type` at ballot b from
 * instance first, for the values vids. */
struct bpc_record
fx_votes(uint8_t type, uint64_t first, uint64_t b, const struct bpc_vid *vids, uint32_t k)
{
    struct bpc_vid d = {.kind = BPC_VALUE_DIGEST, .len = (uint16_t)(BPC_VOTES_VID_BYTES * k)};
    bpc_votes_digest(b, first, k, vids, d.id);
    return bpc_record_make(BPC_MSG_VOTES, first, b, type | (uint64_t)k << 8, &d);
}

/* Moves the engine to ballot b: the three peers (weight 3 > F, and a
 * quorum) send 1b range records of b saying every instance from 0 is
 * empty for them, so any value is safe at b. */
void
fx_to_ballot(struct fx *f, uint64_t b)
{
    for (uint32_t i = 0; i < f->n - 1; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 0, NULL));
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
}

/* Moves the engine to the first ballot from 7 on that it leads (fx_init
 * keeps it from leading 1..6); returns that ballot. */
uint64_t
fx_own_ballot(const struct fx *f)
{
    uint64_t b = 7;
    while (fx_leader(f, b) != (int)f->me) {
        b++;
    }
    return b;
}

uint64_t
fx_to_own_ballot(struct fx *f)
{
    uint64_t b = fx_own_ballot(f);
    fx_to_ballot(f, b);
    return b;
}

/* Index of the last record of `type` for `instance` the engine sent at
 * `ballot` (any ballot when 0), from record `from` on; -1 when none. */
int
fx_find(const struct fx *f, uint32_t from, uint8_t type, uint64_t instance, uint64_t ballot)
{
    int found = -1;
    for (uint32_t k = from; k < f->sent_count; k++) {
        const struct bpc_record *r = &f->sent[k];
        if (r->type == type && r->instance == instance && (ballot == 0 || r->ballot == ballot)) {
            found = (int)k;
        }
    }
    return found;
}

/* The engine sent, from record `from` on, a VALUE record for instance
 * naming v, and every such record carries v's bytes. */
void
fx_expect_value(const struct fx *f, uint32_t from, uint64_t instance, const struct bpc_vid *v,
                const uint8_t *bytes)
{
    bool sent = false;
    for (uint32_t j = from; j < f->sent_count; j++) {
        const struct bpc_record *r = &f->sent[j];
        if (r->type == BPC_MSG_VALUE && r->instance == instance && bpc_vid_eq(&r->value, v)) {
            assert_non_null(r->value_bytes);
            assert_memory_equal(r->value_bytes, bytes, v->len);
            sent = true;
        }
    }
    assert_true(sent);
}

/* The engine votes 2av and 2b for v on instance i at ballot b (proposed by
 * b's leader, with 2av votes of two peers). */
void
fx_vote(struct fx *f, uint64_t i, uint64_t b, const struct bpc_vid *v, const uint8_t *bytes)
{
    uint32_t leader = (uint32_t)fx_leader(f, b);
    struct bpc_record a = bpc_record_make(BPC_MSG_2A, i, b, 0, v);
    a.value_bytes = v->kind == BPC_VALUE_DIGEST ? bytes : NULL;
    fx_send1(f, leader, a);
    assert_true(fx_find(f, 0, BPC_MSG_2AV, i, b) >= 0);
    for (uint32_t k = 0; k < 2; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2AV, i, b, 0, v));
    }
    assert_true(fx_find(f, 0, BPC_MSG_2B, i, b) >= 0);
}
