"""find: files matching patterns, age, size, type, content, with Ansible's stat keys per file.

One `find -printf` round trip lists every entry with its stat fields; the filters (glob or
regex patterns, excludes, hidden, age, size, mode) run on the controller with Ansible's rules.
A second round trip happens only for `contains` or `get_checksum`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat as statmod
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.library.stat import ALGORITHMS
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

_TYPES = {
    "f": statmod.S_IFREG, "d": statmod.S_IFDIR, "l": statmod.S_IFLNK, "p": statmod.S_IFIFO,
    "s": statmod.S_IFSOCK, "c": statmod.S_IFCHR, "b": statmod.S_IFBLK,
}
_PRINTF = r"%y\t%m\t%U\t%G\t%s\t%i\t%D\t%n\t%A@\t%T@\t%C@\t%u\t%g\t%b\t%p\0"
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _amount(value: str | None, units: Mapping[str, int], what: str) -> int | None:
    if value is None:
        return None
    m = re.match(rf"^(-?\d+)([{''.join(units)}])?$", value.lower())
    if not m:
        raise ModuleFailed(f"failed to process {what}", **{what: value})
    return int(m.group(1)) * units.get(m.group(2) or "", 1)


def pattern_match(name: str, patterns: list[str], excludes: list[str] | None, use_regex: bool) -> bool:
    """Ansible's pfilter: any pattern matches the basename and no exclude does."""
    if not patterns and not excludes:
        return True

    def hit(p: str) -> bool:
        return bool(re.match(p, name)) if use_regex else fnmatch.fnmatch(name, p)

    return any(hit(p) for p in patterns) and not any(hit(e) for e in excludes or [])


def entry_info(rec: list[str]) -> dict[str, Any]:
    """Ansible's statinfo keys from one find -printf record. Pure."""
    kind, perm = rec[0], int(rec[1], 8)
    raw = _TYPES.get(kind, 0) | perm
    return {
        "path": rec[14],
        "mode": f"{statmod.S_IMODE(raw):04o}",
        "isdir": kind == "d", "ischr": kind == "c", "isblk": kind == "b", "isreg": kind == "f",
        "isfifo": kind == "p", "islnk": kind == "l", "issock": kind == "s",
        "uid": int(rec[2]), "gid": int(rec[3]), "size": int(rec[4]), "inode": int(rec[5]),
        "dev": int(rec[6]), "nlink": int(rec[7]),
        "atime": float(rec[8]), "mtime": float(rec[9]), "ctime": float(rec[10]),
        "gr_name": rec[12], "pw_name": rec[11],
        "wusr": bool(raw & statmod.S_IWUSR), "rusr": bool(raw & statmod.S_IRUSR), "xusr": bool(raw & statmod.S_IXUSR),
        "wgrp": bool(raw & statmod.S_IWGRP), "rgrp": bool(raw & statmod.S_IRGRP), "xgrp": bool(raw & statmod.S_IXGRP),
        "woth": bool(raw & statmod.S_IWOTH), "roth": bool(raw & statmod.S_IROTH), "xoth": bool(raw & statmod.S_IXOTH),
        "isuid": bool(raw & statmod.S_ISUID), "isgid": bool(raw & statmod.S_ISGID),
    }


@register
class Find(Module):
    """Return a list of files based on specific criteria."""

    name = "find"
    aliases = ("ansible.legacy.find",)
    spec = ArgSpec(
        params={
            "paths": Param("list", required=True, aliases=("name", "path"), elements="path"),
            "patterns": Param("list", default=[], aliases=("pattern",), elements="str"),
            "excludes": Param("list", aliases=("exclude",), elements="str"),
            "contains": Param("str"),
            "read_whole_file": Param("bool", default=False),
            "file_type": Param("str", default="file", choices=("any", "directory", "file", "link")),
            "age": Param("str"),
            "age_stamp": Param("str", default="mtime", choices=("atime", "ctime", "mtime")),
            "size": Param("str"),
            "recurse": Param("bool", default=False),
            "hidden": Param("bool", default=False),
            "follow": Param("bool", default=False),
            "get_checksum": Param("bool", default=False),
            "checksum_algorithm": Param("str", default="sha1", choices=ALGORITHMS, aliases=("checksum", "checksum_algo")),
            "use_regex": Param("bool", default=False),
            "depth": Param("int"),
            "mode": Param("raw"),
            "exact_mode": Param("bool", default=True),
            "encoding": Param("str"),
            "limit": Param("int"),
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        age = _amount(args.get("age"), _AGE_UNITS, "age")
        size = _amount(args.get("size"), _SIZE_UNITS, "size")
        if args.get("limit") is not None and args["limit"] <= 0:
            raise ModuleFailed(f"limit cannot be {args['limit']} (use None for unlimited)")
        patterns = list(args["patterns"] or []) or ([".*"] if args["use_regex"] else ["*"])
        depth = args.get("depth") if args["recurse"] else 1
        maxdepth = f"-maxdepth {int(depth)} " if depth else ""
        follow = "-L " if args["follow"] else ""
        script = "".join(
            f"if [ -d {quote(p)} ]; then orch_section found; find {follow}{quote(p)} -mindepth 1 {maxdepth}"
            f"-printf '{_PRINTF}' 2>/dev/null; else orch_section not_a_directory; printf %s {quote(p)}; fi\n"
            for p in args["paths"]
        )
        listing = ctx.query(script).wire
        now = time.time()
        files: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        examined = 0
        records: list[str] = []
        for kind, data in listing.sections:
            text = data.decode("utf-8", "surrogateescape")
            if kind == "not_a_directory":
                skipped[text] = f"'{text}' is not a directory"
                ctx.warnings.append(f"Skipped '{text}' path due to this access issue: {skipped[text]}\n")
            else:
                records.extend(text.split("\0"))
        for record in records:
            if not record:
                continue
            rec = record.split("\t", 14)
            if len(rec) < 15:
                continue
            examined += 1
            info = entry_info(rec)
            name = os.path.basename(info["path"])
            if name.startswith(".") and not args["hidden"]:
                continue
            kind = args["file_type"]
            wanted = {"file": "isreg", "directory": "isdir", "link": "islnk"}.get(kind)
            if wanted and not info[wanted]:
                continue
            if not pattern_match(name, patterns, args.get("excludes"), args["use_regex"]):
                continue
            if age is not None:
                elapsed = now - info[args["age_stamp"]]
                if (age >= 0 and elapsed < abs(age)) or (age < 0 and elapsed > abs(age)):
                    continue
            if (
                size is not None
                and info["isreg"]
                and ((size >= 0 and info["size"] < size) or (size < 0 and info["size"] > abs(size)))
            ):
                continue
            if args.get("mode") is not None and not self._mode_ok(info, str(args["mode"]), args["exact_mode"]):
                continue
            files.append(info)
        files = self._content_pass(ctx, args, files)
        if args.get("limit") is not None:
            files = files[: args["limit"]]
        msg = "Not all paths examined, check warnings for details" if skipped else "All paths examined"
        if args.get("limit") is not None and len(files) == args["limit"]:
            msg = "Limit of matches reached"
        return {
            "changed": False, "files": files, "matched": len(files), "examined": examined,
            "msg": msg, "skipped_paths": skipped,
        }

    @staticmethod
    def _mode_ok(info: Mapping[str, Any], mode: str, exact: bool) -> bool:
        want = int(mode, 8)
        have = int(info["mode"], 8)
        return have == want if exact else (have & want) == want

    @staticmethod
    def _content_pass(ctx: ModuleContext, args: Mapping[str, Any], files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """contains / get_checksum: one more round trip over the candidates only."""
        contains, checksum = args.get("contains"), args["get_checksum"]
        if not files or (contains is None and not checksum):
            return files
        lines = []
        grep = ""
        if contains is not None:
            # Python's re.match per line (or re.search over the whole file): PCRE when grep has it.
            whole = args["read_whole_file"]
            pcre, ere = (contains, contains) if whole else (f"^(?:{contains})", f"^({contains})")
            z = "z" if whole else ""
            grep = (f"if printf 'x\\n' | grep -qP 'x' 2>/dev/null; then orch_has() {{ grep -q{z}P -- {quote(pcre)} \"$1\"; }}\n"
                    f"else orch_has() {{ grep -q{z}E -- {quote(ere)} \"$1\"; }}; fi\n")
        algo = args["checksum_algorithm"]
        for i, info in enumerate(files):
            p = quote(info["path"])
            if contains is not None and info["isreg"]:
                lines.append(f"orch_has {p} && echo c{i}=1")
            if checksum and info["isreg"]:
                lines.append(f'echo "s{i}=$({algo}sum < {p} | cut -d" " -f1)"')
        fields = ctx.query(grep + "\n".join(lines) + "\n").fields()
        kept = []
        for i, info in enumerate(files):
            if contains is not None and info["isreg"] and args["file_type"] == "file" and fields.get(f"c{i}") != "1":
                continue
            if f"s{i}" in fields:
                info["checksum"] = fields[f"s{i}"]
            kept.append(info)
        return kept
