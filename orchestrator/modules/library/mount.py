"""mount (ansible.posix.mount): a mount point's fstab line and whether it is mounted (Linux).

One round trip reads the fstab and whether the path is a mount point now (/proc/self/mountinfo);
the new fstab is computed on the controller by ansible.posix's rules (fields escaped, a line
matched on its mount point, rewritten only when src/fstype/opts/dump/passno differ, else
appended), so files Ansible wrote stay byte-identical. A change costs a second round trip:
the fstab is written atomically, then mount, remount (falling back to umount + mount) or umount
runs as the state asks; a failed mount puts the old fstab back, as Ansible does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import write_content_script
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

FIELDS = ("src", "name", "fstype", "opts", "dump", "passno")


def escape(value: str) -> str:
    return value.replace("\\", "\\134").replace(" ", "\\040").replace("&", "\\046")


def _line(fields: Mapping[str, str | None]) -> str:
    return "{src} {name} {fstype} {opts} {dump} {passno}\n".format(**fields)


def set_mount(text: str, wanted: Mapping[str, str]) -> tuple[str, bool]:
    """(new fstab, changed) with the line for wanted["name"] as asked. Pure; ansible.posix's rules."""
    escaped = {k: escape(v) for k, v in wanted.items()}
    out: list[str] = []
    exists = changed = False
    for line in text.splitlines(True):
        if not line.endswith("\n"):
            line += "\n"
        if not line.strip() or line.strip().startswith("#"):
            out.append(line)
            continue
        fields = line.split("#")[0].split()
        if len(fields) not in (4, 5, 6):
            out.append(line)
            continue
        # A missing dump/passno never equals the wanted string: ansible.posix compares its int 0
        # with "0", so such a line is always rewritten in full (and the task reports a change).
        current: dict[str, str | None] = {
            "dump": None,
            "passno": None,
            **dict(zip(FIELDS, fields, strict=False)),
        }
        swap_elsewhere = (
            current["name"] == "none" and current["fstype"] == "swap" and current["src"] != wanted["src"]
        )
        if current["name"] != escaped["name"] or swap_elsewhere:
            out.append(line)
            continue
        exists = True
        line_changed = False
        for key in ("src", "fstype", "opts", "dump", "passno"):
            if current[key] != escaped[key]:
                current[key] = escaped[key]
                line_changed = True
        changed = changed or line_changed
        out.append(_line(current) if changed else line)
    if not exists:
        out.append(_line(escaped))
        changed = True
    return "".join(out), changed


def unset_mount(text: str, name: str, src: str | None) -> tuple[str, bool]:
    """(new fstab, changed) without the lines of mount point `name`. Pure."""
    escaped = escape(name)
    out: list[str] = []
    changed = False
    for line in text.splitlines(True):
        fields = line.split()
        if not line.strip() or line.strip().startswith("#") or len(fields) != 6:
            out.append(line)
            continue
        current = dict(zip(FIELDS, fields, strict=False))
        swap_elsewhere = (
            src is not None
            and current["name"] == "none"
            and current["fstype"] == "swap"
            and current["src"] != src
        )
        if current["name"] != escaped or swap_elsewhere:
            out.append(line)
            continue
        changed = True
    return "".join(out), changed


@dataclass
class HostState:
    fstab: str | None  # None: no fstab file
    mounted: bool
    exists: bool


def read_state(ctx: ModuleContext, path: str, fstab: str) -> HostState:
    # A mount point is a line of mountinfo whose 5th field is the path (octal-escaped like fstab).
    script = (
        f"p={quote(path)}\n"
        f"awk -v p={quote(escape(path))} '$5 == p {{ found = 1 }} END {{ print \"mounted=\" (found ? 1 : 0) }}'"
        " /proc/self/mountinfo 2>/dev/null || echo mounted=0\n"
        'if [ -e "$p" ]; then echo exists=1; else echo exists=0; fi\n'
        f"if [ -f {quote(fstab)} ]; then orch_section fstab; cat -- {quote(fstab)} || exit 1; fi\n"
    )
    result = ctx.query(script)
    if result.rc != 0:
        raise ModuleFailed(result.err.strip() or f"could not read {fstab}", rc=result.rc)
    fields = result.fields()
    data = result.wire.section("fstab")
    fstab_text = None if data is None else data.decode("utf-8", "replace")
    return HostState(fstab_text, fields.get("mounted") == "1", fields.get("exists") == "1")


def _write_fstab(fstab: str, content: str) -> str:
    return (
        f'umask 022\nd={quote(fstab)}\nwant_owner= want_group= want_mode=\norch_statvars "$d"\n'
        + write_content_script(content.encode(), None, None, False, make_parents=True)
    )


@register
class Mount(Module):
    """Control a mount point in /etc/fstab and mount, remount or unmount it."""

    name = "mount"
    aliases = ("ansible.posix.mount",)
    spec = ArgSpec(
        params={
            "path": Param("path", required=True, aliases=("name",)),
            "src": Param("path"),
            "fstype": Param("str"),
            "opts": Param("str"),
            "dump": Param("str", default="0"),
            "passno": Param("str", default="0"),
            "fstab": Param("str"),
            "boot": Param("bool", default=True),
            "backup": Param("bool", default=False),
            "opts_no_log": Param("bool", default=False),
            "state": Param(
                "str",
                required=True,
                choices=("absent", "absent_from_fstab", "mounted", "present", "unmounted", "remounted"),
            ),
        },
        required_if=(("state", "mounted", ("src", "fstype")), ("state", "present", ("src", "fstype"))),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args["backup"]:
            raise ModuleFailed("backup is not supported by orch's mount (the fstab is replaced atomically)")
        state, name = args["state"], args["path"]
        fstab = args["fstab"] or "/etc/fstab"
        wanted = {
            "src": args["src"] or "", "name": name, "fstype": args["fstype"] or "",
            "opts": args["opts"] or "defaults", "dump": args["dump"], "passno": args["passno"],
        }  # fmt: skip
        boot = "yes"
        if not args["boot"]:
            boot = "no"
            wanted["opts"] = ",".join([*wanted["opts"].split(","), "noauto"])
        elif "noauto" in wanted["opts"].split(","):
            ctx.warnings.append("Ignore the 'boot' due to 'opts' contains 'noauto'.")
        result: dict[str, Any] = {
            **{k: v for k, v in wanted.items() if k != "src" or args["src"] is not None},
            "fstab": fstab, "boot": boot, "backup_file": "",
        }  # fmt: skip
        if args["fstype"] is None:
            result.pop("fstype")
        if args["opts_no_log"]:
            result["opts"] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        host = read_state(ctx, name, fstab)
        old = host.fstab or ""
        fstab_arg = f"-T {quote(fstab)} " if fstab != "/etc/fstab" else ""
        steps: list[str] = ["export LANG=C LC_ALL=C"]
        new: str | None = None
        changed = False
        if state in ("absent", "absent_from_fstab"):
            new, changed = unset_mount(old, name, args["src"])
            if changed:
                steps.append(_write_fstab(fstab, new))
                if state == "absent":
                    steps.append(
                        f"if awk -v p={quote(escape(name))} '$5 == p {{ f = 1 }} END {{ exit !f }}' /proc/self/mountinfo;"
                        f' then __o=$(umount {quote(name)} 2>&1) || orch_fail {quote(f"Error unmounting {name}: ")}"$__o"; fi\n'
                        f"if [ -e {quote(name)} ]; then __o=$(rmdir {quote(name)} 2>&1) ||"
                        f' orch_fail {quote(f"Error rmdir {name}: ")}"$__o"; fi'
                    )
        elif state == "unmounted":
            if host.mounted:
                changed = True
                steps.append(
                    f'__o=$(umount {quote(name)} 2>&1) || orch_fail {quote(f"Error unmounting {name}: ")}"$__o"'
                )
        elif state == "present":
            new, changed = set_mount(old, wanted)
            if changed:
                steps.append(_write_fstab(fstab, new))
        elif state == "remounted":
            changed = True
            steps.append(
                self._remount(name, wanted["opts"], fstab_arg, explicit_opts=wanted["opts"] != "defaults")
            )
            steps.append(f'[ "$__r" = 0 ] || orch_fail {quote(f"Error remounting {name}: ")}"$__o"')
        else:  # mounted
            new, fstab_changed = set_mount(old, wanted)
            if not host.exists:
                steps.append(f"mkdir -p -- {quote(name)}")
            if fstab_changed:
                steps.append(_write_fstab(fstab, new))
            if host.mounted:
                changed = fstab_changed
                if changed:
                    steps.append(self._remount(name, wanted["opts"], fstab_arg, explicit_opts=False))
            else:
                changed = True
                steps.append(f"__r=0; __o=$(mount {fstab_arg}{quote(name)} 2>&1) || __r=$?")
            if changed:
                restore = _write_fstab(fstab, old) if fstab_changed and host.fstab is not None else ":"
                steps.append(
                    f'if [ "$__r" != 0 ]; then\n( {restore}\n) >/dev/null 2>&1 || :\n'
                    f'orch_fail {quote(f"Error mounting {name}: ")}"$__o"; fi'
                )
        if changed:
            ctx.converge("return 10", "\n".join(steps))
            if new is not None and new != old:
                ctx.add_diff(old, new, fstab, fstab)
        result["changed"] = changed
        return result

    @staticmethod
    def _remount(name: str, opts: str, fstab_arg: str, *, explicit_opts: bool) -> str:
        """`mount -o remount`, else umount + mount (Ansible's fallback); leaves $__r (0: done) and
        $__o (the output) for the caller to judge."""
        remount_opts = quote("remount," + opts) if explicit_opts else "remount"
        if explicit_opts:
            fallback = (
                'orch_fail "Options were specified with remounted, but the remount command failed. Failing in'
                " order to prevent an unexpected mount result. Try replacing this command with a"
                ' \\"state: unmounted\\" followed by a \\"state: mounted\\" using the full desired mount options instead."'
            )
        else:
            fallback = f"__r=0; __o=$(umount {quote(name)} 2>&1) || __r=$?\n" + (
                f'  if [ "$__r" = 0 ]; then __o=$(mount {fstab_arg}{quote(name)} 2>&1) || __r=$?; fi'
            )
        return (
            f"__r=0; __o=$(mount -o {remount_opts} {fstab_arg}{quote(name)} 2>&1) || __r=$?\n"
            f'if [ "$__r" != 0 ]; then\n  {fallback}\nfi'
        )
