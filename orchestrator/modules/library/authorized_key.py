"""authorized_key (ansible.posix.authorized_key): SSH keys in a user's authorized_keys.

The file is read in one round trip and the new content computed on the controller by pure
functions that follow ansible.posix's rules byte for byte (key order by rank, options
re-serialised, a changed key moves to the end, comment-less keys keep a trailing space), so a
file Ansible manages is taken over without churn. Writing is a second round trip, atomic, with
~/.ssh 0700 and the file 0600 owned by the user (manage_dir).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.fileops import write_content_script
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

KEY_TYPES = frozenset(
    {
        "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com", "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
        "ssh-dss", "ssh-rsa", "ssh-xmss@openssh.com", "ssh-xmss-cert-v01@openssh.com", "rsa-sha2-256",
        "rsa-sha2-512", "ssh-rsa-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
        "rsa-sha2-512-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com",
    }
)  # fmt: skip
SKIPPED = "skipped"

# (key blob or raw line, key type or SKIPPED, options or None, comment, rank)
Entry = tuple[str, str, "dict[str, str | None] | None", "str | None", int]

_OPTION_RE = re.compile(r"""((?:[^,"']|"[^"]*"|'[^']*')+)""")


def parse_options(options: str | None) -> dict[str, str | None]:
    """`no-pty,from="a,b"` -> ordered {name: value or None}, quoted commas kept."""
    out: dict[str, str | None] = {}
    if options:
        for part in _OPTION_RE.split(options)[1:-1]:
            if "=" in part:
                key, value = part.split("=", 1)
                out[key] = value
            elif part != ",":
                out[part] = None
    return out


def parse_key(raw: str, rank: int) -> Entry | None:
    """One authorized_keys line -> Entry; a '# ' comment line -> SKIPPED; no key type -> None."""
    raw = raw.replace(r"\#", "#")
    parts = raw.split()
    if parts and parts[0] == "#":
        return (raw, SKIPPED, None, None, rank)
    index = next((i for i, p in enumerate(parts) if p in KEY_TYPES), None)
    if index is None or index + 1 >= len(parts):
        return None
    options = parse_options(" ".join(parts[:index]) if index > 0 else None)
    return (parts[index + 1], parts[index], options, " ".join(parts[index + 2 :]), rank)


def parse_keys(content: str) -> dict[str, Entry]:
    keys: dict[str, Entry] = {}
    for rank, line in enumerate(content.splitlines(True)):
        entry = parse_key(line, rank)
        if entry:
            keys[entry[0]] = entry
        else:
            keys[line] = (line, SKIPPED, None, None, rank)
    return keys


def serialize(keys: Mapping[str, Entry]) -> str:
    lines = []
    for blob, kind, options, comment, _rank in sorted(keys.values(), key=lambda e: e[4]):
        if kind == SKIPPED:
            lines.append(blob)
            continue
        prefix = ""
        if options:
            prefix = ",".join(k if v is None else f"{k}={v}" for k, v in options.items()) + " "
        lines.append(f"{prefix}{kind} {blob} {comment}\n")
    return "".join(lines)


def enforce(
    existing: str,
    key: str,
    *,
    state: str,
    key_options: str | None,
    comment: str | None,
    exclusive: bool,
) -> str | None:
    """The new file content, or None when the file already holds what was asked."""
    keys = parse_keys(existing)
    base_rank = len(keys)
    wanted: list[str] = []
    write = False
    for index, line in enumerate(s for s in key.splitlines() if s and not s.startswith("#")):
        entry = parse_key(line, index)
        if entry is None or entry[1] == SKIPPED:
            raise ModuleFailed(f"invalid key specified: {line}")
        if key_options is not None:
            entry = (entry[0], entry[1], parse_options(key_options), entry[3], entry[4])
        if comment is not None:
            entry = (entry[0], entry[1], entry[2], comment, entry[4])
        current = keys.get(entry[0])
        matched = current is not None and (current[:4] == entry[:4] or state != "present")
        if state == "present":
            wanted.append(entry[0])
            if current is not None and not matched:
                del keys[entry[0]]  # same key, other options or comment: rewritten at the end
                write = True
            if not matched:
                keys[entry[0]] = (*entry[:4], base_rank + entry[4])
                write = True
        elif matched:
            del keys[entry[0]]
            write = True
    if state == "present" and exclusive:
        for blob in set(keys) - set(wanted):
            del keys[blob]
            write = True
    return serialize(keys) if write else None


# Reads: the user's passwd entry, then the key file (resolved first when following links).
_READ_SH = r"""
__pw=$(getent passwd "$u" 2>/dev/null || grep "^$u:" /etc/passwd || :)
orch_kv home "$(printf '%s' "$__pw" | cut -d: -f6)"
orch_kv uid "$(printf '%s' "$__pw" | cut -d: -f3)"
orch_kv gid "$(printf '%s' "$__pw" | cut -d: -f4)"
[ -n "$d" ] || d="$(printf '%s' "$__pw" | cut -d: -f6)/.ssh/authorized_keys"
[ "$follow" = 1 ] && d=$(readlink -f -- "$d" 2>/dev/null || printf '%s' "$d")
orch_kv keyfile "$d"
orch_section keys; [ -f "$d" ] && cat -- "$d"; :
"""

_PREPARE_SH = r"""
if [ "$manage_dir" = 1 ]; then
  [ -d "$sshdir" ] || mkdir -m 0700 -- "$sshdir"
  chown "$uid:$gid" "$sshdir"; chmod 0700 "$sshdir"
fi
if [ ! -e "$d" ]; then mkdir -p -- "$(dirname -- "$d")"; : > "$d"; fi
chown "$uid:$gid" "$d" 2>/dev/null || :; chmod 0600 "$d" 2>/dev/null || :
orch_statvars "$d"
"""


@register
class AuthorizedKey(Module):
    """Add or remove SSH authorized keys for a user."""

    name = "authorized_key"
    aliases = ("ansible.posix.authorized_key",)
    spec = ArgSpec(
        params={
            "user": Param("str", required=True),
            "key": Param("str", required=True),
            "path": Param("path"),
            "manage_dir": Param("bool", default=True),
            "state": Param("str", default="present", choices=("absent", "present")),
            "key_options": Param("str"),
            "exclusive": Param("bool", default=False),
            "comment": Param("str"),
            "validate_certs": Param("bool", default=True),
            "follow": Param("bool", default=False),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        key = self._key_text(ctx, args)
        user, path = args["user"], args.get("path")
        header = (
            f"u={quote(user)} d={quote(path or '')} follow={int(args['follow'])} "
            f"manage_dir={int(args['manage_dir'])}\n"
        )
        read = ctx.query(header + _READ_SH)
        fields, existing = read.fields(), read.wire.text("keys")
        if not fields.get("uid"):
            ctx.require(False, f"Failed to lookup user {user}: \"getpwnam(): name not found: '{user}'\"")
            if not path:  # only in check mode: without the user, only a path says where the keys go
                raise ModuleFailed(
                    "Either user must exist or you must provide full path to key file in check mode"
                )
        keyfile = fields.get("keyfile", path or "")
        new = enforce(
            existing,
            key,
            state=args["state"],
            key_options=args.get("key_options"),
            comment=args.get("comment"),
            exclusive=args["exclusive"],
        )
        result: dict[str, Any] = {**args, "key": args["key"], "keyfile": keyfile, "changed": False}
        if new is None:
            return result
        sshdir = path.rsplit("/", 1)[0] if path else f"{fields.get('home', '')}/.ssh"
        write = (
            header
            + f"d={quote(keyfile)} sshdir={quote(sshdir)} uid={quote(fields.get('uid', ''))} "
            + f"gid={quote(fields.get('gid', ''))}\nwant_owner= want_group= want_mode=\n"
            + _PREPARE_SH
            + write_content_script(new.encode(), None, None, False)
        )
        ctx.converge("return 10", write)
        ctx.add_diff(existing, new, keyfile, keyfile)
        result["changed"] = True
        if ctx.diff_mode:
            result["diff"] = {
                "before_header": keyfile,
                "after_header": keyfile,
                "before": existing,
                "after": new,
            }
        return result

    @staticmethod
    def _key_text(ctx: ModuleContext, args: Mapping[str, Any]) -> str:
        """`key` may be the keys themselves, a URL (fetched on the controller) or file://path."""
        key = str(args["key"])
        if key.startswith("http"):
            import ssl
            import urllib.request

            context = None if args["validate_certs"] else ssl._create_unverified_context()
            try:
                with urllib.request.urlopen(key, timeout=30, context=context) as response:
                    if response.status != 200:
                        raise ModuleFailed(f"Error getting key from: {key}")
                    return response.read().decode("utf-8", "surrogateescape")
            except OSError:
                raise ModuleFailed(f"Error getting key from: {key}") from None
        if key.startswith("file"):
            key_path = urlparse(key).path
            try:
                with open(key_path, encoding="utf-8") as handle:
                    return handle.read()
            except IsADirectoryError:
                raise ModuleFailed(f"Path to a key is a directory and must be a file: {key_path}") from None
            except OSError:
                raise ModuleFailed(f"Path to a key file not found: {key_path}") from None
        return key
