/*
 * clusterfile.h - the line reader the cluster file (clusterfile.c) and
 * the key files (keyfile.c) share; not installed.
 *
 * Must never: be included by applications, or declare a function without
 * CF_FN.
 */
#ifndef BPC_DP_CLUSTERFILE_H
#define BPC_DP_CLUSTERFILE_H

#include "bpcon_dp.h"

#include <stdio.h>

/* Hidden: the library's own, out of its exports. */
#define CF_FN __attribute__((visibility("hidden")))

/* Longest line either file may hold (a key line is about 80 bytes). */
#define CF_LINE_MAX 1024u
/* Words on one line: "party" + 5 attribute pairs with room to spare. */
#define CF_WORDS_MAX 16u

struct cf_reader {
    FILE *f;
    const char *path;
    unsigned line;
    char buf[CF_LINE_MAX + 2];
    char *words[CF_WORDS_MAX];
    unsigned count;
    char *err;
    size_t err_len;
};

/* A refusal at r's current line: "PATH:LINE: message" in r->err;
 * returns -EINVAL. */
CF_FN __attribute__((format(printf, 2, 3))) int cf_fail(struct cf_reader *r, const char *fmt, ...);
/* The next non-empty line split into words (comments removed): 1 with
 * words, 0 at end of file, or a negative errno. */
CF_FN int cf_next(struct cf_reader *r);
/* s as a decimal u64 of at most max into *out, or a refusal naming what. */
CF_FN int cf_u64(struct cf_reader *r, const char *what, const char *s, uint64_t max, uint64_t *out);
/* path opened for reading if it is a regular file: NULL with
 * "PATH:0: cause" in err and the negative errno in *rc. */
CF_FN FILE *cf_open(const char *path, char *err, size_t err_len, int *rc);

#endif
