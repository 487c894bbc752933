#!/bin/sh
# demo.sh - the README's first Quick start command: installs what is
# missing, builds the release configuration in build/, and runs the main job.
#
# Owns: the demo's main job command line. Must never: delete a build
# directory or hide the main job's exit code (it is this script's own).
set -eu

# The main job, run from the repository root. For now a 4-party simulated
# cluster deciding 1000 instances; it prints progress and a final JSON line.
BPC_DEMO_CMD="build/tests/sim/bpcon-sim --weights 1,1,1,1 --instances 1000"

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
