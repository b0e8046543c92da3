"""The controller's side of connection reuse: an SSHConnection whose channels come from the keeper.

See orchestrator/transport/keeper.py for the keeper process and its protocol. Everything above
the channel (the persistent shells, sudo, SFTP, statistics, interrupts) is SSHConnection's own
code; only where a channel comes from differs. A connection counts as opened (`--stats`
connections) only when the keeper had to log in for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paramiko

from orchestrator.errors import ConnectError
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.keeper import (
    EXIT,
    LOCK_NAME,
    PROTOCOL_VERSION,
    SOCKET_NAME,
    KeeperError,
    keeper_dir,
    private_dir,
    read_line,
    send_frame,
    spec_to_json,
    split_frames,
)
from orchestrator.transport.ssh import SSHConnection

START_WAIT = 10.0  # seconds a run waits for a keeper it started to listen
STOP_WAIT = 15.0  # seconds `orch keeper stop` waits for the keeper to close its connections and exit


class RelayCarrier:
    """A channel relayed by the keeper, as a Carrier for ShellSession (see keeper.py's frames)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.exit_status: int | None = None
        self._buffer = bytearray()
        self._eof = False

    def send(self, data: bytes) -> None:
        try:
            send_frame(self.sock, b"I", data)
        except OSError as exc:
            raise EOFError(str(exc)) from exc

    def receive(self, timeout: float | None) -> tuple[bytes, bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        out, err = bytearray(), bytearray()
        while True:
            for kind, payload in split_frames(self._buffer):
                if kind == b"O":
                    out += payload
                elif kind == b"R":
                    err += payload
                elif kind == b"X":
                    self.exit_status = EXIT.unpack(payload)[0]
                    self._eof = True
            if out or err:
                return bytes(out), bytes(err)
            if self._eof:
                raise EOFError("channel closed")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return b"", b""
            try:
                ready, _, _ = select.select([self.sock], [], [], remaining)
                if not ready:
                    return b"", b""
                data = self.sock.recv(1 << 16)
            except (OSError, ValueError) as exc:  # closed by abort() in another thread
                raise EOFError(str(exc)) from exc
            if not data:
                self._eof = True
            self._buffer += data

    def wait_exit(self, timeout: float) -> int | None:
        """Read until the command ends (within `timeout`); its exit status, None if it did not."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(EOFError):
            while time.monotonic() < deadline:
                self.receive(deadline - time.monotonic())
        return self.exit_status

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread waiting in receive()
        self.sock.close()


class _KeeperWentAway(Exception):
    """The keeper closed our request unanswered: it was stopping."""


class KeptConnection(SSHConnection):
    """One host, reached through the keeper's connection for this login (kept `persist` s)."""

    def __init__(self, spec: ConnectionSpec, persist: float, directory: Path | None = None) -> None:
        super().__init__(spec)
        self.persist = persist
        self.directory = directory or keeper_dir()
        self._logged_in = False

    def _request(self, op: str, **fields: Any) -> tuple[socket.socket, dict[str, Any]]:
        """Ask the keeper for `op` on this host's connection; the socket then carries the channel."""
        try:
            return self._request_once(op, **fields)
        except _KeeperWentAway:
            if op != "login":
                raise ConnectError(f"{self.spec.host}: the connection keeper stopped during the run") from None
        # A login is safe to ask again: the keeper we reached was stopping (`orch keeper stop`).
        try:
            return self._request_once(op, **fields)
        except _KeeperWentAway as exc:
            raise ConnectError(f"{self.spec.host}: the connection keeper did not answer: {exc}") from None

    def _request_once(self, op: str, **fields: Any) -> tuple[socket.socket, dict[str, Any]]:
        try:
            sock = connect_keeper(self.directory)
        except (KeeperError, OSError) as exc:
            raise ConnectError(f"{self.spec.host}: cannot reach the connection keeper: {exc}") from None
        request = {
            "version": PROTOCOL_VERSION,
            "op": op,
            "spec": spec_to_json(self.spec),
            "persist": self.persist,
            **fields,
        }
        try:
            # The keeper may be logging in for us: its connect deadline, retries included, plus slack.
            sock.settimeout(self.spec.connect_timeout + 10)
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(read_line(sock))
            sock.settimeout(None)
        except (ConnectionResetError, BrokenPipeError, EOFError) as exc:
            sock.close()
            raise _KeeperWentAway(str(exc)) from None
        except (OSError, ValueError) as exc:
            sock.close()
            raise ConnectError(f"{self.spec.host}: the connection keeper did not answer: {exc}") from None
        if not answer.get("ok"):
            sock.close()
            raise ConnectError(str(answer.get("error") or "the connection keeper refused"))
        if answer.get("fresh"):
            self.stats.count(connections=1)
        self.login_user = str(answer.get("login_user") or self.login_user)
        self._logged_in = True
        return sock, answer

    def _ensure_login(self) -> None:
        if not self._logged_in:
            sock, _ = self._request("login")
            sock.close()

    def _start_command(self, command: str) -> RelayCarrier:
        sock, _ = self._request("exec", command=command)
        return RelayCarrier(sock)

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            sock, _ = self._request("sftp")
            try:
                self._sftp = paramiko.SFTPClient(sock)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                sock.close()
                raise ConnectError(f"{self.spec.host}: SFTP is not available: {exc}") from None
        return self._sftp

    def _alive(self) -> bool:
        return self._logged_in

    def _run_to_exit(self, command: str, timeout: float) -> bool:
        try:
            carrier = self._start_command(command)
        except ConnectError:
            return False
        try:
            return carrier.wait_exit(timeout) is not None
        finally:
            carrier.close()


def connect_keeper(directory: Path, wait: float = START_WAIT) -> socket.socket:
    """A connection to this user's keeper, started in the background if none is listening."""
    path = private_dir(directory) / SOCKET_NAME
    started = False
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() >= deadline:
                raise
            if not started:
                _start_keeper(directory)
                started = True
            time.sleep(0.02)
        except BaseException:
            sock.close()
            raise


def _start_keeper(directory: Path) -> None:
    """Start the keeper as a session of its own (a Ctrl-C of this run must not reach it). Two
    runs starting one at once is fine: the keeper's lock lets one serve, the other exits."""
    import orchestrator

    env = dict(os.environ)
    source = str(Path(orchestrator.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH", "")]))
    subprocess.Popen(
        [sys.executable, "-m", "orchestrator.transport.keeper", "--dir", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env=env,
    )


def keeper_request(op: str, directory: Path | None = None) -> dict[str, Any] | None:
    """`status` / `stop` for `orch keeper`: the answer, or None when no keeper is running."""
    path = private_dir(directory or keeper_dir()) / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(json.dumps({"version": PROTOCOL_VERSION, "op": op}).encode() + b"\n")
        answer: dict[str, Any] = json.loads(read_line(sock))
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    finally:
        sock.close()
    if op == "stop":
        _wait_for_exit(private_dir(directory or keeper_dir()), STOP_WAIT)
    return answer


def _wait_for_exit(directory: Path, timeout: float) -> None:
    """Until the keeper has closed its connections and exited: it holds LOCK_NAME until then."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                time.sleep(0.05)
    finally:
        os.close(fd)  # releases the shared lock, if taken
