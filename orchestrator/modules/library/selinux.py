"""selinux (ansible.posix.selinux): the SELinux state and policy, in the config file and live.

One round trip reads the config file (SELINUX= / SELINUXTYPE=), whether SELinux runs
(`selinuxenabled`, `getenforce`) and whether the wanted policy is installed; the outcome and the
messages follow ansible.posix (the running policy is the configured one, as libselinux reports
it; a state the running kernel cannot take needs a reboot). Changes are a second round trip:
the config rewritten atomically by ansible.posix's line rules, `setenforce` for the live state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import write_content_script
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


def config_value(text: str, key: str) -> str | None:
    for line in text.splitlines():
        if re.match(rf"^{key}=.*$", line):
            return line.split("=")[1].strip()
    return None


def set_config_value(text: str, key: str, value: str) -> str:
    """ansible.posix's set_config_state/_policy: every `KEY=` line replaced, else one appended."""
    out, found = [], False
    for line in text.splitlines():
        if re.match(rf"^{key}=.*$", line):
            found = True
        out.append(re.sub(rf"^{key}=.*", f"{key}={value}", line) + "\n")
    if not found:
        out.append(f"{key}={value}\n")
    return "".join(out)


@register
class Selinux(Module):
    """Set the SELinux mode and policy (config file and, when SELinux runs, the live mode)."""

    name = "selinux"
    aliases = ("ansible.posix.selinux",)
    spec = ArgSpec(
        params={
            "policy": Param("str"),
            "state": Param("str", required=True, choices=("enforcing", "permissive", "disabled")),
            "configfile": Param("str", default="/etc/selinux/config", aliases=("conf", "file")),
            "update_kernel_param": Param("bool", default=False),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if args["update_kernel_param"]:
            raise ModuleFailed("update_kernel_param (grubby) is not supported by orch's selinux module")
        configfile, state, policy = args["configfile"], args["state"], args.get("policy")
        probe = ctx.query(
            "export LANG=C LC_ALL=C\n"
            "if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then"
            ' echo "runtime=$(getenforce 2>/dev/null)"; else echo runtime=Disabled; fi\n'
            + (f"[ -e /etc/selinux/{quote(policy)}/policy ] && echo policy_ok=1\n" if policy else "")
            + f"if [ -f {quote(configfile)} ]; then orch_section config; cat -- {quote(configfile)}; fi; :"
        )
        fields, config = probe.fields(), probe.wire.section("config")
        if config is None:
            raise ModuleFailed(
                f"Unable to find file {configfile}",
                details="Please install SELinux-policy package, if this package is not installed previously.",
            )
        text = config.decode("utf-8", "replace")
        runtime_state = fields.get("runtime", "Disabled").strip().lower()
        runtime_enabled = runtime_state != "disabled"
        config_policy, config_state = config_value(text, "SELINUXTYPE"), config_value(text, "SELINUX")
        runtime_policy = config_policy  # libselinux's selinux_getpolicytype reads the config
        if state != "disabled" and not policy:
            raise ModuleFailed("Policy is required if state is not 'disabled'")
        policy = policy or config_policy
        msgs: list[str] = []
        changed = reboot_required = False
        new_text = text
        live = ""
        if policy != runtime_policy:
            msgs.append(f"Running SELinux policy changed from '{runtime_policy}' to '{policy}'")
            changed = True
        if policy != config_policy:
            if fields.get("policy_ok") != "1":
                raise ModuleFailed(f"Policy {policy} does not exist in /etc/selinux/")
            new_text = set_config_value(new_text, "SELINUXTYPE", str(policy))
            msgs.append(
                f"SELinux policy configuration in '{configfile}' changed from '{config_policy}' to '{policy}'"
            )
            changed = True
        if state != runtime_state:
            if runtime_enabled and state == "disabled":
                if runtime_state != "permissive":
                    live = "setenforce 0"
                    ctx.warnings.append(
                        f"SELinux state temporarily changed from '{runtime_state}' to 'permissive'."
                        " State change will take effect next reboot."
                    )
                    changed = True
                else:
                    ctx.warnings.append("SELinux state change will take effect next reboot")
                reboot_required = True
            elif runtime_enabled:
                live = "setenforce 1" if state == "enforcing" else "setenforce 0"
                msgs.append(f"SELinux state changed from '{runtime_state}' to '{state}'")
                changed = True
            else:
                ctx.warnings.append(f"Reboot is required to set SELinux state to '{state}'")
                reboot_required = True
        if state != config_state:
            new_text = set_config_value(new_text, "SELINUX", state)
            msgs.append(f"Config SELinux state changed from '{config_state}' to '{state}'")
            changed = True
        if changed:
            steps = [live or ":"]
            if new_text != text:
                steps.append(
                    f'd={quote(configfile)}\nwant_owner= want_group= want_mode=\norch_statvars "$d"\n'
                    + write_content_script(new_text.encode(), None, None, False)
                )
            ctx.converge("return 10", "\n".join(steps))
            if new_text != text:
                ctx.add_diff(text, new_text, configfile, configfile)
        return {
            "changed": changed, "msg": ", ".join(msgs), "configfile": configfile, "policy": policy,
            "state": state, "reboot_required": reboot_required,
        }  # fmt: skip
