/*
 * memfs.c - the in-memory file system of memfs.h (store crash tests).
 *
 * Owns: the durability model (data durable at datasync, names at directory
 * sync), counted fault injection on every mutating call (open with
 * O_CREAT or O_TRUNC, pwrite, datasync, dirsync, truncate, rename,
 * unlink) and power loss; which file a name leads to (links, same_file). Must never: abort on a bad
 * call from the store (it returns an errno as a kernel would), or allocate unboundedly.
 */
#include "memfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
memfs_rand(struct memfs *fs)
{
    /* splitmix64 */
    uint64_t z = (fs->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counts a mutating call; true when it is the one to fail. */
static bool
memfs_fault(struct memfs *fs)
{
    fs->calls++;
    if (fs->fail_at != 0 && fs->calls == fs->fail_at) {
        fs->failures++;
        return true;
    }
    return false;
}

static struct memfs_entry *
memfs_find(struct memfs_entry *tab, const char *name)
{
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        if (tab[i].ino >= 0 && strcmp(tab[i].name, name) == 0) {
            return &tab[i];
        }
    }
    return NULL;
}

static struct memfs_entry *
memfs_free_entry(struct memfs_entry *tab)
{
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        if (tab[i].ino < 0) {
            return &tab[i];
        }
    }
    return NULL;
}

static bool
memfs_referenced(const struct memfs *fs, int ino)
{
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        if (fs->cur[i].ino == ino || fs->dur[i].ino == ino) {
            return true;
        }
    }
    for (uint32_t i = 0; i < MEMFS_FDS; i++) {
        if (fs->fd_ino[i] == ino) {
            return true;
        }
    }
    return false;
}

/* Frees inodes nothing names or holds open any more. */
static void
memfs_gc(struct memfs *fs)
{
    for (int i = 0; i < (int)MEMFS_FILES; i++) {
        struct memfs_inode *n = &fs->ino[i];
        if (n->in_use && !memfs_referenced(fs, i)) {
            free(n->data);
            free(n->dur);
            memset(n, 0, sizeof(*n));
        }
    }
}

static int
memfs_new_inode(struct memfs *fs)
{
    for (int i = 0; i < (int)MEMFS_FILES; i++) {
        if (!fs->ino[i].in_use) {
            memset(&fs->ino[i], 0, sizeof(fs->ino[i]));
            fs->ino[i].in_use = true;
            fs->ino[i].dirty_lo = SIZE_MAX;
            return i;
        }
    }
    return -ENOSPC;
}

/* Room for len bytes in *buf (capacity *cap), grown by doubling. */
static int
memfs_grow(uint8_t **buf, size_t *cap, size_t len)
{
    if (len <= *cap) {
        return 0;
    }
    size_t want = *cap > 0 ? *cap : 4096u;
    while (want < len) {
        want *= 2u;
    }
    uint8_t *d = realloc(*buf, want);
    if (d == NULL) {
        return -ENOMEM;
    }
    *buf = d;
    *cap = want;
    return 0;
}

static int
memfs_reserve(struct memfs_inode *n, size_t len)
{
    return memfs_grow(&n->data, &n->cap, len);
}

/* Bytes from off on may now differ from what is durable. */
static void
memfs_dirty(struct memfs_inode *n, size_t off)
{
    n->dirty_lo = off < n->dirty_lo ? off : n->dirty_lo;
}

/* Makes dur hold the first len bytes of data, of which those below from
 * are already there. */
static int
memfs_dur_set(struct memfs_inode *n, size_t from, size_t len)
{
    if (memfs_grow(&n->dur, &n->dur_cap, len) != 0) {
        return -ENOMEM;
    }
    from = from < len ? from : len;
    if (len > from) {
        memcpy(n->dur + from, n->data + from, len - from);
    }
    n->dur_len = len;
    n->dirty_lo = SIZE_MAX;
    return 0;
}

static struct memfs_inode *
memfs_fd(struct memfs *fs, int fd)
{
    if (fd < 0 || fd >= (int)MEMFS_FDS || fs->fd_ino[fd] < 0) {
        return NULL;
    }
    return &fs->ino[fs->fd_ino[fd]];
}

/* O_NOFOLLOW is accepted and has nothing to do (memfs has no links);
 * O_EXCL is honoured. */
static int
memfs_open(void *ctx, const char *path, int flags, unsigned int mode)
{
    struct memfs *fs = ctx;
    (void)mode;
    int fd = 0;
    while (fd < (int)MEMFS_FDS && fs->fd_ino[fd] != -1) {
        fd++;
    }
    if (fd == (int)MEMFS_FDS) {
        return -EMFILE;
    }
    if (flags & O_DIRECTORY) {
        fs->fd_ino[fd] = -2;
        return fd;
    }
    struct memfs_entry *e = memfs_find(fs->cur, path);
    if (e != NULL && (flags & O_CREAT) && (flags & O_EXCL)) {
        return -EEXIST;
    }
    if (e == NULL && (flags & O_CREAT) && fs->create_errno != 0) {
        return -fs->create_errno;
    }
    bool mutates = (e == NULL && (flags & O_CREAT)) || (e != NULL && (flags & O_TRUNC));
    if (mutates && memfs_fault(fs)) {
        return -EIO;
    }
    if (e == NULL) {
        if (!(flags & O_CREAT)) {
            return -ENOENT;
        }
        e = memfs_free_entry(fs->cur);
        int ino = memfs_new_inode(fs);
        if (e == NULL || ino < 0 || strlen(path) >= MEMFS_NAME_MAX) {
            return -ENOSPC;
        }
        snprintf(e->name, sizeof(e->name), "%s", path);
        e->ino = ino;
    }
    if (flags & O_TRUNC) {
        fs->ino[e->ino].len = 0;
    }
    fs->fd_ino[fd] = e->ino;
    return fd;
}

static int
memfs_close(void *ctx, int fd)
{
    struct memfs *fs = ctx;
    if (fd < 0 || fd >= (int)MEMFS_FDS || fs->fd_ino[fd] == -1) {
        return -EBADF;
    }
    struct memfs_inode *n = memfs_fd(fs, fd);
    if (n != NULL && n->lock_fd1 == fd + 1) {
        n->lock_fd1 = 0; /* flock: the last close drops it */
    }
    fs->fd_ino[fd] = -1;
    memfs_gc(fs);
    return 0;
}

/* flock(LOCK_EX | LOCK_NB), one holder per file; not a mutating call (a
 * kernel's lock fails only when held, which the store reports). */
static int
memfs_lock(void *ctx, int fd)
{
    struct memfs *fs = ctx;
    struct memfs_inode *n = memfs_fd(fs, fd);
    if (n == NULL) {
        return -EBADF;
    }
    if (n->lock_fd1 != 0 && n->lock_fd1 != fd + 1) {
        return -EBUSY;
    }
    n->lock_fd1 = fd + 1;
    return 0;
}

static int64_t
memfs_size(void *ctx, int fd)
{
    struct memfs_inode *n = memfs_fd(ctx, fd);
    return n != NULL ? (int64_t)n->len : -EBADF;
}

static int64_t
memfs_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    struct memfs_inode *n = memfs_fd(ctx, fd);
    if (n == NULL) {
        return -EBADF;
    }
    if (off >= n->len) {
        return 0;
    }
    size_t k = n->len - off < len ? n->len - (size_t)off : len;
    memcpy(buf, n->data + off, k);
    return (int64_t)k;
}

/* A failing write first lands a random prefix of its bytes: a torn write. */
static int64_t
memfs_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct memfs *fs = ctx;
    struct memfs_inode *n = memfs_fd(fs, fd);
    if (n == NULL) {
        return -EBADF;
    }
    bool fail = memfs_fault(fs);
    size_t k = fail ? (size_t)(memfs_rand(fs) % (len + 1u)) : len;
    if (memfs_reserve(n, (size_t)off + k) != 0) {
        return -ENOMEM;
    }
    memfs_dirty(n, (size_t)off < n->len ? (size_t)off : n->len);
    if (off > n->len) {
        memset(n->data + n->len, 0, (size_t)off - n->len);
    }
    memcpy(n->data + off, buf, k);
    if (off + k > n->len) {
        n->len = (size_t)off + k;
    }
    if (fail) {
        return fs->write_errno != 0 ? fs->write_errno : -EIO;
    }
    return (int64_t)k;
}

static int
memfs_datasync(void *ctx, int fd)
{
    struct memfs *fs = ctx;
    struct memfs_inode *n = memfs_fd(fs, fd);
    if (n == NULL) {
        return -EBADF;
    }
    if (memfs_fault(fs)) {
        return -EIO; /* as after a failed writeback: nothing known durable */
    }
    size_t same = n->dirty_lo < n->dur_len ? n->dirty_lo : n->dur_len;
    return memfs_dur_set(n, same, n->len);
}

static int
memfs_dirsync(void *ctx, int fd)
{
    struct memfs *fs = ctx;
    if (fd < 0 || fd >= (int)MEMFS_FDS || fs->fd_ino[fd] != -2) {
        return -EBADF;
    }
    if (memfs_fault(fs)) {
        return -EIO;
    }
    memcpy(fs->dur, fs->cur, sizeof(fs->dur));
    return 0;
}

static int
memfs_truncate(void *ctx, int fd, uint64_t len)
{
    struct memfs *fs = ctx;
    struct memfs_inode *n = memfs_fd(fs, fd);
    if (n == NULL) {
        return -EBADF;
    }
    if (memfs_fault(fs)) {
        return -EIO;
    }
    if (memfs_reserve(n, (size_t)len) != 0) {
        return -ENOMEM;
    }
    memfs_dirty(n, (size_t)len < n->len ? (size_t)len : n->len);
    if (len > n->len) {
        memset(n->data + n->len, 0, (size_t)len - n->len);
    }
    n->len = (size_t)len;
    return 0;
}

static int
memfs_rename(void *ctx, const char *from, const char *to)
{
    struct memfs *fs = ctx;
    struct memfs_entry *src = memfs_find(fs->cur, from);
    if (src == NULL) {
        return -ENOENT;
    }
    if (memfs_fault(fs)) {
        return -EIO;
    }
    struct memfs_entry *dst = memfs_find(fs->cur, to);
    if (dst != NULL) {
        dst->ino = -1;
    }
    snprintf(src->name, sizeof(src->name), "%s", to);
    memfs_gc(fs);
    return 0;
}

static int
memfs_unlink(void *ctx, const char *path)
{
    struct memfs *fs = ctx;
    struct memfs_entry *e = memfs_find(fs->cur, path);
    if (e == NULL) {
        return -ENOENT;
    }
    if (memfs_fault(fs)) {
        return -EIO;
    }
    e->ino = -1;
    memfs_gc(fs);
    return 0;
}

/* The names an open file has in the current directory (st_nlink). */
static int64_t
memfs_links(void *ctx, int fd)
{
    struct memfs *fs = ctx;
    if (memfs_fd(fs, fd) == NULL) {
        return -EBADF;
    }
    int64_t n = 0;
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        n += fs->cur[i].ino == fs->fd_ino[fd];
    }
    return n;
}

/* Does path name the open file fd in the current directory (stat's st_ino
 * against fstat's)? 0, -ENOENT when path names nothing, -ESTALE when it
 * names another file. Not a mutating call: never a counted fault. */
static int
memfs_same_file(void *ctx, int fd, const char *path)
{
    struct memfs *fs = ctx;
    if (memfs_fd(fs, fd) == NULL) {
        return -EBADF;
    }
    const struct memfs_entry *e = memfs_find(fs->cur, path);
    if (e == NULL) {
        return -ENOENT;
    }
    return e->ino == fs->fd_ino[fd] ? 0 : -ESTALE;
}

void
memfs_init(struct memfs *fs, uint64_t seed)
{
    memset(fs, 0, sizeof(*fs));
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        fs->cur[i].ino = -1;
        fs->dur[i].ino = -1;
    }
    for (uint32_t i = 0; i < MEMFS_FDS; i++) {
        fs->fd_ino[i] = -1;
    }
    fs->rng = seed;
    fs->io = (struct bpc_store_io){
        .ctx = fs,
        .open = memfs_open,
        .close = memfs_close,
        .size = memfs_size,
        .pread = memfs_pread,
        .pwrite = memfs_pwrite,
        .datasync = memfs_datasync,
        .dirsync = memfs_dirsync,
        .truncate = memfs_truncate,
        .rename = memfs_rename,
        .unlink = memfs_unlink,
        .links = memfs_links,
        .lock = memfs_lock,
        .same_file = memfs_same_file,
    };
}

void
memfs_free(struct memfs *fs)
{
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        free(fs->ino[i].data);
        free(fs->ino[i].dur);
    }
    memset(fs->ino, 0, sizeof(fs->ino));
}

/* What survives of one file's data. */
static void
memfs_crash_inode(struct memfs *fs, struct memfs_inode *n, enum memfs_crash_mode mode)
{
    size_t keep = n->dur_len;
    bool extends =
        n->len >= n->dur_len && (n->dur_len == 0 || memcmp(n->data, n->dur, n->dur_len) == 0);
    if (mode == MEMFS_CRASH_TORN && extends) {
        keep = n->dur_len + (size_t)(memfs_rand(fs) % (n->len - n->dur_len + 1u));
    } else if (n->dur_len > 0) {
        if (memfs_reserve(n, n->dur_len) == 0) {
            memcpy(n->data, n->dur, n->dur_len);
        }
    }
    n->len = keep;
    /* What survived is on disk now. */
    (void)memfs_dur_set(n, n->dur_len, keep); /* below dur_len, data is dur now */
}

void
memfs_crash(struct memfs *fs, enum memfs_crash_mode mode)
{
    for (uint32_t i = 0; i < MEMFS_FDS; i++) {
        fs->fd_ino[i] = -1;
    }
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        fs->ino[i].lock_fd1 = 0; /* the holders are gone */
    }
    if (mode == MEMFS_CRASH_TORN && (memfs_rand(fs) & 1u)) {
        memcpy(fs->dur, fs->cur, sizeof(fs->dur)); /* the journal had it all */
    } else {
        memcpy(fs->cur, fs->dur, sizeof(fs->cur));
    }
    memfs_gc(fs);
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        if (fs->ino[i].in_use) {
            memfs_crash_inode(fs, &fs->ino[i], mode);
        }
    }
    fs->fail_at = 0;
}

const uint8_t *
memfs_file(const struct memfs *fs, const char *name, size_t *len)
{
    for (uint32_t i = 0; i < MEMFS_FILES; i++) {
        if (fs->cur[i].ino >= 0 && strcmp(fs->cur[i].name, name) == 0) {
            *len = fs->ino[fs->cur[i].ino].len;
            return fs->ino[fs->cur[i].ino].data;
        }
    }
    *len = 0;
    return NULL;
}

void
memfs_set_file(struct memfs *fs, const char *name, const uint8_t *bytes, size_t len)
{
    struct memfs_entry *e = memfs_find(fs->cur, name);
    if (e == NULL) {
        e = memfs_free_entry(fs->cur);
        int ino = memfs_new_inode(fs);
        if (e == NULL || ino < 0) {
            return;
        }
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->ino = ino;
    }
    struct memfs_inode *n = &fs->ino[e->ino];
    if (memfs_reserve(n, len) != 0) {
        return;
    }
    if (len > 0) {
        memcpy(n->data, bytes, len);
    }
    n->len = len;
    (void)memfs_dur_set(n, 0, len);
    memcpy(fs->dur, fs->cur, sizeof(fs->dur));
}
