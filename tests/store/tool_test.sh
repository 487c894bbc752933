#!/bin/bash
# tool_test.sh - drives bpcon-store on good, torn, zero-filled, damaged and
# foreign files and checks its JSON lines and exit codes (0 intact or torn
# tail only, 1 damaged or no store, 2 usage).
#
# Usage: tool_test.sh BPCON_STORE STORE_FIXTURE
# Must never: write outside its own temporary directory.
set -u
tool=$1
fixture=$2
dir=$(mktemp -d /tmp/bpcon-store-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
eval "$("$fixture" "$dir")" || { echo "fixture failed"; exit 1; }

passed=0
failed=0
# expect NAME WANT_RC CMD... ; then the output is in $out
expect_rc()
{
    name=$1
    want=$2
    shift 2
    out=$("$@" 2>"$dir/stderr")
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $rc, wanted $want; output: $out; stderr: $(cat "$dir/stderr")"
    fi
}
# has NAME STRING: the last output contains STRING
has()
{
    case "$out" in
    *"$2"*) passed=$((passed + 1)) ;;
    *)
        failed=$((failed + 1))
        echo "FAIL $1: output lacks '$2': $out"
        ;;
    esac
}

expect_rc good-check 0 "$tool" check "$dir/good.store"
has good-records "\"records\":$good_records,"
has good-valid "\"valid_bytes\":$good_bytes,"
has good-torn "\"torn_bytes\":0,"
has good-corrupt "\"corrupt_offset\":null"
has good-party "\"party\":1,"
has good-floor "\"floor\":12,"
has good-ballot "\"max_ballot\":7,"
has good-status "\"status\":\"intact\""

expect_rc torn-check 0 "$tool" check "$dir/torn.store"
has torn-records "\"records\":$good_records,"
has torn-valid "\"valid_bytes\":$good_bytes,"
has torn-torn "\"torn_bytes\":$torn_bytes,"
has torn-corrupt "\"corrupt_offset\":null"
has torn-status "\"status\":\"torn-tail\""

expect_rc zero-check 0 "$tool" check "$dir/zero.store"
has zero-torn "\"torn_bytes\":$zero_bytes,"

expect_rc corrupt-check 1 "$tool" check "$dir/corrupt.store"
has corrupt-offset "\"corrupt_offset\":$corrupt_offset,"
has corrupt-valid "\"valid_bytes\":$corrupt_valid,"
has corrupt-status "\"status\":\"damaged\""
has corrupt-reason "checksum mismatch"

# A sealed header with a length the format does not have is damage at
# offset 0, not another format version; a version past this build's is.
expect_rc hdrlen-check 1 "$tool" check "$dir/hdrlen.store"
has hdrlen-status "\"status\":\"damaged\""
has hdrlen-offset "\"corrupt_offset\":0,"
has hdrlen-reason "file header length 81, version 4 has 80"
# A reserved header field (bytes 28..31, 72..75) not zero under a good
# checksum is damage at offset 0 too (before review B5: "intact", exit 0).
for r in 28 72; do
    expect_rc "resv$r-check" 1 "$tool" check "$dir/resv$r.store"
    has "resv$r-status" "\"status\":\"damaged\""
    has "resv$r-offset" "\"corrupt_offset\":0,"
    has "resv$r-reason" "file header reserved bytes $r..$((r + 3)) not zero"
done
expect_rc newer-check 1 "$tool" check "$dir/newer.store"
has newer-status "\"status\":\"unsupported-version\""
# The version found is named; the rest of its header is not read.
has newer-version "\"version\":99,\"cluster_id\":null,\"party\":null"

expect_rc foreign-check 1 "$tool" check "$dir/notastore.store"
has foreign-offset "\"corrupt_offset\":0,"

# The file name in the JSON line is escaped: a quote, a backslash, a
# control byte, a byte that is not UTF-8 (\u00XX of its value), a
# surrogate's bytes (each not UTF-8); valid UTF-8 (e9 as c3 a9) kept.
odd=$'q"\\\x01\xff\xc3\xa9\xed\xa0\x80.store'
cp "$dir/notastore.store" "$dir/$odd"
expect_rc odd-name-check 1 "$tool" check "$dir/$odd"
has odd-name-file '/q\"\\\u0001\u00ff'$'\xc3\xa9''\u00ed\u00a0\u0080.store",'
# ... and on stderr its control bytes are \xNN: a newline or a
# terminal's escape in a name cannot split or forge the message (before,
# review B11: written raw).
ctl=$'n\nl\x1b[2J.store'
cp "$dir/notastore.store" "$dir/$ctl"
expect_rc ctl-name-check 1 "$tool" check "$dir/$ctl"
if [ "$(wc -l <"$dir/stderr")" -eq 1 ] && grep -qF 'n\x0al\x1b[2J.store: ' "$dir/stderr"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL ctl-name-stderr: $(cat -A "$dir/stderr")"
fi
expect_rc ctl-command 2 "$tool" $'bad\ncmd' x
if grep -qF "unknown command 'bad\x0acmd'" "$dir/stderr"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL ctl-command-stderr: $(cat -A "$dir/stderr")"
fi

expect_rc good-dump 0 "$tool" dump "$dir/good.store"
lines=$(printf '%s\n' "$out" | grep -c '^{"seq":')
if [ "$lines" -eq "$good_frames" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    echo "FAIL dump: $lines lines, wanted $good_frames"
fi
has dump-vote '"kind":"vote","instance":11,'
has dump-party '"kind":"party"'
expect_rc corrupt-dump 1 "$tool" dump "$dir/corrupt.store"
expect_rc usage-none 2 "$tool"
expect_rc usage-verb 2 "$tool" fix "$dir/good.store"
expect_rc usage-missing 2 "$tool" check "$dir/no-such-file"

# The JSON lines are the result: when stdout cannot take them (/dev/full)
# the command fails with exit 2 and says why on stderr, whatever the file
# held (before: exit 0 for an intact store, 1 for a damaged one).
full_msg='bpcon-store: cannot write to standard output: No space left on device'
for c in "good-check check good" "good-dump dump good" "torn-check check torn" \
    "corrupt-check check corrupt" "corrupt-dump dump corrupt"; do
    set -- $c
    expect_rc "full-$1" 2 sh -c '"$0" "$1" "$2" >/dev/full' "$tool" "$2" "$dir/$3.store"
    out=$(cat "$dir/stderr")
    has "full-$1-message" "$full_msg"
done

echo "bpcon-store tool: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
