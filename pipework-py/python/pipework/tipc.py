"""TIPC between containers: one namespace's node (``TipcNode``) and a whole bus (``TipcBus``).

Since Linux 4.0 TIPC is per network namespace, so every container can be a TIPC node.
pipework configures it over generic netlink ("TIPCv2"), with no ``tipc`` process::

    from pipework import tipc

    report = tipc.configure(["web", "db", "cache"], net_id=4242)   # bearer eth:eth0
    print(report)                        # every node, and every pair's link up
    node = tipc.TipcNode.open(pipework.resolve("web"))
    print(node.identity, node.links())

A kernel without TIPC raises ``pipework.TipcError`` with ``errno.EOPNOTSUPP`` and the fix
(``modprobe tipc``). Everything here is implemented in Rust (``pipework._native``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipework._native import (
    BearerSpec,
    BusLink,
    BusNode,
    BusReport,
    Guest,
    Namespace,
    NodeId,
    TipcAddress,
    TipcBearer,
    TipcBus,
    TipcConfig,
    TipcError,
    TipcLink,
    TipcNode,
    TipcPeer,
)

__all__ = [
    "BearerSpec",
    "BusLink",
    "BusNode",
    "BusReport",
    "NodeId",
    "TipcAddress",
    "TipcBearer",
    "TipcBus",
    "TipcConfig",
    "TipcError",
    "TipcLink",
    "TipcNode",
    "TipcPeer",
    "configure",
]


def configure(
    guests: Sequence[Guest | Namespace | int | str],
    *,
    net_id: int | None = None,
    bearer: BearerSpec | str | None = None,
    identity: str | TipcAddress | None = None,
    priority: int | None = None,
    tolerance: int | None = None,
    window: int | None = None,
    wait_links: bool | float | None = None,
) -> BusReport:
    """Joins ``guests`` into one TIPC bus and waits until every pair has a link up.

    ``TipcBus(...).configure(guests)`` in one call; see ``TipcBus`` for the arguments.
    Like ``pipework tipc GUEST... --net-id N --bearer B --wait-links``.
    """
    bus = TipcBus(
        net_id=net_id,
        bearer=bearer,
        identity=identity,
        priority=priority,
        tolerance=tolerance,
        window=window,
        wait_links=wait_links,
    )
    return bus.configure(guests)
