"""The validated playbook model. Loaders produce it; the executor consumes it.

Every node keeps the SourceLocation of its YAML mapping, so any error found later (a template
failing at run time, an undefined variable) still points at file:line:col. Keyword values that
may hold Jinja2 stay raw strings here; the executor templates them per host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import SourceLocation


@dataclass
class TaskOptions:
    """Keywords shared by plays, blocks, roles and tasks; None = not set (inherit)."""

    become: bool | str | None = None
    become_user: str | None = None
    become_method: str | None = None
    become_flags: str | None = None
    remote_user: str | None = None
    port: int | str | None = None  # the `port` keyword (inventory ansible_port wins, as in Ansible)
    check_mode: bool | str | None = None
    diff: bool | str | None = None
    environment: dict[str, Any] | list[Any] | str | None = None
    ignore_errors: bool | str | None = None
    ignore_unreachable: bool | str | None = None
    no_log: bool | str | None = None
    tags: list[str] = field(default_factory=list)
    when: list[Any] = field(default_factory=list)  # ANDed conditions, raw
    any_errors_fatal: bool | str | None = None
    run_once: bool | str | None = None
    delegate_to: str | None = None
    delegate_facts: bool | None = None
    throttle: int | str | None = None
    timeout: int | str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    module_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    name: str | None  # None: the recap shows the action name, as Ansible does
    action: str  # canonical module name as written: "copy", "ansible.builtin.copy", "include_tasks"
    args: dict[str, Any]  # module args, still raw (may hold Jinja2)
    location: SourceLocation
    options: TaskOptions = field(default_factory=TaskOptions)
    register: str | None = None
    loop: Any = None  # raw `loop:` value or the list built from with_* (see loop_kind)
    loop_kind: str | None = None  # None | "loop" | "items" | "dict" | "fileglob" | "sequence" | ...
    loop_control: dict[str, Any] = field(default_factory=dict)
    changed_when: list[Any] | None = None
    failed_when: list[Any] | None = None
    until: list[Any] | None = None
    retries: int | str | None = None
    delay: int | str | None = None
    notify: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)  # handlers only
    role: Role | None = None  # the role this task came from, for role_path and the display name
    async_: int | None = None
    poll: int | None = None

    @property
    def display_name(self) -> str:
        base = self.name or self.action
        return f"{self.role.name} : {base}" if self.role else base


@dataclass
class Block:
    block: list[Task | Block]
    rescue: list[Task | Block] = field(default_factory=list)
    always: list[Task | Block] = field(default_factory=list)
    name: str | None = None
    location: SourceLocation | None = None
    options: TaskOptions = field(default_factory=TaskOptions)
    role: Role | None = None


@dataclass
class Role:
    name: str
    path: str  # the role's directory (role_path)
    defaults: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # vars given where the role is used
    tasks: list[Task | Block] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)
    dependencies: list[Role] = field(default_factory=list)
    location: SourceLocation | None = None
    options: TaskOptions = field(default_factory=TaskOptions)
    allow_duplicates: bool = False  # meta/main.yml: run again when used twice with the same params


@dataclass
class VarsPrompt:
    name: str
    prompt: str = ""
    default: Any = None
    private: bool = True
    confirm: bool = False
    encrypt: str | None = None


@dataclass
class Play:
    name: str
    hosts: str  # pattern, possibly templated
    location: SourceLocation
    options: TaskOptions = field(default_factory=TaskOptions)
    vars_files: list[Any] = field(default_factory=list)
    vars_prompt: list[VarsPrompt] = field(default_factory=list)
    gather_facts: bool | str | None = None  # None = Ansible's default (true)
    gather_subset: list[str] | str | None = None
    gather_timeout: int | str | None = None
    serial: Any = None  # int, "30%", or a list of those
    strategy: str = "linear"  # "linear" | "free"
    max_fail_percentage: int | float | str | None = None
    pre_tasks: list[Task | Block] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    tasks: list[Task | Block] = field(default_factory=list)
    post_tasks: list[Task | Block] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)
    force_handlers: bool | None = None
    order: str = "inventory"


@dataclass
class Playbook:
    path: str  # the top file
    plays: list[Play]
    # YAML 1.1 booleans and other non-fatal notes found while loading, for the operator.
    warnings: list[str] = field(default_factory=list)

    @property
    def basedir(self) -> str:
        import os

        return os.path.dirname(os.path.abspath(self.path))
