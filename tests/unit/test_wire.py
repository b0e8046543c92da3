"""The module output wire format (orchestrator/modules/wire.py): fields, then sections opened by a
line that carries a per-call random token; the parser alone, then the shell emitter through a real
/bin/sh (the local connection, as ModuleContext runs every module script)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.modules.context import APPLY_SECTION, ModuleContext
from orchestrator.modules.testing import RecordingConnection
from orchestrator.modules.wire import WireOutput, new_token, parse, parse_fields, unhex
from orchestrator.transport.shell import quote

TOKEN = "__ORCH_WIRE_0123456789abcdef"


def line(name: str, token: str = TOKEN) -> bytes:
    """A section line as orch_section prints it."""
    return f"\n{token} {name}\n".encode()


def test_fields_then_sections_byte_exact() -> None:
    out = parse(b"state=file\nmode=644\n" + line("content") + b"a\nb" + line("other") + b"x\n", TOKEN)
    assert out.fields == {"state": "file", "mode": "644"}
    assert out.names() == ["content", "other"]
    assert out.section("content") == b"a\nb"  # no trailing newline added or lost
    assert out.section("other") == b"x\n"
    assert out.section("missing") is None and out.text("missing") == "" and out.text("missing", "-") == "-"


def test_no_sections_is_all_head() -> None:
    out = parse("a=1\nnoise\nb=x=y\n=bad\nc d=1\na=2\n", TOKEN)
    assert out.sections == ()
    # first occurrence wins; a value keeps its own '='; lines that are not key=value are ignored
    assert out.fields == {"a": "1", "b": "x=y"}
    assert out.values("a") == ["1", "2"]


def test_empty_sections_and_a_section_first() -> None:
    out = parse(line("a") + line("b") + line("c"), TOKEN)
    assert out.head == b"" and out.sections == (("a", b""), ("b", b""), ("c", b""))
    assert parse(line("a") + b"\n" + line("b"), TOKEN).sections == (("a", b"\n"), ("b", b""))


def test_binary_content_survives() -> None:
    blob = bytes(range(256)) * 3 + b"\r\n\x00\xff\xfe no newline"
    out = parse(b"k=v\n" + line("data") + blob, TOKEN)
    assert out.section("data") == blob and out.fields == {"k": "v"}
    assert "\ufffd" in out.text("data")  # invalid UTF-8 is replaced when read as text, never raises


def test_marker_like_content_cannot_forge_a_section_or_a_field() -> None:
    forged = (
        b"\n__ORCH_WIRE_ffffffffffffffff evil\n"  # another call's token
        b"\n" + TOKEN.encode() + b"evil\n"  # this call's token, without the space
        + b"text " + TOKEN.encode() + b" evil\n"  # this call's token, not at the start of a line
        + b"\n__ORCH_BEFORE__\n__ORCH_APT_SIM__\n@@passwd\n"  # the markers of the old formats
        + b"state=absent\nchanged=1\n"  # field-shaped lines inside a section
    )
    out = parse(b"state=file\n" + line("content") + forged, TOKEN)
    assert out.names() == ["content"] and out.section("content") == forged
    assert out.fields == {"state": "file"}


def test_cut_off_section_line() -> None:
    out = parse(b"a=1\n\n" + TOKEN.encode() + b" trunc", TOKEN)
    assert out.sections == (("trunc", b""),) and out.fields == {"a": "1"}


def test_split_keeps_query_and_apply_apart() -> None:
    out = parse(
        b"q=1\n" + line("before") + b"old" + line(APPLY_SECTION) + b"after_state=file\n" + line("x") + b"y", TOKEN
    )
    query, apply = out.split(APPLY_SECTION)
    assert query.fields == {"q": "1"} and query.sections == (("before", b"old"),)
    assert apply is not None and apply.fields == {"after_state": "file"} and apply.sections == (("x", b"y"),)
    assert out.split("absent") == (out, None)


def test_of_and_unhex() -> None:
    built = WireOutput.of("k=v\n", a="1", b="")
    assert built.fields == {"k": "v"} and built.sections == (("a", b"1"), ("b", b""))
    assert unhex("=/plain/path") == "/plain/path" and unhex("612062") == "a b" and unhex("zz") == "zz"
    assert parse_fields("x_1=2\n") == {"x_1": "2"}


def test_tokens_differ_per_call() -> None:
    assert len({new_token() for _ in range(100)}) == 100


@pytest.fixture
def ctx(tmp_path: Path):  # type: ignore[no-untyped-def]
    conn = RecordingConnection()
    yield ModuleContext("localhost", conn, None, False, False, {}, None, [str(tmp_path)])
    conn.close()


def test_orch_section_through_a_real_shell(ctx: ModuleContext, tmp_path: Path) -> None:
    """A file holding a section line of an earlier call, binary bytes and no final newline reads
    back exactly: the next call's token is new, so the file cannot end its section."""
    first = ctx.query("orch_kv a 1; orch_section one; printf 'x'")
    assert first.fields() == {"a": "1"} and first.wire.section("one") == b"x"
    hostile = first.stdout + b"\x00\xff" + line("evil", first.token) + b"tail"
    (tmp_path / "f").write_bytes(hostile)
    (tmp_path / "empty").write_bytes(b"")
    second = ctx.query(
        f"orch_kv state file; orch_section content; cat {quote(str(tmp_path / 'f'))}; "
        f"orch_section empty; cat {quote(str(tmp_path / 'empty'))}; orch_section last"
    )
    assert second.token != first.token
    assert second.wire.names() == ["content", "empty", "last"]
    assert second.wire.section("content") == hostile and second.wire.section("empty") == b""
    assert second.fields() == {"state": "file"}


def test_converge_splits_query_and_apply(ctx: ModuleContext) -> None:
    done = ctx.converge(
        "orch_kv q 1; orch_section seen; printf 'old'; return 10",
        "orch_kv after 2; orch_section made; printf 'new'",
    )
    assert done.changed and done.applied
    assert done.fields() == {"q": "1"} and done.query.section("seen") == b"old"
    assert done.apply.fields == {"after": "2"} and done.apply.section("made") == b"new"
    ctx.check_mode = True
    checked = ctx.converge("orch_kv q 1; return 10", "orch_kv after 2")
    assert checked.changed and not checked.applied and checked.apply == WireOutput(b"")
