#!/bin/sh
# Goal: every public header compiles alone, as strict C11 and as C++17, with
# nothing included before it (an embedder's first include).
# Method: for each header, a translation unit that includes only it, fed to
# the C compiler (-std=c11 -pedantic-errors) and the C++ compiler
# (-std=c++17), warnings as errors; DPDK's flags from pkg-config for the
# dataplane header. Usage: check_headers.sh CC CXX INCDIR... -- HEADER...
set -u
cc="$1"
cxx="$2"
shift 2
incs=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    incs="$incs -I$1"
    shift
done
shift
dpdk=$(pkg-config --cflags libdpdk 2>/dev/null)
pass=0
fail=0
tmp=$(mktemp -d /tmp/bpc-hdr-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for h in "$@"; do
    name=$(basename "$h")
    printf '#include "%s"\nint bpc_header_check_%s;\n' "$name" "$(echo "$name" | tr -c 'a-z0-9\n' _)" \
        > "$tmp/t.c"
    cp "$tmp/t.c" "$tmp/t.cc"
    extra=""
    case "$name" in *_dp.h) extra="$dpdk" ;; esac
    # shellcheck disable=SC2086 # word lists
    if "$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror $incs $extra -fsyntax-only \
        "$tmp/t.c" 2> "$tmp/err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name as C11:"
        sed 's/^/    /' "$tmp/err" | head -20
    fi
    # C++: __int128 is a GNU extension there too; -Wpedantic stays off.
    # shellcheck disable=SC2086
    if "$cxx" -std=c++17 -Wall -Wextra -Werror $incs $extra -fsyntax-only "$tmp/t.cc" \
        2> "$tmp/err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name as C++17:"
        sed 's/^/    /' "$tmp/err" | head -20
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
