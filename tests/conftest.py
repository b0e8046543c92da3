"""Shared fixtures. Integration tests run against real lab hosts (see orchestrator/lab).

    lab        session: ORCH_TEST_HOSTS (default 4) hosts h1..hN; .hosts, .inventory_path,
               .key_path, .known_hosts_path, .ssh(i, cmd, user=...), .upper_dir(i), .kill/.revive/
               .reset(i), .reset_all(). Hosts a test killed are revived after it.
    fresh_lab  function: the same lab with every host reset to pristine first.
    run_orch   function: run_orch(*args, cwd=, input=, env=) -> CompletedProcess of `python -m
               orchestrator.cli ARGS` (also importable: from orchestrator.lab.testing import run_orch).

Tests using the lab are marked `lab` automatically (`pytest -m "not lab"` skips them); without
root on Linux they are skipped with the reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import LabSession, lab_unavailable_reason, open_lab_session
from orchestrator.lab.testing import run_orch as _run_orch

_LAB_FIXTURES = {"lab", "fresh_lab"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"lab tests need root on Linux with the lab tools: {reason}")
    count = int(os.environ.get("ORCH_TEST_HOSTS", "4"))
    session = open_lab_session(
        count,
        tmp_path_factory.mktemp("lab"),
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def fresh_lab(lab: LabSession) -> LabSession:
    lab.reset_all()
    return lab


@pytest.fixture(autouse=True)
def _lab_hosts_back_up(request: pytest.FixtureRequest) -> Iterator[None]:
    # A test that kills a host must not leave the shared lab broken for the next one.
    session = request.getfixturevalue("lab") if "lab" in request.fixturenames else None
    yield
    if session is not None:
        session.ensure_running()


@pytest.fixture
def run_orch() -> Callable[..., CompletedProcess[str]]:
    return _run_orch
