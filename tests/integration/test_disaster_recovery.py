"""Disaster recovery (issue 14) on real lab hosts, with the Catalogizer example (PostgreSQL, Redis,
the api's uploads directory, nginx): backup sets with manifests, verification and copies off the
host; retention over faked dates; a restore of the wrong set undone by its safety set; maintenance
mode through nginx; and the drill: the server destroyed (`lab reset`), the backup store killed,
recover.yml from the controller's copy brings every row, key and file back.

Shares apps_fleet (and, when test_app_examples ran first, its Catalogizer deploy on h1); h2 is the
backup store. Every check reads the hosts with the system ssh client, independent of orch.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from test_app_examples import example_inventory, explain, play, psql

from orchestrator.lab.testing import LabSession

pytestmark = [pytest.mark.lab, pytest.mark.slow]

APP = "/opt/catalogizer"
SECRETS = ("lab-postgres-password", "lab-redis-password", "lab-jwt-secret")


@dataclass
class Drill:
    lab: LabSession
    inventory: Path
    controller: Path  # backup_fetch_dir

    def play(self, playbook: str, *extra: str) -> CompletedProcess[str]:
        result = play(
            self.inventory, playbook, "-l", "h1", "-e", f"backup_fetch_dir={self.controller}", *extra
        )
        for secret in SECRETS:
            assert secret not in result.stdout + result.stderr, f"{secret} in the output of {playbook}"
        return result

    def sh(self, command: str, host: int = 1) -> str:
        return self.lab.ssh(host, command, check=True).stdout


@pytest.fixture(scope="module")
def drill(apps_fleet: tuple[LabSession, Path], tmp_path_factory: pytest.TempPathFactory) -> Drill:
    """Catalogizer running on h1 (deployed here unless test_app_examples left it running)."""
    lab = apps_fleet[0]
    inventory = example_inventory(apps_fleet, "catalogizer")
    d = Drill(lab, inventory, tmp_path_factory.mktemp("orch-backups"))
    if lab.ssh(1, f"curl -fsS --max-time 5 http://{lab.address(1)}/health").returncode != 0:
        for playbook, extra in (("bootstrap.yml", ()), ("deploy.yml", ("-e", "app_version=1.0.0"))):
            result = d.play(playbook, *extra)
            assert result.returncode == 0, explain(result)
    return d


def write_data(d: Drill, tag: str) -> None:
    """A row, a Redis key and an uploaded file named by `tag`."""
    psql(d.lab, 1, "create table if not exists notes (body text)")
    psql(d.lab, 1, f"insert into notes values ('note {tag}')")
    d.sh(f"docker exec catalogizer-redis-1 redis-cli set key:{tag} 'value {tag}' >/dev/null")
    d.sh(f"mkdir -p {APP}/data/uploads && head -c 20000 /dev/urandom > {APP}/data/uploads/{tag}.bin")


def fingerprint(d: Drill) -> dict[str, str]:
    """Checksums of what the app holds: the rows, the Redis keys and values, the uploaded files."""
    rows = psql(d.lab, 1, "select coalesce(string_agg(body, '|' order by body), '') from notes")
    keys = d.sh(
        "docker exec catalogizer-redis-1 sh -c "
        '\'for k in $(redis-cli --scan | sort); do echo "$k=$(redis-cli get "$k")"; done\''
    )
    files = d.sh(f"cd {APP}/data && find . -type f | sort | xargs -r sha256sum")
    return {"rows": rows, "keys": keys, "files": files}


def healthy(d: Drill) -> None:
    addr = d.lab.address(1)
    body = d.sh(f"curl -fsS --max-time 5 http://{addr}/health")
    assert json.loads(body)["status"] == "healthy", body
    assert "accepting connections" in d.sh("docker exec catalogizer-postgres-1 pg_isready -U catalogizer")
    assert d.sh("docker exec catalogizer-redis-1 redis-cli ping").strip() == "PONG"


def newest_set(output: str) -> str:
    found = re.findall(r"(catalogizer-\d{8}T\d{6}Z-full) on h1: ", output)
    assert found, output
    return found[-1]


def test_backup_set_verified_copied_off_the_host_and_pruned(drill: Drill) -> None:
    d = drill
    write_data(d, "backup")
    result = d.play("backup.yml", "-e", "backup_verify_restore=true")
    assert result.returncode == 0, explain(result)
    set_id = newest_set(result.stdout)
    assert "test restore: restored into catalogizer_restore_check" in result.stdout, explain(result)
    on_host = f"{APP}/backups/{set_id}"
    manifest = d.sh(f"cat {on_host}/MANIFEST")
    parts = {line.split()[1]: line.split() for line in manifest.splitlines() if line.startswith("part ")}
    assert set(parts) == {
        "db.sql.gz",
        "redis-redis.rdb",
        "files-opt_catalogizer_data.tar.gz",
        "release.tar.gz",
    }
    assert re.search(r"^version \S+$", manifest, re.M) and f"id {set_id}" in manifest
    assert d.sh(
        f"cd {on_host} && sha256sum -c SHA256SUMS && test -f VERIFIED && stat -c %a . db.sql.gz"
    ).split()[-2:] == ["700", "600"]
    # The copies: the controller's (private) and the backup store's, the same bytes.
    copy = d.controller / "h1" / set_id
    sums = (copy / "SHA256SUMS").read_text()
    assert (
        sums
        == d.sh(f"cat {on_host}/SHA256SUMS")
        == d.sh(f"cat /var/backups/orch/h1/{set_id}/SHA256SUMS", host=2)
    )
    for line in sums.splitlines():
        digest, name = line.split()
        assert parts[name][3] == digest
    d.sh(f"cd /var/backups/orch/h1/{set_id} && sha256sum -c SHA256SUMS", host=2)
    assert copy.stat().st_mode & 0o777 == 0o700

    # Retention (backup_keep 7, backup_max_age_days 30): ten more sets taken by the host's own
    # script (cron's; kind db, the database only, to be quick), stamped 1, 5, ..., 37 days ago:
    # exactly the newest 7 sets of that kind not older than 30 days stay.
    now = datetime.now(UTC)
    fakes = [(now - timedelta(days=1 + 4 * i)).strftime("%Y%m%dT%H%M%SZ") for i in range(10)]
    listing = f"ls -1 {APP}/backups | grep -- '-db$' || true"
    before = d.sh(listing).split()
    made = d.lab.ssh(
        1, " && ".join(f"BACKUP_TIME={t} {APP}/bin/backup.sh db >/dev/null" for t in fakes), timeout=600
    )
    assert made.returncode == 0, made.stderr
    every = sorted(before + [f"catalogizer-{t}-db" for t in fakes], reverse=True)

    def age_days(name: str) -> float:
        stamp = datetime.strptime(name.split("-")[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return (now - stamp).total_seconds() / 86400

    expected = [n for n in every[:7] if age_days(n) <= 30]
    assert sorted(d.sh(listing).split(), reverse=True) == expected


def test_restore_of_the_wrong_set_is_undone_by_the_safety_set(drill: Drill) -> None:
    d = drill
    write_data(d, "old")
    old_set = d.sh(f"{APP}/bin/backup.sh full 2>/dev/null").split()[-1].rsplit("/", 1)[-1]
    old = fingerprint(d)
    write_data(d, "new")  # the data that matters now
    new = fingerprint(d)
    assert new != old

    # The deploy lock held: restore refuses before touching anything.
    d.sh(f"mkdir {APP}/.deploy.lock && echo who=someone-else > {APP}/.deploy.lock/info")
    refused = d.play("restore.yml", "-e", f"restore_set={old_set}")
    d.sh(f"rm -rf {APP}/.deploy.lock")
    assert (
        refused.returncode == 2 and "deploy lock" in refused.stdout and "who=someone-else" in refused.stdout
    )
    assert fingerprint(d) == new

    wrong = d.play("restore.yml", "-e", f"restore_set={old_set}")
    assert wrong.returncode == 0, explain(wrong)
    assert fingerprint(d) == old
    healthy(d)
    [safety] = re.findall(r"safety set: (catalogizer-\d{8}T\d{6}Z-safety)", wrong.stdout)

    undo = d.play("restore.yml", "-e", f"restore_set={safety}", "-e", "restore_from=store")
    assert (
        undo.returncode == 2 and f"no verified backup set {safety} of h1" in undo.stdout
    )  # not copied there
    undo = d.play("restore.yml", "-e", f"restore_set={safety}")
    assert undo.returncode == 0, explain(undo)
    assert fingerprint(d) == new
    healthy(d)
    audit = d.sh("tail -n 2 /var/log/catalogizer-deploy.log")
    assert f"restore app=catalogizer set={old_set} from=host safety={safety}" in audit
    assert f"restore app=catalogizer set={safety} from=host" in audit

    # From the backup store: the set of the first test, by its time (the newest full set at or before).
    stored = d.sh("ls -1 /var/backups/orch/h1", host=2).split()
    if stored:
        stamp = stored[-1].split("-")[1]
        from_store = d.play(
            "restore.yml",
            "-e",
            f"restore_set={stamp}",
            "-e",
            "restore_from=store",
            "-e",
            "restore_safety=false",
        )
        assert from_store.returncode == 0, explain(from_store)
        assert f"restored {stored[-1]} (from store)" in from_store.stdout
        back = d.play("restore.yml", "-e", f"restore_set={safety}", "-e", "restore_safety=false")
        assert back.returncode == 0 and fingerprint(d) == new, explain(back)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_maintenance_mode_answers_503_with_the_custom_page_then_200(drill: Drill, tmp_path: Path) -> None:
    d = drill
    url = f"http://{d.lab.address(1)}/health"
    page = tmp_path / "maintenance.html"
    page.write_text("<h1>{{ app_name }}: back at 14:00 (custom page)</h1>\n")
    on = d.play(
        "maintenance.yml",
        "-e",
        "maintenance_mode=on",
        "-e",
        f"maintenance_page={page}",
        "-e",
        "maintenance_cleanup=false",
    )
    assert on.returncode == 0, explain(on)
    status, body = get(url)
    assert (status, body.strip()) == (503, "<h1>catalogizer: back at 14:00 (custom page)</h1>")
    running = d.sh("docker ps --format '{{.Names}}'").split()
    assert running == ["catalogizer-nginx-1"], running  # the app stopped, nginx serves the page
    report = d.play("health.yml")
    assert report.returncode == 2 and "maintenance FAIL on (who=" in report.stdout, explain(report)

    off = d.play("maintenance.yml", "-e", "maintenance_mode=off", "-e", "maintenance_cleanup=false")
    assert off.returncode == 0, explain(off)
    status, body = get(url)
    assert status == 200 and json.loads(body)["status"] == "healthy"
    healthy(d)


def test_drill_server_destroyed_store_killed_recover_from_the_controller_copy(drill: Drill) -> None:
    d = drill
    write_data(d, "drill")
    want = fingerprint(d)
    backup = d.play("backup.yml")
    assert backup.returncode == 0, explain(backup)
    set_id = newest_set(backup.stdout)

    d.lab.reset(1)  # the server is gone: a pristine Debian with sshd (no Docker, no app, no data)
    assert d.lab.ssh(1, f"test -e {APP}").returncode == 1
    d.lab.kill(2)  # and so is the backup store
    try:
        started = time.monotonic()
        recover = d.play("recover.yml", "-e", "recover_from=h1")
        took = time.monotonic() - started
    finally:
        d.lab.revive(2)
    assert recover.returncode == 0, explain(recover)
    printed = re.search(rf"h1 recovered in (\d+)s from {set_id} \(controller copy of h1\)", recover.stdout)
    assert printed, explain(recover)
    print(f"\nrecovery: {printed.group(0)} (wall {took:.0f}s)")
    for what in (
        "restored database catalogizer",
        "restored redis redis (/data/dump.rdb)",
        f"restored files {APP}/data",
    ):
        assert what in recover.stdout, explain(recover)
    healthy(d)
    assert fingerprint(d) == want
