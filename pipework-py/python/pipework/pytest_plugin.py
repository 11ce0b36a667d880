"""pytest fixtures for network test harnesses, registered as the pytest plugin ``pipework``.

Installing the package makes them available to every test (entry point ``pytest11``); no
import is needed. Each fixture works inside namespaces it creates under unique names, and
removes them after the test, also when the test fails. They need root (CAP_SYS_ADMIN and
CAP_NET_ADMIN); without it the test is skipped with the reason.

=================  ==========================================================  ========
fixture            what it gives                                               scope
=================  ==========================================================  ========
``netns_factory``  ``netns_factory(label)`` -> a fresh named ``Namespace``     function
``netns``          a fresh named namespace, loopback up                        function
``sandbox_host``   a private "host" namespace, loopback up                     function
``bridge``         a bridge (up) inside ``sandbox_host``, as a ``Link``        function
``veth_pair``      a veth pair (both ends up) inside ``sandbox_host``          function
``attached``       ``attached(guest, host, **kw)`` -> ``attach()`` inside      function
                   ``sandbox_host``, detached after the test
``topology``       ``topology(path_or_dict)`` -> a ``Topology`` applied with   function
                   ``sandbox_host`` as its host, destroyed after the test
=================  ==========================================================  ========

Example::

    def test_web_reaches_db(netns_factory, attached):
        web, db = netns_factory("web"), netns_factory("db")
        attached(web, "br0", addresses="10.0.0.1/24")
        attached(db, "br0", addresses="10.0.0.2/24")
        assert web.ping("10.0.0.2") < 1.0
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple

import pytest

from pipework import (
    Attachment,
    DhcpOptions,
    Guest,
    Link,
    Namespace,
    NamespaceError,
    NotFound,
    Topology,
    attach,
)

__all__ = [
    "Attacher",
    "NetnsFactory",
    "TopologyFactory",
    "VethPair",
    "attached",
    "bridge",
    "netns",
    "netns_factory",
    "sandbox_host",
    "topology",
    "unique_name",
    "veth_pair",
]

_counter = itertools.count()


def unique_name(label: str) -> str:
    """A namespace name no other test, worker or process uses: ``pwpy<pid>x<n>-<label>``."""
    return f"pwpy{os.getpid()}x{next(_counter)}-{label}"


def _short_name(prefix: str) -> str:
    """An interface name unique within this process that fits the kernel's 15 characters."""
    return f"{prefix}{next(_counter)}"[:15]


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("pipework fixtures need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")


def _run_all(cleanups: Sequence[object], undo: str) -> None:
    """Calls method ``undo`` of every object, newest first, then raises the first failure."""
    failures: list[BaseException] = []
    for item in reversed(cleanups):
        try:
            getattr(item, undo)()
        except (NotFound, NamespaceError):
            pass  # Already gone, with its namespace.
        except Exception as err:  # noqa: BLE001 - every cleanup must run; the first is re-raised.
            failures.append(err)
    if failures:
        raise failures[0]


def _delete_link(namespace: Namespace, link: str | int) -> None:
    """Deletes a link the test may already have deleted (or whose namespace is gone)."""
    try:
        namespace.link_del(link)
    except (NotFound, NamespaceError):
        pass


class NetnsFactory:
    """Creates named namespaces (loopback up) and deletes them all at teardown."""

    def __init__(self) -> None:
        self._created: list[Namespace] = []

    def __call__(self, label: str = "ns") -> Namespace:
        """A fresh namespace named ``pwpy<pid>x<n>-<label>`` in /run/netns, loopback up."""
        namespace = Namespace.create(unique_name(label))
        self._created.append(namespace)
        namespace.link_set("lo", state="up")
        return namespace

    def cleanup(self) -> None:
        """Deletes every namespace made, newest first; the kernel removes their links."""
        _run_all([ns for ns in self._created if not ns.closed], "delete")
        self._created.clear()


class Attacher:
    """``attach()`` with the host side in a given namespace; detaches everything at teardown."""

    def __init__(self, host_netns: Namespace) -> None:
        self.host_netns = host_netns
        self._made: list[Attachment] = []

    def __call__(
        self,
        guest: Guest | Namespace | int | str,
        host: str = "br0",
        *,
        ifname: str | None = None,
        host_ifname: str | None = None,
        addresses: str | Sequence[str] | None = None,
        gateway: str | Sequence[str] | None = None,
        mac: str | None = None,
        mtu: int | None = None,
        vlan: int | None = None,
        dhcp: bool | str | DhcpOptions | None = None,
        mode: Literal["bridge", "private", "vepa", "passthru", "source"] | None = None,
        macvtap: bool = False,
        ipvlan: Literal["l2", "l3", "l3s"] | None = None,
        direct_phys: bool = False,
        pkey: int | None = None,
        host_shim: str | None = None,
        announce: bool = True,
    ) -> Attachment:
        """Attaches ``guest`` to ``host`` (default ``br0``) inside the sandbox host namespace.

        The keywords are ``attach()``'s.
        """
        attachment = attach(
            guest,
            host,
            ifname=ifname,
            host_ifname=host_ifname,
            addresses=addresses,
            gateway=gateway,
            mac=mac,
            mtu=mtu,
            vlan=vlan,
            dhcp=dhcp,
            mode=mode,
            macvtap=macvtap,
            ipvlan=ipvlan,
            direct_phys=direct_phys,
            pkey=pkey,
            host_shim=host_shim,
            announce=announce,
            host_netns=self.host_netns,
        )
        self._made.append(attachment)
        return attachment

    def cleanup(self) -> None:
        """Detaches every attachment made, newest first."""
        _run_all(self._made, "detach")
        self._made.clear()


class TopologyFactory:
    """Applies labs with a given host namespace and state directory; destroys them at teardown."""

    def __init__(self, host_netns: Namespace, state_dir: str | os.PathLike[str]) -> None:
        self.host_netns = host_netns
        self.state_dir = state_dir
        self._made: list[Topology] = []

    def __call__(self, source: str | os.PathLike[str] | dict[str, Any]) -> Topology:
        """Reads the lab (a file's path or a dict of its shape), renames it uniquely
        (``<name>-<pid>x<n>``: its namespaces are ``clab-<that>-<node>``, see
        ``Topology.netns_name``), applies it and returns it."""
        read = Topology(source)
        lab = read.renamed(f"{read.name}-{os.getpid()}x{next(_counter)}")
        lab.apply(state_dir=self.state_dir, host_netns=self.host_netns)
        self._made.append(lab)
        return lab

    def destroy(self, lab: Topology) -> None:
        """Destroys one lab this factory applied."""
        lab.destroy(state_dir=self.state_dir, host_netns=self.host_netns)

    def cleanup(self) -> None:
        """Destroys every lab applied, newest first."""
        failures: list[BaseException] = []
        for lab in reversed(self._made):
            try:
                self.destroy(lab)
            except Exception as err:  # noqa: BLE001 - every lab must go; the first is re-raised.
                failures.append(err)
        self._made.clear()
        if failures:
            raise failures[0]


class VethPair(NamedTuple):
    """The two ends of a veth pair, as the kernel reported them after creation."""

    local: Link
    peer: Link


@pytest.fixture
def netns_factory() -> Iterator[NetnsFactory]:
    """Name: ``netns_factory``. Scope: function. Makes fresh named namespaces, deleted after."""
    _require_root()
    factory = NetnsFactory()
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def netns(netns_factory: NetnsFactory) -> Namespace:
    """Name: ``netns``. Scope: function. A fresh named namespace, loopback up, deleted after."""
    return netns_factory("netns")


@pytest.fixture
def sandbox_host(netns_factory: NetnsFactory) -> Namespace:
    """Name: ``sandbox_host``. Scope: function. A private "host" namespace, deleted after."""
    return netns_factory("host")


@pytest.fixture
def bridge(sandbox_host: Namespace) -> Iterator[Link]:
    """Name: ``bridge``. Scope: function. A bridge, up, inside ``sandbox_host``."""
    link = sandbox_host.bridge_add(_short_name("pwbr"))
    yield link
    _delete_link(sandbox_host, link.index)


@pytest.fixture
def veth_pair(sandbox_host: Namespace) -> Iterator[VethPair]:
    """Name: ``veth_pair``. Scope: function. A veth pair inside ``sandbox_host``, both ends up."""
    local_name, peer_name = _short_name("pwva"), _short_name("pwvb")
    sandbox_host.veth_add(local_name, peer_name, state="up")
    sandbox_host.link_set(peer_name, state="up")
    yield VethPair(sandbox_host.link(local_name), sandbox_host.link(peer_name))
    _delete_link(sandbox_host, local_name)


@pytest.fixture
def attached(sandbox_host: Namespace) -> Iterator[Attacher]:
    """Name: ``attached``. Scope: function. ``attached(guest, host, **kw)`` attaches inside
    ``sandbox_host``; everything attached is detached after the test."""
    attacher = Attacher(sandbox_host)
    try:
        yield attacher
    finally:
        attacher.cleanup()


@pytest.fixture
def topology(sandbox_host: Namespace, tmp_path: os.PathLike[str]) -> Iterator[TopologyFactory]:
    """Name: ``topology``. Scope: function. ``topology(path_or_dict)`` applies a lab with
    ``sandbox_host`` as its host (bridge nodes live there) and its record under the test's
    ``tmp_path``; every lab applied is destroyed after the test."""
    factory = TopologyFactory(sandbox_host, os.path.join(tmp_path, "pipework-state"))
    try:
        yield factory
    finally:
        factory.cleanup()
