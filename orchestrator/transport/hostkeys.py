"""known_hosts handling: accept-new (default), strict, off; written atomically, shared by threads.

A changed key is always refused (in every mode but `off`), with both fingerprints shown. New keys
are recorded in accept-new mode, in the OpenSSH format, so `ssh` agrees with orch afterwards.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import paramiko

from orchestrator.config import HOST_KEY_MODES
from orchestrator.errors import ConnectError

MODES = HOST_KEY_MODES  # defined with the settings, which the CLI reads without paramiko


class KnownHosts:
    """One known_hosts file, loaded once per run and shared by every connection."""

    _instances: dict[str, KnownHosts] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys = paramiko.HostKeys()
        if Path(path).is_file():
            try:
                self._keys.load(path)
            except (OSError, paramiko.SSHException) as exc:
                raise ConnectError(f"cannot read known_hosts file {path}: {exc}") from None

    @classmethod
    def default(cls, path: str | None = None) -> KnownHosts:
        path = os.path.expanduser(path or "~/.ssh/known_hosts")
        with cls._instances_lock:
            if path not in cls._instances:
                cls._instances[path] = cls(path)
            return cls._instances[path]

    def load_into(self, client: paramiko.SSHClient, name: str) -> None:
        """Give `client` the keys known for `name`, so paramiko verifies them and prefers their type."""
        with self._lock:
            entries = self._keys.lookup(name)
            if entries:
                for keytype, key in entries.items():
                    client.get_host_keys().add(name, keytype, key)

    def known_keys(self, name: str) -> dict[str, paramiko.PKey]:
        """The keys recorded for `name`, by type (empty when the host is new)."""
        with self._lock:
            entries = self._keys.lookup(name)
            return dict(entries.items()) if entries else {}

    def add(self, name: str, key: paramiko.PKey) -> None:
        """Record a new key: re-read the file (another run may have written it), append, rename."""
        with self._lock:
            self._keys.add(name, key.get_name(), key)
            target = Path(self.path)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = target.read_text() if target.is_file() else ""
            if existing and not existing.endswith("\n"):
                existing += "\n"
            line = f"{name} {key.get_name()} {key.get_base64()}\n"
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".known_hosts.")
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(existing + line)
                    handle.flush()
                    os.fsync(handle.fileno())  # the rename must not publish an empty file after a crash
                os.chmod(tmp, 0o600 if not target.exists() else target.stat().st_mode & 0o777)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


class _Policy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only for a host with no known key of the offered type."""

    def __init__(self, mode: str, known: KnownHosts, name: str) -> None:
        self.mode = mode
        self.known = known
        self.name = name

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.mode == "off":
            return
        known = self.known.known_keys(hostname)
        if known:
            # Known, but under other key types only: a server that suddenly offers just a new
            # type is what a man in the middle looks like. Refuse, as for a changed key.
            was = ", ".join(f"{kind} {old.fingerprint}" for kind, old in known.items())
            raise ConnectError(
                f"{self.name}: host key for {hostname} has CHANGED: it now offers {key.get_name()} "
                f"{key.fingerprint}, but {self.known.path} knows it as {was}; refusing to connect. "
                f"If the host was reinstalled, remove the old key (ssh-keygen -R {hostname})"
            )
        if self.mode == "strict":
            raise ConnectError(
                f"{self.name}: host key for {hostname} is not in {self.known.path} "
                f"({key.get_name()} {key.fingerprint}); host_key_checking is strict. "
                "Add it (ssh-keyscan) or use --host-key-checking accept-new"
            )
        self.known.add(hostname, key)


def host_key_policy(mode: str, known: KnownHosts, name: str) -> paramiko.MissingHostKeyPolicy:
    """The policy for one host; `name` is how known_hosts names it (`addr` or `[addr]:port`)."""
    if mode not in MODES:
        raise ConnectError(f"host_key_checking must be one of {', '.join(MODES)}; got {mode!r}")
    return _Policy(mode, known, name)
