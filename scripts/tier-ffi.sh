#!/usr/bin/env bash
# Tier "ffi": the C API, tested from C.
#
# 1. the committed header equals what cbindgen generates from the source (drift check);
# 2. scripts/install-ffi.sh installs the release library, header and pipework.pc in a temporary
#    prefix, and every C program below is built from there with pkg-config;
# 3. pipework-ffi/tests/c/ffi_test.c, built with -std=c11 -Wall -Wextra -Wpedantic -Werror:
#    linked to the installed shared library under AddressSanitizer + UndefinedBehaviorSanitizer,
#    then to the static library without sanitizers under valgrind --leak-check=full;
# 4. examples/c/attach.c, the README's C example.
# The DHCP tests start their own dnsmasq (dnsmasq-base: no system service) in a private "LAN"
# namespace and stop it by its PID.
# Everything runs as root in private namespaces named pwffi<PID>-*, removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n-- ffi: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
    echo "scripts/tier-ffi.sh must run as root: the C tests create namespaces and links" >&2
    exit 1
fi

source scripts/apt.sh
apt_install gcc libc6-dev pkg-config valgrind jq iproute2 iputils-ping dnsmasq-base

prefix="pwffi$$"
example_pid=none
work=$(mktemp -d)
cleanup() {
    # The C tests' DHCP server, if a failed run left it: stopped by the PID it wrote.
    for pidfile in /tmp/"$prefix"-*-dhcp/dnsmasq.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    rm -rf /tmp/"$prefix"-*-dhcp /tmp/"$prefix"-labs
    for netns in $(ip netns list | awk '{print $1}' | grep -E "^(clab-)?($prefix|pwcdemo$example_pid)-" || true); do
        ip netns del "$netns" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

say "header drift check"
bash scripts/ffi-header.sh --check

say "install into a temporary prefix"
bash scripts/install-ffi.sh "$work/usr"
export PKG_CONFIG_PATH="$work/usr/lib/pkgconfig"
export LD_LIBRARY_PATH="$work/usr/lib"
strict=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g)

say "C tests, shared library, ASan + UBSan"
gcc "${strict[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    pipework-ffi/tests/c/ffi_test.c $(pkg-config --cflags --libs pipework) -o "$work/ffi_test_asan"
readelf -d "$work/ffi_test_asan" | grep -q 'libasan' || { echo "ASan is not linked in" >&2; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$work/ffi_test_asan" "$prefix-asan"

say "C tests, static library, valgrind"
# Valgrind runs on the dev-profile archive: in the optimised one LLVM branches on the unused
# bytes of some enums (safe code in Veth::add and rtnetlink's LinkVlan::new), which memcheck
# reports as uninitialised; the release library is the one checked by the sanitizers above.
# The header and the link flags (Libs.private) still come from the installed pipework.pc.
cargo build --quiet -p pipework-ffi
gcc "${strict[@]}" pipework-ffi/tests/c/ffi_test.c $(pkg-config --cflags pipework) \
    -Wl,-Bstatic -L"${CARGO_TARGET_DIR:-$PWD/target}/debug" -lpipework -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-l pipework | sed 's/-lpipework//') -o "$work/ffi_test_static"
if readelf -d "$work/ffi_test_static" | grep -q 'libpipework'; then
    echo "the static build links libpipework.so" >&2
    exit 1
fi
valgrind -q --leak-check=full --error-exitcode=1 --suppressions=pipework-ffi/tests/c/valgrind.supp \
    "$work/ffi_test_static" "$prefix-valgrind"

say "example examples/c/attach.c"
gcc "${strict[@]}" examples/c/attach.c $(pkg-config --cflags --libs pipework) -o "$work/attach"
# Its namespaces are pwcdemo<its PID>-*: known here so that a crash cannot leave them behind.
"$work/attach" &
example_pid=$!
wait "$example_pid"
