"""Executable inventory scripts, Ansible's script inventory protocol (plugins/inventory/script.py).

`SCRIPT --list` prints a JSON object: group -> {"hosts": [...], "vars": {...}, "children": [...]}
(or just a list of hosts), plus `_meta: {hostvars: {host: {var: value}}}`. Without `_meta`, each
host's variables come from `SCRIPT --host HOST` (a JSON object), one call per host. A group
mapping with none of hosts/vars/children is Ansible's shorthand for a host of that name with
those variables.

A file is a script when it is executable and starts with `#!` (in a directory too, like
Ansible). A script that fails, hangs past the timeout or prints anything but a JSON object
stops the run before any host is contacted, with the script's exit status and stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.inventory.model import Inventory

# Seconds a script may take for --list (and for each --host); cloud inventories can be slow.
DEFAULT_TIMEOUT = 60.0
_STDERR_SHOWN = 2000  # characters of a failing script's stderr shown in the error


def is_inventory_script(path: str, head: bytes) -> bool:
    return head.startswith(b"#!") and os.access(path, os.X_OK)


def script_timeout() -> float:
    text = os.environ.get("ORCH_INVENTORY_SCRIPT_TIMEOUT")
    try:
        return float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise InventoryError(
            f"ORCH_INVENTORY_SCRIPT_TIMEOUT must be a number of seconds, got {text!r}"
        ) from None


def load_script(inv: Inventory, path: str) -> None:
    where = SourceLocation(path)
    data = _run_json(path, ["--list"], where)
    hostvars: dict[str, Any] | None = None
    meta = data.get("_meta")
    if isinstance(meta, dict) and "hostvars" in meta:
        if not isinstance(meta["hostvars"], dict):
            raise InventoryError("_meta.hostvars must be a JSON object of host -> variables", where)
        hostvars = meta["hostvars"]
    hosts: list[str] = []
    for name, body in data.items():
        if name != "_meta":
            _parse_group(inv, str(name), body, where, hosts)
    for host in dict.fromkeys(hosts):
        values = hostvars.get(host, {}) if hostvars is not None else _run_json(path, ["--host", host], where)
        if not isinstance(values, dict):
            raise InventoryError(f"the variables of host {host!r} must be a JSON object", where)
        for key, value in values.items():
            inv.set_host_var(host, key, value, where)


def _parse_group(inv: Inventory, name: str, body: Any, where: SourceLocation, hosts: list[str]) -> None:
    inv.add_group(name, where)
    if not isinstance(body, dict):
        body = {"hosts": body}
    elif not any(key in body for key in ("hosts", "vars", "children")):
        body = {"hosts": [name], "vars": body}  # Ansible's shorthand: a host with its vars
    members = body.get("hosts") or []
    if not isinstance(members, list):
        raise InventoryError(
            f"hosts of group {name!r} must be a JSON list, got {type(members).__name__}", where
        )
    for host in members:
        inv.add_host(str(host), name, None, where)
        hosts.append(str(host))
    group_vars = body.get("vars") or {}
    if not isinstance(group_vars, dict):
        raise InventoryError(f"vars of group {name!r} must be a JSON object", where)
    for key, value in group_vars.items():
        inv.set_group_var(name, key, value, where)
    children = body.get("children") or []
    if not isinstance(children, list):
        raise InventoryError(f"children of group {name!r} must be a JSON list", where)
    for child in children:
        inv.add_group(str(child), where)
        inv.add_child(name, str(child), where)


def _run_json(path: str, args: list[str], where: SourceLocation) -> Any:
    command = " ".join([os.path.basename(path), *args])
    timeout = script_timeout()
    try:
        done = subprocess.run(
            [path, *args], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise InventoryError(
            f"inventory script `{command}` did not finish within {timeout:g}s "
            "(ORCH_INVENTORY_SCRIPT_TIMEOUT sets the limit)",
            where,
        ) from None
    except OSError as exc:
        raise InventoryError(f"cannot run inventory script `{command}`: {exc.strerror}", where) from None
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        shown = stderr[-_STDERR_SHOWN:] if stderr else "(no stderr)"
        raise InventoryError(
            f"inventory script `{command}` failed with exit status {done.returncode}:\n{shown}", where
        )
    try:
        data = json.loads(done.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        start = done.stdout[:120].decode("utf-8", "replace")
        raise InventoryError(
            f"inventory script `{command}` did not print JSON ({exc}); output began with {start!r}", where
        ) from None
    if not isinstance(data, dict):
        raise InventoryError(
            f"inventory script `{command}` must print a JSON object, not {type(data).__name__}", where
        )
    return data
