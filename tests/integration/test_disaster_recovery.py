"""Disaster recovery (issue 14) on real lab hosts, with the Catalogizer example (PostgreSQL, Redis,
the api's uploads directory, nginx): backup sets with manifests, verification and copies off the
host; retention over faked dates; a restore of the wrong set undone by its safety set; maintenance
mode through nginx; the nightly cron job copying its set to the backup store by itself; and the
drill, twice: the server destroyed (`lab reset`), the app config changed since the backup,
recover.yml from the backup store's copy replays the recorded release (not today's config) and
brings every row, key and file back; destroyed again with the backup store killed too, from the
controller's copy. One backup path holds spaces, quotes and unicode.

Shares apps_fleet (and, when test_app_examples ran first, its Catalogizer deploy on h1) with an
inventory of its own (the example's plus host_vars/h1.yml); h2 is the backup store. Every check
reads the hosts with the system ssh client, independent of orch.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import yaml
from test_app_examples import example_inventory, explain, play, psql

from orchestrator.lab.system import LabError
from orchestrator.lab.testing import LabSession

pytestmark = [pytest.mark.lab, pytest.mark.slow]

APP = "/opt/catalogizer"
# A backup path no shell may split or run: spaces, quotes, $( ), unicode.
ODD = "/srv/catalogizer media/it's \"média\" $(touch /tmp/pwned) ☃"
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
    """Catalogizer running on h1: test_app_examples' deploy when it is still there, else (the other
    examples share its ports and remove every container) deployed here."""
    lab = apps_fleet[0]
    inventory = tmp_path_factory.mktemp("dr") / "catalogizer"
    shutil.copytree(example_inventory(apps_fleet, "catalogizer"), inventory)
    app_vars = yaml.safe_load((inventory / "group_vars" / "all.yml").read_text())
    host_vars(inventory, {"backup_paths": [*app_vars["backup_paths"], ODD]})
    d = Drill(lab, inventory, tmp_path_factory.mktemp("orch-backups"))
    running = lab.ssh(1, "docker ps --format '{{.Names}}'").stdout.split()
    serving = lab.ssh(1, f"curl -fsS --max-time 5 http://{lab.address(1)}/health").stdout
    if "catalogizer-nginx-1" not in running or '"healthy"' not in serving:
        lab.ssh(
            1, "docker rm -f $(docker ps -aq) >/dev/null 2>&1; /etc/init.d/ai-diy stop >/dev/null 2>&1; true"
        )
        for playbook, extra in (("bootstrap.yml", ()), ("deploy.yml", ("-e", "app_version=1.0.0"))):
            result = d.play(playbook, *extra)
            assert result.returncode == 0, explain(result)
    return d


def host_vars(inventory: Path, values: dict[str, object]) -> None:
    """h1's own settings (host_vars/h1.yml), over the example's group_vars."""
    path = inventory / "host_vars" / "h1.yml"
    path.parent.mkdir(exist_ok=True)
    old = yaml.safe_load(path.read_text()) if path.exists() else {}
    path.write_text(yaml.safe_dump({**old, **values}, allow_unicode=True))


def write_data(d: Drill, tag: str) -> None:
    """A row, a Redis key and an uploaded file named by `tag`."""
    psql(d.lab, 1, "create table if not exists notes (body text)")
    psql(d.lab, 1, f"insert into notes values ('note {tag}')")
    d.sh(f"docker exec catalogizer-redis-1 redis-cli set key:{tag} 'value {tag}' >/dev/null")
    d.sh(f"mkdir -p {APP}/data/uploads && head -c 20000 /dev/urandom > {APP}/data/uploads/{tag}.bin")
    d.sh(f"mkdir -p -- {shlex.quote(ODD)} && head -c 3000 /dev/urandom > {shlex.quote(ODD + f'/{tag} file.bin')}")


def fingerprint(d: Drill) -> dict[str, str]:
    """Checksums of what the app holds: the rows, the Redis keys and values, the uploaded files."""
    rows = psql(d.lab, 1, "select coalesce(string_agg(body, '|' order by body), '') from notes")
    keys = d.sh(
        "docker exec catalogizer-redis-1 sh -c "
        '\'for k in $(redis-cli --scan | sort); do echo "$k=$(redis-cli get "$k")"; done\''
    )
    files = d.sh(f"cd {APP}/data && find . -type f | sort | xargs -r sha256sum")
    odd = d.sh(f"cd {shlex.quote(ODD)} && find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
    assert odd and d.lab.ssh(1, "test -e /tmp/pwned").returncode == 1
    return {"rows": rows, "keys": keys, "files": files, "odd": odd}


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
    assert {"db.sql.gz", "redis-redis.rdb", "files-opt_catalogizer_data.tar.gz", "release.tar.gz"} <= set(
        parts
    )
    assert re.search(r"^version \S+$", manifest, re.M) and f"id {set_id}" in manifest
    # The odd path: verbatim at the end of its part's line, its files in the part.
    [odd_part] = [p for p in parts.values() if p[1].startswith("files-srv_catalogizer_media_it")]
    assert f"{' '.join(odd_part[:5])} {ODD}\n" in manifest, manifest
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


def test_the_nightly_job_copies_its_set_to_the_backup_store(drill: Drill) -> None:
    """The cron job's own command line, run as cron runs it (a bare environment): the new set
    arrives on the store, checked, with the key backup.yml set up; that key runs nothing else."""
    d = drill
    [job] = [line for line in d.sh("cat /etc/cron.d/catalogizer-backup").splitlines() if "backup.sh" in line]
    command = job.split(None, 6)[6]  # minute hour day month weekday user COMMAND
    assert command == f"{APP}/bin/backup.sh full >> /var/log/catalogizer/backup.log 2>&1"
    cron_env = "env -i HOME=/root LOGNAME=root SHELL=/bin/sh PATH=/usr/bin:/bin"
    run = d.lab.ssh(1, f"cd / && {cron_env} /bin/sh -c {shlex.quote(command)}", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr + d.sh("tail -n 20 /var/log/catalogizer/backup.log")
    log = d.sh("tail -n 30 /var/log/catalogizer/backup.log")
    set_id = re.findall(r"stored (catalogizer-\d{8}T\d{6}Z-full)$", log, re.M)[-1]
    assert d.sh(f"ls -1 {APP}/backups | grep -- -full$").split()[-1] == set_id
    on_store = f"/var/backups/orch/h1/{set_id}"
    d.sh(f"cd {on_store} && sha256sum --check --quiet SHA256SUMS && test -f VERIFIED", host=2)
    assert d.sh(f"cat {on_store}/SHA256SUMS", host=2) == d.sh(f"cat {APP}/backups/{set_id}/SHA256SUMS")
    assert d.sh(f"stat -c %a {on_store} {on_store}/MANIFEST", host=2).split() == ["700", "600"]

    # On the store the key is restricted to backup-receive.sh; the store's host key is pinned.
    [authorized] = [k for k in d.sh("cat /root/.ssh/authorized_keys", host=2).splitlines() if k.endswith(" orch-backup catalogizer@h1")]
    assert authorized.startswith('restrict,command="sh /var/backups/orch/.bin/backup-receive.sh /var/backups/orch/h1 catalogizer 7 30" ssh-ed25519 ')
    offsite = f"{APP}/backup-offsite"
    ssh = f"ssh -T -F /dev/null -i {offsite}/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={offsite}/known_hosts root@{d.lab.address(2)}"
    shell = d.lab.ssh(1, f"{ssh} id; {ssh} receive ../../../etc/x", timeout=60)
    assert shell.returncode == 1 and "uid=" not in shell.stdout, shell.stdout + shell.stderr
    assert "expected 'receive <set id>'" in shell.stderr and "not a set of catalogizer" in shell.stderr
    assert d.sh(f"stat -c %a {offsite} {offsite}/id_ed25519").split() == ["700", "600"]
    pinned = d.sh(f"cut -d' ' -f1,3 {offsite}/known_hosts").splitlines()
    store_keys = d.sh("cut -d' ' -f2 /etc/ssh/ssh_host_*_key.pub", host=2).splitlines()
    assert sorted(pinned) == sorted(f"{d.lab.address(2)} {k}" for k in store_keys)


def test_restore_of_the_wrong_set_is_undone_by_the_safety_set(drill: Drill) -> None:
    d = drill
    write_data(d, "old")
    backup = d.play("backup.yml")  # on the host, the controller and the backup store (h2)
    assert backup.returncode == 0, explain(backup)
    old_set = newest_set(backup.stdout)
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

    # The wrong set, chosen by its time, from the backup store.
    stamp = old_set.split("-")[1]
    wrong = d.play("restore.yml", "-e", f"restore_set={stamp}", "-e", "restore_from=store")
    assert wrong.returncode == 0, explain(wrong)
    assert f"restored {old_set} (from store)" in wrong.stdout, explain(wrong)
    assert fingerprint(d) == old
    healthy(d)
    [safety] = re.findall(r"safety set: (catalogizer-\d{8}T\d{6}Z-safety)", wrong.stdout)

    missing = d.play("restore.yml", "-e", f"restore_set={safety}", "-e", "restore_from=store")
    assert missing.returncode == 2 and f"no verified backup set {safety} of h1" in missing.stdout  # host only
    undo = d.play("restore.yml", "-e", f"restore_set={safety}")
    assert undo.returncode == 0, explain(undo)
    assert fingerprint(d) == new
    healthy(d)
    audit = d.sh("tail -n 2 /var/log/catalogizer-deploy.log")
    assert f"restore app=catalogizer set={old_set} from=store safety={safety}" in audit
    assert f"restore app=catalogizer set={safety} from=host" in audit


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


def served_certificate(d: Drill) -> str:
    """The SHA-256 fingerprint of the certificate nginx serves on 443 (asked on the host)."""
    out = d.sh(
        f"echo | openssl s_client -connect {d.lab.address(1)}:443 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    )
    return out.strip().split("=", 1)[1]


def nginx_master_pid(d: Drill) -> str:
    return d.sh("docker exec catalogizer-nginx-1 cat /run/nginx.pid").strip()


def test_tls_placed_issued_renewed_with_a_reload_and_checked_by_health(drill: Drill, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = drill
    tls_dir = f"{APP}/proxy/tls"
    cert_check = ("-e", json.dumps({"health_cert_files": [f"{tls_dir}/catalogizer.crt"]}))
    # The lab's issuer: self-signed, 10 days (under health_cert_min_days 14: unhealthy).
    short = d.play("tls.yml", "-e", "tls_self_signed_days=10")
    assert short.returncode == 0, explain(short)
    # whole days left: 10 when the expiry is read within the second the certificate was issued
    assert re.search(r"catalogizer: CN ?= ?catalogizer, expires .* \((9|10) days\)", short.stdout), explain(short)
    assert "catalogizer-tls" in d.sh("ls /etc/cron.d") and "tls-renew.sh" in d.sh(
        "cat /etc/cron.d/catalogizer-tls"
    )
    first = served_certificate(d)
    pid = nginx_master_pid(d)
    status, _ = get_tls(d)
    assert status == 200
    report = d.play("health.yml", *cert_check)
    assert report.returncode == 2 and f"cert FAIL {tls_dir}/catalogizer.crt 9d" in report.stdout, explain(
        report
    )

    # Renewal (what the cron job runs): expiring within tls_renew_days (30) -> issued again, nginx
    # reloaded, not restarted (same master process), the new certificate served.
    renewed = d.play("tls.yml", "-e", "tls_self_signed_days=90")
    assert renewed.returncode == 0 and "reloaded nginx" in renewed.stdout, explain(renewed)
    assert served_certificate(d) != first and nginx_master_pid(d) == pid
    report = d.play("health.yml", *cert_check)
    assert f"cert ok {tls_dir}/catalogizer.crt 89d" in report.stdout, explain(report)
    again = d.play("tls.yml")
    assert again.returncode == 0 and "reloaded nginx" not in again.stdout, explain(again)

    # Placed from files / the vault: a certificate and key of the operator's; the key never shown.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.example")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=60))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    placed_vars = {
        "tls_self_signed": [],
        "tls_certificates": [{"name": "catalogizer", "cert": cert_pem, "key": key_pem}],
    }
    placed = d.play("tls.yml", "-e", json.dumps(placed_vars))
    assert placed.returncode == 0, explain(placed)
    assert key_pem.splitlines()[1] not in placed.stdout + placed.stderr
    assert "RUNNING HANDLER [Reload the proxy]" in placed.stdout and nginx_master_pid(d) == pid
    assert served_certificate(d) == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert d.sh(f"stat -c %a {tls_dir}/catalogizer.key").strip() == "600"


def get_tls(d: Drill) -> tuple[int, str]:
    out = d.lab.ssh(1, f"curl -sk -o /dev/null -w '%{{http_code}}' https://{d.lab.address(1)}/health")
    return int(out.stdout or 0), out.stderr


def destroy(lab: LabSession, i: int) -> None:
    """`orch lab reset`: the host's disk wiped, a fresh boot. Its containers go first: on a loaded
    2-core machine, a host whose dockerd and four containers are SIGKILLed together can take longer
    than the lab's stop timeout (10 s) to exit."""
    lab.ssh(i, "docker rm -f $(docker ps -aq) >/dev/null 2>&1; pkill dockerd; sleep 3", timeout=180)
    for attempt in range(3):
        try:
            lab.reset(i)
            return
        except LabError:
            if attempt == 2:
                raise
            time.sleep(10)


def the_record(d: Drill, set_id: str) -> tuple[str, dict[str, bytes]]:
    """The release a set recorded (release.tar.gz in the controller's copy): its id and files."""
    with tarfile.open(d.controller / "h1" / set_id / "release.tar.gz") as tar:
        files = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile() and m.name.count("/") == 1
        }
    [release] = {name.split("/")[0] for name in files}
    return release, {name.split("/", 1)[1]: data for name, data in files.items()}


def recover(d: Drill, set_id: str, source: str) -> CompletedProcess[str]:
    started = time.monotonic()
    result = d.play("recover.yml", "-e", "recover_from=h1")
    took = time.monotonic() - started
    assert result.returncode == 0, explain(result)
    printed = re.search(rf"h1 recovered in (\d+)s from {set_id} \({source} copy of h1\)", result.stdout)
    assert printed, explain(result)
    print(f"\nrecovery: {printed.group(0)} (wall {took:.0f}s)")
    for what in (
        "restored database catalogizer",
        "restored redis redis (/data/dump.rdb)",
        f"restored files {APP}/data",
        f"restored files {ODD} (",
    ):
        assert what in result.stdout, explain(result)
    return result


def test_drill_server_destroyed_recovered_from_the_store_then_from_the_controller_copy(drill: Drill) -> None:
    d = drill
    write_data(d, "drill")
    want = fingerprint(d)
    tls = (
        served_certificate(d)
        if d.lab.ssh(1, f"test -f {APP}/proxy/tls-catalogizer.conf").returncode == 0
        else None
    )
    backup = d.play("backup.yml")
    assert backup.returncode == 0, explain(backup)
    set_id = newest_set(backup.stdout)
    release, record = the_record(d, set_id)
    assert b"LOG_LEVEL=info\n" in record[".env"] and "mem_limit: 2g" in record["compose.yml"].decode()

    # Since the backup, the app's config changed (log level, the api's memory limit): recovery
    # replays the recorded release, not today's config.
    app_vars = yaml.safe_load((d.inventory / "group_vars" / "all.yml").read_text())
    app_vars["app_env"]["LOG_LEVEL"] = "debug"
    app_vars["app_services"]["api"]["mem_limit"] = "1g"
    host_vars(d.inventory, {"app_env": app_vars["app_env"], "app_services": app_vars["app_services"]})

    # 1. The server is gone (a pristine Debian with sshd: no Docker, no app, no data); the sets
    # are on the backup store (the controller's copy moved away: the store's is the one used).
    destroy(d.lab, 1)
    assert d.lab.ssh(1, f"test -e {APP}").returncode == 1
    aside = d.controller / "aside"
    aside.mkdir()
    shutil.move(d.controller / "h1", aside / "h1")
    try:
        recover(d, set_id, "store")
    finally:
        shutil.rmtree(d.controller / "h1", ignore_errors=True)  # (the store's set, fetched)
        shutil.move(aside / "h1", d.controller / "h1")
    healthy(d)
    assert fingerprint(d) == want
    # The recorded release runs: its compose file, .env and image IDs, byte for byte.
    assert d.sh(f"readlink {APP}/current").strip() == f"releases/{release}"
    for name in ("compose.yml", ".env", "images.txt", "bg.env", "VERSION"):
        assert d.lab.ssh(1, f"cat {APP}/current/{name}", check=True).stdout.encode() == record[name], name
    assert b"LOG_LEVEL=debug\n" in d.sh(f"cat {APP}/shared/.env").encode()  # today's, for the next deploy
    color = re.search(rb"^BG_COLOR=(\w+)$", record["bg.env"], re.M).group(1).decode()  # type: ignore[union-attr]
    api = f"catalogizer-api-{color}-1"
    assert d.sh(f"docker inspect --format '{{{{.HostConfig.Memory}}}}' {api}").strip() == str(2 * 1024**3)
    images = dict(line.split() for line in record["images.txt"].decode().splitlines())
    for container in ("catalogizer-postgres-1", "catalogizer-redis-1", api, "catalogizer-nginx-1"):
        running = d.sh(f"docker inspect --format '{{{{.Config.Image}}}} {{{{.Image}}}}' {container}").split()
        assert images[running[0]] == running[1], container
    # The new server's nightly copy works: a new key, the old one's line replaced on the store.
    keys = d.sh("cat /root/.ssh/authorized_keys", host=2)
    assert len([k for k in keys.splitlines() if k.endswith(" orch-backup catalogizer@h1")]) == 1
    assert d.sh(f"cut -d' ' -f2 {APP}/backup-offsite/id_ed25519.pub").strip() in keys

    # 2. Destroyed again, and the backup store killed too: the controller's copy.
    destroy(d.lab, 1)
    d.lab.kill(2)
    try:
        recover(d, set_id, "controller")
    finally:
        d.lab.revive(2)
    healthy(d)
    assert fingerprint(d) == want
    assert d.lab.ssh(1, f"cat {APP}/current/.env", check=True).stdout.encode() == record[".env"]
    if tls is not None:  # the certificate and its HTTPS server came back with the set (backup_paths)
        assert served_certificate(d) == tls
