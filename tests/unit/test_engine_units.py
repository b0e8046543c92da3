"""Pure parts of the engine: arg specs, batches, tags, facts parsing, extra vars."""

from __future__ import annotations

import pytest

from orchestrator.cli import parse_extra_vars
from orchestrator.errors import OrchError
from orchestrator.executor.play_runner import host_status_for_exit, serial_batches
from orchestrator.executor.runner import tags_match
from orchestrator.modules import get_module, validate_args
from orchestrator.modules.facts import parse_facts, parse_os_release
from orchestrator.modules.wire import parse
from orchestrator.results import HostStats


def test_validate_args_collects_every_error_with_did_you_mean() -> None:
    spec = get_module("copy").spec
    _, errors = validate_args(spec, {"dst": "/x", "content": "a", "src": "b", "mode": "0644"})
    assert any("unsupported parameter 'dst'" in e and "did you mean 'dest'" in e for e in errors)
    assert any("missing required parameter 'dest'" in e for e in errors)
    assert any(
        "mutually exclusive: src, content" in e or "mutually exclusive: content, src" in e for e in errors
    )


def test_validate_args_converts_types_and_aliases() -> None:
    spec = get_module("file").spec
    args, errors = validate_args(spec, {"dest": "/x", "state": "directory", "force": "yes", "mode": 0o755})
    assert errors == []
    assert args["path"] == "/x" and args["force"] is True and args["mode"] == "0755"


def test_validate_args_rejects_bad_choice_and_type() -> None:
    spec = get_module("file").spec
    _, errors = validate_args(spec, {"path": "/x", "state": "dir", "force": "maybe"})
    assert any("must be one of" in e for e in errors)
    assert any("force" in e for e in errors)


def test_fqcn_and_short_names_resolve_to_the_same_module() -> None:
    assert get_module("ansible.builtin.copy") is get_module("copy")
    assert get_module("ansible.legacy.shell") is get_module("shell")


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (None, [[1, 2, 3, 4, 5]]),
        (2, [[1, 2], [3, 4], [5]]),
        ("40%", [[1, 2], [3, 4], [5]]),
        ([1, 2], [[1], [2, 3], [4, 5]]),
        (["20%", "100%"], [[1], [2, 3, 4, 5]]),
    ],
)
def test_serial_batches(serial, expected) -> None:
    assert serial_batches([1, 2, 3, 4, 5], serial) == expected


@pytest.mark.parametrize(
    ("tags", "run", "skip", "expected"),
    [
        (set(), ["all"], [], True),
        ({"web"}, ["db"], [], False),
        ({"web"}, ["web"], [], True),
        ({"always"}, ["db"], [], True),
        ({"always"}, ["all"], ["always"], False),
        ({"never"}, ["all"], [], False),
        ({"never", "debug"}, ["debug"], [], True),
        ({"web"}, ["all"], ["web"], False),
        (set(), ["untagged"], [], True),
        ({"x"}, ["tagged"], [], True),
    ],
)
def test_tags_match(tags, run, skip, expected) -> None:
    assert tags_match(tags, run, skip) is expected


def test_exit_code_unreachable_wins_over_failed() -> None:
    assert host_status_for_exit({"a": HostStats(failed=1), "b": HostStats(unreachable=1)}) == 4
    assert host_status_for_exit({"a": HostStats(failed=1), "b": HostStats(ok=3)}) == 2
    assert host_status_for_exit({"a": HostStats(ok=3)}) == 0


def test_extra_vars_forms(tmp_path) -> None:
    f = tmp_path / "vars.yml"
    f.write_text("from_file: 1\nshared: file\n")
    merged = parse_extra_vars(["a=1 b='two words'", '{"j": [1, 2]}', f"@{f}", "shared=last"])
    assert merged == {"a": "1", "b": "two words", "j": [1, 2], "from_file": 1, "shared": "last"}
    with pytest.raises(OrchError):
        parse_extra_vars(["novalue"])


def test_parse_os_release_debian_and_ubuntu() -> None:
    debian = parse_os_release('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    assert debian == {
        "distribution": "Debian",
        "distribution_version": "12",
        "distribution_major_version": "12",
        "distribution_release": "bookworm",
        "os_family": "Debian",
    }
    ubuntu = parse_os_release('ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n')
    assert ubuntu["distribution_major_version"] == "22" and ubuntu["os_family"] == "Debian"


def test_parse_facts_from_captured_output() -> None:
    output = """

TOKEN hostname
web1

TOKEN fqdn
web1.example.com

TOKEN os_release
ID=debian
VERSION_ID="12"

TOKEN uname
Linux 6.1.0 x86_64

TOKEN meminfo
MemTotal:        2048000 kB

TOKEN nproc
4

TOKEN init
systemd

TOKEN pkg
apt-get

TOKEN route
default via 10.0.0.1 dev eth0 proto dhcp

TOKEN addrs
1: lo    inet 127.0.0.1/8 scope host lo
2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0

TOKEN mounts
Filesystem     1024-blocks    Used Available Capacity Mounted on
/dev/vda1         1000000  400000    600000      40% /

TOKEN user
root
0
0
/root
"""
    facts = parse_facts(parse(output, "TOKEN"))
    assert (
        facts["hostname"] == "web1"
        and facts["fqdn"] == "web1.example.com"
        and facts["domain"] == "example.com"
    )
    assert (
        facts["architecture"] == "x86_64" and facts["memtotal_mb"] == 2000 and facts["processor_vcpus"] == 4
    )
    assert facts["service_mgr"] == "systemd" and facts["pkg_mgr"] == "apt"
    assert facts["default_ipv4"]["address"] == "10.0.0.5" and facts["default_ipv4"]["gateway"] == "10.0.0.1"
    assert facts["all_ipv4_addresses"] == ["10.0.0.5"]
    assert facts["mounts"][0]["mount"] == "/" and facts["mounts"][0]["size_available"] == 600000 * 1024
    assert "python" not in facts
