/*
 * telemetry.c - /bpcon/stats and /bpcon/config for dpdk-telemetry.py, and
 * the "bpcon" log type.
 *
 * Owns: the registry of parties that telemetry shows (fixed size, published
 * with C11 atomics), the telemetry callbacks and the log type.
 *
 * Must never: take a lock the polling thread takes, write to a party, or
 * read what the polling thread writes with plain stores (callbacks run on
 * the telemetry thread: counters come from bpc_dp_party_stats' published
 * copy; the configuration is set before the party is registered).
 */
#include "bpcon_dp.h"
#include "dp_internal.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_telemetry.h>

/* Parties listed at once; more are simply not shown. */
#define TELEMETRY_PARTIES_MAX 64u

int bpc_dp_logtype = RTE_LOGTYPE_USER1;

RTE_INIT(dp_log_init)
{
    int t = rte_log_register_type_and_pick_level("bpcon", RTE_LOG_INFO);
    if (t >= 0) {
        bpc_dp_logtype = t;
    }
}

static _Atomic(struct bpc_dp_party *) telemetry_parties[TELEMETRY_PARTIES_MAX];
static atomic_bool telemetry_registered;
/* Callbacks under way. A callback counts itself before it loads a party
 * from the registry and uncounts itself when done with it; removal clears
 * the slot, then waits for the count to reach 0 (both sequentially
 * consistent: a callback either sees the cleared slot or is waited for),
 * so a party is never freed under a callback's reads. */
static atomic_uint telemetry_readers;

void
dp_telemetry_add(struct bpc_dp_party *p)
{
    for (uint32_t i = 0; i < TELEMETRY_PARTIES_MAX; i++) {
        struct bpc_dp_party *expected = NULL;
        if (atomic_compare_exchange_strong(&telemetry_parties[i], &expected, p)) {
            return;
        }
    }
}

void
dp_telemetry_remove(struct bpc_dp_party *p)
{
    bool removed = false;
    for (uint32_t i = 0; i < TELEMETRY_PARTIES_MAX; i++) {
        struct bpc_dp_party *expected = p;
        removed |= atomic_compare_exchange_strong(&telemetry_parties[i], &expected, NULL);
    }
    while (removed && atomic_load(&telemetry_readers) != 0) {
        rte_pause(); /* a callback takes microseconds */
    }
}

/* The party named by params (its id), or the first registered one; NULL
 * with an {"error": ...} answer in d when there is none. The caller is
 * counted in telemetry_readers. */
static struct bpc_dp_party *
telemetry_pick(const char *params, struct rte_tel_data *d)
{
    long want = -1;
    char msg[160];
    if (params != NULL && params[0] != '\0') {
        char *end = NULL;
        want = strtol(params, &end, 10);
        if (end == params || *end != '\0' || want < 0 || want >= (long)BPC_PARTIES_MAX) {
            snprintf(msg, sizeof(msg), "parameter '%.32s' is not a party id in 0..%u", params,
                     BPC_PARTIES_MAX - 1);
            rte_tel_data_start_dict(d);
            rte_tel_data_add_dict_string(d, "error", msg);
            return NULL;
        }
    }
    uint32_t shown = 0;
    int len = snprintf(msg, sizeof(msg), "no party %ld in this process (here:", want);
    for (uint32_t i = 0; i < TELEMETRY_PARTIES_MAX; i++) {
        struct bpc_dp_party *p = atomic_load(&telemetry_parties[i]);
        if (p != NULL && (want < 0 || (long)p->cfg.self == want)) {
            return p;
        }
        if (p != NULL && len > 0 && (size_t)len < sizeof(msg) - 16) {
            len += snprintf(msg + len, sizeof(msg) - (size_t)len, " %u", p->cfg.self);
            shown++;
        }
    }
    if (want < 0) {
        snprintf(msg, sizeof(msg), "no party registered in this process");
    } else if (len > 0 && (size_t)len < sizeof(msg) - 8) {
        snprintf(msg + len, sizeof(msg) - (size_t)len, "%s)", shown == 0 ? " none" : "");
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "error", msg);
    return NULL;
}

static void
telemetry_stats_of(const struct bpc_dp_party *p, struct rte_tel_data *d)
{
    /* The copy the polling thread published: its counters are plain
     * stores, never read from here. */
    struct bpc_dp_stats st;
    if (bpc_dp_party_stats(p, &st) != 0) {
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_string(d, "error", "stats being published: ask again");
        return;
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "party", p->cfg.self);
    rte_tel_data_add_dict_u64(d, "at_ns", st.at_ns);
#define TELEMETRY_X_DP(name) rte_tel_data_add_dict_u64(d, #name, st.dp.name);
    BPC_DP_COUNTERS(TELEMETRY_X_DP)
#undef TELEMETRY_X_DP
    const struct bpc_counters *c = &st.engine;
#define TELEMETRY_X_ENGINE(name) rte_tel_data_add_dict_u64(d, "engine_" #name, c->name);
    BPC_COUNTERS(TELEMETRY_X_ENGINE)
#undef TELEMETRY_X_ENGINE
    for (uint32_t r = 0; r < BPC_DROP_REASONS_COUNT; r++) {
        char name[64];
        snprintf(name, sizeof(name), "drop_%s", bpc_drop_reason_name((enum bpc_drop_reason)r));
        /* DPDK telemetry refuses a name with anything but letters,
         * digits, '_' and '/' (the entry is then missing: before, "-" in
         * "non-zero reserved field" lost that counter). */
        for (char *s = name; *s != '\0'; s++) {
            if (!isalnum((unsigned char)*s) && *s != '_' && *s != '/') {
                *s = '_';
            }
        }
        rte_tel_data_add_dict_u64(d, name, c->drops[r]);
    }
    rte_tel_data_add_dict_u64(d, "ballot", st.ballot);
    rte_tel_data_add_dict_int(d, "leader", (int)st.leader);
    rte_tel_data_add_dict_u64(d, "next_undecided", st.next_undecided);
}

static void
telemetry_config_of(const struct bpc_dp_party *p, struct rte_tel_data *d)
{
    const struct bpc_config *cfg = &p->cfg;
    char buf[48];
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "cluster_id", cfg->cluster_id);
    rte_tel_data_add_dict_u64(d, "self", cfg->self);
    rte_tel_data_add_dict_u64(d, "parties", cfg->parties_count);
    rte_tel_data_add_dict_string(d, "total_weight",
                                 bpc_u128_str(bpc_config_total_weight(cfg), buf));
    rte_tel_data_add_dict_string(d, "threshold", bpc_u128_str(bpc_config_threshold(cfg), buf));
    rte_tel_data_add_dict_string(d, "mode", cfg->mode == BPC_MODE_FAST ? "fast" : "paced");
    rte_tel_data_add_dict_u64(d, "window_slots", cfg->window_slots);
    rte_tel_data_add_dict_u64(d, "frame_bytes", cfg->frame_bytes);
    rte_tel_data_add_dict_u64(d, "value_bytes_max", cfg->value_bytes_max);
    rte_tel_data_add_dict_u64(d, "ballot_timeout_ns", cfg->ballot_timeout_ns);
    rte_tel_data_add_dict_u64(d, "ether_type", p->ether_type);
    rte_ether_format_addr(mac, sizeof(mac), &p->self_mac);
    rte_tel_data_add_dict_string(d, "mac", mac);
    rte_tel_data_add_dict_u64(d, "ports", p->ports_count);
}

/* One command's answer: the party's dict, or the error dict of
 * telemetry_pick. */
static int
telemetry_answer(const char *params, struct rte_tel_data *d,
                 void (*of)(const struct bpc_dp_party *, struct rte_tel_data *))
{
    atomic_fetch_add(&telemetry_readers, 1);
    const struct bpc_dp_party *p = telemetry_pick(params, d);
    if (p != NULL) {
        of(p, d);
    }
    atomic_fetch_sub(&telemetry_readers, 1);
    return 0;
}

static int
telemetry_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
    RTE_SET_USED(cmd);
    return telemetry_answer(params, d, telemetry_stats_of);
}

static int
telemetry_config(const char *cmd, const char *params, struct rte_tel_data *d)
{
    RTE_SET_USED(cmd);
    return telemetry_answer(params, d, telemetry_config_of);
}

int
bpc_dp_telemetry_register(void)
{
    if (atomic_exchange(&telemetry_registered, true)) {
        return 0;
    }
    int rc = rte_telemetry_register_cmd("/bpcon/stats", telemetry_stats,
                                        "Counters of a bpcon party. Parameters: int party id");
    if (rc == 0) {
        rc = rte_telemetry_register_cmd("/bpcon/config", telemetry_config,
                                        "Config of a bpcon party. Parameters: int party id");
    }
    return rc;
}
