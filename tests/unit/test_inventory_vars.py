"""Variable precedence, group_vars/host_vars lookup, magic group variables, `explain` origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import Inventory, load_inventory

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
PRECEDENCE = FIXTURES / "precedence"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture
def inv() -> Inventory:
    return load_inventory([str(PRECEDENCE / "inventory" / "hosts.ini")])


@pytest.fixture
def with_playbook(inv: Inventory) -> Inventory:
    inv.add_vars_dir(str(PRECEDENCE / "playbook"))
    return inv


def test_every_layer_reaches_the_host(with_playbook: Inventory) -> None:
    hv = with_playbook.host_vars("web1")
    for layer in (
        "all_inventory",
        "group_inventory",
        "all_inventory_dir",
        "all_playbook_dir",
        "group_inventory_dir",
        "group_playbook_dir",
        "host_inventory",
        "host_inventory_dir",
        "host_playbook_dir",
    ):
        assert hv[f"at_{layer}"] == 1, layer


def test_precedence_order_lowest_to_highest(with_playbook: Inventory) -> None:
    assert [value for _, value in with_playbook.vars_origin("web1", "rank")] == [
        "all_inventory",
        "group_inventory_app",  # parent group (depth 1) before child (depth 2)
        "group_inventory_web",
        "all_inventory_dir",
        "all_playbook_dir",
        "group_inventory_dir_app",
        "group_inventory_dir_web",
        "group_playbook_dir_web",
        "host_inventory",
        "host_inventory_dir",
        "host_playbook_dir",
    ]
    assert with_playbook.host_vars("web1")["rank"] == "host_playbook_dir"


@pytest.mark.parametrize(
    ("host", "rank"),
    [("web2", "group_playbook_dir_web"), ("db1", "all_playbook_dir")],
)
def test_highest_layer_wins(with_playbook: Inventory, host: str, rank: str) -> None:
    assert with_playbook.host_vars(host)["rank"] == rank


def test_without_playbook_dir(inv: Inventory) -> None:
    assert inv.host_vars("web1")["rank"] == "host_inventory_dir"
    assert inv.host_vars("web2")["rank"] == "group_inventory_dir_web"
    assert inv.host_vars("db1")["rank"] == "all_inventory_dir"


def test_group_vars_all_does_not_beat_inventory_group_vars_of_all_but_does_of_groups(inv: Inventory) -> None:
    # Ansible: inventory-file group vars (all and others) < group_vars/all < group_vars/<group>
    origins = dict((value, where) for where, value in inv.vars_origin("web2", "rank"))
    assert list(origins) == [
        "all_inventory",
        "group_inventory_app",
        "group_inventory_web",
        "all_inventory_dir",
        "group_inventory_dir_app",
        "group_inventory_dir_web",
    ]


def test_merging_replaces_whole_values(with_playbook: Inventory) -> None:
    assert with_playbook.host_vars("web2")["listed"] == ["playbook"]


def test_group_vars_directory_files_merge_in_sorted_order(inv: Inventory) -> None:
    hv = inv.host_vars("db1")
    assert (hv["from_dir"], hv["from_json"], hv["shared"]) == ("first", True, "second")
    assert "ignored" not in hv  # .txt and hidden files are skipped


def test_vars_origin_names_files_and_lines(with_playbook: Inventory) -> None:
    origins = with_playbook.vars_origin("web1", "rank")
    inventory = PRECEDENCE / "inventory"
    assert origins[0] == (
        f"group 'all' vars in the inventory at {inventory / 'hosts.ini'}:19",
        "all_inventory",
    )
    assert origins[5] == (
        f"group_vars for 'app' next to the inventory at {inventory / 'group_vars' / 'app'}:1:1",
        "group_inventory_dir_app",
    )
    assert origins[8] == (
        f"host 'web1' vars in the inventory at {inventory / 'hosts.ini'}:2",
        "host_inventory",
    )
    assert origins[-1] == (
        f"host_vars for 'web1' next to the playbook at {PRECEDENCE / 'playbook' / 'host_vars' / 'web1.yml'}:1:1",
        "host_playbook_dir",
    )
    assert with_playbook.vars_origin("web1", "nosuch") == []


def test_host_own_vars_include_host_vars_files(with_playbook: Inventory) -> None:
    own = with_playbook.hosts["web1"].vars
    assert own["rank"] == "host_playbook_dir"
    assert own["at_host_inventory"] == 1 and own["at_host_inventory_dir"] == 1
    assert "at_group_inventory" not in own
    assert with_playbook.hosts["web1"].inventory_vars["rank"] == "host_inventory"


def test_add_vars_dir_twice_is_harmless(with_playbook: Inventory) -> None:
    with_playbook.add_vars_dir(str(PRECEDENCE / "playbook"))
    assert len(with_playbook.vars_origin("web1", "rank")) == 11


def test_add_vars_dir_with_broken_file_fails_at_once(inv: Inventory, tmp_path: Path) -> None:
    write(tmp_path, "group_vars/web.yml", "a: 1\na: 2\n")
    with pytest.raises(InventoryError, match="duplicate key 'a'") as info:
        inv.add_vars_dir(str(tmp_path))
    assert str(info.value).startswith(f"{tmp_path / 'group_vars' / 'web.yml'}:2:1: ")


@pytest.mark.parametrize(
    "name", ["web", "web.yml", "web.yaml", "web.json", "web/main.yml", "web/sub/deep.yml", "web/noext"]
)
def test_group_vars_file_forms(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh\n")
    write(tmp_path, f"group_vars/{name}", '{"x": 1}\n')
    assert load_inventory([path]).host_vars("h")["x"] == 1


def test_group_vars_file_without_extension_wins_over_yml(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh\n")
    write(tmp_path, "group_vars/web", "x: plain\n")
    write(tmp_path, "group_vars/web.yml", "x: yml\n")
    assert load_inventory([path]).host_vars("h")["x"] == "plain"  # the first form found is used


def test_group_vars_ignores_other_extensions(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh\n")
    write(tmp_path, "group_vars/web.yml.bak", "x: 1\n")
    write(tmp_path, "group_vars/web/old.orig", "x: 1\n")
    write(tmp_path, "group_vars/web/backup~", "x: 1\n")
    assert "x" not in load_inventory([path]).host_vars("h")


def test_empty_vars_file_adds_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh\n")
    write(tmp_path, "group_vars/web.yml", "# nothing\n")
    assert load_inventory([path]).host_vars("h")["inventory_file"] == path


def test_group_vars_for_ungrouped(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts", "h\n")
    write(tmp_path, "group_vars/ungrouped.yml", "x: 1\n")
    assert load_inventory([path]).host_vars("h")["x"] == 1


def test_same_depth_groups_merge_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[b]\nh\n[a]\nh\n[b:vars]\nx=b\n[a:vars]\nx=a\n")
    assert load_inventory([path]).host_vars("h")["x"] == "b"


def test_group_priority_overrides_name_order(tmp_path: Path) -> None:
    text = "[b]\nh\n[a]\nh\n[b:vars]\nx=b\n[a:vars]\nx=a\nansible_group_priority=5\n"
    assert load_inventory([write(tmp_path, "hosts.ini", text)]).host_vars("h")["x"] == "a"


def test_child_group_beats_parent_whatever_the_names(tmp_path: Path) -> None:
    text = "[zparent:children]\nachild\n[achild]\nh\n[achild:vars]\nx=child\n[zparent:vars]\nx=parent\n"
    assert load_inventory([write(tmp_path, "hosts.ini", text)]).host_vars("h")["x"] == "child"


def test_depth_is_the_longest_path_from_all(tmp_path: Path) -> None:
    # `deep` is at depth 3 through mid, though it is also a direct child of top (depth 2 that way)
    text = (
        "[top:children]\nmid\ndeep\n[mid:children]\ndeep\n[deep]\nh\n[other]\nh\n"
        "[other:vars]\nx=other\n[deep:vars]\nx=deep\n[mid:vars]\nx=mid\n"
    )
    inv = load_inventory([write(tmp_path, "hosts.ini", text)])
    assert inv.host_vars("h")["x"] == "deep"
    assert [value for _, value in inv.vars_origin("h", "x")] == ["other", "mid", "deep"]


def test_inventory_host_vars_beat_group_vars_files(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh x=inventory\n")
    write(tmp_path, "group_vars/web.yml", "x: group_vars\n")
    assert load_inventory([path]).host_vars("h")["x"] == "inventory"


def test_group_names(with_playbook: Inventory) -> None:
    assert with_playbook.group_names("web1") == ["app", "web"]
    assert with_playbook.group_names("db1") == ["db"]


def test_group_names_includes_ungrouped(tmp_path: Path) -> None:
    inv = load_inventory([write(tmp_path, "hosts", "h\n")])
    assert inv.group_names("h") == ["ungrouped"]


def test_unknown_host(inv: Inventory) -> None:
    with pytest.raises(InventoryError, match="unknown host 'nope'"):
        inv.host_vars("nope")
    assert inv.get_host("nope") is None


def test_groups_map(inv: Inventory) -> None:
    assert inv.groups_map() == {
        "all": ["db1", "web1", "web2"],  # all's children in order: ungrouped, db, app (web is under app)
        "ungrouped": [],
        "web": ["web1", "web2"],
        "db": ["db1"],
        "app": ["web1", "web2"],
    }


def test_host_vars_is_a_fresh_dict(inv: Inventory) -> None:
    inv.host_vars("web1")["rank"] = "changed"
    assert inv.host_vars("web1")["rank"] == "host_inventory_dir"


def test_set_vars_after_load(inv: Inventory) -> None:
    inv.set_group_var("web", "added", 1)
    inv.set_host_var("web2", "rank", "runtime")
    assert inv.host_vars("web1")["added"] == 1
    assert inv.host_vars("web2")["rank"] == "runtime"


def test_thousand_hosts_fifty_groups_is_fast(tmp_path: Path) -> None:
    import time

    lines = []
    for g in range(50):
        lines.append(f"[g{g}]")
        lines.extend(f"h{h % 1000}" for h in range(g * 20, g * 20 + 40))
        lines.append(f"[g{g}:vars]\nv{g}={g}\nshared={g}")
    lines.append("[parents:children]\n" + "\n".join(f"g{g}" for g in range(0, 50, 2)))
    path = write(tmp_path, "hosts.ini", "\n".join(lines) + "\n")
    for g in range(50):
        write(tmp_path, f"group_vars/g{g}.yml", f"file{g}: {g}\n")
    start = time.perf_counter()
    inv = load_inventory([path])
    assert len(inv.hosts) == 1000
    for _ in range(3):  # three plays
        hosts = inv.select("all:!g3")
        merged = [inv.host_vars(host.name) for host in hosts]
        inv.groups_map()
        [inv.group_names(host.name) for host in hosts]
    elapsed = time.perf_counter() - start
    assert len(merged) == 960
    assert inv.host_vars("h999")["shared"] == 48  # g48 sits under `parents`: deeper than g49
    assert elapsed < 2.0, elapsed
