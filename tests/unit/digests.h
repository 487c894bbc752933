/*
 * digests.h - counts the BLAKE2b digests a test's engine takes: a test
 * linked with -Wl,--wrap=crypto_generichash and
 * -Wl,--wrap=crypto_generichash_final (tests/unit/meson.build) and
 * digests.c sees every one-shot digest and every digest the engine
 * finishes from its set-up state (eng_digest), its own included.
 */
#ifndef BPC_TEST_DIGESTS_H
#define BPC_TEST_DIGESTS_H

#include <stdint.h>

/* crypto_generichash and crypto_generichash_final calls so far. */
uint64_t test_digests(void);

#endif
