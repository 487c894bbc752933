/*
 * sim.h - the deterministic simulator library behind bpcon-sim.
 *
 * Owns: a whole BPCon cluster in one process and one thread, driven only
 * through the public step API of bpcon.h: a virtual clock, a seeded network
 * (delay, loss, duplication, reordering), crashes, scripted Byzantine
 * parties, in-memory "disks", crash and restart from them, each party's
 * decided log (bpc_log), and the safety checkers (agreement, validity,
 * integrity, order). Must never: read a wall clock, draw entropy (every
 * random choice derives from opts.seed), call rand(), or reach into the
 * engine's internals.
 */
#ifndef BPC_SIM_H
#define BPC_SIM_H

#include "bpcon.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A crash time meaning "never". */
#define SIM_NEVER UINT64_MAX

/* Default knobs (also the CLI's defaults). */
#define SIM_DEFAULT_INSTANCES 100u
#define SIM_DEFAULT_WINDOW 64u
#define SIM_DEFAULT_SEED 1u
#define SIM_DEFAULT_DELAY_MIN_NS 20000u
#define SIM_DEFAULT_DELAY_MAX_NS 200000u
#define SIM_DEFAULT_TIME_LIMIT_NS 600000000000u
/* A Byzantine party acts once per this much virtual time (the origin's
 * malicious-party test sends wrong ballots every 100 ms; we go faster). */
#define SIM_DEFAULT_BYZ_PERIOD_NS 100000u
/* Bytes of one simulated command: u32 submitter, u32 zero, u64 sequence
 * (that party's count of earlier submissions), all little-endian. The
 * engine batches commands into values; each keeps its own (submitter,
 * ticket) name inside the batch. */
#define SIM_COMMAND_BYTES 16u

enum sim_byz_kind {
    SIM_BYZ_NONE = 0,
    /* Sends 1B, 2AV and 2B records with far-future and stale ballots. */
    SIM_BYZ_WRONGBALLOT = 1,
    SIM_BYZ_KINDS_COUNT,
};

enum sim_outcome {
    SIM_RUNNING = 0,
    SIM_DONE,         /* every correct live party decided opts.instances */
    SIM_VIOLATION,    /* a checker failed (see sim_result.violation) */
    SIM_TIME_LIMIT,   /* virtual time limit passed first */
    SIM_STALLED,      /* no event left to run (nothing in flight, no deadline) */
    SIM_ENGINE_ERROR, /* the engine returned an unexpected error */
};

struct sim;

/* Test hook, called for every copy of every frame the network is about to
 * schedule (after loss and duplication were drawn). *delay_ns holds the drawn
 * delay and may be changed. Return false to drop the frame. */
typedef bool (*sim_filter_fn)(void *ctx, uint32_t from, uint32_t to, const uint8_t *frame,
                              uint32_t len, uint64_t *delay_ns);
/* Called every few thousand events so a CLI can print progress. */
typedef void (*sim_progress_fn)(void *ctx, const struct sim *s);

struct sim_opts {
    uint32_t parties_count;
    uint64_t weights[BPC_PARTIES_MAX];
    bpc_u128 threshold; /* 0: the engine default */
    enum bpc_mode mode;
    uint64_t instances; /* stop once every correct live party decided this many */
    uint32_t window_slots;
    uint32_t batch_max; /* commands per value; 0: the engine default */
    uint32_t tx_frames; /* tx buffers per step; 0: max(2n, 256). When set, a
                           step that runs out yields to other events first */
    uint64_t seed;      /* the one source of every random choice */
    double loss;        /* probability a frame copy is lost, [0, 1] */
    double dup;         /* probability a frame is duplicated, [0, 1] */
    uint64_t delay_min_ns;
    uint64_t delay_max_ns;
    uint64_t crash_at_ns[BPC_PARTIES_MAX];   /* SIM_NEVER: never crashes */
    uint64_t restart_at_ns[BPC_PARTIES_MAX]; /* SIM_NEVER: a crash is final; else after
                                                the crash, from the party's disk */
    uint8_t byz[BPC_PARTIES_MAX];            /* enum sim_byz_kind */
    uint64_t byz_period_ns;
    bool unsafe; /* allow faulty weight > F and thresholds the engine refuses */
    uint64_t time_limit_ns;
    uint64_t log_retain; /* decided-log entries kept per party; 0: the whole run */
    sim_filter_fn filter;
    void *filter_ctx;
    sim_progress_fn progress;
    void *progress_ctx;
};

/* One decided instance as a party saw it. */
struct sim_log_entry {
    uint64_t instance;
    uint64_t ballot;
    struct bpc_vid vid;
    uint8_t *value; /* copy of the value bytes; NULL for a NOOP */
    uint32_t len;
};

struct sim_result {
    enum sim_outcome outcome;
    bool agreement;
    bool validity;
    bool integrity;
    bool order;
    char violation[256];      /* first violation, empty when none */
    uint64_t decided;         /* min log length over correct live parties */
    uint64_t decisions_total; /* sum of log lengths over non-Byzantine parties */
    uint64_t commands;        /* min commands applied over correct live parties */
    int first_leader;
    uint64_t max_ballot; /* max bpc_engine_ballot over correct live parties */
    bpc_u128 total_weight;
    bpc_u128 threshold;
    bpc_u128 f;
    uint32_t parties;
    uint32_t correct_live;
    uint64_t seed;
    uint64_t sim_time_ns;
    uint64_t messages;    /* records in delivered frames */
    uint64_t frames;      /* frames delivered to live parties */
    uint64_t frames_sent; /* frames handed to the network by parties */
    uint64_t frames_lost;
    uint64_t frames_dup;
    uint64_t frames_filtered;
    uint64_t frames_dead; /* reached a crashed or Byzantine receiver */
    uint64_t byz_frames;  /* frames sent by Byzantine parties */
    uint64_t steps;
    uint64_t eagain_steps;                  /* steps repeated because out.frames was full */
    uint64_t persists;                      /* durable records stored */
    uint64_t restarts;                      /* parties restarted from their disks */
    uint64_t replayed;                      /* re-emitted decisions checked against the
                                               application log after a restart */
    uint64_t deadline_clamps;               /* deadlines at or before now, moved to now + 1 */
    uint64_t drops[BPC_DROP_REASONS_COUNT]; /* engine drop counters, summed */
    uint64_t equivocations;
    uint64_t tx_overflow;
    uint8_t run_hash[32];
};

/* Fills the defaults: 4 parties of weight 1, fast mode, 100 instances. */
void sim_opts_defaults(struct sim_opts *o);
/* The leader of ballot 1 for these options (the cluster id derives from the
 * seed), or a negative errno. */
int sim_opts_first_leader(const struct sim_opts *o);
/* Builds the cluster and starts every engine at virtual time 0. Returns 0;
 * -EINVAL for options the simulator refuses (message in err: e.g. faulty
 * weight above F without unsafe); a negated BPC_ECFG_* code with the
 * engine's message; -ENOMEM. */
int sim_init(struct sim **out, const struct sim_opts *o, char *err, size_t err_len);
void sim_free(struct sim *s);

/* Runs one event time (deliveries due, deadlines due, Byzantine ticks).
 * Returns false once the run is over (sim_outcome set). */
bool sim_step_once(struct sim *s);
/* Steps until the run is over. */
enum sim_outcome sim_run(struct sim *s);
enum sim_outcome sim_outcome(const struct sim *s);
void sim_result(const struct sim *s, struct sim_result *r);

/* Introspection and scripting for tests. */
uint64_t sim_now_ns(const struct sim *s);
/* Cheap progress figures: min log length over correct live parties, and
 * frames delivered so far. */
uint64_t sim_decided_min(const struct sim *s);
uint64_t sim_frames_delivered(const struct sim *s);
uint32_t sim_parties(const struct sim *s);
struct bpc_engine *sim_engine(struct sim *s, uint32_t party); /* NULL: Byzantine */
const struct bpc_config *sim_config(const struct sim *s, uint32_t party);
const uint8_t *sim_pair_key(const struct sim *s, uint32_t a, uint32_t b);
uint64_t sim_log_len(const struct sim *s, uint32_t party);
const struct sim_log_entry *sim_log_entry(const struct sim *s, uint32_t party, uint64_t index);
/* Schedules a copy of frame from `from` to `to` after delay_ns (no loss, no
 * filter): a test's way to forge or replay traffic. 0 or -EINVAL/-ENOMEM. */
int sim_inject(struct sim *s, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t len,
               uint64_t delay_ns);
/* Crashes a party now (it stops stepping and receiving). */
void sim_crash(struct sim *s, uint32_t party);
/* Restarts a crashed party now from its disk: a new engine restored from
 * the persisted records, a new decided log from the durable floor; its
 * application log and applied commands are kept. 0, -EINVAL (not crashed,
 * or Byzantine), or the engine's error. */
int sim_restart(struct sim *s, uint32_t party);

const char *sim_outcome_name(enum sim_outcome o);
const char *sim_byz_kind_name(enum sim_byz_kind k);
/* Parses a Byzantine kind name; -EINVAL when unknown. */
int sim_byz_kind_parse(const char *name);

#endif /* BPC_SIM_H */
