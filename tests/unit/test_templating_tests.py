"""Jinja tests: task results, regex, versions, sets, files, truthiness, Jinja's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import Templar

VARS: dict[str, Any] = {
    "ok": {"changed": False, "rc": 0},
    "bad": {"failed": True, "rc": 1},
    "chg": {"changed": True},
    "skip": {"skipped": True, "changed": False},
    "loop": {"results": [{"changed": False}, {"changed": True}]},
    "loop_ok": {"results": [{"changed": False}]},
    "down": {"unreachable": True},
    "slow": {"timedout": {"period": 30}},
    "job": {"finished": 0, "started": 1},
    "l": [3, 1, 2],
    "d": {"a": 1},
    "s": "Web-01",
    "n": None,
    "ver": "1.2.10",
    "ml": "a\nb",
}

CASES: list[tuple[str, bool]] = [
    # task results
    ("ok is succeeded", True),
    ("ok is success", True),
    ("ok is successful", True),
    ("bad is succeeded", False),
    ("bad is failed", True),
    ("bad is failure", True),
    ("ok is failed", False),
    ("chg is changed", True),
    ("chg is change", True),
    ("ok is changed", False),
    ("loop is changed", True),
    ("loop_ok is changed", False),
    ("skip is skipped", True),
    ("skip is skip", True),
    ("ok is skipped", False),
    ("down is unreachable", True),
    ("ok is reachable", True),
    ("slow is timedout", True),
    ("ok is timedout", False),
    ("job is finished", False),
    ("job is started", True),
    ("ok is finished", True),
    # regex
    ("s is match('Web')", True),
    ("s is match('eb')", False),
    ("s is search('eb')", True),
    ("s is search('WEB', ignorecase=true)", True),
    ("s is regex('^w', ignorecase=true)", True),
    ("s is regex('eb', match_type='match')", False),
    ("ml is search('^b', multiline=true)", True),
    ("ml is search('^b')", False),
    ("5 is match('5')", True),
    # versions
    ("ver is version('1.2.9', '>')", True),
    ("ver is version('1.2.9', 'gt')", True),
    ("ver is version('1.10', '<')", True),
    ("ver is version('1.2.10', '==')", True),
    ("ver is version('1.2.10', '=')", True),
    ("ver is version('1.2.10', 'ne')", False),
    ("ver is version('1.2.10', '<>')", False),
    ("ver is version('1.2.10', '>=')", True),
    ("ver is version('1.2.10')", True),
    ("ver is version_compare('2', 'lt')", True),
    ("'1.0.0-rc.1' is version('1.0.0', '<', version_type='semver')", True),
    ("'1.0.0-alpha.1' is version('1.0.0-alpha.beta', '<', version_type='semver')", True),
    ("'1.0.0+build' is version('1.0.0', '==', version_type='semantic')", True),
    ("'1.2' is version('1.2.0', '==', strict=true)", True),
    ("'1.2a1' is version('1.2', '<', strict=true)", True),
    ("'1.2b1' is version('1.2a2', '>', version_type='strict')", True),
    ("'1.0.post1' is version('1.0', '>', version_type='pep440')", True),
    ("'2.0rc1' is version('2.0', '<', version_type='pep440')", True),
    ("1.0 is version('1', 'eq')", False),  # loose: [1, 0] != [1]
    ("'22.04' is version('20.04', '>=')", True),
    # sets and membership
    ("1 is in l", True),
    ("9 is in l", False),
    ("l is contains(3)", True),
    ("[1, 2] is subset(l)", True),
    ("[1, 9] is subset(l)", False),
    ("l is superset([1])", True),
    ("l is issuperset([9])", False),
    ("[{'a': 1}] is subset([{'a': 1}, {'b': 2}])", True),
    ("l is any", True),
    ("[0, false] is any", False),
    ("[1, true] is all", True),
    ("(0 / 1) is nan", False),
    # truthiness
    ("'x' is truthy", True),
    ("'' is truthy", False),
    ("'no' is truthy", True),
    ("'no' is truthy(convert_bool=true)", False),
    ("'yes' is falsy(convert_bool=true)", False),
    ("'' is falsy", True),
    ("0 is falsy", True),
    # Jinja's own
    ("n is none", True),
    ("s is string", True),
    ("5 is number", True),
    ("d is mapping", True),
    ("l is iterable", True),
    ("l is sequence", True),
    ("s is lower", False),
    ("4 is even", True),
    ("3 is divisibleby(3)", True),
    ("s is defined", True),
    ("nope is defined", False),
    ("nope is undefined", True),
    ("nope.a.b is undefined", True),
    ("d.zz is undefined", True),
    # vault / urls
    ("'$ANSIBLE_VAULT;1.1;AES256\\n6162' is vault_encrypted", True),
    ("'plain' is vault_encrypted", False),
    ("'https://example.com/x' is url", True),
    ("'example.com' is url", False),
    ("'mailto:a@b.c' is uri", True),
    ("'urn:isbn:0451450523' is urn", True),
]


@pytest.fixture(scope="module")
def templar() -> Templar:
    return Templar(".")


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_jinja_test(templar: Templar, expr: str, expected: bool) -> None:
    assert templar.evaluate(expr, VARS) is expected
    assert templar.render("{{ " + expr + " }}", VARS) is expected


def test_file_tests(templar: Templar, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "lnk").symlink_to(tmp_path / "f")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    variables = {"p": str(tmp_path)}
    checks = {
        "(p ~ '/f') is file": True,
        "(p ~ '/f') is is_file": True,
        "(p ~ '/dir') is file": False,
        "(p ~ '/dir') is directory": True,
        "(p ~ '/dir') is is_dir": True,
        "(p ~ '/f') is exists": True,
        "(p ~ '/nope') is exists": False,
        "(p ~ '/lnk') is link": True,
        "(p ~ '/f') is link": False,
        "(p ~ '/dangling') is exists": False,
        "(p ~ '/dangling') is link_exists": True,
        "p is abs": True,
        "'rel/path' is abs": False,
        "(p ~ '/lnk') is same_file(p ~ '/f')": True,
        "'/' is mount": True,
    }
    for expr, expected in checks.items():
        assert templar.evaluate(expr, variables) is expected, expr


def test_file_tests_are_evaluated_each_time(templar: Templar, tmp_path: Path) -> None:
    # a constant path must not be folded at compile time (the compiled template is cached)
    expr = f"'{tmp_path}/flag' is exists"
    assert templar.evaluate(expr, {}) is False
    (tmp_path / "flag").write_text("")
    assert templar.evaluate(expr, {}) is True


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("'x' is failed", "the 'failed' test expects a dictionary"),
        ("1 is changed", "the 'changed' test expects a dictionary"),
        ("'1.0a' is version('1.0.1', '<')", "version comparison failed"),
        ("'a' is version('1', '<', version_type='semver')", "version comparison failed"),
        ("'1' is version('1', 'bad-op')", "invalid operator"),
        ("'1' is version('1', version_type='nope')", "invalid version type"),
        ("'1' is version('1', strict=true, version_type='loose')", "cannot specify both"),
        ("'' is version('1')", "cannot be empty"),
        ("'1' is version('')", "cannot be empty"),
        ("nope is string", "'nope' is undefined"),
        ("nope is none", "'nope' is undefined"),
        ("'x' is no_such_test", "no test named"),
    ],
)
def test_test_errors(templar: Templar, expr: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        templar.evaluate(expr, VARS)
    assert message.lower() in str(info.value).lower()
