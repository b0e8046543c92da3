"""The wire protocol, exercised against a real local /bin/sh (the same code SSH uses)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import ConnectError
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.shell import ShellLibrary, printf_literal, quote


@pytest.fixture
def conn():
    connection = LocalConnection(ConnectionSpec(host="localhost", address="localhost", connection="local"))
    yield connection
    connection.close()


HOSTILE = [
    "plain",
    "it's",
    'dou"ble',
    "$(touch /tmp/orch-pwned)",
    "`touch /tmp/orch-pwned`",
    "new\nline",
    "-rf",
    "back\\slash",
    "percent %s %d",
    "glob * ?",
    "",
    "\t tab",
    "ünïcødé",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_quote_round_trips_through_sh(value: str) -> None:
    out = subprocess.run(["/bin/sh", "-c", f"printf %s {quote(value)}"], capture_output=True, check=True)
    assert out.stdout.decode() == value


def test_quote_refuses_nul() -> None:
    with pytest.raises(ValueError):
        quote("a\0b")


def test_printf_literal_is_byte_exact() -> None:
    data = bytes(range(256)) * 2
    out = subprocess.run(["/bin/sh", "-c", f"printf {printf_literal(data)}"], capture_output=True, check=True)
    assert out.stdout == data


def test_run_separates_streams_and_keeps_rc(conn: LocalConnection) -> None:
    result = conn.run("echo out; echo err >&2; exit 3")
    assert (result.rc, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_output_without_newline_and_empty_output(conn: LocalConnection) -> None:
    assert conn.run("printf abc").stdout == b"abc"
    assert conn.run("true").stdout == b""


def test_syntax_error_and_exit_do_not_break_the_shell(conn: LocalConnection) -> None:
    assert conn.run("echo 'unterminated").rc != 0
    assert conn.run("exit 7").rc == 7
    assert conn.run("echo still-here").out == "still-here\n"


def test_commands_cannot_read_the_protocol_stream(conn: LocalConnection) -> None:
    # A command reading stdin must get EOF, not the next command.
    assert conn.run("cat").stdout == b""
    assert conn.run("echo ok").out == "ok\n"


def test_stdin_is_binary_exact(conn: LocalConnection) -> None:
    data = b"a\x00b\xff'\"$(x)%s\\\n"
    assert conn.run("cat", stdin=data).stdout == data


def test_environment_values_are_not_evaluated(conn: LocalConnection, tmp_path) -> None:
    marker = tmp_path / "pwned"
    result = conn.run('printf %s "$X"', env={"X": f"$(touch {marker})"})
    assert result.out == f"$(touch {marker})"
    assert not marker.exists()


def test_bad_env_name_is_refused(conn: LocalConnection) -> None:
    with pytest.raises(ValueError):
        conn.run("true", env={"A;B": "x"})


def test_large_script_beyond_arg_max(conn: LocalConnection) -> None:
    # 300 KiB in one script: more than the kernel allows for one exec argument (128 KiB).
    payload = "x" * (300 * 1024)
    assert conn.run(f"printf %s '{payload}' | wc -c").out.strip() == str(len(payload))


def test_timeout_leaves_connection_usable(conn: LocalConnection) -> None:
    with pytest.raises(TimeoutError):
        conn.run("sleep 5", timeout=0.3)
    assert conn.run("echo again").out == "again\n"


def test_dead_shell_is_a_connect_error(conn: LocalConnection) -> None:
    conn.run("true")
    with pytest.raises(ConnectError):
        conn.run("kill -9 $$; sleep 1")


def test_round_trips_are_counted(conn: LocalConnection) -> None:
    for _ in range(5):
        conn.run("true")
    assert conn.stats.round_trips == 5
    assert conn.stats.connections == 1


LIBRARY = ShellLibrary("greet() { printf 'hello %s\\n' \"$1\"; }\n" + "# padding\n" * 200)


def test_library_is_defined_once_per_shell(conn: LocalConnection) -> None:
    first_sent = conn.stats.bytes_sent
    assert conn.run("greet one", library=LIBRARY).out == "hello one\n"
    first = conn.stats.bytes_sent - first_sent
    assert conn.run("greet two", library=LIBRARY).out == "hello two\n"
    second = conn.stats.bytes_sent - first_sent - first
    assert first > len(LIBRARY.text) > second  # the second command relies on the shell's copy
    # A script may redefine or unset a function: only its own subshell sees that.
    assert conn.run("unset -f greet; greet x", library=LIBRARY).rc != 0
    assert conn.run("greet three", library=LIBRARY).out == "hello three\n"


def test_library_is_sent_again_to_a_new_shell(conn: LocalConnection) -> None:
    conn.run("greet one", library=LIBRARY)
    with pytest.raises(TimeoutError):
        conn.run("sleep 5", timeout=0.3, library=LIBRARY)  # this shell is dropped
    assert conn.run("greet again", library=LIBRARY).out == "hello again\n"


def test_the_login_shell_sweeps_only_stale_uploads_of_its_user() -> None:
    """SHELL_START removes /tmp/.orch-upload-* files a crashed run left (older than 10 minutes),
    keeps a fresh one (a concurrent run's), and starts no program when there is none at all."""
    import os
    import secrets
    import time

    from orchestrator.transport.shell import SHELL_START

    stale = Path(f"/tmp/.orch-upload-test-{secrets.token_hex(6)}")
    fresh = Path(f"/tmp/.orch-upload-test-{secrets.token_hex(6)}")
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"in use")
    old = time.time() - 20 * 60
    os.utime(stale, (old, old))
    try:
        for shell in ("bash", "sh"):  # the user's login shell runs it
            stale.touch(exist_ok=True)
            os.utime(stale, (old, old))
            subprocess.run([shell, "-c", SHELL_START], input=b"exit\n", capture_output=True, timeout=30)
            deadline = time.monotonic() + 10
            while stale.exists() and time.monotonic() < deadline:  # the sweep runs in the background
                time.sleep(0.05)
            assert not stale.exists(), shell
            assert fresh.exists(), shell
    finally:
        stale.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)
