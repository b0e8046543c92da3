"""The connection types orch can use (`ansible_connection`), by name.

A new transport (docker exec, kubectl exec, ...) is one Connection subclass plus one line here;
its own settings travel in ConnectionSpec.options.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.errors import ConnectError
from orchestrator.transport.base import Connection, ConnectionSpec
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.ssh import SSHConnection

CONNECTIONS: dict[str, Callable[[ConnectionSpec], Connection]] = {
    "ssh": SSHConnection,
    "local": LocalConnection,
    # Ansible's other names for its SSH connections: the same thing here.
    "smart": SSHConnection,
    "paramiko": SSHConnection,
    "paramiko_ssh": SSHConnection,
}


def open_connection(spec: ConnectionSpec) -> Connection:
    """A (lazily connecting) Connection of the spec's type."""
    factory = CONNECTIONS.get(spec.connection)
    if factory is None:
        raise ConnectError(
            f"{spec.host}: connection type {spec.connection!r} is not supported "
            f"(ansible_connection: one of {', '.join(sorted(CONNECTIONS))})"
        )
    return factory(spec)
