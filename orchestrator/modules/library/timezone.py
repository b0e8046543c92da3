"""timezone (community.general.timezone): the system time zone and hardware clock mode.

timedatectl where systemd runs; otherwise what community.general does on Debian without
systemd: /etc/timezone edited, /etc/localtime linked, `dpkg-reconfigure tzdata`. One round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, register
from orchestrator.modules.context import ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

_COMMON = r"""
if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then mgr=systemd; else mgr=file; fi
orch_tz_now() {
  if [ "$mgr" = systemd ]; then timedatectl show -p Timezone --value 2>/dev/null; return; fi
  __t=$(grep -m1 '^[^[:space:]]' /etc/timezone 2>/dev/null | awk '{print $1}')
  [ -n "$__t" ] || { echo n/a; return; }
  if [ "$__t" = "$tz" ]; then
    if [ -L /etc/localtime ]; then
      __l=$(readlink /etc/localtime)
      case "$__l" in */usr/share/zoneinfo/*|*/etc/zoneinfo/*) __t=${__l#*/zoneinfo/};; *) __t=n/a;; esac
      [ -e /etc/localtime ] || __t=n/a
    elif ! cmp -s /etc/localtime "/usr/share/zoneinfo/$tz"; then __t=n/a; fi
  fi
  printf '%s\n' "$__t"
}
orch_hw_now() {
  if [ "$mgr" = systemd ]; then
    timedatectl show -p LocalRTC --value 2>/dev/null | sed 's/^yes$/local/; s/^no$/UTC/'; return; fi
  __u=$(sed -n 's/^UTC[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/default/rcS 2>/dev/null | head -n 1)
  case "$__u" in yes|true|1) __u=UTC;; no|false|0) __u=local;; *) __u=n/a;; esac
  if [ "$__u" = "$hw" ]; then
    __a=$(grep -m1 -E '^(UTC|LOCAL)$' /etc/adjtime 2>/dev/null || echo UTC)
    [ "$__a" = UTC ] || __a=local; __u=$__a
  fi
  printf '%s\n' "$__u"
}
"""

_QUERY = r"""
if [ -n "$tz" ]; then
  [ -f "/usr/share/zoneinfo/$tz" ] || orch_fail "given timezone \"$tz\" is not available"
  orch_kv name "$(orch_tz_now)"
fi
[ -n "$hw" ] && orch_kv hwclock "$(orch_hw_now)"
{ [ -n "$tz" ] && [ "$(orch_tz_now)" != "$tz" ]; } && return 10
{ [ -n "$hw" ] && [ "$(orch_hw_now)" != "$hw" ]; } && return 10
return 0
"""

# Replace the first line matching $2 (a grep -E regex) in file $1 by $3, drop the other matches.
_APPLY = r"""
orch_edit_first() {
  __f=$1 __re=$2 __line=$3
  __tmp=$(mktemp "$__f.XXXXXX" 2>/dev/null || mktemp)
  if [ -f "$__f" ] && grep -Eq -- "$__re" "$__f"; then
    awk -v re="$__re" -v line="$__line" '$0 ~ re { if (!done) { print line; done = 1 }; next } { print }' "$__f" > "$__tmp"
  else
    { printf '%s\n' "$__line"; [ -f "$__f" ] && cat -- "$__f"; } > "$__tmp"
  fi
  chmod 0644 "$__tmp"; mv -f -- "$__tmp" "$__f"
}
if [ -n "$tz" ] && [ "$(orch_tz_now)" != "$tz" ]; then
  if [ "$mgr" = systemd ]; then timedatectl set-timezone "$tz"
  else
    orch_edit_first /etc/timezone '^[^[:space:]]' "$tz"
    if command -v dpkg-reconfigure >/dev/null 2>&1; then
      ln -sf "/usr/share/zoneinfo/$tz" /etc/localtime
      dpkg-reconfigure --frontend noninteractive tzdata >/dev/null 2>&1
    else cp --remove-destination "/usr/share/zoneinfo/$tz" /etc/localtime; fi
  fi
fi
if [ -n "$hw" ] && [ "$(orch_hw_now)" != "$hw" ]; then
  if [ "$mgr" = systemd ]; then timedatectl set-local-rtc "$([ "$hw" = local ] && echo yes || echo no)"
  else
    orch_edit_first /etc/default/rcS '^UTC[[:space:]]*=' "UTC=$([ "$hw" = local ] && echo no || echo yes)"
    hwclock --systohc "$([ "$hw" = local ] && echo --localtime || echo --utc)"
  fi
fi
"""


@register
class Timezone(Module):
    """Set the system time zone (and the hardware clock's UTC/local mode)."""

    name = "timezone"
    aliases = ("community.general.timezone", "community.general.system.timezone")
    spec = ArgSpec(
        params={
            "name": Param("str"),
            "hwclock": Param("str", choices=("local", "UTC"), aliases=("rtc",)),
        },
        required_one_of=(("hwclock", "name"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        header = f"tz={quote(args.get('name') or '')} hw={quote(args.get('hwclock') or '')}\n"
        converged = ctx.converge(header + _COMMON + _QUERY, header + _COMMON + _APPLY)
        fields = converged.fields()
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        for key in ("name", "hwclock"):
            if args.get(key):
                before[key] = fields.get(key, "n/a")
                after[key] = args[key] if converged.changed else before[key]
        if converged.changed:
            ctx.add_diff(_text(before), _text(after), "timezone", "timezone")
        return {"changed": converged.changed, "diff": {"before": before, "after": after}}


def _text(values: Mapping[str, str]) -> str:
    return "".join(f"{k}: {v}\n" for k, v in values.items())
