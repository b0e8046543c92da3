"""The transport contract: a lazily opened connection that runs shell scripts and moves files.

A connection runs every command through one persistent remote `/bin/sh` per (become) user, so
a task costs one network round trip. Settings arrive as a typed ConnectionSpec resolved from
inventory variables; become is a separate BecomeSpec stacked on top per command.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from orchestrator.errors import ConnectError
from orchestrator.transport.shell import (
    Batch,
    BatchCommand,
    BecomeSpec,
    CommandResult,
    ShellLibrary,
    ShellSession,
)

# BecomeSpec and CommandResult are defined with the shell protocol that uses them; they are part
# of this contract too.
_T = TypeVar("_T")

__all__ = ["BecomeSpec", "CommandResult", "Connection", "ConnectionSpec", "TransportStats"]


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything needed to reach one host: what any transport needs, plus the chosen
    transport's own options (ssh.SSHOptions for ssh; None: that transport's defaults).

    Hashable: the run keeps one Connection per distinct spec (executor/connections.py).
    """

    host: str  # the inventory name, for messages
    address: str  # ansible_host (or the name)
    connection: str = "ssh"  # a name in transport.registry.CONNECTIONS
    user: str | None = None  # None: the transport's default (ssh: ~/.ssh/config User, else the local user)
    password: str | None = field(default=None, repr=False)  # ansible_password
    connect_timeout: float = 10.0
    options: Hashable | None = None


@dataclass
class TransportStats:
    """Figures `orch play --stats` and the JSON output report per host."""

    connections: int = 0
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, sent: int = 0, received: int = 0, round_trips: int = 0, connections: int = 0) -> None:
        with self._lock:
            self.bytes_sent += sent
            self.bytes_received += received
            self.round_trips += round_trips
            self.connections += connections

    def as_dict(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "round_trips": self.round_trips,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
        }


class Connection(abc.ABC):
    """One host. Opens lazily on first use; all methods raise ConnectError when unreachable."""

    supports_batch: ClassVar[bool] = True  # start_batch works (pipelining); a proxy may say no

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        self.stats = TransportStats()
        self._lock = threading.RLock()  # one command at a time per host; reentrant for _shell
        self._shells: dict[str | None, ShellSession] = {}  # login shell (None) and one per become user
        self.temp_files: set[str] = set()  # uploaded by this run: removed on interrupt
        self.aborted = False  # set by abort(): nothing new starts on this host
        self._batch: Batch | None = None  # a pipelined batch whose output is still coming

    @property
    def lost_reason(self) -> str | None:
        """Why the host was declared dead (e.g. unanswered keepalives), once it was."""
        return None

    def abort(self) -> None:
        """Interrupt: make running commands on this host fail at once (called from another thread)."""
        self.aborted = True
        for shell in list(self._shells.values()):
            shell.broken = True
            shell.carrier.close()

    def clean_up(self, timeout: float) -> bool:
        """After abort(): stop what the aborted commands left running and remove this run's temp
        files on the host. True when done."""
        return True

    def check_not_aborted(self) -> None:
        if self.aborted:
            raise ConnectError(f"{self.spec.host}: interrupted")

    @abc.abstractmethod
    def _shell(self, become: BecomeSpec | None) -> ShellSession:
        """The persistent shell for this become user, opened (and sudo'ed) on first use."""

    def run(
        self,
        script: str,
        *,
        stdin: bytes | None = None,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        library: ShellLibrary | None = None,
    ) -> CommandResult:
        """Run `script` with /bin/sh on the host (as the become user if given), with the
        functions of `library` defined (sent only to a shell that has not had them yet).

        The script runs in its own subshell, so a syntax error or `exit` in it cannot disturb the
        persistent shell. `timeout` expiring raises TimeoutError (the host stays usable).
        """
        self.check_not_aborted()
        with self._lock:
            self.check_not_aborted()
            self.finish_batch()
            try:
                result, sent, received = self._shell(become).run(
                    script, stdin=stdin, env=env, timeout=timeout, library=library
                )
            except ConnectError:
                if self.lost_reason:
                    raise ConnectError(f"{self.spec.host}: {self.lost_reason}") from None
                raise
            self.stats.count(sent=sent, received=received, round_trips=1)
            return result

    def start_batch(
        self, commands: list[BatchCommand], *, become: BecomeSpec | None = None, library: ShellLibrary | None = None
    ) -> Batch:
        """Send `commands` to the host in one round trip (executor/pipeline.py); the host runs them
        in order in the shell of `become`. Read the results with batch_result(); the next run()
        first reads what is left of the batch."""
        self.check_not_aborted()
        with self._lock:
            self.check_not_aborted()
            self.finish_batch()
            batch = self._guarded(lambda: self._shell(become).start_batch(commands, library))
            self._batch = batch
            self.stats.count(sent=batch.sent, round_trips=1)
            return batch

    def batch_result(self, batch: Batch, index: int) -> CommandResult | None:
        """Result `index` of `batch` (waiting for it); None when the host stopped before it."""
        with self._lock:
            if batch is not self._batch:
                return batch.results[index] if index < len(batch.results) else None
            before = batch.received
            try:
                return self._guarded(lambda: batch.result(index))
            finally:
                self.stats.count(received=batch.received - before)

    def finish_batch(self) -> None:
        """Read the rest of a batch in flight, so the shell is free for the next command."""
        with self._lock:
            batch, self._batch = self._batch, None
            if batch is None or batch.ended:
                return
            before = batch.received
            try:
                self._guarded(batch.drain)
            finally:
                self.stats.count(received=batch.received - before)

    def _guarded(self, work: Callable[[], _T]) -> _T:
        try:
            return work()
        except ConnectError:
            if self.lost_reason:
                raise ConnectError(f"{self.spec.host}: {self.lost_reason}") from None
            raise

    @abc.abstractmethod
    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        """Write `data` to `remote_path` as the login user (a temp file the caller then moves)."""

    @abc.abstractmethod
    def get(self, remote_path: str) -> bytes:
        """Read a remote file as the login user."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close everything; safe to call twice."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
