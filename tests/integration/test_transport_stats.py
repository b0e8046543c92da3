"""Transport statistics (`orch play --stats`, the JSON `transport` section) against real hosts.

The connection count is checked against sshd's own log on each lab host, so orch cannot simply
report what it believes; round trips are checked against the commands actually sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lab.testing import LabSession
from orchestrator.transport.base import BecomeSpec, ConnectionSpec
from orchestrator.transport.hostkeys import KnownHosts
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.ssh import SSHConnection, SSHOptions

pytestmark = pytest.mark.lab

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: "true"
    - shell: echo one; echo two
    - copy:
        content: "stats {{ inventory_hostname }}\\n"
        dest: /tmp/orch-stats-test
    - file:
        path: /tmp/orch-stats-dir
        state: directory
    - command: cat /tmp/orch-stats-test
"""


def _accepted(lab: LabSession, i: int) -> int:
    """sshd's own count of successful logins on host i (the lab runs sshd -e into this log)."""
    return lab.fleet.log_path(lab.host(i).index).read_text(errors="replace").count("Accepted publickey")


def _spec(lab: LabSession, i: int) -> ConnectionSpec:
    return ConnectionSpec(
        host=f"h{i}",
        address=lab.address(i),
        user="root",
        options=SSHOptions(
            private_key_file=str(lab.key_path),
            host_key_checking="strict",
            known_hosts_file=str(lab.known_hosts_path),
        ),
    )


def test_play_reports_one_connection_and_counted_round_trips(
    lab: LabSession, run_orch, tmp_path: Path
) -> None:
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    hosts = [h.index for h in lab.hosts]
    before = {i: _accepted(lab, i) for i in hosts}
    done = run_orch(
        "play", "play.yml", "-i", str(lab.inventory_path), "--stats", "--json", "out.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    transport = json.loads((tmp_path / "out.json").read_text())["transport"]
    assert sorted(transport) == sorted(f"h{i}" for i in hosts)
    for i in hosts:
        figures = transport[f"h{i}"]
        assert figures["connections"] == 1
        assert _accepted(lab, i) - before[i] == 1  # what sshd saw agrees
        # five independent tasks whose single scripts decide on the host: one pipelined batch
        # (docs/pipelining.md); one by one they cost 5 to 10
        assert figures["round_trips"] == 1, figures
        assert figures["bytes_sent"] > 0 and figures["bytes_received"] > 0
    # --stats prints the same figures as a table with a TOTAL row
    assert "TRANSPORT STATS" in done.stdout or "Transport stats" in done.stdout
    total = next(line for line in done.stdout.splitlines() if line.startswith("TOTAL"))
    assert total.split()[1] == str(len(hosts))


def test_ssh_connection_counts_each_exchange(lab: LabSession) -> None:
    before = _accepted(lab, 1)
    conn = SSHConnection(_spec(lab, 1), KnownHosts.default(str(lab.known_hosts_path)))
    try:
        assert conn.stats.as_dict() == {
            "connections": 0,
            "round_trips": 0,
            "bytes_sent": 0,
            "bytes_received": 0,
        }
        for word in ("a", "b", "c"):
            assert conn.run(f"echo {word}").out == f"{word}\n"
        assert conn.stats.connections == 1
        assert conn.stats.round_trips == 3
        received = conn.stats.bytes_received
        assert received >= 6  # the three answers, plus framing

        conn.put(b"x" * 5000, "/tmp/orch-stats-put", 0o600)
        assert conn.stats.bytes_sent >= 5000
        assert conn.get("/tmp/orch-stats-put") == b"x" * 5000
        assert conn.stats.bytes_received >= received + 5000

        # a become shell is a second channel on the same connection, not a second connection
        assert conn.run("id -un", become=BecomeSpec(user="deploy")).out.strip() == "deploy"
        assert conn.stats.connections == 1
    finally:
        conn.close()
    assert _accepted(lab, 1) - before == 1


def test_local_connection_counts_commands_and_file_bytes(tmp_path: Path) -> None:
    conn = LocalConnection(ConnectionSpec(host="localhost", address="localhost", connection="local"))
    try:
        conn.run("true")
        conn.run("echo hi")
        target = tmp_path / "f"
        conn.put(b"12345", str(target))
        assert conn.get(str(target)) == b"12345"
        stats = conn.stats.as_dict()
    finally:
        conn.close()
    assert stats["connections"] == 1
    assert stats["round_trips"] == 2
    assert stats["bytes_sent"] >= 5 and stats["bytes_received"] >= 5 + 3
