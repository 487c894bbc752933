/*
 * app.c - wiring helpers the programs share: the MAC address and the
 * cluster file that the tools generate, the engine configuration a load of
 * a given window and command size needs, and the clock anchor that puts
 * timestamps other processes compare on CLOCK_MONOTONIC.
 *
 * Owns: generated cluster files, dp_config_tune and the clock anchor. Must never: touch a
 * party or the network.
 */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * Clocks other processes compare.
 * ---------------------------------------------------------------------- */

static uint64_t dp_anchor_now_ns;  /* bpc_dp_now_ns() at the anchor */
static uint64_t dp_anchor_mono_ns; /* CLOCK_MONOTONIC at the anchor */

uint64_t
dp_mono_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
dp_clock_anchor(void)
{
    dp_anchor_mono_ns = dp_mono_now_ns();
    dp_anchor_now_ns = bpc_dp_now_ns();
}

uint64_t
dp_mono_ns(uint64_t now_ns)
{
    /* Signed: a reading may predate the anchor. */
    return dp_anchor_mono_ns + (uint64_t)((int64_t)(now_ns - dp_anchor_now_ns));
}

/* ------------------------------------------------------------------------
 * Generated cluster files.
 * ---------------------------------------------------------------------- */

void
dp_party_mac(uint32_t id, uint8_t mac[6])
{
    /* 02: locally administered unicast; 62:70 spells "bp". */
    mac[0] = 0x02;
    mac[1] = 0x62;
    mac[2] = 0x70;
    mac[3] = 0x00;
    mac[4] = (uint8_t)(id >> 8);
    mac[5] = (uint8_t)id;
}

int
dp_cluster_print(FILE *f, uint32_t n, uint64_t cluster_id, const char *port_spec,
                 const char *key_dir)
{
    const char *sep = key_dir != NULL ? "/" : "";
    fprintf(f, "# bpcon cluster file (written by bpcon tools)\n");
    fprintf(f, "cluster_id %llu\n", (unsigned long long)cluster_id);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t m[6];
        dp_party_mac(i, m);
        fprintf(
            f, "party %u weight 1 mac %02x:%02x:%02x:%02x:%02x:%02x key %s%sparty-%u.key port %s\n",
            i, m[0], m[1], m[2], m[3], m[4], m[5], key_dir != NULL ? key_dir : "", sep, i,
            port_spec);
    }
    return ferror(f) ? -EIO : 0;
}

int
dp_cluster_write(const char *path, uint32_t n, uint64_t cluster_id, const char *port_spec)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -errno;
    }
    int rc = dp_cluster_print(f, n, cluster_id, port_spec, NULL);
    return fclose(f) != 0 && rc == 0 ? -EIO : rc;
}

void
dp_config_tune(struct bpc_config *cfg, uint32_t window)
{
    /* The leader queues every party's forwarded commands: room for all. */
    uint64_t want = 2ull * window * cfg->parties_count;
    uint32_t cmds = 1024;
    while (cmds < want && cmds < BPC_COMMANDS_MAX) {
        cmds *= 2;
    }
    cfg->commands_max = cmds;
    /* Every party holds the largest value any of them can make, whatever
     * its own --value-size: the limit used to follow the flag, and a party
     * started (or restarted) with a smaller one could not hold its peers'
     * larger values, never applied them and stalled without a word. */
    cfg->value_bytes_max = DP_CMD_BYTES_MAX + BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES;
}
