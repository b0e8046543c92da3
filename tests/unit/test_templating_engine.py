"""Templar: native rendering, undefined semantics, errors, conditionals, template files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import (
    OMIT,
    LazyVars,
    Templar,
    TemplateCycleError,
    TemplateUndefinedError,
    UnsafeStr,
    mark_unsafe,
)
from orchestrator.templating import engine as engine_mod

VARS: dict[str, Any] = {
    "x": 5,
    "name": "web-01",
    "items": [3, 1, 2],
    "conf": {"port": 8080, "tls": True},
    "nothing": None,
    "flag": "yes",
    "host": "db.local",
    "port": 5432,
    "url": "postgres://{{ host }}:{{ port }}/app",
    "broken": "{{ app_port }}",
    "secret": "hunter2-very-secret",
}


@pytest.fixture
def templar(tmp_path: Path) -> Templar:
    return Templar(str(tmp_path))


def render(templar: Templar, text: Any, **extra: Any) -> Any:
    return templar.render(text, {**VARS, **extra})


# --- native types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ x }}", 5),
        ("{{ items }}", [3, 1, 2]),
        ("{{ conf }}", {"port": 8080, "tls": True}),
        ("{{ conf.tls }}", True),
        ("{{ nothing }}", None),
        ("{{ 1.5 }}", 1.5),
        ("{{ true }}", True),
        ("{{ '1' }}", "1"),  # no literal_eval of strings (ansible-core 2.19)
        ("{{ 1 }}{{ 2 }}", "12"),  # mixed pieces join as text
        ("{{ x }} items", "5 items"),
        (" {{ items }}", " [3, 1, 2]"),
        ("a{{ nothing }}b", "ab"),  # None pieces are dropped
        ("{{ x }}{{ nothing }}", 5),
        ("{% if true %}{{ items }}{% endif %}", [3, 1, 2]),
        ("{% if false %}x{% endif %}", None),
        ("{{ (1, 2) }}", [1, 2]),  # tuples become lists
        ("{{ [1, 2] | zip(['a', 'b']) }}", [[1, "a"], [2, "b"]]),
        ("{{ conf.keys() }}", ["port", "tls"]),
        ("{{ items | map('string') }}", ["3", "1", "2"]),  # generators become lists
        ("{# a comment #}{{ x }}", 5),
        ("{{- x -}}", 5),
    ],
)
def test_native_rendering(templar: Templar, text: str, expected: Any) -> None:
    assert render(templar, text) == expected


def test_native_keeps_exact_types(templar: Templar) -> None:
    assert type(render(templar, "{{ x }}")) is int
    assert type(render(templar, "{{ conf.tls }}")) is bool
    assert type(render(templar, "{{ '5' }}")) is str


def test_strings_without_markers_skip_jinja(templar: Templar, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_source: str) -> None:
        raise AssertionError("compiled a plain string")

    monkeypatch.setattr(engine_mod, "_compile_task", boom)
    text = "plain { text } with } braces"
    assert templar.render(text, VARS) is text
    assert templar.render(5, VARS) == 5
    data = {"a": ["b", {"c": "d"}]}
    assert templar.render(data, VARS) is data  # unchanged containers are returned as is


def test_compiled_templates_are_cached(templar: Templar) -> None:
    engine_mod._compile_task.cache_clear()
    for i in range(50):
        assert templar.render("n={{ n }}", {"n": i}) == f"n={i}"
    info = engine_mod._compile_task.cache_info()
    assert info.misses == 1 and info.hits == 49


def test_render_recurses_into_containers(templar: Templar) -> None:
    value = {"msg": "{{ name }}", "list": ["{{ x }}", "plain", {"deep": "{{ conf.port }}"}], "n": 1}
    assert render(templar, value) == {"msg": "web-01", "list": [5, "plain", {"deep": 8080}], "n": 1}


def test_render_templates_dict_keys(templar: Templar) -> None:
    assert render(templar, {"{{ name }}": 1}) == {"web-01": 1}


def test_render_keeps_tuples(templar: Templar) -> None:
    assert render(templar, ("{{ x }}", 2)) == (5, 2)


def test_plain_dict_variables_are_templated_lazily(templar: Templar) -> None:
    assert render(templar, "{{ url }}") == "postgres://db.local:5432/app"


def test_none_variables_mean_no_variables(templar: Templar) -> None:
    assert templar.render("{{ 1 + 1 }}", None) == 2  # type: ignore[arg-type]


# --- omit ------------------------------------------------------------------------------------


def test_omit_renders_to_placeholder(templar: Templar) -> None:
    assert render(templar, "{{ omit }}") == OMIT
    assert render(templar, "{{ missing | default(omit) }}") == OMIT
    assert OMIT.startswith("__omit_place_holder__")


def test_omit_drops_dict_entries_and_list_items(templar: Templar) -> None:
    value = {"mode": "{{ mode | default(omit) }}", "owner": "root", "extra": ["{{ omit }}", "a"]}
    assert render(templar, value) == {"owner": "root", "extra": ["a"]}


# --- backslashes -----------------------------------------------------------------------------


def test_backslashes_in_expression_strings_are_kept(templar: Templar) -> None:
    # what a YAML double-quoted "...'\\1'..." gives: one backslash, a backreference for re.sub
    assert render(templar, "{{ name | regex_replace('-(\\d+)$', '_\\1') }}") == "web_01"
    assert render(templar, "{{ '\\1' | length }}") == 2
    assert render(templar, "a\\tb {{ x }}") == "a\\tb 5"  # text outside {{ }} is untouched


def test_conditionals_use_jinja_escapes(templar: Templar) -> None:
    assert templar.evaluate("'\\t' | length == 1", VARS) is True


# --- undefined -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ missing is defined }}", False),
        ("{{ missing is undefined }}", True),
        ("{{ missing.a.b is defined }}", False),
        ("{{ conf.nope is defined }}", False),
        ("{{ conf.nope.deeper is defined }}", False),
        ("{{ conf.port is defined }}", True),
        ("{{ items[10] is defined }}", False),
        ("{{ missing | default('d') }}", "d"),
        ("{{ missing.a | default('d') }}", "d"),
        ("{{ conf.nope | default(1) }}", 1),
        ("{{ '' | default('d') }}", ""),
        ("{{ '' | default('d', true) }}", "d"),
        ("{{ missing | d('short') }}", "short"),
        ("{{ broken is defined }}", False),  # a variable whose template is undefined
        ("{{ broken | default('fallback') }}", "fallback"),
        ("{{ [1, missing] | select('defined') | list }}", [1]),
    ],
)
def test_undefined_where_ansible_allows_it(templar: Templar, text: str, expected: Any) -> None:
    assert render(templar, text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ app_port }}", "'app_port' is undefined"),
        ("{{ a.b.c }}", "'a' is undefined"),
        ("{{ conf.x }}", "'dict object' has no attribute 'x'"),
        ("{{ conf.x.y }}", "'dict object' has no attribute 'x'"),
        ("{{ conf['x'] }}", "'dict object' has no attribute 'x'"),
        ("{{ items[7] }}", "'list object' has no element 7"),
        ("{{ [1, missing] }}", "'missing' is undefined"),
        ("{{ {'k': missing} }}", "'missing' is undefined"),
        ("{{ missing | upper }}", "'missing' is undefined"),
        ("{{ missing | to_json }}", "'missing' is undefined"),
        ("{{ missing is string }}", "'missing' is undefined"),
        ("{{ missing + 1 }}", "'missing' is undefined"),
        ("{% if missing %}y{% endif %}", "'missing' is undefined"),
        ("{% for i in missing %}{% endfor %}", "'missing' is undefined"),
        ("{{ missing() }}", "'missing' is undefined"),
        ("x{{ missing }}y", "'missing' is undefined"),
    ],
)
def test_strict_undefined_errors(templar: Templar, text: str, message: str) -> None:
    with pytest.raises(TemplateUndefinedError) as info:
        render(templar, text)
    assert message in str(info.value)
    assert text in str(info.value)  # the template text is quoted


def test_undefined_inside_variable_names_the_inner_variable(templar: Templar) -> None:
    with pytest.raises(TemplateUndefinedError) as info:
        render(templar, "{{ broken }}")
    message = str(info.value)
    assert "'app_port' is undefined" in message
    assert "'broken'" in message


def test_undefined_through_nested_lazy_mapping(templar: Templar) -> None:
    other = LazyVars([{"url": "{{ nope }}", "ok": "{{ 1 + 1 }}"}], templar)
    variables = {"hostvars": {"h1": other}}
    assert templar.render("{{ hostvars.h1.ok }}", variables) == 2
    assert templar.render("{{ hostvars['h1'].url is defined }}", variables) is False
    with pytest.raises(TemplateUndefinedError, match="'nope' is undefined"):
        templar.render("{{ hostvars.h1.url }}", variables)


def test_mandatory(templar: Templar) -> None:
    assert render(templar, "{{ x | mandatory }}") == 5
    with pytest.raises(TemplateError, match="Mandatory variable 'missing' not defined"):
        render(templar, "{{ missing | mandatory }}")
    with pytest.raises(TemplateError, match="set db_password first"):
        render(templar, "{{ missing | mandatory('set db_password first') }}")


# --- errors ----------------------------------------------------------------------------------


def test_errors_are_template_errors_with_text(templar: Templar) -> None:
    cases = [
        "{{ x + 'a' }}",
        "{{ x | no_such_filter }}",
        "{{ x is no_such_test }}",
        "{{ x ",
        "{% if %}",
        "{{ 'a' | from_json }}",
        "{{ lookup('no_such_lookup', 'a') }}",
        "{% include 'x.j2' %}",
    ]
    for text in cases:
        with pytest.raises(TemplateError) as info:
            render(templar, text)
        assert text.strip() in str(info.value), text


def test_syntax_error_message(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="template syntax error"):
        render(templar, "{{ x | no_such_filter }}")


def test_long_template_text_is_truncated(templar: Templar) -> None:
    text = "{{ missing }}" + "x" * 500
    with pytest.raises(TemplateError) as info:
        render(templar, text)
    assert len(str(info.value)) < 300
    assert "..." in str(info.value)


def test_errors_do_not_leak_variable_values(templar: Templar) -> None:
    for text in [
        "{{ secret + 1 }}",
        "{{ secret | from_json }}",
        "{{ secret | b64decode }}",
        "{{ secret | to_datetime }}",
        "{{ secret | from_yaml | missing_filter_x }}",
        "{{ secret.nope.deeper }}",
        "{{ secret | int + missing }}",
    ]:
        with pytest.raises(TemplateError) as info:
            render(templar, text)
        assert "hunter2" not in str(info.value), text


def test_multiline_template_error_names_line(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="line 3"):
        render(templar, "a\nb\n{{ missing }}\n")


def test_recursion_error_is_a_template_error(templar: Templar) -> None:
    with pytest.raises(TemplateError, match="recursive loop"):
        render(templar, "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}")


def test_cycle_error_through_render(templar: Templar) -> None:
    with pytest.raises(TemplateCycleError, match="a -> b -> a"):
        templar.render("{{ a }}", {"a": "{{ b }}", "b": "{{ a }}"})


# --- statements and extensions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% for i in items %}{{ i }},{% endfor %}", "3,1,2,"),
        ("{% for i in items %}{% if i == 1 %}{% break %}{% endif %}{{ i }}{% endfor %}", 3),
        ("{% for i in items %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "32"),
        ("{% set acc = [] %}{% for i in items %}{% do acc.append(i * 2) %}{% endfor %}{{ acc }}", [6, 2, 4]),
        (
            "{% set ns = namespace(t=0) %}{% for i in items %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
            6,
        ),
        ("{% macro m(a) %}<{{ a }}>{% endmacro %}{{ m(x) }}", "<5>"),
        ("{% set block %}{{ items }}{% endset %}{{ block }}", "[3, 1, 2]"),
        ("{{ range(3) | list }}", [0, 1, 2]),
        ("{{ dict(a=1) }}", {"a": 1}),
        ("{{ now().year > 2000 }}", True),
        ("{{ undef('why') is defined }}", False),
    ],
)
def test_statements(templar: Templar, text: str, expected: Any) -> None:
    assert render(templar, text) == expected


# --- unsafe ------------------------------------------------------------------------------------


def test_unsafe_strings_are_never_templated(templar: Templar) -> None:
    evil = UnsafeStr("{{ lookup('pipe', 'echo pwned') }}")
    assert templar.render(evil, VARS) is evil
    registered = mark_unsafe({"stdout": "{{ secret }}", "lines": ["{% raw %}"]})
    assert templar.render("{{ result.stdout }}", {"result": registered, **VARS}) == "{{ secret }}"
    assert templar.render({"a": evil}, VARS) == {"a": evil}


def test_lookup_results_are_unsafe(templar: Templar, tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "t.txt").write_text("{{ secret }}\n")
    out = templar.render("{{ lookup('file', 't.txt') }}", VARS)
    assert out == "{{ secret }}" and isinstance(out, UnsafeStr)
    # stored as a variable and used again, it stays text
    assert templar.render("{{ v }}", {"v": out, **VARS}) == "{{ secret }}"


def test_mark_unsafe_copies_structures() -> None:
    data = {"k": ["a", ("b",)], 1: 2}
    marked = mark_unsafe(data)
    assert marked == data
    assert type(marked["k"][0]) is UnsafeStr and type(marked["k"][1][0]) is UnsafeStr


def test_unsafe_str_dumps_as_yaml() -> None:
    import yaml

    assert yaml.safe_dump({"a": UnsafeStr("b")}) == "a: b\n"


# --- evaluate / is_true -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x == 5", True),
        ("x is defined and conf.port > 80", True),
        ("missing is defined", False),
        ("missing is not defined", True),
        ("missing.sub is defined", False),
        ("broken is defined", False),
        ("items | length == 3", True),
        ("3 in items", True),
        ("name is match('web')", True),
        ("{{ x == 5 }}", True),  # wrapped: accepted
        ("{{ x }} == 5", True),  # mixed: rendered, then evaluated (older Ansible)
        ("flag | bool", True),
        ("'}}' in '}}'", True),
        ("x ==\n 5", True),
    ],
)
def test_evaluate(templar: Templar, expr: str, expected: Any) -> None:
    assert templar.evaluate(expr, VARS) == expected


def test_magic_vars_variable(templar: Templar) -> None:
    assert render(templar, "{{ vars['na' ~ 'me'] }}") == "web-01"
    assert render(templar, "{{ vars.url }}") == "postgres://db.local:5432/app"
    assert render(templar, "{{ vars }}", vars={"own": 1}) == {"own": 1}  # a real `vars` wins


def test_evaluate_empty_render_is_false(templar: Templar) -> None:
    assert templar.is_true("{{ '' }}{{ '' }}", VARS) is False
    assert templar.is_true("{% if false %}true{% endif %}", VARS) is False
    assert templar.is_true("{% if true %}x == 5{% endif %}", VARS) is True


def test_evaluate_native_values(templar: Templar) -> None:
    assert templar.evaluate("items", VARS) == [3, 1, 2]
    assert templar.evaluate("conf.port + 1", VARS) == 8081
    assert templar.evaluate("nothing", VARS) is None
    assert templar.evaluate(True, VARS) is True
    assert templar.evaluate(False, VARS) is False


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("flag", True),  # "yes"
        ("'no'", False),
        ("'false'", False),
        ("'False'", False),
        ("'off'", False),
        ("'0'", False),
        ("''", False),
        ("'on'", True),
        ("'some text'", True),
        ("0", False),
        ("1", True),
        ("nothing", False),
        ("[]", False),
        ("items", True),
        ("", True),  # an empty condition does not skip
        (True, True),
        (False, False),
        (["x == 5", "flag"], True),  # a list is an AND
        (["x == 5", "x == 6"], False),
    ],
)
def test_is_true(templar: Templar, expr: Any, expected: bool) -> None:
    assert templar.is_true(expr, VARS) is expected


def test_evaluate_errors(templar: Templar) -> None:
    with pytest.raises(TemplateUndefinedError, match="'missing' is undefined") as info:
        templar.evaluate("missing == 1", VARS)
    assert "missing == 1" in str(info.value)
    with pytest.raises(TemplateError, match="syntax error"):
        templar.evaluate("x ==", VARS)
    with pytest.raises(TemplateError, match="syntax error"):
        templar.evaluate("x == 5 }}", VARS)
    with pytest.raises(TemplateUndefinedError):
        templar.is_true("missing", VARS)


def test_evaluate_caches_compiled_expressions(templar: Templar) -> None:
    engine_mod._compile_expression.cache_clear()
    for i in range(10):
        templar.evaluate("n > 3", {"n": i})
    assert engine_mod._compile_expression.cache_info().misses == 1


# --- template files ------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_render_file_defaults(templar: Templar, tmp_path: Path) -> None:
    write(
        tmp_path / "templates" / "app.conf.j2",
        "# {{ ansible_managed }}\n{% for p in ports %}\nlisten {{ p }};\n{% endfor %}\n  {% if true %}\nx\n  {% endif %}\n",
    )
    out = templar.render_file("app.conf.j2", {"ports": [80, 443]})
    # trim_blocks removes the newline after a block tag; lstrip_blocks is off; the source's trailing
    # newline comes back (checked with ansible-core 2.19's template module)
    assert out == "# Ansible managed\nlisten 80;\nlisten 443;\n  x\n  \n"


def test_render_file_trailing_newline_parity(templar: Templar, tmp_path: Path) -> None:
    # Ansible adds back only the newlines the output lacks: a value ending in one counts
    write(tmp_path / "templates" / "extra.j2", "a\n{{ extra }}\n")
    assert templar.render_file("extra.j2", {"extra": "tcp-keepalive 60\n"}) == "a\ntcp-keepalive 60\n"


def test_render_file_keeps_trailing_newlines(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "t.j2", "a={{ x }}\n\n")
    assert templar.render_file("t.j2", VARS) == "a=5\n\n"


def test_render_file_options(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "t.j2", "  {% if true %}\ny\n  {% endif %}\n[[ x ]]\n")
    assert templar.render_file("t.j2", VARS, lstrip_blocks=True) == "y\n[[ x ]]\n"
    out = templar.render_file("t.j2", VARS, variable_start_string="[[", variable_end_string="]]")
    assert out.endswith("5\n")
    assert templar.render_file("t.j2", VARS, trim_blocks=False).startswith("  \ny")
    assert templar.render_file("t.j2", VARS, newline_sequence="\r\n").endswith("[[ x ]]\r\n")


def test_render_file_template_vars(templar: Templar, tmp_path: Path) -> None:
    path = write(
        tmp_path / "templates" / "v.j2", "{{ template_path }}|{{ template_fullpath }}|{{ template_destpath }}"
    )
    out = templar.render_file("v.j2", VARS, dest="/etc/v.conf")
    assert out == f"v.j2|{path}|/etc/v.conf"
    write(
        tmp_path / "h.j2",
        "{{ template_host }} {{ template_uid }} {{ template_mtime.year }} {{ template_run_date.year }}",
    )
    host, uid, mtime, run = templar.render_file("h.j2", VARS).split()
    assert host and uid and int(mtime) > 2000 and int(run) > 2000


def test_render_file_user_ansible_managed_wins(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "m.j2", "{{ ansible_managed }}")
    assert templar.render_file("m.j2", {"ansible_managed": "Managed by orch"}) == "Managed by orch"


def test_render_file_none_is_empty_and_backslashes_are_jinja(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "n.j2", '[{{ none }}][{{ "a\\tb" }}]')
    assert templar.render_file("n.j2", VARS) == "[][a\tb]"


def test_render_file_include_and_import(templar: Templar, tmp_path: Path) -> None:
    write(
        tmp_path / "templates" / "main.j2",
        "{% include 'part.j2' %}|{% import 'macros.j2' as m %}{{ m.hi(x) }}\n",
    )
    write(tmp_path / "templates" / "part.j2", "part {{ name }}\n")  # an include's trailing newline is dropped
    write(tmp_path / "templates" / "macros.j2", "{% macro hi(v) %}hi {{ v }}{% endmacro %}")
    assert templar.render_file("main.j2", VARS) == "part web-01|hi 5\n"


def test_render_file_include_with_local_set_stays_lazy(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "main.j2", "{% set local = 1 %}{% include 'inc.j2' %}")
    write(tmp_path / "inc.j2", "{{ local }}-{{ x }}")
    # a broken, unused variable must not be templated by the include
    variables = {**VARS, "cyc1": "{{ cyc2 }}", "cyc2": "{{ cyc1 }}"}
    assert templar.render_file("main.j2", variables) == "1-5"


def test_render_file_errors(templar: Templar, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        templar.render_file("nope.j2", VARS)
    write(tmp_path / "bad.j2", "line1\nline2 {{ missing }}\n")
    with pytest.raises(TemplateUndefinedError) as info:
        templar.render_file("bad.j2", VARS)
    assert "'missing' is undefined" in str(info.value)
    assert "bad.j2" in str(info.value) and "line 2" in str(info.value)
    write(tmp_path / "syntax.j2", "{% if %}")
    with pytest.raises(TemplateError, match="syntax"):
        templar.render_file("syntax.j2", VARS)


def test_render_file_lookups_use_basedir(templar: Templar, tmp_path: Path) -> None:
    write(tmp_path / "files" / "motd", "hello\n")
    write(tmp_path / "t.j2", "{{ lookup('file', 'motd') }}!")
    assert templar.render_file("t.j2", VARS) == "hello!"


def test_searchpath_order(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "web"
    write(role / "templates" / "a.j2", "role")
    write(tmp_path / "templates" / "a.j2", "play")
    write(tmp_path / "templates" / "b.j2", "play-b")
    templar = Templar(str(tmp_path), searchpath=[str(role)])
    assert templar.render_file("a.j2", {}) == "role"
    assert templar.render_file("b.j2", {}) == "play-b"
    assert templar.render_file(str(tmp_path / "templates" / "a.j2"), {}) == "play"


# --- concurrency -----------------------------------------------------------------------------------


def test_concurrent_renders_share_cache(templar: Templar) -> None:
    results: dict[int, Any] = {}

    def work(i: int) -> None:
        lazy = LazyVars([VARS, {"i": i, "u": "{{ i * 2 }}-{{ url }}"}], templar)
        results[i] = [templar.render("{{ u }}", lazy) for _ in range(20)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(16):
        assert set(results[i]) == {f"{i * 2}-postgres://db.local:5432/app"}


def test_runaway_range_fails_at_once_instead_of_eating_the_controller(templar: Templar) -> None:
    """Issue 12: `{% for i in range(1000000000) %}` grew orch past 9 GB; now it fails its task."""
    import time

    started = time.monotonic()
    for text in ("{% for i in range(1000000000) %}x{% endfor %}", "{{ range(10**9) | list | length }}"):
        with pytest.raises(TemplateError, match="range"):
            templar.render(text, {})
    assert time.monotonic() - started < 1
    assert templar.render("{{ range(3) | list }}", {}) == [0, 1, 2]
    assert templar.render("{% for i in range(1, 100000, 2) %}{% endfor %}ok", {}) == "ok"
