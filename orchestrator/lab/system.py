"""Small Linux helpers for the lab: preconditions, processes, mounts, locks and atomic files.

Everything here is defensive on purpose: the lab must come up cleanly after a crash, so pid files
are checked against the process start time (pids get reused) and nothing is removed while
something is still mounted beneath it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import OrchError

# Root's tools live in sbin, which a non-login shell or `sudo` may leave off PATH.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Tool -> the Debian package that provides it, for the error message.
TOOL_PACKAGES = {
    "debootstrap": "debootstrap",
    "unshare": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "chroot": "coreutils",
    "pivot_root": "util-linux",
    "rm": "coreutils",
    "sh": "dash",
}


class LabError(OrchError):
    """The lab cannot do what was asked (not root, missing tool, host did not come up...)."""


class AddressInUseError(LabError):
    """A lab address is already served by something this lab did not start."""


def require_root_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise LabError(
            f"orch lab needs root on Linux: this is {sys.platform}; the lab uses overlayfs and "
            "Linux namespaces, run it on a Linux machine or VM"
        )
    if os.geteuid() != 0:
        raise LabError(
            "orch lab needs root on Linux: it mounts overlayfs and creates namespaces; "
            "run it as root (for example `sudo orch lab ...`)"
        )


def find_tool(name: str) -> str:
    """Absolute path of a system tool, or a LabError naming the apt package that provides it."""
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")
    if path is None:
        package = TOOL_PACKAGES.get(name, name)
        raise LabError(f"orch lab needs `{name}`, which is not installed: apt-get install {package}")
    return path


def require_tools(names: Iterable[str]) -> dict[str, str]:
    """Check all tools at once so the message lists everything that is missing."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        try:
            found[name] = find_tool(name)
        except LabError:
            missing.append(name)
    if missing:
        packages = sorted({TOOL_PACKAGES.get(n, n) for n in missing})
        raise LabError(
            f"orch lab needs {', '.join(missing)}, not installed here: apt-get install {' '.join(packages)}"
        )
    return found


def system_env() -> dict[str, str]:
    """A minimal environment for processes started in a host, so the caller's env does not leak in."""
    return {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}


# ---- processes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    start_time: int  # clock ticks since boot; with the pid it identifies a process uniquely


def proc_stat(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: the fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


def is_alive(pid: int, start_time: int | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, when given, started at `start_time` (not a reused pid)."""
    stat = proc_stat(pid)
    if stat is None or stat.state in ("Z", "X"):
        return False
    return start_time is None or stat.start_time == start_time


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    # Kernels without CONFIG_PROC_CHILDREN: scan.
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat.ppid == pid:
                found.append(stat.pid)
    return found


def reap(pid: int) -> None:
    """Collect `pid` if it is our child and has exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# ---- mounts ------------------------------------------------------------------------------------


def _unescape_mount_path(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in our mount namespace, deepest first."""
    base = str(path.resolve()) if path.exists() else str(path.absolute())
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = _unescape_mount_path(line.split()[4])
            if point == base or point.startswith(base.rstrip("/") + "/"):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def unmount_under(path: Path) -> None:
    """Lazily unmount everything at or below `path` (stale mounts from a crashed run)."""
    points = mounts_under(path)
    if not points:
        return
    umount = find_tool("umount")
    for point in points:
        subprocess.run([umount, "-l", point], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    left = mounts_under(path)
    if left:
        raise LabError(f"cannot unmount {', '.join(left)}; unmount them by hand and retry")


def remove_tree(path: Path) -> None:
    """rm -rf that never follows a mount into another filesystem (a bind of /dev, say)."""
    if not path.exists() and not path.is_symlink():
        return
    unmount_under(path)
    result = subprocess.run(
        [find_tool("rm"), "-rf", "--one-file-system", "--", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or path.exists():
        raise LabError(f"cannot remove {path}: {result.stderr.strip() or 'unknown error'}")


# ---- files and locks ---------------------------------------------------------------------------


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write via a temporary file in the same directory and rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path`: serialises lab changes between processes (CLI, test sessions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Take an exclusive flock without waiting; returns the fd that holds it, or None if busy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


# ---- TCP listeners -----------------------------------------------------------------------------


def _hex_addr(address: str, port: int) -> str:
    # /proc/net/tcp shows IPv4 addresses as the little-endian hex of the 32-bit value.
    octets = [int(o) for o in address.split(".")]
    return "".join(f"{o:02X}" for o in reversed(octets)) + f":{port:04X}"


def tcp_listeners() -> dict[str, int]:
    """Listening IPv4 sockets: "HEXADDR:PORT" -> socket inode. Reading this makes no connection,
    so sshd logs stay free of probe noise."""
    found: dict[str, int] = {}
    try:
        with open("/proc/net/tcp") as handle:
            next(handle)
            for line in handle:
                parts = line.split()
                if parts[3] == "0A":  # TCP_LISTEN
                    found[parts[1]] = int(parts[9])
    except OSError:
        pass
    return found


def is_listening(address: str, port: int, listeners: dict[str, int] | None = None) -> bool:
    return _hex_addr(address, port) in (tcp_listeners() if listeners is None else listeners)


def listener_owner(address: str, port: int) -> str:
    """Describe the process that listens on address:port, for an 'already in use' message."""
    inode = tcp_listeners().get(_hex_addr(address, port))
    if inode is None:
        return "an unknown process"
    target = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        return f"pid {entry.name} ({cmd.strip()[:120]})"
    return "an unknown process"
