#!/usr/bin/env bash
# The Python tier: builds the `pipework` module into a venv with `pip install ./pipework-py`
# (maturin, debug profile), checks the hand-written stubs against it with mypy's stubtest,
# type-checks the examples and the tests with mypy --strict, then runs pytest against the
# real kernel in private namespaces (DHCP against a dnsmasq the tests start in a private LAN)
# and the Python examples; pipework.watch against a private dockerd (scripts/engines.sh). Needs root.
#
# Usage: scripts/tier-python.sh [PYTEST ARGS...]      (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

say() { printf '\n== python: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
    echo "scripts/tier-python.sh must run as root: the tests create namespaces and links" >&2
    exit 1
fi

# --- the DHCP server of the DHCP tests, and the lease keeper of keep="daemon" ---------------
# dnsmasq-base is the server binary without the dnsmasq package's system service; the tests
# start it themselves in private namespaces and stop it by its PID.
source scripts/apt.sh
apt_install dnsmasq-base
cargo build --quiet -p pipework-core --bin pipework-dhcp-keeper

# --- a venv with the build and test tools --------------------------------------------------
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends python3-venv >/dev/null
fi
venv=target/python-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
python="$venv/bin/python"
say "tools (maturin, pytest, pytest-timeout, mypy)"
"$python" -m pip install -q --disable-pip-version-check \
    'maturin>=1.9.4,<2' 'pytest>=8' 'pytest-timeout>=2' 'mypy>=1.11'

# --- build and install, exactly as a user would (debug profile keeps the tier fast) -------
say "pip install ./pipework-py"
PATH="$root/$venv/bin:$PATH" MATURIN_PEP517_ARGS="--profile dev" \
    "$python" -m pip install -q --disable-pip-version-check --no-build-isolation \
    --force-reinstall --no-deps ./pipework-py
"$python" -c 'import pipework; print("pipework", pipework.__version__, "from", pipework.__file__)'

# --- the stubs cannot drift from the compiled module ---------------------------------------
say "mypy stubtest"
# Run outside the source tree so that only the installed package is found.
(cd pipework-py/tests && "$root/$python" -m mypy.stubtest pipework)
say "mypy --strict (examples and tests, against the stubs)"
"$python" -m mypy --strict --cache-dir target/mypy-cache \
    examples/python/lamp.py examples/python/dhcp.py pipework-py/tests

# --- the tests, then proof that nothing was left behind ------------------------------------
# Every namespace of this tier is named pwpy... (other work on the machine may add its own).
ours() { ip netns list | awk '{print $1}' | grep '^pwpy' | sort || true; }
# The tests' DHCP servers (lease files under pytest's or the example's temporary directories)
# and lease keepers (whose request names a pwpy namespace).
daemons() { pgrep -f 'dnsmasq .*--dhcp-leasefile=/tmp/(pytest-of-|pwpy)|pipework-dhcp-keeper .*pwpy' | sort || true; }
# --- a private dockerd for test_watch.py (scripts/engines.sh: no change to the host's network) --
bash scripts/engines.sh install
engines=$(mktemp -d /var/tmp/pwpyeng.XXXXXX)
trap 'bash scripts/engines.sh stop "$engines" >/dev/null || true' EXIT
bash scripts/engines.sh start "$engines" >/dev/null
# shellcheck disable=SC1091
source "$engines/env"
netns_before=$(ours)
daemons_before=$(daemons)
links_before=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
status=0
say "pytest"
(cd pipework-py && "../$python" -m pytest -W error -p no:cacheprovider --timeout 120 "$@") || status=$?
if [ "$status" = 0 ]; then
    for example in examples/python/lamp.py examples/python/dhcp.py; do
        say "$example"
        "$python" "$example" || status=$?
    done
fi
netns_after=$(ours)
daemons_after=$(daemons)
left=$(comm -13 <(echo "$daemons_before") <(echo "$daemons_after"))
if [ -n "$left" ]; then
    echo "LEAK: the Python tier left DHCP servers or lease keepers running:" >&2
    echo "$left" | xargs -r ps -o pid,args -p >&2 || true
    status=1
fi
links_after=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
if [ "$netns_before" != "$netns_after" ] || [ "$links_before" != "$links_after" ]; then
    echo "LEAK: the Python tier left namespaces or interfaces behind" >&2
    diff <(echo "$netns_before") <(echo "$netns_after") >&2 || true
    diff <(echo "$links_before") <(echo "$links_after") >&2 || true
    status=1
fi
exit "$status"
