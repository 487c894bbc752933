#!/bin/bash
# Goal: bpcon-node refuses malformed cluster and key files with a
# "FILE:LINE: cause" message and exit status 1, and never crashes or
# hangs (a FIFO as cluster file, key file or --log-out included).
# Method: write one bad file per case into a temp dir, run bpcon-node on it
# (EAL without hugepages or PCI), check the status and the message.
set -u
node="$1"
dir=$(mktemp -d /tmp/bpcon-cf-XXXXXX)
# EAL leaves a runtime dir per --file-prefix (/var/run/dpdk as root).
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
trap 'rm -rf "$dir" "$rundir"/bpc-cf-$$-*' EXIT
pass=0
fail=0

# Key files as bpcon-keygen writes them: mode 0600 (a key file group or
# others can read is refused, a case below).
umask 077
K1=1111111111111111111111111111111111111111111111111111111111111111
K2=2222222222222222222222222222222222222222222222222222222222222222

good_key() { # party N of 2 with one peer
    printf 'party %s\npeer %s %s\n' "$1" "$2" "$K1" > "$dir/$3"
}
good_key 0 1 k0
good_key 1 0 k1

check() { # name, expected "file:line:" prefix, expected text
    local name="$1" want="$2" text="$3"
    local out status
    out=$(timeout 20 "$node" --no-huge --no-pci -m 64 --file-prefix="bpc-cf-$$-$name" \
        --log-level=lib.eal:error -- --cluster "$dir/$name.conf" --id 0 2>&1 >/dev/null)
    status=$?
    if [ "$status" -eq 1 ] && grep -q -- "$want" <<<"$out" && grep -q -- "$text" <<<"$out"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: status $status, output: $out"
    fi
}

case_file() { # name, contents
    printf '%b' "$2" > "$dir/$1.conf"
}

P0="party 0 weight 1 mac 02:00:00:00:00:00 key k0 port port:0"
P1="party 1 weight 1 mac 02:00:00:00:00:01 key k1 port port:0"

case_file no_id "$P0\n$P1\n"
check no_id "no_id.conf:2:" "no cluster_id"
case_file bad_kw "cluster_id 1\nbogus 3\n$P0\n"
check bad_kw "bad_kw.conf:2:" "unknown keyword"
# An unknown keyword alone, or with two values, is named as unknown with
# the known ones (before review B6: "'foo' takes exactly one value"); a
# known one without its value takes exactly one.
case_file kw_alone "cluster_id 1\nfoo\n$P0\n"
check kw_alone "kw_alone.conf:2:" "unknown keyword 'foo' (cluster_id, threshold, party)"
case_file kw_two "cluster_id 1\nfoo 1 2\n$P0\n"
check kw_two "kw_two.conf:2:" "unknown keyword 'foo' (cluster_id, threshold, party)"
case_file id_alone "cluster_id\n$P0\n"
check id_alone "id_alone.conf:1:" "'cluster_id' takes exactly one value"
case_file bad_mac "cluster_id 1\nparty 0 weight 1 mac 02:00:zz:00:00:00 key k0 port port:0\n"
check bad_mac "bad_mac.conf:2:" "mac"
case_file mcast "cluster_id 1\nparty 0 weight 1 mac 01:00:00:00:00:00 key k0 port port:0\n"
check mcast "mcast.conf:2:" "multicast"
case_file dup "cluster_id 1\n$P0\n# comment\n$P0\n"
check dup "dup.conf:4:" "defined twice"
case_file gap "cluster_id 1\n$P0\nparty 2 weight 1 mac 02:00:00:00:00:02 key k1 port port:0\n"
check gap "gap.conf:3:" "party 1 missing"
case_file weight "cluster_id 1\nparty 0 weight -3 mac 02:00:00:00:00:00 key k0 port port:0\n"
check weight "weight.conf:2:" "weight"
# A weight of 2^64 is a number, too large: said so (before, review V1:
# "is not a decimal number in 0..18446744073709551615").
case_file weight64 "cluster_id 1\nparty 0 weight 18446744073709551616 mac 02:00:00:00:00:00 key k0 port port:0\n"
check weight64 "weight64.conf:2:" "weight '18446744073709551616' is above 18446744073709551615, the largest it takes"
case_file big "cluster_id 99999999999999999999999\n"
check big "big.conf:1:" "cluster_id"
case_file odd "cluster_id 1\nparty 0 weight 1 mac\n"
check odd "odd.conf:2:" "expected"
case_file nokey "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00\n"
check nokey "nokey.conf:2:" "needs both mac and key"
case_file samemac "cluster_id 1\n$P0\nparty 1 weight 1 mac 02:00:00:00:00:00 key k1 port port:0\n"
check samemac "samemac.conf:3:" "share a mac"
case_file long "cluster_id 1 $(head -c 2000 /dev/zero | tr '\0' 'x')\n"
check long "long.conf:1:" "longer than"
printf 'party 0\npeer 1 abcd\n' > "$dir/kbad"
case_file badkey "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kbad port port:0\n$P1\n"
check badkey "kbad:2:" "hex digits"
printf 'party 0\n' > "$dir/kmiss"
case_file keymiss "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kmiss port port:0\n$P1\n"
check keymiss "kmiss:1:" "no key for peer 1"
# A --cluster that names no file is a bad flag: a usage error, before EAL
# (review B5; before, "missing_file.conf:0: cannot open" after EAL, exit 1).
out=$(timeout 20 "$node" -- --cluster "$dir/missing_file.conf" --id 0 2>&1)
status=$?
if [ "$status" -eq 2 ] && grep -qF -- "--cluster '$dir/missing_file.conf': No such file" <<<"$out" &&
    ! grep -q "EAL" <<<"$out"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL missing_file: status $status, output: $out"
fi
# Semantic errors, each at its own line.
case_file weight0 "cluster_id 1\nparty 0 weight 0 mac 02:00:00:00:00:00 key k0 port port:0\n$P1\n"
check weight0 "weight0.conf:2:" "weight 0"
case_file twoid "cluster_id 1\n$P0\ncluster_id 2\n$P1\n"
check twoid "twoid.conf:3:" "cluster_id given twice (first on line 1)"
case_file twoattr "cluster_id 1\nparty 0 weight 1 weight 5 mac 02:00:00:00:00:00 key k0 port port:0\n$P1\n"
check twoattr "twoattr.conf:2:" "attribute 'weight' given twice"
case_file twothr "cluster_id 1\nthreshold 2\nthreshold 2\n$P0\n$P1\n"
check twothr "twothr.conf:3:" "threshold given twice"
case_file thrlow "cluster_id 1\nthreshold 1\n$P0\n$P1\n"
check thrlow "thrlow.conf:2:" "threshold 1 outside"
case_file thrhigh "cluster_id 1\n$P0\n$P1\nthreshold 3\n"
check thrhigh "thrhigh.conf:4:" "threshold 3 outside"
case_file noport "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key k0\n$P1\n"
check noport "noport.conf:2:" "needs a port"
case_file badport "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key k0 port ring\n$P1\n"
check badport "badport.conf:2:" "unknown port spec 'ring'"
case_file bigport "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key k0 port port:70000\n$P1\n"
check bigport "bigport.conf:2:" "port number"
printf 'party 0\npeer 1 %s\npeer 5 %s\n' "$K1" "$K2" > "$dir/kfar"
case_file keyfar "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kfar port port:0\n$P1\n"
check keyfar "kfar:3:" "peer 5 is not a party of the cluster file"
# A key file others can read, a zero key and one key for two peers are
# refused (before, review P2's F2: all three loaded without a word).
good_key 0 1 kopen
chmod 0644 "$dir/kopen"
case_file keyopen "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kopen port port:0\n$P1\n"
check keyopen "kopen:0:" "mode 0644 lets group or others read or write the keys (chmod 600"
printf 'party 0\npeer 1 %s\n' 0000000000000000000000000000000000000000000000000000000000000000 > "$dir/kzero"
case_file keyzero "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kzero port port:0\n$P1\n"
check keyzero "kzero:2:" "key of peer 1 is all zeros"
printf 'party 0\npeer 1 %s\npeer 2 %s\n' "$K1" "$K1" > "$dir/krep"
P2="party 2 weight 1 mac 02:00:00:00:00:02 key k1 port port:0"
case_file keyrep "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key krep port port:0\n$P1\n$P2\n"
check keyrep "krep:3:" "key of peer 2 repeats peer 1's: every pair has its own key"

# A NUL byte hides the rest of its line from a C string: refused at its
# line, not read up to the NUL (which would accept all of these).
case_file nul_id "cluster_id 1\0garbage\n$P0\n$P1\n"
check nul_id "nul_id.conf:1:" "line holds a NUL byte"
case_file nul_port "cluster_id 1\n$P0\0 weight 0\n$P1\n"
check nul_port "nul_port.conf:2:" "line holds a NUL byte"
case_file nul_thr "cluster_id 1\nthreshold 2\0 99\n$P0\n$P1\n"
check nul_thr "nul_thr.conf:2:" "line holds a NUL byte"
printf 'party 0\npeer 1 %s\0junk\n' "$K1" > "$dir/knul"
case_file keynul "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key knul port port:0\n$P1\n"
check keynul "knul:2:" "line holds a NUL byte"
# A UTF-8 byte order mark is named, not an "unknown keyword 'cluster_id'"
# whose first bytes the message cannot show.
case_file bom "\0357\0273\0277cluster_id 1\n$P0\n$P1\n"
check bom "bom.conf:1:" "starts with a UTF-8 byte order mark"
printf '\357\273\277party 0\npeer 1 %s\n' "$K1" > "$dir/kbom"
case_file keybom "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kbom port port:0\n$P1\n"
check keybom "kbom:1:" "starts with a UTF-8 byte order mark"
# A folder where a file should be: the cause, not a bare "read error".
mkdir "$dir/folder.conf" "$dir/kfolder"
check folder "folder.conf:0:" "not a regular file (a directory)"
case_file keyfolder "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kfolder port port:0\n$P1\n"
check keyfolder "kfolder:0:" "not a regular file (a directory)"
# Whole-file refusals point at a party's own line, not at the last line.
case_file samemac_early "cluster_id 1\n$P1\nparty 0 weight 1 mac 02:00:00:00:00:01 key k0 port port:0\n# end\nthreshold 2\n"
check samemac_early "samemac_early.conf:3:" "parties 1 and 0 share a mac (party 1 on line 2)"
case_file gap_early "cluster_id 1\n$P0\nparty 2 weight 1 mac 02:00:00:00:00:02 key k1 port port:0\n# end\nthreshold 2\n"
check gap_early "gap_early.conf:3:" "party 1 missing (party 2, on this line, needs ids 0..2)"

# vhost-mesh:DIR: DIR/bpc-LO-HI.sock must fit a unix socket path (107
# bytes), so DIR is at most 88 bytes; and one port per peer (32 ports) is
# at most 33 parties. Both at the party's own line.
longdir="/$(head -c 88 /dev/zero | tr '\0' 'd')"
case_file meshdir "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key k0 port vhost-mesh:$longdir\n$P1\n"
check meshdir "meshdir.conf:2:" "DIR is 89 bytes, at most 88"
# A relative DIR is taken from the cluster file's folder (as key paths
# are), and measured there: 70 bytes alone, 91 under this test's folder
# (/tmp/bpcon-cf-XXXXXX/, 21 bytes). Before, it was accepted as 70 bytes
# and then used from the node's working directory.
reldir="$(head -c 70 /dev/zero | tr '\0' 'r')"
case_file relmesh "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key k0 port vhost-mesh:$reldir\n$P1\n"
check relmesh "relmesh.conf:2:" "port 'vhost-mesh:$dir/$reldir': DIR is 91 bytes, at most 88"
check relmesh "relmesh.conf:2:" "(relative DIR '$reldir' is taken from the cluster file's folder)"
mesh=""
for i in $(seq 0 33); do
    mesh+="party $i mac 02:00:00:00:01:$(printf %02x "$i") key k0 port vhost-mesh:/tmp/m\n"
done
case_file mesh34 "cluster_id 1\n$mesh"
check mesh34 "mesh34.conf:2:" "party 0: a vhost-mesh cluster has at most 33 parties (one port per peer, 32 ports), this one 34"

# A FIFO where a file should be is refused, not read (the read, or the
# open, blocked for good): the cluster file (exit 1, before EAL), a key
# file (exit 1, after EAL), and --log-out (exit 2, before EAL). Each under a timeout.
mkfifo "$dir/fifo.conf" "$dir/kfifo" "$dir/logfifo"
check fifo "fifo.conf:0:" "not a regular file (a FIFO)"
case_file keyfifo "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key kfifo port port:0\n$P1\n"
check keyfifo "kfifo:0:" "not a regular file (a FIFO)"
case_file logfifo "cluster_id 1\n$P0\n$P1\n"
out=$(timeout 20 "$node" -- --cluster "$dir/logfifo.conf" --id 0 --log-out "$dir/logfifo" 2>&1)
status=$?
if [ "$status" -eq 2 ] && grep -qF -- "--log-out '$dir/logfifo': $dir/logfifo: not a regular file" <<<"$out"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL logfifo: status $status, output: $out"
fi

# A key file that is the store's temporary file (--store S, key S.tmp):
# refused at start naming it (exit 1); the store's open removed it.
good_key 0 1 st.tmp
case_file keytmp "cluster_id 1\nparty 0 weight 1 mac 02:00:00:00:00:00 key st.tmp port port:0\n$P1\n"
out=$(timeout 20 "$node" --no-huge --no-pci -m 64 --file-prefix="bpc-cf-$$-keytmp" \
    --log-level=lib.eal:error -- --cluster "$dir/keytmp.conf" --id 0 --store "$dir/st" 2>&1)
status=$?
if [ "$status" -eq 1 ] && grep -qF -- "st.tmp is the store's temporary file" <<<"$out" &&
    [ -s "$dir/st.tmp" ]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL keytmp: status $status, st.tmp $(ls "$dir/st.tmp" 2>&1), output: $out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
