"""ping: prove the host answers and can run a shell (not ICMP)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


@register
class Ping(Module):
    name = "ping"
    aliases = ("ansible.legacy.ping",)
    spec = ArgSpec(params={"data": Param("str", default="pong")})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args["data"] == "crash":
            raise ModuleFailed("boom")  # Ansible's documented way to test failure handling
        result = ctx.query(f"printf %s {quote(args['data'])}")
        return {"changed": False, "ping": result.out}
