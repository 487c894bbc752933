/*
 * make_store_corpus.c - writes the seed corpus of fuzz_store:
 * tests/fuzz/corpus/store/ (store files of the 4-party cluster fuzz_store
 * opens them as, each behind its flags byte). Usage: make_store_corpus
 * CORPUS_DIR (the directory holding store/, which must exist).
 *
 * Owns: the content of the store seeds. The records are what four engines
 * of the unit tests' harness (tests/unit/harness.c) persisted while
 * deciding a few commands, one of them restarted, written through the
 * store library into the store tests' in-memory file system
 * (tests/store/memfs.c) a few records per commit, with an application
 * state now and then. Deterministic: the same source writes the same
 * bytes. Must never: write outside the directory it is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "bpcon_store.h"
#include "harness.h"
#include "memfs.h"

#define MS_PATH "/f/store"

static const char *ms_dir;

static void
ms_die(const char *why)
{
    fprintf(stderr, "make_store_corpus: %s\n", why);
    exit(1);
}

/* Writes flags then the file as seed dir/store/name. */
static void
ms_write(const char *name, uint8_t flags, const uint8_t *bytes, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/store/%s", ms_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputc(flags, f) == EOF || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_store_corpus: cannot write %s\n", path);
        exit(1);
    }
}

/* Party p's persisted records as a store file on fs: per commit up to
 * `per` records, an application state before every third commit, the
 * persisted values in the first; with compact_bytes, compactions on the
 * way. */
static void
ms_store(struct memfs *fs, const struct hn_party *p, uint32_t per, uint64_t compact_bytes)
{
    memfs_init(fs, 7);
    struct bpc_store_options o = {.io = &fs->io, .compact_bytes = compact_bytes};
    struct bpc_store *s = NULL;
    char err[256];
    if (bpc_store_open(&s, MS_PATH, &p->cfg, &o, err, sizeof(err)) != 0) {
        ms_die(err);
    }
    uint32_t commit = 0;
    for (uint32_t k = 0; k < p->disk_count; k += per, commit++) {
        if (commit % 3 == 0) {
            uint8_t app[40] = "appstat1";
            app[8] = (uint8_t)commit;
            if (bpc_store_put_app(s, p->disk[k].floor, app, sizeof(app)) != 0) {
                ms_die("put_app");
            }
        }
        if (k == 0 && p->val_count > 0 && bpc_store_append_values(s, p->vals, p->val_count) != 0) {
            ms_die("append_values");
        }
        uint32_t take = p->disk_count - k < per ? p->disk_count - k : per;
        if (bpc_store_append(s, &p->disk[k], take) != 0 || bpc_store_sync(s) != 0) {
            ms_die("append");
        }
        if (bpc_store_compact_due(s) && bpc_store_compact(s) != 0) {
            ms_die("compact");
        }
    }
    bpc_store_close(s);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_store_corpus CORPUS_DIR\n");
        return 2;
    }
    ms_dir = argv[1];
    if (bpc_init() != 0) {
        ms_die("libsodium init failed");
    }
    /* The cluster of fuzz_store: 4 parties of weight 1, window 8. */
    static struct bpc_config base;
    bpc_config_defaults(&base);
    base.parties_count = 4;
    for (uint32_t i = 0; i < 4; i++) {
        base.weights[i] = 1;
    }
    base.window_slots = 8;
    base.commands_max = 64;
    base.value_bytes_max = 512;
    base.frame_bytes = 1400;
    static struct hn h;
    hn_init_cfg(&h, &base);
    hn_start(&h);
    for (uint32_t c = 0; c < 6; c++) {
        if (hn_submit(&h, c % 4, 7, c) != 0) {
            ms_die("submit");
        }
    }
    if (!hn_run(&h, 3, 1000000, 2000000000)) {
        ms_die("the harness did not decide");
    }
    hn_restart(&h, 1);
    for (uint32_t c = 6; c < 12; c++) {
        if (hn_submit(&h, c % 4, 7, c) != 0) {
            ms_die("submit");
        }
    }
    if (!hn_run(&h, 6, 1000000, 4000000000)) {
        ms_die("the harness did not decide after the restart");
    }
    static struct memfs fs;
    size_t len = 0;
    const uint8_t *f = NULL;
    for (uint32_t p = 0; p < 2; p++) {
        ms_store(&fs, &h.p[p], 3, 0);
        f = memfs_file(&fs, MS_PATH, &len);
        char name[32];
        snprintf(name, sizeof(name), "party%u", p);
        ms_write(name, (uint8_t)(p << 1), f, len);
        snprintf(name, sizeof(name), "party%u-fixed", p);
        ms_write(name, (uint8_t)(p << 1 | 1u), f, len); /* mutations keep their CRCs */
        if (p == 0) {
            ms_write("party0-stamped", 1u | 8u, f, len);
            ms_write("party0-torn", 0, f, len - 100);      /* inside the last commit */
            ms_write("party0-as-party2", 2u << 1, f, len); /* another party's file */
        }
        memfs_free(&fs);
    }
    ms_store(&fs, &h.p[0], 1, 2048); /* one record per commit, compacted */
    f = memfs_file(&fs, MS_PATH, &len);
    ms_write("party0-compacted", 1, f, len);
    memfs_free(&fs);
    hn_free(&h);
    printf("make_store_corpus: wrote the store seeds to %s/store\n", ms_dir);
    return 0;
}
