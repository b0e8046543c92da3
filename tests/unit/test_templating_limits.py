"""Controller-side templating is bounded in time (the task timeout) and memory (the budget)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from orchestrator.errors import TemplateError
from orchestrator.templating import limits
from orchestrator.templating.engine import Templar

SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
GROW = (
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% for j in range(100000) %}"
    "{{ ns.l.append(j) or '' }}{% endfor %}{% endfor %}"
)


@pytest.fixture
def templar() -> Iterator[Templar]:
    yield Templar(".")
    limits.set_memory_budget(limits.DEFAULT_MEMORY_BUDGET_MB)


def test_a_render_past_its_deadline_stops_with_the_reason(templar: Templar) -> None:
    started = time.monotonic()
    with limits.deadline(0.5), pytest.raises(TemplateError, match=r"still rendering after 0.5 s.*template:"):
        templar.render(SPIN, {})
    assert time.monotonic() - started < 10


def test_a_render_growing_past_the_budget_stops_and_memory_comes_back(templar: Templar) -> None:
    limits.set_memory_budget(limits._resident_bytes() / 2**20 + 60)
    with pytest.raises(TemplateError, match="past its memory budget"):
        templar.render(GROW, {})
    assert limits._resident_bytes() < limits.memory_budget_mb() * 2**20
    assert templar.render("{{ 1 + 2 }}", {}) == 3  # the next render is not stopped


def test_only_the_runaway_thread_is_stopped(templar: Templar) -> None:
    outcomes: dict[str, object] = {}

    def spin() -> None:
        with limits.deadline(1.0):
            try:
                outcomes["spin"] = templar.render(SPIN, {})
            except TemplateError as exc:
                outcomes["spin"] = exc

    def quick() -> None:
        results = [templar.render("{{ x * 2 }}", {"x": n}) for n in range(2000)]
        outcomes["quick"] = results[-1]

    threads = [threading.Thread(target=spin), threading.Thread(target=quick)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert isinstance(outcomes["spin"], TemplateError)
    assert outcomes["quick"] == 3998


def test_no_deadline_outside_a_task_and_nested_renders_are_one() -> None:
    with limits.deadline(None), limits.guarded(), limits.guarded():
        assert len(limits._active) <= 1
    assert threading.get_ident() not in limits._active
