/*
 * dp_check.h - the EAL dataplane tests' soft check: a failed condition is
 * printed with its place and counted in the test's own `failures`, and
 * the test goes on (its main returns 1 when any failed). The test defines
 * `static int failures;` before including this.
 */
#ifndef BPC_TEST_DP_CHECK_H
#define BPC_TEST_DP_CHECK_H

#include <stdio.h>

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#endif /* BPC_TEST_DP_CHECK_H */
