"""Shell building blocks shared by the file modules (copy, template, file, lineinfile, ...).

One implementation of "inspect a path", "does owner/group/mode match", "write atomically" so
every file module behaves the same: content goes to a temp file in the destination directory,
owner/mode are set and `validate` runs on the temp file, THEN it is renamed over the target.

Two entry points carry almost every file-writing module:
- `put_content` converges a path to hold given bytes (copy, template, and the editors below);
- `edit_file` reads a file, lets the module compute the new text on the controller (Python's
  `re`, exactly as Ansible's lineinfile/blockinfile/replace do) and writes it back only when it
  differs. A no-op is one round trip; a change costs a second.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.modules.base import ModuleFailed
from orchestrator.modules.spec import Param
from orchestrator.modules.wire import unhex
from orchestrator.transport.shell import printf_literal, quote

if TYPE_CHECKING:
    from orchestrator.modules.context import Converged, ModuleContext

DIFF_LIMIT = 64 * 1024  # bigger files are not shown in diffs (Ansible's default is similar)
BEFORE_SECTION = "before"  # the old content a query prints for diff mode
# Content up to this size travels inside the one script; bigger files go by SFTP, and only
# after a query showed the checksum differs.
INLINE_LIMIT = 256 * 1024

# Octal modes as orch_want_mode recognises them (a case pattern).
_OCTAL = "[0-7]|[0-7][0-7]|[0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]|[0-7][0-7][0-7][0-7][0-7]"

ATTR_PARAMS = {
    "owner": Param("str", help="User name (or uid) that should own the file."),
    "group": Param("str", help="Group name (or gid) that should own the file."),
    "mode": Param("mode", help="Octal (0644, '0644', '644') or symbolic (u=rw,g=r,o=r) mode."),
}
# Ansible's add_file_common_args: accepted everywhere a file is written. SELinux and chattr
# attributes are accepted for compatibility; Debian targets without SELinux ignore them.
FILE_COMMON_PARAMS = {
    **ATTR_PARAMS,
    "seuser": Param("str"),
    "serole": Param("str"),
    "selevel": Param("str"),
    "setype": Param("str"),
    "attributes": Param("str", aliases=("attr",)),
    "unsafe_writes": Param("bool", default=False),
}



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


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def octal_mode(mode: str) -> str:
    """stat's %a ('644') as Ansible reports modes ('0644')."""
    return f"{int(mode, 8):04o}" if mode else mode


def check_validate(validate: str | None) -> None:
    if validate and "%s" not in validate:
        raise ModuleFailed(f"validate must contain %s: {validate}")


def validate_line(validate: str | None) -> str:
    """Apply fragment: run `validate` with %s = the temp file "$tmp"; fail (nothing moved) if it fails."""
    if not validate:
        return ":"
    check = validate.replace("%s", '"$tmp"')
    return f'__o=$( ( eval {quote(check)} ) 2>&1 ) || orch_fail "failed to validate: $__o"'


def write_content_script(
    data: bytes | None,
    upload_path: str | None,
    validate: str | None,
    backup: bool,
    make_parents: bool = False,
) -> str:
    """Apply fragment: write new content for "$d" via a temp file beside it, then rename.

    New files get the umask's default mode; an existing file's mode and owner carry over (as
    Ansible's atomic_move does) unless owner/group/mode were asked for.
    """
    if data is not None:
        fill = f'printf {printf_literal(data)} > "$tmp"'
    else:
        assert upload_path is not None
        fill = 'cat -- "$__up" > "$tmp"'
    lines = [
        # The trap removes the temp file and the upload on every exit, failures included:
        # nothing is left behind in the directory or in /tmp.
        f"tmp= __up={quote(upload_path or '')}",
        "trap 'orch_rm_existing \"$tmp\" \"$__up\"' EXIT",
        # An interrupted run kills the command (TERM/HUP): exit through the EXIT trap, which cleans.
        "trap 'exit 143' TERM; trap 'exit 129' HUP",
        'orch_dirname "$d"',
        'mkdir -p -- "$__dir"' if make_parents else ":",
        '[ -d "$__dir" ] || orch_fail "Destination directory $__dir does not exist"',
        # A new name (random, from here) created 0600 and exclusively, as mktemp would, but
        # without starting a process. tmp is set only once the file is ours, for the trap.
        f'__t="$__dir/.orch-tmp.{secrets.token_hex(8)}"',
        'orch_create_private "$__t" || orch_fail "could not create a temporary file in $__dir"',
        'tmp=$__t',
        fill,
        # Final mode in ONE chmod, never a wider one first: a file asked to be 0600 is never
        # readable by others, not even between two chmods.
        'if [ "$st_state" = file ]; then chown "$st_uid:$st_gid" "$tmp" 2>/dev/null || :; fi',
        # An octal mode: owner first, then the one chmod (after chown, which clears set-id
        # bits) instead of chmod, chown, chmod again to the same mode.
        'case "$want_mode" in',
        f"  {_OCTAL}) orch_apply_owner \"$tmp\"; chmod \"$want_mode\" \"$tmp\" ;;",
        '  *) if [ "$st_state" = file ]; then __m=$st_mode; else __m=$(printf \'%o\' $(( 0666 & ~$(umask) ))); fi',
        '     if [ -n "$want_mode" ]; then __m=$(orch_want_mode "$tmp" "$want_mode" "$__m") || orch_fail "invalid mode: $want_mode"; fi',
        '     chmod "$__m" "$tmp"; orch_apply_attrs "$tmp" ;;',
        'esac',
    ]
    lines.append(validate_line(validate))
    if backup:
        lines.append('if [ "$st_state" = file ]; then orch_backup "$d"; fi')
    lines.append('mv -fT -- "$tmp" "$d"')
    return "\n".join(lines)


def show_before_script(path_var: str = '"$d"') -> str:
    """Query fragment: print the old content as section BEFORE_SECTION, for text files small enough."""
    return (
        f'if [ "$st_state" = file ] && [ "${{st_size:-0}}" -le {DIFF_LIMIT} ]; then '
        f"orch_section {BEFORE_SECTION}; cat -- {path_var}; fi"
    )


def as_text(data: bytes) -> str | None:
    """Text for a diff, or None when the content is binary or too large to show."""
    if len(data) > DIFF_LIMIT or b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def quiet_converge(
    ctx: ModuleContext,
    query: str,
    apply: str,
    *,
    last: bool = False,
    reads: Sequence[str] = (),
    sums: Sequence[str] = (),
) -> Converged:
    """ctx.converge for file modules: a failure reports its message and rc, not the key=value
    lines the query printed for the controller (Ansible's file modules fail with just `msg`)."""
    try:
        return ctx.converge(query, apply, last=last, reads=reads, sums=sums)
    except ModuleFailed as exc:
        raise ModuleFailed(exc.msg, rc=exc.result.get("rc", 1)) from None


def upload(ctx: ModuleContext, data: bytes) -> str | None:
    """Put `data` in a fresh temp file on the host by SFTP (as the login user); returns its path,
    or None when writes are not allowed (check mode): then nothing is sent."""
    path = f"/tmp/.orch-upload-{secrets.token_hex(8)}"
    return path if ctx.put(data, path, 0o600) else None


def file_result(fields: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """Ansible's file attribute keys (state, mode, owner, group, uid, gid, size) from stat fields."""
    out: dict[str, Any] = {}
    state = fields.get(prefix + "state")
    if not state or state == "absent":
        return out
    out["state"] = "hard" if state == "other" else state
    for key in ("owner", "group"):
        if fields.get(prefix + key):
            out[key] = fields[prefix + key]
    for key in ("uid", "gid", "size"):
        if fields.get(prefix + key, "").isdigit():
            out[key] = int(fields[prefix + key])
    if fields.get(prefix + "mode"):
        out["mode"] = octal_mode(fields[prefix + "mode"])
    return out


def put_content(
    ctx: ModuleContext,
    args: Mapping[str, Any],
    data: bytes,
    dest: str,
    src_name: str = "",
    *,
    diff: bool = True,
    make_parents: bool = False,
    follow: bool | None = None,
    last: bool = False,
) -> dict[str, Any]:
    """Converge `dest` to hold `data` with the wanted attributes, atomically. `last`: the caller
    makes no further remote call and does nothing after it that can fail the task (see
    ModuleContext.converge; copy of a directory calls it once per file: not last).

    Used by copy, template and every editor. `src_name` (copy/template from a file): a dest
    that is a directory or ends in "/" gets the file under that name. A dest that is a symlink
    is followed when `follow` (default args["follow"]); otherwise the link is replaced by a
    file when the content differs, as Ansible's atomic move does.
    """
    check_validate(args.get("validate"))
    follow = bool(args.get("follow")) if follow is None else follow
    checksum = sha1(data)
    name = quote(src_name)
    header = (
        f"d={quote(dest)} dest_dir=0\n"
        + (
            f'case "$d" in */) d="$d"{name}; dest_dir=1;; esac\n'
            f'if [ -d "$d" ] && [ ! -L "$d" ]; then d="$d/"{name}; dest_dir=1; fi\n'
            if src_name
            else ""
        )
        + attr_assignments(args)
    )
    force = "1" if args.get("force", True) else "0"
    query = f"""{header}
orch_kv dest_dir "$dest_dir"
orch_statvars "$d" || exit 1
if [ "$st_state" = link ]; then
  # Not followed, a link is replaced by the file (as Ansible's copy does): the `*)` case below.
  if [ {int(follow)} = 1 ]; then d=$(readlink -f -- "$d"); orch_kvx real_dest "$d"; orch_statvars "$d" || exit 1; fi
fi
content_change=0 attr_change=0
case "$st_state" in
  absent) content_change=1 ;;
  file) if orch_pf_sum "$d"; then cur=$__c; else cur=$(sha1sum < "$d"); cur=${{cur%% *}}; fi  # orch_sha1, 2 fewer forks
        orch_kv before_checksum "$cur"
        [ "$cur" = {checksum} ] || [ {force} = 0 ] || content_change=1
        orch_check_attrs "$d" ;;
  directory) orch_fail "Destination $d is a directory; cannot write a file there" ;;
  *) [ {force} = 1 ] || return 0; content_change=1 ;;
esac
orch_report_stat
{show_before_script() if ctx.diff_mode and diff else ":"}
[ "$content_change" = 1 ] || [ "$attr_change" = 1 ] && return 10
return 0"""
    inline = len(data) <= INLINE_LIMIT
    uploaded = None
    if not inline:
        # Big files: ask first (no transfer), upload only when the content differs.
        probe = quiet_converge(ctx, query, ":", sums=(dest,))
        if probe.changed and probe.fields().get("before_checksum") != checksum:
            uploaded = upload(ctx, data)
    if not inline and uploaded is None:
        write = ":"  # the probe found the content in place; only attributes can differ
    else:
        write = write_content_script(
            data if inline else None,
            uploaded,
            args.get("validate"),
            bool(args.get("backup")),
            make_parents,
        )
    apply = f"""if [ "$content_change" = 1 ]; then
{write}
else orch_apply_attrs "$d"; fi
orch_statvars "$d"; orch_report_stat after_"""
    converged = quiet_converge(ctx, query, apply, last=last, sums=(dest,))
    fields = converged.fields()
    old_content = converged.query.section(BEFORE_SECTION)
    before = None if old_content is None else old_content.decode("utf-8", "replace")
    after_fields = converged.apply.fields
    real = dest
    if fields.get("dest_dir") == "1":
        real = dest + src_name if dest.endswith("/") else f"{dest}/{src_name}"
    if "real_dest" in fields:
        real = unhex(fields["real_dest"])
    if converged.changed and diff and ctx.diff_mode:
        after = as_text(data)
        old = (before or "") if fields.get("state") == "file" else ""
        if after is not None and (before is not None or fields.get("state") != "file"):
            ctx.add_diff(old, after, real, real)
    result: dict[str, Any] = {"changed": converged.changed, "dest": real, "checksum": checksum}
    result.update(file_result(fields))
    if converged.changed:
        result["md5sum"] = md5(data)
        result["size"] = len(data)
        result.update(file_result(after_fields, "after_"))
    if "backup_file" in after_fields:
        result["backup_file"] = unhex(after_fields["backup_file"])
    return result


@dataclass
class RemoteFile:
    """A file as read by `read_file`: its stat fields and content (None unless a regular file)."""

    state: str
    content: bytes | None
    attr_change: bool
    fields: dict[str, str]


def read_file(ctx: ModuleContext, path: str, args: Mapping[str, Any]) -> RemoteFile:
    """One round trip: stat `path` (links followed), check wanted attributes, read its bytes."""
    script = f"""p={quote(path)}
{attr_assignments(args)}
orch_statvars "$p" || exit 1
if [ "$st_state" = link ]; then p=$(readlink -f -- "$p"); orch_statvars "$p" || exit 1; fi
orch_report_stat
if [ "$st_state" = file ]; then
  orch_check_attrs "$p"; orch_kv attr_change "$attr_change"
  orch_section content; cat -- "$p" || exit 1
fi
"""
    result = ctx.query(script, reads=(path,))
    if result.rc != 0:
        raise ModuleFailed(result.err.strip() or f"could not read {path}", rc=result.rc)
    fields = result.fields()
    return RemoteFile(
        state=fields.get("state", "absent"),
        content=result.wire.section("content"),
        attr_change=fields.get("attr_change") == "1",
        fields=fields,
    )


ATTR_MSG = "ownership, perms or SE linux context changed"


def edit_file(
    ctx: ModuleContext,
    args: Mapping[str, Any],
    path: str,
    edit: Callable[[bytes | None], tuple[bytes | None, str, dict[str, Any]]],
    *,
    create: bool = False,
    make_parents: bool | None = None,
    missing: str = "Path {path} does not exist !",
    diff_headers: str = "{path} (content)",
) -> dict[str, Any]:
    """Read `path`, compute its new content on the controller, write it back if it differs.

    `edit(old)` returns (new content or None for "leave as is", msg, extra result keys). `old`
    is None when the file does not exist (only when `create` or the edit allows absence). A
    created file's missing parent directories are made too, unless `make_parents` is False.
    """
    current = read_file(ctx, path, args)
    if current.state == "directory":
        raise ModuleFailed(f"Path {path} is a directory !", rc=256)
    if current.state == "absent" and not create:
        new, msg, extra = edit(None)
        if new is None:
            return {"changed": False, "msg": msg, **extra}
        raise ModuleFailed(missing.format(path=path), rc=257)
    new, msg, extra = edit(current.content)
    content_change = new is not None and (current.content is None or new != current.content)
    result: dict[str, Any] = {"changed": False, "msg": msg, **extra}
    if not content_change and not current.attr_change:
        return result
    data = new if content_change and new is not None else (current.content or b"")
    parents = create if make_parents is None else make_parents
    written = put_content(ctx, args, data, path, diff=False, make_parents=parents, follow=True, last=True)
    if content_change and ctx.diff_mode:
        header = diff_headers.format(path=path)
        before = as_text(current.content or b"")
        after = as_text(data)
        if before is not None and after is not None:
            ctx.add_diff(before, after, header, header)
    if current.attr_change:
        msg = f"{msg} and {ATTR_MSG}" if content_change and msg else (msg or ATTR_MSG)
    result.update({"changed": written["changed"], "msg": msg})
    if "backup_file" in written:
        result["backup_file"] = written["backup_file"]
        result["backup"] = written["backup_file"]
    return result
