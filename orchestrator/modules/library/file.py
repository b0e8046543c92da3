"""file: state of a path: file, directory, link, hard, touch, absent; owner/group/mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.executor.context import ModuleContext
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.fileops import ATTR_PARAMS, FILE_SH, attr_assignments
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

STATES = ("file", "directory", "link", "hard", "touch", "absent")

# One query/apply pair per state; "$p" is the path, "$src" the link target.
_QUERY = {
    "absent": '[ "$st_state" = absent ] && return 0; return 10',
    "file": """case "$st_state" in
  absent) orch_fail "file ($p) is absent, cannot continue" ;;
  directory) [ -n "$want_mode$want_owner$want_group" ] || return 0 ;;
esac
orch_check_attrs "$p"; [ "$attr_change" = 1 ] && return 10; return 0""",
    "directory": """case "$st_state" in
  absent) return 10 ;;
  directory) orch_check_attrs "$p"; [ "$attr_change" = 1 ] && return 10; return 0 ;;
  *) orch_fail "$p exists and is a $st_state, not a directory" ;;
esac""",
    "touch": "return 10",
    "link": """case "$st_state" in
  absent) return 10 ;;
  link) [ "$st_target" = "$src" ] || return 10
        orch_check_attrs "$p"; [ "$attr_change" = 1 ] && return 10; return 0 ;;
  directory) [ "$force" = 1 ] || orch_fail "refusing to convert from directory to symlink for $p"; return 10 ;;
  *) [ "$force" = 1 ] || orch_fail "refusing to convert from $st_state to symlink for $p"; return 10 ;;
esac""",
    "hard": """[ -e "$src" ] || orch_fail "src file does not exist: $src"
case "$st_state" in
  absent) return 10 ;;
  file) [ "$(stat -c %d:%i -- "$p")" = "$(stat -c %d:%i -- "$src")" ] || {
          [ "$force" = 1 ] || orch_fail "refusing to replace $p by a hard link (use force)"; return 10; }
        orch_check_attrs "$p"; [ "$attr_change" = 1 ] && return 10; return 0 ;;
  *) orch_fail "$p exists and is a $st_state" ;;
esac""",
}

_APPLY = {
    "absent": 'rm -rf -- "$p"',
    "file": 'orch_apply_attrs "$p"',
    "directory": 'mkdir -p -- "$p"; orch_apply_attrs "$p"',
    "touch": '[ -e "$p" ] || : > "$p"; touch -- "$p"; orch_apply_attrs "$p"',
    "link": """if [ "$st_state" = directory ]; then rm -rf -- "$p"; fi
__t="$p.orch-link.$$"; ln -s -- "$src" "$__t"; mv -fT -- "$__t" "$p"
orch_apply_attrs "$p" """,
    "hard": """__t="$p.orch-link.$$"; ln -- "$src" "$__t"; mv -fT -- "$__t" "$p"; orch_apply_attrs "$p" """,
}


@register
class File(Module):
    """Manage a path's type and attributes."""

    name = "file"
    aliases = ("ansible.legacy.file",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("dest", "name")),
            "state": Param("str", choices=STATES),
            "src": Param("path", help="Target of a link (state=link/hard)."),
            "force": Param("bool", default=False),
            "follow": Param("bool", default=True),
            "recurse": Param("bool", default=False),
            "modification_time": Param("str"),
            "access_time": Param("str"),
            "unsafe_writes": Param("bool", default=False),
            **ATTR_PARAMS,
        },
        required_if=(("state", "link", ("src",)), ("state", "hard", ("src",))),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        state = args.get("state") or (
            "link" if args.get("src") else "directory" if args["recurse"] else "file"
        )
        if args["recurse"]:
            raise ModuleFailed("file with recurse is not supported yet")
        path = args["path"]
        header = (
            f"p={quote(path)} src={quote(args.get('src') or '')} force={1 if args['force'] else 0}\n"
            + attr_assignments(args)
        )
        query = f'{header}orch_statvars "$p" || exit 1\norch_report_stat\n{_QUERY[state]}'
        converged = ctx.converge(FILE_SH + query, FILE_SH + _APPLY[state])
        before = converged.fields()
        if converged.changed:
            ctx.add_diff(
                f"path: {path}\nstate: {before.get('state', 'absent')}\n",
                f"path: {path}\nstate: {state if state != 'touch' else 'file'}\n",
                path,
                path,
            )
        result: dict[str, Any] = {"changed": converged.changed, "path": path, "state": state}
        if state in ("link", "hard"):
            result["src"] = args["src"]
        return result
