"""The play loop: batches (serial), strategies, blocks, handlers, failure thresholds.

One recursive walker serves both strategies: `linear` walks a task list with every active host of
the batch (each task finishes on all hosts before the next starts); `free` walks the same list
once per host, each host in its own worker, so fast hosts never wait for slow ones.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from orchestrator.errors import OrchError
from orchestrator.events import Event, HostResult, Message, PlayStart, TaskStart
from orchestrator.executor.pipeline import Pipeline, eligible
from orchestrator.executor.task_runner import Frame, HostOutcome, TaskRunner, role_frame
from orchestrator.modules.spec import is_templated, to_bool
from orchestrator.playbook.actions import check_handlers, language_action
from orchestrator.playbook.model import Block, Play, Role, Task, TaskOptions
from orchestrator.playbook.roles import role_handlers, role_task_tree
from orchestrator.playbook.taskargs import short_action
from orchestrator.results import HostStats, Status, TaskResult
from orchestrator.templating import mark_unsafe
from orchestrator.vars import Scope

BYPASS_HOST_LOOP = frozenset({"add_host", "ansible.builtin.add_host"})
MAX_INCLUDE_DEPTH = 64  # Ansible has no guard; an include including itself must still end


@dataclass
class HostRun:
    """One host's standing in the current play."""

    failed: bool = False
    unreachable: bool = False
    ended: bool = False  # meta: end_host
    notified: set[int] = field(default_factory=set)  # indexes into PlayRunner.handlers
    # Bumped on every change to any HostRun, so lists derived from all of them (the play's active
    # hosts, needed for every task on every host) are rebuilt only when something changed.
    changes: ClassVar[int] = 0

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        HostRun.changes += 1

    @property
    def active(self) -> bool:
        return not (self.failed or self.unreachable or self.ended)


class PlayAborted(Exception):
    """any_errors_fatal, max_fail_percentage or meta: end_play stopped the play."""


class PlayRunner:
    def __init__(
        self,
        play: Play,
        hosts: list[str],
        *,
        runner: TaskRunner,
        pool: ThreadPoolExecutor,
        emit: Callable[[Event], None],
        stats: dict[str, HostStats],
        task_filter: Callable[[Task, Frame], bool],
        force_handlers: bool = False,
        play_frame: Frame,
        pipelining: bool = False,
    ) -> None:
        self.play = play
        self.hosts = hosts
        self.runner = runner
        self.pool = pool
        self.emit = emit
        self.stats = stats
        self.task_filter = task_filter
        self.force_handlers = force_handlers or bool(play.force_handlers)
        # The play frame includes the roles' exported vars (see exported_role_vars); the two
        # mappings added here fill up when an include_role with `public: true` runs, so the
        # tasks after it see that role's defaults and vars.
        self._public_defaults: dict[str, Any] = {}
        self._public_vars: dict[str, Any] = {}
        scope = play_frame.scope
        self.frame = replace(
            play_frame,
            scope=Scope(
                (*scope.role_defaults, self._public_defaults), (*scope.play, self._public_vars), scope.params
            ),
        )
        self.state: dict[str, HostRun] = {h: HostRun() for h in hosts}
        self.interrupted: set[str] = set()  # hosts whose task was stopped by an interrupt
        self.batch: list[str] = []  # the serial batch being run
        self._active: tuple[int, list[str], list[str], list[str]] | None = None  # see active_hosts
        self.stop_run = False  # set when Ansible would not run the playbook's later plays
        self._lock = threading.Lock()
        self._announced: set[int] = set()
        self.any_errors_fatal = to_bool(play.options.any_errors_fatal or False)
        # Pipelining (executor/pipeline.py) runs hosts ahead of the play's decisions: not with the
        # free strategy, any_errors_fatal or max_fail_percentage, which stop hosts after a task.
        self.pipelining = (
            pipelining
            and play.strategy != "free"
            and not self.any_errors_fatal
            and play.max_fail_percentage is None
        )
        self.handlers: list[tuple[Task, Frame]] = []
        self._handler_roles: set[str] = set()
        for handler in _play_handlers(play):
            self._add_handler(handler)
        self._include_depth = threading.local()
        # Per thread (the free strategy walks hosts in parallel): how many blocks with
        # rescue/always are being walked; threshold checks wait until they are done.
        self._blocks = threading.local()

    # -- the play ------------------------------------------------------------------------------

    def _open_blocks(self) -> int:
        return int(getattr(self._blocks, "open", 0))

    def _play_keyword(self, value: Any) -> Any:
        """serial / max_fail_percentage may template play vars and extra vars, as in Ansible."""
        if not self.hosts or not (
            is_templated(value) or (isinstance(value, list) and any(map(is_templated, value)))
        ):
            return value
        return self.runner.templar.render(value, self.runner.variables(self.hosts[0], self.frame))

    def run(self) -> None:
        self.emit(PlayStart(self.play.name, tuple(self.hosts)))
        for batch in serial_batches(self.hosts, self._play_keyword(self.play.serial)):
            if self.runner.aborted.is_set():
                return
            for h in batch:
                self.stats.setdefault(h, HostStats())  # the recap lists the batch, even a host stopped early
            self.batch = batch
            try:
                self._run_batch(batch)
            except PlayAborted as exc:
                # any_errors_fatal / max_fail_percentage end the whole run; end_play only this play
                self.stop_run = str(exc) != "end_play"
                return
            failed = [h for h in batch if self.state[h].failed or self.state[h].unreachable]
            if len(failed) == len(batch) and batch:
                self.stop_run = True  # every host of the batch failed: Ansible ends the run here
                return

    def _run_batch(self, batch: list[str]) -> None:
        sections: list[tuple[list[Task | Block], Frame]] = []
        if self._gather_facts():
            sections.append(([_setup_task(self.play)], self.frame))
        sections.append((self.play.pre_tasks, self.frame))
        role_items: list[Task | Block] = [
            Block(block=role_task_tree(role), options=role.options, role=role, name=role.name)
            for role in self.play.roles
        ]
        sections.append((role_items + self.play.tasks, self.frame))
        sections.append((self.play.post_tasks, self.frame))
        for index, (items, frame) in enumerate(sections):
            if self.play.strategy == "free":
                self._each_host(batch, functools.partial(self._walk_one_host, items, frame, batch))
            else:
                self.walk(items, batch, frame, batch)
            if index > 0 or not self._gather_facts():
                self.flush_handlers(batch)

    def _gather_facts(self) -> bool:
        value = self.play.gather_facts
        return True if value is None else to_bool(value)

    def _walk_one_host(self, items: list[Any], frame: Frame, batch: list[str], host: str) -> None:
        self.walk(items, [host], frame, batch)

    def _each_host(self, hosts: list[str], work: Callable[[str], None]) -> None:
        futures = [self.pool.submit(work, h) for h in hosts]
        errors = []
        for future in futures:
            try:
                future.result()
            except PlayAborted as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def active_hosts(self) -> tuple[list[str], list[str]]:
        """(the play's hosts still in the play, those of them in the current serial batch), as new
        lists: a task may keep or change what it was given."""
        cached = self._active
        if cached is None or cached[0] != HostRun.changes or cached[1] is not self.batch:
            changes = HostRun.changes  # read first: a change while we build makes the next call rebuild
            active = [h for h, st in self.state.items() if st.active]
            in_play = set(active)
            batch = [h for h in self.batch if h in in_play] if self.batch else active
            cached = self._active = (changes, self.batch, active, batch)
        return list(cached[2]), list(cached[3])

    # -- walking task lists ----------------------------------------------------------------------

    def walk(self, items: Iterable[Task | Block], hosts: list[str], frame: Frame, batch: list[str]) -> None:
        placed: list[tuple[Task | Block, Frame]] = []
        for item in items:
            if isinstance(item, Task) and item.role is not None and item.role is not frame.role:
                frame = role_frame(frame, item.role)  # the tasks of an import_role
            placed.append((item, frame))
        pipelines = self._pipelines(placed)
        try:
            for item, item_frame in placed:
                active = [h for h in hosts if self.state[h].active]
                if not active or self.runner.aborted.is_set():
                    return
                if isinstance(item, Block):
                    self._walk_block(item, active, item_frame, batch)
                else:
                    self.run_task(item, active, item_frame, batch, pipeline=pipelines.get(id(item)))
        finally:
            for pipeline in set(pipelines.values()):
                pipeline.close()

    def _pipelines(self, placed: list[tuple[Task | Block, Frame]]) -> dict[int, Pipeline]:
        """The runs of consecutive tasks that may be pipelined (executor/pipeline.py), by task id.
        Tasks that tags leave out are not part of a run and do not end one."""
        if not self.pipelining:
            return {}
        out: dict[int, Pipeline] = {}
        run: list[tuple[Task, Frame]] = []

        def close_run() -> None:
            if len(run) > 1:
                pipeline = Pipeline(self.runner, list(run))
                out.update((id(task), pipeline) for task, _ in run)
            run.clear()

        for item, frame in placed:
            if isinstance(item, Task) and not self.task_filter(item, frame):
                continue
            if isinstance(item, Task) and eligible(item, frame):
                run.append((item, frame))
            else:
                close_run()
        close_run()
        return out

    def _walk_block(self, block: Block, hosts: list[str], frame: Frame, batch: list[str]) -> None:
        if block.role is not None and block.role is not frame.role:
            inner = role_frame(frame, block.role, block.options)
        else:
            inner = frame.child(block.options)
        inner_block = Frame(
            inner.options, inner.scope, inner.role, rescuable=bool(block.rescue) or frame.rescuable
        )
        was_failed = {h for h in hosts if self.state[h].failed}
        # As in Ansible, a host failing in a block with rescue/always counts against
        # max_fail_percentage only once that block is done (its always section has run).
        deferred = bool(block.rescue or block.always)
        self._blocks.open = self._open_blocks() + deferred
        try:
            self.walk(block.block, hosts, inner_block, batch)
            failed_here = [h for h in hosts if self.state[h].failed and h not in was_failed]
            if block.rescue and failed_here:
                for h in failed_here:
                    self.state[h].failed = False
                rescue_frame = Frame(inner.options, inner.scope, inner.role, rescuable=frame.rescuable)
                rescuers = failed_here
                if self.any_errors_fatal or to_bool(inner.keyword("any_errors_fatal") or False):
                    # Ansible: with any_errors_fatal every host of the block goes to rescue
                    rescuers = [h for h in hosts if self.state[h].active]
                self.walk(block.rescue, rescuers, rescue_frame, batch)
        finally:
            self._blocks.open = self._open_blocks() - deferred
        if block.always:
            reached = [h for h in hosts if not self.state[h].unreachable and not self.state[h].ended]
            still_failed = {h for h in reached if self.state[h].failed}
            for h in still_failed:
                self.state[h].failed = False
            self.walk(
                block.always, reached, Frame(inner.options, inner.scope, inner.role, frame.rescuable), batch
            )
            for h in still_failed:
                self.state[h].failed = True
        if deferred and not self._open_blocks() and any(self.state[h].failed for h in hosts):
            self._check_thresholds(batch, None, frame)

    def run_task(
        self,
        task: Task,
        hosts: list[str],
        frame: Frame,
        batch: list[str],
        handler: bool = False,
        pipeline: Pipeline | None = None,
    ) -> None:
        if not handler and not self.task_filter(task, frame):
            return
        language = language_action(task.action)
        if language is not None:
            RUN_HANDLERS[language.name](self, task, hosts, frame, batch, handler)
            return
        self._announce(task, hosts, handler, frame)
        failed = self._run_on(task, hosts, frame, batch, pipeline)
        # Like Ansible, thresholds are checked once the task is done on every host of the batch.
        if failed and not self._open_blocks():
            self._check_thresholds(batch, task, frame)

    def _run_on(
        self, task: Task, hosts: list[str], frame: Frame, batch: list[str], pipeline: Pipeline | None = None
    ) -> bool:
        """Run the task on the hosts and record the results; True if a host newly failed."""
        run_once = frame.keyword("run_once", task.options)
        # add_host bypasses the host loop in Ansible: it runs once, for the first host
        if task.action in BYPASS_HOST_LOOP or (run_once is not None and to_bool(run_once)):
            outcome = self.runner.run(hosts[0], task, frame)
            failed = self._record(task, hosts[0], outcome, frame, batch)
            for other in hosts[1:]:
                if task.register:
                    state = self.runner.host_states[other]
                    with state.lock:
                        state.runtime[task.register] = self.runner.host_states[hosts[0]].runtime.get(
                            task.register
                        )
                if outcome.result.changed:
                    self._notify(task, other)
            return failed
        run = pipeline.run if pipeline is not None else self.runner.run
        if len(hosts) == 1:
            return self._record(task, hosts[0], run(hosts[0], task, frame), frame, batch)
        throttle = frame.keyword("throttle", task.options)
        if throttle not in (None, "", 0, "0"):
            gate = threading.BoundedSemaphore(int(throttle))  # at most N hosts run this task at once

            def run(host: str, task: Task, frame: Frame) -> HostOutcome:
                with gate:
                    return self.runner.run(host, task, frame)

        futures = {self.pool.submit(run, h, task, frame): h for h in hosts}
        # Record (and so report) each host as it finishes: a stalled host must not hold back the
        # results of the others until it is declared unreachable.
        recorded = [self._record(task, futures[f], f.result(), frame, batch) for f in as_completed(futures)]
        return any(recorded)

    def _announce(self, task: Task, hosts: list[str], handler: bool, frame: Frame) -> None:
        with self._lock:
            key = id(task)
            if self.play.strategy == "free" and key in self._announced:
                return
            self._announced.add(key)
        name = self.runner.header_name(task, frame, hosts[0] if hosts else None)
        self.emit(TaskStart(name, tuple(hosts), is_handler=handler, path=str(task.location)))

    def _record(self, task: Task, host: str, outcome: HostOutcome, frame: Frame, batch: list[str]) -> bool:
        for item in outcome.item_results:
            self.emit(HostResult(item))
        result = outcome.result
        self.emit(HostResult(result))
        stats = self.stats.setdefault(host, HostStats())
        state = self.state[host]
        with self._lock:
            if outcome.interrupted:
                state.ended = True
                self.interrupted.add(host)
            elif outcome.unreachable:
                ignore = frame.keyword("ignore_unreachable", task.options)
                if ignore is not None and to_bool(ignore):
                    stats.skipped += 1
                else:
                    stats.unreachable += 1
                    state.unreachable = True
            elif result.status is Status.FAILED:
                if result.ignored:
                    stats.ok += 1
                    stats.ignored += 1
                    if result.data.get("changed"):
                        stats.changed += 1
                else:
                    state.failed = True
                    if frame.rescuable:
                        stats.rescued += 1
                        self._set_failed_vars(host, task, result)
                    else:
                        stats.failed += 1
            elif result.status is Status.SKIPPED:
                stats.skipped += 1
            else:
                stats.ok += 1
                if result.changed:
                    stats.changed += 1
        if result.changed and result.status is not Status.FAILED:
            self._notify(task, host)
        return (state.failed or state.unreachable) and not frame.rescuable

    def _set_failed_vars(self, host: str, task: Task, result: TaskResult) -> None:
        state = self.runner.host_states[host]
        with state.lock:
            # Unsafe: a failed template's message quotes the template, which must never be
            # rendered again when a later task reads its variables.
            state.runtime["ansible_failed_task"] = mark_unsafe(
                {"name": task.name or task.action, "action": task.action, "path": str(task.location)}
            )
            state.runtime["ansible_failed_result"] = mark_unsafe(dict(result.data))

    def _check_thresholds(self, batch: list[str], task: Task | None, frame: Frame) -> None:
        fatal = frame.keyword("any_errors_fatal", task.options) if task is not None else None
        if self.any_errors_fatal or (fatal is not None and to_bool(fatal)):
            for h in batch:
                self.state[h].ended = True
            raise PlayAborted("any_errors_fatal")
        limit = self._play_keyword(self.play.max_fail_percentage)
        if limit is not None:
            failed = sum(1 for h in batch if self.state[h].failed or self.state[h].unreachable)
            if failed * 100.0 / len(batch) > float(limit):
                self.emit(
                    Message(
                        "error",
                        f"max_fail_percentage ({limit}%) exceeded: {failed}/{len(batch)} "
                        "hosts failed; stopping the play",
                    )
                )
                for h in batch:
                    self.state[h].ended = True
                raise PlayAborted("max_fail_percentage")

    # -- includes ------------------------------------------------------------------------------

    def _run_include(self, task: Task, hosts: list[str], frame: Frame, batch: list[str], handler: bool) -> None:
        self._announce(task, hosts, handler, frame)
        self._include(task, hosts, frame, batch)

    def _include(self, task: Task, hosts: list[str], frame: Frame, batch: list[str]) -> None:
        """include_tasks / include_role: decide per host (when, loop), then run each distinct
        inclusion (same file/role and parameters) with the hosts that asked for it, in order."""
        kind = short_action(task.action)
        groups: dict[str, tuple[Any, dict[str, Any], list[str], str | None]] = {}
        for host in hosts:
            try:
                planned = self.runner.plan_include(host, task, frame, kind)
            except OrchError as exc:
                self._record(task, host, self.runner.failed_outcome(host, task, exc, frame), frame, batch)
                continue
            if planned is None:
                self._record(task, host, self.runner.skipped_outcome(host, task), frame, batch)
                continue
            for target, params, label in planned:
                key = json.dumps([target, params], sort_keys=True, default=repr)
                groups.setdefault(key, (target, params, [], label))[2].append(host)
        depth = getattr(self._include_depth, "value", 0)
        for target, params, group_hosts, label in groups.values():
            try:
                if depth >= MAX_INCLUDE_DEPTH:
                    raise OrchError(f"{kind}: more than {MAX_INCLUDE_DEPTH} nested includes (a loop?)")
                block = self._load_included(task, frame, kind, target, params)
            except OrchError as exc:
                for host in group_hosts:
                    self._record(task, host, self.runner.failed_outcome(host, task, exc, frame), frame, batch)
                continue
            shown = target if kind == "include_tasks" else target["name"]
            suffix = f" => (item={label})" if label is not None else ""
            self.emit(Message("info", f"included: {shown} for {', '.join(group_hosts)}{suffix}"))
            with self._lock:
                for host in group_hosts:
                    self.stats.setdefault(host, HostStats()).ok += 1
            inner = frame.child(None, params=params if kind == "include_tasks" else None)
            self._include_depth.value = depth + 1
            try:
                self.walk([block], [h for h in group_hosts if self.state[h].active], inner, batch)
            finally:
                self._include_depth.value = depth

    def _load_included(
        self, task: Task, frame: Frame, kind: str, target: Any, params: dict[str, Any]
    ) -> Block:
        from orchestrator.playbook.loader import (
            load_role,
            load_task_file,
            resolve_task_file,
            role_search_paths,
        )

        apply = task.args.get("apply")
        options = apply if isinstance(apply, TaskOptions) else TaskOptions()
        warnings: list[str] = []
        basedir = self.runner.basedir
        if kind == "include_tasks":
            path = resolve_task_file(target, current=task.location.path, basedir=basedir, role=frame.role)
            if path is None:
                raise OrchError(f"include_tasks: could not find or access {target!r} ({task.location})")
            new_handlers: list[Task] = []
            items = load_task_file(
                path, role=frame.role, basedir=basedir, warnings=warnings, new_handlers=new_handlers
            )
            for handler in new_handlers:
                self._add_handler(handler)
            block = Block(block=items, options=options, role=frame.role)
        else:
            role = load_role(
                target["name"],
                search_paths=role_search_paths(basedir, frame.role.path if frame.role else None),
                params=params,
                location=task.location,
                tasks_from=target.get("tasks_from"),
                handlers_from=target.get("handlers_from"),
                defaults_from=target.get("defaults_from"),
                vars_from=target.get("vars_from"),
                basedir=basedir,
                warnings=warnings,
            )
            key = json.dumps([role.path, params, target], sort_keys=True, default=repr)
            if key not in self._handler_roles:
                self._handler_roles.add(key)
                for handler in role_handlers(role):
                    self._add_handler(handler)
            block = Block(block=role_task_tree(role), options=options, role=role, name=role.name)
            if to_bool(target.get("public", False)):
                defaults, role_vars = exported_role_vars(
                    Play(name="", hosts="", location=task.location, roles=[role])
                )
                with self._lock:
                    self._public_defaults.update(defaults)
                    self._public_vars.update(role_vars)
        for warning in warnings:
            self.emit(Message("warning", warning))
        return block

    # -- handlers --------------------------------------------------------------------------------

    def _add_handler(self, handler: Task) -> None:
        frame = role_frame(self.frame, handler.role) if handler.role is not None else self.frame
        self.handlers.append((handler, frame))

    def _notify(self, task: Task, host: str) -> None:
        if not task.notify:
            return
        with self._lock:
            for name in task.notify:
                found = self._handlers_for(name)
                if not found:
                    self.emit(
                        Message(
                            "error",
                            f"The requested handler '{name}' was not found in either the main handlers "
                            f"list nor in the listening handlers list ({task.location})",
                        )
                    )
                self.state[host].notified.update(found)

    def _handlers_for(self, notification: str) -> list[int]:
        """Ansible's lookup: the last handler loaded with that name (or `role : name`), plus every
        handler listening to it (once per handler name)."""
        found: list[int] = []
        for index in reversed(range(len(self.handlers))):
            handler = self.handlers[index][0]
            if handler.name and notification in (handler.name, handler.display_name):
                found.append(index)
                break
        seen: set[str] = set()
        for index, (handler, _) in enumerate(self.handlers):
            if notification in handler.listen:
                if handler.name and handler.name in seen:
                    continue
                if handler.name:
                    seen.add(handler.name)
                found.append(index)
        return found

    def flush_handlers(self, hosts: list[str]) -> None:
        """Run notified handlers in definition order, once per host (meta: flush_handlers too).
        A handler may notify a later one; both run in this flush."""
        if self.runner.aborted.is_set():
            return
        for index in range(len(self.handlers)):
            handler, frame = self.handlers[index]
            targets = [
                h
                for h in hosts
                if index in self.state[h].notified
                and (self.state[h].active or (self.force_handlers and not self.state[h].unreachable))
            ]
            for h in hosts:
                self.state[h].notified.discard(index)
            if not targets:
                continue
            forced = [h for h in targets if self.state[h].failed]
            for h in forced:
                self.state[h].failed = False  # --force-handlers: let it run; restored below
            try:
                self.run_task(handler, targets, frame, hosts, handler=True)
            finally:
                for h in forced:
                    self.state[h].failed = True

    # -- meta ------------------------------------------------------------------------------------

    def _run_meta(self, task: Task, hosts: list[str], frame: Frame, batch: list[str], handler: bool) -> None:
        self._meta(task, self._meta_hosts(task, hosts, frame, batch), batch)

    def _meta_hosts(self, task: Task, hosts: list[str], frame: Frame, batch: list[str]) -> list[str]:
        """The hosts whose `when` holds for a meta task; a broken condition fails its host."""
        selected = []
        for h in hosts:
            try:
                if self.runner.condition_holds(h, task, frame):
                    selected.append(h)
            except OrchError as exc:
                self._announce(task, hosts, False, frame)
                self._record(task, h, self.runner.failed_outcome(h, task, exc, frame), frame, batch)
        return selected

    def _meta(self, task: Task, hosts: list[str], batch: list[str]) -> None:
        action = str(task.args.get("_raw_params", "")).strip()
        if action == "flush_handlers":
            self.flush_handlers(hosts)
        elif action == "end_play":
            if not hosts:  # `when` false everywhere
                return
            for h in batch:
                self.state[h].ended = True
            raise PlayAborted("end_play")
        elif action == "end_host":
            for h in hosts:
                self.state[h].ended = True
        elif action == "clear_facts":
            for h in hosts:
                self.runner.host_states[h].facts.clear()
        elif action in ("noop", "refresh_inventory", "clear_host_errors", "reset_connection", "end_batch"):
            if action == "clear_host_errors":
                for h in batch:
                    self.state[h].failed = False
        else:
            self.emit(Message("warning", f"meta: {action!r} is not supported; ignored ({task.location})"))


# The executor's handler for each run-time action of the playbook language (playbook/actions.py):
# (runner, task, hosts, frame, batch, handler) -> None.
RUN_HANDLERS: dict[str, Callable[[PlayRunner, Task, list[str], Frame, list[str], bool], None]] = {
    "include_tasks": PlayRunner._run_include,
    "include_role": PlayRunner._run_include,
    "meta": PlayRunner._run_meta,
}
check_handlers(("run",), RUN_HANDLERS, "executor/play_runner.py")


def _roles_in(play: Play) -> Iterator[Role]:
    """Every role the play uses statically (roles:, their dependencies, import_role), in order."""
    seen: set[int] = set()

    def visit_role(role: Role) -> Iterator[Role]:
        for dep in role.dependencies:
            yield from visit_role(dep)
        if id(role) not in seen:
            seen.add(id(role))
            yield role
        yield from visit_items(role.tasks)

    def visit_items(items: list[Task | Block]) -> Iterator[Role]:
        for item in items:
            if isinstance(item, Block):
                if item.role is not None and id(item.role) not in seen:
                    yield from visit_role(item.role)
                yield from visit_items([*item.block, *item.rescue, *item.always])
            elif item.role is not None and id(item.role) not in seen:
                yield from visit_role(item.role)

    for role in play.roles:
        yield from visit_role(role)
    for section in (play.pre_tasks, play.tasks, play.post_tasks):
        yield from visit_items(section)


def exported_role_vars(play: Play) -> tuple[dict[str, Any], dict[str, Any]]:
    """(defaults, vars) every task of the play sees from its static roles: roles of `roles:` and
    import_role export them to the whole play (Ansible's default, private_role_vars=false); a
    role's own tasks see its scope on top."""
    defaults: dict[str, Any] = {}
    role_vars: dict[str, Any] = {}
    for role in _roles_in(play):
        defaults.update(role.defaults)
        role_vars.update(role.vars)
    return defaults, role_vars


def _play_handlers(play: Play) -> list[Task]:
    from orchestrator.playbook.loader import iter_handlers

    return list(iter_handlers(play))


def _setup_task(play: Play) -> Task:
    args = {"gather_subset": play.gather_subset} if play.gather_subset else {}
    return Task(name="Gathering Facts", action="setup", args=args, location=play.location)


def serial_batches(hosts: list[str], serial: Any) -> list[list[str]]:
    """Split hosts into batches: serial as int, "30%", or a list of those (the last one repeats)."""
    if serial in (None, 0, "0", [], ""):
        return [hosts] if hosts else []
    sizes = serial if isinstance(serial, list) else [serial]
    batches: list[list[str]] = []
    start = 0
    index = 0
    while start < len(hosts):
        spec = sizes[min(index, len(sizes) - 1)]
        size = _batch_size(spec, len(hosts))
        batches.append(hosts[start : start + size])
        start += size
        index += 1
    return batches


def _batch_size(spec: Any, total: int) -> int:
    text = str(spec).strip()
    if text.endswith("%"):
        return max(1, int(total * float(text[:-1]) / 100))
    return max(1, int(text))


def host_status_for_exit(stats: dict[str, HostStats]) -> int:
    """ansible-playbook's exit codes: 4 if any host unreachable (wins), 2 if any failed, else 0."""
    if any(s.unreachable for s in stats.values()):
        return 4
    if any(s.failed for s in stats.values()):
        return 2
    return 0


__all__ = ["PlayAborted", "PlayRunner", "host_status_for_exit", "serial_batches"]
