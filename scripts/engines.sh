#!/usr/bin/env bash
# Real container engines for the resolver tests: a private dockerd, LXC containers and, when it
# can run containers on this machine, Podman's API service. Everything lives under one state
# directory, is started by this script and is stopped again by PID.
#
# Usage (as root):
#   scripts/engines.sh install          # apt-get the engines (nothing is started by the packages)
#   scripts/engines.sh start STATE_DIR  # start everything under STATE_DIR, write STATE_DIR/env
#   scripts/engines.sh stop STATE_DIR   # stop and remove everything start made, then STATE_DIR
#
# STATE_DIR/env (for `source`) exports:
#   DOCKER_HOST           unix:// socket of the private dockerd (the resolver honours it)
#   CONTAINER_HOST        unix:// socket of Podman's service (only when Podman works)
#   LXC_PATH              the private lxcpath (the resolver honours it)
#   PWT_IMAGE             the busybox image imported into Docker (and Podman)
#   PWT_LXC_RUNNING       an LXC busybox container that runs (network type empty)
#   PWT_LXC_STOPPED       an LXC busybox container that is defined but stopped
#   PWT_PODMAN            the podman command line with the private storage flags
#   PWT_PODMAN_RUN_FLAGS  the `podman run` flags this machine needs
#   PWT_PODMAN_SKIP       why Podman cannot run containers here (empty when it can)
#
# Nothing changes the host's network: dockerd runs with --bridge=none and without iptables or
# forwarding, containers use network "none"/"empty", and the daemons' configuration files in
# /etc are not read.
set -euo pipefail

say() { printf '[engines %s] %s\n' "$(date +%T.%N | cut -c1-12)" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (dockerd, LXC and Podman need it)"
# The env file exports CONTAINER_HOST for the tests; with it the podman CLI would turn into a
# client of the service (and refuse --root), so this script never uses it.
unset CONTAINER_HOST

# The `podman run` flags this machine needs: root lacks CAP_SYS_RESOURCE here, so Podman's
# default rlimits (above the hard limits) cannot be set; give them explicitly.
podman_run_flags() {
    echo "--network none --ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=32768:32768"
}

# Installs the missing packages among "$@" (nothing auto-starts); returns non-zero on failure.
apt_install() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing ${missing[*]}"
    # Package scripts must not start docker, containerd or lxc-net on the default sockets.
    local own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=/usr/sbin/policy-rc.d
    fi
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
    local status=0
    "${apt[@]}" install "${missing[@]}" >/dev/null \
        || { apt-get -o DPkg::Lock::Timeout=300 -qq update && "${apt[@]}" install "${missing[@]}" >/dev/null; } \
        || status=$?
    [ -z "$own_policy" ] || rm -f "$own_policy"
    return "$status"
}

install() {
    apt_install docker.io busybox-static lxc || die "cannot install docker.io busybox-static lxc"
    # Podman is optional: without it, its tests are reported as skipped.
    # runc, not crun: crun 1.8 (Debian 12) refuses a hybrid cgroup hierarchy; with runc in
    # the same install, podman's "crun | runc" dependency pulls no crun.
    apt_install runc podman || say "WARNING: cannot install podman; its tests will be skipped"
}

# A root filesystem of static busybox and its applets, as a tar stream on stdout.
rootfs_tar() {
    local rootfs=$1/rootfs applet
    mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root,run}
    cp /bin/busybox "$rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
    printf 'root:x:0:\n' > "$rootfs/etc/group"
    tar -C "$rootfs" -c .
}

wait_for() { # $1 = tenths of a second, rest = command
    local tries=$1 i
    shift
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

start_dockerd() {
    local state=$1
    mkdir -p "$state/docker-data" "$state/docker-exec"
    echo '{}' > "$state/docker.json"
    setsid /usr/sbin/dockerd \
        --config-file "$state/docker.json" \
        --host "unix://$state/docker.sock" \
        --data-root "$state/docker-data" --exec-root "$state/docker-exec" \
        --pidfile "$state/dockerd.pid" \
        --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        > "$state/dockerd.log" 2>&1 < /dev/null &
    echo $! > "$state/dockerd.launched"
    wait_for 300 docker -H "unix://$state/docker.sock" version \
        || die "dockerd did not answer within 30 s; see $state/dockerd.log"
    say "dockerd $(cat "$state/dockerd.pid") on $state/docker.sock"
    rootfs_tar "$state" | docker -H "unix://$state/docker.sock" import \
        -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - pwtest:latest > /dev/null
    say "imported pwtest:latest"
}

create_lxc() { # $1 = lxcpath, $2 = name, $3 = state dir
    local conf=$3/lxc-net.conf
    printf 'lxc.net.0.type = empty\n' > "$conf"
    lxc-create -P "$1" -n "$2" -t busybox -f "$conf" > "$3/lxc-create-$2.log" 2>&1 \
        || die "lxc-create $2 failed: $(tail -3 "$3/lxc-create-$2.log")"
    # The template's rcS runs udhcpc in the foreground; bring up lo instead.
    sed -i 's|^/bin/udhcpc.*|/bin/ip link set lo up|' "$1/$2/rootfs/etc/init.d/rcS"
}

start_lxc() {
    local state=$1 id=$2
    local lxcpath=$state/lxc running=pwtl${id}-run stopped=pwtl${id}-stop
    mkdir -p "$lxcpath"
    create_lxc "$lxcpath" "$running" "$state"
    create_lxc "$lxcpath" "$stopped" "$state"
    lxc-start -P "$lxcpath" -n "$running" -d -l INFO -o "$state/lxc-$running.log"
    lxc-wait -P "$lxcpath" -n "$running" -s RUNNING -t 10
    say "LXC $running running, $stopped stopped, in $lxcpath"
    {
        echo "export LXC_PATH=$lxcpath"
        echo "export PWT_LXC_RUNNING=$running"
        echo "export PWT_LXC_STOPPED=$stopped"
    } >> "$state/env"
}

start_podman() {
    local state=$1
    local podman="podman --root $state/podman/root --runroot $state/podman/run --tmpdir $state/podman/tmp --cgroup-manager=cgroupfs --events-backend=file --runtime runc"
    {
        echo "export PWT_PODMAN='$podman'"
        echo "export PWT_PODMAN_RUN_FLAGS='$(podman_run_flags)'"
    } >> "$state/env"
    local skip=""
    if ! command -v podman > /dev/null; then
        skip="podman is not installed"
    elif ! rootfs_tar "$state" | $podman import -q -c 'ENV PATH=/bin' - localhost/pwtest:latest \
        > "$state/podman-import.log" 2>&1; then
        skip="podman import failed: $(tail -1 "$state/podman-import.log")"
    # shellcheck disable=SC2046
    elif ! $podman run --rm $(podman_run_flags) localhost/pwtest true > "$state/podman-probe.log" 2>&1; then
        skip="podman cannot run a container here: $(grep -m1 -i error "$state/podman-probe.log" || tail -1 "$state/podman-probe.log")"
    else
        setsid $podman system service --time=0 "unix://$state/podman.sock" \
            > "$state/podman-service.log" 2>&1 < /dev/null &
        echo $! > "$state/podman-service.pid"
        if wait_for 100 docker -H "unix://$state/podman.sock" version; then
            say "podman service $(cat "$state/podman-service.pid") on $state/podman.sock"
            echo "export CONTAINER_HOST=unix://$state/podman.sock" >> "$state/env"
        else
            skip="podman system service did not answer within 10 s: $(tail -1 "$state/podman-service.log")"
        fi
    fi
    [ -z "$skip" ] || say "Podman unavailable: $skip"
    printf "export PWT_PODMAN_SKIP=%q\n" "$skip" >> "$state/env"
}

start() {
    local state=${1:?state directory}
    mkdir -p "$state"
    : > "$state/env"
    # A failure half-way stops what was started.
    trap 'stop "$state" || true' ERR
    start_dockerd "$state"
    {
        echo "export DOCKER_HOST=unix://$state/docker.sock"
        echo "export PWT_IMAGE=pwtest:latest"
    } >> "$state/env"
    start_lxc "$state" "$(basename "$state" | tr -dc '0-9a-zA-Z' | tail -c 6)"
    start_podman "$state"
    trap - ERR
    say "engines ready; source $state/env"
}

# Sends TERM to pid $1 if its command is $2, then KILL after $3 tenths of a second.
stop_pid() {
    local pid=$1 comm=$2 tenths=$3
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    if ! wait_for "$tenths" test ! -d "/proc/$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 50 test ! -d "/proc/$pid" || say "WARNING: $comm $pid did not exit"
    fi
    say "stopped $comm $pid"
}

unmount_under() {
    local dir=$1 mount
    for mount in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -l "$mount" 2>/dev/null && say "unmounted $mount"
    done
}

stop() {
    local state=${1:?state directory}
    [ -d "$state" ] || return 0
    set +e
    # LXC: kill each container's init (lxc-stop -k), then destroy it.
    if [ -d "$state/lxc" ]; then
        local name
        for name in $(ls "$state/lxc"); do
            [ -f "$state/lxc/$name/config" ] || continue
            if [ "$(lxc-info -P "$state/lxc" -n "$name" -s -H 2>/dev/null)" != STOPPED ]; then
                lxc-stop -P "$state/lxc" -n "$name" -k && say "stopped LXC $name"
            fi
            lxc-destroy -P "$state/lxc" -n "$name" > /dev/null && say "destroyed LXC $name"
        done
    fi
    # Podman: the service by PID, then every container and image of the private storage.
    stop_pid "$(cat "$state/podman-service.pid" 2>/dev/null)" podman 50
    if [ -d "$state/podman" ]; then
        local podman="podman --root $state/podman/root --runroot $state/podman/run --tmpdir $state/podman/tmp --cgroup-manager=cgroupfs --events-backend=file --runtime runc"
        $podman rm -a -f -t 0 > /dev/null 2>&1
        $podman rmi -a -f > /dev/null 2>&1
        say "removed Podman containers and images"
    fi
    # Docker: every container of the private daemon, then the daemon and its containerd by PID.
    if [ -S "$state/docker.sock" ]; then
        local ids
        ids=$(docker -H "unix://$state/docker.sock" ps -aq 2>/dev/null)
        # shellcheck disable=SC2086
        [ -z "$ids" ] || docker -H "unix://$state/docker.sock" rm -f $ids > /dev/null
    fi
    local containerd_pid
    containerd_pid=$(cat "$state/docker-exec/containerd/containerd.pid" 2>/dev/null)
    stop_pid "$(cat "$state/dockerd.pid" 2>/dev/null || cat "$state/dockerd.launched" 2>/dev/null)" dockerd 200
    stop_pid "$containerd_pid" containerd 50
    unmount_under "$state"
    # Empty cgroups the engines leave behind (rmdir refuses those still in use).
    local cgroup
    for cgroup in /sys/fs/cgroup/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent/conmon \
        /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/*/libpod_parent \
        /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker /sys/fs/cgroup/lxc.pivot /sys/fs/cgroup/*/lxc.pivot; do
        [ -d "$cgroup" ] && rmdir "$cgroup" 2>/dev/null
    done
    if awk -v d="$state/" 'index($5, d) == 1 {found = 1} END {exit !found}' /proc/self/mountinfo; then
        say "WARNING: mounts remain under $state; leaving it"
        return 1
    fi
    # Every engine process names the state directory on its command line (conmon, shims).
    local pid leftovers=()
    # (The pattern comes from a file, so that grep's own command line does not match.)
    for pid in $(grep -lsF -f <(printf '%s/\n' "$state") /proc/[0-9]*/cmdline | cut -d/ -f3); do
        [ "$pid" = "$$" ] || leftovers+=("$pid")
    done
    if [ ${#leftovers[@]} -gt 0 ]; then
        say "WARNING: processes of the engines remain: ${leftovers[*]}; leaving $state"
        return 1
    fi
    rm -rf --one-file-system "$state"
    say "removed $state"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) die "usage: $0 install | start STATE_DIR | stop STATE_DIR" ;;
esac
