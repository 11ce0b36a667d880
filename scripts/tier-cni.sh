#!/usr/bin/env bash
# The CNI tier: the pipework-cni plugin driven as libcni drives it (CNI_* environment,
# configuration on stdin, one process per command) with Debian's reference plugins
# (containernetworking-plugins in /usr/lib/cni): host-local IPAM delegation, concurrent ADDs
# on one bridge, a chain pipework -> tuning. Every test works in its own private namespaces
# and a private host-local dataDir. Debian ships no cnitool; the tests are the harness.
#
# Usage: scripts/tier-cni.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/tier-cni.sh must run as root: the tests create namespaces and links" >&2
    exit 1
fi

source scripts/apt.sh
apt_install containernetworking-plugins
for plugin in host-local tuning; do
    [ -x "/usr/lib/cni/$plugin" ] || { echo "tier cni: /usr/lib/cni/$plugin is missing after install" >&2; exit 1; }
done

# Podman with its CNI backend is the real runtime of pipework-cni/tests/podman.rs. It runs
# containers with runc: crun 1.8 (Debian 12) refuses this machine's hybrid cgroup hierarchy
# ("cgroups in hybrid mode not supported"); runc installed with podman also satisfies podman's
# "crun | runc" dependency, so crun is not installed.
skip=()
if ! apt_install runc podman busybox-static || ! command -v podman >/dev/null; then
    [ "${CI:-}" = true ] && { echo "tier cni: podman cannot be installed and CI=true" >&2; exit 1; }
    echo "[tier-cni] SKIPPED tier_cni::podman_runs_a_container_with_pipework_as_its_cni_plugin: podman is not installed"
    skip=(--skip podman_runs_a_container)
fi
cargo test -p pipework-cni --quiet -- --include-ignored tier_cni "${skip[@]}"
