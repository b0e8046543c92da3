"""Host keys on real lab hosts: accept-new records the key (atomically, once), strict refuses an
unknown host, and a changed key (or a host suddenly offering only another key type) is refused
with the fingerprints shown, in every mode but off, leaving known_hosts untouched."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest
import yaml

from orchestrator.lab.testing import LabSession


@pytest.fixture(scope="module")
def plain_inventory(lab: LabSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab inventory without its UserKnownHostsFile option, so --known-hosts decides."""
    data = yaml.safe_load(Path(lab.inventory_path).read_text())

    def strip(node: dict) -> None:
        for key in ("vars", *()):
            if isinstance(node.get(key), dict):
                node[key].pop("ansible_ssh_common_args", None)
        for host_vars in (node.get("hosts") or {}).values():
            if isinstance(host_vars, dict):
                host_vars.pop("ansible_ssh_common_args", None)
        for child in (node.get("children") or {}).values():
            if isinstance(child, dict):
                strip(child)

    strip(data["all"])
    assert "ansible_ssh_common_args" not in yaml.safe_dump(data)
    path = tmp_path_factory.mktemp("hk") / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ping(run_orch, inventory: Path, known: Path, *extra: str):
    host = "h1"
    return run_orch("run", host, "-m", "ping", "-i", str(inventory), "--known-hosts", str(known), *extra)


def _lab_key_lines(lab: LabSession, address: str) -> set[str]:
    lines = Path(lab.known_hosts_path).read_text().splitlines()
    return {line for line in lines if line.split()[0] == address}


def test_accept_new_records_the_real_key_once(
    lab: LabSession, run_orch, plain_inventory: Path, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    first = _ping(run_orch, plain_inventory, known)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = known.read_text().splitlines()
    assert len(lines) == 1 and set(lines) <= _lab_key_lines(lab, lab.address("h1"))
    assert known.stat().st_mode & 0o077 == 0  # a new known_hosts is private
    assert sorted(p.name for p in known.parent.iterdir()) == ["known_hosts"]  # no temp file left
    again = _ping(run_orch, plain_inventory, known)
    assert again.returncode == 0 and known.read_text().splitlines() == lines


def test_strict_refuses_an_unknown_host(run_orch, plain_inventory: Path, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    done = _ping(run_orch, plain_inventory, known, "--host-key-checking", "strict")
    assert done.returncode == 4, done.stdout + done.stderr
    text = done.stdout + done.stderr
    assert "strict" in text and "SHA256:" in text
    assert not known.exists()


@pytest.mark.parametrize("mode", ["accept-new", "strict"])
def test_changed_key_refused_with_fingerprints(
    lab: LabSession, run_orch, plain_inventory: Path, tmp_path: Path, mode: str
) -> None:
    address = lab.address("h1")
    fake = _fake_key(tmp_path, "ed25519")
    known = tmp_path / "known_hosts"
    known.write_text(f"{address} ssh-ed25519 {fake.get_base64()}\n")
    before = known.read_text()
    done = _ping(run_orch, plain_inventory, known, "--host-key-checking", mode)
    text = done.stdout + done.stderr
    assert done.returncode == 4, text
    assert "CHANGED" in text and fake.fingerprint in text
    real = next(line for line in _lab_key_lines(lab, address) if " ssh-ed25519 " in line)
    assert paramiko.PKey.from_type_string("ssh-ed25519", _b64(real.split()[2])).fingerprint in text
    assert known.read_text() == before


def test_host_known_only_under_another_key_type_is_refused(
    lab: LabSession, run_orch, plain_inventory: Path, tmp_path: Path
) -> None:
    """The lab hosts have no RSA key: a known_hosts that knows h1 only as RSA means the host now
    offers a key type it never had. accept-new must not quietly add it (what a MITM would want)."""
    address = lab.address("h1")
    fake = _fake_key(tmp_path, "rsa")
    known = tmp_path / "known_hosts"
    known.write_text(f"{address} ssh-rsa {fake.get_base64()}\n")
    done = _ping(run_orch, plain_inventory, known)
    text = done.stdout + done.stderr
    assert done.returncode == 4, text
    assert "CHANGED" in text and fake.fingerprint in text
    assert known.read_text() == f"{address} ssh-rsa {fake.get_base64()}\n"


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _fake_key(tmp_path: Path, kind: str) -> paramiko.PKey:
    if kind == "rsa":
        return paramiko.RSAKey.generate(2048)
    # paramiko cannot generate ed25519 keys: let ssh-keygen make one
    import subprocess

    path = tmp_path / "fake_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return paramiko.Ed25519Key.from_private_key_file(str(path))
