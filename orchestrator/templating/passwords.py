"""Password hashing for the `password_hash` filter and the `password` lookup.

The `crypt` module is deprecated (gone in Python 3.13) and passlib is unmaintained, so the
crypt(3) schemes Linux uses are implemented here from their public specifications:
SHA-crypt (`$5$`, `$6$`, Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512") and
MD5-crypt (`$1$`, Poul-Henning Kamp's FreeBSD scheme). bcrypt (`$2b$`) uses the `bcrypt`
package, which paramiko already depends on.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from orchestrator.errors import TemplateError

# crypt(3)'s base-64 alphabet (not RFC 4648's)
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SALT_CHARS = _ITOA64

# byte order in which each scheme's final digest is encoded, three bytes (four chars) at a time
_SHA512_ORDER = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
]  # fmt: skip
_SHA256_ORDER = [
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
]  # fmt: skip
_MD5_ORDER = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)]

_ROUNDS_DEFAULT = 5000
_ROUNDS_MIN = 1000
_ROUNDS_MAX = 999_999_999


def _b64_24(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat_to(data: bytes, length: int) -> bytes:
    return (data * (length // len(data) + 1))[:length] if data else b""


def _sha_rounds(
    hash_new: Callable[..., Any], digest: bytes, p_bytes: bytes, s_bytes: bytes, rounds: int
) -> bytes:
    """The spec's rounds loop. Round i hashes [P|C] + [S if i%3] + [P if i%7] + [C|P]; the pattern
    repeats every 42 rounds, so each round is one hash of the digest joined to a precomputed
    constant (3x faster than the literal loop: 656000 rounds is Ansible's default)."""
    plan: list[tuple[bool, bytes]] = []
    for k in range(42):
        middle = (s_bytes if k % 3 else b"") + (p_bytes if k % 7 else b"")
        plan.append((True, p_bytes + middle) if k & 1 else (False, middle + p_bytes))
    full, rest = divmod(rounds, 42)
    for _ in range(full):
        for odd, const in plan:
            digest = hash_new(const + digest).digest() if odd else hash_new(digest + const).digest()
    for odd, const in plan[:rest]:
        digest = hash_new(const + digest).digest() if odd else hash_new(digest + const).digest()
    return digest


def sha_crypt(password: str | bytes, salt: str, *, bits: int = 512, rounds: int | None = None) -> str:
    """SHA-crypt: `$6$` (bits=512) or `$5$` (bits=256); rounds=None means the implicit 5000."""
    pw = password.encode() if isinstance(password, str) else password
    hash_new: Callable[..., Any] = hashlib.sha512 if bits == 512 else hashlib.sha256
    size = 64 if bits == 512 else 32
    salt_b = salt.encode()[:16]
    n_rounds = _ROUNDS_DEFAULT if rounds is None else min(max(int(rounds), _ROUNDS_MIN), _ROUNDS_MAX)

    alt = hash_new(pw + salt_b + pw).digest()
    ctx = hash_new(pw + salt_b)
    ctx.update(_repeat_to(alt, len(pw)))
    length = len(pw)
    while length:
        ctx.update(alt if length & 1 else pw)
        length >>= 1
    digest = ctx.digest()

    p_bytes = _repeat_to(hash_new(pw * len(pw)).digest(), len(pw))
    s_bytes = _repeat_to(hash_new(salt_b * (16 + digest[0])).digest(), len(salt_b))

    digest = _sha_rounds(hash_new, digest, p_bytes, s_bytes, n_rounds)

    if bits == 512:
        encoded = "".join(_b64_24(digest[a], digest[b], digest[c], 4) for a, b, c in _SHA512_ORDER)
        encoded += _b64_24(0, 0, digest[63], 2)
        prefix = "$6$"
    else:
        encoded = "".join(_b64_24(digest[a], digest[b], digest[c], 4) for a, b, c in _SHA256_ORDER)
        encoded += _b64_24(0, digest[31], digest[30], 3)
        prefix = "$5$"
    assert len(digest) == size
    rounds_part = "" if rounds is None else f"rounds={n_rounds}$"
    return f"{prefix}{rounds_part}{salt_b.decode()}${encoded}"


def md5_crypt(password: str | bytes, salt: str) -> str:
    """MD5-crypt (`$1$`), still found in old /etc/shadow files."""
    pw = password.encode() if isinstance(password, str) else password
    salt_b = salt.encode()[:8]
    magic = b"$1$"
    alt = hashlib.md5(pw + salt_b + pw).digest()
    ctx = hashlib.md5(pw + magic + salt_b)
    ctx.update(_repeat_to(alt, len(pw)))
    length = len(pw)
    while length:
        ctx.update(b"\0" if length & 1 else pw[:1])
        length >>= 1
    digest = ctx.digest()
    for i in range(1000):
        ctx = hashlib.md5(pw if i & 1 else digest)
        if i % 3:
            ctx.update(salt_b)
        if i % 7:
            ctx.update(pw)
        ctx.update(digest if i & 1 else pw)
        digest = ctx.digest()
    encoded = "".join(_b64_24(digest[a], digest[b], digest[c], 4) for a, b, c in _MD5_ORDER)
    encoded += _b64_24(0, 0, digest[11], 2)
    return f"$1${salt_b.decode()}${encoded}"


def _bcrypt(password: str, salt: str, rounds: int | None, ident: str | None) -> str:
    try:
        import bcrypt
    except ImportError as exc:  # pragma: no cover - bcrypt ships with paramiko
        raise TemplateError("password_hash('blowfish') needs the Python 'bcrypt' package") from exc
    cost = 12 if rounds is None else int(rounds)
    prefix = f"${ident or '2b'}${cost:02d}$".encode()
    return bcrypt.hashpw(password.encode(), prefix + salt.encode()).decode()


# Ansible's names (and passlib's) for each scheme -> (canonical, default salt size, default rounds).
# The default rounds are ansible-core 2.19's (through passlib), written out as `rounds=N$`, so a
# hash made here for a given salt is the one Ansible leaves in /etc/shadow.
_SCHEMES: dict[str, tuple[str, int, int | None]] = {
    "sha512": ("sha512_crypt", 16, 656_000),
    "sha512_crypt": ("sha512_crypt", 16, 656_000),
    "sha256": ("sha256_crypt", 16, 535_000),
    "sha256_crypt": ("sha256_crypt", 16, 535_000),
    "md5": ("md5_crypt", 8, None),
    "md5_crypt": ("md5_crypt", 8, None),
    "blowfish": ("bcrypt", 22, 12),
    "bcrypt": ("bcrypt", 22, 12),
}


def random_salt(size: int) -> str:
    return "".join(secrets.choice(SALT_CHARS) for _ in range(size))


def password_hash(
    password: str,
    hashtype: str = "sha512",
    salt: str | None = None,
    salt_size: int | None = None,
    rounds: int | None = None,
    ident: str | None = None,
) -> str:
    """The `password_hash` filter: a crypt(3) string for /etc/shadow (`user` module's `password`)."""
    try:
        scheme, default_size, default_rounds = _SCHEMES[hashtype]
    except KeyError:
        raise TemplateError(
            f"password_hash: unsupported hash type {hashtype!r}; use one of {', '.join(_SCHEMES)}"
        ) from None
    if salt is None:
        salt = random_salt(salt_size or default_size)
    else:
        salt = str(salt)
        if any(ch not in SALT_CHARS for ch in salt):
            raise TemplateError("password_hash: salt may only contain the characters [./0-9A-Za-z]")
    return _hash_cached(scheme, str(password), salt, int(rounds or default_rounds or 0), ident)


@functools.lru_cache(maxsize=256)
def _hash_cached(scheme: str, password: str, salt: str, rounds: int, ident: str | None) -> str:
    # with a fixed salt every host gets the same hash: compute the (slow on purpose) hash once
    if scheme in ("sha512_crypt", "sha256_crypt"):
        bits = 512 if scheme == "sha512_crypt" else 256
        # 5000 is SHA-crypt's implicit count, which passlib (and so Ansible) leaves out
        return sha_crypt(password, salt, bits=bits, rounds=None if rounds == _ROUNDS_DEFAULT else rounds)
    if scheme == "md5_crypt":
        return md5_crypt(password, salt)
    return _bcrypt(password, salt, rounds, ident)
