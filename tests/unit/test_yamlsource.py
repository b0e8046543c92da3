"""yamlsource: values built from parser events equal what PyYAML's node-based loader builds.

`load_yaml_text` builds values straight from libyaml's events (no node tree: a 100,000-host
inventory's tree took more memory than its values) and leaves the rest to the node-based loader.
These cases compare the two on every YAML feature the event path handles or hands over: the same
values, types, file:line:col locations, yes/no notes and errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import orchestrator.vault
from orchestrator.errors import OrchError
from orchestrator.yamlsource import (
    LocatedDict,
    LocatedStr,
    YamlNotes,
    _make_loader,
    load_yaml_file,
    load_yaml_text,
    location_of,
)

orchestrator.vault.install()  # some cases load a `!vault` value

CASES = {
    "plain": "a: 1\nb: [x, 'y', \"z\"]\nc: {d: null, e: ~, f: 1.5, g: 0x1F, h: 2026-01-02}\n",
    "yaml 1.1 integers": "a: [0, 7, 42, 007, 0755, 0b101, 0x1F, 1_000, +5, -3, '12', 1:30, 09, 10.0]\n",
    "yaml 1.1 booleans": "a: yes\nb: No\nc: on\nd: true\ne: [y, n, off]\n",
    "block scalars": "a: |\n  one\n  two\nb: >-\n  folded\n  text\n",
    "explicit tags": "a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: !!binary aGVsbG8=\ne: !!null ''\n",
    "non-specific tag": "a: ! 12\nb: ! {c: 1}\n",
    "anchors and aliases": "base: &b {x: 1, y: [1, 2]}\nname: &n web\nuse: *b\nagain: *n\nlist: [*b, *n]\n",
    "merge key": "base: &b {x: 1}\nthis:\n  <<: *b\n  y: 2\n",
    "set and omap": "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\n",
    "empty document": "",
    "comments only": "# nothing\n",
    "null document": "~\n",
    "scalar document": "--- just text\n",
    "list document": "- a\n- b: c\n",
    "explicit document": "%YAML 1.1\n---\na: 1\n...\n",
    "complex key": "? [a, b]\n: list key\n",
    "vault": "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n",
    "nested deep": "a:\n  b:\n    c:\n      - d:\n          e: [1, {f: g}]\n",
    "unicode": 'name: caf\u00e9\nemoji: "\\u2603"\n',
    # errors: the event path hands these over; the messages must be the node loader's
    "duplicate key": "a: 1\na: 2\n",
    "duplicate key via alias": "k: &k a\n*k : 1\n",
    "unhashable key": "? {a: 1}\n: x\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "undefined alias": "a: *nowhere\n",
    "recursive alias": "a: &a [1, *a]\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "syntax error": "a: [1, 2\n",
    "tab": "a:\n\t- b\n",
}


def _node_loader(text: str, path: str) -> tuple[Any, YamlNotes]:
    notes = YamlNotes()
    return yaml.load(text, Loader=_make_loader(path, notes, yaml.SafeLoader)), notes


def _same(a: Any, b: Any, where: str = "$") -> None:
    assert type(a) is type(b), where
    assert location_of(a) == location_of(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            _same(ka, kb, f"{where} key {ka!r}")
            _same(va, vb, f"{where}.{ka}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", CASES)
def test_event_path_builds_what_the_node_loader_builds(name: str) -> None:
    text = CASES[name]
    try:
        expected, expected_notes = _node_loader(text, "f.yml")
    except (yaml.YAMLError, OrchError) as exc:
        with pytest.raises(OrchError) as info:
            load_yaml_text(text, "f.yml")
        # the pure-Python loader's wording and place, whichever path found the problem first
        if isinstance(exc, yaml.MarkedYAMLError):
            mark = exc.problem_mark or exc.context_mark
            assert mark is not None
            assert info.value.location is not None
            assert (info.value.location.line, info.value.location.col) == (mark.line + 1, mark.column + 1)
            assert str(exc.problem or exc.context) in info.value.message
        else:
            assert info.value.message == getattr(exc, "message", str(exc))
        return
    notes = YamlNotes()
    _same(load_yaml_text(text, "f.yml", notes=notes), expected)
    assert notes.yaml11_booleans == expected_notes.yaml11_booleans


def test_aliases_keep_identity_like_the_node_loader() -> None:
    data = load_yaml_text(CASES["anchors and aliases"], "f.yml")
    assert data["use"] is data["base"]
    assert data["list"][0] is data["base"]


def test_a_tab_is_named_in_the_error_though_libyaml_says_less() -> None:
    with pytest.raises(OrchError, match=r"found character '\\t' that cannot start any token") as info:
        load_yaml_text(CASES["tab"], "f.yml")
    assert str(info.value.location) == "f.yml:2:1"


def test_big_file_locations_point_at_the_right_line(tmp_path: Path) -> None:
    lines = ["all:", "  hosts:"] + [
        f"    h{i}: {{ansible_host: 10.0.{i // 256}.{i % 256}}}" for i in range(5000)
    ]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_yaml_file(path)
    hosts = data["all"]["hosts"]
    assert isinstance(hosts, LocatedDict)
    key = next(k for k in hosts if k == "h4321")
    assert isinstance(key, LocatedStr)
    assert str(location_of(key)) == f"{path}:{4321 + 3}:5"
    assert str(location_of(hosts["h4321"]["ansible_host"])) == f"{path}:{4321 + 3}:27"
