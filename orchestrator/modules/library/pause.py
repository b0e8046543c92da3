"""pause: wait on the controller for some time, or for Enter when a terminal is attached.

Without a terminal (CI, cron) a prompt-only pause does not wait, as in Ansible, with a warning.
"""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param


@register
class Pause(Module):
    """Pause the play for a while, or until Enter is pressed."""

    name = "pause"
    aliases = ("ansible.legacy.pause",)
    remote = False
    spec = ArgSpec(
        params={
            "seconds": Param("float"),
            "minutes": Param("float"),
            "prompt": Param("str"),
            "echo": Param("bool", default=True),
        },
        mutually_exclusive=(("minutes", "seconds"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        unit = "seconds" if args.get("seconds") is not None else "minutes"
        seconds: float | None = None
        if args.get("minutes") is not None:
            seconds = int(args["minutes"]) * 60
        elif args.get("seconds") is not None:
            seconds = int(args["seconds"])
        result: dict[str, Any] = {"changed": False, "rc": 0, "stderr": "", "echo": args["echo"]}
        start = time.time()
        result["start"] = str(datetime.datetime.now())
        user_input = ""
        if seconds is not None:
            time.sleep(max(seconds, 1))
        elif sys.stdin is not None and sys.stdin.isatty():
            prompt = args.get("prompt") or "Press enter to continue, Ctrl+C to interrupt"
            sys.stderr.write(f"{prompt}:")
            sys.stderr.flush()
            user_input = sys.stdin.readline().rstrip("\n") if args["echo"] else _read_hidden()
        else:
            ctx.warnings.append("Not waiting for response to prompt as stdin is not interactive")
        duration = time.time() - start
        result["stop"] = str(datetime.datetime.now())
        result["delta"] = int(duration)
        shown = round(duration / 60.0, 2) if unit == "minutes" else round(duration, 2)
        result["stdout"] = f"Paused for {shown} {unit}"
        result["user_input"] = user_input
        return result


def _read_hidden() -> str:
    import getpass

    return getpass.getpass("")
