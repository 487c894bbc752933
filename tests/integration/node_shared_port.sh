#!/bin/bash
# Goal: a bpcon-node whose cluster file gives every party one shared port
# (port:N, a segment behind a switch) links to every peer, however many.
# Before, it linked only to its first 32 peers: in a 34-party cluster,
# party 0 never sent a frame to party 33 (each frame to it counted in
# tx_no_link), with no message; above 33 parties a cluster could lose its
# quorum that way.
# Method: bpcon-keygen writes a 34-party cluster with --port port:0; party
# 0 runs on a net_null port (--no-load, --idle sleep) and broadcasts its
# status records to all 33 peers; the test reads /bpcon/stats from its
# telemetry socket until it has sent frames (bounded), then checks that
# none found no link. /bpcon/stats must also hold one drop_ key per drop
# reason named in bpcon.h (before, "non-zero reserved field" made a name
# DPDK telemetry refuses, and that counter was missing).
# Usage: node_shared_port.sh BPCON-NODE BPCON-KEYGEN BPCON_H
set -u
node="$1"
keygen="$2"
header="$3"
dir=$(mktemp -d /tmp/bpcon-shared-XXXXXX)
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
prefix=bpc-shared-$$
pid=""
trap 'kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir" "$rundir/$prefix"' EXIT
"$keygen" --parties 34 --out "$dir/keys" --cluster "$dir/c.conf" --port port:0 \
    --cluster-id 7 >/dev/null || { echo "FAIL: bpcon-keygen"; exit 1; }
"$node" --no-huge --no-pci -m 256 --file-prefix "$prefix" -l 0 --vdev net_null0 -- \
    --cluster "$dir/c.conf" --id 0 --no-load --idle sleep:1000 >"$dir/node.out" 2>&1 &
pid=$!
python3 - "$rundir/$prefix/dpdk_telemetry.v2" "$header" "$(dirname "$0")" <<'PY'
import os, re, sys, time
path, header = sys.argv[1], sys.argv[2]

sys.path.insert(0, sys.argv[-1])
from dpdk_telemetry import ask as ask_at


def ask(cmd):
    return ask_at(path, cmd)

stats = {}
for _ in range(200):  # at most 20 s
    time.sleep(0.1)
    if not os.path.exists(path):
        continue
    try:
        stats = ask("/bpcon/stats,0")
    except OSError:
        continue
    if stats.get("tx_frames", 0) >= 33:
        break
failed = 0
if stats.get("tx_frames", 0) < 33:
    print("FAIL: party 0 sent %r frames in 20 s" % stats.get("tx_frames"))
    sys.exit(1)
if stats.get("tx_no_link") != 0:
    print("FAIL: tx_no_link %r of tx_frames %r (peers without a link)"
          % (stats.get("tx_no_link"), stats.get("tx_frames")))
    failed += 1
reasons = re.findall(r'X\(BPC_DROP_\w+, "([^"]*)"\)', open(header).read())
keys = [k for k in stats if k.startswith("drop_")]
if len(reasons) < 15 or len(keys) != len(reasons):
    print("FAIL: %d drop_ keys in /bpcon/stats for %d drop reasons: %s"
          % (len(keys), len(reasons), sorted(keys)))
    failed += 1
print("%d passed, %d failed" % (2 - failed, failed))
sys.exit(1 if failed else 0)
PY
