#!/usr/bin/env python3
"""A stand-in for the runbook apps' services: one small HTTP server, parameterised per app/service.

Standard library only: it runs as /usr/local/bin/orch-standin in the orch-lab/<app>-<service>
images (docs/lab-images.md) and directly with any python3 >= 3.11 (the AI-DIY example runs it from
a virtualenv, no Docker):

    orch-standin serve     answer HTTP on $LISTEN_ADDR:$PORT (the default command)
    orch-standin check     exit 0 if this service's first health endpoint answers 200 (HEALTHCHECK)
    orch-standin migrate   record $APP_VERSION in the app_migrations table of $DATABASE_URL (psql)

Environment: APP_NAME, APP_SERVICE (which entry of APPS), APP_VERSION (`broken`: every health
endpoint answers 503; `broken-migration`: `migrate` fails), LISTEN_ADDR (default 127.0.0.1),
PORT (default: the service's runbook port), DATABASE_URL or DB_URL, MIGRATE_FAIL=1.
Every answer carries the header X-App-Version; GET /version returns app, service and version.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = Callable[[], Any]  # returns a JSON-able value, or str for text/html


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _page(title: str) -> Body:
    return lambda: (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    )


# app -> service -> (default port, {path: (is_health, body)}). Bodies follow the runbooks
# (/work/shared/runbooks, quoted in docs/lab-images.md); where a runbook shows none, a small JSON.
APPS: dict[str, dict[str, tuple[int, dict[str, tuple[bool, Body]]]]] = {
    "catalogizer": {
        # catalogizer.md: curl -f http://localhost:8080/health -> {"status":"healthy","time":"..."}
        "api": (8080, {"/health": (True, lambda: {"status": "healthy", "time": _now()})}),
    },
    "catalogai": {
        # catalogai.md: /health/ on :8000, the frontend's / on :3000, /admin/metrics (.accuracy)
        "backend": (
            8000,
            {
                "/health/": (True, lambda: {"status": "ok"}),
                "/admin/metrics": (False, lambda: {"accuracy": 0.94, "scans": 0}),
                "/admin/thresholds": (False, lambda: {"thresh_auth": 0.15, "thresh_syn": 0.70}),
            },
        ),
        "frontend": (3000, {"/": (True, _page("CatalogAI"))}),
    },
    "spherosegv4": {
        # spherosegv4.md: backend /health, ML service :5002/health, the frontend's /
        "backend": (5001, {"/health": (True, lambda: {"status": "ok"})}),
        "ml": (5002, {"/health": (True, lambda: {"status": "healthy"})}),
        "frontend": (3000, {"/": (True, _page("SpherosegV4"))}),
    },
    "ai-chat": {
        # ai-chat.md: curl -f http://localhost:3001/health (backend), :8080/health (frontend)
        "backend": (3001, {"/health": (True, lambda: {"status": "ok"})}),
        "frontend": (8080, {"/health": (True, lambda: "healthy\n"), "/": (False, _page("AI Chat"))}),
    },
    "ai-diy": {
        # ai-diy.md: :8000/health; /api/security/status -> .security_status == "active",
        # .report.resource_usage
        "app": (
            8000,
            {
                "/health": (True, lambda: {"status": "healthy"}),
                "/api/security/status": (
                    True,
                    lambda: {
                        "security_status": "active",
                        "report": {"resource_usage": {"memory_mb": 42, "cpu_percent": 1.0}},
                    },
                ),
            },
        ),
    },
}


class Settings:
    def __init__(self, env: dict[str, str]) -> None:
        self.app = env.get("APP_NAME", "")
        self.service = env.get("APP_SERVICE", "")
        if self.app not in APPS or self.service not in APPS[self.app]:
            known = ", ".join(f"{a}/{s}" for a in APPS for s in APPS[a])
            raise SystemExit(
                f"orch-standin: unknown APP_NAME/APP_SERVICE {self.app!r}/{self.service!r}; known: {known}"
            )
        default_port, self.routes = APPS[self.app][self.service]
        self.version = env.get("APP_VERSION", "0.0.0")
        self.address = env.get("LISTEN_ADDR") or "127.0.0.1"
        self.port = int(env.get("PORT") or default_port)
        self.broken = self.version == "broken"

    @property
    def health_path(self) -> str:
        return next(path for path, (is_health, _) in self.routes.items() if is_health)


def make_server(settings: Settings) -> ThreadingHTTPServer:
    """The HTTP server, bound and ready for serve_forever()."""

    class Handler(BaseHTTPRequestHandler):
        server_version = f"orch-standin/{settings.app}-{settings.service}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/version":
                self._send(
                    200, {"app": settings.app, "service": settings.service, "version": settings.version}
                )
            elif path in settings.routes:
                is_health, body = settings.routes[path]
                if is_health and settings.broken:
                    self._send(503, {"status": "unhealthy", "version": settings.version})
                else:
                    self._send(200, body())
            else:
                self._send(404, {"error": "not found", "path": path})

        def do_HEAD(self) -> None:
            self.do_GET()

        def _send(self, status: int, body: Any) -> None:
            is_text = isinstance(body, str)
            data = (body if is_text else json.dumps(body, separators=(",", ":"))).encode()
            self.send_response(status)
            kind = (
                "text/html"
                if is_text and body.lstrip().startswith("<")
                else "text/plain"
                if is_text
                else "application/json"
            )
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-App-Version", settings.version)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    return ThreadingHTTPServer((settings.address, settings.port), Handler)


def serve(settings: Settings) -> None:
    server = make_server(settings)
    # PID 1 in a container has no default SIGTERM action: stop cleanly so `docker stop` is quick.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(
        f"orch-standin {settings.app}/{settings.service} {settings.version} on {settings.address}:{settings.port}",
        file=sys.stderr,
        flush=True,
    )
    server.serve_forever()
    server.server_close()


def check(settings: Settings) -> int:
    url = f"http://{settings.address}:{settings.port}{settings.health_path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"orch-standin check: {url}: {exc}", file=sys.stderr)
        return 1


def migrate(settings: Settings, env: dict[str, str]) -> int:
    url = env.get("DATABASE_URL") or env.get("DB_URL")
    if not url:
        print("orch-standin migrate: set DATABASE_URL (or DB_URL) to a postgresql:// URL", file=sys.stderr)
        return 2
    if env.get("MIGRATE_FAIL", "0") not in ("", "0") or settings.version == "broken-migration":
        print(f"orch-standin migrate: migration for {settings.version} failed (as asked)", file=sys.stderr)
        return 1
    sql = (
        "CREATE TABLE IF NOT EXISTS app_migrations "
        "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n"
        "INSERT INTO app_migrations (version) VALUES (:'version') ON CONFLICT DO NOTHING;\n"
    )
    result = subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-v", f"version={settings.version}", "-q", url],
        input=sql,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        print(f"orch-standin migrate: {settings.version} recorded", file=sys.stderr)
    return result.returncode


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    env = dict(os.environ)
    settings = Settings(env)
    if command == "serve":
        serve(settings)
        return 0
    if command == "check":
        return check(settings)
    if command == "migrate":
        return migrate(settings, env)
    print(f"orch-standin: unknown command {command!r} (serve, check, migrate)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
