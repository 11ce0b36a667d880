"""A test module written the way a network test harness uses the pipework fixtures.

Nothing is imported to get the fixtures: installing pipework registers its pytest plugin.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess

import pytest

from iproute import ip_link, pings
from pipework import Link, Namespace
from pipework.pytest_plugin import Attacher, NetnsFactory, VethPair


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert any(ep.name == "pipework" and ep.value == "pipework.pytest_plugin" for ep in entry_points)
    assert pytestconfig.pluginmanager.hasplugin("pipework")


def test_netns_is_fresh_with_loopback_up(netns: Namespace) -> None:
    assert [link.ifname for link in netns.links()] == ["lo"]
    assert netns.link("lo").up
    assert pings(netns, "127.0.0.1")


def test_sandbox_host_is_private(sandbox_host: Namespace) -> None:
    assert sandbox_host != Namespace.current()
    assert sandbox_host.name is not None and sandbox_host.name.endswith("-host")


def test_bridge_lives_in_the_sandbox_host(bridge: Link, sandbox_host: Namespace) -> None:
    assert bridge.kind == "bridge" and bridge.up
    assert ip_link(sandbox_host, bridge.ifname)["linkinfo"]["info_kind"] == "bridge"


def test_veth_pair_carries_traffic(veth_pair: VethPair, sandbox_host: Namespace) -> None:
    local, peer = veth_pair
    assert local.link == peer.index and peer.link == local.index
    assert local.up and peer.up
    sandbox_host.addr_add(local.ifname, "10.7.0.1/31")
    sandbox_host.addr_add(peer.ifname, "10.7.0.0/31")
    assert sandbox_host.ping("10.7.0.0") < 1.0


def test_a_three_tier_app(netns_factory: NetnsFactory, attached: Attacher) -> None:
    web, app, db = (netns_factory(role) for role in ("web", "app", "db"))
    attached(web, "brfront", addresses="172.16.1.10/24")
    attached(app, "brfront", addresses="172.16.1.20/24")
    attached(app, "brback", ifname="eth2", addresses="172.16.2.20/24")
    attached(db, "brback", addresses="172.16.2.30/24")
    assert web.ping("172.16.1.20") < 1.0
    assert db.ping("172.16.2.20") < 1.0
    assert not pings(web, "172.16.2.30"), "web must not reach the back network"
    assert {link.ifname for link in app.links()} == {"lo", "eth1", "eth2"}


def test_attached_uses_the_bridge_fixture(
    bridge: Link, netns: Namespace, attached: Attacher, sandbox_host: Namespace
) -> None:
    attachment = attached(netns, bridge.ifname, addresses="10.8.8.2/24", mtu=1280)
    assert attachment.status == "created" and not attachment.bridge_created
    assert ip_link(sandbox_host, attachment.host_ifname)["master"] == bridge.ifname
    assert ip_link(netns, "eth1")["mtu"] == 1280


def test_fixtures_clean_up_after_a_failing_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fails(netns, attached, bridge):
            attached(netns, bridge.ifname, addresses="10.9.9.2/24")
            print("NAMES", netns.name)
            assert False, "the harness's test fails"
        """
    )
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    names = re.findall(r"NAMES (\S+)", "\n".join(result.outlines))
    assert len(names) == 1, result.outlines
    prefix = names[0].rsplit("-", 1)[0]  # pwpy<pid>x<n>: the failing run's namespaces.
    assert not any(name.startswith(prefix.split("x")[0] + "x") for name in ip_netns_list())


def ip_netns_list() -> set[str]:
    """The names ``ip netns list`` shows."""
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line}

