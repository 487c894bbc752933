/*
 * test_party_failed.c - a party whose persistence failed still reports a
 * quiescent state when polled, so an application loop that keeps polling
 * it (the documented loop ignores poll's return) does not hold back every
 * QSBR grace period of the process: other parties' decided logs could no
 * longer reclaim their segments, and bpc_log_free would block for good.
 *
 * Also: bpc_dp_party_submit to the failed party is -EIO (the command
 * would never be stepped).
 *
 * Method: EAL without huge pages or PCI, one party of a one-party cluster
 * whose persistence hook fails; a second thread waits for a grace period
 * while the registered main thread polls the failed party. Run as
 *   test_dp_party_failed --no-huge --no-pci -m 64 -l 0 --file-prefix=P
 * Must never: leave the waiting thread blocked at exit (the main thread
 * goes offline before joining it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <urcu/urcu-qsbr.h>

#include "bpcon_dp.h"
#include "dp_one.h"

#define GRACE_DEADLINE_NS 20000000000ull /* a grace period takes microseconds */

static atomic_int grace_done;

static int
failing_persist(void *ctx, const struct bpc_durable *recs, uint32_t count)
{
    (void)ctx, (void)recs, (void)count;
    return -EIO;
}

static void *
wait_grace(void *arg)
{
    (void)arg;
    urcu_qsbr_synchronize_rcu();
    atomic_store(&grace_done, 1);
    return NULL;
}

/* Polls (submitting one command) until a poll reports the failure. */
static bool
failed_party_fail(struct bpc_dp_party *party)
{
    uint8_t cmd[32] = "a command";
    (void)bpc_dp_party_submit(party, cmd, sizeof(cmd), NULL);
    uint64_t start = bpc_dp_now_ns();
    while (bpc_dp_now_ns() - start < GRACE_DEADLINE_NS) {
        if (bpc_dp_party_poll(party, bpc_dp_now_ns()) == -EIO) {
            return true;
        }
    }
    return false;
}

int
main(int argc, char **argv)
{
    if (rte_eal_init(argc, argv) < 0 || bpc_init() != 0) {
        fprintf(stderr, "test_dp_party_failed: EAL or libsodium init failed\n");
        return 1;
    }
    bpc_dp_clock_init();
    bpc_log_thread_register();
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "failed_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    struct bpc_dp_party *party =
        pool != NULL ? dp_one_party(pool, 7, failing_persist, "test_dp_party_failed") : NULL;
    if (party == NULL || !failed_party_fail(party)) {
        fprintf(stderr, "test_dp_party_failed: the party did not fail as set up\n");
        return 1;
    }
    /* Submit refuses once the party failed: the command would never be
     * stepped, its ticket never complete. Before (review B4): 0. */
    uint8_t cmd[32] = "after the failure";
    uint64_t ticket = 0;
    int src = bpc_dp_party_submit(party, cmd, sizeof(cmd), &ticket);
    printf("test_dp_party_failed: submit to the failed party: %d\n", src);
    if (src != -EIO) {
        fprintf(stderr, "test_dp_party_failed: submit to a failed party: %d, expected -EIO\n", src);
        return 1;
    }
    pthread_t waiter;
    if (pthread_create(&waiter, NULL, wait_grace, NULL) != 0) {
        return 1;
    }
    /* The application's loop goes on polling (online between polls). */
    uint64_t start = bpc_dp_now_ns();
    uint64_t polls = 0;
    while (!atomic_load(&grace_done) && bpc_dp_now_ns() - start < GRACE_DEADLINE_NS) {
        (void)bpc_dp_party_poll(party, bpc_dp_now_ns());
        polls++;
    }
    int ok = atomic_load(&grace_done);
    bpc_log_thread_offline(); /* lets a blocked waiter finish either way */
    pthread_join(waiter, NULL);
    bpc_log_thread_online();
    printf("test_dp_party_failed: grace period %s after %llu polls of the failed party\n",
           ok ? "completed" : "NOT completed", (unsigned long long)polls);
    bpc_dp_party_free(party);
    bpc_log_thread_unregister();
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return ok ? 0 : 1;
}
