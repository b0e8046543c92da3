"""Test support for the lab: one lab per test session, safe when sessions run at the same time.

Each session takes a "slot": an exclusive lock plus its own state directory and net, sharing one
Debian image. Two engineers (or pytest-xdist workers) running integration tests on one machine
therefore never stop each other's hosts. The pytest fixtures in tests/conftest.py wrap this.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.lab.fleet import LabFleet, LabHost
from orchestrator.lab.system import AddressInUseError, LabError, require_root_linux, require_tools, try_lock

DEFAULT_TEST_DIR = "/var/tmp/orch-lab-test"
DEFAULT_TEST_NET = "127.0.3"
MAX_SLOTS = 16  # engineers and xdist workers running test sessions at once
REPO_ROOT = Path(__file__).resolve().parents[2]


def lab_unavailable_reason() -> str | None:
    """Why lab tests cannot run here (not root, not Linux, tools missing), or None."""
    try:
        require_root_linux()
        require_tools(["debootstrap", "unshare", "mount", "umount", "chroot", "pivot_root", "ssh"])
    except LabError as exc:
        return str(exc)
    return None


@dataclass
class LabSession:
    """A running lab for tests: the fleet plus the files a test needs to reach it."""

    fleet: LabFleet
    hosts: list[LabHost]
    inventory_path: Path
    slot: int
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def key_path(self) -> Path:
        return self.fleet.key_path

    @property
    def known_hosts_path(self) -> Path:
        return self.fleet.known_hosts_path

    @property
    def net(self) -> str:
        return self.fleet.net

    def host(self, which: int | str) -> LabHost:
        """A host by number (1) or name ("h1")."""
        index = int(which[1:]) if isinstance(which, str) else which
        for host in self.hosts:
            if host.index == index:
                return host
        raise LabError(f"h{index} is not in this test lab ({len(self.hosts)} hosts)")

    def address(self, which: int | str) -> str:
        return self.host(which).address

    def upper_dir(self, which: int | str) -> Path:
        return self.fleet.upper_dir(self.host(which).index)

    def kill(self, which: int | str) -> None:
        self.fleet.kill(self.host(which).index)

    def stop(self, which: int | str) -> None:
        self.fleet.stop(self.host(which).index)

    def cont(self, which: int | str) -> None:
        self.fleet.cont(self.host(which).index)

    def revive(self, which: int | str) -> LabHost:
        return self.fleet.revive(self.host(which).index)

    def reset(self, which: int | str) -> LabHost:
        return self.fleet.reset(self.host(which).index)

    def reset_all(self) -> list[LabHost]:
        return self.fleet.reset_all()

    def ensure_running(self) -> None:
        """Revive hosts a test killed, so the next test finds the whole lab."""
        for host in self.fleet.status():
            if not host.running:
                self.fleet.revive(host.index)

    def ssh_argv(self, which: int | str, user: str = "root") -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.key_path),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts_path}",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
            f"{user}@{self.address(which)}",
        ]

    def ssh(
        self,
        which: int | str,
        command: str,
        *,
        user: str = "root",
        input: str | None = None,
        timeout: float = 120,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a host with the system ssh client (independent of orch's transport)."""
        return subprocess.run(
            [*self.ssh_argv(which, user), command],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def docker_load(self, which: int | str, tarball: Path, *, timeout: float = 300) -> str:
        """`docker load` a tarball from the controller on a host (streamed over ssh, no copy left
        behind); returns docker's output ("Loaded image: ...")."""
        with open(tarball, "rb") as data:
            result = subprocess.run(
                [*self.ssh_argv(which), "docker load"],
                stdin=data,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise LabError(
                f"docker load {tarball} on {which}: {result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout.decode()

    def close(self) -> None:
        try:
            self.fleet.down()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def slot_net(base_net: str, slot: int) -> str:
    a, b, c = base_net.split(".")
    if int(c) + slot > 255:
        raise LabError(f"no room for test slot {slot} after net {base_net}")
    return f"{a}.{b}.{int(c) + slot}"


def open_lab_session(
    n: int,
    inventory_dir: Path,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    base_net: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabSession:
    """Take the first free slot, clear whatever a crashed session left there, start n hosts.

    Slot k uses state dir BASE/slot<k> and net BASE_NET+k (127.0.3, 127.0.4, ...); all slots share
    the image in BASE (ORCH_LAB_DIR, default /var/tmp/orch-lab-test).
    """
    base = Path(base_dir or os.environ.get("ORCH_LAB_DIR") or DEFAULT_TEST_DIR).absolute()
    net0 = base_net or os.environ.get("ORCH_TEST_NET") or DEFAULT_TEST_NET
    for slot in range(MAX_SLOTS):
        fd = try_lock(base / f"slot{slot}.lock")
        if fd is None:
            continue  # another session holds this slot
        fleet = LabFleet(base / f"slot{slot}", slot_net(net0, slot), image_dir=base, progress=progress)
        try:
            fleet.down()  # a crashed session may have left hosts; we own the slot now
            hosts = fleet.up(n)
        except AddressInUseError:
            fleet.down()
            os.close(fd)
            continue  # something else (a user's lab?) serves this net: try the next slot
        except BaseException:
            os.close(fd)
            raise
        inventory_path = fleet.write_inventory(inventory_dir / "hosts.yml")
        return LabSession(fleet=fleet, hosts=hosts, inventory_path=inventory_path, slot=slot, _lock_fd=fd)
    raise LabError(f"all {MAX_SLOTS} lab test slots in {base} are busy (other test sessions running?)")


def run_orch(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m orchestrator.cli ARGS` as a user would; `env` is added to the current environment."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH", "")]))
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def recap_counters(stdout: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host from orch's (or ansible-playbook's) output."""
    counters = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if m and "ok=" in m[2]:
            counters[m[1]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[2])}
    return counters
