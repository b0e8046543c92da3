"""The controller side: a connection pool whose connections live in Dask actors.

ClusterConnectionPool has the executor's ConnectionPool interface, so the play engine runs as in
local mode; each ShardConnection forwards its calls (run a script, move a file) to the actor of
the worker holding its host. A worker that disappears (killed, crashed, its machine gone) makes
every call for its hosts fail with ConnectError, the reason naming the worker: the hosts are
unreachable, the run goes on with the others and ends with exit 4; `--retry` reruns them.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from orchestrator.cluster.placement import Placement
from orchestrator.cluster.shard import Request, ShardExecutor
from orchestrator.errors import ConnectError
from orchestrator.executor.connections import ConnectionPool, clean_up_in_parallel
from orchestrator.transport.base import Connection, ConnectionSpec

POLL = 0.5  # seconds between checks, while waiting for a worker, that it is still there
COLLECT_WAIT = 1.0  # seconds a standing collect waits on the worker for an outcome
WATCH_INTERVAL = 1.0  # seconds between two looks at the scheduler's list of workers


class Shard:
    """One worker's actor and its mailbox, started on first use; `lost` is the reason once the
    worker is gone. Requests queue in `outbox`; a sender thread ships everything queued in one
    actor call, a receiver thread fetches finished outcomes and wakes their waiters."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.actor: Any = None
        self.future: Any = None
        self.lost: str | None = None
        self.lock = threading.RLock()  # reentrant: losing the worker while starting the actor
        self.libraries: set[str] = set()  # ShellLibrary keys the actor has: sent by key after that
        self.outbox: list[Request] = []
        self.pending: dict[int, Future[Any]] = {}  # request id -> its waiter
        self.wakeup = threading.Condition(self.lock)


class ClusterConnectionPool(ConnectionPool):
    supports_batch = False  # the workers run a host's commands one at a time (no pipelining)

    def __init__(
        self,
        client: Any,
        *,
        group_of: Callable[[str], str | None],
        threads: int,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.group_of = group_of
        self.threads = threads
        self._on_close = on_close
        workers = self._workers()
        self.placement = Placement({a: set((w.get("resources") or {}).keys()) for a, w in workers.items()})
        self.shards = {address: Shard(address) for address in self.placement.workers}
        self._local = ConnectionPool()  # ansible_connection=local stays on the controller
        self._shard_connections: dict[ConnectionSpec, ShardConnection] = {}
        self._closed = threading.Event()
        self._ids = itertools.count(1)
        # A worker silent this long is lost: Dask's own limit for a silent connection.
        self.silence = max(COLLECT_WAIT + 1.0, _dask_seconds("distributed.comm.timeouts.tcp", 30.0))
        self._watcher = threading.Thread(target=self._watch, name="orch-cluster-watch", daemon=True)
        self._watcher.start()

    # -- the ConnectionPool interface -------------------------------------------------------------

    def get(self, spec: ConnectionSpec) -> Connection:
        if spec.connection == "local":
            return self._local.get(spec)
        with self._lock:
            conn = self._shard_connections.get(spec)
            if conn is None:
                group = self.group_of(spec.host)
                address = self.placement.worker_for(spec.host, group)
                conn = ShardConnection(spec, self, self.shards[address] if address else None, group)
                self._shard_connections[spec] = conn
            return conn

    def drop(self, spec: ConnectionSpec) -> None:
        with self._lock:
            conn = self._shard_connections.pop(spec, None)
        if conn is not None:
            conn.close()
        self._local.drop(spec)

    def stats_by_host(self) -> dict[str, dict[str, int]]:
        out = self._local.stats_by_host()
        with self._lock:
            connections = list(self._shard_connections.values())
        for conn in connections:
            figures = out.setdefault(conn.spec.host, {})
            for key, value in conn.stats.as_dict().items():
                figures[key] = figures.get(key, 0) + value
        return out

    def abort_all(self) -> None:
        self._local.abort_all()
        with self._lock:
            connections = list(self._shard_connections.values())
        for conn in connections:
            conn.aborted = True
        for shard in self.shards.values():
            if shard.actor is not None and shard.lost is None:
                with contextlib.suppress(Exception):
                    shard.actor.abort()  # not waited for: the signal handler must return

    def clean_up_all(self, timeout: float) -> list[str]:
        with self._lock:
            connections = list(self._shard_connections.values())
        local = self._local.clean_up_all(timeout)
        return sorted(local + clean_up_in_parallel(connections, timeout, grace=0.5))

    def close_all(self) -> None:
        self._local.close_all()
        for shard in self.shards.values():
            if shard.actor is not None and shard.lost is None:
                with contextlib.suppress(Exception):
                    shard.actor.close().result(timeout=10)
        with self._lock:
            self._shard_connections.clear()
        self._closed.set()
        if self._on_close is not None:
            self._on_close()

    # -- talking to the shards ----------------------------------------------------------------------

    def placed(self) -> dict[str, list[str]]:
        """Worker address -> the hosts placed on it so far."""
        with self._lock:
            return self.placement.shards()

    def request(
        self, shard: Shard, spec: ConnectionSpec, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Queue one connection call for the shard and wait for its outcome."""
        waiter: Future[Any] = Future()
        with shard.lock:
            if shard.lost is not None:
                raise ConnectError(shard.lost)
            if shard.actor is None:
                self._start(shard)
            rid = next(self._ids)
            shard.pending[rid] = waiter
            shard.outbox.append((rid, spec, method, args, kwargs))
            shard.wakeup.notify_all()
        while True:
            try:
                return waiter.result(timeout=POLL)
            except FutureTimeout:
                if shard.lost is not None:
                    raise ConnectError(shard.lost) from None

    def _start(self, shard: Shard) -> None:
        """Create the shard's actor (under shard.lock) and its sender and receiver threads."""
        # Pinned to its worker, no retries: a shard never moves silently (its connections and
        # host state would be gone); losing its worker ends its hosts instead.
        shard.future = self.client.submit(
            ShardExecutor,
            self.threads,
            actor=True,
            workers=[shard.address],
            allow_other_workers=False,
            pure=False,
            retries=0,
        )
        shard.actor = self.wait(shard, shard.future)
        for target, name in ((self._send, "send"), (self._receive, "receive")):
            threading.Thread(target=target, args=(shard,), name=f"orch-shard-{name}", daemon=True).start()

    def _send(self, shard: Shard) -> None:
        while True:
            with shard.lock:
                while not shard.outbox and shard.lost is None and not self._closed.is_set():
                    shard.wakeup.wait(WATCH_INTERVAL)
                if shard.lost is not None or self._closed.is_set():
                    return
                batch, shard.outbox = shard.outbox, []
            try:
                self.wait(shard, shard.actor.submit(batch))
            except ConnectError:
                return

    def _receive(self, shard: Shard) -> None:
        while shard.lost is None and not self._closed.is_set():
            try:
                # collect answers within COLLECT_WAIT even when idle: silence far beyond that
                # is a frozen worker (its TCP connections still open), the one case no broken
                # comm reveals.
                outcomes = self.wait(shard, shard.actor.collect(COLLECT_WAIT), silence=self.silence)
            except ConnectError:
                return
            with shard.lock:
                waiters = [(shard.pending.pop(rid, None), outcome) for rid, outcome in outcomes]
            for waiter, outcome in waiters:
                if waiter is not None:
                    waiter.set_result(outcome)

    def wait(self, shard: Shard, call: Any, silence: float | None = None) -> Any:
        """The result of an actor call (an ActorFuture) or of the actor's creation (a Dask
        Future), checking meanwhile that the shard's worker lives; a broken connection to the
        worker means it is gone. Neither is waited for with Dask's `result(timeout=...)`: its
        timeout can race with the result and raise an unrelated error."""
        if hasattr(call, "status"):  # the creation: Dask keeps its status up to date locally
            while call.status == "pending" and shard.lost is None:
                time.sleep(0.05)
            relay: Future[Any] = Future()
            if shard.lost is None:
                try:
                    relay.set_result(call.result())
                except Exception as exc:
                    relay.set_exception(exc)
        else:
            relay = self._relay(call)
        started = time.monotonic()
        while True:
            if shard.lost is not None:
                raise ConnectError(shard.lost)
            try:
                return relay.result(timeout=POLL)
            except FutureTimeout:
                if silence is not None and time.monotonic() - started > silence:
                    self.lose(shard, f"it did not answer for {silence:.0f} s")
                continue
            except Exception as exc:
                self.lose(shard, f"{type(exc).__name__}: {exc}")
                raise ConnectError(shard.lost or "cluster worker lost") from None

    def _relay(self, actor_future: Any) -> Future[Any]:
        """A thread-side Future that the client's event loop completes with the actor call's
        result (or error: a cancelled call counts as a broken one)."""
        relay: Future[Any] = Future()

        async def forward() -> None:
            try:
                relay.set_result(await actor_future)
            except BaseException as exc:  # CancelledError too: the waiter must wake
                relay.set_exception(exc if isinstance(exc, Exception) else ConnectionError(repr(exc)))

        self.client.loop.add_callback(forward)
        return relay

    def lose(self, shard: Shard, why: str) -> None:
        """The shard's worker is gone: every call waiting for it fails now, later ones at once."""
        with shard.lock:
            if shard.lost is not None:
                return
            shard.lost = f"cluster worker {shard.address} was lost ({why}); its hosts were not finished"
            waiters, shard.pending = list(shard.pending.values()), {}
            shard.outbox = []
            shard.wakeup.notify_all()
        error = ConnectError(shard.lost)
        for waiter in waiters:
            waiter.set_exception(error)
        if shard.future is not None:
            with contextlib.suppress(Exception):
                shard.future.release()  # the scheduler must not recreate the actor elsewhere

    def _workers(self) -> dict[str, Any]:
        """The scheduler's workers now (address -> info). Asked directly: the client's cached
        scheduler_info() is replaced by its periodic refresh, which carries no workers."""
        identity = self.client.sync(self.client.scheduler.identity, n_workers=-1)
        return dict(identity.get("workers") or {})

    def _watch(self) -> None:
        """Notice a worker leaving the cluster even while no call to it is answered (a frozen
        machine keeps its TCP connections open; the scheduler drops it after missed heartbeats)."""
        while not self._closed.wait(WATCH_INTERVAL):
            try:
                alive = set(self._workers())
            except Exception:
                continue  # the scheduler itself is unreachable: calls to workers decide
            for address, shard in self.shards.items():
                if address not in alive and shard.lost is None:
                    self.lose(shard, "it left the cluster")


def _dask_seconds(key: str, default: float) -> float:
    import dask.config
    from dask.utils import parse_timedelta

    try:
        return float(parse_timedelta(dask.config.get(key, default), "s") or default)
    except (TypeError, ValueError):
        return default


class ShardConnection(Connection):
    """A host's connection as the engine sees it; the real one lives in the shard's actor."""

    supports_batch = False  # commands run on a worker, one at a time (no pipelining)

    def __init__(
        self, spec: ConnectionSpec, pool: ClusterConnectionPool, shard: Shard | None, group: str | None
    ):
        super().__init__(spec)
        self._pool = pool
        self._shard = shard
        self._group = group

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.check_not_aborted()
        shard = self._shard
        if shard is None:
            raise ConnectError(
                f"{self.spec.host}: no cluster worker offers the resource {self._group!r} "
                f"(the host's orch_cluster_worker_group)"
            )
        library = kwargs.get("library")
        if library is not None and library.key in shard.libraries:
            kwargs["library"] = library.key  # the actor has it: not 7 KB more on every call
        status, value, stats = self._pool.request(shard, self.spec, method, args, kwargs)
        if library is not None:
            shard.libraries.add(library.key)
        self._set_stats(stats)
        if status == "error":
            raise value
        return value

    def _set_stats(self, figures: dict[str, int]) -> None:
        with self.stats._lock:
            for key, value in figures.items():
                setattr(self.stats, key, value)

    def run(self, script: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._call("run", script, **kwargs)

    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        self._call("put", data, remote_path, mode)

    def get(self, remote_path: str) -> bytes:
        return self._call("get", remote_path)  # type: ignore[no-any-return]

    def clean_up(self, timeout: float) -> bool:
        self.aborted = False  # the actor's own connection was aborted; this call must go through
        try:
            return bool(self._call("clean_up", timeout))
        finally:
            self.aborted = True

    def _shell(self, become: Any) -> Any:
        raise NotImplementedError("a shard connection's shells live on its worker")

    def close(self) -> None:
        shard = self._shard
        if shard is not None and shard.actor is not None and shard.lost is None:
            with contextlib.suppress(Exception):
                shard.actor.close(self.spec).result(timeout=10)


__all__ = ["ClusterConnectionPool", "ShardConnection"]
