"""orchestrator.redact: registered secrets and secret-looking keys never reach a reporter."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orchestrator import redact
from orchestrator.events import HostResult, Message, PlaybookEnd, TaskStart
from orchestrator.report import make_reporters
from orchestrator.results import Diff, HostStats, Status, TaskResult

SECRET = "Sup3r'$(secret)\"x"


@pytest.fixture(autouse=True)
def _clean() -> None:
    redact.clear()
    yield
    redact.clear()


def test_mask_plain_and_encoded_forms() -> None:
    redact.add_secret(SECRET)
    assert SECRET not in redact.mask(f"a {SECRET} b")
    assert json.dumps(SECRET)[1:-1] not in redact.mask(json.dumps({"k": SECRET}))
    import shlex

    assert shlex.quote(SECRET) not in redact.mask(f"echo {shlex.quote(SECRET)}")
    redact.add_secret("abc")  # too short to be a secret: not registered
    assert redact.mask("abc") == "abc"


def test_longest_secret_masked_whole() -> None:
    redact.add_secret("token-1234")
    redact.add_secret("token-1234-extended")
    assert redact.mask("x token-1234-extended y") == f"x {redact.MASK} y"


def test_multiline_secret_masked_line_by_line() -> None:
    redact.add_secret("DB_PASSWORD=pw-line-one\nJWT_SECRET=jwt-line-two\n")
    assert redact.mask("+JWT_SECRET=jwt-line-two") == f"+{redact.MASK}"


@pytest.mark.parametrize(
    "name",
    [
        "ansible_become_password",
        "ansible_ssh_pass",
        "db_passwd",
        "JWT_SECRET",
        "api_key",
        "apikey",
        "ssh_private_key",
        "github_token",
        "vault_db",
        "aws_secret_access_key",
        "pass",
        "smtp_pwd",
    ],
)
def test_secret_names(name: str) -> None:
    assert redact.looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "compass",
        "bypass_cache",
        "user",
        "path",
        "passive_mode",
        "hostname",
        # where a secret is kept, not the secret: masking the path would hide which file failed
        "ansible_ssh_private_key_file",
        "vault_password_file",
        "ssl_key_path",
        "secrets_dir",
    ],
)
def test_plain_names(name: str) -> None:
    assert not redact.looks_secret(name)


def test_note_variable_registers_by_name() -> None:
    redact.note_variable("db_password", "pw-from-name")
    redact.note_variable("db_user", "postgres-user")
    assert redact.mask("pw-from-name postgres-user") == f"{redact.MASK} postgres-user"


def test_lazyvars_registers_secret_named_values() -> None:
    from orchestrator.templating import Templar
    from orchestrator.templating.lazyvars import LazyVars

    lazy = LazyVars([{"base": "zz-top-9", "api_token": "tok-{{ base }}"}], Templar())
    assert lazy["api_token"] == "tok-zz-top-9"
    assert redact.mask("got tok-zz-top-9") == f"got {redact.MASK}"


def _result(**kwargs: object) -> TaskResult:
    base = dict(host="token-host", task="t", status=Status.FAILED)
    base.update(kwargs)
    return TaskResult(**base)  # type: ignore[arg-type]


def test_scrub_event_masks_every_field() -> None:
    redact.add_secret(SECRET)
    result = _result(
        msg=f"failed with {SECRET}",
        stdout=SECRET,
        stderr=f"e {SECRET}",
        diffs=(Diff(f"A={SECRET}\n", "A=new\n", f"/srv/{SECRET}"),),
        data={"msg": SECRET, "nested": [{"x": SECRET}], "password": "literal-pw", "password_set": True},
        item_label=SECRET,
    )
    clean = redact.scrub_event(HostResult(result)).result
    assert SECRET not in repr(clean)
    assert "literal-pw" not in repr(clean)
    assert clean.data["password_set"] is True  # booleans keep their meaning
    assert clean.status is Status.FAILED and clean.host == "token-host"


def test_scrub_keeps_clean_events_identical() -> None:
    event = TaskStart(name="install", hosts=("h1",))
    assert redact.scrub_event(event) is event
    end = PlaybookEnd(
        stats={"token-host": HostStats(ok=1)},
        exit_code=0,
        duration=1.0,
        transport_stats={"secret-db": {"connections": 1}},
    )
    assert redact.scrub_event(end) is end  # host names that look secret keep their stats


def test_reporters_never_see_a_secret(tmp_path: Path) -> None:
    """The same events through plain (-vvv, diff) and JSON reporters, scrubbed as the CLI does."""
    redact.add_secret(SECRET)
    out = io.StringIO()
    json_path = tmp_path / "run.json"
    reporters = make_reporters(json_path=json_path, verbosity=4, show_diff=True, stream=out, force_plain=True)
    events = [
        TaskStart(name=f"deploy {SECRET}", hosts=("h1",)),
        HostResult(
            _result(host="h1", msg=SECRET, stdout=SECRET, diffs=(Diff(SECRET, "x"),), data={"msg": SECRET})
        ),
        Message("warning", f"warn {SECRET}"),
        PlaybookEnd(stats={"h1": HostStats(failed=1)}, exit_code=2, duration=0.1),
    ]
    for event in events:
        for reporter in reporters:
            reporter.handle(redact.scrub_event(event))
    for reporter in reporters:
        reporter.close()
    assert "h1" in out.getvalue() and redact.MASK in out.getvalue()
    for text in (out.getvalue(), json_path.read_text()):
        assert "Sup3r" not in text


def test_tracebacks_and_log_records_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    import logging
    import sys
    import threading

    saved = sys.excepthook, threading.excepthook
    try:
        redact.guard_process_output()
        redact.add_secret("tb-secret-42")
        try:
            raise RuntimeError("failed with tb-secret-42")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        err = capsys.readouterr().err
        assert "RuntimeError" in err and "tb-secret-42" not in err and redact.MASK in err
        record = logging.LogRecord(
            "orch.templating", logging.WARNING, __file__, 1, "lookup %r failed", ("tb-secret-42",), None
        )
        assert any(isinstance(f, redact._MaskFilter) for f in logging.lastResort.filters)
        for f in logging.lastResort.filters:
            f.filter(record)
        assert record.getMessage() == f"lookup '{redact.MASK}' failed"
    finally:
        sys.excepthook, threading.excepthook = saved


def test_inventory_output_masks_secret_named_values(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import main

    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web]\nw1 ansible_become_password=plain-pw-123 db_user=bob\n")
    assert main(["inventory", "-i", str(inventory), "--host", "w1"]) == 0
    assert main(["inventory", "-i", str(inventory), "--list"]) == 0
    out = capsys.readouterr().out
    assert "plain-pw-123" not in out and '"db_user": "bob"' in out and redact.MASK in out


def test_unreadable_result_data_is_hidden_not_crashing() -> None:
    from collections.abc import Mapping as AbcMapping

    class Broken(AbcMapping):
        def __getitem__(self, key: str) -> str:
            raise RuntimeError("cannot template")

        def __iter__(self):
            return iter(["x"])

        def __len__(self) -> int:
            return 1

    redact.add_secret("hidden-value-9")
    event = HostResult(_result(msg="boom hidden-value-9", stdout="hidden-value-9", data={"var": Broken()}))
    clean = redact.scrub_event(event).result
    assert "hidden-value-9" not in repr(clean) and clean.data == {
        "msg": "(result hidden: it could not be checked for secrets)"
    }
