"""package_facts: the installed packages as `ansible_facts.packages`, read-only (dpkg here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param

# Installed packages only (status "install ok installed"), one per line.
_SCRIPT = r"""
command -v dpkg-query >/dev/null 2>&1 || orch_fail "Could not detect a supported package manager from the following list: ['apt']"
dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\n'
"""


@register
class PackageFacts(Module):
    """Gather installed packages: {name: [{name, version, arch, category, source}]}."""

    name = "package_facts"
    spec = ArgSpec(
        params={
            "manager": Param("list", elements="str", default=["auto"]),
            "strategy": Param("str", default="first", choices=("first", "all")),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        managers = [str(m) for m in args["manager"]]
        if not set(managers) <= {"auto", "apt"}:
            raise ModuleFailed(f"package_facts: orch reads apt (dpkg) packages only, not {managers}")
        result = ctx.query(_SCRIPT)
        if result.rc != 0:
            raise ModuleFailed(result.err.strip() or f"dpkg-query failed with rc {result.rc}")
        packages: dict[str, list[dict[str, Any]]] = {}
        for line in result.out.splitlines():
            fields = line.split("\t")
            if len(fields) < 5 or not fields[0].startswith("ii"):
                continue
            _, name, version, arch, section = fields[:5]
            entry = {"name": name, "version": version, "arch": arch, "category": section, "source": "apt"}
            packages.setdefault(name, []).append(entry)
        return {"changed": False, "ansible_facts": {"packages": packages}}
