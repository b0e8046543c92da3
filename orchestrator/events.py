"""Events the executor emits and reporters consume. The executor never prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.results import HostStats, TaskResult


@dataclass(frozen=True)
class PlaybookStart:
    path: str
    check_mode: bool = False


@dataclass(frozen=True)
class PlayStart:
    name: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class TaskStart:
    name: str  # as the recap shows it, e.g. "copy" or "role : Install Docker"
    hosts: tuple[str, ...]  # hosts the task is about to run on
    is_handler: bool = False
    path: str = ""  # file:line of the task


@dataclass(frozen=True)
class HostResult:
    result: TaskResult


@dataclass(frozen=True)
class HostsRemaining:
    """Emitted when a host drops out of the play (failed/unreachable) for the live view."""

    host: str
    reason: str


@dataclass(frozen=True)
class Message:
    """A warning or note for the operator (deprecated syntax, YAML 1.1 booleans, ...)."""

    level: str  # "warning" | "info" | "error"
    text: str
    host: str | None = None


@dataclass(frozen=True)
class PlaybookEnd:
    stats: Mapping[str, HostStats]
    exit_code: int
    duration: float
    # transport figures per host: connections, round_trips, bytes_sent, bytes_received
    transport_stats: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


Event = PlaybookStart | PlayStart | TaskStart | HostResult | HostsRemaining | Message | PlaybookEnd


class Reporter(Protocol):
    """Anything that consumes events: the live view, plain text, JSON, JUnit."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...
