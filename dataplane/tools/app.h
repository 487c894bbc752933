/*
 * app.h - what bpcon-node and bpcon-cluster share: the checkable command
 * format, the load generator, the applied-log recorder, the latency
 * histogram, the idle policy and the application state kept in the
 * party's durable store.
 *
 * Must never: be part of the installed library (it is test-harness code),
 * or allocate inside dp_load_pump / dp_load_apply (they run in the poll
 * loop; every array is sized at dp_load_init), but for the applied log
 * of a party that applies more than its initial room (sized for its own
 * load: a --no-load party applies everyone's), which doubles.
 */
#ifndef BPC_DP_APP_H
#define BPC_DP_APP_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpcon_dp.h"

/* A command: "BPCM" | u16 submitter | u16 0 | u64 seq | u64 submit_ns |
 * filler byte i = (seq * 31 + i) & 0xff up to value_bytes. */
#define DP_CMD_MAGIC 0x4d435042u
#define DP_CMD_BYTES_MIN 24u
/* The engine's frame as the tools run it (bpc_config_default's
 * frame_bytes; no tool changes it). */
#define DP_FRAME_BYTES 1400u
/* The largest command (--value-size): dp_config_tune makes every party's
 * largest value one such command plus its batch framing, and bpc_config_validate wants a frame to
 * hold the largest value beside a 1b with its full 2av history, a header
 * and a tag: 1400 - 32 - 16 - 5 x 64 - 4 - 12 = 1016 bytes. */
#define DP_CMD_BYTES_MAX                                                                           \
    (DP_FRAME_BYTES - BPC_WIRE_HEADER_BYTES - BPC_TAG_BYTES -                                      \
     (1u + BPC_HISTORY_MAX) * BPC_WIRE_RECORD_BYTES - BPC_BATCH_HEADER_BYTES -                     \
     BPC_BATCH_CMD_HEADER_BYTES)
/* The tools' usage and refusal texts, and their man pages, say 1016. */
_Static_assert(DP_CMD_BYTES_MAX == 1016u, "--value-size's range is written out as 24..1016");

/* Log-linear histogram of nanoseconds: 64 buckets per power of two. */
#define DP_HIST_SUB_BITS 6u
#define DP_HIST_BUCKETS (64u + 58u * 64u)

struct dp_hist {
    uint64_t counts[DP_HIST_BUCKETS];
    uint64_t total;
};

void dp_hist_add(struct dp_hist *h, uint64_t ns);
/* The q-quantile (0..1) in nanoseconds (a bucket's lower bound). */
uint64_t dp_hist_quantile(const struct dp_hist *h, double q);
void dp_hist_merge(struct dp_hist *into, const struct dp_hist *from);

/* Per-seq state of the generator. */
enum dp_seq_state {
    DP_SEQ_NEW = 0,
    DP_SEQ_PENDING = 1, /* submitted by this party, not applied yet */
    DP_SEQ_DONE = 2,
};

/* One applied command as the agreement check sees it. */
struct dp_log_entry {
    uint64_t instance;
    uint64_t hash; /* of (instance, submitter, engine seq, command seq) */
};

/* The application state a node persists beside its durable records: the
 * applied-command count, the rolling digest over the applied log and the
 * last applied instance, as of `floor` (every instance below floor
 * applied, none at or above). A restart resumes from it and re-applies
 * only instances >= floor. */
struct dp_app_state {
    uint64_t magic; /* DP_APP_STATE_MAGIC once written */
    uint64_t floor;
    uint64_t applied;
    uint64_t digest;
    uint64_t last_instance;
};
#define DP_APP_STATE_MAGIC 0x6574617473707061ull /* "appstate" */

/* How the generator paces its submissions: exactly one of three. */
struct dp_pace {
    uint32_t window;      /* default: each party keeps at most this many of
                             its own commands in flight (closed loop per party) */
    uint64_t outstanding; /* > 0: closed loop, this many in flight across the
                             cluster (a command leaves when applied, the next
                             one is submitted then) */
    uint64_t rate;        /* > 0: open loop, commands/s across the cluster on a
                             fixed schedule, whatever completes; latency counts
                             from the scheduled time */
};
/* Own commands one party may have in flight under pace (what the engine's
 * queues are sized for): the window; outstanding split over the parties
 * that submit (rounded up); under a rate, DP_RATE_IN_FLIGHT. */
uint32_t dp_pace_window(const struct dp_pace *pace, uint32_t parties);
#define DP_RATE_IN_FLIGHT 1024u
/* Largest --outstanding (every command in flight fits the leader's queue). */
#define DP_OUTSTANDING_MAX 65536u
/* Largest --rate, commands/s. */
#define DP_RATE_MAX 10000000u

/* Commands are numbered 0..K-1 and belong to shares. By default seq s
 * belongs to the share of party s % parties, and each party submits its
 * own share. With outstanding N, command s takes slot s % N, slot j
 * belongs to party j % min(N, parties), and a party keeps one command per
 * slot it owns in flight (so N in all; with N below the party count only
 * parties 0..N-1 submit). Under a rate, the default shares, and command s
 * is due at s / rate seconds after the load starts. A party adopts the
 * share of a crashed one (dp_load_adopt) so every command still gets
 * submitted by someone alive. */
struct dp_load {
    uint32_t self;
    uint32_t parties;
    uint64_t commands;    /* K; 0: record only */
    uint32_t window;      /* max own commands submitted and not yet applied */
    uint64_t outstanding; /* closed loop over the cluster (0: per party) */
    uint64_t slots;       /* command s takes slot s % slots */
    uint32_t submitters;  /* slot j belongs to share j % submitters */
    uint64_t rate;        /* open loop: commands/s (0: closed loop) */
    uint64_t t0_ns;       /* open loop: when the schedule started */
    uint32_t value_bytes;
    bool generate;    /* submit at all (a restarted party does not) */
    uint8_t *state;   /* enum dp_seq_state per seq */
    uint8_t *share;   /* share[p]: this party submits p's commands */
    uint64_t *cursor; /* per share: next seq index to look at */
    uint64_t pending;

    uint64_t decisions; /* instances decided (values, NOOPs included) */
    uint64_t applied;   /* commands applied */
    uint64_t unique;    /* distinct seqs applied */
    uint64_t dups;      /* a seq applied again (resubmitted after a crash) */
    uint64_t invalid;   /* bytes that are no command of this run */
    uint64_t submitted;
    uint64_t refused;         /* bpc_submit said -EAGAIN */
    uint64_t digest;          /* rolling hash over the applied log */
    struct dp_app_state base; /* resumed state (zero counts on a fresh start) */
    struct dp_log_entry *log; /* entries applied since base */
    uint64_t *digs;           /* digs[i]: digest after log[i] */
    uint64_t log_cap;
    uint64_t first_submit_ns;
    uint64_t last_unique_ns;
    struct dp_hist hist; /* submit-to-apply of own commands */
    uint8_t *buf;        /* command scratch */
};

int dp_load_init(struct dp_load *l, uint32_t self, uint32_t parties, uint64_t commands,
                 const struct dp_pace *pace, uint32_t value_bytes, bool generate);
void dp_load_free(struct dp_load *l);
void dp_load_adopt(struct dp_load *l, uint32_t party);
/* Resumes from a persisted state (after dp_load_init, before any apply). */
void dp_load_resume(struct dp_load *l, const struct dp_app_state *st);
/* The state as of floor (see struct dp_app_state); 0, or -ENOSPC when the
 * recorder no longer holds the entries needed. */
int dp_load_state_at(const struct dp_load *l, uint64_t floor, struct dp_app_state *out);
/* Entries the recorder holds (applied since the resumed state, capped). */
uint64_t dp_load_held(const struct dp_load *l);
/* The last applied entry (zeros when none is held). */
struct dp_log_entry dp_load_last(const struct dp_load *l);
/* Largest floor among durable records (0 when none). */
uint64_t dp_durable_floor(const struct bpc_durable *recs, uint32_t count);
/* Submits own-share commands up to the window (and, under a rate, those
 * due by now_ns); returns the count. */
uint32_t dp_load_pump(struct dp_load *l, struct bpc_dp_party *p, uint64_t now_ns);
/* bpc_apply_fn (ctx: the struct dp_load). */
void dp_load_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq,
                   const uint8_t *cmd, uint32_t len);
/* bpc_dp_decide_fn: counts decided instances. */
void dp_load_decided(void *ctx, const struct bpc_decision *d);
bool dp_load_done(const struct dp_load *l);

/* Text report: "result k=v ..." then "hist i:c ..." lines. */
void dp_load_report(FILE *f, const struct dp_load *l);

/* Timestamps another process compares. bpc_dp_now_ns() counts from the
 * TSC's zero at this process's own estimate of the TSC rate (DPDK rounds
 * it to 10 MHz), so two processes on one machine can read clocks seconds
 * apart (uptime / 245 at 2.45 GHz when their estimates differ by one
 * step). dp_clock_anchor() pairs bpc_dp_now_ns() with CLOCK_MONOTONIC
 * once (after bpc_dp_clock_init); dp_mono_ns() then gives a
 * bpc_dp_now_ns() reading on CLOCK_MONOTONIC, off by at most the rate
 * error (< 0.5 %) times the time since the anchor. */
void dp_clock_anchor(void);
uint64_t dp_mono_ns(uint64_t now_ns);
/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t dp_mono_now_ns(void);
/* Applied log as raw little-endian (instance, hash) pairs. */
int dp_load_write_log(const struct dp_load *l, const char *path);
/* Is log b (of length nb) a stretch of log a that ends where a ends? A
 * restarted party resumes at its durable floor, so it holds a suffix. */
bool dp_log_is_suffix(const struct dp_log_entry *a, uint64_t na, const struct dp_log_entry *b,
                      uint64_t nb);

/* One entry of a party's decided log (struct bpc_log) as the log check
 * sees it: the value's hash (bytes, length, NOOP flag) and the skip mask
 * the party's engine recorded for it. */
struct dp_dlog_entry {
    uint64_t index;
    uint64_t hash;
    uint64_t skip_mask;
};
/* Copies the readable entries [bpc_log_first, bpc_log_next) of log (the
 * caller is a registered QSBR thread); *out is malloc'ed. 0 or -errno. */
int dp_dlog_snapshot(struct bpc_log *log, struct dp_dlog_entry **out, uint64_t *n);
/* Raw little-endian (index, hash, skip_mask) triples. */
int dp_dlog_write(const struct dp_dlog_entry *e, uint64_t n, const char *path);
int dp_dlog_read(const char *path, struct dp_dlog_entry **out, uint64_t *n);
/* Compares log b against reference a: b must end where a ends and lie
 * inside a (or be empty: a restarted party whose floor is the end; its
 * application state is checked apart); counts entries whose value (resp.
 * skip mask) differs. */
bool dp_dlog_check(const struct dp_dlog_entry *a, uint64_t na, const struct dp_dlog_entry *b,
                   uint64_t nb, uint64_t *value_diff, uint64_t *mask_diff);

/* Idle policy between polls that found no work. */
enum dp_idle_kind {
    DP_IDLE_BUSY = 0,
    DP_IDLE_PAUSE,
    DP_IDLE_SLEEP,
    DP_IDLE_YIELD,
};
struct dp_idle {
    enum dp_idle_kind kind;
    uint32_t sleep_us;
};
/* "busy", "pause", "yield" or "sleep:US"; 0 or -EINVAL. */
int dp_idle_parse(const char *s, struct dp_idle *out);
void dp_idle_wait(const struct dp_idle *idle);

/* The application state as the durable store keeps it (explicit LE:
 * "appstat1" | floor | applied | digest | last_instance, 40 bytes). */
#define DP_APP_STATE_BYTES 40u
/* Encodes st into buf (cap bytes); returns DP_APP_STATE_BYTES or -ENOBUFS. */
int dp_app_state_encode(const struct dp_app_state *st, uint8_t *buf, uint32_t cap);
/* Decodes; 0 (magic set) or -EINVAL when the bytes are no such state. */
int dp_app_state_decode(const uint8_t *buf, uint32_t len, struct dp_app_state *st);
/* bpc_dp_app_state_fn (ctx: the struct dp_load): the state as of floor. */
int dp_app_state_hook(void *ctx, uint64_t floor, uint8_t *buf, uint32_t cap);
/* Resumes the recorder from the application state in the party's store
 * (before the first poll). Returns 1 when resumed, 0 when the store holds
 * none (or the party has no store), -EINVAL when it is unreadable; *out
 * (may be NULL) gets the state. */
int dp_load_resume_from_store(struct dp_load *l, struct bpc_dp_party *p, struct dp_app_state *out);

/* Sizes the engine's command queues for `window` commands in flight per
 * party, and its values for the largest command any tool makes
 * (DP_CMD_BYTES_MAX), whatever this party's --value-size. */
void dp_config_tune(struct bpc_config *cfg, uint32_t window);

/* A 64-bit mixing function (splitmix64's finalizer): hashes of logs and
 * records, never security. */
uint64_t dp_mix64(uint64_t x);

/* Strict decimal parse for command-line numbers. */
int dp_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* A flag that takes one value, read once: index is its getopt_long
 * longindex (0..63), name its long name, and bit index of *seen marks it
 * read. 0 the first time; a second time -EINVAL with "PROG: --NAME given
 * twice" printed (a usage error: the first value is never silently
 * replaced). Flags meant to be repeated are not passed here. */
int dp_flag_once(const char *prog, const char *name, int index, uint64_t *seen);
/* Every "--NAME" or "--NAME=VALUE" word of argv[1..argc) up to a lone "--"
 * (a flag's value word aside) names a flag of opts in full: 0, else
 * -EINVAL with "PROG: unrecognized option '--NAME' ..." printed.
 * getopt_long alone takes any unique prefix ("--par" for --parties), so a
 * flag added later could change what an abbreviation means (review D1's
 * M12). */
int dp_flags_exact(const char *prog, int argc, char *const *argv, const struct option *opts);

/* Writes a cluster file for n parties of weight 1 with MACs
 * 02:62:70:00:HI:LO, key files party-ID.key beside it and the given port
 * spec for every party. 0 or a negative errno. */
int dp_cluster_write(const char *path, uint32_t n, uint64_t cluster_id, const char *port_spec);
/* dp_cluster_write's contents into an open f (not closed), the key files
 * named key_dir/party-ID.key (NULL: party-ID.key, beside the cluster
 * file): 0, or -EIO when f reports an error. */
int dp_cluster_print(FILE *f, uint32_t n, uint64_t cluster_id, const char *port_spec,
                     const char *key_dir);
/* The MAC dp_cluster_write gives party id. */
void dp_party_mac(uint32_t id, uint8_t mac[6]);

#endif /* BPC_DP_APP_H */
