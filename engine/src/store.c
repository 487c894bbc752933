/*
 * store.c - libbpcon-store: the durable vote store (a write-ahead log of
 * the engine's persist records, the bytes of the values they name and the
 * application's state record). This file is the store object: open
 * (create or recover), close, and the in-memory live set (newest record
 * per instance, the values at or above the floor) that restore and
 * compaction read (its table is store_map.c's, the live values
 * store_values.c's). The format is store_format.c's, the recovery scan
 * store_recover.c's, group commit and compaction store_commit.c's, the
 * system calls store_io.c's (store_internal.h lists them).
 *
 * Owns: struct bpc_store's lifetime, PATH/PATH.tmp/directory names, the
 * defaults (I/O table, compaction threshold, live bound), the live-set
 * table and what bpc_store_records, bpc_store_app, bpc_store_info and
 * bpc_store_stats return.
 *
 * Must never: hand out a store whose open failed (whatever a refused
 * recovery loaded is freed with it, never used), return a vote record
 * below the floor from bpc_store_records, or let the table's load pass
 * one half.
 */
#include "internal.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Messages and the live set.
 * ---------------------------------------------------------------------- */

void
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

/* Takes one record into the live set (floor first: it may prune). A
 * vote-instance record not live under its own floor (a decided record
 * whose dec_keep is below it; append refuses such a vote record) is not
 * taken at all: it raised the floor with no live record to carry it, a
 * compaction lost that floor, and a reopen disagreed with the writer
 * (the second review's decided_floor_dead). */
int
store_take_record(struct bpc_store *s, const struct bpc_durable *d)
{
    s->inc_last = s->inc_last || d->incarnation == BPC_INCARNATION_MAX;
    if (d->instance == UINT64_MAX) { /* append and recovery checked the order */
        s->has_pw = true;
        s->pw_max_bal = d->max_bal;
        s->pw_incarnation = d->incarnation;
    }
    return store_map_take(&s->map, &s->floor, d);
}

void
store_take_app(struct bpc_store *s, uint64_t floor, const uint8_t *bytes, uint32_t len)
{
    s->has_app = true;
    s->app_floor = floor;
    s->app_len = len;
    if (len > 0) {
        memcpy(s->app, bytes, len); /* bytes may be NULL when len is 0 */
    }
}

static int
store_cmp_instance(const void *a, const void *b)
{
    uint64_t x = ((const struct bpc_durable *)a)->instance;
    uint64_t y = ((const struct bpc_durable *)b)->instance;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* After a compaction: the floor a recovery of the file computes, the
 * highest floor of the live records (the image holds them alone). A
 * record that raised the floor and was replaced since is not in the file:
 * the writer kept the higher floor, a reopen came back with the lower
 * one, and a vote between the two that the writer then took as below its
 * floor was live after a reopen, until the writer's next compaction
 * erased it (review B3's probe_floor_lowered: a floor of 8, then a
 * party-wide record of floor 3, a compaction, a vote at 5). No engine
 * lowers its floor; a store API caller can. */
void
store_floor_of_live(struct bpc_store *s)
{
    uint64_t floor = 0;
    for (uint32_t i = 0; i < s->map.cap; i++) {
        const struct bpc_durable *d = &s->map.recs[i];
        if (s->map.used[i] && store_live(d, s->floor) && d->floor > floor) {
            floor = d->floor;
        }
    }
    s->floor = floor;
}

/* How many records bpc_store_records would return, without building its
 * array (recovery sizes the file a compaction would write). */
uint32_t
store_live_count(const struct bpc_store *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->map.cap; i++) {
        n += s->map.used[i] && store_live(&s->map.recs[i], s->floor);
    }
    return n;
}

uint32_t
bpc_store_records(struct bpc_store *s, const struct bpc_durable **recs)
{
    if (s == NULL || recs == NULL) {
        if (recs != NULL) {
            *recs = NULL;
        }
        return 0; /* misuse; before: a crash */
    }
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
        if (s->map.used[i] && store_live(d, s->floor)) {
            s->export[n++] = *d;
        }
    }
    qsort(s->export, n, sizeof(*s->export), store_cmp_instance);
    *recs = s->export; /* not NULL: map.cap >= 1 */
    return n;
}

int
bpc_store_app(const struct bpc_store *s, uint64_t *floor, const uint8_t **bytes, uint32_t *len)
{
    if (s == NULL || floor == NULL || bytes == NULL || len == NULL) {
        return -EINVAL;
    }
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
    return s == NULL ? NULL : &s->info;
}

int
bpc_store_error(const struct bpc_store *s)
{
    if (s == NULL) {
        return -EINVAL;
    }
    return s->failed ? s->error : 0;
}

void
bpc_store_stats(const struct bpc_store *s, struct bpc_store_stats *out)
{
    if (s == NULL || out == NULL) {
        if (out != NULL) {
            memset(out, 0, sizeof(*out));
        }
        return;
    }
    *out = s->stats;
    out->file_bytes = s->size;
    out->compact_bytes = s->compact_bytes;
    out->failed = s->failed;
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->map.cap; i++) {
        const struct bpc_durable *d = &s->map.recs[i];
        if (s->map.used[i] && store_live(d, s->floor)) {
            live++;
        }
    }
    out->live_records = live;
    uint64_t values = 0;
    for (uint32_t k = 0; k < s->values.count; k++) {
        values += store_value_live(s, s->values.ents[k].instance, &s->values.ents[k].vid);
    }
    out->live_values = values;
}

/* ------------------------------------------------------------------------
 * Open, create, close.
 * ---------------------------------------------------------------------- */

/* Does path's last component end in ".tmp"? Such a store would be the
 * temporary file of the store named without it, which that store's
 * creation and compactions write and its open removes. */
static bool
store_tmp_named(const char *path)
{
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/') {
        len--;
    }
    return len >= 4 && memcmp(path + len - 4, ".tmp", 4) == 0;
}

/* The bytes of path's longest component, or of its last when last. */
static size_t
store_name_bytes(const char *path, bool last)
{
    size_t longest = 0;
    size_t run = 0;
    for (const char *p = path; *p != '\0'; p++) {
        run = *p == '/' ? 0 : run + 1u;
        longest = run > longest ? run : longest;
    }
    return last ? run : longest;
}

/* Why path is -ENAMETOOLONG: the whole path, one of its names (the file
 * system's NAME_MAX: the length of the whole path is then no cause), or
 * the path once resolved (a relative path in a deep directory). */
static void
store_too_long(const char *path, char *err, size_t err_len)
{
    size_t len = strlen(path);
    size_t name = store_name_bytes(path, false);
    if (len >= STORE_PATH_MAX) {
        store_errf(err, err_len, "path too long (%zu bytes, at most %u)", len, STORE_PATH_MAX - 1u);
    } else if (name > NAME_MAX) {
        store_errf(err, err_len, "path component too long (%zu bytes, at most %d): %s", name,
                   NAME_MAX, path);
    } else {
        store_errf(err, err_len, "path too long once resolved (at most %u bytes): %s",
                   STORE_PATH_MAX - 1u, path);
    }
}

/* PATH, PATH.tmp and PATH's directory, from path resolved once (io's
 * resolve): every compaction renames PATH.tmp over PATH, so PATH must be
 * the store's own entry (renaming over a symbolic link would replace the
 * link and leave its target behind, then shrink it as a replaced file),
 * and it must not move with the working directory. */
static int
store_paths(struct bpc_store *s, const char *path, char *err, size_t err_len)
{
    size_t len = strlen(path);
    if (len == 0) {
        store_errf(err, err_len, "empty path");
        return -EINVAL;
    }
    int rc = 0;
    if (len >= sizeof(s->path)) {
        rc = -ENAMETOOLONG;
    } else if (s->io.resolve != NULL) {
        rc = s->io.resolve(s->io.ctx, path, s->path, sizeof(s->path));
    } else {
        memcpy(s->path, path, len + 1);
    }
    if (rc == 0 && !s->read_only && store_name_bytes(s->path, true) + 4u > NAME_MAX) {
        store_errf(err, err_len,
                   "store name too long for its temporary file (%zu bytes, at most %d: NAME.tmp "
                   "must fit in %d): %s",
                   store_name_bytes(s->path, true), NAME_MAX - 4, NAME_MAX, s->path);
        return -ENAMETOOLONG;
    }
    if (rc == -ENAMETOOLONG) {
        store_too_long(path, err, err_len);
        return rc;
    }
    if (rc == -ENOENT) {
        /* The plain resolve refuses a dangling symbolic link (creating
         * the store would replace it) and a missing directory: say so,
         * not a bare "No such file or directory" (the store review). */
        store_errf(err, err_len,
                   "%s: cannot resolve the path: No such file or directory (a missing "
                   "directory, or a symbolic link whose target does not exist)",
                   path);
        return rc;
    }
    if (rc != 0) {
        store_errf(err, err_len, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (!s->read_only && (store_tmp_named(path) || store_tmp_named(s->path))) {
        store_errf(err, err_len,
                   "%s: a writer's store name may not end in \".tmp\" (the name of the temporary "
                   "file a store without it writes and removes)",
                   s->path);
        return -EINVAL;
    }
    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp", s->path);
    const char *slash = strrchr(s->path, '/');
    if (slash == NULL) {
        snprintf(s->dir, sizeof(s->dir), ".");
    } else if (slash == s->path) {
        snprintf(s->dir, sizeof(s->dir), "/");
    } else {
        memcpy(s->dir, s->path, (size_t)(slash - s->path));
        s->dir[slash - s->path] = '\0';
    }
    return 0;
}

static void
store_defaults(struct bpc_store *s, const struct bpc_config *cfg,
               const struct bpc_store_options *opt)
{
    s->io = opt != NULL && opt->io != NULL ? *opt->io : *bpc_store_io_posix();
    s->no_sync = opt != NULL && opt->no_sync;
    s->read_only = opt != NULL && opt->read_only;
    s->fd = -1;
    s->old_fd = -1;
    s->window = cfg->window_slots;
    s->value_bytes_max = cfg->value_bytes_max;
    /* The largest compacted file without values: every window slot's
     * vote, the decided records an engine keeps below its floor (its
     * recent decisions), every submitter's apply state, the party-wide
     * record and the application state. Before, the decided records were
     * left out: at a window of 8192 the live set was three times the
     * bound, a compacted file more than half the threshold, and the file
     * reached 14.3 MB against the documented 9.5 (review B's bound). */
    s->live_bound = BPC_STORE_HEADER_BYTES + STORE_APP_FRAME_MAX +
                    ((uint64_t)cfg->window_slots + BPC_RECENT_LEN(cfg->window_slots) +
                     cfg->parties_count + 1u) *
                        STORE_RECORD_FRAME_BYTES;
    uint64_t dflt = 4u * s->live_bound;
    dflt = dflt < BPC_STORE_COMPACT_MIN_BYTES ? BPC_STORE_COMPACT_MIN_BYTES : dflt;
    s->compact_bytes = opt != NULL && opt->compact_bytes > 0 ? opt->compact_bytes : dflt;
    s->stats.compact_bytes = s->compact_bytes;
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
    if (rc == -EBUSY) {
        store_errf(err, err_len, "%s: in use by another process (a writer is creating it)",
                   s->path);
        return rc;
    }
    if (rc == -EEXIST) {
        store_errf(err, err_len,
                   "%s: creating: %s is not this store's temporary file (%s); refusing to write "
                   "it: move it away (the store reserves that name)",
                   s->path, s->tmp, s->tmp_why != NULL ? s->tmp_why : "not the store's");
        return rc;
    }
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

/* What this build appends (decided records, value frames, clean floors) an
 * older reader would call damaged: a file of an older version is rewritten in this one
 * before anything is appended (a compaction: one commit of the live set).
 * The info then describes the new file, except what the scan of the old
 * one found dropped (torn_bytes). */
static int
store_upgrade(struct bpc_store *s, char *err, size_t err_len)
{
    uint32_t old = s->info.version;
    uint64_t first = s->next_seq;
    int rc = bpc_store_compact(s);
    if (rc != 0) {
        store_errf(err, err_len, "%s: rewriting a version %u file: %s", s->path, old,
                   strerror(-rc));
        return rc;
    }
    const struct bpc_durable *live = NULL;
    uint32_t n = bpc_store_records(s, &live);
    s->info.version = BPC_STORE_FORMAT_VERSION;
    s->info.first_seq = first;
    s->info.next_seq = s->next_seq;
    const struct bpc_durable_value *vals = NULL;
    uint32_t nv = bpc_store_values(s, &vals);
    s->info.records = n;
    s->info.app_records = s->has_app ? 1u : 0u;
    s->info.values = nv;
    s->info.commits = n > 0 || nv > 0 || s->has_app ? 1u : 0u;
    s->info.valid_bytes = s->size;
    s->info.file_bytes = s->size;
    return 0;
}

/* Opens PATH for writing and takes its exclusive lock (io's lock), so
 * that a second writer (a party started twice) is refused instead of
 * writing its commits over the first's at the same offsets. A compaction
 * of the lock's holder may replace PATH between our open and our lock:
 * the file locked then has no name left, so PATH is opened again. */
static int
store_open_writer(struct bpc_store *s)
{
    for (int tries = 0; tries < 8; tries++) {
        int fd = s->io.open(s->io.ctx, s->path, O_RDWR, 0);
        if (fd < 0) {
            return fd;
        }
        int rc = s->io.lock != NULL ? s->io.lock(s->io.ctx, fd) : 0;
        if (rc == 0 && (s->io.links == NULL || s->io.links(s->io.ctx, fd) != 0)) {
            s->fd = fd;
            return 0;
        }
        (void)s->io.close(s->io.ctx, fd);
        if (rc != 0) {
            return rc;
        }
    }
    return -EBUSY; /* replaced at every try: another writer compacts */
}

/* A writer must be able to compact: PATH.tmp is created (O_EXCL, not
 * following a link) and removed again, so that a directory the writer
 * may not write fails the open, naming the errno, instead of the first
 * compaction failing the store hours later. Runs with the lock held and
 * any leftover PATH.tmp already removed. */
static int
store_probe_tmp(struct bpc_store *s, char *err, size_t err_len)
{
    int fd = s->io.open(s->io.ctx, s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) {
        store_errf(err, err_len, "%s: cannot create %s (every compaction writes it): %s", s->path,
                   s->tmp, strerror(-fd));
        return fd;
    }
    (void)s->io.close(s->io.ctx, fd);
    int rc = s->io.unlink(s->io.ctx, s->tmp);
    if (rc != 0) {
        store_errf(err, err_len, "%s: removing %s: %s", s->path, s->tmp, strerror(-rc));
    }
    return rc;
}

/* A writer of an existing store removes an interrupted compaction's
 * PATH.tmp (only a file the store may have written: empty, beginning
 * with its magic or, after a power loss, with 512 zero bytes,
 * store_tmp_ours; any other file there, a symbolic link,
 * a directory, a FIFO, a socket or a device, is left alone, never
 * followed or waited on, and the open refused with -EEXIST naming it and
 * what it is: store_tmp_foreign),
 * then checks that PATH.tmp can be made (store_probe_tmp): only once the
 * lock is held, so that a refused second writer never removes the
 * PATH.tmp the first is writing, and only once PATH was read as this
 * party's store, so that a --store naming some other file never removes
 * that file's neighbour (before, a refused open of a file that was no
 * store had already deleted FILE.tmp). It runs before the open writes to
 * PATH (the torn tail's cut, an upgrade), so that its refusals leave the
 * store as it was. */
static int
store_clear_tmp(struct bpc_store *s, char *err, size_t err_len)
{
    int fd = s->io.open(s->io.ctx, s->tmp, O_RDONLY | O_NOFOLLOW, 0);
    if (fd == -ENOENT) {
        return store_probe_tmp(s, err, err_len);
    }
    const char *foreign = store_tmp_foreign(fd);
    int rc = foreign != NULL ? -EEXIST : (fd < 0 ? fd : store_tmp_ours(s, fd, &foreign));
    if (fd >= 0) {
        (void)s->io.close(s->io.ctx, fd);
    }
    if (rc == -EEXIST) {
        store_errf(err, err_len,
                   "%s: %s is not this store's temporary file (%s); it is left as it is: move it "
                   "away (the store reserves that name)",
                   s->path, s->tmp, foreign != NULL ? foreign : STORE_TMP_NOT_OURS);
        return rc;
    }
    if (rc != 0) {
        store_errf(err, err_len, "%s: reading %s: %s", s->path, s->tmp, strerror(-rc));
        return rc;
    }
    int urc = s->io.unlink(s->io.ctx, s->tmp);
    if (urc != 0 && urc != -ENOENT) {
        store_errf(err, err_len, "%s: removing %s: %s", s->path, s->tmp, strerror(-urc));
        return urc;
    }
    return store_probe_tmp(s, err, err_len);
}

/* Opens PATH (locked when writing). */
static int
store_open_locked(struct bpc_store *s, char *err, size_t err_len)
{
    int rc = 0;
    if (s->read_only) {
        s->fd = s->io.open(s->io.ctx, s->path, O_RDONLY, 0);
        rc = s->fd < 0 ? s->fd : 0;
    } else {
        rc = store_open_writer(s);
    }
    if (rc == -EBUSY) {
        store_errf(err, err_len, "%s: in use by another process (a writer holds its lock)",
                   s->path);
        return rc;
    }
    if (rc != 0 && (rc != -ENOENT || s->read_only)) {
        store_errf(err, err_len, "%s: %s", s->path, store_open_error(rc));
        return rc;
    }
    return rc; /* 0, or -ENOENT: a writer creates the store */
}

/* A writer's open makes what it loaded durable before it acknowledges
 * anything: the file's data (an earlier process may have died between a
 * commit's write and its fdatasync, or its fdatasync failed: the bytes
 * are written again first, store_rewrite_in_place) and its name in the
 * directory (or between a creation's or a compaction's rename and the
 * directory's fsync, or that fsync failed). Else commits acknowledged
 * after the restart could vanish in a power loss with the file they went
 * to, the name falling back to the file before the rename, or to none
 * (review B11's F1), or sit behind bytes that never reached the disk,
 * which a power loss turns into damage no party starts from (B12's R1
 * and R2: an open that only synced built on pages a failed fdatasync had
 * marked clean). */
/* Writes the file's bytes back over themselves, so that every page is
 * dirty again: after a failed fdatasync Linux marks the pages clean and
 * reports the error once, and a later fdatasync (this open's) returns 0
 * without writing them, though they are what this open loaded. 0 or
 * -errno. */
static int
store_rewrite_in_place(struct bpc_store *s)
{
    int64_t size = s->io.size(s->io.ctx, s->fd);
    if (size < 0) {
        return (int)size;
    }
    enum { CHUNK = 64 * 1024 };
    uint8_t *b = malloc(CHUNK);
    if (b == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < (uint64_t)size; off += CHUNK) {
        uint64_t left = (uint64_t)size - off;
        size_t len = left < CHUNK ? (size_t)left : CHUNK;
        rc = store_read_at(&s->io, s->fd, b, len, off);
        if (rc == 0) {
            rc = store_write_all(&s->io, s->fd, b, len, off);
        }
    }
    free(b);
    return rc;
}

static int
store_open_sync(struct bpc_store *s, char *err, size_t err_len)
{
    if (s->no_sync) {
        return 0;
    }
    int rc = store_rewrite_in_place(s);
    if (rc != 0) {
        store_errf(err, err_len, "%s: rewriting the file found: %s", s->path, strerror(-rc));
        return rc;
    }
    rc = s->io.datasync(s->io.ctx, s->fd);
    if (rc != 0) {
        store_errf(err, err_len, "%s: syncing the file found: %s", s->path, strerror(-rc));
        return rc;
    }
    rc = store_dirsync(s);
    if (rc != 0) {
        store_errf(err, err_len, "%s: syncing its directory: %s", s->path, strerror(-rc));
    }
    return rc;
}

static int
store_open_file(struct bpc_store *s, char *err, size_t err_len)
{
    int rc = store_open_locked(s, err, err_len);
    if (rc == -ENOENT) {
        return store_create(s, err, err_len);
    }
    if (rc != 0) {
        return rc;
    }
    /* An empty file is damage like any other: the store only ever
     * renames complete files into place, so something else emptied or
     * made it, and it may have held votes (bpcon-store check agrees). */
    rc = store_recover(s, err, err_len);
    if (rc == 0 && !s->read_only) {
        /* Not when creating: a PATH.tmp then may be another creator's,
         * and store_replace takes its lock before emptying it. */
        rc = store_clear_tmp(s, err, err_len);
    }
    if (rc == 0) {
        /* Only now: an open refused for PATH.tmp (foreign, or not
         * creatable) leaves the store as it was. Before, the torn tail
         * was already cut when the refusal came (review K's tmptorn). */
        rc = store_cut_torn(s, err, err_len);
    }
    if (rc == 0 && !s->read_only && s->info.version < BPC_STORE_FORMAT_VERSION) {
        rc = store_upgrade(s, err, err_len);
    }
    if (rc == 0 && !s->read_only) {
        rc = store_open_sync(s, err, err_len);
    }
    return rc;
}

int
bpc_store_open(struct bpc_store **out, const char *path, const struct bpc_config *cfg,
               const struct bpc_store_options *opt, char *err, size_t err_len)
{
    if (err != NULL && err_len > 0) {
        err[0] = '\0'; /* an earlier call's message is not this one's */
    }
    if (out == NULL) {
        store_errf(err, err_len, "no place for the store handle (out is NULL)");
        return -EINVAL;
    }
    *out = NULL;
    if (path == NULL || cfg == NULL) {
        store_errf(err, err_len, "a path and a configuration are required");
        return -EINVAL;
    }
    const char *lacks =
        store_io_lacks(opt != NULL ? opt->io : NULL, opt == NULL || !opt->read_only);
    if (lacks != NULL) {
        store_errf(err, err_len, "%s: the I/O table has no %s call", path, lacks);
        return -EINVAL;
    }
    /* The configuration names the store (party, digest, live bound): one
     * the engine would refuse (a party outside the list, more parties
     * than the digest can take) must not create a store, or abort in
     * bpc_config_digest. */
    char why[256] = "";
    int vrc = bpc_config_validate(cfg, why, sizeof(why));
    if (vrc != 0) {
        store_errf(err, err_len, "%s: configuration refused: %s", path, why);
        return vrc;
    }
    struct bpc_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        store_errf(err, err_len, "no memory");
        return -ENOMEM;
    }
    store_defaults(s, cfg, opt);
    int rc = store_paths(s, path, err, err_len);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->info.corrupt_offset = UINT64_MAX;
    s->info.version = BPC_STORE_FORMAT_VERSION;
    s->info.cluster_id = cfg->cluster_id;
    s->info.party = cfg->self;
    (void)bpc_config_digest(cfg, s->info.digest); /* validated above: 0 */
    rc = store_map_init(&s->map);
    if (rc == 0) {
        rc = store_open_file(s, err, err_len);
    } else {
        store_errf(err, err_len, "no memory");
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
    if (s->old_fd >= 0) {
        (void)s->io.close(s->io.ctx, s->old_fd);
    }
    store_map_free(&s->map);
    free(s->order_idx);
    store_values_free(&s->values);
    free(s->export);
    free(s->wbuf);
    free(s);
}
