"""`orch play --cluster`: the same run on Dask workers as in one process, and a lost worker.

One 20-host fleet for the module. The workload (cluster/site.yml) runs in local mode, then on a
fresh fleet with `--cluster local:2` (a LocalCluster of 2 worker processes started by orch):
recap, exit code and every host's end state must be the same, converge and no-op. Then a
scheduler and two workers started here (Dask resources `a` and `b`, hosts placed on them by
`orch_cluster_worker_group`) lose worker `a` mid-play: its hosts are unreachable with the reason,
the others finish, exit 4, no hang; `--retry` with a new worker `a` finishes them. A frozen
worker (SIGSTOP) is lost the same way once it has been silent for Dask's comm timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from differential_harness import DEFAULT_IGNORE, parse_recap, snapshot

from orchestrator.lab.testing import LabSession, lab_unavailable_reason, open_lab_session, run_orch

pytestmark = [pytest.mark.lab, pytest.mark.slow]

distributed = pytest.importorskip("distributed", reason="the cluster tests need orch[cluster] (Dask)")

WORKLOAD = Path(__file__).resolve().parent / "cluster" / "site.yml"
FLEET_SIZE = 20
GROUP_A = [f"h{i}" for i in range(1, FLEET_SIZE + 1) if i % 2]  # placed on worker `a`
DASK = Path(sys.executable).parent / "dask"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"cluster tests need the lab: {reason}")
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    session = open_lab_session(FLEET_SIZE, tmp_path_factory.mktemp("cluster-fleet"), progress=progress)
    try:
        yield session
    finally:
        session.close()


def _play(playbook: Path, inventory: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    proc = run_orch(
        "play", str(playbook), "-i", str(inventory), *args,
        cwd=playbook.parent, env={"NO_COLOR": "1", "COLUMNS": "160"}, timeout=timeout,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def _state(fleet: LabSession) -> dict[str, dict[str, object]]:
    return {f"h{i}": snapshot(fleet, f"h{i}", DEFAULT_IGNORE) for i in range(1, FLEET_SIZE + 1)}


def test_cluster_run_equals_local_run(fleet: LabSession) -> None:
    inventory = fleet.inventory_path
    fleet.reset_all()
    local = [_play(WORKLOAD, inventory), _play(WORKLOAD, inventory)]
    local_state = _state(fleet)
    fleet.reset_all()
    started = time.monotonic()
    clustered = [_play(WORKLOAD, inventory, "--cluster", "local:2") for _ in range(2)]
    print(f"cluster runs: {time.monotonic() - started:.1f} s for both", file=sys.stderr)
    cluster_state = _state(fleet)
    for run, ((local_rc, local_out), (cluster_rc, cluster_out)) in enumerate(
        zip(local, clustered, strict=True)
    ):
        context = f"run {run + 1}\n--- local:\n{local_out[-3000:]}\n--- cluster:\n{cluster_out[-3000:]}"
        assert local_rc == 2, context  # h7 fails on purpose
        assert cluster_rc == local_rc, context
        local_recap, cluster_recap = parse_recap(local_out), parse_recap(cluster_out)
        assert len(local_recap) == FLEET_SIZE, context
        assert cluster_recap == local_recap, context
    assert parse_recap(local[0][1])["h1"]["changed"] > 0  # the first run converged...
    assert parse_recap(local[1][1])["h1"]["changed"] == 0  # ...the second found nothing to do
    assert local_state["h1"], "the workload changed nothing on h1"
    differences = [
        f"{host}: {path}: local {local_state[host].get(path)} cluster {cluster_state[host].get(path)}"
        for host in local_state
        for path in sorted(set(local_state[host]) | set(cluster_state[host]))
        if local_state[host].get(path) != cluster_state[host].get(path)
    ]
    assert not differences, "\n".join(differences)


# ---- a lost worker ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaskProcesses:
    """A scheduler and workers as separate processes, as on real machines (no nanny: a killed
    worker stays dead)."""

    def __init__(self, log_dir: Path) -> None:
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        port = self.address.rsplit(":", 1)[1]
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def worker(self, resource: str) -> subprocess.Popen[bytes]:
        return self._start(
            f"worker-{resource}", "worker", self.address, "--no-nanny", "--nthreads", "1",
            "--resources", f"{resource}=1", "--host", "127.0.0.1", "--no-dashboard",
        )  # fmt: skip

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        with distributed.Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=timeout)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[DaskProcesses]:
    processes = DaskProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.close()


def _hit_worker_a_mid_play(
    fleet: LabSession, dask_processes: DaskProcesses, tmp_path: Path, sig: int, env: dict[str, str]
) -> tuple[int, str, float, Path, Path, tuple[str, ...], subprocess.Popen[bytes]]:
    """Run a play whose second task sleeps, on workers `a` and `b` (hosts placed by
    orch_cluster_worker_group); send `sig` to worker a while its hosts' commands run.
    (exit code, output, seconds from the signal to the end, inventory, playbook, --cluster args,
    worker a)."""
    inventory = yaml.safe_load(fleet.inventory_path.read_text())
    for name, host_vars in inventory["all"]["children"]["lab"]["hosts"].items():
        host_vars["orch_cluster_worker_group"] = "a" if name in GROUP_A else "b"
    inventory_path = tmp_path / "hosts.yml"
    inventory_path.write_text(yaml.safe_dump(inventory))
    # A new marker name per run: a file removed from an overlay's upper dir while it is mounted
    # may never show up there again.
    marker_name = f"cluster-marker-{tmp_path.name}"
    playbook = tmp_path / "slow.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - command: 'true'\n"
        f"    - shell: touch /srv/{marker_name}; sleep 8\n"
        "    - command: 'true'\n"
    )
    worker_a = dask_processes.worker("a")
    dask_processes.worker("b")
    dask_processes.wait_for_workers(2)
    marker = fleet.upper_dir(GROUP_A[0]) / "srv" / marker_name
    args = ("--cluster", dask_processes.address)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "play", str(playbook), "-i", str(inventory_path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "160", **env},
    )  # fmt: skip
    started = time.monotonic()
    while not marker.exists() and proc.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.2)
    if not marker.exists():
        proc.kill()
        pytest.fail(f"the sleeping task never started on a host of worker a\n{proc.communicate()[0]}")
    os.kill(worker_a.pid, sig)  # mid-task: its hosts' commands are running
    hit = time.monotonic()
    out, _ = proc.communicate(timeout=180)
    return proc.returncode, out, time.monotonic() - hit, inventory_path, playbook, args, worker_a


def _assert_group_a_lost(code: int, out: str, reason: str) -> None:
    recap = parse_recap(out)
    assert code == 4, out
    for host, counters in recap.items():
        if host in GROUP_A:
            assert counters["unreachable"] == 1 and counters["ok"] == 1, f"{host}: {counters}\n{out}"
        else:
            assert counters == {**counters, "ok": 3, "unreachable": 0, "failed": 0}, f"{host}\n{out}"
    assert len(recap) == FLEET_SIZE, out
    assert "cluster worker tcp://127.0.0.1:" in out and reason in out, out


def test_lost_worker_marks_its_hosts_unreachable_then_retry(
    fleet: LabSession, dask_processes: DaskProcesses, tmp_path: Path
) -> None:
    code, out, ended_after, inventory, playbook, args, _ = _hit_worker_a_mid_play(
        fleet, dask_processes, tmp_path, signal.SIGKILL, {}
    )
    _assert_group_a_lost(code, out, "was lost")
    assert ended_after < 30, f"the run took {ended_after:.0f} s to end after the worker was lost\n{out}"

    dask_processes.worker("a")  # a new worker for group a; --retry reruns only its hosts
    dask_processes.wait_for_workers(2)
    code, out = _play(playbook, inventory, *args, "--retry")
    assert code == 0, out
    assert sorted(parse_recap(out)) == sorted(GROUP_A), out


def test_frozen_worker_is_lost_after_dasks_silence_limit(
    fleet: LabSession, dask_processes: DaskProcesses, tmp_path: Path
) -> None:
    """A frozen worker (SIGSTOP: its connections stay open, the scheduler keeps it for minutes)
    is lost once it has not answered for distributed.comm.timeouts.tcp (12 s here, Dask's minimum 11 s)."""
    silence = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "12s"}
    code, out, ended_after, _, _, _, worker_a = _hit_worker_a_mid_play(
        fleet, dask_processes, tmp_path, signal.SIGSTOP, silence
    )
    os.kill(worker_a.pid, signal.SIGKILL)  # a stopped process ends only this way at once
    _assert_group_a_lost(code, out, "did not answer for 12 s")
    assert ended_after < 45, f"the run took {ended_after:.0f} s to end after the worker froze\n{out}"
