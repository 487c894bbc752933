/*
 * value.c - value identities: the bytes themselves when they fit a record,
 * else their BLAKE2b-256 digest.
 *
 * Owns: how a value is named in votes and tallies. Must never: use a
 * non-cryptographic hash as an identity (a Byzantine leader must not find
 * two values with one id), or leave stray bytes in a vid (vids compare with
 * memcmp).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <threads.h>

#include <sodium.h>

_Static_assert(BPC_DIGEST_BYTES == BPC_VALUE_INLINE_MAX, "a digest fills the vid's id field");
_Static_assert(BPC_VALUE_BYTES_MAX <= UINT16_MAX, "vid len is a u16");

/* BLAKE2b's state for a 32-byte digest with no key, before any input:
 * the same for every call, so it is set up once and copied (about 100
 * instructions of crypto_generichash's 1,220 for an 80-byte value, four
 * times a decided instance at four parties: bench/RESULTS.md). */
static crypto_generichash_state eng_digest_start;
static once_flag eng_digest_once = ONCE_FLAG_INIT;

static void
eng_digest_setup(void)
{
    int rc = crypto_generichash_init(&eng_digest_start, NULL, 0, BPC_DIGEST_BYTES);
    BPC_ASSERT(rc == 0);
}

void
eng_digest(uint8_t *out, const uint8_t *in, size_t len)
{
    call_once(&eng_digest_once, eng_digest_setup);
    crypto_generichash_state st;
    memcpy(&st, &eng_digest_start, sizeof(st));
    int rc = crypto_generichash_update(&st, in, len);
    rc |= crypto_generichash_final(&st, out, BPC_DIGEST_BYTES);
    BPC_ASSERT(rc == 0);
}

void
bpc_vid_of(struct bpc_vid *vid, const uint8_t *value, uint32_t len)
{
    if (vid == NULL) {
        return;
    }
    memset(vid, 0, sizeof(*vid));
    if (len > UINT16_MAX || (len > 0 && value == NULL)) {
        return; /* no identity: BPC_VALUE_NONE (callers cap values at BPC_VALUE_BYTES_MAX) */
    }
    vid->len = (uint16_t)len;
    if (len <= BPC_VALUE_INLINE_MAX) {
        /* Inline: hashing is skipped on the common small-value path. */
        vid->kind = BPC_VALUE_INLINE;
        if (len > 0) {
            memcpy(vid->id, value, len);
        }
        return;
    }
    vid->kind = BPC_VALUE_DIGEST;
    eng_digest(vid->id, value, len);
}

int
bpc_votes_digest(uint64_t ballot, uint64_t first, uint32_t k, const struct bpc_vid *vids,
                 uint8_t out[BPC_DIGEST_BYTES])
{
    if (k > BPC_VOTES_RUN_MAX || (vids == NULL && k > 0) || out == NULL) {
        return -EINVAL; /* before: an assertion, or a crash on NULL */
    }
    uint8_t buf[20 + BPC_VOTES_RUN_MAX * BPC_VOTES_VID_BYTES];
    bpc_le64_store(buf, ballot);
    bpc_le64_store(buf + 8, first);
    bpc_le32_store(buf + 16, k);
    uint8_t *p = buf + 20;
    for (uint32_t j = 0; j < k; j++, p += BPC_VOTES_VID_BYTES) {
        p[0] = vids[j].kind;
        p[1] = (uint8_t)vids[j].len;
        p[2] = (uint8_t)(vids[j].len >> 8);
        memcpy(p + 3, vids[j].id, BPC_VALUE_INLINE_MAX);
    }
    eng_digest(out, buf, (size_t)(p - buf));
    return 0;
}

bool
bpc_vid_eq(const struct bpc_vid *a, const struct bpc_vid *b)
{
    return a != NULL && b != NULL && eng_vid_eq(a, b);
}
