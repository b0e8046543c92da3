"""pam_limits (community.general.pam_limits): one `domain type item value` line of limits.conf.

The new content is computed on the controller by community.general's rules (lines are matched on
their whitespace-normalised fields, a changed or new line is written tab-separated with the
comment after a tab, use_max/use_min keep the larger/smaller value), so files Ansible wrote stay
byte-identical; the file is then written atomically (edit_file) only when it changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import edit_file
from orchestrator.modules.spec import ArgSpec, Param

PAM_ITEMS = (
    "core", "data", "fsize", "memlock", "nofile", "rss", "stack", "cpu", "nproc", "as", "maxlogins",
    "maxsyslogins", "priority", "locks", "sigpending", "msgqueue", "nice", "rtprio", "chroot",
)  # fmt: skip
UNLIMITED = ("unlimited", "infinity", "-1")


def check_value(item: str, value: str, prefix: str = "") -> None:
    if item in ("nice", "priority"):
        try:
            valid = -20 <= int(value) <= 19
        except ValueError:
            valid = False
        if not valid:
            raise ModuleFailed(
                f"{prefix} Value of {value!r} for item {item!r} is invalid. Value must be a number in the range"
                " -20 to 19 inclusive. Refer to the limits.conf(5) manual pages for more details."
            )
    elif not (value in UNLIMITED or value.isdigit()):
        raise ModuleFailed(
            f"{prefix} Value of {value!r} for item {item!r} is invalid. Value must either be 'unlimited',"
            " 'infinity' or -1, all of which indicate no limit, or a limit of 0 or larger. Refer to the"
            " limits.conf(5) manual pages for more details."
        )


def edit_limits(text: str, args: Mapping[str, Any], path: str) -> tuple[str, bool, str]:
    """(new text, changed, the line now in force). Pure; community.general's algorithm."""
    domain, kind, item, value = args["domain"], args["limit_type"], args["limit_item"], args["value"]
    new_comment = args["comment"] or ""
    out: list[str] = []
    found = changed = False
    message = ""
    new_value = value
    for line in text.splitlines(True):
        if line.startswith("#"):
            out.append(line)
            continue
        squeezed = re.sub(r"\s+", " ", line).strip()
        if not squeezed:
            out.append(line)
            continue
        squeezed = squeezed.split("#", 1)[0].rstrip()
        old_comment = line.split("#", 1)[1] if "#" in line else ""
        if not new_comment:
            new_comment = old_comment  # as community.general: the first commented line's comment
        fields = squeezed.split(" ")
        if len(fields) != 4:
            out.append(line)
            continue
        line_domain, line_type, line_item, actual = fields
        check_value(line_item, actual, prefix=f"Invalid configuration found in '{path}'.")
        if (line_domain, line_type, line_item) != (domain, kind, item):
            out.append(line)
            continue
        found = True
        if value == actual:
            message = line
            out.append(line)
            continue
        # community.general compares the *type* with nice/priority here (an upstream slip kept as is)
        unlimited_actual = line_type not in ("nice", "priority") and actual in UNLIMITED
        unlimited_value = line_type not in ("nice", "priority") and value in UNLIMITED
        if args["use_max"]:
            if unlimited_actual:
                new_value = actual
            elif unlimited_value:
                new_value = value
            else:
                new_value = str(max(int(value), int(actual)))
        if args["use_min"]:
            if unlimited_actual and unlimited_value:
                new_value = actual
            elif unlimited_actual:
                new_value = value
            elif unlimited_value:
                new_value = actual
            else:
                new_value = str(min(int(value), int(actual)))
        if new_value != actual:
            changed = True
            if new_comment:
                new_comment = "\t#" + new_comment
            message = f"{domain}\t{kind}\t{item}\t{new_value}{new_comment}\n"
            out.append(message)
        else:
            message = line
            out.append(line)
    if not found:
        changed = True
        if new_comment:
            new_comment = "\t#" + new_comment
        message = f"{domain}\t{kind}\t{item}\t{new_value}{new_comment}\n"
        out.append(message)
    return "".join(out), changed, message


@register
class PamLimits(Module):
    """Set a resource limit for a user or group in /etc/security/limits.conf (or `dest`)."""

    name = "pam_limits"
    aliases = ("community.general.pam_limits",)
    spec = ArgSpec(
        params={
            "domain": Param("str", required=True),
            "limit_type": Param("str", required=True, choices=("soft", "hard", "-")),
            "limit_item": Param("str", required=True, choices=PAM_ITEMS),
            "value": Param("str", required=True),
            "use_max": Param("bool", default=False),
            "use_min": Param("bool", default=False),
            "backup": Param("bool", default=False),
            "dest": Param("str", default="/etc/security/limits.conf"),
            "comment": Param("str", default=""),
        },
        mutually_exclusive=(("use_max", "use_min"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        check_value(args["limit_item"], args["value"])
        path = args["dest"]

        def edit(old: bytes | None) -> tuple[bytes | None, str, dict[str, Any]]:
            new, _, message = edit_limits((old or b"").decode("utf-8", "surrogateescape"), args, path)
            return new.encode("utf-8", "surrogateescape"), message, {}

        # Ansible fails when dest's directory is missing: no parents are made.
        return edit_file(
            ctx,
            {"backup": args["backup"]},
            path,
            edit,
            create=True,
            make_parents=False,
            diff_headers="{path}",
        )
