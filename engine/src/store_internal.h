/*
 * store_internal.h - what the files of libbpcon-store share: the format's
 * constants, struct bpc_store itself, the little-endian field helpers and
 * the calls one file makes into another. Never installed: bpcon_store.h
 * is the library's one public header, and nothing here is exported (the
 * version script keeps every store_ name local).
 *
 *   store.c          the store object: open, create, close, the live set
 *   store_map.c      the live set's table (newest record per instance)
 *   store_format.c   CRC32C, field, record, header and frame encoding
 *   store_recover.c  the recovery scan: open's recovery and bpc_store_inspect
 *   store_commit.c   appends, group commit, compaction
 *   store_io.c       the POSIX I/O table, whole-buffer read and write
 */
#ifndef BPC_STORE_INTERNAL_H
#define BPC_STORE_INTERNAL_H

#include "bpcon_store.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
/* Value frame payload: instance u64 | identity | the value's bytes. */
#define STORE_VALUE_FRAME_BYTES(len)                                                               \
    (BPC_STORE_FRAME_HEADER_BYTES + BPC_STORE_VALUE_HEAD_BYTES + (len))
/* The first frame of a new store. */
#define STORE_FIRST_SEQ 1u
#define STORE_PATH_MAX 4096u

/* The newest record per instance, in an open-addressing table. A second
 * table of the same size (spare) takes the survivors when the table is
 * pruned, so pruning at an unchanged size allocates nothing. */
struct store_map {
    struct bpc_durable *recs;
    uint8_t *used;
    struct bpc_durable *spare_recs;
    uint8_t *spare_used;
    uint32_t cap; /* power of two */
    uint32_t count;
};

/* One live value: its bytes are the arena's at..at + vid.len. */
struct store_value {
    uint64_t instance;
    struct bpc_vid vid;
    size_t at;
    /* The bytes were hashed and hash to vid (when first exported, or
     * when they replaced wrong ones): a writer and a recovery take them
     * unhashed, and bpc_store_values leaves out those that do not hash
     * (store_value_verify). */
    bool verified;
};

/* The live values, one per (instance, identity): entries in the order
 * their bytes sit in the arena (append order), and an open-addressing
 * index over them (2 x cap slots, each an entry's position + 1, 0 empty)
 * that finds a value appended again. Pruned in place of the values below
 * the floor before either array grows, so that appends allocate nothing
 * once both hold the live set. */
struct store_values {
    struct store_value *ents;
    uint32_t count;
    uint32_t cap;
    uint32_t *index;
    uint8_t *arena;
    size_t used;
    size_t arena_cap;
    struct bpc_durable_value *export; /* scratch for bpc_store_values */
    uint32_t export_cap;
    /* Value frames since the last prune (each one counted, whether its
     * value was taken, held already, below the floor or, at recovery,
     * skipped for bytes that do not hash to it), and the entries that
     * survived that prune (a recovery takes the entries a writer took,
     * bytes that do not hash included): a commit's end prunes
     * once more frames came than survived (at least STORE_VALUES_MIN), so
     * the writer and a recovery of its file prune at the same commits,
     * whatever the frames held (store_values_commit_end). */
    uint32_t since_prune;
    uint32_t survivors;
};

struct bpc_store {
    struct bpc_store_io io;
    bool no_sync;
    bool read_only;
    bool failed;
    int error; /* with failed: the first failure's negative errno (bpc_store_error) */
    int fd;
    /* The file the last compaction replaced, still open and shrinking
     * (bpc_store_release); -1: none. old_size: its bytes left. */
    int old_fd;
    uint64_t old_size;
    char path[STORE_PATH_MAX];
    char tmp[STORE_PATH_MAX + 8];
    /* What store_tmp_open found at PATH.tmp when it returned -EEXIST (a
     * symbolic link, a directory...), for the creation's message. */
    const char *tmp_why;
    char dir[STORE_PATH_MAX];
    uint8_t header[BPC_STORE_HEADER_BYTES]; /* this store's identity (first_seq aside) */
    uint64_t size;                          /* bytes in the file (all durable-or-written) */
    uint64_t next_seq;
    uint64_t floor;
    /* A record of the last incarnation (2^24 - 2) was taken (and may be
     * live): bpc_store_append then checks the live set for a promise
     * beside it (store_set_refused). Never cleared while open. */
    bool inc_last;
    /* The newest party-wide record taken (has_pw): its max_bal and
     * incarnation, which a later one may not lower (no engine does:
     * bpc_store_append refuses it, recovery calls it damage). */
    bool has_pw;
    uint64_t pw_max_bal;
    uint64_t pw_incarnation;
    uint64_t live_bound; /* bytes of the largest possible compacted file */
    uint64_t compact_bytes;
    uint64_t compacted_size;  /* the file's size right after the last compaction */
    uint32_t unchecked;       /* no_sync commits since the path was last checked */
    uint32_t window;          /* the configuration's window_slots and value_bytes_max: */
    uint32_t value_bytes_max; /* what append takes is what a restore under it takes */
    struct store_map map;
    /* bpc_store_append's scratch: where in its call each instance's
     * newest record is (index + 1; 0 free), order_cap entries. */
    uint32_t *order_idx;
    uint32_t order_cap;
    struct bpc_durable *export; /* scratch for bpc_store_records */
    uint32_t export_cap;
    struct store_values values;
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

/* The low `bytes` (1..8) bytes of v, little-endian. Through the value's
 * little-endian form and a memcpy of constant length, so that each field
 * is one load or store: the byte loops they replace were not unrolled at
 * -O2 and cost about a third of an appended record's encoding. */
static inline void
store_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    uint64_t le = htole64(v);
    memcpy(p, &le, bytes);
}

static inline uint64_t
store_get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t le = 0;
    memcpy(&le, p, bytes);
    return le64toh(le);
}

/* store.c: messages, the live set. */
void store_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Rebuilds the table at cap, dropping vote records below floor. */
int store_map_rebuild(struct store_map *m, uint32_t cap, uint64_t floor);
void store_map_free(struct store_map *m);
/* Takes one record into the live set (floor first: it may prune). */
int store_take_record(struct bpc_store *s, const struct bpc_durable *d);
int store_map_take(struct store_map *m, uint64_t *floor, const struct bpc_durable *d);
bool store_map_takes(uint64_t *floor, const struct bpc_durable *d);
int store_map_init(struct store_map *m);
const struct bpc_durable *store_map_live(const struct store_map *m, uint64_t instance,
                                         uint64_t floor);
void store_take_app(struct bpc_store *s, uint64_t floor, const uint8_t *bytes, uint32_t len);
/* Is d still live at floor (store.c)? */
bool store_live(const struct bpc_durable *d, uint64_t floor);
uint32_t store_live_count(const struct bpc_store *s);
/* The floor again from the live records alone, as a recovery of a
 * compacted file computes it (store.c). */
void store_floor_of_live(struct bpc_store *s);
/* The table's hash of an instance (store.c). */
uint32_t store_hash(uint64_t instance, uint32_t mask);

/* store_values.c: the live values. */
void store_values_free(struct store_values *v);
/* Is the value (instance, vid) named by its instance's live record? */
bool store_value_live(const struct bpc_store *s, uint64_t instance, const struct bpc_vid *vid);
/* Takes one value into the live values (dropped when below the floor or
 * already there); 0 or -ENOMEM. */
int store_take_value(struct bpc_store *s, uint64_t instance, const struct bpc_vid *vid,
                     const uint8_t *bytes);
/* The live values (bpc_store_values): 0, or -ENOMEM. */
int store_values_export(struct bpc_store *s, const struct bpc_durable_value **vals,
                        uint32_t *count);
/* Drops, in place (no allocation), the values no longer live (named:
 * those no live record names, at a compaction) or no longer needed
 * (else: those below the floor no live decided record names; a record
 * of the commit under way may still name one at or above it). */
void store_values_prune(struct bpc_store *s, bool named);
/* A commit's frames are all taken in (the writer's sync, or recovery at a
 * commit's last frame): the values not kept go when enough were taken. */
void store_values_commit_end(struct bpc_store *s);
/* A compaction wrote the live values as its file's one commit: the counts
 * as a recovery of that file leaves them. */
void store_values_compacted(struct bpc_store *s);
/* Frame bytes of the live values (what a compaction writes for them). */
uint64_t store_values_frame_bytes(const struct bpc_store *s);

/* store_format.c: encoding. */
/* The first call an I/O table lacks that a store needs (a reader: open,
 * close, size, pread; a writer: also pwrite, datasync, dirsync,
 * truncate, rename, unlink), or NULL when it has them all (io NULL: the
 * plain system calls). links, resolve, lock and same_file are optional. */
const char *store_io_lacks(const struct bpc_store_io *io, bool writer);
/* NULL when the payload is a valid record, else what is wrong. */
const char *store_decode_record(const uint8_t *p, struct bpc_durable *d);
/* NULL when recovery would load d as it is (store_decode_record's rules). */
const char *store_record_check(const struct bpc_durable *d);
/* The order of the party-wide records (instance UINT64_MAX; any other d
 * is NULL, nothing changed): NULL when d's max_bal and incarnation are at
 * least those of the one before it (*has: there was one; *max_bal, *inc:
 * its values, set to d's), else what is wrong. No engine lowers either
 * (persist.c: max_bal only rises, records carry the incarnation in force,
 * a restart takes the highest restored); bpc_store_append refuses such a
 * record and recovery calls it damage. */
const char *store_pw_order(const struct bpc_durable *d, bool *has, uint64_t *max_bal,
                           uint64_t *inc);
/* NULL when the plen bytes at p are a valid value frame payload, else what
 * is wrong; the bytes are hashed against the identity only when
 * check_digest, and bytes that do not hash to it give STORE_WHY_DIGEST
 * (the scan's second pass skips such a frame: a writer's mistake, not
 * damage). */
const char *store_rec_order(const struct bpc_durable *old, const struct bpc_durable *d);
extern const char STORE_WHY_APP_ORDER[];
const char *store_decode_value(const uint8_t *p, uint32_t plen, bool check_digest,
                               uint64_t *instance, struct bpc_vid *vid);
extern const char STORE_WHY_DIGEST[];
/* Sets the commit-end flag of a sealed frame (its header CRC again). */
void store_frame_end(uint8_t *f);
void store_header_encode(uint8_t *h, uint64_t cluster_id, uint32_t party,
                         const uint8_t digest[BPC_DIGEST_BYTES], uint64_t first_seq);
/* Frames one record into buf (seq taken from *seq); returns its bytes. */
size_t store_put_record_frame(uint8_t *buf, const struct bpc_durable *d, uint64_t *seq);
size_t store_put_app_frame(uint8_t *buf, uint64_t floor, const uint8_t *bytes, uint32_t len,
                           uint64_t *seq);
size_t store_put_value_frame(uint8_t *buf, uint64_t instance, const struct bpc_vid *vid,
                             const uint8_t *bytes, uint64_t *seq);

/* store_recover.c: reads, checks and loads an existing file (fd open),
 * writing nothing; store_cut_torn then cuts the torn tail it found (a
 * writer, once the open can no longer be refused). */
int store_recover(struct bpc_store *s, char *err, size_t err_len);
int store_cut_torn(struct bpc_store *s, char *err, size_t err_len);

/* store_commit.c */
void store_grew(struct bpc_store *s, uint64_t size);
/* 0 when the file at fd (PATH.tmp) is empty, begins with the store's
 * magic, or begins with STORE_TMP_ZERO_HEAD zero bytes (a compaction
 * image a power loss left with its first page unwritten), is no longer
 * than the store's file and has one name (a file the store may have
 * written), -EEXIST when not (*why: what is wrong, when not the first
 * bytes: STORE_TMP_NOT_OURS). */
#define STORE_TMP_ZERO_HEAD 512u
#define STORE_TMP_NOT_OURS                                                                         \
    "it neither begins with the store's magic nor with 512 zero bytes, as a compaction's "         \
    "leftover does"
int store_tmp_ours(const struct bpc_store *s, int fd, const char **why);
/* What is at PATH.tmp when an open of it (O_NOFOLLOW) failed with rc
 * because it is no file the store may have written: a symbolic link
 * (-ELOOP), a directory (-EISDIR), a FIFO, a socket or a device (-EINVAL,
 * the POSIX table's; -ENXIO, open(2)'s of a socket). NULL for any other
 * rc: the file system's error, not the name's. */
const char *store_tmp_foreign(int rc);
/* Writes img as PATH.tmp, syncs it, renames it over PATH and syncs the
 * directory; on 0 the store appends to the new file. */
int store_replace(struct bpc_store *s, const uint8_t *img, size_t len);
/* An fsync of the store's directory (nothing with no_sync): 0 or -errno. */
int store_dirsync(struct bpc_store *s);

/* store_io.c: whole buffers through the I/O table; 0 or -errno. */
int store_write_all(const struct bpc_store_io *io, int fd, const uint8_t *buf, size_t len,
                    uint64_t off);
/* Reads exactly len bytes at off (-EIO when the file ends first). */
int store_read_at(const struct bpc_store_io *io, int fd, uint8_t *buf, size_t len, uint64_t off);
/* Reads the whole file into a malloc'ed buffer. */
int store_read_all(const struct bpc_store_io *io, int fd, uint8_t **out, uint64_t *n);
/* What a failed open of the store's file means (-EINVAL from the POSIX
 * table: not a regular file; -EISDIR: a directory). */
const char *store_open_error(int rc);

#endif /* BPC_STORE_INTERNAL_H */
