"""Fact parsers on captured output (no host): names and values as Ansible's setup gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.modules.facts import (
    facts_script,
    parse_addrs,
    parse_cpu,
    parse_date,
    parse_facts,
    parse_init,
    parse_links,
    parse_mounts,
    parse_python,
    parse_virt,
    select_sections,
)
from orchestrator.modules.wire import WireOutput, parse

FIXTURES = Path(__file__).parent / "fixtures" / "facts"


# Output of facts_script() on a lab host, its token replaced by this one.
TOKEN = "__ORCH_WIRE_captured"


def lab_output() -> WireOutput:
    return parse((FIXTURES / "lab_debian12.txt").read_bytes(), TOKEN)


def lab_facts() -> dict:
    return parse_facts(lab_output())


def test_lab_host_facts_match_what_ansible_reported_for_the_same_host() -> None:
    # Values cross-checked against `ansible -m setup` on the same lab host (ansible-core 2.19).
    facts = lab_facts()
    assert facts["distribution"] == "Debian"
    assert facts["distribution_version"] == "12.15"
    assert facts["distribution_major_version"] == "12"
    assert facts["distribution_minor_version"] == "15"
    assert facts["distribution_release"] == "bookworm"
    assert facts["os_family"] == "Debian"
    assert facts["pkg_mgr"] == "apt"
    assert facts["hostname"] == "h1" and facts["fqdn"] == "h1" and facts["domain"] == ""
    assert facts["architecture"] == "x86_64" and facts["userspace_bits"] == "64"
    assert facts["kernel_version"] == "#1 SMP PREEMPT_DYNAMIC @0"
    assert facts["processor"] == ["0", "AuthenticAMD", "AMD EPYC", "1", "AuthenticAMD", "AMD EPYC"]
    assert (facts["processor_vcpus"], facts["processor_cores"], facts["processor_count"]) == (2, 2, 1)
    assert facts["default_ipv4"] == {
        "address": "192.0.2.2",
        "alias": "eth0",
        "broadcast": "192.0.2.255",
        "gateway": "192.0.2.1",
        "interface": "eth0",
        "macaddress": "02:fc:00:00:00:01",
        "mtu": 1400,
        "netmask": "255.255.255.0",
        "network": "192.0.2.0",
        "prefix": "24",
        "type": "ether",
    }
    assert facts["all_ipv4_addresses"] == ["192.0.2.2"]
    assert sorted(facts["interfaces"]) == ["eth0", "ifb0", "ifb1", "lo"]
    assert facts["lo"]["ipv4"]["netmask"] == "255.0.0.0" and facts["lo"]["type"] == "loopback"
    assert facts["python"]["executable"] == "/usr/bin/python3"
    assert facts["python"]["version"] == {
        "major": 3,
        "minor": 11,
        "micro": 2,
        "releaselevel": "final",
        "serial": 0,
    }
    assert facts["python"]["type"] == "cpython"
    assert facts["lsb"] == {}
    assert facts["user_id"] == "root" and facts["user_uid"] == 0 and facts["user_shell"] == "/bin/bash"
    assert facts["env"]["HOME"] == "/root"
    assert facts["date_time"]["weekday"] == "Monday" and facts["date_time"]["tz"] == "UTC"
    assert facts["dns"]["nameservers"]
    assert facts["ssh_host_key_ed25519_public_keytype"] == "ssh-ed25519"
    assert facts["memtotal_mb"] == 24105
    # No init system in a lab host: PID 1 is sshd. Ansible says "sshd"; orch finds /etc/init.d.
    assert facts["service_mgr"] == "sysvinit"
    root = next(m for m in facts["mounts"] if m["mount"] == "/")
    assert root["fstype"] == "overlay" and root["size_available"] == root["block_available"] * 1024
    assert root["inode_total"] > root["inode_available"] > 0


def test_gather_subset_selects_sections_like_ansible() -> None:
    everything, subsets = select_sections(["all"])
    assert subsets == ["min", "hardware", "network", "virtual"] and "mounts" in everything
    minimal, subsets = select_sections(["!all"])
    assert subsets == ["min"] and "mounts" not in minimal and "os_release" in minimal
    network, _ = select_sections(["!all", "network"])
    assert "addrs" in network and "meminfo" not in network
    nothing_hw, _ = select_sections(["all", "!hardware"])
    assert "meminfo" not in nothing_hw and "addrs" in nothing_hw
    with pytest.raises(ValueError, match="Bad subset 'harware'"):
        select_sections(["harware"])
    # Only the chosen sections are in the script: a minimal gather does not run df.
    assert "df -P" not in facts_script(minimal) and "df -P" in facts_script(everything)


def test_minimal_subset_facts_leave_out_hardware() -> None:
    full = lab_output()
    minimal, _ = select_sections(["!all"])
    kept = WireOutput(b"", tuple((name, data) for name, data in full.sections if name in minimal))
    facts = parse_facts(kept, ["!all"])
    assert facts["distribution"] == "Debian" and "mounts" not in facts and "memtotal_mb" not in facts
    assert facts["gather_subset"] == ["!all"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("systemd", "systemd"),
        ("init\nsystemd-running\ninitd", "systemd"),
        ("sshd\ninitd", "sysvinit"),
        ("runit-init", "runit"),
        ("bash\nopenrc\ninitd", "openrc"),
        ("tini", "service"),
    ],
)
def test_service_mgr_detection(text: str, expected: str) -> None:
    assert parse_init(text)["service_mgr"] == expected


def test_addresses_links_and_mounts_parsers() -> None:
    addrs = parse_addrs(
        "3: br0    inet 10.1.2.3/16 brd 10.1.255.255 scope global br0\\       valid_lft forever"
    )
    assert addrs == [
        {
            "interface": "br0",
            "address": "10.1.2.3",
            "prefix": "16",
            "netmask": "255.255.0.0",
            "network": "10.1.0.0",
            "broadcast": "10.1.255.255",
        }
    ]
    links = parse_links(
        "2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT "
        "group default qlen 1000\\    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0"
    )
    assert links == {
        "eth0": {"mtu": 1500, "macaddress": "02:42:ac:11:00:02", "type": "ether", "active": True}
    }
    mounts = parse_mounts(
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
        "/dev/sda1 1000 400 600 40% /mnt/my disk\n",
        "/dev/sda1 /mnt/my\\040disk ext4 rw,noatime 0 0\n",
        "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda1 100 10 90 10% /mnt/my disk\n",
    )
    assert mounts[0]["mount"] == "/mnt/my disk" and mounts[0]["fstype"] == "ext4"
    assert mounts[0]["size_available"] == 600 * 1024 and mounts[0]["inode_used"] == 10


def test_small_parsers() -> None:
    assert parse_python("/usr/bin/python3\n3.12.1 candidate 2 cpython")["python"]["version_info"] == [
        3,
        12,
        1,
        "candidate",
        2,
    ]
    assert parse_python("") == {}
    assert parse_virt("container=lxc")["virtualization_type"] == "lxc"
    assert parse_virt("docker")["virtualization_role"] == "guest"
    assert parse_virt("")["virtualization_type"] == "NA"
    assert parse_date("garbage") == {}
    cpu = parse_cpu(
        "model name\t: Xeon\nphysical id\t: 0\nphysical id\t: 1\ncpu cores\t: 4\nsiblings\t: 8", 16
    )
    assert (cpu["processor_count"], cpu["processor_cores"], cpu["processor_threads_per_core"]) == (2, 4, 2)


def test_parse_security() -> None:
    from orchestrator.modules.facts import parse_loadavg, parse_security

    off = parse_security("selinux=none\nselinux_config=\nselinux_type=\nselinux_policyvers=\napparmor=disabled\n"
                         "fips=0\nchroot=0\neuid=0\nruid=1000\negid=0\nrgid=1000\n")
    assert off["selinux"] == {"status": "disabled"} and off["apparmor"] == {"status": "disabled"}
    assert (off["fips"], off["is_chroot"], off["effective_user_id"], off["real_user_id"]) == (False, False, 0, 1000)
    on = parse_security("selinux=1\nselinux_config=enforcing\nselinux_type=targeted\nselinux_policyvers=33\n")
    assert on["selinux"] == {
        "status": "enabled", "mode": "enforcing", "config_mode": "enforcing", "type": "targeted", "policyvers": 33
    }
    assert parse_loadavg("0.50 0.25 0.10 1/100 42\n") == {"loadavg": {"1m": 0.5, "5m": 0.25, "15m": 0.1}}
