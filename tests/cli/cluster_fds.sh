#!/bin/bash
# Goal: a ring run that cannot start all its parties fails cleanly: exit
# 1 with a message naming what failed, nothing leaked (under the
# sanitizer build, LeakSanitizer fails the run on a leak), never a crash.
# Method: file descriptors run short at every step of the start: the
# limit on open files (ulimit -n) rises from 8 until a run passes; each
# run before must exit 1 naming its cause, and some run must fail with
# the EAL up and a party refusing to start (its store could not be
# opened), which is the teardown this checks (and LeakSanitizer must have
# been able to look at that run's exit). Before (review V1), that
# teardown left the started parties' stores and logs allocated.
# Usage: cluster_fds.sh BPCON-CLUSTER
set -u
prog="$1"
work=$(mktemp -d /tmp/bpc-fds-XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"
refused=0
for n in $(seq 8 64); do
    out=$(ulimit -n "$n" && "$prog" --parties 4 --commands 10 --no-fsync 2>&1)
    rc=$?
    if [ "$rc" = 0 ]; then
        echo "ulimit -n $n: the run passed"
        break
    fi
    # LeakSanitizer needs a descriptor of its own at exit: where the EAL
    # failed holding all of them it cannot look, and says so; such a run
    # is not counted below, any other sanitizer report fails.
    blind=0
    if grep -q "LeakSanitizer has encountered a fatal error" <<<"$out" &&
        grep -q "Can't open /proc/[0-9]*/task" <<<"$out"; then
        blind=1
        out=$(grep -v "LeakSanitizer has encountered\|Can't open /proc\|^==[0-9]*==HINT" <<<"$out")
    fi
    if [ "$rc" != 1 ] || ! grep -q '^bpcon-cluster: ' <<<"$out" ||
        grep -q 'Sanitizer' <<<"$out"; then
        echo "FAIL: ulimit -n $n: exit $rc:"
        echo "$out"
        exit 1
    fi
    if [ "$blind" = 0 ] && grep -q 'refuses to start' <<<"$out"; then
        refused=$((refused + 1))
        echo "ulimit -n $n: $(grep 'refuses to start' <<<"$out")"
    fi
done
if [ "$rc" != 0 ]; then
    echo "FAIL: no run passed up to ulimit -n 64"
    exit 1
fi
if [ "$refused" = 0 ]; then
    echo "FAIL: no run reached a party that refuses to start"
    exit 1
fi
echo "ok: $refused runs stopped at a party that refused to start, each cleanly"
