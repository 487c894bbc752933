/*
 * test_footprint.c - the engine's storage: its size follows the
 * configuration, its breakdown adds up, and a new engine makes resident
 * only what it uses.
 *
 * Goal: bpc_engine_footprint_parts sums to bpc_engine_footprint for small,
 * default and extreme configurations; every configuration term moves the
 * footprint (commands, command size, window, parties, value size); and a
 * 999-party engine from bpc_engine_new, started, has well under 1 MiB of
 * its storage resident (init writes only what starts non-zero).
 * Method: configurations built from the defaults; residency read with
 * mincore(2) over the engine's mapping.
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
#include <unistd.h>

#include "bpcon.h"

static uint8_t (*test_keys)[BPC_KEY_BYTES];

static void
test_fp_config(struct bpc_config *cfg, uint32_t n)
{
    bpc_config_defaults(cfg);
    cfg->parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg->weights[i] = 1;
    }
    cfg->self = 0;
    cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])test_keys;
}

static size_t
test_fp_sum(const struct bpc_config *cfg, uint32_t *count)
{
    struct bpc_footprint_part parts[BPC_FOOTPRINT_PARTS_MAX];
    *count = bpc_engine_footprint_parts(cfg, parts, BPC_FOOTPRINT_PARTS_MAX);
    assert_true(*count > 0 && *count <= BPC_FOOTPRINT_PARTS_MAX);
    size_t sum = 0;
    for (uint32_t k = 0; k < *count; k++) {
        assert_non_null(parts[k].name);
        assert_true(strlen(parts[k].formula) > 0);
        sum += (parts[k].bytes + 63) & ~(size_t)63;
    }
    return sum;
}

static void
test_footprint_parts_add_up(void **state)
{
    (void)state;
    static const uint32_t parties[] = {1, 4, 7, 64, 65, 999, BPC_PARTIES_MAX};
    static const uint32_t windows[] = {1, 64, 4096};
    static const uint32_t values[] = {16, 1024, BPC_VALUE_BYTES_MAX};
    for (size_t a = 0; a < sizeof(parties) / sizeof(parties[0]); a++) {
        for (size_t b = 0; b < sizeof(windows) / sizeof(windows[0]); b++) {
            for (size_t c = 0; c < sizeof(values) / sizeof(values[0]); c++) {
                struct bpc_config cfg;
                test_fp_config(&cfg, parties[a]);
                cfg.window_slots = windows[b];
                cfg.value_bytes_max = values[c];
                /* A frame that holds the largest value (else refused). */
                uint32_t fmin = bpc_frame_bytes_min(values[c]);
                cfg.frame_bytes = fmin > cfg.frame_bytes ? fmin : cfg.frame_bytes;
                uint32_t count;
                size_t sum = test_fp_sum(&cfg, &count);
                assert_int_equal(sum, bpc_engine_footprint(&cfg));
            }
        }
    }
    /* A short array gets the first cap parts and the full count. */
    struct bpc_config cfg;
    test_fp_config(&cfg, 4);
    struct bpc_footprint_part two[2];
    uint32_t all = bpc_engine_footprint_parts(&cfg, two, 2);
    assert_true(all > 2);
    assert_string_equal(two[0].name, "engine");
    /* Out of range: nothing, as bpc_engine_footprint. */
    cfg.parties_count = 0;
    assert_int_equal(bpc_engine_footprint_parts(&cfg, two, 2), 0);
    assert_int_equal(bpc_engine_footprint(&cfg), 0);
}

/* Each configuration term the footprint claims to follow moves it. */
static void
test_footprint_follows_config(void **state)
{
    (void)state;
    struct bpc_config base;
    test_fp_config(&base, 7);
    size_t f0 = bpc_engine_footprint(&base);

    struct bpc_config cfg = base;
    cfg.commands_max = base.commands_max / 4;
    assert_true(bpc_engine_footprint(&cfg) < f0);
    cfg = base;
    cfg.window_slots = base.window_slots / 4;
    assert_true(bpc_engine_footprint(&cfg) < f0);
    cfg = base;
    cfg.value_bytes_max = BPC_VALUE_INLINE_MAX; /* values inline: no value buffers */
    assert_true(bpc_engine_footprint(&cfg) < f0);
    test_fp_config(&cfg, 999);
    assert_true(bpc_engine_footprint(&cfg) > f0);
}

/* Goal: every configuration bpc_engine_init refuses has footprint 0 (and
 * no parts), so a caller that sizes the storage first gets the refusal,
 * not a huge allocation. Before, only parties, window and value size were
 * checked: commands_max 2^31 gave 6614251533120 bytes, frame_bytes 100
 * gave 5051200. Method: one field at a time out of range on a valid
 * configuration; init must refuse each (so the case is out of range) and
 * the footprint must be 0. */
static void
test_footprint_refuses_what_init_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint32_t field; /* 0 commands, 1 frame, 2 batch, 3 window, 4 value, 5 self */
        uint32_t v;
    } cases[] = {
        {"commands_max 2^31", 0, 1u << 31},
        {"commands_max 0", 0, 0},
        {"commands_max 1", 0, 1},
        {"commands_max 3", 0, 3},
        {"commands_max 2^17", 0, 1u << 17},
        {"frame_bytes 0", 1, 0},
        {"frame_bytes 100", 1, 100},
        {"frame_bytes 9001", 1, BPC_FRAME_BYTES_MAX + 1},
        {"frame_bytes 200 < value", 1, 200},
        {"batch_max 0", 2, 0},
        {"batch_max 65", 2, BPC_BATCH_MAX + 1},
        {"window_slots 3", 3, 3},
        {"value_bytes_max 0", 4, 0},
        {"value_bytes_max 15", 4, 15},
        {"self 7", 5, 7},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpc_config cfg;
        test_fp_config(&cfg, 7);
        uint32_t *f[] = {&cfg.commands_max, &cfg.frame_bytes,     &cfg.batch_max,
                         &cfg.window_slots, &cfg.value_bytes_max, &cfg.self};
        *f[cases[i].field] = cases[i].v;
        print_message("%s\n", cases[i].what);
        assert_int_not_equal(bpc_config_validate(&cfg, NULL, 0), 0);
        assert_int_equal(bpc_engine_footprint(&cfg), 0);
        assert_int_equal(bpc_engine_footprint_parts(&cfg, NULL, 0), 0);
        struct bpc_engine *e = NULL;
        uint8_t mem[64] __attribute__((aligned(64)));
        assert_int_not_equal(bpc_engine_init(&e, mem, sizeof(mem), &cfg, NULL, 0), 0);
        assert_int_not_equal(bpc_engine_init(&e, mem, sizeof(mem), &cfg, NULL, 0), -ENOBUFS);
    }
    /* Weights and threshold: no quorum, or quorums that may not meet. */
    struct bpc_config cfg;
    test_fp_config(&cfg, 7);
    memset(cfg.weights, 0, sizeof(cfg.weights));
    assert_int_equal(bpc_engine_footprint(&cfg), 0);
    test_fp_config(&cfg, 7);
    cfg.threshold = 8;
    assert_int_equal(bpc_engine_footprint(&cfg), 0);
    cfg.threshold = 3;
    assert_int_equal(bpc_engine_footprint(&cfg), 0);
    cfg.threshold = 5; /* the valid one again */
    assert_true(bpc_engine_footprint(&cfg) > 0);
}

/* Goal: bpc_engine_init refuses storage that is NULL, short or not 64-byte
 * aligned with -ENOBUFS and names which of the three it is, and takes the
 * same bytes aligned. Before (review D1's M13), a misaligned block of
 * the right size was "engine storage: 5312896 bytes given, 5312896
 * (64-byte aligned) needed", the same number on both sides. */
static void
test_footprint_storage_refusals_named(void **state)
{
    (void)state;
    struct bpc_config cfg;
    test_fp_config(&cfg, 4);
    size_t need = bpc_engine_footprint(&cfg);
    assert_true(need > 0);
    uint8_t *block = aligned_alloc(64, need + 64);
    assert_non_null(block);
    struct bpc_engine *e = NULL;
    char err[256] = "";
    assert_int_equal(bpc_engine_init(&e, NULL, need, &cfg, err, sizeof(err)), -ENOBUFS);
    printf("  NULL: %s\n", err);
    assert_non_null(strstr(err, "NULL"));
    assert_int_equal(bpc_engine_init(&e, block, need - 1, &cfg, err, sizeof(err)), -ENOBUFS);
    printf("  short: %s\n", err);
    assert_non_null(strstr(err, "too short"));
    assert_int_equal(bpc_engine_init(&e, block + 8, need, &cfg, err, sizeof(err)), -ENOBUFS);
    printf("  misaligned: %s\n", err);
    assert_non_null(strstr(err, "not 64-byte aligned"));
    assert_int_equal(bpc_engine_init(&e, block, need, &cfg, err, sizeof(err)), 0);
    free(block);
}

/* Bytes of [p, p + len) resident in memory. */
static size_t
test_fp_resident(const void *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t pages = ((uintptr_t)p + len - lo + page - 1) / page;
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore((void *)lo, pages * page, vec), 0);
    size_t resident = 0;
    for (size_t k = 0; k < pages; k++) {
        resident += (vec[k] & 1u) ? page : 0;
    }
    free(vec);
    return resident;
}

/* Builds an engine for cfg with bpc_engine_new, starts it, and checks
 * that the footprint is above need_min while under 512 KiB is resident. */
static void
test_fp_check_resident(const struct bpc_config *cfg, const char *what, size_t need_min)
{
    size_t need = bpc_engine_footprint(cfg);
    struct bpc_engine *e = NULL;
    char err[256] = "";
    assert_int_equal(bpc_engine_new(&e, cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(e, 1000), 0);
    size_t resident = test_fp_resident(e, need);
    printf("%s: footprint %zu B, resident after start %zu B\n", what, need, resident);
    assert_true(need > need_min);        /* the configuration allows a lot ... */
    assert_true(resident < 512u * 1024); /* ... a new engine uses little of it */
    bpc_engine_free(e);
}

static void
test_footprint_resident_at_start(void **state)
{
    (void)state;
    struct bpc_config cfg;
    test_fp_config(&cfg, 999);
    test_fp_check_resident(&cfg, "999 parties", 4u * 1024 * 1024);
}

/* The largest window: joining ballot 1 at start writes no slot. */
static void
test_footprint_resident_big_window(void **state)
{
    (void)state;
    struct bpc_config cfg;
    test_fp_config(&cfg, 4);
    cfg.window_slots = BPC_WINDOW_SLOTS_MAX;
    test_fp_check_resident(&cfg, "window 65536", 256u * 1024 * 1024);
}

int
main(void)
{
    test_keys = calloc(BPC_PARTIES_MAX, BPC_KEY_BYTES);
    if (test_keys == NULL) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footprint_parts_add_up),
        cmocka_unit_test(test_footprint_follows_config),
        cmocka_unit_test(test_footprint_refuses_what_init_refuses),
        cmocka_unit_test(test_footprint_storage_refusals_named),
        cmocka_unit_test(test_footprint_resident_at_start),
        cmocka_unit_test(test_footprint_resident_big_window),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(test_keys);
    return rc;
}
