/*
 * test_abi.c - every public struct's size and alignment, recorded with the
 * ABI number (soname) of the library whose header declares it.
 *
 * Goal: a struct layout cannot change under an unchanged soname. A program
 * built against an older header passes its own struct to the library: a
 * struct that grew since (bpc_store_stats gained live_values, 80 -> 88
 * bytes, under libbpcon-store.so.0) is written past its end. Each library's
 * ABI number is in engine/meson.build (abi_versions) and reaches this test
 * as BPC_ABI_*; the record below names the number it was taken for.
 * Method: sizeof and _Alignof of each struct against the record; the
 * record's number against the build's. A changed layout fails until the
 * number grows and the record is taken again for it (docs/BUILD.md,
 * "ABI"); a grown number fails until the record is taken for it. The record
 * is this build's x86-64 LP64 layout; other targets skip. Size and
 * alignment catch every added, removed or resized member, not a reorder of
 * members of one size (a tripwire, not a proof).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bpcon.h"
#include "bpcon_store.h"
#ifdef BPC_ABI_LIBBPCON_DP
#include "bpcon_dp.h"
#endif

struct abi_rec {
    const char *lib;    /* the library whose header declares it */
    const char *name;   /* struct NAME */
    size_t size, align; /* this build's */
    size_t rec_size, rec_align;
};

#define ABI_REC(lib, name, size, align)                                                            \
    {                                                                                              \
        lib, #name, sizeof(struct name), _Alignof(struct name), size, align                        \
    }

/* The ABI numbers the record below was taken for. */
#define ABI_RECORDED_LIBBPCON 1
#define ABI_RECORDED_LIBBPCON_STORE 1
#define ABI_RECORDED_LIBBPCON_DP 1

static const struct abi_rec abi_recs[] = {
    ABI_REC("libbpcon", bpc_timers, 48, 8),
    ABI_REC("libbpcon", bpc_config, 8400, 16),
    ABI_REC("libbpcon", bpc_vid, 36, 2),
    ABI_REC("libbpcon", bpc_record, 80, 8),
    ABI_REC("libbpcon", bpc_frame_header, 32, 8),
    ABI_REC("libbpcon", bpc_wire_writer, 24, 8),
    ABI_REC("libbpcon", bpc_log_config, 24, 8),
    ABI_REC("libbpcon", bpc_log_entry, 32, 8),
    ABI_REC("libbpcon", bpc_frame_in, 16, 8),
    ABI_REC("libbpcon", bpc_frame_out, 24, 8),
    ABI_REC("libbpcon", bpc_decision, 72, 8),
    ABI_REC("libbpcon", bpc_durable, 320, 8),
    ABI_REC("libbpcon", bpc_durable_value, 56, 8),
    ABI_REC("libbpcon", bpc_step_in, 24, 8),
    ABI_REC("libbpcon", bpc_step_out, 72, 8),
    ABI_REC("libbpcon", bpc_counters, 328, 8),
    ABI_REC("libbpcon", bpc_footprint_part, 176, 8),
    ABI_REC("libbpcon", bpc_command, 24, 8),
    ABI_REC("libbpcon-store", bpc_store_io, 120, 8),
    ABI_REC("libbpcon-store", bpc_store_options, 24, 8),
    ABI_REC("libbpcon-store", bpc_store_info, 248, 8),
    ABI_REC("libbpcon-store", bpc_store_stats, 88, 8),
    ABI_REC("libbpcon-store", bpc_store_frame, 80, 8),
#ifdef BPC_ABI_LIBBPCON_DP
    ABI_REC("libbpcon-dp", bpc_dp_clock, 16, 8),
    ABI_REC("libbpcon-dp", bpc_dp_link, 24, 8),
    ABI_REC("libbpcon-dp", bpc_dp_party_conf, 176, 8),
    ABI_REC("libbpcon-dp", bpc_dp_counters, 168, 8),
    ABI_REC("libbpcon-dp", bpc_dp_stats, 528, 8),
    ABI_REC("libbpcon-dp", bpc_dp_rx_stats, 24, 8),
    ABI_REC("libbpcon-dp", bpc_dp_party_entry, 536, 8),
    ABI_REC("libbpcon-dp", bpc_dp_cluster, 48, 16),
#endif
};

/* The build's ABI number for lib, and the one the record was taken for. */
static void
abi_numbers(const char *lib, int *build, int *recorded)
{
    if (strcmp(lib, "libbpcon") == 0) {
        *build = BPC_ABI_LIBBPCON;
        *recorded = ABI_RECORDED_LIBBPCON;
    } else if (strcmp(lib, "libbpcon-store") == 0) {
        *build = BPC_ABI_LIBBPCON_STORE;
        *recorded = ABI_RECORDED_LIBBPCON_STORE;
    } else {
#ifdef BPC_ABI_LIBBPCON_DP
        *build = BPC_ABI_LIBBPCON_DP;
#else
        *build = -1;
#endif
        *recorded = ABI_RECORDED_LIBBPCON_DP;
    }
}

/* Every struct as recorded, each library's number as recorded; every
 * difference is printed before the test fails. */
static void
test_abi_layouts_match_sonames(void **state)
{
    (void)state;
#if !defined(__x86_64__) || !defined(__LP64__)
    skip(); /* the record is x86-64 LP64's */
#endif
    int bad = 0;
    const char *libs[] = {"libbpcon", "libbpcon-store", "libbpcon-dp"};
    for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
        int build;
        int recorded;
        abi_numbers(libs[k], &build, &recorded);
        if (build >= 0 && build != recorded) {
            print_error("%s: ABI number %d (engine/meson.build), but the layouts here were "
                        "recorded for %d: record them for %d\n",
                        libs[k], build, recorded, build);
            bad++;
        }
    }
    for (size_t i = 0; i < sizeof(abi_recs) / sizeof(abi_recs[0]); i++) {
        const struct abi_rec *r = &abi_recs[i];
        if (r->size != r->rec_size || r->align != r->rec_align) {
            int build;
            int recorded;
            abi_numbers(r->lib, &build, &recorded);
            print_error("struct %s: %zu bytes, aligned %zu; recorded %zu, aligned %zu for "
                        "%s.so.%d: a changed layout needs a new ABI number for %s "
                        "(engine/meson.build) and a new record here\n",
                        r->name, r->size, r->align, r->rec_size, r->rec_align, r->lib, recorded,
                        r->lib);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_layouts_match_sonames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
