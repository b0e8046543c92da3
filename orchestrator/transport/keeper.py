"""Connection reuse across runs: a per-user background process that keeps SSH connections.

Off by default (`--keep-connections SECONDS`, ORCH_KEEP_CONNECTIONS, ansible.cfg
`[ssh_connection] keep_connections`). When on, a run does not log in to a host itself: it asks the
keeper, which logs in once (with the same code, settings and host-key checks as a direct run),
then holds the authenticated connection for SECONDS after the last run stopped using it, like
OpenSSH's ControlPersist. An edit-run-edit cycle then skips the login, the largest cost a host
pays per run.

What is kept is the SSH connection only. Every run opens its own channels on it: its own login
shell, its own `sudo` shells (with this run's become password), its own SFTP session. So become
never carries over from one run to the next and is not part of the key; the key is everything
that decides who the login is: address, port, login user, the key files (path and content),
the password, jump hosts / ProxyCommand, the known_hosts file and checking mode, keepalives.

Safety:
- the socket lives in a per-user directory (mode 0700, owned by the user, never a symlink) and is
  0600 itself; the keeper also checks each client's uid (SO_PEERCRED) before it reads a byte;
- before a kept connection is handed out, the host key it was opened with must still be the one
  the known_hosts file records for that name (unless checking is off): on any change (a new key,
  a removed entry, a reinstalled host) the kept connection is closed and a fresh login decides,
  with the usual CHANGED refusal;
- the keeper exits when it holds nothing; `orch keeper stop` closes everything at once.

Wire protocol, one Unix stream connection per channel. The client sends one JSON line
{"version", "op", "spec", "persist", "command"} and reads one JSON line back ({"ok": true,
"fresh": bool} or {"ok": false, "error": text}). Then, for op "exec", frames of
KIND (1 byte) + LENGTH (4 bytes, big-endian) + payload: the client sends I (stdin data) and
E (end of stdin); the keeper sends O (stdout), R (stderr) and finally X (exit status, 4 bytes
signed; -1 when the host sent none). For op "sftp" the socket carries the SFTP byte stream as is.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import select
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchError
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.liveness import AliveSettings

PROTOCOL_VERSION = 1
SOCKET_NAME = f"keeper-v{PROTOCOL_VERSION}.sock"
LOCK_NAME = "keeper.lock"  # held by the serving keeper until it has exited
FRAME = struct.Struct(">cI")
EXIT = struct.Struct(">i")
REAP_EVERY = 1.0  # seconds between looks for expired connections
IDLE_EXIT = 5.0  # the keeper exits once it has held nothing and served no one for this long
LOCK_WAIT = 5.0  # a keeper started while a stopping one still closes its connections waits this long


class KeeperError(OrchError):
    """The keeper's directory or socket cannot be used safely."""


# -- where the keeper lives -------------------------------------------------------------------


def keeper_dir() -> Path:
    """ORCH_KEEPER_DIR, else $XDG_RUNTIME_DIR/orch, else /tmp/orch-keeper-UID."""
    if os.environ.get("ORCH_KEEPER_DIR"):
        return Path(os.environ["ORCH_KEEPER_DIR"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "orch"
    return Path(f"/tmp/orch-keeper-{os.getuid()}")


def private_dir(path: Path) -> Path:
    """Create `path` (0700) or check an existing one: a real directory, ours, closed to others."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=False)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise KeeperError(f"{path} is not a directory (a symlink?): refusing to keep connections there")
    if info.st_uid != os.getuid():
        raise KeeperError(f"{path} belongs to uid {info.st_uid}, not to you: refusing to keep connections there")
    if info.st_mode & 0o077:
        raise KeeperError(f"{path} is open to other users (mode {info.st_mode & 0o777:o}): chmod 700 it")
    return path


# -- framing ----------------------------------------------------------------------------------


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(FRAME.pack(kind, len(payload)) + payload)


def split_frames(buffer: bytearray) -> Iterator[tuple[bytes, bytes]]:
    """Complete frames at the start of `buffer`, removed from it as they are yielded."""
    while len(buffer) >= FRAME.size:
        kind, length = FRAME.unpack_from(buffer)
        if len(buffer) < FRAME.size + length:
            return
        payload = bytes(buffer[FRAME.size : FRAME.size + length])
        del buffer[: FRAME.size + length]
        yield kind, payload


def spec_to_json(spec: ConnectionSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def spec_from_json(data: dict[str, Any]) -> ConnectionSpec:
    from orchestrator.transport.ssh import SSHOptions

    fields = {f.name for f in dataclasses.fields(ConnectionSpec)}
    values = {k: v for k, v in data.items() if k in fields}
    if isinstance(values.get("options"), dict):
        options = dict(values["options"])
        options["alive"] = AliveSettings(**options.get("alive", {}))
        values["options"] = SSHOptions(**options)
    return ConnectionSpec(**values)


def read_line(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """One newline-terminated line, read byte-exactly (what follows it belongs to the channel)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("keeper connection closed")
        line += chunk
        if len(line) > limit:
            raise EOFError("keeper request too long")
    return bytes(line)


# -- the keeper process -----------------------------------------------------------------------


@dataclasses.dataclass
class _Kept:
    conn: Any  # SSHConnection (imported lazily: the CLI must not pay for paramiko to talk to us)
    host_key: tuple[str, str] | None  # (type, base64) the connection was verified with
    known_hosts_name: str
    persist: float
    users: int = 0
    last_used: float = dataclasses.field(default_factory=time.monotonic)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class Keeper:
    """The background process: accepts clients on the socket, relays their channels."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.salt = secrets.token_bytes(32)  # keys never hold a password's plain hash
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}
        self._opening: dict[str, threading.Lock] = {}
        self._active = 0  # client connections being served
        self._idle_since = time.monotonic()
        self._stop = threading.Event()
        self._server: socket.socket | None = None
        self._digests: dict[str, tuple[Any, str | None]] = {}
        self._known: dict[str, tuple[Any, Any]] = {}

    # -- identity of a login

    def key_of(self, spec: ConnectionSpec) -> tuple[str, Any]:
        from orchestrator.transport.ssh import resolve_ssh_settings, ssh_options

        settings = resolve_ssh_settings(spec)
        options = ssh_options(spec)
        keys = []
        for path in settings.identity_files:
            try:
                keys.append([path, self._file_digest(path)])
            except OSError:
                keys.append([path, None])
        password = (
            hmac.new(self.salt, spec.password.encode(), "sha256").hexdigest() if spec.password is not None else None
        )
        identity = [
            settings.address, settings.port, settings.user, keys, password, settings.jump,
            settings.proxy_command, options.host_key_checking, options.known_hosts_file,
            options.ssh_config_file, options.alive.interval, options.alive.count_max,
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest(), settings

    # -- files read for every request, parsed again only when they changed

    def _changed_since(self, path: str) -> tuple[int, int, int] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _file_digest(self, path: str) -> str | None:
        stamp = self._changed_since(path)
        cached = self._digests.get(path)
        if cached is None or cached[0] != stamp or stamp is None:
            try:
                cached = (stamp, hashlib.sha256(Path(path).read_bytes()).hexdigest())
            except OSError:
                cached = (stamp, None)
            self._digests[path] = cached
        return cached[1]

    def _known_hosts(self, path: str) -> Any:
        """The known_hosts file as it is now (re-read after any change: a new key, an edit)."""
        from orchestrator.transport.hostkeys import KnownHosts

        stamp = self._changed_since(path)
        cached = self._known.get(path)
        if cached is None or cached[0] != stamp or stamp is None:
            cached = (stamp, KnownHosts(path))
            self._known[path] = cached
        return cached[1]

    # -- connections

    def acquire(self, spec: ConnectionSpec, persist: float) -> tuple[_Kept, bool]:
        """The kept connection for this login (opened now if needed), with one more user."""
        key, settings = self.key_of(spec)
        with self._lock:
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one login per key at a time; the others wait and share it
            with self._lock:
                kept = self._kept.get(key)
            if kept is not None and not self._still_valid(kept, spec):
                self._drop(key, kept)
                kept = None
            fresh = kept is None
            if kept is None:
                kept = self._login(spec, settings, persist)
            with self._lock:
                self._kept[key] = kept
                kept.users += 1
                kept.persist = persist
                kept.last_used = time.monotonic()
        return kept, fresh

    def release(self, kept: _Kept) -> None:
        with self._lock:
            kept.users -= 1
            kept.last_used = time.monotonic()

    def _login(self, spec: ConnectionSpec, settings: Any, persist: float) -> _Kept:
        from orchestrator.transport.ssh import SSHConnection

        # A fresh read of known_hosts for every login: the file may have changed since the last.
        conn = SSHConnection(spec, known_hosts=self._known_hosts(_known_hosts_path(spec)))
        conn._ensure_login()  # raises ConnectError with the same message a direct run gives
        assert conn._client is not None  # _ensure_login() returned
        transport = conn._client.get_transport()
        server_key = transport.get_remote_server_key()
        return _Kept(
            conn=conn,
            host_key=(server_key.get_name(), server_key.get_base64()),
            known_hosts_name=settings.known_hosts_name(),
            persist=persist,
        )

    def _still_valid(self, kept: _Kept, spec: ConnectionSpec) -> bool:
        if not kept.conn._alive() or kept.conn.lost_reason:
            return False
        from orchestrator.transport.ssh import ssh_options

        if ssh_options(spec).host_key_checking == "off":
            return True
        try:
            known = self._known_hosts(_known_hosts_path(spec))
        except OrchError:
            return False
        recorded = known.known_keys(kept.known_hosts_name)
        if kept.host_key is None or kept.host_key[0] not in recorded:
            return False
        return recorded[kept.host_key[0]].get_base64() == kept.host_key[1]

    def _drop(self, key: str, kept: _Kept) -> None:
        with self._lock:
            if self._kept.get(key) is kept:
                del self._kept[key]
        with contextlib.suppress(Exception):
            kept.conn.close()

    def reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [
                (k, v)
                for k, v in self._kept.items()
                if v.users == 0 and (now - v.last_used >= v.persist or not v.conn._alive())
            ]
        for key, kept in expired:
            self._drop(key, kept)

    def status(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [
                {
                    "host": v.conn.spec.host,
                    "login": f"{v.conn.login_user}@{v.known_hosts_name}",
                    "channels": v.users,
                    "idle": round(now - v.last_used, 1),
                    "persist": v.persist,
                }
                for v in self._kept.values()
            ]

    # -- serving

    def serve(self) -> None:
        path = self.directory / SOCKET_NAME
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a dead keeper's socket: we hold the lock, so nobody else serves it
        old_umask = os.umask(0o177)
        try:
            server.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        server.listen(128)
        server.settimeout(REAP_EVERY)
        self._server = server
        try:
            while not self._stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    client = None
                except OSError:
                    if self._stop.is_set():
                        break  # `stop` shut the listener down
                    raise
                if client is not None:
                    with self._lock:
                        self._active += 1
                    threading.Thread(target=self._serve_client, args=(client,), daemon=True).start()
                self.reap()
                with self._lock:
                    busy = bool(self._kept) or self._active > 0
                    if busy:
                        self._idle_since = time.monotonic()
                    idle = time.monotonic() - self._idle_since
                if idle >= IDLE_EXIT:
                    break
        finally:
            with contextlib.suppress(OSError):
                path.unlink()  # ours: the lock keeps every other keeper of this directory out
            server.close()
            with self._lock:
                kept = list(self._kept.items())
            for key, value in kept:
                self._drop(key, value)

    def _stop_listening(self) -> None:
        """From `stop` on, no run reaches this keeper: the next one starts a new keeper, instead of
        connecting to this one while it closes its connections and exits under it."""
        self._stop.set()
        with contextlib.suppress(OSError):
            (self.directory / SOCKET_NAME).unlink()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() in serve()

    def _serve_client(self, client: socket.socket) -> None:
        try:
            uid = struct.unpack("3i", client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            if uid != os.getuid():
                return  # the socket is 0600 in a 0700 directory; this is belt and braces
            request = json.loads(read_line(client))
            self._handle(client, request)
        except (OSError, EOFError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()
            with self._lock:
                self._active -= 1

    def _handle(self, client: socket.socket, request: dict[str, Any]) -> None:
        from orchestrator.errors import ConnectError

        def reply(**answer: Any) -> None:
            client.sendall(json.dumps(answer).encode() + b"\n")

        if request.get("version") != PROTOCOL_VERSION:
            reply(ok=False, error=f"keeper speaks protocol {PROTOCOL_VERSION}, not {request.get('version')}")
            return
        op = request.get("op")
        if op == "status":
            reply(ok=True, pid=os.getpid(), connections=self.status())
            return
        if op == "stop":
            self._stop_listening()
            reply(ok=True, pid=os.getpid())
            return
        if op not in ("login", "exec", "sftp"):
            reply(ok=False, error=f"unknown keeper request {op!r}")
            return
        spec = spec_from_json(request["spec"])
        try:
            kept, fresh = self.acquire(spec, float(request.get("persist", 60)))
        except ConnectError as exc:
            reply(ok=False, error=str(exc))
            return
        except Exception as exc:  # a login that failed in a way ConnectError does not name
            reply(ok=False, error=f"{spec.host}: cannot connect: {exc}")
            return
        if op == "login":  # logged in (or still): the run learns its login user and whether it is new
            reply(ok=True, fresh=fresh, login_user=kept.conn.login_user)
            self.release(kept)
            return
        try:
            transport = kept.conn._client.get_transport()
            try:
                channel = transport.open_session(timeout=spec.connect_timeout)
                if op == "exec":
                    channel.exec_command(request["command"])
                else:
                    channel.invoke_subsystem("sftp")
            except Exception as exc:
                reply(ok=False, error=f"{spec.host}: cannot open a session: {exc}")
                return
            reply(ok=True, fresh=fresh, login_user=kept.conn.login_user)
            try:
                if op == "exec":
                    _relay_framed(client, channel)
                else:
                    _relay_raw(client, channel)
            finally:
                channel.close()
        finally:
            self.release(kept)


def _known_hosts_path(spec: ConnectionSpec) -> str:
    from orchestrator.transport.ssh import ssh_options

    return os.path.expanduser(ssh_options(spec).known_hosts_file or "~/.ssh/known_hosts")


def _relay_framed(client: socket.socket, channel: Any) -> None:
    """Client frames to the channel's stdin; its stdout/stderr/exit status back as frames."""
    pending = bytearray()
    client_open = True
    while True:
        ready, _, _ = select.select([client, channel] if client_open else [channel], [], [], 0.5)
        while channel.recv_ready():
            send_frame(client, b"O", channel.recv(1 << 16))
        while channel.recv_stderr_ready():
            send_frame(client, b"R", channel.recv_stderr(1 << 16))
        drained = not channel.recv_ready() and not channel.recv_stderr_ready()
        if drained and (channel.closed or (channel.eof_received and channel.exit_status_ready())):
            status = channel.exit_status if channel.exit_status_ready() else -1
            send_frame(client, b"X", EXIT.pack(status))
            return
        if client_open and client in ready:
            data = client.recv(1 << 16)
            if not data:
                return  # the run is gone: close the channel (its shell ends with it)
            pending += data
            for kind, payload in split_frames(pending):
                if kind == b"I":
                    channel.sendall(payload)
                elif kind == b"E":
                    channel.shutdown_write()


def _relay_raw(client: socket.socket, channel: Any) -> None:
    while True:
        ready, _, _ = select.select([client, channel], [], [], 0.5)
        if channel in ready or channel.recv_ready():
            data = channel.recv(1 << 16)
            if not data:
                return
            client.sendall(data)
        if client in ready:
            data = client.recv(1 << 16)
            if not data:
                return
            channel.sendall(data)
        if channel.closed:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.transport.keeper")
    parser.add_argument("--dir", required=True, help="the per-user directory of the socket")
    args = parser.parse_args(argv)
    directory = private_dir(Path(args.dir))
    lock = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            # Another keeper serves this directory, or (after `orch keeper stop`) is exiting.
            if time.monotonic() >= deadline:
                return 0
            time.sleep(0.05)
    from orchestrator.transport.liveness import silence_paramiko

    silence_paramiko()
    Keeper(directory).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
