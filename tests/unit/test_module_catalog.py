"""docs/modules.md is generated from the module registry and must be current."""

from __future__ import annotations

from pathlib import Path

from orchestrator.modules import catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "modules.md"


def test_the_module_list_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == catalog.render(), (
        "docs/modules.md is out of date: run `.venv/bin/python -m orchestrator.modules.catalog > docs/modules.md`"
    )


def test_every_module_is_listed_once() -> None:
    text = catalog.render()
    for cls in catalog._modules():
        assert text.count(f"| `{cls.name}` |") == 1, cls.name
