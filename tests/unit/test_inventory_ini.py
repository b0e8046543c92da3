"""INI inventories: sections, host lines, value parsing, errors with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.inventory.ini import parse_ini_value

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"


def load_ini(tmp_path: Path, text: str, name: str = "hosts.ini") -> Inventory:
    path = tmp_path / name
    path.write_text(text)
    return load_inventory([str(path)])


def ini_error(tmp_path: Path, text: str) -> InventoryError:
    with pytest.raises(InventoryError) as info:
        load_ini(tmp_path, text)
    return info.value


@pytest.fixture(scope="module")
def basic() -> Inventory:
    return load_inventory([str(FIXTURES / "ini_basic" / "hosts.ini")])


def test_hosts_in_definition_order(basic: Inventory) -> None:
    assert list(basic.hosts)[:7] == [
        "bastion.example.com",
        "web01",
        "web02",
        "web03",
        "web9.example.com",
        "db-a",
        "db-b",
    ]


def test_hosts_before_any_section_are_ungrouped(basic: Inventory) -> None:
    assert basic.groups["ungrouped"].hosts == ["bastion.example.com"]
    assert basic.hosts["bastion.example.com"].groups == ["ungrouped"]


def test_group_members_and_children(basic: Inventory) -> None:
    assert basic.groups["web"].hosts == ["web01", "web02", "web03", "web9.example.com"]
    assert basic.groups["db"].hosts == ["db-a", "db-b", "web01"]
    assert basic.groups["prod"].children == ["web", "db"]
    assert basic.groups["web"].parents == ["prod"]
    assert basic.hosts["web01"].groups == ["web", "db"]


def test_top_level_groups_become_children_of_all(basic: Inventory) -> None:
    assert basic.groups["all"].children == ["ungrouped", "prod", "values"]


def test_port_becomes_ansible_port(basic: Inventory) -> None:
    assert basic.host_vars("web9.example.com")["ansible_port"] == 2222
    assert basic.host_vars("web9.example.com")["ansible_user"] == "deploy"


def test_group_vars_sections(basic: Inventory) -> None:
    assert basic.groups["web"].vars == {"http_port": 80, "enabled": True}
    assert basic.groups["db"].vars == {"pg_version": "16"}
    assert basic.groups["all"].vars == {"ntp_server": "pool.ntp.org"}


def test_host_line_values(basic: Inventory) -> None:
    own = basic.hosts["v1"].vars
    assert own["int"] == 23
    assert own["str"] == "two words"
    assert own["quoted"] == "03"
    assert own["leading_zero"] == "03"  # not a Python literal: stays a string
    assert own["list"] == [1, "a"]
    assert own["bool"] is False
    assert own["none"] is None
    assert own["hex"] == 16
    assert own["yes_word"] == "yes"  # INI has no YAML 1.1 booleans
    assert own["dict"] == {"k": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23", 23),
        ("-4", -4),
        ("1.5", 1.5),
        ("True", True),
        ("None", None),
        ("[1, 2]", [1, 2]),
        ("(1, 2)", [1, 2]),  # tuples become lists
        ("{1}", [1]),  # so do sets
        ("'quoted'", "quoted"),
        ("hello", "hello"),
        ("hello world # not a comment", "hello world # not a comment"),
        ("0777", "0777"),
        ("", ""),
        ("b'raw'", "raw"),
        ("...", "..."),
        ("1j", "1j"),
        ("{'a': (1, 2)}", {"a": [1, 2]}),
    ],
)
def test_parse_ini_value(text: str, expected: Any) -> None:
    assert parse_ini_value(text) == expected


def test_vars_section_values_are_literal_evaluated_like_ansible(tmp_path: Path) -> None:
    # Ansible's docs say [g:vars] values are strings, but ansible-core 2.19 evaluates them
    # like host-line values; orch matches what Ansible does.
    inv = load_ini(tmp_path, '[g]\nh\n[g:vars]\nport=23\nflag=False\nname = two words\nq="x"\n')
    assert {"port": 23, "flag": False, "name": "two words", "q": "x"}.items() <= inv.host_vars("h").items()


def test_vars_section_keeps_the_rest_of_the_line(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[g]\nh\n[g:vars]\nmsg = a=b # c\n")
    assert inv.groups["g"].vars == {"msg": "a=b # c"}


def test_comments_and_blank_lines(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "# comment\n; comment\n\n[g]  # trailing\nh1 # comment\n  h2  \n")
    assert inv.groups["g"].hosts == ["h1", "h2"]


def test_vars_before_group_declared_later(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[g:vars]\nx=1\n[g]\nh\n")
    assert inv.host_vars("h")["x"] == 1


def test_children_declared_before_the_child(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[parent:children]\nkid\n[kid]\nh\n")
    assert inv.groups["parent"].children == ["kid"]
    assert inv.group_hosts("parent") == ["h"]


def test_children_section_declares_a_group(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[a]\nh\n[b:children]\na\n[c:children]\nb\n")
    assert inv.groups["all"].children == ["ungrouped", "c"]
    assert inv.group_names("h") == ["a", "b", "c"]


def test_host_in_ungrouped_section_and_a_group_is_not_ungrouped(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "h1\nh2\n[g]\nh1\n")
    assert inv.groups["ungrouped"].hosts == ["h2"]
    assert inv.hosts["h1"].groups == ["g"]


def test_explicit_all_section(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[all]\nh1\n")
    assert inv.groups["all"].hosts == ["h1"]
    assert inv.groups["ungrouped"].hosts == ["h1"]


def test_repeated_host_line_merges_vars(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[a]\nh x=1 y=1\n[b]\nh y=2\n")
    assert {"x": 1, "y": 2}.items() <= inv.hosts["h"].vars.items()
    assert inv.hosts["h"].groups == ["a", "b"]


def test_ranges_with_vars(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[g]\nn[1:2]:2200 role=x\n")
    assert list(inv.hosts) == ["n1", "n2"]
    assert inv.host_vars("n2")["ansible_port"] == 2200
    assert inv.host_vars("n2")["role"] == "x"


def test_group_priority_is_not_a_variable(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[g]\nh\n[g:vars]\nansible_group_priority=10\n")
    assert inv.groups["g"].priority == 10
    assert "ansible_group_priority" not in inv.host_vars("h")


def test_group_names_with_dashes_are_kept(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[web-servers]\nh\n")
    assert "web-servers" in inv.groups


def test_any_extension_is_ini(tmp_path: Path) -> None:
    inv = load_ini(tmp_path, "[g]\nh\n", name="production.hosts")
    assert inv.groups["g"].hosts == ["h"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[g:childs]\nh\n", 1, "unknown type 'childs'"),
        ("[g]\n[ bad ]\n", 2, "invalid section header"),
        ("[g]\nh1 novalue\n", 2, "expected key=value after host 'h1', got 'novalue'"),
        ("[g]\nh1 =x\n", 2, "expected key=value"),
        ('[g]\nh1 x="unclosed\n', 2, "No closing quotation"),
        ("[g]\nweb[1:]\n", 2, "bad host range in 'web[1:]'"),
        ("[g]\nweb[3:1]\n", 2, "begin <= end"),
        ("[g]\nh1:\n", 2, "ends in ':'"),
        ("---\n", 1, "YAML"),
        ("[g]\nh\n[g:vars]\nnovalue\n", 4, "expected key=value in [g:vars]"),
        ("[g]\nh\n[p:children]\ng extra\n", 4, "expected a group name"),
        ("[h:vars]\nx=1\n", 1, "[h:vars] is for group 'h', which is never defined"),
        ("[p:children]\nmissing\n", 2, "[p:children] names group 'missing', which is never defined"),
        ("[a:children]\nb\n[b:children]\na\n", 4, "cycle (a -> b -> a)"),
        ("[a:children]\na\n", 2, "cycle"),
        ("[a:children]\nall\n", 2, "'all' cannot be a child"),
        ("[g]\nh\n[g:vars]\nansible_group_priority=high\n", 4, "must be an integer"),
    ],
)
def test_errors_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    error = ini_error(tmp_path, text)
    assert message in error.message
    assert error.location is not None
    assert error.location.path == str(tmp_path / "hosts.ini")
    assert error.location.line == line
    assert str(error).startswith(f"{tmp_path / 'hosts.ini'}:{line}: ")
