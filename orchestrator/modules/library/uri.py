"""uri: HTTP(S) requests made on the host with `curl`, Ansible's parameters and result keys.

One round trip: the body goes on stdin, credentials in a curl config file (never in argv), and
the status line, headers and body come back as sections of the output (modules/wire.py) for the
controller to parse; `json` is set when the response is JSON. Works with `until`/`retries` like any module.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import WireOutput
from orchestrator.transport.shell import quote

JSON_CANDIDATES = {"json", "javascript"}

_SH = r"""
command -v curl >/dev/null 2>&1 || orch_fail "uri needs curl on the host"
__d=$(mktemp -d) || exit 1; trap 'rm -rf "$__d"' EXIT
umask 077; printf '%s' "$config" > "$__d/cfg"
__rc=0
__w=$(curl -sS -K "$__d/cfg" -D "$__d/h" -o "$__d/b" -w '%{http_code} %{size_download} %{num_redirects} %{url_effective}' $body_opt "$url" 2>"$__d/e") || __rc=$?
orch_section curl; printf '%s %s' "$__rc" "$__w"
orch_section stderr; cat "$__d/e"
orch_section headers; cat "$__d/h" 2>/dev/null
orch_section body; if [ "$want_body" = 1 ]; then cat "$__d/b"; fi
# Writing dest is the write step (_WRITE_DEST_SH), run by the engine unless in check mode.
if [ -n "$dest" ] && [ "$__rc" = 0 ]; then
  __code=${__w%% *}
  case " $ok_codes " in *" $__code "*) [ "$__code" = 304 ] || return 10 ;; esac
fi
return 0
"""
_WRITE_DEST_SH = r"""
if [ -d "$dest" ]; then dest="$dest/index.html"; fi
__t=$(mktemp "$(dirname -- "$dest")/.orch-uri.XXXXXX") && cat "$__d/b" > "$__t" && chmod 0644 "$__t" && mv -f -- "$__t" "$dest"
printf 'dest_written=%s\n' "$dest" >&2
"""


def _config_line(key: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{key} = "{escaped}"\n'


def build_body(args: Mapping[str, Any], headers: dict[str, str]) -> bytes | None:
    body, fmt = args.get("body"), (args["body_format"] or "raw").lower()
    if body is None:
        return None
    lower = {k.lower() for k in headers}
    if fmt == "json":
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if "content-type" not in lower:
            headers["Content-Type"] = "application/json"
    elif fmt == "form-urlencoded":
        if not isinstance(body, (str, bytes)):
            items = body.items() if isinstance(body, Mapping) else body
            body = urllib.parse.urlencode(list(items), doseq=True)
        if "content-type" not in lower:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif fmt == "form-multipart":
        raise ModuleFailed("body_format=form-multipart is not supported by orch yet")
    return body if isinstance(body, bytes) else str(body).encode()


def parse_headers(text: str) -> tuple[str, dict[str, str]]:
    """The last response's status message and headers (after redirects), lowercase_underscored."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip().startswith("HTTP/")]
    if not blocks:
        return "", {}
    lines = blocks[-1].strip().splitlines()
    status_line = lines[0].split(" ", 2)
    reason = status_line[2] if len(status_line) > 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower().replace("-", "_")
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return reason, headers


@register
class Uri(Module):
    """Talk to a web service from the host (status, headers, content, json)."""

    name = "uri"
    aliases = ("ansible.legacy.uri",)
    spec = ArgSpec(
        params={
            "url": Param("str", required=True),
            "dest": Param("path"),
            "url_username": Param("str", aliases=("user",)),
            "url_password": Param("str", aliases=("password",), no_log=True),
            "body": Param("raw"),
            "body_format": Param(
                "str", default="raw", choices=("form-urlencoded", "json", "raw", "form-multipart")
            ),
            "src": Param("path"),
            "method": Param("str", default="GET"),
            "return_content": Param("bool", default=False),
            "follow_redirects": Param(
                "str", default="safe", choices=("all", "no", "none", "safe", "urllib2", "yes")
            ),
            "creates": Param("path"),
            "removes": Param("path"),
            "status_code": Param("list", elements="int", default=[200]),
            "timeout": Param("int", default=30),
            "headers": Param("dict", default={}),
            "validate_certs": Param("bool", default=True),
            "force_basic_auth": Param("bool", default=False),
            "client_cert": Param("path"),
            "client_key": Param("path"),
            "ca_path": Param("path"),
            "unix_socket": Param("path"),
            "http_agent": Param("str", default="ansible-httpget"),
            "use_proxy": Param("bool", default=True),
            "remote_src": Param("bool", default=False),
            "unredirected_headers": Param("list", elements="str", default=[]),
            "decompress": Param("bool", default=True),
            "ciphers": Param("list", elements="str"),
            "use_netrc": Param("bool", default=True),
            "use_gssapi": Param("bool", default=False),
            "url_timeout": Param("int"),
            "mode": Param("mode"),
            "owner": Param("str"),
            "group": Param("str"),
        },
        mutually_exclusive=(("body", "src"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        method = str(args["method"]).upper()
        if not method.isalpha():
            raise ModuleFailed("Parameter 'method' needs to be a single word in uppercase, like GET or POST.")
        guard = self._guard(ctx, args)
        if guard:
            return guard
        headers = {str(k): str(v) for k, v in (args["headers"] or {}).items()}
        body = build_body(args, headers)
        if args.get("src"):
            with open(ctx.find_file(args["src"]), "rb") as handle:
                body = handle.read()
        config = self._config(args, method, headers)
        ok_codes = " ".join(str(c) for c in args["status_code"])
        header = (
            f"url={quote(args['url'])} config={quote(config)} dest={quote(args.get('dest') or '')} "
            f"ok_codes={quote(ok_codes)} "
            f"body_opt={quote('--data-binary @-') if body is not None else quote('')} "
            f"want_body={0 if args.get('dest') else 1}\n"
        )
        try:
            out = ctx.converge(header + _SH, _WRITE_DEST_SH, stdin=body)
        except ModuleFailed as exc:
            raise ModuleFailed(exc.result.get("stderr", "").strip() or "uri failed", rc=exc.result.get("rc")) from None
        return self._result(ctx, args, out.query, out.stderr)

    @staticmethod
    def _guard(ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any] | None:
        for key, want in (("creates", True), ("removes", False)):
            path = args.get(key)
            if path:
                exists = ctx.query(f"[ -e {quote(path)} ]").rc == 0
                if exists == want:
                    verb = "exists" if want else "does not exist"
                    return {"changed": False, "stdout": f"skipped, since '{path}' {verb}"}
        return None

    @staticmethod
    def _config(args: Mapping[str, Any], method: str, headers: dict[str, str]) -> str:
        lines = [_config_line("request", method), _config_line("max-time", str(args["timeout"]))]
        if args.get("url_username") is not None:
            user = f"{args['url_username']}:{args.get('url_password') or ''}"
            lines.append(_config_line("user", user))
            if args["force_basic_auth"]:
                lines.append("basic\n")
        follow = args["follow_redirects"]
        if follow in ("all", "yes", "urllib2") or (follow == "safe" and method in ("GET", "HEAD")):
            lines.append("location\n")
        if not args["validate_certs"]:
            lines.append("insecure\n")
        if args.get("ca_path"):
            lines.append(_config_line("cacert", args["ca_path"]))
        if args.get("client_cert"):
            lines.append(_config_line("cert", args["client_cert"]))
        if args.get("client_key"):
            lines.append(_config_line("key", args["client_key"]))
        if args.get("unix_socket"):
            lines.append(_config_line("unix-socket", args["unix_socket"]))
        if not args["use_proxy"]:
            lines.append(_config_line("noproxy", "*"))
        if args["decompress"]:
            lines.append("compressed\n")
        lines.append(_config_line("user-agent", args["http_agent"]))
        for key, value in headers.items():
            lines.append(_config_line("header", f"{key}: {value}"))
        if method == "HEAD":
            lines.append("head\n")
        return "".join(lines)

    @staticmethod
    def _result(ctx: ModuleContext, args: Mapping[str, Any], output: WireOutput, err: str) -> dict[str, Any]:
        rc_text, _, rest = output.text("curl").strip().partition(" ")
        parts = rest.split(" ", 3)
        curl_rc = int(rc_text or 1)
        url = parts[3] if len(parts) > 3 else args["url"]
        status = int(parts[0]) if parts and parts[0].isdigit() and curl_rc == 0 else -1
        reason, headers = parse_headers(output.text("headers"))
        content = output.section("body") or b""
        result: dict[str, Any] = {
            **headers,
            "url": url,
            "status": status,
            "redirected": parts[2] != "0" if len(parts) > 2 else False,
            "changed": False,
            "elapsed": 0,
            "cookies": {},
            "cookies_string": "",
        }
        if status == -1:
            result["msg"] = f"Request failed: {output.text('stderr').strip() or f'curl exit {curl_rc}'}"
        elif 200 <= status < 300 or status == 304:
            result["msg"] = f"OK ({headers.get('content_length', 'unknown')} bytes)"
        else:
            result["msg"] = f"HTTP Error {status}: {reason}"
        if "set_cookie" in headers:
            cookie = headers["set_cookie"].split(";", 1)[0]
            name, _, value = cookie.partition("=")
            result["cookies"] = {name.strip(): value.strip()}
            result["cookies_string"] = cookie.strip()
        content_type = headers.get("content_type", "")
        sub = content_type.split(";", 1)[0].partition("/")[2].lower()
        sub = sub.partition("+")[2] or sub
        text_content = content.decode("utf-8", "replace")
        if sub in JSON_CANDIDATES and content:
            with contextlib.suppress(ValueError):
                result["json"] = json.loads(text_content)
        dest = args.get("dest")
        if dest:
            result["path"] = dest
            if status in args["status_code"] and status != 304:
                result["changed"] = True
        if status not in args["status_code"]:
            result["msg"] = f"Status code was {status} and not {args['status_code']}: {result['msg']}"
            if args["return_content"]:
                result["content"] = text_content
            raise ModuleFailed(result.pop("msg"), **result)
        if args["return_content"]:
            result["content"] = text_content
        return result
