"""Roles: finding them (Ansible's search order and file names) and their task and handler trees.

Loading a role's content (vars, dependencies, tasks, handlers) is part of the task tree's
recursive descent: tasktree.py."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from orchestrator.playbook.keywords import (
    merge_options,
)
from orchestrator.playbook.model import Block, Role, Task, TaskOptions

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
