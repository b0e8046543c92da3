"""The harness's own parsing and filtering (no lab needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential_harness import DEFAULT_IGNORE, Meta, _ignored, parse_recap

ANSIBLE_OUTPUT = """
PLAY [x] ***********************************************************************

PLAY RECAP *********************************************************************
h1                         : ok=3    changed=1    unreachable=0    failed=0    skipped=2    rescued=1    ignored=0
h2                         : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0

[WARNING]: something after the recap: x=1
"""


def test_parse_recap_reads_every_counter() -> None:
    recap = parse_recap(ANSIBLE_OUTPUT)
    assert recap["h1"] == {
        "ok": 3, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 2, "rescued": 1, "ignored": 0,
    }  # fmt: skip
    assert recap["h2"]["unreachable"] == 1
    assert set(recap) == {"h1", "h2"}
    assert parse_recap("no recap at all") == {}


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("root/.ansible/tmp/x", True),
        ("tmp/foo", True),
        ("var/log/dpkg.log", True),
        ("etc/ssh/ssh_host_ed25519_key", True),
        ("usr/lib/python3/dist-packages/__pycache__/a.pyc", True),
        ("etc/ssh/sshd_config", False),
        ("srv/app/config.yml", False),
        ("var/lib/dpkg/status", False),
    ],
)
def test_default_ignore_list(path: str, ignored: bool) -> None:
    assert _ignored(path, DEFAULT_IGNORE) is ignored


def test_meta_sidecar(tmp_path: Path) -> None:
    playbook = tmp_path / "c.yml"
    playbook.write_text("- hosts: all\n  tasks: []\n")
    assert Meta.load(playbook) == Meta()
    (tmp_path / "c.meta.yml").write_text("expect_rc: [2, 0]\nextra_vars: {a: 1}\nargs: [--tags, x]\ncheck: true\n")
    meta = Meta.load(playbook)
    assert meta.expect_rc == (2, 0) and meta.extra_vars == {"a": 1} and meta.args == ("--tags", "x") and meta.check
    (tmp_path / "c.meta.yml").write_text("expect_rcs: 2\n")
    with pytest.raises(ValueError, match="unknown keys"):
        Meta.load(playbook)
