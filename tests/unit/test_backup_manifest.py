"""Backup sets on the controller's own shell, without Docker: templates/backup.sh.j2 (an app with
no database) writes a set of directories whose paths hold spaces, quotes, a backslash and unicode;
playbooks/files/backup-manifest.sh (what restore_set.yml inlines) reads every path back verbatim;
playbooks/files/backup-receive.sh (the backup store's end of the nightly copy) keeps a good set and
refuses everything else."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from orchestrator.templating import Templar

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "playbooks" / "files"
ODD_PATHS = [
    "uploads with  two spaces",
    "it's \"quoted\" $(touch pwned) `x`",
    "média 日本語 \\ back",
    "trailing space ",
    "uploads_with__two_spaces",  # the same safe file name as the first: must not overwrite it
]


def render_backup_script(app_dir: Path, paths: list[str]) -> Path:
    variables = {
        "inventory_hostname": "h1",
        "app_name": "shop",
        "app_dir": str(app_dir),
        "app_project_name": "shop",
        "backup_dir": str(app_dir / "backups"),
        "backup_cron": "17 3 * * *",
        "app_db_type": "none",
        "app_db_service": "db",
        "app_db_user": "postgres",
        "app_db_name": "shop",
        "app_sqlite_path": str(app_dir / "data" / "app.db"),
        "backup_pg_format": "plain",
        "backup_redis_services": [],
        "backup_paths": paths,
        "backup_keep": 7,
        "backup_max_age_days": 30,
        "backup_offsite": False,
    }
    text = Templar(str(REPO / "playbooks")).render_file(str(REPO / "templates" / "backup.sh.j2"), variables)
    (app_dir / "bin").mkdir(parents=True)
    script = app_dir / "bin" / "backup.sh"
    script.write_text(text)
    shutil.copy(FILES / "backup-prune.sh", app_dir / "bin" / "backup-prune.sh")
    return script


def sh(script: str, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script, "sh", *args], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def test_paths_with_spaces_quotes_and_unicode_round_trip_through_the_manifest(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    dirs = []
    for i, name in enumerate(ODD_PATHS):
        d = tmp_path / name
        d.mkdir()
        (d / f"file {i}.txt").write_text(f"content {i}\n")
        dirs.append(str(d))
    script = render_backup_script(app_dir, [*dirs, str(tmp_path / "not there")])
    run = subprocess.run(["sh", str(script), "full"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "pwned").exists()  # a path is data, never run
    set_dir = Path(run.stdout.splitlines()[-1])
    assert (set_dir / "VERIFIED").is_file()
    manifest = (set_dir / "MANIFEST").read_text()
    assert f"missing {tmp_path / 'not there'}\n" in manifest
    parts = [line.split()[1] for line in manifest.splitlines() if line.startswith("part files-")]
    assert len(parts) == len(dirs) == len(set(parts))

    reader = (FILES / "backup-manifest.sh").read_text()
    read_back = []
    for name in parts:
        out = sh(reader + '\nmanifest_files_path "$1" "$2"', str(set_dir / "MANIFEST"), name, check=True)
        path = out.stdout[:-1]  # (the one newline printf adds)
        read_back.append(path)
        # The part holds that directory's files.
        with tarfile.open(set_dir / name) as tar:
            names = sorted(m.name for m in tar.getmembers() if m.isfile())
        assert names == [f"./{p.name}" for p in sorted(Path(path).iterdir())]
    assert read_back == dirs

    # Each sha256 in MANIFEST is the file's.
    for line in manifest.splitlines():
        if line.startswith("part "):
            _, name, size, digest = line.split()[:4]
            data = (set_dir / name).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (int(size), digest)


def test_manifest_reader_splits_redis_service_and_path(tmp_path: Path) -> None:
    manifest = tmp_path / "MANIFEST"
    manifest.write_text(
        "id shop-20261207T031700Z-full\n"
        "part redis-cache.rdb 10 " + "a" * 64 + " redis cache /data dir/it's dump.rdb\n"
        "part files-x.tar.gz 3 " + "b" * 64 + " files /srv/x\n"
    )
    reader = (FILES / "backup-manifest.sh").read_text()
    out = sh(
        reader + '\nmanifest_redis_service "$1" redis-cache.rdb; manifest_redis_path "$1" redis-cache.rdb;'
        ' manifest_what "$1" nothing-here',
        str(manifest),
        check=True,
    )
    assert out.stdout == "cache\n/data dir/it's dump.rdb\n"  # (no such part: nothing)


# ---- the backup store's end: backup-receive.sh ------------------------------------------------


def a_set(root: Path, set_id: str) -> Path:
    d = root / set_id
    d.mkdir(parents=True)
    (d / "db.sql.gz").write_bytes(b"dump")
    (d / "MANIFEST").write_text(f"id {set_id}\n")
    (d / "SHA256SUMS").write_text(f"{hashlib.sha256(b'dump').hexdigest()}  db.sql.gz\n")
    (d / "VERIFIED").write_text("2026-12-07T03:17:00Z\n")
    return d


def tar_of(d: Path) -> bytes:
    return subprocess.run(["tar", "-C", str(d), "-cf", "-", "."], capture_output=True, check=True).stdout


def receive(store: Path, command: str, stream: bytes) -> subprocess.CompletedProcess[bytes]:
    bin_dir = store.parent / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("backup-receive.sh", "backup-prune.sh"):
        shutil.copy(FILES / name, bin_dir / name)
    env = {"PATH": os.environ["PATH"], "SSH_ORIGINAL_COMMAND": command}
    return subprocess.run(
        ["sh", str(bin_dir / "backup-receive.sh"), str(store), "shop", "7", "0"],
        input=stream,
        capture_output=True,
        env=env,
    )


def test_the_store_keeps_a_checked_set_and_nothing_else(tmp_path: Path) -> None:
    set_id = "shop-20261207T031700Z-full"
    good = a_set(tmp_path / "host", set_id)
    store = tmp_path / "store" / "h1"
    ok = receive(store, f"receive {set_id}", tar_of(good))
    assert ok.returncode == 0 and ok.stdout.decode() == f"stored {set_id}\n", ok.stderr
    assert sorted(p.name for p in (store / set_id).iterdir()) == ["MANIFEST", "SHA256SUMS", "VERIFIED", "db.sql.gz"]
    assert (store / set_id).stat().st_mode & 0o777 == 0o700
    assert (store / set_id / "db.sql.gz").stat().st_mode & 0o777 == 0o600
    again = receive(store, f"receive {set_id}", tar_of(good))
    assert again.returncode == 0 and b"there already" in again.stdout

    # A corrupted set is not kept.
    bad_id = "shop-20261207T041700Z-full"
    bad = a_set(tmp_path / "host", bad_id)
    (bad / "db.sql.gz").write_bytes(b"dumq")
    refused = receive(store, f"receive {bad_id}", tar_of(bad))
    assert refused.returncode == 1 and b"does not match its SHA256SUMS" in refused.stderr
    assert not (store / bad_id).exists() and not list(store.glob(".partial-*"))

    # Anything but "receive <a set id of this app>": refused before reading anything.
    for command in ("sh -c id", f"receive ../{set_id}", "receive other-20261207T031700Z-full", f"receive {set_id} x", "receive shop-*"):
        out = receive(store, command, b"")
        assert out.returncode != 0, command
    # A stream with a link or a path out of the set.
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        link = tarfile.TarInfo("./SHA256SUMS")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    out = receive(store, "receive shop-20261207T051700Z-full", evil.getvalue())
    assert out.returncode == 1 and b"more than plain files" in out.stderr
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    out = receive(store, "receive shop-20261207T061700Z-full", evil.getvalue())
    assert out.returncode == 1 and b"outside the set" in out.stderr
    assert not (store.parent / "escaped").exists()


@pytest.mark.parametrize("path", ["relative/dir", "/with\nnewline"])
def test_backup_paths_that_cannot_be_kept_are_refused_by_the_playbook(path: str) -> None:
    # (the assert in playbooks/tasks/backup_scripts.yml, evaluated as the playbook does)
    templar = Templar(str(REPO / "playbooks"))
    bad = templar.evaluate("backup_paths | reject('match', '^/[^\\n]*$') | list", {"backup_paths": ["/ok dir", path]})
    assert bad == [path]
