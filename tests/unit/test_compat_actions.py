"""Actions real roles use (issue 15): whatever the loader accepts is carried out at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.executor.play_runner import RUN_HANDLERS
from orchestrator.modules.base import Module, get_module, module_names
from orchestrator.playbook.actions import LANGUAGE_ACTIONS, check_handlers, names_in
from orchestrator.playbook.loader import load_playbook
from orchestrator.playbook.model import Task
from orchestrator.playbook.tasktree import LOAD_HANDLERS


def test_every_loadable_action_is_carried_out() -> None:
    """Never an unimplemented run() at run time: every registered name is a real module, and
    every action of the language has its loader handler and, if it acts at run time, its
    executor handler (one table: playbook/actions.py)."""
    for name in module_names():
        cls = get_module(name)
        assert cls is not None
        assert cls.run is not Module.run, name
        assert name.rpartition(".")[2] not in LANGUAGE_ACTIONS, name  # not both a module and an action
    assert set(RUN_HANDLERS) == names_in("run")
    assert names_in("run") <= set(LOAD_HANDLERS) <= set(LANGUAGE_ACTIONS)


def test_an_action_without_a_handler_is_refused_at_import() -> None:
    with pytest.raises(RuntimeError, match=r"without a handler: \['include_role'\]"):
        check_handlers(("run",), {"include_tasks": 1, "meta": 1}, "test")


def test_include_vars_add_host_group_by_load(tmp_path: Path) -> None:
    tasks = (
        "include_vars: vars.yml",
        "include_vars: {dir: vars, files_matching: '^a', name: ns}",
        "add_host: {name: new, groups: [web], answer: 42}",
        "group_by: {key: 'os_{{ x }}', parents: [all]}",
    )
    (tmp_path / "site.yml").write_text("- hosts: all\n  tasks:\n" + "".join(f"    - {t}\n" for t in tasks))
    loaded = load_playbook(str(tmp_path / "site.yml")).plays[0].tasks
    assert [t.action for t in loaded if isinstance(t, Task)] == ["include_vars"] * 2 + ["add_host", "group_by"]
