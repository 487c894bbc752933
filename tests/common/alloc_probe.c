/*
 * alloc_probe.c - the wrapped allocator entry points (alloc_probe.h).
 */
#include "alloc_probe.h"

#include <stddef.h>

const bool *alloc_probe_watch;
uint64_t alloc_probe_count;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static void
alloc_probe_hit(void)
{
    if (alloc_probe_watch != NULL && *alloc_probe_watch) {
        alloc_probe_count++;
    }
}

void *
__wrap_malloc(size_t n)
{
    alloc_probe_hit();
    return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
    alloc_probe_hit();
    return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
    alloc_probe_hit();
    return __real_realloc(p, n);
}
