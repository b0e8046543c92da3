"""`orch inventory --list/--graph/--host` output in ansible-inventory's shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import inventory_graph, inventory_host_vars, inventory_list_json, load_inventory

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"


def test_list_json_shape() -> None:
    inv = load_inventory([str(FIXTURES / "yaml_basic" / "hosts.yml")])
    listing = inventory_list_json(inv)
    assert listing["all"] == {"children": ["ungrouped", "web", "db", "prod"]}
    assert listing["ungrouped"] == {"hosts": ["bastion.example.com"]}
    assert listing["prod"] == {"children": ["web", "db"]}
    assert listing["web"] == {"hosts": ["web01", "web02", "web03", "web9.example.com"]}
    assert list(listing["_meta"]["hostvars"]) == list(inv.hosts)
    assert listing["_meta"]["hostvars"]["db-a"] == {
        "ntp_server": "pool.ntp.org",
        "pg_version": "16",
        "env": "prod",
        "role": "replica",
    }


def test_list_json_leaves_out_empty_groups_and_hosts_without_vars(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[empty]\n[web]\nh1\n")
    listing = inventory_list_json(load_inventory([str(path)]))
    assert "empty" not in listing and "ungrouped" not in listing
    assert listing["all"] == {"children": ["ungrouped", "empty", "web"]}
    assert listing["_meta"] == {"hostvars": {}}


def test_host_vars_hide_internal_vars() -> None:
    inv = load_inventory([str(FIXTURES / "ini_basic" / "hosts.ini")])
    assert inventory_host_vars(inv, "web9.example.com") == {
        "ansible_port": 2222,
        "ansible_user": "deploy",
        "env": "prod",
        "http_port": 80,
        "enabled": True,
        "ntp_server": "pool.ntp.org",
    }


def test_graph() -> None:
    inv = load_inventory([str(FIXTURES / "patterns" / "hosts.yml")])
    assert inventory_graph(inv) == "\n".join(
        [
            "@all:",
            "  |--@ungrouped:",
            "  |  |--bastion",
            "  |--@web:",
            "  |  |--web1",
            "  |  |--web2",
            "  |  |--web3",
            "  |--@db:",
            "  |  |--db1",
            "  |  |--db2",
            "  |  |--web3",
            "  |--@staging:",
            "  |  |--stage1.example.com",
            "  |  |--web2",
            "  |--@eu:",
            "  |  |--@web:",
            "  |  |  |--web1",
            "  |  |  |--web2",
            "  |  |  |--web3",
            "  |  |--eu-db.example.com",
        ]
    )


def test_graph_of_one_group() -> None:
    inv = load_inventory([str(FIXTURES / "patterns" / "hosts.yml")])
    assert inventory_graph(inv, "staging") == "@staging:\n  |--stage1.example.com\n  |--web2"
    with pytest.raises(InventoryError, match="no group 'web1'"):
        inventory_graph(inv, "web1")


def test_empty_inventory() -> None:
    inv = load_inventory([])
    assert inventory_list_json(inv) == {"all": {"children": ["ungrouped"]}, "_meta": {"hostvars": {}}}
    assert inventory_graph(inv) == "@all:\n  |--@ungrouped:"
