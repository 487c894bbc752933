#!/bin/sh
# demo.sh - the README's first Quick start command: installs what is
# missing, builds the release configuration in build/, and runs the main job.
#
# Owns: the demo's main job command line. Must never: delete a build
# directory or hide the main job's exit code (it is this script's own).
set -eu

# The main job, run from the repository root: a local 4-party cluster, one
# bpcon-node process per party joined by a full mesh of DPDK virtio-user <->
# vhost-user links (no hugepages, no NIC), replicating 100000 commands. It
# prints progress, throughput and latency, checks that every party applied
# the same log, and ends with one JSON line. `--transport ring` runs the
# same cluster in one process over net_ring ports.
BPC_DEMO_CMD="build/dataplane/bpcon-cluster --parties 4 --commands 100000 --transport virtio"

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
