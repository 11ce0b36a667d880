"""``pipework.Topology`` and the ``topology`` fixture: labs applied, pinged, reconciled, shown and
destroyed, checked with iproute2."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from iproute import addresses, ip_json, ip_link, link_names, pings
from pipework import InvalidArgument, Namespace, Topology
from pipework.pytest_plugin import TopologyFactory


def _lab(links: list[dict[str, Any]]) -> dict[str, Any]:
    """Two namespace nodes and a bridge node, with ``links``."""
    return {
        "name": "py",
        "topology": {
            "nodes": {"a": {"kind": "linux"}, "b": {"kind": "linux"}, "br1": {"kind": "bridge"}},
            "links": links,
        },
    }


TRIANGLE: list[dict[str, Any]] = [
    {
        "endpoints": ["a:eth1", "b:eth1"],
        "mtu": 1400,
        "pipework": {"endpoints": [{"addresses": ["10.81.0.1/30"]}, {"addresses": ["10.81.0.2/30"]}]},
    },
    {"endpoints": ["a:eth2", "br1:pa2"], "pipework": {"endpoints": [{"addresses": ["10.82.0.1/24"]}]}},
    {"endpoints": ["b:eth2", "br1:pb2"], "pipework": {"endpoints": [{"addresses": ["10.82.0.2/24"]}]}},
]


def _node(lab: Topology, node: str) -> Namespace:
    name = lab.netns_name(node)
    assert name is not None
    return Namespace.from_name(name)


def test_the_fixture_applies_a_dict_lab_that_pings_across_every_link(
    topology: TopologyFactory, sandbox_host: Namespace
) -> None:
    lab = topology(_lab(TRIANGLE))
    assert lab.name.startswith("py-") and lab.nodes == ["a", "b", "br1"]
    a, b = _node(lab, "a"), _node(lab, "b")
    assert ip_link(a, "eth1")["mtu"] == 1400
    assert addresses(b, "eth2") == {"10.82.0.2/24"}
    ports = {link["ifname"] for link in ip_json(sandbox_host, "link", "show", "master", "br1")}
    assert ports == {"pa2", "pb2"}
    assert pings(a, "10.81.0.2") and pings(a, "10.82.0.2") and pings(b, "10.82.0.1")
    # Applied again: nothing to do; its record says everything is in place.
    kwargs: dict[str, Any] = {"state_dir": topology.state_dir, "host_netns": sandbox_host}
    assert lab.apply(**kwargs) == [] and lab.plan(**kwargs) == []
    status = lab.status(**kwargs)
    assert status is not None and status["lab"] == lab.name
    assert [entry["present"] for entry in status["links"]] == [True, True, True]
    assert {entry["item"] for entry in status["namespaces"]} == {a.name, b.name}


def test_a_changed_lab_reconciles_and_destroy_leaves_nothing(
    topology: TopologyFactory, sandbox_host: Namespace
) -> None:
    lab = topology(_lab(TRIANGLE))
    kwargs: dict[str, Any] = {"state_dir": topology.state_dir, "host_netns": sandbox_host}
    a = _node(lab, "a")
    kept = ip_link(a, "eth1")["ifindex"]
    changed = Topology(_lab(TRIANGLE[:2])).renamed(lab.name)
    assert [step["step"] for step in changed.plan(**kwargs)] == ["remove_link"]
    steps = changed.apply(**kwargs)
    assert len(steps) == 1 and steps[0]["step"] == "remove_link", steps
    assert steps[0]["link"]["ends"][0] == {"node": "b", "ifname": "eth2", "addresses": ["10.82.0.2/24"]}
    assert "eth2" not in link_names(_node(lab, "b"))
    assert ip_link(a, "eth1")["ifindex"] == kept, "a link the file keeps is not touched"
    destroyed = [step["step"] for step in lab.destroy(**kwargs)]
    assert destroyed.count("delete_namespace") == 2 and "delete_bridge" in destroyed
    assert not os.path.exists(f"/run/netns/{lab.netns_name('a')}")
    assert "br1" not in link_names(sandbox_host)
    assert lab.status(**kwargs) is None


def test_a_file_path_and_text_read_like_the_command_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "two.clab.yml"
    path.write_text(
        "name: two\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {}\n"
        '  links:\n    - endpoints: ["a:eth1", "b:eth1"]\n'
    )
    for lab in (Topology(path), Topology(str(path))):
        assert (lab.name, lab.netns_name("a")) == ("two", "clab-two-a")
        assert lab.to_dict()["links"][0]["ends"][1] == {"node": "b", "ifname": "eth1", "addresses": []}
    named = r"invalid endpoint \"a:eth1\": bad\.yml, line 4: no node is called a"
    with pytest.raises(InvalidArgument, match=named):
        Topology.parse(
            'name: x\ntopology:\n  links:\n    - endpoints: ["a:eth1", "z:eth1"]\n', "bad.yml"
        )
    with pytest.raises(InvalidArgument, match="nodez"):
        Topology({"name": "x", "topology": {"nodez": {}}})
    with pytest.raises(InvalidArgument, match="give the path of a lab file or a dict"):
        Topology(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="lab name"):
        Topology(path).renamed("no spaces")


def test_a_lab_that_fails_half_way_leaves_nothing(
    topology: TopologyFactory, sandbox_host: Namespace
) -> None:
    # The second link's interface name is taken in the host by a link the test made.
    sandbox_host.veth_add("pb2", "pb2peer")
    before = link_names(sandbox_host)
    with pytest.raises(Exception, match="pb2"):
        topology(_lab(TRIANGLE))
    assert link_names(sandbox_host) == before
    assert not [n for n in os.listdir("/run/netns") if n.startswith(f"clab-py-{os.getpid()}x")]
