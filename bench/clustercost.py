"""What a `--cluster` run costs where: the controller, each worker, per host and per call.

    python -m bench.clustercost PLAYBOOK -i INVENTORY [--workers 2] [--forks 100]

Starts a Dask scheduler and W workers as separate processes (no nanny), measures their idle
RSS, runs `orch play PLAYBOOK --cluster ... --json` to completion, and prints: the controller's
wall, CPU and peak RSS (wait4, the orch process alone: the workers are not its children here),
each worker's CPU and RSS growth (/proc), the hosts and connection calls (round trips from
--json) per worker, and the derived figures docs/scaling.md's capacity model uses: controller
CPU per host-task, worker CPU per call, worker memory per connected host, calls per second.
Needs orch[cluster]; the hosts must be reachable (e.g. `orch lab up N`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
CLOCK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK  # utime + stime


def _rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clustercost", description=__doc__.split("\n")[0])
    parser.add_argument("playbook")
    parser.add_argument("-i", "--inventory", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--forks", type=int, default=100)
    args = parser.parse_args(argv)
    address = f"tcp://127.0.0.1:{_free_port()}"
    work = Path(tempfile.mkdtemp(prefix="orch-clustercost-"))
    procs: list[subprocess.Popen[bytes]] = []

    def start(*cmd: str) -> subprocess.Popen[bytes]:
        with open(work / "dask.log", "ab") as log:
            proc = subprocess.Popen([str(DASK), *cmd], stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard")
        for _ in range(args.workers):
            start("worker", address, "--no-nanny", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard")
        import distributed

        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(args.workers, timeout=60)
            pid_of = client.run(os.getpid)  # worker address -> pid
        time.sleep(1)
        idle = {a: (_cpu(p), _rss_mb(p)) for a, p in pid_of.items()}
        json_out = work / "run.json"
        argv_ = [sys.executable, "-m", "orchestrator.cli", "play", args.playbook, "-i", args.inventory,
                 "--cluster", address, "--forks", str(args.forks), "--json", str(json_out), "-v"]  # fmt: skip
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
        started = time.monotonic()
        with open(work / "orch.log", "wb") as log:
            proc = subprocess.Popen(argv_, stdout=log, stderr=subprocess.STDOUT, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        rc = os.waitstatus_to_exitcode(status)
        after = {a: (_cpu(p), _rss_mb(p)) for a, p in pid_of.items()}
        output = (work / "orch.log").read_text(errors="replace")
        placed = {
            line.split()[2].rstrip(":"): int(line.split()[3])
            for line in output.splitlines()
            if line.startswith("cluster worker ")
        }
        report = json.loads(json_out.read_text()) if json_out.exists() else {}
        transport = report.get("transport", {})
        calls = sum(t.get("round_trips", 0) for t in transport.values())
        hosts = len(transport)
        results = sum(len(t["hosts"]) for play in report.get("plays", []) for t in play["tasks"])
        controller_cpu = usage.ru_utime + usage.ru_stime
        print(f"rc={rc} wall={wall:.2f}s hosts={hosts} host-task results={results} connection calls={calls}")
        print(f"controller: cpu={controller_cpu:.2f}s peak_rss={usage.ru_maxrss / 1024:.0f}MB")
        worker_cpu = 0.0
        for address_, pid in pid_of.items():
            cpu = after[address_][0] - idle[address_][0]
            worker_cpu += cpu
            grown = after[address_][1] - idle[address_][1]
            n = placed.get(address_, 0)
            per_host = f" ({grown / n:.2f} MB/host)" if n else ""
            print(f"worker {address_} pid {pid}: hosts={n} cpu={cpu:.2f}s rss idle={idle[address_][1]:.0f}MB "
                  f"end={after[address_][1]:.0f}MB grown={grown:.0f}MB{per_host}")  # fmt: skip
        if calls:
            print(f"per call: controller {1000 * controller_cpu / calls:.2f} ms cpu, workers "
                  f"{1000 * worker_cpu / calls:.2f} ms cpu; {calls / wall:.0f} calls/s over the run")  # fmt: skip
        if results:
            print(f"per host-task result: controller {1000 * controller_cpu / results:.2f} ms cpu")
        print(f"logs: {work}")
        return rc
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
