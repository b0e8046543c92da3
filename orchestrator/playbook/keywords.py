"""Keyword tables: which keywords each node type accepts and how each value is checked.

The sets mirror Ansible's FieldAttributes per class (Play, Block, Task, Handler, RoleInclude,
PlaybookInclude), so a keyword valid in Ansible is valid here and a typo is caught with a
suggestion. Values stay raw where the executor templates them; a coercer only rejects shapes
that can never work (a dict for `become`, a list for `register`).
"""

from __future__ import annotations

import keyword as pykeyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from orchestrator.errors import SourceLocation
from orchestrator.modules.spec import BOOL_FALSE, BOOL_TRUE, did_you_mean, is_templated
from orchestrator.playbook.model import TaskOptions


class KeywordError(ValueError):
    """A keyword value has the wrong shape. The caller adds the value's location unless a more
    precise one (an inner key) is given here."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.location = location


# --- coercers: (keyword, raw value) -> stored value, or KeywordError -----------------------------


def type_name(value: Any) -> str:
    """How an error message names the YAML type of a value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "nothing" if value is None else "a string"


def as_bool(key: str, value: Any) -> bool | str:
    """A boolean, or a template string the executor renders; 'yes'/'1' strings become booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if is_templated(value):
            return value
        text = value.strip().lower()
        if text in BOOL_TRUE:
            return True
        if text in BOOL_FALSE:
            return False
    raise KeywordError(f"'{key}' must be a boolean, got {value!r}")


def as_str(key: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise KeywordError(f"'{key}' must be a string, got {type_name(value)}")
    if isinstance(value, bool):
        raise KeywordError(f"'{key}' must be a string, got the boolean {value}")
    return value if isinstance(value, str) else str(value)


def as_int(key: str, value: Any) -> int | str:
    """An integer, or a template string."""
    if isinstance(value, (bool, dict, list, float)):
        raise KeywordError(f"'{key}' must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if is_templated(text):
        return value
    try:
        return int(text)
    except ValueError:
        raise KeywordError(f"'{key}' must be an integer, got {value!r}") from None


def as_number(key: str, value: Any) -> int | float | str:
    if isinstance(value, (bool, dict, list)):
        raise KeywordError(f"'{key}' must be a number, got {value!r}")
    if isinstance(value, (int, float)) or is_templated(value):
        return value
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        raise KeywordError(f"'{key}' must be a number, got {value!r}") from None


def as_raw(key: str, value: Any) -> Any:
    return value


def as_tags(key: str, value: Any) -> list[str]:
    """`tags: a, b` or `tags: [a, b]` -> ['a', 'b'] (a string is split on commas, as Ansible)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, (dict, list, bool)):
                raise KeywordError(f"'{key}' items must be strings, got {item!r}")
            out.append(str(item))
        return out
    raise KeywordError(f"'{key}' must be a string or a list of strings, got {value!r}")


def as_names(key: str, value: Any) -> list[str]:
    """notify / listen: one name or a list of names (no comma splitting: names may hold commas)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise KeywordError(f"'{key}' must be a string or a list of strings, got {value!r}")


def as_conditions(key: str, value: Any) -> list[Any]:
    """when / changed_when / failed_when / until: one condition or a list, ANDed."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, (dict, list)):
            raise KeywordError(f"'{key}' must be a condition or a list of conditions, got {item!r}")
    return list(items)


def check_var_name(name: Any) -> None:
    """Ansible's validate_variable_name: a Python identifier, ASCII, not a Jinja2 constant."""
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or not name.isascii()
        or pykeyword.iskeyword(name)
        or name in {"true", "false", "none", "True", "False", "None", "not"}
    ):
        raise KeywordError(f"invalid variable name {str(name)!r}")


def as_vars(key: str, value: Any) -> dict[str, Any]:
    """A mapping of variables; a list of mappings is merged (Ansible accepts both)."""
    parts = value if isinstance(value, list) else [value]
    out: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise KeywordError(f"'{key}' must be a mapping, got {type_name(part)}")
        for name in part:
            check_var_name(name)
        out.update(part)
    return out


def as_mapping(key: str, value: Any) -> dict[str, Any]:
    parts = value if isinstance(value, list) else [value]
    out: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise KeywordError(f"'{key}' must be a mapping, got {type_name(part)}")
        out.update(part)
    return out


def as_environment(key: str, value: Any) -> dict[str, Any] | list[Any] | str:
    if isinstance(value, (dict, list)) or is_templated(value):
        return value
    raise KeywordError(f"'{key}' must be a mapping (or a template giving one), got {value!r}")


def choice(*choices: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        text = as_str(key, value)
        if text not in choices and not is_templated(text):
            raise KeywordError(
                f"'{key}' must be one of: {', '.join(choices)}; got {text!r}{did_you_mean(text, choices)}"
            )
        return text

    return check


# --- keywords that set a TaskOptions field (shared by plays, blocks, roles and tasks) ------------


@dataclass(frozen=True)
class OptionKeyword:
    coerce: Callable[[str, Any], Any]
    field: str | None  # TaskOptions attribute; None: stored in vars under `var`, or ignored
    var: str | None = None


OPTION_KEYWORDS: Mapping[str, OptionKeyword] = {
    "any_errors_fatal": OptionKeyword(as_bool, "any_errors_fatal"),
    "become": OptionKeyword(as_bool, "become"),
    "become_user": OptionKeyword(as_str, "become_user"),
    "become_method": OptionKeyword(as_str, "become_method"),
    "become_flags": OptionKeyword(as_str, "become_flags"),
    "become_exe": OptionKeyword(as_str, None, "ansible_become_exe"),
    "check_mode": OptionKeyword(as_bool, "check_mode"),
    "connection": OptionKeyword(as_str, None, "ansible_connection"),
    "delegate_facts": OptionKeyword(as_bool, "delegate_facts"),
    "delegate_to": OptionKeyword(as_str, "delegate_to"),
    "diff": OptionKeyword(as_bool, "diff"),
    "environment": OptionKeyword(as_environment, "environment"),
    "ignore_errors": OptionKeyword(as_bool, "ignore_errors"),
    "ignore_unreachable": OptionKeyword(as_bool, "ignore_unreachable"),
    "module_defaults": OptionKeyword(as_mapping, "module_defaults"),
    "no_log": OptionKeyword(as_bool, "no_log"),
    "port": OptionKeyword(as_int, "port"),
    "remote_user": OptionKeyword(as_str, "remote_user"),
    "run_once": OptionKeyword(as_bool, "run_once"),
    "tags": OptionKeyword(as_tags, "tags"),
    "throttle": OptionKeyword(as_int, "throttle"),
    "timeout": OptionKeyword(as_int, "timeout"),
    "vars": OptionKeyword(as_vars, "vars"),
    "when": OptionKeyword(as_conditions, "when"),
    # accepted for compatibility, no effect in orch
    "collections": OptionKeyword(as_raw, None),
    "debugger": OptionKeyword(as_raw, None),
}


def apply_option(options: TaskOptions, key: str, value: Any) -> None:
    """Set one option keyword (already known to be in OPTION_KEYWORDS) on `options`."""
    spec = OPTION_KEYWORDS[key]
    coerced = spec.coerce(key, value)
    if spec.field == "vars":  # `connection:` may already have put ansible_connection there
        options.vars = {**options.vars, **coerced}
    elif spec.field is not None:
        setattr(options, spec.field, coerced)
    elif spec.var is not None:
        options.vars[spec.var] = coerced


# --- which keywords each node accepts (Ansible's FieldAttributes per class) ----------------------

_BASE = frozenset(
    {
        "any_errors_fatal", "become", "become_exe", "become_flags", "become_method", "become_user",
        "check_mode", "collections", "connection", "debugger", "diff", "environment", "ignore_errors",
        "ignore_unreachable", "module_defaults", "name", "no_log", "port", "remote_user", "run_once",
        "tags", "throttle", "timeout", "vars",
    }
)  # fmt: skip
_DELEGATABLE = frozenset({"when", "delegate_to", "delegate_facts"})

PLAY_KEYWORDS = _BASE | {
    "hosts", "gather_facts", "gather_subset", "gather_timeout", "fact_path", "vars_files", "vars_prompt",
    "roles", "handlers", "pre_tasks", "post_tasks", "tasks", "force_handlers", "max_fail_percentage",
    "serial", "strategy", "order",
}  # fmt: skip
BLOCK_KEYWORDS = _BASE | _DELEGATABLE | {"block", "rescue", "always", "notify"}
TASK_KEYWORDS = _BASE | _DELEGATABLE | {
    "action", "local_action", "args", "async", "changed_when", "delay", "failed_when", "loop",
    "loop_control", "notify", "poll", "register", "retries", "until",
}  # fmt: skip
HANDLER_KEYWORDS = TASK_KEYWORDS | {"listen"}
ROLE_KEYWORDS = _BASE | _DELEGATABLE | {"role"}
IMPORT_PLAYBOOK_KEYWORDS = (_BASE - {"collections"}) | {"import_playbook", "when"}
# include_tasks / include_role take only these (others go under `apply:`), as Ansible's TaskInclude.
INCLUDE_KEYWORDS = frozenset(
    {"action", "args", "collections", "debugger", "ignore_errors", "loop", "loop_control", "name",
     "no_log", "register", "run_once", "tags", "timeout", "vars", "when"}
)  # fmt: skip
# Keywords of an import_* that have no effect (the import is replaced by its tasks at load time).
IMPORT_INERT_KEYWORDS = frozenset(
    {"register", "changed_when", "failed_when", "until", "retries", "delay", "async", "poll"}
)
LOOP_CONTROL_KEYS = frozenset(
    {"label", "loop_var", "index_var", "pause", "extended", "extended_allitems", "break_when"}
)
VARS_PROMPT_KEYS = frozenset(
    {"name", "prompt", "default", "private", "confirm", "encrypt", "salt", "salt_size", "unsafe"}
)
# Lookups usable as `with_<name>` (ansible.builtin lookup plugins).
# `with_<name>` loops: every lookup orch implements (one a loop cannot name is refused at load).
def _with_lookups() -> frozenset[str]:
    from orchestrator.templating.lookups import LOOKUPS

    return frozenset(LOOKUPS)


WITH_LOOKUPS = _with_lookups()
META_ACTIONS = frozenset(
    {"noop", "flush_handlers", "refresh_inventory", "clear_facts", "clear_host_errors", "end_play",
     "end_host", "end_batch", "end_role", "reset_connection"}
)  # fmt: skip
STRATEGIES = ("linear", "free", "host_pinned")
ORDERS = ("inventory", "reverse_inventory", "sorted", "reverse_sorted", "shuffle")


def merge_options(parent: TaskOptions, child: TaskOptions) -> TaskOptions:
    """`child` as it applies under `parent`: conditions ANDed, tags and vars accumulated,
    every other keyword set on the child wins (used where the tree is flattened: handlers)."""
    out = TaskOptions()
    for f in fields(TaskOptions):
        mine, theirs = getattr(child, f.name), getattr(parent, f.name)
        if f.name in ("when", "tags"):
            merged = [*theirs, *mine]
            value: Any = merged if f.name == "when" else list(dict.fromkeys(merged))
        elif f.name in ("vars", "module_defaults"):
            value = {**theirs, **mine}
        else:
            value = mine if mine is not None else theirs
        setattr(out, f.name, value)
    return out
