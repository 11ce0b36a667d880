#!/usr/bin/env bash
# Runs one command as root inside a throw-away QEMU virtual machine that boots Debian's stock
# kernel, for the tests that need kernel features the host lacks (802.1Q, dummy, ipvlan, bridge
# VLAN filtering, TIPC, Open vSwitch).
#
# Usage: scripts/vm-test.sh [--ovs] [-v] [--] COMMAND [ARG...]
#
#   --ovs        start ovsdb-server and ovs-vswitchd inside the VM before COMMAND
#                (database and sockets in the VM's /run/openvswitch)
#   -v           stream the guest's kernel console to stderr
#
# The VM sees the host's whole filesystem read-only, under a copy-on-write tmpfs layer: every
# path is visible and writable inside, and every write vanishes at power-off. /run, /dev, /proc
# and /sys are fresh. COMMAND runs as root in the caller's directory with the caller's
# environment plus PIPEWORK_VM=1, stdin from /dev/null; its stdout and stderr arrive on this
# script's. The VM has no network card.
#
# Exit status: COMMAND's own; 124 when COMMAND outlives PIPEWORK_VM_TIMEOUT; 125 when the VM
# could not be prepared or did not boot within PIPEWORK_VM_BOOT_TIMEOUT (the reason and the end
# of the guest console are printed).
#
# Prerequisites (installed with apt-get when missing, no service started on the host):
# qemu-system-x86, linux-image-amd64, busybox-static, openvswitch-switch, kmod, cpio, xz-utils.
#
# Knobs (environment):
#   PIPEWORK_VM_MODULES        modules loaded before COMMAND
#                              (default: 8021q dummy geneve ipvlan openvswitch tipc veth)
#   PIPEWORK_VM_TIMEOUT        seconds COMMAND may run (default 900)
#   PIPEWORK_VM_BOOT_TIMEOUT   seconds the VM may take to reach COMMAND (default 120)
#   PIPEWORK_VM_MEM            guest memory (default 1G)
#   PIPEWORK_VM_CPUS           vCPUs (default: the host's, at most 4)
#   PIPEWORK_VM_CACHE          cache of the initramfs and vmlinux
#                              (default ${XDG_CACHE_HOME:-~/.cache}/pipework-vm)
#   PIPEWORK_VM_KERNEL         the vmlinuz to boot (default: the newest Debian amd64 kernel
#                              whose modules include 8021q)
#   PIPEWORK_VM_NO_INSTALL=1   never run apt-get; a missing prerequisite is a failure (125)
#
# Why TCG and not KVM: on this project's CI hosts /dev/kvm is a nested PVM hypervisor that runs
# only PVM-enabled guest kernels; a stock kernel crawls there or dies on an unemulated
# instruction. KVM is used only when the CPU advertises vmx or svm.
set -euo pipefail

readonly ME=vm-test.sh
# Part of the cache key: bump when the initramfs layout below changes.
readonly INITRAMFS_LAYOUT=1

note() { printf '%s: %s\n' "$ME" "$*" >&2; }
fail() {
    printf '%s: VM unavailable: %s\n' "$ME" "$*" >&2
    exit 125
}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

with_ovs=0
verbose=0
while [ $# -gt 0 ]; do
    case $1 in
    --ovs) with_ovs=1 ;;
    -v) verbose=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        break
        ;;
    -*) fail "unknown option $1 (put -- before a command that starts with -)" ;;
    *) break ;;
    esac
    shift
done
[ $# -gt 0 ] || {
    usage >&2
    exit 125
}

modules=${PIPEWORK_VM_MODULES-8021q dummy geneve ipvlan openvswitch tipc veth}
timeout_s=${PIPEWORK_VM_TIMEOUT:-900}
boot_timeout_s=${PIPEWORK_VM_BOOT_TIMEOUT:-120}
memory=${PIPEWORK_VM_MEM:-1G}
cpus=${PIPEWORK_VM_CPUS:-$(($(nproc) < 4 ? $(nproc) : 4))}
cache_root=${PIPEWORK_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/pipework-vm}

[ "$(id -u)" = 0 ] || fail "must run as root (it may install packages and boots a VM)"

# --- prerequisites ---------------------------------------------------------------------------

# The newest Debian kernel image whose module tree has 8021q (a sign of a full distribution kernel).
pick_kernel() {
    if [ -n "${PIPEWORK_VM_KERNEL:-}" ]; then
        echo "$PIPEWORK_VM_KERNEL"
        return
    fi
    local image
    for image in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -rV); do
        if compgen -G "/lib/modules/${image#/boot/vmlinuz-}/kernel/net/8021q/8021q.ko*" >/dev/null; then
            echo "$image"
            return
        fi
    done
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -n "$(pick_kernel)" ] || missing+=(linux-image-amd64)
# The initramfs needs a statically linked busybox (it has no libraries).
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
[ -x /usr/sbin/ovs-vswitchd ] || missing+=(openvswitch-switch)
command -v modprobe >/dev/null || [ -x /usr/sbin/modprobe ] || missing+=(kmod)
command -v cpio >/dev/null || missing+=(cpio)
command -v xz >/dev/null || missing+=(xz-utils)

if [ ${#missing[@]} -gt 0 ]; then
    [ "${PIPEWORK_VM_NO_INSTALL:-0}" != 1 ] || fail "missing packages ${missing[*]} (PIPEWORK_VM_NO_INSTALL=1)"
    command -v apt-get >/dev/null || fail "missing packages ${missing[*]} and no apt-get to install them"
    note "installing ${missing[*]}"
    # No service may start on the host (openvswitch-switch would start its daemons): a
    # policy-rc.d that denies every start, ours only for the duration of the install.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    # A machine that does not boot from /boot (a container, a VM with an external kernel) has
    # no use for the initramfs linux-image-amd64 would build for itself.
    apt_env=(DEBIAN_FRONTEND=noninteractive)
    [ -e "/boot/vmlinuz-$(uname -r)" ] || apt_env+=(INITRD=No)
    apt=(env "${apt_env[@]}" apt-get -q -o DPkg::Lock::Timeout=300)
    installed=0
    if "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 \
        || { "${apt[@]}" update >&2 && "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }; then
        installed=1
    fi
    [ $own_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
    [ $installed = 1 ] || fail "apt-get could not install ${missing[*]}"
fi

kernel=$(pick_kernel)
[ -r "$kernel" ] || fail "no bootable kernel (PIPEWORK_VM_KERNEL=${PIPEWORK_VM_KERNEL:-unset})"
kver=${kernel##*/vmlinuz-}
[ -d "/lib/modules/$kver" ] || fail "/lib/modules/$kver is missing for $kernel"
modprobe=$(command -v modprobe || echo /usr/sbin/modprobe)

# --- cached boot artefacts -------------------------------------------------------------------

# Stage 1, the initramfs's /init (busybox, PID 1): loads the drivers for the shared folders,
# builds the guest's root (host "/" read-only + tmpfs, joined by overlayfs) and hands over to
# the per-run guest script, which lives in the control folder the host shares read-write.
read -r -d '' stage1 <<'STAGE1' || true
#!/bin/busybox sh
/bin/busybox --install -s /bin
halt_with() { echo "pipework-vm: $*" >/dev/console; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r module; do
    insmod "/modules/$module" || echo "pipework-vm: insmod $module failed" >/dev/console
done </modules/load-order
share() { mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$2" "$1" "$3"; }
mkdir -p /host /layer /root /control
share hostroot ro,cache=loose /host || halt_with "cannot mount the host's root"
share control rw /control || halt_with "cannot mount the control folder"
mount -t tmpfs -o mode=0755 layer /layer
mkdir /layer/upper /layer/work
mount -t overlay -o lowerdir=/host,upperdir=/layer/upper,workdir=/layer/work root /root \
    || halt_with "cannot build the copy-on-write root (overlayfs)"
mount -t proc proc /root/proc
mount -t sysfs sys /root/sys
mount -t devtmpfs dev /root/dev
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts -o mode=620,ptmxmode=666 devpts /root/dev/pts
mount -t tmpfs -o mode=1777 shm /root/dev/shm
mount -t cgroup2 cgroup2 /root/sys/fs/cgroup 2>/dev/null
mount -t tmpfs -o mode=0755 run /root/run
mkdir -p /root/run/pipework-vm
mount --move /control /root/run/pipework-vm || halt_with "cannot move the control folder"
exec switch_root /root /bin/bash /run/pipework-vm/guest.sh
STAGE1

cache=$cache_root/$kver
mkdir -p "$cache"
exec 8>"$cache/lock"
flock 8 # concurrent first runs build the cache once

key=$(printf '%s\n%s\n%s\n' "$INITRAMFS_LAYOUT" "$stage1" "$(stat -c '%s %Y' "$kernel" /bin/busybox)" | md5sum | cut -c1-16)
initramfs=$cache/initramfs-$key.cpio.gz
if [ ! -s "$initramfs" ]; then
    note "building the initramfs for $kver"
    tree=$(mktemp -d)
    mkdir -p "$tree"/{bin,modules,proc,sys,dev}
    cp /bin/busybox "$tree/bin/busybox"
    printf '%s\n' "$stage1" >"$tree/init"
    chmod 755 "$tree/init"
    # The drivers for virtio 9p shares and overlayfs, dependencies first; busybox's insmod
    # wants plain ELF objects, so compressed modules are unpacked.
    for module in virtio_pci 9pnet_virtio 9p overlay; do
        "$modprobe" --set-version "$kver" --show-depends "$module"
    done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r path; do
        file=${path##*/}
        case $file in
        *.ko.xz) xz -dc "$path" >"$tree/modules/${file%.xz}" ;;
        *.ko.zst) zstd -qdc "$path" >"$tree/modules/${file%.zst}" ;;
        *.ko.gz) gzip -dc "$path" >"$tree/modules/${file%.gz}" ;;
        *) cp "$path" "$tree/modules/$file" ;;
        esac
        echo "${file%.ko*}.ko" >>"$tree/modules/load-order"
    done
    if ! grep -qx 9p.ko "$tree/modules/load-order" 2>/dev/null; then
        rm -rf "$tree"
        fail "cannot find the 9p module of $kver"
    fi
    (cd "$tree" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$initramfs.part"
    mv "$initramfs.part" "$initramfs"
    rm -rf "$tree"
    find "$cache" -name 'initramfs-*.cpio.gz' ! -name "${initramfs##*/}" -delete
fi

# QEMU boots an uncompressed ELF vmlinux through its PVH entry point, skipping the bzImage's
# decompressor (about 2.5 s when emulated). Debian's payload is xz: unpack the first xz stream
# after the setup code and keep it if it is an ELF file; otherwise boot the bzImage.
boot_image=$kernel
vmlinux=$cache/vmlinux-$(stat -c '%s-%Y' "$kernel")
if [ ! -s "$vmlinux" ] && [ ! -e "$vmlinux.unusable" ]; then
    offset=$(LC_ALL=C grep -obUaP -m1 '\xfd7zXZ\x00' "$kernel" | head -n1 | cut -d: -f1 || true)
    if [ -n "$offset" ]; then
        tail -c "+$((offset + 1))" "$kernel" | xz -dc --single-stream >"$vmlinux.part" 2>/dev/null || true
    fi
    if [ -s "$vmlinux.part" ] && [ "$(head -c4 "$vmlinux.part" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv "$vmlinux.part" "$vmlinux"
        find "$cache" -name 'vmlinux-*' ! -name "${vmlinux##*/}" -delete
    else
        rm -f "$vmlinux.part"
        : >"$vmlinux.unusable"
    fi
fi
[ -s "$vmlinux" ] && boot_image=$vmlinux
exec 8>&-

# --- the run ---------------------------------------------------------------------------------

run=$(mktemp -d "${TMPDIR:-/tmp}/pipework-vm.XXXXXX")
qemu_pid=
relays=()
finish() {
    [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
    for pid in "${relays[@]+"${relays[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What the guest needs to know, in files of the control folder: the command (NUL-separated
# arguments), the environment (NUL-separated), the directory, the modules and whether to start OVS.
printf '%s\0' "$@" >"$run/argv"
env -0 >"$run/environ"
cwd=$(pwd -P)
case $cwd in /proc* | /sys* | /dev* | /run*) cwd=/ ;; esac
printf '%s\n' "$cwd" >"$run/cwd"
printf '%s\n' "$modules" >"$run/modules"
printf '%s\n' "$with_ovs" >"$run/ovs"
: >"$run/stdout"
: >"$run/stderr"

# Stage 2 (bash, PID 1 on the assembled root): prepares, runs the command, records its status.
cat >"$run/guest.sh" <<'GUEST'
control=/run/pipework-vm
touch $control/booted
exec </dev/null >>$control/stderr 2>&1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
busybox hostname pipework-vm
ip link set lo up
mkdir -p /run/netns /run/lock
for module in $(cat $control/modules); do
    modprobe "$module" || echo "pipework-vm: warning: modprobe $module failed" &
done
wait
start_ovs() {
    mkdir -p /run/openvswitch /var/log/openvswitch
    ovsdb-tool create /run/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema &&
        ovsdb-server /run/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock \
            --pidfile --detach --no-chdir -vconsole:off --log-file &&
        ovs-vsctl --no-wait init &&
        ovs-vswitchd --pidfile --detach --no-chdir -vconsole:off --log-file || return
    # ovs-vswitchd 3.1 (Debian 12) counts the CPUs for its per-CPU upcall handlers at most once
    # every 10 s of the monotonic clock, from 0: a datapath it opens in the first 10 s after boot
    # gets 0 handlers ("Overriding n-handler-threads to 0" in its log), every upcall is lost
    # (ovs-dpctl show: lost) and nothing is forwarded. A VM that booted faster waits here.
    while [ "$(cut -d. -f1 /proc/uptime)" -lt 11 ]; do sleep 0.2; done
}
status=
if [ "$(cat $control/ovs)" = 1 ] && ! start_ovs; then
    echo "pipework-vm: Open vSwitch did not start:"
    cat /var/log/openvswitch/*.log
    status=125
fi
if [ -z "$status" ]; then
    while IFS= read -r -d '' entry; do
        case ${entry%%=*} in
        BASH* | SHELLOPTS | PPID | UID | EUID | SHLVL | PWD | OLDPWD | HOSTNAME | _) ;;
        *) export "$entry" 2>/dev/null || true ;;
        esac
    done <$control/environ
    export PIPEWORK_VM=1
    mapfile -d '' -t argv <$control/argv
    if cd "$(cat $control/cwd)"; then
        "${argv[@]}" >>$control/stdout 2>>$control/stderr
        status=$?
    else
        status=125
    fi
fi
echo "$status" >$control/status.part && mv $control/status.part $control/status
sync
busybox poweroff -f
GUEST

accel=(-accel "tcg,thread=multi" -cpu max)
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=(-accel kvm -cpu host); fi

# Kernel parameters for a fast throw-away VM: no speculation mitigations, no waiting for entropy,
# no crypto self-tests, no timer check (each costs tenths of a second under emulation).
cmdline="console=ttyS0 panic=-1 rdinit=/init mitigations=off random.trust_cpu=on"
cmdline+=" cryptomgr.notests initcall_blacklist=crypto_kdf108_init no_timer_check"
[ $verbose = 1 ] && cmdline+=" loglevel=7" || cmdline+=" quiet loglevel=4"

qemu=(qemu-system-x86_64 -machine pc "${accel[@]}" -m "$memory" -smp "$cpus"
    -nodefaults -no-user-config -display none -no-reboot -nic none
    -kernel "$boot_image" -initrd "$initramfs" -append "$cmdline"
    -serial "file:$run/console"
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$run,mount_tag=control,security_model=none,multidevs=remap")

# The command's output reaches the host as files in the control folder; relay them as they grow.
# (exec: the background job's PID is tail's own, so it can be stopped.)
relay() { exec tail -n +1 -s 0.1 -F "$1" 2>/dev/null; }
relay "$run/stdout" &
relays+=($!)
relay "$run/stderr" >&2 &
relays+=($!)
if [ $verbose = 1 ]; then
    : >"$run/console"
    relay "$run/console" >&2 &
    relays+=($!)
fi

"${qemu[@]}" </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!
started=$SECONDS
booted_at=
verdict=
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ -z "$booted_at" ] && [ -e "$run/booted" ]; then booted_at=$SECONDS; fi
    if [ -z "$booted_at" ] && [ $((SECONDS - started)) -ge "$boot_timeout_s" ]; then
        verdict="the VM did not boot within ${boot_timeout_s}s"
        break
    fi
    if [ -n "$booted_at" ] && [ $((SECONDS - booted_at)) -ge "$timeout_s" ]; then
        verdict=timeout
        break
    fi
    sleep 0.2
done
if [ -n "$verdict" ]; then
    kill "$qemu_pid" 2>/dev/null || true
fi
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
# Let the relays print what is left, then stop them.
sleep 0.3
for pid in "${relays[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
relays=()

if [ -s "$run/status" ]; then
    exit "$(cat "$run/status")"
fi
if [ "$verdict" = timeout ]; then
    note "the command did not finish within ${timeout_s}s; the VM was stopped"
    exit 124
fi
[ -n "$verdict" ] || verdict="the VM stopped before the command finished"
note "VM unavailable: $verdict"
sed 's/^/  qemu: /' "$run/qemu.log" >&2
if [ $verbose = 0 ] && [ -s "$run/console" ]; then
    note "last lines of the guest console:"
    tail -n 30 "$run/console" | sed 's/^/  | /' >&2
fi
exit 125
