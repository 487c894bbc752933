/*
 * node_run.c - bpcon-node's main lcore at run time: the poll loop and the
 * drain after the quit flag.
 *
 * Owns: what one turn of the loop does (poll the party, pump the load once
 * the go flag is set, idle when there was no work) and what the report
 * tick does (link-status reads, control lines, a progress line on the
 * report fd), and how long the drain at stop lasts.
 *
 * Must never: block (control lines are read without blocking), or keep
 * running after the party failed.
 */
#include "node.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>

/* Progress lines on the report fd, at most this often. */
#define NODE_REPORT_NS 100000000ull
/* Drain at stop: keep polling until this long passes without work. */
#define NODE_DRAIN_QUIET_NS 100000000ull
#define NODE_DRAIN_MAX_NS 2000000000ull

void
node_report_flush(struct node *n)
{
    if (n->report == NULL) {
        return;
    }
    errno = 0;
    int flushed = fflush(n->report);
    int why = errno;
    if (flushed == 0 && !ferror(n->report)) {
        return;
    }
    /* errno names the cause only when this flush failed; an error an
     * earlier write left on the stream has no errno still standing. */
    fprintf(stderr, "bpcon-node: --report-fd %d: %s; no more report lines\n", n->o.report_fd,
            flushed != 0 && why != 0 ? strerror(why) : "a write to it failed");
    (void)fclose(n->report);
    n->report = NULL;
}

static void
node_progress(struct node *n, bool done_flag)
{
    if (n->report == NULL) {
        return;
    }
    struct bpc_engine *e = bpc_dp_party_engine(n->party);
    struct dp_log_entry last = dp_load_last(&n->load);
    fprintf(n->report,
            "progress id=%llu decisions=%llu applied=%llu unique=%llu leader=%d ballot=%llu "
            "done=%d last=%llx:%016llx digest=%016llx\n",
            (unsigned long long)n->o.id, (unsigned long long)n->load.decisions,
            (unsigned long long)n->load.applied, (unsigned long long)n->load.unique,
            bpc_engine_leader(e), (unsigned long long)bpc_engine_ballot(e), done_flag ? 1 : 0,
            (unsigned long long)last.instance, (unsigned long long)last.hash,
            (unsigned long long)n->load.digest);
    node_report_flush(n);
}

/* Reads of the control fd one report tick makes at most (a writer that
 * never stops does not keep the loop here). */
#define NODE_CONTROL_READS_MAX 16u

/* Acts on one control line (its '\n' removed): "go", "adopt ID"; an
 * empty line is nothing, anything else is logged and ignored. */
static void
node_control_line(struct node *n, const char *line)
{
    uint64_t id = 0;
    if (line[0] == '\0') {
        return;
    }
    bool adopt =
        strncmp(line, "adopt ", 6) == 0 && dp_parse_u64(line + 6, BPC_DP_PARTIES_MAX - 1, &id) == 0;
    if (strcmp(line, "go") == 0) {
        atomic_store(&node_go, 1);
    } else if (adopt && (id >= n->cluster.parties_count || id == n->o.id)) {
        /* A party outside the cluster, or this party itself: nothing to
         * adopt (before, logged as an adoption that never happened). */
        BPC_DP_LOG(ERR,
                   "--control-fd %d: line '%.64s' ignored: party %llu is %s (adopt another "
                   "party of the cluster, 0..%u)\n",
                   n->o.control_fd, line, (unsigned long long)id,
                   id == n->o.id ? "this party" : "not in the cluster",
                   n->cluster.parties_count - 1);
    } else if (adopt) {
        dp_load_adopt(&n->load, (uint32_t)id);
        BPC_DP_LOG(INFO, "party %llu adopts the commands of party %llu\n",
                   (unsigned long long)n->o.id, (unsigned long long)id);
    } else {
        BPC_DP_LOG(ERR,
                   "--control-fd %d: line '%.64s' ignored: expected \"go\" or \"adopt ID\" "
                   "(ID in 0..%u)\n",
                   n->o.control_fd, line, BPC_DP_PARTIES_MAX - 1);
    }
}

/* Acts on the complete lines in n->control and keeps the unfinished rest
 * at its start. A line that fills the buffer without its '\n' is logged
 * and discarded up to its newline. */
static void
node_control_lines(struct node *n)
{
    uint32_t at = 0;
    for (;;) {
        char *nl = memchr(n->control + at, '\n', n->control_len - at);
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        if (!n->control_skipping) {
            node_control_line(n, n->control + at);
        }
        n->control_skipping = false;
        at = (uint32_t)(nl - n->control) + 1;
    }
    memmove(n->control, n->control + at, n->control_len - at);
    n->control_len -= at;
    if (n->control_len == sizeof(n->control)) {
        if (!n->control_skipping) {
            BPC_DP_LOG(ERR,
                       "--control-fd %d: a line longer than %u bytes ('%.32s...') is "
                       "discarded up to its newline\n",
                       n->o.control_fd, NODE_CONTROL_LINE_MAX - 1, n->control);
        }
        n->control_skipping = true;
        n->control_len = 0;
    }
}

/* Reads the harness's control lines ("go", "adopt ID"); never blocks. A
 * line may come in any number of reads: only a complete one is acted on. */
static void
node_control(struct node *n)
{
    if (n->o.control_fd < 0) {
        return;
    }
    for (uint32_t r = 0; r < NODE_CONTROL_READS_MAX; r++) {
        ssize_t got =
            read(n->o.control_fd, n->control + n->control_len, sizeof(n->control) - n->control_len);
        if (got <= 0) {
            return; /* EAGAIN, or the harness is gone: keep running */
        }
        n->control_len += (uint32_t)got;
        node_control_lines(n);
    }
}

/* Reads every port's link status. For a virtio_user port in server mode
 * this is what accepts a restarted peer's new connection (DPDK re-attaches
 * the vhost-user back end from its link-status read), so it runs on the
 * report tick; for other ports it is a harmless read. With rx workers it
 * runs beside their rx bursts on the same ports: a control-path call, as
 * DPDK's own interrupt thread makes beside any datapath lcore. */
static void
node_links(struct node *n)
{
    for (uint32_t i = 0; i < n->ports_count; i++) {
        struct rte_eth_link link;
        (void)rte_eth_link_get_nowait(n->ports[i], &link);
    }
}

/* A failed party: the log line, naming the store and why it failed
 * (bpc_store_error: the first failed call's errno, ENOSPC for a full file
 * system), and a "failed" line on the report fd (bpcon-cluster counts it
 * as a store failure). */
static void
node_failed(struct node *n)
{
    struct bpc_store *st = bpc_dp_party_store(n->party);
    if (n->o.store != NULL && st != NULL) {
        int err = bpc_store_error(st);
        BPC_DP_LOG(ERR, "party stopped: persistence failed: the store %s: %s\n", n->o.store,
                   err < 0 ? strerror(-err)
                           : "a write was refused, or a compaction could not start (its PATH.tmp "
                             "is not the store's, or no memory for its image)");
    } else {
        BPC_DP_LOG(ERR, "party stopped: persistence failed (the in-memory store)\n");
    }
    if (n->report != NULL) {
        fprintf(n->report, "failed id=%llu store\n", (unsigned long long)n->o.id);
        node_report_flush(n);
    }
}

/* The main loop: its only exits are the quit flag (0) and a failed party
 * (-EIO). */
int
node_run(struct node *n)
{
    uint64_t next_report = 0;
    while (!atomic_load_explicit(&node_quit, memory_order_relaxed)) {
        uint64_t now = bpc_dp_now_ns();
        int work = bpc_dp_party_poll(n->party, now);
        if (work < 0) {
            node_failed(n);
            return work;
        }
        if (!n->o.wait_go || atomic_load_explicit(&node_go, memory_order_relaxed)) {
            work += (int)dp_load_pump(&n->load, n->party, now);
        }
        if (now >= next_report) {
            node_links(n);
            node_control(n);
            node_progress(n, dp_load_done(&n->load));
            next_report = now + NODE_REPORT_NS;
        }
        if (work == 0) {
            dp_idle_wait(&n->o.idle);
        }
    }
    return 0;
}

/* After the quit flag: answer what is still in flight for a short while so
 * peers are not left waiting on frames this party owes them. 0, or -EIO
 * when the party failed (then, or before). */
int
node_drain(struct node *n)
{
    uint64_t start = bpc_dp_now_ns();
    uint64_t last_work = start;
    for (;;) {
        uint64_t now = bpc_dp_now_ns();
        int work = bpc_dp_party_poll(n->party, now);
        if (work > 0) {
            last_work = now;
        }
        if (work < 0) {
            node_failed(n);
            return work;
        }
        if (now - last_work > NODE_DRAIN_QUIET_NS || now - start > NODE_DRAIN_MAX_NS) {
            return 0;
        }
        dp_idle_wait(&n->o.idle);
    }
}
