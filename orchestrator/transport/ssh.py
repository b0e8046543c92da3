"""SSH transport on paramiko: one TCP connection per host for the whole run.

Everything travels over that one connection: a persistent shell channel for the login user, one
more per become user, and SFTP for big files. TCP_NODELAY is set because without it every
small command waits on Nagle + delayed ACK (~40 ms on loopback).
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import os
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import paramiko

from orchestrator.errors import ConnectError
from orchestrator.transport.base import BecomeSpec, Connection, ConnectionSpec
from orchestrator.transport.hostkeys import KnownHosts, host_key_policy
from orchestrator.transport.liveness import AliveSettings, ConnectDeadline, KeepaliveWatch, silence_paramiko
from orchestrator.transport.shell import (
    SHELL_START,
    Carrier,
    ShellSession,
    become_command,
    become_handshake,
    quote,
)

CONNECT_ATTEMPTS = 3

# paramiko checks every received packet's MAC with a pure-Python byte loop
# (util.constant_time_bytes_eq); hmac.compare_digest is the same constant-time comparison in C.
# In a profile of a 30-host run it was the largest self time of the transport threads.
paramiko.util.constant_time_bytes_eq = hmac.compare_digest
silence_paramiko()


# sh: up to ~0.75 s until no other child of this session's sshd ($PPID) is left (Linux /proc; where
# there is no /proc the loop ends at once).
_WAIT_FOR_SIBLINGS = (
    "n=0; while [ $n -lt 15 ]; do busy=; for s in /proc/[0-9]*/stat; do "
    "read -r p c st pp rest < \"$s\" 2>/dev/null || continue; "
    "[ \"$pp\" = \"$PPID\" ] && [ \"$p\" != $$ ] && busy=1 && break; done; "
    "[ -z \"$busy\" ] && break; sleep 0.05; n=$((n+1)); done"
)

class ChannelCarrier:
    """A paramiko session channel running a shell, as a Carrier for ShellSession."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        # Set by paramiko when stdout or stderr data (or EOF) arrives. A plain Event, not the OS
        # pipe that channel.fileno() would create: that costs a write and a read per packet,
        # plus a select() per wait, in the two threads that handle every command's output.
        self._ready = threading.Event()
        channel.in_buffer.set_event(self._ready)
        channel.in_stderr_buffer.set_event(self._ready)

    def send(self, data: bytes) -> None:
        try:
            self.channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise EOFError(str(exc)) from exc

    def receive(self, timeout: float | None) -> tuple[bytes, bytes]:
        chan = self.channel
        # Clear before looking: data that lands after the look sets the event again, so the
        # wait below cannot miss it (a read of one stream may clear the event the other set).
        self._ready.clear()
        waiting = not (chan.recv_ready() or chan.recv_stderr_ready() or chan.closed or chan.eof_received)
        if waiting and not self._ready.wait(timeout):
            return b"", b""
        out = chan.recv(1 << 16) if chan.recv_ready() else b""
        err = chan.recv_stderr(1 << 16) if chan.recv_stderr_ready() else b""
        if not out and not err and (chan.closed or chan.eof_received or chan.exit_status_ready()):
            raise EOFError("channel closed")
        return out, err

    def close(self) -> None:
        self.channel.close()


@dataclass(frozen=True)
class SSHOptions:
    """The ssh transport's own part of a ConnectionSpec (ConnectionSpec.options)."""

    port: int = 22
    private_key_file: str | None = None
    host_key_checking: str = "accept-new"  # "strict" | "accept-new" | "off"
    known_hosts_file: str | None = None  # None: ~/.ssh/known_hosts
    jump: str | None = None  # ProxyJump spec "user@host:port[,user@host:port]"
    ssh_config_file: str | None = None  # None: ~/.ssh/config when it exists
    alive: AliveSettings = field(default_factory=AliveSettings)  # ServerAliveInterval x ServerAliveCountMax


def ssh_options(spec: ConnectionSpec) -> SSHOptions:
    return spec.options if isinstance(spec.options, SSHOptions) else SSHOptions()


class SSHConnection(Connection):
    def __init__(self, spec: ConnectionSpec, known_hosts: KnownHosts | None = None) -> None:
        super().__init__(spec)
        self.options = ssh_options(spec)
        self._known_hosts = known_hosts
        self._client: paramiko.SSHClient | None = None
        self._jump_clients: list[paramiko.SSHClient] = []
        self._sftp: paramiko.SFTPClient | None = None
        # An upload registers its temp file and SFTP channel, or sees the abort: never between.
        self._upload_start = threading.Lock()
        self._watch: KeepaliveWatch | None = None
        self._killed_groups: set[int] = set()
        self.login_user: str = spec.user or ""

    @property
    def lost_reason(self) -> str | None:
        return self._watch.reason if self._watch is not None else None

    # -- connecting ---------------------------------------------------------------------------

    def _connect(self) -> paramiko.SSHClient:
        if self._client is not None and self._client.get_transport() is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return self._client
            raise ConnectError(f"{self.spec.host}: {self.lost_reason or 'connection lost'}")
        settings = resolve_ssh_settings(self.spec)
        self.login_user = settings.user
        # One deadline for the whole connect, retries included: a stopped host (TCP accepted by
        # its kernel, no banner ever) costs connect_timeout, whatever paramiko raises on the way.
        timeout = self.spec.connect_timeout
        deadline = time.monotonic() + timeout
        delay = 0.5
        last_error: Exception | None = None
        for attempt in range(CONNECT_ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self._client = self._open_client(settings, self.spec.host, remaining)
                self.stats.count(connections=1)
                return self._client
            except ConnectError:
                raise
            except (OSError, paramiko.SSHException, EOFError) as exc:
                last_error = exc
                if attempt + 1 < CONNECT_ATTEMPTS and _retryable(exc) and deadline - time.monotonic() > delay:
                    time.sleep(delay)
                    delay *= 2
                    continue
                break
        if last_error is None or time.monotonic() >= deadline - 0.05:
            reason = f"no answer within {timeout:g} s"
            if last_error is not None and not isinstance(last_error, (socket.timeout, TimeoutError)):
                reason += f" ({_describe(last_error)})"
        else:
            reason = _describe(last_error)
        raise ConnectError(f"{self.spec.host}: cannot connect to {settings.describe()}: {reason}")

    def _open_client(
        self, settings: SSHSettings, label: str, budget: float | None = None
    ) -> paramiko.SSHClient:
        sock: socket.socket | paramiko.Channel | paramiko.ProxyCommand
        budget = self.spec.connect_timeout if budget is None else budget
        tcp: socket.socket | None = None
        if settings.jump:
            sock = self._jump_channel(settings)
        elif settings.proxy_command:
            sock = paramiko.ProxyCommand(settings.proxy_command)
        else:
            sock = tcp = socket.create_connection((settings.address, settings.port), timeout=budget)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client, known = self._new_client(settings)
        guard = ConnectDeadline(budget)
        guard.arm(tcp)
        try:
            client.connect(
                settings.address,
                port=settings.port,
                username=settings.user,
                password=self.spec.password,
                key_filename=settings.identity_files or None,
                look_for_keys=not settings.identity_files,
                allow_agent=True,
                timeout=budget,
                banner_timeout=budget,
                auth_timeout=budget,
                sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise ConnectError(
                f"{label}: host key for {settings.known_hosts_name()} has CHANGED "
                f"(now {exc.key.get_name()} {exc.key.fingerprint}, "
                f"expected {exc.expected_key.fingerprint}); "
                "refusing to connect. If the host was reinstalled, remove the old key from "
                f"{known.path} (ssh-keygen -R {settings.known_hosts_name()})"
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise ConnectError(f"{label}: authentication failed for user {settings.user!r}: {exc}") from None
        except BaseException:
            client.close()
            raise
        finally:
            guard.disarm()
        if guard.expired:
            client.close()
            raise TimeoutError("connect deadline passed")
        transport = client.get_transport()
        assert transport is not None
        if label == self.spec.host:  # the target, not a jump hop
            self._watch = KeepaliveWatch(transport, tcp, self.options.alive)
        return client

    def _jump_channel(self, settings: SSHSettings) -> paramiko.Channel:
        """Open each ProxyJump hop in turn; the last one tunnels to the target (direct-tcpip)."""
        previous: paramiko.SSHClient | None = None
        for hop in settings.jump.split(","):
            hop_settings = SSHSettings.from_jump(hop, settings)
            if previous is None:
                client = self._open_client(hop_settings, f"{self.spec.host} (jump {hop})")
            else:
                transport = previous.get_transport()
                assert transport is not None
                channel = transport.open_channel(
                    "direct-tcpip", (hop_settings.address, hop_settings.port), ("127.0.0.1", 0)
                )
                client = _client_over(channel, hop_settings, self, f"{self.spec.host} (jump {hop})")
            self._jump_clients.append(client)
            previous = client
        assert previous is not None
        transport = previous.get_transport()
        assert transport is not None
        return transport.open_channel("direct-tcpip", (settings.address, settings.port), ("127.0.0.1", 0))

    def _new_client(self, settings: SSHSettings) -> tuple[paramiko.SSHClient, KnownHosts]:
        client = paramiko.SSHClient()
        known = self._known_hosts or KnownHosts.default(self.options.known_hosts_file)
        if self.options.host_key_checking != "off":
            known.load_into(client, settings.known_hosts_name())
        client.set_missing_host_key_policy(host_key_policy(self.options.host_key_checking, known, settings.known_hosts_name()))
        return client, known

    # -- shells ---------------------------------------------------------------------------------

    def _shell(self, become: BecomeSpec | None) -> ShellSession:
        self._ensure_login()
        key = become.user if become is not None and become.user != self.login_user else None
        shell = self._shells.get(key)
        if shell is not None and not shell.broken:
            return shell
        if shell is not None:
            shell.carrier.close()
        if key is None:
            carrier = self._start_command(SHELL_START)
        else:
            assert become is not None
            prompt, ready = _random_token("orch-sudo-prompt"), _random_token("orch-ready")
            carrier = self._start_command(become_command(become, prompt, ready))
            try:
                become_handshake(carrier, become, prompt, ready, self.spec.host, self.spec.connect_timeout)
            except EOFError:  # the password could not be sent: the channel is gone
                carrier.close()
                why = self.lost_reason or "connection lost"
                raise ConnectError(f"{self.spec.host}: cannot start a shell: {why}") from None
            self.stats.count(round_trips=1)
        shell = ShellSession(carrier, self.spec.host, reports_pid=key is None)
        self._shells[key] = shell
        return shell

    def _ensure_login(self) -> None:
        """Connected and logged in (sets login_user, which the become shells are keyed against)."""
        self._connect()

    def _start_command(self, command: str) -> Carrier:
        """A new session channel running `command` on the host, as a byte pipe to it."""
        transport = self._connect().get_transport()
        assert transport is not None
        try:
            channel = transport.open_session(timeout=self.spec.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectError(f"{self.spec.host}: cannot open a session: {_describe(exc)}") from None
        carrier = ChannelCarrier(channel)
        try:
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            carrier.close()
            why = self.lost_reason or _describe(exc)
            raise ConnectError(f"{self.spec.host}: cannot start a shell: {why}") from None
        return carrier

    # -- files ----------------------------------------------------------------------------------

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            client = self._connect()
            try:
                self._sftp = client.open_sftp()
            except (paramiko.SSHException, OSError) as exc:
                raise ConnectError(f"{self.spec.host}: SFTP is not available: {_describe(exc)}") from None
        return self._sftp

    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        with self._lock:
            with self._upload_start:
                self.check_not_aborted()
                sftp = self._sftp_client()
                self.temp_files.add(remote_path)
            try:
                # Create with the final mode so the content is never readable by others, even briefly.
                with sftp.open(remote_path, "wb") as handle:
                    handle.chmod(mode)
                    handle.set_pipelined(True)
                    handle.write(data)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                self._raise_lost(exc, "copying a file")
            self.stats.count(sent=len(data), round_trips=3)

    def get(self, remote_path: str) -> bytes:
        with self._lock:
            self.check_not_aborted()
            sftp = self._sftp_client()
            try:
                with sftp.open(remote_path, "rb") as handle:
                    handle.prefetch()
                    data = handle.read()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                self._raise_lost(exc, "fetching a file")
            self.stats.count(received=len(data), round_trips=2)
            return data

    def _alive(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    def _raise_lost(self, exc: BaseException, doing: str) -> NoReturn:
        if isinstance(exc, OSError) and self._alive() and not isinstance(exc, (socket.timeout, TimeoutError)):
            raise exc  # the host answered: a remote file error (ENOENT...), the module reports it
        why = self.lost_reason or _describe(exc if isinstance(exc, Exception) else None)
        raise ConnectError(f"{self.spec.host}: connection lost while {doing}: {why}") from None

    def abort(self) -> None:
        """Interrupt: make every command and transfer on this host fail now (another thread may
        be blocked in them), keeping the connection so `clean_up` can still reach the host."""
        self.aborted = True
        for shell in list(self._shells.values()):
            shell.broken = True
            if shell.pid is not None:
                self._killed_groups.add(shell.pid)
            with contextlib.suppress(Exception):
                shell.carrier.close()
        # Bounded: the signal handler calls this; an upload opening its channel takes a moment.
        started = self._upload_start.acquire(timeout=0.5)
        try:
            sftp, self._sftp = self._sftp, None
        finally:
            if started:
                self._upload_start.release()
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()

    def clean_up(self, timeout: float) -> bool:
        """After abort(): kill what the aborted commands left running (their shells' process
        groups) and remove this run's upload temp files, on a channel of its own. True when the
        host confirmed it within `timeout`."""
        if not self._alive():
            return False
        words = [f"kill -TERM -- -{pid} 2>/dev/null" for pid in sorted(self._killed_groups)]
        if self.temp_files:
            # An upload's open may still sit unread in the closed SFTP channel's pipe: the
            # sftp-server (a sibling of this command, a child of our sshd) would create the file
            # after the rm. Wait (bounded) for our other sessions' processes to end first.
            words.append(_WAIT_FOR_SIBLINGS)
            words.append("rm -f -- " + " ".join(quote(p) for p in sorted(self.temp_files)))
        if not words:
            return True
        done = self._run_to_exit("; ".join(words) + "; exit 0", timeout)
        if done:
            self.temp_files.clear()
        return done

    def _run_to_exit(self, command: str, timeout: float) -> bool:
        """Run `command` on a channel of its own; True when it exited within `timeout`."""
        transport = self._client.get_transport() if self._client is not None else None
        if transport is None:
            return False
        try:
            channel = transport.open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
            deadline = time.monotonic() + timeout
            while not channel.exit_status_ready() and time.monotonic() < deadline:
                time.sleep(0.02)
            done = channel.exit_status_ready()
            channel.close()
        except (paramiko.SSHException, OSError, EOFError):
            return False
        return done

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        with self._lock:
            for shell in self._shells.values():
                shell.carrier.close()
            self._shells.clear()
            if self._sftp is not None:
                self._sftp.close()
                self._sftp = None
            for client in [self._client, *reversed(self._jump_clients)]:
                if client is not None:
                    client.close()
            self._client = None
            self._jump_clients.clear()


def _client_over(
    channel: paramiko.Channel, settings: SSHSettings, conn: SSHConnection, label: str
) -> paramiko.SSHClient:
    client, _ = conn._new_client(settings)
    try:
        client.connect(
            settings.address,
            port=settings.port,
            username=settings.user,
            sock=channel,
            key_filename=settings.identity_files or None,
            timeout=conn.spec.connect_timeout,
        )
    except paramiko.AuthenticationException as exc:
        raise ConnectError(f"{label}: authentication failed for user {settings.user!r}: {exc}") from None
    return client


class SSHSettings:
    """The effective settings for one SSH hop: inventory vars over ~/.ssh/config over defaults."""

    def __init__(
        self, address: str, port: int, user: str, identity_files: list[str], jump: str, proxy_command: str
    ) -> None:
        self.address = address
        self.port = port
        self.user = user
        self.identity_files = identity_files
        self.jump = jump
        self.proxy_command = proxy_command

    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    def describe(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    @classmethod
    def from_jump(cls, hop: str, target: SSHSettings) -> SSHSettings:
        user, _, rest = hop.rpartition("@")
        host, _, port = rest.partition(":")
        config = _ssh_config(None).lookup(host)
        return cls(
            address=config.get("hostname", host),
            port=int(port or config.get("port", 22)),
            user=user or config.get("user") or target.user,
            identity_files=[os.path.expanduser(p) for p in config.get("identityfile", [])]
            or target.identity_files,
            jump="",
            proxy_command="",
        )


def resolve_ssh_settings(spec: ConnectionSpec) -> SSHSettings:
    options = ssh_options(spec)
    config = _ssh_config(options.ssh_config_file).lookup(spec.address)
    identity = [options.private_key_file] if options.private_key_file else config.get("identityfile", [])
    jump = options.jump or config.get("proxyjump", "")
    if jump.lower() == "none":
        jump = ""
    return SSHSettings(
        address=config.get("hostname", spec.address),
        port=options.port if options.port != 22 or "port" not in config else int(config["port"]),
        user=spec.user or config.get("user") or _local_user(),
        identity_files=[os.path.expanduser(p) for p in identity],
        jump=jump,
        proxy_command=config.get("proxycommand", "") if not jump else "",
    )


_config_cache: dict[str, paramiko.SSHConfig] = {}
_config_lock = threading.Lock()


def _ssh_config(path: str | None) -> paramiko.SSHConfig:
    path = path or os.path.expanduser("~/.ssh/config")
    with _config_lock:
        if path not in _config_cache:
            _config_cache[path] = (
                paramiko.SSHConfig.from_path(path) if Path(path).is_file() else paramiko.SSHConfig()
            )
        return _config_cache[path]


def parse_ssh_common_args(args: str) -> dict[str, str]:
    """Pick ProxyJump / ProxyCommand out of ansible_ssh_common_args (`-J`, `-o ProxyJump=...`)."""
    # Resolved for every task on every host, nearly always from the same group-wide string.
    return dict(_parse_ssh_common_args(args or ""))


@functools.lru_cache(maxsize=256)
def _parse_ssh_common_args(args: str) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    words = shlex.split(args or "")
    for i, word in enumerate(words):
        value = None
        if word == "-J" and i + 1 < len(words):
            found["proxyjump"] = words[i + 1]
        elif word.startswith("-J"):
            found["proxyjump"] = word[2:]
        elif word == "-o" and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("-o"):
            value = word[2:]
        if value:
            key, _, val = value.replace("=", " ", 1).partition(" ")
            found[key.strip().lower()] = val.strip()
    return tuple(found.items())


def _random_token(prefix: str) -> str:
    import secrets

    return f"{prefix}-{secrets.token_hex(8)}"


def _local_user() -> str:
    import getpass

    return getpass.getuser()


def _retryable(exc: Exception) -> bool:
    # Refused/reset/timeouts are worth a retry (sshd restarting, MaxStartups); auth is not.
    return isinstance(exc, (OSError, EOFError)) or "Error reading SSH protocol banner" in str(exc)


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc) or type(exc).__name__
    return text.strip()
