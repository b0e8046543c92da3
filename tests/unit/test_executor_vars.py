"""Executor variable scope without hosts: explain, exported role vars, vars_prompt fallback,
handler lookup, tag selection. Everything here runs on the controller only."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import PlaybookError
from orchestrator.executor.play_runner import exported_role_vars
from orchestrator.executor.runner import PlaybookRunner, RunOptions, tags_match
from orchestrator.inventory import load_inventory
from orchestrator.playbook.loader import load_playbook


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    _write(
        tmp_path,
        {
            "hosts.yml": "all:\n  vars:\n    level: inv-all\n  children:\n    web:\n      hosts:\n"
            "        w1: {level: inv-host}\n        w2: {}\n",
            "site.yml": (
                "- name: deploy\n  hosts: web\n  gather_facts: false\n"
                "  vars:\n    level: play\n    port: 80\n    url: 'http://{{ inventory_hostname }}:{{ port }}'\n"
                "  vars_files: [vars.yml]\n"
                "  roles: [app]\n"
                "  tasks:\n    - debug: {msg: hi}\n"
            ),
            "vars.yml": "level: file\n",
            "roles/app/defaults/main.yml": "app_user: nobody\nport: 1\n",
            "roles/app/vars/main.yml": "app_home: /srv/app\n",
            "roles/app/tasks/main.yml": "- debug: {msg: '{{ app_user }}'}\n",
        },
    )
    return tmp_path


def _runner(project: Path, extra: dict[str, object] | None = None, playbook: str = "site.yml") -> PlaybookRunner:
    book = load_playbook(str(project / playbook))
    inventory = load_inventory([str(project / "hosts.yml")])
    return PlaybookRunner(book, inventory, RunOptions(extra_vars=dict(extra or {})), lambda event: None)


def test_explain_lists_every_layer_lowest_first(project: Path) -> None:
    sources, value = _runner(project).explain("level", "w1")
    assert value == "file"
    assert [layer for layer, _, _ in sources] == ["inventory", "inventory", "play", "play"]
    assert "hosts.yml" in sources[0][1] and "group 'all'" in sources[0][1]
    assert "host 'w1'" in sources[1][1]
    assert "vars of play 'deploy'" in sources[2][1]
    assert sources[3][1].endswith("vars.yml") and sources[3][2] == "file"


def test_explain_extra_vars_win_and_values_are_templated(project: Path) -> None:
    sources, value = _runner(project, {"port": 9}).explain("port", "w2")
    assert [s[0] for s in sources] == ["role defaults", "play", "extra vars"]
    assert value == 9
    _, url = _runner(project, {"port": 9}).explain("url", "w2")
    assert url == "http://w2:9"


def test_explain_sees_role_defaults_and_vars_and_magic(project: Path) -> None:
    runner = _runner(project)
    assert runner.explain("app_user", "w1")[1] == "nobody"
    assert runner.explain("app_home", "w1")[0][0][0] == "play"
    sources, value = runner.explain("inventory_hostname", "w2")
    assert value == "w2" and sources[-1][0] == "magic"
    assert runner.explain("undefined_thing", "w1") == ([], None)


def test_exported_role_vars_include_dependencies(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "p.yml": "- hosts: all\n  roles: [top]\n",
            "roles/top/meta/main.yml": "dependencies: [dep]\n",
            "roles/top/defaults/main.yml": "shared: top\n",
            "roles/dep/defaults/main.yml": "shared: dep\nonly_dep: 1\n",
            "roles/dep/vars/main.yml": "dep_var: 2\n",
        },
    )
    play = load_playbook(str(tmp_path / "p.yml")).plays[0]
    defaults, role_vars = exported_role_vars(play)
    assert defaults == {"shared": "top", "only_dep": 1}  # the dependency first, the role on top
    assert role_vars == {"dep_var": 2}


def test_vars_prompt_uses_default_without_a_terminal(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "hosts.yml": "all:\n  hosts:\n    h1: {}\n",
            "p.yml": "- hosts: all\n  vars_prompt:\n    - name: release\n      default: v1\n"
            "    - name: token\n      prompt: Token?\n",
        },
    )
    with pytest.raises(PlaybookError, match=r"'token' has no default .* -e token="):
        _runner(tmp_path, playbook="p.yml").explain("release", "h1")
    sources, value = _runner(tmp_path, {"token": "x"}, playbook="p.yml").explain("release", "h1")
    assert value == "v1" and "vars_prompt" in sources[0][1]


@pytest.mark.parametrize(
    ("tags", "run", "skip", "expected"),
    [
        (set(), ["all"], [], True),
        ({"never"}, ["all"], [], False),
        ({"never", "debug"}, ["debug"], [], True),
        ({"always"}, ["web"], [], True),
        ({"always"}, ["all"], ["always"], False),
        ({"web"}, ["tagged"], [], True),
        (set(), ["untagged"], [], True),
        ({"web"}, ["untagged"], [], False),
        ({"web", "skipme"}, ["web"], ["skipme"], False),
        ({"db"}, ["web"], [], False),
    ],
)
def test_tags_match_like_ansible(tags: set[str], run: list[str], skip: list[str], expected: bool) -> None:
    assert tags_match(tags, run, skip) is expected
