"""slurp: read a remote file into the result, base64-encoded (`content`, `encoding`, `source`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


@register
class Slurp(Module):
    """Slurp a file from the remote host (base64 encodes on the host: needs only coreutils)."""

    name = "slurp"
    aliases = ("ansible.legacy.slurp",)
    spec = ArgSpec(params={"src": Param("path", required=True, aliases=("path",))})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        src = args["src"]
        script = (
            f"s={quote(src)}\n"
            'if [ -d "$s" ]; then echo "source is a directory and must be a file" >&2; exit 3; fi\n'
            '[ -e "$s" ] || { echo "file not found: $s" >&2; exit 2; }\n'
            '[ -r "$s" ] || { echo "file is not readable: $s" >&2; exit 4; }\n'
            'base64 -w0 < "$s"\n'
        )
        result = ctx.query(script)
        if result.rc != 0:
            raise ModuleFailed(result.err.strip() or f"could not read {src}", rc=result.rc)
        return {"changed": False, "content": result.out.strip(), "encoding": "base64", "source": src}
