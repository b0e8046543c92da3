"""get_url: download a URL on the host with curl or wget (whichever it has), atomically.

Ansible's rules: an existing dest is left alone without `force` (and with a matching
`checksum`, no download happens at all); a download whose content equals dest changes nothing.
Credentials go to the tool through a mode-0600 config file, never on a command line.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import (
    FILE_COMMON_PARAMS,
    attr_assignments,
    file_result,
    quiet_converge,
    validate_line,
)
from orchestrator.modules.library.stat import ALGORITHMS
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.modules.wire import unhex
from orchestrator.transport.shell import quote


def parse_checksum(value: str) -> tuple[str, str] | None:
    """'sha256:abc...' -> ('sha256', 'abc...'); '' -> None. URLs of checksum files are not supported."""
    if not value:
        return None
    algo, sep, digest = value.partition(":")
    if not sep or algo not in ALGORITHMS:
        raise ModuleFailed("The checksum parameter has to be in format <algorithm>:<checksum>")
    if "/" in digest:
        raise ModuleFailed("a checksum given as a URL is not supported; give the digest itself")
    return algo, digest.strip().lower()


def _conf_value(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@register
class GetUrl(Module):
    """Download files from HTTP, HTTPS or FTP to the host."""

    name = "get_url"
    aliases = ("ansible.legacy.get_url",)
    spec = ArgSpec(
        params={
            "url": Param("str", required=True),
            "dest": Param("path", required=True),
            "backup": Param("bool", default=False),
            "checksum": Param("str", default=""),
            "force": Param("bool", default=False),
            "timeout": Param("int", default=10),
            "headers": Param("dict"),
            "tmp_dest": Param("path"),
            "http_agent": Param("str", default="ansible-httpget"),
            "use_proxy": Param("bool", default=True),
            "validate_certs": Param("bool", default=True),
            "url_username": Param("str", aliases=("username",)),
            "url_password": Param("str", aliases=("password",), no_log=True),
            "force_basic_auth": Param("bool", default=False),
            "client_cert": Param("path"),
            "client_key": Param("path"),
            "validate": Param("str"),
            "unredirected_headers": Param("list", elements="str", default=[]),
            "decompress": Param("bool", default=True),
            "use_netrc": Param("bool", default=True),
            "use_gssapi": Param("bool", default=False),
            "ciphers": Param("list", elements="str"),
            **FILE_COMMON_PARAMS,
        },
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        url = args["url"]
        want = parse_checksum(args["checksum"])
        name = posixpath.basename(urllib.parse.urlsplit(url).path) or "index.html"
        algo = want[0] if want else "sha1"
        header = (
            f"d={quote(args['dest'])} url={quote(url)} force={int(args['force'])}\n"
            f"want_sum={quote(want[1] if want else '')}\n"
            f'if [ -d "$d" ]; then d="$d/"{quote(name)}; fi\n' + attr_assignments(args)
        )
        query = f"""{header}
orch_kvx dest "$d"
orch_statvars "$d" || exit 1
orch_report_stat
if [ "$st_state" = file ] && [ "$force" = 0 ]; then
  if [ -z "$want_sum" ] || [ "$({algo}sum < "$d" | cut -d' ' -f1)" = "$want_sum" ]; then
    orch_check_attrs "$d"; [ "$attr_change" = 1 ] && return 10; return 0
  fi
fi
return 10"""
        apply = f"""__dir=$(dirname -- "$d")
[ -d "$__dir" ] || orch_fail "Destination $__dir does not exist"
tmp=$(mktemp -- "$__dir/.orch-dl.XXXXXX"); conf=$(mktemp); trap 'rm -f -- "$tmp" "$conf"' EXIT
if [ "$st_state" = file ] && [ "$force" = 0 ] && {{ [ -z "$want_sum" ] || [ "$({algo}sum < "$d" | cut -d' ' -f1)" = "$want_sum" ]; }}; then
  orch_apply_attrs "$d"; orch_kv outcome attrs; exit 0
fi
{self._download(args)}
sum_src=$(sha1sum < "$tmp" | cut -d' ' -f1); orch_kv checksum_src "$sum_src"; orch_kv size "$(stat -c %s -- "$tmp")"
if [ -n "$want_sum" ]; then
  got=$({algo}sum < "$tmp" | cut -d' ' -f1)
  [ "$got" = "$want_sum" ] || orch_fail "The checksum for $d did not match $want_sum; it was $got."
fi
if [ "$st_state" = file ] && [ "$(sha1sum < "$d" | cut -d' ' -f1)" = "$sum_src" ]; then
  orch_check_attrs "$d"; orch_apply_attrs "$d"; orch_kv outcome "same$attr_change"; exit 0
fi
if [ "$st_state" = file ]; then chmod "$st_mode" "$tmp"; chown "$st_uid:$st_gid" "$tmp" 2>/dev/null || :
else chmod "$(printf '%o' $(( 0666 & ~$(umask) )))" "$tmp"; fi
orch_apply_attrs "$tmp"
{validate_line(args.get("validate"))}
{'[ "$st_state" = file ] && orch_backup "$d"' if args.get("backup") else ":"}
mv -fT -- "$tmp" "$d"; orch_kv outcome written"""
        converged = quiet_converge(ctx, query, apply)
        fields = converged.fields()
        done = converged.apply.fields
        dest = unhex(fields.get("dest", "")) or args["dest"]
        changed = converged.changed and done.get("outcome") not in ("same0",)
        result: dict[str, Any] = {"changed": changed, "dest": dest, "url": url, "status_code": None}
        result.update(file_result(fields))
        if converged.applied:
            result["status_code"] = int(done.get("status_code", "200") or 200)
            if "checksum_src" in done:
                result["checksum_src"] = result["checksum_dest"] = done["checksum_src"]
                result["size"] = int(done.get("size", "0"))
            result["msg"] = f"OK ({result.get('size', 0)} bytes)"
            if "backup_file" in done:
                result["backup_file"] = unhex(done["backup_file"])
        else:
            result["msg"] = "file already exists"
        if changed and ctx.diff_mode:
            ctx.add_diff(f"{dest} (absent)\n" if fields.get("state") == "absent" else f"{dest}\n",
                         f"{dest} (downloaded from {url})\n", dest, dest)
        return result

    @staticmethod
    def _download(args: Mapping[str, Any]) -> str:
        """Fragment: fetch $url into "$tmp" with curl, else wget; prints status_code."""
        timeout = int(args["timeout"])
        curl_conf = [f"max-time = {timeout}", f"user-agent = {_conf_value(args['http_agent'])}"]
        wget_conf = [f"timeout = {timeout}", f"user_agent = {args['http_agent']}"]
        if not args["validate_certs"]:
            curl_conf.append("insecure")
            wget_conf.append("check_certificate = off")
        if not args["use_proxy"]:
            curl_conf.append('noproxy = "*"')
            wget_conf.append("use_proxy = off")
        if args["decompress"]:
            curl_conf.append("compressed")
        for key, value in (args.get("headers") or {}).items():
            curl_conf.append(f"header = {_conf_value(f'{key}: {value}')}")
            wget_conf.append(f"header = {key}: {value}")
        if args.get("url_username"):
            curl_conf.append(f"user = {_conf_value(args['url_username'] + ':' + (args.get('url_password') or ''))}")
            wget_conf += [f"user = {args['url_username']}", f"password = {args.get('url_password') or ''}"]
            if args["force_basic_auth"]:
                curl_conf.append("basic")
                wget_conf.append("auth_no_challenge = on")
        if any("\n" in line or "\r" in line for line in wget_conf):
            # a line break would start a new wgetrc directive (output_document = ..., ...)
            raise ModuleFailed("get_url: headers, http_agent and credentials must not contain line breaks")
        curl = quote("\n".join(curl_conf) + "\n")
        wget = quote("\n".join(wget_conf) + "\n")
        return f"""if command -v curl >/dev/null 2>&1; then
  printf '%s' {curl} > "$conf"
  code=$(curl -sS -L -K "$conf" -o "$tmp" -w '%{{http_code}}' -- "$url" 2>"$tmp.err"); rc=$?
  err=$(cat "$tmp.err" 2>/dev/null); rm -f "$tmp.err"
  orch_kv status_code "$code"
  [ "$rc" = 0 ] || orch_fail "Request failed: $err"
  case "$code" in 2*|"000") ;; *) orch_fail "Request failed: HTTP Error $code" ;; esac
elif command -v wget >/dev/null 2>&1; then
  printf '%s' {wget} > "$conf"
  WGETRC="$conf" wget -q -O "$tmp" -- "$url" || orch_fail "Request failed: wget exited with $?"
  orch_kv status_code 200
else orch_fail "get_url needs curl or wget on the host"; fi"""
