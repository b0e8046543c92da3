"""The operator playbook library's acceptance scenario (issue 5), on a fleet of 3 real lab hosts.

One fleet (operator_fleet in tests/integration/conftest.py; the scenario is a story: each step starts where
the last one left the hosts), its own lab slot so nothing else disturbs it. Steps, as an operator runs them:

    bootstrap (rc 0, then changed=0) -> deploy 1.0.0 -> deploy 2.0.0 -> deploy broken (rc 2, every
    host rolled back to 2.0.0) -> rollback (1.0.0) -> patch -> health (table, rc 0)

then the failure paths that hang off it: a held deploy lock, an unhealthy host. /health is read
on each host with curl over the system ssh client, independent of orch.
"""

from __future__ import annotations

import datetime
import gzip
import re
import sqlite3
import subprocess
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from orchestrator.lab.testing import REPO_ROOT, LabSession, recap_counters, run_orch

PLAYBOOKS = REPO_ROOT / "playbooks"
pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def fleet(operator_fleet: tuple[LabSession, Path]) -> tuple[LabSession, Path]:
    return operator_fleet


def play(inventory: Path, playbook: str, *extra: str) -> CompletedProcess[str]:
    return run_orch(
        "play", str(PLAYBOOKS / playbook), "-i", str(inventory), *extra, cwd=REPO_ROOT, timeout=900
    )


def health(lab: LabSession, i: int) -> str:
    """The app's /health on host i, fetched on the host itself."""
    out = lab.ssh(i, f"curl -s --max-time 5 http://{lab.address(i)}:8080/health")
    return out.stdout


def assert_version_everywhere(lab: LabSession, version: str) -> None:
    for host in lab.hosts:
        body = health(lab, host.index)
        assert f'"version":"{version}"' in body and '"status":"ok"' in body, (host.name, body)
        # The app on that host is really the one answering: its own container runs that version.
        ps = lab.ssh(host.index, "docker ps --format '{{.Image}} {{.State}}'", check=True).stdout
        assert f"orch-demo-app:{version} running" in ps, (host.name, ps)


def explain(result: CompletedProcess[str]) -> str:
    return f"rc={result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


def test_acceptance_scenario(fleet: tuple[LabSession, Path]) -> None:
    lab, inventory = fleet
    names = [h.name for h in lab.hosts]

    first = play(inventory, "bootstrap.yml")
    assert first.returncode == 0, explain(first)
    assert all(recap_counters(first.stdout)[h]["changed"] > 0 for h in names)
    again = play(inventory, "bootstrap.yml")
    assert again.returncode == 0, explain(again)
    assert {h: recap_counters(again.stdout)[h]["changed"] for h in names} == dict.fromkeys(names, 0), explain(
        again
    )
    for host in lab.hosts:
        env = lab.ssh(host.index, "stat -c '%a %U' /opt/demo/shared/.env; docker compose version", check=True)
        assert env.stdout.startswith("600 root\n") and "Docker Compose version 2." in env.stdout
    # The .env holds a secret; it is never shown.
    assert "lab-secret-not-for-production" not in first.stdout + again.stdout
    # The admin from group_vars logs in with its key and has sudo; sshd refuses passwords now.
    assert lab.ssh(1, "sudo -n id -u", user="orchadmin", check=True).stdout.strip() == "0"
    password_login = subprocess.run(
        [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            f"UserKnownHostsFile={lab.known_hosts_path}",
            f"ops@{lab.address(1)}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert password_login.returncode == 255 and "Permission denied (publickey)" in password_login.stderr

    v1 = play(inventory, "deploy.yml", "-e", "app_version=1.0.0")
    assert v1.returncode == 0, explain(v1)
    assert_version_everywhere(lab, "1.0.0")

    v2 = play(inventory, "deploy.yml", "-e", "app_version=2.0.0")
    assert v2.returncode == 0, explain(v2)
    assert_version_everywhere(lab, "2.0.0")

    broken = play(inventory, "deploy.yml", "-e", "app_version=broken")
    assert broken.returncode == 2, explain(broken)
    for h in names:
        assert (
            recap_counters(broken.stdout)[h]["failed"] == 1
            and recap_counters(broken.stdout)[h]["rescued"] == 1
        ), explain(broken)
        assert re.search(
            rf"fatal: \[{h}\]: FAILED!\s+msg:\s+deploy of broken failed on {h}: service app is not healthy after \d+s: "
            r"http://\S+/health answered 503, wanted 200\n.*last \d+ log lines of app:.*"
            r"rolled back to release \S+-2\.0\.0 \(version 2\.0\.0\)",
            broken.stdout,
            re.S,
        ), explain(broken)
    assert_version_everywhere(lab, "2.0.0")
    for host in lab.hosts:
        audit = lab.ssh(host.index, "cat /var/log/demo-deploy.log", check=True).stdout.splitlines()
        assert [re.search(r"version=(\S+) .* result=(\S+)", line).groups() for line in audit] == [
            ("1.0.0", "ok"),
            ("2.0.0", "ok"),
            ("broken", "rolled-back"),
        ]
        # The lock is released and the failed release is recorded as failed.
        state = lab.ssh(
            host.index, "ls -a /opt/demo; cat /opt/demo/releases/*-broken/STATUS", check=True
        ).stdout
        assert ".deploy.lock" not in state and state.rstrip().endswith("failed")

    back = play(inventory, "rollback.yml")
    assert back.returncode == 0, explain(back)
    assert_version_everywhere(lab, "1.0.0")
    for host in lab.hosts:
        last = lab.ssh(host.index, "tail -n 1 /var/log/demo-deploy.log", check=True).stdout
        assert " rollback app=demo version=1.0.0 " in last and last.rstrip().endswith("result=ok")

    patched = play(inventory, "patch.yml")
    assert patched.returncode == 0, explain(patched)
    assert_version_everywhere(lab, "1.0.0")

    report = play(inventory, "health.yml")
    assert report.returncode == 0, explain(report)
    assert "HOST         STATUS   CHECKS" in report.stdout
    for host in lab.hosts:
        assert re.search(
            rf"{host.name}\s+ok\s+http ok 200 http://{re.escape(host.address)}:8080/health; "
            r"containers ok 1/1 running",
            report.stdout,
        ), explain(report)


def test_deploy_lock_held_stops_deploy_and_force_breaks_it(fleet: tuple[LabSession, Path]) -> None:
    lab, inventory = fleet
    lab.ssh(1, "mkdir /opt/demo/.deploy.lock && echo who=alice > /opt/demo/.deploy.lock/info", check=True)
    held = play(inventory, "deploy.yml", "-e", "app_version=2.0.0", "--limit", "h1")
    assert held.returncode == 2, explain(held)
    assert "deploy lock /opt/demo/.deploy.lock is held (who=alice)" in held.stdout
    assert "-e deploy_force=true" in held.stdout
    assert '"version":"1.0.0"' in health(lab, 1)  # nothing was deployed
    forced = play(
        inventory, "deploy.yml", "-e", "app_version=2.0.0", "-e", "deploy_force=true", "--limit", "h1"
    )
    assert forced.returncode == 0, explain(forced)
    assert '"version":"2.0.0"' in health(lab, 1)
    assert ".deploy.lock" not in lab.ssh(1, "ls -a /opt/demo", check=True).stdout


def test_health_reports_an_unhealthy_host(fleet: tuple[LabSession, Path]) -> None:
    lab, inventory = fleet
    lab.ssh(2, "docker stop demo-app-1", check=True)
    try:
        report = play(inventory, "health.yml")
        assert report.returncode == 2, explain(report)
        assert re.search(r"h2\s+UNHEALTHY\s+http FAIL 000 .*containers FAIL 0/1 running", report.stdout), (
            explain(report)
        )
        assert re.search(r"h1\s+ok\s+", report.stdout)
        assert (
            recap_counters(report.stdout)["h2"]["failed"] == 1
            and recap_counters(report.stdout)["h1"]["failed"] == 0
        )
    finally:
        lab.ssh(2, "docker start demo-app-1", check=True)


def test_backup_restore_and_maintenance(fleet: tuple[LabSession, Path], tmp_path: Path) -> None:
    lab, inventory = fleet
    sqlite = ("-e", "app_db_type=sqlite", "--limit", "h1")
    boot = play(inventory, "bootstrap.yml", *sqlite)  # installs sqlite3, renders the sqlite backup script
    assert boot.returncode == 0, explain(boot)
    lab.ssh(
        1,
        "sqlite3 /opt/demo/data/app.db 'create table t(x); insert into t values (1), (2), (3);'",
        check=True,
    )

    backup = play(inventory, "backup.yml", *sqlite, "-e", f"backup_fetch_dir={tmp_path}")
    assert backup.returncode == 0, explain(backup)
    [copy] = (tmp_path / "h1").glob("demo-*-full/db.sqlite.gz")  # a backup set (docs/playbooks.md)
    assert copy.stat().st_mode & 0o777 == 0o600 and (copy.parent / "VERIFIED").exists()
    restored_here = tmp_path / "check.db"
    restored_here.write_bytes(gzip.decompress(copy.read_bytes()))
    with sqlite3.connect(restored_here) as db:
        assert [r[0] for r in db.execute("select x from t order by x")] == [1, 2, 3]
    on_host = f"/opt/demo/backups/{copy.parent.name}"
    assert lab.ssh(1, f"cd {on_host} && sha256sum -c SHA256SUMS && stat -c %a db.sqlite.gz", check=True).stdout.strip().endswith("600")

    lab.ssh(1, "sqlite3 /opt/demo/data/app.db 'delete from t; insert into t values (42);'", check=True)
    restore = play(inventory, "restore.yml", *sqlite, "-e", "restore_set=latest")
    assert restore.returncode == 0, explain(restore)
    assert lab.ssh(1, "sqlite3 /opt/demo/data/app.db 'select x from t'", check=True).stdout.split() == [
        "1",
        "2",
        "3",
    ]
    assert (
        "42"
        in lab.ssh(1, "sqlite3 /opt/demo/data/app.db.before-restore 'select x from t'", check=True).stdout
    )
    assert (
        f" restore app=demo set={copy.parent.name} from=host safety=demo-"
        in lab.ssh(1, "tail -n 1 /var/log/demo-deploy.log").stdout
    )
    # deploy backs the database up first when one is configured (a set of kind db).
    count = "ls -d /opt/demo/backups/demo-*-db | wc -l"
    before = int(lab.ssh(1, count, check=True).stdout)
    deployed = play(inventory, "deploy.yml", *sqlite, "-e", "app_version=2.0.0")
    assert deployed.returncode == 0, explain(deployed)
    assert int(lab.ssh(1, count, check=True).stdout) == before + 1
    missing = play(inventory, "restore.yml", *sqlite, "-e", "restore_set=nope")
    assert missing.returncode == 2 and "no verified backup set nope of h1 (demo)" in missing.stdout, explain(missing)

    on = play(inventory, "maintenance.yml", "--limit", "h1", "-e", "maintenance_mode=on")
    assert on.returncode == 0, explain(on)
    assert health(lab, 1) == ""  # the app is stopped
    assert "reason=maintenance" in lab.ssh(1, "cat /opt/demo/shared/MAINTENANCE", check=True).stdout
    off = play(inventory, "maintenance.yml", "--limit", "h1", "-e", "maintenance_mode=off")
    assert off.returncode == 0, explain(off)
    assert '"status":"ok"' in health(lab, 1)
    assert lab.ssh(1, "test -e /opt/demo/shared/MAINTENANCE").returncode == 1


def _certificate(days: int) -> str:
    """A self-signed PEM certificate valid for `days` more days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days, hours=12))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_health_checks_certificate_expiry(fleet: tuple[LabSession, Path]) -> None:
    lab, inventory = fleet
    lab.ssh(3, "cat > /etc/ssl/soon.pem", input=_certificate(5), check=True)
    lab.ssh(3, "cat > /etc/ssl/later.pem", input=_certificate(60), check=True)
    certs = ("--limit", "h3", "-e", '{"health_cert_files": ["/etc/ssl/soon.pem", "/etc/ssl/later.pem"]}')
    report = play(inventory, "health.yml", *certs)
    assert report.returncode == 2, explain(report)
    assert (
        "cert FAIL /etc/ssl/soon.pem 5d" in report.stdout
        and "cert ok /etc/ssl/later.pem 60d" in report.stdout
    )
    lab.ssh(3, "rm /etc/ssl/soon.pem", check=True)
    again = play(inventory, "health.yml", *certs)
    assert again.returncode == 2 and "cert FAIL /etc/ssl/soon.pem unreadable" in again.stdout
    fine = play(
        inventory, "health.yml", "--limit", "h3", "-e", '{"health_cert_files": ["/etc/ssl/later.pem"]}'
    )
    assert fine.returncode == 0, explain(fine)


def test_env_secret_change_is_reported_never_shown(fleet: tuple[LabSession, Path]) -> None:
    lab, inventory = fleet
    secret = '{"app_secrets": {"APP_SECRET_KEY": "rotated-TOPSECRET-value"}}'
    checked = play(inventory, "bootstrap.yml", "--limit", "h2", "--check", "--diff", "-e", secret)
    assert checked.returncode == 0, explain(checked)
    assert re.search(r"TASK \[App \.env[^\n]*\n(?:[^\n]*\n)?changed: \[h2\]", checked.stdout), explain(
        checked
    )
    assert "TOPSECRET" not in checked.stdout + checked.stderr
    assert "lab-secret-not-for-production" not in checked.stdout + checked.stderr
    assert "APP_SECRET_KEY=lab-secret" in lab.ssh(2, "cat /opt/demo/shared/.env", check=True).stdout
    rotated = play(inventory, "bootstrap.yml", "--limit", "h2", "--diff", "-e", secret)
    assert rotated.returncode == 0 and "TOPSECRET" not in rotated.stdout + rotated.stderr
    env = lab.ssh(2, "stat -c %a /opt/demo/shared/.env; cat /opt/demo/shared/.env", check=True).stdout
    assert env.startswith("600\n") and "APP_SECRET_KEY=rotated-TOPSECRET-value" in env
