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

#include <sodium.h>

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

/* The most the reports of one generation of instance i's slot naming vid
 * weigh. */
static uint64_t
nm_weight_at(struct fx *f, uint64_t i, const struct bpc_vid *vid)
{
    struct eng_slot *s = eng_slot_get(f->e, i);
    assert_non_null(s);
    bpc_u128 most = 0;
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        bpc_u128 w = eng_claims_naming(f->e, s, g, vid);
        most = w > most ? w : most;
    }
    return (uint64_t)most;
}

static uint64_t
nm_weight(struct fx *f, const struct bpc_vid *vid)
{
    return nm_weight_at(f, 0, vid);
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
    uint32_t entries = 0;
    uint32_t names = 0;
    for (uint32_t h = 0; h <= f->e->ty.names_mask; h++) {
        for (uint32_t at = f->e->ty.names[h]; at != 0; at = f->e->ty.name_pool[at - 1u].next) {
            const struct eng_name *nm = &f->e->ty.name_pool[at - 1u];
            assert_true(nm->count > 0 && nm->weight == nm->count); /* weights 1 */
            entries++;
            names += nm->count;
        }
    }
    printf("names on the index: %u in %u entries\n", names, entries);
    assert_int_equal(names, 3u * (NM_PEERS + 5u));        /* v and two own values a report */
    assert_int_equal(entries, 2u + 2u * (NM_PEERS + 5u)); /* v once a generation */
    fx_delete(f);
}

/* The longest chain of the names index. */
static uint32_t
nm_longest(const struct bpc_engine *e)
{
    uint32_t most = 0;
    for (uint32_t h = 0; h <= e->ty.names_mask; h++) {
        uint32_t len = 0;
        for (uint32_t at = e->ty.names[h]; at != 0; at = e->ty.name_pool[at - 1u].next) {
            len++;
        }
        most = len > most ? len : most;
    }
    return most;
}

#define NM_W 256u /* window: one report of the peer per slot */

/* Goal: a peer that picks the ids its reports name cannot put them on one
 * chain. Seven parties; five move the engine to ballot 7; the sixth
 * reports at every instance of the window a vote and four history
 * entries, DIGEST ids whose first word is X xor the slot's term of the
 * first version's hash (so that every name had key X there), the rest of
 * each id distinct. Then every name is looked up, and the engine joins
 * ballot 8, which gives the reports back. Before, all 1,280 names were
 * on one chain: each look-up walked it and each name given back walked
 * to it, about 820,000 names passed at the join (review E4's
 * probe_names: 1.4 s for that step at 999 parties and a window of
 * 4,096). */
static void
test_steered_names_spread(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(NM_W, 256, 7);
    uint64_t b = 7;
    for (uint32_t i = 1; i < 6; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, NM_W, NULL));
    }
    assert_int_equal(bpc_engine_ballot(f->e), b);
    uint32_t z = fx_other(f, 0);
    static struct bpc_vid names[NM_W][ENG_NAMES_PER];
    for (uint32_t i = 0; i < NM_W; i++) {
        struct bpc_record r[ENG_NAMES_PER];
        for (uint32_t h = 0; h < ENG_NAMES_PER; h++) {
            struct bpc_vid *v = &names[i][h];
            memset(v, 0, sizeof(*v));
            v->kind = BPC_VALUE_DIGEST;
            v->len = 100;
            uint64_t first =
                UINT64_C(0x1234567890abcdef) ^ ((uint64_t)(i << 1) * 0x9e3779b97f4a7c15u);
            memcpy(v->id, &first, sizeof(first));
            v->id[8] = (uint8_t)h;
            r[h] =
                bpc_record_make(h == 0 ? BPC_MSG_1B : BPC_MSG_1B_HIST, i, b, h == 0 ? 5 : 5 - h, v);
        }
        r[0].hist_count = BPC_HISTORY_MAX;
        fx_send(f, z, r, ENG_NAMES_PER);
    }
    uint32_t longest = nm_longest(f->e);
    uint64_t visits = f->e->ty.names_visits;
    for (uint32_t i = 0; i < NM_W; i++) {
        for (uint32_t h = 0; h < ENG_NAMES_PER; h++) {
            assert_int_equal(nm_weight_at(f, i, &names[i][h]), 1);
        }
    }
    uint64_t looked = f->e->ty.names_visits - visits;
    visits = f->e->ty.names_visits;
    for (uint32_t i = 1; i < 6; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b + 1, NM_W, NULL));
    }
    assert_int_equal(bpc_engine_ballot(f->e), b + 1);
    uint64_t given_back = f->e->ty.names_visits - visits;
    printf("1,280 steered names: longest chain %u, %llu passed by their look-ups, %llu when "
           "given back at the join\n",
           longest, (unsigned long long)looked, (unsigned long long)given_back);
    assert_true(longest <= 8);
    assert_true(looked <= 4u * NM_W * ENG_NAMES_PER);
    assert_true(given_back <= 4u * NM_W * ENG_NAMES_PER);
    assert_int_equal(nm_longest(f->e), 0); /* all given back */
    fx_delete(f);
}

#define NM_GANG 30u /* colluding peers */

/* Goal: peers that pick ids differing only in the top bits of each of
 * their four 64-bit words (the 8 ids that flip bit 63 of an even number
 * of words among them) cannot put them on a few chains. 32 parties; 30
 * report at every instance of the window five names each, the top two
 * bits of each word of an id taken from (peer, name), the rest shared;
 * then the engine joins the next ballot. Before, the chain hash summed
 * whole 64-bit words times odd multipliers, so the 150 names of a slot
 * differed only in the top two bits of the sum: "longest chain 38" (a
 * few chains a slot; 5 now), and the join passed 727,808 entries (47,230
 * now; review G3's
 * probe_hash and probe_big: 140 ms for that join at 999 parties against
 * 7 with spread names). */
static void
test_colluding_names_spread(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(NM_W, 256, NM_N);
    uint64_t b = 7;
    for (uint32_t k = 0; k < NM_GANG; k++) {
        uint32_t p = fx_other(f, k);
        for (uint32_t i = 0; i < NM_W; i++) {
            struct bpc_record r[ENG_NAMES_PER];
            for (uint32_t h = 0; h < ENG_NAMES_PER; h++) {
                struct bpc_vid v;
                memset(&v, 0, sizeof(v));
                v.kind = BPC_VALUE_DIGEST;
                v.len = 100;
                uint32_t who = k * ENG_NAMES_PER + h; /* 0..149: 8 bits, 2 a word */
                for (uint32_t w = 0; w < 4; w++) {
                    v.id[8u * w + 7u] = (uint8_t)((who >> (2u * w) & 3u) << 6);
                }
                r[h] = bpc_record_make(h == 0 ? BPC_MSG_1B : BPC_MSG_1B_HIST, i, b,
                                       h == 0 ? 5 : 5 - h, &v);
            }
            r[0].hist_count = BPC_HISTORY_MAX;
            fx_send(f, p, r, ENG_NAMES_PER);
        }
    }
    uint32_t longest = nm_longest(f->e);
    uint64_t visits = f->e->ty.names_visits;
    fx_to_ballot(f, b + 1);
    assert_int_equal(nm_longest(f->e), 0); /* all given back */
    uint64_t given_back = f->e->ty.names_visits - visits;
    printf("%u colluding names: longest chain %u, %llu passed when given back at the join\n",
           NM_GANG * ENG_NAMES_PER * NM_W, longest, (unsigned long long)given_back);
    assert_true(longest <= 16);
    assert_true(given_back <= 8u * NM_GANG * ENG_NAMES_PER * NM_W);
    fx_delete(f);
}

/* The top bit of names_shift's chain the multipliers k pick for vid at
 * slot (generation 0): 0 when x in the id's first half puts it on chain 0
 * (the attacker's search, as claims.c's eng_names_chain sums). */
static uint64_t
nm_chain_of(const uint64_t k[10], uint32_t shift, uint32_t slot, const struct bpc_vid *v)
{
    uint64_t h = k[9] + (uint64_t)((uint32_t)v->len << 17 | slot << 1) * k[8];
    for (uint32_t w = 0; w < 8; w++) {
        h += (uint64_t)bpc_le32_load(v->id + 4u * w) * k[w];
    }
    return h >> shift;
}

/* Goal: with keys[self] all zero, as the dataplane's key files leave it,
 * a peer still cannot compute the chain hash's multipliers and aim its
 * names. Seven parties, the engine built with a zero keys[self]; a peer
 * computes the multipliers as the first derivation did (keyed BLAKE2b of
 * the context under keys[self] alone: 32 zero bytes), picks for each of
 * its names the first id half that puts it on chain 0, and reports five
 * at every instance of the window, newest first; then the engine joins
 * the next ballot. Before (review G4's probe_aim): "longest chain 1280",
 * 817,280 entries passed at the join. Now the multipliers come from the
 * seed and every pair key, which no peer holds all of. */
static void
test_names_aimed_with_a_zero_self_key(void **state)
{
    (void)state;
    struct fx *f = fx_new_n(NM_W, 256, 7);
    bpc_engine_free(f->e);
    memset(f->keys[f->me], 0, BPC_KEY_BYTES);
    char err[256];
    assert_int_equal(bpc_engine_new(&f->e, &f->cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(f->e, f->now), 0);
    static const uint8_t zero[BPC_KEY_BYTES];
    uint8_t msg[] = "bpcon names index"; /* its NUL: the block's number */
    uint8_t kb[80];
    msg[sizeof(msg) - 1] = 0;
    assert_int_equal(crypto_generichash(kb, 64, msg, sizeof(msg), zero, sizeof(zero)), 0);
    msg[sizeof(msg) - 1] = 1;
    assert_int_equal(crypto_generichash(kb + 64, 16, msg, sizeof(msg), zero, sizeof(zero)), 0);
    uint64_t k[10];
    for (uint32_t w = 0; w < 10; w++) {
        k[w] = bpc_le64_load(kb + 8u * w);
    }
    uint64_t b = 7;
    for (uint32_t i = 1; i < 6; i++) {
        fx_send1(f, fx_other(f, i), bpc_record_make(BPC_MSG_1B_RANGE, 0, b, NM_W, NULL));
    }
    for (uint32_t at = 0; at < NM_W; at++) {
        uint32_t i = NM_W - 1u - at;
        uint32_t slot = (uint32_t)eng_slot_index(f->e, eng_slot_get(f->e, i));
        struct bpc_record r[ENG_NAMES_PER];
        struct bpc_vid v[ENG_NAMES_PER];
        for (uint32_t h = 0; h < ENG_NAMES_PER; h++) {
            memset(&v[h], 0, sizeof(v[h]));
            v[h].kind = BPC_VALUE_DIGEST;
            v[h].len = 100;
            v[h].id[4] = (uint8_t)h;
            v[h].id[5] = (uint8_t)i;
            for (uint32_t x = 1;; x++) {
                bpc_le32_store(v[h].id, x);
                if (nm_chain_of(k, f->e->ty.names_shift, slot, &v[h]) == 0) {
                    break;
                }
            }
            r[h] = bpc_record_make(h == 0 ? BPC_MSG_1B : BPC_MSG_1B_HIST, i, b, h == 0 ? 5 : 5 - h,
                                   &v[h]);
        }
        r[0].hist_count = BPC_HISTORY_MAX;
        fx_send(f, fx_other(f, 0), r, ENG_NAMES_PER);
    }
    uint32_t longest = nm_longest(f->e);
    uint64_t visits = f->e->ty.names_visits;
    fx_to_ballot(f, b + 1);
    uint64_t given_back = f->e->ty.names_visits - visits;
    printf("1,280 names aimed with a zero keys[self]: longest chain %u, %llu passed at the join\n",
           longest, (unsigned long long)given_back);
    assert_true(longest <= 8);
    assert_true(given_back <= 4u * NM_W * ENG_NAMES_PER);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junk_values_cost_a_lookup),
        cmocka_unit_test(test_names_leave_with_their_reports),
        cmocka_unit_test(test_steered_names_spread),
        cmocka_unit_test(test_colluding_names_spread),
        cmocka_unit_test(test_names_aimed_with_a_zero_self_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
