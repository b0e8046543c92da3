"""playbooks/files/app_model.py: the app model's checks (every mistake named by its variable, before
any host is touched), the start order, and the generated scripts (valid sh; the HTTP/TCP probes
run here against a real local server)."""

from __future__ import annotations

import http.server
import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.lab.testing import REPO_ROOT

MODEL_PATH = REPO_ROOT / "playbooks" / "files" / "app_model.py"
spec = importlib.util.spec_from_file_location("app_model", MODEL_PATH)
assert spec and spec.loader
app_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app_model)


def catalogizer(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "app_name": "catalogizer",
        "app_project_name": "catalogizer",
        "app_version": "1.0.0",
        "app_network_mode": "host",
        "app_compose_profiles": ["production"],
        "app_services": {
            "postgres": {
                "image": "orch-lab/postgres:15",
                "health": {"type": "command", "command": "pg_isready"},
            },
            "redis": {
                "image": "orch-lab/redis:7",
                "health": {"type": "command", "command": ["redis-cli", "ping"]},
            },
            "api": {
                "image": "orch-lab/catalogizer-api:1.0.0",
                "depends_on": {"postgres": {"condition": "service_healthy"}, "redis": None},
                "health": {
                    "type": "http",
                    "url": "http://127.0.0.1:8080/health",
                    "json_field": {"path": "status", "equals": "healthy"},
                },
                "mem_limit": "2g",
                "log_max_size": "20m",
            },
            "nginx": {"image": "orch-lab/nginx:1", "profiles": ["production"], "depends_on": ["api"]},
        },
        "app_hooks": {"pre_deploy": [{"run": "api", "command": "migrate --yes"}]},
    }
    settings.update(overrides)
    return settings


def run_model(settings: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, str(MODEL_PATH)],
        input=json.dumps(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode, json.loads(out.stdout)


def test_plan_orders_services_by_dependencies_and_writes_compose() -> None:
    rc, plan = run_model(catalogizer())
    assert rc == 0, plan
    assert plan["order"].index("postgres") < plan["order"].index("api") < plan["order"].index("nginx")
    compose = plan["compose"]
    assert (
        "condition: service_healthy" in compose and "mem_limit: 2g" in compose and "max-size: 20m" in compose
    )
    assert "network_mode: host" in compose
    start = plan["scripts"]["start.sh"]
    assert "--profile production" in start
    # Each service is started alone and waited for before the next one.
    assert (
        start.index("up --detach --no-deps postgres")
        < start.index("wait_healthy postgres")
        < start.index("up --detach --no-deps api")
    )
    assert "compose run --rm --no-TTY --no-deps api migrate --yes" in plan["scripts"]["hooks.sh"]
    # Migrations run once the databases are healthy, before the api (their `run:` target) starts.
    hooks_at = start.index("sh ./hooks.sh pre_deploy")
    assert start.index("wait_healthy redis") < hooks_at < start.index("up --detach --no-deps api")
    assert "--remove-orphans" not in start  # only when asked
    rc, plan = run_model(catalogizer(app_remove_orphans=True))
    assert "--remove-orphans" in plan["scripts"]["start.sh"]


def test_inactive_profile_services_are_not_started() -> None:
    rc, plan = run_model(catalogizer(app_compose_profiles=[]))
    assert rc == 0
    assert "nginx" not in plan["scripts"]["start.sh"].split("# Start the services")[1]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"app_version": "1 0"}, "app_version:"),
        ({"app_services": {"api": {"imag": "x:1"}}}, "app_services.api: unknown setting(s) imag"),
        ({"app_services": {"api": {"image": "x"}}}, "app_services.api.image: 'x' needs an explicit tag"),
        (
            {"app_services": {"api": {"image": "x:1", "health": {"type": "htp"}}}},
            "app_services.api.health.type:",
        ),
        (
            {"app_services": {"api": {"image": "x:1", "health": {"type": "http"}}}},
            "app_services.api.health.url: required",
        ),
        (
            {"app_services": {"api": {"image": "x:1", "depends_on": ["db"]}}},
            "app_services.api.depends_on: unknown service 'db'",
        ),
        (
            {
                "app_services": {
                    "a": {"image": "x:1", "depends_on": ["b"]},
                    "b": {"image": "x:1", "depends_on": ["a"]},
                }
            },
            "dependency cycle",
        ),
        (
            {"app_services": {"api": {"image": "x:1", "image_source": "ftp"}}},
            "app_services.api.image_source:",
        ),
        ({"app_services": {"api": {"image": "x:1", "scale": "two"}}}, "app_services.api.scale:"),
        ({"app_services": {"api": {"build": "api"}}}, "app_services.api.image: required with build"),
        (
            {"app_services": {"api": {"image": "x:1", "image_source": "build"}}},
            "app_services.api.build: required",
        ),
        (
            {"app_hooks": {"pre_deploy": [{"run": "ghost", "command": "x"}]}},
            "app_hooks.pre_deploy[0].run: unknown service",
        ),
        ({"app_hooks": {"before": []}}, "app_hooks.before: unknown hook point"),
        ({"app_services": {}}, "app_services: describe at least one service"),
        ({"app_compose_files": ["/nonexistent/compose.yml"]}, "app_compose_files[0]: cannot read"),
    ],
)
def test_mistakes_are_named_by_variable(change: dict[str, Any], named: str) -> None:
    rc, result = run_model(catalogizer(**{"app_hooks": {}, **change}))
    assert rc == 1
    assert any(named in e for e in result["errors"]), result["errors"]


def test_users_own_compose_file(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: postgres:16\n  web:\n    image: web:1\n    depends_on: [db]\n"
    )
    settings = catalogizer(
        app_compose_files=[str(tmp_path / "docker-compose.yml")],
        app_services={"web": {"health": {"type": "tcp", "port": 80}}},
        app_hooks={},
    )
    rc, plan = run_model(settings)
    assert rc == 0, plan
    assert plan["compose"] == "" and plan["compose_files"] == ["docker-compose.yml"]
    assert plan["order"] == ["db", "web"]
    assert "--file docker-compose.yml" in plan["scripts"]["start.sh"]
    rc, result = run_model({**settings, "app_services": {"ghost": {}}})
    assert rc == 1 and "app_services.ghost: not a service of app_compose_files" in result["errors"][0]


def test_build_from_source() -> None:
    """image_source build (the default with build:): a relative context is a directory of the
    app_git_repo checkout; build.sh builds those services only; the image is recorded like any."""
    services = {
        "db": {"image": "orch-lab/postgres:15", "image_source": "lab"},
        "api": {"image": "shop-api:1.0.0", "build": {"context": "api", "dockerfile": "Dockerfile.prod"}},
        "web": {"image": "shop-web:1.0.0", "build": "/srv/web", "depends_on": ["api"]},
    }
    rc, plan = run_model(
        catalogizer(
            app_services=services, app_hooks={}, app_git_repo="/srv/git/shop.git", app_dir="/opt/shop"
        )
    )
    assert rc == 0, plan
    assert {i["service"]: i["source"] for i in plan["images"]} == {
        "db": "lab",
        "api": "build",
        "web": "build",
    }
    compose = plan["compose"]
    assert "context: /opt/shop/source/api" in compose and "dockerfile: Dockerfile.prod" in compose
    assert "context: /srv/web" in compose  # an absolute context stays
    build = plan["scripts"]["build.sh"]
    assert build.rstrip().endswith("compose build api web 2>&1")
    assert "APP_SOURCE_DIR=/opt/shop/source" in build
    assert subprocess.run(["sh", "-n"], input=build, text=True, check=False).returncode == 0
    rc, plan = run_model(catalogizer(app_hooks={}))
    assert rc == 0 and "build.sh" not in plan["scripts"]


def test_scripts_are_valid_sh() -> None:
    _, plan = run_model(catalogizer())
    for name, text in plan["scripts"].items():
        check = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, check=False)
        assert check.returncode == 0, (name, check.stderr)


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status":"healthy","build":{"version":"1.0.0"}}'
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.skipif(
    subprocess.run(
        ["sh", "-c", "command -v curl && command -v jq && command -v bash"], capture_output=True, check=False
    ).returncode
    != 0,
    reason="needs curl, jq, bash",
)
def test_http_and_tcp_probes_against_a_real_server(http_server: str) -> None:
    header = app_model.script_header({"app_project_name": "p"}, ["compose.yml"])

    def probe(health: dict[str, Any], version: str = "1.0.0") -> subprocess.CompletedProcess[str]:
        script = header + app_model.health_probe("api", health, version) + "\n"
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)

    url = f"http://{http_server}/health"
    assert probe({"type": "http", "url": url, "status": 200}).returncode == 0
    assert (
        probe({"type": "http", "url": url, "json_field": {"path": "status", "equals": "healthy"}}).returncode
        == 0
    )
    assert (
        probe(
            {"type": "http", "url": url, "json_field": {"path": "build.version", "equals": "1.0.0"}}
        ).returncode
        == 0
    )
    wrong = probe({"type": "http", "url": url, "json_field": {"path": "status", "equals": "ok"}})
    assert wrong.returncode == 1 and "field status is healthy, wanted ok" in wrong.stdout
    assert probe({"type": "http", "url": url, "version": True}, version="2.0.0").returncode == 1
    assert probe({"type": "http", "url": url, "body_regex": '"status": ?"healthy"'}).returncode == 0
    bad = probe({"type": "http", "url": f"http://{http_server}/other"})
    assert bad.returncode == 1 and "answered 503, wanted 200" in bad.stdout
    host, port = http_server.split(":")
    assert probe({"type": "tcp", "host": host, "port": int(port)}).returncode == 0
    assert probe({"type": "tcp", "host": host, "port": 1}).returncode == 1


def test_a_failing_hook_stops_with_its_output(tmp_path: Path) -> None:
    hooks = {
        "post_deploy": [
            {"name": "smoke", "shell": "echo checking; echo broken >&2; exit 3"},
            {"shell": "touch ran"},
        ]
    }
    _, plan = run_model(catalogizer(app_hooks=hooks))
    (tmp_path / "hooks.sh").write_text(plan["scripts"]["hooks.sh"])
    out = subprocess.run(
        ["sh", "hooks.sh", "post_deploy"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 1
    assert "hook post_deploy failed: smoke" in out.stderr and "broken" in out.stderr
    assert not (tmp_path / "ran").exists()  # the first failure stops the point


def test_service_kind() -> None:
    settings = {
        "app_kind": "service",
        "app_project_name": "ai-diy",
        "app_version": "1.0.0",
        "app_git_repo": "https://example.org/ai-diy.git",
        "app_service_log": "/var/log/ai-diy/ai-diy.log",
        "app_services": {
            "ai-diy": {
                "command": ["python", "development/src/main_secure.py"],
                "environment": {"PORT": "8000"},
                "health": {"type": "http", "url": "http://127.0.0.1:8000/health"},
            }
        },
    }
    rc, plan = run_model(settings)
    assert rc == 0, plan
    assert "exec python development/src/main_secure.py" in plan["scripts"]["run.sh"]
    assert "export PORT=8000" in plan["scripts"]["run.sh"]
    assert 'tail -n "$LOG_LINES" /var/log/ai-diy/ai-diy.log' in plan["scripts"]["start.sh"]
    rc, result = run_model(
        {**settings, "app_git_repo": "", "app_hooks": {"pre_deploy": [{"run": "x", "command": "y"}]}}
    )
    assert rc == 1
    assert any(e.startswith("app_git_repo: required") for e in result["errors"]), result
    assert any("unknown service" in e for e in result["errors"]), result


def test_blue_green_plan() -> None:
    bg = {
        "service": "api",
        "address": "127.0.0.1",
        "ports": {"blue": 8080, "green": 8081},
        "proxy_config": "nginx.conf",
    }
    settings = catalogizer(app_dir="/opt/catalogizer", deploy_strategy="blue_green", app_blue_green=bg)
    rc, plan = run_model(settings)
    assert rc == 0, plan
    compose = plan["compose"]
    assert "api-blue:" in compose and "api-green:" in compose and "\n  api:" not in compose
    assert "image: __BG_IMAGE_BLUE__" in compose and "PORT: '8081'" in compose
    assert "/opt/catalogizer/proxy:/etc/nginx/conf.d:ro" in compose
    start = plan["scripts"]["start.sh"]
    # The new color is healthy before nginx switches to it; the old one stops after the reload.
    assert (
        start.index('wait_healthy "api-$BG_COLOR"')
        < start.index("upstream.conf")
        < start.index("nginx -s reload")
        < start.index('compose stop "api-$BG_OTHER"')
    )
    assert 'compose run --rm --no-TTY --no-deps "api-$BG_COLOR" migrate' in plan["scripts"]["hooks.sh"]
    rc, result = run_model({**settings, "app_blue_green": {**bg, "ports": {"blue": 8080, "green": 8080}}})
    assert rc == 1 and "app_blue_green.ports: blue and green need different ports" in result["errors"][0]
    rc, result = run_model({**settings, "deploy_strategy": "canary"})
    assert rc == 1 and result["errors"][0].startswith("deploy_strategy: 'canary' is not one of")
