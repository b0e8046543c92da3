"""Run one task on one host: when, loop, until, module call, register, changed/failed_when.

Everything here is per host and synchronous; the play runner decides which hosts and in which
order, and calls `TaskRunner.run` from worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator import redact
from orchestrator.errors import ConnectError, OrchError, TemplateError
from orchestrator.executor.connections import ConnectionDefaults, ConnectionPool, become_spec, connection_spec
from orchestrator.executor.pipeline import HostPipe, Planned
from orchestrator.modules.base import Module, ModuleFailed, get_module
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import to_bool, validate_args
from orchestrator.playbook.model import Role, Task, TaskOptions
from orchestrator.results import Diff, Status, TaskResult
from orchestrator.templating import OMIT, has_template, limits, mark_unsafe
from orchestrator.templating.search import search_path
from orchestrator.vars import HostVars, HostVarState, Scope, layer_stack

# Actions whose ansible_facts are variables at set_fact/include_vars precedence, not host facts.
RUNTIME_VAR_ACTIONS = frozenset(
    {"set_fact", "ansible.builtin.set_fact", "include_vars", "ansible.builtin.include_vars"}
)
INCLUDE_VARS_ACTIONS = frozenset({"include_vars", "ansible.builtin.include_vars"})
NO_LOG_MSG = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


@dataclass(frozen=True)
class Frame:
    """Where a task sits: inherited keywords (outermost first) and variable scope."""

    options: tuple[TaskOptions, ...] = ()
    scope: Scope = field(default_factory=Scope)
    role: Role | None = None
    rescuable: bool = False  # inside a block that has a rescue section
    task_path: str | None = None  # the file of the task being run (for ansible_search_path)

    def child(self, options: TaskOptions | None = None, **kwargs: Any) -> Frame:
        opts = self.options + ((options,) if options is not None else ())
        scope = self.scope.child(
            role_defaults=kwargs.pop("role_defaults", None),
            play=kwargs.pop("play_vars", None) or (options.vars if options is not None else None),
            params=kwargs.pop("params", None),
        )
        return replace(self, options=opts, scope=scope, **kwargs)

    def keyword(self, name: str, task: TaskOptions | None = None) -> Any:
        """Innermost non-None value of a keyword (the task's own first)."""
        for opts in ((task,) if task else ()) + tuple(reversed(self.options)):
            value = getattr(opts, name)
            if value is not None:
                return value
        return None

    def whens(self, task: TaskOptions) -> list[Any]:
        out: list[Any] = []
        for opts in (*self.options, task):
            out.extend(opts.when)
        return out

    def environment(self, task: TaskOptions) -> list[Any]:
        return [opts.environment for opts in (*self.options, task) if opts.environment]

    def tags(self, task: TaskOptions) -> set[str]:
        out: set[str] = set()
        for opts in (*self.options, task):
            out.update(opts.tags)
        return out


def _merged(role: Role, attr: str) -> dict[str, Any]:
    """A role's defaults or vars with its dependencies' underneath (Ansible's get_default_vars)."""
    out: dict[str, Any] = {}
    for dep in role.dependencies:
        out.update(_merged(dep, attr))
    out.update(getattr(role, attr))
    return out


def role_frame(frame: Frame, role: Role, options: TaskOptions | None = None) -> Frame:
    """The frame for the tasks of `role` (and a block of it with `options`): the role's defaults,
    vars and params over the enclosing scope, role_path/role_name set."""
    inner = frame.child(
        None,
        role_defaults=_merged(role, "defaults"),
        play_vars=_merged(role, "vars"),
        params=role.params,
        role=role,
    )
    return inner.child(options) if options is not None else inner


@dataclass
class RunSettings:
    check: bool = False
    diff: bool = False
    task_timeout: float | None = None
    pipelining: bool = True  # runs of independent tasks in one round trip (executor/pipeline.py)
    connection: ConnectionDefaults = field(default_factory=ConnectionDefaults)


@dataclass
class HostOutcome:
    """The aggregate result of a task on a host, plus what the play runner must act on."""

    result: TaskResult
    item_results: list[TaskResult] = field(default_factory=list)
    unreachable: bool = False
    interrupted: bool = False  # the run was interrupted while (or before) this task ran

    @property
    def failed(self) -> bool:
        return self.result.status is Status.FAILED and not self.result.ignored


class TaskRunner:
    """Shared by every worker thread of a play; holds no per-task mutable state."""

    def __init__(
        self,
        *,
        templar: Any,
        lazy_vars: Callable[..., Mapping[str, Any]],
        pool: ConnectionPool,
        settings: RunSettings,
        host_states: Mapping[str, HostVarState],
        inventory_vars: Callable[[str], Mapping[str, Any]],
        extra_vars: Mapping[str, Any],
        magic: Callable[[str], dict[str, Any]],
        all_hosts: list[str],
        basedir: str,
        inventory_update: Callable[[str, Mapping[str, Any]], bool] | None = None,
        aborted: threading.Event | None = None,
    ) -> None:
        self.templar = templar
        self.lazy_vars = lazy_vars
        self.pool = pool
        self.settings = settings
        self.host_states = host_states
        self.inventory_vars = inventory_vars
        self.extra_vars = extra_vars
        self.magic = magic
        self.all_hosts = all_hosts
        self.basedir = basedir
        self.inventory_update = inventory_update
        self.aborted = aborted if aborted is not None else threading.Event()
        # .pipe: the HostPipe (executor/pipeline.py) a worker thread plans or replays a task for
        self.pipeline_local = threading.local()

    # -- variables ------------------------------------------------------------------------------

    def variables(
        self, host: str, frame: Frame, extra_layer: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        magic = self.magic(host)
        magic["hostvars"] = HostVars(self.all_hosts, self._hostvars_of)
        if frame.role is not None:
            magic["role_path"] = frame.role.path
            magic["role_name"] = magic["ansible_role_name"] = frame.role.name
        magic["ansible_search_path"] = self._search_dirs(frame)
        stack = layer_stack(
            scope=frame.scope,
            inventory=self.inventory_vars(host),
            # a delegate_to target outside the play (--limit) has no state of its own yet
            host_state=self.host_states.get(host) or HostVarState(),
            extra=self.extra_vars,
            magic=magic,
        )
        layers = [values for _, values in stack]
        if extra_layer:
            layers.insert(len(layers) - 2, extra_layer)  # loop vars: above play vars, below extra vars
        return self.lazy_vars(layers)

    def header_name(self, task: Task, frame: Frame, host: str | None) -> str:
        """The name in `TASK [...]`: templated as Ansible does, with the variables of the first
        host it runs on; a name that cannot be rendered stays as written."""
        if not task.name or not has_template(task.name) or host is None:
            return task.display_name
        try:
            name = str(self.templar.render(task.name, self.variables(host, _with_task_vars(frame, task))))
        except OrchError:
            return task.display_name
        return f"{task.role.name} : {name}" if task.role else name

    def _pipe(self) -> HostPipe | None:
        return getattr(self.pipeline_local, "pipe", None)

    def _hostvars_of(self, host: str) -> Mapping[str, Any]:
        return self.variables(host, Frame())

    # -- one task on one host ---------------------------------------------------------------------

    def run(self, host: str, task: Task, frame: Frame) -> HostOutcome:
        started = time.monotonic()
        if self.aborted.is_set():
            return self.interrupted_outcome(host, task, started)
        try:
            with limits.deadline(self.settings.task_timeout, started):
                outcome = self._run(host, task, frame, started)
        except ConnectError as exc:
            if self.aborted.is_set():
                return self.interrupted_outcome(host, task, started)
            data = {"msg": exc.message, "unreachable": True, "changed": False}
            if task.register:  # (Ansible registers it too: ignore_unreachable tasks look at it)
                with self.host_states[host].lock:
                    self.host_states[host].runtime[task.register] = mark_unsafe(data)
            result = self._result(host, task, Status.UNREACHABLE, data, started)
            return HostOutcome(result, unreachable=True)
        except OrchError as exc:
            # A no_log task's error may quote its data (e.g. a bad `loop` value): censor it too.
            msg = NO_LOG_MSG if _literal_true(frame.keyword("no_log", task.options)) else str(exc)
            ignored = self._errors_ignored(host, task, frame)
            return HostOutcome(
                self._result(host, task, Status.FAILED, {"msg": msg}, started, ignored=ignored)
            )
        except Exception as exc:  # nothing one host's task does may end the run
            if self.aborted.is_set():
                return self.interrupted_outcome(host, task, started)
            return HostOutcome(self._result(host, task, Status.FAILED, crash_data(exc, task, host), started))
        if self.aborted.is_set() and outcome.result.status in (Status.FAILED, Status.UNREACHABLE):
            return self.interrupted_outcome(host, task, started)  # it failed because we stopped it
        return outcome

    def interrupted_outcome(self, host: str, task: Task, started: float) -> HostOutcome:
        data = {"failed": True, "interrupted": True, "msg": "interrupted (the run was stopped)"}
        return HostOutcome(self._result(host, task, Status.FAILED, data, started), interrupted=True)

    def failed_outcome(
        self, host: str, task: Task, exc: OrchError, frame: Frame | None = None
    ) -> HostOutcome:
        ignored = self._errors_ignored(host, task, frame)
        data = {"msg": str(exc)}
        return HostOutcome(self._result(host, task, Status.FAILED, data, time.monotonic(), ignored=ignored))

    def _errors_ignored(self, host: str, task: Task, frame: Frame | None) -> bool:
        """ignore_errors for a task that failed before its module ran (a bad conditional, an
        undefined loop list): Ansible ignores those errors too."""
        value = (frame or Frame()).keyword("ignore_errors", task.options)
        if isinstance(value, str):
            try:
                value = self.templar.render(
                    value, self.variables(host, _with_task_vars(frame or Frame(), task))
                )
            except OrchError:
                return False
        return to_bool(value or False)

    def skipped_outcome(self, host: str, task: Task) -> HostOutcome:
        return HostOutcome(self._skipped(host, task, time.monotonic(), "Conditional result was False"))

    def plan_include(
        self, host: str, task: Task, frame: Frame, kind: str
    ) -> list[tuple[Any, dict[str, Any], str | None]] | None:
        """What an include_tasks/include_role asks for on this host: one (file or role args,
        parameters, item label) per loop item whose `when` holds (Ansible evaluates it per item,
        so it may use the loop variable); None when nothing is included."""
        frame = _with_task_vars(frame, task)
        variables = self.variables(host, frame)
        own_vars = dict(task.options.vars)
        if task.loop is None:
            if not self._when(task, frame, variables):
                return None
            return [self._include_target(task, kind, variables, own_vars, None)]
        out = []
        control = self._loop_control(task, variables)
        items = self._loop_items_after_when(task, frame, variables)
        if items is None:
            return None
        for index, item in enumerate(items):
            layer = _loop_layer(items, index, control)
            item_vars = self.variables(host, frame, layer)
            if not self._when(task, frame, item_vars):
                continue
            label = control.get("label")
            text = str(self.templar.render(label, item_vars)) if label is not None else _label(item)
            out.append(self._include_target(task, kind, item_vars, {**own_vars, **layer}, text))
        return out or None

    def _include_target(
        self, task: Task, kind: str, variables: Mapping[str, Any], params: dict[str, Any], label: str | None
    ) -> tuple[Any, dict[str, Any], str | None]:
        try:
            args = self.templar.render({k: v for k, v in task.args.items() if k != "apply"}, variables)
        except TemplateError as exc:
            raise TemplateError(f"{exc.message} (in the arguments of {kind} at {task.location})") from None
        # parameters are fixed now: loop variables and the include's vars, rendered in its context
        params = {k: self.templar.render(v, variables) for k, v in params.items()}
        if kind == "include_tasks":
            return str(args.get("file") or args.get("_raw_params")), params, label
        target = {
            k: v
            for k, v in args.items()
            if k in ("tasks_from", "vars_from", "defaults_from", "handlers_from", "public")
        }
        target["name"] = str(args.get("name") or args.get("role"))
        return target, params, label

    def _run(self, host: str, task: Task, frame: Frame, started: float) -> HostOutcome:
        frame = _with_task_vars(frame, task)
        variables = self.variables(host, frame)
        no_log = to_bool(self._keyword(frame, task, "no_log", variables) or False)
        if task.loop is None:
            if not self._when(task, frame, variables):
                return HostOutcome(self._skipped(host, task, started, "Conditional result was False"))
            data, diffs = self._execute(host, task, frame, variables)
            outcome = HostOutcome(self._finish(host, task, frame, variables, data, diffs, started, no_log))
        else:
            outcome = self._run_loop(host, task, frame, variables, started, no_log)
        return _delegated(outcome, self._delegate_target(host, task, frame, variables))

    def _delegate_target(
        self, host: str, task: Task, frame: Frame, variables: Mapping[str, Any]
    ) -> tuple[str, str | None] | None:
        """(delegate, its address) for the `h1 -> db1(10.0.0.5)` label; None if not delegated."""
        if frame.keyword("delegate_to", task.options) is None:
            return None
        try:
            target = self._keyword(frame, task, "delegate_to", variables)
        except TemplateError:
            return None
        if not target or str(target) == host:
            return None
        address = self._delegate_vars(str(target)).get("ansible_host")
        return str(target), str(address) if address is not None else None

    def _run_loop(
        self, host: str, task: Task, frame: Frame, variables: Mapping[str, Any], started: float, no_log: bool
    ) -> HostOutcome:
        items = self._loop_items_after_when(task, frame, variables)
        if items is None:
            return HostOutcome(self._skipped(host, task, started, "Conditional result was False"))
        control = self._loop_control(task, variables)
        loop_var = control.get("loop_var", "item")
        index_var = control.get("index_var")
        pause = float(control.get("pause", 0) or 0)
        item_results: list[TaskResult] = []
        datas: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if index and pause:
                time.sleep(pause)
            layer = _loop_layer(items, index, control)
            item_vars = self.variables(host, frame, layer)
            label = control.get("label")
            label_text = str(self.templar.render(label, item_vars)) if label is not None else _label(item)
            item_started = time.monotonic()
            if not self._when(task, frame, item_vars):
                data: dict[str, Any] = {
                    "changed": False,
                    "skipped": True,
                    "skip_reason": "Conditional result was False",
                }
                diffs: list[Diff] = []
            else:
                data, diffs = self._execute(host, task, frame, item_vars)
            data[loop_var] = item
            data["ansible_loop_var"] = loop_var
            if index_var:
                data[index_var] = index
            result = self._finish(
                host, task, frame, item_vars, data, diffs, item_started, no_log, register=False
            )
            item_results.append(replace(result, item_label=label_text if not no_log else "(censored)"))
            datas.append(dict(result.data))
        aggregate = self._aggregate(datas)
        pipe = self._pipe()
        if task.register and (pipe is None or not pipe.planning):
            with self.host_states[host].lock:
                self.host_states[host].runtime[task.register] = mark_unsafe(aggregate)
        status = _status_of(aggregate)
        ignored = status is Status.FAILED and self._ignore_errors(task, frame, variables)
        result = TaskResult(
            host=host,
            task=task.display_name,
            status=status,
            msg=str(aggregate.get("msg", "")),
            data=aggregate,
            ignored=ignored,
            duration=time.monotonic() - started,
        )
        return HostOutcome(result, item_results=item_results)

    @staticmethod
    def _aggregate(datas: list[dict[str, Any]]) -> dict[str, Any]:
        failed = any(d.get("failed") for d in datas)
        out: dict[str, Any] = {
            "changed": any(d.get("changed") for d in datas),
            "results": datas,
            "msg": "One or more items failed" if failed else "All items completed",
        }
        if failed:
            out["failed"] = True
        if datas and all(d.get("skipped") for d in datas):
            out["skipped"] = True
        if not datas:
            out["skipped"] = True
            out["skipped_reason"] = "No items in the list"
        return out

    def _loop_control(self, task: Task, variables: Mapping[str, Any]) -> dict[str, Any]:
        """loop_control rendered once; `label` stays raw: it is rendered per item."""
        control = {k: v for k, v in task.loop_control.items() if k != "label"}
        rendered = dict(self.templar.render(control, variables)) if control else {}
        if "label" in task.loop_control:
            rendered["label"] = task.loop_control["label"]
        return rendered

    def _loop_items_after_when(
        self, task: Task, frame: Frame, variables: Mapping[str, Any]
    ) -> list[Any] | None:
        """The loop's items; None when they cannot be computed and `when` (evaluated without the
        loop variable) is false. Ansible holds a loop's error until `when` has been evaluated, so
        `with_dict: "{{ x.keys }}"` with `when: x.keys is defined` is skipped, not failed."""
        try:
            return self._loop_items(task, variables)
        except TemplateError:
            try:
                holds = self._when(task, frame, variables)
            except TemplateError:
                holds = True  # the condition needs the loop variable: report the loop's error
            if holds:
                raise
            return None

    def _loop_items(self, task: Task, variables: Mapping[str, Any]) -> list[Any]:
        try:
            terms = self.templar.render(task.loop, variables)
        except TemplateError as exc:
            raise TemplateError(f"{exc.message} (in the loop of task at {task.location})") from None
        kind = task.loop_kind or "loop"
        if kind == "loop":
            if not isinstance(terms, list):
                raise TemplateError(
                    f"Invalid data passed to 'loop', it requires a list, got this instead: {terms!r}. "
                    "Hint: use the 'dict2items' filter or 'with_dict' for a mapping",
                    task.location,
                )
            return terms
        listed = terms if isinstance(terms, list) else [terms]
        return self.templar.run_lookup(kind, listed, variables, action=task.action)

    def condition_holds(self, host: str, task: Task, frame: Frame) -> bool:
        """The task's `when` (with everything it inherits) on this host: for meta tasks."""
        return self._when(task, frame, self.variables(host, frame))

    def _when(self, task: Task, frame: Frame, variables: Mapping[str, Any]) -> bool:
        for condition in frame.whens(task.options):
            try:
                if not self.templar.is_true(condition, variables):
                    return False
            except TemplateError as exc:
                raise TemplateError(
                    f"error while evaluating conditional ({condition}): {exc.message}", task.location
                ) from None
        return True

    def _keyword(self, frame: Frame, task: Task, name: str, variables: Mapping[str, Any]) -> Any:
        value = frame.keyword(name, task.options)
        return self.templar.render(value, variables) if isinstance(value, str) else value

    def _ignore_errors(self, task: Task, frame: Frame, variables: Mapping[str, Any]) -> bool:
        return to_bool(self._keyword(frame, task, "ignore_errors", variables) or False)

    # -- the module call ------------------------------------------------------------------------

    def _execute(
        self, host: str, task: Task, frame: Frame, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[Diff]]:
        """Run the module (with until/retries). Returns (result data, diffs); raises ConnectError."""
        module_cls = get_module(task.action)
        if module_cls is None:
            return {"failed": True, "msg": f"unknown module {task.action!r}"}, []
        module = module_cls()
        retries = int(self.templar.render(task.retries, variables)) if task.retries is not None else 3
        delay = float(self.templar.render(task.delay, variables)) if task.delay is not None else 5.0
        attempts = retries + 1 if task.until else 1
        data: dict[str, Any] = {}
        diffs: list[Diff] = []
        for attempt in range(1, attempts + 1):
            data, diffs = self._call(host, task, frame, variables, module)
            if not task.until:
                break
            data["attempts"] = attempt
            check_vars = self._with_result(variables, task, data)
            if all(self.templar.is_true(c, check_vars) for c in task.until):
                break
            if attempt < attempts:
                time.sleep(delay)
            else:
                data["failed"] = True
                data.setdefault("msg", "")
                data["msg"] = data["msg"] or f"Retried {retries} times; the 'until' condition never held"
        return data, diffs

    def _call(
        self, host: str, task: Task, frame: Frame, variables: Mapping[str, Any], module: Module
    ) -> tuple[dict[str, Any], list[Diff]]:
        try:
            args = self.templar.render(task.args, variables)
        except TemplateError as exc:
            return {"failed": True, "msg": f"{exc.message} (in the arguments of task at {task.location})"}, []
        args = {k: v for k, v in args.items() if v != OMIT}
        if module.spec is not None:
            args, errors = validate_args(module.spec, args)
            if errors:
                return {"failed": True, "msg": f"{task.action}: " + "; ".join(errors)}, []
            # A no_log parameter (a password, a passphrase) is a secret wherever it shows up.
            for name, param in module.spec.params.items():
                if param.no_log and args.get(name) is not None:
                    redact.add_secret(str(args[name]))
        check = self._keyword(frame, task, "check_mode", variables)
        check_mode = self.settings.check if check is None else to_bool(check)
        diff = self._keyword(frame, task, "diff", variables)
        diff_mode = self.settings.diff if diff is None else to_bool(diff)
        if check_mode and not module.supports_check:
            return {"changed": False, "skipped": True, "msg": "remote module does not support check mode"}, []
        if check_mode and module.check_result is not None:
            return dict(module.check_result), []
        pipe = self._pipe()
        ctx = (pipe.new_context if pipe is not None else ModuleContext)(
            host=host,
            conn=None,  # type: ignore[arg-type]  # set below for remote modules
            become=None,
            check_mode=check_mode,
            diff_mode=diff_mode,
            variables=variables,
            templar=self.templar,
            search_dirs=self._search_dirs(frame),
            timeout=self._timeout(frame, task, variables),
        )
        if module.remote:
            target = self._keyword(frame, task, "delegate_to", variables) or host
            target_vars = variables if target == host else self._delegate_vars(str(target))
            keywords = {
                k: self._keyword(frame, task, k, variables)
                for k in ("become", "become_user", "become_method", "become_flags", "remote_user")
            }
            spec = connection_spec(target, target_vars, self.settings.connection, keywords["remote_user"])
            ctx.conn = self.pool.get(spec)
            ctx.become = become_spec(target_vars, keywords, self.settings.connection)
            ctx.env = self._environment(frame, task, variables)
        try:
            data = module.run(ctx, args)
        except Planned:
            return {"changed": False}, []  # planning: the module's call is recorded, its result comes later
        except ModuleFailed as exc:
            data = {**exc.result, "failed": True, "msg": exc.msg}
        except TimeoutError as exc:
            data = {"failed": True, "msg": f"The task timed out: {exc}"}
        data.setdefault("changed", False)
        if ctx.warnings:
            data["warnings"] = ctx.warnings
        return data, ctx.diffs

    def _facts_owner(self, host: str, task: Task, frame: Frame, variables: Mapping[str, Any]) -> HostVarState:
        """delegate_facts: facts of a delegated task belong to the host it ran on."""
        target = self._keyword(frame, task, "delegate_to", variables)
        if target and target != host and to_bool(frame.keyword("delegate_facts", task.options) or False):
            state = self.host_states.get(str(target))
            if state is None:
                state = HostVarState()
                self.host_states[str(target)] = state  # type: ignore[index]
            return state
        return self.host_states[host]

    def _delegate_vars(self, target: str) -> Mapping[str, Any]:
        """Connection variables of a delegate_to target: an inventory host's own variables, or
        Ansible's implicit localhost (a local connection)."""
        if target in self.all_hosts:
            return self.variables(target, Frame())
        if target in ("localhost", "127.0.0.1", "::1"):
            return {"ansible_connection": "local", "inventory_hostname": target}
        return {"ansible_host": target}

    def _search_dirs(self, frame: Frame) -> list[str]:
        return search_path(frame.role.path if frame.role is not None else None, frame.task_path, self.basedir)

    def _timeout(self, frame: Frame, task: Task, variables: Mapping[str, Any]) -> float | None:
        value = self._keyword(frame, task, "timeout", variables)
        if value:
            return float(value)
        return self.settings.task_timeout

    def _environment(self, frame: Frame, task: Task, variables: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for block in frame.environment(task.options):
            rendered = self.templar.render(block, variables)
            for item in rendered if isinstance(rendered, list) else [rendered]:
                if not isinstance(item, Mapping):
                    raise TemplateError(f"environment must be a mapping, got {item!r}", task.location)
                env.update({str(k): str(v) for k, v in item.items()})
        return env

    # -- turning module data into a result --------------------------------------------------------

    def _with_result(
        self, variables: Mapping[str, Any], task: Task, data: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if not task.register:
            return variables
        merged = dict(variables)
        merged[task.register] = data
        return merged

    def _finish(
        self,
        host: str,
        task: Task,
        frame: Frame,
        variables: Mapping[str, Any],
        data: dict[str, Any],
        diffs: list[Diff],
        started: float,
        no_log: bool,
        register: bool = True,
    ) -> TaskResult:
        pipe = self._pipe()
        if pipe is not None and pipe.planning:
            return self._result(host, task, _status_of(data), data, started)  # nothing is known yet
        if ("add_host" in data or "add_group" in data) and not data.get("failed") and self.inventory_update:
            # Ansible: changed when the inventory changed
            data["changed"] = self.inventory_update(host, data)
        check_vars = self._with_result(variables, task, data)
        if task.changed_when is not None and not data.get("skipped"):
            data["changed"] = all(self.templar.is_true(c, check_vars) for c in task.changed_when)
        if task.failed_when is not None and not data.get("skipped"):
            failed = all(self.templar.is_true(c, check_vars) for c in task.failed_when)
            data["failed_when_result"] = failed
            data["failed"] = failed
            if failed:
                data.setdefault("msg", "")
                data["msg"] = data["msg"] or "failed_when condition was true"
        state = self.host_states[host]
        facts = data.get("ansible_facts")
        if isinstance(facts, Mapping) and not data.get("failed"):
            # Data from the host (and set_fact results) is never templated again; include_vars
            # values are templates like any variable file's.
            facts = dict(facts) if task.action in INCLUDE_VARS_ACTIONS else mark_unsafe(dict(facts))
            fact_state = self._facts_owner(host, task, frame, variables)
            with fact_state.lock:
                if task.action in RUNTIME_VAR_ACTIONS:
                    fact_state.runtime.update(facts)
                else:
                    fact_state.facts.update(facts)
        if no_log:
            data = {
                "censored": NO_LOG_MSG,
                "changed": data.get("changed", False),
                **({"failed": True} if data.get("failed") else {}),
                **({"skipped": True} if data.get("skipped") else {}),
            }
            diffs = []
        if register and task.register:
            with state.lock:
                state.runtime[task.register] = mark_unsafe(data)
        status = _status_of(data)
        ignored = status is Status.FAILED and self._ignore_errors(task, frame, variables)
        return self._result(host, task, status, data, started, diffs=tuple(diffs), ignored=ignored)

    def _skipped(self, host: str, task: Task, started: float, reason: str) -> TaskResult:
        data = {"changed": False, "skipped": True, "skip_reason": reason}
        pipe = self._pipe()
        if task.register and (pipe is None or not pipe.planning):
            with self.host_states[host].lock:
                self.host_states[host].runtime[task.register] = data
        return self._result(host, task, Status.SKIPPED, data, started)

    @staticmethod
    def _result(
        host: str,
        task: Task,
        status: Status,
        data: Mapping[str, Any],
        started: float,
        *,
        diffs: tuple[Diff, ...] = (),
        ignored: bool = False,
    ) -> TaskResult:
        return TaskResult(
            host=host,
            task=task.display_name,
            status=status,
            msg=str(data.get("msg", "")) if data.get("msg") is not None else "",
            rc=data.get("rc") if isinstance(data.get("rc"), int) else None,
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            diffs=diffs,
            data=data,
            ignored=ignored,
            duration=time.monotonic() - started,
        )


def _delegated(outcome: HostOutcome, target: tuple[str, str | None] | None) -> HostOutcome:
    if target is None:
        return outcome
    name, address = target
    outcome.result = replace(outcome.result, delegated_to=name, delegated_address=address)
    outcome.item_results = [replace(r, delegated_to=name, delegated_address=address) for r in outcome.item_results]
    return outcome


# Errors that a value can cause in code that handles it (shell quoting, text encoding, number
# parsing): the user's data is at fault, so the task fails with what went wrong and where.
VALUE_ERRORS = (ValueError, UnicodeError, TypeError, RecursionError, OverflowError)


def crash_data(exc: Exception, task: Task, host: str) -> dict[str, Any]:
    """The result of a task that raised something orch did not expect. A value's fault fails the
    task naming it; anything else fails the host as an internal error. The traceback goes to the
    run record only (never to the terminal or --json, where it would be noise or leak values)."""
    if isinstance(exc, UnicodeError):
        reason = getattr(exc, "reason", "") or str(exc)
        return {"failed": True, "msg": f"{task.location}: a value is not valid UTF-8 text ({reason})"}
    if isinstance(exc, VALUE_ERRORS):
        return {"failed": True, "msg": f"{task.location}: {str(exc) or type(exc).__name__}"}
    from orchestrator import history

    history.note_exception(host, str(task.location), exc)
    return {
        "failed": True,
        "msg": f"{task.location}: internal error ({type(exc).__name__}), details in the run record",
    }


def _literal_true(value: Any) -> bool:
    """A keyword that is true as written, or a template (which may render true): be safe."""
    if isinstance(value, str) and "{{" in value:
        return True
    try:
        return bool(value) and to_bool(value)
    except (TypeError, ValueError):
        return False


def _status_of(data: Mapping[str, Any]) -> Status:
    if data.get("unreachable"):
        return Status.UNREACHABLE
    if data.get("failed"):
        return Status.FAILED
    if data.get("skipped"):
        return Status.SKIPPED
    return Status.CHANGED if data.get("changed") else Status.OK


def _label(item: Any) -> str:
    text = str(item)
    return text if len(text) <= 200 else text[:197] + "..."


def _with_task_vars(frame: Frame, task: Task) -> Frame:
    """The task's own `vars:` on top of the play/block scope, and its file (for its search path)."""
    frame = replace(frame, task_path=task.location.path if task.location else None)
    if not task.options.vars:
        return frame
    return replace(frame, scope=frame.scope.child(play=task.options.vars))


def _loop_layer(items: list[Any], index: int, control: Mapping[str, Any]) -> dict[str, Any]:
    """The variables one loop item adds: item (or loop_var), index_var, ansible_loop."""
    loop_var = control.get("loop_var", "item")
    layer: dict[str, Any] = {loop_var: items[index], "ansible_loop_var": loop_var}
    if control.get("index_var"):
        layer[control["index_var"]] = index
    if control.get("extended"):
        layer["ansible_loop"] = _loop_info(items, index)
    return layer


def _loop_info(items: list[Any], index: int) -> dict[str, Any]:
    length = len(items)
    return {
        "index": index + 1,
        "index0": index,
        "revindex": length - index,
        "revindex0": length - index - 1,
        "first": index == 0,
        "last": index == length - 1,
        "length": length,
        "allitems": items,
        "previtem": items[index - 1] if index else None,
        "nextitem": items[index + 1] if index + 1 < length else None,
    }
