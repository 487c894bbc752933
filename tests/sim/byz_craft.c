/*
 * byz_craft.c - the frames Byzantine parties craft each Byzantine period
 * (byz_internal.h): per kind, for every correct live receiver (wrong
 * ballots, lying 1b, votes, unattested commands, replays, crowds, claim
 * fills, STATUS floods, evictions, decided lies; malformed frames are in
 * byz_malformed.c), an equivocating or forging leader's own 2a, and the
 * churn (which correct leader is muted during the Byzantine phase).
 *
 * Must never: read the command tag secret (tag_key), draw randomness
 * from anything but the sim's Byzantine stream, or send a frame after
 * the heal.
 */
#include "byz_internal.h"

#include <sodium.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Crafted frames, one Byzantine period.
 * ---------------------------------------------------------------------- */

/* wrongballot: 1B (no vote), 2AV and 2B with random inline values at the
 * receiver's next instance, at a far-future and a stale ballot. */
static void
byz_craft_wrongballot(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v,
                      uint64_t maxb)
{
    struct bpc_record r[6];
    uint64_t ballots[2] = {maxb + 2 + byz_below(s, 999999), 1};
    for (uint32_t k = 0; k < 2; k++) {
        r[3 * k] = bpc_record_make(BPC_MSG_1B, v->nu, ballots[k], 0, NULL);
        for (uint32_t t = 1; t < 3; t++) {
            struct bpc_vid val;
            memset(&val, 0, sizeof(val));
            val.kind = BPC_VALUE_INLINE;
            val.len = (uint16_t)(1 + byz_below(s, BPC_VALUE_INLINE_MAX));
            byz_fill(s, val.id, val.len);
            r[3 * k + t] =
                bpc_record_make(t == 1 ? BPC_MSG_2AV : BPC_MSG_2B, v->nu, ballots[k], 0, &val);
        }
    }
    byz_send(s, b, q, r, 6, true);
}

/* lie1b: false 1B reports at the receiver's ballot and the next one (the
 * first 1B of a sender counts, so the lie may beat the engine's truth),
 * and a range record claiming everything above is empty. */
static void
byz_craft_lie1b(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record out[4 * (1 + BPC_HISTORY_MAX) + 1];
    uint32_t n = 0;
    for (uint64_t k = 0; k < 4; k++) {
        uint64_t bal = v->bal + (k & 1u);
        struct bpc_record truth = bpc_record_make(BPC_MSG_1B, v->nu + k / 2, bal, 0, NULL);
        n += byz_lie_1b(s, &truth, &out[n]);
    }
    out[n++] = bpc_record_make(BPC_MSG_1B_RANGE, v->nu + byz_below(s, 3), v->bal + 1, 0, NULL);
    byz_send(s, b, q, out, n, true);
}

/* votes: 2AV and 2B for values nobody proposed (a new one per period, so
 * several per instance), at far ballots and instances, at the highest
 * valid ballot, garbage ATTESTs; and, in a frame of their own (dropped
 * whole), UINT64_MAX and just-too-high ballots. */
static void
byz_craft_votes(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[12];
    uint32_t n = 0;
    struct bpc_vid val;
    /* Draws in statements of their own: argument order is unspecified. */
    uint64_t near = v->nu + byz_below(s, 4);
    uint64_t ahead = v->nu + v->window * (1 + byz_below(s, 4));
    uint64_t far_bal = v->bal + 1 + byz_below(s, 1000000);
    const uint64_t inst[5] = {near, v->nu, ahead, v->nu + ((uint64_t)1 << 32), UINT64_MAX};
    const uint64_t bal[5] = {v->bal, far_bal, v->bal, v->bal, BPC_BALLOT_MAX};
    for (uint32_t k = 0; k < 5; k++) {
        byz_random_vid(s, &val);
        r[n++] = bpc_record_make(k & 1u ? BPC_MSG_2B : BPC_MSG_2AV, inst[k], bal[k], 0, &val);
        byz_random_vid(s, &val);
        r[n++] = bpc_record_make(k & 1u ? BPC_MSG_2AV : BPC_MSG_2B, inst[k], bal[k], 0, &val);
    }
    for (uint32_t k = 0; k < 2; k++) {
        memset(&val, 0, sizeof(val));
        val.kind = BPC_VALUE_INLINE;
        val.len = BPC_CMD_MAC_BYTES;
        byz_fill(s, val.id, BPC_CMD_MAC_BYTES);
        uint64_t seq = k == 0 ? s->parties[b].bz->applied_hi[b] + 1 + byz_below(s, 4) : byz_rand(s);
        uint64_t len = byz_below(s, BPC_VALUE_BYTES_MAX + 1);
        r[n++] = bpc_record_make(BPC_MSG_ATTEST, seq, v->bal, len, &val);
    }
    byz_send(s, b, q, r, n, true);
    byz_random_vid(s, &val);
    struct bpc_record far[2] = {
        bpc_record_make(BPC_MSG_2AV, v->nu, UINT64_MAX, 0, &val),
        bpc_record_make(BPC_MSG_2B, UINT64_MAX, BPC_BALLOT_MAX + 1, 0, &val),
    };
    byz_send_raw(s, b, q, far, 2);
}

/* unattested, an even party: every command b has outstanding (the 64
 * after the last its engine applied) attested again under MACs of other
 * bytes, two per record, so the receiver holds no MAC its real command
 * matches. An odd party attests nothing at all. */
static void
byz_craft_unattested(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    if (b % 2 == 1) {
        return;
    }
    struct bpc_record r[32];
    uint64_t first = s->parties[b].bz->applied_hi[b] + 1;
    for (uint32_t k = 0; k < 32; k++) {
        struct bpc_vid val;
        memset(&val, 0, sizeof(val));
        val.kind = BPC_VALUE_INLINE;
        val.len = 2 * BPC_CMD_MAC_BYTES;
        byz_fill(s, val.id, val.len);
        r[k] = bpc_record_make(BPC_MSG_ATTEST, first + 2 * k, v->bal, SIM_COMMAND_BYTES, &val);
    }
    byz_send(s, b, q, r, 32, true);
}

/* replay: an old frame verbatim (to its receiver), an old frame re-sealed
 * under a fresh sequence number (to this receiver), and records b
 * received from others, relayed under b's own name. */
static void
byz_craft_replay(struct sim *s, uint32_t b, uint32_t q)
{
    struct sim_byz *z = s->bz;
    struct sim_byz_party *bp = s->parties[b].bz;
    if (bp->ring_count > 0) {
        const struct byz_frame *f = &bp->ring[byz_below(s, bp->ring_count)];
        if (sim_correct_live(s, f->to)) {
            byz_wire(s, b, f->to, f->bytes, f->len, true);
        }
        f = &bp->ring[byz_below(s, bp->ring_count)];
        struct bpc_frame_header h;
        int count = bpc_wire_parse_header(f->bytes, f->len, &h) == 0
                        ? bpc_wire_decode(f->bytes, f->len, &h, z->recs, z->recs_cap)
                        : -1;
        if (count > 0) {
            memcpy(z->out, z->recs, (size_t)count * sizeof(*z->recs));
            byz_send(s, b, q, z->out, (uint32_t)count, true);
        }
    }
    if (bp->relay_count > 0) {
        struct bpc_record r[3];
        uint32_t n = 1 + (uint32_t)byz_below(s, 3);
        for (uint32_t k = 0; k < n; k++) {
            r[k] = bp->relay[byz_below(s, bp->relay_count)].r;
        }
        byz_send(s, b, q, r, n, true);
    }
}

/* The junk value colluder b names for (instance, ballot): inline, 8
 * bytes, different for every colluder (and never a real batch). */
static void
byz_crowd_vid(uint32_t b, uint64_t instance, uint64_t ballot, struct bpc_vid *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = BPC_VALUE_INLINE;
    v->len = 12;
    byz_le_store(v->id, 0x44574f52u, 4); /* "ROWD" */
    byz_le_store(v->id + 4, b, 4);
    byz_le_store(v->id + 8, (uint32_t)(instance * 1315423911u + ballot), 4);
}

/* crowd: for every instance the receiver may have in flight (its next
 * undecided one and the half window above it, which is as far as a
 * leader pipelines), a 2AV and a 2B for b's own junk value at the
 * receiver's ballot and the next. Each is one vote of one sender, as the
 * protocol allows; but a tally keeps at most BPC_TALLY_VALUES_MAX values
 * per (instance, ballot, type), so with that many colluders the correct
 * parties' value finds no place and is dropped (tally_overflow). */
static void
byz_craft_crowd(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[256];
    uint32_t n = 0;
    uint64_t span = v->window / 2 > 0 ? v->window / 2 : 1;
    span = span > 60 ? 60 : span;
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t bal = v->bal + k;
        for (uint64_t i = v->nu; i < v->nu + span; i++) {
            struct bpc_vid val;
            byz_crowd_vid(b, i, bal, &val);
            r[n++] = bpc_record_make(BPC_MSG_2AV, i, bal, 0, &val);
            r[n++] = bpc_record_make(BPC_MSG_2B, i, bal, 0, &val);
        }
    }
    byz_send(s, b, q, r, n, true);
}

/* crowd-decided: DECIDED claims for b's own junk value for every instance
 * from the receiver's next undecided one to the end of its window. Claims
 * are tallied per slot (not per ballot) in BPC_TALLY_VALUES_MAX places,
 * kept until the slot is reused. */
static void
byz_craft_crowd_decided(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[256];
    uint32_t n = 0;
    uint64_t span = v->window > 120 ? 120 : v->window;
    for (uint64_t i = v->nu; i < v->nu + span; i++) {
        struct bpc_vid val;
        byz_crowd_vid(b, i, 1, &val);
        r[n++] = bpc_record_make(BPC_MSG_DECIDED, i, 1, 0, &val);
    }
    byz_send(s, b, q, r, n, true);
}

/* claimfill: a non-empty 1B (maxVBal one below the ballot, b's junk
 * value) for every instance of the receiver's window at its ballot (from
 * 2 on) and the next, so each takes a place in the receiver's 1b claim
 * pool, sized for 16 senders' worth per slot past 16 parties. */
static void
byz_craft_claimfill(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[512];
    uint32_t n = 0;
    uint64_t span = v->window > 256 ? 256 : v->window;
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t bal = v->bal + k;
        if (bal < 2) {
            continue;
        }
        for (uint64_t i = v->nu; i < v->nu + span && n < 512; i++) {
            struct bpc_vid val;
            byz_crowd_vid(b, i, bal, &val);
            r[n++] = bpc_record_make(BPC_MSG_1B, i, bal, bal - 1, &val);
        }
    }
    byz_send(s, b, q, r, n, true);
}

/* statusflood: a frame of STATUS records over the receiver's recent
 * decisions (one per 128 instances, the ring repeated eight times), and a
 * frame of 2B records about instances whose slots the receiver reused.
 * Each STATUS asks for up to 128 DECIDED answers with their bytes, each
 * stale 2B for one: what a party answers one peer is budgeted (catchup.c). */
static void
byz_craft_statusflood(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[512];
    uint32_t n = 0;
    uint64_t ring = 2 * v->window + 256;
    uint64_t lo = v->nu > ring ? v->nu - ring : 0;
    for (uint32_t k = 0; k < 8; k++) {
        for (uint64_t i = lo; i < v->nu && n < 512; i += 128) {
            r[n++] = bpc_record_make(BPC_MSG_STATUS, i, v->bal, 128, NULL);
        }
    }
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
    n = 0;
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    for (uint64_t i = lo; i + v->window < v->nu && n < 512; i++) {
        r[n++] = bpc_record_make(BPC_MSG_2B, i, v->bal, 0, &noop);
    }
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
}

/* evict: records naming instances at and past the end of the receiver's
 * window (nu + window - 1, nu + window, and far beyond), of every type,
 * at its ballot and the next. */
static void
byz_craft_evict(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    const uint64_t inst[8] = {v->nu + v->window - 1, v->nu + v->window,
                              v->nu + v->window + 1, v->nu + 2 * v->window,
                              v->nu + v->window / 2, v->nu + ((uint64_t)1 << 20),
                              UINT64_MAX - 1,        UINT64_MAX};
    struct bpc_record r[16];
    uint32_t n = 0;
    for (uint32_t k = 0; k < 3; k++) {
        uint64_t i = inst[byz_below(s, 8)];
        uint64_t bal = v->bal + byz_below(s, 2);
        struct bpc_vid val;
        byz_random_vid(s, &val);
        if (val.kind == BPC_VALUE_DIGEST) {
            val.kind = BPC_VALUE_NOOP; /* carried types need bytes: keep it simple */
            val.len = 0;
            memset(val.id, 0, sizeof(val.id));
        }
        r[n++] = bpc_record_make(BPC_MSG_1B, i, bal, 0, NULL);
        if (bal >= 2) {
            r[n] = bpc_record_make(BPC_MSG_1B, i, bal, bal - 1, &val);
            r[n++].hist_count = 1;
            r[n++] = bpc_record_make(BPC_MSG_1B_HIST, i, bal, bal - 1, &val);
        }
        r[n++] = bpc_record_make(byz_below(s, 2) ? BPC_MSG_2AV : BPC_MSG_2B, i, bal, 0, &val);
        r[n++] = bpc_record_make(byz_below(s, 2) ? BPC_MSG_DECIDED : BPC_MSG_2A, i, bal, 0, &val);
    }
    static const uint8_t loose[3] = {BPC_MSG_1A, BPC_MSG_1B_RANGE, BPC_MSG_STATUS};
    uint8_t type = loose[byz_below(s, 3)];
    uint64_t at = inst[byz_below(s, 8)];
    r[n++] = bpc_record_make(type, at, v->bal, byz_below(s, 1000), NULL);
    byz_send(s, b, q, r, n, true);
}

/* decided-lie: DECIDED records with the colluders' false value for
 * instances around the receiver's next one, at false ballots; now and then
 * STATUS records with false positions, and a DECIDED at ballot UINT64_MAX
 * (malformed, in a frame of its own). */
static void
byz_craft_decided_lie(struct sim *s, uint32_t b, uint32_t q, const struct byz_view *v)
{
    struct bpc_record r[6];
    uint32_t n = 0;
    uint64_t some = v->nu + byz_below(s, v->window);
    const uint64_t inst[4] = {v->nu > 0 ? v->nu - 1 : 0, v->nu, v->nu + 1, some};
    /* One carried value per frame: each lie's bytes sit in one scratch. */
    for (uint32_t k = 0; k < 4; k++) {
        struct bpc_record d =
            bpc_record_make(BPC_MSG_DECIDED, inst[k], byz_lie_ballot(s, v->bal), 0, NULL);
        byz_lie_value(s, inst[k], &d);
        byz_send(s, b, q, &d, 1, true);
    }
    if (byz_below(s, 4) == 0) {
        uint64_t any = byz_rand(s);
        const uint64_t pos[5] = {0, v->nu > 0 ? v->nu - 1 : 0, v->nu + v->window, UINT64_MAX - 1,
                                 any};
        uint64_t at = pos[byz_below(s, 5)];
        uint64_t bal = byz_rand(s) % BPC_BALLOT_MAX;
        r[n++] = bpc_record_make(BPC_MSG_STATUS, at, bal, byz_rand(s), NULL);
    }
    struct bpc_record bad = bpc_record_make(BPC_MSG_DECIDED, v->nu, UINT64_MAX, 0, NULL);
    byz_lie_value(s, v->nu, &bad);
    if (n > 0) {
        byz_send(s, b, q, r, n, true);
    }
    if (byz_below(s, 8) == 0) {
        byz_send_raw(s, b, q, &bad, 1);
    }
}

/* equivocate and forge, as leader of b's ballot: a 2A for b's next
 * instance even when its engine has nothing to propose (a NOOP original),
 * each receiver getting its table value and b's votes for it. */
static void
byz_craft_lead(struct sim *s, uint32_t b)
{
    struct bpc_engine *e = s->parties[b].e;
    if (bpc_engine_leader(e) != (int)b) {
        return;
    }
    uint64_t bal = bpc_engine_ballot(e);
    uint64_t inst = bpc_engine_next_undecided(e) + byz_below(s, 2);
    struct byz_entry *table = s->parties[b].byz == SIM_BYZ_EQUIVOCATE ? s->bz->equiv : s->bz->forge;
    if (byz_entry_find(table, inst, bal) != NULL) {
        return;
    }
    struct bpc_vid noop;
    memset(&noop, 0, sizeof(noop));
    noop.kind = BPC_VALUE_NOOP;
    struct bpc_record r = bpc_record_make(BPC_MSG_2A, inst, bal, 0, &noop);
    struct bpc_record out[3];
    for (uint32_t q = 0; q < s->n; q++) {
        if (sim_correct_live(s, q)) {
            uint32_t k = byz_rewrite_2a(s, b, q, &r, out);
            byz_send(s, b, q, out, k, true);
        }
    }
}

/* The churn: once a correct leader of the highest correct ballot has led
 * for churn_ns, its frames are dropped until the ballot moves on, so
 * ballots turn over and Byzantine parties get to lead. */
static void
byz_churn(struct sim *s, uint64_t maxb)
{
    if (s->o.churn_ns == 0) {
        return;
    }
    int leader = bpc_elect_leader(s->cfg0, s->digest, maxb);
    if (leader < 0 || s->parties[leader].byz != SIM_BYZ_NONE) {
        s->r.byz_ballots += s->reign_ballot != maxb ? 1u : 0u;
        s->muted = SIM_NONE;
        s->reign_ballot = maxb;
        return;
    }
    if (s->reign_ballot != maxb) {
        s->reign_ballot = maxb;
        s->reign_start_ns = s->now_ns;
        s->muted = SIM_NONE;
        return;
    }
    if (s->now_ns - s->reign_start_ns >= s->o.churn_ns) {
        s->muted = (uint32_t)leader;
    }
}

/* One Byzantine party's crafted frames for one correct receiver. */
static void
byz_craft(struct sim *s, uint32_t b, uint32_t q, uint64_t maxb)
{
    struct byz_view v = {.nu = bpc_engine_next_undecided(s->parties[q].e),
                         .bal = bpc_engine_ballot(s->parties[q].e),
                         .window = s->o.window_slots};
    v.bal = v.bal > 0 ? v.bal : 1;
    switch (s->parties[b].byz) {
    case SIM_BYZ_WRONGBALLOT:
        byz_craft_wrongballot(s, b, q, &v, maxb);
        break;
    case SIM_BYZ_LIE1B:
        byz_craft_lie1b(s, b, q, &v);
        break;
    case SIM_BYZ_VOTES:
        byz_craft_votes(s, b, q, &v);
        break;
    case SIM_BYZ_REPLAY:
        byz_craft_replay(s, b, q);
        break;
    case SIM_BYZ_MALFORMED:
        byz_craft_malformed(s, b, q, &v);
        break;
    case SIM_BYZ_EVICT:
        byz_craft_evict(s, b, q, &v);
        break;
    case SIM_BYZ_DECIDED_LIE:
        byz_craft_decided_lie(s, b, q, &v);
        break;
    case SIM_BYZ_UNATTESTED:
        byz_craft_unattested(s, b, q, &v);
        break;
    case SIM_BYZ_CROWD:
        byz_craft_crowd(s, b, q, &v);
        break;
    case SIM_BYZ_CROWD_DECIDED:
        byz_craft_crowd_decided(s, b, q, &v);
        break;
    case SIM_BYZ_CLAIMFILL:
        byz_craft_claimfill(s, b, q, &v);
        break;
    case SIM_BYZ_STATUSFLOOD:
        byz_craft_statusflood(s, b, q, &v);
        break;
    default:
        break; /* silent, equivocate and forge craft nothing per receiver */
    }
}

/* One Byzantine period: the churn, then every live Byzantine party's
 * crafted frames for every correct live party. */
void
sim_byz_tick(struct sim *s)
{
    uint64_t maxb = 0;
    for (uint32_t p = 0; p < s->n; p++) {
        if (sim_correct_live(s, p)) {
            uint64_t bal = bpc_engine_ballot(s->parties[p].e);
            maxb = bal > maxb ? bal : maxb;
        }
    }
    if (!s->healed) {
        byz_churn(s, maxb);
    }
    for (uint32_t b = 0; b < s->n; b++) {
        uint8_t kind = s->parties[b].byz;
        if (kind == SIM_BYZ_NONE || s->parties[b].crashed) {
            continue;
        }
        if (kind == SIM_BYZ_EQUIVOCATE || kind == SIM_BYZ_FORGE) {
            byz_craft_lead(s, b);
        }
        for (uint32_t q = 0; q < s->n; q++) {
            if (sim_correct_live(s, q)) {
                byz_craft(s, b, q, maxb);
            }
        }
    }
}
