"""The runbook apps of inventories/examples/ on real lab hosts (issue 13), as an operator runs them:

    orch lab up 2 -i inventories/examples/<app>/hosts.yml
    bootstrap (rc 0, again changed=0) -> deploy 1.0.0 (every service healthy by the runbook's own
    checks) -> deploy 2.0.0 -> deploy broken (rc 2, the previous release still serving) -> rollback
    (one release back)

plus, for Catalogizer, a failing migration with rollback_restore_database: the pre-deploy dump
comes back (a row written after the dump is gone, the rows from before are there), proved by a
query. Every check reads the hosts with the system ssh client, independent of orch. One 2-host
fleet (apps_fleet) for every example; Docker is installed once, by Catalogizer's bootstrap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import REPO_ROOT, LabSession, recap_counters, run_orch

PLAYBOOKS = REPO_ROOT / "playbooks"
STANDIN = REPO_ROOT / "orchestrator" / "lab" / "images" / "standin.py"
pytestmark = [
    pytest.mark.lab,
    # The examples run the lab's images and stand-in server (docs/lab-images.md, issue 13's lab half).
    pytest.mark.skipif(
        not STANDIN.exists(), reason="needs the lab images (orchestrator/lab/images, `orch lab image`)"
    ),
]


def example_inventory(fleet: tuple[LabSession, Path], app: str) -> Path:
    """inventories/examples/<app> as `orch lab up 2 -i inventories/examples/<app>/hosts.yml` leaves
    it: the example's group_vars plus the lab's hosts.yml."""
    session, base = fleet
    inventory = base / app
    if not inventory.exists():
        shutil.copytree(REPO_ROOT / "inventories" / "examples" / app / "group_vars", inventory / "group_vars")
        shutil.copyfile(session.inventory_path, inventory / "hosts.yml")
    return inventory


def play(inventory: Path, playbook: str, *extra: str) -> CompletedProcess[str]:
    return run_orch(
        "play", str(PLAYBOOKS / playbook), "-i", str(inventory), *extra, cwd=REPO_ROOT, timeout=1200
    )


def explain(result: CompletedProcess[str]) -> str:
    return f"rc={result.returncode}\n--- stdout\n{result.stdout[-8000:]}\n--- stderr\n{result.stderr[-3000:]}"


def bootstrap_twice(lab: LabSession, inventory: Path) -> None:
    first = play(inventory, "bootstrap.yml")
    assert first.returncode == 0, explain(first)
    again = play(inventory, "bootstrap.yml")
    assert again.returncode == 0, explain(again)
    assert {h: c["changed"] for h, c in recap_counters(again.stdout).items()} == {
        h.name: 0 for h in lab.hosts
    }, explain(again)


def version_of(lab: LabSession, i: int, url: str) -> str:
    """The version a stand-in says it is (GET /version), asked on the host itself."""
    out = lab.ssh(i, f"curl -fsS --max-time 5 {url}/version")
    return json.loads(out.stdout)["version"] if out.returncode == 0 else f"(no answer: {out.stderr.strip()})"


# ---- Catalogizer: postgres, redis, api, nginx (production profile) -------------------------------


class RequestLoop:
    """GET a URL from the controller over and over in a thread (lab hosts share its network),
    counting answers other than 200."""

    def __init__(self, url: str) -> None:
        self.url, self.ok, self.failed, self.errors = url, 0, 0, Counter[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    answer.read()
                self.ok += 1
            except (OSError, urllib.error.URLError) as exc:
                self.failed += 1
                self.errors[str(exc)[:100]] += 1
            time.sleep(0.02)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def psql(lab: LabSession, i: int, sql: str) -> str:
    out = lab.ssh(
        i, f"docker exec catalogizer-postgres-1 psql -U catalogizer -d catalogizer -tAc {sql!r}", check=True
    )
    return out.stdout.strip()


def assert_catalogizer_healthy(lab: LabSession, version: str) -> None:
    """The runbook's own checks (Health Checks / Manual Health Checks), on every host."""
    for host in lab.hosts:
        i, addr = host.index, host.address
        color_port = lab.ssh(
            i, "sed -n 's/^BG_PORT=//p' /opt/catalogizer/current/bg.env", check=True
        ).stdout.strip()
        api = lab.ssh(i, f"curl -fsS --max-time 5 http://{addr}:{color_port}/health", check=True).stdout
        assert json.loads(api)["status"] == "healthy", api
        through_nginx = lab.ssh(i, f"curl -fsS --max-time 5 http://{addr}/health", check=True).stdout
        assert json.loads(through_nginx)["status"] == "healthy", through_nginx
        ready = lab.ssh(i, "docker exec catalogizer-postgres-1 pg_isready -U catalogizer", check=True).stdout
        assert "accepting connections" in ready
        assert (
            lab.ssh(i, "docker exec catalogizer-redis-1 redis-cli ping", check=True).stdout.strip() == "PONG"
        )
        # Blue/green: the api answering through nginx is the version deployed, and one color runs.
        assert version_of(lab, i, f"http://{addr}") == version
        names = lab.ssh(i, "docker ps --format '{{.Names}}'", check=True).stdout.split()
        apis = [n for n in names if n.startswith("catalogizer-api-")]
        assert len(apis) == 1 and apis[0] in ("catalogizer-api-blue-1", "catalogizer-api-green-1"), names
        assert sorted(set(names) - set(apis)) == [
            "catalogizer-nginx-1",
            "catalogizer-postgres-1",
            "catalogizer-redis-1",
        ], names


def test_catalogizer(apps_fleet: tuple[LabSession, Path]) -> None:
    lab = apps_fleet[0]
    inventory = example_inventory(apps_fleet, "catalogizer")
    bootstrap_twice(lab, inventory)

    v1 = play(inventory, "deploy.yml", "-e", "app_version=1.0.0")
    assert v1.returncode == 0, explain(v1)
    assert_catalogizer_healthy(lab, "1.0.0")
    # The migration hook ran against the real database, with the release's version.
    assert psql(lab, 1, "select version from app_migrations order by applied_at") == "1.0.0"

    # Blue/green (the example's deploy_strategy): requests through nginx never fail while the new
    # api starts beside the old one, nginx switches over (reload) and the old one stops.
    with RequestLoop(f"http://{lab.address(1)}/health") as loop:
        v2 = play(inventory, "deploy.yml", "-e", "app_version=2.0.0")
    assert v2.returncode == 0, explain(v2)
    assert loop.ok > 50 and loop.failed == 0, (loop.ok, loop.failed, loop.errors)
    assert_catalogizer_healthy(lab, "2.0.0")
    # health.yml follows the colour: 2.0.0 runs on the other one than 1.0.0 did
    health = play(inventory, "health.yml")
    assert health.returncode == 0, explain(health)

    broken = play(inventory, "deploy.yml", "-e", "app_version=broken")
    assert broken.returncode == 2, explain(broken)
    for host in lab.hosts:
        assert re.search(
            rf"deploy of broken failed on {host.name}: service api-(blue|green) is not healthy after \d+s: "
            rf"http://{re.escape(host.address)}:80\d\d/health answered 503, wanted 200\n.*last \d+ log lines of api-.*"
            r"rolled back to release \S+-2\.0\.0 \(version 2\.0\.0\)",
            broken.stdout,
            re.S,
        ), explain(broken)
    assert_catalogizer_healthy(lab, "2.0.0")

    with RequestLoop(f"http://{lab.address(1)}/health") as loop:
        back = play(inventory, "rollback.yml")
    assert back.returncode == 0, explain(back)
    assert loop.ok > 20 and loop.failed == 0, (loop.ok, loop.failed, loop.errors)
    assert_catalogizer_healthy(lab, "1.0.0")

    health = play(inventory, "health.yml")
    assert health.returncode == 0, explain(health)
    for service in ("postgres", "redis", "api-", "nginx"):
        assert f"service ok {service}" in health.stdout, explain(health)


def test_catalogizer_failing_migration_restores_the_pre_deploy_dump(
    apps_fleet: tuple[LabSession, Path],
) -> None:
    lab = apps_fleet[0]
    inventory = example_inventory(apps_fleet, "catalogizer")
    psql(lab, 1, "create table if not exists notes (body text)")
    psql(lab, 1, "insert into notes values ('before the deploy')")
    # The deploy dumps the database, then its hooks write a row and the migration fails
    # (catalogizer-api:broken-migration): the rollback restores the dump.
    hooks = {
        "pre_deploy": [
            {
                "name": "write after the dump",
                "exec": "postgres",
                "command": "psql -U catalogizer -d catalogizer -c \"insert into notes values ('after the dump')\"",
            },
            {"name": "migrate", "run": "api", "command": "migrate"},
        ]
    }
    extra = json.dumps({"app_hooks": hooks, "rollback_restore_database": True})
    failed = play(inventory, "deploy.yml", "-e", "app_version=broken-migration", "-e", extra, "--limit", "h1")
    assert failed.returncode == 2, explain(failed)
    assert "hook pre_deploy failed: migrate" in failed.stdout, explain(failed)
    assert psql(lab, 1, "select body from notes order by body") == "before the deploy"
    assert "broken-migration" not in psql(lab, 1, "select string_agg(version, ',') from app_migrations")
    assert_catalogizer_healthy(lab, "1.0.0")


# ---- AI-DIY: a Python app from a git tag in a virtualenv, under the init system ------------------


def test_ai_diy(apps_fleet: tuple[LabSession, Path]) -> None:
    lab = apps_fleet[0]
    inventory = example_inventory(apps_fleet, "ai-diy")
    bootstrap_twice(lab, inventory)

    def assert_serving(version: str) -> None:
        for host in lab.hosts:
            base = f"http://{host.address}:8000"
            body = lab.ssh(host.index, f"curl -fsS --max-time 5 {base}/health", check=True).stdout
            assert json.loads(body)["status"] == "healthy", body
            status = lab.ssh(
                host.index, f"curl -fsS --max-time 5 {base}/api/security/status", check=True
            ).stdout
            assert json.loads(status)["security_status"] == "active", status
            assert version_of(lab, host.index, base) == version
            # Run by the init script, from the release's virtualenv.
            assert lab.ssh(host.index, "/etc/init.d/ai-diy status").returncode == 0
            pid = lab.ssh(host.index, "cat /run/ai-diy.pid", check=True).stdout.strip()
            proc = lab.ssh(
                host.index,
                f"readlink /proc/{pid}/cwd; tr '\\0' '\\n' < /proc/{pid}/environ | grep ^PATH=",
                check=True,
            ).stdout.split()
            assert re.fullmatch(r"/opt/ai-diy/releases/\S+/src", proc[0]) and "/venv/bin:" in proc[1], proc

    v1 = play(inventory, "deploy.yml", "-e", "app_version=1.0.0")
    assert v1.returncode == 0, explain(v1)
    assert_serving("1.0.0")
    commit_1 = lab.ssh(1, "cat /opt/ai-diy/current/COMMIT", check=True).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", commit_1)

    v2 = play(inventory, "deploy.yml", "-e", "app_version=2.0.0")
    assert v2.returncode == 0, explain(v2)
    assert_serving("2.0.0")

    broken = play(inventory, "deploy.yml", "-e", "app_version=broken")
    assert broken.returncode == 2, explain(broken)
    assert "service ai-diy is not healthy" in broken.stdout and "answered 503" in broken.stdout, explain(
        broken
    )
    assert_serving("2.0.0")

    back = play(inventory, "rollback.yml")
    assert back.returncode == 0, explain(back)
    assert_serving("1.0.0")

    # Back and forth by git commit.
    forward = play(inventory, "rollback.yml", "-e", "to_version=2.0.0")
    assert forward.returncode == 0, explain(forward)
    assert_serving("2.0.0")
    by_commit = play(inventory, "rollback.yml", "-e", f"to_commit={commit_1[:10]}")
    assert by_commit.returncode == 0, explain(by_commit)
    assert_serving("1.0.0")

    health = play(inventory, "health.yml")
    assert health.returncode == 0 and "service ok ai-diy" in health.stdout, explain(health)


# ---- Build from source: a git checkout at a ref, `docker compose build` on the host --------------

SOURCE_APP = """\
app_name: srcapp
app_addr: "{{ ansible_host }}"
app_git_repo: /srv/git/srcapp.git        # a bare repository on the host, pushed from the controller
app_services:
  cache:                                 # also brings the base image web/Dockerfile builds FROM
    image: orch-lab/redis:7
    image_source: lab
    environment: {LISTEN_ADDR: "{{ app_addr }}", PORT: "6390"}
    health: {type: docker}               # the image's own HEALTHCHECK (redis-cli ping)
  web:
    image: "srcapp-web:{{ app_version | default('') }}"
    build: {context: web}                # web/ of the checkout at app_version
    # The stand-in answers as AI Chat's backend (.env's APP_NAME=srcapp would override the image's).
    environment: {APP_NAME: ai-chat, LISTEN_ADDR: "{{ app_addr }}", PORT: "3990"}
    depends_on: {cache: {condition: service_healthy}}
    health: {type: docker}               # the HEALTHCHECK of web/Dockerfile (app_service_deadline: 60s)
  worker:
    image: orch-lab/redis:7
    image_source: lab
    entrypoint: [sleep]
    command: [infinity]
    scale: 2
app_hooks:
  on_rollback:
    - {name: note, shell: "echo $APP_VERSION >> /opt/srcapp/rollbacks.log"}
app_env_required: []
docker_daemon_args: [--storage-driver=vfs, --iptables=false, --ip6tables=false, --bridge=none]
sysctl_apply: false
deploy_serial: "100%"
admin_users: []
health_endpoints: []
"""

DOCKERFILE = """\
FROM orch-lab/redis:7
ENV APP_SERVICE=backend APP_VERSION={version}
ENTRYPOINT ["/usr/local/bin/orch-standin"]
CMD ["serve"]
HEALTHCHECK --interval=2s --timeout=10s --retries=3 CMD ["orch-standin", "check"]
"""


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip()


def source_repository(path: Path) -> dict[str, str]:
    """The app's repository on the controller: tags 1.0.0, 2.0.0 and broken; tag -> commit."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    commits = {}
    for version in ("1.0.0", "2.0.0", "broken"):
        (path / "web").mkdir(exist_ok=True)
        (path / "web" / "Dockerfile").write_text(DOCKERFILE.format(version=version))
        git(path, "add", "web/Dockerfile")
        git(
            path,
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.org",
            "commit",
            "--quiet",
            "-m",
            version,
        )
        git(path, "tag", version)
        commits[version] = git(path, "rev-parse", "HEAD")
    return commits


def test_build_from_source(apps_fleet: tuple[LabSession, Path]) -> None:
    """image_source build from app_git_repo at app_version (the git module), Docker's own health
    status as the check, scale, on_rollback hooks, rollback.yml -e to_commit=..."""
    lab, base = apps_fleet
    inventory = base / "srcapp"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(SOURCE_APP)
    shutil.copyfile(lab.inventory_path, inventory / "hosts.yml")
    setup = play(inventory, "bootstrap.yml")  # installs git for app_git_repo
    assert setup.returncode == 0, explain(setup)

    commits = source_repository(base / "srcapp-repo")
    for host in lab.hosts:  # served to the host from the host itself: a bare repository pushed over ssh
        lab.ssh(
            host.index,
            "rm -rf /srv/git/srcapp.git && git init --quiet --bare /srv/git/srcapp.git",
            check=True,
        )
        ssh = " ".join(lab.ssh_argv(host.index)[:-1])
        git(
            base / "srcapp-repo",
            "push",
            "--quiet",
            "--mirror",
            f"ssh://root@{host.address}/srv/git/srcapp.git",
            env={**os.environ, "GIT_SSH_COMMAND": ssh},
        )

    def assert_serving(version: str) -> None:
        for host in lab.hosts:
            assert version_of(lab, host.index, f"http://{host.address}:3990") == version
            health = lab.ssh(
                host.index, "docker inspect --format '{{.State.Health.Status}}' srcapp-web-1", check=True
            )
            assert health.stdout.strip() == "healthy"
            commit = lab.ssh(host.index, "cat /opt/srcapp/current/COMMIT", check=True).stdout.strip()
            assert commit == commits[version]
            workers = lab.ssh(
                host.index, "docker ps --filter name=srcapp-worker --format '{{.Names}}'", check=True
            ).stdout.split()
            assert sorted(workers) == ["srcapp-worker-1", "srcapp-worker-2"], workers

    def rollbacks(i: int) -> list[str]:
        return lab.ssh(i, "cat /opt/srcapp/rollbacks.log 2>/dev/null").stdout.split()

    v1 = play(inventory, "deploy.yml", "-e", "app_version=1.0.0")
    assert v1.returncode == 0, explain(v1)
    assert_serving("1.0.0")
    v2 = play(inventory, "deploy.yml", "-e", "app_version=2.0.0")
    assert v2.returncode == 0, explain(v2)
    assert_serving("2.0.0")

    # Docker's health of a broken web goes `starting` -> `unhealthy` (3 failed checks); give up after 30s.
    broken = play(inventory, "deploy.yml", "-e", "app_version=broken", "-e", "app_service_deadline=30")
    assert broken.returncode == 2, explain(broken)
    assert re.search(
        r"service web is not healthy after 30s: docker health status: (unhealthy|starting)", broken.stdout
    ), explain(broken)
    assert_serving("2.0.0")
    assert [rollbacks(h.index) for h in lab.hosts] == [["2.0.0"]] * len(lab.hosts)

    back = play(inventory, "rollback.yml", "-e", f"to_commit={commits['1.0.0'][:10]}")
    assert back.returncode == 0, explain(back)
    assert_serving("1.0.0")
    assert [rollbacks(h.index) for h in lab.hosts] == [["2.0.0", "1.0.0"]] * len(lab.hosts)


def test_app_settings_errors_before_any_host_is_touched(apps_fleet: tuple[LabSession, Path]) -> None:
    lab = apps_fleet[0]
    inventory = example_inventory(apps_fleet, "catalogizer")
    bad = {"app_services": {"api": {"image": "x:1", "depends_on": ["db"], "health": {"type": "htp"}}}}
    result = play(inventory, "deploy.yml", "-e", "app_version=3.0.0", "-e", json.dumps(bad))
    assert result.returncode == 2, explain(result)
    assert "app_services.api.depends_on: unknown service 'db'" in result.stdout, explain(result)
    assert "app_services.api.health.type: 'htp' is not one of" in result.stdout, explain(result)
    assert "Take the deploy lock" not in result.stdout  # the second play never started
    releases = lab.ssh(1, "ls /opt/catalogizer/releases", check=True).stdout
    assert "3.0.0" not in releases


# ---- CatalogAI, SpherosegV4, AI Chat: the same story, one after the other on the same fleet -------

# app -> (the service whose /version names the release, its base URL's port, the runbook's checks:
# (path, port, what the body must contain))
OTHER_APPS = {
    "catalogai": ("backend", 8000, [("/health/", 8000, '"status":"ok"'), ("/", 3000, "<html")]),
    "spherosegv4": (
        "backend",
        5001,
        [("/health", 5001, '"status":"ok"'), ("/health", 5002, '"status":"healthy"'), ("/", 3000, "<html")],
    ),
    "ai-chat": ("backend", 3001, [("/health", 3001, '"status":"ok"'), ("/health", 8080, "healthy")]),
}


@pytest.mark.slow
@pytest.mark.parametrize("app", sorted(OTHER_APPS))
def test_other_examples(apps_fleet: tuple[LabSession, Path], app: str) -> None:
    lab = apps_fleet[0]
    _, port, checks = OTHER_APPS[app]
    for host in lab.hosts:  # the examples share ports (5432, 8000, 8080, ...): one app at a time
        lab.ssh(
            host.index,
            "docker rm -f $(docker ps -aq) >/dev/null 2>&1; /etc/init.d/ai-diy stop >/dev/null 2>&1; true",
        )
    inventory = example_inventory(apps_fleet, app)
    bootstrap_twice(lab, inventory)

    def assert_serving(version: str) -> None:
        for host in lab.hosts:
            for path, check_port, expect in checks:
                url = f"http://{host.address}:{check_port}{path}"
                body = lab.ssh(host.index, f"curl -fsS --max-time 5 {url}")
                assert body.returncode == 0 and expect in body.stdout.replace(" ", ""), (url, body)
            assert version_of(lab, host.index, f"http://{host.address}:{port}") == version

    for version in ("1.0.0", "2.0.0"):
        result = play(inventory, "deploy.yml", "-e", f"app_version={version}")
        assert result.returncode == 0, explain(result)
        assert_serving(version)
    # A broken stand-in answers 503 at once: 20s (not the default 60s) to give up on it is plenty.
    broken = play(inventory, "deploy.yml", "-e", "app_version=broken", "-e", "app_service_deadline=20")
    assert broken.returncode == 2 and "is not healthy after 20s" in broken.stdout, explain(broken)
    assert_serving("2.0.0")
    back = play(inventory, "rollback.yml")
    assert back.returncode == 0, explain(back)
    assert_serving("1.0.0")
