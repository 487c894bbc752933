/*
 * store_fx.h - what the store's memfs tests share (test_store.c,
 * test_store_tmp.c, test_store_recovery.c, test_store_values.c,
 * test_store_bound.c): the path, configuration and options of their
 * stores, record identities and comparisons, the file header's version, a
 * frame's seal, and the model of what a store must give back with the
 * engine-shaped commits that fill it.
 * The macros TS_SETUP and TS_FRESH use cmocka's assertions: a test file
 * includes cmocka.h first.
 */
#ifndef BPC_TEST_STORE_FX_H
#define BPC_TEST_STORE_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "bpcon_store.h"
#include "memfs.h"

#define TS_PATH "/m/store"
#define TS_TMP "/m/store.tmp"
#define TS_WINDOW 8u
#define TS_PARTIES 4u
/* Fault scenario: steps of the workload and the compaction threshold that
 * makes it compact every few steps. */
#define TS_STEPS 48u
#define TS_COMPACT_BYTES 4096u
#define TS_INSTANCES (TS_STEPS + 2u)

/* The tests' configuration: cluster 7, party 1 of TS_PARTIES, this
 * window, room for the largest frame and value. */
void ts_config(struct bpc_config *cfg, uint32_t window);
/* Store options on the in-memory file system fs. */
struct bpc_store_options ts_opts(struct memfs *fs, uint64_t compact_bytes);

/* A file system, configuration and options, no store opened yet. */
#define TS_SETUP(seed, compact)                                                                    \
    struct memfs fs;                                                                               \
    memfs_init(&fs, (seed));                                                                       \
    struct bpc_config cfg;                                                                         \
    ts_config(&cfg, TS_WINDOW);                                                                    \
    struct bpc_store_options o = ts_opts(&fs, (compact));                                          \
    char err[512] = "";                                                                            \
    struct bpc_store *s = NULL

/* The prologue the value tests share: in-memory file system fs (seed),
 * configuration cfg, options o (compaction threshold), and store s opened
 * on them, err for messages. */
#define TS_FRESH(seed, compact)                                                                    \
    TS_SETUP(seed, compact);                                                                       \
    assert_int_equal(bpc_store_open(&s, TS_PATH, &cfg, &o, err, sizeof(err)), 0)

/* Two value identities are the same, field by field. */
bool ts_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b);
/* Field by field: every field of struct bpc_durable. */
bool ts_rec_eq(const struct bpc_durable *a, const struct bpc_durable *b);
/* Sets the format version of a file header h and seals it again (its
 * CRC over bytes 0..75 at offset 76). */
void ts_set_version(uint8_t *h, uint8_t version);
/* A value identity made from tag: DIGEST (100..999 bytes) when tag is a
 * multiple of 3, INLINE (1..32 bytes) otherwise. */
struct bpc_vid ts_vid(uint64_t tag);
/* Seals a frame again after its payload was edited: the payload's CRC,
 * then the header's (the format's layout: store_format.c). */
void ts_reseal(uint8_t *f);
/* A party-wide record with this floor (what moves the store's floor). */
struct bpc_durable ts_party(uint64_t floor);
/* img (len bytes) renumbered from first: the header's first sequence
 * number and every frame's, checksums resealed. */
void ts_renumber(uint8_t *img, size_t len, uint64_t first);

/* ------------------------------------------------------------------------
 * The model: what a store must give back.
 * ---------------------------------------------------------------------- */

struct ts_model {
    bool has_pw;
    struct bpc_durable pw;
    bool has_vote[TS_INSTANCES];
    struct bpc_durable vote[TS_INSTANCES];
    bool has_applied[TS_PARTIES];
    struct bpc_durable applied[TS_PARTIES];
    bool has_app;
    uint64_t app_floor;
    uint32_t app_len;
    uint8_t app[32];
    uint64_t floor;
};

/* One commit of step k, shaped like the engine's: the party-wide record
 * first, a 2av for instance k, a 2b for k - 1, now and then an apply-state
 * record; every fourth step the application state as of the floor. */
uint32_t ts_batch(uint64_t k, struct bpc_durable *recs, struct ts_model *m);
/* The application state of step k, as of the model's floor, into m. */
void ts_app(uint64_t k, struct ts_model *m);
/* One commit of step k's batch (ts_batch, into b and a model of its own)
 * appended to s and synced, both asserted to succeed: its record count. */
uint32_t ts_commit_batch(struct bpc_store *s, uint64_t k, struct bpc_durable *b);

#endif
