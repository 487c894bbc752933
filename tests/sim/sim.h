/*
 * sim.h - the deterministic simulator library behind bpcon-sim.
 *
 * Owns: a whole BPCon cluster in one process and one thread, driven only
 * through the public step API of bpcon.h: a virtual clock, a seeded network
 * (delay, loss, duplication, reordering), crashes, Byzantine parties (a real
 * engine whose frames the simulator rewrites at the network boundary, plus
 * crafted frames; the byz*.c files), a Byzantine phase that ends in a heal,
 * in-memory "disks", crash and restart from them, each party's decided log
 * (bpc_log), the safety checkers (agreement, validity, integrity, order)
 * and the liveness checker. Must never: read a wall clock, draw entropy
 * (every random choice derives from opts.seed), call rand(), or reach into
 * the engine's internals.
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
/* How long the Byzantine phase lasts by default when a party is Byzantine
 * (bpcon-sim's --byz-phase-us): four default ballot timeouts, so a few
 * ballots turn over in it; the heal follows. */
#define SIM_DEFAULT_BYZ_PHASE_NS 200000000u
/* A correct leader of the highest ballot is muted after leading this long
 * during the Byzantine phase by default (--churn-us), so ballots turn over
 * and Byzantine parties get to lead. */
#define SIM_DEFAULT_CHURN_NS 10000000u
/* Liveness bound by default: this many times the longest ballot deadline
 * (ballot_timeout_ns << timeout_growth_max_shift, plus its jitter), so
 * several Byzantine-led ballots in a row after the heal still fit. */
#define SIM_LIVENESS_DEADLINES 16u
/* Paced mode with a Byzantine party: a Byzantine leader that stays keeps
 * its ballot by deciding values of its choice until the engine's
 * censorship watch replaces it, SIM_PACED_WATCH_ROUNDS plus one round per
 * party later (doubling twice at most; docs/ENGINE.md, Ballots and
 * leaders), and a Byzantine submitter that shows a command to some
 * parties only (live or crashed at the heal) makes them change ballots at
 * that period, a party alone sometimes; the bound adds
 * SIM_LIVENESS_CENSORS such periods, so several in a row after the heal
 * still fit, as they do in fast mode. */
#define SIM_LIVENESS_CENSORS 6u
#define SIM_PACED_WATCH_ROUNDS 4u
/* Bytes of one simulated command: u16 submitter, a 48-bit tag, u64
 * sequence (that party's count of earlier submissions), all little-endian.
 * The tag is a keyed hash of (submitter, sequence) under a secret derived
 * from the seed that no Byzantine behaviour reads, so a forger cannot
 * produce a correct party's bytes. The engine batches commands into values;
 * each keeps its own (submitter, ticket) name inside the batch.
 * A build may set a longer size (-DSIM_COMMAND_BYTES=48u, docs/SIM.md): the
 * bytes past those 16 repeat the sequence's low byte, and commands longer
 * than 32 bytes are forwarded in the value section under their MAC
 * instead of inline. */
#ifndef SIM_COMMAND_BYTES
#define SIM_COMMAND_BYTES 16u
#endif
_Static_assert(SIM_COMMAND_BYTES >= 16u && SIM_COMMAND_BYTES <= 256u, "command size");

/* What a Byzantine party does on top of (or instead of) its engine's
 * traffic; see docs/SIM.md for each. */
enum sim_byz_kind {
    SIM_BYZ_NONE = 0,
    SIM_BYZ_WRONGBALLOT,   /* 1B, 2AV and 2B at far-future and stale ballots */
    SIM_BYZ_SILENT,        /* sends nothing */
    SIM_BYZ_EQUIVOCATE,    /* as leader, a different 2A value per receiver;
                              colluders echo 2AV/2B for each receiver's value */
    SIM_BYZ_LIE1B,         /* false maxVBal, maxVVal and 2av history in 1B */
    SIM_BYZ_VOTES,         /* 2AV/2B for values nobody proposed, far ballots
                              and instances, garbage ATTEST */
    SIM_BYZ_REPLAY,        /* old frames verbatim and re-sealed; relays what it
                              received under its own identity */
    SIM_BYZ_MALFORMED,     /* frames with a valid tag and invalid contents */
    SIM_BYZ_EVICT,         /* records a window (and far) ahead of receivers */
    SIM_BYZ_DECIDED_LIE,   /* false DECIDED and STATUS records */
    SIM_BYZ_FORGE,         /* as leader, commands under a correct party's name */
    SIM_BYZ_UNATTESTED,    /* its commands forwarded, never attested */
    SIM_BYZ_CROWD,         /* 2AV/2B with its own junk value for every
                              instance in flight, at the receiver's ballot and
                              the next: with 4 such parties every tally's
                              value places (BPC_TALLY_VALUES_MAX) are full */
    SIM_BYZ_CROWD_DECIDED, /* DECIDED claims with its own junk value for
                              every instance ahead of the receiver */
    SIM_BYZ_CLAIMFILL,     /* non-empty 1B reports for every instance of the
                              receiver's window at its next two ballots: many
                              light colluders fill the 1b claim pool */
    SIM_BYZ_STATUSFLOOD,   /* frames of STATUS records over the receiver's
                              recent decisions, and stale 2B records: each
                              asks for DECIDED answers with their bytes */
    SIM_BYZ_REFUSER,       /* otherwise correct, it sends a correct leader a
                              REFUSE of every correct submitter's command in
                              each 2A it sees (with an `unattested` party,
                              correct submitters get held: an open issue) */
    SIM_BYZ_KINDS_COUNT,
};

/* Kinds --random-config draws from (the ones before the review's). */
#define SIM_BYZ_RANDOM_KINDS ((uint32_t)SIM_BYZ_CROWD)

enum sim_outcome {
    SIM_RUNNING = 0,
    SIM_DONE,         /* every correct live party decided opts.instances, or
                         applied opts.commands commands (and, with a liveness
                         bound, applied every command of a correct live party) */
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
    /* 0: parties submit until `instances` are decided. Else exactly this
     * many commands in all, dealt round-robin over the submitters (the
     * correct parties with no crash, in id order: command i goes to the
     * (i mod K)-th of K), and the run is done once every correct live
     * party applied all of them (`instances` is then ignored). */
    uint64_t commands;
    uint32_t window_slots;
    uint32_t batch_max;         /* commands per value; 0: the engine default */
    uint32_t frame_bytes;       /* cfg.frame_bytes; 0: the engine default */
    uint32_t value_bytes;       /* cfg.value_bytes_max; 0: the engine default */
    uint64_t ballot_timeout_ns; /* cfg.ballot_timeout_ns; 0: the engine default */
    uint32_t tx_frames;         /* tx buffers per step; 0: max(2n, 256). When set, a
                                   step that runs out yields to other events first */
    uint64_t seed;              /* the one source of every random choice */
    double loss;                /* probability a frame copy is lost, [0, 1] */
    double dup;                 /* probability a frame is duplicated, [0, 1] */
    uint64_t delay_min_ns;
    uint64_t delay_max_ns;
    uint64_t crash_at_ns[BPC_PARTIES_MAX];   /* SIM_NEVER: never crashes */
    uint64_t restart_at_ns[BPC_PARTIES_MAX]; /* SIM_NEVER: a crash is final; else after
                                                the crash, from the party's disk */
    uint8_t byz[BPC_PARTIES_MAX];            /* enum sim_byz_kind */
    uint64_t byz_period_ns;
    /* The heal: at this time Byzantine parties fall silent (crash), muting
     * stops and the network loses and duplicates nothing more. SIM_NEVER:
     * no heal. */
    uint64_t heal_at_ns;
    /* At the heal, Byzantine parties keep acting (they do not crash); only
     * muting, loss and duplication stop. Liveness is then checked with
     * them still Byzantine. */
    bool byz_stay;
    /* Liveness: after the heal, every command a correct live party
     * submitted must be applied by every correct live party by
     * max(submitted at, heal) + this bound. 0: not checked. */
    uint64_t liveness_ns;
    /* During the Byzantine phase, a correct leader of the highest ballot is
     * muted (its frames dropped) once it has led this long. 0: never. */
    uint64_t churn_ns;
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

/* The engine counters (BPC_COUNTERS), summed over correct parties in
 * sim_result.counters; names from sim_counter_name. */
#define SIM_X_ONE(name) +1
enum { SIM_COUNTERS_COUNT = 0 BPC_COUNTERS(SIM_X_ONE) };
#undef SIM_X_ONE

struct sim_result {
    enum sim_outcome outcome;
    bool agreement;
    bool validity;
    bool integrity;
    bool order;
    bool liveness;
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
    uint64_t frames_dead;                  /* reached a crashed or Byzantine receiver */
    uint64_t byz_frames;                   /* frames sent by Byzantine parties */
    uint64_t byz_crafted;                  /* of which crafted (not from its engine) */
    uint64_t byz_rewritten;                /* engine frames of Byzantine parties rewritten */
    uint64_t frames_muted;                 /* frames of a muted (churned) leader dropped */
    uint64_t byz_ballots;                  /* ballots seen highest with a Byzantine leader */
    uint64_t byz_equivocated;              /* (instance, ballot) pairs a Byzantine leader
                                              equivocated on */
    uint64_t byz_forged;                   /* (instance, ballot) pairs it forged a value for */
    uint64_t counters[SIM_COUNTERS_COUNT]; /* engine counters, summed */
    uint64_t byz_applied;                  /* commands of Byzantine submitters applied */
    uint64_t byz_unsent;   /* records a Byzantine party meant to send that the writer
                              refused or no frame fit (a generator defect if not 0) */
    uint64_t healed_at_ns; /* when the heal happened; SIM_NEVER: it did not */
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
    uint64_t net_inflight_max; /* most frames in flight at once (not in run_hash) */
    uint64_t net_bytes_max;    /* most arena bytes they took at once */
    uint8_t run_hash[32];
};

/* Fills the defaults: 4 parties of weight 1, fast mode, 100 instances. */
void sim_opts_defaults(struct sim_opts *o);
/* Party 0's engine configuration for o, as a run would build it (keys,
 * log and hooks left out): what bpcon-sim --footprint sizes. */
void sim_engine_config(const struct sim_opts *o, struct bpc_config *cfg);
/* Draws a random valid configuration for this seed into o (weights,
 * threshold, window, batch, frame and value bytes, loss, duplication, and
 * one Byzantine party of weight <= F of a random kind when F > 0), keeping
 * o's other fields; redraws whatever bpc_config_validate refuses. desc
 * gets the draw as bpcon-sim flags. 0, or -EINVAL when nothing valid was
 * drawn (never in practice). */
int sim_opts_random(struct sim_opts *o, uint64_t seed, char *desc, size_t desc_len);
/* The liveness bound opts.liveness_ns gets from the default timers:
 * SIM_LIVENESS_DEADLINES x the longest ballot deadline; in paced mode
 * rounds (opts.c). */
uint64_t sim_opts_default_liveness(const struct sim_opts *o);
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
struct bpc_engine *sim_engine(struct sim *s, uint32_t party); /* a Byzantine party's too */
/* Party's engine config, built on demand in one scratch config: valid until
 * the next call (or sim_restart). NULL outside the party list. */
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
/* The name of engine counter i of sim_result.counters (NULL outside). */
const char *sim_counter_name(uint32_t i);
const char *sim_byz_kind_name(enum sim_byz_kind k);
/* Parses a Byzantine kind name; -EINVAL when unknown. */
int sim_byz_kind_parse(const char *name);

#endif /* BPC_SIM_H */
