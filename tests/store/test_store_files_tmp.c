/*
 * test_store_files_tmp.c - the store's PATH.tmp on real files: a symbolic
 * link, a second hard link, a directory, a FIFO, a socket or a device
 * there is refused, never written through, removed or waited on; a store
 * named like another's PATH.tmp is refused; and a directory where no
 * PATH.tmp can be made refuses a writable open (files_fx.h holds the
 * helpers shared with test_store_files.c and test_store_files_writers.c).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpcon_store.h"

#include "files_fx.h"

/* PATH.tmp is written only when it is the store's own: a symbolic link or
 * a second name of another file there (another program's, another
 * store's) is refused, not written through. Before: creating the store
 * opened s.tmp as it was, and the victim its link named was replaced by
 * a store header (the reviewer's tmp_symlink, with a symbolic and a hard
 * link). */
static void
test_tmp_link_refused_at_create(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char victim[128], path[128], tmp[128], err[512] = "";
    tf_at(&d, "victim", victim, sizeof(victim));
    tf_at(&d, "s", path, sizeof(path));
    tf_at(&d, "s.tmp", tmp, sizeof(tmp));
    tf_write_file(victim, "IMPORTANT DATA\n");
    for (int hard = 0; hard < 2; hard++) {
        assert_int_equal(hard ? link(victim, tmp) : symlink("victim", tmp), 0);
        tf_expect_refused(path, -EEXIST, err, sizeof(err));
        assert_non_null(strstr(err, "s.tmp"));
        tf_expect_text(victim, "IMPORTANT DATA\n");
        struct stat st;
        assert_int_equal(lstat(path, &st), -1); /* no store was made */
        assert_int_equal(lstat(tmp, &st), 0);   /* the other name is left */
        assert_true(hard ? S_ISREG(st.st_mode) && st.st_nlink == 2 : S_ISLNK(st.st_mode));
        assert_int_equal(unlink(tmp), 0);
    }
    tf_rm_rf(&d);
}

/* A link made at PATH.tmp while the store is open: the compaction is
 * refused (-EEXIST) with nothing touched, the store not failed, its next
 * commit recovers (no gap in the sequence numbers), and the next
 * compaction once the link is gone works. Before: the compaction
 * wrote the store's image into the victim and renamed the link over the
 * store. */
static void
test_tmp_link_refused_at_compaction(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char victim[128], path[128], tmp[128];
    tf_at(&d, "victim", victim, sizeof(victim));
    tf_at(&d, "s", path, sizeof(path));
    tf_at(&d, "s.tmp", tmp, sizeof(tmp));
    tf_write_file(victim, "IMPORTANT DATA\n");
    struct bpc_store *s = tf_open(path, false);
    tf_run(s, 0, 20);
    for (int hard = 0; hard < 2; hard++) {
        assert_int_equal(hard ? link(victim, tmp) : symlink("victim", tmp), 0);
        int rc = bpc_store_compact(s);
        if (rc != -EEXIST) {
            fail_msg("compaction with %s link at s.tmp: %d, expected -EEXIST",
                     hard ? "a hard" : "a symbolic", rc);
        }
        assert_int_equal(bpc_store_error(s), 0);
        tf_expect_text(victim, "IMPORTANT DATA\n");
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(unlink(tmp), 0);
    }
    tf_commit(s, 20); /* the store goes on, its sequence numbers unbroken */
    struct tf_recs want = tf_records(s);
    tf_expect(path, &want);
    tf_compact(s);
    bpc_store_close(s);
    tf_expect(path, &want);
    free(want.r);
    tf_rm_rf(&d);
}

/* A compaction image whose first page a power loss left unwritten
 * (PATH.tmp: 512 zero bytes, then image bytes) is removed by the next
 * writable open, but only while it has one name: with a second (a hard
 * link, which no leftover of the store has) it is refused, -EEXIST naming
 * the link, and both names keep their bytes. Before (review B4's
 * tmphole), the open was refused whatever the links. */
static void
test_tmp_holed_one_name_removed(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128], tmp[128], other[128], err[512] = "";
    tf_at(&d, "s", path, sizeof(path));
    tf_at(&d, "s.tmp", tmp, sizeof(tmp));
    tf_at(&d, "other", other, sizeof(other));
    struct bpc_store *s = tf_open(path, false);
    tf_run(s, 0, 20);
    bpc_store_close(s);
    size_t len = 0;
    uint8_t *img = tf_slurp(path, &len);
    assert_true(len > 1024u);
    memset(img, 0, 512u);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, 1024u, f), 1024u);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(link(tmp, other), 0);
    tf_expect_refused(path, -EEXIST, err, sizeof(err));
    assert_non_null(strstr(err, "hard link"));
    size_t got = 0;
    uint8_t *kept = tf_slurp(other, &got);
    assert_int_equal(got, 1024u);
    assert_memory_equal(kept, img, 1024u);
    free(kept);
    assert_int_equal(unlink(other), 0);
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    int rc = bpc_store_open(&s, path, &cfg, &o, err, sizeof(err));
    struct stat st;
    print_message("open with 512 zero bytes, then 512 of the image, at s.tmp: %d (%s), %s\n", rc,
                  rc == 0 ? "" : err, lstat(tmp, &st) == 0 ? "kept" : "removed");
    assert_int_equal(rc, 0);
    assert_int_equal(lstat(tmp, &st), -1);
    bpc_store_close(s);
    free(img);
    tf_rm_rf(&d);
}

/* What test_tmp_not_a_file_refused puts at PATH.tmp: a directory (holding
 * a file, which must stay), a FIFO, a socket, and where mknod(2) works
 * (root with CAP_MKNOD) a character device: /dev/null's numbers. */
enum tf_special { TF_DIR, TF_FIFO, TF_SOCKET, TF_DEVICE, TF_SPECIALS };

static const char *const tf_special_name[TF_SPECIALS] = {"a directory", "a FIFO", "a socket",
                                                         "a device"};
/* What the open's message must say is there. */
static const char *const tf_special_said[TF_SPECIALS] = {
    "a directory", "not a regular file", "not a regular file", "not a regular file"};

static int
tf_mknod_null(const char *path)
{
    return mknod(path, S_IFCHR | 0600, makedev(1, 3));
}

static void
tf_special_make(const char *path, enum tf_special kind)
{
    if (kind == TF_DIR) {
        char inner[160];
        snprintf(inner, sizeof(inner), "%s/draft", path);
        assert_int_equal(mkdir(path, 0700), 0);
        tf_write_file(inner, "a draft\n");
    } else if (kind == TF_FIFO) {
        assert_int_equal(mkfifo(path, 0600), 0);
    } else if (kind == TF_DEVICE) {
        assert_int_equal(tf_mknod_null(path), 0);
    } else {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(path) < sizeof(sa.sun_path));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (const struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(close(fd), 0); /* the socket file stays */
    }
}

/* Still there, still what it was (a directory's file unchanged); then
 * removed. */
static void
tf_special_check_remove(const char *path, enum tf_special kind)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    bool same = kind == TF_DIR      ? S_ISDIR(st.st_mode)
                : kind == TF_FIFO   ? S_ISFIFO(st.st_mode)
                : kind == TF_DEVICE ? S_ISCHR(st.st_mode)
                                    : S_ISSOCK(st.st_mode);
    if (!same) {
        fail_msg("%s: %s there is no longer one (mode %o)", path, tf_special_name[kind],
                 (unsigned)st.st_mode);
    }
    if (kind == TF_DIR) {
        char inner[160];
        snprintf(inner, sizeof(inner), "%s/draft", path);
        tf_expect_text(inner, "a draft\n");
        assert_int_equal(unlink(inner), 0);
        assert_int_equal(rmdir(path), 0);
    } else {
        assert_int_equal(unlink(path), 0);
    }
}

/* A writable open of path (an existing store, or none yet) with kind at
 * tmp: -EEXIST, the message naming tmp and what is there. */
static void
tf_special_open_refused(const char *path, const char *tmp, enum tf_special kind)
{
    char err[512] = "";
    tf_special_make(tmp, kind);
    tf_expect_refused(path, -EEXIST, err, sizeof(err));
    print_message("open with %s at %s: %s\n", tf_special_name[kind], tmp, err);
    if (strstr(err, tmp) == NULL || strstr(err, tf_special_said[kind]) == NULL) {
        fail_msg("open with %s at %s: \"%s\" names neither it nor \"%s\"", tf_special_name[kind],
                 tmp, err, tf_special_said[kind]);
    }
    tf_special_check_remove(tmp, kind);
}

/* A directory, a FIFO, a socket or a device at PATH.tmp is no file the
 * store wrote, like a symbolic link there: a compaction is refused with
 * -EEXIST, the store not failed (the next commit is acknowledged), and a
 * writable open or a creation is -EEXIST naming PATH.tmp and what is
 * there; the thing is never removed, followed or waited on. Before: the
 * compaction returned -EIO and failed the store for good (bpc_store_error
 * -EISDIR, -EINVAL), the open said "reading s.tmp: Invalid argument" and
 * the creation "n: creating: Is a directory" (a review's finding). */
static void
test_tmp_not_a_file_refused(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128], tmp[128], fresh[128], fresh_tmp[128];
    tf_at(&d, "s", path, sizeof(path));
    tf_at(&d, "s.tmp", tmp, sizeof(tmp));
    tf_at(&d, "n", fresh, sizeof(fresh));
    tf_at(&d, "n.tmp", fresh_tmp, sizeof(fresh_tmp));
    /* A device only where one can be made (not unprivileged, not in
     * every container). */
    enum tf_special end = tf_mknod_null(tmp) == 0 ? TF_SPECIALS : TF_DEVICE;
    if (end == TF_SPECIALS) {
        assert_int_equal(unlink(tmp), 0);
    } else {
        print_message("mknod: %s: no device at s.tmp\n", strerror(errno));
    }
    uint64_t next = 0;
    for (enum tf_special kind = TF_DIR; kind < end; kind++) {
        struct bpc_store *s = tf_open(path, false);
        tf_run(s, next, 20);
        next += 20;
        tf_special_make(tmp, kind);
        int rc = bpc_store_compact(s);
        print_message("compaction with %s at s.tmp: %d, store error %d\n", tf_special_name[kind],
                      rc, bpc_store_error(s));
        if (rc != -EEXIST || bpc_store_error(s) != 0) {
            fail_msg("compaction with %s at s.tmp: %d (store error %d), expected -EEXIST (0)",
                     tf_special_name[kind], rc, bpc_store_error(s));
        }
        tf_commit(s, next++); /* the store goes on */
        struct tf_recs want = tf_records(s);
        tf_special_check_remove(tmp, kind);
        tf_compact(s);
        bpc_store_close(s);
        tf_expect(path, &want);
        free(want.r);
        tf_special_open_refused(path, tmp, kind);
        tf_special_open_refused(fresh, fresh_tmp, kind);
        struct stat st;
        assert_int_equal(lstat(fresh, &st), -1); /* no store was made */
    }
    tf_rm_rf(&d);
}

/* A store's name may not end in ".tmp": that is the name another store
 * (PATH without it) writes and removes. Before: a store "x.tmp" opened,
 * and opening the store "x" then removed it, acknowledged votes and all
 * (the reviewer's tmp_name). */
static void
test_tmp_name_refused(void **state)
{
    (void)state;
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128], err[512] = "";
    tf_at(&d, "x.tmp", path, sizeof(path));
    tf_expect_refused(path, -EINVAL, err, sizeof(err));
    assert_non_null(strstr(err, "\".tmp\""));
    struct stat st;
    assert_int_equal(lstat(path, &st), -1); /* nothing created */
    /* A read-only open writes and removes no PATH.tmp: a store renamed
     * to such a name can still be read (before: -EINVAL for any open). */
    char store[128];
    tf_at(&d, "y", store, sizeof(store));
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    struct bpc_store *s = NULL;
    assert_int_equal(bpc_store_open(&s, store, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    assert_int_equal(rename(store, path), 0);
    o.read_only = true;
    assert_int_equal(bpc_store_open(&s, path, &cfg, &o, err, sizeof(err)), 0);
    bpc_store_close(s);
    tf_rm_rf(&d);
}

/* The unprivileged child of test_unwritable_directory_refused: a
 * writable open must fail with -EACCES naming PATH.tmp. Exit 0 when it
 * does, 1 (with what happened) otherwise. */
static int
tf_unprivileged_open(const char *path)
{
    if (setgid(65534) != 0 || setuid(65534) != 0) {
        perror("setuid");
        return 2;
    }
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    char err[512] = "";
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, path, &cfg, &o, err, sizeof(err));
    bool ok = rc == -EACCES && strstr(err, ".tmp") != NULL;
    if (!ok) {
        fprintf(stderr, "unprivileged writable open: %d (%s), expected -EACCES naming the .tmp\n",
                rc, err);
    }
    bpc_store_close(s);
    return ok ? 0 : 1;
}

/* A store in a directory its writer may not write: the store file is the
 * writer's (uid 65534), the directory (mode 555) is not, so no PATH.tmp
 * can be made and no compaction can ever work. The writable open is
 * refused with the errno named. Needs root to drop to another uid (CI
 * runs as root); skipped otherwise (the memfs test in store-api covers
 * the same path). Before: the open returned 0, and the first compaction
 * failed the store (the reviewer's rodir). */
static void
test_unwritable_directory_refused(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    struct tf_dir d;
    tf_mkdtemp(&d);
    char path[128];
    tf_at(&d, "store", path, sizeof(path));
    bpc_store_close(tf_open(path, false));
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(chmod(d.root, 0555), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(tf_unprivileged_open(path));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(chmod(d.root, 0700), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tf_rm_rf(&d);
}

int
main(void)
{
    bpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmp_link_refused_at_create),
        cmocka_unit_test(test_tmp_link_refused_at_compaction),
        cmocka_unit_test(test_tmp_not_a_file_refused),
        cmocka_unit_test(test_tmp_name_refused),
        cmocka_unit_test(test_tmp_holed_one_name_removed),
        cmocka_unit_test(test_unwritable_directory_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
