"""The floor of a run: what any tool must pay on this machine, one SSH connection and one round
trip per host, all hosts in parallel (paramiko, the same key exchange and cipher as orch).

`python -m bench.floor INVENTORY`: exit 0 when every host answered. bench/run measures it like a
tool (rows "floor"); its converge and no-op are the same run.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import paramiko
import yaml


def _one_round_trip(
    address: str, port: int, user: str, key: str, known_hosts: str, errors: list[str]
) -> None:
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            address, port=port, username=user, key_filename=key, look_for_keys=False, allow_agent=False
        )
        _, stdout, _ = client.exec_command("true")
        if stdout.channel.recv_exit_status() != 0:
            errors.append(f"{address}:{port}: true failed")
    except Exception as exc:  # reported per host; the run fails
        errors.append(f"{address}:{port}: {exc}")
    finally:
        client.close()


def main(argv: list[str]) -> int:
    inventory = yaml.safe_load(Path(argv[0]).read_text())["all"]
    common = inventory["vars"]
    known_hosts = common["ansible_ssh_common_args"].split("UserKnownHostsFile=", 1)[1].split()[0]
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=_one_round_trip,
            args=(
                host["ansible_host"],
                host["ansible_port"],
                common["ansible_user"],
                common["ansible_ssh_private_key_file"],
                known_hosts,
                errors,
            ),
        )
        for host in inventory["hosts"].values()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        print(error, file=sys.stderr)
    print(f"floor: {len(threads) - len(errors)} of {len(threads)} hosts answered")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
