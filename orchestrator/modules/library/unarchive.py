"""unarchive: unpack a .tar/.tar.gz/.tgz/.zip (from the controller or already on the host).

Idempotence without shipping the archive: for a controller archive the listing (sha1 of every
file, every directory, every link target) is computed on the controller and checked on the host
in one round trip; the archive goes by SFTP only when something differs. For `remote_src` GNU
tar's --diff compares the archive with dest, as Ansible does.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import FILE_COMMON_PARAMS, attr_assignments, quiet_converge, upload
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


def _clean(name: str) -> str:
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def listing(data: bytes) -> tuple[str, list[tuple[str, str, str]]]:
    """(handler, [(kind, member path, sha1 or link target)]) of an archive's bytes. Pure."""
    buf = io.BytesIO(data)
    if zipfile.is_zipfile(buf):
        out = []
        with zipfile.ZipFile(buf) as zf:
            for info in zf.infolist():
                name = _clean(info.filename)
                if not name:
                    continue
                if info.is_dir():
                    out.append(("d", name, ""))
                else:
                    out.append(("f", name, hashlib.sha1(zf.read(info)).hexdigest()))
        return "ZipArchive", out
    buf.seek(0)
    try:
        with tarfile.open(fileobj=buf, mode="r:*") as tf:
            out = []
            for member in tf.getmembers():
                name = _clean(member.name)
                if not name:
                    continue
                if member.isdir():
                    out.append(("d", name, ""))
                elif member.issym():
                    out.append(("l", name, member.linkname))
                elif member.isfile():
                    handle = tf.extractfile(member)
                    out.append(("f", name, hashlib.sha1(handle.read() if handle else b"").hexdigest()))
            handler = "TgzArchive" if data[:2] == b"\x1f\x8b" else "TarArchive"
            return handler, out
    except tarfile.TarError:
        raise ModuleFailed("Failed to find handler for the archive. Make sure the required command to extract "
                           "the file is installed (tar, unzip)") from None


@register
class Unarchive(Module):
    """Unpack an archive after (optionally) copying it from the controller."""

    name = "unarchive"
    aliases = ("ansible.legacy.unarchive",)
    spec = ArgSpec(
        params={
            "src": Param("path", required=True),
            "dest": Param("path", required=True),
            "remote_src": Param("bool", default=False),
            "copy": Param("bool", default=True),
            "creates": Param("path"),
            "list_files": Param("bool", default=False),
            "keep_newer": Param("bool", default=False),
            "exclude": Param("list", elements="str", default=[]),
            "include": Param("list", elements="str", default=[]),
            "extra_opts": Param("list", elements="str", default=[]),
            "validate_certs": Param("bool", default=True),
            "decrypt": Param("bool", default=True),
            "io_buffer_size": Param("int", default=65536),
            **FILE_COMMON_PARAMS,
        },
        mutually_exclusive=(("include", "exclude"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        dest, src = args["dest"], args["src"]
        remote = args["remote_src"] or not args["copy"]
        head = f"d={quote(dest)}\n" + attr_assignments(args)
        head += '[ -d "$d" ] || orch_fail "dest \'$d\' must be an existing dir"\n'
        if args.get("creates"):
            head += f'if [ -e {quote(args["creates"])} ]; then echo skipped_creates=1; return 0; fi\n'
        opts = " ".join(quote(o) for o in args["extra_opts"])
        opts += "".join(f" --exclude={quote(e)}" for e in args["exclude"])
        if args["keep_newer"]:
            opts += " --keep-newer-files"
        members = " ".join(quote(i) for i in args["include"])
        if remote:
            handler, query, archive = "TgzArchive", self._remote_query(src, opts), quote(src)
            data = None
        else:
            path = ctx.find_file(src)
            with open(path, "rb") as handle:
                data = handle.read()
            handler, items = listing(data)
            query = self._local_query(items, args["include"], args["exclude"])
            archive = ""
        attrs = "[ -n \"$want_owner$want_group$want_mode\" ] && orch_attrs_tree"
        if handler == "ZipArchive":
            missing = (f'Failed to find handler for "{src}". '
                       "Make sure the required command to extract the file is installed: unzip")
            extract = (f"command -v unzip >/dev/null || orch_fail {quote(missing)}\n"  # src quoted: data
                       f'unzip -o -q {opts} "$archive" {members} -d "$d"')
        else:
            extract = f'tar -x -C "$d" {opts} -f "$archive" {members}'
        apply_tpl = (
            "orch_attrs_tree() { { tar -tf \"$archive\" 2>/dev/null || unzip -Z1 \"$archive\"; } | "
            "while IFS= read -r __m; do orch_apply_attrs \"$d/$__m\"; done; }\n"
            f"{extract}\n{attrs}\n"
            'if [ -n "$orch_cleanup" ]; then rm -f -- "$archive"; fi\n'
            "orch_kv extracted 1"
        )
        if data is None:
            converged = quiet_converge(ctx, head + f"archive={archive}\n" + query, apply_tpl)
        else:
            probe_q = head + query
            probe = quiet_converge(ctx, probe_q, ":")
            uploaded = upload(ctx, data) if probe.changed else None  # None: not sent (check mode)
            if uploaded is not None:
                converged = quiet_converge(ctx,
                    head + f"archive={quote(uploaded)}; orch_cleanup=1\n" + "return 10",
                    f"archive={quote(uploaded)}; orch_cleanup=1\n" + apply_tpl,
                )
            else:
                converged = probe
        fields = converged.fields()
        result: dict[str, Any] = {
            "changed": converged.changed, "dest": dest, "src": src, "handler": handler,
        }
        if fields.get("skipped_creates"):
            return {"changed": False, "skipped": True, "msg": f"skipped, since {args['creates']} exists",
                    "dest": dest, "src": src}
        if args["list_files"] and data is not None:
            result["files"] = [name for _, name, _ in listing(data)[1]]
        return result

    @staticmethod
    def _local_query(items: list[tuple[str, str, str]], include: list[str], exclude: list[str]) -> str:
        """Query: is every member of the archive already in dest, with the same content?"""
        import fnmatch

        def wanted(name: str) -> bool:
            if include and not any(fnmatch.fnmatch(name, p) for p in include):
                return False
            return not any(fnmatch.fnmatch(name, p) for p in exclude)

        sums = "".join(f"{digest}  {name}\n" for kind, name, digest in items if kind == "f" and wanted(name))
        lines = [
            f'( cd -- "$d" && printf %s {quote(sums)} | sha1sum -c --quiet --status - ) 2>/dev/null || return 10'
            if sums else ":"
        ]
        for kind, name, target in items:
            if not wanted(name):
                continue
            if kind == "d":
                lines.append(f'[ -d "$d"/{quote(name)} ] || return 10')
            elif kind == "l":
                lines.append(f'[ "$(readlink -- "$d"/{quote(name)})" = {quote(target)} ] || return 10')
        lines.append("return 0")
        return "\n".join(lines)

    @staticmethod
    def _remote_query(src: str, opts: str) -> str:
        missing = quote(f"Source '{src}' does not exist")
        diff = f'LC_ALL=C tar -d -C "$d" {opts} -f {quote(src)}'
        return (
            f"[ -f {quote(src)} ] || orch_fail {missing}\n"
            f'case "$(head -c 4 {quote(src)} | od -An -tx1 | tr -d " ")" in 504b0304) return 10 ;; esac\n'
            f"__diff=$({diff} 2>&1) && return 0\n"
            '[ "$(id -u)" = 0 ] && return 10\n'
            # Ansible's rule: only root can give the files the archive's owners, so for anyone
            # else a differing uid/gid is not a change to make (it would never converge).
            "__diff=$(printf '%s\\n' \"$__diff\" | grep -v -e ': Uid differs$' -e ': Gid differs$')\n"
            '[ -z "$__diff" ] || return 10\n'
            "return 0"
        )
