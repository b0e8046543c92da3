"""Run history: every `orch play` / `orch run` leaves a record, and failed hosts rerun with one command.

A record is one JSON file, `<state dir>/runs/<id>/record.json` (state dir: $XDG_STATE_HOME/orch,
else ~/.local/state/orch), mode 0600 in a 0700 directory, written atomically when the run ends,
however it ends: normally, interrupted (exit 99) or crashed (exit 250). It holds the command line,
orch version, working directory, inventory and playbook paths with their SHA-256, the extra vars,
per-host per-task results, the recap, timings, the exit code, and the tracebacks of internal
errors (which never reach the terminal). Everything in it passed through orchestrator.redact:
results arrive as already-scrubbed events, extra vars and the command line are scrubbed here.

The newest KEEP records are kept (ORCH_HISTORY_KEEP, default 100). `retry_hosts` names the hosts
a rerun needs: those that failed, were unreachable, were interrupted, or never finished.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from orchestrator import __version__, redact
from orchestrator.events import Event, HostResult, Message, PlaybookEnd, PlaybookStart, PlayStart, TaskStart
from orchestrator.results import Status

DEFAULT_KEEP = 100
RECORD = "record.json"
MAX_TEXT = 4000  # a result's stdout/stderr/msg kept in the record, per field

_exceptions_lock = threading.Lock()
_exceptions: list[dict[str, str]] = []


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "orch"


def runs_dir() -> Path:
    return state_dir() / "runs"


def keep_count() -> int:
    try:
        return max(1, int(os.environ.get("ORCH_HISTORY_KEEP", DEFAULT_KEEP)))
    except ValueError:
        return DEFAULT_KEEP


def note_exception(host: str, where: str, exc: BaseException) -> None:
    """An internal error in one host's task: its traceback belongs in the run record."""
    trace = "".join(traceback.format_exception(exc))
    with _exceptions_lock:
        _exceptions.append({"host": host, "where": where, "traceback": redact.mask(trace)})


def _take_exceptions() -> list[dict[str, str]]:
    with _exceptions_lock:
        taken = list(_exceptions)
        _exceptions.clear()
    return taken


def file_digest(path: str) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def _sources(paths: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        full = os.path.abspath(path) if os.path.exists(path) else path
        entry: dict[str, Any] = {"path": full}
        if os.path.isfile(full):
            entry["sha256"] = file_digest(full)
        out.append(entry)
    return out


def _clip(text: Any) -> str:
    text = str(text or "")
    return (
        text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"... ({len(text) - MAX_TEXT} more characters)"
    )


class RunRecorder:
    """A reporter that builds the run record from the (scrubbed) events, written by `finish`."""

    def __init__(
        self,
        *,
        command: str,
        argv: Sequence[str],
        inventories: Sequence[str],
        playbooks: Sequence[str],
        extra_vars: Any,
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        self.id = now.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._task_paths: dict[str, str] = {}
        self.record: dict[str, Any] = {
            "id": self.id,
            "orch_version": __version__,
            "command": command,
            "argv": scrub_argv(argv),
            "cwd": os.getcwd(),
            "started": now.isoformat(timespec="seconds"),
            "inventories": _sources(inventories),
            "playbooks": _sources(playbooks),
            "extra_vars": redact.scrub(extra_vars),
            "hosts": [],
            "results": {},
            "messages": [],
            "recap": {},
            "interrupted_hosts": [],
            "exit_code": None,
            "duration": None,
            "internal_errors": [],
        }
        self.path: Path | None = None

    # -- Reporter ---------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        with self._lock:
            record = self.record
            match event:
                case PlaybookStart():
                    record["check_mode"] = event.check_mode
                case PlayStart():
                    for host in event.hosts:
                        if host not in record["hosts"]:
                            record["hosts"].append(host)
                case TaskStart():
                    self._task_paths[event.name] = event.path
                case HostResult():
                    result = event.result
                    entry = {
                        "task": result.task,
                        "path": self._task_paths.get(result.task, ""),
                        "status": result.status.value,
                        "duration": round(result.duration, 3),
                    }
                    for key in ("msg", "stdout", "stderr"):
                        value = getattr(result, key)
                        if value:
                            entry[key] = _clip(value)
                    if result.rc is not None:
                        entry["rc"] = result.rc
                    if result.item_label is not None:
                        entry["item"] = result.item_label
                    if result.ignored:
                        entry["ignored"] = True
                    if result.data.get("interrupted"):
                        entry["interrupted"] = True
                        if result.host not in record["interrupted_hosts"]:
                            record["interrupted_hosts"].append(result.host)
                    record["results"].setdefault(result.host, []).append(entry)
                case Message():
                    if event.level in ("error", "warning"):
                        record["messages"].append(
                            {"level": event.level, "text": event.text, "host": event.host}
                        )
                case PlaybookEnd():
                    record["recap"] = {h: s.as_dict() for h, s in event.stats.items()}
                    record["exit_code"] = event.exit_code
                case _:
                    pass

    def close(self) -> None:
        pass

    # -- the end ----------------------------------------------------------------------------

    def finish(self, exit_code: int, error: str | None = None) -> Path | None:
        """Write the record (whatever happened) and prune old ones. Never raises: a run's
        result must not be lost because the state dir is not writable."""
        with self._lock:
            self.record["exit_code"] = exit_code
            self.record["duration"] = round(time.monotonic() - self._started, 3)
            self.record["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self.record["internal_errors"] = _take_exceptions()
            if error:
                self.record["error"] = redact.mask(error)
            data = json.dumps(redact.scrub(self.record, keys=False), indent=1, default=str)
        try:
            self.path = write_record(self.id, data)
            prune(keep_count())
        except OSError:
            return None
        return self.path


def scrub_argv(argv: Sequence[str]) -> list[str]:
    """The command line with secrets masked: known secrets anywhere, and the values of
    secret-named keys in -e arguments (k=v words, JSON/YAML mappings)."""
    out: list[str] = []
    after_e = False
    for word in argv:
        masked = redact.mask(word)
        if after_e or word.startswith(("-e", "--extra-vars")):
            value = masked
            prefix = ""
            if not after_e:
                for option in ("--extra-vars=", "--extra-vars", "-e"):
                    if masked.startswith(option):
                        prefix, value = option, masked[len(option) :]
                        break
            if value:
                masked = prefix + _scrub_extra_vars_text(value)
                after_e = False
            else:
                after_e = True
        out.append(masked)
    return out


def _scrub_extra_vars_text(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("@"):
        return text
    if stripped.startswith(("{", "[")):
        try:
            return json.dumps(redact.scrub(json.loads(stripped)))
        except ValueError:
            return redact.MASK if redact.SECRET_NAME.search(stripped) else text
    words = []
    for word in stripped.split():
        key, sep, _ = word.partition("=")
        words.append(f"{key}={redact.MASK}" if sep and redact.looks_secret(key) else word)
    return " ".join(words)


def write_record(run_id: str, data: str) -> Path:
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(root.parent, 0o700)
        os.chmod(root, 0o700)
    folder = root / run_id
    folder.mkdir(mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".record-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / RECORD)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return folder / RECORD


def list_records() -> list[dict[str, Any]]:
    """Every readable record, oldest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir()):
        path = folder / RECORD
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def load_record(run_id: str | None) -> dict[str, Any] | None:
    """A record by id (a unique prefix is enough), or the newest when run_id is None."""
    records = list_records()
    if run_id is None:
        return records[-1] if records else None
    matches = [r for r in records if str(r.get("id", "")).startswith(run_id)]
    return matches[-1] if len(matches) >= 1 and all(m["id"] == matches[-1]["id"] for m in matches) else None


def prune(keep: int) -> None:
    root = runs_dir()
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders[:-keep] if len(folders) > keep else []:
        shutil.rmtree(folder, ignore_errors=True)


def host_outcomes(record: dict[str, Any]) -> dict[str, str]:
    """Each targeted host's outcome: ok, changed, failed, unreachable, interrupted, not run."""
    out: dict[str, str] = {}
    recap = record.get("recap") or {}
    interrupted = set(record.get("interrupted_hosts") or [])
    results = record.get("results") or {}
    for host in record.get("hosts") or []:
        stats = recap.get(host)
        if host in interrupted:
            out[host] = "interrupted"
        elif stats is None:
            out[host] = "not run" if host not in results else _from_results(results[host])
        elif stats.get("unreachable"):
            out[host] = "unreachable"
        elif stats.get("failed"):
            out[host] = "failed"
        elif not results.get(host) and record.get("exit_code") not in (0, 2, 4):
            out[host] = "not run"  # the run ended (crash) before this host did anything
        elif stats.get("changed"):
            out[host] = "changed"
        else:
            out[host] = "ok"
    return out


def _from_results(results: list[dict[str, Any]]) -> str:
    statuses = {r.get("status") for r in results}
    if Status.UNREACHABLE.value in statuses:
        return "unreachable"
    if Status.FAILED.value in statuses:
        return "failed"
    return "not run"


def retry_hosts(record: dict[str, Any]) -> list[str]:
    return [h for h, outcome in host_outcomes(record).items() if outcome not in ("ok", "changed")]


def find_previous(argv: Sequence[str]) -> dict[str, Any] | None:
    """The newest record of the same command line (as recorded, i.e. scrubbed)."""
    wanted = scrub_argv(argv)
    for record in reversed(list_records()):
        if record.get("argv") == wanted and record.get("cwd") == os.getcwd():
            return record
    return None


def summary_line(record: dict[str, Any]) -> list[str]:
    """The columns of `orch history`: id, started, command, ok/changed/failed/unreachable, exit, duration."""
    outcomes = host_outcomes(record)
    counts = {
        k: sum(1 for v in outcomes.values() if v == k) for k in ("ok", "changed", "failed", "unreachable")
    }
    other = len(outcomes) - sum(counts.values())
    started = str(record.get("started", ""))
    with contextlib.suppress(ValueError):
        started = dt.datetime.fromisoformat(started).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    playbooks = [Path(p["path"]).name for p in record.get("playbooks") or []]
    what = " ".join(playbooks) if playbooks else str(record.get("command", ""))
    hosts = f"{counts['ok']}/{counts['changed']}/{counts['failed']}/{counts['unreachable']}"
    if other:
        hosts += f" +{other} interrupted/not run"
    duration = record.get("duration")
    return [
        str(record.get("id", "")),
        started,
        what,
        hosts,
        str(record.get("exit_code")),
        f"{duration:.1f}s" if isinstance(duration, int | float) else "-",
    ]


def render_record(record: dict[str, Any]) -> str:
    """`orch history show`: what ran, how it ended, the recap, and every failure."""
    row = summary_line(record)
    lines = [
        f"run {record.get('id')}  started {row[1]}  took {row[5]}  exit {record.get('exit_code')}",
        f"command: orch {' '.join(record.get('argv') or [])}",
        f"cwd: {record.get('cwd')}  orch {record.get('orch_version')}",
    ]
    for kind in ("playbooks", "inventories"):
        for source in record.get(kind) or []:
            lines.append(
                f"{kind[:-1] if kind == 'playbooks' else 'inventory'}: {source['path']}"
                + (f"  sha256 {source['sha256'][:16]}" if source.get("sha256") else "")
            )
    outcomes = host_outcomes(record)
    recap = record.get("recap") or {}
    lines.append("")
    lines.append("RECAP")
    for host, outcome in outcomes.items():
        stats = recap.get(host) or {}
        figures = "  ".join(
            f"{k}={stats.get(k, 0)}" for k in ("ok", "changed", "unreachable", "failed", "skipped")
        )
        lines.append(f"  {host:<24} {outcome:<12} {figures}")
    failures = [
        (host, entry)
        for host, entries in (record.get("results") or {}).items()
        for entry in entries
        if entry.get("status") in (Status.FAILED.value, Status.UNREACHABLE.value) and not entry.get("ignored")
    ]
    if failures:
        lines.append("")
        lines.append("FAILURES")
        for host, entry in failures:
            where = f" ({entry['path']})" if entry.get("path") else ""
            lines.append(
                f"  {host}: {entry.get('status')}: {entry.get('task')}{where}: {entry.get('msg', '')}"
            )
    for message in record.get("messages") or []:
        if message.get("level") == "error":
            lines.append(f"  error: {message.get('text')}")
    if record.get("internal_errors"):
        lines.append("")
        lines.append("INTERNAL ERRORS (please report them)")
        for item in record["internal_errors"]:
            lines.append(f"  {item.get('host')} at {item.get('where')}:")
            lines.extend("    " + line for line in str(item.get("traceback", "")).splitlines())
    if record.get("error"):
        lines.append("")
        lines.append("THE RUN CRASHED")
        lines.extend("    " + line for line in str(record["error"]).splitlines())
    hosts = retry_hosts(record)
    if hosts:
        lines.append("")
        lines.append(
            f"to rerun on the {len(hosts)} host(s) that did not finish well: orch retry {record.get('id')}"
        )
    return "\n".join(lines)
