"""Typed surface of ``pipework._native``, the Rust module the ``pipework`` package re-exports.

Hand-written; ``python -m mypy.stubtest pipework._native`` checks it against the compiled
module in CI. Every call that talks to the kernel, resolves a guest or waits releases the GIL.
"""

import os
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal, final

__all__ = [
    "AlreadyExists",
    "Address",
    "Attachment",
    "DhcpError",
    "Guest",
    "InvalidArgument",
    "Link",
    "MissingCapability",
    "Namespace",
    "NamespaceError",
    "NotFound",
    "PipeworkError",
    "ResolveError",
    "Route",
    "__version__",
    "attach",
    "resolve",
]

__version__: str
"""The version of pipework-rs this module was built from."""

# --- errors -------------------------------------------------------------------------------

class PipeworkError(OSError):
    """Base class of pipework's errors.

    An ``OSError``: ``.errno`` is the kernel's answer (or the closest errno for a refused
    argument) and ``str()`` names the operation, the object and the cause.
    """

class NotFound(PipeworkError):
    """Something the operation needs does not exist (``ENOENT``, ``ENODEV``)."""

class AlreadyExists(PipeworkError):
    """Something the operation would create already exists (``EEXIST``)."""

class ResolveError(PipeworkError):
    """A guest target names no container, process or namespace (usually ``ENOENT``)."""

class NamespaceError(PipeworkError):
    """A network namespace cannot be opened, created, entered or deleted, or is closed (``EBADF``)."""

class DhcpError(PipeworkError):
    """A DHCP exchange failed."""

class InvalidArgument(PipeworkError, ValueError):
    """An argument is malformed or out of range (``EINVAL``); nothing was changed.

    The message names the argument, the value and the reason.
    """

class MissingCapability(PipeworkError, PermissionError):
    """The kernel refused for lack of a capability (``EPERM``, ``EACCES``)."""

    capability: str
    """The capability the operation needs, such as ``"CAP_NET_ADMIN"``."""

# --- what queries return ------------------------------------------------------------------

@final
class Link:
    """A link as the kernel reports it (``ip -d link show``)."""

    @property
    def index(self) -> int:
        """Interface index."""
    @property
    def ifname(self) -> str:
        """Interface name."""
    @property
    def kind(self) -> str | None:
        """Kind (``"veth"``, ``"bridge"``, ...); None for physical devices and loopback."""
    @property
    def address(self) -> str | None:
        """Hardware (MAC) address in lower case, when the device has one."""
    @property
    def mtu(self) -> int:
        """MTU in bytes."""
    @property
    def state(
        self,
    ) -> Literal["up", "down", "lower_layer_down", "dormant", "testing", "not_present", "unknown"]:
        """Operational state (RFC 2863), as ``ip link`` shows it after ``state``."""
    @property
    def master(self) -> int | None:
        """Index of the bridge this link is a port of."""
    @property
    def link(self) -> int | None:
        """Index of the lower device or veth peer (``IFLA_LINK``), possibly in another namespace."""
    @property
    def flags(self) -> int:
        """The ``IFF_*`` flags."""
    @property
    def alias(self) -> str | None:
        """The interface alias (``ip link set dev X alias TEXT``)."""
    @property
    def up(self) -> bool:
        """Whether the link is administratively up (``IFF_UP``)."""
    @property
    def carrier(self) -> bool:
        """Whether the link has carrier (``IFF_LOWER_UP``)."""
    def to_dict(self) -> dict[str, Any]:
        """The link as a dict of plain values (the JSON the command line prints)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Address:
    """An IP address on a link (``ip addr show``); ``str()`` gives ``"10.0.0.2/24"``."""

    @property
    def index(self) -> int:
        """Index of the link that carries it."""
    @property
    def address(self) -> str:
        """The address without its prefix length."""
    @property
    def prefixlen(self) -> int:
        """The prefix length."""
    @property
    def family(self) -> int:
        """``socket.AF_INET`` or ``socket.AF_INET6``."""
    def to_dict(self) -> dict[str, Any]:
        """The address as a dict of plain values."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Route:
    """A route of the main table (``ip route show``); ``str()`` gives ``"default via 10.0.0.1 dev #3"``."""

    @property
    def dst(self) -> str:
        """Destination prefix; ``"0.0.0.0/0"`` or ``"::/0"`` for a default route."""
    @property
    def gateway(self) -> str | None:
        """Next hop, or None for a route straight out of the interface."""
    @property
    def oif(self) -> int | None:
        """Output interface index."""
    @property
    def priority(self) -> int | None:
        """Metric."""
    @property
    def default(self) -> bool:
        """Whether this is a default route."""
    def to_dict(self) -> dict[str, Any]:
        """The route as a dict of plain values."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

# --- namespaces ---------------------------------------------------------------------------

@final
class Namespace:
    """A network namespace, held open by its file descriptor.

    Equal when they are the same namespace (same nsfs device and inode). As a context
    manager it deletes, on exit, a namespace it created (``create``) and otherwise only
    closes its descriptor. Its netlink socket is opened on first use and shared by threads.
    """

    @staticmethod
    def current() -> Namespace:
        """The namespace of the calling thread."""
    @staticmethod
    def from_pid(pid: int) -> Namespace:
        """The namespace of process ``pid`` (``/proc/PID/ns/net``).

        Raises:
            NotFound: there is no such process.
            InvalidArgument: ``pid`` is 0.
        """
    @staticmethod
    def from_name(name: str) -> Namespace:
        """The namespace named ``name`` in /run/netns, like ``ip netns exec NAME``.

        Raises:
            NotFound: there is no such namespace.
            InvalidArgument: the name is empty, ``.``, ``..`` or contains ``/``.
        """
    @staticmethod
    def from_path(path: str | os.PathLike[str]) -> Namespace:
        """The namespace a file refers to: a bind mount, ``/proc/PID/ns/net``, Docker's SandboxKey.

        Raises:
            InvalidArgument: the file is not a network namespace.
        """
    @staticmethod
    def create(name: str | None = None) -> Namespace:
        """Creates a namespace: named in /run/netns (``ip netns add NAME``) or anonymous.

        An anonymous namespace lives as long as this object (or a link or process in it).

        Raises:
            AlreadyExists: a namespace of that name exists.
        """
    @property
    def name(self) -> str | None:
        """The name in /run/netns, for named namespaces."""
    @property
    def pid(self) -> int | None:
        """The process it was opened from (``from_pid``)."""
    @property
    def path(self) -> str | None:
        """The file it was opened from (``from_path``)."""
    @property
    def inode(self) -> int:
        """The inode number, the number in ``net:[4026531833]``."""
    @property
    def dev(self) -> int:
        """The device number of its nsfs file."""
    @property
    def created(self) -> bool:
        """Whether this object created the namespace (and so deletes it on ``with`` exit)."""
    @property
    def closed(self) -> bool:
        """Whether ``close()``, ``delete()`` or the end of a ``with`` block released it."""
    def delete(self) -> None:
        """Deletes a named namespace (``ip netns del``) or releases an anonymous one; closes this object."""
    def close(self) -> None:
        """Releases the descriptor and the netlink socket; the namespace itself stays."""
    def __enter__(self) -> Namespace: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

    # Queries, in pyroute2's vocabulary.
    def links(self) -> list[Link]:
        """Every link of the namespace (``ip link show``)."""
    def link(self, ifname: str | int) -> Link:
        """One link by name or index (``ip link show dev NAME``).

        Raises:
            NotFound: there is no such link.
        """
    def addresses(self, ifname: str | int | None = None) -> list[Address]:
        """The addresses of one link, or of every link (``ip addr show [dev NAME]``)."""
    def routes(self, family: int = socket.AF_INET) -> list[Route]:
        """The main table's routes of ``family`` (``socket.AF_INET`` or ``AF_INET6``)."""
    def ping(self, address: str, *, timeout: float = 5.0) -> float:
        """Sends ICMP echo requests from inside the namespace until one is answered.

        Like ``ip netns exec NS ping -c 1 -W TIMEOUT ADDRESS``. The GIL is released while
        waiting, and Ctrl-C is noticed within 100 ms.

        Returns:
            The round-trip time in seconds.

        Raises:
            PipeworkError: no reply within ``timeout`` (``errno.ETIMEDOUT``).
        """

    def wait_for(
        self,
        ifname: str,
        condition: Literal["exists", "up", "addressed"] = "up",
        *,
        timeout: float | None = None,
    ) -> Link:
        """Waits until link ``ifname`` exists, passes traffic (``"up"``), or is up with a global address.

        Woken by the kernel's netlink notifications rather than a sleep loop. The GIL is
        released while waiting, and Ctrl-C is noticed within 100 ms.

        Args:
            ifname: the link's name.
            condition: ``"exists"``, ``"up"`` (the default) or ``"addressed"``.
            timeout: seconds to wait at most; None waits forever.

        Returns:
            The link as it is once the condition holds.

        Raises:
            PipeworkError: the timeout passed first (``errno.ETIMEDOUT``).
        """

    # Building blocks for test harnesses.
    def bridge_add(self, ifname: str, *, mtu: int | None = None) -> Link:
        """Creates a bridge, or finds the existing one, and brings it up.

        Like ``ip link add NAME [mtu MTU] up type bridge``.

        Raises:
            PipeworkError: an interface of that name exists and is not a bridge (``EBUSY``).
        """
    def veth_add(
        self,
        ifname: str,
        peer: str,
        *,
        peer_netns: Namespace | None = None,
        mtu: int | None = None,
        master: str | int | None = None,
        address: str | None = None,
        peer_address: str | None = None,
        state: Literal["up", "down"] | None = None,
    ) -> Link:
        """Creates a veth pair in one request, the peer born in ``peer_netns`` when given.

        Like ``ip link add IFNAME [mtu M] [master BR] [up] type veth peer name PEER [netns NS]``.
        ``state="up"`` brings this end up; the peer is left down.

        Returns:
            This end of the pair.
        """
    def link_set(
        self,
        ifname: str | int,
        *,
        state: Literal["up", "down"] | None = None,
        mtu: int | None = None,
        master: str | int | None = None,
        address: str | None = None,
    ) -> None:
        """Changes a link (``ip link set dev IFNAME [up|down] [mtu M] [master BR] [address MAC]``)."""
    def link_del(self, ifname: str | int) -> None:
        """Deletes a link, for a veth both ends (``ip link del dev IFNAME``)."""
    def addr_add(self, ifname: str | int, address: str) -> None:
        """Adds an address such as ``"10.0.0.1/24"`` (``ip addr add ADDRESS dev IFNAME``)."""
    def addr_del(self, ifname: str | int, address: str) -> None:
        """Removes an address (``ip addr del ADDRESS dev IFNAME``)."""

# --- guests and attachments ---------------------------------------------------------------

@final
class Guest:
    """A container or namespace found by ``resolve()``, its namespace held open."""

    @property
    def namespace(self) -> Namespace:
        """The guest's network namespace."""
    @property
    def pid(self) -> int | None:
        """A process inside the namespace, when the guest has one."""
    @property
    def name(self) -> str | None:
        """The guest's name (container or namespace name)."""
    @property
    def id(self) -> str | None:
        """The engine's ID of the guest (container ID)."""
    @property
    def engine(self) -> str:
        """Which resolver found it: ``"pid"``, ``"netns"``, ``"docker"``, ``"podman"``, ``"lxc"``."""

def resolve(target: str) -> Guest:
    """Finds the guest ``target`` names, as the ``pipework`` command does.

    A PID, a /run/netns name or a namespace path, a Docker or Podman container (name or ID),
    or an LXC container. ``"pid:42"``, ``"netns:web"``, ``"docker:web"`` ask one resolver only.

    Raises:
        ResolveError: no resolver knows the target; the message gives each one's reason.
    """

@final
class Attachment:
    """What ``attach()`` made, recorded so that ``detach()`` undoes exactly that.

    As a context manager it detaches on exit when this call created the attachment
    (``status == "created"``); one found already in place is left alone.
    """

    @property
    def status(self) -> Literal["created", "already_attached"]:
        """Created by this call, or found in place (nothing was changed)."""
    @property
    def host(self) -> str:
        """The host interface: the bridge, or the macvlan parent."""
    @property
    def host_netns(self) -> Namespace:
        """The namespace of the host side."""
    @property
    def ifname(self) -> str:
        """The interface name inside the guest."""
    @property
    def ifindex(self) -> int:
        """The guest interface's index inside the guest."""
    @property
    def host_ifname(self) -> str:
        """The host-side interface (the veth end on the bridge)."""
    @property
    def host_ifindex(self) -> int:
        """Its index in the host namespace."""
    @property
    def addresses(self) -> list[str]:
        """The guest interface's addresses, as ``"10.0.0.2/24"``."""
    @property
    def gateways(self) -> list[str]:
        """The default gateways installed."""
    @property
    def mac(self) -> str | None:
        """The guest interface's MAC as the kernel reports it."""
    @property
    def mtu(self) -> int:
        """The MTU applied (the bridge's unless given)."""
    @property
    def bridge_created(self) -> bool:
        """Whether this attach created the bridge."""
    @property
    def guest_pid(self) -> int | None:
        """The guest's process, when known."""
    @property
    def guest_name(self) -> str | None:
        """The guest's name, when known."""
    @property
    def guest_inode(self) -> int:
        """The inode of the guest's namespace."""
    def to_dict(self) -> dict[str, Any]:
        """The whole record as plain values: the JSON the command line prints."""
    def detach(self) -> None:
        """Removes what the attach created and restores the default routes it replaced.

        The bridge goes too when pipework created it and no port is left. Works when the
        guest is already gone (only the host side is left to clean).
        """
    def __enter__(self) -> Attachment: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

def attach(
    guest: Guest | Namespace | int | str,
    host: str,
    *,
    ifname: str | None = None,
    host_ifname: str | None = None,
    addresses: str | Sequence[str] | None = None,
    gateway: str | Sequence[str] | None = None,
    mac: str | None = None,
    mtu: int | None = None,
    vlan: int | None = None,
    dhcp: bool = False,
    host_netns: Namespace | None = None,
) -> Attachment:
    """Connects ``guest`` to ``host``, like ``pipework HOST GUEST ADDRESS@GATEWAY MAC``.

    For a bridge ``host`` (created if missing) this makes a veth pair whose guest end is
    born inside the guest with its name, MTU and MAC; for a physical device a macvlan child
    born inside the guest; then the addresses, link up and the default routes. A failure half-way removes what this call created. Running the same
    call again returns the attachment in place with ``status == "already_attached"``.

    Args:
        guest: a ``Guest``, a ``Namespace``, a PID, or a target for ``resolve()``.
        host: the host interface, read as the ``pipework`` command reads it: an existing
            bridge, or a missing ``br*`` name (a bridge is created), gets a veth pair; any
            other existing device gets a macvlan child (bridge mode).
        ifname: the interface name inside the guest (default ``"eth1"``).
        host_ifname: the host-side name (default ``v<ifname>pl<pid>``, or a hashed name).
        addresses: one or more ``"ADDRESS/PREFIX"``, IPv4 and IPv6.
        gateway: one default gateway per family.
        mac: the guest interface's MAC, or ``"U:<string>"`` for pipework's stable derived one.
        mtu: the MTU (default: the bridge's).
        vlan: 802.1Q VLAN id; not supported yet (``errno.EOPNOTSUPP``).
        dhcp: get the address by DHCP; not supported yet (``errno.EOPNOTSUPP``).
        host_netns: the namespace of the host side (default: the calling thread's).

    Raises:
        InvalidArgument: an argument is malformed; nothing was changed.
        ResolveError: ``guest`` names nothing.
        AlreadyExists: another interface is in the way.
        MissingCapability: the process lacks CAP_NET_ADMIN or CAP_SYS_ADMIN.
    """
