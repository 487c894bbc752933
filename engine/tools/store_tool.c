/*
 * store_tool.c - bpcon-store: checks and dumps a party's durable store.
 *
 *   bpcon-store check FILE   one JSON line: what recovery would find
 *   bpcon-store dump FILE    one JSON line per frame of every complete commit
 *
 * Exit status: 0 when the file is intact or only has a torn tail (which a
 * party's next start cuts off), 1 when it is damaged before the tail or is
 * no store (a party refuses to start on it), 2 on usage errors (unknown
 * command, missing argument, unreadable file) and when stdout cannot take
 * the output (tool_out.h).
 *
 * Owns: the text forms of a store's contents. Must never: write to FILE
 * (it inspects through bpc_store_inspect, read-only).
 */
#include "bpcon_store.h"
#include "json_str.h"
#include "tool_out.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void
tool_usage(FILE *f)
{
    fprintf(f, "usage: bpcon-store check FILE | bpcon-store dump FILE | --help | --version\n"
               "  check: one JSON line (records, values, valid_bytes, torn_bytes,\n"
               "         corrupt_offset, party, floor, max_ballot, ...); exit 0 intact or\n"
               "         torn tail only, 1 damaged before the tail, 2 usage error or\n"
               "         output that cannot be written\n"
               "  dump:  one JSON line per frame of every complete commit (a value frame:\n"
               "         instance, length, the first 8 bytes of its digest), same exit codes\n");
}

static void
tool_vid(FILE *f, const struct bpc_vid *v)
{
    fprintf(f, "{\"kind\":%u,\"len\":%u,\"id\":\"", v->kind, v->len);
    for (uint32_t i = 0; i < BPC_VALUE_INLINE_MAX; i++) {
        fprintf(f, "%02x", v->id[i]);
    }
    fprintf(f, "\"}");
}

static void
tool_record(FILE *f, const struct bpc_durable *d)
{
    if (d->instance == UINT64_MAX) {
        fprintf(f, ",\"kind\":\"party\"");
    } else if (d->instance >= BPC_DURABLE_APPLIED_BASE) {
        fprintf(f, ",\"kind\":\"applied\",\"submitter\":%llu",
                (unsigned long long)(d->instance - BPC_DURABLE_APPLIED_BASE));
    } else if (d->decided) {
        fprintf(f,
                ",\"kind\":\"decided\",\"instance\":%llu,\"dec_bal\":%llu,\"dec_keep\":%llu,"
                "\"dec_val\":",
                (unsigned long long)d->instance, (unsigned long long)d->dec_bal,
                (unsigned long long)d->dec_keep);
        tool_vid(f, &d->dec_val);
    } else {
        fprintf(f, ",\"kind\":\"vote\",\"instance\":%llu", (unsigned long long)d->instance);
    }
    fprintf(f,
            ",\"max_bal\":%llu,\"incarnation\":%llu,\"floor\":%llu,\"applied_seq\":%llu,"
            "\"max_vbal\":%llu,\"max_vval\":",
            (unsigned long long)d->max_bal, (unsigned long long)d->incarnation,
            (unsigned long long)d->floor, (unsigned long long)d->applied_seq,
            (unsigned long long)d->max_vbal);
    tool_vid(f, &d->max_vval);
    fprintf(f, ",\"hist\":[");
    for (uint32_t h = 0; h < d->hist_count && h < BPC_HISTORY_MAX; h++) {
        fprintf(f, "%s{\"ballot\":%llu,\"value\":", h > 0 ? "," : "",
                (unsigned long long)d->hist_bal[h]);
        tool_vid(f, &d->hist_val[h]);
        fputc('}', f);
    }
    fputc(']', f);
}

/* bpc_store_frame_fn for dump: one line per frame. */
static void
tool_dump_frame(void *ctx, const struct bpc_store_frame *fr)
{
    FILE *f = ctx;
    fprintf(f, "{\"seq\":%llu,\"offset\":%llu,\"commit_end\":%s", (unsigned long long)fr->seq,
            (unsigned long long)fr->offset, fr->commit_end ? "true" : "false");
    if (fr->type == BPC_STORE_FRAME_RECORD) {
        fprintf(f, ",\"type\":\"record\"");
        tool_record(f, fr->rec);
    } else if (fr->type == BPC_STORE_FRAME_VALUE) {
        /* The bytes are the application's and up to 8 KiB: the digest's
         * first 8 bytes name the value (as in a record's identity). */
        fprintf(f, ",\"type\":\"value\",\"instance\":%llu,\"len\":%u,\"digest\":\"",
                (unsigned long long)fr->value_instance, fr->value_vid->len);
        for (uint32_t i = 0; i < 8; i++) {
            fprintf(f, "%02x", fr->value_vid->id[i]);
        }
        fputc('"', f);
    } else {
        fprintf(f, ",\"type\":\"app\",\"floor\":%llu,\"bytes\":%u,\"hex\":\"",
                (unsigned long long)fr->app_floor, fr->app_len);
        for (uint32_t i = 0; i < fr->app_len; i++) {
            fprintf(f, "%02x", fr->app[i]);
        }
        fputc('"', f);
    }
    fprintf(f, "}\n");
}

/* The check line: what recovery would find. */
static void
tool_check_line(FILE *f, const char *path, const struct bpc_store_info *in, int rc)
{
    bool header = rc == 0 || (rc == -EBADMSG && in->corrupt_offset != 0);
    const char *status = rc == 0 ? (in->torn_bytes > 0 ? "torn-tail" : "intact")
                                 : (rc == -EBADMSG ? "damaged" : "unsupported-version");
    fprintf(f, "{\"file\":");
    json_str_print(f, path);
    fprintf(f,
            ",\"status\":\"%s\",\"records\":%llu,\"app_records\":%llu,\"values\":%llu,"
            "\"values_skipped\":%llu,\"commits\":%llu,\"valid_bytes\":%llu,\"torn_bytes\":%llu,"
            "\"file_bytes\":%llu,\"corrupt_offset\":",
            status, (unsigned long long)in->records, (unsigned long long)in->app_records,
            (unsigned long long)in->values, (unsigned long long)in->values_skipped,
            (unsigned long long)in->commits, (unsigned long long)in->valid_bytes,
            (unsigned long long)in->torn_bytes, (unsigned long long)in->file_bytes);
    if (in->corrupt_offset == UINT64_MAX) {
        fprintf(f, "null,\"corrupt_reason\":null");
    } else {
        fprintf(f, "%llu,\"corrupt_reason\":", (unsigned long long)in->corrupt_offset);
        json_str_print(f, in->corrupt_reason);
    }
    if (header) {
        fprintf(f, ",\"version\":%u,\"cluster_id\":%llu,\"party\":%u", in->version,
                (unsigned long long)in->cluster_id, in->party);
    } else if (rc == -EPROTONOSUPPORT) {
        /* The version was read; the rest of another version's header is
         * not this build's to interpret. */
        fprintf(f, ",\"version\":%u,\"cluster_id\":null,\"party\":null", in->version);
    } else {
        fprintf(f, ",\"version\":null,\"cluster_id\":null,\"party\":null");
    }
    fprintf(f, ",\"floor\":%llu,\"max_ballot\":%llu,\"next_seq\":%llu}\n",
            (unsigned long long)in->floor, (unsigned long long)in->max_ballot,
            (unsigned long long)in->next_seq);
}

/* s on stderr with each control byte (below 0x20, and 0x7f) as \xNN, so
 * that a file name (or a message naming it) cannot split or forge the
 * log's lines or send a terminal its escapes. Before (review B11), the
 * name went out raw. */
static void
tool_err_text(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            fprintf(stderr, "\\x%02x", *c);
        } else {
            fputc(*c, stderr);
        }
    }
}

int
main(int argc, char **argv)
{
    /* Standard output a closed pipe is a failed write, reported with the
     * documented status (tool_out_status); before (review B4), SIGPIPE
     * killed the program: exit 141, nothing said. */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        tool_usage(stdout);
        return tool_out_status("bpcon-store", 0, 2);
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("bpcon-store %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
        return tool_out_status("bpcon-store", 0, 2);
    }
    bool check = argc == 3 && strcmp(argv[1], "check") == 0;
    bool dump = argc == 3 && strcmp(argv[1], "dump") == 0;
    if (!check && !dump) {
        if (argc < 2) {
            fprintf(stderr, "bpcon-store: missing command (check FILE or dump FILE)\n");
        } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                   strcmp(argv[1], "--version") == 0) {
            /* Before (review D1's M11): "unknown command '--version'". */
            fprintf(stderr, "bpcon-store: %s takes no argument ('%s' given)\n", argv[1], argv[2]);
        } else if (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "dump") != 0) {
            fputs("bpcon-store: unknown command '", stderr);
            tool_err_text(argv[1]);
            fputs("' (check or dump)\n", stderr);
        } else {
            fprintf(stderr, "bpcon-store: %s takes exactly one FILE (%d given)\n", argv[1],
                    argc - 2);
        }
        tool_usage(stderr);
        return 2;
    }
    struct bpc_store_info info;
    char err[512] = "";
    int rc = bpc_store_inspect(argv[2], NULL, &info, dump ? tool_dump_frame : NULL, stdout, err,
                               sizeof(err));
    bool damaged = rc == -EBADMSG || rc == -EPROTONOSUPPORT;
    if (rc != 0 && !damaged) {
        fputs("bpcon-store: ", stderr);
        tool_err_text(err);
        fputc('\n', stderr);
        return 2;
    }
    if (check) {
        tool_check_line(stdout, argv[2], &info, rc);
    }
    if (rc != 0) {
        fputs("bpcon-store: ", stderr);
        tool_err_text(argv[2]);
        fputs(": ", stderr);
        tool_err_text(err);
        fputc('\n', stderr);
    } else if (info.torn_bytes > 0) {
        fputs("bpcon-store: ", stderr);
        tool_err_text(argv[2]);
        fprintf(stderr,
                ": torn tail of %llu bytes after offset %llu (a party's next start cuts it "
                "off)\n",
                (unsigned long long)info.torn_bytes, (unsigned long long)info.valid_bytes);
    }
    return tool_out_status("bpcon-store", damaged ? 1 : 0, 2);
}
