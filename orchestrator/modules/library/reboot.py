"""reboot: reboot the host and wait until it is back, checked on a FRESH connection.

Like Ansible: read the boot id, run `shutdown -r` (found in search_paths), drop the connection,
then reconnect until the boot id changed and test_command succeeds. orch's default boot id
also includes PID 1's start time, so hosts that restart without a new kernel boot (containers,
the lab's namespace hosts) are seen coming back too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ConnectError
from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

SEARCH_PATHS = ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"]
BOOT_ID_COMMAND = (
    "cat /proc/sys/kernel/random/boot_id; sed 's/.*) //' /proc/1/stat 2>/dev/null | cut -d' ' -f20"
)
POLL_INTERVAL = 1.0


@register
class Reboot(Module):
    """Reboot a host, wait for it to come back, and check it with test_command."""

    name = "reboot"
    aliases = ("ansible.legacy.reboot",)
    spec = ArgSpec(
        params={
            "pre_reboot_delay": Param("int", default=0),
            "post_reboot_delay": Param("int", default=0),
            "reboot_timeout": Param("int", default=600),
            "connect_timeout": Param("int"),
            "test_command": Param("str", default="whoami"),
            "msg": Param("str", default="Reboot initiated by Ansible"),
            "search_paths": Param("list", elements="str", default=SEARCH_PATHS),
            "boot_time_command": Param("str", default=BOOT_ID_COMMAND),
            "reboot_command": Param("str"),
        }
    )

    check_result = {"changed": True, "elapsed": 0, "rebooted": True}

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        before = self._boot_id(ctx, args)
        if before is None:
            raise ModuleFailed("could not read the boot id before rebooting (boot_time_command failed)")
        command = self._command(args)
        # Issue the reboot; the host may drop the connection before the command returns.
        try:
            out = ctx.change(command)
            assert out is not None  # the engine reports check_result in check mode instead
            if out.rc != 0:
                raise ModuleFailed(
                    f"Reboot command failed. Error was: '{out.err.strip() or out.out.strip()}'",
                    rc=out.rc,
                    stdout=out.out,
                    stderr=out.err,
                )
        except (ConnectError, TimeoutError):
            pass
        ctx.conn.close()  # the old session belongs to the old boot: reconnect from scratch
        deadline = time.monotonic() + args["reboot_timeout"]
        self._wait(ctx, args, deadline, before)
        if args["post_reboot_delay"] > 0:
            time.sleep(args["post_reboot_delay"])
        return {"changed": True, "rebooted": True, "elapsed": int(time.monotonic() - started)}

    @staticmethod
    def _command(args: Mapping[str, Any]) -> str:
        if args.get("reboot_command"):
            word, _, rest = args["reboot_command"].strip().partition(" ")
            if word.startswith("/"):
                return args["reboot_command"]
            finder = word
            tail = rest
        else:
            delay_min = args["pre_reboot_delay"] // 60
            finder, tail = "shutdown", f"-r {delay_min} {quote(args['msg'])}"
        paths = " ".join(quote(p) for p in args["search_paths"])
        missing = f'Unable to find command "{finder}" in search paths: {" ".join(args["search_paths"])}'
        return (
            f'__c=; for __p in {paths}; do [ -x "$__p/{finder}" ] && {{ __c="$__p/{finder}"; break; }}; done\n'
            f"[ -n \"$__c\" ] || {{ echo {quote(missing)} >&2; exit 1; }}\n"  # quoted: paths are data
            f'"$__c" {tail}'
        )

    @staticmethod
    def _boot_id(ctx: ModuleContext, args: Mapping[str, Any]) -> str | None:
        out = _run(ctx, args["boot_time_command"], max(float(args.get("connect_timeout") or 10), 5.0))
        return out.out.strip() if out.rc == 0 and out.out.strip() else None

    def _wait(self, ctx: ModuleContext, args: Mapping[str, Any], deadline: float, before: str) -> None:
        stage = "last boot time check"
        while time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
            try:
                if stage == "last boot time check":
                    now = self._boot_id(ctx, args)
                    if now is None or now == before:
                        continue
                    stage = "post-reboot test command"
                out = _run(ctx, args["test_command"], 30.0)
                if out.rc == 0:
                    return
            except (ConnectError, TimeoutError, OSError):
                ctx.conn.close()  # not back yet: the next try opens a new connection
        raise ModuleFailed(f"Timed out waiting for {stage} (timeout={args['reboot_timeout']})", rebooted=True)


def _run(ctx: ModuleContext, script: str, timeout: float) -> Any:
    """ctx.query with a timeout of its own: a host on its way down may accept and never answer."""
    return ctx.conn.run(script, become=ctx.become, env=ctx.env or None, timeout=timeout)
