/*
 * files_fx.c - what the store's tests on real files share (files_fx.h):
 * their directory and paths, stores opened, committed, compacted and
 * checked, refused opens, and files written and read whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "files_fx.h"

void
tf_mkdtemp(struct tf_dir *d)
{
    snprintf(d->root, sizeof(d->root), "/tmp/bpcon-store-files.XXXXXX");
    assert_non_null(mkdtemp(d->root));
}

/* d->root/rel into buf. */
const char *
tf_at(const struct tf_dir *d, const char *rel, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", d->root, rel);
    assert_true(n > 0 && (size_t)n < len);
    return buf;
}

void
tf_rm_rf(const struct tf_dir *d)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->root);
    assert_int_equal(system(cmd), 0);
}

void
tf_cfg(struct bpc_config *cfg)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 11;
    cfg->parties_count = 4;
    cfg->self = 1;
}

struct bpc_store *
tf_open(const char *path, bool read_only)
{
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES, .read_only = read_only};
    char err[512] = "";
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, path, &cfg, &o, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "open %s: %d %s\n", path, rc, err);
    }
    assert_int_equal(rc, 0);
    return s;
}

/* One commit of a party-wide record and a vote for instance i + 1. */
void
tf_commit(struct bpc_store *s, uint64_t i)
{
    struct bpc_durable d[2] = {
        {.instance = UINT64_MAX, .max_bal = 3, .floor = i},
        {.instance = i + 1,
         .max_bal = 3,
         .max_vbal = 2,
         .floor = i,
         .max_vval = {.kind = BPC_VALUE_NOOP}},
    };
    assert_int_equal(bpc_store_append(s, d, 2), 0);
    assert_int_equal(bpc_store_sync(s), 0);
}

void
tf_compact(struct bpc_store *s)
{
    assert_int_equal(bpc_store_compact(s), 0);
    int rc;
    while ((rc = bpc_store_release(s)) > 0) {
    }
    assert_int_equal(rc, 0);
}

/* Commits from instance `from` on, compacting and releasing whenever due
 * (as a party does): the reviewer's reproducer, as a test. */
void
tf_run(struct bpc_store *s, uint64_t from, uint32_t commits)
{
    for (uint64_t i = from; i < from + commits; i++) {
        tf_commit(s, i);
        if (bpc_store_compact_due(s)) {
            tf_compact(s);
        }
    }
}

struct tf_recs
tf_records(struct bpc_store *s)
{
    const struct bpc_durable *r = NULL;
    struct tf_recs out = {.n = bpc_store_records(s, &r)};
    assert_true(out.n > 0);
    out.r = malloc((size_t)out.n * sizeof(*out.r));
    assert_non_null(out.r);
    memcpy(out.r, r, (size_t)out.n * sizeof(*out.r));
    return out;
}

/* Opens path read-only (recovery, nothing written) and checks that it
 * holds exactly want. */
void
tf_expect(const char *path, const struct tf_recs *want)
{
    struct bpc_store *s = tf_open(path, true);
    const struct bpc_durable *r = NULL;
    uint32_t n = bpc_store_records(s, &r);
    assert_int_equal(n, want->n);
    assert_memory_equal(r, want->r, (size_t)n * sizeof(*r));
    assert_int_equal(bpc_store_info(s)->corrupt_offset, UINT64_MAX);
    bpc_store_close(s);
}

uint64_t
tf_compactions(const struct bpc_store *s)
{
    struct bpc_store_stats st;
    bpc_store_stats(s, &st);
    return st.compactions;
}

/* The whole file's bytes. */
uint8_t *
tf_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A writable open of path refused with want; err is returned. */
void
tf_expect_refused(const char *path, int want, char *err, size_t err_len)
{
    struct bpc_config cfg;
    tf_cfg(&cfg);
    struct bpc_store_options o = {.compact_bytes = TF_COMPACT_BYTES};
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, path, &cfg, &o, err, err_len);
    if (rc != want) {
        fail_msg("open %s: %d (%s), expected %d", path, rc, err, want);
    }
    assert_null(s);
}

void
tf_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

void
tf_expect_text(const char *path, const char *text)
{
    size_t len = 0;
    uint8_t *got = tf_slurp(path, &len);
    if (len != strlen(text) || memcmp(got, text, len) != 0) {
        fail_msg("%s: %zu bytes, not the %zu of \"%s\" it held", path, len, strlen(text), text);
    }
    free(got);
}
