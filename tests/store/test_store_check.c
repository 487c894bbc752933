/*
 * test_store_check.c - bpc_store_append's record check (store_record_check)
 * reads its verdict off the record; recovery's verdict is
 * store_decode_record's on the record's encoded bytes, and restore's is
 * bpc_durable_ok (the check applies both: a record restore refuses is
 * not written). This holds the check equal to the two together on a
 * million records drawn around every boundary the format has
 * (ballots at BPC_BALLOT_MAX, identities of each kind and length, pad
 * bytes, history counts, decided flags, floors), and checks that both
 * verdicts occur often, so that agreement on one side only cannot pass.
 *
 * Owns: nothing beyond the test. Must never: write a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"
#include "store_internal.h"

/* A 64-bit xorshift: the draws are the same in every run. */
static uint64_t
check_rand(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *st = x;
    return x;
}

static uint64_t
check_u64(uint64_t *st)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     1000,
                                     BPC_BALLOT_MAX - 1,
                                     BPC_BALLOT_MAX,
                                     BPC_BALLOT_MAX + 1,
                                     BPC_DURABLE_FLOOR_MAX,
                                     BPC_DURABLE_FLOOR_MAX + 1,
                                     BPC_DURABLE_APPLIED_BASE - 1,
                                     BPC_DURABLE_APPLIED_BASE,
                                     UINT64_MAX};
    uint64_t r = check_rand(st);
    if (r % 4 == 0) {
        return check_rand(st);
    }
    if (r % 4 == 1) {
        return check_rand(st) % 64; /* small: instances below and above floors */
    }
    return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
}

/* An identity: mostly of a shape an engine writes, else broken one way. */
static void
check_vid(uint64_t *st, struct bpc_vid *v)
{
    static const uint16_t lens[] = {0, 1, 16, 31, 32, 33, 80, 8192, 8193, 65535};
    memset(v, 0, sizeof(*v));
    uint64_t r = check_rand(st);
    v->kind = (uint8_t)(r % 5); /* NONE, INLINE, DIGEST, NOOP, and one past */
    if (v->kind == BPC_VALUE_INLINE) {
        v->len = (uint16_t)(check_rand(st) % (BPC_VALUE_INLINE_MAX + 1));
        for (uint32_t i = 0; i < v->len; i++) {
            v->id[i] = (uint8_t)check_rand(st);
        }
    } else if (v->kind == BPC_VALUE_DIGEST) {
        v->len = (uint16_t)(BPC_VALUE_INLINE_MAX + 1 + check_rand(st) % 8192);
        for (uint32_t i = 0; i < BPC_VALUE_INLINE_MAX; i++) {
            v->id[i] = (uint8_t)check_rand(st);
        }
    }
    switch ((r >> 8) % 8) {
    case 0:
        v->pad = (uint8_t)(1 + (r >> 16) % 255);
        break;
    case 1:
        v->len = lens[(r >> 16) % (sizeof(lens) / sizeof(lens[0]))];
        break;
    case 2:
        v->id[(r >> 16) % BPC_VALUE_INLINE_MAX] ^= (uint8_t)(1 + (r >> 24) % 255);
        break;
    default:
        break; /* as drawn */
    }
}

/* Three records in four are drawn nearer the engine's shape (bpc_durable_ok,
 * which the check applies too): an incarnation at or around its limit, a
 * vote value exactly when a vote ballot and a promise at or above the
 * vote ballots (most of the time), so that
 * records both rules accept are common and the boundaries are drawn. */
static void
check_engine_shape(uint64_t *st, struct bpc_durable *d)
{
    /* BPC_INCARNATION_MAX is refused with a promise (restore cannot start
     * from it) and taken without one: both sides of that boundary too. */
    static const uint64_t incs[] = {0,
                                    1,
                                    2,
                                    77,
                                    4096,
                                    BPC_INCARNATION_MAX - 2,
                                    BPC_INCARNATION_MAX - 1,
                                    BPC_INCARNATION_MAX,
                                    BPC_INCARNATION_MAX + 1};
    uint64_t r = check_rand(st);
    d->incarnation = incs[r % (sizeof(incs) / sizeof(incs[0]))];
    if ((r >> 8) % 8 != 0) {
        d->max_vbal = d->max_vval.kind == BPC_VALUE_NONE ? 0 : d->max_vbal | 1u;
    }
    if ((r >> 16) % 8 != 0 && d->dec_val.kind == BPC_VALUE_NONE) {
        d->dec_val.kind = BPC_VALUE_NOOP;
    }
    if ((r >> 24) % 4 != 0) {
        d->floor = check_rand(st) % 64;
    } else if ((r >> 60) % 8 != 0) {
        d->floor %= BPC_DURABLE_FLOOR_MAX + 1u; /* large, within the bound */
    }
    /* A vote instance within BPC_DURABLE_FLOOR_MAX's bound, seven times in
     * eight (drawn whole, three in four are past it). */
    if ((r >> 56) % 8 != 0 && d->instance < BPC_DURABLE_APPLIED_BASE) {
        d->instance %= BPC_DURABLE_FLOOR_MAX + BPC_WINDOW_SLOTS_MAX;
    }
    for (uint32_t h = 0; h < d->hist_count && h < BPC_HISTORY_MAX && (r >> 32) % 8 != 0; h++) {
        d->hist_bal[h] = d->hist_bal[h] % BPC_BALLOT_MAX + 1u;
        d->hist_val[h].kind =
            d->hist_val[h].kind == BPC_VALUE_NONE ? BPC_VALUE_NOOP : d->hist_val[h].kind;
    }
    if ((r >> 40) % 8 != 0) { /* a promise at or above every vote ballot */
        uint64_t m = d->max_bal > d->max_vbal ? d->max_bal : d->max_vbal;
        for (uint32_t h = 0; h < d->hist_count && h < BPC_HISTORY_MAX; h++) {
            m = d->hist_bal[h] > m ? d->hist_bal[h] : m;
        }
        d->max_bal = m;
    }
}

static void
check_record(uint64_t *st, struct bpc_durable *d)
{
    memset(d, 0, sizeof(*d));
    d->instance = check_u64(st);
    d->max_bal = check_u64(st);
    d->incarnation = check_u64(st);
    d->floor = check_u64(st);
    d->applied_seq = check_u64(st);
    d->max_vbal = check_u64(st);
    check_vid(st, &d->max_vval);
    uint64_t r = check_rand(st);
    d->decided = (uint8_t)((r % 8) < 3 ? 1 : ((r % 8) == 3 ? 2 + (r >> 8) % 200 : 0));
    d->hist_count = (uint8_t)((r >> 16) % 8 == 0 ? 5 + (r >> 24) % 250 : (r >> 16) % 5);
    if (d->decided == 1 && (r >> 32) % 4 != 0) {
        d->hist_count = 0;
    }
    d->dec_bal = check_u64(st);
    d->dec_keep = check_u64(st);
    check_vid(st, &d->dec_val);
    /* The history arrays: zero past the count, as the engine writes them,
     * or drawn whole (bpc_store_append's caller may be anything). */
    uint32_t fill = (r >> 40) % 4 == 0 ? BPC_HISTORY_MAX : d->hist_count;
    for (uint32_t h = 0; h < fill && h < BPC_HISTORY_MAX; h++) {
        d->hist_bal[h] = check_u64(st);
        check_vid(st, &d->hist_val[h]);
    }
    if ((r >> 48) % 4 != 0) {
        check_engine_shape(st, d);
    }
}

/* Recovery's verdict: the checks before encoding (encoding asserts a
 * decided record has no history), then the decoder on the frame's bytes.
 * The append check also applies the engine's restore rule
 * (bpc_durable_ok): it refuses what recovery would load but restore
 * would not. */
static bool
check_recovery_ok(const struct bpc_durable *d)
{
    if (d->hist_count > BPC_HISTORY_MAX || d->decided > 1 || (d->decided && d->hist_count != 0) ||
        !bpc_durable_ok(d)) {
        return false;
    }
    if (!d->decided && d->instance < BPC_DURABLE_APPLIED_BASE && d->instance >= d->floor &&
        d->instance - d->floor >= BPC_WINDOW_SLOTS_MAX) {
        return false; /* no window reaches it: every restore refuses it (-ERANGE) */
    }
    uint8_t frame[STORE_RECORD_FRAME_BYTES];
    uint64_t seq = 1;
    size_t len = store_put_record_frame(frame, d, &seq);
    assert_int_equal(len, STORE_RECORD_FRAME_BYTES);
    struct bpc_durable back;
    return store_decode_record(frame + BPC_STORE_FRAME_HEADER_BYTES, &back) == NULL;
}

static void
test_check_matches_recovery(void **state)
{
    (void)state;
    uint64_t st = 0x9e3779b97f4a7c15ull;
    uint32_t ok = 0;
    uint32_t refused = 0;
    uint32_t decided_ok = 0;
    for (uint32_t i = 0; i < 1000000; i++) {
        struct bpc_durable d;
        check_record(&st, &d);
        bool want = check_recovery_ok(&d);
        bool got = store_record_check(&d) == NULL;
        if (want != got) {
            fail_msg("record %u: recovery %s it, the check %s it (decided %u, hist_count %u)", i,
                     want ? "loads" : "refuses", got ? "accepts" : "refuses", d.decided,
                     d.hist_count);
        }
        ok += want ? 1u : 0u;
        refused += want ? 0u : 1u;
        decided_ok += want && d.decided ? 1u : 0u;
    }
    print_message("accepted %u refused %u decided accepted %u\n", ok, refused, decided_ok);
    /* Both verdicts, and decided records among the accepted, often (about
     * 11,700 accepted since floors and vote instances are bounded by
     * BPC_DURABLE_FLOOR_MAX, most whole u64 draws past it, and a vote
     * instance by its floor + BPC_WINDOW_SLOTS_MAX). */
    assert_true(ok > 10000);
    assert_true(refused > 20000);
    assert_true(decided_ok > 2000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_matches_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
