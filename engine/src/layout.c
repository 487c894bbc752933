/*
 * layout.c - the storage layout: one block of caller storage, sized by
 * bpc_engine_footprint and cut into regions, each sized by what the
 * configuration can use (parties, window, value and command sizes,
 * commands_max).
 *
 * Owns: the region sizes (eng_sizes_of), their offsets (eng_layout_of),
 * the public footprint and its breakdown (bpc_engine_footprint,
 * bpc_engine_footprint_parts), and where each module's pieces start
 * (eng_mem_of). Must never: write the storage (engine.c builds the engine
 * in it, and each module's eng_*_carve takes its pieces), or size a
 * region by anything but the configuration.
 */
#include "layout.h"
#include "tally.h"

#include <stdio.h>
#include <string.h>

void
eng_sizes_of(const struct bpc_config *cfg, struct eng_sizes *z)
{
    z->n = cfg->parties_count;
    z->words = (z->n + 63) / 64;
    z->window = cfg->window_slots;
    /* Value buffers are needed only for values that travel by digest. */
    z->vbytes = cfg->value_bytes_max > BPC_VALUE_INLINE_MAX ? (cfg->value_bytes_max + 7u) & ~7u : 0;
    /* 1b claims: one per (instance voted on, sender, generation), so every
     * sender's reports at two ballots across the window while 2W x n is at
     * most 65536; 16 senders' worth past 16 parties, and never more than
     * 65536 (+ 256 + 2n) entries. A full pool gives each sender its
     * weight's share (tally.c, eng_claim_evict). */
    uint64_t per_window = 2ull * z->window * (z->n < 16 ? z->n : 16);
    z->claims = 256 + 2 * z->n + (uint32_t)(per_window < 65536 ? per_window : 65536);
    z->cmds = cfg->commands_max;
    z->cmd_max = bpc_command_bytes_max(cfg);
    /* At least 8: a command's place in the own list is found again from
     * the address of its bytes (eng_own_locate), which a stride of 0 (no
     * command byte fits: value_bytes_max 16) would make one address for
     * all; then no ATTEST of an own command left and every command a
     * non-leader submitted waited for a ballot change (review E1's F1). */
    z->cmd_stride = z->cmd_max == 0 ? 8u : (z->cmd_max + 7u) & ~7u;
    z->bq_cap = z->window * (6 + BPC_HISTORY_MAX) + 4 * ENG_RETX_MAX + 64;
    z->uq_cap = z->window + 2 * eng_answer_half(z->n) + 2 * z->n + 256;
    z->recs_cap = BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES;
    /* Recent decisions outlive their slots by 2 windows (their bytes too),
     * so a party lagging that far catches up without a log. */
    z->dring_len = BPC_RECENT_LEN(z->window);
    /* MACs kept per submitter: up to 256, fewer with many parties (the
     * table is parties x slots), never fewer than 8. From the party count
     * alone, which every party shares: a submitter keeps as many commands
     * out as its own table holds, so a receiver with a smaller table (it
     * was capped by its own commands_max) lost the oldest MACs, refused
     * their values and, where its vote was needed, stalled the cluster. */
    uint32_t att = ENG_ATT_SLOTS_MAX;
    while (att > 8 && (uint64_t)att * z->n > 16384) {
        att /= 2;
    }
    z->att_slots = att;
    z->replay_bits = ENG_REPLAY_BITS;
    while (z->replay_bits > 64 && (uint64_t)z->replay_bits * z->n > ENG_REPLAY_TOTAL_BITS) {
        z->replay_bits /= 2;
    }
}

static size_t
eng_align(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

/* Bytes per party of the ballot's region (L_FUT): peer_bal, witness,
 * the censorship watch's command and start, a ballot-weight scratch
 * entry, and the watch's doublings. */
#define ENG_FUT_PER_PARTY (4 * sizeof(uint64_t) + sizeof(struct bpc_ballot_w) + 1)

/* Bytes per submitter of the apply state (L_SEQS): applied_hi,
 * queued_hi, lq_first and lq_last, a hold, applied_dirty and lq_count,
 * applied_listed and strikes. */
#define ENG_SEQS_PER_SUBMITTER                                                                     \
    (4 * sizeof(uint64_t) + sizeof(struct eng_hold) + 2 * sizeof(uint32_t) + 2)

/* Chain heads of the names index (claims.c): the power of two at or
 * above twice the pool's entries, so chains hold at most 2.5 entries on
 * average when every entry names five distinct values. */
static uint32_t
eng_names_len(uint32_t claims)
{
    uint32_t len = 1;
    while (len < 2u * claims) {
        len <<= 1;
    }
    return len;
}

void
eng_layout_of(const struct eng_sizes *z, struct eng_layout *l)
{
    size_t sizes[L_COUNT];
    sizes[L_RANGE_BAL] = sizes[L_RANGE_FROM] = sizes[L_TX_SEQ] = (size_t)z->n * sizeof(uint64_t);
    sizes[L_SEQ_BITS] = (size_t)z->n * (1 + z->replay_bits / 64) * sizeof(uint64_t);
    sizes[L_FUT] = (size_t)z->n * ENG_FUT_PER_PARTY + (size_t)z->dring_len * sizeof(struct eng_dec);
    sizes[L_SLOTS] = (size_t)z->window * sizeof(struct eng_slot);
    sizes[L_BITS] = (size_t)z->window * (ENG_GENS * SEEN_PER_GEN + 1) * z->words * sizeof(uint64_t);
    sizes[L_VALUES] = (size_t)z->window * ENG_VALUE_BUFS * z->vbytes;
    sizes[L_CLAIMS] =
        (size_t)z->claims * (sizeof(struct eng_claim) + ENG_NAMES_PER * sizeof(struct eng_name)) +
        (size_t)eng_names_len(z->claims) * sizeof(uint32_t);
    sizes[L_SCRATCH] = (size_t)z->n * (sizeof(struct bpc_1b_report) + sizeof(struct bpc_ballot_w) +
                                       5 * sizeof(uint32_t) + 3 * sizeof(uint64_t) +
                                       BPC_HISTORY_MAX * sizeof(struct bpc_safe_cand) +
                                       sizeof(struct bpc_safe_low) + sizeof(struct eng_cover)) +
                       sizeof(struct bpc_safe_low) + sizeof(struct eng_cover);
    sizes[L_CMDS] =
        (size_t)z->cmds * (sizeof(struct eng_cell) + 2 * sizeof(struct eng_cmd) + sizeof(uint64_t));
    sizes[L_CMD_BYTES] = (size_t)z->cmds * z->cmd_stride * 3;
    sizes[L_QUEUES] = ((size_t)z->bq_cap * 2 + z->uq_cap) * sizeof(struct eng_out) +
                      (size_t)z->recs_cap * sizeof(struct bpc_record) +
                      (size_t)z->n * sizeof(uint32_t);
    sizes[L_DUR] =
        ((size_t)z->window * (1 + ENG_DECIDED_BATCH_MAX) + 1 + z->n + 2 * ENG_VOUCH_MAX) *
            sizeof(struct bpc_durable) +
        (size_t)ENG_VALS_MAX(z->window) * sizeof(struct bpc_durable_value);
    sizes[L_DIRTY] = (size_t)((z->window + 1u) & ~1u) * sizeof(uint32_t) +
                     (size_t)ENG_HELD_WORDS(z->window) * sizeof(uint64_t);
    sizes[L_SEQS] = (size_t)z->n * ENG_SEQS_PER_SUBMITTER;
    sizes[L_BUFS] = (z->vbytes + 64) & ~(size_t)63;
    sizes[L_DRING_BYTES] = (size_t)z->dring_len * z->vbytes;
    sizes[L_ATT] = (size_t)z->n * z->att_slots * sizeof(struct eng_att);
    /* Runs of votes need a peer to send to and two instances in flight. */
    sizes[L_RUNS] = z->n >= 2 && z->window >= 2 ? ENG_RUN_CACHE * sizeof(struct eng_run_cache) +
                                                      ENG_RUN_WAIT * sizeof(struct eng_run_wait)
                                                : 0;
    size_t off = eng_align(sizeof(struct bpc_engine));
    for (int k = 0; k < L_COUNT; k++) {
        l->off[k] = off;
        l->size[k] = sizes[k];
        off += eng_align(sizes[k]);
    }
    l->total = off;
}

size_t
bpc_engine_footprint(const struct bpc_config *cfg)
{
    /* The check bpc_engine_init and bpc_engine_new make first: a caller
     * that sizes the storage before either gets 0, not the size of a
     * configuration they refuse (commands_max 2^31 asked for 6.6 TB). */
    if (bpc_config_validate(cfg, NULL, 0) != 0) {
        return 0;
    }
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    return l.total;
}

/* How a region of the per-party and per-slot state follows the
 * configuration (n parties, W window slots, V value buffer bytes), with
 * this build's element sizes; false for another region. */
static bool
eng_part_formula_state(int k, const struct eng_sizes *z, char *f, size_t len)
{
    switch (k) {
    case L_RANGE_BAL:
    case L_RANGE_FROM:
    case L_TX_SEQ:
        snprintf(f, len, "n x 8");
        return true;
    case L_SEQ_BITS:
        snprintf(f, len,
                 "n x (8 + R / 8), R = %u replay frames per sender (1024 up to 64 parties, "
                 "then 65536 / n to a power of two, >= 64)",
                 z->replay_bits);
        return true;
    case L_FUT:
        snprintf(f, len,
                 "n x %zu (ballots, censorship watches) + (2W + 256) x %zu (recent decisions)",
                 ENG_FUT_PER_PARTY, sizeof(struct eng_dec));
        return true;
    case L_SLOTS:
        snprintf(f, len, "W x %zu", sizeof(struct eng_slot));
        return true;
    case L_BITS:
        snprintf(f, len, "W x %u x ceil(n / 64) x 8 (sender sets)", ENG_GENS * SEEN_PER_GEN + 1);
        return true;
    case L_VALUES:
        snprintf(f, len, "W x %u x V (V = value_bytes_max rounded to 8, 0 when values fit inline)",
                 ENG_VALUE_BUFS);
        return true;
    case L_CLAIMS:
        snprintf(f, len,
                 "C x (%zu + 5 x %zu) + 4 x 2C rounded up to a power of two (1b claim pool and "
                 "its names index; C = 256 + 2n + min(2W x min(n, 16), 65536))",
                 sizeof(struct eng_claim), sizeof(struct eng_name));
        return true;
    case L_SCRATCH:
        snprintf(f, len,
                 "n x (%zu + 60 + %zu) + %zu (1b view, clean floors, judged values, ranges, "
                 "claims held, newest claim, top share tree, answers, pace, bad vote runs per "
                 "sender)",
                 sizeof(struct bpc_1b_report),
                 BPC_HISTORY_MAX * sizeof(struct bpc_safe_cand) + sizeof(struct bpc_safe_low) +
                     sizeof(struct eng_cover),
                 sizeof(struct bpc_safe_low) + sizeof(struct eng_cover));
        return true;
    default:
        return false;
    }
}

/* Likewise for the commands, queues, durable records and buffers (C
 * commands_max, S command stride). */
static bool
eng_part_formula_queues(int k, const struct eng_sizes *z, char *f, size_t len)
{
    switch (k) {
    case L_CMDS:
        snprintf(f, len, "C x %zu (submit ring, own and leader queues, the leader's chains)",
                 sizeof(struct eng_cell) + 2 * sizeof(struct eng_cmd) + sizeof(uint64_t));
        return true;
    case L_CMD_BYTES:
        snprintf(f, len, "3 x C x S (S = %u: the largest command, rounded to 8)", z->cmd_stride);
        return true;
    case L_QUEUES:
        snprintf(f, len, "(2 x (W x %u + %u) + W + %u + 2n) x %zu + %u x %zu + 4n (outbox, decode)",
                 6 + BPC_HISTORY_MAX, 4 * ENG_RETX_MAX + 64, 2 * eng_answer_half(z->n) + 256,
                 sizeof(struct eng_out), z->recs_cap, sizeof(struct bpc_record));
        return true;
    case L_DUR:
        snprintf(f, len,
                 "(%u x W + 1 + n + %u) x %zu + (%u x W + %u) x %zu (durable records, values)",
                 1 + ENG_DECIDED_BATCH_MAX, 2 * ENG_VOUCH_MAX, sizeof(struct bpc_durable),
                 ENG_VALS_PER_SLOT + ENG_DECIDED_BATCH_MAX, ENG_VOUCH_MAX,
                 sizeof(struct bpc_durable_value));
        return true;
    case L_DIRTY:
        snprintf(f, len, "W x 4 + (W / 64 rounded up) x 8 (dirty list, held 2a values)");
        return true;
    case L_SEQS:
        snprintf(f, len, "n x %zu (apply state and holds per submitter)", ENG_SEQS_PER_SUBMITTER);
        return true;
    case L_BUFS:
        snprintf(f, len, "V + 64 rounded to 64 (the batch buffer)");
        return true;
    case L_DRING_BYTES:
        snprintf(f, len, "(2W + 256) x V (recent decisions' bytes)");
        return true;
    case L_ATT:
        snprintf(f, len, "n x A x %zu, A = %u (min(256, 16384 / n to a power of two), >= 8)",
                 sizeof(struct eng_att), z->att_slots);
        return true;
    case L_RUNS:
        snprintf(
            f, len,
            "%u x %zu + %u x %zu when n >= 2 and W >= 2, else 0 (vote runs: digests, waiting runs)",
            ENG_RUN_CACHE, sizeof(struct eng_run_cache), ENG_RUN_WAIT, sizeof(struct eng_run_wait));
        return true;
    default:
        return false;
    }
}

/* Each region's name and how it follows the configuration (n parties,
 * W window slots, V value buffer bytes, C commands_max, S command stride),
 * with this build's element sizes. */
static void
eng_part_formula(int k, const struct eng_sizes *z, char *f, size_t len)
{
    if (!eng_part_formula_state(k, z, f, len) && !eng_part_formula_queues(k, z, f, len)) {
        snprintf(f, len, "?");
    }
}

static const char *const eng_part_names[L_COUNT] = {
    [L_RANGE_BAL] = "range_bal",
    [L_RANGE_FROM] = "range_from",
    [L_SEQ_BITS] = "replay_window",
    [L_TX_SEQ] = "tx_seq",
    [L_FUT] = "peer_ballots+recent",
    [L_SLOTS] = "slots",
    [L_BITS] = "sender_sets",
    [L_VALUES] = "slot_values",
    [L_CLAIMS] = "claim_pool",
    [L_SCRATCH] = "view_scratch",
    [L_CMDS] = "command_queues",
    [L_CMD_BYTES] = "command_bytes",
    [L_QUEUES] = "outbox+decode",
    [L_DUR] = "durable_records",
    [L_DIRTY] = "dirty_list",
    [L_SEQS] = "apply_state",
    [L_BUFS] = "batch",
    [L_DRING_BYTES] = "recent_bytes",
    [L_ATT] = "command_macs",
    [L_RUNS] = "vote_runs",
};

uint32_t
bpc_engine_footprint_parts(const struct bpc_config *cfg, struct bpc_footprint_part *parts,
                           uint32_t cap)
{
    if (bpc_engine_footprint(cfg) == 0) {
        return 0;
    }
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    uint32_t count = 1 + L_COUNT;
    cap = parts != NULL ? cap : 0; /* NULL: only the count */
    for (uint32_t k = 0; k < count && k < cap; k++) {
        struct bpc_footprint_part *p = &parts[k];
        if (k == 0) {
            p->name = "engine";
            p->bytes = sizeof(struct bpc_engine);
            snprintf(p->formula, sizeof(p->formula),
                     "%zu (struct bpc_engine, configuration included)", sizeof(struct bpc_engine));
            continue;
        }
        p->name = eng_part_names[k - 1];
        p->bytes = l.size[k - 1];
        eng_part_formula((int)(k - 1), &z, p->formula, sizeof(p->formula));
    }
    return count;
}

/* The views' scratch room at the start of region L_SCRATCH (64-aligned),
 * bpc_safe_low first (16-aligned: bpc_u128); returns where the region's
 * per-sender arrays start. */
static uint64_t *
eng_mem_views(struct eng_mem *m, uint8_t *at, uint32_t n)
{
    m->safe_low = (struct bpc_safe_low *)(void *)at;
    m->cover = (struct eng_cover *)(void *)(m->safe_low + n + 1); /* 32-byte entries */
    m->safe_cands = (struct bpc_safe_cand *)(void *)(m->cover + n + 1);
    m->scratch = (struct bpc_1b_report *)(void *)(m->safe_cands + (size_t)n * BPC_HISTORY_MAX);
    m->clean_w = (struct bpc_ballot_w *)(void *)(m->scratch + n);
    return (uint64_t *)(void *)(m->clean_w + n);
}

/* Where each module's storage starts, by the layout (regions shared by
 * several modules are split in a fixed order). */
/* The ballot's per-party region and the recent decisions (L_FUT). */
static void
eng_mem_fut(uint8_t *at, const struct eng_sizes *z, struct eng_mem *m)
{
    m->peer_bal = (uint64_t *)(void *)at;
    m->witness = m->peer_bal + z->n;
    m->watch_q = m->witness + z->n;
    m->watch_ns = m->watch_q + z->n;
    m->bal_scratch = (struct bpc_ballot_w *)(void *)(m->watch_ns + z->n);
    m->dring = (struct eng_dec *)(void *)(m->bal_scratch + z->n);
    m->watch_shift = (uint8_t *)(void *)(m->dring + z->dring_len);
}

void
eng_mem_of(uint8_t *base, const struct eng_sizes *z, const struct eng_layout *l, struct eng_mem *m)
{
    memset(m, 0, sizeof(*m));
    m->n = z->n;
    m->cmds = z->cmds;
    m->cmd_stride = z->cmd_stride;
    m->cmd_max = z->cmd_max;
    m->bq_cap = z->bq_cap;
    m->uq_cap = z->uq_cap;
    m->recs_cap = z->recs_cap;
    m->dring_len = z->dring_len;
    m->att_slots = z->att_slots;
    m->claims = z->claims;
    m->range_bal = (uint64_t *)(void *)(base + l->off[L_RANGE_BAL]);
    m->range_from = (uint64_t *)(void *)(base + l->off[L_RANGE_FROM]);
    m->replay = (uint64_t *)(void *)(base + l->off[L_SEQ_BITS]);
    m->tx_seq = (uint64_t *)(void *)(base + l->off[L_TX_SEQ]);
    eng_mem_fut(base + l->off[L_FUT], z, m);
    m->dring_bytes = base + l->off[L_DRING_BYTES];
    m->att = (struct eng_att *)(void *)(base + l->off[L_ATT]);
    if (l->size[L_RUNS] > 0) {
        m->run_cache = (struct eng_run_cache *)(void *)(base + l->off[L_RUNS]);
        m->run_wait = (struct eng_run_wait *)(void *)(m->run_cache + ENG_RUN_CACHE);
    }
    m->slots = (struct eng_slot *)(void *)(base + l->off[L_SLOTS]);
    m->bits = (uint64_t *)(void *)(base + l->off[L_BITS]);
    m->values = base + l->off[L_VALUES];
    m->claims_pool = (struct eng_claim *)(void *)(base + l->off[L_CLAIMS]);
    m->name_pool = (struct eng_name *)(void *)(m->claims_pool + z->claims);
    m->names = (uint32_t *)(void *)(m->name_pool + (size_t)ENG_NAMES_PER * z->claims);
    m->names_len = eng_names_len(z->claims);
    m->answer_step = eng_mem_views(m, base + l->off[L_SCRATCH], z->n);
    m->answer_tat = m->answer_step + z->n;
    m->run_bad_bal = m->answer_tat + z->n;
    m->held = (uint32_t *)(void *)(m->run_bad_bal + z->n);
    m->answered = m->held + z->n;
    m->claims_by = m->answered + z->n; /* and the top share's tree (claims.c) */
    m->run_bad = m->claims_by + 2u * (size_t)z->n;
    m->ring = (struct eng_cell *)(void *)(base + l->off[L_CMDS]);
    m->own = (struct eng_cmd *)(void *)(m->ring + z->cmds);
    m->lq = m->own + z->cmds;
    m->lq_next = (uint64_t *)(void *)(m->lq + z->cmds);
    m->ring_bytes = base + l->off[L_CMD_BYTES];
    m->own_bytes = m->ring_bytes + (size_t)z->cmds * z->cmd_stride;
    m->lq_bytes = m->own_bytes + (size_t)z->cmds * z->cmd_stride;
    m->applied_hi = (uint64_t *)(void *)(base + l->off[L_SEQS]);
    m->queued_hi = m->applied_hi + z->n;
    m->lq_first = m->queued_hi + z->n;
    m->lq_last = m->lq_first + z->n;
    m->hold = (struct eng_hold *)(void *)(m->lq_last + z->n);
    m->applied_dirty = (uint32_t *)(void *)(m->hold + z->n);
    m->lq_count = m->applied_dirty + z->n;
    m->applied_listed = (uint8_t *)(m->lq_count + z->n);
    m->strikes = m->applied_listed + z->n;
    m->batch_buf = base + l->off[L_BUFS];
    m->bq = (struct eng_out *)(void *)(base + l->off[L_QUEUES]);
    m->selfq = m->bq + z->bq_cap;
    m->uq = m->selfq + z->bq_cap;
    m->recs = (struct bpc_record *)(void *)(m->uq + z->uq_cap);
    m->uq_first = (uint32_t *)(void *)(m->recs + z->recs_cap);
    m->dur = (struct bpc_durable *)(void *)(base + l->off[L_DUR]);
    m->dur_cap = z->window * (1 + ENG_DECIDED_BATCH_MAX) + 1 + z->n + ENG_VOUCH_MAX;
    m->vouch = m->dur + m->dur_cap;
    m->vals = (struct bpc_durable_value *)(void *)(m->vouch + ENG_VOUCH_MAX);
    m->vals_cap = ENG_VALS_MAX(z->window);
    m->dirty = (uint32_t *)(void *)(base + l->off[L_DIRTY]);
    m->held_bits = (uint64_t *)(void *)(m->dirty + ((z->window + 1u) & ~1u));
}
