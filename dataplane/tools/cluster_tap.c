/*
 * cluster_tap.c - bpcon-cluster's frame tap: the judge of "a restarted
 * party never contradicts what it sent before", from the frames alone.
 *
 * Owns: decoding every frame the ring switch moves (tag checked with the
 * pair key, records decoded by the wire codec) and, per sending party and
 * instance, the ballot and value of its latest 2av and 2b, plus the
 * highest ballot it sent any 1b, 2av or 2b at. A record contradicts the
 * party's past when:
 *   - a 1b, 2av or 2b names a ballot below one the party already sent at
 *     (its promise, max_bal, went backwards);
 *   - a second 2av, or a second 2b, at the same ballot names another value;
 *   - a 1b at ballot b reports for an instance a last vote (m, w) with
 *     m <= c < b and w != v, where 2b(c, v) is the party's latest 2b
 *     there (it forgot or rewrote a vote), or a 1b range record reports
 *     such an instance empty.
 * These hold for every frame of a correct party across restarts because
 * the engine only sends at its current ballot, which never decreases once
 * persisted; the tap keeps its memory across a party's crashes, so what a
 * restarted party sends is judged against what its earlier lives sent.
 * Only the first copy of a record is judged: an outbox round goes to each
 * peer in turn, so later copies of an old record can follow newer ones.
 *
 * Must never: trust the parties' own reports (only frames count), or
 * allocate per frame beyond growing the per-instance tables.
 */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

/* Contradictions printed in full; the rest are only counted. */
#define TAP_PRINT_MAX 10u

struct tap_inst {
    uint64_t b2av; /* 0: none */
    uint64_t h2av;
    uint64_t b2b; /* 0: none */
    uint64_t h2b;
};

struct tap_party {
    /* Fingerprints of every 1b, 2av and 2b record seen from the party: a
     * round of the engine's outbox goes to each peer in turn, so the copy
     * to the second peer of a 2av at ballot 1 can follow the copy to the
     * first peer of a 1b at ballot 2; only a record's first copy is judged. */
    uint64_t *seen;
    uint64_t seen_cap; /* power of two */
    uint64_t seen_count;
    uint64_t maxb;
    struct tap_inst *inst;
    uint64_t cap;
    uint64_t hi2b; /* highest instance with a 2b (+1; 0: none) */
};

struct cl_tap {
    uint32_t n;
    const uint8_t (*keys)[CL_PARTIES_MAX][BPC_KEY_BYTES];
    struct tap_party p[CL_PARTIES_MAX];
    struct bpc_record *recs;
    uint32_t recs_cap;
    uint64_t frames;
    uint64_t records;
    uint64_t bad_frames;
    uint64_t contradictions;
};

struct cl_tap *
cl_tap_new(uint32_t parties, const uint8_t (*keys)[CL_PARTIES_MAX][BPC_KEY_BYTES],
           uint32_t frame_bytes)
{
    struct cl_tap *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->n = parties;
    t->keys = keys;
    t->recs_cap = bpc_wire_records_max(frame_bytes) + 1u;
    t->recs = calloc(t->recs_cap, sizeof(*t->recs));
    if (t->recs == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void
cl_tap_free(struct cl_tap *t)
{
    if (t == NULL) {
        return;
    }
    for (uint32_t i = 0; i < CL_PARTIES_MAX; i++) {
        free(t->p[i].inst);
        free(t->p[i].seen);
    }
    free(t->recs);
    free(t);
}

/* A 64-bit identity of a value identity (kind, length, id bytes). */
static uint64_t
tap_vid_hash(const struct bpc_vid *v)
{
    uint64_t h = 0xcbf29ce484222325ull ^ v->kind ^ ((uint64_t)v->len << 8);
    for (uint32_t i = 0; i < BPC_VALUE_INLINE_MAX; i++) {
        h = (h ^ v->id[i]) * 0x100000001b3ull;
    }
    return h | 1u; /* never 0 */
}

static uint64_t
tap_fingerprint(const struct bpc_record *r)
{
    uint64_t h = dp_mix64(r->type ^ 0x7461707265636f72ull);
    h = dp_mix64(h ^ r->instance);
    h = dp_mix64(h ^ r->ballot);
    h = dp_mix64(h ^ r->aux);
    h = dp_mix64(h ^ tap_vid_hash(&r->value));
    return h | 1u; /* 0 marks a free slot */
}

static bool
tap_seen_put(uint64_t *tab, uint64_t cap, uint64_t fp)
{
    for (uint64_t i = fp & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (tab[i] == fp) {
            return false;
        }
        if (tab[i] == 0) {
            tab[i] = fp;
            return true;
        }
    }
}

/* True the first time this record comes from this party. */
static bool
tap_first_copy(struct tap_party *p, const struct bpc_record *r)
{
    if ((p->seen_count + 1) * 2 > p->seen_cap) {
        uint64_t cap = p->seen_cap > 0 ? p->seen_cap * 2 : 1u << 16;
        uint64_t *tab = calloc(cap, sizeof(*tab));
        if (tab == NULL) {
            return true; /* judged again: may over-report, never hide */
        }
        for (uint64_t i = 0; i < p->seen_cap; i++) {
            if (p->seen[i] != 0) {
                tap_seen_put(tab, cap, p->seen[i]);
            }
        }
        free(p->seen);
        p->seen = tab;
        p->seen_cap = cap;
    }
    bool first = tap_seen_put(p->seen, p->seen_cap, tap_fingerprint(r));
    p->seen_count += first ? 1u : 0u;
    return first;
}

/* The party's slot for an instance (grown on demand); NULL: no memory. */
static struct tap_inst *
tap_inst(struct tap_party *p, uint64_t instance)
{
    if (instance >= p->cap) {
        uint64_t cap = p->cap > 0 ? p->cap : 4096u;
        while (cap <= instance) {
            cap *= 2u;
        }
        if (cap > (1ull << 28)) {
            return NULL; /* no honest run gets here */
        }
        struct tap_inst *g = realloc(p->inst, cap * sizeof(*g));
        if (g == NULL) {
            return NULL;
        }
        memset(g + p->cap, 0, (cap - p->cap) * sizeof(*g));
        p->inst = g;
        p->cap = cap;
    }
    return &p->inst[instance];
}

static void
tap_contradiction(struct cl_tap *t, uint32_t party, const char *what, uint64_t instance,
                  uint64_t ballot, uint64_t before)
{
    t->contradictions++;
    if (t->contradictions <= TAP_PRINT_MAX) {
        fprintf(stderr,
                "bpcon-cluster: tap: CONTRADICTION by party %u: %s (instance %llu, ballot %llu, "
                "earlier ballot %llu)\n",
                party, what, (unsigned long long)instance, (unsigned long long)ballot,
                (unsigned long long)before);
    }
}

/* A 1b(b) reporting last vote (m, w) for one instance. */
static void
tap_report(struct cl_tap *t, uint32_t s, uint64_t instance, uint64_t b, uint64_t m, uint64_t hw)
{
    struct tap_party *p = &t->p[s];
    if (instance >= p->cap) {
        return; /* no 2b was ever seen there */
    }
    const struct tap_inst *g = &p->inst[instance];
    if (g->b2b != 0 && g->b2b < b && m <= g->b2b && hw != g->h2b) {
        tap_contradiction(t, s, "1b reports a last vote older than, or other than, its 2b",
                          instance, b, g->b2b);
    }
}

/* The promise check shared by 1b, 2av and 2b. */
static void
tap_ballot(struct cl_tap *t, uint32_t s, const struct bpc_record *r, const char *what)
{
    struct tap_party *p = &t->p[s];
    if (r->ballot < p->maxb) {
        tap_contradiction(t, s, what, r->instance, r->ballot, p->maxb);
    } else {
        p->maxb = r->ballot;
    }
}

static void
tap_vote(struct cl_tap *t, uint32_t s, const struct bpc_record *r)
{
    bool is_2b = r->type == BPC_MSG_2B;
    tap_ballot(t, s, r,
               is_2b ? "2b below a ballot it already sent at"
                     : "2av below a ballot it already sent at");
    struct tap_party *p = &t->p[s];
    struct tap_inst *g = tap_inst(p, r->instance);
    if (g == NULL) {
        t->bad_frames++;
        return;
    }
    uint64_t h = tap_vid_hash(&r->value);
    uint64_t *b = is_2b ? &g->b2b : &g->b2av;
    uint64_t *hv = is_2b ? &g->h2b : &g->h2av;
    if (*b == r->ballot && *hv != h) {
        tap_contradiction(t, s,
                          is_2b ? "a second 2b at one ballot with another value"
                                : "a second 2av at one ballot with another value",
                          r->instance, r->ballot, *b);
    }
    if (r->ballot >= *b) {
        *b = r->ballot;
        *hv = h;
    }
    if (is_2b && r->instance + 1u > p->hi2b) {
        p->hi2b = r->instance + 1u;
    }
}

static void
tap_record(struct cl_tap *t, uint32_t s, const struct bpc_record *r)
{
    static const struct bpc_vid none;
    /* Other types (1a, 2a, history, decided, status, forward...) carry no
     * promise of the sender's: not judged. */
    bool judged = r->type == BPC_MSG_1B || r->type == BPC_MSG_1B_RANGE || r->type == BPC_MSG_2AV ||
                  r->type == BPC_MSG_2B;
    if (!judged || !tap_first_copy(&t->p[s], r)) {
        return;
    }
    if (r->type == BPC_MSG_1B) {
        tap_ballot(t, s, r, "1b below a ballot it already sent at");
        tap_report(t, s, r->instance, r->ballot, r->aux,
                   r->aux == 0 ? tap_vid_hash(&none) : tap_vid_hash(&r->value));
    } else if (r->type == BPC_MSG_1B_RANGE) {
        tap_ballot(t, s, r, "1b range below a ballot it already sent at");
        /* Every instance >= lo + k is reported empty. */
        for (uint64_t i = r->instance + r->aux; i < t->p[s].hi2b; i++) {
            tap_report(t, s, i, r->ballot, 0, tap_vid_hash(&none));
        }
    } else if (r->type == BPC_MSG_2AV || r->type == BPC_MSG_2B) {
        tap_vote(t, s, r);
    }
}

void
cl_tap_frame(struct cl_tap *t, const uint8_t *frame, uint32_t len)
{
    struct bpc_frame_header h;
    if (bpc_wire_parse_header(frame, len, &h) != 0 || h.sender >= t->n || h.receiver >= t->n ||
        h.sender == h.receiver || !bpc_wire_verify(frame, len, t->keys[h.sender][h.receiver])) {
        t->bad_frames++;
        return;
    }
    int n = bpc_wire_decode(frame, len, &h, t->recs, t->recs_cap);
    if (n < 0) {
        t->bad_frames++;
        return;
    }
    t->frames++;
    t->records += (uint64_t)n;
    for (int i = 0; i < n; i++) {
        tap_record(t, h.sender, &t->recs[i]);
    }
}

void
cl_tap_report(const struct cl_tap *t, struct cl_summary *s)
{
    s->tapped = true;
    s->tap_frames = t->frames;
    s->tap_records = t->records;
    s->contradictions = t->contradictions;
    if (t->bad_frames > 0) {
        fprintf(stderr, "bpcon-cluster: tap: %llu frames failed to decode or verify\n",
                (unsigned long long)t->bad_frames);
    }
}
