/*
 * test_api.c - misuse of libbpcon's public calls is an error the caller
 * sees (-EINVAL), never an assertion or a crash: a step's arguments, the
 * decided log's writer and reader, the digests, and NULL at every public
 * engine, configuration, wire, authentication and log entry point.
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

#include <sodium.h>
#include <urcu/urcu-qsbr.h>

#include "bpcon.h"

#define API_MS UINT64_C(1000000)

static uint8_t api_keys[1][BPC_KEY_BYTES];

/* A started one-party engine; batch_max 0: the default. */
static struct bpc_engine *
api_engine_batch(uint32_t batch_max)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])api_keys;
    if (batch_max != 0) {
        cfg.batch_max = batch_max;
    }
    char err[256];
    struct bpc_engine *e = NULL;
    assert_int_equal(bpc_engine_new(&e, &cfg, err, sizeof(err)), 0);
    assert_int_equal(bpc_engine_start(e, 10 * API_MS), 0);
    return e;
}

static struct bpc_engine *
api_engine(void)
{
    return api_engine_batch(0);
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
    /* A batch of persist records waits: a step does nothing until it is
     * confirmed. */
    if (out.persist_count > 0) {
        assert_int_equal(bpc_engine_step(e, &in, &out), -EBUSY);
        assert_int_equal(out.persist_count, 0);
        bpc_engine_persisted(e);
    }
    in.now_ns = 19 * API_MS; /* back in time */
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    in.now_ns = 21 * API_MS;
    f.len = 0;
    in.frames_count = 1;
    uint64_t shorts = bpc_engine_counters(e)->drops[BPC_DROP_SHORT];
    assert_true(bpc_engine_step(e, &in, &out) >= 0);
    bpc_engine_persisted(e);
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

/* Goal: a second bpc_engine_start on a started engine returns -EBUSY and
 * does nothing: the clock, the ballot and the counters stay as the first
 * start and the steps left them. Before, BPC_ASSERT(!e->started) aborted
 * the process ("bpcon: assertion failed: !e->started (engine.c:667)"). */
static void
test_start_twice_refused(void **state)
{
    (void)state;
    struct bpc_engine *e = api_engine(); /* started at 10 ms */
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_out fo = {.bytes = buf, .cap = sizeof(buf)};
    struct bpc_step_out out = {.frames = &fo, .frames_cap = 1};
    struct bpc_step_in in = {.now_ns = 20 * API_MS};
    assert_true(bpc_engine_step(e, &in, &out) >= 0);
    bpc_engine_persisted(e);
    uint64_t started = bpc_engine_counters(e)->ballots_started;
    assert_int_equal(bpc_engine_start(e, 5 * API_MS), -EBUSY);
    assert_int_equal(bpc_engine_start(e, 30 * API_MS), -EBUSY);
    assert_int_equal(bpc_engine_ballot(e), 1);
    assert_int_equal(bpc_engine_counters(e)->ballots_started, started);
    in.now_ns = 15 * API_MS; /* still before the last step: the clock was kept */
    assert_int_equal(bpc_engine_step(e, &in, &out), -EINVAL);
    in.now_ns = 21 * API_MS;
    assert_true(bpc_engine_step(e, &in, &out) >= 0);
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

/* Goal: registering a log thread twice, or unregistering one that is
 * not registered, does nothing: the thread stays a working reader and
 * can register again after its one unregister. Before, the first
 * unregister (never registered) aborted in liburcu's assertion
 * `URCU_TLS(urcu_qsbr_reader).registered', and so did a second register
 * (`URCU_TLS(urcu_qsbr_reader).ctr == 0'): the whole test binary died. */
static void
test_log_thread_register_idempotent(void **state)
{
    (void)state;
    bpc_log_thread_unregister(); /* never registered */
    bpc_log_thread_register();
    bpc_log_thread_register();
    struct bpc_log_config lc = {
        .segment_entries = 4, .retain_entries = 8, .value_bytes_max = 64, .start_index = 0};
    struct bpc_log *log = NULL;
    assert_int_equal(bpc_log_new(&log, &lc), 0);
    for (uint64_t i = 0; i < 20; i++) { /* retires segments: grace periods */
        assert_int_equal(bpc_log_append(log, i, (const uint8_t *)"abc", 3, false, 0), 0);
        bpc_log_quiescent();
    }
    struct bpc_log_entry ent;
    assert_int_equal(bpc_log_read(log, 19, &ent), 0);
    assert_int_equal(ent.len, 3);
    bpc_log_quiescent();
    bpc_log_free(log);
    bpc_log_thread_unregister();
    bpc_log_thread_unregister(); /* already unregistered */
    bpc_log_thread_register();
    bpc_log_quiescent();
    bpc_log_thread_unregister();
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

/* Goal: every public engine call given a NULL engine returns its
 * documented "nothing" (-EINVAL, 0, NULL, BPC_TICKET_UNKNOWN,
 * BPC_STATUS_NONE) and does nothing. Before, each crashed (review E's
 * nullapi: SEGV in engine.c, persist.c, submit.c, ballot.h, window.h). */
static void
test_engine_null_refused(void **state)
{
    (void)state;
    print_message("engine calls with a NULL engine\n");
    uint64_t t = 7;
    assert_int_equal(bpc_engine_restore(NULL, NULL, 0), -EINVAL);
    assert_int_equal(bpc_engine_restore_values(NULL, NULL, 0), -EINVAL);
    assert_int_equal(bpc_engine_start(NULL, 0), -EINVAL);
    bpc_engine_persisted(NULL);
    assert_int_equal(bpc_submit(NULL, (const uint8_t *)"x", 1, &t), -EINVAL);
    assert_int_equal(t, 7);
    assert_int_equal(bpc_ticket_status(NULL, 1), BPC_TICKET_UNKNOWN);
    assert_false(bpc_ticket_done(NULL, 1));
    assert_int_equal(bpc_engine_ballot(NULL), 0);
    assert_int_equal(bpc_engine_leader(NULL), -EINVAL);
    assert_int_equal(bpc_engine_next_undecided(NULL), 0);
    assert_int_equal(bpc_engine_status(NULL, 0), BPC_STATUS_NONE);
    assert_int_equal(bpc_engine_events(NULL), 0);
    assert_null(bpc_engine_counters(NULL));
    assert_true(bpc_engine_faulty_weight(NULL) == 0u);
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.self = 0;
    cfg.keys = (const uint8_t(*)[BPC_KEY_BYTES])api_keys;
    struct bpc_engine *e = NULL;
    char err[128] = "";
    assert_int_equal(bpc_engine_new(NULL, &cfg, err, sizeof(err)), -EINVAL);
    assert_int_equal(bpc_engine_new(&e, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "NULL"));
    assert_int_equal(bpc_engine_init(&e, NULL, 0, NULL, NULL, 0), -EINVAL);
    assert_null(e);
}

/* Goal: the configuration, election, value and formatting helpers take
 * NULL: -EINVAL, 0, false, NULL or an identity of kind NONE. Before:
 * assertion aborts (bpc_config_validate, bpc_elect_leader, bpc_vid_of)
 * or SEGV (bpc_engine_footprint, the weights, bpc_command_bytes_max,
 * bpc_vid_eq, bpc_u128_str). */
static void
test_config_value_null_refused(void **state)
{
    (void)state;
    print_message("configuration, election, value helpers with NULL\n");
    char err[64] = "x";
    assert_int_equal(bpc_config_validate(NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "NULL"));
    assert_int_equal(bpc_engine_footprint(NULL), 0);
    assert_int_equal(bpc_engine_footprint_parts(NULL, NULL, 4), 0);
    assert_true(bpc_config_total_weight(NULL) == 0u);
    assert_true(bpc_config_threshold(NULL) == 0u);
    assert_int_equal(bpc_command_bytes_max(NULL), 0);
    uint8_t digest[BPC_DIGEST_BYTES] = {0};
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    assert_int_equal(bpc_elect_leader(NULL, digest, 1), -EINVAL);
    assert_int_equal(bpc_elect_leader(&cfg, NULL, 1), -EINVAL);
    struct bpc_footprint_part parts[2];
    assert_true(bpc_engine_footprint_parts(&cfg, NULL, 2) > 0); /* no parts written */
    assert_true(bpc_engine_footprint_parts(&cfg, parts, 2) > 0);
    bpc_vid_of(NULL, (const uint8_t *)"abc", 3);
    struct bpc_vid v;
    memset(&v, 0xff, sizeof(v));
    bpc_vid_of(&v, NULL, 40);
    assert_int_equal(v.kind, BPC_VALUE_NONE);
    assert_int_equal(v.len, 0);
    assert_false(bpc_vid_eq(NULL, NULL));
    assert_false(bpc_vid_eq(&v, NULL));
    assert_null(bpc_u128_str(5, NULL));
}

/* Goal: a value's identity is the BLAKE2b-256 digest of its bytes, as
 * crypto_generichash gives it, at every length around BLAKE2b's 128-byte
 * block and up to the largest value, called again and again (the engine
 * digests from a state it set up once and copies: value.c). */
static void
test_vid_digest_is_blake2b(void **state)
{
    (void)state;
    static uint8_t bytes[BPC_VALUE_BYTES_MAX];
    for (uint32_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (uint8_t)(i * 131u + 7u);
    }
    const uint32_t lens[] = {BPC_VALUE_INLINE_MAX + 1, 64, 80, 127, 128, 129, 255, 256, 257, 1000,
                             BPC_VALUE_BYTES_MAX};
    for (uint32_t round = 0; round < 3; round++) {
        for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            bytes[0] = (uint8_t)round;
            struct bpc_vid v;
            bpc_vid_of(&v, bytes, lens[k]);
            uint8_t want[BPC_DIGEST_BYTES];
            assert_int_equal(crypto_generichash(want, sizeof(want), bytes, lens[k], NULL, 0), 0);
            assert_int_equal(v.kind, BPC_VALUE_DIGEST);
            assert_int_equal(v.len, lens[k]);
            assert_memory_equal(v.id, want, sizeof(want));
        }
    }
}

/* Goal: bpc_command_bytes_max gives no size for a configuration the
 * engine refuses, as bpc_engine_footprint gives none. Before, a value of
 * 2^31 bytes (refused: above BPC_VALUE_BYTES_MAX) gave a command of
 * about 2 GB. */
static void
test_command_max_of_refused_config(void **state)
{
    (void)state;
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.parties_count = 1;
    cfg.self = 0;
    uint32_t ok = bpc_command_bytes_max(&cfg);
    assert_true(ok > 0 && ok < cfg.value_bytes_max);
    cfg.value_bytes_max = UINT32_C(1) << 31;
    assert_int_equal(bpc_engine_footprint(&cfg), 0);
    assert_int_equal(bpc_command_bytes_max(&cfg), 0);
    bpc_config_defaults(&cfg);
    cfg.parties_count = 0;
    assert_int_equal(bpc_command_bytes_max(&cfg), 0); /* no parties */
}

/* Goal: bpc_config_defaults(NULL) does nothing, like the other
 * configuration helpers given NULL; a real configuration still gets the
 * defaults. Before (the second store review's misuse battery), it
 * aborted: "assertion failed: cfg != NULL". */
static void
test_config_defaults_null_ignored(void **state)
{
    (void)state;
    print_message("bpc_config_defaults with NULL\n");
    bpc_config_defaults(NULL);
    struct bpc_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    bpc_config_defaults(&cfg);
    assert_int_equal(cfg.parties_count, 4);
    assert_int_equal(bpc_config_validate(&cfg, NULL, 0), 0);
}

/* Goal: the batch iterator takes NULL: -EINVAL for a NULL value or a
 * NULL command, and still walks a real batch. Before (the store/API
 * review of this stop, batch_null), both were a SEGV. */
static void
test_batch_next_null_refused(void **state)
{
    (void)state;
    print_message("bpc_batch_next with NULL\n");
    uint8_t value[64] = {0};
    uint32_t len = BPC_BATCH_HEADER_BYTES + BPC_BATCH_CMD_HEADER_BYTES + 3;
    value[BPC_BATCH_HEADER_BYTES + 2] = 3; /* one command of 3 bytes */
    struct bpc_command c;
    assert_int_equal(bpc_batch_next(NULL, 100, 0, &c), -EINVAL);
    assert_int_equal(bpc_batch_next(NULL, 100, 8, &c), -EINVAL);
    assert_int_equal(bpc_batch_next(value, len, 0, NULL), -EINVAL);
    assert_int_equal(bpc_batch_next(value, len, 0, &c), (int)len);
    assert_int_equal(c.len, 3);
    assert_int_equal(bpc_batch_next(value, len, len, &c), 0);
}

/* Goal: the wire calls take NULL and a never begun (zeroed) writer:
 * -EINVAL, a length of 0, false, or -1 - BPC_DROP_SHORT. Before, each
 * aborted on an assertion. */
static void
test_wire_null_refused(void **state)
{
    (void)state;
    print_message("wire calls with NULL\n");
    uint8_t buf[BPC_FRAME_BYTES_MAX];
    uint8_t key[BPC_KEY_BYTES] = {0};
    struct bpc_wire_writer w;
    assert_int_equal(bpc_wire_begin(NULL, buf, sizeof(buf), 0), -EINVAL);
    assert_int_equal(bpc_wire_begin(&w, NULL, sizeof(buf), 0), -EINVAL);
    assert_false(bpc_wire_fits(&w, 1, 0));
    assert_false(bpc_wire_fits(NULL, 1, 0));
    struct bpc_record r;
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    assert_int_equal(bpc_wire_put(&w, &r), -EINVAL); /* never begun */
    assert_int_equal(bpc_wire_begin(&w, buf, sizeof(buf), 0), 0);
    assert_int_equal(bpc_wire_put(&w, NULL), -EINVAL);
    assert_int_equal(bpc_wire_put(NULL, &r), -EINVAL);
    struct bpc_frame_header h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bpc_wire_finish(&w, NULL, key), 0);
    assert_int_equal(bpc_wire_finish(&w, &h, NULL), 0);
    assert_int_equal(bpc_wire_finish(NULL, &h, key), 0);
    assert_int_equal(bpc_wire_parse_header(buf, 100, NULL), -1 - BPC_DROP_SHORT);
    assert_int_equal(bpc_wire_parse_header(NULL, 100, &h), -1 - BPC_DROP_SHORT);
    assert_false(bpc_wire_verify(NULL, 100, key));
    assert_false(bpc_wire_verify(buf, 100, NULL));
    struct bpc_record recs[2];
    assert_int_equal(bpc_wire_decode(NULL, 100, &h, recs, 2), -1 - BPC_DROP_SHORT);
    assert_int_equal(bpc_wire_decode(buf, 100, NULL, recs, 2), -1 - BPC_DROP_SHORT);
    assert_int_equal(bpc_wire_decode(buf, 100, &h, NULL, 2), -1 - BPC_DROP_SHORT);
}

/* Goal: the key, MAC and forwarding helpers and the decided log take
 * NULL (a zeroed key or MAC, an identity of kind NONE, -EINVAL, 0), and
 * a log whose next entry would wrap is refused: start_index above
 * BPC_DURABLE_FLOOR_MAX. Before: aborts or SEGV, and a log started at
 * UINT64_MAX took append(UINT64_MAX), then "next 1, first
 * 18446744073709551615" (every read -ESTALE). */
static void
test_auth_log_null_refused(void **state)
{
    (void)state;
    print_message("auth helpers and the decided log with NULL\n");
    uint8_t key[BPC_KEY_BYTES];
    memset(key, 0xff, sizeof(key));
    bpc_auth_pair_key(NULL, 0, 1, key);
    static const uint8_t zero[BPC_KEY_BYTES];
    assert_memory_equal(key, zero, sizeof(zero));
    bpc_auth_pair_key(key, 0, 1, NULL);
    uint8_t mac[BPC_CMD_MAC_BYTES];
    memset(mac, 0xff, sizeof(mac));
    bpc_command_mac(NULL, 1, (const uint8_t *)"a", 1, mac);
    assert_memory_equal(mac, zero, sizeof(mac));
    bpc_command_mac(key, 1, NULL, 5, mac);
    assert_memory_equal(mac, zero, sizeof(mac));
    struct bpc_vid v;
    memset(&v, 0xff, sizeof(v));
    bpc_forward_value(key, 1, NULL, 40, &v);
    assert_int_equal(v.kind, BPC_VALUE_NONE);
    memset(&v, 0xff, sizeof(v));
    bpc_forward_value(NULL, 1, (const uint8_t *)"0123456789012345678901234567890123456789", 40, &v);
    assert_int_equal(v.kind, BPC_VALUE_NONE);
    struct bpc_log_config lc = {.segment_entries = 4, .retain_entries = 8, .value_bytes_max = 64};
    struct bpc_log *log = NULL;
    assert_int_equal(bpc_log_new(NULL, &lc), -EINVAL);
    assert_int_equal(bpc_log_new(&log, NULL), -EINVAL);
    assert_int_equal(bpc_log_next(NULL), 0);
    assert_int_equal(bpc_log_first(NULL), 0);
    assert_int_equal(bpc_log_wait(NULL, 0, 0), -EINVAL);
    lc.start_index = UINT64_MAX;
    assert_int_equal(bpc_log_new(&log, &lc), -EINVAL);
    lc.start_index = BPC_DURABLE_FLOOR_MAX + 1u;
    assert_int_equal(bpc_log_new(&log, &lc), -EINVAL);
    lc.start_index = BPC_DURABLE_FLOOR_MAX;
    assert_int_equal(bpc_log_new(&log, &lc), 0);
    assert_int_equal(bpc_log_next(log), BPC_DURABLE_FLOOR_MAX);
    bpc_log_free(log);
}

/* Goal: a step whose decisions array is full while more instances could
 * be applied asks to be stepped again at once (next_deadline_ns = now),
 * and each such step applies one more. Before (review E1's F2), the
 * deadline was the next timer's (25 ms on), and a caller sleeping until
 * it left the decided instances unapplied that long. */
static void
test_decisions_cap_steps_again_now(void **state)
{
    (void)state;
    struct bpc_engine *e = api_engine_batch(1);
    uint8_t cmd[8] = {0};
    for (uint8_t k = 0; k < 10; k++) {
        cmd[0] = k;
        assert_int_equal(bpc_submit(e, cmd, sizeof(cmd), NULL), 0);
    }
    static uint8_t buf[4][BPC_FRAME_BYTES_MAX];
    struct bpc_frame_out fo[4];
    for (int k = 0; k < 4; k++) {
        fo[k] = (struct bpc_frame_out){.bytes = buf[k], .cap = sizeof(buf[k])};
    }
    struct bpc_decision d[1];
    struct bpc_step_in in = {.now_ns = 20 * API_MS};
    uint64_t got = 0;
    uint32_t held = 0;
    for (int step = 0; step < 200 && got < 10; step++) {
        struct bpc_step_out out = {
            .frames = fo, .frames_cap = 4, .decisions = d, .decisions_cap = 1};
        assert_true(bpc_engine_step(e, &in, &out) >= 0);
        got += out.decisions_count;
        if (out.persist_count > 0) {
            bpc_engine_persisted(e);
            continue;
        }
        if (out.decisions_count == 1 && got < 10) {
            held++;
            assert_int_equal(out.next_deadline_ns, in.now_ns);
        }
    }
    assert_int_equal(got, 10);
    assert_true(held > 0);
    bpc_engine_free(e);
}

/* Goal: every bpc_submit refused with -EAGAIN (its queue full) is counted
 * in submit_eagain, as the step after it reads. Before (review E1's F3),
 * nothing counted it: 0 after any number of refusals. */
static void
test_submit_eagain_counted(void **state)
{
    (void)state;
    struct bpc_engine *e = api_engine();
    uint8_t cmd[8] = {0};
    uint32_t taken = 0;
    while (bpc_submit(e, cmd, sizeof(cmd), NULL) == 0) {
        taken++;
    }
    for (int k = 0; k < 4; k++) {
        assert_int_equal(bpc_submit(e, cmd, sizeof(cmd), NULL), -EAGAIN);
    }
    assert_true(taken > 0);
    static uint8_t buf[BPC_FRAME_BYTES_MAX];
    struct bpc_frame_out fo = {.bytes = buf, .cap = sizeof(buf)};
    struct bpc_step_out out = {.frames = &fo, .frames_cap = 1};
    struct bpc_step_in in = {.now_ns = 20 * API_MS};
    assert_true(bpc_engine_step(e, &in, &out) >= 0);
    assert_int_equal(bpc_engine_counters(e)->submit_eagain, 5);
    bpc_engine_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_misuse_refused),
        cmocka_unit_test(test_start_twice_refused),
        cmocka_unit_test(test_log_misuse_refused),
        cmocka_unit_test(test_log_thread_register_idempotent),
        cmocka_unit_test(test_digest_misuse_refused),
        cmocka_unit_test(test_engine_null_refused),
        cmocka_unit_test(test_config_value_null_refused),
        cmocka_unit_test(test_command_max_of_refused_config),
        cmocka_unit_test(test_vid_digest_is_blake2b),
        cmocka_unit_test(test_config_defaults_null_ignored),
        cmocka_unit_test(test_batch_next_null_refused),
        cmocka_unit_test(test_wire_null_refused),
        cmocka_unit_test(test_auth_log_null_refused),
        cmocka_unit_test(test_decisions_cap_steps_again_now),
        cmocka_unit_test(test_submit_eagain_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
