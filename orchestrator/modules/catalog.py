"""The module list in docs/modules.md, generated from the registry (`python -m orchestrator.modules.catalog`).

tests/unit/test_module_catalog.py fails when the file is not what this prints, so the list
cannot drift from the code: adding a module is its file, its tests and one regenerate.
"""

from __future__ import annotations

from orchestrator.modules.base import _REGISTRY, Module, module_names

HEADER = """# Modules

Generated from the module registry by `python -m orchestrator.modules.catalog > docs/modules.md`;
do not edit by hand. Every module is also reachable as `ansible.builtin.<name>`. "check mode":
yes = reports what it would change without changing anything (the engine runs no write step);
no = skipped in check mode.

| module | also known as | runs on | check mode | what it does | parameters |
|---|---|---|---|---|---|
"""


def _modules() -> list[type[Module]]:
    module_names()  # loads the library
    return sorted({cls.name: cls for cls in _REGISTRY.values()}.values(), key=lambda cls: cls.name)


def _summary(cls: type[Module]) -> str:
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split()).replace("|", "\\|")


def _params(cls: type[Module]) -> str:
    if cls.spec is None:
        return "any key (free-form)"
    out = []
    for name, param in sorted(cls.spec.params.items()):
        if name.startswith("_"):
            continue
        out.append(f"`{name}`" + ("*" if param.required else ""))
    return ", ".join(out) or "none"


def render() -> str:
    rows = [
        f"| `{cls.name}` | {', '.join(f'`{a}`' for a in cls.aliases) or ''} | "
        f"{'host' if cls.remote else 'controller'} | {'yes' if cls.supports_check else 'no'} | "
        f"{_summary(cls)} | {_params(cls)} |"
        for cls in _modules()
    ]
    return HEADER + "\n".join(rows) + "\n\n`*` required.\n"


if __name__ == "__main__":
    print(render(), end="")
