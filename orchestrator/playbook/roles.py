"""Roles: finding them (Ansible's search order and file names) and loading them with their
defaults, vars, dependencies (meta/main.yml), tasks and handlers."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import SourceLocation
from orchestrator.playbook import tasks
from orchestrator.playbook.keywords import (
    OPTION_KEYWORDS,
    ROLE_KEYWORDS,
    apply_option,
    as_bool,
    merge_options,
    type_name,
)
from orchestrator.playbook.model import Block, Role, Task, TaskOptions
from orchestrator.playbook.session import MISSING, Scope, Session, where

_EXTENSIONS = (".yml", ".yaml", ".json")


def configured_roles_path() -> list[str]:
    """ORCH_ROLES_PATH (colon-separated), then roles_path: ANSIBLE_ROLES_PATH, ansible.cfg, else
    Ansible's default (~/.ansible/roles, /usr/share/ansible/roles, /etc/ansible/roles)."""
    from orchestrator import config

    own = os.environ.get("ORCH_ROLES_PATH")
    cfg = config.active()
    if own is not None and cfg.source("roles_path") == "default":
        return [os.path.expanduser(p) for p in own.split(os.pathsep) if p]  # replaces the default
    paths = [os.path.expanduser(p) for p in (own or "").split(os.pathsep) if p]
    return paths + list(cfg.get("roles_path"))


def role_search_paths(basedir: str, parent_role_path: str | None = None) -> list[str]:
    """Where a role name is looked up, in Ansible's order.

    `<playbook dir>/roles`, the configured roles path, the directory holding the parent role
    (so a dependency can sit next to the role needing it), then the playbook dir itself.
    """
    paths = [os.path.join(basedir, "roles"), *configured_roles_path()]
    if parent_role_path:
        paths.append(os.path.dirname(parent_role_path))
    paths.append(basedir)
    out: list[str] = []
    for path in paths:
        path = os.path.normpath(path)
        if path not in out:
            out.append(path)
    return out


def find_role(name: str, search_paths: list[str]) -> tuple[str, str] | None:
    """(role name, role dir) of the first match, or None. A name may also be a path to the role."""
    for base in search_paths:
        candidate = os.path.normpath(os.path.join(base, name))
        if os.path.isdir(candidate):
            return name, candidate
    if os.path.isdir(name):  # absolute, or relative to the working directory (Ansible does the same)
        path = os.path.abspath(name)
        return os.path.basename(path), path
    return None


def _candidates(role_path: str, subdir: str, main: str | None) -> list[str]:
    base = os.path.join(role_path, subdir)
    if main is None:
        return [os.path.join(base, "main" + ext) for ext in (*_EXTENSIONS, "")]
    return [os.path.join(base, main + ext) for ext in ("", *_EXTENSIONS)]


def find_role_file(role_path: str, subdir: str, main: str | None = None) -> str | None:
    """tasks/main.yml (|.yaml|.json|main) or `<subdir>/<main>[.yml|.yaml|.json]` for *_from."""
    for path in _candidates(role_path, subdir, main):
        if os.path.isfile(path):
            return path
    return None


def describe_candidates(role_path: str, subdir: str, main: str | None) -> str:
    return ", ".join(os.path.relpath(p, role_path) for p in _candidates(role_path, subdir, main))


def find_role_vars_files(role_path: str, subdir: str, main: str | None = None) -> list[str] | None:
    """defaults/ and vars/: one file, or every YAML file under a `main/` directory (sorted).

    None when nothing matches.
    """
    for path in _candidates(role_path, subdir, main):
        if os.path.isfile(path):
            return [path]
        if os.path.isdir(path):
            return _dir_vars_files(path)
    return None


def _dir_vars_files(path: str) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            os.path.join(root, f)
            for f in sorted(files)
            if not f.startswith(".") and os.path.splitext(f)[1] in (*_EXTENSIONS, "")
        )
    return found


# --- loading a role -----------------------------------------------------------------------------


def role_key(
    path: str, params: Mapping[str, Any], options: TaskOptions, from_files: Mapping[str, str]
) -> str:
    """What makes two uses of a role "the same" for dedup (Ansible's Role hash): its path,
    parameters, when, tags, vars and *_from files."""
    data = [os.path.realpath(path), params, options.when, options.tags, options.vars, from_files]
    return json.dumps(data, sort_keys=True, default=repr)


def load_role(
    s: Session,
    name: str,
    scope: Scope,
    *,
    location: SourceLocation | None,
    params: Mapping[str, Any] | None = None,
    options: TaskOptions | None = None,
    from_files: Mapping[str, str] | None = None,
    dedup: bool = False,
    allow_duplicates: bool = False,
    search_paths: list[str] | None = None,
) -> Role | None:
    """Find and load a role with its dependencies. None on error (recorded) or, with `dedup`,
    when the play already runs this role with the same parameters."""
    params, options, from_files = dict(params or {}), options or TaskOptions(), dict(from_files or {})
    search = search_paths or role_search_paths(scope.basedir, scope.role.path if scope.role else None)
    found = find_role(name, search)
    if found is None:
        s.error(f"role '{name}' not found; searched: {', '.join(search)}", location)
        return None
    role_name, path = found
    real = os.path.realpath(path)
    if real in scope.role_chain:
        chain = [os.path.basename(p) for p in (*scope.role_chain, real)]
        s.error(f"role dependency cycle: {' -> '.join(chain)}", location)
        return None
    key = role_key(path, params, options, from_files)
    if dedup and scope.play is not None:
        seen = scope.play.roles_seen.get(key)
        if seen is not None and not seen.allow_duplicates:
            return None  # Ansible runs a role once per play unless its params differ
    role = Role(name=role_name, path=path, params=params, location=location, options=options)
    role.allow_duplicates = allow_duplicates
    _load_role_content(s, role, scope, from_files, dedup=dedup)
    if dedup and scope.play is not None:
        scope.play.roles_seen[key] = role
    return role


def _load_role_content(
    s: Session, role: Role, scope: Scope, from_files: Mapping[str, str], *, dedup: bool
) -> None:
    role.defaults = _load_role_vars(s, role, "defaults", from_files.get("defaults"))
    role.vars = _load_role_vars(s, role, "vars", from_files.get("vars"))
    inner = scope.child(
        role=role,
        role_chain=(*scope.role_chain, os.path.realpath(role.path)),
        parents=(),
        handlers=False,
        module_defaults={**scope.module_defaults, **role.options.module_defaults},
        # static import names inside the role may use its variables
        template_vars={**role.defaults, **scope.template_vars, **role.vars, **role.params},
    )
    _load_meta(s, role, inner, dedup=dedup)
    tasks_file = _role_file(s, role, "tasks", from_files.get("tasks"))
    if tasks_file is not None:
        data = s.read_yaml(tasks_file)
        if data is not MISSING:
            role.tasks = tasks.load_task_list(
                s,
                data,
                inner.child(path=tasks_file),
                what=f"the tasks file {tasks_file}",
                at=SourceLocation(tasks_file),
            )
    handlers_file = _role_file(s, role, "handlers", from_files.get("handlers"))
    if handlers_file is not None:
        data = s.read_yaml(handlers_file)
        if data is not MISSING:
            role.handlers = tasks.load_handler_list(
                s, data, inner.child(path=handlers_file), what=f"the handlers file {handlers_file}",
                at=SourceLocation(handlers_file),
            )  # fmt: skip


def _role_file(s: Session, role: Role, subdir: str, main: str | None) -> str | None:
    path = find_role_file(role.path, subdir, main)
    if path is None and main is not None:
        s.error(
            f"{subdir}_from: {main!r} not found in role '{role.name}' "
            f"(looked for {describe_candidates(role.path, subdir, main)})",
            role.location,
        )
    return path


def _load_role_vars(s: Session, role: Role, subdir: str, main: str | None) -> dict[str, Any]:
    files = find_role_vars_files(role.path, subdir, main)
    if files is None:
        if main is not None:
            s.error(f"{subdir}_from: {main!r} not found in role '{role.name}'", role.location)
        return {}
    out: dict[str, Any] = {}
    for path in files:
        data = s.read_yaml(path)
        if data is MISSING or data is None:
            continue
        if not isinstance(data, dict):
            s.error(f"{subdir} of role '{role.name}' must be a mapping of variables, got {type_name(data)}",
                    where(data, fallback=SourceLocation(path)))  # fmt: skip
            continue
        out.update(data)
    return out


_META_IGNORED = frozenset({"galaxy_info", "collections", "argument_specs"})


def _load_meta(s: Session, role: Role, scope: Scope, *, dedup: bool) -> None:
    """meta/main.yml: allow_duplicates and dependencies (loaded now, deduplicated like roles:)."""
    path = find_role_file(role.path, "meta")
    if path is None:
        return
    data = s.read_yaml(path)
    if data is MISSING or data is None:
        return
    if not isinstance(data, dict):
        s.error(f"meta of role '{role.name}' must be a mapping, got {type_name(data)}", where(data))
        return
    for key, value in data.items():
        if key == "allow_duplicates":
            with s.keyword(key, value):
                role.allow_duplicates = as_bool(key, value) is True
        elif key == "dependencies":
            role.dependencies = load_roles_list(
                s, value, scope.child(path=path), what="dependencies", dedup=dedup
            )
        elif key not in _META_IGNORED:
            s.warn(f"unknown key '{key}' in the meta of role '{role.name}' (ignored)", where(key))


def load_role_entry(s: Session, entry: Any, scope: Scope, *, dedup: bool) -> Role | None:
    """One `roles:` or `dependencies:` entry: a name, or a mapping with role:/name:, keywords
    (when, tags, become, vars...) and parameters (every other key)."""
    loc = where(entry, fallback=SourceLocation(scope.path))
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        entry = str(entry)  # a role named `1` is still a name
    params: dict[str, Any] = {}
    options = TaskOptions()
    if isinstance(entry, str):
        name: Any = entry
    elif isinstance(entry, dict):
        name = entry.get("role", entry.get("name"))
        if not isinstance(name, str) or not name:
            s.error("a role entry needs 'role:' naming the role", loc)
            return None
        for key, value in entry.items():
            if key in ("role", "name"):
                continue
            if key in ROLE_KEYWORDS and key in OPTION_KEYWORDS:
                if value is not None:
                    with s.keyword(key, value):
                        apply_option(options, key, value)
                    if key == "when":
                        tasks.check_conditions(s, key, value)
            else:
                params[key] = value  # Ansible: any other key is a role parameter
    else:
        s.error(f"a role entry must be a name or a mapping, got {type_name(entry)}", loc)
        return None
    rendered = s.render_static(name, scope, "role", where(name, loc))
    if rendered is None:
        return None
    return load_role(s, rendered, scope, location=loc, params=params, options=options, dedup=dedup)


def load_roles_list(s: Session, ds: Any, scope: Scope, *, what: str, dedup: bool) -> list[Role]:
    if ds is None:
        return []
    if not isinstance(ds, list):
        s.error(
            f"'{what}' must be a list of roles, got {type_name(ds)}",
            where(ds, fallback=SourceLocation(scope.path)),
        )
        return []
    out = []
    for entry in ds:
        role = load_role_entry(s, entry, scope, dedup=dedup)
        if role is not None:
            out.append(role)
    return out


# --- a role as a task tree (import_role) ----------------------------------------------------------


def role_task_tree(role: Role) -> list[Task | Block]:
    """Dependencies' tasks first (each in a Block carrying the dependency's keywords), then the
    role's own: Ansible's Role.compile()."""
    items: list[Task | Block] = [
        Block(block=role_task_tree(dep), name=None, location=dep.location, options=dep.options, role=dep)
        for dep in role.dependencies
    ]
    items.extend(role.tasks)
    return items


def role_handlers(role: Role, inherited: TaskOptions | None = None) -> list[Task]:
    """Handlers of a role and its dependencies (dependencies first), each a copy with the
    keywords of the role entries above it folded in."""
    options = merge_options(inherited, role.options) if inherited else role.options
    out: list[Task] = []
    for dep in role.dependencies:
        out.extend(role_handlers(dep, options))
    out.extend(dataclasses.replace(h, options=merge_options(options, h.options)) for h in role.handlers)
    return out
