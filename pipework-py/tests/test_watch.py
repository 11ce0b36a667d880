"""pipework.watch(): the watcher on a thread, against the real dockerd of scripts/engines.sh."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pipework
from iproute import ip_json, pings
from pipework import Namespace
from pipework.pytest_plugin import unique_name

ENGINE_ENV = ("DOCKER_HOST", "PWT_IMAGE")


def _engines_or_skip() -> None:
    missing = [name for name in ENGINE_ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"needs the engines of scripts/engines.sh ({', '.join(missing)} not set); scripts/tier-python.sh starts them")


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"docker {args}: {done.stderr}"
    return done.stdout.strip()


def _until(what: str, done: Callable[[], bool], watch: pipework.Watch) -> None:
    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, f"{what}: not after 20 s; reports: {watch.reports}"
        time.sleep(0.05)


@pytest.fixture
def container_names() -> Iterator[list[str]]:
    """Names of containers to remove after the test, however it ends."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def _eth1_of(name: str) -> set[str]:
    """The IPv4 addresses of eth1 inside the container, as ``ip`` sees them there."""
    pid = _docker("inspect", "-f", "{{.State.Pid}}", name)
    shown = subprocess.run(
        ["nsenter", "-t", pid, "-n", "ip", "-j", "-4", "addr", "show", "dev", "eth1"],
        capture_output=True,
        text=True,
        check=False,
    )
    if pid == "0" or shown.returncode != 0 or not shown.stdout.strip():
        return set()
    return {f"{a['local']}/{a['prefixlen']}" for link in json.loads(shown.stdout) for a in link["addr_info"]}


def test_watch_attaches_a_labelled_container_and_cleans_up_when_it_dies(
    sandbox_host: Namespace, netns: Namespace, tmp_path: Path, container_names: list[str]
) -> None:
    _engines_or_skip()
    bridge = f"brw{os.getpid() % 100_000}"
    peer = pipework.attach(netns, bridge, addresses="10.219.0.254/24", host_netns=sandbox_host)
    name = unique_name("watched")
    with pipework.watch(["docker"], state_dir=tmp_path, host_netns=sandbox_host) as watch:
        assert watch.running
        container_names.append(name)
        _docker("run", "-d", "--network", "none", "--name", name, "--label", f"pipework={bridge} 10.219.0.2/24",
                "--label", f"pipework.1={bridge} 10.219.0.300/24", os.environ["PWT_IMAGE"], "sleep", "1000")
        _until("eth1 with its address", lambda: _eth1_of(name) == {"10.219.0.2/24"}, watch)
        assert pings(netns, "10.219.0.2")
        _until("the bad label's report", lambda: any("label pipework.1" in r for r in watch.reports), watch)
        bad = next(r for r in watch.reports if "label pipework.1" in r)
        assert name in bad and "10.219.0.300" in bad and "not attached" in bad
        assert list((tmp_path / "watch").glob("*.json")), "the watcher's record"
        _docker("kill", name)
        _until("the record gone", lambda: not list((tmp_path / "watch").glob("*.json")), watch)
        assert any(f"{name} " in r and "died: detached eth1" in r for r in watch.reports), watch.reports
    assert not watch.running
    ports = [link["ifname"] for link in ip_json(sandbox_host, "link", "show", "master", bridge)]
    assert ports == [peer.host_ifname], "only the peer's port is left"
    peer.detach()


def test_watch_refuses_unknown_engines() -> None:
    with pytest.raises(pipework.InvalidArgument, match="lxc"):
        pipework.watch(["lxc"])  # type: ignore[list-item]
    with pytest.raises(pipework.InvalidArgument, match="engines"):
        pipework.watch([])
