"""pipework.tipc: the parts that need no TIPC in the kernel (bearer specs, identities,
addresses, bus settings) everywhere; on a kernel without TIPC the clear error that says how
to fix it, with nothing changed; on a kernel with TIPC (the VM tier) a bus of three guests.
"""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path
from typing import Any

import pytest

import pipework
from iproute import link_names
from pipework import tipc
from pipework.pytest_plugin import Attacher, NetnsFactory
from pipework.tipc import BearerSpec, NodeId, TipcAddress, TipcBus, TipcNode

HAS_TIPC = Path("/sys/module/tipc").exists()


def test_bearer_specs_are_read_like_the_command_line() -> None:
    eth = BearerSpec("eth:eth0")
    assert (eth.media, eth.name, eth.ifname, eth.local, eth.remote) == (
        "eth",
        "eth:eth0",
        "eth0",
        None,
        None,
    )
    assert str(eth) == "eth:eth0" and repr(eth) == "BearerSpec('eth:eth0')"
    assert eth.to_dict() == {"media": "eth", "ifname": "eth0"}
    udp = BearerSpec("udp:net1,local=10.0.0.1,remote=10.0.0.2:7000")
    assert (udp.media, udp.name, udp.ifname) == ("udp", "udp:net1", None)
    assert (udp.local, udp.remote) == ("10.0.0.1:6118", "10.0.0.2:7000")
    assert BearerSpec(str(udp)) == udp, "str() reads back to the same spec"
    by_interface = BearerSpec("udp:eth1")
    assert (by_interface.ifname, by_interface.local) == ("eth1", None)
    assert BearerSpec("udp:x,dev=eth2,port=7001").to_dict()["local"] == {
        "interface": {"ifname": "eth2", "port": 7001}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eth0", 'invalid bearer "eth0": expected eth:IFNAME or udp:NAME'),
        ("ib:ib0", 'invalid bearer "ib:ib0"'),
        ("eth:a-name-far-too-long", 'invalid bearer interface "a-name-far-too-long"'),
        ("udp:n,local=10.0.0.1,remote=[fe80::1]:6118", "is not of the same IP family"),
        ("udp:n,local=10.0.0.1,port=7", "give either local=IP[:PORT] or dev=/port="),
        ("udp:n,port=70000", 'invalid port "70000"'),
        ("udp:a:b", "no ':'"),
    ],
)
def test_bad_bearer_specs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(pipework.InvalidArgument) as caught:
        BearerSpec(text)
    assert caught.value.errno == errno.EINVAL and message in str(caught.value)


def test_node_identities_follow_iproute2() -> None:
    web = NodeId("web")
    assert str(web) == "web" and repr(web) == "NodeId('web')"
    assert web.bytes == b"web" + bytes(13)
    assert web.hash32 == 0x77656200, "the kernel's hash128to32 of the 16 bytes"
    assert NodeId.derive("web") == web, "a short guest name is its own identity"
    long = NodeId.derive("a-container-name-longer-than-16")
    assert len(str(long)) == 32 and NodeId(str(long)) == long
    assert NodeId.derive("a-container-name-longer-than-16") == long, "stable"
    assert NodeId.from_hex("abc") != NodeId("abc"), "hex digits, not the name's letters"
    assert NodeId.from_hex("abc").bytes[:2] == b"\xab\xc0"
    assert {web, NodeId("web"), long} == {web, long}
    for bad, message in [
        ("", 'invalid node identity "": a name has 1 to 16 characters'),
        ("x" * 17, "or up to 32 hex digits"),
        ("we b", "give a name of 1 to 16 characters"),
    ]:
        with pytest.raises(pipework.InvalidArgument, match=message):
            NodeId(bad)
    with pytest.raises(pipework.InvalidArgument, match="all zeros"):
        NodeId.from_hex("000")


def test_legacy_addresses() -> None:
    address = TipcAddress(1, 1, 3)
    assert (address.zone, address.cluster, address.node) == (1, 1, 3)
    assert str(address) == "1.1.3" and int(address) == 0x01001003
    assert TipcAddress.parse("1.1.3") == address and repr(address) == "TipcAddress('1.1.3')"
    with pytest.raises(pipework.InvalidArgument, match="4095"):
        TipcAddress(1, 4096, 1)
    with pytest.raises(pipework.InvalidArgument, match='invalid zone "256": out of range'):
        TipcAddress(256, 1, 1)
    with pytest.raises(pipework.InvalidArgument, match="0.0.0 is not a node address"):
        TipcAddress(0, 0, 0)
    with pytest.raises(pipework.InvalidArgument):
        TipcAddress.parse("1.1")


def test_bus_settings_and_identity_schemes(netns_factory: NetnsFactory) -> None:
    web = netns_factory("web")
    assert web.name is not None
    bus = TipcBus()
    assert (bus.net_id, str(bus.bearer), bus.wait_links) == (4711, "eth:eth0", 30.0)
    assert bus.identity_of(web) == str(NodeId.derive(web.name))
    templated = TipcBus(identity="node-{index}", bearer="udp:eth1", wait_links=False)
    assert templated.identity_of(web, 1) == "node-2" and templated.wait_links is None
    assert templated.bearer.media == "udp"
    legacy = TipcBus(identity=TipcAddress(1, 1, 10), wait_links=5)
    assert legacy.identity_of(web, 2) == "1.1.12" and legacy.wait_links == 5.0
    assert repr(legacy) == "TipcBus(net_id=4711, bearer='eth:eth0', wait_links=5.0)"
    assert TipcBus(net_id=42, tolerance=1500).to_dict()["props"]["tolerance"] == 1500
    with pytest.raises(pipework.InvalidArgument, match="identity template"):
        TipcBus(identity="{name}!").identity_of(web)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"net_id": 0}, 'invalid net id "0": must be from 1 to 9999'),
        ({"net_id": -5}, 'invalid net id "-5": out of range'),
        ({"tolerance": 1}, 'invalid tolerance "1": must be from 50 to 30000 ms'),
        ({"priority": 32}, 'invalid priority "32"'),
        ({"bearer": "eth0"}, 'invalid bearer "eth0"'),
        ({"wait_links": -1.0}, 'invalid wait_links "-1"'),
    ]
    for keywords, message in cases:
        with pytest.raises(pipework.InvalidArgument, match=message):
            TipcBus(**keywords)


@pytest.mark.skipif(HAS_TIPC, reason="this kernel has TIPC; the VM tier tests the bus")
def test_a_kernel_without_tipc_gives_the_fix_and_nothing_changes(
    netns_factory: NetnsFactory,
) -> None:
    a, b = netns_factory("ta"), netns_factory("tb")
    for call in (
        lambda: TipcNode.open(a),
        lambda: TipcNode.open(pipework.resolve(str(b.name))),
        lambda: tipc.configure([a, b], net_id=42),
        lambda: TipcBus().show([a]),
    ):
        with pytest.raises(pipework.TipcError) as caught:
            call()
        assert caught.value.errno == errno.EOPNOTSUPP
        message = str(caught.value)
        assert "the kernel has no TIPC" in message and "Fix: `modprobe tipc`" in message
        assert isinstance(caught.value, OSError)
    assert link_names(a) == link_names(b) == {"lo"}


def test_guests_are_checked_before_tipc_is_asked(netns_factory: NetnsFactory) -> None:
    a = netns_factory("dup")
    with pytest.raises(pipework.InvalidArgument, match="a bus needs at least one guest"):
        TipcBus().configure([])
    with pytest.raises(pipework.ResolveError):
        TipcBus().configure([a, "no-such-guest-anywhere"])
    with pytest.raises(TypeError):
        TipcBus().configure("a string is not a list")


@pytest.mark.skipif(not HAS_TIPC, reason="needs a kernel with TIPC: the VM tier runs it")
def test_a_bus_of_three_guests_links_every_pair_and_a_rerun_changes_nothing(
    netns_factory: NetnsFactory, attached: Attacher
) -> None:
    guests = [netns_factory(label) for label in ("ta", "tb", "tc")]
    for guest in guests:
        attached(guest, "br0", ifname="eth0")
    report = tipc.configure(guests, net_id=4242, wait_links=60)
    assert report.all_links_up and report.changed, str(report)
    assert len(report.links) == 6 and all(link.up for link in report.links)
    for member, guest in zip(report.nodes, guests):
        assert member.guest == guest.name and member.net_id == 4242
        assert member.bearers == ["eth:eth0"]
        assert member.identity == NodeId.derive(str(guest.name))
        assert "bearer eth:eth0" in member.changes
    assert report.to_dict()["links"][0]["up"] is True and "LINK" in str(report)
    # Independently: iproute2's tipc sees two links up and the broadcast link in each guest.
    for guest in guests:
        listing = subprocess.run(
            ["ip", "netns", "exec", str(guest.name), "tipc", "link", "list"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert listing.count(": up") == 3, listing
    node = TipcNode.open(guests[0])
    assert node.net_id == 4242 and node.identity == report.nodes[0].identity
    assert [bearer.name for bearer in node.bearers()] == ["eth:eth0"]
    assert sorted(peer.up for peer in node.peers()) == [True, True]
    links = [link for link in node.links() if not link.broadcast]
    assert len(links) == 2 and all(link.up and link.mtu > 0 for link in links)
    assert all(link.stats["rx_states"] > 0 for link in links)
    again = TipcBus(net_id=4242).configure(guests)
    assert not again.changed and again.all_links_up
    with pytest.raises(pipework.TipcError) as caught:
        node.set_identity("another")
    assert caught.value.errno == errno.EBUSY and "cannot be changed" in str(caught.value)
