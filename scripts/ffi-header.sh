#!/usr/bin/env bash
# Regenerates pipework-ffi/include/pipework.h with cbindgen (pinned in pipework-ffi/Cargo.toml,
# run by its build.rs) and copies it into place; with --check, fails if the committed header
# differs from what the source generates, showing the difference.
#
# Usage: scripts/ffi-header.sh [--check]      (needs jq)
set -euo pipefail
cd "$(dirname "$0")/.."

committed=pipework-ffi/include/pipework.h
messages=$(cargo build --quiet -p pipework-ffi --message-format=json)
out_dir=$(jq -r 'select(.reason == "build-script-executed" and (.package_id | test("pipework-ffi"))) | .out_dir' <<<"$messages")
generated="$out_dir/pipework.h"
[ -f "$generated" ] || { echo "ffi-header: the build did not generate $generated" >&2; exit 1; }

if [ "${1:-}" = --check ]; then
    if ! diff -u "$committed" "$generated"; then
        echo "ffi-header: $committed is out of date; run scripts/ffi-header.sh and commit it" >&2
        exit 1
    fi
    echo "ffi-header: $committed is up to date"
else
    cp "$generated" "$committed"
    echo "ffi-header: wrote $committed"
fi
