/*
 * cluster_measure.c - what a bpcon-cluster run costs: CPU time (this
 * process through getrusage, a node through /proc/PID/stat) and resident
 * memory (VmRSS from /proc/PID/status, and the resident pages of an
 * array through mincore, to take the harness's own arrays out of a
 * party's figure).
 *
 * Must never: call DPDK (the virtio harness runs without EAL), or fail a
 * run: a figure that cannot be read is reported as unknown.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

uint64_t
cl_cpu_self_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                  (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    return us * 1000u;
}

uint64_t
cl_cpu_pid_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    char line[1024];
    size_t got = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[got] = '\0';
    /* Fields after "(comm)": state is field 3, utime 14, stime 15. */
    const char *p = strrchr(line, ')');
    unsigned long long ut = 0;
    unsigned long long st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return 0;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (ut + st) * (1000000000ull / (uint64_t)hz) : 0;
}

int64_t
cl_rss_kb(int pid)
{
    char path[64];
    if (pid == 0) {
        snprintf(path, sizeof(path), "/proc/self/status");
    } else {
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb;
}

uint64_t
cl_resident_bytes(const void *p, size_t len)
{
    if (p == NULL || len == 0) {
        return 0;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t span = (uintptr_t)p + len - start;
    size_t pages = (span + page - 1) / page;
    unsigned char *vec = malloc(pages);
    if (vec == NULL || mincore((void *)start, span, vec) != 0) {
        free(vec);
        return 0;
    }
    uint64_t resident = 0;
    for (size_t k = 0; k < pages; k++) {
        resident += (vec[k] & 1u) != 0 ? page : 0;
    }
    free(vec);
    return resident;
}

uint64_t
cl_load_resident_bytes(const struct dp_load *l)
{
    uint64_t cap = l->log_cap;
    return cl_resident_bytes(l->state, l->commands > 0 ? l->commands : 1) +
           cl_resident_bytes(l->log, cap * sizeof(*l->log)) +
           cl_resident_bytes(l->digs, cap * sizeof(*l->digs));
}

void
cl_nodes_costs(const int *pids, const uint64_t *cpu_go, uint32_t n, uint64_t self_go,
               struct cl_summary *s)
{
    s->cpu_ns = cl_cpu_self_ns() - self_go;
    int64_t rss = 0;
    uint32_t measured = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (pids[i] <= 0) {
            continue;
        }
        s->cpu_ns += cl_cpu_pid_ns(pids[i]) - cpu_go[i];
        int64_t kb = cl_rss_kb(pids[i]);
        rss += kb > 0 ? kb : 0;
        measured += kb > 0 ? 1u : 0u;
    }
    s->cpu_known = true;
    s->rss_node_kb = measured > 0 ? rss / (int64_t)measured : -1;
}
