"""pipework: connect Linux containers and network namespaces to networks, over netlink.

The typed Python face of pipework-rs. Everything here is implemented in Rust
(``pipework._native``, a private module); this package re-exports it::

    import pipework

    with pipework.Namespace.create("web") as web:
        with pipework.attach(web, "br1", addresses="192.168.1.2/24") as attachment:
            print(attachment.to_dict())

DHCP is ``attach(..., dhcp=True)`` (or a DHCP word, or ``DhcpOptions``) and ``DhcpLease``;
TIPC lives in ``pipework.tipc``. Calls release the GIL while they talk to the kernel, so
several threads can attach at once. Errors are ``pipework.PipeworkError`` (an ``OSError``
with ``.errno``) and its subclasses. The pytest fixtures live in ``pipework.pytest_plugin``,
registered as a pytest plugin.
"""

# Everything the native module lists in its __all__ (the classes, exceptions, functions, __version__).
from pipework._native import *  # noqa: F403
from pipework._native import __all__ as __all__
