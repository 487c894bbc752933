/*
 * tool_out.h - a tool's last check of its standard output (shared by
 * bpcon-store, bpcon-sim, bpcon-keygen, bpcon-node and bpcon-cluster;
 * header only: no library).
 *
 * What a tool prints on stdout (a JSON line, a report, --help, --version)
 * is its result: when that output could not be written (a full disk, a
 * closed pipe, /dev/full) the tool must fail, not exit 0 with the result
 * lost. Must never: write to stdout.
 */
#ifndef BPC_TOOL_OUT_H
#define BPC_TOOL_OUT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* rc when everything written to stdout reached it (flushed here); else
 * `fail`, after a message on stderr naming the cause. */
static inline int
tool_out_status(const char *prog, int rc, int fail)
{
    errno = 0;
    int flushed = fflush(stdout);
    int cause = errno;
    if (flushed == 0 && !ferror(stdout)) {
        return rc;
    }
    fprintf(stderr, "%s: cannot write to standard output: %s\n", prog,
            flushed != 0 && cause != 0 ? strerror(cause) : "an earlier write failed");
    return fail;
}

#endif /* BPC_TOOL_OUT_H */
