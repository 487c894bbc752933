/*
 * config.c - configuration defaults, validation, quorum arithmetic and the
 * config digest that binds leader election to the weights.
 *
 * Owns: the rules a config must meet before an engine is built from it, and
 * the 128-bit weight maths (W, T, F). Must never: modify a config it is
 * handed, accept a threshold that lets two quorums miss each other (unless
 * the caller set cfg->unsafe), or hash anything but explicit little-endian
 * bytes into the digest.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <sodium.h>

#define CONFIG_MS_NS UINT64_C(1000000)
/* Domain separation for the digest; bump the suffix if the encoding changes. */
#define CONFIG_DIGEST_DOMAIN "bpcon-config-v1"
/* Weights are hashed in chunks of this many to keep the stack buffer small. */
#define CONFIG_DIGEST_CHUNK 64u
/* The fast-mode deadline doubles per failed ballot; 2^32 times the base is
 * already beyond any sane wait, and larger shifts would overflow a u64. */
#define CONFIG_GROWTH_SHIFT_MAX 32u
/* The shortest ballot timeout taken: a microsecond. Half of it is the
 * retransmit tick's period (ballot.c): a timeout of 1 ns made that period
 * 0, so every step was a tick that resent everything, and with the clock
 * standing still each frame received drew a round of frames to every peer
 * without end (review A15). No network's hop is shorter. */
#define CONFIG_TIMEOUT_MIN_NS UINT64_C(1000)

void
bpc_config_defaults(struct bpc_config *cfg)
{
    if (cfg == NULL) {
        return; /* misuse; before: an assertion abort */
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->cluster_id = 1;
    cfg->parties_count = 4;
    for (uint32_t i = 0; i < cfg->parties_count; i++) {
        cfg->weights[i] = 1;
    }
    cfg->self = 0;
    cfg->threshold = 0;
    cfg->mode = BPC_MODE_FAST;
    cfg->timers.launch1a_ns = 200 * CONFIG_MS_NS;
    cfg->timers.launch1b_ns = 400 * CONFIG_MS_NS;
    cfg->timers.launch2a_ns = 600 * CONFIG_MS_NS;
    cfg->timers.launch2av_ns = 800 * CONFIG_MS_NS;
    cfg->timers.launch2b_ns = 1000 * CONFIG_MS_NS;
    cfg->timers.finalize_ns = 1200 * CONFIG_MS_NS;
    cfg->ballot_timeout_ns = 50 * CONFIG_MS_NS;
    cfg->timeout_growth_max_shift = 6;
    cfg->window_slots = 64;
    cfg->frame_bytes = 1400;
    cfg->value_bytes_max = 1024;
    cfg->seed = 1;
    cfg->unsafe = false;
    cfg->keys = NULL;
    cfg->value_check = NULL;
    cfg->value_check_ctx = NULL;
    cfg->batch_max = 16;
    cfg->commands_max = 1024;
    cfg->log = NULL;
    cfg->on_apply = NULL;
    cfg->apply_ctx = NULL;
    cfg->on_complete = NULL;
    cfg->complete_ctx = NULL;
}

__attribute__((format(printf, 4, 5))) static int
config_refuse(char *err, size_t err_len, enum bpc_config_error code, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -(int)code;
}

/* Party count, self and weights; the first refusal wins. */
static int
config_check_parties(const struct bpc_config *cfg, char *err, size_t err_len)
{
    if (cfg->parties_count == 0) {
        return config_refuse(err, err_len, BPC_ECFG_NO_PARTIES, "parties_count=0: no parties");
    }
    if (cfg->parties_count > BPC_PARTIES_MAX) {
        return config_refuse(err, err_len, BPC_ECFG_TOO_MANY_PARTIES,
                             "parties_count=%" PRIu32 ": above the limit %u", cfg->parties_count,
                             BPC_PARTIES_MAX);
    }
    if (cfg->self >= cfg->parties_count) {
        return config_refuse(err, err_len, BPC_ECFG_SELF,
                             "self=%" PRIu32 ": outside the party list [0, %" PRIu32 ")", cfg->self,
                             cfg->parties_count);
    }
    if (bpc_config_total_weight(cfg) == 0u) {
        return config_refuse(err, err_len, BPC_ECFG_ZERO_WEIGHT,
                             "weights: total weight=0 over parties_count=%" PRIu32,
                             cfg->parties_count);
    }
    return 0;
}

/* T > W leaves no quorum; 2T <= W lets two quorums share no weight. With
 * cfg->unsafe only the first holds (T == 0 cannot occur: 0 means default). */
static int
config_check_threshold(const struct bpc_config *cfg, char *err, size_t err_len)
{
    bpc_u128 total = bpc_config_total_weight(cfg);
    bpc_u128 t = bpc_config_threshold(cfg);
    char tb[48];
    char wb[48];
    if (t > total) {
        return config_refuse(err, err_len, BPC_ECFG_THRESHOLD_HIGH,
                             "threshold=%s above total weight %s", bpc_u128_str(t, tb),
                             bpc_u128_str(total, wb));
    }
    /* Unreachable while W > 0 (the default is >= 1); kept for unsafe mode. */
    if (t == 0u) {
        return config_refuse(err, err_len, BPC_ECFG_THRESHOLD_LOW, "threshold=0: below 1");
    }
    if (!cfg->unsafe && 2u * t <= total) {
        return config_refuse(err, err_len, BPC_ECFG_THRESHOLD_LOW,
                             "threshold=%s at or below half the total weight %s",
                             bpc_u128_str(t, tb), bpc_u128_str(total, wb));
    }
    return 0;
}

static int
config_check_window(const struct bpc_config *cfg, char *err, size_t err_len)
{
    uint32_t n = cfg->window_slots;
    if (n == 0 || n > BPC_WINDOW_SLOTS_MAX || (n & (n - 1u)) != 0) {
        return config_refuse(err, err_len, BPC_ECFG_WINDOW,
                             "window_slots=%" PRIu32 ": not a power of two in [1, %u]", n,
                             BPC_WINDOW_SLOTS_MAX);
    }
    return 0;
}

static int
config_check_timers(const struct bpc_config *cfg, char *err, size_t err_len)
{
    const struct bpc_timers *t = &cfg->timers;
    const uint64_t seq[] = {t->launch1a_ns,  t->launch1b_ns, t->launch2a_ns,
                            t->launch2av_ns, t->launch2b_ns, t->finalize_ns};
    static const char *const names[] = {"launch1a_ns",  "launch1b_ns", "launch2a_ns",
                                        "launch2av_ns", "launch2b_ns", "finalize_ns"};
    if (seq[0] == 0) {
        return config_refuse(err, err_len, BPC_ECFG_TIMERS,
                             "timers.launch1a_ns=0: must be above 0");
    }
    for (size_t i = 1; i < sizeof(seq) / sizeof(seq[0]); i++) {
        if (seq[i] <= seq[i - 1]) {
            return config_refuse(err, err_len, BPC_ECFG_TIMERS,
                                 "timers.%s=%" PRIu64 ": not above timers.%s=%" PRIu64, names[i],
                                 seq[i], names[i - 1], seq[i - 1]);
        }
    }
    if (cfg->ballot_timeout_ns < CONFIG_TIMEOUT_MIN_NS) {
        return config_refuse(err, err_len, BPC_ECFG_TIMERS,
                             "ballot_timeout_ns=%" PRIu64 ": below %" PRIu64 " (1 us)",
                             cfg->ballot_timeout_ns, CONFIG_TIMEOUT_MIN_NS);
    }
    if (cfg->timeout_growth_max_shift > CONFIG_GROWTH_SHIFT_MAX) {
        return config_refuse(err, err_len, BPC_ECFG_TIMERS,
                             "timeout_growth_max_shift=%" PRIu32 ": above %u",
                             cfg->timeout_growth_max_shift, CONFIG_GROWTH_SHIFT_MAX);
    }
    return 0;
}

/* Frame size, then the largest value: one value plus one record must fit. */
static int
config_check_sizes(const struct bpc_config *cfg, char *err, size_t err_len)
{
    uint32_t fb = cfg->frame_bytes;
    if (fb < BPC_FRAME_BYTES_MIN || fb > BPC_FRAME_BYTES_MAX) {
        return config_refuse(err, err_len, BPC_ECFG_FRAME,
                             "frame_bytes=%" PRIu32 ": outside [%u, %u]", fb, BPC_FRAME_BYTES_MIN,
                             BPC_FRAME_BYTES_MAX);
    }
    uint32_t vb = cfg->value_bytes_max;
    if (vb == 0 || vb > BPC_VALUE_BYTES_MAX) {
        return config_refuse(err, err_len, BPC_ECFG_VALUE,
                             "value_bytes_max=%" PRIu32 ": outside [1, %u]", vb,
                             BPC_VALUE_BYTES_MAX);
    }
    /* A frame must carry the largest value with its record, and the largest
     * group of records that must share a frame is a 1b with its full 2av
     * history (1 + BPC_HISTORY_MAX records). An empty frame must hold both
     * (records and values share a frame), or the engine could meet a group
     * or a value no frame can hold. vb <= 8192: no wrap. */
    uint32_t need = bpc_frame_bytes_min(vb);
    if (need > fb) {
        return config_refuse(err, err_len, BPC_ECFG_VALUE,
                             "value_bytes_max=%" PRIu32 ": needs a frame of %" PRIu32
                             " bytes (value + a 1b with %u history records + header and "
                             "tag), above frame_bytes=%" PRIu32,
                             vb, need, BPC_HISTORY_MAX, fb);
    }
    return 0;
}

/* Batching: at most BPC_BATCH_MAX commands per value; the command queue is
 * a power of two (ring index masks). */
static int
config_check_batch(const struct bpc_config *cfg, char *err, size_t err_len)
{
    uint32_t b = cfg->batch_max;
    if (b == 0 || b > BPC_BATCH_MAX) {
        return config_refuse(err, err_len, BPC_ECFG_BATCH, "batch_max=%" PRIu32 ": outside [1, %u]",
                             b, BPC_BATCH_MAX);
    }
    uint32_t c = cfg->commands_max;
    /* At least 2: the submit ring marks a drained cell free with
     * pos + commands_max, which at 1 reads as "full at pos + 1", so a
     * second submission overwrote the first unread one and the engine
     * waited for it for good (every later command lost). */
    if (c < 2 || c > BPC_COMMANDS_MAX || (c & (c - 1)) != 0) {
        return config_refuse(err, err_len, BPC_ECFG_BATCH,
                             "commands_max=%" PRIu32 ": not a power of two in [2, %u]", c,
                             BPC_COMMANDS_MAX);
    }
    if (cfg->value_bytes_max < BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES) {
        return config_refuse(err, err_len, BPC_ECFG_VALUE,
                             "value_bytes_max=%" PRIu32 ": below one command's framing (%u)",
                             cfg->value_bytes_max,
                             BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES);
    }
    return 0;
}

int
bpc_config_validate(const struct bpc_config *cfg, char *err, size_t err_len)
{
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    if (cfg == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "no configuration (cfg is NULL)");
        }
        return -EINVAL;
    }
    int rc = config_check_parties(cfg, err, err_len);
    if (rc == 0 && cfg->mode != BPC_MODE_FAST && cfg->mode != BPC_MODE_PACED) {
        /* Any other value ran as fast mode (review B6). */
        rc = config_refuse(err, err_len, BPC_ECFG_MODE,
                           "mode=%d: neither BPC_MODE_FAST (0) nor BPC_MODE_PACED (1)",
                           (int)cfg->mode);
    }
    if (rc == 0) {
        rc = config_check_threshold(cfg, err, err_len);
    }
    if (rc == 0) {
        rc = config_check_window(cfg, err, err_len);
    }
    if (rc == 0) {
        rc = config_check_timers(cfg, err, err_len);
    }
    if (rc == 0) {
        rc = config_check_sizes(cfg, err, err_len);
    }
    if (rc == 0) {
        rc = config_check_batch(cfg, err, err_len);
    }
    return rc;
}

/* Safe on an unvalidated config: never reads past BPC_PARTIES_MAX weights.
 * At most 1024 u64 weights, so the sum stays below 2^74. */
bpc_u128
bpc_config_total_weight(const struct bpc_config *cfg)
{
    if (cfg == NULL) {
        return 0;
    }
    uint32_t n = cfg->parties_count;
    if (n > BPC_PARTIES_MAX) {
        n = BPC_PARTIES_MAX;
    }
    bpc_u128 total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += cfg->weights[i];
    }
    return total;
}

bpc_u128
bpc_threshold_default(bpc_u128 total)
{
    /* ceil(2W / 3), as W - floor(W / 3), which no W wraps. Before, (2W +
     * 2) / 3 wrapped from W = 2^127 - 1 up (to 0; review B3). No
     * configuration reaches that (its total is below 2^74). */
    return total - total / 3u;
}

bpc_u128
bpc_config_threshold(const struct bpc_config *cfg)
{
    if (cfg == NULL) {
        return 0;
    }
    if (cfg->threshold != 0u) {
        return cfg->threshold;
    }
    return bpc_threshold_default(bpc_config_total_weight(cfg));
}

/* Exact for any 128-bit W and T: 2T is never formed (it wrapped for
 * T >= 2^127). With T <= W, 2T <= W reads T <= W - T, and 2T - W - 1
 * reads T - (W - T) - 1, which is >= 0 once T > W - T. */
bpc_u128
bpc_faulty_weight(bpc_u128 total, bpc_u128 threshold)
{
    if (threshold > total) {
        return 0;
    }
    bpc_u128 spare = total - threshold; /* correct weight still >= T */
    if (threshold <= spare) {
        return 0; /* 2T <= W: two quorums may share nothing */
    }
    bpc_u128 overlap = threshold - spare - 1u; /* 2T - W - 1: two quorums share > F */
    return overlap < spare ? overlap : spare;
}

static void
config_store_u128(uint8_t out[16], bpc_u128 v)
{
    bpc_le64_store(out, (uint64_t)v);
    bpc_le64_store(out + 8, (uint64_t)(v >> 64));
}

int
bpc_config_digest(const struct bpc_config *cfg, uint8_t out[BPC_DIGEST_BYTES])
{
    if (cfg == NULL || out == NULL || cfg->parties_count > BPC_PARTIES_MAX) {
        return -EINVAL; /* before: an assertion aborted */
    }
    crypto_generichash_state st;
    int rc = crypto_generichash_init(&st, NULL, 0, BPC_DIGEST_BYTES);
    BPC_ASSERT(rc == 0);
    uint8_t head[sizeof(CONFIG_DIGEST_DOMAIN) - 1 + 8 + 4];
    memcpy(head, CONFIG_DIGEST_DOMAIN, sizeof(CONFIG_DIGEST_DOMAIN) - 1);
    bpc_le64_store(head + sizeof(CONFIG_DIGEST_DOMAIN) - 1, cfg->cluster_id);
    bpc_le32_store(head + sizeof(CONFIG_DIGEST_DOMAIN) - 1 + 8, cfg->parties_count);
    crypto_generichash_update(&st, head, sizeof(head));
    uint8_t chunk[CONFIG_DIGEST_CHUNK * 8];
    for (uint32_t i = 0; i < cfg->parties_count; i += CONFIG_DIGEST_CHUNK) {
        uint32_t n = cfg->parties_count - i;
        if (n > CONFIG_DIGEST_CHUNK) {
            n = CONFIG_DIGEST_CHUNK;
        }
        for (uint32_t j = 0; j < n; j++) {
            bpc_le64_store(chunk + 8u * j, cfg->weights[i + j]);
        }
        crypto_generichash_update(&st, chunk, 8u * (unsigned long long)n);
    }
    uint8_t thr[16];
    config_store_u128(thr, bpc_config_threshold(cfg));
    crypto_generichash_update(&st, thr, sizeof(thr));
    rc = crypto_generichash_final(&st, out, BPC_DIGEST_BYTES);
    BPC_ASSERT(rc == 0);
    return 0;
}

uint32_t
bpc_frame_bytes_min(uint32_t value_bytes_max)
{
    uint64_t need = (uint64_t)value_bytes_max + BPC_WIRE_HEADER_BYTES + BPC_TAG_BYTES +
                    (1u + BPC_HISTORY_MAX) * BPC_WIRE_RECORD_BYTES;
    return need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
}
