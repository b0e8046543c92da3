"""The playbook library's static side: every playbook loads (orch and ansible-playbook agree), and
the example production inventory's vault file is really encrypted and readable with its
documented demo password. No hosts are contacted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.lab.testing import REPO_ROOT, run_orch

PLAYBOOKS = sorted((REPO_ROOT / "playbooks").glob("*.yml"))
PROD = REPO_ROOT / "inventories" / "example-prod"
VAULT_PASS = PROD / ".vault-pass.example"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def test_playbooks_load_under_orch_and_ansible(tmp_path: Path) -> None:
    books = [str(p) for p in PLAYBOOKS if p.name != "demo.yml"]
    assert len(books) >= 8
    for inventory in (REPO_ROOT / "inventories" / "lab", PROD):
        result = run_orch(
            "play",
            "--syntax-check",
            "-i",
            str(inventory),
            "--vault-password-file",
            str(VAULT_PASS),
            *books,
            cwd=REPO_ROOT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook (test extra) not installed")
    ansible = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", "localhost,", *books],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert ansible.returncode == 0, ansible.stdout + ansible.stderr


def test_example_prod_vault_is_encrypted_and_readable(tmp_path: Path) -> None:
    vault = (PROD / "group_vars" / "app" / "vault.yml").read_text()
    assert vault.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert "example-4f1c2b9e7a" not in vault and "vault_app_secrets" not in vault
    check = tmp_path / "check.yml"
    check.write_text(
        "- hosts: app\n  gather_facts: false\n  tasks:\n"
        "    - assert:\n        that:\n"
        "          - app_secrets.APP_SECRET_KEY == 'example-4f1c2b9e7a'\n"
        "          - admin_users[0].name == 'alice'\n"
        "          - app_env_required | difference(app_secrets.keys() | list + app_env.keys() | list + ['APP_NAME']) == []\n"
        '    - debug: {msg: "{{ app_secrets.DATABASE_PASSWORD }}"}\n'
    )
    # assert/debug run on the controller: the example hosts (192.0.2.x) are never contacted.
    ok = run_orch("play", "-i", str(PROD), "--vault-password-file", str(VAULT_PASS), str(check))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok=2" in ok.stdout
    # A value that came out of the vault is masked in the output.
    assert "example-db-pass-83k2" not in ok.stdout + ok.stderr
    no_password = run_orch("play", "-i", str(PROD), str(check))
    assert no_password.returncode != 0
    assert "vault.yml: file is vault-encrypted" in no_password.stdout + no_password.stderr
