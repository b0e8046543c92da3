"""`--limit` checked as ansible-playbook checks it (CLI.get_host_list), before any play runs.

A limit that leaves no host of the inventory stops the run with exit 1 and Ansible's words; a
pattern of the limit that matches nothing is named in a warning (`-l web1,web1x` runs on web1
and says web1x matched nothing). An inventory with no hosts at all is not checked, as in Ansible
(only the implicit localhost is there to target).
"""

from __future__ import annotations

import sys

from orchestrator.errors import OrchError
from orchestrator.exitcodes import EXIT_NO_HOSTS
from orchestrator.inventory.model import Inventory
from orchestrator.inventory.patterns import split_host_pattern


class NoHostsError(OrchError):
    """--limit leaves nothing to target: exit 1, as ansible-playbook."""

    exit_code = EXIT_NO_HOSTS


def check_limit(inventory: Inventory, limit: str) -> None:
    if not inventory.hosts:
        return
    for pattern in split_host_pattern(limit):
        if pattern.startswith("@"):
            continue  # a retry file: its hosts are checked as a whole below
        bare = pattern.lstrip("&!")
        if bare and not inventory.select(bare):
            print(f"[WARNING]: Could not match supplied host pattern, ignoring: {bare}", file=sys.stderr)
    if not inventory.select("all", limit):
        raise NoHostsError(
            f"Specified inventory, host pattern and/or --limit leaves us with no hosts to target: "
            f"--limit {limit!r} matches no host of the inventory "
            f"({len(inventory.hosts)} hosts; `orch inventory --graph` lists them)"
        )
