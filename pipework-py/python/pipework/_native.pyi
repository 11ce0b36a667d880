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
    "DhcpLease",
    "DhcpOptions",
    "Guest",
    "InvalidArgument",
    "LeaseEvent",
    "LeaseRecord",
    "Link",
    "MissingCapability",
    "Namespace",
    "NamespaceError",
    "NotFound",
    "PipeworkError",
    "ResolveError",
    "Route",
    "TipcError",
    "Topology",
    "Watch",
    "__version__",
    "attach",
    "resolve",
    "wait_for",
    "watch",
]

__version__: str
"""The version of pipework-rs this module was built from."""

# --- errors -------------------------------------------------------------------------------

class PipeworkError(OSError):
    """Base class of pipework's errors.

    An ``OSError``: ``.errno`` is the kernel's answer (or the closest errno for a refused
    argument) and ``str()`` names the operation, the object and the cause.
    """

    @property
    def code(self) -> int | None:
        """The errno, as pyroute2's ``NetlinkError.code``."""

class NotFound(PipeworkError):
    """Something the operation needs does not exist (``ENOENT``, ``ENODEV``)."""

class AlreadyExists(PipeworkError):
    """Something the operation would create already exists (``EEXIST``)."""

class ResolveError(PipeworkError):
    """A guest target names no container, process or namespace (usually ``ENOENT``)."""

class NamespaceError(PipeworkError):
    """A network namespace cannot be opened, created, entered or deleted, or is closed (``EBADF``)."""

class DhcpError(PipeworkError):
    """A DHCP exchange failed.

    ``errno.ETIMEDOUT``: no server answered (or one offered but never acknowledged) within the
    timeout; ``errno.ECONNREFUSED``: a server refused with a DHCPNAK (the message names it);
    ``errno.EBUSY``: a lease that ran out cannot be kept; ``errno.EIO``: an external client
    failed (its last words are in the message). Nothing is left behind: no address, no
    route, no process.
    """

class TipcError(PipeworkError):
    """A TIPC operation failed.

    A kernel without TIPC gives ``errno.EOPNOTSUPP`` and a message that ends with the fix
    (``modprobe tipc``); a node identity that is already set gives ``errno.EBUSY``; links
    that stay down past ``wait_links`` give ``errno.ETIMEDOUT``.
    """

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
    @property
    def tentative(self) -> bool:
        """True while duplicate address detection has not passed (``tentative`` in ``ip addr``)."""
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
        condition: Literal["exists", "up", "addressed", "routed"] = "up",
        *,
        timeout: float | None = None,
    ) -> Link:
        """Waits until link ``ifname`` exists, passes traffic (``"up"``), has an address, or a route.

        Woken by the kernel's netlink notifications rather than a sleep loop. The GIL is
        released while waiting, and Ctrl-C is noticed within 100 ms.

        Args:
            ifname: the link's name.
            condition: ``"exists"``, ``"up"`` (the default), ``"addressed"`` (up, with a global
                address that duplicate address detection has passed) or ``"routed"``
                (addressed, and a default route leaves through it).
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
        """The host interface: the bridge, the macvlan or ipvlan parent, the moved device."""
    @property
    def host_kind(
        self,
    ) -> Literal["bridge", "macvlan", "physical", "ovs_bridge", "ipvlan", "dummy", "ipoib"]:
        """What the guest hangs off (a macvtap is a ``"macvlan"`` with ``tap`` in ``to_dict()``)."""
    @property
    def vlan(self) -> int | None:
        """The VLAN the guest is in, if any."""
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
        """The host-side interface (the veth end on the bridge; empty for a dummy)."""
    @property
    def host_ifindex(self) -> int:
        """Its index in the host namespace."""
    @property
    def addresses(self) -> list[str]:
        """The guest interface's static addresses, as ``"10.0.0.2/24"`` (see ``lease`` for DHCP)."""
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
    @property
    def lease(self) -> LeaseRecord | None:
        """The DHCP lease of the guest interface, as it is now, when ``dhcp=`` was given."""
    @property
    def dhcp(self) -> DhcpLease | None:
        """The lease this process keeps renewed (``keep=True`` with pipework's own client).

        None for a lease obtained once (it lives as long as its lease time), or kept by a
        background process. ``detach()`` releases it.
        """
    def to_dict(self) -> dict[str, Any]:
        """The whole record as plain values: the JSON the command line prints."""
    def detach(self) -> None:
        """Releases the DHCP lease, removes what the attach created, restores replaced routes.

        The bridge goes too when pipework created it and no port is left; so does a VLAN
        sub-interface pipework created once nothing is stacked on it. Works when the guest is
        already gone (only the host side is left to clean).
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
    dhcp: bool | str | DhcpOptions | None = None,
    mode: Literal["bridge", "private", "vepa", "passthru", "source"] | None = None,
    macvtap: bool = False,
    ipvlan: Literal["l2", "l3", "l3s"] | None = None,
    direct_phys: bool = False,
    pkey: int | None = None,
    host_shim: str | None = None,
    announce: bool = True,
    allow_host_namespace: bool = False,
    vxlan: str | None = None,
    host_netns: Namespace | None = None,
) -> Attachment:
    """Connects ``guest`` to ``host``, like ``pipework HOST GUEST ADDRESS@GATEWAY MAC@VLAN``.

    For a bridge ``host`` (created if missing) this makes a veth pair whose guest end is
    born inside the guest with its name, MTU and MAC; for a physical device a macvlan child
    born inside the guest; then the addresses (or a DHCP lease), link up and the default
    routes. A failure half-way removes what this call created. Running the same call again
    returns the attachment in place with ``status == "already_attached"``.

    Args:
        guest: a ``Guest``, a ``Namespace``, a PID, or a target for ``resolve()``.
        host: the host interface, read as the ``pipework`` command reads it: an existing
            bridge, or a missing ``br*`` name, gets a veth pair (the bridge is created); an
            existing Open vSwitch bridge or a missing ``ovs*`` name a veth port of it; an
            IPoIB device an IPoIB child (guest ``ib0``); a missing ``dummy*`` name a dummy
            in the guest; any other device a macvlan child (bridge mode); ``"mac:MAC"`` the
            device with that MAC.
        ifname: the interface name inside the guest (default ``"eth1"``, ``"ib0"`` for IPoIB).
        host_ifname: the host-side name of a veth (default ``v<ifname>pl<pid>``, or hashed).
        addresses: one or more ``"ADDRESS/PREFIX"``, IPv4 and IPv6.
        gateway: one default gateway per family.
        mac: the guest interface's MAC, ``"U:<string>"`` for pipework's derived one, or
            ``"stable"`` for one derived from the guest's identity and ``ifname`` (the same
            on every attach of that container and interface).
        mtu: the MTU (default: the host side's).
        vlan: the original's ``@VLAN``: a ``<parent>.<vlan>`` sub-interface under a macvlan or
            ipvlan guest, an access port of a VLAN-filtering Linux bridge, an OVS port tag.
        dhcp: address the interface by DHCPv4 instead of static IPv4: ``True`` for
            pipework's own client, a word of the command line (``"dhcp:-f"``,
            ``"udhcpc-f:-V vendor"``, ``"dhclient"``, ``"dhcpcd"``), or a ``DhcpOptions``.
            The lease is ``lease``; ``detach()`` releases it.
        mode: the macvlan mode on a physical parent (default ``"bridge"``).
        macvtap: a macvtap (with its ``/dev/tapN``) instead of a macvlan.
        ipvlan: an ipvlan in this mode instead of a macvlan.
        direct_phys: move the physical device itself into the guest; detach gives it back.
        pkey: the partition key of an IPoIB child, such as ``0x8001``.
        host_shim: ``"ADDRESS/PREFIX"`` for a host-side macvlan through which the host reaches
            a macvlan guest.
        announce: send a gratuitous ARP / unsolicited neighbour advertisement for the addresses.
        allow_host_namespace: let ``guest`` be ``host_netns`` itself (refused otherwise, since
            the interface, addresses and default route would land in the host).
        vxlan: ``"VNI@REMOTE[,REMOTE...][%DEV]"``: the bridge joins a VXLAN overlay across
            hosts (tunnel port ``vx<VNI>`` flooding to every remote; the guest's MTU is the
            underlay's less the encapsulation).
        host_netns: the namespace of the host side (default: the calling thread's).

    Raises:
        InvalidArgument: an argument is malformed; nothing was changed.
        ResolveError: ``guest`` names nothing.
        AlreadyExists: another interface is in the way.
        DhcpError: no lease (timeout, refusal); nothing was left.
        PipeworkError: ``errno.EBUSY``: the host interface is the wrong kind for the options
            (a macvlan mode on a bridge, a partition key on a non-IPoIB device), or ``guest``
            is the host's own namespace; nothing was changed. ``errno.EOPNOTSUPP``: the kernel
            lacks what is asked (a VLAN on a bridge of a kernel without VLAN filtering, an
            ipvlan without the module).
        MissingCapability: the process lacks CAP_NET_ADMIN or CAP_SYS_ADMIN.
    """

def wait_for(
    namespace: Namespace | Guest | None,
    ifname: str,
    state: Literal["exists", "up", "addressed", "routed"] = "up",
    timeout: float | None = None,
) -> Link:
    """Waits until link ``ifname`` of ``namespace`` exists, passes traffic, has an address or a route.

    ``Namespace.wait_for`` as a function; ``None`` is the calling thread's namespace (inside a
    container, like ``pipework --wait``). Woken by netlink notifications, the GIL released,
    Ctrl-C noticed within 100 ms.

    Returns:
        The link as it is once the state is reached.

    Raises:
        PipeworkError: the timeout passed first (``errno.ETIMEDOUT``).
    """

# --- topologies ---------------------------------------------------------------------------

@final
class Topology:
    """A lab: nodes and links read from a containerlab file, checked as ``pipework apply`` checks it.

    ``Topology("tri.clab.yml")`` reads a file (YAML or JSON); ``Topology({...})`` a dict of the
    file's shape; ``Topology.parse(text)`` its text. Bad input raises ``InvalidArgument`` naming
    the file, line and field. Every operation takes ``state_dir`` (where the lab's record is
    kept: default ``$PIPEWORK_STATE_DIR`` or /run/pipework) and ``host_netns`` (where bridge
    nodes and bridge ports live: default the caller's namespace).
    """

    def __new__(cls, source: str | os.PathLike[str] | dict[str, Any]) -> Topology: ...
    @staticmethod
    def parse(text: str, source: str = "<text>") -> Topology:
        """Reads a lab from a file's text; ``source`` names it in errors."""

    def renamed(self, name: str) -> Topology:
        """The same lab under another name, its namespaces renamed with it (parallel copies of one file)."""

    @property
    def name(self) -> str:
        """The lab's name."""

    @property
    def nodes(self) -> list[str]:
        """The node names, sorted."""

    def netns_name(self, node: str) -> str | None:
        """The /run/netns name apply gives node ``node`` (``clab-<lab>-<node>``); None for a bridge or guest node."""

    def to_dict(self) -> dict[str, Any]:
        """The lab as read: ``{"name", "nodes", "links"}``."""

    def plan(
        self, *, state_dir: str | os.PathLike[str] | None = None, host_netns: Namespace | None = None
    ) -> list[dict[str, Any]]:
        """The steps from what the lab's previous apply made to this file (``pipework diff``); changes nothing."""

    def apply(
        self, *, state_dir: str | os.PathLike[str] | None = None, host_netns: Namespace | None = None
    ) -> list[dict[str, Any]]:
        """Makes the lab what the file says as one transaction (``pipework apply``); returns the steps made."""

    def destroy(
        self, *, state_dir: str | os.PathLike[str] | None = None, host_netns: Namespace | None = None
    ) -> list[dict[str, Any]]:
        """Removes what the lab's applies made (``pipework destroy --lab``); returns the steps made."""

    def status(
        self, *, state_dir: str | os.PathLike[str] | None = None, host_netns: Namespace | None = None
    ) -> dict[str, Any] | None:
        """The lab's record with what is in place (``pipework show --lab --json``); None without a record."""

# --- watcher ------------------------------------------------------------------------------

@final
class Watch:
    """A watcher of Docker and Podman (what ``pipework watch`` runs), on a thread of this process.

    ``with pipework.watch(...) as w:`` starts it and stops it cleanly at the end of the block;
    containers that start meanwhile get what their ``pipework`` labels (and ``pipework_cmd``
    variables) ask for, and lose it when they die. What it attached stays after ``stop()``.
    """

    def start(self) -> None:
        """Starts following the engines on a thread (a reconcile first); PipeworkError(EBUSY) when it runs."""

    def stop(self) -> None:
        """Stops the thread within 0.2 s and waits for it; raises what made the watcher fail."""

    def reconcile_once(self) -> None:
        """Attaches what running containers ask for, detaches what dead ones had, on this thread."""

    @property
    def running(self) -> bool:
        """Whether the thread runs."""

    @property
    def reports(self) -> list[str]:
        """The lines reported so far, one per action (what ``pipework watch`` prints)."""

    def __enter__(self) -> Watch: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

def watch(
    engines: Sequence[Literal["docker", "podman"]] | None = None,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    host_netns: Namespace | None = None,
) -> Watch:
    """A watcher of ``engines`` (default both: Docker at ``$DOCKER_HOST``, Podman at ``$CONTAINER_HOST``).

    Its records go under ``state_dir`` (default ``$PIPEWORK_STATE_DIR`` or /run/pipework) in
    ``watch/``; host sides are made in ``host_netns`` (default: the caller's namespace).

    Raises:
        InvalidArgument: an engine that is not ``"docker"`` or ``"podman"``, or none.
    """

# --- DHCP ---------------------------------------------------------------------------------

@final
class DhcpOptions:
    """How ``attach(dhcp=...)`` addresses the guest interface by DHCP.

    ``word`` is read like the command line reads it (``"dhcp"``, ``"dhcp:-f -O ntpsrv"``,
    ``"udhcpc-f:-V vendor"``, ``"dhclient"``, ``"dhcpcd:-4"``), then the keywords given
    replace what the word says (as on the command line, ``"dhcp:-f"`` is kept renewed by a
    background lease keeper, and options only udhcpc knows make ``client`` ``"udhcpc"`` when it
    is installed). Everything is checked here, before anything changes.

    Args:
        word: the client and its options (default: pipework's own client).
        timeout: seconds to wait for a lease (default 30); then everything is undone.
        hostname: the host name sent: a name, ``True`` for the guest's name (the default,
            like the original), ``False`` for none.
        keep: ``False``: obtain the lease and stop, it lives for its lease time; ``True``:
            keep it renewed while the attachment lives (by this process for pipework's own
            client, see ``Attachment.dhcp``; by the external client kept running otherwise);
            ``"daemon"``: by a background process (``pipework-dhcp-keeper`` on the PATH for
            pipework's own client), stopped by ``detach()``.
        request_options: options to request besides the usual ones, by number or udhcpc
            name (``"ntpsrv"``); their raw values are in ``LeaseRecord.options``.
        replace_default_route: replace a default route the guest already has (else the
            lease's router is not installed, so there are never two).
        write_resolv_conf: write the lease's DNS servers into the guest's own resolv.conf
            (never the host's).

    Raises:
        InvalidArgument: not a DHCP word, an option the client does not know, a zero timeout...
    """

    def __new__(
        cls,
        word: str = "dhcp",
        *,
        timeout: float | None = None,
        hostname: str | bool | None = None,
        keep: bool | Literal["daemon"] | None = None,
        request_options: Sequence[int | str] | None = None,
        replace_default_route: bool = False,
        write_resolv_conf: bool = False,
    ) -> DhcpOptions: ...
    @property
    def client(self) -> Literal["native", "udhcpc", "dhclient", "dhcpcd"]:
        """``"native"`` (pipework's own client) or the external program."""
    @property
    def keep(self) -> Literal["once", "foreground", "daemon"]:
        """Obtained once, renewed by this process, or renewed by a background process."""
    @property
    def options(self) -> list[str]:
        """The options after the word's ``:``."""
    @property
    def timeout(self) -> float:
        """Seconds to wait for a lease."""
    @property
    def hostname(self) -> str | bool:
        """The host name sent: a name, ``True`` for the guest's name, ``False`` for none."""
    @property
    def request_options(self) -> list[int]:
        """The options requested besides the usual ones."""
    @property
    def replace_default_route(self) -> bool:
        """Whether an existing default route is replaced."""
    @property
    def write_resolv_conf(self) -> bool:
        """Whether the guest's resolv.conf is written."""
    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (the ``dhcp`` part of an attachment's plan)."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class LeaseRecord:
    """A DHCPv4 lease: what the server leased, and what applying it changed."""

    @property
    def ifname(self) -> str:
        """The guest interface that holds the lease."""
    @property
    def ifindex(self) -> int:
        """Its index in the guest namespace."""
    @property
    def mac(self) -> str | None:
        """Its MAC; the client identifier is made from it."""
    @property
    def address(self) -> str:
        """The leased address with its prefix, like ``"10.0.0.23/24"``."""
    @property
    def router(self) -> str | None:
        """The default router (option 3), unless classless routes replace it."""
    @property
    def static_routes(self) -> list[tuple[str, str]]:
        """Classless static routes (option 121) as ``(destination, next hop)``."""
    @property
    def dns_servers(self) -> list[str]:
        """DNS servers (option 6)."""
    @property
    def domain(self) -> str | None:
        """The domain name (option 15)."""
    @property
    def search(self) -> list[str]:
        """The domain search list (option 119)."""
    @property
    def mtu(self) -> int | None:
        """The interface MTU the server offered (option 26); applied to the interface."""
    @property
    def hostname(self) -> str | None:
        """The host name sent to the server."""
    @property
    def server(self) -> str | None:
        """The server that granted the lease."""
    @property
    def lease_time(self) -> int | None:
        """The lease time in seconds (also the address's lifetime in the kernel)."""
    @property
    def renew_time(self) -> int | None:
        """When renewing starts (T1), in seconds after ``obtained_at``."""
    @property
    def rebind_time(self) -> int | None:
        """When rebinding starts (T2), in seconds after ``obtained_at``."""
    @property
    def obtained_at(self) -> int:
        """When the lease was granted or last renewed, in seconds since the Unix epoch."""
    @property
    def remaining(self) -> float | None:
        """Seconds left before the lease runs out, counted now."""
    @property
    def options(self) -> dict[int, bytes]:
        """The raw value of each extra option requested and sent, by number."""
    def to_dict(self) -> dict[str, Any]:
        """The lease as plain values."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class LeaseEvent:
    """Something that happened to a kept lease (``DhcpLease.next_event()``)."""

    @property
    def kind(self) -> Literal["renewing", "rebinding", "renewed", "lost", "reacquired", "ended"]:
        """Renewing at T1, rebinding at T2, renewed, lost (address removed), a new lease
        after a loss, or ended (the guest or its interface went away)."""
    @property
    def lease(self) -> LeaseRecord | None:
        """The lease as it is now, for ``"renewed"`` and ``"reacquired"``."""
    @property
    def reason(self) -> str | None:
        """Why, for ``"lost"`` and ``"ended"``."""
    def to_dict(self) -> dict[str, Any]:
        """The event as plain values."""

@final
class DhcpLease:
    """A DHCPv4 lease kept renewed by pipework's own client, on a thread of this process.

    The client runs inside the guest's namespace (raw and UDP sockets there, nothing run
    with ``ip netns exec``); the lease is applied over netlink. While the object lives, the
    lease is renewed at T1 and rebound at T2. ``release()`` (or the end of a ``with`` block)
    gives it back; an object dropped without it stops renewing and leaves the address until
    its lifetime, the lease time, runs out.
    """

    @staticmethod
    def acquire(
        guest: Guest | Namespace | int | str,
        ifname: str,
        *,
        timeout: float | None = None,
        hostname: str | bool | None = None,
        request_options: Sequence[int | str] | None = None,
        replace_default_route: bool = False,
        write_resolv_conf: bool = False,
    ) -> DhcpLease:
        """Obtains a lease for the existing interface ``ifname`` of ``guest``, and applies it.

        The interface is brought up if it is down. The client identifier is its MAC, so a
        stable ``U:`` MAC gets the same lease back. The GIL is released while waiting, and
        Ctrl-C is noticed within 100 ms (the exchange is abandoned, nothing is left).

        Args:
            guest: a ``Guest``, a ``Namespace``, a PID, or a target for ``resolve()``.
            ifname: the interface inside the guest.
            timeout: seconds to wait for a lease (default 30).
            hostname, request_options, replace_default_route, write_resolv_conf: as for
                ``DhcpOptions``.

        Raises:
            DhcpError: no lease: ``errno.ETIMEDOUT`` when nothing answered in time,
                ``errno.ECONNREFUSED`` for a DHCPNAK. Nothing is left: no address, no
                route, no thread.
            NotFound: the interface does not exist.
            InvalidArgument: a setting is malformed.
        """
    @property
    def ifname(self) -> str:
        """The interface that holds the lease."""
    @property
    def address(self) -> str:
        """The leased address with its prefix (a new one after a loss and a new lease)."""
    @property
    def router(self) -> str | None:
        """The default router."""
    @property
    def dns_servers(self) -> list[str]:
        """DNS servers."""
    @property
    def lease_time(self) -> int | None:
        """The lease time in seconds."""
    @property
    def record(self) -> LeaseRecord:
        """The whole lease as it is now."""
    @property
    def released(self) -> bool:
        """Whether ``release()`` gave the lease back."""
    def next_event(self, timeout: float | None = None) -> LeaseEvent | None:
        """Waits up to ``timeout`` seconds (None: forever) for what happens next to the lease.

        The GIL is released while waiting, and Ctrl-C is noticed within 100 ms.

        Returns:
            The event, or None when the timeout passed first (or the lease was released).
        """
    def release(self) -> None:
        """Sends DHCPRELEASE and removes the address, routes, MTU and resolv.conf it set.

        Like ``dhclient -r IFNAME``. A second call does nothing.
        """
    def __enter__(self) -> DhcpLease: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

# --- TIPC (re-exported by pipework.tipc, not by pipework) ---------------------------------

@final
class NodeId:
    """A TIPC node's 128-bit identity, written as a name (``"web"``) or hex.

    ``NodeId(text)`` reads it as ``tipc node set identity`` does: up to 16 characters of
    ``[0-9A-Za-z-_.:@]`` are a name, anything else must be 17 to 32 hex digits. ``str()``
    writes it as the kernel shows it.

    Raises:
        InvalidArgument: neither a name nor hex.
    """

    def __new__(cls, text: str) -> NodeId: ...
    @staticmethod
    def from_hex(text: str) -> NodeId:
        """An identity written as 1 to 32 hex digits, short ones too."""
    @staticmethod
    def derive(key: str) -> NodeId:
        """The identity pipework gives a guest called ``key``: the key when it is a valid
        name, else 32 hex digits of a digest (the same container, the same identity)."""
    @property
    def bytes(self) -> bytes:
        """The 16 raw bytes."""
    @property
    def hash32(self) -> int:
        """The 32-bit hash the kernel makes the node's address from (unless two collide)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TipcAddress:
    """A legacy TIPC node address ``Z.C.N``; ``int()`` gives the kernel's 32-bit form.

    Raises:
        InvalidArgument: cluster or node above 4095, zone above 255, or ``0.0.0``.
    """

    def __new__(cls, zone: int, cluster: int, node: int) -> TipcAddress: ...
    @staticmethod
    def parse(text: str) -> TipcAddress:
        """Reads ``"Z.C.N"``, like ``tipc node set address``."""
    @property
    def zone(self) -> int:
        """Zone."""
    @property
    def cluster(self) -> int:
        """Cluster."""
    @property
    def node(self) -> int:
        """Node."""
    def __int__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class BearerSpec:
    """A TIPC bearer to enable, read from ``eth:IFNAME`` or
    ``udp:NAME[,local=IP[:PORT]][,dev=IFNAME][,port=PORT][,remote=IP[:PORT]]``.

    Without ``local=``, a UDP bearer takes its address from interface ``dev`` (default
    NAME) on port 6118; without ``remote=`` it uses the multicast group of the network id.
    ``str()`` writes it back.

    Raises:
        InvalidArgument: the text is not a bearer, or a name or address in it is invalid.
    """

    def __new__(cls, text: str) -> BearerSpec: ...
    @property
    def media(self) -> Literal["eth", "udp"]:
        """The medium."""
    @property
    def name(self) -> str:
        """The bearer's name as the kernel knows it (``"eth:eth0"``, ``"udp:net1"``)."""
    @property
    def ifname(self) -> str | None:
        """The interface: an Ethernet bearer's, or the one a UDP bearer takes its address from."""
    @property
    def local(self) -> str | None:
        """A UDP bearer's local ``IP:PORT``, when given as ``local=``."""
    @property
    def remote(self) -> str | None:
        """A UDP bearer's peer or group ``IP:PORT``, when given."""
    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class TipcConfig:
    """The node-wide TIPC settings of a namespace (``tipc net get``, ``tipc node get``)."""

    @property
    def net_id(self) -> int:
        """The network id; nodes link only with nodes of the same id (4711 until set)."""
    @property
    def identity(self) -> NodeId | None:
        """The node identity, once set."""
    @property
    def address(self) -> int:
        """The 32-bit node address; 0 until the node has joined."""
    @property
    def legacy_address(self) -> TipcAddress | None:
        """The ``Z.C.N`` address, when the node was given one."""
    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values."""

@final
class TipcBearer:
    """An enabled TIPC bearer (``tipc bearer list``)."""

    @property
    def name(self) -> str:
        """``"eth:eth0"`` or ``"udp:NAME"``."""
    @property
    def priority(self) -> int | None:
        """Link priority in force."""
    @property
    def tolerance(self) -> int | None:
        """Link tolerance in ms."""
    @property
    def window(self) -> int | None:
        """Link window in packets."""
    @property
    def udp_local(self) -> str | None:
        """A UDP bearer's local ``IP:PORT``."""
    @property
    def udp_remote(self) -> str | None:
        """A UDP bearer's peer or group ``IP:PORT``."""
    def to_dict(self) -> dict[str, Any]:
        """The bearer as plain values."""

@final
class TipcPeer:
    """A TIPC node this node knows of (``tipc node list``)."""

    @property
    def address(self) -> int:
        """Its 32-bit address."""
    @property
    def up(self) -> bool:
        """Whether it is reachable."""
    def to_dict(self) -> dict[str, Any]:
        """The peer as plain values."""

@final
class TipcLink:
    """A TIPC link to another node, or the broadcast link (``tipc link list``)."""

    @property
    def name(self) -> str:
        """``"<own id>:<if>-<peer id>:<if>"``, or ``"broadcast-link"``."""
    @property
    def peer(self) -> str | None:
        """The peer as the link name shows it (its identity, or its address in hex)."""
    @property
    def broadcast(self) -> bool:
        """Whether this is the broadcast link."""
    @property
    def up(self) -> bool:
        """Whether the link is up."""
    @property
    def active(self) -> bool:
        """Whether the link carries traffic."""
    @property
    def mtu(self) -> int:
        """The link MTU."""
    @property
    def priority(self) -> int | None:
        """Link priority."""
    @property
    def tolerance(self) -> int | None:
        """Link tolerance in ms."""
    @property
    def window(self) -> int | None:
        """Link window in packets."""
    @property
    def stats(self) -> dict[str, int]:
        """The counters by name: ``rx_packets``, ``tx_packets``, ``retransmitted``, ..."""
    def to_dict(self) -> dict[str, Any]:
        """The link as plain values."""

@final
class TipcNode:
    """The TIPC configuration of one network namespace, over generic netlink ("TIPCv2").

    What ``ip netns exec NS tipc node|net|bearer|link ...`` does, with no ``tipc`` process.
    Every call releases the GIL.
    """

    @staticmethod
    def open(namespace: Namespace | Guest) -> TipcNode:
        """Opens TIPC in ``namespace`` (a ``Namespace``, or a ``Guest``'s).

        Raises:
            TipcError: the kernel has no TIPC (``errno.EOPNOTSUPP``; the message says
                ``modprobe tipc``).
        """
    @property
    def namespace(self) -> Namespace:
        """The namespace this node is configured in."""
    @property
    def identity(self) -> NodeId | None:
        """The node identity, read from the kernel; None until set."""
    @property
    def net_id(self) -> int:
        """The network id, read from the kernel."""
    def config(self) -> TipcConfig:
        """Reads the network id, identity and address."""
    def set_identity(self, identity: NodeId | str) -> bool:
        """Sets the node identity (``tipc node set identity``); returns whether it changed.

        Raises:
            TipcError: another identity is set (``errno.EBUSY``): the kernel keeps an
                identity for the life of the namespace.
        """
    def set_net_id(self, net_id: int) -> bool:
        """Sets the network id, 1 to 9999 (``tipc net set id``); returns whether it changed."""
    def set_address(self, address: TipcAddress | str) -> bool:
        """Sets a legacy ``Z.C.N`` address where the kernel accepts one; returns whether it changed."""
    def bearers(self) -> list[TipcBearer]:
        """The enabled bearers (``tipc bearer list``)."""
    def enable_bearer(
        self,
        bearer: BearerSpec | str,
        *,
        priority: int | None = None,
        tolerance: int | None = None,
        window: int | None = None,
    ) -> None:
        """Enables a bearer (``tipc bearer enable media eth device IF``) with link properties.

        Raises:
            NotFound: the interface (or the UDP bearer's local address) does not exist.
            AlreadyExists: the bearer is enabled already.
        """
    def set_bearer_props(
        self,
        name: str,
        *,
        priority: int | None = None,
        tolerance: int | None = None,
        window: int | None = None,
    ) -> None:
        """Changes the link properties of an enabled bearer (``tipc bearer set``)."""
    def add_udp_remote(self, name: str, remote: str) -> None:
        """Adds a unicast peer ``"IP:PORT"`` to a UDP bearer (``tipc bearer add media udp``)."""
    def disable_bearer(self, name: str) -> None:
        """Disables a bearer such as ``"eth:eth0"``, taking its links down."""
    def peers(self) -> list[TipcPeer]:
        """The nodes this node knows, up or down (``tipc node list``)."""
    def links(self) -> list[TipcLink]:
        """The links with their state, properties and counters (``tipc link list``)."""

@final
class BusNode:
    """One member of a TIPC bus."""

    @property
    def guest(self) -> str:
        """The guest, as it was described (its name)."""
    @property
    def net_id(self) -> int:
        """Its network id."""
    @property
    def identity(self) -> NodeId | None:
        """Its identity."""
    @property
    def address(self) -> int:
        """Its 32-bit address (0 until it has joined)."""
    @property
    def bearers(self) -> list[str]:
        """Its bearers."""
    @property
    def changes(self) -> list[str]:
        """What the call changed on it, in order; empty when it was already configured."""
    def to_dict(self) -> dict[str, Any]:
        """The node as plain values."""

@final
class BusLink:
    """Whether one member of a TIPC bus has a link up to another."""

    @property
    def source(self) -> str:
        """The member whose link table was read (``"from"`` in ``to_dict()``)."""
    @property
    def target(self) -> str:
        """The member the link goes to (``"to"`` in ``to_dict()``)."""
    @property
    def name(self) -> str | None:
        """The kernel's name of the link, when it exists."""
    @property
    def up(self) -> bool:
        """Whether it is up."""
    def to_dict(self) -> dict[str, Any]:
        """The link as plain values."""

@final
class BusReport:
    """The nodes and links of a TIPC bus; ``str()`` is a table like ``pipework tipc`` prints."""

    @property
    def nodes(self) -> list[BusNode]:
        """The members, in the order given."""
    @property
    def links(self) -> list[BusLink]:
        """Every ordered pair of members."""
    @property
    def changed(self) -> bool:
        """Whether the call that made this report changed anything."""
    @property
    def all_links_up(self) -> bool:
        """Whether every pair of members has a link up."""
    def to_dict(self) -> dict[str, Any]:
        """The report as plain values (the JSON of ``pipework tipc --json``)."""

@final
class TipcBus:
    """A set of guests joined into one TIPC network: one network id, one bearer, unique identities.

    Args:
        net_id: the network id of every member, 1 to 9999 (None: 4711, the core's default).
        bearer: the bearer every member enables (default ``"eth:eth0"``).
        identity: None derives each identity from the guest's name (stable across
            restarts); a string is a template where ``{name}`` and ``{index}`` (from 1) are
            replaced; a ``TipcAddress`` gives legacy addresses from it on.
        priority, tolerance, window: link properties of the bearer.
        wait_links: how long ``configure`` waits until every pair has a link up: seconds,
            ``True`` (or None) for 30 s, ``False`` not at all.

    Raises:
        InvalidArgument: a setting is out of range; nothing was changed.
    """

    def __new__(
        cls,
        *,
        net_id: int | None = None,
        bearer: BearerSpec | str | None = None,
        identity: str | TipcAddress | None = None,
        priority: int | None = None,
        tolerance: int | None = None,
        window: int | None = None,
        wait_links: bool | float | None = None,
    ) -> TipcBus: ...
    @property
    def net_id(self) -> int:
        """The network id of every member."""
    @property
    def bearer(self) -> BearerSpec:
        """The bearer every member enables."""
    @property
    def wait_links(self) -> float | None:
        """Seconds ``configure`` waits for the links; None when it does not wait."""
    def identity_of(self, guest: Guest | Namespace | int | str, position: int = 0) -> str:
        """The identity (or legacy address) the guest at ``position`` (from 0) gets."""
    def configure(self, guests: Sequence[Guest | Namespace | int | str]) -> BusReport:
        """Joins ``guests`` into the bus and waits until every pair has a link up.

        Idempotent: running it again changes nothing (``report.changed`` is False), and
        with one more guest it joins only that one. Everything is checked before anything
        changes. The GIL is released; Ctrl-C ends the wait for the links within 200 ms.

        Raises:
            TipcError: the kernel has no TIPC (``errno.EOPNOTSUPP``, "modprobe tipc"); an
                identity or network id conflicts (``errno.EBUSY``); links still down after
                ``wait_links`` (``errno.ETIMEDOUT``).
            NotFound: a guest lacks the bearer's interface.
            InvalidArgument: a guest is given twice, or two get the same identity.
        """
    def show(self, guests: Sequence[Guest | Namespace | int | str]) -> BusReport:
        """Reads the bus state of ``guests`` without changing anything."""
    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values."""
