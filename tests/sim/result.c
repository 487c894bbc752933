/*
 * result.c - what a simulated run reports.
 *
 * Owns: the run's result (the correct engines' counters summed, and the
 * run hash over every decided log), the accessors of sim.h, and the names
 * of outcomes, engine counters and Byzantine kinds. Must never: change the
 * run it reports on (sim_config only fills the scratch config).
 */
#include "sim_internal.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Results.
 * ---------------------------------------------------------------------- */

/* Feeds a u64 (little-endian) to the run hash. */
static void
sim_hash_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    crypto_generichash_update(st, b, sizeof(b));
}

/* BLAKE2b-256 over every party's decided log and the run's counts. */
static void
sim_run_hash(const struct sim *s, const struct sim_result *r, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    sim_hash_u64(&st, s->o.seed);
    sim_hash_u64(&st, s->n);
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        sim_hash_u64(&st, p);
        sim_hash_u64(&st, pa->log_len);
        for (uint64_t i = 0; i < pa->log_len; i++) {
            const struct sim_log_entry *le = &pa->log[i];
            sim_hash_u64(&st, le->instance);
            sim_hash_u64(&st, le->ballot);
            crypto_generichash_update(&st, (const uint8_t *)&le->vid, sizeof(le->vid));
        }
    }
    sim_hash_u64(&st, r->sim_time_ns);
    sim_hash_u64(&st, r->frames);
    sim_hash_u64(&st, r->messages);
    sim_hash_u64(&st, r->frames_sent);
    sim_hash_u64(&st, r->steps);
    sim_hash_u64(&st, r->max_ballot);
    crypto_generichash_final(&st, out, 32);
}

/* Sums the correct engines' counters into r. */
static void
sim_result_engines(const struct sim *s, struct sim_result *r)
{
    bool any = false;
    r->decided = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (pa->e == NULL || pa->byz != SIM_BYZ_NONE) {
            continue;
        }
        r->decisions_total += pa->log_len;
        const struct bpc_counters *c = bpc_engine_counters(pa->e);
        for (uint32_t i = 0; i < BPC_DROP_REASONS_COUNT; i++) {
            r->drops[i] += c->drops[i];
        }
        r->equivocations += c->equivocations;
        r->tx_overflow += c->tx_overflow;
        uint32_t k = 0;
#define SIM_X_SUM(name) r->counters[k++] += c->name;
        BPC_COUNTERS(SIM_X_SUM)
#undef SIM_X_SUM
        if (pa->crashed) {
            continue;
        }
        uint64_t b = bpc_engine_ballot(pa->e);
        r->max_ballot = b > r->max_ballot ? b : r->max_ballot;
        if (!any || pa->log_len < r->decided) {
            r->decided = pa->log_len;
        }
        if (!any || pa->applied_count < r->commands) {
            r->commands = pa->applied_count;
        }
        any = true;
    }
}

/* The run's result so far. */
void
sim_result(const struct sim *s, struct sim_result *r)
{
    *r = s->r;
    memset(r->drops, 0, sizeof(r->drops));
    memset(r->counters, 0, sizeof(r->counters));
    r->equivocations = 0;
    r->tx_overflow = 0;
    r->decisions_total = 0;
    r->commands = 0;
    r->max_ballot = 0;
    r->outcome = s->outcome;
    r->first_leader = s->first_leader;
    r->parties = s->n;
    r->correct_live = s->correct_live;
    r->seed = s->o.seed;
    r->sim_time_ns = s->now_ns;
    sim_result_engines(s, r);
    sim_run_hash(s, r, r->run_hash);
}

/* Virtual time now. */
uint64_t
sim_now_ns(const struct sim *s)
{
    return s->now_ns;
}

/* Min log length over correct live parties. */
uint64_t
sim_decided_min(const struct sim *s)
{
    bool any = false;
    uint64_t min = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        const struct sim_party *pa = &s->parties[p];
        if (!sim_correct_live(s, p)) {
            continue;
        }
        if (!any || pa->log_len < min) {
            min = pa->log_len;
        }
        any = true;
    }
    return min;
}

/* Frames delivered so far. */
uint64_t
sim_frames_delivered(const struct sim *s)
{
    return s->r.frames;
}

/* Party count. */
uint32_t
sim_parties(const struct sim *s)
{
    return s->n;
}

/* A party's engine (NULL outside the party list). */
struct bpc_engine *
sim_engine(struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].e : NULL;
}

/* A party's config (filled in on demand: valid until the next call). */
const struct bpc_config *
sim_config(const struct sim *s, uint32_t party)
{
    return party < s->n ? sim_party_cfg(s, party) : NULL;
}

/* The key parties a and b share. */
const uint8_t *
sim_pair_key(const struct sim *s, uint32_t a, uint32_t b)
{
    if (a >= s->n || b >= s->n) {
        return NULL;
    }
    return s->keys[(size_t)a * s->n + b];
}

/* Length of a party's application log. */
uint64_t
sim_log_len(const struct sim *s, uint32_t party)
{
    return party < s->n ? s->parties[party].log_len : 0;
}

/* One entry of a party's application log. */
const struct sim_log_entry *
sim_log_entry(const struct sim *s, uint32_t party, uint64_t index)
{
    if (party >= s->n || index >= s->parties[party].log_len) {
        return NULL;
    }
    return &s->parties[party].log[index];
}

/* The name of an outcome. */
const char *
sim_outcome_name(enum sim_outcome o)
{
    switch (o) {
    case SIM_RUNNING:
        return "running";
    case SIM_DONE:
        return "done";
    case SIM_VIOLATION:
        return "violation";
    case SIM_TIME_LIMIT:
        return "time-limit";
    case SIM_STALLED:
        return "stalled";
    case SIM_ENGINE_ERROR:
        return "engine-error";
    }
    return "unknown";
}

/* Names of the engine counters, in BPC_COUNTERS order. */
static const char *const sim_counter_names[SIM_COUNTERS_COUNT] = {
#define SIM_X_NAME(name) #name,
    BPC_COUNTERS(SIM_X_NAME)
#undef SIM_X_NAME
};

/* The name of engine counter i. */
const char *
sim_counter_name(uint32_t i)
{
    return i < SIM_COUNTERS_COUNT ? sim_counter_names[i] : NULL;
}

/* Names of the Byzantine kinds, by enum sim_byz_kind. */
static const char *const sim_byz_names[SIM_BYZ_KINDS_COUNT] = {
    [SIM_BYZ_NONE] = "none",           [SIM_BYZ_WRONGBALLOT] = "wrongballot",
    [SIM_BYZ_SILENT] = "silent",       [SIM_BYZ_EQUIVOCATE] = "equivocate",
    [SIM_BYZ_LIE1B] = "lie1b",         [SIM_BYZ_VOTES] = "votes",
    [SIM_BYZ_REPLAY] = "replay",       [SIM_BYZ_MALFORMED] = "malformed",
    [SIM_BYZ_EVICT] = "evict",         [SIM_BYZ_DECIDED_LIE] = "decided-lie",
    [SIM_BYZ_FORGE] = "forge",         [SIM_BYZ_UNATTESTED] = "unattested",
    [SIM_BYZ_CROWD] = "crowd",         [SIM_BYZ_CROWD_DECIDED] = "crowd-decided",
    [SIM_BYZ_CLAIMFILL] = "claimfill", [SIM_BYZ_STATUSFLOOD] = "statusflood",
    [SIM_BYZ_REFUSER] = "refuser",
};

/* The name of a Byzantine kind ("unknown" outside the enum). */
const char *
sim_byz_kind_name(enum sim_byz_kind k)
{
    return (unsigned)k < SIM_BYZ_KINDS_COUNT ? sim_byz_names[k] : "unknown";
}

/* Parses a Byzantine kind name (not "none"); -EINVAL when unknown. */
int
sim_byz_kind_parse(const char *name)
{
    for (int k = SIM_BYZ_NONE + 1; k < SIM_BYZ_KINDS_COUNT; k++) {
        if (strcmp(name, sim_byz_names[k]) == 0) {
            return k;
        }
    }
    return -EINVAL;
}
