"""ansible-vault compatible secrets: whole encrypted files and inline `!vault |` values.

`install()` wires vault support into the loaders (the `!vault` YAML tag, vaulted vars files,
vaulted playbook/role YAML); the entry points call it (cli.main, load_playbook, load_adhoc_task;
the inventory takes its decryptor by injection, set_vault_decryptor); importing this package
changes nothing. `set_keyring` gives it
the run's passwords. When
secrets are given, inline values are decrypted as they are loaded and a wrong password stops
the run before any host is contacted (check_loaded_values), naming file:line. Without any
secret they stay encrypted until a task uses them, so a play that never touches one runs.
Every plaintext is registered with `orchestrator.redact`, so no output channel shows it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import yaml

from orchestrator import redact, yamlsource
from orchestrator.errors import InventoryError, SourceLocation, VaultError
from orchestrator.inventory import varsfiles
from orchestrator.vault.format import (
    DEFAULT_ID,
    HEADER,
    encrypt_bytes,
    format_envelope,
    is_encrypted,
    parse_envelope,
)
from orchestrator.vault.secrets import Keyring, VaultSecret, build_keyring, split_vault_id

__all__ = [
    "DEFAULT_ID",
    "HEADER",
    "Keyring",
    "VaultSecret",
    "VaultValue",
    "build_keyring",
    "decrypt_file_text",
    "encrypt_bytes",
    "format_envelope",
    "get_keyring",
    "install",
    "is_encrypted",
    "parse_envelope",
    "read_maybe_vaulted",
    "set_keyring",
    "split_vault_id",
]

_keyring = Keyring()
_keyring_lock = threading.Lock()
_undecryptable: list[VaultError] = []  # inline values that failed to decrypt at load time


def set_keyring(keyring: Keyring) -> None:
    """The secrets every later decryption in this process uses."""
    global _keyring
    with _keyring_lock:
        _keyring = keyring
        _undecryptable.clear()


def get_keyring() -> Keyring:
    return _keyring


class VaultValue:
    """An inline `!vault |` value: ciphertext until a task reads it, then its plaintext.

    str() and repr() never decrypt (an inventory dump or a debug print shows a marker, as
    ansible's `__ansible_vault` does); templating calls `__orch_resolve__`.
    """

    __slots__ = ("_lock", "_plain", "ciphertext", "location")

    def __init__(self, ciphertext: str, location: SourceLocation | None = None) -> None:
        self.ciphertext = ciphertext
        self.location = location
        self._plain: str | None = None
        self._lock = threading.Lock()

    def decrypt(self) -> str:
        with self._lock:
            if self._plain is None:
                plain, _ = _keyring.decrypt(self.ciphertext, self.location)
                text = plain.decode("utf-8", "surrogateescape")
                redact.add_secret(text)
                self._plain = text
            return self._plain

    __orch_resolve__ = decrypt  # the templating hook: a variable holding this renders as plaintext

    def __str__(self) -> str:
        return "<vault-encrypted value>"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaultValue) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)


def decrypt_file_text(text: str | bytes, path: str) -> bytes:
    """Plaintext of a whole vaulted file; every value in it becomes a registered secret."""
    plain, _ = _keyring.decrypt(text, SourceLocation(path))
    redact.add_secret(plain.decode("utf-8", "replace"))
    # Not YAML (a vaulted certificate, a .env): its lines were registered above.
    with contextlib.suppress(yaml.YAMLError):
        redact.add_secrets_from(yaml.safe_load(plain))
    return plain


def read_maybe_vaulted(path: str, decrypt: bool = True) -> bytes:
    """A controller file's bytes, decrypted when it is a vault file (copy/template `src`)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if decrypt and is_encrypted(data[:64]):
        return decrypt_file_text(data, path)
    return data


def _yaml_file_text(text: str, path: str) -> str:
    try:
        return decrypt_file_text(text, path).decode("utf-8")
    except UnicodeDecodeError:
        raise VaultError("decrypted vault file is not valid UTF-8", SourceLocation(path)) from None


def _inventory_file_text(text: str, path: str) -> str:
    # Inventory and vars-file readers raise InventoryError; keep the vault's reason in it.
    try:
        return _yaml_file_text(text, path)
    except VaultError as exc:
        raise InventoryError(f"file is vault-encrypted: {exc.message}", exc.location) from None


def _vault_tag(text: str, location: SourceLocation | None = None) -> VaultValue:
    if not is_encrypted(text):
        raise VaultError("a !vault value must hold $ANSIBLE_VAULT;... ciphertext", location)
    value = VaultValue(text, location)
    if _keyring.secrets:
        # Learn the plaintext now so it is masked everywhere from the start (a diff may show
        # the old content of a file before any task uses the value). A wrong password is
        # remembered and reported by check_loaded_values() before any host is contacted.
        try:
            value.decrypt()
        except VaultError as exc:
            with _keyring_lock:
                _undecryptable.append(exc)
    return value


class VaultValuesError(VaultError):
    """Inline `!vault` values the given secrets cannot decrypt; `errors` names each file:line."""

    def __init__(self, errors: list[VaultError]) -> None:
        self.errors = errors
        super().__init__(errors[0].message, errors[0].location)


def check_loaded_values() -> None:
    """Raise when an inline `!vault` value loaded so far did not decrypt with the given secrets
    (a wrong password), so the run stops before contact rather than when a task uses it.
    Without any secret, values stay encrypted until used: a play that never reads them runs."""
    with _keyring_lock:
        failed = list(_undecryptable)
    if failed:
        raise VaultValuesError(failed)


def install() -> None:
    """Hook vault support into the YAML and vars-file loaders. Idempotent: the entry points that
    load YAML call it, so a loader used as a library reads vaulted files too."""
    yamlsource.TAG_CONSTRUCTORS["!vault"] = _vault_tag
    yamlsource.FILE_DECRYPTOR = _yaml_file_text
    varsfiles.set_vault_decryptor(_inventory_file_text)


def describe(value: Any) -> str:
    """A safe one-line description for `explain`-style output."""
    return str(value) if isinstance(value, VaultValue) else redact.mask(repr(value))
