/*
 * memfs.h - an in-memory file system behind struct bpc_store_io, for the
 * store's crash tests: one directory, files with a current and a durable
 * image, fault injection ("fail the Nth mutating call") and power loss.
 *
 * Durability model: a file's data is durable as of its last datasync; a
 * directory entry (creation, rename, unlink) is durable as of the last
 * directory sync. Power loss (memfs_crash) keeps only what is durable, or,
 * in the torn mode, the durable data plus a random prefix of what was
 * appended after it and, at random, the current directory instead of the
 * durable one.
 *
 * Must never: be used outside tests (no locking, fixed small tables).
 */
#ifndef BPC_TEST_MEMFS_H
#define BPC_TEST_MEMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpcon_store.h"

#define MEMFS_FILES 8u
#define MEMFS_FDS 16u
#define MEMFS_NAME_MAX 128u

struct memfs_inode {
    bool in_use;
    uint8_t *data;
    size_t len;
    size_t cap;
    uint8_t *dur; /* as of the last datasync */
    size_t dur_len;
    size_t dur_cap;
    /* The lowest offset whose byte may differ from dur's since the last
     * datasync (SIZE_MAX: none): a sync copies from there, not the whole
     * file, so a test of N small synced appends is not quadratic. */
    size_t dirty_lo;
    int lock_fd1; /* the descriptor holding the lock, + 1; 0: unlocked */
};

struct memfs_entry {
    char name[MEMFS_NAME_MAX];
    int ino; /* -1: free */
};

enum memfs_crash_mode {
    MEMFS_CRASH_LOSE = 0, /* keep only what was synced */
    MEMFS_CRASH_TORN = 1, /* plus a random prefix of unsynced appends */
};

struct memfs {
    struct memfs_inode ino[MEMFS_FILES];
    struct memfs_entry cur[MEMFS_FILES];
    struct memfs_entry dur[MEMFS_FILES];
    int fd_ino[MEMFS_FDS]; /* -1 free, -2 the directory */
    uint64_t calls;        /* mutating calls so far */
    uint64_t fail_at;      /* 0: none; else this mutating call fails */
    uint64_t failures;     /* injected so far */
    int write_errno;       /* what a failing pwrite returns; 0: -EIO */
    int create_errno;      /* nonzero: creating a file fails with -create_errno
                            * (a directory the process may not write); not a
                            * counted fault */
    uint64_t rng;          /* torn prefixes, random directory outcome */
    struct bpc_store_io io;
};

/* An empty file system; rng seeds the random choices. */
void memfs_init(struct memfs *fs, uint64_t seed);
void memfs_free(struct memfs *fs);
/* Power loss: every descriptor is closed, only durable state survives. */
void memfs_crash(struct memfs *fs, enum memfs_crash_mode mode);
/* The current bytes of a file (NULL when it does not exist). */
const uint8_t *memfs_file(const struct memfs *fs, const char *name, size_t *len);
/* Replaces (or creates) a file's bytes, durably. */
void memfs_set_file(struct memfs *fs, const char *name, const uint8_t *bytes, size_t len);

#endif /* BPC_TEST_MEMFS_H */
