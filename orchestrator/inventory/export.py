"""`orch inventory --list / --graph / --host` output, in `ansible-inventory`'s shapes."""

from __future__ import annotations

from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.model import INTERNAL_VARS, Inventory


def inventory_host_vars(inv: Inventory, host: str) -> dict[str, Any]:
    """`--host NAME`: the merged variables, without the internal inventory_file/inventory_dir."""
    host_vars = inv.host_vars(host)  # a new dict each call: ours to trim, no second copy
    for key in INTERNAL_VARS:
        host_vars.pop(key, None)
    return host_vars


def inventory_list_json(inv: Inventory) -> dict[str, Any]:
    """`--list`: {group: {hosts, children}, ..., "_meta": {"hostvars": {host: vars}}}.

    Groups with neither hosts nor children are left out and `all` lists no hosts, as Ansible does.
    """
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def add(name: str) -> None:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        result[name] = entry  # parents come before their children in the output
        if name != "all" and group.hosts:
            entry["hosts"] = list(group.hosts)
        if group.children:
            entry["children"] = list(group.children)
        for child in group.children:
            if child not in seen:
                seen.add(child)
                add(child)
        if not entry:
            del result[name]

    inv.reconcile()
    add("all")
    hostvars = {}
    for host in inv.group_hosts("all"):
        host_vars = inventory_host_vars(inv, host)
        if host_vars:
            hostvars[host] = host_vars
    result["_meta"] = {"hostvars": hostvars}
    return result


def inventory_graph(inv: Inventory, group: str = "all") -> str:
    """`--graph [GROUP]`: the group tree, `@group:` lines and host names, indented by `  |--`."""
    if group not in inv.groups:
        raise InventoryError(f"--graph needs a group name; there is no group {group!r}")
    inv.reconcile()
    lines: list[str] = []

    def walk(name: str, depth: int) -> None:
        lines.append(_graph_line(f"@{name}:", depth))
        node = inv.groups[name]
        for child in node.children:
            walk(child, depth + 1)
        if name != "all":
            lines.extend(_graph_line(host, depth + 1) for host in node.hosts)

    walk(group, 0)
    return "\n".join(lines)


def _graph_line(text: str, depth: int) -> str:
    return f"{'  |' * depth}--{text}" if depth else text
