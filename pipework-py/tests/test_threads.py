"""Thread safety, and the GIL released around every kernel round trip and wait."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import pipework
from iproute import ip_json, link_names, pings
from pipework import Namespace
from pipework.pytest_plugin import NetnsFactory

GUESTS = 8


def test_several_threads_attach_to_one_bridge_at_once(
    sandbox_host: Namespace, netns_factory: NetnsFactory
) -> None:
    guests = [netns_factory(f"t{i}") for i in range(GUESTS)]
    start = threading.Barrier(GUESTS)

    def attach(i: int) -> pipework.Attachment:
        start.wait()
        return pipework.attach(
            guests[i], "br1", addresses=f"10.5.0.{i + 1}/24", host_netns=sandbox_host
        )

    with ThreadPoolExecutor(GUESTS) as pool:
        attachments = list(pool.map(attach, range(GUESTS)))
    assert all(a.status == "created" for a in attachments)
    assert len({a.host_ifname for a in attachments}) == GUESTS
    # Exactly one of them created the bridge.
    assert sum(a.bridge_created for a in attachments) == 1
    ports = ip_json(sandbox_host, "link", "show", "master", "br1")
    assert sorted(p["ifname"] for p in ports) == sorted(a.host_ifname for a in attachments)
    assert pings(guests[0], f"10.5.0.{GUESTS}") and pings(guests[-1], "10.5.0.1")
    with ThreadPoolExecutor(GUESTS) as pool:
        list(pool.map(lambda a: a.detach(), attachments))
    assert link_names(sandbox_host) == {"lo"}, "every port, and then the bridge, is gone"


def test_the_gil_is_released_while_waiting_for_the_kernel(sandbox_host: Namespace) -> None:
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        with pytest.raises(pipework.PipeworkError):
            sandbox_host.ping("10.77.0.1", timeout=0.5)  # Unreachable: waits the whole timeout.
    finally:
        done.set()
        counter.join()
    # Holding the GIL for the 500 ms would allow only a tick per 5 ms switch interval at best.
    assert ticks > 150, ticks


def test_a_long_wait_is_interrupted_by_ctrl_c(sandbox_host: Namespace) -> None:
    sandbox_host.veth_add("vc0", "vc1", state="up")
    sandbox_host.link_set("vc1", state="up")
    sandbox_host.addr_add("vc0", "10.6.0.1/24")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sandbox_host.ping("10.6.0.99", timeout=30)  # On-link but nobody answers.
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0


def test_waiting_forever_is_interrupted_by_ctrl_c(sandbox_host: Namespace) -> None:
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sandbox_host.wait_for("never1", "exists")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0
