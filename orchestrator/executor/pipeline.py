"""Task pipelining: a run of consecutive independent tasks costs one round trip per host.

The play runner hands a *run* (consecutive tasks that `eligible` accepts) to a Pipeline. For each
host, the first task of the run that needs the host plans the rest: every task of the run goes
through the normal TaskRunner path with a PlanContext, which records the module's first remote
call (its script) and stops the module there. The recorded scripts go to the host as ONE batch
(Connection.start_batch); the host runs them in order and streams each result back, framed.
Then each task runs through the normal path again, task by task with all hosts as always, with a
ReplayContext whose first remote call takes its result from the batch instead of the network.
So a pipelined task produces exactly what the module produces today, from the same output.

Why the results equal running the tasks one by one:
- Nothing a task of the run produces can reach the arguments of a later one: `eligible` refuses
  what Ansible lets tasks share at run time (run_once, delegate_to, ...), and a task that
  registers a variable or returns facts ends what the batch may answer (the tasks after it are
  planned again once it is done, with the new variables).
- Writes go on only behind a *final* task: one whose first remote call is a converge the module
  marks `last` (query + apply in one script, no further call, the exit status says whether it
  failed), without register or failed_when. Behind any other task (a read the
  controller must look at before it writes, an upload, a failed_when) the host runs the rest of
  the batch *held*: converge scripts report a needed change without making it (`__orch_hold`).
  A held result is used only if nothing changed the host in between: when the undecided task
  makes a further call, or a held task says it would change something, the rest of the batch
  is dropped and planned again from there.
- The host stops the batch at the first final task whose exit status is a failure, so tasks
  after a failure never ran (the controller then sees the batch end and runs nothing more there).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.modules.base import get_module
from orchestrator.modules.context import CHANGE_NEEDED, ModuleContext, Reply
from orchestrator.playbook.actions import language_action
from orchestrator.playbook.model import Task
from orchestrator.playbook.taskargs import short_action
from orchestrator.results import Status
from orchestrator.transport.base import Batch, BatchCommand, BecomeSpec, CommandResult, Connection


class TaskRunning(Protocol):
    """What a pipeline needs of executor/task_runner.TaskRunner (which imports this module).
    Frames and outcomes are task_runner's Frame and HostOutcome."""

    pipeline_local: threading.local

    def run(self, host: str, task: Task, frame: Any) -> Any: ...


# Modules that wait for the host or the controller, or reconnect: never in a batch.
NEVER = frozenset({"reboot", "wait_for_connection", "wait_for", "pause"})
# Keywords that tie a task to other hosts, to time, or to the play's decisions (any_errors_fatal
# stops every host after this task): a task with one of them set never joins a run.
BREAKING_KEYWORDS = ("run_once", "delegate_to", "any_errors_fatal", "throttle", "timeout")
# Magic variables that change while a run is on its way (a host failing leaves the play): a task
# naming one is not planned ahead.
MOVING_MAGIC = ("play_hosts", "ansible_play_batch")


class Planned(BaseException):
    """Raised at a module's first remote call while planning: that call is recorded, the module
    stops there. A BaseException, so a module's `except Exception` cannot swallow it."""


def eligible(task: Task, frame: Any) -> bool:
    """Whether a task may join a pipelined run (the static rule; docs/pipelining.md)."""
    if language_action(task.action) is not None:
        return False
    module = get_module(task.action)
    if module is None or not module.remote or short_action(task.action) in NEVER:
        return False
    if task.until or task.async_ is not None or task.loop_control.get("pause"):
        return False
    for name in BREAKING_KEYWORDS:
        value = frame.keyword(name, task.options)
        if value not in (None, False, "", 0, "false", "no", "False"):
            return False
    text = repr((task.name, task.args, task.loop, task.options.when, task.options.vars, task.changed_when))
    return not any(name in text for name in MOVING_MAGIC)


@dataclass
class Slot:
    """One recorded first call: the batch command it became and what it must match on replay."""

    command: BatchCommand
    conn: Connection
    become: BecomeSpec | None
    kind: str  # "query", "converge", "last-converge" (ModuleContext.converge with last) or "change"
    check_mode: bool
    size: int  # len(script): the replayed module must send the same script
    tokens: list[str] = field(default_factory=list)
    index: int = -1  # its place in the batch
    used: bool = False


class _KindContext(ModuleContext):
    """Notes what kind of call a module makes next (see Slot.kind)."""

    _kind: str = "query"
    _apply_is_result: bool = False

    def converge(
        self,
        query: str,
        apply: str,
        *,
        stdin: bytes | None = None,
        apply_is_result: bool = False,
        last: bool = False,
        reads: Sequence[str] = (),
        sums: Sequence[str] = (),
    ) -> Any:
        self._kind = "last-converge" if last else "converge"
        self._apply_is_result = apply_is_result
        try:
            return super().converge(
                query, apply, stdin=stdin, apply_is_result=apply_is_result, last=last, reads=reads, sums=sums
            )
        finally:
            self._kind, self._apply_is_result = "query", False

    def change(self, script: str, *, stdin: bytes | None = None) -> Reply | None:
        if not self.check_mode:
            self._kind = "change"
        try:
            return super().change(script, stdin=stdin)
        finally:
            self._kind = "query"


class PlanContext(_KindContext):
    """A module's context while planning: its first remote call is recorded, then Planned."""

    pipe: HostPipe
    key: tuple[int, int]

    def token(self) -> str:
        value = super().token()
        if self.pipe.records(self.key):
            self.pipe.tokens.setdefault(self.key, []).append(value)
        return value

    def put(self, data: bytes, path: str, mode: int = 0o600) -> bool:
        if self.check_mode:
            return False
        if self.pipe.records(self.key):
            self.pipe.cut()
        raise Planned

    def put_temp(
        self, data: bytes, *, prefix: str = ".orch-upload-", suffix: str = "", mode: int = 0o600
    ) -> str:
        if self.pipe.records(self.key):
            self.pipe.cut()
        raise Planned

    def _send(self, script: str, stdin: bytes | None) -> CommandResult:
        self.pipe.add(self, script, stdin, self._kind, self._apply_is_result)
        raise Planned


class ReplayContext(_KindContext):
    """A module's context while its task runs for real: the first remote call is answered from
    the batch when the batch still holds a valid answer; anything else goes to the host, a final
    write as the head of the next batch (HostPipe.chain)."""

    pipe: HostPipe
    key: tuple[int, int]
    _replayed: int = 0
    _final: bool = False  # a call marked `last` was made and the host went on after it

    def token(self) -> str:
        recorded = self.pipe.tokens.get(self.key, [])
        if self._replayed < len(recorded):
            self._replayed += 1
            return recorded[self._replayed - 1]
        return super().token()

    def put(self, data: bytes, path: str, mode: int = 0o600) -> bool:
        self._refuse_after_final()
        self.pipe.go_live(writing=True)
        return super().put(data, path, mode)

    def put_temp(
        self, data: bytes, *, prefix: str = ".orch-upload-", suffix: str = "", mode: int = 0o600
    ) -> str:
        self._refuse_after_final()
        self.pipe.go_live(writing=True)
        return super().put_temp(data, prefix=prefix, suffix=suffix, mode=mode)

    def _refuse_after_final(self) -> None:
        if self._final:  # a module bug, not the user's: the next tasks may have run already
            raise RuntimeError(
                "the module made a remote call after one it marked `last` (ModuleContext.converge)"
            )

    def _send(self, script: str, stdin: bytes | None) -> CommandResult:
        self._refuse_after_final()
        result = self.pipe.deliver(self, script, stdin)
        if result is not None:
            return result
        error, self.pipe.start_error = self.pipe.start_error, None
        if error is not None:
            raise error
        if self._kind == "last-converge":
            result = self.pipe.chain(self, script, stdin, self._apply_is_result)
            if result is not None:
                self._final = True
                return result
        self.pipe.go_live(writing=True)
        return super()._send(script, stdin)


class HostPipe:
    """One host's part of a run: plans and sends batches, answers the replayed calls."""

    def __init__(self, runner: TaskRunning, host: str, tasks: list[tuple[Task, Any]]) -> None:
        self.runner = runner
        self.host = host
        self.tasks = tasks
        self.planning = False
        self.position = 0  # the task being planned or replayed
        self.calls = 0  # contexts made for it so far (one per loop item)
        self.slots: dict[tuple[int, int], Slot] = {}
        self.tokens: dict[tuple[int, int], list[str]] = {}
        self.batch: Batch | None = None
        self.conn: Connection | None = None
        self.valid = False
        self.planned_upto = 0  # tasks before this position are planned in the current batch
        self.next_index = 0  # the next batch result a replayed call may take
        self._commands: list[BatchCommand] = []
        self._become: BecomeSpec | None = None
        self._holding = False
        self._cut = False
        # Set once a batch on this host had to give way to a write (a held change, a further
        # call): the host is converging, so held commands would mostly be sent again; batches
        # end at the first undecided task instead of carrying a held tail.
        self.converging = False
        self.start_error: Exception | None = None  # why the last batch could not be sent
        # While a chained batch is planned: the calls up to this key are made already (the
        # write at its head is the last of them), so planning records none of them.
        self._done_upto: tuple[int, int] | None = None

    # -- what TaskRunner asks -----------------------------------------------------------------

    def new_context(self, **kwargs: Any) -> ModuleContext:
        ctx: PlanContext | ReplayContext = PlanContext(**kwargs) if self.planning else ReplayContext(**kwargs)
        ctx.pipe = self
        ctx.key = (self.position, self.calls)
        self.calls += 1
        return ctx

    # -- one task on this host ----------------------------------------------------------------

    def run(self, position: int, task: Task, frame: Any) -> Any:
        if not self._serves(position):
            self._plan_and_send(position)
        self.position, self.calls = position, 0
        with self._mode():
            outcome = self.runner.run(self.host, task, frame)
        if self.valid:
            unused = any(not s.used for k, s in self.slots.items() if k[0] == position)
            facts = any("ansible_facts" in r.data for r in (outcome.result, *outcome.item_results))
            if unused or task.register or facts or outcome.unreachable or outcome.interrupted:
                # variables (or the host) changed: what was planned after this task is stale
                self.go_live()
        return outcome

    def _serves(self, position: int) -> bool:
        """Whether the batch still answers this task; if not, the task starts a new batch."""
        if not self.valid or position >= self.planned_upto:
            return False
        first = min(
            (s for k, s in self.slots.items() if k[0] == position), key=lambda s: s.index, default=None
        )
        if first is None or self.conn is None or self.batch is None:
            return True
        try:
            result = self.conn.batch_result(self.batch, first.index)
        except Exception:  # the host is lost: the task finds out by itself
            result = None
        if result is not None and _held_change(first, result):
            self.converging = True
        if result is None or _held_change(first, result):
            # the host stopped before this task (after a failure it ignored), or held the change
            # this task has to make: plan again from here, with this task first and writing
            self.go_live()
            return False
        return True

    @contextlib.contextmanager
    def _mode(self) -> Iterator[None]:
        local = self.runner.pipeline_local
        outer = getattr(local, "pipe", None)  # a chained batch is planned inside a replayed task
        local.pipe = self
        try:
            yield
        finally:
            local.pipe = outer

    # -- planning -----------------------------------------------------------------------------

    def _plan_and_send(
        self, start: int, head: tuple[BatchCommand, Connection, BecomeSpec | None] | None = None
    ) -> None:
        """Plan tasks from `start` and send them as one batch, after `head` if given (chain)."""
        self.go_live()
        self.start_error = None
        self.slots, self.tokens, self._commands = {}, {}, []
        self.conn, self._become, self._holding, self._cut = None, None, False, False
        if head is not None:
            command, self.conn, self._become = head
            self._commands.append(command)
        self.planning = True
        try:
            for position in range(start, len(self.tasks)):
                task, frame = self.tasks[position]
                self.position, self.calls = position, 0
                before = len(self._commands)
                with self._mode():
                    outcome = self.runner.run(self.host, task, frame)
                if outcome.result.status in (Status.FAILED, Status.UNREACHABLE) or outcome.interrupted:
                    # it fails before reaching the host (or cannot be planned): run it by itself
                    self._drop_from(before)
                    self.planned_upto = position
                    break
                self.planned_upto = position + 1
                if self._cut:
                    if len(self._commands) == before:
                        self.planned_upto = position  # nothing of it sent: the next batch starts with it
                    break
                if task.register or task.failed_when is not None:
                    self._holding = True
        finally:
            self.planning = False
        self.next_index = 0
        self.batch, self.valid = None, False
        if self._commands and self.conn is not None:
            try:
                self.batch = self.conn.start_batch(self._commands, become=self._become, library=_library())
                self.valid = True
            except Exception as exc:
                # cannot connect or become: the first task that reaches the host gets the error,
                # as one by one (no second login or sudo attempt)
                self.slots, self.start_error = {}, exc
        elif self.planned_upto > start:
            self.valid = True  # nothing to send (skipped tasks): the tasks run from here

    def _drop_from(self, count: int) -> None:
        self._commands = self._commands[:count]
        self.slots = {k: s for k, s in self.slots.items() if s.index < count}

    def records(self, key: tuple[int, int]) -> bool:
        """Whether planning records this call (see _done_upto)."""
        return self._done_upto is None or key > self._done_upto

    def chain(
        self, ctx: ReplayContext, script: str, stdin: bytes | None, apply_is_result: bool
    ) -> CommandResult | None:
        """Send a module's final write (a converge it marks `last`, typically after a read) as
        the head of a new batch with the rest of the run planned behind it, so the write and the
        next tasks cost one round trip; its result, or None when it must go by itself.

        Safe because the write is final (no further call; its exit status alone says whether
        it failed, and the host stops the batch there on a failure), and the task neither
        registers nor judges its result (failed_when), so nothing planned behind it depends on
        what it returns. The task's own remaining loop items are planned again, after the write."""
        position, calls = ctx.key[0], self.calls
        task, _ = self.tasks[position]
        conn = ctx.conn
        if task.register or task.failed_when is not None or not getattr(conn, "supports_batch", False):
            return None
        go_on = (0,) if apply_is_result and not ctx.check_mode else (0, CHANGE_NEEDED)
        command = BatchCommand(script, stdin, ctx.env or None, go_on=go_on)
        self.go_live(writing=True)
        self._done_upto = ctx.key
        try:
            self._plan_and_send(position, head=(command, conn, ctx.become))
        finally:
            self._done_upto = None
            self.position, self.calls = position, calls
        if not self.valid or self.batch is None:
            error, self.start_error = self.start_error, None
            if error is not None:
                raise error
            return None
        self.next_index = 1
        assert self.conn is not None
        return self.conn.batch_result(self.batch, 0)

    def cut(self) -> None:
        """The module needs more than a script (an upload): the batch ends before this call."""
        self._cut = True

    def add(
        self, ctx: PlanContext, script: str, stdin: bytes | None, kind: str, apply_is_result: bool
    ) -> None:
        """Record a module's first call as the next command of the batch, if it may join it."""
        if self._cut or ctx.key in self.slots or not self.records(ctx.key):
            return
        conn = ctx.conn
        same_shell = self.conn is None or (conn is self.conn and ctx.become == self._become)
        if (
            not getattr(conn, "supports_batch", False)
            or not same_shell
            or (self._holding and (kind == "change" or self.converging))
        ):
            self._cut = True
            return
        self.conn, self._become = conn, ctx.become
        final = kind == "last-converge"
        go_on: tuple[int, ...] | None = None
        if final and not self._holding:
            go_on = (0,) if apply_is_result and not ctx.check_mode else (0, CHANGE_NEEDED)
        command = BatchCommand(
            script,
            stdin,
            ctx.env or None,
            hold=self._holding,
            go_on=go_on,
            stats=ctx.reads + ctx.sums if self._holding else (),
            sums=ctx.sums if self._holding else (),
        )
        slot = Slot(command, conn, ctx.become, kind, ctx.check_mode, len(script), index=len(self._commands))
        self.slots[ctx.key] = slot
        self._commands.append(command)
        if not final:
            self._holding = True

    # -- replay -------------------------------------------------------------------------------

    def deliver(self, ctx: ReplayContext, script: str, stdin: bytes | None) -> CommandResult | None:
        """The batch's result for this call, or None: the call must go to the host itself."""
        slot = self.slots.get(ctx.key)
        if not self.valid or slot is None or slot.used or slot.index != self.next_index:
            return None
        if (
            slot.size != len(script)
            or slot.command.stdin != stdin
            or slot.command.env != (ctx.env or None)
            or slot.become != ctx.become
            or slot.conn is not ctx.conn
        ):
            return None  # not the call that was planned (go_live drops the rest)
        assert self.conn is not None and self.batch is not None
        result = self.conn.batch_result(self.batch, slot.index)
        if result is None:
            return None  # the host stopped the batch before it
        if _held_change(slot, result):
            return None  # held: the change was not made; make it now, for real
        slot.used = True
        self.next_index += 1
        ctx._final = slot.command.go_on is not None
        return result

    def go_live(self, writing: bool = False) -> None:
        """Drop what is left of the batch: the host may change now, later results would be stale.
        `writing`: a task's own call goes to the host (see `converging`)."""
        if writing and self.valid:
            self.converging = True
        self.valid = False
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a lost host fails the call that comes next
                self.conn.finish_batch()


class Pipeline:
    """A run of eligible tasks, for every host of the play."""

    def __init__(self, runner: TaskRunning, tasks: list[tuple[Task, Any]]) -> None:
        self.runner = runner
        self.tasks = tasks
        self.positions = {id(task): index for index, (task, _) in enumerate(tasks)}
        self._hosts: dict[str, HostPipe] = {}
        self._lock = threading.Lock()

    def run(self, host: str, task: Task, frame: Any) -> Any:
        with self._lock:
            pipe = self._hosts.get(host)
            if pipe is None:
                pipe = self._hosts[host] = HostPipe(self.runner, host, self.tasks)
        return pipe.run(self.positions[id(task)], task, frame)

    def close(self) -> None:
        """The run is over: read what is left of every host's batch."""
        for pipe in self._hosts.values():
            pipe.go_live()


def _held_change(slot: Slot, result: CommandResult) -> bool:
    """A held converge found a change it did not make."""
    return (
        slot.command.hold
        and slot.kind.endswith("converge")
        and result.rc == CHANGE_NEEDED
        and not slot.check_mode
    )


def _library() -> Any:
    from orchestrator.modules.shlib import LIBRARY

    return LIBRARY
