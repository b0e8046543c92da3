"""Host patterns (`hosts:` and `--limit`): every form, Ansible's order, the implicit localhost."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.errors import InventoryError
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.inventory.patterns import order_patterns, split_host_pattern, split_subscript

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
ALL = ["bastion", "web1", "web2", "web3", "db1", "db2", "stage1.example.com", "eu-db.example.com"]

# (pattern, expected host names in order); Ansible's answers are checked in test_inventory_ansible.py
PATTERN_CASES: list[tuple[str, list[str]]] = [
    (pattern, hosts) for pattern, hosts in yaml.safe_load((FIXTURES / "patterns" / "cases.yml").read_text())
]


@pytest.fixture
def inv() -> Inventory:
    return load_inventory([str(FIXTURES / "patterns" / "hosts.yml")])


def names(inv: Inventory, pattern: str | list[str], limit: str | list[str] | None = None) -> list[str]:
    return [host.name for host in inv.select(pattern, limit)]


@pytest.mark.parametrize(("pattern", "expected"), PATTERN_CASES)
def test_select(inv: Inventory, pattern: str, expected: list[str]) -> None:
    assert names(inv, pattern) == expected


def test_select_a_list_of_patterns(inv: Inventory) -> None:
    assert names(inv, ["db", "web:!web1"]) == ["db1", "db2", "web3", "web2"]


def test_empty_pattern_selects_nothing(inv: Inventory) -> None:
    assert names(inv, "") == []
    assert names(inv, []) == []


def test_out_of_range_subscript_is_an_error(inv: Inventory) -> None:
    with pytest.raises(InventoryError, match="no hosts matched the subscripted pattern 'web\\[5\\]'"):
        inv.select("web[5]")


def test_digits_in_brackets_are_a_subscript_not_a_glob(inv: Inventory) -> None:
    with pytest.raises(InventoryError, match="subscripted"):
        inv.select("w?b[12]")  # index 12 of the hosts matching w?b, as in Ansible


def test_bad_regex_is_an_error(inv: Inventory) -> None:
    with pytest.raises(InventoryError, match="invalid host pattern '~web\\('"):
        inv.select("~web(")


def test_implicit_localhost(inv: Inventory) -> None:
    localhost = inv.select("localhost")[0]
    assert localhost.implicit
    assert localhost.groups == []
    assert inv.host_vars("localhost")["ansible_connection"] == "local"
    assert "localhost" not in inv.hosts
    assert "localhost" not in names(inv, "all")
    assert "localhost" not in inv.groups_map()["all"]
    assert inv.group_names("localhost") == []
    assert inv.get_host("localhost") is localhost


def test_implicit_localhost_is_one_host_whatever_name_asked_first(inv: Inventory) -> None:
    fresh = load_inventory([])
    first = fresh.get_host("127.0.0.1")
    assert first is not None and first.name == "127.0.0.1"
    assert fresh.get_host("localhost") is first  # as Ansible: one implicit localhost per run
    assert fresh.get_host("web1") is None


def test_explicit_localhost_is_used_for_other_localhost_names(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[local]\nlocalhost ansible_connection=local x=1\n")
    inv = load_inventory([str(path)])
    assert names(inv, "127.0.0.1") == ["localhost"]
    assert not inv.hosts["localhost"].implicit
    assert "localhost" in names(inv, "all")


def test_implicit_localhost_gets_group_vars_all(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("ntp: pool\nansible_connection: ssh\n")
    (tmp_path / "hosts.ini").write_text("[all:vars]\nregion=eu\n[web]\nw1\n")
    inv = load_inventory([str(tmp_path / "hosts.ini")])
    assert inv.host_vars("localhost") == {"ntp": "pool", "region": "eu", "ansible_connection": "local"}


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("db", ["web3", "db1", "db2"]),
        ("web[0]", ["web1"]),
        ("!web", ["bastion", "db1", "db2", "stage1.example.com", "eu-db.example.com"]),
        ("db:&staging", []),
        ("staging,bastion", ["bastion", "web2", "stage1.example.com"]),
        (["db", "bastion"], ["bastion", "web3", "db1", "db2"]),
        ("", ALL),  # an empty limit restricts nothing, as Ansible
        ("nosuch", []),
    ],
)
def test_limit(inv: Inventory, limit: str | list[str], expected: list[str]) -> None:
    assert names(inv, "all", limit) == expected


def test_limit_keeps_pattern_order(inv: Inventory) -> None:
    assert names(inv, "db:web", "web") == ["web3", "web1", "web2"]


def test_limit_excludes_implicit_localhost_unless_named(inv: Inventory) -> None:
    assert names(inv, "localhost", "web") == []
    assert names(inv, "localhost", "localhost,web") == ["localhost"]


def test_limit_from_retry_file(inv: Inventory, tmp_path: Path) -> None:
    retry = tmp_path / "site.retry"
    retry.write_text("web2\ndb1\n\n")
    assert names(inv, "all", f"@{retry}") == ["web2", "db1"]
    assert names(inv, "all", f"@{retry},bastion") == ["bastion", "web2", "db1"]


def test_limit_file_errors(inv: Inventory, tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="limit file not found"):
        inv.select("all", f"@{tmp_path / 'missing.retry'}")
    with pytest.raises(InventoryError, match="must name a file"):
        inv.select("all", f"@{tmp_path}")


def test_host_name_wins_over_group_of_the_same_name(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nweb\nw2\n")
    inv = load_inventory([str(path)])
    assert names(inv, "web") == ["web"]  # Ansible looks a plain name up as a host first
    assert names(inv, "web*") == ["web", "w2"]


def test_patterns_see_hosts_added_later(inv: Inventory) -> None:
    assert names(inv, "web") == ["web1", "web2", "web3"]
    inv.add_host("web4", "web")
    assert names(inv, "web") == ["web1", "web2", "web3", "web4"]
    assert inv.group_names("web4") == ["eu", "web"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a,b[1], c[2:3] , d", ["a", "b[1]", "c[2:3]", "d"]),
        ("a:b:&c:!d", ["a", "b", "&c", "!d"]),
        ("web[0:2]:db", ["web[0:2]", "db"]),
        ("h1:22", ["h1:22"]),  # a host with a port is one pattern
        ("fe80::1", ["fe80::1"]),  # an IPv6 address is one pattern
        ("fe80::1,web", ["fe80::1", "web"]),
        ("~web\\d+", ["~web\\d+"]),
        ("  all  ", ["all"]),
        (",,", []),
        (["a:b", "c"], ["a", "b", "c"]),
    ],
)
def test_split_host_pattern(pattern: str | list[str], expected: list[str]) -> None:
    assert split_host_pattern(pattern) == expected


def test_order_patterns() -> None:
    assert order_patterns(["!x", "a", "&y", "b"]) == ["a", "b", "&y", "!x"]
    assert order_patterns(["!x"]) == ["all", "!x"]


def test_split_subscript() -> None:
    assert split_subscript("web") == ("web", None)
    web, sub = split_subscript("web[2:]")
    assert web == "web" and sub is not None and (sub.start, sub.end) == (2, -1)
    assert split_subscript("~web[1]")[1] is None  # a regex keeps its brackets
