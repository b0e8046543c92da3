"""A TCP proxy that adds latency and counts what crosses it: the benchmark's WAN and its meter.

Each route listens on (listen address, port) and forwards to one lab host's sshd. Every chunk is
delivered `delay` seconds after it arrived, in order and without limiting throughput, so a
route behaves like a link with 2 x delay round-trip time. Per route it counts:

- connections: TCP connections accepted (what an SSH client opened to that host);
- round_trips: client-to-server bursts that follow server data, i.e. the times the client had
  to wait for the server before it could go on. On a real link each one costs one RTT, so this
  is the figure latency multiplies. It includes the SSH handshake and authentication;
- bytes_up / bytes_down.

Runs on its own asyncio loop in a thread (`LatencyProxy.start()`), or standalone:
`python -m bench.proxy --delay-ms 10 127.0.0.1:2222=127.0.2.11:22`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class RouteCounters:
    connections: int = 0
    round_trips: int = 0
    bytes_up: int = 0
    bytes_down: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "round_trips": self.round_trips,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
        }


@dataclass(frozen=True)
class Route:
    label: str  # e.g. the inventory host name
    listen: tuple[str, int]
    target: tuple[str, int]


@dataclass
class _Link:
    """One proxied connection: which side spoke last, to count turns."""

    counters: RouteCounters
    last: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class LatencyProxy:
    def __init__(self, routes: Iterable[Route], delay: float = 0.0) -> None:
        self.routes = list(routes)
        self.delay = delay
        self.counters: dict[str, RouteCounters] = {r.label: RouteCounters() for r in self.routes}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle (thread) ---------------------------------------------------------------------

    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._main, name="bench-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The counters so far, per route label (plain ints; safe to read from another thread)."""
        return {label: c.as_dict() for label, c in self.counters.items()}

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for server in self._servers:
                server.close()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            # Let the cancelled links finish, so nothing is destroyed while pending. (gather()
            # with no tasks looks for the thread's current loop, which this thread has not set.)
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _listen(self) -> None:
        for route in self.routes:
            server = await asyncio.start_server(
                lambda r, w, route=route: self._serve(route, r, w),
                host=route.listen[0],
                port=route.listen[1],
                reuse_address=True,
                backlog=512,
            )
            self._servers.append(server)

    # -- forwarding -----------------------------------------------------------------------------

    async def _serve(
        self, route: Route, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        counters = self.counters[route.label]
        try:
            server_r, server_w = await asyncio.open_connection(*route.target)
        except OSError:
            client_w.close()
            return
        for writer in (client_w, server_w):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        counters.connections += 1
        link = _Link(counters)
        # Cancelled when the proxy stops: end the link quietly (asyncio logs a cancelled handler).
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(
                self._pump(link, "up", client_r, server_w),
                self._pump(link, "down", server_r, client_w),
                return_exceptions=True,
            )
        for writer in (client_w, server_w):
            writer.close()

    async def _pump(
        self, link: _Link, direction: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, dst))
        try:
            while True:
                data = await src.read(1 << 16)
                if data:
                    if direction == "up":
                        link.counters.bytes_up += len(data)
                        if link.last != "up":
                            link.counters.round_trips += 1
                    else:
                        link.counters.bytes_down += len(data)
                    link.last = direction
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time(), b""))
        await deliver

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    else:
                        dst.close()
                    return
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            dst.close()


def _parse_route(text: str) -> Route:
    listen, _, target = text.partition("=")
    lh, _, lp = listen.rpartition(":")
    th, _, tp = target.rpartition(":")
    return Route(label=target, listen=(lh, int(lp)), target=(th, int(tp)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=10.0, help="one-way delay (default 10 = 20 ms RTT)")
    parser.add_argument("routes", nargs="+", metavar="LISTEN_HOST:PORT=TARGET_HOST:PORT")
    args = parser.parse_args(argv)
    proxy = LatencyProxy([_parse_route(r) for r in args.routes], args.delay_ms / 1000)
    with proxy, contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    for label, figures in proxy.snapshot().items():
        print(label, figures)


if __name__ == "__main__":
    main()
