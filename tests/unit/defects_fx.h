/*
 * defects_fx.h - what the origin-defect tests share (test_defects.c,
 * test_defects_frames.c, test_defects_phases.c): reading a party's log,
 * leaders, a tracked cluster, decoding queued frames and forging new
 * ones, and the filter context that drops, holds or records frames.
 * Must never: edit engine state directly, sleep, or assert on timing.
 */
#ifndef BPC_TEST_DEFECTS_FX_H
#define BPC_TEST_DEFECTS_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "bpcon.h"
#include "harness.h"
#include "internal.h"

#define TD_MS UINT64_C(1000000)
#define TD_RECS_MAX (BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES)
#define TD_HELD_MAX 4096u
/* Forged frames use sequence numbers far above any honest one. */
#define TD_FORGED_SEQ (UINT64_C(1) << 50)

/* ------------------------------------------------------------------------
 * Values and leaders.
 * ---------------------------------------------------------------------- */

/* Does log entry k of party i hold command (tag, seq)? */
bool td_logged(const struct hn *h, uint32_t i, uint32_t k, uint32_t tag, uint64_t seq);
/* Index of the first log entry of party i holding (tag, seq), or -1. */
int td_find(const struct hn *h, uint32_t i, uint32_t tag, uint64_t seq);
/* Does the log of party i hold every command (tag, 0..count-1)? */
bool td_has_all(const struct hn *h, uint32_t i, uint32_t tag, uint64_t count);
/* The leader of `ballot` in the cluster's configuration (by bpc_elect_leader). */
uint32_t td_leader(const struct hn *h, uint64_t ballot);
/* Builds a cluster whose cluster id makes ballots 1 and 2 have different
 * leaders (the scenarios need a second leader). */
void td_init_two_leaders(struct hn *h, uint32_t n, enum bpc_mode mode);
/* The test's cluster, on the heap and tracked (td_teardown frees it when
 * an assertion ends a test early). */
struct hn *td_hn_new(void);
void td_hn_free(struct hn *h);

/* ------------------------------------------------------------------------
 * Frames: reading queued ones, forging new ones.
 * ---------------------------------------------------------------------- */

/* Where td_decode puts a frame's records. */
extern struct bpc_record td_recs[TD_RECS_MAX];
/* Decodes a frame (no tag check: the filter sees honest frames); returns
 * the record count into td_recs, or -1. */
int td_decode(const uint8_t *bytes, uint32_t len, struct bpc_frame_header *hdr);
/* Does the frame carry a record of this type (and ballot, when nonzero)? */
bool td_has(const uint8_t *bytes, uint32_t len, uint8_t type, uint64_t ballot);

struct td_frame {
    uint8_t bytes[BPC_FRAME_BYTES_MAX];
    uint32_t len;
};

/* Encodes recs as a frame from -> to, tagged with key. */
void td_forge(struct td_frame *f, const struct hn *h, uint32_t from, uint32_t to,
              const struct bpc_record *recs, uint32_t count, uint64_t seq,
              const uint8_t key[BPC_KEY_BYTES]);
/* Steps party `to` with one frame. */
void td_inject(struct hn *h, uint32_t to, const uint8_t *bytes, uint32_t len);

/* ------------------------------------------------------------------------
 * Filters. One context serves every test: a rule picks what to drop or
 * hold, and a recorder notes every 2A/2AV/2B record that was queued.
 * ---------------------------------------------------------------------- */

enum td_rule {
    TD_PASS = 0,
    TD_B1_ISOLATE,   /* drop all to `isolated`, drop 2B frames to all but `keep` */
    TD_B1_HOLD,      /* hold 2A/2AV/2B frames of ballot 1 to parties in `mask` */
    TD_HOLD_TO,      /* hold every frame to `isolated` */
    TD_DROP_2B_FROM, /* drop 2B frames from `isolated` (and crash it), 2AV from `from2` to `keep` */
    TD_MUTE_FROM     /* drop every frame from `isolated` and every DECIDED record */
};

struct td_held {
    uint32_t from;
    uint32_t to;
    uint32_t len;
    uint8_t *bytes;
};

struct td_ctx {
    struct hn *h;
    enum td_rule rule;
    uint32_t isolated;
    uint32_t keep;
    uint32_t from2;
    uint32_t mask;
    struct td_held held[TD_HELD_MAX];
    uint32_t held_count;
    /* Recorder: 2AV/2B records sent at instance `watch_instance`, and how
     * many voted for command (bad_tag, bad_seq), which nobody may. */
    uint64_t watch_instance;
    uint32_t bad_tag;
    uint64_t bad_seq;
    uint32_t bad_votes;
    uint32_t sent_2av_from[BPC_PARTIES_MAX];
    uint32_t sent_2b_from[BPC_PARTIES_MAX];
    bool crashed;
};

/* A filter context with this rule on h (its filter until td_ctx_free). */
struct td_ctx *td_ctx_new(struct hn *h, enum td_rule rule);
void td_ctx_free(struct td_ctx *c);
/* Per-test teardown: frees what a failed assertion left behind. */
int td_teardown(void **state);
/* Equivocations counted by every party's engine. */
uint64_t td_sum_equivocations(const struct hn *h);

struct td_cmd {
    uint32_t tag;
    uint64_t seq;
};

/* Runs deliver/tick rounds until every live party's log holds every
 * command of cmds (at whatever instance), or limit_ns passes. */
bool td_run_cmds(struct hn *h, const struct td_cmd *cmds, uint32_t count, uint64_t limit_ns);

#endif
