#!/bin/sh
# plot.sh - renders the cluster sweep as PNGs in bench/plots/.
#
# Usage: sh bench/plot.sh            runs bench/cluster_sweep.sh (BUILD, SWEEP_*
#                                    as there) into bench/plots/cluster_sweep.jsonl,
#                                    then plots it
#        sh bench/plot.sh FILE       plots an existing sweep file (JSON Lines)
#
# Writes bench/plots/throughput.png (commands/s against commands in flight),
# latency_closed.png (p50, p99, p99.9 submit-to-apply against commands in
# flight, 64-byte commands, one panel per transport), latency_open.png
# (the same against the offered rate of the open-loop runs) and cpu.png
# (CPU per decision and per command against commands in flight). Needs gnuplot (Debian:
# apt-get install -y gnuplot-nox).
set -eu

cd "$(dirname "$0")/.."
PLOTS=bench/plots
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot: gnuplot is missing (Debian: apt-get install -y gnuplot-nox)" >&2
    exit 1
fi
mkdir -p "$PLOTS"
if [ $# -ge 1 ]; then
    DATA=$1
else
    DATA=$PLOTS/cluster_sweep.jsonl
    sh bench/cluster_sweep.sh "$DATA" || echo "plot: some runs failed; plotting what there is" >&2
fi
if [ ! -s "$DATA" ]; then
    echo "plot: $DATA is empty or missing" >&2
    exit 1
fi

work=$(mktemp -d /tmp/bpc-plot-XXXXXX)
trap 'rm -rf "$work"' EXIT

# One TSV per series: closed-<transport>-<bytes>.tsv (by outstanding) and
# open-<transport>-<bytes>.tsv (by rate). Columns: x, commands/s, p50,
# p99, p99.9 (us), CPU us per decision, decisions/s, CPU us per command.
awk -v dir="$work" '
function get(key,   m) {
    if (match($0, "\"" key "\":[^,}]*")) {
        m = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
        gsub(/"/, "", m)
        return m
    }
    return "null"
}
{
    load = get("load")
    if (load != "outstanding" && load != "rate") next
    x = load == "outstanding" ? get("outstanding") : get("rate")
    cpu = get("cpu_s_per_decision")
    cpu = cpu == "null" ? "NaN" : cpu * 1e6
    cmds = get("decided")
    cpc = get("cpu_s") == "null" || cmds + 0 == 0 ? "NaN" : get("cpu_s") * 1e6 / cmds
    f = dir "/" (load == "outstanding" ? "closed" : "open") "-" get("transport") "-" get("value_bytes") ".tsv"
    print x, get("commands_per_s"), get("p50_us"), get("p99_us"), get("p999_us"), cpu, get("decisions_per_s"), cpc >> f
}' "$DATA"
for f in "$work"/*.tsv; do
    [ -e "$f" ] || continue
    sort -n -k1,1 "$f" >"$f.s" && mv "$f.s" "$f"
done

# The series present, as gnuplot words: "ring-24 ring-64 ...".
series() {
    for f in "$work"/"$1"-*.tsv; do
        [ -e "$f" ] || continue
        b=$(basename "$f" .tsv)
        printf '%s ' "${b#"$1"-}"
    done
}
closed=$(series closed)
open=$(series open)
commit=$(sed -n 's/.*"commit":"\([^"]*\)".*/\1/p' "$DATA" | head -1)
note="4 parties, --no-fsync, commit ${commit:-unknown}, $(nproc) cores (shared, noisy)"

gnuplot <<EOF
set terminal pngcairo size 900,560 noenhanced font ",10"
set grid
set key outside right top
set logscale x 2
dir = "$work"
closed = "$closed"
open = "$open"

set output "$PLOTS/throughput.png"
set title "bpcon-cluster, closed loop: throughput\n$note"
set xlabel "commands in flight across the cluster (--outstanding)"
set ylabel "commands/s applied"
plot for [s in closed] dir."/closed-".s.".tsv" using 1:2 with linespoints title s." B"

set output "$PLOTS/cpu.png"
set terminal pngcairo size 1100,520 noenhanced font ",10"
set multiplot layout 1,2 title "CPU time, closed loop (ring: busy polling counts)\n$note"
set key inside right top
set title "per decision (instance)"
set ylabel "CPU us"
plot for [s in closed] dir."/closed-".s.".tsv" using 1:6 with linespoints title s." B"
set title "per command"
plot for [s in closed] dir."/closed-".s.".tsv" using 1:8 with linespoints title s." B"
unset multiplot

set output "$PLOTS/latency_closed.png"
set terminal pngcairo size 1100,520 noenhanced font ",10"
set multiplot layout 1,2 title "submit-to-apply latency, closed loop, 64-byte commands\n$note"
set logscale y 10
set ylabel "latency (us)"
set key inside left top
do for [t in "ring virtio"] {
    f = dir."/closed-".t."-64.tsv"
    set title t
    if (strstrt(closed, t."-64") > 0) {
        plot f using 1:3 with linespoints title "p50", f using 1:4 with linespoints title "p99", \
             f using 1:5 with linespoints title "p99.9"
    }
}
unset multiplot

set output "$PLOTS/latency_open.png"
set terminal pngcairo size 900,560 noenhanced font ",10"
set title "submit-to-apply latency, open loop, from the scheduled time\n$note"
unset logscale x
set xlabel "offered load (--rate, commands/s)"
set key outside right top
if (strlen(open) > 0) {
    plot for [s in open] dir."/open-".s.".tsv" using 1:3 with linespoints title s." B p50", \
         for [s in open] dir."/open-".s.".tsv" using 1:4 with linespoints title s." B p99", \
         for [s in open] dir."/open-".s.".tsv" using 1:5 with linespoints title s." B p99.9"
}
EOF
ls -1 "$PLOTS"/*.png
