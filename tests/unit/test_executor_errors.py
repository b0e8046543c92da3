"""Errors raised before a module runs (conditionals, loop lists, arguments) name the template,
the variable and the task's file:line, and obey ignore_errors. Runs on the local connection."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator.lab.testing import run_orch

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: when with undefined
      debug: {msg: hi}
      when: nope_var == 1
      ignore_errors: "{{ 1 == 1 }}"
    - name: loop with undefined
      debug: {msg: "{{ item }}"}
      loop: "{{ nope_list }}"
      ignore_errors: true
    - name: argument with undefined attribute
      debug: {msg: "{{ inventory_hostname.nope }}"}
      ignore_errors: true
    - name: not ignored
      debug: {msg: "{{ still_missing }}"}
"""


def test_template_errors_are_located_and_ignorable(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    proc = run_orch("play", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr
    assert out.count("...ignoring") == 3
    assert f"{playbook}:5:7: error while evaluating conditional (nope_var == 1): 'nope_var' is undefined" in out
    assert f"'nope_list' is undefined; template: '{{{{ nope_list }}}}' (in the loop of task at {playbook}:9:7)" in out
    assert "has no attribute 'nope'; template: '{{ inventory_hostname.nope }}'" in out
    assert "'still_missing' is undefined" in out
    assert "ok=3 " in out and "failed=1 " in out and "ignored=3" in out


def test_delegate_to_a_host_outside_the_limit(tmp_path: Path) -> None:
    """backup.yml's copy to a backup_store host runs with -l web1: the store is in the inventory
    but not in the play's batch, and has no state of its own yet (was a KeyError crash)."""
    (tmp_path / "hosts").write_text(
        "[web]\nweb1 ansible_connection=local\n[store]\nstore1 ansible_connection=local\n"
    )
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - command: echo {{ inventory_hostname }}\n"
        "      delegate_to: store1\n      register: out\n"
        "    - assert: {that: \"out.stdout == 'web1'\"}\n"
    )
    proc = run_orch("play", str(playbook), "-i", str(tmp_path / "hosts"), "-l", "web1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "web1 -> store1" in proc.stdout
    assert "ok=2 " in proc.stdout


def test_assert_that_as_one_string_is_one_condition_even_with_commas(tmp_path: Path) -> None:
    """Ansible's assert takes a string `that` as one condition; split on its commas (the list
    type's rule) it was a template syntax error ("expected ','")."""
    (tmp_path / "hosts").write_text("[all]\nlocal ansible_connection=local\n")
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - assert: {that: \"[1, 2] | select('eq', 1) | list | length == 1\"}\n"
        "    - assert: {that: \"[1, 2] | length == 3\", fail_msg: three}\n"
    )
    proc = run_orch("play", str(playbook), "-i", str(tmp_path / "hosts"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ok=1 " in proc.stdout and "failed=1 " in proc.stdout and "three" in proc.stdout, proc.stdout


def test_an_unreachable_result_is_registered_for_ignore_unreachable_tasks(tmp_path: Path) -> None:
    """ignore_unreachable: the play goes on and the registered result says unreachable (as in
    Ansible; it was left unregistered, so `r.unreachable | default(false)` was always false)."""
    (tmp_path / "hosts").write_text(
        "[all]\nlocal ansible_connection=local\n"
        "gone ansible_host=127.0.39.250 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=5'\n"
    )
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: local\n  gather_facts: false\n  tasks:\n"
        "    - command: echo hi\n      delegate_to: gone\n      ignore_unreachable: true\n      register: r\n"
        "    - assert: {that: [r.unreachable, \"r.msg != ''\"]}\n"
    )
    proc = run_orch("play", str(playbook), "-i", str(tmp_path / "hosts"), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok=1 " in proc.stdout and "skipped=1 " in proc.stdout, proc.stdout
