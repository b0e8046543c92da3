"""Actions real roles use (issue 15): whatever the loader accepts is carried out at run time."""

from __future__ import annotations

from pathlib import Path

from orchestrator.executor.play_runner import INCLUDE_ACTIONS
from orchestrator.modules.base import Module, get_module, module_names
from orchestrator.modules.library.logic import ExecutorAction
from orchestrator.playbook.loader import load_playbook
from orchestrator.playbook.model import Task


def test_every_loadable_action_is_carried_out() -> None:
    """Never an unimplemented run() at run time: every registered name is a real module or an
    action the loader/executor handles itself."""
    handled = {"meta", "import_tasks", "import_role", "import_playbook", *INCLUDE_ACTIONS}
    for name in module_names():
        cls = get_module(name)
        assert cls is not None
        if issubclass(cls, ExecutorAction):
            assert cls.name in handled, name
        else:
            assert cls.run is not Module.run, name


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
