"""`python -m bench`: start a lab fleet, run the workload with each tool, print the table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.harness import DEFAULT_NET, DEFAULT_STATE_DIR, TOOLS, Bench, Config, table, versions


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="orch vs pyinfra vs ansible-playbook on real lab hosts: converge and no-op time, "
        "CPU, peak RSS, SSH connections and round trips. Needs root (the lab).",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated subset of orch,orch-keep,pyinfra,ansible"
    )
    parser.add_argument("--sizes", default="10,30", help="fleet sizes N, comma-separated (default 10,30)")
    parser.add_argument("--wan", action="store_true", help="also run every size through the latency proxy")
    parser.add_argument("--wan-only", action="store_true", help="only the latency-proxy runs")
    parser.add_argument(
        "--delay-ms", type=float, default=10.0, help="one-way proxy delay (default 10 = 20 ms RTT)"
    )
    parser.add_argument(
        "--state-dir", default=DEFAULT_STATE_DIR, help=f"bench lab state (default {DEFAULT_STATE_DIR})"
    )
    parser.add_argument(
        "--net", default=DEFAULT_NET, help=f"lab net for the bench fleet (default {DEFAULT_NET})"
    )
    parser.add_argument("--image-dir", help="lab image to use (default $ORCH_LAB_DIR or /var/tmp/orch-lab)")
    parser.add_argument("--keep", action="store_true", help="leave the fleet running afterwards")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per controller run")
    parser.add_argument(
        "--max-ansible-size",
        type=int,
        default=30,
        help="run Ansible only up to this N (default 30: at 100 hosts it takes many minutes per run)",
    )
    parser.add_argument(
        "--cluster",
        default="",
        metavar="W1,W2",
        help="also run orch with --cluster local:W for each worker count W (rows orch@local:W; needs "
        "orch[cluster]); CPU and RSS then include the worker processes",
    )
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    return Config(
        tools=tools,
        sizes=[int(s) for s in args.sizes.split(",") if s.strip()],
        wan=args.wan or args.wan_only,
        wan_only=args.wan_only,
        delay_ms=args.delay_ms,
        state_dir=Path(args.state_dir),
        net=args.net,
        image_dir=Path(args.image_dir) if args.image_dir else None,
        keep=args.keep,
        timeout=args.timeout,
        max_ansible_size=args.max_ansible_size,
        cluster=[int(w) for w in args.cluster.split(",") if w.strip()],
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    info = versions()
    for key, value in info.items():
        print(f"{key}: {value}")
    bench = Bench(config)
    measures = bench.run()
    print()
    print(table(measures, bench.items))
    print(f"\nload after: {Path('/proc/loadavg').read_text().strip()}")
    print(f"logs and results.json: {bench.run_dir}")
    return 0 if all(m.ok for m in measures) else 1


if __name__ == "__main__":
    sys.exit(main())
