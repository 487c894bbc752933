#!/bin/bash
# Goal: a running party is not disturbed by what happens beside it.
# - A second bpcon-node started as a party that already runs on a
#   vhost-mesh is refused (exit 1, "already running") before it touches
#   the mesh: the server socket the running party listens on is the same
#   file afterwards. Before, the second start unlinked it and then hung in
#   virtio_user's accept, so the peer's next reconnect found nobody.
# - The same holds for a relative vhost-mesh DIR, which is taken from the
#   cluster file's folder (as key paths are), whatever the node's working
#   directory: a party started again from another working directory is
#   refused too. Before, each node took DIR from its own working directory,
#   locked DIR/bpc-ID.lock there, and the duplicate was not refused (it
#   waited in virtio_user's accept until the timeout: status 124).
# - A node whose --report-fd reader has gone runs to its end (exit 0) and
#   says once that it writes no more report lines; before, SIGPIPE killed
#   it (status 141) at its first report line.
# Method: two parties on a vhost-mesh in a scratch folder, started with
# --no-load and --idle sleep, each reporting "ready" on its --report-fd;
# the test waits for both ready lines (bounded), starts each party again,
# then stops both with SIGTERM. The same with a cluster file whose port is
# vhost-mesh:mesh (written by bpcon-keygen run in its folder), both parties
# run from working directory A and party 1 started again from B (A and B
# each hold a mesh folder of their own). Then a one-party cluster (its own
# quorum) runs with a report pipe whose reader exited first, until the
# message.
# Usage: node_running.sh BPCON-NODE BPCON-KEYGEN
set -u
node="$1"
keygen="$2"
dir=$(mktemp -d /tmp/bpcon-running-XXXXXX)
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
pids=""
trap 'kill -TERM $pids 2>/dev/null; wait 2>/dev/null; rm -rf "$dir" "$rundir"/bpc-run-$$-*' EXIT
export TMPDIR="$dir"
pass=0
fail=0

check() { # name, want status, got status, output, want text[, extra failure]
    local name="$1" want="$2" got="$3" out="$4" text="$5" extra="${6:-}"
    if [ "$got" -eq "$want" ] && grep -qF -- "$text" <<<"$out" && [ -z "$extra" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: status $got (want $want)${extra:+, $extra}, output:"
        tail -5 <<<"$out" | sed 's/^/    /'
        echo "    (wanted text: $text)"
    fi
}

# Waits (at most 60 s) for both parties' "ready" lines in
# $dir/PREFIXready0 and 1; else says so with their last output and exits.
wait_ready() { # file prefix, who
    local n=0
    for _ in $(seq 600); do
        n=$(cat "$dir/$1ready0" "$dir/$1ready1" 2>/dev/null | grep -c '^ready')
        [ "$n" -eq 2 ] && return 0
        sleep 0.1
    done
    echo "FAIL setup: $2 did not report ready in 60 s"
    tail -3 "$dir/$1out0" "$dir/$1out1"
    exit 1
}

# Stops the running parties (SIGTERM); each must exit 0. Their outputs
# are the files $dir/PREFIX*.
stop_parties() { # name, output file prefix
    kill -TERM $pids
    for p in $pids; do
        wait "$p"
        st=$?
        check "$1-$p" 0 $st "$(cat "$dir"/"$2"*)" ""
    done
    pids=""
}


eal() { # prefix, then the node's own arguments
    local prefix="$1"
    shift
    "$node" --no-huge --no-pci -m 128 --file-prefix="bpc-run-$$-$prefix" \
        --log-level=lib.eal:error -- "$@"
}

mkdir "$dir/mesh"
"$keygen" --parties 2 --out "$dir/k" --cluster "$dir/c.conf" \
    --port "vhost-mesh:$dir/mesh" >/dev/null || exit 1
# Party 1 serves the pair's socket; party 0 connects to it.
for id in 1 0; do
    "$node" --no-huge --no-pci -m 128 --file-prefix="bpc-run-$$-p$id" \
        --log-level=lib.eal:error -- --cluster "$dir/c.conf" --id "$id" --no-load \
        --idle sleep:1000 --report-fd 3 3>"$dir/ready$id" >"$dir/out$id" 2>&1 &
    pids="$pids $!"
done
wait_ready "" "the two parties"
# The virtio_user side (the higher id) is told that the vhost side maps
# its memory; the vhost side is not (review D1: it was said nowhere).
shared="parties 0..0 (the vhost side of their links) can read and write this process's DPDK memory"
grep -qF "$shared" "$dir/out1"
check "mesh-memory-said" 0 $? "$(cat "$dir/out1")" ""
grep -qF "vhost-mesh: parties" "$dir/out0"
check "mesh-memory-vhost-side" 1 $? "$(cat "$dir/out0")" ""
sock="$dir/mesh/bpc-0-1.sock"
before=$(stat -c %i "$sock")
for id in 1 0; do
    out=$(timeout 30 "$node" --no-huge --no-pci -m 128 --file-prefix="bpc-run-$$-dup$id" \
        --log-level=lib.eal:error -- --cluster "$dir/c.conf" --id "$id" --no-load 2>&1)
    st=$?
    after=$(stat -c %i "$sock" 2>/dev/null || echo gone)
    moved=""
    [ "$after" = "$before" ] || moved="socket $sock was $before, now $after"
    check "twice-$id" 1 $st "$out" "party $id is already running on mesh $dir/mesh" "$moved"
done
stop_parties first-stops out

# A relative mesh DIR: one folder for every working directory.
mkdir -p "$dir/rel/mesh" "$dir/A/mesh" "$dir/B/mesh"
(cd "$dir/rel" && "$keygen" --parties 2 --out k --cluster c.conf --port vhost-mesh:mesh \
    >/dev/null) || exit 1
grep -q ' port vhost-mesh:mesh$' "$dir/rel/c.conf"
check "keygen-relative-as-given" 0 $? "$(grep -m1 ' port ' "$dir/rel/c.conf")" ""
for id in 1 0; do
    (cd "$dir/A" && exec "$node" --no-huge --no-pci -m 128 --file-prefix="bpc-run-$$-r$id" \
        --log-level=lib.eal:error -- --cluster "$dir/rel/c.conf" --id "$id" --no-load \
        --idle sleep:1000 --report-fd 3 3>"$dir/rready$id" >"$dir/rout$id" 2>&1) &
    pids="$pids $!"
done
wait_ready r "the two parties on a relative mesh"
out=$(cd "$dir/B" && timeout 30 "$node" --no-huge --no-pci -m 128 \
    --file-prefix="bpc-run-$$-rdup1" --log-level=lib.eal:error -- --cluster "$dir/rel/c.conf" \
    --id 1 --no-load 2>&1)
check "twice-relative-mesh" 1 $? "$out" "party 1 is already running on mesh $dir/rel/mesh"
stop_parties relative-first-stops rout

# The report's reader exits before the node writes its first line. The
# node runs until it is told to stop: wait (bounded) for its message or
# its end, then SIGTERM.
"$keygen" --parties 1 --out "$dir/k1" --cluster "$dir/one.conf" \
    --port "vhost-mesh:$dir/mesh1" >/dev/null || exit 1
exec 4> >(exit 0)
wait $!
"$node" --no-huge --no-pci -m 128 --file-prefix="bpc-run-$$-one" --log-level=lib.eal:error \
    -- --cluster "$dir/one.conf" --id 0 --commands 2000 --idle sleep:1000 --report-fd 4 \
    >/dev/null 2>"$dir/one.err" &
one=$!
pids="$one"
exec 4>&-
for _ in $(seq 600); do
    grep -q 'no more report lines' "$dir/one.err" && break
    kill -0 "$one" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$one" 2>/dev/null
wait "$one"
check report-reader-gone 0 $? "$(cat "$dir/one.err")" \
    "--report-fd 4: Broken pipe; no more report lines"
pids=""
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
