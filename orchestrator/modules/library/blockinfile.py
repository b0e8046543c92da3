"""blockinfile: a block of lines between markers, with Ansible's markers and placement rules.

Markers default to `# BEGIN ANSIBLE MANAGED BLOCK` / `# END ANSIBLE MANAGED BLOCK`, so a file
managed by Ansible is taken over without a duplicate block. Edited on the controller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import FILE_COMMON_PARAMS, edit_file
from orchestrator.modules.library.lineinfile import _compile
from orchestrator.modules.spec import ArgSpec, Param

NL = b"\n"


def apply_block(
    original: bytes | None,
    *,
    block: str,
    present: bool,
    marker: str = "# {mark} ANSIBLE MANAGED BLOCK",
    marker_begin: str = "BEGIN",
    marker_end: str = "END",
    insertafter: str | None = None,
    insertbefore: str | None = None,
    append_newline: bool = False,
    prepend_newline: bool = False,
) -> tuple[bytes, str]:
    """The new file content and Ansible's msg ('' when nothing changes). Pure."""
    lines = original.splitlines(keepends=True) if original is not None else []
    if insertbefore is None and insertafter is None:
        insertafter = "EOF"
    if insertafter not in (None, "EOF"):
        anchor: re.Pattern[bytes] | None = _compile(insertafter, "insertafter")
    elif insertbefore not in (None, "BOF"):
        anchor = _compile(insertbefore, "insertbefore")
    else:
        anchor = None
    b_marker = marker.encode("utf-8", "surrogateescape")
    begin = b_marker.replace(b"{mark}", marker_begin.encode()) + NL
    end = b_marker.replace(b"{mark}", marker_end.encode()) + NL
    b_block = block.encode("utf-8", "surrogateescape")
    if present and b_block:
        if not b_block.endswith(NL):
            b_block += NL
        blocklines = [begin, *b_block.splitlines(keepends=True), end]
    else:
        blocklines = []
    n0 = n1 = None
    for i, line in enumerate(lines):
        if line == begin:
            n0 = i
        if line == end:
            n1 = i
    if n0 is None or n1 is None:
        n0 = None
        if anchor is not None:
            if anchor.flags & re.MULTILINE and original is not None:
                hit = anchor.search(original)
                if hit:
                    n0 = original.count(b"\n", 0, hit.end() if insertafter else hit.start())
            else:
                for i, line in enumerate(lines):
                    if anchor.search(line):
                        n0 = i
            if n0 is None:
                n0 = len(lines)
            elif insertafter is not None:
                n0 += 1
        elif insertbefore is not None:
            n0 = 0  # BOF
        else:
            n0 = len(lines)  # EOF
    elif n0 < n1:
        del lines[n0 : n1 + 1]
    else:
        del lines[n1 : n0 + 1]
        n0 = n1
    if n0 > 0 and not lines[n0 - 1].endswith(NL):
        lines[n0 - 1] += NL
    if prepend_newline and present and n0 != 0 and lines[n0 - 1] != NL:
        lines[n0:n0] = [NL]
        n0 += 1
    lines[n0:n0] = blocklines
    if append_newline and present:
        after = n0 + len(blocklines)
        if after < len(lines) and lines[after] != NL:
            lines[after:after] = [NL]
    result = b"".join(lines)
    if original == result:
        return result, ""
    if original is None:
        return result, "File created"
    return result, "Block removed" if not blocklines else "Block inserted"


@register
class BlockInFile(Module):
    """Insert, update or remove a block of lines surrounded by marker lines."""

    name = "blockinfile"
    aliases = ("ansible.legacy.blockinfile",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("dest", "destfile", "name")),
            "state": Param("str", default="present", choices=("absent", "present")),
            "marker": Param("str", default="# {mark} ANSIBLE MANAGED BLOCK"),
            "block": Param("str", default="", aliases=("content",)),
            "insertafter": Param("str"),
            "insertbefore": Param("str"),
            "create": Param("bool", default=False),
            "backup": Param("bool", default=False),
            "validate": Param("str"),
            "marker_begin": Param("str", default="BEGIN"),
            "marker_end": Param("str", default="END"),
            "append_newline": Param("bool", default=False),
            "prepend_newline": Param("bool", default=False),
            **FILE_COMMON_PARAMS,
        },
        mutually_exclusive=(("insertbefore", "insertafter"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        present = args["state"] == "present"

        def edit(old: bytes | None) -> tuple[bytes | None, str, dict[str, Any]]:
            if old is None and not present:
                return None, f"File {args['path']} not present", {}
            new, msg = apply_block(
                old,
                block=args["block"] or "",
                present=present,
                marker=args["marker"],
                marker_begin=args["marker_begin"],
                marker_end=args["marker_end"],
                insertafter=args.get("insertafter"),
                insertbefore=args.get("insertbefore"),
                append_newline=args["append_newline"],
                prepend_newline=args["prepend_newline"],
            )
            return (new if msg else old), msg, {}

        return edit_file(ctx, args, args["path"], edit, create=args["create"] and present)
