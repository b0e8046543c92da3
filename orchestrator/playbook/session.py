"""State shared while loading one playbook: collected errors and warnings, YAML files read,
and the scope (file, role, play) a list of tasks is loaded in.

Loading never stops at the first problem: each is recorded with its file:line:col and the
loader carries on with what it can, so one run reports every mistake.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from orchestrator.errors import PlaybookError, SourceLocation
from orchestrator.modules.spec import is_templated
from orchestrator.playbook.keywords import KeywordError
from orchestrator.playbook.model import Role, Task
from orchestrator.yamlsource import YamlNotes, load_yaml_file, location_of

MISSING: Any = object()  # a file that could not be read (the error is already recorded)


def where(*candidates: Any, fallback: SourceLocation | None = None) -> SourceLocation | None:
    """The location of the first candidate that has one (a located value, key or location)."""
    for candidate in candidates:
        loc = candidate if isinstance(candidate, SourceLocation) else location_of(candidate)
        if loc is not None:
            return loc
    return fallback


@dataclass
class PlayState:
    """Per-play bookkeeping: handlers added by import_role, roles already placed (dedup)."""

    import_handlers: list[Task] = field(default_factory=list)
    roles_seen: dict[Any, Role] = field(default_factory=dict)
    handler_roles: set[Any] = field(default_factory=set)


@dataclass(frozen=True)
class Scope:
    """Where the node being loaded sits."""

    path: str  # the YAML file being read
    basedir: str  # the playbook's directory
    role: Role | None = None
    handlers: bool = False  # loading a handlers list
    parents: tuple[str, ...] = ()  # files whose import_tasks led here, outermost first
    role_chain: tuple[str, ...] = ()  # role dirs being loaded, for cycle detection
    play: PlayState | None = None
    module_defaults: Mapping[str, Any] = field(default_factory=dict)  # inherited from play/blocks
    template_vars: Mapping[str, Any] = field(default_factory=dict)  # for static import names

    def child(self, **changes: Any) -> Scope:
        return dataclasses.replace(self, **changes)


class Session:
    def __init__(self, extra_vars: Mapping[str, Any] | None = None) -> None:
        self.errors: list[PlaybookError] = []
        self.warnings: list[str] = []
        self.extra_vars = dict(extra_vars or {})
        self._files: dict[str, Any] = {}
        # per file: sorted (line, col, text) of YAML 1.1 booleans, for the warnings
        self._yaml11: dict[str, list[tuple[int, int, str]]] = {}
        self._jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)

    # --- reporting ---------------------------------------------------------------------------

    def error(self, message: str, location: SourceLocation | None) -> None:
        self.errors.append(PlaybookError(message, location))

    def warn(self, message: str, location: SourceLocation | None = None) -> None:
        self.warnings.append(f"{location}: {message}" if location else message)

    @contextmanager
    def keyword(self, key: Any, value: Any) -> Iterator[None]:
        """Report a KeywordError raised inside at the value's (or the key's) location."""
        try:
            yield
        except KeywordError as exc:
            self.error(str(exc), exc.location or where(value, key))

    def unique_errors(self) -> list[PlaybookError]:
        seen: set[tuple[str, str]] = set()
        out = []
        for err in self.errors:  # a file imported twice reports its problems once
            key = (str(err.location), err.message)
            if key not in seen:
                seen.add(key)
                out.append(err)
        return out

    def unique_warnings(self) -> list[str]:
        return list(dict.fromkeys(self.warnings))

    # --- files -------------------------------------------------------------------------------

    def read_yaml(self, path: str) -> Any:
        """The parsed file (cached), or MISSING after recording why it could not be read."""
        key = os.path.abspath(path)
        if key not in self._files:
            notes = YamlNotes()
            try:
                self._files[key] = load_yaml_file(path, PlaybookError, notes)
            except PlaybookError as exc:
                self.errors.append(exc)
                self._files[key] = MISSING
            self._yaml11[str(Path(path))] = sorted(
                (loc.line, loc.col, text) for loc, text in notes.yaml11_booleans
            )
        return self._files[key]

    def yaml11_value(
        self, key_loc: SourceLocation, before: SourceLocation | None
    ) -> tuple[SourceLocation, str] | None:
        """Where and how a YAML 1.1 boolean (`yes`, `off`...) was written as the key's value.

        It is the first such word after the key, on the key's line or the next one, and before
        the next key of the same mapping (`before`); None if the value was not written so.
        """
        notes = self._yaml11.get(key_loc.path, [])
        idx = bisect.bisect_right(notes, (key_loc.line, key_loc.col, "\uffff"))
        if idx >= len(notes):
            return None
        line, col, text = notes[idx]
        if line > key_loc.line + 1 or (before is not None and (line, col) > (before.line, before.col)):
            return None
        return SourceLocation(key_loc.path, line, col), text

    # --- static templating (import names, role names) -----------------------------------------

    def render_static(self, value: Any, scope: Scope, what: str, loc: SourceLocation | None) -> str | None:
        """Render a name needed at load time from play vars and extra vars; None on failure."""
        text = str(value)
        if not is_templated(text):
            return text
        variables = {**scope.template_vars, **self.extra_vars}
        try:
            return self._jinja.from_string(text).render(variables)
        except jinja2.UndefinedError as exc:
            self.error(
                f"{what}: cannot resolve {text!r} at load time ({exc.message}); static imports can only "
                "use play vars and extra vars (-e); use include_* for host or fact variables",
                loc,
            )
        except jinja2.TemplateError as exc:
            self.error(f"{what}: invalid template {text!r}: {exc}", loc)
        return None

    def check_condition(self, key: str, cond: Any, loc: SourceLocation | None) -> None:
        """Report Jinja2 syntax errors in a `when`-like condition now rather than mid-run."""
        if not isinstance(cond, str):
            return
        if "{{" in cond or "{%" in cond:
            self.warn(f"'{key}': conditions are already expressions; drop the {{{{ }}}} around {cond!r}", loc)
            return
        try:
            self._jinja.parse("{{ (" + cond + "\n) }}")
        except jinja2.TemplateSyntaxError as exc:
            self.error(f"'{key}': invalid condition {cond!r}: {exc.message}", loc)
