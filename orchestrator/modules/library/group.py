"""group: local groups with groupadd/groupmod/groupdel, in one round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

# orch_ent: a builtin read of /etc/group (getent only for groups not in it); the gid is cut
# with parameter expansions, so a no-op starts no process.
_QUERY = r"""
orch_ent group "$n" 2>/dev/null || :; __line=$__ent
case "$__line" in *:*:*) __gid=${__line#*:*:}; __gid=${__gid%%:*} ;; *) __gid= ;; esac
orch_kv before_gid "$__gid"
if [ "$state" = absent ]; then [ -n "$__line" ] && return 10; return 0; fi
[ -z "$__line" ] && return 10
[ -n "$want_gid" ] && [ "$want_gid" != "$__gid" ] && return 10
return 0
"""

_APPLY = r"""
orch_ent group "$n" 2>/dev/null || :; __line=$__ent
if [ "$state" = absent ]; then
  __o=$(groupdel ${force:+-f} -- "$n" 2>&1) || orch_fail "$__o"
elif [ -z "$__line" ]; then
  __o=$(groupadd ${want_gid:+-g "$want_gid"} ${non_unique:+-o} ${system:+-r} -- "$n" 2>&1) || orch_fail "$__o"
else
  __o=$(groupmod -g "$want_gid" ${non_unique:+-o} -- "$n" 2>&1) || orch_fail "$__o"
fi
orch_ent group "$n" 2>/dev/null || :
case "$__ent" in *:*:*) __gid=${__ent#*:*:}; __gid=${__gid%%:*} ;; *) __gid= ;; esac
orch_kv after_gid "$__gid"
"""


@register
class Group(Module):
    """Add, change the gid of, or remove a local group."""

    name = "group"
    aliases = ("ansible.legacy.group",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True),
            "state": Param("str", default="present", choices=("absent", "present")),
            "gid": Param("int"),
            "system": Param("bool", default=False),
            "force": Param("bool", default=False),
            "local": Param("bool", default=False),
            "non_unique": Param("bool", default=False),
            "gid_min": Param("int"),
            "gid_max": Param("int"),
        },
        required_if=(("non_unique", True, ("gid",)),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name = args["name"]
        header = (
            f"n={quote(name)} state={args['state']} "
            f"want_gid={quote(str(args['gid']) if args.get('gid') is not None else '')} "
            f"force={'1' if args['force'] else ''} system={'1' if args['system'] else ''} "
            f"non_unique={'1' if args['non_unique'] else ''}\n"
        )
        converged = ctx.converge(header + _QUERY, header + _APPLY, last=True)
        before = converged.fields().get("before_gid", "")
        after = converged.apply.fields.get("after_gid", "")
        result: dict[str, Any] = {"changed": converged.changed, "name": name, "state": args["state"]}
        if converged.changed:
            ctx.add_diff(
                _describe(name, before),
                _describe(
                    name, "" if args["state"] == "absent" else after or str(args.get("gid") or "(new)")
                ),
                name,
                name,
            )
            if not converged.applied:
                return {"changed": True}
        gid = after if converged.changed else before
        if args["state"] == "present" and gid.isdigit():
            result["gid"] = int(gid)
            result["system"] = args["system"]
        return result


def _describe(name: str, gid: str) -> str:
    return f"group: {name}\ngid: {gid}\n" if gid else f"group: {name}\nstate: absent\n"
