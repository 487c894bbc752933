#!/bin/sh
# deps.sh - installs the Debian 12 packages that building and testing bpcon need.
#
# Owns: the list of system packages. Must never: download anything outside
# Debian's own package archive, or touch apt when everything is installed
# (a second run is fast and works offline).
#
# Usage: sh scripts/deps.sh   (as root when something is missing)
set -eu

# What each package is for:
#   meson ninja-build pkg-config  the build
#   gcc g++                       C engine; C++ only for the Google Benchmark shim
#   clang libclang-rt-14-dev      fuzz build (-Dfuzz=true): libFuzzer and clang's sanitizer
#                                 runtimes are only a Recommends of clang, so name them
#   clang-format                  the style check in scripts/test.sh (clang-format 14)
#   libdpdk-dev                   the dataplane (DPDK 22.11)
#   dpdk dpdk-dev                 DPDK runtime tools; dpdk-telemetry.py ships in dpdk-dev
#   liburcu-dev                   RCU publication of the decided log
#   libsodium-dev                 BLAKE2b tags, digests, key derivation
#   libisal-dev                   CRC32C (crc32_iscsi) of the durable store (libbpcon-store)
#   libcmocka-dev                 unit tests
#   libbenchmark-dev              micro benchmarks (bench/)
#   python3                       DPDK's python tools, scripts/symbols.py
#   scdoc man-db                  man pages (docs/man) and their render check
#   strace                        tests/cli/cluster_dirsync.sh (which fsyncs a run makes)
BPC_PACKAGES="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev clang-format
libdpdk-dev dpdk dpdk-dev liburcu-dev libsodium-dev libisal-dev libcmocka-dev libbenchmark-dev python3 scdoc man-db
strace"

deps_missing=""
for pkg in $BPC_PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) deps_missing="$deps_missing $pkg" ;;
    esac
done

if [ -z "$deps_missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

echo "deps: missing:$deps_missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: error: not root; install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends$deps_missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $deps_missing
echo "deps: installed:$deps_missing"
