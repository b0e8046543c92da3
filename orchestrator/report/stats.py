"""`--stats`: what the transport cost per host (connections, round trips, bytes), and totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.events import Event, PlaybookEnd
from orchestrator.report.base import BaseReporter

COLUMNS = (
    ("connections", "connections"),
    ("round_trips", "round trips"),
    ("bytes_sent", "sent"),
    ("bytes_received", "received"),
)


def human_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def stats_rows(transport: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """Header, one row per host (sorted), then TOTAL; numbers already formatted."""
    header = ["host", *(title for _, title in COLUMNS)]
    totals = dict.fromkeys((key for key, _ in COLUMNS), 0)
    rows = [header]
    for host in sorted(transport):
        values = {key: int(transport[host].get(key, 0)) for key, _ in COLUMNS}
        for key, value in values.items():
            totals[key] += value
        rows.append([host, *_cells(values)])
    rows.append(["TOTAL", *_cells(totals)])
    return rows


def _cells(values: Mapping[str, int]) -> list[str]:
    return [human_bytes(v) if key.startswith("bytes") else str(v) for key, v in values.items()]


def stats_text(transport: Mapping[str, Mapping[str, int]]) -> list[str]:
    rows = stats_rows(transport)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # host left-aligned, numbers right-aligned
    return [
        "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
        for row in rows
    ]


class StatsReporter(BaseReporter):
    """At PlaybookEnd: a rich Table on a Console, aligned text on any other stream."""

    def __init__(self, out: Console | TextIO) -> None:
        super().__init__()
        self.out = out

    def _handle(self, event: Event) -> None:
        if not isinstance(event, PlaybookEnd):
            return
        if isinstance(self.out, Console):
            self.out.print(self._table(event.transport_stats))
            return
        self.out.write("\nTRANSPORT STATS\n" + "\n".join(stats_text(event.transport_stats)) + "\n")
        self.out.flush()

    @staticmethod
    def _table(transport: Mapping[str, Mapping[str, int]]) -> Table:
        header, *body = stats_rows(transport)
        table = Table(title="Transport stats", title_justify="left")
        for index, title in enumerate(header):
            table.add_column(title, justify="left" if index == 0 else "right")
        for row in body[:-1]:
            table.add_row(*map(Text, row))  # Text: host names are never read as markup
        table.add_section()
        table.add_row(*map(Text, body[-1]), style="bold")
        return table
