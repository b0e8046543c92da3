"""Host ranges and host:port splitting in inventory host entries."""

from __future__ import annotations

import pytest

from orchestrator.inventory.ranges import RangeError, expand_host_pattern, expand_ranges, split_port


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web1", ["web1"]),
        ("web[1:3]", ["web1", "web2", "web3"]),
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[08:11]", ["web08", "web09", "web10", "web11"]),
        ("web[001:002].example.com", ["web001.example.com", "web002.example.com"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("x[y:B]", ["xy", "xz", "xA", "xB"]),  # letters run a..zA..Z, as Ansible
        ("n[1:10:3]", ["n1", "n4", "n7", "n10"]),
        ("n[01:10:4]", ["n01", "n05", "n09"]),
        ("n[a:g:3]", ["na", "nd", "ng"]),
        ("n[:2]", ["n0", "n1", "n2"]),  # an empty begin is 0
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),  # the first range varies slowest
        ("[1:2]x[1:2]y", ["1x1y", "1x2y", "2x1y", "2x2y"]),
        ("10.0.0.[1:3]", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ("h[5:5]", ["h5"]),
    ],
)
def test_expand_ranges(pattern: str, expected: list[str]) -> None:
    assert expand_ranges(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("web[1:]", "needs an end value"),
        ("web[1]", "[begin:end]"),
        ("web[1:2:3:4]", "[begin:end]"),
        ("web[1:3", "unterminated"),
        ("web[3:1]", "begin <= end"),
        ("web[c:a]", "begin <= end"),
        ("web[01:100]", "same width"),
        ("web[a:5]", "numbers or single letters"),
        ("web[1:5:x]", "step must be a number"),
        ("web[1:5:0]", "at least 1"),
    ],
)
def test_bad_ranges(pattern: str, message: str) -> None:
    with pytest.raises(RangeError, match=message.replace("[", r"\[")):
        expand_ranges(pattern)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h1", ("h1", None)),
        ("h1:2222", ("h1", 2222)),
        ("web1.example.com:22", ("web1.example.com", 22)),
        ("10.0.0.1:2200", ("10.0.0.1", 2200)),
        ("[fe80::1]:2222", ("fe80::1", 2222)),
        ("fe80::1", ("fe80::1", None)),  # a bare IPv6 address keeps every component
        ("::1", ("::1", None)),
        ("web[01:03]:22", ("web[01:03]", 22)),
        ("web-:22", ("web-:22", None)),  # not a valid host name: left alone, as Ansible
        ("h1:", ("h1:", None)),
    ],
)
def test_split_port(text: str, expected: tuple[str, int | None]) -> None:
    assert split_port(text) == expected


def test_expand_host_pattern_combines_port_and_ranges() -> None:
    assert expand_host_pattern("app[1:2].example.com:2022") == (
        ["app1.example.com", "app2.example.com"],
        2022,
    )
