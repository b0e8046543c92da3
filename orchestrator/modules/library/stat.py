"""stat: facts about a path, with Ansible's result keys (register it and read `st.stat.exists`)."""

from __future__ import annotations

import stat as statmod
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import unhex
from orchestrator.transport.shell import quote

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")

_FORMAT = (
    r"rawmode=%f\nuid=%u\ngid=%g\nsize=%s\ninode=%i\ndev=%d\nnlink=%h\natime=%.9X\nmtime=%.9Y\n"
    r"ctime=%.9Z\npw_name=%U\ngr_name=%G\nblocks=%b\nblock_size=%B\nrdev_major=%t\nrdev_minor=%T\n"
)


def stat_script(path: str, follow: bool, checksum: str | None, mime: bool) -> str:
    """A read-only script printing key=value lines for `path` (exists=0 when it is absent)."""
    flag = "-L " if follow else ""
    lines = [
        f"p={quote(path)}",
        'if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo exists=0; exit 0; fi',
        "echo exists=1",
        f"stat {flag}--printf '{_FORMAT}' -- \"$p\" || exit 1",
        '[ -r "$p" ] && echo readable=1; [ -w "$p" ] && echo writeable=1; [ -x "$p" ] && echo executable=1',
    ]
    if not follow:
        lines.append('if [ -L "$p" ]; then orch_kvx lnk_target "$(readlink -- "$p")"; '
                     'orch_kvx lnk_source "$(readlink -f -- "$p")"; fi')
    if checksum:
        test = '[ -f "$p" ] && [ -r "$p" ]' + ('' if follow else ' && [ ! -L "$p" ]')
        lines.append(f'if {test}; then echo "checksum=$({checksum}sum < "$p" | cut -d" " -f1)"; fi')
    if mime:
        lines.append(
            'if command -v file >/dev/null 2>&1; then echo "mimetype=$(file -b --mime-type -- "$p")"; '
            'echo "charset=$(file -b --mime-encoding -- "$p")"; '
            "else echo mimetype=unknown; echo charset=unknown; fi"
        )
    return "\n".join(lines) + "\n"


def stat_result(path: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Ansible's `stat` dict from the script's fields. Pure."""
    if fields.get("exists") != "1":
        return {"exists": False}
    raw = int(fields["rawmode"], 16)
    out: dict[str, Any] = {
        "exists": True,
        "path": path,
        "mode": f"{statmod.S_IMODE(raw):04o}",
        "isdir": statmod.S_ISDIR(raw),
        "ischr": statmod.S_ISCHR(raw),
        "isblk": statmod.S_ISBLK(raw),
        "isreg": statmod.S_ISREG(raw),
        "isfifo": statmod.S_ISFIFO(raw),
        "islnk": statmod.S_ISLNK(raw),
        "issock": statmod.S_ISSOCK(raw),
        "uid": int(fields["uid"]),
        "gid": int(fields["gid"]),
        "size": int(fields["size"]),
        "inode": int(fields["inode"]),
        "dev": int(fields["dev"]),
        "nlink": int(fields["nlink"]),
        "atime": float(fields["atime"]),
        "mtime": float(fields["mtime"]),
        "ctime": float(fields["ctime"]),
        "wusr": bool(raw & statmod.S_IWUSR),
        "rusr": bool(raw & statmod.S_IRUSR),
        "xusr": bool(raw & statmod.S_IXUSR),
        "wgrp": bool(raw & statmod.S_IWGRP),
        "rgrp": bool(raw & statmod.S_IRGRP),
        "xgrp": bool(raw & statmod.S_IXGRP),
        "woth": bool(raw & statmod.S_IWOTH),
        "roth": bool(raw & statmod.S_IROTH),
        "xoth": bool(raw & statmod.S_IXOTH),
        "isuid": bool(raw & statmod.S_ISUID),
        "isgid": bool(raw & statmod.S_ISGID),
        "blocks": int(fields["blocks"]),
        "block_size": int(fields["block_size"]),
        "device_type": (int(fields["rdev_major"], 16) << 8) + int(fields["rdev_minor"], 16),
        "readable": fields.get("readable") == "1",
        "writeable": fields.get("writeable") == "1",
        "executable": fields.get("executable") == "1",
        "pw_name": fields["pw_name"],
        "gr_name": fields["gr_name"],
    }
    if out["islnk"]:
        out["lnk_source"] = unhex(fields.get("lnk_source", ""))
        out["lnk_target"] = unhex(fields.get("lnk_target", ""))
    if "checksum" in fields:
        out["checksum"] = fields["checksum"]
    if "mimetype" in fields:
        out["mimetype"] = fields["mimetype"]
        out["charset"] = fields.get("charset", "unknown")
    return out


@register
class Stat(Module):
    """Retrieve file or file system status."""

    name = "stat"
    aliases = ("ansible.legacy.stat",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("dest", "name")),
            "follow": Param("bool", default=False),
            "get_checksum": Param("bool", default=True),
            "checksum_algorithm": Param(
                "str", default="sha1", choices=ALGORITHMS, aliases=("checksum", "checksum_algo")
            ),
            "get_mime": Param("bool", default=True, aliases=("mime", "mime_type", "mime-type")),
            "get_attributes": Param("bool", default=True, aliases=("attr", "attributes")),
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        algorithm = args["checksum_algorithm"] if args["get_checksum"] else None
        result = ctx.query(stat_script(args["path"], args["follow"], algorithm, args["get_mime"]), )
        if result.rc != 0:
            raise ModuleFailed(result.err.strip() or f"stat failed for {args['path']}", rc=result.rc)
        return {"changed": False, "stat": stat_result(args["path"], result.fields())}
