"""Issue 12 acceptance: no run hangs, interrupts are clean, every run leaves a record, retry works.

All tests share one 30-host lab (module scope): the stalled-host tests need 30, the others use
the first 5 or 10 of them. Every orch run writes its record under the test's own XDG_STATE_HOME.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.lab.testing import REPO_ROOT, LabSession, lab_unavailable_reason, open_lab_session

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FLEET = 30


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"lab tests need root on Linux with the lab tools: {reason}")
    session = open_lab_session(FLEET, tmp_path_factory.mktemp("fleet30"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture(autouse=True)
def _thaw(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fleet" in request.fixturenames:
        session: LabSession = request.getfixturevalue("fleet")
        for host in session.hosts:
            with contextlib.suppress(Exception):  # not running: ensure_running revives it below
                session.cont(host.index)
        session.ensure_running()


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env["XDG_STATE_HOME"] = str(state)
    env["ORCH_HOST_KEY_CHECKING"] = "accept-new"
    return env


def _start(args: list[str], state: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=_env(state),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _orch(args: list[str], state: Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=_env(state),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _records(state: Path) -> list[dict]:
    runs = state / "orch" / "runs"
    return (
        [json.loads((d / "record.json").read_text()) for d in sorted(runs.iterdir())] if runs.is_dir() else []
    )


def _recap_hosts(stdout: str) -> dict[str, str]:
    """host -> its PLAY RECAP line."""
    out = {}
    lines = stdout.split("PLAY RECAP", 1)[-1].splitlines()
    for line in lines:
        name, sep, rest = line.partition(":")
        if sep and "ok=" in rest:
            out[name.strip()] = rest
    return out


def _playbook(tmp_path: Path, hosts: str, tasks: str) -> Path:
    path = tmp_path / "site.yml"
    path.write_text(f"- hosts: {hosts}\n  gather_facts: false\n  tasks:\n{tasks}")
    return path


def _orch_leftovers(session: LabSession, hosts: range) -> list[str]:
    """Every `.orch-*` file a run left on a host (its overlay upper dir is all that changed)."""
    found = []
    for i in hosts:
        for root, _dirs, files in os.walk(session.upper_dir(i)):
            found += [os.path.join(root, f) for f in files if f.startswith(".orch-")]
    return found


def _uploading(session: LabSession, hosts: range) -> bool:
    for i in hosts:
        tmp = session.upper_dir(i) / "tmp"
        if tmp.is_dir() and any(name.startswith(".orch-upload-") for name in os.listdir(tmp)):
            return True
    return False


# -- stalled and dead hosts -----------------------------------------------------------------------


def test_host_stalled_mid_task_becomes_unreachable_and_the_run_ends(
    fleet: LabSession, tmp_path: Path, state: Path
) -> None:
    book = _playbook(tmp_path, "all", "    - shell: touch /tmp/in-task; sleep 5\n    - command: 'true'\n")
    fleet.ssh(17, "rm -f /tmp/in-task", check=True)
    started = time.monotonic()
    proc = _start(["play", str(book), "-i", str(fleet.inventory_path)], state, tmp_path)
    while not (fleet.upper_dir(17) / "tmp" / "in-task").exists():  # h17 is inside the task
        assert time.monotonic() - started < 30 and proc.poll() is None
        time.sleep(0.05)
    fleet.stop(17)
    out, err = proc.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"the run took {elapsed:.0f}s"
    assert proc.returncode == 4, out + err
    recap = _recap_hosts(out)
    assert len(recap) == FLEET, out
    assert "unreachable=1" in recap["h17"]
    assert all("unreachable=0" in line and "failed=0" in line for h, line in recap.items() if h != "h17")
    assert "no answer to 3 keepalives in 45 s" in out + err
    assert "Traceback" not in out + err
    record = _records(state)[-1]
    assert record["exit_code"] == 4 and record["recap"]["h17"]["unreachable"] == 1


def test_host_stalled_before_the_run_costs_the_connect_timeout(
    fleet: LabSession, tmp_path: Path, state: Path
) -> None:
    book = _playbook(tmp_path, "all", "    - command: 'true'\n")
    fleet.stop(9)
    started = time.monotonic()
    result = _orch(["play", str(book), "-i", str(fleet.inventory_path)], state, tmp_path)
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"the run took {elapsed:.0f}s"
    assert result.returncode == 4, result.stdout + result.stderr
    recap = _recap_hosts(result.stdout)
    assert len(recap) == FLEET and "unreachable=1" in recap["h9"]
    assert "cannot connect" in result.stdout and "no answer within 10 s" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "No existing session" not in result.stderr


def test_keepalive_settings_come_from_ssh_args(fleet: LabSession, tmp_path: Path, state: Path) -> None:
    """ansible_ssh_common_args' ServerAliveInterval/CountMax win over the default (and --ssh-alive)."""
    book = _playbook(tmp_path, "h1,h2", "    - shell: touch /tmp/in-task; sleep 3\n")
    fleet.ssh(2, "rm -f /tmp/in-task", check=True)
    proc = _start(
        [
            "play", str(book), "-i", str(fleet.inventory_path), "--ssh-alive", "30x5",
            "-e", '{"ansible_ssh_common_args": "-o ServerAliveInterval=2 -o ServerAliveCountMax=2"}',
        ],
        state,
        tmp_path,
    )  # fmt: skip
    while not (fleet.upper_dir(2) / "tmp" / "in-task").exists():
        assert proc.poll() is None
        time.sleep(0.05)
    fleet.stop(2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, out + err
    assert "no answer to 2 keepalives in 4 s" in out


# -- interrupts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_big_copies_is_clean_and_fast(
    fleet: LabSession, tmp_path: Path, state: Path, sig: signal.Signals
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(50 * 1024 * 1024))
    for i in range(1, 6):
        fleet.ssh(i, "rm -f /root/big.bin", check=True)
    book = _playbook(
        tmp_path, "h1,h2,h3,h4,h5", f"    - copy:\n        src: {big}\n        dest: /root/big.bin\n"
    )
    report = tmp_path / "run.json"
    args = ["play", str(book), "-i", str(fleet.inventory_path), "--json", str(report)]
    proc = _start(args, state, tmp_path)
    deadline = time.monotonic() + 30
    while not _uploading(fleet, range(1, 6)):
        assert time.monotonic() < deadline and proc.poll() is None, "no upload started"
        time.sleep(0.01)
    signalled = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - signalled
    assert proc.returncode == 99, out + err
    assert elapsed < 3, f"exit took {elapsed:.1f}s after the signal\n{out}\n{err}"
    assert "Traceback" not in out + err
    recap = _recap_hosts(out)
    assert sorted(recap) == ["h1", "h2", "h3", "h4", "h5"], out
    assert "Interrupted" in out + err
    document = json.loads(report.read_text())
    assert document["stats"].keys() == recap.keys()
    record = _records(state)[-1]
    assert record["exit_code"] == 99 and record["interrupted_hosts"]
    assert _orch_leftovers(fleet, range(1, 6)) == []
    # the next run converges: the files arrive whole, and a second run changes nothing
    again = _orch(args, state, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    for i in range(1, 6):
        assert fleet.ssh(i, "wc -c < /root/big.bin").stdout.strip() == str(50 * 1024 * 1024)
    assert "changed=0" in _orch(args, state, tmp_path).stdout


# -- history and retry -----------------------------------------------------------------------------


def test_history_and_retry_touch_only_the_failed_hosts(
    fleet: LabSession, tmp_path: Path, state: Path
) -> None:
    ten = ",".join(f"h{i}" for i in range(1, 11))
    book = _playbook(tmp_path, ten, "    - command: 'true'\n")
    args = ["play", str(book), "-i", str(fleet.inventory_path), "-e", "db_password=hunter2-secret"]
    fleet.kill(3)
    fleet.kill(6)
    first = _orch(args, state, tmp_path, timeout=60)
    assert first.returncode == 4, first.stdout + first.stderr
    record = _records(state)[-1]
    assert sorted(record["hosts"]) == sorted(ten.split(","))
    listing = _orch(["history"], state, tmp_path)
    assert record["id"] in listing.stdout and "0/8/0/2" in listing.stdout  # ok/changed/failed/unreachable
    shown = _orch(["history", "show", record["id"]], state, tmp_path).stdout
    assert "h3" in shown and "unreachable" in shown and "orch retry" in shown
    # secrets never reach the record; the record is private
    files = list((state / "orch" / "runs").rglob("record.json"))
    assert all("hunter2-secret" not in f.read_text() for f in files)
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)

    fleet.revive(3)
    fleet.revive(6)
    retried = _orch([*args, "--retry"], state, tmp_path)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert sorted(_recap_hosts(retried.stdout)) == ["h3", "h6"]
    retry_record = _records(state)[-1]
    assert sorted(retry_record["hosts"]) == ["h3", "h6"]
    assert sorted(retry_record["results"]) == ["h3", "h6"]
    # nothing left to retry now
    again = _orch([*args, "--retry"], state, tmp_path)
    assert again.returncode == 0 and "nothing to retry" in again.stderr


def test_orch_retry_command_and_ansible_retry_file(fleet: LabSession, tmp_path: Path, state: Path) -> None:
    book = _playbook(tmp_path, "h1,h2,h3", "    - command: 'true'\n")
    fleet.kill(2)
    env_args = ["play", str(book), "-i", str(fleet.inventory_path)]
    env = _env(state) | {"ANSIBLE_RETRY_FILES_ENABLED": "true"}
    first = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *env_args], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert first.returncode == 4
    assert (tmp_path / "site.retry").read_text() == "h2\n"
    fleet.revive(2)
    retried = _orch(["retry"], state, tmp_path)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert sorted(_recap_hosts(retried.stdout)) == ["h2"]
    limited = _orch([*env_args, "--limit", f"@{tmp_path / 'site.retry'}"], state, tmp_path)
    assert sorted(_recap_hosts(limited.stdout)) == ["h2"]


# -- nothing a value contains crashes the run ------------------------------------------------------

DOCUMENTED = {0, 2, 3}  # ok; a task failed; input invalid (nothing run). Never 1, 250 or a traceback.

PIECES = [*"\"'\\`$;|&(){}[]%#\n\r\t\0 é", "{{", "}}", "{%", "%}", "\udc80", "\ud83d"]
hostile_text = st.one_of(
    st.text(),
    st.lists(st.sampled_from(PIECES)).map("".join),  # quotes, shell and Jinja syntax, NUL, surrogates
    st.text(
        alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1
    ),  # lone surrogates
    st.builds(
        lambda c, n: c * n, st.sampled_from(["x", '"', "\0", "{{", "é", "\udc80"]), st.integers(0, 300_000)
    ),
)


def _main_in_process(args: list[str], state: Path) -> tuple[int, str]:
    import io

    from orchestrator.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        if saved is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = saved
    return code, out.getvalue() + err.getvalue()


FUZZ = settings(
    max_examples=int(os.environ.get("ORCH_FUZZ_EXAMPLES", "80")),  # about 30 s in all; more locally
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@FUZZ
@given(
    value=hostile_text,
    channel=st.sampled_from(["json", "kv", "file"]),
    module=st.sampled_from(["command", "copy", "debug"]),
)
def test_fuzz_values_never_crash_the_run(
    fleet: LabSession, tmp_path: Path, value: str, channel: str, module: str
) -> None:
    base = ["run", "h1", "-i", str(fleet.inventory_path)]
    if channel == "json":
        extra = json.dumps({"x": value})  # ensure_ascii: surrogates travel as \udXXX escapes
    elif channel == "kv":
        extra = f"x={value}"
    else:
        path = tmp_path / "vars.json"
        path.write_text(json.dumps({"x": value}))
        extra = f"@{path}"
    module_args = {
        "command": ["-a", 'echo "{{ x }}"'],
        "copy": ["-m", "copy", "-a", "content={{ x }} dest=/tmp/fuzz"],
        "debug": ["-m", "debug", "-a", "msg={{ x }}"],
    }[module]
    code, output = _main_in_process([*base, *module_args, "-e", extra], tmp_path / "state")
    assert code in DOCUMENTED, output[-2000:]
    assert "Traceback" not in output


@FUZZ
@given(value=hostile_text)
def test_fuzz_module_args_and_vars_files_never_crash_the_run(
    fleet: LabSession, tmp_path: Path, value: str
) -> None:
    varsfile = tmp_path / "vars.json"
    varsfile.write_text(json.dumps({"y": value}))
    book = tmp_path / "fuzz.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "hosts": "h1",
                    "gather_facts": False,
                    "vars_files": [str(varsfile)],
                    "tasks": [
                        {"command": value},
                        {"copy": {"content": "{{ y }}", "dest": "/tmp/fuzz2"}, "ignore_errors": True},
                        {"lineinfile": {"path": "/tmp/fuzz3", "line": value, "create": True}},
                    ],
                }
            ]
        )
    )
    code, output = _main_in_process(["play", str(book), "-i", str(fleet.inventory_path)], tmp_path / "state")
    assert code in DOCUMENTED, output[-2000:]
    assert "Traceback" not in output


# -- security fixes found on the way ---------------------------------------------------------------


def test_cron_refuses_line_breaks_and_user_refuses_option_names(
    fleet: LabSession, tmp_path: Path, state: Path
) -> None:
    inventory = str(fleet.inventory_path)
    before = fleet.ssh(1, "crontab -l 2>/dev/null; :").stdout
    for payload in (
        {"n": "nightly\n* * * * * touch /tmp/pwned", "j": "true"},
        {"n": "ok", "j": "true\n* * * * * id"},
    ):
        result = _orch(
            [
                "run",
                "h1",
                "-i",
                inventory,
                "-m",
                "cron",
                "-a",
                "name={{ n }} job={{ j }}",
                "-e",
                json.dumps(payload),
            ],
            state,
            tmp_path,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "line break" in result.stdout
    assert fleet.ssh(1, "crontab -l 2>/dev/null; :").stdout == before
    result = _orch(["run", "h1", "-i", inventory, "-m", "user", "-a", "name=-h"], state, tmp_path)
    assert result.returncode == 2 and "invalid user name" in result.stdout, result.stdout + result.stderr
    # `--` before operands: a real account still converges through useradd/usermod/userdel
    for args, changed in (("name=reltest shell=/bin/sh", True), ("name=reltest shell=/bin/sh", False),
                          ("name=reltest shell=/bin/bash", True), ("name=reltest state=absent", True)):  # fmt: skip
        result = _orch(["run", "h1", "-i", inventory, "-m", "user", "-a", args, "-o"], state, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert ("CHANGED" in result.stdout) is changed, result.stdout


# -- controller-side work is bounded ------------------------------------------------------------


def test_runaway_template_fails_its_host_only(fleet: LabSession, tmp_path: Path, state: Path) -> None:
    """A template that loops without end (h1) or grows without end (h2) fails that host with the
    reason; h3 renders the same task's template normally and the run goes on."""
    spin = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    grow = (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% for j in range(100000) %}"
        "{{ ns.l.append(j ~ ('x' * 1000)) or '' }}{% endfor %}{% endfor %}"
    )
    (tmp_path / "spin.j2").write_text(spin)
    (tmp_path / "grow.j2").write_text(grow)
    (tmp_path / "fine.j2").write_text("{{ inventory_hostname }}\n")
    tasks = "".join(
        "    - template:\n"
        f"        src: \"{{{{ '{name}.j2' if inventory_hostname == '{host}' else 'fine.j2' }}}}\"\n"
        "        dest: /tmp/rendered\n"
        for host, name in (("h1", "spin"), ("h2", "grow"))
    )
    playbook = _playbook(tmp_path, "h1,h2,h3", tasks)
    started = time.monotonic()
    result = _orch(
        [
            "play",
            str(playbook),
            "-i",
            str(fleet.inventory_path),
            "--task-timeout",
            "20",
            "--memory-budget",
            "250",
        ],
        state,
        tmp_path,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "Traceback" not in out
    fatal = {
        line.split("]")[0][len("fatal: [") :]: line
        for line in out.splitlines()
        if line.startswith("fatal: [")
    }
    assert "still rendering after 20 s (the task timeout)" in fatal["h1"], out
    assert "past its memory budget of 250 MB" in fatal["h2"], out
    recap = _recap_hosts(result.stdout)
    assert "failed=1" in recap["h1"] and "failed=1" in recap["h2"], recap
    assert "failed=0" in recap["h3"] and "ok=2" in recap["h3"], recap
    assert fleet.ssh(3, "cat /tmp/rendered").stdout == "h3\n"
    assert elapsed < 200, elapsed
