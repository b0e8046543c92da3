"""orch's inventory against ansible-core's on the same sources (skipped without ansible-core).

`ansible-inventory --list/--graph` must print the same groups, hosts and merged variables, and
Ansible's InventoryManager must select the same hosts, in the same order, for every pattern.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.inventory import Inventory, inventory_graph, inventory_list_json, load_inventory

pytest.importorskip("ansible")

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
PATTERN_CASES = yaml.safe_load((FIXTURES / "patterns" / "cases.yml").read_text())

# Edge cases written to a temporary directory, as {file name: text}.
INLINE: dict[str, dict[str, str]] = {
    "ini_values": {
        "hosts.ini": """\
            [web]
            h1 a=23 b=True c="[1,2]" d='03' e=0x10 f=1.5 g=yes h="two words" i=None j={'k':1} k="{'k': 1}"
            [web:vars]
            x=23
            y=True
            z=[1,2]
            w = hello world # not a comment
            v="quoted"
            """,
    },
    "ini_order": {
        "hosts": """\
            [web]
            w2
            w1
            [db:vars]
            x=1
            [db]
            d1
            w1
            [top:children]
            db
            late
            [late]
            l1
            [dbchild]
            c1
            [db:children]
            dbchild
            [ungrouped]
            u1
            """,
    },
    "ranges": {
        "hosts.ini": """\
            [g]
            web[01:03]
            db-[a:c]:2222
            n[1:10:3] x=1
            10.0.0.[1:2]
            """,
    },
    "depth_priority": {
        "hosts.ini": """\
            [top:children]
            mid
            deep
            [mid:children]
            deep
            [deep]
            h
            [b]
            h
            h2
            [a]
            h2
            [other]
            h
            [other:vars]
            x=other
            [deep:vars]
            x=deep
            [mid:vars]
            x=mid
            [b:vars]
            y=b
            [a:vars]
            y=a
            ansible_group_priority=3
            """,
    },
    "yaml_forms": {
        "inv.yaml": """\
            all:
              hosts:
                solo:
              vars:
                top: 1
              children:
                web:
                  hosts: w1
                  vars:
                    merged: {a: 1, b: 1}
                empty:
            web:
              hosts:
                w2:
                  merged: {b: 2}
              vars:
                merged: {c: 3}
            """,
        "more.json": '{"db": {"hosts": {"d1": {"port": 5432}}, "children": {"web": null}}}',
    },
    "empty_groups": {"hosts.ini": "[empty]\n[web]\nh1\n"},
}


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("ansible_home")
    (home / "ansible.cfg").write_text("")
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_NOCOLOR": "1",
    }


@pytest.fixture(scope="module")
def inline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inline")
    for case, files in INLINE.items():
        for name, text in files.items():
            (root / case).mkdir(exist_ok=True)
            (root / case / name).write_text(textwrap.dedent(text))
    return root


def run_ansible(env: dict[str, str], args: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ansible.cli.inventory", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=env["ANSIBLE_HOME"],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sources_for(case: str, inline_dir: Path) -> tuple[list[str], str | None]:
    """A case name -> (inventory sources, playbook dir or None)."""
    if case in INLINE:
        return [str(inline_dir / case)], None
    if case == "precedence+playbook":
        return [str(FIXTURES / "precedence" / "inventory" / "hosts.ini")], str(
            FIXTURES / "precedence" / "playbook"
        )
    if case == "two_sources":
        return [str(FIXTURES / "yaml_basic" / "hosts.yml"), str(FIXTURES / "dir_source")], None
    if case == "host_list":
        return ["h1, h2:2222,localhost,"], None
    return [str(FIXTURES / case)], None


def load_orch(sources: list[str], playbook_dir: str | None) -> Inventory:
    inv = load_inventory(sources)
    if playbook_dir:
        inv.add_vars_dir(playbook_dir)
    return inv


CASES = [
    "yaml_basic/hosts.yml",
    "ini_basic/hosts.ini",
    "precedence/inventory",
    "precedence+playbook",
    "dir_source",
    "patterns/hosts.yml",
    "two_sources",
    "host_list",
    *INLINE,
]


def ansible_args(sources: list[str], playbook_dir: str | None) -> list[str]:
    args = [arg for source in sources for arg in ("-i", source)]
    return args + (["--playbook-dir", playbook_dir] if playbook_dir else [])


@pytest.fixture(scope="module")
def ansible_outputs(ansible_env: dict[str, str], inline_dir: Path) -> dict[tuple[str, str], str]:
    """`ansible-inventory --list` and `--graph` of every case, run in parallel (each takes ~0.3 s)."""
    jobs = [(case, mode) for case in CASES for mode in ("--list", "--graph")]

    def run(job: tuple[str, str]) -> str:
        case, mode = job
        return run_ansible(ansible_env, [*ansible_args(*sources_for(case, inline_dir)), mode])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(jobs, pool.map(run, jobs), strict=True))


@pytest.mark.parametrize("case", CASES)
def test_list_matches_ansible_inventory(
    case: str, ansible_outputs: dict[tuple[str, str], str], inline_dir: Path
) -> None:
    theirs: dict[str, Any] = json.loads(ansible_outputs[case, "--list"])
    theirs["_meta"].pop("profile", None)
    mine = json.loads(json.dumps(inventory_list_json(load_orch(*sources_for(case, inline_dir)))))
    assert mine == theirs


@pytest.mark.parametrize("case", CASES)
def test_graph_matches_ansible_inventory(
    case: str, ansible_outputs: dict[tuple[str, str], str], inline_dir: Path
) -> None:
    theirs = ansible_outputs[case, "--graph"].strip()
    assert inventory_graph(load_orch(*sources_for(case, inline_dir))) == theirs


# Runs in a subprocess so Ansible's global configuration never touches this test process.
_SELECT_SCRIPT = """
import json, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
sources, requests = json.load(sys.stdin)
out = []
for pattern, limit in requests:
    manager = InventoryManager(loader=DataLoader(), sources=sources)
    manager.subset(limit)
    out.append([h.name for h in manager.get_hosts(pattern)])
print(json.dumps(out))
"""

LIMIT_CASES = [
    ("all", "db"),
    ("all", "!web"),
    ("db:web", "web"),
    ("localhost", "web"),
    ("all", "staging,bastion"),
]


def test_patterns_match_ansible(ansible_env: dict[str, str]) -> None:
    sources = [str(FIXTURES / "patterns" / "hosts.yml")]
    requests = [(pattern, None) for pattern, _ in PATTERN_CASES] + LIMIT_CASES
    result = subprocess.run(
        [sys.executable, "-c", _SELECT_SCRIPT],
        input=json.dumps([sources, requests]),
        capture_output=True,
        text=True,
        env=ansible_env,
        cwd=ansible_env["ANSIBLE_HOME"],
        check=True,
    )
    theirs = json.loads(result.stdout)
    mine = [[h.name for h in load_inventory(sources).select(pattern, limit)] for pattern, limit in requests]
    for request, their_hosts, my_hosts in zip(requests, theirs, mine, strict=True):
        assert my_hosts == their_hosts, request
