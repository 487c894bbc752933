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
 * instances), so vote records fall below the floor and are pruned.
 * Compactions run between commits and may allocate (they are not per
 * poll); they are not counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_probe.h"
#include "bpcon_store.h"
#include "memfs.h"

#define TA_PATH "/m/store"
#define TA_PARTIES 4u
#define TA_WINDOW 64u
#define TA_WARMUP 4096u
#define TA_INSTANCES 65536u

static bool ta_counting;

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

/* Instance i's commit: party-wide record (floor half a window back), the
 * 2av of i, the 2b of i - 1, an applied record every 64 instances. */
static uint32_t
ta_batch(uint64_t i, struct bpc_durable b[4])
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
    b[n].hist_val[0].kind = BPC_VALUE_INLINE;
    b[n].hist_val[0].len = 8;
    memcpy(b[n].hist_val[0].id, &i, sizeof(i));
    n++;
    if (i > 0) {
        b[n] = b[0];
        b[n].instance = i - 1;
        b[n].max_vbal = 1;
        b[n].max_vval = b[1].hist_val[0];
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

static void
test_store_append_allocates_nothing(void **state)
{
    (void)state;
    struct memfs fs;
    memfs_init(&fs, 3);
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.cluster_id = 7;
    cfg.parties_count = TA_PARTIES;
    cfg.self = 1;
    cfg.window_slots = TA_WINDOW;
    struct bpc_store_io io = fs.io;
    ta_memfs_pwrite = io.pwrite;
    io.pwrite = ta_pwrite;
    struct bpc_store_options o = {.io = &io, .no_sync = true};
    alloc_probe_watch = &ta_counting;
    char err[256] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, TA_PATH, &cfg, &o, err, sizeof(err)), 0);
    uint64_t counted = 0;
    for (uint64_t i = 0; i < TA_INSTANCES; i++) {
        struct bpc_durable b[4];
        uint32_t n = ta_batch(i, b);
        ta_counting = i >= TA_WARMUP;
        assert_int_equal(bpc_store_append(s, b, n), 0);
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
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_append_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
