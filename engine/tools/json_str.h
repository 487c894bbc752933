/*
 * json_str.h - one JSON string value, for the tools' JSON lines (shared by
 * bpcon-store and bpcon-cluster, compiled into each: no library).
 */
#ifndef BPC_JSON_STR_H
#define BPC_JSON_STR_H

#include <stdio.h>

/* Writes s as a quoted JSON string: '"' and '\' escaped, control bytes
 * (below 0x20) as \u00XX, valid UTF-8 sequences as they are, and every
 * byte that is not part of one as \u00XX of its value (so the line stays
 * valid UTF-8; such a byte reads back as the code point of that value). */
void json_str_print(FILE *f, const char *s);

#endif /* BPC_JSON_STR_H */
