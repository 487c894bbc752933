/*
 * layout.h - the engine's storage layout (layout.c): how big each region
 * of the one block of caller storage is for a configuration, and where
 * each module's pieces start.
 */
#ifndef BPC_LAYOUT_H
#define BPC_LAYOUT_H

#include "core.h"

/* Caller storage as carved by engine.c (the layout); each module's
 * eng_*_carve takes its own pieces (a forward declaration in core.h). */
struct eng_mem {
    uint32_t n, cmds, cmd_stride, cmd_max, bq_cap, uq_cap, recs_cap, dring_len, att_slots, claims,
        names_len;
    uint64_t *range_bal, *range_from, *replay, *tx_seq;
    uint64_t *peer_bal, *witness, *watch_q, *watch_ns;
    uint8_t *watch_shift;
    struct bpc_ballot_w *bal_scratch;
    struct eng_dec *dring;
    uint8_t *dring_bytes;
    struct eng_att *att;
    struct eng_slot *slots;
    uint64_t *bits;
    uint8_t *values;
    struct eng_claim *claims_pool;
    struct eng_name *name_pool; /* 5 per claim (claims.c's names index) */
    uint32_t *names;            /* names_len chain heads */
    struct bpc_1b_report *scratch;
    struct bpc_ballot_w *clean_w;
    struct bpc_safe_cand *safe_cands;
    struct bpc_safe_low *safe_low;
    struct eng_cover *cover;
    uint32_t *held, *claims_by; /* claims_by: 2n (heads, then the top share's tree) */
    uint64_t *answer_step;
    uint32_t *answered;
    uint64_t *answer_tat;
    uint64_t *run_bad_bal;
    uint32_t *run_bad;
    struct eng_cell *ring;
    struct eng_cmd *own, *lq;
    uint8_t *ring_bytes, *own_bytes, *lq_bytes;
    uint64_t *applied_hi, *queued_hi, *lq_next, *lq_first, *lq_last;
    struct eng_hold *hold;
    uint32_t *applied_dirty, *lq_count;
    uint8_t *applied_listed, *strikes;
    uint8_t *batch_buf;
    struct eng_out *bq, *selfq, *uq;
    struct bpc_record *recs;
    uint32_t *uq_first;
    struct bpc_durable *dur, *vouch;
    uint32_t dur_cap;
    struct bpc_durable_value *vals;
    uint32_t vals_cap;
    uint32_t *dirty;
    uint64_t *held_bits;
    struct eng_run_cache *run_cache; /* NULL when no run can form */
    struct eng_run_wait *run_wait;
};

enum {
    L_RANGE_BAL,
    L_RANGE_FROM,
    L_SEQ_BITS,
    L_TX_SEQ,
    L_FUT,
    L_SLOTS,
    L_BITS,
    L_VALUES,
    L_CLAIMS,
    L_SCRATCH,
    L_CMDS,
    L_CMD_BYTES,
    L_QUEUES,
    L_DUR,
    L_DIRTY,
    L_SEQS,
    L_BUFS,
    L_DRING_BYTES,
    L_ATT,
    L_RUNS,
    L_COUNT
};

struct eng_layout {
    size_t off[L_COUNT];
    size_t size[L_COUNT]; /* before rounding up to 64 */
    size_t total;
};

/* Commands a submitter keeps out (forwarded and attested) ahead of its
 * oldest unapplied one; receivers keep that many MACs per submitter. */
#define ENG_ATT_SLOTS_MAX 256u

struct eng_sizes {
    uint32_t n, words, window, vbytes, claims, cmds, cmd_stride, cmd_max, bq_cap, uq_cap, recs_cap;
    uint32_t dring_len, att_slots, replay_bits;
};

ENG_FN void eng_sizes_of(const struct bpc_config *cfg, struct eng_sizes *z);
ENG_FN void eng_layout_of(const struct eng_sizes *z, struct eng_layout *l);
/* Where each module's storage starts, by the layout (regions shared by
 * several modules are split in a fixed order). */
ENG_FN void eng_mem_of(uint8_t *base, const struct eng_sizes *z, const struct eng_layout *l,
                       struct eng_mem *m);

#endif /* BPC_LAYOUT_H */
