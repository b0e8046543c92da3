"""Pure-Python crypt(3) schemes against published vectors, and the version comparators."""

from __future__ import annotations

import itertools
import warnings

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating.passwords import md5_crypt, password_hash, sha_crypt
from orchestrator.templating.versions import SemanticVersion, StrictVersion, loose_key, version_compare

# From Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification
SHA512_VECTORS = [
    (
        "$6$saltstring",
        "Hello world!",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    ),
    (
        "$6$rounds=10000$saltstringsaltstring",
        "Hello world!",
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    ),
    (
        "$6$rounds=5000$toolongsaltstring",
        "This is just a test",
        "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
    ),
    (
        "$6$rounds=1400$anotherlongsaltstring",
        "a very much longer text to encrypt.  This one even stretches over morethan one line.",
        "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
    ),
    (
        "$6$rounds=10$roundstoolow",
        "the minimum number is still observed",
        "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
    ),
]
SHA256_VECTORS = [
    ("$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    ("$5$rounds=10000$saltstringsaltstring", "Hello world!",
     "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
    ("$5$rounds=5000$toolongsaltstring", "This is just a test",
     "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"),
    ("$5$rounds=10$roundstoolow", "the minimum number is still observed",
     "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"),
]  # fmt: skip


def _split(setting: str) -> tuple[str, int | None]:
    parts = setting.split("$")
    if parts[2].startswith("rounds="):
        return parts[3], int(parts[2][len("rounds=") :])
    return parts[2], None


@pytest.mark.parametrize(("setting", "password", "expected"), SHA512_VECTORS)
def test_sha512_crypt_spec_vectors(setting: str, password: str, expected: str) -> None:
    salt, rounds = _split(setting)
    assert sha_crypt(password, salt, bits=512, rounds=rounds) == expected


@pytest.mark.parametrize(("setting", "password", "expected"), SHA256_VECTORS)
def test_sha256_crypt_spec_vectors(setting: str, password: str, expected: str) -> None:
    salt, rounds = _split(setting)
    assert sha_crypt(password, salt, bits=256, rounds=rounds) == expected


def test_md5_crypt_known_vectors() -> None:
    assert md5_crypt("password", "saltsalt") == "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
    assert md5_crypt("", "ab") == md5_crypt("", "ab")  # empty password is fine


def test_against_system_crypt_when_present() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    for password in ["", "a", "x" * 100, "pässwörd", "Hello world!"]:
        for salt in ["ab", "saltsaltsaltsalt"]:
            for rounds in (None, 1000, 1043):
                prefix = "" if rounds is None else f"rounds={rounds}$"
                assert sha_crypt(password, salt, rounds=rounds) == crypt.crypt(password, f"$6${prefix}{salt}")
                assert sha_crypt(password, salt, bits=256, rounds=rounds) == crypt.crypt(
                    password, f"$5${prefix}{salt}"
                )
            assert md5_crypt(password, salt) == crypt.crypt(password, f"$1${salt}")


def test_password_hash_defaults_match_ansible() -> None:
    # ansible-core 2.19 (passlib) writes the rounds out: 656000 for sha512, 535000 for sha256
    assert password_hash("secret", "sha512", salt="saltsalt").startswith("$6$rounds=656000$saltsalt$")
    assert password_hash("secret", "sha256", salt="saltsalt").startswith("$5$rounds=535000$saltsalt$")
    assert password_hash("secret", "sha512", salt="saltsalt", rounds=5000).startswith("$6$saltsalt$")
    assert password_hash("secret", "md5", salt="abcdefghij").startswith("$1$abcdefgh$")
    assert password_hash("secret", "blowfish", salt="abcdefghijklmnopqrstuu", rounds=4).startswith("$2b$04$")
    assert password_hash("secret", "bcrypt", salt="abcdefghijklmnopqrstuu", rounds=4, ident="2a").startswith(
        "$2a$04$"
    )


def test_password_hash_random_salt_sizes() -> None:
    assert len(password_hash("x", "sha512", rounds=5000).split("$")[2]) == 16
    assert len(password_hash("x", "sha512", rounds=5000, salt_size=8).split("$")[2]) == 8
    assert len(password_hash("x", "md5").split("$")[2]) == 8


def test_password_hash_errors() -> None:
    with pytest.raises(TemplateError):
        password_hash("x", "sha1")
    with pytest.raises(TemplateError):
        password_hash("x", "sha512", salt="with space")


# --- versions ---------------------------------------------------------------------------------------


def test_loose_key() -> None:
    assert loose_key("1.2.10") == [1, 2, 10]
    assert loose_key("1.0rc1") == [1, 0, "rc", 1]
    assert loose_key("22.04") == [22, 4]


def test_strict_version() -> None:
    assert StrictVersion("1.2") == StrictVersion("1.2.0")
    assert StrictVersion("1.2a1") < StrictVersion("1.2b1") < StrictVersion("1.2")
    with pytest.raises(ValueError):
        StrictVersion("1")
    with pytest.raises(ValueError):
        StrictVersion("1.2.3.4")


def test_semantic_version() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]  # fmt: skip
    versions = [SemanticVersion(v) for v in ordered]
    assert versions == sorted(versions)
    assert all(a < b for a, b in itertools.pairwise(versions))
    assert SemanticVersion("1.0.0+a") == SemanticVersion("1.0.0+b")
    with pytest.raises(ValueError):
        SemanticVersion("1.0")
    with pytest.raises(ValueError):
        SemanticVersion("01.0.0")


@pytest.mark.parametrize(
    ("a", "b", "op", "kwargs", "expected"),
    [
        ("1.2.10", "1.2.9", ">", {}, True),
        ("1.2.10", "1.2.9", "lt", {}, False),
        ("2.0", "2.0.0", "==", {}, False),  # loose: [2, 0] != [2, 0, 0]
        ("2.0", "2.0.0", "==", {"strict": True}, True),
        ("1.0.0-rc.1", "1.0.0", "<", {"version_type": "semver"}, True),
        ("1.0.post1", "1.0", ">", {"version_type": "pep440"}, True),
        (5, "4", "gt", {}, True),
    ],
)
def test_version_compare(a: object, b: str, op: str, kwargs: dict[str, object], expected: bool) -> None:
    assert version_compare(a, b, op, **kwargs) is expected  # type: ignore[arg-type]
