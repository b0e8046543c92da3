"""Vault format, keyring and sources, checked against ansible-core's own VaultLib (test-only)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib
from ansible.parsing.vault import VaultSecret as AnsibleSecret

from orchestrator import redact
from orchestrator.errors import InventoryError, VaultError
from orchestrator.vault import (
    VaultValue,
    decrypt_file_text,
    encrypt_bytes,
    install,
    is_encrypted,
    parse_envelope,
    read_maybe_vaulted,
    set_keyring,
)
from orchestrator.vault.cli import format_encrypted_string, write_atomic
from orchestrator.vault.secrets import Keyring, VaultSecret, build_keyring, split_vault_id
from orchestrator.yamlsource import load_yaml_text

PLAIN = "db_password: S3cret-ünï\nport: 5432\n".encode()


def keyring(*pairs: tuple[str, str]) -> Keyring:
    ring = Keyring()
    for label, password in pairs:
        ring.add(VaultSecret(label, password.encode(), "test"))
    return ring


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    install()  # another test may have swapped the loaders' vault hooks
    yield
    set_keyring(Keyring())
    redact.clear()


@pytest.mark.parametrize("vault_id", [None, "default", "prod"])
def test_orch_encrypts_ansible_decrypts(vault_id: str | None) -> None:
    text = encrypt_bytes(PLAIN, b"pw-1", vault_id)
    header = text.splitlines()[0]
    assert header == ("$ANSIBLE_VAULT;1.2;AES256;prod" if vault_id == "prod" else "$ANSIBLE_VAULT;1.1;AES256")
    assert all(len(line) <= 80 for line in text.splitlines())
    lib = VaultLib([(vault_id or "default", AnsibleSecret(b"pw-1"))])
    assert lib.decrypt(text) == PLAIN


@pytest.mark.parametrize("vault_id", ["default", "prod"])
def test_ansible_encrypts_orch_decrypts(vault_id: str) -> None:
    secret = AnsibleSecret(b"pw-2")
    text = VaultLib([(vault_id, secret)]).encrypt(PLAIN, secret, vault_id).decode()
    plain, envelope = keyring(("other", "nope-nope"), (vault_id, "pw-2")).decrypt(text, "x.yml")
    assert plain == PLAIN
    assert envelope.version == ("1.2" if vault_id == "prod" else "1.1")
    assert envelope.vault_id == (None if vault_id == "default" else vault_id)


def test_same_salt_gives_ansibles_bytes() -> None:
    # Deterministic with a fixed salt: byte-identical to ansible-core's output.
    salt = b"0123456789abcdef0123456789abcdef"
    ours = encrypt_bytes(PLAIN, b"pw", "lab", salt=salt)
    from ansible.parsing.vault import VaultAES256, format_vaulttext_envelope

    theirs = format_vaulttext_envelope(
        VaultAES256.encrypt(PLAIN, AnsibleSecret(b"pw"), salt=salt), "AES256", vault_id="lab"
    )
    assert ours.encode() == theirs


def test_wrong_password_names_the_file_and_ids() -> None:
    text = encrypt_bytes(PLAIN, b"right-one", "prod")
    with pytest.raises(VaultError) as info:
        keyring(("prod", "not-it!"), ("dev", "nor-this")).decrypt(text, "group_vars/all/vault.yml")
    message = str(info.value)
    assert message.startswith("group_vars/all/vault.yml: ")
    assert "vault id 'prod'" in message and "prod (test)" in message and "dev (test)" in message


def test_no_secret_and_corrupt_data() -> None:
    text = encrypt_bytes(PLAIN, b"pw-3")
    with pytest.raises(VaultError, match=r"^f\.yml: .*no vault secret was given"):
        Keyring().decrypt(text, "f.yml")
    broken = text.replace(text.splitlines()[2][:10], "zz" * 5)
    with pytest.raises(VaultError, match="corrupt"):
        keyring(("default", "pw-3")).decrypt(broken, "f.yml")
    with pytest.raises(VaultError, match="version"):
        parse_envelope("$ANSIBLE_VAULT;9.9;AES256\n00\n")
    with pytest.raises(VaultError, match="cipher"):
        parse_envelope("$ANSIBLE_VAULT;1.1;AES128\n00\n")


def test_tampered_ciphertext_fails_hmac() -> None:
    import binascii

    from orchestrator.vault import format_envelope

    text = encrypt_bytes(b"x" * 40, b"pw-4")
    salt, mac, cipher = binascii.unhexlify(parse_envelope(text).payload).split(b"\n")
    raw = bytearray(binascii.unhexlify(cipher))
    raw[0] ^= 1  # one flipped bit of ciphertext, the layout still valid
    inner = b"\n".join([salt, mac, binascii.hexlify(bytes(raw))])
    with pytest.raises(VaultError, match="wrong password"):
        keyring(("default", "pw-4")).decrypt(format_envelope(binascii.hexlify(inner)), "t")


def test_labelled_secret_is_tried_first() -> None:
    ring = keyring(("dev", "dev-pass"), ("prod", "prod-pass"))
    assert [s.vault_id for s in ring.candidates("prod")] == ["prod", "dev"]
    assert ring.for_encrypt("prod").password == b"prod-pass"
    with pytest.raises(VaultError, match="--encrypt-vault-id"):
        ring.for_encrypt()
    with pytest.raises(VaultError, match="no --vault-id"):
        ring.for_encrypt("stage")


def test_inline_vault_value_is_lazy_and_located() -> None:
    cipher = encrypt_bytes(b"tok-123456", b"pw-5", "prod")
    text = "api_token: !vault |\n" + "".join(f"  {line}\n" for line in cipher.splitlines())
    data = load_yaml_text(text, "vars.yml")  # loads without any password
    value = data["api_token"]
    assert isinstance(value, VaultValue)
    assert "tok-123456" not in str(value) and "tok-123456" not in repr(value)
    with pytest.raises(VaultError, match=r"^vars\.yml:1:\d+: .*no vault secret"):
        value.decrypt()
    set_keyring(keyring(("prod", "pw-5")))
    assert value.decrypt() == "tok-123456"
    assert redact.mask("token tok-123456 leaked") == f"token {redact.MASK} leaked"


def test_vault_value_renders_through_templates() -> None:
    from orchestrator.templating import Templar

    cipher = encrypt_bytes(b"pa55word-xyz", b"pw-6")
    data = load_yaml_text(
        "secret: !vault |\n  " + "\n  ".join(cipher.splitlines()) + "\nnested: {k: '{{ secret }}'}\n", "v.yml"
    )
    set_keyring(keyring(("default", "pw-6")))
    templar = Templar()
    assert templar.render("x={{ secret }}", data) == "x=pa55word-xyz"
    assert templar.render("{{ nested.k }}", data) == "pa55word-xyz"
    assert templar.render({"direct": data["secret"]}, {}) == {"direct": "pa55word-xyz"}


def test_encrypt_string_output_loads_in_orch_and_ansible() -> None:
    block = format_encrypted_string(encrypt_bytes(b"hello-world", b"pw-7", "dev"), "greeting")
    set_keyring(keyring(("dev", "pw-7")))
    assert load_yaml_text(block, "s.yml")["greeting"].decrypt() == "hello-world"
    from ansible.parsing.dataloader import DataLoader

    value = DataLoader().load(block)["greeting"]  # ansible's own `!vault` tag handling
    assert VaultLib([("dev", AnsibleSecret(b"pw-7"))]).decrypt(value._ciphertext) == b"hello-world"


def test_whole_file_secrets_are_registered(tmp_path: Path) -> None:
    path = tmp_path / "vault.yml"
    path.write_text(encrypt_bytes(b"jwt_key: abcdef-123\nlist: [first-item]\n", b"pw-8"))
    set_keyring(keyring(("default", "pw-8")))
    assert decrypt_file_text(path.read_text(), str(path)).startswith(b"jwt_key")
    assert redact.mask("abcdef-123 first-item") == f"{redact.MASK} {redact.MASK}"
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"\x00\x01binary")
    assert read_maybe_vaulted(str(plain)) == b"\x00\x01binary"
    assert read_maybe_vaulted(str(path)).startswith(b"jwt_key")


def test_vaulted_vars_file_loads(tmp_path: Path) -> None:
    from orchestrator.inventory import read_vars_file

    path = tmp_path / "secrets.yml"
    path.write_text(encrypt_bytes(b"db_password: fromfile-99\n", b"pw-9", "prod"))
    with pytest.raises(InventoryError, match=r"secrets\.yml: file is vault-encrypted: .*no vault secret"):
        read_vars_file(str(path))
    set_keyring(keyring(("prod", "pw-9")))
    assert read_vars_file(str(path)) == {"db_password": "fromfile-99"}


def test_sources_file_script_client_env_prompt(tmp_path: Path) -> None:
    plain_file = tmp_path / "pass.txt"
    plain_file.write_text("  from-file \n")
    script = tmp_path / "pass.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    script.chmod(0o700)
    client = tmp_path / "pass-client.sh"
    client.write_text('#!/bin/sh\n[ "$1" = --vault-id ] && echo "client-for-$2"\n')
    client.chmod(0o700)
    ring = build_keyring(
        password_files=[str(plain_file)],
        vault_ids=[f"s@{script}", f"c@{client}", "p@prompt"],
        ask=True,
        environ={"ORCH_VAULT_PASSWORD": "from-env"},
        prompt=lambda text: f"typed:{text}",
    )
    got = [(s.vault_id, s.password.decode()) for s in ring.secrets]
    assert got == [
        ("default", "from-file"),
        ("s", "from-script"),
        ("c", "client-for-c"),
        ("p", "typed:Vault password (p): "),
        ("default", "typed:Vault password: "),
        ("default", "from-env"),
    ]
    assert all(p not in repr(ring) for _, p in got)  # passwords never in a repr
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\necho leaked-password; exit 3\n")
    failing.chmod(0o700)
    with pytest.raises(VaultError, match="exited with status 3") as info:
        build_keyring(password_files=[str(failing)], environ={})
    assert "leaked-password" not in str(info.value)
    with pytest.raises(VaultError, match="does not exist"):
        build_keyring(password_files=[str(tmp_path / "missing")], environ={})
    with pytest.raises(VaultError, match="empty"):
        (tmp_path / "empty").write_text("\n")
        build_keyring(password_files=[str(tmp_path / "empty")], environ={})


def test_split_vault_id() -> None:
    assert split_vault_id("prod@/x/y") == ("prod", "/x/y")
    assert split_vault_id("/x/y") == ("default", "/x/y")
    with pytest.raises(VaultError):
        split_vault_id("@/x")


def test_write_atomic_never_wider_than_asked(tmp_path: Path) -> None:
    target = tmp_path / "secret.yml"
    write_atomic(str(target), b"one", 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.chmod(0o640)
    write_atomic(str(target), b"two")  # keeps the existing mode
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["secret.yml"]  # no temp file left


def test_is_encrypted() -> None:
    assert is_encrypted("  $ANSIBLE_VAULT;1.1;AES256\n") and is_encrypted(b"$ANSIBLE_VAULT;1.2;AES256;x")
    assert not is_encrypted("ANSIBLE_VAULT") and not is_encrypted(b"")


def test_file_and_unvault_lookups_decrypt(tmp_path: Path) -> None:
    from orchestrator.templating import Templar

    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "key.pem").write_text(encrypt_bytes(b"PEM-body-123\n", b"pw-10"))
    set_keyring(keyring(("default", "pw-10")))
    templar = Templar(str(tmp_path))
    assert templar.render("{{ lookup('file', 'key.pem') }}", {}) == "PEM-body-123"
    assert templar.render("{{ lookup('unvault', 'key.pem') }}", {}) == "PEM-body-123"
    assert redact.mask("PEM-body-123") == redact.MASK


def test_importing_the_vault_package_changes_no_loader() -> None:
    """Vault support is wired by the entry points (install()), never by an import (issue 17)."""
    import subprocess
    import sys

    probe = (
        "from orchestrator import yamlsource\n"
        "from orchestrator.inventory import varsfiles\n"
        "before = (dict(yamlsource.TAG_CONSTRUCTORS), yamlsource.FILE_DECRYPTOR, varsfiles._vault_decryptor)\n"
        "import orchestrator.vault, orchestrator.vault.cli, orchestrator.modules.library.copy\n"
        "after = (dict(yamlsource.TAG_CONSTRUCTORS), yamlsource.FILE_DECRYPTOR, varsfiles._vault_decryptor)\n"
        "assert before == after == ({}, None, None), after\n"
        "orchestrator.vault.install()\n"
        "assert set(yamlsource.TAG_CONSTRUCTORS) == {'!vault'}\n"
        "assert yamlsource.FILE_DECRYPTOR is not None and varsfiles._vault_decryptor is not None\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_load_playbook_wires_vault_support_itself(tmp_path: Path) -> None:
    """An inline `!vault` value loads through load_playbook used as a library, with no import or
    call of the vault package first (a fresh interpreter)."""
    import subprocess
    import sys

    envelope = encrypt_bytes(b"s3cret", b"pw")
    block = "".join(f"      {line}\n" for line in envelope.splitlines())
    playbook = tmp_path / "site.yml"
    playbook.write_text(f"- hosts: all\n  vars:\n    token: !vault |\n{block}  tasks: []\n")
    probe = (
        "from orchestrator.playbook.loader import load_playbook\n"
        f"play = load_playbook({str(playbook)!r}).plays[0]\n"
        "print(type(play.options.vars['token']).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout == "VaultValue\n", done.stderr
