/*
 * test_store_files_writers.c - the store's writer on real files: the
 * writer's lock (flock, which memfs only imitates): a second writer on the
 * same store is refused, and two creating one store at the same moment
 * lose no acknowledged commit; and the store's file removed or replaced
 * under a writer (stat(2) against fstat(2)) fails it (files_fx.h holds the
 * helpers shared with test_store_files.c and test_store_files_tmp.c).
 *
 * Must never: leave anything outside its own mkdtemp directory, or leave
 * that directory behind when it passes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpcon_store.h"

#include "files_fx.h"

/* A writable open of path that must be refused as in use. */
static void
tf_expect_busy(const char *path)
{
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    char err[512] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), -EBUSY);
    assert_null(s);
    assert_non_null(strstr(err, "in use by another process"));
}

/* A party started twice: the second writer on one store is refused while
 * the first has it open, also after the first's compactions (the new file
 * is locked before it becomes the store), and opens once the first
 * closed; read-only opens and bpc_store_inspect work beside the writer.
 * Before: the second open succeeded, and its commit overwrote the first's
 * acknowledged vote at the same offset. */
static void
test_second_writer_refused(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128];
    tf_at(&d, "store", path, sizeof(path));
    struct bpc_store *a = tf_open(path, false);
    tf_commit(a, 0);
    tf_expect_busy(path);

    struct bpc_store *ro = tf_open(path, true); /* a reader takes no lock */
    bpc_store_close(ro);
    struct bpc_store_info info;
    char err[512] = "";
    assert_int_equal(bpc_store_inspect(path, NULL, &info, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.commits, 1);

    tf_run(a, 1, TF_COMMITS);
    assert_true(tf_compactions(a) >= 10);
    tf_expect_busy(path);
    struct tf_recs want = tf_records(a);
    bpc_store_close(a);

    struct bpc_store *b = tf_open(path, false);
    const struct bpc_durable *r = NULL;
    assert_int_equal(bpc_store_records(b, &r), want.n);
    assert_memory_equal(r, want.r, (size_t)want.n * sizeof(*r));
    bpc_store_close(b);
    free(want.r);
    tf_rm_rf(&d);
}

/* One racer: waits on the pipe, opens path for writing; when it got the
 * store, commits a vote for instance `mine` and holds the store a moment
 * (the other racer's open must be refused meanwhile). Exits 0 when it
 * opened and its commit was acknowledged, 3 when refused with -EBUSY,
 * anything else on an error. */
static void
tf_racer(const char *path, int go, uint64_t mine)
{
    char b;
    if (read(go, &b, 1) != 1) {
        _exit(9);
    }
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.no_sync = true};
    char err[512] = "";
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, path, &cfg, &o, err, sizeof(err));
    if (rc == -EBUSY) {
        _exit(strstr(err, "in use by another process") != NULL ? 3 : 8);
    }
    if (rc != 0) {
        fprintf(stderr, "racer: %d %s\n", rc, err);
        _exit(7);
    }
    struct bpc_durable d = {
        .instance = mine, .max_bal = 3, .max_vbal = 2, .max_vval = {.kind = BPC_VALUE_NOOP}};
    rc = bpc_store_append(s, &d, 1) != 0 || bpc_store_sync(s) != 0;
    usleep(2000);
    bpc_store_close(s);
    _exit(rc == 0 ? 0 : 6);
}

/* Goal: two writers creating one missing store at the same moment never
 * lose an acknowledged commit. Each of 200 rounds forks two racers on a
 * new path: at least one opens it, the other is refused (or opens it after
 * the first closed), and the store then holds every acknowledged vote. Before, PATH.tmp was removed
 * and emptied before any lock and renamed over a PATH the other racer had just made: in 300 rounds,
 * 5 had both racers acknowledge a commit with one commit gone, and 184 left no store or an empty
 * one. */
static void
test_racing_creators(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    for (uint32_t round = 0; round < 200; round++) {
        char rel[32];
        char path[128];
        snprintf(rel, sizeof(rel), "s%u", round);
        tf_at(&d, rel, path, sizeof(path));
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pid[2];
        for (uint32_t c = 0; c < 2; c++) {
            pid[c] = fork();
            assert_true(pid[c] >= 0);
            if (pid[c] == 0) {
                close(go[1]);
                tf_racer(path, go[0], 10 + c); /* within the window */
            }
        }
        close(go[0]);
        assert_int_equal(write(go[1], "xx", 2), 2);
        close(go[1]);
        int got[2];
        for (uint32_t c = 0; c < 2; c++) {
            int st = 0;
            assert_int_equal(waitpid(pid[c], &st, 0), pid[c]);
            assert_true(WIFEXITED(st));
            got[c] = WEXITSTATUS(st);
        }
        /* The refused one says "in use" (3); about once in 5,000 rounds it
         * fails on a file the other just renamed instead (7, ENOENT): still
         * a refusal, its message the open part. Both may open one after
         * the other (the second after the first closed, on a loaded
         * machine): what must hold is that every acknowledged commit is
         * in the store. */
        for (uint32_t c = 0; c < 2; c++) {
            if (got[c] != 0 && got[c] != 3 && got[c] != 7) {
                fail_msg("round %u: racer %u exited %d (0: opened, 3: refused)", round, c, got[c]);
            }
        }
        assert_true(got[0] == 0 || got[1] == 0);
        struct bpc_store *s = tf_open(path, true);
        const struct bpc_durable *r = NULL;
        uint32_t n = bpc_store_records(s, &r);
        for (uint32_t c = 0; c < 2; c++) {
            bool found = false;
            for (uint32_t k = 0; k < n; k++) {
                found = found || r[k].instance == 10 + c;
            }
            if (got[c] == 0 && !found) {
                fail_msg("round %u: racer %u's acknowledged commit is not in the store", round, c);
            }
        }
        assert_int_equal(n, (got[0] == 0) + (got[1] == 0));
        bpc_store_close(s);
    }
    tf_rm_rf(&d);
}

/* Buffers a promise of ballot 9 in s and syncs it: the commit must not
 * be acknowledged (sync -EIO, bpc_store_error want). */
static void
tf_expect_commit_refused(struct bpc_store *s, uint64_t floor, int want, const char *what)
{
    struct bpc_durable d = {.instance = UINT64_MAX, .max_bal = 9, .floor = floor};
    assert_int_equal(bpc_store_append(s, &d, 1), 0);
    int rc = bpc_store_sync(s);
    if (rc != -EIO || bpc_store_error(s) != want) {
        fail_msg("%s: sync %d error %d, expected -EIO and %d", what, rc, bpc_store_error(s), want);
    }
    assert_int_equal(bpc_store_append(s, &d, 1), -EIO);
    assert_int_equal(bpc_store_compact(s), -EIO);
    assert_int_equal(bpc_store_error(s), want);
}

/* Goal: the store's file removed (rm) under a writer on a real file
 * system: its next commit is refused, -ENOENT named, after commits and
 * compactions (the check follows each compaction's new file); with
 * no_sync a compaction checks first, fails the store and makes no new
 * file. Before: "rm: sync 0 error 0, expected -EIO and -2": the commit
 * was acknowledged, and a reopen made an empty store (the reviewer's
 * unlink); the compaction made PATH again. */
static void
test_store_removed_under_writer(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128];
    tf_at(&d, "store", path, sizeof(path));
    struct bpc_store *s = tf_open(path, false);
    tf_run(s, 0, 20);
    assert_true(tf_compactions(s) >= 1);
    assert_int_equal(unlink(path), 0);
    tf_expect_commit_refused(s, 20, -ENOENT, "rm");
    bpc_store_close(s);

    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES, .no_sync = true};
    char err[512] = "";
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), 0);
    tf_commit(s, 0);
    assert_int_equal(unlink(path), 0);
    int rc = bpc_store_compact(s);
    if (rc != -EIO || bpc_store_error(s) != -ENOENT) {
        fail_msg("no_sync compaction after rm: %d error %d, expected -EIO and -2", rc,
                 bpc_store_error(s));
    }
    struct stat st;
    assert_int_equal(lstat(path, &st), -1); /* not made again */
    bpc_store_close(s);
    tf_rm_rf(&d);
}

/* Goal: the store's file replaced under a writer by a copy (cp + mv, an
 * operator's backup put back): its next commit is refused, -ESTALE
 * named. The copy holds no lock, so a second writer opens it and finds
 * the records; the first, failed, writes nothing more. Before: "cp + mv:
 * sync 0 error 0, expected -EIO and -116": acknowledged into the old
 * file, which no open finds again, while the second writer wrote the
 * copy: two writers on one path (the reviewer's replace and two). */
static void
test_store_replaced_under_writer(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128], cmd[640];
    tf_at(&d, "store", path, sizeof(path));
    struct bpc_store *s = tf_open(path, false);
    tf_run(s, 0, 20);
    assert_true(tf_compactions(s) >= 1);
    struct tf_recs want = tf_records(s);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.bak' && mv '%s.bak' '%s'", path, path, path, path);
    assert_int_equal(system(cmd), 0);
    struct bpc_store *b = tf_open(path, false); /* the copy has no lock */
    tf_expect_commit_refused(s, 20, -ESTALE, "cp + mv");
    bpc_store_close(s);
    const struct bpc_durable *r = NULL;
    assert_int_equal(bpc_store_records(b, &r), want.n);
    assert_memory_equal(r, want.r, (size_t)want.n * sizeof(*r));
    tf_commit(b, 20);
    bpc_store_close(b);
    free(want.r);
    tf_rm_rf(&d);
}

int
main(void)
{
    bpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_writer_refused),
        cmocka_unit_test(test_racing_creators),
        cmocka_unit_test(test_store_removed_under_writer),
        cmocka_unit_test(test_store_replaced_under_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
