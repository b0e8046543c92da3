#!/usr/bin/env python3
"""Build the demo app's Docker image OFFLINE on the controller, as a `docker load` tarball.

    python3 build_image.py VERSION [--out DIR] [--repo NAME] [--cc CC]

Compiles app.c (beside this file) into a static binary once (cached by the source's hash), then
writes DIR/<repo>_<VERSION>.tar in the docker-archive format that `docker load` and
community.docker.docker_image (source: load) read: one layer holding /app/demo-app and
/app/VERSION. The tarball is deterministic (fixed mtimes, sorted entries), so the same version
always gives the same image ID, and loading it twice changes nothing. No registry, no Docker on
the controller. Prints the tarball's path. Needs a C compiler with a static libc (gcc +
libc6-dev on Debian/Ubuntu). VERSION `broken` gives an image that starts but fails /health.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPOCH = 946684800  # 2000-01-01: fixed timestamps keep the image ID stable across builds
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}.get(
    platform.machine(), platform.machine()
)


def compile_binary(out: Path, cc: str) -> Path:
    source = (HERE / "app.c").read_bytes()
    digest = hashlib.sha256(source + ARCH.encode()).hexdigest()[:16]
    binary = out / f"demo-app-{digest}"
    if binary.is_file():
        return binary
    compiler = shutil.which(cc)
    if compiler is None:
        sys.exit(f"build_image.py: no C compiler {cc!r} on the controller (apt-get install gcc libc6-dev)")
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        target = Path(tmp) / "demo-app"
        subprocess.run(
            [compiler, "-static", "-Os", "-Wall", "-o", str(target), str(HERE / "app.c")], check=True
        )
        subprocess.run(["strip", str(target)], check=False)
        os.replace(target, binary)
    return binary


def _member(name: str, data: bytes | None, mode: int) -> tuple[tarfile.TarInfo, io.BytesIO | None]:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "root", "root"
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        return info, None
    info.size = len(data)
    return info, io.BytesIO(data)


def _tar(members: list[tuple[str, bytes | None, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in sorted(members, key=lambda m: m[0]):
            info, fileobj = _member(name, data, mode)
            tar.addfile(info, fileobj)
    return buf.getvalue()


def build(version: str, out: Path, repo: str, cc: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", version):
        sys.exit(f"build_image.py: {version!r} is not a valid image tag")
    out.mkdir(parents=True, exist_ok=True)
    binary = compile_binary(out, cc).read_bytes()
    layer = _tar(
        [
            ("app", None, 0o755),
            ("app/demo-app", binary, 0o755),
            ("app/VERSION", f"{version}\n".encode(), 0o644),
            ("tmp", None, 0o1777),
        ]
    )
    layer_id = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": ARCH,
        "os": "linux",
        "created": "2000-01-01T00:00:00Z",
        "config": {
            "Entrypoint": ["/app/demo-app"],
            "Env": ["APP_PORT=8080"],
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.version": version, "org.opencontainers.image.title": repo},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [
            {"created": "2000-01-01T00:00:00Z", "created_by": f"orch demo-app build_image.py {version}"}
        ],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [
        {"Config": f"{image_id}.json", "RepoTags": [f"{repo}:{version}"], "Layers": [f"{layer_id}/layer.tar"]}
    ]
    archive = _tar(
        [
            (f"{layer_id}", None, 0o755),
            (f"{layer_id}/VERSION", b"1.0", 0o644),
            (f"{layer_id}/layer.tar", layer, 0o644),
            (f"{image_id}.json", config_bytes, 0o644),
            ("manifest.json", json.dumps(manifest).encode(), 0o644),
            ("repositories", json.dumps({repo: {version: layer_id}}).encode(), 0o644),
        ]
    )
    path = out / f"{repo.replace('/', '_')}_{version}.tar"
    if not path.is_file() or path.read_bytes() != archive:
        # A unique temp name: parallel runs (test sessions) may build the same version at once.
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(archive)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version")
    parser.add_argument("--out", default=os.path.expanduser("~/.cache/orch/demo-app"))
    parser.add_argument("--repo", default="orch-demo-app")
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = parser.parse_args()
    print(build(args.version, Path(args.out), args.repo, args.cc))


if __name__ == "__main__":
    main()
