"""The one error hierarchy. Every error a user can cause says where (file:line:col) and what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)  # slots: one per YAML node loaded, and a big inventory has millions
class SourceLocation:
    """A place in a source file; line and col are 1-based (col 0 = unknown)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.path
        return f"{self.path}:{self.line}:{self.col}" if self.col else f"{self.path}:{self.line}"


class OrchError(Exception):
    """Base of every error orch raises on purpose."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class OptionsError(OrchError):
    """A command line that cannot run (e.g. `orch run` without -a): exit 5, as bad options."""

    exit_code = 5  # orchestrator.exitcodes.EXIT_BAD_OPTIONS


class InventoryError(OrchError):
    """The inventory cannot be loaded (bad file, bad range, bad pattern)."""


class PlaybookError(OrchError):
    """The playbook cannot be loaded or is invalid; found before any host is touched."""


class TemplateError(OrchError):
    """A Jinja2 expression failed: undefined variable, bad filter, syntax."""


class ConnectError(OrchError):
    """A host cannot be reached or logged into: the host is unreachable."""


class ModuleError(OrchError):
    """A module could not do its work: the task fails on that host (the run goes on)."""


class ModuleFailed(ModuleError):
    """A module failed on the host: msg plus any result keys (rc, stdout, stderr, ...), which
    become the task's registered result."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


class VaultError(OrchError):
    """A vault file or value cannot be decrypted or encrypted."""


class BecomeError(OrchError):
    """Privilege escalation failed (wrong or missing sudo password): the task fails, as in Ansible."""


def source_excerpt(location: SourceLocation | None) -> list[str]:
    """The line `location` points at, and a caret under its column: shown under an error.

    [] when the location has no line or the file cannot be read (e.g. `<command line>`).
    """
    if location is None or not location.line:
        return []
    import itertools

    try:
        with open(location.path, encoding="utf-8", errors="replace") as handle:
            found = next(itertools.islice(handle, location.line - 1, None), None)
    except OSError:
        return []
    if found is None:
        return []
    text = found
    text = text.rstrip("\r\n").expandtabs(8)
    if len(text) > 200:
        return []
    gutter = f"  {location.line} | "
    lines = [f"{gutter}{text}"]
    if location.col:
        lines.append(" " * (len(gutter) - 2) + "| " + " " * (location.col - 1) + "^ here")
    return lines
