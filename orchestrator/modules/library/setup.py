"""setup (gather_facts): collect facts with one shell script, parse them on the controller."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from orchestrator.executor.context import ModuleContext
from orchestrator.facts import FACTS_SCRIPT, parse_facts
from orchestrator.modules.base import Module, register
from orchestrator.modules.spec import ArgSpec, Param


@register
class Setup(Module):
    name = "setup"
    aliases = ("gather_facts", "ansible.builtin.gather_facts")
    spec = ArgSpec(
        params={
            "filter": Param("list", elements="str", default=[]),
            "gather_subset": Param("list", elements="str", default=["all"]),
            "gather_timeout": Param("int", default=10),
            "fact_path": Param("path"),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        facts = parse_facts(ctx.run("LC_ALL=C; export LC_ALL\n" + FACTS_SCRIPT).out)
        if args["filter"]:
            facts = {
                k: v
                for k, v in facts.items()
                if any(fnmatch.fnmatch(f"ansible_{k}", p) or fnmatch.fnmatch(k, p) for p in args["filter"])
            }
        return {"changed": False, "ansible_facts": facts}
