/*
 * fuzz_engine.h - what the files of the fuzz_engine target share:
 * fuzz_engine.c (the entry point, the script's ops and the records it
 * forges), fuzz_engine_world.c (the engines, the checks, the network) and
 * fuzz_engine_gen.c (the input cursor, value and command specs).
 *
 * Owns: the harness's limits and check macros, the layout of the world
 * (struct fz_world W, one per process, defined in fuzz_engine_world.c),
 * and the calls the files make into each other. The files are cut where
 * the compiler calls out of line: everything the entry point inlines stays
 * in fuzz_engine.c, and the two helpers inlined into callers in more than
 * one file (fz_fill, fz_deliver_bytes) are static inline here, so the
 * inlining, and the edges libFuzzer counts, stay what they were when the
 * target was one file (docs/FUZZ.md). Keep it so when code moves.
 *
 * Must never: be included outside the fuzz_engine target.
 */
#ifndef BPC_FUZZ_ENGINE_H
#define BPC_FUZZ_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "fuzz_common.h"

#define FZ_N 4u
#define FZ_FRAME 1400u        /* cfg.frame_bytes: the largest frame an engine writes */
#define FZ_VALUE_MAX 512u     /* cfg.value_bytes_max */
#define FZ_CRAFT_MAX 640u     /* crafted values may exceed what engines accept */
#define FZ_Q_CAP 1024u        /* queued frames; more are lost */
#define FZ_TX 32u             /* tx buffers lent per step */
#define FZ_DEC_CAP 64u        /* decisions per step */
#define FZ_TRACK 4096u        /* instances whose decided value is checked */
#define FZ_SUBS_MAX 128u      /* submissions remembered per party */
#define FZ_POOL 16u           /* values seen on the network */
#define FZ_SWAPS 8u           /* value replacements remembered (FZ_BYZ_VALUES) */
#define FZ_RECS_MAX 24u       /* records per forged frame (with history) */
#define FZ_OPS_MAX 512u       /* ops read per input */
#define FZ_DELIVER_MAX 20000u /* frames delivered per input */
#define FZ_ALL_MAX 512u       /* frames one DELIVER_ALL delivers */
#define FZ_RESTARTS_MAX 4u
#define FZ_SETTLE_ROUNDS 16u
#define FZ_MS UINT64_C(1000000)
#define FZ_SEQ_BITS 40u

/* A broken check aborts, which libFuzzer reports as a crash. */
#define FZ_CHECK(x)                                                                                \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_engine: check failed: %s (line %d)\n", #x, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A harness invariant broken: aborts with the reason. */
#define FZ_FAIL(why)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "fuzz_engine: %s (line %d)\n", why, __LINE__);                             \
        abort();                                                                                   \
    } while (0)

/* Command lengths a length index names (command specs, SUBMIT). */
extern const uint32_t fz_len_table[8];

/* Input cursor: reads zeros once the input is used up. */
struct fz_in {
    const uint8_t *p;
    size_t left;
};

struct fz_sub {
    uint64_t ticket;
    uint32_t len;
    uint8_t bytes[256];
};

struct fz_party {
    struct bpc_engine *e;
    struct bpc_config cfg;
    uint8_t keys[FZ_N][BPC_KEY_BYTES];
    bool byz;
    uint64_t next_dec;         /* next instance a decision must name */
    uint64_t applied_hi[FZ_N]; /* per submitter: last applied sequence number */
    struct bpc_durable *disk;  /* newest persisted record per instance */
    uint32_t disk_count;
    uint32_t disk_cap;
    struct fz_sub subs[FZ_SUBS_MAX];
    uint32_t subs_count;
};

struct fz_qframe {
    uint32_t from;
    uint32_t to;
    uint32_t len;
    uint8_t bytes[FZ_FRAME];
};

struct fz_pooled {
    struct bpc_vid vid;
    bool has_bytes;
    uint8_t bytes[FZ_VALUE_MAX];
};

/* A value the Byzantine party's engine names, and what it says instead. */
struct fz_swap {
    struct bpc_vid from;
    struct bpc_vid to;
    bool has_bytes;
    uint8_t bytes[FZ_VALUE_MAX];
};

/* The Byzantine party's crafted commands. */
struct fz_cmdstate {
    uint64_t hi; /* highest sequence number used */
    uint64_t last_seq;
    uint32_t last_len;
    uint8_t last[256];
};

/* A record under construction, with storage for its carried bytes. */
struct fz_rec {
    struct bpc_record r;
    uint8_t bytes[FZ_CRAFT_MAX];
    bool attest; /* value is the MAC of `bytes` (an ATTEST: aux bytes; a FORWARD: value.len),
                    made per receiver */
};

struct fz_world {
    struct fz_party p[FZ_N];
    uint32_t byz;
    uint32_t window;
    uint32_t mem_variant; /* window and batch bits of the set-up byte */
    bool paced;
    uint8_t digest[BPC_DIGEST_BYTES];
    uint8_t master[BPC_KEY_BYTES];
    uint64_t now;
    /* Network: a FIFO of the engines' frames (slots indexed by order). */
    uint32_t q_order[FZ_Q_CAP];
    uint32_t q_free[FZ_Q_CAP];
    uint32_t q_count;
    uint32_t q_free_count;
    struct fz_qframe q[FZ_Q_CAP];
    uint64_t byz_seq[FZ_N]; /* sequence numbers of the Byzantine party's frames */
    uint32_t byz_mode;
    uint32_t byz_arg;
    uint8_t last[BPC_FRAME_BYTES_MAX]; /* the last frame delivered, for DUP */
    uint32_t last_len;
    uint32_t last_to;
    uint32_t delivered;
    uint32_t restarts;
    /* Agreement: the first honest decision per instance (gen-stamped). */
    uint32_t gen;
    uint32_t dec_gen[FZ_TRACK];
    struct bpc_vid dec_vid[FZ_TRACK];
    struct fz_pooled pool[FZ_POOL];
    uint32_t pool_count;
    uint32_t pool_next;
    struct fz_cmdstate cmd;
    struct fz_swap swap[FZ_SWAPS];
    uint32_t swap_count;
};

extern struct fz_world W;

/* ------------------------------------------------------------------------
 * fuzz_engine_gen.c: the input and the specs read from it.
 * ---------------------------------------------------------------------- */

uint8_t fz_u8(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
void fz_byz_cmd(struct fz_in *in, uint64_t *seq, uint8_t *bytes, uint32_t *len);
void fz_value(struct fz_in *in, struct fz_rec *fr, const struct fz_rec *prev);

/* Fills n bytes with a pattern named by one byte. */
static inline void
fz_fill(uint8_t *dst, uint32_t n, uint8_t fill)
{
    for (uint32_t k = 0; k < n; k++) {
        dst[k] = (uint8_t)(fill * 37u + k * 11u);
    }
}

/* ------------------------------------------------------------------------
 * fuzz_engine_world.c: engines, checks and the network.
 * ---------------------------------------------------------------------- */

void fz_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
                 uint32_t len);
void fz_engine_up(uint32_t i, bool restore);
void fz_step(uint32_t i, const struct bpc_frame_in *in, uint32_t count);
uint32_t fz_encode(uint8_t *buf, uint32_t to, struct fz_rec *recs, uint32_t n);
void fz_deliver_at(uint32_t k);

/* Delivers one frame to party `to` (and remembers it for DUP). */
static inline void
fz_deliver_bytes(uint32_t to, const uint8_t *bytes, uint32_t len)
{
    W.delivered++;
    if (bytes != W.last) {
        memcpy(W.last, bytes, len);
        W.last_len = len;
        W.last_to = to;
    }
    struct bpc_frame_in in = {.bytes = bytes, .len = len};
    fz_step(to, &in, 1);
}

#endif
