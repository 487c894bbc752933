/*
 * test_durable.c - what a crash can take (docs/ENGINE.md, "Durability"):
 * a decision is applied only once the votes it needed are durable (a
 * party whose own 2b completed the quorum that decided an instance hands
 * the decision out, as log, commands, tickets and out->decisions, only
 * after the step's records were confirmed with bpc_engine_persisted), and
 * a start never persists a record no restart can restore, and a restart
 * numbers its frames above every number used before.
 *
 * Method: one party of weight 1 (its own 2b is the whole quorum), stepped
 * directly through the public API; a crash is an engine freed before its
 * records were confirmed and a new one restored from the records that
 * were. Must never: rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"

#include "fx.h"

#define DUR_FRAMES 16u
#define DUR_RECS 64u
#define DUR_MS UINT64_C(1000000)

static uint8_t dur_keys[1][BPC_KEY_BYTES];

/* One party, the whole cluster; durable records kept by the test. */
struct dur {
    struct bpc_config cfg;
    struct bpc_engine *e;
    uint64_t now;
    struct bpc_frame_out fo[DUR_FRAMES];
    uint8_t fb[DUR_FRAMES][BPC_FRAME_BYTES_MAX];
    struct bpc_decision dec[DUR_RECS];
    struct bpc_durable recs[DUR_RECS]; /* confirmed records, in order */
    uint32_t recs_count;
    struct bpc_step_out out;
};

static void
dur_start(struct dur *d)
{
    char err[256];
    assert_int_equal(bpc_engine_new(&d->e, &d->cfg, err, sizeof(err)), 0);
    if (d->recs_count > 0) {
        assert_int_equal(bpc_engine_restore(d->e, d->recs, d->recs_count), 0);
    }
    assert_int_equal(bpc_engine_start(d->e, d->now), 0);
}

static void
dur_init(struct dur *d)
{
    memset(d, 0, sizeof(*d));
    bpc_config_defaults(&d->cfg);
    d->cfg.cluster_id = 9;
    d->cfg.parties_count = 1;
    d->cfg.self = 0;
    d->cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])dur_keys;
    d->now = DUR_MS;
    dur_start(d);
}

/* One step with no frames; its persist records are left unconfirmed. */
static void
dur_step(struct dur *d)
{
    d->now += DUR_MS;
    struct bpc_step_in in = {.now_ns = d->now};
    memset(&d->out, 0, sizeof(d->out));
    for (uint32_t k = 0; k < DUR_FRAMES; k++) {
        d->fo[k].bytes = d->fb[k];
        d->fo[k].cap = BPC_FRAME_BYTES_MAX;
    }
    d->out.frames = d->fo;
    d->out.frames_cap = DUR_FRAMES;
    d->out.decisions = d->dec;
    d->out.decisions_cap = DUR_RECS;
    assert_true(bpc_engine_step(d->e, &in, &d->out) >= 0);
}

/* Keeps the last step's records and confirms them. */
static void
dur_persist(struct dur *d)
{
    for (uint32_t k = 0; k < d->out.persist_count; k++) {
        assert_true(d->recs_count < DUR_RECS);
        d->recs[d->recs_count++] = d->out.persist[k];
    }
    bpc_engine_persisted(d->e);
}

/* The last step handed out one decision, instance 0, whose first
 * command is cmd (9 bytes). */
static void
dur_expect_first(const struct dur *d, const char *cmd)
{
    assert_int_equal(d->out.decisions_count, 1);
    assert_int_equal(d->dec[0].instance, 0);
    struct bpc_command c;
    assert_true(bpc_batch_next(d->dec[0].value, d->dec[0].len, 0, &c) > 0);
    assert_int_equal(c.len, 9);
    assert_memory_equal(c.bytes, cmd, 9);
}

/* A lone party submits command A and steps once, its records left
 * unconfirmed: no decision yet (its ticket returned). */
static uint64_t
dur_submit_a(struct dur *d)
{
    dur_init(d);
    uint64_t ticket = 0;
    assert_int_equal(bpc_submit(d->e, (const uint8_t *)"command-A", 9, &ticket), 0);
    dur_step(d);
    print_message("step with records unconfirmed: %u persist records, %u decisions\n",
                  d->out.persist_count, d->out.decisions_count);
    assert_true(d->out.persist_count > 0);
    assert_int_equal(d->out.decisions_count, 0);
    return ticket;
}

/* Goal: the lone party's decision on its own undurable 2b waits for
 * bpc_engine_persisted. Before, the step that cast the 2b handed the
 * decision out (command A applied, its ticket APPLIED) with the 2b still
 * in out->persist; a crash before the records were durable let the
 * restarted party decide command B at the same instance: the application
 * saw instance 0 as A, then as B (the store review's early_decide). */
static void
test_own_undurable_2b_not_applied(void **state)
{
    (void)state;
    struct dur d;
    uint64_t ticket = dur_submit_a(&d);
    assert_int_equal(bpc_ticket_status(d.e, ticket), BPC_TICKET_PENDING);
    assert_int_equal(bpc_engine_next_undecided(d.e), 0);
    /* The crash: nothing of that step was durable. */
    bpc_engine_free(d.e);
    dur_start(&d);
    assert_int_equal(bpc_submit(d.e, (const uint8_t *)"command-B", 9, NULL), 0);
    for (uint32_t k = 0; k < 8 && d.out.decisions_count == 0; k++) {
        dur_step(&d);
        dur_persist(&d);
    }
    dur_expect_first(&d, "command-B");
    bpc_engine_free(d.e);
}

/* Goal: once the records are confirmed, the next step hands the decision
 * out, and its ticket is applied: the wait is one step, not a stall. */
static void
test_own_2b_applied_after_persisted(void **state)
{
    (void)state;
    struct dur d;
    uint64_t ticket = dur_submit_a(&d);
    dur_persist(&d);
    dur_step(&d);
    dur_expect_first(&d, "command-A");
    assert_int_equal(bpc_ticket_status(d.e, ticket), BPC_TICKET_APPLIED);
    assert_int_equal(bpc_engine_next_undecided(d.e), 1);
    bpc_engine_free(d.e);
}

/* Goal: while a batch of records waits for bpc_engine_persisted, a step
 * does nothing and says so (-EBUSY): it reads no frame, hands out no
 * other batch, decides nothing and leaves the lent records as they were,
 * so a caller writing a batch while it steps on writes what the engine
 * asked for, and nothing moves that no batch carried. Before, the next
 * step collected a new batch into the same borrowed buffer, one
 * bpc_engine_persisted confirmed both (review A6, finding 2), and the
 * first fix, steps that collected nothing, still decided and reused slots
 * whose votes no batch had carried (review G5).
 * Method: the lone party submits command A and steps (batch one, not
 * confirmed), submits B and steps again; then confirms and steps. */
static void
test_no_batch_while_one_waits(void **state)
{
    (void)state;
    struct dur d;
    (void)dur_submit_a(&d);
    uint32_t first_count = d.out.persist_count;
    static struct bpc_durable first[DUR_RECS];
    assert_true(first_count <= DUR_RECS);
    const struct bpc_durable *lent = d.out.persist;
    memcpy(first, lent, first_count * sizeof(*first));
    assert_int_equal(bpc_submit(d.e, (const uint8_t *)"command-B", 9, NULL), 0);
    d.now += DUR_MS;
    struct bpc_step_in in = {.now_ns = d.now};
    memset(&d.out, 0, sizeof(d.out));
    d.out.frames = d.fo;
    d.out.frames_cap = DUR_FRAMES;
    d.out.decisions = d.dec;
    d.out.decisions_cap = DUR_RECS;
    d.out.next_deadline_ns = UINT64_MAX;
    int rc = bpc_engine_step(d.e, &in, &d.out);
    print_message("a step with a batch waiting: %d, %u persist records\n", rc, d.out.persist_count);
    assert_int_equal(rc, -EBUSY);
    assert_int_equal(d.out.persist_count, 0);
    assert_int_equal(d.out.frames_count, 0);
    assert_int_equal(d.out.decisions_count, 0);
    assert_int_equal(d.out.next_deadline_ns, d.now); /* step again once confirmed */
    assert_memory_equal(lent, first, first_count * sizeof(*first));
    bpc_engine_persisted(d.e);
    bool b_voted = false;
    for (uint32_t k = 0; k < 8 && !b_voted; k++) {
        dur_step(&d);
        for (uint32_t j = 0; j < d.out.persist_count; j++) {
            b_voted = b_voted || (d.out.persist[j].instance == 1 && d.out.persist[j].max_vbal > 0);
        }
        dur_persist(&d);
    }
    assert_true(b_voted);
    bpc_engine_free(d.e);
}

/* Goal: a start that would persist a record no restart can restore is
 * refused. Restored at incarnation 2^24 - 3 with a promised ballot, the
 * start would raise it to 2^24 - 2, which restore refuses with a promise
 * (and bpc_store_append now too): -EOVERFLOW, not started. Before, it
 * started and persisted that record, and the next restart failed for
 * good. One incarnation lower starts, and persists 2^24 - 3, which a
 * restore takes. */
static void
test_last_incarnation_refused_at_start(void **state)
{
    (void)state;
    struct dur d;
    dur_init(&d);
    bpc_engine_free(d.e);
    d.recs[0] = (struct bpc_durable){
        .instance = UINT64_MAX, .max_bal = 3, .incarnation = (UINT64_C(1) << 24) - 3u};
    d.recs_count = 1;
    char err[256];
    assert_int_equal(bpc_engine_new(&d.e, &d.cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_restore(d.e, d.recs, 1), 0);
    assert_int_equal(bpc_engine_start(d.e, d.now), -EOVERFLOW);
    bpc_engine_free(d.e);
    d.recs[0].incarnation = (UINT64_C(1) << 24) - 4u;
    dur_start(&d);
    dur_step(&d);
    assert_true(d.out.persist_count > 0);
    assert_int_equal(d.out.persist[0].incarnation, (UINT64_C(1) << 24) - 3u);
    struct bpc_durable again = d.out.persist[0];
    bpc_engine_free(d.e);
    assert_int_equal(bpc_engine_new(&d.e, &d.cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_restore(d.e, &again, 1), 0);
    bpc_engine_free(d.e);
}

/* Frames for one fx step (gate_step). */
#define DUR_IN 32u
struct dur_in {
    uint8_t bufs[DUR_IN][BPC_FRAME_BYTES_MAX];
    struct bpc_frame_in ins[DUR_IN];
    uint32_t n;
};

static void
dur_add(struct fx *f, struct dur_in *in, uint32_t from, const struct bpc_record *r, uint32_t n)
{
    assert_true(in->n < DUR_IN);
    in->ins[in->n].len = fx_frame(f, from, r, n, f->keys[from], in->bufs[in->n]);
    in->ins[in->n].bytes = in->bufs[in->n];
    in->n++;
}

/* The three peers join ballot 3 (1b reporting their 2av at 2 for v), its
 * leader's 2a for v and their 2av: the party casts its 2b at 3 too. */
static void
dur_move_to_3(struct fx *f, struct dur_in *in, const struct bpc_vid *v)
{
    for (uint32_t i = 0; i < 3; i++) {
        struct bpc_record rr[3];
        rr[0] = bpc_record_make(BPC_MSG_1B, 0, 3, 0, NULL);
        rr[0].hist_count = 1;
        rr[1] = bpc_record_make(BPC_MSG_1B_HIST, 0, 3, 2, v);
        rr[2] = bpc_record_make(BPC_MSG_1B_RANGE, 0, 3, 1, NULL);
        dur_add(f, in, fx_other(f, i), rr, 3);
    }
    struct bpc_record r = bpc_record_make(BPC_MSG_2A, 0, 3, 0, v);
    dur_add(f, in, (uint32_t)fx_leader(f, 3), &r, 1);
    for (uint32_t i = 0; i < 3; i++) {
        r = bpc_record_make(BPC_MSG_2AV, 0, 3, 0, v);
        dur_add(f, in, fx_other(f, i), &r, 1);
    }
}

/* Goal: the gate holds when this party's own 2b at the deciding ballot b
 * was followed, in the same unconfirmed step, by its 2b at b + 1. Four
 * parties of weight 1 (T = 3): in one step the 2a and three 2av at 2
 * (the party casts its 2b at 2), optionally the move to ballot 3 (its 2b
 * at 3), then two peers' 2b at 2: a quorum at 2 that needs the party's
 * own 2b. No decision may leave before bpc_engine_persisted either way.
 * Before, with the move, the gate's test also asked for maxVBal = 2 and
 * the decision left at once (the own review's gate_bypass): after a crash
 * in that step the party had no record of either vote. */
static void
test_gate_holds_after_a_later_vote(void **state)
{
    (void)state;
    for (uint32_t move = 0; move < 2; move++) {
        struct fx *f = fx_new(64, 1024);
        fx_to_ballot(f, 2);
        struct bpc_vid noop;
        memset(&noop, 0, sizeof(noop));
        noop.kind = BPC_VALUE_NOOP;
        static struct dur_in in;
        in.n = 0;
        struct bpc_record r = bpc_record_make(BPC_MSG_2A, 0, 2, 0, &noop);
        dur_add(f, &in, (uint32_t)fx_leader(f, 2), &r, 1);
        for (uint32_t i = 0; i < 3; i++) {
            r = bpc_record_make(BPC_MSG_2AV, 0, 2, 0, &noop);
            dur_add(f, &in, fx_other(f, i), &r, 1);
        }
        if (move) {
            dur_move_to_3(f, &in, &noop);
        }
        for (uint32_t i = 0; i < 2; i++) {
            r = bpc_record_make(BPC_MSG_2B, 0, 2, 0, &noop);
            dur_add(f, &in, fx_other(f, i), &r, 1);
        }
        for (uint32_t k = 0; k < FX_OUT; k++) {
            f->outs[k].bytes = f->out_bytes[k];
            f->outs[k].cap = f->tx_cap;
        }
        static struct bpc_decision dec[64];
        f->now += 1000;
        struct bpc_step_in si = {.now_ns = f->now, .frames = in.ins, .frames_count = in.n};
        struct bpc_step_out so = {
            .frames = f->outs, .frames_cap = FX_OUT, .decisions = dec, .decisions_cap = 64};
        assert_true(bpc_engine_step(f->e, &si, &so) >= 0);
        print_message("%s: ballot %llu, %u decisions before persisted, %u records\n",
                      move ? "with a 2b at 3" : "2b at 2 only",
                      (unsigned long long)bpc_engine_ballot(f->e), so.decisions_count,
                      so.persist_count);
        assert_int_equal(bpc_engine_ballot(f->e), move ? 3 : 2);
        assert_true(so.persist_count > 0);
        assert_int_equal(so.decisions_count, 0);
        fx_delete(f);
    }
}

/* One step of f's engine with no frames in, a retransmit period on: the
 * highest frame sequence number it sent (0: none). Every frame must lie
 * in an incarnation range that the records confirmed before it carry
 * (*carried, raised by this step's records once confirmed). */
static uint64_t
seq_tick(struct fx *f, uint64_t *carried)
{
    f->now += 10 * FX_MS;
    for (uint32_t k = 0; k < FX_OUT; k++) {
        f->outs[k].bytes = f->out_bytes[k];
        f->outs[k].cap = f->tx_cap;
    }
    struct bpc_decision dec[64];
    struct bpc_step_in si = {.now_ns = f->now};
    struct bpc_step_out so = {
        .frames = f->outs, .frames_cap = FX_OUT, .decisions = dec, .decisions_cap = FX_LEN(dec)};
    assert_true(bpc_engine_step(f->e, &si, &so) >= 0);
    uint64_t hi = 0;
    for (uint32_t k = 0; k < so.frames_count; k++) {
        struct bpc_frame_header h;
        assert_int_equal(bpc_wire_parse_header(f->outs[k].bytes, f->outs[k].len, &h), 0);
        assert_true(h.seq >> 40 <= *carried);
        hi = h.seq > hi ? h.seq : hi;
    }
    if (so.persist_count > 0) {
        fx_persist(f, so.persist, so.persist_count);
        fx_persist_values(f, so.persist_values, so.persist_values_count);
        for (uint32_t k = 0; k < so.persist_count; k++) {
            *carried = so.persist[k].incarnation > *carried ? so.persist[k].incarnation : *carried;
        }
        bpc_engine_persisted(f->e);
    }
    return hi;
}

/* Goal: frame numbers that run past the end of an incarnation's range
 * stay above every number a restart uses. Each peer's counter is set
 * 300 frames short of the end of this run's range ((incarnation + 1) <<
 * 40: 2^40 frames cannot be sent in a test), then retransmit ticks carry
 * it past. Before, records kept carrying the run's incarnation, so the
 * restarted party numbered its frames from (incarnation + 1) << 40 again,
 * below what the peers had accepted, and they dropped every frame as a
 * replay (the store review's seqwrap: 1,536 of 1,536 dropped, nothing
 * decided); now the records carry the next incarnation before a number
 * needs it, and the restart starts above. */
static void
test_frame_numbers_stay_above_after_restart(void **state)
{
    (void)state;
    struct fx *f = fx_new(8, 256);
    fx_step(f, NULL, 0);
    uint64_t carried = 0;
    for (uint32_t k = 0; k < f->dur_count; k++) {
        carried = f->dur[k].incarnation > carried ? f->dur[k].incarnation : carried;
    }
    uint64_t end = (f->e->ps.incarnation + 1u) << 40;
    for (uint32_t p = 0; p < f->n; p++) {
        f->e->ob.tx_seq[p] = end - 300u;
    }
    uint64_t hi = 0;
    for (uint32_t t = 0; t < 1200; t++) {
        uint64_t s = seq_tick(f, &carried);
        hi = s > hi ? s : hi;
    }
    print_message("last number before the crash %#llx; records carry incarnation %llu\n",
                  (unsigned long long)hi, (unsigned long long)carried);
    assert_true(hi >= end);
    fx_restart(f);
    uint64_t lo = 0;
    for (uint32_t t = 0; t < 8 && lo == 0; t++) {
        lo = seq_tick(f, &carried);
    }
    print_message("first numbers after the restart up to %#llx\n", (unsigned long long)lo);
    assert_true(lo > hi);
    fx_delete(f);
}

/* Engine-built batch of commands seqs[0..n) of submitter sub (8 bytes each). */
static uint32_t
seq_batch(uint8_t *bytes, uint32_t sub, const uint64_t *seqs, uint32_t n, struct bpc_vid *vid)
{
    memset(bytes, 0, BPC_BATCH_HEADER_BYTES);
    bytes[0] = (uint8_t)n;
    uint32_t off = BPC_BATCH_HEADER_BYTES;
    for (uint32_t k = 0; k < n; k++) {
        uint8_t *c = bytes + off;
        bpc_le16_store(c, (uint16_t)sub);
        bpc_le16_store(c + 2, 8);
        bpc_le64_store(c + 4, seqs[k]);
        memset(c + BPC_BATCH_CMD_HEADER_BYTES, (int)(0x40 + (seqs[k] & 0xf)), 8);
        off += BPC_BATCH_CMD_HEADER_BYTES + 8;
    }
    bpc_vid_of(vid, bytes, off);
    return off;
}

/* Goal: command numbers that pass 2^40 within a run stay in order. The
 * submission ring is set 3 commands short of 2^40 (2^40 commands cannot
 * be submitted in a test); four commands get numbers 2^40 - 2 .. 2^40 + 1.
 * The last reads as a later incarnation's first, which follows any
 * earlier number. A Byzantine leader proposes the first two, then the
 * fourth alone. Before, the engine had the fourth in its own list, voted
 * for it, applied it after the second and reported the third APPLIED,
 * though no value held it; a later value holding it skipped it (this
 * stop's own review, seq_cross). Now the fourth waits in the ring until
 * the third is applied: no MAC or FORWARD of it exists, the engine holds
 * the value back, and the third stays PENDING. */
static void
test_command_numbers_cross_in_order(void **state)
{
    (void)state;
    struct fx *f = fx_new(64, 1024);
    uint64_t b = 7;
    while (fx_leader(f, b) == (int)f->me) {
        b++;
    }
    fx_to_ballot(f, b);
    const uint64_t x = (uint64_t)1 << 40;
    struct eng_submit_state *sub = &f->e->sub;
    sub->ring_head = x - 3;
    atomic_store(&sub->ring_tail, x - 3);
    for (uint64_t i = 0; i <= sub->cmd_mask; i++) {
        atomic_store(&sub->ring[(x - 3 + i) & sub->cmd_mask].seq, x - 3 + i);
    }
    sub->applied_hi[f->me] = x - 3;
    atomic_store(&sub->applied_own, x - 3);
    uint64_t t[4];
    for (uint32_t k = 0; k < 4; k++) {
        uint8_t cmd[8];
        memset(cmd, (int)(0x40 + ((x - 2 + k) & 0xf)), sizeof(cmd));
        assert_int_equal(bpc_submit(f->e, cmd, sizeof(cmd), &t[k]), 0);
        assert_int_equal(t[k], x - 2 + k);
    }
    fx_step(f, NULL, 0);
    uint8_t b01[256];
    uint8_t b3[256];
    struct bpc_vid v01;
    struct bpc_vid v3;
    (void)seq_batch(b01, f->me, t, 2, &v01);
    (void)seq_batch(b3, f->me, &t[3], 1, &v3);
    fx_vote(f, 0, b, &v01, b01);
    for (uint32_t k = 0; k < 2; k++) {
        fx_send1(f, fx_other(f, k), bpc_record_make(BPC_MSG_2B, 0, b, 0, &v01));
    }
    assert_int_equal(bpc_ticket_status(f->e, t[1]), BPC_TICKET_APPLIED);
    struct bpc_record a = bpc_record_make(BPC_MSG_2A, 1, b, 0, &v3);
    a.value_bytes = v3.kind == BPC_VALUE_DIGEST ? b3 : NULL;
    fx_send1(f, (uint32_t)fx_leader(f, b), a);
    print_message("own commands pending %llu; a value of the fourth alone: 2av %s\n",
                  (unsigned long long)(sub->own_tail - sub->own_head),
                  fx_find(f, 0, BPC_MSG_2AV, 1, b) >= 0 ? "sent" : "held");
    assert_true(fx_find(f, 0, BPC_MSG_2AV, 1, b) < 0);
    assert_int_equal(sub->own_tail - sub->own_head, 1); /* the third; the fourth in the ring */
    assert_int_equal(bpc_ticket_status(f->e, t[2]), BPC_TICKET_PENDING);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_undurable_2b_not_applied),
        cmocka_unit_test(test_own_2b_applied_after_persisted),
        cmocka_unit_test(test_no_batch_while_one_waits),
        cmocka_unit_test(test_last_incarnation_refused_at_start),
        cmocka_unit_test(test_gate_holds_after_a_later_vote),
        cmocka_unit_test(test_frame_numbers_stay_above_after_restart),
        cmocka_unit_test(test_command_numbers_cross_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
