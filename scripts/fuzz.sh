#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target in fuzz/ for SECONDS each (default 600) from the
# committed seed corpus, and fails on the first crash, leak or timeout it finds.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# What it found stays in fuzz/artifacts/TARGET/ (git ignores it); new corpus entries go to a
# temporary directory, so the committed corpus changes only by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(grammar dhcp_reply tipc_codec engine_api topology)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz needs a nightly compiler (-Zsanitizer); without one, the stable one is told to
# accept nightly flags.
if rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

cd fuzz
"${fuzz[@]}" build -O
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    log="$work/$target.log"
    if ! "${fuzz[@]}" run -O "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "FUZZ FAILURE: $target (its input is in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $target: ${seconds}s, $runs executions, 0 crashes"
done
