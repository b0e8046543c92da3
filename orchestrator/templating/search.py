"""Where a relative file name is looked up on the controller, as Ansible does it.

A task's search path (Ansible's `ansible_search_path`) is its role's directory, then the directory
of the file holding the task, then the playbook directory. Each entry is tried with the kind's
subdirectory first (`files/`, `templates/`, `vars/`), then bare; the playbook directory closes the
list. copy/template `src`, include_vars, and the file, template, first_found and fileglob lookups
all resolve through here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def search_path(role_path: str | None, task_path: str | None, basedir: str) -> list[str]:
    """The directories a task searches, in order (Ansible's Task.get_search_path + basedir)."""
    paths: list[str] = []
    candidates = [role_path, os.path.dirname(os.path.abspath(task_path)) if task_path else None, basedir]
    for path in candidates:
        if path and os.path.abspath(path) not in paths:
            paths.append(os.path.abspath(path))
    return paths


def candidates(paths: Iterable[str], subdir: str | None, name: str) -> list[str]:
    """Every place `name` is looked for, in order (Ansible's path_dwim_relative_stack)."""
    name = os.path.expanduser(name)
    if os.path.isabs(name):
        return [name]
    out: list[str] = []
    for path in paths:
        for candidate in ((os.path.join(path, subdir, name),) if subdir else ()) + (os.path.join(path, name),):
            if candidate not in out:
                out.append(candidate)
    return out


def find_in_search_path(paths: Iterable[str], subdir: str | None, name: str) -> str | None:
    """The first existing candidate, or None."""
    return next((p for p in candidates(paths, subdir, name) if os.path.exists(p)), None)
