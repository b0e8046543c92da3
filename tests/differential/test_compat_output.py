"""Output lines people parse must read as ansible-playbook's (issue 15): TASK headers with
templated names, and `ok: [h1 -> h2]` for delegated tasks. Also a differential case (exit codes,
recaps, host state) like those in cases/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from differential_harness import CASES_DIR, run_case

from orchestrator.lab.testing import LabSession

pytestmark = pytest.mark.lab

PLAYBOOK = CASES_DIR / "output" / "compat_output.yml"
PARSED = re.compile(r"^(TASK \[.*\]|\w+: \[[^\]]+\])")


def parsed_lines(output: str) -> list[str]:
    """TASK headers and `status: [host...]` lines, in order; hosts sorted within a task (both
    tools run hosts in parallel)."""
    out: list[str] = []
    block: list[str] = []
    for line in output.splitlines():
        match = PARSED.match(line.rstrip())
        if not match:
            continue
        text = match.group(1)
        if text.startswith("TASK ["):
            out += sorted(block)
            block = []
            out.append(text)
        else:
            block.append(text)
    return out + sorted(block)


def test_headers_and_delegation(fleets: tuple[LabSession, LabSession], ansible_scratch: Path) -> None:
    ansible_lab, orch_lab = fleets
    outcome = run_case(PLAYBOOK, ansible_lab, orch_lab, ansible_scratch)
    assert not outcome.differences(), outcome.report()
    ansible_lines = parsed_lines(outcome.ansible[0].output.replace(f"{ansible_lab.net}.", "<net>."))
    orch_lines = parsed_lines(outcome.orch[0].output.replace(f"{orch_lab.net}.", "<net>."))
    assert "TASK [write /srv/compat-out.txt with 2 items]" in ansible_lines
    assert "TASK [a name with a host variable h1 (the first host's)]" in ansible_lines
    assert any(line.startswith("ok: [h1 -> h2(") for line in ansible_lines), ansible_lines
    assert orch_lines == ansible_lines
