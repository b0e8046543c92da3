"""Nothing left behind: after a run with file transfers (inline content, SFTP uploads of big
files, templates, symbolic modes, remote copies, a transfer that fails half way, check mode,
become), the target's /tmp and the destination directories hold no orch temp file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from orchestrator.lab.testing import LabSession

PLAY = """\
- hosts: {host}
  gather_facts: false
  tasks:
    - file: {{path: /srv/xfer, state: directory}}
    - copy: {{src: big.bin, dest: /srv/xfer/big.bin, mode: "0600"}}
    - copy: {{content: "small\\n", dest: /srv/xfer/small.txt, mode: "u=rw,g=,o="}}
    - template: {{src: t.j2, dest: /srv/xfer/t.txt}}
    - copy: {{src: tree/, dest: /srv/xfer/tree}}
    - copy: {{src: /srv/xfer/tree/, dest: /srv/xfer/tree2, remote_src: true}}
    - name: a big transfer whose destination directory is missing fails after the upload
      copy: {{src: big2.bin, dest: /srv/missing/dir/big2.bin}}
      ignore_errors: true
- hosts: {host}
  gather_facts: false
  remote_user: deploy
  become: true
  tasks:
    - copy: {{src: big2.bin, dest: /srv/xfer/big2.bin, mode: "0640"}}
"""


def _tmp_listing(lab: LabSession, host: str) -> set[str]:
    out = lab.ssh(host, "ls -A /tmp /var/tmp; find /srv -name '.orch-*'").stdout
    return set(out.split())


def test_no_temp_files_left_on_the_target(lab: LabSession, run_orch, tmp_path: Path) -> None:
    host = lab.hosts[0].name
    (tmp_path / "big.bin").write_bytes(os.urandom(400 * 1024))  # above the inline limit: SFTP
    (tmp_path / "big2.bin").write_bytes(os.urandom(300 * 1024))
    (tmp_path / "t.j2").write_text("host={{ inventory_hostname }}\n")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a.txt").write_text("a\n")
    (tmp_path / "tree" / "sub" / "b.txt").write_text("b\n")
    play = tmp_path / "xfer.yml"
    play.write_text(PLAY.format(host=host))
    lab.ssh(host, "rm -rf /srv/xfer /srv/missing")
    before = _tmp_listing(lab, host)
    upper_before = {p.name for p in (lab.upper_dir(host) / "tmp").glob("*")}
    for extra in ([], [], ["--check", "--diff"]):  # converge, converge again (no-op), check mode
        lab.ssh(host, "rm -f /srv/xfer/big2.bin")
        done = run_orch("play", str(play), "-i", str(lab.inventory_path), *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        if not extra:
            assert "ignoring" in done.stdout, done.stdout  # the failing transfer did run (and fail)
    remote_sum = lab.ssh(host, "sha1sum /srv/xfer/big.bin").stdout.split()[0]
    assert remote_sum == hashlib.sha1((tmp_path / "big.bin").read_bytes()).hexdigest()
    assert _tmp_listing(lab, host) == before
    assert {p.name for p in (lab.upper_dir(host) / "tmp").glob("*")} == upper_before
