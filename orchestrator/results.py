"""Results of running a task on a host: frozen values, rendered only by report/."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Diff:
    """One before/after pair, as Ansible's diff mode shows it."""

    before: str
    after: str
    before_header: str = "before"
    after_header: str = "after"


@dataclass(frozen=True)
class TaskResult:
    """What one task (or one loop item) did on one host.

    `data` is the Ansible-compatible result dict a playbook reads through `register`
    (changed, rc, stdout, stdout_lines, stderr, msg, ...). Values from no_log tasks are
    already redacted here, so no reporter can leak them.
    """

    host: str
    task: str
    status: Status
    msg: str = ""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    diffs: tuple[Diff, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    ignored: bool = False  # failed but ignore_errors: true
    item_label: str | None = None  # set for one item of a loop
    duration: float = 0.0
    delegated_to: str | None = None
    delegated_address: str | None = None  # the delegate's ansible_host, shown when not its name

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED


@dataclass
class HostStats:
    """The PLAY RECAP counters of one host, counted the way ansible-playbook counts them."""

    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failed: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))
