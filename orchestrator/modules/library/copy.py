"""copy: put content or a controller file on the host, atomically, only when it differs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from orchestrator.executor.context import ModuleContext
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.fileops import (
    ATTR_PARAMS,
    FILE_SH,
    as_text,
    attr_assignments,
    sha1,
    show_before_script,
    split_before,
    write_content_script,
)
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

# Content up to this size travels inside the one script; bigger files go by SFTP, and only
# after the query showed the checksum differs.
INLINE_LIMIT = 256 * 1024


def put_content(
    ctx: ModuleContext,
    args: Mapping[str, Any],
    data: bytes,
    dest: str,
    src_name: str = "",
) -> dict[str, Any]:
    """Converge `dest` to hold `data` with the wanted attributes. Shared by copy and template."""
    checksum = sha1(data)
    header = (
        f"d={quote(dest)}\n"
        f'case "$d" in */) d="$d"{quote(src_name)};; esac\n'
        f'[ -d "$d" ] && [ -n {quote(src_name)} ] && d="$d/"{quote(src_name)}\n' + attr_assignments(args)
    )
    force = "1" if args.get("force", True) else "0"
    query = f"""{header}
orch_statvars "$d" || exit 1
[ "$st_state" = link ] && {{ d=$(readlink -f -- "$d"); orch_statvars "$d" || exit 1; }}
orch_kv dest "$d"
content_change=0 attr_change=0
case "$st_state" in
  absent) content_change=1 ;;
  file) cur=$(orch_sha1 "$d"); orch_kv before_checksum "$cur"
        [ "$cur" = {checksum} ] || [ {force} = 0 ] || content_change=1
        orch_check_attrs "$d" ;;
  *) orch_fail "Destination $d exists and is a $st_state, not a file" ;;
esac
orch_report_stat
{show_before_script() if ctx.diff_mode else ":"}
[ "$content_change" = 1 ] || [ "$attr_change" = 1 ] && return 10
return 0"""
    inline = len(data) <= INLINE_LIMIT
    upload = None
    if not inline:
        # Two steps for big files: ask first (no transfer), upload only when needed.
        probe = ctx.converge(query, ":") if not ctx.check_mode else None
        if probe is not None and probe.changed:
            upload = ctx.run("mktemp -- /tmp/.orch-upload.XXXXXX").out.strip()
            ctx.conn.put(data, upload, 0o600)
    write = write_content_script(
        data if inline else None, upload, args.get("validate"), bool(args.get("backup"))
    )
    apply = f"""if [ "$content_change" = 1 ]; then
{write}
else orch_apply_attrs "$d"; fi"""
    if not inline and upload is None and not ctx.check_mode:
        apply = ":"  # the probe found nothing to do
    converged = ctx.converge(FILE_SH + query, FILE_SH + apply)
    head, before = split_before(converged.query_out)
    fields = converged.fields() if before is None else _fields(head)
    if converged.changed and ctx.diff_mode:
        after = as_text(data)
        old = before if fields.get("state") == "file" else ""
        if after is not None and old is not None:
            ctx.add_diff(old, after, fields.get("dest", dest), fields.get("dest", dest))
    result: dict[str, Any] = {
        "changed": converged.changed,
        "dest": fields.get("dest", dest),
        "checksum": checksum,
        "size": len(data),
    }
    result.update(_apply_fields(converged.apply_out))
    if args.get("mode") is not None:
        result["mode"] = args["mode"]
    return result


def _fields(text: str) -> dict[str, str]:
    from orchestrator.executor.context import parse_fields

    return parse_fields(text)


def _apply_fields(text: str) -> dict[str, str]:
    fields = _fields(text)
    return {"backup_file": fields["backup_file"]} if "backup_file" in fields else {}


@register
class Copy(Module):
    """Copy a file from the controller, or given content, to the host."""

    name = "copy"
    aliases = ("ansible.legacy.copy",)
    spec = ArgSpec(
        params={
            "src": Param("path", help="Local file (relative: the role's or playbook's files/)."),
            "content": Param("raw", no_log=False, help="Literal content to write instead of src."),
            "dest": Param("path", required=True, help="Remote path; a trailing / means a directory."),
            "backup": Param("bool", default=False),
            "force": Param("bool", default=True, aliases=("thirsty",)),
            "validate": Param("str", help="Command run on the temp file (%s) before it is put in place."),
            "remote_src": Param("bool", default=False),
            "directory_mode": Param("mode"),
            "follow": Param("bool", default=False),
            "local_follow": Param("bool", default=True),
            "decrypt": Param("bool", default=True),
            "checksum": Param("str"),
            "unsafe_writes": Param("bool", default=False),
            **ATTR_PARAMS,
        },
        mutually_exclusive=(("content", "src"),),
        required_one_of=(("content", "src"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args.get("remote_src"):
            raise ModuleFailed("copy with remote_src is not supported yet")
        if args.get("content") is not None:
            content = args["content"]
            if not isinstance(content, str):
                import json

                content = json.dumps(content)  # Ansible writes dict/list content as JSON
            data, name = content.encode("utf-8", "surrogateescape"), ""
        else:
            path = ctx.find_file(args["src"])
            if os.path.isdir(path):
                raise ModuleFailed("copy of a directory src is not supported yet")
            with open(path, "rb") as handle:
                data = handle.read()
            name = os.path.basename(path)
        result = put_content(ctx, args, data, args["dest"], name)
        if args.get("src"):
            result["src"] = args["src"]
        return result
