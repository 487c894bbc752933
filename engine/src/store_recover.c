/*
 * store_recover.c - the recovery scan: judges every frame of a file image
 * (complete, torn or damaged), finds where complete commits end, and
 * hands their frames, in order, to a callback: to the live set (records,
 * values and the application state) when bpc_store_open recovers a file,
 * to the caller of bpc_store_inspect.
 *
 * Owns: the torn-versus-damage verdict of docs/STORE.md (Recovery), the
 * header and identity checks, bpc_store_info's scan fields, and cutting a
 * torn tail off (ftruncate + fdatasync) before anything is appended.
 * Must never: trust a byte of the file before its checksum passed, load
 * or report anything after damage or past the last commit end, or write
 * to a file opened read-only (and bpc_store_inspect never writes).
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * One frame, the file header.
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
    if (type == BPC_STORE_FRAME_VALUE) {
        return plen > BPC_STORE_VALUE_HEAD_BYTES + BPC_VALUE_INLINE_MAX &&
               plen <= BPC_STORE_VALUE_HEAD_BYTES + BPC_VALUE_BYTES_MAX;
    }
    return false;
}

/* Judges the frame at b[0..r) of a file of format version `version`: a
 * torn write leaves a prefix of what was written (or zeros where the file
 * grew but data never landed), so only those count as torn; anything
 * complete that fails a check is damage, and so is a value frame in a file
 * whose version has none (no writer of it wrote one). */
static enum store_verdict
store_frame_check(const uint8_t *b, uint64_t r, uint64_t want_seq, uint32_t version,
                  struct store_frame_view *v, const char **why)
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
    if (v->type == BPC_STORE_FRAME_VALUE && version < 3u) {
        *why = "value frame in a file of format version 1 or 2";
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

/* Decodes a checked frame into f (rec and vid hold what f points to);
 * NULL or what is wrong with its record or value. A value's bytes are
 * hashed only when check_digest: the scan's first pass judges the frames'
 * shape, the second hashes each value once and skips one whose bytes do
 * not hash to its identity. */
static const char *
store_frame_decode(const struct store_frame_view *v, uint64_t off, bool check_digest,
                   struct bpc_durable *rec, struct bpc_vid *vid, struct bpc_store_frame *f)
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
    if (v->type == BPC_STORE_FRAME_VALUE) {
        f->value_vid = vid;
        f->value_bytes = v->payload + BPC_STORE_VALUE_HEAD_BYTES;
        return store_decode_value(v->payload, v->plen, check_digest, &f->value_instance, vid);
    }
    f->app_floor = store_get_le(v->payload, 8);
    f->app_len = v->plen - STORE_APP_HEAD_BYTES;
    f->app = v->payload + STORE_APP_HEAD_BYTES;
    return NULL;
}

/* Validates the file header; 0, -EBADMSG (damaged: corrupt at 0, a header
 * length other than 80 or a reserved byte set included) or
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
    } else if (store_get_le(b + 64, 8) == UINT64_MAX) {
        /* No writer comes near it; its frames would wrap to 0. Before
         * (review B7), such a file checked intact. */
        why = "file header first sequence number 2^64 - 1 (its frames would wrap to 0)";
    }
    char len_why[64];
    uint32_t version = why == NULL ? (uint32_t)store_get_le(b + 8, 4) : 0;
    bool known = version >= BPC_STORE_FORMAT_VERSION_MIN && version <= BPC_STORE_FORMAT_VERSION;
    uint64_t hlen = why == NULL ? store_get_le(b + 12, 4) : 0;
    if (why == NULL && known && hlen != BPC_STORE_HEADER_BYTES) {
        /* Every version this build reads has an 80-byte header: another
         * length under a good checksum is damage, not a newer format. */
        snprintf(len_why, sizeof(len_why), "file header length %llu, version %u has %u",
                 (unsigned long long)hlen, version, BPC_STORE_HEADER_BYTES);
        why = len_why;
    } else if (why == NULL && known && store_get_le(b + 28, 4) != 0) {
        /* Reserved, zero in every version this build reads (review B5). */
        why = "file header reserved bytes 28..31 not zero";
    } else if (why == NULL && known && store_get_le(b + 72, 4) != 0) {
        why = "file header reserved bytes 72..75 not zero";
    }
    if (why != NULL) {
        info->corrupt_offset = 0;
        snprintf(info->corrupt_reason, sizeof(info->corrupt_reason), "%s", why);
        store_errf(err, err_len, "damaged at offset 0: %s", why);
        return -EBADMSG;
    }
    info->version = version;
    if (!known) {
        store_errf(err, err_len, "format version %u, this build reads versions %u to %u",
                   info->version, BPC_STORE_FORMAT_VERSION_MIN, BPC_STORE_FORMAT_VERSION);
        return -EPROTONOSUPPORT;
    }
    info->cluster_id = store_get_le(b + 16, 8);
    info->party = (uint32_t)store_get_le(b + 24, 4);
    memcpy(info->digest, b + 32, BPC_DIGEST_BYTES);
    info->first_seq = store_get_le(b + 64, 8);
    return 0;
}

/* ------------------------------------------------------------------------
 * The scan: two passes over a file image.
 * ---------------------------------------------------------------------- */

typedef void (*store_frame_cb)(void *ctx, const struct bpc_store_frame *f);
/* Every frame of the complete commits (skipped: a value frame whose bytes
 * do not hash to its identity, which cb never sees). */
typedef void (*store_seen_cb)(void *ctx, const struct bpc_store_frame *f, bool skipped);

/* Does vote record rec carry a clean floor (its last history entry of kind
 * NONE)? No writer of format version 1 or 2 wrote one; builds of version 3
 * did from 2026-12-04 on, so a version 3 file may hold them. */
static bool
store_rec_has_clean_floor(const struct bpc_durable *rec)
{
    return !rec->decided && rec->hist_count > 0 &&
           rec->hist_val[rec->hist_count - 1u].kind == BPC_VALUE_NONE;
}

/* What pass 1 keeps to check each frame against those before it: the
 * party-wide records' order (store_pw_order), the live set and its floor
 * as a writer takes them (store_map_take: a record is compared with the
 * newest live one of its instance, store_rec_order), the application
 * state's floor. No memory for the live set: fewer comparisons, never
 * more than bpc_store_append made. */
struct store_order {
    bool has_pw;
    uint64_t pw_max_bal;
    uint64_t pw_inc;
    struct store_map map;
    bool map_ok;
    uint64_t floor;
    bool has_app;
    uint64_t app_floor;
};

/* NULL, or why the decoded record frame f (rec) is damage, taken into o
 * when it is not. */
static const char *
store_scan_record(struct store_order *o, uint32_t version, const struct bpc_durable *rec)
{
    if (version < 3u && store_rec_has_clean_floor(rec)) {
        return "clean floor in a file of format version 1 or 2";
    }
    if (version < 2u && rec->decided) {
        return "decided record in a file of format version 1"; /* byte 85 (review B3) */
    }
    /* The append's own check: a record restore refuses is damage, not
     * something to load. Before, such a record (a floor of 2^64 - 2 an
     * older build wrote, a vote above its max_bal) was loaded, bpcon-store
     * check called the file intact while the party could not start from
     * it, and a writable open of an older version's file rewrote it under
     * that floor, dropping its votes, before the restore failed (the
     * store review's bad_vbal, up). */
    const char *why = store_record_check(rec);
    if (why == NULL) {
        /* A later party-wide record that lowers max_bal or the
         * incarnation: no engine writes one, and a restore would take the
         * lower promise (review B6). Before, loaded. */
        why = store_pw_order(rec, &o->has_pw, &o->pw_max_bal, &o->pw_inc);
    }
    if (why == NULL && o->map_ok) {
        /* A vote or apply-state record that lowers its instance's (review
         * B7's F1). Before, loaded: a restart remembered less. */
        why = store_rec_order(store_map_live(&o->map, rec->instance, o->floor), rec);
    }
    if (why == NULL && o->map_ok) {
        o->map_ok = store_map_take(&o->map, &o->floor, rec) == 0;
    }
    return why;
}

/* NULL, or why the frame at v (offset off) is damage. */
static const char *
store_scan_frame(struct store_order *o, uint32_t version, const struct store_frame_view *v,
                 uint64_t off)
{
    struct bpc_durable rec;
    struct bpc_vid vid;
    struct bpc_store_frame f;
    const char *why = store_frame_decode(v, off, false, &rec, &vid, &f);
    if (why == NULL && f.type == BPC_STORE_FRAME_RECORD) {
        why = store_scan_record(o, version, &rec);
    }
    if (why == NULL && f.type == BPC_STORE_FRAME_APP) {
        if (o->has_app && f.app_floor < o->app_floor) {
            return STORE_WHY_APP_ORDER; /* bpc_store_put_app refuses it (review B7's F1) */
        }
        o->has_app = true;
        o->app_floor = f.app_floor;
    }
    return why;
}

/* Pass 1: where do complete commits end, and is there damage? Sets
 * valid_bytes, torn_bytes, corrupt_offset/reason and next_seq. */
static void
store_scan_bounds(const uint8_t *b, uint64_t n, struct bpc_store_info *info)
{
    uint64_t off = BPC_STORE_HEADER_BYTES;
    uint64_t seq = info->first_seq;
    info->valid_bytes = off;
    info->next_seq = seq;
    struct store_order o;
    memset(&o, 0, sizeof(o));
    o.map_ok = store_map_init(&o.map) == 0;
    while (off < n) {
        struct store_frame_view v;
        const char *why = NULL;
        enum store_verdict verdict =
            store_frame_check(b + off, n - off, seq, info->version, &v, &why);
        if (verdict == STORE_FRAME_OK) {
            why = seq == UINT64_MAX ? "frame sequence number 2^64 - 1 (the next would wrap to 0)"
                                    : store_scan_frame(&o, info->version, &v, off);
            verdict = why == NULL ? STORE_FRAME_OK : STORE_FRAME_CORRUPT;
        }
        if (verdict == STORE_FRAME_TORN) {
            break;
        }
        if (verdict == STORE_FRAME_CORRUPT) {
            info->corrupt_offset = off;
            snprintf(info->corrupt_reason, sizeof(info->corrupt_reason), "%s (frame seq %llu)", why,
                     (unsigned long long)seq);
            break;
        }
        off += BPC_STORE_FRAME_HEADER_BYTES + v.plen;
        seq++;
        if (v.flags & STORE_FLAG_END) {
            info->valid_bytes = off;
            info->next_seq = seq;
        }
    }
    store_map_free(&o.map);
    if (info->corrupt_offset == UINT64_MAX) {
        info->torn_bytes = n - info->valid_bytes;
    }
}

/* Pass 2: every frame of the complete commits, in order, to cb (those
 * whose value bytes do not hash to it not), and to seen (every one). */
static void
store_scan_frames(const uint8_t *b, struct bpc_store_info *info, store_frame_cb cb,
                  store_seen_cb seen, void *ctx)
{
    uint64_t off = BPC_STORE_HEADER_BYTES;
    uint64_t seq = info->first_seq;
    while (off < info->valid_bytes) {
        struct store_frame_view v;
        const char *why = NULL;
        enum store_verdict verdict =
            store_frame_check(b + off, info->valid_bytes - off, seq, info->version, &v, &why);
        STORE_ASSERT(verdict == STORE_FRAME_OK); /* pass 1 checked it */
        struct bpc_durable rec;
        struct bpc_vid vid;
        struct bpc_store_frame f;
        why = store_frame_decode(&v, off, true, &rec, &vid, &f);
        /* Pass 1 checked the shape. Bytes that do not hash to their
         * identity (CRC-valid, so written that way: a caller's mistake
         * that bpc_store_append_values does not hash to catch) are not
         * loaded, as bpc_engine_restore_values would skip them; before,
         * the file was called damaged and the party could never restart. */
        STORE_ASSERT(why == NULL || why == STORE_WHY_DIGEST);
        if (why != NULL) {
            info->values_skipped++;
        } else if (f.type == BPC_STORE_FRAME_RECORD) {
            info->records++;
            info->floor = rec.floor > info->floor ? rec.floor : info->floor;
            info->max_ballot = rec.max_bal > info->max_ballot ? rec.max_bal : info->max_ballot;
        } else if (f.type == BPC_STORE_FRAME_VALUE) {
            info->values++;
        } else {
            info->app_records++;
        }
        info->commits += f.commit_end ? 1u : 0u;
        if (cb != NULL && why == NULL) {
            cb(ctx, &f);
        }
        if (seen != NULL) {
            seen(ctx, &f, why != NULL);
        }
        off += BPC_STORE_FRAME_HEADER_BYTES + v.plen;
        seq++;
    }
}

/* The header of a file of n bytes (b: at least its first min(n, 80)
 * bytes) into a fresh info: 0, or the header's error. */
static int
store_scan_header(const uint8_t *b, uint64_t n, struct bpc_store_info *info, char *err,
                  size_t err_len)
{
    memset(info, 0, sizeof(*info));
    info->corrupt_offset = UINT64_MAX;
    info->file_bytes = n;
    return store_header_check(b, n, info, err, err_len);
}

/* Both passes over a file image already in memory. 0 or -EBADMSG (damage:
 * the frames before it were still reported) or the header's error. */
static int
store_scan(const uint8_t *b, uint64_t n, struct bpc_store_info *info, store_frame_cb cb,
           store_seen_cb seen, void *ctx, char *err, size_t err_len)
{
    int rc = store_scan_header(b, n, info, err, err_len);
    if (rc != 0) {
        return rc;
    }
    store_scan_bounds(b, n, info);
    store_scan_frames(b, info, cb, seen, ctx);
    if (info->corrupt_offset != UINT64_MAX) {
        info->torn_bytes = 0;
        store_errf(err, err_len, "damaged at offset %llu: %s",
                   (unsigned long long)info->corrupt_offset, info->corrupt_reason);
        return -EBADMSG;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Recovery (open) and inspection.
 * ---------------------------------------------------------------------- */

/* Reads the file at fd into *out (malloc'ed, *n bytes), its header first:
 * a file whose header store_scan refuses (empty or shorter than a
 * header, no magic, a header checksum or length that fails, a version
 * this build does not read) costs one read of at most 80 bytes, and
 * comes back with store_scan's verdict (info and err as it leaves them)
 * and *read_failed false. Before, the whole file was read first: a path
 * naming a disk image cost its size in memory and time (3 GiB: 3.5 GB
 * and 27 s in a sanitizer build), and one larger than memory said "read:
 * Cannot allocate memory", not "not a bpcon store" (review K's bigfile).
 * A read that fails is *read_failed, its errno returned. */
static int
store_read_image(const struct bpc_store_io *io, int fd, struct bpc_store_info *info, uint8_t **out,
                 uint64_t *n, bool *read_failed, char *err, size_t err_len)
{
    *read_failed = true;
    int64_t size = io->size(io->ctx, fd);
    if (size < 0) {
        return (int)size;
    }
    uint8_t c;
    if (size == 0 && io->pread(io->ctx, fd, &c, 1, 0) > 0) {
        /* A size of 0 with bytes to read (procfs, sysfs): not "empty"
         * (before, review B7, /proc/version was called an empty file). */
        memset(info, 0, sizeof(*info));
        info->corrupt_offset = 0;
        snprintf(info->corrupt_reason, sizeof(info->corrupt_reason),
                 "a file of size 0 that reads bytes (procfs or sysfs?): not a bpcon store");
        store_errf(err, err_len, "damaged at offset 0: %s", info->corrupt_reason);
        *read_failed = false;
        return -EBADMSG;
    }
    uint8_t h[BPC_STORE_HEADER_BYTES];
    size_t hn = (uint64_t)size < sizeof(h) ? (size_t)size : sizeof(h);
    int rc = store_read_at(io, fd, h, hn, 0);
    if (rc != 0) {
        return rc;
    }
    rc = store_scan_header(h, (uint64_t)size, info, err, err_len);
    if (rc != 0) {
        *read_failed = false;
        return rc;
    }
    /* A store (or what begins as one): read whole, and scanned from its
     * header again (the file may have grown since). */
    return store_read_all(io, fd, out, n);
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
    } else if (f->type == BPC_STORE_FRAME_VALUE) {
        s->failed = store_take_value(s, f->value_instance, f->value_vid, f->value_bytes) != 0;
    } else {
        store_take_app(s, f->app_floor, f->app, f->app_len);
    }
}

/* Every frame of a complete commit, skipped or not (scan callback, after
 * store_load_frame): value frames counted as the writer counted them when
 * it appended them, and at a commit's last frame the values prune where
 * the writer's sync of the commit did. A value frame whose bytes do not
 * hash to its identity is taken as the writer took it, unhashed (never
 * handed out: bpc_store_values hashes what it exports), so the writer and
 * a recovery hold the same values and prune at the same commits. Before,
 * the recovery left it out, counted one survivor less at the next prune
 * than the writer and pruned at another commit: a value the writer
 * exported was gone after a reopen (the second store review's
 * skipped_survivors). */
static void
store_load_seen(void *ctx, const struct bpc_store_frame *f, bool skipped)
{
    struct bpc_store *s = ctx;
    if (f->type == BPC_STORE_FRAME_VALUE) {
        if (skipped && !s->failed) {
            s->failed = store_take_value(s, f->value_instance, f->value_vid, f->value_bytes) != 0;
        }
        s->values.since_prune++;
    }
    if (f->commit_end && !s->failed) {
        store_values_commit_end(s);
    }
}

/* Reads, checks and loads an existing file (fd open); writes nothing
 * (store_cut_torn cuts a torn tail, once the open may write). */
int
store_recover(struct bpc_store *s, char *err, size_t err_len)
{
    uint8_t *b = NULL;
    uint64_t n = 0;
    struct bpc_store_info got;
    char why[256] = "";
    bool read_failed = false;
    int rc = store_read_image(&s->io, s->fd, &got, &b, &n, &read_failed, why, sizeof(why));
    if (rc != 0 && read_failed) {
        store_errf(err, err_len, "%s: read: %s", s->path, strerror(-rc));
        return rc;
    }
    /* Frames load as the scan passes them; on any refusal the store is
     * closed, so nothing loaded before damage is ever used. */
    if (rc == 0) {
        rc = store_scan(b, n, &got, store_load_frame, store_load_seen, s, why, sizeof(why));
    }
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
    s->compacted_size = BPC_STORE_HEADER_BYTES + (s->has_app ? STORE_APP_FRAME_MAX : 0u) +
                        (uint64_t)store_live_count(s) * STORE_RECORD_FRAME_BYTES +
                        store_values_frame_bytes(s);
    return 0;
}

/* Cuts the torn tail store_recover found (a writer's open, once nothing
 * can refuse it any more: a refused open leaves the file as it was). */
int
store_cut_torn(struct bpc_store *s, char *err, size_t err_len)
{
    if (s->info.torn_bytes == 0 || s->read_only) {
        return 0;
    }
    /* The torn commit goes before anything new is appended, durably,
     * so a later append can never sit behind its remains. */
    int rc = s->io.truncate(s->io.ctx, s->fd, s->info.valid_bytes);
    if (rc == 0 && !s->no_sync) {
        rc = s->io.datasync(s->io.ctx, s->fd);
    }
    if (rc != 0) {
        store_errf(err, err_len, "%s: cutting the torn tail: %s", s->path, strerror(-rc));
    }
    return rc;
}

int
bpc_store_inspect(const char *path, const struct bpc_store_io *io, struct bpc_store_info *info,
                  bpc_store_frame_fn fn, void *ctx, char *err, size_t err_len)
{
    if (path == NULL || info == NULL) {
        store_errf(err, err_len, "a path and a place for the report are required");
        return -EINVAL; /* before: a crash */
    }
    const char *lacks = store_io_lacks(io, false);
    if (lacks != NULL) {
        store_errf(err, err_len, "%s: the I/O table has no %s call", path, lacks);
        return -EINVAL;
    }
    if (io == NULL) {
        io = bpc_store_io_posix();
    }
    memset(info, 0, sizeof(*info));
    info->corrupt_offset = UINT64_MAX;
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0) {
        store_errf(err, err_len, "%s: %s", path, store_open_error(fd));
        return fd;
    }
    uint8_t *b = NULL;
    uint64_t n = 0;
    bool read_failed = false;
    int rc = store_read_image(io, fd, info, &b, &n, &read_failed, err, err_len);
    (void)io->close(io->ctx, fd);
    if (rc != 0 && read_failed) {
        memset(info, 0, sizeof(*info));
        info->corrupt_offset = UINT64_MAX;
        store_errf(err, err_len, "%s: read: %s", path, strerror(-rc));
        return rc;
    }
    if (rc != 0) {
        return rc; /* the header's verdict, with info as store_scan leaves it */
    }
    rc = store_scan(b, n, info, fn, NULL, ctx, err, err_len);
    free(b);
    return rc;
}
