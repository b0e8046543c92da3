"""The connection keeper's pieces that need no host: its directory rules, its framing, and its
start/stop life cycle (a real keeper process holding no connection)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.keeper import (
    SOCKET_NAME,
    KeeperError,
    private_dir,
    send_frame,
    spec_from_json,
    spec_to_json,
    split_frames,
)
from orchestrator.transport.kept import RelayCarrier, connect_keeper, keeper_request
from orchestrator.transport.liveness import AliveSettings
from orchestrator.transport.ssh import SSHOptions


def test_private_dir_is_created_0700(tmp_path: Path) -> None:
    path = private_dir(tmp_path / "k")
    assert (path.stat().st_mode & 0o777) == 0o700


def test_private_dir_refuses_a_directory_open_to_others(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir(mode=0o700)
    os.chmod(tmp_path / "k", 0o755)
    with pytest.raises(KeeperError, match="open to other users"):
        private_dir(tmp_path / "k")


def test_private_dir_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "k").symlink_to(tmp_path / "real")
    with pytest.raises(KeeperError, match="not a directory"):
        private_dir(tmp_path / "k")


def test_spec_travels_intact() -> None:
    options = SSHOptions(port=2222, alive=AliveSettings(5, 2), jump="j@x:22", host_key_checking="strict")
    spec = ConnectionSpec(host="h1", address="10.0.0.1", user="u", password="p w", options=options)
    assert spec_from_json(spec_to_json(spec)) == spec


def test_relay_carrier_reads_split_frames_and_exit_status() -> None:
    ours, theirs = socket.socketpair()
    carrier = RelayCarrier(ours)
    send_frame(theirs, b"O", b"out")
    send_frame(theirs, b"R", b"err")
    assert carrier.receive(1) == (b"out", b"err")
    # a frame that arrives in pieces is only delivered once complete
    raw = bytearray()
    for kind, data in ((b"O", b"x" * 100), (b"X", (7).to_bytes(4, "big"))):
        other_a, other_b = socket.socketpair()
        send_frame(other_a, kind, data)
        raw += other_b.recv(1000)
        other_a.close(), other_b.close()
    theirs.sendall(bytes(raw[:50]))
    assert carrier.receive(0.1) == (b"", b"")
    theirs.sendall(bytes(raw[50:]))
    assert carrier.receive(1) == (b"x" * 100, b"")
    with pytest.raises(EOFError):
        carrier.receive(1)
    assert carrier.exit_status == 7
    carrier.send(b"in")
    buffer = bytearray(theirs.recv(100))
    assert list(split_frames(buffer)) == [(b"I", b"in")] and not buffer
    carrier.close()
    theirs.close()


def test_stop_returns_once_the_keeper_is_gone_and_a_new_one_can_start(tmp_path: Path) -> None:
    directory = tmp_path / "keeper"
    connect_keeper(directory).close()  # starts one
    status = keeper_request("status", directory)
    assert status is not None and status["ok"]
    first = int(status["pid"])

    stopped = keeper_request("stop", directory)
    # `stop` has returned: nothing listens on the old socket and the process has exited, so the
    # next run cannot connect to a keeper that is closing under it (it was reset: a CI failure).
    assert stopped is not None and stopped["ok"]
    assert not (directory / SOCKET_NAME).exists()
    assert _exited(first)

    connect_keeper(directory).close()  # starts a new one at once
    again = keeper_request("status", directory)
    assert again is not None and int(again["pid"]) != first
    keeper_request("stop", directory)


def _exited(pid: int) -> bool:
    """Gone, or a zombie (this test started it, so it stays one until reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
