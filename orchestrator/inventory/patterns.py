"""Host pattern syntax (`hosts:` and `--limit`), parsed the way Ansible parses it.

Only the syntax lives here; `Inventory.select` evaluates patterns against groups and hosts.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from orchestrator.errors import InventoryError
from orchestrator.inventory.ranges import is_address, split_port

# `expr[3]`, `expr[-1]`, `expr[1:3]`, `expr[2:]` (and the old `expr[1-3]`).
_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]")
# With no comma, ':' separates patterns, except inside [...] (ranges, subscripts, globs).
_COLON_PART = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = (".", "?", "*", "[")

T = TypeVar("T")


def split_host_pattern(pattern: str | Sequence[str]) -> list[str]:
    """'a,b[1], c[2:3] , d' -> ['a', 'b[1]', 'c[2:3]', 'd']; 'a:b:&c' -> ['a', 'b', '&c'].

    A comma always separates. Without one, the text is a single pattern if it reads as a host
    (with optional port) or an IPv6 address, else ':' separates, as in Ansible.
    """
    if not isinstance(pattern, str):
        return [part for item in pattern for part in split_host_pattern(item)]
    if "," in pattern:
        parts = pattern.split(",")
    elif _is_single_host(pattern.strip()):
        parts = [pattern]
    else:
        parts = _COLON_PART.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def _is_single_host(text: str) -> bool:
    host, _port = split_port(text)
    return is_address(host)


def order_patterns(patterns: list[str]) -> list[str]:
    """Unions first, then `&` intersections, then `!` exclusions; only modifiers -> `all` first."""
    plain = [p for p in patterns if p[0] not in "&!"]
    intersect = [p for p in patterns if p[0] == "&"]
    exclude = [p for p in patterns if p[0] == "!"]
    return (plain or ["all"]) + intersect + exclude


@dataclass(frozen=True)
class Subscript:
    start: int
    end: int | None  # None: a single index; -1: to the end (inclusive bounds otherwise)

    def apply(self, items: list[T], pattern: str) -> list[T]:
        if not items:
            return items
        if self.end is None:
            try:
                return [items[self.start]]
            except IndexError:
                raise InventoryError(f"no hosts matched the subscripted pattern {pattern!r}") from None
        end = len(items) - 1 if self.end == -1 else self.end
        return items[self.start : end + 1]


def split_subscript(pattern: str) -> tuple[str, Subscript | None]:
    """'web[0:2]' -> ('web', Subscript(0, 2)); regexes (`~...`) never carry a subscript."""
    if pattern.startswith("~"):
        return pattern, None
    m = _SUBSCRIPT.fullmatch(pattern)
    if not m:
        return pattern, None
    expr, index, start, _sep, end = m.groups()
    if index is not None:
        return expr, Subscript(int(index), None)
    return expr, Subscript(int(start), int(end) if end else -1)


def compile_matcher(pattern: str) -> Callable[[str], bool]:
    """`~regex` (matched at the start, like re.match) or a shell glob, case-sensitive."""
    try:
        regex = re.compile(pattern[1:] if pattern.startswith("~") else fnmatch.translate(pattern))
    except re.error as exc:
        raise InventoryError(f"invalid host pattern {pattern!r}: {exc}") from None
    return lambda name: regex.match(name) is not None


def is_glob_or_regex(pattern: str) -> bool:
    """Such patterns are matched against host names even when they also match groups."""
    return pattern.startswith("~") or any(char in pattern for char in _GLOB_CHARS)


def expand_limit_files(patterns: list[str]) -> list[str]:
    """Replace each `@file` (a .retry file: one host per line) by the lines of that file."""
    result: list[str] = []
    for pattern in patterns:
        if not pattern.startswith("@"):
            result.append(pattern)
            continue
        path = pattern[1:]
        if not os.path.exists(path):
            raise InventoryError(f"limit file not found: {path}")
        if not os.path.isfile(path):
            raise InventoryError(f"a limit starting with '@' must name a file, not a directory: {path}")
        with open(path, encoding="utf-8") as fh:
            result.extend(line.strip() for line in fh if line.strip())
    return result
