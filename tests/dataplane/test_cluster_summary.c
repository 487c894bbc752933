/*
 * test_cluster_summary.c - bpcon-cluster's closing JSON line says null for
 * a rate it cannot know: a load span under 1 ms (first submit and last
 * decision a few ns apart) gives no decisions_per_s, commands_per_s or
 * frames_per_s, where it printed numbers like 1e11 (review B7's F6); a
 * span of a second gives the rates.
 *
 * Method: cl_summary_print on a hand-made one-party summary, its stdout
 * sent to a temporary file and read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"

static char out_text[16384];

/* What cl_summary_print prints for one party whose load ran span_ns. */
static void
summary_of_span(uint64_t span_ns)
{
    struct cl_opts o;
    memset(&o, 0, sizeof(o));
    o.commands = 10;
    o.window = 8;
    o.value_bytes = 64;
    o.idle_arg = "busy";
    static struct cl_summary s;
    memset(&s, 0, sizeof(s));
    s.parties = 1;
    s.r[0] = (struct cl_party_result){.alive = true,
                                      .reported = true,
                                      .decisions = 10,
                                      .applied = 10,
                                      .unique = 10,
                                      .first_submit_ns = 1000000,
                                      .last_unique_ns = 1000000 + span_ns};
    s.wall_ns = 2000000000ull;
    s.frames = 500;
    s.frame_bytes = 500 * 100;
    s.rss_setup_kb = -1;
    s.rss_party_kb = -1;
    s.rss_node_kb = -1;
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    assert_true(saved >= 0 && dup2(fileno(tmp), 1) >= 0);
    (void)cl_summary_print(&o, &s);
    fflush(stdout);
    assert_true(dup2(saved, 1) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(out_text, 1, sizeof(out_text) - 1, tmp);
    out_text[n] = '\0';
    fclose(tmp);
}

static void
test_rates_over_no_span_are_null(void **state)
{
    (void)state;
    summary_of_span(3); /* 3 ns */
    print_message("%s", out_text);
    assert_non_null(strstr(out_text, "\"frames_per_s\":null"));
    assert_non_null(strstr(out_text, "\"decisions_per_s\":null"));
    assert_non_null(strstr(out_text, "\"commands_per_s\":null"));
    assert_non_null(strstr(out_text, "unknown decisions/s"));
    summary_of_span(1000000000ull); /* 1 s */
    assert_non_null(strstr(out_text, "\"frames_per_s\":500"));
    assert_non_null(strstr(out_text, "\"decisions_per_s\":10,"));
    assert_non_null(strstr(out_text, "\"commands_per_s\":10,"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_over_no_span_are_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
