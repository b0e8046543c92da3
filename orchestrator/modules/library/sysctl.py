"""sysctl (ansible.posix.sysctl): kernel parameters in /etc/sysctl.conf and, optionally, live.

The file is rewritten by ansible.posix's rules (every `key = value` line normalised to
`key=value`, duplicates dropped, the key replaced in place or appended), so files Ansible wrote
stay byte-identical. One round trip reads the file and the live value; a change costs a second
one (atomic write, `sysctl -w`, `sysctl -p`). Where the kernel refuses the write (a container
without a writable /proc/sys), the reload fails the task as in Ansible unless ignoreerrors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import write_content_script
from orchestrator.modules.spec import BOOL_FALSE, BOOL_TRUE, ArgSpec, Param
from orchestrator.transport.shell import quote

_FAILED_RE = re.compile(
    r'^sysctl: setting key "[^"]+": (Invalid argument|Read-only file system)$', re.MULTILINE
)


def parse_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    if text.lower() in BOOL_TRUE - {""}:
        return "1"
    if text.lower() in BOOL_FALSE - {""}:
        return "0"
    return text.strip()


def values_equal(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.split() == b.split()


@dataclass
class SysctlPlan:
    changed: bool
    content: str | None  # new file content, None = leave the file
    set_proc: bool


def plan(file_text: str | None, proc_value: str | None, args: Mapping[str, Any]) -> SysctlPlan:
    name, state, value = args["name"].strip(), args["state"], parse_value(args.get("value"))
    lines = [line.strip() for line in (file_text or "").splitlines(True)]
    values: dict[str, str] = {}
    for line in lines:
        if line and not line.startswith(("#", ";")) and "=" in line:
            key, val = line.split("=", 1)
            values[key.strip()] = val.strip()
    fixed: list[str] = []
    seen: list[str] = []
    for line in lines:
        if not line.strip() or line.strip().startswith(("#", ";")) or "=" not in line:
            fixed.append(line)
            continue
        key, val = (part.strip() for part in line.strip().split("=", 1))
        if key in seen:
            continue
        seen.append(key)
        if key != name:
            fixed.append(f"{key}={val}")
        elif state == "present":
            fixed.append(f"{name}={value}")
    if name not in seen and state == "present":
        fixed.append(f"{name}={value}")
    current = values.get(name)
    changed = write = False
    if current is None:
        changed = write = state == "present"
    elif state == "absent" or current != value:
        # Ansible tests the old value's truthiness for absent: an empty value counts as absent.
        changed = write = bool(current) or state == "present"
    elif args["reload"] and not values_equal(proc_value, value):
        changed = True
    set_proc = False
    if args["sysctl_set"] and state == "present" and not values_equal(proc_value, value):
        changed = True
        set_proc = proc_value is not None
    content = "".join(line.strip() + "\n" for line in fixed) if write else None
    return SysctlPlan(changed, content, set_proc)


@register
class Sysctl(Module):
    """Set a kernel parameter in a sysctl file and (reload) in the running kernel."""

    name = "sysctl"
    aliases = ("ansible.posix.sysctl",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True, aliases=("key",)),
            "value": Param("str", aliases=("val",)),
            "state": Param("str", default="present", choices=("present", "absent")),
            "reload": Param("bool", default=True),
            "sysctl_set": Param("bool", default=False),
            "ignoreerrors": Param("bool", default=False),
            "sysctl_file": Param("path", default="/etc/sysctl.conf"),
        },
        required_if=(("state", "present", ("value",)),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name = (args["name"] or "").strip()
        if not name:
            raise ModuleFailed("name cannot be blank")
        if args["state"] == "present" and parse_value(args.get("value")) == "":
            raise ModuleFailed("value cannot be blank")
        path = args["sysctl_file"]
        read = ctx.query(
            "export LANG=C LC_ALL=C LC_MESSAGES=C\n"
            f"__v=$(sysctl -e -n {quote(name)} 2>/dev/null) && printf 'proc=%s\\n' \"$__v\"\n"
            f"__f=$(readlink -f -- {quote(path)} 2>/dev/null || printf %s {quote(path)}); printf 'real=%s\\n' \"$__f\"\n"
            f'if [ -f "$__f" ]; then orch_section file; cat -- "$__f"; fi; :'
        )
        fields, file_data = read.fields(), read.wire.section("file")
        proc = fields.get("proc")
        real = fields.get("real") or path
        file_text = None if file_data is None else file_data.decode("utf-8", "replace")
        result = plan(file_text, proc, args)
        if not result.changed:
            return {"changed": False}
        value = parse_value(args.get("value"))
        ignore = "-e " if args["ignoreerrors"] else ""
        steps = ["export LANG=C LC_ALL=C LC_MESSAGES=C"]
        if result.set_proc:
            shown = f'"{value}"' if value.split() else value
            steps.append(
                f"__r=0; __o=$(sysctl {ignore}-w {quote(f'{name}={shown}')} 2>&1) || __r=$?\n"
                f"if [ $__r != 0 ] || printf '%s\\n' \"$__o\" | grep -Eq {quote(_FAILED_RE.pattern)}; then "
                f'orch_fail {quote(f"setting {name} failed: ")}"$__o"; fi'  # name quoted: data, not code
            )
        if result.content is not None:
            steps.append(
                f'umask 022\nd={quote(real)}\nwant_owner= want_group= want_mode=\norch_statvars "$d"\n'
                + write_content_script(result.content.encode(), None, None, False)
            )
        if args["reload"]:
            steps.append(
                f"__r=0; __o=$(sysctl {ignore}-p {quote(path)} 2>&1) || __r=$?\n"
                f"if [ $__r != 0 ] || printf '%s\\n' \"$__o\" | grep -Eq {quote(_FAILED_RE.pattern)}; then "
                'orch_fail "Failed to reload sysctl: $__o"; fi'
            )
        ctx.converge("return 10", "\n".join(steps), last=True)
        if result.content is not None:
            ctx.add_diff(file_text or "", result.content, path, path)
        return {"changed": True}
