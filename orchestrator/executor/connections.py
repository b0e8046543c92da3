"""Connections for the run: resolved from host variables, opened lazily, one per host.

Precedence for connection settings follows Ansible: a host variable (ansible_user) beats a play
keyword (remote_user), which beats the CLI (-u), which beats ~/.ssh/config and defaults.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from orchestrator.modules.spec import to_bool
from orchestrator.transport.base import BecomeSpec, Connection, ConnectionSpec
from orchestrator.transport.liveness import AliveSettings
from orchestrator.transport.registry import CONNECTIONS, open_connection
from orchestrator.transport.ssh import SSHConnection, SSHOptions, parse_ssh_common_args


@dataclass(frozen=True)
class ConnectionDefaults:
    """CLI-level settings (lowest precedence after built-in defaults)."""

    user: str | None = None
    private_key_file: str | None = None
    connect_timeout: float = 10.0
    host_key_checking: str = "accept-new"
    known_hosts_file: str | None = None
    become: bool = False
    become_user: str | None = None
    become_method: str = "sudo"
    become_password: str | None = None
    port: int | None = None  # ansible.cfg remote_port, below ansible_port
    ssh_args: str = ""  # ansible.cfg ssh_args, below the host's ansible_ssh_common_args
    alive: AliveSettings = field(default_factory=AliveSettings)  # --ssh-alive
    keep_connections: float = 0.0  # seconds the keeper holds connections after the run; 0 = off


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None and v != ""), None)


def connection_spec(
    host: str, hostvars: Mapping[str, Any], defaults: ConnectionDefaults, remote_user: str | None = None
) -> ConnectionSpec:
    common = parse_ssh_common_args(
        " ".join(
            [defaults.ssh_args]
            + [
                str(hostvars.get(k) or "")
                for k in ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")
            ]
        )
    )
    checking = hostvars.get("ansible_host_key_checking")
    mode = defaults.host_key_checking
    if checking is not None:
        mode = "accept-new" if to_bool(checking) else "off"
    strict = common.get("stricthostkeychecking", "").lower()
    mode = {"yes": "strict", "no": "off", "off": "off", "accept-new": "accept-new"}.get(strict, mode)
    password = _first(hostvars.get("ansible_password"), hostvars.get("ansible_ssh_pass"))
    connection = str(_first(hostvars.get("ansible_connection"), "ssh"))
    return ConnectionSpec(
        host=host,
        address=str(_first(hostvars.get("ansible_host"), hostvars.get("ansible_ssh_host"), host)),
        connection=connection,
        user=_first(
            hostvars.get("ansible_user"), hostvars.get("ansible_ssh_user"), remote_user, defaults.user
        ),
        password=str(password) if password is not None else None,
        connect_timeout=float(_first(hostvars.get("ansible_ssh_timeout"), defaults.connect_timeout)),
        options=None
        if connection == "local"
        else SSHOptions(
            port=int(_first(hostvars.get("ansible_port"), hostvars.get("ansible_ssh_port"), defaults.port, 22)),
            private_key_file=_first(hostvars.get("ansible_ssh_private_key_file"), defaults.private_key_file),
            host_key_checking=mode,
            known_hosts_file=defaults.known_hosts_file or common.get("userknownhostsfile"),
            jump=common.get("proxyjump"),
            alive=_alive_settings(common, defaults.alive),
        ),
    )


def _alive_settings(options: Mapping[str, str], default: AliveSettings) -> AliveSettings:
    """ServerAliveInterval / ServerAliveCountMax from the host's ssh args win over --ssh-alive."""
    interval, count = default.interval, default.count_max
    try:
        if options.get("serveraliveinterval"):
            interval = float(options["serveraliveinterval"])
        if options.get("serveralivecountmax"):
            count = int(options["serveralivecountmax"])
    except ValueError:
        return default  # ssh itself would refuse it; keep detection on rather than fail here
    return AliveSettings(interval, count)


def become_spec(
    hostvars: Mapping[str, Any], keywords: Mapping[str, Any], defaults: ConnectionDefaults
) -> BecomeSpec | None:
    """Resolve become for one task: variables > task/play keywords > CLI. None = no become."""
    enabled = _first(hostvars.get("ansible_become"), keywords.get("become"), defaults.become or None)
    if enabled is None or not to_bool(enabled):
        return None
    password = _first(
        hostvars.get("ansible_become_password"), hostvars.get("ansible_become_pass"), defaults.become_password
    )
    return BecomeSpec(
        user=str(
            _first(
                hostvars.get("ansible_become_user"), keywords.get("become_user"), defaults.become_user, "root"
            )
        ),
        method=str(
            _first(
                hostvars.get("ansible_become_method"), keywords.get("become_method"), defaults.become_method
            )
        ),
        password=str(password) if password is not None else None,
        flags=str(_first(hostvars.get("ansible_become_flags"), keywords.get("become_flags"), "") or ""),
    )


class ConnectionPool:
    """One Connection per distinct ConnectionSpec for the whole run (usually one per host)."""

    supports_batch: ClassVar[bool] = True  # its connections take pipelined batches

    def __init__(self, keep_connections: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._connections: dict[ConnectionSpec, Connection] = {}
        self.keep_connections = keep_connections  # > 0: SSH logins go through the keeper

    def get(self, spec: ConnectionSpec) -> Connection:
        with self._lock:
            conn = self._connections.get(spec)
            if conn is None:
                conn = self._new(spec)
                self._connections[spec] = conn
            return conn

    def _new(self, spec: ConnectionSpec) -> Connection:
        if self.keep_connections > 0 and CONNECTIONS.get(spec.connection) is SSHConnection:
            from orchestrator.transport.kept import KeptConnection

            return KeptConnection(spec, self.keep_connections)
        return open_connection(spec)

    def drop(self, spec: ConnectionSpec) -> None:
        """Forget a connection (after reboot or a lost link) so the next use reconnects."""
        with self._lock:
            conn = self._connections.pop(spec, None)
        if conn is not None:
            conn.close()

    def stats_by_host(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for spec, conn in self._connections.items():
                figures = out.setdefault(spec.host, {})
                for key, value in conn.stats.as_dict().items():
                    figures[key] = figures.get(key, 0) + value
        return out

    def abort_all(self) -> None:
        """Interrupt: every running command and transfer on every host fails now."""
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.abort()

    def clean_up_all(self, timeout: float) -> list[str]:
        """After abort_all: each reachable host kills what was left running and removes this
        run's temp files, all hosts at once, within `timeout`. Returns the hosts that confirmed."""
        with self._lock:
            connections = list(self._connections.values())
        return clean_up_in_parallel(connections, timeout)

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()


def clean_up_in_parallel(connections: Iterable[Any], timeout: float, grace: float = 0.2) -> list[str]:
    """conn.clean_up(timeout) on every connection at once (a thread each, so one slow host does
    not hold up the rest); the sorted hosts that confirmed within timeout + grace."""
    done: list[str] = []

    def one(conn: Any) -> None:
        with contextlib.suppress(Exception):
            if conn.clean_up(timeout):
                done.append(conn.spec.host)

    threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in connections]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + grace
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sorted(done)
