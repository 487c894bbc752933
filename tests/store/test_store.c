/*
 * test_store.c - the durable vote store (engine/src/store.c, libbpcon-store):
 * the file's layout, its identity, what an open finds at the path, and the
 * records bpc_store_append refuses.
 *
 * Goal: every field of struct bpc_durable survives a round trip through
 * the file in an explicit little-endian layout; a store of another
 * cluster, party, configuration or format version is refused with a
 * message naming the mismatch; decided records round-trip, are kept to
 * their dec_keep, and their damage is refused; an empty file or a FIFO at
 * the path is refused as the POSIX table says; bpc_store_append refuses,
 * buffering nothing, every record its own recovery would call damage.
 * Method: an in-memory file system (memfs.c) and the fixture the store's
 * tests share (store_fx.h); a FIFO in a mkdtemp directory for the POSIX
 * table. The other memfs tests of the store: test_store_tmp.c (what an
 * open does with a PATH.tmp it finds), test_store_recovery.c (torn
 * tails, damage, fault injection and power loss), test_store_values.c (the
 * value frames of format version 3), test_store_bound.c (the file's size
 * over a million instances).
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
#include "store_fx.h"

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
    TS_SETUP(1, 0);
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
    TS_SETUP(2, 0);
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
    in[3].floor = 12;    /* written at its floor (one below it is refused) */
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

/* Writes recs (n) into a fresh store on fs, then makes its file say
 * version 1 (header resealed); img (cap bytes) gets the file. Its length. */
static size_t
ts_write_version_1(struct memfs *fs, const struct bpc_config *cfg, const struct bpc_durable *recs,
                   uint32_t n, uint8_t *img, size_t cap, char *err, size_t err_len)
{
    struct bpc_store_options o = ts_opts(fs, 0);
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, &o, err, err_len), 0);
    assert_int_equal(bpc_store_append(s, recs, n), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    size_t len = 0;
    const uint8_t *f = memfs_file(fs, TS_PATH, &len);
    assert_true(len <= cap);
    memcpy(img, f, len);
    ts_set_version(img, 1);
    memfs_set_file(fs, TS_PATH, img, len);
    return len;
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
    uint8_t img[4096];
    ts_write_version_1(fs, cfg, pw, 1, img, sizeof(img), err, err_len);
    size_t len = 0;
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

/* A version 1 file holding a decided record (version 1 has none: its
 * flag byte was reserved) is damage at that record's frame, for inspect
 * and for an open. Before, it was loaded and called intact, and a writer
 * rewrote it as the current version with the record (review B3). */
static void
ts_decided_in_version_1(struct memfs *fs, const struct bpc_config *cfg,
                        const struct bpc_durable in[2], char *err, size_t err_len)
{
    struct bpc_store_options o = ts_opts(fs, 0);
    struct bpc_store *s = NULL;
    uint8_t img[4096];
    size_t len = ts_write_version_1(fs, cfg, in, 2, img, sizeof(img), err, err_len);
    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs->io, &info, NULL, NULL, err, err_len),
                     -EBADMSG);
    assert_non_null(strstr(info.corrupt_reason, "decided record in a file of format version 1"));
    assert_int_equal(bpc_store_open(&s, TS_PATH, cfg, &o, err, err_len), -EBADMSG);
    assert_memory_equal(memfs_file(fs, TS_PATH, &len), img, len); /* left as it was */
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
    TS_SETUP(1, 0);
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
    memfs_init(&fs, 1);
    ts_decided_in_version_1(&fs, &cfg, in, err, sizeof(err));
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_crc32c_check_value),
        cmocka_unit_test(test_store_roundtrip_every_field),
        cmocka_unit_test(test_store_refuses_other_identity),
        cmocka_unit_test(test_store_decided_records),
        cmocka_unit_test(test_store_refuses_empty_file),
        cmocka_unit_test(test_store_refuses_non_regular_file),
        cmocka_unit_test(test_store_append_refuses_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
