"""LiveReporter: lines above a live footer, failure panels, collapse for many hosts, recap."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterable

import pytest
from rich.console import Console

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
from orchestrator.report import LiveReporter, recap_lines
from orchestrator.report.live import abbreviate
from orchestrator.results import Diff, HostStats, Status, TaskResult

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def res(host: str, task: str, status: Status, **kwargs: object) -> HostResult:
    return HostResult(TaskResult(host=host, task=task, status=status, **kwargs))  # type: ignore[arg-type]


def console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, color_system="standard")


def run(events: Iterable[Event], **options: object) -> tuple[str, str]:
    """(text without escape codes, raw output)."""
    con = console()
    reporter = LiveReporter(con, **options)  # type: ignore[arg-type]
    for event in events:
        reporter.handle(event)
    reporter.close()
    raw = con.file.getvalue()  # type: ignore[attr-defined]
    return ANSI.sub("", raw), raw


def render(renderable: object, width: int = 100) -> str:
    con = Console(file=io.StringIO(), width=width, color_system=None)
    con.print(renderable)
    return con.file.getvalue()  # type: ignore[attr-defined]


def small_run() -> list[Event]:
    hosts = ("h1", "h2", "h3", "h4")
    return [
        PlaybookStart(path="site.yml"),
        PlayStart(name="web", hosts=hosts),
        TaskStart(name="Install nginx", hosts=hosts, path="site.yml:7"),
        res("h1", "Install nginx", Status.OK),
        res("h2", "Install nginx", Status.CHANGED, diffs=(Diff("a\n", "b\n", "/etc/x", "/etc/x"),)),
        res("h3", "Install nginx", Status.SKIPPED),
        res(
            "h4",
            "Install nginx",
            Status.FAILED,
            msg="non-zero return code",
            rc=100,
            stdout='Reading "lists"\\n...\n',
            stderr="E: Unable to locate package ngnix\n",
        ),
        HostsRemaining(host="h4", reason="failed"),
        Message(level="warning", text="deprecated"),
        PlaybookEnd(
            stats={
                "h1": HostStats(ok=1),
                "h2": HostStats(ok=1, changed=1),
                "h3": HostStats(skipped=1),
                "h4": HostStats(failed=1),
            },
            exit_code=2,
            duration=3.2,
        ),
    ]


def test_lines_panel_recap_lines_and_table() -> None:
    text, _ = run(small_run(), show_diff=True)
    for line in ("ok: [h1]", "changed: [h2]", "skipping: [h3]", "[WARNING]: deprecated", "+++ after: /etc/x"):
        assert f"{line}\n" in text
    assert "TASK [Install nginx] ***" in text
    # the failure panel: title host · task, msg, rc, stdout/stderr verbatim, task path
    assert re.search(r"╭─ h4 · Install nginx ─+╮", text)
    for part in (
        "│ non-zero return code ",
        "│ rc: 100 ",
        '│ stdout: Reading "lists"\\n... ',
        "│ stderr: E: Unable to locate package ngnix ",
        "│ task path: site.yml:7 ",
        "╰─ fatal: [h4]: FAILED! ─",
    ):
        assert part in text
    # Ansible's recap lines, exactly, even on a terminal, and only once (no second table)
    stats = {"h1": HostStats(ok=1), "h2": HostStats(ok=1, changed=1), "h3": HostStats(skipped=1)}
    stats["h4"] = HostStats(failed=1)
    recap = "\n".join(recap_lines(stats))
    assert "\nPLAY RECAP ****" in text
    assert recap in text
    assert text.count("h4 ") == 1 + text[: text.index("PLAY RECAP")].count("h4 ")
    assert "Recap" not in text and "TOTAL" not in text
    assert "exit code 2 · 3.2s" in text


def test_failure_panel_wraps_long_fields_at_80_columns() -> None:
    """Issue 16: at 80 columns the end of a long message (the template) was cut off."""
    msg = (
        "'not_defined_anywhere' is undefined; template: 'Deploying {{ not_defined_anywhere }} to "
        "{{ inventory_hostname }} on the production web tier'"
    )
    events: list[Event] = [
        PlayStart(name="p", hosts=("web1",)),
        TaskStart(name="announce", hosts=("web1",), path="site.yml:3"),
        res("web1", "announce", Status.FAILED, msg=msg),
    ]
    con = Console(file=io.StringIO(), force_terminal=True, width=80, color_system="standard")
    reporter = LiveReporter(con)
    for event in events:
        reporter.handle(event)
    reporter.close()
    text = ANSI.sub("", con.file.getvalue())  # type: ignore[attr-defined]
    panel = [line for line in text.splitlines() if line.startswith("│")]
    assert panel and all(len(line) == 80 for line in panel)  # (the live footer's lines are not checked)
    inside = " ".join(line.strip("│ ").strip() for line in panel)
    assert "on the production web tier'" in inside
    assert "template: 'Deploying {{ not_defined_anywhere }}" in inside


def test_colors_follow_ansible() -> None:
    _, raw = run(small_run())
    assert "\x1b[32mok: [h1]" in raw
    assert "\x1b[33mchanged: [h2]" in raw
    assert "\x1b[36mskipping: [h3]" in raw
    assert "\x1b[31m╭─" in raw  # red failure panel
    assert "\x1b[31mh4\x1b[0m" in raw  # recap host colored as Ansible's hostcolor
    unreachable = [
        PlayStart("p", ("x",)),
        TaskStart("t", ("x",)),
        res("x", "t", Status.UNREACHABLE, msg="no route"),
    ]
    assert "\x1b[1;31m╭─" in run(unreachable)[1]


def test_long_recap_lines_are_never_wrapped() -> None:
    host = "a-very-long-hostname-that-exceeds-26.example.com"
    text, _ = run([PlaybookEnd(stats={host: HostStats(ok=4, changed=3)}, exit_code=0, duration=1.0)])
    assert recap_lines({host: HostStats(ok=4, changed=3)})[0] + "\n" in text


def test_many_hosts_collapse_ok_and_skipped_but_list_changes_and_failures() -> None:
    hosts = tuple(f"web{i:03d}" for i in range(100))
    events: list[Event] = [PlayStart(name="fleet", hosts=hosts), TaskStart(name="apt", hosts=hosts)]
    for index, host in enumerate(hosts):
        if index in (10, 20):
            events.append(res(host, "apt", Status.CHANGED))
        elif index == 30:
            events.append(res(host, "apt", Status.FAILED, msg="dpkg lock"))
        elif index == 40:
            events.append(res(host, "apt", Status.UNREACHABLE, msg="timeout"))
        elif index >= 95:
            events.append(res(host, "apt", Status.SKIPPED))
        else:
            events.append(res(host, "apt", Status.OK))
    events += [TaskStart(name="small", hosts=hosts[:3])] + [res(h, "small", Status.OK) for h in hosts[:3]]
    text, _ = run(events)
    # the footer's last frame may share a line with printed text once escape codes are gone
    assert "ok: 91 hosts\n" in text
    assert "skipping: 5 hosts\n" in text
    assert "changed: [web010]\n" in text and "changed: [web020]\n" in text
    assert "web030 · apt" in text and "web040 · apt" in text
    big, small = text.split("TASK [small] ***")
    assert "ok: [" not in big and "skipping: [" not in big
    assert "ok: 91 hosts" in big  # printed before the next task's banner
    assert all(f"ok: [{host}]\n" in small for host in hosts[:3])  # few hosts: listed again


def test_collapsed_loops_count_hosts_not_items() -> None:
    hosts = tuple(f"h{i}" for i in range(40))
    events: list[Event] = [PlayStart(name="p", hosts=hosts), TaskStart(name="users", hosts=hosts)]
    for host in hosts:
        events += [res(host, "users", Status.OK, item_label=u) for u in ("alice", "bob")]
        events.append(res(host, "users", Status.OK))
    events.append(PlaybookEnd(stats={}, exit_code=0, duration=0.1))
    text, _ = run(events)
    assert "ok: 40 hosts\n" in text
    assert "(item=alice)" not in text


def test_footer_shows_task_progress_running_hosts_and_totals() -> None:
    hosts = ("db1", "web1", "web2")
    reporter = LiveReporter(console())
    for event in (
        PlayStart(name="p", hosts=hosts),
        TaskStart(name="Install nginx", hosts=hosts),
        res("db1", "Install nginx", Status.CHANGED),
        res("web1", "Install nginx", Status.FAILED, msg="x"),
        HostsRemaining(host="web1", reason="failed"),
    ):
        reporter.handle(event)
    footer = render(reporter.footer)
    assert footer.startswith("TASK [Install nginx]")
    assert "2/3 hosts" in footer
    assert "running: web2\n" in footer
    assert "ok=0  changed=1  failed=1  unreachable=0" in footer
    assert "hosts left in play: 2/3" in footer
    reporter.handle(PlaybookEnd(stats={}, exit_code=2, duration=1.0))
    assert render(reporter.footer) == ""
    reporter.close()


def test_abbreviate_many_names() -> None:
    names = [f"host{i:03d}" for i in range(100)]
    text = abbreviate(names[:60], 100, 60)
    assert text.startswith("host000, host001, ")
    assert text.endswith(" more")
    assert len(text) <= 60
    assert abbreviate(["a", "b"], 2, 60) == "a, b"


def test_verbose_data_and_loop_items() -> None:
    text, _ = run(
        [
            PlayStart(name="p", hosts=("h1",)),
            TaskStart(name="t", hosts=("h1",)),
            res("h1", "t", Status.CHANGED, item_label="foo", data={"path": "/srv/foo"}),
            res("h1", "t", Status.CHANGED),
        ],
        verbosity=1,
    )
    assert "changed: [h1] => (item=foo) => path: /srv/foo\n" in text
    assert text.count("changed: [h1]") == 1


def test_never_raises_and_close_without_end_stops_live(capsys: pytest.CaptureFixture[str]) -> None:
    con = console()
    reporter = LiveReporter(con)
    reporter.handle(PlayStart(name="p", hosts=("h1",)))
    assert reporter._live is not None and reporter._live.is_started
    reporter.handle(object())  # type: ignore[arg-type]  # an unknown event is ignored
    reporter.tracker = None  # type: ignore[assignment]  # break it
    reporter.handle(TaskStart(name="t", hosts=("h1",)))
    reporter.handle(TaskStart(name="t", hosts=("h1",)))
    reporter.close()
    # while the live view runs, rich sends stderr above the footer: the warning lands there
    out = capsys.readouterr().err + con.file.getvalue()  # type: ignore[attr-defined]
    assert out.count("[WARNING]: LiveReporter failed") == 1
    assert reporter._live is None


def test_concurrent_results_all_printed() -> None:
    hosts = tuple(f"h{i:02d}" for i in range(20))
    con = console()
    reporter = LiveReporter(con, refresh_per_second=50)
    reporter.handle(PlayStart(name="p", hosts=hosts))
    reporter.handle(TaskStart(name="t", hosts=hosts))

    def worker(chunk: tuple[str, ...]) -> None:
        for host in chunk:
            reporter.handle(res(host, "t", Status.CHANGED))

    threads = [threading.Thread(target=worker, args=(hosts[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reporter.handle(PlaybookEnd(stats={}, exit_code=0, duration=0.1))
    text = ANSI.sub("", con.file.getvalue())  # type: ignore[attr-defined]
    assert sorted(re.findall(r"changed: \[(h\d\d)\]\n", text)) == sorted(hosts)
