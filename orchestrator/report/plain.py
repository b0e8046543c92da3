"""Ansible's default stdout callback, line for line where tools parse it, for logs and pipes."""

from __future__ import annotations

import os
from typing import TextIO

from orchestrator.events import (
    Event,
    HostResult,
    HostsRemaining,
    Message,
    PlaybookEnd,
    PlaybookStart,
    PlayStart,
    TaskStart,
)
from orchestrator.report import format as fmt
from orchestrator.report.base import BaseReporter, Kind, PlayTracker
from orchestrator.results import Status, TaskResult

# ANSI codes of Ansible's color names (constants.COLOR_CODES)
_ANSI = {
    "green": "0;32",
    "yellow": "0;33",
    "red": "0;31",
    "cyan": "0;36",
    "bright red": "1;31",
    "bright purple": "1;35",
    "dark gray": "1;30",
}


def stringc(text: str, color: str | None) -> str:
    """Ansible's stringc: each line wrapped in its own escape codes."""
    if color is None:
        return text
    code = _ANSI[color]
    return "\n".join(f"\033[{code}m{line}\033[0m" for line in text.split("\n"))


def _columns(stream: TextIO) -> int:
    try:
        if stream.isatty():
            return fmt.columns_for_width(os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):
        pass
    return fmt.DEFAULT_COLUMNS


class PlainReporter(BaseReporter):
    """Writes Ansible's default output to `stream`; failures as readable blocks, not JSON."""

    def __init__(
        self, stream: TextIO, *, verbosity: int = 0, color: bool = False, show_diff: bool = False
    ) -> None:
        super().__init__()
        self.stream = stream
        self.verbosity = verbosity
        self.color = color
        self.show_diff = show_diff
        self.columns = _columns(stream)
        self.tracker = PlayTracker()

    # output
    def _paint(self, text: str, color: str | None) -> str:
        return stringc(text, color) if self.color else text

    def _write(self, text: str, color: str | None = None) -> None:
        self.stream.write(self._paint(text, color) + "\n")

    def _banner(self, msg: str) -> None:
        self._write("\n" + fmt.banner(msg, self.columns))  # Ansible: every banner after a blank line

    # events
    def _handle(self, event: Event) -> None:
        match event:
            case PlaybookStart(path=path) if self.verbosity > 1:
                self._banner(f"PLAYBOOK: {os.path.basename(path)}")
            case PlayStart():
                self.tracker.start_play(event)
                self._banner(fmt.play_title(event))
                if not event.hosts:
                    self._write("skipping: no hosts matched", fmt.COLORS[Status.SKIPPED])
            case TaskStart():
                self.tracker.start_task(event)
                self._banner(fmt.task_title(event))
                if self.verbosity >= 2 and event.path:
                    self._write(f"task path: {event.path}", fmt.COLORS["debug"])
            case HostResult(result=result):
                self._result(result, self.tracker.record(result))
            case HostsRemaining(host=host):
                if self.tracker.drop(host):
                    self._banner("NO MORE HOSTS LEFT")
            case Message():
                self._write(fmt.message_line(event), fmt.message_color(event))
            case PlaybookEnd():
                self._recap(event)
        self.stream.flush()

    def _result(self, result: TaskResult, kind: Kind) -> None:
        color = fmt.COLORS[result.status]
        if kind is Kind.AGGREGATE and result.status is not Status.SKIPPED:
            # Items were printed one by one; Ansible only adds "...ignoring" for the whole loop.
            if result.ignored and fmt.is_failure(result):
                self._write("...ignoring", fmt.COLORS[Status.SKIPPED])
            return
        if fmt.is_failure(result):
            for line in fmt.failure_lines(result, self._task_path(), self.verbosity):
                self._write(line, color)
            if result.ignored and kind is not Kind.ITEM:
                self._write("...ignoring", fmt.COLORS[Status.SKIPPED])
            return
        if self.show_diff and result.changed:
            for line in fmt.diff_lines(result.diffs):
                self._write(line, fmt.diff_color(line))
        for line in fmt.verbose_lines(result, self.verbosity):
            self._write(line, color)

    def _task_path(self) -> str:
        return self.tracker.task.path if self.tracker.task else ""

    def _recap(self, event: PlaybookEnd) -> None:
        self._banner(fmt.RECAP_BANNER)
        for host in sorted(event.stats):
            # colored piece by piece, as Ansible's colorize() does: padding inside the color
            parts = fmt.recap_parts(host, event.stats[host])
            self.stream.write("".join(self._paint(text, color) for text, color in parts) + "\n")
        self._write("")
