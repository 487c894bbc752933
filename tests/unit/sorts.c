/*
 * sorts.c - the qsort wrapper behind test_sorts (sorts.h). Owns: the call
 * count. Must never: change how anything is sorted.
 */
#include "sorts.h"

#include <stddef.h>

void __real_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void __wrap_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

static uint64_t sorts;

void
__wrap_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    sorts++;
    __real_qsort(base, n, size, cmp);
}

uint64_t
test_sorts(void)
{
    return sorts;
}
