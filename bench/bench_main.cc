/*
 * bench_main.cc - the Google Benchmark driver for the C bodies in bench.h.
 *
 * Owns: registering each body with its sweep (batch 1, 8, 32, 64; parties
 * 4, 7, 16, 64; frame bytes 64, 256, 1400; their grid for the engine tier;
 * one record type per engine step), timing it (the engine steps by manual
 * time around the step alone, after an untimed reset), and the exit code
 * the bench_smoke test reads, and --version.
 * Must never: hold benchmark logic of its own (bodies live in C), or exit 0
 * when a setup refused to build its context, no benchmark ran, or its
 * results (stdout, the --benchmark_out file) could not be written.
 *
 * Usage: bpcon-bench [Google Benchmark flags] | --version, e.g.
 *   bpcon-bench --benchmark_filter=wire --benchmark_min_time=0.5
 *   BPC_BENCH_ITERATIONS=2048 bpcon-bench --benchmark_filter='engine_batch/32$'
 *   BPC_BENCH_WINDOW=64 bpcon-bench --benchmark_filter='engine_batch/1/'
 *   (the engine tier's window; 512 when unset)
 */
#include "bench.h"
#include "tool_out.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <vector>

namespace
{

using bench_setup_fn = void *(*)(uint32_t);
using bench_body_fn = uint64_t (*)(void *, uint64_t);
using bench_teardown_fn = void (*)(void *);

/* What one body run counts as, for items/s and bytes/s. */
enum class bench_unit {
    param_items, /* the parameter is the item count (records per frame) */
    param_bytes, /* one item of `parameter` bytes (frames, values) */
    one_item,    /* one item (an election) */
};

/* Body runs per timing step: small, so a smoke run stays tiny, and large
 * enough that the call through the shim is not what gets measured. */
constexpr benchmark::IterationCount bench_batch = 8;

bool bench_setup_failed = false;

/* False (and the benchmark skipped with an error the exit code reports)
 * when a setup refused to build its context. */
bool
bench_setup_ok(benchmark::State &state, const void *ctx, const char *why)
{
    if (ctx != nullptr) {
        return true;
    }
    bench_setup_failed = true;
    state.SkipWithError(why);
    return false;
}

constexpr const char *bench_refused = "setup refused: an engine call failed its own round trip";

void
bench_run(benchmark::State &state, bench_setup_fn setup, bench_body_fn body, bench_unit unit,
          bench_teardown_fn teardown, benchmark::IterationCount batch)
{
    const auto param = static_cast<uint32_t>(state.range(0));
    void *ctx = setup(param);
    if (!bench_setup_ok(state, ctx, bench_refused)) {
        return;
    }
    while (state.KeepRunningBatch(batch)) {
        uint64_t sum = body(ctx, static_cast<uint64_t>(batch));
        benchmark::DoNotOptimize(sum);
    }
    const int64_t runs = static_cast<int64_t>(state.iterations());
    switch (unit) {
    case bench_unit::param_items:
        state.SetItemsProcessed(runs * static_cast<int64_t>(param));
        break;
    case bench_unit::param_bytes:
        state.SetItemsProcessed(runs);
        state.SetBytesProcessed(runs * static_cast<int64_t>(param));
        break;
    case bench_unit::one_item:
        state.SetItemsProcessed(runs);
        break;
    }
    teardown(ctx);
}

struct bench_spec {
    const char *name;
    bench_setup_fn setup;
    bench_body_fn body;
    bench_unit unit;
    int64_t args[4];
    int args_count;
    bench_teardown_fn teardown;
    benchmark::IterationCount batch;
};

const bench_spec bench_micro_specs[] = {
    {"wire_encode",
     bench_wire_setup,
     bench_wire_encode,
     bench_unit::param_items,
     {1, 8, 32, 64},
     4,
     bench_teardown,
     bench_batch},
    {"wire_decode_verify",
     bench_wire_setup,
     bench_wire_decode,
     bench_unit::param_items,
     {1, 8, 32, 64},
     4,
     bench_teardown,
     bench_batch},
    {"auth_tag",
     bench_auth_setup,
     bench_auth_tag,
     bench_unit::param_bytes,
     {64, 256, 1400},
     3,
     bench_teardown,
     bench_batch},
    {"auth_verify",
     bench_auth_setup,
     bench_auth_verify,
     bench_unit::param_bytes,
     {64, 256, 1400},
     3,
     bench_teardown,
     bench_batch},
    {"command_mac",
     bench_auth_setup,
     bench_command_mac,
     bench_unit::param_bytes,
     {16, 64, 512},
     3,
     bench_teardown,
     bench_batch},
    {"vid_of",
     bench_value_setup,
     bench_value_vid,
     bench_unit::param_bytes,
     {16, 200},
     2,
     bench_teardown,
     bench_batch},
    {"elect_leader",
     bench_elect_setup,
     bench_elect_leader,
     bench_unit::one_item,
     {4, 7, 16, 64},
     4,
     bench_teardown,
     bench_batch},
    {"safe_pick",
     bench_safe_setup,
     bench_safe_pick,
     bench_unit::one_item,
     {4, 100, 999},
     3,
     bench_teardown,
     1},
};

/* Engine tier: N engines in memory exchanging authenticated frames; an
 * item is one command decided and applied (per core: one thread). A timing
 * step submits 256 commands, so the window pipelines them. */
constexpr benchmark::IterationCount bench_engine_batch = 256;

const bench_spec bench_engine_specs[] = {
    {"engine_parties",
     bench_engine_setup,
     bench_engine_run,
     bench_unit::one_item,
     {4, 7, 16, 64},
     4,
     bench_engine_teardown,
     bench_engine_batch},
    {"engine_batch",
     bench_engine_batch_setup,
     bench_engine_run,
     bench_unit::one_item,
     {1, 8, 32, 64},
     4,
     bench_engine_teardown,
     bench_engine_batch},
    {"engine_cmd64",
     bench_engine_cmd64_setup,
     bench_engine_run,
     bench_unit::one_item,
     {1, 32},
     2,
     bench_engine_teardown,
     bench_engine_batch},
    {"engine_spread64",
     bench_engine_spread64_setup,
     bench_engine_run,
     bench_unit::one_item,
     {1, 32},
     2,
     bench_engine_teardown,
     bench_engine_batch},
};

/* Engine tier, both sweeps at once: 1 and 32 commands per value, each with
 * 4, 7, 16 and 64 parties (engine_grid/batch:B/parties:P). */
void
bench_run_grid(benchmark::State &state)
{
    void *ctx = bench_engine_grid_setup(static_cast<uint32_t>(state.range(0)),
                                        static_cast<uint32_t>(state.range(1)));
    if (!bench_setup_ok(state, ctx, bench_refused)) {
        return;
    }
    while (state.KeepRunningBatch(bench_engine_batch)) {
        uint64_t sum = bench_engine_run(ctx, static_cast<uint64_t>(bench_engine_batch));
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    bench_engine_teardown(ctx);
}

/* Engine step tier: one frame of one record type into one engine. Each
 * iteration resets the engine (untimed) and times the step alone, so the
 * reported Time is manual time; items are frames handled. */
struct bench_step_spec {
    const char *name;
    uint32_t type;
    bool acts; /* the first such frame that makes the engine send or decide */
};

const bench_step_spec bench_step_specs[] = {
    {"engine_step/1A", BPC_MSG_1A, false},
    {"engine_step/1B", BPC_MSG_1B, false},
    {"engine_step/2A", BPC_MSG_2A, false},
    {"engine_step/2AV", BPC_MSG_2AV, false},
    {"engine_step/2AV_quorum", BPC_MSG_2AV, true},
    {"engine_step/2B", BPC_MSG_2B, false},
    {"engine_step/2B_decide", BPC_MSG_2B, true},
    {"engine_step/DECIDED", BPC_MSG_DECIDED, false},
    {"engine_step/DECIDED_learn", BPC_MSG_DECIDED, true},
    {"engine_step/STATUS", BPC_MSG_STATUS, false},
    {"engine_step/FORWARD", BPC_MSG_FORWARD, false},
    {"engine_step/ATTEST", BPC_MSG_ATTEST, false},
};

void
bench_run_step(benchmark::State &state, uint32_t type, bool acts)
{
    void *ctx = bench_step_setup(type, acts);
    if (!bench_setup_ok(state, ctx,
                        "setup refused: no such frame captured, or the step is not repeatable")) {
        return;
    }
    for (auto _ : state) {
        bench_step_reset(ctx);
        auto t0 = std::chrono::steady_clock::now();
        uint64_t sum = bench_step_once(ctx);
        auto t1 = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(sum);
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    }
    bench_step_counts k{};
    bench_step_describe(ctx, &k);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["records_in"] = k.records_in;
    state.counters["frame_bytes"] = k.frame_bytes;
    state.counters["steps"] = k.steps;
    state.counters["frames_out"] = k.frames_out;
    state.counters["decisions"] = k.decisions;
    state.counters["persist"] = k.persist;
    state.counters["reset_bytes"] = static_cast<double>(k.reset_bytes);
    bench_step_teardown(ctx);
}

/* BPC_BENCH_ITERATIONS=N: every benchmark runs exactly once with N
 * iterations (rounded up to its batch), no calibration runs, so that an
 * instruction count under callgrind covers the same work in every build.
 * 0 (or unset): Google Benchmark's own calibration. */
benchmark::IterationCount
bench_fixed_iterations(benchmark::IterationCount batch)
{
    const char *s = std::getenv("BPC_BENCH_ITERATIONS");
    if (s == nullptr || *s == '\0') {
        return 0;
    }
    char *end = nullptr;
    unsigned long long n = std::strtoull(s, &end, 10);
    if (*end != '\0' || n > 1000000000ull) {
        std::fprintf(stderr, "bpcon-bench: BPC_BENCH_ITERATIONS '%s' is not 0..1000000000\n", s);
        std::exit(2);
    }
    auto it = static_cast<benchmark::IterationCount>(n);
    return (it + batch - 1) / batch * batch;
}

void
bench_fixed(benchmark::internal::Benchmark *b, benchmark::IterationCount batch)
{
    benchmark::IterationCount fixed = bench_fixed_iterations(batch);
    if (fixed > 0) {
        b->Iterations(fixed);
    }
}

void
bench_register(const bench_spec &spec)
{
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        spec.name, bench_run, spec.setup, spec.body, spec.unit, spec.teardown, spec.batch);
    for (int i = 0; i < spec.args_count; i++) {
        b->Arg(spec.args[i]);
    }
    bench_fixed(b, spec.batch);
}

void
bench_register_more()
{
    benchmark::internal::Benchmark *g = benchmark::RegisterBenchmark("engine_grid", bench_run_grid);
    g->ArgNames({"batch", "parties"});
    for (int64_t batch : {1, 32}) {
        for (int64_t parties : {4, 7, 16, 64}) {
            g->Args({batch, parties});
        }
    }
    bench_fixed(g, bench_engine_batch);
    for (const bench_step_spec &spec : bench_step_specs) {
        benchmark::internal::Benchmark *b =
            benchmark::RegisterBenchmark(spec.name, bench_run_step, spec.type, spec.acts);
        b->UseManualTime();
        bench_fixed(b, 1);
    }
}

/* --version, answered as the other tools answer it (Google Benchmark's
 * flags have none): true when argv asked for it, *rc then the exit code.
 * Before (review D1), `bpcon-bench --version` was an unrecognized
 * argument. */
bool
bench_version(int argc, char **argv, int *rc)
{
    if (argc < 2 || std::strcmp(argv[1], "--version") != 0) {
        return false;
    }
    if (argc > 2) {
        std::fprintf(stderr, "bpcon-bench: --version takes no argument ('%s' given)\n", argv[2]);
        *rc = 2;
        return true;
    }
    std::printf("bpcon-bench %s (libbpcon %s)\n", BPC_VERSION_STRING, bpc_version());
    *rc = tool_out_status("bpcon-bench", 0, 2);
    return true;
}

/* Google Benchmark answers a bad --benchmark_format or
 * --benchmark_out_format value with its usage text and exit 0 (review R):
 * refused here first, exit 2 naming the value, as the other tools refuse
 * a bad value. false after the message. */
bool
bench_formats_ok(int argc, char **argv)
{
    static const char *const flags[] = {"--benchmark_format=", "--benchmark_out_format="};
    for (int i = 1; i < argc; i++) {
        for (const char *flag : flags) {
            size_t n = std::strlen(flag);
            if (std::strncmp(argv[i], flag, n) != 0) {
                continue;
            }
            const char *v = argv[i] + n;
            if (std::strcmp(v, "console") != 0 && std::strcmp(v, "json") != 0 &&
                std::strcmp(v, "csv") != 0) {
                std::fprintf(stderr, "bpcon-bench: %.*s '%s': expected console, json or csv\n",
                             (int)(n - 1), flag, v);
                return false;
            }
        }
    }
    return true;
}

/* The value of the last argv flag FLAG ("--benchmark_out_format="), or
 * dflt. */
const char *
bench_flag_value(int argc, char **argv, const char *flag, const char *dflt)
{
    const char *v = dflt;
    size_t n = std::strlen(flag);
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], flag, n) == 0) {
            v = argv[i] + n;
        }
    }
    return v;
}

/* The --benchmark_out file's reporter: the format's own reporter, and a
 * check once it finished that every byte reached the file. Google
 * Benchmark writes that file through an ofstream whose failure it never
 * looks at: a full disk or /dev/full gave exit 0 (review V1). */
class bench_file_reporter : public benchmark::BenchmarkReporter
{
  public:
    explicit bench_file_reporter(const char *format)
    {
        if (std::strcmp(format, "csv") == 0) {
/* Deprecated in Google Benchmark 1.7, still what --benchmark_out_format=csv
 * selects there. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
            inner_.reset(new benchmark::CSVReporter());
#pragma GCC diagnostic pop
        } else if (std::strcmp(format, "console") == 0) {
            inner_.reset(new benchmark::ConsoleReporter(benchmark::ConsoleReporter::OO_None));
        } else {
            inner_.reset(new benchmark::JSONReporter());
        }
    }
    bool
    ReportContext(const Context &context) override
    {
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(context);
    }
    void
    ReportRuns(const std::vector<Run> &reports) override
    {
        inner_->ReportRuns(reports);
    }
    void
    Finalize() override
    {
        inner_->Finalize();
        GetOutputStream().flush();
        failed_ = !GetOutputStream().good();
    }
    bool
    failed() const
    {
        return failed_;
    }

  private:
    std::unique_ptr<benchmark::BenchmarkReporter> inner_;
    bool failed_ = false;
};

/* At exit, whoever calls exit (main's returns, Google Benchmark's --help):
 * the results on stdout (std::cout is synchronised with stdio, so its
 * writes land in stdout) lost make the run fail with 2. Before (review
 * O3), a run or --help whose output went to /dev/full or a closed pipe
 * exited 0. */
void
bench_out_check(void)
{
    if (tool_out_status("bpcon-bench", 0, 2) != 0) {
        std::_Exit(2);
    }
}

} // namespace

int
main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN); /* a closed pipe is a failed write (tool_out.h) */
    int rc = 0;
    if (bench_version(argc, argv, &rc)) {
        return rc;
    }
    if (!bench_formats_ok(argc, argv)) {
        return 2;
    }
    std::atexit(bench_out_check);
    for (const bench_spec &spec : bench_micro_specs) {
        bench_register(spec);
    }
    for (const bench_spec &spec : bench_engine_specs) {
        bench_register(spec);
    }
    bench_register_more();
    /* Initialize takes the flags it knows out of argv: their copy. */
    const int argc0 = argc;
    std::vector<char *> argv0(argv, argv + argc);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    const char *out = bench_flag_value(argc0, argv0.data(), "--benchmark_out=", "");
    bench_file_reporter file_reporter(
        bench_flag_value(argc0, argv0.data(), "--benchmark_out_format=", "json"));
    const size_t ran = out[0] != '\0' ? benchmark::RunSpecifiedBenchmarks(nullptr, &file_reporter)
                                      : benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (file_reporter.failed()) {
        std::fprintf(stderr,
                     "bpcon-bench: --benchmark_out '%s': the results could not be written\n", out);
        return 2;
    }
    if (ran == 0) {
        std::fprintf(stderr, "bpcon-bench: no benchmark matched\n");
        return 1;
    }
    if (bench_setup_failed) {
        std::fprintf(stderr, "bpcon-bench: a setup refused its context (see errors above)\n");
        return 1;
    }
    return 0;
}
