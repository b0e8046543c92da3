"""The lab images' pieces that need no Debian build: references, image configs, the files layer,
and the stand-in server itself, run for real on 127.0.0.1 (tests/integration/test_lab_images.py
runs the images in Docker on a lab host)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import pytest

from orchestrator.lab import images
from orchestrator.lab.images import standin
from orchestrator.lab.system import LabError

STANDIN = images.HERE / "standin.py"


def test_parse_ref() -> None:
    assert images.parse_ref("postgres:15") == ("postgres", "15")
    assert images.parse_ref("orch-lab/catalogizer-api:1.0.0") == ("catalogizer-api", "1.0.0")
    with pytest.raises(LabError, match="needs a version"):
        images.parse_ref("postgres")
    with pytest.raises(LabError, match=r"no lab image .mysql.; known: .*postgres"):
        images.parse_ref("mysql:8")
    with pytest.raises(LabError, match="not a valid image tag"):
        images.parse_ref("redis:-x")


def test_every_runbook_service_has_an_image() -> None:
    expected = {
        "postgres", "redis", "nginx", "catalogizer-api", "catalogai-backend", "catalogai-frontend",
        "spherosegv4-backend", "spherosegv4-ml", "spherosegv4-frontend", "ai-chat-backend",
        "ai-chat-frontend", "ai-diy-app",
    }  # fmt: skip
    assert set(images.IMAGES) == expected
    # docs/lab-images.md is what playbooks are written against: every image is described there.
    doc = (images.HERE.parents[2] / "docs" / "lab-images.md").read_text()
    for name in expected:
        assert f"`{name}`" in doc or f"## {name}" in doc, name


def test_config_sets_version_ports_and_healthcheck() -> None:
    config = json.loads(
        images._config("catalogizer-api", "2.1.0", images.IMAGES["catalogizer-api"], ["a", "b"])
    )
    env = dict(item.split("=", 1) for item in config["config"]["Env"])
    assert env["APP_VERSION"] == "2.1.0" and env["APP_NAME"] == "catalogizer" and env["PORT"] == "8080"
    assert config["config"]["Healthcheck"]["Test"] == ["CMD", "orch-standin", "check"]
    assert config["rootfs"]["diff_ids"] == ["sha256:a", "sha256:b"]
    pg = json.loads(images._config("postgres", "15", images.IMAGES["postgres"], ["a", "b"]))["config"]
    assert pg["Volumes"] == {"/var/lib/postgresql/data": {}} and "APP_VERSION=15" not in pg["Env"]
    assert any(item.startswith("PATH=") and images.PG_BIN in item for item in pg["Env"])


def test_files_layer_is_deterministic_and_complete() -> None:
    layer = images._files_layer()
    assert layer == images._files_layer()
    with tarfile.open(fileobj=BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for tool in ("orch-standin", "postgres-entrypoint", "redis-entrypoint", "redis-cli", "nginx-entrypoint"):
        assert members[f"usr/local/bin/{tool}"].mode == 0o755
    assert members["var/lib/postgresql/data"].mode == 0o700
    assert "etc/nginx/nginx.conf" in members


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _standin(app: str, service: str, version: str) -> Iterator[str]:
    """The real server on a free port, in a thread (the CLI and SIGTERM: test_standin_cli)."""
    settings = standin.Settings(
        {"APP_NAME": app, "APP_SERVICE": service, "APP_VERSION": version, "PORT": "0"}
    )
    server = standin.make_server(settings)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode(), answer.headers["X-App-Version"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers["X-App-Version"]


@pytest.mark.parametrize("app,service", [(a, s) for a in standin.APPS for s in standin.APPS[a]])
def test_standin_answers_its_runbook_health_and_broken_fails(app: str, service: str) -> None:
    routes = standin.APPS[app][service][1]
    with _standin(app, service, "1.0.0") as base:
        for path, (_, body) in routes.items():
            status, text, version = _get(base + path)
            assert status == 200 and version == "1.0.0", (path, status, text)
            expected = body()
            if isinstance(expected, str):
                assert text == expected
            else:
                answer = json.loads(text)
                assert answer.keys() == expected.keys()
        assert json.loads(_get(base + "/version")[1]) == {"app": app, "service": service, "version": "1.0.0"}
    with _standin(app, service, "broken") as base:
        for path, (is_health, _) in routes.items():
            status, text, _ = _get(base + path)
            assert status == (503 if is_health else 200), (path, status)
        assert _get(base + "/version")[0] == 200


def test_catalogizer_health_body_is_the_runbooks() -> None:
    with _standin("catalogizer", "api", "1.0.0") as base:
        body = json.loads(_get(base + "/health")[1])
    assert body["status"] == "healthy" and body["time"].endswith("Z")


def test_standin_cli() -> None:
    """serve, check, SIGTERM (PID 1 in a container must stop at once) and bad settings."""
    port = _free_port()
    env = {
        **os.environ,
        "APP_NAME": "ai-chat",
        "APP_SERVICE": "backend",
        "APP_VERSION": "3",
        "PORT": str(port),
    }
    proc = subprocess.Popen([sys.executable, str(STANDIN), "serve"], env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.05)
        assert subprocess.run([sys.executable, str(STANDIN), "check"], env=env, check=False).returncode == 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    dead = subprocess.run([sys.executable, str(STANDIN), "check"], env=env, capture_output=True, check=False)
    assert dead.returncode == 1
    unknown = subprocess.run(
        [sys.executable, str(STANDIN)],
        env={**env, "APP_NAME": "nope"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 1 and "unknown APP_NAME/APP_SERVICE 'nope'/'backend'" in unknown.stderr
    nodb = subprocess.run([sys.executable, str(STANDIN), "migrate"], env=env, capture_output=True, text=True)
    assert nodb.returncode == 2 and "DATABASE_URL" in nodb.stderr
