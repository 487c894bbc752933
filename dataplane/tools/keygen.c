/*
 * keygen.c - bpcon-keygen: writes one pairwise key file per party, and
 * optionally a cluster file naming them.
 *
 * Scheme: a fresh random master (randombytes_buf) lives only in memory;
 * the key of pair (a, b) is bpc_auth_pair_key(master, a, b); party i's file
 * holds only the keys of its own pairs; the master is wiped at exit. So a
 * party's file reveals nothing about keys between two other parties.
 *
 * Must never: write a key file readable by others (mode 0600), or print a
 * key.
 */
#include "app.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
keygen_usage(FILE *f)
{
    fprintf(f, "usage: bpcon-keygen --parties N --out DIR [--cluster FILE] [--cluster-id ID]\n"
               "                    [--port SPEC] [--force] | --help | --version\n"
               "Writes DIR/party-I.key for I in 0..N-1 (one random key per pair; each file\n"
               "holds only its party's pair keys). --cluster also writes a cluster file\n"
               "(give it a path inside DIR: key paths are relative to it) whose parties\n"
               "use --port SPEC (vhost-mesh:DIR or port:N; required with --cluster).\n"
               "Existing key or cluster files are never overwritten (exit 1, nothing\n"
               "written) unless --force, which removes them first.\n");
}

/* Without force: fails when the cluster file exists (the key files are
 * checked by bpc_dp_keys_generate). With force: removes the key files of
 * parties 0..n-1 and the cluster file. 0, or -1 with the message printed. */
static int
keygen_clear(const char *out, uint32_t n, const char *cluster, bool force)
{
    struct stat st;
    if (!force) {
        if (cluster != NULL && lstat(cluster, &st) == 0) {
            fprintf(stderr, "bpcon-keygen: %s exists (not overwritten); --force replaces it\n",
                    cluster);
            return -1;
        }
        return 0;
    }
    for (uint32_t i = 0; i <= n; i++) {
        char path[4200];
        if (i < n) {
            snprintf(path, sizeof(path), "%s/party-%u.key", out, i);
        } else if (cluster != NULL) {
            snprintf(path, sizeof(path), "%s", cluster);
        } else {
            break;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "bpcon-keygen: removing %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* What the command line asks for. */
struct keygen_opts {
    uint64_t parties;
    uint64_t cluster_id;
    const char *out;
    const char *cluster;
    const char *port;
    bool force;
};

/* One option (not --help or --version) into k: 0, or -EINVAL when its
 * value is refused, with the flag and its accepted range set. */
static int
keygen_opt(struct keygen_opts *k, int c, const char *arg, const char **flag, const char **range)
{
    switch (c) {
    case 'n':
        *flag = "--parties";
        *range = "1..1024";
        if (dp_parse_u64(arg, BPC_DP_PARTIES_MAX, &k->parties) != 0 || k->parties == 0) {
            return -EINVAL;
        }
        return 0;
    case 'o':
        k->out = arg;
        return 0;
    case 'c':
        k->cluster = arg;
        return 0;
    case 'i':
        *flag = "--cluster-id";
        *range = "0..18446744073709551615";
        return dp_parse_u64(arg, UINT64_MAX, &k->cluster_id);
    case 'p':
        k->port = arg;
        return 0;
    case 'f':
        k->force = true;
        return 0;
    default:
        return -EINVAL;
    }
}

/* The checks once every flag is read: no stray argument, the required
 * flags, and --port with --cluster. */
static int
keygen_check(int argc, char **argv, const struct keygen_opts *k)
{
    if (optind != argc) {
        fprintf(stderr, "bpcon-keygen: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (k->parties == 0 || k->out == NULL) {
        fprintf(stderr, "bpcon-keygen: missing required flag %s\n",
                k->parties == 0 ? "--parties N" : "--out DIR");
        keygen_usage(stderr);
        return -EINVAL;
    }
    if (k->cluster != NULL && k->port == NULL) {
        fprintf(stderr, "bpcon-keygen: --cluster needs --port SPEC (vhost-mesh:DIR or port:N)\n");
        return -EINVAL;
    }
    return 0;
}

/* The command line into k: 0, or -EINVAL with the refusal printed. Exits
 * 0 on --help and --version. */
static int
keygen_parse(int argc, char **argv, struct keygen_opts *k)
{
    static const struct option opts[] = {
        {"parties", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"cluster", required_argument, NULL, 'c'},
        {"cluster-id", required_argument, NULL, 'i'},
        {"port", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *k = (struct keygen_opts){.cluster_id = 1};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            keygen_usage(stdout);
            exit(0);
        }
        if (c == 'V') {
            printf("bpcon-keygen %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(0);
        }
        if (c == '?') {
            keygen_usage(stderr); /* getopt named the flag */
            return -EINVAL;
        }
        const char *flag = "";
        const char *range = "";
        if (keygen_opt(k, c, optarg, &flag, &range) != 0) {
            fprintf(stderr, "bpcon-keygen: %s '%s': expected a decimal number in %s\n", flag,
                    optarg, range);
            return -EINVAL;
        }
    }
    return keygen_check(argc, argv, k);
}

int
main(int argc, char **argv)
{
    struct keygen_opts k;
    if (keygen_parse(argc, argv, &k) != 0) {
        return 2;
    }
    if (bpc_init() != 0) {
        fprintf(stderr, "bpcon-keygen: libsodium init failed\n");
        return 1;
    }
    if (mkdir(k.out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "bpcon-keygen: %s: %s\n", k.out, strerror(errno));
        return 1;
    }
    if (keygen_clear(k.out, (uint32_t)k.parties, k.cluster, k.force) != 0) {
        return 1;
    }
    char err[512];
    if (bpc_dp_keys_generate(k.out, (uint32_t)k.parties, err, sizeof(err)) != 0) {
        fprintf(stderr, "bpcon-keygen: %s%s\n", err, k.force ? "" : "; --force replaces them");
        return 1;
    }
    if (k.cluster != NULL &&
        dp_cluster_write(k.cluster, (uint32_t)k.parties, k.cluster_id, k.port) != 0) {
        fprintf(stderr, "bpcon-keygen: cannot write %s\n", k.cluster);
        return 1;
    }
    printf("wrote %llu key files to %s\n", (unsigned long long)k.parties, k.out);
    return 0;
}
