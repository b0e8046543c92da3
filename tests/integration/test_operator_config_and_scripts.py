"""Issue 16 on real lab hosts: an Ansible project with an ansible.cfg runs with a plain
`orch play site.yml`, and a dynamic inventory script drives a play."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

from orchestrator.lab.testing import LabSession
from orchestrator.vault import encrypt_bytes

MARKER = "/tmp/orch-issue16-marker"


def _role(roles: Path) -> None:
    tasks = roles / "marker" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        textwrap.dedent(
            f"""\
            - command: id -un
              register: who
              changed_when: false
            - copy:
                dest: {MARKER}
                content: "user={{{{ who.stdout }}}} secret_ok={{{{ app_secret == 's3cret' }}}} forks={{{{ ansible_forks }}}}\\n"
            """
        )
    )


def test_ansible_cfg_project_runs_with_plain_orch_play(lab: LabSession, run_orch, tmp_path: Path) -> None:
    hosts = lab.hosts[:2]
    project = tmp_path / "project"
    (project / "inventory" / "group_vars").mkdir(parents=True)
    # no connection variables in the inventory: user, key and known_hosts come from ansible.cfg
    (project / "inventory" / "hosts.ini").write_text(
        "[web]\n" + "".join(f"{h.name} ansible_host={h.address}\n" for h in hosts)
    )
    secret = encrypt_bytes(b"s3cret", b"cfg-vault-pass", None)
    (project / "inventory" / "group_vars" / "web.yml").write_text(
        "app_secret: !vault |\n" + textwrap.indent(secret, "  ")
    )
    (tmp_path / "vault_pass").write_text("cfg-vault-pass\n")
    _role(tmp_path / "shared_roles")
    (project / "site.yml").write_text("- hosts: web\n  gather_facts: false\n  roles: [marker]\n")
    cfg = project / "ansible.cfg"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            [defaults]
            inventory = inventory
            roles_path = ../shared_roles
            remote_user = deploy
            private_key_file = {lab.key_path}
            forks = 3
            vault_password_file = ../vault_pass
            pipelining = True

            [ssh_connection]
            ssh_args = -o UserKnownHostsFile={lab.known_hosts_path}
            """
        )
    )
    env = {"ANSIBLE_CONFIG": "", "NO_COLOR": "1", "HOME": str(tmp_path)}  # no ~/.ssh, no other cfg
    done = run_orch("play", "site.yml", cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in hosts:
        assert re.search(rf"^{host.name}\s+: ok=2\s+changed=1", done.stdout, re.M), done.stdout
        marker = lab.ssh(host.index, f"cat {MARKER}; stat -c %U {MARKER}; rm -f {MARKER}")
        assert marker.stdout.split("\n")[:2] == ["user=deploy secret_ok=True forks=3", "deploy"]

    shown = run_orch("config", cwd=project, env=env).stdout
    for name, line in (("inventory", 2), ("roles_path", 3), ("remote_user", 4), ("private_key_file", 5),
                       ("forks", 6), ("vault_password_file", 7), ("ssh_args", 11)):  # fmt: skip
        assert re.search(rf"^{name} +  = .*  \({re.escape(str(cfg))}:{line}\)$", shown, re.M), (name, shown)
    assert f"vault_password_file   = {tmp_path / 'vault_pass'}" in shown


def test_inventory_script_drives_a_play(lab: LabSession, run_orch, tmp_path: Path) -> None:
    h1, h2 = lab.hosts[:2]
    connection = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(lab.key_path),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts_path}",
    }
    listing = {
        "app": {"hosts": [h1.name, h2.name], "vars": {**connection, "tier": "app"}},
        "canary": {"hosts": [h2.name]},
        "_meta": {"hostvars": {h1.name: {"ansible_host": h1.address}, h2.name: {"ansible_host": h2.address}}},
    }
    script = tmp_path / "cmdb.py"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"assert sys.argv[1:] == ['--list'], sys.argv\nprint({json.dumps(listing)!r})\n"
    )
    script.chmod(0o755)
    (tmp_path / "site.yml").write_text(
        "- hosts: app:!canary\n  gather_facts: false\n  tasks:\n"
        "    - command: cat /etc/hostname\n      register: name\n      changed_when: false\n"
        "    - assert:\n        that: [name.stdout == inventory_hostname, tier == 'app']\n"
    )
    done = run_orch("play", "site.yml", "-i", str(script), cwd=tmp_path, env={"NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"^{h1.name}\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0", done.stdout, re.M)
    assert f"{h2.name} " not in done.stdout.split("PLAY RECAP")[1]


def test_issue_commands_on_the_lab(lab: LabSession, run_orch, tmp_path: Path) -> None:
    """The issue's own repros against the lab inventory and the shipped demo playbook."""
    from orchestrator.lab.testing import REPO_ROOT

    inventory = str(lab.inventory_path)
    demo = str(REPO_ROOT / "playbooks" / "demo.yml")
    limited = run_orch("play", demo, "-i", inventory, "-l", "h9", env={"NO_COLOR": "1"})
    assert limited.returncode == 1 and "--limit 'h9'" in limited.stderr
    bare = run_orch("run", "lab", "-i", inventory, env={"NO_COLOR": "1"})
    assert bare.returncode == 5 and "give it with -a" in bare.stderr
    target = "/tmp/orch-issue16-payload"
    wrote = run_orch(
        "run", "h1", "-i", inventory, "-m", "copy", "-a", f"content={{{{ payload }}}} dest={target}",
        "-e", r"payload=a\nb C:\\temp", "-o", env={"NO_COLOR": "1"},
    )  # fmt: skip
    assert wrote.returncode == 3  # the second word is not key=value: refused before contact
    assert "is not key=value" in wrote.stderr
    wrote = run_orch(
        "run", "h1", "-i", inventory, "-m", "copy", "-a", f"content={{{{ payload }}}} dest={target}",
        "-e", r"payload='a\nb C:\\temp'", "-o", env={"NO_COLOR": "1"},
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    content = lab.ssh(1, f"cat {target}; rm -f {target}").stdout
    assert content == "a\nb C:\\temp"  # Ansible's parse_kv: \n a newline, \\ one backslash
