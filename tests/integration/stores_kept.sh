#!/bin/bash
# Goal: no invocation that is refused or fails destroys a file it did not
# create: bpcon-node's --log-out never names its own store, cluster file or
# key file, and a run that fails leaves an earlier run's logs as they were;
# bpcon-cluster --store-dir refuses a directory that already holds a
# party's store instead of removing it, and a run that fails keeps the
# folder it made.
# Method: files with known bytes, the refused or failing invocations, then
# the status, the message and the bytes (cmp).
# Usage: stores_kept.sh BPCON-NODE BPCON-CLUSTER
set -u
node="$1"
cluster="$2"
dir=$(mktemp -d /tmp/bpcon-kept-XXXXXX)
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
trap 'rm -rf "$dir" "$rundir"/bpc-kept-$$-*' EXIT
export TMPDIR="$dir"
pass=0
fail=0

check() { # name, want status, got status, output, want text, files that must be unchanged
    local name="$1" want="$2" got="$3" out="$4" text="$5"
    shift 5
    local bad=""
    for f in "$@"; do
        cmp -s "$f" "$f.orig" || bad="$bad $f"
    done
    if [ "$got" -eq "$want" ] && grep -qF -- "$text" <<<"$out" && [ -z "$bad" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: status $got (want $want), changed:${bad:- none}, output:"
        head -5 <<<"$out" | sed 's/^/    /'
        echo "    (wanted text: $text)"
    fi
}

keep() { # path, bytes: a file and its reference copy
    printf '%s' "$2" >"$1"
    cp "$1" "$1.orig"
}

eal() { # the node with EAL arguments and its own
    local prefix="$1"
    shift
    "$node" --no-huge --no-pci -m 64 --file-prefix="bpc-kept-$$-$prefix" \
        --log-level=lib.eal:error -- "$@" 2>&1
}

# --log-out naming the store (also through another spelling): refused
# before anything is opened or written.
keep "$dir/s1" "votes of an earlier run"
out=$("$node" -- --cluster "$dir/none.conf" --id 0 --store "$dir/s1" --log-out "$dir/s1" 2>&1)
check same-store 2 $? "$out" "is the same file as --store" "$dir/s1"
out=$("$node" -- --cluster "$dir/none.conf" --id 0 --store "$dir/s1" \
    --log-out "$dir/./s1" 2>&1)
check same-store-spelling 2 $? "$out" "is the same file as --store" "$dir/s1"
# ... also when neither exists yet: the refusal leaves no file behind (an
# empty one at the --store path was refused as a damaged store by the next,
# correct start).
for pair in "s2 s2" "s3.decided s3"; do
    set -- $pair
    out=$("$node" -- --cluster "$dir/none.conf" --id 0 --store "$dir/$1" --log-out "$dir/$2" 2>&1)
    st=$?
    left=$(cd "$dir" && ls s2 s2.decided s3 s3.decided 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || out="$out
files left behind: $left"
    [ -z "$left" ] || st=99
    check "same-store-new-$1" 2 $st "$out" "is the same file as --store"
done
keep "$dir/c.conf" "cluster_id 1"
out=$("$node" -- --cluster "$dir/c.conf" --id 0 --log-out "$dir/c.conf" 2>&1)
check same-cluster 2 $? "$out" "is the same file as --cluster" "$dir/c.conf"

# A run refused for an --id not in the cluster keeps the earlier logs. The
# cluster file is read before EAL: a usage error (before review B5, found
# after EAL: exit 1).
keep "$dir/log" "an earlier run's log"
keep "$dir/log.decided" "an earlier run's decided log"
printf 'party 0\npeer 1 %064d\n' 1 >"$dir/k0"
chmod 600 "$dir/k0"
printf 'cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key %s port port:0\n' \
    "$dir/k0" >"$dir/one.conf"
printf 'party 1 weight 1 mac 02:00:00:00:00:01 key %s port port:0\n' "$dir/k0" >>"$dir/one.conf"
out=$(eal fail --cluster "$dir/one.conf" --id 5 --log-out "$dir/log")
check failed-run 2 $? "$out" "--id '5': id 5 is not in the cluster (parties 0..1)" "$dir/log" "$dir/log.decided"

# --log-out naming this party's key file (known once the cluster file is
# read): refused, the key kept.
# The refusal leaves no file it created behind: before (review B6), the
# check before EAL had made an empty k0.decided, which stayed.
cp "$dir/k0" "$dir/k0.orig"
out=$(eal key --cluster "$dir/one.conf" --id 0 --log-out "$dir/k0")
st=$?
if [ -e "$dir/k0.decided" ]; then
    out="$out
file left behind: k0.decided"
    st=99
fi
check same-key 1 $st "$out" "is the same file as the key file" "$dir/k0"

# bpcon-cluster --store-dir holding a party's store: refused, kept.
mkdir "$dir/stores"
keep "$dir/stores/store-0" "party 0's votes"
out=$("$cluster" --parties 1 --commands 10 --store-dir "$dir/stores" 2>&1)
check cluster-store-dir 1 $? "$out" "store-0 exists" "$dir/stores/store-0"

# A run that fails keeps the folder it made, named: interrupted (SIGINT
# once both parties' stores exist), it exits 1 and the stores are there.
# Before (review O3), a run that failed a check or was interrupted removed
# its stores (and a virtio run its node logs) before the checks were
# judged. (tests/cli/cluster.table: the same for a run whose result
# could not be written.)
"$cluster" --parties 2 --commands 100000 --rate 1000 --no-fsync --idle sleep:100 \
    >"$dir/int.out" 2>&1 &
pid=$!
for _ in $(seq 200); do # 20 s at most, and only while the run lives
    ls "$dir"/bpcon-cluster-*/store-1 >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -INT "$pid" 2>/dev/null
for _ in $(seq 200); do # the interrupted run ends within 20 s, or fails
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -KILL "$pid" 2>/dev/null && echo "bpcon-cluster did not end within 20 s of SIGINT" >>"$dir/int.out"
wait "$pid"
st=$?
out=$(cat "$dir/int.out")
kept=$(sed -n 's/^bpcon-cluster: stores kept: //p' <<<"$out")
if [ -z "$kept" ] || [ ! -e "$kept/store-0" ] || [ ! -e "$kept/store-1" ]; then
    out="$out
no kept folder with both stores"
    st=99
fi
check cluster-interrupted-kept 1 $st "$out" "stores kept: $dir/bpcon-cluster-"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
