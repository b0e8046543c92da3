"""template: render a Jinja2 template on the controller and put the result on the host, as copy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import TemplateError
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import FILE_COMMON_PARAMS, put_content
from orchestrator.modules.library.copy import resolve_mode
from orchestrator.modules.spec import ArgSpec, Param

NEWLINES = {"\\n": "\n", "\\r": "\r", "\\r\\n": "\r\n", "\n": "\n", "\r": "\r", "\r\n": "\r\n"}
DELIMITERS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
)


@register
class Template(Module):
    """Render src (looked up in templates/) with the task's variables and write it to dest."""

    name = "template"
    aliases = ("ansible.legacy.template",)
    spec = ArgSpec(
        params={
            "src": Param("path", required=True, help="Template file (relative: the role's or playbook's templates/)."),
            "dest": Param("path", required=True, help="Remote path; an existing directory gets src's name."),
            "backup": Param("bool", default=False),
            "force": Param("bool", default=True),
            "validate": Param("str", help="Command run on the temp file (%s) before it is put in place."),
            "follow": Param("bool", default=False),
            "newline_sequence": Param("str", default="\\n", choices=("\\n", "\\r", "\\r\\n", "\n", "\r", "\r\n")),
            "trim_blocks": Param("bool", default=True),
            "lstrip_blocks": Param("bool", default=False),
            "output_encoding": Param("str", default="utf-8"),
            **{name: Param("str") for name in DELIMITERS},
            **FILE_COMMON_PARAMS,
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        path = ctx.find_file(args["src"], "templates")
        delimiters = {k: args[k] for k in DELIMITERS if args.get(k) is not None}
        try:
            text = ctx.templar.render_file(
                path,
                ctx.variables,
                dest=args["dest"],
                trim_blocks=args["trim_blocks"],
                lstrip_blocks=args["lstrip_blocks"],
                newline_sequence=NEWLINES[args["newline_sequence"]],
                **delimiters,
            )
        except TemplateError as exc:
            raise ModuleFailed(str(exc)) from None
        try:
            data = text.encode(args["output_encoding"], "surrogateescape")
        except LookupError:
            raise ModuleFailed(f"unknown output_encoding {args['output_encoding']!r}") from None
        result = put_content(ctx, resolve_mode(args, path), data, args["dest"], os.path.basename(path), last=True)
        result["src"] = args["src"]
        return result
