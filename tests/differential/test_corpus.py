"""The compatibility corpus (issue 15): unmodified public Ansible roles, each with a site.yml, read
from ../shared/compat-roles/ beside the repository (never copied into it). Each case runs under
ansible-playbook and under orch on fresh 2-host fleets, converge then no-op, and must give the
same exit codes, recap counters and files on the hosts (see differential_harness.py).

Set ORCH_COMPAT_ROLES to use another corpus directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from differential_harness import run_case

from orchestrator.lab.testing import LabSession

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("ORCH_COMPAT_ROLES") or REPO_ROOT.parent / "shared" / "compat-roles")

# Ansible's apt module needs python3-apt on the host and, when it is missing, runs `apt-get update`
# and installs it by itself. That is Ansible's footprint, not the role's: both fleets get the same
# start (fresh lists, python3-apt installed) so the comparison sees only what the roles do.
PREPARE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends"
    " python3-apt >/dev/null"
)

# What differs between two installs by nature (beyond DEFAULT_IGNORE), each explained; checked by
# installing the same case twice with the same tool (h1 and h2 of one run differ there too).
CORPUS_IGNORE: tuple[str, ...] = (
    "var/lib/dbus/machine-id", "etc/machine-id",  # a random id written when dbus is installed
)  # fmt: skip
CASE_IGNORE: dict[str, tuple[str, ...]] = {
    # the JKS keystore ca-certificates-java builds holds its creation time
    "geerlingguy-java": ("etc/ssl/certs/java/cacerts",),
    # snapshots redis writes on its own (RDB files carry their creation time)
    "geerlingguy-redis": ("var/lib/redis/dump.rdb", "var/lib/redis/appendonlydir/*"),
    # the snakeoil key pair ssl-cert generates, Ansible's remote tmp of become_user postgres, and the
    # cluster's own files: WAL, control file, caches and catalogs (pg_authid holds SCRAM verifiers
    # with random salts) differ between any two installs; the databases' logical content is
    # checked by the postgresql modules' lab tests, not here
    "geerlingguy-postgresql": (
        "etc/ssl/certs/ssl-cert-snakeoil.pem", "etc/ssl/private/ssl-cert-snakeoil.key",
        "var/lib/postgresql/.ansible", "var/lib/postgresql/.ansible/*", "var/lib/postgresql/15/main/*",
    ),
    # MariaDB's storage files: table definitions (.frm) carry their creation time, Aria and InnoDB
    # files their log sequence numbers. The databases' own option files (db.opt: character set and
    # collation) are compared; the accounts and grants are compared below through the server.
    "geerlingguy-mysql": (
        "var/lib/mysql/*.frm", "var/lib/mysql/*.MAI", "var/lib/mysql/*.MAD", "var/lib/mysql/*.ibd",
        "var/lib/mysql/aria_log*", "var/lib/mysql/ib*", "var/lib/mysql/undo*", "var/lib/mysql/mysql-bin*",
    ),
}

# What a case's server holds, read through the server itself where its files cannot be compared:
# the same on the ansible and the orch fleet after the runs.
LOGICAL_STATE: dict[str, str] = {
    "geerlingguy-mysql": (
        "mariadb -NB -e \"SELECT user, host, plugin, authentication_string FROM mysql.user ORDER BY user, host;"
        " SELECT schema_name, default_character_set_name, default_collation_name FROM information_schema.schemata"
        " ORDER BY schema_name;\" && for a in $(mariadb -NBe \"SELECT CONCAT(QUOTE(user), '@', QUOTE(host))"
        " FROM mysql.user WHERE user <> 'mariadb.sys'\"); do mariadb -NBe \"SHOW GRANTS FOR $a\"; done"
    ),
}


# Cases orch cannot run yet, and why (issue 15 is open for them). They are skipped, not run to
# fail, so CI's time goes to the cases that must stay identical.
NOT_YET: dict[str, str] = {}


def corpus_cases() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.name for p in CORPUS.iterdir() if (p / "site.yml").is_file())


def corpus_params() -> list[object]:
    return [
        pytest.param(case, marks=pytest.mark.skip(reason=NOT_YET[case])) if case in NOT_YET else case
        for case in corpus_cases()
    ] or ["(no corpus)"]


def prepare_fleet(lab: LabSession) -> None:
    for host in lab.hosts:
        subprocess.run([*lab.ssh_argv(host.name), PREPARE], check=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("case", corpus_params())
def test_corpus_role(
    case: str, fleets: tuple[LabSession, LabSession], ansible_scratch: Path, tmp_path: Path
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the role corpus is not there: {CORPUS} (CI keeps shared/ beside the clone)")
    work = tmp_path / case
    shutil.copytree(CORPUS / case, work)  # the corpus may be read-only; tools may write next to it
    ansible_lab, orch_lab = fleets
    outcome = run_case(
        work / "site.yml",
        ansible_lab,
        orch_lab,
        ansible_scratch,
        CORPUS_IGNORE + CASE_IGNORE.get(case, ()),
        prepare_fleet,
    )
    assert not outcome.differences(), outcome.report()
    if case in LOGICAL_STATE:
        for ansible_host, orch_host in zip(ansible_lab.hosts, orch_lab.hosts, strict=True):
            seen = [
                subprocess.run(
                    [*lab.ssh_argv(host.name), LOGICAL_STATE[case]], capture_output=True, text=True, timeout=120
                )
                for lab, host in ((ansible_lab, ansible_host), (orch_lab, orch_host))
            ]
            assert all(r.returncode == 0 for r in seen), [r.stderr for r in seen]
            assert seen[0].stdout == seen[1].stdout, f"{case} {orch_host.name}: ansible\n{seen[0].stdout}\norch\n{seen[1].stdout}"
