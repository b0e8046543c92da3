"""The ansible-vault envelope and its AES256 cipher, byte-compatible with ansible-core.

    $ANSIBLE_VAULT;1.1;AES256            (1.2 adds `;label`, the vault id)
    <hex of: hex(salt) \\n hex(hmac) \\n hex(ciphertext)>, wrapped at 80 columns

Key material: PBKDF2-HMAC-SHA256(password, salt, 10000 iterations) -> 80 bytes =
AES key (32) | HMAC key (32) | CTR initial counter (16). The plaintext is PKCS7-padded (as
ansible-core does, although CTR needs no padding) and the HMAC-SHA256 covers the ciphertext.
The vault id in a 1.2 header is not authenticated: it only says which secret to try first.
"""

from __future__ import annotations

import binascii
import functools
import hmac as std_hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from orchestrator.errors import VaultError

HEADER = "$ANSIBLE_VAULT"
B_HEADER = HEADER.encode()
CIPHER = "AES256"
DEFAULT_ID = "default"
_ITERATIONS = 10000
_KEY_LEN = 32
_IV_LEN = 16


def is_encrypted(data: str | bytes) -> bool:
    """True when `data` starts with the vault header (surrounding whitespace allowed)."""
    if isinstance(data, str):
        return data.lstrip().startswith(HEADER + ";")
    return data.lstrip().startswith(B_HEADER + b";")


@dataclass(frozen=True)
class Envelope:
    version: str  # "1.1" or "1.2"
    cipher: str
    vault_id: str | None  # only in 1.2
    payload: bytes  # the hexlified body, newlines removed


def parse_envelope(data: str | bytes) -> Envelope:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    lines = raw.strip().splitlines()
    if not lines:
        raise VaultError("vault data is empty")
    header = lines[0].strip().split(b";")
    if len(header) < 3 or header[0] != B_HEADER:
        raise VaultError("not vault data: the first line must be $ANSIBLE_VAULT;<version>;<cipher>")
    version = header[1].strip().decode("ascii", "replace")
    cipher = header[2].strip().decode("ascii", "replace")
    vault_id = header[3].strip().decode("utf-8", "replace") if len(header) >= 4 else None
    if version not in ("1.1", "1.2"):
        raise VaultError(f"unsupported vault format version {version!r} (orch reads 1.1 and 1.2)")
    if cipher != CIPHER:
        raise VaultError(f"unsupported vault cipher {cipher!r} (orch reads AES256)")
    return Envelope(version, cipher, vault_id or None, b"".join(line.strip() for line in lines[1:]))


def format_envelope(payload: bytes, vault_id: str | None = None) -> str:
    """Header plus the payload at 80 columns; a vault id other than `default` makes it 1.2."""
    if vault_id and vault_id != DEFAULT_ID:
        if any(c in vault_id for c in ";\n\r"):
            raise VaultError(f"invalid vault id {vault_id!r}: ';' and newlines are not allowed")
        header = f"{HEADER};1.2;{CIPHER};{vault_id}"
    else:
        header = f"{HEADER};1.1;{CIPHER}"
    text = payload.decode("ascii")
    body = [text[i : i + 80] for i in range(0, len(text), 80)]
    return "\n".join([header, *body]) + "\n"


@functools.lru_cache(maxsize=64)
def _derive(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    # Cached: a play with many `!vault` values under one password derives each salt once.
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=2 * _KEY_LEN + _IV_LEN, salt=salt, iterations=_ITERATIONS
    )
    key = kdf.derive(password)
    return key[:_KEY_LEN], key[_KEY_LEN : 2 * _KEY_LEN], key[2 * _KEY_LEN :]


def encrypt_bytes(
    plaintext: bytes, password: bytes, vault_id: str | None = None, salt: bytes | None = None
) -> str:
    """Encrypt to the full envelope text (what ansible-vault writes to a file)."""
    if not password:
        raise VaultError("an empty vault password cannot be used")
    salt = salt if salt is not None else os.urandom(32)
    aes_key, hmac_key, iv = _derive(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)
    inner = b"\n".join(
        [binascii.hexlify(salt), binascii.hexlify(mac.finalize()), binascii.hexlify(ciphertext)]
    )
    return format_envelope(binascii.hexlify(inner), vault_id)


class WrongPassword(VaultError):
    """The HMAC did not verify: this password is not the one the data was encrypted with."""


def decrypt_payload(envelope: Envelope, password: bytes) -> bytes:
    """Decrypt one envelope with one password; WrongPassword when the HMAC does not match."""
    try:
        inner = binascii.unhexlify(envelope.payload)
        salt_hex, mac_hex, cipher_hex = inner.split(b"\n", 2)
        salt = binascii.unhexlify(salt_hex)
        expected = binascii.unhexlify(mac_hex)
        ciphertext = binascii.unhexlify(cipher_hex)
    except (binascii.Error, ValueError):
        raise VaultError("vault data is corrupt (not the hex layout ansible-vault writes)") from None
    aes_key, hmac_key, iv = _derive(password, salt)
    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)
    if not std_hmac.compare_digest(mac.finalize(), expected):
        raise WrongPassword("HMAC verification failed")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise VaultError("vault data is corrupt (bad padding)") from None
