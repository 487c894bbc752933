/*
 * test_store_files.c - the store on real files, where names matter and
 * memfs (one flat directory, one name per file) cannot model them: a
 * store reached through a symbolic link, a store with a second hard link
 * (a backup), a store opened by a relative path before a chdir. Each runs
 * compactions and releases; the other name must still hold what it held.
 * And a dangling link, or a path component or store name too long, is
 * refused naming what is wrong. (test_store_files_writers.c: the writer's
 * lock and its file removed or replaced; test_store_files_tmp.c: what
 * PATH.tmp may be; files_fx.h holds the helpers they share.)
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
#include <unistd.h>

#include <cmocka.h>

#include "bpcon_store.h"

#include "files_fx.h"

/* A store used through a symbolic link: compactions must rename over the
 * real file, beside it, and leave the link a link. Before: the first
 * compaction renamed link/store.tmp over the link (now a regular file in
 * link/) and release then cut real/store to 0 bytes ("damaged ... empty
 * file"). */
static void
test_symlinked_store_survives_compaction(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char real[128], link[128], dir[128];
    assert_int_equal(mkdir(tf_at(&d, "real", dir, sizeof(dir)), 0700), 0);
    assert_int_equal(mkdir(tf_at(&d, "link", dir, sizeof(dir)), 0700), 0);
    tf_at(&d, "real/store", real, sizeof(real));
    tf_at(&d, "link/store", link, sizeof(link));
    struct bpc_store *s = tf_open(real, false);
    tf_run(s, 0, 20);
    bpc_store_close(s);
    assert_int_equal(symlink(real, link), 0);

    s = tf_open(link, false);
    tf_run(s, 20, TF_COMMITS);
    assert_true(tf_compactions(s) >= 10);
    struct tf_recs want = tf_records(s);
    bpc_store_close(s);

    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* still the operator's link */
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", link);
    assert_int_not_equal(lstat(tmp, &st), 0); /* no compaction wrote there */
    tf_expect(real, &want);
    tf_expect(link, &want);
    free(want.r);
    tf_rm_rf(&d);
}

/* A store path that is a symbolic link to nothing is refused (creating
 * the store would replace the link) with a message that says what may be
 * wrong, not a bare "No such file or directory" (the store review), and
 * the link is left as it is. */
static void
test_dangling_link_named(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char link[128], gone[128];
    tf_at(&d, "store", link, sizeof(link));
    tf_at(&d, "gone/store", gone, sizeof(gone));
    assert_int_equal(symlink(gone, link), 0);
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    char err[512] = "";
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, link, &cfg, &o, err, sizeof(err)), -ENOENT);
    print_message("dangling link: %s\n", err);
    assert_non_null(strstr(err, "symbolic link whose target does not exist"));
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    tf_rm_rf(&d);
}

/* A hard link to the store (a backup, cp -al, a snapshot tool) names the
 * file a compaction replaces: release must close it, never empty it. The
 * link shares the file, so it holds what the store appended until the
 * compaction that moved the store to a new file, and from then on keeps
 * exactly that. Before: the backup was cut to 0 bytes. */
static void
test_hardlinked_store_survives_compaction(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128], backup[128];
    tf_at(&d, "store", path, sizeof(path));
    tf_at(&d, "backup", backup, sizeof(backup));
    struct bpc_store *s = tf_open(path, false);
    tf_run(s, 0, 20);
    bpc_store_close(s);
    assert_int_equal(link(path, backup), 0);

    s = tf_open(path, false);
    uint64_t i = 20;
    while (!bpc_store_compact_due(s)) {
        tf_commit(s, i++);
    }
    struct tf_recs then = tf_records(s); /* what the replaced file holds */
    size_t then_len = 0;
    uint8_t *then_bytes = tf_slurp(backup, &then_len);
    tf_compact(s);
    tf_run(s, i, TF_COMMITS);
    assert_true(tf_compactions(s) >= 10);
    struct tf_recs now = tf_records(s);
    bpc_store_close(s);

    size_t len = 0;
    uint8_t *bytes = tf_slurp(backup, &len);
    assert_int_equal(len, then_len);
    assert_memory_equal(bytes, then_bytes, len);
    tf_expect(backup, &then);
    tf_expect(path, &now);
    free(bytes);
    free(then_bytes);
    free(then.r);
    free(now.r);
    tf_rm_rf(&d);
}

/* A relative path means the working directory at open: a later chdir
 * must not move the store. Before: the first compaction after the chdir
 * created the store in the new directory and release emptied the
 * original. */
static void
test_relative_path_survives_chdir(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char a[128], b[128], cwd[4096], path[160];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(mkdir(tf_at(&d, "a", a, sizeof(a)), 0700), 0);
    assert_int_equal(mkdir(tf_at(&d, "b", b, sizeof(b)), 0700), 0);
    assert_int_equal(chdir(a), 0);
    struct bpc_store *s = tf_open("store", false);
    assert_int_equal(chdir(b), 0);
    tf_run(s, 0, TF_COMMITS);
    assert_true(tf_compactions(s) >= 10);
    struct tf_recs want = tf_records(s);
    bpc_store_close(s);
    assert_int_equal(chdir(cwd), 0);

    struct stat st;
    snprintf(path, sizeof(path), "%s/store", b);
    assert_int_not_equal(lstat(path, &st), 0); /* nothing moved to b */
    snprintf(path, sizeof(path), "%s/store", a);
    tf_expect(path, &want);
    free(want.r);
    tf_rm_rf(&d);
}

/* A path whose one component is longer than the file system's NAME_MAX
 * (255) is refused naming that, not the length of the whole path, and a
 * store name too long for its PATH.tmp (252 bytes) is refused naming
 * that; 251 bytes works. Before: "path too long (330 bytes, at most
 * 4095)" for the 300-byte component, and "creating: File name too long"
 * for the 252-byte name. */
static void
test_long_component_named(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char name[301], path[512], err[512] = "";
    memset(name, 'n', 300);
    name[300] = '\0';
    tf_at(&d, name, path, sizeof(path));
    tf_expect_refused(path, -ENAMETOOLONG, err, sizeof(err));
    if (strstr(err, "component") == NULL || strstr(err, "300 bytes") == NULL ||
        strstr(err, "4095") != NULL) {
        fail_msg("a 300-byte component: \"%s\"", err);
    }
    name[252] = '\0'; /* fits, but its PATH.tmp (256 bytes) would not */
    tf_at(&d, name, path, sizeof(path));
    tf_expect_refused(path, -ENAMETOOLONG, err, sizeof(err));
    if (strstr(err, "temporary file") == NULL) {
        fail_msg("a 252-byte name: \"%s\"", err);
    }
    name[251] = '\0'; /* the longest that works */
    tf_at(&d, name, path, sizeof(path));
    bpc_store_close(tf_open(path, false));
    tf_rm_rf(&d);
}

int
main(void)
{
    bpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symlinked_store_survives_compaction),
        cmocka_unit_test(test_dangling_link_named),
        cmocka_unit_test(test_hardlinked_store_survives_compaction),
        cmocka_unit_test(test_relative_path_survives_chdir),
        cmocka_unit_test(test_long_component_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
