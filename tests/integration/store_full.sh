#!/bin/bash
# Goal: a store whose file system fills up (ENOSPC) is a run-time error
# the operator sees: bpcon-node logs "persistence failed" naming the store
# and the cause (No space left on device, from bpc_store_error) and exits 1 (not 0), and bpcon-cluster --transport virtio counts the
# nodes that stopped that way as store failures (JSON store_failures > 0,
# exit 1), as the ring transport counts a party whose store failed.
# Method: the stores on a 256 KiB tmpfs, mounted in a private mount
# namespace (unshare -m), so the mount goes away with the test whatever
# happens; needs root (CI runs as root), else skipped (77).
# Usage: store_full.sh BPCON-NODE BPCON-CLUSTER BPCON-KEYGEN
set -u
node="$1"
cluster="$2"
keygen="$3"
if [ -z "${BPC_STORE_FULL_NS:-}" ]; then
    if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
        echo "skipped: needs root and unshare -m (a tmpfs mount)"
        exit 77
    fi
    exec unshare -m --propagation private env BPC_STORE_FULL_NS=1 bash "$0" "$@"
fi
dir=$(mktemp -d /tmp/bpcon-full-XXXXXX)
trap 'umount "$dir/m" 2>/dev/null; rm -rf "$dir" /var/run/dpdk/bpc-full-$$' EXIT
export TMPDIR="$dir"
mkdir "$dir/m"
mount -t tmpfs -o size=256k tmpfs "$dir/m" || exit 1
pass=0
fail=0

check() { # name, want status, got status, output, wanted texts...
    local name="$1" want="$2" got="$3" out="$4"
    shift 4
    local missing=""
    for text in "$@"; do
        grep -qE -- "$text" <<<"$out" || missing="$missing [$text]"
    done
    if [ "$got" -eq "$want" ] && [ -z "$missing" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: status $got (want $want), missing:${missing:- none}, output:"
        tail -8 <<<"$out" | sed 's/^/    /'
    fi
}

# One party alone (quorum 1): it decides its own load until its store
# cannot grow; the node must stop with exit 1, the store named.
"$keygen" --parties 1 --out "$dir" --cluster "$dir/c.conf" --port "vhost-mesh:$dir" >/dev/null
out=$(timeout 60 "$node" --no-huge --no-pci -m 64 --file-prefix="bpc-full-$$" \
    --log-level=lib.eal:error -- --cluster "$dir/c.conf" --id 0 --store "$dir/m/s" \
    --commands 1000000 2>&1)
check node 1 $? "$out" "party stopped: persistence failed: the store $dir/m/s: No space left on device"
rm -f "$dir/m/s"

# Four nodes, their stores on the same full file system: each one that
# stops on it is a store failure in the summary, and the run fails. The
# nodes left without a quorum wait for the deadline, so the run lasts
# that long. It was 5 s: on a machine loaded by other runs the nodes had
# not filled the file system by then, and the run ended "decided
# 0/20000" with no store failure (4 runs in a row under meson test at a
# load average of 11).
out=$(timeout 60 "$cluster" --parties 4 --commands 20000 --transport virtio \
    --node "$node" --store-dir "$dir/m" --deadline-ms 20000 2>&1)
check cluster 1 $? "$out" "bpcon-cluster: node [0-3] stopped: its store failed" \
    '"store_failures":[1-4],'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
