"""The TTY view: per-host lines scroll above a live footer (task, progress, hosts still running).

Threading: handle() prints under the reporter's lock; rich's refresh thread only renders the
footer from an immutable snapshot swapped in after each event, so it never takes that lock
(taking it there could deadlock against rich's own lock, held while we print).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

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

# Above this many hosts in a task, ok/skipped hosts are counted, not listed.
COLLAPSE_THRESHOLD = 30
_FOOTER_NAMES = 60  # at most this many running host names are even considered for the footer

# rich styles of Ansible's color names
_STYLES: Mapping[str, str] = {
    "green": "green",
    "yellow": "yellow",
    "red": "red",
    "cyan": "cyan",
    "bright red": "bold red",
    "bright purple": "bold magenta",
    "dark gray": "bright_black",
}


def style_of(color: str | None) -> str:
    return _STYLES[color] if color else ""


def status_style(status: Status) -> str:
    return style_of(fmt.COLORS[status])


def collapsed_line(status: Status, count: int) -> str:
    word = "skipping" if status is Status.SKIPPED else status.value
    return f"{word}: {count} host{'' if count == 1 else 's'}"


def abbreviate(names: Iterable[str], count: int, width: int) -> str:
    """`h1, h2, h3, … +97 more` within `width` cells."""
    shown: list[str] = []
    used = 0
    for name in names:
        room = width - len(f" … +{count} more")
        if used + len(name) + 2 > room and shown:
            break
        shown.append(name)
        used += len(name) + 2
    rest = count - len(shown)
    return ", ".join(shown) + (f", … +{rest} more" if rest > 0 else "")


@dataclass(frozen=True)
class _Snapshot:
    title: str
    started: float
    total: int = 0
    done: int = 0
    running: tuple[str, ...] = ()
    running_count: int = 0
    totals: tuple[tuple[Status, int], ...] = ()
    in_play: int = 0
    play_size: int = 0
    has_task: bool = False


class _Footer:
    """The live footer; renders whatever snapshot is current, without locking."""

    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        snap = self.snapshot
        if snap is None:
            return
        width = options.max_width
        head = Text(snap.title, style="bold")
        head.append(f"  {time.monotonic() - snap.started:.0f}s", style="dim")
        yield head
        if snap.has_task:
            bar = Table.grid(padding=(0, 1))
            bar.add_row(
                ProgressBar(
                    total=max(snap.total, 1), completed=snap.done, width=max(10, min(40, width - 30))
                ),
                Text(f"{snap.done}/{snap.total} hosts"),
            )
            yield bar
            if snap.running_count:
                running = Text("running: ", style="dim")
                running.append(abbreviate(snap.running, snap.running_count, width - 10))
                yield running
        totals = Text()
        for status, count in snap.totals:
            totals.append(f"{status.value}={count}", style=status_style(status) if count else "")
            totals.append("  ")
        if snap.play_size and snap.in_play < snap.play_size:
            totals.append(f"hosts left in play: {snap.in_play}/{snap.play_size}", style="dim")
        yield totals


class LiveReporter(BaseReporter):
    """Rich live view for a terminal; the recap is Ansible's lines, then the exit code and time."""

    def __init__(
        self,
        console: Console,
        *,
        verbosity: int = 0,
        show_diff: bool = False,
        collapse_threshold: int = COLLAPSE_THRESHOLD,
        refresh_per_second: float = 4.0,
    ) -> None:
        super().__init__()
        self.console = console
        self.verbosity = verbosity
        self.show_diff = show_diff
        self.collapse_threshold = collapse_threshold
        self.tracker = PlayTracker()
        self.footer = _Footer()
        self._live: Live | None = None
        self._refresh_per_second = refresh_per_second
        self._collapse = False
        self._collapsed: Counter[Status] = Counter()
        self._ended = False

    # output
    def _print(self, renderable: RenderableType | str, style: str = "") -> None:
        if isinstance(renderable, str):
            renderable = Text(renderable, style=style)  # Text, never markup: output is data
        # soft_wrap: long lines (the recap above all) stay one line for whoever scrapes them.
        self.console.print(renderable, soft_wrap=True)

    def _banner(self, msg: str) -> None:
        self._print("")
        self._print(fmt.banner(msg, fmt.columns_for_width(self.console.width)), "bold")

    def _start_live(self) -> None:
        if self._live is None and not self._ended:
            self._live = Live(
                self.footer,
                console=self.console,
                refresh_per_second=self._refresh_per_second,
                transient=True,
            )
            self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    # events
    def _handle(self, event: Event) -> None:
        match event:
            case PlaybookStart(path=path):
                self._start_live()
                if self.verbosity > 1:
                    self._banner(f"PLAYBOOK: {os.path.basename(path)}")
            case PlayStart():
                self._flush_collapsed()
                self._start_live()
                self.tracker.start_play(event)
                self._banner(fmt.play_title(event))
                if not event.hosts:
                    self._print("skipping: no hosts matched", status_style(Status.SKIPPED))
            case TaskStart():
                self._flush_collapsed()
                self._start_live()
                self.tracker.start_task(event)
                self._collapse = len(event.hosts) > self.collapse_threshold
                self._banner(fmt.task_title(event))
                if self.verbosity >= 2 and event.path:
                    self._print(f"task path: {event.path}", style_of(fmt.COLORS["debug"]))
            case HostResult(result=result):
                self._result(result, self.tracker.record(result))
            case HostsRemaining(host=host):
                if self.tracker.drop(host):
                    self._banner("NO MORE HOSTS LEFT")
            case Message():
                self._print(fmt.message_line(event), style_of(fmt.message_color(event)))
            case PlaybookEnd():
                self._flush_collapsed()
                self._ended = True
                self._stop_live()
                self._recap(event)
        self._update_footer()

    def _close(self) -> None:
        self._stop_live()

    def _result(self, result: TaskResult, kind: Kind) -> None:
        quiet = self._collapse and result.status in (Status.OK, Status.SKIPPED)
        if quiet and kind is not Kind.ITEM:
            self._collapsed[result.status] += 1
        if kind is Kind.AGGREGATE and result.status is not Status.SKIPPED:
            # Items were shown one by one; Ansible only adds "...ignoring" for the whole loop.
            if result.ignored and fmt.is_failure(result):
                self._print("...ignoring", status_style(Status.SKIPPED))
            return
        if quiet:
            return
        if fmt.is_failure(result):
            # wrapped to the terminal, never cut: the end of a message is often the useful part
            self.console.print(self._failure_panel(result))
            return
        if self.show_diff and result.changed:
            for line in fmt.diff_lines(result.diffs):
                self._print(line, style_of(fmt.diff_color(line)))
        for line in fmt.verbose_lines(result, self.verbosity):
            self._print(line, status_style(result.status))

    def _failure_panel(self, result: TaskResult) -> Panel:
        task_path = self.tracker.task.path if self.tracker.task else ""
        body = Text()
        msg = fmt.failure_msg(result).strip("\n")
        if msg:
            body.append(msg, style="bold")
        details = fmt.failure_details(result, task_path, self.verbosity, indent=0)
        if details:
            body.append(("\n" if msg else "") + "\n".join(details))
        subtitle = fmt.status_line(result) + ("  ...ignoring" if result.ignored else "")
        style = status_style(result.status)
        return Panel(
            body,
            title=Text(f"{fmt.host_label(result)} · {result.task}", style=style),
            title_align="left",
            subtitle=Text(subtitle, style=style),
            subtitle_align="left",
            border_style=style,
        )

    def _flush_collapsed(self) -> None:
        for status in (Status.OK, Status.SKIPPED):
            if self._collapsed[status]:
                self._print(collapsed_line(status, self._collapsed[status]), status_style(status))
        self._collapsed.clear()

    def _update_footer(self) -> None:
        tracker = self.tracker
        if self._ended or tracker.play is None:
            self.footer.snapshot = None
            return
        task = tracker.task
        names: list[str] = []
        for name in tracker.pending:
            if len(names) >= _FOOTER_NAMES:
                break
            names.append(name)
        self.footer.snapshot = _Snapshot(
            title=fmt.task_title(task) if task else fmt.play_title(tracker.play),
            started=tracker.task_started,
            total=len(task.hosts) if task else 0,
            done=len(task.hosts) - len(tracker.pending) if task else 0,
            running=tuple(names),
            running_count=len(tracker.pending),
            totals=tuple(
                (s, tracker.totals[s]) for s in (Status.OK, Status.CHANGED, Status.FAILED, Status.UNREACHABLE)
            ),
            in_play=len(tracker.in_play),
            play_size=len(tracker.play.hosts),
            has_task=task is not None,
        )

    def _recap(self, event: PlaybookEnd) -> None:
        # Ansible's recap lines exactly (tools scrape them from TTY sessions too): the one recap.
        self._banner(fmt.RECAP_BANNER)
        for host in sorted(event.stats):
            parts = fmt.recap_parts(host, event.stats[host])
            self._print(Text.assemble(*((text, style_of(color)) for text, color in parts)))
        self._print("")
        self._print(f"exit code {event.exit_code} · {event.duration:.1f}s", "dim")
