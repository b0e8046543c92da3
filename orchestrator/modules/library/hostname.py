"""hostname: the running hostname and /etc/hostname (hostnamectl where systemd runs), one round trip.

Difference from Ansible, on purpose: Ansible's Debian strategy only writes /etc/hostname (the
running name changes at the next boot); orch also sets the running name with `hostname`, so
the name a task asked for is the name the host has now. Files end up the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

STRATEGIES = (
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc",
    "redhat", "sles", "solaris", "systemd",
)  # fmt: skip

_QUERY = r"""
cur=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
perm=; [ -f "$file" ] && perm=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$file" | head -n 1)
orch_kv current "$cur"; orch_kv permanent "$perm"
if [ "$use" = systemd ] || { [ -z "$use" ] && [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1; }; then
  orch_kv systemd 1
  perm=$(hostnamectl --static status 2>/dev/null || printf '%s' "$perm")
fi
[ "$cur" = "$n" ] && [ "$perm" = "$n" ] && return 0
return 10
"""

_APPLY = r"""
if [ "$use" = systemd ] || { [ -z "$use" ] && [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1; }; then
  hostnamectl set-hostname "$n"
else
  [ "$cur" = "$n" ] || hostname "$n"
  if [ "$perm" != "$n" ]; then printf '%s\n' "$n" > "$file"; fi
fi
"""


@register
class Hostname(Module):
    """Set the host's name, now and across reboots."""

    name = "hostname"
    aliases = ("ansible.legacy.hostname",)
    spec = ArgSpec(params={"name": Param("str", required=True), "use": Param("str", choices=STRATEGIES)})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        name = args["name"]
        use = args.get("use") or ""
        path = {"sles": "/etc/HOSTNAME"}.get(use, "/etc/hostname")
        header = f"n={quote(name)} use={quote(use)} file={quote(path)}\n"
        converged = ctx.converge(header + _QUERY, header + _APPLY)
        fields = converged.fields()
        before = fields.get("current", "") if name != fields.get("current") else fields.get("permanent", "")
        short = name.split(".")[0]
        result: dict[str, Any] = {
            "changed": converged.changed,
            "name": name,
            "ansible_facts": {
                "ansible_hostname": short,
                "ansible_nodename": name,
                "ansible_fqdn": name,
                "ansible_domain": ".".join(name.split(".")[1:]),
            },
        }
        if converged.changed:
            result["diff"] = {"before": f"hostname = {before}\n", "after": f"hostname = {name}\n"}
            ctx.add_diff(result["diff"]["before"], result["diff"]["after"], "hostname", "hostname")
        return result
