"""The task tree, loaded by one recursive descent: task lists and blocks, import_tasks /
import_role (static: replaced now by a Block of their tasks), include_tasks / include_role
(dynamic: kept as Tasks, their targets loaded by the executor when they run, as Ansible does),
and roles with their defaults, vars, dependencies (meta/main.yml), tasks and handlers.

One module because these recurse into each other (a role's tasks import a role, ...); what a
single task is (tasks.py) and where roles are found (roles.py) stay below it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.errors import SourceLocation
from orchestrator.modules.spec import did_you_mean
from orchestrator.playbook import roles, tasks
from orchestrator.playbook.actions import check_handlers, language_action
from orchestrator.playbook.keywords import (
    BLOCK_KEYWORDS,
    HANDLER_KEYWORDS,
    IMPORT_INERT_KEYWORDS,
    INCLUDE_KEYWORDS,
    OPTION_KEYWORDS,
    ROLE_KEYWORDS,
    TASK_KEYWORDS,
    apply_option,
    as_bool,
    as_names,
    as_str,
    merge_options,
    type_name,
)
from orchestrator.playbook.model import Block, Role, Task, TaskOptions
from orchestrator.playbook.session import MISSING, Scope, Session, where
from orchestrator.playbook.tasks import Action

_TASKS_ARGS = ("file", "apply")
_ROLE_ARGS = (
    "name", "role", "tasks_from", "vars_from", "handlers_from", "defaults_from", "apply", "public",
    "allow_duplicates", "rolespec_validate",
)  # fmt: skip
_FROM_ARGS = ("tasks_from", "vars_from", "handlers_from", "defaults_from")


# --- where a task file is -----------------------------------------------------------------------


def task_file_candidates(
    target: str,
    *,
    current: str,
    basedir: str,
    role: Role | None = None,
    parents: tuple[str, ...] = (),
    handlers: bool = False,
) -> list[str]:
    """Paths tried for an import/include, in order, as Ansible does: next to the file holding
    the import, next to the files that imported that one, the role's tasks/ (handlers/) dir,
    then the playbook dir."""
    target = os.path.expanduser(target)
    if os.path.isabs(target):
        return [target]
    dirs = [os.path.dirname(current), *(os.path.dirname(p) for p in reversed(parents))]
    if role is not None:
        dirs += [os.path.join(role.path, "handlers" if handlers else "tasks"), role.path]
    dirs.append(basedir)
    out: list[str] = []
    for d in dirs:
        path = os.path.normpath(os.path.join(d, target))
        if path not in out:
            out.append(path)
    return out


def resolve_task_file(
    target: str,
    *,
    current: str,
    basedir: str,
    role: Role | None = None,
    parents: tuple[str, ...] = (),
    handlers: bool = False,
) -> str | None:
    """The first existing candidate (see task_file_candidates), or None."""
    candidates = task_file_candidates(
        target, current=current, basedir=basedir, role=role, parents=parents, handlers=handlers
    )
    return next((p for p in candidates if os.path.isfile(p)), None)


def _not_found(s: Session, short: str, target: str, scope: Scope, loc: SourceLocation | None) -> None:
    tried = task_file_candidates(
        target, current=scope.path, basedir=scope.basedir, role=scope.role, parents=scope.parents,
        handlers=scope.handlers,
    )  # fmt: skip
    s.error(f"{short}: file not found: {target!r} (looked in: {', '.join(tried)})", loc)


# --- argument checks ----------------------------------------------------------------------------


def _check_arg_names(s: Session, action: Action, args: Mapping[str, Any], valid: tuple[str, ...]) -> bool:
    ok = True
    for key in args:
        if key not in valid:
            s.error(
                f"{action.short}: unsupported parameter '{key}'{did_you_mean(str(key), valid)}",
                where(key, action.location),
            )
            ok = False
    return ok


def _parse_apply(s: Session, action: Action, args: dict[str, Any]) -> bool:
    """`apply:` (include_* only) becomes TaskOptions in args['apply'] for the executor."""
    if "apply" not in args:
        return True
    value = args["apply"]
    if action.short.startswith("import_"):
        s.error(
            f"{action.short}: 'apply' is only valid for include_tasks/include_role",
            where(value, action.location),
        )
        return False
    if not isinstance(value, dict):
        s.error(
            f"{action.short}: 'apply' must be a mapping of keywords, got {type_name(value)}", where(value)
        )
        return False
    allowed = frozenset(k for k in BLOCK_KEYWORDS if k in OPTION_KEYWORDS)
    options, _, _ = tasks.parse_block_options(s, value, allowed=allowed, node="apply")
    args["apply"] = options
    return True


def _tasks_file_arg(s: Session, action: Action, args: dict[str, Any]) -> str | None:
    if not _check_arg_names(s, action, args, _TASKS_ARGS) or not _parse_apply(s, action, args):
        return None
    target = args.get("file")
    if not target or not isinstance(target, str):
        s.error(f"{action.short}: no file given (as in '{action.short}: tasks.yml')", action.location)
        return None
    return target


def _role_args(s: Session, action: Action, args: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(role name, {'tasks': tasks_from, ...}) from include_role/import_role arguments."""
    if not _check_arg_names(s, action, args, _ROLE_ARGS) or not _parse_apply(s, action, args):
        return None
    name = args.get("name", args.get("role"))
    if not name or not isinstance(name, str):
        s.error(f"{action.short}: 'name' is required (the role to run)", action.location)
        return None
    from_files: dict[str, str] = {}
    for key in _FROM_ARGS:
        if key in args:
            if not isinstance(args[key], str):
                s.error(f"{action.short}: '{key}' must be a string", where(args[key], key, action.location))
                return None
            from_files[key.removesuffix("_from")] = args[key]
    for key in ("public", "allow_duplicates", "rolespec_validate"):
        if key in args:
            with s.keyword(key, args[key]):
                args[key] = as_bool(key, args[key])
    return name, from_files


# --- static imports -----------------------------------------------------------------------------


def _import_keywords(
    s: Session, ds: Mapping[Any, Any], action: Action, scope: Scope
) -> tuple[TaskOptions, str | None, list[str]]:
    """An import's own keywords become those of the Block that replaces it."""
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    options = TaskOptions()
    name: str | None = None
    notify: list[str] = []
    dynamic = action.short.replace("import_", "include_")
    for key, value in ds.items():
        text = str(key)
        if (
            key == action.key
            or key in ("args", "action")
            or (key not in allowed and not text.startswith("with_"))
        ):
            continue
        if text == "loop" or text.startswith("with_"):
            s.error(f"{action.short} cannot loop (it is resolved at load time); use {dynamic}", where(key))
            continue
        if key in IMPORT_INERT_KEYWORDS or key in ("loop_control", "listen"):
            s.warn(f"'{key}' has no effect on {action.short} (ignored)", where(key))
            continue
        if value is None:
            continue
        with s.keyword(key, value):
            if key == "name":
                name = as_str(key, value)
            elif key == "notify":
                notify = as_names(key, value)
            else:
                apply_option(options, key, value)
        if key == "when":
            tasks.check_conditions(s, key, value)
    if action.local:
        options.delegate_to = "localhost"
    return options, name, notify


def load_import(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> list[Task | Block]:
    options, name, notify = _import_keywords(s, ds, action, scope)
    if action.short == "import_tasks":
        items = _import_tasks(s, action, args, scope, options)
    else:
        items = _import_role(s, action, args, scope, options)
    if items is None:
        return []
    block = Block(block=items, name=name, location=where(ds), options=options, role=scope.role)
    if notify:
        tasks.push_notify([block], notify)
    return [block]


def _cycle(path: str, scope: Scope) -> str | None:
    chain = [*scope.parents, scope.path]
    real = os.path.realpath(path)
    if real in map(os.path.realpath, chain):
        return " -> ".join([*chain, path])
    return None


def _import_tasks(
    s: Session, action: Action, args: dict[str, Any], scope: Scope, options: TaskOptions
) -> list[Task | Block] | None:
    target = _tasks_file_arg(s, action, args)
    if target is None:
        return None
    rendered = s.render_static(target, scope, action.short, where(target, action.location))
    if rendered is None:
        return None
    loc = where(target, action.location)
    path = resolve_task_file(
        rendered, current=scope.path, basedir=scope.basedir, role=scope.role, parents=scope.parents,
        handlers=scope.handlers,
    )  # fmt: skip
    if path is None:
        _not_found(s, action.short, rendered, scope, loc)
        return None
    cycle = _cycle(path, scope)
    if cycle:
        s.error(f"{action.short}: import cycle: {cycle}", loc)
        return None
    data = s.read_yaml(path)
    if data is MISSING:
        return None
    if not data:
        s.warn(f"{action.short}: {path} is empty, nothing to import", loc)
        return []
    inner = scope.child(
        path=path,
        parents=(*scope.parents, scope.path),
        module_defaults={**scope.module_defaults, **options.module_defaults},
    )
    return load_task_list(s, data, inner, what=f"the tasks file {path}", at=SourceLocation(path))


def _import_role(
    s: Session, action: Action, args: dict[str, Any], scope: Scope, options: TaskOptions
) -> list[Task | Block] | None:
    if scope.handlers:
        s.error("import_role cannot be used as a handler", action.location)
        return None
    parsed = _role_args(s, action, args)
    if parsed is None:
        return None
    raw_name, from_files = parsed
    name = s.render_static(raw_name, scope, action.short, where(raw_name, action.location))
    if name is None:
        return None
    # the import's vars are the role's parameters, as for a `roles:` entry
    params, options.vars = options.vars, {}
    role = load_role(
        s, name, scope.child(module_defaults={**scope.module_defaults, **options.module_defaults}),
        location=action.location, params=params, from_files=from_files,
        allow_duplicates=bool(args.get("allow_duplicates", False)),
    )  # fmt: skip
    if role is None:
        return None
    if scope.play is not None:
        key = (role.path, repr(params), repr(from_files))
        if key not in scope.play.handler_roles:  # the same role imported twice: its handlers once
            scope.play.handler_roles.add(key)
            scope.play.import_handlers.extend(
                dataclasses.replace(h, options=merge_options(options, h.options))
                for h in roles.role_handlers(role)
            )
    return roles.role_task_tree(role)


# --- dynamic includes ---------------------------------------------------------------------------


def _check_include_keywords(s: Session, ds: Mapping[Any, Any], action: Action, scope: Scope) -> None:
    allowed = HANDLER_KEYWORDS if scope.handlers else TASK_KEYWORDS
    for key in ds:
        text = str(key)
        if key == action.key or key not in allowed or key in INCLUDE_KEYWORDS or text.startswith("with_"):
            continue
        if scope.handlers and key == "listen":
            continue
        s.error(
            f"'{key}' cannot be set on {action.short}; put it under 'apply:' to set it on the included tasks",
            where(key),
        )


def load_include(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> Task | None:
    """include_tasks / include_role stay Tasks. As in Ansible, their target is loaded (and
    checked) only when the include runs: a task in an include that never runs never matters."""
    _check_include_keywords(s, ds, action, scope)
    if action.short == "include_tasks":
        target = _tasks_file_arg(s, action, args)
        if target is None:
            return None
        return tasks.build_task(s, ds, action, args, scope)
    if scope.handlers:
        s.error("include_role cannot be used as a handler", action.location)
        return None
    parsed = _role_args(s, action, args)
    if parsed is None:
        return None
    return tasks.build_task(s, ds, action, args, scope)


# --- task lists and blocks ------------------------------------------------------------------------


def parse_task(s: Session, ds: Mapping[Any, Any], scope: Scope) -> list[Task | Block]:
    """One task entry; imports expand to a Block, so this returns a list (empty on error)."""
    action = tasks.detect_action(s, ds, scope)
    if action is None:
        return []
    language = language_action(action.name)
    if language is not None and language.name in _REFUSED_IN_TASK_LISTS:
        s.error(_REFUSED_IN_TASK_LISTS[language.name], action.location)
        return []
    args = tasks.build_args(s, action, ds)
    if args is None:
        return []
    if language is not None:
        return LOAD_HANDLERS[language.name](s, ds, action, args, scope)
    task = tasks.build_task(s, ds, action, args, scope)
    tasks.validate_module_args(s, action, args, scope)
    return [task]


def _load_include_task(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> list[Task | Block]:
    include = load_include(s, ds, action, args, scope)
    return [include] if include is not None else []


def _load_meta_task(
    s: Session, ds: Mapping[Any, Any], action: Action, args: dict[str, Any], scope: Scope
) -> list[Task | Block]:
    task = tasks.build_task(s, ds, action, args, scope)
    tasks.check_meta(s, task, action, scope)
    return [task]


_REFUSED_IN_TASK_LISTS = {
    "import_playbook": "import_playbook is only allowed at the top level of a playbook, not in a task list",
    "include": "'include' was removed in Ansible 2.16; use include_tasks (dynamic) or import_tasks (static)",
}
# What the loader does with each action of the language (playbook/actions.py) in a task list.
LOAD_HANDLERS: dict[
    str, Callable[[Session, Mapping[Any, Any], Action, dict[str, Any], Scope], list[Task | Block]]
] = {
    "import_tasks": load_import,
    "import_role": load_import,
    "include_tasks": _load_include_task,
    "include_role": _load_include_task,
    "meta": _load_meta_task,
}
check_handlers(("load", "run"), {**LOAD_HANDLERS, **_REFUSED_IN_TASK_LISTS}, "playbook/tasktree.py")


_SECTIONS = ("block", "rescue", "always")


def parse_block(s: Session, ds: Mapping[Any, Any], scope: Scope) -> Block:
    options, name, notify = tasks.parse_block_options(
        s, ds, allowed=BLOCK_KEYWORDS, node="block", skip=frozenset(_SECTIONS)
    )
    inner = scope.child(module_defaults={**scope.module_defaults, **options.module_defaults})
    sections = {
        section: load_task_list(
            s, ds.get(section), inner, what=f"'{section}'", at=where(tasks.find_key(ds, section), ds)
        )
        for section in _SECTIONS
    }
    block = Block(
        block=sections["block"],
        rescue=sections["rescue"],
        always=sections["always"],
        name=name,
        location=where(ds),
        options=options,
        role=scope.role,
    )
    if notify:
        tasks.push_notify([block], notify)
    return block


def load_task_entry(s: Session, item: Any, scope: Scope, at: SourceLocation | None) -> list[Task | Block]:
    if not isinstance(item, dict):
        node = "handler" if scope.handlers else "task"
        s.error(f"a {node} must be a mapping of keywords, got {type_name(item)}: {item!r}", where(item, at))
        return []
    if "block" in item:
        if scope.handlers:
            s.error("a block cannot be used as a handler (Ansible does not support it either)", where(item))
            return []
        return [parse_block(s, item, scope)]
    for section in ("rescue", "always"):
        if section in item:
            s.error(
                f"'{section}' must be part of a block (add 'block:' to this entry)",
                where(tasks.find_key(item, section)),
            )
            return []
    return parse_task(s, item, scope)


def load_task_list(
    s: Session, ds: Any, scope: Scope, *, what: str, at: SourceLocation | None
) -> list[Task | Block]:
    """A list of task entries (`tasks:`, a block section, a task file); errors are recorded."""
    if ds is None:
        return []
    if not isinstance(ds, list):
        s.error(f"{what} must be a list of tasks, got {type_name(ds)}", where(ds, at))
        return []
    out: list[Task | Block] = []
    for item in ds:
        out.extend(load_task_entry(s, item, scope, where(ds, at)))
    return out


def load_handler_list(
    s: Session, ds: Any, scope: Scope, *, what: str, at: SourceLocation | None
) -> list[Task]:
    return tasks.flatten_handlers(load_task_list(s, ds, scope.child(handlers=True), what=what, at=at))


# --- roles: their vars, dependencies, tasks and handlers ---------------------------------------


def load_role(
    s: Session,
    name: str,
    scope: Scope,
    *,
    location: SourceLocation | None,
    params: Mapping[str, Any] | None = None,
    options: TaskOptions | None = None,
    from_files: Mapping[str, str] | None = None,
    dedup: bool = False,
    allow_duplicates: bool = False,
    search_paths: list[str] | None = None,
) -> Role | None:
    """Find and load a role with its dependencies. None on error (recorded) or, with `dedup`,
    when the play already runs this role with the same parameters."""
    params, options, from_files = dict(params or {}), options or TaskOptions(), dict(from_files or {})
    search = search_paths or roles.role_search_paths(scope.basedir, scope.role.path if scope.role else None)
    found = roles.find_role(name, search)
    if found is None:
        s.error(f"role '{name}' not found; searched: {', '.join(search)}", location)
        return None
    role_name, path = found
    real = os.path.realpath(path)
    if real in scope.role_chain:
        chain = [os.path.basename(p) for p in (*scope.role_chain, real)]
        s.error(f"role dependency cycle: {' -> '.join(chain)}", location)
        return None
    key = roles.role_key(path, params, options, from_files)
    if dedup and scope.play is not None:
        seen = scope.play.roles_seen.get(key)
        if seen is not None and not seen.allow_duplicates:
            return None  # Ansible runs a role once per play unless its params differ
    role = Role(name=role_name, path=path, params=params, location=location, options=options)
    role.allow_duplicates = allow_duplicates
    _load_role_content(s, role, scope, from_files, dedup=dedup)
    if dedup and scope.play is not None:
        scope.play.roles_seen[key] = role
    return role


def _load_role_content(
    s: Session, role: Role, scope: Scope, from_files: Mapping[str, str], *, dedup: bool
) -> None:
    role.defaults = _load_role_vars(s, role, "defaults", from_files.get("defaults"))
    role.vars = _load_role_vars(s, role, "vars", from_files.get("vars"))
    inner = scope.child(
        role=role,
        role_chain=(*scope.role_chain, os.path.realpath(role.path)),
        parents=(),
        handlers=False,
        module_defaults={**scope.module_defaults, **role.options.module_defaults},
        # static import names inside the role may use its variables
        template_vars={**role.defaults, **scope.template_vars, **role.vars, **role.params},
    )
    _load_meta(s, role, inner, dedup=dedup)
    tasks_file = _role_file(s, role, "tasks", from_files.get("tasks"))
    if tasks_file is not None:
        data = s.read_yaml(tasks_file)
        if data is not MISSING:
            role.tasks = load_task_list(
                s,
                data,
                inner.child(path=tasks_file),
                what=f"the tasks file {tasks_file}",
                at=SourceLocation(tasks_file),
            )
    validation = _validation_task(s, role, from_files.get("tasks") or "main")
    if validation is not None:
        spec_file, task = validation
        role.tasks = load_task_list(
            s, [task], inner.child(path=spec_file), what="the argument spec", at=SourceLocation(spec_file)
        ) + role.tasks  # fmt: skip
    handlers_file = _role_file(s, role, "handlers", from_files.get("handlers"))
    if handlers_file is not None:
        data = s.read_yaml(handlers_file)
        if data is not MISSING:
            role.handlers = load_handler_list(
                s, data, inner.child(path=handlers_file), what=f"the handlers file {handlers_file}",
                at=SourceLocation(handlers_file),
            )  # fmt: skip


def _role_file(s: Session, role: Role, subdir: str, main: str | None) -> str | None:
    path = roles.find_role_file(role.path, subdir, main)
    if path is None and main is not None:
        s.error(
            f"{subdir}_from: {main!r} not found in role '{role.name}' "
            f"(looked for {roles.describe_candidates(role.path, subdir, main)})",
            role.location,
        )
    return path


def _load_role_vars(s: Session, role: Role, subdir: str, main: str | None) -> dict[str, Any]:
    files = roles.find_role_vars_files(role.path, subdir, main)
    if files is None:
        if main is not None:
            s.error(f"{subdir}_from: {main!r} not found in role '{role.name}'", role.location)
        return {}
    out: dict[str, Any] = {}
    for path in files:
        data = s.read_yaml(path)
        if data is MISSING or data is None:
            continue
        if not isinstance(data, dict):
            s.error(f"{subdir} of role '{role.name}' must be a mapping of variables, got {type_name(data)}",
                    where(data, fallback=SourceLocation(path)))  # fmt: skip
            continue
        out.update(data)
    return out


_META_IGNORED = frozenset({"galaxy_info", "collections", "argument_specs"})


def _argument_specs(s: Session, role: Role) -> tuple[str, dict[str, Any]] | None:
    """(file, argument_specs) of a role: meta/argument_specs.yml, else the `argument_specs` key of
    meta/main.yml (Ansible never merges the two)."""
    for ext in (".yml", ".yaml"):
        path = os.path.join(role.path, "meta", "argument_specs" + ext)
        if os.path.isfile(path):
            data = s.read_yaml(path)
            specs = data.get("argument_specs") if isinstance(data, dict) else None
            return (path, specs) if isinstance(specs, dict) else None
    main = roles.find_role_file(role.path, "meta")
    data = s.read_yaml(main) if main is not None else None
    specs = data.get("argument_specs") if isinstance(data, dict) else None
    return (main, specs) if main is not None and isinstance(specs, dict) else None


def _validation_task(s: Session, role: Role, entrypoint: str) -> tuple[str, dict[str, Any]] | None:
    """Ansible's first task of a role with an argument spec for its entry point (tasks_from or
    main): validate_argument_spec with the spec's options and the role's parameters, always run.
    (file of the spec, task)."""
    found = _argument_specs(s, role)
    if found is None:
        return None
    path, specs = found
    spec = specs.get(entrypoint)
    if not isinstance(spec, dict) or not spec:
        return None
    name = f"Validating arguments against arg spec '{entrypoint}'"
    if "short_description" in spec:
        name += f" - {spec['short_description']}"
    task = {
        "name": name,
        "ansible.builtin.validate_argument_spec": {
            "argument_spec": spec.get("options") or {},
            "provided_arguments": dict(role.params),
            "validate_args_context": {
                "type": "role", "name": role.name, "argument_spec_name": entrypoint, "path": role.path,
            },
        },
        "tags": ["always"],
    }  # fmt: skip
    return path, task


def _load_meta(s: Session, role: Role, scope: Scope, *, dedup: bool) -> None:
    """meta/main.yml: allow_duplicates and dependencies (loaded now, deduplicated like roles:)."""
    path = roles.find_role_file(role.path, "meta")
    if path is None:
        return
    data = s.read_yaml(path)
    if data is MISSING or data is None:
        return
    if not isinstance(data, dict):
        s.error(f"meta of role '{role.name}' must be a mapping, got {type_name(data)}", where(data))
        return
    for key, value in data.items():
        if key == "allow_duplicates":
            with s.keyword(key, value):
                role.allow_duplicates = as_bool(key, value) is True
        elif key == "dependencies":
            role.dependencies = load_roles_list(
                s, value, scope.child(path=path), what="dependencies", dedup=dedup
            )
        elif key not in _META_IGNORED:
            s.warn(f"unknown key '{key}' in the meta of role '{role.name}' (ignored)", where(key))


def load_role_entry(s: Session, entry: Any, scope: Scope, *, dedup: bool) -> Role | None:
    """One `roles:` or `dependencies:` entry: a name, or a mapping with role:/name:, keywords
    (when, tags, become, vars...) and parameters (every other key)."""
    loc = where(entry, fallback=SourceLocation(scope.path))
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        entry = str(entry)  # a role named `1` is still a name
    params: dict[str, Any] = {}
    options = TaskOptions()
    if isinstance(entry, str):
        name: Any = entry
    elif isinstance(entry, dict):
        name = entry.get("role", entry.get("name"))
        if not isinstance(name, str) or not name:
            s.error("a role entry needs 'role:' naming the role", loc)
            return None
        for key, value in entry.items():
            if key in ("role", "name"):
                continue
            if key in ROLE_KEYWORDS and key in OPTION_KEYWORDS:
                if value is not None:
                    with s.keyword(key, value):
                        apply_option(options, key, value)
                    if key == "when":
                        tasks.check_conditions(s, key, value)
            else:
                params[key] = value  # Ansible: any other key is a role parameter
    else:
        s.error(f"a role entry must be a name or a mapping, got {type_name(entry)}", loc)
        return None
    rendered = s.render_static(name, scope, "role", where(name, loc))
    if rendered is None:
        return None
    return load_role(s, rendered, scope, location=loc, params=params, options=options, dedup=dedup)


def load_roles_list(s: Session, ds: Any, scope: Scope, *, what: str, dedup: bool) -> list[Role]:
    if ds is None:
        return []
    if not isinstance(ds, list):
        s.error(
            f"'{what}' must be a list of roles, got {type_name(ds)}",
            where(ds, fallback=SourceLocation(scope.path)),
        )
        return []
    out = []
    for entry in ds:
        role = load_role_entry(s, entry, scope, dedup=dedup)
        if role is not None:
            out.append(role)
    return out
