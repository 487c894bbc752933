/*
 * setup.c - building and freeing a simulated cluster.
 *
 * Owns: refusing options the simulator cannot run (and faulty weight above
 * F unless unsafe), the pair keys from the run's master key, who submits
 * how many commands, sizing the decided logs within a memory budget, each
 * party's engine, decided log and disk, the shared buffers, the crash and
 * restart schedules, the thread's RCU registration, and freeing all of
 * it. Must never: return a refused run half built (sim_init frees what it
 * built), or derive a key or a seed from anything but opts.seed.
 */
#include "sim_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decided-log memory budget over all parties, so 999 parties fit too. */
#define SIM_LOG_BUDGET_BYTES (1024ull * 1024 * 1024)
#define SIM_LOG_SEGMENT_ENTRIES 256u
/* Calendar slots at first (a power of two; kept at most half full). */
#define SIM_CAL_SLOTS_MIN 1024u

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

/* A probability as a u64 cut so draws use no floating point. */
static uint64_t
sim_prob_cut(double p)
{
    if (p <= 0.0) {
        return 0;
    }
    if (p >= 1.0) {
        return UINT64_MAX;
    }
    return (uint64_t)(p * 18446744073709551616.0);
}

/* Formats a refusal message into err (which may be NULL). */
static void sim_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* The master key of a run: BLAKE2b-256 of a label and the seed. */
static void
sim_master_key(uint64_t seed, uint8_t master[BPC_KEY_BYTES])
{
    static const char label[] = "bpcon-sim-master";
    uint8_t msg[sizeof(label) - 1 + 8];
    memcpy(msg, label, sizeof(label) - 1);
    for (int i = 0; i < 8; i++) {
        msg[sizeof(label) - 1 + (size_t)i] = (uint8_t)(seed >> (8 * i));
    }
    crypto_generichash(master, BPC_KEY_BYTES, msg, sizeof(msg), NULL, 0);
}

/* Options the simulator itself refuses (the engine judges the config). */
static int
sim_opts_check(const struct sim_opts *o, char *err, size_t err_len)
{
    if (o->parties_count == 0 || o->parties_count > BPC_PARTIES_MAX) {
        sim_errf(err, err_len, "parties: %u outside 1..%u", o->parties_count, BPC_PARTIES_MAX);
        return -EINVAL;
    }
    if (o->instances == 0) {
        sim_errf(err, err_len, "instances: must be at least 1");
        return -EINVAL;
    }
    if (!(o->loss >= 0.0 && o->loss <= 1.0) || !(o->dup >= 0.0 && o->dup <= 1.0)) {
        sim_errf(err, err_len, "loss and dup must lie in [0, 1]");
        return -EINVAL;
    }
    if (o->delay_min_ns > o->delay_max_ns || o->delay_max_ns / 1000 >= UINT64_MAX / 2) {
        sim_errf(err, err_len, "delay: min %llu ns above max %llu ns",
                 (unsigned long long)o->delay_min_ns, (unsigned long long)o->delay_max_ns);
        return -EINVAL;
    }
    if (o->byz_period_ns == 0) {
        sim_errf(err, err_len, "byz period: must be above 0");
        return -EINVAL;
    }
    for (uint32_t p = 0; p < o->parties_count; p++) {
        if (o->byz[p] >= SIM_BYZ_KINDS_COUNT) {
            sim_errf(err, err_len, "byz: party %u has unknown kind %u", p, o->byz[p]);
            return -EINVAL;
        }
        if (o->restart_at_ns[p] != SIM_NEVER &&
            (o->byz[p] != SIM_BYZ_NONE || o->crash_at_ns[p] >= o->restart_at_ns[p])) {
            sim_errf(err, err_len,
                     "restart: party %u must be a correct party crashed before its restart", p);
            return -EINVAL;
        }
    }
    return 0;
}

/* Crashed plus Byzantine weight must stay within F unless unsafe. */
static int
sim_faulty_check(struct sim *s, char *err, size_t err_len)
{
    const struct bpc_config *cfg = s->cfg0;
    bpc_u128 total = bpc_config_total_weight(cfg);
    bpc_u128 threshold = bpc_config_threshold(cfg);
    bpc_u128 f = bpc_faulty_weight(total, threshold);
    bpc_u128 faulty = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.crash_at_ns[p] != SIM_NEVER || s->o.byz[p] != SIM_BYZ_NONE) {
            faulty += s->o.weights[p];
        }
    }
    s->r.total_weight = total;
    s->r.threshold = threshold;
    s->r.f = f;
    if (faulty > f && !s->o.unsafe) {
        char fb[48];
        char ffb[48];
        char tb[48];
        char wb[48];
        sim_errf(err, err_len,
                 "crashed + Byzantine weight %s exceeds F = %s (W = %s, T = %s); pass --unsafe "
                 "to run it anyway",
                 bpc_u128_str(faulty, fb), bpc_u128_str(f, ffb), bpc_u128_str(total, wb),
                 bpc_u128_str(threshold, tb));
        return -EINVAL;
    }
    return 0;
}

/* Every pair key from the run's master key: the key of parties a <= b is
 * bytes 32 (b - a) to 32 (b - a) + 31 of the ChaCha20 stream under the
 * master key with nonce a (u64 little-endian), which lands in row a from
 * column a on in one call; row b's copy at column a is a memcpy. A run's
 * keys only need to be distinct, unpredictable to the other parties and
 * reproducible from the seed; bpc_auth_pair_key (BLAKE2b, about 350 ns)
 * took a tenth of a 999-party run's CPU for its 499500 pairs, and a
 * SipHash-2-4 PRF per pair, copies included, twice what this takes. */
static void
sim_keys_init(struct sim *s)
{
    _Static_assert(crypto_stream_chacha20_KEYBYTES == BPC_KEY_BYTES, "the master key keys it");
    uint8_t master[BPC_KEY_BYTES];
    sim_master_key(s->o.seed, master);
    s->keys = sim_calloc_big((size_t)s->n * s->n * BPC_KEY_BYTES);
    for (uint32_t a = 0; a < s->n; a++) {
        uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
        for (int i = 0; i < 4; i++) {
            nonce[i] = (uint8_t)(a >> (8 * i));
        }
        (void)crypto_stream_chacha20(s->keys[(size_t)a * s->n + a],
                                     (unsigned long long)(s->n - a) * BPC_KEY_BYTES, nonce, master);
        for (uint32_t b = a + 1; b < s->n; b++) {
            memcpy(s->keys[(size_t)b * s->n + a], s->keys[(size_t)a * s->n + b], BPC_KEY_BYTES);
        }
    }
    sodium_memzero(master, sizeof(master));
}

/* Who submits: with opts.commands, the commands are dealt round-robin over
 * the correct parties that never crash (by id): the k-th of K submits
 * N / K commands, one more when k < N mod K (-EINVAL when K = 0); else
 * every correct party submits. Each party that does gets a slot in the
 * parties' applied_hi tables. */
static int
sim_quotas(struct sim *s, char *err, size_t err_len)
{
    uint64_t n_cmds = s->o.commands;
    s->sub_slot = sim_calloc(s->n, sizeof(*s->sub_slot));
    if (n_cmds == 0) {
        /* Every correct party submits. */
        for (uint32_t p = 0; p < s->n; p++) {
            s->sub_slot[p] = s->o.byz[p] == SIM_BYZ_NONE ? s->sub_slots++ : SIM_NONE;
        }
        return 0;
    }
    uint32_t k = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        k += s->o.byz[p] == SIM_BYZ_NONE && s->o.crash_at_ns[p] == SIM_NEVER;
    }
    if (k == 0) {
        sim_errf(err, err_len, "commands: no correct party without a crash to submit them");
        return -EINVAL;
    }
    uint32_t rank = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        s->sub_slot[p] = SIM_NONE;
        if (s->o.byz[p] == SIM_BYZ_NONE && s->o.crash_at_ns[p] == SIM_NEVER) {
            s->parties[p].quota = n_cmds / k + (rank < n_cmds % k ? 1u : 0u);
            rank++;
        }
        if (s->parties[p].quota > 0) {
            s->sub_slot[p] = s->sub_slots++;
        }
    }
    return 0;
}

/* The sim thread is a QSBR thread of the decided logs (the engines append
 * on it); nested sims on one thread share one registration. */
static _Thread_local uint32_t sim_rcu_users;

/* Registers the thread with RCU (once per thread). */
static void
sim_rcu_enter(struct sim *s)
{
    if (sim_rcu_users++ == 0) {
        bpc_log_thread_register();
    }
    s->rcu_registered = true;
}

/* Unregisters it when the last sim of the thread goes. */
static void
sim_rcu_leave(struct sim *s)
{
    if (!s->rcu_registered) {
        return;
    }
    s->rcu_registered = false;
    if (--sim_rcu_users == 0) {
        bpc_log_thread_unregister();
    }
}

/* Bytes a decided log of retain entries takes. */
static uint64_t
sim_log_bytes(uint64_t retain, uint32_t segment, uint32_t value_bytes)
{
    uint64_t keep = (retain + segment - 1) / segment + 1;
    uint64_t spare = keep / 2 > 4 ? keep / 2 : 4;
    return (keep + spare) * segment * ((uint64_t)value_bytes + 8);
}

/* Sizes every party's log: enough entries for the whole run (so any lag,
 * a restart's included, can catch up from peers), within a memory budget
 * shared by all parties. */
static void
sim_log_size(struct sim *s, uint32_t value_bytes)
{
    const struct sim_opts *o = &s->o;
    uint64_t retain = o->log_retain;
    if (retain == 0 && o->commands > 0) {
        /* Each command is decided in one instance at most: the run, and
         * the window on either side. */
        retain = o->commands + 4ull * o->window_slots;
    } else if (retain == 0) {
        /* The run, the window on either side, and what the submit queues
         * still hold once the parties stop submitting. */
        uint64_t queued = (uint64_t)s->n * s->cfg0->commands_max;
        if (o->liveness_ns > 0) {
            /* Outstanding commands are capped (sim_party_submit). */
            queued = (uint64_t)s->n * sim_outstanding_cap(s);
        }
        retain = o->instances + 4ull * o->window_slots + queued;
    }
    /* Never shorter than the peers' recent-decision rings (2 x window +
     * 256) and a window on either side: a party that lags past its peers'
     * rings learns from their logs. With --byz-stay the Byzantine parties
     * go on submitting after the correct ones stop, so the run decides
     * more than --instances: keep four rings more. Before, a log of 224
     * entries at window 16 (ring 288) left a party that fell 341 behind
     * with nobody to answer it (a review's seed 5551045 of
     * --random-config --byz-stay: liveness violated). */
    uint64_t ring = 2ull * o->window_slots + 256u;
    if (o->log_retain == 0) {
        retain += o->byz_stay ? 4u * ring : 0u;
        uint64_t least = ring + 2ull * o->window_slots;
        retain = retain > least ? retain : least;
    }
    uint64_t floor = 4ull * o->window_slots > 64 ? 4ull * o->window_slots : 64;
    uint64_t budget = SIM_LOG_BUDGET_BYTES / s->n;
    uint32_t seg = SIM_LOG_SEGMENT_ENTRIES;
    for (;;) {
        seg = SIM_LOG_SEGMENT_ENTRIES;
        while (seg > 16 && (uint64_t)seg * 8 > retain) {
            seg /= 2;
        }
        if (o->log_retain != 0 || retain <= floor ||
            sim_log_bytes(retain, seg, value_bytes) <= budget) {
            break;
        }
        retain /= 2;
    }
    s->log_retain = retain;
    s->log_segment = seg;
}

/* A decided log for a party, starting at start. */
int
sim_log_make(struct sim *s, struct sim_party *pa, uint64_t start, char *err, size_t err_len)
{
    struct bpc_log_config lc = {
        .retain_entries = s->log_retain,
        .segment_entries = s->log_segment,
        .value_bytes_max = s->cfg0->value_bytes_max,
        .start_index = start,
    };
    int rc = bpc_log_new(&pa->dlog, &lc);
    if (rc != 0) {
        pa->dlog = NULL;
        sim_errf(err, err_len, "decided log of party %u: %s (retain %llu, segment %u)", pa->id,
                 bpc_strerror(-rc), (unsigned long long)lc.retain_entries, lc.segment_entries);
        return rc;
    }
    return 0;
}

/* Party p's engine config (in a scratch config: the engine copies it). */
const struct bpc_config *
sim_party_cfg(const struct sim *s, uint32_t p)
{
    struct bpc_config *cfg = s->cfg_scratch;
    struct sim_party *pa = &s->parties[p];
    sim_config_fill(&s->o, p, cfg);
    cfg->keys = (const uint8_t(*)[BPC_KEY_BYTES])s->keys[(size_t)p * s->n];
    cfg->on_apply = sim_on_apply;
    cfg->apply_ctx = pa;
    cfg->log = pa->dlog;
    return cfg;
}

/* Builds party p: config, keys, decided log, engine, disk. */
static int
sim_party_init(struct sim *s, uint32_t p, char *err, size_t err_len)
{
    struct sim_party *pa = &s->parties[p];
    pa->dl_pos = SIM_NONE;
    pa->deadline_ns = SIM_NEVER;
    pa->byz = s->o.byz[p];
    s->rx[p].byz = pa->byz != SIM_BYZ_NONE;
    pa->sim = s;
    pa->id = p;
    pa->applied_hi = sim_calloc(s->sub_slots, sizeof(*pa->applied_hi));
    if (s->log_retain == 0) {
        sim_log_size(s, s->cfg0->value_bytes_max);
    }
    int rc = sim_log_make(s, pa, 0, err, err_len);
    if (rc != 0) {
        return rc;
    }
    rc = bpc_engine_new(&pa->e, sim_party_cfg(s, p), err, err_len);
    if (rc != 0) {
        pa->e = NULL;
        return rc;
    }
    /* Votes reach a window above the floor, decided records the engine's
     * recent-decision ring (2 x window + 256) below it. */
    pa->disk_cap = 3 * s->o.window_slots + 256;
    pa->disk = sim_calloc(pa->disk_cap, sizeof(*pa->disk));
    pa->disk_vals = sim_calloc(pa->disk_cap, sizeof(*pa->disk_vals));
    pa->disk_party.instance = UINT64_MAX;
    if (pa->byz != SIM_BYZ_NONE) {
        s->byz_count++; /* it runs an engine, but is not correct */
        return 0;
    }
    s->correct_live++;
    return 0;
}

/* The network pools and the shared step buffers. */
static void
sim_buffers_init(struct sim *s)
{
    s->chunk_cur = SIM_NONE;
    s->chunk_spare = SIM_NONE;
    s->chunk_unused = SIM_NONE;
    s->block_free = SIM_NONE;
    s->last_body = SIM_NONE;
    /* Room to put together a full burst of the largest frames. */
    s->stage = sim_calloc(SIM_IN_CAP, SIM_FRAME_BYTES_MAX);
    sim_cal_alloc(s, SIM_CAL_SLOTS_MIN);
    s->frame_bytes = s->cfg0->frame_bytes;
    /* Room for a full broadcast per step keeps -EAGAIN rounds rare. */
    s->out_cap = 2 * s->n > 256 ? 2 * s->n : 256;
    if (s->o.tx_frames > 0) {
        s->out_cap = s->o.tx_frames;
    }
    s->outf = sim_calloc(s->out_cap, sizeof(*s->outf));
    s->out_bytes = sim_calloc(s->out_cap, s->frame_bytes);
    for (uint32_t i = 0; i < s->out_cap; i++) {
        s->outf[i].bytes = s->out_bytes + (size_t)i * s->frame_bytes;
        s->outf[i].cap = s->frame_bytes;
    }
    s->decs_cap = s->o.window_slots + 64;
    s->decs = sim_calloc(s->decs_cap, sizeof(*s->decs));
    s->dl_heap = sim_calloc(s->n, sizeof(*s->dl_heap));
    s->touched = sim_calloc(s->n, sizeof(*s->touched));
}

/* Orders parties by their crash (or restart) time. */
static int
sim_crash_cmp(const void *a, const void *b, void *ctx)
{
    const uint64_t *at = ctx;
    uint32_t pa = *(const uint32_t *)a;
    uint32_t pb = *(const uint32_t *)b;
    if (at[pa] != at[pb]) {
        return at[pa] < at[pb] ? -1 : 1;
    }
    return pa < pb ? -1 : (pa > pb);
}

/* Crash and restart schedules, sorted by time. */
static void
sim_crashes_init(struct sim *s)
{
    s->crash_order = sim_calloc(s->n, sizeof(*s->crash_order));
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.crash_at_ns[p] != SIM_NEVER) {
            s->crash_order[s->crash_count++] = p;
        }
    }
    qsort_r(s->crash_order, s->crash_count, sizeof(*s->crash_order), sim_crash_cmp,
            s->o.crash_at_ns);
    s->restart_order = sim_calloc(s->n, sizeof(*s->restart_order));
    for (uint32_t p = 0; p < s->n; p++) {
        if (s->o.restart_at_ns[p] != SIM_NEVER) {
            s->restart_order[s->restart_count++] = p;
        }
    }
    qsort_r(s->restart_order, s->restart_count, sizeof(*s->restart_order), sim_crash_cmp,
            s->o.restart_at_ns);
}

/* Starts every live engine at 0 and asks for a first step at 0. */
static void
sim_start(struct sim *s)
{
    s->base_instance = UINT64_MAX;
    for (uint32_t p = 0; p < s->n; p++) {
        struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL) {
            continue;
        }
        if (bpc_engine_start(pa->e, 0) != 0) {
            fprintf(stderr, "bpcon-sim: party %u: bpc_engine_start failed\n", p);
            abort();
        }
        pa->first_instance = bpc_engine_next_undecided(pa->e);
        if (pa->first_instance < s->base_instance) {
            s->base_instance = pa->first_instance;
        }
        sim_dl_set(s, p, 0);
    }
    if (s->base_instance == UINT64_MAX) {
        s->base_instance = 0;
    }
    s->byz_next_ns = 0;
}

/* Builds the cluster and starts it at virtual time 0. */
int
sim_init(struct sim **out, const struct sim_opts *o, char *err, size_t err_len)
{
    *out = NULL;
    int rc = sim_opts_check(o, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (bpc_init() < 0) {
        sim_errf(err, err_len, "bpc_init failed");
        return -EIO;
    }
    struct sim *s = sim_calloc(1, sizeof(*s));
    s->o = *o;
    s->n = o->parties_count;
    s->debug = getenv("BPC_SIM_DEBUG") != NULL;
    if (s->debug) {
        s->debug_recs = sim_calloc(65536, sizeof(*s->debug_recs));
    }
    s->r.agreement = s->r.validity = s->r.integrity = s->r.order = s->r.liveness = true;
    s->r.healed_at_ns = SIM_NEVER;
    s->live_next_ns = SIM_NEVER;
    s->muted = SIM_NONE;
    s->tag_key = sim_stream_seed(o->seed, SIM_STREAM_TAG);
    s->cluster_id = sim_stream_seed(o->seed, SIM_STREAM_CLUSTER);
    /* Enough commands for every instance to carry a full batch, bounded. */
    s->submit_max =
        o->instances > UINT64_MAX / BPC_BATCH_MAX ? UINT64_MAX : o->instances * BPC_BATCH_MAX;
    /* One microsecond up to 199 parties; above, a party receives about n
     * frames per phase and a tick of n / 100 us delivers them in bursts
     * (as a poll loop takes them), not one step per frame. */
    s->delay_tick_us = s->n / SIM_DELAY_TICK_PARTIES > 1 ? s->n / SIM_DELAY_TICK_PARTIES : 1;
    s->delay_span_ticks = (o->delay_max_ns / 1000 - o->delay_min_ns / 1000) / s->delay_tick_us + 1;
    s->delay_limit = UINT64_MAX - UINT64_MAX % s->delay_span_ticks;
    s->loss_cut = sim_prob_cut(o->loss);
    s->dup_cut = sim_prob_cut(o->dup);
    sim_rng_seed(&s->net_rng, sim_stream_seed(o->seed, SIM_STREAM_NET));
    sim_rng_seed(&s->byz_rng, sim_stream_seed(o->seed, SIM_STREAM_BYZ));
    s->parties = sim_calloc(s->n, sizeof(*s->parties));
    s->rx = sim_calloc(s->n, sizeof(*s->rx));
    sim_rcu_enter(s);
    s->cfg0 = sim_calloc(1, sizeof(*s->cfg0));
    s->cfg_scratch = sim_calloc(1, sizeof(*s->cfg_scratch));
    sim_config_fill(o, 0, s->cfg0);
    rc = bpc_config_validate(s->cfg0, err, err_len);
    if (rc == 0) {
        rc = sim_faulty_check(s, err, err_len);
    }
    if (rc == 0) {
        rc = sim_quotas(s, err, err_len);
    }
    if (rc == 0) {
        sim_keys_init(s);
        for (uint32_t p = 0; p < s->n && rc == 0; p++) {
            rc = sim_party_init(s, p, err, err_len);
        }
    }
    if (rc != 0) {
        sim_free(s);
        return rc;
    }
    sim_buffers_init(s);
    sim_crashes_init(s);
    bpc_config_digest(s->cfg0, s->digest);
    s->first_leader = bpc_elect_leader(s->cfg0, s->digest, 1);
    sim_byz_init(s);
    sim_start(s);
    *out = s;
    return 0;
}

/* Frees everything sim_init built (the logs wait for grace periods). */
void
sim_free(struct sim *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t p = 0; p < s->n; p++) {
        struct sim_party *pa = &s->parties[p];
        if (pa->e != NULL) {
            bpc_engine_free(pa->e);
        }
        if (pa->dlog != NULL) {
            bpc_log_free(pa->dlog);
        }
        for (uint64_t i = 0; i < pa->log_len; i++) {
            free(pa->log[i].value);
        }
        free(pa->log);
        for (uint32_t i = 0; pa->disk != NULL && i < pa->disk_cap; i++) {
            free(pa->disk[i]);
        }
        free(pa->disk);
        for (uint32_t i = 0; pa->disk_vals != NULL && i < pa->disk_cap; i++) {
            for (uint32_t k = 0; pa->disk_vals[i] != NULL && k < SIM_DISK_VALS; k++) {
                free(pa->disk_vals[i][k].bytes);
            }
            free(pa->disk_vals[i]);
        }
        free(pa->disk_vals);
        free(pa->disk_applied);
        free(pa->disk_applied_at.ents);
        free(pa->cmds.ticket);
        free(pa->cmds.submit_ns);
        free(pa->applied.ents);
        free(pa->applied_hi);
    }
    sim_byz_free(s);
    free(s->applied_at.ents);
    free(s->cfg0);
    free(s->cfg_scratch);
    free(s->sub_slot);
    for (uint32_t c = 0; c < s->chunks_count; c++) {
        sim_unmap_big(s->chunks[c].mem, SIM_CHUNK_BYTES);
    }
    if (s->keys != NULL) {
        size_t key_bytes = (size_t)s->n * s->n * BPC_KEY_BYTES;
        sodium_memzero(s->keys, key_bytes);
        sim_free_big(s->keys, key_bytes);
    }
    free(s->chunks);
    free(s->cal);
    sim_free_big(s->blocks, (size_t)s->blocks_cap * sizeof(*s->blocks));
    free(s->times);
    free(s->dlv);
    free(s->grouped);
    free(s->stage);
    free(s->dl_heap);
    free(s->crash_order);
    free(s->restart_order);
    free(s->debug_recs);
    sim_rcu_leave(s);
    free(s->touched);
    free(s->outf);
    free(s->out_bytes);
    free(s->decs);
    free(s->refs);
    free(s->parties);
    free(s->rx);
    free(s);
}
