#!/bin/sh
# demo.sh - the README's first Quick start command: installs what is
# missing, builds the release configuration in build/, and runs the main job.
#
# Owns: the demo's main job command line. Must never: delete a build
# directory or hide the main job's exit code (it is this script's own).
set -eu

# The main job, run from the repository root: a local 4-party cluster
# over DPDK net_ring ports (no hugepages, no NIC), replicating 100000
# commands. It prints progress, throughput and latency, checks that every
# party applied the same log, and ends with one JSON line. The same cluster
# over virtio-user/vhost-user (one process per party) is
# `--transport virtio`; it is not the demo because it can stall when the
# machine's cores are busy (docs/DATAPLANE.md, Known problems).
BPC_DEMO_CMD="build/dataplane/bpcon-cluster --parties 4 --commands 100000 --transport ring"

cd "$(dirname "$0")/.."

echo "==== demo: dependencies ===="
sh scripts/deps.sh

echo "==== demo: build (release, in build/) ===="
if [ ! -f build/build.ninja ]; then
    meson setup build -Dbuildtype=release || {
        echo "demo: meson setup failed; see above" >&2
        exit 1
    }
fi
nice ninja -C build || {
    echo "demo: build failed; see above" >&2
    exit 1
}

echo "==== demo: $BPC_DEMO_CMD ===="
demo_rc=0
eval "$BPC_DEMO_CMD" || demo_rc=$?

echo
if [ "$demo_rc" -eq 0 ]; then
    echo "demo: finished (exit 0); the last line above is the main job's JSON summary"
else
    echo "demo: main job FAILED (exit $demo_rc): $BPC_DEMO_CMD"
fi
exit "$demo_rc"
