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

int
main(int argc, char **argv)
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
    uint64_t parties = 0;
    uint64_t cluster_id = 1;
    const char *out = NULL;
    const char *cluster = NULL;
    const char *port = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        const char *flag = "";
        const char *range = "";
        switch (c) {
        case 'n':
            flag = "--parties";
            range = "1..1024";
            rc = dp_parse_u64(optarg, BPC_DP_PARTIES_MAX, &parties);
            rc = rc == 0 && parties == 0 ? -EINVAL : rc;
            break;
        case 'o':
            out = optarg;
            break;
        case 'c':
            cluster = optarg;
            break;
        case 'i':
            flag = "--cluster-id";
            range = "0..18446744073709551615";
            rc = dp_parse_u64(optarg, UINT64_MAX, &cluster_id);
            break;
        case 'p':
            port = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            keygen_usage(stdout);
            return 0;
        case 'V':
            printf("bpcon-keygen %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            return 0;
        default:
            keygen_usage(stderr); /* getopt named the flag */
            return 2;
        }
        if (rc != 0) {
            fprintf(stderr, "bpcon-keygen: %s '%s': expected a decimal number in %s\n", flag,
                    optarg, range);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bpcon-keygen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (parties == 0 || out == NULL) {
        fprintf(stderr, "bpcon-keygen: missing required flag %s\n",
                parties == 0 ? "--parties N" : "--out DIR");
        keygen_usage(stderr);
        return 2;
    }
    if (cluster != NULL && port == NULL) {
        fprintf(stderr, "bpcon-keygen: --cluster needs --port SPEC (vhost-mesh:DIR or port:N)\n");
        return 2;
    }
    if (bpc_init() != 0) {
        fprintf(stderr, "bpcon-keygen: libsodium init failed\n");
        return 1;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "bpcon-keygen: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (keygen_clear(out, (uint32_t)parties, cluster, force) != 0) {
        return 1;
    }
    char err[512];
    if (bpc_dp_keys_generate(out, (uint32_t)parties, err, sizeof(err)) != 0) {
        fprintf(stderr, "bpcon-keygen: %s%s\n", err, force ? "" : "; --force replaces them");
        return 1;
    }
    if (cluster != NULL && dp_cluster_write(cluster, (uint32_t)parties, cluster_id, port) != 0) {
        fprintf(stderr, "bpcon-keygen: cannot write %s\n", cluster);
        return 1;
    }
    printf("wrote %llu key files to %s\n", (unsigned long long)parties, out);
    return 0;
}
