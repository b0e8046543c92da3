"""k=v argument strings: Ansible's split_args / parse_kv rules."""

from __future__ import annotations

import pytest

from orchestrator.playbook.taskargs import (
    SplitError,
    join_args,
    parse_kv,
    short_action,
    split_args,
    split_module_string,
    unquote,
)

# Inputs that exercise quoting, Jinja2 blocks, escapes, newlines and free-form text.
CASES = [
    'a=b c="foo bar"',
    "src=a dest=b mode=0644",
    'msg="{{ x }} y" z=1',
    "ls -l chdir=/tmp creates=x",
    "echo a=b",
    'a=\'x y\' b="q\\"r"',
    "x\\=y",
    "k=v\\=w",
    "a=b\n c=d",
    "line1\nline2 \\\n cont",
    "  lead  spaces  ",
    "{{ a | default('x y') }} b=c",
    "{% if x %}a b{% endif %} c=d",
    "{# c #} x=1",
    "a=\\n b=\\x41",
    "msg='it''s'",
    'cmd="a b" "c d"',
    "echo 'a=b' c=d",
    "",
    "=x",
    "a= b",
    'k="v" w',
    "key=va=lue",
    "FOO=bar make chdir=/x",
    "removes=/a warn=no stdin='x y' python -c 'print(1)'",
    "name={{ item.name }} state={{ item.state | default('present') }}",
]


def test_parse_kv_basic() -> None:
    assert parse_kv('src=a dest=b mode=0644 content="a b"') == {
        "src": "a",
        "dest": "b",
        "mode": "0644",
        "content": "a b",
    }


def test_parse_kv_free_form_words_go_to_raw_params() -> None:
    assert parse_kv("echo hi a=b") == {"a": "b", "_raw_params": "echo hi"}


def test_parse_kv_check_raw_splits_only_command_options() -> None:
    assert parse_kv("FOO=bar make -j4 chdir=/src creates=out", check_raw=True) == {
        "chdir": "/src",
        "creates": "out",
        "_raw_params": "FOO=bar make -j4",
    }


def test_parse_kv_keeps_jinja_whole() -> None:
    assert parse_kv("msg={{ a ~ ' ' ~ b }} x=1") == {"msg": "{{ a ~ ' ' ~ b }}", "x": "1"}


def test_parse_kv_escaped_equals_is_free_form() -> None:
    assert parse_kv("a\\=b") == {"_raw_params": "a=b"}


@pytest.mark.parametrize("text", ["foo='bar baz", "a={{ b", "{% if x"])
def test_split_args_unbalanced(text: str) -> None:
    with pytest.raises(SplitError):
        split_args(text)


def test_split_args_keeps_newlines_for_join() -> None:
    parts = split_args("a=1\nb=2")
    assert parts == ["a=1\n", "b=2"]
    assert join_args(parts) == "a=1\nb=2"


def test_split_module_string() -> None:
    assert split_module_string("copy src=a dest='b c'") == ("copy", "src=a dest='b c'")
    assert split_module_string("ping") == ("ping", "")


def test_unquote_and_short_action() -> None:
    assert unquote('"a b"') == "a b"
    assert unquote("'a\\'") == "'a\\'"
    assert short_action("ansible.builtin.copy") == "copy"
    assert short_action("ansible.legacy.shell") == "shell"
    assert short_action("community.docker.docker_compose_v2") == "community.docker.docker_compose_v2"


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("check_raw", [False, True])
def test_parse_kv_matches_ansible(text: str, check_raw: bool) -> None:
    splitter = pytest.importorskip("ansible.parsing.splitter")
    try:
        expected: object = {str(k): str(v) for k, v in splitter.parse_kv(text, check_raw=check_raw).items()}
    except Exception:
        expected = "error"
    try:
        got: object = parse_kv(text, check_raw=check_raw)
    except SplitError:
        got = "error"
    assert got == expected


@pytest.mark.parametrize("text", [*CASES, "a 'b c' \"d e\"", "x  y", "a\n\nb"])
def test_split_args_matches_ansible(text: str) -> None:
    splitter = pytest.importorskip("ansible.parsing.splitter")
    assert split_args(text) == [str(p) for p in splitter.split_args(text)]
