/*
 * cluster.h - harness clusters for the replication-engine tests: every
 * party's applied commands counted per (submitter, sequence number).
 */
#ifndef BPC_TEST_CLUSTER_H
#define BPC_TEST_CLUSTER_H

#include "harness.h"

#include <stdbool.h>
#include <stdint.h>

/* What every party applied: per party, count per (submitter, seq). */
#define APPLY_SUBMITTERS 8u
#define APPLY_SEQS 4096u
struct applied {
    uint16_t count[APPLY_SUBMITTERS][APPLY_SEQS];
    uint64_t last_seq[APPLY_SUBMITTERS];
    uint64_t first_at[APPLY_SUBMITTERS]; /* instance + 1 of its first command */
    uint64_t last_at[APPLY_SUBMITTERS];  /* instance + 1 of its latest command */
    bool out_of_order;
    uint64_t total;
    uint64_t completed;
};
extern struct applied applied[APPLY_SUBMITTERS];

/* n parties of weight 1 (fast mode), window slots, values of up to batch
 * commands, every party's applies counted in applied[]. */
void cluster_init(struct hn *h, uint32_t n, uint32_t window, uint32_t batch);
void cluster_init_mode(struct hn *h, uint32_t n, uint32_t window, uint32_t batch,
                       enum bpc_mode mode);
/* Gives every party a decided log of 4096 entries (logs[i], h->n of them)
 * and builds its engine again with its configuration as it stands: catch-up
 * past the window reads values back from the logs. Registers the thread
 * with the logs' RCU; cluster_logs_free undoes both (after hn_free). */
void cluster_logs(struct hn *h, struct bpc_log **logs);
void cluster_logs_free(uint32_t n, struct bpc_log **logs);
/* Every live party applied at least total commands. */
bool all_applied(const struct hn *h, uint64_t total);
/* Delivers and ticks 5 ms at a time until all_applied or limit_ns. */
bool run_until_applied(struct hn *h, uint64_t total, uint64_t limit_ns);
/* As run_until_applied, for every party but `skip`. */
bool run_until_applied_by(struct hn *h, uint64_t total, uint32_t skip, uint64_t limit_ns);
/* Party who submits count 24-byte commands. */
void submit_n(struct hn *h, uint32_t who, uint32_t count);
/* Every party applied each command of `who` exactly once, in order. */
void assert_exactly_once(const struct hn *h, uint32_t who, uint32_t count);
/* Does the frame carry a record of this type? */
bool frame_has(const uint8_t *bytes, uint32_t len, uint8_t type);
/* One step of a steady load: party w submits a command, every queued
 * frame is delivered, 5 ms pass. */
void load_step(struct hn *h, uint32_t w);

#endif
