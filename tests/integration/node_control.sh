#!/bin/bash
# Goal: bpcon-node acts on a --control-fd line however its bytes arrive.
# - "go" written as 'g', then (once the node has read it) 'o\n' starts the
#   load: the node keeps a line's bytes across reads. Before, each read was
#   split into lines on its own, "g" and "o" were two unknown lines, and
#   the load never started.
# - A line of 300 bytes (more than the 255 a line may hold) is refused in
#   the log, naming the limit, and discarded up to its newline; an unknown
#   line is named in the log as ignored. Before, both went unsaid.
# - Without --store the start-up log lines say the store is in memory
#   only, not durable (before: "store (caller's persist hook)").
# - "adopt ID" for this party itself or for a party outside the cluster is
#   named in the log as ignored. Before (review B6), the log said the party
#   adopted it, though the load ignores such an ID.
# Method: a one-party cluster (its own quorum) with --wait-go, --idle
# sleep and its --control-fd on a FIFO. Python writes each piece and waits
# until the node has read it (FIONREAD on the FIFO is 0) before the next,
# so the pieces reach the node in separate reads; then it waits (bounded:
# a failure bound, not a timing assumption) for the log line or for a
# progress line with done=1.
# Usage: node_control.sh BPCON-NODE BPCON-KEYGEN
set -u
node="$1"
keygen="$2"
dir=$(mktemp -d /tmp/bpcon-control-XXXXXX)
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir" "$rundir"/bpc-ctl-$$' EXIT
mkdir "$dir/mesh"
"$keygen" --parties 1 --out "$dir/k" --cluster "$dir/one.conf" \
    --port "vhost-mesh:$dir/mesh" >/dev/null || exit 1
mkfifo "$dir/ctl"
exec 5<>"$dir/ctl" # read-write: the node's end never sees EOF
"$node" --no-huge --no-pci -m 128 --file-prefix="bpc-ctl-$$" --log-level=lib.eal:error -- \
    --cluster "$dir/one.conf" --id 0 --commands 100 --idle sleep:1000 --wait-go \
    --control-fd 5 --report-fd 3 3>"$dir/report" >"$dir/out" 2>&1 &
pid=$!
exec 5>&-
python3 - "$dir" <<'PY'
import fcntl, os, struct, sys, termios, time
d = sys.argv[1]
BOUND = 30.0  # seconds: how long a failing case takes to say so
failed = 0


def text(name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read()
    except OSError:
        return ""


def wait_for(what, pred):
    end = time.monotonic() + BOUND
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    print("FAIL: %s within %d s; node output:" % (what, BOUND))
    print("".join("    " + l + "\n" for l in text("out").splitlines()[-5:]), end="")
    return False


ctl = os.open(os.path.join(d, "ctl"), os.O_WRONLY)


def unread():
    return struct.unpack("i", fcntl.ioctl(ctl, termios.FIONREAD, b"\0" * 4))[0]


def send(piece):
    os.write(ctl, piece)
    return wait_for("the node reads %r" % piece[:16], lambda: unread() == 0)


if not wait_for("a ready line", lambda: "ready" in text("report")):
    sys.exit(1)
# Without --store the start-up lines say the votes are in memory only
# (before review B6: "store (caller's persist hook)").
for want in ("store in memory only (no store_path, no persist hook): NOT durable",
             "party 0: no --store: the votes are kept in memory only"):
    if want not in text("out"):
        print("FAIL: start-up line %r missing; node output:" % want)
        print("".join("    " + l + "\n" for l in text("out").splitlines()[:8]), end="")
        failed += 1
cases = [
    ([b"x" * 300 + b"\n"], "a line longer than 255 bytes ('xxxx"),
    ([b"hello\n"], "line 'hello' ignored: expected \"go\" or \"adopt ID\""),
    ([b"adopt 0\n"], "line 'adopt 0' ignored: party 0 is this party"),
    ([b"adopt 5\n"], "line 'adopt 5' ignored: party 5 is not in the cluster"),
]
for pieces, want in cases:
    ok = all(send(p) for p in pieces) and wait_for(
        "log line %r" % want, lambda: want in text("out"))
    failed += 0 if ok else 1
# An adoption the load ignores is never logged as one (the refusal above is
# logged in its place, so by now it would be there).
if "adopts the commands of party" in text("out"):
    print("FAIL: an adoption of this party or of a party outside the cluster was logged")
    failed += 1
# One "go" line in two reads.
done = lambda: any(l.startswith("progress") and " done=1 " in l for l in text("report").splitlines())
if not (send(b"g") and send(b"o\n") and wait_for("progress done=1 after 'g' + 'o\\n'", done)):
    failed += 1
elif "line 'g'" in text("out") or "line 'o'" in text("out"):
    print("FAIL: 'g' or 'o' taken as a line of its own")
    failed += 1
print("%d passed, %d failed" % (len(cases) + 4 - failed, failed))
sys.exit(1 if failed else 0)
PY
st=$?
kill -TERM $pid
wait $pid
node_st=$?
pid=""
if [ "$node_st" -ne 0 ]; then
    echo "FAIL: the node exited $node_st (want 0)"
    tail -5 "$dir/out"
    exit 1
fi
exit $st
