"""Write a big explicit YAML inventory and time `orch inventory --list` / `orch play --list-hosts` on it.

    python -m bench.biginventory --hosts 100000 --groups 100 --out /var/tmp/big.yml
    python -m bench.biginventory --hosts 100000 --measure     # write to a temp dir, then measure

The shape is the one issue 19 measured: `all` -> N groups, each with its share of explicit hosts
(no ranges), every host with `ansible_host` and one more variable, every group with one variable.
`--extra-vars K` adds K more variables per host, for the bigger (17 MB) file. Measuring runs each
command in a fresh process and reports wall time and peak RSS (`ru_maxrss` from wait4); the
output goes to /dev/null so the terminal does not count.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_inventory(path: Path, hosts: int, groups: int, extra_vars: int = 0) -> None:
    per_group = -(-hosts // groups)  # ceiling: the last group may be short
    with path.open("w", encoding="utf-8") as fh:
        fh.write("all:\n  vars:\n    ntp_server: pool.ntp.org\n  children:\n")
        n = 0
        for g in range(groups):
            fh.write(f"    group{g:03d}:\n      vars:\n        rack: r{g:03d}\n      hosts:\n")
            for _ in range(min(per_group, hosts - n)):
                ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                extra = "".join(f", var{k}: value-{k}-{n}" for k in range(extra_vars))
                fh.write(f"        host{n:06d}.example.com: {{ansible_host: {ip}, slot: {n % 42}{extra}}}\n")
                n += 1


def measure(argv: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one command run to completion; its output is discarded.

    CPU (user + system) is what the wall time would be on an idle machine: the command is
    single-threaded, and a shared machine's load stretches only the wall time."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.biginventory", description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--extra-vars", type=int, default=0, help="more variables per host")
    parser.add_argument("--out", help="inventory file to write (default: a temp dir, with --measure)")
    parser.add_argument("--measure", action="store_true", help="time inventory --list and play --list-hosts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (the best is shown)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="orch-biginv-"))
    path = Path(args.out) if args.out else workdir / "hosts.yml"
    write_inventory(path, args.hosts, args.groups, args.extra_vars)
    size_mb = path.stat().st_size / 1e6
    print(f"{path}: {args.hosts} hosts, {args.groups} groups, {size_mb:.1f} MB")
    if not args.measure:
        return 0

    playbook = workdir / "play.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n", encoding="utf-8")
    orch = str(Path(sys.executable).with_name("orch"))
    commands = {
        "inventory --list": [orch, "inventory", "-i", str(path), "--list"],
        "play --list-hosts": [orch, "play", str(playbook), "-i", str(path), "--list-hosts"],
        "play --list-hosts -l 'group04*:&~host0[0-4].*'": [
            orch, "play", str(playbook), "-i", str(path), "--list-hosts", "-l", "group04*:&~host0[0-4].*",
        ],
    }  # fmt: skip
    for label, command in commands.items():
        runs = [measure(command) for _ in range(args.repeat)]
        wall, cpu, rss = (min(r[i] for r in runs) for i in range(3))
        print(f"{label:50s} {wall:7.2f} s wall {cpu:7.2f} s CPU {rss:7.0f} MB peak RSS")
    print(f"load: {Path('/proc/loadavg').read_text().strip()}  (max rss of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
