"""Facts from plain shell commands, parsed on the controller (no Python on the target).

FACTS_SCRIPT prints sections `@@name` followed by raw command output; `parse_facts` turns that
into Ansible's fact names. Each parser is pure, so it is tested on captured output, no host.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

FACTS_SCRIPT = r"""
s() { printf '\n@@%s\n' "$1"; }
s hostname; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
s fqdn; hostname -f 2>/dev/null || hostname
s os_release; cat /etc/os-release 2>/dev/null
s uname; uname -s -r -m 2>/dev/null
s meminfo; cat /proc/meminfo 2>/dev/null
s nproc; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo
s init; cat /proc/1/comm 2>/dev/null; [ -d /run/systemd/system ] && echo systemd-running
s pkg; for m in apt-get dnf yum zypper apk pacman; do command -v $m >/dev/null 2>&1 && { echo $m; break; }; done
s python; for p in python3 python; do command -v $p >/dev/null 2>&1 && { command -v $p; $p -c 'import sys; print(".".join(map(str, sys.version_info[:3])))' 2>/dev/null; break; }; done
s route; ip -4 route show default 2>/dev/null | head -n 1
s addrs; ip -4 -o addr show 2>/dev/null
s env; env
s mounts; df -P -k 2>/dev/null
s user; id -un; id -u; id -g; printf '%s\n' "$HOME"
s virt; cat /proc/1/environ 2>/dev/null | tr '\0' '\n' | grep -m1 '^container='; [ -f /.dockerenv ] && echo docker
systemd-detect-virt 2>/dev/null || :
s date; date '+%Y-%m-%d %H:%M:%S %Z %z %s'
"""


def split_sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("@@") and re.fullmatch(r"@@\w+", line):
            if current:
                sections[current] = "\n".join(lines).strip("\n")
            current, lines = line[2:], []
        elif current:
            lines.append(line)
    if current:
        sections[current] = "\n".join(lines).strip("\n")
    return sections


def parse_os_release(text: str) -> dict[str, Any]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"').strip("'")
    distro_id = values.get("ID", "")
    name = {
        "debian": "Debian",
        "ubuntu": "Ubuntu",
        "centos": "CentOS",
        "rhel": "RedHat",
        "fedora": "Fedora",
        "alpine": "Alpine",
        "rocky": "Rocky",
        "almalinux": "AlmaLinux",
        "arch": "Archlinux",
    }
    family = {
        "debian": "Debian",
        "ubuntu": "Debian",
        "centos": "RedHat",
        "rhel": "RedHat",
        "fedora": "RedHat",
        "rocky": "RedHat",
        "almalinux": "RedHat",
        "alpine": "Alpine",
        "arch": "Archlinux",
    }
    version = values.get("VERSION_ID", "")
    return {
        "distribution": name.get(distro_id, distro_id.capitalize() or "Unknown"),
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0] if version else "",
        "distribution_release": values.get("VERSION_CODENAME", ""),
        "os_family": family.get(distro_id, name.get(distro_id, distro_id.capitalize())),
    }


def parse_meminfo(text: str) -> dict[str, Any]:
    kb = {}
    for line in text.splitlines():
        match = re.match(r"(\w+):\s+(\d+)", line)
        if match:
            kb[match.group(1)] = int(match.group(2))
    return {
        "memtotal_mb": kb.get("MemTotal", 0) // 1024,
        "memfree_mb": kb.get("MemFree", 0) // 1024,
        "memavailable_mb": kb.get("MemAvailable", 0) // 1024,
        "swaptotal_mb": kb.get("SwapTotal", 0) // 1024,
    }


def parse_uname(text: str) -> dict[str, Any]:
    parts = text.split()
    return {
        "system": parts[0] if parts else "",
        "kernel": parts[1] if len(parts) > 1 else "",
        "architecture": parts[2] if len(parts) > 2 else "",
        "machine": parts[2] if len(parts) > 2 else "",
    }


def parse_init(text: str) -> dict[str, Any]:
    lines = text.split()
    comm = lines[0] if lines else ""
    if "systemd-running" in lines or comm == "systemd":
        manager = "systemd"
    elif comm in ("init", "runit", "openrc-init", "s6-svscan"):
        manager = {"init": "sysvinit", "openrc-init": "openrc", "s6-svscan": "s6"}.get(comm, comm)
    else:
        manager = "service"  # no init system (a container, a lab host): sysvinit-style scripts
    return {"service_mgr": manager}


def parse_route(text: str) -> dict[str, Any]:
    match = re.search(r"default via (\S+) dev (\S+)", text)
    return {"_default_gw": match.group(1), "_default_if": match.group(2)} if match else {}


def parse_addrs(text: str) -> list[dict[str, str]]:
    addrs = []
    for line in text.splitlines():
        match = re.match(r"\d+:\s+(\S+)\s+inet\s+([\d.]+)/(\d+)", line)
        if match:
            addrs.append({"interface": match.group(1), "address": match.group(2), "prefix": match.group(3)})
    return addrs


def parse_mounts(text: str) -> list[dict[str, Any]]:
    mounts = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 6 and parts[1].isdigit():
            total, used, avail = int(parts[1]) * 1024, int(parts[2]) * 1024, int(parts[3]) * 1024
            mounts.append(
                {
                    "device": parts[0],
                    "mount": parts[5],
                    "size_total": total,
                    "size_available": avail,
                    "size_used": used,
                }
            )
    return mounts


def parse_env(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            env[key] = value
    return env


def parse_facts(output: str) -> dict[str, Any]:
    sec = split_sections(output)
    facts: dict[str, Any] = {}
    parsers: dict[str, Callable[[str], dict[str, Any]]] = {
        "os_release": parse_os_release,
        "meminfo": parse_meminfo,
        "uname": parse_uname,
        "init": parse_init,
    }
    for name, parser in parsers.items():
        facts.update(parser(sec.get(name, "")))
    hostname = sec.get("hostname", "").strip()
    facts["hostname"] = hostname.split(".")[0]
    facts["nodename"] = hostname
    facts["fqdn"] = sec.get("fqdn", "").strip() or hostname
    facts["domain"] = facts["fqdn"].partition(".")[2]
    nproc = sec.get("nproc", "").strip()
    facts["processor_vcpus"] = facts["processor_count"] = int(nproc) if nproc.isdigit() else 1
    facts["pkg_mgr"] = {
        "apt-get": "apt",
        "yum": "yum",
        "dnf": "dnf",
        "zypper": "zypper",
        "apk": "apk",
        "pacman": "pacman",
    }.get(sec.get("pkg", "").strip(), "unknown")
    py = sec.get("python", "").split()
    if len(py) >= 2:
        facts["python"] = {
            "executable": py[0],
            "version": dict(zip(("major", "minor", "micro"), map(int, py[1].split(".")), strict=False)),
        }
        facts["python_version"] = py[1]
    addrs = parse_addrs(sec.get("addrs", ""))
    route = parse_route(sec.get("route", ""))
    facts["all_ipv4_addresses"] = [a["address"] for a in addrs if not a["address"].startswith("127.")]
    default = next((a for a in addrs if a["interface"] == route.get("_default_if")), None)
    if default is None:
        default = next((a for a in addrs if not a["address"].startswith("127.")), None)
    facts["default_ipv4"] = (
        {
            "address": default["address"],
            "interface": default["interface"],
            "prefix": default["prefix"],
            "gateway": route.get("_default_gw", ""),
        }
        if default
        else {}
    )
    facts["env"] = parse_env(sec.get("env", ""))
    facts["mounts"] = parse_mounts(sec.get("mounts", ""))
    user = sec.get("user", "").splitlines()
    if len(user) >= 4:
        facts["user_id"], facts["user_uid"], facts["user_gid"], facts["user_dir"] = (
            user[0],
            int(user[1]),
            int(user[2]),
            user[3],
        )
    virt = sec.get("virt", "").split()
    container = next((v.split("=", 1)[1] for v in virt if v.startswith("container=")), None)
    kind = container or next((v for v in virt if v not in ("none",)), "")
    facts["virtualization_type"] = kind or "NA"
    facts["virtualization_role"] = "guest" if kind else "NA"
    date = sec.get("date", "").split()
    if len(date) >= 5:
        facts["date_time"] = {
            "date": date[0],
            "time": date[1],
            "tz": date[2],
            "tz_offset": date[3],
            "epoch": date[4],
        }
    return facts
