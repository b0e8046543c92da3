"""validate_argument_spec: check values against an Ansible argument spec, on the controller.

Roles with `meta/argument_specs.yml` get this task first (see playbook/roles.py), as in Ansible:
the values are the role's parameters over the variables of the same names, and a bad value fails
the host before any task of the role ran. The rules and messages are those of Ansible's
ArgumentSpecValidator (type conversion, elements, choices, required, defaults, sub-options,
unsupported names); the converted values are checked, not exported, as in Ansible.
"""

from __future__ import annotations

import decimal
import json
import os
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import BOOL_FALSE, BOOL_TRUE, ArgSpec, Param

_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "dict"}


def _type_name(value: Any) -> str:
    if value is None:
        return "NoneType"
    for kind, name in _TYPE_NAMES.items():
        if type(value) is kind:
            return name
    for kind, name in _TYPE_NAMES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (int, float)):
        return [str(value)]
    raise TypeError(f"{type(value)} cannot be converted to a list")


def _to_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                loaded = json.loads(value)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                return loaded
            raise TypeError("unable to evaluate string as dictionary")
        if "=" in value:
            pairs = [part.split("=", 1) for part in value.replace(",", " ").split() if part]
            if all(len(pair) == 2 for pair in pairs):
                return {k.strip(): v.strip() for k, v in pairs}
    raise TypeError("dictionary requested, could not parse JSON or key=value")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int, float)):
        text = str(value).strip().lower()
        if text in BOOL_TRUE or (isinstance(value, float) and value == 1.0):
            return True
        if text in BOOL_FALSE - {""} or (isinstance(value, float) and value == 0.0):
            return False
        raise TypeError(
            f"The value '{value}' is not a valid boolean. Valid booleans include: "
            "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        )
    raise TypeError(f"{type(value)} cannot be converted to a bool")


def _to_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    try:
        exact = decimal.Decimal(value)
        if exact != int(exact):
            raise ValueError("Significant decimal part found")
        return int(exact)
    except (decimal.DecimalException, TypeError, ValueError) as exc:
        raise TypeError(f'"{value!r}" cannot be converted to an int') from exc


def _to_float(value: Any) -> float:
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{type(value)} cannot be converted to a float") from exc


def _to_path(value: Any) -> str:
    return os.path.expanduser(os.path.expandvars(_to_str(value)))


_CHECKERS = {
    "str": _to_str,
    "list": _to_list,
    "dict": _to_dict,
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "path": _to_path,
    "raw": lambda value: value,
    "jsonarg": lambda value: value.strip() if isinstance(value, str) else json.dumps(value),
    "json": lambda value: value.strip() if isinstance(value, str) else json.dumps(value),
}


def _convert(
    name: str, value: Any, option: Mapping[str, Any], where: str, context: tuple[str, ...], errors: list[str]
) -> Any:
    """`value` converted to the option's type (and elements), or as given with the error noted."""
    wanted = option.get("type") or "str"
    checker = _CHECKERS.get(wanted)
    if checker is None:
        errors.append(f"unknown type '{wanted}' for option '{name}'{where}")
        return value
    try:
        value = checker(value)
    except (TypeError, ValueError) as exc:
        found = f" found in '{' -> '.join(context)}'." if context else ""
        errors.append(
            f"argument '{name}' is of type {_type_name(value)}{found} and we were unable to convert to {wanted}: {exc}"
        )
        return value
    element_type = option.get("elements")
    if not element_type or not isinstance(value, list):
        return value
    converted = []
    for item in value:
        try:
            converted.append(_CHECKERS.get(element_type, _to_str)(item))
        except (TypeError, ValueError) as exc:
            found = f" found in '{' -> '.join(context)}'" if context else ""
            errors.append(
                f"Elements value for option '{name}'{found} is of type {_type_name(item)} and we were"
                f" unable to convert to {element_type}: {exc}"
            )
    return converted


def validate_spec(spec: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The error messages for `params` against `spec` (Ansible's option attributes), [] when valid."""
    unsupported: list[tuple[str, list[str]]] = []
    errors = _validate(spec, params, (), unsupported)
    if unsupported:
        # One message for every level, with the names the last one supports (as ansible-core).
        names = ", ".join(sorted({name for name, _ in unsupported}))
        errors.append(f"{names}. Supported parameters include: {', '.join(max(unsupported)[1])}.")
    return errors


def _validate(
    spec: Mapping[str, Any],
    params: Mapping[str, Any],
    context: tuple[str, ...],
    unsupported: list[tuple[str, list[str]]],
) -> list[str]:
    errors: list[str] = []
    value_errors: list[str] = []  # Ansible reports choices after every type error
    sub_errors: list[str] = []
    where = f" found in {' -> '.join(context)}" if context else ""
    values = dict(params)
    names: dict[str, str] = {}
    for name, option in spec.items():
        names[name] = name
        for alias in (option or {}).get("aliases") or ():
            names[alias] = name
            if alias in values and name not in values:
                values[name] = values.pop(alias)
            values.pop(alias, None)
    missing = sorted(n for n, o in spec.items() if (o or {}).get("required") and n not in values)
    if missing:
        errors.append(f"missing required arguments: {', '.join(missing)}{where}")
    for name, option in spec.items():
        option = option or {}
        if name not in values and option.get("default") is not None:
            values[name] = option["default"]
        if name not in values:
            continue
        value = values[name]
        # A failed conversion leaves the value as given for the checks below, as in Ansible.
        if value is not None or option.get("required") or option.get("default") is not None:
            value = _convert(name, value, option, where, context, errors)
        choices = option.get("choices")
        if choices:
            if isinstance(value, list):
                stray = [item for item in value if item not in choices]
                if stray:
                    value_errors.append(
                        f"value of {name} must be one or more of: {', '.join(map(str, choices))}."
                        f" Got no match for: {', '.join(map(str, stray))}{where}"
                    )
            elif value not in choices:
                value_errors.append(
                    f"value of {name} must be one of: {', '.join(map(str, choices))}, got: {value}{where}"
                )
        suboptions = option.get("options")
        if suboptions and value is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    sub_errors += _validate(suboptions, item, (*context, name), unsupported)
                else:
                    sub_errors.append(f"value of {name} must be a dict{where}, got {_type_name(item)}")
    errors += value_errors + sub_errors
    unsupported += [(".".join((*context, k)), sorted(spec)) for k in params if k not in names]
    return errors


@register
class ValidateArgumentSpec(Module):
    """Fail unless the provided arguments and the variables named in the spec match it."""

    name = "validate_argument_spec"
    remote = False
    spec = ArgSpec(
        params={
            "argument_spec": Param("dict", required=True),
            "provided_arguments": Param("dict", default={}),
            "validate_args_context": Param("dict", default={}),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        spec = args["argument_spec"]
        # Ansible: the variables named in the spec (templated), under the explicit arguments.
        values = {
            name: ctx.templar.render(ctx.variables[name], ctx.variables)
            for name in spec
            if name in ctx.variables
        }
        values.update(args["provided_arguments"] or {})
        context = args["validate_args_context"] or {}
        errors = validate_spec(spec, values)
        if errors:
            raise ModuleFailed(
                "Validation of arguments failed:\n" + "\n".join(errors),
                argument_errors=errors,
                validate_args_context=context,
            )
        return {"changed": False, "msg": "The arg spec validation passed", "validate_args_context": context}
