/*
 * store_map.c - libbpcon-store: the live-set table, newest record per
 * instance (open addressing, rebuilt as the floor prunes it), which the
 * store object (store.c) keeps for restore and compaction and recovery's
 * first pass keeps to check each record against the one before it
 * (store_recover.c).
 *
 * Must never: return a record that is not live at the floor asked for, or
 * let the table's load pass one half.
 */
#include "internal.h"
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAP_MIN 64u

static bool
store_is_vote(uint64_t instance)
{
    return instance < BPC_DURABLE_APPLIED_BASE;
}

/* Is d still live at floor: party-wide and apply-state records always, a
 * vote record at or above the floor, a decided record while the floor is
 * at most its dec_keep (the engine's ring would still hold it). */
bool
store_live(const struct bpc_durable *d, uint64_t floor)
{
    return !store_is_vote(d->instance) || d->instance >= floor ||
           (d->decided && floor <= d->dec_keep);
}

uint32_t
store_hash(uint64_t instance, uint32_t mask)
{
    return (uint32_t)((instance * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

void
store_map_free(struct store_map *m)
{
    free(m->recs);
    free(m->used);
    free(m->spare_recs);
    free(m->spare_used);
    memset(m, 0, sizeof(*m));
}

static int
store_map_alloc(struct store_map *m, uint32_t cap)
{
    m->recs = calloc(cap, sizeof(*m->recs));
    m->used = calloc(cap, 1);
    m->spare_recs = calloc(cap, sizeof(*m->spare_recs));
    m->spare_used = calloc(cap, 1);
    m->cap = cap;
    m->count = 0;
    if (m->recs == NULL || m->used == NULL || m->spare_recs == NULL || m->spare_used == NULL) {
        store_map_free(m);
        return -ENOMEM;
    }
    return 0;
}

/* Inserts or replaces (the newer record wins); the table has room. */
static void
store_map_put_raw(struct store_map *m, const struct bpc_durable *d)
{
    uint32_t mask = m->cap - 1;
    for (uint32_t i = store_hash(d->instance, mask), k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        if (!m->used[i]) {
            m->used[i] = 1;
            m->recs[i] = *d;
            m->count++;
            return;
        }
        if (m->recs[i].instance == d->instance) {
            m->recs[i] = *d;
            return;
        }
    }
    STORE_ASSERT(false); /* callers keep the load at or below one half */
}

/* Rebuilds the table at cap, dropping what floor left behind: into the
 * spare table when cap is unchanged (no allocation; the old table becomes
 * the spare), else into new tables. */
int
store_map_rebuild(struct store_map *m, uint32_t cap, uint64_t floor)
{
    struct store_map n;
    if (cap == m->cap) {
        memset(m->spare_used, 0, cap);
        n = (struct store_map){.recs = m->spare_recs,
                               .used = m->spare_used,
                               .spare_recs = m->recs,
                               .spare_used = m->used,
                               .cap = cap};
    } else {
        int rc = store_map_alloc(&n, cap);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->used[i] && store_live(&m->recs[i], floor)) {
            store_map_put_raw(&n, &m->recs[i]);
        }
    }
    if (cap != m->cap) {
        store_map_free(m);
    }
    *m = n;
    return 0;
}

/* d as its file record keeps it (store_encode_record): a decided record
 * without history places, a vote record without dec_* fields. Before
 * (review B9's F1), the table kept them as given, so the writer handed
 * out fields a reopen of its file loads as zero. */
static struct bpc_durable
store_map_kept(const struct bpc_durable *d)
{
    struct bpc_durable k = *d;
    if (k.decided) {
        memset(k.hist_bal, 0, sizeof(k.hist_bal));
        memset(k.hist_val, 0, sizeof(k.hist_val));
    } else {
        k.dec_bal = 0;
        k.dec_keep = 0;
        memset(&k.dec_val, 0, sizeof(k.dec_val));
    }
    return k;
}

static int
store_map_put(struct store_map *m, uint64_t floor, const struct bpc_durable *d)
{
    if (!store_live(d, floor)) {
        return 0; /* decided long ago: restore would drop it */
    }
    if ((m->count + 1u) * 2u > m->cap) {
        /* Prune first: the table stays near the live set, not the run.
         * Grow when more than a quarter survives, so at least a quarter of
         * the table's puts come between two rebuilds (else a live set
         * just under half would rebuild on every put). */
        int rc = store_map_rebuild(m, m->cap, floor);
        if (rc == 0 && (m->count + 1u) * 4u > m->cap) {
            rc = store_map_rebuild(m, m->cap * 2u, floor);
        }
        if (rc != 0) {
            return rc;
        }
    }
    struct bpc_durable k = store_map_kept(d);
    store_map_put_raw(m, &k);
    return 0;
}

/* store_take_record's live set alone: map m and its floor. Recovery's
 * first pass keeps one too (store_scan_bounds), so the records it checks
 * a later one against are the writer's (store_rec_order). */
int
store_map_take(struct store_map *m, uint64_t *floor, const struct bpc_durable *d)
{
    if (!store_map_takes(floor, d)) {
        return 0;
    }
    return store_map_put(m, *floor, d);
}

/* Would store_map_take put d into its table, at the floor it leaves
 * (*floor, raised as the take raises it)? A vote record dead at its own
 * floor is not taken and raises nothing; a record taken but dead at the
 * raised floor is not put, and its instance keeps its earlier record. */
bool
store_map_takes(uint64_t *floor, const struct bpc_durable *d)
{
    if (store_is_vote(d->instance) && !store_live(d, d->floor)) {
        return false;
    }
    *floor = d->floor > *floor ? d->floor : *floor;
    return store_live(d, *floor);
}

int
store_map_init(struct store_map *m)
{
    return store_map_alloc(m, STORE_MAP_MIN);
}

/* The record of instance in m while it is live at floor, else NULL. */
const struct bpc_durable *
store_map_live(const struct store_map *m, uint64_t instance, uint64_t floor)
{
    uint32_t mask = m->cap - 1;
    for (uint32_t i = store_hash(instance, mask), k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        if (!m->used[i]) {
            return NULL;
        }
        if (m->recs[i].instance == instance) {
            return store_live(&m->recs[i], floor) ? &m->recs[i] : NULL;
        }
    }
    return NULL;
}
