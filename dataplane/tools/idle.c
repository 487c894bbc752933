/*
 * idle.c - what a polling loop does when a poll found nothing (busy, pause,
 * yield, sleep), and the strict number parser and the once-only check the
 * programs' flags use.
 *
 * Owns: the idle policy, dp_parse_u64, dp_flag_once and dp_flags_exact. Must never: sleep
 * while online for QSBR (a sleeping thread must not hold up the log's
 * grace periods).
 */
#include "app.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <rte_pause.h>

/* ------------------------------------------------------------------------
 * Idle policy, number parsing.
 * ---------------------------------------------------------------------- */

int
dp_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == '\0') {
        return -EINVAL;
    }
    uint64_t v = 0;
    for (const char *c = s; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') {
            return -EINVAL;
        }
        uint64_t d = (uint64_t)(*c - '0');
        /* d > max first: max - d must not wrap (a digit above a
         * one-digit max was taken). */
        if (d > max || v > (max - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
dp_flag_once(const char *prog, const char *name, int index, uint64_t *seen)
{
    uint64_t bit = index >= 0 && index < 64 ? 1ull << index : 0;
    if ((*seen & bit) != 0) {
        fprintf(stderr, "%s: --%s given twice\n", prog, name);
        return -EINVAL;
    }
    *seen |= bit;
    return 0;
}

/* The option of opts named exactly by arg ("--NAME" or "--NAME=VALUE"),
 * else NULL; *prefix_of, one whose name arg's begins (NULL: none). */
static const struct option *
dp_flag_named(const struct option *opts, const char *arg, const struct option **prefix_of)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    *prefix_of = NULL;
    for (const struct option *o = opts; o->name != NULL; o++) {
        if (strncmp(o->name, name, len) == 0) {
            if (strlen(o->name) == len) {
                return o;
            }
            *prefix_of = o;
        }
    }
    return NULL;
}

int
dp_flags_exact(const char *prog, int argc, char *const *argv, const struct option *opts)
{
    const struct option *prev = NULL; /* a flag whose value is the next word */
    for (int k = 1; k < argc && strcmp(argv[k], "--") != 0; k++) {
        const char *a = argv[k];
        if (prev != NULL) {
            prev = NULL; /* a value, whatever it looks like */
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            continue;
        }
        const struct option *longer = NULL;
        const struct option *o = dp_flag_named(opts, a, &longer);
        if (o == NULL) {
            int len = (int)strcspn(a, "=");
            if (longer != NULL) {
                fprintf(stderr,
                        "%s: unrecognized option '%.*s' (flags are not abbreviated: --%s?)\n", prog,
                        len, a, longer->name);
            } else {
                fprintf(stderr, "%s: unrecognized option '%.*s'\n", prog, len, a);
            }
            return -EINVAL;
        }
        prev = o->has_arg == required_argument && strchr(a, '=') == NULL ? o : NULL;
    }
    return 0;
}

int
dp_idle_parse(const char *s, struct dp_idle *out)
{
    uint64_t us = 0;
    if (strcmp(s, "busy") == 0) {
        *out = (struct dp_idle){DP_IDLE_BUSY, 0};
    } else if (strcmp(s, "yield") == 0) {
        *out = (struct dp_idle){DP_IDLE_YIELD, 0};
    } else if (strcmp(s, "pause") == 0) {
        *out = (struct dp_idle){DP_IDLE_PAUSE, 0};
    } else if (strncmp(s, "sleep:", 6) == 0 && dp_parse_u64(s + 6, 1000000, &us) == 0) {
        *out = (struct dp_idle){DP_IDLE_SLEEP, (uint32_t)us};
    } else {
        return -EINVAL;
    }
    return 0;
}

void
dp_idle_wait(const struct dp_idle *idle)
{
    switch (idle->kind) {
    case DP_IDLE_BUSY:
        break;
    case DP_IDLE_PAUSE:
        for (int i = 0; i < 64; i++) {
            rte_pause();
        }
        break;
    case DP_IDLE_SLEEP:
        /* A sleeping QSBR thread must not hold up the log's grace periods. */
        bpc_log_thread_offline();
        usleep(idle->sleep_us);
        bpc_log_thread_online();
        break;
    case DP_IDLE_YIELD:
        /* Gives the core to any other runnable thread (nodes sharing
         * cores), then polls again; offline in case that takes a while. */
        bpc_log_thread_offline();
        sched_yield();
        bpc_log_thread_online();
        break;
    }
}
