"""--list-tasks / --list-tags / --list-hosts print what ansible-playbook prints (no host is
contacted by either tool, so this runs without the lab)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.lab.testing import run_orch

CASES = Path(__file__).resolve().parents[1] / "differential" / "cases"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
PLAYBOOKS = ["lang_tags.yml", "lang_roles.yml", "lang_includes.yml"]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inv") / "hosts.yml"
    path.write_text("all:\n  children:\n    lab:\n      hosts:\n        h1: {}\n")
    return path


@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-playbook is a test dependency")
@pytest.mark.parametrize(
    "options",
    [
        ["--list-tasks"],
        ["--list-tags"],
        ["--list-tasks", "--list-tags", "--tags", "web,always", "--skip-tags", "skipme"],
        ["--list-tasks", "--tags", "never"],
        ["--list-tasks", "--tags", "tagged", "--skip-tags", "untagged"],
        ["--list-tasks", "--list-hosts", "--skip-tags", "all"],
    ],
    ids=lambda o: " ".join(o),
)
def test_listing_matches_ansible(options: list[str], inventory: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"), "ANSIBLE_NOCOLOR": "1"}
    (tmp_path / "none.cfg").write_text("[defaults]\n")
    args = [*options, "-i", str(inventory), *PLAYBOOKS]
    ansible = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *args], cwd=CASES, env=env, capture_output=True, text=True, timeout=300
    )
    orch = run_orch("play", *args, cwd=CASES)
    assert ansible.returncode == 0, ansible.stderr
    assert orch.returncode == 0, orch.stderr
    assert orch.stdout == ansible.stdout
