"""Fixtures for the integration tests. hosts/play: the shared lab for the module tests
(test_modules_*), reset once per test module, and a runner for a task list on one host. operator_fleet: one 3-host lab fleet shared by the operator
playbook tests (tests/integration/test_operator_*). apps_fleet: one 2-host fleet shared by the
runbook app examples (tests/integration/test_app_examples.py): each example gets an inventory
directory of its own (its group_vars plus the fleet's hosts.yml) on the same hosts; Docker is
installed once, by the first compose example's bootstrap.

Session-scoped: the acceptance scenario bootstraps it (Docker included), the Docker module tests
then reuse its third host instead of installing Docker on a fleet of their own. Its own lab slot,
so nothing else disturbs it. The inventory directory mirrors inventories/lab: the repo's
group_vars plus the hosts.yml the lab writes.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.lab.testing import REPO_ROOT, LabSession, lab_unavailable_reason, open_lab_session, run_orch


@pytest.fixture(scope="session")
def operator_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabSession, Path]]:
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    if shutil.which("cc") is None:
        pytest.skip("the demo app image is compiled on the controller: needs cc (gcc + libc6-dev)")
    inventory = tmp_path_factory.mktemp("operator") / "inventories" / "lab"
    shutil.copytree(REPO_ROOT / "inventories" / "lab" / "group_vars", inventory / "group_vars")
    session = open_lab_session(3, inventory)
    try:
        yield session, inventory
    finally:
        session.close()


@pytest.fixture(scope="session")
def apps_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabSession, Path]]:
    """A 2-host lab and a directory for the examples' inventories (the lab's hosts.yml in fleet/)."""
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    base = tmp_path_factory.mktemp("apps")
    session = open_lab_session(2, base / "fleet")
    try:
        yield session, base
    finally:
        session.close()


@pytest.fixture(scope="session")
def operator_docker(operator_fleet: tuple[LabSession, Path]) -> tuple[LabSession, Path]:
    """operator_fleet with Docker running on h3 (playbooks/docker.yml: a no-op after the acceptance
    scenario's bootstrap): the one Docker host of the Docker module and lab image tests."""
    lab, inventory = operator_fleet
    setup = run_orch(
        "play", str(REPO_ROOT / "playbooks" / "docker.yml"), "-i", str(inventory), "--limit", "h3", timeout=900
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return lab, inventory


@pytest.fixture(scope="module")
def hosts(lab: LabSession) -> Iterator[LabSession]:
    """The shared lab, with the hosts this module uses reset to pristine once."""
    lab.reset_all()
    yield lab
    lab.reset_all()


@pytest.fixture
def play(
    hosts: LabSession, run_orch: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        host: str, tasks: str, *args: str, gather: bool = False, extra: str = ""
    ) -> subprocess.CompletedProcess[str]:
        body = textwrap.indent(textwrap.dedent(tasks).strip("\n"), "    ")
        text = f"- hosts: {host}\n  gather_facts: {str(gather).lower()}\n{extra}  tasks:\n{body}\n"
        path = tmp_path / f"play{len(list(tmp_path.glob('play*.yml')))}.yml"
        path.write_text(text)
        return run_orch("play", str(path), "-i", str(hosts.inventory_path), *args)

    return run
