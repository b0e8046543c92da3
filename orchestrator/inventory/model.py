"""The inventory: hosts, groups, their variables, and host selection by pattern.

Semantics follow Ansible (ansible-core 2.19) so an existing inventory selects the same hosts,
in the same order, with the same variables:

* `all` holds every host; `ungrouped` holds the hosts in no group but `all`. A group with no
  parent becomes a child of `all`.
* Variables of one host merge, lowest first (replace, never deep merge): inventory vars of `all`,
  inventory vars of the host's other groups (parents before children: by depth, then
  `ansible_group_priority`, then name), group_vars/all next to the inventory, then next to the
  playbook, group_vars/<group> next to the inventory, then next to the playbook, the host's
  inventory vars, host_vars/ next to the inventory, then next to the playbook.
* A pattern's hosts come in pattern order (`db:web` lists db's hosts first); a group lists its
  own hosts, then its children's, breadth first. That is what Ansible calls inventory order.
* `localhost` (or 127.0.0.1, ::1) named by a pattern but absent from the inventory is an implicit
  host with `ansible_connection: local`, member of no group (so `all` does not match it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import InventoryError, SourceLocation
from orchestrator.inventory.patterns import (
    compile_matcher,
    expand_limit_files,
    is_glob_or_regex,
    order_patterns,
    split_host_pattern,
    split_subscript,
)
from orchestrator.inventory.varsfiles import VarsDirectory

LOCALHOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Set on every inventory host like Ansible does; hidden from `orch inventory` output as there.
INTERNAL_VARS = frozenset({"inventory_file", "inventory_dir"})


# slots: a 100,000-host inventory holds 100,000 of each; no per-object __dict__.
@dataclass(eq=False, slots=True)
class Host:
    name: str
    # Own vars merged: inventory sources < host_vars/ next to the inventory < next to the playbook.
    # The same dict as inventory_vars when no host_vars/ file applies (nothing to merge).
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct groups, in the order joined
    location: SourceLocation | None = None  # first definition
    implicit: bool = False  # the implicit localhost
    inventory_vars: dict[str, Any] = field(default_factory=dict)  # from inventory sources only
    var_locations: dict[str, SourceLocation] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Host) and other.name == self.name

    def __repr__(self) -> str:
        return f"Host({self.name!r})"


@dataclass(eq=False, slots=True)
class Group:
    name: str
    # Vars from inventory sources only: group_vars/ files are separate layers (other precedence).
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)  # direct members
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    priority: int = 1  # ansible_group_priority: among groups of equal depth, higher wins
    location: SourceLocation | None = None
    var_locations: dict[str, SourceLocation] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Group({self.name!r})"


@dataclass(frozen=True)
class VarsLayer:
    """One source of variables for a host, for merging and for `orch explain`."""

    description: str  # "group_vars for 'web' next to the inventory"
    vars: Mapping[str, Any]
    locations: Mapping[str, SourceLocation]

    def where(self, var: str) -> str:
        location = self.locations.get(var)
        return f"{self.description} at {location}" if location else self.description


def _set_var(
    target: dict[str, Any],
    locations: dict[str, SourceLocation],
    key: Any,
    value: Any,
    location: SourceLocation | None,
) -> None:
    if not isinstance(key, str) or not key:
        raise InventoryError(f"variable names must be non-empty strings, got {key!r}", location)
    # One plain string per distinct name, not a located copy per host (its place is in `locations`).
    target[sys.intern(str(key))] = value
    if location is not None:
        locations[key] = location


class Inventory:
    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self.groups: dict[str, Group] = {}
        self.sources: list[str] = []
        self.warnings: list[str] = []
        # (inventory_file, inventory_dir) given to hosts created now; set by the loaders.
        self.current_source: tuple[str | None, str | None] = (None, None)
        self._vars_dirs: dict[str, list[VarsDirectory]] = {"inventory": [], "playbook": []}
        self._has_host_vars_dir: bool | None = None  # any host_vars/ with entries; None: not known yet
        self._localhost: Host | None = None
        self._dirty = True
        self._ancestors: dict[str, frozenset[str]] = {}
        self._depths: dict[str, int] = {}
        self._members: dict[str, list[Host]] = {}
        self._patterns: dict[str, list[Host]] = {}
        self._chains: dict[tuple[str, ...], tuple[list[VarsLayer], dict[str, Any]]] = {}
        # the same chains by a host's direct groups: most hosts share a few such lists
        self._chains_by_groups: dict[tuple[str, ...], tuple[list[VarsLayer], dict[str, Any]]] = {}
        for name in ("all", "ungrouped"):
            self.add_group(name)
        self.add_child("all", "ungrouped")

    # ---- building (loaders; also the executor's add_host / group_by) ----

    def add_group(self, name: Any, location: SourceLocation | None = None) -> Group:
        if not isinstance(name, str) or not name:
            raise InventoryError(f"group names must be non-empty strings, got {name!r}", location)
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(name, location=location)
            self._changed()
        return group

    def add_host(
        self,
        name: Any,
        group: str | None = None,
        port: int | None = None,
        location: SourceLocation | None = None,
    ) -> Host:
        """Define a host (first definition wins its place in order) and optionally add it to a group."""
        if not isinstance(name, str) or not name:
            raise InventoryError(f"host names must be non-empty strings, got {name!r}", location)
        host = self.hosts.get(name)
        changed = host is None
        if host is None:
            name = str(name)  # a plain string: its location is the host's
            inventory_file, inventory_dir = self.current_source
            own_vars = {"inventory_file": inventory_file, "inventory_dir": inventory_dir}  # no locations
            host = self.hosts[name] = Host(name, location=location, inventory_vars=own_vars)
            if port is not None:
                _set_var(host.inventory_vars, host.var_locations, "ansible_port", port, location)
            if name in LOCALHOST_NAMES:
                if self._localhost is None or self._localhost.implicit:
                    self._localhost = host
                else:
                    self.warnings.append(
                        f"a second localhost-like host {name!r} was found; {self._localhost.name!r} came first"
                    )
            self._refresh_own_vars(host)
        if group is not None:
            target = self.groups.get(group)
            if target is None:
                raise InventoryError(f"unknown group {group!r}", location)
            if group not in host.groups:
                host.groups.append(group)
                target.hosts.append(name)
                changed = True
        if changed:  # else the caches still hold
            self._changed()
        return host

    def add_child(self, parent: str, child: str, location: SourceLocation | None = None) -> None:
        for name in (parent, child):
            if name not in self.groups:
                raise InventoryError(f"unknown group {name!r}", location)
        if child == "all":
            raise InventoryError(f"group 'all' cannot be a child of {parent!r}", location)
        cycle = self._path_down(child, parent)
        if cycle:
            raise InventoryError(
                f"group {child!r} cannot be a child of {parent!r}: that makes a cycle "
                f"({' -> '.join([*cycle, child])})",
                location,
            )
        if child not in self.groups[parent].children:
            self.groups[parent].children.append(child)
            self.groups[child].parents.append(parent)
            self._changed()

    def set_group_var(self, group: str, key: Any, value: Any, location: SourceLocation | None = None) -> None:
        target = self.groups[group]
        if key == "ansible_group_priority":  # a sort key, not a variable, as in Ansible
            try:
                target.priority = int(value)
            except (TypeError, ValueError):
                raise InventoryError(
                    f"ansible_group_priority must be an integer, got {value!r}", location
                ) from None
            return
        _set_var(target.vars, target.var_locations, key, value, location)
        self._changed()

    def set_host_var(self, host: str, key: Any, value: Any, location: SourceLocation | None = None) -> None:
        target = self.hosts[host]
        _set_var(target.inventory_vars, target.var_locations, key, value, location)
        if target.vars is not target.inventory_vars:  # shared: already seen there
            self._refresh_own_vars(target)

    def add_inventory_dir(self, basedir: str) -> None:
        """group_vars/ and host_vars/ next to an inventory source (the loaders call this)."""
        self._add_vars_dir("inventory", basedir)

    def add_vars_dir(self, basedir: str) -> None:
        """group_vars/ and host_vars/ next to a playbook; they win over the inventory's."""
        self._add_vars_dir("playbook", basedir)
        self.load_vars_files()

    def _add_vars_dir(self, origin: str, basedir: str) -> None:
        path = os.path.abspath(basedir)
        if os.path.isfile(path):
            path = os.path.dirname(path)
        dirs = self._vars_dirs[origin]
        if all(os.path.realpath(d.basedir) != os.path.realpath(path) for d in dirs):
            dirs.append(VarsDirectory(path, origin))
            self._has_host_vars_dir = None
            self._changed()

    def load_vars_files(self) -> None:
        """Read every vars file that applies now, so a broken one fails before any host is touched."""
        for vars_dir in self._vars_dirs["inventory"] + self._vars_dirs["playbook"]:
            for name in self.groups:
                vars_dir.files_for("group_vars", name)
        for host in self.hosts.values():
            self._refresh_own_vars(host)
        if self._localhost is not None and self._localhost.implicit:
            self._refresh_own_vars(self._localhost)

    def _changed(self) -> None:
        self._dirty = True
        self._ancestors.clear()
        self._depths.clear()
        self._members.clear()
        self._patterns.clear()
        self._chains.clear()
        self._chains_by_groups.clear()

    def _path_down(self, start: str, goal: str) -> list[str]:
        """Groups from `start` down to `goal` through children ([] if `goal` is not below)."""
        paths = {start: [start]}
        todo = [start]
        while todo:  # breadth first, each group once
            name = todo.pop(0)
            if name == goal:
                return paths[name]
            for child in self.groups[name].children:
                if child not in paths:
                    paths[child] = [*paths[name], child]
                    todo.append(child)
        return []

    def reconcile(self) -> None:
        """Settle `all` and `ungrouped` after changes (Ansible's reconcile_inventory).

        Queries call this themselves; call it before reading `groups[...]` attributes directly.
        """
        if not self._dirty:
            return
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            in_others = any(g not in ("all", "ungrouped") for g in host.groups)
            if "ungrouped" in host.groups and in_others:
                host.groups.remove("ungrouped")
                ungrouped.hosts.remove(host.name)
            elif "ungrouped" not in host.groups and not in_others:
                host.groups.append("ungrouped")
                ungrouped.hosts.append(host.name)
        self._changed()
        self._dirty = False

    # ---- queries ----

    def get_host(self, name: str) -> Host | None:
        host = self.hosts.get(name)
        if host is None and name in LOCALHOST_NAMES:
            if self._localhost is None:
                implicit = Host(name, implicit=True, inventory_vars={"ansible_connection": "local"})
                self._refresh_own_vars(implicit)
                self._localhost = implicit
            host = self._localhost
        return host

    def _require_host(self, name: str) -> Host:
        host = self.get_host(name)
        if host is None:
            raise InventoryError(f"unknown host {name!r}")
        return host

    def group_hosts(self, group: str) -> list[str]:
        """A group's hosts including those of its descendants, in Ansible's order."""
        self.reconcile()
        return [host.name for host in self._group_members(group)]

    def _group_members(self, group: str) -> list[Host]:
        members = self._members.get(group)
        if members is None:
            order, queued = [group], {group}
            for name in order:  # breadth first; `order` grows while we walk it
                for child in self.groups[name].children:
                    if child not in queued:
                        queued.add(child)
                        order.append(child)
            seen: set[str] = set()
            members = []
            for name in order:
                for host in self.groups[name].hosts:
                    if host not in seen:
                        seen.add(host)
                        members.append(self.hosts[host])
            self._members[group] = members
        return members

    def groups_map(self) -> dict[str, list[str]]:
        """Ansible's `groups` magic variable: every group (incl. all, ungrouped) -> host names."""
        self.reconcile()
        return {name: [h.name for h in self._group_members(name)] for name in self.groups}

    def _all_groups_of(self, host: Host) -> frozenset[str]:
        result: set[str] = set()
        for name in host.groups:
            result.add(name)
            result.update(self._group_ancestors(name))
        return frozenset(result)

    def _group_ancestors(self, group: str) -> frozenset[str]:
        ancestors = self._ancestors.get(group)
        if ancestors is None:
            found: set[str] = set()
            for parent in self.groups[group].parents:
                found.add(parent)
                found.update(self._group_ancestors(parent))
            ancestors = self._ancestors[group] = frozenset(found)
        return ancestors

    def _depth(self, group: str) -> int:
        """Longest path from `all`, as Ansible's Group.depth."""
        depth = self._depths.get(group)
        if depth is None:
            parents = self.groups[group].parents
            depth = self._depths[group] = 1 + max(map(self._depth, parents)) if parents else 0
        return depth

    def group_names(self, host: str) -> list[str]:
        """Ansible's `group_names`: every group of the host incl. ancestors, sorted, without `all`."""
        self.reconcile()
        return sorted(self._all_groups_of(self._require_host(host)) - {"all"})

    # ---- variables ----

    def host_vars(self, host: str) -> dict[str, Any]:
        """The host's inventory variables, merged by precedence (a new dict each call)."""
        target = self._require_host(host)
        _, merged = self._group_chain(target)
        return {**merged, **target.vars}

    def var_layers(self, host: str) -> list[VarsLayer]:
        """Every non-empty variable layer of the host, lowest precedence first."""
        target = self._require_host(host)
        layers, _ = self._group_chain(target)
        return layers + self._own_layers(target)

    def vars_origin(self, host: str, var: str) -> list[tuple[str, Any]]:
        """(where, value) of each layer that sets `var`, lowest first; the last one wins."""
        return [(layer.where(var), layer.vars[var]) for layer in self.var_layers(host) if var in layer.vars]

    def _group_chain(self, host: Host) -> tuple[list[VarsLayer], dict[str, Any]]:
        """Group layers of a host and their merge, cached per distinct set of groups."""
        self.reconcile()
        direct = tuple(host.groups)
        chain = self._chains_by_groups.get(direct)
        if chain is None:
            chain = self._chains_by_groups[direct] = self._chain_of_groups(host)
        return chain

    def _chain_of_groups(self, host: Host) -> tuple[list[VarsLayer], dict[str, Any]]:
        groups = self._all_groups_of(host) - {"all"}
        key = tuple(sorted(groups, key=lambda g: (self._depth(g), self.groups[g].priority, g)))
        chain = self._chains.get(key)
        if chain is None:
            layers = [self._inventory_layer(self.groups[g]) for g in ("all", *key)]
            for names in (("all",), key):
                for origin in ("inventory", "playbook"):
                    layers.extend(self._file_layers(origin, "group_vars", names))
            layers = [layer for layer in layers if layer.vars]
            merged: dict[str, Any] = {}
            for layer in layers:
                merged.update(layer.vars)
            chain = self._chains[key] = (layers, merged)
        return chain

    def _own_layers(self, host: Host) -> list[VarsLayer]:
        where = "implicit localhost" if host.implicit else f"host {host.name!r} vars in the inventory"
        layers = [VarsLayer(where, host.inventory_vars, host.var_locations), *self._host_file_layers(host)]
        return [layer for layer in layers if layer.vars]

    def _host_file_layers(self, host: Host) -> list[VarsLayer]:
        if self._has_host_vars_dir is None:
            self._has_host_vars_dir = any(d.lists("host_vars") for ds in self._vars_dirs.values() for d in ds)
        if not self._has_host_vars_dir:
            return []  # the common case, asked once or twice per host
        return [
            layer
            for origin in ("inventory", "playbook")
            for layer in self._file_layers(origin, "host_vars", (host.name,))
        ]

    def _refresh_own_vars(self, host: Host) -> None:
        files = [layer for layer in self._host_file_layers(host) if layer.vars]
        if not files:
            host.vars = host.inventory_vars  # nothing to merge: no copy per host
            return
        merged = dict(host.inventory_vars)
        for layer in files:
            merged.update(layer.vars)
        host.vars = merged

    @staticmethod
    def _inventory_layer(group: Group) -> VarsLayer:
        return VarsLayer(f"group {group.name!r} vars in the inventory", group.vars, group.var_locations)

    def _file_layers(self, origin: str, kind: str, names: Sequence[str]) -> list[VarsLayer]:
        return [
            VarsLayer(f"{kind} for {name!r} next to the {origin}", vars_file.vars, vars_file.locations)
            for vars_dir in self._vars_dirs[origin]
            for name in names
            for vars_file in vars_dir.files_for(kind, name)
        ]

    # ---- patterns ----

    def select(self, pattern: str | Sequence[str], limit: str | Sequence[str] | None = None) -> list[Host]:
        """Hosts matching a `hosts:` pattern, restricted by `--limit`; [] when nothing matches."""
        self.reconcile()
        patterns = split_host_pattern(pattern)
        if not patterns:
            return []
        hosts = self._evaluate(patterns)
        limits = expand_limit_files(split_host_pattern(limit)) if limit is not None else []
        if limits:  # an empty --limit restricts nothing, as in Ansible
            allowed = set(self._evaluate(limits))
            hosts = [host for host in hosts if host in allowed]
        return hosts

    def _evaluate(self, patterns: list[str]) -> list[Host]:
        hosts: list[Host] = []
        for pattern in order_patterns(patterns):
            # A plain host name needs no matching.
            matched = [self.hosts[pattern]] if pattern in self.hosts else self._match_one(pattern)
            if pattern[0] == "!":
                excluded = set(matched)
                hosts = [host for host in hosts if host not in excluded]
            elif pattern[0] == "&":
                kept = set(matched)
                hosts = [host for host in hosts if host in kept]
            else:
                seen = set(hosts)
                for host in matched:
                    if host not in seen:
                        seen.add(host)
                        hosts.append(host)
        return hosts

    def _match_one(self, pattern: str) -> list[Host]:
        if pattern[0] in "&!":
            pattern = pattern[1:]
        hosts = self._patterns.get(pattern)
        if hosts is None:
            expr, subscript = split_subscript(pattern)
            hosts = self._enumerate(expr)
            if subscript is not None:
                hosts = subscript.apply(hosts, pattern)
            self._patterns[pattern] = hosts
        return hosts

    def _enumerate(self, expr: str) -> list[Host]:
        """Hosts of every group whose name matches, plus hosts whose name matches (Ansible's rules)."""
        matches = compile_matcher(expr)
        groups = [name for name in self.groups if matches(name)]
        hosts = [host for name in groups for host in self._group_members(name)]
        if not groups or is_glob_or_regex(expr):
            hosts.extend(host for name, host in self.hosts.items() if matches(name))
        if not hosts and expr in LOCALHOST_NAMES:
            localhost = self.get_host(expr)
            if localhost is not None:
                hosts.append(localhost)
        return hosts
