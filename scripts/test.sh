#!/bin/sh
# test.sh - every check that gates a change: what CI runs (.ci/run) and the
# README's second Quick start command.
#
# Owns: the order of the stages and their pass/fail rule. Must never: edit
# source files (the format check only reports), delete a build directory, or
# carry on past a failing stage.
#
# Stages: deps, engine-dpdk-free, format, build (release), test (release),
# install (tests/install/check_install.sh), build-san (ASan+UBSan, debug),
# test-san, fuzz (clang: the three libFuzzer targets, a minute each from
# the committed corpus; skipped with the reason when clang or libFuzzer is
# missing). Works from any cwd.
#
# Environment:
#   BPC_STRICT_FORMAT=0   only report clang-format violations (default 1:
#                         a violation fails the run)
#   BPC_BUILD, BPC_BUILD_SAN  build directories (default: build, build-san),
#                         relative to the repository root
#   BPC_BUILD_FUZZ        the fuzz stage's build directory (default: build-fuzz;
#                         configured with clang and -Dfuzz=true)
#   BPC_FUZZ_SECONDS      seconds per fuzz target (default 60; 0 skips the stage)
set -eu

cd "$(dirname "$0")/.."
BPC_ROOT=$(pwd)
BPC_BUILD=${BPC_BUILD:-build}
BPC_BUILD_SAN=${BPC_BUILD_SAN:-build-san}
BPC_BUILD_FUZZ=${BPC_BUILD_FUZZ:-build-fuzz}

BPC_STAGE_NO=0
BPC_STAGES_TOTAL=9
BPC_FORMAT_NOTE="not run"
BPC_FUZZ_NOTE="not run"
BPC_TESTED="" # build directories whose tests ran in this invocation

# Sums the meson test logs of this run into the closing "N passed, N failed"
# line; prints nothing when no test stage ran.
test_counts()
{
    [ -n "$BPC_TESTED" ] || return 0
    # shellcheck disable=SC2086 # one word per build directory
    python3 - $BPC_TESTED <<'EOF'
import json, os, sys
passed = failed = skipped = 0
for build in sys.argv[1:]:
    path = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
EOF
}

# Runs one stage: a banner, the command, its time; stops the run on failure.
test_stage()
{
    test_name=$1
    shift
    BPC_STAGE_NO=$((BPC_STAGE_NO + 1))
    printf '\n==== [%d/%d] %s ====\n' "$BPC_STAGE_NO" "$BPC_STAGES_TOTAL" "$test_name"
    test_t0=$(date +%s)
    test_rc=0
    "$@" || test_rc=$?
    test_t1=$(date +%s)
    if [ "$test_rc" -ne 0 ]; then
        printf '==== [%d/%d] %s: FAILED (exit %d, %ds) ====\n' "$BPC_STAGE_NO" \
            "$BPC_STAGES_TOTAL" "$test_name" "$test_rc" "$((test_t1 - test_t0))"
        echo "test.sh: stopped at stage '$test_name'; later stages did not run"
        test_counts || true
        exit "$test_rc"
    fi
    printf '==== [%d/%d] %s: ok (%ds) ====\n' "$BPC_STAGE_NO" "$BPC_STAGES_TOTAL" "$test_name" \
        "$((test_t1 - test_t0))"
}

stage_deps()
{
    sh scripts/deps.sh
}

# engine/ is the pure protocol core: it must build without DPDK (STYLE 2).
stage_engine_dpdk_free()
{
    if grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]rte_' engine/; then
        echo "engine/ includes a DPDK header (listed above); only dataplane/ may"
        return 1
    fi
    echo "engine/ includes no DPDK header"
}

# Reports clang-format violations; fails on any unless BPC_STRICT_FORMAT=0.
stage_format()
{
    strict=${BPC_STRICT_FORMAT:-1}
    if ! command -v clang-format >/dev/null 2>&1; then
        BPC_FORMAT_NOTE="clang-format not installed"
        echo "format: $BPC_FORMAT_NOTE"
        [ "$strict" != 1 ]
        return
    fi
    files=$(find engine tests bench dataplane -type f \
        \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) 2>/dev/null | sort)
    total=0
    bad=0
    for f in $files; do
        total=$((total + 1))
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            bad=$((bad + 1))
            echo "format: needs clang-format: $f"
        fi
    done
    BPC_FORMAT_NOTE="$bad of $total files need clang-format"
    if [ "$bad" -eq 0 ]; then
        echo "format: all $total files clean"
        return 0
    fi
    if [ "$strict" = 1 ]; then
        echo "format: $BPC_FORMAT_NOTE (BPC_STRICT_FORMAT=1: failing)"
        return 1
    fi
    BPC_FORMAT_NOTE="$BPC_FORMAT_NOTE (reported, not enforced)"
    echo "format: $BPC_FORMAT_NOTE; see: clang-format --dry-run FILE"
    return 0
}

stage_build()
{
    if [ ! -f "$BPC_BUILD/build.ninja" ]; then
        meson setup "$BPC_BUILD" -Dbuildtype=release || return 1
    fi
    nice ninja -C "$BPC_BUILD"
}

stage_test()
{
    BPC_TESTED="$BPC_TESTED $BPC_BUILD"
    nice meson test -C "$BPC_BUILD" --print-errorlogs
}

stage_build_san()
{
    if [ ! -f "$BPC_BUILD_SAN/build.ninja" ]; then
        meson setup "$BPC_BUILD_SAN" -Dbuildtype=debug -Db_sanitize=address,undefined \
            -Db_lundef=false -Dc_args=-fno-sanitize-recover=all \
            -Dcpp_args=-fno-sanitize-recover=all || return 1
    fi
    nice ninja -C "$BPC_BUILD_SAN"
}

stage_test_san()
{
    BPC_TESTED="$BPC_TESTED $BPC_BUILD_SAN"
    ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
        LSAN_OPTIONS="suppressions=$BPC_ROOT/tests/lsan.supp" \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice meson test -C "$BPC_BUILD_SAN" --print-errorlogs --timeout-multiplier 3
}

# meson install of the release build into a scratch folder: sonames,
# exported symbols, man pages, and the embed example built out of tree
# against the installed pkg-config files and run.
stage_install()
{
    sh "$BPC_ROOT/tests/install/check_install.sh" "$BPC_BUILD"
}

# Can clang link a libFuzzer target? (clang alone is not enough: libFuzzer
# comes with libclang-rt-14-dev.)
fuzz_probe()
{
    probe_dir=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$probe_dir/probe.c"
    probe_rc=0
    clang -fsanitize=fuzzer "$probe_dir/probe.c" -o "$probe_dir/probe" >/dev/null 2>&1 ||
        probe_rc=1
    rm -rf "$probe_dir"
    return "$probe_rc"
}

# Builds the fuzz targets with clang in their own directory and runs each
# for BPC_FUZZ_SECONDS from the committed corpus (new inputs and any crash
# go to $BPC_BUILD_FUZZ/fuzz-out/, never into the tree). A crash, sanitizer
# report or failed check fails the stage; missing clang or libFuzzer skips it.
stage_fuzz()
{
    secs=${BPC_FUZZ_SECONDS:-60}
    if [ "$secs" = 0 ]; then
        BPC_FUZZ_NOTE="skipped (BPC_FUZZ_SECONDS=0)"
        echo "fuzz: $BPC_FUZZ_NOTE"
        return 0
    fi
    if ! command -v clang >/dev/null 2>&1; then
        BPC_FUZZ_NOTE="skipped: clang not installed"
        echo "fuzz: $BPC_FUZZ_NOTE"
        return 0
    fi
    if ! fuzz_probe; then
        BPC_FUZZ_NOTE="skipped: clang cannot link libFuzzer (-fsanitize=fuzzer; libclang-rt-14-dev)"
        echo "fuzz: $BPC_FUZZ_NOTE"
        return 0
    fi
    if [ ! -f "$BPC_BUILD_FUZZ/build.ninja" ]; then
        CC=clang meson setup "$BPC_BUILD_FUZZ" -Dfuzz=true -Ddataplane=disabled \
            -Dbench=disabled -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
            -Db_lundef=false -Dc_args=-DBPC_DEBUG=1 || return 1
    fi
    if ! grep -q 'fuzz_engine' "$BPC_BUILD_FUZZ/build.ninja"; then
        echo "fuzz: $BPC_BUILD_FUZZ has no fuzz targets (not CC=clang -Dfuzz=true);" \
            "delete it or set BPC_BUILD_FUZZ"
        return 1
    fi
    nice ninja -C "$BPC_BUILD_FUZZ" tests/fuzz/fuzz_wire tests/fuzz/fuzz_engine \
        tests/fuzz/fuzz_store || return 1
    BPC_FUZZ_NOTE=""
    for target in wire engine store; do
        out="$BPC_BUILD_FUZZ/fuzz-out/$target"
        # wire: room for a whole jumbo frame; engine: long scripts from the
        # start (docs/FUZZ.md has the figures behind both choices)
        len_args="-max_len=9100"
        [ "$target" = engine ] && len_args="-max_len=1024 -len_control=0"
        [ "$target" = store ] && len_args="-max_len=8192"
        rm -rf "$out"
        mkdir -p "$out/new"
        echo "fuzz: fuzz_$target for ${secs}s from tests/fuzz/corpus/$target"
        fuzz_rc=0
        # shellcheck disable=SC2086 # len_args is two words for the engine
        nice "$BPC_BUILD_FUZZ/tests/fuzz/fuzz_$target" -max_total_time="$secs" $len_args \
            -timeout=30 -print_final_stats=1 -artifact_prefix="$out/" "$out/new" \
            "tests/fuzz/corpus/$target" >"$out/log" 2>&1 || fuzz_rc=$?
        if [ "$fuzz_rc" -ne 0 ]; then
            grep -E 'ERROR|check failed|fuzz_engine:|fuzz_wire:|fuzz_store:|SUMMARY|Test unit written' \
                "$out/log" | head -20
            echo "fuzz: fuzz_$target failed (exit $fuzz_rc); log: $out/log; reproduce with:" \
                "$BPC_BUILD_FUZZ/tests/fuzz/fuzz_$target $out/crash-* (or leak-*, timeout-*)"
            return 1
        fi
        grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec' \
            "$out/log"
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$out/log" | tail -1 |
            sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+(cov: [0-9]+).*/\1 runs, \2/')
        BPC_FUZZ_NOTE="${BPC_FUZZ_NOTE}fuzz_$target $done_line; "
    done
    return 0
}

test_stage deps stage_deps
test_stage engine-dpdk-free stage_engine_dpdk_free
test_stage format stage_format
test_stage build stage_build
test_stage test stage_test
test_stage install stage_install
test_stage build-san stage_build_san
test_stage test-san stage_test_san
test_stage fuzz stage_fuzz

echo
echo "test.sh: all stages passed (format: $BPC_FORMAT_NOTE)"
echo "fuzz: $BPC_FUZZ_NOTE"
test_counts
