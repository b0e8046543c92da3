"""Text of results shared by every reporter: status words, banners, failure blocks, diffs, recap.

Pure functions returning plain strings; each reporter only adds its own colors. The formats
copy ansible-core's default callback (`plugins/callback/default.py`, checked against 2.19) where
tools parse them: banners, `ok: [host]` lines, `(item=...)` labels and the PLAY RECAP lines.
Failures differ on purpose: a readable block instead of a JSON blob.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from rich.cells import cell_len

from orchestrator.events import Message, PlayStart, TaskStart
from orchestrator.results import Diff, HostStats, Status, TaskResult

# Ansible's color names (config/base.yml COLOR_*), by what they color.
COLORS: Mapping[str, str] = {
    Status.OK: "green",
    Status.CHANGED: "yellow",
    Status.FAILED: "red",
    Status.SKIPPED: "cyan",
    Status.UNREACHABLE: "bright red",
    "warn": "bright purple",
    "debug": "dark gray",
    "diff_add": "green",
    "diff_remove": "red",
    "diff_lines": "cyan",
}

RECAP_BANNER = "PLAY RECAP"
DEFAULT_COLUMNS = 79  # Ansible's display.columns when stdout is not a TTY: banners are 80 wide

# Keys never worth showing as "data": the status line already says them, or they duplicate a
# field shown on its own (stdout_lines), or they are Ansible internals.
_HIDDEN_KEYS = frozenset(
    {
        "changed",
        "failed",
        "skipped",
        "unreachable",
        "diff",
        "item",
        "ansible_loop_var",
        "ansible_index_var",
        "stdout_lines",
        "stderr_lines",
        "results",
    }
)
_FIELD_KEYS = ("msg", "rc", "stdout", "stderr")


def columns_for_width(width: int | None) -> int:
    """Ansible's rule: one column less than the terminal, at least 79."""
    return max(DEFAULT_COLUMNS, (width or 0) - 1)


def banner(msg: str, columns: int = DEFAULT_COLUMNS) -> str:
    """`PLAY [web] *****...`: stars up to `columns` cells, at least 3 (display.banner)."""
    msg = msg.strip()
    return f"{msg} {'*' * max(3, columns - cell_len(msg))}"


def play_title(event: PlayStart) -> str:
    name = event.name.strip()
    return f"PLAY [{name}]" if name else "PLAY"


def task_title(event: TaskStart) -> str:
    prefix = "RUNNING HANDLER" if event.is_handler else "TASK"
    return f"{prefix} [{event.name.strip()}]"


def host_label(result: TaskResult) -> str:
    """`h1` or, for a delegated task, `h1 -> db1` or `h1 -> db1(10.0.0.5)` when the delegate's
    ansible_host is not its name (CallbackBase.host_label)."""
    if result.delegated_to and result.delegated_to != result.host:
        address = result.delegated_address
        suffix = f"({address})" if address and address != result.delegated_to else ""
        return f"{result.host} -> {result.delegated_to}{suffix}"
    return result.host


def status_line(result: TaskResult) -> str:
    """The line tools grep for, without details: `ok: [h1]`, `fatal: [h4]: FAILED!`, ..."""
    host = host_label(result)
    item = result.item_label
    match result.status:
        case Status.FAILED if item is not None:
            return f"failed: [{host}] (item={item})"
        case Status.FAILED:
            return f"fatal: [{host}]: FAILED!"
        case Status.UNREACHABLE:
            line = f"fatal: [{host}]: UNREACHABLE!"
            return f"{line} (item={item})" if item is not None else line
        case Status.SKIPPED if item is not None:
            return f"skipping: [{host}] => (item={item}) "  # Ansible's trailing space, kept
        case Status.SKIPPED:
            return f"skipping: [{host}]"
        case _:
            word = "changed" if result.changed else "ok"
            return f"{word}: [{host}] => (item={item})" if item is not None else f"{word}: [{host}]"


def is_failure(result: TaskResult) -> bool:
    return result.status in (Status.FAILED, Status.UNREACHABLE)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    return str(value)


def yamlish(pairs: Iterable[tuple[str, Any]], indent: int = 0) -> list[str]:
    """Compact YAML-like lines; multi-line strings are shown verbatim as an indented block.

    Not real YAML on purpose: nothing is quoted or escaped, so stdout reads as it was printed.
    """
    pad = " " * indent
    lines: list[str] = []
    for key, value in pairs:
        lines.extend(_value_lines(f"{pad}{key}:", value, indent))
    return lines


def _value_lines(head: str, value: Any, indent: int) -> list[str]:
    if isinstance(value, str) and "\n" in value.rstrip("\n"):
        body = value[:-1] if value.endswith("\n") else value
        inner = " " * (indent + 2)
        return [head, *(f"{inner}{line}" if line else "" for line in body.split("\n"))]
    if isinstance(value, Mapping) and value:
        return [head, *yamlish(((str(k), value[k]) for k in sorted(value, key=str)), indent + 2)]
    if isinstance(value, list | tuple | set | frozenset) and value:
        lines = [head]
        for element in value:
            lines.extend(_value_lines(f"{' ' * (indent + 2)}-", element, indent + 2))
        return lines
    if isinstance(value, Mapping):
        return [f"{head} {{}}"]
    if isinstance(value, list | tuple | set | frozenset):
        return [f"{head} []"]
    return [f"{head} {_scalar(value).rstrip(chr(10))}"]


def show_data(result: TaskResult, verbosity: int) -> bool:
    """Whether an ok/changed/skipped line carries its data (-v, or debug's verbose_always)."""
    if result.data.get("_ansible_verbose_override") is True:
        return False
    return verbosity >= 1 or result.data.get("_ansible_verbose_always") is True


def display_data(result: TaskResult, verbosity: int, *, skip: Iterable[str] = ()) -> list[tuple[str, Any]]:
    """The result's data worth showing, sorted like Ansible's dumps; fields fill gaps in data."""
    hidden = _HIDDEN_KEYS.union(skip)
    data = dict(result.data)
    for key in _FIELD_KEYS:
        value = getattr(result, key)
        if value not in ("", None):
            data[key] = value
    return [
        (key, data[key])
        for key in sorted(data)
        if key not in hidden
        and not key.startswith("_ansible")
        and not (key == "invocation" and verbosity < 3)
        and not (key in ("stdout", "stderr", "msg") and data[key] == "")
    ]


def data_lines(result: TaskResult, verbosity: int, indent: int = 4) -> list[str]:
    return yamlish(display_data(result, verbosity), indent)


def failure_details(result: TaskResult, task_path: str, verbosity: int, indent: int = 2) -> list[str]:
    """What follows a failure's headline: rc, stdout, stderr verbatim, more data at -v, task path.

    The msg is not here: Plain puts it on the headline, Live makes it the panel's first line.
    """
    pairs: list[tuple[str, Any]] = []
    if result.rc is not None:
        pairs.append(("rc", result.rc))
    for key in ("stdout", "stderr"):
        text = getattr(result, key) or result.data.get(key, "")
        if isinstance(text, str) and text.strip():
            pairs.append((key, text if "\n" in text.rstrip("\n") else text.rstrip("\n")))
    if verbosity >= 1:
        pairs.extend(display_data(result, verbosity, skip=_FIELD_KEYS))
    if task_path:
        pairs.append(("task path", task_path))
    return yamlish(pairs, indent)


def failure_msg(result: TaskResult) -> str:
    msg = result.msg or result.data.get("msg", "")
    return msg if isinstance(msg, str) else str(msg)


def failure_lines(result: TaskResult, task_path: str, verbosity: int) -> list[str]:
    """`fatal: [h4]: FAILED! => msg` then rc, stdout, stderr, task path, each readable."""
    head = status_line(result)
    msg = failure_msg(result)
    lines: list[str] = []
    if msg and "\n" not in msg.strip("\n"):
        head = f"{head} => {msg.strip()}"
    elif msg:
        lines = yamlish([("msg", msg)], indent=2)
    return [head, *lines, *failure_details(result, task_path, verbosity)]


def verbose_lines(result: TaskResult, verbosity: int) -> list[str]:
    """`ok: [h1]`, with its data at -v: inline when one short line, else an indented block."""
    head = status_line(result)
    if not show_data(result, verbosity):
        return [head]
    data = data_lines(result, verbosity, indent=4)
    if not data:
        return [head]
    if len(data) == 1 and len(head) + len(data[0]) < 120:
        return [f"{head.rstrip()} => {data[0].strip()}"]
    return [f"{head.rstrip()} =>", *data]


def diff_lines(diffs: Iterable[Diff]) -> list[str]:
    """Unified diffs as Ansible prints them (CallbackBase._get_diff), without line ends.

    Each diff with changes ends with an empty line, as in Ansible's output.
    """
    lines: list[str] = []
    for diff in diffs:
        before = diff.before.splitlines(keepends=True)
        after = diff.after.splitlines(keepends=True)
        # Ansible marks a missing final newline inside the diff, as `diff -u` does.
        if before and not before[-1].endswith("\n"):
            before[-1] += "\n\\ No newline at end of file\n"
        if after and not after[-1].endswith("\n"):
            after[-1] += "\n\\ No newline at end of file\n"
        fromfile = "before" if diff.before_header == "before" else f"before: {diff.before_header}"
        tofile = "after" if diff.after_header == "after" else f"after: {diff.after_header}"
        hunk = list(difflib.unified_diff(before, after, fromfile=fromfile, tofile=tofile, n=3))
        if hunk:
            lines.extend("".join(hunk).splitlines())
            lines.append("")
    return lines


def diff_color(line: str) -> str | None:
    if line.startswith("+"):
        return COLORS["diff_add"]
    if line.startswith("-"):
        return COLORS["diff_remove"]
    if line.startswith("@@"):
        return COLORS["diff_lines"]
    return None


def message_color(event: Message) -> str | None:
    return {"warning": COLORS["warn"], "error": COLORS[Status.FAILED]}.get(event.level)


def message_line(event: Message) -> str:
    prefix = {"warning": "[WARNING]: ", "error": "[ERROR]: "}.get(event.level, "")
    where = f"[{event.host}]: " if event.host else ""
    return f"{prefix}{where}{event.text}"


# PLAY RECAP: ansible's v2_playbook_on_stats with colorize()/hostcolor().
RECAP_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    # (label, HostStats attribute, Ansible color when non-zero)
    ("ok", "ok", COLORS[Status.OK]),
    ("changed", "changed", COLORS[Status.CHANGED]),
    ("unreachable", "unreachable", COLORS[Status.UNREACHABLE]),
    ("failed", "failed", COLORS[Status.FAILED]),
    ("skipped", "skipped", COLORS[Status.SKIPPED]),
    ("rescued", "rescued", COLORS[Status.OK]),
    ("ignored", "ignored", COLORS["warn"]),
)


def recap_host_color(stats: HostStats) -> str:
    if stats.failed or stats.unreachable:
        return COLORS[Status.FAILED]
    if stats.changed:
        return COLORS[Status.CHANGED]
    return COLORS[Status.OK]


def recap_parts(host: str, stats: HostStats) -> list[tuple[str, str | None]]:
    """One recap line as (text, color) pieces; joined they are exactly Ansible's line.

    `"%-26s : %s %s %s %s %s %s %s"` with each counter `"%s=%-4s"`, the counter colored only
    when non-zero, padding included (as colorize() does).
    """
    parts: list[tuple[str, str | None]] = [(host, recap_host_color(stats))]
    parts.append((" " * max(0, 26 - len(host)) + " : ", None))
    for index, (label, attr, color) in enumerate(RECAP_FIELDS):
        if index:
            parts.append((" ", None))
        count = getattr(stats, attr)
        parts.append((f"{label}={count:<4}", color if count else None))
    return parts


def recap_lines(stats: Mapping[str, HostStats]) -> list[str]:
    """The PLAY RECAP lines exactly as ansible-playbook prints them, sorted by host name."""
    return ["".join(text for text, _ in recap_parts(host, stats[host])) for host in sorted(stats)]
