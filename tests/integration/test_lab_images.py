"""The lab images (orchestrator/lab/images, docs/lab-images.md) running in real Docker on a lab
host: PostgreSQL takes logins and dumps, Redis saves, nginx reloads, the stand-ins answer their
runbook health and `broken` fails. One Docker host (operator_docker's h3), images built once
(cached) and loaded with `docker load`, containers on --network=host bound to the host's address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab.images import build_bundle
from orchestrator.lab.testing import LabSession

pytestmark = pytest.mark.lab

HOST = 3
REFS = [
    ("postgres", "15"),
    ("redis", "7"),
    ("nginx", "1.22"),
    ("catalogizer-api", "1.0.0"),
    ("catalogizer-api", "broken"),
]


@pytest.fixture(scope="module")
def lab(operator_docker: tuple[LabSession, Path]) -> Iterator[LabSession]:
    session, _ = operator_docker
    # One tarball for all of them (the shared layers once), as `orch lab image A B ...` writes it.
    loaded = session.docker_load(HOST, build_bundle(REFS))
    for name, version in REFS:
        assert f"Loaded image: orch-lab/{name}:{version}" in loaded
    yield session
    sh(session, "docker rm -f $(docker ps -aq --filter label=orch-test=lab-images) >/dev/null 2>&1 || true")


def sh(lab: LabSession, cmd: str, *, check: bool = True) -> str:
    result = lab.ssh(HOST, cmd, timeout=180)
    if check:
        assert result.returncode == 0, f"{cmd}\n{result.stdout}{result.stderr}"
    return result.stdout


def run(lab: LabSession, name: str, args: str) -> None:
    sh(
        lab,
        f"docker rm -f {name} >/dev/null 2>&1; docker run -d --name {name} --network host --label orch-test=lab-images {args}",
    )


def wait_health(lab: LabSession, name: str, wanted: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = sh(lab, f"docker inspect --format '{{{{.State.Health.Status}}}}' {name}").strip()
        if status == wanted:
            return
        time.sleep(0.5)
    pytest.fail(
        f"{name}: health {status!r}, wanted {wanted!r}; logs:\n{sh(lab, f'docker logs {name} 2>&1 | tail -20')}"
    )


@pytest.mark.slow
def test_postgres_login_database_dump_restore(lab: LabSession) -> None:
    address = lab.address(HOST)
    run(
        lab,
        "lt-postgres",
        f"-e LISTEN_ADDR={address} -e PGPORT=15432 -e POSTGRES_USER=catalogizer -e POSTGRES_PASSWORD='s3 cret'"
        " -e POSTGRES_DB=catalogizer -v lt-pgdata:/var/lib/postgresql/data orch-lab/postgres:15",
    )
    wait_health(lab, "lt-postgres", "healthy")
    assert "accepting connections" in sh(lab, "docker exec lt-postgres pg_isready -U catalogizer")
    # A password login over TCP on the host's address, into POSTGRES_DB.
    tcp = f"psql -h {address} -p 15432 -U catalogizer -d catalogizer -tAc"
    who = sh(
        lab,
        f"docker exec -e PGPASSWORD='s3 cret' lt-postgres {tcp} 'select current_user, current_database()'",
    )
    assert who.strip() == "catalogizer|catalogizer"
    wrong = lab.ssh(HOST, f"docker exec -e PGPASSWORD=nope lt-postgres {tcp} 'select 1'")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    # pg_dump through docker exec, then a restore brings the rows back.
    psql = "docker exec -i lt-postgres psql -v ON_ERROR_STOP=1 -U catalogizer -d catalogizer -tAc"
    sh(lab, f"{psql} 'create table items (id int); insert into items values (1), (2)'")
    sh(
        lab,
        "docker exec lt-postgres pg_dump -U catalogizer -Fc catalogizer > /root/lt.dump && test -s /root/lt.dump",
    )
    sh(lab, f"{psql} 'drop table items'")
    sh(lab, "docker exec -i lt-postgres pg_restore -U catalogizer -d catalogizer < /root/lt.dump")
    assert sh(lab, f"{psql} 'select count(*) from items'").strip() == "2"
    # A stand-in's `migrate` is a real client of it; MIGRATE_FAIL writes nothing.
    url = f"postgresql://catalogizer:s3%20cret@{address}:15432/catalogizer"
    migrate = f"docker run --rm --network host -e DATABASE_URL={url} orch-lab/catalogizer-api:1.0.0 migrate"
    sh(lab, migrate)
    assert lab.ssh(HOST, migrate.replace("--rm", "--rm -e MIGRATE_FAIL=1")).returncode == 1
    assert sh(lab, f"{psql} 'select version from app_migrations'").strip() == "1.0.0"
    # Restarted on its volume: no second initdb, the data is there.
    sh(lab, "docker restart lt-postgres >/dev/null")
    wait_health(lab, "lt-postgres", "healthy")
    assert sh(lab, f"{psql} 'select count(*) from items'").strip() == "2"
    assert sh(lab, "docker logs lt-postgres 2>&1 | grep -c 'init process complete'").strip() == "1"
    sh(lab, "docker rm -f lt-postgres >/dev/null; docker volume rm lt-pgdata >/dev/null")


def test_postgres_without_password_is_refused(lab: LabSession) -> None:
    result = lab.ssh(HOST, "docker run --rm --network host orch-lab/postgres:15")
    assert result.returncode == 1 and "POSTGRES_PASSWORD is not set" in result.stderr


@pytest.mark.slow
def test_redis_ping_set_bgsave(lab: LabSession) -> None:
    address = lab.address(HOST)
    run(
        lab,
        "lt-redis",
        f"-e LISTEN_ADDR={address} -e PORT=16379 -e REDIS_PASSWORD=pw -v lt-redisdata:/data orch-lab/redis:7",
    )
    wait_health(lab, "lt-redis", "healthy")
    assert sh(lab, "docker exec lt-redis redis-cli ping").strip() == "PONG"
    # Listening on the host's address, and the password is required there.
    raw = lab.ssh(HOST, f"docker exec lt-redis /usr/bin/redis-cli -h {address} -p 16379 ping")
    assert "NOAUTH" in raw.stdout + raw.stderr
    assert sh(lab, "docker exec lt-redis redis-cli set greeting hello").strip() == "OK"
    before = sh(lab, "docker exec lt-redis redis-cli lastsave").strip()
    time.sleep(1.1)  # LASTSAVE has one-second resolution
    assert "Background saving started" in sh(lab, "docker exec lt-redis redis-cli bgsave")
    for _ in range(50):
        if sh(lab, "docker exec lt-redis redis-cli lastsave").strip() != before:
            break
        time.sleep(0.2)
    else:
        pytest.fail("BGSAVE did not complete")
    assert sh(lab, "docker exec lt-redis sh -c 'test -s /data/dump.rdb && echo saved'").strip() == "saved"
    # The snapshot survives a new container on the same volume.
    run(
        lab,
        "lt-redis",
        f"-e LISTEN_ADDR={address} -e PORT=16379 -e REDIS_PASSWORD=pw -v lt-redisdata:/data orch-lab/redis:7",
    )
    wait_health(lab, "lt-redis", "healthy")
    assert sh(lab, "docker exec lt-redis redis-cli get greeting").strip() == "hello"
    sh(lab, "docker rm -f lt-redis >/dev/null; docker volume rm lt-redisdata >/dev/null")


def test_nginx_serves_tests_and_reloads(lab: LabSession) -> None:
    address = lab.address(HOST)
    conf = "server {{ listen {a}:18080; location / {{ default_type text/plain; return 200 '{body}\\n'; }} }}"
    sh(
        lab,
        f'mkdir -p /root/lt-nginx && echo "{conf.format(a=address, body="one")}" > /root/lt-nginx/site.conf',
    )
    run(lab, "lt-nginx", "-v /root/lt-nginx:/etc/nginx/conf.d:ro orch-lab/nginx:1.22")
    curl = f"for i in $(seq 50); do curl -sf http://{address}:18080/ && exit 0; sleep 0.2; done; exit 1"
    assert sh(lab, curl) == "one\n"
    started = sh(lab, "docker inspect --format '{{.State.StartedAt}}' lt-nginx")
    sh(lab, f'echo "{conf.format(a=address, body="two")}" > /root/lt-nginx/site.conf')
    assert "test is successful" in lab.ssh(HOST, "docker exec lt-nginx nginx -t").stderr
    sh(lab, "docker exec lt-nginx nginx -s reload")
    for _ in range(50):
        if sh(lab, curl) == "two\n":
            break
        time.sleep(0.1)
    assert sh(lab, curl) == "two\n"
    assert (
        sh(lab, "docker inspect --format '{{.State.StartedAt}}' lt-nginx") == started
    )  # reloaded, not restarted
    sh(lab, "echo 'server { listen nowhere }' > /root/lt-nginx/site.conf")
    bad = lab.ssh(HOST, "docker exec lt-nginx nginx -t")
    assert bad.returncode == 1 and "site.conf" in bad.stderr
    sh(lab, "docker rm -f lt-nginx >/dev/null; rm -r /root/lt-nginx")


def test_standin_health_version_and_broken(lab: LabSession) -> None:
    address = lab.address(HOST)
    run(lab, "lt-api", f"-e LISTEN_ADDR={address} -e PORT=18081 orch-lab/catalogizer-api:1.0.0")
    run(lab, "lt-api-broken", f"-e LISTEN_ADDR={address} -e PORT=18082 orch-lab/catalogizer-api:broken")
    wait_health(lab, "lt-api", "healthy")
    body = json.loads(sh(lab, f"curl -sf http://{address}:18081/health"))
    assert body["status"] == "healthy" and set(body) == {"status", "time"}
    assert json.loads(sh(lab, f"curl -sf http://{address}:18081/version"))["version"] == "1.0.0"
    wait_health(lab, "lt-api-broken", "unhealthy", timeout=30)
    assert sh(lab, f"curl -s -o /dev/null -w '%{{http_code}}' http://{address}:18082/health") == "503"
    sh(lab, "docker rm -f lt-api lt-api-broken >/dev/null")
