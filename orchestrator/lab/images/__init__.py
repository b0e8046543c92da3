"""Docker images for the lab, built offline from Debian's packages (no registry is reachable).

    build_image("postgres", "15")           -> ~/.cache/orch/lab-images/orch-lab_postgres_15.tar
    orch lab image postgres:15 [--out DIR]  (the same, from the command line; prints the path)
    build_bundle([("postgres", "15"), ("redis", "7")])  several images in one tarball
    orch lab image postgres:15 redis:7      (the same)

Every image is `orch-lab/<name>:<version>` and has the same two layers, so a host that loaded one
loads the others almost for free:
  1. Debian bookworm (debootstrap minbase) with PostgreSQL 15, Redis, nginx and python3 from
     Debian's packages: built once (2-3 minutes), cached as a gzipped layer keyed by its recipe;
  2. orch's entrypoints and the stand-in app server (files/ and standin.py beside this file).
Images differ only in their config (entrypoint, command, environment, ports, volumes,
healthcheck), so an image tarball is written in a second. The format is docker-archive, what
`docker load` and community.docker.docker_image (source: load) read. docs/lab-images.md documents
each image; keep it in step with IMAGES below.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.lab.images.standin import APPS
from orchestrator.lab.rootfs import SUITE, machine_mirror
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

REPOSITORY = "orch-lab"
CACHE_ENV = "ORCH_LAB_IMAGE_CACHE"
DEFAULT_CACHE = Path("~/.cache/orch/lab-images")
HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

# Layer 1's inputs: change any of them (or RECIPE, when the steps in _build_base change) and the
# base is built again.
BASE_PACKAGES = ("postgresql-15", "postgresql-client-15", "redis-server", "redis-tools", "nginx", "python3")
RECIPE = 2
PG_BIN = "/usr/lib/postgresql/15/bin"
PATH = f"/usr/local/sbin:/usr/local/bin:{PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin"
CREATED = "2000-01-01T00:00:00Z"
EPOCH = 946684800  # fixed timestamps: the same inputs give the same image ID
SECOND = 1_000_000_000  # Docker healthcheck durations are in nanoseconds

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageSpec:
    """What distinguishes one lab image from another: only its config (the layers are shared)."""

    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()
    volumes: tuple[str, ...] = ()
    healthcheck: list[str] | None = None
    start_period: int = 0  # seconds of start-up during which failed checks do not count
    stop_signal: str | None = None
    working_dir: str | None = None


IMAGES: dict[str, ImageSpec] = {
    "postgres": ImageSpec(
        entrypoint=["/usr/local/bin/postgres-entrypoint"],
        cmd=["postgres"],
        env={"PGDATA": "/var/lib/postgresql/data"},
        ports=(5432,),
        volumes=("/var/lib/postgresql/data",),
        # As POSTGRES_USER into POSTGRES_DB: a probe as a role or database that does not exist
        # would log a FATAL every 2 seconds.
        healthcheck=[
            "CMD-SHELL",
            'pg_isready -q -p "${PGPORT:-${PORT:-5432}}" -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"',
        ],
        start_period=60,  # initdb on the first start
        stop_signal="SIGINT",  # PostgreSQL's fast shutdown, as the official image
    ),
    "redis": ImageSpec(
        entrypoint=["/usr/local/bin/redis-entrypoint"],
        cmd=["redis-server"],
        ports=(6379,),
        volumes=("/data",),
        healthcheck=["CMD", "redis-cli", "ping"],
        working_dir="/data",
    ),
    "nginx": ImageSpec(
        entrypoint=["/usr/local/bin/nginx-entrypoint"],
        cmd=["nginx", "-g", "daemon off;"],
        ports=(80,),
        stop_signal="SIGQUIT",  # graceful: finish the requests in flight, as the official image
    ),
}
for _app, _services in APPS.items():
    for _service, (_port, _routes) in _services.items():
        IMAGES[f"{_app}-{_service}"] = ImageSpec(
            entrypoint=["/usr/local/bin/orch-standin"],
            cmd=["serve"],
            env={"APP_NAME": _app, "APP_SERVICE": _service, "PORT": str(_port)},
            ports=(_port,),
            healthcheck=["CMD", "orch-standin", "check"],
        )

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def parse_ref(ref: str) -> tuple[str, str]:
    """`postgres:15` or `orch-lab/postgres:15` -> ("postgres", "15"), checked against IMAGES."""
    name, sep, version = ref.rpartition(":")
    if not sep or not name:
        raise LabError(f"lab image reference {ref!r} needs a version: NAME:VERSION, like postgres:15")
    name = name.removeprefix(f"{REPOSITORY}/")
    _check(name, version)
    return name, version


def _check(name: str, version: str) -> None:
    if name not in IMAGES:
        raise LabError(f"no lab image {name!r}; known: {', '.join(sorted(IMAGES))}")
    if not _TAG.fullmatch(version):
        raise LabError(f"{version!r} is not a valid image tag (letters, digits, _ . -; up to 128)")


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser().absolute()


def build_image(
    name: str,
    version: str,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write `orch-lab/<name>:<version>` as a docker-archive tarball in out_dir (default: the
    cache) and return its path. Idempotent: an up-to-date tarball is left as it is."""
    _check(name, version)
    out = _out_dir(out_dir)
    return _write_archive(out / f"{REPOSITORY}_{name}_{version}.tar", [(name, version)], mirror, progress)


def build_bundle(
    refs: Sequence[tuple[str, str]],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Several images in ONE tarball (the shared layers once): one `docker load` for a whole
    stack, instead of the same 80 MB once per image. Named after its contents; idempotent."""
    images = sorted(set(refs))
    for name, version in images:
        _check(name, version)
    if len(images) == 1:
        return build_image(*images[0], out_dir, mirror=mirror, progress=progress)
    key = hashlib.sha256(json.dumps(images).encode()).hexdigest()[:12]
    path = _out_dir(out_dir) / f"{REPOSITORY}_bundle-{len(images)}_{key}.tar"
    return _write_archive(path, images, mirror, progress)


def _out_dir(out_dir: str | os.PathLike[str] | None) -> Path:
    out = Path(out_dir).absolute() if out_dir is not None else cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_archive(
    path: Path, images: Sequence[tuple[str, str]], mirror: str | None, progress: Progress | None
) -> Path:
    base = _base_layer(cache_dir(), mirror=mirror, progress=progress)
    files = _files_layer()
    files_id = hashlib.sha256(files).hexdigest()
    layers = [f"{base.diff_id}/layer.tar", f"{files_id}/layer.tar"]
    configs: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for name, version in images:
        config = _config(name, version, IMAGES[name], [base.diff_id, files_id])
        image_id = hashlib.sha256(config).hexdigest()
        configs[image_id] = config
        entries.append(
            {"Config": f"{image_id}.json", "RepoTags": [f"{REPOSITORY}/{name}:{version}"], "Layers": layers}
        )
        repositories.setdefault(f"{REPOSITORY}/{name}", {})[version] = files_id
    manifest = json.dumps(entries).encode()
    if _manifest_of(path) == manifest:
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar,
        ):
            # manifest.json first, so _manifest_of() reads it without scanning the layers.
            _add(tar, "manifest.json", manifest)
            for image_id, config in configs.items():
                _add(tar, f"{image_id}.json", config)
            _add(tar, "repositories", json.dumps(repositories).encode())
            for layer_id in (base.diff_id, files_id):
                _add(tar, layer_id, None)
                _add(tar, f"{layer_id}/VERSION", b"1.0")
            with open(base.path, "rb") as layer:
                _add(tar, f"{base.diff_id}/layer.tar", layer, size=base.path.stat().st_size)
            _add(tar, f"{files_id}/layer.tar", files)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _manifest_of(path: Path) -> bytes | None:
    try:
        with tarfile.open(path, mode="r:") as tar:
            first = tar.next()
            if first is None or first.name != "manifest.json":
                return None
            member = tar.extractfile(first)
            return member.read() if member else None
    except (OSError, tarfile.TarError):
        return None


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | io.BufferedReader | None,
    *,
    size: int = 0,
    mode: int | None = None,
) -> None:
    """Add a file (data) or a directory (data None), owned by root, with a fixed mtime."""
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "root", "root"
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755 if mode is None else mode
        tar.addfile(info)
        return
    info.mode = 0o644 if mode is None else mode
    if isinstance(data, bytes):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.size = size
        tar.addfile(info, data)


def _config(name: str, version: str, spec: ImageSpec, diff_ids: list[str]) -> bytes:
    env = {"PATH": PATH, "LANG": "C.UTF-8", **spec.env}
    if "APP_NAME" in env:  # a stand-in reports the version it was tagged with
        env["APP_VERSION"] = version
    inner: dict[str, Any] = {
        "Entrypoint": spec.entrypoint,
        "Cmd": spec.cmd,
        "Env": [f"{key}={value}" for key, value in env.items()],
        "ExposedPorts": {f"{port}/tcp": {} for port in spec.ports},
        "Labels": {
            "org.opencontainers.image.title": f"{REPOSITORY}/{name}",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.description": f"orch lab image {name} (docs/lab-images.md)",
        },
    }
    if spec.volumes:
        inner["Volumes"] = {volume: {} for volume in spec.volumes}
    if spec.healthcheck:
        # Checked every 2s so a deploy sees `healthy` (or a broken version `unhealthy`) quickly.
        inner["Healthcheck"] = {
            "Test": spec.healthcheck,
            "Interval": 2 * SECOND,
            "Timeout": 5 * SECOND,
            "StartPeriod": spec.start_period * SECOND,
            "Retries": 3,
        }
    if spec.stop_signal:
        inner["StopSignal"] = spec.stop_signal
    if spec.working_dir:
        inner["WorkingDir"] = spec.working_dir
    config = {
        "architecture": _arch(),
        "os": "linux",
        "created": CREATED,
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [
            {"created": CREATED, "created_by": f"debootstrap {SUITE} + {' '.join(BASE_PACKAGES)}"},
            {"created": CREATED, "created_by": "orch lab images: entrypoints and stand-in server"},
        ],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


# ---- layer 2: orch's files ---------------------------------------------------------------------


def _files_layer() -> bytes:
    members: list[tuple[str, bytes | None, int]] = [
        ("data", None, 0o755),
        ("docker-entrypoint-initdb.d", None, 0o755),
        ("etc", None, 0o755),
        ("etc/nginx", None, 0o755),
        ("etc/nginx/conf.d", None, 0o755),
        ("etc/nginx/nginx.conf", (FILES / "nginx.conf").read_bytes(), 0o644),
        ("usr", None, 0o755),
        ("usr/local", None, 0o755),
        ("usr/local/bin", None, 0o755),
        ("usr/local/bin/orch-standin", (HERE / "standin.py").read_bytes(), 0o755),
        ("usr/share", None, 0o755),
        ("usr/share/nginx", None, 0o755),
        ("usr/share/nginx/html", None, 0o755),
        (
            "usr/share/nginx/html/index.html",
            b"<!doctype html><title>orch-lab/nginx</title><h1>orch-lab/nginx</h1>\n",
            0o644,
        ),
        ("var", None, 0o755),
        ("var/lib", None, 0o755),
        ("var/lib/postgresql", None, 0o755),
        ("var/lib/postgresql/data", None, 0o700),
    ]
    for script in ("postgres-entrypoint", "redis-entrypoint", "redis-cli", "nginx-entrypoint"):
        members.append((f"usr/local/bin/{script}", (FILES / script).read_bytes(), 0o755))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in sorted(members, key=lambda m: m[0]):
            _add(tar, name, data, mode=mode)
    return buf.getvalue()


# ---- layer 1: Debian with the packages ---------------------------------------------------------


@dataclass(frozen=True)
class BaseLayer:
    path: Path  # gzipped layer tar
    diff_id: str  # sha256 of the uncompressed tar, hex


def _base_key() -> str:
    recipe = json.dumps({"suite": SUITE, "packages": BASE_PACKAGES, "recipe": RECIPE, "arch": _arch()})
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _base_layer(cache: Path, *, mirror: str | None, progress: Progress | None) -> BaseLayer:
    key = _base_key()
    path = cache / f"base-{key}.tar.gz"
    meta = cache / f"base-{key}.json"

    def ready() -> BaseLayer | None:
        try:
            diff_id = json.loads(meta.read_text())["diff_id"]
        except (OSError, ValueError, KeyError):
            return None
        return BaseLayer(path, diff_id) if path.is_file() else None

    if (layer := ready()) is not None:
        return layer
    require_root_linux()
    tools = require_tools(["debootstrap", "unshare", "chroot", "tar"])
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache / ".build.lock"):
        if (layer := ready()) is not None:  # another process built it while we waited
            return layer
        mirror = mirror or os.environ.get("ORCH_LAB_MIRROR") or machine_mirror()
        log = cache / "build.log"
        log.write_text(f"orch lab images: building the base layer {key} from {mirror}\n")
        if progress:
            progress(f"orch lab: building the lab images' Debian layer (2-3 minutes, once); log: {log}")
        for stale in cache.glob("root.tmp-*"):
            remove_tree(stale)
        root = cache / f"root.tmp-{os.getpid()}"
        try:
            _build_base(root, mirror, tools, log)
            diff_id = _pack(root, path, tools["tar"])
        finally:
            remove_tree(root)
        write_atomic(meta, json.dumps({"diff_id": diff_id, "packages": BASE_PACKAGES}) + "\n")
        for old in cache.glob("base-*"):  # an older recipe's layer: never used again
            if old not in (path, meta):
                old.unlink(missing_ok=True)
        if progress:
            progress(f"orch lab: base layer ready: {path}")
        return BaseLayer(path, diff_id)


def _run(argv: list[str], log: Path) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=system_env(), check=False)
    if result.returncode != 0:
        raise LabError(
            f"building the lab images' base failed: `{' '.join(argv[:4])} ...` exited {result.returncode}; "
            f"full log: {log}\n{tail(log)}"
        )


def _build_base(root: Path, mirror: str, tools: dict[str, str], log: Path) -> None:
    # Its own mount namespace: whatever debootstrap mounts in the target vanishes with it.
    _run(
        [
            tools["unshare"], "--mount", "--propagation", "private", "--",
            tools["debootstrap"], "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
            SUITE, str(root), mirror,
        ],
        log,
    )  # fmt: skip
    # Not needed at run time, 150+ MB: LLVM and Z3 serve only PostgreSQL's optional JIT (the
    # server runs without); full Perl only postgresql-common's wrappers and maintainer scripts
    # (PATH has the real binaries); translations and locale sources (C.UTF-8 is built in).
    installed = _installed_packages(root)
    unused = [
        p for p in ("libllvm14", "libz3-4", "perl", "perl-modules-5.36", "libperl5.36") if p in installed
    ]
    _run([tools["chroot"], str(root), "dpkg", "--purge", "--force-depends", *unused], log)
    for pattern in ("usr/lib/postgresql/15/lib/llvmjit*", "usr/lib/postgresql/15/lib/bitcode"):
        for path in root.glob(pattern):
            remove_tree(path) if path.is_dir() else path.unlink()
    # The package's own cluster and site: the entrypoints make their own at run time.
    for rel in (
        "var/lib/postgresql/15",
        "etc/postgresql/15",
        "etc/nginx/sites-enabled/default",
        "var/cache/apt",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "usr/share/i18n",
    ):
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            remove_tree(path)
        else:
            path.unlink(missing_ok=True)
    for rel in ("var/cache/apt", "var/lib/apt/lists/partial"):
        (root / rel).mkdir(parents=True, exist_ok=True)


def _installed_packages(root: Path) -> set[str]:
    names, name = set(), ""
    for line in (root / "var/lib/dpkg/status").read_text().splitlines():
        if line.startswith("Package: "):
            name = line.split(": ", 1)[1]
        elif line.startswith("Status: ") and line.endswith(" installed"):
            names.add(name)
    return names


def _pack(root: Path, path: Path, tar: str) -> str:
    """Tar the root (without the contents of /dev, /proc, /sys, /run) into path, gzipped; return
    the uncompressed tar's sha256, the layer's diff_id."""
    argv = [tar, "--numeric-owner", "--sort=name", "--xattrs", "-C", str(root), "-cf", "-"]
    for rel in ("dev", "proc", "sys", "run", "tmp"):
        argv.append(f"--exclude=./{rel}/*")
    argv.append(".")
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz,
        ):
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=system_env())
            assert proc.stdout is not None
            while chunk := proc.stdout.read(1 << 20):
                digest.update(chunk)
                gz.write(chunk)
            if proc.wait() != 0:
                raise LabError(f"packing the lab images' base failed: tar exited {proc.returncode}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


__all__ = ["IMAGES", "REPOSITORY", "ImageSpec", "build_bundle", "build_image", "cache_dir", "parse_ref"]
