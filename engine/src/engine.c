/*
 * engine.c - the BPCon step engine: one party's vote state for a window of
 * instances under one party-wide ballot, driven by received frames and the
 * caller's clock.
 *
 * Owns: frame admission (header, replay window, tag, decode), per-instance
 * tallies, the phase transitions of PROTOCOL.md section 3, ballots and
 * deadlines, durability holds, and frame output. Must never: allocate,
 * lock, sleep, read a clock or entropy, or call DPDK. All memory is carved
 * out of the caller's storage at init.
 *
 * Names follow BPConProof.tla on purpose: max_bal, max_vbal, max_vval.
 */
#include "internal.h"
#include "prng.h"
#include "safe.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* Ballot generations tallied per slot: the current ballot and one other
 * (a future ballot being joined, or the previous one finishing). */
#define ENG_GENS 2u
/* Catch-up: DECIDED records sent in answer to one STATUS. */
#define ENG_CATCHUP_MAX 128u
/* Instances whose own messages are resent per retransmit tick. */
#define ENG_RETX_MAX 64u
/* Value buffers per slot: one per generation's 2a, the decided value, and
 * the newest value this party voted for (kept with the vote state, so a
 * later leader - this party included - can propose it again). */
#define ENG_VOTE_BUF (ENG_GENS + 1u)
#define ENG_VALUE_BUFS (ENG_GENS + 2u)
/* Votes on decided instances without a slot, persisted per step. */
#define ENG_VOUCH_MAX 64u
/* Bound on the transition loop of one step. */
#define ENG_PUMP_ROUNDS 64u

enum eng_seen { SEEN_1B = 0, SEEN_2AV, SEEN_2B, SEEN_PER_GEN };

struct eng_val_tally {
    struct bpc_vid vid;
    bpc_u128 weight;
};

struct eng_claim {
    uint32_t next;
    struct bpc_1b_report rep;
};

struct eng_gen {
    uint64_t ballot; /* 0: unused */
    bpc_u128 w_1b_empty;
    bpc_u128 w_1b;
    uint32_t claims; /* list head in the claim pool, UINT32_MAX: none */
    uint32_t claims_count;
    uint8_t n2av;
    uint8_t n2b;
    bool has_2a;
    bool proposed; /* this party (as leader) sent the 2a */
    struct bpc_vid v2a;
    struct eng_val_tally t2av[BPC_TALLY_VALUES_MAX];
    struct eng_val_tally t2b[BPC_TALLY_VALUES_MAX];
};

struct eng_slot {
    uint64_t instance; /* UINT64_MAX: never used */
    /* Durable vote state. */
    uint64_t max_vbal;
    struct bpc_vid max_vval;
    uint8_t hist_count;
    uint64_t hist_bal[BPC_HISTORY_MAX];
    struct bpc_vid hist_val[BPC_HISTORY_MAX];
    /* Volatile. */
    bool dirty;
    bool decided;
    bool dec_bytes;
    uint8_t ndec;
    uint64_t dec_ballot;     /* as learned; a DECIDED claim's ballot is a peer's word */
    uint64_t dec_own;        /* ballot of a 2b quorum this party counted itself, 0: none */
    uint64_t emit_step;      /* step that emitted it: its bytes are lent until then */
    struct bpc_vid vote_vid; /* value whose bytes sit in the vote buffer */
    struct bpc_vid dec_vid;
    struct eng_val_tally tdec[BPC_TALLY_VALUES_MAX];
    struct eng_gen gen[ENG_GENS];
};

/* Where a queued record's DIGEST bytes live. A round can span steps (tx
 * buffers run out), and by the time a record is written the storage may
 * hold another value: eng_out_val checks the source still holds it. */
enum eng_src {
    SRC_NONE,  /* no bytes (or stable until the round ends: catch-up arena) */
    SRC_SLOT,  /* a slot's value buffer: src_slot, src_which */
    SRC_OWN,   /* the own-command arena: src_slot is the ring index */
    SRC_DRING, /* a recent decision's bytes: src_slot is the dring index */
};

struct eng_out {
    struct bpc_record r;
    uint32_t peer;      /* unicast target; UINT32_MAX in the broadcast queue */
    const uint8_t *val; /* DIGEST bytes for 2A/DECIDED/FORWARD */
    uint32_t src_slot;
    uint8_t src;       /* enum eng_src */
    uint8_t src_which; /* value buffer of the slot */
};

/* A queued command (ring, own pending list, or leader queue). */
struct eng_cmd {
    uint32_t submitter;
    uint32_t len;
    uint64_t seq;
};

/* A recent decision, kept after its slot is reused: enough to report the
 * decided value in later ballots (see eng_report_decided) and to hand its
 * bytes to a party that lags (dring_bytes), whatever instance numbers
 * peers name. */
struct eng_dec {
    uint64_t instance;
    uint64_t ballot;     /* as learned (a peer's DECIDED claim may name any
                            ballot): informational, never reported as a vote */
    uint64_t report_bal; /* what 1b reports name: max(own maxVBal, dec_own) */
    uint64_t vote_hi;    /* highest ballot of any 2av or 2b this party sent */
    struct bpc_vid vid;
    bool has_bytes; /* DIGEST value: its bytes are in dring_bytes */
};

/* A submitter's MAC for one of its commands (ATTEST), by sequence number. */
struct eng_att {
    uint64_t seq; /* 0: none */
    uint8_t mac[BPC_CMD_MAC_BYTES];
};

struct eng_bal_w {
    uint64_t ballot;
    uint64_t weight;
};

struct eng_cell {
    _Atomic uint64_t seq;
    uint32_t len;
};

struct bpc_engine {
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

    uint64_t now_ns;
    bool started;
    uint64_t bal;     /* current ballot */
    uint64_t max_bal; /* durable: never lowered */
    bool max_bal_dirty;
    uint64_t incarnation;
    int leader;
    bool sent_1b;
    bool sent_1a;
    bool got_1a;
    uint32_t events;
    uint64_t round_start_ns;
    uint64_t deadline_ns;
    uint64_t retx_ns;
    uint32_t fails;
    uint64_t nu;                  /* next instance to emit (all below are decided) */
    uint64_t next_prop;           /* leader: next instance to consider */
    uint64_t claims_hi;           /* one past the highest instance a 1b at bal reported voted */
    bool recheck;                 /* a 1b arrived or an event fired: re-check pending 2a */
    uint64_t sent_1b_lo;          /* lowest instance this party's 1b at bal covers */
    uint64_t held_lo;             /* lowest decided instance a lagging leader asked about */
    bool catching_up;             /* decisions learned from DECIDED this step: ask for more */
    uint64_t cu_req_nu;           /* nu when the last pipelined catch-up request left */
    struct bpc_step_out *cur_out; /* the step's output, for emitting as soon as decided */
    uint64_t step_no;
    bool voted_at_bal; /* a 2av or 2b at bal left: 1b(bal) can no longer be rebuilt */
    struct bpc_prng prng;

    uint64_t *range_bal;
    uint64_t *range_from;
    uint64_t *seq_last;
    uint64_t *seq_bits;
    uint64_t *tx_seq;
    uint64_t *peer_bal;    /* highest ballot seen in any message of each party */
    struct eng_dec *dring; /* recent decisions by instance modulo dring_len */
    uint32_t dring_len;
    uint8_t *dring_bytes; /* DIGEST bytes of recent decisions (vbytes each) */
    struct eng_att *att;  /* per submitter: att_slots MACs by sequence number */
    uint32_t att_slots;   /* power of two: own commands forwarded ahead of the
                             oldest unapplied one, at most */
    bool auth_wait;       /* a 2a waits for a command MAC: ATTESTs re-check */
    uint64_t *witness;    /* per submitter: a forwarded command next in line */
    struct eng_bal_w *bal_scratch;

    struct eng_slot *slots;
    uint64_t *bits;  /* per slot: ENG_GENS * SEEN_PER_GEN + 1 bitsets */
    uint8_t *values; /* per slot: ENG_VALUE_BUFS value buffers */
    struct eng_claim *claims;
    uint32_t claims_cap;
    uint32_t claims_free;
    struct bpc_1b_report *scratch; /* n reports */

    /* Commands. The submit ring is the only structure other threads touch
     * (bounded MPMC ring in the style of D. Vyukov's queue; one consumer). */
    struct eng_cell *ring;
    _Atomic uint64_t ring_tail;
    uint64_t ring_head;
    uint32_t cmd_mask;   /* commands_max - 1, for ring, own and lq */
    uint32_t cmd_stride; /* bytes per command buffer */
    uint8_t *ring_bytes;
    /* Own commands not yet applied, in sequence order. */
    struct eng_cmd *own;
    uint8_t *own_bytes;
    uint64_t own_head;
    uint64_t own_tail;
    uint64_t own_sent; /* next own command to forward to the leader */
    _Atomic uint64_t applied_own;
    /* Leader: commands waiting for a value. */
    struct eng_cmd *lq;
    uint8_t *lq_bytes;
    uint64_t lq_head;
    uint64_t lq_tail;
    uint64_t *applied_hi;    /* per submitter: last applied sequence number */
    uint64_t *queued_hi;     /* per submitter: last queued at this leader */
    uint32_t *applied_dirty; /* submitters whose applied_hi changed since the
                                last durable batch */
    uint32_t applied_dirty_count;
    uint8_t *applied_listed;
    uint64_t queued_bal;
    uint8_t *batch_buf; /* value_bytes_max: encode/catch-up scratch */
    uint8_t *cu_buf;    /* catch-up values read back from the log */
    uint32_t cu_used;
    uint32_t cu_round; /* catch-up buffers taken before the open round began */

    /* Outbox: broadcast ring and unicast list. */
    struct eng_out *bq;
    uint32_t bq_cap;
    uint32_t bq_head;
    uint32_t bq_count;
    uint32_t bq_round; /* records of the round being flushed */
    uint32_t flush_peer;
    uint32_t flush_k; /* where flush_peer's round stopped: broadcast index */
    uint32_t flush_u; /* ... and unicast index */
    struct eng_out *uq;
    uint32_t uq_cap;
    uint32_t uq_count;
    uint32_t uq_round; /* unicasts of the round being flushed */
    bool round_open;   /* a flush round is under way (it can span steps) */
    struct eng_out *selfq;
    uint32_t selfq_cap;
    uint32_t selfq_count;
    bool persist_pending;

    struct bpc_durable *dur;
    uint32_t dur_cap;
    struct bpc_durable *vouch; /* votes on decided instances whose slots are
                                  gone (eng_vote_decided), to persist */
    uint32_t vouch_count;
    uint32_t *dirty;
    uint32_t dirty_count;

    struct bpc_record *recs; /* decode scratch */
    uint32_t recs_cap;

    struct bpc_counters ctr;
    void *alloc_base; /* bpc_engine_new storage */
};

static bool eng_batch_ok(const struct bpc_engine *e, const uint8_t *value, uint32_t len);

/* Command sequence numbers: (incarnation << ENG_SEQ_BITS) | n. */
#define ENG_SEQ_BITS 40u
#define ENG_SEQ_LOW(q) ((q) & (((uint64_t)1 << ENG_SEQ_BITS) - 1u))

static uint8_t *
eng_cmd_bytes(const struct bpc_engine *e, uint8_t *arena, uint64_t pos)
{
    return arena + (size_t)(pos & e->cmd_mask) * e->cmd_stride;
}
static void eng_emit(struct bpc_engine *e, struct bpc_step_out *out);
static void eng_on_forward(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);
static void eng_on_attest(struct bpc_engine *e, uint32_t p, const struct bpc_record *r);

#ifdef BPC_TRACE
#define ENG_IGNORED(e)                                                                             \
    do {                                                                                           \
        (e)->ctr.records_ignored++;                                                                \
        fprintf(stderr, "T p%u ignored at line %d\n", (e)->self, __LINE__);                        \
    } while (0)
#else
#define ENG_IGNORED(e) ((e)->ctr.records_ignored++)
#endif

/* ------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------- */

/* Jitter only, never safety. */
static uint64_t
eng_prng_next(struct bpc_engine *e)
{
    return bpc_prng_next(&e->prng);
}

static bool
eng_bit_test(const uint64_t *bits, uint32_t i)
{
    return (bits[i / 64] >> (i % 64)) & 1u;
}

static void
eng_bit_set(uint64_t *bits, uint32_t i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static uint64_t *
eng_slot_bits(struct bpc_engine *e, const struct eng_slot *s, uint32_t gen, enum eng_seen kind)
{
    size_t slot_index = (size_t)(s - e->slots);
    size_t per_slot = (size_t)(ENG_GENS * SEEN_PER_GEN + 1) * e->words;
    size_t off = gen == ENG_GENS ? (size_t)ENG_GENS * SEEN_PER_GEN
                                 : (size_t)gen * SEEN_PER_GEN + (size_t)kind;
    return e->bits + slot_index * per_slot + off * e->words;
}

/* Value buffer of a slot: gen 0..ENG_GENS-1 for 2a values, ENG_GENS for the
 * decided value. */
static uint8_t *
eng_slot_value(struct bpc_engine *e, const struct eng_slot *s, uint32_t which)
{
    size_t slot_index = (size_t)(s - e->slots);
    return e->values + (slot_index * ENG_VALUE_BUFS + which) * e->vbytes;
}

static uint64_t
eng_weight(const struct bpc_engine *e, uint32_t party)
{
    return e->cfg.weights[party];
}

static bool
eng_is_leader(const struct bpc_engine *e)
{
    return e->leader >= 0 && (uint32_t)e->leader == e->self;
}

static bool
eng_paced(const struct bpc_engine *e)
{
    return e->cfg.mode == BPC_MODE_PACED;
}

static bool
eng_event_fired(const struct bpc_engine *e, enum bpc_event ev)
{
    return !eng_paced(e) || (e->events & (1u << ev)) != 0;
}

static uint64_t
eng_timeout(struct bpc_engine *e)
{
    uint32_t shift =
        e->fails < e->cfg.timeout_growth_max_shift ? e->fails : e->cfg.timeout_growth_max_shift;
    uint64_t base = e->cfg.ballot_timeout_ns << shift;
    uint64_t jitter = base / 4 ? eng_prng_next(e) % (base / 4) : 0;
    return base + jitter;
}

/* ------------------------------------------------------------------------
 * Slots and generations.
 * ---------------------------------------------------------------------- */

static bool
eng_in_window(const struct bpc_engine *e, uint64_t instance)
{
    return instance >= e->nu && instance - e->nu < e->window;
}

static void
eng_gen_free_claims(struct bpc_engine *e, struct eng_gen *gen)
{
    uint32_t c = gen->claims;
    while (c != UINT32_MAX) {
        uint32_t next = e->claims[c].next;
        e->claims[c].next = e->claims_free;
        e->claims_free = c;
        c = next;
    }
    gen->claims = UINT32_MAX;
    gen->claims_count = 0;
}

static void
eng_gen_reset(struct bpc_engine *e, struct eng_slot *s, uint32_t g, uint64_t ballot)
{
    struct eng_gen *gen = &s->gen[g];
    eng_gen_free_claims(e, gen);
    memset(gen, 0, sizeof(*gen));
    gen->ballot = ballot;
    gen->claims = UINT32_MAX;
    for (uint32_t k = 0; k < SEEN_PER_GEN; k++) {
        memset(eng_slot_bits(e, s, g, (enum eng_seen)k), 0, e->words * sizeof(uint64_t));
    }
}

/* Ballot of the highest 2av or 2b this party sent for the slot's instance
 * (the history is kept highest first). */
static uint64_t
eng_slot_vote_hi(const struct eng_slot *s)
{
    uint64_t hi = s->max_vbal;
    if (s->hist_count > 0 && s->hist_bal[0] > hi) {
        hi = s->hist_bal[0];
    }
    return hi;
}

static struct eng_dec *
eng_dring_at(const struct bpc_engine *e, uint64_t instance)
{
    return &e->dring[instance % e->dring_len];
}

static const struct eng_dec *
eng_dring_find(const struct bpc_engine *e, uint64_t instance)
{
    const struct eng_dec *d = eng_dring_at(e, instance);
    return d->instance == instance && d->vid.kind != BPC_VALUE_NONE ? d : NULL;
}

/* A held slot is about to be reused: its recent decision keeps what the
 * slot's later votes and 2b quorums add to the report ballot. */
static void
eng_slot_retire(struct bpc_engine *e, const struct eng_slot *s)
{
    struct eng_dec *d = eng_dring_at(e, s->instance);
    if (d->instance != s->instance) {
        return;
    }
    uint64_t rb = s->max_vbal > s->dec_own ? s->max_vbal : s->dec_own;
    d->report_bal = rb > d->report_bal ? rb : d->report_bal;
    uint64_t vh = eng_slot_vote_hi(s);
    d->vote_hi = vh > d->vote_hi ? vh : d->vote_hi;
}

static struct eng_slot *
eng_slot_get(struct bpc_engine *e, uint64_t instance)
{
    if (instance < e->nu) {
        /* Decided and emitted, but still held until its slot is reused:
         * the party keeps voting and reporting on it for peers that lag. */
        struct eng_slot *held = &e->slots[instance & e->mask];
        return held->instance == instance ? held : NULL;
    }
    if (!eng_in_window(e, instance)) {
        return NULL;
    }
    struct eng_slot *s = &e->slots[instance & e->mask];
    if (s->instance != instance) {
        BPC_ASSERT(s->instance == UINT64_MAX || s->instance < e->nu);
        if (s->instance != UINT64_MAX && s->emit_step == e->step_no &&
            s->dec_vid.kind == BPC_VALUE_DIGEST) {
            return NULL; /* its bytes are lent to this step's decisions */
        }
        if (s->instance != UINT64_MAX) {
            eng_slot_retire(e, s);
        }
        for (uint32_t g = 0; g < ENG_GENS; g++) {
            eng_gen_reset(e, s, g, 0);
        }
        struct eng_gen saved[ENG_GENS];
        memcpy(saved, s->gen, sizeof(saved));
        bool listed = s->dirty; /* already on the dirty list: stays once */
        memset(s, 0, sizeof(*s));
        memcpy(s->gen, saved, sizeof(saved));
        s->instance = instance;
        s->dirty = listed;
        memset(eng_slot_bits(e, s, ENG_GENS, SEEN_1B), 0, e->words * sizeof(uint64_t));
    }
    return s;
}

/* The generation tallying `ballot`; creates one for ballot >= bal. */
static int
eng_gen_find(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, bool create)
{
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        if (s->gen[g].ballot == ballot) {
            return (int)g;
        }
    }
    if (!create || ballot < e->bal) {
        return -1;
    }
    /* Victim: unused, then stale (below bal), then the lowest future ballot
     * that is not the current one. The current generation is never evicted. */
    int victim = -1;
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        uint64_t gb = s->gen[g].ballot;
        if (gb == e->bal) {
            continue;
        }
        if (victim < 0 || gb < s->gen[victim].ballot) {
            victim = (int)g;
        }
    }
    BPC_ASSERT(victim >= 0);
    uint64_t vb = s->gen[victim].ballot;
    if (ballot != e->bal && vb > e->bal && vb > ballot) {
        return -1; /* keep the nearer future ballot; the current one always fits */
    }
    eng_gen_reset(e, s, (uint32_t)victim, ballot);
    return victim;
}

/* ------------------------------------------------------------------------
 * Outbox.
 * ---------------------------------------------------------------------- */

/* Records where val lives (see enum eng_src). */
static void
eng_out_set(struct bpc_engine *e, struct eng_out *o, const struct bpc_record *r, uint32_t peer,
            const uint8_t *val)
{
    o->r = *r;
    o->peer = peer;
    o->val = val;
    o->src = SRC_NONE;
    o->src_slot = 0;
    o->src_which = 0;
    if (val == NULL) {
        return;
    }
    size_t values_len = (size_t)e->window * ENG_VALUE_BUFS * e->vbytes;
    size_t own_len = (size_t)(e->cmd_mask + 1) * e->cmd_stride;
    if (val >= e->values && val < e->values + values_len) {
        size_t buf = (size_t)(val - e->values) / e->vbytes;
        o->src = SRC_SLOT;
        o->src_slot = (uint32_t)(buf / ENG_VALUE_BUFS);
        o->src_which = (uint8_t)(buf % ENG_VALUE_BUFS);
    } else if (val >= e->own_bytes && val < e->own_bytes + own_len) {
        o->src = SRC_OWN;
        o->src_slot = (uint32_t)((size_t)(val - e->own_bytes) / e->cmd_stride);
    } else if (e->vbytes > 0 && val >= e->dring_bytes &&
               val < e->dring_bytes + (size_t)e->dring_len * e->vbytes) {
        o->src = SRC_DRING;
        o->src_slot = (uint32_t)((size_t)(val - e->dring_bytes) / e->vbytes);
    }
}

/* The bytes of a queued record if its source still holds them; NULL when
 * the value has moved on (the record is then not sent: its instance was
 * decided and reused, its ballot left behind, or its command applied). */
static const uint8_t *
eng_out_val(const struct bpc_engine *e, const struct eng_out *o)
{
    if (o->src == SRC_SLOT) {
        const struct eng_slot *s = &e->slots[o->src_slot];
        if (s->instance != o->r.instance) {
            return NULL;
        }
        if (o->src_which < ENG_GENS) {
            const struct eng_gen *g = &s->gen[o->src_which];
            return g->ballot == o->r.ballot && bpc_vid_eq(&g->v2a, &o->r.value) ? o->val : NULL;
        }
        if (o->src_which == ENG_GENS) {
            return s->decided && s->dec_bytes && bpc_vid_eq(&s->dec_vid, &o->r.value) ? o->val
                                                                                      : NULL;
        }
        return bpc_vid_eq(&s->vote_vid, &o->r.value) ? o->val : NULL;
    }
    if (o->src == SRC_OWN) {
        const struct eng_cmd *c = &e->own[o->src_slot];
        uint64_t live = e->own_tail - e->own_head;
        uint64_t at = (o->src_slot - e->own_head) & e->cmd_mask;
        return at < live && c->seq == o->r.instance ? o->val : NULL;
    }
    if (o->src == SRC_DRING) {
        const struct eng_dec *d = &e->dring[o->src_slot];
        return d->instance == o->r.instance && d->has_bytes && bpc_vid_eq(&d->vid, &o->r.value)
                   ? o->val
                   : NULL;
    }
    return o->val;
}

static void
eng_self_push(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    if (e->selfq_count == e->selfq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->selfq[e->selfq_count++], r, e->self, val);
}

/* Queues r for every peer (not for this party). */
static void
eng_peers_push(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    if (e->n < 2) {
        return;
    }
    if (e->bq_count == e->bq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->bq[(e->bq_head + e->bq_count) % e->bq_cap], r, UINT32_MAX, val);
    e->bq_count++;
}

/* Queues r for every peer and delivers it to this party too. */
static void
eng_broadcast(struct bpc_engine *e, const struct bpc_record *r, const uint8_t *val)
{
    eng_peers_push(e, r, val);
    eng_self_push(e, r, val);
}

static void
eng_unicast(struct bpc_engine *e, uint32_t peer, const struct bpc_record *r, const uint8_t *val)
{
    if (e->uq_count == e->uq_cap) {
        e->ctr.tx_overflow++;
        return;
    }
    eng_out_set(e, &e->uq[e->uq_count++], r, peer, val);
}

/* ------------------------------------------------------------------------
 * Durability.
 * ---------------------------------------------------------------------- */

static void
eng_mark_dirty(struct bpc_engine *e, struct eng_slot *s)
{
    if (!s->dirty) {
        s->dirty = true;
        BPC_ASSERT(e->dirty_count < e->window);
        e->dirty[e->dirty_count++] = (uint32_t)(s - e->slots);
    }
}

static void
eng_raise_max_bal(struct bpc_engine *e, uint64_t b)
{
    BPC_ASSERT(b >= e->max_bal);
    if (b > e->max_bal) {
        e->max_bal = b;
        e->max_bal_dirty = true;
    }
}

/* Records that v was sent in a 2av at ballot b: keeps the H highest
 * ballots, one entry per value. */
static void
eng_hist_add(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *v, uint64_t b)
{
    uint32_t k = 0;
    while (k < s->hist_count && !bpc_vid_eq(&s->hist_val[k], v)) {
        k++;
    }
    if (k == s->hist_count) {
        if (s->hist_count < BPC_HISTORY_MAX) {
            s->hist_count++;
        } else {
            k = s->hist_count - 1u; /* drop the lowest: liveness only */
        }
    }
    s->hist_val[k] = *v;
    s->hist_bal[k] = b;
    /* Keep sorted by ballot, highest first (insertion step). */
    while (k > 0 && s->hist_bal[k - 1] < s->hist_bal[k]) {
        uint64_t tb = s->hist_bal[k - 1];
        struct bpc_vid tv = s->hist_val[k - 1];
        s->hist_bal[k - 1] = s->hist_bal[k];
        s->hist_val[k - 1] = s->hist_val[k];
        s->hist_bal[k] = tb;
        s->hist_val[k] = tv;
        k--;
    }
    eng_mark_dirty(e, s);
}

static void
eng_collect_persist(struct bpc_engine *e, struct bpc_step_out *out)
{
    /* The party-wide record goes with every batch, so the persisted floor
     * is never more than a window below any persisted vote. */
    uint32_t count = 0;
    struct bpc_durable *pw = &e->dur[count++];
    memset(pw, 0, sizeof(*pw));
    pw->instance = UINT64_MAX;
    pw->max_bal = e->max_bal;
    pw->incarnation = e->incarnation;
    pw->floor = e->nu;
    e->max_bal_dirty = false;
    for (uint32_t k = 0; k < e->dirty_count; k++) {
        struct eng_slot *s = &e->slots[e->dirty[k]];
        s->dirty = false;
        struct bpc_durable *d = &e->dur[count++];
        memset(d, 0, sizeof(*d));
        d->instance = s->instance;
        d->max_bal = e->max_bal;
        d->incarnation = e->incarnation;
        d->floor = e->nu;
        d->max_vbal = s->max_vbal;
        d->max_vval = s->max_vval;
        d->hist_count = s->hist_count;
        memcpy(d->hist_bal, s->hist_bal, sizeof(d->hist_bal));
        memcpy(d->hist_val, s->hist_val, sizeof(d->hist_val));
    }
    e->dirty_count = 0;
    for (uint32_t k = 0; k < e->vouch_count; k++) {
        struct bpc_durable *d = &e->dur[count++];
        *d = e->vouch[k];
        d->max_bal = e->max_bal;
        d->incarnation = e->incarnation;
        d->floor = e->nu;
    }
    e->vouch_count = 0;
    /* Apply state as of the floor: a restart resumes applying from the
     * floor with the same per-submitter positions as everyone else. */
    for (uint32_t k = 0; k < e->applied_dirty_count; k++) {
        uint32_t sub = e->applied_dirty[k];
        e->applied_listed[sub] = 0;
        struct bpc_durable *d = &e->dur[count++];
        memset(d, 0, sizeof(*d));
        d->instance = BPC_DURABLE_APPLIED_BASE + sub;
        d->max_bal = e->max_bal;
        d->incarnation = e->incarnation;
        d->floor = e->nu;
        d->applied_seq = e->applied_hi[sub];
    }
    e->applied_dirty_count = 0;
    out->persist = count ? e->dur : NULL;
    out->persist_count = count;
    if (count > 0) {
        e->persist_pending = true;
    }
}

/* ------------------------------------------------------------------------
 * KnowsSafeAt views.
 * ---------------------------------------------------------------------- */

static bool
eng_range_covers(const struct bpc_engine *e, uint32_t s, uint64_t ballot, uint64_t instance)
{
    return e->range_bal[s] == ballot && e->range_from[s] <= instance;
}

/* Builds the view of the 1b(b) messages received for slot s. */
static void
eng_view(struct bpc_engine *e, struct eng_slot *s, uint32_t g, struct bpc_safe_view *v)
{
    const struct eng_gen *gen = &s->gen[g];
    const uint64_t *seen = eng_slot_bits(e, s, g, SEEN_1B);
    bpc_u128 empty = gen->w_1b_empty;
    for (uint32_t p = 0; p < e->n; p++) {
        if (!eng_bit_test(seen, p) && eng_range_covers(e, p, gen->ballot, s->instance)) {
            empty += eng_weight(e, p);
        }
    }
    uint32_t count = 0;
    for (uint32_t c = gen->claims; c != UINT32_MAX; c = e->claims[c].next) {
        e->scratch[count++] = e->claims[c].rep;
    }
    v->empty_weight = empty;
    v->reps = e->scratch;
    v->reps_count = count;
    v->weights = e->cfg.weights;
    v->threshold = e->threshold;
    v->faulty = e->faulty;
    v->ballot = gen->ballot;
}

/* ------------------------------------------------------------------------
 * Phase actions.
 * ---------------------------------------------------------------------- */

/* Is own command (seq, bytes) one this party submitted and has not applied? */
static bool
eng_own_holds(const struct bpc_engine *e, const struct bpc_command *c)
{
    if (e->own_head == e->own_tail) {
        return false;
    }
    uint64_t first = e->own[e->own_head & e->cmd_mask].seq;
    if (c->seq < first || (c->seq >> ENG_SEQ_BITS) != (first >> ENG_SEQ_BITS)) {
        return false;
    }
    uint64_t pos = e->own_head + (c->seq - first);
    if (pos >= e->own_tail) {
        return false;
    }
    const struct eng_cmd *own = &e->own[pos & e->cmd_mask];
    return own->seq == c->seq && own->len == c->len &&
           memcmp(eng_cmd_bytes(e, e->own_bytes, pos), c->bytes, c->len) == 0;
}

/*
 * Commands are the submitter's: every command (s, q, bytes) of a batch
 * proposed by `proposer` must be one s submitted under q. Proven by the 2a
 * itself when s is the proposer (its frame tag), by this party's own
 * pending list when s is this party, and otherwise by the MAC s sent this
 * party in an ATTEST record. A command at or below s's applied sequence is
 * skipped at every party whatever its bytes (the apply rule never applies
 * q <= applied_hi), so it needs no proof.
 */
static bool
eng_cmds_authentic(struct bpc_engine *e, const uint8_t *value, uint32_t len, uint32_t proposer)
{
    struct bpc_command c;
    int off = 0;
    while ((off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0) {
        if (c.submitter == proposer || c.seq <= e->applied_hi[c.submitter]) {
            continue;
        }
        if (c.submitter == e->self) {
            if (!eng_own_holds(e, &c)) {
                return false;
            }
            continue;
        }
        const struct eng_att *a =
            &e->att[(size_t)c.submitter * e->att_slots + (c.seq & (e->att_slots - 1u))];
        if (a->seq != c.seq ||
            !bpc_command_mac_ok(e->cfg.keys[c.submitter], c.seq, c.bytes, c.len, a->mac)) {
            return false;
        }
    }
    return off == 0;
}

/* The value of generation g may be voted for: a well-formed batch the
 * application accepts, and (check_cmds) whose commands are authentic. */
static bool
eng_value_ok(struct bpc_engine *e, struct eng_slot *s, uint32_t g, bool check_cmds)
{
    const struct bpc_vid *v = &s->gen[g].v2a;
    if (v->kind == BPC_VALUE_NOOP) {
        return true;
    }
    const uint8_t *bytes = v->kind == BPC_VALUE_INLINE ? v->id : eng_slot_value(e, s, g);
    if (!eng_batch_ok(e, bytes, v->len)) {
        return false;
    }
    if (check_cmds && !eng_cmds_authentic(e, bytes, v->len, (uint32_t)e->leader)) {
        e->ctr.cmd_unauthenticated++;
        e->auth_wait = true; /* an ATTEST still on its way re-checks it */
        return false;
    }
    return e->cfg.value_check == NULL || e->cfg.value_check(e->cfg.value_check_ctx, bytes, v->len);
}

static const uint8_t *
eng_gen_bytes(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    return s->gen[g].v2a.kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, g) : NULL;
}

/* 2av(b, v): only if max_bal <= b, no 2av at b or above was sent for this
 * instance, and KnowsSafeAt(b, v) holds by the 1b messages received. */
static void
eng_try_2av(struct bpc_engine *e, struct eng_slot *s)
{
    int g = eng_gen_find(e, s, e->bal, false);
    if (g < 0 || !s->gen[g].has_2a || !eng_event_fired(e, BPC_EVENT_LAUNCH_2AV)) {
        return;
    }
    if (s->hist_count > 0 && s->hist_bal[0] >= e->bal) {
        return; /* already sent a 2av at this ballot */
    }
    BPC_ASSERT(e->max_bal <= e->bal);
    struct bpc_safe_view view;
    eng_view(e, s, (uint32_t)g, &view);
    /* A value vouched for by a weak quorum of 2av reports (case b) was
     * checked by the correct party among them before it voted; a fresh
     * value (case a) is checked here, command by command. */
    bool vouched = bpc_safe_vouched(&view, &s->gen[g].v2a);
    if ((!vouched && !bpc_safe_at(&view, &s->gen[g].v2a)) ||
        !eng_value_ok(e, s, (uint32_t)g, !vouched)) {
        return; /* kept; re-checked as 1b messages (and ATTESTs) arrive */
    }
    eng_raise_max_bal(e, e->bal);
    e->voted_at_bal = true;
    eng_hist_add(e, s, &s->gen[g].v2a, e->bal);
    if (s->gen[g].v2a.kind == BPC_VALUE_DIGEST) {
        memcpy(eng_slot_value(e, s, ENG_VOTE_BUF), eng_slot_value(e, s, (uint32_t)g),
               s->gen[g].v2a.len);
        s->vote_vid = s->gen[g].v2a;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_2AV, s->instance, e->bal, 0, &s->gen[g].v2a);
    eng_broadcast(e, &r, NULL);
}

/* 2b(b, v): only if max_bal <= b and 2av for v at b came from a quorum. */
static void
eng_try_2b(struct bpc_engine *e, struct eng_slot *s)
{
    int g = eng_gen_find(e, s, e->bal, false);
    if (g < 0 || s->max_vbal >= e->bal || !eng_event_fired(e, BPC_EVENT_LAUNCH_2B)) {
        return;
    }
    const struct eng_gen *gen = &s->gen[g];
    for (uint32_t k = 0; k < gen->n2av; k++) {
        if (gen->t2av[k].weight >= e->threshold) {
            eng_raise_max_bal(e, e->bal);
            e->voted_at_bal = true;
            s->max_vbal = e->bal;
            s->max_vval = gen->t2av[k].vid;
            eng_mark_dirty(e, s);
            struct bpc_record r = bpc_record_make(BPC_MSG_2B, s->instance, e->bal, 0, &s->max_vval);
            eng_broadcast(e, &r, NULL);
            return;
        }
    }
}

/* Finds value bytes for vid among the slot's 2a generations. */
static const uint8_t *
eng_find_bytes(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid)
{
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        if (s->gen[g].has_2a && bpc_vid_eq(&s->gen[g].v2a, vid)) {
            return eng_slot_value(e, s, g);
        }
    }
    if (bpc_vid_eq(&s->vote_vid, vid)) {
        return eng_slot_value(e, s, ENG_VOTE_BUF);
    }
    if (s->decided && s->dec_bytes && bpc_vid_eq(&s->dec_vid, vid)) {
        return eng_slot_value(e, s, ENG_GENS);
    }
    return NULL;
}

static void
eng_decide(struct bpc_engine *e, struct eng_slot *s, uint64_t ballot, const struct bpc_vid *vid,
           const uint8_t *bytes, bool own)
{
    if (own && bpc_vid_eq(&s->dec_vid, vid) && ballot > s->dec_own) {
        s->dec_own = ballot;
    }
    if (s->decided) {
        /* Agreement: a second decision must name the same value. Two can
         * differ only with more than F faulty weight (the simulator's
         * --unsafe runs); count it, keep the first, never crash. */
        if (!bpc_vid_eq(&s->dec_vid, vid)) {
            e->ctr.conflicts++;
            return;
        }
        if (!s->dec_bytes && bytes != NULL) {
            memcpy(eng_slot_value(e, s, ENG_GENS), bytes, vid->len);
            s->dec_bytes = true;
        }
        return;
    }
    s->decided = true;
    s->dec_ballot = ballot;
    s->dec_own = own ? ballot : 0;
    s->dec_vid = *vid;
    s->dec_bytes = vid->kind != BPC_VALUE_DIGEST;
    if (vid->kind == BPC_VALUE_DIGEST) {
        if (bytes == NULL) {
            bytes = eng_find_bytes(e, s, vid);
        }
        if (bytes != NULL) {
            memcpy(eng_slot_value(e, s, ENG_GENS), bytes, vid->len);
            s->dec_bytes = true;
        } else {
            /* Decided by digest before the 2a's bytes arrived: usually the
             * 2a is just behind (eng_on_2a completes it); if it was lost,
             * the next STATUS brings the bytes from a peer. */
#ifdef BPC_TRACE
            fprintf(stderr, "T p%u t=%llu decided %llu without bytes (nu %llu)\n", e->self,
                    (unsigned long long)e->now_ns, (unsigned long long)s->instance,
                    (unsigned long long)e->nu);
#endif
        }
    }
    e->fails = 0;
    e->deadline_ns = e->now_ns + eng_timeout(e);
    if (e->cur_out != NULL && s->instance == e->nu) {
        /* Apply at once, so later records of the same burst already see
         * the window moved on. */
        eng_emit(e, e->cur_out);
    }
}

/* ------------------------------------------------------------------------
 * Ballots.
 * ---------------------------------------------------------------------- */

static uint64_t
eng_voted_hi(struct bpc_engine *e)
{
    uint64_t hi = UINT64_MAX; /* none */
    for (uint64_t i = e->nu; i - e->nu < e->window; i++) {
        const struct eng_slot *s = &e->slots[i & e->mask];
        if (s->instance == i && (s->hist_count > 0 || s->max_vbal > 0 || s->decided)) {
            hi = i;
        }
    }
    return hi;
}

/*
 * Vote reports (docs/ENGINE.md, "Vote reports", argues each against
 * KnowsSafeAt). A 1b(b) never under-reports: it names a maxVBal at least
 * the highest ballot this party sent a 2b at, and every real 2av history
 * entry it keeps. For an instance it knows decided with value v it may
 * overstate: a vote for v at rb = max(own maxVBal, the ballot of a 2b
 * quorum it counted itself), capped at b - 1, with a history entry for v
 * at rb. Naming the chosen value at or above one's own vote cannot make
 * another value safe. The ballot a DECIDED claim names is never used: a
 * Byzantine claimant picks it. rb == 0 (a decision learned only from
 * claims, no own 2b): the plain report, or none where the slot is gone.
 */
static uint64_t
eng_report_ballot(const struct bpc_engine *e, uint64_t max_vbal, uint64_t dec_own)
{
    uint64_t rb = max_vbal > dec_own ? max_vbal : dec_own;
    return rb < e->bal ? rb : e->bal - 1;
}

/* Sends 1B(instance, bal, maxVBal = rb, v) with the history in hb/hv. */
static void
eng_put_report(struct bpc_engine *e, uint64_t instance, uint64_t rb, const struct bpc_vid *v,
               uint32_t hn, const uint64_t *hb, const struct bpc_vid *hv)
{
    struct bpc_record r = bpc_record_make(BPC_MSG_1B, instance, e->bal, rb, rb > 0 ? v : NULL);
    r.hist_count = (uint8_t)hn;
    eng_broadcast(e, &r, NULL);
    for (uint32_t h = 0; h < hn; h++) {
        struct bpc_record hr = bpc_record_make(BPC_MSG_1B_HIST, instance, e->bal, hb[h], &hv[h]);
        eng_broadcast(e, &hr, NULL);
    }
}

/* 1b for a decided instance whose slot was reused, from the recent
 * decisions: (rb, v) with the single history entry (v, rb). */
static void
eng_report_decided(struct bpc_engine *e, const struct eng_dec *d)
{
    uint64_t rb = eng_report_ballot(e, d->report_bal, 0);
    if (rb == 0) {
        return; /* no vote of this party is known: it reports nothing */
    }
    eng_put_report(e, d->instance, rb, &d->vid, 1, &rb, &d->vid);
}

/* 1b(b) for one instance the slot s holds (or none: an empty report). */
static void
eng_put_1b(struct bpc_engine *e, const struct eng_slot *s, uint64_t instance)
{
    uint64_t hb[BPC_HISTORY_MAX];
    struct bpc_vid hv[BPC_HISTORY_MAX];
    uint32_t hn = 0;
    if (s == NULL) {
        eng_put_report(e, instance, 0, NULL, 0, hb, hv);
        return;
    }
    uint64_t rb = s->decided ? eng_report_ballot(e, s->max_vbal, s->dec_own) : 0;
    const struct bpc_vid *v = &s->dec_vid;
    bool folded = rb > 0;
    if (!folded) {
        rb = s->max_vbal; /* the plain report */
        v = &s->max_vval;
    } else {
        hb[hn] = rb;
        hv[hn++] = *v;
    }
    /* Real entries below b (a 1b(b) reports earlier ballots only), an
     * entry for v at or below rb folded into (v, rb). Dropping the lowest
     * when full costs liveness, never safety: entries only vouch. */
    for (uint32_t h = 0; h < s->hist_count && hn < BPC_HISTORY_MAX; h++) {
        if (s->hist_bal[h] < e->bal &&
            !(folded && s->hist_bal[h] <= rb && bpc_vid_eq(&s->hist_val[h], v))) {
            hb[hn] = s->hist_bal[h];
            hv[hn++] = s->hist_val[h];
        }
    }
    if (hn > 1 && hb[0] < hb[1]) {
        /* (v, rb) may sit below a real entry for another value: re-sort. */
        for (uint32_t i = 1; i < hn; i++) {
            for (uint32_t j = i; j > 0 && hb[j - 1] < hb[j]; j--) {
                uint64_t tb = hb[j - 1];
                struct bpc_vid tv = hv[j - 1];
                hb[j - 1] = hb[j];
                hv[j - 1] = hv[j];
                hb[j] = tb;
                hv[j] = tv;
            }
        }
    }
    eng_put_report(e, instance, rb, v, hn, hb, hv);
}

/* 1b(b) for all instances from nu up: explicit reports up to the highest
 * voted instance, a range record for everything above. Sent only while no
 * vote at b exists, so the reports are the state as of raising max_bal. */
static void
eng_send_1b(struct bpc_engine *e)
{
    uint64_t hi = eng_voted_hi(e);
    uint64_t from = e->nu;
    if (hi != UINT64_MAX) {
        for (uint64_t i = e->nu; i <= hi; i++) {
            const struct eng_slot *s = &e->slots[i & e->mask];
            eng_put_1b(e, s->instance == i ? s : NULL, i);
        }
        from = hi + 1;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_1B_RANGE, e->nu, e->bal, from - e->nu, NULL);
    e->sent_1b_lo = e->nu;
    eng_broadcast(e, &r, NULL);
    e->sent_1b = true;
}

/* A leader starting at lo below this party's 1b coverage lags behind: add
 * 1b reports for the decided instances this party still holds in
 * [lo, covered), so the leader can find their safe value (the range record
 * already sent never covered them, so nothing contradicts it). */
static void
eng_send_1b_held(struct bpc_engine *e, uint64_t lo)
{
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u held 1b request lo %llu bal %llu sent_1b %d sent_1b_lo %llu\n", e->self,
            (unsigned long long)lo, (unsigned long long)e->bal, e->sent_1b,
            (unsigned long long)e->sent_1b_lo);
#endif
    if (!e->sent_1b || lo >= e->sent_1b_lo) {
        return;
    }
    uint64_t hi = e->sent_1b_lo;
    if (hi - lo > e->window) {
        lo = hi - e->window;
    }
    for (uint64_t i = lo; i < hi; i++) {
        const struct eng_slot *s = &e->slots[i & e->mask];
#ifdef BPC_TRACE
        if (i == 22) {
            fprintf(stderr, "T p%u held 22: slot instance %llu max_vbal %llu hist %u\n", e->self,
                    (unsigned long long)s->instance, (unsigned long long)s->max_vbal,
                    s->hist_count);
        }
#endif
        if (s->instance == i) {
            if (s->decided || eng_slot_vote_hi(s) < e->bal) {
                eng_put_1b(e, s, i);
            }
        } else if (eng_dring_find(e, i) != NULL) {
            eng_report_decided(e, eng_dring_find(e, i));
        }
        /* Else: neither held nor recent, so nothing is reported and this
         * party is simply not among the instance's 1b senders. */
    }
    e->sent_1b_lo = lo;
    e->held_lo = lo;
}

static void
eng_send_1a(struct bpc_engine *e)
{
    struct bpc_record r = bpc_record_make(BPC_MSG_1A, e->nu, e->bal, 0, NULL);
    eng_broadcast(e, &r, NULL);
    e->sent_1a = true;
}

static void
eng_join(struct bpc_engine *e, uint64_t b)
{
    BPC_ASSERT(b > e->bal);
    BPC_ASSERT(b > e->max_bal);
    e->bal = b;
    eng_raise_max_bal(e, b);
    e->leader = bpc_elect_leader(&e->cfg, e->digest, b);
    BPC_ASSERT(e->leader >= 0);
    e->sent_1a = false;
    e->sent_1b = false;
    e->got_1a = false;
    e->voted_at_bal = false;
    e->events = 0;
    e->round_start_ns = e->now_ns;
    e->deadline_ns = e->now_ns + eng_timeout(e);
    e->next_prop = e->nu;
    e->claims_hi = e->nu;
    e->own_sent = e->own_head; /* resend unapplied commands to the new leader */
    e->held_lo = e->nu;
    /* 1b reports of older ballots can no longer be used: give their claims
     * back (their 2b tallies stay, an old ballot may still decide). */
    for (uint32_t k = 0; k < e->window; k++) {
        for (uint32_t g = 0; g < ENG_GENS; g++) {
            if (e->slots[k].gen[g].ballot < b) {
                eng_gen_free_claims(e, &e->slots[k].gen[g]);
            }
        }
    }
    e->ctr.ballots_started++;
    e->peer_bal[e->self] = b;
    if (!eng_paced(e)) {
        if (eng_is_leader(e)) {
            eng_send_1a(e);
        }
        eng_send_1b(e);
    }
}

/* The ballot failed: on to the next one, unless ballots are exhausted
 * (BPC_BALLOT_MAX; reachable only when more than F of the weight drags
 * parties upward): then the party stays, counted, and never wraps. */
static void
eng_next_ballot(struct bpc_engine *e)
{
    e->fails++;
    e->ctr.ballots_failed++;
    if (e->bal >= BPC_BALLOT_MAX) {
        e->ctr.ballot_saturated++;
        e->deadline_ns = e->now_ns + eng_timeout(e);
        return;
    }
    eng_join(e, e->bal + 1);
}

static int
eng_bal_w_desc(const void *a, const void *b)
{
    uint64_t x = ((const struct eng_bal_w *)a)->ballot;
    uint64_t y = ((const struct eng_bal_w *)b)->ballot;
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* The highest ballot b* such that parties last seen at >= b* weigh more
 * than F: at least one correct party has reached b*, so joining it cannot
 * be a Byzantine drag. 0 when there is none above bal. */
static uint64_t
eng_ballot_quorum(struct bpc_engine *e)
{
    uint32_t count = 0;
    for (uint32_t q = 0; q < e->n; q++) {
        if (e->peer_bal[q] > e->bal) {
            e->bal_scratch[count].ballot = e->peer_bal[q];
            e->bal_scratch[count].weight = eng_weight(e, q);
            count++;
        }
    }
    if (count == 0) {
        return 0;
    }
    qsort(e->bal_scratch, count, sizeof(e->bal_scratch[0]), eng_bal_w_desc);
    bpc_u128 w = 0;
    for (uint32_t k = 0; k < count; k++) {
        w += e->bal_scratch[k].weight;
        if (w > e->faulty) {
            return e->bal_scratch[k].ballot;
        }
    }
    return 0;
}

/* A message of ballot b > bal from sender p: join the highest ballot that
 * parties of weight > F have reached (so a Byzantine minority cannot drag
 * the party upward, and a party that ran ahead is caught up with). */
static void
eng_future_note(struct bpc_engine *e, uint32_t p, uint64_t b)
{
    if (b <= e->peer_bal[p]) {
        return;
    }
    e->peer_bal[p] = b;
    uint64_t target = eng_ballot_quorum(e);
    if (target > e->bal) {
        eng_join(e, target);
    }
}

/* Weight of the parties known to be at the current ballot or above. */
static bpc_u128
eng_weight_at_ballot(const struct bpc_engine *e)
{
    bpc_u128 w = 0;
    for (uint32_t q = 0; q < e->n; q++) {
        if (q == e->self || e->peer_bal[q] >= e->bal) {
            w += eng_weight(e, q);
        }
    }
    return w;
}

/* ------------------------------------------------------------------------
 * Record handlers.
 * ---------------------------------------------------------------------- */

static bool
eng_tally_add(struct eng_val_tally *t, uint8_t *n, const struct bpc_vid *v, bpc_u128 w,
              bpc_u128 *out)
{
    for (uint32_t k = 0; k < *n; k++) {
        if (bpc_vid_eq(&t[k].vid, v)) {
            t[k].weight += w;
            *out = t[k].weight;
            return true;
        }
    }
    if (*n == BPC_TALLY_VALUES_MAX) {
        return false;
    }
    t[*n].vid = *v;
    t[*n].weight = w;
    (*n)++;
    *out = w;
    return true;
}

static void
eng_on_1b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
          const struct bpc_record *hist)
{
    struct eng_slot *s = eng_slot_get(e, r->instance);
    int g = s ? eng_gen_find(e, s, r->ballot, true) : -1;
    if (g < 0) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_gen *gen = &s->gen[g];
    uint64_t *seen = eng_slot_bits(e, s, (uint32_t)g, SEEN_1B);
    if (eng_bit_test(seen, p) || eng_range_covers(e, p, r->ballot, r->instance)) {
        ENG_IGNORED(e);
        return;
    }
    if (r->aux == 0 && r->hist_count == 0) {
        eng_bit_set(seen, p);
        gen->w_1b_empty += eng_weight(e, p);
        gen->w_1b += eng_weight(e, p);
        return;
    }
    if (e->claims_free == UINT32_MAX) {
        e->ctr.tally_overflow++;
        return;
    }
    eng_bit_set(seen, p);
    gen->w_1b += eng_weight(e, p);
    uint32_t c = e->claims_free;
    e->claims_free = e->claims[c].next;
    struct bpc_1b_report *rep = &e->claims[c].rep;
    memset(rep, 0, sizeof(*rep));
    rep->sender = p;
    rep->mbal = r->aux;
    rep->mval = r->value;
    rep->hist_count = r->hist_count;
    for (uint32_t h = 0; h < r->hist_count; h++) {
        rep->hist_bal[h] = hist[h].aux;
        rep->hist_val[h] = hist[h].value;
    }
    e->claims[c].next = gen->claims;
    gen->claims = c;
    gen->claims_count++;
    if (r->ballot == e->bal && r->instance >= e->claims_hi) {
        e->claims_hi = r->instance + 1;
    }
}

static void
eng_on_range(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->ballot < e->range_bal[p]) {
        return;
    }
    /* aux counts the explicitly reported instances [lo, lo + aux). */
    uint64_t from = r->aux > UINT64_MAX - r->instance ? UINT64_MAX : r->instance + r->aux;
    e->range_bal[p] = r->ballot;
    e->range_from[p] = from;
    if (r->ballot == e->bal && from > e->claims_hi && from != UINT64_MAX &&
        from - e->nu <= e->window) {
        e->claims_hi = from;
    }
}

/* Any 1b at the current ballot may make a held 2a verify. */
static void
eng_on_1b_any(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
              const struct bpc_record *hist)
{
    if (r->type == BPC_MSG_1B) {
        eng_on_1b(e, p, r, hist);
    } else {
        eng_on_range(e, p, r);
    }
    if (r->ballot == e->bal) {
        e->recheck = true;
    }
}

static void
eng_on_2a(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (bpc_elect_leader(&e->cfg, e->digest, r->ballot) != (int)p) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_slot *s = eng_slot_get(e, r->instance);
    int g = s ? eng_gen_find(e, s, r->ballot, true) : -1;
    if (g < 0) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_gen *gen = &s->gen[g];
    if (gen->has_2a) {
        if (!bpc_vid_eq(&gen->v2a, &r->value)) {
            e->ctr.equivocations++; /* only the first 2a counts */
        }
        return;
    }
    gen->has_2a = true;
    gen->proposed = p == e->self;
    gen->v2a = r->value;
    if (r->value.kind == BPC_VALUE_DIGEST) {
        if (r->value.len > e->vbytes || r->value_bytes == NULL) {
            gen->has_2a = false;
            ENG_IGNORED(e);
            return;
        }
        uint8_t *dst = eng_slot_value(e, s, (uint32_t)g);
        if (dst != r->value_bytes) {
            memcpy(dst, r->value_bytes, r->value.len);
        }
        if (s->decided && !s->dec_bytes && bpc_vid_eq(&s->dec_vid, &r->value)) {
            memcpy(eng_slot_value(e, s, ENG_GENS), dst, r->value.len);
            s->dec_bytes = true;
            if (e->cur_out != NULL) {
                eng_emit(e, e->cur_out);
            }
        }
    }
    if (r->ballot == e->bal) {
        eng_try_2av(e, s);
    }
}

/* Tallies one 2av or 2b vote of p; false when stale, a second vote of p
 * at this (instance, ballot, type), or past the distinct-value bound. */
static bool
eng_tally_vote(struct bpc_engine *e, uint32_t p, const struct bpc_record *r, enum eng_seen kind,
               struct eng_slot **slot, bpc_u128 *w)
{
    struct eng_slot *s = eng_slot_get(e, r->instance);
    int g = s ? eng_gen_find(e, s, r->ballot, r->ballot >= e->bal) : -1;
    if (g < 0) {
        e->ctr.records_stale++;
        return false;
    }
    uint64_t *seen = eng_slot_bits(e, s, (uint32_t)g, kind);
    if (eng_bit_test(seen, p)) {
        ENG_IGNORED(e);
        return false;
    }
    struct eng_gen *gen = &s->gen[g];
    bool is_2av = kind == SEEN_2AV;
    if (!eng_tally_add(is_2av ? gen->t2av : gen->t2b, is_2av ? &gen->n2av : &gen->n2b, &r->value,
                       eng_weight(e, p), w)) {
        e->ctr.tally_overflow++;
        return false;
    }
    eng_bit_set(seen, p);
    BPC_ASSERT(*w <= e->total);
    *slot = s;
    return true;
}

static void
eng_on_2av(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    struct eng_slot *s;
    bpc_u128 w;
    if (eng_tally_vote(e, p, r, SEEN_2AV, &s, &w) && r->ballot == e->bal && w >= e->threshold) {
        eng_try_2b(e, s);
    }
}

static void
eng_on_2b(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    struct eng_slot *s;
    bpc_u128 w;
    if (eng_tally_vote(e, p, r, SEEN_2B, &s, &w) && w >= e->threshold) {
        eng_decide(e, s, r->ballot, &r->value, NULL, true);
    }
}

/* DECIDED claims: more than F weight holds a correct party, whose claim is
 * true; catch-up for a party that missed the 2b quorum. */
static void
eng_on_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u t=%llu DECIDED %llu from %u kind %u bytes %p\n", e->self,
            (unsigned long long)e->now_ns, (unsigned long long)r->instance, p, r->value.kind,
            (const void *)r->value_bytes);
#endif
    struct eng_slot *s = eng_slot_get(e, r->instance);
    if (s == NULL) {
        e->ctr.records_stale++;
        return;
    }
    if (r->value.kind == BPC_VALUE_DIGEST && r->value.len > e->vbytes) {
        ENG_IGNORED(e);
        return;
    }
    uint64_t *seen = eng_slot_bits(e, s, ENG_GENS, SEEN_1B);
    if (eng_bit_test(seen, p)) {
        if (s->decided && !s->dec_bytes && r->value_bytes != NULL &&
            bpc_vid_eq(&s->dec_vid, &r->value)) {
            eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
        }
        return;
    }
    bpc_u128 w;
    if (!eng_tally_add(s->tdec, &s->ndec, &r->value, eng_weight(e, p), &w)) {
        e->ctr.tally_overflow++;
        return;
    }
    eng_bit_set(seen, p);
    if (w > e->faulty) {
        eng_decide(e, s, r->ballot, &r->value, r->value_bytes, false);
        e->catching_up = true;
    }
}

/* Catch-up from the decided log for an instance whose slot was reused.
 * DIGEST values are copied into the catch-up arena (reset per flush), as
 * the log entry may be reclaimed before the outbox is flushed. */
static void
eng_send_decided_from_log(struct bpc_engine *e, uint32_t p, uint64_t instance)
{
    struct bpc_log_entry le;
    if (e->cfg.log == NULL || bpc_log_read(e->cfg.log, instance, &le) != 0) {
        return;
    }
    struct bpc_vid vid;
    memset(&vid, 0, sizeof(vid));
    const uint8_t *val = NULL;
    if (le.noop) {
        vid.kind = BPC_VALUE_NOOP;
    } else {
        bpc_vid_of(&vid, le.value, le.len);
        if (vid.kind == BPC_VALUE_DIGEST) {
            size_t stride = (e->vbytes + 64) & ~(size_t)63;
            if (e->cu_used >= 2 * ENG_CATCHUP_MAX || le.len > e->vbytes) {
                return;
            }
            uint8_t *dst = e->cu_buf + (size_t)e->cu_used++ * stride;
            memcpy(dst, le.value, le.len);
            val = dst;
        }
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, 1, 0, &vid);
    eng_unicast(e, p, &r, val);
}

static void
eng_send_decided(struct bpc_engine *e, uint32_t p, uint64_t instance)
{
    const struct eng_slot *s = &e->slots[instance & e->mask];
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u send DECIDED %llu to %u: held %d decided %d bytes %d\n", e->self,
            (unsigned long long)instance, p, s->instance == instance, s->decided, s->dec_bytes);
#endif
    if (s->instance != instance) {
        const struct eng_dec *d = eng_dring_find(e, instance);
        if (d != NULL && (d->vid.kind != BPC_VALUE_DIGEST || d->has_bytes)) {
            struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, d->ballot, 0, &d->vid);
            const uint8_t *val = d->vid.kind == BPC_VALUE_DIGEST
                                     ? e->dring_bytes + (size_t)(d - e->dring) * e->vbytes
                                     : NULL; /* else the id is the value */
            eng_unicast(e, p, &r, val);
            return;
        }
        eng_send_decided_from_log(e, p, instance);
        return;
    }
    if (!s->decided || !s->dec_bytes) {
        return;
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_DECIDED, instance, s->dec_ballot, 0, &s->dec_vid);
    const uint8_t *val =
        s->dec_vid.kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, ENG_GENS) : NULL;
    eng_unicast(e, p, &r, val);
}

static void
eng_on_status(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u t=%llu status from %u at %llu (my nu %llu)\n", e->self,
            (unsigned long long)e->now_ns, p, (unsigned long long)r->instance,
            (unsigned long long)e->nu);
#endif
    if (r->instance >= e->nu) {
        return;
    }
    /* Held slots answer first, the log for older instances; without a log
     * a party that lags beyond what the slots hold cannot be helped. aux
     * bounds how many the requester wants. */
    uint64_t lo = r->instance;
    uint64_t want = r->aux == 0 || r->aux > ENG_CATCHUP_MAX ? ENG_CATCHUP_MAX : r->aux;
    for (uint64_t i = lo; i < e->nu && i - lo < want; i++) {
        eng_send_decided(e, p, i);
    }
}

/*
 * A 2a at the current ballot for an instance this party decided and no
 * longer holds: if it proposes the decided value v, vote 2av and 2b for v,
 * so the others can complete a quorum that needs this party (they may
 * have voted 2b without seeing the quorum, and DECIDED claims of one
 * party weigh too little). A vote for the chosen value cannot help
 * another value; one 2av and one 2b per ballot still holds (vote_hi), and
 * the vote is persisted like any other (a record for the instance, so a
 * restarted party whose floor is below it reports it) before it leaves.
 */
static void
eng_vote_decided(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    const struct eng_dec *found = eng_dring_find(e, r->instance);
    if (found == NULL || r->ballot != e->bal || found->vote_hi >= r->ballot ||
        e->vouch_count == ENG_VOUCH_MAX ||
        bpc_elect_leader(&e->cfg, e->digest, r->ballot) != (int)p ||
        !bpc_vid_eq(&found->vid, &r->value)) {
        return;
    }
    struct eng_dec *d = eng_dring_at(e, r->instance);
    d->vote_hi = r->ballot;
    d->report_bal = r->ballot;
    struct bpc_durable *v = &e->vouch[e->vouch_count++];
    memset(v, 0, sizeof(*v));
    v->instance = r->instance;
    v->max_vbal = r->ballot;
    v->max_vval = d->vid;
    v->hist_count = 1;
    v->hist_bal[0] = r->ballot;
    v->hist_val[0] = d->vid;
    struct bpc_record v2av = bpc_record_make(BPC_MSG_2AV, r->instance, r->ballot, 0, &d->vid);
    eng_broadcast(e, &v2av, NULL);
    struct bpc_record v2b = bpc_record_make(BPC_MSG_2B, r->instance, r->ballot, 0, &d->vid);
    eng_broadcast(e, &v2b, NULL);
}

/* Applies one record (and, for 1B, its history records). */
static void
eng_apply(struct bpc_engine *e, uint32_t p, const struct bpc_record *r,
          const struct bpc_record *hist)
{
    e->ctr.records_rx++;
    if (r->type == BPC_MSG_FORWARD) {
        eng_on_forward(e, p, r); /* instance is a command sequence number */
        return;
    }
    if (r->type == BPC_MSG_ATTEST) {
        eng_on_attest(e, p, r); /* likewise */
        return;
    }
    if (r->type != BPC_MSG_DECIDED && r->ballot > e->peer_bal[p] && r->ballot <= e->bal) {
        e->peer_bal[p] = r->ballot;
    }
    if (r->ballot > e->bal && r->type != BPC_MSG_DECIDED) {
        if (r->type == BPC_MSG_1A && r->ballot == e->bal + 1 &&
            bpc_elect_leader(&e->cfg, e->digest, r->ballot) == (int)p) {
            eng_join(e, r->ballot);
        } else {
            eng_future_note(e, p, r->ballot);
        }
    }
    if (r->instance < e->nu && r->type != BPC_MSG_STATUS && r->type != BPC_MSG_1B_RANGE &&
        r->type != BPC_MSG_1A && r->type != BPC_MSG_DECIDED && p != e->self &&
        e->slots[r->instance & e->mask].instance != r->instance) {
        eng_send_decided(e, p, r->instance); /* the sender is behind */
        if (r->type == BPC_MSG_2A) {
            eng_vote_decided(e, p, r);
        }
        e->ctr.records_stale++;
        return;
    }
    switch ((enum bpc_msg_type)r->type) {
    case BPC_MSG_1A:
        if (r->ballot == e->bal && bpc_elect_leader(&e->cfg, e->digest, r->ballot) == (int)p) {
            e->got_1a = true;
            eng_send_1b_held(e, r->instance);
        }
        break;
    case BPC_MSG_1B:
    case BPC_MSG_1B_RANGE:
        eng_on_1b_any(e, p, r, hist);
        break;
    case BPC_MSG_2A:
        eng_on_2a(e, p, r);
        break;
    case BPC_MSG_2AV:
        eng_on_2av(e, p, r);
        break;
    case BPC_MSG_2B:
        eng_on_2b(e, p, r);
        break;
    case BPC_MSG_DECIDED:
        eng_on_decided(e, p, r);
        break;
    case BPC_MSG_STATUS:
        eng_on_status(e, p, r);
        break;
    case BPC_MSG_1B_HIST:
    case BPC_MSG_FORWARD:
    case BPC_MSG_ATTEST:
    case BPC_MSG_NONE:
    case BPC_MSG_TYPES_COUNT:
        ENG_IGNORED(e);
        break;
    }
}

/* ------------------------------------------------------------------------
 * Frame admission.
 * ---------------------------------------------------------------------- */

/* Anti-replay window of ENG_REPLAY_BITS frames per sender, as a ring
 * bitmap indexed by sequence number: reordered frames within the window are
 * accepted once; duplicates and older frames are dropped. Pipelined
 * windows put hundreds of frames in flight per peer, hence the width. */
#define ENG_REPLAY_BITS 1024u
#define ENG_REPLAY_WORDS (ENG_REPLAY_BITS / 64u)

static bool
eng_replay_ok(struct bpc_engine *e, uint32_t p, uint64_t seq)
{
    uint64_t *bits = e->seq_bits + (size_t)p * ENG_REPLAY_WORDS;
    uint64_t last = e->seq_last[p];
    if (seq > last) {
        if (seq - last >= ENG_REPLAY_BITS) {
            memset(bits, 0, ENG_REPLAY_WORDS * sizeof(uint64_t));
        } else {
            for (uint64_t q = last + 1; q < seq; q++) {
                bits[(q % ENG_REPLAY_BITS) / 64] &= ~((uint64_t)1 << (q % 64));
            }
        }
        bits[(seq % ENG_REPLAY_BITS) / 64] |= (uint64_t)1 << (seq % 64);
        e->seq_last[p] = seq;
        return true;
    }
    uint64_t word = (seq % ENG_REPLAY_BITS) / 64;
    uint64_t bit = (uint64_t)1 << (seq % 64);
    if (last - seq >= ENG_REPLAY_BITS || (bits[word] & bit) != 0) {
        return false;
    }
    bits[word] |= bit;
    return true;
}

static void
eng_drop(struct bpc_engine *e, int reason)
{
    BPC_ASSERT(reason >= 0 && reason < BPC_DROP_REASONS_COUNT);
    e->ctr.drops[reason]++;
}

static void
eng_receive(struct bpc_engine *e, const uint8_t *bytes, uint32_t len)
{
    struct bpc_frame_header h;
    int rc = bpc_wire_parse_header(bytes, len, &h);
    if (rc < 0) {
        eng_drop(e, -1 - rc);
        return;
    }
    if (h.cluster_id != e->cfg.cluster_id) {
        eng_drop(e, BPC_DROP_BAD_CLUSTER);
        return;
    }
    if (h.sender >= e->n || h.sender == e->self) {
        eng_drop(e, BPC_DROP_BAD_SENDER);
        return;
    }
    if (h.receiver != e->self) {
        eng_drop(e, BPC_DROP_BAD_RECEIVER);
        return;
    }
    if (!bpc_wire_verify(bytes, len, e->cfg.keys[h.sender])) {
        eng_drop(e, BPC_DROP_BAD_TAG);
        return;
    }
    int count = bpc_wire_decode(bytes, len, &h, e->recs, e->recs_cap);
    if (count < 0) {
        eng_drop(e, -1 - count);
        return;
    }
    /* Checked after the tag so a forger cannot burn sequence numbers. */
    if (!eng_replay_ok(e, h.sender, h.seq)) {
        eng_drop(e, BPC_DROP_REPLAY);
        return;
    }
    e->ctr.frames_rx++;
    for (int k = 0; k < count; k++) {
        const struct bpc_record *r = &e->recs[k];
        eng_apply(e, h.sender, r, r->type == BPC_MSG_1B ? r + 1 : NULL);
        if (r->type == BPC_MSG_1B) {
            k += r->hist_count;
        }
    }
}

/* Own messages, delivered in order; handlers may queue more (bounded by
 * the queue's capacity, so the loop ends). */
static void
eng_drain_self(struct bpc_engine *e)
{
    uint32_t k = 0;
    while (k < e->selfq_count) {
        struct eng_out *o = &e->selfq[k];
        struct bpc_record r = o->r;
        if (r.value.kind == BPC_VALUE_DIGEST) {
            r.value_bytes = o->val;
        }
        if (r.type == BPC_MSG_1B && r.hist_count > 0) {
            struct bpc_record hist[BPC_HISTORY_MAX];
            for (uint32_t h = 0; h < r.hist_count && k + 1 + h < e->selfq_count; h++) {
                hist[h] = e->selfq[k + 1 + h].r;
            }
            eng_apply(e, e->self, &r, hist);
            k += 1u + r.hist_count;
            continue;
        }
        eng_apply(e, e->self, &r, NULL);
        k++;
    }
    e->selfq_count = 0;
}

/* ------------------------------------------------------------------------
 * Commands: submission, forwarding, batching, exactly-once apply.
 *
 * A command is (submitter, seq, bytes). seq = (incarnation << 40) | n with
 * n = 1, 2, ... per party and run. Every party applies the decided log with
 * one deterministic rule: (s, q) is applied iff q directly follows the last
 * applied sequence of s (or opens a new incarnation at n = 1). Duplicates
 * (a resubmission after a leader change) and commands behind a gap are
 * skipped everywhere alike; a skipped command is not lost, because its
 * submitter resends every unapplied command to the current leader until it
 * sees it applied.
 * ---------------------------------------------------------------------- */

static bool
eng_seq_follows(uint64_t hi, uint64_t q)
{
    if (q == hi + 1) {
        return true;
    }
    return (q >> ENG_SEQ_BITS) > (hi >> ENG_SEQ_BITS) && ENG_SEQ_LOW(q) == 1;
}

uint32_t
bpc_command_bytes_max(const struct bpc_config *cfg)
{
    uint32_t framing = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES;
    return cfg->value_bytes_max > framing ? cfg->value_bytes_max - framing : 0;
}

int
bpc_submit(struct bpc_engine *e, const uint8_t *cmd, uint32_t len, uint64_t *ticket)
{
    if (len > e->cmd_stride) {
        return -EMSGSIZE;
    }
    uint64_t pos = atomic_load_explicit(&e->ring_tail, memory_order_relaxed);
    struct eng_cell *cell;
    for (;;) {
        cell = &e->ring[pos & e->cmd_mask];
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&e->ring_tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                break;
            }
        } else if (seq < pos) {
            return -EAGAIN; /* full: the engine has not drained it yet */
        } else {
            pos = atomic_load_explicit(&e->ring_tail, memory_order_relaxed);
        }
    }
    if (len > 0) {
        memcpy(eng_cmd_bytes(e, e->ring_bytes, pos), cmd, len);
    }
    cell->len = len;
    atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
    if (ticket != NULL) {
        *ticket = (e->incarnation << ENG_SEQ_BITS) | (pos + 1);
    }
    return 0;
}

bool
bpc_ticket_done(const struct bpc_engine *e, uint64_t ticket)
{
    uint64_t hi = atomic_load_explicit(&((struct bpc_engine *)(uintptr_t)e)->applied_own,
                                       memory_order_acquire);
    return (ticket >> ENG_SEQ_BITS) == (hi >> ENG_SEQ_BITS) ? ticket <= hi : ticket < hi;
}

/* Moves submitted commands from the ring into the own pending list. */
static void
eng_ring_drain(struct bpc_engine *e)
{
    while (e->own_tail - e->own_head <= e->cmd_mask) {
        uint64_t pos = e->ring_head;
        struct eng_cell *cell = &e->ring[pos & e->cmd_mask];
        if (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos + 1) {
            return; /* empty, or a producer is still copying */
        }
        struct eng_cmd *c = &e->own[e->own_tail & e->cmd_mask];
        c->submitter = e->self;
        c->len = cell->len;
        c->seq = (e->incarnation << ENG_SEQ_BITS) | (pos + 1);
        memcpy(eng_cmd_bytes(e, e->own_bytes, e->own_tail), eng_cmd_bytes(e, e->ring_bytes, pos),
               c->len);
        e->own_tail++;
        e->ring_head++;
        atomic_store_explicit(&cell->seq, pos + e->cmd_mask + 1, memory_order_release);
    }
}

/* Leader: queues (s, q) if it directly follows what this leader queued. */
static void
eng_lq_accept(struct bpc_engine *e, uint32_t s, uint64_t q, const uint8_t *bytes, uint32_t len)
{
    if (e->queued_bal != e->bal) {
        memcpy(e->queued_hi, e->applied_hi, e->n * sizeof(uint64_t));
        e->queued_bal = e->bal;
        e->lq_head = e->lq_tail; /* earlier queues are resent by submitters */
    }
    if (!eng_seq_follows(e->queued_hi[s], q) || len > e->cmd_stride ||
        e->lq_tail - e->lq_head > e->cmd_mask) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_cmd *c = &e->lq[e->lq_tail & e->cmd_mask];
    c->submitter = s;
    c->seq = q;
    c->len = len;
    memcpy(eng_cmd_bytes(e, e->lq_bytes, e->lq_tail), bytes, len);
    e->lq_tail++;
    e->queued_hi[s] = q;
}

static void
eng_on_forward(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (r->value.kind == BPC_VALUE_NOOP) {
        ENG_IGNORED(e);
        return;
    }
    if (!eng_is_leader(e)) {
        /* A witness: the next command of p exists, so a leader that does
         * not get it decided in time is replaced (eng_has_work). */
        if (eng_seq_follows(e->applied_hi[p], r->instance)) {
            e->witness[p] = r->instance;
        }
        return;
    }
    const uint8_t *bytes = r->value.kind == BPC_VALUE_DIGEST ? r->value_bytes : r->value.id;
    if (bytes == NULL || p == e->self) {
        return;
    }
    /* The frame's tag proves p sent these bytes: keep their MAC, so this
     * party's own vote on the batch does not wait for p's ATTEST. */
    if (r->value.len <= e->cmd_stride && r->instance != 0) {
        struct eng_att *a = &e->att[(size_t)p * e->att_slots + (r->instance & (e->att_slots - 1u))];
        a->seq = r->instance;
        bpc_command_mac(e->cfg.keys[p], r->instance, bytes, r->value.len, a->mac);
    }
    eng_lq_accept(e, p, r->instance, bytes, r->value.len);
}

/* p vouches for its own command r->instance (see eng_cmds_authentic). */
static void
eng_on_attest(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    if (p == e->self || r->instance == 0) {
        ENG_IGNORED(e);
        return;
    }
    struct eng_att *a = &e->att[(size_t)p * e->att_slots + (r->instance & (e->att_slots - 1u))];
    a->seq = r->instance;
    memcpy(a->mac, r->value.id, BPC_CMD_MAC_BYTES);
    if (eng_seq_follows(e->applied_hi[p], r->instance)) {
        e->witness[p] = r->instance; /* a command of p is waiting */
    }
    if (e->auth_wait) {
        e->recheck = true;
    }
}

/* Queues an ATTEST of own command c for every peer; each peer's MAC is
 * computed under its pair key as the record is written (eng_put). */
static void
eng_attest(struct bpc_engine *e, const struct eng_cmd *c, const uint8_t *bytes)
{
    struct bpc_vid mac;
    memset(&mac, 0, sizeof(mac));
    mac.kind = BPC_VALUE_INLINE;
    mac.len = BPC_CMD_MAC_BYTES;
    struct bpc_record r = bpc_record_make(BPC_MSG_ATTEST, c->seq, e->bal, c->len, &mac);
    eng_peers_push(e, &r, bytes);
}

/* Sends own unapplied commands to the leader (or queues them, as leader). */
static void
eng_forward(struct bpc_engine *e)
{
    if (e->own_sent < e->own_head) {
        e->own_sent = e->own_head;
    }
    /* At most att_slots commands ahead of the oldest unapplied one are out,
     * so a receiver's MAC table (att_slots per submitter) holds them all. */
    while (e->own_sent < e->own_tail && e->leader >= 0 &&
           e->own_sent - e->own_head < e->att_slots) {
        const struct eng_cmd *c = &e->own[e->own_sent & e->cmd_mask];
        const uint8_t *bytes = eng_cmd_bytes(e, e->own_bytes, e->own_sent);
        if (eng_is_leader(e)) {
            /* Its own 2a proves its own commands: no ATTEST needed. After a
             * ballot change own_sent rewinds and they are attested then. */
            eng_lq_accept(e, e->self, c->seq, bytes, c->len);
        } else {
            if (e->uq_count == e->uq_cap || e->bq_count == e->bq_cap) {
                return;
            }
            struct bpc_vid vid;
            bpc_vid_of(&vid, bytes, c->len);
            struct bpc_record r = bpc_record_make(BPC_MSG_FORWARD, c->seq, e->bal, 0, &vid);
            eng_unicast(e, (uint32_t)e->leader, &r, vid.kind == BPC_VALUE_DIGEST ? bytes : NULL);
            eng_attest(e, c, bytes);
        }
        e->own_sent++;
    }
}

/* Encodes up to batch_max queued commands (within value_bytes_max) into
 * e->batch_buf; returns the value length, 0 when nothing is queued. */
static uint32_t
eng_batch_build(struct bpc_engine *e)
{
    uint32_t off = BPC_BATCH_HEADER_BYTES;
    uint16_t count = 0;
    while (e->lq_head < e->lq_tail && count < e->cfg.batch_max) {
        const struct eng_cmd *c = &e->lq[e->lq_head & e->cmd_mask];
        if (off + BPC_BATCH_CMD_HEADER_BYTES + c->len > e->cfg.value_bytes_max) {
            break;
        }
        uint8_t *p = e->batch_buf + off;
        bpc_le16_store(p, (uint16_t)c->submitter);
        bpc_le16_store(p + 2, (uint16_t)c->len);
        bpc_le64_store(p + 4, c->seq);
        memcpy(p + BPC_BATCH_CMD_HEADER_BYTES, eng_cmd_bytes(e, e->lq_bytes, e->lq_head), c->len);
        off += BPC_BATCH_CMD_HEADER_BYTES + c->len;
        count++;
        e->lq_head++;
    }
    if (count == 0) {
        return 0;
    }
    bpc_le16_store(e->batch_buf, count);
    bpc_le16_store(e->batch_buf + 2, 0);
    return off;
}

int
bpc_batch_next(const uint8_t *value, uint32_t len, uint32_t off, struct bpc_command *cmd)
{
    if (off == 0) {
        if (len < BPC_BATCH_HEADER_BYTES) {
            return -EINVAL;
        }
        off = BPC_BATCH_HEADER_BYTES;
    }
    if (off == len) {
        return 0;
    }
    if (off > len || len - off < BPC_BATCH_CMD_HEADER_BYTES) {
        return -EINVAL;
    }
    const uint8_t *p = value + off;
    cmd->submitter = bpc_le16_load(p);
    cmd->len = bpc_le16_load(p + 2);
    cmd->seq = bpc_le64_load(p + 4);
    cmd->bytes = p + BPC_BATCH_CMD_HEADER_BYTES;
    if (cmd->len > len - off - BPC_BATCH_CMD_HEADER_BYTES) {
        return -EINVAL;
    }
    return (int)(off + BPC_BATCH_CMD_HEADER_BYTES + cmd->len);
}

/* A well-formed batch: 1..batch_max commands of known submitters that
 * exactly fill the value. Correct parties vote only for such values. */
static bool
eng_batch_ok(const struct bpc_engine *e, const uint8_t *value, uint32_t len)
{
    if (len < BPC_BATCH_HEADER_BYTES || bpc_le16_load(value + 2) != 0) {
        return false;
    }
    uint32_t count = bpc_le16_load(value);
    if (count == 0 || count > e->cfg.batch_max) {
        return false;
    }
    struct bpc_command c;
    int off = 0;
    uint32_t seen = 0;
    while ((off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0) {
        if (c.submitter >= e->n || ++seen > count) {
            return false;
        }
    }
    return off == 0 && seen == count;
}

/* Which commands of a decided value are skipped (bit k: command k), by the
 * apply rule; does not change any state. */
static uint64_t
eng_skip_mask(const struct bpc_engine *e, const uint8_t *value, uint32_t len)
{
    uint32_t subs[BPC_BATCH_MAX];
    uint64_t his[BPC_BATCH_MAX];
    uint32_t count = 0;
    uint64_t mask = 0;
    struct bpc_command c;
    int off = 0;
    for (uint32_t k = 0; (off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0; k++) {
        BPC_ASSERT(k < BPC_BATCH_MAX && c.submitter < e->n);
        uint64_t hi = e->applied_hi[c.submitter];
        uint32_t j = 0;
        while (j < count && subs[j] != c.submitter) {
            j++;
        }
        if (j < count) {
            hi = his[j];
        }
        if (!eng_seq_follows(hi, c.seq)) {
            mask |= (uint64_t)1 << k;
            continue;
        }
        if (j == count) {
            subs[count++] = c.submitter;
        }
        his[j] = c.seq;
    }
    return mask;
}

/* Applies the commands of a decided value (mask from eng_skip_mask). */
static void
eng_apply_commands(struct bpc_engine *e, uint64_t instance, const uint8_t *value, uint32_t len,
                   uint64_t mask)
{
    struct bpc_command c;
    int off = 0;
    for (uint32_t k = 0; (off = bpc_batch_next(value, len, (uint32_t)off, &c)) > 0; k++) {
        if (mask & ((uint64_t)1 << k)) {
            continue;
        }
        e->applied_hi[c.submitter] = c.seq;
        if (!e->applied_listed[c.submitter]) {
            e->applied_listed[c.submitter] = 1;
            e->applied_dirty[e->applied_dirty_count++] = c.submitter;
        }
        if (e->cfg.on_apply != NULL) {
            e->cfg.on_apply(e->cfg.apply_ctx, instance, c.submitter, c.seq, c.bytes, c.len);
        }
        if (c.submitter != e->self) {
            continue;
        }
        atomic_store_explicit(&e->applied_own, c.seq, memory_order_release);
        while (e->own_head < e->own_tail && e->own[e->own_head & e->cmd_mask].seq <= c.seq) {
            uint64_t ticket = e->own[e->own_head & e->cmd_mask].seq;
            e->own_head++;
            if (e->cfg.on_complete != NULL) {
                e->cfg.on_complete(e->cfg.complete_ctx, ticket);
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Leader.
 * ---------------------------------------------------------------------- */

/* Builds a batch of queued commands as slot generation g's 2a value. */
static bool
eng_take_submission(struct bpc_engine *e, struct eng_slot *s, uint32_t g, struct bpc_vid *vid)
{
    uint32_t len = eng_batch_build(e);
    if (len == 0) {
        return false;
    }
    bpc_vid_of(vid, e->batch_buf, len);
    if (vid->kind == BPC_VALUE_DIGEST) {
        memcpy(eng_slot_value(e, s, g), e->batch_buf, len);
    }
    return true;
}

/* Chooses and sends the 2a for one instance; false when it must wait. */
static bool
eng_propose(struct bpc_engine *e, uint64_t instance)
{
    struct eng_slot *s = eng_slot_get(e, instance);
    int g = s ? eng_gen_find(e, s, e->bal, true) : -1;
    if (g < 0) {
        return false;
    }
    struct eng_gen *gen = &s->gen[g];
    if (gen->has_2a) {
        return true; /* already proposed (or the 2a was received) */
    }
    if (s->decided) {
        return true;
    }
    struct bpc_safe_view view;
    eng_view(e, s, (uint32_t)g, &view);
    struct bpc_vid vid;
    memset(&vid, 0, sizeof(vid));
    enum bpc_safe_pick pick = bpc_safe_pick(&view, &vid);
#ifdef BPC_TRACE
    if (instance == 22) {
        fprintf(stderr, "T p%u propose 22 bal %llu pick %d empty %llu reps %u:", e->self,
                (unsigned long long)e->bal, pick, (unsigned long long)view.empty_weight,
                view.reps_count);
        for (uint32_t k = 0; k < view.reps_count; k++) {
            fprintf(stderr, " [s%u mbal %llu hist %u]", view.reps[k].sender,
                    (unsigned long long)view.reps[k].mbal, view.reps[k].hist_count);
        }
        fprintf(stderr, "\n");
    }
#endif
    if (pick == BPC_SAFE_NONE) {
        return false;
    }
    if (pick == BPC_SAFE_VALUE) {
        if (vid.kind == BPC_VALUE_DIGEST) {
            const uint8_t *bytes = eng_find_bytes(e, s, &vid);
            if (bytes == NULL) {
                return false; /* only the digest is known: no fetch yet */
            }
            memcpy(eng_slot_value(e, s, (uint32_t)g), bytes, vid.len);
        }
    } else if (!eng_take_submission(e, s, (uint32_t)g, &vid)) {
        if (instance >= e->claims_hi) {
            return false; /* fresh instance and nothing to propose */
        }
        vid.kind = BPC_VALUE_NOOP; /* fill a gap below a reported vote */
    }
    /* The 2a reaches this party through the self queue like any other, so
     * eng_on_2a records it and sends the leader's own 2av. */
    struct bpc_record r = bpc_record_make(BPC_MSG_2A, instance, e->bal, 0, &vid);
    const uint8_t *val = vid.kind == BPC_VALUE_DIGEST ? eng_slot_value(e, s, (uint32_t)g) : NULL;
    eng_broadcast(e, &r, val);
    return true;
}

static void
eng_leader_pump(struct bpc_engine *e)
{
    if (!eng_is_leader(e) || !eng_event_fired(e, BPC_EVENT_LAUNCH_2A)) {
        return;
    }
    if (e->next_prop < e->nu) {
        e->next_prop = e->nu;
    }
#ifdef BPC_TRACE
    fprintf(stderr, "T p%u pump bal %llu next_prop %llu nu %llu\n", e->self,
            (unsigned long long)e->bal, (unsigned long long)e->next_prop,
            (unsigned long long)e->nu);
#endif
    /* Paced mode proposes one instance per round, as the origin does. */
    uint64_t limit = eng_paced(e) ? e->nu + 1 : e->nu + e->active;
    while (e->next_prop < limit && eng_propose(e, e->next_prop)) {
        e->next_prop++;
    }
}

/* Re-checks 2a values that did not verify yet, and 2b conditions. */
static void
eng_recheck(struct bpc_engine *e)
{
    uint64_t end = eng_paced(e) ? e->nu + 1 : e->nu + e->window;
    uint64_t start = e->held_lo < e->nu ? e->held_lo : e->nu;
    for (uint64_t i = start; i < end; i++) {
        struct eng_slot *s = &e->slots[i & e->mask];
        if (s->instance != i || (s->decided && i >= e->nu)) {
            continue;
        }
        eng_try_2av(e, s);
        eng_try_2b(e, s);
    }
}

/* ------------------------------------------------------------------------
 * Time.
 * ---------------------------------------------------------------------- */

static const uint64_t *
eng_event_offsets(const struct bpc_engine *e, enum bpc_event ev)
{
    const struct bpc_timers *t = &e->cfg.timers;
    switch (ev) {
    case BPC_EVENT_LAUNCH_1A:
        return &t->launch1a_ns;
    case BPC_EVENT_LAUNCH_1B:
        return &t->launch1b_ns;
    case BPC_EVENT_LAUNCH_2A:
        return &t->launch2a_ns;
    case BPC_EVENT_LAUNCH_2AV:
        return &t->launch2av_ns;
    case BPC_EVENT_LAUNCH_2B:
        return &t->launch2b_ns;
    case BPC_EVENT_FINALIZE:
    case BPC_EVENTS_COUNT:
        break;
    }
    return &t->finalize_ns;
}

static void
eng_finalize(struct bpc_engine *e)
{
    const struct eng_slot *s = &e->slots[e->nu & e->mask];
    bool done = s->instance == e->nu && s->decided;
    bool work =
        e->own_head < e->own_tail || e->lq_head < e->lq_tail || eng_voted_hi(e) != UINT64_MAX;
    if (done) {
        return; /* eng_emit hands the decision out and starts the next round */
    }
    if (!work) {
        /* Next round under the same ballot: the range 1b still covers it. */
        e->round_start_ns = e->now_ns;
        e->events = 0;
        return;
    }
    eng_next_ballot(e);
}

/* Paced mode: fire due phase events in order. */
static void
eng_paced_events(struct bpc_engine *e)
{
    for (uint32_t ev = 0; ev < BPC_EVENTS_COUNT; ev++) {
        if (e->events & (1u << ev)) {
            continue;
        }
        if (e->now_ns < e->round_start_ns + *eng_event_offsets(e, (enum bpc_event)ev)) {
            return;
        }
        e->events |= 1u << ev;
        e->recheck = true;
        switch ((enum bpc_event)ev) {
        case BPC_EVENT_LAUNCH_1A:
            if (eng_is_leader(e) && !e->sent_1a) {
                eng_send_1a(e);
            }
            break;
        case BPC_EVENT_LAUNCH_1B:
            if (!e->sent_1b) {
                eng_send_1b(e);
            }
            break;
        case BPC_EVENT_LAUNCH_2A:
        case BPC_EVENT_LAUNCH_2AV:
        case BPC_EVENT_LAUNCH_2B:
            break; /* the pump and recheck run after this loop */
        case BPC_EVENT_FINALIZE:
        case BPC_EVENTS_COUNT:
            eng_finalize(e);
            return;
        }
    }
}

/* Resends this party's current-ballot messages for undecided instances
 * and announces how far it has applied. */
static void
eng_retransmit(struct bpc_engine *e)
{
    struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, e->nu, e->bal, 0, NULL);
    eng_peers_push(e, &st, NULL);
    for (uint64_t i = e->nu; i - e->nu < ENG_RETX_MAX && i - e->nu < e->active; i++) {
        struct eng_slot *s = &e->slots[i & e->mask];
        if (s->instance != i || s->decided) {
            continue;
        }
        int g = eng_gen_find(e, s, e->bal, false);
        if (g >= 0 && s->gen[g].proposed) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2A, i, e->bal, 0, &s->gen[g].v2a);
            eng_broadcast(e, &r, eng_gen_bytes(e, s, (uint32_t)g));
        }
        if (s->hist_count > 0 && s->hist_bal[0] == e->bal) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2AV, i, e->bal, 0, &s->hist_val[0]);
            eng_broadcast(e, &r, NULL);
        }
        if (s->max_vbal == e->bal) {
            struct bpc_record r = bpc_record_make(BPC_MSG_2B, i, e->bal, 0, &s->max_vval);
            eng_broadcast(e, &r, NULL);
        }
    }
    if (!e->voted_at_bal && e->sent_1b) {
        eng_send_1b(e);
    }
    /* Every party sees the unapplied commands again through their ATTESTs
     * (eng_forward, own_sent rewound by the caller), so all of them notice
     * a leader that sits on one (eng_has_work), not only this one. */
    if (eng_is_leader(e) && e->sent_1a) {
        eng_send_1a(e);
    }
}

static bool
eng_has_work(struct bpc_engine *e)
{
    if (e->own_head < e->own_tail || e->lq_head < e->lq_tail) {
        return true;
    }
    for (uint32_t q = 0; q < e->n; q++) {
        if (e->witness[q] != 0 && eng_seq_follows(e->applied_hi[q], e->witness[q])) {
            return true; /* a peer's command is waiting and nobody applies it */
        }
    }
    for (uint64_t i = e->nu; i - e->nu < e->window; i++) {
        const struct eng_slot *s = &e->slots[i & e->mask];
        if (s->instance != i) {
            continue;
        }
        /* An instance voted on but undecided, or one decided behind a gap
         * (the log cannot move until the gap is filled). */
        if (s->decided ? i > e->nu : (s->hist_count > 0 || s->gen[0].has_2a || s->gen[1].has_2a)) {
            return true;
        }
    }
    return false;
}

static void
eng_timers(struct bpc_engine *e)
{
    if (eng_paced(e)) {
        eng_paced_events(e);
        return;
    }
    if (e->now_ns >= e->deadline_ns) {
        /* Move on only with company: a party alone at its ballot waits for
         * the others instead of running ahead where no quorum follows. */
        if (eng_has_work(e) && eng_weight_at_ballot(e) > e->faulty) {
            eng_next_ballot(e);
        } else {
            e->deadline_ns = e->now_ns + eng_timeout(e);
        }
    }
    if (e->now_ns >= e->retx_ns) {
        e->own_sent = e->own_head;
        eng_retransmit(e);
        e->retx_ns = e->now_ns + e->cfg.ballot_timeout_ns / 2;
    }
}

/* ------------------------------------------------------------------------
 * Decisions out, frames out.
 * ---------------------------------------------------------------------- */

/* Applies one decided instance: log first (it may push back), then the
 * commands, then the decision report. False when the log is full. */
static bool
eng_emit_one(struct bpc_engine *e, struct eng_slot *s, struct bpc_step_out *out)
{
    const struct bpc_vid *vid = &s->dec_vid;
    bool noop = vid->kind == BPC_VALUE_NOOP;
    uint32_t len = noop ? 0 : vid->len;
    const uint8_t *value = vid->kind == BPC_VALUE_DIGEST   ? eng_slot_value(e, s, ENG_GENS)
                           : vid->kind == BPC_VALUE_INLINE ? vid->id
                                                           : NULL;
    /* A malformed decided value needs more than F faulty weight; it then
     * applies no command rather than crashing every reader. */
    bool batch = !noop && eng_batch_ok(e, value, len);
    uint64_t mask = batch ? eng_skip_mask(e, value, len) : 0;
    if (e->cfg.log != NULL) {
        int rc = bpc_log_append(e->cfg.log, s->instance, value, len, noop, mask);
        if (rc == -ENOBUFS) {
            return false; /* a grace period is pending: retry next step */
        }
        BPC_ASSERT(rc == 0);
    }
    if (batch) {
        eng_apply_commands(e, s->instance, value, len, mask);
    }
    if (out->decisions != NULL) {
        struct bpc_decision *d = &out->decisions[out->decisions_count++];
        d->instance = s->instance;
        d->ballot = s->dec_ballot;
        d->vid = *vid;
        d->len = len;
        d->value = vid->kind == BPC_VALUE_INLINE ? d->vid.id : value;
    }
    return true;
}

static void
eng_emit(struct bpc_engine *e, struct bpc_step_out *out)
{
    while (out->decisions == NULL || out->decisions_count < out->decisions_cap) {
        struct eng_slot *s = &e->slots[e->nu & e->mask];
        if (s->instance != e->nu || !s->decided || !s->dec_bytes) {
            return;
        }
        if (eng_paced(e) && !(e->events & (1u << BPC_EVENT_FINALIZE))) {
            return; /* paced: Finished only at the finalize event */
        }
        if (!eng_emit_one(e, s, out)) {
            return;
        }
        s->emit_step = e->step_no;
        struct eng_dec *dr = eng_dring_at(e, s->instance);
        dr->instance = s->instance;
        dr->ballot = s->dec_ballot;
        dr->report_bal = s->max_vbal > s->dec_own ? s->max_vbal : s->dec_own;
        dr->vote_hi = eng_slot_vote_hi(s);
        dr->vid = s->dec_vid;
        dr->has_bytes = s->dec_vid.kind == BPC_VALUE_DIGEST;
        if (dr->has_bytes) {
            memcpy(e->dring_bytes + (size_t)(dr - e->dring) * e->vbytes,
                   eng_slot_value(e, s, ENG_GENS), s->dec_vid.len);
        }
        e->ctr.decided++;
        e->nu++;
        if (eng_paced(e)) {
            e->round_start_ns = e->now_ns;
            e->events = 0;
        }
    }
}

static size_t
eng_cu_stride(const struct bpc_engine *e)
{
    return (e->vbytes + 64) & ~(size_t)63;
}

/* Adds o to the frame if it fits; false when the frame is full. A record
 * whose value bytes are gone (eng_out_val) is left out and counted, but
 * consumed: *put tells whether it went in. */
static bool
eng_put(struct bpc_engine *e, struct bpc_wire_writer *w, const struct eng_out *o, uint32_t peer,
        uint32_t *put)
{
    struct bpc_record r = o->r;
    r.value_bytes = o->val;
    if (o->val != NULL) {
        r.value_bytes = eng_out_val(e, o);
        if (r.value_bytes == NULL) {
            e->ctr.tx_value_gone++;
            return true;
        }
    }
    if (r.type == BPC_MSG_ATTEST) {
        /* The command's MAC for this receiver; its bytes stay here. */
        bpc_command_mac(e->cfg.keys[peer], r.instance, r.value_bytes, (uint32_t)r.aux, r.value.id);
        r.value_bytes = NULL;
    }
    uint32_t extra = r.type == BPC_MSG_1B ? r.hist_count : 0u;
    uint32_t vlen = r.value_bytes != NULL && r.value.kind == BPC_VALUE_DIGEST ? r.value.len : 0;
    if (!bpc_wire_fits(w, 1 + extra, vlen)) {
        return false;
    }
    BPC_ASSERT(bpc_wire_put(w, &r) == 0);
    (*put)++;
    return true;
}

/* True when uq[u..uq_round) holds a unicast for peer. */
static bool
eng_uq_has(const struct bpc_engine *e, uint32_t u, uint32_t peer)
{
    for (; u < e->uq_round; u++) {
        if (e->uq[u].peer == peer) {
            return true;
        }
    }
    return false;
}

/* Writes the broadcast round and unicasts for one peer, from where the last
 * step stopped (flush_k, flush_u) when it is that peer's turn again; false
 * when out of tx buffers (the rest goes at the next step). Never sends a
 * record of the round twice. */
static bool
eng_flush_peer(struct bpc_engine *e, uint32_t peer, struct bpc_step_out *out)
{
    uint32_t k = e->flush_k;
    uint32_t u = e->flush_u;
    bool more = k < e->bq_round || eng_uq_has(e, u, peer);
    while (more) {
        if (out->frames_count == out->frames_cap) {
            e->flush_k = k;
            e->flush_u = u;
            return false;
        }
        struct bpc_frame_out *f = &out->frames[out->frames_count];
        struct bpc_wire_writer w;
        uint32_t cap = f->cap < e->cfg.frame_bytes ? f->cap : e->cfg.frame_bytes;
        /* A lent buffer too small for the reservation refuses every record
         * (begin leaves the writer empty): handled as a record that does
         * not fit, below. */
        (void)bpc_wire_begin(&w, f->bytes, cap, e->cfg.value_bytes_max);
        uint32_t put = 0;
        for (; k < e->bq_round; k++) {
            if (!eng_put(e, &w, &e->bq[(e->bq_head + k) % e->bq_cap], peer, &put)) {
                break;
            }
        }
        for (; k >= e->bq_round && u < e->uq_round; u++) {
            if (e->uq[u].peer == peer && !eng_put(e, &w, &e->uq[u], peer, &put)) {
                break;
            }
        }
        if (put == 0) {
            if (k >= e->bq_round && !eng_uq_has(e, u, peer)) {
                break; /* everything left had lost its value bytes */
            }
            /* The next record (with a 1b's history) fits no empty frame:
             * only a caller's tx buffer smaller than frame_bytes can do
             * that (config validation sizes frames for every group). It is
             * left out and counted, never sent in pieces. */
            e->ctr.tx_overflow++;
            if (k < e->bq_round) {
                const struct eng_out *o = &e->bq[(e->bq_head + k) % e->bq_cap];
                k += 1u + (o->r.type == BPC_MSG_1B ? o->r.hist_count : 0u);
                k = k < e->bq_round ? k : e->bq_round;
            } else {
                while (e->uq[u].peer != peer) {
                    u++;
                }
                u++;
            }
            more = k < e->bq_round || eng_uq_has(e, u, peer);
            continue;
        }
        struct bpc_frame_header h = {.cluster_id = e->cfg.cluster_id,
                                     .sender = (uint16_t)e->self,
                                     .receiver = (uint16_t)peer,
                                     .seq = ++e->tx_seq[peer]};
        f->len = bpc_wire_finish(&w, &h, e->cfg.keys[peer]);
        f->peer = peer;
        out->frames_count++;
        e->ctr.frames_tx++;
        e->ctr.records_tx += put;
        more = k < e->bq_round || eng_uq_has(e, u, peer);
    }
    e->flush_k = 0;
    e->flush_u = 0;
    return true;
}

/* After a round: unicasts queued while it was under way move to the front,
 * with the catch-up buffers they point into. */
static void
eng_uq_keep_late(struct bpc_engine *e)
{
    uint32_t keep = e->uq_count - e->uq_round;
    size_t stride = eng_cu_stride(e);
    size_t shift = (size_t)e->cu_round * stride;
    const uint8_t *late = e->cu_buf + shift;
    const uint8_t *end = e->cu_buf + (size_t)e->cu_used * stride;
    if (shift > 0 && end > late) {
        memmove(e->cu_buf, late, (size_t)(end - late));
    }
    for (uint32_t i = 0; i < keep; i++) {
        struct eng_out *o = &e->uq[i];
        *o = e->uq[e->uq_round + i];
        if (o->val >= late && o->val < end) {
            o->val -= shift;
        }
    }
    e->uq_count = keep;
    e->uq_round = 0;
    e->cu_used -= e->cu_round;
    e->cu_round = 0;
}

/* Flushes the outbox unless a durability confirmation is outstanding.
 * Returns 0, or -EAGAIN when tx buffers ran out mid-round. */
static int
eng_flush(struct bpc_engine *e, struct bpc_step_out *out)
{
    if (e->persist_pending || (e->bq_count == 0 && e->uq_count == 0)) {
        return 0;
    }
    if (!e->round_open) {
        /* A round is what is queued now; what later steps queue while it
         * is under way waits for the next one. */
        e->round_open = true;
        e->bq_round = e->bq_count;
        e->uq_round = e->uq_count;
        e->cu_round = e->cu_used;
    }
    for (uint32_t p = e->flush_peer; p < e->n; p++) {
        if (p == e->self) {
            continue;
        }
        if (!eng_flush_peer(e, p, out)) {
            e->flush_peer = p;
            return -EAGAIN;
        }
    }
    e->bq_head = (e->bq_head + e->bq_round) % e->bq_cap;
    e->bq_count -= e->bq_round;
    e->bq_round = 0;
    e->flush_peer = 0;
    e->round_open = false;
    eng_uq_keep_late(e);
    return 0;
}

static uint64_t
eng_next_deadline(const struct bpc_engine *e)
{
    if (!e->persist_pending && (e->bq_count > 0 || e->uq_count > 0)) {
        return e->now_ns;
    }
    if (eng_paced(e)) {
        for (uint32_t ev = 0; ev < BPC_EVENTS_COUNT; ev++) {
            if (!(e->events & (1u << ev))) {
                return e->round_start_ns + *eng_event_offsets(e, (enum bpc_event)ev);
            }
        }
        return UINT64_MAX;
    }
    return e->deadline_ns < e->retx_ns ? e->deadline_ns : e->retx_ns;
}

int
bpc_engine_step(struct bpc_engine *e, const struct bpc_step_in *in, struct bpc_step_out *out)
{
    BPC_ASSERT(e->started);
    BPC_ASSERT(in->now_ns >= e->now_ns); /* the clock is monotonic */
    e->now_ns = in->now_ns;
    e->step_no++;
    e->cur_out = out;
    out->frames_count = 0;
    out->decisions_count = 0;
    out->persist = NULL;
    out->persist_count = 0;
    for (uint32_t k = 0; k < in->frames_count; k++) {
        eng_receive(e, in->frames[k].bytes, in->frames[k].len);
    }
    eng_ring_drain(e);
    eng_forward(e);
    for (uint32_t round = 0; round < ENG_PUMP_ROUNDS; round++) {
        uint64_t nu = e->nu;
        eng_drain_self(e);
        if (round == 0) {
            eng_timers(e);
            eng_drain_self(e);
        }
        if (e->recheck) {
            e->recheck = false;
            eng_recheck(e);
        }
        eng_leader_pump(e);
        eng_drain_self(e);
        if (e->selfq_count == 0 && !e->recheck && nu == e->nu) {
            break;
        }
    }
    /* Decisions are emitted as they happen (eng_decide); this catches
     * paced finalizes and log pushback. A slot whose digest value was
     * emitted in this step is not reused before the caller reads it. */
    eng_emit(e, out);
    e->cur_out = NULL;
    if (e->catching_up && e->nu >= e->cu_req_nu + ENG_CATCHUP_MAX / 2) {
        /* Pipelined catch-up: once half of the last answer is applied, ask
         * for the next stretch at once instead of waiting for the next
         * retransmit tick (paced, so answers do not pile up). */
        e->catching_up = false;
        e->cu_req_nu = e->nu;
        struct bpc_record st = bpc_record_make(BPC_MSG_STATUS, e->nu, e->bal, 0, NULL);
        for (uint32_t p = 0; p < e->n; p++) {
            if (p != e->self) {
                eng_unicast(e, p, &st, NULL);
            }
        }
    }
    if (e->max_bal_dirty || e->dirty_count > 0 || e->vouch_count > 0) {
        eng_collect_persist(e, out);
    }
    int rc = eng_flush(e, out);
    out->next_deadline_ns = eng_next_deadline(e);
    return rc < 0 ? rc : (int)out->frames_count;
}

void
bpc_engine_persisted(struct bpc_engine *e)
{
    e->persist_pending = false;
}

/* ------------------------------------------------------------------------
 * Set-up.
 * ---------------------------------------------------------------------- */

enum {
    L_RANGE_BAL,
    L_RANGE_FROM,
    L_SEQ_LAST,
    L_SEQ_BITS,
    L_TX_SEQ,
    L_FUT,
    L_SLOTS,
    L_BITS,
    L_VALUES,
    L_CLAIMS,
    L_SCRATCH,
    L_CMDS,
    L_CMD_BYTES,
    L_QUEUES,
    L_DUR,
    L_DIRTY,
    L_SEQS,
    L_BUFS,
    L_DRING_BYTES,
    L_ATT,
    L_COUNT
};

struct eng_layout {
    size_t off[L_COUNT];
    size_t total;
};

/* Commands a submitter keeps out (forwarded and attested) ahead of its
 * oldest unapplied one; receivers keep that many MACs per submitter. */
#define ENG_ATT_SLOTS_MAX 256u

struct eng_sizes {
    uint32_t n, words, window, vbytes, claims, cmds, cmd_stride, bq_cap, uq_cap, recs_cap;
    uint32_t dring_len, att_slots;
};

static void
eng_sizes_of(const struct bpc_config *cfg, struct eng_sizes *z)
{
    z->n = cfg->parties_count;
    z->words = (z->n + 63) / 64;
    z->window = cfg->window_slots;
    /* Value buffers are needed only for values that travel by digest. */
    z->vbytes = cfg->value_bytes_max > BPC_VALUE_INLINE_MAX ? (cfg->value_bytes_max + 7u) & ~7u : 0;
    /* 1b claims: one per (instance voted on, sender) at one ballot; the
     * pool is a liveness bound (an exhausted pool drops 1b reports). */
    uint64_t per_window = 2ull * z->window * (z->n < 16 ? z->n : 16);
    z->claims = 256 + 2 * z->n + (uint32_t)(per_window < 65536 ? per_window : 65536);
    z->cmds = cfg->commands_max;
    z->cmd_stride = (bpc_command_bytes_max(cfg) + 7u) & ~7u;
    z->bq_cap = z->window * (6 + BPC_HISTORY_MAX) + 4 * ENG_RETX_MAX + 64;
    z->uq_cap = z->window + 4 * ENG_CATCHUP_MAX + 2 * z->n + 256;
    z->recs_cap = BPC_FRAME_BYTES_MAX / BPC_WIRE_RECORD_BYTES;
    /* Recent decisions outlive their slots by 2 windows (their bytes too),
     * so a party lagging that far catches up without a log. */
    z->dring_len = 2 * z->window + 256;
    /* MACs kept per submitter: up to 256, fewer with many parties (the
     * table is parties x slots), never fewer than 8. */
    uint32_t att = ENG_ATT_SLOTS_MAX;
    while (att > 8 && (uint64_t)att * z->n > 16384) {
        att /= 2;
    }
    z->att_slots = z->cmds < att ? z->cmds : att;
}

static size_t
eng_align(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

static void
eng_layout_of(const struct eng_sizes *z, struct eng_layout *l)
{
    size_t sizes[L_COUNT];
    sizes[L_RANGE_BAL] = sizes[L_RANGE_FROM] = sizes[L_SEQ_LAST] = sizes[L_TX_SEQ] =
        (size_t)z->n * sizeof(uint64_t);
    sizes[L_SEQ_BITS] = (size_t)z->n * ENG_REPLAY_WORDS * sizeof(uint64_t);
    sizes[L_FUT] = (size_t)z->n * (2 * sizeof(uint64_t) + sizeof(struct eng_bal_w)) +
                   (size_t)z->dring_len * sizeof(struct eng_dec);
    sizes[L_SLOTS] = (size_t)z->window * sizeof(struct eng_slot);
    sizes[L_BITS] = (size_t)z->window * (ENG_GENS * SEEN_PER_GEN + 1) * z->words * sizeof(uint64_t);
    sizes[L_VALUES] = (size_t)z->window * ENG_VALUE_BUFS * z->vbytes;
    sizes[L_CLAIMS] = (size_t)z->claims * sizeof(struct eng_claim);
    sizes[L_SCRATCH] = (size_t)z->n * sizeof(struct bpc_1b_report);
    sizes[L_CMDS] = (size_t)z->cmds * (sizeof(struct eng_cell) + 2 * sizeof(struct eng_cmd));
    sizes[L_CMD_BYTES] = (size_t)z->cmds * z->cmd_stride * 3;
    sizes[L_QUEUES] = ((size_t)z->bq_cap * 2 + z->uq_cap) * sizeof(struct eng_out) +
                      (size_t)z->recs_cap * sizeof(struct bpc_record);
    sizes[L_DUR] = ((size_t)z->window + 1 + z->n + 2 * ENG_VOUCH_MAX) * sizeof(struct bpc_durable);
    sizes[L_DIRTY] = (size_t)z->window * sizeof(uint32_t);
    sizes[L_SEQS] = (size_t)z->n * (2 * sizeof(uint64_t) + sizeof(uint32_t) + 1);
    sizes[L_BUFS] = (size_t)(1 + 2 * ENG_CATCHUP_MAX) * ((z->vbytes + 64) & ~(size_t)63);
    sizes[L_DRING_BYTES] = (size_t)z->dring_len * z->vbytes;
    sizes[L_ATT] = (size_t)z->n * z->att_slots * sizeof(struct eng_att);
    size_t off = eng_align(sizeof(struct bpc_engine));
    for (int k = 0; k < L_COUNT; k++) {
        l->off[k] = off;
        off += eng_align(sizes[k]);
    }
    l->total = off;
}

size_t
bpc_engine_footprint(const struct bpc_config *cfg)
{
    if (cfg->parties_count == 0 || cfg->parties_count > BPC_PARTIES_MAX || cfg->window_slots == 0 ||
        cfg->window_slots > BPC_WINDOW_SLOTS_MAX || cfg->value_bytes_max > BPC_VALUE_BYTES_MAX) {
        return 0;
    }
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    return l.total;
}

static void
eng_carve(struct bpc_engine *e, uint8_t *base, const struct eng_sizes *z,
          const struct eng_layout *l)
{
    e->range_bal = (uint64_t *)(void *)(base + l->off[L_RANGE_BAL]);
    e->range_from = (uint64_t *)(void *)(base + l->off[L_RANGE_FROM]);
    e->seq_last = (uint64_t *)(void *)(base + l->off[L_SEQ_LAST]);
    e->seq_bits = (uint64_t *)(void *)(base + l->off[L_SEQ_BITS]);
    e->tx_seq = (uint64_t *)(void *)(base + l->off[L_TX_SEQ]);
    e->peer_bal = (uint64_t *)(void *)(base + l->off[L_FUT]);
    e->witness = e->peer_bal + z->n;
    e->bal_scratch = (struct eng_bal_w *)(void *)(e->witness + z->n);
    e->dring = (struct eng_dec *)(void *)(e->bal_scratch + z->n);
    e->dring_len = z->dring_len;
    e->dring_bytes = base + l->off[L_DRING_BYTES];
    e->att = (struct eng_att *)(void *)(base + l->off[L_ATT]);
    e->att_slots = z->att_slots;
    e->slots = (struct eng_slot *)(void *)(base + l->off[L_SLOTS]);
    e->bits = (uint64_t *)(void *)(base + l->off[L_BITS]);
    e->values = base + l->off[L_VALUES];
    e->claims = (struct eng_claim *)(void *)(base + l->off[L_CLAIMS]);
    e->scratch = (struct bpc_1b_report *)(void *)(base + l->off[L_SCRATCH]);
    e->ring = (struct eng_cell *)(void *)(base + l->off[L_CMDS]);
    e->own = (struct eng_cmd *)(void *)(e->ring + z->cmds);
    e->lq = e->own + z->cmds;
    e->ring_bytes = base + l->off[L_CMD_BYTES];
    e->own_bytes = e->ring_bytes + (size_t)z->cmds * z->cmd_stride;
    e->lq_bytes = e->own_bytes + (size_t)z->cmds * z->cmd_stride;
    e->applied_hi = (uint64_t *)(void *)(base + l->off[L_SEQS]);
    e->queued_hi = e->applied_hi + z->n;
    e->applied_dirty = (uint32_t *)(void *)(e->queued_hi + z->n);
    e->applied_listed = (uint8_t *)(e->applied_dirty + z->n);
    e->batch_buf = base + l->off[L_BUFS];
    e->cu_buf = e->batch_buf + ((z->vbytes + 64) & ~(size_t)63);
    e->bq = (struct eng_out *)(void *)(base + l->off[L_QUEUES]);
    e->selfq = e->bq + z->bq_cap;
    e->uq = e->selfq + z->bq_cap;
    e->recs = (struct bpc_record *)(void *)(e->uq + z->uq_cap);
    e->dur = (struct bpc_durable *)(void *)(base + l->off[L_DUR]);
    e->vouch = e->dur + z->window + 1 + z->n + ENG_VOUCH_MAX;
    e->dirty = (uint32_t *)(void *)(base + l->off[L_DIRTY]);
    e->claims_cap = z->claims;
    e->cmd_mask = z->cmds - 1u;
    e->cmd_stride = z->cmd_stride;
    for (uint32_t k = 0; k < z->cmds; k++) {
        atomic_init(&e->ring[k].seq, k);
    }
    e->bq_cap = z->bq_cap;
    e->selfq_cap = z->bq_cap;
    e->uq_cap = z->uq_cap;
    e->recs_cap = z->recs_cap;
    e->dur_cap = z->window + 1 + z->n + ENG_VOUCH_MAX;
}

static void
eng_reset_state(struct bpc_engine *e)
{
    for (uint32_t k = 0; k < e->window; k++) {
        e->slots[k].instance = UINT64_MAX;
        e->slots[k].gen[0].claims = UINT32_MAX;
        e->slots[k].gen[1].claims = UINT32_MAX;
    }
    for (uint32_t k = 0; k < e->claims_cap; k++) {
        e->claims[k].next = k + 1 < e->claims_cap ? k + 1 : UINT32_MAX;
    }
    e->claims_free = 0;
    e->leader = -1;
    e->deadline_ns = UINT64_MAX;
    e->retx_ns = UINT64_MAX;
}

int
bpc_engine_init(struct bpc_engine **out, void *mem, size_t mem_len, const struct bpc_config *cfg,
                char *err, size_t err_len)
{
    int rc = bpc_config_validate(cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (cfg->parties_count > 1 && cfg->keys == NULL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "keys=NULL: %u parties need pairwise keys", cfg->parties_count);
        }
        return -EINVAL;
    }
    size_t need = bpc_engine_footprint(cfg);
    if (mem == NULL || mem_len < need || ((uintptr_t)mem & 63u) != 0) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "engine storage: %zu bytes given, %zu (64-byte aligned) needed",
                     mem_len, need);
        }
        return -ENOBUFS;
    }
    memset(mem, 0, need);
    struct bpc_engine *e = mem;
    struct eng_sizes z;
    struct eng_layout l;
    eng_sizes_of(cfg, &z);
    eng_layout_of(&z, &l);
    e->cfg = *cfg;
    bpc_config_digest(cfg, e->digest);
    e->total = bpc_config_total_weight(cfg);
    e->threshold = bpc_config_threshold(cfg);
    e->faulty = bpc_faulty_weight(e->total, e->threshold);
    e->n = z.n;
    e->self = cfg->self;
    e->words = z.words;
    e->window = z.window;
    /* The leader keeps at most half the slots in flight, so a party that
     * lags by up to half a window still has room for its newest proposals;
     * slots not yet reused keep decided instances for lagging peers (older
     * ones come from the log). */
    e->active = z.window > 1 ? z.window / 2 : 1;
    e->mask = z.window - 1u;
    e->vbytes = z.vbytes;
    eng_carve(e, mem, &z, &l);
    eng_reset_state(e);
    bpc_prng_seed(&e->prng, cfg->seed);
    *out = e;
    return 0;
}

int
bpc_engine_new(struct bpc_engine **out, const struct bpc_config *cfg, char *err, size_t err_len)
{
    size_t need = bpc_engine_footprint(cfg);
    int rc = bpc_config_validate(cfg, err, err_len);
    if (rc != 0) {
        return rc;
    }
    void *mem = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (mem == NULL) {
        return -ENOMEM;
    }
    rc = bpc_engine_init(out, mem, need, cfg, err, err_len);
    if (rc != 0) {
        free(mem);
        return rc;
    }
    (*out)->alloc_base = mem;
    return 0;
}

void
bpc_engine_free(struct bpc_engine *e)
{
    if (e != NULL && e->alloc_base != NULL) {
        free(e->alloc_base);
    }
}

int
bpc_engine_restore(struct bpc_engine *e, const struct bpc_durable *recs, uint32_t count)
{
    if (e->started) {
        return -EBUSY;
    }
    /* Party-wide facts first: the floor places the window. */
    for (uint32_t k = 0; k < count; k++) {
        const struct bpc_durable *d = &recs[k];
        e->max_bal = d->max_bal > e->max_bal ? d->max_bal : e->max_bal;
        e->incarnation = d->incarnation > e->incarnation ? d->incarnation : e->incarnation;
        e->nu = d->floor > e->nu ? d->floor : e->nu;
    }
    e->next_prop = e->nu;
    e->cu_req_nu = e->nu;
    for (uint32_t k = 0; k < count; k++) {
        const struct bpc_durable *d = &recs[k];
        if (d->instance >= BPC_DURABLE_APPLIED_BASE && d->instance != UINT64_MAX &&
            d->instance - BPC_DURABLE_APPLIED_BASE < e->n) {
            uint32_t sub = (uint32_t)(d->instance - BPC_DURABLE_APPLIED_BASE);
            if (d->applied_seq > e->applied_hi[sub]) {
                e->applied_hi[sub] = d->applied_seq;
            }
            continue;
        }
        if (d->instance >= BPC_DURABLE_APPLIED_BASE || d->hist_count > BPC_HISTORY_MAX) {
            continue;
        }
        /* Votes are persisted with a floor at most a window below them, so
         * every vote at or above the floor lands in the window; records
         * below it are of decided instances and no longer needed. */
        struct eng_slot *s = eng_slot_get(e, d->instance);
        if (s == NULL) {
            continue;
        }
        s->max_vbal = d->max_vbal;
        s->max_vval = d->max_vval;
        s->hist_count = d->hist_count;
        memcpy(s->hist_bal, d->hist_bal, sizeof(s->hist_bal));
        memcpy(s->hist_val, d->hist_val, sizeof(s->hist_val));
    }
    atomic_store_explicit(&e->applied_own, e->applied_hi[e->self], memory_order_release);
    return 0;
}

void
bpc_engine_start(struct bpc_engine *e, uint64_t now_ns)
{
    BPC_ASSERT(!e->started);
    e->started = true;
    e->now_ns = now_ns;
    if (e->max_bal > 0) {
        e->incarnation++;
        e->max_bal_dirty = true;
    }
    for (uint32_t p = 0; p < e->n; p++) {
        e->tx_seq[p] = e->incarnation << 40;
    }
    e->retx_ns = now_ns + e->cfg.ballot_timeout_ns / 2;
    if (e->max_bal > 0) {
        /* Rejoin the ballot promised before the restart without a new 1b. */
        e->bal = e->max_bal;
        e->leader = bpc_elect_leader(&e->cfg, e->digest, e->bal);
        e->sent_1b = true;
        e->voted_at_bal = true; /* the restored votes may include ones at bal */
        e->round_start_ns = now_ns;
        e->deadline_ns = now_ns + eng_timeout(e);
        return;
    }
    eng_join(e, 1);
}

/* ------------------------------------------------------------------------
 * Queries and submissions.
 * ---------------------------------------------------------------------- */

uint64_t
bpc_engine_ballot(const struct bpc_engine *e)
{
    return e->bal;
}

int
bpc_engine_leader(const struct bpc_engine *e)
{
    return e->leader;
}

uint64_t
bpc_engine_next_undecided(const struct bpc_engine *e)
{
    return e->nu;
}

uint32_t
bpc_engine_events(const struct bpc_engine *e)
{
    return e->events;
}

const struct bpc_counters *
bpc_engine_counters(const struct bpc_engine *e)
{
    return &e->ctr;
}

bpc_u128
bpc_engine_faulty_weight(const struct bpc_engine *e)
{
    return e->faulty;
}

static enum bpc_status
eng_gen_status(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    const struct eng_gen *gen = &s->gen[g];
    for (uint32_t k = 0; k < gen->n2av && gen->has_2a; k++) {
        if (bpc_vid_eq(&gen->t2av[k].vid, &gen->v2a) && gen->t2av[k].weight >= e->threshold) {
            return BPC_STATUS_PASSED_2AV;
        }
    }
    if (s->hist_count > 0 && s->hist_bal[0] == e->bal) {
        return BPC_STATUS_PASSED_2A;
    }
    struct bpc_safe_view view;
    eng_view(e, s, g, &view);
    if (bpc_safe_weight(&view) >= e->threshold) {
        return BPC_STATUS_PASSED_1B;
    }
    return BPC_STATUS_NONE;
}

enum bpc_status
bpc_engine_status(const struct bpc_engine *ce, uint64_t instance)
{
    struct bpc_engine *e = (struct bpc_engine *)(uintptr_t)ce; /* views use scratch */
    if (instance < e->nu) {
        return BPC_STATUS_FINISHED;
    }
    if (e->bal == 0) {
        return BPC_STATUS_NONE;
    }
    struct eng_slot *s = eng_in_window(e, instance) ? &e->slots[instance & e->mask] : NULL;
    if (s != NULL && s->instance == instance) {
        if (s->decided) {
            return BPC_STATUS_PASSED_2B;
        }
        int g = eng_gen_find(e, s, e->bal, false);
        enum bpc_status st = g >= 0 ? eng_gen_status(e, s, (uint32_t)g) : BPC_STATUS_NONE;
        if (st != BPC_STATUS_NONE) {
            return st;
        }
    } else {
        /* No record touched the slot yet: only range 1b messages count. */
        bpc_u128 w = 0;
        for (uint32_t p = 0; p < e->n; p++) {
            if (eng_range_covers(e, p, e->bal, instance)) {
                w += eng_weight(e, p);
            }
        }
        if (w >= e->threshold) {
            return BPC_STATUS_PASSED_1B;
        }
    }
    if (e->got_1a || (eng_is_leader(e) && e->sent_1a)) {
        return BPC_STATUS_PASSED_1A;
    }
    return BPC_STATUS_LAUNCHED;
}
