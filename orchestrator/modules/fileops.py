"""Shell building blocks shared by the file modules (copy, file, template, ...).

One implementation of "inspect a path", "does owner/group/mode match", "write atomically" so
every file module behaves the same: content goes to a temp file in the destination directory,
owner/mode are set and `validate` runs on the temp file, THEN it is renamed over the target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.spec import Param
from orchestrator.transport.shell import printf_literal, quote

DIFF_LIMIT = 64 * 1024  # bigger files are not shown in diffs (Ansible's default is similar)
BEFORE_MARK = "__ORCH_BEFORE__"

ATTR_PARAMS = {
    "owner": Param("str", help="User name (or uid) that should own the file."),
    "group": Param("str", help="Group name (or gid) that should own the file."),
    "mode": Param("mode", help="Octal (0644, '0644', '644') or symbolic (u=rw,g=r,o=r) mode."),
}

FILE_SH = r"""
orch_statvars() {
  st_state=absent st_mode= st_owner= st_group= st_uid= st_gid= st_size= st_target=
  if [ -L "$1" ]; then st_state=link; st_target=$(readlink -- "$1")
  elif [ -d "$1" ]; then st_state=directory
  elif [ -f "$1" ]; then st_state=file
  elif [ -e "$1" ]; then st_state=other
  else return 0; fi
  __s=$(stat -c '%a %U %G %u %g %s' -- "$1") || return 1
  set -- $__s
  st_mode=$1 st_owner=$2 st_group=$3 st_uid=$4 st_gid=$5 st_size=$6
}
orch_report_stat() {
  orch_kv state "$st_state"; orch_kv mode "$st_mode"; orch_kv owner "$st_owner"; orch_kv group "$st_group"
  orch_kv uid "$st_uid"; orch_kv gid "$st_gid"; orch_kv size "$st_size"
  [ -n "$st_target" ] && orch_kv target "$st_target"; return 0
}
# The mode `$2` (octal or symbolic) would give to path $1 (whose current mode is $3): octal, no zeros.
orch_want_mode() {
  case "$2" in
    [0-7]|[0-7][0-7]|[0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]|[0-7][0-7][0-7][0-7][0-7]) printf '%o\n' "0$2"; return;;
  esac
  # Symbolic: apply it to a scratch file of the same type and current mode, read the result.
  __d=$(mktemp -d) || return 1
  if [ -d "$1" ]; then mkdir "$__d/x"; else : > "$__d/x"; fi
  chmod "${3:-644}" "$__d/x" && chmod -- "$2" "$__d/x" && stat -c '%a' "$__d/x"; __r=$?
  rm -rf "$__d"; return $__r
}
# Sets attr_change=1 when owner/group/mode of $1 differ from want_owner/want_group/want_mode.
orch_check_attrs() {
  attr_change=0
  if [ -n "$want_owner" ] && [ "$want_owner" != "$st_owner" ] && [ "$want_owner" != "$st_uid" ]; then
    attr_change=1; fi
  if [ -n "$want_group" ] && [ "$want_group" != "$st_group" ] && [ "$want_group" != "$st_gid" ]; then
    attr_change=1; fi
  if [ -n "$want_mode" ]; then
    want_octal=$(orch_want_mode "$1" "$want_mode" "$st_mode") || orch_fail "invalid mode: $want_mode"
    [ "$want_octal" = "$st_mode" ] || attr_change=1
  fi
}
orch_apply_attrs() {
  if [ -n "$want_owner" ]; then chown -h -- "$want_owner" "$1"; fi
  if [ -n "$want_group" ]; then chgrp -h -- "$want_group" "$1"; fi
  if [ -n "$want_mode" ]; then chmod -- "$want_mode" "$1"; fi
}
# Put stdin-less content (a printf format) or an uploaded file at $1 atomically.
orch_backup() {
  backup_file="$1.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  cp -p -- "$1" "$backup_file" && orch_kv backup_file "$backup_file"
}
"""


def attr_assignments(args: Mapping[str, Any]) -> str:
    """Shell assignments of the wanted attributes (empty = leave as is)."""
    mode = args.get("mode")
    return (
        f"want_owner={quote(str(args.get('owner') or ''))} "
        f"want_group={quote(str(args.get('group') or ''))} "
        f"want_mode={quote(str(mode) if mode is not None else '')}\n"
    )


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def write_content_script(
    data: bytes | None, upload_path: str | None, validate: str | None, backup: bool
) -> str:
    """Apply fragment: write new content for "$d" via a temp file beside it, then rename.

    New files get the umask's default mode; an existing file's mode and owner carry over (as
    Ansible's atomic_move does) unless owner/group/mode were asked for.
    """
    if data is not None:
        fill = f'printf {printf_literal(data)} > "$tmp"'
    else:
        assert upload_path is not None
        fill = f'cat -- {quote(upload_path)} > "$tmp"; rm -f -- {quote(upload_path)}'
    lines = [
        '__dir=$(dirname -- "$d")',
        '[ -d "$__dir" ] || orch_fail "Destination directory $__dir does not exist"',
        'tmp=$(mktemp -- "$__dir/.orch-tmp.XXXXXX")',
        "trap 'rm -f -- \"$tmp\"' EXIT",
        fill,
        'if [ "$st_state" = file ]; then chmod "$st_mode" "$tmp"; chown "$st_uid:$st_gid" "$tmp" 2>/dev/null || :',
        'else chmod "$(printf \'%o\' $(( 0666 & ~$(umask) )))" "$tmp"; fi',
        'orch_apply_attrs "$tmp"',
    ]
    if validate:
        check = validate.replace("%s", '"$tmp"')
        lines.append(f'__o=$( ( eval {quote(check)} ) 2>&1 ) || orch_fail "failed to validate: $__o"')
    if backup:
        lines.append('[ "$st_state" = file ] && orch_backup "$d"')
    lines.append('mv -f -- "$tmp" "$d"')
    return "\n".join(lines)


def split_before(query_out: str) -> tuple[str, str | None]:
    """Split the query's fields from the old content it printed for diff mode (if any)."""
    head, sep, before = query_out.partition(f"\n{BEFORE_MARK}\n")
    return head, (before if sep else None)


def show_before_script(path_var: str = '"$d"') -> str:
    """Query fragment: print the old content after BEFORE_MARK, for text files small enough."""
    return (
        f'if [ "$st_state" = file ] && [ "${{st_size:-0}}" -le {DIFF_LIMIT} ]; then '
        f"printf '\\n%s\\n' {BEFORE_MARK}; cat -- {path_var}; fi"
    )


def as_text(data: bytes) -> str | None:
    """Text for a diff, or None when the content is binary or too large to show."""
    if len(data) > DIFF_LIMIT or b"\0" in data:
        return None
    return data.decode("utf-8", "replace")
