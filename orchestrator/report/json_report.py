"""A JSON document of the run, shaped like Ansible's json callback (ansible.posix.json).

Differences, on purpose: per-result status fields are always present (status, changed, failed,
skipped, unreachable, msg, rc, stdout, stderr, diff, duration, item), and the document adds
`transport`, `exit_code` and `duration`. Stats use Ansible's keys (`failures`, not `failed`) so
tools written for Ansible's json read it unchanged.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from orchestrator.events import Event, HostResult, PlaybookEnd, PlayStart, TaskStart
from orchestrator.report.base import BaseReporter
from orchestrator.results import HostStats, Status, TaskResult

# Worst first: a loop's status is that of its worst item.
_SEVERITY = (Status.UNREACHABLE, Status.FAILED, Status.CHANGED, Status.OK, Status.SKIPPED)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """Plain JSON types all the way down; anything else becomes its str()."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def result_dict(result: TaskResult) -> dict[str, Any]:
    """TaskResult.data plus the fields every consumer wants without guessing."""
    out = dict(result.data)
    for key in ("msg", "rc", "stdout", "stderr"):
        value = getattr(result, key)
        if value not in ("", None) or key not in out:  # an empty field keeps data's value
            out[key] = value
    out.update(
        status=result.status.value,
        changed=result.changed,
        failed=result.failed,
        skipped=result.status is Status.SKIPPED,
        unreachable=result.status is Status.UNREACHABLE,
        ignored=result.ignored,
        diff=[
            {
                "before": d.before,
                "after": d.after,
                "before_header": d.before_header,
                "after_header": d.after_header,
            }
            for d in result.diffs
        ],
        duration=result.duration,
        item=result.item_label,
    )
    if result.delegated_to:
        out["delegated_to"] = result.delegated_to
    return jsonable(out)


def _loop_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The host entry of a loop when no overall result came: what Ansible would have said."""
    statuses = {item["status"] for item in items}
    status = next((s for s in _SEVERITY if s.value in statuses), Status.SKIPPED)
    failed = status in (Status.FAILED, Status.UNREACHABLE)
    return {
        "status": status.value,
        "changed": any(item["changed"] for item in items),
        "failed": status is Status.FAILED,
        "skipped": status is Status.SKIPPED,
        "unreachable": status is Status.UNREACHABLE,
        "msg": "One or more items failed" if failed else "All items completed",
        "results": items,
    }


def stats_dict(stats: HostStats) -> dict[str, int]:
    """Ansible's stats.summarize() keys."""
    return {
        "ok": stats.ok,
        "changed": stats.changed,
        "unreachable": stats.unreachable,
        "failures": stats.failed,
        "skipped": stats.skipped,
        "rescued": stats.rescued,
        "ignored": stats.ignored,
    }


def write_atomically(path: str, text: str) -> None:
    """Readers see the old file or the whole new one, never a half-written one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class JsonReporter(BaseReporter):
    """Collects results and writes the document at PlaybookEnd (mode 0600: results hold output)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.plays: list[dict[str, Any]] = []
        self._loops: dict[tuple[int, str], list[dict[str, Any]]] = {}  # (id(task), host) -> items

    def _handle(self, event: Event) -> None:
        match event:
            case PlayStart():
                self.plays.append(
                    {
                        "play": {
                            "name": event.name,
                            "hosts": list(event.hosts),
                            "duration": {"start": _now()},
                        },
                        "tasks": [],
                    }
                )
            case TaskStart():
                self._play()["tasks"].append(
                    {
                        "task": {
                            "name": event.name,
                            "path": event.path,
                            "handler": event.is_handler,
                            "duration": {"start": _now()},
                        },
                        "hosts": {},
                    }
                )
            case HostResult(result=result):
                self._record(result)
            case PlaybookEnd():
                self._write(event)

    def _play(self) -> dict[str, Any]:
        if not self.plays:  # an ad-hoc run has no PlayStart
            self.plays.append({"play": {"name": "", "hosts": []}, "tasks": []})
        return self.plays[-1]

    def _task(self, name: str) -> dict[str, Any]:
        tasks = self._play()["tasks"]
        # Results may land after the next task started (free strategy): match by name, newest first.
        for task in reversed(tasks):
            if task["task"]["name"] == name:
                return task
        if tasks:
            return tasks[-1]
        tasks.append({"task": {"name": name, "path": ""}, "hosts": {}})
        return tasks[-1]

    def _record(self, result: TaskResult) -> None:
        task = self._task(result.task)
        entry = result_dict(result)
        key = (id(task), result.host)
        if result.item_label is not None:
            items = self._loops.setdefault(key, [])
            items.append(entry)
            entry = _loop_summary(items)  # until the host's overall result replaces it
        elif key in self._loops:
            entry["results"] = self._loops[key]  # the per-item records beat the executor's raw list
        task["hosts"][result.host] = entry
        end = _now()
        for node in (task["task"], self._play()["play"]):
            if "duration" in node:
                node["duration"]["end"] = end

    def document(self, event: PlaybookEnd) -> dict[str, Any]:
        return {
            "plays": self.plays,
            "stats": {host: stats_dict(event.stats[host]) for host in sorted(event.stats)},
            "transport": {
                host: {
                    key: int(values.get(key, 0))
                    for key in ("connections", "round_trips", "bytes_sent", "bytes_received")
                }
                for host, values in sorted(event.transport_stats.items())
            },
            "exit_code": event.exit_code,
            "duration": round(event.duration, 3),
        }

    def _write(self, event: PlaybookEnd) -> None:
        text = json.dumps(self.document(event), indent=4, sort_keys=True)
        write_atomically(self.path, text + "\n")
