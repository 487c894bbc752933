/*
 * core.h - the step engine's state (struct bpc_engine), grouped by the module that owns each
 * part (the parts' definitions in state.h), and the few things every module shares.
 *
 * Owns: the definition of struct bpc_engine and of the element types its modules keep in caller
 * storage (slots, generations, queued records, commands, recent decisions). Shared by all
 * modules: the immutable configuration (cfg, digest, weights, thresholds, sizes), the step
 * context (now_ns, step_no, cur_out; written only by engine.c) and the counters (any module may
 * count). Every other field sits in the sub-struct of the one module that writes it (e->bl:
 * ballot.c, e->in: instance.c, e->rp: report.c, e->ty: tally.c, e->win: window.c, e->ob:
 * outbox.c, e->sub: submit.c, e->cu: catchup.c, e->ps: persist.c, e->vr: runs.c, e->rx:
 * admit.c); other modules reach it only through the owner's functions and the static inline
 * accessors in the owner's header. Must never: hold code with side effects, or be included
 * outside engine/src.
 *
 * Names follow BPConProof.tla on purpose: max_bal, max_vbal, max_vval.
 */
#ifndef BPC_CORE_H
#define BPC_CORE_H

#include "internal.h"
#include "prng.h"
#include "safe.h"

#include <stdatomic.h>
#include <stddef.h>

/* A function one module offers the others. Hidden from the shared
 * library's exports, so that the unity build of the step engine may
 * inline it (-fPIC code never inlines an interposable function). */
#define ENG_FN __attribute__((visibility("hidden")))

/* Ballot generations tallied per slot: the current ballot and one other
 * (a future ballot being joined, or the previous one finishing). */
#define ENG_GENS 2u
/* Words of the held 2a bitmap of a window of w slots (held.c). */
#define ENG_HELD_WORDS(w) (((w) + 63u) / 64u)
#define ENG_HELD_MARKS 64u /* held slots a re-check looks at by name */
#define ENG_UQ_FEW 32u     /* peers a round of unicasts alone flushes by name */
/* Catch-up: DECIDED records sent in answer to one STATUS. */
#define ENG_CATCHUP_MAX 128u
/* DECIDED answers queued between two completed flush rounds, for all
 * peers together, at most: eng_answer_half. */
#define ENG_ANSWER_HALF_MAX 1024u
/* Values a slot's DECIDED claim tally holds (tally.c). Each party claims
 * once per round and correct parties all claim the decided value, so
 * while at most ENG_CLAIM_PLACES - 1 parties of weight above 0 can be
 * faulty together (every cluster of up to 24 equal parties at the
 * default threshold), junk never fills the tally and no claim is ever
 * cancelled; past that the cancel and the pins below take over
 * (docs/ENGINE.md, "Room in a tally"). */
#define ENG_CLAIM_PLACES 8u
/* Values a slot's claim tally pins when its claims start over (tally.c,
 * eng_claims_pin), leaving the others unpinned, so a cancel always takes
 * from at least three distinct values. */
#define ENG_CLAIM_PINS 2u
_Static_assert(ENG_CLAIM_PINS >= 1u && ENG_CLAIM_PLACES - ENG_CLAIM_PINS >= 2u,
               "a cancel takes from at least three values");
_Static_assert(ENG_CLAIM_PLACES <= 32u, "eng_claims_pin keeps a 32-bit mask");

/* Catch-up answers (catchup.c) are budgeted per window between two
 * completed flush rounds: all peers' together at most eng_answer_half,
 * so the unicast list, whose room for answers is twice that (an open
 * round's answers and the next window's may be queued at once), never
 * overflows with them. Half of that is each peer's guaranteed share,
 * eng_answer_share (128 up to 5 parties, 16 at 32, 1 at 999); the other
 * half is free for whoever asks first, up to two stretches a peer, so a
 * lone laggard among many parties gets two stretches a window. Before,
 * four Byzantine parties filled a list with room for four stretches, and
 * a correct laggard's answers were dropped in every step (ENGINE.md,
 * "Catch-up"). */
static inline uint32_t
eng_answer_half(uint32_t n)
{
    uint32_t peers = n > 1 ? n - 1 : 1;
    uint64_t want = (uint64_t)peers * 2 * ENG_CATCHUP_MAX;
    uint32_t half = want < ENG_ANSWER_HALF_MAX ? (uint32_t)want : ENG_ANSWER_HALF_MAX;
    return half > 2 * peers ? half : 2 * peers;
}

static inline uint32_t
eng_answer_share(uint32_t n)
{
    uint32_t share = eng_answer_half(n) / (2 * (n > 1 ? n - 1 : 1));
    return share < 2 * ENG_CATCHUP_MAX ? share : 2 * ENG_CATCHUP_MAX;
}

/* The engine's clock arithmetic: a deadline is now_ns (the caller's, any
 * u64 that never goes back) plus a period. Sums and products saturate at
 * UINT64_MAX instead of wrapping to a time long past (before, an engine
 * started near UINT64_MAX failed a ballot at every step). */
static inline uint64_t
eng_ns_add(uint64_t a, uint64_t b)
{
    uint64_t s;
    return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

static inline uint64_t
eng_ns_mul(uint64_t a, uint64_t b)
{
    uint64_t p;
    return __builtin_mul_overflow(a, b, &p) ? UINT64_MAX : p;
}

/* Catch-up answers to one peer are also paced in time (catchup.c): one
 * every ENG_ANSWER_NS of the engine's clock (1,000 a millisecond), up to
 * ENG_ANSWER_BURST at once (per step alone, one peer's STATUS frame in
 * each step drew two stretches of answers with their bytes). */
#define ENG_ANSWER_NS 1000u
#define ENG_ANSWER_BURST (8u * ENG_CATCHUP_MAX)

/* Instances whose own messages are resent per retransmit tick. */
#define ENG_RETX_MAX 64u
/* Broadcast frames per flush kept for re-addressing to the other peers. */
#define ENG_TMPL_MAX 16u
/* Value buffers per slot: one per generation's 2a, the decided value, one
 * per 2av history entry (the bytes of every value this party vouches for,
 * so a later leader - this party included - can propose it again), and one
 * for bytes a peer sent with its 1b (VALUE records). The decision and the
 * history entries borrow their generation's 2a buffer instead of copying
 * it; their own buffers are written when that generation takes another
 * ballot (eng_vote_gen_leaving), or for bytes from elsewhere. */
#define ENG_HIST_BUF0 (ENG_GENS + 1u)
#define ENG_FETCH_BUF (ENG_HIST_BUF0 + BPC_HISTORY_MAX)
#define ENG_VALUE_BUFS (ENG_FETCH_BUF + 1u)
/* Votes on decided instances without a slot, persisted per step. */
#define ENG_VOUCH_MAX 64u
/* Decided records one batch may carry, in windows (persist.c): the floor
 * moves at most a window per step, and a batch is due once it moved one. */
#define ENG_DECIDED_BATCH_MAX 2u
/* Durable values a dirty slot adds to a batch at most: its newest 2av
 * history entry's and its maxVVal's, or a held decided slot's value
 * (persist.c). A batch also carries one per decided record and vouch
 * record: ENG_VALS_MAX(W) in all. */
#define ENG_VALS_PER_SLOT 2u
#define ENG_VALS_MAX(w) ((w) * (ENG_VALS_PER_SLOT + ENG_DECIDED_BATCH_MAX) + ENG_VOUCH_MAX)
/* Anti-replay window per sender (admit.c): ENG_REPLAY_BITS frames up to
 * ENG_REPLAY_FULL_PARTIES parties; above, ENG_REPLAY_TOTAL_BITS / n
 * (a power of two, at least 64), so the bitmaps stay 8 KiB in all. */
#define ENG_REPLAY_BITS 1024u
#define ENG_REPLAY_FULL_PARTIES 64u
#define ENG_REPLAY_TOTAL_BITS (ENG_REPLAY_BITS * ENG_REPLAY_FULL_PARTIES)
/* Command and frame sequence numbers: (incarnation << ENG_SEQ_BITS) + n
 * (n may pass 2^40: persist.c eng_seq_room). */
#define ENG_SEQ_BITS 40u
/* How far before the end of an incarnation range the next is persisted. */
#define ENG_SEQ_MARGIN ((uint64_t)1 << 32)
#define ENG_SEQ_LOW(q) ((q) & (((uint64_t)1 << ENG_SEQ_BITS) - 1u))

#ifdef BPC_TRACE
#define ENG_IGNORED(e)                                                                             \
    do {                                                                                           \
        (e)->ctr.records_ignored++;                                                                \
        fprintf(stderr, "T p%u ignored at %s:%d\n", (e)->self, __FILE__, __LINE__);                \
    } while (0)
#else
#define ENG_IGNORED(e) ((e)->ctr.records_ignored++)
#endif

/* ------------------------------------------------------------------------
 * Element types.
 * ---------------------------------------------------------------------- */

/* Sender sets per generation (tally.c); ENG_GENS indexes the DECIDED set. */
enum eng_seen { SEEN_1B = 0, SEEN_2AV, SEEN_2B, SEEN_PER_GEN };

struct eng_val_tally {
    struct bpc_vid vid;
    bpc_u128 weight;
};

/* One generation's tallies (tally.c): 1b weights and claims, 2av and 2b
 * weights by value. Only the first n2av (n2b) entries of t2av (t2b) are
 * live; those past them are left over from a reused slot and never read. */
struct eng_gen_tally {
    bpc_u128 w_1b_empty;
    bpc_u128 w_1b;
    uint32_t claims; /* list head: claim pool entry + 1; 0: none */
    uint32_t claims_count;
    uint8_t n2av;
    uint8_t n2b;
    struct eng_val_tally t2av[BPC_TALLY_VALUES_MAX];
    struct eng_val_tally t2b[BPC_TALLY_VALUES_MAX];
};

/* One generation's 2a (instance.c). */
struct eng_gen_2a {
    bool has_2a;
    bool proposed;    /* this party (as leader) sent the 2a */
    bool from_queue;  /* ... built from its own queue, whose every command was
                         checked as its submitter's when it was queued */
    uint8_t refused;  /* REFUSE to the leader: 0 not sent, 1 a MAC was missing
                         at a retransmit tick, 2 sent */
    uint16_t leader1; /* the ballot's leader + 1, once elected (eng_gen_leader); 0: not yet */
    struct bpc_vid v2a;
};

/* One ballot of one instance: one member per owning module. */
struct eng_gen {
    uint64_t ballot;        /* window.c: the ballot tallied here; 0: unused */
    struct eng_gen_2a a;    /* instance.c */
    struct eng_gen_tally t; /* tally.c */
};

/* One instance's vote state and decision (instance.c). Other modules read
 * it through the accessors in instance.h and change it only through
 * instance.c's functions. */
struct eng_vote {
    /* Durable. */
    uint64_t max_vbal;
    struct bpc_vid max_vval;
    uint8_t hist_count;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
    /* Volatile. */
    uint8_t hist_buf[BPC_HISTORY_MAX]; /* entry k's bytes: buffer ENG_HIST_BUF0 + this */
    uint8_t hist_has;                  /* bit k: entry k's bytes are at hand ... */
    uint8_t hist_lent;                 /* ... bit k: in the 2a buffer of the generation at
                                          hist_bal[k], lent until it tallies another ballot
                                          (eng_vote_gen_leaving), not in entry k's buffer */
    bool decided;
    bool dec_bytes;
    /* The 2b quorum that decided it needed this party's own 2b, not yet
     * durable when it was counted: not applied while the slot's vote state
     * or a batch of records waits for bpc_engine_persisted (window.c). */
    bool dec_wait;
    /* Where a DIGEST decision's bytes are: 0, value buffer ENG_GENS; g + 1,
     * generation g's 2a buffer, lent until g tallies another ballot
     * (eng_vote_gen_leaving copies them to ENG_GENS first). */
    uint8_t dec_from;
    uint64_t dec_ballot;      /* as learned; a DECIDED claim's ballot is a peer's word */
    struct bpc_vid fetch_vid; /* value whose bytes sit in ENG_FETCH_BUF (a peer's) */
    struct bpc_vid dec_vid;
    struct bpc_vid dur_vid; /* the last DIGEST value whose bytes went to persist
                               (persist.c: not sent again for this instance) */
    /* The clean floor: the highest ballot at which this party found a 2a
     * safe by case (a), so no value was or can be chosen below it
     * (reported in its 1b; docs/ENGINE.md, "Clean floors"). Durable as
     * the vote record's last history entry, of kind NONE. */
    uint64_t clean;
    /* held.c: why the 2a at bal is held back (enum eng_held; its slot's
     * bit in e->hd.bits is set while not ENG_HELD_NONE), whether its
     * KnowsSafeAt view changed since, how many of its commands were proven
     * (their MACs are not verified again), the proof epoch then, and,
     * held for a MAC, its first unproven command's submitter (UINT32_MAX:
     * none known), sequence number and MAC place (+ 1; 0: none, an own
     * command) with that place's stamp then (an own command: 1 when it
     * was not submitted yet), and whether that command was applied then
     * (its applying since cannot prove it: it was tried). */
    uint8_t held;
    bool held_view;
    bool held_applied;
    uint32_t held_proven;
    uint32_t held_epoch;
    uint32_t held_place;
    uint32_t held_stamp;
    uint32_t held_sub;
    uint64_t held_seq;
};

/* One instance in the window: one member per owning module. */
struct eng_slot {
    uint64_t tag;       /* window.c: the instance held + 1; 0: never used (zeroed
                           storage needs no pass at init) */
    uint64_t emit_step; /* window.c: step that emitted it (its bytes are lent until then) */
    bool dirty;         /* persist.c: on the dirty list */
    uint8_t ndec;       /* tally.c: DECIDED claims, by value (tdec[0, ndec) live) */
    bool dec_lost;      /* tally.c: claim weight was cancelled since claims started */
    uint8_t dec_pinned; /* tally.c: tdec[0, dec_pinned) never cancelled (eng_claims_pin) */
    struct eng_val_tally tdec[ENG_CLAIM_PLACES];
    struct eng_vote v;            /* instance.c */
    struct eng_gen gen[ENG_GENS]; /* window.c, tally.c, instance.c (see eng_gen) */
};

/* Where a queued record's DIGEST bytes live. A round can span steps (tx
 * buffers run out), and by the time a record is written the storage may
 * hold another value: eng_out_val checks the source still holds it. */
enum eng_src {
    SRC_NONE,  /* no bytes */
    SRC_SLOT,  /* a slot's value buffer: src_slot, src_which */
    SRC_OWN,   /* the own-command arena: src_slot is the ring index */
    SRC_DRING, /* a recent decision's bytes: src_slot is the dring index */
    SRC_LOG,   /* the decided log's entry of the record's instance, read again */
};

/* A queued record (outbox.c). */
struct eng_out {
    struct bpc_record r;
    uint32_t peer;      /* unicast target; in the broadcast queue UINT32_MAX, or
                           for an ATTEST the one peer it is not for */
    uint32_t next;      /* a unicast of the flush round being sent: the index
                           of the round's next one for the same peer (uq_round:
                           none; outbox.c, eng_uq_chain) */
    const uint8_t *val; /* DIGEST bytes for 2A/DECIDED/FORWARD */
    uint32_t src_slot;
    uint8_t src;       /* enum eng_src */
    uint8_t src_which; /* value buffer of the slot */
    uint8_t alone;     /* a vote sent again (eng_broadcast_alone): never in a run */
};

/* A queued command (ring, own pending list, or leader queue; submit.c). */
struct eng_cmd {
    uint32_t submitter;
    uint32_t len;
    uint64_t seq;
};

/* A recent decision, kept after its slot is reused (window.c): enough to
 * report the decided value in later ballots (see eng_report_decided) and
 * to hand its bytes to a party that lags (dring_bytes), whatever instance
 * numbers peers name. */
struct eng_dec {
    uint64_t instance;
    uint64_t ballot;     /* as learned (a peer's DECIDED claim may name any
                            ballot): informational, never reported as a vote */
    uint64_t mbal;       /* this party's real maxVBal for the instance ... */
    struct bpc_vid mval; /* ... and maxVVal (what its 1b reports name) */
    uint64_t vote_hi;    /* highest ballot of any 2av or 2b this party sent */
    struct bpc_vid vid;
    bool has_bytes; /* DIGEST value: its bytes are in dring_bytes */
};

/* A leader's view of one submitter (leaderq.c): the last ballot it led
 * at which a party refused a command of it (REFUSE), the last at which a
 * value holding a command of it failed, and until when none of its
 * commands is queued. */
struct eng_hold {
    uint64_t refused_bal;
    uint64_t failed_bal;
    uint64_t held_until;
    uint64_t alone_until; /* until then its commands go only in values of their own */
    bool failed_alone;    /* the value that failed at failed_bal held only its commands */
};

/* A submitter's MAC for one of its commands (ATTEST), by sequence number. */
struct eng_att {
    uint64_t seq; /* 0: none */
    uint8_t mac[BPC_CMD_MAC_BYTES];
    bool wait;      /* a held 2a waits for the MAC at this place (eng_cmds_check) */
    uint32_t stamp; /* bumped when seq or mac change (held values noted here) */
    /* The instances + 1 (0: none) whose decided values held the last two
     * commands applied from this place (applied_at the newer): a copy of
     * either is proven by those bytes while the recent-decision ring keeps
     * them (eng_applied_copy). Before (review A13's F1), only the last:
     * a copy of the one before, which a leader lagging a place's reuse
     * behind proposes, was held back. */
    uint64_t applied_at;
    uint64_t applied_before;
};

struct eng_cell {
    _Atomic uint64_t seq;
    uint32_t len;
};

/* The state of each module (e->bl, e->in, ...). */
#include "state.h"

struct bpc_engine {
    /* Immutable after init; read by every module. */
    struct bpc_config cfg;
    uint8_t digest[BPC_DIGEST_BYTES];
    bpc_u128 total;
    bpc_u128 threshold;
    bpc_u128 faulty;
    uint32_t n;
    uint32_t self;
    uint32_t words;  /* u64 words per sender bitset */
    uint32_t window; /* slots */
    uint32_t active; /* instances in flight: [nu, nu + active) */
    uint64_t mask;
    uint32_t vbytes; /* value storage stride */

    /* The step context, written by engine.c only. */
    uint64_t now_ns;
    bool started;
    uint64_t step_no;
    struct bpc_step_out *cur_out; /* the step's output, for emitting as soon as decided */

    struct eng_ballot_state bl;
    struct eng_instance_state in;
    struct eng_held_state hd;
    struct eng_report_state rp;
    struct eng_tally_state ty;
    struct eng_window_state win;
    struct eng_outbox_state ob;
    struct eng_submit_state sub;
    struct eng_catchup_state cu;
    struct eng_persist_state ps;
    struct eng_runs_state vr;
    struct eng_rx_state rx;

    struct bpc_counters ctr; /* any module counts */
    void *alloc_base;        /* bpc_engine_new storage (mapped) ... */
    size_t alloc_len;        /* ... and its length */
};

/* Caller storage as carved by engine.c (the layout, layout.h); each
 * module's eng_*_carve takes its own pieces. */
struct eng_mem;

/* ------------------------------------------------------------------------
 * Shared helpers (configuration only).
 * ---------------------------------------------------------------------- */

static inline uint64_t
eng_weight(const struct bpc_engine *e, uint32_t party)
{
    return e->cfg.weights[party];
}

static inline bool
eng_paced(const struct bpc_engine *e)
{
    return e->cfg.mode == BPC_MODE_PACED;
}

static inline bool
eng_bit_test(const uint64_t *bits, uint32_t i)
{
    return (bits[i / 64] >> (i % 64)) & 1u;
}

static inline void
eng_bit_set(uint64_t *bits, uint32_t i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

#endif /* BPC_CORE_H */
