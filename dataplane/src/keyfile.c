/*
 * keyfile.c - the pairwise key file parser and the key generator behind
 * bpcon-keygen (format in docs/DATAPLANE.md), on the cluster file's line
 * reader (clusterfile.h).
 *
 * Owns: the key file's line grammar, its checks and file:line messages.
 *
 * Must never: crash or assert on file contents (every refusal is a message
 * and a negative errno), accept a line it does not fully understand, or
 * leave key bytes in freed memory it controls.
 */
#include "clusterfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* ------------------------------------------------------------------------
 * Key files.
 * ---------------------------------------------------------------------- */

static int
cf_key_line(struct cf_reader *r, uint32_t self, uint32_t n, uint8_t (*keys)[BPC_KEY_BYTES],
            uint8_t *have, bool *has_party)
{
    if (strcmp(r->words[0], "party") == 0 && r->count == 2) {
        uint64_t id = 0;
        int rc = cf_u64(r, "party id", r->words[1], UINT32_MAX, &id);
        if (rc == 0 && id != self) {
            return cf_fail(r, "key file of party %llu, expected party %u", (unsigned long long)id,
                           self);
        }
        *has_party = true;
        return rc;
    }
    if (strcmp(r->words[0], "peer") != 0 || r->count != 3) {
        return cf_fail(r, "expected: party ID | peer ID HEX64");
    }
    uint64_t peer = 0;
    int rc = cf_u64(r, "peer id", r->words[1], UINT32_MAX, &peer);
    if (rc != 0) {
        return rc;
    }
    if (peer >= n) {
        return cf_fail(r, "peer %llu is not a party of the cluster file (parties 0..%u)",
                       (unsigned long long)peer, n - 1);
    }
    if (peer == self) {
        return cf_fail(r, "peer %llu is this party itself", (unsigned long long)peer);
    }
    if (have[peer]) {
        return cf_fail(r, "peer %llu listed twice", (unsigned long long)peer);
    }
    size_t bin_len = 0;
    const char *end = NULL;
    if (strlen(r->words[2]) != 2 * BPC_KEY_BYTES ||
        sodium_hex2bin(keys[peer], BPC_KEY_BYTES, r->words[2], 2 * BPC_KEY_BYTES, NULL, &bin_len,
                       &end) != 0 ||
        bin_len != BPC_KEY_BYTES) {
        return cf_fail(r, "key of peer %llu is not %u hex digits", (unsigned long long)peer,
                       2 * BPC_KEY_BYTES);
    }
    /* Pair keys derived from a random master never repeat and are never
     * zero: a repeat is a copy error that lets one peer pass for another
     * here, a zero key one anybody can guess (review P2's F2: both loaded
     * silently). */
    if (sodium_is_zero(keys[peer], BPC_KEY_BYTES)) {
        return cf_fail(r, "key of peer %llu is all zeros", (unsigned long long)peer);
    }
    for (uint32_t q = 0; q < n; q++) {
        if (have[q] && memcmp(keys[q], keys[peer], BPC_KEY_BYTES) == 0) {
            return cf_fail(r, "key of peer %llu repeats peer %u's: every pair has its own key",
                           (unsigned long long)peer, q);
        }
    }
    have[peer] = 1;
    return 0;
}

/* A key file others can read or write holds no secret: refused, as
 * bpcon-keygen writes it (0600). Before (review P2's F2), mode 0666 was
 * loaded without a word. */
static int
cf_key_mode(struct cf_reader *r)
{
    struct stat st;
    if (fstat(fileno(r->f), &st) != 0) {
        return cf_fail(r, "cannot stat: %s", strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        return cf_fail(r, "mode %04o lets group or others read or write the keys (chmod 600 %s)",
                       (unsigned)(st.st_mode & 07777), r->path);
    }
    return 0;
}

int
bpc_dp_keys_load(const char *path, uint32_t self, uint32_t parties_count,
                 uint8_t (*keys)[BPC_KEY_BYTES], char *err, size_t err_len)
{
    if (path == NULL || keys == NULL) {
        snprintf(err, err_len, "a key file path and a place for the keys are required");
        return -EINVAL;
    }
    struct cf_reader r = {.path = path, .err = err, .err_len = err_len};
    int open_rc = 0;
    r.f = cf_open(path, err, err_len, &open_rc);
    if (r.f == NULL) {
        return open_rc;
    }
    uint8_t *have = calloc(parties_count, 1);
    int rc = have == NULL ? -ENOMEM : cf_key_mode(&r);
    bool has_party = false;
    memset(keys, 0, (size_t)parties_count * BPC_KEY_BYTES);
    while (rc == 0) {
        int more = cf_next(&r);
        if (more <= 0) {
            rc = more;
            break;
        }
        rc = cf_key_line(&r, self, parties_count, keys, have, &has_party);
    }
    for (uint32_t i = 0; rc == 0 && i < parties_count; i++) {
        if (i != self && !have[i]) {
            rc = cf_fail(&r, "no key for peer %u", i);
        }
    }
    if (rc == 0 && !has_party) {
        rc = cf_fail(&r, "no 'party ID' line");
    }
    sodium_memzero(r.buf, sizeof(r.buf));
    fclose(r.f);
    free(have);
    if (rc != 0) {
        sodium_memzero(keys, (size_t)parties_count * BPC_KEY_BYTES);
    }
    return rc;
}

/* dir/party-ID.key into path[BPC_DP_PATH_MAX]: 0, or -ENAMETOOLONG with
 * the refusal in err unless NULL (a cut path would name another file). */
static int
cf_key_path(const char *dir, uint32_t id, char *path, char *err, size_t err_len)
{
    int n = snprintf(path, BPC_DP_PATH_MAX, "%s/party-%u.key", dir, id);
    if (n < 0 || (size_t)n >= BPC_DP_PATH_MAX) {
        if (err != NULL) {
            snprintf(err, err_len, "key file path '%s/party-%u.key' longer than %u bytes", dir, id,
                     BPC_DP_PATH_MAX - 1);
        }
        return -ENAMETOOLONG;
    }
    return 0;
}

static int
cf_key_write(const char *dir, uint32_t self, uint32_t n, const uint8_t master[BPC_KEY_BYTES],
             char *err, size_t err_len)
{
    char path[BPC_DP_PATH_MAX];
    int rc = cf_key_path(dir, self, path, err, err_len);
    if (rc != 0) {
        return rc;
    }
    /* O_EXCL: never into an existing file (it would keep its mode, and
     * its keys may be in use). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    fprintf(f, "# bpcon pairwise keys of party %u (of %u); keep private to party %u\n", self, n,
            self);
    fprintf(f, "party %u\n", self);
    for (uint32_t peer = 0; peer < n; peer++) {
        if (peer == self) {
            continue;
        }
        uint8_t key[BPC_KEY_BYTES];
        char hex[2 * BPC_KEY_BYTES + 1];
        bpc_auth_pair_key(master, self, peer, key);
        sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
        fprintf(f, "peer %u %s\n", peer, hex);
        sodium_memzero(key, sizeof(key));
        sodium_memzero(hex, sizeof(hex));
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        unlink(path);
        snprintf(err, err_len, "%s: write failed", path);
        return -EIO;
    }
    return 0;
}

void
bpc_dp_keys_remove(const char *dir, uint32_t parties_count)
{
    if (dir == NULL) {
        return;
    }
    for (uint32_t i = 0; i < parties_count; i++) {
        char path[BPC_DP_PATH_MAX];
        if (cf_key_path(dir, i, path, NULL, 0) == 0) {
            unlink(path);
        }
    }
}

int
bpc_dp_keys_generate(const char *dir, uint32_t parties_count, char *err, size_t err_len)
{
    if (dir == NULL) {
        snprintf(err, err_len, "a directory is required");
        return -EINVAL;
    }
    if (parties_count == 0 || parties_count > BPC_DP_PARTIES_MAX) {
        snprintf(err, err_len, "parties %u outside 1..%u", parties_count, BPC_DP_PARTIES_MAX);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < parties_count; i++) {
        char path[BPC_DP_PATH_MAX];
        struct stat st;
        int rc = cf_key_path(dir, i, path, err, err_len);
        if (rc != 0) {
            return rc;
        }
        if (lstat(path, &st) == 0) {
            snprintf(err, err_len, "%s exists (key files are never overwritten)", path);
            return -EEXIST;
        }
    }
    /* A throw-away master: every pair key is derived from it, then it is
     * wiped, so each file holds only its own party's pair keys. */
    uint8_t master[BPC_KEY_BYTES];
    randombytes_buf(master, sizeof(master));
    int rc = 0;
    uint32_t written = 0;
    while (written < parties_count && rc == 0) {
        rc = cf_key_write(dir, written, parties_count, master, err, err_len);
        written += rc == 0 ? 1u : 0u;
    }
    sodium_memzero(master, sizeof(master));
    if (rc != 0) {
        /* All or nothing: the files written before the failure go too (the
         * failed one removed itself; none existed before, checked above). */
        bpc_dp_keys_remove(dir, written);
    }
    return rc;
}
