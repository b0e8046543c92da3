"""wait_for: wait for a TCP port, a file, or a string in either, on the host, with sh tools only.

A port is probed with `curl telnet://host:port` (connects, reads the banner for search_regex);
without curl a local port is looked up in /proc/net/tcp{,6}. `drained` counts established
connections in /proc/net/tcp{,6}. The whole wait is one script, one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

STATES = ("absent", "drained", "present", "started", "stopped")

_SH = r"""
orch_port_hex() { printf '%04X' "$1"; }
# Sockets of port $1 in TCP state $2 (0A listen, 01 established) from /proc/net/tcp{,6}.
orch_proc_sockets() {
  __hex=$(orch_port_hex "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$__hex" -v s="$2" '
    NR > 0 && $4 == s && substr($2, length($2) - 4) == p { n++ } END { print n + 0 }'
}
# Connect to the port; with a regex, also read what the server sends (one curl call).
# A successful probe of a remote port lasts connect_timeout: curl waits for more data.
orch_port_open() {
  if [ "$local" = 1 ] && [ -z "$regex" ] && [ -r /proc/net/tcp ]; then
    # The host itself: its listening sockets answer at once.
    [ "$(orch_proc_sockets "$port" 0A)" -gt 0 ]
  elif command -v curl >/dev/null 2>&1; then
    __o=$(curl -s --connect-timeout "$connect_timeout" --max-time "$connect_timeout" \
      -w '\n@@port=%{remote_port}' "telnet://$host_url:$port" </dev/null 2>/dev/null)
    case "$__o" in *"@@port=0"|"") return 1 ;; esac
    [ -z "$regex" ] || printf '%s\n' "$__o" | grep -Eq -- "$regex"
  else
    [ "$(orch_proc_sockets "$port" 0A)" -gt 0 ]
  fi
}
orch_check() {
  case "$mode:$state" in
    path:present|path:started)
      [ -e "$path" ] || return 1
      [ -z "$regex" ] || grep -Eq -- "$regex" "$path" 2>/dev/null ;;
    path:absent|path:stopped) [ ! -e "$path" ] ;;
    port:present|port:started) orch_port_open ;;
    port:absent|port:stopped) regex= orch_port_open && return 1; return 0 ;;
    port:drained) [ "$(orch_proc_sockets "$port" 01)" -eq 0 ] ;;
    none:*) return 0 ;;
  esac
}
__start=$(date +%s)
[ "$delay" -gt 0 ] && sleep "$delay"
while :; do
  if orch_check; then orch_kv elapsed $(( $(date +%s) - __start )); exit 0; fi
  if [ $(( $(date +%s) - __start )) -ge "$timeout" ]; then orch_kv elapsed $(( $(date +%s) - __start )); exit 3; fi
  sleep "$sleep"
done
"""


@register
class WaitFor(Module):
    """Wait until a port or file reaches a state, or a regex shows up in it."""

    name = "wait_for"
    aliases = ("ansible.legacy.wait_for",)
    spec = ArgSpec(
        params={
            "host": Param("str", default="127.0.0.1"),
            "timeout": Param("int", default=300),
            "connect_timeout": Param("int", default=5),
            "delay": Param("int", default=0),
            "port": Param("int"),
            "active_connection_states": Param("list", elements="str"),
            "path": Param("path"),
            "search_regex": Param("str"),
            "state": Param("str", default="started", choices=STATES),
            "exclude_hosts": Param("list", elements="str"),
            "sleep": Param("int", default=1),
            "msg": Param("str"),
        },
        mutually_exclusive=(("port", "path"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        port, path, state = args.get("port"), args.get("path"), args["state"]
        if path and state == "drained":
            raise ModuleFailed("state=drained should only be used for checking a port in the wait_for module")
        if args.get("exclude_hosts") and state != "drained":
            raise ModuleFailed("exclude_hosts should only be with state=drained")
        if args.get("search_regex"):
            try:
                re.compile(args["search_regex"])
            except re.error as exc:
                raise ModuleFailed(f"invalid search_regex: {exc}") from None
        mode = "port" if port is not None else "path" if path else "none"
        host = args["host"]
        local = host in ("127.0.0.1", "localhost", "0.0.0.0", "::1", "::")
        host_url = f"[{host}]" if ":" in host and not host.startswith("[") else host
        header = (
            f"mode={mode} state={state} host_url={quote(host_url)} port={int(port or 0)} local={int(local)} "
            f"path={quote(path or '')} regex={quote(args.get('search_regex') or '')} "
            f"timeout={int(args['timeout'])} delay={int(args['delay'])} sleep={max(int(args['sleep']), 1)} "
            f"connect_timeout={max(int(args['connect_timeout']), 1)}\n"
        )
        if mode == "none":  # only a delay/timeout: Ansible sleeps for `timeout`
            header = header.replace(
                f"delay={int(args['delay'])}", f"delay={int(args['delay']) + int(args['timeout'])}"
            )
        out = ctx.query(header + _SH)
        elapsed = int(out.fields().get("elapsed") or 0)
        result: dict[str, Any] = {"changed": False, "elapsed": elapsed, "state": state}
        if port is not None:
            result["port"] = port
        if path:
            result["path"] = path
        if args.get("search_regex"):
            result["search_regex"] = args["search_regex"]
            result["match_groups"] = []
            result["match_groupdict"] = {}
        if out.rc == 3:
            raise ModuleFailed(args.get("msg") or self._timeout_msg(args, mode), **result)
        if out.rc != 0:
            raise ModuleFailed(out.err.strip() or f"wait_for failed (rc {out.rc})", rc=out.rc, **result)
        return result

    @staticmethod
    def _timeout_msg(args: Mapping[str, Any], mode: str) -> str:
        state, where = args["state"], f"{args['host']}:{args.get('port')}"
        if mode == "path":
            if state in ("absent", "stopped"):
                return f"Timeout when waiting for {args['path']} to be absent."
            if args.get("search_regex"):
                return f"Timeout when waiting for search string {args['search_regex']} in {args['path']}"
            return f"Timeout when waiting for file {args['path']}"
        if state in ("absent", "stopped"):
            return f"Timeout when waiting for {where} to stop."
        if state == "drained":
            return f"Timeout when waiting for {where} to drain"
        if args.get("search_regex"):
            return f"Timeout when waiting for search string {args['search_regex']} in {where}"
        return f"Timeout when waiting for {where}"
