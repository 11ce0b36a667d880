"""Namespace: opening, creating, deleting, identity, and the context manager."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import threading

import pytest

import pipework
from pipework import Namespace
from pipework.pytest_plugin import NetnsFactory, unique_name


def listed(name: str) -> bool:
    """Whether ``ip netns list`` shows NAME."""
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    return name in {line.split()[0] for line in out.stdout.splitlines() if line}


def test_version_is_the_crate_version_in_pep_440() -> None:
    assert pipework.__version__ == pipework._native.__version__
    assert pipework.__version__.count(".") == 2
    # PEP 440's canonical form (its appendix B), what pip and packaging accept.
    canonical = (
        r"([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?"
        r"(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?"
    )
    assert re.fullmatch(canonical, pipework.__version__), pipework.__version__


def test_create_named_is_ip_netns_add_and_the_with_block_deletes_it() -> None:
    name = unique_name("ctx")
    with Namespace.create(name) as ns:
        assert ns.created and not ns.closed
        assert ns.name == name and ns.pid is None and ns.path is None
        assert listed(name)
        assert ns == Namespace.from_name(name)
        assert ns.inode == os.stat(f"/run/netns/{name}").st_ino
    assert ns.closed
    assert not listed(name)
    assert not os.path.exists(f"/run/netns/{name}")


def test_the_with_block_deletes_even_when_the_body_fails() -> None:
    name = unique_name("fail")
    with pytest.raises(RuntimeError, match="boom"):
        with Namespace.create(name):
            raise RuntimeError("boom")
    assert not listed(name)


def test_an_opened_namespace_is_only_closed_by_the_with_block(netns: Namespace) -> None:
    assert netns.name is not None
    with Namespace.from_name(netns.name) as other:
        assert not other.created
        assert other == netns
    assert other.closed
    assert listed(netns.name), "a namespace this object did not create must stay"


def test_anonymous_namespaces_have_no_name_and_are_distinct() -> None:
    with Namespace.create() as a, Namespace.create() as b:
        assert a.name is None and a.created
        assert a != b and a.inode != b.inode
        assert [link.ifname for link in a.links()] == ["lo"]
    assert a.closed and b.closed


def test_current_from_pid_and_from_path_are_the_same_namespace() -> None:
    current = Namespace.current()
    mine = Namespace.from_pid(os.getpid())
    by_path = Namespace.from_path("/proc/self/ns/net")
    assert current == mine == by_path
    assert hash(current) == hash(mine)
    assert mine.pid == os.getpid()
    assert by_path.path == "/proc/self/ns/net"
    assert current.inode == os.stat("/proc/self/ns/net").st_ino
    assert current.dev == os.stat("/proc/self/ns/net").st_dev
    assert len({current, mine, by_path}) == 1
    for ns in (current, mine, by_path):
        ns.close()


def test_from_path_accepts_path_like_objects(netns: Namespace) -> None:
    import pathlib

    assert Namespace.from_path(pathlib.Path(f"/run/netns/{netns.name}")) == netns


def test_repr_says_what_it_is(netns: Namespace) -> None:
    text = repr(netns)
    assert text.startswith("<Namespace netns ") and f'"{netns.name}"' in text
    assert f"net:[{netns.inode}]" in text


def test_a_closed_namespace_raises_namespace_error_with_ebadf(netns_factory: NetnsFactory) -> None:
    ns = netns_factory("closed")
    assert ns.name is not None
    copy = Namespace.from_name(ns.name)
    copy.close()
    copy.close()  # Closing twice is harmless.
    with pytest.raises(pipework.NamespaceError) as caught:
        copy.links()
    assert caught.value.errno == errno.EBADF
    assert "closed or deleted" in str(caught.value)


def test_delete_removes_a_named_namespace(netns_factory: NetnsFactory) -> None:
    name = unique_name("del")
    ns = Namespace.create(name)
    ns.delete()
    assert ns.closed and not listed(name)
    with pytest.raises(pipework.NotFound) as caught:
        Namespace.from_name(name)
    assert caught.value.errno == errno.ENOENT


def test_a_namespace_object_is_shared_safely_by_threads(netns: Namespace) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            for _ in range(20):
                results.append(len(netns.links()))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=query) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [1] * 80
