"""Which reporters a run gets: the live view on a terminal, Ansible's plain text otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from rich.console import Console

from orchestrator.events import Reporter
from orchestrator.report.adhoc import AdhocReporter
from orchestrator.report.json_report import JsonReporter
from orchestrator.report.live import LiveReporter
from orchestrator.report.plain import PlainReporter
from orchestrator.report.stats import StatsReporter


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def wants_color(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """A terminal that did not opt out (https://no-color.org, TERM=dumb)."""
    env = os.environ if environ is None else environ
    return _isatty(stream) and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def make_reporters(
    *,
    json_path: str | os.PathLike[str] | None,
    verbosity: int,
    show_diff: bool,
    stream: TextIO = sys.stdout,
    force_plain: bool = False,
    show_stats: bool = False,
    environ: Mapping[str, str] | None = None,
    adhoc: str | None = None,
) -> list[Reporter]:
    """Screen reporter first (ad-hoc lines, Live or Plain), then --stats, then the JSON file.

    The order matters: the stats table prints after the recap, on the same output.
    `adhoc` is "minimal" or "one-line" for `orch run`.
    """
    reporters: list[Reporter] = []
    color = wants_color(stream, environ)
    out: Console | TextIO
    if adhoc is not None:
        reporters.append(AdhocReporter(stream, one_line=adhoc == "one-line", color=color))
        out = stream
    elif color and not force_plain:
        console = Console(file=stream)
        reporters.append(LiveReporter(console, verbosity=verbosity, show_diff=show_diff))
        out = console
    else:
        reporters.append(PlainReporter(stream, verbosity=verbosity, color=color, show_diff=show_diff))
        out = stream
    if show_stats:
        reporters.append(StatsReporter(out))
    if json_path is not None:
        reporters.append(JsonReporter(json_path))
    return reporters
