/*
 * json_str.c - JSON string values for the tools' JSON lines.
 *
 * Owns: the escaping. Must never: write a byte sequence that is not valid
 * JSON text in UTF-8 (RFC 8259), whatever bytes a path or a reason holds.
 */
#include "json_str.h"

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (2 to 4), or 0 when p[0] does
 * not start one: overlong forms, surrogates and code points past U+10FFFF
 * are not valid (RFC 3629 table). The string's NUL fails every
 * continuation test, so no byte past it is read. */
static size_t
json_utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t n;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = p[0] == 0xe0 ? 0xa0 : lo; /* no overlong 3-byte form */
        hi = p[0] == 0xed ? 0x9f : hi; /* no surrogate */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = p[0] == 0xf0 ? 0x90 : lo; /* no overlong 4-byte form */
        hi = p[0] == 0xf4 ? 0x8f : hi; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

void
json_str_print(FILE *f, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    fputc('"', f);
    while (*c != '\0') {
        size_t n = *c >= 0x80 ? json_utf8_len(c) : 1;
        if (*c == '"' || *c == '\\') {
            fprintf(f, "\\%c", *c);
        } else if (*c < 0x20 || n == 0) {
            fprintf(f, "\\u%04x", *c);
        } else {
            fwrite(c, 1, n, f);
        }
        c += n == 0 ? 1 : n;
    }
    fputc('"', f);
}
