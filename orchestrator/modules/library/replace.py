"""replace: substitute every match of a (multiline) Python regex in a file, as Ansible does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import FILE_COMMON_PARAMS, edit_file
from orchestrator.modules.spec import ArgSpec, Param


def replace_text(
    contents: str, regexp: str, replace: str, after: str | None = None, before: str | None = None
) -> tuple[str, int, str | None]:
    """(new contents, replacements made, pattern that failed to match or None). Pure."""
    pattern = ""
    if after and before:
        pattern = f"{after}(?P<subsection>.*?){before}"
    elif after:
        pattern = f"{after}(?P<subsection>.*)"
    elif before:
        pattern = f"(?P<subsection>.*){before}"
    start, stop = 0, len(contents)
    if pattern:
        section_match = re.search(re.compile(pattern, re.DOTALL), contents)
        if not section_match:
            return contents, 0, pattern
        start, stop = section_match.start("subsection"), section_match.end("subsection")
    section = contents[start:stop]
    try:
        new_section, count = re.subn(re.compile(regexp, re.MULTILINE), replace, section)
    except re.error as exc:
        raise ModuleFailed(f"Unable to process replace due to error: {exc}") from None
    if count == 0 or new_section == section:
        return contents, 0, None
    return contents[:start] + new_section + contents[stop:], count, None


@register
class Replace(Module):
    """Replace all instances of a pattern in a file (optionally only between after/before)."""

    name = "replace"
    aliases = ("ansible.legacy.replace",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("dest", "destfile", "name")),
            "regexp": Param("str", required=True),
            "replace": Param("str", default=""),
            "after": Param("str"),
            "before": Param("str"),
            "backup": Param("bool", default=False),
            "validate": Param("str"),
            "encoding": Param("str", default="utf-8"),
            **FILE_COMMON_PARAMS,
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        encoding = args["encoding"]

        def edit(old: bytes | None) -> tuple[bytes | None, str, dict[str, Any]]:
            if old is None:
                return b"", "", {}  # edit_file turns this into "Path ... does not exist !"
            try:
                text = old.decode(encoding, "surrogateescape")
            except LookupError:
                raise ModuleFailed(f"unknown encoding {encoding!r}") from None
            new, count, missed = replace_text(
                text, args["regexp"], args["replace"] or "", args.get("after"), args.get("before")
            )
            if missed is not None:
                return None, f"Pattern for before/after params did not match the given file: {missed}", {"rc": 0}
            if not count:
                return None, "", {"rc": 0}
            return new.encode(encoding, "surrogateescape"), f"{count} replacements made", {"rc": 0}

        return edit_file(ctx, args, args["path"], edit, diff_headers="{path}")
