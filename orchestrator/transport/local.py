"""The local transport: the same persistent-shell protocol over a subprocess on the controller.

`ansible_connection: local` (and the implicit localhost) run here. Reusing ShellSession keeps
one semantics for every script and avoids a process spawn per task.
"""

from __future__ import annotations

import getpass
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

from orchestrator.errors import ConnectError
from orchestrator.transport.base import BecomeSpec, Connection, ConnectionSpec
from orchestrator.transport.shell import ShellSession, become_command, become_handshake


class ProcessCarrier:
    """A local /bin/sh subprocess as a Carrier."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()

    def send(self, data: bytes) -> None:
        assert self.proc.stdin
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise EOFError(str(exc)) from exc

    def receive(self, timeout: float | None) -> tuple[bytes, bytes]:
        ready, _, _ = select.select([self._out, self._err], [], [], timeout)
        out = os.read(self._out, 1 << 16) if self._out in ready else b""
        err = os.read(self._err, 1 << 16) if self._err in ready else b""
        if ready and not out and not err:
            raise EOFError("shell exited")
        return out, err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


class LocalConnection(Connection):
    def __init__(self, spec: ConnectionSpec) -> None:
        super().__init__(spec)
        self.login_user = getpass.getuser()

    def _shell(self, become: BecomeSpec | None) -> ShellSession:
        key = become.user if become is not None and become.user != self.login_user else None
        shell = self._shells.get(key)
        if shell is not None and not shell.broken:
            return shell
        if shell is not None:
            shell.carrier.close()
        if key is None:
            carrier = ProcessCarrier(["/bin/sh"])
        else:
            assert become is not None
            if shutil.which("sudo") is None:
                raise ConnectError(f"{self.spec.host}: become failed: sudo is not installed")
            prompt, ready = "orch-sudo-prompt-" + os.urandom(8).hex(), "orch-ready-" + os.urandom(8).hex()
            carrier = ProcessCarrier(["/bin/sh", "-c", become_command(become, prompt, ready)])
            become_handshake(carrier, become, prompt, ready, self.spec.host, self.spec.connect_timeout)
        if self.stats.connections == 0:
            self.stats.count(connections=1)
        shell = ShellSession(carrier, self.spec.host)
        self._shells[key] = shell
        return shell

    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        target = Path(remote_path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".orch-put.")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.stats.count(sent=len(data))  # a direct file write: bytes, but no shell round trip

    def get(self, remote_path: str) -> bytes:
        data = Path(remote_path).read_bytes()
        self.stats.count(received=len(data))
        return data

    def close(self) -> None:
        with self._lock:
            for shell in self._shells.values():
                shell.carrier.close()
            self._shells.clear()
