/*
 * digests.c - the crypto_generichash and crypto_generichash_final
 * wrappers behind test_digests (digests.h). Owns: the call count. Must
 * never: change what a digest is.
 */
#include "digests.h"

#include <stddef.h>

#include <sodium.h>

int __real_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                              unsigned long long inlen, const unsigned char *key, size_t keylen);
int __wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                              unsigned long long inlen, const unsigned char *key, size_t keylen);

int __real_crypto_generichash_final(crypto_generichash_state *state, unsigned char *out,
                                    size_t outlen);
int __wrap_crypto_generichash_final(crypto_generichash_state *state, unsigned char *out,
                                    size_t outlen);

static uint64_t digests;

int
__wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                          unsigned long long inlen, const unsigned char *key, size_t keylen)
{
    digests++;
    return __real_crypto_generichash(out, outlen, in, inlen, key, keylen);
}

/* The engine's digests (eng_digest) copy a set-up state, update it and
 * finish it here: one call each. */
int
__wrap_crypto_generichash_final(crypto_generichash_state *state, unsigned char *out, size_t outlen)
{
    digests++;
    return __real_crypto_generichash_final(state, out, outlen);
}

uint64_t
test_digests(void)
{
    return digests;
}
