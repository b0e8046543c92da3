"""`--cluster` without a lab: placement, the optional Dask import, and errors that reach the user.

The runs on real hosts (local vs cluster, a lost worker) are in tests/differential/test_cluster_runs.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.cluster.placement import Placement
from orchestrator.lab.testing import recap_counters, run_orch

REPO = Path(__file__).resolve().parents[2]


def test_placement_balances_and_follows_groups() -> None:
    placement = Placement({"tcp://w2:1": {"eu"}, "tcp://w1:1": {"eu", "gpu"}, "tcp://w3:1": {"us"}})
    assert [placement.worker_for(f"e{i}", "eu") for i in range(4)] == [
        "tcp://w1:1", "tcp://w2:1", "tcp://w1:1", "tcp://w2:1",
    ]  # fmt: skip
    assert placement.worker_for("u1", "us") == "tcp://w3:1"
    assert placement.worker_for("any", None) == "tcp://w3:1"  # the least loaded of all
    assert placement.worker_for("nowhere", "ap") is None
    assert placement.worker_for("e0", "us") == "tcp://w1:1"  # once placed, a host stays
    assert placement.shards() == {
        "tcp://w1:1": ["e0", "e2"], "tcp://w2:1": ["e1", "e3"], "tcp://w3:1": ["u1", "any"],
    }  # fmt: skip


def _local_play(tmp_path: Path) -> tuple[Path, Path]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n")
    return inventory, playbook


def _in_process(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip


def test_without_cluster_nothing_of_dask_is_imported(tmp_path: Path) -> None:
    inventory, playbook = _local_play(tmp_path)
    proc = _in_process(
        f"""
        import json, sys
        from orchestrator.cli import main
        code = main(["play", {str(playbook)!r}, "-i", {str(inventory)!r}])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
        print(json.dumps([code, loaded]))
        """,
        tmp_path,
    )
    code, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stdout + proc.stderr
    assert loaded == []


def test_cluster_without_dask_installed_says_how_to_get_it(tmp_path: Path) -> None:
    inventory, playbook = _local_play(tmp_path)
    proc = _in_process(
        f"""
        import sys
        sys.modules["distributed"] = None  # as if orch[cluster] were not installed
        from orchestrator.cli import main
        sys.exit(main(["play", {str(playbook)!r}, "-i", {str(inventory)!r}, "--cluster", "local:1"]))
        """,
        tmp_path,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "pip install 'orch[cluster]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cluster_address_from_orch_cluster_and_ansible_cfg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCH_CLUSTER", raising=False)
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    proc = run_orch("config", cwd=tmp_path, env={"ORCH_CLUSTER": "tcp://10.0.0.5:8786"})
    assert "cluster               = tcp://10.0.0.5:8786  (env ORCH_CLUSTER)" in proc.stdout
    (tmp_path / "ansible.cfg").write_text("[orch]\ncluster = local:2\n")
    proc = run_orch("config", cwd=tmp_path)
    assert "cluster               = local:2" in proc.stdout, proc.stdout


def test_bad_local_cluster_size_is_an_option_error(tmp_path: Path) -> None:
    inventory, playbook = _local_play(tmp_path)
    proc = run_orch("play", str(playbook), "-i", str(inventory), "--cluster", "local:many", cwd=tmp_path)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "local:N needs a number of workers" in proc.stderr


def test_unreachable_scheduler_stops_before_any_host(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    inventory, playbook = _local_play(tmp_path)
    proc = run_orch(
        "play", str(playbook), "-i", str(inventory), "--cluster", "tcp://127.0.0.1:1", cwd=tmp_path,
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot reach the Dask scheduler" in proc.stderr
    assert "TASK" not in proc.stdout


@pytest.mark.slow  # starts a LocalCluster: 10 s on an idle machine, much more on a loaded one
def test_worker_side_errors_reach_the_recap(tmp_path: Path) -> None:
    """Two hosts on a LocalCluster worker: one whose group no worker offers, one whose sshd is not
    there (refused on the worker, re-raised here): both unreachable with their reasons, exit 4;
    the local-connection host runs on the controller as usual."""
    pytest.importorskip("distributed")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    here:\n      ansible_connection: local\n"
        "    refused:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
        "    elsewhere:\n      ansible_host: 127.0.0.1\n      orch_cluster_worker_group: ap-south\n"
    )
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n")
    proc = run_orch("play", str(playbook), "-i", str(inventory), "--cluster", "local:1", "-T", "3",
                    cwd=tmp_path, env={"NO_COLOR": "1"}, timeout=120)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    recap = recap_counters(proc.stdout)
    assert recap["here"]["changed"] == 1
    assert recap["refused"]["unreachable"] == 1 and recap["elsewhere"]["unreachable"] == 1
    assert "no cluster worker offers the resource 'ap-south'" in out
    assert "refused" in out.split("fatal: [refused]")[1].splitlines()[0].lower(), out
