/*
 * digests.c - the crypto_generichash wrapper behind test_digests
 * (digests.h). Owns: the call count. Must never: change what a digest is.
 */
#include "digests.h"

#include <stddef.h>

int __real_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                              unsigned long long inlen, const unsigned char *key, size_t keylen);
int __wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                              unsigned long long inlen, const unsigned char *key, size_t keylen);

static uint64_t digests;

int
__wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                          unsigned long long inlen, const unsigned char *key, size_t keylen)
{
    digests++;
    return __real_crypto_generichash(out, outlen, in, inlen, key, keylen);
}

uint64_t
test_digests(void)
{
    return digests;
}
