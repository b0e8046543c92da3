"""What a module sees while it runs on one host: ModuleContext.

`converge(query, apply)` is the heart of idempotence: a module states how to inspect the host
(query: read-only, `return 10` when a change is needed) and how to change it (apply). Both
travel in ONE script; the engine, not the module, decides whether apply may run, so check mode
is enforced in one place and a no-op task costs one round trip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ModuleFailed
from orchestrator.modules.shlib import LIBRARY
from orchestrator.modules.wire import parse_fields
from orchestrator.results import Diff
from orchestrator.transport.base import BecomeSpec, CommandResult, Connection

CHANGE_NEEDED = 10  # the query's "needs change" return code



@dataclass
class Converged:
    """The outcome of a query/apply pair."""

    changed: bool
    query_out: str
    apply_out: str
    stderr: str
    rc: int

    def fields(self) -> dict[str, str]:
        """key=value lines the query printed (orch_kv / orch_stat), first occurrence wins."""
        return parse_fields(self.query_out)


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

    def run(self, script: str, *, stdin: bytes | None = None) -> CommandResult:
        """Run `script` on the host; the functions of LIBRARY are defined."""
        return self.conn.run(
            script, stdin=stdin, become=self.become, env=self.env or None, timeout=self.timeout, library=LIBRARY
        )

    def converge(self, query: str, apply: str) -> Converged:
        """Run query, and apply when query returned CHANGE_NEEDED and we are not in check mode.

        Fails (ModuleFailed) when query or apply exit with any other non-zero code; the apply
        fragment runs under `set -e`, so its first failing command stops it.
        """
        sep = "__ORCH_APPLY_" + secrets.token_hex(6)
        script = (
            f"__orch_query() {{\n{query}\n}}\n__orch_apply() {{\n{apply}\n}}\n"
            "__orch_query; __q=$?\n"
            f'if [ "$__q" = {CHANGE_NEEDED} ]; then\n'
            f"  {'exit ' + str(CHANGE_NEEDED) if self.check_mode else ':'}\n"
            f"  printf '\\n%s\\n' {sep}\n"
            # Not `( ... ) || exit`: set -e is ignored inside a command whose status is tested.
            '  ( set -e; __orch_apply ); __a=$?; [ "$__a" = 0 ] || exit "$__a"\n'
            f"  exit {CHANGE_NEEDED}\n"
            "fi\n"
            'exit "$__q"\n'
        )
        result = self.run(script)
        out = result.out
        query_out, _, apply_out = out.partition(f"\n{sep}\n")
        if result.rc not in (0, CHANGE_NEEDED):
            raise ModuleFailed(
                (result.err.strip() or apply_out.strip() or f"command failed with rc {result.rc}"),
                rc=result.rc,
                stdout=out,
                stderr=result.err,
            )
        return Converged(result.rc == CHANGE_NEEDED, query_out, apply_out, result.err, result.rc)

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
