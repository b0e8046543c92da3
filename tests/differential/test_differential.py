"""Every playbook in cases/ must leave the same hosts, recaps and exit codes under orch as under
ansible-playbook (see differential_harness.py for the rules and the sidecar options)."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential_harness import list_cases, run_case

from orchestrator.lab.testing import LabSession

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("playbook", list_cases(), ids=lambda p: p.stem)
def test_case(playbook: Path, fleets: tuple[LabSession, LabSession], ansible_scratch: Path) -> None:
    ansible_lab, orch_lab = fleets
    outcome = run_case(playbook, ansible_lab, orch_lab, ansible_scratch)
    problems = outcome.differences()
    assert not problems, outcome.report()
