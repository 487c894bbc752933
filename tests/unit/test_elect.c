/*
 * test_elect.c - leader election: a deterministic, weight-proportional pure
 * function of (cluster id, config digest, ballot) that never elects a party
 * of weight zero.
 *
 * Goal: port the origin's election tests (determinism, zero weights fail),
 * show the defect it had (a zero-weight leader) is gone, and show each
 * party's share of leaderships tracks its share of the weight.
 * Method: long ballot sweeps with fixed inputs (so results are exact and
 * repeatable), and a property test against an independent brute-force
 * oracle over random weight vectors from a printed seed (set BPC_TEST_SEED
 * to replay one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bpcon.h"

#define TEST_ELECT_SHARE_BALLOTS 100000u

static void
test_elect_config(struct bpc_config *cfg, const uint64_t *w, uint32_t n)
{
    bpc_config_defaults(cfg);
    cfg->parties_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cfg->weights[i] = w[i];
    }
}

/* Origin port: the same inputs always give the same leader. */
static void
test_elect_deterministic(void **state)
{
    (void)state;
    const uint64_t w[] = {1, 2, 3, 4};
    struct bpc_config a;
    struct bpc_config b;
    test_elect_config(&a, w, 4);
    test_elect_config(&b, w, 4);
    b.self = 2; /* not an input of the election */
    uint8_t da[BPC_DIGEST_BYTES];
    uint8_t db[BPC_DIGEST_BYTES];
    bpc_config_digest(&a, da);
    bpc_config_digest(&b, db);
    for (uint64_t ballot = 0; ballot < 2000; ballot++) {
        int l1 = bpc_elect_leader(&a, da, ballot);
        int l2 = bpc_elect_leader(&a, da, ballot);
        int l3 = bpc_elect_leader(&b, db, ballot);
        assert_in_range(l1, 0, 3);
        assert_int_equal(l1, l2);
        assert_int_equal(l1, l3);
    }
    /* Not a constant function of the ballot. */
    bool seen[4] = {false, false, false, false};
    for (uint64_t ballot = 1; ballot <= 200; ballot++) {
        seen[bpc_elect_leader(&a, da, ballot)] = true;
    }
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
}

/* Origin port: no weight, no leader (an error, not a pick). */
static void
test_elect_zero_weights(void **state)
{
    (void)state;
    const uint64_t w[] = {0, 0, 0, 0};
    struct bpc_config cfg;
    test_elect_config(&cfg, w, 4);
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_config_digest(&cfg, d);
    for (uint64_t ballot = 0; ballot < 100; ballot++) {
        assert_int_equal(bpc_elect_leader(&cfg, d, ballot), -EINVAL);
    }
    cfg.parties_count = 0;
    assert_int_equal(bpc_elect_leader(&cfg, d, 1), -EINVAL);
    cfg.parties_count = BPC_PARTIES_MAX + 1;
    assert_int_equal(bpc_elect_leader(&cfg, d, 1), -EINVAL);
}

/* The origin's defect 4: a zero-weight party must never lead. */
static void
test_elect_never_zero_weight(void **state)
{
    (void)state;
    static const uint64_t w1[] = {0, 1, 0, 2, 0};
    static const uint64_t w2[] = {5, 0, 0};
    static const uint64_t w3[] = {0, 0, 0, 7};
    const struct {
        const uint64_t *w;
        uint32_t n;
    } cases[] = {{w1, 5}, {w2, 3}, {w3, 4}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct bpc_config cfg;
        test_elect_config(&cfg, cases[c].w, cases[c].n);
        uint8_t d[BPC_DIGEST_BYTES];
        bpc_config_digest(&cfg, d);
        uint32_t counts[8] = {0};
        for (uint64_t ballot = 1; ballot <= 20000; ballot++) {
            int l = bpc_elect_leader(&cfg, d, ballot);
            assert_in_range(l, 0, cases[c].n - 1);
            assert_true(cases[c].w[l] != 0);
            counts[l]++;
        }
        for (uint32_t i = 0; i < cases[c].n; i++) {
            /* Every party with weight leads sometimes. */
            assert_true((cases[c].w[i] == 0) == (counts[i] == 0));
        }
    }
}

/* Each party's share of leaderships over 100000 ballots stays within one
 * percentage point of its share of the weight. */
static void
test_elect_weight_shares_case(const uint64_t *w, uint32_t n)
{
    struct bpc_config cfg;
    test_elect_config(&cfg, w, n);
    uint8_t d[BPC_DIGEST_BYTES];
    bpc_config_digest(&cfg, d);
    uint32_t counts[8] = {0};
    for (uint64_t ballot = 1; ballot <= TEST_ELECT_SHARE_BALLOTS; ballot++) {
        int l = bpc_elect_leader(&cfg, d, ballot);
        assert_in_range(l, 0, n - 1);
        counts[l]++;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += w[i];
    }
    printf("  weights");
    for (uint32_t i = 0; i < n; i++) {
        printf(" %" PRIu64, w[i]);
    }
    printf(":\n");
    for (uint32_t i = 0; i < n; i++) {
        double want = (double)w[i] / (double)total;
        double got = (double)counts[i] / (double)TEST_ELECT_SHARE_BALLOTS;
        printf("    party %" PRIu32 ": weight share %6.3f%%, leader share %6.3f%% (%" PRIu32
               " ballots)\n",
               i, 100.0 * want, 100.0 * got, counts[i]);
        /* |got - want| <= 1%, in integers: |count*W - w*N| <= N*W/100. */
        uint64_t lhs = (uint64_t)counts[i] * total;
        uint64_t rhs = w[i] * TEST_ELECT_SHARE_BALLOTS;
        uint64_t diff = lhs > rhs ? lhs - rhs : rhs - lhs;
        assert_true(diff * 100u <= (uint64_t)TEST_ELECT_SHARE_BALLOTS * total);
    }
}

static void
test_elect_weight_shares(void **state)
{
    (void)state;
    static const uint64_t w1[] = {1, 2, 3, 4};
    static const uint64_t w2[] = {100, 1, 2, 3, 4};
    static const uint64_t w3[] = {1, 1, 1, 1};
    test_elect_weight_shares_case(w1, 4);
    test_elect_weight_shares_case(w2, 5);
    test_elect_weight_shares_case(w3, 4);
}

/* Origin port: weights [u64::MAX, 1] (W = 2^64, past u64) work and favour
 * party 0 all but always; the mirror image favours party 1. */
static void
test_elect_huge_weight(void **state)
{
    (void)state;
    static const uint64_t w[] = {UINT64_MAX, 1};
    static const uint64_t wr[] = {1, UINT64_MAX};
    struct bpc_config cfg;
    struct bpc_config cfgr;
    test_elect_config(&cfg, w, 2);
    test_elect_config(&cfgr, wr, 2);
    uint8_t d[BPC_DIGEST_BYTES];
    uint8_t dr[BPC_DIGEST_BYTES];
    bpc_config_digest(&cfg, d);
    bpc_config_digest(&cfgr, dr);
    uint32_t zero = 0;
    uint32_t one = 0;
    const uint32_t ballots = 20000;
    for (uint64_t ballot = 1; ballot <= ballots; ballot++) {
        int l = bpc_elect_leader(&cfg, d, ballot);
        assert_in_range(l, 0, 1);
        zero += l == 0;
        l = bpc_elect_leader(&cfgr, dr, ballot);
        assert_in_range(l, 0, 1);
        one += l == 1;
    }
    printf("  [u64::MAX, 1]: party 0 led %" PRIu32 " of %" PRIu32 "\n", zero, ballots);
    printf("  [1, u64::MAX]: party 1 led %" PRIu32 " of %" PRIu32 "\n", one, ballots);
    assert_true(zero >= ballots - 1);
    assert_true(one >= ballots - 1);
}

/* A different cluster id gives a different (unrelated) leader sequence. */
static void
test_elect_cluster_id(void **state)
{
    (void)state;
    static const uint64_t w[] = {1, 1, 1, 1};
    struct bpc_config a;
    struct bpc_config b;
    test_elect_config(&a, w, 4);
    test_elect_config(&b, w, 4);
    b.cluster_id = a.cluster_id + 1;
    uint8_t da[BPC_DIGEST_BYTES];
    uint8_t db[BPC_DIGEST_BYTES];
    bpc_config_digest(&a, da);
    bpc_config_digest(&b, db);
    unsigned differ = 0;
    unsigned differ_digest_only = 0;
    for (uint64_t ballot = 1; ballot <= 256; ballot++) {
        differ += bpc_elect_leader(&a, da, ballot) != bpc_elect_leader(&b, db, ballot);
        /* The cluster id enters the hash directly too, not only via the digest. */
        differ_digest_only += bpc_elect_leader(&a, da, ballot) != bpc_elect_leader(&b, da, ballot);
    }
    printf("  leaders differ on %u of 256 ballots (%u with the digest held)\n", differ,
           differ_digest_only);
    /* Independent sequences agree on about a quarter of ballots. */
    assert_true(differ >= 128);
    assert_true(differ_digest_only >= 128);
}

/* ---- brute-force oracle -------------------------------------------------- */

static uint64_t
test_elect_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The documented election, written out a second way: bytes laid out by
 * shifts, the draw read byte by byte, the mask from a bit count, and the
 * leader as the party whose half-open weight interval holds the draw. */
static int
test_elect_oracle(const struct bpc_config *cfg, const uint8_t digest[32], uint64_t ballot)
{
    bpc_u128 total = 0;
    for (uint32_t i = 0; i < cfg->parties_count; i++) {
        total += cfg->weights[i];
    }
    if (total == 0) {
        return -EINVAL;
    }
    unsigned bits = 0;
    for (bpc_u128 x = total; x != 0; x >>= 1) {
        bits++;
    }
    bpc_u128 mask = bits >= 128 ? ~(bpc_u128)0 : (((bpc_u128)1 << bits) - 1);
    uint8_t in[66];
    memcpy(in, "bpcon-elect-v1", 14);
    for (int k = 0; k < 8; k++) {
        in[14 + k] = (uint8_t)(cfg->cluster_id >> (8 * k));
        in[54 + k] = (uint8_t)(ballot >> (8 * k));
    }
    memcpy(in + 22, digest, 32);
    for (uint32_t counter = 0; counter < 256; counter++) {
        for (int k = 0; k < 4; k++) {
            in[62 + k] = (uint8_t)(counter >> (8 * k));
        }
        uint8_t out[32];
        crypto_generichash(out, sizeof(out), in, sizeof(in), NULL, 0);
        bpc_u128 draw = 0;
        for (int k = 15; k >= 0; k--) {
            draw = (draw << 8) | out[k];
        }
        draw &= mask;
        if (draw >= total) {
            continue;
        }
        bpc_u128 lo = 0;
        for (uint32_t i = 0; i < cfg->parties_count; i++) {
            bpc_u128 hi = lo + cfg->weights[i];
            if (lo <= draw && draw < hi) {
                return (int)i;
            }
            lo = hi;
        }
    }
    return -1000; /* never reached in practice */
}

static uint64_t
test_elect_random_weight(uint64_t *s)
{
    uint64_t r = test_elect_splitmix(s);
    switch (r % 6) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return UINT64_MAX - (r >> 60);
    case 3:
        return r >> (r % 64);
    default:
        return 1 + (r >> 8) % 100;
    }
}

static void
test_elect_oracle_property(void **state)
{
    (void)state;
    uint64_t seed = 0x6270636f6e2d656cull;
    const char *env = getenv("BPC_TEST_SEED");
    if (env != NULL) {
        seed = strtoull(env, NULL, 0);
    }
    printf("  oracle seed: BPC_TEST_SEED=0x%016" PRIx64 "\n", seed);
    uint64_t s = seed;
    static struct bpc_config cfg;
    unsigned vectors = 0;
    unsigned compared = 0;
    for (unsigned round = 0; round < 300; round++) {
        uint32_t n = 1 + (uint32_t)(test_elect_splitmix(&s) % (round % 10 == 9 ? 1024 : 12));
        bpc_config_defaults(&cfg);
        cfg.cluster_id = test_elect_splitmix(&s);
        cfg.parties_count = n;
        for (uint32_t i = 0; i < n; i++) {
            cfg.weights[i] = test_elect_random_weight(&s);
        }
        uint8_t d[BPC_DIGEST_BYTES];
        bpc_config_digest(&cfg, d);
        vectors++;
        for (unsigned k = 0; k < 20; k++) {
            uint64_t ballot = k < 10 ? k : test_elect_splitmix(&s);
            int got = bpc_elect_leader(&cfg, d, ballot);
            int want = test_elect_oracle(&cfg, d, ballot);
            if (got != want) {
                print_error("seed 0x%016" PRIx64 " round %u ballot %" PRIu64 ": %d != oracle %d\n",
                            seed, round, ballot, got, want);
            }
            assert_int_equal(got, want);
            if (got >= 0) {
                assert_true(cfg.weights[got] != 0);
            }
            compared++;
        }
    }
    printf("  %u weight vectors, %u elections matched the oracle\n", vectors, compared);
}

static int
test_elect_setup(void **state)
{
    (void)state;
    return bpc_init() == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elect_deterministic),     cmocka_unit_test(test_elect_zero_weights),
        cmocka_unit_test(test_elect_never_zero_weight), cmocka_unit_test(test_elect_weight_shares),
        cmocka_unit_test(test_elect_huge_weight),       cmocka_unit_test(test_elect_cluster_id),
        cmocka_unit_test(test_elect_oracle_property),
    };
    return cmocka_run_group_tests(tests, test_elect_setup, NULL);
}
