"""service_facts: the host's services as `ansible_facts.services`, read-only.

As Ansible's module: systemd units (systemctl) where systemd runs, else SysV init scripts
(`service --status-all`: `[ + ]` running, anything else stopped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec

_SCRIPT = r"""
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo '#systemd'
  systemctl list-units --no-pager --type service --all --plain --no-legend 2>/dev/null
  echo '#unit-files'
  systemctl list-unit-files --no-pager --type service --plain --no-legend 2>/dev/null
elif command -v service >/dev/null 2>&1; then
  echo '#sysv'
  service --status-all 2>&1
else
  echo '#none'
fi
"""


@register
class ServiceFacts(Module):
    """Gather the state of every service into ansible_facts.services."""

    name = "service_facts"
    spec = ArgSpec(params={})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        result = ctx.query(_SCRIPT)
        if result.rc != 0:
            raise ModuleFailed(result.err.strip() or f"service_facts failed with rc {result.rc}")
        services = parse_services(result.out)
        if services is None:
            raise ModuleFailed("Failed to find any services. This can be due to privileges or some other configuration issue.")
        return {"changed": False, "ansible_facts": {"services": services}}


def parse_services(out: str) -> dict[str, dict[str, Any]] | None:
    section = ""
    services: dict[str, dict[str, Any]] = {}
    for line in out.splitlines():
        if line.startswith("#") and line[1:] in ("systemd", "unit-files", "sysv", "none"):
            section = line[1:]
            continue
        fields = line.split()
        if section == "sysv" and len(fields) >= 4 and fields[0] == "[":
            name = " ".join(fields[3:])
            services[name] = {"name": name, "state": "running" if fields[1] == "+" else "stopped", "source": "sysv"}
        elif section == "systemd" and len(fields) >= 4 and fields[0].endswith(".service"):
            state = {"running": "running", "exited": "stopped", "dead": "stopped", "failed": "failed"}
            services[fields[0]] = {
                "name": fields[0],
                "state": state.get(fields[3], "unknown"),
                "status": "unknown",
                "source": "systemd",
            }
        elif section == "unit-files" and len(fields) >= 2 and fields[0].endswith(".service"):
            entry = services.setdefault(
                fields[0], {"name": fields[0], "state": "inactive", "source": "systemd"}
            )
            entry["status"] = fields[1]
    return services or None
