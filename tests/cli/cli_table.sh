#!/bin/bash
# Goal: a program's command line contract: every bad flag, value or
# target is refused with exit 2 and a message naming the flag and the value
# (and the allowed range), as is a flag that takes one value given twice;
# --help and --version exit 0 without doing work; output that cannot be
# written fails the program.
# Method: a table, one case a line: EXIT<TAB>TEXT<TAB>ARGS (ARGS split on
# blanks, a word '' is an empty argument; TEXT must appear in
# stdout+stderr; '#' lines are comments; @WORK@ in ARGS or TEXT is the
# run's scratch directory, also its TMPDIR). A last word '>/dev/full'
# sends the program's stdout to /dev/full, where every write fails (its
# output cannot be written: the program must fail); TEXT must then appear
# in stderr. A last word '>closed-pipe' sends it to a pipe whose reader
# is gone before the program starts (every write fails with EPIPE, and
# SIGPIPE, unless ignored, kills the program: exit 141). A last word
# 5<PATH or 5>PATH opens PATH as the program's descriptor 5, for reading
# or for writing. A line
# !<TAB>COMMAND runs COMMAND with bash in the scratch directory first (to
# set up a FIFO or a link the next cases meet); it is not a case, and its
# failure fails the table.
# Usage: cli_table.sh PROGRAM TABLE
set -u
prog="$1"
table="$2"
pass=0
fail=0
work=$(mktemp -d /tmp/bpc-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
# What a case leaves behind on purpose (a failed bpcon-cluster run keeps
# its run directory for inspection) stays under the work directory.
export TMPDIR="$work"
fd5_re='^5([<>])(.+)$'
while IFS=$'\t' read -r want text args; do
    case "$want" in '' | '#'*) continue ;; esac
    if [ "$want" = "!" ]; then
        cmd="$text${args:+	$args}"
        if ! (cd "$work" && bash -c "${cmd//@WORK@/$work}") </dev/null; then
            fail=$((fail + 1))
            echo "FAIL: setup command: $cmd"
        fi
        continue
    fi
    args=${args//@WORK@/$work}
    text=${text//@WORK@/$work}
    # ARGS split on blanks (no glob expansion), '' made an empty argument.
    IFS=$' \t' read -r -a words <<<"$args"
    for i in "${!words[@]}"; do
        [ "${words[$i]}" = "''" ] && words[i]=""
    done
    n=${#words[@]}
    if [ "$n" -gt 0 ] && [ "${words[n - 1]}" = ">/dev/full" ]; then
        unset 'words[n - 1]'
        out=$(cd "$work" && timeout 20 "$prog" "${words[@]}" 2>&1 >/dev/full)
        got=$?
    elif [ "$n" -gt 0 ] && [ "${words[n - 1]}" = ">closed-pipe" ]; then
        unset 'words[n - 1]'
        # A FIFO opened read-write (no wait for a reader), then for
        # writing, then the read-write end closed: no reader is left.
        rm -f "$work/.closed-pipe"
        mkfifo "$work/.closed-pipe"
        exec {rw}<>"$work/.closed-pipe" {w}>"$work/.closed-pipe"
        exec {rw}<&-
        out=$(cd "$work" && timeout 20 "$prog" "${words[@]}" 2>&1 >&"$w")
        got=$?
        exec {w}>&-
        rm -f "$work/.closed-pipe"
    elif [ "$n" -gt 0 ] && [[ "${words[n - 1]}" =~ $fd5_re ]]; then
        # A last word 5<PATH or 5>PATH gives the program descriptor 5
        # open on PATH for reading or for writing.
        unset 'words[n - 1]'
        path=${BASH_REMATCH[2]}
        if [ "${BASH_REMATCH[1]}" = "<" ]; then
            out=$(cd "$work" && timeout 20 "$prog" "${words[@]}" 2>&1 5<"$path")
        else
            out=$(cd "$work" && timeout 20 "$prog" "${words[@]}" 2>&1 5>"$path")
        fi
        got=$?
    else
        out=$(cd "$work" && timeout 20 "$prog" "${words[@]}" 2>&1)
        got=$?
    fi
    if [ "$got" -eq "$want" ] && grep -qF -- "$text" <<<"$out"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $prog $args: exit $got (want $want), output:"
        head -5 <<<"$out" | sed 's/^/    /'
        echo "    (wanted text: $text)"
    fi
done <"$table"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
