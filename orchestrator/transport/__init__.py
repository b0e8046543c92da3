"""Transports: how the controller talks to a host (SSH via paramiko, or local)."""

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

from orchestrator.transport.base import BecomeSpec, CommandResult, Connection, ConnectionSpec, TransportStats


class _DeferredModule(ModuleType):
    """Stands in for a module that is imported on first attribute access."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


def _import_paramiko_without_invoke() -> None:
    """paramiko.config imports `invoke` (and with it asyncio and unittest.mock: ~40 ms of every
    run) only to run the `Match exec` lines of an ssh_config. Import paramiko with `invoke`
    hidden, then give paramiko.config a stand-in that imports the real one when such a line
    is evaluated: the same behaviour, paid for only by the configs that use it."""
    if "paramiko" in sys.modules or "invoke" in sys.modules:
        return
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` fail
    try:
        import paramiko.config
    finally:
        del sys.modules["invoke"]
    if paramiko.config.invoke is None and importlib.util.find_spec("invoke") is not None:
        paramiko.config.invoke = _DeferredModule("invoke")
        paramiko.config.invoke_import_error = None


_import_paramiko_without_invoke()

__all__ = ["BecomeSpec", "CommandResult", "Connection", "ConnectionSpec", "TransportStats"]
