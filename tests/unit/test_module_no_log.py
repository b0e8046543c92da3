"""A module parameter declared no_log (Param(no_log=True)) is a secret everywhere it shows up,
whatever the variable that carried it is called. Runs on the local connection."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.lab.testing import run_orch

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars:
    plain_value: Zq8-not-a-name-that-looks-secret
  tasks:
    - name: the value goes to a no_log parameter
      uri: {url: "http://127.0.0.1:9/", url_username: u, url_password: "{{ plain_value }}", status_code: [-1]}
    - name: and is then printed
      debug: {msg: "the value is {{ plain_value }}"}
"""


def test_no_log_parameters_are_registered_as_secrets(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    args = ("play", str(tmp_path / "p.yml"), "-i", "localhost,", "-e", "ansible_connection=local")
    proc = run_orch(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the value is ********" in proc.stdout
    assert "Zq8-not-a-name" not in proc.stdout + proc.stderr
    run_orch(*args, "--json", str(tmp_path / "run.json"), cwd=tmp_path)
    report = (tmp_path / "run.json").read_text()
    assert "Zq8-not-a-name" not in report
    assert "the value is ********" in json.dumps(json.loads(report))
