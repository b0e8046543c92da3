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

from orchestrator.modules.base import ModuleFailed
from orchestrator.modules.fileops import FILE_SH
from orchestrator.modules.nss import NSS_SH
from orchestrator.results import Diff
from orchestrator.transport.base import BecomeSpec, CommandResult, Connection
from orchestrator.transport.shell import ShellLibrary

CHANGE_NEEDED = 10  # the query's "needs change" return code

# Shell helpers every module script may use. Kept POSIX: the target may have only sh + coreutils.
_BASE_SH = r"""
orch_fail() { printf '%s\n' "$*" >&2; exit 1; }
orch_kv() { printf '%s=%s\n' "$1" "$2"; }
orch_stat() {
  # state mode owner group size mtime of $1, or "absent"
  if [ -L "$1" ]; then printf 'state=link\ntarget=%s\n' "$(readlink "$1")"
  elif [ -d "$1" ]; then echo state=directory
  elif [ -f "$1" ]; then echo state=file
  elif [ -e "$1" ]; then echo state=other
  else echo state=absent; return 0; fi
  stat -c 'mode=%a
owner=%U
group=%G
uid=%u
gid=%g
size=%s
mtime=%Y' -- "$1"
}
orch_sha1() { sha1sum < "$1" | cut -d' ' -f1; }
"""
# All of them, defined once in each persistent shell (see transport.shell.ShellLibrary): the file
# helpers alone are 4 KB, which every file task used to send and the host to parse, twice.
LIBRARY = ShellLibrary(_BASE_SH + FILE_SH + NSS_SH)


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


def parse_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key.replace("_", "").isalnum() and key not in out:
            out[key] = value
    return out


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
