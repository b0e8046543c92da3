"""Facts from plain shell commands, parsed on the controller (no Python on the target).

`facts_script(subsets)` prints one wire-format section (modules/wire.py) of raw command output per
name, all in one round trip; `parse_facts` turns that into Ansible's fact names. Each parser is pure, so it is tested on
captured output, with no host.

Differences from Ansible, on purpose:
- service_mgr: when PID 1 is not an init Ansible knows (a container's entry process, the lab's
  sshd), Ansible reports that process name ("sshd"); orch goes on to detect the init scripts the
  host has (systemd / openrc / upstart / sysvinit), which is what the `service` module needs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.modules.wire import WireOutput, parse_fields

# Which sections each gather_subset needs. "min" is always gathered unless "!min" is given.
SUBSETS: dict[str, tuple[str, ...]] = {
    "min": (
        "hostname",
        "fqdn",
        "os_release",
        "debian_version",
        "lsb",
        "uname",
        "init",
        "pkg",
        "python",
        "env",
        "user",
        "date",
        "cmdline",
        "dns",
        "ssh_keys",
        "security",
    ),
    "hardware": ("meminfo", "nproc", "cpu", "mounts", "procmounts", "uptime", "loadavg"),
    "network": ("route", "addrs", "links"),
    "virtual": ("virt",),
}

_SECTION_COMMANDS: dict[str, str] = {
    "hostname": "hostname 2>/dev/null || cat /proc/sys/kernel/hostname",
    "fqdn": "hostname -f 2>/dev/null || hostname 2>/dev/null",
    "os_release": "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
    "debian_version": "cat /etc/debian_version 2>/dev/null",
    "lsb": "cat /etc/lsb-release 2>/dev/null",
    "uname": "uname -s -r -m 2>/dev/null; uname -v 2>/dev/null",
    # PID 1's name, then which init systems the host carries (see parse_init).
    "init": (
        "cat /proc/1/comm 2>/dev/null; [ -d /run/systemd/system ] && echo systemd-running; "
        "command -v systemctl >/dev/null 2>&1 && [ -d /etc/systemd/system ] && echo systemd-offline; "
        "[ -e /sbin/openrc ] && echo openrc; command -v initctl >/dev/null 2>&1 && [ -d /etc/init ] && echo upstart; "
        "[ -d /etc/init.d ] && echo initd; :"
    ),
    "pkg": "for m in apt-get dnf yum zypper apk pacman; do command -v $m >/dev/null 2>&1 && { echo $m; break; }; done",
    "python": (
        "for p in python3 python; do command -v $p >/dev/null 2>&1 && { command -v $p; "
        '$p -c \'import sys; print(".".join(map(str, sys.version_info[:3])), sys.version_info[3], '
        "sys.version_info[4], sys.implementation.name)' 2>/dev/null; break; }; done"
    ),
    "env": "env",
    "user": (
        "id -un; id -u; id -g; printf '%s\\n' \"$HOME\"; "
        'getent passwd "$(id -un)" 2>/dev/null || grep "^$(id -un):" /etc/passwd'
    ),
    "date": "date '+%Y-%m-%d %H:%M:%S %Z %z %s %A %a %B %b %j %W %w %d %m %y %Y'; date -u '+%Y-%m-%dT%H:%M:%SZ %H:%M:%S'",
    "cmdline": "cat /proc/cmdline 2>/dev/null",
    "dns": "cat /etc/resolv.conf 2>/dev/null",
    "ssh_keys": 'for k in /etc/ssh/ssh_host_*_key.pub; do [ -f "$k" ] && { printf \'%s \' "$k"; cat "$k"; }; done; :',
    "meminfo": "cat /proc/meminfo 2>/dev/null",
    "nproc": "nproc --all 2>/dev/null || grep -c ^processor /proc/cpuinfo",
    "cpu": "grep -E '^(vendor_id|model name|physical id|cpu cores|siblings)' /proc/cpuinfo 2>/dev/null | sort -u",
    "mounts": "df -P -k 2>/dev/null; orch_section mounts_inodes; df -P -i 2>/dev/null",
    "procmounts": "cat /proc/mounts 2>/dev/null",
    "uptime": "cat /proc/uptime 2>/dev/null",
    "loadavg": "cat /proc/loadavg 2>/dev/null",
    # SELinux and AppArmor state, FIPS mode, chroot, real and effective ids (see parse_security)
    "security": (
        "echo selinux=$(cat /sys/fs/selinux/enforce 2>/dev/null || echo none); "
        "echo selinux_config=$(sed -n 's/^SELINUX=//p' /etc/selinux/config 2>/dev/null | head -n 1); "
        "echo selinux_type=$(sed -n 's/^SELINUXTYPE=//p' /etc/selinux/config 2>/dev/null | head -n 1); "
        "echo selinux_policyvers=$(cat /sys/fs/selinux/policyvers 2>/dev/null); "
        "[ -d /sys/kernel/security/apparmor ] && echo apparmor=enabled || echo apparmor=disabled; "
        "echo fips=$(cat /proc/sys/crypto/fips_enabled 2>/dev/null); "
        "__r=$(stat -c %d:%i /proc/1/root/. 2>/dev/null); "
        "[ -n \"$__r\" ] && [ \"$__r\" != \"$(stat -c %d:%i / 2>/dev/null)\" ] && echo chroot=1 || echo chroot=0; "
        "echo euid=$(id -u); echo ruid=$(id -ru); echo egid=$(id -g); echo rgid=$(id -rg)"
    ),
    "route": "ip -4 route show default 2>/dev/null | head -n 1",
    "addrs": "ip -4 -o addr show 2>/dev/null",
    "links": "ip -o link show 2>/dev/null",
    "virt": (
        "tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | grep -m1 '^container='; "
        "[ -f /.dockerenv ] && echo docker; [ -f /run/.containerenv ] && echo podman; "
        "systemd-detect-virt 2>/dev/null; "
        "grep -qa 'docker\\|lxc' /proc/1/cgroup 2>/dev/null && echo cgroup-container; "
        "grep -q '^flags.* hypervisor' /proc/cpuinfo 2>/dev/null && echo hypervisor; "
        "cat /sys/class/dmi/id/product_name /sys/class/dmi/id/sys_vendor 2>/dev/null; :"
    ),
}

# Every known section, in output order.
ALL_SECTIONS: tuple[str, ...] = tuple(_SECTION_COMMANDS)


def select_sections(gather_subset: Iterable[str]) -> tuple[list[str], list[str]]:
    """Resolve Ansible's gather_subset (all, min, network, !hardware, ...) -> (sections, subsets).

    Like Ansible, "min" is included unless excluded ("!min"); "!all" leaves only "min".
    Raises ValueError for an unknown subset name.
    """
    include: set[str] = set()
    exclude: set[str] = set()
    exclude_all = False
    for raw in gather_subset:
        name = str(raw).strip()
        negate = name.startswith("!")
        name = name.lstrip("!")
        if name in ("all", "*"):
            # "!all" drops what was not asked for by name; it never drops "min" (as Ansible).
            if negate:
                exclude_all = True
            else:
                include.update(SUBSETS)
            continue
        # Ansible's finer names (facter, ohai, interfaces, ...) map onto the four groups we have.
        group = {"facter": None, "ohai": None, "interfaces": "network", "devices": "hardware"}.get(name, name)
        if group is None:
            continue
        if group not in SUBSETS:
            valid = ", ".join(["all", *SUBSETS])
            raise ValueError(f"Bad subset '{name}' given to Ansible. gather_subset options allowed: {valid}")
        (exclude if negate else include).add(group)
    if not include and not exclude_all:
        include.update(SUBSETS)  # only exclusions given ("!hardware"): the rest of "all"
    chosen = [s for s in SUBSETS if (s in include or s == "min") and s not in exclude]
    sections = [name for name in ALL_SECTIONS if any(name in SUBSETS[s] for s in chosen)]
    return sections, chosen


def facts_script(sections: Iterable[str] = ALL_SECTIONS) -> str:
    """One script that prints every chosen section; the whole fact set is one round trip."""
    lines = ["LC_ALL=C; export LC_ALL"]
    for name in sections:
        lines.append(f"orch_section {name}; {{ {_SECTION_COMMANDS[name]}\n}} 2>/dev/null")
    return "\n".join(lines) + "\n"


FACTS_SCRIPT = facts_script()


def _keyvalues(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


_DIST_NAMES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "centos": "CentOS",
    "rhel": "RedHat",
    "fedora": "Fedora",
    "alpine": "Alpine",
    "rocky": "Rocky",
    "almalinux": "AlmaLinux",
    "arch": "Archlinux",
    "opensuse-leap": "openSUSE Leap",
    "sles": "SLES",
    "amzn": "Amazon",
    "linuxmint": "Linux Mint",
    "raspbian": "Debian",
    "ol": "OracleLinux",
}
_OS_FAMILY = {
    "Debian": "Debian",
    "Ubuntu": "Debian",
    "Linux Mint": "Debian",
    "CentOS": "RedHat",
    "RedHat": "RedHat",
    "Fedora": "RedHat",
    "Rocky": "RedHat",
    "AlmaLinux": "RedHat",
    "Amazon": "RedHat",
    "OracleLinux": "RedHat",
    "Alpine": "Alpine",
    "Archlinux": "Archlinux",
    "openSUSE Leap": "Suse",
    "SLES": "Suse",
}


def parse_os_release(text: str) -> dict[str, Any]:
    values = _keyvalues(text)
    distro_id = values.get("ID", "").lower()
    name = _DIST_NAMES.get(distro_id, distro_id.capitalize() or "Unknown")
    version = values.get("VERSION_ID", "")
    return {
        "distribution": name,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0] if version else "",
        "distribution_release": values.get("VERSION_CODENAME", "") or values.get("UBUNTU_CODENAME", ""),
        "os_family": _OS_FAMILY.get(name, name),
    }


def parse_debian_version(text: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Debian's point release lives in /etc/debian_version (12.5), as Ansible reports it."""
    version = text.strip()
    if facts.get("distribution") != "Debian" or not re.fullmatch(r"\d+(\.\d+)*", version):
        return {}
    parts = version.split(".")
    out = {"distribution_version": version, "distribution_major_version": parts[0]}
    if len(parts) > 1:
        out["distribution_minor_version"] = parts[1]
    return out


def parse_lsb(text: str) -> dict[str, Any]:
    values = _keyvalues(text)
    if not values:
        return {"lsb": {}}
    release = values.get("DISTRIB_RELEASE", "")
    return {
        "lsb": {
            "id": values.get("DISTRIB_ID", ""),
            "release": release,
            "codename": values.get("DISTRIB_CODENAME", ""),
            "description": values.get("DISTRIB_DESCRIPTION", ""),
            "major_release": release.split(".")[0],
        }
    }


def parse_meminfo(text: str) -> dict[str, Any]:
    kb = {}
    for line in text.splitlines():
        match = re.match(r"(\w+):\s+(\d+)", line)
        if match:
            kb[match.group(1)] = int(match.group(2))
    total, free = kb.get("MemTotal", 0) // 1024, kb.get("MemFree", 0) // 1024
    nocache_free = (kb.get("MemFree", 0) + kb.get("Buffers", 0) + kb.get("Cached", 0)) // 1024
    swap_total, swap_free = kb.get("SwapTotal", 0) // 1024, kb.get("SwapFree", 0) // 1024
    return {
        "memtotal_mb": total,
        "memfree_mb": free,
        "memavailable_mb": kb.get("MemAvailable", 0) // 1024,
        "swaptotal_mb": swap_total,
        "swapfree_mb": swap_free,
        "memory_mb": {
            "real": {"total": total, "free": free, "used": total - free},
            "nocache": {"free": nocache_free, "used": total - nocache_free},
            "swap": {
                "total": swap_total,
                "free": swap_free,
                "used": swap_total - swap_free,
                "cached": kb.get("SwapCached", 0) // 1024,
            },
        },
    }


def parse_uname(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    parts = lines[0].split() if lines else []
    machine = parts[2] if len(parts) > 2 else ""
    return {
        "system": parts[0] if parts else "",
        "kernel": parts[1] if len(parts) > 1 else "",
        "kernel_version": lines[1].strip() if len(lines) > 1 else "",
        "machine": machine,
        "architecture": machine,
        "userspace_architecture": machine,
        "userspace_bits": "64" if machine.endswith("64") or machine == "s390x" else "32",
    }


_INIT_NAMES = {
    "systemd": "systemd",
    "runit-init": "runit",
    "svscan": "svc",
    "openrc-init": "openrc",
    "runit": "runit",
    "s6-svscan": "s6",
    "launchd": "launchd",
    "dinit": "dinit",
}


def parse_init(text: str) -> dict[str, Any]:
    """PID 1's name plus markers (systemd-running, openrc, upstart, initd) -> service_mgr."""
    lines = text.split()
    comm = lines[0] if lines else ""
    markers = set(lines[1:])
    if comm in _INIT_NAMES:
        return {"service_mgr": _INIT_NAMES[comm]}
    for marker, manager in (
        ("systemd-running", "systemd"),
        ("upstart", "upstart"),
        ("openrc", "openrc"),
        ("systemd-offline", "systemd"),
        ("initd", "sysvinit"),
    ):
        if marker in markers:
            return {"service_mgr": manager}
    return {"service_mgr": "service"}


def parse_cpu(text: str, vcpus: int) -> dict[str, Any]:
    """`grep ... /proc/cpuinfo | sort -u` -> processor list and socket/core counts, as Ansible."""
    values: dict[str, set[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        values.setdefault(key.strip(), set()).add(value.strip())
    vendor = min(values.get("vendor_id", {""}))
    model = min(values.get("model name", {"unknown"}))
    sockets = len(values.get("physical id", ())) or 1
    cores = int(min(values.get("cpu cores", {"0"}))) or max(vcpus // sockets, 1)
    siblings = int(min(values.get("siblings", {"0"}))) or cores
    processor = [
        item for i in range(vcpus) for item in ((str(i), vendor, model) if vendor else (str(i), model))
    ]
    return {
        "processor": processor,
        "processor_vcpus": vcpus,
        "processor_count": sockets,
        "processor_cores": cores,
        "processor_threads_per_core": max(siblings // cores, 1),
        "processor_nproc": vcpus,
    }


def parse_route(text: str) -> dict[str, Any]:
    match = re.search(r"default via (\S+) dev (\S+)", text)
    if match:
        return {"_default_gw": match.group(1), "_default_if": match.group(2)}
    match = re.search(r"default dev (\S+)", text)
    return {"_default_gw": "", "_default_if": match.group(1)} if match else {}


def parse_addrs(text: str) -> list[dict[str, str]]:
    addrs = []
    for line in text.splitlines():
        match = re.match(r"\d+:\s+(\S+)\s+inet\s+([\d.]+)/(\d+)(?:\s+brd\s+([\d.]+))?", line)
        if match:
            net = ipaddress.ip_interface(f"{match.group(2)}/{match.group(3)}").network
            addrs.append(
                {
                    "interface": match.group(1),
                    "address": match.group(2),
                    "prefix": match.group(3),
                    "netmask": str(net.netmask),
                    "network": str(net.network_address),
                    "broadcast": match.group(4) or "",
                }
            )
    return addrs


def parse_links(text: str) -> dict[str, dict[str, Any]]:
    """`ip -o link` -> {ifname: {mtu, macaddress, type, active}}."""
    links: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        match = re.match(r"\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>.*?\bmtu (\d+)", line)
        if not match:
            continue
        mac = re.search(r"link/(\w+)(?:\s+([0-9a-f:]{17}))?", line)
        kind = mac.group(1) if mac else "unknown"
        links[match.group(1)] = {
            "mtu": int(match.group(3)),
            "macaddress": mac.group(2) if mac and mac.group(2) else "",
            "type": {"ether": "ether", "loopback": "loopback"}.get(kind, kind),
            "active": "UP" in match.group(2).split(","),
        }
    return links


def parse_mounts(sizes: str, proc_mounts: str = "", inodes_text: str = "") -> list[dict[str, Any]]:
    """`df -P -k`, /proc/mounts (and `df -P -i`) -> Ansible's mounts list."""
    inodes: dict[str, tuple[int, int, int]] = {}
    for line in inodes_text.strip("\n").splitlines()[1:]:  # after the header line
        parts = line.split()
        if len(parts) >= 6 and parts[1].isdigit() and parts[2].isdigit() and parts[3].isdigit():
            inodes[" ".join(parts[5:])] = (int(parts[1]), int(parts[2]), int(parts[3]))
    kinds: dict[str, tuple[str, str]] = {}
    for line in proc_mounts.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            kinds[_unescape_mount(parts[1])] = (parts[2], parts[3])
    mounts = []
    for line in sizes.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 6 and parts[1].isdigit():
            block_total, block_used, block_avail = int(parts[1]), int(parts[2]), int(parts[3])
            mount = " ".join(parts[5:])
            fstype, options = kinds.get(mount, ("", ""))
            inode_total, inode_used, inode_avail = inodes.get(mount, (0, 0, 0))
            mounts.append(
                {
                    "mount": mount,
                    "device": parts[0],
                    "fstype": fstype,
                    "options": options,
                    "size_total": block_total * 1024,
                    "size_available": block_avail * 1024,
                    "size_used": block_used * 1024,
                    "block_size": 1024,
                    "block_total": block_total,
                    "block_available": block_avail,
                    "block_used": block_used,
                    "inode_total": inode_total,
                    "inode_available": inode_avail,
                    "inode_used": inode_used,
                    "uuid": "N/A",
                }
            )
    return mounts


def _unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_env(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            env[key] = value
    return env


def parse_user(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    if len(lines) < 4 or not lines[1].isdigit() or not lines[2].isdigit():
        return {}
    out: dict[str, Any] = {
        "user_id": lines[0],
        "user_uid": int(lines[1]),
        "user_gid": int(lines[2]),
        "user_dir": lines[3],
    }
    if len(lines) > 4:
        fields = lines[4].split(":")
        if len(fields) >= 7:
            out["user_gecos"], out["user_dir"], out["user_shell"] = fields[4], fields[5], fields[6]
    return out


def parse_date(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    local = lines[0].split() if lines else []
    if len(local) < 16:
        return {}
    (
        date,
        time_,
        tz,
        offset,
        epoch,
        weekday,
        weekday_short,
        month_name,
        month_short,
        day_of_year,
        weeknumber,
        weekday_number,
        day,
        month,
        year_short,
        year,
    ) = local[:16]
    utc = lines[1].split() if len(lines) > 1 else ["", ""]
    hour, minute, second = time_.split(":")
    return {
        "date_time": {
            "date": date,
            "time": time_,
            "tz": tz,
            "tz_offset": offset,
            "epoch": epoch,
            "epoch_int": epoch,
            "weekday": weekday,
            "weekday_number": weekday_number,
            "weeknumber": weeknumber,
            "day": day,
            "month": month,
            "year": year,
            "hour": hour,
            "minute": minute,
            "second": second,
            "iso8601": utc[0],
            "iso8601_basic": f"{date.replace('-', '')}T{time_.replace(':', '')}",
            "iso8601_basic_short": f"{date.replace('-', '')}T{time_.replace(':', '')}",
            "tz_dst": tz,
            "day_of_year": day_of_year,
            "weekday_short": weekday_short,
            "monthname": month_name,
            "monthname_short": month_short,
            "year_short": year_short,
        }
    }


def parse_dns(text: str) -> dict[str, Any]:
    dns: dict[str, Any] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            dns.setdefault("nameservers", []).append(parts[1])
        elif parts[0] in ("domain", "sortlist") and len(parts) > 1:
            dns[parts[0]] = parts[1]
        elif parts[0] == "search":
            dns["search"] = parts[1:]
        elif parts[0] == "options":
            for option in parts[1:]:
                key, _, value = option.partition(":")
                dns.setdefault("options", {})[key] = value or True
    return {"dns": dns}


def parse_cmdline(text: str) -> dict[str, Any]:
    cmdline: dict[str, Any] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        cmdline[key] = value if sep else True
    return {"cmdline": cmdline, "proc_cmdline": dict(cmdline)}


def parse_python(text: str) -> dict[str, Any]:
    parts = text.split()
    if len(parts) < 2 or not re.fullmatch(r"\d+\.\d+\.\d+", parts[1]):
        return {}
    major, minor, micro = map(int, parts[1].split("."))
    level = parts[2] if len(parts) > 2 else "final"
    serial = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0
    return {
        "python": {
            "executable": parts[0],
            "type": parts[4] if len(parts) > 4 else "cpython",
            "version": {
                "major": major,
                "minor": minor,
                "micro": micro,
                "releaselevel": level,
                "serial": serial,
            },
            "version_info": [major, minor, micro, level, serial],
            "has_sslcontext": True,
        },
        "python_version": parts[1],
    }


def parse_virt(text: str) -> dict[str, Any]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    container = next((v.split("=", 1)[1] for v in lines if v.startswith("container=")), None)
    kind = container
    if kind is None:
        kind = next((v for v in ("docker", "podman") if v in lines), None)
    if kind is None:
        detected = [
            v for v in lines if v.isidentifier() and v not in ("none", "hypervisor", "cgroup_container")
        ]
        kind = next(
            (
                v
                for v in detected
                if v in ("kvm", "qemu", "vmware", "xen", "lxc", "openvz", "oracle", "microsoft", "amazon")
            ),
            None,
        )
    if kind is None:
        lowered = " ".join(lines).lower()
        for needle, name in (
            ("kvm", "kvm"),
            ("qemu", "kvm"),
            ("vmware", "VMware"),
            ("virtualbox", "virtualbox"),
            ("xen", "xen"),
        ):
            if needle in lowered:
                kind = name
                break
    if kind is None and "hypervisor" in lines:
        kind = "kvm"
    return {
        "virtualization_type": kind or "NA",
        "virtualization_role": "guest" if kind else "NA",
        "virtualization_tech_guest": [kind] if kind else [],
        "virtualization_tech_host": [],
    }


def parse_ssh_keys(text: str) -> dict[str, Any]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        match = re.search(r"ssh_host_(\w+)_key\.pub$", parts[0]) if parts else None
        if match and len(parts) >= 3:
            out[f"ssh_host_key_{match.group(1)}_public"] = parts[2]
            out[f"ssh_host_key_{match.group(1)}_public_keytype"] = parts[1]
    return out


_PKG_MGRS = {
    "apt-get": "apt",
    "yum": "yum",
    "dnf": "dnf",
    "zypper": "zypper",
    "apk": "apk",
    "pacman": "pacman",
}


def parse_security(text: str) -> dict[str, Any]:
    """selinux/apparmor/fips/is_chroot and the real and effective ids, as Ansible names them."""
    kv = parse_fields(text)
    selinux: dict[str, Any] = {"status": "disabled"}
    if kv.get("selinux") in ("0", "1"):
        selinux = {
            "status": "enabled",
            "mode": "enforcing" if kv["selinux"] == "1" else "permissive",
            "config_mode": kv.get("selinux_config") or "unknown",
            "type": kv.get("selinux_type") or "unknown",
        }
        if kv.get("selinux_policyvers", "").isdigit():
            selinux["policyvers"] = int(kv["selinux_policyvers"])
    out: dict[str, Any] = {
        "selinux": selinux,
        "apparmor": {"status": kv.get("apparmor", "disabled")},
        "fips": kv.get("fips") == "1",
        "is_chroot": kv.get("chroot") == "1",
        "local": {},  # local facts (fact_path) are not gathered
    }
    for key, fact in (("euid", "effective_user_id"), ("ruid", "real_user_id"), ("egid", "effective_group_id"), ("rgid", "real_group_id")):
        if kv.get(key, "").isdigit():
            out[fact] = int(kv[key])
    return out


def parse_loadavg(text: str) -> dict[str, Any]:
    fields = text.split()
    if len(fields) < 3:
        return {}
    try:
        return {"loadavg": {"1m": float(fields[0]), "5m": float(fields[1]), "15m": float(fields[2])}}
    except ValueError:
        return {}


def parse_facts(output: WireOutput, subsets: Iterable[str] = ("all",)) -> dict[str, Any]:
    """Every fact Ansible's setup gives that the gathered sections allow, by Ansible's names."""
    sec = {name: data.decode("utf-8", "replace").strip("\n") for name, data in output.sections}
    facts: dict[str, Any] = {"gather_subset": list(subsets), "module_setup": True}
    simple: dict[str, Callable[[str], dict[str, Any]]] = {
        "os_release": parse_os_release,
        "lsb": parse_lsb,
        "meminfo": parse_meminfo,
        "uname": parse_uname,
        "init": parse_init,
        "user": parse_user,
        "date": parse_date,
        "dns": parse_dns,
        "cmdline": parse_cmdline,
        "python": parse_python,
        "virt": parse_virt,
        "ssh_keys": parse_ssh_keys,
        "security": parse_security,
        "loadavg": parse_loadavg,
    }
    for name, parser in simple.items():
        if name in sec:
            facts.update(parser(sec[name]))
    if "debian_version" in sec:
        facts.update(parse_debian_version(sec["debian_version"], facts))
    if "hostname" in sec:
        hostname = sec["hostname"].strip()
        facts["hostname"] = hostname.split(".")[0]
        facts["nodename"] = hostname
        facts["fqdn"] = sec.get("fqdn", "").strip() or hostname
        facts["domain"] = facts["fqdn"].partition(".")[2]
    if "nproc" in sec:
        nproc = sec["nproc"].strip()
        count = int(nproc) if nproc.isdigit() else 1
        facts.update(parse_cpu(sec.get("cpu", ""), count))
    if "pkg" in sec:
        facts["pkg_mgr"] = _PKG_MGRS.get(sec["pkg"].strip(), "unknown")
    if "env" in sec:
        facts["env"] = parse_env(sec["env"])
    if "mounts" in sec:
        facts["mounts"] = parse_mounts(sec["mounts"], sec.get("procmounts", ""), sec.get("mounts_inodes", ""))
    if "uptime" in sec and sec["uptime"].split():
        facts["uptime_seconds"] = int(float(sec["uptime"].split()[0]))
    if "addrs" in sec or "route" in sec:
        facts.update(_network_facts(sec))
    return facts


def _network_facts(sec: dict[str, str]) -> dict[str, Any]:
    addrs = parse_addrs(sec.get("addrs", ""))
    route = parse_route(sec.get("route", ""))
    links = parse_links(sec.get("links", ""))
    out: dict[str, Any] = {
        "all_ipv4_addresses": [a["address"] for a in addrs if not a["address"].startswith("127.")],
        "interfaces": sorted({*links, *(a["interface"] for a in addrs)}),
    }
    default = next((a for a in addrs if a["interface"] == route.get("_default_if")), None)
    if default is None:
        default = next((a for a in addrs if not a["address"].startswith("127.")), None)
    if default:
        link = links.get(default["interface"], {})
        out["default_ipv4"] = {
            **default,
            "gateway": route.get("_default_gw", ""),
            "alias": default["interface"],
            "macaddress": link.get("macaddress", ""),
            "mtu": link.get("mtu", 0),
            "type": link.get("type", "unknown"),
        }
    else:
        out["default_ipv4"] = {}
    for name in out["interfaces"]:
        mine = [a for a in addrs if a["interface"] == name]
        entry: dict[str, Any] = {"device": name, **links.get(name, {})}
        if mine:
            first = mine[0]
            entry["ipv4"] = {k: first[k] for k in ("address", "netmask", "network", "prefix", "broadcast")}
            if len(mine) > 1:
                entry["ipv4_secondaries"] = [
                    {k: a[k] for k in ("address", "netmask", "network", "prefix", "broadcast")}
                    for a in mine[1:]
                ]
        out[name.replace("-", "_").replace(".", "_")] = entry
    return out
