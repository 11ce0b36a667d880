#!/usr/bin/env python3
"""``pipework br-lan web dhcp U:web`` from Python, against a real DHCP server in a sandbox.

A private "host" namespace with bridge br-lan, a "lan" namespace on it where dnsmasq serves
10.89.0.0/24, and a "container" that gets its address by DHCP with pipework's own client,
renewed by this process while the attachment lives and released by ``detach()``. dnsmasq is
stopped by its PID and every namespace is deleted, even when a step fails.

Run as root after ``pip install ./pipework-py`` (dnsmasq from ``apt-get install dnsmasq-base``):
``python3 examples/python/dhcp.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pipework


def start_dnsmasq(lan: pipework.Namespace, files: Path) -> subprocess.Popen[bytes]:
    """dnsmasq on lan0 of namespace LAN, with its lease file and log in FILES."""
    assert lan.name is not None
    log = files / "dnsmasq.log"
    command = ["ip", "netns", "exec", lan.name, "dnsmasq", "--keep-in-foreground"]
    command += ["--conf-file=/dev/null", "--port=0", "--interface=lan0", "--bind-interfaces"]
    command += ["--no-ping", "--user=root", f"--log-facility={log}"]
    command += [f"--dhcp-leasefile={files / 'leases'}", f"--pid-file={files / 'pid'}"]
    command += ["--dhcp-option=option:dns-server,10.89.0.1"]
    command += ["--dhcp-range=10.89.0.10,10.89.0.99,2m"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not log.exists() or "sockets bound exclusively" not in log.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dnsmasq did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.02)
    return server


def main() -> int:
    prefix = f"pwpydhcp{os.getpid()}"
    with (
        tempfile.TemporaryDirectory(prefix="pwpy-dhcp-") as files,
        pipework.Namespace.create(f"{prefix}-host") as host,
        pipework.Namespace.create(f"{prefix}-lan") as lan,
        pipework.Namespace.create(f"{prefix}-web") as web,
    ):
        host.bridge_add("br-lan")
        host.veth_add("lanh", "lan0", peer_netns=lan, master="br-lan", state="up")
        lan.addr_add("lan0", "10.89.0.1/24")
        lan.link_set("lan0", state="up")
        server = start_dnsmasq(lan, Path(files))
        try:
            options = pipework.DhcpOptions(keep=True, timeout=10)
            with pipework.attach(web, "br-lan", mac="U:web", dhcp=options, host_netns=host) as a:
                print(f"pipework br-lan {web.name} dhcp U:web: {a}")
                print(f"lease: {a.lease}")
                assert a.dhcp is not None and a.lease is not None
                print(f"kept by this process: {a.dhcp}")
                print(f"what happens to it within 1 s: {a.dhcp.next_event(1)}")
                print(f"web -> 10.89.0.1: ICMP echo reply in {web.ping('10.89.0.1') * 1e3:.3f} ms")
            leases = (Path(files) / "leases").read_text().strip() or "none"
            print(f"detached: lease released ({a.dhcp.released}), server's leases: {leases}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (pipework.PipeworkError, RuntimeError) as err:
        print(f"dhcp demo failed: {err}", file=sys.stderr)
        sys.exit(1)
