/*
 * instance_bytes.c - where the bytes of the values a slot's vote state
 * names are (part of the instance module, beside instance.c): found among
 * the generations' 2a buffers, the history buffers, the fetch buffer and
 * the decision's; moved when a generation that lent them tallies another
 * ballot; kept from a peer's DECIDED claim or VALUE record; handed to
 * persistence once per instance and put back from it after a restart.
 *
 * Owns: nothing of its own; it works on the slot's vote state, which the
 * instance module (instance.c, this file) owns. Must never: keep bytes
 * under a value identity they do not hash to (a peer's were checked by the
 * decoder, restored ones are checked here), or overwrite a buffer whose
 * bytes a history entry or the decision still lends from.
 */
#include "instance.h"

#include "tally.h"
#include "window.h"

#include <string.h>

const uint8_t *
eng_find_bytes(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid)
{
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        if (s->gen[g].a.has_2a && eng_vid_eq(&s->gen[g].a.v2a, vid)) {
            return eng_slot_value(e, s, g);
        }
    }
    for (uint32_t k = 0; k < s->v.hist_count; k++) {
        int buf = eng_vote_hist_buf(s, k);
        if (buf >= 0 && eng_vid_eq(&s->v.hist_val[k], vid)) {
            return eng_slot_value(e, s, (uint32_t)buf);
        }
    }
    if (vid->kind == BPC_VALUE_DIGEST && eng_vid_eq(&s->v.fetch_vid, vid)) {
        return eng_slot_value(e, s, ENG_FETCH_BUF);
    }
    if (s->v.decided && s->v.dec_bytes && eng_vid_eq(&s->v.dec_vid, vid)) {
        return eng_slot_value(e, s, eng_vote_dec_buf(s));
    }
    return NULL;
}

void
eng_vote_gen_leaving(struct bpc_engine *e, struct eng_slot *s, uint32_t g)
{
    const uint8_t *src = eng_slot_value(e, s, g);
    if (s->v.dec_from == g + 1u) {
        memcpy(eng_slot_value(e, s, ENG_GENS), src, s->v.dec_vid.len);
        s->v.dec_from = 0;
    }
    for (uint32_t k = 0; k < s->v.hist_count; k++) {
        if ((s->v.hist_lent & (1u << k)) && eng_gen_of(s, s->v.hist_bal[k]) == (int)g) {
            memcpy(eng_slot_value(e, s, ENG_HIST_BUF0 + s->v.hist_buf[k]), src,
                   s->v.hist_val[k].len);
            s->v.hist_lent &= (uint8_t) ~(1u << k);
        }
    }
}

void
eng_vote_dur_named(struct eng_slot *s, const struct bpc_durable *d)
{
    const struct bpc_vid *v = &s->v.dur_vid;
    if (v->kind == BPC_VALUE_NONE || eng_vid_eq(&d->max_vval, v) ||
        (d->decided && eng_vid_eq(&d->dec_val, v))) {
        return;
    }
    for (uint32_t k = 0; k < d->hist_count; k++) {
        if (eng_vid_eq(&d->hist_val[k], v)) {
            return;
        }
    }
    memset(&s->v.dur_vid, 0, sizeof(s->v.dur_vid));
}

const uint8_t *
eng_vote_bytes_to_persist(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *v)
{
    if (v->kind != BPC_VALUE_DIGEST || eng_vid_eq(&s->v.dur_vid, v)) {
        return NULL;
    }
    const uint8_t *bytes = eng_find_bytes(e, s, v);
    if (bytes != NULL) {
        s->v.dur_vid = *v;
    }
    return bytes;
}

/* The vote state of a durable record back into its slot (the clean
 * floor from the history's last entry when it is of kind NONE:
 * eng_vote_durable); the bytes come after, by eng_restore_value. */
void
eng_in_restore_vote(struct bpc_engine *e, const struct bpc_durable *d)
{
    struct eng_slot *s = eng_slot_get(e, d->instance);
    if (s == NULL) {
        return;
    }
    s->v.max_vbal = d->max_vbal;
    s->v.max_vval = d->max_vval;
    s->v.hist_count = d->hist_count;
    memcpy(s->v.hist_bal, d->hist_bal, sizeof(s->v.hist_bal));
    memcpy(s->v.hist_val, d->hist_val, sizeof(s->v.hist_val));
    uint32_t last = s->v.hist_count - 1u; /* the clean floor, if any (eng_vote_durable) */
    if (s->v.hist_count > 0 && s->v.hist_val[last].kind == BPC_VALUE_NONE) {
        s->v.clean = s->v.hist_bal[last];
        s->v.hist_bal[last] = 0;
        s->v.hist_count--;
    }
    for (uint32_t k = 0; k < BPC_HISTORY_MAX; k++) {
        s->v.hist_buf[k] = (uint8_t)k; /* the bytes are not durable (ENGINE.md) */
    }
    s->v.hist_has = 0;
    s->v.hist_lent = 0;
}

void
eng_restore_value(struct bpc_engine *e, const struct bpc_durable_value *d)
{
    if (d->vid.kind != BPC_VALUE_DIGEST || d->vid.len > e->vbytes || d->bytes == NULL) {
        return;
    }
    struct bpc_vid check;
    bpc_vid_of(&check, d->bytes, d->vid.len);
    if (!eng_vid_eq(&check, &d->vid)) {
        return; /* not the bytes of that value */
    }
    if (d->instance < eng_nu(e)) {
        /* A decision below the floor: its recent-decision entry. */
        (void)eng_dring_restore_bytes(e, d);
        return;
    }
    struct eng_slot *s = eng_slot_get(e, d->instance);
    if (s == NULL) {
        return;
    }
    bool named = false;
    for (uint32_t k = 0; k < s->v.hist_count; k++) {
        uint8_t bit = (uint8_t)(1u << k);
        if (eng_vid_eq(&s->v.hist_val[k], &d->vid) && !(s->v.hist_has & bit)) {
            memcpy(eng_slot_value(e, s, ENG_HIST_BUF0 + s->v.hist_buf[k]), d->bytes, d->vid.len);
            s->v.hist_has |= bit;
            s->v.hist_lent &= (uint8_t)~bit;
        }
        named = named || eng_vid_eq(&s->v.hist_val[k], &d->vid);
    }
    if (!named && eng_vid_eq(&s->v.max_vval, &d->vid) && s->v.fetch_vid.kind == BPC_VALUE_NONE) {
        memcpy(eng_slot_value(e, s, ENG_FETCH_BUF), d->bytes, d->vid.len);
        s->v.fetch_vid = d->vid;
        named = true;
    }
    if (named) {
        s->v.dur_vid = d->vid; /* durable already: not persisted again */
    }
}

/* The most that the slot's 1b reports at one generation naming vid
 * (maxVVal or 2av history) weigh (0: none names it), off the names index
 * (claims.c): one look-up per generation. Before, a whole view was built
 * for each generation (a review's bigval), then the kept reports were
 * walked (review E2's probe_value: 54-66 us a frame of 13 VALUE records
 * at 999 parties, 3.3 now). */
static bpc_u128
eng_reports_weight(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid)
{
    bpc_u128 most = 0;
    for (uint32_t g = 0; g < ENG_GENS; g++) {
        if (eng_gen_ballot(s, g) == 0) {
            continue;
        }
        bpc_u128 w = eng_claims_naming(e, s, g, vid);
        most = w > most ? w : most;
    }
    return most;
}

/* May a claim's bytes take the fetch buffer from the value there? When
 * it is free; else only for a claim just counted (a sender's first in
 * the round, so each party can take it once per round), from a value
 * that this party's own vote state does not name (maxVVal, history), no
 * 1b report names, and that has no more claim weight than the claim's
 * value now has. Before, the first claim's bytes kept the buffer: a
 * Byzantine peer's unasked claim with junk bytes made the correct bytes
 * that came before the deciding (claims-only) answer be dropped, and the
 * instance waited a retransmit tick for them (a review's fetch_junk). */
static bool
eng_fetch_yields(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid, bool counted)
{
    const struct bpc_vid *held = &s->v.fetch_vid;
    if (held->kind == BPC_VALUE_NONE) {
        return true;
    }
    if (!counted || eng_vid_eq(held, &s->v.max_vval)) {
        return false;
    }
    for (uint32_t k = 0; k < s->v.hist_count; k++) {
        if (eng_vid_eq(&s->v.hist_val[k], held)) {
            return false;
        }
    }
    return eng_claim_weight(s, held) <= eng_claim_weight(s, vid) &&
           eng_reports_weight(e, s, held) == 0;
}

void
eng_keep_claim_bytes(struct bpc_engine *e, struct eng_slot *s, const struct bpc_vid *vid,
                     const uint8_t *bytes, bool counted)
{
    if (vid->kind != BPC_VALUE_DIGEST || vid->len > e->vbytes ||
        eng_find_bytes(e, s, vid) != NULL || !eng_fetch_yields(e, s, vid, counted)) {
        return;
    }
    memcpy(eng_slot_value(e, s, ENG_FETCH_BUF), bytes, vid->len);
    s->v.fetch_vid = *vid;
}

/* A peer's bytes for a DIGEST value its 1b names, kept in the slot's
 * fetch buffer when this party lacks them, a 1b it received names the
 * value, and the buffer is free or holds a value that the reports name
 * with less weight: a leader that must propose the value again has its
 * bytes (a pick needs reports above F naming it, junk only Byzantine
 * ones name weighs F at most), and a Byzantine party's VALUE for junk
 * cannot push them out. The decoder checked the bytes against the
 * digest. */
void
eng_on_value(struct bpc_engine *e, uint32_t p, const struct bpc_record *r)
{
    (void)p;
    struct eng_slot *s = eng_slot_get(e, r->instance);
    if (s == NULL || r->value_bytes == NULL || r->value.len > e->vbytes ||
        eng_find_bytes(e, s, &r->value) != NULL) {
        ENG_IGNORED(e);
        return;
    }
    bpc_u128 w = eng_reports_weight(e, s, &r->value);
    if (w == 0 ||
        (s->v.fetch_vid.kind != BPC_VALUE_NONE && w <= eng_reports_weight(e, s, &s->v.fetch_vid))) {
        ENG_IGNORED(e);
        return;
    }
    memcpy(eng_slot_value(e, s, ENG_FETCH_BUF), r->value_bytes, r->value.len);
    s->v.fetch_vid = r->value;
}
