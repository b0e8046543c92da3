"""YAML inventories: structure, ranges, ports, and errors with file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import Inventory, load_inventory

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"


def load_yaml(tmp_path: Path, text: str, name: str = "hosts.yml") -> Inventory:
    path = tmp_path / name
    path.write_text(text)
    return load_inventory([str(path)])


def yaml_error(tmp_path: Path, text: str, name: str = "hosts.yml") -> InventoryError:
    with pytest.raises(InventoryError) as info:
        load_yaml(tmp_path, text, name)
    return info.value


@pytest.fixture(scope="module")
def basic() -> Inventory:
    return load_inventory([str(FIXTURES / "yaml_basic" / "hosts.yml")])


def test_hosts_in_definition_order(basic: Inventory) -> None:
    assert list(basic.hosts) == [
        "bastion.example.com",
        "web01",
        "web02",
        "web03",
        "web9.example.com",
        "db-a",
        "db-b",
    ]


def test_groups_and_children(basic: Inventory) -> None:
    assert basic.groups["all"].children == ["ungrouped", "web", "db", "prod"]
    assert basic.groups["prod"].children == ["web", "db"]
    assert basic.groups["web"].parents == ["all", "prod"]
    assert basic.groups["db"].hosts == ["db-a", "db-b", "web01"]


def test_hosts_directly_under_all_are_also_ungrouped(basic: Inventory) -> None:
    assert basic.groups["all"].hosts == ["bastion.example.com"]
    assert basic.groups["ungrouped"].hosts == ["bastion.example.com"]


def test_vars(basic: Inventory) -> None:
    assert basic.groups["web"].vars == {"http_port": 80, "enabled": True}  # YAML 1.1 `yes`
    assert basic.groups["db"].vars == {"pg_version": "16"}
    assert basic.host_vars("web9.example.com")["ansible_port"] == 2222
    assert basic.host_vars("db-b")["role"] == "replica"
    assert basic.host_vars("web01")["env"] == "prod"
    assert basic.host_vars("bastion.example.com")["ntp_server"] == "pool.ntp.org"


def test_yaml_and_ini_fixtures_describe_the_same_inventory(basic: Inventory) -> None:
    ini = load_inventory([str(FIXTURES / "ini_basic" / "hosts.ini")])
    for name in basic.hosts:
        mine = {k: v for k, v in basic.host_vars(name).items() if not k.startswith("inventory_")}
        theirs = {k: v for k, v in ini.host_vars(name).items() if not k.startswith("inventory_")}
        assert mine == theirs, name
        assert basic.group_names(name) == ini.group_names(name)


def test_short_forms(tmp_path: Path) -> None:
    inv = load_yaml(tmp_path, "web:\n  hosts: h1\ndb:\nempty:\n  hosts:\n")
    assert inv.groups["web"].hosts == ["h1"]
    assert "db" in inv.groups and "empty" in inv.groups


def test_group_defined_in_two_places_merges(tmp_path: Path) -> None:
    text = """
all:
  children:
    web:
      hosts: {a: }
    prod:
      children:
        web:
          hosts: {b: }
          vars: {x: 1}
"""
    inv = load_yaml(tmp_path, text)
    assert inv.groups["web"].hosts == ["a", "b"]
    assert inv.groups["web"].parents == ["all", "prod"]
    assert inv.host_vars("a")["x"] == 1


def test_dict_var_set_twice_is_replaced_not_merged(tmp_path: Path) -> None:
    text = "g1:\n  hosts:\n    h: {opts: {a: 1, b: 1}}\ng2:\n  hosts:\n    h: {opts: {b: 2}}\n"
    inv = load_yaml(tmp_path, text)
    assert inv.hosts["h"].vars["opts"] == {"b": 2}


def test_json_inventory_is_read_as_yaml(tmp_path: Path) -> None:
    inv = load_yaml(tmp_path, '{"web": {"hosts": {"h1": {"x": 1}}}}', name="hosts.json")
    assert inv.host_vars("h1")["x"] == 1


def test_no_extension_yaml(tmp_path: Path) -> None:
    inv = load_yaml(tmp_path, "web:\n  hosts:\n    h1:\n", name="hosts")
    assert inv.groups["web"].hosts == ["h1"]


def test_empty_yaml_file_is_an_empty_inventory(tmp_path: Path) -> None:
    inv = load_yaml(tmp_path, "# nothing yet\n")
    assert inv.hosts == {}


def test_ini_content_in_a_yml_file_is_accepted_like_ansible(tmp_path: Path) -> None:
    inv = load_yaml(tmp_path, "[web]\nh1\n")
    assert inv.groups["web"].hosts == ["h1"]


def test_locations_of_vars(basic: Inventory) -> None:
    location = basic.groups["web"].var_locations["http_port"]
    assert (location.line, location.col) == (15, 9)
    assert basic.hosts["web02"].location is not None
    assert basic.hosts["web02"].location.line == 11


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("web:\n  hosts:\n    - h1\n", 3, 5, "hosts of group 'web' must be a mapping, not a list"),
        ("web:\n  - h1\n", 2, 3, "group 'web' must be a mapping"),
        ("web:\n  ansible_user: x\n", 2, 3, "unexpected key 'ansible_user' in group 'web'"),
        ("web:\n  hosts:\n    h1: [1]\n", 3, 9, "host 'h1' must map to a mapping"),
        ("web:\n  hosts:\n    123:\n", 3, 5, "quote 123"),
        ("web:\n  hosts:\n    web[1:]:\n", 3, 5, "bad host range in 'web[1:]'"),
        # b -> a is linked first (inner mappings are read first), so a -> b closes the cycle
        ("a:\n  children:\n    b:\n      children:\n        a:\n", 3, 5, "cycle (b -> a -> b)"),
        ("web:\n  hosts:\n    h1:\n    h1:\n", 4, 5, "duplicate key 'h1'"),
        ("web:\n  hosts: [\n", 3, 1, "YAML syntax error"),
        ("plugin: aws_ec2\n", 1, 1, "not supported"),
        ("- web\n", 1, 1, "must be a mapping of group names"),
        ("web:\n  vars:\n    1: x\n", 3, 5, "variable names must be non-empty strings"),
    ],
)
def test_errors_point_at_line_and_column(
    tmp_path: Path, text: str, line: int, col: int, message: str
) -> None:
    error = yaml_error(tmp_path, text)
    assert message in error.message
    assert error.location is not None
    assert (error.location.path, error.location.line, error.location.col) == (
        str(tmp_path / "hosts.yml"),
        line,
        col,
    )
