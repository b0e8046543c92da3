"""Fixtures for the differential suite: two fresh 2-host fleets per session, one for each tool.

Each fleet is its own lab slot (see orchestrator/lab/testing.py), so the two tools never share a
host and other test sessions on the machine are not disturbed. Hosts are h1 and h2 in both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from differential_harness import ANSIBLE_PLAYBOOK

from orchestrator.lab.testing import LabSession, lab_unavailable_reason, open_lab_session

FLEET_SIZE = 2


@pytest.fixture(scope="session")
def fleets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabSession, LabSession]]:
    """(ansible fleet, orch fleet)."""
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"differential tests need the lab: {reason}")
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip(f"differential tests need ansible-playbook next to {sys.executable}")
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    ansible_lab = open_lab_session(FLEET_SIZE, tmp_path_factory.mktemp("ansible-fleet"), progress=progress)
    try:
        orch_lab = open_lab_session(FLEET_SIZE, tmp_path_factory.mktemp("orch-fleet"), progress=progress)
        try:
            yield ansible_lab, orch_lab
        finally:
            orch_lab.close()
    finally:
        ansible_lab.close()


@pytest.fixture(scope="session")
def ansible_scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible-scratch")
