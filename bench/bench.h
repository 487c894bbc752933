/*
 * bench.h - the C benchmark bodies that bench_main.cc drives through Google
 * Benchmark.
 *
 * Owns: the contract between C bodies and the C++ shim. A body has the form
 * `uint64_t bench_x(void *ctx, uint64_t iters)`: it runs its operation iters
 * times on state that a setup call prepared, and returns a checksum that
 * depends on every run so the compiler cannot drop the work. Must never:
 * allocate, print or read a clock inside a body (setup and teardown may
 * allocate), or be compiled into libbpcon.
 *
 * Each setup takes the sweep parameter (records per frame, frame bytes,
 * value bytes or parties) and returns NULL when it cannot build a valid
 * context (bad parameter, or an engine call refused its own output). Every
 * context is released with bench_teardown().
 */
#ifndef BPC_BENCH_H
#define BPC_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bpcon.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- micro tier: wire ---------------------------------------------------
 * A frame of `records` 2AV records (1..64) with 16-byte inline values. */
void *bench_wire_setup(uint32_t records);
/* Encodes the frame (begin, records, header and tag) iters times. */
uint64_t bench_wire_encode(void *ctx, uint64_t iters);
/* Parses the header, verifies the tag and decodes every record of the
 * frame that setup encoded, iters times. */
uint64_t bench_wire_decode(void *ctx, uint64_t iters);

/* ---- micro tier: auth ---------------------------------------------------
 * Tag (SipHash-2-4, 128-bit output) over a frame of `frame_bytes` bytes. */
void *bench_auth_setup(uint32_t frame_bytes);
uint64_t bench_auth_tag(void *ctx, uint64_t iters);
/* Checks the tag of that message (a valid one, so the whole comparison
 * runs: what a receiver pays per frame). */
uint64_t bench_auth_verify(void *ctx, uint64_t iters);
/* bpc_command_mac over a command of frame_bytes bytes (setup as above). */
uint64_t bench_command_mac(void *ctx, uint64_t iters);

/* ---- micro tier: value identities ---------------------------------------
 * bpc_vid_of over a value of `value_bytes` bytes (inline up to 32, hashed
 * above). */
void *bench_value_setup(uint32_t value_bytes);
uint64_t bench_value_vid(void *ctx, uint64_t iters);

/* ---- micro tier: leader election ----------------------------------------
 * bpc_elect_leader for `parties` parties of unequal weights, one ballot per
 * run. */
void *bench_elect_setup(uint32_t parties);
uint64_t bench_elect_leader(void *ctx, uint64_t iters);

/* ---- micro tier: the leader's pick ---------------------------------------
 * bpc_safe_pick over one instance's view at `parties` parties, a third of
 * them Byzantine reporting four junk values each, no value safe: every
 * reported value judged (bench_micro.c says the view). */
void *bench_safe_setup(uint32_t parties);
uint64_t bench_safe_pick(void *ctx, uint64_t iters);

/* Releases any context returned by a setup above (NULL is a no-op). */
void bench_teardown(void *ctx);

/* ---- engine tier --------------------------------------------------------
 * `parties` engines (weight 1 each) in one thread exchanging authenticated
 * frames in memory, with burst delivery; one command per value. A run
 * submits `iters` commands at the leader and returns when party 0 has
 * applied them: items/s is decided commands per second on one core. */
void *bench_engine_setup(uint32_t parties);
/* The same with 4 parties and `batch` commands per value. */
void *bench_engine_batch_setup(uint32_t batch);
/* Any of the two: `parties` parties and `batch` commands per value. */
void *bench_engine_grid_setup(uint32_t batch, uint32_t parties);
/* 4 parties, `batch` commands per value, 64-byte commands (the others
 * submit 16-byte ones): one command makes an 80-byte value, above the
 * 32-byte inline limit, so values travel as DIGEST bytes. */
void *bench_engine_cmd64_setup(uint32_t batch);
/* The same, each command submitted at the next party in turn: three in
 * four are forwarded to the leader (FORWARD and ATTEST records), as in a
 * cluster whose every party has clients. */
void *bench_engine_spread64_setup(uint32_t batch);
uint64_t bench_engine_run(void *ctx, uint64_t iters);
void bench_engine_teardown(void *ctx);
/* The configuration every engine benchmark starts from: party `self` of
 * `parties` (weight 1 each), `batch` commands per value, window 512,
 * frames of 1400 bytes; keys[j] (parties entries) is filled with the key
 * shared with j, from a fixed master key. */
void bench_party_config(struct bpc_config *cfg, uint32_t parties, uint32_t self, uint32_t batch,
                        uint8_t (*keys)[BPC_KEY_BYTES]);

/* ---- engine step tier (bench_step.c) --------------------------------------
 * One bpc_engine_step handling one received frame whose records are all
 * of type `type` (enum bpc_msg_type; a 1b frame carries its history and
 * range records too), captured from a 4-party in-memory run at the point
 * a party receives it, with that party's engine state. A run is
 * bench_step_reset (untimed: restores the bytes the step writes) then
 * bench_step_once (timed: the step with the frame, and, when the engine
 * asks for durability, bpc_engine_persisted and the step that releases
 * the held frames). With `acts`, the first such frame whose handling
 * sends a frame or decides (a 2av that completes a quorum, a 2b that
 * decides); else the first one. NULL when the run never produces it. */
void *bench_step_setup(uint32_t type, bool acts);
void bench_step_reset(void *ctx);
uint64_t bench_step_once(void *ctx);
void bench_step_teardown(void *ctx);
/* What one run does (the same every run), for the report. */
struct bench_step_counts {
    uint32_t records_in;  /* records in the frame */
    uint32_t frame_bytes; /* its length */
    uint32_t steps;       /* bpc_engine_step calls */
    uint32_t frames_out;  /* frames the engine sent */
    uint32_t decisions;   /* decisions it emitted */
    uint32_t persist;     /* durable records it asked for */
    uint64_t reset_bytes; /* engine bytes the step wrote (restored untimed) */
};
void bench_step_describe(const void *ctx, struct bench_step_counts *out);

#ifdef __cplusplus
}
#endif

#endif /* BPC_BENCH_H */
