"""Session-wide checks of the pipework test suite (the fixtures themselves come from the plugin)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

# pytester runs a harness author's failing test in a subprocess (test_harness.py).
pytest_plugins = ["pytester"]

RUN_NETNS = "/run/netns"


def _named_namespaces() -> set[str]:
    """The namespaces in /run/netns that the pipework fixtures and tests name (``pwpy...``, labs ``clab-...``)."""
    names = os.listdir(RUN_NETNS) if os.path.isdir(RUN_NETNS) else []
    return {name for name in names if name.startswith(("pwpy", "clab-"))}


def _open_namespace_fds() -> list[str]:
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("net:["):
            fds.append(f"{fd} -> {target}")
    return fds


@pytest.fixture(scope="session", autouse=True)
def no_leaked_namespaces() -> Iterator[None]:
    """After the whole run: no named namespace left, and no namespace held open by this process."""
    before = _named_namespaces()
    yield
    gc.collect()
    leaked = sorted(_named_namespaces() - before)
    assert not leaked, f"namespaces left in {RUN_NETNS}: {leaked}"
    held = _open_namespace_fds()
    assert not held, f"namespace descriptors still open (anonymous namespaces kept alive): {held}"
