/*
 * flags.h - bpcon-sim's command line, shared by main.c (the runs) and
 * flags.c (the flags): the exit codes, the flags as parsed, the usage
 * error and the parser. Not the simulator library's: its files share
 * sim_internal.h, which no other file includes.
 */
#ifndef BPC_SIM_FLAGS_H
#define BPC_SIM_FLAGS_H

#include "sim.h"

#include <stdbool.h>
#include <stdint.h>

enum main_exit {
    MAIN_EXIT_OK = 0,
    MAIN_EXIT_UNSAFE = 1,
    MAIN_EXIT_OUTPUT = 1, /* stdout could not take the output (tool_out.h) */
    MAIN_EXIT_USAGE = 2,
    MAIN_EXIT_UNDECIDED = 3,
};

/* A --crash target: a party id, or the first leader, or a non-leader,
 * resolved once the weights and seed are known. */
enum main_target {
    MAIN_TARGET_ID = 0,
    MAIN_TARGET_LEADER,
    MAIN_TARGET_NONLEADER,
};

struct main_crash {
    enum main_target target;
    uint64_t id;
    uint64_t at_ns;
};

struct main_args {
    struct sim_opts o;
    bool quiet;
    bool footprint;
    uint32_t crashes_count;
    struct main_crash crashes[BPC_PARTIES_MAX];
    uint32_t restarts_count;
    struct main_crash restarts[BPC_PARTIES_MAX];
    uint32_t byz_count;
    struct main_crash byz[BPC_PARTIES_MAX]; /* target; at_ns unused */
    uint8_t byz_kinds[BPC_PARTIES_MAX];
    /* Given explicitly (else derived per run from the Byzantine parties). */
    bool phase_set;
    bool liveness_set;
    bool churn_set;
    uint64_t phase_ns;
    uint64_t seeds;     /* runs of a campaign; 0: one run, full report */
    bool random_config; /* each run draws its own configuration */
    bool isolate;       /* each campaign run in a child process */
    bool shaped;        /* a flag random-config draws itself was given */
    bool instances_set; /* --instances given */
};

/* Prints a usage error and the usage text on stderr; exits 2. */
_Noreturn void main_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses argv into a (which holds the library's default options): every
 * flag checked on its own; --help and --version print and exit 0, a bad
 * flag or value is a usage error. What depends on a run's seed is left to
 * main.c. Accepts "--flag value" and "--flag=value". */
void main_parse_args(struct main_args *a, int argc, char **argv);

#endif
