"""make_reporters picks Live or Plain; StatsReporter prints transport figures for --stats."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.events import PlaybookEnd
from orchestrator.report import JsonReporter, LiveReporter, PlainReporter, StatsReporter, make_reporters
from orchestrator.report.stats import human_bytes, stats_text


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("not a real terminal")


def kinds(reporters: list) -> list[type]:
    return [type(r) for r in reporters]


def test_live_on_a_terminal_plain_otherwise() -> None:
    live = make_reporters(json_path=None, verbosity=0, show_diff=False, stream=Tty(), environ={})
    assert kinds(live) == [LiveReporter]
    plain = make_reporters(json_path=None, verbosity=0, show_diff=False, stream=io.StringIO(), environ={})
    assert kinds(plain) == [PlainReporter]
    assert plain[0].color is False


@pytest.mark.parametrize("environ", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_color_and_dumb_terminals_get_plain_text_without_color(environ: dict[str, str]) -> None:
    (reporter,) = make_reporters(json_path=None, verbosity=0, show_diff=False, stream=Tty(), environ=environ)
    assert isinstance(reporter, PlainReporter) and reporter.color is False


def test_force_plain_keeps_ansible_colors_on_a_terminal() -> None:
    (reporter,) = make_reporters(
        json_path=None, verbosity=2, show_diff=True, stream=Tty(), force_plain=True, environ={}
    )
    assert isinstance(reporter, PlainReporter)
    assert (reporter.color, reporter.verbosity, reporter.show_diff) == (True, 2, True)


def test_json_and_stats_reporters_come_after_the_screen(tmp_path: Path) -> None:
    reporters = make_reporters(
        json_path=tmp_path / "r.json", verbosity=0, show_diff=False, stream=io.StringIO(), show_stats=True
    )
    assert kinds(reporters) == [PlainReporter, StatsReporter, JsonReporter]
    live = make_reporters(
        json_path=None, verbosity=0, show_diff=False, stream=Tty(), show_stats=True, environ={}
    )
    assert isinstance(live[1].out, Console) and live[1].out is live[0].console  # one console for both


TRANSPORT = {
    "web2": {"connections": 1, "round_trips": 23, "bytes_sent": 2048, "bytes_received": 512},
    "web1": {"connections": 2, "round_trips": 40, "bytes_sent": 5 * 1024 * 1024, "bytes_received": 100},
    "db1": {},
}


def test_stats_text_table_with_totals() -> None:
    stream = io.StringIO()
    reporter = StatsReporter(stream)
    reporter.handle(PlaybookEnd(stats={}, exit_code=0, duration=1.0, transport_stats=TRANSPORT))
    assert stream.getvalue().splitlines() == [
        "",
        "TRANSPORT STATS",
        "host   connections  round trips     sent  received",
        "db1              0            0      0 B       0 B",
        "web1             2           40  5.0 MiB     100 B",
        "web2             1           23  2.0 KiB     512 B",
        "TOTAL            3           63  5.0 MiB     612 B",
    ]
    assert stats_text({}) == [
        "host   connections  round trips  sent  received",
        "TOTAL            0            0   0 B       0 B",
    ]


def test_stats_rich_table() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    StatsReporter(console).handle(PlaybookEnd(stats={}, exit_code=0, duration=1.0, transport_stats=TRANSPORT))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Transport stats" in text
    assert "│ web1  │           2 │          40 │ 5.0 MiB │    100 B │" in text
    assert "│ TOTAL │           3 │          63 │ 5.0 MiB │    612 B │" in text


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 1024**3 * 3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "3.0 GiB",
    ]
