"""LazyVars: layered variables templated on access, in any order, cached, with cycle detection."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import LazyVars, Templar, TemplateCycleError, TemplateUndefinedError, UnsafeStr
from orchestrator.templating import engine as engine_mod


@pytest.fixture
def templar() -> Templar:
    return Templar(".")


def test_later_layers_win(templar: Templar) -> None:
    lazy = LazyVars([{"a": 1, "b": 1}, {"b": 2}, {"c": 3}], templar)
    assert (lazy["a"], lazy["b"], lazy["c"]) == (1, 2, 3)


def test_values_refer_to_other_vars_in_any_order(templar: Templar) -> None:
    lazy = LazyVars(
        [
            {"url": "http://{{ host }}:{{ port }}/{{ path }}", "path": "api"},
            {"host": "{{ inventory_hostname }}.example.com", "port": 8080},
            {"inventory_hostname": "web1"},
        ],
        templar,
    )
    assert lazy["url"] == "http://web1.example.com:8080/api"


def test_lower_layer_value_sees_higher_layer_vars(templar: Templar) -> None:
    # a role default that uses a variable the inventory overrides
    lazy = LazyVars([{"pkg": "nginx-{{ version }}", "version": "1.0"}, {"version": "2.0"}], templar)
    assert lazy["pkg"] == "nginx-2.0"


def test_native_values(templar: Templar) -> None:
    lazy = LazyVars([{"ports": [80, 443], "first": "{{ ports[0] }}", "all": "{{ ports }}"}], templar)
    assert lazy["first"] == 80
    assert lazy["all"] == [80, 443]


def test_nested_containers_are_templated(templar: Templar) -> None:
    lazy = LazyVars([{"name": "app", "cfg": {"dir": "/srv/{{ name }}", "list": ["{{ name }}-1"]}}], templar)
    assert lazy["cfg"] == {"dir": "/srv/app", "list": ["app-1"]}


def test_results_are_cached(templar: Templar, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = templar._render_var

    def counting(value: Any, lazy: LazyVars, name: str) -> Any:
        calls.append(name)
        return original(value, lazy, name)

    monkeypatch.setattr(templar, "_render_var", counting)
    lazy = LazyVars([{"a": "{{ b }}", "b": "{{ 1 + 1 }}"}], templar)
    for _ in range(5):
        assert lazy["a"] == 2
    assert calls.count("a") == 1 and calls.count("b") == 1


def test_plain_values_are_not_rendered(templar: Templar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "_compile_task", None)  # any compile would fail
    lazy = LazyVars([{"a": "text", "b": 5, "c": None}], templar)
    assert (lazy["a"], lazy["b"], lazy["c"]) == ("text", 5, None)


def test_cycle_names_variables(templar: Templar) -> None:
    lazy = LazyVars([{"a": "{{ b }}", "b": "{{ c }}", "c": "x{{ a }}"}], templar)
    with pytest.raises(TemplateCycleError) as info:
        lazy["a"]
    assert info.value.names == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(info.value)


def test_self_reference_is_a_cycle(templar: Templar) -> None:
    lazy = LazyVars([{"path": "/usr/bin"}, {"path": "{{ path }}:/opt/bin"}], templar)
    with pytest.raises(TemplateCycleError, match="path -> path"):
        lazy["path"]


def test_cycle_through_a_filter_and_container(templar: Templar) -> None:
    lazy = LazyVars([{"a": {"k": "{{ b | upper }}"}, "b": "{{ a.k }}"}], templar)
    with pytest.raises(TemplateCycleError):
        lazy["b"]


def test_after_a_cycle_other_vars_still_work(templar: Templar) -> None:
    lazy = LazyVars([{"a": "{{ b }}", "b": "{{ a }}", "ok": "{{ 2 * 3 }}"}], templar)
    with pytest.raises(TemplateCycleError):
        lazy["a"]
    assert lazy["ok"] == 6
    with pytest.raises(TemplateCycleError):
        lazy["b"]


def test_undefined_inside_a_value(templar: Templar) -> None:
    lazy = LazyVars([{"url": "http://{{ host }}:{{ app_port }}", "host": "h"}], templar)
    with pytest.raises(TemplateUndefinedError) as info:
        lazy["url"]
    assert "'app_port' is undefined" in str(info.value)
    assert "'url'" in str(info.value)


def test_mapping_protocol(templar: Templar) -> None:
    lazy = LazyVars([{"a": 1, "b": "{{ missing }}"}, {"c": 3, "a": 2}], templar)
    assert "b" in lazy  # membership does not template
    assert "zzz" not in lazy
    assert list(lazy) == ["a", "b", "c"]
    assert len(lazy) == 3
    assert lazy.get("zzz", "dflt") == "dflt"
    with pytest.raises(KeyError):
        lazy["zzz"]
    assert lazy.raw_value("b") == "{{ missing }}"


def test_repr_hides_values(templar: Templar) -> None:
    lazy = LazyVars([{"db_password": "hunter2"}], templar)
    assert "hunter2" not in repr(lazy)
    assert "1 variables" in repr(lazy)


def test_with_layer_adds_on_top(templar: Templar) -> None:
    base = LazyVars([{"msg": "item={{ item }}", "item": 0}], templar)
    assert base["msg"] == "item=0"
    looped = base.with_layer({"item": 7})
    assert looped["msg"] == "item=7"
    assert base["msg"] == "item=0"


def test_lazyvars_layer_is_not_templated_twice(templar: Templar) -> None:
    inner = LazyVars([{"raw": "{% raw %}{{ not_a_var }}{% endraw %}"}], templar)
    outer = LazyVars([inner, {"x": 1}], templar)
    assert outer["raw"] == "{{ not_a_var }}"


def test_unsafe_values_are_not_templated(templar: Templar) -> None:
    lazy = LazyVars([{"out": UnsafeStr("{{ boom }}")}], templar)
    assert lazy["out"] == "{{ boom }}"


def test_render_uses_lazyvars_as_is(templar: Templar) -> None:
    lazy = LazyVars([{"a": "{{ b }}", "b": 1}], templar)
    assert templar.render("{{ a }}", lazy) == 1
    assert lazy._cache == {"a": 1, "b": 1}  # shared cache across renders


def test_errors_are_template_errors(templar: Templar) -> None:
    lazy = LazyVars([{"bad": "{{ 1 + }}"}], templar)
    with pytest.raises(TemplateError, match=r"syntax error.*'bad'"):
        lazy["bad"]


def test_non_dict_mapping_layers(templar: Templar) -> None:
    from collections import ChainMap

    lazy = LazyVars([ChainMap({"a": "{{ b }}"}, {"b": 2})], templar)
    assert lazy["a"] == 2
