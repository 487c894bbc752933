/*
 * store.c - libbpcon-store: the durable vote store (a write-ahead log of
 * the engine's persist records and the application's state record).
 *
 * Owns: the file format of docs/STORE.md (header, CRC32C-framed frames,
 * commits), the recovery scan (torn tail versus damage), the in-memory
 * live set (newest record per instance) that restore and compaction read,
 * group commit, and crash-safe compaction. CRC32C comes from ISA-L
 * (crc32_iscsi), not from code of our own.
 *
 * Must never: trust a byte of the file before its checksum passed, load
 * anything after damage, lay a frame out by struct memory (every field is
 * encoded little-endian by hand), retry a failed fdatasync, or report a
 * commit durable before its write (and, unless no_sync, its fdatasync)
 * returned.
 */
#include "bpcon_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/crc.h>

/* Programmer errors only; file bytes are validated, never asserted on. */
#define STORE_ASSERT(x)                                                                            \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "bpcon-store: assertion failed: %s (%s:%d)\n", #x, __FILE__,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define STORE_MAGIC "bpcstore"
#define STORE_MAGIC_BYTES 8u
/* Frame flags: bit 0 closes a commit; the others are reserved (zero). */
#define STORE_FLAG_END 0x01u
/* Application frame payload: floor u64 | len u32 | reserved u32 | bytes. */
#define STORE_APP_HEAD_BYTES 16u
#define STORE_RECORD_FRAME_BYTES (BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_RECORD_BYTES)
#define STORE_APP_FRAME_MAX                                                                        \
    (BPC_STORE_FRAME_HEADER_BYTES + STORE_APP_HEAD_BYTES + BPC_STORE_APP_BYTES_MAX)
/* Encoded value identity: kind u8 | pad u8 | len u16 | id[32]. */
#define STORE_VID_BYTES (4u + BPC_VALUE_INLINE_MAX)
/* The first frame of a new store. */
#define STORE_FIRST_SEQ 1u
#define STORE_MAP_MIN 64u
#define STORE_PATH_MAX 4096u

_Static_assert(BPC_HISTORY_MAX == 4u, "format v1 holds 4 history entries");
_Static_assert(48u + STORE_VID_BYTES + 4u + 8u * BPC_HISTORY_MAX +
                       STORE_VID_BYTES * BPC_HISTORY_MAX ==
                   BPC_STORE_RECORD_BYTES,
               "record payload layout");

/* The newest record per instance, in an open-addressing table. */
struct store_map {
    struct bpc_durable *recs;
    uint8_t *used;
    uint32_t cap; /* power of two */
    uint32_t count;
};

struct bpc_store {
    struct bpc_store_io io;
    bool no_sync;
    bool read_only;
    bool failed;
    int fd;
    char path[STORE_PATH_MAX];
    char tmp[STORE_PATH_MAX + 8];
    char dir[STORE_PATH_MAX];
    uint8_t header[BPC_STORE_HEADER_BYTES]; /* this store's identity (first_seq aside) */
    uint64_t size;                          /* bytes in the file (all durable-or-written) */
    uint64_t next_seq;
    uint64_t floor;
    uint64_t live_bound; /* bytes of the largest possible compacted file */
    uint64_t compact_bytes;
    uint64_t compacted_size; /* the file's size right after the last compaction */
    struct store_map map;
    struct bpc_durable *export; /* scratch for bpc_store_records */
    uint32_t export_cap;
    bool has_app;
    uint64_t app_floor;
    uint32_t app_len;
    uint8_t app[BPC_STORE_APP_BYTES_MAX];
    uint8_t *wbuf; /* frames buffered for the next commit */
    size_t wlen;
    size_t wcap;
    size_t wlast; /* offset in wbuf of the last frame buffered */
    struct bpc_store_info info;
    struct bpc_store_stats stats;
};

/* ------------------------------------------------------------------------
 * CRC32C and little-endian fields.
 * ---------------------------------------------------------------------- */

uint32_t
bpc_store_crc32c(const void *buf, size_t len)
{
    /* ISA-L takes a non-const pointer and an int length but reads only:
     * feed it in slices below INT_MAX, through uintptr_t to keep const. */
    const uint8_t *p = buf;
    uint32_t crc = 0xffffffffu;
    while (len > 0) {
        size_t part = len > (1u << 30) ? (1u << 30) : len;
        crc = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)part, crc);
        p += part;
        len -= part;
    }
    return ~crc;
}

static void
store_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8u * i));
    }
}

static uint64_t
store_get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)p[i] << (8u * i);
    }
    return v;
}

static void store_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
store_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Record and frame encoding.
 * ---------------------------------------------------------------------- */

static void
store_put_vid(uint8_t *p, const struct bpc_vid *v)
{
    p[0] = v->kind;
    p[1] = v->pad;
    store_put_le(p + 2, v->len, 2);
    memcpy(p + 4, v->id, BPC_VALUE_INLINE_MAX);
}

/* Decodes an identity; false when its kind or pad byte is impossible. */
static bool
store_get_vid(const uint8_t *p, struct bpc_vid *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = p[0];
    v->pad = p[1];
    v->len = (uint16_t)store_get_le(p + 2, 2);
    memcpy(v->id, p + 4, BPC_VALUE_INLINE_MAX);
    return v->kind <= BPC_VALUE_NOOP && v->pad == 0;
}

/* Every field of struct bpc_durable, little-endian, at fixed offsets. */
static void
store_encode_record(uint8_t *p, const struct bpc_durable *d)
{
    memset(p, 0, BPC_STORE_RECORD_BYTES);
    store_put_le(p + 0, d->instance, 8);
    store_put_le(p + 8, d->max_bal, 8);
    store_put_le(p + 16, d->incarnation, 8);
    store_put_le(p + 24, d->floor, 8);
    store_put_le(p + 32, d->applied_seq, 8);
    store_put_le(p + 40, d->max_vbal, 8);
    store_put_vid(p + 48, &d->max_vval);
    p[84] = d->hist_count; /* 85..87 reserved, zero */
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        store_put_le(p + 88 + 8 * h, d->hist_bal[h], 8);
        store_put_vid(p + 120 + STORE_VID_BYTES * h, &d->hist_val[h]);
    }
}

/* NULL when the payload is a valid record, else what is wrong. */
static const char *
store_decode_record(const uint8_t *p, struct bpc_durable *d)
{
    memset(d, 0, sizeof(*d));
    d->instance = store_get_le(p + 0, 8);
    d->max_bal = store_get_le(p + 8, 8);
    d->incarnation = store_get_le(p + 16, 8);
    d->floor = store_get_le(p + 24, 8);
    d->applied_seq = store_get_le(p + 32, 8);
    d->max_vbal = store_get_le(p + 40, 8);
    bool ok = store_get_vid(p + 48, &d->max_vval);
    d->hist_count = p[84];
    if (p[85] != 0 || p[86] != 0 || p[87] != 0) {
        return "record reserved bytes not zero";
    }
    if (d->hist_count > BPC_HISTORY_MAX) {
        return "record history count above the limit";
    }
    for (uint32_t h = 0; h < BPC_HISTORY_MAX; h++) {
        d->hist_bal[h] = store_get_le(p + 88 + 8 * h, 8);
        ok = store_get_vid(p + 120 + STORE_VID_BYTES * h, &d->hist_val[h]) && ok;
    }
    return ok ? NULL : "record value identity malformed";
}

/* Writes a frame header for a payload already in place after it. */
static void
store_frame_seal(uint8_t *f, uint8_t type, uint8_t flags, uint32_t plen, uint64_t seq)
{
    f[4] = type;
    f[5] = flags;
    f[6] = 0;
    f[7] = 0;
    store_put_le(f + 8, plen, 4);
    store_put_le(f + 12, bpc_store_crc32c(f + BPC_STORE_FRAME_HEADER_BYTES, plen), 4);
    store_put_le(f + 16, seq, 8);
    store_put_le(f + 0, bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4), 4);
}

/* Sets the commit-end flag of a sealed frame (its header CRC again). */
static void
store_frame_end(uint8_t *f)
{
    f[5] = (uint8_t)(f[5] | STORE_FLAG_END);
    store_put_le(f + 0, bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4), 4);
}

static void
store_header_encode(uint8_t *h, uint64_t cluster_id, uint32_t party,
                    const uint8_t digest[BPC_DIGEST_BYTES], uint64_t first_seq)
{
    memset(h, 0, BPC_STORE_HEADER_BYTES);
    memcpy(h, STORE_MAGIC, STORE_MAGIC_BYTES);
    store_put_le(h + 8, BPC_STORE_FORMAT_VERSION, 4);
    store_put_le(h + 12, BPC_STORE_HEADER_BYTES, 4);
    store_put_le(h + 16, cluster_id, 8);
    store_put_le(h + 24, party, 4);
    memcpy(h + 32, digest, BPC_DIGEST_BYTES);
    store_put_le(h + 64, first_seq, 8);
    store_put_le(h + 76, bpc_store_crc32c(h, 76), 4);
}

/* ------------------------------------------------------------------------
 * The recovery scan.
 * ---------------------------------------------------------------------- */

/* What one frame at an offset turned out to be. */
enum store_verdict {
    STORE_FRAME_OK = 0,
    STORE_FRAME_TORN,    /* the file ends inside it (or in zeros): a torn write */
    STORE_FRAME_CORRUPT, /* complete but wrong: damage */
};

struct store_frame_view {
    uint8_t type;
    uint8_t flags;
    uint32_t plen;
    uint64_t seq;
    const uint8_t *payload;
};

static bool
store_all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Does the payload length fit the type? */
static bool
store_plen_ok(uint8_t type, uint32_t plen)
{
    if (type == BPC_STORE_FRAME_RECORD) {
        return plen == BPC_STORE_RECORD_BYTES;
    }
    if (type == BPC_STORE_FRAME_APP) {
        return plen >= STORE_APP_HEAD_BYTES &&
               plen <= STORE_APP_HEAD_BYTES + BPC_STORE_APP_BYTES_MAX;
    }
    return false;
}

/* Judges the frame at b[0..r): a torn write leaves a prefix of what was
 * written (or zeros where the file grew but data never landed), so only
 * those count as torn; anything complete that fails a check is damage. */
static enum store_verdict
store_frame_check(const uint8_t *b, uint64_t r, uint64_t want_seq, struct store_frame_view *v,
                  const char **why)
{
    if (r < BPC_STORE_FRAME_HEADER_BYTES) {
        return STORE_FRAME_TORN;
    }
    if (store_get_le(b, 4) != bpc_store_crc32c(b + 4, BPC_STORE_FRAME_HEADER_BYTES - 4)) {
        /* Zeros to the end: the file grew but the data never landed. */
        *why = "frame header checksum mismatch";
        return store_all_zero(b, r) ? STORE_FRAME_TORN : STORE_FRAME_CORRUPT;
    }
    v->type = b[4];
    v->flags = b[5];
    v->plen = (uint32_t)store_get_le(b + 8, 4);
    v->seq = store_get_le(b + 16, 8);
    v->payload = b + BPC_STORE_FRAME_HEADER_BYTES;
    if ((v->flags & ~STORE_FLAG_END) != 0 || b[6] != 0 || b[7] != 0) {
        *why = "frame reserved bits set";
        return STORE_FRAME_CORRUPT;
    }
    if (!store_plen_ok(v->type, v->plen)) {
        *why = "frame type or length invalid";
        return STORE_FRAME_CORRUPT;
    }
    if (v->seq != want_seq) {
        *why = "frame sequence number out of order";
        return STORE_FRAME_CORRUPT;
    }
    if (r - BPC_STORE_FRAME_HEADER_BYTES < v->plen) {
        return STORE_FRAME_TORN;
    }
    if (store_get_le(b + 12, 4) != bpc_store_crc32c(v->payload, v->plen)) {
        *why = "frame payload checksum mismatch";
        return STORE_FRAME_CORRUPT;
    }
    if (v->type == BPC_STORE_FRAME_APP &&
        (store_get_le(v->payload + 8, 4) != v->plen - STORE_APP_HEAD_BYTES ||
         store_get_le(v->payload + 12, 4) != 0)) {
        *why = "application frame length fields disagree";
        return STORE_FRAME_CORRUPT;
    }
    return STORE_FRAME_OK;
}

/* Decodes a checked frame into f; NULL or what is wrong with its record. */
static const char *
store_frame_decode(const struct store_frame_view *v, uint64_t off, struct bpc_durable *rec,
                   struct bpc_store_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->offset = off;
    f->seq = v->seq;
    f->type = v->type;
    f->commit_end = (v->flags & STORE_FLAG_END) != 0;
    if (v->type == BPC_STORE_FRAME_RECORD) {
        f->rec = rec;
        return store_decode_record(v->payload, rec);
    }
    f->app_floor = store_get_le(v->payload, 8);
    f->app_len = v->plen - STORE_APP_HEAD_BYTES;
    f->app = v->payload + STORE_APP_HEAD_BYTES;
    return NULL;
}

/* Validates the file header; 0, -EBADMSG (damaged: corrupt at 0) or
 * -EPROTONOSUPPORT (another format version). */
static int
store_header_check(const uint8_t *b, uint64_t n, struct bpc_store_info *info, char *err,
                   size_t err_len)
{
    const char *why = NULL;
    if (n < BPC_STORE_HEADER_BYTES) {
        why = n == 0 ? "empty file (no store header)" : "file shorter than the store header";
    } else if (memcmp(b, STORE_MAGIC, STORE_MAGIC_BYTES) != 0) {
        why = "not a bpcon store (bad magic)";
    } else if (store_get_le(b + 76, 4) != bpc_store_crc32c(b, 76)) {
        why = "file header checksum mismatch";
    }
    if (why != NULL) {
        info->corrupt_offset = 0;
        snprintf(info->corrupt_reason, sizeof(info->corrupt_reason), "%s", why);
        store_errf(err, err_len, "damaged at offset 0: %s", why);
        return -EBADMSG;
    }
    info->version = (uint32_t)store_get_le(b + 8, 4);
    if (info->version != BPC_STORE_FORMAT_VERSION ||
        store_get_le(b + 12, 4) != BPC_STORE_HEADER_BYTES) {
        store_errf(err, err_len, "format version %u, this build reads version %u", info->version,
                   BPC_STORE_FORMAT_VERSION);
        return -EPROTONOSUPPORT;
    }
    info->cluster_id = store_get_le(b + 16, 8);
    info->party = (uint32_t)store_get_le(b + 24, 4);
    memcpy(info->digest, b + 32, BPC_DIGEST_BYTES);
    info->first_seq = store_get_le(b + 64, 8);
    return 0;
}

typedef void (*store_frame_cb)(void *ctx, const struct bpc_store_frame *f);

/* Pass 1: where do complete commits end, and is there damage? Sets
 * valid_bytes, torn_bytes, corrupt_offset/reason and next_seq. */
static void
store_scan_bounds(const uint8_t *b, uint64_t n, struct bpc_store_info *info)
{
    uint64_t off = BPC_STORE_HEADER_BYTES;
    uint64_t seq = info->first_seq;
    info->valid_bytes = off;
    info->next_seq = seq;
    while (off < n) {
        struct store_frame_view v;
        const char *why = NULL;
        enum store_verdict verdict = store_frame_check(b + off, n - off, seq, &v, &why);
        if (verdict == STORE_FRAME_OK) {
            struct bpc_durable rec;
            struct bpc_store_frame f;
            why = store_frame_decode(&v, off, &rec, &f);
            verdict = why == NULL ? STORE_FRAME_OK : STORE_FRAME_CORRUPT;
        }
        if (verdict == STORE_FRAME_TORN) {
            break;
        }
        if (verdict == STORE_FRAME_CORRUPT) {
            info->corrupt_offset = off;
            snprintf(info->corrupt_reason, sizeof(info->corrupt_reason), "%s (frame seq %llu)", why,
                     (unsigned long long)seq);
            return;
        }
        off += BPC_STORE_FRAME_HEADER_BYTES + v.plen;
        seq++;
        if (v.flags & STORE_FLAG_END) {
            info->valid_bytes = off;
            info->next_seq = seq;
        }
    }
    info->torn_bytes = n - info->valid_bytes;
}

/* Pass 2: every frame of the complete commits, in order, to cb. */
static void
store_scan_frames(const uint8_t *b, struct bpc_store_info *info, store_frame_cb cb, void *ctx)
{
    uint64_t off = BPC_STORE_HEADER_BYTES;
    uint64_t seq = info->first_seq;
    while (off < info->valid_bytes) {
        struct store_frame_view v;
        const char *why = NULL;
        enum store_verdict verdict =
            store_frame_check(b + off, info->valid_bytes - off, seq, &v, &why);
        STORE_ASSERT(verdict == STORE_FRAME_OK); /* pass 1 checked it */
        struct bpc_durable rec;
        struct bpc_store_frame f;
        why = store_frame_decode(&v, off, &rec, &f);
        STORE_ASSERT(why == NULL);
        if (f.type == BPC_STORE_FRAME_RECORD) {
            info->records++;
            info->floor = rec.floor > info->floor ? rec.floor : info->floor;
            info->max_ballot = rec.max_bal > info->max_ballot ? rec.max_bal : info->max_ballot;
        } else {
            info->app_records++;
        }
        info->commits += f.commit_end ? 1u : 0u;
        if (cb != NULL) {
            cb(ctx, &f);
        }
        off += BPC_STORE_FRAME_HEADER_BYTES + v.plen;
        seq++;
    }
}

/* Both passes over a file image already in memory. 0 or -EBADMSG (damage:
 * the frames before it were still reported) or the header's error. */
static int
store_scan(const uint8_t *b, uint64_t n, struct bpc_store_info *info, store_frame_cb cb, void *ctx,
           char *err, size_t err_len)
{
    memset(info, 0, sizeof(*info));
    info->corrupt_offset = UINT64_MAX;
    info->file_bytes = n;
    int rc = store_header_check(b, n, info, err, err_len);
    if (rc != 0) {
        return rc;
    }
    store_scan_bounds(b, n, info);
    store_scan_frames(b, info, cb, ctx);
    if (info->corrupt_offset != UINT64_MAX) {
        info->torn_bytes = 0;
        store_errf(err, err_len, "damaged at offset %llu: %s",
                   (unsigned long long)info->corrupt_offset, info->corrupt_reason);
        return -EBADMSG;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * POSIX I/O.
 * ---------------------------------------------------------------------- */

static int
store_posix_open(void *ctx, const char *path, int flags, unsigned int mode)
{
    (void)ctx;
    int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
    return fd >= 0 ? fd : -errno;
}

static int
store_posix_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd) == 0 ? 0 : -errno;
}

static int64_t
store_posix_size(void *ctx, int fd)
{
    (void)ctx;
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : -errno;
}

static int64_t
store_posix_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    ssize_t got = pread(fd, buf, len, (off_t)off);
    return got >= 0 ? (int64_t)got : -errno;
}

static int64_t
store_posix_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    ssize_t put = pwrite(fd, buf, len, (off_t)off);
    return put >= 0 ? (int64_t)put : -errno;
}

static int
store_posix_datasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd) == 0 ? 0 : -errno;
}

static int
store_posix_dirsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd) == 0 ? 0 : -errno;
}

static int
store_posix_truncate(void *ctx, int fd, uint64_t len)
{
    (void)ctx;
    return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

static int
store_posix_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to) == 0 ? 0 : -errno;
}

static int
store_posix_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path) == 0 ? 0 : -errno;
}

static const struct bpc_store_io store_io_posix = {
    .ctx = NULL,
    .open = store_posix_open,
    .close = store_posix_close,
    .size = store_posix_size,
    .pread = store_posix_pread,
    .pwrite = store_posix_pwrite,
    .datasync = store_posix_datasync,
    .dirsync = store_posix_dirsync,
    .truncate = store_posix_truncate,
    .rename = store_posix_rename,
    .unlink = store_posix_unlink,
};

const struct bpc_store_io *
bpc_store_io_posix(void)
{
    return &store_io_posix;
}

/* Writes all of buf at off (short writes continue); 0 or -errno. */
static int
store_write_all(const struct bpc_store_io *io, int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        int64_t put = io->pwrite(io->ctx, fd, buf, len, off);
        if (put < 0) {
            return (int)put;
        }
        if (put == 0) {
            return -EIO;
        }
        buf += put;
        len -= (size_t)put;
        off += (uint64_t)put;
    }
    return 0;
}

/* Reads the whole file into a malloc'ed buffer; 0 or -errno. */
static int
store_read_all(const struct bpc_store_io *io, int fd, uint8_t **out, uint64_t *n)
{
    int64_t size = io->size(io->ctx, fd);
    if (size < 0) {
        return (int)size;
    }
    uint8_t *b = malloc(size > 0 ? (size_t)size : 1u);
    if (b == NULL) {
        return -ENOMEM;
    }
    uint64_t got = 0;
    while (got < (uint64_t)size) {
        int64_t rc = io->pread(io->ctx, fd, b + got, (size_t)((uint64_t)size - got), got);
        if (rc <= 0) {
            free(b);
            return rc < 0 ? (int)rc : -EIO;
        }
        got += (uint64_t)rc;
    }
    *out = b;
    *n = got;
    return 0;
}

/* ------------------------------------------------------------------------
 * The live set.
 * ---------------------------------------------------------------------- */

static bool
store_is_vote(uint64_t instance)
{
    return instance < BPC_DURABLE_APPLIED_BASE;
}

static uint32_t
store_hash(uint64_t instance, uint32_t mask)
{
    return (uint32_t)((instance * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static int
store_map_alloc(struct store_map *m, uint32_t cap)
{
    m->recs = calloc(cap, sizeof(*m->recs));
    m->used = calloc(cap, 1);
    m->cap = cap;
    m->count = 0;
    if (m->recs == NULL || m->used == NULL) {
        free(m->recs);
        free(m->used);
        m->recs = NULL;
        m->used = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Inserts or replaces (the newer record wins); the table has room. */
static void
store_map_put_raw(struct store_map *m, const struct bpc_durable *d)
{
    uint32_t mask = m->cap - 1;
    for (uint32_t i = store_hash(d->instance, mask), k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        if (!m->used[i]) {
            m->used[i] = 1;
            m->recs[i] = *d;
            m->count++;
            return;
        }
        if (m->recs[i].instance == d->instance) {
            m->recs[i] = *d;
            return;
        }
    }
    STORE_ASSERT(false); /* callers keep the load at or below one half */
}

/* Rebuilds the table at cap, dropping vote records below floor. */
static int
store_map_rebuild(struct store_map *m, uint32_t cap, uint64_t floor)
{
    struct store_map n;
    int rc = store_map_alloc(&n, cap);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->used[i] && (!store_is_vote(m->recs[i].instance) || m->recs[i].instance >= floor)) {
            store_map_put_raw(&n, &m->recs[i]);
        }
    }
    free(m->recs);
    free(m->used);
    *m = n;
    return 0;
}

static int
store_map_put(struct bpc_store *s, const struct bpc_durable *d)
{
    struct store_map *m = &s->map;
    if (store_is_vote(d->instance) && d->instance < s->floor) {
        return 0; /* decided: restore would drop it */
    }
    if ((m->count + 1u) * 2u > m->cap) {
        /* Prune first: the table stays near the live set, not the run. */
        int rc = store_map_rebuild(m, m->cap, s->floor);
        if (rc == 0 && (m->count + 1u) * 2u > m->cap) {
            rc = store_map_rebuild(m, m->cap * 2u, s->floor);
        }
        if (rc != 0) {
            return rc;
        }
    }
    store_map_put_raw(m, d);
    return 0;
}

/* Takes one record into the live set (floor first: it may prune). */
static int
store_take_record(struct bpc_store *s, const struct bpc_durable *d)
{
    s->floor = d->floor > s->floor ? d->floor : s->floor;
    return store_map_put(s, d);
}

static void
store_take_app(struct bpc_store *s, uint64_t floor, const uint8_t *bytes, uint32_t len)
{
    s->has_app = true;
    s->app_floor = floor;
    s->app_len = len;
    memcpy(s->app, bytes, len);
}

static int
store_cmp_instance(const void *a, const void *b)
{
    uint64_t x = ((const struct bpc_durable *)a)->instance;
    uint64_t y = ((const struct bpc_durable *)b)->instance;
    return x < y ? -1 : (x > y ? 1 : 0);
}

uint32_t
bpc_store_records(struct bpc_store *s, const struct bpc_durable **recs)
{
    if (s->export_cap < s->map.cap) {
        struct bpc_durable *e = realloc(s->export, (size_t)s->map.cap * sizeof(*e));
        if (e == NULL) {
            *recs = NULL;
            return 0;
        }
        s->export = e;
        s->export_cap = s->map.cap;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->map.cap; i++) {
        const struct bpc_durable *d = &s->map.recs[i];
        if (s->map.used[i] && (!store_is_vote(d->instance) || d->instance >= s->floor)) {
            s->export[n++] = *d;
        }
    }
    qsort(s->export, n, sizeof(*s->export), store_cmp_instance);
    *recs = s->export;
    return n;
}

int
bpc_store_app(const struct bpc_store *s, uint64_t *floor, const uint8_t **bytes, uint32_t *len)
{
    if (!s->has_app) {
        return -ENOENT;
    }
    *floor = s->app_floor;
    *bytes = s->app;
    *len = s->app_len;
    return 0;
}

const struct bpc_store_info *
bpc_store_info(const struct bpc_store *s)
{
    return &s->info;
}

/* ------------------------------------------------------------------------
 * The write buffer.
 * ---------------------------------------------------------------------- */

static int
store_wbuf_room(struct bpc_store *s, size_t more)
{
    if (s->wlen + more <= s->wcap) {
        return 0;
    }
    size_t cap = s->wcap > 0 ? s->wcap : 4096u;
    while (cap < s->wlen + more) {
        cap *= 2u;
    }
    uint8_t *b = realloc(s->wbuf, cap);
    if (b == NULL) {
        return -ENOMEM;
    }
    s->wbuf = b;
    s->wcap = cap;
    return 0;
}

/* Frames one record into buf (seq taken from *seq). */
static size_t
store_put_record_frame(uint8_t *buf, const struct bpc_durable *d, uint64_t *seq)
{
    store_encode_record(buf + BPC_STORE_FRAME_HEADER_BYTES, d);
    store_frame_seal(buf, BPC_STORE_FRAME_RECORD, 0, BPC_STORE_RECORD_BYTES, (*seq)++);
    return STORE_RECORD_FRAME_BYTES;
}

static size_t
store_put_app_frame(uint8_t *buf, uint64_t floor, const uint8_t *bytes, uint32_t len, uint64_t *seq)
{
    uint8_t *p = buf + BPC_STORE_FRAME_HEADER_BYTES;
    store_put_le(p, floor, 8);
    store_put_le(p + 8, len, 4);
    store_put_le(p + 12, 0, 4);
    if (len > 0) {
        memcpy(p + STORE_APP_HEAD_BYTES, bytes, len);
    }
    store_frame_seal(buf, BPC_STORE_FRAME_APP, 0, STORE_APP_HEAD_BYTES + len, (*seq)++);
    return BPC_STORE_FRAME_HEADER_BYTES + STORE_APP_HEAD_BYTES + len;
}

static int
store_usable(const struct bpc_store *s)
{
    if (s->failed) {
        return -EIO;
    }
    return s->read_only ? -EROFS : 0;
}

int
bpc_store_append(struct bpc_store *s, const struct bpc_durable *recs, uint32_t count)
{
    int rc = store_usable(s);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (recs[i].hist_count > BPC_HISTORY_MAX) {
            return -EINVAL;
        }
    }
    rc = store_wbuf_room(s, (size_t)count * STORE_RECORD_FRAME_BYTES);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        s->wlast = s->wlen;
        s->wlen += store_put_record_frame(s->wbuf + s->wlen, &recs[i], &s->next_seq);
        rc = store_take_record(s, &recs[i]);
        s->stats.records++;
    }
    if (rc != 0) {
        s->failed = true; /* the live set no longer matches what was buffered */
    }
    return rc;
}

int
bpc_store_put_app(struct bpc_store *s, uint64_t floor, const void *bytes, uint32_t len)
{
    int rc = store_usable(s);
    if (rc != 0) {
        return rc;
    }
    if (len > BPC_STORE_APP_BYTES_MAX || (len > 0 && bytes == NULL)) {
        return -EINVAL;
    }
    rc = store_wbuf_room(s, STORE_APP_FRAME_MAX);
    if (rc != 0) {
        return rc;
    }
    s->wlast = s->wlen;
    s->wlen += store_put_app_frame(s->wbuf + s->wlen, floor, bytes, len, &s->next_seq);
    store_take_app(s, floor, bytes, len);
    s->stats.app_records++;
    return 0;
}

static void
store_grew(struct bpc_store *s, uint64_t size)
{
    s->size = size;
    s->stats.file_bytes = size;
    if (size > s->stats.file_bytes_max) {
        s->stats.file_bytes_max = size;
    }
}

int
bpc_store_sync(struct bpc_store *s)
{
    int rc = store_usable(s);
    if (rc != 0 || s->wlen == 0) {
        return rc;
    }
    store_frame_end(s->wbuf + s->wlast);
    rc = store_write_all(&s->io, s->fd, s->wbuf, s->wlen, s->size);
    if (rc == 0 && !s->no_sync) {
        rc = s->io.datasync(s->io.ctx, s->fd);
    }
    if (rc != 0) {
        s->failed = true;
        return -EIO;
    }
    s->stats.syncs++;
    s->stats.bytes_written += s->wlen;
    store_grew(s, s->size + s->wlen);
    s->wlen = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * Compaction and creation: write PATH.tmp, sync, rename, sync directory.
 * ---------------------------------------------------------------------- */

/* Builds a complete file image of the live set into the write buffer's
 * spare room: header (first_seq = the next sequence number), the newest
 * application state, the live records, one commit. */
static int
store_image(struct bpc_store *s, uint8_t **img, size_t *len)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    if (recs == NULL) {
        return -ENOMEM;
    }
    size_t need =
        BPC_STORE_HEADER_BYTES + STORE_APP_FRAME_MAX + (size_t)n * STORE_RECORD_FRAME_BYTES;
    uint8_t *b = malloc(need);
    if (b == NULL) {
        return -ENOMEM;
    }
    uint64_t seq = s->next_seq;
    store_header_encode(b, s->info.cluster_id, s->info.party, s->info.digest, seq);
    size_t at = BPC_STORE_HEADER_BYTES;
    size_t last = 0;
    if (s->has_app) {
        last = at;
        at += store_put_app_frame(b + at, s->app_floor, s->app, s->app_len, &seq);
    }
    for (uint32_t i = 0; i < n; i++) {
        last = at;
        at += store_put_record_frame(b + at, &recs[i], &seq);
    }
    if (last != 0) {
        store_frame_end(b + last);
    }
    s->next_seq = seq;
    *img = b;
    *len = at;
    return 0;
}

/* Makes a rename (or creation) in the store's directory durable. */
static int
store_dirsync(struct bpc_store *s)
{
    if (s->no_sync) {
        return 0;
    }
    int dfd = s->io.open(s->io.ctx, s->dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0) {
        return dfd;
    }
    int rc = s->io.dirsync(s->io.ctx, dfd);
    (void)s->io.close(s->io.ctx, dfd);
    return rc;
}

/* Writes img as PATH.tmp, syncs it, renames it over PATH and syncs the
 * directory; on 0 the store appends to the new file. */
static int
store_replace(struct bpc_store *s, const uint8_t *img, size_t len)
{
    int fd = s->io.open(s->io.ctx, s->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return fd;
    }
    int rc = store_write_all(&s->io, fd, img, len, 0);
    if (rc == 0 && !s->no_sync) {
        rc = s->io.datasync(s->io.ctx, fd);
    }
    if (rc == 0) {
        rc = s->io.rename(s->io.ctx, s->tmp, s->path);
    }
    if (rc != 0) {
        (void)s->io.close(s->io.ctx, fd);
        (void)s->io.unlink(s->io.ctx, s->tmp); /* PATH is untouched */
        return rc;
    }
    /* From here PATH is the new file: appends go to it, and a failed
     * directory sync leaves the store failed (the rename may not last). */
    if (s->fd >= 0) {
        (void)s->io.close(s->io.ctx, s->fd);
    }
    s->fd = fd;
    store_grew(s, len);
    s->compacted_size = len;
    s->stats.bytes_written += len;
    return store_dirsync(s);
}

int
bpc_store_compact(struct bpc_store *s)
{
    int rc = store_usable(s);
    if (rc != 0) {
        return rc;
    }
    if (s->wlen > 0) {
        return -EBUSY;
    }
    uint8_t *img = NULL;
    size_t len = 0;
    rc = store_image(s, &img, &len);
    if (rc == 0) {
        rc = store_replace(s, img, len);
    }
    free(img);
    if (rc != 0) {
        s->failed = true;
        return -EIO;
    }
    /* The table drops what the floor passed (the file already did). */
    if (store_map_rebuild(&s->map, s->map.cap, s->floor) != 0) {
        s->failed = true;
        return -ENOMEM;
    }
    s->stats.compactions++;
    return 0;
}

bool
bpc_store_compact_due(const struct bpc_store *s)
{
    /* Twice the last compacted size as well: a live set near the
     * threshold must not compact at every commit. */
    uint64_t at =
        s->compact_bytes > 2u * s->compacted_size ? s->compact_bytes : 2u * s->compacted_size;
    return !s->failed && !s->read_only && s->size > at;
}

void
bpc_store_stats(const struct bpc_store *s, struct bpc_store_stats *out)
{
    *out = s->stats;
    out->file_bytes = s->size;
    out->compact_bytes = s->compact_bytes;
    out->failed = s->failed;
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->map.cap; i++) {
        const struct bpc_durable *d = &s->map.recs[i];
        if (s->map.used[i] && (!store_is_vote(d->instance) || d->instance >= s->floor)) {
            live++;
        }
    }
    out->live_records = live;
}

/* ------------------------------------------------------------------------
 * Open, recover, inspect, close.
 * ---------------------------------------------------------------------- */

/* PATH, PATH.tmp and PATH's directory. */
static int
store_paths(struct bpc_store *s, const char *path)
{
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(s->path)) {
        return -ENAMETOOLONG;
    }
    memcpy(s->path, path, len + 1);
    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp", path);
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(s->dir, sizeof(s->dir), ".");
    } else if (slash == path) {
        snprintf(s->dir, sizeof(s->dir), "/");
    } else {
        memcpy(s->dir, path, (size_t)(slash - path));
        s->dir[slash - path] = '\0';
    }
    return 0;
}

static void
store_defaults(struct bpc_store *s, const struct bpc_config *cfg,
               const struct bpc_store_options *opt)
{
    s->io = opt != NULL && opt->io != NULL ? *opt->io : store_io_posix;
    s->no_sync = opt != NULL && opt->no_sync;
    s->read_only = opt != NULL && opt->read_only;
    s->fd = -1;
    /* The largest compacted file: every window slot, every submitter's
     * apply state, the party-wide record and the application state. */
    s->live_bound =
        BPC_STORE_HEADER_BYTES + STORE_APP_FRAME_MAX +
        ((uint64_t)cfg->window_slots + cfg->parties_count + 1u) * STORE_RECORD_FRAME_BYTES;
    uint64_t dflt = 4u * s->live_bound;
    dflt = dflt < BPC_STORE_COMPACT_MIN_BYTES ? BPC_STORE_COMPACT_MIN_BYTES : dflt;
    s->compact_bytes = opt != NULL && opt->compact_bytes > 0 ? opt->compact_bytes : dflt;
    s->stats.compact_bytes = s->compact_bytes;
}

/* The identity checks: the file must be this party's of this cluster
 * under this configuration. */
static int
store_identity(const struct bpc_store *s, const struct bpc_store_info *got, char *err,
               size_t err_len)
{
    const struct bpc_store_info *want = &s->info;
    if (got->cluster_id != want->cluster_id) {
        store_errf(err, err_len, "%s belongs to cluster %llu, not to this cluster %llu", s->path,
                   (unsigned long long)got->cluster_id, (unsigned long long)want->cluster_id);
        return -EINVAL;
    }
    if (got->party != want->party) {
        store_errf(err, err_len, "%s belongs to party %u, not to this party %u", s->path,
                   got->party, want->party);
        return -EINVAL;
    }
    if (memcmp(got->digest, want->digest, BPC_DIGEST_BYTES) != 0) {
        store_errf(err, err_len,
                   "%s was written under configuration digest %02x%02x%02x%02x..., this "
                   "configuration's is %02x%02x%02x%02x... (parties, weights or threshold differ)",
                   s->path, got->digest[0], got->digest[1], got->digest[2], got->digest[3],
                   want->digest[0], want->digest[1], want->digest[2], want->digest[3]);
        return -EINVAL;
    }
    return 0;
}

/* Loads one frame of a complete commit into the live set (scan callback). */
static void
store_load_frame(void *ctx, const struct bpc_store_frame *f)
{
    struct bpc_store *s = ctx;
    if (s->failed) {
        return;
    }
    if (f->type == BPC_STORE_FRAME_RECORD) {
        s->failed = store_take_record(s, f->rec) != 0;
    } else {
        store_take_app(s, f->app_floor, f->app, f->app_len);
    }
}

/* Reads, checks and loads an existing file (fd open); cuts a torn tail. */
static int
store_recover(struct bpc_store *s, char *err, size_t err_len)
{
    uint8_t *b = NULL;
    uint64_t n = 0;
    int rc = store_read_all(&s->io, s->fd, &b, &n);
    if (rc != 0) {
        store_errf(err, err_len, "%s: read: %s", s->path, strerror(-rc));
        return rc;
    }
    struct bpc_store_info got;
    char why[256] = "";
    /* Frames load as the scan passes them; on any refusal the store is
     * closed, so nothing loaded before damage is ever used. */
    rc = store_scan(b, n, &got, store_load_frame, s, why, sizeof(why));
    if (rc == 0) {
        rc = store_identity(s, &got, err, err_len);
    } else {
        store_errf(err, err_len, "%s: %s%s", s->path, why,
                   rc == -EBADMSG ? "; refusing to load it (bpcon-store check names the damage)"
                                  : "");
    }
    if (rc == 0 && s->failed) {
        store_errf(err, err_len, "%s: no memory for the live set", s->path);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        s->info = got;
    }
    free(b);
    if (rc != 0) {
        return rc;
    }
    s->next_seq = got.next_seq;
    store_grew(s, got.valid_bytes);
    /* As if just compacted to the live set: a file recovered above the
     * threshold compacts at its next commit, not only after doubling. */
    const struct bpc_durable *live = NULL;
    s->compacted_size = BPC_STORE_HEADER_BYTES + (s->has_app ? STORE_APP_FRAME_MAX : 0u) +
                        (uint64_t)bpc_store_records(s, &live) * STORE_RECORD_FRAME_BYTES;
    if (got.torn_bytes > 0 && !s->read_only) {
        /* The torn commit goes before anything new is appended, durably,
         * so a later append can never sit behind its remains. */
        rc = s->io.truncate(s->io.ctx, s->fd, got.valid_bytes);
        if (rc == 0 && !s->no_sync) {
            rc = s->io.datasync(s->io.ctx, s->fd);
        }
        if (rc != 0) {
            store_errf(err, err_len, "%s: cutting the torn tail: %s", s->path, strerror(-rc));
        }
    }
    return rc;
}

/* A new store: the header alone, written as PATH.tmp and renamed. */
static int
store_create(struct bpc_store *s, char *err, size_t err_len)
{
    if (s->fd >= 0) {
        (void)s->io.close(s->io.ctx, s->fd);
        s->fd = -1;
    }
    s->next_seq = STORE_FIRST_SEQ;
    uint8_t h[BPC_STORE_HEADER_BYTES];
    store_header_encode(h, s->info.cluster_id, s->info.party, s->info.digest, s->next_seq);
    int rc = store_replace(s, h, sizeof(h));
    if (rc != 0) {
        store_errf(err, err_len, "%s: creating: %s", s->path, strerror(-rc));
        return rc;
    }
    s->info.first_seq = s->next_seq;
    s->info.next_seq = s->next_seq;
    s->info.valid_bytes = sizeof(h);
    s->info.file_bytes = sizeof(h);
    return 0;
}

static int
store_open_file(struct bpc_store *s, char *err, size_t err_len)
{
    if (!s->read_only) {
        int urc = s->io.unlink(s->io.ctx, s->tmp); /* an interrupted compaction's */
        if (urc != 0 && urc != -ENOENT) {
            store_errf(err, err_len, "%s: removing %s: %s", s->path, s->tmp, strerror(-urc));
            return urc;
        }
    }
    s->fd = s->io.open(s->io.ctx, s->path, s->read_only ? O_RDONLY : O_RDWR, 0);
    if (s->fd == -ENOENT && !s->read_only) {
        return store_create(s, err, err_len);
    }
    if (s->fd < 0) {
        int rc = s->fd;
        store_errf(err, err_len, "%s: %s", s->path, strerror(-rc));
        return rc;
    }
    int64_t size = s->io.size(s->io.ctx, s->fd);
    if (size == 0 && !s->read_only) {
        return store_create(s, err, err_len);
    }
    return store_recover(s, err, err_len);
}

int
bpc_store_open(struct bpc_store **out, const char *path, const struct bpc_config *cfg,
               const struct bpc_store_options *opt, char *err, size_t err_len)
{
    *out = NULL;
    if (path == NULL || cfg == NULL || cfg->window_slots == 0) {
        store_errf(err, err_len, "store: path and a configuration are required");
        return -EINVAL;
    }
    struct bpc_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        store_errf(err, err_len, "store: no memory");
        return -ENOMEM;
    }
    store_defaults(s, cfg, opt);
    int rc = store_paths(s, path);
    if (rc != 0) {
        store_errf(err, err_len, "store: path too long");
        free(s);
        return rc;
    }
    s->info.corrupt_offset = UINT64_MAX;
    s->info.version = BPC_STORE_FORMAT_VERSION;
    s->info.cluster_id = cfg->cluster_id;
    s->info.party = cfg->self;
    bpc_config_digest(cfg, s->info.digest);
    rc = store_map_alloc(&s->map, STORE_MAP_MIN);
    if (rc == 0) {
        rc = store_open_file(s, err, err_len);
    } else {
        store_errf(err, err_len, "store: no memory");
    }
    if (rc != 0) {
        bpc_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void
bpc_store_close(struct bpc_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->fd >= 0) {
        (void)s->io.close(s->io.ctx, s->fd);
    }
    free(s->map.recs);
    free(s->map.used);
    free(s->export);
    free(s->wbuf);
    free(s);
}

int
bpc_store_inspect(const char *path, const struct bpc_store_io *io, struct bpc_store_info *info,
                  bpc_store_frame_fn fn, void *ctx, char *err, size_t err_len)
{
    if (io == NULL) {
        io = &store_io_posix;
    }
    memset(info, 0, sizeof(*info));
    info->corrupt_offset = UINT64_MAX;
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0) {
        store_errf(err, err_len, "%s: %s", path, strerror(-fd));
        return fd;
    }
    uint8_t *b = NULL;
    uint64_t n = 0;
    int rc = store_read_all(io, fd, &b, &n);
    (void)io->close(io->ctx, fd);
    if (rc != 0) {
        store_errf(err, err_len, "%s: read: %s", path, strerror(-rc));
        return rc;
    }
    rc = store_scan(b, n, info, fn, ctx, err, err_len);
    free(b);
    return rc;
}
