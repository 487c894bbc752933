/*
 * files_fx.h - what the store's tests on real files share
 * (test_store_files.c, test_store_files_writers.c, test_store_files_tmp.c):
 * their mkdtemp directory and paths in it, the configuration and options
 * of their stores, commits, compactions and runs of them, the live records
 * and a read-only check of them, refused opens, and whole files' bytes.
 * The helpers use cmocka's assertions: a test file includes cmocka.h
 * first. Must never: touch anything outside the directory of tf_mkdtemp.
 */
#ifndef BPC_TEST_FILES_FX_H
#define BPC_TEST_FILES_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpcon_store.h"

/* Small enough that 200 commits compact a dozen times or more. */
#define TF_COMPACT_BYTES 8192u
#define TF_COMMITS 200u

struct tf_dir {
    char root[64];
};

/* A copy of the store's live records (bpc_store_records). */
struct tf_recs {
    struct bpc_durable *r;
    uint32_t n;
};

/* A new directory /tmp/bpcon-store-files.XXXXXX into d. */
void tf_mkdtemp(struct tf_dir *d);
/* d->root/rel into buf. */
const char *tf_at(const struct tf_dir *d, const char *rel, char *buf, size_t len);
/* Removes d's directory and all in it. */
void tf_rm_rf(const struct tf_dir *d);
/* The configuration of every store of these tests. */
void tf_cfg(struct bpc_config *cfg);
/* Opens path (compact_bytes TF_COMPACT_BYTES); the open must work. */
struct bpc_store *tf_open(const char *path, bool read_only);
/* One commit of a party-wide record and a vote for instance i + 1. */
void tf_commit(struct bpc_store *s, uint64_t i);
/* A compaction, then releases until the replaced file is given back. */
void tf_compact(struct bpc_store *s);
/* Commits from instance `from` on, compacting and releasing whenever due
 * (as a party does): the reviewer's reproducer, as a test. */
void tf_run(struct bpc_store *s, uint64_t from, uint32_t commits);
/* A copy of s's live records (malloc'd: the caller frees .r). */
struct tf_recs tf_records(struct bpc_store *s);
/* Opens path read-only (recovery, nothing written) and checks that it
 * holds exactly want. */
void tf_expect(const char *path, const struct tf_recs *want);
/* s's compactions so far. */
uint64_t tf_compactions(const struct bpc_store *s);
/* The whole file's bytes (malloc'd), their count in *len. */
uint8_t *tf_slurp(const char *path, size_t *len);
/* A writable open of path refused with want; err is returned. */
void tf_expect_refused(const char *path, int want, char *err, size_t err_len);
/* A file at path holding text. */
void tf_write_file(const char *path, const char *text);
/* The file at path holds exactly text. */
void tf_expect_text(const char *path, const char *text);

#endif
