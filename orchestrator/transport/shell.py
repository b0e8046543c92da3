"""The wire protocol between the controller and one persistent remote /bin/sh.

A host keeps one `/bin/sh` running for the whole run (one more per become user). Each command
is written to that shell's stdin as

    ( export K='v'; eval '<script, single-quoted>' ) </dev/null; printf '\\n<marker> %d\\n' $?; ...

so it costs one round trip, cannot read the protocol stream (stdin is /dev/null or its own
data), and cannot disturb the persistent shell: the script is one quoted literal, parsed only by
`eval` inside a subshell, so a syntax error or `exit` in it ends just that subshell. `eval` is a
builtin, so scripts are not bound by the kernel's 128 KiB limit on one exec argument. A random
marker per command ends stdout and stderr; nothing a command prints can fake it.

A ShellLibrary (shell functions the scripts call) is defined in the persistent shell itself, by
an `eval` in front of the first command that needs it; the subshells of later commands inherit
the functions. A host parses the library once per shell instead of with every script, and it
crosses the network once.

Carriers (a paramiko channel, a local subprocess) only move bytes; this module owns framing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.errors import BecomeError, ConnectError

# Bytes printf_literal must escape: all but printable ASCII that is safe inside single quotes.
_UNSAFE_PRINTF = re.compile(rb"[^A-Za-z0-9 _.,:/=+@#^~{}\[\]()<>;!?&|*$`\"-]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BecomeSpec:
    """Privilege escalation for one command. Only `sudo` is supported today."""

    user: str = "root"
    method: str = "sudo"
    password: str | None = field(default=None, repr=False)
    flags: str = ""  # extra sudo flags (ansible_become_flags), e.g. "-E"


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def quote(value: str | bytes) -> str:
    """Quote one value for a POSIX shell: the result is always exactly one word.

    Unlike shlex.quote it never returns a bare word for text containing glob characters and
    passes non-UTF-8 bytes through (surrogateescape), so hostile file names survive intact.
    """
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    if "\0" in text:
        raise ValueError("a NUL byte cannot be passed to a shell")
    return "'" + text.replace("'", "'\"'\"'") + "'"


def printf_literal(data: bytes) -> str:
    """A `printf` format string (already quoted) that prints exactly `data`, NUL bytes included.

    Printable ASCII goes as itself; everything else (and `%`, `\\`, quotes) as an octal escape,
    which every POSIX printf understands. Used to ship file content inside a script.
    """
    # One C-level pass over the data instead of a Python call per byte (file content can be big).
    escaped = _UNSAFE_PRINTF.sub(lambda m: b"\\%03o" % m[0][0], data).decode("ascii")
    if data[:1] == b"-":
        escaped = "\\055" + escaped[1:]  # a format starting with "-" would be read as an option by printf
    return "'" + escaped + "'"


@dataclass(frozen=True)
class ShellLibrary:
    """Shell function definitions, and nothing else: evaluated in the persistent shell, any other
    statement would run there, outside the per-command subshell."""

    text: str
    key: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", hashlib.sha256(self.text.encode()).hexdigest()[:16])


def wrap_command(
    script: str,
    marker: str,
    stdin: bytes | None,
    env: Mapping[str, str] | None,
    define: ShellLibrary | None = None,
) -> bytes:
    """The bytes to write to the persistent shell for one command (defining `define` first)."""
    exports = ""
    for name, value in (env or {}).items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        exports += f"export {name}={quote(str(value))}; "
    feed = f"printf {printf_literal(stdin)} | " if stdin is not None else ""
    redirect = "" if stdin is not None else " </dev/null"
    definition = f"eval {quote(define.text)}; " if define is not None else ""
    line = (
        f"{definition}{feed}( {exports}eval {quote(script)} ){redirect}; "
        f"printf '\\n{marker} %d\\n' \"$?\"; printf '\\n{marker}\\n' >&2\n"
    )
    return line.encode("utf-8", "surrogateescape")


class Carrier(Protocol):
    """A byte pipe to one running remote shell process."""

    def send(self, data: bytes) -> None: ...

    def receive(self, timeout: float | None) -> tuple[bytes, bytes]:
        """Wait up to `timeout` for output; return (stdout bytes, stderr bytes), possibly empty.

        Raises EOFError when the shell is gone (host died, connection dropped).
        """
        ...

    def close(self) -> None: ...


class ShellSession:
    """One persistent shell: sends commands, reads framed results. Not thread-safe by itself."""

    def __init__(self, carrier: Carrier, host: str, *, reports_pid: bool = False) -> None:
        self.carrier = carrier
        self.host = host
        self.broken = False
        self.defined: set[str] = set()  # keys of the libraries this shell has evaluated
        # A shell started with SHELL_START prints its PID (= its process group: sshd made it a
        # session leader) as the first line of stderr; an interrupt kills that group.
        self.pid: int | None = None
        self._pid_pending = reports_pid
        self._pid_line = bytearray()

    def run(
        self,
        script: str,
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        library: ShellLibrary | None = None,
    ) -> tuple[CommandResult, int, int]:
        """Run one command (with `library`'s functions defined); returns (result, bytes sent,
        bytes received)."""
        marker = "__ORCH_" + secrets.token_hex(8)
        define = library if library is not None and library.key not in self.defined else None
        payload = wrap_command(script, marker, stdin, env, define)
        if define is not None:
            self.defined.add(define.key)  # a shell that misses the rest of this command is broken anyway
        self.carrier.send(payload)
        end_out = b"\n" + marker.encode() + b" "
        end_err = b"\n" + marker.encode() + b"\n"
        out = bytearray()
        err = bytearray()
        out_end = err_end = -1
        deadline = None if timeout is None else time.monotonic() + timeout
        while out_end < 0 or err_end < 0:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.broken = True  # the command may still run; this shell is out of sync now
                raise TimeoutError(f"command did not finish within {timeout:g}s")
            chunk_out, chunk_err = self.receive(remaining)
            if chunk_out:
                out += chunk_out
                if out_end < 0 and out.endswith(b"\n"):
                    out_end = out.rfind(end_out)
            if chunk_err:
                err += chunk_err
                if err_end < 0 and err.endswith(end_err):
                    err_end = len(err) - len(end_err)
        rc = int(out[out_end + len(end_out) :].strip() or b"0")
        result = CommandResult(rc=rc, stdout=bytes(out[:out_end]), stderr=bytes(err[:err_end]))
        return result, len(payload), len(out) + len(err)

    def receive(self, timeout: float | None) -> tuple[bytes, bytes]:
        """The next output of the shell, its PID line (if still expected) taken out of stderr."""
        try:
            chunk_out, chunk_err = self.carrier.receive(timeout)
        except EOFError:
            self.broken = True
            raise ConnectError(f"{self.host}: connection lost while running a command") from None
        if self._pid_pending and chunk_err:
            self._pid_line += chunk_err
            if b"\n" not in self._pid_line:
                return chunk_out, b""
            first, _, rest = bytes(self._pid_line).partition(b"\n")
            self.pid = int(first) if first.strip().isdigit() else None
            self._pid_pending = False
            chunk_err = rest
        return chunk_out, chunk_err

    def start_batch(self, commands: list[BatchCommand], library: ShellLibrary | None = None) -> Batch:
        """Send several commands in one write (one round trip); read their results in order
        from the returned Batch, each as soon as the host has run it."""
        token = "__ORCH_B" + secrets.token_hex(8)
        define = library if library is not None and library.key not in self.defined else None
        payload = wrap_batch(commands, token, define)
        if define is not None:
            self.defined.add(define.key)
        self.carrier.send(payload)
        return Batch(self, token, len(commands), len(payload))


@dataclass(frozen=True)
class BatchCommand:
    """One command of a batch (ShellSession.start_batch).

    hold: run with `__orch_hold` set, so ModuleContext.converge reports a change without making
    it (the command runs ahead of one whose outcome the controller has not seen yet).
    go_on: the exit statuses after which the host runs the rest of the batch; None: any.
    stats, sums: paths a held command stats, and those whose content it checksums: the batch
    reads those of all its held commands in one go before the first of them (orch_prefetch_stats, orch_prefetch_sums in
    modules/shlib.py).
    """

    script: str
    stdin: bytes | None = None
    env: Mapping[str, str] | None = None
    hold: bool = False
    go_on: tuple[int, ...] | None = None
    stats: tuple[str, ...] = ()
    sums: tuple[str, ...] = ()


def wrap_batch(commands: list[BatchCommand], token: str, define: ShellLibrary | None = None) -> bytes:
    """The bytes for one batch: each command in its own subshell as in wrap_command, its stdout
    and stderr each ended by a frame line `<token> <index> <rc>` / `<token> <index>`; the first
    status outside a command's go_on skips the rest; `<token> end` closes both streams. The token
    is random per batch, so nothing a command prints can fake a frame."""
    parts = [f"eval {quote(define.text)}; " if define is not None else "", "__orch_go=1 __pf_sn=0 __pf_cn=0; "]
    held = [command for command in commands if command.hold]
    stats = list(dict.fromkeys(path for command in held for path in command.stats))
    sums = list(dict.fromkeys(path for command in held for path in command.sums))
    for index, command in enumerate(commands):
        if command.hold and (stats or sums):
            calls = "".join(
                f"{function} {' '.join(quote(path) for path in paths)}; "
                for function, paths in (("orch_prefetch_stats", stats), ("orch_prefetch_sums", sums))
                if paths
            )
            parts.append(f'if [ "$__orch_go" = 1 ]; then {calls}fi; ')
            stats, sums = [], []
        exports = ""
        for name, value in (command.env or {}).items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"invalid environment variable name {name!r}")
            exports += f"export {name}={quote(str(value))}; "
        if command.stdin is not None:
            feed, redirect = f"printf {printf_literal(command.stdin)} | ", ""
        else:
            feed, redirect = "", " </dev/null"
        hold = "__orch_hold=1; " if command.hold else ""
        stop = ""
        if command.go_on is not None:
            stop = f"case $__orch_r in {'|'.join(str(rc) for rc in command.go_on)}) ;; *) __orch_go=0 ;; esac; "
        parts.append(
            f'if [ "$__orch_go" = 1 ]; then {feed}( {exports}{hold}eval {quote(command.script)} ){redirect}; '
            f"__orch_r=$?; printf '\\n{token} {index} %d\\n' \"$__orch_r\"; printf '\\n{token} {index}\\n' >&2; "
            f"{stop}fi; "
        )
    parts.append(f"__pf_sn=0 __pf_cn=0; printf '\\n{token} end\\n'; printf '\\n{token} end\\n' >&2\n")
    return "".join(parts).encode("utf-8", "surrogateescape")


class Batch:
    """The results of a batch, read from the shell in order as they arrive."""

    def __init__(self, session: ShellSession, token: str, count: int, sent: int) -> None:
        self.session = session
        self.count = count
        self.sent = sent
        self.received = 0
        self.results: list[CommandResult] = []
        self.ended = False  # the end frame arrived: nothing more comes
        self._out = bytearray()
        self._err = bytearray()
        tok = re.escape(token.encode())
        self._out_frame = re.compile(rb"\n" + tok + rb" (\d+|end)(?: (-?\d+))?\n")
        self._err_frame = re.compile(rb"\n" + tok + rb" (\d+|end)\n")

    def result(self, index: int) -> CommandResult | None:
        """The result of command `index`, waiting for it; None when the host stopped before it."""
        while len(self.results) <= index and not self.ended:
            self._next()
        return self.results[index] if index < len(self.results) else None

    def drain(self) -> None:
        """Read everything up to the end frame (the shell is free for the next command then)."""
        while not self.ended:
            self._next()

    def _next(self) -> None:
        out_match = err_match = None
        while True:
            out_match = out_match or self._out_frame.search(self._out)
            err_match = err_match or self._err_frame.search(self._err)
            if out_match and err_match:
                break
            chunk_out, chunk_err = self.session.receive(None)
            self.received += len(chunk_out) + len(chunk_err)
            self._out += chunk_out
            self._err += chunk_err
        label = out_match[1]
        if label != err_match[1]:
            self.session.broken = True
            raise ConnectError(f"{self.session.host}: the batch's output is out of order")
        if label == b"end":
            self.ended = True
        else:
            self.results.append(
                CommandResult(
                    rc=int(out_match[2] or b"0"),
                    stdout=bytes(self._out[: out_match.start()]),
                    stderr=bytes(self._err[: err_match.start()]),
                )
            )
        del self._out[: out_match.end()]
        del self._err[: err_match.end()]


# The login shell of a connection: report the PID (see ShellSession.pid), sweep upload temp files
# that an earlier, crashed run of orch left (this user's, untouched for 10 minutes, so a
# concurrent run's upload is safe), in the background so no round trip waits for it, then become
# the persistent shell. `find -mmin` is not POSIX but GNU, busybox and BSD all have it. The glob
# comes first: `find` and `id` start only when some upload file is there at all (rarely).
SHELL_START = (
    "echo $$ >&2; "
    "( for f in /tmp/.orch-upload-*; do [ -e \"$f\" ] || break; "
    "exec find /tmp -maxdepth 1 -name '.orch-upload-*' -user \"$(id -u)\" -mmin +10 -exec rm -f {} +; "
    "done ) </dev/null >/dev/null 2>&1 & "
    "exec /bin/sh"
)


def become_command(become: BecomeSpec, prompt: str, ready: str) -> str:
    """The command that starts a persistent shell as the become user.

    sudo reads the password from stdin (-S) with our random prompt on stderr; without a password
    -n makes sudo fail at once instead of waiting for one. The inner shell prints `ready` first,
    so the controller knows when the password exchange is over and the protocol can start.
    """
    if become.method != "sudo":
        raise BecomeError(f"become method {become.method!r} is not supported (only sudo)")
    flags = become.flags.strip() or "-H"
    mode = f"-S -p {quote(prompt)}" if become.password is not None else "-n"
    inner = quote(f"echo {ready}; exec /bin/sh")
    return f"sudo {flags} {mode} -u {quote(become.user)} /bin/sh -c {inner}"


def become_handshake(
    carrier: Carrier, become: BecomeSpec, prompt: str, ready: str, host: str, timeout: float
) -> None:
    """Answer sudo's password prompt if it comes, then wait for the shell's ready line."""
    out = bytearray()
    err = bytearray()
    sent_password = False
    deadline = time.monotonic() + timeout
    while ready.encode() not in out:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectError(f"{host}: timed out waiting for privilege escalation (sudo)")
        try:
            chunk_out, chunk_err = carrier.receive(remaining)
        except EOFError:
            raise BecomeError(f"{host}: become failed: {_sudo_error(bytes(err), prompt)}") from None
        out += chunk_out
        err += chunk_err
        if err.endswith(prompt.encode()) or prompt.encode() in err:
            if sent_password:
                raise BecomeError(f"{host}: become failed: incorrect sudo password for this user")
            carrier.send((become.password or "").encode() + b"\n")
            sent_password = True
            err = err.replace(prompt.encode(), b"")


def _sudo_error(stderr: bytes, prompt: str) -> str:
    text = stderr.decode("utf-8", "replace").replace(prompt, "").strip()
    if "password is required" in text:
        return "sudo requires a password (use -K / --ask-become-pass or ansible_become_password)"
    if "not found" in text and "sudo" in text:
        return "sudo is not installed on the host"
    if "incorrect password" in text or "Sorry, try again" in text:
        return "incorrect sudo password"
    return text.splitlines()[-1] if text else "the become shell exited"
