#!/usr/bin/env bash
# The test command of pipework-rs (the README's second command, and what CI runs).
#
# On a fresh Debian machine, as root, it installs what the tests need, then runs every tier:
# formatting, clippy, unit tests, privileged integration tests in private namespaces, and
# checks that nothing (namespace, interface) was left behind.
#
# Usage: scripts/test.sh            # everything
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh must run as root: the privileged tests create namespaces and links" >&2
    exit 1
fi

# --- prerequisites -----------------------------------------------------------------------
# python3-dev: pyo3 (pipework-py) links libpython in cargo test; python3-venv: tier-python;
# libcap2-bin: capsh, for the least-privilege tests.
source scripts/apt.sh
apt_install iproute2 iputils-ping jq util-linux python3-dev python3-venv libcap2-bin
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

# --- what exists before, to prove nothing leaks ------------------------------------------
links_before=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
netns_before=$(ip netns list | awk '{print $1}' | sort)

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "unit and privileged integration tests"
# Tests of a further tier live in a module named tier_<name> and run from scripts/tier-<name>.sh.
cargo test --workspace --quiet -- --include-ignored --skip tier_

say "examples"
cargo run --quiet --example lamp
cargo run --quiet --example macvlan

# Further tiers live in their own scripts so each can be run alone; each one installs what it
# needs and exits non-zero on failure. A tier that cannot run here says why and is reported
# as skipped, never as passed.
for tier in scripts/tier-*.sh; do
    [ -e "$tier" ] || continue
    say "tier ${tier#scripts/tier-}"
    bash "$tier"
done

say "leak check"
links_after=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
netns_after=$(ip netns list | awk '{print $1}' | sort)
if [ "$links_before" != "$links_after" ] || [ "$netns_before" != "$netns_after" ]; then
    echo "LEAK: the tests left interfaces or namespaces behind" >&2
    diff <(echo "$links_before") <(echo "$links_after") >&2 || true
    diff <(echo "$netns_before") <(echo "$netns_after") >&2 || true
    exit 1
fi
echo "nothing left behind"
