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


def check_limit(inventory: Inventory, limit: str, pattern: str = "all") -> None:
    """`pattern` is the ad-hoc command's (ansible checks it with the limit); playbooks check `all`."""
    if not inventory.hosts:
        return
    for part in split_host_pattern(limit):
        if part.startswith("@"):
            continue  # a retry file: its hosts are checked as a whole below
        bare = part.lstrip("&!")
        if bare and not inventory.select(bare):
            print(f"[WARNING]: Could not match supplied host pattern, ignoring: {bare}", file=sys.stderr)
    if not inventory.select(pattern, limit):
        which = "no host of the inventory" if pattern == "all" else f"no host of the pattern {pattern!r}"
        raise NoHostsError(
            f"Specified inventory, host pattern and/or --limit leaves us with no hosts to target: "
            f"--limit {limit!r} matches {which} "
            f"({len(inventory.hosts)} hosts; `orch inventory --graph` lists them)"
        )
