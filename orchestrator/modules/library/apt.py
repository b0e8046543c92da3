"""apt: Debian packages with apt-get and dpkg only (no python3-apt on the target).

One round trip: the script refreshes the cache when it is older than cache_valid_time, asks
`apt-get -s` what the operation would do, and (outside check mode) does it. `changed` means
packages were installed, upgraded or removed; a cache refresh alone is `changed` only when it is
the whole task, as in Ansible. Like Ansible, check mode does not refresh the cache but reports
that it would.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

from orchestrator.modules.base import Module, ModuleFailed, register
from orchestrator.modules.context import Converged, ModuleContext
from orchestrator.modules.spec import ArgSpec, Param
from orchestrator.transport.shell import quote

DPKG_OPTIONS = "force-confdef,force-confold"

# Cache age, optional refresh, then the simulation. Variables: want_update, valid, check, retries.
_CACHE_SH = r"""
export DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LC_ALL=C
command -v apt-get >/dev/null 2>&1 || orch_fail "apt-get not found: this host does not use apt"
# Sets cache_time (a variable, not output: no subshell around the one stat).
orch_cache_time() {
  for __p in /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists; do
    [ -e "$__p" ] && { cache_time=$(stat -c %Y "$__p"); return; }
  done; cache_time=0
}
orch_cache_time
orch_kv cache_update_time "$cache_time"
"""
# Read-only: return 10 when the cache is older than wanted. The clock is read only when the age
# matters (date is a process start on every no-op otherwise).
_CACHE_STALE_SH = r"""
if [ "$want_update" = 1 ] && { [ "$valid" = 0 ] || [ "$(( $(date +%s) - cache_time ))" -gt "$valid" ]; }; then
  orch_kv cache_stale 1; __stale=1; return 10
fi
"""
# The write step: refresh the cache (apt-get update, retried).
_CACHE_UPDATE_SH = r"""
__n=0 __delay=1
until __out=$(apt-get update -q $lock_opts 2>&1); do
  __n=$((__n + 1)); [ "$__n" -ge "$retries" ] && orch_fail "Failed to update apt cache after $retries retries: $__out"
  sleep "$__delay"; __delay=$((__delay * 2)); [ "$__delay" -gt "$max_delay" ] && __delay=$max_delay
done
__old=$cache_time; orch_cache_time; [ "$__old" != "$cache_time" ] && orch_kv cache_updated 1
orch_kv cache_update_time "$cache_time"
"""
# apt-get -s is a simulation, but it still writes: the binary caches (pkgcache.bin) and the
# planner's log (eipp.log.xz). A query must not write: keep both in memory / nowhere.
_READ_ONLY_APT = "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Dir::Log::Planner=/dev/null"


@register
class Apt(Module):
    """Manage packages with apt-get: install, upgrade, remove, refresh the cache."""

    name = "apt"
    aliases = ("ansible.legacy.apt",)
    spec = ArgSpec(
        params={
            "name": Param("list", elements="str", aliases=("package", "pkg")),
            "state": Param(
                "str", default="present", choices=("absent", "build-dep", "fixed", "latest", "present")
            ),
            "update_cache": Param("bool", aliases=("update-cache",)),
            "update_cache_retries": Param("int", default=5),
            "update_cache_retry_max_delay": Param("int", default=12),
            "cache_valid_time": Param("int", default=0),
            "purge": Param("bool", default=False),
            "deb": Param("path", help="A .deb on the host, a URL, or a file on the controller."),
            "default_release": Param("str", aliases=("default-release",)),
            "install_recommends": Param("bool", aliases=("install-recommends",)),
            "force": Param("bool", default=False),
            "upgrade": Param("str", default="no", choices=("dist", "full", "no", "safe", "yes")),
            "dpkg_options": Param("str", default=DPKG_OPTIONS),
            "autoremove": Param("bool", default=False),
            "autoclean": Param("bool", default=False),
            "fail_on_autoremove": Param("bool", default=False),
            "policy_rc_d": Param("int"),
            "only_upgrade": Param("bool", default=False),
            "force_apt_get": Param("bool", default=False),
            "clean": Param("bool", default=False),
            "allow_unauthenticated": Param("bool", default=False, aliases=("allow-unauthenticated",)),
            "allow_downgrade": Param(
                "bool", default=False, aliases=("allow-downgrade", "allow_downgrades", "allow-downgrades")
            ),
            "allow_change_held_packages": Param("bool", default=False),
            "lock_timeout": Param("int", default=60),
            "auto_install_module_deps": Param("bool", default=True),
        },
        mutually_exclusive=(("deb", "name", "upgrade"),),
        required_one_of=(("autoremove", "deb", "name", "update_cache", "upgrade", "clean", "autoclean"),),
    )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> dict[str, Any]:
        names = [n.strip() for n in args.get("name") or [] if n.strip()]
        for spec in names:
            if spec.count("=") > 1:
                raise ModuleFailed(f"invalid package spec: {spec}")
        upgrade = None if args.get("upgrade") in (None, "no") else args["upgrade"]
        if "*" in names and args["state"] == "latest":
            if len(names) > 1:
                raise ModuleFailed(
                    "unable to install additional packages when upgrading all installed packages"
                )
            names, upgrade = [], "yes"
        deb = args.get("deb")
        if deb and args["state"] != "present":
            raise ModuleFailed("deb only supports state=present")
        lock_opts = f"-o DPkg::Lock::Timeout={int(args['lock_timeout'])}"
        want_update = bool(args.get("update_cache")) or bool(args.get("cache_valid_time"))
        header = (
            f"want_update={int(want_update)} valid={int(args['cache_valid_time'] or 0)} "
            f"retries={max(int(args['update_cache_retries']), 1)} "
            f"max_delay={int(args['update_cache_retry_max_delay'])} lock_opts={quote(lock_opts)}\n"
        )
        if not (upgrade or deb or names or args["autoremove"]):  # only the cache (and clean/autoclean)
            return self._cache_only(ctx, args, header)
        # The cache first (what to install depends on it): a write, so a step of its own.
        cache = self._refresh_cache(ctx, header) if want_update else None
        deb_path = self._deb_path(ctx, deb) if deb else None
        if deb and deb_path is None:  # a download or upload the engine did not allow (check mode)
            return {"changed": True, "msg": f"would install {deb}", **self._cache_result(cache)}
        operation = self._operation(args, names, upgrade, deb_path)
        assert operation is not None  # not cache-only (above)
        select, command = operation
        options = self._options(args, lock_opts)
        # Decide on the host: simulate the operation; only a non-empty plan needs the apply.
        query = (
            header
            + _CACHE_SH
            + select
            + "\norch_section simulation\n"
            + '[ -z "$targets$all" ] && return 0\n'
            + f'__sim=$(apt-get -s {_READ_ONLY_APT} {options} {command} $targets 2>&1) || {{ printf "%s\\n" "$__sim" >&2; exit 1; }}\n'
            + 'printf "%s\\n" "$__sim"\n'
            + "printf '%s\\n' \"$__sim\" | grep -q '^\\(Inst\\|Remv\\|Purg\\) ' && return 10\n"
            + "return 0"
        )
        apply = (
            "set -f; export DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LC_ALL=C\n"
            + self._policy_rc_d(args)
            + f"apt-get -y -q {options} {command} $targets"
        )
        env_sel = "set -f; targets= all=\n"  # package names are words, never globs
        try:
            # last (ModuleContext.converge): nothing follows but the removal of a .deb we brought
            converged = ctx.converge(env_sel + query, apply, last=not deb_path or deb_path == deb)
        except ModuleFailed as exc:
            raise self._friendly(exc) from None
        finally:
            if deb_path and deb_path != deb:  # fetched or uploaded by us
                ctx.drop_temp(deb_path)
        fields, sim = converged.fields(), converged.query.text("simulation")
        result: dict[str, Any] = {
            "changed": converged.changed,
            "cache_updated": False,
            "cache_update_time": int(fields.get("cache_update_time") or 0),
            **self._cache_result(cache),
        }
        stdout = converged.apply_out if converged.applied else sim
        if converged.changed:
            result["stdout"] = stdout
            result["stderr"] = converged.stderr
            result["stdout_lines"] = stdout.splitlines()
            result["stderr_lines"] = converged.stderr.splitlines()
            if ctx.diff_mode:
                result["diff"] = {"prepared": sim}
                ctx.add_diff("", _plan(sim), "before", "after (apt)")
        return result

    @staticmethod
    def _options(args: Mapping[str, Any], lock_opts: str) -> str:
        opts = [lock_opts]
        for option in str(args["dpkg_options"] or "").split(","):
            if option.strip():
                opts.append("-o " + quote(f"Dpkg::Options::=--{option.strip()}"))
        if args.get("install_recommends") is True:
            opts.append("-o APT::Install-Recommends=yes")
        elif args.get("install_recommends") is False:
            opts.append("-o APT::Install-Recommends=no")
        if args.get("default_release"):
            opts.append(f"-t {quote(args['default_release'])}")
        if args["force"]:
            opts.append(
                "--allow-unauthenticated --allow-downgrades --allow-remove-essential --allow-change-held-packages"
            )
        else:
            if args["allow_unauthenticated"]:
                opts.append("--allow-unauthenticated")
            if args["allow_downgrade"]:
                opts.append("--allow-downgrades")
            if args["allow_change_held_packages"]:
                opts.append("--allow-change-held-packages")
        if args["autoremove"] and (
            args.get("name") or args.get("deb") or args["upgrade"] not in (None, "no")
        ):
            opts.append("--auto-remove")
        if args["purge"]:
            opts.append("--purge")
        if args["only_upgrade"]:
            opts.append("--only-upgrade")
        return " ".join(opts)

    @staticmethod
    def _operation(
        args: Mapping[str, Any], names: list[str], upgrade: str | None, deb_path: str | None
    ) -> tuple[str, str] | None:
        """(shell that sets $targets / $all, apt-get sub-command) or None for cache-only tasks."""
        if upgrade:
            command = {"dist": "dist-upgrade", "full": "dist-upgrade"}.get(upgrade, "upgrade --with-new-pkgs")
            return "all=1", command
        if deb_path:
            # A local .deb: install unless that exact package version is already installed.
            select = (
                f"__deb={quote(deb_path)}\n"
                '[ -f "$__deb" ] || orch_fail "deb file not found on the host: $__deb"\n'
                '__pkg=$(dpkg-deb -f "$__deb" Package) && __ver=$(dpkg-deb -f "$__deb" Version) || orch_fail "not a .deb: $__deb"\n'
                "__cur=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' \"$__pkg\" 2>/dev/null)\n"
                '[ "$__cur" = "ii  $__ver" ] || targets="$__deb"'
            )
            return select, "install"
        state = args["state"]
        if not names:
            if args["autoremove"]:
                return "all=1", "autoremove"
            return None
        quoted = " ".join(quote(n) for n in names)
        if state == "absent":
            # Remove what is installed (or, with purge, what still has config files).
            wanted = "ii|iU|iF|iH|hi|rc" if args["purge"] else "ii|iU|iF|iH|hi"
            select = (
                _status_lookup([n.partition("=")[0] for n in names])
                + f"for __p in {quoted}; do\n"
                '  orch_pkg_status "${__p%%=*}"\n'
                f'  case "$__s" in {wanted}) targets="$targets ${{__p%%=*}}" ;; esac\n'
                "done"
            )
            return select, "remove"
        if state == "build-dep":
            return f"targets={quote(' '.join(names))}", "build-dep"
        if state == "fixed":
            return f"targets={quote(' '.join(names))}", "install --fix-broken"
        if state == "latest":
            return f"targets={quote(' '.join(names))}", "install"
        # present: a bare name already installed is left alone (no upgrade); name=version goes
        # to apt, which does nothing when that version is installed.
        select = (
            _status_lookup([n for n in names if "=" not in n])
            + f"for __p in {quoted}; do\n"
            '  case "$__p" in *=*) targets="$targets $__p"; continue ;; esac\n'
            '  orch_pkg_status "$__p"\n'
            '  [ "$__s" = ii ] || [ "$__s" = hi ] || targets="$targets $__p"\n'
            "done"
        )
        return select, "install"

    @staticmethod
    def _policy_rc_d(args: Mapping[str, Any]) -> str:
        code = args.get("policy_rc_d")
        if code is None:
            return ""
        # Keep services from starting during the install, then restore the host's own file.
        return (
            "if [ -e /usr/sbin/policy-rc.d ]; then mv /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.orch; fi\n"
            "trap 'rm -f /usr/sbin/policy-rc.d; [ -e /usr/sbin/policy-rc.d.orch ] && "
            "mv /usr/sbin/policy-rc.d.orch /usr/sbin/policy-rc.d' EXIT\n"
            f"printf '#!/bin/sh\\nexit %d\\n' {int(code)} > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d\n"
        )

    @staticmethod
    def _refresh_cache(ctx: ModuleContext, header: str) -> Converged:
        """apt-get update when the cache is older than wanted (a write: the engine decides)."""
        return ctx.converge(header + _CACHE_SH + _CACHE_STALE_SH + "return 0", header + _CACHE_UPDATE_SH)

    @staticmethod
    def _cache_result(cache: Converged | None) -> dict[str, Any]:
        """cache_updated / cache_update_time: what the refresh did (or, in check mode, would do)."""
        if cache is None:
            return {}
        after = cache.apply.fields if cache.applied else {}
        before = cache.fields()
        return {
            "cache_updated": after.get("cache_updated") == "1" if cache.applied else cache.changed,
            "cache_update_time": int(after.get("cache_update_time") or before.get("cache_update_time") or 0),
        }

    def _cache_only(self, ctx: ModuleContext, args: Mapping[str, Any], header: str) -> dict[str, Any]:
        clean = ""
        if args["clean"]:
            clean += "apt-get clean >/dev/null\n"
        if args["autoclean"]:
            clean += "apt-get -y autoclean >/dev/null\n"
        # One step: update when stale, then clean; the engine runs it unless in check mode.
        query = header + _CACHE_SH + _CACHE_STALE_SH + ("return 10" if clean else "return 0")
        apply = header + 'if [ -n "$__stale" ]; then\n' + _CACHE_UPDATE_SH + "fi\n" + clean
        converged = ctx.converge(query, apply)
        fields = converged.fields()
        after = converged.apply.fields
        # what the refresh did, or (check mode) that it would run
        updated = after.get("cache_updated") == "1" if converged.applied else fields.get("cache_stale") == "1"
        return {
            "changed": updated,
            "cache_updated": updated,
            "cache_update_time": int(after.get("cache_update_time") or fields.get("cache_update_time") or 0),
        }

    @staticmethod
    def _deb_path(ctx: ModuleContext, deb: str) -> str | None:
        """Where the .deb is on the host: a URL is fetched there (a download: None when the
        engine does not allow writes), a controller file is sent to a temp file (in check mode
        too, so the simulation can read it; removed again after apt)."""
        if "://" in deb:
            target = f"/tmp/orch-deb-{secrets.token_hex(6)}.deb"
            out = ctx.change(f"curl -fsSL -o {quote(target)} {quote(deb)}")
            if out is None:
                return None
            if out.rc != 0:
                raise ModuleFailed(f"Failure downloading {deb}: {out.err.strip()}")
            return target
        if os.path.isfile(deb):
            probe = ctx.query(f"[ -f {quote(deb)} ]")
            if probe.rc != 0:  # only on the controller: send it (removed again once apt is done)
                with open(deb, "rb") as handle:
                    return ctx.put_temp(handle.read(), prefix="orch-deb-", suffix=".deb", mode=0o644)
        return deb

    @staticmethod
    def _friendly(exc: ModuleFailed) -> ModuleFailed:
        match = re.search(r"Unable to locate package (\S+)", exc.msg)
        if match:
            return ModuleFailed(f"No package matching '{match.group(1)}' is available", **exc.result)
        return exc


# A name dpkg-query matches exactly by ${Package} (no glob, no :arch): such names are looked up in
# one dpkg-query for the whole task instead of one dpkg-query + tr per package.
_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")


def _status_lookup(names: list[str]) -> str:
    """Shell defining orch_pkg_status NAME: sets $__s to NAME's dpkg status abbreviations,
    spaces removed, one per installed instance ("ii", "iiii" for two architectures, "" unknown)."""
    plain = sorted({n for n in names if _PLAIN_NAME.match(n)})
    batch = (
        "__dpkg=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' "
        + " ".join(quote(n) for n in plain)
        + " 2>/dev/null)\n"
        if plain
        else "__dpkg=\n"
    )
    return batch + (
        "orch_pkg_status() {\n"
        "  __s=\n"
        f"  case {quote(' ' + ' '.join(plain) + ' ')} in *\" $1 \"*)\n"
        '    while read -r __n __st; do [ "$__n" = "$1" ] && __s=$__s$__st; done <<END_OF_DPKG_STATUS\n'
        "$__dpkg\n"
        "END_OF_DPKG_STATUS\n"
        "    return 0 ;;\n"
        "  esac\n"
        "  __s=$(dpkg-query -W -f='${db:Status-Abbrev}' \"$1\" 2>/dev/null | tr -d \" \")\n"
        "}\n"
    )


def _plan(sim: str) -> str:
    """The packages the simulation would touch, one per line, for the diff view."""
    lines = [line for line in sim.splitlines() if line.startswith(("Inst ", "Remv ", "Purg "))]
    return "\n".join(lines) + ("\n" if lines else "")
