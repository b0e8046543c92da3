"""Module parameters declared as data, validated before any host is touched.

Mirrors Ansible's argument spec (type, required, default, choices, aliases, elements,
mutually_exclusive, required_one_of, required_together, required_if) so Ansible's parameter
names and aliases work unchanged. All errors are collected, not just the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BOOL_TRUE = {"yes", "on", "1", "true", "y", "t"}
BOOL_FALSE = {"no", "off", "0", "false", "n", "f", ""}


@dataclass(frozen=True)
class Param:
    type: str = "str"  # str | int | float | bool | list | dict | path | raw | mode
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    aliases: tuple[str, ...] = ()
    elements: str | None = None  # element type for lists
    no_log: bool = False  # value is a secret: the executor registers it with redact, masked everywhere
    help: str = ""


@dataclass(frozen=True)
class ArgSpec:
    params: Mapping[str, Param]
    mutually_exclusive: tuple[tuple[str, ...], ...] = ()
    required_one_of: tuple[tuple[str, ...], ...] = ()
    required_together: tuple[tuple[str, ...], ...] = ()
    # (param, value, requires): when param == value, all of `requires` must be set
    required_if: tuple[tuple[str, Any, tuple[str, ...]], ...] = ()

    def names(self) -> dict[str, str]:
        """Every accepted name (canonical and aliases) -> canonical name."""
        out = {}
        for name, p in self.params.items():
            out[name] = name
            for alias in p.aliases:
                out[alias] = name
        return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the closest candidate (a mapping's keys), else ""."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def is_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _convert(value: Any, kind: str, elements: str | None) -> Any:
    if kind in ("str", "path"):
        if isinstance(value, (dict, list)):
            raise ValueError("expected a string")
        return str(value) if not isinstance(value, bool) else ("True" if value else "False")
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        return int(str(value), 0) if isinstance(value, str) else int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return to_bool(value)
    if kind == "list":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")] if value else []
        elif not isinstance(value, list):
            value = [value]
        return [_convert(v, elements, None) for v in value] if elements else list(value)
    if kind == "dict":
        if not isinstance(value, dict):
            raise ValueError("expected a mapping")
        return dict(value)
    if kind == "mode":  # octal int, octal string or symbolic string; kept as given
        if isinstance(value, int) and not isinstance(value, bool):
            return format(value, "04o")  # YAML `mode: 0644` is already the int 420
        return str(value)
    return value  # raw


def validate_args(
    spec: ArgSpec, args: Mapping[str, Any], *, allow_templates: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Normalize `args` against `spec`. Returns (args by canonical name with defaults, errors).

    With allow_templates, values still holding Jinja2 are passed through unconverted (load-time
    validation); at run time the rendered values are validated again without it.
    """
    names = spec.names()
    errors: list[str] = []
    out: dict[str, Any] = {}
    for key, value in args.items():
        canonical = names.get(key)
        if canonical is None:
            errors.append(f"unsupported parameter '{key}'{did_you_mean(key, names)}")
            continue
        if canonical in out:
            errors.append(f"parameter '{canonical}' given twice (as '{key}' and an alias)")
            continue
        param = spec.params[canonical]
        if value is None:
            out[canonical] = None
            continue
        if allow_templates and (
            is_templated(value) or (isinstance(value, list) and any(map(is_templated, value)))
        ):
            out[canonical] = value
            continue
        try:
            value = _convert(value, param.type, param.elements)
        except (ValueError, TypeError) as exc:
            errors.append(
                f"parameter '{key}': {exc}"
                if "expected" in str(exc) or "boolean" in str(exc)
                else f"parameter '{key}': expected {param.type}, got {value!r}"
            )
            continue
        if (
            param.choices
            and value not in param.choices
            and not (param.type == "list" and all(v in param.choices for v in value))
        ):
            choices = ", ".join(map(str, param.choices))
            errors.append(f"parameter '{key}' must be one of: {choices}; got {value!r}")
            continue
        out[canonical] = value

    def given(name: str) -> bool:
        return out.get(name) is not None

    for name, param in spec.params.items():
        if param.required and not given(name):
            errors.append(f"missing required parameter '{name}'")
    for group in spec.mutually_exclusive:
        present = [n for n in group if given(n)]
        if len(present) > 1:
            errors.append(f"parameters are mutually exclusive: {', '.join(present)}")
    for group in spec.required_one_of:
        if not any(given(n) for n in group):
            errors.append(f"one of these parameters is required: {', '.join(group)}")
    for group in spec.required_together:
        present = [n for n in group if given(n)]
        if present and len(present) != len(group):
            errors.append(f"parameters are required together: {', '.join(group)}")
    for name, value, requires in spec.required_if:
        # As in Ansible, a parameter left to its default counts with that default.
        current = out[name] if name in out else spec.params[name].default if name in spec.params else None
        if current == value:
            missing = [n for n in requires if not given(n)]
            if missing:
                errors.append(f"{name}={value} requires: {', '.join(missing)}")
    for name, param in spec.params.items():
        if name not in out or (out[name] is None and param.default is not None):
            out[name] = param.default
    return out, errors
