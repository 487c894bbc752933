/*
 * store_values.c - libbpcon-store's live values: the bytes of the DIGEST
 * values the live records name (a vote at or above the floor, or a kept
 * decided record), in one arena with an open-addressing index by
 * (instance, identity); what bpc_store_values returns and compaction
 * writes. Inside a commit every value at or above the floor is kept (its
 * record may come after it); a compaction drops those nothing names.
 *
 * Owns: s->values. Must never: return a value below the floor (unless a
 * live decided record names it) or the same value twice from
 * bpc_store_values.
 */
#include "store_internal.h"

#include <errno.h>
#include <string.h>

/* The live values' first sizes: entries (the index has twice as many
 * slots) and arena bytes. */
#define STORE_VALUES_MIN 64u
#define STORE_ARENA_MIN 65536u

void
store_values_free(struct store_values *v)
{
    free(v->ents);
    free(v->index);
    free(v->arena);
    free(v->export);
    memset(v, 0, sizeof(*v));
}

/* The index slot where (instance, vid) starts its probe: the instance and
 * the first id bytes (a digest's, uniformly spread). */
static uint32_t
store_value_hash(uint64_t instance, const struct bpc_vid *vid, uint32_t mask)
{
    uint64_t id = store_get_le(vid->id, 8);
    return (uint32_t)(((instance ^ id) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* The index slot that holds (instance, vid), or the empty slot where it
 * would go. The index has twice as many slots as there are entries, so an
 * empty slot always exists. */
static uint32_t *
store_values_slot(const struct store_values *v, uint64_t instance, const struct bpc_vid *vid)
{
    uint32_t mask = 2u * v->cap - 1u;
    for (uint32_t i = store_value_hash(instance, vid, mask);; i = (i + 1u) & mask) {
        uint32_t *slot = &v->index[i];
        if (*slot == 0) {
            return slot;
        }
        const struct store_value *e = &v->ents[*slot - 1u];
        if (e->instance == instance && bpc_vid_eq(&e->vid, vid)) {
            return slot;
        }
    }
}

/* Indexes every entry again (after a prune moved them or a growth
 * resized the index). */
static void
store_values_reindex(struct store_values *v)
{
    memset(v->index, 0, 2u * (size_t)v->cap * sizeof(*v->index));
    for (uint32_t k = 0; k < v->count; k++) {
        *store_values_slot(v, v->ents[k].instance, &v->ents[k].vid) = k + 1u;
    }
}

/* The record of instance in the table, or NULL. */
static const struct bpc_durable *
store_map_find(const struct store_map *m, uint64_t instance)
{
    if (m->cap == 0) {
        return NULL;
    }
    uint32_t mask = m->cap - 1;
    for (uint32_t i = store_hash(instance, mask), k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        if (!m->used[i]) {
            return NULL;
        }
        if (m->recs[i].instance == instance) {
            return &m->recs[i];
        }
    }
    return NULL;
}

/* Does record d name vid: as its vote (maxVVal), a 2av history entry or
 * its decision? */
static bool
store_record_names(const struct bpc_durable *d, const struct bpc_vid *vid)
{
    if (bpc_vid_eq(&d->max_vval, vid) || (d->decided && bpc_vid_eq(&d->dec_val, vid))) {
        return true;
    }
    for (uint32_t k = 0; k < d->hist_count && k < BPC_HISTORY_MAX; k++) {
        if (bpc_vid_eq(&d->hist_val[k], vid)) {
            return true;
        }
    }
    return false;
}

/* May a value still be needed within a commit: its instance at or above
 * the floor (a record of the commit under way may name it), or below it
 * and named by its instance's live decided record. What is taken in, and
 * what an in-place prune between compactions keeps. */
static bool
store_value_kept(const struct bpc_store *s, uint64_t instance, const struct bpc_vid *vid)
{
    if (instance >= s->floor) {
        return true;
    }
    return store_value_live(s, instance, vid);
}

/* Is a value live: named by its instance's newest record, a vote at or
 * above the floor (what a new ballot may have to propose again) or a live
 * decided record below it (the decision's bytes, for a party that lags
 * and asks for them)? Restore uses no other (bpc_engine_restore_values
 * skips a value nothing names). Before, every value at or above the
 * floor was live: a party whose vote moved through new values while its
 * floor stood still kept them all, and the file outgrew its bound (a
 * review's store_growth: 25 MB for a bound of 4.2 MB after 3,000 such
 * commits, growing). */
bool
store_value_live(const struct bpc_store *s, uint64_t instance, const struct bpc_vid *vid)
{
    const struct bpc_durable *d = store_map_find(&s->map, instance);
    if (d == NULL || !store_live(d, s->floor)) {
        return false;
    }
    if (instance >= s->floor) {
        return store_record_names(d, vid);
    }
    return d->decided && bpc_vid_eq(&d->dec_val, vid);
}

/* Do an entry's bytes hash to its identity? Hashed once, when first
 * exported: a writer takes bytes unhashed (bpc_store_append_values), and
 * a recovery takes a frame whose bytes do not hash the same way
 * (store_load_seen), so both hold the same entries and prune at the same
 * commits; neither hands such bytes out. */
static bool
store_value_verify(const struct store_values *v, struct store_value *e)
{
    if (!e->verified) {
        struct bpc_vid got;
        bpc_vid_of(&got, v->arena + e->at, e->vid.len);
        e->verified = bpc_vid_eq(&got, &e->vid);
    }
    return e->verified;
}

/* Drops the values no longer live (named: store_value_live, at a
 * compaction; else store_value_kept, inside a commit), in place: entries
 * keep their order, which is their bytes' order in the arena, so each
 * survivor's bytes move down (memmove) past bytes that already moved or
 * were dropped. No allocation, no hashing (a compaction's export hashed). */
void
store_values_prune(struct bpc_store *s, bool named)
{
    struct store_values *v = &s->values;
    uint32_t kept = 0;
    size_t used = 0;
    for (uint32_t k = 0; k < v->count; k++) {
        struct store_value e = v->ents[k];
        /* named (a compaction): the image's export just hashed every
         * live value and wrote only those whose bytes hash, so the writer
         * keeps just those (before, it kept the others too, one more
         * survivor than a recovery of the new file: own review F's
         * probe_store_compact). */
        if (named ? !store_value_live(s, e.instance, &e.vid) || !e.verified
                  : !store_value_kept(s, e.instance, &e.vid)) {
            continue;
        }
        if (e.at != used) {
            memmove(v->arena + used, v->arena + e.at, e.vid.len);
        }
        e.at = used;
        used += e.vid.len;
        v->ents[kept++] = e;
    }
    v->count = kept;
    v->used = used;
    if (v->cap > 0) {
        store_values_reindex(v);
    }
}

/* Grows the entries (and their index) to cap. */
static int
store_values_grow_ents(struct store_values *v, uint32_t cap)
{
    struct store_value *ents = realloc(v->ents, (size_t)cap * sizeof(*ents));
    if (ents == NULL) {
        return -ENOMEM;
    }
    v->ents = ents;
    uint32_t *index = malloc(2u * (size_t)cap * sizeof(*index));
    if (index == NULL) {
        return -ENOMEM;
    }
    free(v->index);
    v->index = index;
    v->cap = cap;
    store_values_reindex(v);
    return 0;
}

/* Room for one more entry of len bytes: an array that is full doubles.
 * Nothing is pruned here: where the arrays fill up depends on their
 * history (a writer's, or a fresh recovery's), and a prune there dropped
 * values at different points in the two, so a value a later decided
 * record named again was exported by the writer and gone after a reopen
 * (review B's value_lost_on_reopen). Prunes come at commit ends
 * (store_values_commit_end); once the arrays hold what survives between
 * two of them, appends allocate nothing. */
static int
store_values_room(struct bpc_store *s, uint32_t len)
{
    struct store_values *v = &s->values;
    if (v->count == v->cap) {
        uint32_t cap = v->cap > 0 ? 2u * v->cap : STORE_VALUES_MIN;
        int rc = store_values_grow_ents(v, cap);
        if (rc != 0) {
            return rc;
        }
    }
    if (v->used + len > v->arena_cap) {
        size_t cap = v->arena_cap > 0 ? 2u * v->arena_cap : STORE_ARENA_MIN;
        while (cap < v->used + len) {
            cap *= 2u;
        }
        uint8_t *arena = realloc(v->arena, cap);
        if (arena == NULL) {
            return -ENOMEM;
        }
        v->arena = arena;
        v->arena_cap = cap;
    }
    return 0;
}

void
store_values_commit_end(struct bpc_store *s)
{
    struct store_values *v = &s->values;
    uint32_t at_least = v->survivors > STORE_VALUES_MIN ? v->survivors : STORE_VALUES_MIN;
    if (v->since_prune <= at_least) {
        return;
    }
    store_values_prune(s, false);
    v->survivors = v->count;
    v->since_prune = 0;
}

void
store_values_compacted(struct bpc_store *s)
{
    /* A recovery of the new file takes its values (every one kept), then
     * ends its one commit. */
    s->values.survivors = 0;
    s->values.since_prune = s->values.count;
    store_values_commit_end(s);
}

/* A value already held, given again: the bytes held stay unless they
 * differ from the new ones and the new ones hash to the identity (then
 * the held ones cannot: a caller appended wrong bytes first, which
 * bpc_store_append_values does not hash). Recovery skips such a frame and
 * loads the right one, so the live values (the export, and what a
 * compaction writes) must hold the right bytes too. Hashes only in that
 * rare case: a repeat of the same bytes is one memcmp. */
static void
store_value_again(struct store_values *v, uint32_t at, const struct bpc_vid *vid,
                  const uint8_t *bytes)
{
    uint8_t *held = v->arena + v->ents[at].at;
    if (memcmp(held, bytes, vid->len) == 0) {
        return;
    }
    struct bpc_vid got;
    bpc_vid_of(&got, bytes, vid->len);
    if (bpc_vid_eq(&got, vid)) {
        memcpy(held, bytes, vid->len);
        v->ents[at].verified = true;
    }
}

/* Takes one value into the live values: dropped when below the floor
 * (restore would not need it); when already there (the engine may name a
 * value again with a later record of its instance), the held bytes are
 * replaced only by bytes that hash to the identity (store_value_again). */
int
store_take_value(struct bpc_store *s, uint64_t instance, const struct bpc_vid *vid,
                 const uint8_t *bytes)
{
    struct store_values *v = &s->values;
    if (!store_value_kept(s, instance, vid)) {
        return 0;
    }
    uint32_t held = v->cap > 0 ? *store_values_slot(v, instance, vid) : 0;
    if (held != 0) {
        store_value_again(v, held - 1u, vid, bytes);
        return 0;
    }
    int rc = store_values_room(s, vid->len);
    if (rc != 0) {
        return rc;
    }
    struct store_value *e = &v->ents[v->count];
    e->instance = instance;
    e->vid = *vid;
    e->at = v->used;
    e->verified = false; /* hashed when first exported */
    memcpy(v->arena + v->used, bytes, vid->len);
    v->used += vid->len;
    v->count++;
    *store_values_slot(v, instance, vid) = v->count;
    return 0;
}

/* The live values into the export array: 0, or -ENOMEM (growing it). */
int
store_values_export(struct bpc_store *s, const struct bpc_durable_value **vals, uint32_t *count)
{
    struct store_values *v = &s->values;
    if (v->export_cap < v->count) {
        struct bpc_durable_value *e = realloc(v->export, (size_t)v->cap * sizeof(*e));
        if (e == NULL) {
            return -ENOMEM;
        }
        v->export = e;
        v->export_cap = v->cap;
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < v->count; k++) {
        struct store_value *e = &v->ents[k];
        /* Bytes that do not hash are not handed out: a recovery skipped
         * their frame (a writer's export used to differ from a reopen's). */
        if (store_value_live(s, e->instance, &e->vid) && store_value_verify(v, e)) {
            v->export[n++] = (struct bpc_durable_value){
                .instance = e->instance, .vid = e->vid, .bytes = v->arena + e->at};
        }
    }
    /* Never NULL on success: NULL tells a caller there was no memory,
     * which it must not take for a store without values. */
    static const struct bpc_durable_value none;
    *vals = v->export != NULL ? v->export : &none;
    *count = n;
    return 0;
}

uint32_t
bpc_store_values(struct bpc_store *s, const struct bpc_durable_value **vals)
{
    if (s == NULL || vals == NULL) {
        if (vals != NULL) {
            *vals = NULL;
        }
        return 0; /* misuse; before: a crash */
    }
    uint32_t n = 0;
    if (store_values_export(s, vals, &n) != 0) {
        *vals = NULL;
        return 0;
    }
    return n;
}

/* Frame bytes of the live values (what a compaction writes for them). */
uint64_t
store_values_frame_bytes(const struct bpc_store *s)
{
    uint64_t bytes = 0;
    for (uint32_t k = 0; k < s->values.count; k++) {
        const struct store_value *e = &s->values.ents[k];
        if (store_value_live(s, e->instance, &e->vid)) {
            bytes += STORE_VALUE_FRAME_BYTES(e->vid.len);
        }
    }
    return bytes;
}
