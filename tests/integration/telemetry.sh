#!/bin/bash
# Goal: libbpcon-dp's telemetry commands answer a bad or unknown party id
# with an {"error": ...} dict naming the cause, and a good id with counters
# (a published copy, with its at_ns).
# Method: run the 4-party ring cluster (one process, four parties) with a
# load long enough to outlive the queries, talk to its telemetry socket
# (SOCK_SEQPACKET, as dpdk-telemetry.py does), then stop the run.
set -u
cluster="$1"
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
# The run is stopped, so it fails and keeps its stores: under a scratch
# TMPDIR, removed with it.
work=$(mktemp -d /tmp/bpc-telemetry-XXXXXX)
export TMPDIR="$work"
"$cluster" --parties 4 --commands 1000000 --transport ring --idle sleep:100 \
    --deadline-ms 60000 >/dev/null 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sock=""
for _ in $(seq 1 100); do
    sock=$(ls "$rundir"/bpc-cluster-"$pid"/dpdk_telemetry.v2 2>/dev/null)
    [ -n "$sock" ] && break
    sleep 0.1
done
[ -n "$sock" ] || { echo "FAIL: no telemetry socket for pid $pid"; exit 1; }
python3 - "$sock" "$(dirname "$0")" <<'PY'
import sys, time
path = sys.argv[1]

sys.path.insert(0, sys.argv[-1])
from dpdk_telemetry import ask as ask_at


def ask(cmd):
    return ask_at(path, cmd)

# Parties register once they are set up (in id order; each first opens
# its durable store, which syncs): wait for the last one.
for _ in range(100):
    if "party" in ask("/bpcon/stats,3"):
        break
    time.sleep(0.1)
cases = [
    ("/bpcon/stats,9", "no party 9 in this process (here: 0 1 2 3)"),
    ("/bpcon/config,9", "no party 9"),
    ("/bpcon/stats,x", "parameter 'x' is not a party id"),
    ("/bpcon/stats,-1", "is not a party id"),
    ("/bpcon/config,99999", "is not a party id in 0..1023"),
]
failed = 0
for cmd, want in cases:
    got = ask(cmd)
    if not isinstance(got, dict) or want not in got.get("error", ""):
        print("FAIL %s: %r" % (cmd, got))
        failed += 1
good = ask("/bpcon/stats,2")
# A published copy: its at_ns is a poll's time (init's at the least).
if good.get("party") != 2 or "engine_decided" not in good or not good.get("at_ns"):
    print("FAIL /bpcon/stats,2: %r" % good)
    failed += 1
if ask("/bpcon/config,1").get("self") != 1:
    print("FAIL /bpcon/config,1")
    failed += 1
print("%d passed, %d failed" % (len(cases) + 2 - failed, failed))
sys.exit(1 if failed else 0)
PY
