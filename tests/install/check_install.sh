#!/bin/sh
# Goal: what `meson install` puts on a box is usable by an application
# team: the libraries with versioned sonames export only their public
# headers' functions, the headers and pkg-config files are there, the man
# pages render, and the embed example builds out of tree against the
# installed pkg-config files alone and runs.
# Method: install BUILD into a scratch DESTDIR, point pkg-config and the
# loader at it, check, compile dataplane/examples/embed.c with the C
# compiler and `pkg-config --cflags --libs libbpcon-dp`, run it on net_ring
# without hugepages. Usage: check_install.sh BUILD_DIR
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
dest=$(mktemp -d /tmp/bpc-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --quiet >/dev/null
# The sonames: each library's ABI number (engine/meson.build, abi_versions;
# docs/BUILD.md, "ABI").
so_libbpcon=libbpcon.so.1
so_store=libbpcon-store.so.1
so_dp=libbpcon-dp.so.1
libdir=$(find "$dest" -name "$so_libbpcon" -printf '%h\n' | head -1)
pcdir=$(find "$dest" -name 'libbpcon.pc' -printf '%h\n' | head -1)
incdir=$(find "$dest" -name 'bpcon.h' -printf '%h\n' | head -1)
[ -n "$libdir" ] && [ -n "$pcdir" ] && [ -n "$incdir" ] || {
    echo "FAIL: $so_libbpcon, libbpcon.pc or bpcon.h not installed"
    exit 1
}
pass=0
fail=0
check() { # name, command...
    name=$1
    shift
    if "$@" >"$dest/out" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name:"
        sed 's/^/    /' "$dest/out" | tail -20
    fi
}
for so in "$so_libbpcon" "$so_store" "$so_dp"; do
    check "$so soname" sh -c "objdump -p '$libdir/$so' | grep -q 'SONAME *$so\$'"
done
check "libbpcon symbols" python3 "$root/scripts/symbols.py" check "$libdir/$so_libbpcon" \
    "$incdir/bpcon.h"
check "libbpcon-store symbols" python3 "$root/scripts/symbols.py" check \
    "$libdir/$so_store" "$incdir/bpcon_store.h"
check "libbpcon-dp symbols" python3 "$root/scripts/symbols.py" check \
    "$libdir/$so_dp" "$incdir/bpcon_dp.h"
# Each man page comes with its program (before, review O3: bpcon-sim.1
# was installed and bpcon-sim was not).
bindir=$(find "$dest" -name bpcon-store -type f -printf '%h\n' | head -1)
for page in $(find "$dest" -path '*/man1/*.1' 2>/dev/null); do
    check "man $(basename "$page")" sh -c "man -l '$page' >/dev/null"
    check "$(basename "$page") has its program" test -x "$bindir/$(basename "$page" .1)"
done
# The .pc files name the real prefix: point them at the scratch one.
for pc in "$pcdir"/libbpcon*.pc; do
    sed -i "s#^prefix=#prefix=$dest#" "$pc"
done
export PKG_CONFIG_PATH="$pcdir"
export LD_LIBRARY_PATH="$libdir"
# bpcon.h includes standard headers only: an application links libbpcon,
# not its libsodium and liburcu (Requires.private; before, review O3, they
# were public Requires); a static link still gets them.
check "libbpcon.pc links libbpcon alone" sh -c \
    "pkg-config --libs libbpcon | grep -q -- -lbpcon && \
     ! pkg-config --libs libbpcon | grep -qE -- '-l(sodium|urcu)'"
check "libbpcon.pc static link" sh -c "pkg-config --static --libs libbpcon | grep -q -- -lsodium &&
    pkg-config --static --libs libbpcon | grep -q -- -lurcu-qsbr"
check "embed builds out of tree" sh -c "cc -std=gnu11 -O2 -o '$dest/embed' \
    '$root/dataplane/examples/embed.c' \$(pkg-config --cflags --libs libbpcon-dp)"
check "embed runs" "$dest/embed" --no-huge --no-pci -m 128 -l 0 \
    --file-prefix="bpc-install-$$" --log-level=lib.eal:warning
rm -rf "/var/run/dpdk/bpc-install-$$" 2>/dev/null || true
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
