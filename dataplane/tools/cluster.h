/*
 * cluster.h - the parts of bpcon-cluster shared by its transports: options,
 * fault events, per-party results and the summary.
 *
 * Must never: be used outside bpcon-cluster.
 */
#ifndef BPC_DP_CLUSTER_H
#define BPC_DP_CLUSTER_H

#include "app.h"

#include <signal.h>

/* Ring: one net_ring port per party and RTE_MAX_ETHPORTS is 32. */
#define CL_PARTIES_MAX 32u
/* Virtio: a full mesh needs N - 1 ports per node and N processes. */
#define CL_VIRTIO_PARTIES_MAX 8u
#define CL_EVENTS_MAX 16u
/* Progress lines on stderr, at most this often. */
#define CL_PROGRESS_NS 500000000ull
/* All survivors done and equal for this long ends the run. */
#define CL_SETTLE_NS 200000000ull

enum cl_event_kind {
    CL_EVENT_KILL = 0,
    CL_EVENT_RESTART,
};
#define CL_WHO_LEADER (-1)
#define CL_WHO_FOLLOWER (-2)

struct cl_event {
    enum cl_event_kind kind;
    int who;        /* party id or CL_WHO_* */
    uint64_t at_ms; /* after the load starts */
    bool done;
};

struct cl_opts {
    uint32_t parties;
    uint64_t commands;
    bool virtio;
    uint32_t window;
    uint32_t value_bytes;
    struct cl_event events[CL_EVENTS_MAX];
    uint32_t events_count;
    struct dp_idle idle;
    const char *idle_arg;
    uint64_t deadline_ms;
    const char *node_path;
    bool keep_dir;
    bool verbose;
    uint32_t node_lcores;  /* virtio: lcores per node (main + rx workers) */
    const char *store_dir; /* --store-dir: where the parties' stores live (NULL:
                              a fresh directory, removed after a clean run) */
    bool no_fsync;         /* --no-fsync: stores without fdatasync (benchmarks) */
    uint32_t chaos;        /* ring: kill/restart cycles at random points */
    uint64_t seed;         /* chaos choices (0: drawn and printed) */
    bool seed_given;       /* --seed was on the command line (needs --chaos) */
    bool tap;              /* ring: check every 1b/2av/2b frame for contradictions */
    char store_where[256]; /* the stores' directory in force (set by the transport) */
    bool window_given;     /* --window was on the command line */
    uint64_t outstanding;  /* --outstanding: closed loop over the cluster (0: off) */
    uint64_t rate;         /* --rate: open loop, commands/s (0: off) */
    uint64_t raw_ms;       /* ring --raw-baseline: plain forwarding after the run */
    uint32_t slots;        /* ring --slots: every engine's instance window (0: 64) */
    uint32_t ring_lcores;  /* ring --ring-lcores: 1 (every party on the main lcore)
                              or 2 (half the parties on a second lcore) */
    /* Set by the transport: the folder this run made ("" none), and what
     * it holds ("stores", "run directory"). Removed by main only when the
     * run passed every check (cl_dir_end); else kept and named. */
    char made_dir[256];
    const char *made_what;
};

/* After the verdict: the folder the run made removed when the run passed
 * (ok) and --keep-dir was not given, else named on stderr as kept. */
void cl_dir_end(const struct cl_opts *o, bool ok);

/* The load's pacing as the generator takes it. */
void cl_pace(const struct cl_opts *o, struct dp_pace *out);

/* Set by SIGINT/SIGTERM: the run ends as at a deadline, nodes are stopped
 * and reaped, the summary is printed. */
extern volatile sig_atomic_t cl_interrupted;

struct cl_party_result {
    bool alive;    /* running when the run ended */
    bool reported; /* its final counts are known */
    uint32_t restarts;
    uint64_t decisions;
    uint64_t applied;
    uint64_t unique;
    uint64_t dups;
    uint64_t invalid;
    uint64_t submitted;
    uint64_t digest;
    uint64_t first_submit_ns;
    uint64_t last_unique_ns;
    const struct dp_log_entry *log;
    uint64_t log_len;
    struct dp_log_entry *owned_log; /* freed by cl_summary_print */
    struct dp_dlog_entry *dlog;     /* decided log snapshot; freed by cl_summary_print */
    uint64_t dlog_len;
};

struct cl_summary {
    uint32_t parties;
    struct cl_party_result r[CL_PARTIES_MAX];
    struct dp_hist hist;
    bool deadline_hit;
    bool interrupted;           /* ended by SIGINT/SIGTERM */
    uint32_t unclean_stops;     /* nodes that did not exit 0 on SIGTERM */
    uint64_t wall_ns;           /* from load start to the end condition */
    uint32_t store_failures;    /* parties stopped by a failed store (not injected) */
    uint32_t chaos_kills;       /* kill/restart cycles completed */
    uint32_t chaos_store_kills; /* of those, kills inside a store call */
    uint32_t chaos_stuck;       /* restarted parties that did not catch up in time */
    bool tapped;                /* the frame tap ran (ring) */
    uint64_t tap_frames;
    uint64_t tap_records;
    uint64_t contradictions; /* 1b/2av/2b records contradicting earlier ones */
    /* Costs (cluster_measure.c); see docs/DATAPLANE.md. */
    uint32_t slots; /* ring: every engine's instance window */
    bool cpu_known;
    uint64_t cpu_ns;      /* CPU time from load start to the end condition */
    uint64_t frames;      /* ring: frames the switch moved */
    uint64_t frame_bytes; /* ring: their payload bytes */
    uint64_t raw_frames;  /* ring --raw-baseline: frames forwarded */
    uint64_t raw_ns;      /* ... in this long */
    uint32_t raw_len;     /* ... each of this many payload bytes */
    int64_t rss_setup_kb; /* ring: VmRSS growth per party while they came up (-1: unknown) */
    int64_t rss_party_kb; /* ring: VmRSS growth per party to the end of the load, less the
                             load recorder's resident arrays (-1: unknown) */
    int64_t rss_node_kb;  /* virtio: mean VmRSS of the nodes alive at the end (-1: unknown) */
};

/* cluster_measure.c: CPU time of this process (user + system, all
 * threads), from getrusage. */
uint64_t cl_cpu_self_ns(void);
/* CPU time of process pid (user + system, all threads; clock ticks of
 * /proc/PID/stat, 10 ms here), 0 when it cannot be read. */
uint64_t cl_cpu_pid_ns(int pid);
/* VmRSS of process pid (0: this one) in KiB from /proc/PID/status, -1
 * when unknown. */
int64_t cl_rss_kb(int pid);
/* Virtio: the load's CPU time (each node pids[i] > 0 since cpu_go[i], 0:
 * since it started, plus this process since self_go) into s->cpu_ns, and
 * the mean VmRSS of those nodes into s->rss_node_kb; a killed node's CPU
 * is not counted. */
void cl_nodes_costs(const int *pids, const uint64_t *cpu_go, uint32_t n, uint64_t self_go,
                    struct cl_summary *s);
/* Resident bytes of [p, p + len) (mincore; pages partly inside count). */
uint64_t cl_resident_bytes(const void *p, size_t len);
/* Resident bytes of a load recorder's arrays (what the harness keeps
 * beside a party, not the party). */
uint64_t cl_load_resident_bytes(const struct dp_load *l);

/* The frame tap (cluster_tap.c): decodes every frame a party sends, keeps
 * per party and instance the ballots and values it promised and voted,
 * and counts every 1b, 2av or 2b that contradicts what the same party
 * sent before (across its crashes and restarts). */
struct cl_tap;
/* keys[i][j]: the key parties i and j share; frames are checked with it. */
struct cl_tap *cl_tap_new(uint32_t parties, const uint8_t (*keys)[CL_PARTIES_MAX][BPC_KEY_BYTES],
                          uint32_t frame_bytes);
/* One frame payload (after the Ethernet header) as a party sent it. */
void cl_tap_frame(struct cl_tap *t, const uint8_t *frame, uint32_t len);
void cl_tap_report(const struct cl_tap *t, struct cl_summary *s);
void cl_tap_free(struct cl_tap *t);

/* A fresh run directory (mkdtemp) in buf: bpcon-cluster-XXXXXX under
 * $TMPDIR when that is an absolute path of at most 64 characters, else
 * under /tmp. 0, or -1 after a message on stderr. */
int cl_run_dir_make(char *buf, size_t len);
/* An fsync of dir's parent folder, so that dir itself (a stores' folder
 * this run may have made) survives a power loss with the stores in it.
 * 0, or -1 after a message on stderr. */
int cl_dir_entry_sync(const char *dir);
/* 0 when no file is at path (a party's store in --store-dir dir); else
 * says why on stderr and -1: a store left there is never removed. */
int cl_store_fresh(const char *dir, const char *path);
/* The alive party that takes over a crashed party's commands, or -1. */
int cl_adopter(uint32_t parties, const bool *alive, uint32_t dead);
/* The party an event acts on now, or -1 when none fits. */
int cl_event_target(const struct cl_event *e, int leader, uint32_t parties, const bool *alive,
                    int last_killed);
/* Prints the summary and the closing JSON line; true iff agreement, all
 * commands decided and every applied value valid. */
bool cl_summary_print(const struct cl_opts *o, struct cl_summary *s);
/* Seconds since the program started (one monotonic clock for every line
 * bpcon-cluster prints); cl_clock_start() is called first thing in main. */
void cl_clock_start(void);
double cl_since_start_s(void);
/* One progress line on stderr: the clock since start, decided commands
 * (fewest and most across live parties), instances decided per second
 * since the previous line, live parties and the leader. */
void cl_progress(const struct cl_summary *s, uint64_t commands, int leader);

/* Removes DPDK's runtime directory of a --file-prefix (what EAL leaves
 * under /var/run/dpdk, or $XDG_RUNTIME_DIR/dpdk when not root). */
void cl_runtime_dir_remove(const char *prefix);
/* Removes a directory tree (best effort). */
void cl_tree_remove(const char *path);
/* Has a party caught up with the reference? The same last log entry; or,
 * for a restarted party whose restored application state already covers
 * every instance (it then decides nothing new), the same rolling digest. */
bool cl_caught_up(const struct dp_log_entry *mine, const struct dp_log_entry *ref,
                  uint32_t restarts, uint64_t digest, uint64_t ref_digest);

int cl_ring_run(struct cl_opts *o, const char *argv0, struct cl_summary *s);
int cl_virtio_run(struct cl_opts *o, const char *argv0, struct cl_summary *s);

#endif /* BPC_DP_CLUSTER_H */
