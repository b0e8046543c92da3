"""Bounds on templating on the controller: time (the task's timeout) and memory (a budget).

A template is rendered by plain Python code on the host's worker thread: a runaway loop or a
list that grows without end would hold that thread forever, or grow the controller until the
machine swaps, and take every other host down with it. Python cannot kill a thread, but it can
raise an exception in one at its next bytecode (PyThreadState_SetAsyncExc). A watchdog thread
looks at the renders in progress every 50 ms and stops:
- a render still running past its deadline (the task timeout the task runner set for this host);
- when the controller's resident memory is past the budget, the render that has run longest
  (ordinary renders take microseconds; the runaway one is the old one).
The stopped render raises TemplateLimitExceeded, a TemplateError: its host's task fails with the
reason and the template's name, and the other hosts go on.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from orchestrator.errors import TemplateError

DEFAULT_MEMORY_BUDGET_MB = 1024
MEMORY_BUDGET_ENV = "ORCH_MEMORY_BUDGET_MB"
_CHECK_EVERY = 0.05  # seconds between the watchdog's looks
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class TemplateLimitExceeded(TemplateError):
    """A render stopped by the watchdog; the subclass raised in the thread carries the reason."""

    reason = "rendering stopped"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.reason)


@dataclass
class _Render:
    thread_id: int
    started: float
    deadline: float | None
    timeout: float | None
    fired: str | None = None  # the reason, once the watchdog stopped it


_lock = threading.Lock()
_active: dict[int, _Render] = {}  # thread id -> its outermost render in progress
_local = threading.local()  # .depth (nested renders), .deadline/.timeout (set by the task runner)
_watchdog: threading.Thread | None = None
_budget_bytes = DEFAULT_MEMORY_BUDGET_MB * 1024 * 1024


def set_memory_budget(megabytes: float | None) -> None:
    """The controller's memory budget for templating (None: $ORCH_MEMORY_BUDGET_MB or 1024 MB)."""
    global _budget_bytes
    if megabytes is None:
        megabytes = float(os.environ.get(MEMORY_BUDGET_ENV) or DEFAULT_MEMORY_BUDGET_MB)
    _budget_bytes = int(megabytes * 1024 * 1024)


def memory_budget_mb() -> float:
    return _budget_bytes / (1024 * 1024)


@contextmanager
def deadline(timeout: float | None, started: float | None = None) -> Iterator[None]:
    """Renders on this thread inside the block stop `timeout` seconds after `started` (now)."""
    previous = getattr(_local, "deadline", None), getattr(_local, "timeout", None)
    _local.deadline = None if not timeout else (started or time.monotonic()) + timeout
    _local.timeout = timeout or None
    try:
        yield
    finally:
        _local.deadline, _local.timeout = previous


@contextmanager
def guarded() -> Iterator[None]:
    """Mark a render in progress on this thread, so the watchdog can stop it; nests freely."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    if depth:
        try:
            yield
        finally:
            _local.depth = depth
        return
    render = _Render(
        threading.get_ident(),
        time.monotonic(),
        getattr(_local, "deadline", None),
        getattr(_local, "timeout", None),
    )
    with _lock:
        _active[render.thread_id] = render
    _ensure_watchdog()
    failed = False
    try:
        yield
    except BaseException:
        failed = True  # the watchdog's exception (named where it hit by the engine), or another
        raise
    finally:
        _local.depth = depth
        with _lock:
            _active.pop(render.thread_id, None)
            if render.fired is not None:
                _set_async_exc(render.thread_id, None)  # not delivered yet: deliver it here instead
        if render.fired is not None:
            _release_memory()
            if not failed:
                raise TemplateLimitExceeded(render.fired)


def _ensure_watchdog() -> None:
    global _watchdog
    if _watchdog is not None:
        return
    with _lock:
        if _watchdog is None:
            _watchdog = threading.Thread(target=_watch, name="orch-template-watchdog", daemon=True)
            _watchdog.start()


def _watch() -> None:
    while True:
        time.sleep(_CHECK_EVERY)
        with _lock:
            if not _active:
                continue
            now = time.monotonic()
            for render in _active.values():
                if render.fired is None and render.deadline is not None and now > render.deadline:
                    _fire(render, f"template still rendering after {render.timeout:g} s (the task timeout)")
            rss = _resident_bytes()
            if rss > _budget_bytes:
                candidates = [
                    r for r in _active.values() if r.fired is None and now - r.started > _CHECK_EVERY
                ]
                if candidates:
                    longest = min(candidates, key=lambda r: r.started)
                    _fire(
                        longest,
                        f"template rendering stopped: the controller grew to {rss // 2**20} MB, past its "
                        f"memory budget of {_budget_bytes // 2**20} MB (--memory-budget; a runaway loop?)",
                    )


def _fire(render: _Render, reason: str) -> None:
    render.fired = reason
    carrier = type("TemplateLimitExceeded", (TemplateLimitExceeded,), {"reason": reason})
    _set_async_exc(render.thread_id, carrier)


def _set_async_exc(thread_id: int, exc_type: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type is not None else None
    )


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0  # no /proc: time limits still apply


def _release_memory() -> None:
    """Give what the stopped render held back to the system, so RSS falls under the budget again."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap otherwise
