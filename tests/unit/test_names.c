/*
 * test_names.c - one engine against scripted peers (fx.h): the weight of
 * the 1b reports naming a value is read off the names index, so a VALUE
 * record for a value no report names costs a chain's look-up, not a walk
 * of the instance's reports, and the index gives the weights the reports
 * hold (docs/ENGINE.md, "Vote reports (never under-report)").
 *
 * Method: the fixture of fx.h with 32 parties of weight 1; the
 * work is counted by the engine's names_visits (engine/src/core.h), never
 * timed. Must never: edit engine state, or rely on timing other than the
 * virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"
#include "tally.h"
#include "window.h"

#include "fx.h"

#define NM_N 32u     /* parties */
#define NM_PEERS 30u /* peers whose 1b reports name v and two junk values */
#define NM_JUNK 64u  /* VALUE records for values nobody named */

static uint8_t nm_v[128];
static uint8_t nm_named[NM_PEERS][2][128];
static uint8_t nm_junk[NM_JUNK][256]; /* commands of up to 127 bytes and their headers */

/* Peer i's 1b for instance 0 at ballot b: a 2b for v at ballot 3, and a
 * history of two values of its own (ballots 1 and 2, commands of len
 * bytes) and v (3); v twice in one report counts once. Its range says
 * the rest is empty. */
static void
nm_report(struct fx *f, uint32_t i, uint64_t b, const struct bpc_vid *v, struct bpc_vid own[2],
          uint32_t len)
{
    uint32_t p = fx_other(f, i);
    for (uint32_t k = 0; k < 2; k++) {
        fx_batch(nm_named[i][k], p, 1 + k, len, (uint8_t)(0x80 + 2 * i + k), &own[k]);
    }
    struct bpc_record r[5];
    r[0] = bpc_record_make(BPC_MSG_1B, 0, b, 3, v);
    r[0].hist_count = 3;
    r[1] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, 1, &own[0]);
    r[2] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, 2, &own[1]);
    r[3] = bpc_record_make(BPC_MSG_1B_HIST, 0, b, 3, v);
    r[4] = bpc_record_make(BPC_MSG_1B_RANGE, 0, b, 1, NULL);
    fx_send(f, p, r, 5);
}

/* The most the reports of one generation of instance 0's slot naming vid
 * weigh. */
static uint64_t
nm_weight(struct fx *f, const struct bpc_vid *vid)
{
    struct eng_slot *s = eng_slot_get(f->e, 0);
    assert_non_null(s);
    bpc_u128 most = 0;
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        bpc_u128 w = eng_claims_naming(f->e, s, g, vid);
        most = w > most ? w : most;
    }
    return (uint64_t)most;
}

/* Goal: a frame of VALUE records for values no report names costs each
 * a look-up on the names index, and the index gives each named value its
 * reports' weight. 30 peers report v and two values of their own at
 * instance 0; a Byzantine peer then sends 64 VALUE records for other
 * values (bytes that hash to their ids). Before, each walked the kept
 * reports (1,440 visits for the 64 with a counter added to that walk);
 * now the chains they land on hold about 90 names over 1,024 heads (3
 * visits). The leader still proposes v once a peer sends its bytes. */
static void
test_junk_values_cost_a_lookup(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(8, 256, NM_N);
    uint64_t b = 7;
    while (fx_leader(f, b) != (int)f->me) {
        b++;
    }
    struct bpc_vid v;
    fx_batch(nm_v, fx_other(f, 0), 9, 64, 0x5A, &v);
    struct bpc_vid own[NM_PEERS][2];
    for (uint32_t i = 0; i < NM_PEERS; i++) {
        nm_report(f, i, b, &v, own[i], 64);
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0); /* no bytes, no 2a */
    assert_int_equal(nm_weight(f, &v), NM_PEERS);
    for (uint32_t i = 0; i < NM_PEERS; i++) {
        assert_int_equal(nm_weight(f, &own[i][0]), 1);
        assert_int_equal(nm_weight(f, &own[i][1]), 1);
    }
    uint32_t z = fx_other(f, NM_PEERS);
    struct bpc_record bad[NM_JUNK];
    for (uint32_t k = 0; k < NM_JUNK; k++) {
        struct bpc_vid j;
        fx_batch(nm_junk[k], z, 1, 64 + k, 0x11, &j);
        assert_int_equal(nm_weight(f, &j), 0);
        bad[k] = bpc_record_make(BPC_MSG_VALUE, 0, b, 0, &j);
        bad[k].value_bytes = nm_junk[k];
    }
    uint64_t visits = f->e->ty.names_visits;
    for (uint32_t k = 0; k < NM_JUNK; k += 8) {
        fx_send(f, z, bad + k, 8);
    }
    uint64_t spent = f->e->ty.names_visits - visits;
    printf("names visited for %u junk VALUE records: %llu\n", NM_JUNK, (unsigned long long)spent);
    assert_true(spent <= NM_JUNK);
    assert_true(fx_find(f, 0, BPC_MSG_2A, 0, b) < 0);
    struct bpc_record val = bpc_record_make(BPC_MSG_VALUE, 0, b, 0, &v);
    val.value_bytes = nm_v;
    fx_send1(f, fx_other(f, 1), val);
    int k = fx_find(f, 0, BPC_MSG_2A, 0, b);
    assert_true(k >= 0);
    assert_true(bpc_vid_eq(&f->sent[k].value, &v));
    assert_memory_equal(f->sent[k].value_bytes, nm_v, v.len);
    fx_delete(f);
}

/* Goal: reports given back leave the index. The 30 peers report at
 * ballots b, b + 1 and b + 2, naming two other values of their own at
 * each; the engine joins each ballot and gives the older ballots'
 * reports back. Five peers then report at b + 3 (too few to join it: a
 * second generation holds them). Only the names of the kept reports are
 * on the index, with their weights, and each chain holds taken entries'
 * names alone (debug builds also check every drop finds its name). */
static void
test_names_leave_with_their_reports(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(8, 256, NM_N);
    uint64_t b = 7;
    struct bpc_vid v;
    fx_batch(nm_v, fx_other(f, 0), 9, 64, 0x5A, &v);
    struct bpc_vid own[4][NM_PEERS][2];
    for (uint32_t k = 0; k < 4; k++) {
        for (uint32_t i = 0; i < (k < 3 ? NM_PEERS : 5u); i++) {
            nm_report(f, i, b + k, &v, own[k][i], 64 + k);
        }
        assert_int_equal(bpc_engine_ballot(f->e), b + (k < 3 ? k : 2u));
    }
    assert_int_equal(nm_weight(f, &v), NM_PEERS);
    for (uint32_t i = 0; i < NM_PEERS; i++) {
        for (uint32_t h = 0; h < 2; h++) {
            assert_int_equal(nm_weight(f, &own[0][i][h]), 0);
            assert_int_equal(nm_weight(f, &own[1][i][h]), 0);
            assert_int_equal(nm_weight(f, &own[2][i][h]), 1);
            if (i < 5) {
                assert_int_equal(nm_weight(f, &own[3][i][h]), 1);
            }
        }
    }
    uint32_t names = 0;
    for (uint32_t h = 0; h <= f->e->ty.names_mask; h++) {
        for (uint32_t at = f->e->ty.names[h]; at != 0;) {
            const struct eng_claim *cl = &f->e->ty.claims[at / (1u + BPC_HISTORY_MAX) - 1u];
            assert_true((cl->named >> (at % (1u + BPC_HISTORY_MAX)) & 1u) != 0);
            names++;
            at = cl->name_next[at % (1u + BPC_HISTORY_MAX)];
        }
    }
    printf("names on the index: %u\n", names);
    assert_int_equal(names, 3u * (NM_PEERS + 5u)); /* v and two own values a report */
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junk_values_cost_a_lookup),
        cmocka_unit_test(test_names_leave_with_their_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
