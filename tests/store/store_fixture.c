/*
 * store_fixture.c - writes the store files tool_test.sh drives bpcon-store
 * with: good.store (three commits on the real file system, through the
 * library), torn.store (good plus part of a fourth commit, as written), zero.store
 * (good plus zeros), corrupt.store (good with one byte flipped inside the
 * second commit), hdrlen.store and newer.store (good with a header length
 * or a version it does not have, its checksum sealed again), resv28.store
 * and resv72.store (good with reserved header bytes 28 or 72 set, sealed),
 * notastore.store (text). Prints the expected figures as
 * shell assignments.
 *
 * Must never: write outside the directory it is given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon_store.h"

static int
fx_write(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -errno;
    }
    size_t put = fwrite(b, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -EIO;
}

static uint8_t *
fx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    static uint8_t buf[1u << 20];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

/* Four commits of a party-wide record and two votes each. */
static int
fx_good(const char *path, uint64_t *bounds)
{
    struct bpc_config cfg;
    bpc_config_defaults(&cfg);
    cfg.cluster_id = 42;
    cfg.self = 1;
    char err[256] = "";
    struct bpc_store *s = NULL;
    int rc = bpc_store_open(&s, path, &cfg, NULL, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "store_fixture: %s\n", err);
        return rc;
    }
    for (uint64_t k = 0; rc == 0 && k < 4; k++) {
        struct bpc_durable b[3];
        memset(b, 0, sizeof(b));
        b[0].instance = UINT64_MAX;
        b[0].max_bal = 5 + k;
        b[0].floor = 10 + k;
        for (uint32_t i = 1; i < 3; i++) {
            b[i] = b[0];
            b[i].instance = 10 + k + i;
            b[i].max_vbal = 5 + k;
            b[i].max_vval.kind = BPC_VALUE_INLINE;
            b[i].max_vval.len = 4;
            memcpy(b[i].max_vval.id, "cmd!", 4);
        }
        rc = bpc_store_append(s, b, 3);
        rc = rc == 0 ? bpc_store_sync(s) : rc;
        struct bpc_store_stats st;
        bpc_store_stats(s, &st);
        bounds[k] = st.file_bytes;
    }
    bpc_store_close(s);
    return rc;
}

/* good's first len bytes with header field at offset off (u32) set to v
 * and the header sealed again (its CRC32C over bytes 0..75 at 76): a
 * header whose checksum holds but whose contents do not. */
static int
fx_header_field(const char *path, const uint8_t *good, size_t len, size_t off, uint32_t v)
{
    static uint8_t b[1u << 20];
    memcpy(b, good, len);
    for (uint32_t i = 0; i < 4; i++) {
        b[off + i] = (uint8_t)(v >> (8 * i));
    }
    uint32_t crc = bpc_store_crc32c(b, 76);
    for (uint32_t i = 0; i < 4; i++) {
        b[76 + i] = (uint8_t)(crc >> (8 * i));
    }
    return fx_write(path, b, len);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: store_fixture DIR\n");
        return 2;
    }
    char path[4096];
    uint64_t bounds[4];
    snprintf(path, sizeof(path), "%s/good.store", argv[1]);
    if (fx_good(path, bounds) != 0) {
        return 1;
    }
    size_t len = 0;
    uint8_t *b = fx_read(path, &len);
    if (b == NULL || len != bounds[3] || len + 4096 > (1u << 20)) {
        fprintf(stderr, "store_fixture: cannot read back %s\n", path);
        return 1;
    }
    /* good: the first three commits; torn: the fourth cut 100 bytes into
     * its second frame. */
    len = bounds[2];
    int rc = fx_write(path, b, len);
    size_t torn = len + BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES + 100u;
    snprintf(path, sizeof(path), "%s/torn.store", argv[1]);
    rc = rc == 0 ? fx_write(path, b, torn) : rc;
    uint8_t zeros[512] = {0};
    memcpy(b + len, zeros, sizeof(zeros));
    snprintf(path, sizeof(path), "%s/zero.store", argv[1]);
    rc = rc == 0 ? fx_write(path, b, len + sizeof(zeros)) : rc;
    /* hdrlen: header length 81 (the format has 80); newer: version 99. */
    snprintf(path, sizeof(path), "%s/hdrlen.store", argv[1]);
    rc = rc == 0 ? fx_header_field(path, b, len, 12, BPC_STORE_HEADER_BYTES + 1u) : rc;
    snprintf(path, sizeof(path), "%s/newer.store", argv[1]);
    rc = rc == 0 ? fx_header_field(path, b, len, 8, 99) : rc;
    /* resv28, resv72: a reserved header field not zero. */
    snprintf(path, sizeof(path), "%s/resv28.store", argv[1]);
    rc = rc == 0 ? fx_header_field(path, b, len, 28, 1) : rc;
    snprintf(path, sizeof(path), "%s/resv72.store", argv[1]);
    rc = rc == 0 ? fx_header_field(path, b, len, 72, 0x01000000u) : rc;
    uint64_t flip = bounds[0] + BPC_STORE_FRAME_HEADER_BYTES + 8u; /* second commit */
    b[flip] ^= 0x10;
    snprintf(path, sizeof(path), "%s/corrupt.store", argv[1]);
    rc = rc == 0 ? fx_write(path, b, len) : rc;
    snprintf(path, sizeof(path), "%s/notastore.store", argv[1]);
    static const char text[] = "just some text, long enough to be a header if it were one at "
                               "all, which it is not\n";
    rc = rc == 0 ? fx_write(path, (const uint8_t *)text, sizeof(text) - 1u) : rc;
    if (rc != 0) {
        fprintf(stderr, "store_fixture: writing %s: %s\n", path, strerror(-rc));
        return 1;
    }
    printf("good_bytes=%llu good_records=9 good_frames=9 torn_bytes=%llu zero_bytes=%zu "
           "corrupt_offset=%llu corrupt_valid=%llu\n",
           (unsigned long long)len, (unsigned long long)(torn - len), sizeof(zeros),
           (unsigned long long)bounds[0], (unsigned long long)bounds[0]);
    return 0;
}
