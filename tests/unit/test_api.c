/*
 * test_api.c - misuse of libbpcon's public calls is an error the caller
 * sees (-EINVAL), never an assertion or a crash: a step's arguments, the
 * decided log's writer and reader, the digests.
 *
 * Method: a one-party engine stepped directly, and a small decided log.
 * Must never: rely on timing other than the virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "bpcon.h"

#define API_MS UINT64_C(1000000)

static uint8_t api_keys[1][BPC_KEY_BYTES];

static struct bpc_engine *
api_engine(void)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])api_keys;
    char err[256];
    struct bpc_engine *e = NULL;
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(e, 10 * API_MS), 0);
    return e;
}

/* Goal: bpc_engine_step refuses, doing nothing, arguments a caller got
 * wrong: in or out NULL, frames NULL with a count, a frame with no bytes
 * but a length, out arrays NULL with a cap, a clock gone back. Before,
 * each crashed or aborted (the store review's apimisuse). A lent buffer
 * with no bytes is one too small (-EMSGSIZE), and a frame of no bytes and
 * no length is dropped as short. */
static void
test_step_misuse_refused(void **state)
{
    (void)state;
    struct bpc_engine *e = api_engine();
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_out fo = {.bytes = buf, .cap = sizeof(buf)};
    struct bpc_step_out out = {.frames = &fo, .frames_cap = 1};
    struct bpc_step_in in = {.now_ns = 20 * API_MS};
    assert_int_equal(bpc_engine_step(NULL, &in, &out), -EINVAL);
    assert_int_equal(bpc_engine_step(e, NULL, &out), -EINVAL);
    assert_int_equal(bpc_engine_step(e, &in, NULL), -EINVAL);
    in.frames_count = 3;
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    struct bpc_frame_in f = {.bytes = NULL, .len = 100};
    in.frames = &f;
    in.frames_count = 1;
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    in.frames_count = 0;
    out.frames = NULL;
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    out.frames = &fo;
    out.decisions_cap = 4;
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    out.decisions_cap = 0;
    assert_int_equal(bpc_engine_step(e, &in, &out), 0);
    in.now_ns = 19 * API_MS; /* back in time */
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    in.now_ns = 21 * API_MS;
    f.len = 0;
    in.frames_count = 1;
    uint64_t shorts = bpc_engine_counters(e)->drops[BPC_DROP_SHORT];
    assert_true(bpc_engine_step(e, &in, &out) >= 0);
    assert_int_equal(bpc_engine_counters(e)->drops[BPC_DROP_SHORT], shorts + 1);
    /* A command to send, into a lent buffer without bytes. */
    assert_int_equal(bpc_submit(e, (const uint8_t *)"x", 1, NULL), 0);
    fo.bytes = NULL;
    in.frames_count = 0;
    in.now_ns = 22 * API_MS;
    int rc = bpc_engine_step(e, &in, &out);
    assert_true(rc == -EMSGSIZE || rc == 0); /* a lone party may have nothing to send */
    assert_int_equal(out.frames_count, 0);
    bpc_engine_free(e);
}

/* Goal: the decided log's writer and reader refuse misuse: a NULL log,
 * bytes NULL with a length, an index that is not the next, a NULL out or
 * buffer. Before, each aborted. */
static void
test_log_misuse_refused(void **state)
{
    (void)state;
    urcu_qsbr_register_thread();
    struct bpc_log_config lc = {
        .segment_entries = 4, .retain_entries = 8, .value_bytes_max = 64, .start_index = 0};
    struct bpc_log *log = NULL;
    assert_int_equal(bpc_log_new(&log, &lc), 0);
    assert_int_equal(bpc_log_append(NULL, 0, (const uint8_t *)"a", 1, false, 0), -EINVAL);
    assert_int_equal(bpc_log_append(log, 0, NULL, 5, false, 0), -EINVAL);
    assert_int_equal(bpc_log_append(log, 1, (const uint8_t *)"a", 1, false, 0), -EINVAL);
    assert_int_equal(bpc_log_append(log, 0, (const uint8_t *)"abc", 3, false, 0), 0);
    assert_int_equal(bpc_log_append(log, 0, (const uint8_t *)"abc", 3, false, 0), -EINVAL);
    struct bpc_log_entry ent;
    assert_int_equal(bpc_log_read(log, 0, NULL), -EINVAL);
    assert_int_equal(bpc_log_read(NULL, 0, &ent), -EINVAL);
    assert_int_equal(bpc_log_copy(log, 0, NULL, 10, NULL), -EINVAL);
    uint8_t b[8];
    assert_int_equal(bpc_log_copy(log, 0, b, sizeof(b), NULL), 3);
    bpc_log_free(log);
    urcu_qsbr_unregister_thread();
}

/* Goal: the digests refuse what they cannot take. Before, more parties
 * than BPC_PARTIES_MAX aborted bpc_config_digest, and NULL ids with a
 * count crashed bpc_votes_digest. */
static void
test_digest_misuse_refused(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    uint8_t d[BPC_DIGEST_BYTES];
    assert_int_equal(bpc_config_digest(&cfg, d), 0);
    cfg.parties_count = BPC_PARTIES_MAX + 1;
    assert_int_equal(bpc_config_digest(&cfg, d), -EINVAL);
    assert_int_equal(bpc_config_digest(NULL, d), -EINVAL);
    assert_int_equal(bpc_votes_digest(1, 0, 3, NULL, d), -EINVAL);
    assert_int_equal(bpc_votes_digest(1, 0, BPC_VOTES_RUN_MAX + 1, NULL, d), -EINVAL);
    assert_int_equal(bpc_votes_digest(1, 0, 0, NULL, d), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_misuse_refused),
        cmocka_unit_test(test_log_misuse_refused),
        cmocka_unit_test(test_digest_misuse_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
