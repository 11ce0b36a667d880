#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target in fuzz/ for SECONDS each (default 600) from the
# committed seed corpus, and fails on the first crash, leak or timeout it finds.
#
# Usage: [FUZZ_JOBS=N] scripts/fuzz.sh [SECONDS] [TARGET...]
# FUZZ_JOBS targets run at once (default 1; each is one libFuzzer process, one core).
# What it found stays in fuzz/artifacts/TARGET/ (git ignores it); new corpus entries go to a
# temporary directory, so the committed corpus changes only by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(grammar dhcp_reply tipc_codec engine_api topology)
jobs=${FUZZ_JOBS:-1}

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

# Fuzzes one target; its log is $work/TARGET.log.
run_target() {
    local target=$1 log="$work/$1.log"
    mkdir -p "$work/$target"
    if ! "${fuzz[@]}" run -O "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "FUZZ FAILURE: $target (its input is in fuzz/artifacts/$target/)" >&2
        return 1
    fi
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $target: ${seconds}s, $runs executions, 0 crashes"
}

failed=0
running=0
for target in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    run_target "$target" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
exit "$failed"
