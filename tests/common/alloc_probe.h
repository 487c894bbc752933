/*
 * alloc_probe.h - counts the allocator calls a test is watching: malloc,
 * calloc and realloc, while *alloc_probe_watch is true, and makes them
 * fail on request. The executable
 * is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so the
 * calls made by the objects linked into it (not by shared libraries) go
 * through alloc_probe.c.
 */
#ifndef BPC_TEST_ALLOC_PROBE_H
#define BPC_TEST_ALLOC_PROBE_H

#include <stdbool.h>
#include <stdint.h>

/* What to watch (NULL: nothing); the test points it at its own flag. */
extern const bool *alloc_probe_watch;
/* Calls made while watched. */
extern uint64_t alloc_probe_count;
/* While true, watched calls fail (return NULL) instead: out of memory. */
extern bool alloc_probe_fail;
/* The most bytes one watched call asked for (calloc: n x m). */
extern uint64_t alloc_probe_largest;
/* Nonzero: a watched call asking for more bytes fails (returns NULL), so
 * that a test can see a huge request without it being served. */
extern uint64_t alloc_probe_limit;

#endif /* BPC_TEST_ALLOC_PROBE_H */
