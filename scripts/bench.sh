#!/usr/bin/env bash
# Measures one attach against the raw-netlink floor and the fewest-requests iproute2 sequence in
# the same run, then 500 sequential attaches on one bridge, a CNI ADD + DEL against the reference
# bridge plugin, a 50-node lab against its floor and iproute2, then the criterion benchmarks.
# As root. PW_ROUNDS (default 200) and PW_SCALE (default 500) size the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/bench.sh must run as root" >&2; exit 1; }
command -v ip >/dev/null || apt-get install -y -qq --no-install-recommends iproute2
cargo build --release --quiet -p pipework-cli -p pipework-cni
cargo bench --bench compare
cargo bench --bench cni
cargo bench --bench topology
[ "${1:-}" = "--quick" ] || cargo bench --bench attach
