/*
 * test_party_stats.c - what another thread (DPDK's telemetry thread for
 * /bpcon/stats) reads of a party is the copy poll publishes, never the
 * counters poll is writing: bpc_dp_party_stats returns the counters and
 * engine state as they stood when a poll began, published at init and then
 * at most every BPC_DP_STATS_NS of poll's now_ns, and a reader running
 * beside the polls gets whole copies. Before, /bpcon/stats read the live
 * counters with plain loads while the polling lcore stored to them (a
 * data race ThreadSanitizer reported).
 *
 * Method: EAL without huge pages or PCI, one party of a one-party cluster
 * (its own quorum) with an in-memory persistence hook, polled with chosen
 * now_ns values; a second thread reads the stats while every poll
 * publishes, and checks each copy's at_ns and polls belong to the same
 * publication. Run as
 *   test_dp_party_stats --no-huge --no-pci -m 64 -l 0 --file-prefix=P
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "bpcon_dp.h"
#include "dp_check.h"
#include "dp_one.h"

/* Polls that each publish while the reader runs, and copies it reads, at
 * least. */
#define STATS_RACE_POLLS 20000u
#define STATS_RACE_READS 20000u
/* Polls to decide one command in a one-party cluster (it takes a few). */
#define STATS_DECIDE_POLLS 1000u

static int failures;
/* The CPUs the process may use, before EAL pins the main thread to lcore
 * 0: the reader runs on any of them, beside the polls where it can. */
static cpu_set_t all_cpus;

static int
ok_persist(void *ctx, const struct bpc_durable *recs, uint32_t count)
{
    (void)ctx, (void)recs, (void)count;
    return 0;
}

static struct bpc_dp_stats
stats_of(const struct bpc_dp_party *p)
{
    struct bpc_dp_stats s;
    memset(&s, 0xff, sizeof(s));
    int rc = bpc_dp_party_stats(p, &s);
    CHECK(rc == 0, "bpc_dp_party_stats returned %d", rc);
    return s;
}

/* The stats equal what the party held (counters `dp`, engine state) when
 * the poll at at_ns began. */
static void
check_equal(const struct bpc_dp_stats *s, uint64_t at_ns, const struct bpc_dp_counters *dp,
            const struct bpc_counters *engine, const struct bpc_engine *e, const char *what)
{
    CHECK(s->at_ns == at_ns, "%s: at_ns %" PRIu64 ", want %" PRIu64, what, s->at_ns, at_ns);
    CHECK(memcmp(&s->dp, dp, sizeof(*dp)) == 0,
          "%s: party counters differ (polls %" PRIu64 " want %" PRIu64 ", decided %" PRIu64
          " want %" PRIu64 ")",
          what, s->dp.polls, dp->polls, s->dp.decided, dp->decided);
    CHECK(memcmp(&s->engine, engine, sizeof(*engine)) == 0, "%s: engine counters differ", what);
    CHECK(s->ballot == bpc_engine_ballot(e) && s->leader == bpc_engine_leader(e) &&
              s->next_undecided == bpc_engine_next_undecided(e),
          "%s: ballot %" PRIu64 " leader %" PRId64 " next_undecided %" PRIu64, what, s->ballot,
          s->leader, s->next_undecided);
}

/* Init publishes; the first poll publishes at its now_ns; polls and a
 * decision before BPC_DP_STATS_NS more leave the copy as it was; the poll
 * at t0 + BPC_DP_STATS_NS publishes what stood when it began. Returns
 * that poll's now_ns. */
static uint64_t
check_publishing(struct bpc_dp_party *p)
{
    struct bpc_engine *e = bpc_dp_party_engine(p);
    struct bpc_dp_stats s = stats_of(p);
    CHECK(s.at_ns != 0 && s.dp.polls == 0 && s.ballot == bpc_engine_ballot(e),
          "init: at_ns %" PRIu64 " polls %" PRIu64 " ballot %" PRIu64, s.at_ns, s.dp.polls,
          s.ballot);
    uint64_t t0 = bpc_dp_now_ns();
    struct bpc_dp_counters dp = *bpc_dp_party_counters(p);
    struct bpc_counters ec = *bpc_engine_counters(e);
    (void)bpc_dp_party_poll(p, t0);
    s = stats_of(p);
    check_equal(&s, t0, &dp, &ec, e, "first poll");
    uint8_t cmd[32] = "one command";
    CHECK(bpc_dp_party_submit(p, cmd, sizeof(cmd), NULL) == 0, "submit refused");
    uint64_t t = t0 + 1;
    for (uint32_t i = 0; i < STATS_DECIDE_POLLS && bpc_dp_party_counters(p)->decided == 0; i++) {
        (void)bpc_dp_party_poll(p, t++);
    }
    CHECK(bpc_dp_party_counters(p)->decided == 1 && t < t0 + BPC_DP_STATS_NS,
          "the command was not decided in %u polls", STATS_DECIDE_POLLS);
    struct bpc_dp_stats later = stats_of(p);
    CHECK(memcmp(&later, &s, sizeof(s)) == 0 && later.dp.decided == 0,
          "polls before BPC_DP_STATS_NS changed the copy (polls %" PRIu64 ", decided %" PRIu64 ")",
          later.dp.polls, later.dp.decided);
    uint64_t t1 = t0 + BPC_DP_STATS_NS;
    dp = *bpc_dp_party_counters(p);
    ec = *bpc_engine_counters(e);
    (void)bpc_dp_party_poll(p, t1);
    s = stats_of(p);
    check_equal(&s, t1, &dp, &ec, e, "poll at t0 + BPC_DP_STATS_NS");
    CHECK(s.dp.decided == 1 && s.dp.submitted == 1,
          "published decided %" PRIu64 " submitted %" PRIu64, s.dp.decided, s.dp.submitted);
    return t1;
}

struct race {
    const struct bpc_dp_party *p;
    uint64_t t1;     /* the last publication before the race */
    uint64_t polls1; /* its polls */
    atomic_bool done;
    atomic_uint_fast64_t reads;
    uint64_t torn; /* copies whose polls and at_ns disagree */
    uint64_t backwards;
};

/* Reads until told to stop: publication k (at t1 + k * BPC_DP_STATS_NS)
 * was made by the poll that found polls1 + k polls done. */
static void *
race_read(void *arg)
{
    struct race *r = arg;
    uint64_t last = 0;
    (void)pthread_setaffinity_np(pthread_self(), sizeof(all_cpus), &all_cpus);
    do {
        struct bpc_dp_stats s;
        if (bpc_dp_party_stats(r->p, &s) != 0) {
            continue; /* -EBUSY: the check below counts only copies */
        }
        atomic_fetch_add(&r->reads, 1);
        uint64_t k = (s.at_ns - r->t1) / BPC_DP_STATS_NS;
        if (s.at_ns < r->t1 || (s.at_ns - r->t1) % BPC_DP_STATS_NS != 0 ||
            s.dp.polls != r->polls1 + k) {
            r->torn++;
        }
        if (s.at_ns < last) {
            r->backwards++;
        }
        last = s.at_ns;
    } while (!atomic_load(&r->done));
    return NULL;
}

static void
check_race(struct bpc_dp_party *p, uint64_t t1)
{
    struct race r = {.p = p, .t1 = t1, .polls1 = stats_of(p).dp.polls};
    pthread_t reader;
    if (pthread_create(&reader, NULL, race_read, &r) != 0) {
        CHECK(false, "pthread_create failed");
        return;
    }
    /* Not a timing bound: the polls start once the reader reads, and go
     * on until it has read STATS_RACE_READS copies beside them. */
    while (atomic_load(&r.reads) == 0) {
        sched_yield();
    }
    uint64_t k = 0;
    while (k < STATS_RACE_POLLS || atomic_load(&r.reads) < STATS_RACE_READS) {
        k++;
        (void)bpc_dp_party_poll(p, t1 + k * BPC_DP_STATS_NS);
        if (k % 64 == 0) {
            sched_yield(); /* lets the reader run when it shares the core */
        }
    }
    atomic_store(&r.done, true);
    pthread_join(reader, NULL);
    struct bpc_dp_stats s = stats_of(p);
    CHECK(s.at_ns == t1 + k * BPC_DP_STATS_NS && s.dp.polls == r.polls1 + k,
          "last publication: at_ns %" PRIu64 " polls %" PRIu64, s.at_ns, s.dp.polls);
    CHECK(r.torn == 0 && r.backwards == 0,
          "reader: %" PRIu64 " copies, %" PRIu64 " torn, %" PRIu64 " going back",
          (uint64_t)atomic_load(&r.reads), r.torn, r.backwards);
    printf("test_dp_party_stats: %" PRIu64 " copies read beside %" PRIu64
           " publishing polls, %" PRIu64 " torn\n",
           (uint64_t)atomic_load(&r.reads), k, r.torn);
}

int
main(int argc, char **argv)
{
    CPU_ZERO(&all_cpus);
    (void)sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
    if (rte_eal_init(argc, argv) < 0 || bpc_init() != 0) {
        fprintf(stderr, "test_dp_party_stats: EAL or libsodium init failed\n");
        return 1;
    }
    bpc_dp_clock_init();
    bpc_log_thread_register();
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "stats_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    struct bpc_dp_party *party =
        pool != NULL ? dp_one_party(pool, 5, ok_persist, "test_dp_party_stats") : NULL;
    if (party == NULL) {
        return 1;
    }
    struct bpc_dp_stats s;
    CHECK(bpc_dp_party_stats(NULL, &s) == -EINVAL && bpc_dp_party_stats(party, NULL) == -EINVAL,
          "NULL arguments not -EINVAL");
    uint64_t t1 = check_publishing(party);
    check_race(party, t1);
    bpc_dp_party_free(party);
    bpc_log_thread_unregister();
    rte_mempool_free(pool);
    rte_eal_cleanup();
    printf("test_dp_party_stats: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
