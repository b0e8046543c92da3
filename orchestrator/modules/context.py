"""What a module sees while it runs on one host: ModuleContext.

`converge(query, apply)` is the heart of idempotence: a module states how to inspect the host
(query: read-only, `return 10` when a change is needed) and how to change it (apply). Both
travel in ONE script; the engine, not the module, decides whether apply may run, so check mode
is enforced in one place and a no-op task costs one round trip.

Every way a module reaches the host is one of these, and only the engine reads check mode:
- query(script): read-only, always runs (facts, stat, reading a file);
- converge(query, apply): apply runs only when query asks for it and writes are allowed;
  Converged.applied says whether it ran, so a module reports "did" or "would do" from that;
- change(script) / put(data, path) / save_local(path, data): an unconditional write (the last
  one on the controller); None / False when not allowed;
- put_temp(data) / drop_temp(path): a scratch file for this task only (a .deb to simulate
  with), sent in check mode too and removed before the module returns.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ModuleFailed
from orchestrator.modules.shlib import LIBRARY
from orchestrator.modules.wire import WireOutput, new_token, parse, token_preamble
from orchestrator.results import Diff
from orchestrator.transport.base import BecomeSpec, CommandResult, Connection
from orchestrator.transport.shell import quote

CHANGE_NEEDED = 10  # the query's "needs change" return code



@dataclass(frozen=True)
class Reply(CommandResult):
    """A module script's result, and its output read as the wire format (modules/wire.py)."""

    token: str = ""

    @functools.cached_property
    def wire(self) -> WireOutput:
        return parse(self.stdout, self.token)

    def fields(self) -> dict[str, str]:
        """The key=value lines the script printed before its first section."""
        return self.wire.fields


APPLY_SECTION = "orch.apply"  # converge's section between the query's output and apply's


@dataclass
class Converged:
    """The outcome of a query/apply pair."""

    changed: bool  # the query asked for the change
    query: WireOutput  # what the query printed
    apply: WireOutput  # what the apply step printed (empty when it did not run)
    stderr: str
    rc: int
    applied: bool = False  # the apply step ran (False in check mode)

    @property
    def query_out(self) -> str:
        """The query's output before its first section (its fields, or a command's output)."""
        return self.query.head_text

    @property
    def apply_out(self) -> str:
        """The apply step's output before its first section."""
        return self.apply.head_text

    def fields(self) -> dict[str, str]:
        """key=value lines the query printed (orch_kv / orch_stat), first occurrence wins."""
        return self.query.fields


@dataclass
class ModuleContext:
    host: str
    conn: Connection
    become: BecomeSpec | None
    check_mode: bool
    diff_mode: bool
    variables: Mapping[str, Any]
    templar: Any  # orchestrator.templating.Templar
    search_dirs: list[str]  # where relative src files are looked up (role dirs, playbook dir)
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    diffs: list[Diff] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # A hint only: the paths the next script stats with orch_statvars (`reads=`) and those whose
    # content it checksums with orch_pf_sum's fallback (`sums=`). A pipelined batch reads them all
    # at once for the commands it holds (orch_prefetch_stats, _sums). Only what the script reads
    # goes in `sums`: reading a file moves its access time.
    reads: tuple[str, ...] = ()
    sums: tuple[str, ...] = ()

    def query(
        self, script: str, *, stdin: bytes | None = None, reads: Sequence[str] = (), sums: Sequence[str] = ()
    ) -> Reply:
        """Run a READ-ONLY `script` on the host (it runs in check mode too); LIBRARY is defined.
        `reads`, `sums`: see above."""
        self.reads, self.sums = tuple(reads), tuple(sums)
        return self._run(script, stdin)

    def run(self, script: str, *, stdin: bytes | None = None) -> Reply:
        """Deprecated spelling of query(), kept while branches written before issue 17 land: use
        query() to read and converge()/change() to write. A write through it would run in check
        mode too, which tests/integration/test_check_mode_all_modules.py catches."""
        return self._run(script, stdin)

    def change(self, script: str, *, stdin: bytes | None = None) -> Reply | None:
        """Run a script that changes the host; None (not run) when writes are not allowed."""
        return None if self.check_mode else self._run(script, stdin)

    def put(self, data: bytes, path: str, mode: int = 0o600) -> bool:
        """Upload `data` to `path` as the login user; False (nothing sent) when writes are not allowed."""
        if self.check_mode:
            return False
        self.conn.put(data, path, mode)
        return True

    def put_temp(self, data: bytes, *, prefix: str = ".orch-upload-", suffix: str = "", mode: int = 0o600) -> str:
        """Upload `data` to a fresh /tmp file only this task uses (a package to inspect): sent in
        check mode too, because the module removes it with drop_temp() before it returns."""
        path = f"/tmp/{prefix}{secrets.token_hex(6)}{suffix}"
        self.conn.put(data, path, mode)
        return path

    def drop_temp(self, path: str) -> None:
        """Remove a file put_temp() (or an allowed write) left in /tmp; runs in check mode too."""
        self._run(f"rm -f -- {quote(path)}", None)

    def save_local(self, path: str, data: bytes, mode: int = 0o644) -> bool:
        """Write a file on the CONTROLLER (fetch), atomically; False (not written) when writes
        are not allowed."""
        if self.check_mode:
            return False
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".orch-fetch.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        return True

    def token(self) -> str:
        """The random wire token of the next script (modules/wire.py). A method, so the engine can
        run a module's Python twice over the same output, once to plan a pipelined task and once
        to read its result, with the same token (executor/pipeline.py)."""
        return new_token()

    def require(self, met: bool, msg: str) -> None:
        """Fail with `msg` when a precondition of the write (a user, a group) is not met, unless
        writes are not allowed: in check mode an earlier, simulated task may have met it."""
        if not met and not self.check_mode:
            raise ModuleFailed(msg)

    def _run(self, script: str, stdin: bytes | None) -> Reply:
        token = self.token()
        result = self._send(token_preamble(token) + script, stdin)
        return Reply(result.rc, result.stdout, result.stderr, token)

    def _send(self, script: str, stdin: bytes | None) -> CommandResult:
        """The one place a script leaves for the host (executor/pipeline.py's contexts override it)."""
        return self.conn.run(
            script, stdin=stdin, become=self.become, env=self.env or None, timeout=self.timeout, library=LIBRARY
        )

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
    ) -> Converged:
        """Run query, and apply when query returned CHANGE_NEEDED and writes are allowed.

        Fails (ModuleFailed) when query or apply exit with any other non-zero code; the apply
        fragment runs under `set -e`, so its first failing command stops it. With
        `apply_is_result` (command, shell, script) apply runs as written and its exit status
        is returned in rc, not judged.

        `last` promises that the module makes no further remote call after this one, returns
        no facts, and fails only when the exit status says so (not 0 or 10; with
        apply_is_result, not 0): then the engine may let the host go on with the next tasks
        without waiting (executor/pipeline.py), also when this is the module's second call.
        `reads`, `sums`: the paths the query stats and checksums (see `reads` above).
        """
        self.reads, self.sums = tuple(reads), tuple(sums)
        if apply_is_result:
            run_apply = "  ( __orch_apply ); exit $?\n"
        else:
            # Not `( ... ) || exit`: set -e is ignored inside a command whose status is tested.
            run_apply = f'  ( set -e; __orch_apply ); __a=$?; [ "$__a" = 0 ] || exit "$__a"\n  exit {CHANGE_NEEDED}\n'
        # In check mode, and in a task the engine runs ahead of an undecided one (executor/
        # pipeline.py sets __orch_hold), the change is reported, never made.
        hold = f"exit {CHANGE_NEEDED}" if self.check_mode else f'[ -z "${{__orch_hold-}}" ] || exit {CHANGE_NEEDED}'
        script = (
            f"__orch_query() {{\n{query}\n}}\n__orch_apply() {{\n{apply}\n}}\n"
            "__orch_query; __q=$?\n"
            f'if [ "$__q" = {CHANGE_NEEDED} ]; then\n'
            f"  {hold}\n"
            f"  orch_section {APPLY_SECTION}\n"
            f"{run_apply}"
            "fi\n"
            'exit "$__q"\n'
        )
        result = self._run(script, stdin)
        query_part, apply_part = result.wire.split(APPLY_SECTION)
        applied = apply_part is not None
        apply_part = apply_part or WireOutput(b"")
        if apply_is_result and applied:
            return Converged(True, query_part, apply_part, result.err, result.rc, applied=True)
        if result.rc not in (0, CHANGE_NEEDED):
            raise ModuleFailed(
                (result.err.strip() or apply_part.head_text.strip() or f"command failed with rc {result.rc}"),
                rc=result.rc,
                stdout=result.out,
                stderr=result.err,
            )
        return Converged(result.rc == CHANGE_NEEDED, query_part, apply_part, result.err, result.rc, applied)

    def find_file(self, name: str, subdir: str = "files") -> str:
        """Resolve a relative `src` as Ansible does: role/playbook `files/` (or `templates/`) first."""
        path = os.path.expanduser(name)
        if os.path.isabs(path):
            if not os.path.exists(path):
                raise ModuleFailed(f"could not find src file {name!r}")
            return path
        tried = []
        for base in self.search_dirs:
            for candidate in (os.path.join(base, subdir, path), os.path.join(base, path)):
                tried.append(candidate)
                if os.path.exists(candidate):
                    return candidate
        raise ModuleFailed(f"could not find {name!r}; searched: {', '.join(tried)}")

    def add_diff(self, before: str, after: str, before_header: str, after_header: str) -> None:
        if self.diff_mode:
            self.diffs.append(Diff(before, after, before_header, after_header))
