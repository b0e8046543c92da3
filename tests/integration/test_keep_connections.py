"""Connection reuse across runs (--keep-connections) against real lab hosts.

Logins are counted by each host's sshd ("Accepted publickey" in its log), as bench/ does, so a
run cannot claim a reuse that did not happen.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from orchestrator.lab.testing import LabSession, run_orch
from orchestrator.transport.keeper import SOCKET_NAME
from orchestrator.transport.kept import keeper_request

pytestmark = pytest.mark.lab

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - copy:
        content: "kept {{ inventory_hostname }}\\n"
        dest: /tmp/orch-keep-test
    - command: cat /tmp/orch-keep-test
      register: content
    - command: id -un
      become: true
      become_user: nobody
      register: who
    - assert:
        that:
          - content.stdout == "kept " ~ inventory_hostname
          - who.stdout == "nobody"
"""


def _accepted(lab: LabSession) -> dict[int, int]:
    return {
        h.index: lab.fleet.log_path(h.index).read_text(errors="replace").count("Accepted publickey")
        for h in lab.hosts
    }


@pytest.fixture
def keeper(tmp_path: Path) -> Iterator[Path]:
    """A keeper directory of this test's own; the keeper is stopped afterwards."""
    directory = tmp_path / "keeper"
    directory.mkdir(mode=0o700)
    yield directory
    keeper_request("stop", directory)


def _play(lab: LabSession, tmp_path: Path, keeper: Path, *extra: str, known_hosts: Path | None = None):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    args = ["play", "play.yml", "-i", str(lab.inventory_path), "--json", "out.json", *extra]
    if known_hosts is not None:
        args += ["--known-hosts", str(known_hosts)]
    done = run_orch(*args, cwd=tmp_path, env={"ORCH_KEEPER_DIR": str(keeper)})
    transport = json.loads((tmp_path / "out.json").read_text())["transport"]
    return done, transport


def test_second_run_makes_no_new_login(lab: LabSession, tmp_path: Path, keeper: Path) -> None:
    hosts = [h.index for h in lab.hosts]
    # off by default: a run without the option starts no keeper
    before = _accepted(lab)
    done, transport = _play(lab, tmp_path, keeper)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (keeper / SOCKET_NAME).exists()
    assert {i: n - before[i] for i, n in _accepted(lab).items()} == dict.fromkeys(hosts, 1)

    before = _accepted(lab)
    done, transport = _play(lab, tmp_path, keeper, "--keep-connections", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {i: n - before[i] for i, n in _accepted(lab).items()} == dict.fromkeys(hosts, 1)
    assert all(transport[f"h{i}"]["connections"] == 1 for i in hosts), transport
    info = (keeper / SOCKET_NAME).lstat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()

    # the second run (the environment variable this time) logs in nowhere, and does the same work
    before = _accepted(lab)
    again = run_orch(
        "play", "play.yml", "-i", str(lab.inventory_path), "--json", "out.json",
        cwd=tmp_path, env={"ORCH_KEEPER_DIR": str(keeper), "ORCH_KEEP_CONNECTIONS": "60"},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert _accepted(lab) == before
    transport = json.loads((tmp_path / "out.json").read_text())["transport"]
    assert all(transport[f"h{i}"]["connections"] == 0 for i in hosts), transport
    # the copy and the first command in one pipelined batch, the become task by itself
    assert all(transport[f"h{i}"]["round_trips"] >= 2 for i in hosts), transport

    status = run_orch("keeper", env={"ORCH_KEEPER_DIR": str(keeper)})
    assert f"{len(hosts)} connection(s) kept" in status.stdout, status.stdout
    stopped = run_orch("keeper", "stop", env={"ORCH_KEEPER_DIR": str(keeper)})
    assert stopped.returncode == 0 and "stopped" in stopped.stdout

    # after `orch keeper stop` the next run logs in again
    before = _accepted(lab)
    done, transport = _play(lab, tmp_path, keeper, "--keep-connections", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {i: n - before[i] for i, n in _accepted(lab).items()} == dict.fromkeys(hosts, 1)


def test_host_key_change_drops_the_kept_connection(lab: LabSession, tmp_path: Path, keeper: Path) -> None:
    known = tmp_path / "known_hosts"
    shutil.copy(lab.known_hosts_path, known)
    first, second = lab.hosts[0].index, lab.hosts[1].index
    done, _ = _play(lab, tmp_path, keeper, "--keep-connections", "60", known_hosts=known)
    assert done.returncode == 0, done.stdout + done.stderr

    # known_hosts now records another ed25519 key for the first host: the kept connection (verified
    # with the old key) must not be used; the fresh login is refused as CHANGED
    address = lab.address(first)
    other = paramiko.Ed25519Key.from_private_key_file(str(lab.key_path))  # some other ed25519 key
    original = known.read_text()
    lines = [
        f"{address} ssh-ed25519 {other.get_base64()}" if line.startswith(f"{address} ssh-ed25519 ") else line
        for line in original.splitlines()
    ]
    known.write_text("\n".join(lines) + "\n")
    before = _accepted(lab)
    done, transport = _play(lab, tmp_path, keeper, "--keep-connections", "60", known_hosts=known)
    assert done.returncode == 4, done.stdout + done.stderr  # the first host unreachable
    assert "CHANGED" in done.stdout + done.stderr
    assert _accepted(lab)[second] == before[second]  # the other hosts still reuse theirs
    assert transport[f"h{second}"]["connections"] == 0

    # the key restored: the first host's connection was dropped, so this is a new login
    known.write_text(original)
    before = _accepted(lab)
    done, transport = _play(lab, tmp_path, keeper, "--keep-connections", "60", known_hosts=known)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _accepted(lab)[first] == before[first] + 1
    assert transport[f"h{first}"]["connections"] == 1
