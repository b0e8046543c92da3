"""PlainReporter: Ansible's default output where tools parse it, readable failure blocks."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterable

import pytest

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
from orchestrator.report import PlainReporter
from orchestrator.results import Diff, HostStats, Status, TaskResult

LONG = "a-very-long-hostname-that-exceeds-26.example.com"
HOSTS = (LONG, "h1")


def res(host: str, task: str, status: Status, **kwargs: object) -> HostResult:
    return HostResult(TaskResult(host=host, task=task, status=status, **kwargs))  # type: ignore[arg-type]


def run(events: Iterable[Event], **options: object) -> str:
    stream = io.StringIO()
    reporter = PlainReporter(stream, **options)  # type: ignore[arg-type]
    for event in events:
        reporter.handle(event)
    reporter.close()
    return stream.getvalue()


def end(stats: dict[str, HostStats] | None = None, exit_code: int = 0) -> PlaybookEnd:
    return PlaybookEnd(stats=stats or {}, exit_code=exit_code, duration=1.0)


# The same playbook as a real `ansible-playbook --diff` run (ANSIBLE_NOCOLOR=1, piped): every line
# but the failure block is Ansible's, byte for byte; the failure is readable instead of JSON.
GOLDEN = """
PLAY [web] *********************************************************************

TASK [Install nginx] ***********************************************************
ok: [a-very-long-hostname-that-exceeds-26.example.com]
ok: [h1]

TASK [loop] ********************************************************************
changed: [a-very-long-hostname-that-exceeds-26.example.com] => (item=foo)
changed: [h1] => (item=foo)
changed: [a-very-long-hostname-that-exceeds-26.example.com] => (item=bar)
changed: [h1] => (item=bar)

TASK [fail] ********************************************************************
fatal: [h1]: FAILED! => non-zero return code
  rc: 3
  stdout: out
  stderr: err
  task path: /tmp/ansref/pb.yml:11
...ignoring

TASK [skip] ********************************************************************
skipping: [h1]
skipping: [a-very-long-hostname-that-exceeds-26.example.com]

TASK [copy] ********************************************************************
--- before
+++ after: /tmp/ansref/out-long.txt
@@ -0,0 +1,2 @@
+a
+b

changed: [a-very-long-hostname-that-exceeds-26.example.com]
--- before: /tmp/ansref/out-h1.txt
+++ after: /tmp/ansref/out-h1.txt
@@ -1 +1,2 @@
-x
+a
+b

changed: [h1]

PLAY RECAP *********************************************************************
a-very-long-hostname-that-exceeds-26.example.com : ok=4    changed=3    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   
h1                         : ok=4    changed=3    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1   

"""  # noqa: W291 - Ansible's recap lines end in spaces


def golden_events() -> list[Event]:
    return [
        PlaybookStart(path="pb.yml"),
        PlayStart(name="web", hosts=HOSTS),
        TaskStart(name="Install nginx", hosts=HOSTS, path="/tmp/ansref/pb.yml:5"),
        res(LONG, "Install nginx", Status.OK),
        res("h1", "Install nginx", Status.OK),
        TaskStart(name="loop", hosts=HOSTS, path="/tmp/ansref/pb.yml:8"),
        res(LONG, "loop", Status.CHANGED, item_label="foo"),
        res("h1", "loop", Status.CHANGED, item_label="foo"),
        res(LONG, "loop", Status.CHANGED, item_label="bar"),
        res("h1", "loop", Status.CHANGED, item_label="bar"),
        res(LONG, "loop", Status.CHANGED),  # the hosts' overall loop results: no extra line
        res("h1", "loop", Status.CHANGED),
        TaskStart(name="fail", hosts=("h1",), path="/tmp/ansref/pb.yml:11"),
        res(
            "h1",
            "fail",
            Status.FAILED,
            msg="non-zero return code",
            rc=3,
            stdout="out\n",
            stderr="err\n",
            ignored=True,
        ),
        TaskStart(name="skip", hosts=HOSTS),
        res("h1", "skip", Status.SKIPPED),
        res(LONG, "skip", Status.SKIPPED),
        TaskStart(name="copy", hosts=HOSTS),
        res(
            LONG, "copy", Status.CHANGED, diffs=(Diff("", "a\nb\n", after_header="/tmp/ansref/out-long.txt"),)
        ),
        res(
            "h1",
            "copy",
            Status.CHANGED,
            diffs=(Diff("x\n", "a\nb\n", "/tmp/ansref/out-h1.txt", "/tmp/ansref/out-h1.txt"),),
        ),
        end(
            {
                LONG: HostStats(ok=4, changed=3, skipped=1),
                "h1": HostStats(ok=4, changed=3, skipped=1, ignored=1),
            }
        ),
    ]


def test_full_run_matches_ansibles_output() -> None:
    assert run(golden_events(), show_diff=True) == GOLDEN


def test_diffs_only_with_show_diff_and_only_for_changes() -> None:
    diff = (Diff("a\n", "b\n", "/f", "/f"),)
    events = [
        PlayStart(name="p", hosts=("h1",)),
        TaskStart(name="t", hosts=("h1",)),
        res("h1", "t", Status.CHANGED, diffs=diff),
        res("h1", "t", Status.OK, diffs=diff),
    ]
    assert "--- before" not in run(events)
    assert run(events, show_diff=True).count("--- before: /f") == 1


def test_unreachable_block() -> None:
    out = run(
        [
            PlayStart(name="p", hosts=("dead",)),
            TaskStart(name="ping", hosts=("dead",), path="pb2.yml:4"),
            res(
                "dead",
                "ping",
                Status.UNREACHABLE,
                msg="ssh: connect to host 127.0.0.1 port 1: Connection refused",
            ),
        ]
    )
    assert out.splitlines()[-2:] == [
        "fatal: [dead]: UNREACHABLE! => ssh: connect to host 127.0.0.1 port 1: Connection refused",
        "  task path: pb2.yml:4",
    ]


def test_loop_failure_ignored_prints_items_then_one_ignoring() -> None:
    out = run(
        [
            PlayStart(name="p", hosts=("h1",)),
            TaskStart(name="loop fail", hosts=("h1",)),
            res("h1", "loop fail", Status.CHANGED, item_label="a"),
            res(
                "h1",
                "loop fail",
                Status.FAILED,
                item_label="b",
                msg="non-zero return code",
                rc=1,
                ignored=True,
            ),
            res("h1", "loop fail", Status.FAILED, msg="One or more items failed", ignored=True),
        ]
    )
    assert out.splitlines()[-5:] == [
        "TASK [loop fail] ***************************************************************",
        "changed: [h1] => (item=a)",
        "failed: [h1] (item=b) => non-zero return code",
        "  rc: 1",
        "...ignoring",
    ]


def test_skipped_loop_prints_items_and_host_like_ansible() -> None:
    out = run(
        [
            PlayStart(name="p", hosts=("h1",)),
            TaskStart(name="t", hosts=("h1",)),
            res("h1", "t", Status.SKIPPED, item_label="a"),
            res("h1", "t", Status.SKIPPED),
        ]
    )
    assert out.splitlines()[-2:] == ["skipping: [h1] => (item=a) ", "skipping: [h1]"]


def test_verbosity_shows_data_task_paths_and_playbook_banner() -> None:
    events = [
        PlaybookStart(path="/srv/site.yml"),
        PlayStart(name="p", hosts=("h1",)),
        TaskStart(name="ping", hosts=("h1",), path="/srv/site.yml:4"),
        res("h1", "ping", Status.OK, data={"ping": "pong", "changed": False}),
    ]
    assert run(events).splitlines()[-1] == "ok: [h1]"
    assert run(events, verbosity=1).splitlines()[-1] == "ok: [h1] => ping: pong"
    lines = run(events, verbosity=2).splitlines()
    assert lines[1].startswith("PLAYBOOK: site.yml ***")
    assert lines[-2:] == ["task path: /srv/site.yml:4", "ok: [h1] => ping: pong"]


def test_handlers_warnings_and_no_hosts() -> None:
    out = run(
        [
            PlayStart(name="empty", hosts=()),
            PlayStart(name="p", hosts=("h1",)),
            TaskStart(name="restart nginx", hosts=("h1",), is_handler=True),
            Message(level="warning", text="yes was read as a string"),
        ]
    )
    assert "\nskipping: no hosts matched\n" in out
    assert "\nRUNNING HANDLER [restart nginx] ****" in out
    assert out.endswith("\n[WARNING]: yes was read as a string\n")


def test_no_more_hosts_left_when_the_last_host_drops_out() -> None:
    events: list[Event] = [
        PlayStart(name="p", hosts=("h1", "h2")),
        TaskStart(name="t", hosts=("h1", "h2")),
        res("h1", "t", Status.FAILED, msg="boom"),
        HostsRemaining(host="h1", reason="failed"),
    ]
    assert "NO MORE HOSTS LEFT" not in run(events)
    events += [
        res("h2", "t", Status.UNREACHABLE, msg="gone"),
        HostsRemaining(host="h2", reason="unreachable"),
    ]
    assert run(events).endswith("\nNO MORE HOSTS LEFT " + "*" * 61 + "\n")


def test_color_uses_ansibles_escape_codes() -> None:
    out = run(
        [
            PlayStart(name="p", hosts=("h1", "h2")),
            TaskStart(name="t", hosts=("h1", "h2")),
            res("h1", "t", Status.OK),
            res("h2", "t", Status.FAILED, msg="boom", rc=2),
            end({"h1": HostStats(ok=1), "h2": HostStats(failed=1)}, exit_code=2),
        ],
        color=True,
    )
    assert "\x1b[0;32mok: [h1]\x1b[0m\n" in out
    assert "\x1b[0;31mfatal: [h2]: FAILED! => boom\x1b[0m\n\x1b[0;31m  rc: 2\x1b[0m\n" in out
    assert "\x1b[0;32mh1\x1b[0m" + " " * 24 + " : \x1b[0;32mok=1   \x1b[0m changed=0    " in out
    assert "\x1b[0;31mh2\x1b[0m" in out


class Exploding(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("disk full")


def test_never_raises_into_the_executor_and_warns_once(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = PlainReporter(Exploding())
    for event in golden_events():
        reporter.handle(event)
    reporter.close()
    err = capsys.readouterr().err
    assert err.count("[WARNING]: PlainReporter failed") == 1
    assert "disk full" in err


def test_concurrent_handle_keeps_lines_whole() -> None:
    hosts = tuple(f"host{i:03d}" for i in range(200))
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.handle(PlayStart(name="p", hosts=hosts))
    reporter.handle(TaskStart(name="t", hosts=hosts))

    def worker(chunk: tuple[str, ...]) -> None:
        for host in chunk:
            reporter.handle(res(host, "t", Status.FAILED, msg="boom", rc=1, stdout="x\ny\n"))

    threads = [threading.Thread(target=worker, args=(hosts[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # each failure block is contiguous: headline, rc, stdout and its two lines
    blocks = re.findall(
        r"fatal: \[(host\d+)\]: FAILED! => boom\n  rc: 1\n  stdout:\n    x\n    y\n", stream.getvalue()
    )
    assert sorted(blocks) == sorted(hosts)
