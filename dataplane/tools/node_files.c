/*
 * node_files.c - bpcon-node: the files the node reads and writes, checked
 * against each other before EAL starts and at bring-up: the --log-out
 * files (writable, regular, never the store, the cluster file, the key
 * file, or the store's temporary file STORE.tmp), and the cluster and key
 * files against STORE.tmp.
 *
 * Owns: nothing but these checks. Must never: create a file it leaves
 * behind on a refusal, or empty an existing one.
 */
#include "node.h"

#include "bpcon_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* True when both paths exist and are one file (a link or another
 * spelling included). */
static bool
node_same_file(const char *a, const char *b)
{
    struct stat sa;
    struct stat sb;
    return a != NULL && b != NULL && stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* True when path is the store's temporary file: STORE.tmp, by the name
 * --store gives and by the name it resolves to (the store resolves its
 * path once and writes PATH.tmp beside the resolved file), compared by
 * name and, once both exist, as files. */
static bool
node_is_store_tmp(const char *path, const char *store)
{
    if (store == NULL || path == NULL) {
        return false;
    }
    char real[PATH_MAX];
    const char *names[2] = {store, realpath(store, real)};
    for (int k = 0; k < 2; k++) {
        char tmp[PATH_MAX + 8];
        int len = names[k] == NULL ? -1 : snprintf(tmp, sizeof(tmp), "%s.tmp", names[k]);
        if (len > 0 && (size_t)len < sizeof(tmp) &&
            (strcmp(tmp, path) == 0 || node_same_file(path, tmp))) {
            return true;
        }
    }
    return false;
}

/* Does name's last component end in ".tmp" (trailing slashes aside)? */
static bool
node_tmp_named(const char *name)
{
    size_t len = strlen(name);
    while (len > 0 && name[len - 1] == '/') {
        len--;
    }
    return len >= 4 && memcmp(name + len - 4, ".tmp", 4) == 0;
}

int
node_store_check(const char *store)
{
    char real[PATH_MAX + 8];
    struct stat st;
    bool there = stat(store, &st) == 0;
    if (there && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bpcon-node: --store '%s': a directory, not a file\n", store);
        return -EINVAL;
    }
    /* Before (review O3), a FIFO, device or socket passed here and was
     * refused by the store only once the ports were up (a virtio server's
     * set-up waited for its peers first). */
    if (there && !S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "bpcon-node: --store '%s': not a regular file (a FIFO, device or socket): the "
                "store is a file the node writes, syncs and replaces\n",
                store);
        return -EINVAL;
    }
    /* Resolved as bpc_store_open resolves it (the POSIX table's). */
    const struct bpc_store_io *io = bpc_store_io_posix();
    int rc = node_tmp_named(store) ? 0 : io->resolve(io->ctx, store, real, sizeof(real));
    if (rc == 0 && node_tmp_named(store)) {
        snprintf(real, sizeof(real), "%s", store);
    }
    if (rc == -ENOENT) {
        fprintf(stderr,
                "bpcon-node: --store '%s': cannot resolve the path: No such file or directory (a "
                "missing directory, or a symbolic link whose target does not exist)\n",
                store);
        return -EINVAL;
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-node: --store '%s': %s\n", store, strerror(-rc));
        return -EINVAL;
    }
    if (node_tmp_named(store) || node_tmp_named(real)) {
        fprintf(stderr,
                "bpcon-node: --store '%s': a writer's store name may not end in \".tmp\" (%s is "
                "the name of the temporary file a store without it writes and removes)\n",
                store, real);
        return -EINVAL;
    }
    return 0;
}

/* The store reserves STORE.tmp: every compaction writes it and renames it
 * over the store, and an open of the store removes what it finds there
 * when it begins with the store's magic (and refuses to start when it
 * does not). A file the node reads or writes (the --log-out files, the
 * cluster file, the key file) may not be it. flag names the file's flag,
 * arg its value, path the file (FILE or FILE.decided for --log-out). */
int
node_not_store_tmp(const char *flag, const char *arg, const char *path, const char *store,
                   char *err, size_t err_len)
{
    if (!node_is_store_tmp(path, store)) {
        return 0;
    }
    snprintf(err, err_len,
             "%s '%s': %s is the store's temporary file ('%s.tmp': every compaction of --store "
             "writes and replaces it)",
             flag, arg, path, store);
    return -EINVAL;
}

/* The two files --log-out names: FILE and FILE.decided. */
static int
node_log_path(const char *log_out, int k, char *path, size_t cap)
{
    int len = snprintf(path, cap, "%s%s", log_out, k == 0 ? "" : ".decided");
    if (len < 0 || (size_t)len >= cap) {
        fprintf(stderr, "bpcon-node: --log-out '%s': path too long\n", log_out);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* The logs are written (replaced) when the node stops, over whatever the
 * paths name then: refused when either is the same file as an input the
 * node reads (its store, cluster file or key file: writing the log over
 * the store would forget every vote). what names the input's flag. */
int
node_log_out_distinct(const char *log_out, const char *other, const char *what, char *err,
                      size_t err_len)
{
    char path[4096];
    for (int k = 0; k < 2; k++) {
        int rc = node_log_path(log_out, k, path, sizeof(path));
        if (rc != 0) {
            snprintf(err, err_len, "--log-out '%s': path too long", log_out);
            return rc;
        }
        if (node_same_file(path, other)) {
            snprintf(err, err_len, "--log-out '%s': %s is the same file as %s '%s'", log_out, path,
                     what, other);
            return -EINVAL;
        }
    }
    return 0;
}

/* An existing log path: opened for writing without blocking (a FIFO with
 * no reader blocked the open for good), and a regular file only (the logs
 * are replaced at the stop). The descriptor, or -EINVAL with the refusal
 * printed, or -1 with errno set. */
static int
node_log_open_existing(const char *log_out, const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    bool fifo = fd < 0 && errno == ENXIO; /* a FIFO with no reader */
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        return fd;
    }
    int e = errno;
    if (fd >= 0 || fifo) {
        fprintf(stderr, "bpcon-node: --log-out '%s': %s: not a regular file\n", log_out, path);
        e = EINVAL;
    }
    if (fd >= 0) {
        close(fd);
    }
    errno = e;
    return e == EINVAL ? -EINVAL : -1;
}

/* --log-out FILE and FILE.decided must be writable: opened now (created
 * when missing, never truncated: a run that fails later leaves an
 * earlier run's logs as they were), so that a path that cannot be
 * written fails at start. */
int
node_log_out_check(const struct node_opts *o, bool made_out[2])
{
    /* The files must exist to be compared as files (a link or another
     * spelling included); those this check creates are removed again when
     * it refuses: an empty file left at a --store path was then refused as
     * a damaged store by the next, correct start. */
    char path[2][4096];
    bool made[2] = {false, false};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        rc = node_log_path(o->log_out, k, path[k], sizeof(path[k]));
        int fd = rc != 0 ? -1 : open(path[k], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        made[k] = fd >= 0;
        if (rc == 0 && fd < 0 && errno == EEXIST) {
            fd = node_log_open_existing(o->log_out, path[k]);
        }
        if (rc == 0 && fd < 0) {
            rc = fd == -EINVAL ? fd : -errno;
            if (rc != -EINVAL) {
                fprintf(stderr, "bpcon-node: --log-out '%s': %s: %s\n", o->log_out, path[k],
                        strerror(-rc));
            }
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    char err[8300] = "";
    if (rc == 0) {
        rc = node_log_out_distinct(o->log_out, o->store, "--store", err, sizeof(err));
    }
    if (rc == 0) {
        rc = node_log_out_distinct(o->log_out, o->cluster, "--cluster", err, sizeof(err));
    }
    for (int k = 0; k < 2 && rc == 0; k++) {
        rc = node_not_store_tmp("--log-out", o->log_out, path[k], o->store, err, sizeof(err));
    }
    if (err[0] != '\0') {
        fprintf(stderr, "bpcon-node: %s\n", err);
    }
    if (rc != 0) {
        node_log_out_unmake(o->log_out, made);
        made[0] = made[1] = false;
    }
    made_out[0] = made[0];
    made_out[1] = made[1];
    return rc;
}

void
node_log_out_unmake(const char *log_out, const bool made[2])
{
    char path[4096];
    for (int k = 0; k < 2 && log_out != NULL; k++) {
        if (made[k] && node_log_path(log_out, k, path, sizeof(path)) == 0) {
            unlink(path);
        }
    }
}
