/*
 * store_io.c - the store's system calls: the POSIX table behind
 * bpc_store_io_posix() (the default struct bpc_store_io), and whole-buffer
 * reads and writes through any table (the fault tests inject theirs).
 *
 * Owns: the mapping of each call to open(2), pwrite(2), fdatasync(2),
 * flock(2), realpath(3), stat(2) and the rest, returning >= 0 or -errno.
 * Must never: retry a failed call or hide its error (a short write
 * continues where it stopped; a write of zero bytes is -EIO), or make a
 * system call the table does not name.
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * POSIX I/O.
 * ---------------------------------------------------------------------- */

/* The errno of a file that is not regular (st: lstat's or fstat's): a
 * directory is -EISDIR (what open(2) says of one opened for writing), a
 * FIFO, socket or device -EINVAL; 0 for a regular file. */
static int
store_posix_kind(const struct stat *st)
{
    return S_ISREG(st->st_mode) ? 0 : (S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL);
}

/* Anything but a regular file (or a directory asked for with O_DIRECTORY)
 * is refused: a directory with -EISDIR, a FIFO, a socket or a device with
 * -EINVAL, none of them opened when the path already names one (stat, or
 * lstat with O_NOFOLLOW: opening a device can act on it, a tape rewinds).
 * O_NONBLOCK, so that a FIFO made between that check and the open is not
 * waited on (it changes nothing for a regular file), O_NOCTTY so that a
 * terminal never becomes the process's, and fstat after the open decides.
 * A socket's ENXIO, and a device's without a driver, are -EINVAL too. */
static int
store_posix_open(void *ctx, const char *path, int flags, unsigned int mode)
{
    (void)ctx;
    bool dir = (flags & O_DIRECTORY) != 0;
    struct stat st;
    if (!dir && ((flags & O_NOFOLLOW) != 0 ? lstat(path, &st) : stat(path, &st)) == 0 &&
        !S_ISLNK(st.st_mode) && store_posix_kind(&st) != 0) {
        return store_posix_kind(&st);
    }
    int fd = open(path, flags | O_CLOEXEC | (dir ? 0 : O_NONBLOCK | O_NOCTTY), (mode_t)mode);
    if (fd < 0) {
        return errno == ENXIO || errno == ENODEV ? -EINVAL : -errno;
    }
    int rc = dir ? 0 : (fstat(fd, &st) != 0 ? -errno : store_posix_kind(&st));
    if (rc != 0) {
        (void)close(fd);
        return rc;
    }
    return fd;
}

static int
store_posix_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd) == 0 ? 0 : -errno;
}

static int64_t
store_posix_size(void *ctx, int fd)
{
    (void)ctx;
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : -errno;
}

static int64_t
store_posix_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    ssize_t got = pread(fd, buf, len, (off_t)off);
    return got >= 0 ? (int64_t)got : -errno;
}

static int64_t
store_posix_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    ssize_t put = pwrite(fd, buf, len, (off_t)off);
    return put >= 0 ? (int64_t)put : -errno;
}

static int
store_posix_datasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd) == 0 ? 0 : -errno;
}

static int
store_posix_dirsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd) == 0 ? 0 : -errno;
}

static int
store_posix_truncate(void *ctx, int fd, uint64_t len)
{
    (void)ctx;
    return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

static int
store_posix_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to) == 0 ? 0 : -errno;
}

static int
store_posix_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path) == 0 ? 0 : -errno;
}

/* flock(2), not fcntl's record locks: those belong to the process, so a
 * second open in the same process would get the lock too (and closing
 * any descriptor of the file would drop it). flock's belongs to the open
 * file description. */
static int
store_posix_lock(void *ctx, int fd)
{
    (void)ctx;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        return 0;
    }
    return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

/* Does path name fd's file: st_dev and st_ino of both, and a name left?
 * stat(2) follows a link, as the open's resolve did. A file with no
 * name that path still seems to name (a file system reusing numbers)
 * counts as replaced. */
static int
store_posix_same_file(void *ctx, int fd, const char *path)
{
    (void)ctx;
    struct stat mine;
    struct stat there;
    if (fstat(fd, &mine) != 0) {
        return -errno;
    }
    if (stat(path, &there) != 0) {
        return -errno; /* -ENOENT: unlinked, or renamed away */
    }
    bool same = mine.st_dev == there.st_dev && mine.st_ino == there.st_ino;
    return same && mine.st_nlink > 0 ? 0 : -ESTALE;
}

static int64_t
store_posix_links(void *ctx, int fd)
{
    (void)ctx;
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_nlink : -errno;
}

/* realpath's result into out: 0, or -ENAMETOOLONG. */
static int
store_posix_put(char *out, size_t out_len, const char *dir, const char *base)
{
    /* "/" + base must not become "//base". */
    const char *sep = base == NULL ? "" : (strcmp(dir, "/") == 0 ? "" : "/");
    int n = snprintf(out, out_len, "%s%s%s", dir, sep, base == NULL ? "" : base);
    return n >= 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}

/* A store not created yet: its directory resolved, its name kept. A
 * dangling symbolic link is refused: creating the store renames a new
 * file over the name, which would replace the link, not make its target. */
static int
store_posix_resolve_new(const char *path, char *out, size_t out_len)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        return -ENOENT; /* the name is there, what it links to is not */
    }
    if (errno != ENOENT) {
        return -errno;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash == NULL ? path : slash + 1;
    if (*base == '\0') {
        return -ENOENT;
    }
    char *dir = slash == NULL ? strdup(".") : strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        return -ENOMEM;
    }
    char *real = realpath(slash == path ? "/" : dir, NULL);
    int rc = real != NULL ? store_posix_put(out, out_len, real, base) : -errno;
    free(real);
    free(dir);
    return rc;
}

static int
store_posix_resolve(void *ctx, const char *path, char *out, size_t out_len)
{
    (void)ctx;
    char *real = realpath(path, NULL);
    if (real == NULL) {
        return errno == ENOENT ? store_posix_resolve_new(path, out, out_len) : -errno;
    }
    int rc = store_posix_put(out, out_len, real, NULL);
    free(real);
    return rc;
}

static const struct bpc_store_io store_io_posix = {
    .ctx = NULL,
    .open = store_posix_open,
    .close = store_posix_close,
    .size = store_posix_size,
    .pread = store_posix_pread,
    .pwrite = store_posix_pwrite,
    .datasync = store_posix_datasync,
    .dirsync = store_posix_dirsync,
    .truncate = store_posix_truncate,
    .rename = store_posix_rename,
    .unlink = store_posix_unlink,
    .lock = store_posix_lock,
    .links = store_posix_links,
    .resolve = store_posix_resolve,
    .same_file = store_posix_same_file,
};

const struct bpc_store_io *
bpc_store_io_posix(void)
{
    return &store_io_posix;
}

/* ------------------------------------------------------------------------
 * Whole buffers.
 * ---------------------------------------------------------------------- */

/* Writes all of buf at off (short writes continue); 0 or -errno. */
int
store_write_all(const struct bpc_store_io *io, int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        int64_t put = io->pwrite(io->ctx, fd, buf, len, off);
        if (put < 0) {
            return (int)put;
        }
        if (put == 0 || (uint64_t)put > len) {
            return -EIO; /* nothing written, or more than asked: a broken table */
        }
        buf += put;
        len -= (size_t)put;
        off += (uint64_t)put;
    }
    return 0;
}

const char *
store_open_error(int rc)
{
    return rc == -EINVAL   ? "not a regular file"
           : rc == -EISDIR ? "not a regular file (a directory)"
                           : strerror(-rc);
}

/* Reads exactly len bytes at off (short reads continue); 0, -EIO when
 * the file ends first, or -errno. */
int
store_read_at(const struct bpc_store_io *io, int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        int64_t rc = io->pread(io->ctx, fd, buf + got, len - got, off + got);
        if (rc <= 0) {
            return rc < 0 ? (int)rc : -EIO;
        }
        got += (size_t)rc;
    }
    return 0;
}

/* Reads the whole file into a malloc'ed buffer; 0 or -errno. */
int
store_read_all(const struct bpc_store_io *io, int fd, uint8_t **out, uint64_t *n)
{
    int64_t size = io->size(io->ctx, fd);
    if (size < 0) {
        return (int)size;
    }
    uint8_t *b = malloc(size > 0 ? (size_t)size : 1u);
    if (b == NULL) {
        return -ENOMEM;
    }
    int rc = store_read_at(io, fd, b, (size_t)size, 0);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *out = b;
    *n = (uint64_t)size;
    return 0;
}

const char *
store_io_lacks(const struct bpc_store_io *io, bool writer)
{
    if (io == NULL) {
        return NULL; /* the plain system calls */
    }
    if (io->open == NULL || io->close == NULL || io->size == NULL || io->pread == NULL) {
        return io->open == NULL    ? "open"
               : io->close == NULL ? "close"
               : io->size == NULL  ? "size"
                                   : "pread";
    }
    if (!writer) {
        return NULL;
    }
    const struct {
        const char *name;
        bool set;
    } need[] = {
        {"pwrite", io->pwrite != NULL},   {"datasync", io->datasync != NULL},
        {"dirsync", io->dirsync != NULL}, {"truncate", io->truncate != NULL},
        {"rename", io->rename != NULL},   {"unlink", io->unlink != NULL},
    };
    for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
        if (!need[k].set) {
            return need[k].name;
        }
    }
    return NULL;
}
