/*
 * fx.h - the fixture of the one-engine Byzantine tests (test_byzantine.c,
 * test_byzantine_frames.c, test_byzantine_state.c, test_values.c,
 * test_commands.c): party `me` of four, weight 1 each (F = 1), stepped
 * directly; the other three parties are the test, which forges their
 * frames with their pair keys and decodes every frame the engine sends to
 * one peer (`watch`). Must never: edit engine state, or rely on timing
 * other than the virtual clock.
 */
#ifndef BPC_TEST_FX_H
#define BPC_TEST_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpcon.h"

#define FX_N 4u      /* parties of fx_new's fixture */
#define FX_N_MAX 32u /* parties fx_new_n allows */
#define FX_MS UINT64_C(1000000)
#define FX_OUT 512u
#define FX_SENT_MAX 65536u
#define FX_SEQ0 (UINT64_C(1) << 50)
#define FX_DUR_MAX 1024u /* records: a held 2a's clean floor writes one (test_held.c: 300) */
#define FX_VAL_MAX 256u
#define FX_LEN(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

struct fx {
    struct bpc_config cfg;
    uint8_t master[BPC_KEY_BYTES];
    uint32_t n;                            /* parties, weight 1 each */
    uint8_t keys[FX_N_MAX][BPC_KEY_BYTES]; /* keys[p]: pair key of me and p */
    uint8_t digest[BPC_DIGEST_BYTES];
    uint32_t me;
    struct bpc_engine *e;
    uint64_t now;
    uint64_t seq[FX_N_MAX];
    uint8_t out_bytes[FX_OUT][BPC_FRAME_BYTES_MAX];
    struct bpc_frame_out outs[FX_OUT];
    uint32_t tx_cap; /* bytes lent per tx buffer */
    /* Every record the engine sent to `watch`, in order. */
    uint32_t watch;
    struct bpc_record *sent;
    uint8_t (*sent_bytes)[BPC_VALUE_BYTES_MAX];
    uint32_t sent_count;
    uint32_t frames_to_watch;
    /* What the engine asked to persist: the newest record per instance. */
    struct bpc_durable dur[FX_DUR_MAX];
    uint32_t dur_count;
    /* ... and the values (their bytes in val_bytes). */
    struct bpc_durable_value vals[FX_VAL_MAX];
    uint8_t val_bytes[FX_VAL_MAX][BPC_VALUE_BYTES_MAX];
    uint32_t val_count;
    uint64_t persist_batches; /* batches fx_step confirmed */
    /* Decisions the engine handed out for instances below 64. */
    uint64_t dec_set; /* bit i: instance i decided */
    struct bpc_vid dec[64];
};

/* The leader of `ballot` in f's configuration. */
int fx_leader(const struct fx *f, uint64_t ballot);

/* Builds the engine for party me with the given window and value size;
 * picks the cluster id so that me leads none of ballots 1..6. */
void fx_init(struct fx *f, uint32_t window, uint32_t value_bytes);

/* Frees the engine and the capture arrays (not f itself). */
void fx_free(struct fx *f);

/* A fixture on the heap, built by fx_init; fx_delete frees it all. */
struct fx *fx_new(uint32_t window, uint32_t value_bytes);
/* The same with n parties of weight 1 (n <= FX_N_MAX). */
struct fx *fx_new_n(uint32_t window, uint32_t value_bytes, uint32_t n);
void fx_delete(struct fx *f);

/* Decodes the frames of one step that went to `watch` into f->sent. */
void fx_capture(struct fx *f, const struct bpc_step_out *out);

/* Keeps the newest durable record per instance (fx_restart restores them). */
void fx_persist(struct fx *f, const struct bpc_durable *recs, uint32_t count);

/* Keeps every durable value (a store keeps them while their instance is
 * at or above the floor; these tests stay far below a window). */
void fx_persist_values(struct fx *f, const struct bpc_durable_value *vals, uint32_t count);

/* Crashes the engine and starts a new one from what it persisted. */
void fx_restart(struct fx *f);

/* Steps the engine with the given frames, then until it settles
 * (persisting whatever it asks to). */
void fx_step(struct fx *f, const struct bpc_frame_in *in, uint32_t count);

/* Encodes records from party `from` to the engine as one frame in buf,
 * tagged with key (the pair key of me and from, unless forging); its
 * length. */
uint32_t fx_frame(struct fx *f, uint32_t from, const struct bpc_record *recs, uint32_t count,
                  const uint8_t key[BPC_KEY_BYTES], uint8_t buf[BPC_FRAME_BYTES_MAX]);

/* Sends records from party `from` to the engine in one frame. */
void fx_send(struct fx *f, uint32_t from, const struct bpc_record *recs, uint32_t count);

/* Sends one record from party `from` in a frame of its own. */
void fx_send1(struct fx *f, uint32_t from, struct bpc_record r);

/* Sends one record whose ballot field holds `ballot` even where the
 * writer refuses it (a peer's bytes: written with ballot 1, the field
 * overwritten, the frame tagged again). */
void fx_send1_ballot(struct fx *f, uint32_t from, struct bpc_record r, uint64_t ballot);

/* The i-th party other than me. */
uint32_t fx_other(const struct fx *f, uint32_t i);

/* The first party that is neither me nor `leader`. */
uint32_t fx_not_leader(const struct fx *f, uint32_t leader);

/* Peer p forwards its 8-byte command seq (bytes `fill`) at ballot b. */
void fx_forward(struct fx *f, uint32_t p, uint64_t seq, uint64_t b, uint8_t fill);

/* Junk value k of a Byzantine party: inline, 12 bytes, never a batch
 * (k's low byte tells two apart). */
struct bpc_vid fx_junk_vid(uint32_t k);

/* The leader of ballot 2 moves the engine there with its 1a and sends
 * its 2a values fx_junk_vid(i) for instances 0 to count - 1, which are
 * held (the view lacks a quorum of reports); v (may be NULL) gets them.
 * Returns that leader. */
uint32_t fx_hold_junk(struct fx *f, uint32_t count, struct bpc_vid *v);

/* Two peers (weight 2 > F) report to the engine, leader of ballot b, a
 * 2b for DIGEST value v at ballot 3 (v in their history too), their
 * ranges from instance 1, and a third peer's range from 0: the engine is
 * at b and must propose v at instance 0, which it cannot without v's
 * bytes (checked). */
void fx_report_digest(struct fx *f, uint64_t b, const struct bpc_vid *v);
/* A peer sends VALUE(v) with bytes for instance 0 at b: the engine's 2a
 * there then carries v and those bytes (checked). */
void fx_expect_fetched(struct fx *f, uint64_t b, const struct bpc_vid *v, const uint8_t *bytes);

/* An ATTEST's value holding `count` command MACs (1 or 2), zeroed. */
void fx_mac_vid(struct bpc_vid *v, uint32_t count);

/* Peer c's ATTEST at ballot 2 of its command seq, whose bytes are at cmd. */
void fx_attest(struct fx *f, uint32_t c, uint64_t seq, const uint8_t *cmd, uint32_t len);

/* A one-command batch value: command (submitter, seq) with `len` bytes of
 * `fill`; vid and bytes out (bytes must hold 16 + len). */
uint32_t fx_batch(uint8_t *bytes, uint32_t submitter, uint64_t seq, uint32_t len, uint8_t fill,
                  struct bpc_vid *vid);

/* The leader of ballot 2 proposes, at instances first to first + count - 1,
 * one-command values of submitter c with sequence numbers seq0 on, whose
 * MACs c never sent (held), or of the leader itself (voted at once). */
void fx_propose_at(struct fx *f, uint32_t leader, uint32_t c, uint64_t first, uint32_t count,
                   uint64_t seq0, struct bpc_vid *v);

/* A VOTES record for the run of k votes of `type` at ballot b from
 * instance first, for the values vids. */
struct bpc_record fx_votes(uint8_t type, uint64_t first, uint64_t b, const struct bpc_vid *vids,
                           uint32_t k);

/* Moves the engine to ballot b: the three peers (weight 3 > F, and a
 * quorum) send 1b range records of b saying every instance from 0 is
 * empty for them, so any value is safe at b. */
void fx_to_ballot(struct fx *f, uint64_t b);

/* The first ballot from 7 on that the engine leads (fx_init keeps it
 * from leading 1..6). */
uint64_t fx_own_ballot(const struct fx *f);

/* Moves the engine to the first ballot from 7 on that it leads (fx_init
 * keeps it from leading 1..6); returns that ballot. */
uint64_t fx_to_own_ballot(struct fx *f);

/* Index of the last record of `type` for `instance` the engine sent at
 * `ballot` (any ballot when 0), from record `from` on; -1 when none. */
int fx_find(const struct fx *f, uint32_t from, uint8_t type, uint64_t instance, uint64_t ballot);

/* The engine sent, from record `from` on, a VALUE record for instance
 * naming v, and every such record carries v's bytes. */
void fx_expect_value(const struct fx *f, uint32_t from, uint64_t instance, const struct bpc_vid *v,
                     const uint8_t *bytes);

/* The engine votes 2av and 2b for v on instance i at ballot b (proposed by
 * b's leader, with 2av votes of two peers). */
void fx_vote(struct fx *f, uint64_t i, uint64_t b, const struct bpc_vid *v, const uint8_t *bytes);

#endif
