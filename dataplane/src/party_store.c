/*
 * party_store.c - the party's durability: the durable file store
 * (libbpcon-store) when the party is given a path, else the persist hook
 * (the application's, or the built-in in-memory store of memstore.c), and
 * the export of the file store's or the built-in store's live records.
 *
 * Owns: what p->store holds, opening (or recovering) p->fstore and
 * reading its restore set and application-state floor, and what one
 * persistence round writes (an optional application-state
 * record, the step's records, one sync; compaction only flagged for the
 * end of the poll).
 *
 * Must never: return 0 from dp_party_persist before the records are
 * durable (synced, or taken by the caller's persist hook), or compact
 * inside a persistence round (the poll compacts after its tx bursts).
 */
#include "bpcon_dp.h"
#include "dp_internal.h"

#include <errno.h>
#include <stdio.h>

#include <rte_malloc.h>

/* The durable file store: an optional application-state record (when the
 * floor moved past the last one written) and the records, as one commit,
 * synced before this returns. Compaction waits for the end of the poll. */
static int
party_file_persist(struct bpc_dp_party *p, const struct bpc_durable *recs, uint32_t count,
                   const struct bpc_durable_value *vals, uint32_t vals_count)
{
    uint64_t floor = 0;
    for (uint32_t i = 0; i < count; i++) {
        floor = recs[i].floor > floor ? recs[i].floor : floor;
    }
    int rc = 0;
    if (p->app_state != NULL && floor > p->app_floor) {
        int len = p->app_state(p->app_state_ctx, floor, p->app_buf, BPC_STORE_APP_BYTES_MAX);
        rc = len < 0 ? len : bpc_store_put_app(p->fstore, floor, p->app_buf, (uint32_t)len);
        if (rc == 0) {
            p->app_floor = floor;
        }
    }
    /* Records first: a decided record keeps its value's bytes live. */
    rc = rc == 0 ? bpc_store_append(p->fstore, recs, count) : rc;
    rc = rc == 0 && vals_count > 0 ? bpc_store_append_values(p->fstore, vals, vals_count) : rc;
    rc = rc == 0 ? bpc_store_sync(p->fstore) : rc;
    if (rc == 0 && bpc_store_compact_due(p->fstore)) {
        p->compact_due = true;
    }
    return rc;
}

int
dp_party_persist(struct bpc_dp_party *p, const struct bpc_step_out *out)
{
    if (p->fstore != NULL) {
        return party_file_persist(p, out->persist, out->persist_count, out->persist_values,
                                  out->persist_values_count);
    }
    if (p->persist_values != NULL && out->persist_values_count > 0) {
        int rc = p->persist_values(p->persist_ctx, out->persist_values, out->persist_values_count);
        if (rc != 0) {
            return rc;
        }
    }
    return p->persist(p->persist_ctx, out->persist, out->persist_count);
}

struct bpc_store *
bpc_dp_party_store(struct bpc_dp_party *p)
{
    return p != NULL ? p->fstore : NULL;
}

uint32_t
bpc_dp_party_durable(struct bpc_dp_party *p, const struct bpc_durable **recs)
{
    if (p == NULL || recs == NULL) {
        if (recs != NULL) {
            *recs = NULL;
        }
        return 0;
    }
    if (p->fstore != NULL) {
        return bpc_store_records(p->fstore, recs);
    }
    const struct dp_store *s = &p->store;
    uint32_t n = 0;
    if (s->has_max_bal) {
        s->export[n++] = s->max_bal;
    }
    for (uint32_t i = 0; i < s->parties; i++) {
        if (s->applied_used[i]) {
            s->export[n++] = s->applied[i];
        }
    }
    for (uint32_t i = 0; i <= s->mask; i++) {
        if (s->used[i]) {
            s->export[n++] = s->slots[i];
        }
    }
    *recs = s->export;
    return n;
}

/* Opens (or recovers) the durable store; its live records are the restore
 * set and its application-state floor the last one written. */
int
dp_party_store_up(struct bpc_dp_party *p, const struct bpc_dp_party_conf *conf, int socket,
                  const struct bpc_durable **restore, uint32_t *restore_count,
                  const struct bpc_durable_value **restore_values, uint32_t *restore_values_count,
                  char *err, size_t err_len)
{
    if (conf->persist != NULL || conf->restore_count > 0 || conf->restore_values_count > 0) {
        dp_party_err(err, err_len, "store_path excludes persist and restore (the store has both)");
        return -EINVAL;
    }
    p->app_buf = rte_zmalloc_socket("bpc_app_state", BPC_STORE_APP_BYTES_MAX, 64, socket);
    if (p->app_buf == NULL) {
        dp_party_err(err, err_len, "no memory for the application-state buffer");
        return -ENOMEM;
    }
    char why[768] = "";
    int rc = bpc_store_open(&p->fstore, conf->store_path, &p->cfg, &conf->store_options, why,
                            sizeof(why));
    if (rc != 0) {
        snprintf(err, err_len, "store: %s", why);
        return rc;
    }
    const struct bpc_store_info *in = bpc_store_info(p->fstore);
    if (in->torn_bytes > 0) {
        BPC_DP_LOG(WARNING,
                   "party %u: store %s: torn tail of %llu bytes after offset %llu dropped\n",
                   p->cfg.self, conf->store_path, (unsigned long long)in->torn_bytes,
                   (unsigned long long)in->valid_bytes);
    }
    uint64_t app_floor = 0;
    const uint8_t *app = NULL;
    uint32_t app_len = 0;
    if (bpc_store_app(p->fstore, &app_floor, &app, &app_len) == 0) {
        p->app_floor = app_floor;
    }
    /* The values first: the records' export is built last, and neither
     * changes the store (the pointers stay valid until the first commit).
     * A NULL array is no memory, not an empty store: restoring nothing
     * would restart the party without its promises and votes. */
    *restore_values_count = bpc_store_values(p->fstore, restore_values);
    *restore_count = bpc_store_records(p->fstore, restore);
    if (*restore_values == NULL || *restore == NULL) {
        snprintf(err, err_len, "store %s: no memory to read its records back", conf->store_path);
        return -ENOMEM;
    }
    return 0;
}
