"""The benchmark: one lab fleet, one workload, orch / pyinfra / ansible-playbook side by side.

For every fleet size N (and, with --wan, again through the latency proxy) and every tool:
reset the hosts to the fresh image, run the workload once (converge: everything changes) and
once more (no-op: nothing changes), each time as a separate controller process. Measured for
real, per run:

- wall time of the controller process;
- controller CPU seconds (user + system) of the process and every process it waited for, from
  wait4(); for Ansible also the SSH ControlPersist masters, which outlive ansible-playbook: the
  bench is a child subreaper, so they are reparented to it, closed and reaped after the run;
- peak RSS: ru_maxrss from wait4(), i.e. the largest single process of the tree;
- SSH connections per host: sshd's own "Accepted" log lines on each lab host, before and after;
- round trips: orch's own `--json` transport figures; through the proxy (WAN runs) for every
  tool, counted as client bursts that had to wait for server data (bench/proxy.py).

After each converge the end state is checked on the first and last host with the system ssh
client (user, .env, link, cron entry, limits line), so a tool that "finished" without doing the
work shows up as not verified instead of as fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bench.proxy import LatencyProxy, Route
from orchestrator.lab.fleet import LabFleet
from orchestrator.lab.system import LabError, try_lock

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "bench" / "workload"
PLAYBOOK = WORKLOAD / "site.yml"
PYINFRA_DEPLOY = WORKLOAD / "deploy.py"
# orch-1by1: orch with --no-pipelining (one round trip per task, as before task pipelining).
# orch-keep: orch with --keep-connections; its converge logs in (and leaves the connections with
# the keeper), its no-op reuses them: the edit-run-edit case. The keeper's CPU is counted.
# floor: one SSH connection and one round trip per host (bench/floor.py), what every tool pays.
TOOLS = ("floor", "orch", "orch-1by1", "orch-keep", "pyinfra", "ansible")
ORCH_TOOLS = ("orch", "orch-1by1", "orch-keep")
KEEP_SECONDS = 120
CLUSTER_TOOL = "orch@local:"  # + W: orch play --cluster local:W (see Config.cluster)
PHASES = ("converge", "noop")
WAN_PORT = 2222
DEFAULT_STATE_DIR = "/var/tmp/orch-bench"
DEFAULT_NET = "127.0.36"  # below 127.0.40 (the range above is the user's); the tests use 127.0.3-18
PR_SET_CHILD_SUBREAPER = 36
# What a converged host must look like (checked on the first and last host after a converge).
VERIFY_SCRIPT = (
    "set -e; id -u shop >/dev/null; test -s /opt/shop/shared/.env; test -L /opt/shop/current; "
    "test -x /opt/shop/bin/backup.sh; test -f /etc/logrotate.d/shop; "
    "crontab -l -u shop | grep -q healthcheck.sh; grep -q 'shop hard nofile' /etc/security/limits.conf; "
    "grep -q db.internal /etc/hosts; test -e /opt/shop/releases/.initialized; echo verified"
)


@dataclass
class Config:
    tools: Sequence[str] = TOOLS
    sizes: Sequence[int] = (10, 30)
    wan: bool = False
    wan_only: bool = False
    delay_ms: float = 10.0  # one way: 20 ms round trip
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    net: str = DEFAULT_NET
    image_dir: Path | None = None  # default: the user lab's image ($ORCH_LAB_DIR or /var/tmp/orch-lab)
    keep: bool = False  # leave the fleet running afterwards
    timeout: float = 3600.0  # per controller run
    max_ansible_size: int = 30  # Ansible takes minutes per run at large N: skip it above this
    cluster: Sequence[int] = ()  # also run orch with --cluster local:W for each W (rows orch@local:W)


@dataclass
class Measure:
    tool: str
    n: int
    network: str  # "lan" | "wan"
    phase: str  # "converge" | "noop"
    rc: int
    wall: float
    cpu: float
    rss_mb: float
    conns_per_host: list[int]  # sshd "Accepted" lines per host during the run
    round_trips_per_host: list[int] = field(default_factory=list)  # proxy or orch --json
    round_trip_source: str = ""
    changed: int | None = None  # hosts x tasks reported changed, from the tool's own summary
    verified: bool | None = None
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.verified is not False


def task_items(playbook: Path = PLAYBOOK) -> int:
    """Task executions per host in the workload: a loop counts once per item."""
    count = 0
    for play in yaml.safe_load(playbook.read_text()):
        for task in play.get("tasks", []):
            count += len(task["loop"]) if "loop" in task else 1
    return count


# -- processes ------------------------------------------------------------------------------------


def _become_subreaper(on: bool = True) -> None:
    """Orphans of our runs (Ansible's ControlPersist masters) become our children, to be reaped
    and counted. Switched off again after the bench (it may run inside a test process)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def run_measured(
    argv: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float
) -> tuple[int, float, float, float]:
    """Run argv to completion; (rc, wall s, cpu s, peak RSS MB of its largest process)."""
    known = _my_children()
    with open(log, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # blocks; the exact end time and rusage
        finally:
            killer.cancel()
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss / 1024
    # Processes the run left behind (ssh ControlPersist masters) are ours now: close and count them.
    for orphan in _my_children() - known:
        if _comm(orphan) != "ssh":
            continue
        try:
            os.kill(orphan, signal.SIGTERM)
            _, _, left = os.wait4(orphan, 0)
        except (ProcessLookupError, ChildProcessError):
            continue
        cpu += left.ru_utime + left.ru_stime
        rss = max(rss, left.ru_maxrss / 1024)
    return proc.returncode, wall, cpu, rss


def _my_children() -> set[int]:
    """Every process whose parent is this process (any thread of it), from /proc."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
            found.add(int(entry.name))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# -- the fleet and its files ----------------------------------------------------------------------


class Bench:
    def __init__(
        self, config: Config, out: Callable[[str], None] = print, fleet: LabFleet | None = None
    ) -> None:
        """`fleet`: run on this fleet (a test's lab slot) instead of one of the bench's own;
        the bench then neither clears it first nor stops it afterwards."""
        self.config = config
        self.out = out
        self.own_fleet = fleet is None
        image = config.image_dir or Path(os.environ.get("ORCH_LAB_DIR") or "/var/tmp/orch-lab")
        self.fleet = fleet or LabFleet(
            config.state_dir, config.net, image_dir=image, progress=lambda m: out(f"  lab: {m}")
        )
        self.items = task_items()
        self.measures: list[Measure] = []
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = self.fleet.state_dir / "runs" / stamp
        # ControlPath sockets need a short path (108 bytes for a unix socket).
        self.control_dir = Path(tempfile.mkdtemp(prefix="obcp"))

    def run(self) -> list[Measure]:
        lock = try_lock(self.fleet.state_dir / "bench.lock")
        if lock is None:
            raise LabError(f"another benchmark is using {self.fleet.state_dir}")
        _become_subreaper()
        precompile()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.own_fleet:
                self.fleet.down()  # a fleet left by an earlier --keep run may be larger than needed
            for n in sorted(set(self.config.sizes)):
                started = time.monotonic()
                self.fleet.up(n)
                self.out(f"N={n}: {n} lab hosts up in {time.monotonic() - started:.1f}s")
                networks = ["wan"] if self.config.wan_only else ["lan", "wan"] if self.config.wan else ["lan"]
                for network in networks:
                    self._run_size(n, network)
        finally:
            if self.own_fleet and not self.config.keep:
                self.fleet.down()
            shutil.rmtree(self.control_dir, ignore_errors=True)
            _become_subreaper(False)
            os.close(lock)
        (self.run_dir / "results.json").write_text(
            json.dumps([asdict(m) for m in self.measures], indent=2) + "\n"
        )
        return self.measures

    def _run_size(self, n: int, network: str) -> None:
        work = self.run_dir / f"n{n}-{network}"
        work.mkdir(parents=True, exist_ok=True)
        port = WAN_PORT if network == "wan" else 22
        files = self._write_inputs(work, n, port)
        proxy = None
        if network == "wan":
            routes = [
                Route(f"h{i}", (self.fleet.address(i), WAN_PORT), (self.fleet.address(i), 22))
                for i in range(1, n + 1)
            ]
            proxy = LatencyProxy(routes, self.config.delay_ms / 1000).start()
        try:
            tools = [*self.config.tools, *(cluster_tool(w) for w in self.config.cluster)]
            for tool in tools:
                if tool == "ansible" and n > self.config.max_ansible_size:
                    self.out(
                        f"  N={n} {network} ansible skipped (--max-ansible-size {self.config.max_ansible_size})"
                    )
                    continue
                self.fleet.reset_all()
                try:
                    for phase in PHASES:
                        m = self._measure(tool, phase, n, network, work, files, proxy)
                        self.measures.append(m)
                        self.out(
                            f"  N={n} {network} {tool:9} {phase:8} rc={m.rc} {m.wall:7.2f}s cpu={m.cpu:6.2f}s "
                            f"rss={m.rss_mb:5.0f}MB conns/host={_span(m.conns_per_host)} "
                            f"rt/host={_span(m.round_trips_per_host)} changed={m.changed} verified={m.verified}"
                        )
                finally:
                    if tool == "orch-keep":
                        self._stop_keeper()
        finally:
            if proxy is not None:
                proxy.stop()

    def _write_inputs(self, work: Path, n: int, port: int) -> dict[str, Path]:
        known = work / "known_hosts"
        lines = []
        for line in self.fleet.known_hosts_path.read_text().splitlines():
            addr, rest = line.split(" ", 1)
            lines.append(f"{addr if port == 22 else f'[{addr}]:{port}'} {rest}")
        known.write_text("\n".join(lines) + "\n")
        key = str(self.fleet.key_path)
        hosts = {
            f"h{i}": {"ansible_host": self.fleet.address(i), "ansible_port": port} for i in range(1, n + 1)
        }
        inventory = work / "inventory.yml"
        inventory.write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "hosts": hosts,
                        "vars": {
                            "ansible_user": "root",
                            "ansible_ssh_private_key_file": key,
                            "ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes",
                        },
                    }
                },
                sort_keys=False,
            )
        )
        pyinfra_inventory = work / "pyinfra_inventory.py"
        entries = ",\n".join(
            f"    ({name!r}, {{'ssh_hostname': {v['ansible_host']!r}, 'ssh_port': {port}}})"
            for name, v in hosts.items()
        )
        pyinfra_inventory.write_text(f"hosts = [\n{entries},\n]\n")
        (work / "group_data").mkdir(exist_ok=True)
        (work / "group_data" / "all.py").write_text(
            f"ssh_user = 'root'\nssh_key = {key!r}\nssh_known_hosts_file = {str(known)!r}\n"
            "ssh_strict_host_key_checking = 'yes'\n"
        )
        cfg = work / "ansible.cfg"
        cfg.write_text(
            "[defaults]\n"
            f"forks = {n}\n"
            "gathering = explicit\n"
            "interpreter_python = /usr/bin/python3\n"
            "host_key_checking = True\n"
            "retry_files_enabled = False\n"
            "nocolor = True\n"
            "[ssh_connection]\n"
            "pipelining = True\n"
            "ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s\n"
            f"control_path_dir = {self.control_dir}\n"
        )
        return {"inventory": inventory, "pyinfra_inventory": pyinfra_inventory, "ansible_cfg": cfg}

    # -- one controller run ---------------------------------------------------------------------------

    def _measure(
        self,
        tool: str,
        phase: str,
        n: int,
        network: str,
        work: Path,
        files: dict[str, Path],
        proxy: LatencyProxy | None,
    ) -> Measure:
        log = work / f"{tool}-{phase}.log"
        env = tool_env()
        json_out = work / f"{tool}-{phase}.json"
        keeper_before = 0.0
        if tool in ORCH_TOOLS or tool.startswith(CLUSTER_TOOL):
            argv = [
                sys.executable,
                "-m",
                "orchestrator.cli",
                "play",
                str(PLAYBOOK),
                "-i",
                str(files["inventory"]),
            ]
            argv += ["--forks", str(n), "--json", str(json_out)]
            if tool.startswith(
                CLUSTER_TOOL
            ):  # the LocalCluster's workers are the run's children: measured too
                argv += ["--cluster", tool.removeprefix("orch@")]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
            if tool == "orch-1by1":
                argv += ["--no-pipelining"]
            if tool == "orch-keep":
                argv += ["--keep-connections", str(KEEP_SECONDS)]
                env["ORCH_KEEPER_DIR"] = str(self._keeper_dir())
                keeper_before = self._keeper_cpu()
        elif tool == "floor":
            argv = [sys.executable, "-m", "bench.floor", str(files["inventory"])]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        elif tool == "pyinfra":
            argv = [_venv_tool("pyinfra"), str(files["pyinfra_inventory"]), str(PYINFRA_DEPLOY)]
            argv += ["-y", "--parallel", str(n), "--group-data", str(work / "group_data")]
        elif tool == "ansible":
            argv = [_venv_tool("ansible-playbook"), "-i", str(files["inventory"]), str(PLAYBOOK)]
            env["ANSIBLE_CONFIG"] = str(files["ansible_cfg"])
        else:
            raise ValueError(f"unknown tool {tool!r}")
        before_conns = self._accepted(n)
        before_rt = proxy.snapshot() if proxy else {}
        rc, wall, cpu, rss = run_measured(argv, log, env=env, cwd=work, timeout=self.config.timeout)
        if tool == "orch-keep":  # the keeper did this run's SSH work: its CPU is the run's too
            cpu += max(0.0, self._keeper_cpu() - keeper_before)
        after_conns = self._accepted(n)
        m = Measure(
            tool=tool,
            n=n,
            network=network,
            phase=phase,
            rc=rc,
            wall=wall,
            cpu=cpu,
            rss_mb=rss,
            conns_per_host=[a - b for a, b in zip(after_conns, before_conns, strict=True)],
            log=str(log),
        )
        if proxy is not None:
            after_rt = proxy.snapshot()
            m.round_trips_per_host = [
                after_rt[f"h{i}"]["round_trips"] - before_rt[f"h{i}"]["round_trips"] for i in range(1, n + 1)
            ]
            m.round_trip_source = "proxy"
        elif tool.startswith("orch") and json_out.exists():
            transport = json.loads(json_out.read_text()).get("transport", {})
            m.round_trips_per_host = [
                transport.get(f"h{i}", {}).get("round_trips", 0) for i in range(1, n + 1)
            ]
            m.round_trip_source = "orch --json"
        m.changed = _changed(tool, log.read_text(errors="replace"))
        if phase == "converge" and tool != "floor":  # the floor changes nothing
            m.verified = all(self._verify(i) for i in sorted({1, n}))
        return m

    def _keeper_dir(self) -> Path:
        path = self.control_dir / "keeper"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def _keeper_cpu(self) -> float:
        """User + system CPU seconds the connection keeper has used so far (0 if none runs)."""
        from orchestrator.transport.kept import keeper_request

        answer = keeper_request("status", self._keeper_dir())
        if not answer:
            return 0.0
        try:
            fields = Path(f"/proc/{answer['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _stop_keeper(self) -> None:
        """Close the kept connections and reap the keeper (we are its subreaper)."""
        from orchestrator.transport.kept import keeper_request

        answer = keeper_request("status", self._keeper_dir())
        keeper_request("stop", self._keeper_dir())
        if answer and answer.get("pid") in _my_children():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(answer["pid"]), 0)

    def _accepted(self, n: int) -> list[int]:
        counts = []
        for i in range(1, n + 1):
            try:
                text = self.fleet.log_path(i).read_text(errors="replace")
            except OSError:
                text = ""
            counts.append(text.count("Accepted publickey"))
        return counts

    def _verify(self, i: int) -> bool:
        argv = [
            "ssh",
            "-i",
            str(self.fleet.key_path),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.fleet.known_hosts_path}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ControlPath=none",
            f"root@{self.fleet.address(i)}",
            VERIFY_SCRIPT,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return done.returncode == 0 and "verified" in done.stdout


def tool_env() -> dict[str, str]:
    """The environment every controller runs with: ours, but with bytecode caching on.

    pip compiled Ansible's and pyinfra's .pyc files at install time; orch, installed editable,
    has only sources. With PYTHONDONTWRITEBYTECODE set (as in some CI shells) orch alone would
    recompile every module on every run, so the bench allows caching and precompiles (below).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def precompile() -> None:
    """Compile orch's sources once, as `pip install` does for the competitors."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "orchestrator")],
        env=tool_env(),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _venv_tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


_RECAP = re.compile(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", re.M)
# pyinfra's results table: "Grand total  <hosts x ops>  <success = changed>  <error>  <no change>"
_PYINFRA_CHANGED = re.compile(r"^\s*Grand total\s+\d+\s+(\d+|-)", re.M)


def _changed(tool: str, output: str) -> int | None:
    """Task results reported as changed, summed over hosts, from the tool's own summary."""
    if tool.startswith("orch") or tool == "ansible":
        found = _RECAP.findall(output)
        return sum(int(x) for x in found) if found else None
    found = _PYINFRA_CHANGED.findall(output)
    return sum(0 if x == "-" else int(x) for x in found) if found else None


def _span(values: Sequence[int]) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


# -- the table ------------------------------------------------------------------------------------


def _get(measures: Sequence[Measure], tool: str, n: int, network: str, phase: str) -> Measure | None:
    for m in measures:
        if (m.tool, m.n, m.network, m.phase) == (tool, n, network, phase):
            return m
    return None


def table(measures: Sequence[Measure], items: int) -> str:
    """A Markdown table: one row per network, N and tool; ratios against orch."""
    head = [
        "net",
        "N",
        "tool",
        "converge s",
        "no-op s",
        "x orch (conv / no-op)",
        "x floor (conv / no-op)",
        "CPU s (conv / no-op)",
        "peak RSS MB",
        "SSH conns/host (conv / no-op)",
        f"round trips/host, conv / no-op (no-op per task, {items} tasks)",
        "ok",
    ]
    rows = [head, ["---"] * len(head)]
    keys = sorted({(m.network, m.n, m.tool) for m in measures}, key=lambda k: (k[0], k[1], _tool_order(k[2])))
    for network, n, tool in keys:
        conv = _get(measures, tool, n, network, "converge")
        noop = _get(measures, tool, n, network, "noop")
        base_c = _get(measures, "orch", n, network, "converge")
        base_n = _get(measures, "orch", n, network, "noop")
        floor_c = _get(measures, "floor", n, network, "converge")
        floor_n = _get(measures, "floor", n, network, "noop")
        ratio = "-"
        if tool not in ("orch", "floor") and base_c and base_n and conv and noop and base_c.ok and base_n.ok:
            ratio = f"{conv.wall / base_c.wall:.1f} / {noop.wall / base_n.wall:.1f}"
        over_floor = "-"
        if tool != "floor" and floor_c and floor_n and conv and noop and floor_c.ok and floor_n.ok:
            over_floor = f"{conv.wall / floor_c.wall:.1f} / {noop.wall / floor_n.wall:.1f}"
        rt = "-"
        if noop and noop.round_trips_per_host:
            per_host = sum(noop.round_trips_per_host) / len(noop.round_trips_per_host)
            rt = f"{per_host:.0f} ({per_host / items:.2f}, {noop.round_trip_source})"
            if conv and conv.round_trips_per_host:
                rt = f"{sum(conv.round_trips_per_host) / len(conv.round_trips_per_host):.0f} / {rt}"
        ok = all(m is not None and m.ok for m in (conv, noop))
        rows.append(
            [
                network,
                str(n),
                tool,
                _fmt(conv, "wall"),
                _fmt(noop, "wall"),
                ratio,
                over_floor,
                f"{_fmt(conv, 'cpu')} / {_fmt(noop, 'cpu')}",
                f"{max(m.rss_mb for m in (conv, noop) if m):.0f}" if conv or noop else "-",
                f"{_span(conv.conns_per_host) if conv else '-'} / {_span(noop.conns_per_host) if noop else '-'}",
                rt,
                "yes" if ok else _why(conv, noop),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "| "
        + " | ".join(c.ljust(w) if c != "---" else "-" * w for c, w in zip(r, widths, strict=True))
        + " |"
        for r in rows
    )


def cluster_tool(workers: int) -> str:
    """The row name of orch on a LocalCluster of `workers` worker processes."""
    return f"{CLUSTER_TOOL}{workers}"


def _tool_order(tool: str) -> tuple[int, str]:
    if tool.startswith(CLUSTER_TOOL):
        return TOOLS.index("orch"), tool  # right after plain orch
    return TOOLS.index(tool), ""


def _fmt(m: Measure | None, attr: str) -> str:
    return "-" if m is None else f"{getattr(m, attr):.2f}"


def _why(*measures: Measure | None) -> str:
    for m in measures:
        if m is None:
            return "not run"
        if m.rc != 0:
            return f"rc={m.rc} in {m.phase} (see {Path(m.log).name})"
        if m.verified is False:
            return f"{m.phase} did not converge the host"
    return "?"


def versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not installed"

    import paramiko

    from orchestrator import __version__

    return {
        "orch": __version__,
        "ansible": first_line([_venv_tool("ansible-playbook"), "--version"]),
        "pyinfra": first_line([_venv_tool("pyinfra"), "--version"]),
        "python": sys.version.split()[0],
        "paramiko": paramiko.__version__,
        "machine": f"{os.cpu_count()} CPUs, {_cpu_model()}, kernel {os.uname().release}",
        "load before": Path("/proc/loadavg").read_text().strip(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
