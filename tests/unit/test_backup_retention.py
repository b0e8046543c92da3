"""Retention of backup sets (playbooks/files/backup-prune.sh, the script the hosts, the controller
and the backup store run): 10 sets over faked dates, pruned by count and by age."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

PRUNE = Path(__file__).resolve().parents[2] / "playbooks" / "files" / "backup-prune.sh"
NOW = datetime(2026, 12, 7, 3, 17, tzinfo=UTC)


def make_sets(root: Path, ages_days: list[float], kind: str = "full", verified: bool = True) -> list[str]:
    names = []
    for age in ages_days:
        stamp = (NOW - timedelta(days=age)).strftime("%Y%m%dT%H%M%SZ")
        d = root / f"shop-{stamp}-{kind}"
        d.mkdir()
        (d / "db.sql.gz").write_bytes(b"x")
        if verified:
            (d / "VERIFIED").write_text("yes\n")
        names.append(d.name)
    return names


def prune(root: Path, keep: int, max_age_days: int) -> list[str]:
    out = subprocess.run(
        ["sh", str(PRUNE), str(root), "shop", str(keep), str(max_age_days), str(int(NOW.timestamp()))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stderr == ""
    return out.stdout.splitlines()


def left(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


# Ten nightly sets, one every 4 days: 0, 4, ..., 36 days old (newest first).
AGES = [4.0 * i for i in range(10)]


@pytest.mark.parametrize(
    ("keep", "max_age_days", "kept_ages"),
    [
        (7, 30, AGES[:7]),  # the newest 7 (0..24 days) are all younger than 30 days
        (7, 10, AGES[:3]),  # 0, 4, 8 days: the age limit removes 12..24 too
        (3, 0, AGES[:3]),  # no age limit
        (20, 30, AGES[:8]),  # count allows all ten: 32 and 36 days are too old (28 stays)
        (0, 0, AGES[:1]),  # never less than the newest verified full set
    ],
)
def test_ten_sets_over_faked_dates_keep_what_the_settings_say(
    tmp_path: Path, keep: int, max_age_days: int, kept_ages: list[float]
) -> None:
    names = make_sets(tmp_path, AGES)
    removed = prune(tmp_path, keep, max_age_days)
    kept = [n for n, age in zip(names, AGES, strict=True) if age in kept_ages]
    assert left(tmp_path) == sorted(kept)
    assert sorted(removed) == sorted(f"removed {n}" for n in names if n not in kept)
    assert prune(tmp_path, keep, max_age_days) == []  # again: nothing more to do


def test_each_kind_keeps_its_own_count_and_the_newest_full_set_always_stays(tmp_path: Path) -> None:
    old_full = make_sets(tmp_path, [40.0, 50.0])  # both older than the age limit
    dbs = make_sets(tmp_path, [0.1, 1.1, 2.1, 3.1], kind="db")  # deploy's pre-deploy dumps
    safety = make_sets(tmp_path, [45.0], kind="safety")
    prune(tmp_path, 2, 30)
    # full: the newest stays although 40 days old (retention never leaves the app without a set);
    # db: the newest two; safety: too old.
    assert left(tmp_path) == sorted([old_full[0], dbs[0], dbs[1]])
    assert safety[0] not in left(tmp_path)


def test_an_unverified_set_never_counts_as_the_newest_full_one(tmp_path: Path) -> None:
    make_sets(tmp_path, [35.0], verified=False)
    [verified] = make_sets(tmp_path, [38.0])
    prune(tmp_path, 7, 30)
    assert left(tmp_path) == [verified]


def test_a_missing_directory_is_nothing_to_do(tmp_path: Path) -> None:
    assert prune(tmp_path / "none", 7, 30) == []
