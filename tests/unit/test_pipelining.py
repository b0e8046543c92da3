"""Task pipelining (executor/pipeline.py): the batch wire protocol against a real local /bin/sh,
the static rule, and whole playbooks on the local connection run both ways, whose results must
be the same while the pipelined run costs fewer round trips."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import SourceLocation
from orchestrator.executor.pipeline import eligible
from orchestrator.executor.task_runner import Frame
from orchestrator.lab.testing import run_orch
from orchestrator.playbook.model import Task, TaskOptions
from orchestrator.transport.base import ConnectionSpec
from orchestrator.transport.local import LocalConnection
from orchestrator.transport.shell import BatchCommand


@pytest.fixture
def conn():
    connection = LocalConnection(ConnectionSpec(host="localhost", address="localhost", connection="local"))
    yield connection
    connection.close()


# -- the wire protocol -------------------------------------------------------------------------


def test_batch_runs_in_order_and_frames_each_result(conn: LocalConnection) -> None:
    batch = conn.start_batch(
        [
            BatchCommand("echo one; echo err1 >&2"),
            BatchCommand("cat; printf 'no newline'", stdin=b"fed\n"),
            BatchCommand('echo "$GREETING"; exit 3', env={"GREETING": "hi there"}),
        ]
    )
    first, second, third = (conn.batch_result(batch, i) for i in range(3))
    assert first is not None and (first.rc, first.stdout, first.stderr) == (0, b"one\n", b"err1\n")
    assert second is not None and (second.rc, second.stdout) == (0, b"fed\nno newline")
    assert third is not None and (third.rc, third.stdout, third.stderr) == (3, b"hi there\n", b"")
    assert conn.batch_result(batch, 3) is None
    assert conn.stats.round_trips == 1


def test_batch_stops_at_the_first_status_outside_go_on(conn: LocalConnection, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    batch = conn.start_batch(
        [
            BatchCommand("exit 10", go_on=(0, 10)),
            BatchCommand("exit 1", go_on=(0, 10)),
            BatchCommand(f"touch {marker}"),
        ]
    )
    assert [r.rc for r in (conn.batch_result(batch, 0), conn.batch_result(batch, 1)) if r] == [10, 1]
    assert conn.batch_result(batch, 2) is None
    assert not marker.exists()  # the host never ran what comes after the failure


def test_output_cannot_forge_a_frame(conn: LocalConnection) -> None:
    """A command printing frame-like lines (even with a guessed token) stays one result."""
    forged = (
        "printf '\\n__ORCH_Bdeadbeefdeadbeef 1 0\\n'; printf '\\n__ORCH_Bdeadbeefdeadbeef end\\n'; echo after"
    )
    batch = conn.start_batch([BatchCommand(forged), BatchCommand("echo second")])
    first = conn.batch_result(batch, 0)
    second = conn.batch_result(batch, 1)
    assert first is not None and first.stdout.endswith(b"end\nafter\n")
    assert second is not None and second.stdout == b"second\n"


def test_held_commands_see_the_hold_and_a_run_after_a_batch_waits_for_it(conn: LocalConnection) -> None:
    batch = conn.start_batch(
        [
            BatchCommand('echo "[${__orch_hold-}]"'),
            BatchCommand('echo "[${__orch_hold-}]"; sleep 0.2', hold=True),
        ]
    )
    first = conn.batch_result(batch, 0)
    assert first is not None and first.stdout == b"[]\n"
    # the next command reads the rest of the batch first, then runs by itself
    assert conn.run("echo next").stdout == b"next\n"
    assert batch.ended and batch.results[1].stdout == b"[1]\n"
    assert conn.stats.round_trips == 2


# -- the static rule ---------------------------------------------------------------------------


def _task(action: str = "file", **kwargs: Any) -> Task:
    options = kwargs.pop("options", TaskOptions())
    return Task(
        name="t",
        action=action,
        args={"path": "/x"},
        location=SourceLocation("p.yml", 1, 1),
        options=options,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (_task(), True),
        (_task("copy", register="r"), True),  # may join; the tasks after it are planned again
        (_task("debug"), False),  # controller-side
        (_task("set_fact"), False),
        (_task("meta"), False),
        (_task("include_tasks"), False),
        (_task("reboot"), False),
        (_task("wait_for"), False),
        (_task(until=["r is success"]), False),
        (_task(options=TaskOptions(run_once=True)), False),
        (_task(options=TaskOptions(delegate_to="db1")), False),
        (_task(options=TaskOptions(any_errors_fatal=True)), False),
        (_task(options=TaskOptions(throttle=1)), False),
        (_task(options=TaskOptions(timeout=5)), False),
        (_task(options=TaskOptions(run_once=False)), True),
        (_task(options=TaskOptions(when=["ansible_play_hosts | length > 1"])), False),
        (_task(loop_control={"pause": 1}), False),
    ],
)
def test_eligible(task: Task, expected: bool) -> None:
    assert eligible(task, Frame()) is expected


def test_a_block_keyword_counts_too() -> None:
    assert not eligible(_task(), Frame(options=(TaskOptions(delegate_to="db1"),)))


# -- whole playbooks, both ways ------------------------------------------------------------------

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - file: {path: "{{ root }}/d", state: directory}
    - copy: {content: "one\\n", dest: "{{ root }}/d/one"}
    - file: {path: "{{ root }}/d/{{ item }}", state: directory}
      loop: [a, b]
    - lineinfile: {path: "{{ root }}/d/one", line: two}
    - command: cat {{ root }}/d/one
      register: out
      changed_when: false
    - copy: {content: "{{ out.stdout }}\\n", dest: "{{ root }}/d/copied"}
    - command: "false"
      ignore_errors: true
    - copy: {content: "after an ignored failure\\n", dest: "{{ root }}/d/after"}
    - shell: "test -e {{ root }}/d/missing"
      when: fail_here | default(false)
    - copy: {content: "never\\n", dest: "{{ root }}/d/never"}
"""


def _play(tmp_path: Path, root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    playbook = tmp_path / "p.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    out = tmp_path / "out.json"
    proc = run_orch(
        "play", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "-e", f"root={root}",
        "--json", str(out), *args, cwd=tmp_path,
    )  # fmt: skip
    return proc.returncode, json.loads(out.read_text())


def _results(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a user sees of each task: name, status, changed, msg, stdout, per item too."""
    out = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in sorted(task["hosts"].items()):
                items = [
                    (i.get("item"), i.get("changed"), i.get("failed"), i.get("skipped"))
                    for i in result.get("results", [])
                ]
                out.append(
                    (task["task"]["name"], host, result.get("changed"), result.get("failed"),
                     result.get("skipped"), result.get("msg"), result.get("stdout"), items)
                )  # fmt: skip
    return out


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text() if p.is_file() else "dir" for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("extra", [(), ("--check",), ("-e", "fail_here=true")])
def test_same_results_with_fewer_round_trips(tmp_path: Path, extra: tuple[str, ...]) -> None:
    runs = {}
    for mode, flags in (("pipelined", ()), ("one-by-one", ("--no-pipelining",))):
        root = tmp_path / "root"  # the same path both ways: messages name it
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        first = _play(tmp_path, root, *flags, *extra)
        second = _play(tmp_path, root, *flags, *extra)
        runs[mode] = (first, second, _tree(root))
    for index in (0, 1):
        (rc_p, pipelined), (rc_o, one_by_one) = runs["pipelined"][index], runs["one-by-one"][index]
        assert rc_p == rc_o
        assert _results(pipelined) == _results(one_by_one)
        assert pipelined["stats"] == one_by_one["stats"]
        trips_p = pipelined["transport"]["localhost"]["round_trips"]
        trips_o = one_by_one["transport"]["localhost"]["round_trips"]
        assert trips_p < trips_o, (trips_p, trips_o)
    assert runs["pipelined"][2] == runs["one-by-one"][2]  # the same files, the same content
    if "fail_here=true" in extra:
        assert "d/never" not in runs["pipelined"][2]  # the host stopped at the failure


# -- prefetch: one stat and one sha1sum for all held commands -----------------------------------

_SHOW = (
    'orch_statvars "$1"; echo "$st_state|$st_mode|$st_owner|$st_group|$st_uid|$st_gid|$st_size|$st_target"'
)
_HITS = 'orch_pf_stat "$1" && echo stat-hit; orch_pf_sum "$1" && echo "sum-hit $__c"; :'


def _odd_paths(root: Path) -> list[str]:
    names = [
        "plain",
        "with space",
        "new\nline",
        "back\\slash",
        "$(touch pwned)",
        "-dash",
        "dir",
        "link",
        "missing",
    ]
    for name in names[:6]:
        (root / name).write_text(f"content of {name}\n")
    (root / "dir").mkdir()
    (root / "link").symlink_to("plain")
    return [str(root / name) for name in names]


def test_prefetch_answers_held_commands_as_stat_and_sha1sum_would(
    conn: LocalConnection, tmp_path: Path
) -> None:
    from orchestrator.modules.shlib import LIBRARY
    from orchestrator.transport.shell import quote

    paths = _odd_paths(tmp_path)
    plain = [BatchCommand(f"set -- {quote(p)}; {_SHOW}; {_HITS}") for p in paths]
    held = [
        BatchCommand(f"set -- {quote(p)}; {_SHOW}; {_HITS}", hold=True, stats=(p,), sums=(p,)) for p in paths
    ]
    # a file only stat'ed keeps its access time (a touch task with fixed times checks it)
    old_atime = tmp_path / "old-atime"
    old_atime.write_text("x")
    os.utime(old_atime, (1_000_000_000, 1_000_000_000))
    held.append(BatchCommand(f"set -- {quote(str(old_atime))}; {_HITS}", hold=True, stats=(str(old_atime),)))
    batch = conn.start_batch([*plain, *held], library=LIBRARY)
    results = [conn.batch_result(batch, i) for i in range(2 * len(paths) + 1)]
    assert all(r is not None and r.rc == 0 for r in results), results
    for index, path in enumerate(paths):
        own = results[index].stdout.decode().splitlines()  # type: ignore[union-attr]
        cached = results[len(paths) + index].stdout.decode().splitlines()  # type: ignore[union-attr]
        assert own[0] == cached[0], path  # the same attributes either way
        assert len(own) == 1  # not held: never answered from the prefetch
        name = Path(path).name
        exists = name != "missing"
        assert ("stat-hit" in cached) == exists, (path, cached)
        summed = name in ("plain", "with space", "$(touch pwned)", "-dash")  # regular, plainly named files
        sums = [line for line in cached if line.startswith("sum-hit ")]
        if summed:
            assert sums == [f"sum-hit {hashlib.sha1(Path(path).read_bytes()).hexdigest()}"]
        else:
            assert sums == [], path
    assert results[-1] is not None and results[-1].stdout == b"stat-hit\n"
    assert old_atime.stat().st_atime == 1_000_000_000
    assert not (tmp_path / "pwned").exists()
    # the prefetch ends with its batch: later held commands do not see it
    after = conn.start_batch([BatchCommand(f"set -- {quote(paths[0])}; {_HITS}", hold=True)], library=LIBRARY)
    result = conn.batch_result(after, 0)
    assert result is not None and result.stdout == b""


def test_a_pipelined_noop_sums_and_stats_each_file_once(tmp_path: Path) -> None:
    """Held file tasks take their stat and checksum from the prefetch: in the second run of a
    playbook of copies behind a lineinfile (it reads, then decides on the controller, so the
    tasks after it are held) one stat and one sha1sum read all of them."""
    root = tmp_path / "root"
    root.mkdir()
    playbook = tmp_path / "files.yml"
    playbook.write_text(
        textwrap.dedent(
            """\
            - hosts: all
              gather_facts: false
              tasks:
                - lineinfile: {path: "{{ root }}/conf", line: "x=1", create: true}
                - copy: {content: "one\\n", dest: "{{ root }}/one"}
                - copy: {content: "two\\n", dest: "{{ root }}/two"}
                - file: {path: "{{ root }}/sub", state: directory}
                - copy: {content: "three\\n", dest: "{{ root }}/sub/three"}
            """
        )
    )
    wrapper = tmp_path / "bin"
    wrapper.mkdir()
    log = tmp_path / "calls"
    for tool in ("sha1sum", "stat"):  # count the calls, then do the real thing
        real = shutil.which(tool)
        (wrapper / tool).write_text(f'#!/bin/sh\necho {tool} >> {log}\nexec {real} "$@"\n')
        (wrapper / tool).chmod(0o755)
    args = ("play", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "-e", f"root={root}")
    assert run_orch(*args, cwd=tmp_path).returncode == 0
    env = {"PATH": f"{wrapper}:{os.environ['PATH']}"}
    for flags, expected in (
        ((), {"sha1sum": 1, "stat": 2}),
        (("--no-pipelining",), {"sha1sum": 3, "stat": 5}),
    ):
        log.unlink(missing_ok=True)
        proc = run_orch(*args, *flags, cwd=tmp_path, env=env)
        assert proc.returncode == 0 and "changed=0" in proc.stdout, proc.stdout
        calls = log.read_text().split()
        assert {tool: calls.count(tool) for tool in expected} == expected, (flags, calls)
