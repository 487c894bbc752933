#!/bin/sh
# fresh_seeds.sh - a Byzantine campaign from a seed taken from the clock,
# so each run of the test suite tries seeds no earlier run tried. The seed
# is printed first; a failure replays with BPC_SIM_SEED=<seed> (the whole
# test) or with the failing line's flags and --seed N alone (one run).
#
# usage: fresh_seeds.sh BPCON_SIM CAMPAIGN_SH
set -u
sim=$1
campaign=$2
seed=${BPC_SIM_SEED:-$(date +%s)}
echo "fresh seeds from $seed (replay this test: BPC_SIM_SEED=$seed meson test sim-byz-fresh-seeds)"
status=0
sh "$campaign" "$sim" 2 "$seed" || status=1
line=$("$sim" --random-config --seeds 10 --seed "$seed" --instances 40 --ballot-timeout-us 2000 \
    --churn-us 500 --byz-phase-us 20000 --isolate --quiet) || status=1
echo "random-config $line"
exit $status
