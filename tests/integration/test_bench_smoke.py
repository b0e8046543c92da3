"""The benchmark harness end to end in its smallest form: orch only, 2 hosts, no WAN.

No timing is asserted (the machine is shared); what must hold is that the harness really ran the
workload, measured from outside orch (sshd's log) one SSH connection per host per run, read
orch's own round-trip figures, checked the converged end state, and printed the table.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab.testing import REPO_ROOT, LabSession, lab_unavailable_reason, open_lab_session

# bench/ is a top-level directory of the repository, not part of the installed package.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from bench.harness import Bench, Config, table, task_items

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def bench_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    session = open_lab_session(2, tmp_path_factory.mktemp("bench-lab"))
    try:
        yield session
    finally:
        session.close()


def test_bench_runs_orch_on_two_hosts(bench_lab: LabSession) -> None:
    lines: list[str] = []
    bench = Bench(Config(tools=["orch"], sizes=[2]), out=lines.append, fleet=bench_lab.fleet)
    measures = bench.run()

    assert [(m.tool, m.n, m.network, m.phase) for m in measures] == [
        ("orch", 2, "lan", "converge"),
        ("orch", 2, "lan", "noop"),
    ]
    converge, noop = measures
    logs = {m.phase: Path(m.log).read_text() for m in measures}
    assert converge.rc == 0, logs["converge"]
    assert converge.verified is True
    assert noop.rc == 0, logs["noop"]
    assert converge.changed and converge.changed > 0
    assert noop.changed == 0, logs["noop"]
    # One SSH connection per host per run, as sshd itself logged it.
    assert converge.conns_per_host == [1, 1]
    assert noop.conns_per_host == [1, 1]
    # orch's round trips, as the report shows them: the no-op's independent tasks are pipelined
    # (docs/pipelining.md), issue 18's target is at most 3 per host
    assert noop.round_trip_source == "orch --json"
    assert all(1 <= rt <= 3 < task_items() for rt in noop.round_trips_per_host), noop.round_trips_per_host
    assert converge.cpu > 0 and converge.rss_mb > 0

    text = table(measures, bench.items)
    assert "| lan | 2   | orch" in text
    assert (bench.run_dir / "results.json").is_file()
    assert bench_lab.fleet.status() and all(h.running for h in bench_lab.fleet.status())


def test_bench_floor_and_one_by_one_rows(bench_lab: LabSession) -> None:
    bench = Bench(
        Config(tools=["floor", "orch", "orch-1by1"], sizes=[2]), out=lambda _: None, fleet=bench_lab.fleet
    )
    measures = {(m.tool, m.phase): m for m in bench.run()}

    floor = measures["floor", "noop"]
    assert floor.rc == 0, Path(floor.log).read_text()
    assert "floor: 2 of 2 hosts answered" in Path(floor.log).read_text()
    assert floor.conns_per_host == [1, 1]
    assert floor.verified is None  # the floor converges nothing, so nothing is checked
    # --no-pipelining: one round trip per task item on the no-op, as before pipelining
    one_by_one = measures["orch-1by1", "noop"]
    assert one_by_one.rc == 0 and one_by_one.changed == 0
    assert one_by_one.round_trips_per_host == [task_items()] * 2
    assert measures["orch-1by1", "converge"].verified is True

    text = table(list(measures.values()), bench.items)
    floor_row = next(line for line in text.splitlines() if "| floor " in line)
    orch_row = next(line for line in text.splitlines() if "| orch " in line)
    assert floor_row.split("|")[7].strip() == "-"  # no x floor for the floor itself
    assert orch_row.split("|")[7].strip() != "-"  # orch's times over the floor's
