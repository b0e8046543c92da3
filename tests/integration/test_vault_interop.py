"""`orch vault` and ansible-vault (ansible-core from the venv, test-only) read each other's files
and strings, 1.1 and 1.2 with labels; vaulted data is used by real plays on both tools."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.lab.testing import LabSession

BIN = Path(sys.executable).parent
ANSIBLE_VAULT = BIN / "ansible-vault"
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"

pytestmark = pytest.mark.skipif(
    not ANSIBLE_VAULT.exists(), reason="ansible-core is not installed in the venv"
)


def ansible(tool: Path, *args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0"
    )
    done = subprocess.run(
        [str(tool), *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "dev.pass").write_text("dev-password-1\n")
    (tmp_path / "prod.pass").write_text("prod-password-2\n")
    return tmp_path


@pytest.mark.parametrize("label", [None, "prod"])
def test_ansible_encrypts_orch_reads(run_orch, work: Path, label: str | None) -> None:
    (work / "v.yml").write_text("api_token: from-ansible-123\n")
    source = f"{label}@prod.pass" if label else "prod.pass"
    ansible(ANSIBLE_VAULT, "encrypt", "--vault-id", source, "v.yml", cwd=work)
    assert (
        (work / "v.yml")
        .read_text()
        .startswith("$ANSIBLE_VAULT;1.2;AES256;prod" if label else "$ANSIBLE_VAULT;1.1;AES256")
    )
    # the labelled secret is found among several
    done = run_orch("vault", "view", "--vault-id", "dev@dev.pass", "--vault-id", source, "v.yml", cwd=work)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "api_token: from-ansible-123\n"


@pytest.mark.parametrize("label", [None, "prod"])
def test_orch_encrypts_ansible_reads(run_orch, work: Path, label: str | None) -> None:
    (work / "v.yml").write_text("db_password: from-orch-456\n")
    (work / "v.yml").chmod(0o600)
    source = f"{label}@prod.pass" if label else "prod.pass"
    done = run_orch("vault", "encrypt", "--vault-id", source, "v.yml", cwd=work)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((work / "v.yml").stat().st_mode) == 0o600  # the mode is kept
    assert (
        ansible(ANSIBLE_VAULT, "view", "--vault-id", source, "v.yml", cwd=work).stdout
        == "db_password: from-orch-456\n"
    )
    if label is None:
        return  # rekey and decrypt once (ansible-vault runs are slow)
    # rekey with orch, then ansible reads it with the new password
    done = run_orch(
        "vault", "rekey", "--vault-id", source, "--new-vault-id", "dev@dev.pass", "v.yml", cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert (work / "v.yml").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;dev")
    assert ansible(ANSIBLE_VAULT, "view", "--vault-id", "dev@dev.pass", "v.yml", cwd=work).stdout.endswith(
        "456\n"
    )
    done = run_orch("vault", "decrypt", "--vault-password-file", "dev.pass", "v.yml", cwd=work)
    assert done.returncode == 0 and (work / "v.yml").read_text() == "db_password: from-orch-456\n"


def test_orch_encrypt_string_runs_in_ansible_playbook(run_orch, work: Path) -> None:
    done = run_orch(
        "vault", "encrypt_string", "--vault-id", "dev@dev.pass", "-n", "greeting", "hello-from-orch", cwd=work
    )
    assert done.returncode == 0, done.stderr
    (work / "vars.yml").write_text(done.stdout)
    (work / "site.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n"
        "  tasks:\n    - copy: {content: '{{ greeting }}', dest: " + str(work / "out.txt") + "}\n"
    )
    ansible(
        ANSIBLE_PLAYBOOK,
        "-i",
        "localhost,",
        "-c",
        "local",
        "--vault-id",
        "dev@dev.pass",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "site.yml",
        cwd=work,
    )
    assert (work / "out.txt").read_text() == "hello-from-orch"


def test_create_and_edit_leave_no_plaintext_behind(run_orch, work: Path) -> None:
    scratch = work / "scratch"
    scratch.mkdir()
    (work / "seed.txt").write_text("token: first-value\n")
    env = {"TMPDIR": str(scratch), "EDITOR": f"cp {work / 'seed.txt'}"}
    done = run_orch("vault", "create", "--vault-password-file", "dev.pass", "new.yml", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((work / "new.yml").stat().st_mode) == 0o600
    env["EDITOR"] = "sed -i s/first/second/"
    done = run_orch("vault", "edit", "--vault-password-file", "dev.pass", "new.yml", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert ansible(
        ANSIBLE_VAULT, "view", "--vault-password-file", "dev.pass", "new.yml", cwd=work
    ).stdout == ("token: second-value\n")
    assert list(scratch.iterdir()) == []  # the editing copy was removed
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []  # no temp file


def test_ansible_vaulted_data_used_by_an_orch_play(lab: LabSession, run_orch, work: Path) -> None:
    """Whole file (vars_files, 1.2 label), ansible-vault encrypt_string inline value, vaulted copy src."""
    (work / "secrets.yml").write_text("db_password: ansible-file-789\n")
    ansible(ANSIBLE_VAULT, "encrypt", "--vault-id", "prod@prod.pass", "secrets.yml", cwd=work)
    inline = ansible(
        ANSIBLE_VAULT,
        "encrypt_string",
        "--vault-id",
        "dev@dev.pass",
        "--name",
        "jwt_secret",
        "ansible-inline-012",
        cwd=work,
    ).stdout
    (work / "files").mkdir()
    (work / "files" / "cert.pem").write_text("CERT-ansible-345\n")
    ansible(ANSIBLE_VAULT, "encrypt", "--vault-password-file", "dev.pass", "files/cert.pem", cwd=work)
    host = lab.hosts[0].name
    (work / "site.yml").write_text(
        f"- hosts: {host}\n  gather_facts: false\n  vars_files: [secrets.yml]\n  vars:\n"
        + "".join(f"    {line}\n" for line in inline.splitlines())
        + "  tasks:\n"
        "    - copy: {content: \"{{ db_password }} {{ jwt_secret }}\\n\", dest: /root/interop.txt, mode: '0600'}\n"
        "    - copy: {src: cert.pem, dest: /root/cert.pem, mode: '0600'}\n"
    )
    done = run_orch(
        "play",
        "site.yml",
        "-i",
        str(lab.inventory_path),
        "--vault-id",
        "prod@prod.pass",
        "--vault-id",
        "dev@dev.pass",
        cwd=work,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = lab.ssh(host, "cat /root/interop.txt /root/cert.pem").stdout
    assert out == "ansible-file-789 ansible-inline-012\nCERT-ansible-345\n"
    for secret in ("ansible-file-789", "ansible-inline-012", "CERT-ansible-345"):
        assert secret not in done.stdout + done.stderr
