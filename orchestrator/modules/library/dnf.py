"""dnf (ansible.builtin.dnf): packages on RPM hosts, through the host's `dnf` and `rpm` commands.

One round trip asks rpm which of the names are installed (by name, name-version or provided
capability) and, for `latest`, dnf which have updates; only the missing/outdated/installed ones
go to `dnf -y install|upgrade|remove` in a second round trip (skipped by the engine in check
mode). `results` lists "Installed: <nevra>" / "Removed: <nevra>" as Ansible's dnf does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


def dnf_options(args: Mapping[str, Any]) -> str:
    opts = ["-y"]
    if args["conf_file"]:
        opts.append(f"--config={quote(args['conf_file'])}")
    if args["disable_gpg_check"]:
        opts.append("--nogpgcheck")
    if args["disablerepo"]:
        opts.append(f"--disablerepo={quote(','.join(args['disablerepo']))}")
    if args["enablerepo"]:
        opts.append(f"--enablerepo={quote(','.join(args['enablerepo']))}")
    if args["exclude"]:
        opts.append(f"--exclude={quote(','.join(args['exclude']))}")
    if args["allowerasing"]:
        opts.append("--allowerasing")
    if not args["install_weak_deps"]:
        opts.append("--setopt=install_weak_deps=False")
    if args["installroot"] != "/":
        opts.append(f"--installroot={quote(args['installroot'])}")
    if args["releasever"]:
        opts.append(f"--releasever={quote(args['releasever'])}")
    return " ".join(opts)


# Per name: "i" installed or "m" missing; for latest also "u" when dnf has an update for it.
_PROBE = r"""
command -v dnf >/dev/null 2>&1 || orch_fail "dnf is not installed on the host (the dnf module is for RPM hosts)"
for __n in "$@"; do
  if rpm -q --quiet -- "$__n" 2>/dev/null || rpm -q --quiet --whatprovides -- "$__n" 2>/dev/null; then
    printf 'i %s\n' "$__n"
    if [ "$__latest" = 1 ]; then
      __r=0; dnf -q $__opts check-update -- "$__n" >/dev/null 2>&1 || __r=$?
      [ "$__r" = 100 ] && printf 'u %s\n' "$__n"
    fi
  else printf 'm %s\n' "$__n"; fi
done
"""


@register
class Dnf(Module):
    """Install, upgrade or remove packages with dnf."""

    name = "dnf"
    aliases = ("ansible.legacy.dnf", "dnf5", "ansible.builtin.dnf5")
    spec = ArgSpec(
        params={
            "name": Param("list", elements="str", default=[], aliases=("pkg",)),
            "state": Param("str", choices=("absent", "present", "installed", "removed", "latest")),
            "update_cache": Param("bool", default=False, aliases=("expire-cache",)),
            "enablerepo": Param("list", elements="str", default=[]),
            "disablerepo": Param("list", elements="str", default=[]),
            "conf_file": Param("str"),
            "disable_gpg_check": Param("bool", default=False),
            "exclude": Param("list", elements="str", default=[]),
            "allowerasing": Param("bool", default=False),
            "install_weak_deps": Param("bool", default=True),
            "installroot": Param("str", default="/"),
            "releasever": Param("str"),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        names = [n.strip() for n in args["name"] if n.strip()]
        state = {"installed": "present", "removed": "absent", None: "present"}.get(
            args["state"], args["state"]
        )
        if not names:
            raise ModuleFailed("name is required (orch's dnf manages named packages)")
        if any(n.startswith("@") or n.endswith(".rpm") or "://" in n for n in names):
            raise ModuleFailed("package groups, .rpm files and URLs are not supported by orch's dnf module")
        opts = dnf_options(args)
        setup = f"__opts={quote(opts)}; __latest={1 if state == 'latest' else 0}\nset -- {' '.join(quote(n) for n in names)}"
        probe = ctx.query(setup + _PROBE)
        if probe.rc != 0:
            raise ModuleFailed(
                probe.err.strip() or "dnf: could not query the installed packages", rc=probe.rc
            )
        status: dict[str, set[str]] = {"i": set(), "m": set(), "u": set()}
        for line in probe.out.splitlines():
            flag, _, name = line.partition(" ")
            if flag in status:
                status[flag].add(name)
        steps: list[str] = []
        touched: list[tuple[str, str]] = []  # (verb, name)
        if state == "absent":
            gone = [n for n in names if n in status["i"]]
            if gone:
                steps.append(f"dnf {opts} remove -- {' '.join(quote(n) for n in gone)}")
                touched += [("Removed", n) for n in gone]
        else:
            missing = [n for n in names if n in status["m"]]
            outdated = [n for n in names if n in status["u"]]
            if missing:
                steps.append(f"dnf {opts} install -- {' '.join(quote(n) for n in missing)}")
                touched += [("Installed", n) for n in missing]
            if outdated:
                steps.append(f"dnf {opts} upgrade -- {' '.join(quote(n) for n in outdated)}")
                touched += [("Installed", n) for n in outdated]
        if args["update_cache"]:
            steps.insert(0, f"dnf {opts} makecache >/dev/null")
        if not touched:
            return {"changed": False, "msg": "Nothing to do", "results": [], "rc": 0}
        # Before the change (removal) or after it (install), the package's NEVRA for `results`.
        report = " ".join(quote(n) for _, n in touched)
        before = (
            f"rpm -q --qf '%{{NAME}}-%{{VERSION}}-%{{RELEASE}}.%{{ARCH}}\\n' -- {report} 2>/dev/null || :"
        )
        apply = (
            (before + "\n" if state == "absent" else "")
            + "\n".join(f"{s} >&2" for s in steps)
            + ("\n" + before if state != "absent" else "")
        )
        done = ctx.converge("return 10", apply)
        nevras = [line for line in done.apply_out.splitlines() if line.strip()]
        verb = "Removed" if state == "absent" else "Installed"
        results = [f"{verb}: {n}" for n in nevras] or [f"{verb}: {n}" for _, n in touched]
        return {"changed": True, "msg": "", "results": results, "rc": 0}
