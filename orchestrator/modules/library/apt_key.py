"""apt_key: add or remove an APT signing key with apt-key/gpg (legacy; prefer signed-by keyrings).

The key comes from `data`, `file` (on the host), `url` (fetched on the host with curl) or a
`keyserver`; its fingerprint is read with `gpg --show-keys`, so a key already in the keyring is
left alone. One round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import printf_literal, quote

_QUERY = r"""
command -v apt-key >/dev/null 2>&1 || orch_fail "apt-key is not available on this host (use a signed-by keyring)"
export APT_KEY_DONT_WARN_ON_DANGEROUS_USAGE=1
key_tmp=$(mktemp); trap 'rm -f "$key_tmp"' EXIT
if [ -n "$data_fmt" ]; then printf "$data_fmt" > "$key_tmp"
elif [ -n "$file" ]; then cat -- "$file" > "$key_tmp" || orch_fail "cannot read $file"
elif [ -n "$url" ]; then curl -fsSL ${insecure:+-k} -o "$key_tmp" "$url" || orch_fail "error getting key id from url: $url"
fi
if [ -z "$id" ] && [ -s "$key_tmp" ]; then
  id=$(gpg --batch --with-colons --show-keys "$key_tmp" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
  [ -n "$id" ] || orch_fail "could not read a key id from the key data"
fi
orch_kv id "$id"
have=0
apt-key $keyring_opt list --with-colons 2>/dev/null | awk -F: '$1 == "fpr" { print $10 }' | grep -qi -- "$id\$" && have=1
if [ "$state" = present ]; then [ "$have" = 1 ] && return 0; return 10; fi
[ "$have" = 1 ] && return 10; return 0
"""

_APPLY = r"""
export APT_KEY_DONT_WARN_ON_DANGEROUS_USAGE=1
if [ "$state" = absent ]; then apt-key $keyring_opt del "$id" >/dev/null; exit 0; fi
if [ -s "$key_tmp" ]; then apt-key $keyring_opt add "$key_tmp" >/dev/null
elif [ -n "$keyserver" ]; then apt-key $keyring_opt adv --no-tty --keyserver "$keyserver" --recv "$id" >/dev/null
else orch_fail "no key data: give data, file, url or keyserver"; fi
"""


@register
class AptKey(Module):
    """Add or remove an APT key."""

    name = "apt_key"
    aliases = ("ansible.legacy.apt_key",)
    spec = ArgSpec(
        params={
            "id": Param("str"),
            "url": Param("str"),
            "data": Param("str"),
            "file": Param("path"),
            "keyring": Param("path"),
            "validate_certs": Param("bool", default=True),
            "keyserver": Param("str"),
            "state": Param("str", default="present", choices=("absent", "present")),
        },
        mutually_exclusive=(("data", "file", "keyserver", "url"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        key_id = (args.get("id") or "").upper().removeprefix("0X")
        if args["state"] == "absent" and not key_id:
            raise ModuleFailed("key is required when state is absent")
        keyring = args.get("keyring")
        header = (
            f"state={args['state']} id={quote(key_id)} file={quote(args.get('file') or '')} "
            f"url={quote(args.get('url') or '')} keyserver={quote(args.get('keyserver') or '')} "
            f"insecure={'' if args['validate_certs'] else '1'} "
            f"keyring_opt={quote('--keyring ' + keyring) if keyring else quote('')}\n"
            f"data_fmt={printf_literal(args['data'].encode()) if args.get('data') else quote('')}\n"
        )
        converged = ctx.converge(header + _QUERY, header + _APPLY)
        return {"changed": converged.changed, "id": converged.fields().get("id", key_id)}
