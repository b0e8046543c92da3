"""lineinfile: make sure one line is (or is not) in a file, with Ansible's matching rules.

The text is edited on the controller with Python's `re` on bytes, which is exactly what
Ansible's module does on the host; the target only needs `cat` and the atomic write.
One deliberate difference: with insertafter matching the last line of a file that lacks a final
newline, Ansible glues the new line onto it; orch adds the missing newline first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import FILE_COMMON_PARAMS, edit_file
from orchestrator.modules.spec import ArgSpec, Param

NL = b"\n"


def _compile(pattern: str, what: str) -> re.Pattern[bytes]:
    try:
        return re.compile(pattern.encode("utf-8", "surrogateescape"))
    except re.error as exc:
        raise ModuleFailed(f"invalid {what} {pattern!r}: {exc}") from None


def _bare(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def present_lines(
    lines: list[bytes],
    line: str,
    *,
    regexp: str | None = None,
    search_string: str | None = None,
    insertafter: str | None = None,
    insertbefore: str | None = None,
    backrefs: bool = False,
    firstmatch: bool = False,
) -> tuple[list[bytes], str]:
    """Ansible's lineinfile state=present on a list of lines (with their endings). Pure."""
    lines = list(lines)
    if insertbefore is None and insertafter is None:
        insertafter = "EOF"
    b_line = line.encode("utf-8", "surrogateescape")
    if insertafter not in (None, "BOF", "EOF"):
        anchor: re.Pattern[bytes] | None = _compile(insertafter, "insertafter")
    elif insertbefore not in (None, "BOF"):
        anchor = _compile(insertbefore, "insertbefore")
    else:
        anchor = None
    found, insert_at = -1, -1
    match: re.Match[bytes] | bool | None = None
    exact = False
    if regexp is not None:
        pattern = _compile(regexp, "regexp")
        for i, cur in enumerate(lines):
            hit = pattern.search(cur)
            if hit:
                found, match = i, hit
                if firstmatch:
                    break
    if search_string is not None:
        needle = search_string.encode("utf-8", "surrogateescape")
        for i, cur in enumerate(lines):
            if needle in cur:
                found, match = i, True
                if firstmatch:
                    break
    if not match:
        for i, cur in enumerate(lines):
            if b_line == _bare(cur):
                found, exact = i, True
            elif anchor is not None and anchor.search(cur):
                if insertafter:
                    insert_at = i + 1
                if insertbefore:
                    insert_at = i
                if firstmatch:
                    break

    def ensure_last_newline() -> None:
        if lines and lines[-1][-1:] not in (b"\n", b"\r"):
            lines[-1] += NL

    if found != -1:
        new = match.expand(b_line) if backrefs and isinstance(match, re.Match) else b_line
        if not new.endswith(NL):
            new += NL
        if (regexp, search_string, match) == (None, None, None) and not exact:
            return lines, ""  # unreachable in practice: a found line is always exact here
        if lines[found] != new:
            lines[found] = new
            return lines, "line replaced"
        return lines, ""
    if backrefs:
        return lines, ""  # backrefs with no match: leave the file alone (Ansible's rule)
    if insertbefore == "BOF" or insertafter == "BOF":
        lines.insert(0, b_line + NL)
        return lines, "line added"
    if insertafter == "EOF" or insert_at == -1:
        if lines and lines[-1][-1:] not in (b"\n", b"\r"):
            lines.append(NL)
        lines.append(b_line + NL)
        return lines, "line added"
    if insertafter:
        if insert_at == len(lines):
            if _bare(lines[insert_at - 1]) != b_line:
                ensure_last_newline()
                lines.append(b_line + NL)
                return lines, "line added"
            return lines, ""
        if _bare(lines[insert_at]) != b_line:
            lines.insert(insert_at, b_line + NL)
            return lines, "line added"
        return lines, ""
    lines.insert(insert_at, b_line + NL)
    return lines, "line added"


def absent_lines(
    lines: list[bytes], *, line: str | None, regexp: str | None, search_string: str | None
) -> tuple[list[bytes], int]:
    """Ansible's lineinfile state=absent: drop every matching line; returns (lines, removed)."""
    pattern = _compile(regexp, "regexp") if regexp is not None else None
    needle = search_string.encode("utf-8", "surrogateescape") if search_string is not None else None
    b_line = (line or "").encode("utf-8", "surrogateescape")

    def hit(cur: bytes) -> bool:
        if pattern is not None:
            return bool(pattern.search(cur))
        if needle is not None:
            return needle in cur
        return b_line == _bare(cur)

    kept = [cur for cur in lines if not hit(cur)]
    return kept, len(lines) - len(kept)


@register
class LineInFile(Module):
    """Ensure a particular line is in a file, or replace an existing line matched by a regexp."""

    name = "lineinfile"
    aliases = ("ansible.legacy.lineinfile",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("dest", "destfile", "name")),
            "state": Param("str", default="present", choices=("absent", "present")),
            "regexp": Param("str", aliases=("regex",), help="Python regex searched in every line."),
            "search_string": Param("str", help="Literal string searched in every line."),
            "line": Param("str", aliases=("value",)),
            "insertafter": Param("str", help="Regex, or EOF (default)."),
            "insertbefore": Param("str", help="Regex, or BOF."),
            "backrefs": Param("bool", default=False),
            "create": Param("bool", default=False),
            "backup": Param("bool", default=False),
            "firstmatch": Param("bool", default=False),
            "validate": Param("str"),
            **FILE_COMMON_PARAMS,
        },
        mutually_exclusive=(
            ("insertbefore", "insertafter"),
            ("regexp", "search_string"),
            ("backrefs", "search_string"),
        ),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        state = args["state"]
        regexp, search, line = args.get("regexp"), args.get("search_string"), args.get("line")
        if "" in (regexp, search):
            what = "regular expression" if regexp == "" else "search string"
            ctx.warnings.append(
                f"The {what} is an empty string, which will match every line in the file. This may have "
                "unintended consequences, such as replacing the last line in the file rather than appending."
            )
        if state == "present":
            if args["backrefs"] and regexp is None:
                raise ModuleFailed("regexp is required with backrefs=true")
            if line is None:
                raise ModuleFailed("line is required with state=present")

            def edit(old: bytes | None) -> tuple[bytes | None, str, dict[str, Any]]:
                lines = (old or b"").splitlines(keepends=True)
                new, msg = present_lines(
                    lines,
                    line,
                    regexp=regexp,
                    search_string=search,
                    insertafter=args.get("insertafter"),
                    insertbefore=args.get("insertbefore"),
                    backrefs=args["backrefs"],
                    firstmatch=args["firstmatch"],
                )
                return b"".join(new) if msg else old, msg, {"backup": ""}

            return edit_file(
                ctx, args, args["path"], edit, create=args["create"], missing="Destination {path} does not exist !"
            )
        if (regexp, search, line) == (None, None, None):
            raise ModuleFailed("one of line, search_string, or regexp is required with state=absent")

        def remove(old: bytes | None) -> tuple[bytes | None, str, dict[str, Any]]:
            if old is None:
                return None, "file not present", {}
            kept, removed = absent_lines(old.splitlines(keepends=True), line=line, regexp=regexp, search_string=search)
            msg = f"{removed} line(s) removed" if removed else ""
            return (b"".join(kept) if removed else None), msg, {"found": removed, "backup": ""}

        return edit_file(ctx, args, args["path"], remove)
