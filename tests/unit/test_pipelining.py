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


# -- chained writes: a read-then-write task's write carries the next batch ----------------------

EDITS = """
- hosts: all
  gather_facts: false
  tasks:
    - file: {path: "{{ root }}/d", state: directory}
    - copy: {content: "a\\n", dest: "{{ root }}/d/f"}
    - lineinfile: {path: "{{ root }}/d/f", line: "{{ item }}"}
      loop: [b, c]
    - copy: {content: "x\\n", dest: "{{ root }}/d/g"}
    - copy: {src: "{{ root }}/../tree/", dest: "{{ root }}/d/tree/"}
    - copy: {content: "after the tree\\n", dest: "{{ root }}/d/h"}
    - replace: {path: "{{ root }}/d/f", regexp: "^b$", replace: B}
    - lineinfile: {path: "{{ root }}/d/f", line: refused, validate: "false %s"}
      ignore_errors: true
    - copy: {content: "after a failed write\\n", dest: "{{ root }}/d/after"}
    - lineinfile:
        path: "{{ root }}/d/g"
        line: "{{ item }}"
        validate: "{{ 'false %s' if item == 'y' else omit }}"
      loop: [y, z]
      ignore_errors: true
    - blockinfile: {path: "{{ root }}/d/g", block: "w"}
    - copy: {content: "end\\n", dest: "{{ root }}/d/end"}
"""


def _edits(tmp_path: Path) -> Path:
    """EDITS, and the local directory its tree copy sends (one write per file: none of them
    `last`, so none may carry the tasks after it)."""
    (tmp_path / "tree").mkdir(exist_ok=True)
    for name in ("a", "b", "c"):
        (tmp_path / "tree" / name).write_text(f"{name}\n")
    playbook = tmp_path / "edits.yml"
    playbook.write_text(textwrap.dedent(EDITS))
    return playbook


def _local_play(playbook: Path, root: Path, *args: str) -> tuple[str, ...]:
    local = ("-i", "localhost,", "-e", "ansible_connection=local")
    return ("play", str(playbook), *local, "-e", f"root={root}", *args)


@pytest.mark.parametrize("extra", [(), ("--check",), ("--diff",)])
def test_a_chained_write_carries_the_next_tasks(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """Each read-then-write task (lineinfile, replace, blockinfile) sends its write as the head of
    the next batch; a write that fails stops that batch on the host (the next task then starts
    a batch of its own), a loop's next item after it still runs, and everything ends as one by
    one: results, recap, files."""
    playbook = _edits(tmp_path)
    runs = {}
    for mode, flags in (("pipelined", ()), ("one-by-one", ("--no-pipelining",))):
        root = tmp_path / "root"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        out = tmp_path / f"{mode}.json"
        args = _local_play(playbook, root, "--json", str(out), *flags, *extra)
        procs = [run_orch(*args, cwd=tmp_path) for _ in range(2)]
        report = json.loads(out.read_text())  # the second run
        runs[mode] = (procs[0].returncode, report, _tree(root), [p.stdout for p in procs])
    rc_p, pipelined, tree_p, out_p = runs["pipelined"]
    rc_o, one_by_one, tree_o, out_o = runs["one-by-one"]
    assert rc_p == rc_o == (2 if "--check" in extra else 0)  # check mode: replace finds no file
    assert tree_p == tree_o
    assert _results(pipelined) == _results(one_by_one)
    assert pipelined["stats"] == one_by_one["stats"]
    if not extra or extra == ("--diff",):
        assert tree_p["d/f"] == "a\nB\nc\n" and tree_p["d/g"].startswith("x\nz\n")
        assert "d/after" in tree_p and "d/end" in tree_p and tree_p["d/tree/c"] == "c\n"
    if extra == ("--diff",):
        assert out_p[0].count("+++ after") == out_o[0].count("+++ after") > 0


def test_chained_writes_save_a_round_trip_each(tmp_path: Path) -> None:
    """The converge of EDITS, counted. One by one: a round trip per copy/file, two per edit (its
    read, its write), five for the tree (a listing, the directories, three files): 25.
    Pipelined: the first batch runs up to the first read (b); each of the 7 edits' writes
    carries the tasks up to the next read; a write that fails stops its batch, so the task after
    it starts one (the copy after `refused`) and the loop's next item reads by itself (z); the
    tree's four writes go one by one (none is its module's last call) and the copy after it
    starts a batch: 1 + 7 + 2 + 4 + 1 = 15."""
    playbook = _edits(tmp_path)
    trips = {}
    for mode, flags in (("pipelined", ()), ("one-by-one", ("--no-pipelining",))):
        root = tmp_path / mode
        root.mkdir()
        out = tmp_path / f"{mode}.json"
        run_orch(*_local_play(playbook, root, "--json", str(out), *flags), cwd=tmp_path)
        trips[mode] = json.loads(out.read_text())["transport"]["localhost"]["round_trips"]
    assert trips == {"pipelined": 15, "one-by-one": 25}, trips
