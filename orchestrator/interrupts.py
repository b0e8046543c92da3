"""Ctrl-C, SIGTERM and SIGHUP during a run: the first stops the run cleanly, the second at once.

The first signal calls the runner's `interrupt` in a thread of its own (closing channels may block
on a stalled host; the handler must return at once) and the run winds down: no new task, running
ones aborted, temp files removed, recap, --json and run record written, exit 99. A second signal
exits immediately with 99, with no more output than one line.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
EXIT_INTERRUPTED = 99


@dataclass
class SignalState:
    received: signal.Signals | None = None

    @property
    def signaled(self) -> bool:
        return self.received is not None


@contextmanager
def stop_cleanly_on_signals(interrupt: Callable[[], None]) -> Iterator[SignalState]:
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state  # signals are only delivered to the main thread: nothing to install
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.received is not None:
            sys.stderr.write("\n[ERROR]: interrupted again: exiting now\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        state.received = signal.Signals(signum)
        name = "Ctrl-C" if signum == signal.SIGINT else state.received.name
        sys.stderr.write(f"\n[ERROR]: {name}: stopping the run (again to quit at once)\n")
        sys.stderr.flush()
        threading.Thread(target=interrupt, name="orch-interrupt", daemon=True).start()

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield state
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
