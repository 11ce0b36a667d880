"""Link queries and the building blocks (bridge, veth, addresses), checked with ``ip -j``."""

from __future__ import annotations

import errno
import socket
import subprocess

import pytest

import pipework
from iproute import addresses, ip_json, ip_link, link_names, pings
from pipework import Namespace
from pipework.pytest_plugin import NetnsFactory


def test_links_and_link_report_what_ip_reports(sandbox_host: Namespace) -> None:
    bridge = sandbox_host.bridge_add("br7", mtu=1400)
    assert bridge.kind == "bridge" and bridge.ifname == "br7" and bridge.up
    kernel = ip_link(sandbox_host, "br7")
    assert bridge.index == kernel["ifindex"]
    assert bridge.mtu == kernel["mtu"] == 1400
    assert bridge.address == kernel["address"]
    assert bridge.alias == kernel.get("ifalias") == "created by pipework"
    assert "UP" in kernel["flags"]
    # The same link by name and by index (its operational state follows the carrier, later).
    for found in (sandbox_host.link("br7"), sandbox_host.link(bridge.index)):
        assert (found.index, found.address, found.mtu) == (bridge.index, bridge.address, 1400)
    assert {link.ifname for link in sandbox_host.links()} == link_names(sandbox_host)
    lo = sandbox_host.link("lo")
    assert lo.kind is None and lo.up and lo.state == "unknown"


def test_link_objects_have_a_useful_repr_and_dict(sandbox_host: Namespace) -> None:
    link = sandbox_host.bridge_add("br8")
    text = repr(link)
    assert text.startswith(f"Link(index={link.index}, ifname='br8', kind='bridge', address='")
    assert "master=None" in text
    as_dict = link.to_dict()
    assert as_dict["name"] == "br8" and as_dict["index"] == link.index
    assert as_dict["mac"] == link.address and as_dict["kind"] == "bridge"
    assert hash(link) == hash(sandbox_host.link("br8"))


def test_a_missing_link_is_not_found(sandbox_host: Namespace) -> None:
    with pytest.raises(pipework.NotFound, match="link nothere"):
        sandbox_host.link("nothere")


def test_veth_add_creates_the_peer_inside_another_namespace(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    bridge = sandbox_host.bridge_add("br0")
    local = sandbox_host.veth_add(
        "vh0",
        "eth5",
        peer_netns=netns,
        mtu=1450,
        master="br0",
        address="02:00:00:00:0a:01",
        peer_address="02:00:00:00:0a:02",
        state="up",
    )
    assert local.kind == "veth" and local.master == bridge.index and local.mtu == 1450
    assert local.address == "02:00:00:00:0a:01"
    peer = netns.link("eth5")
    assert peer.address == "02:00:00:00:0a:02" and peer.mtu == 1450 and not peer.up
    assert local.link == peer.index and peer.link == local.index
    assert ip_link(sandbox_host, "vh0")["master"] == "br0"
    assert ip_link(netns, "eth5")["address"] == "02:00:00:00:0a:02"
    assert "eth5" not in link_names(sandbox_host)


def test_link_set_and_addresses_round_trip_through_the_kernel(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    sandbox_host.veth_add("vh1", "eth1", peer_netns=netns, state="up")
    netns.link_set("eth1", state="up", mtu=1300, address="02:00:00:00:0b:01")
    sandbox_host.addr_add("vh1", "10.9.0.1/24")
    netns.addr_add("eth1", "10.9.0.2/24")
    netns.addr_add("eth1", "2001:db8:9::2/64")
    kernel = ip_link(netns, "eth1")
    assert kernel["mtu"] == 1300 and kernel["address"] == "02:00:00:00:0b:01"
    assert "UP" in kernel["flags"]
    assert addresses(netns, "eth1") == {"10.9.0.2/24", "2001:db8:9::2/64"}
    got = {str(a) for a in netns.addresses("eth1") if not a.address.startswith("fe80")}
    assert got == {"10.9.0.2/24", "2001:db8:9::2/64"}
    v4 = next(a for a in netns.addresses("eth1") if a.family == socket.AF_INET)
    assert (v4.address, v4.prefixlen, v4.index) == ("10.9.0.2", 24, netns.link("eth1").index)
    assert repr(v4) == f"Address('10.9.0.2/24', index={v4.index})"
    assert v4.to_dict() == {"index": v4.index, "net": "10.9.0.2/24", "tentative": False}
    assert pings(netns, "10.9.0.1")
    assert netns.ping("10.9.0.1", timeout=5) < 5
    netns.addr_del("eth1", "10.9.0.2/24")
    assert addresses(netns, "eth1") == {"2001:db8:9::2/64"}
    netns.link_set("eth1", state="down")
    assert "UP" not in ip_link(netns, "eth1")["flags"]


def test_routes_are_read_per_family(sandbox_host: Namespace) -> None:
    sandbox_host.veth_add("vh2", "vh3", state="up")
    sandbox_host.addr_add("vh2", "10.8.0.1/24")
    sandbox_host.addr_add("vh2", "2001:db8:8::1/64")
    v4 = sandbox_host.routes()
    assert any(r.dst == "10.8.0.0/24" and r.oif == sandbox_host.link("vh2").index for r in v4)
    assert all(":" not in r.dst for r in v4)
    v6 = sandbox_host.routes(socket.AF_INET6)
    assert any(r.dst == "2001:db8:8::/64" for r in v6)
    route = next(r for r in v4 if r.dst == "10.8.0.0/24")
    assert not route.default and route.gateway is None
    assert repr(route).startswith("Route(dst='10.8.0.0/24', gateway=None, oif=")
    kernel = {r["dst"] for r in ip_json(sandbox_host, "route", "show")}
    assert "10.8.0.0/24" in kernel
    with pytest.raises(pipework.InvalidArgument, match="family"):
        sandbox_host.routes(family=12345)


def test_link_del_removes_both_ends(sandbox_host: Namespace, netns: Namespace) -> None:
    sandbox_host.veth_add("vh4", "eth4", peer_netns=netns)
    sandbox_host.link_del("vh4")
    assert "vh4" not in link_names(sandbox_host)
    assert "eth4" not in link_names(netns)
    with pytest.raises(pipework.NotFound):
        sandbox_host.link_del("vh4")


def test_link_set_master_puts_a_link_on_a_bridge(netns_factory: NetnsFactory) -> None:
    host = netns_factory("master")
    host.bridge_add("br3")
    host.veth_add("vh5", "vh6")
    host.link_set("vh5", master="br3")
    assert ip_link(host, "vh5")["master"] == "br3"


def test_wait_for_follows_the_kernels_notifications(sandbox_host: Namespace) -> None:
    import threading

    def later() -> None:
        sandbox_host.veth_add("vw0", "vw1", state="up")
        sandbox_host.link_set("vw1", state="up")
        sandbox_host.addr_add("vw0", "10.11.0.1/24")

    timer = threading.Timer(0.2, later)
    timer.start()
    try:
        link = sandbox_host.wait_for("vw0", "addressed", timeout=10)
    finally:
        timer.join()
    assert link.ifname == "vw0" and link.up and link.state == "up"
    assert "10.11.0.1/24" in addresses(sandbox_host, "vw0")
    assert sandbox_host.wait_for("vw0", "exists", timeout=0).index == link.index
    assert sandbox_host.wait_for("vw1").up
    # "routed" also needs a default route out of the link.
    assert sandbox_host.name is not None
    with pytest.raises(pipework.PipeworkError) as caught:
        sandbox_host.wait_for("vw0", "routed", timeout=0.2)
    assert caught.value.errno == errno.ETIMEDOUT
    subprocess.run(
        ["ip", "-n", sandbox_host.name, "route", "add", "default", "via", "10.11.0.254"], check=True
    )
    assert sandbox_host.wait_for("vw0", "routed", timeout=5).index == link.index


def test_wait_for_times_out_with_etimedout(sandbox_host: Namespace) -> None:
    import time

    started = time.monotonic()
    with pytest.raises(pipework.PipeworkError) as caught:
        sandbox_host.wait_for("never0", timeout=0.3)
    assert caught.value.errno == errno.ETIMEDOUT
    assert 0.3 <= time.monotonic() - started < 2
    with pytest.raises(pipework.InvalidArgument, match="condition"):
        sandbox_host.wait_for("never0", "soon")  # type: ignore[arg-type]
    with pytest.raises(pipework.InvalidArgument, match="timeout"):
        sandbox_host.wait_for("never0", timeout=-1)


def test_building_blocks_refuse_bad_arguments_by_name(sandbox_host: Namespace) -> None:
    with pytest.raises(pipework.InvalidArgument, match='invalid mtu "-5": out of range'):
        sandbox_host.bridge_add("br5", mtu=-5)
    with pytest.raises(pipework.InvalidArgument, match='invalid state "sideways"'):
        sandbox_host.veth_add("vb0", "vb1", state="sideways")  # type: ignore[arg-type]
    with pytest.raises(pipework.InvalidArgument, match="invalid mac"):
        sandbox_host.veth_add("vb0", "vb1", address="01:00:00:00:00:01")
    with pytest.raises(pipework.InvalidArgument, match="bridge name"):
        sandbox_host.bridge_add("a-name-far-too-long")
    assert link_names(sandbox_host) == {"lo"}


def test_the_module_level_wait_for_takes_a_namespace_a_guest_or_none(
    sandbox_host: Namespace,
) -> None:
    import threading

    def later() -> None:
        sandbox_host.veth_add("vm0", "vm1", state="up")
        sandbox_host.link_set("vm1", state="up")

    timer = threading.Timer(0.2, later)
    timer.start()
    try:
        link = pipework.wait_for(sandbox_host, "vm0", "up", timeout=10)
    finally:
        timer.join()
    assert link.ifname == "vm0" and link.up and ip_link(sandbox_host, "vm0")["operstate"] == "UP"
    assert sandbox_host.name is not None
    guest = pipework.resolve(sandbox_host.name)
    assert pipework.wait_for(guest, "vm1", state="exists").index == link.link
    guest.namespace.close()
    # None: the calling thread's namespace, like `pipework --wait` inside a container.
    assert pipework.wait_for(None, "lo", "exists", 1).ifname == "lo"


def test_the_module_level_wait_for_names_its_arguments(sandbox_host: Namespace) -> None:

    with pytest.raises(pipework.PipeworkError) as caught:
        pipework.wait_for(sandbox_host, "never2", timeout=0.2)
    assert caught.value.errno == errno.ETIMEDOUT
    with pytest.raises(pipework.InvalidArgument, match='invalid state "soon"'):
        pipework.wait_for(sandbox_host, "never2", "soon")  # type: ignore[arg-type]
    with pytest.raises(pipework.InvalidArgument, match="timeout"):
        pipework.wait_for(sandbox_host, "never2", timeout=float("nan"))
