/*
 * bpcon_store.h - the one public header of libbpcon-store: a party's
 * durable vote store, the write-ahead log behind the engine's
 * "persist before send" rule.
 *
 * Owns: the store file format (docs/STORE.md: a header naming cluster,
 * party and configuration digest, then CRC32C-framed little-endian records
 * and the bytes of the values they name, grouped in commits), recovery (a
 * torn tail is reported and cut off; damage before it is refused, naming
 * its offset), group commit (one write and one fdatasync per
 * bpc_store_sync) and crash-safe compaction (write new, sync, rename, sync
 * the directory) that keeps the file within a bound set by the window,
 * not by the run length.
 *
 * Must never: be called from inside bpc_engine_step (it makes system
 * calls; the caller runs it between steps), load a record whose checksum
 * or framing fails, report a record durable before its commit is
 * written and (unless the store was opened with no_sync) fdatasync'ed,
 * or (unless no_sync) report one durable once its file is no longer the
 * one at the store's path (unlinked or replaced under the writer).
 *
 * Threading: one store is used by one thread at a time.
 */
#ifndef BPCON_STORE_H
#define BPCON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpcon.h"

#ifdef __cplusplus
extern "C" {
#endif

/* File format version this build writes, and the oldest it reads (version
 * 1 has no decided records, versions 1 and 2 no value frames or clean
 * floors: one there is damage; a version 3 file a clean floor only when
 * written by a build of 2026-12-04; a file of an older version opened for
 * writing is rewritten as this one at once). */
#define BPC_STORE_FORMAT_VERSION 4u
#define BPC_STORE_FORMAT_VERSION_MIN 1u
/* Bytes of the file header and of each frame's header. */
#define BPC_STORE_HEADER_BYTES 80u
#define BPC_STORE_FRAME_HEADER_BYTES 24u
/* Payload bytes of one vote-state record (struct bpc_durable, explicit LE). */
#define BPC_STORE_RECORD_BYTES 264u
/* Payload bytes of a value frame before the value's bytes: instance u64 and
 * the value's identity (36 bytes, as in records). */
#define BPC_STORE_VALUE_HEAD_BYTES 44u
/* Largest application-state blob (bpc_store_put_app). */
#define BPC_STORE_APP_BYTES_MAX 4096u
/* At most this much of a replaced file is given back per
 * bpc_store_release call. */
#define BPC_STORE_RELEASE_BYTES (256u * 1024u)
/* With no_sync, bpc_store_sync checks that the store's path still names
 * its file (io's same_file) at every this many commits, not at each one:
 * the check's two system calls cost about as much as the commit's write
 * (docs/STORE.md). Synced commits are checked every time. */
#define BPC_STORE_NAME_CHECK_EVERY 256u
/* Smallest default compaction threshold (see bpc_store_compact_due): a
 * compaction (a new file, rename, the old one freed) costs a poll tens to
 * hundreds of microseconds, so at about 1.4 KB of records per decision it
 * comes every few thousand decisions, not every few hundred. */
#define BPC_STORE_COMPACT_MIN_BYTES (4096u * 1024u)

/* ------------------------------------------------------------------------
 * I/O calls, injectable (fault tests). Each returns >= 0 or -errno; a
 * write may return fewer bytes than asked (the store writes the rest).
 * open's flags are open(2)'s, and the store relies on O_CREAT, O_EXCL
 * and O_NOFOLLOW (PATH.tmp is never a link's target): a table passes
 * them on. bpc_store_io_posix() is the default: open(2), pwrite(2),
 * fdatasync(2)...
 * ---------------------------------------------------------------------- */

struct bpc_store_io {
    void *ctx;
    int (*open)(void *ctx, const char *path, int flags, unsigned int mode); /* fd */
    int (*close)(void *ctx, int fd);
    int64_t (*size)(void *ctx, int fd);
    int64_t (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t off);
    int64_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);
    int (*datasync)(void *ctx, int fd); /* fdatasync: a file's data */
    int (*dirsync)(void *ctx, int fd);  /* fsync: a directory's entries */
    int (*truncate)(void *ctx, int fd, uint64_t len);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    /* The names an open file has (fstat's st_nlink): bpc_store_release
     * shrinks a replaced file only when it has none, and creation and
     * compaction write PATH.tmp only when it has exactly one (a second
     * name is another file's). NULL (a table written before this call):
     * it never shrinks one, it closes it whole, and PATH.tmp's names are
     * not checked (O_NOFOLLOW still refuses a symbolic link). */
    int64_t (*links)(void *ctx, int fd);
    /* The store's path made absolute, every symbolic link and "." or ".."
     * resolved, into out (out_len bytes); a file not there yet keeps its
     * last component. bpc_store_open resolves its path once, so that
     * compactions rename over the file itself, beside it, whatever the
     * working directory later. NULL: the path is used as given. */
    int (*resolve)(void *ctx, const char *path, char *out, size_t out_len);
    /* An exclusive lock on an open file, not waiting: 0, -EBUSY when
     * another open of the file holds it, else -errno; the file's last
     * close drops it. A writer holds it on the store from open to close
     * (a compaction locks PATH.tmp before renaming it over PATH), so a
     * second writer on the same store is refused. NULL: no locking. */
    int (*lock)(void *ctx, int fd);
    /* Does path still name the file open as fd? 0 when it does, -ENOENT
     * when it names nothing (the file was unlinked, or renamed away),
     * -ESTALE when it names another file (one renamed over it: an
     * operator's cp + mv, a restored copy), else -errno. A writer asks
     * before it acknowledges a commit and before a compaction (see
     * bpc_store_sync): a commit written to a file no longer at path is
     * not found by the next open. NULL (a table written before this
     * call): never asked, and such a commit is acknowledged. */
    int (*same_file)(void *ctx, int fd, const char *path);
};

/* The plain system calls (ctx unused). Its open refuses anything but a
 * regular file (or a directory opened with O_DIRECTORY): a directory with
 * -EISDIR, a FIFO, a socket or a device with -EINVAL, none of them opened
 * when the path names one already (stat, lstat with O_NOFOLLOW), and it
 * never waits on a FIFO (O_NONBLOCK). Its resolve is realpath(3) (of the
 * directory when the file does not exist yet), and refuses a dangling symbolic link
 * with -ENOENT (creating the store would replace the link). Its lock is
 * flock(2) LOCK_EX | LOCK_NB: held per open file description, so a second
 * open in the same process is refused too. Its same_file is fstat(2) of
 * fd and stat(2) of path (following links, as resolve did): the same
 * st_dev and st_ino, and a name left (st_nlink > 0). */
const struct bpc_store_io *bpc_store_io_posix(void);

/* ------------------------------------------------------------------------
 * Opening and recovery.
 * ---------------------------------------------------------------------- */

struct bpc_store_options {
    /* Benchmarks only: no fdatasync or directory sync; a record counts as
     * durable once written, so a machine crash can lose votes already
     * sent. Zero (the default) is durable. */
    bool no_sync;
    /* bpc_store_inspect semantics for open: nothing is truncated, created
     * or appended. */
    bool read_only;
    /* File size that makes bpc_store_compact_due() true; 0: the default,
     * max(BPC_STORE_COMPACT_MIN_BYTES, 4 x the live bound). */
    uint64_t compact_bytes;
    const struct bpc_store_io *io; /* NULL: bpc_store_io_posix() */
};

/* What a scan of the file found (bpc_store_open, bpc_store_inspect). */
struct bpc_store_info {
    uint32_t version;
    uint32_t party;
    uint64_t cluster_id;
    uint8_t digest[BPC_DIGEST_BYTES]; /* bpc_config_digest of the writer */
    uint64_t first_seq;               /* sequence number of the first frame */
    uint64_t next_seq;                /* of the next frame to append */
    uint64_t commits;                 /* complete commits */
    uint64_t records;                 /* vote-state records in them */
    uint64_t app_records;             /* application-state records in them */
    uint64_t values;                  /* value frames in them, loaded */
    uint64_t valid_bytes;             /* header + complete commits */
    uint64_t torn_bytes;              /* past valid_bytes: a torn commit (dropped) */
    uint64_t corrupt_offset;          /* UINT64_MAX: none; else the damaged frame */
    char corrupt_reason[96];          /* what was wrong there */
    uint64_t floor;                   /* largest floor among the records */
    uint64_t max_ballot;              /* largest max_bal among the records */
    uint64_t file_bytes;
    uint64_t values_skipped; /* value frames whose bytes do not hash to their
                                identity (a writer's mistake): not loaded */
};

/* Misuse is an error, never a crash: a call given a NULL store handle
 * or a NULL output returns -EINVAL (where it returns a count, 0 with the
 * array NULL; bpc_store_info NULL; bpc_store_compact_due false;
 * bpc_store_stats zeroes out), and bpc_store_open and bpc_store_inspect
 * refuse (-EINVAL, naming it) an I/O table that lacks a call they need:
 * open, close, size and pread to read; pwrite, datasync, dirsync,
 * truncate, rename and unlink too to write. */
struct bpc_store;

/* Opens the store at path for party cfg->self of cfg's cluster, creating
 * it (crash-safely) when it does not exist. An empty file is damage (the
 * store only renames complete files into place): -EBADMSG, left as it
 * is. An existing file
 * must carry cfg's cluster id, party id and bpc_config_digest(cfg), else
 * -EINVAL with a message naming the mismatch, and a format version from
 * BPC_STORE_FORMAT_VERSION_MIN to BPC_STORE_FORMAT_VERSION, else
 * -EPROTONOSUPPORT naming it.
 * A torn tail is dropped (info.torn_bytes) and cut off the file, durably,
 * before anything is appended, by a writer's open that succeeds (one
 * refused for PATH.tmp, below, leaves the file as it was). A writer's open
 * of an existing store then makes what it loaded durable (unless no_sync):
 * the file's bytes written back over themselves (after a failed fdatasync
 * the kernel may have marked pages clean that never reached the disk),
 * an fdatasync of the file and an fsync of its directory, so that a
 * process that died, or failed, between a write and its sync, or between
 * a rename and the directory's sync, leaves nothing behind that a power
 * loss after this open's acknowledged commits could take away; a failure
 * there fails the open with its errno, naming what was synced. Damage before
 * the tail (a checksum or framing failure followed by more data, or a
 * record with good checksums that bpc_store_append would refuse, one
 * bpc_engine_restore refuses) is -EBADMSG with a message naming the
 * offset: nothing is loaded, and nothing is rewritten. A
 * leftover PATH.tmp of an interrupted
 * compaction or creation is removed when it is empty, begins with the
 * store's magic, or begins with 512 zero bytes (a power loss's leftover:
 * none of its pages written, or not the first), has one name and is no
 * longer than the store's file (a header's length when creating); any other file there (or a
 * symbolic link, a directory, a FIFO, a socket or a device: the table's open refusing it with
 * -ELOOP, -EISDIR, -EINVAL or -ENXIO) is left as it is, never followed or waited on, and a writer's
 * open is -EEXIST naming it and what it is (a compaction meeting one is -EEXIST, the store not
 * failed). PATH.tmp is the store's own: a writer's store whose name ends in ".tmp" (another store's
 * temporary file) is -EINVAL, nothing created (a read_only open reads one); creating a store where
 * PATH.tmp is a symbolic link, a file with another name (a hard link), a directory, a FIFO, a
 * socket or a device is -EEXIST, that file left as it is. A writer opening an existing store
 * creates PATH.tmp (O_EXCL) and removes it again: when that fails (a directory it may not write,
 * where no compaction could work) the open fails with that errno, naming PATH.tmp. path is resolved
 * once, here (io's resolve): a symbolic link to the store keeps naming it after compactions, which
 * write PATH.tmp beside the real file and rename it over that, and a relative path means the
 * working directory of this call, not of later compactions. A writer (not read_only) takes the
 * store's exclusive lock (io's lock) and holds it until bpc_store_close:
 * while another writer holds it, the open is -EBUSY ("in use by another
 * process"), nothing touched. read_only opens and bpc_store_inspect take
 * no lock and work beside a writer. A path, or one of its names, longer
 * than the system allows is -ENAMETOOLONG naming which (a writer's store
 * name must leave room for ".tmp": at most NAME_MAX - 4 bytes). opt may
 * be NULL (durable defaults).
 * cfg is validated first: one bpc_config_validate refuses (self outside
 * the party list, too many parties...) returns its negated BPC_ECFG_
 * code, nothing created. Returns 0 (err then empty) or a negative errno
 * (or that code), with a message in err. */
int bpc_store_open(struct bpc_store **out, const char *path, const struct bpc_config *cfg,
                   const struct bpc_store_options *opt, char *err, size_t err_len);
/* Closes the file and frees the store (buffered, unsynced frames are
 * dropped: they were never reported durable). NULL is allowed. */
void bpc_store_close(struct bpc_store *s);

/* The live records for bpc_engine_restore: the newest party-wide record,
 * the newest apply-state record per submitter and the newest vote record
 * per instance at or above the floor. Valid until the next call that
 * changes the store. Returns the count; *recs is never NULL on success.
 * 0 and *recs NULL when there was no memory for the array: the records
 * are still in the store, and a caller that restored an empty set instead
 * would restart the party without its promises (check *recs). */
uint32_t bpc_store_records(struct bpc_store *s, const struct bpc_durable **recs);
/* The live values for bpc_engine_restore_values: every value appended (or
 * recovered) that the newest record of its instance names (a vote record
 * at or above the floor: its max_vval, a history entry or its dec_val;
 * a live decided record below it), once per instance and identity,
 * in no particular order; not one whose bytes do not hash to its
 * identity (each hashed once, when first exported here). Their
 * bytes point into the store:
 * valid, like the array, until the next call that changes the store
 * (append, sync, compact, close). Returns the count; *vals is never NULL
 * on success, and 0 with *vals NULL means no memory (as for
 * bpc_store_records: check *vals). */
uint32_t bpc_store_values(struct bpc_store *s, const struct bpc_durable_value **vals);
/* The newest application-state blob: 0 and its floor and bytes (valid
 * until the next change), or -ENOENT when none was ever written. */
int bpc_store_app(const struct bpc_store *s, uint64_t *floor, const uint8_t **bytes, uint32_t *len);
/* What open found (the recovery report, as of the open: its file_bytes
 * and counts do not follow later commits; bpc_store_stats does). */
const struct bpc_store_info *bpc_store_info(const struct bpc_store *s);

/* ------------------------------------------------------------------------
 * Appending: group commit.
 * ---------------------------------------------------------------------- */

/* Buffers the step's persist records (out->persist); nothing is written
 * yet. 0, -EINVAL (nothing buffered: recs NULL with count > 0, or a record
 * recovery would call damage: a ballot above BPC_BALLOT_MAX, a malformed
 * value identity, a history past BPC_HISTORY_MAX, decided other than 0 or
 * 1, a decided record with a history or not below its floor; or one
 * bpc_engine_restore refuses: a floor above BPC_DURABLE_FLOOR_MAX (2^62)
 * or a vote or decided instance at or above BPC_DURABLE_FLOOR_MAX +
 * BPC_WINDOW_SLOTS_MAX, an
 * incarnation above 2^24 - 2, a vote value without a vote ballot or the
 * reverse, a decided record without a decided value, a history entry at
 * ballot 0 or without a value, a vote or history ballot above the
 * record's max_bal; or records that would leave a live set restore
 * refuses: a promised ballot beside the incarnation 2^24 - 2; or a
 * record that lowers what its instance's newest live record, earlier in
 * the call or before, holds: a vote or decided record with a lower
 * max_vbal, or the same one with another max_vval, a vote record (both
 * not decided) whose history's highest 2av (clean floors aside) is lower,
 * or at the same ballot for another value, an apply-state record
 * with a lower applied_seq; a party-wide record with a lower max_bal or
 * incarnation; a vote record at or above its floor +
 * BPC_WINDOW_SLOTS_MAX), -ERANGE (nothing buffered: a record
 * no engine of the configuration the store was opened with writes, which a restore under it refuses
 * the same way: a vote at or above the record's floor + window_slots, a DIGEST value longer than
 * value_bytes_max; and a vote record below its own floor, where an engine writes a decided record),
 * -EIO (failed store), -EROFS (read-only store), -ENOMEM; -EOVERFLOW (nothing buffered) when the
 * file's frame sequence numbers would pass 2^64 - 2 (only a file renumbered near 2^64 comes
 * close; the same for the two calls below). A decided record whose dec_keep is below
 * its own floor is written but not taken: it raises no floor. */
int bpc_store_append(struct bpc_store *s, const struct bpc_durable *recs, uint32_t count);
/* Buffers the bytes of the step's DIGEST values (out->persist_values), one
 * value frame each, into the same commit as the records appended before
 * the next bpc_store_sync, and takes them into the live values (a value
 * below the floor that no live decided record names is written but not
 * kept, as a dead record is: append the step's records first; one no
 * record names is dropped at the next compaction). The
 * digest is not computed again: the engine did. A value already held
 * (same instance and identity) is kept once; bytes that differ from the
 * held ones are hashed then, and replace them only when they hash to the
 * identity (the right bytes win over wrong ones appended first, in the
 * export and in compaction). 0; -EINVAL (nothing
 * buffered) when vals is NULL with count > 0, or a value is not a DIGEST value
 * of 33..BPC_VALUE_BYTES_MAX bytes with a zero pad, has no bytes, or names an instance at or above
 * BPC_DURABLE_APPLIED_BASE; -ERANGE (nothing buffered) for a value longer
 * than the configuration's value_bytes_max; -EIO (failed store), -EROFS,
 * -ENOMEM, -EOVERFLOW. */
int bpc_store_append_values(struct bpc_store *s, const struct bpc_durable_value *vals,
                            uint32_t count);
/* Buffers the application's own state as of floor (every instance below
 * it applied, none at or above); put it before the records that carry
 * that floor. len <= BPC_STORE_APP_BYTES_MAX; bytes may be NULL when len
 * is 0. -EINVAL (nothing buffered) for a longer len or NULL bytes with
 * len > 0, or a floor below the last application state's (recovery
 * calls that damage); -EIO (failed store), -EROFS (read-only store), -ENOMEM, -EOVERFLOW. */
int bpc_store_put_app(struct bpc_store *s, uint64_t floor, const void *bytes, uint32_t len);
/* Writes every buffered frame as one commit (one pwrite) and fdatasyncs
 * (unless no_sync), then checks that the store's path still names the
 * file written (io's same_file): a file unlinked or replaced under the
 * writer is not what the next open reads. On 0 everything appended so
 * far is durable: the messages that depend on it may leave
 * (bpc_engine_persisted). Any I/O failure here or in compaction, and a
 * path that no longer names the file, leave the store failed: every
 * later call returns -EIO (a failed fdatasync cannot be retried safely),
 * bpc_store_error says why; the failed commit is cut off the file first,
 * as well as a truncate can (after a failed fdatasync the kernel may mark
 * its pages clean: a restart would read a commit the disk never held).
 * With no_sync the path is checked at every BPC_STORE_NAME_CHECK_EVERY-th
 * commit and before each compaction, not at every commit (docs/STORE.md:
 * its cost). Nothing buffered: 0 at
 * once. -EROFS for a read-only store. */
int bpc_store_sync(struct bpc_store *s);

/* ------------------------------------------------------------------------
 * Compaction.
 * ---------------------------------------------------------------------- */

/* True when the file has grown past the compaction threshold. */
bool bpc_store_compact_due(const struct bpc_store *s);
/* Rewrites the file as its live records (bpc_store_records plus the
 * newest application state) and live values (bpc_store_values) into
 * PATH.tmp, fdatasyncs it, renames it over PATH and fsyncs the directory;
 * a crash at any point leaves either the old or the new file, both
 * complete. Needs nothing buffered (sync
 * first): -EBUSY otherwise. First checks that PATH still names the
 * store's file (as bpc_store_sync does): when not, nothing is written
 * (no file replaced, none made at PATH) and the store fails. 0, or -EIO
 * and the store failed; or -EEXIST
 * when PATH.tmp is not the store's own (a symbolic link, opened with
 * O_NOFOLLOW; a directory, a FIFO, a socket or a device, which io's open
 * refuses; a file with another name: io's links is not 1; or bytes the
 * store never writes there), which is left as it is: nothing was
 * written, the store is not failed, and a later compaction (once it is
 * gone) works. -ENOMEM when there is no memory for the image, -EOVERFLOW
 * when its frames would need sequence numbers past 2^64 - 2: nothing
 * was written and the store goes on (a later compaction may work); or,
 * the store failed, when the live set's table cannot be rebuilt after
 * the rename (the file is the compacted one). -EROFS for a read-only
 * store. */
int bpc_store_compact(struct bpc_store *s);
/* A compaction does not close the file it replaced: that last close
 * frees the file's pages and blocks, about a millisecond for 4 MiB on
 * ext4, and would stall the caller's poll. Each call truncates it by at
 * most BPC_STORE_RELEASE_BYTES and closes it once empty: 1 while some of
 * it is left, 0 when none is (or there was none), a negative errno when
 * a truncate failed (the file is then closed at once; the store is
 * unaffected). It is shrunk only while the file has no name left (io's
 * links is 0): a hard link to the store (a backup) still names it, and
 * its content is not the store's to give back, so such a file is closed
 * whole at once (its close frees nothing) and 0 returned; so is one whose
 * names cannot be counted. A failed store (a compaction's directory sync
 * may have failed, so a power loss could bring that file back as PATH)
 * closes it untouched and returns 0. The next compaction and
 * bpc_store_close close what is left. Call it between polls after a
 * compaction until it returns 0 or less. */
int bpc_store_release(struct bpc_store *s);

struct bpc_store_stats {
    uint64_t records;        /* vote-state records appended since open */
    uint64_t app_records;    /* application-state records appended */
    uint64_t syncs;          /* commits written */
    uint64_t compactions;    /* completed */
    uint64_t bytes_written;  /* by commits and compactions */
    uint64_t file_bytes;     /* now */
    uint64_t file_bytes_max; /* largest seen since open */
    uint64_t compact_bytes;  /* the threshold in force */
    uint64_t live_records;   /* records bpc_store_records would return now */
    bool failed;             /* an I/O call failed: every call returns -EIO */
    uint64_t live_values;    /* values bpc_store_values would return now */
};
void bpc_store_stats(const struct bpc_store *s, struct bpc_store_stats *out);
/* Why the store failed: 0 while it has not, else the negative errno of
 * the call that failed it (-ENOSPC for a full file system, -EIO for a
 * failed fdatasync or a write of no bytes, -ENOMEM, ...), or of the
 * check that its path still names its file: -ENOENT when nothing is
 * there (the file was unlinked or renamed away), -ESTALE when another
 * file is (one renamed or copied over it); kept from the first failure;
 * bpc_store_sync and bpc_store_compact still return -EIO. -EINVAL for s
 * NULL. */
int bpc_store_error(const struct bpc_store *s);

/* ------------------------------------------------------------------------
 * Inspection (bpcon-store check / dump): no configuration needed, never
 * writes.
 * ---------------------------------------------------------------------- */

enum bpc_store_frame_type {
    BPC_STORE_FRAME_RECORD = 1, /* a struct bpc_durable */
    BPC_STORE_FRAME_APP = 2,    /* an application-state blob */
    BPC_STORE_FRAME_VALUE = 3,  /* the bytes of a DIGEST value (version 3) */
};

/* One frame of a complete commit, as bpc_store_inspect reads it; the
 * pointers are valid during the callback only. */
struct bpc_store_frame {
    uint64_t offset;
    uint64_t seq;
    uint8_t type;                  /* enum bpc_store_frame_type */
    bool commit_end;               /* the last frame of its commit */
    const struct bpc_durable *rec; /* RECORD frames */
    uint64_t app_floor;            /* APP frames */
    const uint8_t *app;
    uint32_t app_len;
    uint64_t value_instance;         /* VALUE frames */
    const struct bpc_vid *value_vid; /* a DIGEST identity: value_vid->len bytes */
    const uint8_t *value_bytes;      /* that hash to it (checked; a frame whose
                                        bytes do not is skipped, not reported) */
};
typedef void (*bpc_store_frame_fn)(void *ctx, const struct bpc_store_frame *f);

/* Scans path read-only: fills info and calls fn (may be NULL) for every
 * frame of every complete commit, in file order. 0 when the file is intact
 * or only has a torn tail; -EBADMSG when it is damaged before the tail
 * (info.corrupt_offset, info.corrupt_reason; frames before the damage were
 * reported), and so for a file that is no store (too short for a header,
 * bad magic: damaged at offset 0); -EPROTONOSUPPORT for a format version
 * this build does not read; another negative errno when the file cannot
 * be read (err says why). io may be NULL. */
int bpc_store_inspect(const char *path, const struct bpc_store_io *io, struct bpc_store_info *info,
                      bpc_store_frame_fn fn, void *ctx, char *err, size_t err_len);

/* CRC32C (Castagnoli) of len bytes, as the format uses it; buf NULL: no
 * bytes (0, the CRC of none). */
uint32_t bpc_store_crc32c(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BPCON_STORE_H */
