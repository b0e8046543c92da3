"""Check mode leaves a host untouched: every registered module, not a sample (issue 17).

Each module runs once in `orch play --check` with arguments that WOULD change the host (install a
package, write a file, add a user, start a service, ...). The host's overlay upper directory holds
every file the host created or changed since it booted; its listing with checksums must be the
same afterwards, except for what merely logging in changes (measured, not assumed: a plain
`ping` play is run first and its changes are the allowance).

The module list comes from the registry, so a new module is covered as soon as it exists: the
fixture table below must name it, or this test fails and says which module has no entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from orchestrator.lab.testing import LabSession, lab_unavailable_reason, open_lab_session, run_orch
from orchestrator.modules.base import _REGISTRY, module_names

pytestmark = pytest.mark.lab

URL = "http://127.0.0.1:9/nothing"  # nothing listens there: downloads fail fast, offline
# module -> its arguments (a mapping, or a free-form string); paths under /srv/cm do not exist.
ARGS: dict[str, Any] = {
    "add_host": {"name": "newhost", "groups": ["web"]},
    "apt": {"name": ["cowsay"], "update_cache": True, "cache_valid_time": 0},
    "apt_key": {"url": URL, "id": "0123456789ABCDEF"},
    "apt_repository": {"repo": "deb http://deb.example.invalid/debian stable main", "update_cache": True},
    "assert": {"that": ["1 == 1"]},
    "authorized_key": {"user": "root", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO7cm8zjm7CeZGbBIOt8h1X9fNS1Ufox3jsP6KRkLd2c cm@test"},
    "blockinfile": {"path": "/etc/motd", "block": "check mode was here"},
    "command": {"cmd": "touch /srv/cm/command"},
    "copy": {"src": "{{ playbook_dir }}/files/payload.txt", "dest": "/srv/cm/copy/payload.txt"},
    "cron": {"name": "cm", "job": "/bin/true", "minute": "5"},
    "deb822_repository": {"name": "cm", "uris": "http://deb.example.invalid/debian", "suites": "stable", "components": "main"},
    "debug": {"msg": "check"},
    "docker_compose_v2": {"project_src": "/srv/cm/compose", "state": "present"},
    "docker_container": {"name": "cm", "image": "busybox:latest", "state": "started"},
    "docker_image": {"name": "busybox", "tag": "latest", "source": "pull"},
    "fail": {"msg": "fails on the controller, never touches the host"},
    "fetch": {"src": "/etc/hostname", "dest": "{{ playbook_dir }}/fetched"},
    "file": {"path": "/srv/cm/file", "state": "directory", "mode": "0700"},
    "find": {"paths": ["/etc"], "patterns": ["*.conf"]},
    "get_url": {"url": URL, "dest": "/srv/cm/get_url"},
    "getent": {"database": "passwd", "key": "root"},
    "git": {"repo": "/srv/cm/no-such-repo.git", "dest": "/srv/cm/clone"},
    "group": {"name": "cmgroup"},
    "group_by": {"key": "cm_group"},
    "hostname": {"name": "cm-renamed"},
    "include_vars": {"file": "{{ playbook_dir }}/vars.yml"},
    "lineinfile": {"path": "/etc/motd", "line": "check mode line", "create": True},
    "package": {"name": "cowsay", "state": "present"},
    "package_facts": {},
    "pause": {"seconds": 0},
    "ping": {},
    "pip": {"name": "six", "state": "latest"},
    "raw": "touch /srv/cm/raw",
    "reboot": {"reboot_timeout": 5},
    "replace": {"path": "/etc/hostname", "regexp": "^", "replace": "cm-"},
    "script": "{{ playbook_dir }}/files/script.sh",
    "service": {"name": "cron", "state": "started", "enabled": True},
    "service_facts": {},
    "set_fact": {"cm_fact": 1},
    "setup": {},
    "shell": "touch /srv/cm/shell",
    "slurp": {"src": "/etc/hostname"},
    "stat": {"path": "/etc/hostname"},
    "sysctl": {"name": "vm.swappiness", "value": "7", "sysctl_file": "/srv/cm/sysctl.conf"},
    "systemd": {"name": "cron", "state": "started", "daemon_reload": True},
    "template": {"src": "{{ playbook_dir }}/files/t.j2", "dest": "/srv/cm/t.conf"},
    "timezone": {"name": "Asia/Tokyo"},
    "unarchive": {"src": "{{ playbook_dir }}/files/a.tar", "dest": "/tmp"},
    "validate_argument_spec": {"argument_spec": {"cm": {"type": "str"}}, "provided_arguments": {"cm": "x"}},
    "uri": {"url": URL, "dest": "/srv/cm/uri", "status_code": [200, -1]},
    "user": {"name": "cmuser", "groups": ["cmgroup"], "generate_ssh_key": True, "create_home": True},
    "wait_for": {"path": "/etc/hostname", "timeout": 2},
    # Modules being added on another branch (issue 15): ready when they land.
    "dnf": {"name": ["cowsay"]},
    "mount": {"path": "/srv/cm/mnt", "src": "tmpfs", "fstype": "tmpfs", "state": "mounted"},
    "pam_limits": {"domain": "cmuser", "limit_type": "soft", "limit_item": "nofile", "value": "4096"},
    "postgresql_db": {"name": "cmdb"},
    "postgresql_privs": {"login_db": "cmdb", "privs": "ALL", "type": "database", "roles": "cmuser"},
    "postgresql_user": {"name": "cmuser", "password": "cm-secret-1"},
    "selinux": {"policy": "targeted", "state": "permissive"},
    "locale_gen": {"name": ["de_DE.UTF-8"]},
    "mysql_db": {"name": "cmdb"},
    "mysql_replication": {"mode": "stopreplica"},
    "mysql_user": {"name": "cmuser", "password": "cm-secret-1", "priv": "cmdb.*:ALL"},
}


def registered_modules() -> list[str]:
    """Each module once, by its short name (the registry also holds FQCNs and aliases)."""
    module_names()  # loads the library
    return sorted({cls.name for cls in _REGISTRY.values()})


def test_every_module_has_a_check_mode_fixture() -> None:
    missing = sorted(set(registered_modules()) - set(ARGS))
    assert not missing, f"add check-mode arguments for {missing} to ARGS in {Path(__file__).name}"


def _attrs(st: os.stat_result) -> str:
    return f"{stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}"


def snapshot(upper: Path, lower: Path) -> dict[str, str]:
    """path -> what it is (type, mode, owner, size and content checksum / link target).

    A directory that is in the upper dir only because something inside it was created and
    removed again (a temp file under /tmp) is a copy of the image's directory: left out when
    its type, mode and owner are the image's. Every file, link and whiteout (a removal) counts.
    """
    out: dict[str, str] = {}
    for root, dirs, files in os.walk(upper):
        for name in dirs + files:
            path = Path(root, name)
            rel = path.relative_to(upper)
            st = path.lstat()
            kind = _attrs(st)
            if stat.S_ISDIR(st.st_mode):
                try:
                    if _attrs((lower / rel).lstat()) == kind:
                        continue
                except OSError:
                    pass
            if stat.S_ISREG(st.st_mode):
                kind += f" {st.st_size} {hashlib.sha256(path.read_bytes()).hexdigest()}"
            elif stat.S_ISLNK(st.st_mode):
                kind += f" -> {os.readlink(path)}"
            out[str(rel)] = kind
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _play(tasks: list[dict[str, Any]]) -> str:
    return json.dumps([{"hosts": "h1", "gather_facts": False, "tasks": tasks}], indent=1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    session = open_lab_session(1, tmp_path_factory.mktemp("checkmode"))
    try:
        yield session
    finally:
        session.close()


def test_check_mode_changes_nothing_on_the_host(lab: LabSession, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "payload.txt").write_text("payload\n")
    (files / "t.j2").write_text("{{ inventory_hostname }}\n")
    (files / "script.sh").write_text("#!/bin/sh\ntouch /srv/cm/script\n")
    (tmp_path / "vars.yml").write_text("cm_var: 1\n")
    import tarfile

    with tarfile.open(files / "a.tar", "w") as tar:
        tar.add(files / "payload.txt", arcname="cm-unarchived.txt")
    inventory = str(lab.inventory_path)
    upper, lower = lab.upper_dir(1), lab.fleet.rootfs_dir

    # What logging in and running a read-only task changes by itself (logs, caches).
    (tmp_path / "ping.yml").write_text(_play([{"ping": {}}]))
    before_ping = snapshot(upper, lower)
    done = run_orch("play", str(tmp_path / "ping.yml"), "-i", inventory)
    assert done.returncode == 0, done.stdout + done.stderr
    allowance = changed(before_ping, snapshot(upper, lower))

    modules = registered_modules()
    tasks = [
        {"name": f"check {name}", name: ARGS[name], "ignore_errors": True}
        | ({"become": True} if name not in ("fetch",) else {})
        for name in modules
    ]  # ARGS may also name modules still on their way (not registered yet): not run
    (tmp_path / "check.yml").write_text(_play(tasks))
    before = snapshot(upper, lower)
    done = run_orch("play", "--check", str(tmp_path / "check.yml"), "-i", inventory, timeout=900)
    output = done.stdout + done.stderr
    assert "PLAY RECAP" in output, output
    for name in modules:
        assert f"check {name}" in output, f"{name} did not run:\n{output}"
    touched = changed(before, snapshot(upper, lower)) - allowance
    assert not touched, f"check mode changed the host: {sorted(touched)}\n{output}"
    assert not (tmp_path / "fetched").exists(), "fetch wrote on the controller in check mode"
