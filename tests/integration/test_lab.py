"""The lab itself: real hosts, real sshd, real logins. Needs root on Linux (CI has it)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from orchestrator.errors import OrchError
from orchestrator.lab import AddressInUseError, LabError, LabFleet
from orchestrator.lab import system as lab_system
from orchestrator.lab.testing import LabSession, lab_unavailable_reason, open_lab_session

needs_lab = pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason()))


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    """A 3-host lab of this module's own, so killing and resetting never disturbs the shared `lab`."""
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    session = open_lab_session(3, tmp_path_factory.mktemp("own-lab"))
    try:
        yield session
    finally:
        session.close()


def _port_open(address: str) -> bool:
    try:
        socket.create_connection((address, 22), timeout=2).close()
        return True
    except OSError:
        return False


def _host_key(address: str) -> str:
    out = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", address], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return out.split()[2]


def _processes_matching(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# ---- logins --------------------------------------------------------------------------------------


@pytest.mark.lab
@pytest.mark.parametrize("user", ["root", "deploy", "ops"])
def test_every_user_logs_in_with_the_key_on_every_host(own: LabSession, user: str) -> None:
    for host in own.hosts:
        result = own.ssh(host.index, "whoami; hostname; cat /etc/hostname", user=user)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [user, host.name, host.name]


@pytest.mark.lab
def test_each_host_has_its_own_stable_host_key(own: LabSession) -> None:
    keys = {host.name: _host_key(host.address) for host in own.hosts}
    assert len(set(keys.values())) == len(own.hosts)
    # The known_hosts file the lab writes holds exactly what the hosts serve (ssh checks it strictly).
    known = own.known_hosts_path.read_text()
    for host in own.hosts:
        assert f"{host.address} ssh-ed25519 {keys[host.name]}" in known
    own.reset(2)
    assert _host_key(own.address(2)) == keys["h2"]


@pytest.mark.lab
def test_sudo_is_passwordless_for_deploy_and_asks_ops_for_a_password(own: LabSession) -> None:
    deploy = own.ssh(1, "sudo -n id -u", user="deploy")
    assert (deploy.returncode, deploy.stdout.strip()) == (0, "0")
    ops = own.ssh(1, "sudo -n true", user="ops")
    assert ops.returncode != 0
    assert "password is required" in ops.stderr
    with_password = own.ssh(1, "sudo -S -p '' id -u", user="ops", input="ops-pass\n")
    assert (with_password.returncode, with_password.stdout.strip()) == (0, "0")


# ---- kill / revive / reset -----------------------------------------------------------------------


@pytest.mark.lab
def test_kill_stops_the_whole_host_and_revive_brings_it_back_with_its_files(own: LabSession) -> None:
    tag = f"{os.getpid() % 100000 + 100000}"
    setup = own.ssh(3, f"echo kept > /root/kept; setsid sleep {tag} </dev/null >/dev/null 2>&1 &")
    assert setup.returncode == 0, setup.stderr
    assert _processes_matching(f"sleep {tag}")

    own.kill(3)
    assert not _port_open(own.address(3))
    assert not _processes_matching(f"sleep {tag}")  # every process of the host died with it
    assert [h.running for h in own.fleet.status()] == [True, True, False]

    own.revive(3)
    assert _port_open(own.address(3))
    assert own.ssh(3, "cat /root/kept").stdout == "kept\n"
    # /run is a fresh tmpfs after a restart, like after a reboot.
    assert own.ssh(3, "test -e /run/sshd && ! test -e /run/stale").returncode == 0


@pytest.mark.lab
def test_reset_forgets_everything_the_host_changed(own: LabSession) -> None:
    assert own.ssh(1, "echo gone > /root/wiped && rm /etc/motd").returncode == 0
    assert (own.upper_dir(1) / "root/wiped").is_file()
    own.reset(1)
    assert own.ssh(1, "test -e /root/wiped").returncode == 1
    assert own.ssh(1, "test -e /etc/motd").returncode == 0
    assert not (own.upper_dir(1) / "root/wiped").exists()
    assert own.ssh(1, "hostname").stdout.strip() == "h1"


@pytest.mark.lab
def test_upper_dir_holds_exactly_what_a_run_wrote(own: LabSession) -> None:
    assert own.ssh(2, "mkdir -p /srv/app && printf v1 > /srv/app/release").returncode == 0
    assert (own.upper_dir(2) / "srv/app/release").read_text() == "v1"
    assert not (own.upper_dir(1) / "srv/app").exists()


@pytest.mark.lab
def test_no_python_host_has_no_python3(own: LabSession) -> None:
    hosts = own.fleet.up(4, no_python=True)  # h1..h3 run already: only h4 is started, without python
    assert [h.running for h in hosts] == [True] * 4
    assert own.fleet.address(4) == hosts[3].address
    session4 = LabSession(own.fleet, hosts, own.inventory_path, own.slot)
    assert session4.ssh(4, "command -v python3 || ls /usr/bin/python3*").returncode != 0
    assert session4.ssh(1, "python3 -c 'print(1)'").stdout == "1\n"
    own.fleet.reset(4)  # reset keeps the kind of host it was
    assert session4.ssh(4, "command -v python3").returncode != 0
    own.fleet.kill(4)
    own.fleet.revive(4)
    assert session4.ssh(4, "command -v python3").returncode != 0


@pytest.mark.lab
def test_apt_reaches_the_mirror_from_a_host(own: LabSession) -> None:
    result = own.ssh(1, "apt-get -q update", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- inventory -----------------------------------------------------------------------------------


@pytest.mark.lab
def test_write_inventory_lists_the_running_hosts(
    own: LabSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = own.fleet.write_inventory()
    assert path == Path("inventories/lab/hosts.yml")
    data = yaml.safe_load(path.read_text())
    group = data["all"]["children"]["lab"]
    running = [h for h in own.fleet.status() if h.running]
    assert group["hosts"] == {h.name: {"ansible_host": h.address} for h in running}
    assert group["vars"]["ansible_user"] == "root"
    assert group["vars"]["ansible_ssh_private_key_file"] == str(own.key_path)
    assert Path(group["vars"]["ansible_ssh_private_key_file"]).is_absolute()
    assert not list(path.parent.glob(".hosts.yml.*"))  # the temp file of the atomic write is gone


@pytest.mark.lab
def test_cli_status_inventory_kill_revive(own: LabSession) -> None:
    def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
        base = ["--state-dir", str(own.fleet.state_dir), "--net", own.net]
        return subprocess.run(
            [sys.executable, "-m", "orchestrator.lab", *base, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    status = lab_cli("status")
    assert status.returncode == 0
    assert re.search(rf"^h1\s+{re.escape(own.address(1))}\s+running$", status.stdout, re.M)
    inventory = lab_cli("inventory", "--output", "-")
    assert yaml.safe_load(inventory.stdout)["all"]["children"]["lab"]["hosts"]["h2"] == {
        "ansible_host": own.address(2)
    }
    assert lab_cli("kill", "h2").returncode == 0
    assert not _port_open(own.address(2))
    assert lab_cli("revive", "2").returncode == 0
    assert _port_open(own.address(2))
    bad = lab_cli("revive", "77")
    assert bad.returncode == 1
    assert "h77 is not part of the lab" in bad.stderr


# ---- robustness ----------------------------------------------------------------------------------


@pytest.mark.lab
def test_up_after_a_crash_with_stale_pid_files_and_mounts(own: LabSession) -> None:
    fleet = own.fleet
    # Host 1 died behind the lab's back (the pid file stays); host 2's pid file names a live
    # process that is not a host (pid reuse) and must not be killed; host 3 has a stale mount.
    pid1 = int((fleet.host_dir(1) / "pid").read_text().split()[0])
    os.killpg(pid1, signal.SIGKILL)
    fleet.kill(2)
    (fleet.host_dir(2) / "pid").write_text(f"{os.getpid()} 1\n")
    fleet.kill(3)
    subprocess.run(["mount", "-t", "tmpfs", "stale", str(fleet.host_dir(3) / "root")], check=True)
    deadline = time.monotonic() + 10
    while fleet.is_running(1) and time.monotonic() < deadline:
        time.sleep(0.05)

    hosts = fleet.up(3)
    assert all(h.running for h in hosts)
    for host in hosts:
        assert own.ssh(host.index, "hostname").stdout.strip() == host.name
    assert not lab_system.mounts_under(fleet.hosts_dir)
    assert lab_system.is_alive(os.getpid())


@pytest.mark.lab
def test_a_foreign_server_on_a_lab_address_is_reported(tmp_path: Path) -> None:
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    session = open_lab_session(1, tmp_path)
    try:
        session.fleet.down()
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((session.address(1), 22))
            squatter.listen()
            with pytest.raises(
                AddressInUseError, match=rf"{re.escape(session.address(1))}:22 .*pid {os.getpid()}"
            ):
                session.fleet.up(1)
    finally:
        session.close()


@pytest.mark.lab
def test_thirty_hosts_start_in_about_a_second(tmp_path: Path) -> None:
    if lab_unavailable_reason():
        pytest.skip(str(lab_unavailable_reason()))
    started = time.monotonic()
    session = open_lab_session(30, tmp_path)  # includes clearing the slot first
    elapsed = time.monotonic() - started
    try:
        assert [h.running for h in session.fleet.status()] == [True] * 30
        assert session.ssh(30, "hostname").stdout.strip() == "h30"
        assert elapsed < 5, f"30 hosts took {elapsed:.1f}s"
    finally:
        session.close()
    assert not session.fleet.hosts_dir.exists()


@needs_lab
@pytest.mark.lab
def test_a_failed_build_points_at_its_log_and_leaves_no_half_rootfs(tmp_path: Path) -> None:
    fleet = LabFleet(tmp_path / "lab", "127.0.38", mirror="http://127.0.0.1:9/debian")
    with pytest.raises(LabError, match=r"build\.log"):
        fleet.build_rootfs()
    assert not (tmp_path / "lab/rootfs").exists()
    assert not list((tmp_path / "lab").glob("rootfs.tmp-*"))


# ---- the shared fixtures -------------------------------------------------------------------------


def test_shared_lab_fixture_can_lose_a_host(lab: LabSession) -> None:
    lab.kill(1)
    assert not _port_open(lab.address(1))


def test_shared_lab_fixture_revived_it(lab: LabSession) -> None:
    # The autouse fixture in conftest revived h1 after the previous test.
    assert _port_open(lab.address(1))
    assert lab.ssh(1, "echo dirty > /root/dirty").returncode == 0
    assert len(lab.hosts) == int(os.environ.get("ORCH_TEST_HOSTS", "4"))
    assert yaml.safe_load(lab.inventory_path.read_text())["all"]["children"]["lab"]["hosts"]["h1"] == {
        "ansible_host": lab.address(1)
    }


def test_fresh_lab_fixture_is_pristine(fresh_lab: LabSession) -> None:
    assert fresh_lab.ssh(1, "test -e /root/dirty").returncode == 1
    assert not (fresh_lab.upper_dir(1) / "root/dirty").exists()


# ---- without root --------------------------------------------------------------------------------


def test_not_root_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(OrchError, match="orch lab needs root on Linux"):
        LabFleet(tmp_path, "127.0.38").up(1)


def test_not_linux_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(OrchError, match="orch lab needs root on Linux: this is darwin"):
        LabFleet(tmp_path, "127.0.38").up(1)


def test_a_missing_tool_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, **kw: None if name == "debootstrap" else real_which(name, **kw)
    )
    with pytest.raises(LabError, match="apt-get install debootstrap"):
        lab_system.require_tools(["debootstrap", "mount"])


def test_bad_net_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="loopback"):
        LabFleet(tmp_path, "10.0.0")
    with pytest.raises(LabError, match="first three parts"):
        LabFleet(tmp_path, "127.0.0.1")
