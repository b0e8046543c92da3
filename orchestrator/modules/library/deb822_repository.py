"""deb822_repository: an APT source in /etc/apt/sources.list.d/<name>.sources (deb822 format).

The file is rendered on the controller exactly as ansible.builtin.deb822_repository renders it
(fields sorted by option name, Ansible's field names, multi-line values indented). A signed_by
URL is fetched on the host with curl into /etc/apt/keyrings/<name>.asc (or .gpg when the key is
binary), as Ansible does. One round trip; apply only when the key or the file differ.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import printf_literal, quote

KEYRINGS_DIR = "/etc/apt/keyrings"
_KEY_PLACEHOLDER = "@@ORCH_KEY_FILE@@"

_OPTIONS = {
    "allow_downgrade_to_insecure": Param("bool"),
    "allow_insecure": Param("bool"),
    "allow_weak": Param("bool"),
    "architectures": Param("list", elements="str"),
    "by_hash": Param("bool"),
    "check_date": Param("bool"),
    "check_valid_until": Param("bool"),
    "components": Param("list", elements="str"),
    "date_max_future": Param("int"),
    "enabled": Param("bool"),
    "inrelease_path": Param("str"),
    "languages": Param("list", elements="str"),
    "name": Param("str", required=True),
    "pdiffs": Param("bool"),
    "signed_by": Param("str"),
    "suites": Param("list", elements="str"),
    "targets": Param("list", elements="str"),
    "trusted": Param("bool"),
    "types": Param("list", elements="str", default=["deb"], choices=("deb", "deb-src")),
    "uris": Param("list", elements="str"),
}


def slug_of(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "", re.sub(r"[_\s]+", "-", name.lower()))


def field_name(option: str) -> str:
    if option == "name":
        return "X-Repolib-Name"
    if option == "uris":
        return "URIs"
    return option.replace("_", "-").title()


def render(args: Mapping[str, Any], signed_by: str | None) -> str:
    """The .sources text; `signed_by` replaces the parameter (a key file path or key data)."""
    lines = []
    for option in sorted(_OPTIONS):
        value = signed_by if option == "signed_by" else args.get(option)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = " ".join(str(v) for v in value)
        else:
            text = str(value)
        if "\n" in text:
            text = "\n" + textwrap.indent(
                "\n".join(line.strip() or "." for line in text.strip().splitlines()), "    "
            )
        lines.append(
            f"{field_name(option)}:{text}"
            if text.startswith("\n") or not text
            else f"{field_name(option)}: {text}"
        )
    return "\n".join(lines) + "\n"


_QUERY = r"""
__need=0
if [ "$state" = absent ]; then
  for __f in "$dest" "$keybase.asc" "$keybase.gpg"; do [ -e "$__f" ] && __need=1; done
  [ "$__need" = 1 ] && return 10; return 0
fi
key_file=
if [ -n "$key_url" ]; then
  key_tmp=$(mktemp) || exit 1; trap 'rm -f "$key_tmp"' EXIT
  curl -fsSL -o "$key_tmp" "$key_url" || orch_fail "Could not fetch signed_by key: $key_url"
  if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$key_tmp"; then key_file="$keybase.asc"; else key_file="$keybase.gpg"; fi
  orch_kv key_filename "$key_file"
  [ -d "$keyrings" ] || __need=1
  cmp -s "$key_tmp" "$key_file" || __need=1
  [ "$(stat -c %a "$key_file" 2>/dev/null)" = 644 ] || __need=1
fi
content=$(printf "$repo_fmt" | sed "s#@@ORCH_KEY_FILE@@#$key_file#")
printf '%s\n' "$content" | cmp -s - "$dest" || __need=1
[ -n "$mode" ] && [ "$(stat -c %a "$dest" 2>/dev/null)" != "$(printf '%o' "0$mode")" ] && __need=1
orch_section repo; printf '%s\n' "$content"
[ "$__need" = 1 ] && return 10; return 0
"""

_APPLY = r"""
if [ "$state" = absent ]; then rm -f -- "$dest" "$keybase.asc" "$keybase.gpg"; exit 0; fi
if [ -n "$key_url" ]; then
  [ -d "$keyrings" ] || mkdir -m 0755 -p "$keyrings"
  chown root:root "$keyrings"; chmod 0755 "$keyrings"
  if ! cmp -s "$key_tmp" "$key_file"; then
    __t=$(mktemp "$keyrings/.orch-key.XXXXXX"); cat "$key_tmp" > "$__t"; chmod 0644 "$__t"; mv -f "$__t" "$key_file"
  fi
  chmod 0644 "$key_file"
fi
__t=$(mktemp "$(dirname "$dest")/.orch-sources.XXXXXX")
printf '%s\n' "$content" > "$__t"
if [ -e "$dest" ]; then chmod "$(stat -c %a "$dest")" "$__t"; else chmod 0644 "$__t"; fi
[ -n "$mode" ] && chmod "$mode" "$__t"
mv -f -- "$__t" "$dest"
"""


@register
class Deb822Repository(Module):
    """Add or remove an APT repository in deb822 format (with its signing key)."""

    name = "deb822_repository"
    aliases = ("ansible.legacy.deb822_repository",)
    spec = ArgSpec(
        params={
            **_OPTIONS,
            "mode": Param("mode", default="0644"),
            "state": Param("str", default="present", choices=("present", "absent")),
            "install_python_debian": Param("bool", default=False),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        slug = slug_of(args["name"])
        dest = f"/etc/apt/sources.list.d/{slug}.sources"
        keybase = f"{KEYRINGS_DIR}/{slug}"
        signed_by = args.get("signed_by")
        key_url = ""
        rendered_key: str | None = signed_by
        if signed_by and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", signed_by):
            key_url, rendered_key = signed_by, _KEY_PLACEHOLDER
        repo = render(args, rendered_key)
        # printf format of the text minus its final newline (the script adds it back).
        repo_fmt = printf_literal(repo[:-1].encode())
        mode = str(args.get("mode") or "")
        header = (
            f"state={args['state']} dest={quote(dest)} keybase={quote(keybase)} keyrings={KEYRINGS_DIR} "
            f"key_url={quote(key_url)} mode={quote(mode)}\nrepo_fmt={repo_fmt}\n"
        )
        converged = ctx.converge(header + _QUERY, header + _APPLY)
        fields = converged.fields()
        if args["state"] == "absent":
            return {
                "repo": None,
                "changed": converged.changed,
                "dest": dest,
                "key_filename": f"{keybase}.gpg",
            }
        shown = converged.query.text("repo", "\n")
        if converged.changed:
            ctx.add_diff("", shown, dest, dest)
        return {
            "repo": shown,
            "changed": converged.changed,
            "dest": dest,
            "key_filename": fields.get("key_filename"),
        }
