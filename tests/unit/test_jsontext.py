"""dumps_indented must write exactly what json.dumps(indent=4, sort_keys=True, default=str) writes."""

from __future__ import annotations

import datetime
import enum
import json
import random
from typing import Any

import pytest

from orchestrator.jsontext import dumps_indented
from orchestrator.yamlsource import load_yaml_text


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def reference(value: Any) -> str:
    return json.dumps(value, indent=4, sort_keys=True, default=str)


CASES: list[Any] = [
    None,
    True,
    0,
    -7,
    1.5,
    float("nan"),
    float("inf"),
    -float("inf"),
    "plain",
    'ünïcode \u2028 "quoted" \\ \n\t\x00',
    [],
    {},
    (),
    [[], {}, [[]], {"a": {}}],
    (1, "two", (3.0,)),
    {"b": 1, "a": [1, {"z": None, "y": [True, False]}], "c": {"d": {"e": "f"}}},
    {1: "int key", 2.5: "float key"},
    {True: 1},
    {None: 2},
    {Color.RED: "enum key"},
    {"x": Color.RED, "n": Name("sub"), Name("k"): 1},
    {"when": datetime.date(2026, 12, 7), "obj": ValueError("shown by str()"), "set": {1}},
    [datetime.datetime(2026, 1, 1, 12, 0), b"bytes"],
]


@pytest.mark.parametrize("value", CASES, ids=range(len(CASES)))
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_indented(value) == reference(value)


def test_same_text_for_loaded_yaml_and_random_trees() -> None:
    loaded = load_yaml_text(
        "all:\n  hosts:\n    h1: {ansible_host: 10.0.0.1, port: 22, enabled: yes, ratio: 0.5, tags: [a, b]}\n"
        "  vars: {empty: {}, none: ~, when: 2026-12-07}\n",
        "inline.yml",
    )
    assert dumps_indented(loaded) == reference(loaded)
    rng = random.Random(19)

    def tree(depth: int) -> Any:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randint(-(10**20), 10**20)
        if kind == 2:
            return rng.uniform(-1e6, 1e6)
        if kind in (3, 4):
            return "".join(rng.choice('ab"\\\n\u00e9\u4e2d ') for _ in range(rng.randrange(6)))
        if kind == 5:
            return [tree(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(tree(depth + 1) for _ in range(rng.randrange(3)))
        return {f"k{rng.randrange(50)}": tree(depth + 1) for _ in range(rng.randrange(5))}

    for _ in range(300):
        value = tree(0)
        assert dumps_indented(value) == reference(value)


def test_errors_like_json_dumps() -> None:
    loop: list[Any] = []
    loop.append(loop)
    for bad in (loop, {("tuple", "key"): 1}):
        with pytest.raises((ValueError, TypeError)) as ours:
            dumps_indented(bad)
        with pytest.raises((ValueError, TypeError)) as theirs:
            reference(bad)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
