/*
 * alloc_probe.c - the wrapped allocator entry points (alloc_probe.h).
 */
#include "alloc_probe.h"

#include <stddef.h>

const bool *alloc_probe_watch;
uint64_t alloc_probe_count;
bool alloc_probe_fail;
uint64_t alloc_probe_largest;
uint64_t alloc_probe_limit;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* Counts a watched call of bytes bytes; true when it must fail. */
static bool
alloc_probe_hit(uint64_t bytes)
{
    if (alloc_probe_watch != NULL && *alloc_probe_watch) {
        alloc_probe_count++;
        alloc_probe_largest = bytes > alloc_probe_largest ? bytes : alloc_probe_largest;
        return alloc_probe_fail || (alloc_probe_limit != 0 && bytes > alloc_probe_limit);
    }
    return false;
}

void *
__wrap_malloc(size_t n)
{
    return alloc_probe_hit(n) ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
    /* n x m as the caller meant it (saturated: calloc refuses an overflow). */
    uint64_t bytes = m != 0 && n > UINT64_MAX / m ? UINT64_MAX : (uint64_t)n * m;
    return alloc_probe_hit(bytes) ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return alloc_probe_hit(n) ? NULL : __real_realloc(p, n);
}
