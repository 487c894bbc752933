/*
 * digests.h - counts the BLAKE2b digests a test's engine takes: a test
 * linked with -Wl,--wrap=crypto_generichash (tests/unit/meson.build) and
 * digests.c sees every crypto_generichash call, its own included.
 */
#ifndef BPC_TEST_DIGESTS_H
#define BPC_TEST_DIGESTS_H

#include <stdint.h>

/* crypto_generichash calls so far. */
uint64_t test_digests(void);

#endif
