"""Every exception type: its class, its place in the hierarchy and its errno."""

from __future__ import annotations

import ctypes
import errno
import threading
from collections.abc import Callable

import pytest

import pipework
from pipework import Namespace

CAP_SYS_ADMIN = 21
CAP_NET_ADMIN = 12


def test_the_hierarchy() -> None:
    classes = [
        pipework.NotFound,
        pipework.AlreadyExists,
        pipework.ResolveError,
        pipework.NamespaceError,
        pipework.DhcpError,
        pipework.TipcError,
        pipework.InvalidArgument,
        pipework.MissingCapability,
    ]
    assert issubclass(pipework.PipeworkError, OSError)
    for cls in classes:
        assert issubclass(cls, pipework.PipeworkError), cls
        assert cls.__module__ == "pipework"
        assert cls.__doc__
    assert issubclass(pipework.InvalidArgument, ValueError)
    assert issubclass(pipework.MissingCapability, PermissionError)
    # Constructed by hand they behave like any OSError.
    err = pipework.DhcpError(errno.ETIMEDOUT, "no DHCPOFFER")
    assert err.errno == errno.ETIMEDOUT and err.strerror == "no DHCPOFFER"
    # pyroute2's name for the errno.
    assert err.code == errno.ETIMEDOUT


def test_not_found_is_enoent(sandbox_host: Namespace) -> None:
    with pytest.raises(pipework.NotFound) as caught:
        Namespace.from_pid(2**22 + 12345)
    assert caught.value.errno == errno.ENOENT and "process" in str(caught.value)
    assert caught.value.code == errno.ENOENT
    with pytest.raises(pipework.NotFound) as caught:
        sandbox_host.link("missing0")
    assert caught.value.errno == errno.ENOENT


def test_already_exists_is_eexist(netns: Namespace, sandbox_host: Namespace) -> None:
    assert netns.name is not None
    with pytest.raises(pipework.AlreadyExists) as caught:
        Namespace.create(netns.name)
    assert caught.value.errno == errno.EEXIST
    assert "already exists" in str(caught.value)
    sandbox_host.veth_add("dup0", "dup1")
    with pytest.raises(pipework.AlreadyExists) as caught:
        sandbox_host.veth_add("dup0", "dup2")
    assert caught.value.errno == errno.EEXIST


def test_resolve_error_names_every_resolver() -> None:
    with pytest.raises(pipework.ResolveError) as caught:
        pipework.resolve("no-such-guest-anywhere")
    assert caught.value.errno == errno.ENOENT
    message = str(caught.value)
    assert 'cannot resolve guest "no-such-guest-anywhere": no resolver knows it' in message
    assert "pid: invalid pid" in message and "is not a decimal process ID" in message
    assert 'netns: network namespace "no-such-guest-anywhere"' in message
    with pytest.raises(pipework.ResolveError):
        pipework.attach("no-such-guest-anywhere", "br1")


def test_namespace_error_for_a_closed_namespace(netns: Namespace) -> None:
    assert netns.name is not None
    other = Namespace.from_name(netns.name)
    other.close()
    with pytest.raises(pipework.NamespaceError) as caught:
        other.bridge_add("br0")
    assert caught.value.errno == errno.EBADF


def test_invalid_argument_is_einval_and_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        Namespace.from_name("a/b")
    assert isinstance(caught.value, pipework.InvalidArgument)
    assert caught.value.errno == errno.EINVAL
    assert 'invalid netns name "a/b"' in str(caught.value)
    with pytest.raises(pipework.InvalidArgument, match="not a namespace file"):
        Namespace.from_path("/proc/self/status")


def test_other_failures_are_pipework_errors_with_the_kernels_errno(
    sandbox_host: Namespace,
) -> None:
    sandbox_host.veth_add("notbr0", "peer0")
    with pytest.raises(pipework.PipeworkError) as caught:
        sandbox_host.bridge_add("notbr0")
    assert caught.value.errno == errno.EBUSY and "not a bridge" in str(caught.value)
    with pytest.raises(pipework.PipeworkError) as caught:
        sandbox_host.ping("10.99.0.1", timeout=0.3)
    assert caught.value.errno in (errno.ETIMEDOUT, errno.ENETUNREACH)


def _without_capability(capability: int, call: Callable[[], object]) -> BaseException | None:
    """Runs CALL on a thread whose effective set lacks CAPABILITY (capabilities are per thread)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
        data = (ctypes.c_uint32 * 6)()
        assert libc.syscall(125, header, data) == 0, "capget"  # SYS_capget
        data[0] &= ~(1 << capability)
        assert libc.syscall(126, header, data) == 0, "capset"  # SYS_capset
        try:
            call()
            outcome.append(None)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome[0]


def test_missing_capability_is_a_permission_error_naming_it(sandbox_host: Namespace) -> None:
    sandbox_host.links()  # The netlink socket is opened now, with every capability.
    err = _without_capability(CAP_NET_ADMIN, lambda: sandbox_host.bridge_add("br9"))
    assert isinstance(err, PermissionError) and isinstance(err, pipework.MissingCapability)
    assert err.errno == errno.EPERM
    assert err.capability == "CAP_NET_ADMIN"
    assert "this needs CAP_NET_ADMIN" in str(err)
    err = _without_capability(CAP_SYS_ADMIN, lambda: Namespace.create())
    assert isinstance(err, pipework.MissingCapability)
    assert err.errno == errno.EPERM and err.capability == "CAP_SYS_ADMIN"
    assert "br9" not in {link.ifname for link in sandbox_host.links()}
