/*
 * load.c - the load generator and its checks, shared by bpcon-node and
 * bpcon-cluster: command submission, the applied-log recorder and its
 * validity check, the latency histogram, decided-log snapshots and their
 * comparison, and the application-state record kept in the store.
 *
 * Owns: the command byte layout (so every applied value can be checked
 * for validity), the generator's submission rule (only the party that
 * leads its current ballot submits; a new term rescans from the lowest
 * undecided seq), and how a node reports its log.
 *
 * Must never: allocate, log or block in dp_load_pump / dp_load_apply.
 */
#include "app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Histogram.
 * ---------------------------------------------------------------------- */

static uint32_t
hist_index(uint64_t v)
{
    if (v < 64) {
        return (uint32_t)v;
    }
    uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* >= 6 */
    uint32_t sub = (uint32_t)(v >> (e - DP_HIST_SUB_BITS)) & 63u;
    return 64u + (e - DP_HIST_SUB_BITS) * 64u + sub;
}

static uint64_t
hist_lower(uint32_t i)
{
    if (i < 64) {
        return i;
    }
    uint32_t e = (i - 64u) / 64u + DP_HIST_SUB_BITS;
    uint64_t sub = (i - 64u) % 64u;
    return (64u + sub) << (e - DP_HIST_SUB_BITS);
}

void
dp_hist_add(struct dp_hist *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    h->total++;
}

uint64_t
dp_hist_quantile(const struct dp_hist *h, double q)
{
    if (h->total == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)h->total);
    if (rank >= h->total) {
        rank = h->total - 1;
    }
    uint64_t seen = 0;
    for (uint32_t i = 0; i < DP_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            return hist_lower(i);
        }
    }
    return hist_lower(DP_HIST_BUCKETS - 1);
}

void
dp_hist_merge(struct dp_hist *into, const struct dp_hist *from)
{
    for (uint32_t i = 0; i < DP_HIST_BUCKETS; i++) {
        into->counts[i] += from->counts[i];
    }
    into->total += from->total;
}

/* ------------------------------------------------------------------------
 * Generator and recorder.
 * ---------------------------------------------------------------------- */

uint32_t
dp_pace_window(const struct dp_pace *pace, uint32_t parties)
{
    if (pace->rate > 0) {
        return DP_RATE_IN_FLIGHT;
    }
    if (pace->outstanding > 0) {
        uint64_t a = pace->outstanding < parties ? pace->outstanding : parties;
        return (uint32_t)((pace->outstanding + a - 1) / a);
    }
    return pace->window;
}

/* Slots share q owns: one each by default and under a rate. */
static uint64_t
load_share_slots(const struct dp_load *l, uint32_t q)
{
    return q < l->submitters ? (l->slots - q + l->submitters - 1) / l->submitters : 0;
}

int
dp_load_init(struct dp_load *l, uint32_t self, uint32_t parties, uint64_t commands,
             const struct dp_pace *pace, uint32_t value_bytes, bool generate)
{
    memset(l, 0, sizeof(*l));
    l->self = self;
    l->parties = parties;
    l->commands = commands;
    l->slots = parties;
    l->submitters = parties;
    l->window = pace->window;
    if (pace->outstanding > 0) {
        l->outstanding = pace->outstanding;
        l->slots = pace->outstanding;
        l->submitters = (uint32_t)(pace->outstanding < parties ? pace->outstanding : parties);
        l->window = (uint32_t)load_share_slots(l, self);
    } else if (pace->rate > 0) {
        l->rate = pace->rate;
        l->window = UINT32_MAX; /* open loop: only the schedule holds it */
    }
    l->value_bytes = value_bytes < DP_CMD_BYTES_MIN ? DP_CMD_BYTES_MIN : value_bytes;
    l->generate = generate && commands > 0;
    /* Exactly-once apply bounds the log by K; crash resubmissions add at
     * most a window per adopted share: keep room for both. */
    l->log_cap = commands + (uint64_t)parties * dp_pace_window(pace, parties) + 4096;
    l->state = calloc(commands > 0 ? commands : 1, 1);
    l->share = calloc(parties, 1);
    l->cursor = calloc(parties, sizeof(*l->cursor));
    l->log = calloc(l->log_cap, sizeof(*l->log));
    l->digs = calloc(l->log_cap, sizeof(*l->digs));
    l->buf = calloc(l->value_bytes, 1);
    l->digest = 0x6270636f6e6c6f67ull; /* "bpconlog" */
    l->base.digest = l->digest;
    if (l->state == NULL || l->share == NULL || l->cursor == NULL || l->log == NULL ||
        l->digs == NULL || l->buf == NULL) {
        dp_load_free(l);
        return -ENOMEM;
    }
    if (self < parties) {
        l->share[self] = 1;
    }
    return 0;
}

void
dp_load_free(struct dp_load *l)
{
    free(l->state);
    free(l->share);
    free(l->cursor);
    free(l->log);
    free(l->digs);
    free(l->buf);
    l->state = NULL;
    l->share = NULL;
    l->cursor = NULL;
    l->log = NULL;
    l->digs = NULL;
    l->buf = NULL;
}

void
dp_load_adopt(struct dp_load *l, uint32_t party)
{
    if (party < l->parties) {
        if (l->outstanding > 0 && !l->share[party]) {
            /* Closed loop over the cluster: the adopter takes over the
             * crashed party's slots too, so N stay in flight. */
            l->window += (uint32_t)load_share_slots(l, party);
        }
        l->share[party] = 1;
        l->cursor[party] = 0;
    }
}

void
dp_load_resume(struct dp_load *l, const struct dp_app_state *st)
{
    l->base = *st;
    l->applied = st->applied;
    l->digest = st->digest;
}

int
dp_load_state_at(const struct dp_load *l, uint64_t floor, struct dp_app_state *out)
{
    *out = l->base;
    out->magic = DP_APP_STATE_MAGIC;
    if (floor <= l->base.floor) {
        return 0;
    }
    uint64_t held = l->applied - l->base.applied;
    if (held > l->log_cap) {
        return -ENOSPC;
    }
    /* Entries are in instance order: find how many lie below floor. */
    uint64_t lo = 0;
    uint64_t hi = held;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (l->log[mid].instance < floor) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    out->floor = floor;
    if (lo > 0) {
        out->applied = l->base.applied + lo;
        out->digest = l->digs[lo - 1];
        out->last_instance = l->log[lo - 1].instance;
    }
    return 0;
}

uint64_t
dp_load_held(const struct dp_load *l)
{
    uint64_t n = l->applied - l->base.applied;
    return n < l->log_cap ? n : l->log_cap;
}

struct dp_log_entry
dp_load_last(const struct dp_load *l)
{
    struct dp_log_entry e = {0, 0};
    uint64_t n = l->applied - l->base.applied;
    if (n > 0 && n <= l->log_cap) {
        e = l->log[n - 1];
    }
    return e;
}

uint64_t
dp_durable_floor(const struct bpc_durable *recs, uint32_t count)
{
    uint64_t floor = 0;
    for (uint32_t k = 0; k < count; k++) {
        floor = recs[k].floor > floor ? recs[k].floor : floor;
    }
    return floor;
}

static void
load_le_store(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t
load_le_load(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void
load_encode(struct dp_load *l, uint64_t seq, uint64_t now_ns)
{
    uint8_t *b = l->buf;
    load_le_store(b, DP_CMD_MAGIC, 4);
    load_le_store(b + 4, l->self, 2);
    load_le_store(b + 6, 0, 2);
    load_le_store(b + 8, seq, 8);
    load_le_store(b + 16, now_ns, 8);
    for (uint32_t i = DP_CMD_BYTES_MIN; i < l->value_bytes; i++) {
        b[i] = (uint8_t)((seq * 31u + i) & 0xffu);
    }
}

/* When command seq is due under a rate. */
static uint64_t
load_due(const struct dp_load *l, uint64_t seq)
{
    return l->t0_ns + (uint64_t)((bpc_u128)seq * 1000000000u / l->rate);
}

/* Submits from one share until the window is full (or, under a rate, the
 * next command is not due yet); false when the engine refused (queue
 * full) and the round should end. A command carries the time it was
 * submitted, or under a rate the time it was due: latency counts from
 * there. */
static bool
load_pump_share(struct dp_load *l, struct bpc_dp_party *p, uint32_t share, uint64_t now_ns,
                uint32_t *n)
{
    uint64_t w = load_share_slots(l, share);
    while (l->pending < l->window && w > 0) {
        uint64_t c = l->cursor[share];
        uint64_t seq = (c / w) * l->slots + share + (c % w) * l->submitters;
        if (seq >= l->commands) {
            return true;
        }
        if (l->state[seq] != DP_SEQ_NEW) {
            l->cursor[share]++;
            continue;
        }
        uint64_t stamp = now_ns;
        if (l->rate > 0) {
            stamp = load_due(l, seq);
            if (stamp > now_ns) {
                return true;
            }
        }
        load_encode(l, seq, stamp);
        if (bpc_dp_party_submit(p, l->buf, l->value_bytes, NULL) != 0) {
            l->refused++;
            return false; /* backpressure: try again next round */
        }
        l->state[seq] = DP_SEQ_PENDING;
        if (l->first_submit_ns == 0) {
            l->first_submit_ns = now_ns;
        }
        l->pending++;
        l->submitted++;
        l->cursor[share]++;
        (*n)++;
    }
    return true;
}

uint32_t
dp_load_pump(struct dp_load *l, struct bpc_dp_party *p, uint64_t now_ns)
{
    uint32_t n = 0;
    if (!l->generate) {
        return 0;
    }
    if (l->rate > 0 && l->t0_ns == 0) {
        l->t0_ns = now_ns; /* the schedule starts at the first pump */
    }
    for (uint32_t s = 0; s < l->parties && l->pending < l->window; s++) {
        if (l->share[s] && !load_pump_share(l, p, s, now_ns, &n)) {
            break;
        }
    }
    return n;
}

uint64_t
dp_mix64(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

/* Checks a command's bytes; returns its seq or UINT64_MAX when invalid. */
static uint64_t
load_check(const struct dp_load *l, const uint8_t *v, uint32_t len, uint32_t *submitter,
           uint64_t *submit_ns)
{
    if (len < DP_CMD_BYTES_MIN || load_le_load(v, 4) != DP_CMD_MAGIC) {
        return UINT64_MAX;
    }
    uint64_t seq = load_le_load(v + 8, 8);
    if (l->commands > 0 && seq >= l->commands) {
        return UINT64_MAX;
    }
    for (uint32_t i = DP_CMD_BYTES_MIN; i < len; i++) {
        if (v[i] != (uint8_t)((seq * 31u + i) & 0xffu)) {
            return UINT64_MAX;
        }
    }
    *submitter = (uint32_t)load_le_load(v + 4, 2);
    *submit_ns = load_le_load(v + 16, 8);
    return seq;
}

/* Doubles the log's room (log and digs); false when memory ran out (the
 * log then stops growing: dp_load_state_at says -ENOSPC, the party stops
 * on a failed persist). The first capacity covers a node's own load; a
 * node that submits less than the cluster (a voting-only node has K = 0)
 * applies everyone's commands and needs more. */
static bool
load_grow(struct dp_load *l)
{
    uint64_t cap = l->log_cap * 2;
    struct dp_log_entry *log = realloc(l->log, cap * sizeof(*log));
    if (log == NULL) {
        return false;
    }
    l->log = log;
    uint64_t *digs = realloc(l->digs, cap * sizeof(*digs));
    if (digs == NULL) {
        return false;
    }
    l->digs = digs;
    l->log_cap = cap;
    return true;
}

static void
load_log(struct dp_load *l, uint64_t instance, uint64_t h)
{
    uint64_t i = l->applied - l->base.applied;
    l->applied++;
    l->digest = dp_mix64(l->digest ^ h);
    if (i == l->log_cap && !load_grow(l)) {
        return;
    }
    if (i < l->log_cap) {
        l->log[i].instance = instance;
        l->log[i].hash = h;
        l->digs[i] = l->digest;
    }
}

void
dp_load_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
              uint32_t len)
{
    struct dp_load *l = ctx;
    if (instance < l->base.floor) {
        return; /* already in the resumed state */
    }
    uint32_t who = 0;
    uint64_t submit_ns = 0;
    uint64_t cseq = load_check(l, cmd, len, &who, &submit_ns);
    uint64_t h = dp_mix64(instance ^ 0x9e3779b97f4a7c15ull);
    h = dp_mix64(h ^ ((uint64_t)submitter << 32) ^ len);
    h = dp_mix64(h ^ seq);
    load_log(l, instance, dp_mix64(h ^ cseq));
    if (cseq == UINT64_MAX || who != submitter) {
        l->invalid++;
        return;
    }
    if (l->commands == 0) {
        l->unique++;
        return;
    }
    if (l->state[cseq] == DP_SEQ_DONE) {
        l->dups++;
        return;
    }
    /* PENDING means this party submitted it; an adopted command may be
     * applied first from the crashed party's own submission: it still
     * leaves this party's window (else the window leaks and the load
     * stalls once it is full). */
    bool mine = l->state[cseq] == DP_SEQ_PENDING;
    if (mine) {
        l->pending--;
    }
    l->state[cseq] = DP_SEQ_DONE;
    l->unique++;
    uint64_t now = bpc_dp_now_ns();
    l->last_unique_ns = now;
    /* Only a command this process submitted has a submit time on its
     * clock. Before (review V1), a restarted node's commands from before
     * its crash counted too, stamped by the old process's TSC: a p99 of
     * 3.25 s in a run whose load lasted 0.5 s. */
    if (mine && who == l->self && now >= submit_ns) {
        dp_hist_add(&l->hist, now - submit_ns);
    }
}

void
dp_load_decided(void *ctx, const struct bpc_decision *d)
{
    struct dp_load *l = ctx;
    (void)d;
    l->decisions++;
}

bool
dp_load_done(const struct dp_load *l)
{
    return l->commands > 0 && l->unique == l->commands;
}

void
dp_load_report(FILE *f, const struct dp_load *l)
{
    fprintf(f,
            "result id=%u decisions=%llu applied=%llu unique=%llu dups=%llu invalid=%llu "
            "submitted=%llu digest=%016llx first_submit_ns=%llu last_unique_ns=%llu\n",
            l->self, (unsigned long long)l->decisions, (unsigned long long)l->applied,
            (unsigned long long)l->unique, (unsigned long long)l->dups,
            (unsigned long long)l->invalid, (unsigned long long)l->submitted,
            (unsigned long long)l->digest,
            /* On CLOCK_MONOTONIC: the harness compares them across nodes. */
            (unsigned long long)(l->first_submit_ns != 0 ? dp_mono_ns(l->first_submit_ns) : 0),
            (unsigned long long)(l->last_unique_ns != 0 ? dp_mono_ns(l->last_unique_ns) : 0));
    fprintf(f, "hist");
    for (uint32_t i = 0; i < DP_HIST_BUCKETS; i++) {
        if (l->hist.counts[i] != 0) {
            fprintf(f, " %u:%llu", i, (unsigned long long)l->hist.counts[i]);
        }
    }
    fprintf(f, "\n");
    fflush(f);
}

int
dp_load_write_log(const struct dp_load *l, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -errno;
    }
    uint64_t n = dp_load_held(l);
    uint8_t b[16];
    for (uint64_t i = 0; i < n; i++) {
        load_le_store(b, l->log[i].instance, 8);
        load_le_store(b + 8, l->log[i].hash, 8);
        fwrite(b, 1, sizeof(b), f);
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -EIO : 0;
}

bool
dp_log_is_suffix(const struct dp_log_entry *a, uint64_t na, const struct dp_log_entry *b,
                 uint64_t nb)
{
    if (nb > na) {
        return false;
    }
    const struct dp_log_entry *tail = a + (na - nb);
    for (uint64_t i = 0; i < nb; i++) {
        if (tail[i].instance != b[i].instance || tail[i].hash != b[i].hash) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Decided-log snapshots (read through the QSBR log API).
 * ---------------------------------------------------------------------- */

static uint64_t
dlog_hash(const uint8_t *v, uint32_t len, bool noop)
{
    uint64_t h = dp_mix64(0x646c6f67ull ^ ((uint64_t)len << 1) ^ (noop ? 1u : 0u));
    for (uint32_t i = 0; i < len; i += 8) {
        uint32_t k = len - i < 8 ? len - i : 8;
        h = dp_mix64(h ^ load_le_load(v + i, k));
    }
    return h;
}

int
dp_dlog_snapshot(struct bpc_log *log, struct dp_dlog_entry **out, uint64_t *n)
{
    uint64_t first = bpc_log_first(log);
    uint64_t next = bpc_log_next(log);
    uint64_t count = next > first ? next - first : 0;
    *n = 0;
    *out = calloc(count > 0 ? count : 1, sizeof(**out));
    if (*out == NULL) {
        return -ENOMEM;
    }
    for (uint64_t i = first; i < next; i++) {
        struct bpc_log_entry le;
        int rc = bpc_log_read(log, i, &le);
        if (rc != 0) {
            return rc;
        }
        struct dp_dlog_entry *e = &(*out)[(*n)++];
        e->index = i;
        e->hash = dlog_hash(le.value, le.len, le.noop);
        e->skip_mask = le.skip_mask;
    }
    return 0;
}

int
dp_dlog_write(const struct dp_dlog_entry *e, uint64_t n, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -errno;
    }
    uint8_t b[24];
    for (uint64_t i = 0; i < n; i++) {
        load_le_store(b, e[i].index, 8);
        load_le_store(b + 8, e[i].hash, 8);
        load_le_store(b + 16, e[i].skip_mask, 8);
        fwrite(b, 1, sizeof(b), f);
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -EIO : 0;
}

int
dp_dlog_read(const char *path, struct dp_dlog_entry **out, uint64_t *n)
{
    *n = 0;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -errno;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t cap = size > 0 ? (uint64_t)size / 24u : 0;
    *out = calloc(cap > 0 ? cap : 1, sizeof(**out));
    uint8_t b[24];
    while (*out != NULL && *n < cap && fread(b, 1, sizeof(b), f) == sizeof(b)) {
        struct dp_dlog_entry *e = &(*out)[(*n)++];
        e->index = load_le_load(b, 8);
        e->hash = load_le_load(b + 8, 8);
        e->skip_mask = load_le_load(b + 16, 8);
    }
    fclose(f);
    return *out != NULL ? 0 : -ENOMEM;
}

bool
dp_dlog_check(const struct dp_dlog_entry *a, uint64_t na, const struct dp_dlog_entry *b,
              uint64_t nb, uint64_t *value_diff, uint64_t *mask_diff)
{
    *value_diff = 0;
    *mask_diff = 0;
    if (nb == 0) {
        return true; /* a restarted party whose floor is the end holds nothing */
    }
    if (na == 0) {
        return false;
    }
    uint64_t a_end = a[na - 1].index;
    if (b[nb - 1].index != a_end || b[0].index < a[0].index) {
        return false;
    }
    const struct dp_dlog_entry *at = a + (b[0].index - a[0].index);
    for (uint64_t i = 0; i < nb; i++) {
        if (at[i].index != b[i].index || at[i].hash != b[i].hash) {
            (*value_diff)++;
        }
        if (at[i].skip_mask != b[i].skip_mask) {
            (*mask_diff)++;
        }
    }
    return *value_diff == 0;
}

/* ------------------------------------------------------------------------
 * Application state in the durable store.
 * ---------------------------------------------------------------------- */

int
dp_app_state_encode(const struct dp_app_state *st, uint8_t *buf, uint32_t cap)
{
    if (cap < DP_APP_STATE_BYTES) {
        return -ENOBUFS;
    }
    memcpy(buf, "appstat1", 8);
    load_le_store(buf + 8, st->floor, 8);
    load_le_store(buf + 16, st->applied, 8);
    load_le_store(buf + 24, st->digest, 8);
    load_le_store(buf + 32, st->last_instance, 8);
    return (int)DP_APP_STATE_BYTES;
}

int
dp_app_state_decode(const uint8_t *buf, uint32_t len, struct dp_app_state *st)
{
    if (len != DP_APP_STATE_BYTES || memcmp(buf, "appstat1", 8) != 0) {
        return -EINVAL;
    }
    st->magic = DP_APP_STATE_MAGIC;
    st->floor = load_le_load(buf + 8, 8);
    st->applied = load_le_load(buf + 16, 8);
    st->digest = load_le_load(buf + 24, 8);
    st->last_instance = load_le_load(buf + 32, 8);
    return 0;
}

int
dp_app_state_hook(void *ctx, uint64_t floor, uint8_t *buf, uint32_t cap)
{
    struct dp_app_state st;
    int rc = dp_load_state_at(ctx, floor, &st);
    return rc != 0 ? rc : dp_app_state_encode(&st, buf, cap);
}

int
dp_load_resume_from_store(struct dp_load *l, struct bpc_dp_party *p, struct dp_app_state *out)
{
    struct bpc_store *s = bpc_dp_party_store(p);
    uint64_t floor = 0;
    const uint8_t *bytes = NULL;
    uint32_t len = 0;
    if (s == NULL || bpc_store_app(s, &floor, &bytes, &len) != 0) {
        return 0;
    }
    struct dp_app_state st;
    if (dp_app_state_decode(bytes, len, &st) != 0 || st.floor != floor) {
        return -EINVAL;
    }
    dp_load_resume(l, &st);
    if (out != NULL) {
        *out = st;
    }
    return 1;
}
