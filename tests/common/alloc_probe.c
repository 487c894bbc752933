/*
 * alloc_probe.c - the wrapped allocator entry points (alloc_probe.h).
 */
#include "alloc_probe.h"

#include <stddef.h>

const bool *alloc_probe_watch;
uint64_t alloc_probe_count;
bool alloc_probe_fail;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* Counts a watched call; true when it must fail. */
static bool
alloc_probe_hit(void)
{
    if (alloc_probe_watch != NULL && *alloc_probe_watch) {
        alloc_probe_count++;
        return alloc_probe_fail;
    }
    return false;
}

void *
__wrap_malloc(size_t n)
{
    return alloc_probe_hit() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
    return alloc_probe_hit() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return alloc_probe_hit() ? NULL : __real_realloc(p, n);
}
