/*
 * layout.h - the engine's storage layout (layout.c): how big each region
 * of the one block of caller storage is for a configuration, and where
 * each module's pieces start.
 */
#ifndef BPC_LAYOUT_H
#define BPC_LAYOUT_H

#include "core.h"

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
