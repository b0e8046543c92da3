"""`orch run` output: Ansible's ad-hoc callbacks, `minimal` by default and `oneline` with -o.

    h1 | CHANGED | rc=0 >>                       (command/shell/raw, minimal)
    h1 | SUCCESS => {...}                        (other modules, minimal)
    h1 | CHANGED | rc=0 | (stdout) a\\nb          (command/shell/raw, -o)
    h1 | FAILED | rc=-1 | (stdout)  (msg) why    (-o, a failure with a reason besides rc)
    h1 | UNREACHABLE!: connection refused        (-o)

No banners and no recap, as `ansible` prints none; the exit code says the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from orchestrator.events import Event, HostResult, Message, TaskStart
from orchestrator.playbook.taskargs import short_action
from orchestrator.report import format as fmt
from orchestrator.report.base import BaseReporter
from orchestrator.report.plain import stringc
from orchestrator.results import Status, TaskResult

# Modules whose result Ansible shows as text rather than JSON (constants.MODULE_NO_JSON).
TEXT_MODULES = frozenset({"command", "shell", "raw"})


def _public(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not str(k).startswith("_")}


def _escape(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r")


class AdhocReporter(BaseReporter):
    def __init__(self, stream: TextIO, *, one_line: bool = False, color: bool = False) -> None:
        super().__init__()
        self.stream = stream
        self.one_line = one_line
        self.color = color
        self.text_output = False

    def _write(self, text: str, color: str | None) -> None:
        self.stream.write((stringc(text, color) if self.color else text) + "\n")
        self.stream.flush()

    def _handle(self, event: Event) -> None:
        match event:
            case TaskStart(name=name):
                self.text_output = short_action(name) in TEXT_MODULES
            case HostResult(result=result) if result.item_label is None:
                self._write(self.line(result), fmt.COLORS[result.status])
            case Message():
                self._write(fmt.message_line(event), fmt.message_color(event))

    def _json(self, data: Mapping[str, Any]) -> str:
        if self.one_line:  # Ansible: indent=0 with the newlines removed
            return json.dumps(_public(data), indent=0, sort_keys=True, default=str).replace("\n", "")
        return json.dumps(_public(data), indent=4, sort_keys=True, default=str)

    def line(self, result: TaskResult) -> str:
        host, data = result.host, result.data
        match result.status:
            case Status.SKIPPED:
                return f"{host} | SKIPPED"
            case Status.UNREACHABLE:
                if self.one_line:
                    return f"{host} | UNREACHABLE!: {result.msg}"
                return f"{host} | UNREACHABLE! => {self._json({**data, 'msg': result.msg, 'unreachable': True})}"
            case Status.FAILED:
                caption, bang = "FAILED", "FAILED!"
            case Status.CHANGED:
                caption = bang = "CHANGED"
            case _:
                caption = bang = "SUCCESS"
        if not self.text_output:
            return f"{host} | {bang} => {self._json(data)}"
        rc = result.rc if result.rc is not None else data.get("rc", -1)
        if self.one_line:
            text = f"{host} | {caption} | rc={rc} | (stdout) {_escape(result.stdout)}"
            text += f" (stderr) {_escape(result.stderr)}" if result.stderr else ""
            # Ansible's oneline drops msg; a failure that is not the command's own exit status
            # (timeout, become, a missing chdir...) would then show no reason at all.
            reason = result.msg if result.status is Status.FAILED else ""
            if reason and reason != "non-zero return code":
                text += f" (msg) {_escape(reason)}"
            return text
        # Ansible glues these together without a separator; one per line reads better.
        parts = [result.stdout, result.stderr, result.msg if result.status is Status.FAILED else ""]
        body = "\n".join(part for part in parts if part)
        return f"{host} | {caption} | rc={rc} >>\n{body}"
