"""Lookups: lookup()/query()/q(), each plugin, errors, wantlist joining."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import LazyVars, Templar


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "motd").write_text("  hello\n\n")
    (tmp_path / "files" / "a.conf").write_text("a")
    (tmp_path / "files" / "b.conf").write_text("b")
    (tmp_path / "top.txt").write_text("top\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "greet.j2").write_text("hi {{ who }} from {{ template_path }}\n")
    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "Debian.yml").write_text("x: 1\n")
    return tmp_path


@pytest.fixture
def templar(base: Path) -> Templar:
    return Templar(str(base))


def render(templar: Templar, text: str, **variables: Any) -> Any:
    return templar.render(text, variables)


# --- lookup() vs query() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ lookup('items', ['a', 'b']) }}", "a,b"),  # several strings: comma-joined
        ("{{ lookup('items', [1, 2]) }}", [1, 2]),  # not all strings: the list
        ("{{ lookup('items', ['a']) }}", "a"),  # one element: the element
        ("{{ lookup('items', []) }}", []),
        ("{{ lookup('items', ['a', 'b'], wantlist=True) }}", ["a", "b"]),
        ("{{ query('items', ['a', 'b']) }}", ["a", "b"]),
        ("{{ q('items', ['a']) }}", ["a"]),
        ("{{ query('items', [1, [2, [3]]]) }}", [1, [2, [3]]]),  # terms flattened one level
        ("{{ query('items', 1, [2, [3]]) }}", [1, 2, [3]]),
        ("{{ lookup('ansible.builtin.items', ['a']) }}", "a"),
        ("{{ query('list', [1, [2]]) }}", [[1, [2]]]),
        ("{{ query('indexed_items', ['a', 'b']) }}", [[0, "a"], [1, "b"]]),
        ("{{ query('dict', {'a': 1, 'b': 2}) }}", [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
        ("{{ query('nested', ['a', 'b'], [1, 2]) }}", [["a", 1], ["a", 2], ["b", 1], ["b", 2]]),
        ("{{ query('together', ['a', 'b'], [1]) }}", [["a", 1], ["b", None]]),
        ("{{ query('random_choice', 'only') }}", ["only"]),
        ("{{ query('random_choice') }}", []),
        ("{{ query('subelements', users, 'groups') | map('last') | list }}", ["g1", "g2"]),
    ],
)
def test_data_lookups(templar: Templar, text: str, expected: Any) -> None:
    users = [{"name": "u", "groups": ["g1", "g2"]}]
    assert render(templar, text, users=users) == expected


def test_random_choice_picks_a_term(templar: Templar) -> None:
    assert render(templar, "{{ lookup('random_choice', 'a', 'b', 'c') }}") in {"a", "b", "c"}


# --- sequence -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("'start=1 end=5'", ["1", "2", "3", "4", "5"]),
        ("'start=1 end=10 stride=3'", ["1", "4", "7", "10"]),
        ("'count=3'", ["1", "2", "3"]),
        ("'start=0 count=3 stride=2'", ["0", "2", "4"]),
        ("'count=3 format=web%02d'", ["web01", "web02", "web03"]),
        ("'start=10 end=7 stride=-1'", ["10", "9", "8", "7"]),
        ("'start=0x0f count=2 format=%04x'", ["000f", "0010"]),
        ("'start=010 count=2'", ["8", "9"]),
        ("'5'", ["1", "2", "3", "4", "5"]),
        ("'4-6'", ["4", "5", "6"]),
        ("'2-10/4'", ["2", "6", "10"]),
        ("'3:host%d'", ["host1", "host2", "host3"]),
        ("start=1, end=2", ["1", "2"]),
        ("'count=0'", []),
        ("'start=1 end=5 stride=0'", []),
        ("'1-2', '5-6'", ["1", "2", "5", "6"]),
    ],
)
def test_sequence(templar: Templar, args: str, expected: list[str]) -> None:
    assert render(templar, "{{ query('sequence', " + args + ") }}") == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("'start=1'", "must specify count or end"),
        ("'count=2 end=3'", "can't specify both"),
        ("'start=5 end=1'", "make stride negative"),
        ("'start=1 end=5 stride=-1'", "don't make stride negative"),
        ("'end=3 format=%d%d'", "bad format string"),
        ("'end=x'", "not a number"),
        ("'end=3 bogus'", "unrecognized arguments"),
    ],
)
def test_sequence_errors(templar: Templar, args: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(templar, "{{ query('sequence', " + args + ") }}")


# --- env / vars -----------------------------------------------------------------------------------


def test_env(templar: Templar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_T1", "one")
    monkeypatch.setenv("ORCH_T2", "two")
    monkeypatch.delenv("ORCH_NOPE", raising=False)
    assert render(templar, "{{ lookup('env', 'ORCH_T1') }}") == "one"
    assert render(templar, "{{ lookup('env', 'ORCH_T1', 'ORCH_T2') }}") == "one,two"
    assert render(templar, "{{ query('env', 'ORCH_T1', 'ORCH_T2') }}") == ["one", "two"]
    assert render(templar, "{{ lookup('env', 'ORCH_NOPE') }}") == ""
    assert render(templar, "{{ lookup('env', 'ORCH_NOPE', default='d') }}") == "d"


def test_vars_lookup(templar: Templar) -> None:
    variables = {"a": "{{ b }}-x", "b": 1, "name": "a"}
    assert templar.render("{{ lookup('vars', name) }}", variables) == "1-x"
    assert templar.render("{{ lookup('vars', 'b', 'b') }}", variables) == [1, 1]
    assert templar.render("{{ lookup('vars', 'zz', default=0) }}", variables) == 0
    with pytest.raises(TemplateError, match="no variable named 'zz'"):
        templar.render("{{ lookup('vars', 'zz') }}", variables)


# --- files ----------------------------------------------------------------------------------------


def test_file(templar: Templar, base: Path) -> None:
    assert render(templar, "{{ lookup('file', 'motd') }}") == "  hello"  # rstrip by default
    assert render(templar, "{{ lookup('file', 'motd', lstrip=True) }}") == "hello"
    assert render(templar, "{{ lookup('file', 'motd', rstrip=False) }}") == "  hello\n\n"
    assert render(templar, "{{ lookup('file', 'top.txt') }}") == "top"  # basedir itself
    assert render(templar, "{{ lookup('file', 'a.conf', 'b.conf') }}") == "a,b"
    assert render(templar, "{{ lookup('file', p) }}", p=str(base / "top.txt")) == "top"


def test_file_missing(templar: Templar) -> None:
    with pytest.raises(TemplateError, match=r"could not find 'nope\.txt'") as info:
        render(templar, "{{ lookup('file', 'nope.txt') }}")
    assert "lookup('file', 'nope.txt')" in str(info.value)


def test_lookup_errors_option(templar: Templar) -> None:
    assert render(templar, "{{ lookup('file', 'nope.txt', errors='ignore') }}") is None
    assert render(templar, "{{ query('file', 'nope.txt', errors='warn') }}") == []


def test_fileglob(templar: Templar, base: Path) -> None:
    found = render(templar, "{{ query('fileglob', '*.conf') }}")
    assert found == [str(base / "files" / "a.conf"), str(base / "files" / "b.conf")]
    assert render(templar, "{{ query('fileglob', 'nothing*') }}") == []
    assert render(templar, "{{ query('fileglob', p ~ '/files/a.*') }}", p=str(base)) == [
        str(base / "files" / "a.conf")
    ]


def test_first_found(templar: Templar, base: Path) -> None:
    assert render(templar, "{{ lookup('first_found', ['nope.yml', 'top.txt']) }}") == str(base / "top.txt")
    # as an expression (not `with_first_found`), Ansible searches no files/ subdir
    assert render(templar, "{{ lookup('first_found', 'files/motd') }}") == str(base / "files" / "motd")
    with pytest.raises(TemplateError, match="no file was found"):
        render(templar, "{{ lookup('first_found', 'motd') }}")
    params = {"files": ["RedHat.yml", "Debian.yml"], "paths": ["vars"]}
    assert render(templar, "{{ lookup('first_found', params) }}", params=params) == str(
        base / "vars" / "Debian.yml"
    )
    assert render(templar, "{{ lookup('first_found', files=['x', 'files/a.conf']) }}") == str(
        base / "files" / "a.conf"
    )
    assert render(templar, "{{ query('first_found', ['x'], skip=True) }}") == []
    with pytest.raises(TemplateError, match="no file was found"):
        render(templar, "{{ lookup('first_found', ['x', 'y']) }}")


def test_template_lookup(templar: Templar) -> None:
    assert render(templar, "{{ lookup('template', 'greet.j2') }}", who="bob") == "hi bob from greet.j2\n"
    out = render(templar, "{{ lookup('template', 'greet.j2', template_vars={'who': 'ann'}) }}", who="bob")
    assert out == "hi ann from greet.j2\n"


def test_template_lookup_sees_lazy_vars(templar: Templar) -> None:
    lazy = LazyVars([{"who": "{{ first }} {{ last }}", "first": "Ada", "last": "L"}], templar)
    assert templar.render("{{ lookup('template', 'greet.j2') }}", lazy) == "hi Ada L from greet.j2\n"


# --- commands ---------------------------------------------------------------------------------------


def test_pipe(templar: Templar, base: Path) -> None:
    assert render(templar, "{{ lookup('pipe', 'echo hi; echo there') }}") == "hi\nthere"
    assert render(templar, "{{ lookup('pipe', 'pwd') }}") == str(base)  # runs in basedir
    assert render(templar, "{{ lookup('pipe', 'echo a', 'echo b') }}") == "a,b"


def test_pipe_failure_does_not_show_the_command_output(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="exited with rc 3") as info:
        render(templar, "{{ lookup('pipe', 'echo s3cr3t; exit 3') }}")
    assert "s3cr3t" not in str(info.value).split("template:")[0]


def test_lines(templar: Templar) -> None:
    assert render(templar, "{{ query('lines', 'printf \"a\\nb\\n\"') }}") == ["a", "b"]
    with pytest.raises(TemplateError, match="rc 1"):
        render(templar, "{{ query('lines', 'false') }}")


# --- password ---------------------------------------------------------------------------------------


def test_password_creates_and_reuses(templar: Templar, base: Path) -> None:
    first = render(templar, "{{ lookup('password', 'creds/db length=16') }}")
    assert len(first) == 16
    path = base / "creds" / "db"
    assert path.read_text() == first + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert render(templar, "{{ lookup('password', 'creds/db length=16') }}") == first
    assert render(templar, "{{ lookup('password', 'creds/db', length=30) }}") == first  # the file wins
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".orch-password")]


def test_password_chars(templar: Templar) -> None:
    digits = render(templar, "{{ lookup('password', '/dev/null', length=40, chars=['digits']) }}")
    assert len(digits) == 40 and digits.isdigit()
    mixed = render(templar, "{{ lookup('password', '/dev/null chars=ascii_lowercase,digits length=50') }}")
    assert all(c.islower() or c.isdigit() for c in mixed)
    commas = render(templar, "{{ lookup('password', '/dev/null', chars='x,,', length=30) }}")
    assert set(commas) <= {"x", ","}
    default = render(templar, "{{ lookup('password', '/dev/null') }}")
    assert len(default) == 20
    assert set(default) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:-_")


def test_password_dev_null_and_seed(templar: Templar) -> None:
    a = render(templar, "{{ lookup('password', '/dev/null', seed='host1') }}")
    b = render(templar, "{{ lookup('password', '/dev/null', seed='host1') }}")
    c = render(templar, "{{ lookup('password', '/dev/null') }}")
    d = render(templar, "{{ lookup('password', '/dev/null') }}")
    assert a == b and c != d


def test_password_reads_existing_file(templar: Templar, base: Path) -> None:
    (base / "existing").write_text("kept-password\n")
    assert render(templar, "{{ lookup('password', 'existing') }}") == "kept-password"


def test_password_encrypt_stores_salt(templar: Templar, base: Path) -> None:
    hashed = render(templar, "{{ lookup('password', 'enc encrypt=md5_crypt') }}")
    content = (base / "enc").read_text().strip()
    password, salt = content.split(" salt=")
    assert hashed.startswith(f"$1${salt[:8]}$")
    assert render(templar, "{{ lookup('password', 'enc encrypt=md5_crypt') }}") == hashed
    assert render(templar, "{{ lookup('password', 'enc') }}") == password
    # an existing plain file gets a salt added on first encrypt
    (base / "plain").write_text("pw\n")
    first = render(templar, "{{ lookup('password', 'plain', encrypt='md5_crypt') }}")
    assert " salt=" in (base / "plain").read_text()
    assert render(templar, "{{ lookup('password', 'plain', encrypt='md5_crypt') }}") == first


def test_password_concurrent_first_use_agrees(templar: Templar, base: Path) -> None:
    results: list[str] = []

    def work() -> None:
        results.append(render(templar, "{{ lookup('password', 'race/pw') }}"))

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert (base / "race" / "pw").read_text() == results[0] + "\n"
    assert stat.S_IMODE(os.stat(base / "race").st_mode) == 0o700


def test_password_errors(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="'length' must be an integer"):
        render(templar, "{{ lookup('password', '/dev/null length=x') }}")
    with pytest.raises(TemplateError, match="unrecognized parameters"):
        render(templar, "{{ lookup('password', '/dev/null', bogus=1) }}")


# --- errors and plumbing -------------------------------------------------------------------------------


def test_unknown_lookup(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="lookup plugin 'nope' not found"):
        render(templar, "{{ lookup('nope', 'x') }}")


def test_undefined_terms_fail_with_their_name(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        render(templar, "{{ lookup('env', missing) }}")


def test_lookup_python_errors_are_wrapped(templar: Templar) -> None:
    with pytest.raises(TemplateError, match=r"lookup 'dict' failed|expects a dictionary"):
        render(templar, "{{ lookup('dict', 5) }}")


def test_run_lookup_for_with_loops(templar: Templar) -> None:
    assert templar.run_lookup("items", [[1, 2], 3], {}) == [1, 2, 3]
    assert templar.run_lookup("sequence", ["count=2"], {}) == ["1", "2"]
    with pytest.raises(TemplateError):
        templar.run_lookup("nope", [], {})
