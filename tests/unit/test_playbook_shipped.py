"""The playbooks shipped with orch load cleanly against the real module library."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.playbook.loader import iter_tasks, load_playbook

SHIPPED = Path(__file__).resolve().parents[2] / "playbooks"
PLAYBOOKS = sorted(p for p in SHIPPED.glob("*.yml")) if SHIPPED.is_dir() else []


@pytest.mark.skipif(not PLAYBOOKS, reason="no shipped playbooks")
@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_shipped_playbook_loads(path: Path) -> None:
    playbook = load_playbook(str(path))
    assert playbook.plays
    assert all(task.action for play in playbook.plays for task in iter_tasks(play))
    assert playbook.warnings == []
