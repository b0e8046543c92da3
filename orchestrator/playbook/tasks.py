"""Task lists: blocks, tasks and handlers, the module key and its arguments.

Ansible's rules (ModuleArgsParser): a task has exactly one module key, written as a key
(`copy:`), as `action: copy src=a` or as `local_action:`; arguments are a mapping or `k=v` text,
with `args:` merged underneath. Import/include forms are handled in includes.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import SourceLocation
from orchestrator.modules.base import Module, get_module, module_names
from orchestrator.modules.spec import did_you_mean, is_templated, validate_args
from orchestrator.playbook.actions import language_action, spelled_names
from orchestrator.playbook.keywords import (
    HANDLER_KEYWORDS,
    LOOP_CONTROL_KEYS,
    META_ACTIONS,
    OPTION_KEYWORDS,
    TASK_KEYWORDS,
    WITH_LOOKUPS,
    KeywordError,
    apply_option,
    as_conditions,
    as_int,
    as_names,
    as_number,
    as_str,
    check_var_name,
    merge_options,
    type_name,
)
from orchestrator.playbook.model import Block, Task, TaskOptions
from orchestrator.playbook.session import Scope, Session, where
from orchestrator.playbook.taskargs import (
    FREEFORM_ACTIONS,
    RAW_PARAMS,
    SplitError,
    parse_kv,
    short_action,
    split_module_string,
)
from orchestrator.yamlsource import LocatedStr, location_of

VARIABLE_PARAMS = "_variable_params"  # `args: "{{ some_dict }}"`: arguments known only at run time
_CONDITION_KEYS = frozenset({"when", "changed_when", "failed_when", "until"})
_ACTION_KEYS = ("action", "local_action")


# --- finding the module key ----------------------------------------------------------------------


def lookup_module(name: str) -> type[Module] | None:
    """The registered module for a name as written (`copy`, `ansible.builtin.copy`, `ansible.legacy.copy`)."""
    return get_module(name) or (
        get_module(short_action(name)) if name.startswith("ansible.legacy.") else None
    )


def action_names() -> list[str]:
    """Every name a task may call: modules and the language's own actions (for suggestions)."""
    return sorted({*module_names(), *spelled_names()})


def _is_action_key(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    return language_action(key) is not None or lookup_module(key) is not None or "." in key


@dataclass
class Action:
    """The module a task calls and its arguments as written."""

    name: str  # as written: "copy", "ansible.builtin.copy", "include_tasks"
    value: Any  # raw arguments: str, mapping or None
    key: Any  # the ds key that named it ("copy", "action", "local_action")
    location: SourceLocation | None
    local: bool = False  # local_action: delegate_to localhost
    module: type[Module] | None = None

    @property
    def short(self) -> str:
        return short_action(self.name)

    @property
    def canonical(self) -> str:
        # the loader's own actions by their short name so the executor matches one spelling
        if language_action(self.name) is not None or self.name.startswith("ansible.legacy."):
            return self.short
        return self.name


def find_key(ds: Mapping[Any, Any], name: str) -> Any:
    """The key object itself (it carries the location), not just an equal string."""
    return next((k for k in ds if k == name), name)


def _legacy_action(s: Session, ds: Mapping[Any, Any]) -> Action | bool | None:
    """The `action:` / `local_action:` form; None if absent, False if broken (error recorded)."""
    present = [find_key(ds, k) for k in _ACTION_KEYS if k in ds]
    if not present:
        return None
    if len(present) == 2:
        s.error("'action' and 'local_action' are mutually exclusive", where(present[1]))
        return False
    key = present[0]
    value = ds[key]
    loc = where(value, key)
    module_text, extra = value, None
    if isinstance(value, dict):  # deprecated `action: {module: copy, src: a}`
        module_text = value.get("module")
        extra = {k: v for k, v in value.items() if k != "module"}
    if not isinstance(module_text, str) or not module_text.strip():
        s.error(f"'{key}' must name a module, as in '{key}: copy src=a dest=b'", loc)
        return False
    try:
        name, rest = split_module_string(module_text)
    except SplitError as exc:
        s.error(f"'{key}': {exc}", loc)
        return False
    args: Any = rest
    if extra is not None:
        try:
            args = {**extra, **parse_kv(rest, check_raw=short_action(name) in FREEFORM_ACTIONS)}
        except SplitError as exc:
            s.error(f"'{key}': {exc}", loc)
            return False
    return Action(name=name, value=args, key=key, location=loc, local=key == "local_action")


def detect_action(s: Session, ds: Mapping[Any, Any], scope: Scope) -> Action | None:
    """Find the one module key of a task, reporting none/several/unknown keys."""
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    legacy = _legacy_action(s, ds)
    others = [k for k in ds if k not in allowed and not str(k).startswith("with_")]
    module_keys = [k for k in others if _is_action_key(k)]
    unknown = [k for k in others if k not in module_keys]
    found = [legacy] if isinstance(legacy, Action) else []
    found += [Action(name=str(k), value=ds[k], key=k, location=where(k)) for k in module_keys]
    if len(found) > 1:
        names = ", ".join(a.name for a in found)
        s.error(
            f"conflicting action statements: {names} (a task calls exactly one module)", found[1].location
        )
        return None
    if not found:
        if legacy is False:
            return None
        _report_no_action(s, ds, unknown, allowed)
        return None
    action = found[0]
    if language_action(action.name) is None:
        action.module = lookup_module(action.name)
    for key in unknown:
        _report_unknown_task_key(s, key, action, allowed, scope)
    if language_action(action.name) is None and action.module is None:
        s.error(
            f"couldn't resolve module/action '{action.name}'{did_you_mean(action.name, action_names())}",
            action.location,
        )
        return None
    return action


def _report_no_action(s: Session, ds: Mapping[Any, Any], unknown: list[Any], allowed: frozenset[str]) -> None:
    if not unknown:
        s.error("no module/action detected in task", where(ds))
        return
    candidates = {*action_names(), *allowed}
    for key in unknown:
        s.error(
            f"no module/action detected in task: '{key}' is neither a keyword nor a known module"
            f"{did_you_mean(str(key), candidates)}",
            where(key, ds),
        )


def _report_unknown_task_key(
    s: Session, key: Any, action: Action, allowed: frozenset[str], scope: Scope
) -> None:
    node = "handler" if scope.handlers else "task"
    text = str(key)
    spec = getattr(action.module, "spec", None) if action.module else None
    if spec is not None and text in spec.names():
        s.error(
            f"'{text}' is not a {node} keyword but a parameter of '{action.name}': indent it under "
            f"'{action.name}:'",
            where(key, action.location),
        )
        return
    hint = " ('listen' is only valid on handlers)" if text == "listen" else ""
    suggestion = did_you_mean(text, {*allowed, *action_names()})
    s.error(f"'{text}' is not a valid {node} keyword{suggestion}{hint}", where(key, action.location))


# --- arguments -----------------------------------------------------------------------------------


def _free_form_param(action: Action) -> str | None:
    """The parameter a free-form string fills (`command: ls` -> the module's free_form)."""
    language = language_action(action.name)
    if language is not None:
        return language.free_form
    if action.module is not None:
        return action.module.free_form
    return None


def _located(text: str, loc: SourceLocation | None) -> LocatedStr:
    located = LocatedStr(text)
    located.location = loc
    return located


def _located_kv(args: dict[str, str], loc: SourceLocation | None) -> dict[str, Any]:
    """Keys and values parsed out of `k=v` text get the text's location, so errors still point
    somewhere useful."""
    return {_located(key, loc): _located(value, loc) for key, value in args.items()}


def build_args(s: Session, action: Action, ds: Mapping[Any, Any]) -> dict[str, Any] | None:
    """Merge `args:` (lowest), then the inline arguments; map free-form text to its parameter."""
    args: dict[str, Any] = {}
    if "args" in ds:
        extra = ds["args"]
        if isinstance(extra, dict):
            args.update(extra)
        elif is_templated(extra):
            args[VARIABLE_PARAMS] = extra
        elif extra is not None:
            s.error(f"'args' must be a mapping, got {type_name(extra)}", where(extra, find_key(ds, "args")))
    value = action.value
    if isinstance(value, dict):
        args.update(value)
    elif isinstance(value, str):
        try:
            parsed = parse_kv(value, check_raw=action.short in FREEFORM_ACTIONS)
        except SplitError as exc:
            s.error(f"{action.name}: {exc}", where(value, action.location))
            return None
        args.update(_located_kv(parsed, where(value, action.location)))
    elif value is not None:
        s.error(
            f"{action.name}: arguments must be a mapping or 'key=value' text, got {type_name(value)}",
            where(value, action.location),
        )
        return None
    return _place_raw_params(s, action, args)


def _place_raw_params(s: Session, action: Action, args: dict[str, Any]) -> dict[str, Any] | None:
    raw = args.pop(RAW_PARAMS, None)
    if raw is not None:
        param = _free_form_param(action)
        if param is None:
            s.error(
                f"{action.name}: unexpected free-form text {str(raw)!r}; this module takes key=value "
                "arguments or a mapping",
                action.location,
            )
            return None
        args[param] = raw
    for key in args:
        if str(key).startswith("_ansible_"):
            s.error(
                f"{action.name}: parameter '{key}' is reserved for internal use", where(key, action.location)
            )
    return args


def _module_defaults_for(defaults: Mapping[str, Any], module: type[Module]) -> tuple[dict[str, Any], bool]:
    """(defaults that apply to `module`, whether group/... defaults exist that might apply)."""
    out: dict[str, Any] = {}
    has_groups = False
    for name, values in defaults.items():
        if str(name).startswith("group/"):
            has_groups = True
        elif isinstance(values, dict) and lookup_module(str(name)) is module:
            out.update(values)
    return out, has_groups


_REQUIREMENT_ERRORS = (
    "missing required",
    "one of these parameters is required",
    "requires:",
    "required together",
)


def validate_module_args(s: Session, action: Action, args: dict[str, Any], scope: Scope) -> None:
    """Check arguments against the module's spec now, templates allowed; report at each key."""
    spec = getattr(action.module, "spec", None)
    if action.module is None or spec is None or VARIABLE_PARAMS in args:
        return
    if action.short.startswith(("include_", "import_")):  # include_vars: file or dir decided at run time
        return
    defaults, has_groups = _module_defaults_for(scope.module_defaults, action.module)
    _, errors = validate_args(spec, {**defaults, **args}, allow_templates=True)
    for message in errors:
        if has_groups and any(marker in message for marker in _REQUIREMENT_ERRORS):
            continue  # a group/... default may supply it; checked again at run time
        s.error(f"{action.name}: {message}", _arg_location(message, args, action))
    _warn_yaml11_args(s, action, args)


def _arg_location(message: str, args: Mapping[str, Any], action: Action) -> SourceLocation | None:
    match = re.search(r"'([^']+)'", message)
    if match:
        for key in args:
            if key == match.group(1):
                return where(key, args[key], action.location)
    return action.location


def _warn_yaml11_args(s: Session, action: Action, args: Mapping[str, Any]) -> None:
    """`line: yes` for a string parameter became the boolean True: say so, with where."""
    spec = action.module.spec  # type: ignore[union-attr]
    names = spec.names()
    key_locs = sorted((loc.line, loc.col) for loc in (location_of(k) for k in args) if loc is not None)
    for key, value in args.items():
        loc = location_of(key)
        param = spec.params.get(names.get(key, ""))
        if not isinstance(value, bool) or loc is None or param is None or param.type not in ("str", "path", "raw"):
            continue
        later = [pos for pos in key_locs if pos > (loc.line, loc.col)]
        before = SourceLocation(loc.path, *later[0]) if later else None
        found = s.yaml11_value(loc, before)
        if found:
            where_, text = found
            s.warn(
                f"'{key}: {text}' was read as the boolean {value} (YAML 1.1); "
                f'quote it if you meant the string "{text}"',
                where_,
            )


# --- task keywords -------------------------------------------------------------------------------


def _as_register(key: str, value: Any) -> str:
    text = as_str(key, value)
    try:
        check_var_name(text)
    except KeywordError:
        raise KeywordError(f"'{key}' must be a valid variable name, got {text!r}") from None
    return text


def _as_loop_control(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KeywordError(f"'{key}' must be a mapping, got {type_name(value)}")
    for name, item in value.items():
        if name not in LOOP_CONTROL_KEYS:
            raise KeywordError(
                f"unknown loop_control option '{name}'{did_you_mean(str(name), LOOP_CONTROL_KEYS)}",
                where(name),
            )
        if name in ("loop_var", "index_var") and not is_templated(item):
            try:
                check_var_name(item)
            except KeywordError:
                raise KeywordError(
                    f"loop_control '{name}' must be a variable name, got {item!r}", where(item, name)
                ) from None
    return dict(value)


# keyword -> (Task attribute, coercer)
_TASK_FIELDS = {
    "name": ("name", as_str),
    "register": ("register", _as_register),
    "loop_control": ("loop_control", _as_loop_control),
    "changed_when": ("changed_when", as_conditions),
    "failed_when": ("failed_when", as_conditions),
    "until": ("until", as_conditions),
    "retries": ("retries", as_int),
    "delay": ("delay", as_number),
    "notify": ("notify", as_names),
    "listen": ("listen", as_names),
    "async": ("async_", as_int),
    "poll": ("poll", as_int),
}
_NOT_KEYWORDS = frozenset({"action", "local_action", "args"})


def check_conditions(s: Session, key: Any, value: Any) -> None:
    for cond in value if isinstance(value, list) else [value]:
        s.check_condition(str(key), cond, where(cond, value, key))


def build_task(s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope) -> Task:
    """A Task from its keywords (the module key and unknown keys were handled by detect_action)."""
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    task = Task(
        name=None,
        action=action.canonical,
        args=args,
        location=where(ds, fallback=SourceLocation(scope.path)),  # type: ignore[arg-type]
        role=scope.role,
    )
    loop_keys = []
    for key, value in ds.items():
        text = str(key)
        if text == "loop" or text.startswith("with_"):
            loop_keys.append(key)
            continue
        if key not in allowed or key in _NOT_KEYWORDS or value is None:
            continue
        with s.keyword(key, value):
            if key in _TASK_FIELDS:
                attr, coerce = _TASK_FIELDS[key]
                setattr(task, attr, coerce(key, value))
            else:
                apply_option(task.options, key, value)
        if key in _CONDITION_KEYS:
            check_conditions(s, key, value)
    _apply_loop(s, task, ds, loop_keys)
    if action.local:
        task.options.delegate_to = "localhost"
    return task


def _apply_loop(s: Session, task: Task, ds: Mapping[Any, Any], keys: list[Any]) -> None:
    if not keys:
        return
    if len(keys) > 1:
        s.error(f"a task can have only one loop, got: {', '.join(map(str, keys))}", where(keys[1]))
        return
    key = keys[0]
    value = ds[key]
    kind = "loop" if key == "loop" else str(key)[len("with_") :]
    short = kind.rsplit(".", 1)[-1] if kind.startswith(("ansible.builtin.", "ansible.legacy.")) else kind
    if kind != "loop" and short not in WITH_LOOKUPS:
        suggestion = did_you_mean(str(key), [f"with_{name}" for name in WITH_LOOKUPS])
        s.error(f"'{key}' is not a known loop{suggestion}", where(key))
        return
    if value is None:
        s.error(f"'{key}' needs a value", where(key))
        return
    if kind == "loop" and not isinstance(value, list) and not is_templated(value):
        s.error(f"'loop' must be a list or a template giving one, got {type_name(value)}", where(value, key))
        return
    task.loop, task.loop_kind = value, kind


def check_meta(s: Session, task: Task, action: Action, scope: Scope) -> None:
    what = task.args.get(RAW_PARAMS)
    extra = [k for k in task.args if k != RAW_PARAMS]
    if extra or not isinstance(what, str):
        s.error("meta: expected one action, as in 'meta: flush_handlers'", action.location)
        return
    if is_templated(what):
        return
    if what not in META_ACTIONS:
        s.error(
            f"meta: unknown action '{what}'{did_you_mean(what, META_ACTIONS)}",
            where(action.value, action.location),
        )
    elif what == "end_role" and (scope.role is None or scope.handlers):
        s.error("meta: end_role can only be used in a role's tasks", action.location)


# --- tasks, blocks, lists ------------------------------------------------------------------------


def parse_block_options(
    s: Session,
    ds: Mapping[Any, Any],
    *,
    allowed: frozenset[str],
    node: str,
    skip: frozenset[str] = frozenset(),
) -> tuple[TaskOptions, str | None, list[str]]:
    """(options, name, notify) from a block-like mapping; unknown keys are reported."""
    options = TaskOptions()
    name: str | None = None
    notify: list[str] = []
    for key, value in ds.items():
        if key in skip:
            continue
        if key not in allowed:
            hint = " (loops are not allowed on a block: loop over an include_tasks)" if key == "loop" else ""
            s.error(
                f"'{key}' is not a valid {node} keyword{did_you_mean(str(key), allowed)}{hint}", where(key)
            )
            continue
        if value is None:
            continue
        with s.keyword(key, value):
            if key == "name":
                name = as_str(key, value)
            elif key == "notify":
                notify = as_names(key, value)
            elif key in OPTION_KEYWORDS:
                apply_option(options, key, value)
        if key == "when":
            check_conditions(s, key, value)
    return options, name, notify


def push_notify(items: list[Task | Block], notify: list[str]) -> None:
    """A block's `notify` applies to the tasks inside that set none (Ansible inheritance)."""
    for item in items:
        if isinstance(item, Block):
            push_notify([*item.block, *item.rescue, *item.always], notify)
        elif not item.notify:
            item.notify = list(notify)


def flatten_handlers(items: list[Task | Block], inherited: TaskOptions | None = None) -> list[Task]:
    """Handlers are a flat list (Play.handlers); imported handler files come in as Blocks whose
    keywords are folded into each handler."""
    out: list[Task] = []
    for item in items:
        if isinstance(item, Block):
            options = merge_options(inherited, item.options) if inherited else item.options
            out.extend(flatten_handlers(item.block, options))
        else:
            if inherited is not None:
                item.options = merge_options(inherited, item.options)
            out.append(item)
    return out


