"""resolve() and attach(): every keyword against the real kernel, checked with ip -j and pings."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

import pipework
from iproute import addresses, default_gateway, ip_json, ip_link, link_names, pings
from pipework import Namespace
from pipework.pytest_plugin import NetnsFactory


def test_resolve_finds_names_paths_and_pids(netns: Namespace) -> None:
    assert netns.name is not None
    by_name = pipework.resolve(netns.name)
    assert by_name.engine == "netns" and by_name.name == netns.name and by_name.pid is None
    assert by_name.namespace == netns
    by_path = pipework.resolve(f"/run/netns/{netns.name}")
    assert by_path.namespace == netns
    me = pipework.resolve(str(os.getpid()))
    assert me.engine == "pid" and me.pid == os.getpid()
    assert me.namespace == Namespace.current()
    assert pipework.resolve(f"netns:{netns.name}").namespace == netns
    assert repr(by_name).startswith(f"Guest(engine='netns', name='{netns.name}', pid=None")
    for guest in (by_name, by_path, me):
        guest.namespace.close()


def test_attach_with_every_keyword(sandbox_host: Namespace, netns: Namespace) -> None:
    attachment = pipework.attach(
        netns,
        "br1",
        ifname="eth9",
        host_ifname="vweb9",
        addresses=["10.1.0.2/24", "2001:db8:1::2/64"],
        gateway=["10.1.0.1", "2001:db8:1::1"],
        mac="02:12:34:56:78:9a",
        mtu=1400,
        host_netns=sandbox_host,
    )
    assert attachment.status == "created" and attachment.bridge_created
    assert (attachment.host, attachment.ifname, attachment.host_ifname) == ("br1", "eth9", "vweb9")
    assert attachment.addresses == ["10.1.0.2/24", "2001:db8:1::2/64"]
    assert attachment.gateways == ["10.1.0.1", "2001:db8:1::1"]
    assert attachment.mac == "02:12:34:56:78:9a" and attachment.mtu == 1400
    assert attachment.host_netns == sandbox_host
    assert attachment.guest_inode == netns.inode and attachment.guest_name == netns.name
    # Independently: the kernel's view.
    guest_link = ip_link(netns, "eth9")
    assert guest_link["address"] == "02:12:34:56:78:9a" and guest_link["mtu"] == 1400
    assert guest_link["ifindex"] == attachment.ifindex and "UP" in guest_link["flags"]
    host_link = ip_link(sandbox_host, "vweb9")
    assert host_link["master"] == "br1" and host_link["ifindex"] == attachment.host_ifindex
    assert addresses(netns, "eth9") == {"10.1.0.2/24", "2001:db8:1::2/64"}
    assert default_gateway(netns, "-4") == "10.1.0.1"
    assert default_gateway(netns, "-6") == "2001:db8:1::1"
    record = attachment.to_dict()
    assert record["status"] == "created" and record["host_ifname"] == "vweb9"
    assert record["plan"]["host"] == {"kind": "bridge", "name": "br1"}
    assert record["plan"]["addresses"] == ["10.1.0.2/24", "2001:db8:1::2/64"]
    assert repr(attachment).startswith(
        "Attachment(host='br1', host_ifname='vweb9', ifname='eth9', "
        "addresses=['10.1.0.2/24', '2001:db8:1::2/64'], mac='02:12:34:56:78:9a'"
    )
    attachment.detach()
    assert "vweb9" not in link_names(sandbox_host)
    assert "eth9" not in link_names(netns)
    assert "br1" not in link_names(sandbox_host), "the bridge pipework created goes with its last port"


def test_two_guests_on_a_bridge_ping_each_other(
    sandbox_host: Namespace, netns_factory: NetnsFactory
) -> None:
    web, db = netns_factory("web"), netns_factory("db")
    assert db.name is not None
    # A guest given as a target string, and one given as a Namespace.
    with pipework.attach(db.name, "br1", addresses="192.168.1.2/24", host_netns=sandbox_host):
        with pipework.attach(web, "br1", addresses="192.168.1.1/24", host_netns=sandbox_host):
            assert pings(web, "192.168.1.2") and pings(db, "192.168.1.1")
            assert web.ping("192.168.1.2") < 1.0
            ports = ip_json(sandbox_host, "link", "show", "master", "br1")
            assert len(ports) == 2
        assert not pings(db, "192.168.1.1")
    assert "br1" not in link_names(sandbox_host)


def test_u_mac_is_derived_like_the_original_script(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    with pipework.attach(netns, "br1", mac="U:myhost.foo.com", host_netns=sandbox_host) as a:
        assert a.mac == "02:72:6c:cd:9b:8d" == ip_link(netns, "eth1")["address"]
        assert a.addresses == [] and a.mtu == ip_link(sandbox_host, "br1")["mtu"]


def test_the_same_attach_again_is_already_attached_and_its_with_block_keeps_it(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    first = pipework.attach(netns, "br1", addresses="10.2.0.2/24", host_netns=sandbox_host)
    with pipework.attach(netns, "br1", addresses="10.2.0.2/24", host_netns=sandbox_host) as again:
        assert again.status == "already_attached"
        assert again.host_ifname == first.host_ifname
    assert "eth1" in link_names(netns), "an attachment found in place is not detached on exit"
    first.detach()
    assert "eth1" not in link_names(netns)


def test_the_host_namespace_as_guest_needs_allow_host_namespace(sandbox_host: Namespace) -> None:
    before = ip_json(sandbox_host, "link", "show")
    with pytest.raises(pipework.PipeworkError) as caught:
        pipework.attach(sandbox_host, "br1", addresses="10.5.0.2/24", host_netns=sandbox_host)
    assert caught.value.errno == errno.EBUSY
    assert "the host's own network namespace" in str(caught.value)
    assert ip_json(sandbox_host, "link", "show") == before, "nothing was made in the host"
    with pipework.attach(
        sandbox_host,
        "br1",
        addresses="10.5.0.2/24",
        allow_host_namespace=True,
        host_netns=sandbox_host,
    ):
        assert addresses(sandbox_host, "eth1") == {"10.5.0.2/24"}
    assert "eth1" not in link_names(sandbox_host)


def test_mac_stable_is_the_same_on_every_attach(sandbox_host: Namespace, netns: Namespace) -> None:
    macs = []
    for _ in range(2):
        with pipework.attach(netns, "br1", mac="stable", host_netns=sandbox_host) as attachment:
            macs.append(ip_link(netns, "eth1")["address"])
            assert attachment.mac == macs[-1]
    assert macs[0] == macs[1] and int(macs[0][:2], 16) & 3 == 2, macs


def test_detach_after_the_guest_is_gone_cleans_the_host_side(
    sandbox_host: Namespace, netns_factory: NetnsFactory
) -> None:
    guest = netns_factory("gone")
    attachment = pipework.attach(guest, "br1", addresses="10.3.0.2/24", host_netns=sandbox_host)
    pipework.attach(netns_factory("stay"), "br1", host_netns=sandbox_host)
    guest.delete()
    attachment.detach()
    assert attachment.host_ifname not in link_names(sandbox_host)


def test_the_host_side_defaults_to_the_calling_threads_namespace(
    sandbox_host: Namespace, netns: Namespace
) -> None:
    # A process inside the sandbox host: its default host namespace is the sandbox.
    script = (
        "import pipework, sys; "
        "a = pipework.attach(sys.argv[1], 'br2', addresses='10.4.0.2/24'); "
        "print(a.host_ifname)"
    )
    assert sandbox_host.name is not None and netns.name is not None
    command = ["ip", "netns", "exec", sandbox_host.name, sys.executable, "-c", script, netns.name]
    host_ifname = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    assert ip_link(sandbox_host, host_ifname)["master"] == "br2"
    assert addresses(netns, "eth1") == {"10.4.0.2/24"}


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("addresses", "10.0.0.2", 'invalid address "10.0.0.2": the address needs a prefix'),
        ("addresses", ["10.0.0.2/24", "10.0.0.2/24"], "invalid address \"10.0.0.2/24\": is given"),
        ("gateway", "10.0.0.1/24", 'invalid gateway "10.0.0.1/24": expected an address'),
        ("mac", "01:00:5e:00:00:01", 'invalid mac "01:00:5e:00:00:01": is a multicast'),
        ("mtu", 10, 'invalid mtu "10": must be from 68 to 65535'),
        ("mtu", -1, 'invalid mtu "-1": out of range'),
        ("ifname", "averyveryverylongname", "invalid guest ifname"),
        ("host_ifname", "a/b", 'invalid host ifname "a/b": contains \'/\''),
        ("host", "a:b", 'invalid host interface "a:b"'),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    sandbox_host: Namespace, netns: Namespace, keyword: str, value: object, message: str
) -> None:
    before = (ip_json(sandbox_host, "link", "show"), ip_json(netns, "link", "show"))
    kwargs: dict[str, object] = {"host": "br1", "addresses": "10.0.0.2/24", keyword: value}
    with pytest.raises(pipework.InvalidArgument) as caught:
        pipework.attach(netns, host_netns=sandbox_host, **kwargs)  # type: ignore[arg-type]
    assert caught.value.errno == errno.EINVAL
    assert isinstance(caught.value, ValueError)
    assert message in str(caught.value)
    assert before == (ip_json(sandbox_host, "link", "show"), ip_json(netns, "link", "show"))


def test_the_host_name_is_detected_like_the_command_does(
    sandbox_host: Namespace, netns_factory: NetnsFactory
) -> None:
    # A device that is not a bridge is a physical parent: the guest gets a macvlan child.
    sandbox_host.veth_add("uplink0", "uplink1", state="up")
    sandbox_host.link_set("uplink1", state="up")
    web, db = netns_factory("mv1"), netns_factory("mv2")
    with pipework.attach(web, "uplink0", addresses="10.10.0.1/24", host_netns=sandbox_host) as a:
        with pipework.attach(db, "uplink0", addresses="10.10.0.2/24", host_netns=sandbox_host):
            assert a.host == "uplink0"
            kernel = ip_link(web, "eth1")
            assert kernel["linkinfo"]["info_kind"] == "macvlan"
            assert kernel["linkinfo"]["info_data"]["mode"] == "bridge"
            assert pings(web, "10.10.0.2")
    assert "eth1" not in link_names(web)
    # A missing name that is not br* is not created.
    with pytest.raises(pipework.NotFound, match="only br"):
        pipework.attach(web, "nosuchdev", host_netns=sandbox_host)
