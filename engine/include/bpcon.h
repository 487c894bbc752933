/*
 * bpcon.h - the one public header of libbpcon, the BPCon protocol engine.
 *
 * Owns: the public types and calls of the engine (config, leader election,
 * frame codec, authentication, the step engine). Must never: include a DPDK
 * header, read a clock, draw entropy, or allocate on the step path.
 *
 * Conventions: calls return 0 or a negative errno (or a negative BPC_E*
 * code from the table below); counts are returned for bursts; all wire
 * integers are little-endian.
 */
#ifndef BPCON_H
#define BPCON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Version: the project's release. The soname carries the library's own
 * ABI number instead (libbpcon.so.N), which grows whenever a public
 * struct's layout or a function's signature changes (docs/BUILD.md, "ABI").
 * ---------------------------------------------------------------------- */

#define BPC_VERSION_MAJOR 0
#define BPC_VERSION_MINOR 1
#define BPC_VERSION_PATCH 0
#define BPC_VERSION_STRING "0.1.0"

/* The version of the library actually linked, "MAJOR.MINOR.PATCH" (an
 * application built against an older header may run with a newer one). */
const char *bpc_version(void);

/* ------------------------------------------------------------------------
 * Limits (compile-time caps; runtime config picks values at or below).
 * ---------------------------------------------------------------------- */

/* Party ids are u16 on the wire; 1024 covers the origin's 999-party test. */
#define BPC_PARTIES_MAX 1024u
/* Instance window cap; must be a power of two (slots are indexed by mask). */
#define BPC_WINDOW_SLOTS_MAX 65536u
/* Largest frame payload the engine encodes or accepts (a jumbo frame). */
#define BPC_FRAME_BYTES_MAX 9000u
/* Smallest frame the config may ask for: header + one record + tag. */
#define BPC_FRAME_BYTES_MIN 128u
/* Bytes of a value carried inline in a record; longer values travel by
 * BLAKE2b-256 digest with their bytes in the frame's value section. */
#define BPC_VALUE_INLINE_MAX 32u
/* Largest value (command batch) the engine accepts; must fit a frame. */
#define BPC_VALUE_BYTES_MAX 8192u
/* A VOTES record covers 2..BPC_VOTES_RUN_MAX instances; each value id
 * counts BPC_VOTES_VID_BYTES in its digest (kind, length, 32 id bytes). */
#define BPC_VOTES_RUN_MAX 64u
#define BPC_VOTES_VID_BYTES 35u
/* 2av history entries kept per instance (the H highest ballots), and the
 * most 1B_HIST records a 1B carries (a clean floor, kind NONE, may be the
 * last: docs/WIRE.md). Dropping older entries can cost liveness, never
 * safety: entries only vouch (and clean floors keep a Byzantine leader
 * from making that a stall: docs/ENGINE.md, "Clean floors"). */
#define BPC_HISTORY_MAX 4u
/* Distinct values tallied per (instance, ballot, type); a correct leader
 * sends one, so more than a few means a Byzantine party: extra are
 * dropped, except the value this party needs counted, which takes the
 * lightest entry's place (docs/ENGINE.md, "Room in a tally"). */
#define BPC_TALLY_VALUES_MAX 4u
/* Highest ballot a party joins or accepts: records naming a higher one are
 * malformed (dropped whole), so ballots saturate here instead of wrapping
 * even when more than F of the weight drags parties upward. */
#define BPC_BALLOT_MAX ((uint64_t)1 << 62)
/* Bytes of a command MAC (ATTEST records). */
#define BPC_CMD_MAC_BYTES 16u
/* Command MACs one ATTEST record holds at most (consecutive sequence numbers). */
#define BPC_ATTEST_MACS_MAX 2u
/* Authentication tag bytes (SipHash-2-4, 128-bit output). */
#define BPC_TAG_BYTES 16u
/* Pairwise key bytes. */
#define BPC_KEY_BYTES 32u
/* Digest bytes (BLAKE2b-256). */
#define BPC_DIGEST_BYTES 32u

/* ------------------------------------------------------------------------
 * Errors outside errno: config refusals and frame drop reasons.
 * ---------------------------------------------------------------------- */

/* Config refusals: returned negated by bpc_config_validate(). */
#define BPC_CONFIG_ERRORS(X)                                                                       \
    X(BPC_ECFG_NO_PARTIES, 2001, "no parties")                                                     \
    X(BPC_ECFG_TOO_MANY_PARTIES, 2002, "too many parties")                                         \
    X(BPC_ECFG_ZERO_WEIGHT, 2003, "total weight is zero")                                          \
    X(BPC_ECFG_THRESHOLD_HIGH, 2004, "threshold above total weight")                               \
    X(BPC_ECFG_THRESHOLD_LOW, 2005, "threshold at or below half the total weight")                 \
    X(BPC_ECFG_SELF, 2006, "self id outside the party list")                                       \
    X(BPC_ECFG_WINDOW, 2007, "window slots not a power of two within limits")                      \
    X(BPC_ECFG_TIMERS, 2008, "timers not increasing, zero or too short")                           \
    X(BPC_ECFG_FRAME, 2009, "frame bytes outside limits")                                          \
    X(BPC_ECFG_VALUE, 2010, "value bytes outside limits or beyond one frame")                      \
    X(BPC_ECFG_BATCH, 2011, "batch or command queue size outside limits")                          \
    X(BPC_ECFG_MODE, 2012, "mode neither fast nor paced")

enum bpc_config_error {
#define BPC_X_ENUM(name, code, text) name = (code),
    BPC_CONFIG_ERRORS(BPC_X_ENUM)
#undef BPC_X_ENUM
};

/* Frame drop reasons; each has a counter in struct bpc_counters. */
#define BPC_DROP_REASONS(X)                                                                        \
    X(BPC_DROP_SHORT, "shorter than header plus tag")                                              \
    X(BPC_DROP_LONG, "longer than the frame limit")                                                \
    X(BPC_DROP_BAD_MAGIC, "bad magic")                                                             \
    X(BPC_DROP_BAD_VERSION, "unknown version")                                                     \
    X(BPC_DROP_BAD_CLUSTER, "other cluster id")                                                    \
    X(BPC_DROP_BAD_SENDER, "sender outside the party list or self")                                \
    X(BPC_DROP_BAD_RECEIVER, "receiver is not this party")                                         \
    X(BPC_DROP_BAD_LENGTH, "record count and value bytes disagree with length")                    \
    X(BPC_DROP_RESERVED, "non-zero reserved field")                                                \
    X(BPC_DROP_BAD_TAG, "authentication tag mismatch")                                             \
    X(BPC_DROP_BAD_TYPE, "unknown record type")                                                    \
    X(BPC_DROP_BAD_VALUE, "malformed value field")                                                 \
    X(BPC_DROP_BAD_BALLOT, "ballot zero or history ballot not below ballot")                       \
    X(BPC_DROP_BAD_HISTORY, "1b history records out of place")                                     \
    X(BPC_DROP_REPLAY, "sequence number not above the last accepted")

enum bpc_drop_reason {
#define BPC_X_ENUM(name, text) name,
    BPC_DROP_REASONS(BPC_X_ENUM)
#undef BPC_X_ENUM
        BPC_DROP_REASONS_COUNT
};

const char *bpc_strerror(int err); /* errno or config code */
const char *bpc_drop_reason_name(enum bpc_drop_reason r);

/* ------------------------------------------------------------------------
 * 128-bit weights.
 * ---------------------------------------------------------------------- */

__extension__ typedef unsigned __int128 bpc_u128;

/* Writes a decimal rendering of v (at most 40 digits + NUL) into buf;
 * returns buf, or NULL for buf NULL. */
char *bpc_u128_str(bpc_u128 v, char buf[48]);

/* ------------------------------------------------------------------------
 * Config.
 * ---------------------------------------------------------------------- */

enum bpc_mode {
    BPC_MODE_FAST = 0,  /* phases advance as soon as quorums complete */
    BPC_MODE_PACED = 1, /* phases fire on the origin's timers (parity) */
};

/* Phase timers, relative to a ballot's launch, as in the origin. */
struct bpc_timers {
    uint64_t launch1a_ns;  /* default 200 ms */
    uint64_t launch1b_ns;  /* default 400 ms */
    uint64_t launch2a_ns;  /* default 600 ms */
    uint64_t launch2av_ns; /* default 800 ms */
    uint64_t launch2b_ns;  /* default 1000 ms */
    uint64_t finalize_ns;  /* default 1200 ms */
};

/* Application validity hook: may only narrow what KnowsSafeAt allows.
 * Its answer must depend on the value's bytes alone: a value it refused
 * at a ballot is asked about again only when that ballot's 1b reports
 * change what is safe (docs/ENGINE.md, "Held 2a values"), not as time
 * passes. */
typedef bool (*bpc_value_check_fn)(void *ctx, const uint8_t *value, uint32_t len);
/* Called on the engine's thread, in log order, for every command applied
 * (exactly once per (submitter, seq)). */
typedef void (*bpc_apply_fn)(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq,
                             const uint8_t *cmd, uint32_t len);
/* Called on the engine's thread when a command submitted at this party
 * (its ticket) has been applied. */
typedef void (*bpc_complete_fn)(void *ctx, uint64_t ticket);

/* Largest number of commands batched into one value (a 64-bit skip mask
 * records which of them the apply rule skipped). */
#define BPC_BATCH_MAX 64u
/* Bytes of per-command framing inside a batch value, and of its header. */
#define BPC_BATCH_HEADER_BYTES 4u
#define BPC_BATCH_CMD_HEADER_BYTES 12u
/* Cap on queued commands per party (submit ring and pending list). */
#define BPC_COMMANDS_MAX 65536u

struct bpc_log;

struct bpc_config {
    uint64_t cluster_id;
    uint32_t parties_count;
    uint32_t self;                     /* this party's id */
    uint64_t weights[BPC_PARTIES_MAX]; /* u64 each */
    bpc_u128 threshold;                /* 0: default ceil(2W/3) */
    enum bpc_mode mode;
    struct bpc_timers timers;             /* paced mode; fast mode uses finalize_ns as
                                             the first ballot deadline */
    uint64_t ballot_timeout_ns;           /* fast-mode deadline of a ballot without progress,
                                             >= 1000 (1 us); half is the retransmit period */
    uint32_t timeout_growth_max_shift;    /* deadline doubles per failed ballot, up to 2^shift */
    uint32_t window_slots;                /* power of two, <= BPC_WINDOW_SLOTS_MAX */
    uint32_t frame_bytes;                 /* payload bytes per frame, <= BPC_FRAME_BYTES_MAX */
    uint32_t value_bytes_max;             /* largest value this party holds: every
                                             party's must be at least the largest
                                             value any party builds, and must not
                                             shrink across a restart (restore
                                             refuses, -ERANGE) */
    uint64_t seed;                        /* engine PRNG seed (jitter), and with the pair
                                             keys the key of an index peers must not
                                             predict: pass unpredictable bytes */
    bool unsafe;                          /* accept thresholds validate() would refuse */
    const uint8_t (*keys)[BPC_KEY_BYTES]; /* keys[peer]: key shared by self and peer;
                                             parties_count entries, borrowed */
    bpc_value_check_fn value_check;       /* optional */
    void *value_check_ctx;
    uint32_t batch_max;    /* commands per value this party builds as leader,
                              1..BPC_BATCH_MAX (it votes for and applies up to
                              BPC_BATCH_MAX whatever this is) */
    uint32_t commands_max; /* submit queue and pending commands (power of
                              two, 2..BPC_COMMANDS_MAX) */
    struct bpc_log *log;   /* optional: decided values are appended */
    bpc_apply_fn on_apply; /* optional */
    void *apply_ctx;
    bpc_complete_fn on_complete; /* optional */
    void *complete_ctx;
};

/* Fills the origin's defaults: 4 parties of weight 1, default threshold,
 * fast mode, origin timers, window 64, frame 1400 bytes. NULL: does
 * nothing (before, an assertion abort). */
void bpc_config_defaults(struct bpc_config *cfg);

/* 0, or a negated BPC_ECFG_* code; err (may be NULL) gets a message naming
 * the field and its value. -EINVAL for cfg NULL (before: an assertion
 * aborted). */
int bpc_config_validate(const struct bpc_config *cfg, char *err, size_t err_len);

/* The sum of the weights; 0 for cfg NULL. */
bpc_u128 bpc_config_total_weight(const struct bpc_config *cfg);
/* ceil(2W/3), computed as W - floor(W/3): no W wraps it (unlike 2W + 2). */
bpc_u128 bpc_threshold_default(bpc_u128 total);
/* The threshold in force (cfg->threshold, or the default when 0); 0 for
 * cfg NULL. */
bpc_u128 bpc_config_threshold(const struct bpc_config *cfg);
/* Tolerated faulty weight F = min(2T - W - 1, W - T), 0 when negative or
 * T > W; exact for every 128-bit W and T (nothing wraps). */
bpc_u128 bpc_faulty_weight(bpc_u128 total, bpc_u128 threshold);
/* BLAKE2b-256 over the explicit little-endian encoding of cluster id,
 * party count, weights and threshold (not self, keys or timers). 0, or
 * -EINVAL (out untouched) for cfg or out NULL or more than
 * BPC_PARTIES_MAX parties (before: an assertion aborted). */
int bpc_config_digest(const struct bpc_config *cfg, uint8_t out[BPC_DIGEST_BYTES]);

/* ------------------------------------------------------------------------
 * Leader election: a pure function of (cluster id, config digest, ballot).
 * ---------------------------------------------------------------------- */

/* Weight-proportional pseudo-random leader of `ballot`; never a zero-weight
 * party. Hash: crypto_generichash (BLAKE2b-256) over
 * "bpcon-elect-v1" || cluster_id (u64 LE) || digest (32 B) || ballot (u64 LE)
 * || counter (u32 LE); the first 16 bytes, read LE and masked to the bit
 * length of W, are rejection-sampled below W; the leader is the first party
 * whose cumulative weight exceeds the draw. Returns the party id, or
 * -EINVAL when the total weight is zero, the party count is out of range,
 * or cfg or digest is NULL. */
int bpc_elect_leader(const struct bpc_config *cfg, const uint8_t digest[BPC_DIGEST_BYTES],
                     uint64_t ballot);

/* ------------------------------------------------------------------------
 * Values and their identities.
 * ---------------------------------------------------------------------- */

enum bpc_value_kind {
    BPC_VALUE_NONE = 0,   /* no value */
    BPC_VALUE_INLINE = 1, /* identity is the bytes (len <= 32) */
    BPC_VALUE_DIGEST = 2, /* identity is BLAKE2b-256 of the bytes */
    BPC_VALUE_NOOP = 3,   /* the leader's filler for a gap */
};

/* A value identity: compared with memcmp over the whole struct, so unused
 * bytes are always zero. */
struct bpc_vid {
    uint8_t kind; /* enum bpc_value_kind */
    uint8_t pad;  /* zero */
    uint16_t len; /* value length in bytes (inline or digest kinds) */
    uint8_t id[BPC_VALUE_INLINE_MAX];
};

/* Builds the identity of value bytes (hashing only when len > 32). vid
 * NULL: nothing written; value NULL with len > 0, or len above
 * UINT16_MAX: *vid all zero (kind BPC_VALUE_NONE, no identity). */
void bpc_vid_of(struct bpc_vid *vid, const uint8_t *value, uint32_t len);
/* Equal identities; false when either is NULL. */
bool bpc_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b);
/* The digest a VOTES record names for a run of k (2..BPC_VOTES_RUN_MAX)
 * votes of one type at ballot from instance first: BLAKE2b-256 over the
 * ballot, first instance and k (little-endian, 8 + 8 + 4 bytes), then each
 * value id as its kind, length (LE16) and 32 id bytes. The vote type is
 * the record's, not the digest's: a run of 2av and a run of 2b for the
 * same values name the same digest. 0, or -EINVAL (out untouched) for k
 * above BPC_VOTES_RUN_MAX, vids NULL with k > 0 or out NULL. */
int bpc_votes_digest(uint64_t ballot, uint64_t first, uint32_t k, const struct bpc_vid *vids,
                     uint8_t out[BPC_DIGEST_BYTES]);

/* ------------------------------------------------------------------------
 * Wire format (see docs/WIRE.md). A frame is the payload of one Ethernet
 * frame to one peer:
 *
 *   header (32 B) | records (count x 64 B) | value section | tag (16 B)
 *
 * header: u32 magic "BPC1" (0x31435042) | u8 version (BPC_WIRE_VERSION) | u8 reserved 0 |
 *         u16 record_count | u64 cluster_id | u16 sender | u16 receiver |
 *         u32 value_bytes | u64 seq
 * record: u8 type | u8 value_kind | u8 hist_count | u8 reserved 0 |
 *         u16 value_len | u16 reserved 0 | u64 instance | u64 ballot |
 *         u64 aux | u8 value[32]
 * tag:    SipHash-2-4 with 128-bit output (crypto_shorthash_siphashx24),
 *         keyed by the first 16 bytes of the sender-receiver pair key, over
 *         the header and the records; a carried value is bound by what its
 *         record names (a BLAKE2b-256 digest; a FORWARD's command MAC).
 * ---------------------------------------------------------------------- */

#define BPC_WIRE_MAGIC 0x31435042u
#define BPC_WIRE_VERSION 5u
#define BPC_WIRE_HEADER_BYTES 32u
#define BPC_WIRE_RECORD_BYTES 64u
/* DECIDED of a DIGEST value: aux saying that no bytes follow (a party that
 * kept only the value's identity across a restart still vouches for it). */
#define BPC_WIRE_AUX_NO_BYTES UINT64_MAX
/* STATUS aux: the count asked for, and the flag asking for claims alone. */
#define BPC_WIRE_STATUS_COUNT 0xffffffffull
#define BPC_WIRE_STATUS_CLAIMS_ONLY (1ull << 32)

enum bpc_msg_type {
    BPC_MSG_NONE = 0,
    BPC_MSG_1A = 1,       /* instance = lo: ballot b starts for instances >= lo */
    BPC_MSG_1B = 2,       /* one instance's report: aux = maxVBal (0 none), value = maxVVal,
                             hist_count history records follow in the same frame */
    BPC_MSG_1B_HIST = 3,  /* a 2av history entry: aux = ballot of that 2av, value; kind
                             NONE (the last only): aux = the clean floor */
    BPC_MSG_1B_RANGE = 4, /* instance = lo, aux = k: the sender reports each instance
                             in [lo, lo + k) by its own 1B record (in this or an
                             earlier frame), and every instance >= lo + k is empty */
    BPC_MSG_2A = 5,       /* leader's value; DIGEST kind: aux = offset in value section */
    BPC_MSG_2AV = 6,
    BPC_MSG_2B = 7,
    BPC_MSG_DECIDED = 8,  /* catch-up: instance decided with value at ballot;
                             DIGEST kind: aux = offset in value section, or
                             BPC_WIRE_AUX_NO_BYTES: the claim names the
                             value without its bytes */
    BPC_MSG_STATUS = 9,   /* instance = the first instance the sender asks
                             for (its next undecided one, or above it while
                             answers to its last request are on their way),
                             ballot = sender's current ballot, aux = how many
                             it asks for (BPC_WIRE_STATUS_COUNT bits; 0: the
                             answerer's most), BPC_WIRE_STATUS_CLAIMS_ONLY:
                             DIGEST values named without their bytes */
    BPC_MSG_FORWARD = 10, /* a command for the leader: instance = the sender's
                             command sequence number; value =
                             bpc_forward_value (DIGEST kind: the command MAC,
                             bytes at aux in the value section) */
    BPC_MSG_ATTEST = 11,  /* the sender vouches for its own commands to one
                             receiver: instance = the first command's sequence
                             number, aux = its length, value = INLINE, 16 bytes:
                             its command MAC (bpc_command_mac) under the pair
                             key, or 32 bytes: that MAC, then the MAC of the
                             command numbered instance + 1 */
    BPC_MSG_VALUE = 12,   /* the bytes of a DIGEST value the sender's 1b names
                             for the instance (so a leader that must propose it
                             again has them): ballot = the sender's, aux =
                             offset in the value section */
    BPC_MSG_VOTES = 13,   /* a run of the sender's 2AV or 2B votes at ballot for
                             instances [instance, instance + k): aux = type | k << 8,
                             value = DIGEST of len 35 k: bpc_votes_digest of the
                             run's value ids (credited only where they match) */
    BPC_MSG_REFUSE = 14,  /* to the leader of ballot: the sender holds back its
                             2av from the 2a of instance at ballot, because a
                             command of it is not proven its submitter's: aux
                             = that submitter, value = INLINE, 8 bytes: the
                             command's sequence number (u64 LE, not 0) */
    BPC_MSG_TYPES_COUNT = 15,
};

/* A decoded record (host order). */
struct bpc_record {
    uint8_t type;       /* enum bpc_msg_type */
    uint8_t hist_count; /* 1B only */
    uint64_t instance;
    uint64_t ballot;
    uint64_t aux;
    struct bpc_vid value;
    const uint8_t *value_bytes; /* DIGEST values of 2A, DECIDED, FORWARD and
                                   VALUE: points into the frame's value section
                                   (borrowed), else NULL */
};

struct bpc_frame_header {
    uint64_t cluster_id;
    uint16_t sender;
    uint16_t receiver;
    uint16_t record_count;
    uint32_t value_bytes;
    uint64_t seq;
};

/* Encoder: nothing is zeroed in bulk; every byte of a finished frame was
 * written by bpc_wire_put (each record whole) or bpc_wire_finish. */
struct bpc_wire_writer {
    uint8_t *buf;
    uint32_t cap; /* buffer capacity (<= frame limit) */
    uint16_t record_count;
    uint32_t value_bytes; /* used bytes of the value section */
    uint32_t value_cap;   /* most value bytes this frame may carry */
};

/* Starts a frame that may carry up to value_cap value bytes (may be 0);
 * records and values share the frame, nothing is set aside. Returns 0 or
 * -ENOBUFS when cap cannot hold header, tag and value_cap; -EINVAL for w
 * NULL, or buf NULL (w is then zeroed: fits and put refuse it). */
int bpc_wire_begin(struct bpc_wire_writer *w, uint8_t *buf, uint32_t cap, uint32_t value_cap);
/* Room for n more records (and value_len more value bytes)? false for w
 * NULL or a writer whose begin failed. */
bool bpc_wire_fits(const struct bpc_wire_writer *w, uint32_t records, uint32_t value_len);
/* Appends a record; for a DIGEST-kind 2A, DECIDED, FORWARD or VALUE record
 * with value_bytes != NULL the bytes are copied into the value section and
 * aux set to their offset.
 * Returns 0 or -ENOBUFS; -EINVAL for w or r NULL, a writer never begun
 * (buf NULL: a zeroed one), or a record whose own fields the decoder
 * refuses (unknown type or value kind, a value's length outside its
 * kind's range, a ballot out of range, a history count on a record other
 * than a 1B or above BPC_HISTORY_MAX): nothing is written. Whether 1B_HIST
 * records follow their 1B and carried bytes hash to the digest is not
 * checked here (the decoder refuses such a frame). */
int bpc_wire_put(struct bpc_wire_writer *w, const struct bpc_record *r);
/* Writes the header and the tag; returns the frame length, or 0 (nothing
 * written) for w, h or key NULL or a writer whose begin failed. */
uint32_t bpc_wire_finish(struct bpc_wire_writer *w, const struct bpc_frame_header *h,
                         const uint8_t key[BPC_KEY_BYTES]);

/* Header-only parse and checks that need no key: magic, version, lengths,
 * reserved bytes. Returns 0, or -1 - reason (enum bpc_drop_reason);
 * -1 - BPC_DROP_SHORT for frame or h NULL. */
int bpc_wire_parse_header(const uint8_t *frame, uint32_t len, struct bpc_frame_header *h);
/* Verifies the tag under key; false for frame or key NULL. */
bool bpc_wire_verify(const uint8_t *frame, uint32_t len, const uint8_t key[BPC_KEY_BYTES]);
/* Decodes every record of an already header-parsed frame into recs
 * (capacity recs_cap >= h->record_count). All-or-nothing: returns the
 * record count, or -1 - reason when any record is malformed
 * (-1 - BPC_DROP_SHORT for frame or h NULL, or recs NULL with recs_cap >
 * 0). Never reads outside [frame, frame + len). */
int bpc_wire_decode(const uint8_t *frame, uint32_t len, const struct bpc_frame_header *h,
                    struct bpc_record *recs, uint32_t recs_cap);
/* Largest number of records a frame of frame_bytes can carry. */
uint32_t bpc_wire_records_max(uint32_t frame_bytes);

/* ------------------------------------------------------------------------
 * Authentication helpers (libsodium).
 * ---------------------------------------------------------------------- */

/* Must be called once before any other call (wraps sodium_init). */
int bpc_init(void);
/* Derives the key shared by parties a and b from a master key
 * (crypto_kdf, context "bpconkey", subkey id min(a,b) * 65536 + max(a,b)).
 * out NULL: nothing; master NULL or a or b above UINT16_MAX: out zeroed,
 * which is no key (check the arguments: before, these aborted). */
void bpc_auth_pair_key(const uint8_t master[BPC_KEY_BYTES], uint32_t a, uint32_t b,
                       uint8_t out[BPC_KEY_BYTES]);
/* The MAC a submitter sends one receiver for its command (seq, bytes):
 * SipHash-2-4-128 (crypto_shorthash_siphashx24) keyed by the last 16 bytes
 * of their pair key (frame tags use the first 16) over seq (u64 LE) ||
 * len (u32 LE) || bytes. mac NULL: nothing; key NULL, cmd NULL with
 * len > 0, or len above BPC_VALUE_BYTES_MAX: mac zeroed, no MAC. */
void bpc_command_mac(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd,
                     uint32_t len, uint8_t mac[BPC_CMD_MAC_BYTES]);
/* The value a FORWARD of command (seq, bytes) to one receiver names: up to
 * BPC_VALUE_INLINE_MAX bytes INLINE (the bytes themselves), longer ones
 * DIGEST kind whose id is the command MAC under the pair key of sender and
 * receiver (bpc_command_mac) followed by 16 zero bytes: the bytes travel
 * in the value section bound by that MAC, not by a BLAKE2b digest. out
 * NULL: nothing; key NULL (for a DIGEST), cmd NULL with len > 0 or len
 * above BPC_VALUE_BYTES_MAX: *out of kind BPC_VALUE_NONE. */
void bpc_forward_value(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd,
                       uint32_t len, struct bpc_vid *out);

/* ------------------------------------------------------------------------
 * Decided log, published through RCU (liburcu QSBR flavour).
 *
 * One writer (the thread that steps the engine) appends decided values in
 * instance order; any number of reader threads follow it lock-free. Old
 * entries are reclaimed after a grace period once more than retain_entries
 * are held; a reader asking for a reclaimed entry gets -ESTALE, never stale
 * or freed memory. Readers (and the writer) are QSBR threads: they call
 * bpc_log_thread_register() once, and bpc_log_quiescent() between reads
 * (or bpc_log_thread_offline() around long waits).
 * ---------------------------------------------------------------------- */

struct bpc_log_config {
    uint64_t retain_entries;  /* entries kept readable (at least) */
    uint32_t segment_entries; /* entries per segment (power of two) */
    uint32_t value_bytes_max; /* largest value appended */
    uint64_t start_index;     /* index of the first entry (a restart resumes at
                                 the engine's durable floor): at most
                                 BPC_DURABLE_FLOOR_MAX (2^62), so that the
                                 next index never wraps */
};

struct bpc_log_entry {
    uint64_t index;
    uint32_t len;
    bool noop;
    uint64_t skip_mask;   /* bit k: command k of the batch was not applied
                             (a copy of a command applied before, or behind a
                             gap; see bpc_batch_next). Applied or skipped, a
                             correct submitter's command carries the bytes it
                             sent: each was proven its submitter's before a
                             correct party voted for the value */
    const uint8_t *value; /* valid until the reader's next quiescent state */
};

/* Most segments' worth of retain_entries bpc_log_new accepts: above
 * BPC_LOG_RETAIN_SEGMENTS_MAX * segment_entries it is -EINVAL. */
#define BPC_LOG_RETAIN_SEGMENTS_MAX ((1u << 19) - 1u)

/* Allocates every segment up front (init time); 0 or -EINVAL / -ENOMEM.
 * -EINVAL for out or cfg NULL, a cfg field out of range, or start_index
 * above BPC_DURABLE_FLOOR_MAX (before: UINT64_MAX was taken, and next
 * wrapped to 0 after one append). */
int bpc_log_new(struct bpc_log **out, const struct bpc_log_config *cfg);
/* Waits for pending reclamation (rcu barrier, only when the log ever
 * retired a segment) and frees everything. */
void bpc_log_free(struct bpc_log *log);
/* Writer: appends entry `index`, which must be bpc_log_next(log). 0,
 * -ENOBUFS when no segment is free yet (a grace period is pending: retry
 * later), -EMSGSIZE when len exceeds value_bytes_max, -EINVAL for log
 * NULL, value NULL with len > 0 or another index. No allocation. */
int bpc_log_append(struct bpc_log *log, uint64_t index, const uint8_t *value, uint32_t len,
                   bool noop, uint64_t skip_mask);
/* Index of the next entry to be appended (= entries published); 0 for
 * log NULL. */
uint64_t bpc_log_next(const struct bpc_log *log);
/* Oldest index still readable; 0 for log NULL. */
uint64_t bpc_log_first(const struct bpc_log *log);
/* Reader: 0 and *out filled; -EAGAIN when index is not published yet;
 * -ESTALE when it was reclaimed (the reader fell behind); -EINVAL for log
 * or out NULL. */
int bpc_log_read(struct bpc_log *log, uint64_t index, struct bpc_log_entry *out);
/* Reader: copies entry index into buf (cap bytes); returns its length or
 * the errors of bpc_log_read, -ENOBUFS when cap is below its length
 * (checked first: buf NULL with cap 0 and an entry with bytes is -ENOBUFS),
 * -EINVAL for buf NULL with a cap that holds an entry with bytes. */
int bpc_log_copy(struct bpc_log *log, uint64_t index, uint8_t *buf, uint32_t cap, bool *noop);
/* Reader: blocks (offline, no CPU) until index is published or timeout_ns
 * passes, counted from the call (CLOCK_MONOTONIC): publications below
 * index wake it but do not restart the timeout (before, each did); 0 or
 * -ETIMEDOUT; -EINVAL for log NULL. */
int bpc_log_wait(struct bpc_log *log, uint64_t index, uint64_t timeout_ns);
/* Registers the calling thread as a QSBR reader (online). Registering a
 * registered thread does nothing (registrations do not nest: one
 * unregister ends it); unregistering a thread that is not registered does
 * nothing. Before, both aborted in a liburcu assertion. A thread that
 * registered with liburcu directly (urcu_qsbr_register_thread) must
 * unregister the same way. */
void bpc_log_thread_register(void);
void bpc_log_thread_unregister(void);
void bpc_log_quiescent(void);
void bpc_log_thread_offline(void);
void bpc_log_thread_online(void);

/* ------------------------------------------------------------------------
 * Engine.
 * ---------------------------------------------------------------------- */

struct bpc_engine;

/* Origin-like status of one instance at the party's current ballot. */
enum bpc_status {
    BPC_STATUS_NONE = 0,
    BPC_STATUS_LAUNCHED,
    BPC_STATUS_PASSED_1A,
    BPC_STATUS_PASSED_1B,
    BPC_STATUS_PASSED_2A,
    BPC_STATUS_PASSED_2AV,
    BPC_STATUS_PASSED_2B,
    BPC_STATUS_FINISHED,
    BPC_STATUS_FAILED,
};
const char *bpc_status_name(enum bpc_status s);

/* Phase events (paced mode fires them on the origin's timers). */
enum bpc_event {
    BPC_EVENT_LAUNCH_1A = 0,
    BPC_EVENT_LAUNCH_1B,
    BPC_EVENT_LAUNCH_2A,
    BPC_EVENT_LAUNCH_2AV,
    BPC_EVENT_LAUNCH_2B,
    BPC_EVENT_FINALIZE,
    BPC_EVENTS_COUNT,
};

struct bpc_frame_in {
    const uint8_t *bytes;
    uint32_t len;
};

/* A tx buffer lent by the caller; the engine sets len and peer. */
struct bpc_frame_out {
    uint8_t *bytes;
    uint32_t cap;
    uint32_t len;
    uint32_t peer;
};

struct bpc_decision {
    uint64_t instance;
    uint64_t ballot;
    struct bpc_vid vid;
    const uint8_t *value; /* valid until the next step; NULL for NOOP */
    uint32_t len;
};

/* One durable vote-state record (what must reach disk before the messages
 * that depend on it leave). instance == UINT64_MAX is the party-wide record
 * (max_bal, incarnation, floor); instance == BPC_DURABLE_APPLIED_BASE + s
 * carries submitter s's apply state as of the floor (applied_seq); any
 * other instance is that instance's vote state, or, with decided set, a
 * decided record: the instance is below the record's floor and was decided
 * with dec_val (dec_bal as learned), max_vbal/max_vval are this party's own
 * vote on it, and there is no history. Keep the newest record per
 * instance; records of instances below the floor may be dropped, except a
 * decided record, which is kept while the floor is at most dec_keep (a
 * restart puts it back among the recent decisions, so the party can still
 * vouch for the decision to a party that lags). */
#define BPC_DURABLE_APPLIED_BASE (UINT64_MAX - 2u * BPC_PARTIES_MAX)
/* The highest floor a durable record may carry: 2^62. A vote or decided
 * record's instance must also stay below BPC_DURABLE_FLOOR_MAX +
 * BPC_WINDOW_SLOTS_MAX (an engine votes only within its window above the
 * floor). bpc_engine_restore and bpc_store_append refuse a record past
 * either bound (-EINVAL), and a store file holding one is damage, so no
 * vote instance ever reaches the apply-state ids at
 * BPC_DURABLE_APPLIED_BASE (2^64 - 2049): a floor just below that base
 * was taken before, and the engine then voted at instances whose records
 * were apply-state records. Unreachable in practice: at 10^9 decisions a
 * second a party needs about 146 years to decide 2^62 instances; one that
 * did would have its next record refused and stop. */
#define BPC_DURABLE_FLOOR_MAX (UINT64_C(1) << 62)
struct bpc_durable {
    uint64_t instance;
    uint64_t max_bal;
    uint64_t incarnation; /* restarts so far, or more: the highest range
                             (number >> 40) that a frame or command
                             sequence number of the run may lie in (a
                             restart starts above it) */
    uint64_t floor;       /* every instance below is decided: its records may be
                             pruned, and a restart resumes from here */
    uint64_t applied_seq; /* apply-state records: last applied sequence number */
    uint64_t max_vbal;
    struct bpc_vid max_vval;
    uint8_t hist_count; /* the last entry may be of kind NONE: the clean floor */
    uint8_t decided;    /* 1: a decided record (dec_*), else 0 */
    uint64_t dec_bal;   /* decided records: the ballot as learned (informational) */
    uint64_t dec_keep;  /* decided records: kept while the floor is at most this */
    struct bpc_vid dec_val;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
};

/* The bytes of a DIGEST value this party's vote state names (a 2av or 2b
 * it sent) or one of its decided records names: durable with the records
 * of the same step, so that after a restart of every party the value a new
 * ballot must propose again, and a decision a lagging party still has to
 * apply, still exist. Keep them while the newest record of their
 * instance names them: a vote record at or above the floor, or a kept
 * decided record (the engine sends the bytes again when a record names a
 * value again after one that did not). */
struct bpc_durable_value {
    uint64_t instance;
    struct bpc_vid vid;   /* BPC_VALUE_DIGEST: id = BLAKE2b-256 of the bytes */
    const uint8_t *bytes; /* vid.len bytes */
};

struct bpc_step_in {
    uint64_t now_ns; /* monotonic; must never decrease; any u64 (deadlines
                        saturate at UINT64_MAX, never wrap) */
    const struct bpc_frame_in *frames;
    uint32_t frames_count;
};

struct bpc_step_out {
    struct bpc_frame_out *frames; /* caller-lent tx buffers */
    uint32_t frames_cap;
    uint32_t frames_count; /* filled by the engine */
    struct bpc_decision *decisions;
    uint32_t decisions_cap;
    uint32_t decisions_count;
    const struct bpc_durable *persist; /* to persist before calling
                                          bpc_engine_persisted(); borrowed */
    uint32_t persist_count;
    const struct bpc_durable_value *persist_values; /* likewise, in the same
                                                       commit; borrowed */
    uint32_t persist_values_count;
    uint64_t next_deadline_ns; /* step again by then (and at once after
                                  bpc_engine_persisted when persist_count > 0);
                                  now_ns when decisions_cap held back one
                                  ready to apply (a decisions array with
                                  cap 0 takes none: nothing is applied) */
};

#define BPC_COUNTERS(X)                                                                            \
    X(frames_rx)                                                                                   \
    X(frames_tx)                                                                                   \
    X(records_rx)                                                                                  \
    X(records_tx)                                                                                  \
    X(records_stale)                                                                               \
    X(records_ignored)                                                                             \
    X(tally_overflow)                                                                              \
    X(decided)                                                                                     \
    X(ballots_started)                                                                             \
    X(ballots_failed)                                                                              \
    X(equivocations)                                                                               \
    X(conflicts)                                                                                   \
    X(tx_overflow)                                                                                 \
    X(tx_value_gone)                                                                               \
    X(submit_eagain)       /* bpc_submit's -EAGAIN (queue full), as of the last step */            \
    X(cmd_unauthenticated) /* 2a values held back: a command lacks its proof */                    \
    X(ballot_saturated)    /* ballot changes refused at BPC_BALLOT_MAX */                          \
    X(frames_settled)      /* dropped untagged: every record already settled */                    \
    X(votes_unverified)    /* VOTES runs dropped: a 2a of the run not at hand */                   \
    X(votes_mismatch)      /* VOTES runs dropped: digest is not over this party's 2a values */     \
    X(forward_forged)      /* FORWARD commands dropped: bytes do not match their MAC */            \
    X(submitters_held)     /* a leader held a submitter out: its value alone failed */             \
    X(recheck_visits)      /* slots a re-check of held 2a values examined */                       \
    X(claim_visits)        /* 1b claim pool entries evictions examined */                          \
    X(votes_barred)        /* VOTES runs dropped unhashed: their sender's mismatched too often */  \
    X(claim_scans)         /* passes over the senders a full 1b claim pool made for a victim */

struct bpc_counters {
#define BPC_X_FIELD(name) uint64_t name;
    BPC_COUNTERS(BPC_X_FIELD)
#undef BPC_X_FIELD
    uint64_t drops[BPC_DROP_REASONS_COUNT];
};

/* Bytes of caller storage the engine needs for cfg; 0 for cfg NULL or any
 * configuration bpc_config_validate refuses (the check bpc_engine_init and
 * bpc_engine_new make first; keys and log size nothing and are not
 * looked at). */
size_t bpc_engine_footprint(const struct bpc_config *cfg);

/* One region of that storage: bpc_engine_footprint is the sum of the
 * regions' bytes, each rounded up to 64. `formula` says how the region
 * follows the configuration, with this build's element sizes filled in. */
struct bpc_footprint_part {
    const char *name;
    size_t bytes;
    char formula[160];
};
#define BPC_FOOTPRINT_PARTS_MAX 24u
/* Fills up to cap regions of cfg's storage, largest configuration terms
 * first in layout order; returns how many there are (0 when cfg is NULL or
 * refused, as bpc_engine_footprint; parts NULL: none written). */
uint32_t bpc_engine_footprint_parts(const struct bpc_config *cfg, struct bpc_footprint_part *parts,
                                    uint32_t cap);
/* Validates cfg and builds an engine in mem (>= footprint, 64-byte aligned,
 * any contents). Returns 0 or a negated BPC_ECFG_* / -EINVAL (out or cfg
 * NULL included; cfg->keys NULL with more than one party, which
 * bpc_config_validate does not check) / -ENOBUFS (mem NULL, short or
 * misaligned, named in err). */
int bpc_engine_init(struct bpc_engine **out, void *mem, size_t mem_len,
                    const struct bpc_config *cfg, char *err, size_t err_len);
/* Convenience: allocates (aligned) storage and inits; bpc_engine_free frees.
 * -EINVAL for out or cfg NULL, as bpc_engine_init. */
int bpc_engine_new(struct bpc_engine **out, const struct bpc_config *cfg, char *err,
                   size_t err_len);
void bpc_engine_free(struct bpc_engine *e);
/* Restores durable vote state after a restart, before the first step and
 * before any bpc_submit (a restart raises the incarnation that tickets
 * carry). Returns 0; -EBUSY after bpc_engine_start or a bpc_submit;
 * -EINVAL (nothing restored) for e NULL, and
 * for records no engine writes (recs NULL with count > 0, a ballot above
 * BPC_BALLOT_MAX, hist_count above BPC_HISTORY_MAX, decided above 1, a
 * floor above BPC_DURABLE_FLOOR_MAX or a vote instance at or above
 * BPC_DURABLE_FLOOR_MAX + BPC_WINDOW_SLOTS_MAX, an
 * incarnation of 2^24 - 1 or more, or of 2^24 - 2 with a promised ballot:
 * no room for the start's increment, a vote or history ballot above the
 * record's max_bal); -ERANGE (nothing restored) when a
 * vote lies at or above floor + window_slots: the records were written
 * under a larger window, and restoring them without that vote would let
 * the party report the instance empty. Restart with the window the
 * records were written under (or a larger one). -ERANGE too when a record
 * names a value longer than value_bytes_max (written under a larger one:
 * the party could hold neither that value nor its peers' of that size). */
int bpc_engine_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count);
/* Then the durable values (persist_values of earlier steps): their bytes go
 * back to the restored vote state that names them; a value nothing names,
 * or whose bytes do not hash to its id, is skipped. 0, or -EINVAL (e
 * NULL, vals NULL with count > 0), -EBUSY after bpc_engine_start. */
int bpc_engine_restore_values(struct bpc_engine *e, const struct bpc_durable_value *vals,
                              uint32_t count);

/* Starts at now: at ballot 1, or, after a restore, back at the restored
 * max_bal (the ballot promised before the restart, without a new 1b).
 * 0, or -EINVAL and not started when cfg.log's next entry
 * (bpc_log_next) is not the first instance the engine will emit: 0 on a
 * fresh start, the restored floor after a restore (create the log with
 * that start_index); -EOVERFLOW and not started when the restored
 * incarnation is 2^24 - 3 with a promised ballot: the start would raise
 * it to 2^24 - 2 and persist a record no restart can restore (the
 * party's incarnations are used up); -EINVAL for e NULL; -EBUSY, nothing
 * done, after a successful bpc_engine_start (as bpc_engine_restore: the
 * engine runs already; before, a second start aborted). Call it once per
 * engine. */
int bpc_engine_start(struct bpc_engine *e, uint64_t now_ns);
/* One step: decode, verify and apply in->frames, run transitions and
 * deadlines, emit frames, decisions and durability requests. Returns the
 * number of frames written, or -EAGAIN when out->frames was too small
 * (the rest stays queued for the next step), or -EMSGSIZE, as -EAGAIN
 * (decisions and persist records are out as usual), when a lent tx
 * buffer's cap was below bpc_frame_bytes_min(value_bytes_max): no frame
 * is written into it or after it (before, every record was dropped and
 * the party went mute with the step returning success). -EINVAL, nothing
 * done, before bpc_engine_start, for e, in or out NULL, frames NULL with
 * frames_count > 0, a frame with bytes NULL and a length, out->frames or
 * out->decisions NULL with a cap, or now_ns below the last step's (the
 * clock must never go back; before, these aborted or crashed). -EBUSY,
 * nothing done (no frame read, every out count 0, next_deadline_ns =
 * in->now_ns), while the last out->persist records wait for
 * bpc_engine_persisted. A lent tx buffer
 * with bytes NULL is taken as too small (-EMSGSIZE). */
int bpc_engine_step(struct bpc_engine *e, const struct bpc_step_in *in, struct bpc_step_out *out);
/* Confirms that the last out->persist records are durable; the messages
 * held behind them leave at the next step, and so do the decisions that
 * waited for them (a decision whose 2b quorum needed this party's own
 * 2b of that step). Step again at once after it: a step's
 * next_deadline_ns, computed before the records were durable, does not
 * count that work. One batch is out at a time: until this call,
 * bpc_engine_step returns -EBUSY and does nothing (it reads no frame), so
 * the batch's records and value bytes stay as lent while the caller
 * writes them. e NULL: nothing. */
void bpc_engine_persisted(struct bpc_engine *e);

/* Submits a command; callable from any thread (a bounded lock-free queue
 * feeds the engine's thread). The command is forwarded to the current
 * leader, batched into a value and applied exactly once; *ticket (may be
 * NULL) identifies it: (incarnation << 40) + per-party sequence number.
 * 0, -EAGAIN when the queue is full (backpressure), -EMSGSIZE when it can
 * never fit a value (len > bpc_command_bytes_max()), -EINVAL for e NULL or
 * cmd NULL with len > 0, -EBUSY while a bpc_engine_restore runs (call restore
 * before any submit). */
int bpc_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket);
/* Largest command the engine accepts for this config; 0 for cfg NULL or
 * one bpc_config_validate refuses. */
uint32_t bpc_command_bytes_max(const struct bpc_config *cfg);
/* The smallest frame every record group and value fits: value_bytes_max,
 * a 1b with its full history, header and tag. frame_bytes must be at
 * least this (bpc_config_validate), and so must every tx buffer lent to
 * bpc_engine_step. */
uint32_t bpc_frame_bytes_min(uint32_t value_bytes_max);
/* What became of the command with this ticket, as this party knows it
 * (any thread; acquire loads). A submitter's commands apply in sequence
 * order, and the first applied command of a later incarnation (a restart)
 * closes the earlier ones for good, so:
 * - APPLIED: applied at this party;
 * - PENDING: not applied yet, and it still may be (a ticket of the
 *   incarnation applied last or a later one);
 * - LOST: of an earlier incarnation and never to be applied (a later
 *   incarnation's command was applied first): submit it again if it must
 *   happen;
 * - UNKNOWN: of an earlier incarnation than this run can tell about: the
 *   engine knows the incarnation applied last and, from the moment this
 *   run applies the first command of a later one, the one before it (a
 *   restart restores only the last applied command): the application's own
 *   applied state decides.
 * e NULL: UNKNOWN (and bpc_ticket_done false). */
enum bpc_ticket_status {
    BPC_TICKET_PENDING = 0,
    BPC_TICKET_APPLIED = 1,
    BPC_TICKET_LOST = 2,
    BPC_TICKET_UNKNOWN = 3,
};
enum bpc_ticket_status bpc_ticket_status(const struct bpc_engine *e, uint64_t ticket);
/* bpc_ticket_status(e, ticket) == BPC_TICKET_APPLIED. (Before, every
 * ticket of an earlier incarnation below the last applied one was called
 * done, lost commands included.) */
bool bpc_ticket_done(const struct bpc_engine *e, uint64_t ticket);
/* Iterates the commands of a decided batch value: returns the next
 * command's offset after `off` or 0 at the end; -EINVAL if malformed, or
 * when value or cmd is NULL. */
struct bpc_command {
    uint32_t submitter;
    uint32_t len;
    uint64_t seq;
    const uint8_t *bytes;
};
int bpc_batch_next(const uint8_t *value, uint32_t len, uint32_t off, struct bpc_command *cmd);

/* The views: for e NULL each returns "nothing" (0, -EINVAL for the
 * leader, BPC_STATUS_NONE, NULL for the counters); before, each crashed. */
uint64_t bpc_engine_ballot(const struct bpc_engine *e);
int bpc_engine_leader(const struct bpc_engine *e); /* leader of the current ballot */
uint64_t bpc_engine_next_undecided(const struct bpc_engine *e);
enum bpc_status bpc_engine_status(const struct bpc_engine *e, uint64_t instance);
/* Bitmask (1 << enum bpc_event) of events fired at the current ballot. */
uint32_t bpc_engine_events(const struct bpc_engine *e);
const struct bpc_counters *bpc_engine_counters(const struct bpc_engine *e);
bpc_u128 bpc_engine_faulty_weight(const struct bpc_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* BPCON_H */
