/*
 * fuzz_store.c - libFuzzer target for the durable store's recovery: one
 * input is one store file, as a torn write, a bad disk or a buggy writer
 * might leave it, read through the in-memory file system of the store
 * tests (tests/store/memfs.c).
 *
 * Owns: input byte 0 is a flags byte, the rest the file. Flag bit 0 fixes
 * every checksum first (the header's and each frame's, walking the frames
 * by their length fields), so mutated records reach the record decoder and
 * the engine instead of stopping at a CRC; bit 3 also stamps the header
 * with this party's identity (magic, version, cluster, party, digest);
 * bits 1-2 pick the party (0..3) of a 4-party cluster.
 *
 * Checks, all fatal (abort = a libFuzzer crash): no sanitizer report and
 * no engine assertion; bpc_store_inspect, a read-only open and a
 * read-write open agree on the verdict and on what they found, and a
 * read-only open leaves the file as it was; a damaged file loads nothing;
 * an intact or torn file restores into a fresh engine (bpc_engine_restore)
 * that then starts, takes a command and steps through its deadlines, every
 * step settling; a read-write open cuts the torn tail and the file then
 * takes one more commit that a reopen finds, with no torn bytes.
 *
 * Must never: carry state from one input to the next (the engine's
 * storage is kept, bpc_engine_init starts it afresh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpcon.h"
#include "bpcon_store.h"
#include "memfs.h"
#include "store_internal.h" /* the format's own encoders */

#define FS_PATH "/f/store"
#define FS_N 4u
#define FS_FILE_MAX (1u << 20)
#define FS_FRAME 1400u
#define FS_TX 32u
#define FS_DEC 64u
#define FS_STEPS 8u
#define FS_MS UINT64_C(1000000)

#define FS_CHECK(x)                                                                                \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_store: check failed: %s (line %d)\n", #x, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fs_file[FS_FILE_MAX];
static uint8_t fs_keys[FS_N][FS_N][BPC_KEY_BYTES];
static struct bpc_config fs_cfg[FS_N];
static void *fs_mem;
static size_t fs_mem_len;
static struct bpc_frame_out fs_tx[FS_TX];
static uint8_t fs_tx_mem[FS_TX][FS_FRAME];
static struct bpc_decision fs_dec[FS_DEC];

/* The four parties' configurations (the same cluster as the seeds'). */
static void
fs_setup(void)
{
    if (fs_mem != NULL) {
        return;
    }
    uint8_t master[BPC_KEY_BYTES];
    memset(master, 0x5a, sizeof(master));
    for (uint32_t i = 0; i < FS_N; i++) {
        struct bpc_config *c = &fs_cfg[i];
        bpc_config_defaults(c);
        c->parties_count = FS_N;
        for (uint32_t j = 0; j < FS_N; j++) {
            c->weights[j] = 1;
            bpc_auth_pair_key(master, i, j, fs_keys[i][j]);
        }
        c->window_slots = 8;
        c->commands_max = 64;
        c->value_bytes_max = 512;
        c->frame_bytes = FS_FRAME;
        c->self = i;
        c->seed = 1000 + i;
        c->keys = (const uint8_t(*)[BPC_KEY_BYTES])fs_keys[i];
    }
    fs_mem_len = bpc_engine_footprint(&fs_cfg[0]);
    fs_mem = aligned_alloc(64, (fs_mem_len + 63) & ~(size_t)63);
    FS_CHECK(fs_mem != NULL);
}

/* Flag bits 0 and 3: the file as a writer that keeps the format would
 * have checksummed it (and, with stamp, under this party's identity: the
 * store's own header encoder, the input's first sequence number kept). */
static void
fs_fix(uint8_t *f, size_t n, const struct bpc_config *cfg, bool stamp)
{
    if (n < BPC_STORE_HEADER_BYTES) {
        return;
    }
    if (stamp) {
        uint8_t digest[BPC_DIGEST_BYTES];
        bpc_config_digest(cfg, digest);
        store_header_encode(f, cfg->cluster_id, cfg->self, digest, store_get_le(f + 64, 8));
    }
    store_put_le(f + 76, bpc_store_crc32c(f, 76), 4);
    const size_t fh = BPC_STORE_FRAME_HEADER_BYTES;
    size_t off = BPC_STORE_HEADER_BYTES;
    while (n - off >= fh) {
        uint8_t *h = f + off;
        uint64_t plen = store_get_le(h + 8, 4);
        if (plen > n - off - fh) {
            break;
        }
        store_put_le(h + 12, bpc_store_crc32c(h + fh, (size_t)plen), 4);
        store_put_le(h + 0, bpc_store_crc32c(h + 4, fh - 4), 4);
        off += fh + (size_t)plen;
    }
}

struct fs_scan {
    uint64_t records;
    uint64_t apps;
    uint64_t values;
    uint64_t last_end;
};

static void
fs_on_frame(void *ctx, const struct bpc_store_frame *f)
{
    struct fs_scan *sc = ctx;
    if (f->type == BPC_STORE_FRAME_RECORD) {
        FS_CHECK(f->rec != NULL && f->rec->hist_count <= BPC_HISTORY_MAX);
        sc->records++;
    } else if (f->type == BPC_STORE_FRAME_VALUE) {
        /* Recovery checked its shape and hands out only values whose
         * bytes hash to the id (it skips the others: values_skipped). */
        FS_CHECK(f->value_vid != NULL && f->value_vid->kind == BPC_VALUE_DIGEST &&
                 f->value_vid->len <= BPC_VALUE_BYTES_MAX && f->value_bytes != NULL);
        struct bpc_vid got;
        bpc_vid_of(&got, f->value_bytes, f->value_vid->len);
        FS_CHECK(bpc_vid_eq(&got, f->value_vid));
        sc->values++;
    } else {
        FS_CHECK(f->type == BPC_STORE_FRAME_APP && f->app_len <= BPC_STORE_APP_BYTES_MAX);
        sc->apps++;
    }
}

/* Steps e at now until it settles; what it asks to persist counts as
 * persisted at once (the file's content is what is under test). */
static void
fs_step(struct bpc_engine *e, uint64_t now)
{
    struct bpc_step_in si = {.now_ns = now};
    for (uint32_t round = 0; round < 256; round++) {
        for (uint32_t k = 0; k < FS_TX; k++) {
            fs_tx[k].bytes = fs_tx_mem[k];
            fs_tx[k].cap = FS_FRAME;
        }
        struct bpc_step_out so = {
            .frames = fs_tx, .frames_cap = FS_TX, .decisions = fs_dec, .decisions_cap = FS_DEC};
        int rc = bpc_engine_step(e, &si, &so);
        FS_CHECK(rc == (int)so.frames_count || rc == -EAGAIN);
        FS_CHECK(so.frames_count <= FS_TX && so.decisions_count <= FS_DEC);
        if (so.persist_count > 0) {
            bpc_engine_persisted(e);
            continue;
        }
        if (rc != -EAGAIN && so.decisions_count < FS_DEC) {
            return;
        }
    }
    fprintf(stderr, "fuzz_store: a step did not settle in 256 rounds\n");
    abort();
}

/* A restarted party on the recovered records and values: restore, start,
 * a command, its deadlines. */
static void
fs_engine(const struct bpc_config *cfg, const struct bpc_durable *recs, uint32_t count,
          const struct bpc_durable_value *vals, uint32_t nvals)
{
    struct bpc_engine *e = NULL;
    char err[256];
    FS_CHECK(bpc_engine_init(&e, fs_mem, fs_mem_len, cfg, err, sizeof(err)) == 0);
    int rc = bpc_engine_restore(e, recs, count);
    FS_CHECK(rc <= 0);
    if (rc != 0) {
        return;
    }
    FS_CHECK(bpc_engine_restore_values(e, vals, nvals) == 0);
    uint64_t promised = 0;
    for (uint32_t k = 0; k < count; k++) {
        promised = recs[k].max_bal > promised ? recs[k].max_bal : promised;
    }
    FS_CHECK(bpc_engine_start(e, FS_MS) == 0);
    uint8_t cmd[16] = {0x42};
    uint64_t ticket = 0;
    (void)bpc_submit(e, cmd, sizeof(cmd), &ticket);
    for (uint32_t t = 0; t < FS_STEPS; t++) {
        fs_step(e, FS_MS + (uint64_t)t * 200 * FS_MS);
        /* Never back below a ballot the file says it promised (up to the
         * largest ballot the engine runs). */
        uint64_t b = bpc_engine_ballot(e);
        FS_CHECK(b >= promised || promised > BPC_BALLOT_MAX);
    }
}

static bool
fs_same_record(const struct bpc_durable *a, const struct bpc_durable *b)
{
    return a->instance == b->instance && a->max_bal == b->max_bal &&
           a->incarnation == b->incarnation && a->floor == b->floor &&
           a->applied_seq == b->applied_seq && a->max_vbal == b->max_vbal &&
           a->hist_count == b->hist_count;
}

/* The tool's read-only scan: its verdict (0, -EBADMSG or another error)
 * and, when it read the file, figures that add up. */
static int
fs_inspect(struct memfs *fs, size_t n, struct bpc_store_info *ii)
{
    char err[512];
    struct fs_scan sc = {0};
    int irc = bpc_store_inspect(FS_PATH, &fs->io, ii, fs_on_frame, &sc, err, sizeof(err));
    FS_CHECK(irc <= 0);
    if (irc == 0) {
        FS_CHECK(ii->corrupt_offset == UINT64_MAX);
        FS_CHECK(ii->valid_bytes >= BPC_STORE_HEADER_BYTES && ii->valid_bytes <= n);
        FS_CHECK(ii->valid_bytes + ii->torn_bytes == n);
        FS_CHECK(sc.records == ii->records && sc.apps == ii->app_records &&
                 sc.values == ii->values);
    } else if (irc == -EBADMSG) {
        FS_CHECK(ii->corrupt_offset <= n); /* an empty file: offset 0 */
    }
    return irc;
}

/* A read-only open: the same verdict and figures as the scan (irc, ii), a
 * restarted engine on what it recovered; nothing in the file changes.
 * Returns the open's verdict. */
static int
fs_open_read_only(struct memfs *fs, size_t n, const struct bpc_config *cfg, int irc,
                  const struct bpc_store_info *ii)
{
    char err[512];
    struct bpc_store_options o = {.io = &fs->io, .read_only = true};
    struct bpc_store *s = NULL;
    int rrc = bpc_store_open(&s, FS_PATH, cfg, &o, err, sizeof(err));
    FS_CHECK(rrc <= 0);
    if (irc != 0) {
        FS_CHECK(rrc != 0);
    }
    if (rrc == 0) {
        const struct bpc_store_info *ri = bpc_store_info(s);
        FS_CHECK(ri->records == ii->records && ri->app_records == ii->app_records);
        FS_CHECK(ri->commits == ii->commits && ri->valid_bytes == ii->valid_bytes);
        FS_CHECK(ri->torn_bytes == ii->torn_bytes);
        const struct bpc_durable_value *vals = NULL;
        uint32_t nv = bpc_store_values(s, &vals);
        const struct bpc_durable *recs = NULL;
        uint32_t k = bpc_store_records(s, &recs);
        FS_CHECK(k <= ii->records);
        fs_engine(cfg, recs, k, vals, nv);
        bpc_store_close(s);
    }
    size_t len = 0;
    const uint8_t *now = memfs_file(fs, FS_PATH, &len);
    FS_CHECK(len == n && (n == 0 || (now != NULL && memcmp(now, fs_file, n) == 0)));
    return rrc;
}

/* A read-write open: the same verdict as the read-only one (rrc; an empty
 * file is created); the torn tail is cut; one more commit lands and a
 * reopen finds it, unless the file's frames already reach 2^64 - 2
 * (-EOVERFLOW: nothing buffered). */
static void
fs_open_read_write(struct memfs *fs, size_t n, const struct bpc_config *cfg, int rrc,
                   const struct bpc_store_info *ii)
{
    char err[512];
    struct bpc_store_options o = {.io = &fs->io, .read_only = false};
    struct bpc_store *s = NULL;
    int wrc = bpc_store_open(&s, FS_PATH, cfg, &o, err, sizeof(err));
    FS_CHECK(wrc <= 0);
    if (wrc == -EOVERFLOW && rrc == 0) {
        /* An older version's file is rewritten in this one (a compaction)
         * before anything is appended, and its live set needs sequence
         * numbers past 2^64 - 2: refused, nothing written beyond the cut
         * of a torn tail. */
        uint64_t frames = (uint64_t)ii->records + ii->values + ii->app_records;
        FS_CHECK(ii->version < BPC_STORE_FORMAT_VERSION &&
                 (ii->next_seq == UINT64_MAX || frames > UINT64_MAX - ii->next_seq));
        size_t len = 0;
        FS_CHECK(memfs_file(fs, FS_PATH, &len) != NULL && len == ii->valid_bytes);
        return;
    }
    if (n > 0) {
        FS_CHECK((wrc == 0) == (rrc == 0));
    }
    if (wrc != 0) {
        return;
    }
    const struct bpc_store_info *wi = bpc_store_info(s);
    uint64_t commits = wi->commits;
    size_t len = 0;
    const uint8_t *now = memfs_file(fs, FS_PATH, &len);
    FS_CHECK(now != NULL && len == wi->valid_bytes);
    const struct bpc_durable *recs = NULL;
    uint32_t k = bpc_store_records(s, &recs);
    struct bpc_durable add = {.instance = UINT64_MAX};
    if (k > 0) {
        add = recs[k - 1];
    }
    int arc = bpc_store_append(s, &add, 1);
    if (arc == -EINVAL || arc == -ERANGE) {
        /* Recovery loads a record bpc_engine_restore refuses (a file an
         * older build wrote, or one written under a larger window or
         * value_bytes_max); the append check refuses it. */
        add = (struct bpc_durable){.instance = UINT64_MAX};
        arc = bpc_store_append(s, &add, 1);
    }
    if (arc == -EOVERFLOW) {
        /* Frames numbered up to 2^64 - 2: none may follow (recovery calls
         * 2^64 - 1 damage), and nothing was buffered. */
        FS_CHECK(wi->next_seq == UINT64_MAX && bpc_store_sync(s) == 0);
        bpc_store_close(s);
        return;
    }
    FS_CHECK(arc == 0);
    FS_CHECK(bpc_store_sync(s) == 0);
    bpc_store_close(s);
    s = NULL;
    FS_CHECK(bpc_store_open(&s, FS_PATH, cfg, &o, err, sizeof(err)) == 0);
    wi = bpc_store_info(s);
    FS_CHECK(wi->torn_bytes == 0 && wi->commits == commits + 1);
    k = bpc_store_records(s, &recs);
    bool found = false;
    for (uint32_t i = 0; i < k && !found; i++) {
        found = fs_same_record(&recs[i], &add);
    }
    FS_CHECK(found);
    bpc_store_close(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > FS_FILE_MAX) {
        return 0;
    }
    fs_setup();
    uint8_t flags = data[0];
    const struct bpc_config *cfg = &fs_cfg[(flags >> 1) & 3u];
    size_t n = size - 1;
    memcpy(fs_file, data + 1, n);
    if ((flags & 1u) != 0) {
        fs_fix(fs_file, n, cfg, (flags & 8u) != 0);
    }
    struct memfs fs;
    memfs_init(&fs, flags);
    memfs_set_file(&fs, FS_PATH, fs_file, n);
    struct bpc_store_info ii;
    int irc = fs_inspect(&fs, n, &ii);
    int rrc = fs_open_read_only(&fs, n, cfg, irc, &ii);
    fs_open_read_write(&fs, n, cfg, rrc, &ii);
    memfs_free(&fs);
    return 0;
}
