"""`-i` sources: files, directories, host lists, several sources, format detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import load_inventory, read_vars_file
from orchestrator.inventory.varsfiles import set_vault_decryptor

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_no_sources_is_an_empty_inventory() -> None:
    inv = load_inventory([])
    assert inv.hosts == {}
    assert set(inv.groups) == {"all", "ungrouped"}
    assert inv.select("all") == []


def test_directory_source_loads_every_inventory_file_in_order() -> None:
    inv = load_inventory([str(FIXTURES / "dir_source")])
    assert list(inv.hosts) == ["web1", "web2", "db1", "web3", "n1"]
    assert inv.groups["web"].hosts == ["web1", "web2", "web3"]
    assert "nested" in inv.groups  # subdirectories are sources too


def test_directory_source_skips_vars_dirs_docs_retry_backup_and_hidden_files() -> None:
    inv = load_inventory([str(FIXTURES / "dir_source")])
    assert not {"junk", "defaults", "nope"} & set(inv.hosts)


def test_directory_source_uses_its_group_vars_and_host_vars() -> None:
    inv = load_inventory([str(FIXTURES / "dir_source")])
    assert inv.host_vars("web3")["team"] == "web"
    assert inv.host_vars("db1")["special"] is True


def test_sources_are_absolute_paths_and_host_lists_verbatim() -> None:
    inv = load_inventory([str(FIXTURES / "dir_source"), "h1,h2,"])
    assert inv.sources == [str(FIXTURES / "dir_source"), "h1,h2,"]


def test_several_sources_merge() -> None:
    yaml_inv = str(FIXTURES / "yaml_basic" / "hosts.yml")
    inv = load_inventory([yaml_inv, str(FIXTURES / "dir_source")])
    assert inv.groups["web"].hosts == ["web01", "web02", "web03", "web9.example.com", "web1", "web2", "web3"]
    assert inv.host_vars("web1")["http_port"] == 80  # group vars from the first source apply


def test_later_source_overrides_host_vars(tmp_path: Path) -> None:
    first = write(tmp_path, "a/hosts.ini", "[g]\nh x=1 y=1\n")
    second = write(tmp_path, "b/hosts.yml", "g:\n  hosts:\n    h: {y: 2}\n")
    inv = load_inventory([first, second])
    assert (inv.host_vars("h")["x"], inv.host_vars("h")["y"]) == (1, 2)
    assert inv.host_vars("h")["inventory_file"] == first  # where the host was first defined


def test_ungrouped_is_recomputed_across_sources(tmp_path: Path) -> None:
    first = write(tmp_path, "one.ini", "h1\n")
    second = write(tmp_path, "two.ini", "[g]\nh1\n")
    inv = load_inventory([first, second])
    assert inv.groups["ungrouped"].hosts == []


def test_inventory_file_and_dir_vars(tmp_path: Path) -> None:
    path = write(tmp_path, "inv/hosts", "[g]\nh\n")
    inv = load_inventory([path])
    assert inv.host_vars("h")["inventory_file"] == path
    assert inv.host_vars("h")["inventory_dir"] == str(tmp_path / "inv")


def test_host_list() -> None:
    inv = load_inventory(["web1, web2:2222 ,10.0.0.5,"])
    assert list(inv.hosts) == ["web1", "web2", "10.0.0.5"]
    assert inv.groups["ungrouped"].hosts == ["web1", "web2", "10.0.0.5"]
    assert inv.host_vars("web2")["ansible_port"] == 2222


def test_host_list_single_host_and_no_ranges() -> None:
    inv = load_inventory(["localhost,", "web[1:2],"])
    assert list(inv.hosts) == ["localhost", "web[1:2]"]
    # An explicit localhost is an ordinary inventory host, as in Ansible (no implicit local connection).
    assert "ansible_connection" not in inv.host_vars("localhost")


def test_missing_source_is_an_error_naming_it() -> None:
    with pytest.raises(InventoryError, match="inventory source not found: /no/such/inventory"):
        load_inventory(["/no/such/inventory"])


def test_single_word_source_suggests_a_trailing_comma() -> None:
    with pytest.raises(InventoryError, match="for a single host write 'web1,'"):
        load_inventory(["web1"])


def test_no_extension_ini_file(tmp_path: Path) -> None:
    inv = load_inventory([write(tmp_path, "hosts", "[web]\nh1 x=1\n")])
    assert inv.host_vars("h1")["x"] == 1


def test_no_extension_file_with_only_host_lines(tmp_path: Path) -> None:
    # Also valid YAML (a plain scalar), which is not an inventory: read as INI.
    inv = load_inventory([write(tmp_path, "hosts", "h1\nh2\n")])
    assert list(inv.hosts) == ["h1", "h2"]


def test_no_extension_broken_yaml_reports_the_yaml_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts", "all:\n  children:\n    web:\n      hosts:\n        h1:\n      - bad\n")
    with pytest.raises(InventoryError, match="YAML syntax error") as info:
        load_inventory([path])
    assert info.value.location is not None and info.value.location.line == 6


def test_no_extension_broken_ini_reports_the_ini_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts", "[web]\nh1\nh2\n[web:kids]\nh3\n")
    with pytest.raises(InventoryError, match="unknown type 'kids'") as info:
        load_inventory([path])
    assert info.value.location is not None and info.value.location.line == 4


def test_toml_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="TOML inventories are not supported"):
        load_inventory([write(tmp_path, "hosts.toml", "[web]\n")])


def test_vault_encrypted_inventory_goes_through_the_vault_seam(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(InventoryError, match="vault-encrypted"):
        load_inventory([path])


def test_vault_files_are_decrypted_by_the_registered_decryptor(tmp_path: Path) -> None:
    seen: list[str] = []

    def decrypt(text: str, path: str) -> str:
        seen.append(path)
        return "x: secret\n" if path.endswith(".yml") else "[web]\nh1\n"

    inventory = write(tmp_path, "hosts", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    vars_file = write(tmp_path, "group_vars/web.yml", "$ANSIBLE_VAULT;1.1;AES256\n6364\n")
    set_vault_decryptor(decrypt)
    try:
        assert load_inventory([inventory]).host_vars("h1")["x"] == "secret"
    finally:
        set_vault_decryptor(None)
    assert seen == [inventory, vars_file]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    inv = load_inventory([write(tmp_path, "hosts.ini", "\ufeff[web]\nh1\n")])
    assert inv.groups["web"].hosts == ["h1"]


def test_read_vars_file(tmp_path: Path) -> None:
    assert read_vars_file(write(tmp_path, "v.yml", "a: 1\nb: [x]\n")) == {"a": 1, "b": ["x"]}
    assert read_vars_file(write(tmp_path, "empty.yml", "")) == {}
    with pytest.raises(InventoryError, match="must hold a mapping") as info:
        read_vars_file(write(tmp_path, "list.yml", "\n- a\n"))
    assert str(info.value).startswith(f"{tmp_path / 'list.yml'}:2:1: ")
    with pytest.raises(InventoryError, match="vault-encrypted"):
        read_vars_file(write(tmp_path, "vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n"))


def test_broken_group_vars_file_fails_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh1\n")
    write(tmp_path, "group_vars/web.yml", "x: [\n")
    with pytest.raises(InventoryError, match="YAML syntax error") as info:
        load_inventory([path])
    assert info.value.location is not None
    assert info.value.location.path == str(tmp_path / "group_vars" / "web.yml")


def test_broken_host_vars_file_fails_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nh1\n")
    write(tmp_path, "host_vars/h1", "- not a mapping\n")
    with pytest.raises(InventoryError, match="must hold a mapping"):
        load_inventory([path])


def test_host_and_group_with_the_same_name_warns(tmp_path: Path) -> None:
    inv = load_inventory([write(tmp_path, "hosts.ini", "[web]\nweb\n")])
    assert inv.warnings == ["'web' is both a host and a group"]
