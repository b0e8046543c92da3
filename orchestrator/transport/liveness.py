"""Dead and stalled hosts: SSH keepalives with a reply deadline, and a bounded connect.

A host whose processes are stopped (a frozen VM, a dead NFS mount) keeps its TCP connection: the
kernel still ACKs, so nothing on the socket ever fails and a command on it would wait forever.
OpenSSH's answer is ServerAliveInterval x ServerAliveCountMax: after a silence of the server,
send `keepalive@openssh.com` requests that must be answered, and give up when they are not.

`KeepaliveWatch` does the same for one paramiko transport. It counts the server as alive when any
packet arrives (a command's output, a window adjust, a keepalive reply), so a busy host costs
nothing. After `interval / 3` of silence it sends a probe, then one every `interval`; when the
silence reaches `interval * count_max` it declares the host dead: it records a one-line reason
("no answer to 3 keepalives in 45 s") and shuts the socket down, which wakes every thread blocked
on that connection (a read, or a send into a full window) with an error the caller turns into
"unreachable". Probes are sent from a short-lived thread, since a send into a stalled peer's full
window blocks, and the watcher itself must never block.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko
from paramiko.common import cMSG_GLOBAL_REQUEST
from paramiko.message import Message

KEEPALIVE_REQUEST = "keepalive@openssh.com"
TICK = 0.5  # how often a watcher looks at its connection


@dataclass(frozen=True)
class AliveSettings:
    """ServerAliveInterval (seconds, 0 = off) and ServerAliveCountMax, as OpenSSH names them."""

    interval: float = 15.0
    count_max: int = 3

    @property
    def enabled(self) -> bool:
        return self.interval > 0 and self.count_max > 0

    @property
    def deadline(self) -> float:
        return self.interval * self.count_max

    @classmethod
    def parse(cls, text: str) -> AliveSettings:
        """`15`, `15x3` or `0` (off): the --ssh-alive option."""
        interval, _, count = str(text).lower().partition("x")
        try:
            settings = cls(float(interval), int(count) if count else 3)
        except ValueError:
            raise ValueError(f"expected SECONDS or SECONDSxCOUNT (e.g. 15x3), got {text!r}") from None
        if settings.interval < 0 or settings.count_max < 0:
            raise ValueError(f"keepalive settings must not be negative: {text!r}")
        return settings


def silence_paramiko() -> None:
    """paramiko logs its transport thread's exceptions (tracebacks included) at ERROR; with no
    logging configured they would reach the terminal through logging.lastResort. Every one of
    them also surfaces as an exception orch turns into a one-line message, so drop them."""
    logger = logging.getLogger("paramiko")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


class KeepaliveWatch:
    """Watches one connected transport; `reason` is set once the host is declared dead."""

    def __init__(
        self, transport: paramiko.Transport, sock: socket.socket | None, settings: AliveSettings
    ) -> None:
        self.transport = transport
        self.sock = sock
        self.settings = settings
        self.reason: str | None = None
        self._last_input = time.monotonic()
        self._probes = 0  # sent since the last input
        self._sending: threading.Thread | None = None
        self._stop = threading.Event()
        packetizer = transport.packetizer
        read_message: Callable[[], tuple[int, Message]] = packetizer.read_message

        def counted_read() -> tuple[int, Message]:
            message = read_message()
            self._last_input = time.monotonic()
            self._probes = 0
            return message

        packetizer.read_message = counted_read  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._watch, name="orch-keepalive", daemon=True)
        if settings.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        interval = self.settings.interval
        while not self._stop.wait(TICK):
            if not self.transport.is_active():
                return
            silent = time.monotonic() - self._last_input
            if silent >= self.settings.deadline:
                self.declare_dead(
                    f"no answer to {self._probes} keepalive{'s' if self._probes != 1 else ''} "
                    f"in {silent:.0f} s"
                )
                return
            due = interval / 3 + self._probes * interval
            if silent >= due and (self._sending is None or not self._sending.is_alive()):
                self._probes += 1
                self._sending = threading.Thread(target=self._probe, name="orch-keepalive-send", daemon=True)
                self._sending.start()

    def _probe(self) -> None:
        message = Message()
        message.add_byte(cMSG_GLOBAL_REQUEST)
        message.add_string(KEEPALIVE_REQUEST)
        message.add_boolean(True)  # want a reply: OpenSSH answers with REQUEST_FAILURE, which counts
        with contextlib.suppress(Exception):  # a dead link fails here; the deadline decides
            self.transport._send_user_message(message)

    def declare_dead(self, reason: str) -> None:
        self.reason = reason
        self._stop.set()
        kill_socket(self.sock)
        with contextlib.suppress(Exception):
            self.transport.close()


def kill_socket(sock: socket.socket | None) -> None:
    """shutdown() wakes threads blocked in recv or send on the socket; close() alone does not."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class ConnectDeadline:
    """Bounds one whole connect (TCP, banner, key exchange, auth) by wall time: when it passes,
    the socket is shut down, so whatever paramiko was waiting for fails at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._timer: threading.Timer | None = None

    def arm(self, sock: socket.socket | None) -> None:
        def expire() -> None:
            self.expired = True
            kill_socket(sock)

        self._timer = threading.Timer(self.seconds, expire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
