/*
 * store_fx.c - what the store's memfs tests share (store_fx.h): their
 * configuration and options, record identities and comparisons, the
 * header's version, a frame's seal, a renumbering, and the engine-shaped
 * commits of the model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first (ts_commit_batch asserts). */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store_fx.h"

void
ts_config(struct bpc_config *cfg, uint32_t window)
{
    bpc_config_defaults(cfg);
    cfg->cluster_id = 7;
    cfg->parties_count = TS_PARTIES;
    cfg->self = 1;
    cfg->window_slots = window;
    cfg->frame_bytes = BPC_FRAME_BYTES_MAX;     /* room for the largest value */
    cfg->value_bytes_max = BPC_VALUE_BYTES_MAX; /* the values the tests store */
}

struct bpc_store_options
ts_opts(struct memfs *fs, uint64_t compact_bytes)
{
    struct bpc_store_options o = {.io = &fs->io, .compact_bytes = compact_bytes};
    return o;
}

bool
ts_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b)
{
    return a->kind == b->kind && a->pad == b->pad && a->len == b->len &&
           memcmp(a->id, b->id, sizeof(a->id)) == 0;
}

/* Field by field: every field of struct bpc_durable. */
bool
ts_rec_eq(const struct bpc_durable *a, const struct bpc_durable *b)
{
    bool eq = a->instance == b->instance && a->max_bal == b->max_bal &&
              a->incarnation == b->incarnation && a->floor == b->floor &&
              a->applied_seq == b->applied_seq && a->max_vbal == b->max_vbal &&
              ts_vid_eq(&a->max_vval, &b->max_vval) && a->hist_count == b->hist_count &&
              a->decided == b->decided && a->dec_bal == b->dec_bal && a->dec_keep == b->dec_keep &&
              ts_vid_eq(&a->dec_val, &b->dec_val);
    for (uint32_t h = 0; eq && h < BPC_HISTORY_MAX; h++) {
        eq = a->hist_bal[h] == b->hist_bal[h] && ts_vid_eq(&a->hist_val[h], &b->hist_val[h]);
    }
    return eq;
}

/* Sets the format version of a file header h and seals it again (its
 * CRC over bytes 0..75 at offset 76). */
void
ts_set_version(uint8_t *h, uint8_t version)
{
    h[8] = version;
    uint32_t crc = bpc_store_crc32c(h, 76);
    for (uint32_t i = 0; i < 4; i++) {
        h[76 + i] = (uint8_t)(crc >> (8 * i));
    }
}

struct bpc_vid
ts_vid(uint64_t tag)
{
    struct bpc_vid v;
    memset(&v, 0, sizeof(v));
    v.kind = tag % 3 == 0 ? BPC_VALUE_DIGEST : BPC_VALUE_INLINE;
    v.len = (uint16_t)(v.kind == BPC_VALUE_DIGEST ? 100u + tag % 900u : 1u + tag % 32u);
    for (uint32_t i = 0; i < (v.kind == BPC_VALUE_DIGEST ? 32u : v.len); i++) {
        v.id[i] = (uint8_t)(tag * 131u + i * 7u + 1u);
    }
    return v;
}

/* Seals a frame again after its payload was edited: the payload's CRC,
 * then the header's (the format's layout: store_format.c). */
void
ts_reseal(uint8_t *f)
{
    uint32_t plen =
        (uint32_t)f[8] | (uint32_t)f[9] << 8 | (uint32_t)f[10] << 16 | (uint32_t)f[11] << 24;
    uint32_t crc = bpc_store_crc32c(f + BPC_STORE_FRAME_HEADER_BYTES, plen);
    for (uint32_t i = 0; i < 4; i++) {
        f[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    crc = bpc_store_crc32c(f + 4, BPC_STORE_FRAME_HEADER_BYTES - 4);
    for (uint32_t i = 0; i < 4; i++) {
        f[i] = (uint8_t)(crc >> (8 * i));
    }
}

/* img (len bytes) renumbered from first: the header's first sequence
 * number and every frame's, checksums resealed. */
void
ts_renumber(uint8_t *img, size_t len, uint64_t first)
{
    for (uint32_t i = 0; i < 8; i++) {
        img[64 + i] = (uint8_t)(first >> (8 * i));
    }
    ts_set_version(img, img[8]);
    uint64_t seq = first;
    for (size_t off = BPC_STORE_HEADER_BYTES; off + BPC_STORE_FRAME_HEADER_BYTES <= len; seq++) {
        uint8_t *f = img + off;
        for (uint32_t i = 0; i < 8; i++) {
            f[16 + i] = (uint8_t)(seq >> (8 * i));
        }
        ts_reseal(f);
        uint32_t plen =
            (uint32_t)f[8] | (uint32_t)f[9] << 8 | (uint32_t)f[10] << 16 | (uint32_t)f[11] << 24;
        off += BPC_STORE_FRAME_HEADER_BYTES + plen;
    }
}

/* A party-wide record with this floor (what moves the store's floor). */
struct bpc_durable
ts_party(uint64_t floor)
{
    struct bpc_durable d;
    memset(&d, 0, sizeof(d));
    d.instance = UINT64_MAX;
    d.max_bal = 2;
    d.floor = floor;
    return d;
}

/* One commit of step k, shaped like the engine's: the party-wide record
 * first, a 2av for instance k, a 2b for k - 1, now and then an apply-state
 * record; every fourth step the application state as of the floor. */
uint32_t
ts_batch(uint64_t k, struct bpc_durable *recs, struct ts_model *m)
{
    uint64_t ballot = 1u + k / 7u;
    uint64_t floor = k >= 2 ? k - 2 : 0;
    uint32_t n = 0;
    struct bpc_durable *d = &recs[n++];
    memset(d, 0, sizeof(*d));
    d->instance = UINT64_MAX;
    d->max_bal = ballot;
    d->incarnation = 3;
    d->floor = floor;
    for (uint64_t i = k > 0 ? k - 1 : 0; i <= k; i++) {
        d = &recs[n++];
        *d = recs[0];
        d->instance = i;
        d->hist_count = 1;
        d->hist_bal[0] = ballot;
        d->hist_val[0] = ts_vid(i);
        if (i + 1 == k) {
            d->max_vbal = ballot;
            d->max_vval = ts_vid(i);
        }
    }
    if (k % 3 == 0) {
        d = &recs[n++];
        *d = recs[0];
        d->instance = BPC_DURABLE_APPLIED_BASE + k % TS_PARTIES;
        d->applied_seq = k * 10u;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct bpc_durable *r = &recs[i];
        if (r->instance == UINT64_MAX) {
            m->pw = *r;
            m->has_pw = true;
        } else if (r->instance >= BPC_DURABLE_APPLIED_BASE) {
            m->applied[r->instance - BPC_DURABLE_APPLIED_BASE] = *r;
            m->has_applied[r->instance - BPC_DURABLE_APPLIED_BASE] = true;
        } else {
            m->vote[r->instance] = *r;
            m->has_vote[r->instance] = true;
        }
    }
    m->floor = floor;
    return n;
}

void
ts_app(uint64_t k, struct ts_model *m)
{
    m->has_app = true;
    m->app_floor = m->floor;
    m->app_len =
        (uint32_t)snprintf((char *)m->app, sizeof(m->app), "app state %llu", (unsigned long long)k);
}

uint32_t
ts_commit_batch(struct bpc_store *s, uint64_t k, struct bpc_durable *b)
{
    struct ts_model m;
    memset(&m, 0, sizeof(m));
    uint32_t n = ts_batch(k, b, &m);
    assert_int_equal(bpc_store_append(s, b, n), 0);
    assert_int_equal(bpc_store_sync(s), 0);
    return n;
}
