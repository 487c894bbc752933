/*
 * byz_internal.h - the Byzantine parties' state and the calls the files of
 * the simulator's Byzantine behaviours make into each other: byz.c (small
 * helpers, sealing and sending, what Byzantine parties learn, set-up),
 * byz_values.c (batches, genuine commands, the equivocation and forgery
 * tables), byz_rewrite.c (rewriting what a Byzantine engine sends),
 * byz_craft.c (crafted frames of one Byzantine period, the churn) and
 * byz_malformed.c (the malformed frames' shapes). Their entry points for
 * the rest of the library are in sim_internal.h (sim_byz_*).
 *
 * Must never: be included outside those files.
 */
#ifndef BPC_SIM_BYZ_INTERNAL_H
#define BPC_SIM_BYZ_INTERNAL_H

#include "sim_internal.h"

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>

/* Old frames kept per replaying party, and records it received. */
#define BYZ_RING_FRAMES 64u
#define BYZ_RELAY_RECS 64u
/* Genuine commands seen in FORWARD records, shared by all colluders. */
#define BYZ_POOL_CMDS 64u
#define BYZ_POOL_CMD_BYTES 64u
/* Equivocation and forgery table: (instance, ballot) entries, each with
 * up to BYZ_VARIANTS values and which one each receiver was sent. */
#define BYZ_ENTRIES 256u
#define BYZ_VARIANTS 3u
/* Records one rewritten frame may grow to (the engine's, plus votes). */
#define BYZ_OUT_RECS 512u
/* A ballot far beyond any real one, yet valid (at most BPC_BALLOT_MAX). */
#define BYZ_FAR_BALLOT ((uint64_t)1 << 40)

struct byz_frame {
    uint8_t *bytes; /* BPC_FRAME_BYTES_MAX */
    uint32_t len;
    uint32_t to;
};

struct byz_relay {
    struct bpc_record r;
    uint8_t *bytes; /* value_bytes_max: carried DIGEST value */
};

/* Per Byzantine party. */
struct sim_byz_party {
    uint64_t *seq;        /* per peer: last frame sequence sealed */
    uint64_t *applied_hi; /* per submitter: last sequence its engine applied */
    struct byz_frame ring[BYZ_RING_FRAMES];
    uint32_t ring_count;
    uint32_t ring_next;
    struct byz_relay relay[BYZ_RELAY_RECS];
    uint32_t relay_count;
    uint32_t relay_next;
};

struct byz_cmd {
    uint32_t sub;
    uint32_t len;
    uint64_t seq;
    uint8_t bytes[BYZ_POOL_CMD_BYTES];
};

struct byz_entry {
    uint64_t instance;
    uint64_t ballot; /* 0: unused */
    uint32_t variants;
    uint32_t len[BYZ_VARIANTS];
    struct bpc_vid vid[BYZ_VARIANTS];
    uint8_t *bytes; /* BYZ_VARIANTS x vbytes */
    uint8_t *which; /* per party: the variant it was sent */
};

/* Shared by every Byzantine party (they collude). */
struct sim_byz {
    uint32_t vbytes;    /* value_bytes_max */
    uint32_t batch_max; /* commands per value */
    uint64_t lie_key;   /* decided-lie values, the same at every colluder */
    struct bpc_record *recs;
    uint32_t recs_cap;
    struct bpc_record *out;
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint8_t *scratch; /* vbytes: values being built */
    uint8_t *scratch2;
    struct byz_cmd pool[BYZ_POOL_CMDS];
    uint32_t pool_count;
    uint32_t pool_next;
    struct byz_entry equiv[BYZ_ENTRIES];
    struct byz_entry forge[BYZ_ENTRIES];
};

/* A batch value under construction (bpc_batch_next's format). */
struct byz_batch {
    uint8_t *buf;
    uint32_t cap;
    uint32_t len;
    uint32_t count;
};

/* What b knows of a correct receiver: its next undecided instance and
 * ballot (what it announces in STATUS and every record). */
struct byz_view {
    uint64_t nu;
    uint64_t bal;
    uint64_t window;
};

/* byz.c */
/* The sim's Byzantine stream: every random choice of the byz files. */
uint64_t byz_rand(struct sim *s);
/* Uniform in [0, n) from the Byzantine stream (n > 0). */
uint64_t byz_below(struct sim *s, uint64_t n);
/* Little-endian store of the low n <= 8 bytes of v. */
void byz_le_store(uint8_t *b, uint64_t v, uint32_t n);
/* Fills len bytes from the Byzantine stream. */
void byz_fill(struct sim *s, uint8_t *p, uint32_t len);
/* A correct live party at random, or SIM_NONE when there is none. */
uint32_t byz_any_correct(struct sim *s);
/* A random value id nobody proposed: inline, digest (bytes never sent) or
 * a NOOP. */
void byz_random_vid(struct sim *s, struct bpc_vid *v);
/* Records that must share a frame with recs[i]: a 1B and its history. */
uint32_t byz_group(const struct bpc_record *recs, uint32_t i, uint32_t count);
/* Hands one sealed frame of b to the network. */
void byz_wire(struct sim *s, uint32_t b, uint32_t to, const uint8_t *frame, uint32_t len,
              bool crafted);
/* Seals well-formed records as b for `to` (bpc_wire, under the pair key,
 * with b's next sequence numbers) and sends them, as many frames as they
 * need; a group no frame can hold is left out. Returns the length of the
 * last frame (still in the shared buffer), 0 when none left. */
uint32_t byz_send(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs,
                  uint32_t count, bool crafted);
/* Recomputes the tag of a raw frame in place under the pair key (b, to). */
void byz_retag(struct sim *s, uint32_t b, uint32_t to, uint8_t *frame, uint32_t len);
/* Builds a raw frame of b for `to` into buf: header, records, their
 * carried values (aux set to the offsets), a tag. Returns its length (0
 * when it would exceed BPC_FRAME_BYTES_MAX). */
uint32_t byz_raw_frame(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs,
                       uint32_t count, uint8_t *buf);
/* Sends records raw (no validity check) in one frame. */
void byz_send_raw(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *recs,
                  uint32_t count);

/* byz_values.c */
/* Starts an empty batch in buf. */
void byz_batch_begin(struct byz_batch *bb, uint8_t *buf, uint32_t cap);
/* Appends one command; false when it does not fit the value or batch. */
bool byz_batch_add(struct sim *s, struct byz_batch *bb, uint32_t sub, uint64_t seq,
                   const uint8_t *cmd, uint32_t len);
/* Writes the batch header; returns the value length. */
uint32_t byz_batch_end(struct byz_batch *bb);
/* Remembers a genuine command (a FORWARD a colluder received). */
void byz_pool_add(struct sim *s, uint32_t sub, uint64_t seq, const uint8_t *bytes, uint32_t len);
/* The bytes of a value a record names: carried, inline, or none. */
const uint8_t *byz_value_bytes(const struct bpc_record *r);
/* The entry of (instance, ballot) in a table, or NULL. */
struct byz_entry *byz_entry_find(struct byz_entry *table, uint64_t instance, uint64_t ballot);
/* A record naming variant k of an entry (its bytes carried for a 2A). */
void byz_entry_value(struct sim *s, const struct byz_entry *e, uint32_t k, struct bpc_record *r);
/* An equivocation for (instance, ballot) led by b: 2 or 3 values, and
 * which one each correct party gets (at random, so some share one). */
struct byz_entry *byz_equiv_make(struct sim *s, uint32_t b, uint64_t instance, uint64_t ballot,
                                 const uint8_t *orig, uint32_t orig_len, bool orig_noop);
/* A forged value for (instance, ballot) led by b, the same for everyone:
 * commands under a correct victim's name (its next sequence, and the
 * first of a forged new incarnation) with bytes of b's own, then the
 * original's genuine commands. */
struct byz_entry *byz_forge_make(struct sim *s, uint32_t b, uint64_t instance, uint64_t ballot,
                                 const uint8_t *orig, uint32_t orig_len, bool orig_noop);

/* byz_rewrite.c */
/* A 2A of leader b under equivocation or forgery: the entry's value for
 * `to`, followed by b's own 2AV and 2B for it. Returns records written. */
uint32_t byz_rewrite_2a(struct sim *s, uint32_t b, uint32_t to, const struct bpc_record *r,
                        struct bpc_record *out);
/* A false 1B report of (instance, ballot) into out (with its history):
 * claims no vote, a vote at a higher or lower ballot than the truth, other
 * values, invented history. Returns records written. */
uint32_t byz_lie_1b(struct sim *s, const struct bpc_record *r, struct bpc_record *out);
/* The false value every colluder claims was decided at an instance: a
 * NOOP, random inline bytes, or a batch of two commands under correct
 * parties' names (so a checker would see it if it were applied). */
void byz_lie_value(struct sim *s, uint64_t instance, struct bpc_record *r);
/* One of a decided-lie's ballots: 1, a far one, the highest valid one, or
 * the receiver's own. */
uint64_t byz_lie_ballot(struct sim *s, uint64_t own);

/* byz_malformed.c */
/* malformed: one frame with a valid tag and invalid contents, its shape
 * drawn at random from byz_shapes (byz_malformed.c). */
void byz_craft_malformed(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v);

#endif
