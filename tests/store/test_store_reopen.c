/*
 * test_store_reopen.c - what a writer exports is what a reopen of its file
 * recovers (libbpcon-store).
 *
 * Goal: the live records and values a writer hands out (bpc_store_records,
 * bpc_store_values) just before it closes are exactly those a reopen of
 * the same file loads, whatever the order of its commits: decided records
 * in the commit that moves the floor past their instance or in a later
 * one, values named again by a decided record after the floor passed
 * them, compactions at any point. The values a writer no longer keeps go
 * at the same commits in the writer and in a recovery.
 * Method: the in-memory file system (memfs.c); one scripted sequence (a
 * review's value_lost_on_reopen) and random engine-shaped commits from a
 * printed seed (BPC_TEST_SEED replays one). Must never: read the store's
 * internals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fx.h"

#define TR_VALUES 64u
#define TR_MAX 4096u

static uint8_t tr_bytes[TR_VALUES][200];

/* Value k: a DIGEST of 40 + k bytes (pattern k). */
static struct bpc_vid
tr_vid(uint32_t k)
{
    struct bpc_vid v;
    bpc_vid_of(&v, tr_bytes[k], 40u + k);
    return v;
}

static struct bpc_durable_value
tr_value(uint64_t instance, uint32_t k)
{
    return (struct bpc_durable_value){.instance = instance, .vid = tr_vid(k), .bytes = tr_bytes[k]};
}

/* The decided record of instance i naming vid at ballot 1, carrying the
 * party-wide floor (kept for the ring's 2W + 256 instances past i). */
static struct bpc_durable
tr_decided_rec(uint64_t floor, uint64_t i, struct bpc_vid vid)
{
    struct bpc_durable d = ts_party(floor);
    d.instance = i;
    d.decided = 1;
    d.dec_bal = 1;
    d.dec_keep = i + 2 * TS_WINDOW + 256;
    d.dec_val = vid;
    return d;
}

static void
tr_fill(void)
{
    for (uint32_t k = 0; k < TR_VALUES; k++) {
        for (uint32_t j = 0; j < sizeof(tr_bytes[k]); j++) {
            tr_bytes[k][j] = (uint8_t)(k * 31u + j);
        }
    }
}

/* A store's exports, values in (instance, identity) order with their
 * bytes copied. */
struct tr_snap {
    uint32_t n, nv;
    struct bpc_durable r[TR_MAX];
    struct bpc_durable_value v[TR_MAX];
    uint8_t vb[TR_MAX][200];
};

static int
tr_value_order(const void *a, const void *b)
{
    const struct bpc_durable_value *x = a;
    const struct bpc_durable_value *y = b;
    if (x->instance != y->instance) {
        return x->instance < y->instance ? -1 : 1;
    }
    return memcmp(&x->vid, &y->vid, sizeof(x->vid));
}

static void
tr_take(struct bpc_store *s, struct tr_snap *t)
{
    const struct bpc_durable *r = NULL;
    t->n = bpc_store_records(s, &r);
    assert_true(t->n <= TR_MAX);
    memcpy(t->r, r, t->n * sizeof(*r));
    const struct bpc_durable_value *v = NULL;
    t->nv = bpc_store_values(s, &v);
    assert_true(t->nv <= TR_MAX);
    for (uint32_t i = 0; i < t->nv; i++) {
        t->v[i] = v[i];
    }
    qsort(t->v, t->nv, sizeof(t->v[0]), tr_value_order);
    for (uint32_t i = 0; i < t->nv; i++) {
        memcpy(t->vb[i], t->v[i].bytes, t->v[i].vid.len);
        t->v[i].bytes = t->vb[i];
    }
}

static void
tr_expect_same(const struct tr_snap *a, const struct tr_snap *b, const char *when)
{
    if (a->n != b->n || a->nv != b->nv) {
        print_error("%s: before the reopen %u records %u values, after %u and %u\n", when, a->n,
                    a->nv, b->n, b->nv);
    }
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->nv, b->nv);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_true(ts_rec_eq(&a->r[i], &b->r[i]));
    }
    for (uint32_t i = 0; i < a->nv; i++) {
        assert_int_equal(tr_value_order(&a->v[i], &b->v[i]), 0);
        assert_memory_equal(a->v[i].bytes, b->v[i].bytes, a->v[i].vid.len);
    }
}

static struct tr_snap tr_a, tr_b;

/* Closes s, reopens the file and checks the exports did not change. */
static void
tr_reopen(struct bpc_store **s, const struct bpc_config *cfg, const struct bpc_store_options *o,
          const char *when)
{
    char err[512] = "";
    tr_take(*s, &tr_a);
    bpc_store_close(*s);
    assert_int_equal(bpc_store_open(s, TS_PATH, cfg, o, err, sizeof(err)), 0);
    tr_take(*s, &tr_b);
    tr_expect_same(&tr_a, &tr_b, when);
}

static void
tr_commit(struct bpc_store *s, const struct bpc_durable *r, uint32_t n,
          const struct bpc_durable_value *v, uint32_t nv)
{
    assert_int_equal(bpc_store_append(s, r, n), 0);
    if (nv > 0) {
        assert_int_equal(bpc_store_append_values(s, v, nv), 0);
    }
    assert_int_equal(bpc_store_sync(s), 0);
}

/* Goal: a value V appended with instance 5's vote, the floor then moving
 * past 5 with no decided record naming V, 70 more values, then the
 * decided record of 5 naming V without its bytes: the writer and a
 * reopen agree on whether V is still there. Before: the writer exported
 * V (its arrays had room) and a reopen did not (a recovery's arrays
 * filled, and pruned, at another point): "before the reopen 3 records 71
 * values, after 3 and 70". */
static void
test_store_reopen_after_floor_passed_a_value(void **state)
{
    (void)state;
    tr_fill();
    TS_FRESH(61, 0);
    struct bpc_durable r[2] = {ts_party(0), ts_party(0)};
    struct bpc_durable_value v[100];
    for (uint32_t k = 0; k < 100; k++) {
        v[k] = tr_value(2 + k / TR_VALUES, k % TR_VALUES); /* the arrays grow past 64 */
    }
    tr_commit(s, r, 1, v, 100);
    /* ... then a compaction empties them (named by nothing) */
    assert_int_equal(bpc_store_compact(s), 0);
    struct bpc_vid big = tr_vid(63);
    r[1].instance = 5;
    r[1].max_vbal = 1;
    r[1].max_vval = big;
    v[0] = tr_value(5, 63);
    tr_commit(s, r, 2, v, 1);
    r[0] = ts_party(6); /* the floor passes 5 */
    tr_commit(s, r, 1, NULL, 0);
    for (uint32_t k = 0; k < 70; k++) {
        v[k] = tr_value(6 + k / TR_VALUES, k % TR_VALUES);
    }
    tr_commit(s, r, 1, v, 70);
    struct bpc_durable d = tr_decided_rec(6, 5, big);
    d.max_vbal = 1;
    d.max_vval = big;
    r[1] = d; /* names V again, without its bytes */
    tr_commit(s, r, 2, NULL, 0);
    tr_reopen(&s, &cfg, &o, "scripted");
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: fields a record's kind does not keep (a vote record's dec_*, a
 * decided record's history places) are not handed out by the writer
 * either: its export after the append is what a reopen loads. Before
 * (review B9's F1), the writer exported them as given and a reopen as
 * zero: "inst 6 dec_bal 3 dec_keep 9" against "dec_bal 0 dec_keep 0". */
static void
test_store_reopen_unkept_fields(void **state)
{
    (void)state;
    tr_fill();
    TS_FRESH(63, 0);
    struct bpc_durable r[3] = {ts_party(5), ts_party(5), ts_party(5)};
    r[1].instance = 6; /* a vote record carrying a decision's fields */
    r[1].max_vbal = 1;
    r[1].max_vval = ts_vid(1);
    r[1].dec_bal = 3;
    r[1].dec_keep = 9;
    r[1].dec_val = ts_vid(2);
    r[2] = tr_decided_rec(5, 3, ts_vid(3)); /* a decided record carrying a history */
    r[2].hist_bal[2] = 4;
    r[2].hist_val[2] = ts_vid(4);
    tr_commit(s, r, 3, NULL, 0);
    tr_take(s, &tr_a);
    assert_int_equal(tr_a.n, 3);
    for (uint32_t i = 0; i < tr_a.n; i++) {
        const struct bpc_durable *d = &tr_a.r[i];
        assert_true(d->decided ||
                    (d->dec_bal == 0 && d->dec_keep == 0 && d->dec_val.kind == BPC_VALUE_NONE));
        assert_true(!d->decided || (d->hist_bal[2] == 0 && d->hist_val[2].kind == BPC_VALUE_NONE));
    }
    tr_reopen(&s, &cfg, &o, "unkept fields");
    assert_int_equal(bpc_store_compact(s), 0);
    tr_reopen(&s, &cfg, &o, "unkept fields, compacted");
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a value frame whose bytes do not hash to its identity (a caller's
 * mistake: the writer takes it unhashed, a recovery skips it) does not
 * make the writer and a reopen prune at different commits: a vote for X
 * at 0 with its bytes, Y at 1 with another value's bytes (and, with
 * right_later, Y's right bytes after all), the floor past 0, 63 values at
 * 1, then the decided record of 0 naming X without its bytes. Before
 * (entries counted as taken, not frames): "wrong bytes: before the
 * reopen 2 records 0 values, after 2 and 1" (this stop's own review's
 * wrong_shift). */
static void
tr_wrong_bytes_run(bool right_later)
{
    tr_fill();
    TS_FRESH(62, 0);
    struct bpc_durable r[2] = {ts_party(0), ts_party(0)};
    r[1].instance = 0;
    r[1].max_vbal = 1;
    r[1].max_vval = tr_vid(0);
    struct bpc_durable_value x = tr_value(0, 0);
    tr_commit(s, r, 2, &x, 1);
    struct bpc_durable_value y = tr_value(1, 1);
    y.bytes = tr_bytes[2]; /* not Y's: they hash to another identity */
    tr_commit(s, r, 1, &y, 1);
    r[0] = ts_party(1);
    tr_commit(s, r, 1, NULL, 0);
    struct bpc_durable_value v[63];
    for (uint32_t k = 0; k < 63; k++) {
        v[k] = k < 62 ? tr_value(1, 2 + k) : tr_value(2, 5); /* none of them Y */
    }
    tr_commit(s, r, 1, v, 63);
    r[1] = tr_decided_rec(1, 0, tr_vid(0));
    tr_commit(s, r, 2, NULL, 0);
    if (right_later) {
        y.bytes = tr_bytes[1];
        tr_commit(s, r, 1, &y, 1);
    }
    tr_reopen(&s, &cfg, &o, "wrong bytes");
    bpc_store_close(s);
    memfs_free(&fs);
}

static void
test_store_reopen_after_wrong_bytes(void **state)
{
    (void)state;
    tr_wrong_bytes_run(false);
    tr_wrong_bytes_run(true);
}

/* Goal: a value frame with wrong bytes that survives a prune (its
 * instance at or above the floor) does not leave the writer and a reopen
 * with different survivor counts, and so with prunes at different
 * commits: V at 1 with W at 5 (another value's bytes) and 64 more in one
 * commit (a prune, all kept), the floor past 1 with 66 values, then the
 * decided record of 1 naming V without its bytes. Before (the writer
 * counted the unhashed W among the survivors, a recovery, which skipped
 * it, did not, so only the recovery pruned V): "skipped survivor: before
 * the reopen 2 records 1 values, after 2 and 0" (the second review's
 * skipped_survivors). */
static void
test_store_reopen_after_wrong_bytes_survive(void **state)
{
    (void)state;
    tr_fill();
    TS_FRESH(63, 0);
    struct bpc_durable r[2] = {ts_party(0), ts_party(0)};
    struct bpc_durable_value v[66];
    v[0] = tr_value(1, 0);
    v[1] = tr_value(5, 1);
    v[1].bytes = tr_bytes[2]; /* not its own: they hash to another identity */
    for (uint32_t k = 2; k < 66; k++) {
        v[k] = tr_value(5 + k / TR_VALUES, k % TR_VALUES);
    }
    tr_commit(s, r, 1, v, 66);
    r[0] = ts_party(3);
    for (uint32_t k = 0; k < 66; k++) {
        v[k] = tr_value(10 + k / TR_VALUES, k % TR_VALUES);
    }
    tr_commit(s, r, 1, v, 66);
    r[1] = tr_decided_rec(3, 1, tr_vid(0));
    tr_commit(s, r, 2, NULL, 0);
    tr_reopen(&s, &cfg, &o, "skipped survivor");
    bpc_store_close(s);
    memfs_free(&fs);
}

static uint64_t
tr_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The newest vote of an instance the generator wrote (by instance mod
 * TR_TRACK; the live instances span far fewer): a later vote at its
 * ballot names its value, a decided record carries it, as an engine's
 * do (bpc_store_append refuses a record that lowers it). */
#define TR_TRACK 1024u
struct tr_vote {
    uint64_t instance, vbal;
    uint32_t k;
    bool has;
};

/* One random commit shaped like the engine's (tr_round's parts). */
struct tr_gen {
    uint64_t rng, floor, bal, pend;
    bool defer; /* decided records may come in a later commit */
    struct bpc_durable r[16];
    uint32_t n;
    struct bpc_durable_value v[16];
    uint32_t nv;
    struct tr_vote last[TR_TRACK];
};

/* The newest vote g wrote for instance i, or NULL. */
static struct tr_vote *
tr_last(struct tr_gen *g, uint64_t i)
{
    struct tr_vote *t = &g->last[i % TR_TRACK];
    return t->has && t->instance == i ? t : NULL;
}

/* Decided records for the instances the floor passes (now, or with
 * defer at random in a later commit), some with their bytes. */
static void
tr_decided(struct tr_gen *g)
{
    uint64_t nf = g->floor + tr_next(&g->rng) % 3;
    if (g->defer && tr_next(&g->rng) % 2 == 0) {
        g->floor = nf;
        return;
    }
    for (uint64_t i = g->pend < g->floor ? g->pend : g->floor; i < nf && g->n < 6; i++) {
        struct bpc_durable d = ts_party(nf);
        d.instance = i;
        d.max_bal = g->bal;
        d.decided = 1;
        d.dec_bal = g->bal;
        d.dec_keep = i + 2 * TS_WINDOW + (tr_next(&g->rng) % 2 ? 256 : 3);
        uint32_t k = (uint32_t)(tr_next(&g->rng) % TR_VALUES);
        d.dec_val = tr_vid(k);
        if (tr_next(&g->rng) % 2) {
            d.max_vbal = g->bal;
            d.max_vval = d.dec_val;
        }
        const struct tr_vote *t = tr_last(g, i);
        if (t != NULL) { /* this party's own vote on it */
            d.max_vbal = t->vbal;
            d.max_vval = tr_vid(t->k);
        }
        g->r[g->n++] = d;
        if (tr_next(&g->rng) % 4 != 0) {
            g->v[g->nv++] = tr_value(i, k);
        }
    }
    g->floor = nf;
    g->pend = nf;
}

/* Votes in the window, with histories, some with their bytes. */
static void
tr_votes(struct tr_gen *g, const struct bpc_durable *pw)
{
    uint32_t votes = (uint32_t)(tr_next(&g->rng) % 4);
    for (uint32_t j = 0; j < votes; j++) {
        struct bpc_durable d = *pw;
        d.instance = g->floor + tr_next(&g->rng) % TS_WINDOW;
        uint32_t k = (uint32_t)(tr_next(&g->rng) % TR_VALUES);
        const struct tr_vote *t = tr_last(g, d.instance);
        struct tr_vote prev = t != NULL ? *t : (struct tr_vote){.has = false};
        k = prev.has && prev.vbal == g->bal ? prev.k : k; /* one 2av and one 2b a ballot */
        g->last[d.instance % TR_TRACK] =
            (struct tr_vote){.instance = d.instance, .vbal = g->bal, .k = k, .has = true};
        d.max_vbal = g->bal;
        d.max_vval = tr_vid(k);
        /* As the engine's: the 2av at this ballot first, the one before
         * it kept or not (a history drops only its lowest). */
        uint32_t keys[2] = {k, prev.k};
        d.hist_count = 1;
        d.hist_bal[0] = g->bal;
        d.hist_val[0] = tr_vid(k);
        if (prev.has && prev.vbal < g->bal && tr_next(&g->rng) % 2) {
            d.hist_count = 2;
            d.hist_bal[1] = prev.vbal;
            d.hist_val[1] = tr_vid(prev.k);
        }
        for (uint32_t h = 0; h < d.hist_count; h++) {
            if (tr_next(&g->rng) % 2) {
                g->v[g->nv++] = tr_value(d.instance, keys[h]);
            }
        }
        g->r[g->n++] = d;
        if (tr_next(&g->rng) % 4 != 0) {
            g->v[g->nv++] = tr_value(d.instance, k);
        }
    }
}

static void
tr_round(struct tr_gen *g, struct bpc_store *s)
{
    g->n = 0;
    g->nv = 0;
    if (tr_next(&g->rng) % 4 == 0) {
        tr_decided(g);
    }
    g->bal += tr_next(&g->rng) % 8 == 0 ? 1u : 0u;
    struct bpc_durable pw = ts_party(g->floor);
    pw.max_bal = g->bal;
    g->r[g->n++] = pw;
    tr_votes(g, &pw);
    for (uint32_t i = 0; i < g->nv; i++) {
        if (tr_next(&g->rng) % 32 == 0) { /* another value's bytes: they do not hash */
            g->v[i].bytes = tr_bytes[(g->v[i].vid.len - 40u + 1u) % TR_VALUES];
        }
    }
    tr_commit(s, g->r, g->n, g->v, g->nv);
}

/* Goal: random engine-shaped commits (the floor moving, votes with
 * DIGEST values and histories, decided records in the commit that
 * passes their instance or, half the time, later, values with their
 * records or not, one value in 32 with another value's bytes),
 * compactions when due and at random: at every 25th commit or so, a
 * reopen recovers exactly the writer's exports. Before, a reopen lost a
 * value the writer still exported: "run 3 round 2700: before the reopen
 * 140 records 103 values, after 140 and 102". */
static void
test_store_reopen_same_exports(void **state)
{
    (void)state;
    tr_fill();
    const char *env = getenv("BPC_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 0x6465666572ull;
    printf("  reopen seed: BPC_TEST_SEED=0x%" PRIx64 "\n", seed);
    for (uint32_t run = 0; run < 8; run++) {
        TS_FRESH(70 + run, 20000);
        struct tr_gen g = {.rng = seed * 2654435761u + run + 1u, .bal = 1, .defer = true};
        for (uint32_t round = 0; round < 4000; round++) {
            tr_round(&g, s);
            if (bpc_store_compact_due(s) || tr_next(&g.rng) % 50 == 0) {
                assert_int_equal(bpc_store_compact(s), 0);
                while (bpc_store_release(s) > 0) {
                }
            }
            if (tr_next(&g.rng) % 25 == 0) {
                char when[64];
                snprintf(when, sizeof(when), "run %u round %u", run, round);
                tr_reopen(&s, &cfg, &o, when);
            }
        }
        bpc_store_close(s);
        memfs_free(&fs);
    }
}

/* Goal: a value whose bytes do not hash, named by a live vote, is gone
 * from the writer after a compaction as from the compacted file: X at 0
 * with its bytes, Y at 1 with another value's bytes, a compaction, 63
 * more values (a prune at the writer's sync), the floor past 0 with one
 * more, then the decided record of 0 naming X without its bytes. Before
 * (the image wrote the export, which leaves Y out, while the writer kept
 * Y: one survivor more, so the two pruned at different commits): "after
 * a compaction: before the reopen 3 records 1 values, after 3 and 0"
 * (own review F's probe_store_compact). */
static void
test_store_reopen_after_compacting_wrong_bytes(void **state)
{
    (void)state;
    tr_fill();
    TS_FRESH(62, 0);
    struct bpc_durable r[3] = {ts_party(0), ts_party(0), ts_party(0)};
    for (uint32_t k = 0; k < 2; k++) {
        r[1 + k].instance = k;
        r[1 + k].max_vbal = 1;
        r[1 + k].max_vval = tr_vid(k);
    }
    struct bpc_durable_value xy[2] = {tr_value(0, 0), tr_value(1, 1)};
    xy[1].bytes = tr_bytes[2]; /* not Y's */
    tr_commit(s, r, 3, xy, 2);
    assert_int_equal(bpc_store_compact(s), 0);
    struct bpc_durable_value v[63];
    for (uint32_t k = 0; k < 63; k++) {
        v[k] = tr_value(1 + (2 + k) / TR_VALUES, (2 + k) % TR_VALUES); /* 64 identities */
    }
    tr_commit(s, r, 1, v, 63);
    r[0] = ts_party(1); /* the floor passes 0 */
    struct bpc_durable_value z = tr_value(2, 3);
    tr_commit(s, r, 1, &z, 1);
    r[1] = tr_decided_rec(1, 0, tr_vid(0));
    tr_commit(s, r, 2, NULL, 0);
    tr_reopen(&s, &cfg, &o, "after a compaction");
    bpc_store_close(s);
    memfs_free(&fs);
}

/* Goal: a record that lowers the floor leaves the writer and a reopen
 * with one floor after a compaction, and a vote synced between the two
 * floors survives the next compaction: the floor 8, then a party-wide
 * record of floor 3, a compaction, a vote at instance 5 (floor 3), a
 * reopen, a compaction, a reopen. Before, the writer kept floor 8 and
 * dropped the vote a reopen loaded, and its next compaction erased it:
 * "floor lowered: before the reopen 1 records 0 values, after 2 and 0"
 * (review B3's probe_floor_lowered). No engine lowers its floor. */
static void
test_store_reopen_after_the_floor_fell(void **state)
{
    (void)state;
    tr_fill();
    TS_FRESH(63, 0);
    struct bpc_durable r = ts_party(8);
    tr_commit(s, &r, 1, NULL, 0);
    r = ts_party(3);
    tr_commit(s, &r, 1, NULL, 0);
    assert_int_equal(bpc_store_compact(s), 0);
    struct bpc_durable vote = ts_party(3);
    vote.instance = 5;
    vote.max_vbal = 1;
    vote.max_vval = tr_vid(1);
    tr_commit(s, &vote, 1, NULL, 0);
    tr_reopen(&s, &cfg, &o, "floor lowered");
    assert_int_equal(bpc_store_compact(s), 0);
    tr_reopen(&s, &cfg, &o, "floor lowered, compacted again");
    const struct bpc_durable *live = NULL;
    assert_int_equal(bpc_store_records(s, &live), 2); /* the vote is still there */
    bpc_store_close(s);
    memfs_free(&fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_reopen_after_floor_passed_a_value),
        cmocka_unit_test(test_store_reopen_same_exports),
        cmocka_unit_test(test_store_reopen_unkept_fields),
        cmocka_unit_test(test_store_reopen_after_wrong_bytes),
        cmocka_unit_test(test_store_reopen_after_wrong_bytes_survive),
        cmocka_unit_test(test_store_reopen_after_compacting_wrong_bytes),
        cmocka_unit_test(test_store_reopen_after_the_floor_fell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
