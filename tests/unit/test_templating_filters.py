"""Ansible filters: one small case per behaviour, edge cases included."""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import Templar

VARS: dict[str, Any] = {
    "l": [3, 1, 2],
    "d": {"b": 2, "a": 1},
    "path": "/etc/nginx/nginx.conf",
    "name": "Web-01",
    "users": [
        {"name": "alice", "groups": ["wheel", "docker"], "on": True},
        {"name": "bob", "groups": ["docker"], "on": False},
    ],
    "f": 1.5,
}

CASES: list[tuple[str, Any]] = [
    # default / d
    ("{{ missing | default('x') }}", "x"),
    ("{{ none | default('x') }}", None),
    ("{{ '' | default('x') }}", ""),
    ("{{ '' | default('x', true) }}", "x"),
    ("{{ 0 | default('x', boolean=true) }}", "x"),
    ("{{ missing | d(5) }}", 5),
    # bool
    ("{{ 'yes' | bool }}", True),
    ("{{ 'On' | bool }}", True),
    ("{{ 'TRUE' | bool }}", True),
    ("{{ '1' | bool }}", True),
    ("{{ 1 | bool }}", True),
    ("{{ true | bool }}", True),
    ("{{ 'no' | bool }}", False),
    ("{{ 'off' | bool }}", False),
    ("{{ '0' | bool }}", False),
    ("{{ 0 | bool }}", False),
    ("{{ 'banana' | bool }}", False),
    ("{{ 2 | bool }}", False),
    ("{{ none | bool }}", False),
    ("{{ 1.0 | bool }}", True),
    ("{{ [1] | bool }}", False),
    # int / float / string
    ("{{ '42' | int }}", 42),
    ("{{ 'x' | int }}", 0),
    ("{{ 'x' | int(7) }}", 7),
    ("{{ '0x1f' | int(base=16) }}", 31),
    ("{{ '755' | int(base=8) }}", 493),
    ("{{ '3.7' | int }}", 3),
    ("{{ '3.5' | float }}", 3.5),
    ("{{ 5 | string }}", "5"),
    ("{{ none | string }}", "None"),
    # json
    ("{{ d | to_json }}", '{"b": 2, "a": 1}'),
    ("{{ d | to_json(sort_keys=true) }}", '{"a": 1, "b": 2}'),
    ("{{ d | to_nice_json }}", '{\n    "a": 1,\n    "b": 2\n}'),
    ("{{ d | to_nice_json(indent=2) }}", '{\n  "a": 1,\n  "b": 2\n}'),
    ("{{ 'é' | to_json }}", '"\\u00e9"'),
    ("{{ 'é' | to_json(ensure_ascii=false) }}", '"é"'),
    ("{{ '{\"a\": [1, null]}' | from_json }}", {"a": [1, None]}),
    # yaml
    ("{{ d | to_yaml }}", "{a: 1, b: 2}\n"),
    ("{{ d | to_yaml(default_flow_style=false) }}", "a: 1\nb: 2\n"),
    ("{{ {'a': [1, 2]} | to_yaml }}", "a: [1, 2]\n"),
    ("{{ {'a': [1, 2]} | to_nice_yaml }}", "a:\n- 1\n- 2\n"),
    ("{{ {'a': {'b': [1]}} | to_nice_yaml }}", "a:\n    b:\n    - 1\n"),
    ("{{ {'a': {'b': 1}} | to_nice_yaml(indent=2) }}", "a:\n  b: 1\n"),
    ("{{ 'é' | to_yaml }}", "é\n"),
    ("{{ 'a: 1\nb: [x, y]' | from_yaml }}", {"a": 1, "b": ["x", "y"]}),
    ("{{ 'on' | from_yaml }}", True),
    ("{{ none | from_yaml }}", None),
    ("{{ '---\na: 1\n---\nb: 2' | from_yaml_all }}", [{"a": 1}, {"b": 2}]),
    ("{{ none | from_yaml_all }}", []),
    # base64
    ("{{ 'hello' | b64encode }}", "aGVsbG8="),
    ("{{ 'aGVsbG8=' | b64decode }}", "hello"),
    ("{{ 'é' | b64encode }}", "w6k="),
    ("{{ '???' | b64encode(urlsafe=true) }}", "Pz8_"),
    ("{{ 'Pz8_' | b64decode(urlsafe=true) }}", "???"),
    ("{{ 'hi' | b64encode(encoding='utf-16-le') }}", "aABpAA=="),
    # regex
    ("{{ name | regex_replace('-(\\d+)$', '_\\1') }}", "Web_01"),
    ("{{ name | regex_replace('^web', 'db', ignorecase=true) }}", "db-01"),
    ("{{ 'aaa' | regex_replace('a', 'b', count=2) }}", "bba"),
    ("{{ 'a\nb' | regex_replace('^', '> ', multiline=true) }}", "> a\n> b"),
    ("{{ 12 | regex_replace('1', 'x') }}", "x2"),
    ("{{ name | regex_search('\\d+') }}", "01"),
    ("{{ name | regex_search('(\\w+)-(\\d+)', '\\2', '\\1') }}", ["01", "Web"]),
    ("{{ name | regex_search('(?P<n>\\d+)', '\\g<n>') }}", ["01"]),
    ("{{ name | regex_search('WEB', ignorecase=true) }}", "Web"),
    ("{{ name | regex_search('nomatch') }}", None),
    ("{{ name | regex_search('(x)', '\\1') }}", None),
    ("{{ 'a1b22c333' | regex_findall('\\d+') }}", ["1", "22", "333"]),
    ("{{ 'k=v k2=v2' | regex_findall('(\\w+)=(\\w+)') }}", [["k", "v"], ["k2", "v2"]]),
    ("{{ 'A a' | regex_findall('a', ignorecase=true) }}", ["A", "a"]),
    ("{{ 'a.b*c' | regex_escape }}", "a\\.b\\*c"),
    ("{{ 'a.b*c[' | regex_escape('posix_basic') }}", "a\\.b\\*c\\["),
    # paths
    ("{{ path | basename }}", "nginx.conf"),
    ("{{ path | dirname }}", "/etc/nginx"),
    ("{{ path | splitext }}", ["/etc/nginx/nginx", ".conf"]),
    ("{{ '/a/./b/../c' | normpath }}", "/a/c"),
    ("{{ ['/etc', 'nginx', 'x.conf'] | path_join }}", "/etc/nginx/x.conf"),
    ("{{ ['/etc/a', '/etc/b'] | commonpath }}", "/etc"),
    ("{{ '/' | realpath }}", "/"),
    ("{{ 'C:\\\\x\\\\y.txt' | win_basename }}", "y.txt"),
    # quote / join / split
    ("{{ \"it's\" | quote }}", "'it'\"'\"'s'"),
    ("{{ 'a b' | quote }}", "'a b'"),
    ("{{ 'safe' | quote }}", "safe"),
    ("{{ none | quote }}", "''"),
    ("{{ 5 | quote }}", "5"),
    ("{{ l | join(',') }}", "3,1,2"),
    ("{{ users | join(', ', attribute='name') }}", "alice, bob"),
    ("{{ 'a b  c' | split }}", ["a", "b", "c"]),
    ("{{ 'a,b,,c' | split(',') }}", ["a", "b", "", "c"]),
    ("{{ 'a,b,c' | split(',', 1) }}", ["a", "b,c"]),
    # jinja builtins Ansible users rely on
    ("{{ l | map('string') | list }}", ["3", "1", "2"]),
    ("{{ l | select('gt', 1) | list }}", [3, 2]),
    ("{{ l | reject('gt', 1) | list }}", [1]),
    ("{{ users | selectattr('on') | map(attribute='name') | list }}", ["alice"]),
    ("{{ users | rejectattr('on') | map(attribute='name') | list }}", ["bob"]),
    ("{{ users | selectattr('name', 'equalto', 'bob') | first }}", VARS["users"][1]),
    ("{{ users | map(attribute='groups') | flatten | unique }}", ["wheel", "docker"]),
    ("{{ 'ABC' | lower }}", "abc"),
    ("{{ 'abc' | upper }}", "ABC"),
    ("{{ '  a  ' | trim }}", "a"),
    ("{{ l | min }}", 1),
    ("{{ l | max }}", 3),
    ("{{ users | map(attribute='name') | max }}", "bob"),
    ("{{ l | sum }}", 6),
    ("{{ users | sum(attribute='on') }}", 1),
    ("{{ l | length }}", 3),
    ("{{ d | count }}", 2),
    ("{{ l | first }}", 3),
    ("{{ l | last }}", 2),
    ("{{ l | sort }}", [1, 2, 3]),
    ("{{ -3 | abs }}", 3),
    ("{{ {'a': 'b c', 'd': 1} | urlencode }}", "a=b+c&d=1"),
    ("{{ 'a&b c' | urlencode }}", "a%26b%20c"),
    ("{{ f | round }}", 2.0),
    # unique and sets (order kept, unhashable items fine)
    ("{{ [1, 2, 2, 3, 1] | unique }}", [1, 2, 3]),
    ("{{ ['a', 'A', 'b'] | unique }}", ["a", "b"]),
    ("{{ ['a', 'A', 'b'] | unique(case_sensitive=true) }}", ["a", "A", "b"]),
    ("{{ users | unique(attribute='on') | map(attribute='name') | list }}", ["alice", "bob"]),
    ("{{ [{'a': 1}, {'a': 1}, {'b': 2}] | unique }}", [{"a": 1}, {"b": 2}]),
    ("{{ [3, 1, 2] | union([2, 4]) }}", [3, 1, 2, 4]),
    ("{{ [1, 1] | union([1]) }}", [1]),
    ("{{ [3, 1, 2] | difference([2]) }}", [3, 1]),
    ("{{ [3, 1, 2] | intersect([2, 3, 4]) }}", [3, 2]),
    ("{{ [3, 1, 2] | symmetric_difference([2, 3, 4]) }}", [1, 4]),
    ("{{ [{'a': 1}] | union([{'b': 2}, {'a': 1}]) }}", [{"a": 1}, {"b": 2}]),
    # flatten
    ("{{ [1, [2, [3, [4]]]] | flatten }}", [1, 2, 3, 4]),
    ("{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}", [1, 2, [3, [4]]]),
    ("{{ [1, [2, [3, [4]]]] | flatten(2) }}", [1, 2, 3, [4]]),
    ("{{ [1, none, 'null', 'None', [2, none]] | flatten }}", [1, 2]),
    ("{{ [1, none, [2]] | flatten(skip_nulls=false) }}", [1, None, 2]),
    # combine
    ("{{ {'a': 1} | combine({'b': 2}) }}", {"a": 1, "b": 2}),
    ("{{ {'a': 1} | combine({'a': 2}, {'a': 3}) }}", {"a": 3}),
    ("{{ [{'a': 1}, {'b': 2}] | combine }}", {"a": 1, "b": 2}),
    ("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}) }}", {"a": {"y": 2}}),
    ("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=true) }}", {"a": {"x": 1, "y": 2}}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}) }}", {"a": [2, 3]}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='keep') }}", {"a": [1, 2]}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append') }}", {"a": [1, 2, 2, 3]}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend') }}", {"a": [2, 3, 1, 2]}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp') }}", {"a": [1, 2, 3]}),
    ("{{ {'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend_rp') }}", {"a": [2, 3, 1]}),
    ("{{ {'a': {'l': [1]}} | combine({'a': {'l': [2]}}, recursive=true, list_merge='append') }}", {"a": {"l": [1, 2]}}),
    ("{{ {'a': 1, 'k': [1]} | combine({'a': [2], 'k': 'x'}, list_merge='keep') }}", {"a": [2], "k": "x"}),
    ("{{ [] | combine }}", {}),
    # dict2items / items2dict
    ("{{ d | dict2items }}", [{"key": "b", "value": 2}, {"key": "a", "value": 1}]),
    ("{{ {'a': 1} | dict2items(key_name='k', value_name='v') }}", [{"k": "a", "v": 1}]),
    ("{{ [{'key': 'a', 'value': 1}] | items2dict }}", {"a": 1}),
    ("{{ [{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v') }}", {"a": 1}),
    ("{{ d | dict2items | items2dict }}", {"b": 2, "a": 1}),
    # zip / product / combinatorics
    ("{{ [1, 2] | zip(['a', 'b']) | list }}", [[1, "a"], [2, "b"]]),
    ("{{ [1, 2, 3] | zip(['a']) | list }}", [[1, "a"]]),
    ("{{ [1, 2] | zip_longest(['a']) | list }}", [[1, "a"], [2, None]]),
    ("{{ [1, 2] | zip_longest(['a'], fillvalue='-') | list }}", [[1, "a"], [2, "-"]]),
    ("{{ [1, 2] | product(['a', 'b']) | list }}", [[1, "a"], [1, "b"], [2, "a"], [2, "b"]]),
    ("{{ [1, 2] | product(repeat=2) | list }}", [[1, 1], [1, 2], [2, 1], [2, 2]]),
    ("{{ [1, 2, 3] | permutations(2) | list | length }}", 6),
    ("{{ [1, 2, 3] | permutations | list | length }}", 6),
    ("{{ [1, 2, 3] | combinations(2) | list }}", [[1, 2], [1, 3], [2, 3]]),
    # ternary
    ("{{ true | ternary('yes', 'no') }}", "yes"),
    ("{{ 0 | ternary('yes', 'no') }}", "no"),
    ("{{ none | ternary('yes', 'no') }}", "no"),
    ("{{ none | ternary('yes', 'no', 'null') }}", "null"),
    ("{{ false | ternary('yes', 'no', 'null') }}", "no"),
    # hashing
    ("{{ 'abc' | hash }}", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("{{ 'abc' | hash('sha256') }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("{{ 'abc' | hash('md5') }}", "900150983cd24fb0d6963f7d28e17f72"),
    ("{{ 'abc' | md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
    ("{{ 'abc' | sha1 }}", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("{{ 'abc' | checksum }}", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("{{ 123 | md5 }}", "202cb962ac59075b964b07152d234b70"),
    # password_hash: Ansible 2.19's defaults (passlib rounds spelled out)
    ("{{ 'secret' | password_hash('sha512', 'saltsalt') }}",
     "$6$rounds=656000$saltsalt$Vg7us3Hcq8rplCTNjwvGRwObM2xyfDZZ.XP2YLQ.ii85wAq/psu28uEfoMveNszsQWMgkWRxbZm2mBBlNn3.J0"),
    ("{{ 'secret' | password_hash('sha512', 'saltsalt', rounds=5000) }}",
     "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"),
    ("{{ 'secret' | password_hash('sha256', 'saltsalt', rounds=5000) }}", "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA"),
    ("{{ 'secret' | password_hash('md5', 'saltsalt') }}", "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"),
    ("{{ 'secret' | password_hash('sha512_crypt', 'saltsalt', rounds=5000) }}",
     "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"),
    ("{{ ('secret' | password_hash('sha512', rounds=5000)).split('$')[2] | length }}", 16),
    ("{{ 'secret' | password_hash('bcrypt', 'abcdefghijklmnopqrstuu') }}",
     "$2b$12$abcdefghijklmnopqrstuuT1Iwu6o8Wx7BoOyIMHfgVJq6JO/IJhW"),
    # mandatory
    ("{{ 'v' | mandatory }}", "v"),
    ("{{ none | mandatory }}", None),
    # version
    ("{{ '1.2.10' | version('1.2.9', '>') }}", True),
    ("{{ '1.2.10' | version_compare('1.2.9', 'lt') }}", False),
    # random / shuffle (seeded: repeatable)
    ("{{ 10 | random(seed='abc') == 10 | random(seed='abc') }}", True),
    ("{{ 10 | random(seed='x') < 10 }}", True),
    ("{{ 10 | random(start=5, step=5, seed='x') }}", 5),
    ("{{ ['a'] | random }}", "a"),
    ("{{ [1, 2, 3, 4] | shuffle(seed='a') == [1, 2, 3, 4] | shuffle(seed='a') }}", True),
    ("{{ [1, 2, 3, 4] | shuffle | sort }}", [1, 2, 3, 4]),
    # dates
    ("{{ ('2024-01-02 03:04:05' | to_datetime).year }}", 2024),
    ("{{ ('02/01/24' | to_datetime('%d/%m/%y')).month }}", 1),
    ("{{ (('2024-01-02 00:00:00' | to_datetime) - ('2024-01-01 00:00:00' | to_datetime)).days }}", 1),
    ("{{ '%Y-%m-%d' | strftime(0, utc=true) }}", "1970-01-01"),
    ("{{ '%H' | strftime('3600', utc=true) }}", "01"),
    # type_debug
    ("{{ 1 | type_debug }}", "int"),
    ("{{ 'a' | type_debug }}", "str"),
    ("{{ d | type_debug }}", "dict"),
    ("{{ l | type_debug }}", "list"),
    ("{{ none | type_debug }}", "NoneType"),
    ("{{ true | type_debug }}", "bool"),
    ("{{ 1.5 | type_debug }}", "float"),
    # comment
    ("{{ 'hello' | comment }}", "#\n# hello\n#"),
    ("{{ 'a\nb' | comment('c') }}", "//\n// a\n// b\n//"),
    ("{{ 'a' | comment('cblock') }}", "/*\n *\n * a\n *\n */"),
    ("{{ 'a' | comment('erlang') }}", "%\n% a\n%"),
    ("{{ 'a' | comment('xml') }}", "<!--\n -\n - a\n -\n-->"),
    ("{{ 'a' | comment(decoration='; ') }}", ";\n; a\n;"),
    ("{{ 'a' | comment(prefix_count=2, postfix='') }}", "#\n#\n# a\n"),
    # urls
    ("{{ 'https://u:p@example.com:8443/p/a?q=1#frag' | urlsplit }}",
     {"fragment": "frag", "hostname": "example.com", "netloc": "u:p@example.com:8443", "password": "p",
      "path": "/p/a", "port": 8443, "query": "q=1", "scheme": "https", "username": "u"}),
    ("{{ 'https://example.com:8443/p' | urlsplit('port') }}", 8443),
    ("{{ 'https://example.com/p' | urlsplit('hostname') }}", "example.com"),
    ("{{ 'a%20b+c' | urldecode }}", "a b c"),
    ("{{ 'x' | to_uuid }}", "66b2f013-1baa-5313-9c8c-e6f1182e0e90"),
    # sizes
    ("{{ 1536 | human_readable }}", "1.50 KB"),
    ("{{ 0 | human_readable }}", "0.00 Bytes"),
    ("{{ 1536 | human_readable(unit='K') }}", "1.50 KB"),
    ("{{ 1048576 | human_readable(unit='G') }}", "0.00 GB"),
    ("{{ 10 | human_readable(isbits=true) }}", "10.00 bits"),
    ("{{ 2048 | human_readable(isbits=true) }}", "2.00 Kb"),
    ("{{ '1.5 GB' | human_to_bytes }}", 1610612736),
    ("{{ '2K' | human_to_bytes }}", 2048),
    ("{{ '1 kilobyte' | human_to_bytes }}", 1024),
    ("{{ '1Mb' | human_to_bytes(isbits=true) }}", 1048576),
    ("{{ 10 | human_to_bytes('M') }}", 10485760),
    ("{{ '100' | human_to_bytes }}", 100),
    # extract / subelements
    ("{{ [0, 2] | map('extract', l) | list }}", [3, 2]),
    ("{{ 'a' | extract(d) }}", 1),
    ("{{ 'x' | extract({'x': {'y': {'z': 1}}}, ['y', 'z']) }}", 1),
    ("{{ 'x' | extract({'x': {'y': 2}}, 'y') }}", 2),
    ("{{ users | subelements('groups') | map('last') | list }}", ["wheel", "docker", "docker"]),
    ("{{ (users | subelements('groups') | first)[0].name }}", "alice"),
    ("{{ [{'n': 1}] | subelements('x', skip_missing=true) }}", []),
    ("{{ {'a': {'n': 'a', 's': {'l': [1]}}} | subelements('s.l') | map('last') | list }}", [1]),
    # rekey_on_member
    ("{{ users | rekey_on_member('name') | list }}", ["alice", "bob"]),
    # maths
    ("{{ 100 | log(10) }}", 2.0),
    ("{{ 8 | log(2) }}", 3.0),
    ("{{ (1 | log) == 0 }}", True),
    ("{{ 2 | pow(10) }}", 1024.0),
    ("{{ 9 | root }}", 3.0),
    ("{{ 27 | root(3) | round(6) }}", 3.0),
    # fileglob filter (controller paths)
    ("{{ '/etc/host*' | fileglob | map('basename') | select('equalto', 'hosts') | list }}", ["hosts"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def templar() -> Templar:
    return Templar(".")


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter(templar: Templar, text: str, expected: Any) -> None:
    assert templar.render(text, VARS) == expected


ERRORS: list[tuple[str, str]] = [
    ("{{ 'x' | from_json }}", "from_json: invalid JSON"),
    ("{{ 'a: [' | from_yaml }}", "from_yaml: invalid YAML"),
    ("{{ 'a' | b64decode }}", "not valid base64"),
    ("{{ 'abc' | regex_replace('(', 'x') }}", "error"),
    ("{{ 'a' | regex_replace('a', 'b', mandatory_count=2) }}", "should match 2 times, matched 1"),
    ("{{ 'a' | regex_search('a', 'bad') }}", "regex_search"),
    ("{{ 'a' | regex_escape('posix_extended') }}", "not implemented"),
    ("{{ 'a' | regex_escape('perl') }}", "invalid regex type"),
    ("{{ 'a' | hash('nope') }}", "unsupported hash type"),
    ("{{ 'a' | password_hash('nope') }}", "unsupported hash type"),
    ("{{ 'a' | password_hash('sha512', 'bad$salt') }}", "salt may only contain"),
    ("{{ missing | mandatory('custom msg') }}", "custom msg"),
    ("{{ [1] | items2dict }}", "items2dict requires a list of dictionaries"),
    ("{{ [{'a': 1}] | items2dict }}", "to contain the keys 'key' and 'value'"),
    ("{{ 1 | items2dict }}", "items2dict requires a list"),
    ("{{ 1 | dict2items }}", "dict2items requires a dictionary"),
    ("{{ {'a': 1} | combine([1]) }}", "can only merge dictionaries"),
    ("{{ {'a': 1} | combine({}, bad=1) }}", "only valid keyword arguments"),
    ("{{ {'a': 1} | combine({}, list_merge='bad') }}", "list_merge"),
    ("{{ 'a' | comment('nope') }}", "invalid style"),
    ("{{ 'a' | human_to_bytes }}", "can't interpret"),
    ("{{ '1 XB' | human_to_bytes }}", "unit must be one of"),
    ("{{ '1 Mb' | human_to_bytes }}", "invalid unit"),
    ("{{ 'a' | human_readable }}", "can't interpret"),
    ("{{ 'a' | log }}", "log() can only be used on numbers"),
    ("{{ 'a' | pow(2) }}", "pow() can only be used on numbers"),
    ("{{ 'a' | root }}", "root() can only be used on numbers"),
    ("{{ 'x' | urlsplit('nope') }}", "unknown URL component"),
    ("{{ 'x' | to_uuid(namespace='bad') }}", "invalid namespace"),
    ("{{ 1 | random(start=1, step=1) if false else [1] | random(start=1) }}", "start and step"),
    ("{{ none | random }}", "random: can only be used"),
    ("{{ 'x' | to_datetime }}", "does not match the format"),
    ("{{ 'f' | strftime('x') }}", "invalid epoch"),
    ("{{ 1 | subelements('a') }}", "must be a list of dicts"),
    ("{{ [{'a': 1}] | subelements('b') }}", "could not find 'b'"),
    ("{{ [{'a': 1}] | subelements('a') }}", "should point to a list"),
    ("{{ 1 | path_join }}", "path_join expects"),
    ("{{ [{'n': 1}, {'n': 1}] | rekey_on_member('n') }}", "not unique"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_filter_errors(templar: Templar, text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        templar.render(text, VARS)
    assert message in str(info.value)


def test_password_hash_random_salt_differs(templar: Templar) -> None:
    a = templar.render("{{ 'pw' | password_hash('sha512', rounds=5000) }}", {})
    b = templar.render("{{ 'pw' | password_hash('sha512', rounds=5000) }}", {})
    assert a != b and a.startswith("$6$") and b.startswith("$6$")


def test_to_json_handles_dates_and_subclasses(templar: Templar) -> None:
    from orchestrator.templating import UnsafeStr

    value = {"when": datetime.date(2024, 1, 2), "s": UnsafeStr("x"), "t": (1, 2)}
    assert (
        templar.render("{{ v | to_json }}", {"v": value}) == '{"when": "2024-01-02", "s": "x", "t": [1, 2]}'
    )


def test_to_yaml_handles_subclasses(templar: Templar) -> None:
    from orchestrator.yamlsource import LocatedDict, LocatedList, LocatedStr

    value = LocatedDict({"a": LocatedList([LocatedStr("x")])})
    assert templar.render("{{ v | to_nice_yaml }}", {"v": value}) == "a:\n- x\n"


def test_expanduser(templar: Templar) -> None:
    assert templar.render("{{ '~/x' | expanduser }}", {}) == os.path.expanduser("~/x")
