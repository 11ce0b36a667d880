#!/usr/bin/env bash
# The VM tier: every test in a `mod tier_vm` of any workspace test target, run inside ONE VM
# booted by scripts/vm-test.sh (Debian's kernel, with 8021q, dummy, ipvlan, bridge VLAN filtering,
# TIPC and Open vSwitch, which the host kernel may lack).
#
# Usage: scripts/tier-vm.sh [FILTER]     (FILTER narrows the tests, default tier_vm::)
#
# To add VM tests, put them in a module named `tier_vm` in any test file of the workspace,
# marked #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]; this script finds them.
# Inside the VM, ovsdb-server and ovs-vswitchd run and PIPEWORK_VM=1 is set.
#
# The same boot also runs the Python module's tests of these kinds and of TIPC
# (pipework-py/tests/test_kinds.py and test_tipc.py, whose kernel-dependent tests check the
# real result there), with the module scripts/tier-python.sh installed in its venv (test.sh runs
# that tier first); without that venv they are listed as SKIPPED.
#
# When the VM cannot be prepared or booted, every VM test is listed as SKIPPED with the reason
# and the script exits 0, unless PIPEWORK_REQUIRE_VM=1 (set by CI), where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

filter=${1:-tier_vm::}
# The Python tests run in the VM (relative to pipework-py/).
python_vm_tests=(tests/test_kinds.py tests/test_tipc.py)

if [ "${PIPEWORK_VM_INSIDE:-0}" = 1 ]; then
    # Inside the VM: run each binary's VM tests, keep going after a failure, report at the end.
    shift
    failed=()
    for binary in "$@"; do
        echo "== ${binary##*/}"
        "$binary" --include-ignored --test-threads="$(nproc)" "$filter" || failed+=("${binary##*/}")
    done
    if [ "${PIPEWORK_VM_PYTHON:-0}" = 1 ]; then
        echo "== pipework-py: ${python_vm_tests[*]}"
        (cd pipework-py && ../target/python-venv/bin/python -m pytest -W error -p no:cacheprovider \
            --timeout 300 -q -rs "${python_vm_tests[@]}") || failed+=(pipework-py)
    fi
    if [ ${#failed[@]} -gt 0 ]; then
        echo "VM tests failed in: ${failed[*]}" >&2
        exit 1
    fi
    exit 0
fi

if ! command -v jq >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends jq >/dev/null
fi

# Build every test target and keep those that contain VM tests.
binaries=()
while IFS= read -r binary; do
    # (The listing is read whole: `grep -q` quitting early would fail the pipe under pipefail.)
    listing=$("$binary" --list --include-ignored 2>/dev/null || true)
    if grep -q "^[^ ]*$filter[^ ]*: test$" <<<"$listing"; then
        binaries+=("$binary")
    fi
done < <(cargo test --workspace --tests --no-run --message-format=json --quiet \
    | jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable')

if [ ${#binaries[@]} = 0 ]; then
    echo "no test matches $filter; nothing to run in the VM"
    exit 0
fi
for binary in "${binaries[@]}"; do
    echo "VM tests of ${binary##*/}: $("$binary" --list --include-ignored 2>/dev/null | grep -c "$filter.*: test$")"
done

# The Python tests come along with the default filter, when the Python tier's venv has the module.
PIPEWORK_VM_PYTHON=0
if [ "$filter" = tier_vm:: ]; then
    if target/python-venv/bin/python -c 'import pipework' 2>/dev/null; then
        PIPEWORK_VM_PYTHON=1
        echo "Python VM tests: ${python_vm_tests[*]} (pipework-py)"
    else
        echo "SKIPPED Python VM tests ${python_vm_tests[*]}: no pipework module in target/python-venv (run scripts/tier-python.sh first)"
    fi
fi
export PIPEWORK_VM_PYTHON

started=$SECONDS
status=0
PIPEWORK_VM_INSIDE=1 bash scripts/vm-test.sh --ovs -- bash scripts/tier-vm.sh "$filter" "${binaries[@]}" \
    || status=$?
echo "VM tier: exit $status after $((SECONDS - started))s (boot included)"

if [ $status = 125 ]; then
    echo "VM tier SKIPPED: the VM could not be prepared or booted (reason above). Skipped tests:"
    for binary in "${binaries[@]}"; do
        "$binary" --list --include-ignored 2>/dev/null | sed -n "s/^\([^ ]*$filter[^ ]*\): test$/  SKIPPED \1 (${binary##*/})/p"
    done
    [ "$PIPEWORK_VM_PYTHON" = 1 ] && echo "  SKIPPED pipework-py ${python_vm_tests[*]}"
    if [ "${PIPEWORK_REQUIRE_VM:-0}" = 1 ]; then
        echo "PIPEWORK_REQUIRE_VM=1: a VM tier that cannot run is a failure here" >&2
        exit 1
    fi
    exit 0
fi
exit $status
