"""Independent checks with iproute2 and ping: what the kernel says, not what pipework says."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from pipework import Namespace


def _name(ns: Namespace) -> str:
    assert ns.name is not None, "the independent checks need a named namespace"
    return ns.name


def ip_json(ns: Namespace, *args: str) -> Any:
    """``ip -j -d -n NS ARGS``, parsed."""
    out = subprocess.run(
        ["ip", "-j", "-d", "-n", _name(ns), *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out) if out.strip() else []


def ip_link(ns: Namespace, ifname: str) -> dict[str, Any]:
    """``ip -j -d link show dev IFNAME`` in NS: the one link."""
    links = ip_json(ns, "link", "show", "dev", ifname)
    assert len(links) == 1, links
    link: dict[str, Any] = links[0]
    return link


def link_names(ns: Namespace) -> set[str]:
    """The names of every link in NS."""
    return {link["ifname"] for link in ip_json(ns, "link", "show")}


def addresses(ns: Namespace, ifname: str) -> set[str]:
    """The addresses of IFNAME in NS as ``ADDRESS/PREFIX``, link-local IPv6 left out."""
    info = ip_json(ns, "addr", "show", "dev", ifname)[0]["addr_info"]
    return {f"{a['local']}/{a['prefixlen']}" for a in info if a.get("scope") != "link"}


def default_gateway(ns: Namespace, family: str = "-4") -> str | None:
    """The gateway of the default route in NS."""
    routes = json.loads(
        subprocess.run(
            ["ip", "-j", family, "-n", _name(ns), "route", "show", "default"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        or "[]"
    )
    return routes[0].get("gateway") if routes else None


def pings(ns: Namespace, destination: str) -> bool:
    """Whether ``ping -c 1`` from inside NS gets a reply."""
    command = ["ip", "netns", "exec", _name(ns), "ping", "-c", "1", "-W", "2", destination]
    return subprocess.run(command, capture_output=True).returncode == 0


def bridge_vlans(ns: Namespace, ifname: str) -> list[dict[str, Any]]:
    """``bridge -j vlan show dev IFNAME`` in NS: the port's VLANs with their flags."""
    out = subprocess.run(
        ["bridge", "-j", "-n", _name(ns), "vlan", "show", "dev", ifname],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ports = json.loads(out) if out.strip() else []
    return [vlan for port in ports for vlan in port.get("vlans", [])]
