"""Module behaviour from data: every tests/modules/fixtures/<module>/<case>.json is one case.

In the style of pyinfra's tests/operations/*.json, but nothing is simulated: the module's real
shell runs on this machine (orchestrator.modules.testing) against a fresh temp directory.
A case file holds:

    "args":        the module's arguments; "{root}" in any string is the temp directory
    "files":       the starting tree, {relative path: entry} (below)
    "vars":        variables/facts the module sees (template)
    "check"/"diff": run once in check / diff mode instead of the full cycle
    "once":        run once, not the cycle (command without creates changes every time)
    "expect":      {"changed", "failed", "msg" (a substring), "result" (a subset of the result,
                    dicts compared key by key), "diff" (diff mode showed one)}
    "files_after": the whole tree afterwards; absent: the tree must be exactly "files"
                   (a failed call leaves nothing half-written)

An entry is a string (a file's text), {"content": text, "mode": "0640"}, {"dir": true},
{"link": target} or {"tar": {name: text}} (a .tar.gz of those files).
A call that changes something (changed, not failed, no "check") runs the whole contract
(ModuleHarness.cycle): check mode touches nothing, the run changes, the second run is ok.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from orchestrator.modules.testing import ModuleHarness, Tree, snapshot

FIXTURES = Path(__file__).parent / "fixtures"
CASE_KEYS = {"description", "args", "files", "vars", "check", "diff", "once", "expect", "files_after"}
EXPECT_KEYS = {"changed", "failed", "msg", "result", "diff"}
CASES = sorted(FIXTURES.glob("*/*.json"))


def _subst(value: Any, root: str) -> Any:
    if isinstance(value, str):
        return value.replace("{root}", root)
    if isinstance(value, list):
        return [_subst(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, root) for k, v in value.items()}
    return value


def _tar(members: dict[str, str]) -> bytes:
    """A reproducible .tar.gz (fixed mtimes), so a case can name it as an expected entry too."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1, format=tarfile.GNU_FORMAT) as tar:
        for name, text in sorted(members.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    # gzip's own header carries a time too: zero it
    data = bytearray(raw.getvalue())
    data[4:8] = b"\0\0\0\0"
    return bytes(data)


def _entry(spec: Any) -> tuple[str, int | None, bytes]:
    """(type, mode or None for "any", content) of one fixture entry."""
    if isinstance(spec, str):
        return "file", None, spec.encode()
    mode = int(spec["mode"], 8) if "mode" in spec else None
    if spec.get("dir"):
        return "dir", mode, b""
    if "link" in spec:
        return "link", 0, spec["link"].encode()
    if "tar" in spec:
        return "file", mode, _tar(spec["tar"])
    return "file", mode, spec["content"].encode()


def _expected(files: dict[str, Any]) -> dict[str, tuple[str, int | None, bytes]]:
    out = {rel: _entry(spec) for rel, spec in files.items()}
    for rel in list(out):  # parent directories are implied
        parent = os.path.dirname(rel)
        while parent and parent not in out:
            out[parent] = ("dir", None, b"")
            parent = os.path.dirname(parent)
    return out


def _build(root: Path, files: dict[str, Any]) -> None:
    for rel, (kind, mode, data) in sorted(_expected(files).items()):
        path = root / rel
        if kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "link":
            path.symlink_to(data.decode())
        else:
            path.write_bytes(data)
        if kind != "link":
            path.chmod(mode if mode is not None else (0o755 if kind == "dir" else 0o644))


def _assert_tree(actual: Tree, files: dict[str, Any]) -> None:
    expected = _expected(files)
    assert sorted(actual) == sorted(expected), "the tree's entries differ"
    for rel, (kind, mode, data) in expected.items():
        got_kind, got_mode, got_data = actual[rel]
        assert (got_kind, got_data) == (kind, data), f"{rel}: {got_kind} {got_data!r} != {kind} {data!r}"
        if mode is not None:
            assert got_mode == mode, f"{rel}: mode {got_mode:o} != {mode:o}"


def _assert_subset(actual: Any, expected: Any, where: str) -> None:
    """Every key the case names has its value; dicts are compared key by key, recursively."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            assert key in actual, f"{where}[{key!r}] is missing"
            _assert_subset(actual[key], value, f"{where}[{key!r}]")
    else:
        assert actual == expected, f"{where} = {actual!r}, expected {expected!r}"


@pytest.fixture(scope="module")
def local_shell():
    """One harness (one local /bin/sh) for every case; each case points it at its own root."""
    with ModuleHarness("/nonexistent") as harness:
        yield harness


@pytest.mark.parametrize("case_file", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_module_fixture(case_file: Path, tmp_path: Path, local_shell: ModuleHarness) -> None:
    module = case_file.parent.name
    case = json.loads(case_file.read_text(encoding="utf-8"))
    # a misspelt key would silently check nothing
    assert set(case) <= CASE_KEYS, f"unknown keys in {case_file.name}: {set(case) - CASE_KEYS}"
    assert set(case["expect"]) <= EXPECT_KEYS, f"unknown expect keys: {set(case['expect']) - EXPECT_KEYS}"
    root = tmp_path / "root"
    root.mkdir()
    case = _subst(case, str(root))
    _build(root, case.get("files", {}))
    local_shell.root = root
    local_shell.variables = case.get("vars", {})
    expect = case["expect"]
    args = case["args"]
    if expect.get("changed") and not expect.get("failed") and not case.get("check") and not case.get("once"):
        run = local_shell.cycle(module, args, expect_diff=expect.get("diff", True))
    else:
        run = local_shell.run(module, args, check=case.get("check", False), diff=case.get("diff", False))
        if "diff" in expect:
            assert bool(run.diffs) == expect["diff"], run.diffs
    assert run.failed == expect.get("failed", False), run.result
    assert run.changed == expect.get("changed", False), run.result
    assert expect.get("msg", "") in run.msg, run.result
    _assert_subset(run.result, expect.get("result", {}), "result")
    _assert_tree(snapshot(root), case.get("files_after", case.get("files", {})))


def test_fixtures_cover_the_file_modules() -> None:
    """Every module a temp directory can exercise without root has cases, success and failure."""
    covered = {p.parent.name for p in CASES}
    assert covered >= {"copy", "file", "lineinfile", "blockinfile", "replace", "template", "stat", "find"}
    for module in covered:
        cases = [json.loads(p.read_text()) for p in CASES if p.parent.name == module]
        assert len(cases) >= 3, f"{module}: fewer than 3 cases"
