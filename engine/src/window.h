/*
 * window.h - the instance window (window.c): slots, generations, value
 * buffers, the recent-decision ring, decisions out in order.
 */
#ifndef BPC_WINDOW_H
#define BPC_WINDOW_H

#include "core.h"

/* Next instance to emit: every instance below it is decided. */
static inline uint64_t
eng_nu(const struct bpc_engine *e)
{
    return e->win.nu;
}

static inline bool
eng_in_window(const struct bpc_engine *e, uint64_t instance)
{
    return instance >= e->win.nu && instance - e->win.nu < e->window;
}

/* The slot instance maps to, whatever it holds now. */
static inline struct eng_slot *
eng_slot_at(const struct bpc_engine *e, uint64_t instance)
{
    return &e->win.slots[instance & e->mask];
}

/* Does the slot of instance hold it? (Never creates it.) */
static inline bool
eng_slot_holds(const struct bpc_engine *e, uint64_t instance)
{
    return e->win.slots[instance & e->mask].tag == instance + 1;
}

/* The instance the slot holds (UINT64_MAX: never used). */
static inline uint64_t
eng_slot_instance(const struct eng_slot *s)
{
    return s->tag - 1; /* 0 - 1: UINT64_MAX */
}

/* The ballot generation g of the slot tallies (0: unused). */
static inline uint64_t
eng_gen_ballot(const struct eng_slot *s, uint32_t g)
{
    return s->gen[g].ballot;
}

static inline struct eng_slot *
eng_slot_by_index(const struct bpc_engine *e, uint32_t k)
{
    return &e->win.slots[k];
}

static inline uint32_t
eng_slot_index(const struct bpc_engine *e, const struct eng_slot *s)
{
    return (uint32_t)(s - e->win.slots);
}

/* Value buffer of a slot: gen 0..ENG_GENS-1 for 2a values, ENG_GENS for a
 * decided value not lent from one of those (eng_vote_dec_buf),
 * ENG_HIST_BUF0 + k for history entries, ENG_FETCH_BUF for a peer's bytes. */
static inline uint8_t *
eng_slot_value(const struct bpc_engine *e, const struct eng_slot *s, uint32_t which)
{
    size_t slot_index = (size_t)(s - e->win.slots);
    return e->win.values + (slot_index * ENG_VALUE_BUFS + which) * e->vbytes;
}

static inline struct eng_dec *
eng_dring_at(const struct bpc_engine *e, uint64_t instance)
{
    return &e->win.dring[instance % e->win.dring_len];
}

/* How many recent decisions the ring keeps (2 x window + 256). */
static inline uint32_t
eng_dring_len(const struct bpc_engine *e)
{
    return e->win.dring_len;
}

static inline const struct eng_dec *
eng_dring_find(const struct bpc_engine *e, uint64_t instance)
{
    const struct eng_dec *d = eng_dring_at(e, instance);
    return d->instance == instance && d->vid.kind != BPC_VALUE_NONE ? d : NULL;
}

/* This party voted 2av and 2b at ballot for the recent decision of
 * instance (eng_vote_decided): no second vote at that ballot. Its reports
 * keep naming the maxVBal it had before: that 2b is for the chosen value
 * and backed by no 2av quorum (docs/ENGINE.md, "Vote reports"). */
static inline void
eng_dring_vote(struct bpc_engine *e, uint64_t instance, uint64_t ballot)
{
    eng_dring_at(e, instance)->vote_hi = ballot;
}

/* The DIGEST bytes kept with a recent decision. */
static inline const uint8_t *
eng_dring_bytes(const struct bpc_engine *e, const struct eng_dec *d)
{
    return e->win.dring_bytes + (size_t)(d - e->win.dring) * e->vbytes;
}

/* The generation of s tallying ballot, or -1 (eng_gen_find without
 * creating, inlined for the vote paths). */
static inline int
eng_gen_of(const struct eng_slot *s, uint64_t ballot)
{
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        if (s->gen[g].ballot == ballot) {
            return (int)g;
        }
    }
    return -1;
}

/* The slot for instance, taken over (reset) when it held an older one;
 * NULL outside the window or when its bytes are lent to this step. */
ENG_FN struct eng_slot *eng_slot_get(struct bpc_engine *e, uint64_t instance);
/* eng_gen_find when no generation tallies ballot yet (out of line, so the
 * common lookup stays a few compares). */
ENG_FN int eng_gen_make(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, bool create);

/* The generation tallying `ballot`; creates one for ballot >= bal. */
static inline int
eng_gen_find(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, bool create)
{
    int found = eng_gen_of(s, ballot);
    return found >= 0 ? found : eng_gen_make(e, s, ballot, create);
}
/* Emits decided instances from nu on, in order, into out. */
ENG_FN void eng_emit(struct bpc_engine *e, struct bpc_step_out *out);
/* Did out's full decisions array hold back an instance that could be
 * applied now (the caller must step again at once)? */
ENG_FN bool eng_emit_held(const struct bpc_engine *e, const struct bpc_step_out *out);
/* Where queued DIGEST bytes live (outbox.c): slot buffers and the ring. */
ENG_FN bool eng_win_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *slot,
                           uint8_t *which);
ENG_FN bool eng_win_holds(const struct bpc_engine *e, uint32_t slot, uint8_t which,
                          const struct bpc_record *r);
/* When eng_win_holds fails: r's bytes (not a 2a's: it names its own
 * ballot's buffer) wherever the slot holds them now, for instance moved
 * from a 2a buffer that lent them (eng_vote_gen_leaving); or NULL. */
ENG_FN const uint8_t *eng_win_moved(const struct bpc_engine *e, uint32_t slot,
                                    const struct bpc_record *r);
ENG_FN bool eng_dring_locate(const struct bpc_engine *e, const uint8_t *val, uint32_t *index);
ENG_FN bool eng_dring_holds(const struct bpc_engine *e, uint32_t index, const struct bpc_record *r);
ENG_FN void eng_win_carve(struct bpc_engine *e, const struct eng_mem *m);
/* Restore: the window starts at the highest persisted floor. */
ENG_FN void eng_win_restore_floor(struct bpc_engine *e, uint64_t floor);
/* Restore: a decided record of an instance below the floor back in the
 * ring of recent decisions (its identity, this party's own vote, no
 * bytes); it may have voted on it at any ballot up to max_bal. */
ENG_FN void eng_dring_restore(struct bpc_engine *e, const struct bpc_durable *d, uint64_t max_bal);
/* A durable value's bytes back into the recent decision of its instance
 * when it decided that value and has no bytes (the caller checked that
 * they hash to the identity); false when no such entry is there. */
ENG_FN bool eng_dring_restore_bytes(struct bpc_engine *e, const struct bpc_durable_value *v);

#endif /* BPC_WINDOW_H */
