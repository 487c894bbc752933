/*
 * party.c - submitting commands and stepping the simulated parties.
 *
 * Owns: the command submitter (how many commands each party keeps
 * outstanding, and until when it submits), one party's steps (the frames
 * delivered to it in bursts of at most SIM_IN_CAP, again while its engine
 * asks), and where a step's output goes: frames to the network (through
 * byz_rewrite.c for a Byzantine party, dropped for a muted leader),
 * decisions to the checkers, durable records to the disk, the next
 * deadline to the heap. Must never: submit for a silent Byzantine party, hand a Byzantine
 * party's decisions to the checkers, or let an engine that keeps asking to
 * step again loop forever (SIM_STEP_LOOPS_MAX).
 */
#include "sim_internal.h"

#include <errno.h>
#include <string.h>

/* A step that keeps asking for more room or more persistence this many
 * times in a row is an engine bug, not progress. */
#define SIM_STEP_LOOPS_MAX 100000u

/* ------------------------------------------------------------------------
 * Parties: submitting, stepping.
 * ---------------------------------------------------------------------- */

/* The most commands a party keeps outstanding (not yet complete at
 * itself): the engine's queue bounds it, and with a liveness bound so does
 * max(1, SIM_OUTSTANDING_TOTAL / parties), so the run can end soon after
 * its last decision with every command applied. */
uint64_t
sim_outstanding_cap(const struct sim *s)
{
    if (s->o.liveness_ns == 0) {
        return UINT64_MAX;
    }
    return s->n < SIM_OUTSTANDING_TOTAL ? SIM_OUTSTANDING_TOTAL / s->n : 1u;
}

/* True while party p has commands left to submit: its quota with
 * opts.commands, else until it has decided enough (with as many more as
 * its crashes may have lost: in paced mode every command was queued long
 * before it could be decided, and a restart of every party found none
 * left to submit). */
static bool
sim_party_wants(const struct sim *s, const struct sim_party *pa)
{
    if (s->o.commands > 0) {
        return pa->submitted < pa->quota;
    }
    return pa->log_len < s->o.instances && pa->submitted < s->submit_max + pa->lost;
}

/* Keeps the party's queue topped up while it has commands to submit. */
static void
sim_party_submit(struct sim *s, uint32_t p)
{
    struct sim_party *pa = &s->parties[p];
    /* A Byzantine submitter keeps as many commands outstanding as a
     * correct one, for as long as it runs: its engine's applies count (a
     * ticket is (incarnation << 40) | its number; it never restarts). */
    bool byz = pa->byz != SIM_BYZ_NONE;
    uint64_t cap = sim_outstanding_cap(s);
    uint64_t done = byz ? sim_byz_own_applied(s, p) & ((UINT64_C(1) << 40) - 1u) : pa->done_cursor;
    while ((byz || sim_party_wants(s, pa)) && pa->submitted - done < cap) {
        uint8_t v[SIM_COMMAND_BYTES];
        sim_cmd_make(s, p, pa->submitted, v);
        uint64_t ticket = 0;
        int rc = bpc_submit(pa->e, v, sizeof(v), &ticket);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc != 0) {
            sim_engine_error(s, "engine: bpc_submit at party %u returned %d (%s)", p, rc,
                             bpc_strerror(-rc));
            return;
        }
        struct sim_cmd_track *t = &pa->cmds;
        t->ticket = sim_grow(t->ticket, &t->ticket_cap, pa->submitted + 1, sizeof(*t->ticket));
        t->submit_ns =
            sim_grow(t->submit_ns, &t->submit_cap, pa->submitted + 1, sizeof(*t->submit_ns));
        t->submit_ns[pa->submitted] = s->now_ns;
        t->ticket[pa->submitted++] = ticket;
    }
}

/* Hands a step's frames to the network: a Byzantine party's through
 * byz_rewrite.c, which rewrites them; a muted leader's are dropped. */
static void
sim_party_emit(struct sim *s, uint32_t p, const struct bpc_step_out *out)
{
    for (uint32_t i = 0; i < out->frames_count; i++) {
        const struct bpc_frame_out *f = &out->frames[i];
        if (f->len == 0 || f->len > s->frame_bytes || f->peer >= s->n || f->peer == p) {
            sim_engine_error(s, "engine: party %u emitted a frame of %u bytes to peer %u", p,
                             f->len, f->peer);
            return;
        }
        if (s->parties[p].byz != SIM_BYZ_NONE) {
            sim_byz_emit(s, p, f->peer, f->bytes, f->len);
        } else if (p == s->muted) {
            s->r.frames_muted++;
        } else {
            sim_net_send(s, p, f->peer, f->bytes, f->len);
        }
    }
}

/* Lends the shared tx and decision buffers to a step. */
static void
sim_out_reset(struct sim *s, struct bpc_step_out *out)
{
    /* The tx buffers were lent once at init; the engine sets len and peer
     * of the frames it writes, so nothing per frame is reset here (that
     * would cost O(out_cap) per step, quadratic at 999 parties). */
    memset(out, 0, sizeof(*out));
    out->frames = s->outf;
    out->frames_cap = s->out_cap;
    out->decisions = s->decs;
    out->decisions_cap = s->decs_cap;
}

/* Handles one step's output; returns true when the party must step again
 * at once (tx room ran out, or persisted records released held frames). */
static bool
sim_party_output(struct sim *s, uint32_t p, int rc, const struct bpc_step_out *out)
{
    sim_party_emit(s, p, out);
    /* A Byzantine party's decisions are not checked: it may be fed
     * anything by its colluders. */
    for (uint32_t i = 0;
         i < out->decisions_count && i < out->decisions_cap && s->parties[p].byz == SIM_BYZ_NONE;
         i++) {
        sim_party_decide(s, p, &out->decisions[i]);
    }
    /* With --tx-frames the rest of the round waits for the next event, so
     * frames arriving meanwhile change the state under the queued records
     * (as a dataplane poll loop does). */
    bool again = rc == -EAGAIN && s->o.tx_frames == 0;
    if (rc == -EAGAIN) {
        s->r.eagain_steps++;
    }
    if (out->persist_count > 0) {
        sim_party_persist(s, p, out);
        sim_party_persist_values(s, p, out);
        bpc_engine_persisted(s->parties[p].e);
        again = true;
    }
    return again;
}

/* Steps one party (again while it asks to), then checks its tickets. */
static void
sim_party_step(struct sim *s, uint32_t p, uint32_t frames_count)
{
    struct sim_party *pa = &s->parties[p];
    bool correct = pa->byz == SIM_BYZ_NONE;
    if (correct || pa->byz != SIM_BYZ_SILENT) {
        sim_party_submit(s, p);
    }
    struct bpc_step_in in = {.now_ns = s->now_ns, .frames = s->inf, .frames_count = frames_count};
    struct bpc_step_out out;
    for (uint32_t loop = 0; loop < SIM_STEP_LOOPS_MAX; loop++) {
        sim_out_reset(s, &out);
        int rc = bpc_engine_step(pa->e, &in, &out);
        s->r.steps++;
        if (rc < 0 && rc != -EAGAIN) {
            sim_engine_error(s, "engine: step of party %u at %llu ns returned %d (%s)", p,
                             (unsigned long long)s->now_ns, rc, bpc_strerror(-rc));
            return;
        }
        if (!sim_party_output(s, p, rc, &out)) {
            uint64_t dl = out.next_deadline_ns;
            if (rc == -EAGAIN) {
                dl = s->now_ns + s->o.delay_min_ns + 1; /* the next poll, after others */
            }
            if (dl <= s->now_ns) {
                s->r.deadline_clamps++;
                dl = s->now_ns + 1;
            }
            sim_dl_set(s, p, dl);
            if (correct) {
                sim_check_tickets(s, p);
            }
            return;
        }
        in.frames_count = 0;
    }
    sim_engine_error(s, "engine: party %u kept asking to step again at %llu ns", p,
                     (unsigned long long)s->now_ns);
}

/* Steps a touched party once per burst (at most SIM_IN_CAP) of the frames
 * delivered to it at this instant, in delivery order (at least once). */
void
sim_party_run(struct sim *s, uint32_t p)
{
    const uint32_t *in = s->grouped + s->rx[p].in_off;
    uint32_t left = s->rx[p].in_count;
    do {
        uint32_t count = left < SIM_IN_CAP ? left : SIM_IN_CAP;
        /* The frames were written long ago (cold): fetch the burst's
         * messages, then their bodies, all at once before reading any. */
        for (uint32_t i = 0; i < count; i++) {
            __builtin_prefetch(sim_msg_at(s, in[i]));
        }
        for (uint32_t i = 0; i < count; i++) {
            uint32_t body = sim_msg_at(s, in[i])->body;
            if (body != SIM_NONE) {
                __builtin_prefetch(sim_arena_at(s, body));
                __builtin_prefetch((const uint8_t *)sim_arena_at(s, body) + 64);
            }
        }
        size_t used = 0;
        for (uint32_t i = 0; i < count; i++) {
            struct sim_msg *m = sim_msg_at(s, in[i]);
            s->inf[i].bytes = sim_msg_view(s, m, s->stage + used);
            s->inf[i].len = m->len;
            used += sim_round8(m->len);
        }
        sim_party_step(s, p, count);
        for (uint32_t i = 0; i < count; i++) {
            sim_msg_free(s, in[i]);
        }
        in += count;
        left -= count;
    } while (left > 0 && s->outcome == SIM_RUNNING);
}
