#!/bin/bash
# Goal: the folder that holds a run's stores survives a power loss: each
# store makes its own file durable in that folder, and bpcon-cluster
# syncs the folder's entry in its parent (fsync of the parent), over both
# transports, for a --store-dir it makes and for the run directory the
# stores go to by default. Before (review V1), nothing synced the parent:
# a crash could lose the folder and every store in it.
# Method: strace -f -y records every fsync with the path of its
# descriptor; the parent's fsync must be among them.
# Usage: cluster_dirsync.sh BPCON-CLUSTER
set -u
prog="$1"
work=$(mktemp -d /tmp/bpc-dirsync-XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"
# LeakSanitizer cannot work under ptrace (strace): off for these runs in
# the sanitizer build (the other tests look for leaks; this one for fsyncs).
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
pass=0
fail=0
check() { # name, parent folder, bpcon-cluster arguments...
    local name="$1" parent="$2"
    shift 2
    if ! strace -f -y -qq -e trace=fsync -o "$work/$name.trace" "$prog" --parties 2 \
        --commands 10 "$@" >"$work/$name.out" 2>&1; then
        fail=$((fail + 1))
        echo "FAIL $name: the run failed:"
        tail -5 "$work/$name.out"
    elif grep -qF "fsync(" "$work/$name.trace" &&
        grep -q "fsync([0-9]*<$parent>)" "$work/$name.trace"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: no fsync of $parent; the fsyncs:"
        grep "fsync(" "$work/$name.trace" | head -5
    fi
}
mkdir "$work/a"
check ring-store-dir "$work/a" --store-dir "$work/a/stores"
check ring-run-dir "$work" --deadline-ms 60000
check virtio-store-dir "$work/a" --transport virtio --store-dir "$work/a/vstores"
check virtio-run-dir "$work" --transport virtio --deadline-ms 60000
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
