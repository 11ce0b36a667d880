"""A private LAN with a real DHCP server for the DHCP tests: bridge ``br-lan`` in the sandbox
host namespace, dnsmasq in its own namespace on it, and guests cabled to it by veth pairs.

dnsmasq runs with a private lease file, pid file and log in a temporary directory, and is
stopped by its PID (``ip netns exec`` execs it, so the child's PID is dnsmasq's).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipework import Namespace
from pipework.pytest_plugin import NetnsFactory

SERVER = "10.78.0.1"
"""The server's (and router's) address on the LAN."""

DNS = "10.78.0.53"
"""The DNS server the leases name."""

LEASE_TIME = 120
"""dnsmasq's shortest lease, in seconds."""


def dnsmasq_program() -> str:
    """The dnsmasq binary, or a skip with the reason (scripts/tier-python.sh installs it)."""
    program = shutil.which("dnsmasq", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if program is None:
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq-base)")
    return program


class Lan:
    """The LAN: its bridge in ``host``, its server namespace, and the guests cabled to it."""

    def __init__(self, host: Namespace, factory: NetnsFactory, directory: Path) -> None:
        self.host = host
        self._factory = factory
        self.directory = directory
        self.server = factory("lan")
        self._dnsmasq: subprocess.Popen[bytes] | None = None
        self._cables = 0
        host.bridge_add("br-lan")
        host.veth_add("lanh", "lan0", peer_netns=self.server, master="br-lan", state="up")
        self.server.addr_add("lan0", f"{SERVER}/24")
        self.server.link_set("lan0", state="up")

    def start(self, *extra: str) -> None:
        """Starts dnsmasq serving 10.78.0.10-99 with 2-minute leases, plus ``extra`` options."""
        assert self.server.name is not None
        log = self.directory / "dnsmasq.log"
        command = ["ip", "netns", "exec", self.server.name, dnsmasq_program()]
        command += ["--keep-in-foreground", "--conf-file=/dev/null", "--port=0"]
        command += ["--interface=lan0", "--bind-interfaces", "--dhcp-authoritative"]
        command += ["--no-ping", "--user=root", "--log-dhcp", f"--log-facility={log}"]
        command += [f"--dhcp-leasefile={self.directory / 'leases'}"]
        command += [f"--pid-file={self.directory / 'dnsmasq.pid'}"]
        command += [f"--dhcp-option=option:dns-server,{DNS}"]
        command += ["--dhcp-option=option:domain-name,lan.test", *extra]
        command += ["--dhcp-range=10.78.0.10,10.78.0.99,2m"]
        self._dnsmasq = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while "sockets bound exclusively" not in self.log():
            assert self._dnsmasq.poll() is None, f"dnsmasq exited: {self.log()}"
            assert time.monotonic() < deadline, f"dnsmasq did not start: {self.log()}"
            time.sleep(0.02)

    def stop(self) -> None:
        """Stops dnsmasq by its PID, if it runs."""
        if self._dnsmasq is not None and self._dnsmasq.poll() is None:
            os.kill(self._dnsmasq.pid, signal.SIGTERM)
            self._dnsmasq.wait(timeout=10)
        self._dnsmasq = None

    def guest(self, label: str, ifname: str = "eth1", mac: str | None = None) -> Namespace:
        """A new guest namespace cabled to the LAN by a veth whose end ``ifname`` is down."""
        guest = self._factory(label)
        self._cables += 1
        cable = f"lanc{self._cables}"
        self.host.veth_add(
            cable, ifname, peer_netns=guest, master="br-lan", state="up", peer_address=mac
        )
        return guest

    def log(self) -> str:
        """What dnsmasq logged."""
        path = self.directory / "dnsmasq.log"
        return path.read_text() if path.exists() else ""

    def leases(self) -> dict[str, str]:
        """The leases the server holds, from its lease file: address by MAC."""
        path = self.directory / "leases"
        lines = path.read_text().splitlines() if path.exists() else []
        return {line.split()[1]: line.split()[2] for line in lines if line.strip()}


def dhcp_threads(ifname: str) -> int:
    """How many of this process's threads are pipework DHCP clients for ``ifname``."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == f"pw-dhcp-{ifname}":
                count += 1
        except OSError:
            continue  # The thread ended meanwhile.
    return count
