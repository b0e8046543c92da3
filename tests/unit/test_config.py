"""ansible.cfg and ANSIBLE_* settings (issue 16, problem 7): which file, precedence, sources."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestrator import config
from orchestrator.lab.testing import run_orch

CFG = """\
[defaults]
inventory = inventories/prod, extra.ini ; two sources
roles_path = roles:~/shared_roles
remote_user = deploy
private_key_file = keys/id_ed25519
forks = 7
host_key_checking = False
vault_password_file = ~/.vault_pass
timeout = 30
pipelining = True
stdout_callback = yaml
some_key_nobody_knows = 1

[privilege_escalation]
become = yes
become_user = app

[ssh_connection]
ssh_args = -o UserKnownHostsFile=/tmp/kh
"""


def write_cfg(directory: Path, text: str = CFG) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ansible.cfg"
    path.write_text(text)
    return path


def test_values_types_and_sources(tmp_path: Path) -> None:
    path = write_cfg(tmp_path / "proj")
    cfg = config.load({"HOME": str(tmp_path)}, cwd=str(tmp_path / "proj"))
    assert cfg.path == str(path)
    assert cfg.get("inventory") == [str(tmp_path / "proj/inventories/prod"), str(tmp_path / "proj/extra.ini")]
    assert cfg.get("roles_path")[0] == str(tmp_path / "proj/roles")
    assert cfg.get("roles_path")[1] == os.path.expanduser("~/shared_roles")
    assert cfg.get("private_key_file") == str(tmp_path / "proj/keys/id_ed25519")  # relative to the file
    assert (cfg.get("forks"), cfg.get("timeout"), cfg.get("host_key_checking")) == (7, 30.0, "off")
    assert (cfg.get("become"), cfg.get("become_user"), cfg.get("become_method")) == (True, "app", "sudo")
    assert cfg.get("ssh_args") == "-o UserKnownHostsFile=/tmp/kh"
    assert cfg.source("forks") == f"{path}:6" and cfg.source("become_method") == "default"
    # known-but-unused keys are listed (once, with where), unknown ones ignored
    assert [key for key, _ in cfg.unsupported] == ["pipelining", "stdout_callback"]


def test_precedence_cli_over_env_over_cfg_over_default(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    cfg = config.load({"ANSIBLE_FORKS": "3", "ANSIBLE_REMOTE_USER": "ops"}, cwd=str(tmp_path))
    assert (cfg.get("forks"), cfg.source("forks")) == (3, "env ANSIBLE_FORKS")
    assert cfg.override("forks", None, "-f") == 3  # not given on the command line
    assert cfg.override("forks", 12, "-f") == 12 and cfg.source("forks") == "command line -f"
    assert cfg.get("remote_user") == "ops"
    assert cfg.get("timeout") == 30.0
    assert config.load({}, cwd=str(tmp_path / "nowhere")).get("forks") == 50  # orch's default


def test_which_file_is_read_first_found_as_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = write_cfg(tmp_path / "named", "[defaults]\nforks = 1\n")
    local = write_cfg(tmp_path / "cwd", "[defaults]\nforks = 2\n")
    (tmp_path / "home").mkdir()
    home_cfg = tmp_path / "home" / ".ansible.cfg"
    home_cfg.write_text("[defaults]\nforks = 3\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~ in ~/.ansible.cfg
    assert config.find_config_file({"ANSIBLE_CONFIG": str(named)}, str(tmp_path / "cwd"))[0] == str(named)
    assert config.find_config_file({"ANSIBLE_CONFIG": str(tmp_path / "named")}, "/")[0] == str(named)
    assert config.find_config_file({}, str(tmp_path / "cwd"))[0] == str(local)
    assert config.find_config_file({}, str(tmp_path))[0] == str(home_cfg)
    # a world-writable current directory is not trusted for ansible.cfg (Ansible's rule)
    os.chmod(tmp_path / "cwd", 0o777)
    try:
        found, warnings = config.find_config_file({}, str(tmp_path / "cwd"))
    finally:
        os.chmod(tmp_path / "cwd", 0o755)
    assert found == str(home_cfg) and "world writable" in warnings[0]


def test_bad_values_and_files_name_the_place(tmp_path: Path) -> None:
    write_cfg(tmp_path, "[defaults]\nforks = many\n")
    with pytest.raises(config.ConfigError, match=r"ansible\.cfg:2: forks: invalid literal"):
        config.load({}, cwd=str(tmp_path))
    write_cfg(tmp_path, "[privilege_escalation]\nbecome = perhaps\n")
    with pytest.raises(config.ConfigError, match="expected a boolean"):
        config.load({}, cwd=str(tmp_path))
    write_cfg(tmp_path, "forks = 3\n")
    with pytest.raises(config.ConfigError, match=r"not a valid INI file|no section"):
        config.load({}, cwd=str(tmp_path))


def test_orch_config_command_shows_values_and_sources(tmp_path: Path) -> None:
    path = write_cfg(tmp_path)
    done = run_orch("config", "-v", cwd=tmp_path, env={"ANSIBLE_CONFIG": "", "ANSIBLE_TIMEOUT": "5"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"# ansible.cfg: {path}" in out
    assert re.search(rf"^forks +  = 7  \({re.escape(str(path))}:6\)$", out, re.M)
    assert re.search(r"^timeout +  = 5.0  \(env ANSIBLE_TIMEOUT\)$", out, re.M)
    assert re.search(r"^become_method +  = sudo  \(default\)$", out, re.M)
    assert f"pipelining ({path}:10): moot" in out and "some_key_nobody_knows" not in out
    only = run_orch("config", "--only-changed", cwd=tmp_path, env={"ANSIBLE_CONFIG": ""}).stdout
    assert "forks" in only and "become_method" not in only and "pipelining" not in only


def test_a_run_uses_the_settings_and_minus_v_lists_unused_keys(tmp_path: Path) -> None:
    write_cfg(tmp_path, "[defaults]\ninventory = hosts\nforks = 4\npipelining = True\n")
    (tmp_path / "hosts").write_text("[web]\nh1 ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - debug: msg='forks={{ ansible_forks }}'\n"
    )
    done = run_orch("play", "site.yml", cwd=tmp_path, env={"ANSIBLE_CONFIG": "", "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert "msg: forks=4" in done.stdout
    assert "pipelining" not in done.stderr
    verbose = run_orch(
        "play", "site.yml", "-v", "-f", "2", cwd=tmp_path, env={"ANSIBLE_CONFIG": "", "NO_COLOR": "1"}
    )
    assert "msg: forks=2" in verbose.stdout  # the command line wins
    assert verbose.stderr.count("settings orch does not use: pipelining") == 1


def test_retry_files_as_ansible_when_enabled(tmp_path: Path) -> None:
    write_cfg(
        tmp_path,
        "[defaults]\ninventory = hosts\nretry_files_enabled = True\nretry_files_save_path = retries\n",
    )
    (tmp_path / "hosts").write_text("[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - fail: msg=boom\n      when: inventory_hostname == 'h2'\n"
    )
    env = {"ANSIBLE_CONFIG": "", "NO_COLOR": "1"}
    done = run_orch("play", "site.yml", cwd=tmp_path, env=env)
    retry = tmp_path / "retries" / "site.retry"
    assert done.returncode == 2 and retry.read_text() == "h2\n"
    assert f"to retry, use: --limit @{retry}" in done.stdout
    again = run_orch("play", "site.yml", "--limit", f"@{retry}", cwd=tmp_path, env=env)
    assert "h1 " not in again.stdout.split("PLAY RECAP")[1] and "h2 " in again.stdout
    off = run_orch("play", "site.yml", cwd=tmp_path, env={**env, "ANSIBLE_RETRY_FILES_ENABLED": "false"})
    assert "to retry" not in off.stdout
