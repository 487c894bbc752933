/*
 * test_store_values.c - the durable vote store's value frames (format
 * version 3 and later, libbpcon-store).
 *
 * Goal: the bytes of DIGEST values round-trip with the records that name
 * them, at the documented offsets, once each however often appended;
 * they survive compaction while their instance is at or above the floor
 * or a live decided record names them; they are cut off with a torn
 * commit; a frame whose content is wrong is damage, while bytes that do
 * not hash to their identity are skipped and counted; a version 2 file is
 * read as it is and rewritten as version 4 by a writer; a clean floor
 * says version 4 (damage in a version 1 or 2 file); and
 * bpc_store_append_values refuses, buffering nothing, what the format
 * cannot hold.
 * Method: an in-memory file system (memfs.c) and the fixture the store's
 * tests share (store_fx.h); values named by libbpcon's own bpc_vid_of.
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

#include "bpcon_store.h"
#include "memfs.h"
#include "store_fx.h"

/* ------------------------------------------------------------------------
 * Value frames (format version 3).
 * ---------------------------------------------------------------------- */

/* Value bytes the tests name: one buffer per slot, long enough for the
 * largest value. */
#define TS_VALUE_SLOTS 16u
static uint8_t ts_value_mem[TS_VALUE_SLOTS][BPC_VALUE_BYTES_MAX];

/* A DIGEST value of instance `instance`: len bytes (33..8192) made from
 * tag in slot, named by libbpcon's own bpc_vid_of, as the engine names it. */
static struct bpc_durable_value
ts_value(uint32_t slot, uint64_t instance, uint32_t len, uint64_t tag)
{
    assert_true(slot < TS_VALUE_SLOTS && len <= BPC_VALUE_BYTES_MAX);
    uint8_t *b = ts_value_mem[slot];
    for (uint32_t i = 0; i < len; i++) {
        b[i] = (uint8_t)(tag * 151u + i * 13u + (i >> 8));
    }
    struct bpc_durable_value v = {.instance = instance, .bytes = b};
    bpc_vid_of(&v.vid, b, len);
    assert_int_equal(v.vid.kind, BPC_VALUE_DIGEST);
    return v;
}

/* How many of vals are want (same instance and identity); each must carry
 * exactly want's bytes. */
static uint32_t
ts_value_count(const struct bpc_durable_value *vals, uint32_t n,
               const struct bpc_durable_value *want)
{
    uint32_t found = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].instance == want->instance && ts_vid_eq(&vals[i].vid, &want->vid)) {
            assert_memory_equal(vals[i].bytes, want->bytes, want->vid.len);
            found++;
        }
    }
    return found;
}

/* The offset of the nth (from 0) frame of type `type` in a file image, or
 * 0 when there is none. */
static size_t
ts_frame_at(const uint8_t *img, size_t len, uint8_t type, uint32_t nth)
{
    size_t off = BPC_STORE_HEADER_BYTES;
    while (off + BPC_STORE_FRAME_HEADER_BYTES <= len) {
        uint32_t plen = (uint32_t)img[off + 8] | (uint32_t)img[off + 9] << 8 |
                        (uint32_t)img[off + 10] << 16 | (uint32_t)img[off + 11] << 24;
        if (img[off + 4] == type && nth-- == 0) {
            return off;
        }
        off += BPC_STORE_FRAME_HEADER_BYTES + plen;
    }
    return 0;
}

/* A decided record keeps its value's bytes: a value below the floor stays
 * while the live decided record of its instance names it (to its
 * dec_keep), in memory, after a reopen and after a compaction; one that
 * record does not name, or whose record the floor left behind, goes.
 * Before, values were kept only at or above the floor, and a restart of
 * every party but a lagging one left nobody with the bytes of what it
 * missed. */
static void
test_store_values_of_decided_records(void **state)
{
    (void)state;
    TS_FRESH(28, 0);
    struct bpc_durable_value kept = ts_value(0, 10, 120, 1);
    struct bpc_durable_value other = ts_value(1, 10, 90, 2); /* not the decision */
    struct bpc_durable_value gone = ts_value(2, 11, 100, 3); /* no decided record */
    struct bpc_durable_value vals[3] = {kept, other, gone};
    assert_int_equal(bpc_store_append(s, (struct bpc_durable[]){ts_party(0)}, 1), 0);
    assert_int_equal(bpc_store_append_values(s, vals, 3), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    /* The floor passes them; instance 10's decided record names `kept`. */
    struct bpc_durable in[2] = {ts_party(20), ts_party(20)};
    in[1].instance = 10;
    in[1].decided = 1;
    in[1].dec_bal = 2;
    in[1].dec_val = kept.vid;
    in[1].max_vbal = 2;
    in[1].max_vval = kept.vid;
    in[1].dec_keep = 30;
    assert_int_equal(bpc_store_append(s, in, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) { /* reopen */
            bpc_store_close(s);
            assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        }
        if (pass == 2) {
            assert_int_equal(bpc_store_compact(s), 0);
        }
        const struct bpc_durable_value *out = NULL;
        uint32_t n = bpc_store_values(s, &out);
        assert_int_equal(n, 1);
        assert_int_equal(ts_value_count(out, n, &kept), 1);
    }
    /* The floor passes dec_keep: the record and its value go. */
    assert_int_equal(bpc_store_append(s, (struct bpc_durable[]){ts_party(31)}, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable_value *out = NULL;
    assert_int_equal(bpc_store_values(s, &out), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_values(s, &out), 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* The value frame of the round trip's first value (in0, 100 bytes of
 * instance 3), after the four records: type 3, payload instance |
 * identity | bytes, in a format version 4 file (value frames since 3). */
static void
ts_check_value_layout(const struct memfs *fs, const struct bpc_durable_value *in0)
{
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    assert_int_equal(f[8], 4);
    size_t at = ts_frame_at(f, len, BPC_STORE_FRAME_VALUE, 0);
    assert_int_equal(at, BPC_STORE_HEADER_BYTES +
                             4u * (BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES));
    const uint8_t *p = f + at + BPC_STORE_FRAME_HEADER_BYTES;
    assert_int_equal(f[at + 8] | f[at + 9] << 8, BPC_STORE_VALUE_HEAD_BYTES + 100u);
    assert_memory_equal(p, "\x03\0\0\0\0\0\0\0", 8);
    assert_int_equal(p[8], BPC_VALUE_DIGEST);
    assert_int_equal(p[9], 0);
    assert_int_equal(p[10] | p[11] << 8, 100);
    assert_memory_equal(p + 12, in0->vid.id, BPC_VALUE_INLINE_MAX);
    assert_memory_equal(p + BPC_STORE_VALUE_HEAD_BYTES, in0->bytes, 100);
}

/* The round trip's store s (reopened) as the floor passes instances 3 and
 * 4: their values go and 5's two (in[2], in[3]) stay, in memory and after
 * a reopen; a value below the floor is written but not kept. Closes s. */
static void
ts_values_pass_floor(struct bpc_store *s, const struct bpc_config *cfg,
                     const struct bpc_store_options *o, const struct bpc_durable_value *in)
{
    struct bpc_durable pw = ts_party(5);
    assert_int_equal(bpc_store_append(s, &pw, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable_value *out = NULL;
    uint32_t n = bpc_store_values(s, &out);
    assert_int_equal(n, 2);
    assert_int_equal(ts_value_count(out, n, &in[2]), 1);
    assert_int_equal(ts_value_count(out, n, &in[3]), 1);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_int_equal(st.live_values, 2);
    /* A value below the floor is written but not kept. */
    struct bpc_durable_value old = ts_value(4, 4, 90, 5);
    assert_int_equal(bpc_store_append_values(s, &old, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_values(s, &out), 2);
    bpc_store_close(s);
    char err[512] = "";
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->values, 6);
    n = bpc_store_values(s, &out);
    assert_int_equal(n, 2);
    assert_int_equal(ts_value_count(out, n, &in[2]), 1);
    assert_int_equal(ts_value_count(out, n, &in[3]), 1);
    bpc_store_close(s);
}

/* Values round-trip: appended with the records of the same commit, they
 * come back from bpc_store_values with the same bytes, before and after a
 * reopen, once each however often appended; the frame is laid out as
 * documented; and a value whose instance a later floor passed is gone, in
 * memory and after a reopen. Before format version 3 the store had no
 * place for a value's bytes: a restart of every party lost them. */
static void
test_store_values_round_trip(void **state)
{
    (void)state;
    TS_FRESH(21, 0);
    struct bpc_durable recs[4];
    recs[0] = ts_party(0);
    for (uint32_t i = 1; i < 4; i++) {
        recs[i] = recs[0];
        recs[i].instance = 2u + i; /* 3, 4, 5 */
        recs[i].max_vbal = 2;
    }
    struct bpc_durable_value in[5] = {
        ts_value(0, 3, 100, 1), ts_value(1, 4, BPC_VALUE_BYTES_MAX, 2), /* the largest */
        ts_value(2, 5, BPC_VALUE_INLINE_MAX + 1, 3),                    /* the smallest */
        ts_value(3, 5, 777, 4),                                         /* a second value of 5 */
    };
    recs[1].max_vval = in[0].vid;
    recs[2].max_vval = in[1].vid;
    recs[3].max_vval = in[2].vid;
    recs[3].hist_count = 1; /* a 2av for 5's second value */
    recs[3].hist_bal[0] = 2;
    recs[3].hist_val[0] = in[3].vid;
    in[4] = in[0]; /* named again: kept once */
    assert_int_equal(bpc_store_append(s, recs, 4), 0);
    assert_int_equal(bpc_store_append_values(s, in, 5), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable_value *out = NULL;
    assert_int_equal(bpc_store_values(s, &out), 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(ts_value_count(out, 4, &in[i]), 1);
    }
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_int_equal(st.live_values, 4);
    assert_int_equal(st.syncs, 1); /* records and values: one commit */
    bpc_store_close(s);

    /* The layout: type 3, payload instance | identity | bytes. */
    ts_check_value_layout(&fs, &in[0]);

    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->values, 5);
    assert_int_equal(bpc_store_info(s)->commits, 1);
    uint32_t n = bpc_store_values(s, &out);
    assert_int_equal(n, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(ts_value_count(out, n, &in[i]), 1);
    }
    /* The floor passes 3 and 4: their values go, 5's stay. */
    ts_values_pass_floor(s, &cfg, &o, in);
    memfs_free(&fs);
}

/* Names each value in its instance's record (as that record's newest
 * 2av), as the engine's records name the values it persists: the store
 * keeps a value only while its instance's newest record names it. */
static void
ts_name_values(struct bpc_durable *b, uint32_t nb, const struct bpc_durable_value *v, uint32_t nv)
{
    for (uint32_t i = 0; i < nb; i++) {
        for (uint32_t j = 0; j < nv; j++) {
            if (b[i].instance == v[j].instance && b[i].hist_count > 0) {
                b[i].hist_val[0] = v[j].vid;
            }
        }
    }
}

/* Compaction writes every live value and none below the floor: over a
 * run that compacts every few commits, the values from the floor up are
 * there, once each, with their bytes; after a last compaction the file
 * holds exactly them; a reopen finds the same. */
static void
test_store_values_survive_compaction(void **state)
{
    (void)state;
    TS_FRESH(22, TS_COMPACT_BYTES);
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    const uint64_t steps = TS_STEPS;
    for (uint64_t k = 0; k < steps; k++) {
        struct bpc_durable b[8];
        uint32_t nb = ts_batch(k, b, &m);
        /* Instance k's value, named again the step after (its 2b). */
        struct bpc_durable_value v[2] = {ts_value((uint32_t)(k % 8u), k, 40u + 37u * (k % 9u), k)};
        uint32_t nv = 1;
        if (k > 0) {
            v[nv++] = ts_value((uint32_t)((k - 1) % 8u), k - 1, 40u + 37u * ((k - 1) % 9u), k - 1);
        }
        ts_name_values(b, nb, v, nv);
        assert_int_equal(bpc_store_append(s, b, nb), 0);
        assert_int_equal(bpc_store_append_values(s, v, nv), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        if (bpc_store_compact_due(s)) {
            assert_int_equal(bpc_store_compact(s), 0);
        }
    }
    assert_int_equal(bpc_store_compact(s), 0);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_true(st.compactions >= 3);
    const uint64_t floor = m.floor;
    assert_int_equal(floor, steps - 3u);
    for (int pass = 0; pass < 2; pass++) {
        const struct bpc_durable_value *out = NULL;
        uint32_t n = bpc_store_values(s, &out);
        assert_int_equal(n, steps - floor);
        bpc_store_stats(s, &st);
        assert_int_equal(st.live_values, n);
        for (uint64_t k = floor; k < steps; k++) {
            struct bpc_durable_value want =
                ts_value((uint32_t)(k % 8u), k, 40u + 37u * (k % 9u), k);
            assert_int_equal(ts_value_count(out, n, &want), 1);
        }
        if (pass == 0) {
            /* The compacted file: the live values, no other. */
            bpc_store_close(s);
            struct bpc_store_info info;
            assert_int_equal(
                bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
            assert_int_equal(info.values, steps - floor);
            assert_int_equal(info.commits, 1);
            assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        }
    }
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A torn tail that ends inside the last commit, in its value frame or
 * anywhere else in it, is cut off with that commit's values; the values of
 * the commits before it are all there. */
static void
test_store_values_torn_tail(void **state)
{
    (void)state;
    TS_FRESH(23, 0);
    struct bpc_durable_value v[3];
    uint64_t bound[4] = {BPC_STORE_HEADER_BYTES};
    for (uint32_t k = 0; k < 3; k++) {
        struct bpc_durable d = ts_party(0);
        v[k] = ts_value(k, 4u + k, 300u + 100u * k, 30u + k); /* in the window */
        d.instance = v[k].instance;
        d.max_vbal = 2;
        d.max_vval = v[k].vid;
        assert_int_equal(bpc_store_append(s, &d, 1), 0);
        assert_int_equal(bpc_store_append_values(s, &v[k], 1), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        struct bpc_store_stats st;
        bpc_store_stats(s, &st);
        bound[k + 1] = st.file_bytes;
    }
    bpc_store_close(s);
    size_t full = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &full);
    assert_int_equal(full, bound[3]);
    static uint8_t img[8192];
    assert_true(full <= sizeof(img));
    memcpy(img, f, full);
    memfs_free(&fs);
    size_t value_at = ts_frame_at(img, full, BPC_STORE_FRAME_VALUE, 2);
    assert_true(value_at > bound[2] && value_at < bound[3]);
    uint32_t in_value = 0;
    for (size_t len = bound[2] + 1u; len < bound[3]; len++) {
        memfs_init(&fs, 24);
        memfs_set_file(&fs, TS_PATH, img, len);
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        assert_int_equal(bpc_store_info(s)->torn_bytes, len - bound[2]);
        const struct bpc_durable_value *out = NULL;
        uint32_t n = bpc_store_values(s, &out);
        assert_int_equal(n, 2);
        assert_int_equal(ts_value_count(out, n, &v[0]), 1);
        assert_int_equal(ts_value_count(out, n, &v[1]), 1);
        bpc_store_close(s);
        size_t now = 0;
        memfs_file(&fs, TS_PATH, &now);
        assert_int_equal(now, bound[2]); /* cut off */
        memfs_free(&fs);
        in_value += len > value_at ? 1u : 0u;
    }
    assert_int_equal(in_value, bound[3] - value_at - 1u);
}

/* Damage number `bad` (0..6) to the copy img of a file whose one value
 * frame is at `at` (its payload at pay): a byte of the value, of the
 * digest, the identity's kind, the length, the instance, each resealed;
 * then (5, 6) the file's version set to 2, then 1. */
static void
ts_value_damage(uint8_t *img, size_t at, size_t pay, uint32_t bad)
{
    if (bad == 0) {
        img[pay + BPC_STORE_VALUE_HEAD_BYTES + 57] ^= 0x01; /* a byte of the value */
    } else if (bad == 1) {
        img[pay + 12] ^= 0x80; /* a byte of the digest */
    } else if (bad == 2) {
        img[pay + 8] = BPC_VALUE_INLINE;
    } else if (bad == 3) {
        img[pay + 10] = 199; /* len 199 in a payload of 44 + 200 */
    } else if (bad == 4) {
        memset(img + pay, 0xff, 8);
    }
    if (bad <= 4) {
        ts_reseal(img + at);
    } else {
        ts_set_version(img, (uint8_t)(7u - bad)); /* version 2, then 1 */
    }
}

/* A file of one party-wide record, the vote record of instance 6 and one
 * value frame (v, which that vote names): its bytes in
 * orig (len), the value frame at `at`, its payload at `pay`; img, room
 * for a damaged copy. */
struct ts_vfile {
    struct bpc_durable_value v;
    uint8_t orig[4096];
    uint8_t img[4096];
    size_t len;
    size_t at;
    size_t pay;
};

/* Writes that file through the open store s and closes it. */
static void
ts_value_file(struct memfs *fs, struct bpc_store *s, struct ts_vfile *vf)
{
    struct bpc_durable d[2] = {ts_party(0), ts_party(0)};
    vf->v = ts_value(0, 6, 200, 9);
    d[1].instance = 6; /* its vote names the value */
    d[1].max_vbal = 1;
    d[1].max_vval = vf->v.vid;
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    assert_int_equal(bpc_store_append_values(s, &vf->v, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    const uint8_t *f = memfs_file(fs, TS_PATH, &vf->len);
    assert_true(vf->len <= sizeof(vf->orig));
    memcpy(vf->orig, f, vf->len);
    vf->at = ts_frame_at(vf->orig, vf->len, BPC_STORE_FRAME_VALUE, 0);
    assert_true(vf->at > 0);
    vf->pay = vf->at + BPC_STORE_FRAME_HEADER_BYTES;
}

/* A value frame whose checksums hold but whose content is wrong is damage:
 * an identity of another kind, a length that disagrees with the
 * identity's, an instance outside the votes'; so is a value frame in a
 * file of version 1 or 2, which no writer of those versions wrote. Open
 * refuses each with -EBADMSG naming the frame. (Bytes that do not hash to
 * the identity are skipped, not damage: the next test.) */
static void
test_store_values_damage(void **state)
{
    (void)state;
    TS_FRESH(25, 0);
    static struct ts_vfile vf;
    ts_value_file(&fs, s, &vf);
    static const char *const why[6] = {
        NULL,
        NULL,
        "value frame names no digest value",
        "value frame length and value length disagree",
        "value frame instance out of range",
        "value frame in a file of format version 1 or 2",
    };
    for (uint32_t bad = 2; bad < 7; bad++) {
        memcpy(vf.img, vf.orig, vf.len);
        ts_value_damage(vf.img, vf.at, vf.pay, bad);
        memfs_set_file(&fs, TS_PATH, vf.img, vf.len);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                         -EBADMSG);
        assert_int_equal(info.corrupt_offset, vf.at);
        assert_non_null(strstr(info.corrupt_reason, why[bad < 5 ? bad : 5]));
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EBADMSG);
        assert_null(s);
        char want[64];
        snprintf(want, sizeof(want), "offset %llu", (unsigned long long)vf.at);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, why[bad < 5 ? bad : 5]));
    }
    /* The original is intact. */
    memfs_set_file(&fs, TS_PATH, vf.orig, vf.len);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable_value *out = NULL;
    assert_int_equal(bpc_store_values(s, &out), 1);
    assert_int_equal(ts_value_count(out, 1, &vf.v), 1);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a value frame whose bytes do not hash to its identity (CRC-valid:
 * written that way, by a caller that appended another value's bytes under
 * this identity, which bpc_store_append_values does not hash to catch) is
 * skipped, counted in values_skipped, and the store opens with its
 * records: bpc_engine_restore_values would skip such a value too. Before,
 * the file was damage (-EBADMSG) and the party could never restart: the
 * store review's badval (append and sync returned 0). A byte of the value
 * and a byte of the digest, each resealed. */
static void
test_store_value_digest_mismatch_skipped(void **state)
{
    (void)state;
    TS_FRESH(25, 0);
    static struct ts_vfile vf;
    ts_value_file(&fs, s, &vf);
    for (uint32_t bad = 0; bad < 2; bad++) {
        memcpy(vf.img, vf.orig, vf.len);
        ts_value_damage(vf.img, vf.at, vf.pay, bad);
        memfs_set_file(&fs, TS_PATH, vf.img, vf.len);
        struct bpc_store_info info;
        int rc = bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err));
        print_message("mismatch %u: inspect %d (%s), %llu values, %llu skipped\n", bad, rc, err,
                      (unsigned long long)info.values, (unsigned long long)info.values_skipped);
        assert_int_equal(rc, 0);
        assert_int_equal(info.corrupt_offset, UINT64_MAX);
        assert_int_equal(info.values, 0);
        assert_int_equal(info.values_skipped, 1);
        assert_int_equal(info.records, 2);
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        const struct bpc_durable_value *out = NULL;
        assert_int_equal(bpc_store_values(s, &out), 0);
        const struct bpc_durable *recs = NULL;
        assert_int_equal(bpc_store_records(s, &recs), 2);
        bpc_store_close(s);
    }
    memfs_free(&fs);
}

/* The live values (export, restore) and what a compaction writes. */
static void
ts_expect_one_value(struct bpc_store *s, const struct bpc_durable_value *want, const char *when)
{
    const struct bpc_durable_value *out = NULL;
    uint32_t n = bpc_store_values(s, &out);
    bool right = n == 1 && memcmp(out[0].bytes, want->bytes, want->vid.len) == 0;
    print_message("%s: %u values, %s bytes\n", when, n, right ? "the right" : "not the right");
    assert_int_equal(n, 1);
    assert_int_equal(ts_value_count(out, n, want), 1);
}

/* Goal: wrong bytes appended first for a value (a caller's mistake that
 * bpc_store_append_values does not hash to catch), then the right bytes
 * in a later commit: the live values hold the right ones, so the export
 * hands them out, a compaction writes them and a reopen after it finds
 * them. Wrong bytes appended after the right ones do not replace them.
 * Before, the first bytes were kept: recovery of the log skipped the
 * wrong frame and found the right one, but the export handed out the
 * wrong bytes and the compaction wrote only them, so the acknowledged
 * right bytes were gone (review E's valdedup). */
static void
test_store_value_right_bytes_win(void **state)
{
    (void)state;
    TS_FRESH(26, 0);
    struct bpc_durable_value right = ts_value(0, 5, 100, 7);
    struct bpc_durable_value wrong = ts_value(1, 5, 100, 8);
    wrong.vid = right.vid; /* another value's bytes under right's name */
    struct bpc_durable recs[2] = {ts_party(0), ts_party(0)};
    recs[1].instance = 5;
    recs[1].max_vbal = 2;
    recs[1].max_vval = right.vid;
    const struct bpc_durable_value *order[3] = {&wrong, &right, &wrong};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(bpc_store_append(s, recs, 2), 0);
        assert_int_equal(bpc_store_append_values(s, order[k], 1), 0);
        assert_int_equal(bpc_store_sync(s), 0);
    }
    ts_expect_one_value(s, &right, "live, after wrong, right, wrong");
    assert_int_equal(bpc_store_compact(s), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->values_skipped, 0);
    ts_expect_one_value(s, &right, "reopened after the compaction");
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A version 2 file (no value frames) opened read-only, or inspected, is
 * left as it is; opened for writing it is rewritten as version 4 at once,
 * its records kept, and takes values. */
static void
test_store_values_upgrade_version_2(void **state)
{
    (void)state;
    TS_FRESH(26, 0);
    struct bpc_durable d[2] = {ts_party(4), ts_party(4)};
    d[1].instance = 5;
    d[1].max_vbal = 2;
    d[1].max_vval = ts_vid(3);
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &len);
    static uint8_t img[4096];
    assert_true(len <= sizeof(img));
    memcpy(img, f, len);
    const size_t v2_len = len;
    ts_set_version(img, 2);
    memfs_set_file(&fs, TS_PATH, img, len);

    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.records, 2);
    struct bpc_store_options ro = o;
    ro.read_only = true;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &ro, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->version, 2);
    const struct bpc_durable *recs = NULL;
    assert_int_equal(bpc_store_records(s, &recs), 2);
    struct bpc_durable_value v = ts_value(0, 5, 64, 7);
    assert_int_equal(bpc_store_append_values(s, &v, 1), -EROFS);
    bpc_store_close(s);
    f = memfs_file(&fs, TS_PATH, &len);
    assert_int_equal(len, v2_len);
    assert_memory_equal(f, img, len); /* untouched */

    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_info(s)->version, BPC_STORE_FORMAT_VERSION);
    assert_int_equal(memfs_file(&fs, TS_PATH, &len)[8], 4);
    assert_int_equal(bpc_store_records(s, &recs), 2);
    assert_true(ts_rec_eq(&recs[0], &d[1]));
    assert_true(ts_rec_eq(&recs[1], &d[0]));
    assert_int_equal(bpc_store_append_values(s, &v, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.version, 4);
    assert_int_equal(info.records, 2);
    assert_int_equal(info.values, 1);
    memfs_free(&fs);
}

/* A clean floor (a vote record's last history entry of kind NONE) says
 * format version 4: a build of version 3 from before clean floors would
 * call it damage, so it must find a version it refuses by name. A
 * version 3 file with one (the builds of 2026-12-04 wrote them) is read
 * and rewritten as version 4 by a writer; in a version 1 or 2 file one
 * is damage. Before: the file said version 3 ("0x3 != 0x4"). */
static void
test_store_clean_floor_says_version_4(void **state)
{
    (void)state;
    TS_FRESH(28, 0);
    struct bpc_durable d[2] = {ts_party(4), ts_party(4)};
    d[1].instance = 6;
    d[1].max_bal = 9;
    d[1].max_vbal = 2;
    d[1].max_vval = ts_vid(3);
    d[1].hist_count = 2;
    d[1].hist_bal[0] = 2;
    d[1].hist_val[0] = ts_vid(3);
    d[1].hist_bal[1] = 7; /* the clean floor */
    d[1].hist_val[1].kind = BPC_VALUE_NONE;
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &len);
    assert_int_equal(f[8], 4);
    static uint8_t img[4096];
    assert_true(len <= sizeof(img));
    memcpy(img, f, len);

    struct bpc_store_info info;
    ts_set_version(img, 2);
    memfs_set_file(&fs, TS_PATH, img, len);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(info.corrupt_reason, "clean floor in a file of format version 1 or 2"));

    ts_set_version(img, 3);
    memfs_set_file(&fs, TS_PATH, img, len);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.version, 3);
    assert_int_equal(info.records, 2);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(memfs_file(&fs, TS_PATH, &len)[8], 4);
    const struct bpc_durable *recs = NULL;
    assert_int_equal(bpc_store_records(s, &recs), 2);
    assert_true(ts_rec_eq(&recs[0], &d[1]));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* bpc_store_append_values refuses, buffering nothing, what the format
 * cannot hold: an inline value (its bytes are in its identity), a digest
 * of more than BPC_VALUE_BYTES_MAX or of 32 bytes or fewer, a pad byte, no
 * bytes, an instance of the apply-state records'. */
static void
test_store_append_values_refuses(void **state)
{
    (void)state;
    TS_FRESH(27, 0);
    struct bpc_durable_value good = ts_value(0, 3, 120, 1);
    for (uint32_t bad = 0; bad < 7; bad++) {
        struct bpc_durable_value v = ts_value(1, 4, 120, 2);
        if (bad == 0) {
            bpc_vid_of(&v.vid, v.bytes, 20); /* INLINE, 20 bytes */
            assert_int_equal(v.vid.kind, BPC_VALUE_INLINE);
        } else if (bad == 1) {
            v.vid.len = BPC_VALUE_BYTES_MAX + 1u;
        } else if (bad == 2) {
            v.vid.len = BPC_VALUE_INLINE_MAX;
        } else if (bad == 3) {
            v.vid.pad = 1;
        } else if (bad == 4) {
            v.bytes = NULL;
        } else if (bad == 5) {
            v.instance = BPC_DURABLE_APPLIED_BASE;
        } else {
            v.vid.kind = BPC_VALUE_NOOP;
        }
        /* A good value before the bad one is not buffered either. */
        struct bpc_durable_value two[2] = {good, v};
        assert_int_equal(bpc_store_append_values(s, two, 2), -EINVAL);
    }
    const struct bpc_durable_value *out = NULL;
    assert_int_equal(bpc_store_values(s, &out), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_int_equal(st.syncs, 0); /* nothing was buffered */
    assert_int_equal(st.file_bytes, BPC_STORE_HEADER_BYTES);
    assert_false(st.failed);
    /* And the store takes a good one after (with the vote naming it). */
    struct bpc_durable d[2] = {ts_party(0), ts_party(0)};
    d[1].instance = 3;
    d[1].max_vbal = 1;
    d[1].max_vval = good.vid;
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    assert_int_equal(bpc_store_append_values(s, &good, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_values(s, &out), 1);
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_values_round_trip),
        cmocka_unit_test(test_store_values_of_decided_records),
        cmocka_unit_test(test_store_values_survive_compaction),
        cmocka_unit_test(test_store_values_torn_tail),
        cmocka_unit_test(test_store_values_damage),
        cmocka_unit_test(test_store_value_digest_mismatch_skipped),
        cmocka_unit_test(test_store_value_right_bytes_win),
        cmocka_unit_test(test_store_values_upgrade_version_2),
        cmocka_unit_test(test_store_clean_floor_says_version_4),
        cmocka_unit_test(test_store_append_values_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
