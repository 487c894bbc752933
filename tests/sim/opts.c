/*
 * opts.c - the simulator's options and the engine configs drawn from them.
 *
 * Owns: the library's default options, the seed streams derived from
 * opts.seed, each party's engine config from the options
 * (sim_config_fill), the first leader and the default liveness bound of a
 * set of options, and random configurations (--random-config). Must never:
 * touch a struct sim (these are functions of the options alone), or draw
 * randomness from anything but a stream derived from the seed.
 */
#include "sim_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Options.
 * ---------------------------------------------------------------------- */

/* The library's defaults (no heal, no liveness bound, no churn). */
void
sim_opts_defaults(struct sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->parties_count = 4;
    for (uint32_t i = 0; i < o->parties_count; i++) {
        o->weights[i] = 1;
    }
    o->mode = BPC_MODE_FAST;
    o->instances = SIM_DEFAULT_INSTANCES;
    o->window_slots = SIM_DEFAULT_WINDOW;
    o->seed = SIM_DEFAULT_SEED;
    o->delay_min_ns = SIM_DEFAULT_DELAY_MIN_NS;
    o->delay_max_ns = SIM_DEFAULT_DELAY_MAX_NS;
    for (uint32_t i = 0; i < BPC_PARTIES_MAX; i++) {
        o->crash_at_ns[i] = SIM_NEVER;
        o->restart_at_ns[i] = SIM_NEVER;
    }
    o->byz_period_ns = SIM_DEFAULT_BYZ_PERIOD_NS;
    o->heal_at_ns = SIM_NEVER;
    o->time_limit_ns = SIM_DEFAULT_TIME_LIMIT_NS;
}

/* The seed of one derived stream. */
uint64_t
sim_stream_seed(uint64_t seed, uint64_t stream)
{
    uint64_t st = seed ^ 0x62706373696d2d31u; /* "bpcsim-1" */
    uint64_t out = 0;
    st += stream * 0x9e3779b97f4a7c15u;
    out = sim_splitmix64(&st);
    return out;
}

void
sim_engine_config(const struct sim_opts *o, struct bpc_config *cfg)
{
    sim_config_fill(o, 0, cfg);
}

/* Party self's engine config from the options. */
void
sim_config_fill(const struct sim_opts *o, uint32_t self, struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = sim_stream_seed(o->seed, SIM_STREAM_CLUSTER);
    cfg->parties_count = o->parties_count;
    cfg->self = self;
    memset(cfg->weights, 0, sizeof(cfg->weights));
    for (uint32_t i = 0; i < o->parties_count && i < BPC_PARTIES_MAX; i++) {
        cfg->weights[i] = o->weights[i];
    }
    cfg->threshold = o->threshold;
    cfg->mode = o->mode;
    cfg->window_slots = o->window_slots;
    cfg->seed = sim_stream_seed(o->seed, SIM_STREAM_PARTY0 + self);
    cfg->unsafe = o->unsafe;
    if (o->batch_max != 0) {
        cfg->batch_max = o->batch_max;
    }
    if (o->frame_bytes != 0) {
        cfg->frame_bytes = o->frame_bytes;
    }
    if (o->value_bytes != 0) {
        cfg->value_bytes_max = o->value_bytes;
    }
    if (o->ballot_timeout_ns != 0) {
        cfg->ballot_timeout_ns = o->ballot_timeout_ns;
    }
    uint32_t one = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + SIM_COMMAND_BYTES;
    if (cfg->value_bytes_max < one) {
        cfg->value_bytes_max = one;
    }
    /* A run of N commands never queues more than N anywhere: the queues
     * shrink to the power of two at or above N, at least 2 (the default
     * caps it). */
    if (o->commands > 0) {
        uint32_t cmds = 2; /* the engine's least */
        while (cmds < cfg->commands_max && cmds < o->commands) {
            cmds *= 2;
        }
        cfg->commands_max = cmds;
    }
}

/* The leader of ballot 1 for these options. */
int
sim_opts_first_leader(const struct sim_opts *o)
{
    if (bpc_init() < 0) {
        return -EIO;
    }
    struct bpc_config *cfg = malloc(sizeof(*cfg));
    if (cfg == NULL) {
        return -ENOMEM;
    }
    sim_config_fill(o, 0, cfg);
    uint8_t digest[BPC_DIGEST_BYTES];
    bpc_config_digest(cfg, digest);
    int leader = bpc_elect_leader(cfg, digest, 1);
    free(cfg);
    return leader;
}

/* Fast mode: SIM_LIVENESS_DEADLINES x the longest ballot deadline. Paced
 * mode decides one value per round: SIM_LIVENESS_DEADLINES failed rounds,
 * plus the rounds that drain the most commands the parties keep
 * outstanding at once (sim_outstanding_cap), at the values' command count;
 * with a Byzantine party, plus SIM_LIVENESS_CENSORS censorship watch
 * periods. */
uint64_t
sim_opts_default_liveness(const struct sim_opts *o)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    if (o->mode == BPC_MODE_PACED && o->parties_count > 0) {
        sim_config_fill(o, 0, &cfg);
        uint64_t per_value = (cfg.value_bytes_max - BPC_BATCH_HEADER_BYTES) /
                             (BPC_BATCH_CMD_HEADER_BYTES + SIM_COMMAND_BYTES);
        per_value = per_value < cfg.batch_max ? per_value : cfg.batch_max;
        per_value = per_value > 0 ? per_value : 1;
        uint64_t outstanding =
            o->parties_count > SIM_OUTSTANDING_TOTAL ? o->parties_count : SIM_OUTSTANDING_TOTAL;
        uint64_t rounds = SIM_LIVENESS_DEADLINES + (outstanding + per_value - 1) / per_value;
        bool byz = false;
        for (uint32_t i = 0; i < o->parties_count; i++) {
            byz = byz || o->byz[i] != SIM_BYZ_NONE;
        }
        if (byz) {
            rounds += SIM_LIVENESS_CENSORS * (SIM_PACED_WATCH_ROUNDS + (uint64_t)o->parties_count);
        }
        return rounds * cfg.timers.finalize_ns;
    }
    uint64_t timeout = o->ballot_timeout_ns != 0 ? o->ballot_timeout_ns : cfg.ballot_timeout_ns;
    /* The longest deadline: the grown timeout plus a quarter of jitter. */
    uint64_t longest = (timeout << cfg.timeout_growth_max_shift) / 4 * 5;
    return SIM_LIVENESS_DEADLINES * longest;
}

/* Appends a formatted piece to a description (truncating quietly). */
static void sim_desc_add(char *desc, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_desc_add(char *desc, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(desc, len);
    if (len == 0 || used + 1 >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc + used, len - used, fmt, ap);
    va_end(ap);
}

/* Draws parties, weights and threshold (half the draws with the default
 * threshold, half anywhere in (W/2, W]). */
static void
sim_random_weights(struct sim_opts *o, struct sim_rng *r)
{
    /* Mostly small clusters (they are cheap), up to 64 parties. */
    uint64_t size = sim_rng_below(r, 20);
    uint32_t n = 1 + (uint32_t)sim_rng_below(r, size < 10 ? 7 : size < 17 ? 16 : 64);
    o->parties_count = n;
    bpc_u128 total = 0;
    for (uint32_t p = 0; p < BPC_PARTIES_MAX; p++) {
        o->weights[p] = 0;
        if (p < n) {
            o->weights[p] = sim_rng_below(r, 8) == 0 ? 0 : 1 + sim_rng_below(r, 4);
            total += o->weights[p];
        }
    }
    if (total == 0) {
        o->weights[sim_rng_below(r, n)] = 1;
        total = 1;
    }
    o->threshold = 0;
    if (sim_rng_below(r, 2) == 0) {
        uint64_t w = (uint64_t)total;
        o->threshold = w / 2 + 1 + sim_rng_below(r, w - w / 2);
    }
}

/* Draws window, batch, frame and value bytes, loss and duplication. */
static void
sim_random_sizes(struct sim_opts *o, struct sim_rng *r)
{
    o->window_slots = 1u << sim_rng_below(r, 11);
    o->batch_max = 1 + (uint32_t)sim_rng_below(r, BPC_BATCH_MAX);
    o->frame_bytes = BPC_FRAME_BYTES_MIN +
                     (uint32_t)sim_rng_below(r, BPC_FRAME_BYTES_MAX - BPC_FRAME_BYTES_MIN + 1);
    /* Mostly a value that fits beside a full 1b group, sometimes anything
     * (the engine then refuses it and the config is drawn again). */
    uint32_t room = BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES +
                    (1u + BPC_HISTORY_MAX) * BPC_WIRE_RECORD_BYTES + 32u;
    uint32_t hi = BPC_VALUE_BYTES_MAX;
    if (sim_rng_below(r, 4) != 0 && o->frame_bytes > room) {
        hi = o->frame_bytes - room + 32u;
        hi = hi < BPC_VALUE_BYTES_MAX ? hi : BPC_VALUE_BYTES_MAX;
    }
    o->value_bytes = 32u + (uint32_t)sim_rng_below(r, hi - 32u + 1);
    o->loss = sim_rng_below(r, 4) == 0 ? 0.01 * (double)sim_rng_below(r, 6) : 0.0;
    o->dup = sim_rng_below(r, 4) == 0 ? 0.01 * (double)sim_rng_below(r, 6) : 0.0;
}

/* One Byzantine party of weight <= F (when F > 0), of a random kind. */
static void
sim_random_byz(struct sim_opts *o, struct sim_rng *r, bpc_u128 f)
{
    memset(o->byz, 0, sizeof(o->byz));
    if (f == 0) {
        return;
    }
    uint32_t cand[BPC_PARTIES_MAX];
    uint32_t count = 0;
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->weights[p] <= f) {
            cand[count++] = p;
        }
    }
    if (count == 0) {
        return;
    }
    uint32_t b = cand[sim_rng_below(r, count)];
    o->byz[b] = (uint8_t)(1 + sim_rng_below(r, SIM_BYZ_RANDOM_KINDS - 1));
}

/* The drawn configuration as bpcon-sim flags. */
static void
sim_random_describe(const struct sim_opts *o, char *desc, size_t len)
{
    if (len == 0) {
        return;
    }
    desc[0] = '\0';
    sim_desc_add(desc, len, "--weights ");
    for (uint32_t p = 0; p < o->parties_count; p++) {
        sim_desc_add(desc, len, "%s%llu", p ? "," : "", (unsigned long long)o->weights[p]);
    }
    if (o->threshold != 0) {
        sim_desc_add(desc, len, " --threshold %llu", (unsigned long long)o->threshold);
    }
    sim_desc_add(desc, len, " --window %u --batch %u --frame-bytes %u --value-bytes %u",
                 o->window_slots, o->batch_max, o->frame_bytes, o->value_bytes);
    sim_desc_add(desc, len, " --loss %.2f --dup %.2f", o->loss, o->dup);
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->byz[p] != SIM_BYZ_NONE) {
            sim_desc_add(desc, len, " --byz %u:%s", p,
                         sim_byz_kind_name((enum sim_byz_kind)o->byz[p]));
        }
    }
}

/* A random valid configuration for this seed (see sim.h). */
int
sim_opts_random(struct sim_opts *o, uint64_t seed, char *desc, size_t desc_len)
{
    struct sim_rng r;
    sim_rng_seed(&r, sim_stream_seed(seed, SIM_STREAM_RANDOM_CONFIG));
    struct bpc_config *cfg = sim_calloc(1, sizeof(*cfg));
    int rc = -EINVAL;
    for (uint32_t attempt = 0; attempt < 10000 && rc != 0; attempt++) {
        sim_random_weights(o, &r);
        sim_random_sizes(o, &r);
        o->unsafe = false;
        sim_config_fill(o, 0, cfg);
        rc = bpc_config_validate(cfg, NULL, 0);
    }
    if (rc == 0) {
        bpc_u128 total = bpc_config_total_weight(cfg);
        sim_random_byz(o, &r, bpc_faulty_weight(total, bpc_config_threshold(cfg)));
        sim_random_describe(o, desc, desc_len);
    }
    free(cfg);
    return rc == 0 ? 0 : -EINVAL;
}
