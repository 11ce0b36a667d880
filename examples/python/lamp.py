#!/usr/bin/env python3
"""The pipework README's first scenario from Python, in a private sandbox.

Two "containers" (network namespaces) on bridge br1, 192.168.1.1/24 and 192.168.1.2/24,
reaching each other. Everything happens inside a private "host" namespace, and every
namespace is deleted when its ``with`` block ends, even when a step fails.

Run as root after ``pip install ./pipework-py``:  ``python3 examples/python/lamp.py``
"""

from __future__ import annotations

import os
import sys

import pipework


def main() -> int:
    prefix = f"pwpydemo{os.getpid()}"
    with (
        pipework.Namespace.create(f"{prefix}-host") as host,
        pipework.Namespace.create(f"{prefix}-web") as web,
        pipework.Namespace.create(f"{prefix}-db") as db,
    ):
        print(f"private host {host}\ncontainers {web} and {db}")
        for guest, address in ((web, "192.168.1.1/24"), (db, "192.168.1.2/24")):
            # pipework br1 GUEST ADDRESS, with the bridge side inside the private host.
            attachment = pipework.attach(guest, "br1", addresses=address, host_netns=host)
            print(f"pipework br1 {guest.name} {address}: {attachment}")
        for source, destination in ((web, "192.168.1.2"), (db, "192.168.1.1")):
            rtt = source.ping(destination, timeout=5)
            print(f"{source.name} -> {destination}: ICMP echo reply in {rtt * 1e3:.3f} ms")
        links = {link.ifname: link for link in host.links()}
        print(f"ports of br1: {[n for n, l in links.items() if l.master == links['br1'].index]}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pipework.PipeworkError as err:
        print(f"lamp demo failed: {err}", file=sys.stderr)
        sys.exit(1)
