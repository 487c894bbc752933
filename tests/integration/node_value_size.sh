#!/bin/sh
# A bpcon-node wrapper for bpcon-cluster --node: party 3 runs with
# --value-size 1016 (1016-byte commands) while the others keep the size
# bpcon-cluster passes (64 by default). Every party must still apply every
# command: before, each party's largest value followed its own
# --value-size, so the others could not hold party 3's values, never
# applied its commands, and the cluster changed leaders until the deadline.
# Usage (from meson): BPC_REAL_NODE=path/to/bpcon-node, then as --node.
case " $* " in
*" --id=3 "*)
    out=""
    for a in "$@"; do
        case "$a" in
        --value-size=*) a="--value-size=1016" ;;
        esac
        out="$out $a"
    done
    # The flags bpcon-cluster passes hold no spaces (paths under its run
    # directory), so word splitting rebuilds them as they were.
    # shellcheck disable=SC2086
    exec "$BPC_REAL_NODE" $out
    ;;
esac
exec "$BPC_REAL_NODE" "$@"
