"""DHCP against a real server: dnsmasq in a private LAN namespace (see lan.py), each test its own.

Outcomes are checked with ``ip -j`` in the guest and with the server's lease file and log.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pipework
from iproute import default_gateway, ip_json, ip_link, link_names, pings
from lan import DNS, LEASE_TIME, SERVER, Lan, dhcp_threads
from pipework import DhcpLease, DhcpOptions, Namespace
from pipework.pytest_plugin import NetnsFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lan(sandbox_host: Namespace, netns_factory: NetnsFactory, tmp_path: Path) -> Iterator[Lan]:
    """The LAN with dnsmasq serving it; dnsmasq is stopped after the test."""
    lan = Lan(sandbox_host, netns_factory, tmp_path)
    try:
        lan.start()
        yield lan
    finally:
        lan.stop()


@pytest.fixture
def silent_lan(sandbox_host: Namespace, netns_factory: NetnsFactory, tmp_path: Path) -> Lan:
    """The LAN with nothing answering DHCP."""
    return Lan(sandbox_host, netns_factory, tmp_path)


def state(ns: Namespace, ifname: str) -> tuple[dict[str, int], bool, object]:
    """What a failed DHCP attempt must leave as it was: IPv4 addresses, up or not, routes.

    (IPv6 link-local addresses come and go with the link on their own.)
    """
    up = "UP" in ip_link(ns, ifname)["flags"]
    return ipv4(ns, ifname), up, ip_json(ns, "route", "show")


def ipv4(ns: Namespace, ifname: str) -> dict[str, int]:
    """The IPv4 addresses of IFNAME as ``ip -j`` shows them, with their valid lifetime."""
    links = ip_json(ns, "-4", "addr", "show", "dev", ifname)
    return {
        f"{a['local']}/{a['prefixlen']}": a.get("valid_life_time", 2**32)
        for link in links
        for a in link["addr_info"]
    }


def test_attach_with_dhcp_applies_the_lease_and_detach_releases_it(lan: Lan) -> None:
    guest = lan.guest("web", ifname="eth0")  # A guest whose eth0 is elsewhere: dhcp on eth1.
    attachment = pipework.attach(guest, "br-lan", dhcp=True, host_netns=lan.host)
    lease = attachment.lease
    assert lease is not None and attachment.dhcp is None, "obtained once, kept by nobody"
    address = ipaddress.ip_interface(lease.address)
    assert address in ipaddress.ip_network("10.78.0.0/24") and address.network.prefixlen == 24
    assert (lease.router, lease.dns_servers, lease.domain) == (SERVER, [DNS], "lan.test")
    assert (lease.server, lease.lease_time, lease.ifname) == (SERVER, LEASE_TIME, "eth1")
    assert lease.hostname == guest.name and lease.mac == attachment.mac
    assert 0 < (lease.remaining or 0) <= LEASE_TIME
    assert repr(lease).startswith(f"LeaseRecord(ifname='eth1', address='{lease.address}'")
    # Independently: the kernel holds the address for the lease time, and the default route.
    lifetimes = ipv4(guest, "eth1")
    assert list(lifetimes) == [lease.address] and 0 < lifetimes[lease.address] <= LEASE_TIME
    assert default_gateway(guest) == SERVER
    assert pings(guest, SERVER)
    # The server: it leased that address to that MAC.
    assert lan.leases() == {attachment.mac: str(address.ip)}
    assert f"addresses=[], lease='{lease.address}', mac=" in repr(attachment)
    record = attachment.to_dict()["dhcp"]
    assert record["client"] == "native" and record["lease"]["address"] == lease.address
    attachment.detach()
    assert "DHCPRELEASE(lan0)" in lan.log() and lan.leases() == {}
    assert "eth1" not in link_names(guest) and default_gateway(guest) is None


def test_dhcp_lease_acquire_keeps_the_lease_and_with_releases_it(lan: Lan) -> None:
    guest = lan.guest("db", mac="02:00:00:00:78:02")
    before = ip_link(guest, "eth1")
    assert "UP" not in before["flags"], "the cable's guest end starts down"
    with DhcpLease.acquire(guest, "eth1", timeout=10, hostname="pydb") as lease:
        assert not lease.released and lease.ifname == "eth1"
        assert lease.router == SERVER and lease.dns_servers == [DNS]
        assert lease.lease_time == LEASE_TIME
        assert lease.record.hostname == "pydb" and lease.record.mac == "02:00:00:00:78:02"
        assert list(ipv4(guest, "eth1")) == [lease.address]
        assert lan.leases() == {"02:00:00:00:78:02": lease.address.split("/")[0]}
        assert "pydb" in lan.log()
        assert dhcp_threads("eth1") == 1, "a thread keeps renewing it"
        assert repr(lease) == (
            f"DhcpLease(ifname='eth1', address='{lease.address}', router='{SERVER}', "
            f"lease_time={LEASE_TIME}, released=False)"
        )
        # Nothing happens to a fresh two-minute lease within 0.3 s.
        started = time.monotonic()
        assert lease.next_event(timeout=0.3) is None
        assert 0.3 <= time.monotonic() - started < 2
    assert lease.released and "DHCPRELEASE(lan0)" in lan.log()
    assert lan.leases() == {} and ipv4(guest, "eth1") == {}
    assert "UP" not in ip_link(guest, "eth1")["flags"], "brought up by the lease, down again"
    assert dhcp_threads("eth1") == 0
    lease.release()  # A second release does nothing.
    assert lease.next_event(timeout=5) is None, "a released lease has no events"


def test_keep_true_renews_in_this_process_and_detach_releases_it(lan: Lan) -> None:
    guest = lan.guest("kept", ifname="eth0")
    options = DhcpOptions(keep=True, timeout=10)
    assert (options.client, options.keep) == ("native", "foreground")
    with pipework.attach(guest, "br-lan", dhcp=options, host_netns=lan.host) as attachment:
        kept = attachment.dhcp
        assert kept is not None and not kept.released
        assert attachment.lease is not None and attachment.lease.address == kept.address
        assert dhcp_threads("eth1") == 1
        assert list(ipv4(guest, "eth1")) == [kept.address]
    assert kept.released and lan.leases() == {}
    assert dhcp_threads("eth1") == 0 and "eth1" not in link_names(guest)


def test_without_a_server_the_timeout_is_a_dhcp_error_and_nothing_is_left(
    silent_lan: Lan,
) -> None:
    guest = silent_lan.guest("alone")
    before = state(guest, "eth1")
    started = time.monotonic()
    with pytest.raises(pipework.DhcpError) as caught:
        DhcpLease.acquire(guest, "eth1", timeout=1)
    assert 1 <= time.monotonic() - started < 3
    assert caught.value.errno == errno.ETIMEDOUT
    assert "no answer within 1s: no DHCP server answered" in str(caught.value)
    assert state(guest, "eth1") == before and not before[1]
    assert dhcp_threads("eth1") == 0
    # The same through attach: the veth it made is gone too.
    other = silent_lan.guest("alone2", ifname="eth0")
    host_links = link_names(silent_lan.host)
    with pytest.raises(pipework.DhcpError) as caught:
        pipework.attach(other, "br-lan", dhcp="dhcp:-T 1", host_netns=silent_lan.host)
    assert caught.value.errno == errno.ETIMEDOUT
    assert link_names(silent_lan.host) == host_links and "eth1" not in link_names(other)


def test_ctrl_c_ends_the_wait_for_a_lease_and_leaves_nothing(silent_lan: Lan) -> None:
    guest = silent_lan.guest("intr")
    before = state(guest, "eth1")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            DhcpLease.acquire(guest, "eth1", timeout=30)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2
    assert state(guest, "eth1") == before and dhcp_threads("eth1") == 0


def test_dhcp_words_and_options_are_read_like_the_command_line() -> None:
    options = DhcpOptions("dhcp:-f -O ntpsrv -T 2.5", hostname=False, request_options=[26])
    # As in the original, -f keeps the lease renewed in the background (a lease keeper).
    assert (options.client, options.keep, options.timeout) == ("native", "daemon", 2.5)
    assert options.request_options == [42, 26] and options.hostname is False
    assert options.options == ["-f", "-O", "ntpsrv", "-T", "2.5"]
    assert repr(options) == (
        "DhcpOptions(client='native', keep='daemon', timeout=2.5, "
        "options=['-f', '-O', 'ntpsrv', '-T', '2.5'])"
    )
    assert DhcpOptions().hostname is True and DhcpOptions(hostname="web").hostname == "web"
    external = DhcpOptions("udhcpc-f:-V vendor")
    assert (external.client, external.keep, external.options) == ("udhcpc", "daemon", ["-V", "vendor"])
    assert DhcpOptions("udhcpc", keep=True).keep == "daemon", "an external client keeps itself"
    assert DhcpOptions("dhcpcd", keep=False).keep == "once"
    assert DhcpOptions(keep="daemon").keep == "daemon"
    assert DhcpOptions("dhcp", timeout=5).timeout == DhcpOptions("dhcp:-T 5").timeout == 5.0
    assert DhcpOptions("dhcp:-T 5") == DhcpOptions("dhcp:-T 5") != DhcpOptions("dhcp")
    assert options.to_dict()["config"]["request_options"] == [42, 26]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: DhcpOptions("dhcp:-O nonsense"), 'invalid dhcp option "nonsense": is not an option'),
        (lambda: DhcpOptions("10.0.0.2/24"), 'invalid dhcp "10.0.0.2/24": is not a DHCP word'),
        (lambda: DhcpOptions(timeout=0), 'invalid dhcp timeout "0s": must be more than zero'),
        (lambda: DhcpOptions(timeout=-1), 'invalid timeout "-1": expected a finite number'),
        (lambda: DhcpOptions(keep="sometimes"), 'invalid keep "sometimes"'),  # type: ignore[arg-type]
        (lambda: DhcpOptions(request_options=["nonsense"]), 'invalid dhcp option "nonsense"'),
        (lambda: DhcpOptions(request_options=[53]), "part of the DHCP exchange"),
        (lambda: DhcpOptions(hostname="bad_name"), 'invalid hostname "bad_name"'),
        (lambda: DhcpOptions("udhcpc:-p /tmp/x"), 'invalid udhcpc option "-p"'),
        (lambda: DhcpOptions("udhcpc", keep=False, timeout=0), "more than zero"),
    ],
)
def test_bad_dhcp_settings_are_invalid_arguments(call: object, message: str) -> None:
    with pytest.raises(pipework.InvalidArgument) as caught:
        call()  # type: ignore[operator]
    assert caught.value.errno == errno.EINVAL and message in str(caught.value)


def test_bad_dhcp_requests_change_nothing(silent_lan: Lan) -> None:
    guest = silent_lan.guest("bad", ifname="eth0")
    before = (link_names(silent_lan.host), link_names(guest), ip_json(guest, "addr", "show"))
    with pytest.raises(pipework.InvalidArgument, match="static IPv4 cannot be added"):
        pipework.attach(
            guest, "br-lan", dhcp=True, addresses="10.78.0.5/24", host_netns=silent_lan.host
        )
    with pytest.raises(pipework.InvalidArgument, match="is not a DHCP word"):
        pipework.attach(guest, "br-lan", dhcp="sometimes", host_netns=silent_lan.host)
    with pytest.raises(pipework.NotFound, match="interface nosuch0"):
        DhcpLease.acquire(guest, "nosuch0", timeout=1)
    assert before == (link_names(silent_lan.host), link_names(guest), ip_json(guest, "addr", "show"))


def test_an_external_client_word_runs_that_client(lan: Lan) -> None:
    if shutil.which("udhcpc", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
        pytest.skip("busybox udhcpc is not installed (apt-get install udhcpc)")
    guest = lan.guest("ext", ifname="eth0")
    with pipework.attach(guest, "br-lan", dhcp="udhcpc:-V pwvendor", host_netns=lan.host) as a:
        assert a.lease is not None and a.to_dict()["dhcp"]["client"] == "udhcpc"
        assert list(ipv4(guest, "eth1")) == [a.lease.address]
        assert "pwvendor" in lan.log(), "the user's option reached the server"
    assert "eth1" not in link_names(guest)


def test_keep_daemon_leaves_a_keeper_process_that_detach_stops(
    lan: Lan, monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper = ROOT / "target" / "debug" / "pipework-dhcp-keeper"
    if not keeper.is_file():
        pytest.skip("build the lease keeper: cargo build -p pipework-core --bin pipework-dhcp-keeper")
    monkeypatch.setenv("PATH", f"{keeper.parent}:{os.environ.get('PATH', '')}")
    guest = lan.guest("daemon", ifname="eth0")
    options = DhcpOptions(keep="daemon", timeout=10)
    attachment = pipework.attach(guest, "br-lan", dhcp=options, host_netns=lan.host)
    process = attachment.to_dict()["dhcp"]["process"]
    assert attachment.dhcp is None, "kept by the keeper process, not by this one"
    os.kill(process["pid"], 0)  # It runs.
    assert dhcp_threads("eth1") == 0
    attachment.detach()
    assert lan.leases() == {} and "DHCPRELEASE(lan0)" in lan.log()
    assert not Path(f"/proc/{process['pid']}").exists() or _reaped_soon(process["pid"])


def _reaped_soon(pid: int) -> bool:
    """Whether process PID (a child of this process, reaped by a thread) is gone within 2 s."""
    deadline = time.monotonic() + 2
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
