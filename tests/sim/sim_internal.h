/*
 * sim_internal.h - the simulator's state, shared by the files of its
 * library: sim.c (clock, event loop), net.c (network), party.c (submitting,
 * stepping), disk.c (disks, crashes, restarts), check.c (checkers), opts.c
 * (options, engine configs), setup.c (building, freeing), result.c
 * (results, names) and the byz files (Byzantine behaviours: byz.c,
 * byz_values.c, byz_rewrite.c, byz_craft.c, byz_malformed.c; the calls
 * they make into each other are in byz_internal.h). Not for tests: they
 * use sim.h.
 *
 * Owns: the layout of struct sim and struct sim_party, the seeded PRNG
 * helpers, the arena's handle helpers, and the calls the library's files
 * make into each other. Must never: be included outside those files.
 */
#ifndef BPC_SIM_INTERNAL_H
#define BPC_SIM_INTERNAL_H

#include "prng.h"
#include "sim.h"

#include <stdbool.h>
#include <stdint.h>

/* Frames in flight live in an arena of chunks of 2^SIM_CHUNK_SHIFT bytes:
 * each is a struct sim_msg header and its bytes, 8-byte aligned. A message
 * is named by a 32-bit handle: chunk index << SIM_HANDLE_OFF_BITS | offset
 * in 8-byte units (so up to 2^17 chunks of 256 KiB, 32 GiB in flight). */
#define SIM_CHUNK_SHIFT 18u
#define SIM_CHUNK_BYTES (1u << SIM_CHUNK_SHIFT)
#define SIM_HANDLE_OFF_BITS (SIM_CHUNK_SHIFT - 3u)
#define SIM_CHUNKS_MAX (1u << (32u - SIM_HANDLE_OFF_BITS))
/* Largest frame the network carries (sim_inject refuses more). */
#define SIM_FRAME_BYTES_MAX 16384u
/* Frames handed to one engine step at most (an rx burst). */
#define SIM_IN_CAP 64u
/* Parties per microsecond of delay tick (sim_net_delay). */
#define SIM_DELAY_TICK_PARTIES 100u
/* With a liveness bound: commands outstanding over all parties at most
 * (each party keeps max(1, this / parties) outstanding). */
#define SIM_OUTSTANDING_TOTAL 64u
#define SIM_NONE UINT32_MAX

/* ------------------------------------------------------------------------
 * PRNG: splitmix64 seeding xoshiro256**.
 * ---------------------------------------------------------------------- */

struct sim_rng {
    struct bpc_prng g;
};

/* One splitmix64 output (stream seeds, set hashing). */
static inline uint64_t
sim_splitmix64(uint64_t *state)
{
    return bpc_splitmix64(state);
}

/* Seeds one stream. */
static inline void
sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    bpc_prng_seed(&r->g, seed);
}

/* The next 64 random bits of a stream. */
static inline uint64_t
sim_rng_next(struct sim_rng *r)
{
    return bpc_prng_next(&r->g);
}

/* Uniform in [0, n) by rejection (n > 0). */
static inline uint64_t
sim_rng_below(struct sim_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = sim_rng_next(r);
        if (x < limit) {
            return x % n;
        }
    }
}

/* ------------------------------------------------------------------------
 * State.
 * ---------------------------------------------------------------------- */

/* A frame in flight: this header, then its bytes, in an arena chunk: all
 * len of them when body is SIM_NONE, else its head and tail, the middle
 * being the shared body's. */
struct sim_msg {
    uint32_t body; /* handle of a struct sim_body, or SIM_NONE */
    uint16_t len;  /* frame bytes (<= SIM_FRAME_BYTES_MAX) */
    uint16_t diff; /* with a body: how many head bytes differ from its head */
};

/* The middle of frames that share it (a broadcast's records): this
 * header, then len bytes, in an arena chunk. */
struct sim_body {
    uint32_t refs; /* messages that use it */
    uint32_t len;
};

/* One scheduled delivery, as the calendar holds it (the delivery pass
 * needs nothing from the frame itself, so it does not touch it). */
struct sim_ev {
    uint32_t msg;     /* handle */
    uint16_t to;      /* receiver */
    uint16_t records; /* record count from the frame's header (0: unparsable) */
};

/* A block of a bucket's FIFO of deliveries (256 bytes). */
#define SIM_BLOCK_EVS 31u
struct sim_block {
    uint32_t next; /* the bucket's next block, or a free-list link; SIM_NONE */
    uint32_t count;
    struct sim_ev ev[SIM_BLOCK_EVS];
};

/* One arena chunk: its memory (NULL: the slot has none) and how many
 * messages in it are still in flight. */
struct sim_chunk {
    uint8_t *mem;
    uint32_t live;
    uint32_t next; /* spare or unused list link */
};

/* The deliveries due at one instant, in sequence order (a FIFO of
 * blocks), as a slot of the calendar's hash table on the time;
 * head == SIM_NONE: an empty slot. */
struct sim_bucket {
    uint64_t at_ns;
    uint32_t head; /* first block */
    uint32_t tail; /* last block (the one appended to) */
};

/* A frame delivered at this instant, before it is grouped by receiver. */
struct sim_dlv {
    uint32_t msg;
    uint32_t to;
};

/* Per submitting party: what the engine called each command, and when it
 * was submitted (the liveness deadline counts from there). */
struct sim_cmd_track {
    uint64_t *ticket; /* per sequence: the ticket bpc_submit returned */
    uint64_t ticket_cap;
    uint64_t *submit_ns; /* per sequence: virtual time of the submission */
    uint64_t submit_cap;
};

/* Open-addressing map from a command's engine name (submitter, engine
 * sequence) to a u64 (an instance + 1, or 1 for set membership). */
struct sim_map_ent {
    uint64_t seq;
    uint64_t val;
    uint32_t sub1; /* submitter + 1; 0: empty */
};

struct sim_map {
    struct sim_map_ent *ents;
    uint64_t cap; /* power of two or 0 */
    uint64_t count;
};

struct sim_ref {
    bool set;
    struct bpc_vid vid;
};

struct sim_byz;
struct sim_byz_party;

/* What the network reads and writes per frame, for each party: a small
 * entry of sim.rx instead of lines of the large struct sim_party, so at
 * 999 parties they stay in the first-level cache while frames to and
 * from random parties pass. */
struct sim_rx {
    uint64_t touched_epoch;
    uint32_t in_count; /* frames delivered to it at this instant */
    uint32_t in_off;   /* where they start in sim.grouped */
    bool crashed;      /* sim_party.crashed */
    bool byz;          /* sim_party.byz != SIM_BYZ_NONE */
};

/* A durable value on a party's disk (bpc_step_out.persist_values). */
#define SIM_DISK_VALS 4u
struct sim_dval {
    uint64_t instance;
    struct bpc_vid vid; /* kind NONE: the place is empty */
    uint8_t *bytes;     /* bytes_cap allocated */
    uint32_t bytes_cap;
};

struct sim_party {
    struct sim *sim; /* back pointer for the engine's apply callback */
    uint32_t id;
    struct bpc_engine *e;
    struct bpc_log *dlog; /* the engine's decided log (peers' catch-up source) */
    bool crashed;
    bool restarted;
    uint8_t byz;
    bool done;
    uint64_t deadline_ns; /* SIM_NEVER when not in the deadline heap */
    uint32_t dl_pos;      /* index in the deadline heap or SIM_NONE */
    uint64_t submitted;   /* next command sequence */
    uint64_t quota;       /* with opts.commands: commands it submits in all */
    uint64_t live_from;   /* first sequence the liveness checker asks for
                             (commands before a restart may be lost) */
    uint64_t done_cursor; /* next own sequence whose ticket is checked */
    uint64_t lost;        /* commands a crash may have lost (submitted, not yet
                             checked): --instances may submit as many more */
    struct sim_log_entry *log;
    uint64_t log_len;
    uint64_t log_cap;
    uint64_t first_instance;
    struct bpc_durable **disk; /* ring of disk_cap records by instance (each
                                  allocated when first written; NULL: none) */
    uint32_t disk_cap;
    struct sim_dval **disk_vals;      /* per ring place, SIM_DISK_VALS values (bytes) of
                                         its newest instance (allocated when first
                                         written; NULL: none) */
    struct bpc_durable disk_party;    /* the instance == UINT64_MAX record */
    struct bpc_durable *disk_applied; /* apply-state records, one per submitter
                                         seen, in the order first written */
    uint32_t disk_applied_count;
    uint32_t disk_applied_cap;
    struct sim_map disk_applied_at; /* (submitter, 0) -> index + 1 */
    struct sim_cmd_track cmds;      /* commands this party submitted */
    struct sim_map applied;         /* commands this party applied (engine names) */
    uint64_t *applied_hi;           /* per submitter slot (sim.sub_slot): 1 + the
                                       highest of its sequences this party applied,
                                       0: none */
    uint64_t applied_count;
    uint64_t applied_correct; /* of which commands of correct submitters */
    struct sim_byz_party *bz; /* Byzantine parties: byz_internal.h */
};

struct sim {
    struct sim_opts o;
    enum sim_outcome outcome;
    uint64_t now_ns;
    uint32_t n;
    struct sim_party *parties;
    struct sim_rx *rx;              /* n entries */
    uint8_t (*keys)[BPC_KEY_BYTES]; /* n x n pair keys, row p is party p's */
    uint64_t cluster_id;
    struct bpc_config *cfg0;        /* party 0's config (no keys, log or hooks) */
    struct bpc_config *cfg_scratch; /* one party's, built to create an engine */
    uint32_t *sub_slot;             /* per party: its submitter slot, SIM_NONE */
    uint32_t sub_slots;
    uint8_t digest[BPC_DIGEST_BYTES]; /* config digest (leader elections) */
    uint32_t frame_bytes;
    uint64_t delay_tick_us;    /* delays are whole ticks: max(1, n / 100) us */
    uint64_t delay_span_ticks; /* ticks in [delay min, delay max] */
    uint64_t delay_limit;      /* its rejection limit (as sim_rng_below's) */
    uint64_t loss_cut;
    uint64_t dup_cut;
    uint64_t tag_key; /* secret of the command tags; byz*.c never read it */
    struct sim_rng net_rng;
    struct sim_rng byz_rng;
    /* network: the frame arena (chunks, the one being written, spare
     * chunks kept for reuse, slots without memory) */
    struct sim_chunk *chunks;
    uint32_t chunks_count;
    uint32_t chunks_cap;
    uint32_t chunk_cur; /* SIM_NONE: none yet */
    uint32_t chunk_used;
    uint32_t chunk_spare;
    uint32_t chunk_spare_count;
    uint32_t chunk_unused;
    uint32_t last_body;    /* the body stored last (shared by the next copy
                              when it carries the same middle); SIM_NONE */
    uint8_t *stage;        /* a burst's frames put back together */
    uint64_t net_inflight; /* messages in flight (scheduled, or delivered and
                              not yet stepped) */
    uint64_t net_bytes;    /* arena bytes they take */
    /* network: the calendar (buckets by time, their blocks, a min-heap of
     * their times) */
    struct sim_bucket *cal;
    uint32_t cal_mask;
    uint32_t cal_count;
    struct sim_block *blocks;
    uint32_t blocks_count;
    uint32_t blocks_cap;
    uint32_t block_free;
    uint64_t *times;
    uint32_t times_count;
    uint32_t times_cap;
    /* network: this instant's deliveries, in delivery order, then grouped
     * by receiver (each touched party's run in first-touch order) */
    struct sim_dlv *dlv;
    uint64_t dlv_count;
    uint64_t dlv_cap;
    uint32_t *grouped;
    uint64_t grouped_cap;
    /* deadlines: indexed min-heap of party ids on (deadline_ns, id) */
    uint32_t *dl_heap;
    uint32_t dl_count;
    /* crashes sorted by time */
    uint32_t *crash_order;
    uint32_t crash_count;
    uint32_t crash_next;
    /* restarts sorted by time */
    uint32_t *restart_order;
    uint32_t restart_count;
    uint32_t restart_next;
    uint64_t log_retain;
    uint32_t log_segment;
    /* BPC_SIM_DEBUG: delivered records by type, dumped at the end */
    bool debug;
    uint64_t debug_types[BPC_MSG_TYPES_COUNT];
    struct bpc_record *debug_recs;
    bool rcu_registered;
    uint64_t byz_next_ns;
    uint32_t byz_count;
    struct sim_byz *bz; /* the byz files' shared state (byz_internal.h) */
    /* the Byzantine phase, the heal and liveness */
    bool healed;
    uint64_t live_next_ns; /* next liveness check; SIM_NEVER: none */
    uint32_t muted;        /* party whose frames are dropped, or SIM_NONE */
    uint64_t reign_ballot;
    uint64_t reign_start_ns;
    /* one event's work */
    uint32_t *touched;
    uint32_t touched_count;
    uint64_t epoch;
    /* step buffers, shared by all parties */
    struct bpc_frame_out *outf;
    uint8_t *out_bytes;
    uint32_t out_cap;
    struct bpc_decision *decs;
    uint32_t decs_cap;
    struct bpc_frame_in inf[SIM_IN_CAP];
    /* checkers */
    struct sim_ref *refs;
    uint64_t refs_cap;
    uint64_t base_instance;
    uint32_t correct_live;
    uint32_t done_count;
    uint64_t submit_max;       /* commands per party at most */
    struct sim_map applied_at; /* (submitter, engine seq) -> instance + 1 */
    uint64_t events;
    struct sim_result r;
    int first_leader;
};

/* Seeds of the derived streams: the seed walks one splitmix64 sequence. */
enum sim_stream {
    SIM_STREAM_CLUSTER = 0,
    SIM_STREAM_NET,
    SIM_STREAM_BYZ,
    SIM_STREAM_PARTY0,         /* + party id */
    SIM_STREAM_TAG = 1u << 20, /* command tags (not beside party ids) */
    SIM_STREAM_RANDOM_CONFIG,  /* sim_opts_random */
};

/* ------------------------------------------------------------------------
 * The frame arena's handles (net.c stores frames, party.c reads them).
 * ---------------------------------------------------------------------- */

/* The arena object a handle names. */
static inline void *
sim_arena_at(const struct sim *s, uint32_t h)
{
    const uint32_t mask = (1u << SIM_HANDLE_OFF_BITS) - 1u;
    return s->chunks[h >> SIM_HANDLE_OFF_BITS].mem + (size_t)(h & mask) * 8u;
}

/* The message a handle names. */
static inline struct sim_msg *
sim_msg_at(const struct sim *s, uint32_t h)
{
    return sim_arena_at(s, h);
}

/* Bytes rounded up to the arena's 8-byte alignment. */
static inline uint32_t
sim_round8(uint32_t x)
{
    return (x + 7u) & ~7u;
}

/* ------------------------------------------------------------------------
 * Calls between the library's files.
 * ---------------------------------------------------------------------- */

/* A party neither Byzantine nor crashed. */
static inline bool
sim_correct_live(const struct sim *s, uint32_t p)
{
    return !s->parties[p].crashed && s->parties[p].byz == SIM_BYZ_NONE;
}

/* sim.c: allocation that aborts the run on failure (zeroed). */
void *sim_calloc(size_t count, size_t size);
/* sim.c: grows a zero-filled array to hold at least need elements (doubling). */
void *sim_grow(void *p, uint64_t *cap, uint64_t need, size_t elem);
/* sim.c: an anonymous mapping of at least bytes, zeroed and populated. */
void *sim_map_big(size_t bytes);
/* sim.c: gives back a sim_map_big mapping of that size (NULL: nothing). */
void sim_unmap_big(void *p, size_t bytes);
/* sim.c: zeroed memory for a large array (a mapping from 2 MiB up). */
void *sim_calloc_big(size_t bytes);
/* sim.c: frees sim_calloc_big or sim_grow_big memory of that size. */
void sim_free_big(void *p, size_t bytes);
/* sim.c: sim_grow for an array that reaches megabytes. */
void *sim_grow_big(void *p, uint64_t *cap, uint64_t need, size_t elem);
/* sim.c: records an engine misbehaviour and ends the run. */
void sim_engine_error(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sim.c: takes a party out of the deadline heap. */
void sim_dl_remove(struct sim *s, uint32_t p);
/* sim.c: sets (or clears, with SIM_NEVER) a party's deadline. */
void sim_dl_set(struct sim *s, uint32_t p, uint64_t deadline_ns);
/* sim.c: marks a party to be stepped at this instant. */
void sim_touch(struct sim *s, uint32_t p);

/* net.c: one frame handed to the network (loss, delay, duplication). */
void sim_net_send(struct sim *s, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t len);
/* net.c: an empty calendar of slots slots (a power of two). */
void sim_cal_alloc(struct sim *s, uint32_t slots);
/* net.c: the earliest delivery time in flight (SIM_NEVER: none). */
uint64_t sim_cal_next(const struct sim *s);
/* net.c: a frame's bytes, in place or put together in buf. */
const uint8_t *sim_msg_view(const struct sim *s, struct sim_msg *m, uint8_t *buf);
/* net.c: a frame delivered or dropped leaves the arena. */
void sim_msg_free(struct sim *s, uint32_t h);
/* net.c: takes every frame due now off the calendar into the delivery list. */
void sim_deliver_due(struct sim *s);
/* net.c: groups this instant's deliveries by receiver. */
void sim_group_deliveries(struct sim *s);

/* party.c: the most commands a party keeps outstanding. */
uint64_t sim_outstanding_cap(const struct sim *s);
/* party.c: steps a touched party once per burst of its frames. */
void sim_party_run(struct sim *s, uint32_t p);

/* disk.c: stores a step's durable records on the party's disk. */
void sim_party_persist(struct sim *s, uint32_t p, const struct bpc_step_out *out);
/* disk.c: stores a step's durable values on the party's disk. */
void sim_party_persist_values(struct sim *s, uint32_t p, const struct bpc_step_out *out);

/* check.c: the bytes correct party sub submits as its seq-th command. */
void sim_cmd_make(const struct sim *s, uint32_t sub, uint64_t seq, uint8_t out[SIM_COMMAND_BYTES]);
/* check.c: stores val for (sub, seq) unless present; true when inserted. */
bool sim_map_put(struct sim_map *m, uint32_t sub, uint64_t seq, uint64_t val, uint64_t *stored);
/* check.c: the engine's apply callback (integrity and validity). */
void sim_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq,
                  const uint8_t *cmd, uint32_t len);
/* check.c: a done ticket must name a command its submitter applied. */
void sim_check_tickets(struct sim *s, uint32_t p);
/* check.c: order, agreement and validity of one decision of a correct party. */
void sim_party_decide(struct sim *s, uint32_t p, const struct bpc_decision *d);
/* check.c: counts a live correct party done once it reached the goal. */
void sim_party_check_done(struct sim *s, struct sim_party *pa);
/* check.c: every command of every correct live party applied everywhere. */
bool sim_all_applied(const struct sim *s);
/* check.c: the liveness check after the heal. */
void sim_check_liveness(struct sim *s);

/* opts.c: the seed of one derived stream. */
uint64_t sim_stream_seed(uint64_t seed, uint64_t stream);
/* opts.c: party self's engine config from the options. */
void sim_config_fill(const struct sim_opts *o, uint32_t self, struct bpc_config *cfg);

/* setup.c: a decided log for a party, starting at start. */
int sim_log_make(struct sim *s, struct sim_party *pa, uint64_t start, char *err, size_t err_len);
/* setup.c: party p's engine config (in the scratch config). */
const struct bpc_config *sim_party_cfg(const struct sim *s, uint32_t p);

/* byz.c: allocates the Byzantine state once the parties exist. */
void sim_byz_init(struct sim *s);
/* byz.c: frees it. */
void sim_byz_free(struct sim *s);
/* byz_rewrite.c: a frame Byzantine party b's engine emitted for `to`:
 * dropped, rewritten and re-sealed, by b's kind. */
void sim_byz_emit(struct sim *s, uint32_t b, uint32_t to, const uint8_t *frame, uint32_t len);
/* byz.c: a frame delivered to Byzantine party b (what it learns). */
void sim_byz_observe(struct sim *s, uint32_t b, const uint8_t *frame, uint32_t len);
/* byz.c: b's engine applied (submitter, seq): what it knows of sequences. */
void sim_byz_applied(struct sim *s, uint32_t b, uint32_t submitter, uint64_t seq);
/* byz.c: the last of its own commands Byzantine party b's engine applied. */
uint64_t sim_byz_own_applied(const struct sim *s, uint32_t b);
/* byz_craft.c: one Byzantine period: crafted frames of every live
 * Byzantine party, and the churn (which correct leader is muted). */
void sim_byz_tick(struct sim *s);

#endif /* BPC_SIM_INTERNAL_H */
