/*
 * clusterfile.c - the cluster file parser and the line reader the key
 * files share (keyfile.c: their parser and the key generator behind
 * bpcon-keygen; formats in docs/DATAPLANE.md).
 *
 * Owns: the line grammar of both files, their checks, and the file:line
 * messages for every refusal.
 *
 * Must never: crash or assert on file contents (every refusal is a message
 * and a negative errno), accept a line it does not fully understand, or
 * leave key bytes in freed memory it controls.
 */
#include "clusterfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_ether.h>

int
cf_fail(struct cf_reader *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->err != NULL && r->err_len > 0) {
        snprintf(r->err, r->err_len, "%s:%u: %s", r->path, r->line, msg);
    }
    return -EINVAL;
}

/* Reads one line into r->buf without its newline: 1 with a line, 0 at end
 * of file, or a negative errno. Byte by byte rather than fgets: fgets
 * hides a NUL byte (strlen stops there and the rest of the line would go
 * unread), and a line with one must be refused, not half understood. */
static int
cf_read_line(struct cf_reader *r)
{
    size_t len = 0;
    bool nul = false;
    int ch;
    while ((ch = getc(r->f)) != EOF && ch != '\n') {
        if (len == CF_LINE_MAX) {
            r->line++;
            return cf_fail(r, "line longer than %u bytes", CF_LINE_MAX);
        }
        nul = nul || ch == '\0';
        r->buf[len++] = (char)ch;
    }
    if (ch == EOF && ferror(r->f)) {
        /* an I/O error (a directory or FIFO never gets here: cf_open) */
        return cf_fail(r, "cannot read: %s", strerror(errno));
    }
    if (ch == EOF && len == 0) {
        return 0;
    }
    r->buf[len] = '\0';
    r->line++;
    if (nul) {
        return cf_fail(r, "line holds a NUL byte");
    }
    if (r->line == 1 && len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0) {
        /* Invisible in a message: before, "unknown keyword 'cluster_id'". */
        return cf_fail(r, "starts with a UTF-8 byte order mark (EF BB BF): save the file "
                          "without it");
    }
    return 1;
}

/* Reads the next non-empty line split into words (comments removed).
 * Returns 1 with words, 0 at end of file, or a negative errno. */
int
cf_next(struct cf_reader *r)
{
    for (;;) {
        int rc = cf_read_line(r);
        if (rc <= 0) {
            return rc;
        }
        char *hash = strchr(r->buf, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        r->count = 0;
        char *save = NULL;
        for (char *w = strtok_r(r->buf, " \t\r\n", &save); w != NULL;
             w = strtok_r(NULL, " \t\r\n", &save)) {
            if (r->count == CF_WORDS_MAX) {
                return cf_fail(r, "more than %u words", CF_WORDS_MAX);
            }
            r->words[r->count++] = w;
        }
        if (r->count > 0) {
            return 1;
        }
    }
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static int
cf_u128(const char *s, bpc_u128 max, bpc_u128 *out)
{
    if (*s == '\0') {
        return -EINVAL;
    }
    bpc_u128 v = 0;
    for (const char *c = s; *c != '\0'; c++) {
        if (!isdigit((unsigned char)*c)) {
            return -EINVAL;
        }
        unsigned d = (unsigned)(*c - '0');
        if (v > (max - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
cf_u64(struct cf_reader *r, const char *what, const char *s, uint64_t max, uint64_t *out)
{
    bpc_u128 v = 0;
    int rc = cf_u128(s, max, &v);
    if (rc == -ERANGE) {
        return cf_fail(r, "%s '%s' is above %llu, the largest it takes", what, s,
                       (unsigned long long)max);
    }
    if (rc != 0) {
        return cf_fail(r, "%s '%s' is not a decimal number in 0..%llu", what, s,
                       (unsigned long long)max);
    }
    *out = (uint64_t)v;
    return 0;
}

int
bpc_dp_mac_parse(const char *s, uint8_t mac[6])
{
    /* DPDK's parser; the cluster file asks for the colon form
     * aa:bb:cc:dd:ee:ff only (17 characters). */
    struct rte_ether_addr a;
    if (s == NULL || mac == NULL || strlen(s) != 17 || rte_ether_unformat_addr(s, &a) != 0) {
        return -EINVAL;
    }
    memcpy(mac, a.addr_bytes, 6);
    return 0;
}

/* vhost-mesh:DIR: every socket path DIR/bpc-LO-HI.sock must fit sun_path
 * (a cut path is another file, outside DIR, and two pairs may share it). */
static int
cf_mesh_dir_check(const char *spec, char *err, size_t err_len)
{
    _Static_assert(BPC_DP_MESH_DIR_MAX + sizeof("/bpc-1023-1023.sock") ==
                       sizeof(((struct sockaddr_un *)NULL)->sun_path),
                   "vhost-mesh DIR limit follows sun_path");
    size_t len = strlen(spec + 11);
    if (len <= BPC_DP_MESH_DIR_MAX) {
        return 0;
    }
    snprintf(err, err_len,
             "port 'vhost-mesh:%s': DIR is %zu bytes, at most %u (its sockets "
             "DIR/bpc-LO-HI.sock must fit a unix socket path of %zu bytes)",
             spec + 11, len, BPC_DP_MESH_DIR_MAX,
             sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
    return -EINVAL;
}

int
bpc_dp_port_spec_check(const char *spec, char *err, size_t err_len)
{
    if (spec == NULL) {
        snprintf(err, err_len, "no port spec");
        return -EINVAL;
    }
    /* One word of a cluster file's party line: a blank, '#' or control
     * byte would split it, end the line or comment out the rest (a spec
     * given on a command line and written into a cluster file must read
     * back as the same single word). */
    for (const unsigned char *c = (const unsigned char *)spec; *c != '\0'; c++) {
        if (*c <= ' ' || *c == '#' || *c == 0x7f) {
            snprintf(err, err_len, "port '%s': holds a blank, '#' or control byte", spec);
            return -EINVAL;
        }
    }
    if (strlen(spec) >= BPC_DP_PATH_MAX) {
        snprintf(err, err_len, "port spec longer than %u bytes", BPC_DP_PATH_MAX - 1);
        return -EINVAL;
    }
    if (strncmp(spec, "vhost-mesh:", 11) == 0 && spec[11] != '\0') {
        return cf_mesh_dir_check(spec, err, err_len);
    }
    if (strncmp(spec, "port:", 5) == 0) {
        bpc_u128 v = 0;
        if (cf_u128(spec + 5, UINT16_MAX, &v) == 0) {
            return 0;
        }
        snprintf(err, err_len, "port '%s': N must be a DPDK port number in 0..%u", spec,
                 UINT16_MAX);
        return -EINVAL;
    }
    snprintf(err, err_len, "unknown port spec '%s' (vhost-mesh:DIR or port:N)", spec);
    return -EINVAL;
}

/* A party line's port spec, by the check bpcon-keygen's --port shares. */
static int
cf_port_check(struct cf_reader *r, const char *spec)
{
    char why[BPC_DP_PATH_MAX + 192];
    if (bpc_dp_port_spec_check(spec, why, sizeof(why)) != 0) {
        return cf_fail(r, "%s", why);
    }
    return 0;
}

/* Copies a path-like word; relative key paths are taken from the cluster
 * file's folder so a cluster directory can be moved as a whole. */
static int
cf_path(struct cf_reader *r, const char *word, bool relative_to_file, char *out)
{
    const char *slash = strrchr(r->path, '/');
    int n;
    if (relative_to_file && word[0] != '/' && slash != NULL) {
        n = snprintf(out, BPC_DP_PATH_MAX, "%.*s/%s", (int)(slash - r->path), r->path, word);
    } else {
        n = snprintf(out, BPC_DP_PATH_MAX, "%s", word);
    }
    if (n < 0 || (size_t)n >= BPC_DP_PATH_MAX) {
        return cf_fail(r, "path '%s' longer than %u bytes", word, BPC_DP_PATH_MAX - 1);
    }
    return 0;
}

/* A party line's port spec into out: a vhost-mesh DIR that is relative is
 * taken from the cluster file's folder, as key paths are, and the folder
 * it names measured again (its sockets must fit sun_path). Before, a
 * relative DIR was left to each node's working directory: the same party
 * started from two working directories took two locks (DIR/bpc-ID.lock,
 * one in each) and was not refused. */
static int
cf_port(struct cf_reader *r, const char *spec, char *out)
{
    int rc = cf_port_check(r, spec);
    if (rc != 0) {
        return rc;
    }
    const char *slash = strrchr(r->path, '/');
    if (strncmp(spec, "vhost-mesh:", 11) != 0 || spec[11] == '/' || slash == NULL) {
        return cf_path(r, spec, false, out);
    }
    int n = snprintf(out, BPC_DP_PATH_MAX, "vhost-mesh:%.*s/%s", (int)(slash - r->path), r->path,
                     spec + 11);
    if (n < 0 || (size_t)n >= BPC_DP_PATH_MAX) {
        return cf_fail(r,
                       "port '%s': DIR taken from the cluster file's folder is longer than %u "
                       "bytes",
                       spec, BPC_DP_PATH_MAX - 1);
    }
    char why[BPC_DP_PATH_MAX + 192];
    if (cf_mesh_dir_check(out, why, sizeof(why)) != 0) {
        return cf_fail(r, "%s (relative DIR '%s' is taken from the cluster file's folder)", why,
                       spec + 11);
    }
    return 0;
}

/* Applies one "name value" attribute of a party line. */
static int
cf_party_attr(struct cf_reader *r, struct bpc_dp_party_entry *e, const char *name,
              const char *value, unsigned *seen)
{
    static const char *const names[] = {"weight", "mac", "key", "port"};
    for (unsigned k = 0; k < 4; k++) {
        if (strcmp(name, names[k]) == 0 && (*seen & (1u << k)) != 0) {
            return cf_fail(r, "party %u: attribute '%s' given twice", e->id, name);
        }
    }
    if (strcmp(name, "weight") == 0) {
        *seen |= 1u;
        int rc = cf_u64(r, "weight", value, UINT64_MAX, &e->weight);
        if (rc == 0 && e->weight == 0) {
            return cf_fail(r, "party %u: weight 0 (every listed party votes: 1..%llu)", e->id,
                           (unsigned long long)UINT64_MAX);
        }
        return rc;
    }
    if (strcmp(name, "mac") == 0) {
        *seen |= 2u;
        if (bpc_dp_mac_parse(value, e->mac) != 0) {
            return cf_fail(r, "mac '%s' is not of the form aa:bb:cc:dd:ee:ff", value);
        }
        if ((e->mac[0] & 1u) != 0) {
            return cf_fail(r, "mac '%s' is a multicast address", value);
        }
        return 0;
    }
    if (strcmp(name, "key") == 0) {
        *seen |= 4u;
        return cf_path(r, value, true, e->key_path);
    }
    if (strcmp(name, "port") == 0) {
        *seen |= 8u;
        return cf_port(r, value, e->port);
    }
    return cf_fail(r, "unknown party attribute '%s' (weight, mac, key, port)", name);
}

/* lines[id]: the line that declared party id (0: not yet), so that later
 * whole-file refusals can point at a party's own line. */
static int
cf_party_line(struct cf_reader *r, struct bpc_dp_cluster *c, unsigned *lines)
{
    if (r->count < 2 || r->count % 2 != 0) {
        return cf_fail(r, "expected: party ID weight W mac MAC key FILE port SPEC");
    }
    uint64_t id = 0;
    int rc = cf_u64(r, "party id", r->words[1], BPC_DP_PARTIES_MAX - 1, &id);
    if (rc != 0) {
        return rc;
    }
    if (lines[id] != 0) {
        return cf_fail(r, "party %llu defined twice (first on line %u)", (unsigned long long)id,
                       lines[id]);
    }
    struct bpc_dp_party_entry *e = &c->parties[id];
    memset(e, 0, sizeof(*e));
    e->id = (uint32_t)id;
    e->weight = 1;
    unsigned seen = 0;
    for (unsigned i = 2; i + 1 < r->count && rc == 0; i += 2) {
        rc = cf_party_attr(r, e, r->words[i], r->words[i + 1], &seen);
    }
    if (rc != 0) {
        return rc;
    }
    if ((seen & 6u) != 6u) {
        return cf_fail(r, "party %llu needs both mac and key", (unsigned long long)id);
    }
    if ((seen & 8u) == 0) {
        return cf_fail(r, "party %llu needs a port (vhost-mesh:DIR or port:N)",
                       (unsigned long long)id);
    }
    lines[id] = r->line;
    if (id + 1 > c->parties_count) {
        c->parties_count = (uint32_t)id + 1;
    }
    return 0;
}

/* Lines of the statements that may appear once (0: not seen yet). */
struct cf_once {
    unsigned id_line;
    unsigned threshold_line;
};

static int
cf_cluster_line(struct cf_reader *r, struct bpc_dp_cluster *c, unsigned *lines,
                struct cf_once *once)
{
    const char *k = r->words[0];
    if (strcmp(k, "party") == 0) {
        return cf_party_line(r, c, lines);
    }
    /* The keyword first: "foo" alone was "'foo' takes exactly one value"
     * (review B6). */
    if (strcmp(k, "cluster_id") != 0 && strcmp(k, "threshold") != 0) {
        return cf_fail(r, "unknown keyword '%s' (cluster_id, threshold, party)", k);
    }
    if (r->count != 2) {
        return cf_fail(r, "'%s' takes exactly one value", k);
    }
    if (strcmp(k, "cluster_id") == 0) {
        if (once->id_line != 0) {
            return cf_fail(r, "cluster_id given twice (first on line %u)", once->id_line);
        }
        once->id_line = r->line;
        return cf_u64(r, "cluster_id", r->words[1], UINT64_MAX, &c->cluster_id);
    }
    if (strcmp(k, "threshold") == 0) {
        if (once->threshold_line != 0) {
            return cf_fail(r, "threshold given twice (first on line %u)", once->threshold_line);
        }
        once->threshold_line = r->line;
        if (cf_u128(r->words[1], ~(bpc_u128)0, &c->threshold) != 0 || c->threshold == 0) {
            return cf_fail(r, "threshold '%s' is not a 128-bit decimal number above 0",
                           r->words[1]);
        }
    }
    return 0;
}

/* The threshold, once the total weight is known: a Byzantine quorum needs
 * W/2 < T <= W (reported at the threshold's own line). */
static int
cf_threshold_check(struct cf_reader *r, const struct bpc_dp_cluster *c, unsigned line)
{
    bpc_u128 total = 0;
    for (uint32_t i = 0; i < c->parties_count; i++) {
        total += c->parties[i].weight;
    }
    if (c->threshold == 0 || (c->threshold > total / 2 && c->threshold <= total)) {
        return 0;
    }
    char t[48];
    char w[48];
    char h[48];
    bpc_u128_str(c->threshold, t);
    bpc_u128_str(total, w);
    bpc_u128_str(total / 2, h);
    r->line = line;
    return cf_fail(r, "threshold %s outside %s < T <= %s (total weight %s)", t, h, w, w);
}

/* A vhost-mesh party has one port per peer: at most BPC_DP_PORTS_MAX
 * peers (reported at the first such party's line). */
static int
cf_mesh_size_check(struct cf_reader *r, const struct bpc_dp_cluster *c, const unsigned *lines)
{
    if (c->parties_count <= BPC_DP_MESH_PARTIES_MAX) {
        return 0;
    }
    for (uint32_t i = 0; i < c->parties_count; i++) {
        if (strncmp(c->parties[i].port, "vhost-mesh:", 11) == 0) {
            r->line = lines[i];
            return cf_fail(r,
                           "party %u: a vhost-mesh cluster has at most %u parties (one port per "
                           "peer, %u ports), this one %u",
                           i, BPC_DP_MESH_PARTIES_MAX, BPC_DP_PORTS_MAX, c->parties_count);
        }
    }
    return 0;
}

/* Whole-file checks once every line is read. A missing party is reported
 * at the line of the highest party (the one that makes it missing), a
 * shared mac at the later of the two lines. */
static int
cf_cluster_finish(struct cf_reader *r, struct bpc_dp_cluster *c, const unsigned *lines,
                  const struct cf_once *once)
{
    if (once->id_line == 0) {
        return cf_fail(r, "no cluster_id line");
    }
    if (c->parties_count == 0) {
        return cf_fail(r, "no party lines");
    }
    uint32_t last = c->parties_count - 1;
    for (uint32_t i = 0; i < c->parties_count; i++) {
        if (lines[i] == 0) {
            r->line = lines[last];
            return cf_fail(r, "party %u missing (party %u, on this line, needs ids 0..%u)", i, last,
                           last);
        }
    }
    for (uint32_t i = 0; i < c->parties_count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (memcmp(c->parties[i].mac, c->parties[j].mac, 6) == 0) {
                bool i_later = lines[i] > lines[j];
                r->line = i_later ? lines[i] : lines[j];
                return cf_fail(r, "parties %u and %u share a mac (party %u on line %u)",
                               i_later ? j : i, i_later ? i : j, i_later ? j : i,
                               i_later ? lines[j] : lines[i]);
            }
        }
    }
    int rc = cf_mesh_size_check(r, c, lines);
    return rc != 0 ? rc : cf_threshold_check(r, c, once->threshold_line);
}

/* What a non-regular file is, for refusals. */
static const char *
cf_file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    return S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "not a file";
}

/* Opens a cluster or key file for reading: a regular file only (a FIFO
 * would block the read, or the open, for good). Non-blocking open, fstat,
 * then blocking reads through stdio. NULL with "PATH:0: cause" in err and
 * the negative errno in *rc. */
FILE *
cf_open(const char *path, char *err, size_t err_len, int *rc)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int e = fd < 0 || fstat(fd, &st) != 0 ? errno : 0;
    if (e == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s:0: not a regular file (%s)", path, cf_file_kind(st.st_mode));
        e = EINVAL;
    } else if (e != 0) {
        snprintf(err, err_len, "%s:0: cannot open: %s", path, strerror(e));
    }
    FILE *f = e == 0 && fcntl(fd, F_SETFL, 0) == 0 ? fdopen(fd, "r") : NULL;
    if (f == NULL && e == 0) {
        e = errno;
        snprintf(err, err_len, "%s:0: cannot open: %s", path, strerror(e));
    }
    if (f == NULL && fd >= 0) {
        close(fd);
    }
    *rc = -e;
    return f;
}

int
bpc_dp_cluster_load(const char *path, struct bpc_dp_cluster *out, char *err, size_t err_len)
{
    if (path == NULL || out == NULL) {
        snprintf(err, err_len, "a cluster file path and a place for the cluster are required");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    struct cf_reader r = {.path = path, .err = err, .err_len = err_len};
    int open_rc = 0;
    r.f = cf_open(path, err, err_len, &open_rc);
    if (r.f == NULL) {
        return open_rc;
    }
    out->parties = calloc(BPC_DP_PARTIES_MAX, sizeof(*out->parties));
    unsigned *lines = calloc(BPC_DP_PARTIES_MAX, sizeof(*lines));
    int rc = out->parties == NULL || lines == NULL ? -ENOMEM : 0;
    struct cf_once once = {0, 0};
    while (rc == 0) {
        int more = cf_next(&r);
        if (more <= 0) {
            rc = more;
            break;
        }
        rc = cf_cluster_line(&r, out, lines, &once);
    }
    if (rc == 0) {
        rc = cf_cluster_finish(&r, out, lines, &once);
    }
    fclose(r.f);
    free(lines);
    if (rc != 0) {
        bpc_dp_cluster_free(out);
    }
    return rc;
}

void
bpc_dp_cluster_free(struct bpc_dp_cluster *c)
{
    if (c == NULL) {
        return;
    }
    free(c->parties);
    c->parties = NULL;
    c->parties_count = 0;
}

int
bpc_dp_cluster_config(const struct bpc_dp_cluster *c, uint32_t self, struct bpc_config *cfg,
                      char *err, size_t err_len)
{
    if (c == NULL || cfg == NULL) {
        snprintf(err, err_len, "a cluster and a place for the configuration are required");
        return -EINVAL;
    }
    bpc_config_defaults(cfg);
    if (self >= c->parties_count) {
        snprintf(err, err_len, "id %u is not in the cluster (parties 0..%u)", self,
                 c->parties_count - 1);
        return -EINVAL;
    }
    cfg->cluster_id = c->cluster_id;
    cfg->parties_count = c->parties_count;
    cfg->self = self;
    for (uint32_t i = 0; i < c->parties_count; i++) {
        cfg->weights[i] = c->parties[i].weight;
    }
    cfg->threshold = c->threshold;
    return 0;
}
