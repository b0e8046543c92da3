"""service, systemd (systemd_service): start/stop/restart/reload and enable services.

systemd where it runs (`systemctl` and /run/systemd/system), sysvinit otherwise (`service`,
/etc/init.d, update-rc.d): hosts without an init system, like containers and the lab's hosts,
use their init scripts. One round trip reads the state (`systemctl show` / `service X status`
and the rc links); the controller decides (pure functions, unit-tested on captured output);
a change costs a second round trip.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import WireOutput, parse_fields
from orchestrator.transport.shell import quote

STATES = ("reloaded", "restarted", "started", "stopped")
# systemctl is-enabled answers that count as enabled (as Ansible's systemd module).
_ENABLED_ANSWERS = {"enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "transient"}

# daemon-reload/-reexec are writes: the engine runs them (before the state is read) unless in check mode.
_RELOAD_QUERY_SH = r"""
[ "$use" != sysvinit ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && return 10
return 0
"""
_RELOAD_SH = r"""
if [ "$daemon_reload" = 1 ]; then systemctl $scope daemon-reload >&2 || orch_fail "failure running systemctl daemon-reload"; fi
if [ "$daemon_reexec" = 1 ]; then systemctl $scope daemon-reexec >&2 || orch_fail "failure running systemctl daemon-reexec"; fi
"""

_QUERY_SH = r"""
if [ "$use" != sysvinit ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  orch_kv manager systemd
  [ -n "$n" ] || exit 0
  orch_section show; systemctl $scope show "$n" --no-pager 2>/dev/null
  orch_section is_enabled; systemctl $scope is-enabled "$n" 2>/dev/null; echo "rc=$?"
else
  orch_kv manager sysvinit
  [ -n "$n" ] || exit 0
  orch_section sysv
  if [ -x "/etc/init.d/$n" ]; then echo script=1; fi
  if [ -n "$pattern" ]; then pgrep -f -- "$pattern" >/dev/null 2>&1; echo "status_rc=$?"
  elif [ -x "/etc/init.d/$n" ]; then "/etc/init.d/$n" status >/dev/null 2>&1; echo "status_rc=$?"; fi
  for __l in /etc/rc2.d/S??"$n" /etc/rc3.d/S??"$n" /etc/rc4.d/S??"$n" /etc/rc5.d/S??"$n"; do
    [ -e "$__l" ] && { echo enabled_link=1; break; }
  done
  for __l in /etc/rc2.d/K??"$n" /etc/rc3.d/K??"$n"; do [ -e "$__l" ] && { echo disabled_link=1; break; }; done
fi
:
"""


@dataclass
class ServiceState:
    manager: str  # systemd | sysvinit
    found: bool = False
    running: bool | None = None
    enabled: bool | None = None
    masked: bool = False
    status: dict[str, str] = field(default_factory=dict)  # systemctl show


def parse_state(output: WireOutput) -> ServiceState:
    """The query's output: field `manager`; sections `show` (`systemctl show`, Key=Value lines),
    `is_enabled` (its answer, then rc=N) under systemd, `sysv` (key=value lines) otherwise."""
    manager = output.fields.get("manager") or "sysvinit"
    state = ServiceState(manager)
    if manager == "systemd":
        show = parse_fields(output.text("show"))
        state.status = show
        load = show.get("LoadState", "")
        state.found = bool(show) and load not in ("not-found", "")
        state.masked = load == "masked" or show.get("UnitFileState") == "masked"
        active = show.get("ActiveState", "")
        state.running = active in ("active", "activating", "reloading")
        answer_lines = output.text("is_enabled").splitlines()
        answer = answer_lines[0].strip() if answer_lines and not answer_lines[0].startswith("rc=") else ""
        rc = next((line[3:] for line in answer_lines if line.startswith("rc=")), "1")
        # A SysV script under systemd answers is-enabled by its rc links (Ansible does the same).
        state.enabled = rc == "0" or answer in _ENABLED_ANSWERS
        if answer in ("disabled", "masked", "masked-runtime", "linked", "linked-runtime"):
            state.enabled = False
        return state
    values = parse_fields(output.text("sysv"))
    state.found = values.get("script") == "1" or "status_rc" in values
    if "status_rc" in values:
        state.running = values["status_rc"] == "0"
    state.enabled = values.get("enabled_link") == "1"
    return state


def plan(state: ServiceState, args: Mapping[str, Any]) -> list[str]:
    """The actions needed, in order: unmask/mask, enable/disable, then start/stop/restart/reload."""
    actions: list[str] = []
    masked = args.get("masked")
    if masked is not None and masked != state.masked:
        actions.append("mask" if masked else "unmask")
    enabled = args.get("enabled")
    if enabled is not None and enabled != state.enabled:
        actions.append("enable" if enabled else "disable")
    want = args.get("state")
    if want == "started" and not state.running:
        actions.append("start")
    elif want == "stopped" and state.running:
        actions.append("stop")
    elif want == "restarted":
        actions.append("restart")
    elif want == "reloaded":
        actions.append("reload" if state.running else "start")
    return actions


def action_commands(state: ServiceState, name: str, actions: list[str], args: Mapping[str, Any]) -> list[str]:
    """Shell lines for the actions on this host's service manager."""
    n = quote(name)
    lines = []
    if state.manager == "systemd":
        scope = _scope(args)
        block = " --no-block" if args.get("no_block") else ""
        force = " --force" if args.get("force") else ""
        for action in actions:
            extra = block if action in ("start", "stop", "restart", "reload") else force
            lines.append(f"systemctl {scope}{action}{extra} {n}")
        return lines
    for action in actions:
        if action in ("mask", "unmask"):
            raise ModuleFailed(f"masked is only supported with systemd, not on {state.manager}")
        if action == "enable":
            lines.append(f"update-rc.d {n} defaults >/dev/null 2>&1 || :; update-rc.d {n} enable")
        elif action == "disable":
            lines.append(f"update-rc.d {n} defaults >/dev/null 2>&1 || :; update-rc.d {n} disable")
        else:
            # split like a command line, each word quoted: arguments are data, not shell code
            words = shlex.split(str(args["arguments"])) if args.get("arguments") else []
            arguments = "".join(f" {quote(w)}" for w in words)
            if action == "restart" and args.get("sleep"):  # stop, wait, start (Ansible's `sleep`)
                lines.append(
                    f"/etc/init.d/{n} stop{arguments}; sleep {int(args['sleep'])}; /etc/init.d/{n} start{arguments}"
                )
                continue
            lines.append(f"/etc/init.d/{n} {action}{arguments}")
    return lines


def _scope(args: Mapping[str, Any]) -> str:
    scope = args.get("scope") or "system"
    return "" if scope == "system" else f"--{scope} "


def manage(ctx: ModuleContext, args: Mapping[str, Any], *, use: str = "auto") -> dict[str, Any]:
    """The work of both modules: read, decide, act (the engine runs the acts unless in check mode)."""
    name = args.get("name") or ""
    header = (
        f"n={quote(name)} use={quote(use)} pattern={quote(args.get('pattern') or '')} "
        f"scope={quote(_scope(args))} daemon_reload={int(bool(args.get('daemon_reload')))} "
        f"daemon_reexec={int(bool(args.get('daemon_reexec')))}\n"
    )
    if args.get("daemon_reload") or args.get("daemon_reexec"):
        ctx.converge(header + _RELOAD_QUERY_SH, header + _RELOAD_SH)
    read = ctx.query(header + _QUERY_SH)
    if read.rc != 0:
        raise ModuleFailed(read.err.strip() or "cannot read the service state", rc=read.rc)
    state = parse_state(read.wire)
    result: dict[str, Any] = {"name": name, "changed": False}
    if not name:
        return result
    wants_something = any(args.get(k) is not None for k in ("state", "enabled", "masked"))
    if not state.found and wants_something and not (state.manager == "systemd" and args.get("masked")):
        raise ModuleFailed(f"Could not find the requested service {name}: host")
    actions = plan(state, args)
    if actions:
        lines = action_commands(state, name, actions, args)
        script = "\n".join(f'__o=$({line} 2>&1) || orch_fail "$__o"' for line in lines)
        ctx.converge("return 10", script)
        result["changed"] = True
        ctx.add_diff(_describe(state), _describe_after(state, actions), name, name)
    if args.get("state") is not None:
        result["state"] = args["state"]
    if args.get("enabled") is not None:
        result["enabled"] = args["enabled"]
    if state.manager == "systemd":
        result["status"] = state.status
    return result


def _describe(state: ServiceState) -> str:
    return f"running: {state.running}\nenabled: {state.enabled}\n"


def _describe_after(state: ServiceState, actions: list[str]) -> str:
    running = state.running
    if {"start", "restart", "reload"} & set(actions):
        running = True
    if "stop" in actions:
        running = False
    enabled = True if "enable" in actions else False if "disable" in actions else state.enabled
    return f"running: {running}\nenabled: {enabled}\n"


@register
class Service(Module):
    """Manage a service with the host's init system."""

    name = "service"
    aliases = ("ansible.legacy.service",)
    spec = ArgSpec(
        params={
            "name": Param("str", required=True),
            "state": Param("str", choices=STATES),
            "enabled": Param("bool"),
            "sleep": Param("int"),
            "pattern": Param("str"),
            "arguments": Param("str", default="", aliases=("args",)),
            "runlevel": Param("str", default="default"),
            "use": Param("str", default="auto"),
        },
        required_one_of=(("state", "enabled"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        use = {"auto": "auto", "systemd": "systemd"}.get(args["use"], "sysvinit")
        return manage(ctx, args, use=use)


@register
class Systemd(Module):
    """Manage a systemd unit (falls back to init scripts where systemd does not run)."""

    name = "systemd"
    aliases = ("ansible.builtin.systemd_service", "systemd_service", "ansible.legacy.systemd")
    spec = ArgSpec(
        params={
            "name": Param("str", aliases=("service", "unit")),
            "state": Param("str", choices=STATES),
            "enabled": Param("bool"),
            "force": Param("bool"),
            "masked": Param("bool"),
            "daemon_reload": Param("bool", default=False, aliases=("daemon-reload",)),
            "daemon_reexec": Param("bool", default=False, aliases=("daemon-reexec",)),
            "scope": Param("str", default="system", choices=("system", "user", "global")),
            "no_block": Param("bool", default=False),
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        if not args.get("name") and any(args.get(k) is not None for k in ("state", "enabled", "masked")):
            raise ModuleFailed("state, enabled or masked need a unit name (name)")
        if not args.get("name") and not (args["daemon_reload"] or args["daemon_reexec"]):
            raise ModuleFailed("one of the following is required: name, daemon_reload, daemon_reexec")
        return manage(ctx, args)
