"""YAML (and JSON) inventories, as Ansible's `yaml` inventory plugin reads them.

```yaml
all:
  vars: {ntp: pool.ntp.org}
  children:
    web:
      hosts:
        web[01:03]:            # a range
        web9.example.com:2222: {ansible_user: deploy}
      vars: {http_port: 80}
```

Top-level keys are groups; a group maps to nothing or to `hosts:` (host -> vars or nothing),
`vars:` and `children:` (group -> same shape). A bare string stands for a one-key mapping.
Where Ansible only warns and skips (a group that is a list, an unknown key such as a variable put
directly under a group), orch stops with the file:line, because the skipped part is nearly
always a mistake that would otherwise run against the wrong hosts or with the wrong values.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.inventory.model import Inventory
from orchestrator.inventory.ranges import RangeError, expand_host_pattern
from orchestrator.inventory.varsfiles import kind_of
from orchestrator.yamlsource import location_of

_SECTIONS = ("hosts", "vars", "children")


def parse_yaml_inventory(inv: Inventory, data: dict[Any, Any], path: str) -> None:
    where = location_of(data) or SourceLocation(path)
    if "plugin" in data:
        raise InventoryError(
            f"inventory plugin configuration (plugin: {data['plugin']}) is not supported; "
            "export the inventory once with `ansible-inventory -i SOURCE --list -y`",
            where,
        )
    for name, body in data.items():
        _parse_group(inv, name, body, location_of(name) or where)


def _parse_group(inv: Inventory, name: Any, body: Any, where: SourceLocation) -> str:
    if body is not None and not isinstance(body, dict):
        raise InventoryError(
            f"group {name!r} must be a mapping with hosts:, vars: and/or children:, not a {kind_of(body)}",
            location_of(body) or where,
        )
    group = inv.add_group(name, where).name
    for key, value in (body or {}).items():
        key_where = location_of(key) or where
        if key not in _SECTIONS:
            raise InventoryError(
                f"unexpected key {key!r} in group {group!r}: only hosts, vars and children are allowed "
                "(variables go under vars:)",
                key_where,
            )
        if isinstance(value, str):  # `hosts: h1` means `hosts: {h1: null}`
            value = {value: None}
        if value is None:
            continue
        if not isinstance(value, dict):
            hint = " (write each entry as a key ending in ':', e.g. `h1:`)" if isinstance(value, list) else ""
            raise InventoryError(
                f"{key} of group {group!r} must be a mapping, not a {kind_of(value)}{hint}",
                location_of(value) or key_where,
            )
        if key == "vars":
            for var, var_value in value.items():
                inv.set_group_var(group, var, var_value, location_of(var) or location_of(value) or key_where)
        elif key == "children":
            for child, child_body in value.items():
                child_where = location_of(child) or key_where
                inv.add_child(group, _parse_group(inv, child, child_body, child_where), child_where)
        else:
            for pattern, host_vars in value.items():
                _parse_host(
                    inv, group, pattern, host_vars, location_of(pattern) or location_of(value) or key_where
                )
    return group


def _parse_host(inv: Inventory, group: str, pattern: Any, host_vars: Any, where: SourceLocation) -> None:
    if not isinstance(pattern, str):
        raise InventoryError(f"host names must be strings; quote {pattern!r}", where)
    if host_vars is not None and not isinstance(host_vars, dict):
        raise InventoryError(
            f"host {pattern!r} must map to a mapping of variables or to nothing, not a {kind_of(host_vars)}",
            location_of(host_vars) or where,
        )
    try:
        names, port = expand_host_pattern(pattern)
    except RangeError as exc:
        raise InventoryError(f"bad host range in {pattern!r}: {exc}", where) from None
    for name in names:
        inv.add_host(name, group, port, where)
        for var, value in (host_vars or {}).items():
            inv.set_host_var(name, var, value, location_of(var) or where)
