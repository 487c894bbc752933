#!/bin/bash
# Goal: bpcon-keygen never overwrites keys it did not just draw, and every
# key file it writes is mode 0600, even where an older file was readable.
# Method: write keys into a temp dir; a second run into it must fail
# (exit 1, naming the file) and leave every file byte for byte as it was;
# --force, after one key file was made world-readable, replaces them all
# with new keys, each mode 0600, and the cluster file too. Flag values a
# cli table cannot spell (empty, with blanks or a newline) are refused.
# Usage: keygen_files.sh BPCON-KEYGEN [BPCON-NODE]
set -u
keygen="$1"
node="${2:-}"
dir=$(mktemp -d /tmp/bpcon-kg-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail=0
check() { # description, condition exit status
    if [ "$2" -ne 0 ]; then
        echo "FAIL: $1"
        fail=1
    fi
}
modes_ok() {
    for f in "$dir"/k/party-*.key; do
        [ "$(stat -c %a "$f")" = 600 ] || return 1
    done
}

"$keygen" --parties 3 --out "$dir/k" --cluster "$dir/k/c.conf" --port port:0 >/dev/null
check "first run writes the keys" $?
modes_ok
check "first run: every key file mode 0600" $?
sums=$(cd "$dir/k" && sha256sum party-*.key c.conf)

out=$("$keygen" --parties 3 --out "$dir/k" --cluster "$dir/k/c.conf" --port port:0 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "c.conf exists" <<<"$out" && grep -q -- "--force" <<<"$out"
check "second run refused with exit 1 naming c.conf (got $rc: $out)" $?
[ "$(cd "$dir/k" && sha256sum party-*.key c.conf)" = "$sums" ]
check "second run left every file as it was" $?

out=$("$keygen" --parties 2 --out "$dir/k" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "party-0.key exists" <<<"$out" && grep -q -- "--force" <<<"$out" &&
    [ "$(cd "$dir/k" && sha256sum party-*.key c.conf)" = "$sums" ]
check "keys alone: refused naming party-0.key, nothing changed (got $rc: $out)" $?

out=$("$keygen" --parties 3 --out "$dir/k2" --cluster "$dir/k/c.conf" --port port:0 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "c.conf exists" <<<"$out" && [ ! -e "$dir/k2/party-0.key" ]
check "an existing cluster file refused before any key is written (got $rc: $out)" $?

chmod 0644 "$dir/k/party-1.key"
"$keygen" --parties 3 --out "$dir/k" --cluster "$dir/k/c.conf" --port port:0 --force >/dev/null
check "--force replaces them" $?
modes_ok
check "--force: every key file mode 0600, the once readable one too" $?
for f in party-0.key party-1.key party-2.key; do
    [ "$(cd "$dir/k" && sha256sum "$f")" != "$(grep " $f\$" <<<"$sums")" ]
    check "--force drew new keys for $f" $?
done
# --force checks everything before it replaces anything: a cluster file
# that cannot be created fails the run with every old file as it was, no
# temporary file left (before: the three key files were removed first,
# then the run failed, and c.conf named keys that were gone).
sums=$(cd "$dir/k" && sha256sum party-*.key c.conf)
out=$("$keygen" --parties 3 --out "$dir/k" --cluster "$dir/nonexistent/c.conf" --port port:0 \
    --force 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -qF -- "--cluster '$dir/nonexistent/c.conf': cannot create" <<<"$out"
check "--force with a cluster file that cannot be created refused (got $rc: $out)" $?
now=$(cd "$dir/k" && sha256sum party-*.key c.conf 2>&1)
[ "$now" = "$sums" ]
check "--force refused: every old file as it was (now: $now)" $?
[ -z "$(ls -A "$dir/k" | grep -v '^party-[0-2]\.key$' | grep -v '^c\.conf$')" ]
check "--force refused: no temporary file left ($(ls -A "$dir/k"))" $?
# --force that works leaves no temporary file either.
"$keygen" --parties 3 --out "$dir/k" --cluster "$dir/k/c.conf" --port port:0 --force >/dev/null
check "--force again" $?
[ "$(ls -A "$dir/k" | tr '\n' ' ')" = "c.conf party-0.key party-1.key party-2.key " ]
check "--force: only the keys and the cluster file ($(ls -A "$dir/k"))" $?
# Values a table cannot hold (empty, blanks, a newline): each refused with
# exit 2 naming the flag, and nothing written. A newline in --port would
# have added a line of its own to the cluster file.
refused() { # description, wanted text, args...
    local what="$1" text="$2"
    shift 2
    out=$(cd "$dir" && "$keygen" "$@" 2>&1)
    rc=$?
    [ "$rc" -eq 2 ] && grep -qF -- "$text" <<<"$out" && [ ! -e "$dir/kv" ]
    check "$what refused with exit 2 naming it (got $rc: $out)" $?
}
refused "--port ''" "--port: unknown port spec ''" \
    --parties 2 --out kv --cluster kv/c.conf --port ""
refused "--port with a blank" "--port: port 'vhost-mesh:/a b': holds a blank" \
    --parties 2 --out kv --cluster kv/c.conf --port "vhost-mesh:/a b"
refused "--port with a newline" "holds a blank, '#' or control byte" \
    --parties 2 --out kv --cluster kv/c.conf --port $'port:0\nthreshold 1'
refused "--out ''" "--out '': expected a folder path" --parties 2 --out ""

# The cluster id: random by default (a store of another cluster names
# another id, and is refused), as given with --cluster-id.
id_of() { sed -n 's/^cluster_id //p' "$1"; }
"$keygen" --parties 2 --out "$dir/ia" --cluster "$dir/ia/c.conf" --port port:0 >/dev/null &&
    "$keygen" --parties 2 --out "$dir/ib" --cluster "$dir/ib/c.conf" --port port:0 >/dev/null &&
    "$keygen" --parties 2 --out "$dir/ic" --cluster "$dir/ic/c.conf" --port port:0 \
        --cluster-id 7 >/dev/null
check "three clusters written" $?
a=$(id_of "$dir/ia/c.conf")
b=$(id_of "$dir/ib/c.conf")
[ -n "$a" ] && [ "$a" != "$b" ] && [ "$a" != 1 ] && [ "$b" != 1 ]
check "two clusters without --cluster-id get different ids, not 1 (got '$a', '$b')" $?
[ "$(id_of "$dir/ic/c.conf")" = 7 ]
check "--cluster-id 7 is written as given" $?

# A cluster file outside --out names the key files where they are (their
# absolute path); one inside --out names them beside it (the folder can be
# moved whole). With NODE given, bpcon-node reads the keys back: it gets
# past the key files to the port (no port:0 without a --vdev).
mkdir "$dir/other"
"$keygen" --parties 2 --out "$dir/ko" --cluster "$dir/other/c.conf" --port port:0 >/dev/null
check "a cluster file outside --out written" $?
grep -q "key $dir/ko/party-1.key port" "$dir/other/c.conf"
rc=$?
check "outside --out: the key paths lead to --out ($(grep -m1 ' key ' "$dir/other/c.conf"))" $rc
(cd "$dir" && "$keygen" --parties 2 --out kr --cluster cr.conf --port port:0 >/dev/null)
check "a relative --cluster outside a relative --out written" $?
grep -q "key $dir/kr/party-0.key port" "$dir/cr.conf"
rc=$?
check "relative paths: the key paths lead to --out ($(grep -m1 ' key ' "$dir/cr.conf"))" $rc
grep -q " key party-0.key port" "$dir/ia/c.conf"
check "inside --out: key paths beside the cluster file" $?
# A relative --port vhost-mesh DIR is taken from the working directory, as
# --out is; bpcon-node takes a relative DIR from the cluster file's folder,
# so the file names it as given when it lies in the working directory, and
# by its absolute path elsewhere. One too long as an absolute path (80
# bytes, 101 under this test's folder) is refused (exit 1), nothing
# written. Before, DIR went into the file as given in all three cases.
(cd "$dir" && "$keygen" --parties 2 --out km1 --cluster other/cm.conf --port vhost-mesh:mesh \
    >/dev/null)
check "a relative mesh DIR with the cluster file elsewhere written" $?
grep -q " port vhost-mesh:$dir/mesh\$" "$dir/other/cm.conf"
rc=$?
check "elsewhere: the mesh DIR by its absolute path ($(grep -m1 ' port ' "$dir/other/cm.conf"))" $rc
(cd "$dir" && "$keygen" --parties 2 --out km2 --cluster cm.conf --port vhost-mesh:mesh >/dev/null)
check "a relative mesh DIR with the cluster file in the working directory written" $?
grep -q " port vhost-mesh:mesh\$" "$dir/cm.conf"
rc=$?
check "in the working directory: the mesh DIR as given ($(grep -m1 ' port ' "$dir/cm.conf"))" $rc
long="$(head -c 80 /dev/zero | tr '\0' 'm')"
out=$(cd "$dir" && "$keygen" --parties 2 --out km3 --cluster other/cl.conf \
    --port "vhost-mesh:$long" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -qF "names a relative DIR by its absolute path: port 'vhost-mesh:$dir/$long': DIR is 101 bytes, at most 88" <<<"$out" &&
    [ ! -e "$dir/other/cl.conf" ] && [ ! -e "$dir/km3" ]
check "a relative mesh DIR too long as an absolute path refused, nothing written (got $rc: $out)" $?
# An --out whose absolute path holds a blank or '#' cannot be named in the
# cluster file (its words are split on blanks, '#' starts a comment): with
# --cluster outside it, refused (exit 1), nothing written; before, the
# file was written and bpcon-node could not parse it.
for bad in "my keys" "o#3"; do
    "$keygen" --parties 2 --out "$dir/$bad" --cluster "$dir/bad.conf" --port port:0 \
        >/dev/null 2>"$dir/bad.err"
    rc=$?
    [ "$rc" -eq 1 ] && [ ! -e "$dir/bad.conf" ] && grep -q "blank, '#'" "$dir/bad.err"
    check "--out '$bad' with --cluster outside it refused (got $rc: $(cat "$dir/bad.err"))" $?
done
if [ -n "$node" ]; then
    rundir=/var/run/dpdk
    [ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
    for conf in "$dir/other/c.conf" "$dir/cr.conf" "$dir/ia/c.conf"; do
        out=$(cd / && timeout 20 "$node" --no-huge --no-pci -m 64 --file-prefix="bpc-kg-$$" \
            --log-level=lib.eal:error -- --cluster "$conf" --id 1 2>&1)
        rc=$?
        rm -rf "$rundir/bpc-kg-$$"
        [ "$rc" -eq 1 ] && grep -q "port spec 'port:0': no such port" <<<"$out"
        ok=$?
        check "bpcon-node reads the keys of $conf (got $rc: $(tail -1 <<<"$out"))" $ok
    done
fi

[ "$fail" -eq 0 ] && echo "keygen files: all checks passed"
exit "$fail"
