"""Differential test: the same expressions rendered by ansible-core's Templar and by ours.

ansible-core is a test-only dependency (`pip install 'ansible-core==2.19.*'`); without it these
tests are skipped. Where orch deliberately differs (documented in orchestrator/templating), the
expression is not in these tables.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ansible")

from orchestrator.errors import TemplateError
from orchestrator.templating import LazyVars, Templar

VARS: dict[str, Any] = {
    "x": 5,
    "s": "false",
    "l": [3, 1, 2],
    "d": {"b": 2, "a": 1},
    "n": None,
    "f": 1.5,
    "name": "Web-01",
    "path": "/etc/nginx/nginx.conf",
    "ver": "1.2.10",
    "text": "line1\nline2",
    "yaml_doc": "a: 1\nb: [x, y]\nc: on",
    "yaml_docs": "---\na: 1\n---\nb: 2\n",
    "users": [
        {"name": "a", "groups": ["g1", "g2"], "on": True},
        {"name": "b", "groups": ["g3"], "on": False},
    ],
    "res_ok": {"changed": False, "rc": 0, "stdout": "ok\n"},
    "res_fail": {"failed": True, "rc": 1},
    "res_skip": {"skipped": True},
    "res_loop": {"results": [{"changed": False}, {"changed": True}]},
    # variables that refer to other variables
    "host": "db",
    "port": 5432,
    "url": "{{ host }}:{{ port }}",
    "broken": "{{ nope }}",
}

TEMPLATES = """
{{ x }}
{{ l }}
{{ d }}
{{ n }}
{{ f }}
{{ true }}
{{ '1' }}
{{ 1 }}{{ 2 }}
{{ x }} items
 {{ l }}
a{{ none }}b
{{ x }}{{ none }}
{% if true %}{{ l }}{% endif %}
{% if false %}x{% endif %}
{{ (1, 2) }}
{{ d.keys() | list }}
{{ url }}
{{ broken is defined }}
{{ broken | default('fallback') }}
{{ nope is defined }}
{{ nope.a.b is defined }}
{{ d.zz is defined }}
{{ l[10] is defined }}
{{ nope | default('d') }}
{{ '' | default('d', true) }}
{{ nope.a | default(3) }}
{{ x | string }}
{{ 'yes' | bool }}
{{ 'On' | bool }}
{{ 0 | bool }}
{{ '42' | int }}
{{ '0x1f' | int(base=16) }}
{{ '3.5' | float }}
{{ l | to_json }}
{{ d | to_json }}
{{ d | to_nice_json }}
{{ 'é' | to_json }}
{{ d | to_yaml }}
{{ d | to_nice_yaml }}
{{ users | to_nice_yaml }}
{{ users | to_yaml }}
{{ 'é' | to_yaml }}
{{ '{"a": [1, 2]}' | from_json }}
{{ yaml_doc | from_yaml }}
{{ yaml_docs | from_yaml_all }}
{{ 'hello' | b64encode }}
{{ 'aGVsbG8=' | b64decode }}
{{ name | regex_replace('-(\\\\d+)$', '_\\\\1') }}
{{ name | regex_replace('^web', 'db', ignorecase=True) }}
{{ name | regex_search('\\\\d+') }}
{{ name | regex_search('nomatch') }}
{{ 'a1b22c333' | regex_findall('\\\\d+') }}
{{ 'a.b*c' | regex_escape }}
{{ path | basename }}
{{ path | dirname }}
{{ path | splitext }}
{{ "it's" | quote }}
{{ l | join(',') }}
{{ users | selectattr('on') | map(attribute='name') | list }}
{{ users | rejectattr('on') | map(attribute='name') | list }}
{{ [1, 2, 2, 3, 1] | unique }}
{{ ['a', 'A', 'b'] | unique }}
{{ [1, 2, 3] | union([3, 4]) | sort }}
{{ [1, 2, 3] | difference([2]) | sort }}
{{ [1, 2, 3] | intersect([2, 3, 4]) | sort }}
{{ [1, 2, 3] | symmetric_difference([2, 3, 4]) | sort }}
{{ [1, [2, [3, [4]]]] | flatten }}
{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}
{{ [1, none, 'null', [2]] | flatten }}
{{ {'a': {'x': 1, 'l': [1]}, 'b': 1} | combine({'a': {'y': 2, 'l': [2]}}) }}
{{ {'a': {'x': 1, 'l': [1]}, 'b': 1} | combine({'a': {'y': 2, 'l': [2]}}, recursive=True) }}
{{ {'a': {'x': 1, 'l': [1]}} | combine({'a': {'l': [2]}}, recursive=True, list_merge='append') }}
{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp') }}
{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend_rp') }}
{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='keep') }}
{{ [{'a': 1}, {'b': 2}] | combine }}
{{ d | dict2items }}
{{ d | dict2items(key_name='k', value_name='v') }}
{{ [{'key': 'a', 'value': 1}] | items2dict }}
{{ [1, 2] | zip(['a', 'b']) | list }}
{{ [1, 2, 3] | zip_longest(['a'], fillvalue='-') | list }}
{{ [1, 2] | product(['a', 'b']) | list }}
{{ [1, 2, 3] | permutations(2) | list }}
{{ [1, 2, 3] | combinations(2) | list }}
{{ true | ternary('yes', 'no') }}
{{ none | ternary('yes', 'no', 'null') }}
{{ 'abc' | hash('sha256') }}
{{ 'abc' | md5 }}
{{ 'abc' | checksum }}
{{ 'a' | mandatory }}
{{ '  a  ' | trim }}
{{ ver is version('1.2.9', '>') }}
{{ ver is version_compare('1.10', '<') }}
{{ '1.0.0-rc.1' is version('1.0.0', '<', version_type='semver') }}
{{ '1.2' is version('1.2.0', '==', strict=True) }}
{{ 1.0 is version('1', 'eq') }}
{{ 10 | random(seed='abc') }}
{{ [1, 2, 3, 4, 5] | shuffle(seed='abc') }}
{{ l | min }}
{{ l | max }}
{{ l | sum }}
{{ l | length }}
{{ ('2024-01-02 03:04:05' | to_datetime).year }}
{{ '%Y' | strftime(0, utc=True) }}
{{ x | type_debug }}
{{ d | type_debug }}
{{ 'hello' | comment }}
{{ 'a\\nb' | comment('c') }}
{{ 'a' | comment('cblock') }}
{{ 'a' | comment('xml') }}
{{ 'a b  c' | split }}
{{ 'a,b,,c' | split(',') }}
{{ 'https://u:p@example.com:8443/p/a?q=1#frag' | urlsplit }}
{{ 1536 | human_readable }}
{{ 10 | human_readable(isbits=True) }}
{{ '1.5 GB' | human_to_bytes }}
{{ '1Mb' | human_to_bytes(isbits=True) }}
{{ [0, 2] | map('extract', l) | list }}
{{ users | subelements('groups') | map('last') | list }}
{{ 100 | log(10) }}
{{ 2 | pow(10) }}
{{ 27 | root(3) }}
{{ {'a': 'b c', 'd': 1} | urlencode }}
{{ 'a%20b+c' | urldecode }}
{{ 'x' | to_uuid }}
{{ res_ok is succeeded }}
{{ res_fail is failed }}
{{ res_loop is changed }}
{{ res_skip is skipped }}
{{ name is match('Web') }}
{{ name is search('eb') }}
{{ l is contains(3) }}
{{ [1, 2] is subset(l) }}
{{ '/etc' is directory }}
{{ '/etc/passwd' is file }}
{{ 'no' is truthy(convert_bool=True) }}
{{ lookup('items', [1, 2]) }}
{{ lookup('items', ['a', 'b']) }}
{{ lookup('items', ['a']) }}
{{ query('items', [1, 2]) }}
{{ q('indexed_items', ['a', 'b']) }}
{{ query('dict', d) }}
{{ query('sequence', 'start=1 end=5 stride=2') }}
{{ query('sequence', 'count=3 format=web%02d') }}
{{ query('sequence', '4-6') }}
{{ query('sequence', 'start=10 end=7 stride=-1') }}
{{ lookup('vars', 'url') }}
{{ lookup('env', 'NOPE_ORCH_DIFF') }}
{{ lookup('pipe', 'echo hi; echo there') }}
{{ query('lines', 'printf "a\\nb\\n"') }}
{{ query('nested', [1, 2], ['a']) }}
{{ query('together', [1, 2], ['a']) }}
{{ range(3) | list }}
{{ users | groupby('on') }}
{{ 'a' ~ 1 ~ none }}
{{ '%05.1f' | format(f) }}
{{ text.splitlines() }}
{% for i in l %}{{ i }},{% endfor %}
{% set ns = namespace(t=0) %}{% for i in l %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}
{% macro m(a) %}<{{ a }}>{% endmacro %}{{ m(x) }}
""".strip().splitlines()
TEMPLATES += [
    # multi-line task strings: block tags eat their newline, the final newline stays
    "head\n{% for i in l %}\n{% set j = i %}\nrow {{ j }}\n{% endfor %}\ntail\n",
    "{{ x }}\n",
    "a\n\nb\n",
]

ERRORS = """
{{ nope }}
{{ nope.a.b }}
{{ d.zz }}
{{ l[10] }}
{{ [1, nope] }}
{{ broken }}
{{ x + 'a' }}
{{ x | no_such_filter }}
{{ 'abc' | regex_replace('(', 'x') }}
{{ 'x' | from_json }}
{{ nope | mandatory }}
{{ [1] | items2dict }}
{{ 1 | dict2items }}
{{ lookup('no_such_lookup', 'x') }}
{{ lookup('file', 'definitely_missing_file.txt') }}
{{ lookup('pipe', 'exit 3') }}
{{ 'a' | hash('nope') }}
{{ '1.0a' is version('1.0.1', '<') }}
{{ ver is version('1', 'bad-op') }}
{% if nope %}y{% endif %}
""".strip().splitlines()

CONDITIONALS = """
x == 5
x is defined and x > 3
nope is defined
nope is undefined and x == 5
res_ok.rc != 0
res_ok.rc == 0 or res_ok is changed
res_fail is failed
'ok' in res_ok.stdout
res_ok.stdout | length > 0
s | bool
ver is version('1.2', '>=')
l | length == 3
d.c.e is defined
broken is defined
n is none
{{ x == 5 }}
res_ok.stdout is search('ok')
""".strip().splitlines()


def _normal(value: Any) -> Any:
    """Both sides as plain JSON data (Ansible returns tagged str/dict/list subclasses)."""
    return json.loads(json.dumps(value, default=str))


@pytest.fixture(scope="module")
def ansible_templar() -> Any:
    warnings.simplefilter("ignore")
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar as AnsibleTemplar
    from ansible.template import trust_as_template

    # values from a playbook are trusted templates in 2.19; mark them so nested templates render
    variables = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in VARS.items()}
    return AnsibleTemplar(loader=DataLoader(), variables=variables), trust_as_template


@pytest.fixture(scope="module")
def ours() -> tuple[Templar, LazyVars]:
    templar = Templar(".")
    return templar, LazyVars([VARS], templar)


@pytest.mark.parametrize("template", TEMPLATES)
def test_same_result_as_ansible(ansible_templar: Any, ours: tuple[Templar, LazyVars], template: str) -> None:
    theirs, trust = ansible_templar
    templar, variables = ours
    expected = _normal(theirs.template(trust(template)))
    assert _normal(templar.render(template, variables)) == expected


@pytest.mark.parametrize("template", ERRORS)
def test_same_errors_as_ansible(ansible_templar: Any, ours: tuple[Templar, LazyVars], template: str) -> None:
    theirs, trust = ansible_templar
    templar, variables = ours
    with pytest.raises(Exception):  # noqa: B017 - any of Ansible's error types
        theirs.template(trust(template))
    with pytest.raises(TemplateError):
        templar.render(template, variables)


@pytest.mark.parametrize("expression", CONDITIONALS)
def test_same_conditionals_as_ansible(
    ansible_templar: Any, ours: tuple[Templar, LazyVars], expression: str
) -> None:
    theirs, trust = ansible_templar
    templar, variables = ours
    assert templar.is_true(expression, variables) is theirs.evaluate_conditional(trust(expression))


def test_same_password_hash_as_ansible(ansible_templar: Any, ours: tuple[Templar, LazyVars]) -> None:
    pytest.importorskip("passlib")  # ansible-core 2.19 needs passlib for password_hash
    theirs, trust = ansible_templar
    templar, variables = ours
    for template in [
        "{{ 'secret' | password_hash('sha512', 'saltsalt') }}",
        "{{ 'secret' | password_hash('sha256', 'saltsalt') }}",
        "{{ 'secret' | password_hash('md5', 'saltsalt') }}",
        "{{ 'secret' | password_hash('sha512', 'saltsalt', rounds=10000) }}",
        "{{ 'secret' | password_hash('sha512', 'saltsalt', rounds=5000) }}",
    ]:
        assert templar.render(template, variables) == str(theirs.template(trust(template))), template


TEMPLATE_FILE = """server {
{% for p in l %}
  listen {{ p }};
{% endfor %}
  name {{ name }};  # {{ ansible_managed }}
    {% if true %}
  indented
    {% endif %}
{% include "inc.j2" %}
{{ none }}|{{ "a\\tb" }}|{{ "\\\\d" }}|{{ 100 }}|{{ l }}
}

"""


@pytest.mark.parametrize("lstrip_blocks", [False, True])
def test_same_template_file_as_ansible(
    ansible_templar: Any, ours: tuple[Templar, LazyVars], tmp_path: Path, lstrip_blocks: bool
) -> None:
    theirs, trust = ansible_templar
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "site.j2").write_text(TEMPLATE_FILE)
    (tmp_path / "templates" / "inc.j2").write_text("included {{ name }}\n")
    variables = {**VARS, "ansible_managed": "Ansible managed"}
    file_templar = theirs.copy_with_new_env(
        searchpath=[str(tmp_path / "templates")], available_variables=variables
    )
    expected = file_templar.template(
        trust(TEMPLATE_FILE),
        escape_backslashes=False,
        overrides={"trim_blocks": True, "lstrip_blocks": lstrip_blocks},
    )
    rendered = Templar(str(tmp_path)).render_file("site.j2", variables, lstrip_blocks=lstrip_blocks)
    assert rendered == expected
