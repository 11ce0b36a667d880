#!/usr/bin/env bash
# Tier "engines": the resolvers, the command and `pipework watch` against a real dockerd, LXC
# and Podman (tests in pipework-core/tests/engines.rs and pipework-cli/tests/engines.rs, modules
# tier_engines).
#
# Installs the engines on a fresh Debian 12 machine (as root), starts private instances of them
# with scripts/engines.sh, runs the tests, and stops everything again, also on failure.
# When Podman cannot run containers here, its tests are skipped and the reason is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/tier-engines.sh must run as root: it starts dockerd, LXC and Podman" >&2
    exit 1
fi

started=$(date +%s.%N)
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

bash scripts/engines.sh install
state=$(mktemp -d /var/tmp/pipework-engines.XXXXXX)
trap 'bash scripts/engines.sh stop "$state" || exit 1' EXIT
bash scripts/engines.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
echo "[tier-engines] engines up after $(elapsed) s"

skip=()
if [ -n "$PWT_PODMAN_SKIP" ] && [ "${CI:-}" = true ]; then
    # In CI Podman must run: its tests are not skipped there.
    echo "[tier-engines] FAILED: Podman cannot run here and CI=true: $PWT_PODMAN_SKIP" >&2
    exit 1
fi
if [ -n "$PWT_PODMAN_SKIP" ]; then
    skip=(--skip tier_engines::podman::)
    cargo test --workspace --test engines --quiet -- --list --ignored tier_engines::podman:: 2>/dev/null \
        | sed -n 's/: test$//p' | while read -r test; do
            echo "[tier-engines] SKIPPED $test: $PWT_PODMAN_SKIP"
        done
fi
cargo test --workspace --test engines --quiet -- --include-ignored tier_engines "${skip[@]}"
echo "[tier-engines] tests done after $(elapsed) s"
