"""The worker side: one ShardExecutor (a Dask actor) per worker holds its shard's connections.

Imported on the workers by its module path, so it needs orch installed there, not Dask-specific
code. Calls come in batches and go back in batches: a Dask actor call costs about a millisecond
of CPU on each side, as much as the SSH work of a task, so the controller sends every request
queued for the shard in one `submit`, and a standing `collect` returns every result finished
since the last one. Requests run on the shard's own thread pool (the controller's --forks),
results go back as each host finishes, so a slow host never holds back the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestrator.executor.connections import ConnectionPool
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.shell import ShellLibrary

# What the controller may call on a connection (a proxy never names anything else).
CALLS = frozenset({"run", "put", "get", "clean_up"})

# One request: (id, the host's connection spec, method, args, kwargs). One outcome: (id,
# ("ok", value, stats) or ("error", exception, stats)). Errors travel as values, so the
# controller re-raises exactly what a local connection would have (ConnectError, TimeoutError...).
Request = tuple[int, ConnectionSpec, str, tuple[Any, ...], dict[str, Any]]
Outcome = tuple[int, tuple[str, Any, dict[str, int]]]


class ShardExecutor:
    def __init__(self, threads: int) -> None:
        self._pool = ConnectionPool()
        self._libraries: dict[str, ShellLibrary] = {}  # by key: sent once, then named by the controller
        self._threads = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="orch-shard")
        self._done: list[Outcome] = []
        self._ready = asyncio.Event()

    async def submit(self, requests: list[Request]) -> int:
        """Start the requests (in order); their outcomes come back through collect()."""
        loop = asyncio.get_running_loop()
        for rid, spec, method, args, kwargs in requests:
            if method not in CALLS:
                raise ValueError(f"not a connection call: {method!r}")
            library = kwargs.get("library")
            if isinstance(library, ShellLibrary):
                self._libraries.setdefault(library.key, library)
            elif isinstance(library, str):
                kwargs = {**kwargs, "library": self._libraries[library]}
            future = loop.run_in_executor(self._threads, self._call, spec, method, args, kwargs)
            future.add_done_callback(functools.partial(self._on_done, rid))
        return len(requests)

    def _on_done(self, rid: int, future: asyncio.Future[Any]) -> None:
        self._finished(rid, future.result())

    def _finished(self, rid: int, outcome: tuple[str, Any, dict[str, int]]) -> None:
        self._done.append((rid, outcome))
        self._ready.set()

    async def collect(self, wait: float) -> list[Outcome]:
        """Every outcome finished since the last collect; waits up to `wait` seconds for one."""
        if not self._done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        done, self._done = self._done, []
        self._ready.clear()
        return done

    def _call(self, spec: ConnectionSpec, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            conn = self._pool.get(spec)
            value = getattr(conn, method)(*args, **kwargs)
        except Exception as exc:
            stats = self._pool.stats_by_host().get(spec.host, {})
            return "error", _portable(exc), stats
        return "ok", value, conn.stats.as_dict()

    async def abort(self) -> None:
        """Interrupt: every running command of the shard fails now (not queued behind them)."""
        self._pool.abort_all()

    async def close(self, spec: ConnectionSpec | None = None) -> None:
        """Close one host's connection (the controller dropped it), or all of them."""
        loop = asyncio.get_running_loop()
        if spec is None:
            await loop.run_in_executor(None, self._pool.close_all)
        else:
            await loop.run_in_executor(None, self._pool.drop, spec)


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling (it must cross to the controller), else a
    RuntimeError saying what it was: one odd exception must not lose the whole batch."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
