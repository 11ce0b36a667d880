#!/usr/bin/env bash
# Measures `pipework watch`: for N labelled containers started one after another (Docker, and
# Podman when it runs here), the time from the engine's start event reaching the watcher to
# the container's interface up and addressed, and from the engine's own time of the event.
# The watcher prints both on each attach line; this script starts private engines
# (scripts/engines.sh), a private host namespace and the watcher, and removes all of it again.
#
# Usage (as root): scripts/bench-watch.sh [N]     (default 20 containers per engine)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/bench-watch.sh must run as root" >&2; exit 1; }
rounds=${1:-20}

cargo build --release --quiet -p pipework-cli
bash scripts/engines.sh install
state=$(mktemp -d /var/tmp/pwbw.XXXXXX)
host="pwbw$$-host"
watcher=""
cleanup() {
    [ -z "$watcher" ] || { kill -TERM "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; }
    ip netns del "$host" 2>/dev/null || true
    bash scripts/engines.sh stop "$state/engines" || true
    rm -rf "$state"
}
trap cleanup EXIT
bash scripts/engines.sh start "$state/engines"
# shellcheck disable=SC1091
source "$state/engines/env"
ip netns add "$host"

# Median and 90th percentile of the numbers on stdin.
summary() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.1f ms, p90 %.1f ms (%d)", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], NR }'; }

# measure ENGINE: with the engine's command line in cli=() and its `run` flags in flags=().
measure() {
    local engine=$1 log="$state/$1.log" i
    ip netns exec "$host" env PIPEWORK_STATE_DIR="$state/records" \
        target/release/pipework watch --engine "$engine" 2>"$log" &
    watcher=$!
    until grep -q "following container events" "$log"; do sleep 0.05; done
    for i in $(seq 1 "$rounds"); do
        "${cli[@]}" run -d "${flags[@]}" --name "pwbw$$-$engine-$i" --label "pipework=brbw 10.219.$((i / 250)).$((i % 250 + 2))/16" \
            "$image" sleep 1000 >/dev/null
        until [ "$(grep -c "pwbw$$-$engine-$i .*attached" "$log")" = 1 ]; do sleep 0.02; done
    done
    for i in $(seq 1 "$rounds"); do
        "${cli[@]}" kill "pwbw$$-$engine-$i" >/dev/null
        "${cli[@]}" rm -f "pwbw$$-$engine-$i" >/dev/null
    done
    until [ -z "$(ls "$state/records/watch/"*.json 2>/dev/null)" ]; do sleep 0.05; done
    kill -TERM "$watcher"
    wait "$watcher" || true
    watcher=""
    echo "$engine: from the event's arrival: $(sed -n 's/.* in \([0-9.]*\) ms after the event.*/\1/p' "$log" | summary)"
    echo "$engine: from the engine's start:  $(sed -n "s/.*, \([0-9.]*\) ms after the engine's start/\1/p" "$log" | summary)"
}

image=$PWT_IMAGE cli=(docker) flags=(--network none)
measure docker
if [ -z "$PWT_PODMAN_SKIP" ]; then
    # shellcheck disable=SC2206
    image=localhost/pwtest:latest cli=(env -u CONTAINER_HOST $PWT_PODMAN) flags=($PWT_PODMAN_RUN_FLAGS)
    measure podman
else
    echo "podman: SKIPPED: $PWT_PODMAN_SKIP"
fi
