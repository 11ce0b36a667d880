"""The host sides besides a bridge, and VLANs: attach()'s mode, macvtap, ipvlan, direct_phys,
pkey, host_shim and vlan keywords against the real kernel, checked with ip -j and pings.

Kinds this machine's kernel lacks (802.1Q, ipvlan, dummy, bridge VLAN filtering) must give the
kernel's refusal with nothing left; on a kernel that has them the same tests check the result.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest

import pipework
from iproute import addresses, bridge_vlans, ip_link, link_names, pings
from pipework import Attachment, Namespace
from pipework.pytest_plugin import Attacher, NetnsFactory


@pytest.fixture
def uplink(sandbox_host: Namespace) -> str:
    """A "physical" NIC in the sandbox host: a veth end whose peer is up."""
    sandbox_host.veth_add("uplink0", "uplink1", state="up")
    sandbox_host.link_set("uplink1", state="up")
    return "uplink0"


def refused_by_the_kernel(err: pipework.PipeworkError, what: str) -> None:
    """Asserts ERR is the kernel's EOPNOTSUPP for WHAT, raised as a plain PipeworkError.

    Inside the VM tier (PIPEWORK_VM=1) the kernel has every feature: a refusal is a failure.
    """
    assert os.environ.get("PIPEWORK_VM") != "1", f"the VM's kernel should have it: {err}"
    assert type(err) is pipework.PipeworkError, type(err)
    assert err.errno == errno.EOPNOTSUPP, err
    assert what in str(err), err


def test_vlan_on_a_linux_bridge_is_an_access_port_or_the_kernels_clear_refusal(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    before = link_names(sandbox_host)
    try:
        attachment = pipework.attach(
            netns, "br1", vlan=10, addresses="10.20.0.2/24", host_netns=sandbox_host
        )
    except pipework.PipeworkError as err:
        refused_by_the_kernel(err, "this kernel has no bridge VLAN filtering")
        assert link_names(sandbox_host) == before and link_names(netns) == {"lo"}
        return
    # A kernel with VLAN filtering: the guest's port is an access port of VLAN 10 only.
    with attachment:
        assert attachment.vlan == 10
        vlans = bridge_vlans(sandbox_host, attachment.host_ifname)
        assert [(v["vlan"], sorted(v.get("flags", []))) for v in vlans] == [
            (10, ["Egress Untagged", "PVID"])
        ]
    assert "br1" not in link_names(sandbox_host)


def test_vlan_on_a_physical_parent_is_a_sub_interface_or_the_kernels_refusal(
    sandbox_host: Namespace, netns: Namespace, uplink: str
) -> None:
    before = link_names(sandbox_host)
    try:
        attachment = pipework.attach(
            netns, uplink, vlan=42, addresses="10.21.0.2/24", host_netns=sandbox_host
        )
    except pipework.PipeworkError as err:
        refused_by_the_kernel(err, "cannot create link vlan uplink0.42 (id 42)")
        assert link_names(sandbox_host) == before and link_names(netns) == {"lo"}
        return
    with attachment:
        sub = ip_link(sandbox_host, "uplink0.42")
        assert sub["linkinfo"]["info_data"]["id"] == 42
        assert ip_link(netns, "eth1")["linkinfo"]["info_kind"] == "macvlan"
    assert "uplink0.42" not in link_names(sandbox_host), "pipework made it, detach removes it"


def test_ipvlan_and_dummy_guests_or_the_kernels_refusal(
    sandbox_host: Namespace, netns_factory: NetnsFactory, uplink: str
) -> None:
    before = link_names(sandbox_host)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (uplink, {"ipvlan": "l2"}, "ipvlan"),
        ("dummy0", {}, "dummy"),
    ]
    for host, keywords, kind in cases:
        guest = netns_factory(kind)
        try:
            attachment = pipework.attach(
                guest, host, addresses="203.0.113.9/32", host_netns=sandbox_host, **keywords
            )
        except pipework.PipeworkError as err:
            refused_by_the_kernel(err, f"cannot create link {kind} eth1")
            assert link_names(guest) == {"lo"}
            continue
        with attachment:
            assert attachment.host_kind == kind
            assert ip_link(guest, "eth1")["linkinfo"]["info_kind"] == kind
            assert addresses(guest, "eth1") == {"203.0.113.9/32"}
        assert "eth1" not in link_names(guest)
    assert link_names(sandbox_host) == before


def test_macvlan_modes_and_macvtap(
    sandbox_host: Namespace, netns_factory: NetnsFactory, uplink: str
) -> None:
    web, db = netns_factory("priv1"), netns_factory("priv2")
    with pipework.attach(
        web, uplink, mode="private", addresses="10.22.0.1/24", host_netns=sandbox_host
    ) as a, pipework.attach(
        db, uplink, mode="private", addresses="10.22.0.2/24", host_netns=sandbox_host
    ):
        assert a.host_kind == "macvlan" and a.to_dict()["plan"]["host"]["mode"] == "private"
        assert ip_link(web, "eth1")["linkinfo"]["info_data"]["mode"] == "private"
        assert not pings(web, "10.22.0.2"), "private macvlan siblings never meet"
    tap = netns_factory("tap")
    with pipework.attach(tap, uplink, macvtap=True, host_netns=sandbox_host) as a:
        assert a.to_dict()["plan"]["host"]["tap"] is True
        assert ip_link(tap, "eth1")["linkinfo"]["info_kind"] == "macvtap"
    assert link_names(tap) == {"lo"}


def test_direct_phys_moves_the_device_in_and_gives_it_back(
    sandbox_host: Namespace, netns: Namespace, uplink: str
) -> None:
    mac = ip_link(sandbox_host, uplink)["address"]
    with pipework.attach(
        netns, uplink, direct_phys=True, addresses="10.23.0.2/24", host_netns=sandbox_host
    ) as a:
        assert a.host_kind == "physical" and uplink not in link_names(sandbox_host)
        moved = ip_link(netns, "eth1")
        assert moved["address"] == mac and "UP" in moved["flags"]
        assert addresses(netns, "eth1") == {"10.23.0.2/24"}
    back = ip_link(sandbox_host, uplink)
    assert back["address"] == mac and "eth1" not in link_names(netns)


def test_host_shim_lets_the_host_reach_a_macvlan_guest(
    sandbox_host: Namespace, netns: Namespace, uplink: str
) -> None:
    assert not pings(sandbox_host, "10.24.0.2")
    with pipework.attach(
        netns,
        uplink,
        addresses="10.24.0.2/24",
        host_shim="10.24.0.250/32",
        host_netns=sandbox_host,
    ) as a:
        shim = a.to_dict()["shim"]
        assert shim["address"] == "10.24.0.250/32"
        assert "10.24.0.250/32" in addresses(sandbox_host, shim["name"])
        assert pings(sandbox_host, "10.24.0.2"), "the host reaches its macvlan guest"
    assert shim["name"] not in link_names(sandbox_host)


@pytest.mark.parametrize(
    ("host", "keywords", "message", "code"),
    [
        ("br1", {"vlan": 5000}, 'invalid vlan "5000"', errno.EINVAL),
        ("br1", {"vlan": -1}, 'invalid vlan "-1": out of range', errno.EINVAL),
        ("br1", {"vlan": 70000}, 'invalid vlan "70000": out of range', errno.EINVAL),
        ("dummy0", {"vlan": 10}, "a dummy interface has no VLAN", errno.EINVAL),
        ("uplink0", {"vlan": 10, "direct_phys": True}, "moving a VLAN sub-interface", errno.EINVAL),
        ("br1", {"mode": "private"}, "a macvlan mode, macvtap or ipvlan needs a physical parent", errno.EBUSY),
        ("uplink0", {"mode": "sideways"}, 'invalid macvlan mode "sideways"', errno.EINVAL),
        ("uplink0", {"ipvlan": "l4"}, 'invalid ipvlan mode "l4"', errno.EINVAL),
        ("uplink0", {"ipvlan": "l2", "mode": "vepa"}, "choose one kind", errno.EINVAL),
        ("uplink0", {"ipvlan": "l2", "mac": "02:00:00:00:00:09"}, "its parent's MAC", errno.EINVAL),
        ("uplink0", {"pkey": 0x8001}, "a partition key needs an IPoIB parent", errno.EBUSY),
        ("uplink0", {"pkey": -1}, 'invalid pkey "-1": out of range', errno.EINVAL),
        ("br1", {"host_shim": "10.0.0.250/32"}, "only a macvlan guest needs a host shim", errno.EINVAL),
        ("uplink0", {"host_shim": "10.0.0.250"}, 'invalid host_shim "10.0.0.250"', errno.EINVAL),
    ],
)
def test_host_side_choices_that_do_not_fit_are_refused_and_change_nothing(
    sandbox_host: Namespace,
    netns: Namespace,
    uplink: str,
    host: str,
    keywords: dict[str, Any],
    message: str,
    code: int,
) -> None:
    """Malformed values are InvalidArgument (EINVAL); a host that is the wrong kind is EBUSY."""
    before = (link_names(sandbox_host), link_names(netns))
    expected = pipework.InvalidArgument if code == errno.EINVAL else pipework.PipeworkError
    with pytest.raises(expected) as caught:
        pipework.attach(netns, host, addresses="10.25.0.2/24", host_netns=sandbox_host, **keywords)
    assert caught.value.errno == code and message in str(caught.value)
    assert before == (link_names(sandbox_host), link_names(netns))


def test_the_attached_fixture_takes_the_new_keywords(
    netns_factory: NetnsFactory, attached: Attacher, uplink: str
) -> None:
    web = netns_factory("fixt")
    attachment: Attachment = attached(web, uplink, mode="vepa", addresses="10.26.0.1/24")
    assert ip_link(web, "eth1")["linkinfo"]["info_data"]["mode"] == "vepa"
    assert attachment.host == uplink
