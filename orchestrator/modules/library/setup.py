"""setup (gather_facts): collect facts with one shell script, parse them on the controller."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.facts import facts_script, parse_facts, select_sections
from orchestrator.modules.spec import ArgSpec, Param


@register
class Setup(Module):
    """Gather facts (distribution, network, memory, mounts, ...) as ansible_facts."""

    name = "setup"
    aliases = ("gather_facts", "ansible.builtin.gather_facts", "ansible.legacy.setup")
    spec = ArgSpec(
        params={
            "filter": Param("list", elements="str", default=[]),
            "gather_subset": Param("list", elements="str", default=["all"]),
            "gather_timeout": Param("int", default=10),
            "fact_path": Param("path", default="/etc/ansible/facts.d"),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        try:
            sections, _ = select_sections(args["gather_subset"])
        except ValueError as exc:
            raise ModuleFailed(str(exc)) from None
        result = ctx.query(facts_script(sections))
        facts = parse_facts(result.wire, args["gather_subset"])
        if args["filter"]:
            facts = {
                k: v
                for k, v in facts.items()
                if any(fnmatch.fnmatch(f"ansible_{k}", p) or fnmatch.fnmatch(k, p) for p in args["filter"])
            }
        return {"changed": False, "ansible_facts": facts}
