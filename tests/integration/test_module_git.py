"""The git module on a real lab host against a real repository (a bare repo on the host, pushed to
with the git CLI): clone, update, checkout of a branch / tag / commit, force, depth and
single_branch; each through check mode (reports, touches nothing) -> run (changed) -> again (ok),
with before/after commit ids as Ansible reports them."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.lab.testing import LabSession

pytestmark = pytest.mark.lab

HOST = "h4"
REPO = "/srv/git/app.git"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

Play = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def host(lab: LabSession) -> Iterator[LabSession]:
    """h4 of the shared lab, fresh, with git installed and a bare repository: main (two commits,
    the first tagged v1) and a branch `next`."""
    lab.reset(HOST)
    setup = lab.ssh(
        HOST,
        f"""set -e
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq git >/dev/null 2>&1 || {{ apt-get update -qq && apt-get install -y -qq git >/dev/null; }}
        git config --global user.email ci@example.com; git config --global user.name CI
        git init -q --bare -b main {REPO}
        git clone -q {REPO} /root/src 2>/dev/null; cd /root/src
        echo one > app.txt; git add app.txt; git commit -qm one; git tag v1
        echo two > app.txt; git commit -qam two
        git push -q origin main v1
        git checkout -q -b next; echo three > app.txt; git commit -qam three; git push -q origin next
        git checkout -q main""",
        timeout=600,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    yield lab
    lab.reset(HOST)


def sha(lab: LabSession, ref: str) -> str:
    return lab.ssh(HOST, f"git -C {REPO} rev-parse {ref}", check=True).stdout.strip()


def head(lab: LabSession, dest: str) -> str:
    return lab.ssh(HOST, f"git -C {dest} rev-parse HEAD 2>/dev/null || echo absent").stdout.strip()


@pytest.fixture
def play(host: LabSession, run_orch: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> Play:
    def run(tasks: str, *args: str) -> subprocess.CompletedProcess[str]:
        body = textwrap.indent(textwrap.dedent(tasks).strip("\n"), "    ")
        path = tmp_path / f"play{len(list(tmp_path.glob('play*.yml')))}.yml"
        path.write_text(f"- hosts: {HOST}\n  gather_facts: false\n  tasks:\n{body}\n")
        return run_orch("play", str(path), "-i", str(host.inventory_path), *args)

    return run


def changed(result: subprocess.CompletedProcess[str]) -> int:
    for m in RECAP.finditer(result.stdout):
        if m[1] == HOST:
            assert result.returncode == 0 and m[5] == "0", result.stdout + result.stderr
            return int(m[3])
    raise AssertionError(result.stdout + result.stderr)


def checked_cycle(lab: LabSession, play: Play, tasks: str, dest: str) -> None:
    """check+diff (reports the change, shows it, touches nothing) -> run (changed) -> again (ok)."""
    before = head(lab, dest)
    checked = play(tasks, "--check", "--diff")
    assert changed(checked) == 1, checked.stdout
    assert re.search(r"^\+\+\+ ", checked.stdout, re.M), checked.stdout
    assert head(lab, dest) == before, "check mode changed the checkout"
    assert changed(play(tasks)) == 1
    assert changed(play(tasks)) == 0


@pytest.mark.slow
def test_clone_at_tag_then_branch_then_commit(host: LabSession, play: Play) -> None:
    dest = "/srv/app"
    v1, main, nxt = sha(host, "v1^{commit}"), sha(host, "main"), sha(host, "next")
    clone = f"""
    - git: {{repo: {REPO}, dest: {dest}, version: v1}}
      register: r
    - assert: {{that: ["r.after == '{v1}'", "r.before == None or r.before == r.after"]}}
    """
    checked_cycle(host, play, clone, dest)
    assert host.ssh(HOST, f"test -d {dest}/.git && cat {dest}/app.txt").stdout == "one\n"
    assert host.ssh(HOST, "test -e /srv/app-check || echo absent").stdout == "absent\n"

    branch = f"""
    - git: {{repo: {REPO}, dest: {dest}, version: next}}
      register: r
    - assert: {{that: ["r.after == '{nxt}'"]}}
    """
    checked_cycle(host, play, branch, dest)
    # A branch is checked out as that branch, as Ansible does.
    assert host.ssh(HOST, f"git -C {dest} symbolic-ref --short HEAD").stdout == "next\n"

    commit = f"- git: {{repo: {REPO}, dest: {dest}, version: {main[:10]}}}\n"
    checked_cycle(host, play, commit, dest)
    assert head(host, dest) == main

    # A new commit upstream: fetched and checked out, before/after as Ansible reports them.
    host.ssh(HOST, "cd /root/src && git checkout -q next && echo four > app.txt && git commit -qam four "
                   "&& git push -q origin next", check=True)  # fmt: skip
    newer = sha(host, "next")
    follow = f"""
    - git: {{repo: {REPO}, dest: {dest}, version: next}}
      register: r
    - assert: {{that: ["r.before == '{main}'", "r.after == '{newer}'", r.changed]}}
    """
    assert changed(play(follow)) == 1
    assert host.ssh(HOST, f"cat {dest}/app.txt").stdout == "four\n"


@pytest.mark.slow
def test_local_changes_force_update_and_clone_flags(host: LabSession, play: Play) -> None:
    dest = "/srv/app2"
    assert changed(play(f"- git: {{repo: {REPO}, dest: {dest}, version: main}}")) == 1
    host.ssh(HOST, f"echo local > {dest}/app.txt", check=True)
    refused = play(f"- git: {{repo: {REPO}, dest: {dest}, version: next}}")
    assert refused.returncode == 2 and f"Local modifications exist in the destination: {dest} (force=no)" in refused.stdout
    assert host.ssh(HOST, f"cat {dest}/app.txt").stdout == "local\n"
    # force discards them, even on the same commit.
    forced = f"- git: {{repo: {REPO}, dest: {dest}, version: main, force: true}}\n"
    assert changed(play(forced)) == 1
    assert host.ssh(HOST, f"cat {dest}/app.txt").stdout == "two\n"
    assert changed(play(forced)) == 0
    # update: false leaves an existing checkout where it is.
    assert changed(play(f"- git: {{repo: {REPO}, dest: {dest}, version: next, update: false}}")) == 0
    assert head(host, dest) == sha(host, "main")
    # clone: false does not create a missing checkout (Ansible reports changed, with the remote's commit).
    assert changed(play(f"- git: {{repo: {REPO}, dest: /srv/none, clone: false}}")) == 1
    assert host.ssh(HOST, "test -e /srv/none || echo absent").stdout == "absent\n"


def test_shallow_single_branch_clone(host: LabSession, play: Play) -> None:
    dest = "/srv/shallow"
    task = f"- git: {{repo: 'file://{REPO}', dest: {dest}, version: next, depth: 1, single_branch: true}}\n"
    checked_cycle(host, play, task, dest)
    out = host.ssh(HOST, f"git -C {dest} rev-list --count HEAD; git -C {dest} branch -r", check=True).stdout
    assert out.split() == ["1", "origin/next"]


def test_errors_are_clear_and_touch_nothing(host: LabSession, play: Play) -> None:
    missing = play(f"- git: {{repo: {REPO}, dest: /srv/bad, version: no-such-ref}}")
    assert missing.returncode == 2
    assert f"Failed to find version no-such-ref in file://{REPO}: no such branch, tag or commit" in missing.stdout
    assert host.ssh(HOST, "test -e /srv/bad || echo absent").stdout == "absent\n"
    # Credentials in a URL never reach the output.
    secret = play("- git: {repo: 'https://user:hunter2@127.0.0.1:9/x.git', dest: /srv/bad}")
    assert secret.returncode == 2 and "hunter2" not in secret.stdout + secret.stderr
    # A typo is caught before any host is contacted, naming the file and line.
    typo = play("- git: {repo: x, dest: /srv/bad, verison: main}")
    assert typo.returncode != 0 and "verison" in typo.stdout + typo.stderr
    assert "did you mean 'version'" in typo.stdout + typo.stderr and "play" in typo.stdout + typo.stderr
