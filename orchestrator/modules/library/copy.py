"""copy: put content, a controller file or a controller directory tree on the host; or copy a
file or tree that is already on the host (remote_src). Atomic, only when it differs."""

from __future__ import annotations

import json
import os
import stat as statmod
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import (
    FILE_COMMON_PARAMS,
    attr_assignments,
    check_validate,
    put_content,
    quiet_converge,
    sha1,
    validate_line,
)
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import unhex
from orchestrator.transport.shell import quote
from orchestrator.vault import read_maybe_vaulted

# Re-exported: template and older callers import put_content from here.
__all__ = ["Copy", "put_content"]


def resolve_mode(args: Mapping[str, Any], src_path: str | None) -> dict[str, Any]:
    """`mode: preserve` means the controller file's mode, as Ansible's copy/template do."""
    if args.get("mode") != "preserve":
        return dict(args)
    if src_path is None:
        raise ModuleFailed("mode=preserve requires a src file")
    return {**args, "mode": f"{statmod.S_IMODE(os.stat(src_path).st_mode):04o}"}


def _tree(root: str, local_follow: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """Directories (relative, parents first) and files (relative, absolute) under `root`."""
    dirs: list[str] = []
    files: list[tuple[str, str]] = []
    for base, subdirs, names in os.walk(root, followlinks=local_follow):
        subdirs.sort()
        rel = os.path.relpath(base, root)
        if rel != ".":
            dirs.append(rel)
        for name in sorted(names):
            full = os.path.join(base, name)
            if os.path.isfile(full):
                files.append((os.path.normpath(os.path.join(rel, name)), full))
    return dirs, files


@register
class Copy(Module):
    """Copy a file or directory from the controller, or given content, to the host."""

    name = "copy"
    aliases = ("ansible.legacy.copy",)
    spec = ArgSpec(
        params={
            "src": Param("path", help="Local file or directory (relative: the role's or playbook's files/). "
                         "A directory ending in / copies its contents, without / the directory itself."),
            "content": Param("raw", help="Literal content to write instead of src."),
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
            "_original_basename": Param("str"),
            **FILE_COMMON_PARAMS,
        },
        mutually_exclusive=(("content", "src"), ("content", "remote_src")),
        required_one_of=(("content", "src"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        check_validate(args.get("validate"))
        if args.get("remote_src"):
            return self._remote(ctx, args)
        if args.get("content") is not None:
            content = args["content"]
            if isinstance(content, dict | list):
                content = json.dumps(content)  # Ansible writes dict/list content as JSON
            elif not isinstance(content, str):
                content = str(content)  # and anything else as Python's str(): True, 3
            data = content.encode("utf-8", "surrogateescape")
            if args["dest"].endswith("/"):
                raise ModuleFailed("can not use content with a dir as dest")
            # a checksum to verify fails the task after the write: not `last`
            last = not args.get("checksum")
            return self._checked(args, put_content(ctx, resolve_mode(args, None), data, args["dest"], last=last))
        path = ctx.find_file(args["src"])
        if os.path.isdir(path):
            return self._directory(ctx, args, path)
        data = read_maybe_vaulted(path, args["decrypt"])  # a vaulted src is decrypted here, as Ansible does
        name = args.get("_original_basename") or os.path.basename(path)
        dest = args["dest"]
        result = put_content(
            ctx, resolve_mode(args, path), data, dest, name, make_parents=dest.endswith("/"),
            last=not args.get("checksum"),
        )
        result["src"] = args["src"]
        return self._checked(args, result)

    @staticmethod
    def _checked(args: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        want = args.get("checksum")
        if want and want != result["checksum"]:
            raise ModuleFailed(f"Copied file does not match the expected checksum. Transfer failed. "
                               f"(expected {want}, got {result['checksum']})", **result)
        return result

    def _directory(self, ctx: ModuleContext, args: Mapping[str, Any], root: str) -> dict[str, Any]:
        """A controller tree: one round trip reads what is there; changed files are then put."""
        base = args["dest"]
        if not args["src"].endswith("/"):
            base = os.path.join(base, os.path.basename(os.path.normpath(root)))
        dirs, files = _tree(root, args["local_follow"])
        preserve = args.get("mode") == "preserve"
        file_modes = [
            resolve_mode(args, full)["mode"] if preserve else args.get("mode") for _, full in files
        ]
        listing = "".join(
            f"want_mode={quote(str(file_modes[i] or ''))}; orch_probe {quote(os.path.join(base, rel))} {i}\n"
            for i, (rel, _) in enumerate(files)
        )
        wanted_dirs = [base, *(os.path.join(base, d) for d in dirs)]
        dir_args = {"mode": args.get("directory_mode"), "owner": args.get("owner"), "group": args.get("group")}
        dir_script = "".join(
            f"__p={quote(d)}; orch_statvars \"$__p\"; case $st_state in directory) orch_check_attrs \"$__p\";"
            f" [ $attr_change = 0 ] || echo dir{i}=attrs;; absent) echo dir{i}=absent;;"
            f" *) orch_fail \"$__p exists and is not a directory\";; esac\n"
            for i, d in enumerate(wanted_dirs)
        )
        script = f"""{attr_assignments(dir_args)}
orch_probe() {{
  orch_statvars "$1"; [ "$st_state" = file ] || return 0
  orch_check_attrs "$1"; echo "f$2=$(orch_sha1 "$1"):$attr_change"
}}
{dir_script}{attr_assignments(args)}{listing}"""
        probe = ctx.query(script)
        if probe.rc != 0:
            raise ModuleFailed(probe.err.strip() or "could not inspect the destination", rc=probe.rc)
        seen = probe.fields()
        changed = False
        dir_todo = [d for i, d in enumerate(wanted_dirs) if f"dir{i}" in seen]
        not_made: list[str] = []  # directories the engine did not create (check mode)
        if dir_todo:
            mk = "".join(
                f"__p={quote(d)}; [ -d \"$__p\" ] || mkdir -p -- \"$__p\"; orch_apply_attrs \"$__p\"\n" for d in dir_todo
            )
            query = "return 10"
            converged = quiet_converge(ctx, query, attr_assignments(dir_args) + mk)
            changed = changed or converged.changed
            not_made = [] if converged.applied else dir_todo
        for i, (rel, full) in enumerate(files):
            data = read_maybe_vaulted(full, args["decrypt"])
            target = os.path.join(base, rel)
            if seen.get(f"f{i}") == f"{sha1(data)}:0":
                continue
            per_file = {**args, "mode": file_modes[i]}
            if any(d for d in not_made if target.startswith(d.rstrip("/") + "/")):
                changed = True  # its directory does not exist yet: a query there would fail
                continue
            changed = put_content(ctx, per_file, data, target, make_parents=True)["changed"] or changed
        return {"changed": changed, "dest": args["dest"], "src": args["src"]}

    def _remote(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        """Copy within the host: a file (checksum compared) or a tree (cp -R when anything differs)."""
        src, dest = args["src"], args["dest"]
        if not src:
            raise ModuleFailed("src is required with remote_src")
        header = f"s={quote(src)} d={quote(dest)} force={int(args['force'])}\n" + attr_assignments(args)
        query = f"""{header}
[ -e "$s" ] || orch_fail "Source $s not found"
if [ -d "$s" ]; then
  kind=dir
  case "$s" in */) target="$d" ;; *) target="$d/$(basename -- "$s")" ;; esac
  [ -d "$target" ] || return 10
  __sums=$(mktemp) || exit 1  # mktemp, not a guessable /tmp name a local user could plant a link at
  ( cd -- "$s" && find . -type f -exec sha1sum {{}} + ) > "$__sums" || {{ rm -f -- "$__sums"; exit 1; }}
  ( cd -- "$target" && sha1sum -c --quiet --status "$__sums" ); __r=$?; rm -f -- "$__sums"
  [ $__r = 0 ] || return 10
  [ -z "$(cd -- "$s" && find . -type d | while IFS= read -r x; do [ -d "$target/$x" ] || echo m; done)" ] || return 10
  return 0
fi
kind=file
if [ -d "$d" ]; then d="$d/$(basename -- "$s")"; fi
orch_statvars "$d" || exit 1
orch_kv src_checksum "$(orch_sha1 "$s")"
case "$st_state" in
  absent) return 10 ;;
  file) [ "$force" = 1 ] || return 0
        orch_kv checksum "$(orch_sha1 "$d")"
        [ "$(orch_sha1 "$d")" = "$(orch_sha1 "$s")" ] || return 10
        orch_check_attrs "$d"; [ "$attr_change" = 1 ] && return 10; return 0 ;;
  *) return 10 ;;
esac"""
        apply = f"""if [ "$kind" = dir ]; then
  mkdir -p -- "$target"; cp -R -p -- "$s/." "$target/"
  {'chmod -R -- ' + quote(str(args['mode'])) + ' "$target"' if args.get('mode') else ':'}
  exit 0
fi
if [ "$st_state" = file ] && [ "$(orch_sha1 "$d")" = "$(orch_sha1 "$s")" ]; then orch_apply_attrs "$d"; exit 0; fi
__dir=$(dirname -- "$d"); [ -d "$__dir" ] || orch_fail "Destination directory $__dir does not exist"
tmp=$(mktemp -- "$__dir/.orch-tmp.XXXXXX"); trap 'rm -f -- "$tmp"' EXIT
cp -p -- "$s" "$tmp"; orch_apply_attrs "$tmp"
{validate_line(args.get("validate"))}
{'[ "$st_state" = file ] && orch_backup "$d"' if args.get('backup') else ':'}
mv -fT -- "$tmp" "$d"
"""
        converged = quiet_converge(ctx, query, apply)
        fields = converged.fields()
        result: dict[str, Any] = {"changed": converged.changed, "dest": dest, "src": src}
        if "src_checksum" in fields:
            result["checksum"] = fields["src_checksum"]
        after = converged.apply.fields
        if "backup_file" in after:
            result["backup_file"] = unhex(after["backup_file"])
        return result
