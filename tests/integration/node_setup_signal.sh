#!/bin/bash
# Goal: SIGTERM (or SIGINT) while bpcon-node is still setting up (its
# vhost-mesh server port waits in accept() for a peer that never comes)
# stops it as bpcon-node(1) SIGNALS says: "interrupted during set-up",
# exit 0 (nothing ran, nothing decided), and the socket it made for the
# port is gone. Before (review B4), it printed "vdev virtio_user0 (...
# server=1): Operation not permitted", exited 1 and left the socket.
# Method: a two-party vhost-mesh cluster; party 1 (the virtio_user server
# of pair 0-1) started alone: it blocks in accept(), not polling. Once its
# socket is there (bounded wait) it gets SIGTERM, then SIGINT on a second
# start.
# Usage: node_setup_signal.sh BPCON-NODE BPCON-KEYGEN
set -u
node="$1"
keygen="$2"
dir=$(mktemp -d /tmp/bpcon-setupsig-XXXXXX)
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
pid=""
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir" "$rundir"/bpc-sig-$$' EXIT
mkdir "$dir/mesh"
"$keygen" --parties 2 --out "$dir/k" --cluster "$dir/two.conf" \
    --port "vhost-mesh:$dir/mesh" >/dev/null || exit 1
sock="$dir/mesh/bpc-0-1.sock"
fail=0
for sig in TERM INT; do
    "$node" --no-huge --no-pci -m 128 --file-prefix="bpc-sig-$$" --log-level=lib.eal:error -- \
        --cluster "$dir/two.conf" --id 1 --store "$dir/s1" --no-fsync --idle sleep:1000 \
        >"$dir/out" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    if [ ! -S "$sock" ]; then
        echo "FAIL setup: no socket $sock in 30 s; node output:"
        tail -5 "$dir/out" | sed 's/^/    /'
        exit 1
    fi
    sleep 0.5 # into accept(): the socket is bound before it listens
    kill -"$sig" "$pid"
    got=0
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL SIG$sig: still running 30 s later"
        kill -KILL "$pid"
    fi
    wait "$pid"
    got=$?
    pid=""
    if [ "$got" -ne 0 ] || ! grep -qF "interrupted during set-up" "$dir/out" || [ -e "$sock" ]; then
        fail=$((fail + 1))
        echo "FAIL SIG$sig during set-up: status $got (want 0), socket $([ -e "$sock" ] && echo left || echo removed), output:"
        tail -5 "$dir/out" | sed 's/^/    /'
        echo "    (wanted text: interrupted during set-up; the socket removed)"
        rm -f "$sock"
    fi
done
echo "$((2 - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
