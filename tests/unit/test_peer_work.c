/*
 * test_peer_work.c - one engine against scripted peers (fx.h): what a
 * Byzantine peer's frame can make a correct party do stays within a
 * small factor of what the protocol asks anyway. A frame of settled runs
 * with any tag is looked at up to two full runs before its tag is checked
 * (docs/ENGINE.md, "Settled frames").
 *
 * Method: the fixture of fx.h (one engine, party `me` of four, stepped
 * directly; the other three parties are the test); the work is read off
 * the records the engine sends to `watch` and its counters, never timed.
 * Must never: edit engine state, or rely on timing other than the
 * virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <string.h>

#include "bpcon.h"
#include "core.h"
#include "internal.h"

#include "fx.h"

#define PW_RUN 64u /* a full run */

/* The peers other than l, in order (two of them). */
static void
pw_others(const struct fx *f, uint32_t l, uint32_t out[2])
{
    for (uint32_t i = 0, k = 0; i < f->n - 1; i++) {
        if (fx_other(f, i) != l) {
            out[k++] = fx_other(f, i);
        }
    }
}

/* A frame from `from` of `runs` VOTES 2av runs over instances 0 to
 * PW_RUN - 1 at ballot 1, tagged with `key`: settled before its tag is
 * checked (true), or judged by its tag. */
static bool
pw_settled_frame(struct fx *f, uint32_t from, const uint8_t *key, const struct bpc_vid *v,
                 uint32_t runs)
{
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_record recs[3];
    for (uint32_t k = 0; k < runs; k++) {
        recs[k] = fx_votes(BPC_MSG_2AV, 0, 1, v, PW_RUN);
    }
    uint32_t len = fx_frame(f, from, recs, runs, key, buf);
    struct bpc_counters before = *bpc_engine_counters(f->e);
    struct bpc_frame_in in = {.bytes = buf, .len = len};
    fx_step(f, &in, 1);
    const struct bpc_counters *after = bpc_engine_counters(f->e);
    return after->frames_settled == before.frames_settled + 1;
}

/* Goal: a frame of settled runs is dropped before its tag is checked
 * only while its runs add at most two full runs of instances to look at;
 * past that its tag is checked first, and a forged one is a bad tag.
 * Before, every run was looked at: 139 runs of 64 with any tag made the
 * engine look at 8,896 slots before dropping the frame (review E7's F2:
 * 122 to 159 thousand instructions a frame against 42 thousand for a
 * forged frame's tag check). */
static void
test_settled_runs_looked_at_up_to_a_bound(void **state)
{
    (void)state;
    struct fx *f = fx_new(PW_RUN, 256);
    uint32_t l1 = (uint32_t)fx_leader(f, 1);
    uint32_t peers[2];
    pw_others(f, l1, peers);
    struct bpc_vid v[PW_RUN];
    for (uint32_t i = 0; i < PW_RUN; i++) {
        uint8_t bytes[64];
        fx_batch(bytes, l1, 1u + i, 8, (uint8_t)i, &v[i]);
        fx_vote(f, i, 1, &v[i], bytes); /* maxVBal 1: a 2av at 1 is settled */
    }
    /* Two runs, forged: settled, no drop. */
    uint64_t bad = bpc_engine_counters(f->e)->drops[BPC_DROP_BAD_TAG];
    assert_true(pw_settled_frame(f, peers[0], f->keys[peers[1]], v, 2));
    assert_int_equal(bpc_engine_counters(f->e)->drops[BPC_DROP_BAD_TAG], bad);
    /* Three, forged: its tag is checked first. */
    bool settled = pw_settled_frame(f, peers[0], f->keys[peers[1]], v, 3);
    print_message("a forged frame of 3 settled runs of %u: %s, bad tags %llu\n", PW_RUN,
                  settled ? "settled" : "checked",
                  (unsigned long long)(bpc_engine_counters(f->e)->drops[BPC_DROP_BAD_TAG] - bad));
    assert_false(settled);
    assert_int_equal(bpc_engine_counters(f->e)->drops[BPC_DROP_BAD_TAG], bad + 1);
    /* Three, genuine: checked, then applied as settled votes (no drop). */
    assert_false(pw_settled_frame(f, peers[0], f->keys[peers[0]], v, 3));
    assert_int_equal(bpc_engine_counters(f->e)->drops[BPC_DROP_BAD_TAG], bad + 1);
    fx_delete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settled_runs_looked_at_up_to_a_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
