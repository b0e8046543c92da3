"""apt_repository: a one-line APT source (`deb [signed-by=...] URI suite comps`) in a .list file.

Follows ansible.builtin.apt_repository without python3-apt: a source already present (enabled)
in /etc/apt/sources.list or sources.list.d/*.list is left alone, a disabled copy (`# deb ...`)
is enabled, otherwise the line goes to sources.list.d/<filename>.list (name derived from the URI
as Ansible does). state=absent removes every enabled copy. The cache is refreshed after a
change unless update_cache=false. One round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

VALID_SOURCE_TYPES = ("deb", "deb-src")

# awk program: normalises each line like Ansible's parser (enabled?, source, comment) and acts:
# mode=find prints "enabled"/"disabled" per match; mode=enable|remove rewrites the file.
_AWK = r"""
function parse(line,    s, c, i) {
  s = line; sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); en = 1
  if (substr(s, 1, 1) == "#") { en = 0; s = substr(s, 2) }
  i = index(s, "#"); if (i > 1) s = substr(s, 1, i - 1)
  gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
  return s
}
{
  src = parse($0)
  hit = (src == want)
  if (mode == "find") { if (hit) print (en ? "enabled" : "disabled"); next }
  if (mode == "enable" && hit && !en) { print want; next }
  if (mode == "remove" && hit && en) { next }
  print
}
"""

_COMMON = r"""
orch_sources() { for __f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$__f" ] && printf '%s\n' "$__f"; done; :; }
"""

_QUERY = r"""
__need=0 found_enabled= found_disabled=
for __f in $(orch_sources); do
  __r=$(awk -v mode=find -v want="$want" "$awk_prog" "$__f")
  case "$__r" in *enabled*) found_enabled="$found_enabled $__f" ;; esac
  case "$__r" in *disabled*) found_disabled="$found_disabled $__f" ;; esac
done
if [ "$state" = present ]; then
  [ -n "$found_disabled" ] && return 10
  [ -n "$found_enabled" ] && return 0
  orch_kv added "$target"; return 10
fi
[ -n "$found_enabled" ] && return 10
return 0
"""

_APPLY = r"""
orch_rewrite() {  # $1 file, $2 awk mode
  __t=$(mktemp "$(dirname "$1")/.orch-apt.XXXXXX")
  awk -v mode="$2" -v want="$want" "$awk_prog" "$1" > "$__t"
  chmod "$(stat -c %a "$1")" "$__t"; mv -f -- "$__t" "$1"
  if [ ! -s "$1" ] && [ "$1" != /etc/apt/sources.list ]; then rm -f -- "$1"; orch_kv removed_file "$1"; fi
}
if [ "$state" = present ]; then
  if [ -n "$found_disabled" ]; then
    for __f in $found_disabled; do orch_rewrite "$__f" enable; done
  elif [ -z "$found_enabled" ]; then
    mkdir -p -- "$(dirname "$target")"
    __t=$(mktemp "$(dirname "$target")/.orch-apt.XXXXXX")
    [ -f "$target" ] && cat -- "$target" > "$__t"
    printf '%s\n' "$line" >> "$__t"
    if [ -f "$target" ]; then chmod "$(stat -c %a "$target")" "$__t"; else chmod 0644 "$__t"; fi
    [ -n "$mode" ] && chmod "$mode" "$__t"
    mv -f -- "$__t" "$target"
  fi
else
  for __f in $found_enabled; do orch_rewrite "$__f" remove; done
fi
if [ "$update" = 1 ]; then
  __n=0
  until DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1; do
    __n=$((__n + 1)); [ "$__n" -ge "$retries" ] && orch_fail "Failed to update apt cache"; sleep 1
  done
fi
"""


def normalise(repo: str) -> str:
    """Ansible's form of a source line: one space between words, comment dropped."""
    text = repo.strip()
    index = text.find("#")
    if index > 0:
        text = text[:index]
    return " ".join(text.split())


def suggest_filename(source: str) -> str:
    """Ansible's default file name: the URI host and path, non-alphanumerics as underscores."""
    line = re.sub(r"\[[^\]]+\]", "", source)
    line = re.sub(r"\w+://", "", line)
    parts = [p for p in line.split() if p not in VALID_SOURCE_TYPES]
    first = parts[0].split("@", 1)[-1] if parts else ""
    return "_".join(re.sub("[^a-zA-Z0-9]", " ", first).split())


def target_file(filename: str | None, source: str) -> str:
    name = filename or suggest_filename(source)
    if "/" in name:
        return name
    return f"/etc/apt/sources.list.d/{name if name.endswith('.list') else name + '.list'}"


@register
class AptRepository(Module):
    """Add or remove a one-line APT repository."""

    name = "apt_repository"
    aliases = ("ansible.legacy.apt_repository",)
    spec = ArgSpec(
        params={
            "repo": Param("str", required=True),
            "state": Param("str", default="present", choices=("absent", "present")),
            "mode": Param("mode"),
            "update_cache": Param("bool", default=True, aliases=("update-cache",)),
            "update_cache_retries": Param("int", default=5),
            "update_cache_retry_max_delay": Param("int", default=12),
            "validate_certs": Param("bool", default=True),
            "filename": Param("str"),
            "codename": Param("str"),
            "install_python_apt": Param("bool", default=True),
        }
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        source = normalise(args["repo"])
        if not source or source.split()[0] not in VALID_SOURCE_TYPES:
            raise ModuleFailed(f"Invalid repository string: {args['repo']}")
        if source.startswith("ppa:"):
            raise ModuleFailed("PPA repositories are not supported by orch")
        target = target_file(args.get("filename"), source)
        header = (
            f"state={args['state']} want={quote(source)} line={quote(source)} target={quote(target)} "
            f"mode={quote(str(args.get('mode') or ''))} update={int(bool(args['update_cache']))} "
            f"retries={max(int(args['update_cache_retries']), 1)} awk_prog={quote(_AWK)}\n"
        )
        converged = ctx.converge(header + _COMMON + _QUERY, header + _COMMON + _APPLY)
        fields = converged.fields()
        added = [fields["added"]] if converged.changed and "added" in fields else []
        removed = converged.apply.values("removed_file")
        if converged.changed:
            ctx.add_diff(
                "" if args["state"] == "present" else f"{source}\n",
                f"{source}\n" if args["state"] == "present" else "",
                target,
                target,
            )
        return {
            "changed": converged.changed,
            "repo": args["repo"],
            "state": args["state"],
            "sources_added": added,
            "sources_removed": removed,
        }
