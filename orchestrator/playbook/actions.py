"""The playbook language's own actions: keywords that look like modules but are not.

One table. Each action is carried out either by the loader (`load`: import_* are replaced by
what they import) or by the executor (`run`: include_* and meta act on the running play). The
loader holds the handler of every `load` action (tasktree.LOAD_HANDLERS) and the executor the
handler of every `run` action (executor/play_runner.RUN_HANDLERS); both check at import time
that they cover this table exactly, so a name here without a handler cannot load, let alone run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestrator.playbook.taskargs import RAW_PARAMS, short_action

# "load": the loader expands it; "run": the executor carries it out when the task runs
Phase = Literal["load", "run"]


@dataclass(frozen=True)
class LanguageAction:
    name: str
    phase: Phase
    free_form: str | None = None  # the parameter `include_tasks: file.yml` fills


LANGUAGE_ACTIONS: dict[str, LanguageAction] = {
    a.name: a
    for a in (
        LanguageAction("import_playbook", "load"),
        LanguageAction("import_tasks", "load", free_form="file"),
        LanguageAction("import_role", "load"),
        # Removed from Ansible 2.16; still recognised, so the loader can say what to use instead.
        LanguageAction("include", "load"),
        LanguageAction("include_tasks", "run", free_form="file"),
        LanguageAction("include_role", "run"),
        LanguageAction("meta", "run", free_form=RAW_PARAMS),
    )
}


def language_action(name: str) -> LanguageAction | None:
    """The language action a task key names (`meta`, `ansible.builtin.meta`, `ansible.legacy.meta`)."""
    return LANGUAGE_ACTIONS.get(short_action(name))


def names_in(*phases: Phase) -> frozenset[str]:
    return frozenset(name for name, action in LANGUAGE_ACTIONS.items() if action.phase in phases)


def check_handlers(phases: tuple[Phase, ...], handlers: Mapping[str, object], owner: str) -> None:
    """Fail at import time when `handlers` does not cover exactly the actions of `phases`."""
    have, want = frozenset(handlers), names_in(*phases)
    if have != want:
        raise RuntimeError(
            f"{owner}: actions without a handler: {sorted(want - have)}; "
            f"handlers for no such action: {sorted(have - want)}"
        )


def spelled_names() -> frozenset[str]:
    """Every spelling a task may use (for "did you mean" suggestions), as modules are listed."""
    return frozenset(
        spelled for name in LANGUAGE_ACTIONS if name != "include" for spelled in (name, f"ansible.builtin.{name}")
    )
