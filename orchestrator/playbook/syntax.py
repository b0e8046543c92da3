"""`orch play --syntax-check`: besides loading (YAML, keywords, modules, arguments), parse every
template string of every play, role, block, task and handler, so `{{ foo | }}` is reported with
its file:line before a run rather than when the task is reached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestrator.errors import PlaybookError, SourceLocation
from orchestrator.playbook.model import Block, Playbook, Role, Task, TaskOptions
from orchestrator.templating.common import has_template
from orchestrator.yamlsource import location_of

# Keywords whose strings are bare Jinja2 expressions, not templates.
_CONDITIONS = ("when", "changed_when", "failed_when", "until")


class TemplateSyntaxErrors(PlaybookError):
    """Every template that does not parse; `errors` holds one PlaybookError each."""

    def __init__(self, errors: list[PlaybookError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} template syntax error(s)", errors[0].location)


def check_templates(playbook: Playbook) -> None:
    from orchestrator.templating.engine import check_syntax

    errors: list[PlaybookError] = []
    seen: set[tuple[str, SourceLocation | None]] = set()
    for text, expression, fallback in _strings(playbook):
        where = location_of(text) or fallback
        if (text, where) in seen:
            continue
        seen.add((text, where))
        problem = check_syntax(text, expression=expression)
        if problem:
            errors.append(PlaybookError(problem, where))
    if errors:
        raise TemplateSyntaxErrors(errors)


def _strings(playbook: Playbook) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    roles_done: set[int] = set()
    for play in playbook.plays:
        yield from _values(play.hosts, False, play.location)
        yield from _options(play.options, play.location)
        yield from _values(play.vars_files, False, play.location)
        for items in (play.pre_tasks, play.tasks, play.post_tasks, play.handlers):
            yield from _items(items)
        for role in play.roles:
            yield from _role(role, roles_done)


def _role(role: Role, done: set[int]) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    if id(role) in done:
        return
    done.add(id(role))
    yield from _values([role.defaults, role.vars, role.params], False, role.location)
    yield from _options(role.options, role.location)
    yield from _items(role.tasks)
    yield from _items(role.handlers)
    for dependency in role.dependencies:
        yield from _role(dependency, done)


def _items(items: list[Any]) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    for item in items:
        if isinstance(item, Block):
            yield from _options(item.options, item.location)
            yield from _items([*item.block, *item.rescue, *item.always])
        elif isinstance(item, Task):
            yield from _task(item)


def _task(task: Task) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    at = task.location
    yield from _values(task.name, False, at)
    yield from _values(task.args, False, at)
    yield from _values(task.loop, False, at)
    yield from _values(task.loop_control, False, at)
    yield from _options(task.options, at)
    for conditions in (task.changed_when, task.failed_when, task.until):
        yield from _values(conditions, True, at)
    yield from _values([task.retries, task.delay], False, at)


def _options(
    options: TaskOptions, at: SourceLocation | None
) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    yield from _values(options.when, True, at)
    for name in ("become", "become_user", "become_method", "remote_user", "delegate_to", "environment",
                 "ignore_errors", "no_log", "run_once", "check_mode", "diff", "vars"):  # fmt: skip
        yield from _values(getattr(options, name), False, at)


def _values(
    value: Any, expression: bool, at: SourceLocation | None
) -> Iterator[tuple[str, bool, SourceLocation | None]]:
    if isinstance(value, str):
        if expression or has_template(value):
            yield value, expression, at
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _values(key, False, at)
            yield from _values(item, expression, location_of(value) or at)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item, expression, location_of(value) or at)
