"""Test a module without a host: its real shell runs over the local connection, as the current
user, against paths in a temp directory (issue 17).

    with ModuleHarness(tmp_path) as h:
        first = h.cycle("lineinfile", {"path": h.path("app.conf"), "line": "x=1", "create": True})
        assert h.read("app.conf") == "x=1\n"

`cycle` asserts the contract every module keeps: check mode reports the change and leaves the
tree untouched (diff mode shows it), the run changes it, a second run is ok and changes nothing.
`run` is one call, returning the module's result, its diffs and the scripts it sent. Nothing is
mocked: a module's query and apply run in /bin/sh exactly as on a remote host.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from orchestrator.errors import ModuleFailed, OrchError
from orchestrator.modules.base import Module, get_module
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import validate_args
from orchestrator.results import Diff
from orchestrator.templating.engine import Templar
from orchestrator.transport.base import BecomeSpec, CommandResult, ConnectionSpec
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.shell import ShellLibrary

__all__ = ["ModuleHarness", "ModuleRun", "RecordingConnection", "Tree", "snapshot"]

# A tree as {relative path: entry}: ("file", mode, bytes), ("dir", mode, b""), ("link", 0, target).
Tree = dict[str, tuple[str, int, bytes]]


class RecordingConnection(LocalConnection):
    """The real local connection, keeping every script and upload a module sent through it."""

    def __init__(self) -> None:
        super().__init__(ConnectionSpec(host="localhost", address="localhost", connection="local"))
        self.commands: list[str] = []

    def run(
        self,
        script: str,
        *,
        stdin: bytes | None = None,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        library: ShellLibrary | None = None,
    ) -> CommandResult:
        self.commands.append(script)
        return super().run(script, stdin=stdin, become=become, env=env, timeout=timeout, library=library)

    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        self.commands.append(f"# put {len(data)} bytes to {remote_path} mode {mode:o}")
        super().put(data, remote_path, mode)


@dataclass
class ModuleRun:
    """One module call: its Ansible-style result and what it did to get there."""

    result: dict[str, Any]
    diffs: list[Diff] = field(default_factory=list)
    commands: list[str] = field(default_factory=list, repr=False)  # scripts (and uploads) sent to the shell

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))


def snapshot(root: Path | str) -> Tree:
    """Every entry under `root` (not root itself), with its type, permission bits and content."""
    base = Path(root)
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            rel = path.relative_to(base).as_posix()
            info = path.lstat()
            if statmod.S_ISLNK(info.st_mode):
                tree[rel] = ("link", 0, os.readlink(path).encode())
            elif statmod.S_ISDIR(info.st_mode):
                tree[rel] = ("dir", statmod.S_IMODE(info.st_mode), b"")
            else:
                tree[rel] = ("file", statmod.S_IMODE(info.st_mode), path.read_bytes())
    return tree


class ModuleHarness:
    """Runs registered modules on this machine against a temp `root`; one shell for all calls."""

    def __init__(self, root: Path | str, *, variables: Mapping[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.variables: dict[str, Any] = dict(variables or {})
        self.conn = RecordingConnection()

    def __enter__(self) -> ModuleHarness:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def path(self, rel: str = "") -> str:
        """The absolute path of `rel` inside the root (for a module's path/dest/src argument)."""
        return str(self.root / rel) if rel else str(self.root)

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def run(
        self,
        module_name: str | type[Module],
        args: Mapping[str, Any],
        *,
        check: bool = False,
        diff: bool = False,
    ) -> ModuleRun:
        """Call a module (a registered name, or a Module class not registered yet) as the executor
        does: validate args, run, turn failures into a failed result. Anything else raised is a
        bug (a user's mistake must never be a traceback), so it propagates."""
        cls = get_module(module_name) if isinstance(module_name, str) else module_name
        if cls is None:
            raise KeyError(f"no module named {module_name!r}")
        module = cls()
        name = cls.name
        checked = dict(args)
        if module.spec is not None:
            checked, errors = validate_args(module.spec, args)
            if errors:
                return ModuleRun({"failed": True, "changed": False, "msg": f"{name}: " + "; ".join(errors)})
        if check and not module.supports_check:
            return ModuleRun(
                {"changed": False, "skipped": True, "msg": "remote module does not support check mode"}
            )
        if check and module.check_result is not None:
            return ModuleRun(dict(module.check_result))
        ctx = ModuleContext(
            host="localhost",
            conn=self.conn,
            become=None,
            check_mode=check,
            diff_mode=diff,
            variables=self.variables,
            templar=Templar(str(self.root)),
            search_dirs=[str(self.root)],
        )
        start = len(self.conn.commands)
        try:
            data = module.run(ctx, checked)
        except ModuleFailed as exc:
            data = {**exc.result, "failed": True, "msg": exc.msg}
        except OrchError as exc:  # a transport or become error fails the task the same way
            data = {"failed": True, "msg": str(exc)}
        data.setdefault("changed", False)
        if ctx.warnings:
            data["warnings"] = ctx.warnings
        return ModuleRun(data, ctx.diffs, self.conn.commands[start:])

    def cycle(
        self, name: str | type[Module], args: Mapping[str, Any], *, expect_diff: bool = True
    ) -> ModuleRun:
        """Assert the module contract for a call that makes a change, and return the real run:
        check mode (with diff) reports changed and touches nothing; the run changes the tree;
        the same call again is ok and changes nothing, in check mode too."""
        before = snapshot(self.root)
        checked = self.run(name, args, check=True, diff=True)
        assert not checked.failed, f"{name} failed in check mode: {checked.msg}"
        assert checked.changed, f"{name}: check mode did not report the change: {checked.result}"
        assert snapshot(self.root) == before, f"{name}: check mode changed the tree"
        if expect_diff:
            assert checked.diffs, f"{name}: diff mode showed no diff in check mode"
        first = self.run(name, args, diff=True)
        assert not first.failed, f"{name} failed: {first.msg}"
        assert first.changed, f"{name}: the first run did not report a change: {first.result}"
        if expect_diff:
            assert first.diffs, f"{name}: diff mode showed no diff"
        after = snapshot(self.root)
        again = self.run(name, args)
        assert not again.failed, f"{name} failed on the second run: {again.msg}"
        assert not again.changed, f"{name}: the second run changed again: {again.result}"
        assert snapshot(self.root) == after, f"{name}: the second run touched the tree"
        rechecked = self.run(name, args, check=True)
        assert not rechecked.changed, f"{name}: check mode after the run still reports a change"
        return first
