"""Load and validate a playbook into the model, before any host is touched.

Everything static is resolved here: import_playbook, import_tasks, import_role and `roles:`
(with dependencies). include_tasks / include_role stay Tasks for the executor, which loads their
targets with load_task_file() / load_role() at run time. All problems found are raised together
as one PlaybookErrors, each with file:line:col.

Inheritance contract for the executor: a task's effective keywords come from play.options, then
(for tasks reached through play.roles) each role's options from the outermost role down, then
the enclosing blocks, then task.options; `when` lists are ANDed, `tags` and `vars` accumulate,
any other keyword set lower wins. Handlers from iter_handlers() already have their role-entry
and import keywords folded in: only play.options apply on top.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from orchestrator import vault
from orchestrator.errors import PlaybookError, SourceLocation
from orchestrator.modules.base import get_module
from orchestrator.modules.spec import did_you_mean, is_templated
from orchestrator.playbook import roles as _roles
from orchestrator.playbook import tasks as _tasks
from orchestrator.playbook import tasktree as _tree
from orchestrator.playbook.actions import spelled_names
from orchestrator.playbook.keywords import (
    IMPORT_PLAYBOOK_KEYWORDS,
    ORDERS,
    PLAY_KEYWORDS,
    STRATEGIES,
    VARS_PROMPT_KEYS,
    KeywordError,
    apply_option,
    as_bool,
    as_int,
    as_number,
    as_str,
    as_tags,
    choice,
    type_name,
)
from orchestrator.playbook.model import Block, Play, Playbook, Role, Task, TaskOptions, VarsPrompt
from orchestrator.playbook.roles import role_search_paths
from orchestrator.playbook.session import MISSING, PlayState, Scope, Session, where
from orchestrator.playbook.taskargs import short_action
from orchestrator.playbook.tasktree import resolve_task_file, task_file_candidates

__all__ = [
    "PlaybookErrors",
    "iter_handlers",
    "iter_tasks",
    "list_tags",
    "load_adhoc_task",
    "load_playbook",
    "load_role",
    "load_task_file",
    "resolve_task_file",
    "role_search_paths",
    "task_file_candidates",
]


class PlaybookErrors(PlaybookError):
    """Every problem found while loading, each a PlaybookError with its location."""

    def __init__(self, errors: list[PlaybookError]) -> None:
        self.errors = list(errors)
        if len(self.errors) == 1:
            super().__init__(self.errors[0].message, self.errors[0].location)
        else:
            lines = "\n".join(f"  {err}" for err in self.errors)
            super().__init__(f"{len(self.errors)} errors in the playbook:\n{lines}")


def _raise_if_errors(s: Session) -> None:
    errors = s.unique_errors()
    if errors:
        raise PlaybookErrors(errors)


# --- public API ----------------------------------------------------------------------------------


def load_playbook(path: str, *, extra_vars: Mapping[str, Any] | None = None) -> Playbook:
    """Parse and validate a playbook and everything it imports. Raises PlaybookErrors."""
    vault.install()
    s = Session(extra_vars)
    plays = _load_playbook_file(s, path, parents=())
    _raise_if_errors(s)
    return Playbook(path=path, plays=plays, warnings=s.unique_warnings())


def load_adhoc_task(module: str, args: str, *, basedir: str) -> Task:
    """The task `orch run -m MODULE -a ARGS` runs: validated like a playbook task.

    ARGS is `k=v` text (free form for command-like modules) or a JSON/YAML mapping.
    """
    vault.install()
    s = Session()
    where_ = SourceLocation("<command line>")
    text = args.strip()
    value: Any = text or None
    if text.startswith("{"):
        from orchestrator.yamlsource import load_yaml_text

        value = load_yaml_text(text, "<command line -a>", PlaybookError)
    scope = Scope(path="<command line>", basedir=basedir, play=PlayState())
    items = _tree.parse_task(s, {module: value}, scope)
    _raise_if_errors(s)
    if len(items) != 1 or not isinstance(items[0], Task):
        raise PlaybookError(f"module {module!r} cannot be run ad hoc", where_)
    return items[0]


def load_task_file(
    path: str,
    *,
    role: Role | None = None,
    basedir: str | None = None,
    handlers: bool = False,
    extra_vars: Mapping[str, Any] | None = None,
    module_defaults: Mapping[str, Any] | None = None,
    warnings: list[str] | None = None,
    new_handlers: list[Task] | None = None,
) -> list[Task | Block]:
    """Load a task file for include_tasks at run time (path already resolved, see
    resolve_task_file). Handlers of roles it imports go to `new_handlers`, warnings to
    `warnings`. Raises PlaybookErrors."""
    s = Session(extra_vars)
    state = PlayState()
    scope = Scope(
        path=path,
        basedir=basedir or os.path.dirname(os.path.abspath(path)),
        role=role,
        handlers=handlers,
        play=state,
        module_defaults=dict(module_defaults or {}),
        template_vars=_role_template_vars(role),
    )
    data = s.read_yaml(path)
    items: list[Task | Block] = []
    if data is not MISSING:
        items = _tree.load_task_list(s, data, scope, what=f"the tasks file {path}", at=SourceLocation(path))
        if handlers:
            items = list(_tasks.flatten_handlers(items))
    _raise_if_errors(s)
    if warnings is not None:
        warnings.extend(s.unique_warnings())
    if new_handlers is not None:
        new_handlers.extend(state.import_handlers)
    return items


def load_role(
    name: str,
    *,
    search_paths: list[str],
    params: Mapping[str, Any] | None = None,
    location: SourceLocation | None = None,
    tasks_from: str | None = None,
    handlers_from: str | None = None,
    defaults_from: str | None = None,
    vars_from: str | None = None,
    basedir: str | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> Role:
    """Load a role for include_role at run time (dependencies included, deduplicated among
    themselves). `search_paths` usually comes from role_search_paths(); `basedir` (the
    playbook dir, where dependencies are also looked up) defaults to the parent of the first
    `.../roles` search path. Raises PlaybookErrors."""
    s = Session(extra_vars)
    if basedir is None:
        first = search_paths[0] if search_paths else "."
        basedir = os.path.dirname(first) if os.path.basename(first) == "roles" else first
    from_files = {
        "tasks": tasks_from,
        "handlers": handlers_from,
        "defaults": defaults_from,
        "vars": vars_from,
    }
    scope = Scope(path=location.path if location else basedir, basedir=basedir, play=PlayState())
    role = _tree.load_role(
        s,
        name,
        scope,
        location=location,
        params=params,
        from_files={k: v for k, v in from_files.items() if v is not None},
        search_paths=search_paths,
        dedup=True,
    )
    _raise_if_errors(s)
    assert role is not None  # no error recorded, so the role was loaded
    if warnings is not None:
        warnings.extend(s.unique_warnings())
    return role


def _role_template_vars(role: Role | None) -> dict[str, Any]:
    if role is None:
        return {}
    return {**role.defaults, **role.vars, **role.params}


# --- walking the model ---------------------------------------------------------------------------


def _walk(items: list[Task | Block]) -> Iterator[Task]:
    for item in items:
        if isinstance(item, Block):
            yield from _walk(item.block)
            yield from _walk(item.rescue)
            yield from _walk(item.always)
        else:
            yield item


def _walk_role(role: Role) -> Iterator[Task]:
    for dep in role.dependencies:
        yield from _walk_role(dep)
    yield from _walk(role.tasks)


def iter_tasks(play: Play) -> Iterator[Task]:
    """Every task of the play in execution order (pre_tasks, roles with their dependencies
    first, tasks, post_tasks); include_* appear as themselves. Handlers are not included."""
    yield from _walk(play.pre_tasks)
    for role in play.roles:
        yield from _walk_role(role)
    yield from _walk(play.tasks)
    yield from _walk(play.post_tasks)


def iter_handlers(play: Play) -> Iterator[Task]:
    """The play's handlers in Ansible's order: those of `roles:` (dependencies first), then the
    play's own, then those of imported roles."""
    for role in play.roles:
        yield from _roles.role_handlers(role)
    yield from play.handlers


def _blocks_tags(items: list[Task | Block]) -> Iterator[str]:
    for item in items:
        yield from item.options.tags
        if isinstance(item, Block):
            yield from _blocks_tags([*item.block, *item.rescue, *item.always])


def _role_tags(role: Role) -> Iterator[str]:
    yield from role.options.tags
    for dep in role.dependencies:
        yield from _role_tags(dep)
    yield from _blocks_tags(role.tasks)


def list_tags(play: Play) -> set[str]:
    """Every tag written anywhere in the play (play, roles, blocks, tasks), for --list-tags."""
    tags = set(play.options.tags)
    for section in (play.pre_tasks, play.tasks, play.post_tasks):
        tags.update(_blocks_tags(section))
    for role in play.roles:
        tags.update(_role_tags(role))
    return tags


# --- playbook files ------------------------------------------------------------------------------


def _load_playbook_file(s: Session, path: str, *, parents: tuple[str, ...]) -> list[Play]:
    data = s.read_yaml(path)
    if data is MISSING:
        return []
    top = SourceLocation(str(path))
    if data is None:
        s.error("the playbook is empty: it must be a list of plays", top)
        return []
    if not isinstance(data, list):
        s.error(f"a playbook must be a list of plays, got {type_name(data)}", where(data, fallback=top))
        return []
    if not data:
        s.error("the playbook has no plays", where(data, fallback=top))
        return []
    plays: list[Play] = []
    for entry in data:
        if not isinstance(entry, dict):
            s.error(
                f"a playbook entry must be a play or an import_playbook, got {type_name(entry)}: {entry!r}",
                where(entry, data, fallback=top),
            )
        elif any(short_action(str(k)) == "import_playbook" for k in entry):
            plays.extend(_import_playbook(s, entry, path, parents))
        else:
            play = _parse_play(s, entry, path)
            if play is not None:
                plays.append(play)
    return plays


def _import_playbook(s: Session, ds: Mapping[Any, Any], path: str, parents: tuple[str, ...]) -> list[Play]:
    """`- import_playbook: other.yml` with optional when/vars/tags applied to each of its plays."""
    keys = [k for k in ds if short_action(str(k)) == "import_playbook"]
    if len(keys) > 1:
        s.error(f"conflicting import_playbook keys: {', '.join(map(str, keys))}", where(keys[1]))
        return []
    key = keys[0]
    options = _import_playbook_options(s, ds, key)
    target = ds[key]
    loc = where(target, key)
    if not isinstance(target, str) or not target:
        s.error("import_playbook must name a playbook file", loc)
        return []
    scope = Scope(path=path, basedir=os.path.dirname(path), template_vars=options.vars)
    rendered = s.render_static(target, scope, "import_playbook", loc)
    if rendered is None:
        return []
    # relative to the importing file, like Ansible
    full = os.path.normpath(os.path.join(os.path.dirname(path), os.path.expanduser(rendered)))
    if not os.path.isfile(full):
        s.error(f"import_playbook: file not found: {rendered!r} (looked for {full})", loc)
        return []
    chain = [*parents, path]
    if os.path.realpath(full) in map(os.path.realpath, chain):
        s.error(f"import_playbook: import cycle: {' -> '.join([*chain, full])}", loc)
        return []
    plays = _load_playbook_file(s, full, parents=(*parents, path))
    for play in plays:
        _apply_import_options(play, options)
    return plays


def _import_playbook_options(s: Session, ds: Mapping[Any, Any], key: Any) -> TaskOptions:
    """Only when, vars and tags of an import_playbook have an effect (as in Ansible)."""
    options = TaskOptions()
    for k, value in ds.items():
        if k == key or value is None:
            continue
        if k not in IMPORT_PLAYBOOK_KEYWORDS:
            suggestion = did_you_mean(str(k), IMPORT_PLAYBOOK_KEYWORDS)
            s.error(f"'{k}' is not a valid import_playbook keyword{suggestion}", where(k))
        elif k in ("when", "vars", "tags"):
            with s.keyword(k, value):
                apply_option(options, k, value)
            if k == "when":
                _tasks.check_conditions(s, k, value)
        elif k != "name":
            s.warn(f"'{k}' has no effect on import_playbook (Ansible ignores it too)", where(k))
    return options


def _apply_import_options(play: Play, options: TaskOptions) -> None:
    # Ansible: the import's vars override the play's, tags add up, `when` gates every task of
    # the play (and fact gathering). The executor finds it in play.options.when.
    play.options.vars = {**play.options.vars, **options.vars}
    play.options.tags = list(dict.fromkeys([*play.options.tags, *options.tags]))
    play.options.when = [*options.when, *play.options.when]


# --- plays ---------------------------------------------------------------------------------------

_TASK_SECTIONS = ("pre_tasks", "tasks", "post_tasks")


def _as_hosts(key: str, value: Any) -> str:
    if isinstance(value, list):
        if not value or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise KeywordError(f"'{key}' must be a host pattern or a list of patterns, got {value!r}")
        return ",".join(str(v).strip() for v in value)
    text = as_str(key, value).strip()
    if not text:
        raise KeywordError(f"'{key}' is empty")
    return text


def _as_serial(key: str, value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    for item in items:
        ok = (isinstance(item, int) and not isinstance(item, bool)) or (
            isinstance(item, str) and (is_templated(item) or item.strip().rstrip("%").strip().isdigit())
        )
        if not ok:
            raise KeywordError(
                f"'{key}' must be a number, a percentage like '30%' or a list of those, got {item!r}"
            )
    return value


def _as_gather_subset(key: str, value: Any) -> list[str] | str:
    if isinstance(value, str) and is_templated(value):
        return value
    return as_tags(key, value)


def _as_vars_files(key: str, value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, (str, list)):
            raise KeywordError(f"'{key}' entries must be file names (or lists of fallbacks), got {item!r}")
    return list(items)


def _as_strategy(key: str, value: Any) -> str:
    return choice(*STRATEGIES)(key, value)


# play keyword -> (Play attribute, coercer); other keywords are options, sections or special
_PLAY_FIELDS = {
    "gather_facts": ("gather_facts", as_bool),
    "gather_subset": ("gather_subset", _as_gather_subset),
    "gather_timeout": ("gather_timeout", as_int),
    "vars_files": ("vars_files", _as_vars_files),
    "serial": ("serial", _as_serial),
    "strategy": ("strategy", _as_strategy),
    "max_fail_percentage": ("max_fail_percentage", as_number),
    "force_handlers": ("force_handlers", as_bool),
    "order": ("order", choice(*ORDERS)),
}
_PLAY_SPECIAL = frozenset({"hosts", "name", "roles", "handlers", "vars_prompt", "fact_path", *_TASK_SECTIONS})


def _report_unknown_play_key(s: Session, key: Any) -> None:
    text = str(key)
    hint = ""
    if get_module(text) is not None or text in spelled_names() or text == "block":
        hint = f" ('{text}' is a task: put it in a list under 'tasks:')"
    s.error(f"'{text}' is not a valid play keyword{did_you_mean(text, PLAY_KEYWORDS)}{hint}", where(key))


def _parse_play(s: Session, ds: Mapping[Any, Any], path: str) -> Play | None:
    loc = where(ds, fallback=SourceLocation(path))
    assert loc is not None
    play = Play(name="", hosts="", location=loc)
    for key, value in ds.items():
        if key not in PLAY_KEYWORDS:
            _report_unknown_play_key(s, key)
        elif key in _PLAY_SPECIAL or value is None:
            continue
        elif key in _PLAY_FIELDS:
            attr, coerce = _PLAY_FIELDS[key]
            with s.keyword(key, value):
                setattr(play, attr, coerce(key, value))
        else:
            with s.keyword(key, value):
                apply_option(play.options, key, value)
    _parse_play_header(s, play, ds)
    _parse_play_body(s, play, ds, path)
    return play


def _parse_play_header(s: Session, play: Play, ds: Mapping[Any, Any]) -> None:
    if ds.get("hosts") is None:
        s.error("this play has no 'hosts' (which hosts should it run on?)", play.location)
    else:
        with s.keyword("hosts", ds["hosts"]):
            play.hosts = _as_hosts("hosts", ds["hosts"])
    name = ds.get("name")
    if name is not None:
        with s.keyword("name", name):
            play.name = as_str("name", name)
    play.name = play.name or play.hosts  # Ansible shows the host pattern when a play has no name
    if ds.get("fact_path") is not None:
        s.warn(
            "'fact_path' has no effect in orch (local facts are not gathered)", where(_key(ds, "fact_path"))
        )
    if ds.get("vars_prompt") is not None:
        play.vars_prompt = _parse_vars_prompt(s, ds["vars_prompt"], where(_key(ds, "vars_prompt")))


def _key(ds: Mapping[Any, Any], name: str) -> Any:
    return next((k for k in ds if k == name), name)


def _parse_play_body(s: Session, play: Play, ds: Mapping[Any, Any], path: str) -> None:
    """roles, task sections and handlers, loaded in Ansible's order (roles first)."""
    state = PlayState()
    scope = Scope(
        path=path,
        basedir=os.path.dirname(path),
        play=state,
        module_defaults=play.options.module_defaults,
        template_vars=play.options.vars,
    )
    play.roles = _tree.load_roles_list(s, ds.get("roles"), scope, what="roles", dedup=True)
    for section in _TASK_SECTIONS:
        at = where(_key(ds, section), play.location)
        setattr(play, section, _tree.load_task_list(s, ds.get(section), scope, what=f"'{section}'", at=at))
    at = where(_key(ds, "handlers"), play.location)
    own = _tree.load_handler_list(s, ds.get("handlers"), scope, what="'handlers'", at=at)
    play.handlers = [*own, *state.import_handlers]


def _parse_vars_prompt(s: Session, ds: Any, at: SourceLocation | None) -> list[VarsPrompt]:
    if not isinstance(ds, list):
        s.error(f"'vars_prompt' must be a list of prompts, got {type_name(ds)}", where(ds, at))
        return []
    out = []
    for item in ds:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            s.error("each vars_prompt entry must be a mapping with a 'name'", where(item, ds, at))
            continue
        for key in item:
            if key not in VARS_PROMPT_KEYS:
                s.error(
                    f"unknown vars_prompt option '{key}'{did_you_mean(str(key), VARS_PROMPT_KEYS)}",
                    where(key),
                )
        prompt = VarsPrompt(
            name=item["name"], prompt=str(item.get("prompt") or item["name"]), default=item.get("default")
        )
        for flag in ("private", "confirm"):
            if item.get(flag) is not None:
                with s.keyword(flag, item[flag]):
                    setattr(prompt, flag, as_bool(flag, item[flag]))
        if item.get("encrypt") is not None:
            prompt.encrypt = str(item["encrypt"])
        out.append(prompt)
    return out
