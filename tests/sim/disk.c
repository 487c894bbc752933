/*
 * disk.c - the parties' in-memory disks, crashes and restarts.
 *
 * Owns: what each party's disk holds (the party-wide record, a ring of
 * per-instance records, the durable values beside them, one apply-state
 * record per submitter), crashing a party, and restarting a crashed
 * correct party from its disk. Must never: give a restarted engine
 * anything its disk does not hold (its volatile state is lost with the
 * crash), or restart a Byzantine party.
 */
#include "sim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Disks: what a step persists.
 * ---------------------------------------------------------------------- */

/* The disk's apply-state record of submitter sub (a zeroed new one the
 * first time): records exist only for submitters the party applied. */
static struct bpc_durable *
sim_disk_applied_slot(struct sim_party *pa, uint32_t sub)
{
    uint64_t idx = 0;
    if (sim_map_put(&pa->disk_applied_at, sub, 0, pa->disk_applied_count + 1, &idx)) {
        if (pa->disk_applied_count == pa->disk_applied_cap) {
            uint32_t cap = pa->disk_applied_cap ? 2 * pa->disk_applied_cap : 2;
            struct bpc_durable *np = realloc(pa->disk_applied, (size_t)cap * sizeof(*np));
            if (np == NULL) {
                fprintf(stderr, "bpcon-sim: out of memory\n");
                abort();
            }
            pa->disk_applied = np;
            pa->disk_applied_cap = cap;
        }
        memset(&pa->disk_applied[pa->disk_applied_count++], 0, sizeof(*pa->disk_applied));
    }
    return &pa->disk_applied[idx - 1];
}

/* Stores a step's durable records on the party's in-memory disk. */
void
sim_party_persist(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    struct sim_party *pa = &s->parties[p];
    for (uint32_t i = 0; i < out->persist_count; i++) {
        const struct bpc_durable *d = &out->persist[i];
        s->r.persists++;
        if (d->instance == UINT64_MAX) {
            pa->disk_party = *d;
            continue;
        }
        if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
            uint64_t sub = d->instance - BPC_DURABLE_APPLIED_BASE;
            if (sub < s->n) {
                *sim_disk_applied_slot(pa, (uint32_t)sub) = *d;
            }
            continue;
        }
        /* The ring keeps the newest 3 x window + 256 instances: votes up to
         * a window above the floor, decided records as far below it as the
         * engine keeps them (dec_keep; a restart restores what is older
         * than that as nothing). Records are allocated as slots are first
         * written. */
        struct bpc_durable **slot = &pa->disk[d->instance % pa->disk_cap];
        if (*slot != NULL && (*slot)->instance > d->instance) {
            continue;
        }
        if (*slot == NULL) {
            *slot = sim_calloc(1, sizeof(**slot));
        }
        **slot = *d;
    }
}

/* Stores a step's durable values: SIM_DISK_VALS places per ring place of
 * the records, for its newest instance (a store keeps every value at or
 * above the floor; the engine sends each value once per instance, at most
 * two per step, so four places hold what a restart needs; when they are
 * full the oldest goes). */
void
sim_party_persist_values(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    struct sim_party *pa = &s->parties[p];
    for (uint32_t i = 0; i < out->persist_values_count; i++) {
        const struct bpc_durable_value *v = &out->persist_values[i];
        if (v->vid.kind != BPC_VALUE_DIGEST || v->vid.len > BPC_VALUE_BYTES_MAX ||
            v->bytes == NULL) {
            sim_engine_error(s, "engine: party %u persisted a malformed value", p);
            return;
        }
        struct sim_dval **at = &pa->disk_vals[v->instance % pa->disk_cap];
        if (*at == NULL) {
            *at = sim_calloc(SIM_DISK_VALS, sizeof(**at));
        }
        struct sim_dval *place = *at;
        if (place[0].vid.kind != BPC_VALUE_NONE && place[0].instance > v->instance) {
            continue; /* a newer instance holds the place */
        }
        uint32_t k = 0;
        while (k < SIM_DISK_VALS && place[k].vid.kind != BPC_VALUE_NONE &&
               place[k].instance == v->instance && !bpc_vid_eq(&place[k].vid, &v->vid)) {
            k++;
        }
        if (k == SIM_DISK_VALS) {
            struct sim_dval oldest = place[0];
            memmove(place, place + 1, (SIM_DISK_VALS - 1) * sizeof(*place));
            k = SIM_DISK_VALS - 1;
            place[k] = oldest;
        }
        if (place[k].vid.kind == BPC_VALUE_NONE || place[k].instance != v->instance) {
            /* A new instance in this place: the older one's values go. */
            for (uint32_t j = k; j < SIM_DISK_VALS; j++) {
                place[j].vid.kind = BPC_VALUE_NONE;
            }
        }
        if (place[k].bytes_cap < v->vid.len) {
            free(place[k].bytes);
            place[k].bytes = sim_calloc(1, v->vid.len);
            place[k].bytes_cap = v->vid.len;
        }
        place[k].instance = v->instance;
        place[k].vid = v->vid;
        memcpy(place[k].bytes, v->bytes, v->vid.len);
    }
}

/* ------------------------------------------------------------------------
 * Crashes and restarts.
 * ---------------------------------------------------------------------- */

/* Stops a party: no more steps, and frames to it are dropped. */
void
sim_crash(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    if (p >= s->n || pa->crashed) {
        return;
    }
    pa->crashed = true;
    s->rx[p].crashed = true;
    sim_dl_remove(s, p);
    if (pa->byz != SIM_BYZ_NONE) {
        return;
    }
    s->correct_live--;
    if (pa->done) {
        pa->done = false;
        s->done_count--;
    }
}

/* Orders apply-state records by submitter (their instance field). */
static int
sim_durable_cmp(const void *a, const void *b)
{
    uint64_t ia = ((const struct bpc_durable *)a)->instance;
    uint64_t ib = ((const struct bpc_durable *)b)->instance;
    return ia < ib ? -1 : ia > ib;
}

/* The records a restart reads back: the party-wide one, every
 * per-instance one at or above the durable floor, and the decided records
 * below it that a store keeps (floor <= dec_keep); older ones are pruned. */
static uint32_t
sim_disk_collect(const struct sim_party *pa, struct bpc_durable *recs, uint64_t *floor)
{
    uint32_t count = 0;
    uint64_t fl = pa->disk_party.floor;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        if (pa->disk[i] != NULL && pa->disk[i]->floor > fl) {
            fl = pa->disk[i]->floor;
        }
    }
    recs[count++] = pa->disk_party;
    for (uint32_t i = 0; i < pa->disk_cap; i++) {
        const struct bpc_durable *d = pa->disk[i];
        if (d != NULL && (d->instance >= fl || (d->decided && fl <= d->dec_keep))) {
            recs[count++] = *d;
        }
    }
    /* Apply-state records in submitter order (the order restores have
     * always read them in). */
    uint32_t first = count;
    for (uint32_t i = 0; i < pa->disk_applied_count; i++) {
        recs[count++] = pa->disk_applied[i];
    }
    qsort(recs + first, count - first, sizeof(*recs), sim_durable_cmp);
    *floor = fl;
    return count;
}

/* Brings a crashed correct party back from its disk. */
int
sim_restart(struct sim *s, uint32_t p)
{
    if (p >= s->n || !s->parties[p].crashed || s->parties[p].byz != SIM_BYZ_NONE) {
        return -EINVAL;
    }
    struct sim_party *pa = &s->parties[p];
    struct bpc_durable *recs =
        sim_calloc((size_t)pa->disk_cap + 1 + pa->disk_applied_count, sizeof(*recs));
    uint64_t floor = 0;
    uint32_t count = sim_disk_collect(pa, recs, &floor);
    bpc_engine_free(pa->e);
    pa->e = NULL;
    bpc_log_free(pa->dlog);
    pa->dlog = NULL;
    char err[256] = {0};
    int rc = sim_log_make(s, pa, floor, err, sizeof(err));
    if (rc == 0) {
        rc = bpc_engine_new(&pa->e, sim_party_cfg(s, p), err, sizeof(err));
    }
    if (rc == 0) {
        rc = bpc_engine_restore(pa->e, recs, count);
        snprintf(err, sizeof(err), "bpc_engine_restore returned %d", rc);
    }
    if (rc == 0) {
        /* Every value the disk holds (a store keeps those at or above the
         * floor and those its decided records name; the engine takes only
         * what its restored state names). */
        struct bpc_durable_value *vals =
            sim_calloc((size_t)pa->disk_cap * SIM_DISK_VALS, sizeof(*vals));
        uint32_t nv = 0;
        for (uint32_t i = 0; i < pa->disk_cap * SIM_DISK_VALS; i++) {
            const struct sim_dval *place = pa->disk_vals[i / SIM_DISK_VALS];
            const struct sim_dval *d = place != NULL ? &place[i % SIM_DISK_VALS] : NULL;
            if (d != NULL && d->vid.kind != BPC_VALUE_NONE) {
                vals[nv++] = (struct bpc_durable_value){
                    .instance = d->instance, .vid = d->vid, .bytes = d->bytes};
            }
        }
        rc = bpc_engine_restore_values(pa->e, vals, nv);
        snprintf(err, sizeof(err), "bpc_engine_restore_values returned %d", rc);
        free(vals);
    }
    free(recs);
    if (rc != 0) {
        sim_engine_error(s, "engine: restart of party %u failed: %s", p, err);
        return rc;
    }
    if (bpc_engine_start(pa->e, s->now_ns) != 0) {
        sim_engine_error(s, "engine: restart of party %u: bpc_engine_start failed", p);
        return -EINVAL;
    }
    pa->crashed = false;
    s->rx[p].crashed = false;
    pa->restarted = true;
    /* Commands submitted before the crash and not applied are lost with
     * the volatile state: liveness and the ticket checker start afresh. */
    pa->live_from = pa->submitted;
    pa->lost += pa->submitted - pa->done_cursor;
    pa->done_cursor = pa->submitted;
    s->r.restarts++;
    s->correct_live++;
    sim_party_check_done(s, pa);
    sim_dl_set(s, p, s->now_ns);
    return 0;
}
