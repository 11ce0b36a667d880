#!/usr/bin/env bash
# Builds the C library in release mode and installs it under PREFIX:
#   PREFIX/include/pipework.h
#   PREFIX/lib/libpipework.so.VERSION (its SONAME), libpipework.so -> it, libpipework.a
#   PREFIX/lib/pkgconfig/pipework.pc   (pkg-config --cflags --libs pipework)
#
# Usage: scripts/install-ffi.sh PREFIX      (for example /usr/local; then run ldconfig)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: scripts/install-ffi.sh PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
header=pipework-ffi/include/pipework.h
version=$(sed -n 's/^#define PIPEWORK_VERSION "\(.*\)"$/\1/p' "$header")
[ -n "$version" ] || { echo "install-ffi: no PIPEWORK_VERSION in $header" >&2; exit 1; }

cargo build --quiet --release -p pipework-ffi
built="${CARGO_TARGET_DIR:-$PWD/target}/release"

install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$header" "$prefix/include/pipework.h"
install -m 755 "$built/libpipework.so" "$prefix/lib/libpipework.so.$version"
ln -sfn "libpipework.so.$version" "$prefix/lib/libpipework.so"
install -m 644 "$built/libpipework.a" "$prefix/lib/libpipework.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" pipework-ffi/pipework.pc.in \
    >"$prefix/lib/pkgconfig/pipework.pc"
echo "install-ffi: installed pipework $version under $prefix"
