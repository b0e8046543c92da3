"""getent: a NSS database (passwd, group, hosts, ...) as facts `getent_<database>`, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


@register
class Getent(Module):
    """Read entries of a getent database: {key: [the other fields]} (Ansible's layout)."""

    name = "getent"
    spec = ArgSpec(
        params={
            "database": Param("str", required=True),
            "key": Param("str"),
            "split": Param("str"),
            "service": Param("str"),
            "fail_key": Param("bool", default=True),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        database = str(args["database"])
        command = ["getent"]
        if args.get("service"):
            command += ["-s", str(args["service"])]
        command.append(database)
        if args.get("key"):
            command.append(str(args["key"]))
        result = ctx.query(" ".join(quote(part) for part in command))
        if result.rc == 1:
            raise ModuleFailed("Missing arguments, or database unknown.")
        if result.rc == 2 and args.get("key"):
            if args["fail_key"]:
                raise ModuleFailed("One or more supplied key could not be found in the database.")
            return {"changed": False, "ansible_facts": {f"getent_{database}": {str(args["key"]): None}}}
        if result.rc == 3:
            raise ModuleFailed("Enumeration not supported on this database.")
        if result.rc != 0:
            raise ModuleFailed(result.err.strip() or f"getent failed with rc {result.rc}")
        split = args.get("split") or (":" if database in ("passwd", "shadow", "group", "gshadow") else None)
        entries: dict[str, Any] = {}
        for line in result.out.splitlines():
            fields = line.split(split) if split else line.split()
            if not fields or not fields[0]:
                continue
            entries.setdefault(fields[0], fields[1:])  # the first entry of a key wins, as in Ansible
        return {"changed": False, "ansible_facts": {f"getent_{database}": entries}}
