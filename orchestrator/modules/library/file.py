"""file: state of a path (file, directory, link, hard, touch, absent) and its owner/group/mode,
recursively for directories; access/modification times. Ansible's rules and messages."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import (
    FILE_COMMON_PARAMS,
    attr_assignments,
    file_result,
    octal_mode,
    quiet_converge,
)
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import unhex
from orchestrator.transport.shell import quote

STATES = ("file", "directory", "link", "hard", "touch", "absent")

# The state when none is given: what is there, else directory with recurse, else file.
_RESOLVE = """if [ -z "$state" ]; then
  case "$st_state" in absent) if [ "$recurse" = 1 ]; then state=directory; else state=file; fi ;;
    other) state=hard ;; *) state=$st_state ;; esac
fi
orch_kv resolved_state "$state"
[ "$recurse" = 1 ] && [ "$state" != directory ] && orch_fail "recurse option requires state to be 'directory'"
"""

# Recursive attribute check below a directory: stops at the first entry that differs.
_RECURSE_CHECK = r"""orch_tree_differs() {
  if [ -n "$want_owner" ] && [ -n "$(find "$1" ! -user "$want_owner" -print -quit 2>/dev/null)" ]; then return 0; fi
  if [ -n "$want_group" ] && [ -n "$(find "$1" ! -group "$want_group" -print -quit 2>/dev/null)" ]; then return 0; fi
  [ -n "$want_mode" ] || return 1
  case "$want_mode" in
    *[!0-7]*) find "$1" -mindepth 1 | while IFS= read -r __e; do
                orch_statvars "$__e"; [ "$st_state" = link ] && continue
                orch_check_attrs "$__e"; [ "$attr_change" = 0 ] || { echo x; break; }
              done | grep -q x ;;
    *) [ -n "$(find "$1" -mindepth 1 ! -type l ! -perm "$(printf '%o' "0$want_mode")" -print -quit)" ] ;;
  esac
}
"""

_QUERY = r"""
case "$state" in
absent) [ "$st_state" = absent ] && return 0; return 10 ;;
file)
  case "$st_state" in
    absent) orch_fail "file ($p) is absent, cannot continue" ;;
    directory) orch_fail "$p is a directory, cannot continue as a file" ;;
  esac ;;
directory)
  case "$st_state" in
    absent) return 10 ;;
    directory) ;;
    *) orch_fail "$p already exists as a $st_state" ;;
  esac ;;
touch) [ "$st_state" = absent ] || [ "$mtime" = now ] || [ "$atime" = now ] && return 10 ;;
link)
  case "$src" in /*) abs_src=$src ;; *) if [ -d "$p" ] && [ ! -L "$p" ]; then abs_src="$p/$src"; else abs_src="$(dirname -- "$p")/$src"; fi ;; esac
  if [ "$force" != 1 ] && [ ! -e "$abs_src" ]; then
    orch_fail "src file does not exist, use 'force=yes' if you really want to create the link: $abs_src"; fi
  case "$st_state" in
    absent) return 10 ;;
    link) [ "$st_target" = "$src" ] || return 10 ;;
    directory) [ "$force" = 1 ] || orch_fail "refusing to convert from directory to symlink for $p"
               [ -z "$(ls -A -- "$p")" ] || orch_fail "the directory $p is not empty, refusing to convert it"; return 10 ;;
    *) [ "$force" = 1 ] || orch_fail "refusing to convert from $st_state to symlink for $p"; return 10 ;;
  esac ;;
hard)
  [ -e "$src" ] || orch_fail "src does not exist: $src"
  case "$st_state" in
    absent) return 10 ;;
    file|other) [ "$(stat -c %d:%i -- "$p")" = "$(stat -c %d:%i -- "$src")" ] || {
          [ "$force" = 1 ] || orch_fail "refusing to convert from $st_state to hard for $p"; return 10; } ;;
    *) [ "$force" = 1 ] || orch_fail "refusing to convert from $st_state to hard for $p"; return 10 ;;
  esac ;;
esac
orch_check_attrs "$p"; [ "$attr_change" = 1 ] && return 10
if [ "$recurse" = 1 ] && orch_tree_differs "$p"; then orch_kv tree_change 1; return 10; fi
if [ -n "$mtime" ] && [ "$mtime" != preserve ] && [ "$(stat -c %Y -- "$p")" != "$(orch_epoch "$mtime")" ]; then return 10; fi
if [ -n "$atime" ] && [ "$atime" != preserve ] && [ "$(stat -c %X -- "$p")" != "$(orch_epoch "$atime")" ]; then return 10; fi
return 0"""

_APPLY = r"""
case "$state" in
absent) rm -rf -- "$p"; exit 0 ;;
directory) # like Ansible, every directory it creates gets the owner, group and mode, not only $p
  __q=$p; __new=
  while [ ! -e "$__q" ] && [ ! -L "$__q" ]; do
    __new="$__q
$__new"; orch_dirname "$__q"; [ "$__dir" = "$__q" ] && break; __q=$__dir
  done
  mkdir -p -- "$p"
  printf '%s\n' "$__new" | while IFS= read -r __d; do
    [ -z "$__d" ] || [ "$__d" = "$p" ] || orch_apply_attrs "$__d"
  done ;;
touch) [ -e "$p" ] || : > "$p" ;;
link) if [ "$st_state" = directory ]; then rmdir -- "$p"; fi
      if [ "$st_state" = absent ]; then ln -s -- "$src" "$p"
      else __t="$(dirname -- "$p")/.orch-link.$$"; ln -s -- "$src" "$__t"; mv -fT -- "$__t" "$p"; fi ;;
hard) if [ "$st_state" = absent ]; then ln -- "$src" "$p"
      else __t="$(dirname -- "$p")/.orch-link.$$"; ln -- "$src" "$__t"; mv -fT -- "$__t" "$p"; fi ;;
esac
orch_apply_attrs "$p"
if [ "$recurse" = 1 ]; then
  [ -z "$want_owner" ] || chown -R -h -- "$want_owner" "$p"
  [ -z "$want_group" ] || chgrp -R -h -- "$want_group" "$p"
  [ -z "$want_mode" ] || find "$p" -mindepth 1 ! -type l -exec chmod -- "$want_mode" {} +
fi
case "$state" in touch)
  [ "$mtime" = preserve ] || touch -m ${mtime:+-t "$(orch_touch_t "$mtime")"} -- "$p"
  [ "$atime" = preserve ] || touch -a ${atime:+-t "$(orch_touch_t "$atime")"} -- "$p" ;;
*) if [ -n "$mtime" ] && [ "$mtime" != preserve ]; then touch -m -t "$(orch_touch_t "$mtime")" -- "$p"; fi
   if [ -n "$atime" ] && [ "$atime" != preserve ]; then touch -a -t "$(orch_touch_t "$atime")" -- "$p"; fi ;;
esac
orch_statvars "$p"; orch_report_stat after_"""

_TIME_SH = r"""# Times arrive as touch -t stamps (CCYYMMDDhhmm.ss) or "now", in the host's local time.
orch_touch_t() { if [ "$1" = now ]; then date +%Y%m%d%H%M.%S; else printf '%s\n' "$1"; fi; }
orch_epoch() {
  case "$1" in now) date +%s ;;
    *) date -d "$(printf '%s\n' "$1" | sed 's/^\(....\)\(..\)\(..\)\(..\)\(..\)\.\(..\)$/\1-\2-\3 \4:\5:\6/')" +%s ;; esac
}
"""


def _stamp(value: str | None, fmt: str, state: str) -> str:
    """A time parameter as a touch -t stamp, 'now', 'preserve' or '' (leave alone)."""
    if value is None:
        return "now" if state == "touch" else ""
    if value in ("now", "preserve"):
        return value
    try:
        return time.strftime("%Y%m%d%H%M.%S", time.strptime(value, fmt))
    except ValueError:
        raise ModuleFailed(f"Error while obtaining timestamp for time {value} using format {fmt}") from None


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
            "modification_time_format": Param("str", default="%Y%m%d%H%M.%S"),
            "access_time": Param("str"),
            "access_time_format": Param("str", default="%Y%m%d%H%M.%S"),
            "_original_basename": Param("str"),
            "_diff_peek": Param("bool"),
            **FILE_COMMON_PARAMS,
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        state = args.get("state") or ""
        if state in ("link", "hard") and not args.get("src"):
            raise ModuleFailed(f"src is required for creating new {'symlinks' if state == 'link' else 'hard links'}")
        path = args["path"]
        effective = state or "file"
        mtime = _stamp(args.get("modification_time"), args["modification_time_format"], effective)
        atime = _stamp(args.get("access_time"), args["access_time_format"], effective)
        header = (
            f"p={quote(path)} src={quote(args.get('src') or '')} state={quote(state)}\n"
            f"force={int(args['force'])} recurse={int(args['recurse'])} follow={int(args['follow'])}\n"
            f"mtime={quote(mtime)} atime={quote(atime)}\n" + attr_assignments(args)
        )
        basename = args.get("_original_basename") or (args.get("src") and args["src"].rstrip("/").rsplit("/", 1)[-1])
        redirect = (
            f'if [ "$state" != link ] && [ "$state" != absent ] && [ -d "$p" ] && [ ! -L "$p" ]; then p="$p/"{quote(basename)}; fi\n'
            if basename and state not in ("link", "absent", "hard") else ""
        )
        query = (
            f"{header}{redirect}orch_statvars \"$p\" || exit 1\n"
            # follow: a link is judged (and changed) through its target, except for link/absent
            'if [ "$st_state" = link ] && [ "$follow" = 1 ] && [ "$state" != link ] && [ "$state" != absent ] '
            '&& [ -e "$p" ]; then p=$(readlink -f -- "$p"); orch_statvars "$p"; fi\n'
            f"{_RESOLVE}orch_report_stat\n{_QUERY}"
        )
        sh = _TIME_SH + _RECURSE_CHECK
        converged = quiet_converge(ctx, sh + query, sh + _APPLY, last=True, reads=(path,))
        before = converged.fields()
        final_state = before.get("resolved_state", effective)
        if converged.changed:
            ctx.add_diff(*self._diff(path, before, final_state, args), path, path)
        result: dict[str, Any] = {"changed": converged.changed, "path": path}
        after = converged.apply.fields
        result.update(file_result(after if converged.changed and after else before, "after_" if converged.changed and after else ""))
        if final_state == "absent":
            result["state"] = "absent"
        elif "state" not in result:
            result["state"] = final_state if final_state != "touch" else "file"
        if final_state in ("link", "hard"):
            result["src"] = args["src"]
            result["dest"] = path
        return result

    @staticmethod
    def _diff(path: str, before: Mapping[str, str], state: str, args: Mapping[str, Any]) -> tuple[str, str]:
        old_state = before.get("state", "absent")
        old = f"path: {path}\nstate: {old_state}\n"
        new = f"path: {path}\nstate: {state if state != 'touch' else ('file' if old_state == 'absent' else old_state)}\n"
        if state == "link" and old_state == "link":
            old += f"src: {unhex(before.get('target', ''))}\n"
            new += f"src: {args.get('src')}\n"
        if args.get("mode") is not None and old_state not in ("absent",) and state != "absent":
            old += f"mode: {octal_mode(before.get('mode', ''))}\n"
            new += f"mode: {args['mode']}\n"
        return old, new
