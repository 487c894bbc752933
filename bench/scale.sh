#!/bin/sh
# scale.sh - what one decision costs as the cluster grows: bpcon-sim with N
# equal parties deciding exactly C commands (--commands C), for N in 4, 7,
# 16, 64, 128, 256, 512, 999. Per run: CPU seconds (user + system), peak
# RSS, frames sent, and frames and CPU per decided instance. Then the
# least-squares growth exponents (log-log slope over N >= 64) and a log-log
# plot (gnuplot, installed when missing).
#
# usage: sh bench/scale.sh [BUILD_DIR] [OUT_DIR] [COMMANDS] [EXTRA_SIM_FLAGS...]
#   BUILD_DIR  default build (release; built by scripts/demo.sh or test.sh)
#   OUT_DIR    default bench/plots; writes scale.tsv, scale.png
#   COMMANDS   default 1
#   EXTRA_SIM_FLAGS  added to every run; not --weights, --commands, --seed
#              or --quiet, which the script gives (bpcon-sim refuses a
#              flag given twice)
#   BPC_SCALE_PARTIES="4 7 16" overrides the party counts.
set -eu
build=${1:-build}
out=${2:-bench/plots}
commands=${3:-1}
[ $# -gt 3 ] && shift 3 || set --
sim=$build/tests/sim/bpcon-sim
parties=${BPC_SCALE_PARTIES:-4 7 16 64 128 256 512 999}
[ -x "$sim" ] || { echo "scale.sh: $sim not built (meson setup $build --buildtype=release && ninja -C $build)" >&2; exit 2; }
mkdir -p "$out"
tsv=$out/scale.tsv
printf 'parties\tcpu_s\tpeak_rss_kb\tframes\tdecided\tframes_per_decision\tcpu_us_per_decision\tmax_ballot\tagreement\n' > "$tsv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in $parties; do
    weights=$(python3 -c "print(','.join(['1'] * $n))")
    # shellcheck disable=SC2068 # extra flags split on purpose
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$sim" --weights "$weights" --commands "$commands" \
        --seed 6 --quiet "$@" > "$tmp/out" 2> "$tmp/err" || { echo "scale.sh: $n parties failed" >&2; exit 1; }
    python3 - "$n" "$tmp/time" "$tmp/out" >> "$tsv" <<'EOF'
import json, sys
n = int(sys.argv[1])
u, s, rss = open(sys.argv[2]).read().split()[-3:]
d = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
cpu = float(u) + float(s)
dec = max(d["decided"], 1)
print("\t".join(str(x) for x in (n, round(cpu, 3), rss, d["frames_sent"], d["decided"],
      round(d["frames_sent"] / dec), round(cpu * 1e6 / dec), d["max_ballot"], d["agreement"])))
EOF
    tail -n 1 "$tsv"
done
python3 - "$tsv" <<'EOF'
import math, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()[1:]]
pts = [(int(r[0]), float(r[1]), int(r[2]), int(r[5])) for r in rows if int(r[0]) >= 64]
def slope(xs, ys):
    lx = [math.log(x) for x in xs]; ly = [math.log(max(y, 1e-9)) for y in ys]
    mx = sum(lx) / len(lx); my = sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)
# CPU comes in 10 ms ticks: a run under two of them says nothing about a
# slope (0.00 s would weigh in as 1e-9 and make it meaningless).
timed = [p for p in pts if p[1] >= 0.02]
if len(pts) >= 2:
    xs = [p[0] for p in pts]
    cpu = ("N^%.2f (runs with >= 0.02 s: N = %s)"
           % (slope([p[0] for p in timed], [p[1] for p in timed]),
              ", ".join(str(p[0]) for p in timed))) if len(timed) >= 2 else "too few timed runs"
    print("growth exponents over N >= 64 (smaller runs take milliseconds): frames N^%.2f, CPU %s, peak RSS N^%.2f"
          % (slope(xs, [p[3] for p in pts]), cpu, slope(xs, [p[2] for p in pts])))
EOF
command -v gnuplot > /dev/null 2>&1 || apt-get install -y gnuplot-nox > /dev/null
gnuplot <<EOF
set terminal pngcairo size 800,500 noenhanced
set output "$out/scale.png"
set logscale xy
set key top left
set xlabel "parties (equal weights)"
set ylabel "per decided instance"
set title "bpcon-sim --commands $commands: cost per decision"
plot "$tsv" using 1:6 with linespoints title "frames", \
     "$tsv" using 1:7 with linespoints title "CPU us", \
     "$tsv" using 1:(\$1*\$1*2) with lines dashtype 2 title "2 N^2"
EOF
echo "scale.sh: wrote $tsv and $out/scale.png"
