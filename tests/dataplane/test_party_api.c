/*
 * test_party_api.c - misuse of the party's calls is an error returned,
 * named, not a crash or a party that fails later: bpc_dp_party_submit
 * with a NULL party is -EINVAL (it dereferenced it), and
 * bpc_dp_party_init with conf.store_options.read_only is -EINVAL naming
 * the option, no store created (the party used to start and fail at its
 * first persist, -EROFS); every other public call of libbpcon-dp with a
 * NULL party, cluster, path or out refuses (-EINVAL), answers "none"
 * (NULL, 0, UINT32_MAX or UINT64_MAX) or, freeing, does nothing.
 *
 * Method: EAL without huge pages or PCI; a one-party configuration with
 * store_path in a mkdtemp directory. Run as
 *   test_dp_party_api --no-huge --no-pci -m 64 -l 0 --file-prefix=P
 * Must never: leave its directory behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "bpcon_dp.h"

static int failures;

static void
expect(int got, int want, const char *what, const char *err)
{
    printf("test_dp_party_api: %s: %d%s%s%s\n", what, got, err[0] != '\0' ? " (" : "", err,
           err[0] != '\0' ? ")" : "");
    if (got != want) {
        fprintf(stderr, "test_dp_party_api: %s: %d, expected %d\n", what, got, want);
        failures++;
    }
}

/* Init with a read-only store is refused with a message naming the
 * option, and no store is created. */
static void
read_only_refused(struct rte_mempool *pool)
{
    static uint8_t keys[1][BPC_KEY_BYTES];
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.weights[0] = 1;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    char dir[] = "/tmp/bpc-dp-api-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        failures++;
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "%s/store", dir);
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .self_mac = {{2, 0, 0, 0, 0, 1}},
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
        .store_path = path,
        .store_options = {.read_only = true},
    };
    struct bpc_dp_party *party = NULL;
    char err[512] = "";
    int rc = bpc_dp_party_init(&party, &conf, err, sizeof(err));
    expect(rc, -EINVAL, "init with store_options.read_only", err);
    struct stat st;
    if (strstr(err, "read_only") == NULL || party != NULL || stat(path, &st) == 0) {
        fprintf(stderr, "test_dp_party_api: read_only not named, a party made or a store "
                        "created\n");
        failures++;
    }
    if (party != NULL) {
        bpc_dp_party_free(party);
    }
    (void)unlink(path);
    (void)rmdir(dir);
}

/* The party calls with a NULL party (or out, recs) refuse or answer
 * "none", as bpcon_dp.h says: before (review B7's F3) init with out NULL,
 * poll, self, next_deadline, durable, store, restored_floor, engine and
 * log dereferenced it (SIGSEGV) and counters returned an address near 0. */
static void
null_party_calls(struct rte_mempool *pool)
{
    static uint8_t keys[1][BPC_KEY_BYTES];
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.weights[0] = 1;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])keys;
    struct bpc_dp_party_conf conf = {
        .engine = &cfg,
        .self_mac = {{2, 0, 0, 0, 0, 1}},
        .pool = pool,
        .socket_id = (int)rte_socket_id(),
    };
    char err[512] = "";
    expect(bpc_dp_party_init(NULL, &conf, err, sizeof(err)), -EINVAL, "init with out NULL", err);
    expect(bpc_dp_party_poll(NULL, 0), -EINVAL, "poll NULL", "");
    const struct bpc_durable *recs = (const struct bpc_durable *)1;
    expect((int)bpc_dp_party_durable(NULL, &recs), 0, "durable of NULL", "");
    expect(recs == NULL, 1, "durable of NULL sets *recs NULL", "");
    expect(bpc_dp_party_self(NULL) == UINT32_MAX, 1, "self of NULL is UINT32_MAX", "");
    expect(bpc_dp_party_next_deadline(NULL) == UINT64_MAX, 1, "next_deadline of NULL", "");
    expect(bpc_dp_party_restored_floor(NULL) == 0, 1, "restored_floor of NULL is 0", "");
    expect(bpc_dp_party_store(NULL) == NULL, 1, "store of NULL is NULL", "");
    expect(bpc_dp_party_engine(NULL) == NULL, 1, "engine of NULL is NULL", "");
    expect(bpc_dp_party_log(NULL) == NULL, 1, "log of NULL is NULL", "");
    expect(bpc_dp_party_counters(NULL) == NULL, 1, "counters of NULL is NULL", "");
    bpc_dp_party_free(NULL);
}

/* The cluster and key file calls with NULL arguments: -EINVAL with a
 * message, free and remove do nothing. Before (review B7's F3),
 * cluster_free, cluster_load, cluster_config, port_spec_check and
 * mac_parse crashed, keys_load and keys_generate passed NULL to %s. */
static void
null_file_calls(void)
{
    char err[512] = "";
    struct bpc_dp_cluster c;
    expect(bpc_dp_cluster_load(NULL, &c, err, sizeof(err)), -EINVAL, "cluster_load NULL path", err);
    err[0] = '\0';
    expect(bpc_dp_cluster_load("/nonexistent", NULL, err, sizeof(err)), -EINVAL,
           "cluster_load NULL out", err);
    bpc_dp_cluster_free(NULL);
    struct bpc_config cfg;
    err[0] = '\0';
    expect(bpc_dp_cluster_config(NULL, 0, &cfg, err, sizeof(err)), -EINVAL,
           "cluster_config NULL cluster", err);
    err[0] = '\0';
    expect(bpc_dp_port_spec_check(NULL, err, sizeof(err)), -EINVAL, "port_spec_check NULL", err);
    uint8_t mac[6];
    expect(bpc_dp_mac_parse(NULL, mac), -EINVAL, "mac_parse NULL string", "");
    expect(bpc_dp_mac_parse("02:00:00:00:00:01", NULL), -EINVAL, "mac_parse NULL mac", "");
    static uint8_t keys[4][BPC_KEY_BYTES];
    err[0] = '\0';
    expect(bpc_dp_keys_load(NULL, 0, 4, keys, err, sizeof(err)), -EINVAL, "keys_load NULL path",
           err);
    err[0] = '\0';
    expect(bpc_dp_keys_generate(NULL, 4, err, sizeof(err)), -EINVAL, "keys_generate NULL dir", err);
    bpc_dp_keys_remove(NULL, 4);
}

int
main(int argc, char **argv)
{
    if (rte_eal_init(argc, argv) < 0 || bpc_init() != 0) {
        fprintf(stderr, "test_dp_party_api: EAL or libsodium init failed\n");
        return 1;
    }
    bpc_dp_clock_init();
    bpc_log_thread_register();
    uint8_t cmd[16] = "a command";
    expect(bpc_dp_party_submit(NULL, cmd, sizeof(cmd), NULL), -EINVAL, "submit to NULL", "");
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "api_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (pool == NULL) {
        return 1;
    }
    read_only_refused(pool);
    null_party_calls(pool);
    null_file_calls();
    bpc_log_thread_unregister();
    rte_mempool_free(pool);
    rte_eal_cleanup();
    printf("test_dp_party_api: %s\n", failures == 0 ? "passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
