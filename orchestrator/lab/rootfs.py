"""The lab's Debian image: one debootstrapped rootfs shared read-only by every host, plus SSH keys.

Building takes a minute or two and happens once. It runs into a temporary directory that is
renamed into place only when complete, so an interrupted build never leaves a half rootfs that a
later run would trust.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from orchestrator.lab.system import (
    LabError,
    locked,
    remove_tree,
    require_root_linux,
    require_tools,
    system_env,
    tail,
    write_atomic,
)

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "openssh-server",
    "python3",
    "sudo",
    "procps",
    "iproute2",
    "curl",
    "ca-certificates",
    "gnupg",
    "cron",
    "logrotate",
)
# Present only in a completed rootfs: it is written before the final rename.
MARKER = "etc/orch-lab-release"
USERS = {"root": "/root", "deploy": "/home/deploy", "ops": "/home/ops"}
OPS_PASSWORD = "ops-pass"
HOST_KEY_TYPES = ("ed25519", "ecdsa")

Progress = Callable[[str], None]
# apt settings that decide whether the mirror can be reached at all.
_REACH_MIRROR = re.compile(r"Acquire::\S*(Proxy|Check-Valid-Until|Check-Date)", re.IGNORECASE)


def is_ready(rootfs: Path) -> bool:
    return (rootfs / MARKER).is_file()


def machine_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 first, then the one-line format)."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.is_file():
        for line in deb822.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            words = line.split()
            if words[:1] == ["deb"]:
                # Skip an options block: deb [arch=amd64 signed-by=...] URI suite ...
                rest = words[1:]
                if rest and rest[0].startswith("["):
                    while rest and not rest[0].endswith("]"):
                        rest = rest[1:]
                    rest = rest[1:]
                if rest:
                    return rest[0]
    return DEFAULT_MIRROR


# ---- keys --------------------------------------------------------------------------------------


def _openssh_pair(
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, comment: str
) -> tuple[bytes, bytes]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public + f" {comment}\n".encode()


def ensure_user_key(key_path: Path) -> str:
    """The lab's login key (ed25519, no passphrase); made once. Returns the public key line."""
    pub_path = key_path.with_name(key_path.name + ".pub")
    if not key_path.is_file() or not pub_path.is_file():
        private, public = _openssh_pair(ed25519.Ed25519PrivateKey.generate(), "orch-lab")
        write_atomic(key_path, private, 0o600)
        write_atomic(pub_path, public, 0o644)
    return pub_path.read_text().strip()


def ensure_host_keys(key_dir: Path, host: str) -> dict[str, tuple[Path, Path]]:
    """A host's own SSH host keys, generated once and kept across down/up so clients that recorded
    them (known_hosts) keep trusting the host. Generated in-process: no ssh-keygen needed, and
    ed25519/ecdsa take microseconds, so the first start of 30 hosts stays fast."""
    keys: dict[str, tuple[Path, Path]] = {}
    for kind in HOST_KEY_TYPES:
        private_path = key_dir / f"ssh_host_{kind}_key"
        public_path = key_dir / f"ssh_host_{kind}_key.pub"
        if not private_path.is_file() or not public_path.is_file():
            key = (
                ed25519.Ed25519PrivateKey.generate()
                if kind == "ed25519"
                else ec.generate_private_key(ec.SECP256R1())
            )
            private, public = _openssh_pair(key, f"root@{host}")
            key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(private_path, private, 0o600)
            write_atomic(public_path, public, 0o644)
        keys[kind] = (private_path, public_path)
    return keys


# ---- build -------------------------------------------------------------------------------------


def _passwd_ids(rootfs: Path, user: str) -> tuple[int, int]:
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise LabError(f"user {user} missing from {rootfs}/etc/passwd")


class _Step:
    """Runs build commands with their output appended to the build log."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path

    def run(self, argv: list[str], *, input: str | None = None) -> None:
        with open(self.log_path, "a") as log:
            log.write(f"\n$ {' '.join(argv)}\n")
            log.flush()
            result = subprocess.run(
                argv,
                input=input,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=system_env(),
                check=False,
            )
        if result.returncode != 0:
            raise LabError(
                f"building the lab rootfs failed: `{' '.join(argv[:4])} ...` exited {result.returncode}; "
                f"full log: {self.log_path}\n{tail(self.log_path)}"
            )


def build_rootfs(image_dir: Path, *, mirror: str | None = None, progress: Progress | None = None) -> Path:
    """Build image_dir/rootfs once (idempotent, safe to call from several processes at once)."""
    rootfs = image_dir / "rootfs"
    key_path = image_dir / "id_ed25519"
    if is_ready(rootfs):
        _trust_key(rootfs, key_path)
        return rootfs
    require_root_linux()
    tools = require_tools(["debootstrap", "unshare", "chroot", "mount", "umount"])
    image_dir.mkdir(parents=True, exist_ok=True)
    with locked(image_dir / ".build.lock"):
        if is_ready(rootfs):  # another process finished it while we waited for the lock
            _trust_key(rootfs, key_path)
            return rootfs
        # Leftovers of an interrupted build: never trusted, removed (without crossing mounts).
        for stale in image_dir.glob("rootfs.tmp-*"):
            remove_tree(stale)
        remove_tree(rootfs)
        pubkey = ensure_user_key(key_path)
        mirror = mirror or os.environ.get("ORCH_LAB_MIRROR") or machine_mirror()
        log_path = image_dir / "build.log"
        log_path.write_text(f"orch lab: building {SUITE} rootfs from {mirror} at {time.ctime()}\n")
        if progress:
            progress(f"orch lab: building the Debian {SUITE} image (1-2 minutes, once); log: {log_path}")
        tmp = image_dir / f"rootfs.tmp-{os.getpid()}"
        step = _Step(log_path)
        try:
            # A private mount namespace: whatever debootstrap mounts inside the target (proc, sys,
            # a bind of /dev) disappears with it, even if it is killed half way.
            step.run(
                [
                    tools["unshare"],
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    tools["debootstrap"],
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    SUITE,
                    str(tmp),
                    mirror,
                ]
            )
            _customise(tmp, pubkey, tools["chroot"], step)
            write_atomic(tmp / MARKER, f"orch lab {SUITE} image, built {time.ctime()} from {mirror}\n")
            os.rename(tmp, rootfs)
        except BaseException:
            remove_tree(tmp)
            raise
        if progress:
            progress(f"orch lab: image ready at {rootfs}")
        return rootfs


def _customise(root: Path, pubkey: str, chroot: str, step: _Step) -> None:
    # apt inside a host uses the same mirror as this machine.
    apt = root / "etc/apt"
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.is_file():
        shutil.copy2(deb822, apt / "sources.list.d/debian.sources")
        (apt / "sources.list").unlink(missing_ok=True)  # debootstrap's one-liner would duplicate it
    elif Path("/etc/apt/sources.list").is_file():
        shutil.copy2("/etc/apt/sources.list", apt / "sources.list")
    # Acquire:: settings (proxy, snapshot mirrors without Valid-Until) are what let this machine's
    # apt reach its mirror; hosts need the same to run apt-get update.
    for conf in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        if conf.is_file() and _REACH_MIRROR.search(conf.read_text(errors="replace")):
            shutil.copy2(conf, apt / "apt.conf.d" / conf.name)
    # debootstrap leaves every .deb it fetched in the cache: 100+ MB nobody needs.
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()

    step.run([chroot, str(root), "useradd", "--create-home", "--shell", "/bin/bash", "deploy"])
    step.run([chroot, str(root), "useradd", "--create-home", "--shell", "/bin/bash", "ops"])
    step.run([chroot, str(root), "chpasswd"], input=f"ops:{OPS_PASSWORD}\n")
    write_atomic(root / "etc/sudoers.d/deploy", "deploy ALL=(ALL) NOPASSWD:ALL\n", 0o440)
    write_atomic(root / "etc/sudoers.d/ops", "ops ALL=(ALL) ALL\n", 0o440)

    # Each host gets its own host keys when it starts; none are shared through the image.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()

    for user, home in USERS.items():
        uid, gid = _passwd_ids(root, user)
        ssh_dir = root / home.lstrip("/") / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(ssh_dir / "authorized_keys", pubkey + "\n", 0o600)
        for path in (ssh_dir, ssh_dir / "authorized_keys"):
            os.chown(path, uid, gid)


def _trust_key(rootfs: Path, key_path: Path) -> None:
    """Make sure the image trusts the login key we hand out. If the key file was deleted, a new one
    is made and written into the image's authorized_keys (the old private key is gone anyway)."""
    pubkey = ensure_user_key(key_path)
    wanted = " ".join(pubkey.split()[:2])
    stale = []
    for user, home in USERS.items():
        path = rootfs / home.lstrip("/") / ".ssh/authorized_keys"
        try:
            if wanted not in path.read_text():
                stale.append((user, path))
        except OSError:
            stale.append((user, path))
    if not stale:
        return
    require_root_linux()
    for user, path in stale:
        uid, gid = _passwd_ids(rootfs, user)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, pubkey + "\n", 0o600)
        os.chown(path.parent, uid, gid)
        os.chown(path, uid, gid)


def ensure_apt_cache(image_dir: Path, rootfs: Path) -> Path:
    """The shared apt archive for --shared-apt hosts; partial/ belongs to _apt like on a real host."""
    cache = image_dir / "apt-archives"
    partial = cache / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    try:
        uid, _ = _passwd_ids(rootfs, "_apt")
        os.chown(partial, uid, 0)
        partial.chmod(0o700)
    except LabError:
        pass  # no _apt user: apt downloads as root, with a warning
    return cache
