"""import_tasks / import_role (static: replaced now by a Block of their tasks) and
include_tasks / include_role (dynamic: kept as Tasks, their targets loaded by the executor when
they run, as Ansible does)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import SourceLocation
from orchestrator.modules.spec import did_you_mean
from orchestrator.playbook import roles, tasks
from orchestrator.playbook.keywords import (
    BLOCK_KEYWORDS,
    HANDLER_KEYWORDS,
    IMPORT_INERT_KEYWORDS,
    INCLUDE_KEYWORDS,
    OPTION_KEYWORDS,
    TASK_KEYWORDS,
    apply_option,
    as_bool,
    as_names,
    as_str,
    merge_options,
    type_name,
)
from orchestrator.playbook.model import Block, Role, Task, TaskOptions
from orchestrator.playbook.session import MISSING, Scope, Session, where

if TYPE_CHECKING:
    from orchestrator.playbook.tasks import Action

_TASKS_ARGS = ("file", "apply")
_ROLE_ARGS = (
    "name", "role", "tasks_from", "vars_from", "handlers_from", "defaults_from", "apply", "public",
    "allow_duplicates", "rolespec_validate",
)  # fmt: skip
_FROM_ARGS = ("tasks_from", "vars_from", "handlers_from", "defaults_from")


# --- where a task file is -----------------------------------------------------------------------


def task_file_candidates(
    target: str,
    *,
    current: str,
    basedir: str,
    role: Role | None = None,
    parents: tuple[str, ...] = (),
    handlers: bool = False,
) -> list[str]:
    """Paths tried for an import/include, in order, as Ansible does: next to the file holding
    the import, next to the files that imported that one, the role's tasks/ (handlers/) dir,
    then the playbook dir."""
    target = os.path.expanduser(target)
    if os.path.isabs(target):
        return [target]
    dirs = [os.path.dirname(current), *(os.path.dirname(p) for p in reversed(parents))]
    if role is not None:
        dirs += [os.path.join(role.path, "handlers" if handlers else "tasks"), role.path]
    dirs.append(basedir)
    out: list[str] = []
    for d in dirs:
        path = os.path.normpath(os.path.join(d, target))
        if path not in out:
            out.append(path)
    return out


def resolve_task_file(
    target: str,
    *,
    current: str,
    basedir: str,
    role: Role | None = None,
    parents: tuple[str, ...] = (),
    handlers: bool = False,
) -> str | None:
    """The first existing candidate (see task_file_candidates), or None."""
    candidates = task_file_candidates(
        target, current=current, basedir=basedir, role=role, parents=parents, handlers=handlers
    )
    return next((p for p in candidates if os.path.isfile(p)), None)


def _not_found(s: Session, short: str, target: str, scope: Scope, loc: SourceLocation | None) -> None:
    tried = task_file_candidates(
        target, current=scope.path, basedir=scope.basedir, role=scope.role, parents=scope.parents,
        handlers=scope.handlers,
    )  # fmt: skip
    s.error(f"{short}: file not found: {target!r} (looked in: {', '.join(tried)})", loc)


# --- argument checks ----------------------------------------------------------------------------


def _check_arg_names(s: Session, action: Action, args: Mapping[str, Any], valid: tuple[str, ...]) -> bool:
    ok = True
    for key in args:
        if key not in valid:
            s.error(
                f"{action.short}: unsupported parameter '{key}'{did_you_mean(str(key), valid)}",
                where(key, action.location),
            )
            ok = False
    return ok


def _parse_apply(s: Session, action: Action, args: dict[str, Any]) -> bool:
    """`apply:` (include_* only) becomes TaskOptions in args['apply'] for the executor."""
    if "apply" not in args:
        return True
    value = args["apply"]
    if action.short.startswith("import_"):
        s.error(
            f"{action.short}: 'apply' is only valid for include_tasks/include_role",
            where(value, action.location),
        )
        return False
    if not isinstance(value, dict):
        s.error(
            f"{action.short}: 'apply' must be a mapping of keywords, got {type_name(value)}", where(value)
        )
        return False
    allowed = frozenset(k for k in BLOCK_KEYWORDS if k in OPTION_KEYWORDS)
    options, _, _ = tasks.parse_block_options(s, value, allowed=allowed, node="apply")
    args["apply"] = options
    return True


def _tasks_file_arg(s: Session, action: Action, args: dict[str, Any]) -> str | None:
    if not _check_arg_names(s, action, args, _TASKS_ARGS) or not _parse_apply(s, action, args):
        return None
    target = args.get("file")
    if not target or not isinstance(target, str):
        s.error(f"{action.short}: no file given (as in '{action.short}: tasks.yml')", action.location)
        return None
    return target


def _role_args(s: Session, action: Action, args: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(role name, {'tasks': tasks_from, ...}) from include_role/import_role arguments."""
    if not _check_arg_names(s, action, args, _ROLE_ARGS) or not _parse_apply(s, action, args):
        return None
    name = args.get("name", args.get("role"))
    if not name or not isinstance(name, str):
        s.error(f"{action.short}: 'name' is required (the role to run)", action.location)
        return None
    from_files: dict[str, str] = {}
    for key in _FROM_ARGS:
        if key in args:
            if not isinstance(args[key], str):
                s.error(f"{action.short}: '{key}' must be a string", where(args[key], key, action.location))
                return None
            from_files[key.removesuffix("_from")] = args[key]
    for key in ("public", "allow_duplicates", "rolespec_validate"):
        if key in args:
            with s.keyword(key, args[key]):
                args[key] = as_bool(key, args[key])
    return name, from_files


# --- static imports -----------------------------------------------------------------------------


def _import_keywords(
    s: Session, ds: Mapping[Any, Any], action: Action, scope: Scope
) -> tuple[TaskOptions, str | None, list[str]]:
    """An import's own keywords become those of the Block that replaces it."""
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    options = TaskOptions()
    name: str | None = None
    notify: list[str] = []
    dynamic = action.short.replace("import_", "include_")
    for key, value in ds.items():
        text = str(key)
        if (
            key == action.key
            or key in ("args", "action")
            or (key not in allowed and not text.startswith("with_"))
        ):
            continue
        if text == "loop" or text.startswith("with_"):
            s.error(f"{action.short} cannot loop (it is resolved at load time); use {dynamic}", where(key))
            continue
        if key in IMPORT_INERT_KEYWORDS or key in ("loop_control", "listen"):
            s.warn(f"'{key}' has no effect on {action.short} (ignored)", where(key))
            continue
        if value is None:
            continue
        with s.keyword(key, value):
            if key == "name":
                name = as_str(key, value)
            elif key == "notify":
                notify = as_names(key, value)
            else:
                apply_option(options, key, value)
        if key == "when":
            tasks.check_conditions(s, key, value)
    if action.local:
        options.delegate_to = "localhost"
    return options, name, notify


def load_import(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> list[Task | Block]:
    options, name, notify = _import_keywords(s, ds, action, scope)
    if action.short == "import_tasks":
        items = _import_tasks(s, action, args, scope, options)
    else:
        items = _import_role(s, action, args, scope, options)
    if items is None:
        return []
    block = Block(block=items, name=name, location=where(ds), options=options, role=scope.role)
    if notify:
        tasks.push_notify([block], notify)
    return [block]


def _cycle(path: str, scope: Scope) -> str | None:
    chain = [*scope.parents, scope.path]
    real = os.path.realpath(path)
    if real in map(os.path.realpath, chain):
        return " -> ".join([*chain, path])
    return None


def _import_tasks(
    s: Session, action: Action, args: dict[str, Any], scope: Scope, options: TaskOptions
) -> list[Task | Block] | None:
    target = _tasks_file_arg(s, action, args)
    if target is None:
        return None
    rendered = s.render_static(target, scope, action.short, where(target, action.location))
    if rendered is None:
        return None
    loc = where(target, action.location)
    path = resolve_task_file(
        rendered, current=scope.path, basedir=scope.basedir, role=scope.role, parents=scope.parents,
        handlers=scope.handlers,
    )  # fmt: skip
    if path is None:
        _not_found(s, action.short, rendered, scope, loc)
        return None
    cycle = _cycle(path, scope)
    if cycle:
        s.error(f"{action.short}: import cycle: {cycle}", loc)
        return None
    data = s.read_yaml(path)
    if data is MISSING:
        return None
    if not data:
        s.warn(f"{action.short}: {path} is empty, nothing to import", loc)
        return []
    inner = scope.child(
        path=path,
        parents=(*scope.parents, scope.path),
        module_defaults={**scope.module_defaults, **options.module_defaults},
    )
    return tasks.load_task_list(s, data, inner, what=f"the tasks file {path}", at=SourceLocation(path))


def _import_role(
    s: Session, action: Action, args: dict[str, Any], scope: Scope, options: TaskOptions
) -> list[Task | Block] | None:
    if scope.handlers:
        s.error("import_role cannot be used as a handler", action.location)
        return None
    parsed = _role_args(s, action, args)
    if parsed is None:
        return None
    raw_name, from_files = parsed
    name = s.render_static(raw_name, scope, action.short, where(raw_name, action.location))
    if name is None:
        return None
    # the import's vars are the role's parameters, as for a `roles:` entry
    params, options.vars = options.vars, {}
    role = roles.load_role(
        s, name, scope.child(module_defaults={**scope.module_defaults, **options.module_defaults}),
        location=action.location, params=params, from_files=from_files,
        allow_duplicates=bool(args.get("allow_duplicates", False)),
    )  # fmt: skip
    if role is None:
        return None
    if scope.play is not None:
        key = (role.path, repr(params), repr(from_files))
        if key not in scope.play.handler_roles:  # the same role imported twice: its handlers once
            scope.play.handler_roles.add(key)
            scope.play.import_handlers.extend(
                dataclasses.replace(h, options=merge_options(options, h.options))
                for h in roles.role_handlers(role)
            )
    return roles.role_task_tree(role)


# --- dynamic includes ---------------------------------------------------------------------------


def _check_include_keywords(s: Session, ds: Mapping[Any, Any], action: Action, scope: Scope) -> None:
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    for key in ds:
        text = str(key)
        if key == action.key or key not in allowed or key in INCLUDE_KEYWORDS or text.startswith("with_"):
            continue
        if scope.handlers and key == "listen":
            continue
        s.error(
            f"'{key}' cannot be set on {action.short}; put it under 'apply:' to set it on the included tasks",
            where(key),
        )


def load_include(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> Task | None:
    """include_tasks / include_role stay Tasks. As in Ansible, their target is loaded (and
    checked) only when the include runs: a task in an include that never runs never matters."""
    _check_include_keywords(s, ds, action, scope)
    if action.short == "include_tasks":
        target = _tasks_file_arg(s, action, args)
        if target is None:
            return None
        return tasks.build_task(s, ds, action, args, scope)
    if scope.handlers:
        s.error("include_role cannot be used as a handler", action.location)
        return None
    parsed = _role_args(s, action, args)
    if parsed is None:
        return None
    return tasks.build_task(s, ds, action, args, scope)
