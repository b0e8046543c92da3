"""JsonReporter: Ansible's json callback shape, loop items, odd values, atomic writes."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest

from orchestrator.events import Event, HostResult, Message, PlaybookEnd, PlaybookStart, PlayStart, TaskStart
from orchestrator.report import JsonReporter
from orchestrator.report.json_report import jsonable
from orchestrator.results import Diff, HostStats, Status, TaskResult


def res(host: str, task: str, status: Status, **kwargs: object) -> HostResult:
    return HostResult(TaskResult(host=host, task=task, status=status, **kwargs))  # type: ignore[arg-type]


def events() -> list[Event]:
    return [
        PlaybookStart(path="site.yml"),
        PlayStart(name="web", hosts=("h1", "h2")),
        TaskStart(name="ping", hosts=("h1", "h2"), path="site.yml:4"),
        res("h1", "ping", Status.OK, data={"ping": "pong", "changed": False}, duration=0.01),
        res(
            "h2",
            "ping",
            Status.FAILED,
            msg="non-zero return code",
            rc=2,
            stdout="out\n",
            stderr="err\n",
            diffs=(Diff("a\n", "b\n", "/f", "/f"),),
            data={"when": datetime.date(2024, 1, 2), "raw": b"\xffbytes", "tags": {"x"}, 3: "int key"},
        ),
        TaskStart(name="users", hosts=("h1",), path="site.yml:8"),
        res("h1", "users", Status.CHANGED, item_label="alice", data={"item": "alice", "uid": 1001}),
        res("h1", "users", Status.OK, item_label="bob", data={"item": "bob", "uid": 1002}),
        res("h1", "users", Status.CHANGED, msg="All items completed", data={"results": ["raw", "list"]}),
        Message(level="warning", text="ignored by the JSON reporter"),
        PlaybookEnd(
            stats={"h2": HostStats(failed=1), "h1": HostStats(ok=3, changed=1)},
            exit_code=2,
            duration=1.23456,
            transport_stats={
                "h1": {"connections": 1, "round_trips": 4, "bytes_sent": 900, "bytes_received": 80}
            },
        ),
    ]


def write(path: Path, evs: list[Event]) -> dict:
    reporter = JsonReporter(path)
    for event in evs:
        reporter.handle(event)
    reporter.close()
    return json.loads(path.read_text())


def test_document_shape_like_ansibles_json_callback(tmp_path: Path) -> None:
    doc = write(tmp_path / "run.json", events())
    assert set(doc) == {"plays", "stats", "transport", "exit_code", "duration"}
    assert doc["exit_code"] == 2 and doc["duration"] == 1.235
    (play,) = doc["plays"]
    assert play["play"]["name"] == "web" and play["play"]["hosts"] == ["h1", "h2"]
    ping, users = play["tasks"]
    assert ping["task"]["name"] == "ping" and ping["task"]["path"] == "site.yml:4"
    assert users["task"]["name"] == "users" and users["task"]["handler"] is False
    ok = ping["hosts"]["h1"]
    assert ok["ping"] == "pong"
    assert (ok["status"], ok["changed"], ok["failed"], ok["skipped"], ok["unreachable"]) == (
        "ok",
        False,
        False,
        False,
        False,
    )
    assert (ok["msg"], ok["rc"], ok["stdout"], ok["stderr"], ok["diff"], ok["item"]) == (
        "",
        None,
        "",
        "",
        [],
        None,
    )
    failed = ping["hosts"]["h2"]
    assert (failed["status"], failed["failed"], failed["rc"]) == ("failed", True, 2)
    assert (failed["msg"], failed["stdout"], failed["stderr"]) == ("non-zero return code", "out\n", "err\n")
    assert failed["diff"] == [{"before": "a\n", "after": "b\n", "before_header": "/f", "after_header": "/f"}]
    # Ansible's stats keys ("failures"), sorted by host
    assert list(doc["stats"]) == ["h1", "h2"]
    assert doc["stats"]["h2"] == {
        "ok": 0,
        "changed": 0,
        "unreachable": 0,
        "failures": 1,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }
    assert doc["transport"] == {
        "h1": {"connections": 1, "round_trips": 4, "bytes_sent": 900, "bytes_received": 80}
    }


def test_non_json_values_become_strings(tmp_path: Path) -> None:
    doc = write(tmp_path / "run.json", events())
    failed = doc["plays"][0]["tasks"][0]["hosts"]["h2"]
    assert failed["when"] == "2024-01-02"
    assert failed["raw"] == "\ufffdbytes"
    assert failed["tags"] == ["x"]
    assert failed["3"] == "int key"
    assert jsonable({"nan": float("nan"), "t": (1, 2), "o": object}) == {
        "nan": "nan",
        "t": [1, 2],
        "o": "<class 'object'>",
    }


def test_loop_items_are_results_of_the_host_entry(tmp_path: Path) -> None:
    doc = write(tmp_path / "run.json", events())
    entry = doc["plays"][0]["tasks"][1]["hosts"]["h1"]
    assert entry["status"] == "changed" and entry["msg"] == "All items completed"
    assert [(r["item"], r["status"], r["uid"]) for r in entry["results"]] == [
        ("alice", "changed", 1001),
        ("bob", "ok", 1002),
    ]


def test_loop_without_an_overall_result_is_summarised(tmp_path: Path) -> None:
    evs = [
        PlayStart(name="p", hosts=("h1",)),
        TaskStart(name="t", hosts=("h1",)),
        res("h1", "t", Status.OK, item_label="a"),
        res("h1", "t", Status.FAILED, item_label="b", msg="boom"),
        PlaybookEnd(stats={}, exit_code=2, duration=0.5),
    ]
    entry = write(tmp_path / "run.json", evs)["plays"][0]["tasks"][0]["hosts"]["h1"]
    assert (entry["status"], entry["failed"], entry["msg"]) == ("failed", True, "One or more items failed")
    assert [r["item"] for r in entry["results"]] == ["a", "b"]


def test_nothing_is_written_before_the_end(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    reporter = JsonReporter(path)
    for event in events()[:-1]:
        reporter.handle(event)
    reporter.close()
    assert not path.exists()


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"old": true}')

    def fail_fsync(fd: int) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    reporter = JsonReporter(path)
    for event in events():
        reporter.handle(event)  # must not raise into the executor
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # the temp file is gone
    assert "no space left on device" in capsys.readouterr().err


def test_results_without_a_play_or_task_still_land(tmp_path: Path) -> None:
    evs = [
        res("h1", "adhoc", Status.CHANGED),
        PlaybookEnd(stats={"h1": HostStats(changed=1)}, exit_code=0, duration=0),
    ]
    doc = write(tmp_path / "run.json", evs)
    assert doc["plays"][0]["tasks"][0]["task"]["name"] == "adhoc"
    assert doc["plays"][0]["tasks"][0]["hosts"]["h1"]["changed"] is True
