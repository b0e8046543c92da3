"""`-i` sources: files, directories, executable scripts and `h1,h2,` host lists, merged into one
Inventory (a directory's executable files with a `#!` line are scripts, as in Ansible).

Like Ansible, each file is tried with the parsers that may fit it: YAML first when the extension
is .yml/.yaml/.json or there is none, then INI (for any other extension too). Unlike Ansible,
a source no parser accepts is an error, not a warning followed by an empty inventory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.inventory.ini import parse_ini_inventory
from orchestrator.inventory.model import Inventory
from orchestrator.inventory.ranges import split_port
from orchestrator.inventory.script import is_inventory_script, load_script
from orchestrator.inventory.varsfiles import VARS_EXTENSIONS, read_source_text
from orchestrator.inventory.yamlfile import parse_yaml_inventory
from orchestrator.yamlsource import gc_paused, load_yaml_text, location_of

# Skipped in a directory source, as Ansible's defaults (INVENTORY_IGNORE_EXTS and friends).
_IGNORED_NAMES = ("group_vars", "host_vars", "vars_plugins")
_IGNORED_SUFFIXES = (
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
)  # fmt: skip


def load_inventory(sources: Sequence[str]) -> Inventory:
    """Load and merge inventory sources in order; [] gives an empty inventory (implicit localhost only)."""
    inv = Inventory()
    with gc_paused():  # hosts, groups and their variables: all live until the end
        for source in sources:
            _load_source(inv, source)
        clashes = sorted(set(inv.hosts) & set(inv.groups))
        inv.warnings.extend(f"{name!r} is both a host and a group" for name in clashes)
        inv.current_source = (None, None)
        inv.reconcile()
        inv.load_vars_files()
    return inv


def _load_source(inv: Inventory, source: str) -> None:
    if os.path.isdir(source):
        path = os.path.abspath(source)
        inv.sources.append(path)
        inv.add_inventory_dir(path)
        _load_dir(inv, path)
    elif os.path.exists(source):
        path = os.path.abspath(source)
        inv.sources.append(path)
        inv.add_inventory_dir(os.path.dirname(path))
        _load_file(inv, path)
    elif "," in source:
        inv.sources.append(source)
        _load_host_list(inv, source)
    else:
        hint = f" (for a single host write {source + ','!r})" if "/" not in source else ""
        raise InventoryError(f"inventory source not found: {source}{hint}")


def _load_dir(inv: Inventory, path: str) -> None:
    for name in sorted(os.listdir(path)):
        if name.startswith(".") or name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES):
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full):
            _load_dir(inv, full)
        else:
            _load_file(inv, full)


def _load_file(inv: Inventory, path: str) -> None:
    ext = os.path.splitext(path)[1]
    if ext == ".toml":
        raise InventoryError("TOML inventories are not supported; use YAML or INI", SourceLocation(path))
    inv.current_source = (path, os.path.dirname(path))
    if _is_script(path):
        load_script(inv, path)
        return
    text = read_source_text(path)
    yaml_error: InventoryError | None = None
    if not ext or ext in VARS_EXTENSIONS:
        try:
            data = load_yaml_text(text, path, error=InventoryError)
        except InventoryError as exc:
            yaml_error = exc
        else:
            if isinstance(data, dict):
                parse_yaml_inventory(inv, data, path)
                return
            if data is not None:
                yaml_error = InventoryError(
                    "a YAML inventory must be a mapping of group names (e.g. `all:`)",
                    location_of(data) or SourceLocation(path),
                )
    try:
        parse_ini_inventory(inv, text, path)
    except InventoryError as ini_error:
        # Report the format the file was meant to be in: its extension says so, or else the
        # parser that got further into the file.
        if yaml_error is not None and (ext in VARS_EXTENSIONS or _line(yaml_error) > _line(ini_error)):
            raise yaml_error from None
        raise


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return is_inventory_script(path, head)


def _line(error: InventoryError) -> int:
    return error.location.line if error.location else 0


def _load_host_list(inv: Inventory, source: str) -> None:
    """`-i 'h1,h2:2222,'`: ungrouped hosts; no ranges, as Ansible's host_list plugin."""
    inv.current_source = (source, None)
    for item in source.split(","):
        item = item.strip()
        if not item:
            continue
        name, port = split_port(item)
        if "[" in name:
            name, port = item, None
        if name not in inv.hosts:
            inv.add_host(name, "ungrouped", port)
