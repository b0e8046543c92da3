"""include_vars: load variables from YAML/JSON files on the controller, per host, at run time."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import OrchError
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.templating.search import candidates


@register
class IncludeVars(Module):
    """Load variables from a file or a directory of files (include_vars precedence, per host).

    Files are looked up as Ansible does: the role's vars/, the task file's directory, then the
    playbook's vars/ and directory. A `dir` is relative to the role's vars/ (in a role) or to the
    task file's directory; its files load in sorted order, depth first.
    """

    name = "include_vars"
    remote = False
    free_form = "file"
    spec = ArgSpec(
        params={
            "file": Param("str"),
            "dir": Param("str"),
            "name": Param("str"),
            "depth": Param("int", default=0),
            "files_matching": Param("str"),
            "ignore_files": Param("list", elements="str", default=[]),
            "extensions": Param("list", elements="str", default=["yaml", "yml", "json"]),
            "ignore_unknown_extensions": Param("bool", default=False),
            "hash_behaviour": Param("str", choices=("replace", "merge")),
        },
        mutually_exclusive=(("file", "dir"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args.get("dir"):
            files = self._dir_files(ctx, args)
        elif args.get("file"):
            files = [self._find(ctx, str(args["file"]))]
        else:
            raise ModuleFailed("include_vars needs a file (include_vars: file.yml) or dir")
        values: dict[str, Any] = {}
        for path in files:
            values.update(_read(path))
        if args.get("name"):
            values = {str(args["name"]): values}
        return {"changed": False, "ansible_facts": values, "ansible_included_var_files": files}

    @staticmethod
    def _find(ctx: ModuleContext, name: str) -> str:
        tried = candidates(ctx.search_dirs, "vars", name)
        found = next((p for p in tried if os.path.isfile(p)), None)
        if found is None:
            raise ModuleFailed(f"Could not find or access '{name}'; searched: {', '.join(tried)}")
        return found

    @staticmethod
    def _dir_files(ctx: ModuleContext, args: Mapping[str, Any]) -> list[str]:
        source = os.path.expanduser(str(args["dir"]))
        role_path = ctx.variables.get("role_path")
        if os.path.isabs(source):
            root = source
        elif role_path:
            root = os.path.join(str(role_path), source if source.split("/")[0] == "vars" else f"vars/{source}")
        else:
            root = os.path.join(ctx.search_dirs[-2] if len(ctx.search_dirs) > 1 else ctx.search_dirs[0], source)
        if not os.path.isdir(root):
            raise ModuleFailed(f"{args['dir']} directory does not exist ({root})")
        matching = re.compile(str(args["files_matching"])) if args.get("files_matching") else None
        ignored = set(map(str, args.get("ignore_files") or []))
        extensions = {str(e).lstrip(".") for e in args.get("extensions") or []}
        depth = int(args.get("depth") or 0)
        found: list[str] = []
        for current, dirs, names in os.walk(root):
            level = current[len(root) :].count(os.sep)
            dirs.sort()
            if depth and level >= depth:
                dirs[:] = []
            for name in sorted(names):
                if name in ignored or (matching and not matching.search(name)):
                    continue
                extension = os.path.splitext(name)[1].lstrip(".")
                if extension not in extensions:
                    if args.get("ignore_unknown_extensions"):
                        continue
                    raise ModuleFailed(f"{name} does not have a valid extension: {', '.join(sorted(extensions))}")
                found.append(os.path.join(current, name))
        return found


def _read(path: str) -> dict[str, Any]:
    from orchestrator.inventory import read_vars_file

    try:
        return dict(read_vars_file(path))
    except OrchError as exc:
        raise ModuleFailed(str(exc)) from None
