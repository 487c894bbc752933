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
#include "tool_out.h"

#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary folder (under --out) the new key files are written in,
 * and the temporary cluster file (beside --cluster), as mkdtemp/mkstemp
 * templates: renamed into place once every file is written. */
#define KEYGEN_TMP ".kg-XXXXXX"

static void
keygen_usage(FILE *f)
{
    fprintf(f, "usage: bpcon-keygen --parties N --out DIR\n"
               "                    [--cluster FILE [--cluster-id ID] --port SPEC] [--force]\n"
               "       bpcon-keygen --help | --version\n"
               "Writes DIR/party-I.key for I in 0..N-1 (one random key per pair; each file\n"
               "holds only its party's pair keys). --cluster also writes a cluster file\n"
               "(inside DIR it names the keys beside it, elsewhere by DIR's absolute path)\n"
               "whose parties use --port SPEC (vhost-mesh:DIR or port:N; required with\n"
               "--cluster; a relative DIR is taken from the working directory, and named\n"
               "by its absolute path unless the cluster file is in the working directory)\n"
               "and whose cluster id is --cluster-id ID (default random); both only with\n"
               "it.\n"
               "Existing key or cluster files are never overwritten (exit 1, nothing\n"
               "written) unless --force, which replaces them. The new files are written\n"
               "under temporary names first and renamed into place once all of them\n"
               "are written: a run that fails leaves the old files as they were.\n");
}

/* What the command line asks for. */
struct keygen_opts {
    uint64_t parties;
    uint64_t cluster_id;
    bool cluster_id_given; /* else a random id (two clusters never share one) */
    const char *out;
    const char *cluster;
    const char *port;
    bool force;
    /* Where the cluster file says the key files are: "" when beside it
     * (--cluster inside --out), else --out's absolute path. */
    char key_dir[BPC_DP_PATH_MAX];
    /* --port as the cluster file names it, when that differs (a relative
     * vhost-mesh DIR named by its absolute path): k->port points here. */
    char port_abs[BPC_DP_PATH_MAX];
};

/* One option (not --help or --version) into k: 0, or -EINVAL with the
 * refusal printed (the flag, the value and what it must be). */
static int
keygen_opt(struct keygen_opts *k, int c, const char *arg)
{
    char why[BPC_DP_PATH_MAX + 192];
    switch (c) {
    case 'n':
        if (dp_parse_u64(arg, BPC_DP_PARTIES_MAX, &k->parties) == 0 && k->parties != 0) {
            return 0;
        }
        fprintf(stderr, "bpcon-keygen: --parties '%s': expected a decimal number in 1..%u\n", arg,
                BPC_DP_PARTIES_MAX);
        return -EINVAL;
    case 'o':
        k->out = arg;
        return 0;
    case 'c':
        k->cluster = arg;
        return 0;
    case 'i':
        if (dp_parse_u64(arg, UINT64_MAX, &k->cluster_id) == 0) {
            k->cluster_id_given = true;
            return 0;
        }
        fprintf(stderr,
                "bpcon-keygen: --cluster-id '%s': expected a decimal number in "
                "0..18446744073709551615\n",
                arg);
        return -EINVAL;
    case 'p':
        /* The cluster file parser's own check: what is written reads back. */
        k->port = arg;
        if (bpc_dp_port_spec_check(arg, why, sizeof(why)) == 0) {
            return 0;
        }
        fprintf(stderr, "bpcon-keygen: --port: %s\n", why);
        return -EINVAL;
    case 'f':
        k->force = true;
        return 0;
    default:
        return -EINVAL;
    }
}

/* --out: not empty, no key file path under it longer than bpcon-node
 * reads (BPC_DP_PATH_MAX - 1: a cut name would be another file), and a
 * folder when it exists. 0, or -EINVAL with the refusal printed. */
static int
keygen_out_check(const struct keygen_opts *k)
{
    struct stat st;
    if (k->out[0] == '\0') {
        fprintf(stderr, "bpcon-keygen: --out '': expected a folder path\n");
        return -EINVAL;
    }
    /* The keys are written in a temporary folder under --out first. */
    int len = snprintf(NULL, 0, "%s/" KEYGEN_TMP "/party-%u.key", k->out, (unsigned)k->parties - 1);
    if (len < 0 || (size_t)len >= BPC_DP_PATH_MAX) {
        fprintf(stderr,
                "bpcon-keygen: --out '%s': too long (key file paths under it, and under the "
                "temporary folder " KEYGEN_TMP " they are written in first, must stay within %u "
                "bytes)\n",
                k->out, BPC_DP_PATH_MAX - 1);
        return -EINVAL;
    }
    if (stat(k->out, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bpcon-keygen: --out '%s': exists and is not a folder\n", k->out);
        return -EINVAL;
    }
    return 0;
}

/* The checks once every flag is read: no stray argument, the required
 * flags, --out, --port with --cluster, and --cluster-id and --port only
 * with --cluster. */
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
    if (keygen_out_check(k) != 0) {
        return -EINVAL;
    }
    if (k->cluster != NULL && k->cluster[0] == '\0') {
        fprintf(stderr, "bpcon-keygen: --cluster '': an empty path\n");
        return -EINVAL;
    }
    if (k->cluster != NULL && k->port == NULL) {
        fprintf(stderr, "bpcon-keygen: --cluster needs --port SPEC (vhost-mesh:DIR or port:N)\n");
        return -EINVAL;
    }
    if (k->port != NULL && strncmp(k->port, "vhost-mesh:", 11) == 0 &&
        k->parties > BPC_DP_MESH_PARTIES_MAX) {
        fprintf(stderr,
                "bpcon-keygen: --parties '%llu' with --port vhost-mesh: a full mesh has at most "
                "%u parties (one port per peer, %u ports)\n",
                (unsigned long long)k->parties, BPC_DP_MESH_PARTIES_MAX, BPC_DP_PORTS_MAX);
        return -EINVAL;
    }
    /* Both only go into the cluster file: without one they would be
     * silently dropped. */
    if (k->cluster == NULL && (k->cluster_id_given || k->port != NULL)) {
        fprintf(stderr,
                "bpcon-keygen: %s is written into the cluster file: it needs --cluster FILE\n",
                k->cluster_id_given ? "--cluster-id" : "--port");
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
    *k = (struct keygen_opts){.cluster_id = 0};
    static char prog[] = "bpcon-keygen";
    argv[0] = prog; /* getopt's messages name the tool, not its path */
    if (dp_flags_exact("bpcon-keygen", argc, argv, opts) != 0) {
        keygen_usage(stderr);
        return -EINVAL;
    }
    int c;
    int idx = -1;
    uint64_t seen = 0;
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if (c == 'h') {
            keygen_usage(stdout);
            exit(tool_out_status("bpcon-keygen", 0, 1));
        }
        if (c == 'V') {
            printf("bpcon-keygen %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
            exit(tool_out_status("bpcon-keygen", 0, 1));
        }
        if (c == '?') {
            keygen_usage(stderr); /* getopt named the flag */
            return -EINVAL;
        }
        /* Every flag with a value takes one: a second one is refused. */
        if (opts[idx].has_arg == required_argument &&
            dp_flag_once("bpcon-keygen", opts[idx].name, idx, &seen) != 0) {
            return -EINVAL;
        }
        if (keygen_opt(k, c, optarg) != 0) {
            return -EINVAL;
        }
    }
    return keygen_check(argc, argv, k);
}

/* True when the folder of the cluster file is dir (another spelling or
 * a link included). */
static bool
keygen_cluster_in(const struct keygen_opts *k, const char *dir)
{
    char folder[PATH_MAX];
    const char *slash = strrchr(k->cluster, '/');
    int len = slash == NULL ? 1 : slash == k->cluster ? 1 : (int)(slash - k->cluster);
    snprintf(folder, sizeof(folder), "%.*s", len, slash == NULL ? "." : k->cluster);
    struct stat a;
    struct stat b;
    return stat(folder, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* True when the folder of the cluster file is --out. */
static bool
keygen_cluster_beside(const struct keygen_opts *k)
{
    return keygen_cluster_in(k, k->out);
}

/* True when both paths exist and are one file (a link or another
 * spelling included). */
static bool
keygen_same_file(const char *a, const char *b)
{
    struct stat sa;
    struct stat sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The run's temporary names ("" when none is there): the folder the key
 * files are written in and the cluster file. */
struct keygen_tmp {
    char dir[BPC_DP_PATH_MAX];
    char cluster[PATH_MAX];
};

/* k->key_dir once --out exists: "" when the cluster file is beside the
 * keys (relative names, so the folder can be moved whole), else --out's
 * absolute path (a cluster file elsewhere named keys that were not
 * there). 0, or -1 with the refusal printed. */
static int
keygen_key_dir(struct keygen_opts *k)
{
    k->key_dir[0] = '\0';
    if (k->cluster == NULL || keygen_cluster_beside(k)) {
        return 0;
    }
    char abs[PATH_MAX];
    if (realpath(k->out, abs) == NULL) {
        fprintf(stderr, "bpcon-keygen: --out '%s': %s\n", k->out, strerror(errno));
        return -1;
    }
    int len = snprintf(NULL, 0, "%s/party-%u.key", abs, (unsigned)k->parties - 1);
    if (len < 0 || (size_t)len >= sizeof(k->key_dir)) {
        fprintf(stderr,
                "bpcon-keygen: --cluster outside --out names the keys by --out's absolute path "
                "'%s': too long (key file paths must stay within %u bytes); put --cluster in "
                "--out\n",
                abs, BPC_DP_PATH_MAX - 1);
        return -1;
    }
    /* The cluster file's words are split on blanks and '#' starts a
     * comment: a key path holding one would not read back. */
    for (const char *c = abs; *c != '\0'; c++) {
        if (*c == ' ' || *c == '\t' || *c == '#' || (unsigned char)*c < 0x20) {
            fprintf(stderr,
                    "bpcon-keygen: --cluster outside --out names the keys by --out's absolute "
                    "path '%s', which holds a blank, '#' or control byte the cluster file cannot "
                    "carry; put --cluster in --out or choose another --out\n",
                    abs);
            return -1;
        }
    }
    memcpy(k->key_dir, abs, strlen(abs) + 1); /* fits: measured above */
    return 0;
}

/* k->port once the working directory is known. A relative vhost-mesh DIR
 * is taken from the working directory, as --out is, and the cluster file
 * takes a relative DIR from its own folder (as bpcon-node reads it): the
 * file names DIR as given when it lies in the working directory (the
 * folder can be moved whole), else by its absolute path (the working
 * directory's, then DIR). Before, DIR went into the file as given and
 * each node took it from its own working directory. 0, or -1 with the
 * refusal printed (the absolute DIR too long for its sockets, or holding
 * a blank, '#' or control byte). */
static int
keygen_mesh_dir(struct keygen_opts *k)
{
    if (k->cluster == NULL || strncmp(k->port, "vhost-mesh:", 11) != 0 || k->port[11] == '/' ||
        keygen_cluster_in(k, ".")) {
        return 0;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        fprintf(stderr, "bpcon-keygen: --port '%s': the working directory: %s\n", k->port,
                strerror(errno));
        return -1;
    }
    char why[BPC_DP_PATH_MAX + 192];
    int len = snprintf(k->port_abs, sizeof(k->port_abs), "vhost-mesh:%s/%s",
                       strcmp(cwd, "/") == 0 ? "" : cwd, k->port + 11);
    if (len < 0 || (size_t)len >= sizeof(k->port_abs)) {
        snprintf(why, sizeof(why), "longer than %u bytes", BPC_DP_PATH_MAX - 1);
    } else if (bpc_dp_port_spec_check(k->port_abs, why, sizeof(why)) == 0) {
        k->port = k->port_abs;
        return 0;
    }
    fprintf(stderr,
            "bpcon-keygen: --port '%s': with --cluster outside the working directory the "
            "cluster file names a relative DIR by its absolute path: %s; give an absolute DIR "
            "or put --cluster in the working directory\n",
            k->port, why);
    return -1;
}

/* What st is, when not a regular file or a folder. */
static const char *
keygen_kind(const struct stat *st)
{
    if (S_ISLNK(st->st_mode)) {
        return "a symbolic link";
    }
    if (S_ISFIFO(st->st_mode)) {
        return "a FIFO";
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        return "a device";
    }
    return S_ISSOCK(st->st_mode) ? "a socket" : "not a regular file";
}

/* A path the run writes (a key file, or the cluster file when !key):
 * refused when it exists (a folder, a symbolic link, a FIFO, a device or
 * a socket always, as bpcon-node refuses them as inputs; a regular file
 * unless --force), naming it. Before (review B7's F4), --force replaced
 * any of them by rename. 0, or -1 with the refusal printed. */
static int
keygen_target_free(const struct keygen_opts *k, const char *path, bool key)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bpcon-keygen: %s '%s' is a folder%s; nothing written\n",
                key ? "key file" : "--cluster", path,
                keygen_same_file(path, k->out) ? " (the --out folder)" : "");
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "bpcon-keygen: %s '%s' is %s, not a regular file; nothing written (--force "
                "replaces regular files only)\n",
                key ? "key file" : "--cluster", path, keygen_kind(&st));
        return -1;
    }
    if (!k->force) {
        fprintf(stderr, "bpcon-keygen: %s exists (%s); --force replaces %s\n", path,
                key ? "key files are never overwritten" : "not overwritten", key ? "them" : "it");
        return -1;
    }
    return 0;
}

/* Everything checked before anything is written or replaced: no key file
 * or cluster file in the way (unless --force), no folder where a file
 * goes, and the cluster file none of the key files this run writes (by
 * name beside them, or as the same file). 0, or -1 with the refusal
 * printed. */
static int
keygen_targets_check(const struct keygen_opts *k)
{
    const char *base = NULL;
    if (k->cluster != NULL && keygen_cluster_beside(k)) {
        base = strrchr(k->cluster, '/');
        base = base != NULL ? base + 1 : k->cluster;
    }
    for (uint32_t i = 0; i < (uint32_t)k->parties; i++) {
        char path[BPC_DP_PATH_MAX];
        char name[32];
        snprintf(path, sizeof(path), "%s/party-%u.key", k->out, i); /* fits: keygen_out_check */
        snprintf(name, sizeof(name), "party-%u.key", i);
        if ((base != NULL && strcmp(base, name) == 0) ||
            (k->cluster != NULL && keygen_same_file(path, k->cluster))) {
            fprintf(stderr,
                    "bpcon-keygen: --cluster '%s' is party %u's key file (%s), which this run "
                    "writes; name the cluster file otherwise\n",
                    k->cluster, i, path);
            return -1;
        }
    }
    if (k->cluster != NULL && keygen_target_free(k, k->cluster, false) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < (uint32_t)k->parties; i++) {
        char path[BPC_DP_PATH_MAX];
        snprintf(path, sizeof(path), "%s/party-%u.key", k->out, i);
        if (keygen_target_free(k, path, true) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The temporary cluster file beside --cluster (mode 0666 less the umask,
 * as a plain creation): a path that cannot be created fails the run
 * here, before anything is written or replaced. NULL with the refusal
 * printed; the temporary name in tmp. */
static FILE *
keygen_cluster_open(const char *cluster, char *tmp, size_t cap)
{
    const char *slash = strrchr(cluster, '/');
    int dlen = slash == NULL ? 0 : (int)(slash - cluster) + 1;
    int len = snprintf(tmp, cap, "%.*s" KEYGEN_TMP, dlen, cluster);
    if (len < 0 || (size_t)len >= cap) {
        fprintf(stderr, "bpcon-keygen: --cluster '%s': path too long\n", cluster);
        return NULL;
    }
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f != NULL) {
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
        return f;
    }
    int e = errno;
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    fprintf(stderr, "bpcon-keygen: --cluster '%s': cannot create: %s\n", cluster, strerror(e));
    return NULL;
}

/* The run's files under temporary names: the cluster file (first: a path
 * that cannot be created fails before the keys are drawn), then the key
 * files in a fresh folder under --out, then the cluster file's contents.
 * 0, or -1 with the refusal printed and everything this run made removed. */
static int
keygen_write(struct keygen_opts *k, struct keygen_tmp *t)
{
    uint32_t n = (uint32_t)k->parties;
    FILE *cf = NULL;
    if (k->cluster != NULL) {
        cf = keygen_cluster_open(k->cluster, t->cluster, sizeof(t->cluster));
        if (cf == NULL) {
            return -1;
        }
    }
    snprintf(t->dir, sizeof(t->dir), "%s/" KEYGEN_TMP, k->out); /* fits: keygen_out_check */
    char err[512];
    int rc = mkdtemp(t->dir) != NULL ? 0 : -errno;
    if (rc != 0) {
        snprintf(err, sizeof(err), "%s: cannot create: %s", t->dir, strerror(-rc));
        t->dir[0] = '\0';
    } else {
        rc = bpc_dp_keys_generate(t->dir, n, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-keygen: %s\n", err);
    }
    if (cf == NULL) {
        return rc == 0 ? 0 : -1;
    }
    uint64_t id = k->cluster_id;
    if (!k->cluster_id_given) {
        /* A store names the cluster id it was written for (in its config
         * digest): with one default id, a store of another cluster of the
         * same size and weights opened as this one's (votes it never made
         * here). 62 random bits, odd, never 0. */
        randombytes_buf(&id, sizeof(id));
        id = (id >> 1) | 1u;
    }
    const char *key_dir = k->key_dir[0] != '\0' ? k->key_dir : NULL;
    int e = rc == 0 && dp_cluster_print(cf, n, id, k->port, key_dir) != 0 ? EIO : 0;
    if (fclose(cf) != 0 && rc == 0 && e == 0) {
        e = errno;
    }
    if (rc == 0 && e != 0) {
        fprintf(stderr, "bpcon-keygen: writing %s: %s\n", t->cluster, strerror(e));
        rc = -e;
    }
    return rc == 0 ? 0 : -1;
}

/* Removes the temporary files left (all of them after a failure; after
 * the renames, the emptied folder). */
static void
keygen_tmp_remove(const struct keygen_opts *k, const struct keygen_tmp *t)
{
    if (t->dir[0] != '\0') {
        bpc_dp_keys_remove(t->dir, (uint32_t)k->parties);
        rmdir(t->dir);
    }
    if (t->cluster[0] != '\0') {
        unlink(t->cluster);
    }
}

/* fsync of a file or a folder: 0, or -1 with the failure printed. */
static int
keygen_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -errno;
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        fprintf(stderr, "bpcon-keygen: syncing %s: %s\n", path, strerror(-rc));
    }
    return rc == 0 ? 0 : -1;
}

/* One temporary file, synced, renamed into place: over an existing file
 * only with --force (else RENAME_NOREPLACE: a file made there since the
 * check is never replaced). Synced first so that a power loss after the
 * rename leaves the new file whole, not empty where the old one was. 0,
 * or -1 with the failure printed. */
static int
keygen_place(const struct keygen_opts *k, const char *from, const char *to)
{
    if (keygen_sync(from) != 0) {
        return -1;
    }
    int rc =
        k->force ? rename(from, to) : renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    if (rc != 0) {
        fprintf(stderr, "bpcon-keygen: renaming %s to %s: %s\n", from, to, strerror(errno));
    }
    return rc;
}

/* The folders the renames changed, synced so the new names survive a
 * power loss: --out and the cluster file's. */
static int
keygen_sync_dirs(const struct keygen_opts *k)
{
    int rc = keygen_sync(k->out);
    if (rc == 0 && k->cluster != NULL) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", k->cluster);
        rc = keygen_sync(dirname(dir));
    }
    return rc;
}

/* Every file into place: the key files, then the cluster file that names
 * them. A failure part way (rare: the files were written, the folders
 * checked) is printed; without --force the files placed are removed
 * again (nothing was there before them). */
static int
keygen_commit(const struct keygen_opts *k, struct keygen_tmp *t)
{
    uint32_t n = (uint32_t)k->parties;
    uint32_t placed = 0;
    int rc = 0;
    for (; placed < n && rc == 0; placed += rc == 0 ? 1u : 0u) {
        char from[BPC_DP_PATH_MAX + 32]; /* the paths fit BPC_DP_PATH_MAX: keygen_out_check */
        char to[BPC_DP_PATH_MAX + 32];
        snprintf(from, sizeof(from), "%s/party-%u.key", t->dir, placed);
        snprintf(to, sizeof(to), "%s/party-%u.key", k->out, placed);
        rc = keygen_place(k, from, to);
    }
    if (rc == 0 && k->cluster != NULL) {
        rc = keygen_place(k, t->cluster, k->cluster);
        t->cluster[0] = rc == 0 ? '\0' : t->cluster[0];
    }
    if (rc != 0 && !k->force) {
        bpc_dp_keys_remove(k->out, placed);
    }
    return rc == 0 ? keygen_sync_dirs(k) : rc;
}

int
main(int argc, char **argv)
{
    /* Standard output a closed pipe is a failed write, reported with the
     * documented status (tool_out_status); before (review B4), SIGPIPE
     * killed the program: exit 141, nothing said. */
    signal(SIGPIPE, SIG_IGN);
    struct keygen_opts k;
    if (keygen_parse(argc, argv, &k) != 0) {
        return 2;
    }
    if (bpc_init() != 0) {
        fprintf(stderr, "bpcon-keygen: libsodium init failed\n");
        return 1;
    }
    bool made_out = mkdir(k.out, 0700) == 0;
    if (!made_out && errno != EEXIST) {
        fprintf(stderr, "bpcon-keygen: --out '%s': cannot create: %s\n", k.out, strerror(errno));
        return 1;
    }
    /* Nothing is removed or replaced before every file is written. */
    struct keygen_tmp t = {.dir = "", .cluster = ""};
    int rc = keygen_key_dir(&k) != 0 || keygen_mesh_dir(&k) != 0 || keygen_targets_check(&k) != 0
                 ? -1
                 : 0;
    rc = rc == 0 ? keygen_write(&k, &t) : rc;
    rc = rc == 0 ? keygen_commit(&k, &t) : rc;
    keygen_tmp_remove(&k, &t);
    if (rc != 0) {
        if (made_out) {
            rmdir(k.out); /* this run made it: leave no trace */
        }
        return 1;
    }
    printf("wrote %llu key files to %s\n", (unsigned long long)k.parties, k.out);
    return tool_out_status("bpcon-keygen", 0, 1);
}
