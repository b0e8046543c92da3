"""Playbook-language behaviour on real lab hosts that the differential suite cannot show
(orch-only options and messages): --start-at-task, --step, vars_prompt without a terminal,
import_playbook `when`, throttle, the YAML 1.1 warning, undefined-variable errors, explain."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import LabSession

Run = Callable[..., CompletedProcess[str]]


def _playbook(tmp_path: Path, text: str, name: str = "site.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _play(
    run_orch: Run, lab: LabSession, playbook: Path, *args: str, input: str | None = None
) -> CompletedProcess[str]:
    return run_orch(
        "play", str(playbook), "-i", str(lab.inventory_path), "-l", "h1,h2", *args, input=input,
        cwd=playbook.parent,
    )  # fmt: skip


def _exists(lab: LabSession, host: str, path: str) -> bool:
    return lab.ssh(host, f"test -e {path}").returncode == 0


FILES = """
- hosts: all
  gather_facts: true
  tasks:
    - name: first file
      file: {path: /srv/lang-a, state: touch}
    - name: second file
      file: {path: /srv/lang-b, state: touch}
    - name: third file
      file: {path: /srv/lang-c, state: touch}
"""


def test_start_at_task_skips_everything_before_the_match(
    fresh_lab: LabSession, run_orch: Run, tmp_path: Path
) -> None:
    proc = _play(run_orch, fresh_lab, _playbook(tmp_path, FILES), "--start-at-task", "sec*")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Gathering Facts" not in proc.stdout and "first file" not in proc.stdout
    for host in ("h1", "h2"):
        assert not _exists(fresh_lab, host, "/srv/lang-a")
        assert _exists(fresh_lab, host, "/srv/lang-b") and _exists(fresh_lab, host, "/srv/lang-c")
    assert "ok=2 " in proc.stdout and "changed=2 " in proc.stdout


def test_step_asks_before_each_task(fresh_lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    playbook = _playbook(tmp_path, FILES.replace("gather_facts: true", "gather_facts: false"))
    proc = _play(run_orch, fresh_lab, playbook, "--step", input="n\nc\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Perform task: TASK: ") == 2  # "c" stops the questions
    assert "Perform task: TASK: first file (N)o/(y)es/(c)ontinue: " in proc.stdout
    assert not _exists(fresh_lab, "h1", "/srv/lang-a")
    assert _exists(fresh_lab, "h1", "/srv/lang-b") and _exists(fresh_lab, "h2", "/srv/lang-c")


def test_vars_prompt_without_a_terminal(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    playbook = _playbook(
        tmp_path,
        """
        - hosts: all
          gather_facts: false
          vars_prompt:
            - name: release
              prompt: Which release?
              default: r1
              private: false
          tasks:
            - assert: {that: "release == 'r1'"}
        """,
    )
    proc = _play(run_orch, lab, playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    needs = _playbook(tmp_path, "- hosts: all\n  vars_prompt:\n    - name: token\n  tasks: []\n", "needs.yml")
    proc = _play(run_orch, lab, needs)
    assert proc.returncode == 3
    assert "vars_prompt 'token' has no default" in proc.stderr and "-e token=" in proc.stderr
    assert _play(run_orch, lab, needs, "-e", "token=x").returncode == 0


def test_import_playbook_when_gates_every_task(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    _playbook(tmp_path, "- hosts: all\n  tasks:\n    - debug: {msg: inner}\n", "inner.yml")
    top = _playbook(
        tmp_path,
        """
        - import_playbook: inner.yml
          when: inventory_hostname == 'h2'
        """,
    )
    proc = _play(run_orch, lab, top)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("h")}
    assert "ok=0 " in recap["h1"] and "skipped=2" in recap["h1"]  # facts and the task
    assert "ok=2 " in recap["h2"]


def test_throttle_runs_one_host_at_a_time(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    # Each host takes a lock directory on the controller for a moment: with two at once, mkdir fails.
    lock = tmp_path / "lock"
    playbook = _playbook(
        tmp_path,
        f"""
        - hosts: all
          gather_facts: false
          tasks:
            - name: one at a time
              shell: mkdir {lock} && sleep 0.5 && rmdir {lock}
              delegate_to: localhost
              throttle: 1
        """,
    )
    proc = run_orch("play", str(playbook), "-i", str(lab.inventory_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("changed: [h") == len(lab.hosts)


def test_yaml11_warning_and_undefined_variable_error(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    playbook = _playbook(
        tmp_path,
        """
        - hosts: all
          gather_facts: false
          tasks:
            - name: a YAML 1.1 boolean where text was meant
              copy: {dest: /tmp/yaml11, content: yes}
            - name: uses an undefined variable
              copy: {dest: "/tmp/{{ no_such_var }}", content: x}
        """,
    )
    proc = _play(run_orch, lab, playbook)
    assert proc.returncode == 2
    assert "[WARNING]" in proc.stdout + proc.stderr and "yes" in proc.stdout + proc.stderr
    failure = next(line for line in proc.stdout.splitlines() if line.startswith("fatal: [h1]"))
    assert "'no_such_var' is undefined" in failure
    assert "/tmp/{{ no_such_var }}" in failure
    assert f"{playbook}:" in failure or "uses an undefined variable" in proc.stdout


def test_explain_names_the_layer(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("app_port: 8080\n")
    playbook = _playbook(
        tmp_path, "- hosts: all\n  vars: {app_port: 80}\n  vars_files: [vars.yml]\n  tasks: []\n"
    )
    proc = run_orch("explain", "app_port", "--host", "h1", "-i", str(lab.inventory_path), str(playbook))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "app_port = 8080"
    assert "from the play layer: vars_files" in proc.stdout and "vars.yml" in proc.stdout
    assert "play: vars of play 'all'" in proc.stdout and "= 80" in proc.stdout
    proc = run_orch(
        "explain",
        "app_port",
        "--host",
        "h1",
        "-i",
        str(lab.inventory_path),
        str(playbook),
        "-e",
        "app_port=1",
    )
    assert 'app_port = "1"' in proc.stdout and "extra vars" in proc.stdout
    missing = run_orch("explain", "nothing_here", "--host", "h1", "-i", str(lab.inventory_path))
    assert missing.returncode == 1 and "not defined for h1" in missing.stdout


@pytest.mark.parametrize("answer", ["y"])
def test_step_yes_runs_the_task(lab: LabSession, run_orch: Run, tmp_path: Path, answer: str) -> None:
    playbook = _playbook(tmp_path, "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
    proc = _play(run_orch, lab, playbook, "--step", input=f"{answer}\n")
    assert proc.returncode == 0 and "ok: [h1]" in proc.stdout


def test_ignore_unreachable_and_timeout(lab: LabSession, run_orch: Run, tmp_path: Path) -> None:
    playbook = _playbook(
        tmp_path,
        """
        - hosts: all
          gather_facts: false
          tasks:
            - name: tolerated
              ping:
              ignore_unreachable: true
            - name: not tolerated
              ping:
            - name: too slow
              command: sleep 30
              timeout: 1
              ignore_errors: true
        """,
    )
    lab.kill("h2")
    proc = _play(run_orch, lab, playbook)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    recap = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("h")}
    assert "skipped=1" in recap["h2"] and "unreachable=1" in recap["h2"]
    assert "ok=3 " in recap["h1"] and "ignored=1" in recap["h1"]
    assert "timed out" in proc.stdout
