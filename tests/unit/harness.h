/*
 * harness.h - a small in-process cluster for scripted engine tests: FIFO
 * delivery that a test drives frame by frame, virtual time, in-memory
 * durability. Not the simulator (tests/sim): no randomness at all.
 */
#ifndef BPC_TEST_HARNESS_H
#define BPC_TEST_HARNESS_H

#include "bpcon.h"

#include <stdbool.h>
#include <stdint.h>

#define HN_LOG_MAX 4096u

struct hn_frame {
    uint32_t from;
    uint32_t to;
    uint32_t len;
    uint8_t *bytes;
};

struct hn_party {
    struct bpc_engine *e;
    struct bpc_config cfg;
    uint8_t (*keys)[BPC_KEY_BYTES];
    bool down;
    uint32_t log_count;
    struct bpc_vid log[HN_LOG_MAX];
    uint64_t log_ballot[HN_LOG_MAX];
    uint32_t frames_sent;
    bool log_broken;          /* a decision out of order or disagreeing with the log */
    struct bpc_durable *disk; /* persisted records (party-wide first) */
    uint32_t disk_count;
    uint32_t disk_cap;
    struct bpc_durable_value *vals; /* persisted values, their bytes in val_bytes */
    uint8_t **val_bytes;
    uint32_t val_count;
    uint32_t val_cap;
    uint32_t restarts;
};

/* Return false to drop a frame queued from -> to. */
typedef bool (*hn_filter_fn)(void *ctx, uint32_t from, uint32_t to, const uint8_t *bytes,
                             uint32_t len);

struct hn {
    uint32_t n;
    struct hn_party *p;
    uint64_t now_ns;
    struct hn_frame *q;
    uint32_t q_head;
    uint32_t q_count;
    uint32_t q_cap;
    hn_filter_fn filter;
    void *filter_ctx;
    uint64_t delivered;
    uint32_t tx_cap; /* frames per step; 0 = the harness's buffer (2048) */
};

/* True while the harness is inside bpc_engine_step (allocation probes). */
extern bool hn_in_step;

/* Builds n parties with the given weights (threshold 0 = default). */
void hn_init(struct hn *h, const uint64_t *weights, uint32_t n, enum bpc_mode mode,
             uint32_t window);
void hn_init_cfg(struct hn *h, const struct bpc_config *base);
void hn_free(struct hn *h);
void hn_start(struct hn *h);
/* Steps party i with the given frames (and handles durability). */
void hn_step(struct hn *h, uint32_t i, const struct bpc_frame_in *frames, uint32_t count);
/* Delivers queued frames in FIFO order until none is left or max frames
 * were delivered; returns the number delivered. */
uint64_t hn_deliver(struct hn *h, uint64_t max);
/* Delivers only the queued frames from `from` to `to` (others stay). */
uint32_t hn_deliver_from(struct hn *h, uint32_t from, uint32_t to);
/* Drops every queued frame. */
void hn_drop_all(struct hn *h);
/* Advances time by ns and steps every live party. */
void hn_tick(struct hn *h, uint64_t ns);
/* Submits a 16-byte value (tag, seq) at party i. */
int hn_submit(struct hn *h, uint32_t i, uint32_t tag, uint64_t seq);
/* Runs deliver/tick rounds until every live party decided `count`
 * instances or virtual time passes limit_ns; true when all decided. */
bool hn_run(struct hn *h, uint32_t count, uint64_t tick_ns, uint64_t limit_ns);
/* Every pair of live-or-down parties agrees on the common log prefix. */
bool hn_agree(const struct hn *h);
int hn_first_leader(const struct hn *h);
/* Crash party i (volatile state lost) and restart it from its persisted
 * records at the current time. */
void hn_restart(struct hn *h, uint32_t i);

#endif
