"""pip: Python packages installed with the host's pip (present, absent, latest, forcereinstall).

As Ansible's module: outside check mode pip itself decides (`pip install` runs, and the task is
changed when pip reports "Successfully installed"/"Successfully uninstalled"); check mode reads
`pip freeze --all` (names compared as pip does: case-insensitive, `-`, `_` and `.` alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

_QUERY = r"""
command -v "$pip" >/dev/null 2>&1 || orch_fail "Unable to find any of $pip to use.  pip needs to be installed."
__frozen=$("$pip" freeze --all 2>/dev/null | tr 'A-Z_.' 'a-z--')
__need=0
for __spec in $wanted; do
  __name=${__spec%%==*}; __ver=; [ "$__name" = "$__spec" ] || __ver=${__spec#*==}
  __have=$(printf '%s\n' "$__frozen" | sed -n "s/^$__name==//p" | head -n 1)
  case "$state" in
    present) if [ -z "$__have" ] || { [ -n "$__ver" ] && [ "$__have" != "$__ver" ]; }; then __need=1; fi ;;
    absent) [ -z "$__have" ] || __need=1 ;;
    latest|forcereinstall) __need=1 ;;
  esac
done
[ "$__need" = 0 ] || return 10
return 0
"""

_RUN = r"""
command -v "$pip" >/dev/null 2>&1 || orch_fail "Unable to find any of $pip to use.  pip needs to be installed."
case "$state" in
  absent) "$pip" uninstall -y $names ;;
  latest) "$pip" install -U $extra $specs ;;
  forcereinstall) "$pip" install -U --force-reinstall $extra $specs ;;
  *) "$pip" install $extra $specs ;;
esac
"""


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@register
class Pip(Module):
    """Install or remove Python packages with pip."""

    name = "pip"
    spec = ArgSpec(
        params={
            "name": Param("list", elements="str"),
            "version": Param("str"),
            "state": Param("str", default="present", choices=("present", "absent", "latest", "forcereinstall")),
            "executable": Param("path"),
            "extra_args": Param("str"),
            "virtualenv": Param("path"),
            "requirements": Param("str"),
            "chdir": Param("path"),
            "umask": Param("str"),
            "editable": Param("bool", default=False),
        },
        required_one_of=(("name", "requirements"),),
    )
    supports_check = True

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        for unsupported in ("virtualenv", "requirements", "chdir", "umask"):
            if args.get(unsupported):
                raise ModuleFailed(f"pip: '{unsupported}' is not supported by orch's pip module yet")
        names = [str(n) for n in args["name"]]
        if args.get("version") and len(names) != 1:
            raise ModuleFailed("version is incompatible with multiple packages")
        for name in names:
            if any(c in name for c in "<>=!~ ;"):
                raise ModuleFailed(f"pip: only plain package names are supported, got {name!r}")
        specs = [f"{n}=={args['version']}" if args.get("version") else n for n in names]
        wanted = [_normalized(n) + (f"=={args['version']}" if args.get("version") else "") for n in names]
        pip = str(args.get("executable") or "pip3")
        header = (
            f"pip={quote(pip)}; state={quote(str(args['state']))}; wanted={quote(' '.join(wanted))}\n"
            f"names={quote(' '.join(names))}; specs={quote(' '.join(specs))}; extra={quote(str(args.get('extra_args') or ''))}\n"
        )
        # $names/$specs/$extra are split on purpose (several packages / options); each was quoted
        # whole into the variable, and package names cannot hold spaces (checked above).
        command = f"{pip} {'uninstall -y' if args['state'] == 'absent' else 'install'} {' '.join(specs)}"
        # pip runs only when the query finds a package to change (and writes are allowed).
        result = ctx.converge(header + _QUERY, header + _RUN, apply_is_result=True)
        if not result.applied:
            return {"changed": result.changed, "cmd": command, "name": names, "state": args["state"]}
        if result.rc != 0 and not (args["state"] == "absent" and "not installed" in result.apply_out + result.stderr):
            raise ModuleFailed(
                f"{result.apply_out}\n:stderr: {result.stderr}", cmd=command, stdout=result.apply_out,
                stderr=result.stderr, rc=result.rc,
            )
        marker = "Successfully uninstalled" if args["state"] == "absent" else "Successfully installed"
        return {
            "changed": marker in result.apply_out,
            "cmd": command,
            "name": names,
            "version": args.get("version"),
            "state": args["state"],
            "stdout": result.apply_out,
            "stderr": result.stderr,
        }
