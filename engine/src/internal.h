/*
 * internal.h - helpers shared between libbpcon modules and reached by the
 * project's own tests; not part of the public API (not installed).
 */
#ifndef BPC_INTERNAL_H
#define BPC_INTERNAL_H

#include "bpcon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Always-on assertion for cheap invariants (never on network bytes). */
#define BPC_ASSERT(x)                                                                              \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            bpc_assert_fail(#x, __FILE__, __LINE__);                                               \
        }                                                                                          \
    } while (0)

#ifndef BPC_DEBUG
#define BPC_DEBUG 0
#endif
/* Costly checks: type-checked always, evaluated only when BPC_DEBUG. */
#define BPC_DEBUG_ASSERT(x)                                                                        \
    do {                                                                                           \
        if (BPC_DEBUG && !(x)) {                                                                   \
            bpc_assert_fail(#x, __FILE__, __LINE__);                                               \
        }                                                                                          \
    } while (0)

_Noreturn void bpc_assert_fail(const char *expr, const char *file, int line);

/* wire.c: bpc_wire_put for the engine's own records (w begun, r built from
 * its state): a bad record is a bug, checked by assertions only. */
__attribute__((visibility("hidden"))) int eng_wire_put(struct bpc_wire_writer *w,
                                                       const struct bpc_record *r);
/* eng_wire_put without the debug builds' check of the record's fields
 * (the decoder's tests write records it refuses on purpose). */
__attribute__((visibility("hidden"))) int eng_wire_put_unchecked(struct bpc_wire_writer *w,
                                                                 const struct bpc_record *r);

/* log.c: the largest value a decided log holds (its config's
 * value_bytes_max): bpc_engine_init refuses a log smaller than the engine's
 * values. */
uint32_t bpc_log_value_max(const struct bpc_log *log);
/* log.c: bpc_log_append that also keeps id, the identity (digest) of a
 * DIGEST value, when not NULL (the engine's appends: catch-up answers
 * from the log then name the value without hashing its bytes again). */
__attribute__((visibility("hidden"))) int eng_log_append(struct bpc_log *log, uint64_t index,
                                                         const uint8_t *value, uint32_t len,
                                                         bool noop, uint64_t skip_mask,
                                                         const uint8_t *id);
/* log.c: bpc_log_read that also sets *id to the identity kept with the
 * entry, or NULL when none was (an entry bpc_log_append wrote). */
__attribute__((visibility("hidden"))) int
eng_log_read(struct bpc_log *log, uint64_t index, struct bpc_log_entry *out, const uint8_t **id);

/* auth.c: SipHash-2-4-128 frame tags under the pair key. */
void bpc_auth_tag(const uint8_t key[BPC_KEY_BYTES], const uint8_t *msg, size_t len,
                  uint8_t tag[BPC_TAG_BYTES]);
/* Constant-time comparison of the tag over msg with `tag`. */
bool bpc_auth_tag_ok(const uint8_t key[BPC_KEY_BYTES], const uint8_t *msg, size_t len,
                     const uint8_t tag[BPC_TAG_BYTES]);

/* auth.c: len bytes of key (no block of 64 left under 16) for an index
 * whose places a peer must not predict (claims.c's names index), derived
 * from seed and all n pair keys this party holds (keys NULL: none, one
 * party): no peer holds them all, and the tools' seed is random. */
__attribute__((visibility("hidden"))) void eng_auth_index_key(const uint8_t (*keys)[BPC_KEY_BYTES],
                                                              uint32_t n, uint64_t seed,
                                                              uint8_t *out, size_t len);

/* wire.c: (re)computes in place the tag of a frame of len bytes (a
 * test's or a simulated forger's patched bytes), over what
 * bpc_wire_verify checks: the header and the records. */
void bpc_wire_retag(uint8_t *frame, uint32_t len, const uint8_t key[BPC_KEY_BYTES]);

/* wire.c: a frame bpc_wire_finish wrote (len bytes at src) copied to dst
 * for another receiver and sequence number, tagged under key; returns
 * len. Everything but those two fields and the tag is src's. */
uint32_t bpc_wire_readdress(uint8_t *dst, const uint8_t *src, uint32_t len, uint16_t receiver,
                            uint64_t seq, const uint8_t key[BPC_KEY_BYTES]);

/* wire.c: does a frame whose header parsed as h (length already checked
 * against it) carry only 2AV, 2B and VOTES records and no value bytes
 * (votes and runs of votes)? Reads one type byte per record; decodes
 * nothing and hashes nothing (nor does decoding such a frame: a run's
 * digest is named, not carried). */
bool bpc_wire_votes_only(const uint8_t *frame, const struct bpc_frame_header *h);

/* Constant-time check of a command MAC (see bpc_command_mac). */
bool bpc_command_mac_ok(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd,
                        uint32_t len, const uint8_t mac[BPC_CMD_MAC_BYTES]);

/* Value ids compare as whole structs; bpc_vid_eq is this, exported, and
 * the engine's own loops inline it. */
static inline bool
eng_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* value.c: the BLAKE2b-256 digest of len bytes into out's
 * BPC_DIGEST_BYTES (value identities, run digests, the leader draw):
 * crypto_generichash's output, from a state set up once instead of at
 * every call. */
__attribute__((visibility("hidden"))) void eng_digest(uint8_t *out, const uint8_t *in, size_t len);

/* A record with every unused field zero (vid may be NULL: no value). */
static inline struct bpc_record
bpc_record_make(uint8_t type, uint64_t instance, uint64_t ballot, uint64_t aux,
                const struct bpc_vid *vid)
{
    struct bpc_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.instance = instance;
    r.ballot = ballot;
    r.aux = aux;
    if (vid != NULL) {
        r.value = *vid;
    }
    return r;
}

/* Little-endian loads and stores through memcpy (no pointer casts). */
static inline uint16_t
bpc_le16_load(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t
bpc_le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t
bpc_le64_load(const uint8_t *p)
{
    return (uint64_t)bpc_le32_load(p) | ((uint64_t)bpc_le32_load(p + 4) << 32);
}
static inline void
bpc_le16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void
bpc_le32_store(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static inline void
bpc_le64_store(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Do the kind, length and 32 id bytes form a well-shaped value identity
 * (the wire's rule, whatever the record type)? No value and NOOP are
 * empty; an inline value is at most 32 bytes with zeros after them (so
 * identities compare with memcmp); a digest names more than 32 bytes and
 * at most BPC_VALUE_BYTES_MAX. The decoder, the store's record decoder and
 * the engine's restore all hold identities to it. */
static inline bool
bpc_vid_shape_ok(const struct bpc_vid *v)
{
    uint32_t used;
    switch (v->kind) {
    case BPC_VALUE_NONE:
    case BPC_VALUE_NOOP:
        used = 0;
        break;
    case BPC_VALUE_INLINE:
        used = v->len;
        break;
    case BPC_VALUE_DIGEST:
        return v->len > BPC_VALUE_INLINE_MAX && v->len <= BPC_VALUE_BYTES_MAX;
    default:
        return false;
    }
    if (v->len != used || used > BPC_VALUE_INLINE_MAX) {
        return false;
    }
    /* The id bytes from used on, eight at a time from the word holding
     * byte `used` (a byte loop cost about 100 instructions for an empty
     * identity, a loop testing every word's place about 40): that word's
     * bytes below used, its low bytes as loaded little-endian, are masked
     * off. */
    _Static_assert(BPC_VALUE_INLINE_MAX % 8 == 0, "whole words");
    uint32_t k = used & ~7u;
    if (k == BPC_VALUE_INLINE_MAX) {
        return true;
    }
    uint64_t acc = bpc_le64_load(v->id + k) & (~UINT64_C(0) << (8u * (used - k)));
    for (k += 8; k < BPC_VALUE_INLINE_MAX; k += 8) {
        acc |= bpc_le64_load(v->id + k);
    }
    return acc == 0;
}

/* A well-shaped identity whose pad byte is zero: what a durable record
 * may hold (the store's decoder and append check, and restore). */
static inline bool
bpc_vid_stored_ok(const struct bpc_vid *v)
{
    return v->pad == 0 && bpc_vid_shape_ok(v);
}

/* Incarnations start sequence numbers at incarnation << 40, and a start
 * adds one: a durable incarnation must leave room for both. */
#define BPC_INCARNATION_MAX ((UINT64_C(1) << 24) - 2u)

/* Recent decisions an engine of window w keeps (its ring, layout.c), and
 * the instances below its floor whose decided records it keeps in the
 * store (dec_keep = instance + this): a party lagging that far catches up
 * without a log. */
#define BPC_RECENT_LEN(w) (2u * (uint32_t)(w) + 256u)

/* A durable record in a shape the engine writes, the one rule for what
 * bpc_engine_restore takes and bpc_store_append writes (restored
 * identities go out in 1b reports, where a pad byte or a shape the
 * decoder refuses tripped the encoder's assertion): ballots within
 * BPC_BALLOT_MAX, a floor at most BPC_DURABLE_FLOOR_MAX (2^62) and a
 * vote or decided instance below BPC_DURABLE_FLOOR_MAX +
 * BPC_WINDOW_SLOTS_MAX (so far below BPC_DURABLE_APPLIED_BASE that no
 * vote instance is ever an apply-state id; a floor a window below the
 * base was taken, and the engine then voted at apply-state ids), room for the
 * incarnation (at most BPC_INCARNATION_MAX, and below it with a promise:
 * restore refuses that, its start could not raise it, and
 * bpc_engine_start refuses to write it); for an instance's record, a vote value exactly when it has
 * a vote ballot, vote and history ballots at most the record's max_bal
 * (a party votes only at a ballot it joined, joining raises max_bal
 * first, and every record carries max_bal as it was: a vote above it
 * had the restarted party's next 1b report a maxVBal at or above its own
 * ballot), a decided record with a decided value and no history,
 * history entries at real ballots with real values. check_ids false: the
 * identities' shapes (bpc_vid_stored_ok) were checked already, by a
 * caller that checks more of them (the store's append check). */
static inline bool
bpc_durable_rules_ok(const struct bpc_durable *d, bool check_ids)
{
    if (d->max_bal > BPC_BALLOT_MAX || d->max_vbal > BPC_BALLOT_MAX ||
        d->hist_count > BPC_HISTORY_MAX || d->decided > 1 || d->incarnation > BPC_INCARNATION_MAX ||
        (d->incarnation == BPC_INCARNATION_MAX && d->max_bal > 0) ||
        d->floor > BPC_DURABLE_FLOOR_MAX) {
        return false; /* near the apply-state ids: votes would collide with them */
    }
    if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
        return true; /* the party-wide record or an apply state: no vote */
    }
    if (d->instance >= BPC_DURABLE_FLOOR_MAX + BPC_WINDOW_SLOTS_MAX) {
        return false; /* above any window of a floor in bounds */
    }
    if ((check_ids && !bpc_vid_stored_ok(&d->max_vval)) ||
        (d->max_vbal == 0) != (d->max_vval.kind == BPC_VALUE_NONE) || d->max_vbal > d->max_bal) {
        return false;
    }
    if (d->decided) {
        return d->hist_count == 0 && (!check_ids || bpc_vid_stored_ok(&d->dec_val)) &&
               d->dec_val.kind != BPC_VALUE_NONE;
    }
    for (uint32_t h = 0; h < d->hist_count; h++) {
        /* kind NONE: the clean floor, the last entry only */
        if (d->hist_bal[h] == 0 || d->hist_bal[h] > d->max_bal ||
            (check_ids && !bpc_vid_stored_ok(&d->hist_val[h])) ||
            (d->hist_val[h].kind == BPC_VALUE_NONE && h + 1u != d->hist_count)) {
            return false;
        }
    }
    return true;
}

static inline bool
bpc_durable_ok(const struct bpc_durable *d)
{
    return bpc_durable_rules_ok(d, true);
}

/* Does d fit an engine of this window and value_bytes_max, with floor the
 * restored floor? A vote at or above floor + window (written under a
 * larger window) found no slot and was dropped without a word, and the
 * party then reported the instance empty in its 1b and could vote against
 * its own 2b: an under-report. A value longer than value_bytes_max
 * (written under a larger one) could be held neither from the record nor
 * from peers, and the party never decided again. The one rule for
 * bpc_engine_restore (floor: the set's highest) and bpc_store_append
 * (floor: the record's own, which the engine stamps at its next undecided
 * instance; the set's is never lower, so what append takes restore takes). */
static inline bool
bpc_durable_fits(const struct bpc_durable *d, uint64_t floor, uint32_t window, uint32_t vmax)
{
    if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
        return true;
    }
    bool vote = !d->decided && (d->max_vbal > 0 || d->hist_count > 0);
    if (vote && d->instance >= floor && d->instance - floor >= window) {
        return false;
    }
    bool fits = !(d->max_vval.kind == BPC_VALUE_DIGEST && d->max_vval.len > vmax) &&
                !(d->decided && d->dec_val.kind == BPC_VALUE_DIGEST && d->dec_val.len > vmax);
    for (uint32_t h = 0; h < d->hist_count && h < BPC_HISTORY_MAX; h++) {
        fits = fits && !(d->hist_val[h].kind == BPC_VALUE_DIGEST && d->hist_val[h].len > vmax);
    }
    return fits;
}

#endif /* BPC_INTERNAL_H */
