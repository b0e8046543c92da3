"""Secrets never reach an output channel: one hostile run on lab hosts, then grep everything.

The run carries secrets in every form orch knows: a vaulted group_vars file, a vaulted
vars_files entry, an inline `!vault` value, a vaulted copy src and a vaulted template, a plain
var whose name says secret, a no_log task that fails, a become password; it renders them into
a .env file with diff mode on, at -vvv, with --json, into a failure, an assert and a debug. Then
stdout, stderr, the JSON file, the live (terminal) view and every file the run wrote on the
controller are searched for each secret. The hosts must hold the real values (the control).
"""

from __future__ import annotations

import os
import pty
import secrets
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.lab.testing import REPO_ROOT, LabSession
from orchestrator.redact import MASK
from orchestrator.vault import encrypt_bytes
from orchestrator.vault.cli import format_encrypted_string

LAB_BECOME_PASSWORD = "ops-pass"  # the lab's `ops` user: sudo with a password


def _token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _indent(block: str, spaces: int) -> str:
    return textwrap.indent(block, " " * spaces)


@pytest.fixture(scope="module")
def project(lab: LabSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("secure")
    s = {
        "group_vars": _token("GvDbPass"),  # vaulted group_vars file, id prod
        "vars_file": _token("VfValue"),  # vaulted vars_files entry, default id
        "inline": _token("InlineSig"),  # inline !vault value, id prod
        "src_file": _token("SrcCert"),  # vaulted copy src
        "template": _token("TplLiteral"),  # literal text inside a vaulted template
        "by_name": _token("NamedTok"),  # plain var, secret by its name
        "no_log": _token("NoLogNote"),  # plain var, shown only by a no_log task
        "become": LAB_BECOME_PASSWORD,
    }
    prod, default = b"prod-vault-pw-1", b"default-vault-pw-2"
    _write(root / "prod.pass", prod.decode() + "\n").chmod(0o600)
    script = _write(root / "default-pass.sh", f"#!/bin/sh\necho {default.decode()}\n")
    script.chmod(0o700)

    inventory = yaml.safe_load(Path(lab.inventory_path).read_text())
    _write(root / "inv" / "hosts.yml", yaml.safe_dump(inventory))
    group_vars = f"db_password: {s['group_vars']}\nvault_ops_password: {s['become']}\n"
    _write(
        root / "inv" / "group_vars" / "lab" / "vault.yml", encrypt_bytes(group_vars.encode(), prod, "prod")
    )
    _write(root / "vars" / "app.yml", encrypt_bytes(f"cfg_value: {s['vars_file']}\n".encode(), default))
    _write(root / "files" / "cert.txt", encrypt_bytes(f"CERT={s['src_file']}\n".encode(), prod, "prod"))
    template = f"TPL={s['template']}\nSIG={{{{ signing }}}}\n"
    _write(root / "templates" / "app.env.j2", encrypt_bytes(template.encode(), default))
    inline = format_encrypted_string(encrypt_bytes(s["inline"].encode(), prod, "prod"), "signing")
    h1, h2 = lab.hosts[0].name, lab.hosts[1].name
    _write(
        root / "site.yml",
        f"""\
- hosts: {h2}
  gather_facts: false
  remote_user: ops
  become: true
  vars:
    ansible_become_password: "{{{{ vault_ops_password }}}}"
    note: {s["no_log"]}
  tasks:
    - command: whoami
      register: who
    - copy: {{content: "{{{{ db_password }}}}\\n", dest: /root/db.secret, mode: "0600"}}
    - debug: {{msg: "{{{{ who.stdout }}}} {{{{ ansible_become_password }}}}"}}
    - name: a no_log task whose error would quote its data (a loop over a string)
      debug: {{msg: x}}
      loop: "{{{{ note }}}}"
      no_log: true
      ignore_errors: true  # a play whose only host fails ends the run (as in Ansible)

- hosts: {h1}
  gather_facts: false
  vars_files: [vars/app.yml]
  vars:
{_indent(inline, 4)}
    api_token: {s["by_name"]}
    note: {s["no_log"]}
  tasks:
    - file: {{path: /srv/app, state: directory, mode: "0700"}}
    - name: old env
      copy: {{content: "DB_PASSWORD=old\\n", dest: /srv/app/.env, mode: "0600"}}
    - name: env with secrets
      copy:
        content: "DB_PASSWORD={{{{ db_password }}}}\\nSIG={{{{ signing }}}}\\nTOKEN={{{{ api_token }}}}\\nCFG={{{{ cfg_value }}}}\\n"
        dest: /srv/app/.env
        mode: "0600"
    - template: {{src: app.env.j2, dest: /srv/app/tmpl.env, mode: "0600"}}
    - copy: {{src: cert.txt, dest: /srv/app/cert.txt, mode: "0600"}}
    - debug: {{var: db_password}}
    - debug: {{msg: "sig {{{{ signing }}}} cfg {{{{ cfg_value }}}} tok {{{{ api_token }}}}"}}
    - command: echo {{{{ signing }}}} {{{{ db_password }}}} {{{{ cfg_value }}}}
    - shell: "echo {{{{ note }}}}; echo {{{{ note }}}} >&2; exit 3"
      no_log: true
      ignore_errors: true
    - set_fact: {{derived: "pre-{{{{ signing }}}}-post"}}
    - debug: {{var: derived}}
    - assert:
        that: db_password == 'nope'
        fail_msg: "bad password {{{{ db_password }}}}"
      ignore_errors: true
    - fail: {{msg: "boom {{{{ cfg_value }}}} {{{{ signing }}}}"}}

""",
    )
    args = [
        "play",
        "site.yml",
        "-i",
        "inv",
        "-vvv",
        "--diff",
        "--vault-id",
        "prod@prod.pass",
        "--vault-password-file",
        str(script),
    ]
    return {"root": root, "secrets": s, "args": args, "h1": h1, "h2": h2}


def _snapshot(root: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _run_in_pty(argv: list[str], cwd: Path, timeout: float = 300) -> str:
    """Run with a terminal as stdout, so orch draws its live view; return everything drawn."""
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_secret_in_any_output_channel(lab: LabSession, run_orch, project: dict) -> None:
    root: Path = project["root"]
    s: dict[str, str] = project["secrets"]
    before = _snapshot(root)
    done = run_orch(*project["args"], "--json", "run.json", cwd=root)
    live = _run_in_pty([sys.executable, "-m", "orchestrator.cli", *project["args"]], root)
    assert done.returncode == 2, done.stdout + done.stderr  # the fail task failed h1

    # Controls: the run really used every secret, and the output shows masks where they were.
    env = lab.ssh(project["h1"], "cat /srv/app/.env /srv/app/tmpl.env /srv/app/cert.txt").stdout
    for key in ("group_vars", "inline", "by_name", "vars_file", "template", "src_file"):
        assert s[key] in env, key
    assert lab.ssh(project["h2"], "cat /root/db.secret").stdout.strip() == s["group_vars"]
    assert f"root {MASK}" in done.stdout  # whoami ran as root via the (masked) become password
    assert "+DB_PASSWORD=" + MASK in done.stdout  # the diff is shown, its secret line masked
    assert "TASK [fail]" in done.stdout and "boom" in done.stdout
    assert done.stdout.count("no_log: true") >= 2  # both no_log tasks' results are censored
    assert "PLAY RECAP" in live and MASK in live

    written = {p for p, mtime in _snapshot(root).items() if before.get(p) != mtime}
    assert root / "run.json" in written
    channels = {"stdout": done.stdout, "stderr": done.stderr, "live view": live}
    channels.update({str(p.relative_to(root)): p.read_text(errors="replace") for p in written})
    leaks = [
        (name, key, text[max(0, text.index(value) - 200) : text.index(value) + 40])
        for name, text in channels.items()
        for key, value in s.items()
        if value in text
    ]
    assert leaks == []


def test_wrong_or_missing_vault_password_names_the_file(run_orch, project: dict) -> None:
    root: Path = project["root"]
    missing = run_orch("play", "site.yml", "-i", "inv", cwd=root, env={"ORCH_VAULT_PASSWORD": ""})
    assert missing.returncode != 0
    text = missing.stdout + missing.stderr
    assert "vault.yml" in text and "no vault secret was given" in text
    _write(root / "bad.pass", "Not-The-Password-7\n")
    wrong = run_orch("play", "site.yml", "-i", "inv", "--vault-password-file", "bad.pass", cwd=root)
    text = wrong.stdout + wrong.stderr
    assert wrong.returncode != 0 and "vault.yml" in text and "none of the given secrets fit" in text
    assert "Not-The-Password-7" not in text
