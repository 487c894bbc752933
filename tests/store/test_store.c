/*
 * test_store.c - the durable vote store (engine/src/store.c, libbpcon-store).
 *
 * Goal: every field of struct bpc_durable survives a round trip through
 * the file in an explicit little-endian layout; a store of another
 * cluster, party, configuration or format version is refused with a
 * message naming the mismatch; a torn tail of every length (and a
 * zero-filled one) is reported, cut off and never loaded; a flipped bit at
 * every byte of a small store is refused naming the damaged frame's
 * offset; a failure injected at every mutating I/O call of creation,
 * appends and compactions, followed by power loss, loses no acknowledged
 * record and loads nothing that was never written; a million instances'
 * worth of records keeps the file within a bound set by the window; and
 * the bytes of DIGEST values (format version 3) round-trip with the
 * records that name them, survive compaction while their instance is at
 * or above the floor, are cut off with a torn commit, and are damage when
 * they do not hash to their identity.
 * Method: an in-memory file system (memfs.c) with a durable image per
 * file and per directory, counted fault injection and power loss; a model
 * of what was acknowledged (sync returned 0) and of what was attempted;
 * synthetic records shaped like the engine's (a party-wide record with the
 * floor in every commit, per-instance vote records, apply-state records).
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
#include <sys/stat.h>
#include <unistd.h>

#include "bpcon_store.h"
#include "memfs.h"

#define TS_PATH "/m/store"
#define TS_TMP "/m/store.tmp"
#define TS_WINDOW 8u
#define TS_PARTIES 4u
/* Fault scenario: steps of the workload and the compaction threshold that
 * makes it compact every few steps. */
#define TS_STEPS 48u
#define TS_COMPACT_BYTES 4096u
#define TS_INSTANCES (TS_STEPS + 2u)
/* Bounded-size run. */
#define TS_BIG_INSTANCES 1000000u
#define TS_BIG_WINDOW 64u

static void
ts_config(struct bpc_config *cfg, uint32_t window)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 7;
    cfg->parties_count = TS_PARTIES;
    cfg->self = 1;
    cfg->window_slots = window;
    cfg->frame_bytes = BPC_FRAME_BYTES_MAX;     /* room for the largest value */
    cfg->value_bytes_max = BPC_VALUE_BYTES_MAX; /* the values the tests store */
}

static struct bpc_store_options
ts_opts(struct memfs *fs, uint64_t compact_bytes)
{
    struct bpc_store_options o = {.io = &fs->io, .compact_bytes = compact_bytes};
    return o;
}

/* A file system, configuration and options, no store opened yet. */
#define TS_SETUP(seed, compact)                                                                    \
    struct memfs fs;                                                                               \
    memfs_init(&fs, (seed));                                                                       \
    struct bpc_config cfg;                                                                         \
    ts_config(&cfg, TS_WINDOW);                                                                    \
    struct bpc_store_options o = ts_opts(&fs, (compact));                                          \
    char err[512] = "";                                                                            \
    struct bpc_store *s = NULL

#define TS_FRESH(seed, compact)                                                                    \
    TS_SETUP(seed, compact);                                                                       \
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0)

static bool
ts_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b)
{
    return a->kind == b->kind && a->pad == b->pad && a->len == b->len &&
           memcmp(a->id, b->id, sizeof(a->id)) == 0;
}

/* Field by field: every field of struct bpc_durable. */
static bool
ts_rec_eq(const struct bpc_durable *a, const struct bpc_durable *b)
{
    bool eq = a->instance == b->instance && a->max_bal == b->max_bal &&
              a->incarnation == b->incarnation && a->floor == b->floor &&
              a->applied_seq == b->applied_seq && a->max_vbal == b->max_vbal &&
              ts_vid_eq(&a->max_vval, &b->max_vval) && a->hist_count == b->hist_count &&
              a->decided == b->decided && a->dec_bal == b->dec_bal && a->dec_keep == b->dec_keep &&
              ts_vid_eq(&a->dec_val, &b->dec_val);
    for (uint32_t h = 0; eq && h < BPC_HISTORY_MAX; h++) {
        eq = a->hist_bal[h] == b->hist_bal[h] && ts_vid_eq(&a->hist_val[h], &b->hist_val[h]);
    }
    return eq;
}

/* Sets the format version of a file header h and seals it again (its
 * CRC over bytes 0..75 at offset 76). */
static void
ts_set_version(uint8_t *h, uint8_t version)
{
    h[8] = version;
    uint32_t crc = bpc_store_crc32c(h, 76);
    for (uint32_t i = 0; i < 4; i++) {
        h[76 + i] = (uint8_t)(crc >> (8 * i));
    }
}

static struct bpc_vid
ts_vid(uint64_t tag)
{
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = tag % 3 == 0 ? BPC_VALUE_DIGEST : BPC_VALUE_INLINE;
    v.len = (uint16_t)(v.kind == BPC_VALUE_DIGEST ? 100u + tag % 900u : 1u + tag % 32u);
    for (uint32_t i = 0; i < (v.kind == BPC_VALUE_DIGEST ? 32u : v.len); i++) {
        v.id[i] = (uint8_t)(tag * 131u + i * 7u + 1u);
    }
    return v;
}

/* ------------------------------------------------------------------------
 * The model: what a store must give back.
 * ---------------------------------------------------------------------- */

struct ts_model {
    bool has_pw;
    struct bpc_durable pw;
    bool has_vote[TS_INSTANCES];
    struct bpc_durable vote[TS_INSTANCES];
    bool has_applied[TS_PARTIES];
    struct bpc_durable applied[TS_PARTIES];
    bool has_app;
    uint64_t app_floor;
    uint32_t app_len;
    uint8_t app[32];
    uint64_t floor;
};

/* One commit of step k, shaped like the engine's: the party-wide record
 * first, a 2av for instance k, a 2b for k - 1, now and then an apply-state
 * record; every fourth step the application state as of the floor. */
static uint32_t
ts_batch(uint64_t k, struct bpc_durable *recs, struct ts_model *m)
{
    uint64_t ballot = 1u + k / 7u;
    uint64_t floor = k >= 2 ? k - 2 : 0;
    uint32_t n = 0;
    struct bpc_durable *d = &recs[n++];
    memset(d, 0, sizeof(*d));
    d->instance = UINT64_MAX;
    d->max_bal = ballot;
    d->incarnation = 3;
    d->floor = floor;
    for (uint64_t i = k > 0 ? k - 1 : 0; i <= k; i++) {
        d = &recs[n++];
        *d = recs[0];
        d->instance = i;
        d->hist_count = 1;
        d->hist_bal[0] = ballot;
        d->hist_val[0] = ts_vid(i);
        if (i + 1 == k) {
            d->max_vbal = ballot;
            d->max_vval = ts_vid(i);
        }
    }
    if (k % 3 == 0) {
        d = &recs[n++];
        *d = recs[0];
        d->instance = BPC_DURABLE_APPLIED_BASE + k % TS_PARTIES;
        d->applied_seq = k * 10u;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct bpc_durable *r = &recs[i];
        if (r->instance == UINT64_MAX) {
            m->pw = *r;
            m->has_pw = true;
        } else if (r->instance >= BPC_DURABLE_APPLIED_BASE) {
            m->applied[r->instance - BPC_DURABLE_APPLIED_BASE] = *r;
            m->has_applied[r->instance - BPC_DURABLE_APPLIED_BASE] = true;
        } else {
            m->vote[r->instance] = *r;
            m->has_vote[r->instance] = true;
        }
    }
    m->floor = floor;
    return n;
}

static void
ts_app(uint64_t k, struct ts_model *m)
{
    m->has_app = true;
    m->app_floor = m->floor;
    m->app_len =
        (uint32_t)snprintf((char *)m->app, sizeof(m->app), "app state %llu", (unsigned long long)k);
}

/* Is the record the acknowledged (a) or the attempted (w) version? */
static bool
ts_one_of(const struct bpc_durable *r, bool ha, const struct bpc_durable *a, bool hw,
          const struct bpc_durable *w)
{
    return (ha && ts_rec_eq(r, a)) || (hw && ts_rec_eq(r, w));
}

/* What was recovered must hold everything acknowledged (a) and nothing but
 * acknowledged or attempted (w) versions. */
static void
ts_check_recovered(struct bpc_store *s, const struct ts_model *a, const struct ts_model *w)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    uint64_t floor = 0;
    bool pw = false;
    for (uint32_t i = 0; i < n; i++) {
        const struct bpc_durable *r = &recs[i];
        floor = r->floor > floor ? r->floor : floor;
        if (r->instance == UINT64_MAX) {
            pw = true;
            assert_true(ts_one_of(r, a->has_pw, &a->pw, w->has_pw, &w->pw));
        } else if (r->instance >= BPC_DURABLE_APPLIED_BASE) {
            uint64_t sub = r->instance - BPC_DURABLE_APPLIED_BASE;
            assert_true(sub < TS_PARTIES);
            assert_true(ts_one_of(r, a->has_applied[sub], &a->applied[sub], w->has_applied[sub],
                                  &w->applied[sub]));
        } else {
            assert_true(r->instance < TS_INSTANCES);
            assert_true(ts_one_of(r, a->has_vote[r->instance], &a->vote[r->instance],
                                  w->has_vote[r->instance], &w->vote[r->instance]));
        }
    }
    assert_true(pw == a->has_pw || (!a->has_pw && w->has_pw));
    assert_true(floor >= a->floor);
    for (uint64_t i = floor; i < TS_INSTANCES; i++) {
        bool found = false;
        for (uint32_t j = 0; j < n; j++) {
            found = found || recs[j].instance == i;
        }
        assert_true(!a->has_vote[i] || found); /* an acknowledged vote at or above the floor */
    }
    for (uint32_t sub = 0; sub < TS_PARTIES; sub++) {
        bool found = false;
        for (uint32_t j = 0; j < n; j++) {
            found = found || recs[j].instance == BPC_DURABLE_APPLIED_BASE + sub;
        }
        assert_true(!a->has_applied[sub] || found);
    }
    uint64_t af = 0;
    const uint8_t *ab = NULL;
    uint32_t al = 0;
    int rc = bpc_store_app(s, &af, &ab, &al);
    if (a->has_app) {
        assert_int_equal(rc, 0);
    }
    if (rc == 0) {
        bool is_a =
            a->has_app && af == a->app_floor && al == a->app_len && memcmp(ab, a->app, al) == 0;
        bool is_w =
            w->has_app && af == w->app_floor && al == w->app_len && memcmp(ab, w->app, al) == 0;
        assert_true(is_a || is_w);
    }
}

/* ------------------------------------------------------------------------
 * Round trip, layout, identity.
 * ---------------------------------------------------------------------- */

static void
test_store_crc32c_check_value(void **state)
{
    (void)state;
    /* The CRC32C (Castagnoli) check value of "123456789". */
    assert_int_equal(bpc_store_crc32c("123456789", 9), 0xe3069283u);
}

/* The records of the round trip: a party-wide record with every field set
 * (instance UINT64_MAX), and two votes with a full history, the second
 * with a NOOP value. */
static void
ts_every_field(struct bpc_durable *in)
{
    memset(in, 0, 3 * sizeof(*in));
    in[0].instance = UINT64_MAX;
    in[0].max_bal = 0x0102030405060708ull;
    in[0].incarnation = 0xfe1718u; /* at most BPC_INCARNATION_MAX (2^24 - 2) */
    in[0].floor = 5;
    for (uint32_t i = 1; i < 3; i++) {
        in[i] = in[0];
        in[i].instance = 4u + i;
        in[i].applied_seq = 0xa1a2a3a4a5a6a7a8ull + i;
        in[i].max_vbal = 0x0101b3b4b5b6b7b8ull - i; /* at most max_bal */
        in[i].max_vval = ts_vid(i);
        in[i].hist_count = BPC_HISTORY_MAX;
        for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
            in[i].hist_bal[h] = 1000u * i + h;
            in[i].hist_val[h] = ts_vid(10u * i + h);
        }
    }
    memset(&in[2].max_vval, 0, sizeof(in[2].max_vval));
    in[2].max_vval.kind = BPC_VALUE_NOOP; /* empty, as the wire has it */
}

/* The layout of the round trip's file is explicit little-endian, not the
 * struct's memory: magic, version, cluster, party, the first record's
 * instance and ballot, and the file's length. */
static void
ts_check_layout(const struct memfs *fs)
{
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    assert_non_null(f);
    assert_memory_equal(f, "bpcstore", 8);
    assert_int_equal(f[8], BPC_STORE_FORMAT_VERSION);
    assert_int_equal(f[16], 7); /* cluster id, LE */
    assert_int_equal(f[24], 1); /* party */
    size_t rec0 = BPC_STORE_HEADER_BYTES + BPC_STORE_FRAME_HEADER_BYTES + 16u + 3u;
    assert_int_equal(f[rec0 + 4], BPC_STORE_FRAME_RECORD);
    const uint8_t *p = f + rec0 + BPC_STORE_FRAME_HEADER_BYTES;
    assert_memory_equal(p, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    assert_memory_equal(p + 8, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(len, BPC_STORE_HEADER_BYTES + BPC_STORE_FRAME_HEADER_BYTES + 19u +
                              3u * (BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES));
}

static void
test_store_roundtrip_every_field(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 1);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable in[3];
    ts_every_field(in);
    assert_int_equal(bpc_store_put_app(s, 5, "xyz", 3), 0);
    assert_int_equal(bpc_store_append(s, in, 3), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);

    /* The layout is explicit little-endian, not the struct's memory. */
    ts_check_layout(&fs);

    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable *out = NULL;
    assert_int_equal(bpc_store_records(s, &out), 3);
    /* Sorted by instance: the two votes, then the party-wide record. */
    assert_true(ts_rec_eq(&out[0], &in[1]));
    assert_true(ts_rec_eq(&out[1], &in[2]));
    assert_true(ts_rec_eq(&out[2], &in[0]));
    uint64_t af = 0;
    const uint8_t *ab = NULL;
    uint32_t al = 0;
    assert_int_equal(bpc_store_app(s, &af, &ab, &al), 0);
    assert_int_equal(af, 5);
    assert_int_equal(al, 3);
    assert_memory_equal(ab, "xyz", 3);
    const struct bpc_store_info *info = bpc_store_info(s);
    assert_int_equal(info->records, 3);
    assert_int_equal(info->app_records, 1);
    assert_int_equal(info->commits, 1);
    assert_int_equal(info->torn_bytes, 0);
    assert_int_equal(info->max_ballot, in[0].max_bal);
    bpc_store_close(s);
    memfs_free(&fs);
}

static void
test_store_refuses_other_identity(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 2);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[512] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);

    struct bpc_config other = cfg;
    other.cluster_id = 8;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &other, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cluster 7, not to this cluster 8"));
    other = cfg;
    other.self = 2;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &other, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "party 1, not to this party 2"));
    other = cfg;
    other.weights[3] = 2;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &other, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "configuration digest"));
    /* Timers and keys are no part of the digest: the same store. */
    other = cfg;
    other.ballot_timeout_ns *= 2;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &other, &o, err, sizeof(err)), 0);
    bpc_store_close(s);

    /* Another format version, with a valid header checksum. */
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &len);
    uint8_t h[BPC_STORE_HEADER_BYTES];
    memcpy(h, f, sizeof(h));
    static const uint8_t versions[] = {0, BPC_STORE_FORMAT_VERSION + 1};
    for (uint32_t k = 0; k < sizeof(versions); k++) {
        ts_set_version(h, versions[k]);
        memfs_set_file(&fs, TS_PATH, h, sizeof(h));
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EPROTONOSUPPORT);
        char want[32];
        snprintf(want, sizeof(want), "format version %u,", versions[k]);
        assert_non_null(strstr(err, want));
    }
    memfs_free(&fs);
}

/* Seals a frame again after its payload was edited: the payload's CRC,
 * then the header's (the format's layout: store_format.c). */
static void
ts_reseal(uint8_t *f)
{
    uint32_t plen =
        (uint32_t)f[8] | (uint32_t)f[9] << 8 | (uint32_t)f[10] << 16 | (uint32_t)f[11] << 24;
    uint32_t crc = bpc_store_crc32c(f + BPC_STORE_FRAME_HEADER_BYTES, plen);
    for (uint32_t i = 0; i < 4; i++) {
        f[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    crc = bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4);
    for (uint32_t i = 0; i < 4; i++) {
        f[i] = (uint8_t)(crc >> (8 * i));
    }
}

/* The records of the decided-records test: the party-wide record (floor
 * 20), instances 10 and 11 decided and kept up to floors 30 and 40, and a
 * vote below the floor (12). */
static void
ts_decided_inputs(struct bpc_durable *in)
{
    memset(in, 0, 4 * sizeof(*in));
    in[0].instance = UINT64_MAX;
    in[0].max_bal = 4; /* every vote ballot at most the promise */
    in[0].floor = 20;
    in[1] = in[0];
    in[1].instance = 10; /* decided, kept up to floor 30 */
    in[1].max_vbal = 3;
    in[1].max_vval = ts_vid(3);
    in[1].decided = 1;
    in[1].dec_bal = 4;
    in[1].dec_val = ts_vid(4);
    in[1].dec_keep = 30;
    in[2] = in[1];
    in[2].instance = 11; /* decided, kept up to floor 40 */
    in[2].dec_keep = 40;
    in[3] = in[0];
    in[3].instance = 12; /* a vote below the floor: dropped */
    in[3].max_vbal = 2;
    in[3].max_vval = ts_vid(5);
}

/* Damage: the decided flag on a record at its floor, or beside a history.
 * The compacted file holds the records by instance: the decided record of
 * 11 is the first frame after the file header. And a value identity of a
 * shape no engine writes (an inline value of more than 32 bytes), or a
 * ballot above BPC_BALLOT_MAX: a 1b built from either would be malformed.
 * Each is refused naming that frame. */
static void
ts_decided_damage(struct memfs *fs, char *err, size_t err_len)
{
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    size_t rec = BPC_STORE_HEADER_BYTES + BPC_STORE_FRAME_HEADER_BYTES;
    uint8_t img[4096];
    static uint8_t orig[4096]; /* memfs_set_file below replaces f's bytes */
    assert_true(len <= sizeof(img) && rec + BPC_STORE_RECORD_BYTES <= len);
    memcpy(orig, f, len);
    assert_int_equal(orig[rec + 85], 1);
    static const char *const why[4] = {"decided record", "decided record",
                                       "value identity malformed", "ballot above"};
    for (int bad = 0; bad < 4; bad++) {
        memcpy(img, orig, len);
        if (bad == 0) {
            img[rec + 24] = 11; /* floor 11: not above instance 11 */
            memset(img + rec + 25, 0, 7);
        } else if (bad == 1) {
            img[rec + 84] = 1; /* a history count */
        } else if (bad == 2) {
            assert_int_equal(img[rec + 48], BPC_VALUE_DIGEST); /* max_vval: 103 bytes */
            img[rec + 48] = BPC_VALUE_INLINE;
        } else {
            img[rec + 47] = 0x40; /* max_vbal 2^62 + 3: above BPC_BALLOT_MAX */
        }
        ts_reseal(img + rec - BPC_STORE_FRAME_HEADER_BYTES);
        memfs_set_file(fs, TS_PATH, img, len);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs->io, &info, NULL, NULL, err, err_len),
                         -EBADMSG);
        assert_int_equal(info.corrupt_offset, rec - BPC_STORE_FRAME_HEADER_BYTES);
        assert_non_null(strstr(info.corrupt_reason, why[bad]));
    }
}

/* A version 1 file of the party-wide record pw, on the fresh fs:
 * read-only opens leave it; a writer rewrites it as the current version,
 * the record kept. */
static void
ts_decided_version_1(struct memfs *fs, const struct bpc_config *cfg, const struct bpc_durable *pw,
                     char *err, size_t err_len)
{
    struct bpc_store_options o = ts_opts(fs, 0);
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, &o, err, err_len), 0);
    assert_int_equal(bpc_store_append(s, pw, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    uint8_t img[4096];
    memcpy(img, f, len);
    ts_set_version(img, 1);
    memfs_set_file(fs, TS_PATH, img, len);
    struct bpc_store_options ro = o;
    ro.read_only = true;
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, &ro, err, err_len), 0);
    assert_int_equal(bpc_store_info(s)->version, 1);
    const struct bpc_durable *out = NULL;
    assert_int_equal(bpc_store_records(s, &out), 1);
    bpc_store_close(s);
    assert_int_equal(memfs_file(fs, TS_PATH, &len)[8], 1);
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, &o, err, err_len), 0);
    assert_int_equal(bpc_store_info(s)->version, BPC_STORE_FORMAT_VERSION);
    assert_int_equal(bpc_store_records(s, &out), 1);
    assert_true(ts_rec_eq(&out[0], pw));
    bpc_store_close(s);
    assert_int_equal(memfs_file(fs, TS_PATH, &len)[8], BPC_STORE_FORMAT_VERSION);
}

/* Decided records (format version 2): a decided instance below the floor
 * keeps its value's identity and the party's own vote, and the store keeps
 * it while the floor is at most dec_keep, where a vote record below the
 * floor is dropped; its bytes round-trip, and a record that claims to be
 * decided at or above its floor, or with a history, is damage, as is a
 * value identity of a shape no engine writes (accepted before). A version 1
 * file (no decided records) opens read-only as it is, and is rewritten as
 * the current version (3) when opened for writing, its records kept. */
static void
test_store_decided_records(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 1);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable in[4];
    ts_decided_inputs(in);
    assert_int_equal(bpc_store_append(s, in, 4), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    const struct bpc_durable *out = NULL;
    assert_int_equal(bpc_store_records(s, &out), 3);
    assert_true(ts_rec_eq(&out[0], &in[1]));
    assert_true(ts_rec_eq(&out[1], &in[2]));
    bpc_store_close(s);
    /* Read back from the file: the same records. */
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_records(s, &out), 3);
    assert_true(ts_rec_eq(&out[0], &in[1]));
    assert_true(ts_rec_eq(&out[1], &in[2]));
    /* The floor moves to 31: instance 10 (kept to 30) goes, 11 stays. */
    struct bpc_durable pw = in[0];
    pw.floor = 31;
    assert_int_equal(bpc_store_append(s, &pw, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_compact(s), 0);
    assert_int_equal(bpc_store_records(s, &out), 2);
    assert_true(ts_rec_eq(&out[0], &in[2]));
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_records(s, &out), 2);
    assert_true(ts_rec_eq(&out[0], &in[2]));
    bpc_store_close(s);

    /* Damage: the decided flag on a record at its floor, or beside a
     * history, a malformed value identity, a ballot above the range. */
    ts_decided_damage(&fs, err, sizeof(err));

    /* A version 1 file: read-only opens leave it; a writer rewrites it. */
    memfs_free(&fs);
    memfs_init(&fs, 1);
    ts_decided_version_1(&fs, &cfg, &in[0], err, sizeof(err));
    memfs_free(&fs);
}

/* The POSIX table on the real file system: a store path that names a FIFO
 * (or a device) is refused, not waited on and not replaced. Before, a
 * FIFO's size 0 made open create a new store and rename it over the path
 * (as root, --store /dev/null would have replaced /dev/null), and
 * bpc_store_inspect blocked reading it. */
static void
test_store_refuses_non_regular_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/bpc-store-fifo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/store", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = {0};
    char err[512] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "not a regular file"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    o.read_only = true;
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), -EINVAL);
    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(path, NULL, &info, NULL, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    /* A regular file there is a store as before. */
    assert_int_equal(unlink(path), 0);
    o.read_only = false;
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_inspect(path, NULL, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* An empty file at the path is damage, as bpcon-store check says: the
 * store only renames complete files into place, so something else
 * emptied it, and it may have held votes. Before, open took it for a new
 * store and wrote a header into it. Left as it is; an empty path and
 * one too long are named as such. */
static void
test_store_refuses_empty_file(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 4);
    memfs_set_file(&fs, TS_PATH, (const uint8_t *)"", 0);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[512] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EBADMSG);
    assert_null(s);
    assert_non_null(strstr(err, "empty file"));
    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                     -EBADMSG); /* still there, still empty */
    assert_string_equal(info.corrupt_reason, "empty file (no store header)");
    assert_int_equal(bpc_store_open(&s, "", &cfg, &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "empty path");
    char longp[5000];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(bpc_store_open(&s, longp, &cfg, &o, err, sizeof(err)), -ENAMETOOLONG);
    assert_non_null(strstr(err, "path too long (4999 bytes"));
    memfs_free(&fs);
}

static void
test_store_removes_leftover_tmp(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 3);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"half a compaction", 17);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    size_t len = 0;
    assert_null(memfs_file(&fs, TS_TMP, &len));
    assert_non_null(memfs_file(&fs, TS_PATH, &len));
    assert_int_equal(len, BPC_STORE_HEADER_BYTES);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a writable open removes a leftover PATH.tmp only once PATH was
 * read as this party's store. PATH holding some other file (a mistyped
 * --store) is refused, and that file's neighbour PATH.tmp is left alone;
 * an existing store's leftover PATH.tmp is still removed. Before, the
 * refused open had already deleted it (the store review's tmpwipe:
 * notes.txt and notes.txt.tmp, the latter gone). */
static void
test_store_refused_open_keeps_tmp(void **state)
{
    (void)state;
    TS_SETUP(3, 0);
    memfs_set_file(&fs, TS_PATH, (const uint8_t *)"someone's notes", 15);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"their draft", 11);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), -EBADMSG);
    size_t len = 0;
    const uint8_t *tmp = memfs_file(&fs, TS_TMP, &len);
    print_message("refused open (%s): %s.tmp %s\n", err, TS_PATH, tmp ? "kept" : "removed");
    assert_non_null(tmp);
    assert_int_equal(len, 11);
    /* A store of this party with a leftover PATH.tmp: removed. */
    memfs_free(&fs);
    memfs_init(&fs, 3);
    o = ts_opts(&fs, 0);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    memfs_set_file(&fs, TS_TMP, (const uint8_t *)"half a compaction", 17);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_null(memfs_file(&fs, TS_TMP, &len));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* ------------------------------------------------------------------------
 * Torn tails and damage.
 * ---------------------------------------------------------------------- */

/* A small store of `commits` commits; boundaries[i] is the file size after
 * commit i (boundaries[0] the bare header), recs[i] the records through it. */
static uint8_t *
ts_small_store(uint32_t commits, uint64_t *boundaries, uint32_t *recs, size_t *len)
{
    struct memfs fs;
    memfs_init(&fs, 4);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    boundaries[0] = BPC_STORE_HEADER_BYTES;
    recs[0] = 0;
    for (uint32_t k = 0; k < commits; k++) {
        struct bpc_durable b[8];
        uint32_t n = ts_batch(k, b, &m);
        if (k % 2 == 1) {
            ts_app(k, &m);
            assert_int_equal(bpc_store_put_app(s, m.app_floor, m.app, m.app_len), 0);
        }
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        struct bpc_store_stats st;
        bpc_store_stats(s, &st);
        boundaries[k + 1] = st.file_bytes;
        recs[k + 1] = recs[k] + n;
    }
    bpc_store_close(s);
    const uint8_t *f = memfs_file(&fs, TS_PATH, len);
    uint8_t *copy = malloc(*len);
    assert_non_null(copy);
    memcpy(copy, f, *len);
    memfs_free(&fs);
    return copy;
}

/* Opens an image through memfs; returns open's rc (store closed). */
static int
ts_open_image(const uint8_t *img, size_t len, char *err, size_t err_len, uint32_t *records,
              size_t *after)
{
    struct memfs fs;
    memfs_init(&fs, 5);
    memfs_set_file(&fs, TS_PATH, img, len);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, err_len);
    if (rc == 0) {
        *records = (uint32_t)bpc_store_info(s)->records;
        /* Appending after recovery works and lands after the cut. */
        struct ts_model m;
        memset(&m, 0, sizeof(m));
        struct bpc_durable b[8];
        uint32_t n = ts_batch(40, b, &m);
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        bpc_store_close(s);
        memfs_file(&fs, TS_PATH, after);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, err_len), 0);
        assert_int_equal(info.torn_bytes, 0);
        assert_int_equal(info.records, *records + n);
    }
    memfs_free(&fs);
    return rc;
}

static void
test_store_torn_tail_every_length(void **state)
{
    (void)state;
    uint64_t bound[8];
    uint32_t recs[8];
    size_t full = 0;
    uint8_t *img = ts_small_store(5, bound, recs, &full);
    char err[256];
    for (size_t len = BPC_STORE_HEADER_BYTES; len <= full; len++) {
        uint32_t c = 0;
        while (c < 5 && bound[c + 1] <= len) {
            c++;
        }
        struct memfs fs;
        memfs_init(&fs, 6);
        memfs_set_file(&fs, TS_PATH, img, len);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                         0);
        memfs_free(&fs);
        assert_int_equal(info.valid_bytes, bound[c]);
        assert_int_equal(info.torn_bytes, len - bound[c]);
        assert_int_equal(info.records, recs[c]);
        assert_int_equal(info.corrupt_offset, UINT64_MAX);
        uint32_t loaded = 0;
        size_t after = 0;
        assert_int_equal(ts_open_image(img, len, err, sizeof(err), &loaded, &after), 0);
        assert_int_equal(loaded, recs[c]);
        assert_true(after > bound[c]);
    }
    /* Shorter than a header: damage at offset 0, refused. */
    for (size_t len = 1; len < BPC_STORE_HEADER_BYTES; len++) {
        uint32_t loaded = 0;
        size_t after = 0;
        assert_int_equal(ts_open_image(img, len, err, sizeof(err), &loaded, &after), -EBADMSG);
        assert_non_null(strstr(err, "offset 0"));
    }
    free(img);
}

static void
test_store_zero_filled_tail(void **state)
{
    (void)state;
    uint64_t bound[8];
    uint32_t recs[8];
    size_t full = 0;
    uint8_t *img = ts_small_store(3, bound, recs, &full);
    uint8_t *big = calloc(full + 700u, 1);
    assert_non_null(big);
    memcpy(big, img, full);
    char err[256];
    for (size_t z = 1; z <= 700u; z += 13u) {
        uint32_t loaded = 0;
        size_t after = 0;
        assert_int_equal(ts_open_image(big, full + z, err, sizeof(err), &loaded, &after), 0);
        assert_int_equal(loaded, recs[3]);
        struct memfs fs;
        memfs_init(&fs, 7);
        memfs_set_file(&fs, TS_PATH, big, full + z);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                         0);
        assert_int_equal(info.torn_bytes, z);
        memfs_free(&fs);
    }
    free(big);
    free(img);
}

/* The frame containing byte `at` (0: the file header). */
static uint64_t
ts_frame_of(const uint8_t *img, size_t len, size_t at)
{
    if (at < BPC_STORE_HEADER_BYTES) {
        return 0;
    }
    uint64_t off = BPC_STORE_HEADER_BYTES;
    while (off < len) {
        uint32_t plen = (uint32_t)img[off + 8] | (uint32_t)img[off + 9] << 8 |
                        (uint32_t)img[off + 10] << 16 | (uint32_t)img[off + 11] << 24;
        uint64_t end = off + BPC_STORE_FRAME_HEADER_BYTES + plen;
        if (at < end) {
            return off;
        }
        off = end;
    }
    return UINT64_MAX;
}

static void
test_store_bit_flip_every_byte(void **state)
{
    (void)state;
    uint64_t bound[8];
    uint32_t recs[8];
    size_t full = 0;
    uint8_t *img = ts_small_store(4, bound, recs, &full);
    uint8_t *bad = malloc(full);
    assert_non_null(bad);
    char err[256];
    for (size_t at = 0; at < full; at++) {
        uint64_t frame = ts_frame_of(img, full, at);
        for (uint32_t bit = 0; bit < 8; bit++) {
            memcpy(bad, img, full);
            bad[at] ^= (uint8_t)(1u << bit);
            struct memfs fs;
            memfs_init(&fs, 8);
            memfs_set_file(&fs, TS_PATH, bad, full);
            struct bpc_store_info info;
            int rc = bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err));
            memfs_free(&fs);
            assert_int_equal(rc, -EBADMSG);
            assert_int_equal(info.corrupt_offset, frame);
            assert_int_equal(info.torn_bytes, 0);
            assert_true(info.valid_bytes <= frame || frame == 0);
        }
        /* And open refuses it, naming the offset. */
        memcpy(bad, img, full);
        bad[at] ^= (uint8_t)(1u << (at % 8u));
        uint32_t loaded = 0;
        size_t after = 0;
        assert_int_equal(ts_open_image(bad, full, err, sizeof(err), &loaded, &after), -EBADMSG);
        char want[64];
        snprintf(want, sizeof(want), "offset %llu", (unsigned long long)frame);
        assert_non_null(strstr(err, want));
    }
    free(bad);
    free(img);
}

/* ------------------------------------------------------------------------
 * Value frames (format version 3).
 * ---------------------------------------------------------------------- */

/* Value bytes the tests name: one buffer per slot, long enough for the
 * largest value. */
#define TS_VALUE_SLOTS 16u
/* The prologue the value tests share: in-memory file system fs (seed),
 * configuration cfg, options o (compaction threshold), and store s opened
 * on them, err for messages. */

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

/* A party-wide record with this floor (what moves the store's floor). */
static struct bpc_durable
ts_party(uint64_t floor)
{
    struct bpc_durable d;
    memset(&d, 0, sizeof(d));
    d.instance = UINT64_MAX;
    d.max_bal = 2;
    d.floor = floor;
    return d;
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
 * identity | bytes, in a format version 3 file. */
static void
ts_check_value_layout(const struct memfs *fs, const struct bpc_durable_value *in0)
{
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    assert_int_equal(f[8], 3);
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

/* A file of one party-wide record and one value frame (v): its bytes in
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
    struct bpc_durable d = ts_party(0);
    vf->v = ts_value(0, 6, 200, 9);
    assert_int_equal(bpc_store_append(s, &d, 1), 0);
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
        assert_int_equal(info.records, 1);
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
        const struct bpc_durable_value *out = NULL;
        assert_int_equal(bpc_store_values(s, &out), 0);
        const struct bpc_durable *recs = NULL;
        assert_int_equal(bpc_store_records(s, &recs), 1);
        bpc_store_close(s);
    }
    memfs_free(&fs);
}

/* A version 2 file (no value frames) opened read-only, or inspected, is
 * left as it is; opened for writing it is rewritten as version 3 at once,
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
    assert_int_equal(memfs_file(&fs, TS_PATH, &len)[8], 3);
    assert_int_equal(bpc_store_records(s, &recs), 2);
    assert_true(ts_rec_eq(&recs[0], &d[1]));
    assert_true(ts_rec_eq(&recs[1], &d[0]));
    assert_int_equal(bpc_store_append_values(s, &v, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.version, 3);
    assert_int_equal(info.records, 2);
    assert_int_equal(info.values, 1);
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
    /* And the store takes a good one after. */
    assert_int_equal(bpc_store_append_values(s, &good, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_values(s, &out), 1);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: bpc_store_append refuses, buffering nothing, every record its own
 * recovery would call damage, and the store stays usable. Fails on
 * c627906, which wrote them (a reopen then refused the file, so the
 * party could not restart) or aborted on a decided record with a history. */
static void
test_store_append_refuses_damage(void **state)
{
    (void)state;
    TS_FRESH(29, 0);
    struct bpc_durable good = ts_party(0);
    for (uint32_t bad = 0; bad < 7; bad++) {
        struct bpc_durable d = ts_party(0);
        d.instance = 3;
        d.floor = 5;
        if (bad == 0) {
            d.max_bal = BPC_BALLOT_MAX + 1;
        } else if (bad == 1) {
            d.max_vbal = 1;
            d.max_vval.kind = 9;
        } else if (bad == 2) {
            d.decided = 1;
            d.floor = 3; /* not below its floor */
        } else if (bad == 3) {
            d.decided = 7;
        } else if (bad == 4) {
            d.decided = 1;
            d.hist_count = 1;
        } else if (bad == 5) {
            d.hist_count = BPC_HISTORY_MAX + 1;
        } else {
            d.hist_count = 1;
            d.hist_bal[0] = BPC_BALLOT_MAX + 1;
        }
        struct bpc_durable two[2] = {good, d};
        assert_int_equal(bpc_store_append(s, two, 2), -EINVAL);
    }
    assert_int_equal(bpc_store_append(s, NULL, 1), -EINVAL);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    assert_int_equal(st.records, 0); /* nothing was buffered */
    assert_false(st.failed);
    assert_int_equal(bpc_store_append(s, &good, 1), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* ------------------------------------------------------------------------
 * Fault injection and power loss.
 * ---------------------------------------------------------------------- */

struct ts_run {
    uint64_t calls; /* mutating calls made before the crash */
    bool failed;    /* a call failed and the workload stopped */
    uint32_t acked; /* commits acknowledged */
    uint32_t compactions;
};

/* The workload on the store s: TS_STEPS commits (the application state
 * every fourth), compaction whenever due, into the acknowledged model a
 * and the attempted one w; it stops at the first error, as a party does,
 * and returns it. */
static int
ts_fault_workload(struct bpc_store *s, struct ts_model *a, struct ts_model *w, struct ts_run *run)
{
    int rc = 0;
    for (uint64_t k = 0; rc == 0 && k < TS_STEPS; k++) {
        struct bpc_durable b[8];
        *w = *a;
        uint32_t n = ts_batch(k, b, w);
        if (k % 4 == 3) {
            ts_app(k, w);
            rc = bpc_store_put_app(s, w->app_floor, w->app, w->app_len);
        }
        rc = rc == 0 ? bpc_store_append(s, b, n) : rc;
        rc = rc == 0 ? bpc_store_sync(s) : rc;
        if (rc != 0) {
            break;
        }
        *a = *w; /* acknowledged */
        run->acked++;
        if (bpc_store_compact_due(s)) {
            rc = bpc_store_compact(s);
            run->compactions += rc == 0 ? 1u : 0u;
        }
    }
    return rc;
}

/* A failed store stays failed: nothing more is accepted. */
static void
ts_fault_stays_failed(struct bpc_store *s, const struct ts_model *a)
{
    struct bpc_durable b[8];
    struct ts_model scratch = *a;
    uint32_t n = ts_batch(TS_STEPS, b, &scratch);
    assert_int_equal(bpc_store_append(s, b, n), -EIO);
    assert_int_equal(bpc_store_sync(s), -EIO);
}

/* The recovered store s goes on: a commit after the acknowledged state a
 * survives another power loss too. Closes s. */
static void
ts_fault_goes_on(struct memfs *fs, struct bpc_store *s, const struct bpc_config *cfg,
                 const struct bpc_store_options *o, const struct ts_model *a)
{
    struct bpc_durable b[8];
    struct ts_model next = *a;
    uint32_t n = ts_batch(TS_STEPS + 1u, b, &next);
    assert_int_equal(bpc_store_append(s, b, n), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    memfs_crash(fs, MEMFS_CRASH_LOSE);
    char err[256] = "";
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, o, err, sizeof(err)), 0);
    const struct bpc_durable *recs = NULL;
    uint32_t count = bpc_store_records(s, &recs);
    bool found = false;
    for (uint32_t i = 0; i < count; i++) {
        found = found || (recs[i].instance == UINT64_MAX && ts_rec_eq(&recs[i], &b[0]));
    }
    assert_true(found);
    bpc_store_close(s);
}

/* The workload on a fresh memfs with the fail_at-th mutating call failing:
 * creation, TS_STEPS commits, compaction whenever due; it stops at the
 * first error, as a party does. Then power loss, recovery, checks. */
static struct ts_run
ts_fault_run(uint64_t fail_at, enum memfs_crash_mode mode, uint64_t seed)
{
    static struct ts_model a;
    static struct ts_model w;
    memset(&a, 0, sizeof(a));
    memset(&w, 0, sizeof(w));
    struct ts_run run = {0, false, 0, 0};
    struct memfs fs;
    memfs_init(&fs, seed);
    fs.fail_at = fail_at;
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, TS_COMPACT_BYTES);
    char err[256] = "";
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    if (rc == 0) {
        rc = ts_fault_workload(s, &a, &w, &run);
    }
    run.failed = rc != 0;
    if (rc != 0 && s != NULL) {
        ts_fault_stays_failed(s, &a);
    }
    bpc_store_close(s);
    run.calls = fs.calls;
    if (rc != 0) {
        w = w.has_pw ? w : a; /* a failed open attempted nothing */
    }

    memfs_crash(&fs, mode);
    s = NULL;
    rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    if (rc != 0) {
        fail_msg("recovery after failing call %llu: %s", (unsigned long long)fail_at, err);
    }
    ts_check_recovered(s, &a, &w);
    /* And the recovered store goes on: a commit after it survives too. */
    ts_fault_goes_on(&fs, s, &cfg, &o, &a);
    memfs_free(&fs);
    return run;
}

static void
test_store_fault_at_every_call(void **state)
{
    (void)state;
    struct ts_run clean = ts_fault_run(0, MEMFS_CRASH_LOSE, 11);
    assert_false(clean.failed);
    assert_int_equal(clean.acked, TS_STEPS);
    assert_true(clean.compactions >= 5); /* the faults below hit compactions too */
    print_message("fault runs: %llu mutating calls per clean run, %u compactions\n",
                  (unsigned long long)clean.calls, clean.compactions);
    for (uint64_t n = 1; n <= clean.calls; n++) {
        for (int mode = MEMFS_CRASH_LOSE; mode <= MEMFS_CRASH_TORN; mode++) {
            for (uint64_t seed = 0; seed < (mode == MEMFS_CRASH_TORN ? 4u : 1u); seed++) {
                struct ts_run r = ts_fault_run(n, (enum memfs_crash_mode)mode, n * 16u + seed);
                assert_true(r.failed);
                assert_true(r.calls >= n);
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Bounded size over a million instances.
 * ---------------------------------------------------------------------- */

/* The commit of instance i in the million-instance run: the party-wide
 * record (the floor half a window behind), a 2av for i, a 2b for i - 1,
 * and every 64th an apply-state record. Returns the record count. */
static uint32_t
ts_big_commit(uint64_t i, struct bpc_durable *b)
{
    memset(b, 0, 4 * sizeof(*b));
    uint32_t n = 0;
    b[n].instance = UINT64_MAX;
    b[n].max_bal = 1u + i / 100000u;
    b[n].floor = i > TS_BIG_WINDOW / 2 ? i - TS_BIG_WINDOW / 2 : 0;
    n++;
    b[n] = b[0];
    b[n].instance = i; /* 2av */
    b[n].hist_count = 1;
    b[n].hist_bal[0] = b[0].max_bal;
    b[n].hist_val[0] = ts_vid(i);
    n++;
    if (i > 0) {
        b[n] = b[0];
        b[n].instance = i - 1; /* 2b */
        b[n].max_vbal = b[0].max_bal;
        b[n].max_vval = ts_vid(i - 1);
        n++;
    }
    if (i % 64 == 0) {
        b[n] = b[0];
        b[n].instance = BPC_DURABLE_APPLIED_BASE + (i / 64) % TS_PARTIES;
        b[n].applied_seq = i;
        n++;
    }
    return n;
}

static void
test_store_bounded_million_instances(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 9);
    struct bpc_config cfg;
    ts_config(&cfg, TS_BIG_WINDOW);
    /* Size is what is measured here, not sync: no_sync keeps it fast. */
    struct bpc_store_options o = {.io = &fs.io, .no_sync = true};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    uint64_t threshold = st.compact_bytes;
    uint64_t commit_max = 0;
    uint64_t written = 0;
    struct bpc_durable last_pw;
    for (uint64_t i = 0; i < TS_BIG_INSTANCES; i++) {
        struct bpc_durable b[4];
        uint32_t n = ts_big_commit(i, b);
        last_pw = b[0];
        bpc_store_stats(s, &st);
        uint64_t before = st.file_bytes;
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        bpc_store_stats(s, &st);
        commit_max = st.file_bytes - before > commit_max ? st.file_bytes - before : commit_max;
        written += st.file_bytes - before;
        if (bpc_store_compact_due(s)) {
            assert_int_equal(bpc_store_compact(s), 0);
        }
    }
    bpc_store_stats(s, &st);
    print_message("1M instances: %.0f MB of records written, file at most %llu bytes "
                  "(threshold %llu), %llu compactions, %llu live records\n",
                  (double)written / 1e6, (unsigned long long)st.file_bytes_max,
                  (unsigned long long)threshold, (unsigned long long)st.compactions,
                  (unsigned long long)st.live_records);
    assert_true(written > 100u * threshold);
    assert_true(st.file_bytes_max <= threshold + commit_max);
    /* The live set is the window, the submitters and the party record. */
    assert_true(st.live_records <= TS_BIG_WINDOW + TS_PARTIES + 1u);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    assert_true(n <= TS_BIG_WINDOW + TS_PARTIES + 1u);
    assert_true(ts_rec_eq(&recs[n - 1], &last_pw));
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A file that grew past the threshold before a restart (say, under a
 * larger threshold) compacts at the first commit after recovery, and
 * every restart keeps the bound: restarts must not let it grow. */
static void
test_store_restarts_keep_the_bound(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 10);
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options big = ts_opts(&fs, 1u << 30);
    struct bpc_store_options small = ts_opts(&fs, TS_COMPACT_BYTES);
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &big, err, sizeof(err)), 0);
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    for (uint64_t k = 0; k < 40; k++) {
        struct bpc_durable b[8];
        uint32_t n = ts_batch(k, b, &m);
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_sync(s), 0);
    }
    bpc_store_close(s);
    size_t len = 0;
    memfs_file(&fs, TS_PATH, &len);
    assert_true(len > 4u * TS_COMPACT_BYTES);
    uint64_t k = 40;
    for (uint32_t restart = 0; restart < 20; restart++) {
        assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &small, err, sizeof(err)), 0);
        for (uint32_t j = 0; j < 3; j++, k++) {
            struct bpc_durable b[8];
            uint32_t n = ts_batch(k % TS_STEPS, b, &m);
            assert_int_equal(bpc_store_append(s, b, n), 0);
            assert_int_equal(bpc_store_sync(s), 0);
            if (bpc_store_compact_due(s)) {
                assert_int_equal(bpc_store_compact(s), 0);
            }
        }
        bpc_store_close(s);
        memfs_file(&fs, TS_PATH, &len);
        assert_true(len <= 2u * TS_COMPACT_BYTES);
    }
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_crc32c_check_value),
        cmocka_unit_test(test_store_roundtrip_every_field),
        cmocka_unit_test(test_store_refuses_other_identity),
        cmocka_unit_test(test_store_decided_records),
        cmocka_unit_test(test_store_refuses_empty_file),
        cmocka_unit_test(test_store_removes_leftover_tmp),
        cmocka_unit_test(test_store_refused_open_keeps_tmp),
        cmocka_unit_test(test_store_refuses_non_regular_file),
        cmocka_unit_test(test_store_torn_tail_every_length),
        cmocka_unit_test(test_store_zero_filled_tail),
        cmocka_unit_test(test_store_bit_flip_every_byte),
        cmocka_unit_test(test_store_values_round_trip),
        cmocka_unit_test(test_store_values_of_decided_records),
        cmocka_unit_test(test_store_values_survive_compaction),
        cmocka_unit_test(test_store_values_torn_tail),
        cmocka_unit_test(test_store_values_damage),
        cmocka_unit_test(test_store_value_digest_mismatch_skipped),
        cmocka_unit_test(test_store_values_upgrade_version_2),
        cmocka_unit_test(test_store_append_values_refuses),
        cmocka_unit_test(test_store_append_refuses_damage),
        cmocka_unit_test(test_store_fault_at_every_call),
        cmocka_unit_test(test_store_bounded_million_instances),
        cmocka_unit_test(test_store_restarts_keep_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
