"""Run a loaded playbook against an inventory: the one entry point of the engine.

Data flows one way: the CLI loads and validates (no host touched), then `PlaybookRunner.run`
executes plays and emits events; reporters render them. Exit codes are ansible-playbook's.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from orchestrator import __version__
from orchestrator.errors import OrchError
from orchestrator.events import Event, Message, PlaybookEnd, PlaybookStart, PlayStart
from orchestrator.executor.connections import ConnectionPool
from orchestrator.executor.play_runner import PlayRunner, exported_role_vars, host_status_for_exit
from orchestrator.executor.task_runner import Frame, RunSettings, TaskRunner
from orchestrator.exitcodes import EXIT_BAD_OPTIONS as EXIT_BAD_OPTIONS  # re-exported for callers
from orchestrator.exitcodes import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from orchestrator.exitcodes import EXIT_INVALID as EXIT_INVALID
from orchestrator.inventory import Inventory
from orchestrator.playbook.model import Block, Play, Playbook, Task
from orchestrator.results import HostStats
from orchestrator.templating import OMIT, LazyVars, Templar
from orchestrator.vars import HostVarState

# The Ansible release whose language orch implements: playbooks gate on `ansible_version`
# (`ansible_version.full is version('2.9', '>=')`), so it must read like Ansible's.
ANSIBLE_VERSION = {
    "full": "2.19.0",
    "major": 2,
    "minor": 19,
    "revision": 0,
    "string": f"2.19.0 (orch {__version__})",
}

CLEANUP_TIMEOUT = 1.5  # seconds an interrupted run gives hosts to kill its commands and remove temp files


@dataclass
class RunOptions:
    limit: str | None = None
    forks: int = 50
    extra_vars: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=lambda: ["all"])
    skip_tags: list[str] = field(default_factory=list)
    force_handlers: bool = False
    start_at_task: str | None = None  # skip tasks until one whose name matches (fnmatch)
    # --step: asked before each task with its name; answers "y" (run), "n" (skip), "c" (run all)
    step: Callable[[str], str] | None = None
    verbosity: int = 0
    settings: RunSettings = field(default_factory=RunSettings)


MISSING_VAR = object()


class PlaybookRunner:
    def __init__(
        self,
        playbook: Playbook,
        inventory: Inventory,
        options: RunOptions,
        emit: Callable[[Event], None],
        connections: ConnectionPool | None = None,
    ) -> None:
        self.playbook = playbook
        self.inventory = inventory
        self.options = options
        self.emit = emit
        self.templar = Templar(playbook.basedir)
        # Where hosts' connections live: here, or on Dask workers (orchestrator/cluster/pool.py).
        self.pool = (
            connections
            if connections is not None
            else ConnectionPool(options.settings.connection.keep_connections)
        )
        self.stats: dict[str, HostStats] = {}
        self.host_states: dict[str, HostVarState] = {}
        self._inventory_vars: dict[str, Mapping[str, Any]] = {}
        self._inventory_lock = threading.Lock()
        self._current_magic: dict[str, Any] = {}
        self._select_lock = threading.Lock()
        self._out: set[str] = set()  # failed or unreachable: not in later plays
        self._start_at = options.start_at_task
        self._stepping = options.step is not None
        self.aborted = threading.Event()  # set by interrupt(): no task starts after it
        self.interrupted_hosts: set[str] = set()
        inventory.add_vars_dir(playbook.basedir)

    def interrupt(self) -> None:
        """Stop the run (Ctrl-C, SIGTERM, SIGHUP; called from any thread): no task starts any
        more, and every running command and transfer fails at once (its channel is closed)."""
        self.aborted.set()
        self.pool.abort_all()

    def run(self) -> int:
        started = time.monotonic()
        self.emit(PlaybookStart(self.playbook.path, self.options.settings.check))
        for warning in self.playbook.warnings:
            self.emit(Message("warning", warning))
        workers = ThreadPoolExecutor(max_workers=max(1, self.options.forks), thread_name_prefix="orch-host")
        try:
            for play in self.playbook.plays:
                if self.aborted.is_set() or not self._run_play(play, workers):
                    break
        finally:
            # After an interrupt a worker may still be stuck where a closed channel cannot reach
            # (a connect in progress): do not wait for it, the CLI exits without it.
            workers.shutdown(wait=not self.aborted.is_set(), cancel_futures=True)
            if self.aborted.is_set():
                self._after_interrupt()
            transport = self.pool.stats_by_host()
            self.pool.close_all()
        code = EXIT_INTERRUPTED if self.aborted.is_set() else host_status_for_exit(self.stats)
        self.emit(PlaybookEnd(self.stats, code, time.monotonic() - started, transport))
        return code

    def _after_interrupt(self) -> None:
        cleaned = self.pool.clean_up_all(CLEANUP_TIMEOUT)
        hosts = sorted(self.interrupted_hosts)
        text = "Interrupted: no task was started after the signal"
        if hosts:
            text += f"; tasks stopped on {len(hosts)} host(s): {', '.join(hosts)}"
        if cleaned:
            text += f"; orch's temp files removed on {len(cleaned)} host(s)"
        self.emit(Message("error", text))

    def _run_play(self, play: Play, workers: ThreadPoolExecutor) -> bool:
        """Run one play; False when the run must stop (Ansible's break_play)."""
        pattern = self.templar.render(play.hosts, self.options.extra_vars)
        selected = [h.name for h in self.inventory.select(pattern, self.options.limit)]
        if not selected:
            self.emit(
                Message("warning", f"no hosts matched the pattern {pattern!r}; skipping play {play.name!r}")
            )
            return True
        # hosts that failed (unrescued) or were unreachable in an earlier play sit out the rest
        hosts = [h for h in selected if h not in self._out]
        if not hosts:
            self.emit(PlayStart(play.name, ()))
            return True
        for h in hosts:
            self.host_states.setdefault(h, HostVarState())
        frame, _ = self.play_scope(play)
        play_magic = self._play_magic(play, selected)  # ansible_play_hosts_all keeps failed hosts
        self._current_magic = play_magic  # add_host / group_by refresh its `groups`

        def magic(host: str) -> dict[str, Any]:
            active, batch = play_runner.active_hosts()
            return {
                **play_magic,
                "inventory_hostname": host,
                "inventory_hostname_short": host.split(".")[0],
                "group_names": self.inventory.group_names(host),
                "ansible_play_hosts": active,
                "play_hosts": active,
                "ansible_play_batch": batch,
            }

        task_runner = self._task_runner(magic)
        play_runner = PlayRunner(
            play,
            hosts,
            runner=task_runner,
            pool=workers,
            emit=self.emit,
            stats=self.stats,
            task_filter=self._tag_filter,
            force_handlers=self.options.force_handlers,
            play_frame=frame,
            # --step and --start-at-task decide task by task; a task timeout needs its own clock
            pipelining=self.options.settings.pipelining
            and self.pool.supports_batch
            and self.options.step is None
            and self.options.start_at_task is None
            and self.options.settings.task_timeout is None,
        )
        play_runner.run()
        self.interrupted_hosts.update(play_runner.interrupted)
        self._out.update(h for h, st in play_runner.state.items() if st.failed or st.unreachable)
        return not play_runner.stop_run

    def _task_runner(self, magic: Callable[[str], dict[str, Any]]) -> TaskRunner:
        return TaskRunner(
            templar=self.templar,
            lazy_vars=lambda layers: LazyVars(layers, self.templar),
            pool=self.pool,
            settings=self.options.settings,
            host_states=self.host_states,
            inventory_vars=self._host_inventory_vars,
            extra_vars=self.options.extra_vars,
            magic=magic,
            all_hosts=list(self.inventory.hosts),
            basedir=self.playbook.basedir,
            inventory_update=self.apply_inventory_change,
            aborted=self.aborted,
        )

    def apply_inventory_change(self, host: str, data: Mapping[str, Any]) -> bool:
        """Apply an add_host / group_by result to this run's inventory, as Ansible's strategy
        does (add_dynamic_host / add_dynamic_group); True if the inventory changed."""
        inv = self.inventory
        changed = False
        with self._inventory_lock:
            if "add_host" in data:
                info = data["add_host"]
                name = str(info["host_name"])
                if name not in inv.hosts:
                    inv.add_host(name)
                    changed = True
                for key, value in dict(info.get("host_vars") or {}).items():
                    if inv.hosts[name].vars.get(key, MISSING_VAR) != value:
                        inv.set_host_var(name, key, value)
                        changed = True
                targets: list[tuple[str, str, list[str]]] = [
                    (name, str(g), []) for g in info.get("groups") or []
                ]
            else:
                targets = [(host, str(data["add_group"]), list(data.get("parent_groups") or []))]
            for member, group, parents in targets:
                for name_ in (group, *parents):
                    if name_ not in inv.groups:
                        inv.add_group(name_)
                        changed = True
                for parent in parents:
                    if parent != group and group not in inv.groups[parent].children:
                        inv.add_child(parent, group)
                if group not in inv.hosts[member].groups:
                    inv.add_host(member, group)
                    changed = True
            inv.reconcile()
            self._inventory_vars.clear()
            if self._current_magic:
                self._current_magic["groups"] = inv.groups_map()
        return changed

    def play_scope(self, play: Play) -> tuple[Frame, dict[int, str]]:
        """The variable frame every task of the play starts from, and a description of each of
        its mappings (by id) for `orch explain`. Order inside the play layer, lowest first: play
        vars, vars_prompt, vars_files, vars of the play's roles (defaults go to the lowest layer)."""
        where: dict[int, str] = {}
        play_vars = dict(play.options.vars)
        where[id(play_vars)] = f"vars of play {play.name!r} ({play.location})"
        prompted = self._vars_prompt(play)
        where[id(prompted)] = f"vars_prompt of play {play.name!r}"
        frame = Frame(options=(play.options,)).child(None, play_vars=play_vars).child(None, play_vars=prompted)
        for path, values in self._vars_files(play, {**play_vars, **prompted}):
            where[id(values)] = f"vars_files {path}"
            frame = frame.child(None, play_vars=values)
        defaults, role_vars = exported_role_vars(play)
        where[id(defaults)] = f"defaults of the roles of play {play.name!r}"
        where[id(role_vars)] = f"vars of the roles of play {play.name!r}"
        return frame.child(None, role_defaults=defaults, play_vars=role_vars), where

    def explain(self, name: str, host: str) -> tuple[list[tuple[str, str, Any]], Any]:
        """Where `name` comes from for `host` before the run starts: (layer, where, value) of
        every source, lowest first (the last one wins), and the templated value in effect (or the
        error rendering it). Uses the executor's own layer_stack with the scope of the first play
        that targets the host, so the answer cannot drift from what a run does. Facts, set_fact
        and register only exist during a run, so they are not shown."""
        from orchestrator.vars import layer_stack

        frame, where = Frame(), dict[int, str]()
        hosts = [host]
        play = None
        for candidate in self.playbook.plays:
            pattern = self.templar.render(candidate.hosts, self.options.extra_vars)
            selected = [h.name for h in self.inventory.select(pattern, self.options.limit)]
            if host in selected:
                play, hosts = candidate, selected
                frame, where = self.play_scope(candidate)
                break
        magic: dict[str, Any] = self._play_magic(play, hosts) if play is not None else {"omit": OMIT}
        magic.update(
            inventory_hostname=host,
            inventory_hostname_short=host.split(".")[0],
            group_names=self.inventory.group_names(host),
            ansible_play_hosts=hosts,
            ansible_play_batch=hosts,
        )
        stack = layer_stack(
            scope=frame.scope,
            inventory=self.inventory.host_vars(host),
            host_state=HostVarState(),
            extra=self.options.extra_vars,
            magic=magic,
        )
        fixed = {"extra vars": "-e / --extra-vars", "magic": "magic variable (set by orch, cannot be overridden)"}
        sources: list[tuple[str, str, Any]] = []
        for layer, values in stack:
            if name not in values:
                continue
            if layer == "inventory":
                sources.extend(("inventory", w, v) for w, v in self.inventory.vars_origin(host, name))
            else:
                sources.append((layer, where.get(id(values), fixed.get(layer, layer)), values[name]))
        if not sources:
            return sources, None
        try:
            value = LazyVars([values for _, values in stack], self.templar)[name]
        except OrchError as exc:
            value = exc
        return sources, value

    def _vars_prompt(self, play: Play) -> dict[str, Any]:
        """Ask only when a terminal is there and -e did not already give the value; otherwise
        the prompt's default (Ansible would block on a closed stdin)."""
        values: dict[str, Any] = {}
        for prompt in play.vars_prompt:
            if prompt.name in self.options.extra_vars:
                continue
            if sys.stdin.isatty():
                import getpass

                default = f" [{prompt.default}]" if prompt.default is not None else ""
                ask = getpass.getpass if prompt.private else input
                answer = ask(f"{prompt.prompt}{default}: ")
                values[prompt.name] = answer if answer != "" or prompt.default is None else prompt.default
            elif prompt.default is not None:
                values[prompt.name] = prompt.default
            else:
                from orchestrator.errors import PlaybookError

                raise PlaybookError(
                    f"vars_prompt {prompt.name!r} has no default and there is no terminal to ask on; "
                    f"pass it with -e {prompt.name}=...",
                    play.location,
                )
        return values

    def _play_magic(self, play: Play, hosts: list[str]) -> dict[str, Any]:
        """The magic variables that are the same for every host of the play."""
        groups = self.inventory.groups_map()
        return {
            "groups": groups,
            "ansible_play_hosts_all": hosts,
            "ansible_play_name": play.name,
            "playbook_dir": self.playbook.basedir,
            "inventory_dir": os.path.dirname(os.path.abspath(self.inventory.sources[0]))
            if self.inventory.sources
            else None,
            "ansible_check_mode": self.options.settings.check,
            "ansible_diff_mode": self.options.settings.diff,
            "ansible_version": ANSIBLE_VERSION,
            "orch_version": __version__,
            "ansible_run_tags": self.options.tags,
            "ansible_skip_tags": self.options.skip_tags,
            "ansible_forks": self.options.forks,
            "ansible_verbosity": self.options.verbosity,
            "omit": OMIT,
        }

    def _host_inventory_vars(self, host: str) -> Mapping[str, Any]:
        cached = self._inventory_vars.get(host)
        if cached is None:
            cached = self.inventory.host_vars(host)
            self._inventory_vars[host] = cached
        return cached

    def _vars_files(self, play: Play, play_vars: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(path, values) of each vars_files entry (the first existing file of a list)."""
        from orchestrator.errors import PlaybookError
        from orchestrator.inventory import read_vars_file

        loaded: list[tuple[str, dict[str, Any]]] = []
        merged: dict[str, Any] = {}
        variables = LazyVars([play_vars, merged, self.options.extra_vars], self.templar)
        for entry in play.vars_files:
            candidates = entry if isinstance(entry, list) else [entry]
            for candidate in candidates:
                path = str(self.templar.render(candidate, variables))
                full = path if os.path.isabs(path) else os.path.join(self.playbook.basedir, path)
                if os.path.exists(full):
                    values = dict(read_vars_file(full))
                    merged.update(values)
                    loaded.append((full, values))
                    break
            else:
                raise PlaybookError(f"vars_files: none of {candidates} found", play.location)
        return loaded

    def _tag_filter(self, task: Task, frame: Frame) -> bool:
        """Whether a task runs: tags first, then --start-at-task, then --step (as Ansible)."""
        if not tags_match(frame.tags(task.options), self.options.tags, self.options.skip_tags):
            return False
        with self._select_lock:
            if self._start_at is not None:
                if not _name_matches(task, self._start_at):
                    return False
                self._start_at = None  # found: everything after runs, in later plays too
            if self._stepping and self.options.step is not None:
                answer = self.options.step(task.display_name).strip().lower()
                if answer.startswith("c"):
                    self._stepping = False
                return not answer.startswith("n")
        return True


def listed_tasks(play: Play, tags: list[str], skip_tags: list[str]) -> list[tuple[str, list[str]]]:
    """(name, effective tags) of the tasks --list-tasks shows, as ansible-playbook does: tags
    inherited from the play, roles and blocks; filtered by --tags and --skip-tags."""
    from orchestrator.playbook.roles import role_task_tree

    out: list[tuple[str, list[str]]] = []

    def walk(items: list[Task | Block], inherited: set[str]) -> None:
        for item in items:
            if isinstance(item, Block):
                walk([*item.block, *item.rescue, *item.always], inherited | set(item.options.tags))
                continue
            effective = inherited | set(item.options.tags)
            if tags_match(effective, tags or ["all"], skip_tags):
                out.append((item.display_name, sorted(effective)))

    play_tags = set(play.options.tags)
    walk(play.pre_tasks, play_tags)
    for role in play.roles:
        walk(role_task_tree(role), play_tags | set(role.options.tags))
    walk(play.tasks, play_tags)
    walk(play.post_tasks, play_tags)
    return out


def _name_matches(task: Task, pattern: str) -> bool:
    names = [n for n in (task.name, task.display_name) if n]
    return any(n == pattern or fnmatch.fnmatchcase(n, pattern) for n in names)


def tags_match(tags: set[str], run: list[str], skip: list[str]) -> bool:
    """Ansible's tag selection (Taggable.evaluate_tags): `always`, `never`, `tagged`,
    `untagged` and `all`; a task without tags counts as tagged `untagged`."""
    effective = set(tags) or {"untagged"}
    run_set, skip_set = set(run or ["all"]), set(skip)
    untagged = effective == {"untagged"}
    should_run = (
        "always" in effective
        or ("all" in run_set and "never" not in effective)
        or bool(effective & run_set)
        or ("tagged" in run_set and not untagged and "never" not in effective)
    )
    if should_run and skip_set:
        if "all" in skip_set:
            should_run = "always" in effective and "always" not in skip_set
        elif effective & skip_set or ("tagged" in skip_set and not untagged):
            should_run = False
    return should_run


def interrupted_message() -> None:
    print("\n[ERROR]: User interrupted execution", file=sys.stderr)
