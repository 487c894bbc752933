/*
 * auth.c - libsodium set-up, pairwise key derivation and frame tags.
 *
 * Owns: every use of a key. Must never: compare tags with memcmp (timing),
 * keep key material of its own, or log a key.
 */
#include "internal.h"

#include <errno.h>

#include <sodium.h>

/* crypto_kdf context: exactly crypto_kdf_CONTEXTBYTES characters. */
#define AUTH_KDF_CONTEXT "bpconkey"

_Static_assert(sizeof(AUTH_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context length");
_Static_assert(BPC_KEY_BYTES == crypto_kdf_KEYBYTES, "master key length");
_Static_assert(BPC_KEY_BYTES >= crypto_kdf_BYTES_MIN && BPC_KEY_BYTES <= crypto_kdf_BYTES_MAX,
               "pair key length");
/* Frame tags are SipHash-2-4 with a 128-bit output (libsodium's
 * crypto_shorthash_siphashx24), a keyed PRF and so a 128-bit MAC, keyed by
 * the first 16 bytes of the pair key. It replaced keyed BLAKE2b-128 after
 * measuring about 4x less time per 1400-byte frame (bench/RESULTS.md): the
 * tag was half of the engine's cost per decision. No nonce is involved, so
 * a restarted party cannot misuse one. */
_Static_assert(BPC_TAG_BYTES == crypto_shorthash_siphashx24_BYTES, "tag length");
_Static_assert(BPC_KEY_BYTES >= crypto_shorthash_siphashx24_KEYBYTES, "tag key length");
/* Subkey ids pack (min, max) as min * 65536 + max: party ids fit 16 bits. */
_Static_assert(BPC_PARTIES_MAX <= 65536u, "party ids fit the subkey id");

int
bpc_init(void)
{
    /* sodium_init() is idempotent: 1 when already done, -1 on failure. */
    if (sodium_init() < 0) {
        return -EIO;
    }
    return 0;
}

void
bpc_auth_pair_key(const uint8_t master[BPC_KEY_BYTES], uint32_t a, uint32_t b,
                  uint8_t out[BPC_KEY_BYTES])
{
    if (out == NULL) {
        return;
    }
    /* Ids below 2^16 keep the packing one-to-one. Misuse: out zeroed, no
     * key derived. */
    if (master == NULL || a > UINT16_MAX || b > UINT16_MAX) {
        memset(out, 0, BPC_KEY_BYTES);
        return;
    }
    uint32_t lo = a < b ? a : b;
    uint32_t hi = a < b ? b : a;
    uint64_t id = (uint64_t)lo * 65536u + hi;
    int rc = crypto_kdf_derive_from_key(out, BPC_KEY_BYTES, id, AUTH_KDF_CONTEXT, master);
    BPC_ASSERT(rc == 0);
}

void
bpc_auth_tag(const uint8_t key[BPC_KEY_BYTES], const uint8_t *msg, size_t len,
             uint8_t tag[BPC_TAG_BYTES])
{
    int rc = crypto_shorthash_siphashx24(tag, msg, len, key);
    BPC_ASSERT(rc == 0);
}

bool
bpc_auth_tag_ok(const uint8_t key[BPC_KEY_BYTES], const uint8_t *msg, size_t len,
                const uint8_t tag[BPC_TAG_BYTES])
{
    uint8_t want[BPC_TAG_BYTES];
    bpc_auth_tag(key, msg, len, want);
    _Static_assert(BPC_TAG_BYTES == 16, "crypto_verify_16 compares 16 bytes");
    return crypto_verify_16(want, tag) == 0;
}

/* The index key: BLAKE2b of the seed and every pair key this party
 * holds, then keyed BLAKE2b of this context and a block number under it. */
#define AUTH_INDEX_CONTEXT "bpcon names index"

void
eng_auth_index_key(const uint8_t (*keys)[BPC_KEY_BYTES], uint32_t n, uint64_t seed, uint8_t *out,
                   size_t len)
{
    uint8_t master[crypto_generichash_BYTES];
    crypto_generichash_state st;
    int rc = crypto_generichash_init(&st, NULL, 0, sizeof(master));
    uint8_t seed_le[8];
    bpc_le64_store(seed_le, seed);
    rc |= crypto_generichash_update(&st, seed_le, sizeof(seed_le));
    for (uint32_t p = 0; keys != NULL && p < n; p++) {
        rc |= crypto_generichash_update(&st, keys[p], BPC_KEY_BYTES);
    }
    rc |= crypto_generichash_final(&st, master, sizeof(master));
    BPC_ASSERT(rc == 0);
    /* Blocks of at most crypto_generichash_BYTES_MAX, each keyed BLAKE2b
     * of the context and the block's number. */
    uint8_t msg[sizeof(AUTH_INDEX_CONTEXT)];
    memcpy(msg, AUTH_INDEX_CONTEXT, sizeof(msg) - 1);
    for (size_t at = 0, block = 0; at < len; at += crypto_generichash_BYTES_MAX, block++) {
        size_t k =
            len - at < crypto_generichash_BYTES_MAX ? len - at : crypto_generichash_BYTES_MAX;
        BPC_ASSERT(k >= crypto_generichash_BYTES_MIN && block < 256);
        msg[sizeof(msg) - 1] = (uint8_t)block;
        rc = crypto_generichash(out + at, k, msg, sizeof(msg), master, sizeof(master));
        BPC_ASSERT(rc == 0);
    }
    sodium_memzero(master, sizeof(master));
}

void
bpc_command_mac(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd, uint32_t len,
                uint8_t mac[BPC_CMD_MAC_BYTES])
{
    _Static_assert(BPC_CMD_MAC_BYTES == crypto_shorthash_siphashx24_BYTES, "command MAC length");
    _Static_assert(BPC_KEY_BYTES >= 2 * crypto_shorthash_siphashx24_KEYBYTES, "two subkeys");
    if (mac == NULL) {
        return;
    }
    if (key == NULL || len > BPC_VALUE_BYTES_MAX || (len > 0 && cmd == NULL)) {
        memset(mac, 0, BPC_CMD_MAC_BYTES); /* misuse: no MAC */
        return;
    }
    uint8_t buf[12 + BPC_VALUE_BYTES_MAX];
    bpc_le64_store(buf, seq);
    bpc_le32_store(buf + 8, len);
    if (len > 0) {
        memcpy(buf + 12, cmd, len);
    }
    int rc = crypto_shorthash_siphashx24(mac, buf, 12u + len,
                                         key + crypto_shorthash_siphashx24_KEYBYTES);
    BPC_ASSERT(rc == 0);
}

bool
bpc_command_mac_ok(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd, uint32_t len,
                   const uint8_t mac[BPC_CMD_MAC_BYTES])
{
    if (key == NULL || mac == NULL || len > BPC_VALUE_BYTES_MAX || (len > 0 && cmd == NULL)) {
        return false;
    }
    uint8_t want[BPC_CMD_MAC_BYTES];
    bpc_command_mac(key, seq, cmd, len, want);
    return crypto_verify_16(want, mac) == 0;
}

void
bpc_forward_value(const uint8_t key[BPC_KEY_BYTES], uint64_t seq, const uint8_t *cmd, uint32_t len,
                  struct bpc_vid *out)
{
    if (len <= BPC_VALUE_INLINE_MAX) {
        bpc_vid_of(out, cmd, len);
        return;
    }
    _Static_assert(BPC_CMD_MAC_BYTES <= BPC_VALUE_INLINE_MAX, "the MAC fits the id");
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (key == NULL || cmd == NULL || len > BPC_VALUE_BYTES_MAX) {
        return; /* misuse: BPC_VALUE_NONE */
    }
    out->kind = BPC_VALUE_DIGEST;
    out->len = (uint16_t)len;
    bpc_command_mac(key, seq, cmd, len, out->id);
}
