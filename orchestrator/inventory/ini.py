"""INI inventories, parsed as Ansible's `ini` inventory plugin parses them.

```
h0                       # before any section: ungrouped
[web]
web[01:03] ansible_user=deploy x="two words"
[web:vars]
http_port=8080
[prod:children]
web
```

Host lines are split like a shell line (quotes, `#` comments). Every value, on host lines and in
`[group:vars]`, goes through Python's `ast.literal_eval` and stays a string when that fails:
`23` -> 23, `True` -> True, `[1,2]` -> [1, 2], `'03'` -> "03", `hello world` -> "hello world".
(Ansible's docs say `[group:vars]` values are strings; ansible-core 2.19 literal_evals them too,
and orch does what Ansible does.) `[group:vars]` lines take the rest of the line as the value,
comments included. A group named only in `[x:vars]` or as a child must be declared somewhere.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.inventory.model import Inventory
from orchestrator.inventory.ranges import RangeError, expand_host_pattern

_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?")
_GROUP_NAME = re.compile(r"([^:\]\s]+)\s*(?:#.*)?")
_SECTION_KINDS = ("hosts", "vars", "children")


@dataclass
class _Pending:
    """A group used before it was declared: in [g:vars] or as a child in [p:children]."""

    kind: str  # "vars" or "children"
    location: SourceLocation
    parents: list[str] = field(default_factory=list)


def parse_ini_value(text: str, location: SourceLocation | None = None) -> Any:
    """`23` -> 23, `[1, 2]` -> [1, 2], `'x'` -> "x"; text that is no Python literal stays as is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except (TypeError, MemoryError, RecursionError) as exc:
        raise InventoryError(f"cannot parse value {text!r}: {exc}", location) from None
    return _plain(value)


def _plain(value: Any) -> Any:
    """Only types a YAML file could hold: tuples and sets become lists, odd literals strings."""
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if value is ... or isinstance(value, complex):
        return "..." if value is ... else str(value)
    return value


def parse_ini_inventory(inv: Inventory, text: str, path: str) -> None:
    group, kind = "ungrouped", "hosts"
    pending: dict[str, _Pending] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = SourceLocation(path, lineno)
        section = _SECTION.fullmatch(line)
        if section:
            group, kind = section.group(1), section.group(2) or "hosts"
            if kind not in _SECTION_KINDS:
                raise InventoryError(
                    f"section [{group}:{kind}] has unknown type {kind!r}; "
                    "use [group], [group:vars] or [group:children]",
                    where,
                )
            if group not in inv.groups:
                if kind == "vars" and group not in pending:
                    pending[group] = _Pending("vars", where)
                inv.add_group(group, where)
            if group in pending and kind != "vars":
                for parent in pending.pop(group).parents:
                    inv.add_child(parent, group, where)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InventoryError(
                f"invalid section header {line!r}: expected [group], [group:vars] or [group:children] "
                "with no spaces",
                where,
            )
        if kind == "hosts":
            _host_line(inv, line, group, where)
        elif kind == "vars":
            _vars_line(inv, line, group, where)
        else:
            _child_line(inv, line, group, where, pending)
    for name, decl in pending.items():
        if decl.kind == "vars":
            raise InventoryError(
                f"section [{name}:vars] is for group {name!r}, which is never defined", decl.location
            )
        raise InventoryError(
            f"section [{decl.parents[-1]}:children] names group {name!r}, which is never defined",
            decl.location,
        )


def _host_line(inv: Inventory, line: str, group: str, where: SourceLocation) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryError(f"cannot parse host line {line!r}: {exc}", where) from None
    if not tokens:  # e.g. a line holding only an escaped comment
        return
    pattern = tokens[0]
    try:
        names, port = expand_host_pattern(pattern)
    except RangeError as exc:
        raise InventoryError(f"bad host range in {pattern!r}: {exc}", where) from None
    if pattern.endswith(":") and port is None:
        raise InventoryError(f"host {pattern!r} ends in ':', which is reserved for a port (host:22)", where)
    if "---" in names:
        raise InventoryError(
            "host '---' looks like the start of a YAML document; is this a YAML file?", where
        )
    host_vars = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise InventoryError(f"expected key=value after host {pattern!r}, got {token!r}", where)
        host_vars[key] = parse_ini_value(value, where)
    for name in names:
        inv.add_host(name, group, port, where)
        for key, value in host_vars.items():
            inv.set_host_var(name, key, value, where)


def _vars_line(inv: Inventory, line: str, group: str, where: SourceLocation) -> None:
    key, sep, value = (part.strip() for part in line.partition("="))
    if not sep or not key:
        raise InventoryError(f"expected key=value in [{group}:vars], got {line!r}", where)
    inv.set_group_var(group, key, parse_ini_value(value, where), where)


def _child_line(
    inv: Inventory, line: str, group: str, where: SourceLocation, pending: dict[str, _Pending]
) -> None:
    m = _GROUP_NAME.fullmatch(line)
    if not m:
        raise InventoryError(f"expected a group name in [{group}:children], got {line!r}", where)
    child = m.group(1)
    if child in inv.groups:
        inv.add_child(group, child, where)
    else:
        pending.setdefault(child, _Pending("children", where)).parents.append(group)
