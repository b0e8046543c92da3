"""The module test harness itself (orchestrator.modules.testing): it runs the real module over
the local shell, and its contract check fails for a module that breaks the contract."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from orchestrator.modules import ArgSpec, Module, Param
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.testing import ModuleHarness, snapshot
from orchestrator.transport.shell import quote

SPEC = ArgSpec(params={"path": Param("path", required=True)})


class WritesInCheckMode(Module):
    """Writes through the unguarded ctx.run: check mode would change the host."""

    name = "writes_in_check_mode"
    spec = SPEC

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        ctx.run(f"echo x > {quote(args['path'])}")
        return {"changed": True}


class AlwaysAppends(Module):
    """Asks for the change every time: never converges."""

    name = "always_appends"
    spec = SPEC

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        done = ctx.converge("return 10", f"echo x >> {quote(args['path'])}")
        ctx.add_diff("", "x\n", args["path"], args["path"])
        return {"changed": done.changed}


@pytest.fixture
def harness(tmp_path: Path):
    with ModuleHarness(tmp_path) as h:
        yield h


def test_cycle_runs_the_module_for_real(harness: ModuleHarness) -> None:
    path = harness.path("dir with space/app.conf")
    Path(path).parent.mkdir()
    run = harness.cycle("lineinfile", {"path": path, "line": "x=1", "create": True})
    assert harness.read("dir with space/app.conf") == "x=1\n"
    assert run.msg == "line added" and run.diffs[0].after == "x=1\n"
    # the commands are what went to /bin/sh, the path quoted
    assert any(quote(path) in command for command in run.commands), run.commands


def test_check_mode_alone_touches_nothing(harness: ModuleHarness) -> None:
    (harness.root / "f").write_text("a\n")
    before = snapshot(harness.root)
    run = harness.run("copy", {"content": "b\n", "dest": harness.path("f")}, check=True, diff=True)
    assert run.changed and not run.failed
    assert run.diffs and run.diffs[0].before == "a\n" and run.diffs[0].after == "b\n"
    assert snapshot(harness.root) == before


def test_cycle_catches_a_write_in_check_mode(harness: ModuleHarness) -> None:
    with pytest.raises(AssertionError, match="check mode changed the tree"):
        harness.cycle(WritesInCheckMode, {"path": harness.path("f")}, expect_diff=False)


def test_cycle_catches_a_module_that_never_converges(harness: ModuleHarness) -> None:
    with pytest.raises(AssertionError, match="the second run changed again"):
        harness.cycle(AlwaysAppends, {"path": harness.path("f")})


def test_bad_input_is_a_failed_result_naming_the_key(harness: ModuleHarness) -> None:
    run = harness.run("lineinfile", {"line": "x", "colour": "red"})
    assert run.failed and not run.changed
    assert "path" in run.msg and "colour" in run.msg, run.msg
    assert snapshot(harness.root) == {}


def test_unknown_module_is_a_test_error(harness: ModuleHarness) -> None:
    with pytest.raises(KeyError, match="no_such_module"):
        harness.run("no_such_module", {})


def test_a_bad_symbolic_mode_is_one_clear_message(harness: ModuleHarness) -> None:
    # Found with the harness: chmod's own stderr ("chmod: invalid mode: 'rwxr'", in the host's
    # locale) used to come first in the message.
    (harness.root / "f").write_text("x\n")
    run = harness.run("file", {"path": harness.path("f"), "mode": "rwxr"})
    assert run.failed and run.msg == "mode must be in octal or symbolic form: rwxr"
