/*
 * test_store_recovery.c - the durable vote store's recovery: torn tails,
 * damage, and failures followed by power loss (libbpcon-store).
 *
 * Goal: a torn tail of every length (and a zero-filled one) is reported,
 * cut off and never loaded; a flipped bit at every byte of a small store
 * is refused naming the damaged frame's offset; a record restore refuses,
 * or one that lowers an earlier record, is damage (test_store_order.c:
 * bpc_store_append refuses them); a failure injected at every mutating
 * I/O call of creation, appends and compactions, followed by power loss,
 * loses no acknowledged record and loads nothing that was never written.
 * Method: an in-memory file system (memfs.c) with a durable image per
 * file and per directory, counted fault injection and power loss; a model
 * of what was acknowledged and attempted (store_fx.h); synthetic records
 * shaped like the engine's.
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
 * Recovery against the model.
 * ---------------------------------------------------------------------- */

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
 * Torn tails and damage.
 * ---------------------------------------------------------------------- */

/* A small store of `commits` commits; boundaries[i] is the file size after
 * commit i (boundaries[0] the bare header), recs[i] the records through it. */
static uint8_t *
ts_small_store(uint32_t commits, uint64_t *boundaries, uint32_t *recs, size_t *len)
{
    TS_SETUP(4, 0);
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
        struct bpc_durable b[8];
        uint32_t n = ts_commit_batch(s, 40, b);
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

/* The header's reserved bytes 28..31 and 72..75 are zero in every file
 * the store writes: one set under a good header checksum is damage at
 * offset 0, for inspect (bpcon-store check) and for an open, which leaves
 * the file as it was. Before (review B5), both called it intact. */
static void
test_store_header_reserved_bytes(void **state)
{
    (void)state;
    uint64_t bound[8];
    uint32_t recs[8];
    size_t full = 0;
    uint8_t *img = ts_small_store(2, bound, recs, &full);
    uint8_t *bad = malloc(full);
    assert_non_null(bad);
    static const size_t at[] = {28, 31, 72, 75};
    char err[256];
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        memcpy(bad, img, full);
        bad[at[k]] = 0x01;
        ts_set_version(bad, bad[8]); /* the header's checksum sealed again */
        struct memfs fs;
        memfs_init(&fs, 8);
        memfs_set_file(&fs, TS_PATH, bad, full);
        struct bpc_store_info info;
        assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                         -EBADMSG);
        memfs_free(&fs);
        assert_int_equal(info.corrupt_offset, 0);
        assert_non_null(strstr(info.corrupt_reason,
                               at[k] < 32 ? "reserved bytes 28..31" : "reserved bytes 72..75"));
        uint32_t loaded = 0;
        size_t after = 0;
        assert_int_equal(ts_open_image(bad, full, err, sizeof(err), &loaded, &after), -EBADMSG);
        assert_non_null(strstr(err, "damaged at offset 0: file header reserved bytes"));
    }
    free(bad);
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

/* img with the 8 bytes at payload offset field of the frame at off set to
 * v, sealed again (good checksums: written that way, not damaged). */
static uint8_t *
ts_patched(const uint8_t *img, size_t len, uint64_t off, uint32_t field, uint64_t v)
{
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, img, len);
    for (uint32_t i = 0; i < 8; i++) {
        bad[off + BPC_STORE_FRAME_HEADER_BYTES + field + i] = (uint8_t)(v >> (8 * i));
    }
    ts_reseal(bad + off);
    return bad;
}

/* bad (len bytes, its format version set to version) is refused as damage
 * at offset off, by inspect and by a writable open, which leaves the file
 * as it was. */
static void
ts_expect_unrestorable(uint8_t *bad, size_t len, uint8_t version, uint64_t off)
{
    ts_set_version(bad, version);
    struct memfs fs;
    memfs_init(&fs, 8);
    memfs_set_file(&fs, TS_PATH, bad, len);
    char err[256] = "";
    struct bpc_store_info info;
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                     -EBADMSG);
    assert_int_equal(info.corrupt_offset, off);
    assert_non_null(strstr(info.corrupt_reason, "record"));
    struct bpc_config cfg;
    ts_config(&cfg, TS_WINDOW);
    struct bpc_store_options o = ts_opts(&fs, 0);
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err));
    if (rc == 0) {
        print_error("version %u: opened, %llu records\n", version,
                    (unsigned long long)bpc_store_info(s)->records);
        bpc_store_close(s);
    }
    assert_int_equal(rc, -EBADMSG);
    char want[64];
    snprintf(want, sizeof(want), "offset %llu", (unsigned long long)off);
    assert_non_null(strstr(err, want));
    size_t now = 0;
    const uint8_t *f = memfs_file(&fs, TS_PATH, &now);
    assert_int_equal(now, len);
    assert_memory_equal(f, bad, len); /* not upgraded, not cut */
    memfs_free(&fs);
}

/* A record bpc_engine_restore refuses, in a frame with good checksums (a
 * party-wide floor of 2^64 - 2, as older builds appended; a vote above its
 * own max_bal): damage at that frame, never loaded. Before, recovery
 * loaded it: inspect (and bpcon-store check) called the file intact
 * though no party could start from it, and a writable open of a version
 * 3 file rewrote it under the floor, votes dropped, before the restore
 * failed (the store review's bad_vbal, bad_floor, up). */
static void
test_store_unrestorable_record_is_damage(void **state)
{
    (void)state;
    uint64_t bound[4];
    uint32_t recs[4];
    size_t len = 0;
    uint8_t *img = ts_small_store(2, bound, recs, &len);
    /* Commit 0: the party-wide record, then the vote records. */
    uint64_t party = BPC_STORE_HEADER_BYTES;
    uint64_t vote = party + BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES;
    for (uint8_t version = 3; version <= BPC_STORE_FORMAT_VERSION; version++) {
        uint8_t *bad = ts_patched(img, len, party, 24, UINT64_MAX - 1u); /* floor */
        ts_expect_unrestorable(bad, len, version, party);
        free(bad);
        bad = ts_patched(img, len, vote, 40, BPC_BALLOT_MAX); /* max_vbal */
        ts_expect_unrestorable(bad, len, version, vote);
        free(bad);
    }
    free(img);
}

/* A vote record at or above its floor + BPC_WINDOW_SLOTS_MAX (65,536),
 * under good checksums: no window reaches it and every engine's restore
 * refuses it (-ERANGE). Damage at its frame for inspect and a writable
 * open, which leaves the file as it was; bpc_store_append refuses it
 * (-EINVAL, nothing buffered) and takes one a slot below. Before (review
 * B7's F2), inspect called the file intact: "0 != 0xffffffffffffffb6". */
static void
test_store_vote_past_every_window_is_damage(void **state)
{
    (void)state;
    uint64_t bound[4];
    uint32_t recs[4];
    size_t len = 0;
    uint8_t *img = ts_small_store(2, bound, recs, &len);
    /* Commit 0: the party-wide record (floor 0), then instance 0's vote. */
    uint64_t vote = BPC_STORE_HEADER_BYTES + BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES;
    for (uint8_t version = 3; version <= BPC_STORE_FORMAT_VERSION; version++) {
        uint8_t *bad = ts_patched(img, len, vote, 0, BPC_WINDOW_SLOTS_MAX); /* instance */
        ts_expect_unrestorable(bad, len, version, vote);
        free(bad);
    }
    free(img);
    TS_SETUP(9, 0);
    cfg.window_slots = BPC_WINDOW_SLOTS_MAX;
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable d[2];
    memset(d, 0, sizeof(d));
    d[0].instance = UINT64_MAX;
    d[0].floor = 3;
    d[0].max_bal = 1;
    d[1] = d[0];
    d[1].instance = 3 + BPC_WINDOW_SLOTS_MAX;
    d[1].hist_count = 1;
    d[1].hist_bal[0] = 1;
    d[1].hist_val[0] = ts_vid(1);
    assert_int_equal(bpc_store_append(s, d, 2), -EINVAL);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_info(s)->records, 0);
    d[1].instance--;
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* A later party-wide record whose max_bal or incarnation is below an
 * earlier one's, under good checksums: no engine writes one (max_bal only
 * rises, and a restart takes the highest it restored), and a restore would
 * take the lower promise. Damage at that frame for inspect and a writable
 * open, which leaves the file as it was. Before (review B6), inspect
 * called the file intact: "0 != 0xffffffffffffffb6". */
static void
test_store_party_wide_regress_is_damage(void **state)
{
    (void)state;
    uint64_t bound[4];
    uint32_t recs[4];
    size_t len = 0;
    uint8_t *img = ts_small_store(3, bound, recs, &len);
    /* Commit 2 (no application state) begins with its party-wide record;
     * commits 0 and 1 carried max_bal 1 and incarnation 3 (ts_batch). */
    uint64_t party = bound[2];
    for (uint8_t version = 3; version <= BPC_STORE_FORMAT_VERSION; version++) {
        uint8_t *bad = ts_patched(img, len, party, 8, 0); /* max_bal */
        ts_expect_unrestorable(bad, len, version, party);
        free(bad);
        bad = ts_patched(img, len, party, 16, 2); /* incarnation */
        ts_expect_unrestorable(bad, len, version, party);
        free(bad);
    }
    free(img);
}

/* Sequence numbers never wrap: a header whose first is 2^64 - 1, or a
 * frame numbered 2^64 - 1, is damage (at 0, at that frame); 2^64 - 4
 * with three frames is not. Before (review B7), a file numbered from
 * 2^64 - 1 checked intact, its second frame numbered 0. */
static void
test_store_sequence_never_wraps(void **state)
{
    (void)state;
    uint64_t bound[3];
    uint32_t recs[3];
    size_t len = 0;
    uint8_t *img = ts_small_store(1, bound, recs, &len); /* one commit, three frames */
    struct memfs fs;
    memfs_init(&fs, 8);
    struct bpc_store_info info;
    char err[256] = "";
    ts_renumber(img, len, UINT64_MAX - 3u);
    memfs_set_file(&fs, TS_PATH, img, len);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)), 0);
    ts_renumber(img, len, UINT64_MAX - 2u);
    memfs_set_file(&fs, TS_PATH, img, len);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                     -EBADMSG);
    assert_int_equal(info.corrupt_offset, /* the third frame */
                     BPC_STORE_HEADER_BYTES +
                         2u * (BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES));
    ts_renumber(img, len, UINT64_MAX);
    memfs_set_file(&fs, TS_PATH, img, len);
    assert_int_equal(bpc_store_inspect(TS_PATH, &fs.io, &info, NULL, NULL, err, sizeof(err)),
                     -EBADMSG);
    assert_int_equal(info.corrupt_offset, 0);
    memfs_free(&fs);
    free(img);
}

/* Where ts_small_store's frames are: the offset of the first record frame
 * of instance `instance` in commit k, or of commit k's application state
 * frame (app). */
struct ts_where {
    uint64_t commit_start, commit_end, instance, off;
    bool app;
};

static void
ts_where_frame(void *ctx, const struct bpc_store_frame *f)
{
    struct ts_where *w = ctx;
    bool in = f->offset >= w->commit_start && f->offset < w->commit_end && w->off == 0;
    if (in && w->app && f->type == BPC_STORE_FRAME_APP) {
        w->off = f->offset;
    }
    if (in && !w->app && f->type == BPC_STORE_FRAME_RECORD && f->rec->instance == w->instance) {
        w->off = f->offset;
    }
}

static uint64_t
ts_frame_at(const uint8_t *img, size_t len, const uint64_t *bound, uint32_t k, bool app,
            uint64_t instance)
{
    struct memfs fs;
    memfs_init(&fs, 8);
    memfs_set_file(&fs, TS_PATH, img, len);
    struct ts_where w = {
        .commit_start = bound[k], .commit_end = bound[k + 1], .instance = instance, .app = app};
    struct bpc_store_info info;
    char err[256] = "";
    assert_int_equal(
        bpc_store_inspect(TS_PATH, &fs.io, &info, ts_where_frame, &w, err, sizeof(err)), 0);
    memfs_free(&fs);
    assert_true(w.off != 0);
    return w.off;
}

/* A later record that makes a restart remember less than the party
 * promised, under good checksums: a vote record of an instance whose live
 * record holds a higher max_vbal, or the same max_vbal with another
 * max_vval (two 2b at one ballot); an apply-state record with a lower
 * applied_seq; application state with a lower floor. Damage at its frame
 * for inspect and a writable open, which leaves the file as it was.
 * Before (review B7's F1), inspect called each file intact: "0 !=
 * 0xffffffffffffffb6". */
static void
test_store_vote_regress_is_damage(void **state)
{
    (void)state;
    uint64_t bound[5];
    uint32_t recs[5];
    size_t len = 0;
    uint8_t *img = ts_small_store(4, bound, recs, &len);
    /* ts_batch: commit 1 votes 2b for instance 0 (ballot 1, value 0),
     * commit 2 for instance 1 (value 1) and 2av for instance 2 (max_vbal
     * 0), the floor still 0; commits 0 and 3 write submitters 0 and 3's
     * applied positions (0 and 30), commits 1 and 3 application state. */
    uint64_t b1 = ts_frame_at(img, len, bound, 2, false, 1);
    uint64_t a2 = ts_frame_at(img, len, bound, 2, false, 2);
    uint64_t sub0 = ts_frame_at(img, len, bound, 0, false, BPC_DURABLE_APPLIED_BASE);
    uint64_t sub3 = ts_frame_at(img, len, bound, 3, false, BPC_DURABLE_APPLIED_BASE + 3u);
    uint64_t app1 = ts_frame_at(img, len, bound, 1, true, 0);
    uint64_t app3 = ts_frame_at(img, len, bound, 3, true, 0);
    for (uint8_t version = 3; version <= BPC_STORE_FORMAT_VERSION; version++) {
        uint8_t *bad = ts_patched(img, len, b1, 0, 0); /* instance 0, ballot 1, value 1 */
        ts_expect_unrestorable(bad, len, version, b1);
        free(bad);
        bad = ts_patched(img, len, a2, 0, 0); /* instance 0, max_vbal 0 */
        ts_expect_unrestorable(bad, len, version, a2);
        free(bad);
        uint8_t *mid = ts_patched(img, len, sub0, 32, 50);             /* submitter 0 at 50 ... */
        bad = ts_patched(mid, len, sub3, 0, BPC_DURABLE_APPLIED_BASE); /* ... then 30 */
        ts_expect_unrestorable(bad, len, version, sub3);
        free(bad);
        free(mid);
        bad = ts_patched(img, len, app1, 0, 100); /* application state floor 100, then 1 */
        ts_expect_unrestorable(bad, len, version, app3);
        free(bad);
    }
    free(img);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_torn_tail_every_length),
        cmocka_unit_test(test_store_zero_filled_tail),
        cmocka_unit_test(test_store_header_reserved_bytes),
        cmocka_unit_test(test_store_bit_flip_every_byte),
        cmocka_unit_test(test_store_unrestorable_record_is_damage),
        cmocka_unit_test(test_store_vote_past_every_window_is_damage),
        cmocka_unit_test(test_store_party_wide_regress_is_damage),
        cmocka_unit_test(test_store_vote_regress_is_damage),
        cmocka_unit_test(test_store_sequence_never_wraps),
        cmocka_unit_test(test_store_fault_at_every_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
