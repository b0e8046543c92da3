"""The play loop: batches (serial), strategies, blocks, handlers, failure thresholds.

One recursive walker serves both strategies: `linear` walks a task list with every active host of
the batch (each task finishes on all hosts before the next starts); `free` walks the same list
once per host, each host in its own worker, so fast hosts never wait for slow ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from orchestrator.events import Event, HostResult, Message, PlayStart, TaskStart
from orchestrator.executor.task_runner import Frame, HostOutcome, TaskRunner
from orchestrator.modules.spec import to_bool
from orchestrator.playbook.model import Block, Play, Task
from orchestrator.results import HostStats, Status, TaskResult


@dataclass
class HostRun:
    """One host's standing in the current play."""

    failed: bool = False
    unreachable: bool = False
    ended: bool = False  # meta: end_host
    notified: list[str] = field(default_factory=list)  # handler names, in notification order

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
    ) -> None:
        self.play = play
        self.hosts = hosts
        self.runner = runner
        self.pool = pool
        self.emit = emit
        self.stats = stats
        self.task_filter = task_filter
        self.force_handlers = force_handlers or bool(play.force_handlers)
        self.frame = play_frame
        self.state: dict[str, HostRun] = {h: HostRun() for h in hosts}
        self._lock = threading.Lock()
        self._announced: set[int] = set()
        self.any_errors_fatal = to_bool(play.options.any_errors_fatal or False)

    # -- the play ------------------------------------------------------------------------------

    def run(self) -> None:
        self.emit(PlayStart(self.play.name, tuple(self.hosts)))
        for batch in serial_batches(self.hosts, self.play.serial):
            try:
                self._run_batch(batch)
            except PlayAborted:
                return
            failed = [h for h in batch if self.state[h].failed or self.state[h].unreachable]
            if len(failed) == len(batch) and batch:
                return  # every host of the batch failed: Ansible stops the play here

    def _run_batch(self, batch: list[str]) -> None:
        sections: list[tuple[list[Task | Block], Frame]] = []
        if self._gather_facts():
            sections.append(([_setup_task(self.play)], self.frame))
        sections.append((self.play.pre_tasks, self.frame))
        role_items: list[Task | Block] = []
        for role in self.play.roles:
            role_items.append(Block(block=role.tasks, options=role.options, role=role, name=role.name))
        sections.append((role_items + self.play.tasks, self.frame))
        sections.append((self.play.post_tasks, self.frame))
        for index, (items, frame) in enumerate(sections):
            if self.play.strategy == "free":
                self._each_host(
                    batch, lambda h, items=items, frame=frame: self.walk(items, [h], frame, batch)
                )
            else:
                self.walk(items, batch, frame, batch)
            if index > 0 or not self._gather_facts():
                self.flush_handlers(batch)

    def _gather_facts(self) -> bool:
        value = self.play.gather_facts
        return True if value is None else to_bool(value)

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

    # -- walking task lists ----------------------------------------------------------------------

    def walk(self, items: Iterable[Task | Block], hosts: list[str], frame: Frame, batch: list[str]) -> None:
        for item in items:
            active = [h for h in hosts if self.state[h].active]
            if not active:
                return
            if isinstance(item, Block):
                self._walk_block(item, active, frame, batch)
            else:
                self.run_task(item, active, frame, batch)

    def _walk_block(self, block: Block, hosts: list[str], frame: Frame, batch: list[str]) -> None:
        inner = frame.child(block.options)
        if block.role is not None:
            inner = frame.child(
                block.options,
                role_defaults=block.role.defaults,
                play_vars=block.role.vars,
                params=block.role.params,
                role=block.role,
            )
        inner_block = Frame(
            inner.options, inner.scope, inner.role, rescuable=bool(block.rescue) or frame.rescuable
        )
        was_failed = {h for h in hosts if self.state[h].failed}
        self.walk(block.block, hosts, inner_block, batch)
        failed_here = [h for h in hosts if self.state[h].failed and h not in was_failed]
        if block.rescue and failed_here:
            for h in failed_here:
                self.state[h].failed = False
            rescue_frame = Frame(inner.options, inner.scope, inner.role, rescuable=frame.rescuable)
            self.walk(block.rescue, failed_here, rescue_frame, batch)
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

    def run_task(
        self, task: Task, hosts: list[str], frame: Frame, batch: list[str], handler: bool = False
    ) -> None:
        if not handler and not self.task_filter(task, frame):
            return
        if task.action in ("meta", "ansible.builtin.meta"):
            self._meta(task, hosts, batch)
            return
        self._announce(task, hosts, handler)
        failed = self._run_on(task, hosts, frame, batch)
        # Like Ansible, thresholds are checked once the task is done on every host of the batch.
        if failed:
            self._check_thresholds(batch, task, frame)

    def _run_on(self, task: Task, hosts: list[str], frame: Frame, batch: list[str]) -> bool:
        """Run the task on the hosts and record the results; True if a host newly failed."""
        run_once = frame.keyword("run_once", task.options)
        if run_once is not None and to_bool(run_once):
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
        if len(hosts) == 1:
            return self._record(task, hosts[0], self.runner.run(hosts[0], task, frame), frame, batch)
        futures = {h: self.pool.submit(self.runner.run, h, task, frame) for h in hosts}
        recorded = [self._record(task, h, future.result(), frame, batch) for h, future in futures.items()]
        return any(recorded)

    def _announce(self, task: Task, hosts: list[str], handler: bool) -> None:
        with self._lock:
            key = id(task)
            if self.play.strategy == "free" and key in self._announced:
                return
            self._announced.add(key)
        self.emit(TaskStart(task.display_name, tuple(hosts), is_handler=handler, path=str(task.location)))

    def _record(self, task: Task, host: str, outcome: HostOutcome, frame: Frame, batch: list[str]) -> bool:
        for item in outcome.item_results:
            self.emit(HostResult(item))
        result = outcome.result
        self.emit(HostResult(result))
        stats = self.stats.setdefault(host, HostStats())
        state = self.state[host]
        with self._lock:
            if outcome.unreachable:
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
            state.runtime["ansible_failed_task"] = {
                "name": task.name or task.action,
                "action": task.action,
                "path": str(task.location),
            }
            state.runtime["ansible_failed_result"] = dict(result.data)

    def _check_thresholds(self, batch: list[str], task: Task, frame: Frame) -> None:
        fatal = frame.keyword("any_errors_fatal", task.options)
        if self.any_errors_fatal or (fatal is not None and to_bool(fatal)):
            for h in batch:
                self.state[h].ended = True
            raise PlayAborted("any_errors_fatal")
        limit = self.play.max_fail_percentage
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

    # -- handlers --------------------------------------------------------------------------------

    def _notify(self, task: Task, host: str) -> None:
        if not task.notify:
            return
        with self._lock:
            for name in task.notify:
                if name not in self.state[host].notified:
                    self.state[host].notified.append(name)

    def _handlers(self) -> list[tuple[Task, Frame]]:
        out = [(h, self.frame) for h in self.play.handlers]
        for role in self.play.roles:
            role_frame = self.frame.child(
                role.options, role_defaults=role.defaults, play_vars=role.vars, params=role.params, role=role
            )
            out.extend((h, role_frame) for h in role.handlers)
        return out

    def flush_handlers(self, hosts: list[str]) -> None:
        """Run notified handlers in definition order, once per host (meta: flush_handlers too)."""
        for handler, frame in self._handlers():
            names = {handler.name, *handler.listen} - {None}
            targets = [
                h
                for h in hosts
                if names & set(self.state[h].notified)
                and (self.state[h].active or (self.force_handlers and not self.state[h].unreachable))
            ]
            if not targets:
                continue
            for h in targets:
                if self.force_handlers and self.state[h].failed:
                    self.state[h].failed = False  # let it run; restored below
            self.run_task(handler, targets, frame, hosts, handler=True)
        for h in hosts:
            self.state[h].notified.clear()

    # -- meta ------------------------------------------------------------------------------------

    def _meta(self, task: Task, hosts: list[str], batch: list[str]) -> None:
        action = str(task.args.get("_raw_params", "")).strip()
        if action == "flush_handlers":
            self.flush_handlers(hosts)
        elif action == "end_play":
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
