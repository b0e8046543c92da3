"""A local fleet of real, throwaway Debian servers for trying playbooks and for orch's own tests.

Each host h<i> is the shared Debian image (see rootfs.py) seen through its own overlayfs, in its
own mount, PID and UTS namespaces, pivot_root'ed into it, running the image's real OpenSSH server on
<net>.<10+i>:22. The whole 127.0.0.0/8 range is loopback, so no network setup is needed and
nothing leaves the machine. What a run changed on a host is exactly its overlay upper directory.

Every mount a host needs (the overlay, /proc, /dev, /sys, a tmpfs /run) is made inside the host's
own mount namespace, so it vanishes with the host: a crash or a SIGKILL never leaves mounts
behind, and killing the namespace's init takes every process of the host with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.lab import power
from orchestrator.lab import rootfs as image
from orchestrator.lab.system import (
    AddressInUseError,
    LabError,
    children,
    is_alive,
    is_listening,
    listener_owner,
    locked,
    proc_stat,
    reap,
    remove_tree,
    require_root_linux,
    require_tools,
    system_env,
    tail,
    tcp_listeners,
    unmount_under,
    write_atomic,
)

DEFAULT_STATE_DIR = "/var/tmp/orch-lab"
DEFAULT_NET = "127.0.2"
DEFAULT_INVENTORY = Path("inventories/lab/hosts.yml")
SSH_PORT = 22
MAX_HOSTS = 245  # addresses <net>.11 .. <net>.255
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# Runs in the host's fresh namespaces (still on the machine's filesystem) and ends as sshd, which
# becomes the namespace's PID 1. Arguments come positionally, so no path is ever re-quoted.
_HOST_INIT = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4 name=$5 addr=$6 apt_cache=$7 no_python=$8 power=${9:-}
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
# /run is a tmpfs on a real server: stale pid files never survive a restart.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mkdir -m 0755 "$root/run/sshd"
mkdir -m 1777 "$root/run/lock"
if [ -n "$apt_cache" ]; then mount --bind "$apt_cache" "$root/var/cache/apt/archives"; fi
if [ "$no_python" = 1 ]; then rm -f "$root"/usr/bin/python3*; fi
# reboot/shutdown for a host without init (see power.py), read-only, first on root's PATH.
if [ -n "$power" ]; then mount --bind "$power" "$root/usr/local/sbin"; mount -o remount,bind,ro "$root/usr/local/sbin"; fi
# As at boot: the name in /etc/hostname (a playbook may have changed it), else hN.
hn=$(head -n 1 "$root/etc/hostname" 2>/dev/null || true)
echo "${hn:-$name}" > /proc/sys/kernel/hostname
# Daemons in a host (dockerd) want many files; go as high as the hard limit allows.
ulimit -n "$(ulimit -H -n)" 2>/dev/null || true
# Enter the root with pivot_root, not chroot: the host's root must be its mount namespace's root
# mount, because runc's `docker exec` joins a container's mount namespace with setns(), which
# lands at that namespace's root mount (under chroot: the machine's /, and exec fails).
# The old root goes to a directory on the host's tmpfs /run and is detached at once.
mkdir -m 0700 "$root/run/.oldroot"
cd "$root"
pivot_root . run/.oldroot
cd /
umount -l /run/.oldroot
rmdir /run/.oldroot
exec /usr/sbin/sshd -D -e -o ListenAddress="$addr" -o MaxStartups=200 \
  -o MaxSessions=64 -o UseDNS=no \
  -o HostKey=/etc/ssh/ssh_host_ed25519_key -o HostKey=/etc/ssh/ssh_host_ecdsa_key
"""


@dataclass(frozen=True)
class LabHost:
    """One lab host as `status()` sees it."""

    name: str  # h1, h2, ...
    address: str  # <net>.<10+i>
    running: bool
    port: int = SSH_PORT

    @property
    def index(self) -> int:
        return int(self.name[1:])


@dataclass(frozen=True)
class HostOptions:
    """How a host was created; kept so revive() and reset() bring back the same kind of host."""

    no_python: bool = False
    shared_apt: bool = False


class LabFleet:
    """Start, stop and inspect the lab hosts kept under `state_dir`.

    `image_dir` (default: `state_dir`) holds the Debian rootfs and the login key; several fleets
    (for example parallel test sessions, each on its own net) can share one image.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        net: str | None = None,
        *,
        image_dir: str | os.PathLike[str] | None = None,
        mirror: str | None = None,
        progress: Callable[[str], None] | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.state_dir = Path(state_dir or os.environ.get("ORCH_LAB_DIR") or DEFAULT_STATE_DIR).absolute()
        self.net = _check_net(net or os.environ.get("ORCH_LAB_NET") or DEFAULT_NET)
        # A fleet sharing another directory's image says so in its state dir, so `orch lab
        # --state-dir D revive 2` finds that image instead of building one in D.
        image_file = self.state_dir / "image-dir"
        if image_dir is None and image_file.is_file():
            image_dir = image_file.read_text().strip()
        self.image_dir = Path(image_dir).absolute() if image_dir else self.state_dir
        self.mirror = mirror
        self.progress = progress
        self.start_timeout = start_timeout
        # Hosts this object started: waited for after a kill so they do not stay zombies.
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._tools: dict[str, str] = {}

    # ---- paths ---------------------------------------------------------------------------------

    @property
    def rootfs_dir(self) -> Path:
        return self.image_dir / "rootfs"

    @property
    def key_path(self) -> Path:
        """The private key that logs in as root, deploy and ops on every host."""
        return self.image_dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        """An OpenSSH known_hosts file with every host's real host keys (kept up to date by up())."""
        return self.state_dir / "known_hosts"

    @property
    def hosts_dir(self) -> Path:
        return self.state_dir / "hosts"

    def address(self, i: int) -> str:
        _check_index(i)
        return f"{self.net}.{10 + i}"

    def host_dir(self, i: int) -> Path:
        _check_index(i)
        return self.hosts_dir / f"h{i}"

    def upper_dir(self, i: int) -> Path:
        """The overlay upper directory of host i: every file the host created or changed."""
        return self.host_dir(i) / "up"

    def log_path(self, i: int) -> Path:
        return self.host_dir(i) / "sshd.log"

    def _pid_file(self, i: int) -> Path:
        return self.host_dir(i) / "pid"

    def _lock(self) -> AbstractContextManager[None]:
        return locked(self.state_dir / ".lock")

    # ---- queries -------------------------------------------------------------------------------

    def indices(self) -> list[int]:
        """Hosts that exist in the state dir (running or not), in order."""
        if not self.hosts_dir.is_dir():
            return []
        found = []
        for entry in self.hosts_dir.iterdir():
            if (
                entry.name.startswith("h")
                and entry.name[1:].isdigit()
                and 1 <= int(entry.name[1:]) <= MAX_HOSTS
            ):
                found.append(int(entry.name[1:]))
        return sorted(found)

    def is_running(self, i: int) -> bool:
        pid = self._read_pid(i)
        return pid is not None and is_alive(*pid)

    def status(self) -> list[LabHost]:
        return [self._host(i) for i in self.indices()]

    def _host(self, i: int) -> LabHost:
        return LabHost(name=f"h{i}", address=self.address(i), running=self.is_running(i))

    def _read_pid(self, i: int) -> tuple[int, int] | None:
        try:
            pid, start = self._pid_file(i).read_text().split()
            return int(pid), int(start)
        except (OSError, ValueError):
            return None

    def _options(self, i: int) -> HostOptions:
        try:
            data = json.loads((self.host_dir(i) / "options.json").read_text())
            return HostOptions(no_python=bool(data.get("no_python")), shared_apt=bool(data.get("shared_apt")))
        except (OSError, ValueError):
            return HostOptions()

    # ---- image ---------------------------------------------------------------------------------

    def build_rootfs(self) -> Path:
        """Build the Debian image once (1-2 minutes); later calls return at once."""
        return image.build_rootfs(self.image_dir, mirror=self.mirror, progress=self.progress)

    # ---- lifecycle -----------------------------------------------------------------------------

    def up(self, n: int, *, no_python: bool = False, shared_apt: bool = False) -> list[LabHost]:
        """Make hosts h1..hN run. Hosts already running are left alone (options apply to the ones
        started now); a stopped host comes back with its state. Returns h1..hN."""
        if not 1 <= n <= MAX_HOSTS:
            raise LabError(f"the lab holds 1 to {MAX_HOSTS} hosts; asked for {n}")
        self._preflight()
        self.build_rootfs()
        if self.image_dir != self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.state_dir / "image-dir", f"{self.image_dir}\n")
        options = HostOptions(no_python=no_python, shared_apt=shared_apt)
        with self._lock():
            todo = [i for i in range(1, n + 1) if not self.is_running(i)]
            self._start(todo, {i: options for i in todo})
        return [self._host(i) for i in range(1, n + 1)]

    def down(self) -> None:
        """Stop every host and remove its state. The image, login key and host keys stay."""
        if not self.hosts_dir.exists():
            return
        require_root_linux()
        with self._lock():
            self._stop(self.indices())
            remove_tree(self.hosts_dir)

    def kill(self, i: int) -> None:
        """Stop host i abruptly (SIGKILL to its whole namespace), keeping its files: a dead server."""
        self._require_host(i)
        require_root_linux()
        with self._lock():
            self._stop([i])

    def stop(self, i: int) -> None:
        """Freeze host i: SIGSTOP every process of it. Its TCP stack still answers (the kernel
        ACKs), nothing replies: a frozen VM or a server hung on a dead NFS mount."""
        self._signal_tree(i, signal.SIGSTOP)

    def cont(self, i: int) -> None:
        """Thaw a host frozen with stop()."""
        self._signal_tree(i, signal.SIGCONT)

    def _signal_tree(self, i: int, sig: signal.Signals) -> None:
        self._require_host(i)
        require_root_linux()
        pid = self._read_pid(i)
        if pid is None or not is_alive(*pid):
            raise LabError(f"h{i} is not running")
        done: set[int] = set()
        # Walk until a pass finds nothing new: a process may fork while the walk goes on.
        while True:
            todo = [pid[0]]
            found = False
            while todo:
                current = todo.pop()
                if current not in done:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(current, sig)
                    done.add(current)
                    found = True
                todo.extend(children(current))
            if not found:
                return

    def revive(self, i: int) -> LabHost:
        """Start a killed host again with the files it had (like a reboot)."""
        self._require_host(i)
        self._preflight()
        self.build_rootfs()
        with self._lock():
            if not self.is_running(i):
                self._start([i], {i: self._options(i)})
        return self._host(i)

    def reset(self, i: int) -> LabHost:
        """Stop host i, forget everything it changed and start it fresh."""
        return self._reset([i])[0]

    def reset_all(self) -> list[LabHost]:
        """reset() every host of the fleet, in one batch (fast: stop all, wipe all, start all)."""
        return self._reset(self.indices())

    def _reset(self, indices: list[int]) -> list[LabHost]:
        for i in indices:
            self._require_host(i)
        self._preflight()
        self.build_rootfs()
        with self._lock():
            self._stop(indices)
            options = {i: self._options(i) for i in indices}
            for i in indices:
                for part in ("up", "work"):
                    remove_tree(self.host_dir(i) / part)
                (self.host_dir(i) / ".initialized").unlink(missing_ok=True)
            self._start(indices, options)
        return [self._host(i) for i in indices]

    def _require_host(self, i: int) -> None:
        if not self.host_dir(i).is_dir():
            raise LabError(
                f"h{i} is not part of the lab in {self.state_dir} (start it with `orch lab up {i}`)"
            )

    def _preflight(self) -> None:
        require_root_linux()
        self._tools = require_tools(["unshare", "mount", "umount", "pivot_root", "sh"])

    # ---- start / stop --------------------------------------------------------------------------

    def _start(self, indices: list[int], options: dict[int, HostOptions]) -> None:
        """Start all, then wait for all: startup costs are paid in parallel."""
        if not indices:
            return
        listeners = tcp_listeners()
        for i in indices:
            if is_listening(self.address(i), SSH_PORT, listeners):
                raise AddressInUseError(
                    f"{self.address(i)}:{SSH_PORT} is already served by "
                    f"{listener_owner(self.address(i), SSH_PORT)}, not by lab host h{i} of {self.state_dir}; "
                    "is another lab using the same net? (choose another with ORCH_LAB_NET)"
                )
        apt_cache = ""
        if any(options[i].shared_apt for i in indices):
            apt_cache = str(image.ensure_apt_cache(self.image_dir, self.rootfs_dir))
        started: dict[int, subprocess.Popen[bytes]] = {}
        try:
            for i in indices:
                started[i] = self._spawn(i, options[i], apt_cache if options[i].shared_apt else "")
            self._write_known_hosts()
            self._wait_listening(started)
        except BaseException:
            self._stop(list(started))
            raise

    def _spawn(self, i: int, options: HostOptions, apt_cache: str) -> subprocess.Popen[bytes]:
        hd = self.host_dir(i)
        for part in ("up", "work", "root"):
            (hd / part).mkdir(parents=True, exist_ok=True)
        # Mounts live in the host's own namespace, but a stale one here (an older tool, a crash
        # during a manual experiment) would hide the new overlay: clear it first.
        unmount_under(hd)
        for path in (self.rootfs_dir, hd):
            if "," in str(path) or ":" in str(path):
                raise LabError(f"overlayfs cannot take a path with ',' or ':': {path}")
        write_atomic(hd / "options.json", json.dumps(dataclasses.asdict(options)) + "\n")
        self._prepare_upper(i)

        log = open(self.log_path(i), "ab")  # noqa: SIM115 - handed to the child, closed below
        log.write(f"--- orch lab: starting h{i} at {time.ctime()}\n".encode())
        log.flush()
        argv = [
            # A supervisor loop starts the host again when it reboots itself (see power.py).
            self._tools["sh"],
            "-c",
            power.SUPERVISE,
            f"h{i}",
            self._tools["unshare"],
            "--mount",
            "--pid",
            "--uts",
            "--fork",
            "--kill-child",  # if unshare dies, the host's init dies, and with it every process in the host
            "--propagation",
            "private",
            self._tools["sh"],
            "-c",
            _HOST_INIT,
            f"orch-lab-h{i}",
            str(hd / "root"),
            str(self.rootfs_dir),
            str(hd / "up"),
            str(hd / "work"),
            f"h{i}",
            self.address(i),
            apt_cache,
            "1" if options.no_python else "0",
            str(power.ensure_power_commands(self.state_dir / "power")),
        ]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=system_env(),
                start_new_session=True,  # its own process group: one killpg stops it all
                close_fds=True,
            )
        finally:
            log.close()
        stat = proc_stat(proc.pid)
        write_atomic(self._pid_file(i), f"{proc.pid} {stat.start_time if stat else 0}\n")
        self._procs[i] = proc
        return proc

    def _prepare_upper(self, i: int) -> None:
        """Write the host's identity into its upper dir before the overlay is mounted."""
        up = self.upper_dir(i)
        marker = self.host_dir(i) / ".initialized"
        if not marker.exists():
            # First start only: later starts keep whatever a playbook made of these files.
            _ensure_dirs(up, self.rootfs_dir, "etc")
            write_atomic(up / "etc/hostname", f"h{i}\n")
            write_atomic(
                up / "etc/hosts",
                f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{self.address(i)}\th{i}\n",
            )
            with contextlib.suppress(OSError):  # no resolver on the machine: the image's copy stays
                write_atomic(up / "etc/resolv.conf", Path("/etc/resolv.conf").read_bytes())
            marker.touch()
        # Host keys on every start: they are the host's identity and must not drift.
        _ensure_dirs(up, self.rootfs_dir, "etc/ssh")
        for private, public in image.ensure_host_keys(
            self.state_dir / "hostkeys" / f"h{i}", f"h{i}"
        ).values():
            write_atomic(up / "etc/ssh" / private.name, private.read_bytes(), 0o600)
            write_atomic(up / "etc/ssh" / public.name, public.read_bytes(), 0o644)

    def _wait_listening(self, procs: dict[int, subprocess.Popen[bytes]]) -> None:
        pending = dict(procs)
        deadline = time.monotonic() + self.start_timeout
        delay = 0.005
        while pending:
            listeners = tcp_listeners()
            for i, proc in list(pending.items()):
                if is_listening(self.address(i), SSH_PORT, listeners):
                    del pending[i]
                elif proc.poll() is not None:
                    raise LabError(
                        f"lab host h{i} ({self.address(i)}) stopped while starting (exit {proc.returncode}); "
                        f"its log {self.log_path(i)} ends with:\n{tail(self.log_path(i))}"
                    )
            if not pending:
                return
            if time.monotonic() > deadline:
                i = min(pending)
                raise LabError(
                    f"lab host h{i} ({self.address(i)}:{SSH_PORT}) did not answer within "
                    f"{self.start_timeout:.0f}s; its log {self.log_path(i)} ends with:\n{tail(self.log_path(i))}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _stop(self, indices: Iterable[int]) -> None:
        """SIGKILL each host's process group and namespace init, then wait until they are gone."""
        waiting: list[tuple[int, int, int | None]] = []  # (host, pid, start time or None)
        for i in indices:
            pid = self._read_pid(i)
            if pid is not None and is_alive(*pid):
                unshare_pid, start = pid
                inits = children(unshare_pid)
                # Under the supervisor: unshare, then the namespace's init (waited for below).
                inits += [grandchild for child in list(inits) for grandchild in children(child)]
                stat = proc_stat(unshare_pid)
                # Only signal the group if the process still leads it (it did setsid at start).
                _kill(unshare_pid, group=stat is not None and stat.pgrp == unshare_pid)
                for child in inits:
                    _kill(child)
                waiting.append((i, unshare_pid, start))
                waiting.extend((i, child, None) for child in inits)
            self._pid_file(i).unlink(missing_ok=True)
        deadline = time.monotonic() + STOP_TIMEOUT
        for i, waited_pid, waited_start in waiting:
            # The namespace's init exits only after every process of the host has: once it is
            # gone (or a zombie), the host's mounts are gone too.
            while is_alive(waited_pid, waited_start):
                proc = self._procs.get(i)
                if proc is not None and proc.pid == waited_pid:
                    proc.poll()
                else:
                    reap(waited_pid)
                if time.monotonic() > deadline:
                    raise LabError(f"lab host h{i}: process {waited_pid} did not exit after SIGKILL")
                time.sleep(0.005)
        for i in {w[0] for w in waiting}:
            proc = self._procs.pop(i, None)
            if proc is not None:
                proc.poll()
        for i in indices:
            if self.host_dir(i).exists():
                unmount_under(self.host_dir(i))

    # ---- client-side files ---------------------------------------------------------------------

    def _write_known_hosts(self) -> None:
        lines = []
        for i in self.indices():
            key_dir = self.state_dir / "hostkeys" / f"h{i}"
            for kind in image.HOST_KEY_TYPES:
                pub = key_dir / f"ssh_host_{kind}_key.pub"
                if pub.is_file():
                    keytype, blob = pub.read_text().split()[:2]
                    lines.append(f"{self.address(i)} {keytype} {blob}\n")
        write_atomic(self.known_hosts_path, "".join(lines), 0o644)

    def inventory(self) -> dict[str, Any]:
        """The inventory of the running hosts as data (what write_inventory() writes)."""
        hosts = {h.name: {"ansible_host": h.address} for h in self.status() if h.running}
        return {
            "all": {
                "children": {
                    "lab": {
                        "hosts": hosts,
                        "vars": {
                            "ansible_user": "root",
                            "ansible_ssh_private_key_file": str(self.key_path),
                            # The hosts' real keys, so strict host key checking works out of the box.
                            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts_path}",
                        },
                    }
                }
            }
        }

    def write_inventory(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write a YAML inventory (group `lab`) of the running hosts; default inventories/lab/hosts.yml."""
        target = Path(path) if path is not None else DEFAULT_INVENTORY
        header = (
            f"# Written by `orch lab` for the lab in {self.state_dir}; rewritten by `orch lab up` and\n"
            "# `orch lab inventory`. Logins: root, deploy (passwordless sudo), ops (sudo password ops-pass).\n"
        )
        body = yaml.safe_dump(self.inventory(), sort_keys=False, default_flow_style=False)
        write_atomic(target, header + body)
        return target


def _ensure_dirs(upper: Path, lower: Path, rel: str) -> None:
    """Create upper/rel with the owner and mode of lower/rel: an upper directory's attributes win
    in the merged view, so a root-owned 0700 copy would change the host."""
    current_upper, current_lower = upper, lower
    for part in Path(rel).parts:
        current_upper, current_lower = current_upper / part, current_lower / part
        if not current_upper.is_dir():
            current_upper.mkdir()
            st = current_lower.stat()
            os.chown(current_upper, st.st_uid, st.st_gid)
            current_upper.chmod(st.st_mode & 0o7777)


def _kill(pid: int, *, group: bool = False) -> None:
    try:
        if group:
            os.killpg(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _check_net(net: str) -> str:
    parts = net.split(".")
    if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise LabError(f"lab net must be the first three parts of an IPv4 address, like 127.0.2; got {net!r}")
    if parts[0] != "127":
        raise LabError(f"lab net must be on loopback (127.x.y) so nothing leaves the machine; got {net!r}")
    return net


def _check_index(i: int) -> None:
    if not 1 <= i <= MAX_HOSTS:
        raise LabError(f"lab hosts are numbered 1 to {MAX_HOSTS}; got {i}")
