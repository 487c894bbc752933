/*
 * store_commit.c - appends, group commit and compaction: records, value
 * bytes and application state are framed into a write buffer,
 * bpc_store_sync writes them as one commit (one pwrite, one fdatasync),
 * and compaction (and creation) writes PATH.tmp, syncs it, renames it
 * over PATH and syncs the directory.
 *
 * Owns: the write buffer, the commit-end flag of each commit, the file
 * size and the write statistics, the failed state after an I/O error or
 * once PATH no longer names the file written, and when compaction is
 * due. Must never: retry a failed fdatasync (the store fails instead:
 * every later call is -EIO), report a commit durable before its write
 * (and, unless no_sync, its fdatasync) returned or (unless no_sync)
 * before it checked that PATH still names the file written, touch PATH
 * before PATH.tmp is complete and synced, or write a PATH.tmp that is not
 * its own (a symbolic link, a file with another name).
 */
#include "internal.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>

/* ------------------------------------------------------------------------
 * Appends and group commit.
 * ---------------------------------------------------------------------- */

/* Can n more frames be numbered from s->next_seq? Recovery calls a frame
 * numbered 2^64 - 1 damage (the next would wrap to 0), and a file header
 * whose first number is 2^64 - 1 too, so the last frame written may be
 * 2^64 - 2 and a compaction's image needs next_seq below 2^64 - 1. Only a
 * file renumbered near 2^64 (damage with its checksums made good again)
 * comes close. Before (review B10), the writer numbered a frame 2^64 - 1,
 * acknowledged its commit, and no open could load the file again; a
 * compaction renamed such an image over a file that loaded. */
static bool
store_seq_room(const struct bpc_store *s, uint64_t n)
{
    return n <= UINT64_MAX - s->next_seq;
}

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

/* The store fails for good (every later call is -EIO); the first cause
 * is kept for bpc_store_error. */
static void
store_fail(struct bpc_store *s, int rc)
{
    if (!s->failed) {
        s->error = rc < 0 ? rc : -EIO;
    }
    s->failed = true;
}

static int
store_usable(const struct bpc_store *s)
{
    if (s == NULL) {
        return -EINVAL; /* before: a crash */
    }
    if (s->failed) {
        return -EIO;
    }
    return s->read_only ? -EROFS : 0;
}

/* A vote record below its own floor: no engine writes one (it writes a
 * decided record there), and it is not live when taken, yet it raised the
 * store's floor: a compaction then wrote no record that carries that
 * floor, and a reopen of the compacted file came back with a lower one
 * than the writer had (own review's floor_dead). */
static bool
store_vote_below_floor(const struct bpc_durable *d)
{
    return !d->decided && d->instance < BPC_DURABLE_APPLIED_BASE && d->instance < d->floor;
}

/* Would the live set after recs hold a promised ballot (a max_bal above
 * 0) beside the last incarnation, the set bpc_engine_restore refuses
 * (its start could not raise the incarnation)? The live set's records
 * and recs' that would be taken, each counted while live under the floor
 * recs leave (a record recs replace still counts: stricter than restore
 * only for a set that lowers a promise, which no engine writes). The
 * table is read only once a record of the last incarnation was taken or
 * is among recs (an engine never writes one: eng_ps_start_ok). Before,
 * each record passed alone and the set was written (the second review's
 * inc_set). */
static bool
store_set_refused(const struct bpc_store *s, const struct bpc_durable *recs, uint32_t count)
{
    uint64_t floor = s->floor;
    bool last = s->inc_last;
    for (uint32_t i = 0; i < count; i++) {
        const struct bpc_durable *d = &recs[i];
        if (store_live(d, d->floor)) {
            floor = d->floor > floor ? d->floor : floor; /* as store_take_record */
        }
        last = last || d->incarnation == BPC_INCARNATION_MAX;
    }
    if (!last) {
        return false;
    }
    bool promised = false;
    last = false;
    for (uint32_t i = 0; i < count; i++) {
        const struct bpc_durable *d = &recs[i];
        bool live = store_live(d, d->floor) && store_live(d, floor);
        promised = promised || (live && d->max_bal > 0);
        last = last || (live && d->incarnation == BPC_INCARNATION_MAX);
    }
    for (uint32_t i = 0; i < s->map.cap; i++) {
        const struct bpc_durable *d = &s->map.recs[i];
        bool live = s->map.used[i] && store_live(d, floor);
        promised = promised || (live && d->max_bal > 0);
        last = last || (live && d->incarnation == BPC_INCARNATION_MAX);
    }
    return promised && last;
}

/* 0, or -EINVAL when a record of recs lowers what the newest earlier
 * record of its instance holds (store_rec_order): that earlier record is
 * the newest of the call's own that the live set would take
 * (store_map_takes; order_idx finds it), else the live set's. Recovery
 * compares each record with the newest one taken before it that is live
 * at its floor then, which is this check or one it passed already, so
 * what is appended here it never calls damage. Before, a record the live
 * set never takes (a decided record past its dec_keep) was the one the
 * next record of its instance was compared with, so a lower 2av after it
 * was appended, and recovery called the file damage (review B8's
 * incall). -ENOMEM: no scratch. */
static int
store_append_order(struct bpc_store *s, const struct bpc_durable *recs, uint32_t count)
{
    uint32_t cap = 16;
    while (cap < 2u * count) {
        cap *= 2u;
    }
    if (count > 1 && cap > s->order_cap) {
        uint32_t *idx = realloc(s->order_idx, (size_t)cap * sizeof(*idx));
        if (idx == NULL) {
            return -ENOMEM;
        }
        s->order_idx = idx;
        s->order_cap = cap;
    }
    if (count > 1) {
        memset(s->order_idx, 0, (size_t)cap * sizeof(*s->order_idx));
    }
    uint32_t mask = cap - 1;
    uint64_t floor = s->floor;
    for (uint32_t i = 0; i < count; i++) {
        const struct bpc_durable *d = &recs[i];
        const struct bpc_durable *old = NULL;
        uint32_t *at = NULL;
        if (count > 1) {
            uint32_t h = store_hash(d->instance, mask);
            while (s->order_idx[h] != 0 && recs[s->order_idx[h] - 1u].instance != d->instance) {
                h = (h + 1) & mask;
            }
            at = &s->order_idx[h];
            old = *at != 0 ? &recs[*at - 1u] : NULL;
        }
        if (old == NULL) {
            old = store_map_live(&s->map, d->instance, s->floor);
        }
        if (store_rec_order(old, d) != NULL) {
            return -EINVAL;
        }
        if (store_map_takes(&floor, d) && at != NULL) {
            *at = i + 1u;
        }
    }
    return 0;
}

int
bpc_store_append(struct bpc_store *s, const struct bpc_durable *recs, uint32_t count)
{
    int rc = store_usable(s);
    if (rc != 0) {
        return rc;
    }
    if (count > 0 && recs == NULL) {
        return -EINVAL;
    }
    /* What recovery would call damage is refused here, whole: one bad
     * record used to be written, and the party could not restart. */
    bool range = false; /* a record no engine of this configuration writes */
    bool has_pw = s->has_pw;
    uint64_t pw_max_bal = s->pw_max_bal;
    uint64_t pw_inc = s->pw_incarnation;
    for (uint32_t i = 0; i < count; i++) {
        const struct bpc_durable *d = &recs[i];
        if (store_record_check(d) != NULL ||
            store_pw_order(d, &has_pw, &pw_max_bal, &pw_inc) != NULL) {
            return -EINVAL;
        }
        range = range || !bpc_durable_fits(d, d->floor, s->window, s->value_bytes_max) ||
                store_vote_below_floor(d);
    }
    if (range) {
        return -ERANGE;
    }
    rc = store_append_order(s, recs, count);
    if (rc != 0) {
        return rc; /* a record lowers its instance's; nothing buffered */
    }
    if (store_set_refused(s, recs, count)) {
        return -EINVAL; /* restore refuses the set; nothing buffered */
    }
    if (!store_seq_room(s, count)) {
        return -EOVERFLOW; /* nothing buffered */
    }
    rc = store_wbuf_room(s, (size_t)count * STORE_RECORD_FRAME_BYTES);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        s->wlast = s->wlen;
        s->wlen += store_put_record_frame(s->wbuf + s->wlen, &recs[i], &s->next_seq);
        rc = store_take_record(s, &recs[i]);
        s->stats.records++;
    }
    if (rc != 0) {
        store_fail(s, rc); /* the live set no longer matches what was buffered */
    }
    return rc;
}

/* Can the format hold v: a DIGEST value's identity (zero pad, 33 to
 * BPC_VALUE_BYTES_MAX bytes), its bytes, a vote instance? Recovery would
 * call anything else damage. */
static bool
store_value_ok(const struct bpc_durable_value *v)
{
    return v->vid.kind == BPC_VALUE_DIGEST && v->vid.pad == 0 &&
           v->vid.len > BPC_VALUE_INLINE_MAX && v->vid.len <= BPC_VALUE_BYTES_MAX &&
           v->bytes != NULL && v->instance < BPC_DURABLE_APPLIED_BASE;
}

int
bpc_store_append_values(struct bpc_store *s, const struct bpc_durable_value *vals, uint32_t count)
{
    int rc = store_usable(s);
    if (rc != 0) {
        return rc;
    }
    if (count > 0 && vals == NULL) {
        return -EINVAL; /* as bpc_store_append: nothing buffered */
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!store_value_ok(&vals[i])) {
            return -EINVAL;
        }
        if (vals[i].vid.len > s->value_bytes_max) {
            return -ERANGE; /* as a record naming it */
        }
        bytes += STORE_VALUE_FRAME_BYTES(vals[i].vid.len);
    }
    if (!store_seq_room(s, count)) {
        return -EOVERFLOW; /* nothing buffered */
    }
    rc = store_wbuf_room(s, bytes);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        const struct bpc_durable_value *v = &vals[i];
        s->wlast = s->wlen;
        s->wlen +=
            store_put_value_frame(s->wbuf + s->wlen, v->instance, &v->vid, v->bytes, &s->next_seq);
        rc = store_take_value(s, v->instance, &v->vid, v->bytes);
        s->values.since_prune++; /* a frame, as recovery will count it */
    }
    if (rc != 0) {
        store_fail(s, rc); /* the live values no longer match what was buffered */
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
    if (s->has_app && floor < s->app_floor) {
        return -EINVAL; /* recovery calls it damage (STORE_WHY_APP_ORDER) */
    }
    if (!store_seq_room(s, 1)) {
        return -EOVERFLOW; /* nothing buffered */
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

void
store_grew(struct bpc_store *s, uint64_t size)
{
    s->size = size;
    s->stats.file_bytes = size;
    if (size > s->stats.file_bytes_max) {
        s->stats.file_bytes_max = size;
    }
}

/* Does PATH still name the file the store writes (io's same_file)? 0,
 * or why not: -ENOENT (unlinked, renamed away), -ESTALE (another file
 * renamed over it), another errno. A commit written to a file no longer
 * at PATH is not what the next open reads: acknowledging it would let a
 * restarted party forget a promise it sent. */
static int
store_check_path(struct bpc_store *s)
{
    s->unchecked = 0;
    return s->io.same_file != NULL ? s->io.same_file(s->io.ctx, s->fd, s->path) : 0;
}

/* Is the path checked at this commit? At every synced one: two system
 * calls beside an fdatasync. With no_sync at every
 * BPC_STORE_NAME_CHECK_EVERY-th (and before each compaction): there they
 * would cost about as much as the commit's write. */
static bool
store_check_due(struct bpc_store *s)
{
    return !s->no_sync || ++s->unchecked >= BPC_STORE_NAME_CHECK_EVERY;
}

int
bpc_store_sync(struct bpc_store *s)
{
    int rc = store_usable(s);
    if (rc != 0 || s->wlen == 0) {
        return rc;
    }
    store_frame_end(s->wbuf + s->wlast);
    store_values_commit_end(s); /* where recovery of this commit will prune */
    rc = store_write_all(&s->io, s->fd, s->wbuf, s->wlen, s->size);
    if (rc == 0 && !s->no_sync) {
        rc = s->io.datasync(s->io.ctx, s->fd);
    }
    if (rc == 0 && store_check_due(s)) {
        rc = store_check_path(s); /* after the sync: as late as it can be */
    }
    if (rc != 0) {
        /* The failed commit is cut off the file, as well as it can be:
         * after a failed fdatasync Linux may mark its pages clean, so a
         * restart would read from the page cache a commit the disk never
         * held and act on it (review B11's F2). A cut that fails too is
         * the first cause's failure still. */
        (void)s->io.truncate(s->io.ctx, s->fd, s->size);
        store_fail(s, rc);
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

/* Builds a complete file image of the live set into a new buffer: header
 * (first_seq = the next sequence number), the newest application state,
 * the live records, the live values, one commit. */
static int
store_image(struct bpc_store *s, uint8_t **img, size_t *len)
{
    const struct bpc_durable *recs = NULL;
    uint32_t n = bpc_store_records(s, &recs);
    if (recs == NULL) {
        return -ENOMEM;
    }
    const struct bpc_durable_value *vals = NULL;
    uint32_t nv = 0;
    int rc = store_values_export(s, &vals, &nv);
    if (rc != 0) {
        return rc;
    }
    /* The header's first number below 2^64 - 1, every frame's too. */
    if (s->next_seq == UINT64_MAX ||
        !store_seq_room(s, (uint64_t)n + nv + (s->has_app ? 1u : 0u))) {
        return -EOVERFLOW;
    }
    size_t need = BPC_STORE_HEADER_BYTES + STORE_APP_FRAME_MAX +
                  (size_t)n * STORE_RECORD_FRAME_BYTES + (size_t)store_values_frame_bytes(s);
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
    for (uint32_t i = 0; i < nv; i++) {
        last = at;
        at += store_put_value_frame(b + at, vals[i].instance, &vals[i].vid, vals[i].bytes, &seq);
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
int
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

/* Closes the replaced file at once (a compaction came before the last
 * one's file was released). */
static void
store_release_all(struct bpc_store *s)
{
    if (s->old_fd >= 0) {
        (void)s->io.close(s->io.ctx, s->old_fd);
        s->old_fd = -1;
        s->old_size = 0;
    }
}

/* Is the file at fd (PATH.tmp) one the store may have written: empty, or
 * beginning with the store's magic (a shorter file: a prefix of it), or a
 * power loss's leftover of one (below)? Anything else is some other
 * program's file given the store's reserved name (an applied log, a
 * draft), never removed or emptied: 0 when it is the store's, -EEXIST
 * when not (*why set when the reason is not the first bytes), another
 * negative errno when unreadable. */
int
store_tmp_ours(const struct bpc_store *s, int fd, const char **why)
{
    *why = NULL;
    uint8_t head[STORE_TMP_ZERO_HEAD];
    int64_t n = s->io.pread(s->io.ctx, fd, head, STORE_MAGIC_BYTES, 0);
    if (n < 0) {
        return (int)n;
    }
    if (memcmp(head, STORE_MAGIC, (size_t)n) == 0) {
        return 0;
    }
    /* A compaction image whose first page a power loss never let land
     * (its one sync comes before the rename): writeback may have written
     * none of its pages (zeros only), or later ones and not the first
     * (review B4's tmphole: 4096 zeros, then image bytes). Such a file
     * begins with STORE_TMP_ZERO_HEAD zero bytes (a whole sector: a disk
     * writes one or none of it; more than the header, which holds the
     * magic), has one name and is never longer than the store's file: a
     * compaction writes the live set of synced commits, each frame a copy
     * of one of theirs, and a creation a header. A longer file is refused
     * unread (before, a sparse 8 GiB one was read to its end, 84 s of the
     * open: review K), and so is one with another name (a hard link). */
    uint64_t most = s->size > s->info.file_bytes ? s->size : s->info.file_bytes;
    most = most > BPC_STORE_HEADER_BYTES ? most : BPC_STORE_HEADER_BYTES;
    int64_t size = s->io.size(s->io.ctx, fd);
    if (size < 0) {
        return (int)size;
    }
    if ((uint64_t)size > most) {
        *why = "it does not begin with the store's magic, and it is longer than the store's "
               "file, which a compaction's leftover never is";
        return -EEXIST;
    }
    n = s->io.pread(s->io.ctx, fd, head, sizeof(head), 0);
    if (n < 0) {
        return (int)n;
    }
    for (int64_t k = 0; k < n; k++) {
        if (head[k] != 0) {
            return -EEXIST;
        }
    }
    int64_t links = s->io.links != NULL ? s->io.links(s->io.ctx, fd) : 1;
    if (links < 0) {
        return (int)links;
    }
    if (links > 1) {
        *why = "it does not begin with the store's magic, and it has another name (a hard link), "
               "which a compaction's leftover never has";
        return -EEXIST;
    }
    return 0;
}

const char *
store_tmp_foreign(int rc)
{
    switch (rc) {
    case -ELOOP:
        return "a symbolic link";
    case -EISDIR:
        return "a directory, not a file the store wrote";
    case -EINVAL:
    case -ENXIO:
        return "not a regular file: a FIFO, a socket or a device";
    default:
        return NULL;
    }
}

/* Opens and locks PATH.tmp: its fd, or a negative errno with nothing
 * touched. It must be the store's own: opened with O_NOFOLLOW (a symbolic
 * link is not followed; a directory, FIFO, socket or device is refused by
 * the table's open, never waited on: store_tmp_foreign) and, locked, a
 * file with exactly one name (a hard link's other name is another
 * file's, a backup's or another program's, that writing it would
 * destroy) whose bytes are empty or begin with the magic
 * (store_tmp_ours); -EEXIST otherwise, left as it is (s->tmp_why says
 * what is there). Locked before it is emptied and before the rename makes
 * it PATH: a second writer's open never finds the store unlocked, not
 * even between compactions, and two writers creating one store never
 * empty or rename each other's PATH.tmp (the one that finds it locked is
 * refused). A creator that got the lock checks that PATH is still
 * missing: a writer that created it meanwhile is not replaced (-EBUSY). */
static int
store_tmp_open(struct bpc_store *s)
{
    int fd = s->io.open(s->io.ctx, s->tmp, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (fd < 0) {
        s->tmp_why = store_tmp_foreign(fd);
        return s->tmp_why != NULL ? -EEXIST : fd;
    }
    int rc = s->io.lock != NULL ? s->io.lock(s->io.ctx, fd) : 0;
    int64_t links = rc == 0 && s->io.links != NULL ? s->io.links(s->io.ctx, fd) : 1;
    if (links != 1) {
        /* Another name holds it; or none does: a racing creator removed
         * it after our open (a failed creation's PATH.tmp), still in use. */
        rc = links == 0 ? -EBUSY : (links < 0 ? (int)links : -EEXIST);
        s->tmp_why = "a file with another name: a hard link";
    }
    if (rc == 0) {
        const char *why = NULL;
        rc = store_tmp_ours(s, fd, &why);
        s->tmp_why = why != NULL ? why : STORE_TMP_NOT_OURS;
    }
    if (rc != 0) {
        (void)s->io.close(s->io.ctx, fd); /* another writer's or file's: left alone */
        return rc;
    }
    if (s->fd < 0) {
        int there = s->io.open(s->io.ctx, s->path, O_RDONLY, 0);
        if (there >= 0) {
            (void)s->io.close(s->io.ctx, there);
            (void)s->io.close(s->io.ctx, fd);
            (void)s->io.unlink(s->io.ctx, s->tmp); /* ours, locked: PATH is untouched */
            return -EBUSY;
        }
    }
    return fd;
}

/* Writes img as PATH.tmp, syncs it, renames it over PATH and syncs the
 * directory; on 0 the store appends to the new file. -EEXIST: PATH.tmp
 * is not the store's own (store_tmp_open), nothing touched. */
int
store_replace(struct bpc_store *s, const uint8_t *img, size_t len)
{
    int fd = store_tmp_open(s);
    if (fd < 0) {
        return fd;
    }
    int rc = s->io.truncate(s->io.ctx, fd, 0);
    if (rc == 0) {
        rc = store_write_all(&s->io, fd, img, len, 0);
    }
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
     * directory sync leaves the store failed (the rename may not last).
     * The replaced file stays open: its last close gives its pages and
     * blocks back, about a millisecond for 4 MiB on ext4, which
     * bpc_store_release spreads over calls. */
    store_release_all(s);
    s->old_fd = s->fd;
    s->old_size = s->size;
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
    /* A file no longer at PATH: a compaction would rename over what is
     * there now (another file, the operator's), or make PATH again. */
    rc = store_check_path(s);
    if (rc != 0) {
        store_fail(s, rc);
        return -EIO;
    }
    uint8_t *img = NULL;
    size_t len = 0;
    uint64_t seq = s->next_seq;
    rc = store_image(s, &img, &len);
    if (rc == -ENOMEM || rc == -EOVERFLOW) {
        /* No memory for the image, or no sequence numbers left for it
         * (store_seq_room): nothing was written, so the store goes on and
         * a later compaction may work. Before, it failed for good (every
         * call -EIO: the party could persist nothing more). The image
         * takes its sequence numbers only when it is built. */
        return rc;
    }
    if (rc == 0) {
        rc = store_replace(s, img, len);
    }
    free(img);
    if (rc == -EEXIST) {
        /* PATH.tmp is not the store's (a link to another file, a
         * directory, a FIFO, another program's file): nothing was
         * written, the store goes on, its sequence numbers too. */
        s->next_seq = seq;
        return rc;
    }
    if (rc != 0) {
        store_fail(s, rc);
        return -EIO;
    }
    /* The table and the values drop what the floor passed (the file
     * already did). */
    if (store_map_rebuild(&s->map, s->map.cap, s->floor) != 0) {
        store_fail(s, -ENOMEM);
        return -ENOMEM;
    }
    store_values_prune(s, true);
    store_values_compacted(s);
    store_floor_of_live(s);
    s->stats.compactions++;
    return 0;
}

bool
bpc_store_compact_due(const struct bpc_store *s)
{
    if (s == NULL) {
        return false;
    }
    /* Twice the last compacted size as well: a live set near the
     * threshold must not compact at every commit. */
    uint64_t at =
        s->compact_bytes > 2u * s->compacted_size ? s->compact_bytes : 2u * s->compacted_size;
    return !s->failed && !s->read_only && s->size > at;
}

int
bpc_store_release(struct bpc_store *s)
{
    if (s == NULL) {
        return -EINVAL;
    }
    if (s->old_fd < 0) {
        return 0;
    }
    if (s->failed) {
        /* The directory sync after the rename may have failed: a power
         * loss could name the replaced file PATH again, so it is closed
         * as it is, never shrunk. */
        store_release_all(s);
        return 0;
    }
    /* The rename took PATH from the replaced file, and the directory sync
     * made that last; but another name may still hold it (a hard link: a
     * backup, a snapshot), whose content is not the store's to empty.
     * Only a file with no name left is shrunk; one still named is closed
     * whole (a close that frees nothing: no stall), and so is one whose
     * names cannot be counted (better a stall than an emptied backup). */
    int64_t links = s->io.links != NULL ? s->io.links(s->io.ctx, s->old_fd) : -ENOSYS;
    if (links != 0) {
        store_release_all(s);
        return 0;
    }
    uint64_t left =
        s->old_size > BPC_STORE_RELEASE_BYTES ? s->old_size - BPC_STORE_RELEASE_BYTES : 0;
    int rc = s->io.truncate(s->io.ctx, s->old_fd, left);
    if (rc != 0 || left == 0) {
        store_release_all(s);
        return rc;
    }
    s->old_size = left;
    return 1;
}
