"""Variable layers and precedence, in one place.

Ansible has 22 precedence levels; real playbooks need far fewer distinctions. orch has seven
layers, lowest first; a later layer wins, a whole value replaces another (no deep merge):

  1. role defaults          roles/x/defaults/main.yml
  2. inventory              group vars (all < parents < children) < host vars, incl. group_vars/,
                            host_vars/ next to the inventory and the playbook
  3. facts                  gathered facts (ansible_facts and the ansible_* names)
  4. play                   play vars < vars_prompt < vars_files < role vars < block vars < task vars
  5. host runtime           include_vars, set_fact, register (persist for the host across plays)
  6. params                 role params and include params
  7. extra vars             -e / --extra-vars: always win

Magic variables (inventory_hostname, hostvars, groups, ...) sit above everything and cannot be
overridden, as in Ansible. `orch explain VAR --host H` prints the value and its layer using the
same `layer_stack` the executor uses, so the explanation cannot drift from the behaviour.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LAYER_NAMES = ("role defaults", "inventory", "facts", "play", "host runtime", "params", "extra vars", "magic")


@dataclass
class HostVarState:
    """Per-host variables that live across tasks and plays (facts, set_fact, register)."""

    facts: dict[str, Any] = field(default_factory=dict)  # ansible_facts, without the prefix
    runtime: dict[str, Any] = field(default_factory=dict)  # set_fact, register, include_vars
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fact_vars(self) -> dict[str, Any]:
        """Facts as playbooks read them: `ansible_facts.x` and the injected `ansible_x`."""
        out: dict[str, Any] = {
            (k if k in UNPREFIXED_FACTS or k.startswith("getent_") else f"ansible_{k}"): v
            for k, v in self.facts.items()
        }
        out["ansible_facts"] = self.facts
        return out


# Facts of service_facts / package_facts / getent: Ansible injects them under their own name
# (`services`, `packages`, `getent_passwd`), not as `ansible_<name>` like setup's.
UNPREFIXED_FACTS = frozenset({"services", "packages"})


@dataclass(frozen=True)
class Scope:
    """Variables from where a task sits: play, role, block, task, params. Lowest first per field."""

    role_defaults: tuple[Mapping[str, Any], ...] = ()
    play: tuple[Mapping[str, Any], ...] = ()
    params: tuple[Mapping[str, Any], ...] = ()

    def child(
        self,
        *,
        role_defaults: Mapping[str, Any] | None = None,
        play: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Scope:
        return Scope(
            self.role_defaults + ((role_defaults,) if role_defaults else ()),
            self.play + ((play,) if play else ()),
            self.params + ((params,) if params else ()),
        )


def layer_stack(
    *,
    scope: Scope,
    inventory: Mapping[str, Any],
    host_state: HostVarState,
    extra: Mapping[str, Any],
    magic: Mapping[str, Any],
) -> list[tuple[str, Mapping[str, Any]]]:
    """All layers for one host and task, lowest first, each tagged with its layer name."""
    stack: list[tuple[str, Mapping[str, Any]]] = [("role defaults", m) for m in scope.role_defaults]
    stack.append(("inventory", inventory))
    stack.append(("facts", host_state.fact_vars()))
    stack.extend(("play", m) for m in scope.play)
    stack.append(("host runtime", host_state.runtime))
    stack.extend(("params", m) for m in scope.params)
    stack.append(("extra vars", extra))
    stack.append(("magic", magic))
    return stack


def explain(stack: Sequence[tuple[str, Mapping[str, Any]]], name: str) -> list[tuple[str, Any]]:
    """Every layer that defines `name`, lowest first; the last one is the value in effect."""
    return [(layer, values[name]) for layer, values in stack if name in values]


class HostVars(Mapping[str, Any]):
    """The `hostvars` magic variable: each host's variables, built only when a task asks."""

    def __init__(self, names: Sequence[str], build: Any) -> None:
        self._names = list(names)
        self._build = build  # callable(host name) -> Mapping of that host's variables
        self._cache: dict[str, Mapping[str, Any]] = {}

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name not in self._cache:
            if name not in self._names:
                raise KeyError(name)
            self._cache[name] = self._build(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names
