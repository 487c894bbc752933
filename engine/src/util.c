/*
 * util.c - small shared helpers: error and drop-reason texts, status names,
 * decimal rendering of 128-bit weights, and the assertion failure path.
 *
 * Owns: the mapping from codes to human text. Must never: allocate, keep
 * state between calls, or be called on the step path for anything but
 * bpc_assert_fail (which ends the process).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Config refusal texts, indexed by code - UTIL_ECFG_FIRST (the table's
 * first code; the codes are consecutive). */
#define UTIL_ECFG_FIRST ((int)BPC_ECFG_NO_PARTIES)
static const char *const util_ecfg_texts[] = {
#define BPC_X_TEXT(name, code, text) [(code)-UTIL_ECFG_FIRST] = (text),
    BPC_CONFIG_ERRORS(BPC_X_TEXT)
#undef BPC_X_TEXT
};
#define UTIL_ECFG_COUNT ((int)(sizeof(util_ecfg_texts) / sizeof(util_ecfg_texts[0])))

static const char *const util_drop_texts[BPC_DROP_REASONS_COUNT] = {
#define BPC_X_TEXT(name, text) [name] = (text),
    BPC_DROP_REASONS(BPC_X_TEXT)
#undef BPC_X_TEXT
};

/* Accepts a code negated (as the calls return it) or positive. */
const char *
bpc_strerror(int err)
{
    /* -INT_MIN would overflow; no errno or BPC code is that large. */
    if (err == INT_MIN) {
        return "unknown error";
    }
    int code = err < 0 ? -err : err;
    if (code >= UTIL_ECFG_FIRST && code < UTIL_ECFG_FIRST + UTIL_ECFG_COUNT) {
        const char *text = util_ecfg_texts[code - UTIL_ECFG_FIRST];
        if (text != NULL) {
            return text;
        }
    }
    return strerror(code);
}

/* The human text of a drop reason (the X-macro's second column). */
const char *
bpc_drop_reason_name(enum bpc_drop_reason r)
{
    if ((unsigned)r >= (unsigned)BPC_DROP_REASONS_COUNT) {
        return "unknown drop reason";
    }
    return util_drop_texts[r];
}

char *
bpc_u128_str(bpc_u128 v, char buf[48])
{
    if (buf == NULL) {
        return NULL;
    }
    /* Digits come out least significant first; fill from the end. */
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u && n < sizeof(tmp));
    BPC_ASSERT(v == 0u); /* 2^128 - 1 has 39 digits */
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    buf[n] = '\0';
    return buf;
}

/* Names follow the origin's status variants, so logs read alike. */
const char *
bpc_status_name(enum bpc_status s)
{
    switch (s) {
    case BPC_STATUS_NONE:
        return "None";
    case BPC_STATUS_LAUNCHED:
        return "Launched";
    case BPC_STATUS_PASSED_1A:
        return "Passed1a";
    case BPC_STATUS_PASSED_1B:
        return "Passed1b";
    case BPC_STATUS_PASSED_2A:
        return "Passed2a";
    case BPC_STATUS_PASSED_2AV:
        return "Passed2av";
    case BPC_STATUS_PASSED_2B:
        return "Passed2b";
    case BPC_STATUS_FINISHED:
        return "Finished";
    case BPC_STATUS_FAILED:
        return "Failed";
    }
    return "Unknown";
}

_Noreturn void
bpc_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "bpcon: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

const char *
bpc_version(void)
{
    return BPC_VERSION_STRING;
}
