"""fetch: copy a remote file to the controller (dest/<host>/<path>, or dest itself with flat).

One round trip: the host compares the file's checksum with the controller's copy and sends the
bytes only when they differ.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import md5, sha1
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote


def local_dest(dest: str, src: str, host: str, flat: bool) -> str:
    """Where Ansible's fetch puts `src` of `host` under `dest`. Pure."""
    dest = os.path.expanduser(dest)
    if flat:
        return os.path.join(dest, os.path.basename(src)) if dest.endswith(os.sep) else dest
    return os.path.normpath(os.path.join(dest, host, src.lstrip("/")))


@register
class Fetch(Module):
    """Fetch a file from the host to the controller."""

    name = "fetch"
    aliases = ("ansible.legacy.fetch",)
    spec = ArgSpec(
        params={
            "src": Param("str", required=True),
            "dest": Param("path", required=True),
            "fail_on_missing": Param("bool", default=True),
            "validate_checksum": Param("bool", default=True),
            "flat": Param("bool", default=False),
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        src = args["src"]
        host = str(ctx.variables.get("inventory_hostname", ctx.host))
        dest = local_dest(args["dest"], src, host, args["flat"])
        local_sum = ""
        if os.path.isfile(dest):
            with open(dest, "rb") as handle:
                local_sum = sha1(handle.read())
        script = (
            f"s={quote(src)}\n"
            'if [ -d "$s" ]; then echo state=directory; exit 0; fi\n'
            'if [ ! -e "$s" ]; then echo state=absent; exit 0; fi\n'
            'if [ ! -r "$s" ]; then echo state=unreadable; exit 0; fi\n'
            'sum=$(sha1sum < "$s" | cut -d" " -f1); echo state=file; echo "checksum=$sum"\n'
            f'if [ "$sum" != {quote(local_sum or "-")} ]; then orch_section data; cat -- "$s"; fi\n'
        )
        result = ctx.query(script)
        fields = result.fields()
        data = result.wire.section("data")
        state = fields.get("state")
        if result.rc != 0 or state is None:
            raise ModuleFailed(result.err.strip() or f"could not read {src}", rc=result.rc)
        if state != "file":
            msg = {
                "directory": "remote file is a directory, fetch cannot work on directories",
                "absent": "the remote file does not exist, not transferring, ignored",
                "unreadable": "unable to calculate the checksum of the remote file",
            }[state]
            if state == "absent" and not args["fail_on_missing"]:
                return {"changed": False, "file": src, "msg": msg}
            if state == "absent":
                msg = f"the remote file does not exist, not transferring: {src}"
            raise ModuleFailed(msg, file=src)
        remote_sum = fields["checksum"]
        out: dict[str, Any] = {"changed": False, "file": src, "dest": dest, "checksum": remote_sum,
                               "remote_checksum": remote_sum}
        if data is None:  # the controller's copy is current
            with open(dest, "rb") as handle:
                out["md5sum"] = md5(handle.read())
            return out
        new_sum = sha1(data)
        if args["validate_checksum"] and new_sum != remote_sum:
            raise ModuleFailed("checksum mismatch", file=src, dest=dest, checksum=new_sum, remote_checksum=remote_sum)
        out.update(changed=True, md5sum=hashlib.md5(data).hexdigest(), remote_md5sum=None)
        ctx.save_local(dest, data, 0o644)
        return out
