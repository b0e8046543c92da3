"""Connection types by name (transport/registry.py); ConnectionSpec is not shaped around SSH."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.errors import ConnectError
from orchestrator.executor.connections import ConnectionDefaults, ConnectionPool, connection_spec
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.registry import CONNECTIONS, open_connection
from orchestrator.transport.ssh import SSHConnection, SSHOptions


def test_spec_holds_only_what_every_transport_needs() -> None:
    fields = {f.name for f in dataclasses.fields(ConnectionSpec)}
    assert fields == {"host", "address", "connection", "user", "password", "connect_timeout", "options"}


def test_ssh_settings_travel_as_the_ssh_transports_options() -> None:
    hostvars = {"ansible_host": "10.0.0.5", "ansible_port": 2222, "ansible_ssh_common_args": "-o ProxyJump=j:22"}
    spec = connection_spec("web1", hostvars, ConnectionDefaults(private_key_file="/k"))
    assert (spec.connection, spec.address) == ("ssh", "10.0.0.5")
    assert spec.options == SSHOptions(port=2222, private_key_file="/k", jump="j:22")
    local = connection_spec("ctl", {"ansible_connection": "local"}, ConnectionDefaults())
    assert local.options is None


def test_the_registry_opens_each_type_and_refuses_unknown_ones() -> None:
    assert isinstance(open_connection(ConnectionSpec("a", "a", connection="local")), LocalConnection)
    assert isinstance(open_connection(ConnectionSpec("b", "b")), SSHConnection)  # lazily: nothing dialled
    assert {"ssh", "local"} <= set(CONNECTIONS)
    with pytest.raises(ConnectError, match="connection type 'winrm' is not supported"):
        ConnectionPool().get(ConnectionSpec("c", "c", connection="winrm"))
