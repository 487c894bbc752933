/*
 * check.c - the simulator's checkers and the commands they judge.
 *
 * Owns: the simulated commands (their bytes, and their tags under the
 * run's tag secret), the maps of applied commands, the safety checkers
 * (order, agreement, validity and integrity of every decision and every
 * applied command of a correct party), the correct parties' application
 * logs, and the liveness checker that runs after the heal. Must never: let
 * a violation pass silently (the first one is recorded and ends the run),
 * judge what a Byzantine party decides or applies, or hand the tag secret
 * to the byz*.c files.
 */
#include "sim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Checkers: order, agreement, validity, integrity.
 * ---------------------------------------------------------------------- */

/* Records the first violation and stops the run. */
static void sim_violation(struct sim *s, bool *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sim_violation(struct sim *s, bool *flag, const char *fmt, ...)
{
    *flag = false;
    s->outcome = SIM_VIOLATION;
    if (s->r.violation[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r.violation, sizeof(s->r.violation), fmt, ap);
    va_end(ap);
}

/* A simulated command: u16 submitter, 48-bit tag, u64 sequence (LE). */
struct sim_cmd {
    uint32_t sub;
    uint64_t tag;
    uint64_t seq;
};

/* Little-endian load of n <= 8 bytes. */
static uint64_t
sim_le_load(const uint8_t *b, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = n; i > 0; i--) {
        v = (v << 8) | b[i - 1];
    }
    return v;
}

/* Little-endian store of the low n <= 8 bytes of v. */
static void
sim_le_store(uint8_t *b, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Reads a simulated command's fields (the caller checked its length). */
static void
sim_cmd_parse(const uint8_t *b, struct sim_cmd *c)
{
    c->sub = (uint32_t)sim_le_load(b, 2);
    c->tag = sim_le_load(b + 2, 6);
    c->seq = sim_le_load(b + 8, 8);
}

/* The 48-bit tag of command (sub, seq): a keyed mix under the run's tag
 * secret, which only the submitter and the checkers use. */
static uint64_t
sim_cmd_tag(const struct sim *s, uint32_t sub, uint64_t seq)
{
    uint64_t st = s->tag_key ^ ((uint64_t)sub << 48) ^ (seq * 0xd6e8feb86659fd93u);
    uint64_t x = sim_splitmix64(&st);
    x ^= sim_splitmix64(&st);
    return x & (((uint64_t)1 << 48) - 1u);
}

/* The bytes correct party sub submits as its seq-th command. */
void
sim_cmd_make(const struct sim *s, uint32_t sub, uint64_t seq, uint8_t out[SIM_COMMAND_BYTES])
{
    sim_le_store(out, sub, 2);
    sim_le_store(out + 2, sim_cmd_tag(s, sub, seq), 6);
    sim_le_store(out + 8, seq, 8);
    memset(out + 16, (uint8_t)seq, SIM_COMMAND_BYTES - 16u);
}

/* Finds (sub, seq) in the map: its entry, or the empty slot for it. */
static struct sim_map_ent *
sim_map_slot(const struct sim_map *m, uint32_t sub, uint64_t seq)
{
    uint64_t st = seq ^ ((uint64_t)sub << 44);
    for (uint64_t i = sim_splitmix64(&st) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct sim_map_ent *e = &m->ents[i];
        if (e->sub1 == 0 || (e->sub1 == sub + 1 && e->seq == seq)) {
            return e;
        }
    }
}

/* The value stored for (sub, seq), 0 when absent. */
static uint64_t
sim_map_get(const struct sim_map *m, uint32_t sub, uint64_t seq)
{
    if (m->cap == 0) {
        return 0;
    }
    const struct sim_map_ent *e = sim_map_slot(m, sub, seq);
    return e->sub1 == 0 ? 0 : e->val;
}

/* Stores val (non-zero) for (sub, seq) unless present; true when it was
 * inserted. *stored gets the value now stored (the old one if present). */
bool
sim_map_put(struct sim_map *m, uint32_t sub, uint64_t seq, uint64_t val, uint64_t *stored)
{
    if (2 * (m->count + 1) > m->cap) {
        struct sim_map bigger = {.cap = m->cap ? 2 * m->cap : 64};
        bigger.ents = sim_calloc((size_t)bigger.cap, sizeof(*bigger.ents));
        for (uint64_t i = 0; i < m->cap; i++) {
            const struct sim_map_ent *e = &m->ents[i];
            if (e->sub1 != 0) {
                *sim_map_slot(&bigger, e->sub1 - 1, e->seq) = *e;
                bigger.count++;
            }
        }
        free(m->ents);
        *m = bigger;
    }
    struct sim_map_ent *e = sim_map_slot(m, sub, seq);
    if (e->sub1 != 0) {
        *stored = e->val;
        return false;
    }
    e->sub1 = sub + 1;
    e->seq = seq;
    e->val = val;
    m->count++;
    *stored = val;
    return true;
}

/* Validity of one command of a decided batch, as named by the engine
 * (submitter, seq) and as carried in its bytes: a command of a correct
 * submitter must be byte for byte the one it submitted under that ticket.
 * A Byzantine submitter's commands are whatever it says they are. */
static bool
sim_check_command(struct sim *s, uint32_t p, uint64_t instance, const struct bpc_command *bc)
{
    if (bc->submitter < s->n && s->parties[bc->submitter].byz != SIM_BYZ_NONE) {
        return true;
    }
    struct sim_cmd c = {0};
    bool tail_ok = bc->len == SIM_COMMAND_BYTES;
    if (tail_ok) {
        sim_cmd_parse(bc->bytes, &c);
        for (uint32_t k = 16; k < SIM_COMMAND_BYTES; k++) {
            tail_ok = tail_ok && bc->bytes[k] == (uint8_t)c.seq;
        }
    }
    if (!tail_ok || c.sub != bc->submitter || c.sub >= s->n ||
        c.seq >= s->parties[c.sub].submitted || c.tag != sim_cmd_tag(s, c.sub, c.seq)) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u, instance %llu: command of %u bytes from %u (carried "
                      "submitter %u, sequence %llu, engine sequence %#llx) was never submitted",
                      p, (unsigned long long)instance, bc->len, bc->submitter, c.sub,
                      (unsigned long long)c.seq, (unsigned long long)bc->seq);
        return false;
    }
    uint64_t ticket = s->parties[c.sub].cmds.ticket[c.seq];
    if (bc->seq != ticket) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u, instance %llu: command (%u, %llu) carries engine "
                      "sequence %llu, but its ticket was %llu",
                      p, (unsigned long long)instance, c.sub, (unsigned long long)c.seq,
                      (unsigned long long)bc->seq, (unsigned long long)ticket);
        return false;
    }
    return true;
}

/* The engine's apply callback: integrity (each command applied once per
 * party, and at the same instance by every party) and validity. */
void
sim_on_apply(void *ctx, uint64_t instance, uint32_t submitter, uint64_t seq, const uint8_t *cmd,
             uint32_t len)
{
    struct sim_party *pa = ctx;
    struct sim *s = pa->sim;
    if (pa->byz != SIM_BYZ_NONE) {
        sim_byz_applied(s, pa->id, submitter, seq);
        return;
    }
    if (instance < pa->first_instance + pa->log_len) {
        /* A restarted engine replays instances its application log already
         * holds; the application applied them before the crash. */
        return;
    }
    struct bpc_command bc = {.submitter = submitter, .len = len, .seq = seq, .bytes = cmd};
    if (!sim_check_command(s, pa->id, instance, &bc)) {
        return;
    }
    pa->applied_count++;
    uint64_t at = 0;
    if (!sim_map_put(&pa->applied, submitter, seq, instance + 1, &at)) {
        sim_violation(s, &s->r.integrity,
                      "integrity: party %u applied command (%u, %#llx) twice (again at instance "
                      "%llu)",
                      pa->id, submitter, (unsigned long long)seq, (unsigned long long)instance);
        return;
    }
    sim_map_put(&s->applied_at, submitter, seq, instance + 1, &at);
    if (at != instance + 1) {
        sim_violation(s, &s->r.integrity,
                      "integrity: command (%u, %#llx) applied at instance %llu by party %u, at "
                      "%llu by another party",
                      submitter, (unsigned long long)seq, (unsigned long long)instance, pa->id,
                      (unsigned long long)(at - 1));
        return;
    }
    if (s->parties[submitter].byz != SIM_BYZ_NONE) {
        s->r.byz_applied++;
        return;
    }
    pa->applied_correct++;
    struct sim_cmd c;
    sim_cmd_parse(cmd, &c);
    uint32_t slot = s->sub_slot[submitter];
    if (slot != SIM_NONE && c.seq + 1 > pa->applied_hi[slot]) {
        pa->applied_hi[slot] = c.seq + 1;
    }
    if (s->o.commands > 0) {
        sim_party_check_done(s, pa);
    }
}

/* A submitter's ticket may report done only once the submitter applied
 * that very command (a forged command under its name must not complete
 * it). Tickets complete in order, so a cursor walks them. */
void
sim_check_tickets(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    while (pa->done_cursor < pa->submitted) {
        uint64_t ticket = pa->cmds.ticket[pa->done_cursor];
        if (!bpc_ticket_done(pa->e, ticket)) {
            return;
        }
        if (sim_map_get(&pa->applied, p, ticket) == 0) {
            sim_violation(s, &s->r.validity,
                          "validity: party %u: ticket %#llx of its command %llu reports done, "
                          "but the party never applied that command",
                          p, (unsigned long long)ticket, (unsigned long long)pa->done_cursor);
            return;
        }
        pa->done_cursor++;
    }
}

/* Lower-case hex of len bytes into out (2 len + 1 bytes). */
static void
sim_hex(char *out, const uint8_t *b, uint32_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Validity of a decided value: a NOOP, or a well-formed batch whose bytes
 * match its id, every command of it a correct submitter's as submitted
 * (or a Byzantine one's), those the apply rule skips included: their
 * bytes reach the application and the log too. Before (review A12), only
 * applied commands were judged, and a Byzantine leader's junk under a
 * correct name at a number already applied went unseen. */
static void
sim_check_value(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    if (d->vid.kind == BPC_VALUE_NOOP) {
        return;
    }
    struct bpc_vid check;
    bool ok = (d->vid.kind == BPC_VALUE_INLINE || d->vid.kind == BPC_VALUE_DIGEST) &&
              d->value != NULL && d->len > 0;
    if (ok) {
        bpc_vid_of(&check, d->value, d->len);
        ok = bpc_vid_eq(&check, &d->vid);
    }
    if (!ok) {
        char hex[2 * SIM_COMMAND_BYTES + 1] = "";
        if (d->value != NULL) {
            sim_hex(hex, d->value, d->len < SIM_COMMAND_BYTES ? d->len : SIM_COMMAND_BYTES);
        }
        sim_violation(s, &s->r.validity,
                      "validity: party %u decided instance %llu: value bytes (%u: %s...) do not "
                      "match its id (kind %u, len %u)",
                      p, (unsigned long long)d->instance, d->len, hex, d->vid.kind, d->vid.len);
        return;
    }
    struct bpc_command bc;
    int off = 0;
    uint32_t count = 0;
    bool valid = true;
    while ((off = bpc_batch_next(d->value, d->len, (uint32_t)off, &bc)) > 0) {
        count++;
        valid = valid && sim_check_command(s, p, d->instance, &bc); /* one report a value */
    }
    if (off < 0 || count == 0) {
        sim_violation(s, &s->r.validity,
                      "validity: party %u decided instance %llu: a malformed batch of %u bytes", p,
                      (unsigned long long)d->instance, d->len);
    }
}

/* Agreement: one value id per instance over every correct party. */
static void
sim_check_agreement(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    if (d->instance < s->base_instance) {
        sim_violation(s, &s->r.order, "order: party %u decided instance %llu below the base %llu",
                      p, (unsigned long long)d->instance, (unsigned long long)s->base_instance);
        return;
    }
    uint64_t idx = d->instance - s->base_instance;
    s->refs = sim_grow(s->refs, &s->refs_cap, idx + 1, sizeof(*s->refs));
    struct sim_ref *ref = &s->refs[idx];
    if (!ref->set) {
        ref->set = true;
        ref->vid = d->vid;
    } else if (!bpc_vid_eq(&ref->vid, &d->vid)) {
        char mine[2 * SIM_COMMAND_BYTES + 1];
        char theirs[2 * SIM_COMMAND_BYTES + 1];
        sim_hex(mine, d->vid.id, SIM_COMMAND_BYTES);
        sim_hex(theirs, ref->vid.id, SIM_COMMAND_BYTES);
        sim_violation(s, &s->r.agreement,
                      "agreement: party %u decided instance %llu as %u:%s, another party as %u:%s",
                      p, (unsigned long long)d->instance, d->vid.kind, mine, ref->vid.kind, theirs);
    }
}

/* True once a correct party reached the run's goal: opts.commands commands
 * of correct submitters applied, or else opts.instances decided. */
static bool
sim_party_goal(const struct sim *s, const struct sim_party *pa)
{
    if (s->o.commands > 0) {
        return pa->applied_correct >= s->o.commands;
    }
    return pa->log_len >= s->o.instances;
}

/* Counts a live correct party done once it reached the goal. */
void
sim_party_check_done(struct sim *s, struct sim_party *pa)
{
    if (!pa->done && !pa->crashed && pa->byz == SIM_BYZ_NONE && sim_party_goal(s, pa)) {
        pa->done = true;
        s->done_count++;
    }
}

/* Appends a decision to the party's application log (copying its bytes). */
static void
sim_log_append(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    pa->log = sim_grow(pa->log, &pa->log_cap, pa->log_len + 1, sizeof(*pa->log));
    struct sim_log_entry *le = &pa->log[pa->log_len++];
    le->instance = d->instance;
    le->ballot = d->ballot;
    le->vid = d->vid;
    le->len = 0;
    le->value = NULL;
    if (d->vid.kind != BPC_VALUE_NOOP && d->value != NULL && d->len > 0) {
        le->value = malloc(d->len);
        if (le->value == NULL) {
            fprintf(stderr, "bpcon-sim: out of memory\n");
            abort();
        }
        memcpy(le->value, d->value, d->len);
        le->len = d->len;
    }
    if (s->o.commands == 0) {
        sim_party_check_done(s, pa);
    }
}

/* A restarted engine re-emits instances below its application log's end:
 * they must equal what the log holds (the application log is durable). */
static void
sim_party_replay(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    s->r.replayed++;
    if (d->instance < pa->first_instance) {
        sim_violation(s, &s->r.order,
                      "order: party %u re-decided instance %llu below its first instance %llu", p,
                      (unsigned long long)d->instance, (unsigned long long)pa->first_instance);
        return;
    }
    const struct sim_log_entry *le = &pa->log[d->instance - pa->first_instance];
    if (!bpc_vid_eq(&le->vid, &d->vid)) {
        sim_violation(s, &s->r.agreement,
                      "agreement: party %u re-decided instance %llu after its restart with "
                      "another value (kind %u, len %u) than its log holds (kind %u, len %u)",
                      p, (unsigned long long)d->instance, d->vid.kind, d->vid.len, le->vid.kind,
                      le->vid.len);
    }
}

/* Order, agreement and validity of one decision of a correct party. */
void
sim_party_decide(struct sim *s, uint32_t p, const struct bpc_decision *d)
{
    struct sim_party *pa = &s->parties[p];
    uint64_t expect = pa->first_instance + pa->log_len;
    if (pa->restarted && d->instance < expect) {
        sim_party_replay(s, p, d);
        return;
    }
    if (d->instance != expect) {
        sim_violation(s, &s->r.order, "order: party %u decided instance %llu, expected %llu", p,
                      (unsigned long long)d->instance, (unsigned long long)expect);
    }
    sim_check_agreement(s, p, d);
    sim_check_value(s, p, d);
    sim_log_append(s, p, d);
}

/* The first sequence of correct live submitter q that some correct live
 * party has not applied yet (q's submission count when none). */
static uint64_t
sim_first_unapplied(const struct sim *s, uint32_t q, uint32_t *laggard)
{
    const struct sim_party *sq = &s->parties[q];
    uint64_t first = sq->submitted;
    for (uint32_t p = 0; p < s->n; p++) {
        if (!sim_correct_live(s, p)) {
            continue;
        }
        uint32_t slot = s->sub_slot[q];
        uint64_t hi = slot != SIM_NONE ? s->parties[p].applied_hi[slot] : 0;
        hi = hi > sq->live_from ? hi : sq->live_from;
        if (hi < first) {
            first = hi;
            *laggard = p;
        }
    }
    return first;
}

/* True when every command of every correct live party is applied by every
 * correct live party (the liveness goal). */
bool
sim_all_applied(const struct sim *s)
{
    for (uint32_t q = 0; q < s->n; q++) {
        uint32_t laggard = 0;
        if (sim_correct_live(s, q) &&
            sim_first_unapplied(s, q, &laggard) < s->parties[q].submitted) {
            return false;
        }
    }
    return true;
}

/* After the heal: a command of a correct live party not applied by every
 * correct live party by max(its submission, the heal) + the bound is a
 * liveness violation. Runs every eighth of the bound. */
void
sim_check_liveness(struct sim *s)
{
    s->live_next_ns = s->now_ns + (s->o.liveness_ns / 8 ? s->o.liveness_ns / 8 : 1);
    for (uint32_t q = 0; q < s->n; q++) {
        uint32_t laggard = 0;
        if (!sim_correct_live(s, q)) {
            continue;
        }
        uint64_t k = sim_first_unapplied(s, q, &laggard);
        if (k >= s->parties[q].submitted) {
            continue;
        }
        uint64_t from = s->parties[q].cmds.submit_ns[k];
        from = from > s->r.healed_at_ns ? from : s->r.healed_at_ns;
        if (s->now_ns - from < s->o.liveness_ns) {
            continue;
        }
        sim_violation(s, &s->r.liveness,
                      "liveness: command %llu of party %u (submitted at %llu us) not applied by "
                      "party %u %llu us after the heal at %llu us",
                      (unsigned long long)k, q,
                      (unsigned long long)(s->parties[q].cmds.submit_ns[k] / 1000), laggard,
                      (unsigned long long)((s->now_ns - s->r.healed_at_ns) / 1000),
                      (unsigned long long)(s->r.healed_at_ns / 1000));
        return;
    }
}
