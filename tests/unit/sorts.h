/*
 * sorts.h - counts the qsort calls a test's engine makes: a test linked
 * with -Wl,--wrap=qsort (tests/unit/meson.build) and sorts.c sees every
 * qsort call, its own included.
 */
#ifndef BPC_TEST_SORTS_H
#define BPC_TEST_SORTS_H

#include <stdint.h>

/* qsort calls so far. */
uint64_t test_sorts(void);

#endif
