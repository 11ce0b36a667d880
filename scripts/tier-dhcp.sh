#!/usr/bin/env bash
# The DHCP tier: pipework's own client, the external clients and the lease keeper against a
# real DHCP server (dnsmasq), each test in its own private namespaces.
#
# On a fresh Debian machine, as root: installs dnsmasq-base (the server binary, without the
# dnsmasq package's system service, which would answer DNS on the host), udhcpc (busybox),
# isc-dhcp-client (dhclient) and dhcpcd-base, then runs the tier_dhcp tests and the DHCP
# example. The tests start dnsmasq themselves, each with a private lease file and pid file,
# in a "LAN" namespace, and stop it by its PID; nothing runs on the host's interfaces.
#
# Usage: scripts/tier-dhcp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/tier-dhcp.sh must run as root: the tests create namespaces and raw sockets" >&2
    exit 1
fi

source scripts/apt.sh
apt_install dnsmasq-base udhcpc isc-dhcp-client dhcpcd-base
for program in dnsmasq udhcpc dhclient dhcpcd; do
    command -v "$program" >/dev/null || { echo "tier dhcp: $program is missing after install" >&2; exit 1; }
done

# What runs and what exists before, to prove the tier leaves nothing behind: processes with
# the tests' files on their command line, lease keepers, and dhcpcd outside the host's
# namespace (its command line names no file).
clients() {
    {
        pgrep -f '/run/pipework/dhcp|/tmp/pipework-pwt|/pipework-dhcp-keeper' || true
        for pid in $(pgrep -x dhcpcd || true); do
            [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/1/ns/net)" ] && echo "$pid"
        done
    } | sort -u
}
clients_before=$(clients)
run_dirs_before=$(ls /run/pipework/dhcp 2>/dev/null | sort || true)
resolv_before=$(md5sum /etc/resolv.conf 2>/dev/null || true)
hostname_before=$(cat /proc/sys/kernel/hostname)

# Most tests wait on the network, not the CPU: run them side by side. One test waits for a
# lease's T1 (dnsmasq's shortest lease is 2 minutes, so about 60 s); the rest take seconds.
cargo test --quiet -p pipework-core --test dhcp -- --include-ignored tier_dhcp --test-threads=8
cargo test --quiet -p pipework-core --test faults -- --include-ignored tier_dhcp
cargo test --quiet -p pipework-cli --test cli -- --include-ignored tier_dhcp
cargo run --quiet --example dhcp

clients_after=$(clients)
run_dirs_after=$(ls /run/pipework/dhcp 2>/dev/null | sort || true)
status=0
left=$(comm -13 <(echo "$clients_before") <(echo "$clients_after"))
if [ -n "$left" ]; then
    echo "LEAK: DHCP processes left running:" >&2
    echo "$left" | xargs -r ps -o pid,args -p >&2 || true
    status=1
fi
new_dirs=$(comm -13 <(echo "$run_dirs_before") <(echo "$run_dirs_after"))
if [ -n "$new_dirs" ]; then
    echo "LEAK: files left under /run/pipework/dhcp: $new_dirs" >&2
    status=1
fi
if [ "$resolv_before" != "$(md5sum /etc/resolv.conf 2>/dev/null || true)" ]; then
    echo "the host's /etc/resolv.conf was changed" >&2
    status=1
fi
if [ "$hostname_before" != "$(cat /proc/sys/kernel/hostname)" ]; then
    echo "the host's host name was changed" >&2
    status=1
fi
[ "$status" = 0 ] && echo "tier dhcp: nothing left behind, host resolv.conf and host name untouched"
exit "$status"
