/*
 * elect.c - the leader of a ballot as a pure function of (cluster id,
 * config digest, ballot), drawn in proportion to the parties' weights.
 *
 * Owns: the election hash input layout and the draw. Must never: read a
 * clock or entropy, elect a party of weight zero (the origin's defect 4), or
 * depend on anything but explicit little-endian bytes, so every party and
 * every platform elects the same leader.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Domain separation; bump the suffix if the input layout changes. */
#define ELECT_DOMAIN "bpcon-elect-v1"
#define ELECT_DOMAIN_BYTES (sizeof(ELECT_DOMAIN) - 1)
/* Input: domain | cluster_id u64 | digest | ballot u64 | counter u32. */
#define ELECT_OFF_CLUSTER ELECT_DOMAIN_BYTES
#define ELECT_OFF_DIGEST (ELECT_OFF_CLUSTER + 8)
#define ELECT_OFF_BALLOT (ELECT_OFF_DIGEST + BPC_DIGEST_BYTES)
#define ELECT_OFF_COUNTER (ELECT_OFF_BALLOT + 8)
#define ELECT_INPUT_BYTES (ELECT_OFF_COUNTER + 4)
/* The mask keeps each draw below 2W, so a draw is accepted with probability
 * above 1/2 and 256 rejections in a row happen with probability < 2^-256. */
#define ELECT_TRIES_MAX 256u

_Static_assert(ELECT_INPUT_BYTES == 66, "election hash input layout");

/* All ones up to and including the highest set bit of w (w > 0). */
static bpc_u128
elect_mask(bpc_u128 w)
{
    bpc_u128 mask = 0;
    while (mask < w) {
        mask = (mask << 1) | 1u;
    }
    return mask;
}

static bpc_u128
elect_draw(uint8_t input[ELECT_INPUT_BYTES], uint32_t counter)
{
    uint8_t out[BPC_DIGEST_BYTES];
    bpc_le32_store(input + ELECT_OFF_COUNTER, counter);
    eng_digest(out, input, ELECT_INPUT_BYTES);
    return (bpc_u128)bpc_le64_load(out) | ((bpc_u128)bpc_le64_load(out + 8) << 64);
}

int
bpc_elect_leader(const struct bpc_config *cfg, const uint8_t digest[BPC_DIGEST_BYTES],
                 uint64_t ballot)
{
    if (cfg == NULL || digest == NULL || cfg->parties_count == 0 ||
        cfg->parties_count > BPC_PARTIES_MAX) {
        return -EINVAL;
    }
    bpc_u128 total = bpc_config_total_weight(cfg);
    if (total == 0u) {
        return -EINVAL;
    }
    uint8_t input[ELECT_INPUT_BYTES];
    memcpy(input, ELECT_DOMAIN, ELECT_DOMAIN_BYTES);
    bpc_le64_store(input + ELECT_OFF_CLUSTER, cfg->cluster_id);
    memcpy(input + ELECT_OFF_DIGEST, digest, BPC_DIGEST_BYTES);
    bpc_le64_store(input + ELECT_OFF_BALLOT, ballot);

    bpc_u128 mask = elect_mask(total);
    bpc_u128 draw = 0;
    bool found = false;
    for (uint32_t counter = 0; counter < ELECT_TRIES_MAX && !found; counter++) {
        draw = elect_draw(input, counter) & mask;
        found = draw < total;
    }
    if (!found) {
        /* Never seen in practice (see ELECT_TRIES_MAX): fall back to a
         * slightly biased but still deterministic draw rather than fail. */
        draw %= total;
    }
    BPC_ASSERT(draw < total);

    /* First party whose cumulative weight exceeds the draw: a zero-weight
     * party adds nothing, so it can never be the first to exceed it. */
    bpc_u128 cum = 0;
    for (uint32_t i = 0; i < cfg->parties_count; i++) {
        cum += cfg->weights[i];
        if (cum > draw) {
            BPC_ASSERT(cfg->weights[i] != 0);
            return (int)i;
        }
    }
    /* The last cumulative weight is W > draw, so the loop always returns. */
    bpc_assert_fail("cumulative weight exceeds the draw", __FILE__, __LINE__);
}
