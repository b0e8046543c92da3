"""The one error hierarchy. Every error a user can cause says where (file:line:col) and what."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
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


class InventoryError(OrchError):
    """The inventory cannot be loaded (bad file, bad range, bad pattern)."""


class PlaybookError(OrchError):
    """The playbook cannot be loaded or is invalid; found before any host is touched."""


class TemplateError(OrchError):
    """A Jinja2 expression failed: undefined variable, bad filter, syntax."""


class ConnectError(OrchError):
    """A host cannot be reached or logged into: the host is unreachable."""


class ModuleError(OrchError):
    """A module was called wrongly (bad parameters) or failed on the controller side."""


class VaultError(OrchError):
    """A vault file or value cannot be decrypted or encrypted."""


class BecomeError(OrchError):
    """Privilege escalation failed (wrong or missing sudo password): the task fails, as in Ansible."""
