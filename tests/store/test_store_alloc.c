/*
 * test_store_alloc.c - the durable store's append path allocates nothing
 * once its tables have grown to the live set (engine/src/store.c).
 *
 * Goal: a party appends and commits on every poll that persisted
 * something, so bpc_store_append and bpc_store_sync must not call malloc,
 * calloc or realloc in steady state; and pruning the record table still
 * keeps exactly the live records.
 * Method: the store's objects are linked into this executable with
 * malloc, calloc and realloc wrapped (alloc_probe.c) and counted while the
 * test is inside append or sync, but not inside the in-memory file
 * system's writes (memfs.c grows its images);
 * records shaped like a running party's (a party-wide record with a
 * rising floor, a 2av and a 2b per instance, an applied record every 64
 * instances), so vote records fall below the floor and are pruned; with
 * them the bytes of the DIGEST value each names (33 to 4,032 bytes, so
 * that both the value entries and their byte arena fill), appended with
 * the 2av and again with the 2b, so values fall below the floor too.
 * Compactions run between commits and may allocate (they are not per
 * poll); they are not counted. Since a compaction prunes too, a second
 * run never compacts: the values alone must be pruned in place when their
 * arrays fill.
 * Also: a file that is no store is refused from its header, however large
 * it is (a sparse 8 GiB file on the POSIX table, the largest allocation
 * asked for watched).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc_probe.h"
#include "bpcon_store.h"
#include "memfs.h"

#define TA_PATH "/m/store"
#define TA_PARTIES 4u
#define TA_WINDOW 64u
#define TA_WARMUP 4096u
#define TA_INSTANCES 65536u

static bool ta_counting;

/* The bytes of the values of instances i (slot i % 2) and i - 1. */
static uint8_t ta_value_mem[2][4096];

/* The file system's own growth (memfs.c reallocs a file's image) is the
 * test's, not the store's: writes pause the count. */
static int64_t (*ta_memfs_pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);

static int64_t
ta_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    bool was = ta_counting;
    ta_counting = false;
    int64_t rc = ta_memfs_pwrite(ctx, fd, buf, len, off);
    ta_counting = was;
    return rc;
}

/* Instance i's value: a DIGEST value of 33 to 4,032 bytes, its bytes in
 * slot i % 2 (so that i - 1's stay valid for its 2b). */
static struct bpc_durable_value
ta_value(uint64_t i)
{
    uint32_t len = 33u + (uint32_t)((i * 997u) % 4000u);
    uint8_t *b = ta_value_mem[i % 2u];
    for (uint32_t k = 0; k < len; k++) {
        b[k] = (uint8_t)(i + k * 7u + (i >> 8));
    }
    struct bpc_durable_value v = {.instance = i, .bytes = b};
    bpc_vid_of(&v.vid, b, len);
    return v;
}

/* Instance i's commit: party-wide record (floor half a window back), the
 * 2av of i, the 2b of i - 1 (its 2av kept), an applied record every 64 instances; vals
 * the values they name (i's and i - 1's), the step's persist_values. */
static uint32_t
ta_batch(uint64_t i, struct bpc_durable b[4], struct bpc_durable_value vals[2], uint32_t *nv)
{
    memset(b, 0, 4 * sizeof(*b));
    uint32_t n = 0;
    b[n].instance = UINT64_MAX;
    b[n].max_bal = 1;
    b[n].floor = i > TA_WINDOW / 2 ? i - TA_WINDOW / 2 : 0;
    n++;
    b[n] = b[0];
    b[n].instance = i;
    b[n].hist_count = 1;
    b[n].hist_bal[0] = 1;
    vals[0] = ta_value(i);
    b[n].hist_val[0] = vals[0].vid;
    *nv = 1;
    n++;
    if (i > 0) {
        vals[(*nv)++] = ta_value(i - 1);
        b[n] = b[0];
        b[n].instance = i - 1;
        b[n].max_vbal = 1;
        b[n].max_vval = vals[1].vid;
        b[n].hist_count = 1; /* its 2av stays in its history */
        b[n].hist_bal[0] = 1;
        b[n].hist_val[0] = vals[1].vid;
        n++;
    }
    if (i % 64 == 0) {
        b[n] = b[0];
        b[n].instance = BPC_DURABLE_APPLIED_BASE + (i / 64) % TA_PARTIES;
        b[n].applied_seq = i;
        n++;
    }
    return n;
}

/* The cluster these tests store for (party 1 of TA_PARTIES). */
static void
ta_config(struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 7;
    cfg->parties_count = TA_PARTIES;
    cfg->self = 1;
    cfg->window_slots = TA_WINDOW;
    cfg->frame_bytes = BPC_FRAME_BYTES_MAX;
    cfg->value_bytes_max = 4096; /* the values ta_value builds */
}

/* fs's I/O with pwrite counted (ta_pwrite). */
static struct bpc_store_io
ta_io(struct memfs *fs)
{
    struct bpc_store_io io = fs->io;
    ta_memfs_pwrite = io.pwrite;
    io.pwrite = ta_pwrite;
    return io;
}

static void
test_store_append_allocates_nothing(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 3);
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_io io = ta_io(&fs);
    struct bpc_store_options o = {.io = &io, .no_sync = true};
    alloc_probe_watch = &ta_counting;
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    uint64_t counted = 0;
    for (uint64_t i = 0; i < TA_INSTANCES; i++) {
        struct bpc_durable b[4];
        struct bpc_durable_value vals[2];
        uint32_t nv = 0;
        uint32_t n = ta_batch(i, b, vals, &nv);
        ta_counting = i >= TA_WARMUP;
        assert_int_equal(bpc_store_append(s, b, n), 0);
        assert_int_equal(bpc_store_append_values(s, vals, nv), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        ta_counting = false;
        counted += i >= TA_WARMUP;
        if (bpc_store_compact_due(s)) {
            assert_int_equal(bpc_store_compact(s), 0);
        }
    }
    print_message("%llu commits after warm-up: %llu allocations\n", (unsigned long long)counted,
                  (unsigned long long)alloc_probe_count);
    assert_int_equal(alloc_probe_count, 0);
    alloc_probe_watch = NULL;

    /* The pruned table holds the live set: the party-wide record, every
     * vote record at or above the floor, the four applied records. */
    const struct bpc_durable *recs = NULL;
    uint32_t count = bpc_store_records(s, &recs);
    const uint64_t last = TA_INSTANCES - 1;
    const uint64_t floor = last - TA_WINDOW / 2;
    uint32_t votes = 0, applied = 0, party = 0;
    for (uint32_t k = 0; k < count; k++) {
        if (recs[k].instance == UINT64_MAX) {
            party++;
            assert_int_equal(recs[k].floor, floor);
        } else if (recs[k].instance >= BPC_DURABLE_APPLIED_BASE) {
            applied++;
        } else {
            assert_true(recs[k].instance >= floor && recs[k].instance <= last);
            votes++;
        }
    }
    assert_int_equal(party, 1);
    assert_int_equal(applied, TA_PARTIES);
    assert_int_equal(votes, last - floor + 1);
    /* And the pruned values are the live ones, each once. */
    const struct bpc_durable_value *vals = NULL;
    uint32_t nv = bpc_store_values(s, &vals);
    assert_int_equal(nv, last - floor + 1);
    uint64_t seen = 0;
    for (uint32_t k = 0; k < nv; k++) {
        assert_true(vals[k].instance >= floor && vals[k].instance <= last);
        struct bpc_durable_value want = ta_value(vals[k].instance);
        assert_memory_equal(&vals[k].vid, &want.vid, sizeof(want.vid));
        assert_memory_equal(vals[k].bytes, want.bytes, want.vid.len);
        seen |= 1ull << (vals[k].instance - floor);
    }
    assert_int_equal(seen, (1ull << (last - floor + 1)) - 1u);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* No compaction: the live values are pruned only when their entries or
 * their arena fill, in place, and still nothing is allocated once they
 * have grown to the live set (about 33 values of up to 3 KB) and the
 * write buffer to the largest commit (its votes and two values, which
 * it reaches between commits 1,024 and 2,048). */
static void
test_store_values_prune_allocates_nothing(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 4);
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_io io = ta_io(&fs);
    struct bpc_store_options o = {.io = &io, .no_sync = true, .compact_bytes = UINT64_MAX};
    alloc_probe_watch = &ta_counting;
    alloc_probe_count = 0;
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    const uint64_t instances = 4096;
    for (uint64_t i = 0; i < instances; i++) {
        struct bpc_durable b[4];
        struct bpc_durable_value vals[2];
        uint32_t nv = 0;
        uint32_t n = ta_batch(i, b, vals, &nv);
        ta_counting = i >= TA_WARMUP / 2u;
        assert_int_equal(bpc_store_append(s, b, n), 0); /* the floor and the votes naming them */
        assert_int_equal(bpc_store_append_values(s, vals, nv), 0);
        assert_int_equal(bpc_store_sync(s), 0);
        ta_counting = false;
        assert_false(bpc_store_compact_due(s));
    }
    print_message("%llu value commits after warm-up, no compaction: %llu allocations\n",
                  (unsigned long long)(instances - TA_WARMUP / 2u),
                  (unsigned long long)alloc_probe_count);
    assert_int_equal(alloc_probe_count, 0);
    alloc_probe_watch = NULL;
    const struct bpc_durable_value *vals = NULL;
    uint32_t nv = bpc_store_values(s, &vals);
    assert_int_equal(nv, TA_WINDOW / 2u + 1u);
    for (uint32_t k = 0; k < nv; k++) {
        /* Moved down by the prunes, the bytes are still each value's own. */
        assert_true(vals[k].instance >= instances - 1u - TA_WINDOW / 2u);
        struct bpc_durable_value want = ta_value(vals[k].instance);
        assert_memory_equal(&vals[k].vid, &want.vid, sizeof(want.vid));
        assert_memory_equal(vals[k].bytes, want.bytes, want.vid.len);
    }
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Reading the live set back with no memory for the export arrays: 0
 * with the array NULL, which is never the answer of a store that merely
 * holds nothing (an empty store's arrays are not NULL), so a restarting
 * party can tell the two apart. Before, an empty store's values came
 * back NULL too, and the dataplane restored an empty set on a failed
 * read: the party restarted without its synced promise (the reviewer's
 * enomem: "started at ballot 1 (promise on disk: 9)"). */
static void
test_store_export_without_memory(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 5);
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_options o = {.io = &fs.io, .no_sync = true};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    const struct bpc_durable *recs = NULL;
    const struct bpc_durable_value *vals = NULL;
    assert_int_equal(bpc_store_values(s, &vals), 0);
    assert_non_null(vals); /* empty, not out of memory */
    assert_int_equal(bpc_store_records(s, &recs), 0);
    assert_non_null(recs);
    struct bpc_durable b[4];
    struct bpc_durable_value v[2];
    uint32_t nv = 0;
    uint32_t n = ta_batch(1, b, v, &nv);
    assert_int_equal(bpc_store_append(s, b, n), 0);
    assert_int_equal(bpc_store_append_values(s, v, nv), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    bpc_store_close(s);
    /* Read-only: a writable open compacts, which builds the arrays. */
    o.read_only = true;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    bool watch = true;
    alloc_probe_watch = &watch;
    alloc_probe_fail = true;
    uint32_t got_vals = bpc_store_values(s, &vals);
    uint32_t got_recs = bpc_store_records(s, &recs);
    alloc_probe_fail = false;
    alloc_probe_watch = NULL;
    assert_int_equal(got_vals, 0);
    assert_null(vals);
    assert_int_equal(got_recs, 0);
    assert_null(recs);
    /* With memory again, the set is all there. */
    assert_int_equal(bpc_store_records(s, &recs), n);
    assert_int_equal(bpc_store_values(s, &vals), nv);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a compaction with no memory for its image writes nothing and
 * leaves the store working: -ENOMEM, the file byte for byte as it was,
 * appends and syncs go on, and a compaction with memory again works and
 * keeps every live record. Before, the store failed for good
 * ("0xfffffffffffffffb != 0xfffffffffffffff4": -EIO, and every later
 * call -EIO). */
static void
test_store_compact_without_memory(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 6);
    struct bpc_config cfg;
    ta_config(&cfg);
    struct bpc_store_options o = {.io = &fs.io, .no_sync = true};
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    struct bpc_durable b[4];
    struct bpc_durable_value v[2];
    uint32_t nv = 0;
    uint32_t n = ta_batch(1, b, v, &nv);
    assert_int_equal(bpc_store_append(s, b, n), 0);
    assert_int_equal(bpc_store_append_values(s, v, nv), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    size_t len = 0;
    const uint8_t *f = memfs_file(&fs, TA_PATH, &len);
    static uint8_t before[1 << 16];
    assert_true(len <= sizeof(before));
    memcpy(before, f, len);
    size_t before_len = len;
    bool watch = true;
    alloc_probe_watch = &watch;
    alloc_probe_fail = true;
    int rc = bpc_store_compact(s);
    alloc_probe_fail = false;
    alloc_probe_watch = NULL;
    assert_int_equal(rc, -ENOMEM);
    f = memfs_file(&fs, TA_PATH, &len);
    assert_int_equal(len, before_len);
    assert_memory_equal(f, before, len);
    n = ta_batch(2, b, v, &nv);
    assert_int_equal(bpc_store_append(s, b, n), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    assert_int_equal(bpc_store_compact(s), 0);
    const struct bpc_durable *live = NULL;
    uint32_t kept = bpc_store_records(s, &live);
    bpc_store_close(s);
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    assert_int_equal(bpc_store_records(s, &live), kept);
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a path naming a large file that is no store (a mistyped --store
 * naming a disk image) is refused as "not a bpcon store" from its first
 * 80 bytes, by bpc_store_inspect (bpcon-store check) and by read-only
 * and writable opens, without reading the file into memory. Before
 * (review K's bigfile), the whole file was read before its header was
 * looked at: a 3 GiB one cost 3.5 GB and 27 s, and one larger than
 * memory gave "read: Cannot allocate memory".
 * Method: "not a store" then ftruncate to 8 GiB, in a mkdtemp directory
 * (sparse: no disk used); watched allocations asking for more than 64 MiB
 * fail (the unfixed read then fails at once instead of filling memory),
 * and the largest asked for must stay under 1 MiB. */
static void
test_store_big_foreign_file_refused_from_header(void **state)
{
    (void)state;
    char dir[] = "/tmp/bpc-store-big-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/big.img", dir);
    const uint64_t size = 8ull << 30;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a store", 11), 11);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    assert_int_equal(close(fd), 0);
    struct bpc_config cfg;
    ta_config(&cfg);
    bool watch = true;
    alloc_probe_limit = 64u << 20;
    for (int k = 0; k < 3; k++) {
        char err[512] = "";
        struct bpc_store_info info;
        struct bpc_store *s = NULL;
        struct bpc_store_options o = {.read_only = k == 1};
        alloc_probe_largest = 0;
        alloc_probe_watch = &watch;
        int rc = k == 0 ? bpc_store_inspect(path, NULL, &info, NULL, NULL, err, sizeof(err))
                        : bpc_store_open(&s, path, &cfg, &o, err, sizeof(err));
        alloc_probe_watch = NULL;
        print_message("%s: %d (%s), largest allocation %llu bytes\n",
                      k == 0 ? "inspect" : (k == 1 ? "read-only open" : "open"), rc, err,
                      (unsigned long long)alloc_probe_largest);
        assert_int_equal(rc, -EBADMSG);
        assert_null(s);
        assert_non_null(strstr(err, "damaged at offset 0: not a bpcon store (bad magic)"));
        assert_true(alloc_probe_largest < (1u << 20));
        if (k == 0) {
            assert_int_equal(info.file_bytes, size);
            assert_int_equal(info.corrupt_offset, 0);
            assert_string_equal(info.corrupt_reason, "not a bpcon store (bad magic)");
        }
    }
    alloc_probe_limit = 0;
    /* Left as it was, its name's neighbour never made. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, size);
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(stat(tmp, &st), -1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_append_allocates_nothing),
        cmocka_unit_test(test_store_values_prune_allocates_nothing),
        cmocka_unit_test(test_store_export_without_memory),
        cmocka_unit_test(test_store_compact_without_memory),
        cmocka_unit_test(test_store_big_foreign_file_refused_from_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
