"""LazyVars: a read-only, layered view of variables whose values are templated on first access.

Variables may refer to each other in any order (`url: "http://{{ host }}:{{ port }}"`), as in
Ansible; each value is templated once per LazyVars and cached, so a lookup after the first is
a dict hit. A variable that refers back to itself, directly or through others, raises
TemplateCycleError naming the loop.

A LazyVars is a snapshot: build a new one (or `with_layer()`) when the layers change. Method
names avoid common variable names, since `hostvars[h].name` tries attributes first (Jinja).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from orchestrator.redact import note_variable
from orchestrator.templating.common import TemplateCycleError, UnsafeStr, has_template


class VariableRenderer(Protocol):
    """What LazyVars needs of the engine (engine.Templar): render one variable's value."""

    def _render_var(self, value: Any, lazy: LazyVars, name: str) -> Any: ...


# Per thread: the (LazyVars id, name) pairs being templated right now, to detect loops.
_resolving = threading.local()


def _needs_render(value: Any) -> bool:
    if isinstance(value, str):
        return type(value) is not UnsafeStr and has_template(value)
    # `__orch_resolve__`: a value decrypted when read (a `!vault` value)
    return isinstance(value, (dict, list, tuple)) or hasattr(value, "__orch_resolve__")


class LazyVars(Mapping[str, Any]):
    """Layers of variables, later layers win; string values are templated when read."""

    __slots__ = ("_cache", "_layers", "_templar")

    def __init__(self, layers: Sequence[Mapping[str, Any]], templar: VariableRenderer) -> None:
        self._layers: tuple[Mapping[str, Any], ...] = tuple(reversed(tuple(layers)))  # highest first
        self._templar = templar
        self._cache: dict[str, Any] = {}

    def with_layer(self, layer: Mapping[str, Any]) -> LazyVars:
        """A new LazyVars with `layer` on top (e.g. loop variables); its cache starts empty."""
        return LazyVars((*reversed(self._layers), layer), self._templar)

    def raw_value(self, key: str) -> Any:
        """The value as written, not templated."""
        return self._lookup(key)[0]

    def _lookup(self, key: str) -> tuple[Any, bool]:
        """(value, already templated) from the highest layer that has `key`."""
        for layer in self._layers:
            if type(layer) is dict:  # the common case, one hash lookup
                if key in layer:
                    return layer[key], False
            elif key in layer:
                return layer[key], isinstance(layer, LazyVars)
        raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            pass
        value, done = self._lookup(key)
        if not done and _needs_render(value):
            stack: list[tuple[int, str]] | None = getattr(_resolving, "stack", None)
            if stack is None:
                stack = _resolving.stack = []
            me = (id(self), key)
            if me in stack:
                loop = [name for owner, name in stack[stack.index(me) :] if owner == id(self)]
                raise TemplateCycleError([*loop, key])
            stack.append(me)
            try:
                value = self._templar._render_var(value, self, key)
            finally:
                stack.pop()
        note_variable(key, value)  # a secret-looking name makes its value a masked secret
        self._cache[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get goes through two KeyErrors for a missing name; the executor asks for many
        # optional ones (ansible_port, ansible_become_*...) on every task.
        if key in self._cache:
            return self._cache[key]
        for layer in self._layers:
            if key in layer:
                return self[key]
        return default

    def __contains__(self, key: object) -> bool:
        if key in self._cache:
            return True
        return any(key in layer for layer in self._layers)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for layer in reversed(self._layers):
            for key in layer:
                seen[key] = None
        return iter(seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        # never show values: they may be secrets
        return f"<LazyVars: {len(self)} variables in {len(self._layers)} layers>"
