#!/bin/sh
# cluster_sweep.sh - bpcon-cluster over a grid of loads, one JSON line per
# run (JSON Lines: each line is the run's own closing JSON object, with
# its transport, value_bytes, load, outstanding, rate, decisions_per_s,
# commands_per_s, p50_us/p99_us/p999_us, cpu_s_per_decision, ...; see
# docs/DATAPLANE.md, bpcon-cluster).
#
# Usage: sh bench/cluster_sweep.sh [OUT]   (default bench/plots/cluster_sweep.jsonl)
#
# Each line is bpcon-cluster's JSON object with one field added: "commit"
# (git describe --always --dirty of the tree that ran).
#
# The grid (4 parties, --no-fsync: the stores' syncs would measure the disk):
#   closed loop: --outstanding 1 16 256 4096 x command sizes 24 64 512 bytes,
#                over the ring transport (each with --raw-baseline
#                SWEEP_RAW_MS, so frames_vs_raw is set) and the virtio
#                transport;
#   open loop:   ring, 64-byte commands, --rate at 10 25 50 75 90 % of the
#                closed-loop peak measured just before (ring, 64 bytes).
# 24 bytes stands for the asked-for 16: a command carries a 24-byte header
# (magic, submitter, seq, submit time) so that every applied command can
# be checked, and bpcon-cluster refuses less.
#
# Length of a run: bpcon-cluster stops when K commands are applied, so K
# sets the duration. Each series starts at SWEEP_FIRST_K commands; every
# next run takes K = (commands/s of the run before) x SWEEP_SECONDS x 2
# (more in flight is at most about twice as fast here), clamped to
# [max(2000, 8 x outstanding), SWEEP_K_MAX]. Open-loop runs take
# K = rate x SWEEP_SECONDS.
#
# Environment: BUILD (build directory, default build), SWEEP_TRANSPORTS
# ("ring virtio"), SWEEP_OUTSTANDING ("1 16 256 4096"), SWEEP_SIZES
# ("24 64 512"), SWEEP_RATES_PCT ("10 25 50 75 90"; empty: no open loop),
# SWEEP_SECONDS (1.5), SWEEP_FIRST_K (3000), SWEEP_K_MAX (400000),
# SWEEP_PARTIES (4), SWEEP_RAW_MS (300; 0: no raw baseline),
# SWEEP_RING_LCORES (2: ring runs with --ring-lcores 2, the parties over
# both cores; 1: all on one lcore as before 2026-12-01), SWEEP_VIRTIO_IDLE
# (yield: virtio nodes give the core away when a poll finds nothing, the
# low-latency policy; sleep:20 is bpcon-cluster's default and what the
# virtio rows ran with before 2026-12-01; each line's "idle" says).
#
# Exit status: 0 when every run passed its own checks, 1 otherwise (the
# lines of failed runs are kept: "all_decided" and "agreement" say so).
set -eu

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${1:-bench/plots/cluster_sweep.jsonl}
TRANSPORTS=${SWEEP_TRANSPORTS:-ring virtio}
OUTSTANDING=${SWEEP_OUTSTANDING:-1 16 256 4096}
SIZES=${SWEEP_SIZES:-24 64 512}
RATES_PCT=${SWEEP_RATES_PCT-10 25 50 75 90}
SECONDS_PER_RUN=${SWEEP_SECONDS:-1.5}
FIRST_K=${SWEEP_FIRST_K:-3000}
K_MAX=${SWEEP_K_MAX:-400000}
PARTIES=${SWEEP_PARTIES:-4}
RAW_MS=${SWEEP_RAW_MS:-300}
RING_LCORES=${SWEEP_RING_LCORES:-2}
VIRTIO_IDLE=${SWEEP_VIRTIO_IDLE:-yield}
CLUSTER="$BUILD/dataplane/bpcon-cluster"

if [ ! -x "$CLUSTER" ]; then
    echo "cluster_sweep: no $CLUSTER (build it: ninja -C $BUILD dataplane/bpcon-cluster)" >&2
    exit 1
fi
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
tmp=$(mktemp /tmp/bpc-sweep-XXXXXX)
trap 'rm -f "$tmp"' EXIT
failed=0
peak=0
# What was measured: appended to every line as "commit" (-dirty: with
# uncommitted changes).
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)

# The number after "KEY": in a JSON line (empty when absent or null).
field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([-0-9.e]*\)[,}].*/\1/p"
}

# Next K from the last run's commands/s.
next_k() {
    awk -v cps="$1" -v s="$SECONDS_PER_RUN" -v o="$2" -v max="$K_MAX" 'BEGIN {
        k = int(cps * s * 2); lo = 8 * o; if (lo < 2000) lo = 2000;
        if (k < lo) k = lo; if (k > max) k = max; print k }'
}

# run TRANSPORT SIZE K ARGS...: one bpcon-cluster run, its JSON line appended.
run() {
    transport=$1 size=$2 k=$3
    shift 3
    started=$(date +%s)
    if [ "$transport" = ring ]; then
        set -- "$@" --ring-lcores "$RING_LCORES"
    else
        set -- "$@" --idle "$VIRTIO_IDLE"
    fi
    set +e
    "$CLUSTER" --parties "$PARTIES" --commands "$k" --transport "$transport" \
        --value-size "$size" --no-fsync "$@" >"$tmp" 2>/dev/null
    rc=$?
    set -e
    line=$(tail -1 "$tmp" | sed "s/}\$/,\"commit\":\"$commit\"}/")
    case "$line" in
    '{'*'}') printf '%s\n' "$line" >>"$OUT" ;;
    *)
        echo "cluster_sweep: $transport $size B $*: no JSON line" >&2
        line='{}'
        ;;
    esac
    cps=$(field "$line" commands_per_s)
    printf '%-6s %4s B %-20s K %-7s -> %9s commands/s  p50 %8s us  p99 %8s us  (%ss, exit %s)\n' \
        "$transport" "$size" "${1:-} ${2:-}" "$k" "${cps:-?}" "$(field "$line" p50_us)" \
        "$(field "$line" p99_us)" "$(($(date +%s) - started))" "$rc"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
    last_cps=${cps:-0}
}

for transport in $TRANSPORTS; do
    for size in $SIZES; do
        k=$FIRST_K
        for o in $OUTSTANDING; do
            if [ "$transport" = ring ] && [ "$RAW_MS" -gt 0 ]; then
                run "$transport" "$size" "$k" --outstanding "$o" --raw-baseline "$RAW_MS"
            else
                run "$transport" "$size" "$k" --outstanding "$o"
            fi
            if [ "$transport" = ring ] && [ "$size" = 64 ]; then
                peak=$(awk -v a="$peak" -v b="$last_cps" 'BEGIN { print (b > a ? b : a) }')
            fi
            k=$(next_k "$last_cps" "$o")
        done
    done
done

if [ -n "$RATES_PCT" ] && [ "$peak" != 0 ]; then
    for pct in $RATES_PCT; do
        rate=$(awk -v p="$peak" -v x="$pct" 'BEGIN { r = int(p * x / 100); print (r < 1 ? 1 : r) }')
        k=$(awk -v r="$rate" -v s="$SECONDS_PER_RUN" 'BEGIN { k = int(r * s); print (k < 500 ? 500 : k) }')
        run ring 64 "$k" --rate "$rate"
    done
fi

echo "cluster_sweep: $(wc -l <"$OUT") runs in $OUT, $failed failed"
[ "$failed" -eq 0 ]
