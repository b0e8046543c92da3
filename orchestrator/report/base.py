"""What every reporter shares: a lock, a guard that keeps reporter bugs out of the executor, and
the bookkeeping of the current play and task.

Loop contract (as Ansible's callbacks receive them): the executor emits one HostResult per loop
item (`item_label` set), then one HostResult for the host as a whole (`item_label` None). That
last one is the "aggregate": it counts the host as done, but its line is not printed again.
"""

from __future__ import annotations

import contextlib
import enum
import sys
import threading
import time
from collections import Counter

from orchestrator.events import Event, PlayStart, TaskStart
from orchestrator.results import Status, TaskResult


class BaseReporter:
    """handle()/close() under one lock, and never raising: the executor must not die of a report."""

    def __init__(self) -> None:
        # RLock: a reporter may handle an event from inside its own output path (e.g. a warning).
        self._lock = threading.RLock()
        self._broken = False

    def handle(self, event: Event) -> None:
        with self._lock:
            try:
                self._handle(event)
            except Exception as exc:
                self._own_error(exc)

    def close(self) -> None:
        with self._lock:
            try:
                self._close()
            except Exception as exc:
                self._own_error(exc)

    def _handle(self, event: Event) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _own_error(self, exc: Exception) -> None:
        # One warning, then keep going: later events (the recap above all) may still render.
        if self._broken:
            return
        self._broken = True
        with contextlib.suppress(Exception):  # stderr itself is gone: nothing left to tell
            print(
                f"[WARNING]: {type(self).__name__} failed, its output may be incomplete: {exc!r}",
                file=sys.stderr,
            )


class Kind(enum.Enum):
    ITEM = "item"  # one loop item
    SINGLE = "single"  # the host's result for a task without loop items
    AGGREGATE = "aggregate"  # the host's overall result after its loop items


class PlayTracker:
    """Which play and task are running, which hosts are done with it, totals so far."""

    def __init__(self) -> None:
        self.play: PlayStart | None = None
        self.in_play: set[str] = set()
        self.task: TaskStart | None = None
        self.task_started = time.monotonic()
        self.done: dict[str, Status] = {}  # host -> final status for the current task
        self.pending: dict[str, None] = {}  # hosts still running the task, in inventory order
        self.item_hosts: set[str] = set()
        self.totals: Counter[Status] = Counter()  # one per host and task, items not counted

    def start_play(self, event: PlayStart) -> None:
        self.play = event
        self.in_play = set(event.hosts)
        self.task = None
        self._reset_task()

    def start_task(self, event: TaskStart) -> None:
        self.task = event
        self._reset_task()
        self.pending = dict.fromkeys(event.hosts)

    def _reset_task(self) -> None:
        self.task_started = time.monotonic()
        self.done = {}
        self.pending = {}
        self.item_hosts = set()

    def record(self, result: TaskResult) -> Kind:
        if result.item_label is not None:
            self.item_hosts.add(result.host)
            return Kind.ITEM
        kind = Kind.AGGREGATE if result.host in self.item_hosts else Kind.SINGLE
        if result.host not in self.done:
            self.totals[result.status] += 1
        self.done[result.host] = result.status
        self.pending.pop(result.host, None)
        return kind

    def drop(self, host: str) -> bool:
        """A host left the play; True when it was the last one (NO MORE HOSTS LEFT)."""
        if host not in self.in_play:
            return False
        self.in_play.discard(host)
        return not self.in_play
